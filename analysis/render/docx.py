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
  row) that :func:`analysis.render.docx_layout.postprocess` gives the cells,
  and the character style "Table Text Small" (7.5 pt) of a table whose
  numbers fit on one line only at that size (filters/docx-tables.lua); the
  "Table" style's cell margins
  :data:`CELL_MARGIN_TWIPS` left and right;
* "Footnote Text" (footnotes and the tables' notes) at 8.5 pt; "toc 1" to
  "toc 3" for the table of contents of ``filters/docx-title.lua``;
* the page from ``papersize`` (letter: 8.5 x 11 in, a4: 210 x 297 mm) with the
  PDF's margins (1 in left and right, 0.9 in top, 1 in bottom).

A ``reference-doc`` the document or ``_quarto.yml`` names (Quarto's
``format: docx: reference-doc:``) is used as it is instead.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

from analysis.errors import PsmaRweError

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


def field_xml(instruction: str, result: str = "1", rpr: str = "") -> str:
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
    page, pages = field_xml("PAGE", rpr=rpr), field_xml("NUMPAGES", rpr=rpr)
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
