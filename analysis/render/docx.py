"""Word output: the reference document and the page it gives the tables.

pandoc takes the styles and the page (size and margins: the last ``w:sectPr``
of ``word/document.xml``) of a DOCX file from ``--reference-doc``.  The
project's reference document is made here, per render, from pandoc's own
default (``pandoc --print-default-data-file reference.docx``) with these
edits, so that it follows pandoc's version and stays byte-identical between
builds (fixed zip timestamps, a fixed member order):

* body text IBM Plex Serif at the document's ``fontsize`` (default 10.5 pt, as
  the PDF), 6 pt after a paragraph; title and headings in Lato, aligned and
  coloured as the PDF's (:data:`_LOOK`);
* one typographic system with the body, as the PDF's: the captions
  ("Caption", and pandoc's "Table Caption" and "Image Caption" based on it)
  in IBM Plex Serif 9 pt, tables' text in the paragraph style "Table Text"
  (IBM Plex Serif 8.5 pt at 0.9 of single line spacing, kept with the next
  row) that :func:`postprocess` gives the cells, and the character style
  "Table Text Small" (7.5 pt) of a table whose numbers fit on one line only
  at that size (filters/docx-tables.lua); the "Table" style's cell margins
  :data:`CELL_MARGIN_TWIPS` left and right;
* "Footnote Text" (footnotes and the tables' notes) at 8.5 pt; "toc 1" to
  "toc 3" for the table of contents of ``filters/docx-title.lua``;
* the page from ``papersize`` (letter: 8.5 x 11 in, a4: 210 x 297 mm) with the
  PDF's margins (1 in left and right, 0.9 in top, 1 in bottom).

A ``reference-doc`` the document or ``_quarto.yml`` names (Quarto's
``format: docx: reference-doc:``) is used as it is instead.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import zipfile
from pathlib import Path

from analysis.errors import PsmaRweError

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

#: Page sizes in twentieths of a point (twips): (width, height).
PAGE_TWIPS = {"letter": (12240, 15840), "us-letter": (12240, 15840), "a4": (11906, 16838)}
#: The PDF article's margins (typst/typst-template.typ), twips.
MARGINS_TWIPS = {"left": 1440, "right": 1440, "top": 1296, "bottom": 1440}
SERIF = "IBM Plex Serif"
SANS = "Lato"
#: The PDF's default body size (typst-template.typ, article()), so that pages correspond.
DEFAULT_FONTSIZE_PT = 10.5
#: Line spacing of "Table Text", in 240ths of single spacing: IBM Plex Serif's
#: single line is 1.44 em (its ascender and descender), 0.9 of it the PDF's
#: table rows (1.3 em).
TABLE_LINE = 216
#: Left and right cell margins of the "Table" style, twips (pandoc's 108, 0.075
#: in, left 7 columns of numbers in IBM Plex Serif too narrow for one line).
CELL_MARGIN_TWIPS = 72
#: Zip timestamp of every member (the earliest a zip can hold).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

#: Styles added or replaced (``{serif}`` is the body font, ``{sans}`` the headings').
_NEW_STYLES = {
    "Caption": """<w:style w:type="paragraph" w:styleId="Caption">
    <w:name w:val="caption" /><w:basedOn w:val="Normal" /><w:qFormat />
    <w:pPr><w:spacing w:before="60" w:after="160" w:line="240" w:lineRule="auto" /></w:pPr>
    <w:rPr>{serif}<w:color w:val="3C3C3C" /><w:sz w:val="18" /><w:szCs w:val="18" /></w:rPr>
  </w:style>""",
    "TableText": """<w:style w:type="paragraph" w:customStyle="1" w:styleId="TableText">
    <w:name w:val="Table Text" /><w:basedOn w:val="Normal" /><w:qFormat />
    <w:pPr><w:keepNext />
    <w:spacing w:before="10" w:after="10" w:line="{table_line}" w:lineRule="auto" /></w:pPr>
    <w:rPr>{serif}<w:sz w:val="17" /><w:szCs w:val="17" /></w:rPr>
  </w:style>""",
    "TableTextSmall": """<w:style w:type="character" w:customStyle="1" w:styleId="TableTextSmall">
    <w:name w:val="Table Text Small" /><w:qFormat />
    <w:rPr><w:sz w:val="15" /><w:szCs w:val="15" /></w:rPr>
  </w:style>""",
    "FootnoteText": """<w:style w:type="paragraph" w:styleId="FootnoteText">
    <w:name w:val="Footnote Text" /><w:basedOn w:val="Normal" /><w:next w:val="FootnoteText" />
    <w:uiPriority w:val="9" /><w:unhideWhenUsed /><w:qFormat />
    <w:pPr><w:spacing w:before="20" w:after="60" w:line="240" w:lineRule="auto" /></w:pPr>
    <w:rPr><w:color w:val="3C3C3C" /><w:sz w:val="17" /><w:szCs w:val="17" /></w:rPr>
  </w:style>""",
    "TOC1": """<w:style w:type="paragraph" w:styleId="TOC1">
    <w:name w:val="toc 1" /><w:basedOn w:val="Normal" /><w:next w:val="Normal" />
    <w:uiPriority w:val="39" /><w:unhideWhenUsed />
    <w:pPr><w:spacing w:before="60" w:after="40" /></w:pPr>
  </w:style>""",
    "TOC2": """<w:style w:type="paragraph" w:styleId="TOC2">
    <w:name w:val="toc 2" /><w:basedOn w:val="Normal" /><w:next w:val="Normal" />
    <w:uiPriority w:val="39" /><w:unhideWhenUsed />
    <w:pPr><w:spacing w:before="0" w:after="40" /><w:ind w:left="240" /></w:pPr>
  </w:style>""",
    "TOC3": """<w:style w:type="paragraph" w:styleId="TOC3">
    <w:name w:val="toc 3" /><w:basedOn w:val="Normal" /><w:next w:val="Normal" />
    <w:uiPriority w:val="39" /><w:unhideWhenUsed />
    <w:pPr><w:spacing w:before="0" w:after="40" /><w:ind w:left="480" /></w:pPr>
  </w:style>""",
}
#: Font sizes (half-points) of pandoc's styles: the PDF's proportions.
_SIZES = {"Title": 34, "Subtitle": 26, "Author": 22, "Heading1": 28, "Heading2": 24, "Heading3": 22}
#: Paragraph spacing (twips) of pandoc's styles: the PDF's, not pandoc's 9 pt before and after.
_SPACING = {"BodyText": (0, 120)}
#: The PDF's title block and headings (typst/typst-template.typ, ``accent``):
#: (alignment, bold, colour) of pandoc's styles; None keeps pandoc's.  The title
#: left-aligned, bold, in the accent (pandoc's is centred, regular, black), the
#: author lines (based on the title) regular in ink, the headings in the accent
#: darkened 10% and bold (Typst's headings).
_LOOK = {
    "Title": ("left", True, "1F4E79"),
    "Subtitle": (None, False, "3C3C3C"),
    "Author": (None, False, "222222"),
    "Heading1": (None, True, "1C466D"),
    "Heading2": (None, True, "1C466D"),
    "Heading3": (None, True, "1C466D"),
}
_RFONTS = re.compile(r"<w:rFonts\b[^>]*?(major|minor)HAnsi[^>]*/>", re.DOTALL)
_SECTPR = re.compile(r"<w:sectPr\b.*?</w:sectPr>", re.DOTALL)


def _rfonts(family: str) -> str:
    return (
        f'<w:rFonts w:ascii="{family}" w:hAnsi="{family}" w:eastAsia="{family}" w:cs="{family}" />'
    )


def _edit_style(styles: str, style_id: str, edit) -> str:
    """``styles`` with the ``w:style`` of ``style_id`` replaced by ``edit(style)``
    (appended when pandoc's styles have none: ``edit("")``)."""
    m = re.search(rf'<w:style\b[^>]*w:styleId="{style_id}".*?</w:style>', styles, re.DOTALL)
    if m is None:
        return styles.replace("</w:styles>", f"  {edit('')}\n</w:styles>")
    return styles[: m.start()] + edit(m.group(0)) + styles[m.end() :]


def _set_size(style: str, half_points: int) -> str:
    style = re.sub(r'<w:sz w:val="\d+" />', f'<w:sz w:val="{half_points}" />', style)
    style = re.sub(r'<w:szCs w:val="\d+" />', f'<w:szCs w:val="{half_points}" />', style)
    if "<w:sz " not in style and style.endswith("</w:style>"):
        size = f'<w:sz w:val="{half_points}" /><w:szCs w:val="{half_points}" />'
        if "<w:rPr>" in style:
            style = style.replace("<w:rPr>", "<w:rPr>" + size, 1)
        else:
            style = style.replace("</w:style>", f"<w:rPr>{size}</w:rPr></w:style>")
    return style


def _set_look(style: str, align: str | None, bold: bool | None, color: str | None) -> str:
    """``style`` with its paragraph alignment, bold and colour set (in the
    schema's order: ``w:b`` after ``w:rFonts``, ``w:color`` before ``w:spacing``
    and ``w:sz``)."""
    if not style:
        return style
    if align is not None:
        if "<w:jc " in style:
            style = re.sub(r'<w:jc w:val="\w+" />', f'<w:jc w:val="{align}" />', style)
        elif "</w:pPr>" in style:
            style = style.replace("</w:pPr>", f'<w:jc w:val="{align}" /></w:pPr>', 1)
    if "<w:rPr>" not in style:
        style = style.replace("</w:style>", "<w:rPr></w:rPr></w:style>")
    start = style.index("<w:rPr>")
    head, rpr = style[:start], style[start:]
    if bold is not None:
        rpr = re.sub(r"<w:b(?: w:val=\"\w+\")? />", "", rpr)
        b = "<w:b />" if bold else '<w:b w:val="0" />'
        fonts = re.search(r"<w:rFonts\b[^>]*/>", rpr)
        at = fonts.end() if fonts else len("<w:rPr>")
        rpr = rpr[:at] + b + rpr[at:]
    if color is not None:
        rpr = re.sub(r"<w:color\b[^>]*/>", "", rpr)
        after = re.search(r"<w:(?:spacing|w|kern|position|sz|szCs)\b", rpr)
        at = after.start() if after else rpr.index("</w:rPr>")
        rpr = rpr[:at] + f'<w:color w:val="{color}" />' + rpr[at:]
    return head + rpr


def edit_styles(styles: str, fontsize_pt: float = DEFAULT_FONTSIZE_PT) -> str:
    """pandoc's ``word/styles.xml`` with the project's fonts, sizes and styles.

    Parameters
    ----------
    styles : str
        The XML text of pandoc's default ``styles.xml``.
    fontsize_pt : float
        Body text size in points (rounded to Word's half points).

    Returns
    -------
    str
        The edited XML text.
    """
    styles = _RFONTS.sub(
        lambda m: _rfonts(SANS if m.group(1) == "major" else SERIF),
        styles,
    )
    start, end = styles.index("<w:rPrDefault>"), styles.index("</w:rPrDefault>")
    styles = styles[:start] + _set_size(styles[start:end], round(fontsize_pt * 2)) + styles[end:]
    # every heading in the sans (pandoc's from Heading 3 on name no HAnsi theme font,
    # so they were set in the body's serif; the PDF's headings are all sans)
    for level in range(1, 10):
        if f'w:styleId="Heading{level}"' in styles:
            styles = _edit_style(
                styles,
                f"Heading{level}",
                lambda style: re.sub(r"<w:rFonts\b[^>]*/>", _rfonts(SANS), style),
            )
    for style_id, size in _SIZES.items():
        styles = _edit_style(styles, style_id, lambda style, size=size: _set_size(style, size))
    for style_id, look in _LOOK.items():
        styles = _edit_style(styles, style_id, lambda style, look=look: _set_look(style, *look))
    for style_id, (before, after) in _SPACING.items():
        spacing = f'<w:spacing w:before="{before}" w:after="{after}" />'
        styles = _edit_style(
            styles, style_id, lambda style, sp=spacing: re.sub(r"<w:spacing [^>]*/>", sp, style)
        )
    styles = _edit_style(
        styles,
        "Table",
        lambda style: re.sub(
            r'<w:(left|right) w:type="dxa" w:w="\d+" />',
            lambda m: f'<w:{m.group(1)} w:type="dxa" w:w="{CELL_MARGIN_TWIPS}" />',
            style,
        ),
    )
    for style_id, xml in _NEW_STYLES.items():
        xml = xml.format(sans=_rfonts(SANS), serif=_rfonts(SERIF), table_line=TABLE_LINE)
        styles = _edit_style(styles, style_id, lambda _style, xml=xml: xml)
    return styles


def section_properties(paper: str) -> str:
    """The ``w:sectPr`` of a page of ``paper`` (``letter`` or ``a4``) with the project's margins."""
    width, height = PAGE_TWIPS[paper]
    m = MARGINS_TWIPS
    return (
        "<w:sectPr>"
        f'<w:footerReference w:type="default" r:id="{FOOTER_RID}" />'
        '<w:footnotePr><w:numRestart w:val="eachSect" /></w:footnotePr>'
        f'<w:pgSz w:w="{width}" w:h="{height}" />'
        f'<w:pgMar w:top="{m["top"]}" w:right="{m["right"]}" w:bottom="{m["bottom"]}" '
        f'w:left="{m["left"]}" w:header="720" w:footer="720" w:gutter="0" />'
        "</w:sectPr>"
    )


#: The footer's relationship id in the reference document (pandoc keeps the reference's
#: footers, with their relationships, in the documents it writes).
FOOTER_RID = "rIdPsmaFooter"
_FOOTER_PART = "word/footer1.xml"
_FOOTER_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"
_FOOTER_CONTENT = "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"


def _field(instruction: str, result: str = "1", rpr: str = "") -> str:
    """A Word field: its instruction, and its result as Word shows it until the
    fields are updated (on opening, printing or F9), every run in ``rpr``."""
    run = f"<w:r>{rpr}" + "{}</w:r>"
    return (
        run.format('<w:fldChar w:fldCharType="begin" />')
        + run.format(f'<w:instrText xml:space="preserve"> {instruction} </w:instrText>')
        + run.format('<w:fldChar w:fldCharType="separate" />')
        + run.format(f"<w:t>{result}</w:t>")
        + run.format('<w:fldChar w:fldCharType="end" />')
    )


def footer_xml(fontsize_pt: float = DEFAULT_FONTSIZE_PT) -> str:
    """The pages' footer: "page / pages", centred, small and grey, as the PDF's."""
    size = round(fontsize_pt * 0.85 * 2)
    rpr = f'<w:rPr><w:color w:val="5A5A5A" /><w:sz w:val="{size}" /></w:rPr>'
    page, pages = _field("PAGE", rpr=rpr), _field("NUMPAGES", rpr=rpr)
    slash = f'<w:r>{rpr}<w:t xml:space="preserve"> / </w:t></w:r>'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:ftr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<w:p><w:pPr><w:pStyle w:val="Footer" /><w:jc w:val="center" /></w:pPr>'
        f"{page}{slash}{pages}</w:p></w:ftr>"
    )


def default_reference(pandoc: str) -> bytes:
    """pandoc's default ``reference.docx``, as bytes."""
    proc = subprocess.run(
        [pandoc, "--print-default-data-file", "reference.docx"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise PsmaRweError(f"pandoc could not print its default reference.docx: {detail}")
    return proc.stdout


def write_reference(
    dest: Path, pandoc: str, paper: str = "letter", fontsize_pt: float = DEFAULT_FONTSIZE_PT
) -> Path:
    """Write the project's reference document for ``paper`` to ``dest``.

    Parameters
    ----------
    dest : Path
        The ``.docx`` file to write.
    pandoc : str
        The pandoc binary whose default reference document is edited.
    paper : str
        ``letter`` or ``a4`` (see :data:`PAGE_TWIPS`).
    fontsize_pt : float
        Body text size in points.

    Returns
    -------
    Path
        ``dest``; the same inputs give the same bytes.
    """
    import io

    if paper not in PAGE_TWIPS:
        raise PsmaRweError(f"papersize: '{paper}' is not one of letter, a4")
    source = zipfile.ZipFile(io.BytesIO(default_reference(pandoc)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/styles.xml":
                data = edit_styles(data.decode("utf-8"), fontsize_pt).encode("utf-8")
            elif info.filename == "word/document.xml":
                text = data.decode("utf-8")
                sections = list(_SECTPR.finditer(text))
                if not sections:
                    raise PsmaRweError("pandoc's reference.docx has no w:sectPr to edit")
                last = sections[-1]
                text = text[: last.start()] + section_properties(paper) + text[last.end() :]
                data = text.encode("utf-8")
            elif info.filename == "word/_rels/document.xml.rels":
                rel = (
                    f'<Relationship Type="{_FOOTER_TYPE}" Id="{FOOTER_RID}" Target="footer1.xml" />'
                )
                data = data.decode("utf-8").replace("</Relationships>", rel + "</Relationships>")
                data = data.encode("utf-8")
            elif info.filename == "[Content_Types].xml":
                part = f'<Override PartName="/{_FOOTER_PART}" ContentType="{_FOOTER_CONTENT}" />'
                data = data.decode("utf-8").replace("</Types>", part + "</Types>").encode("utf-8")
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            out.writestr(member, data)
        member = zipfile.ZipInfo(_FOOTER_PART, date_time=ZIP_DATE)
        member.compress_type = zipfile.ZIP_DEFLATED
        member.external_attr = 0o644 << 16
        out.writestr(member, footer_xml(fontsize_pt).encode("utf-8"))
    return dest


def text_area_pt(reference: Path) -> tuple[float, float]:
    """Width and height between the margins of the last section of a ``.docx``, in points.

    Parameters
    ----------
    reference : Path
        A reference document (the project's or the user's).

    Returns
    -------
    tuple of float
        Page width minus left and right margins, page height minus top and
        bottom margins; Word's default letter page with 1 in margins (6.5 x
        9 in) for what the document does not state.
    """
    try:
        with zipfile.ZipFile(reference) as z:
            text = z.read("word/document.xml").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise PsmaRweError(f"reference-doc '{reference}' is not a readable .docx: {exc}") from None
    sections = _SECTPR.findall(text)
    section = sections[-1] if sections else ""

    def twips(tag: str, attr: str, default: int) -> int:
        m = re.search(rf'<w:{tag}\b[^>]*\bw:{attr}="(\d+)"', section)
        return int(m.group(1)) if m else default

    width = twips("pgSz", "w", 12240) - twips("pgMar", "left", 1440) - twips("pgMar", "right", 1440)
    height = (
        twips("pgSz", "h", 15840) - twips("pgMar", "top", 1440) - twips("pgMar", "bottom", 1440)
    )
    return width / 20, height / 20


def fontsize_pt(meta: dict) -> float:
    """Body text size of the Word output: ``fontsize`` (``"11pt"``), as the PDF's, or 10.5 pt."""
    value = str(meta.get("fontsize") or f"{DEFAULT_FONTSIZE_PT:g}pt").strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)pt", value)
    if not m:
        raise PsmaRweError(f"fontsize: '{value}' is not a size in points like 11pt")
    return float(m.group(1))


def reference_doc(meta: dict, work: Path, search: list[Path], pandoc: str) -> Path:
    """The reference document of a Word render.

    Parameters
    ----------
    meta : dict
        The docx metadata (placeholders resolved): ``reference-doc``,
        ``papersize``, ``fontsize``.
    work : Path
        The render's work folder, where the project's reference is written.
    search : list of Path
        Folders a relative ``reference-doc`` is looked up in, in order.
    pandoc : str
        The pandoc binary.

    Returns
    -------
    Path
        The user's ``reference-doc`` when one is named, else the project's
        for the paper and font size.
    """
    given = meta.get("reference-doc")
    if given:
        path = Path(str(given))
        for folder in [] if path.is_absolute() else search:
            if (folder / path).is_file():
                return (folder / path).resolve()
        if path.is_absolute() and path.is_file():
            return path
        raise PsmaRweError(f"reference-doc: '{given}' not found")
    paper = str(meta.get("papersize") or "letter").strip().lower()
    if paper not in PAGE_TWIPS:
        raise PsmaRweError(f"papersize: '{paper}' is not one of letter, a4")
    size = fontsize_pt(meta)
    return write_reference(work / f"reference-{paper}-{size:g}pt.docx", pandoc, paper, size)


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
            + _field(f"SEQ {label} \\* ARABIC", number, rpr)
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
