"""The Lato subsets embedded in the HTML pages (analysis/render/webfonts.py).

Unit tests on small pages; the built poster's fonts are checked in
tests/test_browser.py (their coverage of its text, and a browser using them).
"""

from __future__ import annotations

import base64
import io
import re

import pytest

from analysis.render import webfonts

POSTER = """<!DOCTYPE html>
<html><head><title>Łódź title</title><style>body {{ color: red }}</style></head>
<body class="poster"><h1>Poster ≥</h1><p>Plain µ {extra}</p>
<script>var x = "Ж";</script></body></html>
"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A cache folder of the test's own, and no subsets kept from earlier tests."""
    monkeypatch.setenv("PSMA_RWE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(webfonts, "_FACE_CACHE", {})
    return tmp_path / "cache" / webfonts.CACHE_SUBDIR


def _regular():
    return webfonts.lato_files()[("normal", 400)]


def _font(data: bytes):
    from fontTools.ttLib import TTFont

    return TTFont(io.BytesIO(data))


def test_the_same_characters_give_the_same_bytes_with_and_without_the_cache(cache):
    first = webfonts.subset_woff(_regular(), "Hello ≥ 1")
    assert first[:4] == b"wOFF"
    assert len(list(cache.glob("*.woff"))) == 1
    # made again from the font file: no cache on disk nor in the process
    for f in cache.iterdir():
        f.unlink()
    webfonts._FACE_CACHE.clear()
    assert webfonts.subset_woff(_regular(), "1 ≥ olleH") == first


def test_the_subset_keeps_the_fonts_timestamp():
    """fontTools sets head.modified to the time of saving unless told not to: the
    subset's must be the font file's."""
    from fontTools.ttLib import TTFont

    subset = _font(webfonts.subset_woff(_regular(), "abc"))
    assert subset["head"].modified == TTFont(str(_regular()))["head"].modified


def test_the_subset_has_the_characters_and_the_kerning_and_ligatures():
    font = _font(webfonts.subset_woff(_regular(), "AVfi Té"))
    cmap = font.getBestCmap()
    assert {ord(c) for c in "AVfi Té"} <= set(cmap)
    assert ord("z") not in cmap and len(cmap) < 20
    assert "glyf" in font and font["glyf"][cmap[ord("A")]].numberOfContours > 0
    gpos = {r.FeatureTag for r in font["GPOS"].table.FeatureList.FeatureRecord}
    gsub = {r.FeatureTag for r in font["GSUB"].table.FeatureList.FeatureRecord}
    assert "kern" in gpos and "liga" in gsub


def test_a_tampered_cache_is_not_used(cache):
    first = webfonts.subset_woff(_regular(), "xyz")
    (woff,) = cache.glob("*.woff")
    woff.write_bytes(b"wOFF garbage")
    webfonts._FACE_CACHE.clear()
    assert webfonts.subset_woff(_regular(), "xyz") == first


def test_poster_text_faces_and_characters():
    faces, text = webfonts.faces_and_text(POSTER.format(extra="<em>it <strong>bi</strong></em>"))
    assert faces == [("italic", 400), ("italic", 700), ("normal", 400), ("normal", 700)]
    assert {"≥", "µ"} <= set(text) and set(webfonts.BASE) <= set(text)
    assert not {"Ł", "Ж", "\n"} & set(text)  # title and script are not page text


def test_a_poster_without_italics_gets_regular_and_bold():
    faces, _ = webfonts.faces_and_text(POSTER.format(extra=""))
    assert faces == [("normal", 400), ("normal", 700)]


def test_an_article_gets_lato_only_for_charts_drawn_in_the_page():
    plain = '<html><head></head><body class="article"><h1>T</h1><em>x</em></body></html>'
    assert webfonts.faces_and_text(plain) == ([], "")
    charts = plain.replace(
        "</body>",
        '<div class="vega-figure"></div>'
        '<script>var s = {"title": "Dose ↑"}; vegaEmbed("#f", s);</script>'
        '<script id="vega-runtime">var junk = "Ж"; vegaEmbed(1);</script>'
        "<script>/* a renderer's own script ő */</script></body>",
    )
    faces, text = webfonts.faces_and_text(charts)
    assert faces == [("normal", 400), ("normal", 700)]
    assert "↑" in text and not {"Ж", "ő"} & set(text)


def test_embed_writes_one_style_before_head_end_and_only_once(tmp_path):
    page = tmp_path / "poster.html"
    page.write_bytes(POSTER.format(extra="<em>x</em>").encode("utf-8"))
    assert webfonts.embed(page)
    first = page.read_bytes()
    assert not webfonts.embed(page) and page.read_bytes() == first
    html = first.decode("utf-8")
    assert html.count(f'<style id="{webfonts.STYLE_ID}">') == 1
    assert html.index(webfonts.STYLE_ID) < html.index("</head>")
    rules = re.findall(
        r"@font-face \{ font-family: \"Lato\"; font-style: (\w+); font-weight: (\d+);"
        r'.*?url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\) format\("woff"\); \}',
        html,
    )
    assert [(s, int(w)) for s, w, _ in rules] == [("italic", 400), ("normal", 400), ("normal", 700)]
    names = [_font(base64.b64decode(b))["name"].getDebugName(6) for _, _, b in rules]
    assert names == ["Lato-Italic", "Lato-Regular", "Lato-Bold"]


def test_a_page_not_set_in_lato_is_left_alone(tmp_path):
    page = tmp_path / "abstract.html"
    text = '<html><head></head><body class="article"><p>x</p></body></html>'
    page.write_text(text, encoding="utf-8")
    assert not webfonts.embed(page)
    assert page.read_text(encoding="utf-8") == text


def test_pages_of_english_text_share_one_subset_and_others_add_their_characters():
    """Any page whose text the base set holds gets exactly the base set (one subset
    per machine, cached, whatever the cohort); other characters are added."""
    one = webfonts.faces_and_text(POSTER.format(extra="PSA50 ≥ 50% in 38.1% (n = 8)"))[1]
    two = webfonts.faces_and_text(POSTER.format(extra="Hemoglobin × 10⁹/L – “quoted”"))[1]
    assert one == two == "".join(sorted(set(webfonts.BASE)))
    three = webfonts.faces_and_text(POSTER.format(extra="Łukasz Wróbel"))[1]
    assert set(three) - set(one) == {"Ł"}


def test_a_page_with_a_mass_number_gets_the_superscript_digits_alone(tmp_path):
    page = tmp_path / "abstract.html"
    text = (
        '<html><head></head><body class="article"><h1>(¹⁷⁷Lu-PSMA-617)</h1>'
        "<p>¹⁷⁷Lu x</p></body></html>"
    )
    page.write_text(text, encoding="utf-8")
    assert webfonts.embed(page)
    html = page.read_text(encoding="utf-8")
    rules = re.findall(
        r'@font-face \{ font-family: "psma-superscripts"; font-style: normal; '
        r"font-weight: (\d+); font-display: block; unicode-range: ([^;]+); "
        r'src: url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\) format\("woff"\); \}',
        html,
    )
    assert [int(w) for w, _, _ in rules] == [400, 700]
    assert {r for _, r, _ in rules} == {"U+00B2-00B3, U+00B9, U+2070-2079"}
    for _, _, data in rules:
        cmap = set(_font(base64.b64decode(data)).getBestCmap())
        assert {ord(c) for c in "¹²³⁴⁵⁶⁷⁸⁹⁰"} <= cmap
        assert not {ord(c) for c in "Lu x"} & cmap  # the digits alone
    assert 'font-family: "Lato"' not in html  # an article without charts: no Lato text face


def test_a_page_without_superscripts_gets_no_superscript_face():
    assert webfonts.superscript_css("<html><body><p>177Lu, x²</p></body></html>") != ""
    assert webfonts.superscript_css("<html><body><p>177Lu</p></body></html>") == ""
    # a superscript only in a script or the <title> is not page text
    assert webfonts.superscript_css("<html><title>¹⁷⁷Lu</title><script>'⁷'</script></html>") == ""


def test_the_stylesheet_puts_the_superscript_digits_first_in_every_text_font():
    from analysis.render.extension import bundled_dir

    css = (bundled_dir() / "css" / "report.css").read_text(encoding="utf-8")
    stacks = re.findall(r"font-family:\s*([^;]+);", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    text_stacks = [s for s in stacks if "serif" in s or "sans-serif" in s]
    assert len(text_stacks) == 3, text_stacks  # the body, the headings, the poster
    for stack in text_stacks:
        assert stack.split(",")[0].strip() == f'"{webfonts.SUPERSCRIPT_FAMILY}"', stack
