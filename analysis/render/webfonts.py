"""Subsets of the bundled Lato embedded in the HTML pages (``@font-face`` data URLs).

The PDF poster is set in the bundled Lato (:mod:`analysis.fonts`); the HTML
poster asks for Lato in its CSS.  On a machine without Lato the browser took
another font, the text took other room and the poster's script left out more
optional figures than the PDF.  So the HTML pages that are set in Lato carry
the faces they use, each subset to a base set of characters (:data:`BASE`)
and any others of the page, as WOFF in a ``data:`` URL: nothing is loaded, and a poster grows by
some tens of kilobytes instead of 650 KB per face.

* The poster (``<body class="poster">``): its text, in the faces its markup
  and CSS use (regular and bold always: the headings; italic where it has
  ``<em>``/``<i>``; bold italic where those sit in bold text).
* An article with charts drawn in the page (``div.vega-figure``, the
  supplement's interactive charts, whose SVG text names Lato): the regular and
  bold faces (Vega's titles), subset to the characters of the charts' scripts.
  The abstract has no such chart and no Lato: nothing is added.

* An article with charts placed in the page (vl-convert's SVG figures, which
  :mod:`analysis.render.svg_inline` turns from ``<img>`` into ``<svg>`` so
  that the page's fonts reach them): the same two faces, with the characters
  of the charts' text.

* Every page whose text has superscript digits (a radionuclide's mass number,
  "¹⁷⁷Lu"): the regular and bold Lato digits alone, as the family
  :data:`SUPERSCRIPT_FAMILY` with a ``unicode-range`` of those characters,
  which css/report.css puts first in every font stack.  The reader's own
  fonts often have ¹²³ (Latin-1) and not ⁴–⁹, so "¹⁷⁷" came out in two
  fonts, of two heights (Arial, Liberation Sans); now all of them are Lato's
  (2 KB a face), and the rest of the text keeps its font.

Subsetting Lato with fontTools takes about a second per face (its kerning
table is large), so each subset is cached in :func:`analysis.charts_draw.cache_dir`
under a key of the font file's SHA-256, the fontTools version, the options and
the characters; the bytes are the same with or without the cache, and a cache
that cannot be read or written is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from analysis import fonts

FAMILY = fonts.SANS
#: The family of the superscript digits (:func:`superscript_css`), and its characters.
SUPERSCRIPT_FAMILY = "psma-superscripts"
SUPERSCRIPTS = "\u00b2\u00b3\u00b9" + "".join(chr(c) for c in range(0x2070, 0x207A))
_SUPERSCRIPT_RANGE = "U+00B2-00B3, U+00B9, U+2070-2079"
#: A chart placed in the page (:mod:`analysis.render.svg_inline`), and its text.
_INLINE_CHART = re.compile(r'<svg\b[^>]*\sclass="marks"')
_SVG_TEXT = re.compile(r"<text\b[^>]*>([^<]*)</text>")
#: Always in a subset: printable ASCII, Latin-1, general punctuation, super- and
#: subscripts and the symbols the documents use.  A page whose text these hold
#: (every page of an English-language study) gets exactly this subset, made once
#: per machine and then read from the cache, whatever the cohort; text a script
#: writes (the poster's figure numbers) finds its glyphs.  A page with other
#: characters (a name in Latin Extended, say) gets them added.
BASE = (
    "".join(chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x2010, 0x2045)))
    + "".join(chr(c) for c in range(0x2070, 0x20A0))
    + "−±×÷≈≠≤≥→←↑↓∞√µ€™"
)
#: OpenType features kept besides fontTools' defaults (which hold kern, liga,
#: calt, ccmp, locl, mark, mkmk, frac, numr, dnom): the tables'
#: ``font-variant-numeric: tabular-nums`` and the figure styles.
EXTRA_FEATURES = ("tnum", "pnum", "lnum")
#: Bumped when the subsetting options change (part of the cache key).
OPTIONS_VERSION = 1
CACHE_SUBDIR = "webfonts"
STYLE_ID = "psma-webfonts"

_BOLD_TAGS = frozenset(["b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"])
_ITALIC_TAGS = frozenset(["em", "i", "cite", "dfn", "var"])
_SKIP_TAGS = frozenset(["script", "style", "title"])
_VOID_TAGS = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"]
)
_BODY_CLASS = re.compile(r"<body\b[^>]*\bclass=\"([^\"]*)\"", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_CSS_ITALIC = re.compile(r"font-style\s*:\s*(?:italic|oblique)", re.IGNORECASE)
_CSS_BOLD_ITALIC = re.compile(r"font-style\s*:\s*italic[^}]*font-weight\s*:\s*(?:bold|[6-9]00)")
_VEGA_ITALIC = re.compile(r'"fontStyle"\s*:\s*"italic"')
_FACE_CACHE: dict[tuple[str, str], bytes] = {}


class _PageText(HTMLParser):
    """The characters of a page's text, and which of them are set bold, italic or both.

    Bold and italic follow the elements (``_BOLD_TAGS``, ``_ITALIC_TAGS``) and
    their nesting; script, style and title text is not page text.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chars: set[str] = set()
        self.styles: set[tuple[str, int]] = {("normal", 400)}
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID_TAGS:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if _SKIP_TAGS.intersection(self._stack):
            return
        self.chars.update(data)
        if not data.strip():
            return
        bold = any(t in _BOLD_TAGS for t in self._stack)
        italic = any(t in _ITALIC_TAGS for t in self._stack)
        self.styles.add(("italic" if italic else "normal", 700 if bold else 400))


def page_kind(html: str) -> str:
    """``"poster"``, ``"charts"`` (an article drawing charts in the page) or ``""``
    (a page not set in Lato)."""
    m = _BODY_CLASS.search(html)
    if m and "poster" in m.group(1).split():
        return "poster"
    if 'class="vega-figure"' in html or _INLINE_CHART.search(html):
        return "charts"
    return ""


def _chart_scripts(html: str) -> list[str]:
    """The scripts that draw the page's charts (their specs hold the charts' text):
    those calling ``vegaEmbed`` (:mod:`analysis.charts_draw`), not the Vega runtime
    nor a renderer's own scripts (Quarto's)."""
    return [
        body
        for attrs, body in _SCRIPT.findall(html)
        if "vega-runtime" not in attrs and "vegaEmbed(" in body
    ]


def faces_and_text(html: str) -> tuple[list[tuple[str, int]], str]:
    """The Lato faces a page uses, as (style, weight), and the characters to subset.

    Parameters
    ----------
    html : str
        The page.

    Returns
    -------
    faces : list of (str, int)
        Sorted; empty when the page is not set in Lato (:func:`page_kind`).
    text : str
        The characters, sorted: :data:`BASE` and any others the page has.
    """
    kind = page_kind(html)
    if kind == "poster":
        parser = _PageText()
        parser.feed(html)
        parser.close()
        styles = set(parser.styles) | {("normal", 700)}
        if _CSS_ITALIC.search(html):
            styles.add(("italic", 400))
        if _CSS_BOLD_ITALIC.search(html):
            styles.add(("italic", 700))
        chars = parser.chars
    elif kind == "charts":
        scripts = _chart_scripts(html)
        chars = set("".join(scripts))
        chars.update("".join(unescape(t) for t in _SVG_TEXT.findall(html)))
        styles = {("normal", 400), ("normal", 700)}
        if any(_VEGA_ITALIC.search(s) for s in scripts):
            styles |= {("italic", 400), ("italic", 700)}
    else:
        return [], ""
    text = "".join(sorted((chars | set(BASE)) - set("\t\n\r\f\v")))
    return sorted(styles), text


def lato_files() -> dict[tuple[str, int], Path]:
    """The bundled Lato files by (style, weight)."""
    return {(f.style, f.weight): f.path for f in fonts.bundled_fonts() if f.family == FAMILY}


def _options():
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"
    # unhinted: smaller, and the advance widths the PDF's (unhinted) text has
    options.hinting = False
    options.layout_features = [*options.layout_features, *EXTRA_FEATURES]
    options.recalc_timestamp = False  # head.modified stays the file's
    return options


def subset_woff(path: Path, text: str) -> bytes:
    """WOFF of the font at ``path`` subset to the characters of ``text``.

    Deterministic: the same file and characters give the same bytes (no
    timestamp is recalculated).  Kept per process and in the cache folder.
    """
    from fontTools import version  # (fontTools.subset takes 0.3 s to import: only on a miss)

    chars = "".join(sorted(set(text)))
    key_data = [fonts.FontFile("", "", 0, Path(path), "").sha256, version, OPTIONS_VERSION, chars]
    key = hashlib.sha256(json.dumps(key_data).encode("utf-8")).hexdigest()
    memo = (str(path), key)
    if memo in _FACE_CACHE:
        return _FACE_CACHE[memo]
    cached = _read_cache(Path(path).stem, key)
    if cached is None:
        from fontTools import subset

        options = _options()
        # lazy (the default): only the tables and lookups the subset reaches are
        # read, three times faster than reading all of Lato's kerning, same bytes
        font = subset.load_font(str(path), options, dontLoadGlyphNames=True)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=chars)
        subsetter.subset(font)
        buf = io.BytesIO()
        subset.save_font(font, buf, options)
        font.close()
        cached = buf.getvalue()
        _write_cache(Path(path).stem, key, cached)
    _FACE_CACHE[memo] = cached
    return cached


def _cache_paths(stem: str, key: str) -> tuple[Path, Path]:
    from analysis.charts_draw import cache_dir

    folder = cache_dir() / CACHE_SUBDIR
    return folder / f"{stem}-{key[:24]}.woff", folder / f"{stem}-{key[:24]}.sha256"


def _read_cache(stem: str, key: str) -> bytes | None:
    woff, check = _cache_paths(stem, key)
    try:
        data = woff.read_bytes()
        if hashlib.sha256(data).hexdigest() == check.read_text(encoding="ascii").strip():
            return data
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _write_cache(stem: str, key: str, data: bytes) -> None:
    from analysis.files import write_atomic

    woff, check = _cache_paths(stem, key)
    try:
        write_atomic(woff, data)
        write_atomic(check, hashlib.sha256(data).hexdigest().encode("ascii") + b"\n")
    except OSError:
        pass


def font_face_css(html: str) -> str:
    """``@font-face`` rules of the Lato subsets the page needs ("" for none)."""
    faces, text = faces_and_text(html)
    files = lato_files()
    rules = []
    for style, weight in faces:
        rules.append(_face_rule(FAMILY, style, weight, subset_woff(files[(style, weight)], text)))
    return "\n".join(rules)


def _face_rule(family: str, style: str, weight: int, woff: bytes, unicode_range: str = "") -> str:
    """One ``@font-face`` rule with the WOFF as a ``data:`` URL."""
    data = base64.b64encode(woff).decode("ascii")
    scope = f"unicode-range: {unicode_range}; " if unicode_range else ""
    return (
        f'@font-face {{ font-family: "{family}"; font-style: {style}; '
        f"font-weight: {weight}; font-display: block; {scope}"
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}'
    )


def superscript_css(html: str) -> str:
    """``@font-face`` rules of the superscript digits, for a page whose text has one
    of :data:`SUPERSCRIPTS` ("" otherwise): Lato's regular and bold, subset to those
    characters, under :data:`SUPERSCRIPT_FAMILY` and their ``unicode-range``."""
    parser = _PageText()
    parser.feed(html)
    parser.close()
    if not parser.chars & set(SUPERSCRIPTS):
        return ""
    files = lato_files()
    rules = []
    for weight in (400, 700):
        woff = subset_woff(files[("normal", weight)], SUPERSCRIPTS)
        rules.append(_face_rule(SUPERSCRIPT_FAMILY, "normal", weight, woff, _SUPERSCRIPT_RANGE))
    return "\n".join(rules)


def embed(path: Path) -> bool:
    """Put the page's Lato subsets (and its superscript digits) in a ``<style>``
    before ``</head>`` of ``path``.

    Returns
    -------
    bool
        Whether the page was changed (False: no Lato and no superscript, or
        already done).
    """
    path = Path(path)
    html = path.read_bytes().decode("utf-8")
    if f'<style id="{STYLE_ID}">' in html:
        return False
    css = "\n".join(c for c in (font_face_css(html), superscript_css(html)) if c)
    head_end = _HEAD_END.search(html)
    if not css or head_end is None:
        return False
    note = f"/* {FAMILY} (SIL OFL 1.1), subset to this page: analysis/render/webfonts.py */"
    style = f'<style id="{STYLE_ID}">\n{note}\n{css}\n</style>\n'
    at = head_end.start()
    path.write_bytes((html[:at] + style + html[at:]).encode("utf-8"))
    return True
