"""Study projects: finding the one a command works on, and writing new ones.

A project is a folder holding ``_quarto.yml`` with a ``study:`` block (this
tool's settings), ``report/`` (the three documents), ``_extensions/psma-rwe/``
(their formats) and usually ``data/``; its versions go to its own
``outputs/``.  Commands find their project the way Quarto does: the nearest
folder upward from the current directory whose ``_quarto.yml`` has a
``study:`` block, or the folder given with ``--project``.  There is no
fallback to the installed package's folder.

:func:`init_project` writes a new project from the one shipped with the
package (:data:`analysis.config.SKELETON_DIR`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from analysis import config
from analysis.errors import PsmaRweError, os_error_message

QUARTO_YML = "_quarto.yml"
OUTPUTS = "outputs"
#: The ``study:`` key naming the cohort a plain ``psma-rwe build`` uses.
DEFAULT_DATA = "data"


#: The new project's .gitignore: built versions, and what ``psma-rwe prepare``
#: writes for ``quarto render`` (:data:`analysis.prepare.GENERATED`).
GITIGNORE = (
    "outputs/\n_render/\n"
    "# psma-rwe prepare (computed inputs of quarto render)\n"
    "_variables.yml\ntables/\nfigures/\nfollowup/\n_psma/\n"
    "# quarto render by hand\nreport/*.html\nreport/*.pdf\nreport/*.docx\nreport/*_files/\n"
)


def _study_block(quarto_yml: Path) -> dict | None:
    """The ``study`` mapping of a ``_quarto.yml``; ``None`` if it has none.

    Raises
    ------
    PsmaRweError
        The file cannot be read or is not YAML.
    """
    try:
        meta = yaml.safe_load(quarto_yml.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PsmaRweError(f"{quarto_yml}: cannot be read: {os_error_message(exc)}") from None
    except yaml.YAMLError as exc:
        raise PsmaRweError(f"{quarto_yml}: invalid YAML: {exc}") from None
    if isinstance(meta, dict) and isinstance(meta.get("study"), dict):
        return meta["study"]
    return None


def is_project(folder: Path) -> bool:
    """Whether ``folder`` holds a ``_quarto.yml`` with a ``study:`` block."""
    path = Path(folder) / QUARTO_YML
    return path.is_file() and _study_block(path) is not None


def find_project(start: Path | None = None) -> Path:
    """The nearest project folder at or above ``start`` (default: the current directory).

    Raises
    ------
    PsmaRweError
        No folder upward holds a psma-rwe ``_quarto.yml``.
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if is_project(folder):
            return folder
    raise PsmaRweError(
        f"no psma-rwe project in {here} or any folder above it (a project is a folder "
        "whose _quarto.yml has a study: block); run `psma-rwe init DIR` to make one, "
        "or pass --project DIR"
    )


def resolve_project(project: Path | str | None = None) -> Path:
    """``project`` checked to be a project folder, or :func:`find_project` when ``None``."""
    if project is None:
        return find_project()
    folder = Path(project).resolve()
    if not folder.is_dir():
        raise PsmaRweError(f"--project {project}: no such folder")
    if not is_project(folder):
        raise PsmaRweError(
            f"--project {project}: not a psma-rwe project (it needs a {QUARTO_YML} with a "
            "study: block; `psma-rwe init DIR` writes one)"
        )
    return folder


def outputs_dir(project_dir: Path) -> Path:
    """The folder of a project's versions."""
    return Path(project_dir) / OUTPUTS


def default_data(project_dir: Path) -> Path:
    """The cohort a build without a data argument uses: ``study.data`` (default ``data``).

    Relative paths are relative to the project folder.
    """
    study = _study_block(Path(project_dir) / QUARTO_YML) or {}
    value = study.get("data", DEFAULT_DATA)
    if not isinstance(value, str) or not value.strip():
        raise PsmaRweError(
            f"{Path(project_dir) / QUARTO_YML}: study.data is {value!r}; expected the path of "
            "a cohort folder or .xlsx workbook, relative to the project"
        )
    path = Path(value)
    return path if path.is_absolute() else Path(project_dir) / path


# --- init -----------------------------------------------------------------------------

#: The example study's metadata in the shipped _quarto.yml, replaced by placeholders
#: in a new project: everything from the first line to the ``study:`` line's block end.
_PLACEHOLDER_METADATA = """\
# ---- Study metadata (edit) -------------------------------------------------------
title: "Title of the study"
short-title: "Short title for the poster band and running heads"
author:
  - name: "First Author, MD"
    affiliations:
      - name: "Department, Institution, City, State"
  - name: "Senior Author, MD"
    affiliations:
      - name: "Department, Institution, City, State"

study:
  data: data                    # cohort folder or .xlsx workbook (relative to this folder)
  institution: "Institution"
  conference: "Conference name"
  contact: "first.author@example.org"
"""

_PLACEHOLDER_CUTOFF = (
    "  # data-cutoff: YYYY-MM-DD    # nothing dated after it is analysed (optional)"
)

_PLACEHOLDER_RESULT_TITLE = '      result: "Title that states the finding"'

DATA_NOTE = """\
Put the cohort here: the four CSV files described in README.md (patients.csv,
doses.csv, measurements.csv, prior_therapies.csv), or one .xlsx workbook with
four sheets of those names (then set `study.data` in ../_quarto.yml to its
path, e.g. data/cohort.xlsx). Check it with `psma-rwe validate data`.
"""


def _new_quarto_yml(example: str, with_synthetic: bool) -> str:
    """The shipped ``_quarto.yml`` with the example metadata kept or replaced."""
    start = example.index("# ---- Study metadata (edit)")
    study = re.search(r"^study:\n(?:  .*\n)*?(?=  planned-doses:)", example[start:], re.M)
    if study is None:  # the shipped file is written with this layout; tested
        raise AssertionError("the shipped _quarto.yml has no study: block before planned-doses")
    if with_synthetic:
        return example
    end = start + study.end()
    rest = re.sub(r"^  data-cutoff: .*$", _PLACEHOLDER_CUTOFF, example[end:], count=1, flags=re.M)
    rest = re.sub(r"^      result: .*$", _PLACEHOLDER_RESULT_TITLE, rest, count=1, flags=re.M)
    return example[:start] + _PLACEHOLDER_METADATA + rest


def init_project(
    target: Path | str, *, with_synthetic: bool = False, update_extension: bool = False
) -> list[Path]:
    """Write a new study project into ``target`` (created; must be empty if it exists).

    Parameters
    ----------
    target : path
        Folder of the new project.
    with_synthetic : bool
        Also copy the shipped synthetic cohort to ``data/synthetic/`` and keep
        the example study's metadata, so the project builds at once.
    update_extension : bool
        Only replace ``_extensions/psma-rwe/`` of the existing project at
        ``target`` by the one this psma-rwe ships.

    Returns
    -------
    list of Path
        The files written, relative to ``target``.

    Raises
    ------
    PsmaRweError
        ``target`` is a non-empty folder (or a file), or it cannot be written.
        Nothing is left behind on failure.
    """
    from analysis.render import extension

    target = Path(target)
    skeleton = config.SKELETON_DIR
    if update_extension:
        return _update_extension(target, skeleton / extension.RELATIVE_DIR)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "a file" if not target.is_dir() else "a folder that is not empty"
        raise PsmaRweError(f"{target} is {what}; init writes only into a new or empty folder")
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-init-", dir=parent))
    except OSError as exc:
        raise PsmaRweError(f"cannot create {target}: {os_error_message(exc)}") from None
    try:
        example = (skeleton / QUARTO_YML).read_text(encoding="utf-8")
        (staging / QUARTO_YML).write_text(_new_quarto_yml(example, with_synthetic), "utf-8")
        shutil.copytree(skeleton / "report", staging / "report")
        shutil.copytree(skeleton / extension.RELATIVE_DIR, staging / extension.RELATIVE_DIR)
        (staging / "data").mkdir()
        shutil.copy2(skeleton / "data" / "README.md", staging / "data" / "README.md")
        if with_synthetic:
            shutil.copytree(skeleton / "data" / "synthetic", staging / "data" / "synthetic")
        else:
            (staging / "data" / "NOTE.md").write_text(DATA_NOTE, encoding="utf-8")
        (staging / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        for path in staging.rglob("*"):  # copies of read-only package files stay editable
            path.chmod(0o755 if path.is_dir() else 0o644)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PsmaRweError(f"cannot write the project {target}: {os_error_message(exc)}") from None
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())


def _update_extension(target: Path, shipped: Path) -> list[Path]:
    from analysis.render import extension

    if not is_project(target):
        raise PsmaRweError(f"--update-extension {target}: not a psma-rwe project")
    dest = target / extension.RELATIVE_DIR
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".psma-rwe-ext-", dir=dest.parent))
        shutil.copytree(shipped, staging / "new")
        for path in (staging / "new").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        if dest.exists():
            dest.rename(staging / "old")
        (staging / "new").rename(dest)
        shutil.rmtree(staging)
    except OSError as exc:
        raise PsmaRweError(f"cannot update {dest}: {os_error_message(exc)}") from None
    return sorted(p.relative_to(target) for p in dest.rglob("*") if p.is_file())
