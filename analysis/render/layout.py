"""Page layout settings read from metadata and handed to the Typst templates.

The templates document the metadata keys; this module validates them.  The
Typst partials (typst/typst-show.typ, typst-template.typ) read the same keys
and parse them themselves, so that ``quarto render`` lays the pages out as the
embedded renderer does; what this module computes (poster geometry, say) is
for Python's own use (chart sizes, tests).
"""

from __future__ import annotations

import re
from typing import Any

from analysis.errors import PsmaRweError

#: Named poster sizes: (width, height) as Typst lengths.
POSTER_SIZES: dict[str, tuple[str, str]] = {
    "48x36in": ("48in", "36in"),
    "36x48in": ("36in", "48in"),
    "a0": ("841mm", "1189mm"),
    "a0-landscape": ("1189mm", "841mm"),
    "a1": ("594mm", "841mm"),
    "a1-landscape": ("841mm", "594mm"),
}
DEFAULT_POSTER_SIZE = "48x36in"
_CUSTOM_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[x×]\s*(\d+(?:\.\d+)?)\s*(in|cm|mm|pt)\s*$")
PAPER_SIZES = {"letter": "us-letter", "us-letter": "us-letter", "a4": "a4"}
DEFAULT_ACCENT = "#1f4e79"
TEMPLATES = ("article", "poster")
TABLE_NOTES = ("all", "footnotes", "none")
_TO_PT = {"in": 72.0, "cm": 72 / 2.54, "mm": 72 / 25.4, "pt": 1.0}


def template_name(meta: dict) -> str:
    """``article`` (default) or ``poster``, from ``format-template``."""
    name = str(meta.get("format-template") or "article").strip().lower()
    if name not in TEMPLATES:
        raise PsmaRweError(f"format-template: '{name}' is not one of {', '.join(TEMPLATES)}")
    return name


def poster_size(value: Any) -> tuple[str, str]:
    """``(width, height)`` Typst lengths for a ``poster-size`` value."""
    key = str(value or DEFAULT_POSTER_SIZE).strip().lower().replace(" ", "")
    if key in POSTER_SIZES:
        return POSTER_SIZES[key]
    m = _CUSTOM_SIZE.match(key)
    if m:
        return f"{m.group(1)}{m.group(3)}", f"{m.group(2)}{m.group(3)}"
    raise PsmaRweError(
        f"poster-size: '{value}' is not one of {', '.join(POSTER_SIZES)} "
        "nor WIDTHxHEIGHT with a unit (in, cm, mm, pt), e.g. 40x30in"
    )


def length_pt(length: str) -> float:
    """Points in a Typst length such as ``48in`` or ``841mm``."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(in|cm|mm|pt)", length)
    if not m:
        raise ValueError(length)
    return float(m.group(1)) * _TO_PT[m.group(2)]


def accent_color(value: Any) -> str:
    """A ``#rrggbb`` colour (``rrggbb`` and ``#rgb`` accepted)."""
    text = str(value or DEFAULT_ACCENT).strip()
    if not text.startswith("#"):
        text = "#" + text
    if not re.fullmatch(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})", text):
        raise PsmaRweError(f"accent-color: '{value}' is not a colour like \"#1f4e79\"")
    return text.lower()


def toc_depth(meta: dict) -> int:
    """``toc-depth`` (default 3), a whole number from 1 to 6."""
    depth = meta.get("toc-depth", 3)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 6:
        raise PsmaRweError(f"toc-depth: '{depth}' is not a whole number from 1 to 6")
    return depth


def poster_layout(meta: dict) -> tuple[str, str, int]:
    """``(width, height, columns)`` of the poster: ``poster-size`` and ``poster-columns``
    (default 4 on landscape pages, 3 on portrait ones)."""
    width, height = poster_size(meta.get("poster-size"))
    portrait = length_pt(height) > length_pt(width)
    columns = meta.get("poster-columns", 3 if portrait else 4)
    if isinstance(columns, bool) or not isinstance(columns, int) or not 1 <= columns <= 8:
        raise PsmaRweError(f"poster-columns: '{columns}' is not a whole number from 1 to 8")
    return width, height, columns


def table_notes(meta: dict) -> str:
    """``table-notes``: which great-tables notes (the rows under a table) to keep.

    ``all`` (footnotes and source notes; the default, except on the poster),
    ``footnotes`` (footnotes only, the poster's default: source notes are
    long small print that a poster's methods section states anyway) or ``none``.
    """
    default = "footnotes" if template_name(meta) == "poster" else "all"
    value = str(meta.get("table-notes") or default).strip().lower()
    if value not in TABLE_NOTES:
        raise PsmaRweError(f"table-notes: '{value}' is not one of {', '.join(TABLE_NOTES)}")
    return value


def check_typst_metadata(meta: dict) -> None:
    """Check the metadata typst/typst-show.typ hands to ``psma-document()``.

    The Typst partials parse these values themselves (so that ``quarto
    render`` needs nothing from here); the embedded renderer checks them
    first, for a one-line message instead of a Typst panic.
    """
    template = template_name(meta)
    accent_color(meta.get("accent-color"))
    if template == "poster":
        poster_layout(meta)
        return
    paper = str(meta.get("papersize") or "letter").strip().lower()
    if paper not in PAPER_SIZES:
        raise PsmaRweError(f"papersize: '{paper}' is not one of letter, a4")
    fontsize = str(meta.get("fontsize") or "10.5pt").strip()
    if not re.fullmatch(r"\d+(?:\.\d+)?pt", fontsize):
        raise PsmaRweError(f"fontsize: '{fontsize}' is not a size in points like 11pt")


#: Share of the page height a poster figure may take (``max-figure`` in typst/typst-template.typ).
POSTER_FIGURE_MAX_HEIGHT = 0.3


def poster_geometry(meta: dict) -> dict[str, float]:
    """The poster's page and column sizes in points, as ``poster()`` in typst/typst-template.typ
    computes them: ``width``, ``height``, ``columns``, ``column_width`` and
    ``figure_max_height`` (the height cap of a figure)."""
    width, height, columns = poster_layout(meta)
    w, h = length_pt(width), length_pt(height)
    s = min(w, h) / (36 * 72)
    margin_x, gutter = 1.1 * 72 * s, 0.9 * 72 * s
    return {
        "width": w,
        "height": h,
        "columns": columns,
        "column_width": (w - 2 * margin_x - (columns - 1) * gutter) / columns,
        "figure_max_height": POSTER_FIGURE_MAX_HEIGHT * h,
    }


def poster_page_style(meta: dict) -> str:
    """The HTML poster page's inline style: its size and type scale, as the PDF's
    (``width: 48in; height: 36in; --poster-scale: 1``; css/report.css)."""
    g = poster_geometry(meta)
    scale = min(g["width"], g["height"]) / (36 * 72)
    return f"width: {g['width']:.1f}pt; height: {g['height']:.1f}pt; --poster-scale: {scale:.4f}"
