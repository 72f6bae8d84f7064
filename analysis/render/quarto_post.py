"""Quarto's post-render step in a study project: ``python -m analysis.render.quarto_post``.

A project's ``_quarto.yml`` names ``_extensions/psma-rwe/post-render.lua``
(``project: post-render:``), which runs this module with the Python that
``psma-rwe prepare`` recorded in ``_psma/python``, so that a
``quarto render`` run by hand gives the Word and HTML files a build gives:

* every ``.docx`` gets the table widths, breaks and figure sizes of
  :func:`analysis.render.docx_layout.postprocess`, for the text area of the
  project's Word reference document (``_psma/reference.docx``, written by
  ``psma-rwe prepare``);
* every ``.html`` gets the Lato subsets a build's HTML has
  (:mod:`analysis.render.webfonts`) and is checked for network loads, and
  refused (the render fails, naming the file, line and resource) if it has any.

Quarto runs the step in the project folder after each render, with the
rendered files in ``QUARTO_PROJECT_OUTPUT_FILES`` (one path per line,
relative to the project), or in the file that
``QUARTO_USE_FILE_FOR_PROJECT_OUTPUT_FILES`` names.  ``psma-rwe build
--renderer quarto`` does the same itself for each file it moves into the
version, so there the step does nothing (:data:`SKIP_ENV`; the Lua script
checks it first and starts no Python).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from analysis.errors import PsmaRweError

#: Set by ``psma-rwe build --renderer quarto`` (:func:`analysis.render.quarto.quarto_env`):
#: the build post-processes its files itself.
SKIP_ENV = "PSMA_RWE_IN_BUILD"


def output_files(project_dir: Path, environ: Mapping[str, str]) -> list[Path]:
    """The files Quarto rendered, as it hands them to a post-render step."""
    listing = environ.get("QUARTO_USE_FILE_FOR_PROJECT_OUTPUT_FILES")
    if listing:
        try:
            text = Path(listing).read_text(encoding="utf-8")
        except OSError as exc:
            raise PsmaRweError(
                f"cannot read Quarto's list of rendered files {listing}: {exc}"
            ) from None
    else:
        text = environ.get("QUARTO_PROJECT_OUTPUT_FILES", "")
    return [Path(project_dir) / line.strip() for line in text.splitlines() if line.strip()]


def finish(path: Path, reference: Path, source: str = "") -> bool:
    """Finish one file Quarto wrote as the embedded renderer finishes its own.

    HTML gets its SVG figures placed in the page
    (:func:`analysis.render.svg_inline.inline_file`), the Lato subsets
    (:func:`analysis.render.webfonts.embed`) and is
    checked for network loads; Word gets the table widths, breaks and figure
    sizes of :func:`analysis.render.docx_layout.postprocess` for the text area of
    ``reference``.  Other files are left alone.

    Parameters
    ----------
    path : Path
        The rendered file.
    reference : Path
        Word's reference document (the project's ``_psma/reference.docx``).
    source : str
        The document it was rendered from, for messages.

    Returns
    -------
    bool
        Whether ``path`` was an HTML or Word file (and so finished or checked).

    Raises
    ------
    PsmaRweError
        An HTML file loads something from the network, or ``reference`` is missing.
    """
    if path.suffix == ".html":
        from analysis.render import svg_inline, webfonts
        from analysis.render.offline import check_offline

        svg_inline.inline_file(path)
        webfonts.embed(path)
        check_offline(path, source)
    elif path.suffix == ".docx":
        from analysis.render import docx, docx_layout

        if not reference.is_file():
            raise PsmaRweError(
                f"{path.name}: no Word reference document {reference}; "
                "run psma-rwe prepare in the project first"
            )
        docx_layout.postprocess(path, *docx.text_area_pt(reference))
    else:
        return False
    return True


def post_render(project_dir: Path, files: list[Path]) -> list[Path]:
    """:func:`finish` each of the rendered ``files`` of the project; returns those finished.

    Parameters
    ----------
    project_dir : Path
        The study project (its ``_psma/reference.docx`` gives Word's page).
    files : list of Path
        Files Quarto wrote; those that no longer exist are skipped.

    Raises
    ------
    PsmaRweError
        As :func:`finish`.
    """
    from analysis.render.quarto import reference_path

    reference = reference_path(project_dir)
    return [p for p in files if p.is_file() and finish(p, reference, p.name)]


def run(project_dir: Path, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The post-render step as Quarto runs it (nothing inside a build)."""
    environ = os.environ if environ is None else environ
    if environ.get(SKIP_ENV):
        return []
    return post_render(project_dir, output_files(project_dir, environ))


def main() -> int:
    """``python -m analysis.render.quarto_post``: :func:`run` in the current folder;
    a bad file is reported in one line, with the error's exit code (non-zero)."""
    import sys

    try:
        run(Path.cwd())
    except PsmaRweError as exc:
        print(f"psma-rwe: error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
