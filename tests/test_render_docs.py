"""The documents rendered by worker processes (analysis/render_docs.py): same bytes as one
after another, failures as one clean error, nothing left by a failed build."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis import config, render_docs
from analysis.build import DOC_FORMATS, analyze_into, prepare_work
from analysis.cli import app
from analysis.errors import PsmaRweError
from analysis.load import load_cohort
from tests.cohorts import copy_project_sources, minimal_cohort


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A build's work folder of the synthetic cohort (sources, variables, tables, figures)."""
    tmp = tmp_path_factory.mktemp("render-docs")
    cohort = load_cohort(config.SYNTHETIC_DIR)
    analysis = analyze_into(tmp, config.PROJECT_DIR, cohort)
    return prepare_work(tmp, config.PROJECT_DIR, analysis, cohort)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _broken_copy(work: Path, where: Path, doc: str) -> Path:
    """A copy of ``work`` whose ``doc`` includes a file that does not exist."""
    shutil.copytree(work, where, ignore=shutil.ignore_patterns("_render"))
    source = where / "report" / f"{doc}.qmd"
    text = source.read_text(encoding="utf-8")
    source.write_text(text + "\n{{< include ../no-such-file.md >}}\n", encoding="utf-8")
    return where


def test_workers_give_the_bytes_of_one_after_another(work, tmp_path):
    render_docs.render_documents(work, tmp_path / "serial", DOC_FORMATS, jobs=1)
    render_docs.render_documents(work, tmp_path / "parallel", DOC_FORMATS, jobs=3)
    serial, parallel = _files(tmp_path / "serial"), _files(tmp_path / "parallel")
    expected = {f"{doc}.{fmt}" for doc, fmts in DOC_FORMATS.items() for fmt in fmts}
    assert set(serial) == set(parallel) == expected
    for name in sorted(expected):
        assert parallel[name] == serial[name], name
    # each task rendered in its own copy, with its own work files
    for doc, fmts in DOC_FORMATS.items():
        for fmt in fmts:
            assert (work / "_render" / f"{doc}-{fmt}" / "_render" / f"{doc}.md").is_file()


def test_tasks_start_with_the_longest():
    order = render_docs.tasks(DOC_FORMATS)
    assert order[0] == ("supplement", "pdf")
    assert sorted(order) == sorted((d, f) for d, fmts in DOC_FORMATS.items() for f in fmts)


def _copy(work: Path, where: Path, figures: bool = True) -> Path:
    skip = ["_render"] + ([] if figures else ["figures"])
    shutil.copytree(work, where, ignore=shutil.ignore_patterns(*skip))
    return where


def test_only_the_abstract_shows_no_figure(work):
    assert not render_docs.needs_figures(work, "abstract")
    assert render_docs.needs_figures(work, "poster")
    assert render_docs.needs_figures(work, "supplement")


@pytest.mark.parametrize(
    "addition",
    [
        "![A figure.](../figures/km.svg)",  # an image
        '<img src="../figures/km.svg">',  # raw HTML
        "{{< include ../figures/vega-runtime.md >}}",  # an include of the figures' (absent)
        "![A figure.]({{< var poster.figure >}})",  # a path from a value
    ],
)
def test_a_document_naming_a_figure_needs_the_figures(work, tmp_path, addition):
    copy = _copy(work, tmp_path / "w", figures=False)
    variables = copy / "_variables.yml"
    variables.write_text(
        variables.read_text(encoding="utf-8").replace(
            "poster:\n", "poster:\n  figure: ../figures/km.svg\n", 1
        ),
        encoding="utf-8",
    )
    source = copy / "report" / "abstract.qmd"
    source.write_text(source.read_text(encoding="utf-8") + f"\n{addition}\n", encoding="utf-8")
    assert render_docs.needs_figures(copy, "abstract")


def test_documents_started_beside_the_figures_give_the_same_bytes(work, tmp_path):
    """The abstract's tasks added to a batch still drawing (a task that sleeps), from
    a work folder without its figures, then the others: the bytes of one after another."""
    from analysis.workers import Pool, Task

    serial = tmp_path / "serial"
    render_docs.render_documents(work, serial, DOC_FORMATS, jobs=1)
    early_work = _copy(work, tmp_path / "w", figures=False)
    out = tmp_path / "out"
    early = {"abstract": DOC_FORMATS["abstract"]}
    rest = {d: f for d, f in DOC_FORMATS.items() if d not in early}
    with Pool(2, warm=("analysis.render_docs:warm",)) as pool:
        batch = pool.start([Task("time:sleep", (1.0,))])
        started = render_docs.start_documents(early_work, out, early, batch)
        assert started == [1, 2, 3]
        batch.wait([0])
        shutil.copytree(work / "figures", early_work / "figures")  # the figures are there
        render_docs.render_documents(
            early_work, out, rest, pool=pool, batch=batch, started=early, started_tasks=started
        )
    assert _files(out) == _files(serial)


def test_a_workers_error_is_the_error_of_one_after_another(work, tmp_path):
    broken = _broken_copy(work, tmp_path / "broken", "poster")
    with pytest.raises(PsmaRweError) as serial:
        render_docs.render_documents(broken, tmp_path / "a", DOC_FORMATS, jobs=1)
    with pytest.raises(PsmaRweError) as parallel:
        render_docs.render_documents(broken, tmp_path / "b", DOC_FORMATS, jobs=2)
    assert "no-such-file.md" in str(serial.value)
    assert str(parallel.value) == str(serial.value)
    assert parallel.value.__cause__ is None  # no worker traceback attached


@pytest.mark.parametrize("fork", [True, False])
def test_a_worker_that_dies_is_a_clear_error(work, tmp_path, monkeypatch, fork):
    import os

    from analysis import workers

    monkeypatch.setenv(workers.FORK_ENV, "1" if fork else "0")
    monkeypatch.setattr(workers, "NATIVE_RUNTIMES", ())
    monkeypatch.setattr(workers, "_serve", lambda *args: os._exit(3))  # forked
    monkeypatch.setattr(
        workers, "worker_command", lambda *args: [sys.executable, "-c", "raise SystemExit(3)"]
    )
    with pytest.raises(PsmaRweError, match=r"worker process ended unexpectedly \(exit code 3\)"):
        render_docs.render_documents(work, tmp_path / "out", DOC_FORMATS, jobs=2)


def test_a_failed_parallel_build_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    project = tmp_path / "project"
    copy_project_sources(project)
    shutil.copy2(config.QUARTO_PROJECT, project / "_quarto.yml")
    source = project / "report" / "supplement.qmd"
    source.write_text(
        source.read_text(encoding="utf-8") + "\n{{< include ../no-such-file.md >}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PSMA_RWE_JOBS", "2")
    outputs = tmp_path / "outputs"
    args = [
        "build",
        str(minimal_cohort(tmp_path / "data")),
        "--label",
        "v",
        "--outputs",
        str(outputs),
        "--project",
        str(project),
        "--renderer",
        "embedded",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no-such-file.md" in result.stderr, result.stderr
    assert list(outputs.iterdir()) == []  # no version, no temporary folder


def test_a_script_without_a_main_guard_runs_once(work, tmp_path):
    # Workers are fresh interpreters, not multiprocessing's spawn, which would run
    # the caller's script again in every worker.
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from analysis.render_docs import render_documents
            print("script ran")
            render_documents(
                Path({str(work)!r}), Path({str(tmp_path / "out")!r}),
                {{"abstract": ("html", "pdf")}}, jobs=2,
            )
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script ran") == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["abstract.html", "abstract.pdf"]
