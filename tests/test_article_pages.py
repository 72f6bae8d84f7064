"""The supplement's and abstract's pages (issue 12): captions, numbering, table breaks.

One build of the shipped synthetic cohort (module fixture); the checks read the
PDF's text page by page with pypdf, the HTML as text.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from analysis import config
from analysis.build import build

pytestmark = pytest.mark.slow

#: The supplement's great-tables tables in document order (Table S1, S2, ...).
SUPPLEMENT_TABLES = (
    "table1",
    "prior_therapy",
    "psa_response",
    "milestones",
    "labs",
    "toxicity",
    "regression",
    "survival",
    "landmark",
    "dosing",
    "discontinuation",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    outputs = tmp_path_factory.mktemp("outputs")
    return build(config.SYNTHETIC_DIR, label="v1", outputs=outputs).path


def pages(pdf: Path) -> list[str]:
    """Text of each page, whitespace collapsed."""
    from pypdf import PdfReader

    return [" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages]


def last_stub(fragment: str) -> str:
    """Text of the first cell of a great-tables fragment's last body row."""
    body = fragment.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    last = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.DOTALL)[-1]
    cell = re.search(r"<t[hd][^>]*>(.*?)</t[hd]>", last, flags=re.DOTALL).group(1)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", cell))
    return " ".join(text.replace("\xa0", " ").split())


def first_heading(fragment: str) -> str:
    """Text of a great-tables fragment's first column heading."""
    cell = re.search(r'<th class="gt_col_heading[^>]*>(.*?)</th>', fragment, re.DOTALL).group(1)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).split())


def title(fragment: str) -> str:
    cell = re.search(r'class="gt_heading gt_title[^>]*>(.*?)</td>', fragment, re.DOTALL).group(1)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).split())


def test_no_table_caption_is_printed_twice(built):
    """Between "Table Sn:" and the table's first column heading the great-tables
    title occurs at most once (the document's caption and the table's title were
    both printed: "... of 177Lu-PSMA-617. Baseline characteristics by PSA50 response")."""
    text = " ".join(pages(built / "supplement.pdf"))
    assert len(re.findall(r"Table S\d+:", text)) == len(SUPPLEMENT_TABLES)
    for number, name in enumerate(SUPPLEMENT_TABLES, start=1):
        fragment = (built / "tables" / f"{name}.html").read_text(encoding="utf-8")
        start = text.index(f"Table S{number}:")
        caption = text[start : text.index(first_heading(fragment), start)]
        words = " ".join(title(fragment).split()[:3])
        assert caption.count(words) <= 1, caption


def test_a_table_that_fits_a_page_is_on_one_page(built):
    texts = pages(built / "supplement.pdf")
    for number, name in enumerate(SUPPLEMENT_TABLES, start=1):
        fragment = (built / "tables" / f"{name}.html").read_text(encoding="utf-8")
        caption = f"Table S{number}:"
        on = [i for i, t in enumerate(texts) if caption in t]
        assert len(on) == 1, caption
        assert last_stub(fragment) in texts[on[0]], (caption, last_stub(fragment))


def test_supplement_numbers_are_s_numbers_and_the_poster_keeps_plain_ones(built):
    pdf = " ".join(pages(built / "supplement.pdf"))
    page = (built / "supplement.html").read_text(encoding="utf-8")
    for text in (pdf, page):
        assert "Table S1" in text and "Figure S1" in text
        assert not re.search(r"\b(Table|Figure)s? \d", text)
    # references in the text are S-numbers too (linked in HTML)
    assert re.search(r'<a href="#tbl-table1"[^>]*>Table S1</a>', page)
    poster = " ".join(pages(built / "poster.pdf"))
    assert not re.search(r"\b(Table|Figure) S\d", poster)


def test_article_tables_are_set_at_a_readable_size(built):
    """Table text about 9 pt (0.86 of the 10.5 pt body), in the body's serif."""
    from pypdf import PdfReader

    page = next(
        p for p in PdfReader(str(built / "supplement.pdf")).pages if "Table S1:" in p.extract_text()
    )
    sizes: dict[str, float] = {}

    def visit(text, cm, tm, font, size):
        if text.strip() and font is not None:
            scale = (tm[0] * cm[0]) if tm[0] and cm[0] else 1
            sizes.setdefault(text.strip(), size * abs(scale))

    page.extract_text(visitor_text=visit)
    age = next(v for k, v in sizes.items() if k.startswith("Age, years"))
    assert 8.5 <= age <= 10


@pytest.mark.skipif(
    __import__("shutil").which("pdftotext") is None, reason="needs poppler's pdftotext"
)
def word_boxes(pdf: Path) -> str:
    """``pdftotext -bbox`` of ``pdf``: every word with its box, page by page (XHTML)."""
    import subprocess

    return subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_figure_captions_are_flush_left_like_table_captions(built):
    words = word_boxes(built / "supplement.pdf")
    box = r'<word xMin="([\d.]+)"[^>]*>(Figure|Table)</word>\s*<word[^>]*>(S\d+):</word>'
    starts = {(kind, num): float(x) for x, kind, num in re.findall(box, words)}
    assert ("Figure", "S1") in starts and ("Table", "S1") in starts
    left = starts[("Table", "S1")]
    assert abs(left - 72) < 1  # the 1 in margin
    figures = {k: x for k, x in starts.items() if k[0] == "Figure"}
    assert all(abs(x - left) < 1 for x in figures.values()), figures


#: Entries the reference lists must hold (first author and journal abbreviation).
SUPPLEMENT_REFERENCES = (
    "Scher HI, Morris MJ, Stadler WM, et al.",
    "Firth D. Bias reduction of maximum likelihood estimates. Biometrika. 1993;80(1):27–38.",
    "Heinze G, Schemper M.",
    "Common Terminology Criteria for Adverse Events (CTCAE), Version 5.0",
    "Kaplan EL, Meier P.",
)
POSTER_REFERENCES = (
    "Sartor O, et al. N Engl J Med. 2021;385:1091–1103.",
    "Hofman MS, et al.",
    "Scher HI, et al.",
    "Heinze G, Schemper M.",
    "(CTCAE), Version 5.0",
)


@pytest.mark.parametrize(
    ("doc", "entries"), [("supplement", SUPPLEMENT_REFERENCES), ("poster", POSTER_REFERENCES)]
)
def test_reference_list_holds_the_cited_sources(built, doc, entries):
    text = " ".join(pages(built / f"{doc}.pdf"))
    refs = text[text.rindex("References") :]
    for entry in entries:
        assert entry in refs
    page = (built / f"{doc}.html").read_text(encoding="utf-8")
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL)
    for out in (text, page):
        assert "???" not in out and "[@" not in out
    # every citation a superscript number (one glyph); none typed by hand
    assert re.search(r"<sup>\d+(?:[,–]\d+)*</sup>", page)
    assert not re.search(r"\^\d", page)


def test_abstract_has_no_references_by_default(built):
    text = (built / "abstract.txt").read_text(encoding="utf-8")
    assert "References" not in text and "Firth D." not in text
    assert "taxanes. Outside trials" in text  # the dropped citation leaves no gap


def test_table_headings_keep_their_words_whole(built):
    """No heading word of a table is squeezed into its neighbour: in Table S7 (a
    wide table, its value columns sized to their contents) "n" and "Events" had
    overlapped and "p-value" had broken; every word box of the heading rows lies
    clear of the next."""
    import itertools

    xml = word_boxes(built / "supplement.pdf")
    page = next(p for p in xml.split("<page ")[1:] if ">S7:</word>" in p)
    words = [
        (float(x0), float(y0), float(x1), text)
        for x0, y0, x1, text in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>',
            page,
        )
    ]
    top = next(y for _x, y, _x1, t in words if t == "Term")
    heading = sorted((w for w in words if top - 2 <= w[1] <= top + 20), key=lambda w: (w[1], w[0]))
    assert {"n", "Events", "p-value"} <= {w[3] for w in heading}, heading
    for a, b in itertools.pairwise(heading):
        if abs(a[1] - b[1]) < 2:  # same line
            assert a[2] <= b[0] + 0.5, (a, b)


def test_a_table_caption_keeps_the_documents_full_stop(built):
    """A great-tables title that is the document's caption without its full stop
    ("PSA response" under "PSA response.") is printed as the document wrote it,
    as Quarto prints it: the Typst caption had read "Table S3: PSA response"."""
    text = " ".join(pages(built / "supplement.pdf"))
    checked = 0
    for number, name in enumerate(SUPPLEMENT_TABLES, start=1):
        fragment = (built / "tables" / f"{name}.html").read_text(encoding="utf-8")
        label = f"Table S{number}: {title(fragment)}"
        if label not in text:  # the document's caption is other words
            continue
        checked += 1
        at = text.index(label) + len(label)
        after = text[at : at + 2]  # "." ends it; " from ..." is a longer caption going on
        assert after[0] in ".,:" or (after[0] == " " and after[1].islower()), (label, after)
    assert checked >= 5


def test_the_radionuclide_is_printed_with_a_superscript_mass_number(built):
    """ "¹⁷⁷Lu-PSMA-617" in every document and format, the HTML tables (raw HTML)
    and Word's table captions included; never "177Lu" (filters/typography.lua)."""
    texts = {("abstract", "txt"): (built / "abstract.txt").read_text(encoding="utf-8")}
    for doc in ("abstract", "poster", "supplement"):
        texts[doc, "html"] = (built / f"{doc}.html").read_text(encoding="utf-8")
        if shutil.which("pdftotext"):  # (pypdf reads the superscript one as "1")
            texts[doc, "pdf"] = subprocess.run(
                ["pdftotext", str(built / f"{doc}.pdf"), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        if doc != "poster":
            with zipfile.ZipFile(built / f"{doc}.docx") as z:
                texts[doc, "docx"] = z.read("word/document.xml").decode("utf-8")
    for where, text in texts.items():
        assert "177Lu" not in text, where
        assert "¹⁷⁷Lu-PSMA-617" in text, where
    html_tables = texts["supplement", "html"].split('class="gt_table"')[1:]
    assert any("¹⁷⁷Lu-PSMA-617" in t.split("</table>")[0] for t in html_tables)
