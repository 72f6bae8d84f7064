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
