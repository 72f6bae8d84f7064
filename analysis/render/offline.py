"""What an HTML page loads: refusing the network, and placing the page's own files in it.

Every HTML output opens offline, with nothing beside it.  Two steps make sure of it:

:func:`place_local`
    puts the files pandoc's page names (the stylesheet, the SVG figures) in the
    page, in place of pandoc's ``--embed-resources``.  pandoc's embedding
    parses the page it wrote once more, with the CSS of every great-tables
    fragment; that took 0.25 s of the supplement's 0.53 s.  Only what it can
    place exactly is placed: a ``<link rel="stylesheet">`` whose CSS loads
    nothing, and an ``<img>`` of a vl-convert SVG (placed as an ``<svg>``
    element, as :mod:`analysis.render.svg_inline` places pandoc's).  A page that
    names anything else of its own (a photograph, a CSS ``url()``) is left
    as it is and the caller asks pandoc to embed it.
:func:`check_offline`
    refuses a page that would still load something from the network.

Only what a browser loads counts: the loading attributes of the elements in
:data:`LOADING_TAGS`, and CSS ``@import`` / ``url(`` inside ``<style>``
elements and ``style`` attributes.  Text (data printed in a table, say) and
scripts' code are not looked at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from analysis.errors import PsmaRweError
from analysis.render import svg_inline

#: Elements whose attributes load a resource when the page opens, and those attributes
#: (``<a href>`` is a link, not a load).
LOADING_TAGS = frozenset(
    [
        "link",
        "script",
        "img",
        "iframe",
        "frame",
        "source",
        "video",
        "audio",
        "track",
        "embed",
        "object",
        "input",
        "image",
    ]
)
LOADING_ATTRS = frozenset(["src", "href", "xlink:href", "srcset", "data", "poster"])
#: A URL that leaves the file: scheme-relative ``//host`` or any ``scheme://``.
REMOTE_URL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
#: ``@import`` and ``url(`` of CSS, and the URL they hold.
CSS_LOAD = re.compile(
    r"""@import\s*(?:url\(\s*)?["']?([^"')\s;]*)|url\(\s*["']?([^"')\s]*)""",
    re.IGNORECASE,
)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
#: A URL that names no file: a data URI or a place in the page.
_NO_FILE = re.compile(r"^\s*(?:data:|#)", re.IGNORECASE)


@dataclass(frozen=True)
class Load:
    """One resource a page loads.

    Attributes
    ----------
    line : int
        Line of the element (1-based).
    what : str
        The element or CSS rule, for messages.
    url : str
        What it loads.
    tag : str
        The element's name (``style`` for CSS in an element or attribute).
    attrs : dict
        The element's attributes.
    start, end : int
        Where the element's start tag is in the page (``-1`` for CSS).
    """

    line: int
    what: str
    url: str
    tag: str
    attrs: dict
    start: int
    end: int


class _Loads(HTMLParser):
    """Every load of a page (:class:`Load`), in the order of the page."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[Load] = []
        self._in_style = False
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", page)]
        self.feed(page)
        self.close()

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _css(self, css: str, what: str) -> None:
        for m in CSS_LOAD.finditer(CSS_COMMENT.sub("", css)):
            url = m.group(1) if m.group(1) is not None else m.group(2)
            self.loads.append(
                Load(self.getpos()[0], f"{what}: {m.group(0)}", url, "style", {}, -1, -1)
            )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        text = self.get_starttag_text() or ""
        start = self._offset()
        for name, value in values.items():
            if name == "style":
                self._css(value, f'<{tag} style="...">')
            elif tag in LOADING_TAGS and name in LOADING_ATTRS:
                urls = [value]
                if name == "srcset":
                    urls = [u.split()[0] for u in value.split(",") if u.split()]
                for url in urls:
                    self.loads.append(
                        Load(
                            self.getpos()[0],
                            f'<{tag} {name}="{value[:80]}">',
                            url,
                            tag,
                            values,
                            start,
                            start + len(text),
                        )
                    )
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data, "<style>")


def loads(page: str) -> list[Load]:
    """Every resource ``page`` (HTML text) loads, in its order."""
    return _Loads(page).loads


def check_offline(html: Path, source: str = "") -> None:
    """Refuse an HTML page that would load anything from the network.

    Raises
    ------
    PsmaRweError
        Naming the page, the document it was rendered from, the line and the load.
    """
    found = [ld for ld in loads(html.read_text(encoding="utf-8")) if REMOTE_URL.match(ld.url)]
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        origin = f" rendered from {source}" if source else ""
        raise PsmaRweError(
            f"{html.name}{origin} would load a resource from the network: "
            f"line {found[0].line}: {found[0].what}{more}"
        )


def _find(url: str, search: Sequence[Path]) -> Path | None:
    """The file a page's relative or absolute ``url`` names, looked up as pandoc does
    (absolute as it is, else in each of ``search`` in turn); ``None`` if not a plain
    path to an existing file."""
    if not url or any(c in url for c in "?#%\\") or ":" in url.split("/")[0]:
        return None
    path = Path(url)
    for candidate in [path] if path.is_absolute() else [Path(d) / path for d in search]:
        if candidate.is_file():
            return candidate
    return None


def _stylesheet(load: Load, search: Sequence[Path]) -> str | None:
    """The ``<style>`` element for a ``<link rel="stylesheet">`` whose CSS loads nothing."""
    if load.tag != "link" or set(load.attrs) - {"rel", "href", "type"}:
        return None
    if load.attrs.get("rel", "").strip().lower() != "stylesheet":
        return None
    if load.attrs.get("type", "text/css").strip().lower() != "text/css":
        return None
    path = _find(load.url, search)
    if path is None:
        return None
    try:
        css = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if CSS_LOAD.search(CSS_COMMENT.sub("", css)) or "</style" in css.lower():
        return None
    return f'<style type="text/css">\n{css.rstrip()}\n</style>'


def _figure(load: Load, search: Sequence[Path]) -> str | None:
    """The ``<svg>`` element for an ``<img>`` of a vl-convert SVG (its other
    attributes go, as :func:`analysis.render.svg_inline.inline` drops them)."""
    if load.tag != "img" or "srcset" in load.attrs:
        return None
    path = _find(load.url, search)
    if path is None or path.suffix.lower() != ".svg":
        return None
    try:
        svg = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return svg_inline.svg_element(svg, load.attrs)


def place_local(html: Path, search: Sequence[Path]) -> bool:
    """Put the stylesheets and vl-convert SVG figures an HTML page names in the page.

    Parameters
    ----------
    html : Path
        The page, as pandoc wrote it without ``--embed-resources``; rewritten in place.
    search : sequence of Path
        Folders a relative URL is looked up in, in order (pandoc's resource path).

    Returns
    -------
    bool
        ``True`` when the page names no file of its own any more; ``False`` when it
        names one this cannot place exactly, in which case the page is left as it
        was (the caller then renders it with pandoc's ``--embed-resources``).
        URLs that leave the file are not files of the page: :func:`check_offline`
        refuses them.
    """
    page = html.read_bytes().decode("utf-8")
    edits: dict[int, tuple[int, str]] = {}
    for load in loads(page):
        if _NO_FILE.match(load.url) or REMOTE_URL.match(load.url):
            continue
        if load.start < 0 or load.start in edits:  # CSS url() / a second load of one tag
            return False
        element = _stylesheet(load, search) or _figure(load, search)
        if element is None:
            return False
        edits[load.start] = (load.end, element)
    if not edits:
        return True
    out, at = [], 0
    for start in sorted(edits):
        end, element = edits[start]
        out += [page[at:start], element]
        at = end
    out.append(page[at:])
    html.write_bytes("".join(out).encode("utf-8"))
    return True
