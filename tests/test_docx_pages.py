"""The supplement's pages in Word and PDF: page count, page fill, table cells that wrap.

One build of the shipped synthetic cohort (module fixture, embedded renderer).
The Word file is laid out by LibreOffice (``soffice --convert-to pdf``) with the
bundled fonts (a fontconfig file naming their folders), as a reader's Word with
Lato and IBM Plex Serif would; the PDF and that layout are read with poppler's
pdftotext and pdftoppm.  Number widths in the Word tables are measured with the
bundled IBM Plex Serif, the tables' font (Pillow).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from analysis import config
from analysis.build import build

pytestmark = pytest.mark.slow

SOFFICE = shutil.which("libreoffice") or shutil.which("soffice")
POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    outputs = tmp_path_factory.mktemp("outputs")
    return build(config.SYNTHETIC_DIR, label="v1", outputs=outputs, renderer="embedded").path


def font_file(package: str, name: str) -> Path:
    module = __import__(package)
    return Path(module.__file__).parent / "files" / name


@pytest.fixture(scope="module")
def word_layout(built, tmp_path_factory) -> Path:
    """supplement.docx laid out by LibreOffice, as a PDF."""
    if not SOFFICE or not POPPLER:
        pytest.skip("needs LibreOffice and poppler")
    out = tmp_path_factory.mktemp("word")
    conf = out / "fonts.conf"
    dirs = "".join(
        f"<dir>{font_file(p, n).parent}</dir>"
        for p, n in (
            ("fontpkg_lato", "Lato-Regular.ttf"),
            ("fontpkg_ibm_plex_serif", "IBMPlexSerif-Regular.ttf"),
        )
    )
    conf.write_text(
        '<?xml version="1.0"?><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"{dirs}<cachedir>{out / 'fc-cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(out),
        "FONTCONFIG_FILE": str(conf),
    }
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{out / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(built / "supplement.docx"),
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return out / "supplement.pdf"


def page_count(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(pdf)).pages)


def page_fills(pdf: Path, tmp: Path) -> list[float]:
    """Share of each page's text height (0.9 in to 1 in from the edges) down
    to its lowest ink, read from a 36 dpi grayscale rendering."""
    import numpy as np
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "36", "-gray", "-png", str(pdf), str(tmp / "p")], check=True)
    fills = []
    for png in sorted(tmp.glob("p-*.png")):
        ink = np.asarray(Image.open(png)) < 200
        top, bottom = 0.9 * 36, ink.shape[0] - 1.0 * 36
        rows = np.where(ink[: int(ink.shape[0] - 0.8 * 36)].any(axis=1))[0]
        fills.append(((rows.max() if len(rows) else top) - top) / (bottom - top))
    return fills


def test_word_paginates_like_the_pdf(built, word_layout, tmp_path):
    """Within one page of the PDF (it ran to 15 pages against 13: Table S1 moved
    whole to page 4, half of page 3 left empty, and one figure a page)."""
    assert abs(page_count(word_layout) - page_count(built / "supplement.pdf")) <= 1


def test_word_pages_are_filled(word_layout, tmp_path):
    """No page (but the last) ends before 60% of its height.  Before, four pages
    did (page 3 before Table S1, and three pages holding one figure each), and
    then page 8 was 38% full: Figure S5 (0.68 of the text height) did not fit
    under Tables S5 and S6 and moved whole to page 9 (Word has no floats; the
    PDF fills that page with the text after the figure)."""
    fills = page_fills(word_layout, tmp_path)
    assert min(fills[:-1]) >= 0.6, str([round(float(f), 2) for f in fills])


def chart_text_pt(docx_path: Path) -> list[float]:
    """Printed size, pt, of a 10 px chart text in each image of a DOCX: the image's
    width in points over its chart's width in pixels (the PNG has two pixels for each
    of the chart's)."""
    with zipfile.ZipFile(docx_path) as z:
        document = z.read("word/document.xml").decode("utf-8")
        rels = z.read("word/_rels/document.xml.rels").decode("utf-8")
        targets = {
            re.search(r'Id="([^"]+)"', r).group(1): re.search(r'Target="([^"]+)"', r).group(1)
            for r in re.findall(r"<Relationship [^>]*>", rels)
        }
        sizes = []
        for drawing in re.findall(r"<w:drawing>.*?</w:drawing>", document, re.DOTALL):
            cx = int(re.search(r'<wp:extent cx="(\d+)"', drawing).group(1))
            png = z.read("word/" + targets[re.search(r'r:embed="([^"]+)"', drawing).group(1)])
            chart_px = int.from_bytes(png[16:20], "big") / 2
            sizes.append(10 * (cx / 12700) / chart_px)
    return sizes


def test_word_chart_text_prints_at_5_5_pt_or_more(built):
    """Fitted to a share of the page alone, the charts' 10 px text printed at
    4.9-6.3 pt in Word (Figure S7 at 4.9 pt); none is now set below 5.5 pt, and
    none wider than the text (6.5 in)."""
    sizes = chart_text_pt(built / "supplement.docx")
    assert len(sizes) >= 6
    assert min(sizes) >= 5.49, [round(s, 2) for s in sizes]
    with zipfile.ZipFile(built / "supplement.docx") as z:
        widths = re.findall(r'<wp:extent cx="(\d+)"', z.read("word/document.xml").decode())
    assert max(int(w) for w in widths) <= 6.5 * 914400 + 1


def table_page_lines(pdf: Path, caption: str, end: str) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    start = text.index(caption)
    return text[start : text.index(end, start)].splitlines()[1:]


@pytest.mark.skipif(not POPPLER, reason="needs poppler's pdftotext")
def test_pdf_labs_table_numbers_do_not_wrap(built):
    """Every line of Table S5 closes the parentheses it opens: a median (IQR)
    wrapped ("11.8 (11.4," over "12.3)") leaves them open; the stub wraps instead,
    and not inside a unit ("g/" over "dL")."""
    lines = table_page_lines(built / "supplement.pdf", "Table S5:", "Median (Q1, Q3)")
    rows = [line for line in lines if re.search(r"\d", line)]
    assert len(rows) >= 20
    for line in rows:
        assert line.count("(") == line.count(")"), line
    assert not any(re.search(r"/\s*$", line) for line in lines), lines
    # the stub wraps: a label over two lines, its second line holding no number
    assert any(line.strip() in ("g/dL", "mg/dL", "cells, ×10⁹/L") for line in lines), lines


def cell_widths_and_texts(table: str) -> list[tuple[float, str, float]]:
    """(column width in points, text, font size) of each single-column body cell."""
    grid = [int(w) / 20 for w in re.findall(r'<w:gridCol w:w="(\d+)"', table)]
    out = []
    for row in re.findall(r"<w:tr>.*?</w:tr>", table, re.S):
        if "tblHeader" in row:
            continue
        col = 0
        for cell in re.findall(r"<w:tc>.*?</w:tc>", row, re.S):
            span = re.search(r'<w:gridSpan w:val="(\d+)"', cell)
            span = int(span.group(1)) if span else 1
            text = html.unescape("".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", cell)))
            size = 7.5 if 'w:rStyle w:val="TableTextSmall"' in cell else 8.5
            if span == 1:
                out.append((grid[col], text, size, col))
            col += span
    return out


def table_after_caption(document: str, start: str) -> str:
    """The first table after the caption paragraph whose text starts with ``start``
    (its number is a SEQ field: the text is in several runs)."""
    for p in re.finditer(r"<w:p>.*?</w:p>", document, re.S):
        text = "".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", p.group(0)))
        if "Caption" in p.group(0)[:120] and text.startswith(start):
            return re.search(r"<w:tbl>.*?</w:tbl>", document[p.end() :], re.S).group(0)
    raise AssertionError(f"no caption {start!r}")


def test_word_labs_table_numbers_fit_their_columns(built):
    """Each number of the labs table (measured in IBM Plex Serif, the tables' font,
    at its size) fits its column between the table's own cell margins; the stub
    column is what wraps."""
    from PIL import ImageFont

    with zipfile.ZipFile(built / "supplement.docx") as z:
        document = z.read("word/document.xml").decode("utf-8")
    table = table_after_caption(document, "Table S5:")
    serif = font_file("fontpkg_ibm_plex_serif", "IBMPlexSerif-Regular.ttf")
    props = re.search(r"<w:tblPr>.*?</w:tblPr>", table, re.S).group(0)
    margins = sum(int(w) / 20 for w in re.findall(r'<w:(?:left|right) w:w="(\d+)"', props))
    assert margins > 0, props
    checked = 0
    for width, text, size, col in cell_widths_and_texts(table):
        if col == 0 or not re.search(r"\d", text):
            continue
        font = ImageFont.truetype(str(serif), 1000)
        assert font.getlength(text) / 1000 * size <= width - margins, (text, width)
        checked += 1
    assert checked >= 60
    # numbers right-aligned, as in the PDF (the spanner over them centred)
    body = "".join(r for r in re.findall(r"<w:tr>.*?</w:tr>", table, re.S) if "tblHeader" not in r)
    assert '<w:jc w:val="right" />' in body and '<w:jc w:val="center" />' not in body


def test_level_rows_carry_an_indent_and_no_leading_spaces(built):
    """Table S1's level rows ("White" under "Race") are indented by their paragraph
    (docx_layout.indent_stubs), so that a label that wraps keeps its indent."""
    from analysis.render import docx_layout

    with zipfile.ZipFile(built / "supplement.docx") as z:
        xml = z.read("word/document.xml").decode("utf-8")
    cells = re.findall(r"<w:tc>.*?</w:tc>", xml, re.DOTALL)
    texts = [html.unescape("".join(re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", c))) for c in cells]
    assert "Black or African American" in texts
    assert not [t for t in texts if t.startswith("\u00a0")]
    indented = [c for c in cells if f'<w:ind w:left="{docx_layout.STUB_INDENT_TWIPS}" />' in c]
    assert len(indented) > 20


def test_no_table_column_is_narrower_than_its_floor(built):
    """Table S4's "n" columns were 0.2 in wide, their counts touching the percentages
    beside them; no column is now under MIN_COLUMN_EM (2.5) em of the table text
    (8.5 pt) plus the cells' margins (docx-tables.lua), in a table that fits the
    page at its size."""
    with zipfile.ZipFile(built / "supplement.docx") as z:
        xml = z.read("word/document.xml").decode("utf-8")
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", xml, re.DOTALL)
    floor_twips = (2.5 * 8.5 + 2 * 72 / 20 + 2) * 20
    narrow = [
        (i, w)
        for i, table in enumerate(tables)
        if "TableTextSmall" not in table
        for w in map(int, re.findall(r'<w:gridCol w:w="(\d+)"', table))
        if w < floor_twips - 2
    ]
    assert not narrow, narrow
