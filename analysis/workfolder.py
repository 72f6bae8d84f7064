"""The work folder of a build: the analysis written, then the project to render.

:func:`analyze_into` analyses a validated cohort and writes results.json, the
CSVs, ``tables/`` and ``figures/`` into a folder; :func:`prepare_work` writes
``_project/`` beside them, the Quarto project that is rendered (sources,
computed ``_variables.yml``, tables, figures and their include wrappers,
follow-up fragments).  Shared by :func:`analysis.build.build`,
:mod:`analysis.preview` and :mod:`analysis.prepare`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from analysis import __version__, config
from analysis.errors import PsmaRweError

Progress = Callable[[str], None]

#: The documents of a project, ``report/<name>.qmd``.
DOCUMENTS = ("abstract", "poster", "supplement")


def tool_versions() -> dict[str, str]:
    """Versions of the libraries and tools that shape the outputs."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for dist in (
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
        "fontpkg-lato",
        "fontpkg-ibm-plex-serif",
        "fontpkg-ibm-plex-mono",
        "fonttools",  # the HTML pages' Lato subsets (analysis/render/webfonts.py)
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    from analysis.render import pandoc_version

    out["pandoc"] = pandoc_version()
    return out


def analyze_into(tmp: Path, project_dir: Path, cohort, *, say: Progress | None = None):
    """Analyse a validated cohort with the project's settings; write the results into ``tmp``.

    :func:`analyze`, then the tables and the figures, in this process.
    (:func:`analysis.build.build` draws the figures in its workers instead,
    beside the tables and the work folder.)

    Parameters
    ----------
    tmp : Path
        Folder receiving results.json, the CSVs, ``tables/`` and ``figures/``.
    project_dir : Path
        The study project (its ``_quarto.yml`` gives data-cutoff and landmark-weeks).
    cohort : Cohort
        As returned by :func:`analysis.load.load_cohort`.
    say : callable, optional
        Called with the name of each stage as it starts.

    Returns
    -------
    Analysis
        The result of :func:`analysis.analyze.run_analysis`.
    """
    from analysis.charts_write import write_figures
    from analysis.tables import write_tables

    say = say or (lambda stage: None)
    analysis = analyze(tmp, project_dir, cohort, say=say)
    say("tables")
    write_tables(analysis.results, tmp / "tables")
    say("figures")
    write_figures(analysis.results, tmp / "figures")
    return analysis


def analyze(tmp: Path, project_dir: Path, cohort, *, say: Progress | None = None, pool=None):
    """Run the analysis with the project's settings and write results.json and the CSVs
    into ``tmp``; returns the :class:`analysis.analyze.Analysis`.

    With a ``pool`` (:class:`analysis.workers.Pool`) whose first worker warmed up
    with ``analysis.models:warm``, the regression is fitted by that worker while
    this process computes the rest (this process then never imports statsmodels,
    firthmodels or scikit-learn, 0.7 s).
    """
    from analysis.analyze import run_analysis, write_analysis

    (say or (lambda stage: None))("analyzing")
    start = None
    if pool is not None:
        from analysis.workers import Task

        def start(*args):
            batch = pool.start(
                [Task("analysis.models:fit_regression", args, "fitting the regression")],
                first=True,
            )
            return lambda: batch.wait()[0]

    settings = analysis_settings(project_dir / "_quarto.yml")
    analysis = run_analysis(cohort, **settings, start_regression=start)
    write_analysis(analysis, tmp)
    return analysis


def prepare_work(tmp: Path, project_dir: Path, analysis, cohort, *, figures: bool = True) -> Path:
    """Write ``tmp/_project``, the project to render, from :func:`analyze_into`'s ``tmp``.

    With ``figures=False`` the figures (still being drawn) are left out; they are
    added by :func:`add_figures` once ``tmp/figures`` is complete.

    Returns
    -------
    Path
        The work folder (sources, ``_variables.yml``, tables, figures).
    """
    work = tmp / "_project"
    _prepare_project(work, project_dir, tmp, analysis, cohort)
    if figures:
        add_figures(work, tmp)
    return work


def add_figures(work: Path, tmp: Path) -> None:
    """Copy ``tmp/figures`` into the work folder, with the include wrappers of the
    interactive ones."""
    from analysis.render.includes import write_wrappers

    shutil.copytree(tmp / "figures", work / "figures")
    write_wrappers(work / "figures")


def _prepare_project(work: Path, project_dir: Path, tmp: Path, analysis, cohort) -> None:
    """A Quarto project to render: sources, computed variables, tables and figures."""
    import yaml

    from analysis.fonts import PROJECT_FONTS_DIR
    from analysis.render.extension import RELATIVE_DIR
    from analysis.variables import document_variables

    shutil.copytree(project_dir / "report", work / "report")
    shutil.copytree(project_dir / RELATIVE_DIR, work / RELATIVE_DIR)
    shutil.copy2(project_dir / "_quarto.yml", work / "_quarto.yml")
    if (project_dir / PROJECT_FONTS_DIR).is_dir():
        shutil.copytree(project_dir / PROJECT_FONTS_DIR, work / PROJECT_FONTS_DIR)
    span = (cohort.patients["first_dose_date"].min(), cohort.patients["first_dose_date"].max())
    study = _study_settings(work)
    planned = study.get("planned-doses")
    min_size = study.get("min-cohort-size", config.MIN_COHORT_FOR_DATES)
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise PsmaRweError(
            f"_quarto.yml: study.min-cohort-size is {min_size!r}; expected a whole number ≥ 1"
            f" (default {config.MIN_COHORT_FOR_DATES})"
        )
    variables = document_variables(
        analysis.results,
        span,
        planned_doses=None if planned is None else str(planned),
        min_cohort_for_dates=min_size,
    )
    variables["software"] = {"psma-rwe": __version__, **tool_versions()}
    from analysis.followup_docs import variables as followup_variables

    variables["followup"] = followup_variables(analysis.results)
    from analysis.charts_poster import poster_variables, supplement_variables

    variables["poster"] = poster_variables(analysis.results)
    variables["supplement"] = supplement_variables(analysis.results)
    from analysis.abstract import front_variables

    variables["abstract"] = front_variables(
        study.get("abstract") or {},
        str(_project_title(work)),
        bool(variables["prose"]["psa50_evident_early"]),
    )
    (work / "_variables.yml").write_text(
        yaml.safe_dump(variables, sort_keys=True, allow_unicode=True), encoding="utf-8"
    )
    shutil.copytree(tmp / "tables", work / "tables")
    from analysis.render.includes import write_wrappers

    write_wrappers(work / "tables")
    from analysis import followup_docs
    from analysis.charts_write import figure_stems

    followup_docs.write_fragments(
        analysis.results,
        work / "followup",
        tables={p.stem for p in (tmp / "tables").glob("*.html")},
        figures=figure_stems(analysis.results),
    )


#: What the documents were rendered from, kept in the version for ``psma-rwe diff``:
#: the computed variables as the documents displayed them, and the sources that cite them
#: (``sources/report/*.qmd``, ``sources/followup/*.md``, as laid out when rendered).
VARIABLES = "variables.yml"
SOURCES = "sources"


def _keep_sources(work: Path, tmp: Path) -> None:
    """Copy ``_variables.yml``, the documents' ``.qmd`` and the follow-up fragments into ``tmp``.

    ``psma-rwe diff`` reads them to report the numbers the abstract and poster
    display (``{{< var >}}`` keys of the sources, their values in ``variables.yml``).
    """
    shutil.copy2(work / "_variables.yml", tmp / VARIABLES)
    (tmp / SOURCES / "report").mkdir(parents=True)
    for doc in DOCUMENTS:
        shutil.copy2(work / "report" / f"{doc}.qmd", tmp / SOURCES / "report" / f"{doc}.qmd")
    if (work / "followup").is_dir():
        shutil.copytree(work / "followup", tmp / SOURCES / "followup")


def analysis_settings(quarto_yml: Path) -> dict:
    """``study.data-cutoff`` and ``study.landmark-weeks`` of a ``_quarto.yml``, checked.

    Returns the keyword arguments of :func:`analysis.analyze.run_analysis`.
    """
    import yaml

    try:
        meta = yaml.safe_load(quarto_yml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PsmaRweError(f"{quarto_yml}: cannot be read as YAML ({exc})") from None
    study = (meta.get("study") or {}) if isinstance(meta, dict) else {}
    out: dict = {}
    cutoff = study.get("data-cutoff")
    if cutoff not in (None, ""):
        if isinstance(cutoff, dt.datetime):
            cutoff = cutoff.date()
        if isinstance(cutoff, str):
            try:
                cutoff = dt.date.fromisoformat(cutoff)
            except ValueError:
                cutoff = None
        if not isinstance(cutoff, dt.date):
            raise PsmaRweError(
                f"{quarto_yml.name}: study.data-cutoff is {study.get('data-cutoff')!r}; "
                "expected a date written YYYY-MM-DD"
            )
        if cutoff > dt.date.today():
            raise PsmaRweError(
                f"{quarto_yml.name}: study.data-cutoff is {cutoff}, in the future; expected a"
                " past date"
            )
        out["cutoff"] = cutoff
    weeks = study.get("landmark-weeks")
    if weeks is not None:
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 104:
            raise PsmaRweError(
                f"{quarto_yml.name}: study.landmark-weeks is {weeks!r}; expected a whole number"
                " of weeks from 1 to 104 (default 12)"
            )
        out["landmark_weeks"] = weeks
    return out


def _study_settings(work: Path) -> dict:
    """The ``study`` block of the project's ``_quarto.yml``."""
    return _quarto_metadata(work).get("study", {}) or {}


def _project_title(work: Path) -> str:
    import yaml

    meta = yaml.safe_load((work / "_quarto.yml").read_text(encoding="utf-8")) or {}
    return str(meta.get("title") or "") if isinstance(meta, dict) else ""


def _abstract_settings(work: Path) -> dict:
    abstract = _study_settings(work).get("abstract", {}) or {}
    return {
        "limit": int(abstract.get("char-limit", 2000)),
        "rule": str(abstract.get("count-rule", "chars-no-spaces")),
    }


def _quarto_metadata(work: Path) -> dict:
    import yaml

    return yaml.safe_load((work / "_quarto.yml").read_text(encoding="utf-8")) or {}
