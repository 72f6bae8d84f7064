"""The built HTML documents in a real browser (Playwright driving Debian's chromium).

Each document is opened from disk; every request the page makes is recorded
and must be the file itself (or inline ``data:`` resources); the key numbers
of results.json must be visible text; interactive charts must have drawn an
SVG in every chart container.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from analysis import config
from analysis.build import build

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"


def _browser_or_skip():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - test extra
        pytest.skip("playwright not installed")
    return sync_playwright


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    report = build(config.SYNTHETIC_DIR, label="browser", outputs=tmp_path_factory.mktemp("o"))
    return report.path


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def open_poster(browser, version, settle_ms: int = 300):
    """A new 1600 x 1200 page showing the version's HTML poster, loaded and given
    ``settle_ms`` for its scripts (pruning, balance, numbering)."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto((version / "poster.html").as_uri(), wait_until="load")
    if settle_ms:
        page.wait_for_timeout(settle_ms)
    return page


@pytest.mark.parametrize("doc", ["abstract", "poster", "supplement"])
def test_document_opens_offline_and_shows_the_results(version, browser, doc):
    path = version / f"{doc}.html"
    results = json.loads((version / "results.json").read_text())
    page = browser.new_page()
    requests = []
    page.on("request", lambda req: requests.append(req.url))
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    outside = [u for u in requests if u != path.as_uri() and not u.startswith("data:")]
    assert outside == [], outside
    assert errors == []
    text = " ".join(page.inner_text("body").split())
    psa50 = results["psa_response"]["psa50"]
    if doc == "poster":  # prose, not the PSA response table
        n = results["cohort"]["n_patients"]
        assert f"{psa50['n']} of {n} patients ({psa50['pct']:.1f}%)" in text
    else:
        assert f"{psa50['n']} ({psa50['pct']:.1f}%)" in text
    assert str(results["cohort"]["n_patients"]) in text
    if doc == "supplement":
        containers = page.locator(".vega-figure")
        assert containers.count() == 5
        for i in range(containers.count()):
            assert containers.nth(i).locator("svg").count() >= 1, f"chart {i} did not draw"
    page.close()


def test_poster_html_is_one_page_scaled_to_the_window(version, browser):
    """The HTML poster keeps the poster's aspect and fits the window, its columns
    inside the page (nothing flows into a column beyond the page's right edge)."""
    page = open_poster(browser, version)
    box = page.locator(".poster-page").bounding_box()
    assert box["width"] <= 1600 + 1 and box["height"] <= 1200 + 1
    assert box["width"] / box["height"] == pytest.approx(48 / 36, rel=0.01)
    assert max(box["width"] / 1600, box["height"] / 1200) == pytest.approx(1, abs=0.01)
    # (the balanced columns of filters/layout.lua's script, else the CSS columns)
    flow = page.evaluate(
        "(() => { const f = document.querySelector('.poster-columns')"
        " || document.querySelector('.poster-flow');"
        " return [f.scrollWidth, f.clientWidth]; })()"
    )
    assert flow[0] <= flow[1] + 2, flow
    page.close()


def _pdf_band_depth(pdf, tmp_path) -> float:
    """Depth of the PDF poster's title band and its stripe, as a fraction of the
    page's width: the first light pixel down the page's left edge (a raster of
    the page, 20 dpi, as grey levels)."""
    import subprocess

    base = tmp_path / "band"
    subprocess.run(
        ["pdftoppm", "-r", "20", "-gray", "-singlefile", str(pdf), str(base)], check=True
    )
    data = (tmp_path / "band.pgm").read_bytes()
    magic, width, height, _, pixels = data.split(maxsplit=4)
    assert magic == b"P5"
    width, height = int(width), int(height)
    column = [pixels[y * width + 3] for y in range(height)]
    return next(y for y in range(height) if column[y] > 230) / width


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils")
def test_poster_html_title_band_is_as_deep_as_the_pdfs(version, browser, tmp_path):
    """The HTML poster's title band (header and stripe) takes the PDF's depth of
    the page, within 0.15 in of a 48 in poster: the people and the badge sit side
    by side at the band's foot, the badge rising beside the people rather than
    deepening the band (it had been 0.95 in deeper, and the HTML's type smaller)."""
    page = open_poster(browser, version)
    depth = page.evaluate(
        "(() => { const p = document.querySelector('.poster-page').getBoundingClientRect();"
        " const h = document.querySelector('#title-block-header').getBoundingClientRect();"
        " return (h.bottom - p.top) / p.width; })()"
    )
    page.close()
    pdf = _pdf_band_depth(version / "poster.pdf", tmp_path)
    assert 48 * abs(depth - pdf) <= 0.15, (48 * depth, 48 * pdf)


def test_poster_html_screenshot_is_not_blank(version, browser, tmp_path):
    page = open_poster(browser, version, settle_ms=0)
    shot = tmp_path / "poster.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_poster_html_numbers_only_the_figures_it_shows(version, browser):
    """A figure the window leaves out takes no number: the captions shown read
    Figure 1, 2, ... and every reference names the number of its figure (at
    1600 x 1200 the browser's fonts leave out the two optional figures, and the
    poster read Figure 1, then 4, 5, 6)."""
    page = open_poster(browser, version)
    shown = page.evaluate(
        "(() => Array.from(document.querySelectorAll('[id^=\"fig-\"]'))"
        ".filter(e => e.querySelector('.crossref-label'))"
        ".map(e => [e.id, e.offsetParent !== null,"
        " e.querySelector('.crossref-label').textContent]))()"
    )
    refs = page.evaluate(
        "(() => Array.from(document.querySelectorAll('a[href^=\"#fig-\"]'))"
        ".map(a => [a.getAttribute('href').slice(1), a.textContent]))()"
    )
    page.close()
    visible = [(i, label) for i, seen, label in shown if seen]
    assert len(visible) < len(shown)  # what is tested: the window left a figure out
    assert [label for _, label in visible] == [f"Figure {n}:" for n in range(1, len(visible) + 1)]
    number = {i: label.rstrip(":").split()[-1] for i, label in visible}
    assert refs and all(text.endswith(" " + number[target]) for target, text in refs), refs


def _embedded_lato(html: str) -> dict[tuple[str, int], object]:
    """The poster's embedded Lato faces, parsed back with fontTools, by (style, weight)."""
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    rules = re.findall(
        r'@font-face \{ font-family: "Lato"; font-style: (\w+); font-weight: (\d+);'
        r".*?url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)",
        html,
    )
    return {(s, int(w)): TTFont(io.BytesIO(base64.b64decode(b))) for s, w, b in rules}


def test_poster_html_embeds_lato_covering_all_of_its_text(version):
    """Every character of the poster's text (outside scripts and styles) is in each
    embedded face; the faces are the PDF's (regular, bold, italic), subsets."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.chars: set[str] = set()
            self.skip = 0

        def handle_starttag(self, tag, attrs):
            self.skip += tag in ("script", "style", "title")

        def handle_endtag(self, tag):
            self.skip -= tag in ("script", "style", "title")

        def handle_data(self, data):
            if not self.skip:
                self.chars.update(data)

    html = (version / "poster.html").read_text(encoding="utf-8")
    parser = Text()
    parser.feed(html)
    needed = {ord(c) for c in parser.chars if not c.isspace() or c == " "}
    assert {ord("≥"), ord("–")} <= needed  # the text has non-ASCII characters
    faces = _embedded_lato(html)
    assert sorted(faces) == [("italic", 400), ("normal", 400), ("normal", 700)]
    for face, font in faces.items():
        missing = needed - set(font.getBestCmap())
        assert not missing, (face, "".join(map(chr, sorted(missing))))
        assert len(font.getGlyphOrder()) < 600, face  # a subset, not the 3,000-glyph font
    assert len(html.encode("utf-8")) < 500_000


def test_poster_html_text_is_set_in_the_embedded_lato(version, browser):
    """The browser loads the embedded faces from their data URLs and sets the
    poster's headings, body text, bold, italics and chart text in them (this
    machine has no Lato: before, chromium set it in Liberation Sans)."""
    page = open_poster(browser, version)
    loaded = page.evaluate(
        "(() => [document.fonts.check('12px Lato'), document.fonts.check('bold 12px Lato'),"
        " [...document.fonts].map(f => [f.family, f.weight, f.style, f.status])])()"
    )
    assert loaded[0] and loaded[1]
    assert sorted(map(tuple, loaded[2])) == [
        ("Lato", "400", "italic", "loaded"),
        ("Lato", "400", "normal", "loaded"),
        ("Lato", "700", "normal", "loaded"),
        # the superscript digits of "¹⁷⁷Lu" (analysis/render/webfonts.py)
        ("psma-superscripts", "400", "normal", "loaded"),
        ("psma-superscripts", "700", "normal", "loaded"),
    ]
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    cdp.send("CSS.enable")
    used = {}
    selectors = ("h1.title", "main h2", "main p", "main strong", "main em", "main th")
    for selector in (*selectors, "main figure svg text"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts_used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        used[selector] = {(f["postScriptName"], f["isCustomFont"]) for f in fonts_used}
    page.close()
    bold, regular, italic = ("Lato-Bold", True), ("Lato-Regular", True), ("Lato-Italic", True)
    assert used == {
        "h1.title": {bold},
        "main h2": {bold},
        "main p": {regular},
        "main strong": {bold},
        "main em": {italic},
        "main th": {regular},
        # a chart's text: in the page as SVG (analysis/render/svg_inline.py), not an
        # image, so in the embedded Lato too (it was the reader's sans serif)
        "main figure svg text": {regular},
    }


@pytest.mark.parametrize("doc", ["abstract", "supplement"])
def test_a_mass_number_is_set_in_one_font_in_the_readers_sans_and_serif(version, browser, doc):
    """ "¹⁷⁷Lu" in an article's title (the reader's sans serif) and text (serif): this
    machine's Liberation Sans has ¹ and not ⁷, so "¹⁷⁷" came out in two fonts of
    two heights.  Now its three digits are the embedded Lato's, the rest of the
    line the reader's font."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto((version / f"{doc}.html").as_uri(), wait_until="load")
    page.wait_for_timeout(200)
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    cdp.send("CSS.enable")
    found = {}
    for selector in ("h1.title", "main p"):
        for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})[
            "nodeIds"
        ]:
            text = cdp.send("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]
            if "¹⁷⁷Lu" not in text:
                continue
            used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            found[selector] = {
                (f["postScriptName"], f["isCustomFont"]): f["glyphCount"] for f in used
            }
            break
    page.close()
    assert set(found) == {"h1.title", "main p"}, found
    bold, regular = ("Lato-Bold", True), ("Lato-Regular", True)
    assert found["h1.title"][bold] % 3 == 0, found  # ¹⁷⁷, once or more
    assert found["main p"][regular] % 3 == 0, found
    for fonts_used in found.values():  # one reader's font besides: no fallback for ⁷
        assert len(fonts_used) == 2, fonts_used
