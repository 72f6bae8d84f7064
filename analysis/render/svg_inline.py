"""The HTML's SVG figures placed in the page, not as images, so that their text is set in Lato.

pandoc's ``--embed-resources`` (and Quarto's) places an SVG figure as
``<img src="data:image/svg+xml;base64,...">``.  An image cannot use the page's
fonts: the charts' text, which names Lato, came out in the reader's own sans
serif while the page around it was in the embedded Lato
(:mod:`analysis.render.webfonts`).  :func:`inline` puts each such SVG in the
page as an ``<svg>`` element instead, with the image's accessible name; its
size does not change (the CSS sets ``figure svg`` as ``figure img``).

Only SVGs drawn by vl-convert are placed (their root has ``class="marks"``):
they hold no ``id`` and no ``url(#...)`` reference, so two of them cannot
clash in one page.  Any other image stays an image.
"""

from __future__ import annotations

import base64
import binascii
import html as html_lib
import re
from pathlib import Path

#: An <img> whose source is a base64 SVG: the attributes before and after it, the data.
_SVG_IMG = re.compile(
    r'<img\b(?P<before>[^>]*?)\ssrc="data:image/svg\+xml;base64,(?P<data>[A-Za-z0-9+/=\s]+)"'
    r"(?P<after>[^>]*?)/?>"
)
_ATTR = re.compile(r'\s([a-zA-Z:-]+)="([^"]*)"')
#: The root of vl-convert's SVG.
_VEGA_ROOT = re.compile(r'^\s*(?:<\?xml[^>]*\?>\s*)?<svg\b(?P<attrs>[^>]*\sclass="marks"[^>]*)>')
#: What an SVG placed in the page must not hold (ids could clash with the page's).
_UNSAFE = re.compile(r'\sid="|url\(#|<script|<foreignObject', re.IGNORECASE)


def svg_element(svg: str, attrs: dict[str, str]) -> str | None:
    """The ``<svg>`` element placing ``svg`` (a file's text) where an ``<img>`` with
    ``attrs`` (values as text, not HTML-escaped) was, named by its ``aria-label``
    or ``alt``; ``None`` unless it is a vl-convert SVG that is safe in a page."""
    root = _VEGA_ROOT.match(svg)
    if root is None or _UNSAFE.search(svg):
        return None
    label = attrs.get("aria-label") or attrs.get("alt") or ""
    extra = ' role="img"' + (f' aria-label="{html_lib.escape(label)}"' if label else "")
    return f"<svg{root.group('attrs')}{extra}>" + svg[root.end() :]


def _svg_for(match: re.Match[str]) -> str:
    try:
        svg = base64.b64decode(match.group("data"), validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match.group(0)
    attrs = {
        name: html_lib.unescape(value)
        for name, value in _ATTR.findall(match.group("before") + " " + match.group("after"))
    }
    return svg_element(svg, attrs) or match.group(0)


def inline(page: str) -> str:
    """``page`` with its vl-convert SVG images placed as ``<svg>`` elements."""
    return _SVG_IMG.sub(_svg_for, page)


def inline_file(path: Path) -> bool:
    """:func:`inline` on the HTML file ``path``; whether it changed."""
    path = Path(path)
    page = path.read_bytes().decode("utf-8")
    out = inline(page)
    if out == page:
        return False
    path.write_bytes(out.encode("utf-8"))
    return True
