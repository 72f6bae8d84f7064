"""Writing the figures of a build: every chart's files, drawn once per spec.

:func:`write_figures` (also :func:`analysis.charts.write_figures`) writes, for
every chart, ``<name>.svg``, ``<name>.pdf``, ``<name>.vl.json`` and
``<name>-interactive.html``, the poster versions of the
:data:`~analysis.charts.POSTER_CHARTS`, and the offline Vega runtime
(:func:`analysis.charts.runtime_html`, cached per vl-convert version).

Each chart can be one task of a thread pool (``threads``): vl-convert draws
outside the GIL, so one chart's drawing may overlap another's spec building
(Altair, Python).  Measured in builds of the synthetic cohort on a 2-core
machine, two threads were not faster than one (6.3-6.8 s against 7.5-7.8 s for
the figures stage, with another process busy), since most of the stage holds
the GIL (Altair's ``to_dict`` and validation, the poster fitting); so the
default is one thread.  The
files do not depend on the number of threads: each task writes only its own
chart's files, and every drawing is a function of its spec
(:func:`analysis.charts.to_svg`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.files import write_atomic

if TYPE_CHECKING:
    from analysis.results import StudyResults

#: Most threads drawing charts at once (vl-convert's drawing is CPU-bound).
MAX_THREADS = 4
#: Environment variable giving the number of threads (default 1, see above).
THREADS_ENV = "PSMA_RWE_FIGURE_THREADS"


def figure_threads() -> int:
    """Threads for drawing charts: ``$PSMA_RWE_FIGURE_THREADS`` (1 to :data:`MAX_THREADS`),
    else 1."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return max(1, min(MAX_THREADS, int(value))) if value.isdigit() else 1


def chart_spec(chart: Any) -> dict:
    """``chart.to_dict()`` without Altair's 5,000-row limit.

    A large cohort's curves hold more rows than that (the Kaplan-Meier steps of
    10,000 patients: 10,996), and Altair would refuse them; the limit guards
    notebooks, not files written once.  Below it the spec is the same.
    """
    import altair as alt

    with alt.data_transformers.disable_max_rows():
        return chart.to_dict()


def _write_chart(name: str, chart: Any, results: StudyResults, out_dir: Path) -> dict[str, Path]:
    """Write one chart's files; its paths by kind (``svg``, ``pdf``, ``json``, ``html``, ...)."""
    from analysis.charts import (
        POSTER_CHARTS,
        interactive_html,
        spec_json,
        to_pdf,
        to_svg,
    )

    spec = chart_spec(chart)
    files = {
        "svg": out_dir / f"{name}.svg",
        "pdf": out_dir / f"{name}.pdf",
        "json": out_dir / f"{name}.vl.json",
        "html": out_dir / f"{name}-interactive.html",
    }
    write_atomic(files["svg"], to_svg(spec).encode("utf-8"))
    write_atomic(files["pdf"], to_pdf(spec))
    write_atomic(files["json"], spec_json(spec).encode("utf-8"))
    write_atomic(files["html"], interactive_html(name, spec).encode("utf-8"))
    if name in POSTER_CHARTS:
        from analysis.charts_poster import poster_variant

        small = poster_variant(name, spec, results)
        files["poster_svg"] = out_dir / f"{name}-poster.svg"
        files["poster_pdf"] = out_dir / f"{name}-poster.pdf"
        write_atomic(files["poster_svg"], to_svg(small).encode("utf-8"))
        write_atomic(files["poster_pdf"], to_pdf(small))
    return files


def write_figures(
    results: StudyResults, out_dir: Path, *, threads: int | None = None
) -> dict[str, dict[str, Path]]:
    """Write every chart's files and the runtime into ``out_dir``.

    Parameters
    ----------
    results : StudyResults
        What the charts draw.
    out_dir : Path
        Folder receiving the files (created if missing).
    threads : int, optional
        Charts drawn at once; default :func:`figure_threads`.  ``1`` draws them
        one after another in this thread.  The files are the same either way.

    Returns
    -------
    dict
        As :func:`analysis.charts.write_figures` describes.
    """
    from analysis.charts import RUNTIME_FILE, RUNTIME_NAME, chart_specs, runtime_html
    from analysis.charts_forest import forest_chart_specs
    from analysis.charts_survival import survival_chart_specs

    out_dir = Path(out_dir)
    every = {
        **chart_specs(results),
        **survival_chart_specs(results),
        **forest_chart_specs(results),
    }
    threads = figure_threads() if threads is None else max(1, threads)
    if threads == 1:
        paths = {name: _write_chart(name, chart, results, out_dir) for name, chart in every.items()}
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="psma-figures") as pool:
            futures = {
                name: pool.submit(_write_chart, name, chart, results, out_dir)
                for name, chart in every.items()
            }
            paths = {name: future.result() for name, future in futures.items()}
    runtime = out_dir / RUNTIME_FILE
    write_atomic(runtime, runtime_html().encode("utf-8"))
    paths[RUNTIME_NAME] = {"html": runtime}
    return paths
