"""``psma-rwe prepare``: the computed inputs of ``quarto render``, written into the project."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from cohorts import minimal_cohort

from analysis import build, prepare, projects
from analysis.errors import PsmaRweError


def _hashes(root, names):
    out = {}
    for name in names:
        for p in sorted((root / name).rglob("*")) if (root / name).is_dir() else [root / name]:
            if p.is_file():
                out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare") / "study"
    projects.init_project(root)
    minimal_cohort(root / "data")
    return root


def test_prepare_writes_what_quarto_needs_and_nothing_else(study, tmp_path):
    sources = ("_quarto.yml", "report", "_extensions", "data")
    before = _hashes(study, sources)
    written = prepare.prepare(study)
    assert [p.name for p in written] == list(prepare.GENERATED)
    assert _hashes(study, sources) == before  # sources and data untouched
    # the variables a build renders from, byte for byte
    report = build.build(study / "data", label="v", outputs=tmp_path / "out", project_dir=study)
    assert (study / "_variables.yml").read_bytes() == (report.path / build.VARIABLES).read_bytes()
    # every table fragment has its fenced wrapper, which the documents include
    for html in (study / "tables").glob("*.html"):
        md = html.with_suffix(".md").read_text(encoding="utf-8")
        assert md.startswith("```{=html}\n") and html.read_text(encoding="utf-8") in md
    assert "{{< include ../tables/table1.md >}}" in (study / "report/supplement.qmd").read_text()
    support = study / "_psma"
    assert (support / "reference.docx").is_file()
    assert any(p.name.startswith("000-Lato") for p in (support / "fonts").iterdir())
    pngs = {p.name for p in (support / "png" / "figures").iterdir()}
    assert {f"{svg.name}.png" for svg in (study / "figures").glob("*.svg")} == pngs
    record = json.loads((support / prepare.RECORD).read_text(encoding="utf-8"))
    assert record["written"] == list(prepare.GENERATED)
    assert not [p for p in study.iterdir() if p.name.startswith(".psma-prepare-")]


def test_prepare_again_replaces_its_own_files(study):
    prepare.prepare(study)
    (study / "tables" / "stale.html").write_text("old", encoding="utf-8")
    prepare.prepare(study)
    assert not (study / "tables" / "stale.html").exists()


def test_prepare_never_touches_a_folder_it_did_not_write(tmp_path):
    root = tmp_path / "study"
    projects.init_project(root)
    minimal_cohort(root / "data")
    (root / "figures").mkdir()
    (root / "figures" / "mine.png").write_bytes(b"user's own")
    with pytest.raises(PsmaRweError, match=r"figures exists and was not written by psma-rwe"):
        prepare.prepare(root)
    assert (root / "figures" / "mine.png").read_bytes() == b"user's own"
    assert not (root / "_variables.yml").exists() and not (root / "tables").exists()


def test_prepare_bad_data_writes_nothing(tmp_path):
    root = tmp_path / "study"
    projects.init_project(root)
    minimal_cohort(root / "data")
    patients = root / "data" / "patients.csv"
    patients.write_text(patients.read_text().replace("P2", "P1"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "prepare"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "patients.csv" in proc.stderr
    assert not any((root / name).exists() for name in prepare.GENERATED)


@pytest.mark.skipif(shutil.which("quarto") is None, reason="quarto is not on PATH")
def test_quarto_renders_a_prepared_project(study):
    prepare.prepare(study)
    proc = subprocess.run(
        ["quarto", "render", "report/abstract.qmd", "--to", "psma-rwe-typst"],
        cwd=study,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    from pypdf import PdfReader

    assert len(PdfReader(study / "report" / "abstract.pdf").pages) == 1


@pytest.mark.skipif(shutil.which("quarto") is None, reason="quarto is not on PATH")
def test_quarto_by_hand_gives_word_the_builds_post_processing(study):
    """The project's post-render step (post-render.lua) sets Word's tables as a build
    does, with psma-rwe not on PATH (the Python that prepare recorded runs it)."""
    import os
    import zipfile
    from pathlib import Path

    prepare.prepare(study)
    quarto_dir = str(Path(shutil.which("quarto")).parent)
    proc = subprocess.run(
        ["quarto", "render", "report/supplement.qmd", "--to", "psma-rwe-docx"],
        cwd=study,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.pathsep.join([quarto_dir, "/usr/bin", "/bin"])},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    xml = zipfile.ZipFile(study / "report" / "supplement.docx").read("word/document.xml")
    assert b'<w:pStyle w:val="TableText"' in xml
