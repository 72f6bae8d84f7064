"""End-to-end tests of the embedded renderer on the fixture project.

The article (every supported feature) and the poster are rendered once per
module; the tests read the HTML, the generated ``.typ``, the PDF (pypdf) and
the DOCX (its XML).  Variants that need a changed source render only what
they check.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from render_project import build_project

from analysis.errors import PsmaRweError
from analysis.render import render_document

pytestmark = pytest.mark.slow


def typ_body(path: Path) -> str:
    """The generated .typ after the inlined function library (typst-template.typ,
    whose comments name the functions the filters call)."""
    text = path.read_text(encoding="utf-8")
    marker = "\n#show: psma-document.with("
    assert marker in text
    return text.split(marker, 1)[1]


def pdf_text(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def docx_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml").decode("utf-8")


def docx_text(path: Path) -> str:
    runs = re.findall(r"<w:t[^>]*>([^<]*)</w:t>", docx_xml(path))
    return html_lib.unescape("".join(runs))


def html_text(markup: str) -> str:
    """Visible text of an HTML page (tags dropped, entities decoded)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html_lib.unescape(body))


def page_size(path: Path, index: int = 0) -> tuple[float, float]:
    box = PdfReader(path).pages[index].mediabox
    return float(box.width), float(box.height)


def set_front_matter(qmd: Path, extra: str) -> None:
    """Insert YAML lines at the top of a document's front matter."""
    text = qmd.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    qmd.write_text("---\n" + extra.rstrip("\n") + "\n" + text[4:], encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory, chart_files):
    """The fixture project with the article and poster rendered to all formats."""
    svg, pdf = chart_files
    root = tmp_path_factory.mktemp("render")
    project = build_project(root / "project", svg, pdf)
    out = root / "out"
    article = render_document(project, "report/article.qmd", out)
    poster = render_document(project, "report/poster.qmd", out)
    return {"project": project, "out": out, "article": article, "poster": poster}


@pytest.fixture(scope="module")
def article_html(built) -> str:
    return built["article"]["html"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def article_typ(built) -> str:
    return typ_body(built["project"] / "_render" / "article.typ")


@pytest.fixture(scope="module")
def article_pdf_text(built) -> str:
    return "\n".join(pdf_text(built["article"]["pdf"]))


# --- API -------------------------------------------------------------------------


def test_returns_one_file_per_format(built):
    out = built["out"]
    assert built["article"] == {
        "html": out / "article.html",
        "pdf": out / "article.pdf",
        "docx": out / "article.docx",
    }
    assert all(p.stat().st_size > 1000 for p in built["article"].values())
    assert built["article"]["pdf"].read_bytes().startswith(b"%PDF")
    assert zipfile.is_zipfile(built["article"]["docx"])


def test_only_requested_formats_are_written(project, tmp_path):
    result = render_document(project, "report/poster.qmd", tmp_path / "o", formats=["html"])
    assert list(result) == ["html"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["poster.html"]


def test_unknown_format_is_rejected(project, tmp_path):
    with pytest.raises(PsmaRweError, match="unknown output format 'latex'"):
        render_document(project, "report/poster.qmd", tmp_path, formats=["latex"])


# --- shortcodes ------------------------------------------------------------------


def test_var_values_appear_in_html_text(article_html):
    text = html_text(article_html)
    assert "This real-world cohort included 120 patients treated at three academic centres" in text
    assert "during 2022–2024, who received 534 doses of lutetium Lu 177" in text
    # a var inside the front-matter title
    assert re.search(
        r"<h1 class=\"title\">lutetium Lu 177 vipivotide tetraxetan in\s+metastatic", article_html
    )


def test_meta_shortcode_reads_document_and_project_metadata(article_html):
    text = html_text(article_html)
    assert "the meeting is GU Cancers Symposium 2025 · Abstract 123" in text  # _quarto.yml
    assert "The document title is “lutetium Lu 177 vipivotide tetraxetan" in text  # front matter


def test_escaped_shortcode_is_literal(article_html):
    assert "A literal shortcode: {{< var not.a.key >}}." in html_text(article_html)


def test_html_special_var_value_is_escaped(article_html, article_typ, built):
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in article_html
    assert "<script>alert(1)" not in article_html
    assert "<b>bold</b>" not in article_html
    assert r"\<script\>alert(1)\</script\>" in article_typ
    assert "<script>alert(1)</script> & <b>bold</b>" in docx_text(built["article"]["docx"])


def test_var_values_reach_typst_and_docx(article_pdf_text, built):
    assert "120 patients" in article_pdf_text
    assert "46% (55/120)" in docx_text(built["article"]["docx"])


def test_an_empty_var_leaves_one_space(project, tmp_path):
    """The abstract's Word file read "October 2023.  Baseline": an empty
    ``cohort.date_note`` between two spaces left both (filters/typography.lua)."""
    variables = project / "_variables.yml"
    variables.write_text(variables.read_text() + 'empty:\n  note: ""\n', encoding="utf-8")
    qmd = project / "report" / "article.qmd"
    qmd.write_text(
        qmd.read_text() + "\nThe cohort ended in 2023. {{< var empty.note >}} Baseline PSA\n"
        "was {{< var empty.note >}}\n{{< var empty.note >}} measured.\n",
        encoding="utf-8",
    )
    out = render_document(project, "report/article.qmd", tmp_path / "o", formats=["docx", "pdf"])
    text = docx_text(out["docx"])
    assert "The cohort ended in 2023. Baseline PSA was measured." in text
    typ = (project / "_render" / "article.typ").read_text(encoding="utf-8")
    assert re.search(r"ended in 2023\. Baseline PSA\s+was\s+measured", typ)
    assert not re.search(r"2023\.  |was\s*\n\s*\n", typ)


def test_unknown_var_key_names_key_and_file(project, tmp_path):
    qmd = project / "report" / "article.qmd"
    qmd.write_text(qmd.read_text() + "\nMissing: {{< var counts.nonexistent >}}\n")
    with pytest.raises(PsmaRweError) as err:
        render_document(project, "report/article.qmd", tmp_path, formats=["html"])
    assert "counts.nonexistent" in str(err.value)
    assert "report/article.qmd" in str(err.value)


def test_unknown_meta_key_names_key_and_file(project, tmp_path):
    (project / "tables" / "note.md").write_text("Year: {{< meta study-year >}}\n")
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(qmd.read_text() + "\n{{< include ../tables/note.md >}}\n")
    with pytest.raises(PsmaRweError) as err:
        render_document(project, "report/poster.qmd", tmp_path, formats=["html"])
    assert "meta key 'study-year'" in str(err.value)
    assert "tables/note.md" in str(err.value)  # the file the shortcode is in


def test_missing_include_is_an_error(project, tmp_path):
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(qmd.read_text() + "\n{{< include ../tables/absent.html >}}\n")
    with pytest.raises(PsmaRweError, match=r"included file '\.\./tables/absent\.html' not found"):
        render_document(project, "report/poster.qmd", tmp_path, formats=["html"])


# --- raw HTML tables ---------------------------------------------------------------


def test_included_gt_table_stays_raw_html_with_scoped_css(article_html):
    block = article_html[article_html.index('<div id="tbl-baseline"') :]
    block = block[: block.index("</table>")]
    assert '<table class="gt_table"' in block
    assert "Table 1:</span> Baseline\ncharacteristics" in block
    # great-tables rules are scoped to the table id, with no weight of their own
    # (:where), so that report.css sets the tables; @import (network) dropped
    assert ":where(#baseline) tr { background-color: transparent; }" in block
    assert ":where(#baseline) thead, :where(#baseline) tbody, :where(#baseline) tfoot" in block
    assert not re.search(r"(^|\n)\s*tr \{", block)
    assert not re.search(r"(^|[\s,])#baseline\b", block.split("<table", 1)[0])
    assert "@import" not in article_html
    assert "fonts.googleapis" not in article_html


def test_included_gt_table_becomes_native_typst_table(article_typ, article_pdf_text):
    fig = article_typ[article_typ.index("#figure(\n  align(center)[#table(") :]
    fig = fig[: fig.index("<tbl-baseline>")]
    assert "table.header([Characteristic], [N = 120], [Percent],)" in fig
    assert "[ECOG 0--1#super[1]], [98], [82%]" in fig  # footnote mark is a superscript
    # title/subtitle rows moved to the caption, not spanning header rows
    assert "caption: [Table 1: Baseline characteristics. Median (IQR) or n (%)]" in fig
    assert "colspan" not in fig
    assert "align: (left,right,right,)" in fig  # from the gt_left/gt_right classes
    notes = article_typ[article_typ.index("\n<tbl-baseline>\n") :]
    assert notes.startswith("\n<tbl-baseline>\n\n#table-notes[")
    assert "Source: synthetic cohort, GTSOURCENOTE" in notes[:300]
    assert "<table" not in article_typ and "gt_table" not in article_typ
    assert "Visceral metastases 27 23%" in article_pdf_text
    assert "Table 1: Baseline characteristics. Median (IQR) or n (%)" in article_pdf_text


def test_included_gt_table_becomes_native_docx_table(built):
    xml = docx_xml(built["article"]["docx"])
    tables = re.findall(r"<w:tbl>.*?</w:tbl>", xml, flags=re.S)
    baseline = [t for t in tables if "Visceral metastases" in t]
    assert len(baseline) == 1
    rows = "".join(re.findall(r"<w:tr>.*?</w:tr>", baseline[0], flags=re.S))
    assert "Characteristic" in rows
    assert "Baseline characteristics" not in rows  # the title is the caption
    assert 'w:val="superscript"' in rows
    text = docx_text(built["article"]["docx"])
    assert "Table 1: Baseline characteristics. Median (IQR) or n (%)" in text
    assert "Source: synthetic cohort, GTSOURCENOTE" in text


# --- conditional content ---------------------------------------------------------------


def test_conditional_content_only_in_its_format(built, article_html, article_pdf_text):
    docx = docx_text(built["article"]["docx"])
    html_t = html_text(article_html)
    assert "HTMLONLYMARKER" in html_t
    assert "HTMLONLYMARKER" not in article_pdf_text and "HTMLONLYMARKER" not in docx
    assert "PDFONLYMARKER" in article_pdf_text
    assert "PDFONLYMARKER" not in html_t and "PDFONLYMARKER" not in docx
    assert "DOCXONLYMARKER" in docx
    assert "DOCXONLYMARKER" not in html_t and "DOCXONLYMARKER" not in article_pdf_text
    assert "NOTDOCXMARKER" in html_t and "NOTDOCXMARKER" in article_pdf_text
    assert "NOTDOCXMARKER" not in docx
    assert "content-visible" not in article_html and "content-hidden" not in article_html


# --- cross-references ------------------------------------------------------------------


def test_crossrefs_numbered_in_document_order(article_html, article_pdf_text, built):
    assert '<a href="#fig-psa">Figure 1</a>' in article_html
    assert '<a href="#fig-waterfall">Figure 2</a>' in article_html
    assert '<a href="#tbl-baseline">Table 1</a>' in article_html
    assert '<a href="#tbl-doses">Table 2</a>' in article_html
    assert '<a href="#fig-psa">Figures\n1</a> and <a href="#fig-waterfall">2</a>' in article_html
    fig2 = article_html[article_html.index('<figure id="fig-waterfall">') :]
    assert "Figure 2:</span> Best PSA\nchange per patient." in fig2[: fig2.index("</figure>")]
    assert "Table 3:</span> Laboratory values" in article_html
    assert "Figure 2: Best PSA change per patient." in article_pdf_text
    assert "waterfall in Figure 2" in article_pdf_text
    docx = docx_text(built["article"]["docx"])
    assert "Figure 2: Best PSA change per patient." in docx
    assert "doses in Table 2" in docx


def test_unknown_crossref_is_an_error(project, tmp_path):
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(qmd.read_text() + "\nAs shown in @fig-nonexistent.\n")
    with pytest.raises(PsmaRweError) as err:
        render_document(project, "report/poster.qmd", tmp_path, formats=["html"])
    assert "pandoc failed" in str(err.value)
    assert "unknown cross-reference @fig-nonexistent" in str(err.value)
    assert "report/poster.qmd" in str(err.value)


# --- figures and callouts -----------------------------------------------------------------


def test_typst_uses_pdf_sibling_and_docx_a_png(article_typ, built):
    assert 'image("/figures/bars.pdf")' in article_typ
    assert ".svg" not in article_typ
    with zipfile.ZipFile(built["article"]["docx"]) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert media and all(n.endswith(".png") for n in media)


def test_callouts(article_html, article_typ, built):
    note = article_html[article_html.index('<div class="callout callout-note">') :]
    assert '<div class="callout-title">\nKey finding\n</div>' in note[:200]
    assert '<div class="callout callout-warning">' in article_html
    assert '#callout(kind: "note", title: [Key finding])[' in article_typ
    assert '#callout(kind: "warning", title: [Warning])[' in article_typ
    xml = docx_xml(built["article"]["docx"])
    assert re.search(r"<w:b\s*/>.*?Key finding", xml, flags=re.S)


# --- HTML document ------------------------------------------------------------------------


@pytest.mark.parametrize("doc", ["article", "poster"])
def test_html_is_self_contained_and_offline(built, doc):
    markup = built[doc]["html"].read_text(encoding="utf-8")
    assert not re.search(r"""src\s*=\s*["']?(https?:)?//""", markup)
    assert not re.search(r"""<link\b[^>]*href\s*=\s*["']?(https?:)?//""", markup)
    assert "<link" not in markup  # the stylesheet is inlined
    assert "mathjax" not in markup.lower() and "googleapis" not in markup
    assert "<math" in markup or doc == "poster"  # MathML, not MathJax
    # the chart is in the page (its text in the page's Lato), with its accessible name
    assert re.search(r'<svg [^>]*class="marks"[^>]* role="img" aria-label="[^"]+"', markup)
    assert 'src="data:image/svg+xml' not in markup


def test_html_title_block_and_toc(built, article_html):
    assert '<p class="authors"><span class="author">Jane\nDoe<sup>1</sup></span>' in article_html
    assert "Smith<sup>1,2</sup>" in article_html
    assert "<li><sup>2</sup> Department of Nuclear Medicine, University\nHospital</li>" in (
        article_html
    )
    assert '<p class="date">2025-01-15</p>' in article_html
    assert '<nav id="TOC"' in article_html  # toc: true under format: html:
    poster = built["poster"]["html"].read_text(encoding="utf-8")
    assert '<nav id="TOC"' not in poster
    assert '<body class="poster">' in poster


def test_interactive_figure_only_in_html(project, tmp_path):
    fragment = (
        '<div id="vis-psa"></div>\n<script type="text/javascript">\n'
        'var s = "<table>"; // INTERACTIVEMARKER\n\nwindow.vegaEmbed && 1;\n</script>\n'
    )
    (project / "figures" / "psa-interactive.html").write_text(fragment)
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(
        qmd.read_text()
        + '\n::: {.content-visible when-format="html"}\n'
        + "{{< include ../figures/psa-interactive.html >}}\n:::\n"
    )
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["html", "pdf"])
    markup = result["html"].read_text()
    assert 'var s = "<table>"; // INTERACTIVEMARKER\n\nwindow.vegaEmbed' in markup
    assert "INTERACTIVEMARKER" not in typ_body(project / "_render" / "poster.typ")


# --- PDF layout --------------------------------------------------------------------------


def test_poster_page_is_48_by_36_inches(built):
    reader = PdfReader(built["poster"]["pdf"])
    assert len(reader.pages) == 1
    assert page_size(built["poster"]["pdf"]) == pytest.approx((3456, 2592), abs=0.01)
    text = reader.pages[0].extract_text()
    assert "Real-world outcomes of lutetium Lu 177" in text
    assert "GU Cancers Symposium 2025" in text
    assert "Department of Nuclear Medicine" in text


@pytest.mark.parametrize(
    ("size", "expected"),
    [("a0", (841 * 72 / 25.4, 1189 * 72 / 25.4)), ("36x48in", (2592, 3456))],
)
def test_poster_size_switches(project, tmp_path, size, expected):
    set_front_matter(project / "report" / "poster.qmd", f"poster-size: {size}")
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["pdf"])
    width, height = page_size(result["pdf"])
    assert (width, height) == pytest.approx(expected, abs=0.01)
    assert height > width  # portrait
    typ = typ_body(project / "_render" / "poster.typ")
    assert "columns: 3," in typ  # portrait default


def test_invalid_poster_size_is_an_error(project, tmp_path):
    set_front_matter(project / "report" / "poster.qmd", "poster-size: huge")
    with pytest.raises(PsmaRweError, match="poster-size: 'huge'"):
        render_document(project, "report/poster.qmd", tmp_path, formats=["pdf"])


# --- poster layout: column breaks, title band, table notes, small print -------------------


def add_column_breaks(qmd: Path) -> None:
    """Breaks in the fixture poster: before Methods (always), before Results (4-column
    posters only) and before Conclusions (3- and 5-column posters only)."""
    text = qmd.read_text(encoding="utf-8")
    for heading, attrs in (
        ("## Methods", ""),
        ("## Results", ' poster-columns="4"'),
        ("## Conclusions", ' poster-columns="3, 5"'),
    ):
        assert text.count(heading) == 1
        text = text.replace(heading, f"::: {{.column-break{attrs}}}\n:::\n\n{heading}")
    qmd.write_text(text, encoding="utf-8")


def heading_positions(pdf: Path, names: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """``{text: (x, y)}`` in PDF points of the first text runs equal to ``names``."""
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, _font, _size):
        name = text.strip()
        if name in names and name not in found:
            found[name] = (
                tm[4] * cm[0] + tm[5] * cm[2] + cm[4],
                tm[4] * cm[1] + tm[5] * cm[3] + cm[5],
            )

    PdfReader(pdf).pages[0].extract_text(visitor_text=visit)
    return found


def test_column_breaks_start_the_next_column_in_pdf_and_html(project, tmp_path):
    add_column_breaks(project / "report" / "poster.qmd")
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["html", "pdf"])

    typ = typ_body(project / "_render" / "poster.typ")
    assert typ.count("#poster-colbreak(") == 2  # the 3- and 5-column break does not apply
    assert re.search(r"#poster-colbreak\(2\)\s*== Methods", typ)
    assert re.search(r"#poster-colbreak\(3\)\s*== Results", typ)
    assert "column-break" not in typ
    reader = PdfReader(result["pdf"])
    assert len(reader.pages) == 1
    column = 3456 / 4
    pos = heading_positions(result["pdf"], ("Background", "Methods", "Results", "Conclusions"))
    assert [int(pos[h][0] // column) for h in ("Background", "Methods", "Results")] == [0, 1, 2]
    assert pos["Background"][1] == pytest.approx(pos["Methods"][1], abs=1)  # both at the top
    assert pos["Methods"][1] == pytest.approx(pos["Results"][1], abs=1)

    body = result["html"].read_text(encoding="utf-8").split("<body")[1]
    grid = body[body.index('<div class="poster-grid" style="--poster-columns: 4">') :]
    columns = re.split(r'<div class="poster-column">\s*', grid)[1:]
    assert len(columns) == 3
    assert columns[0].startswith('<h2 id="background">')
    assert columns[1].startswith('<h2 id="methods">')
    assert columns[2].startswith('<h2 id="results">')
    assert "column-break" not in body


def test_column_breaks_follow_the_number_of_columns(project, tmp_path):
    add_column_breaks(project / "report" / "poster.qmd")
    set_front_matter(project / "report" / "poster.qmd", "poster-size: 36x48in")
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["html", "pdf"])
    typ = typ_body(project / "_render" / "poster.typ")
    assert "columns: 3," in typ
    assert typ.count("#poster-colbreak(") == 2
    assert re.search(r"#poster-colbreak\(3\)\s*== Conclusions", typ)
    assert not re.search(r"#poster-colbreak\(\d\)\s*== Results", typ)
    body = result["html"].read_text(encoding="utf-8").split("<body")[1]
    assert '<div class="poster-grid" style="--poster-columns: 3">' in body
    assert body.count('<div class="poster-column">') == 3


def test_poster_without_breaks_flows_and_the_article_drops_breaks(built, project, tmp_path):
    poster = built["poster"]["html"].read_text(encoding="utf-8").split("<body")[1]
    # data-plan: the PDF's balance, when the PDF was rendered too (poster_plan)
    assert re.search(
        r'<div class="poster-flow" style="--poster-columns: 4"( data-plan="[^"]*")?>', poster
    )
    assert "poster-grid" not in poster
    qmd = project / "report" / "article.qmd"
    text = qmd.read_text(encoding="utf-8")
    qmd.write_text(text.replace("\n## ", "\n::: {.column-break}\n:::\n\n## ", 1), encoding="utf-8")
    result = render_document(project, "report/article.qmd", tmp_path, formats=["html", "pdf"])
    body = result["html"].read_text(encoding="utf-8").split("<body")[1]
    assert "column-break" not in body and "poster-" not in body
    assert "colbreak" not in typ_body(project / "_render" / "article.typ")


def test_column_break_after_an_overflowing_column_is_skipped(project, tmp_path):
    """Column 2 runs over into column 3: the break to column 3 then does nothing
    (a plain column break would push Three to column 4)."""
    filler = " ".join(["Filler text that runs on."] * 180)
    (project / "report" / "cols.qmd").write_text(
        "---\nformat-template: poster\ntitle: Columns\n---\n\n## One\n\nShort.\n\n"
        f"::: {{.column-break}}\n:::\n\n## Two\n\n{filler}\n\n"
        "::: {.column-break}\n:::\n\n## Three\n\nShort.\n",
        encoding="utf-8",
    )
    result = render_document(project, "report/cols.qmd", tmp_path, formats=["pdf"])
    assert len(PdfReader(result["pdf"]).pages) == 1
    pos = heading_positions(result["pdf"], ("One", "Two", "Three"))
    column = 3456 / 4
    assert [int(pos[h][0] // column) for h in ("One", "Two", "Three")] == [0, 1, 2]
    assert pos["Three"][1] < pos["Two"][1] - 500  # below the run-over, not at the top


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("::: {.callout-note}\nText.\n\n::: {.column-break}\n:::\n:::\n", "top level"),
        ("::: {.column-break}\nText.\n:::\n", "must be empty"),
        ('::: {.column-break poster-columns="four"}\n:::\n', "not a list of whole numbers"),
    ],
)
def test_misplaced_column_break_is_an_error(project, tmp_path, block, message):
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(qmd.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")
    with pytest.raises(PsmaRweError, match=message):
        render_document(project, "report/poster.qmd", tmp_path, formats=["pdf"])


def test_poster_title_band_shows_institution_and_contact(project, tmp_path):
    set_front_matter(
        project / "report" / "poster.qmd",
        'institution: "Example Cancer Center"\ncontact: "jane.doe@example.org"',
    )
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["html", "pdf"])
    text = " ".join(PdfReader(result["pdf"]).pages[0].extract_text().split())
    assert "Example Cancer Center" in text and "jane.doe@example.org" in text
    assert "GU Cancers Symposium 2025" in text
    markup = result["html"].read_text(encoding="utf-8")
    event = markup[markup.index('<div class="event">') :]
    event = event[: event.index("</div>")]
    assert '<p class="institution">Example Cancer Center</p>' in event
    assert '<p class="conference">GU Cancers Symposium 2025 · Abstract 123</p>' in event
    assert '<p class="contact"><a href="mailto:jane.doe@example.org"' in event


def test_poster_tables_keep_footnotes_and_drop_source_notes(built):
    typ = typ_body(built["project"] / "_render" / "poster.typ")
    notes = typ[typ.index("#table-notes[") :][:400]
    assert "Eastern Cooperative Oncology Group" in notes
    assert "GTSOURCENOTE" not in typ
    markup = built["poster"]["html"].read_text(encoding="utf-8")
    assert "Eastern Cooperative Oncology Group" in markup
    assert "GTSOURCENOTE" not in markup and "gt_sourcenote" not in markup.split("</style>")[-1]
    # the table's numbers are untouched
    assert "Visceral metastases" in markup and "Visceral metastases" in typ


@pytest.mark.parametrize(
    ("setting", "kept", "dropped"),
    [("all", ["GTSOURCENOTE", "Eastern Cooperative"], []), ("none", [], ["GTSOURCENOTE"])],
)
def test_table_notes_setting(project, tmp_path, setting, kept, dropped):
    set_front_matter(project / "report" / "poster.qmd", f"table-notes: {setting}")
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["html", "pdf"])
    typ = typ_body(project / "_render" / "poster.typ")
    markup = result["html"].read_text(encoding="utf-8")
    for text in kept:
        assert text in typ and text in markup
    for text in dropped:
        assert text not in typ and text not in markup
    if setting == "none":
        assert "#table-notes[" not in typ
        assert "Eastern Cooperative" not in typ
        assert "<tfoot" not in markup.split("</style>")[-1]


def test_small_div(project, tmp_path):
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(
        qmd.read_text(encoding="utf-8") + "\n::: {.small}\nSMALLPRINT text.\n:::\n",
        encoding="utf-8",
    )
    result = render_document(project, "report/poster.qmd", tmp_path, formats=["html", "pdf"])
    typ = typ_body(project / "_render" / "poster.typ")
    assert re.search(r"#small\[\s*SMALLPRINT text\.\s*\]", typ)
    assert "SMALLPRINT text." in PdfReader(result["pdf"]).pages[0].extract_text()
    assert '<div class="small">\n<p>SMALLPRINT text.</p>\n</div>' in result["html"].read_text(
        encoding="utf-8"
    )


def test_article_is_letter_with_page_numbers(built):
    pages = pdf_text(built["article"]["pdf"])
    assert len(pages) >= 3  # the long table runs over
    assert page_size(built["article"]["pdf"]) == pytest.approx((612, 792), abs=0.01)
    for number, text in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in text.splitlines()[-1]
    # the long table breaks across pages and repeats its header row
    with_rows = [t for t in pages if "P120" in t or "P001" in t]
    assert len(with_rows) >= 2 or any("P001" in t and "P120" not in t for t in pages)
    continued = [t for t in pages if "P120" in t]
    assert continued and "Hemoglobin (g/dL)" in continued[0]
    assert "P001" not in continued[0]


def test_article_papersize_a4(project, tmp_path):
    set_front_matter(project / "report" / "article.qmd", "papersize: a4")
    result = render_document(project, "report/article.qmd", tmp_path, formats=["pdf"])
    assert page_size(result["pdf"]) == pytest.approx((595.28, 841.89), abs=0.01)


def test_typst_failure_raises_with_typst_message(project, tmp_path):
    qmd = project / "report" / "poster.qmd"
    qmd.write_text(qmd.read_text() + "\n```{=typst}\n#undefined-function-xyz()\n```\n")
    with pytest.raises(PsmaRweError) as err:
        render_document(project, "report/poster.qmd", tmp_path, formats=["pdf"])
    assert "typst failed" in str(err.value)
    assert "undefined-function-xyz" in str(err.value)


# --- determinism -------------------------------------------------------------------------


def test_rendering_twice_gives_identical_bytes(built, tmp_path):
    again = render_document(built["project"], "report/article.qmd", tmp_path / "again")
    for fmt, path in built["article"].items():
        assert again[fmt].read_bytes() == path.read_bytes(), fmt


# --- plain text ----------------------------------------------------------------------------


def test_render_plain_abstract_text(built, tmp_path):
    from analysis.render import pandoc_version, render_plain

    path = render_plain(built["project"], "report/article.qmd", tmp_path / "a" / "abstract.txt")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == (
        "lutetium Lu 177 vipivotide tetraxetan in metastatic castration-resistant prostate cancer"
    )
    assert "Background" in lines and "Jane Doe" not in text  # headings, no authors
    # one line per paragraph, var values as text, conditional html/pdf/docx content absent
    assert any(
        ln.startswith("This real-world cohort included 120 patients")
        and ln.endswith(
            "vipivotide tetraxetan. Escaping check: <script>alert(1)</script> & <b>bold</b>."
        )
        for ln in lines
    )
    assert "HTMLONLYMARKER" not in text and "PDFONLYMARKER" not in text
    assert "DOCXONLYMARKER" not in text
    # tables: caption line, then tab-separated rows, no rules
    i = lines.index("Table 1: Baseline characteristics. Median (IQR) or n (%)")
    assert lines[i + 2 : i + 5] == [
        "Characteristic\tN = 120\tPercent",
        "Age, years\t71\t—",
        "ECOG 0–1¹\t98\t82%",
    ]
    assert "---" not in text and "{#tbl" not in text
    assert "Figure 2: Best PSA change per patient." in lines
    assert pandoc_version().startswith("3.")


# --- data shaped like internal markers or resource loads ----------------------------------

#: Text that looks like the renderer's own markers or like a resource load.
LOOKALIKES = (
    "QSCX00000XQSC",
    "QSCX99999XQSC",
    "QSCXABCDEFGHIJKLMNOPQRST00001XQSC",
    "qscx00000xqsc",
    "PSMAESC0",
    "#poster-colbreak(2)",
    "@import url(//example.org/x.css)",
    '<link href="//x">',
    "src=//example.org/y.js",
    'style="background:url(//x)"',
)


def test_marker_and_load_lookalikes_print_as_written(project, tmp_path):
    (project / "_variables.yml").write_text(
        (project / "_variables.yml").read_text()
        + "odd:\n"
        + "".join(
            f"  v{i}: {value!r}\n".replace("'", '"') if '"' not in value else f"  v{i}: '{value}'\n"
            for i, value in enumerate(LOOKALIKES)
        )
    )
    cells = "".join(f"<tr><td>{html_lib.escape(v)}</td></tr>\n" for v in LOOKALIKES)
    (project / "tables" / "odd.html").write_text(
        f'<div id="odd">\n<table class="gt_table">\n<tbody>\n{cells}</tbody>\n</table>\n</div>\n'
    )
    qmd = project / "report" / "article.qmd"
    qmd.write_text(
        qmd.read_text()
        + "\n## Heading with {{< var counts.patients >}} patients\n\n"
        + "".join(f"Value {i}: {{{{< var odd.v{i} >}}}}.\n\n" for i in range(len(LOOKALIKES)))
        + "{{< include ../tables/odd.html >}}\n"
    )
    first = render_document(project, "report/article.qmd", tmp_path / "a")
    again = render_document(project, "report/article.qmd", tmp_path / "b")
    for fmt, path in first.items():
        assert again[fmt].read_bytes() == path.read_bytes(), fmt  # no nonce in the output
    markup = first["html"].read_text(encoding="utf-8")
    assert 'id="heading-with-120-patients"' in markup
    text = html_text(markup)
    pdf = re.sub(r"\s+", " ", "\n".join(pdf_text(first["pdf"])))
    docx = docx_text(first["docx"])
    for i, value in enumerate(LOOKALIKES):
        assert f"Value {i}: {value}." in text, value
        assert text.count(value) >= 2, value  # the paragraph and the table cell
        assert f"Value {i}: {value}." in pdf, value
        assert pdf.count(value) >= 2, value
        assert docx.count(value) >= 2, value


@pytest.mark.parametrize(
    "raw",
    [
        '<script src="//cdn.example.org/x.js"></script>',
        '<script src="https://cdn.example.org/x.js"></script>',
        '<link rel="stylesheet" href="//example.org/x.css">',
        "<style>@import url(//example.org/x.css);</style>",
        '<style>@import "https://example.org/x.css";</style>',
        '<div style="background:url(//example.org/x.png)">x</div>',
        '<img srcset="a.png 1x, //example.org/b.png 2x">',
    ],
)
def test_real_remote_loads_are_refused(project, tmp_path, raw):
    qmd = project / "report" / "article.qmd"
    qmd.write_text(qmd.read_text() + f"\n```{{=html}}\n{raw}\n```\n")
    with pytest.raises(PsmaRweError) as err:
        render_document(project, "report/article.qmd", tmp_path, formats=["html"])
    message = str(err.value)
    assert "article.html rendered from report/article.qmd would load a resource" in message
    assert re.search(r"line \d+: <(script|link|style|div|img)", message), message


def test_a_100_kb_word_renders_in_seconds(project, tmp_path):
    # pandoc's Typst writer is quadratic in the length of one word (40 s for this one
    # before long-words.lua); the SVG scan for Word was quadratic too (70 s)
    import time

    word = "x" * 100_000
    (project / "tables" / "long.html").write_text(
        f'<div id="long">\n<table class="gt_table"><tbody><tr><td>{word}</td></tr></tbody>'
        "</table>\n</div>\n"
    )
    qmd = project / "report" / "article.qmd"
    qmd.write_text(qmd.read_text() + "\n{{< include ../tables/long.html >}}\n")
    start = time.perf_counter()
    result = render_document(project, "report/article.qmd", tmp_path, formats=["pdf", "docx"])
    assert time.perf_counter() - start < 30
    assert word in typ_body(project / "_render" / "article.typ")
    assert word in docx_text(result["docx"])


def test_long_words_filter_keeps_the_typst_text(project, tmp_path):
    import random
    import subprocess

    from analysis.render.extension import bundled_dir
    from analysis.render.pipeline import FILTERS_DIR, pandoc_path

    rng = random.Random(7)
    text = "".join(rng.choice("ab1.-/*#_é中 ") for _ in range(12_000)).replace(" ", "")
    source = tmp_path / "x.md"
    source.write_text(text + "\n\nplain" + "y" * 5000 + "\n", encoding="utf-8")

    def typst(*extra: str) -> str:
        args = [pandoc_path(), str(source), "-t", "typst", *extra]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    assert typst(f"--lua-filter={bundled_dir() / FILTERS_DIR / 'long-words.lua'}") == typst()


#: Quarto's HTML and DOCX after its floats are rendered (pandoc native; the shapes
#: quarto 1.9 hands a post-render filter): references as links of class quarto-xref,
#: captions as "Table", a no-break space, the number and ":" in the float's Div.
_QUARTO_POST_RENDER = r"""
[ Para
    [ Link ("", ["quarto-xref"], []) [Str "Table", Str "\160", Str "1"] ("#tbl-a", "")
    , Space
    , Link ("", ["quarto-xref"], []) [Str "1"] ("#fig-b", "")
    , Space
    , Link ("", [], []) [Str "Table", Str "\160", Str "2"] ("#tbl-a", "")
    , Space
    , Str "Table", Str "\160", Str "3"
    ]
, Div ("tbl-a", ["quarto-float"], [])
    [ Div ("", ["quarto-scaffold"], [])
        [ RawBlock (Format "html") "<figcaption>"
        , Plain [Str "Table", Str "\160", Str "1", Str ":", Space, Str "Cohort."]
        , RawBlock (Format "html") "</figcaption>"
        ]
    , Plain [Str "Table", Str "\160", Str "4", Str ":", Space, Str "cell."]
    ]
, Div ("fig-b", [], [])
    [ Plain [Image ("", [], []) [] ("x.png", "")]
    , Para
        [ RawInline (Format "openxml") "<w:pPr><w:pStyle w:val=\"ImageCaption\"/></w:pPr>"
        , Str "Figure", Str "\160", Str "1", Str ":", Space, Str "Course."
        ]
    ]
, Div ("sec-c", [], []) [Para [Str "Table", Str "\160", Str "5"]]
]
"""


def test_number_prefix_filter_prefixes_quartos_numbers(tmp_path):
    """filters/number-prefix.lua (Quarto only, at post-render) puts number-prefix
    before the numbers Quarto wrote in float captions and cross-reference links,
    and nowhere else; a no-op without the option and in Typst."""
    import subprocess

    from analysis.render.extension import bundled_dir
    from analysis.render.pipeline import FILTERS, FILTERS_DIR, pandoc_path

    assert "number-prefix.lua" not in FILTERS  # the embedded crossref.lua writes it
    source = tmp_path / "doc.native"
    source.write_text(_QUARTO_POST_RENDER, encoding="utf-8")
    lua = f"--lua-filter={bundled_dir() / FILTERS_DIR / 'number-prefix.lua'}"

    def convert(to: str, *extra: str) -> str:
        args = [pandoc_path(), str(source), "-f", "native", "-t", to, *extra]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    prefixed = html_text(convert("html", lua, "--metadata=number-prefix:S")).replace("\xa0", " ")
    assert re.findall(r"(?:Table|Figure) S?\d+:?", prefixed) == [
        "Table S1",  # a reference
        "Table 2",  # a link that is not Quarto's reference
        "Table 3",  # text
        "Table S1:",  # the table's caption
        "Table 4:",  # a paragraph in the table, not its caption
        "Figure S1:",  # the figure's caption (after Word's paragraph style)
        "Table 5",  # not a table or figure
    ]
    assert re.search(r"\bS1 Table 2", prefixed)  # -@fig-b: the number alone
    # in HTML the captions' labels (only theirs) in span.crossref-label, as the
    # embedded renderer's (css/report.css sets them in bold); without the option
    # nothing else changes
    span = re.compile(r'<span class="crossref-label">(.*?)</span>', re.S)
    spans = span.findall(convert("html", lua, "--metadata=number-prefix:S"))
    assert [" ".join(s.split()) for s in spans] == ["Table S1:", "Figure S1:"]
    plain = convert("html", lua)
    assert [" ".join(s.split()) for s in span.findall(plain)] == ["Table 1:", "Figure 1:"]
    assert span.sub(r"\1", plain) == convert("html")
    assert convert("typst", lua, "--metadata=number-prefix:S") == convert("typst")


def test_layout_takes_a_drawn_callout_out_of_its_div(tmp_path):
    """Under Quarto callouts.lua draws a callout before layout.lua runs and keeps it in
    a Div of its classes (psma-drawn) for the poster's units; layout.lua then takes it
    out, so that no #block[] (with spacing of its own) encloses the callout, as in the
    embedded renderer's Typst.  A callout not yet drawn (the embedded renderer's) stays."""
    import os
    import subprocess

    from analysis.render.extension import bundled_dir
    from analysis.render.pipeline import FILTERS_DIR, pandoc_path

    drawn = (
        '[ Div ("", ["callout", "callout-important"], [("psma-drawn", "true")])'
        ' [ RawBlock (Format "typst") "#callout(kind: \\"important\\")["'
        ' , Para [Str "Found."] , RawBlock (Format "typst") "]" ]'
        ' , Para [Str "After."] ]'
    )
    source = tmp_path / "doc.native"
    lua = f"--lua-filter={bundled_dir() / FILTERS_DIR / 'layout.lua'}"

    def typst(native: str, template: str) -> str:
        source.write_text(native, encoding="utf-8")
        env = {**os.environ, "PSMA_RENDER_TEMPLATE": template}
        args = [pandoc_path(), str(source), "-f", "native", "-t", "typst", lua]
        return subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout

    for template in ("poster", "article"):
        out = typst(drawn, template)
        assert "#callout(" in out and "#block[" not in out, (template, out)
    # the unit still knows the callout: a section start, the lead (key findings)
    assert "(start: true, lead: true, optional: false, body: [\n#callout(" in typst(drawn, "poster")
    assert "#block[" in typst(drawn.replace('("psma-drawn", "true")', ""), "article")


def test_poster_typst_floats_are_numbered_by_typst(tmp_path):
    """On the poster in Typst, crossref.lua leaves the numbering to Typst (which numbers
    only the floats the balance places): captions without a label, one show rule per
    kind (fig-title, number-prefix, title-delim) and references as Typst refs, linked;
    the article's Typst and the poster's HTML keep the filter's own numbers."""
    import os
    import subprocess

    import typst

    from analysis.render.extension import bundled_dir
    from analysis.render.pipeline import FILTERS_DIR, pandoc_path

    source = tmp_path / "doc.md"
    source.write_text(
        "---\nnumber-prefix: S\ncrossref:\n  fig-title: Fig.\n  title-delim: .\n---\n\n"
        "See @fig-a, [@fig-a; @fig-b] and -@fig-b.\n\n"
        "![First.](a.png){#fig-a}\n\n![Second.](b.png){#fig-b}\n",
        encoding="utf-8",
    )
    lua = f"--lua-filter={bundled_dir() / FILTERS_DIR / 'crossref.lua'}"

    def convert(to: str, template: str) -> str:
        env = {**os.environ, "PSMA_RENDER_TEMPLATE": template}
        args = [pandoc_path(), str(source), "-t", to, lua]
        return subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout

    poster = convert("typst", "poster")
    assert "Fig. S1" not in poster and "First." in poster
    assert (
        '#show figure.where(kind: image): set figure(numbering: n => "S" + str(n), '
        'supplement: "Fig.")' in poster
    )
    assert '#set figure.caption(separator: ". ")' in poster

    def ref(key: str, supplement: str) -> str:
        return f'#link(label("fig-{key}"), ref(label("fig-{key}"), supplement: {supplement}));'

    figure, flat = '"Figure"', " ".join(poster.split())
    assert f"See {ref('a', figure)}, Figures {ref('a', 'none')} and" in flat
    assert f"and {ref('b', 'none')}." in flat
    # what Typst makes of it (rectangles for the images)
    body = poster.replace('image("a.png")', "rect()").replace('image("b.png")', "rect()")
    typ = tmp_path / "doc.typ"
    typ.write_text("#set figure(numbering: none)\n" + body, encoding="utf-8")
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(typst.compile(str(typ)))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(str(pdf)).pages).split())
    assert "See Figure S1, Figures S1 and S2 and S2." in text
    assert "Fig. S1. First." in text and "Fig. S2. Second." in text
    assert "Fig. S1. First." in convert("typst", "article")
    assert "Fig. S1." in convert("html", "poster")


def test_an_html_poster_alone_follows_its_pdf_when_asked(project, tmp_path):
    """follow_pdf (the preview's HTML-only renders): the poster's page carries the
    PDF's plan, the PDF itself stays in the work folder; an article compiles no PDF;
    without follow_pdf the page balances itself (no plan)."""
    out = tmp_path / "out"
    result = render_document(project, "report/poster.qmd", out, formats=["html"], follow_pdf=True)
    assert set(result) == {"html"} and sorted(p.name for p in out.iterdir()) == ["poster.html"]
    found = re.search(
        r'<div class="poster-flow"[^>]* data-plan="([^"]*)"', result["html"].read_text()
    )
    plan = json.loads(found[1].replace("&quot;", '"'))
    assert set(plan) == {"dropped", "bounds", "gaps", "figure-scale"}

    alone = render_document(project, "report/poster.qmd", tmp_path / "alone", formats=["html"])
    assert "data-plan=" not in alone["html"].read_text(encoding="utf-8")

    article = render_document(
        project, "report/article.qmd", tmp_path / "a", formats=["html"], follow_pdf=True
    )
    assert set(article) == {"html"} and not (project / "_render" / "article.pdf").exists()
