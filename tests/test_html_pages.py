"""The HTML documents as a reader sees them (Playwright driving Debian's chromium):
the tables' type system against the PDF's, the poster page's columns.

One build of the shipped synthetic cohort (module fixture, embedded renderer);
the checks read computed styles and element boxes in the browser.
"""

from __future__ import annotations

import pytest
from test_browser import _browser_or_skip

from analysis import config
from analysis.build import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("o")
    return build(config.SYNTHETIC_DIR, label="html", outputs=outputs, renderer="embedded").path


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


#: Per great-tables table of the supplement: its font, size relative to the body
#: text, rules, alignment and wrapping of its cells.
TABLE_STYLE_JS = """
() => {
  const px = v => parseFloat(v) || 0;
  const body = getComputedStyle(document.querySelector('main') || document.body);
  return [...document.querySelectorAll('.table-float .gt_table')].map(t => {
    const s = getComputedStyle(t);
    const tbody = getComputedStyle(t.querySelector('tbody'));
    const shown = [...t.querySelectorAll('td, th')].filter(c => c.getClientRects().length);
    const cells = shown.map(c => {
      const cs = getComputedStyle(c);
      const range = document.createRange();
      range.selectNodeContents(c);
      return {
        cls: c.className, text: c.textContent.trim(), align: cs.textAlign,
        weight: cs.fontWeight, head: !!c.closest('thead'), foot: !!c.closest('tfoot'),
        left: px(cs.borderLeftWidth) * (cs.borderLeftStyle !== 'none'),
        right: px(cs.borderRightWidth) * (cs.borderRightStyle !== 'none'),
        height: range.getBoundingClientRect().height, line: px(cs.lineHeight),
      };
    });
    return {
      id: t.closest('[id^="gt-"]').id, family: s.fontFamily, bodyFamily: body.fontFamily,
      ratio: px(s.fontSize) / px(body.fontSize), numeric: s.fontVariantNumeric,
      top: px(s.borderTopWidth) * (s.borderTopStyle !== 'none'),
      bodyTop: px(tbody.borderTopWidth) * (tbody.borderTopStyle !== 'none'),
      bodyBottom: px(tbody.borderBottomWidth) * (tbody.borderBottomStyle !== 'none'),
      columns: Math.max(...[...t.querySelectorAll('tr')].map(r => r.children.length)),
      cells,
    };
  });
}
"""


def test_supplement_tables_are_set_as_the_pdf_tables(version, browser):
    """The body's serif at 0.86 of the text size (0.85 of that for a table of seven
    columns or more, as the PDF shrinks a table wider than the text), tabular
    figures, rules above and below the body and under the header and none between
    columns, headings in the body weight, numbers right-aligned on one line.
    great-tables' look had won: Helvetica at 13 px, numbers centred, bold headings."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((version / "supplement.html").as_uri(), wait_until="load")
    tables = page.evaluate(TABLE_STYLE_JS)
    page.close()
    assert len(tables) >= 10
    for t in tables:
        assert t["family"] == t["bodyFamily"], t["id"]
        expected = 0.86 * (0.85 if t["columns"] >= 7 else 1)
        assert t["ratio"] == pytest.approx(expected, abs=0.01), t["id"]
        assert "tabular-nums" in t["numeric"], t["id"]
        assert t["top"] > 0 and t["bodyTop"] > 0 and t["bodyBottom"] > 0, t["id"]
        for c in t["cells"]:
            assert c["left"] == 0 and c["right"] == 0, (t["id"], c["text"])
            if c["head"]:
                assert int(c["weight"]) < 600, (t["id"], c["text"])
            elif not c["foot"] and "gt_center" in c["cls"]:
                assert c["align"] == "right", (t["id"], c["text"])
                # one line: a wrapped "11.8 (11.4," over "12.3)" is two
                assert c["height"] <= c["line"] * 1.5, (t["id"], c["text"])
    labs = next(t for t in tables if t["id"] == "gt-labs")
    assert labs["columns"] == 7


LEVEL_ROWS_JS = """
() => [...document.querySelectorAll('#gt-table1 tbody th.gt_stub')].map(th => {
  const range = document.createRange();
  range.selectNodeContents(th);
  const lines = [...range.getClientRects()].map(r => r.left);
  return { text: th.textContent, level: th.classList.contains('psma-level'),
           left: th.getBoundingClientRect().left, lines };
})
"""


def test_a_wrapped_level_row_keeps_its_indent(version, browser):
    """A level row ("Black or African American" under "Race") was indented by
    no-break spaces, which a browser keeps on the first line only; on a narrow
    page the label wraps, and every line of it now starts 1 em in."""
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.goto((version / "supplement.html").as_uri(), wait_until="load")
    rows = page.evaluate(LEVEL_ROWS_JS)
    page.close()
    levels = [r for r in rows if r["level"]]
    labels = [r for r in rows if not r["level"]]
    assert levels and labels
    assert not [r for r in rows if r["text"].startswith("\u00a0")]
    wrapped = [r for r in levels if len({round(x) for x in r["lines"]}) and len(r["lines"]) > 1]
    assert wrapped, "no level row wraps at 420 px"
    indent = min(x for r in levels for x in r["lines"]) - min(r["left"] for r in labels)
    label_start = min(x for r in labels for x in r["lines"]) - min(r["left"] for r in labels)
    for r in wrapped:
        starts = {round(x) for x in r["lines"]}
        assert len(starts) == 1, r  # every line at one left edge
    assert indent > label_start + 8  # 1 em in from a label row's text


def render_poster_html(size: str, root):
    """The poster HTML of the shipped synthetic cohort at ``poster-size: size``."""
    from cohorts import poster_work

    from analysis import config
    from analysis.render import render_document

    work = poster_work(config.SYNTHETIC_DIR, size, root)
    return render_document(work, "report/poster.qmd", root / "out", formats=("html",))["html"]


POSTER_JS = """
() => {
  const page = document.querySelector('.poster-page');
  const main = page.querySelector('main');
  const top = e => {
    let y = 0;
    for (; e && e !== page; e = e.offsetParent) y += e.offsetTop;
    return y;
  };
  const cols = [...page.querySelectorAll('.poster-columns > .poster-col')].map(c => {
    const units = [...c.children].filter(u => u.classList.contains('poster-unit'));
    return {
      bottom: top(c) + c.offsetHeight,
      units: units.map(u => ({ lead: u.dataset.lead === 'true', bottom: top(u) + u.offsetHeight })),
    };
  });
  const px = e => parseFloat(getComputedStyle(e).fontSize);
  const table = page.querySelector('.gt_table');
  const cell = table.querySelector('tbody td');
  const text = table.closest('.poster-unit').querySelector('p');
  const entry = page.querySelector('.csl-entry');
  const refLine = ['.csl-left-margin', '.csl-right-inline']
    .map(sel => entry.querySelector(sel).getBoundingClientRect().top);
  return { width: page.offsetWidth, mainBottom: top(main) + main.offsetHeight, cols,
           tableRatio: px(cell) / px(text), refLine };
}
"""


@pytest.fixture(scope="module", params=["48x36in", "36x48in"])
def poster_html(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"poster-html-{request.param}")
    return request.param, render_poster_html(request.param, root)


def test_html_poster_is_balanced_as_the_pdf(poster_html, browser):
    """The columns end together at the bottom margin (within an inch, as the PDF's),
    nothing runs past it, the key findings head their column, and the tables are set
    at 0.9 of the text, as the PDF poster's (the portrait columns had ended 2 in
    apart, the key findings at the foot of column 1, the tables at 0.82)."""
    from analysis.render.layout import poster_geometry

    size, html = poster_html
    g = poster_geometry({"poster-size": size})
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(html.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    found = page.evaluate(POSTER_JS)
    page.close()
    per_inch = found["width"] / (g["width"] / 72)
    assert len(found["cols"]) == g["columns"]
    ends = [c["units"][-1]["bottom"] for c in found["cols"]]
    assert max(ends) <= found["mainBottom"] + 1, (ends, found["mainBottom"])
    assert (max(ends) - min(ends)) / per_inch <= 1.0, ends
    leads = [c["units"] for c in found["cols"] if any(u["lead"] for u in c["units"])]
    assert len(leads) == 1 and leads[0][0]["lead"], found["cols"]
    assert found["tableRatio"] == pytest.approx(0.9, abs=0.01)
    # a reference's number on the line of its entry ("1." had stood above it)
    assert abs(found["refLine"][0] - found["refLine"][1]) < 2, found["refLine"]


@pytest.fixture(scope="module", params=["48x36in", "36x48in"])
def poster_both(request, tmp_path_factory):
    """The poster rendered to HTML and PDF in one render, as a build renders it."""
    from cohorts import poster_work

    from analysis.render import render_document

    root = tmp_path_factory.mktemp(f"poster-both-{request.param}")
    work = poster_work(config.SYNTHETIC_DIR, request.param, root)
    paths = render_document(work, "report/poster.qmd", root / "out", formats=("html", "pdf"))
    return request.param, paths


PLANNED_JS = """
() => {
  const cols = document.querySelector('.poster-columns');
  const page = document.querySelector('.poster-page');
  const scale = page.getBoundingClientRect().height / page.offsetHeight;
  const main = page.querySelector('main').getBoundingClientRect();
  const ends = [...cols.children].map(c => {
    const units = [...c.children].filter(u => u.classList.contains('poster-unit'));
    return units.length ? units[units.length - 1].getBoundingClientRect().bottom : null;
  }).filter(e => e !== null);
  const figures = [...document.querySelectorAll('figure[id^="fig-"]')]
    .filter(f => f.offsetParent !== null).map(f => f.id);
  return { planned: cols.dataset.planned === 'true', dropped: +cols.dataset.dropped,
           bounds: cols.dataset.bounds, size: parseFloat(cols.style.fontSize || '1'),
           ends: ends.map(e => e / scale), mainBottom: main.bottom / scale, figures,
           perInch: page.offsetWidth };
}
"""


def test_html_poster_shows_what_the_pdf_poster_shows(poster_both, browser):
    """Rendered with its PDF, the HTML poster keeps the PDF's figures, in the PDF's
    columns (analysis/render/poster_plan.py).  On its own the browser's taller
    lines had left out both optional figures that the portrait PDF keeps; now only
    its type is set a little smaller (here by at most 15%)."""
    import json
    import re

    from test_poster import poster_flow

    from analysis.render.layout import poster_geometry

    size, paths = poster_both
    flow = poster_flow(paths["pdf"])
    html = paths["html"].read_text(encoding="utf-8")
    plan = json.loads(re.search(r'data-plan="([^"]*)"', html)[1].replace("&quot;", '"'))
    assert plan["dropped"] == flow["dropped"] and plan["bounds"] == flow["bounds"], plan
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(paths["html"].as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    found = page.evaluate(PLANNED_JS)
    page.close()
    assert found["planned"], found
    assert found["dropped"] == flow["dropped"], found
    assert found["bounds"] == ",".join(str(b) for b in flow["bounds"]), found
    assert found["size"] >= 0.85, found
    per_inch = found["perInch"] / (poster_geometry({"poster-size": size})["width"] / 72)
    assert max(found["ends"]) <= found["mainBottom"] + 1, found
    assert (max(found["ends"]) - min(found["ends"])) / per_inch <= 1.0, found
    # the figures shown are the PDF's: as many as its captions
    pdf_text = " ".join(
        p.extract_text() for p in __import__("pypdf").PdfReader(str(paths["pdf"])).pages
    )
    assert len(found["figures"]) == len(re.findall(r"Figure \d+:", pdf_text)), found


def test_a_build_hands_the_pdf_posters_plan_to_its_html(version, browser):
    """In a build the poster's HTML and PDF are rendered by different workers; the
    build writes the PDF's plan into the HTML afterwards (render_docs)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((version / "poster.html").as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    found = page.evaluate(PLANNED_JS)
    page.close()
    assert found["planned"] and found["size"] >= 0.85, found
