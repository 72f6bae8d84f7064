"""The poster PDF: its columns end together, and it shows Table 1, the forest plot and
the follow-up (or says that follow-up was not provided)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cohorts import minimal_cohort, poster_work
from pypdf import PdfReader

from analysis import charts_poster as cp
from analysis import config
from analysis.followup_docs import NOT_PROVIDED
from analysis.render import render_document
from analysis.render.layout import poster_geometry

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
#: Columns may end this far apart, inches.
BALANCE_IN = 1.0


def render_poster(data: Path, size: str, root: Path) -> Path:
    """The poster PDF of cohort ``data`` at ``poster-size: size`` (the project's sources)."""
    work = poster_work(data, size, root)
    return render_document(work, "report/poster.qmd", root / "out", formats=("pdf",))["pdf"]


def column_words(pdf: Path, size: str) -> list[list[tuple[str, float, float]]]:
    """``(word, yMin, yMax)`` of each poster column under the title band, top to bottom
    (``pdftotext -bbox`` word boxes, columns from the poster's geometry)."""
    g = poster_geometry({"poster-size": size})
    words = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    s = min(g["width"], g["height"]) / (36 * 72)
    margin, gutter, width = 1.1 * 72 * s, 0.9 * 72 * s, g["column_width"]
    columns: list[list[tuple[str, float, float]]] = [[] for _ in range(g["columns"])]
    box = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>'
    for m in re.finditer(box, words):
        x0, y0, y1 = (float(v) for v in m.groups()[:3])
        k = int((x0 - margin + gutter / 2) // (width + gutter))
        if 0 <= k < g["columns"] and y0 > 0.25 * g["height"]:
            columns[k].append((m.group(4), y0, y1))
    return [sorted(c, key=lambda w: w[1]) for c in columns]


def column_gaps(pdf: Path, size: str) -> list[float]:
    """Inches from the lowest word of each poster column to the page's bottom edge."""
    height = poster_geometry({"poster-size": size})["height"]
    lowest = [max((y1 for _, _, y1 in column), default=0.0) for column in column_words(pdf, size)]
    return [(height - y) / 72 for y in lowest]


def _text(pdf: Path) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(str(pdf)).pages).split())


@pytest.fixture(scope="module", params=["48x36in", "36x48in"])
def synthetic(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"poster-{request.param}")
    return request.param, render_poster(config.SYNTHETIC_DIR, request.param, root)


@pytest.fixture(scope="module")
def without_followup(tmp_path_factory):
    root = tmp_path_factory.mktemp("poster-none")
    return render_poster(minimal_cohort(root / "data"), "48x36in", root / "build")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_columns_end_within_an_inch_of_each_other(synthetic):
    size, pdf = synthetic
    assert len(PdfReader(str(pdf)).pages) == 1
    gaps = column_gaps(pdf, size)
    assert len(gaps) == poster_geometry({"poster-size": size})["columns"]
    assert all(g > 0 for g in gaps), gaps  # nothing is cut off at the page edge
    assert max(gaps) - min(gaps) <= BALANCE_IN, gaps


@pytest.fixture(scope="module")
def a0(tmp_path_factory):
    root = tmp_path_factory.mktemp("poster-a0")
    return render_poster(config.SYNTHETIC_DIR, "a0", root)


def widest_gaps(pdf: Path, size: str) -> list[float]:
    """Inches of the widest vertical gap between the words of each poster column."""
    widest = []
    for column in column_words(pdf, size):
        bottom, gaps = column[0][2], [0.0]
        for _, y0, y1 in column[1:]:
            gaps.append((y0 - bottom) / 72)
            bottom = max(bottom, y1)
        widest.append(max(gaps))
    return widest


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_a0_columns_end_together_without_wide_gaps(a0):
    """The portrait A0 poster's first column (text and Table 1, little of it) had its
    sections 2.9 in apart, as each column took all its slack into its own gaps so
    that the columns ended together; the gaps now grow by at most a cap while they
    can, and the columns still end within an inch of each other."""
    gaps = column_gaps(a0, "a0")
    assert len(PdfReader(str(a0)).pages) == 1
    assert all(g > 0 for g in gaps) and max(gaps) - min(gaps) <= BALANCE_IN, gaps
    widest = widest_gaps(a0, "a0")
    assert max(widest) <= 2.6, [round(w, 2) for w in widest]
    # and none far above the bottom margin (0.8 in from the page's edge when full)
    assert max(gaps) <= 2.3, gaps


def poster_flow(pdf: Path) -> dict:
    """What the poster's column balance measured and chose (``<psma-poster-flow>``)."""
    import typst

    from analysis import fonts

    work = pdf.parent.parent / "_project"
    typ = work / "_render" / "poster.typ"
    return json.loads(
        typst.query(
            str(typ),
            "<psma-poster-flow>",
            field="value",
            one=True,
            root=str(work),
            font_paths=fonts.typst_fonts(fonts.font_set(work), typ.parent / "fonts"),
        )
    )


def test_the_key_findings_box_heads_its_column(synthetic):
    """The balance may put the key findings anywhere in a column; it is placed first."""
    size, pdf = synthetic
    flow = poster_flow(pdf)
    leads = [column for column in flow["leads"] if any(column)]
    assert len(leads) == 1, (size, flow["leads"])  # one key-findings box on the poster
    assert leads[0][0] and not any(leads[0][1:]), (size, flow["leads"])


def test_figures_are_numbered_as_placed(synthetic):
    """The balance leaves out the .poster-optional figures that do not fit; the figures
    placed are numbered 1, 2, ... in the order they are read, one caption for each, and
    every "Figure N" of the text names one of them (numbered before the balance chose,
    the portrait poster's figures were 1, 4, 5, 6, the landscape's 1, 2, 4, 5, 6)."""
    size, pdf = synthetic
    text = _text(pdf)
    work = pdf.parent.parent / "_project"
    sources = [work / "report" / "poster.qmd", *sorted((work / "followup").glob("poster.md"))]
    in_source = sum(len(re.findall(r"\{#fig-", p.read_text(encoding="utf-8"))) for p in sources)
    flow = poster_flow(pdf)
    # what is tested: the landscape poster leaves out an optional figure (the
    # portrait one keeps both, with narrower figures: the test below)
    assert flow["dropped"] > 0 or size == "36x48in"
    captions = [int(n) for n in re.findall(r"Figure (\d+):", text)]
    assert captions == list(range(1, in_source - flow["dropped"] + 1)), captions
    references = [int(n) for n in re.findall(r"\bFigures? (\d+)(?![\d:])", text)]
    assert references and set(references) <= set(captions), (references, captions)
    tables = [int(n) for n in re.findall(r"Table (\d+):", text)]
    assert tables == list(range(1, len(tables) + 1)) and tables, tables
    assert set(int(n) for n in re.findall(r"\bTables? (\d+)(?![\d:])", text)) <= set(tables)


def test_narrower_figures_keep_the_optional_ones_when_they_fit(synthetic):
    """The portrait poster left out both optional figures: the columns fitted without
    them but the third then had its sections 3.7 in apart.  At 0.96 of the column
    width its figures keep both, and the gaps close.  No figure is set so narrow
    that the charts' smallest text prints under 24 pt (14 px in a 400 px chart, the
    rule of analysis/charts_poster.py, which poster.typ repeats); the landscape
    poster keeps its figures at full width (narrower ones would not keep its
    optional figure)."""
    size, pdf = synthetic
    flow = poster_flow(pdf)
    scale = flow["figure-scale"]
    column = poster_geometry({"poster-size": size})["column_width"]
    smallest = cp.POSTER_FONT_MIN / cp.POSTER_CHART_WIDTH * column * scale
    assert smallest >= cp.POSTER_MIN_PT, (size, scale, smallest)
    if size == "36x48in":
        assert flow["dropped"] == 0 and scale < 1, flow
        widest = widest_gaps(pdf, size)
        assert max(widest) <= 2.0, [round(w, 2) for w in widest]
    else:
        assert flow["dropped"] == 1 and scale == 1, flow
    # the Typst library's copy of the rule
    library = (PROJECT / "_extensions/psma-rwe/typst/poster.typ").read_text(encoding="utf-8")
    ratio = re.search(r"#let poster-chart-text = (\d+) / (\d+)", library)
    assert ratio and (float(ratio[1]), float(ratio[2])) == (
        cp.POSTER_FONT_MIN,
        cp.POSTER_CHART_WIDTH,
    )
    assert "24pt / (poster-chart-text * w)" in library and cp.POSTER_MIN_PT == 24


def test_table_captions_are_the_documents(synthetic):
    """A table's caption is the one its div gives (as under Quarto and in the HTML
    poster), not the title of the great-tables table it includes when that title only
    begins with the same words ("Baseline characteristics by PSA50 response" is the
    supplement's table's, which has a column per response group)."""
    _, pdf = synthetic
    text = _text(pdf)
    qmd = (pdf.parent.parent / "_project" / "report" / "poster.qmd").read_text("utf-8")
    captions = re.findall(r"(?ms)^::: \{#tbl-[\w-]+\}\n.*?\n\n([^\n]+)\n:::", qmd)
    assert captions
    for n, caption in enumerate(captions, 1):
        assert f"Table {n}: {caption} " in text, (caption, text[text.find(f"Table {n}:") :][:80])


def test_a_reference_to_an_optional_figure_is_an_error(tmp_path):
    """A .poster-optional figure may be left out: a cross-reference to it, which would
    name a figure the poster may not show, is refused with the key."""
    from analysis.errors import PsmaRweError

    work = poster_work(config.SYNTHETIC_DIR, "48x36in", tmp_path)
    qmd = work / "report" / "poster.qmd"
    source = qmd.read_text(encoding="utf-8")
    assert "(@fig-swimmer)" in source and "{#fig-course}" in source
    qmd.write_text(source.replace("(@fig-swimmer)", "(@fig-swimmer, @fig-course)"), "utf-8")
    for fmt in ("pdf", "html"):
        with pytest.raises(PsmaRweError, match=r"@fig-course refers to #fig-course, which is in "):
            render_document(work, "report/poster.qmd", tmp_path / "out", formats=(fmt,))


def test_poster_shows_table1_forest_plot_and_follow_up(synthetic):
    _, pdf = synthetic
    text = _text(pdf)
    assert "Baseline characteristics" in text and "Gleason score" in text
    assert "ECOG performance status" in text and "Prior therapies, n" in text
    assert "Predictors of PSA50" in text and "Odds ratio (log scale)" in text
    assert "Kaplan–Meier" in text and "Number at risk" in text
    assert re.search(r"Week-\d+ landmark: hazard ratio of death was [\d.]+ \(95% CI", text)
    assert NOT_PROVIDED not in text


def test_poster_says_follow_up_was_not_provided(without_followup):
    text = _text(without_followup)
    assert " ".join(NOT_PROVIDED.split()) in text
    assert "Kaplan–Meier" not in text and "Number at risk" not in text
    assert "Baseline characteristics" in text and "Predictors of PSA50" in text


def test_content_that_cannot_fit_fails_with_an_error_naming_the_poster_size(tmp_path):
    """Content the columns cannot hold even without the optional figures is an error
    that names the poster size (it ran past the bottom margin, cut off): shrinking the
    type or the figures would print them under their sizes (30 pt body, 24 pt chart
    text on a 36 in short side), so what to give up is the author's choice."""
    from analysis.errors import PsmaRweError

    work = poster_work(config.SYNTHETIC_DIR, "a1", tmp_path)
    qmd = work / "report" / "poster.qmd"
    extra = "\n\n".join(["A paragraph the poster cannot hold. " * 20] * 14)
    qmd.write_text(
        qmd.read_text(encoding="utf-8").replace(
            "## References", f"## Discussion\n\n{extra}\n\n## References"
        ),
        encoding="utf-8",
    )
    with pytest.raises(PsmaRweError) as err:
        render_document(work, "report/poster.qmd", tmp_path / "out", formats=("pdf",))
    line = next(x for x in str(err.value).splitlines() if "poster-size" in x)
    assert re.search(
        r"poster-size 594 x 841 mm \(23\.4 x 33\.1 in\): the content does not fit the "
        r"poster's 3 columns even without its \.poster-optional figures \(the longest runs "
        r"[\d.]+ in past the bottom margin\); choose a larger poster-size",
        line,
    ), line
