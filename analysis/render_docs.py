"""Rendering a build's documents: one task per document and format, in worker processes.

:func:`render_documents` renders every document of a build's work folder (the
project that :func:`analysis.build.prepare_work` wrote) into the version
folder.  With the embedded renderer each (document, format) pair, e.g. the
supplement's PDF, is one task of a :class:`analysis.workers.Pool` (the build's,
whose workers drew the figures, or one made for the call), longest first, so
that a 2-core machine renders the supplement's PDF while the other outputs are
made beside it.

Safe side by side
    Each task renders its own copy of the work folder,
    ``_render/<doc>-<format>/`` inside it, whose files are hard links to the
    work folder's (copies where links cannot be made): the render pipeline's
    work files (``_render/`` of the copy: the expanded markdown, the copied
    Typst partials, the fonts folder, Word's reference document, the PNG
    copies of the figures) are therefore never written by two tasks, and
    every path relative to the project, which the outputs may hold (Word
    keeps a figure's PNG path), is the one the one-after-another render gives.
    A task writes only its own output, ``<doc>.<format>``, and the outputs
    are byte for byte those of the one-after-another render
    (``tests/test_render_docs.py`` compares them).
Failures
    The first task that fails stops the render (see :mod:`analysis.workers`):
    its :class:`PsmaRweError` is raised again in the calling process as the
    same one-line message, so :func:`analysis.build.build` discards the
    temporary folder as for any failure.  Python warnings a task gave
    (pandoc's messages) are given again in the calling process.
Beside the figures
    A build adds the tasks of a document that shows no figure
    (:func:`needs_figures`: the abstract) to the figures' batch
    (:func:`start_documents`), in copies of the work folder made before the
    figures are there: the first worker without a figure left to draw renders
    it.  The other documents' tasks follow once the figures are drawn, ahead
    of what is left of those.
One after another
    With one CPU, ``PSMA_RWE_JOBS=1`` or ``jobs=1``, or the Quarto renderer,
    the documents are rendered in this process, one after another, into the
    shared ``_render/`` folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from analysis import workers

#: Rough relative cost of each document and format, to start the long tasks first.
_DOC_COST = {"supplement": 4, "poster": 2, "abstract": 1}
_FORMAT_COST = {"pdf": 3, "docx": 2, "html": 1}

Progress = Callable[[str], None]


def tasks(formats: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """The (document, format) pairs to render, the longest first."""
    pairs = [(doc, fmt) for doc, fmts in formats.items() for fmt in fmts]
    return sorted(
        pairs, key=lambda p: -_DOC_COST.get(p[0], 1) * _FORMAT_COST.get(p[1], 1)
    )  # stable: equal costs keep their order


def task_dir(work: Path, doc: str, fmt: str) -> Path:
    """Where :func:`task_project` puts the copy of ``work`` for one task."""
    from analysis.render.pipeline import WORK_DIR_NAME

    return Path(work) / WORK_DIR_NAME / f"{doc}-{fmt}"


def task_project(work: Path, doc: str, fmt: str) -> Path:
    """A copy of the work folder for one task: hard links to its files, without ``_render/``.

    The copy is ``work/_render/<doc>-<fmt>/``; its files are linked, not
    copied (a file system without hard links gets copies), so making it costs
    next to nothing.  A task only reads them: everything it writes goes to its
    own ``_render/`` or to the version folder.
    """
    from analysis.render.pipeline import WORK_DIR_NAME

    work = Path(work)
    target = task_dir(work, doc, fmt)

    def skip(folder: str, names: list[str]) -> list[str]:
        return [WORK_DIR_NAME] if Path(folder) == work else []

    if target.exists():  # left by an earlier render of this work folder
        shutil.rmtree(target)
    shutil.copytree(work, target, ignore=skip, copy_function=_link_or_copy)
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def needs_figures(work: Path, doc: str) -> bool:
    """Whether ``report/<doc>.qmd`` of ``work`` may show a file of ``figures/``.

    It may when its text after the pre-pass (with its includes), the values of
    its shortcodes or its metadata name the folder (``figures/``, as every path
    to a figure does), or when the pre-pass fails before the figures are there
    (an include of one of their files; any other failure is then given by the
    document's render).  A document that may not (the abstract) can be
    rendered before the figures are drawn (:func:`start_documents`).
    """
    import json

    from analysis.errors import PsmaRweError
    from analysis.render.pipeline import prepare

    try:
        prep = prepare(work, f"report/{doc}.qmd")
    except PsmaRweError:
        return True
    texts = (
        prep.md_path.read_text(encoding="utf-8"),
        prep.values_path.read_text(encoding="utf-8"),
        json.dumps([prep.project_meta, prep.front], ensure_ascii=False, default=str),
    )
    return any(mark in text for text in texts for mark in _FIGURES_MARKS)


#: How a path into the figures folder is written (in JSON, a backslash is doubled).
_FIGURES_MARKS = ("figures/", "figures\\", "figures\\\\")


def start_documents(
    work: Path, out: Path, formats: Mapping[str, Sequence[str]], batch: workers.Batch
) -> list[int]:
    """Add the render tasks of ``formats`` to ``batch`` (the figures' batch of a build,
    :class:`analysis.charts_write.Drawing`): its workers render them once no
    figure is left to start.  Returns their indices in the batch, for
    :func:`render_documents` (``started``).  The documents must need no figure
    (:func:`needs_figures`): their copies of the work folder are made now.
    """
    return batch.add(_batch_tasks(work, out, tasks(formats)))


def _batch_tasks(work: Path, out: Path, todo: Sequence[tuple[str, str]]) -> list[workers.Task]:
    return [
        workers.Task(
            "analysis.render_docs:_render_task",
            (str(task_project(work, doc, fmt)), doc, fmt, str(out)),
            f"rendering {doc} to {fmt.upper()}",
        )
        for doc, fmt in todo
    ]


def render_documents(
    work: Path,
    out: Path,
    formats: Mapping[str, Sequence[str]],
    *,
    use_quarto: bool = False,
    jobs: int | None = None,
    say: Progress | None = None,
    pool: workers.Pool | None = None,
    batch: workers.Batch | None = None,
    started: Mapping[str, Sequence[str]] | None = None,
    started_tasks: Sequence[int] = (),
) -> None:
    """Render ``report/<doc>.qmd`` of ``work`` into ``out`` in each of its formats.

    Parameters
    ----------
    work : Path
        The project to render (sources, ``_variables.yml``, tables, figures).
    out : Path
        Folder receiving ``<doc>.<format>``.
    formats : mapping
        ``{doc: formats}``, e.g. :data:`analysis.build.DOC_FORMATS`.
    use_quarto : bool
        Render with ``quarto render`` (one document after another).
    jobs : int, optional
        Worker processes when no ``pool`` is given; default
        :func:`analysis.workers.jobs`.  ``1``: one after another in this process.
    say : callable, optional
        Called with the name of each stage as it starts.
    pool : analysis.workers.Pool, optional
        Workers to render in (the build's); ``jobs`` is then not used.
    batch : analysis.workers.Batch, optional
        A batch of ``pool``'s to add the tasks to (the figures' batch), rather
        than a new one.
    started, started_tasks : optional
        Documents and formats whose tasks :func:`start_documents` added to
        ``batch`` before, and their indices: waited for with the others, and
        the poster's HTML gets the plan of a poster PDF among them.

    Raises
    ------
    PsmaRweError
        A document could not be rendered (the first failure's message).
    """
    say = say or (lambda stage: None)
    todo = tasks(formats)
    n = pool.n if pool is not None else min(workers.jobs(jobs), len(todo))
    if use_quarto or n <= 1:
        for doc, fmts in formats.items():
            say(f"rendering {doc}")
            _render(work, doc, fmts, out, use_quarto)
        return
    say(f"rendering {', '.join([*(started or {}), *formats])}")
    todo_tasks = _batch_tasks(work, out, todo)
    if batch is not None:
        # ahead of the started documents' tasks not yet taken: the longest first
        batch.wait([*started_tasks, *batch.add(todo_tasks, ahead=True)])
    elif pool is not None:
        pool.run(todo_tasks)
    else:
        with workers.Pool(n, warm=("analysis.render_docs:warm",)) as own:
            own.run(todo_tasks)
    _hand_over_plans(work, out, [*tasks(started or {}), *todo])


def _hand_over_plans(work: Path, out: Path, todo: Sequence[tuple[str, str]]) -> None:
    """The poster's HTML, rendered by another task than its PDF, gets the PDF's
    column balance (:mod:`analysis.render.poster_plan`), as one render of both gives."""
    from analysis.render import poster_plan
    from analysis.render.pipeline import WORK_DIR_NAME

    for doc, fmt in todo:
        if fmt == "html" and (doc, "pdf") in todo:
            pdf_work = task_dir(work, doc, "pdf") / WORK_DIR_NAME
            poster_plan.embed(Path(out) / f"{doc}.html", pdf_work / poster_plan.PLAN_FILE)


def _render(work: Path, doc: str, formats: Sequence[str], out: Path, use_quarto: bool) -> None:
    from analysis.render import render_document

    source = f"report/{doc}.qmd"
    if use_quarto:
        from analysis.render import quarto

        quarto.render(work, source, out, formats)
    else:
        render_document(work, source, out, formats)


def _render_task(project: str, doc: str, fmt: str, out: str) -> None:
    """One task, in a worker: render ``doc`` of ``project`` (the task's copy) to ``fmt``."""
    from analysis.render import render_document

    render_document(Path(project), f"report/{doc}.qmd", Path(out), (fmt,))


def warm() -> None:
    """A worker's warm-up for rendering: the render pipeline, pandoc's and Typst's
    Python packages imported before the first task comes."""
    import pypandoc  # noqa: F401
    import typst  # noqa: F401

    import analysis.render.pipeline  # noqa: F401
