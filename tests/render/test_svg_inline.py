"""The HTML's chart SVGs are placed in the page (analysis/render/svg_inline.py)."""

from __future__ import annotations

import base64

from analysis.render import svg_inline

CHART = (
    '<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="40" height="20" '
    'viewBox="0 0 40 20"><text font-family="Lato">&lt;b&gt; &amp; 5</text></svg>'
)


def img(svg: str, label: str = "Best PSA change &amp; response.") -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    src = f"data:image/svg+xml;base64,{data}"
    return f'<figure><img role="img" aria-label="{label}" src="{src}" /></figure>'


def test_a_chart_becomes_an_svg_element_with_its_name():
    page = svg_inline.inline(f"<p>before</p>{img(CHART)}<p>after</p>")
    assert page == (
        '<p>before</p><figure><svg xmlns="http://www.w3.org/2000/svg" class="marks" '
        'width="40" height="20" viewBox="0 0 40 20" role="img" '
        'aria-label="Best PSA change &amp; response.">'
        '<text font-family="Lato">&lt;b&gt; &amp; 5</text></svg></figure><p>after</p>'
    )


def test_other_images_stay_images():
    plain = CHART.replace(' class="marks"', "")  # not vl-convert's
    with_id = CHART.replace("<text", '<text id="t1"')  # an id could clash in the page
    scripted = CHART.replace("</svg>", "<script>alert(1)</script></svg>")
    for svg in (plain, with_id, scripted):
        page = img(svg)
        assert svg_inline.inline(page) == page
    png = '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">'
    assert svg_inline.inline(png) == png
    broken = '<img src="data:image/svg+xml;base64,////" alt="x">'
    assert svg_inline.inline(broken) == broken
