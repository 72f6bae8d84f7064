"""Warm worker processes: a build's figures and documents are made in them, side by side.

A :class:`Pool` starts its workers as soon as it is made.  Each is forked from
the calling process once it has imported the pool's *preload* modules (on
Linux; else a fresh interpreter, ``python -c``, see
:func:`worker_command`); it runs the pool's *warm-up* functions (imports, a
first small drawing) and then waits for tasks.
:func:`analysis.build.build` makes its pool before it validates the cohort, so
that on a 2-core machine the workers' start-up runs beside the analysis, which
uses one core; the figures (:func:`analysis.charts_write.write_figures`) and
then the documents (:func:`analysis.render_docs.render_documents`) are tasks of
that pool.

Tasks
    A :class:`Task` names a function as ``"module:name"`` (importable on the
    calling process's ``sys.path``), its arguments (pickled) and what it does,
    in words ("rendering the poster to PDF"), for error messages.
    :meth:`Pool.start` hands a list of tasks to the workers, each worker taking
    the next task when it is free, and returns a :class:`Batch`; the calling
    process may go on with other work and collect the answers, in the tasks'
    order, with :meth:`Batch.wait` (of all its tasks, or of some while the
    others run).  :meth:`Batch.add` gives a running batch more tasks, after
    (or ahead of) those not yet taken.
Failures
    The first task that fails stops the pool: tasks not started are dropped,
    running ones are stopped (each worker leads a process group of its own,
    ended with anything it started, e.g. pandoc).  :meth:`Batch.wait` then
    raises, in the calling process, a :class:`~analysis.errors.PsmaRweError`
    of the task as the same one-line message (without the worker's
    traceback), an ``OSError`` as itself, a worker that died as a
    :class:`PsmaRweError` naming the task and exit code, and any other
    exception as a ``RuntimeError`` with the worker's traceback.  Python
    warnings a task gave are given again in the calling process, in the
    tasks' order.
Why not :mod:`multiprocessing`
    A ``spawn`` worker imports the caller's main script again, so a script
    calling :func:`analysis.build.build` without an ``if __name__ ==
    "__main__"`` guard would run again in every worker; its ``fork`` context
    forks a process at any moment.  Here the workers are forked once, when the
    pool is made, on Linux, from a process that has started no vl-convert or
    Typst runtime (else they are fresh interpreters, as with
    ``$PSMA_RWE_FORK=0``), and each gets fresh standard streams.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.errors import PsmaRweError

#: Environment variable giving the number of worker processes (``1``: no workers).
JOBS_ENV = "PSMA_RWE_JOBS"
#: Most worker processes.
MAX_JOBS = 8
#: Environment variable: ``0`` starts every worker as a fresh interpreter, not forked.
FORK_ENV = "PSMA_RWE_FORK"
#: Modules with native threads of their own once used: a process that imported one is
#: not forked (a build's process imports neither before its workers start).
NATIVE_RUNTIMES = ("vl_convert", "typst")


def jobs(value: int | None = None) -> int:
    """Worker processes to use: ``value``, else ``$PSMA_RWE_JOBS``, else the usable CPUs.

    Raises
    ------
    PsmaRweError
        ``PSMA_RWE_JOBS`` is not a whole number ≥ 1.
    """
    if value is None:
        text = os.environ.get(JOBS_ENV, "").strip()
        if text:
            if not text.isdigit() or int(text) < 1:
                raise PsmaRweError(f"{JOBS_ENV}={text!r}: expected a whole number ≥ 1")
            value = int(text)
    if value is None:
        try:
            value = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            value = os.cpu_count() or 1
    return max(1, min(MAX_JOBS, value))


@dataclass(frozen=True)
class Task:
    """One call for a worker.

    Attributes
    ----------
    function : str
        ``"module:name"`` of a module-level function.
    args : tuple
        Its positional arguments (pickled to the worker).
    what : str
        What the task does, for error messages ("rendering poster to PDF").
    """

    function: str
    args: tuple = ()
    what: str = "a task"


#: Allocations of container objects between two collections of the youngest
#: generation, in a process of psma-rwe's own (Python's default: 700, 2,000 from 3.14).
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Collect garbage less often in a psma-rwe process, and not at its end.

    A build's processes hold a large heap of long-lived objects (pandas, SciPy,
    Altair and the results), which Python's cyclic garbage collector walks
    again and again: 0.1-0.25 s of CPU in each process of a build, and 0.3 s
    more at the end of the build's process, where the interpreter's shutdown
    collects it all before the process ends.  The youngest generation is
    collected after :data:`GC_YOUNG_THRESHOLD` allocations (a few MiB at most
    between collections) and the objects left when the process ends are
    frozen (:func:`gc.freeze`) so that its shutdown does not collect them.
    Reference counting still frees everything as before; only cycles wait
    longer.  For the ``psma-rwe`` script and its workers, never for a process
    that imports the package.
    """
    import atexit
    import gc

    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)
    # registered before the command's own handlers (in main()), so it runs after them
    atexit.register(gc.freeze)


def call(function: str, args: Sequence[Any]) -> Any:
    """Call ``function`` (``"module:name"``) with ``args``, in this process."""
    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def _warm(functions: Sequence[str]) -> None:
    for function in functions:
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(function, ())


class _Forked:
    """A worker forked from this process, with the part of :class:`subprocess.Popen`'s
    interface that :class:`_Worker` uses (``stdin``, ``stdout``, ``pid``, ``poll``,
    ``wait``, ``kill``)."""

    def __init__(self, warm: Sequence[str], after_first: Sequence[str]) -> None:
        task_r, task_w = os.pipe()
        answer_r, answer_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing of ours is written twice
            with contextlib.suppress(Exception):
                stream.flush()
        with warnings.catch_warnings():
            # Python >= 3.12 warns of a fork beside threads (a terminal spinner's):
            # the worker uses none of their locks (fresh standard streams below)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the worker: never returns
            code = 1
            try:
                os.setsid()  # a process group of its own, as start_new_session
                os.dup2(task_r, 0)
                os.dup2(answer_w, 1)
                os.closerange(3, 1 << 16)  # other workers' pipes, the caller's files
                sys.stdin = open(0, closefd=False)  # noqa: SIM115
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _serve(warm, after_first)
                code = 0
            finally:
                os._exit(code)
        os.close(task_r)
        os.close(answer_w)
        self.pid = pid
        self.stdin = os.fdopen(task_w, "wb")
        self.stdout = os.fdopen(answer_r, "rb")
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def _reap(self, flags: int) -> None:
        try:
            done, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped already, elsewhere
            done, status = self.pid, 255 << 8
        if done:
            self.returncode = os.waitstatus_to_exitcode(status)

    def poll(self) -> int | None:
        if self.returncode is None and self._lock.acquire(blocking=False):
            try:
                if self.returncode is None:
                    self._reap(os.WNOHANG)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self) -> int:
        with self._lock:  # one waitpid at a time (a task's thread and stop() may both wait)
            if self.returncode is None:
                self._reap(0)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _serve(warm: Sequence[str], after_first: Sequence[str] = ()) -> None:
    """A worker's loop: run the warm-up functions, then the pickled tasks from stdin
    (``after_first``: more warm-up functions, run once the first task is answered).

    Each answer, pickled to stdout, is ``("ok", value, warnings)``,
    ``("psma", summary, problems, total)`` for a :class:`PsmaRweError`,
    ``("os", exception)`` for an OSError or ``("bug", text)`` with the traceback
    of anything else.  Whatever a task prints goes to stderr.  A warm-up
    function that fails is ignored: the task that needs it fails with the
    reason.
    """
    import pickle
    import sys
    import traceback

    tune_gc()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints of a task never mix with the answers
    tasks_in = sys.stdin.buffer
    _warm(warm)
    while True:
        try:
            function, args = pickle.load(tasks_in)
        except EOFError:
            return
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                value = call(function, args)
            answer = ("ok", value, [(w.category, str(w.message)) for w in caught])
        except PsmaRweError as exc:
            answer = ("psma", exc.summary, exc.problems, exc.total)
        except OSError as exc:
            answer = ("os", exc)
        except Exception:
            answer = ("bug", traceback.format_exc())
        pickle.dump(answer, answers)
        answers.flush()
        _warm(after_first)
        after_first = ()


def worker_command(warm: Sequence[str] = (), after_first: Sequence[str] = ()) -> list[str]:
    """A fresh interpreter running :func:`_serve`, on this process's import path."""
    import json
    import sys

    path = json.dumps([p for p in sys.path if p])
    code = f"import sys; sys.path[:] = {path}; from analysis.workers import _serve; "
    call = f"_serve({json.dumps(list(warm))}, {json.dumps(list(after_first))})"
    return [sys.executable, "-c", code + call]


class _Worker:
    """One worker process and the pipes to it, in a process group of its own: Ctrl-C at
    the terminal reaches the calling process only, which stops the workers.  Forked
    from this process (``fork``), or a fresh interpreter."""

    def __init__(self, warm: Sequence[str], after_first: Sequence[str], fork: bool) -> None:
        if fork:
            self.proc: Any = _Forked(warm, after_first)
        else:
            self.proc = subprocess.Popen(
                worker_command(warm, after_first),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )

    def run(self, task: Task) -> tuple:
        import pickle

        try:
            pickle.dump((task.function, task.args), self.proc.stdin)
            self.proc.stdin.flush()
            return pickle.load(self.proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            return ("died", self.proc.wait())

    def stop(self) -> None:
        """End the worker, and what it started, now."""
        if self.proc.poll() is None:
            if hasattr(os, "killpg"):  # not on Windows
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class Batch:
    """Tasks being run by a pool's workers; :meth:`wait` gives their results.

    :meth:`add` gives it more tasks while it runs: they come after those it
    holds, so that a worker takes them when nothing given before is left (in
    a build, the documents that need no figure are rendered by the worker
    that drew its last figure first).
    """

    def __init__(self, pool: Pool, tasks: Sequence[Task], workers: Sequence[_Worker]) -> None:
        from collections import deque

        self.tasks: list[Task] = []
        self._pool = pool
        self._pending: deque[tuple[int, Task]] = deque()
        self._answers: dict[int, tuple] = {}
        self._warned: set[int] = set()
        self._failed = threading.Event()
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._idle = list(workers)  # workers without a thread taking tasks
        self._threads: list[threading.Thread] = []
        self.add(tasks)

    def add(self, tasks: Sequence[Task], *, ahead: bool = False) -> list[int]:
        """Queue ``tasks`` after those the batch holds not yet started (``ahead``:
        before them, in their order); returns their indices (for :meth:`wait`)."""
        with self._lock:
            first = len(self.tasks)
            self.tasks.extend(tasks)
            if ahead:
                self._pending.extendleft(reversed(list(enumerate(tasks, first))))
            else:
                self._pending.extend(enumerate(tasks, first))
            idle, self._idle = self._idle, []
            for worker in idle:
                thread = threading.Thread(target=self._drive, args=(worker,), daemon=True)
                self._threads.append(thread)
                thread.start()
        return list(range(first, first + len(tasks)))

    def _drive(self, worker: _Worker) -> None:
        while True:
            with self._lock:
                if self._failed.is_set():
                    return
                if not self._pending:
                    self._idle.append(worker)  # until :meth:`add` gives more
                    return
                index, task = self._pending.popleft()
            answer = worker.run(task)
            with self._lock:
                if self._failed.is_set():  # stopped because another task failed
                    return
                self._answers[index] = answer
                if answer[0] != "ok":
                    self._failed.set()
                self._answered.notify_all()

    def wait(self, indices: Sequence[int] | None = None) -> list[Any]:
        """The results of the tasks ``indices`` (default: all the batch holds), in
        their order, once they are done (see the module's *Failures* for what a
        failed task raises).  A task's warnings are given once, by the first
        wait that covers it."""
        with self._lock:
            wanted = list(range(len(self.tasks)) if indices is None else indices)
        try:
            with self._lock:
                while not self._failed.is_set() and any(i not in self._answers for i in wanted):
                    self._answered.wait(0.05)
            if self._failed.is_set():
                self._pool.stop()  # the tasks still running
            if indices is None or self._failed.is_set():
                for thread in list(self._threads):
                    thread.join()
        except BaseException:
            self._pool.stop()
            raise
        for index in sorted(self._answers):
            _raise_failure(self.tasks[index], self._answers[index])
        for index in sorted(wanted):
            if index not in self._warned:
                self._warned.add(index)
                for category, message in self._answers[index][2]:
                    warnings.warn(message, category, stacklevel=2)
        return [self._answers[i][1] for i in wanted]


def _raise_failure(task: Task, answer: tuple) -> None:
    kind = answer[0]
    if kind == "psma":
        raise PsmaRweError(*answer[1:]) from None
    if kind == "os":
        raise answer[1]
    if kind == "died":
        raise PsmaRweError(
            f"{task.what} failed: its worker process ended unexpectedly (exit code {answer[1]})"
        )
    if kind == "bug":
        raise RuntimeError(f"{task.what} failed:\n{answer[1]}")


class Pool:
    """``n`` warm worker processes (see the module docstring).

    Parameters
    ----------
    n : int
        Worker processes (≥ 1).
    warm : sequence of str
        ``"module:name"`` functions each worker calls, without arguments, before
        its first task: imports and first uses that would otherwise slow the
        first task.
    warm_first : sequence of str
        Functions the first worker alone calls instead of ``warm``, which it
        calls once its first task is answered: the warm-up of the first task,
        given to it alone (:meth:`start` with ``first=True``; in a build, the
        regression, which the analysis waits for while the other warm-ups
        could wait).
    preload : sequence of str
        Modules this process imports before it forks the workers, which then
        have them without importing them again (modules it needs itself: in a
        build, pandas and SciPy's statistics, 0.9 s of each worker's start).
    early : int, optional
        Workers (not the first) forked before the preload, from a process that has
        imported little: they import what their warm-up needs themselves, on a
        core the preload leaves idle (in a build, the second of 2 workers starts
        Altair and vl-convert's engine beside the preload; its own import of
        pandas costs 0.2 s of CPU, the build's wall time fell by 0.35-0.4 s,
        the mean of 14 interleaved pairs, 11 of them faster).  Default 0.
    fork : bool, optional
        Fork the workers from this process (default on Linux, unless
        ``$PSMA_RWE_FORK`` is ``0``), else start each as a
        fresh interpreter (:func:`worker_command`).  A forked worker starts
        with this process's imports and before any drawing or BLAS work of its
        own (this process has drawn nothing: the figures are drawn in workers);
        not where this process has imported a module of
        :data:`NATIVE_RUNTIMES`.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        n: int,
        warm: Sequence[str] = (),
        warm_first: Sequence[str] = (),
        *,
        preload: Sequence[str] = (),
        fork: bool | None = None,
        early: int = 0,
    ) -> None:
        self.n = max(1, n)
        self.workers: list[_Worker] = []
        self._stopped = False
        if fork is None:
            # Linux only: on macOS the system's libraries (Accelerate's BLAS) are not
            # safe to use in a forked child, the reason multiprocessing spawns there
            fork = sys.platform.startswith("linux") and os.environ.get(FORK_ENV, "").strip() != "0"
            # a native runtime this process started (vl-convert's, Typst's) would be
            # copied without its threads: then fresh interpreters
            fork = fork and not any(m in sys.modules for m in NATIVE_RUNTIMES)
        plans = [(warm_first, warm) if warm_first else (warm, ())]
        plans += [(warm, ())] * (self.n - 1)
        early = min(max(0, early), self.n - 1) if fork else 0
        # the last `early` workers are forked first, then the preload is imported
        order = [*range(self.n - early, self.n), *range(self.n - early)]
        started: dict[int, _Worker] = {}
        try:
            for k, index in enumerate(order):
                if k == early and fork:
                    for module in preload:
                        with contextlib.suppress(ImportError):
                            importlib.import_module(module)
                worker = _Worker(*plans[index], fork)
                started[index] = worker
                self.workers.append(worker)  # (stopped below if a later one fails)
        except BaseException:
            self.stop()
            raise
        self.workers = [started[i] for i in range(self.n)]

    def start(self, tasks: Sequence[Task], *, first: bool = False) -> Batch:
        """Hand ``tasks`` to the workers (``first``: to the first worker only, which
        ran ``warm_first``); the answers come from :meth:`Batch.wait`.

        Raises
        ------
        PsmaRweError
            The pool was stopped by an earlier failure.
        """
        if self._stopped:
            raise PsmaRweError("the worker processes were stopped by an earlier failure")
        return Batch(self, tasks, self.workers[:1] if first else self.workers)

    def run(self, tasks: Sequence[Task]) -> list[Any]:
        """:meth:`start` then :meth:`Batch.wait`."""
        return self.start(tasks).wait()

    def stop(self) -> None:
        """Stop every worker now, and what it is running."""
        self._stopped = True
        for worker in self.workers:
            worker.stop()

    def close(self) -> None:
        """End the workers (an idle worker holds nothing worth waiting for: it is stopped
        like a busy one, which saves its interpreter's shutdown, about a second)."""
        self.stop()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def results_file(results: Any, folder: Path) -> Path:
    """``results`` pickled into ``folder`` for the workers (:func:`load_results`)."""
    import pickle

    path = Path(folder) / "_results.pickle"
    path.write_bytes(pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
    return path


_LOADED: dict[tuple[str, int, int], Any] = {}


def load_results(path: str | Path) -> Any:
    """The object pickled at ``path``, read once per worker (kept by path, time and size)."""
    import pickle

    path = Path(path)
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = pickle.loads(path.read_bytes())
    return _LOADED[key]
