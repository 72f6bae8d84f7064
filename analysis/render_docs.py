"""Rendering a build's documents: one task per document and format, in worker processes.

:func:`render_documents` renders every document of a build's work folder (the
project that :func:`analysis.build.prepare_work` wrote) into the version
folder.  With the embedded renderer each (document, format) pair, e.g. the
supplement's PDF, is one task for a few worker processes (fresh interpreters
started with ``python -c``, see :func:`_worker_command`), longest first, so that
a 2-core machine renders the supplement's PDF while the other outputs are made
beside it.

Safe side by side
    Each task renders its own copy of the work folder,
    ``_render/<doc>-<format>/`` inside it, whose files are hard links to the
    work folder's (copies where links cannot be made): the render pipeline's
    work files (``_render/`` of the copy: the expanded markdown, the copied
    ``psma.typ``, the fonts folder, Word's reference document, the PNG
    copies of the figures) are therefore never written by two tasks, and
    every path relative to the project, which the outputs may hold (Word
    keeps a figure's PNG path), is the one the one-after-another render gives.
    A task writes only its own output, ``<doc>.<format>``, and the outputs
    are byte for byte those of the one-after-another render
    (``tests/test_render_docs.py`` compares them).
Failures
    The first task that fails stops the render: tasks not started are
    cancelled, running ones are stopped, and its :class:`PsmaRweError` is
    raised again in the calling process as the same one-line message (without
    the worker's traceback), so :func:`analysis.build.build` discards the
    temporary folder as for any failure.  Python warnings a task gave (pandoc's
    messages) are given again in the calling process.
One after another
    With one CPU, ``PSMA_RWE_JOBS=1`` or ``jobs=1``, or the Quarto renderer,
    the documents are rendered in this process, one after another, into the
    shared ``_render/`` folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from analysis.errors import PsmaRweError

#: Environment variable giving the number of worker processes (``1``: one after another).
JOBS_ENV = "PSMA_RWE_JOBS"
#: Most worker processes.
MAX_JOBS = 8
#: Rough relative cost of each document and format, to start the long tasks first.
_DOC_COST = {"supplement": 4, "poster": 2, "abstract": 1}
_FORMAT_COST = {"pdf": 3, "docx": 2, "html": 1}

Progress = Callable[[str], None]


def render_jobs(jobs: int | None = None) -> int:
    """Worker processes to use: ``jobs``, else ``$PSMA_RWE_JOBS``, else the usable CPUs.

    Raises
    ------
    PsmaRweError
        ``PSMA_RWE_JOBS`` is not a whole number ≥ 1.
    """
    if jobs is None:
        value = os.environ.get(JOBS_ENV, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise PsmaRweError(f"{JOBS_ENV}={value!r}: expected a whole number ≥ 1")
            jobs = int(value)
    if jobs is None:
        try:
            jobs = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            jobs = os.cpu_count() or 1
    return max(1, min(MAX_JOBS, jobs))


def tasks(formats: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """The (document, format) pairs to render, the longest first."""
    pairs = [(doc, fmt) for doc, fmts in formats.items() for fmt in fmts]
    return sorted(
        pairs, key=lambda p: -_DOC_COST.get(p[0], 1) * _FORMAT_COST.get(p[1], 1)
    )  # stable: equal costs keep their order


def task_project(work: Path, doc: str, fmt: str) -> Path:
    """A copy of the work folder for one task: hard links to its files, without ``_render/``.

    The copy is ``work/_render/<doc>-<fmt>/``; its files are linked, not
    copied (a file system without hard links gets copies), so making it costs
    next to nothing.  A task only reads them: everything it writes goes to its
    own ``_render/`` or to the version folder.
    """
    from analysis.render.pipeline import WORK_DIR_NAME

    work = Path(work)
    target = work / WORK_DIR_NAME / f"{doc}-{fmt}"

    def skip(folder: str, names: list[str]) -> list[str]:
        return [WORK_DIR_NAME] if Path(folder) == work else []

    if target.exists():  # left by an earlier render of this work folder
        shutil.rmtree(target)
    shutil.copytree(work, target, ignore=skip, copy_function=_link_or_copy)
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def render_documents(
    work: Path,
    out: Path,
    formats: Mapping[str, Sequence[str]],
    *,
    use_quarto: bool = False,
    jobs: int | None = None,
    say: Progress | None = None,
) -> None:
    """Render ``report/<doc>.qmd`` of ``work`` into ``out`` in each of its formats.

    Parameters
    ----------
    work : Path
        The project to render (sources, ``_variables.yml``, tables, figures).
    out : Path
        Folder receiving ``<doc>.<format>``.
    formats : mapping
        ``{doc: formats}``, e.g. :data:`analysis.build.DOC_FORMATS`.
    use_quarto : bool
        Render with ``quarto render`` (one document after another).
    jobs : int, optional
        Worker processes; default :func:`render_jobs`.
    say : callable, optional
        Called with the name of each stage as it starts.

    Raises
    ------
    PsmaRweError
        A document could not be rendered (the first failure's message).
    """
    say = say or (lambda stage: None)
    todo = tasks(formats)
    n = min(render_jobs(jobs), len(todo))
    if use_quarto or n <= 1:
        for doc, fmts in formats.items():
            say(f"rendering {doc}")
            _render(work, doc, fmts, out, use_quarto)
        return
    say(f"rendering {', '.join(formats)}")
    _render_in_workers(work, out, todo, n)


def _render(work: Path, doc: str, formats: Sequence[str], out: Path, use_quarto: bool) -> None:
    from analysis.render import render_document

    source = f"report/{doc}.qmd"
    if use_quarto:
        from analysis.render import quarto

        quarto.render(work, source, out, formats)
    else:
        render_document(work, source, out, formats)


def _render_task(project: str, doc: str, fmt: str, out: str) -> list[tuple[type[Warning], str]]:
    """One task, in a worker: render ``doc`` of ``project`` (the task's copy) to ``fmt``.

    Returns the warnings it gave, as (category, message).
    """
    from analysis.render import render_document

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        render_document(Path(project), f"report/{doc}.qmd", Path(out), (fmt,))
    return [(w.category, str(w.message)) for w in caught]


#: What a worker runs: the calling process's import path, then tasks, read from stdin.
_WORKER = "from analysis.render_docs import _serve; _serve()"


def _serve() -> None:
    """A worker's loop: run the pickled tasks read from stdin, answer each on stdout.

    The worker runs on the calling process's ``sys.path`` (set by
    :func:`_worker_command`), in a session of its own (:class:`_Worker`).
    Each answer is ``("ok", warnings)``,
    ``("psma", summary, problems, total)`` for a :class:`PsmaRweError`,
    ``("os", exception)`` for an OSError or ``("bug", text)`` with the
    traceback of anything else.  Anything else a task prints goes to stderr.
    """
    import pickle
    import sys
    import traceback

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints of a task never mix with the answers
    tasks_in = sys.stdin.buffer
    import analysis.render.pipeline  # noqa: F401  (imported before the first task comes)

    while True:
        try:
            task = pickle.load(tasks_in)
        except EOFError:
            return
        try:
            answer = ("ok", _render_task(*task))
        except PsmaRweError as exc:
            answer = ("psma", exc.summary, exc.problems, exc.total)
        except OSError as exc:
            answer = ("os", exc)
        except Exception:
            answer = ("bug", traceback.format_exc())
        pickle.dump(answer, answers)
        answers.flush()


def _worker_command() -> list[str]:
    """A fresh interpreter running :func:`_serve`, on this process's import path.

    A plain ``python -c`` rather than :mod:`multiprocessing`: a ``spawn``
    worker imports the caller's main script again, so a script calling
    :func:`analysis.build.build` without an ``if __name__ == "__main__"`` guard
    would run again in every worker.
    """
    import json
    import sys

    path = json.dumps([p for p in sys.path if p])
    return [sys.executable, "-c", f"import sys; sys.path[:] = {path}; {_WORKER}"]


class _Worker:
    """One worker process and the pipes to it.

    The worker leads a process group of its own: Ctrl-C at the terminal reaches
    the calling process only (which stops the workers, without a traceback of
    each), and stopping a worker also ends the pandoc it may be running.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            _worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )

    def run(self, task: tuple[str, str, str, str]) -> tuple:
        import pickle

        try:
            pickle.dump(task, self.proc.stdin)
            self.proc.stdin.flush()
            return pickle.load(self.proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            code = self.proc.wait()
            return ("died", code)

    def stop(self) -> None:
        """End the worker (a task it is running is stopped) and wait for it."""
        if self.proc.poll() is None:
            if hasattr(os, "killpg"):  # not on Windows
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and its pandoc
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


def _render_in_workers(work: Path, out: Path, todo: list[tuple[str, str]], n: int) -> None:
    """Run the tasks on ``n`` worker processes, the first failure stopping them all."""
    import queue
    import threading

    pending: queue.SimpleQueue = queue.SimpleQueue()
    for doc, fmt in todo:
        pending.put((str(task_project(work, doc, fmt)), doc, fmt, str(out)))
    answers: list[tuple[tuple[str, str], tuple]] = []
    failed = threading.Event()
    lock = threading.Lock()

    def drive(worker: _Worker) -> None:
        while not failed.is_set():
            try:
                task = pending.get_nowait()
            except queue.Empty:
                return
            answer = worker.run(task)
            with lock:
                if failed.is_set():  # stopped because another task failed
                    return
                answers.append(((task[1], task[2]), answer))
                if answer[0] != "ok":
                    failed.set()
        return

    workers: list[_Worker] = []
    try:
        workers = [_Worker() for _ in range(n)]
        threads = [threading.Thread(target=drive, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            if failed.wait(0.05):
                for worker in workers:  # stop the tasks still running
                    worker.stop()
                break
        for thread in threads:
            thread.join()
    finally:
        for worker in workers:
            worker.stop()
    for (doc, fmt), answer in answers:
        kind = answer[0]
        if kind == "psma":
            raise PsmaRweError(*answer[1:]) from None
        if kind == "os":
            raise answer[1]
        if kind == "died":
            raise PsmaRweError(
                f"rendering {doc} to {fmt.upper()} failed: its worker process ended "
                f"unexpectedly (exit code {answer[1]})"
            )
        if kind == "bug":
            raise RuntimeError(f"rendering {doc} to {fmt.upper()} failed:\n{answer[1]}")
    for (_doc, _fmt), (_kind, caught) in sorted(answers):
        for category, message in caught:
            warnings.warn(message, category, stacklevel=3)
