#!/usr/bin/env python
"""Benchmark of psma-rwe: every figure measured against a floor taken in the same run.

    python benchmarks/run.py                      # sizes 1k, 10k, 100k
    python benchmarks/run.py --quick              # sizes 1k, 10k; fewer repeats
    python benchmarks/run.py --sizes 1000,10000 --json /tmp/bench.json
    python benchmarks/run.py --quick --large-build 10000   # quick, plus the 10k build
    python benchmarks/run.py --quick --build-runs 3        # quick, builds as medians of 3

Shared machines are noisy, so each time is also reported as a ratio to a *floor*
measured in the same run: a fresh Python process that imports pandas,
statsmodels.api, great_tables and altair, runs pandoc once (the binary of
``pypandoc.get_pandoc_path()``) and compiles a one-page document with the
``typst`` package.  Figures and targets:

* cold full build of the synthetic cohort (abstract, poster, supplement) with
  the embedded renderer (``--renderer embedded``, whether or not Quarto is on
  PATH) in a fresh process, median of ``--build-runs`` (3; 1 with ``--quick``):
  ≤ 3 × floor; its stages (hashing, validating,
  analysing, tables, figures, ..., rendering, manifest) are timed in a second,
  in-process build from its progress callback and printed below the table;
* the same cold build with ``--renderer quarto`` when ``quarto`` is on PATH
  (skipped with the reason otherwise), one after each embedded build: the
  embedded renderer ≥ 4 × faster;
* no-op build (same label, same inputs): ≤ 1 s and no heavy import
  (checked with ``python -X importtime``);
* cold full build of a large synthetic cohort (10k patients, ``--large-build``;
  skipped with ``--quick`` unless the option is given, and with
  ``--skip-build``): wall time and peak RSS, reported, no target;
* ``psma-rwe --help``: ≤ 0.3 s (median of several runs);
* ``psma-rwe analyze`` on synthetic cohorts of each size (written once per size
  with ``psma-rwe synth``, outside the timing): wall time and peak RSS of the
  process; 10k patients ≤ 10 s and ≤ 1 GiB; growth from the second-largest to
  the largest size no worse than linear.  Per-stage times (read, validate, psa,
  labs, table1, regression, results, write) come from a second, in-process run
  with the stage functions wrapped in timers.

Prints a table (rich) and writes JSON (default ``benchmarks/results/full.json``,
or ``quick.json`` with ``--quick``) with the machine's cores, Python and package
versions, so that runs can be compared.  Nothing here is asserted by the test
suite; the exit code is 0 whether targets pass or not (1 if a command fails).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SYNTHETIC = ROOT / "data" / "synthetic"
GIB = 1 << 30
#: The embedded renderer's cold build at least this many times faster than Quarto's.
QUARTO_SPEEDUP = 4.0
#: Target of the cold build: at most this many times the floor.
COLD_BUILD_TARGET = 3.0

#: Top-level packages a no-op build must not import.
HEAVY = (
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "great_tables",
    "altair",
    "vl_convert",
    "typst",
    "pypandoc",
    "firthmodels",
    "sklearn",
    "pyarrow",
)

#: Versions recorded with every run.
PACKAGES = (
    "psma-rwe",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "firthmodels",
    "great_tables",
    "altair",
    "vl-convert-python",
    "typst",
    "pypandoc-binary",
    "typer",
    "rich",
    "pyarrow",
)

FLOOR_SCRIPT = r"""
import json, shutil, subprocess, sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
import pandas, statsmodels.api, great_tables, altair
t1 = time.perf_counter()
import pypandoc, typst
work = Path(tempfile.mkdtemp(prefix="psma-floor-"))
(work / "a.md").write_text("# Floor\n\nOne paragraph of *text*.\n", encoding="utf-8")
subprocess.run(
    [pypandoc.get_pandoc_path(), str(work / "a.md"), "--standalone", "--metadata",
     "title=Floor", "-o", str(work / "a.html")],
    check=True,
)
t2 = time.perf_counter()
(work / "a.typ").write_text("= Floor\nOne page of text.\n", encoding="utf-8")
typst.compile(str(work / "a.typ"), output=str(work / "a.pdf"))
t3 = time.perf_counter()
shutil.rmtree(work)
json.dump({"imports": t1 - t0, "pandoc": t2 - t1, "typst": t3 - t2}, sys.stdout)
"""

# --- running commands ----------------------------------------------------------------


def _env() -> dict[str, str]:
    """The environment of every child: this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def psma_rwe() -> list[str]:
    """The ``psma-rwe`` console script run by this Python (``-m analysis`` without one)."""
    script = Path(sysconfig.get_path("scripts")) / "psma-rwe"
    if script.is_file() and script.read_bytes()[:2] == b"#!":
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "analysis"]


class Run:
    """One child process: wall seconds, peak RSS (bytes), stdout and stderr."""

    def __init__(self, seconds: float, max_rss: int, stdout: str, stderr: str):
        self.seconds, self.max_rss, self.stdout, self.stderr = seconds, max_rss, stdout, stderr


def run(cmd: list[str], *, cwd: Path = ROOT) -> Run:
    """Run ``cmd`` to completion; peak RSS from ``wait4`` (this child only)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return Run(seconds, usage.ru_maxrss * scale, stdout, stderr)


def median_run(cmd: list[str], n: int) -> tuple[Run, list[float]]:
    runs = [run(cmd) for _ in range(max(n, 1))]
    times = [r.seconds for r in runs]
    middle = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    return middle, times


def imported_modules(importtime_stderr: str) -> list[str]:
    """Module names from ``python -X importtime`` output."""
    names = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.append(name)
    return names


# --- stage times (run in a child: python benchmarks/run.py --stage-times DATA OUT) ------


STAGES = ("imports", "read", "validate", "psa", "labs", "table1", "regression", "results", "write")


def stage_times(data_dir: Path, out_dir: Path) -> dict[str, float]:
    """Seconds per stage of load → analyse → write, timing the stage functions in place.

    The real :func:`~analysis.analyze.run_analysis` runs; its stage functions are
    wrapped in timers where it looks them up, so nothing is re-implemented here.
    ``results`` is what ``run_analysis`` spends outside the wrapped functions
    (assembling the result objects).
    """
    times: dict[str, float] = defaultdict(float)
    start = time.perf_counter()
    import analysis.analyze as analyze
    import analysis.load as load
    import analysis.models as models
    import analysis.validate as validate

    times["imports"] = time.perf_counter() - start

    def wrap(module, name: str, stage: str) -> None:
        func = getattr(module, name)

        @functools.wraps(func)
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                times[stage] += time.perf_counter() - t

        setattr(module, name, timed)

    wrap(load, "read_raw", "read")
    wrap(validate, "validate_frames", "validate")
    for name in ("patient_psa", "psa_course"):
        wrap(analyze, name, "psa")
    for name in ("baseline_values", "bmi", "trajectories", "toxicity"):
        wrap(analyze, name, "labs")
    for name in ("cohort_summary", "prior_therapy_counts", "prior_therapy_summary", "table1"):
        wrap(analyze, name, "table1")
    wrap(analyze, "regression_frame", "regression")
    for name in ("fit_univariable", "fit_multivariable"):
        wrap(models, name, "regression")

    cohort = load.load_cohort(data_dir)
    t = time.perf_counter()
    result = analyze.run_analysis(cohort)
    inner = sum(times[s] for s in ("psa", "labs", "table1", "regression"))
    times["results"] = time.perf_counter() - t - inner
    t = time.perf_counter()
    analyze.write_analysis(result, out_dir)
    times["write"] = time.perf_counter() - t
    return {s: round(times[s], 4) for s in STAGES}


def build_stages(outputs: Path) -> dict[str, float]:
    """Seconds per stage of an in-process build, from its progress callback."""
    marks: list[tuple[str, float]] = [("start", time.perf_counter())]
    from analysis.build import build

    marks.append(("import", time.perf_counter()))
    build(
        SYNTHETIC,
        label="x",
        outputs=outputs,
        renderer="embedded",
        progress=lambda s: marks.append((s, time.perf_counter())),
    )
    marks.append(("end", time.perf_counter()))
    return {name: round(marks[i + 1][1] - t, 4) for i, (name, t) in enumerate(marks[:-1]) if i > 0}


# --- machine information ------------------------------------------------------------------


def machine_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in PACKAGES:
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "cpu": cpu,
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "env": {
            k: os.environ[k]
            for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CI")
            if k in os.environ
        },
    }


def compile_package() -> str:
    """Write the checkout's bytecode (``analysis/__pycache__``), as a first run would.

    An installed package has its ``.pyc`` files (pip compiles them); an editable
    checkout gets them from its first run, unless ``PYTHONDONTWRITEBYTECODE`` is
    set, as on some machines (this workplace's sandboxes): then every build
    compiled the package's modules from source in each of its processes (0.3 s of
    CPU), which no user's second build does.  The libraries' bytecode is left as
    installed.
    """
    import compileall

    ok = compileall.compile_dir(str(ROOT / "analysis"), quiet=1)
    dont_write = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    state = "compiled before the runs" if ok else "compiling failed"
    return state + (" (PYTHONDONTWRITEBYTECODE is set)" if dont_write else "")


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --- the benchmark ------------------------------------------------------------------------------


def benchmark(args: argparse.Namespace, say) -> dict:
    cli = psma_rwe()
    work = Path(tempfile.mkdtemp(prefix="psma-bench-"))
    cache = Path(args.data_cache) if args.data_cache else work / "data"
    result: dict = {
        "schema": 1,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "psma_rwe_invocation": "python -m analysis" if "-m" in cli else "console script",
        "machine": machine_info(),
        "load_average_start": _load(),
    }
    try:
        # Warm the file cache (compiled modules, the pandoc and typst binaries) untimed.
        say("warming up")
        result["bytecode"] = compile_package()
        run([sys.executable, "-c", FLOOR_SCRIPT])

        say("floor")
        floor_runs = [run([sys.executable, "-c", FLOOR_SCRIPT]) for _ in range(args.floor_runs)]
        floor_times = [r.seconds for r in floor_runs]
        floor = statistics.median(floor_times)
        parts = [json.loads(r.stdout) for r in floor_runs]
        result["floor"] = {
            "seconds": round(floor, 3),
            "runs": [round(t, 3) for t in floor_times],
            "parts_median": {k: round(statistics.median(p[k] for p in parts), 3) for k in parts[0]},
            "max_rss_bytes": max(r.max_rss for r in floor_runs),
        }
        figures = []

        def synthetic(n: int) -> tuple[Path, float | None]:
            """The cohort of ``n`` patients (written once per cache), seconds taken or None."""
            data = cache / f"synth-{n}-seed{args.seed}"
            if (data / "measurements.csv").is_file():
                return data, None
            say(f"synth {n:,} patients")
            made = run(
                [
                    *cli,
                    "synth",
                    "--patients",
                    str(n),
                    "--seed",
                    str(args.seed),
                    "--out",
                    str(data),
                    "--force",
                ]
            )
            return data, round(made.seconds, 3)

        def figure(name, seconds, target, ok, *, runs=None, max_rss=None, **extra):
            figures.append(
                {
                    "name": name,
                    "seconds": round(seconds, 3),
                    "ratio_to_floor": round(seconds / floor, 3),
                    "max_rss_bytes": max_rss,
                    "target": target,
                    "pass": bool(ok),
                    **({"runs": [round(t, 3) for t in runs]} if runs else {}),
                    **extra,
                }
            )

        # Full build, cold (fresh outputs folder, fresh process), then the no-op.
        if not args.skip_build:
            with_quarto = shutil.which("quarto") is not None
            say("cold build" + (", --renderer quarto" if with_quarto else ""))
            # one build of each renderer per round, so that a slower spell of a shared
            # machine weighs on both alike
            builds, qruns = [], []
            for i in range(args.build_runs):
                outputs = work / f"outputs-{i}"
                cmd = [*cli, "build", str(SYNTHETIC), "--outputs", str(outputs), "--label", "x"]
                cmd += ["--renderer", "embedded"]
                builds.append(run(cmd))
                if with_quarto:
                    outputs = work / f"outputs-quarto-{i}"
                    qcmd = [*cli, "build", str(SYNTHETIC), "--outputs", str(outputs)]
                    qruns.append(run([*qcmd, "--label", "x", "--renderer", "quarto"]))
            cold = sorted(builds, key=lambda r: r.seconds)[len(builds) // 2]
            figure(
                "build (cold)",
                cold.seconds,
                f"≤ {COLD_BUILD_TARGET:g} × floor",
                cold.seconds <= COLD_BUILD_TARGET * floor,
                runs=[r.seconds for r in builds],
                max_rss=cold.max_rss,
            )
            # The same build with real Quarto, when it is on PATH: the embedded renderer's
            # reason to exist besides portability is being this much faster.
            if qruns:
                qcold = sorted(qruns, key=lambda r: r.seconds)[len(qruns) // 2]
                figure(
                    "build (cold, --renderer quarto)",
                    qcold.seconds,
                    f"embedded ≥ {QUARTO_SPEEDUP:g} × faster",
                    qcold.seconds >= QUARTO_SPEEDUP * cold.seconds,
                    runs=[r.seconds for r in qruns],
                    max_rss=qcold.max_rss,
                    speedup=round(qcold.seconds / cold.seconds, 2),
                )
            else:
                result["quarto_build"] = "skipped: quarto is not on PATH"
            say("no-op build")
            noop_cmd = [*cli, "build", str(SYNTHETIC), "--outputs", str(work / "outputs-0")]
            noop_cmd += ["--label", "x", "--renderer", "embedded"]
            noop, noop_times = median_run(noop_cmd, args.repeat)
            if "up to date" not in noop.stdout:
                raise RuntimeError(f"the no-op build did build:\n{noop.stdout}")
            traced = run([sys.executable, "-X", "importtime", *cli[1:], *noop_cmd[len(cli) :]])
            modules = imported_modules(traced.stderr)
            heavy = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
            figure(
                "build (no-op)",
                noop.seconds,
                "≤ 1 s, no heavy import",
                noop.seconds <= 1.0 and not heavy,
                runs=noop_times,
                max_rss=noop.max_rss,
                heavy_imports=heavy,
                modules_imported=len(modules),
            )
            if not args.no_stages:
                say("build stages")
                staged = run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--build-stages",
                        str(work / "outputs-stages"),
                    ]
                )
                result["build_stages"] = json.loads(staged.stdout)
            if args.large_build:
                n = args.large_build
                data, synth_seconds = synthetic(n)
                say(f"cold build {n:,} patients")
                outputs = work / f"outputs-{n}"
                big_cmd = [*cli, "build", str(data), "--outputs", str(outputs), "--label", "x"]
                big = run([*big_cmd, "--renderer", "embedded"])
                figure(
                    f"build (cold) {n:,} patients",
                    big.seconds,
                    "reported",
                    True,
                    max_rss=big.max_rss,
                    patients=n,
                    synth_seconds=synth_seconds,
                    figures_bytes=sum(
                        f.stat().st_size for f in (outputs / "x" / "figures").glob("*")
                    ),
                )
                shutil.rmtree(outputs, ignore_errors=True)

        say("--help")
        helped, help_times = median_run([*cli, "--help"], args.help_runs)
        figure(
            "psma-rwe --help",
            helped.seconds,
            "≤ 0.3 s",
            helped.seconds <= 0.3,
            runs=help_times,
            max_rss=helped.max_rss,
        )

        # analyze at each size.
        sizes = []
        for n in args.sizes:
            data, synth_seconds = synthetic(n)
            rows = sum(1 for _ in (data / "measurements.csv").open("rb")) - 1
            say(f"analyze {n:,} patients")
            # Large cohorts are run once: they are slow, and the least noisy.
            analysed, analyse_times = median_run(
                [*cli, "analyze", str(data), "--out", str(work / f"analysis-{n}")],
                args.repeat if n < 50_000 else 1,
            )
            entry = {
                "patients": n,
                "measurement_rows": rows,
                "input_bytes": sum(p.stat().st_size for p in data.glob("*.csv")),
                "seconds": round(analysed.seconds, 3),
                "runs": [round(t, 3) for t in analyse_times],
                "ratio_to_floor": round(analysed.seconds / floor, 3),
                "max_rss_bytes": analysed.max_rss,
                "ms_per_1k_patients": round(analysed.seconds / n * 1e6, 2),
                "kib_per_patient": round(analysed.max_rss / n / 1024, 2),
                "synth_seconds": synth_seconds,
            }
            if not args.no_stages:
                say(f"stage times {n:,} patients")
                staged = run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--stage-times",
                        str(data),
                        str(work / f"stages-{n}"),
                    ]
                )
                entry["stages"] = json.loads(staged.stdout)
                entry["stages_max_rss_bytes"] = staged.max_rss
            sizes.append(entry)
            if n == 10_000:
                figure(
                    "analyze 10k patients",
                    analysed.seconds,
                    "≤ 10 s, ≤ 1 GiB",
                    analysed.seconds <= 10 and analysed.max_rss <= GIB,
                    runs=analyse_times,
                    max_rss=analysed.max_rss,
                )
        result["analyze"] = sizes

        if len(sizes) >= 2:
            a, b = sorted(sizes, key=lambda s: s["patients"])[-2:]
            factor = b["patients"] / a["patients"]
            growth = {
                "from": a["patients"],
                "to": b["patients"],
                "size_ratio": factor,
                "time_ratio": round(b["seconds"] / a["seconds"], 3),
                "rss_ratio": round(b["max_rss_bytes"] / a["max_rss_bytes"], 3),
            }
            growth["pass"] = growth["time_ratio"] <= factor and growth["rss_ratio"] <= factor
            result["growth"] = growth
            figure(
                f"analyze growth {a['patients']:,} → {b['patients']:,}",
                b["seconds"],
                f"time and RSS ≤ {factor:g} × (linear)",
                growth["pass"],
                max_rss=b["max_rss_bytes"],
                time_ratio=growth["time_ratio"],
                rss_ratio=growth["rss_ratio"],
            )
        result["figures"] = figures
        result["load_average_end"] = _load()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- output -----------------------------------------------------------------------------------


def _mib(n: int | None) -> str:
    return "" if n is None else f"{n / (1 << 20):,.0f} MiB"


def print_tables(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    floor = result["floor"]
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in floor["parts_median"].items())
    table = Table(title="psma-rwe benchmark", title_justify="left")
    for col, justify in (
        ("figure", "left"),
        ("time", "right"),
        ("peak RSS", "right"),
        ("× floor", "right"),
        ("target", "left"),
        ("result", "left"),
    ):
        table.add_column(col, justify=justify)
    table.add_row(
        "floor", f"{floor['seconds']:.2f} s", _mib(floor["max_rss_bytes"]), "1.00", parts, ""
    )
    for f in result["figures"]:
        note = ""
        if "time_ratio" in f:
            note = f" (time ×{f['time_ratio']:.2f}, RSS ×{f['rss_ratio']:.2f})"
        if f.get("heavy_imports"):
            note = f" (imports {', '.join(f['heavy_imports'])})"
        table.add_row(
            f["name"],
            f"{f['seconds']:.2f} s",
            _mib(f.get("max_rss_bytes")),
            f"{f['ratio_to_floor']:.2f}",
            f["target"] + note,
            "[green]pass[/]" if f["pass"] else "[bold red]FAIL[/]",
        )
    console.print(table)

    sizes = result.get("analyze", [])
    if sizes:
        scale = Table(title="psma-rwe analyze by cohort size", title_justify="left")
        scale.add_column("")
        for s in sizes:
            scale.add_column(f"{s['patients']:,} patients", justify="right")
        scale.add_row("measurement rows", *[f"{s['measurement_rows']:,}" for s in sizes])
        scale.add_row("wall time", *[f"{s['seconds']:.2f} s" for s in sizes])
        scale.add_row("× floor", *[f"{s['ratio_to_floor']:.2f}" for s in sizes])
        scale.add_row("peak RSS", *[_mib(s["max_rss_bytes"]) for s in sizes])
        scale.add_row("ms / 1k patients", *[f"{s['ms_per_1k_patients']:,.0f}" for s in sizes])
        scale.add_row("KiB / patient", *[f"{s['kib_per_patient']:,.1f}" for s in sizes])
        if all("stages" in s for s in sizes):
            scale.add_section()
            for stage in STAGES:
                scale.add_row(f"  {stage}", *[f"{s['stages'][stage]:.2f} s" for s in sizes])
        console.print(scale)
    stages = result.get("build_stages")
    if stages:
        total = sum(stages.values())
        staged = Table(
            title=f"build stages (in-process build, {total:.2f} s)", title_justify="left"
        )
        staged.add_column("stage")
        staged.add_column("time", justify="right")
        staged.add_column("share", justify="right")
        for name, seconds in stages.items():
            staged.add_row(name, f"{seconds:.2f} s", f"{seconds / total:.0%}" if total else "")
        console.print(staged)
    console.print(
        f"load average {result['load_average_start']} → {result['load_average_end']} "
        f"on {result['machine']['cores']} cores; Python {result['machine']['python']}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark psma-rwe against a floor measured in the same run.",
        epilog="Writes benchmarks/results/full.json (quick.json with --quick) unless --json.",
    )
    parser.add_argument(
        "--sizes",
        help="patients per synthetic cohort for analyze, comma-separated "
        "(default 1000,10000,100000; 1000,10000 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--seed", type=int, default=7, help="synth seed (default 7)")
    parser.add_argument("--repeat", type=int, help="runs of analyze and the no-op (median)")
    parser.add_argument(
        "--build-runs",
        type=int,
        help="cold builds per renderer, taken in turns (median; default 3, 1 with --quick); "
        "the floor is then the median of 3 runs",
    )
    parser.add_argument("--json", help="where to write the results")
    parser.add_argument(
        "--data-cache",
        help="keep the synthetic cohorts in this folder and reuse them (default: a "
        "temporary folder, removed at the end)",
    )
    parser.add_argument("--skip-build", action="store_true", help="skip the build figures")
    parser.add_argument(
        "--large-build",
        type=int,
        metavar="N",
        help="patients of the cold build of a large synthetic cohort (default 10000; "
        "skipped with --quick unless given; 0 skips it)",
    )
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage runs")
    parser.add_argument("--stage-times", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--build-stages", metavar="OUTPUTS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage_times or args.build_stages:
        return args
    sizes = args.sizes or ("1000,10000" if args.quick else "1000,10000,100000")
    args.sizes = [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.build_runs = max(1, args.build_runs or (1 if args.quick else 3))
    args.floor_runs = 1 if args.quick and args.build_runs == 1 else 3
    if args.large_build is None:
        args.large_build = 0 if args.quick else 10_000
    args.help_runs = 3 if args.quick else 7
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.stage_times:
        data, out = args.stage_times
        json.dump(stage_times(Path(data), Path(out)), sys.stdout)
        return 0
    if args.build_stages:
        json.dump(build_stages(Path(args.build_stages)), sys.stdout)
        return 0
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    started = time.perf_counter()
    with console.status("benchmark") as status:

        def say(what: str) -> None:
            status.update(f"{what} ({time.perf_counter() - started:.0f} s)")

        try:
            result = benchmark(args, say)
        except RuntimeError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            return 1
    result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    print_tables(result)
    path = Path(args.json) if args.json else RESULTS / ("quick.json" if args.quick else "full.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
