"""analysis.render.poster_plan: the PDF poster's balance written into its HTML page."""

from __future__ import annotations

import json

from analysis.render import poster_plan

FLOW = {
    "avail": "2849.41pt",
    "heights": ["510.55pt", "552.52pt", "879.86pt"],
    "gaps": ["39.6pt", "30pt"],
    "bounds": [0, 2, 3],
    "dropped": 1,
    "figure-scale": 0.96,
    "extra": ["86.4pt", "4.56pt"],
}


def test_plan_keeps_what_the_page_follows():
    assert poster_plan.plan(FLOW) == {
        "dropped": 1,
        "bounds": [0, 2, 3],
        "gaps": [39.6, 30.0],
        "figure-scale": 0.96,
    }


def test_embed_writes_the_plan_on_the_flow_escaped(tmp_path):
    plan_path = tmp_path / poster_plan.PLAN_FILE
    plan_path.write_text(json.dumps(poster_plan.plan(FLOW)), encoding="utf-8")
    page = tmp_path / "poster.html"
    page.write_text(
        '<div class="poster-viewport"><div class="poster-flow" style="--poster-columns: 3">'
        "</div></div>",
        encoding="utf-8",
    )
    assert poster_plan.embed(page, plan_path)
    html = page.read_text(encoding="utf-8")
    assert (
        '<div class="poster-flow" style="--poster-columns: 3" data-plan="{&quot;bounds&quot;: '
        "[0, 2, 3], &quot;dropped&quot;: 1, &quot;figure-scale&quot;: 0.96, "
        '&quot;gaps&quot;: [39.6, 30.0]}">' in html
    )
    assert html.count("data-plan=") == 1


def test_embed_leaves_a_page_without_flow_or_plan_alone(tmp_path):
    page = tmp_path / "poster.html"
    page.write_text('<div class="poster-grid"></div>', encoding="utf-8")
    plan_path = tmp_path / poster_plan.PLAN_FILE
    assert not poster_plan.embed(page, plan_path)  # no plan
    plan_path.write_text(json.dumps(poster_plan.plan(FLOW)), encoding="utf-8")
    assert not poster_plan.embed(page, plan_path)  # no div.poster-flow
    assert page.read_text(encoding="utf-8") == '<div class="poster-grid"></div>'
