"""Hardening of what a build leaves and what reads it back: diff, analyze, the manifest.

Each class of failure the adversarial review found is tested in several variants:
damaged versions given to ``diff`` (altered, truncated, missing or non-UTF-8
files, garbage manifests), ``analyze`` unable to write, an existing label that
is not a version, outputs placed inside the sources, a second build of the same
version, and paths in the manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from cohorts import copy_project_sources, minimal_cohort
from test_hardening import _fake_build_into, run_build
from typer.testing import CliRunner

from analysis import config
from analysis.build import MANIFEST, build
from analysis.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Two real versions of a small cohort (v2: one patient a year older)."""
    root = tmp_path_factory.mktemp("versions")
    data = minimal_cohort(root / "data")
    outputs = root / "outputs"
    build(data, label="v1", outputs=outputs)
    patients = (data / "patients.csv").read_text(encoding="utf-8").splitlines()
    header = patients[0].split(",")
    row = patients[1].split(",")
    age = header.index("age_at_first_dose")
    row[age] = str(int(row[age]) + 1)
    patients[1] = ",".join(row)
    (data / "patients.csv").write_text("\n".join(patients) + "\n", encoding="utf-8")
    build(data, label="v2", outputs=outputs)
    return outputs


@pytest.fixture
def copy(versions, tmp_path):
    """A private copy of the outputs folder to damage."""
    target = tmp_path / "outputs"
    shutil.copytree(versions, target)
    return target


def diff(outputs: Path, a: str = "v1", b: str = "v2"):
    return CliRunner().invoke(app, ["diff", a, b, "--outputs", str(outputs)])


def assert_clean_error(result, *phrases):
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, (phrase, result.output)


def test_diff_of_intact_versions_works(versions):
    result = diff(versions)
    assert result.exit_code == 0, result.output
    assert "data/patients.csv changed" in result.output


@pytest.mark.parametrize(
    ("damage", "phrases"),
    [
        pytest.param(
            lambda v: (v / "results.json").write_text(
                (v / "results.json").read_text().replace("2", "3", 1)
            ),
            ("v2", "results.json", "changed after the build"),
            id="edited-results",
        ),
        pytest.param(
            lambda v: (v / "results.json").write_bytes((v / "results.json").read_bytes()[:50]),
            ("results.json", "changed after the build"),
            id="truncated-results",
        ),
        pytest.param(
            lambda v: (v / "results.json").unlink(), ("missing: ", "results.json"), id="no-results"
        ),
        pytest.param(
            lambda v: (v / "abstract.txt").write_bytes(b"\xff\xfe not utf-8"),
            ("abstract.txt", "changed after the build"),
            id="abstract-not-utf8",
        ),
        pytest.param(
            lambda v: (v / "tables" / "table1.html").write_text("<p>edited</p>"),
            ("tables/table1.html",),
            id="edited-table",
        ),
        pytest.param(
            lambda v: (v / MANIFEST).write_bytes(b"\x00garbage{"),
            ("manifest.json is not valid JSON",),
            id="garbage-manifest",
        ),
        pytest.param(
            lambda v: (v / MANIFEST).write_text("[]"),
            ("manifest.json holds a list",),
            id="list-manifest",
        ),
        pytest.param(
            lambda v: (v / MANIFEST).write_text('{"inputs": {}}'),
            ("no 'outputs' table",),
            id="manifest-without-outputs",
        ),
        pytest.param(
            lambda v: _edit_manifest(v, lambda m: m["inputs"]["data/doses.csv"].pop("sha256")),
            ("input 'data/doses.csv' has no sha256",),
            id="input-without-sha256",
        ),
        pytest.param(
            lambda v: _edit_manifest(v, lambda m: m["outputs"].update({"results.json": None})),
            ("output 'results.json' has no sha256",),
            id="output-without-sha256",
        ),
    ],
)
def test_diff_refuses_a_damaged_version_naming_the_file(copy, damage, phrases):
    damage(copy / "v2")
    assert_clean_error(diff(copy), "is damaged", *phrases)


def _edit_manifest(version: Path, change) -> None:
    manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    (version / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_diff_says_what_a_non_version_is(copy, tmp_path):
    (copy / "notes").mkdir()
    assert_clean_error(diff(copy, "v1", "notes"), "not a built version")
    (copy / "file.txt").write_text("x")
    assert_clean_error(diff(copy, "v1", "file.txt"), "is a file")


def test_a_label_wins_over_a_folder_of_the_same_name_in_the_current_directory(
    copy, tmp_path, monkeypatch
):
    decoy = tmp_path / "cwd" / "v2"
    shutil.copytree(copy / "v1", decoy)  # a folder named v2 that holds v1
    monkeypatch.chdir(tmp_path / "cwd")
    result = diff(copy)
    assert result.exit_code == 0, result.output
    assert "data/patients.csv changed" in result.output  # really compared v1 with v2


# --- analyze writing --------------------------------------------------------------


def _analyze(data: Path, out: Path):
    return CliRunner().invoke(app, ["analyze", str(data), "--out", str(out)])


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param(lambda out: out.write_text("a file"), id="out-is-a-file"),
        pytest.param(lambda out: (out / "results.json").mkdir(parents=True), id="results-folder"),
        pytest.param(
            lambda out: (out / "patient_summary.csv").mkdir(parents=True), id="csv-is-a-folder"
        ),
        pytest.param(
            lambda out: (out.parent / "blocker").write_text("x") or None, id="parent-is-file"
        ),
    ],
)
def test_analyze_write_failures_are_one_line(tmp_path, setup):
    data = minimal_cohort(tmp_path / "data")
    out = tmp_path / "out"
    setup(out)
    target = tmp_path / "blocker" / "out" if not out.exists() else out
    result = _analyze(data, target)
    assert_clean_error(result, "cannot write the analysis to")


def test_analyze_disk_full_is_one_line(tmp_path, monkeypatch):
    import errno

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("analysis.analyze.write_text_atomic", lambda p, t: full(p, t))
    result = _analyze(minimal_cohort(tmp_path / "data"), tmp_path / "out")
    assert_clean_error(result, "No space left on device", "results.json")


def test_analyze_read_only_folder_is_one_line(tmp_path, monkeypatch):
    import errno

    def ro(path, text):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr("analysis.analyze.write_text_atomic", ro)
    result = _analyze(minimal_cohort(tmp_path / "data"), tmp_path / "out")
    assert_clean_error(result, "Read-only file system")


# --- build: labels, places, concurrency, the manifest --------------------------------


@pytest.mark.parametrize("kind", ["file", "folder", "symlink"])
def test_an_existing_non_version_under_the_label_is_named_as_such(tmp_path, kind):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    target = outputs / "v"
    if kind == "file":
        target.write_text("x")
    elif kind == "folder":
        target.mkdir()
        (target / "mine.txt").write_text("x")
    else:
        target.symlink_to(tmp_path)
    result = run_build(minimal_cohort(tmp_path / "data"), outputs, label="v")
    assert_clean_error(result, "is not a version" if kind != "file" else "is a file")
    assert "different inputs" not in result.output


@pytest.mark.parametrize("inside", ["report", "report/sub", "fonts"])
def test_outputs_inside_the_copied_sources_is_refused(tmp_path, inside):
    project = tmp_path / "project"
    copy_project_sources(project)
    shutil.copy2(config.QUARTO_PROJECT, project / "_quarto.yml")
    (project / "fonts").mkdir()
    with pytest.raises(Exception, match="inside the project's"):
        build(
            minimal_cohort(tmp_path / "data"),
            label="v",
            outputs=project / inside,
            project_dir=project,
        )
    assert not (project / inside / "v").exists()


def test_quarto_missing_is_said_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    called = []
    monkeypatch.setattr("analysis.load.load_cohort", lambda *a, **k: called.append(1))
    args = ["build", str(minimal_cohort(tmp_path / "data")), "--renderer", "quarto"]
    result = CliRunner().invoke(app, [*args, "--outputs", str(tmp_path / "o")])
    assert_clean_error(result, "quarto is not on PATH")
    assert called == [] and not (tmp_path / "o").exists()


def test_a_second_build_of_the_same_version_says_up_to_date(tmp_path, monkeypatch):
    """Two builds of one label and inputs race: the one that finishes second is up to date."""
    data = minimal_cohort(tmp_path / "data")
    outputs = tmp_path / "outputs"
    first = build(data, label="v", outputs=outputs)
    real = first.path / MANIFEST

    shutil.move(first.path, tmp_path / "aside")  # as if the first had not finished yet
    monkeypatch.setattr("analysis.build._build_into", _fake_build_into())
    original = os.rename

    def rename(src, dst):
        if Path(dst) == outputs / "v" and not Path(dst).exists():
            original(tmp_path / "aside", dst)  # the other build wins the race
        return original(src, dst)

    monkeypatch.setattr("analysis.build.os.rename", rename)
    result = run_build(data, outputs, label="v")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert real.is_file() and sorted(p.name for p in outputs.iterdir()) == ["v"]


def test_the_manifest_stores_no_absolute_paths(tmp_path):
    data = minimal_cohort(tmp_path / "secret-person-folder" / "data")
    report = build(data, label="v", outputs=tmp_path / "outputs")
    text = (report.path / MANIFEST).read_text(encoding="utf-8")
    assert str(tmp_path) not in text and "secret-person-folder" not in text
    assert str(config.PROJECT_DIR) not in text
    manifest = json.loads(text)
    assert manifest["inputs"]["report/abstract.qmd"]["path"] == "report/abstract.qmd"
    assert manifest["inputs"]["data/doses.csv"]["path"] == "data/doses.csv"
    assert manifest["data_dir"] == "data"


@pytest.mark.parametrize("name", ["out[1]", "[bold]x[/bold]", "a[red]b"])
def test_paths_with_brackets_print_literally(tmp_path, name):
    data = minimal_cohort(tmp_path / name / "data")
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert name in result.output
    result = _analyze(data, tmp_path / name / "out")
    assert result.exit_code == 0, (result.output, result.exception)
    assert str(tmp_path / name / "out" / "results.json") in result.output.replace("\n", "")


def test_the_build_parses_the_very_bytes_it_hashed(tmp_path, monkeypatch):
    """A data file replaced between hashing and parsing cannot give results under the old hash."""
    import hashlib

    import analysis.build as builder

    data = minimal_cohort(tmp_path / "data")
    original = (data / "patients.csv").read_bytes()
    real = builder.collect_inputs

    def collect_then_replace(data_dir, project_dir=config.PROJECT_DIR):
        inputs = real(data_dir, project_dir)
        lines = original.decode("utf-8").splitlines()
        (data / "patients.csv").write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
        return inputs

    monkeypatch.setattr(builder, "collect_inputs", collect_then_replace)
    report = build(data, label="v", outputs=tmp_path / "outputs")
    results = json.loads((report.path / "results.json").read_text(encoding="utf-8"))
    assert results["cohort"]["n_patients"] == 2  # the hashed file had two patients
    manifest = json.loads((report.path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["inputs"]["data/patients.csv"]["sha256"] == hashlib.sha256(original).hexdigest()


def test_strict_fails_on_the_abstract_length_before_rendering_any_document(tmp_path, monkeypatch):
    project = tmp_path / "project"
    copy_project_sources(project)
    text = config.QUARTO_PROJECT.read_text(encoding="utf-8")
    (project / "_quarto.yml").write_text(
        text.replace("char-limit: 2000", "char-limit: 100"), encoding="utf-8"
    )
    rendered = []
    monkeypatch.setattr("analysis.render.render_document", lambda *a, **k: rendered.append(a) or {})
    with pytest.raises(Exception, match=r"over the limit of 100 .*--strict"):
        build(
            minimal_cohort(tmp_path / "data"),
            label="v",
            outputs=tmp_path / "o",
            project_dir=project,
            strict=True,
        )
    assert rendered == []
    assert not (tmp_path / "o" / "v").exists()


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def test_a_small_cohort_gives_no_date_narrower_than_a_year(tmp_path):
    """Two patients (< 11, the small-cell rule): years only, and the documents say why."""
    from pypdf import PdfReader

    report = build(minimal_cohort(tmp_path / "data"), label="v", outputs=tmp_path / "o")
    texts = {
        "abstract.txt": (report.path / "abstract.txt").read_text(encoding="utf-8"),
        "supplement.html": (report.path / "supplement.html").read_text(encoding="utf-8"),
        "poster.pdf": " ".join(
            p.extract_text() for p in PdfReader(str(report.path / "poster.pdf")).pages
        ),
    }
    for name, text in texts.items():
        for month in MONTHS:
            assert not re.search(rf"\b{month} 20\d\d\b", text), (name, month)
    assert "in 2023" in " ".join(texts["abstract.txt"].split())
    assert "Dates are given by year only" in texts["abstract.txt"]
    assert "fewer than 11 patients" in texts["supplement.html"]


def test_the_shipped_cohort_keeps_its_months(tmp_path):
    import datetime as dt

    from analysis.variables import _period

    span = (dt.date(2022, 1, 5), dt.date(2023, 10, 2))
    assert _period(span, 21, 11)[2] == "between January 2022 and October 2023"
    assert _period(span, 10, 11)[2] == "between 2022 and 2023"
    assert _period(span, 10, 11)[3].startswith("Dates are given by year only")
    assert _period(span, 10, 5)[3] == ""
