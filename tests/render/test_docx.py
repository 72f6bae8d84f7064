"""Word output of the embedded renderer: page, styles, tables, title block, TOC.

Renders the fixture project's article to DOCX only and reads the package's XML
(``word/document.xml``, ``word/styles.xml``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.dom import minidom

import pytest
from render_project import build_project

from analysis.errors import PsmaRweError
from analysis.render import docx, docx_layout, render_document
from analysis.render.pipeline import pandoc_path

pytestmark = pytest.mark.slow

#: A table wider than the page: a stub of long words and eight value columns.
WIDE_TABLE = (
    "| Characteristic | Dose 1 | Dose 2 | Dose 3 | Dose 4 | Dose 5 | Dose 6 | All doses |\n"
    "|:--|--:|--:|--:|--:|--:|--:|--:|\n"
    + "".join(
        f"| {stub} | 11.8 (11.4, 12.3) | 11.5 (10.7, 12.3) | 11.9 (11.6, 12.3) "
        "| 11.0 (10.1, 11.9) | 10.8 (10.0, 11.5) | 10.5 (9.9, 11.0) | 11.3 (10.5, 12.1) |\n"
        for stub in ("Hemoglobin, g/dL", "Thrombocytopenia", "Unknown", "Creatinine, mg/dL")
    )
    + "\n: Laboratory values {#tbl-wide}\n"
)
#: The tables' text: IBM Plex Serif 8.5 pt (the body's family), between cell
#: margins of 2 x docx.CELL_MARGIN_TWIPS.
TABLE_PT = 8.5
PAD_PT = 2 * docx.CELL_MARGIN_TWIPS / 20


def advance_em(text: str, bold: bool = False) -> float:
    """Width of ``text`` in IBM Plex Serif (regular or bold), in em (fontTools)."""
    import fontpkg_ibm_plex_serif
    from fontTools.ttLib import TTFont

    name = "IBMPlexSerif-Bold.ttf" if bold else "IBMPlexSerif-Regular.ttf"
    font = TTFont(Path(fontpkg_ibm_plex_serif.__file__).parent / "files" / name)
    cmap, metrics = font.getBestCmap(), font["hmtx"]
    upm = font["head"].unitsPerEm
    return sum(metrics[cmap[ord(c)]][0] if ord(c) in cmap else upm for c in text) / upm


def xml_of(path: Path, member: str = "word/document.xml") -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(member).decode("utf-8")


def text_of(fragment: str) -> str:
    import html

    return html.unescape("".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", fragment)))


def paragraphs(document: str) -> list[str]:
    return re.findall(r"<w:p>.*?</w:p>", document, re.S)


def style_of(paragraph: str) -> str | None:
    m = re.search(r'<w:pStyle w:val="([^"]+)"', paragraph)
    return m.group(1) if m else None


def page(document: str) -> dict[str, int]:
    """Page size and margins of the last section (pandoc sorts the attributes)."""
    section = re.findall(r"<w:sectPr>.*?</w:sectPr>", document, re.S)[-1]
    values = {}
    for tag in ("pgSz", "pgMar"):
        element = re.search(rf"<w:{tag} ([^>]*)/>", section).group(1)
        values.update({k: int(v) for k, v in re.findall(r'w:(\w+)="(\d+)"', element)})
    return values


def style_xml(styles: str, style_id: str) -> str:
    return re.search(rf'<w:style [^>]*w:styleId="{style_id}"[^>]*>.*?</w:style>', styles, re.S)[0]


def add_to_article(project: Path, front: str = "", body: str = "") -> None:
    qmd = project / "report" / "article.qmd"
    text = qmd.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    qmd.write_text("---\n" + front + text[4:] + body, encoding="utf-8")


def set_paper(project: Path, paper: str) -> None:
    quarto = project / "_quarto.yml"
    quarto.write_text(quarto.read_text(encoding="utf-8") + f"papersize: {paper}\n")


@pytest.fixture(scope="module")
def article(tmp_path_factory, chart_files) -> dict:
    """The article (with a TOC and a wide table) rendered to DOCX twice."""
    svg, pdf = chart_files
    root = tmp_path_factory.mktemp("docx")
    project = build_project(root / "project", svg, pdf)
    add_to_article(
        project,
        front="toc: true\n",
        body="\n## Laboratory & \\<safety\\> values\n\n" + WIDE_TABLE,
    )
    first = render_document(project, "report/article.qmd", root / "a", formats=["docx"])
    again = render_document(project, "report/article.qmd", root / "b", formats=["docx"])
    return {"project": project, "docx": first["docx"], "again": again["docx"]}


def test_docx_is_byte_identical_across_renders(article):
    assert article["docx"].read_bytes() == article["again"].read_bytes()


def test_docx_parts_are_well_formed_xml(article):
    # data strings ("&", "<safety>") escaped in the text, the TOC entries and the tables
    with zipfile.ZipFile(article["docx"]) as z:
        for name in z.namelist():
            if name.endswith(".xml") or name.endswith(".rels"):
                minidom.parseString(z.read(name))
    assert "Laboratory &amp; &lt;safety&gt; values" in xml_of(article["docx"])


def table_share(table: str) -> float:
    """A table's width as a share of the text width (its ``w:tblW``, pct)."""
    pref = re.search(r'<w:tblW w:type="pct" w:w="(\d+)"', table)
    assert pref, table[:300]
    return int(pref.group(1)) / 5000


def test_every_table_has_a_set_width_and_a_grid_of_that_width(article):
    """Every table has a width, at most the text width, and a grid adding up to it:
    the page's for a wide table, its content's for a narrow one (the doses table,
    three short columns, is not stretched across the page as the PDF's is not)."""
    document = xml_of(article["docx"])
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", document, re.S)
    assert len(tables) >= 4
    width = round(6.5 * 72 * 20)  # letter, 1 in margins left and right
    shares = {}
    for table in tables:
        share = table_share(table)
        assert 0 < share <= 1, share
        assert '<w:tblLayout w:type="fixed" />' in table
        grid = [int(w) for w in re.findall(r'<w:gridCol w:w="(\d+)"', table)]
        assert abs(sum(grid) - width * share) <= 1, (grid, share)
        shares[text_of(table)[:40]] = share
    doses = [s for t, s in shares.items() if t.startswith("DosePatients")]
    assert doses and doses[0] < 0.75, shares
    wide = [s for t, s in shares.items() if "Thrombocytopenia" in t or t.startswith("Charact")]
    assert wide and max(wide) == 1, shares


def test_no_stub_word_is_wider_than_its_column(article):
    document = xml_of(article["docx"])
    checked = 0
    for table in re.findall(r"<w:tbl>.*?</w:tbl>", document, re.S):
        first_col = int(re.search(r'<w:gridCol w:w="(\d+)"', table).group(1)) / 20
        for row in re.findall(r"<w:tr>.*?</w:tr>", table, re.S):
            cell = re.search(r"<w:tc>.*?</w:tc>", row, re.S).group(0)
            if "w:gridSpan" in cell:
                continue
            bold = "<w:b />" in cell or "tblHeader" in row
            for word in text_of(cell).split():
                width = advance_em(word, bold) * TABLE_PT + PAD_PT
                assert width <= first_col, (word, width, first_col)
                checked += 1
    assert checked > 20
    # the wide table's cells wrap, its stub words keep whole
    assert "Thrombocytopenia" in text_of(document)


def test_cells_are_in_the_table_text_style(article):
    document = xml_of(article["docx"])
    for table in re.findall(r"<w:tbl>.*?</w:tbl>", document, re.S):
        styles = set(re.findall(r'<w:pStyle w:val="([^"]+)"', table))
        assert styles == {"TableText"}, styles
    outside = re.sub(r"<w:tbl>.*?</w:tbl>", "", document, flags=re.S)
    assert "TableText" not in outside


def test_level_rows_are_indented_by_their_paragraph_not_by_spaces():
    """A wrapped level row ("Black or African / American") lost the indent that
    great-tables' non-breaking spaces gave its first line only."""
    nbsp = "\u00a0" * 4
    cell = (
        '<w:tc><w:p><w:pPr><w:pStyle w:val="TableText" /><w:jc w:val="left" /></w:pPr>'
        f'<w:r><w:t xml:space="preserve">{nbsp}Black or African American</w:t></w:r></w:p></w:tc>'
    )
    label = (
        '<w:tc><w:p><w:pPr><w:pStyle w:val="TableText" /></w:pPr>'
        f"<w:r><w:t>Race</w:t></w:r><w:r><w:t>{nbsp}x</w:t></w:r></w:p></w:tc>"
    )
    outside = (
        f'<w:p><w:pPr><w:pStyle w:val="BodyText" /></w:pPr><w:r><w:t>{nbsp}a</w:t></w:r></w:p>'
    )
    document = f"<w:body>{outside}<w:tbl><w:tr>{cell}{label}</w:tr></w:tbl></w:body>"
    out = docx_layout.indent_stubs(document)
    indent = f'<w:ind w:left="{docx_layout.STUB_INDENT_TWIPS}" />'
    assert (
        f'<w:pStyle w:val="TableText" />{indent}<w:jc w:val="left" /></w:pPr>'
        '<w:r><w:t xml:space="preserve">Black or African American</w:t>'
    ) in out
    assert out.count(indent) == 1  # not "Race" (its spaces are not leading), not the body
    assert out.startswith(f"<w:body>{outside}")


def test_affiliation_marks_are_superscript_runs(article):
    document = xml_of(article["docx"])
    authors = [p for p in paragraphs(document) if style_of(p) == "Author"]
    line = authors[0]
    assert text_of(line) == "Jane Doe1, John Smith1,2, Ana Lima3"
    runs = re.findall(r"<w:r>.*?</w:r>", line, re.S)
    marks = [text_of(r) for r in runs if '<w:vertAlign w:val="superscript" />' in r]
    assert marks == ["1", "1,2", "3"]
    plain = [text_of(r) for r in runs if "vertAlign" not in r]
    assert not any(re.search(r"\d$", t) for t in plain), plain
    # the affiliations follow, each with its mark in superscript
    affiliations = [text_of(p) for p in authors[1:]]
    assert affiliations[0].startswith("1 Genitourinary Oncology Service")
    assert all('w:val="superscript"' in p for p in authors[1:4])
    # the file's author property names the authors without their marks (it read
    # "First Author, MD1, Second Author, MD1")
    core = xml_of(article["docx"], "docProps/core.xml")
    assert "<dc:creator>Jane Doe, John Smith, Ana Lima</dc:creator>" in core


def test_toc_is_a_word_field_after_the_title_block(article):
    document = xml_of(article["docx"])
    assert document.count("TOC \\o") == 1
    toc = document.index("TOC \\o")
    last_affiliation = document.rindex('<w:pStyle w:val="Author" />')
    first_heading = document.index('<w:pStyle w:val="Heading2" />')
    assert last_affiliation < toc < first_heading
    assert 'w:fldCharType="begin" w:dirty="true"' in document
    # filled: the cached result lists the headings as links to their bookmarks
    entries = [p for p in paragraphs(document) if style_of(p) == "TOC2"]
    assert [text_of(p) for p in entries] == [
        "Background",
        "Results",
        *[text_of(p) for p in entries[2:]],
    ]
    assert "Laboratory & <safety> values" in [text_of(p) for p in entries]
    assert all("<w:hyperlink w:anchor=" in p for p in entries)
    # pandoc's own TOC (between the authors and their affiliations) is gone
    assert "Table of Contents" not in text_of(document)


def test_captions_use_the_caption_styles(article):
    document = xml_of(article["docx"])
    captions = {
        text_of(p)[:9]: style_of(p)
        for p in paragraphs(document)
        if re.match(r"(Table|Figure) \d+:", text_of(p))
    }
    assert captions, "no captions"
    for start, style in captions.items():
        assert style == ("TableCaption" if start.startswith("Table") else "ImageCaption"), start
    styles = xml_of(article["docx"], "word/styles.xml")
    for style_id in ("TableCaption", "ImageCaption"):
        assert '<w:basedOn w:val="Caption" />' in style_xml(styles, style_id)
    # captions in the body's family, as the PDF's
    assert 'w:ascii="IBM Plex Serif"' in style_xml(styles, "Caption")
    # Word's own caption numbers: a SEQ field per caption, its result the number
    # shown, so that Word renumbers them and lists them (Insert Table of Figures)
    for kind in ("Table", "Figure"):
        numbered = [
            p
            for p in paragraphs(document)
            if style_of(p) == f"{'Table' if kind == 'Table' else 'Image'}Caption"
        ]
        assert numbered, kind
        for i, p in enumerate(numbered, start=1):
            assert re.search(rf"<w:instrText[^>]*> SEQ {kind} \\\* ARABIC </w:instrText>", p), p
            assert text_of(p).startswith(f"{kind} {i}:"), text_of(p)


def test_caption_numbers_out_of_order_are_left_as_typed():
    def caption(style: str, text: str) -> str:
        return (
            f'<w:p><w:pPr><w:pStyle w:val="{style}" /></w:pPr>'
            f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'
        )

    ordered = caption("TableCaption", "Table S1:") + caption("TableCaption", "Table S2:")
    out = docx_layout.caption_fields(ordered)
    assert out.count("SEQ Table") == 2 and ">Table S</w:t>" in out
    skipped = caption("TableCaption", "Table S2:") + caption("TableCaption", "Table S1:")
    assert docx_layout.caption_fields(skipped) == skipped


def test_quarto_captions_get_seq_fields_too():
    """Quarto's DOCX writes a caption as one run after two w:pPr ("Table", a
    non-breaking space, "S1: ..."), its tables' captions in "Image Caption"; a body
    paragraph starting "Table S2." is not a caption."""
    quarto = (
        '<w:p><w:pPr><w:jc w:val="center" /></w:pPr><w:pPr>\n    <w:jc w:val="left"/>\n'
        '    <w:pStyle w:val="ImageCaption" />\n    </w:pPr>\n'
        '    <w:r><w:t xml:space="preserve">Table\u00a0S1: Baseline characteristics.</w:t>'
        "</w:r></w:p>"
    )
    body = (
        '<w:p><w:pPr><w:pStyle w:val="BodyText" /></w:pPr>'
        "<w:r><w:t>Table S2. Text</w:t></w:r></w:p>"
    )
    out = docx_layout.caption_fields(quarto + body)
    assert out.count("SEQ Table") == 1
    assert ">Table\u00a0S</w:t>" in out and ">: Baseline characteristics.</w:t>" in out
    assert out.endswith(body)


def test_reference_styles_fonts_and_sizes(article):
    styles = xml_of(article["docx"], "word/styles.xml")
    defaults = re.search(r"<w:rPrDefault>.*?</w:rPrDefault>", styles, re.S).group(0)
    assert 'w:ascii="IBM Plex Serif"' in defaults and '<w:sz w:val="21" />' in defaults
    # every heading level in the sans, as the PDF's (Heading 3 was in the serif)
    for level in (1, 2, 3, 4, 5, 6):
        fonts = re.findall(r"<w:rFonts\b[^>]*/>", style_xml(styles, f"Heading{level}"))
        assert fonts and all('w:ascii="Lato"' in f for f in fonts), (level, fonts)
    # one typographic system: tables in the body's serif, as the PDF's, the
    # cells' margins in the table itself (LibreOffice ignores the style's)
    assert 'w:ascii="IBM Plex Serif"' in style_xml(styles, "TableText")
    assert '<w:sz w:val="17" />' in style_xml(styles, "TableText")
    assert "Lato" not in style_xml(styles, "TableTextSmall")
    document = xml_of(article["docx"])
    for table in re.findall(r"<w:tbl>.*?</w:tbl>", document, re.S):
        props = re.search(r"<w:tblPr>.*?</w:tblPr>", table, re.S).group(0)
        assert f'<w:left w:w="{docx.CELL_MARGIN_TWIPS}" w:type="dxa" />' in props, props
        # the schema's order: tblLayout before tblCellMar before tblLook
        assert props.index("tblLayout") < props.index("tblCellMar") < props.index("tblLook")
    assert "majorHAnsi" not in styles and "minorHAnsi" not in styles
    # the title block as the PDF's: a left-aligned bold title in the accent (pandoc
    # centres it, regular, black), the author lines under it regular
    title = style_xml(styles, "Title")
    assert '<w:jc w:val="left" />' in title and "<w:b />" in title
    assert '<w:color w:val="1F4E79" />' in title
    assert '<w:b w:val="0" />' in style_xml(styles, "Author")


def test_pages_are_numbered_in_the_footer(article):
    """The Word file had no page numbers (the PDF prints "n / N"): the reference
    document's footer, which pandoc keeps, holds the PAGE and NUMPAGES fields."""
    footer = xml_of(article["docx"], "word/footer1.xml")
    fields = re.findall(r"<w:instrText[^>]*>\s*(\w+)\s*</w:instrText>", footer)
    assert fields == ["PAGE", "NUMPAGES"]
    assert '<w:jc w:val="center" />' in footer
    sect = re.findall(r"<w:sectPr>.*?</w:sectPr>", xml_of(article["docx"]), re.S)[-1]
    assert f'r:id="{docx.FOOTER_RID}"' in sect and 'w:type="default"' in sect
    rels = xml_of(article["docx"], "word/_rels/document.xml.rels")
    assert re.search(rf'Id="{docx.FOOTER_RID}"[^>]*Target="footer1.xml"', rels)


@pytest.mark.parametrize(("paper", "size"), [("letter", (12240, 15840)), ("a4", (11906, 16838))])
def test_page_size_and_margins_follow_papersize(project, tmp_path, paper, size):
    set_paper(project, paper)
    result = render_document(project, "report/article.qmd", tmp_path, formats=["docx"])
    document = xml_of(result["docx"])
    found = page(document)
    assert (found["w"], found["h"]) == size
    assert (found["top"], found["right"], found["bottom"], found["left"]) == (
        1296,
        1440,
        1440,
        1440,
    )
    table = re.search(r"<w:tbl>.*?</w:tbl>", document, re.S).group(0)
    grid = re.search(r"<w:tblGrid>.*?</w:tblGrid>", table, re.S).group(0)
    total = sum(int(w) for w in re.findall(r'w:w="(\d+)"', grid))
    assert abs(total - (size[0] - 2 * 1440) * table_share(table)) <= 1


def test_a_given_reference_doc_is_used(project, tmp_path):
    # an A4 reference named in the docx format options wins over papersize: letter
    docx.write_reference(project / "my-reference.docx", pandoc_path(), "a4")
    quarto = project / "_quarto.yml"
    quarto.write_text(
        quarto.read_text(encoding="utf-8").replace(
            "format:\n", "format:\n  docx:\n    reference-doc: my-reference.docx\n", 1
        )
        + "papersize: letter\n"
    )
    result = render_document(project, "report/article.qmd", tmp_path, formats=["docx"])
    assert (page(xml_of(result["docx"]))["w"], page(xml_of(result["docx"]))["h"]) == (11906, 16838)


def test_a_missing_reference_doc_is_an_error(project, tmp_path):
    qmd = project / "report" / "article.qmd"
    qmd.write_text(
        qmd.read_text(encoding="utf-8").replace(
            "format:\n", "format:\n  docx:\n    reference-doc: nowhere.docx\n", 1
        )
    )
    with pytest.raises(PsmaRweError, match=r"reference-doc: .nowhere\.docx. not found"):
        render_document(project, "report/article.qmd", tmp_path, formats=["docx"])


def test_fit_tables_keeps_proportions_and_adds_up():
    document = (
        '<w:tbl><w:tblGrid><w:gridCol w:w="3960" /><w:gridCol w:w="1980" />'
        '<w:gridCol w:w="1980" /></w:tblGrid></w:tbl>'
    )
    fitted = docx_layout.fit_tables(document, 9361)
    cols = [int(w) for w in re.findall(r'w:w="(\d+)"', fitted)]
    assert sum(cols) == 9361 and cols[0] in (4680, 4681) and abs(cols[1] - cols[2]) <= 1


def test_fit_figures_scales_a_tall_image_to_the_page():
    tall = (
        '<w:drawing><wp:extent cx="5831095" cy="11384519" />'
        '<a:ext cx="5831095" cy="11384519" /></w:drawing>'
    )
    small = '<w:drawing><wp:extent cx="5943600" cy="2598324" /></w:drawing>'
    fitted = docx_layout.fit_figures(tall + small, 655.0)
    sizes = [(int(a), int(b)) for a, b in re.findall(r'cx="(\d+)" cy="(\d+)"', fitted)]
    limit = 655.0 * docx_layout.FIGURE_HEIGHT_SHARE * 12700
    assert sizes[0] == sizes[1] and abs(sizes[0][1] - limit) <= 1
    assert abs(sizes[0][0] / sizes[0][1] - 5831095 / 11384519) < 1e-6
    assert sizes[2] == (5943600, 2598324)


def test_reference_doc_is_reproducible(tmp_path):
    a = docx.write_reference(tmp_path / "a.docx", pandoc_path(), "letter")
    b = docx.write_reference(tmp_path / "b.docx", pandoc_path(), "letter")
    assert a.read_bytes() == b.read_bytes()
    assert docx.text_area_pt(a) == (6.5 * 72, 11 * 72 - 0.9 * 72 - 72)
    with pytest.raises(PsmaRweError, match="papersize"):
        docx.write_reference(tmp_path / "c.docx", pandoc_path(), "legal")


def test_fit_figures_sets_a_medium_image_at_the_pdfs_share_so_two_share_a_page():
    # 0.55 of the text height: the PDF sets it at 0.42 of it (typst/psma.typ)
    height = round(655.0 * 0.55 * 12700)
    medium = f'<w:drawing><wp:extent cx="5943600" cy="{height}" /></w:drawing>'
    fitted = docx_layout.fit_figures(medium, 655.0)
    cx, cy = (int(v) for v in re.search(r'cx="(\d+)" cy="(\d+)"', fitted).groups())
    assert abs(cy - 655.0 * docx_layout.FIGURE_SMALL_SHARE * 12700) <= 1
    assert abs(cx / cy - 5943600 / height) < 1e-6


def test_fit_figures_sets_no_chart_below_its_smallest_legible_size():
    """A chart (its width in pixels known by the image's id) is not shrunk below
    MIN_CHART_PT_PER_PX points per pixel for its share of the page: 800 px wide,
    5.2 in high (0.55 of a 655 pt text height), it is set 0.55 * 800 = 440 pt
    wide, not at 0.42 of the text height (5943600 * 0.42 / 0.55 EMU = 357 pt
    wide: its 10 px text at 4.5 pt); never wider than the text, and never larger
    than pandoc set it."""
    height = round(655.0 * 0.55 * 12700)
    chart = (
        f'<w:drawing><wp:extent cx="5943600" cy="{height}" /><a:blip r:embed="rId9" /></w:drawing>'
    )
    cx, cy = (
        int(v)
        for v in re.search(
            r'cx="(\d+)" cy="(\d+)"', docx_layout.fit_figures(chart, 655.0, {"rId9": 800.0}, 468.0)
        ).groups()
    )
    assert abs(cx / 12700 - docx_layout.MIN_CHART_PT_PER_PX * 800) < 0.01
    assert abs(cx / cy - 5943600 / height) < 1e-6
    # the text's width caps it (900 px at 0.55 pt would be 495 pt wide: left at 468)
    wide = docx_layout.fit_figures(chart, 655.0, {"rId9": 900.0}, 468.0)
    assert int(re.search(r'cx="(\d+)"', wide).group(1)) == 5943600
    # a chart already legible at its share is not grown
    small = docx_layout.fit_figures(chart, 655.0, {"rId9": 100.0}, 468.0)
    assert abs(int(re.search(r'cy="(\d+)"', small).group(1)) - 655.0 * 0.42 * 12700) <= 1
    # an image of unknown size: the share alone, as before
    other = docx_layout.fit_figures(chart, 655.0, {}, 468.0)
    assert abs(int(re.search(r'cy="(\d+)"', other).group(1)) - 655.0 * 0.42 * 12700) <= 1


def test_fit_figures_keeps_a_figure_up_to_a_page_within_a_little_over_half_of_it():
    """Word cannot float a figure: one that does not fit under what precedes it
    moves to the next page and leaves the rest of this one empty.  At 0.68 of the
    text height (the laboratory panels, Figure S5) page 8 of the supplement was
    38% full; a figure up to a page high is set at most FIGURE_MEDIUM_SHARE, one
    taller than a page (a swimmer plot's rows) keeps FIGURE_HEIGHT_SHARE."""
    sizes = []
    for share in (0.68, 0.95, 1.4):
        cy = round(655.0 * share * 12700)
        fitted = docx_layout.fit_figures(
            f'<w:drawing><wp:extent cx="5600000" cy="{cy}" /></w:drawing>', 655.0
        )
        cx2, cy2 = (int(v) for v in re.search(r'cx="(\d+)" cy="(\d+)"', fitted).groups())
        assert abs(cx2 / cy2 - 5600000 / cy) < 1e-6
        sizes.append(cy2 / 12700 / 655.0)
    assert sizes[0] <= 0.56 and sizes[1] <= 0.56, sizes
    assert docx_layout.FIGURE_MEDIUM_SHARE <= 0.56
    assert abs(sizes[2] - docx_layout.FIGURE_HEIGHT_SHARE) < 1e-3


def table_xml(stubs: list[str], header_rows: int = 1) -> str:
    """A ``w:tbl`` as pandoc writes it (after :func:`docx_layout.style_table_text`)."""

    def row(text: str, header: bool) -> str:
        props = '<w:trPr><w:tblHeader w:val="on" /></w:trPr>' if header else ""
        cells = "".join(
            '<w:tc><w:tcPr /><w:p><w:pPr><w:pStyle w:val="TableText" /></w:pPr>'
            f'<w:r><w:t xml:space="preserve">{t}</w:t></w:r></w:p></w:tc>'
            for t in (text, "12 (57.1%)")
        )
        return f"<w:tr>{props}{cells}</w:tr>"

    rows = [row("Characteristic", True) for _ in range(header_rows)]
    rows += [row(s, False) for s in stubs]
    return (
        '<w:tbl><w:tblPr /><w:tblGrid><w:gridCol w:w="6000" /><w:gridCol w:w="3360" />'
        "</w:tblGrid>" + "".join(rows) + "</w:tbl>"
    )


def breaks_after(table: str) -> list[str]:
    """Stubs of the rows after which the page may break."""
    rows = re.findall(r"<w:tr>.*?</w:tr>", table, re.S)
    return [
        text_of(re.search(r"<w:tc>.*?</w:tc>", r, re.S).group(0)).strip()
        for r in rows
        if '<w:keepNext w:val="0" />' in r
    ]


def test_keep_tables_breaks_a_long_table_only_between_row_groups():
    """A long table breaks after the last row of a group (a label and its indented
    levels), never after a header row, a label row or the table's last row; every
    row is kept from breaking inside itself. Without it, Word and LibreOffice moved
    Table S1 whole to the next page, leaving half of page 3 empty."""
    nb = "\u00a0" * 4
    stubs = []
    for g in range(8):
        stubs += [f"Group {g}"] + [f"{nb}level {g}.{i}" for i in range(4)]
    kept = docx_layout.keep_tables(table_xml(stubs, header_rows=2), 655.0)
    assert breaks_after(kept) == [f"level {g}.3" for g in range(7)]
    assert kept.count("<w:cantSplit />") == 2 + len(stubs)
    # the header rows keep their tblHeader (repeated on the next page)
    assert kept.count('<w:tblHeader w:val="on" />') == 2
    minidom.parseString(kept.replace("<w:", "<").replace("</w:", "</").replace(" w:", " "))


def test_keep_tables_keeps_a_short_table_whole():
    nb = "\u00a0" * 4
    short = table_xml(["Race", f"{nb}White", f"{nb}Black", "Age, years"])
    assert breaks_after(docx_layout.keep_tables(short, 655.0)) == []


def test_keep_tables_breaks_a_group_longer_than_a_page_anywhere():
    nb = "\u00a0" * 4
    stubs = ["Therapy"] + [f"{nb}agent {i}" for i in range(docx_layout.MAX_GROUP_ROWS + 5)]
    # anywhere but within MIN_ROWS_AT_BREAK rows of either end
    edge = docx_layout.MIN_ROWS_AT_BREAK - 1
    breaks = breaks_after(docx_layout.keep_tables(table_xml(stubs), 655.0))
    assert len(breaks) == len(stubs) - 1 - 2 * edge


def test_keep_tables_leaves_no_row_alone_at_a_break():
    """A long table of one-row groups (the regression table, Table S7) breaks only
    where at least MIN_ROWS_AT_BREAK body rows stay on either side: its last row
    went alone to the next page under the repeated header."""
    stubs = [f"Factor {i}" for i in range(60)]
    breaks = breaks_after(docx_layout.keep_tables(table_xml(stubs), 655.0))
    assert breaks, "a table this long breaks"
    at = [stubs.index(b) for b in breaks]
    assert min(at) + 1 >= docx_layout.MIN_ROWS_AT_BREAK
    assert len(stubs) - 1 - max(at) >= docx_layout.MIN_ROWS_AT_BREAK
    assert docx_layout.MIN_ROWS_AT_BREAK >= 2
