"""The warm worker processes (analysis/workers.py): tasks' results in order, each kind of
failure raised in the calling process as the task's own error, warnings passed on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from analysis import workers
from analysis.errors import PsmaRweError
from analysis.workers import Pool, Task


@pytest.fixture(autouse=True, params=["fork", "fresh"])
def start_mode(request, monkeypatch):
    """Every test twice: workers forked from this process, and fresh interpreters (the
    tasks here start no native runtime: forked even where other tests drew charts)."""
    monkeypatch.setenv(workers.FORK_ENV, "1" if request.param == "fork" else "0")
    monkeypatch.setattr(workers, "NATIVE_RUNTIMES", ())
    return request.param


@pytest.fixture
def tasks_module(tmp_path, monkeypatch):
    """A module of task functions, importable by the workers (they take ``sys.path``)."""
    (tmp_path / "psma_tasks.py").write_text(
        textwrap.dedent(
            """
            import os, time, warnings
            from analysis.errors import PsmaRweError, Problem

            WARMED = []

            def warm():
                WARMED.append(os.getpid())

            def was_warmed():
                return WARMED == [os.getpid()]

            def warm_for_first():
                WARMED.append("first")

            def warmed():
                return os.getpid(), list(WARMED)

            def imported_by():
                import psma_preloaded
                return psma_preloaded.IMPORTED_BY

            def square(x):
                return x * x

            def pid():
                time.sleep(0.3)
                return os.getpid()

            def bad_data():
                problem = Problem("patients.csv", 3, "age", "x")
                raise PsmaRweError("patients.csv: bad rows", [problem])

            def missing(path):
                return open(path).read()

            def bug():
                return 1 / 0

            def warn():
                warnings.warn("pandoc said something", UserWarning)
                return "done"

            def die():
                os._exit(7)

            def sleep(seconds, marker):
                time.sleep(seconds)
                open(marker, "w").close()

            def stamp(name, log, seconds=0.0):
                time.sleep(seconds)
                with open(log, "a") as f:
                    f.write(name + "\\n")
                return name
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "psma_preloaded.py").write_text(
        "import os\nIMPORTED_BY = os.getpid()\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "psma_tasks"
    sys.modules.pop("psma_preloaded", None)


def test_results_come_in_the_tasks_order(tasks_module):
    with Pool(2) as pool:
        batch = pool.start([Task(f"{tasks_module}:square", (i,)) for i in range(9)])
        assert batch.wait() == [i * i for i in range(9)]


def test_tasks_run_side_by_side_in_warmed_workers(tasks_module):
    with Pool(2, warm=(f"{tasks_module}:warm",)) as pool:
        assert pool.run([Task(f"{tasks_module}:was_warmed")] * 2) == [True, True]
        pids = pool.run([Task(f"{tasks_module}:pid")] * 2)
    assert len(set(pids)) == 2  # one task each: both workers were busy at once


def test_a_warm_up_that_fails_does_not_stop_the_worker(tasks_module):
    with Pool(1, warm=(f"{tasks_module}:no_such_function",)) as pool:
        assert pool.run([Task(f"{tasks_module}:square", (3,))]) == [9]


def test_a_projects_error_is_raised_as_itself(tasks_module):
    with Pool(2) as pool, pytest.raises(PsmaRweError) as caught:
        pool.run([Task(f"{tasks_module}:square", (2,)), Task(f"{tasks_module}:bad_data")])
    assert caught.value.summary == "patients.csv: bad rows"
    assert [p.row for p in caught.value.problems] == [3]
    assert caught.value.__cause__ is None


def test_an_os_error_is_raised_as_itself(tasks_module, tmp_path):
    with Pool(1) as pool, pytest.raises(FileNotFoundError, match="no-such-file"):
        pool.run([Task(f"{tasks_module}:missing", (str(tmp_path / "no-such-file"),))])


def test_a_bug_is_a_runtime_error_with_the_workers_traceback(tasks_module):
    with Pool(1) as pool, pytest.raises(RuntimeError) as caught:
        pool.run([Task(f"{tasks_module}:bug", (), "dividing")])
    assert str(caught.value).startswith("dividing failed:\n")
    assert "ZeroDivisionError" in str(caught.value)


def test_a_worker_that_dies_is_a_clear_error(tasks_module):
    with Pool(1) as pool, pytest.raises(PsmaRweError, match=r"^drawing x failed: .*exit code 7"):
        pool.run([Task(f"{tasks_module}:die", (), "drawing x")])


def test_warnings_of_a_task_are_given_again(tasks_module):
    with Pool(1) as pool, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert pool.run([Task(f"{tasks_module}:warn")]) == ["done"]
    assert [str(w.message) for w in caught] == ["pandoc said something"]


def test_the_first_failure_stops_the_tasks_still_running(tasks_module, tmp_path):
    marker = tmp_path / "slept"
    started = time.monotonic()
    with Pool(2) as pool:
        with pytest.raises(RuntimeError):
            sleep = Task(f"{tasks_module}:sleep", (30, str(marker)))
            pool.run([sleep, Task(f"{tasks_module}:bug")])
        with pytest.raises(PsmaRweError, match="stopped by an earlier failure"):
            pool.start([Task(f"{tasks_module}:square", (1,))])
    assert time.monotonic() - started < 20
    assert not marker.exists()
    assert all(w.proc.poll() is not None for w in pool.workers)


def _order(log) -> list[str]:
    return log.read_text(encoding="utf-8").split()


def test_tasks_added_to_a_batch_run_after_those_it_holds(tasks_module, tmp_path):
    log = tmp_path / "log"
    with Pool(1) as pool:
        batch = pool.start([Task(f"{tasks_module}:stamp", (n, str(log), 0.2)) for n in "ab"])
        later = batch.add([Task(f"{tasks_module}:stamp", ("c", str(log)))])
        assert later == [2]
        assert batch.wait([0]) == ["a"]  # one task's answer, the others still running
        assert batch.wait() == ["a", "b", "c"]
    assert _order(log) == ["a", "b", "c"]


def test_tasks_added_ahead_run_before_those_not_started(tasks_module, tmp_path):
    log = tmp_path / "log"
    with Pool(1) as pool:
        stamp = f"{tasks_module}:stamp"
        batch = pool.start([Task(stamp, (n, str(log), 0.3 if n == "a" else 0)) for n in "ab"])
        time.sleep(0.1)  # "a" taken, "b" waiting
        assert batch.add([Task(stamp, (n, str(log))) for n in "xy"], ahead=True) == [2, 3]
        assert batch.wait() == ["a", "b", "x", "y"]  # in the tasks' order
    assert _order(log) == ["a", "x", "y", "b"]  # run in the queue's


def test_a_batch_whose_workers_went_idle_takes_added_tasks(tasks_module):
    with Pool(2) as pool:
        batch = pool.start([Task(f"{tasks_module}:square", (2,))])
        assert batch.wait() == [4]  # every worker has left the batch
        indices = batch.add([Task(f"{tasks_module}:square", (i,)) for i in (3, 4, 5)])
        assert batch.wait(indices) == [9, 16, 25]
        assert batch.wait() == [4, 9, 16, 25]


def test_a_tasks_warnings_are_given_once_over_several_waits(tasks_module):
    with Pool(1) as pool, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = pool.start([Task(f"{tasks_module}:warn")])
        batch.wait([0])
        batch.add([Task(f"{tasks_module}:square", (2,))])
        assert batch.wait() == ["done", 4]
    assert [str(w.message) for w in caught] == ["pandoc said something"]


def test_a_failure_among_added_tasks_is_raised_by_a_wait_for_others(tasks_module):
    with Pool(1) as pool:
        batch = pool.start([Task(f"{tasks_module}:square", (2,))])
        batch.add([Task(f"{tasks_module}:bug", (), "dividing")])
        late = batch.add([Task(f"{tasks_module}:square", (3,))])
        with pytest.raises(RuntimeError, match=r"^dividing failed"):
            batch.wait(late)


def test_closing_ends_every_worker(tasks_module):
    pool = Pool(2)
    pool.run([Task(f"{tasks_module}:square", (1,))])
    pool.close()
    assert all(w.proc.poll() is not None for w in pool.workers)


def test_results_are_handed_over_once_per_worker(tmp_path):
    path = workers.results_file({"n": 14}, tmp_path)
    first = workers.load_results(path)
    assert first == {"n": 14}
    assert workers.load_results(path) is first  # read once
    path2 = workers.results_file({"n": 15}, tmp_path / "..")
    assert workers.load_results(path2) == {"n": 15}


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_jobs_setting_is_refused(monkeypatch, value):
    monkeypatch.setenv(workers.JOBS_ENV, value)
    with pytest.raises(PsmaRweError, match="PSMA_RWE_JOBS"):
        workers.jobs()


def test_jobs_setting(monkeypatch):
    monkeypatch.setenv(workers.JOBS_ENV, "3")
    assert workers.jobs() == 3
    assert workers.jobs(1) == 1
    assert workers.jobs(99) == workers.MAX_JOBS
    monkeypatch.delenv(workers.JOBS_ENV)
    assert 1 <= workers.jobs() <= workers.MAX_JOBS


def test_the_worker_command_runs_this_interpreter():
    command = workers.worker_command(("a:b",))
    assert command[0] == sys.executable
    assert '_serve(["a:b"], [])' in command[-1]
    assert '_serve(["c:d"], ["a:b"])' in workers.worker_command(("c:d",), ("a:b",))[-1]


def test_the_first_worker_warms_for_its_first_task_then_like_the_others(tasks_module):
    m = tasks_module
    with Pool(2, warm=(f"{m}:warm",), warm_first=(f"{m}:warm_for_first",)) as pool:
        firsts = pool.start([Task(f"{m}:warmed")] * 3, first=True).wait()
        others = pool.run([Task(f"{m}:pid")] * 2)
    pids = {pid for pid, _ in firsts}
    assert len(pids) == 1  # first=True: the first worker alone
    (pid,) = pids
    assert [w for _, w in firsts] == [["first"], ["first", pid], ["first", pid]]
    assert pid in others and len(set(others)) == 2


def test_forked_workers_have_the_preloaded_modules(tasks_module, start_mode):
    """preload: imported here before the fork, so a forked worker has the module as
    this process imported it; a fresh interpreter imports it itself."""
    with Pool(2, preload=("psma_preloaded",)) as pool:
        pids = pool.run([Task(f"{tasks_module}:imported_by")] * 2)
        workers_pids = {w.proc.pid for w in pool.workers}
    if start_mode == "fork":
        assert pids == [os.getpid()] * 2
    else:
        assert set(pids) <= workers_pids and "psma_preloaded" not in sys.modules


def test_early_workers_are_forked_before_the_preload(tasks_module, start_mode):
    """early=1: the second worker is forked before this process imports the preload,
    and imports it itself; the first (warm_first's) is forked after, with it."""
    sys.modules.pop("psma_preloaded", None)
    with Pool(
        2, warm_first=(f"{tasks_module}:warm_for_first",), preload=("psma_preloaded",), early=1
    ) as pool:
        first = pool.start([Task(f"{tasks_module}:imported_by")], first=True).wait()
        second = workers.Batch(pool, [Task(f"{tasks_module}:imported_by")], pool.workers[1:])
        second = second.wait()
        warmed = pool.start([Task(f"{tasks_module}:warmed")], first=True).wait()
        pids = [w.proc.pid for w in pool.workers]
    assert warmed[0][1][0] == "first"  # the first worker is still warm_first's
    if start_mode == "fork":
        assert first == [os.getpid()] and second == [pids[1]]
    else:
        assert first == [pids[0]] and second == [pids[1]]


def test_a_process_with_a_native_runtime_is_not_forked(tasks_module, monkeypatch):
    """vl-convert's or Typst's runtime, started here, would be copied without its
    threads (a forked worker's first drawing failed): the workers are then fresh."""
    monkeypatch.setattr(workers, "NATIVE_RUNTIMES", ("vl_convert", "typst"))
    monkeypatch.setitem(sys.modules, "vl_convert", sys.modules.get("vl_convert", object()))
    with Pool(1) as pool:
        assert isinstance(pool.workers[0].proc, subprocess.Popen)
    monkeypatch.delitem(sys.modules, "vl_convert")
    monkeypatch.delitem(sys.modules, "typst", raising=False)
    monkeypatch.setenv(workers.FORK_ENV, "1")
    with Pool(1) as pool:
        assert not isinstance(pool.workers[0].proc, subprocess.Popen)


def test_workers_collect_garbage_less_often(tasks_module):
    with Pool(1) as pool:
        (threshold,) = pool.run([Task("gc:get_threshold")])
    assert threshold[0] == workers.GC_YOUNG_THRESHOLD


def test_a_tuned_process_freezes_its_objects_as_it_ends(start_mode):
    """The interpreter's last collections skip what is left (0.3 s after a build); a
    handler registered before the tuning runs after the freeze and sees it."""
    if start_mode == "fresh":
        pytest.skip("no worker here: once is enough")
    code = textwrap.dedent(
        """
        import atexit, gc
        atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))
        from analysis.workers import tune_gc
        print("threshold", gc.get_threshold()[0])
        tune_gc()
        print("threshold", gc.get_threshold()[0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    before = out[0]  # Python's own default, which differs between versions
    assert before != f"threshold {workers.GC_YOUNG_THRESHOLD}"
    assert out[1:3] == [f"threshold {workers.GC_YOUNG_THRESHOLD}", "frozen True"]


def test_the_script_tunes_the_collector_before_its_command(monkeypatch, start_mode):
    if start_mode == "fresh":
        pytest.skip("no worker here: once is enough")
    from analysis import cli

    calls = []
    monkeypatch.setattr(workers, "tune_gc", lambda: calls.append("tune"))
    monkeypatch.setattr(cli, "app", lambda: calls.append("app"))
    cli.main()
    assert calls == ["tune", "app"]
