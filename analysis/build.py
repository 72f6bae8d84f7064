"""Versioned, atomic builds: cohort folder → ``outputs/<label>/``.

A build is a pipeline of stages, each reading only what the stage before
wrote: validate → analyse (results.json, CSVs) → tables and figures →
document variables → render (HTML, PDF, DOCX, abstract.txt) → manifest.
Everything is written into a hidden temporary folder beside the target
(``outputs/.building-<label>-<pid>``) that is renamed into place only when
complete, so a failed or interrupted build leaves nothing behind and never
touches an earlier version.  A version is never overwritten.  The data are
validated before anything is created (bad input does not even create the
outputs folder); temporary folders of killed builds are removed by the next
build.  An operating-system error while writing (permission denied, disk full,
a file where a folder should be) becomes a one-line :class:`PsmaRweError`
naming the path.

The no-op check (same label, same inputs) imports nothing heavy: it hashes the
inputs with :mod:`hashlib` and reads the existing ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from analysis import __version__, config
from analysis.errors import PsmaRweError, os_error_message
from analysis.workfolder import (  # noqa: F401  (the build's work folder, used here and by callers)
    DOCUMENTS,
    SOURCES,
    VARIABLES,
    _abstract_settings,
    _keep_sources,
    analysis_settings,
    analyze_into,
    prepare_work,
    tool_versions,
)

MANIFEST = "manifest.json"
TMP_PREFIX = ".building-"
DOC_FORMATS = {
    "abstract": ("html", "pdf", "docx"),
    "poster": ("html", "pdf"),
    "supplement": ("html", "pdf", "docx"),
}


@dataclass(frozen=True)
class BuildInputs:
    """The files a build depends on and their SHA-256, keyed by a stable name.

    ``contents`` holds the bytes of the four data files as they were hashed:
    the build parses exactly these bytes, so a file replaced after hashing
    cannot give results under the old file's hash.
    """

    data_dir: Path
    files: dict[str, Path]
    hashes: dict[str, str]
    contents: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def digest(self) -> str:
        from analysis.fonts import bundled_fonts

        blob = "\n".join(f"{k} {v}" for k, v in sorted(self.hashes.items()))
        blob += f"\npsma-rwe {__version__}\n"
        blob += "".join(f"font {f.path.name} {f.sha256}\n" for f in bundled_fonts())
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class BuildReport:
    """What a build did, for the summary printed at the end."""

    label: str
    path: Path
    up_to_date: bool = False
    warnings: list[str] = field(default_factory=list)
    abstract_length: dict | None = None
    renderer: str = ""
    seconds: float = 0.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def project_files(project_dir: Path) -> dict[str, Path]:
    """The files of the project a build uses: ``_quarto.yml``, ``report/``, the
    format extension and the project's fonts."""
    from analysis.fonts import project_fonts
    from analysis.render.extension import RELATIVE_DIR

    files = {"_quarto.yml": project_dir / "_quarto.yml"}
    for folder in (project_dir / "report", project_dir / RELATIVE_DIR):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(project_dir).as_posix()] = path
    for font in project_fonts(project_dir):
        files[font.path.relative_to(project_dir).as_posix()] = font.path
    return files


def collect_inputs(data_dir: Path, project_dir: Path) -> BuildInputs:
    """Hash the four data files (or the one workbook), the report sources and ``_quarto.yml``."""
    from analysis.excel import is_workbook
    from analysis.load import read_input_bytes

    data_dir = Path(data_dir)
    contents = read_input_bytes(data_dir)  # one problem per missing / unreadable file
    if is_workbook(data_dir):  # one workbook: its bytes hashed once, parsed from the same bytes
        files: dict[str, Path] = {f"data/{data_dir.name}": data_dir}
    else:
        files = {f"data/{name}": data_dir / name for name in config.INPUT_FILES}
    files.update(project_files(project_dir))
    hashes = {f"data/{name}": hashlib.sha256(raw).hexdigest() for name, raw in contents.items()}
    for key, path in files.items():
        if key in hashes:
            continue
        try:
            hashes[key] = _sha256(path)
        except OSError as exc:
            from analysis.errors import Problem

            raise PsmaRweError(
                f"cannot read {path}",
                [Problem(path.name, None, None, f"cannot be read: {os_error_message(exc)}")],
            ) from None
    return BuildInputs(data_dir=data_dir, files=files, hashes=hashes, contents=contents)


def default_label(inputs: BuildInputs, today: dt.date | None = None) -> str:
    """``YYYY-MM-DD-<first 8 hex digits of the inputs' hash>``."""
    today = today or dt.date.today()
    return f"{today.isoformat()}-{inputs.digest[:8]}"


def read_manifest(version_dir: Path) -> dict:
    with (version_dir / MANIFEST).open(encoding="utf-8") as fh:
        return json.load(fh)


def _built_from(version: Path, digest: str) -> bool:
    """Whether the version at ``version`` was built from inputs with this digest."""
    try:
        return read_manifest(version).get("inputs_digest") == digest
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


def find_version_with_inputs(outputs: Path, digest: str) -> Path | None:
    """An existing version built from exactly these inputs, if any."""
    if not outputs.is_dir():
        return None
    for child in sorted(outputs.iterdir()):
        if child.name.startswith(".") or not (child / MANIFEST).is_file():
            continue
        try:
            if read_manifest(child).get("inputs_digest") == digest:
                return child
        except (OSError, json.JSONDecodeError):
            continue
    return None


#: Marker file inside a temporary build folder, locked (flock) by the build that owns it.
LOCK_FILE = ".psma-rwe-build.lock"


class BuildLock:
    """A temporary build folder and the lock that says its build is running.

    The folder is created exclusively with a random suffix and holds
    ``LOCK_FILE`` (host, pid, start time), on which the build keeps an
    exclusive ``flock`` until it ends.  The kernel drops the lock when the
    process dies however it dies, and the lock is seen by processes in other
    PID namespaces (containers) and, on NFS, on other hosts, where a pid alone
    means nothing.
    """

    def __init__(self, outputs: Path, label: str):
        import fcntl
        import secrets
        import socket
        import time

        self.path = outputs / f"{TMP_PREFIX}{label}-{secrets.token_hex(4)}"
        self.path.mkdir()
        self._fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        os.write(self._fd, json.dumps(owner).encode())

    def drop_marker(self) -> None:
        """Remove the lock file from the folder (the lock itself lasts until :meth:`close`)."""
        (self.path / LOCK_FILE).unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _abandoned(folder: Path) -> bool:
    """Whether ``folder`` is a temporary build folder of psma-rwe whose build has ended."""
    import fcntl

    marker = folder / LOCK_FILE
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # no marker: not made by psma-rwe (or not yet complete): never touched
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: a build is running (here, in another container or host)
        return False
    finally:
        os.close(fd)
    return True


def clean_stale_builds(outputs: Path) -> None:
    """Remove temporary build folders left by builds that no longer run.

    Only folders that carry psma-rwe's lock file, and whose lock no process
    holds, are removed; anything else (a user's ``.building-notes/``, a build
    running in another container) is left alone.
    """
    if not outputs.is_dir():
        return
    for child in outputs.iterdir():
        ours = child.name.startswith(TMP_PREFIX) and child.is_dir() and not child.is_symlink()
        if ours and _abandoned(child):
            shutil.rmtree(child, ignore_errors=True)


@contextmanager
def _terminate_as_interrupt():
    """Turn SIGTERM (and Ctrl-C) into KeyboardInterrupt so the temporary folder is removed.

    Yields a function that raises KeyboardInterrupt again if a signal came: a
    library may swallow the exception (a bare ``except:``, a ``__del__`` running
    when the signal is handled), and the build calls it at every stage and before
    it publishes the version, so an interrupted build never finishes.
    """
    came: list[int] = []

    def handler(signum, frame):
        came.append(signum)
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    def check() -> None:
        if came:
            raise KeyboardInterrupt(f"terminated by signal {came[0]}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield check
        return
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:  # not when Ctrl-C is ignored
        signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)


def git_commit(project_dir: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(project_dir), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def quarto_available() -> bool:
    return shutil.which("quarto") is not None


Progress = Callable[[str], None]


def build(
    data_dir: Path | str | None = None,
    *,
    label: str | None = None,
    outputs: Path | str | None = None,
    project_dir: Path | str | None = None,
    strict: bool = False,
    renderer: str = "embedded",
    progress: Progress | None = None,
    jobs: int | None = None,
) -> BuildReport:
    """Build a new version of every output from a cohort folder.

    Parameters
    ----------
    data_dir : path, optional
        Cohort folder (four CSV files) or an .xlsx workbook (one sheet per file);
        default the project's ``study.data`` (``data/`` when unset).
    label : str, optional
        Version label; default ``YYYY-MM-DD-<inputs hash>``.
    outputs : path, optional
        Folder holding the versions (``outputs/`` of the project by default).
    project_dir : path, optional
        The study project (``_quarto.yml``, ``report/``, ``_extensions/``); default
        the nearest one at or above the current directory
        (:func:`analysis.projects.find_project`).
    strict : bool
        Make an abstract over its character limit an error instead of a warning.
    renderer : {"embedded", "quarto", "auto"}
        ``embedded`` (default) is the bundled pandoc + Typst renderer, whose
        output depends on nothing installed on the machine; ``quarto`` runs
        ``quarto render`` through the project's extension
        (:mod:`analysis.render.quarto`); ``auto`` takes quarto when it is on PATH.
    progress : callable, optional
        Called with the name of each stage as it starts.
    jobs : int, optional
        Worker processes (:mod:`analysis.workers`), started before the cohort is
        validated, drawing the figures and rendering the documents; default
        ``$PSMA_RWE_JOBS``, else the usable CPUs; ``1`` does everything one
        after another in this process.  The outputs are the same either way.

    Raises
    ------
    PsmaRweError
        Bad input, a label that exists with different inputs or is unusable as a
        folder name, a failed stage, or an OSError while writing (its message
        names the path).  Nothing is written in any of these cases.
    """
    import time

    from analysis import projects
    from analysis.render.extension import extension_dir

    started = time.perf_counter()
    say = progress or (lambda stage: None)
    project_dir = projects.resolve_project(project_dir)
    extension_dir(project_dir)  # a missing or outdated extension before any work
    data_dir = projects.default_data(project_dir) if data_dir is None else data_dir
    outputs = projects.outputs_dir(project_dir) if outputs is None else Path(outputs)
    if renderer == "quarto" and not quarto_available():
        raise PsmaRweError(
            "--renderer quarto: quarto is not on PATH; install Quarto "
            "(https://quarto.org) or use --renderer embedded"
        )
    _check_outputs_place(outputs, project_dir)
    say("hashing inputs")
    inputs = collect_inputs(Path(data_dir), project_dir)
    digest = inputs.digest

    if label is None:
        existing = find_version_with_inputs(outputs, digest)
        if existing is not None:
            return BuildReport(label=existing.name, path=existing, up_to_date=True)
        label = default_label(inputs)
    _check_label(label)
    target = outputs / label
    if target.exists() or target.is_symlink():
        if not target.is_dir() or not (target / MANIFEST).is_file():
            kind = "a folder that is not a version" if target.is_dir() else "a file"
            raise PsmaRweError(
                f"{target} exists and is {kind} (no {MANIFEST}); it is left as it is: "
                "choose another --label or --outputs"
            )
        if _built_from(target, digest):
            return BuildReport(label=label, path=target, up_to_date=True)
        raise PsmaRweError(
            f"version {label!r} already exists at {target} and was built from different "
            "inputs; versions are never overwritten: choose another --label "
            f"(or run `psma-rwe diff {label} <new label>` after building it)"
        )

    from analysis import workers

    n = workers.jobs(jobs)  # a bad PSMA_RWE_JOBS before any work
    # The workers start now, beside the validation and analysis (one core).
    with _build_pool(n) as pool:
        # Bad input is refused before anything is created, not even the outputs folder.
        from analysis.load import load_cohort

        say("validating data")
        cohort = load_cohort(inputs.data_dir, contents=inputs.contents)

        try:
            outputs.mkdir(parents=True, exist_ok=True)
            clean_stale_builds(outputs)
        except OSError as exc:
            raise PsmaRweError(
                f"cannot create the outputs folder {outputs}: {os_error_message(exc)}"
            ) from None
        lock = None
        try:
            with _terminate_as_interrupt() as interrupted:

                def checked(stage: str) -> None:
                    interrupted()
                    say(stage)

                lock = BuildLock(outputs, label)
                tmp = lock.path
                report = _build_into(
                    tmp,
                    inputs,
                    cohort,
                    label,
                    project_dir,
                    strict=strict,
                    renderer=renderer,
                    say=checked,
                    jobs=jobs,
                    pool=pool,
                )
                checked("finishing")
                lock.drop_marker()
                interrupted()  # the last moment before the version is published
                done = _finish(tmp, target, digest)
                if done is not None:  # the same version was built meanwhile by another build
                    return done
        except OSError as exc:
            _discard(lock, pool)
            raise PsmaRweError(
                f"cannot build version {label!r} in {outputs}: {os_error_message(exc)}; "
                "nothing was kept and earlier versions are untouched"
            ) from None
        except BaseException:
            _discard(lock, pool)
            raise
        finally:
            if lock is not None:
                lock.close()
        report.path = target
        report.seconds = time.perf_counter() - started
        return report


#: What a build's workers do before their first task (:class:`analysis.workers.Pool`).
BUILD_WARM = ("analysis.charts_write:warm", "analysis.render_docs:warm")
#: What the first worker does before those: it fits the regression, beside the analysis.
BUILD_WARM_FIRST = ("analysis.models:warm",)
#: Imported by the build's process before it forks the workers: it needs them for the
#: validation and the analysis, the workers for the regression and the figures.
BUILD_PRELOAD = ("pandas", "scipy.stats")
#: Workers forked before the preload (see :class:`analysis.workers.Pool`): the one
#: that does not fit the regression, whose warm-up (the figures') needs no SciPy.
BUILD_EARLY = 1


@contextlib.contextmanager
def _build_pool(n: int):
    """``n`` warm workers for a build (none when ``n`` is 1): closed when the build
    ends, stopped at once when it fails."""
    if n <= 1:
        yield None
        return
    from analysis.workers import Pool

    with Pool(
        n, warm=BUILD_WARM, warm_first=BUILD_WARM_FIRST, preload=BUILD_PRELOAD, early=BUILD_EARLY
    ) as pool:
        yield pool


def _check_outputs_place(outputs: Path, project_dir: Path) -> None:
    """Refuse an outputs folder inside the sources a build copies (it would copy itself)."""
    where = outputs.resolve()
    for name in ("report", "fonts", "_extensions"):
        source = (project_dir / name).resolve()
        if where == source or where.is_relative_to(source):
            raise PsmaRweError(
                f"--outputs {outputs} is inside the project's {name}/ folder, which every "
                "build copies; choose a folder outside it (default: outputs/)"
            )


def _discard(lock: BuildLock | None, pool=None) -> None:
    """Remove a failed build's temporary folder, its workers stopped first: a worker
    still drawing a figure when this process failed (at the abstract's length, say)
    wrote it after the folder was removed, making the folder again (a
    ``.building-*`` left beside the versions)."""
    if pool is not None:
        pool.stop()
    if lock is not None:
        shutil.rmtree(lock.path, ignore_errors=True)


def _finish(tmp: Path, target: Path, digest: str) -> BuildReport | None:
    """Rename the finished build into place; a report if the same version appeared meanwhile."""
    try:
        os.rename(tmp, target)
        return None
    except OSError:
        if not target.exists():
            raise
    shutil.rmtree(tmp, ignore_errors=True)
    if _built_from(target, digest):
        return BuildReport(label=target.name, path=target, up_to_date=True)
    raise PsmaRweError(
        f"version {target.name!r} appeared at {target} during the build, from different inputs; "
        "nothing was kept: choose another --label"
    )


#: Longest label in UTF-8 bytes: the temporary folder adds a prefix and a PID to it
#: and most file systems refuse names over 255 bytes.
MAX_LABEL_BYTES = 200


def _check_label(label: str) -> None:
    bad = not label or label.startswith(".") or any(c in label for c in '/\\:*?"<>|')
    bad = bad or any(not c.isprintable() for c in label)
    if bad or label != label.strip():
        raise PsmaRweError(
            f"label {label!r} is not usable as a folder name; use letters, digits, '-', '_' "
            "or '.' (not first)"
        )
    if len(label.encode("utf-8")) > MAX_LABEL_BYTES:
        raise PsmaRweError(
            f"label {label[:40]!r}... is {len(label.encode('utf-8'))} bytes long; "
            f"at most {MAX_LABEL_BYTES} fit in a folder name"
        )


def _build_into(
    tmp: Path,
    inputs: BuildInputs,
    cohort,
    label: str,
    project_dir: Path,
    *,
    strict: bool,
    renderer: str,
    say: Progress,
    jobs: int | None = None,
    pool=None,
) -> BuildReport:
    from analysis.abstract import abstract_length
    from analysis.charts_write import start_figures
    from analysis.tables import write_tables
    from analysis.workfolder import add_figures, analyze

    report = BuildReport(label=label, path=tmp)
    analysis = analyze(tmp, project_dir, cohort, say=say, pool=pool)
    # With workers, they draw the figures while this process writes the tables, the
    # work folder and the abstract's length; the figures join the work folder after.
    say("figures and tables" if pool is not None else "tables")
    figures = (
        start_figures(analysis.results, tmp / "figures", pool=pool) if pool is not None else None
    )
    write_tables(analysis.results, tmp / "tables")
    if figures is None:
        say("figures")
        start_figures(analysis.results, tmp / "figures")()
    say("preparing documents")
    work = prepare_work(tmp, project_dir, analysis, cohort, figures=figures is None)

    use_quarto = renderer == "quarto" or (renderer == "auto" and quarto_available())
    report.renderer = "quarto" if use_quarto else "embedded (pandoc + typst)"

    # The abstract's length first, from its plain text: --strict fails in a second,
    # not after every PDF has been rendered.
    say("abstract length")
    from analysis.render import render_plain

    render_plain(work, "report/abstract.qmd", tmp / "abstract.txt")
    settings = _abstract_settings(work)
    length = abstract_length((tmp / "abstract.txt").read_text(encoding="utf-8"), **settings)
    report.abstract_length = length
    if not length["within_limit"]:
        message = (
            f"abstract is {length['count']:,} {length['rule_label']}, over the limit of "
            f"{length['limit']:,} by {length['count'] - length['limit']:,}"
        )
        if strict:
            raise PsmaRweError(f"{message} (--strict)")
        report.warnings.append(message)

    from analysis import render_docs

    # A document that shows no figure (the abstract) is rendered by the workers
    # as soon as no figure is left to draw, while the last figures are drawn.
    early: dict[str, tuple[str, ...]] = {}
    started: list[int] = []
    if figures is not None and not use_quarto:
        early = {d: f for d, f in DOC_FORMATS.items() if not render_docs.needs_figures(work, d)}
        started = render_docs.start_documents(work, tmp, early, figures.batch)
    if figures is not None:
        say("figures")
        figures()
        add_figures(work, tmp)
    if use_quarto:
        from analysis.render import quarto

        quarto.write_support(work)
    render_docs.render_documents(
        work,
        tmp,
        {d: f for d, f in DOC_FORMATS.items() if d not in early},
        use_quarto=use_quarto,
        jobs=jobs,
        say=say,
        pool=pool,
        batch=figures.batch if figures is not None else None,
        started=early,
        started_tasks=started,
    )
    _keep_sources(work, tmp)
    shutil.rmtree(work)

    say("manifest")
    _write_manifest(tmp, inputs, label, report, analysis, project_dir)
    return report


def _portable(path: Path, project_dir: Path, outside: str) -> str:
    """``path`` relative to the project, or ``outside`` for a path outside it.

    A version folder is shared; absolute paths would carry a person's folder names.
    """
    try:
        return Path(path).resolve().relative_to(Path(project_dir).resolve()).as_posix()
    except ValueError:
        return outside


def _write_manifest(
    tmp: Path, inputs: BuildInputs, label: str, report: BuildReport, analysis, project_dir: Path
):
    from analysis.fonts import font_set, manifest_entries
    from analysis.results import dumps

    outputs = {}
    for path in sorted(tmp.rglob("*")):
        if path.is_file() and path.name not in (MANIFEST, LOCK_FILE):
            outputs[path.relative_to(tmp).as_posix()] = _sha256(path)
    manifest = {
        "label": label,
        "package": {
            "name": "psma-rwe",
            "version": __version__,
            "git_commit": git_commit(config.PACKAGE_DIR),
        },
        "inputs": {
            key: {"sha256": digest, "path": _portable(inputs.files[key], project_dir, key)}
            for key, digest in sorted(inputs.hashes.items())
        },
        "inputs_digest": inputs.digest,
        "data_dir": _portable(inputs.data_dir, project_dir, inputs.data_dir.resolve().name),
        "renderer": report.renderer,
        "tools": tool_versions(),
        "fonts": manifest_entries(font_set(project_dir)),
        "abstract_length": report.abstract_length,
        "warnings": report.warnings,
        "outputs": outputs,
        "summary": {
            "n_patients": analysis.results.cohort.n_patients,
            "psa50_n": analysis.results.psa_response.psa50.n,
            "psa50_pct": analysis.results.psa_response.psa50.pct,
        },
    }
    (tmp / MANIFEST).write_text(dumps(manifest), encoding="utf-8")
