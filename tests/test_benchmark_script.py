"""The benchmark script runs (its timings are reported by it, never asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from analysis import config

SCRIPT = config.PROJECT_DIR / "benchmarks" / "run.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(config.PROJECT_DIR)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False
    )


def test_help_lists_the_options():
    done = _run("--help")
    assert done.returncode == 0
    for option in ("--sizes", "--quick", "--json", "--data-cache"):
        assert option in done.stdout


def test_stage_times_cover_every_stage(tmp_path: Path):
    # The stage timers wrap the functions run_analysis calls: a renamed function
    # fails here rather than silently dropping out of the benchmark's table.
    done = _run("--stage-times", str(config.SYNTHETIC_DIR), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    stages = json.loads(done.stdout)
    assert list(stages) == [
        "imports",
        "read",
        "validate",
        "psa",
        "labs",
        "table1",
        "regression",
        "results",
        "write",
    ]
    assert all(seconds >= 0 for seconds in stages.values())
    assert (tmp_path / "out" / "results.json").is_file()
