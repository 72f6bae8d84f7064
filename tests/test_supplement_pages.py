"""The supplement PDF's pages as a journal's appendix: filled, floats in reading order.

Two cohorts: the shipped synthetic one and a 200-patient one (``psma-rwe synth``),
whose swimmer plot takes a page of its own and whose Kaplan–Meier figure most of one.
Only the supplement's PDF is rendered (embedded renderer); pages are read with poppler.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cohorts import poster_work
from pypdf import PdfReader
from pypdf.generic import ContentStream
from test_docx_pages import page_fills

from analysis import charts_poster, config, synth
from analysis.render import render_document

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler"),
]


@pytest.fixture(scope="module", params=["shipped", "200-patients"])
def supplement(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp(f"supplement-{request.param}")
    data = config.SYNTHETIC_DIR
    if request.param == "200-patients":
        data = root / "data"
        synth.write_synthetic(data, n_patients=200, seed=2024)
    work = poster_work(data, "48x36in", root / "build")
    return render_document(work, "report/supplement.qmd", root / "out", formats=("pdf",))["pdf"]


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]


def test_no_page_but_the_last_is_under_60_percent_full(supplement, tmp_path):
    """Before, the 200-patient supplement had page 7 44% full (Figure S3 alone: the
    swimmer plot after it takes a page, and Table S5 waited behind it) and page 11
    53% (Tables S7 and S8: the Kaplan–Meier figure did not fit under them and held
    Table S9 back)."""
    fills = page_fills(supplement, tmp_path)
    assert len(fills) > 8
    assert min(fills[:-1]) >= 0.6, [round(f, 2) for f in fills]


def test_floats_keep_their_order_and_follow_their_references(supplement):
    """Figures come in their numbers' order, and so do tables (the floats may go
    ahead of one another only across kinds), and none is printed more than a page
    before the text first names it."""
    pages = page_texts(supplement)
    for kind in ("Table", "Figure"):
        placed = [
            (int(n), p)
            for p, text in enumerate(pages)
            for n in re.findall(rf"^\s*{kind} S(\d+):", text, flags=re.M)
        ]
        numbers = [n for n, _ in placed]
        assert numbers == list(range(1, len(numbers) + 1)), (kind, placed)
        assert len(numbers) >= 7
        for n, page in placed:
            named = [p for p, text in enumerate(pages) if re.search(rf"{kind}s? S{n}\b(?!:)", text)]
            assert named and page >= min(named) - 1, (kind, n, page, named)


def placed_scales(pdf: Path) -> list[float]:
    """Scale at which each embedded chart (a form XObject: vl-convert's PDF, a point
    per pixel) is drawn on its page, from the content streams' ``cm`` matrices."""
    reader = PdfReader(str(pdf))
    scales = []
    for page in reader.pages:
        forms = page.get("/Resources", {}).get("/XObject", {})
        matrix = [[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]
        for operands, op in ContentStream(page.get_contents(), reader).operations:
            if op == b"q":
                matrix.append(list(matrix[-1]))
            elif op == b"Q":
                matrix.pop()
            elif op == b"cm":
                a, b, c, d, _, _ = (float(v) for v in operands)
                m = matrix[-1]
                matrix[-1] = [
                    a * m[0] + b * m[2],
                    a * m[1] + b * m[3],
                    c * m[0] + d * m[2],
                    c * m[1] + d * m[3],
                    m[4],
                    m[5],
                ]
            elif op == b"Do":
                form = forms[operands[0]].get_object()
                if form.get("/Subtype") == "/Form":
                    own = float(form.get("/Matrix", [1, 0, 0, 1, 0, 0])[0])
                    scales.append(abs(matrix[-1][0] * own))
    return scales


def test_chart_text_prints_at_6_pt_or_more(supplement):
    """A figure is shrunk so that two share a page, but not below the size at which
    its smallest text prints at 6.5 pt (typst-template.typ ``min-chart``; a chart
    wider than the text prints it smaller): the shrink had set chart text at 4.9 pt,
    and the 200-patient waterfall (960 px of plot) and swimmer plot (60 rows) at 4.2
    and 4.7 pt."""
    work = supplement.parent.parent / "build" / "_project"
    smallest = min(
        min(charts_poster.font_sizes(json.loads(f.read_text(encoding="utf-8"))))
        for f in (work.parent / "figures").glob("*.vl.json")
        if not f.name.endswith("-poster.vl.json")
    )
    scales = placed_scales(supplement)
    assert len(scales) >= 7
    printed = [round(smallest * s, 2) for s in scales]
    assert min(printed) >= 6.0, printed
