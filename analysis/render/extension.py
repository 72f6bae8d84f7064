"""The documents' format extension: ``_extensions/psma-rwe/`` of a project.

The layout of the documents (Typst library and templates, HTML template and
CSS, Lua filters) lives in one place, the project's Quarto extension, and the
embedded renderer reads it from there, as Quarto does.  ``psma-rwe init``
copies the extension shipped with the package (:func:`bundled_dir`) into a new
project; a project whose extension has another version than the package's is
refused with the command that updates it, never rendered with a silent mix.
"""

from __future__ import annotations

from pathlib import Path

from analysis import config
from analysis.errors import PsmaRweError

#: Folder name of the extension under ``_extensions/``.
NAME = "psma-rwe"
#: Path of the extension inside a project.
RELATIVE_DIR = Path("_extensions") / NAME
MANIFEST = "_extension.yml"


def bundled_dir() -> Path:
    """The extension shipped with the installed package."""
    return config.SKELETON_DIR / RELATIVE_DIR


def version(ext_dir: Path) -> str:
    """The ``version`` of an extension folder's ``_extension.yml`` (``""`` if none)."""
    from analysis.render.project import load_yaml

    meta = load_yaml(ext_dir / MANIFEST, f"{RELATIVE_DIR / MANIFEST}")
    return str(meta.get("version") or "")


def extension_dir(project_dir: Path) -> Path:
    """The extension of the project at ``project_dir``, checked against the package's.

    Raises
    ------
    PsmaRweError
        The project has no extension, or one of another version than the
        package ships.
    """
    path = Path(project_dir) / RELATIVE_DIR
    fix = f"`psma-rwe init --update-extension {project_dir}` writes the one this psma-rwe ships"
    if not (path / MANIFEST).is_file():
        raise PsmaRweError(
            f"{project_dir}: no {RELATIVE_DIR / MANIFEST} (the documents' formats); {fix}"
        )
    have, ships = version(path), version(bundled_dir())
    if have != ships:
        raise PsmaRweError(
            f"{path / MANIFEST}: extension version {have or '(none)'}, but this psma-rwe "
            f"ships {ships}; {fix}"
        )
    return path
