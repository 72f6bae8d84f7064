"""Rendering with real Quarto (``psma-rwe build --renderer quarto``, ``psma-rwe prepare``).

Quarto renders the documents through the project's format extension
(``_extensions/psma-rwe/_extension.yml``: the formats ``psma-rwe-html``,
``psma-rwe-typst`` and ``psma-rwe-docx``), with the same Typst partials,
CSS and Lua filters as the embedded renderer.  What Quarto needs besides
the computed ``_variables.yml``, tables and figures is in the project's
support folder, ``_psma/`` (:func:`write_support`):

``_psma/fonts/``
    the bundled fonts and the project's ``fonts/``, linked (the extension's
    ``font-paths``);
``_psma/png/``
    PNG copies of the SVG figures for Word (filters/figures.lua), so that no
    ``rsvg-convert`` is needed;
``_psma/reference.docx``
    Word's reference document for the project's ``papersize``
    (:mod:`analysis.render.docx`; the extension's ``reference-doc``);
``_psma/python``
    the path of this Python, which the project's post-render step
    (``_extensions/psma-rwe/post-render.lua``) runs
    :mod:`analysis.render.quarto_post` with.

:func:`render` runs ``quarto render`` for one document and places its files
exactly as the embedded renderer does (``<stem>.<ext>`` in the output folder,
self-contained HTML, no ``_files/`` folder).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from analysis.errors import PsmaRweError

SUPPORT_DIR = "_psma"
#: In the support folder: the path of the Python that runs the post-render step.
PYTHON_FILE = "python"
#: Output name -> the extension's format.
FORMATS = {"html": "psma-rwe-html", "pdf": "psma-rwe-typst", "docx": "psma-rwe-docx"}


def _project_meta(project_dir: Path) -> dict:
    from analysis.render.project import load_yaml

    return load_yaml(project_dir / "_quarto.yml", "_quarto.yml")


def reference_path(project_dir: Path) -> Path:
    """The Word reference document of the project's ``papersize``."""
    return Path(project_dir) / SUPPORT_DIR / "reference.docx"


def write_support(project_dir: Path) -> Path:
    """Write ``<project>/_psma/`` (fonts, PNG figures, Word reference); returns it.

    The folder is rebuilt from scratch each time (it holds nothing else).
    """
    from analysis import fonts
    from analysis.render import docx, pipeline, project

    project_dir = Path(project_dir).resolve()
    support = project_dir / SUPPORT_DIR
    staging = project_dir / f".{SUPPORT_DIR}.new"
    shutil.rmtree(staging, ignore_errors=True)
    fonts.link_fonts(fonts.font_set(project_dir), staging / "fonts")
    pipeline.svg_pngs(sorted((project_dir / "figures").glob("*.svg")), project_dir, staging / "png")
    # the embedded renderer's choice for Word: the project's docx metadata
    # (papersize, fontsize, or its own reference-doc)
    meta = project.format_metadata(_project_meta(project_dir), {}, "docx")
    reference = docx.reference_doc(meta, staging, [project_dir], pipeline.pandoc_path())
    if reference.parent == staging:
        reference.rename(staging / "reference.docx")
    else:
        shutil.copyfile(reference, staging / "reference.docx")
    # the Python of this package, for the project's post-render step (post-render.lua)
    (staging / PYTHON_FILE).write_text(sys.executable + "\n", encoding="utf-8")
    shutil.rmtree(support, ignore_errors=True)
    staging.rename(support)
    return support


def quarto_env() -> dict[str, str]:
    """The environment ``quarto render`` runs in: Typst without the machine's fonts
    (as the embedded renderer: the bundled fonts and the project's, ``_psma/fonts``),
    and ``SOURCE_DATE_EPOCH`` as the embedded renderer sets it."""
    import os

    from analysis.render.pipeline import _epoch
    from analysis.render.quarto_post import SKIP_ENV

    return {
        **os.environ,
        "TYPST_IGNORE_SYSTEM_FONTS": "true",
        "SOURCE_DATE_EPOCH": str(_epoch()),
        SKIP_ENV: "1",  # the build post-processes each file itself (render below)
    }


def render(work: Path, source: str, out: Path, formats) -> dict[str, Path]:
    """``quarto render`` of one document; its files placed as the embedded renderer places them.

    Quarto writes ``<output-dir>/report/<stem>.<ext>`` (the source's folder
    kept); each format is rendered into a scratch folder and only
    ``<stem>.<ext>`` is moved to ``out``.  HTML is self-contained (the
    extension sets ``embed-resources``); each file is then finished as the
    embedded renderer finishes its own (:func:`analysis.render.quarto_post.finish`:
    HTML gets the Lato subsets and is checked for network loads, Word gets the
    project's reference document and the same post-processing).
    """
    from analysis.render.quarto_post import finish

    work = Path(work)
    stem = Path(source).stem
    reference = reference_path(work)
    paths = {}
    for fmt in formats:
        scratch = work / "_quarto_out" / fmt
        args = ["quarto", "render", source, "--to", FORMATS[fmt], "--output-dir", str(scratch)]
        if fmt == "docx":
            args.append(f"--reference-doc={reference}")
        if fmt == "pdf":
            args += ["-M", "keep-typ:true"]  # the poster's plan is read from it (below)
        try:
            proc = subprocess.run(
                args, cwd=work, env=quarto_env(), capture_output=True, text=True, check=False
            )
        except OSError as exc:
            raise PsmaRweError(f"cannot run quarto: {exc}") from None
        if proc.returncode != 0:
            raise PsmaRweError(
                f"quarto render {source} --to {FORMATS[fmt]} failed:\n{proc.stderr.strip()}"
            )
        found = [
            p
            for p in (scratch / Path(source).parent / f"{stem}.{fmt}", scratch / f"{stem}.{fmt}")
            if p.is_file()
        ]
        if not found:
            raise PsmaRweError(
                f"quarto render {source} --to {FORMATS[fmt]} wrote no {stem}.{fmt} in {scratch}"
            )
        target = out / f"{stem}.{fmt}"
        shutil.move(found[0], target)
        if fmt == "pdf":
            _save_plan(work, source, scratch)
        shutil.rmtree(scratch)
        finish(target, reference, source)
        paths[fmt] = target
    if "html" in paths and "pdf" in paths:
        from analysis.render import poster_plan

        poster_plan.embed(paths["html"], _plan_path(work, source))
    return paths


def _plan_path(work: Path, source: str) -> Path:
    from analysis.render import poster_plan

    return work / "_quarto_out" / f"{Path(source).stem}.{poster_plan.PLAN_FILE}"


def _save_plan(work: Path, source: str, scratch: Path) -> None:
    """The poster's plan (:mod:`analysis.render.poster_plan`) from the Typst file
    Quarto kept (``keep-typ``), which is then removed; nothing for another document."""
    from analysis.render import poster_plan

    plan_path = _plan_path(work, source)
    plan_path.unlink(missing_ok=True)
    stem = Path(source).stem
    kept = [
        p
        for folder in (work / Path(source).parent, scratch / Path(source).parent, scratch)
        for p in [folder / f"{stem}.typ"]
        if p.is_file()
    ]
    if kept:
        try:
            # only a poster whose columns are balanced has a plan: the others
            # (abstract, supplement) are not compiled again to find none
            if poster_plan.FLOW_CALL in kept[0].read_text(encoding="utf-8"):
                poster_plan.save(kept[0], work, plan_path)
        finally:
            for p in kept:
                p.unlink(missing_ok=True)
