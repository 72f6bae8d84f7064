"""Word output after pandoc: the tables, captions and figures of a DOCX laid out for its page.

pandoc writes a table without a width, captions as plain text and images at
the size their files give.  :func:`postprocess` rewrites ``word/document.xml``
of a DOCX that pandoc (or Quarto) wrote with the project's reference document
(:mod:`analysis.render.docx`):

* tables fitted to the text width (:func:`fit_tables`), their cells in
  "Table Text" (:func:`style_table_text`), level rows indented
  (:func:`indent_stubs`);
* table and figure numbers as Word's SEQ fields (:func:`caption_fields`);
* a table that fits on a page kept on one, a longer one breaking between
  its row groups (:func:`keep_tables`);
* images sized as the PDF sizes them, never below a legible size for a
  chart's text (:func:`fit_figures`).
"""

from __future__ import annotations

import itertools
import re
import zipfile
from pathlib import Path

from analysis.render.docx import CELL_MARGIN_TWIPS, TABLE_LINE, field_xml

#: PNG copies of the SVG figures for Word (:func:`analysis.render.pipeline.svg_pngs`).
#: vl-convert makes width * scale * ppi / 72 pixels and records ``ppi``; scale
#: 0.75 keeps the SVG's CSS size (96 px per inch) in Word, and 192 ppi gives
#: twice the screen resolution.
PNG_SCALE = 0.75
PNG_PPI = 192.0
#: PNG pixels per pixel of the chart's SVG.
PNG_PX_PER_CHART_PX = PNG_SCALE * PNG_PPI / 72
#: Smallest size of a chart in Word, in points per pixel of its SVG: the charts'
#: smallest text, 10 px, prints at 5.5 pt or more.  Fitted to a share of the page
#: alone, it had printed at 4.3-6.3 pt (the landmark figure at 4.9 pt, the swimmer
#: plot of 200 patients at 4.3 pt).  The PDF keeps 0.65 (typst/typst-template.typ,
#: ``min-chart``): it floats a figure and fills the page with text.  Word cannot,
#: and a larger floor pushed figures whole onto the next page: at 0.58, two pages of
#: the 21-patient supplement were half empty (Figures S5 and S7 moved), at 0.65 six
#: of the 200-patient one; at 0.55 none and one (without a floor: none and two).
MIN_CHART_PT_PER_PX = 0.55

_TABLE = re.compile(r"<w:tbl>.*?</w:tbl>", re.DOTALL)
_GRID = re.compile(r"<w:tblGrid>(.*?)</w:tblGrid>", re.DOTALL)
_GRID_COL = re.compile(r'<w:gridCol w:w="(\d+)" />')


def _scale_grid(match: re.Match, width: int) -> str:
    cols = [int(w) for w in _GRID_COL.findall(match.group(1))]
    total = sum(cols)
    if not cols or total <= 0:
        return match.group(0)
    # largest remainder, so the columns add up to the text width exactly
    exact = [c * width / total for c in cols]
    sized = [int(e) for e in exact]
    order = sorted(range(len(cols)), key=lambda i: (sized[i] - exact[i], i))
    for i in order[: width - sum(sized)]:
        sized[i] += 1
    return "<w:tblGrid>" + "".join(f'<w:gridCol w:w="{w}" />' for w in sized) + "</w:tblGrid>"


def _fit_table(table: str, width_twips: int) -> str:
    pref = re.search(r'<w:tblW w:type="pct" w:w="(\d+)" />', table)
    share = min(1.0, int(pref.group(1)) / 5000) if pref else 1.0
    if share <= 0:
        share = 1.0
    return _GRID.sub(lambda m: _scale_grid(m, round(width_twips * share)), table)


def fit_tables(document: str, width_twips: int) -> str:
    """Table grids of a ``word/document.xml`` scaled to the text width.

    pandoc writes the column widths of a table (``w:gridCol``) for a text
    width of its own (5.5 in) whatever the reference document's page; Word
    and LibreOffice lay a fixed-layout table out on that grid.  Scaled here to
    the table's share of the page's text width (its ``w:tblW`` in fiftieths
    of a percent: filters/docx-tables.lua sets a table narrower than the page
    as wide as its content), the proportions kept.

    Parameters
    ----------
    document : str
        The XML text of ``word/document.xml``.
    width_twips : int
        The text width in twips.

    Returns
    -------
    str
        The XML text with every table grid adding up to its share of
        ``width_twips`` (all of it for a table without a percentage width).
    """
    return _TABLE.sub(lambda m: _fit_table(m.group(0), width_twips), document)


_CELL_MARGINS = (
    f'<w:tblCellMar><w:left w:w="{CELL_MARGIN_TWIPS}" w:type="dxa" />'
    f'<w:right w:w="{CELL_MARGIN_TWIPS}" w:type="dxa" /></w:tblCellMar>'
)


def _style_table(table: str) -> str:
    table = table.replace('<w:pStyle w:val="Compact" />', '<w:pStyle w:val="TableText" />')
    if "<w:tblCellMar>" in table.split("</w:tblPr>", 1)[0]:
        return table
    # the table's own cell margins (LibreOffice ignores the table style's);
    # in the schema's order, after w:tblLayout and before w:tblLook
    for anchor in ("<w:tblLook ", "<w:tblCaption ", "</w:tblPr>"):
        if anchor in table:
            return table.replace(anchor, _CELL_MARGINS + anchor, 1)
    return table


#: A level row's indent in the tables (great-tables writes it as non-breaking spaces
#: before the label): 1 em of the tables' 8.5 pt text, as the PDF pads it.
STUB_INDENT_TWIPS = 170
_PARAGRAPH = re.compile(r"<w:p>(<w:pPr>.*?</w:pPr>)(.*?)</w:p>", re.DOTALL)
_FIRST_TEXT = re.compile(r"(<w:t(?: [^>]*)?>)(\u00a0+)")


def _indent_stub(match: re.Match) -> str:
    ppr, runs = match.group(1), match.group(2)
    first = _FIRST_TEXT.search(runs)
    # only a paragraph whose first text starts with the spaces (not one inside the label)
    if first is None or "<w:t" in runs[: first.start()] or "<w:ind " in ppr:
        return match.group(0)
    runs = runs[: first.start(2)] + runs[first.end(2) :]
    indent = f'<w:ind w:left="{STUB_INDENT_TWIPS}" />'
    # in the schema's order: before w:jc, else last
    ppr = (
        ppr.replace("<w:jc ", indent + "<w:jc ", 1)
        if "<w:jc " in ppr
        else (ppr.replace("</w:pPr>", indent + "</w:pPr>"))
    )
    return f"<w:p>{ppr}{runs}</w:p>"


def indent_stubs(document: str) -> str:
    """Level rows of the tables indented by their paragraph, not by spaces.

    great-tables indents a level row ("White" under "Race") with non-breaking
    spaces, which Word keeps on the first line only: a label that wraps
    ("Black or African / American") lost its indent.  Here the spaces before a
    cell's text become a left indent of :data:`STUB_INDENT_TWIPS`, which
    every line of the cell keeps (as the PDF's stub padding).

    Parameters
    ----------
    document : str
        The XML text of ``word/document.xml``.

    Returns
    -------
    str
        The XML text; paragraphs outside tables are not changed.
    """
    return _TABLE.sub(lambda m: _PARAGRAPH.sub(_indent_stub, m.group(0)), document)


#: A caption paragraph's properties (pandoc's one w:pPr, or Quarto's two, its style
#: in either) and its first run, whose text starts "Table S1:" (pandoc: that alone;
#: Quarto: the whole caption, a non-breaking space after "Table").  Quarto styles
#: its table captions "Image Caption".
_CAPTION = re.compile(
    r"(<w:p>(?:<w:pPr>(?:(?!</w:pPr>).)*</w:pPr>\s*)+)"
    r"<w:r>(<w:rPr>(?:(?!</w:rPr>).)*</w:rPr>)?<w:t(?: [^>]*)?>"
    r"(Table|Figure)([ \u00a0][^<\d]*?)(\d+)([:.])([^<]*)</w:t></w:r>",
    re.DOTALL,
)
_CAPTION_STYLE = re.compile(r'<w:pStyle w:val="(?:TableCaption|ImageCaption)"\s*/>')


def caption_fields(document: str) -> str:
    """Caption numbers as Word's own: a SEQ field in each "Table S1:" / "Figure 2:".

    pandoc types the numbers of the captions (filters/crossref.lua's, or
    Quarto's), which Word cannot renumber or list ("Insert Table of
    Figures").  Here the number of a caption paragraph (styles "Table
    Caption", "Image Caption") that starts with "Table" or "Figure", a prefix
    and its number becomes a ``SEQ Table`` / ``SEQ Figure`` field whose
    result is that number, when the numbers of each kind run 1, 2, ... in the
    document's order (as they do); otherwise the captions are left as they are.

    Parameters
    ----------
    document : str
        The XML text of ``word/document.xml``.

    Returns
    -------
    str
        The XML text.
    """
    found = [m for m in _CAPTION.finditer(document) if _CAPTION_STYLE.search(m.group(1))]
    for label in ("Table", "Figure"):
        numbers = [int(m.group(5)) for m in found if m.group(3) == label]
        if numbers != list(range(1, len(numbers) + 1)):
            return document

    def field(m: re.Match) -> str:
        if not _CAPTION_STYLE.search(m.group(1)):
            return m.group(0)
        ppr, rpr = m.group(1), m.group(2) or ""
        label, prefix, number, end, rest = m.group(3, 4, 5, 6, 7)
        text = f"<w:r>{rpr}" + '<w:t xml:space="preserve">{}</w:t></w:r>'
        return (
            ppr
            + text.format(f"{label}{prefix}")
            + field_xml(f"SEQ {label} \\* ARABIC", number, rpr)
            + text.format(end + rest)
        )

    return _CAPTION.sub(field, document)


def style_table_text(document: str) -> str:
    """Table cells' paragraphs in the style "Table Text" instead of pandoc's "Compact",
    and the tables' cell margins :data:`CELL_MARGIN_TWIPS`.

    Parameters
    ----------
    document : str
        The XML text of ``word/document.xml``.

    Returns
    -------
    str
        The XML text; paragraphs outside tables keep their styles.
    """
    return _TABLE.sub(lambda m: _style_table(m.group(0)), document)


_DRAWING = re.compile(r"<w:drawing>.*?</w:drawing>", re.DOTALL)
_EXTENT = re.compile(r'<(wp:extent|a:ext) cx="(\d+)" cy="(\d+)" />')
#: Share of the text height a figure taller than the text height at its width
#: may take (the rest for its caption): the swimmer plot of a large cohort,
#: drawn for its rows.
FIGURE_HEIGHT_SHARE = 0.8
#: As the PDF (typst/typst-template.typ, ``article-tables``): a figure up to
#: :data:`FIGURE_SMALL_UP_TO` of the text height is set at most
#: :data:`FIGURE_SMALL_SHARE` of it, so that two share a page.
FIGURE_SMALL_UP_TO = 0.6
FIGURE_SMALL_SHARE = 0.42
#: Share of the text height a figure between :data:`FIGURE_SMALL_UP_TO` and
#: the text height may take.  The PDF floats such a figure (the text after it
#: fills the page); Word has none, so a figure that does not fit under what
#: precedes it moves whole to the next page and leaves the rest of this one
#: empty: at this share that is at most a little over half a page (at 0.68,
#: the laboratory panels of Figure S5, page 8 of the supplement was 38% full).
FIGURE_MEDIUM_SHARE = 0.55
_EMU_PER_PT = 12700


def fit_figures(
    document: str,
    height_pt: float,
    chart_px: dict[str, float] | None = None,
    width_pt: float | None = None,
) -> str:
    """Images scaled to heights that fill Word's pages as the PDF's.

    An image up to :data:`FIGURE_SMALL_UP_TO` of the text height is scaled
    down to :data:`FIGURE_SMALL_SHARE` of it, so that two figures and their
    captions share a page as in the PDF (at the PNG's own size each took most
    of a page, the rest of it left empty); one up to the text height to
    :data:`FIGURE_MEDIUM_SHARE` (Word cannot float it, see there); a taller
    one (the treatment course chart of a large cohort, which Word and
    LibreOffice would cut at the page's end) to :data:`FIGURE_HEIGHT_SHARE`.
    A chart whose width in pixels is in ``chart_px`` is not set smaller than
    :data:`MIN_CHART_PT_PER_PX` points per pixel (nor wider than the text, nor
    taller than :data:`FIGURE_HEIGHT_SHARE` of it), so that its text stays
    legible.  The aspect ratio is kept; no image is made larger than pandoc set it.

    Parameters
    ----------
    document : str
        The XML text of ``word/document.xml``.
    height_pt : float
        The text height in points.
    chart_px : dict, optional
        Width in pixels of the chart each image draws, by the image's
        relationship id (``r:embed``).
    width_pt : float, optional
        The text width in points (default: no limit beyond pandoc's).

    Returns
    -------
    str
        The XML text with every image within its share of the text height.
    """
    small = height_pt * FIGURE_SMALL_SHARE * _EMU_PER_PT
    medium = height_pt * FIGURE_MEDIUM_SHARE * _EMU_PER_PT
    tall = height_pt * FIGURE_HEIGHT_SHARE * _EMU_PER_PT

    def scale(drawing: re.Match) -> str:
        extent = re.search(r'<wp:extent cx="(\d+)" cy="(\d+)" />', drawing.group(0))
        if extent is None:
            return drawing.group(0)
        height = int(extent.group(2))
        if height <= height_pt * FIGURE_SMALL_UP_TO * _EMU_PER_PT:
            limit = small
        elif height <= height_pt * _EMU_PER_PT:
            limit = medium
        else:
            limit = tall
        factor = min(1.0, limit / height)
        embed = re.search(r'r:embed="([^"]+)"', drawing.group(0))
        px = (chart_px or {}).get(embed.group(1)) if embed else None
        if px:
            width = int(extent.group(1))
            floor = MIN_CHART_PT_PER_PX * px * _EMU_PER_PT / width
            if width_pt:
                floor = min(floor, width_pt * _EMU_PER_PT / width)
            factor = min(1.0, max(factor, min(floor, tall / height)))
        if factor >= 1.0:
            return drawing.group(0)
        return _EXTENT.sub(
            lambda m: (
                f'<{m.group(1)} cx="{round(int(m.group(2)) * factor)}" '
                f'cy="{round(int(m.group(3)) * factor)}" />'
            ),
            drawing.group(0),
        )

    return _DRAWING.sub(scale, document)


_ROW = re.compile(r"<w:tr>.*?</w:tr>", re.DOTALL)
_CELL = re.compile(r"<w:tc>.*?</w:tc>", re.DOTALL)
_TEXT = re.compile(r"<w:t(?: [^>]*)?>([^<]*)</w:t>")
#: A table estimated no taller than this share of the text height is kept on
#: one page (the gap it can leave at the foot of a page is at most that); a
#: taller one breaks between row groups, as the PDF's long tables.
KEEP_WHOLE_SHARE = 0.35
#: A row group longer than this breaks anywhere (the PDF's ``max-group``).
MAX_GROUP_ROWS = 25
#: Body rows a break leaves at least on either side (a table's last row alone
#: under its repeated header on the next page: Table S7 of a 200-patient
#: cohort).
MIN_ROWS_AT_BREAK = 3
#: The "Table Text" estimate of filters/docx-tables.lua: IBM Plex Serif 8.5 pt,
#: 0.59 em a character, 2 x :data:`CELL_MARGIN_TWIPS` of cell margins; a line
#: (1.44 em at :data:`TABLE_LINE`) with its spacing.
_CHAR_PT = 0.59 * 8.5
_CELL_PAD_PT = 2 * CELL_MARGIN_TWIPS / 20
_LINE_PT = 8.5 * 1.44 * TABLE_LINE / 240 + 1


def _cell_text(cell: str) -> str:
    import html

    return html.unescape("".join(_TEXT.findall(cell)))


def _row_height_pt(row: str, columns: list[float]) -> float:
    """Estimated height of a table row: its cell with the most lines."""
    lines, col = 1, 0
    for cell in _CELL.findall(row):
        span = re.search(r'<w:gridSpan w:val="(\d+)"', cell)
        span = int(span.group(1)) if span else 1
        width = sum(columns[col : col + span]) - _CELL_PAD_PT
        col += span
        for paragraph in re.findall(r"<w:p>.*?</w:p>", cell, re.DOTALL) or [""]:
            text = _cell_text(paragraph)
            if width > 0 and text:
                lines = max(lines, -(-round(len(text) * _CHAR_PT) // max(1, round(width))))
    return lines * _LINE_PT


def _set_keep_next(row: str, keep: bool) -> str:
    """``row`` with its paragraphs' keep-with-next stated (the style keeps;
    ``w:val="0"`` lets the page break after the row)."""
    row = row.replace('<w:keepNext w:val="0" />', "")
    if keep:
        return row
    return row.replace(
        '<w:pStyle w:val="TableText" />',
        '<w:pStyle w:val="TableText" /><w:keepNext w:val="0" />',
    )


def _no_split(row: str) -> str:
    """``row`` marked not to break across pages (``w:cantSplit``)."""
    if "<w:cantSplit" in row:
        return row
    if "<w:trPr>" in row[:40]:
        return row.replace("<w:trPr>", "<w:trPr><w:cantSplit />", 1)
    return row.replace("<w:tr>", "<w:tr><w:trPr><w:cantSplit /></w:trPr>", 1)


def _keep_table(table: str, height_pt: float) -> str:
    columns = [int(w) / 20 for w in _GRID_COL.findall(_GRID.search(table).group(1))]
    rows = list(_ROW.finditer(table))
    if not rows:
        return table
    estimate = sum(_row_height_pt(r.group(0), columns) for r in rows)
    body = [i for i, r in enumerate(rows) if "<w:tblHeader" not in r.group(0)]

    # a row whose stub starts with a non-breaking space (great-tables' indented
    # level rows) belongs to the group of the row above it
    def indented(row: str) -> bool:
        first = _CELL.search(row)
        return first is not None and _cell_text(first.group(0)).startswith("\xa0")

    starts = [i for i in body if i == body[0] or not indented(rows[i].group(0))]
    breaks: set[int] = set()
    if estimate > KEEP_WHOLE_SHARE * height_pt:
        bounds = [*starts, len(rows)]
        for start, end in itertools.pairwise(bounds):
            if end - start > MAX_GROUP_ROWS:
                breaks.update(range(start, end - 1))
            if end < len(rows):
                breaks.add(end - 1)
        # no break that leaves fewer than MIN_ROWS_AT_BREAK body rows before or after it
        breaks = {
            b
            for b in breaks
            if sum(1 for i in body if i <= b) >= MIN_ROWS_AT_BREAK
            and sum(1 for i in body if i > b) >= MIN_ROWS_AT_BREAK
        }
    out, last = [], 0
    for i, r in enumerate(rows):
        out.append(table[last : r.start()])
        out.append(_no_split(_set_keep_next(r.group(0), i not in breaks)))
        last = r.end()
    out.append(table[last:])
    return "".join(out)


def keep_tables(document: str, height_pt: float) -> str:
    """Where the tables of a ``word/document.xml`` may break across pages.

    The cells' style "Table Text" keeps every row with the next, so Word and
    LibreOffice move a whole table to the next page when it does not fit
    where it stands.  The PDF floats such a table, the text filling the page
    before it; Word has no such float.  Here a table estimated taller than
    :data:`KEEP_WHOLE_SHARE` of the text height (Table S1 took all of page 4,
    leaving half of page 3 empty) may break after the last row of a row group
    (a label row and the indented level rows under it), its header rows
    repeated; a shorter one stays whole.  A break leaves at least
    :data:`MIN_ROWS_AT_BREAK` body rows on either side.  No row breaks inside
    itself.

    Parameters
    ----------
    document : str
        The XML text of ``word/document.xml``, its grids fitted to the page.
    height_pt : float
        The text height in points.

    Returns
    -------
    str
        The XML text.
    """
    return _TABLE.sub(lambda m: _keep_table(m.group(0), height_pt), document)


def postprocess(path: Path, width_pt: float, height_pt: float) -> None:
    """Rewrite the ``.docx`` at ``path`` for its page of ``width_pt`` x ``height_pt``.

    Tables fitted to the width (:func:`fit_tables`), their cells in "Table
    Text" (:func:`style_table_text`) and level rows indented
    (:func:`indent_stubs`), caption numbers as SEQ fields (:func:`caption_fields`),
    long ones breaking between row groups
    (:func:`keep_tables`), images sized as the PDF's (:func:`fit_figures`).
    The members keep their order, timestamps and compression, so the file
    stays byte-identical for identical inputs.
    """
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info.filename)) for info in z.infolist()]
    charts = _chart_widths({info.filename: data for info, data in members})
    with zipfile.ZipFile(path, "w") as out:
        for info, data in members:
            if info.filename == "word/document.xml":
                text = fit_tables(data.decode("utf-8"), round(width_pt * 20))
                text = keep_tables(indent_stubs(style_table_text(text)), height_pt)
                text = fit_figures(caption_fields(text), height_pt, charts, width_pt)
                data = text.encode("utf-8")
            out.writestr(info, data)


_REL = re.compile(r"<Relationship\b[^>]*>")


def _chart_widths(members: dict[str, bytes]) -> dict[str, float]:
    """Width in chart pixels of each PNG image of the document, by relationship id
    (the PNG's width over :data:`PNG_PX_PER_CHART_PX`; the charts' PNGs are the
    only PNGs the documents hold)."""
    rels = members.get("word/_rels/document.xml.rels", b"").decode("utf-8", "replace")
    out: dict[str, float] = {}
    for rel in _REL.findall(rels):
        rid = re.search(r'\bId="([^"]+)"', rel)
        target = re.search(r'\bTarget="([^"]+)"', rel)
        if not (rid and target) or not target.group(1).lower().endswith(".png"):
            continue
        data = members.get("word/" + target.group(1).lstrip("/"), b"")
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            out[rid.group(1)] = int.from_bytes(data[16:20], "big") / PNG_PX_PER_CHART_PX
    return out
