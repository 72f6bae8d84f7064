"""Writing the figures of a build: every chart's files, drawn once per spec.

:func:`write_figures` (also :func:`analysis.charts.write_figures`) writes, for
every chart, ``<name>.svg``, ``<name>.pdf``, ``<name>.vl.json`` and
``<name>-interactive.html``, the poster versions of the
:data:`~analysis.charts.POSTER_CHARTS`, and the offline Vega runtime
(:func:`analysis.charts.runtime_html`, cached per vl-convert version).

Each chart is built (Altair), drawn (vl-convert) and written by
:func:`write_chart`, one chart after another in this process or, given a
:class:`analysis.workers.Pool`, as one task per chart in its worker
processes, the results handed over once as a pickle
(:func:`analysis.workers.results_file`).  Threads would not help: vl-convert
draws one chart at a time per process, and building the specs holds the GIL.
The files do not depend on where they were made: each task writes only its own
chart's files, and every drawing is a function of its spec
(:func:`analysis.charts.to_svg`; ``tests/test_charts_write.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.files import write_atomic

if TYPE_CHECKING:
    from analysis.results import StudyResults


def chart_spec(chart: Any) -> dict:
    """``chart.to_dict()`` without Altair's 5,000-row limit and its schema check.

    A large cohort's curves hold more rows than that (the Kaplan-Meier steps of
    10,000 patients: 10,996), and Altair would refuse them; the limit guards
    notebooks, not files written once.  The check against the Vega-Lite schema
    (about a third of the time ``to_dict`` takes) gives the same spec or an
    error; the charts' own tests make it for every chart of several cohorts
    (``tests/test_charts_write.py``), and vl-convert still refuses a spec it
    cannot draw.  Below the limit the spec is the same.
    """
    import altair as alt

    with alt.data_transformers.disable_max_rows():
        return chart.to_dict(validate=False)


def figure_names(results: StudyResults) -> list[str]:
    """The charts a build draws for ``results``, in the order of the returned paths:
    :data:`~analysis.charts.CHART_NAMES`, the survival figures the results have data
    for, and the forest plot when there are regression rows."""
    from analysis.charts import CHART_NAMES
    from analysis.charts_forest import has_forest
    from analysis.charts_survival import available_survival_figures

    names = [*CHART_NAMES, *available_survival_figures(results)]
    return names + (["forest"] if has_forest(results) else [])


def figure_stems(results: StudyResults) -> set[str]:
    """The names of the SVG files :func:`write_figures` writes for ``results``
    (``<name>`` for every chart, ``<name>-poster`` for the poster charts), known
    before they are drawn."""
    from analysis.charts import POSTER_CHARTS

    names = figure_names(results)
    return {*names, *(f"{n}-poster" for n in names if n in POSTER_CHARTS)}


def build_chart(name: str, results: StudyResults) -> Any:
    """Chart ``name`` of :func:`figure_names`, themed (an Altair chart).

    Built with Altair's check of every part against the schema as it is made
    turned off (``debug_mode``, on by default: 0.06 s of the 0.47 s the charts'
    specs take in a build); :func:`chart_spec` gives the same spec, and the
    charts' tests check the whole spec against the schema
    (``tests/test_charts_write.py``).
    """
    from altair.utils.schemapi import debug_mode

    with debug_mode(False):
        return _build_chart(name, results)


def _build_chart(name: str, results: StudyResults) -> Any:
    from analysis import charts, charts_survival

    if name in charts.BUILDERS:
        return charts.BUILDERS[name](results)
    if name in charts_survival.BUILDERS:
        return charts_survival.BUILDERS[name](results)
    if name == "forest":
        from analysis.charts_forest import forest

        return forest(results)
    raise KeyError(f"no chart named {name!r}")


def write_chart(name: str, results: StudyResults, out_dir: Path) -> dict[str, Path]:
    """Build, draw and write chart ``name``; its paths by kind (``svg``, ``pdf``,
    ``json``, ``html``, and ``poster_svg``, ``poster_pdf`` for a poster chart)."""
    from analysis.charts import (
        POSTER_CHARTS,
        interactive_html,
        spec_json,
        to_pdf,
        to_svg,
    )

    spec = chart_spec(build_chart(name, results))
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


def _write_chart_task(name: str, results_path: str, out_dir: str) -> dict[str, Path]:
    """:func:`write_chart` in a worker, the results read from their pickle."""
    from analysis.workers import load_results

    return write_chart(name, load_results(results_path), Path(out_dir))


#: Rough relative cost of each chart, to start the long ones first (poster charts are
#: drawn twice or more while they are fitted; the others once).
_CHART_COST = {"km": 5, "swimmer": 5, "waterfall": 4, "milestones": 4, "forest": 4}


def warm() -> None:
    """A worker's warm-up for figures: vl-convert's engine started (its first drawing
    costs about a second), and what a first chart would import (pandas and numpy,
    which reading the pickled results needs; Altair with its pandas support; the
    chart modules), so that the first chart does not wait for them.  (Without
    the pandas part, each worker's first chart took 0.4 s longer: a quarter of
    the figures' time on two cores.)"""
    import altair as alt
    import pandas as pd

    import analysis.charts_forest
    import analysis.charts_poster
    import analysis.charts_survival  # noqa: F401
    from analysis.charts import to_svg

    chart = alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q")
    to_svg(chart_spec(chart))


def write_figures(
    results: StudyResults, out_dir: Path, *, pool: Any = None
) -> dict[str, dict[str, Path]]:
    """Write every chart's files and the runtime into ``out_dir``.

    Parameters
    ----------
    results : StudyResults
        What the charts draw.
    out_dir : Path
        Folder receiving the files (created if missing).
    pool : analysis.workers.Pool, optional
        Worker processes drawing the charts, one task per chart; without one
        they are drawn one after another in this process.  The files are the
        same either way.

    Returns
    -------
    dict
        As :func:`analysis.charts.write_figures` describes.
    """
    return start_figures(results, out_dir, pool=pool)()


class Drawing:
    """Figures being drawn (:func:`start_figures`): call it to wait for them and get
    their paths.

    Attributes
    ----------
    batch : analysis.workers.Batch or None
        The workers' batch of the charts (None when they were drawn in this
        process): tasks added to it (:meth:`~analysis.workers.Batch.add`) run
        once no chart is left to start.
    """

    def __init__(self, finish: Callable[[], dict], batch: Any = None) -> None:
        self._finish = finish
        self.batch = batch

    def __call__(self) -> dict[str, dict[str, Path]]:
        return self._finish()


def start_figures(results: StudyResults, out_dir: Path, *, pool: Any = None) -> Drawing:
    """Start :func:`write_figures`; returns a :class:`Drawing`, which waits for it
    and gives its paths.

    With a ``pool`` the charts are drawn by its workers while the calling
    process goes on (e.g. with the tables); without one they are drawn before
    this returns.
    """
    from analysis.charts import RUNTIME_FILE, RUNTIME_NAME, runtime_html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = figure_names(results)
    runtime = out_dir / RUNTIME_FILE

    def with_runtime(drawn: dict[str, dict[str, Path]]) -> dict[str, dict[str, Path]]:
        write_atomic(runtime, runtime_html().encode("utf-8"))
        return {**{n: drawn[n] for n in names}, RUNTIME_NAME: {"html": runtime}}

    if pool is None:
        paths = with_runtime({name: write_chart(name, results, out_dir) for name in names})
        return Drawing(lambda: paths)

    from analysis.workers import Task, results_file

    pickled = results_file(results, out_dir.parent)
    order = sorted(names, key=lambda n: -_CHART_COST.get(n, 1))
    tasks = [
        Task(
            "analysis.charts_write:_write_chart_task",
            (n, str(pickled), str(out_dir)),
            f"drawing figure {n!r}",
        )
        for n in order
    ]
    batch = pool.start(tasks)

    def finish() -> dict[str, dict[str, Path]]:
        try:
            drawn = dict(zip(order, batch.wait(range(len(tasks))), strict=True))
        finally:
            pickled.unlink(missing_ok=True)
        return with_runtime(drawn)

    return Drawing(finish, batch)
