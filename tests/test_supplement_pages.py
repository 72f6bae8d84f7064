"""The supplement PDF's pages as a journal's appendix: filled, floats in reading order.

Two cohorts: the shipped synthetic one and a 200-patient one (``psma-rwe synth``),
whose swimmer plot takes a page of its own and whose Kaplan–Meier figure most of one.
Only the supplement's PDF is rendered (embedded renderer); pages are read with poppler.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cohorts import poster_work
from test_docx_pages import page_fills

from analysis import config, synth
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
