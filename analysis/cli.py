"""Command-line interface: ``psma-rwe init | validate | synth | analyze | build | preview | diff``.

Commands that need a study project find it the way Quarto does (the nearest
folder upward with a psma-rwe ``_quarto.yml``, see :mod:`analysis.projects`)
or take ``--project DIR``.

Heavy libraries (pandas, statsmodels, great-tables, altair) are imported inside
the commands, never at module level, so ``psma-rwe --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analysis import __version__
from analysis.errors import PsmaRweError, os_error_message

app = typer.Typer(
    name="psma-rwe",
    help="Abstract, poster and supplement for a real-world 177Lu-PSMA-617 cohort, "
    "computed from the data.",
    no_args_is_help=True,
    add_completion=False,
    # Plain Click help: typer's rich panels (0.29) print flags as "--strict <bool>".
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

DataDir = Annotated[
    Path,
    typer.Argument(
        help="Cohort folder with patients.csv, doses.csv, measurements.csv, prior_therapies.csv,"
        " or an .xlsx workbook with those four sheets."
    ),
]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def _fail(exc: PsmaRweError) -> None:
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(exc.render())}")
    raise typer.Exit(exc.exit_code)


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether ``exc`` was raised because of a KeyboardInterrupt (Ctrl-C or SIGTERM).

    An interrupt that lands while a compiled module is being imported surfaces as,
    e.g., ``ImportError: initialization failed`` with the interrupt as its cause.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _interrupted(console) -> None:
    console.print("[bold red]interrupted:[/] nothing was written; earlier versions untouched")
    raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"psma-rwe {__version__}")
        raise typer.Exit()


ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="Study project folder (default: the nearest folder at or above the current "
        "one whose _quarto.yml has a study: block).",
    ),
]

ProjectData = Annotated[
    Path | None,
    typer.Argument(
        help="Cohort folder or .xlsx workbook (default: study.data of the project's "
        "_quarto.yml, else its data/ folder)."
    ),
]


def _project(project: Path | None) -> Path:
    from analysis.projects import resolve_project

    try:
        return resolve_project(project)
    except PsmaRweError as exc:
        _fail(exc)


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Abstract, poster and supplement for a real-world 177Lu-PSMA-617 cohort."""


@app.command()
def validate(data_dir: DataDir) -> None:
    """Check a cohort folder or .xlsx workbook against the data contract (data/README.md).

    Exit 0 with a summary, or exit 2 listing every problem (file, row, column).
    """
    from analysis.load import load_cohort

    try:
        cohort = load_cohort(data_dir)
    except PsmaRweError as exc:
        _fail(exc)
    s = cohort.summary()
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{escape(str(data_dir))}: valid", show_header=False, title_justify="left")
    table.add_row("patients", f"{s['patients']:,}")
    table.add_row("doses", f"{s['doses']:,}")
    table.add_row("measurements", f"{s['measurements']:,} ({s['tests']} tests)")
    table.add_row("prior therapy rows", f"{s['prior_therapy_rows']:,}")
    table.add_row("date span", f"{s['first_date']} to {s['last_date']}")
    _console().print(table)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four CSV files to.")],
    patients: Annotated[int, typer.Option("--patients", min=1, help="Number of patients.")] = 21,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 2024,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a synthetic cohort in the data contract (the default reproduces the study)."""
    from analysis.synth import write_synthetic

    try:
        paths = write_synthetic(out, n_patients=patients, seed=seed, overwrite=force)
    except PsmaRweError as exc:
        _fail(exc)
    from rich.markup import escape

    _console().print(
        f"wrote {len(paths)} files to {escape(str(out))} ({patients:,} patients, seed {seed})"
    )


@app.command()
def analyze(
    data_dir: DataDir,
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json and the CSVs.")],
    project: ProjectOpt = None,
) -> None:
    """Validate, then write results.json, patient_summary.csv and lab_trajectories.csv.

    The study settings (data cut-off, landmark) come from the project's _quarto.yml.
    """
    project_dir = _project(project)
    console = _console(stderr=True)
    try:
        with console.status("validating") as status:
            from analysis.load import load_cohort

            cohort = load_cohort(data_dir)
            status.update(f"analyzing {len(cohort.patients):,} patients")
            from analysis.analyze import run_analysis, write_analysis
            from analysis.build import analysis_settings

            analysis = run_analysis(cohort, **analysis_settings(project_dir / "_quarto.yml"))
            status.update("writing")
            try:
                paths = write_analysis(analysis, out)
            except OSError as exc:
                raise PsmaRweError(
                    f"cannot write the analysis to {out}: {os_error_message(exc)}"
                ) from None
    except KeyboardInterrupt:
        _interrupted(console)
    except PsmaRweError as exc:
        _fail(exc)
    r = analysis.results
    console.print(
        f"{r.cohort.n_patients:,} patients, {r.psa_response.psa50.n:,} PSA50 responders "
        f"({r.psa_response.psa50.pct}%)"
    )
    from rich.markup import escape

    for path in paths:
        _console().print(escape(str(path)))


@app.command()
def build(
    data_dir: ProjectData = None,
    label: Annotated[
        str | None,
        typer.Option("--label", help="Version label (default: today's date + inputs hash)."),
    ] = None,
    outputs: Annotated[
        Path | None,
        typer.Option("--outputs", help="Folder of versions (default: outputs/ of the project)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Make an abstract over its length limit an error.")
    ] = False,
    renderer: Annotated[
        str,
        typer.Option(
            "--renderer",
            help="embedded (default: pandoc + Typst, bundled with psma-rwe; the same bytes "
            "on every machine), quarto (real Quarto through the project's extension; the "
            "same pages, several times slower) or auto (quarto if on PATH).",
        ),
    ] = "embedded",
    project: ProjectOpt = None,
) -> None:
    """Build a new version: abstract, poster and supplement (HTML, PDF, DOCX) and results."""
    from analysis import build as builder

    project_dir = _project(project)
    if renderer not in ("auto", "embedded", "quarto"):
        _fail(PsmaRweError(f"--renderer {renderer!r}: expected auto, embedded or quarto"))
    console = _console(stderr=True)
    try:
        with console.status("starting") as status:
            step = {"n": 0}

            def progress(stage: str) -> None:
                step["n"] += 1
                status.update(f"[{step['n']}] {stage}")
                if step["n"] > 1:
                    console.print(f"  [dim]✓[/] {previous['stage']}")
                previous["stage"] = stage

            previous = {"stage": ""}
            report = builder.build(
                data_dir,
                label=label,
                outputs=outputs,
                project_dir=project_dir,
                strict=strict,
                renderer=renderer,
                progress=progress,
            )
    except KeyboardInterrupt:
        _interrupted(console)
    except PsmaRweError as exc:
        _fail(exc)
    except Exception as exc:
        if _caused_by_interrupt(exc):
            _interrupted(console)
        if isinstance(exc, OSError):  # one the build did not word itself: still one line
            _fail(PsmaRweError(f"build failed: {exc}"))
        raise
    from rich.markup import escape

    out = _console()
    where = escape(str(report.path))
    if report.up_to_date:
        out.print(f"up to date: {where} (same inputs, nothing to do)")
        return
    out.print(f"[bold green]built[/] {escape(report.label)} in {report.seconds:.1f} s → {where}")
    out.print(f"renderer: {report.renderer}")
    length = report.abstract_length or {}
    if length:
        mark = "[green]within[/]" if length["within_limit"] else "[bold red]OVER[/]"
        out.print(
            f"abstract: {length['count']:,} {length['rule_label']} of {length['limit']:,} "
            f"({mark} the limit); {length['chars_with_spaces']:,} with spaces, "
            f"{length['words']:,} words"
        )
    for warning in report.warnings:
        out.print(f"[bold yellow]warning:[/] {escape(warning)}")


@app.command()
def prepare(
    data_dir: ProjectData = None,
    project: ProjectOpt = None,
) -> None:
    """Write what `quarto render` needs into the project: _variables.yml, tables/, figures/,
    followup/ and _psma/ (then run quarto render or quarto preview there).

    Replaces only what an earlier prepare wrote; the data are only read.
    """
    from analysis.prepare import prepare as run_prepare

    project_dir = _project(project)
    console = _console(stderr=True)
    try:
        with console.status("starting") as status:
            written = run_prepare(project_dir, data_dir, say=status.update)
    except KeyboardInterrupt:
        _interrupted(console)
    except PsmaRweError as exc:
        _fail(exc)
    from rich.markup import escape

    for path in written:
        _console().print(escape(str(path)))
    console.print(
        f"next: cd {escape(str(project_dir))} && quarto render (or quarto preview)",
        highlight=False,
    )


@app.command()
def preview(
    data_dir: ProjectData = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Port on 127.0.0.1 (default 4848, or a free one if it is busy).",
        ),
    ] = None,
    renderer: Annotated[
        str,
        typer.Option(
            "--renderer",
            help="embedded (default), quarto (hands over to `quarto preview` in the "
            "prepared work folder) or auto (quarto if on PATH).",
        ),
    ] = "embedded",
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the index page in the default browser.")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Serve the documents on localhost, re-rendered and reloaded as their sources are saved.

    Writes nothing into outputs/ or the project; errors are shown on the page and here.
    """
    from analysis.preview import serve

    project_dir = _project(project)
    if renderer not in ("auto", "embedded", "quarto"):
        _fail(PsmaRweError(f"--renderer {renderer!r}: expected auto, embedded or quarto"))
    try:
        status = serve(
            data_dir,
            project_dir=project_dir,
            port=port,
            renderer=renderer,
            open_browser=open_browser,
        )
    except PsmaRweError as exc:
        _fail(exc)
    raise typer.Exit(status)


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Earlier version: a label or a version folder.")],
    new: Annotated[str, typer.Argument(help="Later version: a label or a version folder.")],
    outputs: Annotated[
        Path | None,
        typer.Option("--outputs", help="Folder of versions (default: outputs/ of the project)."),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--all", help="Also list every changed value of results.json and every table cell."
        ),
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="text (default) or json (one document, for scripts).")
    ] = "text",
    html_file: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Also write a self-contained side-by-side HTML page to this file."
        ),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Show what changed between two versions: the abstract and poster numbers as displayed,
    the abstract text and length, table cells, inputs (every results.json value with --all).
    """
    from analysis.diff import diff_versions, resolve_version
    from analysis.projects import outputs_dir

    if fmt not in ("text", "json"):
        _fail(PsmaRweError(f"--format {fmt!r}: expected text or json"))
    outputs = outputs or outputs_dir(_project(project))
    try:
        a, b = resolve_version(old, outputs), resolve_version(new, outputs)
        d = diff_versions(a, b)
        if html_file is not None:
            from analysis.diff_html import write_html

            write_html(d, html_file)
    except PsmaRweError as exc:
        _fail(exc)
    if fmt == "json":
        import json

        from analysis.diff_report import json_report

        typer.echo(json.dumps(json_report(d), ensure_ascii=False, indent=2))
    else:
        from rich.text import Text

        from analysis.diff_report import text_report

        out = _console()
        for line in text_report(d, full=full):
            out.print(Text.assemble(*line))
    if html_file is not None:
        from rich.markup import escape

        _console(stderr=True).print(f"wrote {escape(str(html_file))}")


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder of the new project (new or empty).")],
    with_synthetic: Annotated[
        bool,
        typer.Option(
            "--with-synthetic",
            help="Also copy the synthetic cohort and the example study's metadata, so "
            "the project builds at once.",
        ),
    ] = False,
    update_extension: Annotated[
        bool,
        typer.Option(
            "--update-extension",
            help="Only replace _extensions/psma-rwe/ of the existing project FOLDER by "
            "the one this psma-rwe ships.",
        ),
    ] = False,
) -> None:
    """Write a new study project: _quarto.yml, report/, the format extension, data/."""
    from rich.markup import escape

    from analysis.projects import init_project

    try:
        files = init_project(
            folder, with_synthetic=with_synthetic, update_extension=update_extension
        )
    except PsmaRweError as exc:
        _fail(exc)
    out = _console()
    if update_extension:
        out.print(f"updated {escape(str(folder))}/_extensions/psma-rwe ({len(files)} files)")
        return
    out.print(f"wrote {len(files)} files to {escape(str(folder))}")
    if with_synthetic:
        out.print(f"next: cd {escape(str(folder))} && psma-rwe build")
    else:
        out.print(
            f"next: edit {escape(str(folder))}/_quarto.yml, put the cohort in "
            f"{escape(str(folder))}/data/, then psma-rwe build"
        )


def main() -> None:
    """Entry point of the ``psma-rwe`` script."""
    from analysis.workers import tune_gc

    tune_gc()
    app()
