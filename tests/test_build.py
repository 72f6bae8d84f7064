"""`psma-rwe build`: documents, versions, manifest, determinism, atomicity and diff.

One build of the shipped synthetic cohort is shared by most tests (module
fixture); the tests that need their own builds make them in tmp folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis import config
from analysis.build import MANIFEST, TMP_PREFIX, build
from analysis.cli import app
from analysis.errors import PsmaRweError

pytestmark = pytest.mark.slow

DOCS = {
    "abstract": ("html", "pdf", "docx", "txt"),
    "poster": ("html", "pdf"),
    "supplement": ("html", "pdf", "docx"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("outputs")
    report = build(config.SYNTHETIC_DIR, label="v1", outputs=outputs)
    results = json.loads((report.path / "results.json").read_text())
    return report, results


def test_build_writes_every_output(built):
    report, _ = built
    folder = report.path
    assert folder.name == "v1" and not report.up_to_date
    for doc, formats in DOCS.items():
        for fmt in formats:
            path = folder / f"{doc}.{fmt}"
            assert path.is_file() and path.stat().st_size > 0, path
    for name in ("results.json", "patient_summary.csv", "lab_trajectories.csv", MANIFEST):
        assert (folder / name).is_file()
    assert {p.stem for p in (folder / "tables").glob("*.html")} >= {
        "table1",
        "prior_therapy",
        "psa_response",
        "milestones",
        "labs",
        "regression",
    }
    for fig in ("waterfall", "psa_course", "milestones", "swimmer", "labs"):
        for ext in (".svg", ".pdf", "-interactive.html"):
            assert (folder / "figures" / f"{fig}{ext}").is_file()
    assert not any(p.name.startswith(TMP_PREFIX) for p in folder.parent.iterdir())
    assert not (folder / "_project").exists()


def test_manifest_hashes_inputs_and_outputs(built):
    report, _ = built
    manifest = json.loads((report.path / MANIFEST).read_text())
    for name in config.INPUT_FILES:
        entry = manifest["inputs"][f"data/{name}"]
        assert entry["sha256"] == sha256(config.SYNTHETIC_DIR / name)
    assert "report/abstract.qmd" in manifest["inputs"] and "_quarto.yml" in manifest["inputs"]
    files = {
        p.relative_to(report.path).as_posix()
        for p in report.path.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    assert set(manifest["outputs"]) == files
    for rel, digest in manifest["outputs"].items():
        assert sha256(report.path / rel) == digest, rel
    for tool in ("pandas", "statsmodels", "great_tables", "altair", "pandoc", "typst"):
        assert manifest["tools"][tool], tool
    assert manifest["renderer"]
    assert manifest["package"]["version"]
    assert manifest["abstract_length"]["count"] > 0


def test_abstract_fits_the_limit_by_an_independent_count(built):
    report, _ = built
    text = (report.path / "abstract.txt").read_text(encoding="utf-8")
    no_spaces = len(re.sub(r"\s", "", text))
    manifest = json.loads((report.path / MANIFEST).read_text())
    assert manifest["abstract_length"]["chars_no_spaces"] == no_spaces
    assert no_spaces <= 2000
    assert manifest["abstract_length"]["within_limit"] is True
    # title, headings and the table count; author names do not
    assert "Background" in text and "Conclusions" in text
    assert "First Author" not in text


def test_abstract_numbers_equal_results(built):
    report, r = built
    text = " ".join((report.path / "abstract.txt").read_text(encoding="utf-8").split())
    pr = r["psa_response"]
    expected = [
        f"comprised {r['cohort']['n_patients']} patients",
        f"median of {r['prior_therapies']['median']:g} prior",
        f"PSA50 occurred in {pr['psa50']['n']} ({pr['psa50']['pct']:.1f}%; 95% CI"
        f" {pr['psa50_ci_low']:.1f}–{pr['psa50_ci_high']:.1f})",
        f"PSA90 in {pr['psa90']['n']} ({pr['psa90']['pct']:.1f}%; 95% CI"
        f" {pr['psa90_ci_low']:.1f}–{pr['psa90_ci_high']:.1f})",
        f"Of the {r['responders']['n']} responders, {r['responders']['completed']}",
    ]
    for phrase in expected:
        assert phrase in text, phrase
    ms = {m["after_dose"]: m for m in pr["milestones"]}
    assert f"in {ms[2]['psa50_n']} responders ({ms[2]['psa50_pct_of_responders']:.1f}%)" in text


def _pdf(path):
    from pypdf import PdfReader

    return PdfReader(str(path))


def test_pdf_pages_and_sizes(built):
    report, _ = built
    poster = _pdf(report.path / "poster.pdf")
    assert len(poster.pages) == 1
    box = poster.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (3456, 2592)
    abstract = _pdf(report.path / "abstract.pdf")
    box = abstract.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert len(_pdf(report.path / "supplement.pdf").pages) >= 4


def test_poster_starts_four_columns_at_the_top_and_fits_the_page(built):
    """The balanced poster: each of the four columns opens with a section at the same
    height, and the last reference line sits above the bottom margin."""
    report, _ = built
    page = _pdf(report.path / "poster.pdf").pages[0]
    width = float(page.mediabox.width)
    headings = {
        "Background", "Methods", "Patients", "Key findings", "PSA response",
        "Predictors of PSA50", "Treatment course", "Safety", "Survival", "Conclusions",
        "References",
    }  # fmt: skip
    tops: dict[int, float] = {}
    last = None

    def visit(text, cm, tm, _font, _size):
        nonlocal last
        name = text.strip()
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if name in headings:
            column = int((tm[4] * cm[0] + tm[5] * cm[2] + cm[4]) // (width / 4))
            tops[column] = max(tops.get(column, 0.0), y)
        if "2409–2419" in name:
            last = y

    page.extract_text(visitor_text=visit)
    assert sorted(tops) == [0, 1, 2, 3]
    assert max(tops.values()) - min(tops.values()) < 5
    assert last is not None and last > 0.9 * 72  # above the bottom margin


@pytest.mark.parametrize("doc", ["abstract", "poster", "supplement"])
def test_pdf_text_holds_the_results(built, doc):
    report, r = built
    text = " ".join(page.extract_text() for page in _pdf(report.path / f"{doc}.pdf").pages)
    text = " ".join(text.split())
    psa50 = r["psa_response"]["psa50"]
    assert f"{psa50['pct']:.1f}" in text
    assert str(r["cohort"]["n_patients"]) in text


def test_html_is_self_contained_and_escaped(built):
    report, _ = built
    for doc in DOCS:
        html = (report.path / f"{doc}.html").read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html), doc
        assert "@import" not in html and "cdn." not in html.lower()


def test_same_label_same_inputs_is_up_to_date_without_heavy_imports(built):
    report, _ = built
    code = (
        "import sys, time; t = time.perf_counter();"
        "from analysis.build import build;"
        f"r = build({str(config.SYNTHETIC_DIR)!r}, label='v1', "
        f"outputs={str(report.path.parent)!r});"
        "heavy = [m for m in ('pandas', 'statsmodels', 'altair', 'great_tables')"
        " if m in sys.modules];"
        "print(r.up_to_date, heavy, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("True [] "), out.stdout
    assert float(out.stdout.split()[-1]) < 1.0


def test_default_label_finds_the_version_with_the_same_inputs(built):
    report, _ = built
    again = build(config.SYNTHETIC_DIR, outputs=report.path.parent)
    assert again.up_to_date and again.path == report.path


def test_same_label_with_other_inputs_is_refused(built, tmp_path):
    report, _ = built
    data = tmp_path / "data"
    shutil.copytree(config.SYNTHETIC_DIR, data)
    with (data / "measurements.csv").open("a") as fh:
        fh.write("PT-0001,2023-12-01,psa,1.5,ng/mL\n")
    before = {p: sha256(p) for p in report.path.rglob("*") if p.is_file()}
    with pytest.raises(PsmaRweError, match=r"'v1' already exists"):
        build(data, label="v1", outputs=report.path.parent)
    assert {p: sha256(p) for p in report.path.rglob("*") if p.is_file()} == before


def test_rebuild_is_byte_identical(built, tmp_path):
    report, _ = built
    again = build(config.SYNTHETIC_DIR, label="v1-again", outputs=tmp_path)
    first = json.loads((report.path / MANIFEST).read_text())["outputs"]
    second = json.loads((again.path / MANIFEST).read_text())["outputs"]
    assert first == second


def test_failed_build_leaves_nothing(built, tmp_path, monkeypatch):
    report, _ = built
    outputs = report.path.parent
    before = sorted(p.name for p in outputs.iterdir())

    def broken(*args, **kwargs):
        raise PsmaRweError("renderer exploded")

    # jobs=1: documents rendered in this process, where the patch holds (a worker's
    # failure: tests/test_render_docs.py)
    monkeypatch.setattr("analysis.render.render_document", broken)
    with pytest.raises(PsmaRweError, match="renderer exploded"):
        build(config.SYNTHETIC_DIR, label="v-broken", outputs=outputs, jobs=1)
    assert sorted(p.name for p in outputs.iterdir()) == before


def test_bad_data_fails_before_any_output(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(config.SYNTHETIC_DIR, data)
    text = (data / "patients.csv").read_text().replace("completed", "finished", 1)
    (data / "patients.csv").write_text(text)
    outputs = tmp_path / "outputs"
    result = CliRunner().invoke(
        app, ["build", str(data), "--label", "x", "--outputs", str(outputs)]
    )
    assert result.exit_code == 2
    assert "patients.csv, row" in result.stderr and "column treatment_status" in result.stderr
    assert not outputs.exists() or not any(outputs.iterdir())


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_build_leaves_nothing(tmp_path, sig):
    outputs = tmp_path / "outputs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "analysis",
            "build",
            str(config.SYNTHETIC_DIR),
            "--label",
            "killed",
            "--outputs",
            str(outputs),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell without job control starts background jobs with SIGINT ignored, and
        # children inherit that (CI may run us so); give the build Ctrl-C back.
        preexec_fn=_default_sigint,
    )
    # wait until the temporary folder exists, then interrupt mid-build
    deadline = time.time() + 60
    while time.time() < deadline:
        if outputs.is_dir() and any(p.name.startswith(TMP_PREFIX) for p in outputs.iterdir()):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the build never started")
    time.sleep(0.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, (out.decode(), err.decode())
    assert b"interrupted" in err
    assert list(outputs.iterdir()) == []


def test_diff_between_two_cohorts(built, tmp_path):
    report, _ = built
    other = tmp_path / "other"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "synth",
            "--out",
            str(other),
            "--patients",
            "25",
            "--seed",
            "7",
        ],
        check=True,
        capture_output=True,
    )
    outputs = report.path.parent
    build(other, label="v2", outputs=outputs)
    result = CliRunner().invoke(app, ["diff", "v1", "v2", "--outputs", str(outputs)])
    assert result.exit_code == 0, result.output
    assert "data/patients.csv changed" in result.output
    assert "Patients: 21 patients → 25 patients  (abstract, poster)" in result.output
    assert re.search(r"^  Results: .*comprised \[-21-\] \{\+25\+\} patients", result.output, re.M)
    assert "cohort.n_patients" not in result.output  # results.json values only with --all
    everything = CliRunner().invoke(app, ["diff", "v1", "v2", "--outputs", str(outputs), "--all"])
    assert "cohort.n_patients: 21 → 25" in everything.output


def test_html_escapes_strings_from_the_data(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(config.SYNTHETIC_DIR, data)
    text = (data / "patients.csv").read_text().replace(",White,", ",<script>alert(1)</script>,", 1)
    (data / "patients.csv").write_text(text)
    report = build(data, label="esc", outputs=tmp_path / "outputs")
    html = (report.path / "supplement.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupt_a_library_swallowed_still_stops_the_build(sig):
    """A bare ``except:`` (or a ``__del__`` running when the signal is handled) can
    swallow the KeyboardInterrupt; the check the build makes at every stage and
    before publishing raises it again (a CI run once saw a SIGTERMed build finish)."""
    from analysis.build import _terminate_as_interrupt

    # run with Ctrl-C ignored (a background job of a shell without job control), the
    # build leaves SIGINT alone; the test gives this process Ctrl-C back for its run
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _swallowed_interrupt_is_raised_again(sig, _terminate_as_interrupt)
    finally:
        signal.signal(signal.SIGINT, inherited)


def _swallowed_interrupt_is_raised_again(sig, _terminate_as_interrupt):
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    with _terminate_as_interrupt() as interrupted:
        interrupted()  # no signal yet: nothing happens
        try:
            os.kill(os.getpid(), sig)
            time.sleep(0.2)
        except BaseException:  # what such a library does
            pass
        with pytest.raises(KeyboardInterrupt, match=f"signal {int(sig)}"):
            interrupted()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
