"""``psma-rwe prepare``: the computed inputs ``quarto render`` needs, written into the project.

``psma-rwe build`` renders in a folder of its own.  To run ``quarto render``
or ``quarto preview`` by hand in the project, Quarto needs what the build
computes first, next to the sources: ``_variables.yml`` (the ``{{< var >}}``
values), ``tables/``, ``figures/`` and ``followup/`` (the included fragments
and images) and ``_psma/`` (fonts, PNG figures for Word and the Word reference,
:mod:`analysis.render.quarto`).  :func:`prepare` validates and analyses the
cohort and writes exactly those, replacing what an earlier ``prepare`` wrote.
A folder of that name that ``prepare`` did not write is never touched (the
command stops and names it).  Nothing else in the project changes; the data
are only read.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from analysis.errors import PsmaRweError

#: What prepare writes into the project (all listed in the project's .gitignore).
GENERATED = ("_variables.yml", "tables", "figures", "followup", "_psma")
#: prepare's record of what it wrote, inside ``_psma/``.
RECORD = "prepared.json"


def _written_before(project_dir: Path) -> set[str]:
    record = project_dir / "_psma" / RECORD
    try:
        return set(json.loads(record.read_text(encoding="utf-8")).get("written", []))
    except (OSError, ValueError, AttributeError):
        return set()


def prepare(
    project_dir: Path, data: Path | None = None, *, say: Callable[[str], None] | None = None
) -> list[Path]:
    """Write the computed inputs of the documents into ``project_dir``.

    Parameters
    ----------
    project_dir : Path
        The study project.
    data : Path, optional
        The cohort (folder or workbook); default the project's ``study.data``.
    say : callable, optional
        Called with the name of each stage as it starts.

    Returns
    -------
    list of Path
        What was written, in the order of :data:`GENERATED`.

    Raises
    ------
    PsmaRweError
        Bad data, or a file or folder of one of those names that an earlier
        ``prepare`` did not write (nothing is written then).
    """
    from analysis import build, projects
    from analysis.load import load_cohort
    from analysis.render import quarto

    say = say or (lambda stage: None)
    project_dir = Path(project_dir).resolve()
    ours = _written_before(project_dir)
    for name in GENERATED:
        if (project_dir / name).exists() and name not in ours:
            raise PsmaRweError(
                f"{project_dir / name} exists and was not written by psma-rwe prepare; "
                "move it out of the project first (prepare writes " + ", ".join(GENERATED) + ")"
            )
    data = Path(data) if data is not None else projects.default_data(project_dir)
    say("validating data")
    cohort = load_cohort(data)
    tmp = Path(tempfile.mkdtemp(prefix=".psma-prepare-", dir=project_dir))
    try:
        analysis = build.analyze_into(tmp, project_dir, cohort, say=say)
        say("preparing documents")
        work = build.prepare_work(tmp, project_dir, analysis, cohort)
        say("fonts and Word figures")
        quarto.write_support(work)
        (work / "_psma" / RECORD).write_text(
            json.dumps({"written": list(GENERATED), "data": str(data)}, indent=2) + "\n",
            encoding="utf-8",
        )
        old = tmp / "replaced"
        old.mkdir()
        for name in GENERATED:  # each one renamed into place
            if (project_dir / name).exists():
                (project_dir / name).rename(old / name)
            (work / name).rename(project_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [project_dir / name for name in GENERATED]
