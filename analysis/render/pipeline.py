"""The render pipeline: pre-pass, pandoc with the Lua filters, Typst.

See :mod:`analysis.render` for what is supported.  Work files go to
``<project_dir>/_render/`` (the expanded markdown, per-format metadata, the
generated ``.typ`` (the extension's Typst partials inlined), PNG copies of SVG
figures for Word and Word's reference document, :mod:`analysis.render.docx`);
outputs go to ``out_dir``; a DOCX is laid out for its page after pandoc
(:mod:`analysis.render.docx_layout`).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from analysis import fonts
from analysis.errors import PsmaRweError
from analysis.render import (
    docx,
    docx_layout,
    extension,
    layout,
    offline,
    poster_plan,
    project,
    svg_inline,
    webfonts,
)
from analysis.render.shortcodes import ShortcodeExpander, split_front_matter

#: Inside the project's extension (:mod:`analysis.render.extension`).
FILTERS_DIR = "filters"
TEMPLATES_DIR = "templates"
#: The embedded renderer's main Typst template; it assembles the partials
#: typst/typst-template.typ, page.typ and typst-show.typ, which Quarto's own
#: Typst template assembles under ``quarto render``.
TYPST_TEMPLATE = "typst/psma.typst"
CSS = "css/report.css"

#: Lua filters in the order they run (each file says what it does).
FILTERS = (
    "shortcodes.lua",
    "conditional.lua",
    "layout.lua",
    "figures.lua",
    "gt-tables.lua",
    "typography.lua",
    "crossref.lua",
    "callouts.lua",
    "docx-title.lua",
    "docx-tables.lua",
    "plain-text.lua",
    "citations.lua",
    "long-words.lua",
)
FORMATS = ("html", "pdf", "docx")
WORK_DIR_NAME = "_render"
#: pandoc's markdown reader, as close to Quarto's as matters here.
READER = "markdown+autolink_bare_uris"
#: Used for SOURCE_DATE_EPOCH and Typst's PDF timestamp when the caller's
#: environment sets no SOURCE_DATE_EPOCH.
DEFAULT_EPOCH = 0
#: Placeholder nonces tried before giving up (each collides only with inputs
#: that hold it).
NONCE_ATTEMPTS = 10

#: An SVG file named in the markdown.  The look-behind starts a match only where
#: a path can start: without it a long run of word characters (a 100 KB data
#: string in an included table) made this search quadratic (70 s).
_SVG_REF = re.compile(r"(?<![\w./-])[\w./-]+\.svg\b")
#: The start of the offline Vega runtime's script (analysis.charts_draw.runtime_html).
_RUNTIME_START = '<script id="vega-runtime">\n'


@dataclass
class Timings:
    """Seconds spent per step of the last :func:`render` call (for reports)."""

    steps: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.steps[name] = self.steps.get(name, 0.0) + seconds


#: Timings of the most recent render (per format and pre-pass).
LAST_TIMINGS = Timings()


@functools.cache
def pandoc_path() -> str:
    """The pandoc binary shipped with pypandoc-binary.

    Found in the package's folder, without running it: ``pypandoc.get_pandoc_path``
    runs ``pandoc --version`` for each pandoc it finds (the bundled one and any on
    PATH, taking the newest), once in every process of a build.  Where
    ``$PYPANDOC_PANDOC`` is set, or the package has no binary, pypandoc chooses.
    """
    import pypandoc

    bundled = (
        Path(pypandoc.__file__).parent / "files" / ("pandoc.exe" if os.name == "nt" else "pandoc")
    )
    if not os.environ.get("PYPANDOC_PANDOC") and bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return pypandoc.get_pandoc_path()


def _epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else DEFAULT_EPOCH


def _check_formats(formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    wanted = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise PsmaRweError(f"unknown output format '{fmt}' (choose from {', '.join(FORMATS)})")
        if fmt not in wanted:
            wanted.append(fmt)
    return wanted


def _pandoc_metadata(meta: dict) -> dict:
    """Format metadata -> what the templates read (authors normalised, dates fixed)."""
    meta = dict(meta)
    by_author, by_affiliation = project.normalize_authors(meta)
    for key in ("author", "authors", "affiliations"):
        meta.pop(key, None)
    if by_author:
        meta["by-author"] = by_author
        meta["author-meta"] = [a["name"]["literal"] for a in by_author]
    if by_affiliation:
        meta["by-affiliation"] = by_affiliation
    if "date" in meta:
        meta["date"] = project.resolve_date(meta["date"])
    return meta


def svg_pngs(svgs: Sequence[Path], project_dir: Path, png_dir: Path) -> None:
    """PNG copies of SVG figures inside ``project_dir`` for Word, written to
    ``png_dir/<project-relative path>.png`` (filters/figures.lua reads them)."""
    vl_convert = fonts.vl_convert(fonts.project_fonts(project_dir))
    for svg in svgs:
        rel = svg.relative_to(project_dir).as_posix()
        target = png_dir / f"{rel}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        png = vl_convert.svg_to_png(
            svg.read_text(encoding="utf-8"), scale=docx_layout.PNG_SCALE, ppi=docx_layout.PNG_PPI
        )
        target.write_bytes(png)


def _svg_pngs(body: str, source_dir: Path, project_dir: Path, png_dir: Path) -> None:
    """PNG copies of the SVG figures the document mentions (for Word)."""
    found: list[Path] = []
    for ref in sorted(set(_SVG_REF.findall(body))):
        if ref.startswith("/"):
            candidates = [project_dir / ref.lstrip("/")]
        else:
            candidates = [source_dir / ref, project_dir / ref]
        for candidate in candidates:
            svg = candidate.resolve()
            if svg.is_file() and svg.is_relative_to(project_dir):
                found.append(svg)
                break
    svg_pngs(found, project_dir, png_dir)


def _run_pandoc(args: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    """Run pandoc; its failure is a PsmaRweError, its warnings Python warnings."""
    try:
        proc = subprocess.run(
            [pandoc_path(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise PsmaRweError(f"cannot run pandoc while {what}: {exc}") from None
    if proc.returncode != 0:
        raise PsmaRweError(
            f"pandoc failed while {what} (exit code {proc.returncode}):\n{proc.stderr.strip()}"
        )
    if proc.stderr.strip():
        warnings.warn(f"pandoc, {what}: {proc.stderr.strip()}", stacklevel=3)


def _html_page(
    prep: Prepared, args: list[str], target: Path, env: dict[str, str], what: str
) -> None:
    """Run pandoc for the self-contained HTML page ``target`` (``args``, which write
    it, without ``--embed-resources``).

    The page's stylesheet and SVG figures are placed in it here
    (:func:`analysis.render.offline.place_local`: 0.25 s less than pandoc's
    embedding for the supplement); a page naming any other file of its own is
    rendered again with pandoc's ``--embed-resources``, the first run's warnings
    dropped (the second gives them again).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_pandoc(args, prep.project_dir, env, what)
    if offline.place_local(target, [prep.project_dir, prep.src.parent]):
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return
    _run_pandoc([*args, "--embed-resources"], prep.project_dir, env, what)


def _compile_typst(typ: Path, project_dir: Path, pdf: Path, source: str) -> None:
    import typst

    try:
        data = typst.compile(
            str(typ),
            root=str(project_dir),
            timestamp=_epoch(),
            font_paths=fonts.typst_fonts(fonts.font_set(project_dir), typ.parent / "fonts"),
        )
    except typst.TypstError as exc:
        detail = getattr(exc, "diagnostic", "") or ""
        hints = "\n".join(f"hint: {h}" for h in (getattr(exc, "hints", None) or []))
        raise PsmaRweError(
            f"typst failed while rendering {source} to PDF ({typ.name}):\n"
            f"{getattr(exc, 'message', str(exc))}\n{detail}\n{hints}".rstrip()
        ) from None
    except RuntimeError as exc:  # older typst bindings raise plain RuntimeError
        raise PsmaRweError(
            f"typst failed while rendering {source} to PDF ({typ.name}):\n{exc}"
        ) from None
    pdf.write_bytes(data)


def _runtime_aside(prep: Prepared) -> tuple[Path, str, str] | None:
    """The markdown for the HTML with the Vega runtime's code (about 0.9 MB of
    JavaScript) set aside: ``(markdown path, marker, code)``, or ``None`` when the
    document has no runtime.

    ``--embed-resources`` makes pandoc parse the HTML it wrote once more, and that
    parse took 0.8 s of the supplement's 1.8 s; pandoc keeps a raw HTML block as
    it is, so the code, put back in place of its marker afterwards
    (:func:`_runtime_back`), gives the same bytes.  The marker holds the
    expander's nonce, which no input holds.
    """
    # bytes, not text: a carriage return in an included file stays as it is
    text = prep.md_path.read_bytes().decode("utf-8")
    start = text.find(_RUNTIME_START)
    if start < 0:
        return None
    start += len(_RUNTIME_START)
    # the bundle's own "</script" are escaped: the first one ends it
    end = text.find("\n</script>", start)
    if end < 0:
        return None
    marker = f"QSCX{prep.expander.nonce}RUNTIMEXQSC"
    path = prep.work / f"{prep.stem}.html.md"
    path.write_bytes((text[:start] + marker + text[end:]).encode("utf-8"))
    return path, marker, text[start:end]


def _runtime_back(html: Path, marker: str, code: str) -> None:
    """Put the Vega runtime's code back in place of its marker in ``html``."""
    text = html.read_bytes().decode("utf-8")
    if text.count(marker) != 1:
        raise PsmaRweError(
            f"{html.name}: the Vega runtime's place was not found once in pandoc's HTML"
        )
    html.write_bytes(text.replace(marker, code).encode("utf-8"))


@dataclass
class Prepared:
    """A document after the pre-pass, ready for pandoc."""

    project_dir: Path
    src: Path
    rel_source: str
    stem: str
    project_meta: dict
    front: dict
    expander: ShortcodeExpander
    work: Path
    md_path: Path
    values_path: Path
    png_dir: Path

    @functools.cached_property
    def ext(self) -> Path:
        """The project's format extension (checked when first needed)."""
        return extension.extension_dir(self.project_dir)


def prepare(project_dir: Path, source: str) -> Prepared:
    """Read the project files, run the shortcode pre-pass, write the work files."""
    project_dir = Path(project_dir).resolve()
    src = (project_dir / source).resolve()
    if not src.is_relative_to(project_dir) or not src.is_file():
        raise PsmaRweError(f"source document '{source}' not found in {project_dir}")
    rel_source = src.relative_to(project_dir).as_posix()
    project_meta = project.load_yaml(project_dir / "_quarto.yml", "_quarto.yml")
    variables = project.load_yaml(project_dir / "_variables.yml", "_variables.yml")
    yaml_text, body = split_front_matter(src.read_text(encoding="utf-8"))
    for _attempt in range(NONCE_ATTEMPTS):
        expander = ShortcodeExpander(
            project_dir, variables, project.shortcode_metadata(project_meta, {})
        )
        front = project.parse_yaml(expander.expand(yaml_text, src), rel_source) if yaml_text else {}
        expander.metadata = project.shortcode_metadata(project_meta, front)
        markdown = expander.expand(body, src)
        # a nonce found in the inputs could make a data string pass for a token
        # (the sources and includes as read; the YAML files as parsed)
        if not expander.nonce_collides(project_meta, variables):
            break
    else:  # pragma: no cover - 26**20 nonces
        raise PsmaRweError(f"{rel_source}: no placeholder nonce absent from the inputs")

    work = project_dir / WORK_DIR_NAME
    work.mkdir(parents=True, exist_ok=True)
    md_path = work / f"{src.stem}.md"
    md_path.write_text(markdown, encoding="utf-8")
    values_path = work / f"{src.stem}.values.json"
    values_path.write_text(
        json.dumps({"nonce": expander.nonce, "values": expander.values}, ensure_ascii=False),
        encoding="utf-8",
    )
    return Prepared(
        project_dir=project_dir,
        src=src,
        rel_source=rel_source,
        stem=src.stem,
        project_meta=project_meta,
        front=front,
        expander=expander,
        work=work,
        md_path=md_path,
        values_path=values_path,
        png_dir=work / "png",
    )


def _base_args(prep: Prepared, fmt: str) -> tuple[list[str], dict[str, str], dict, str]:
    """pandoc arguments and environment common to every output, the metadata
    (placeholders resolved, for Python's own reads) and the template name."""
    meta = _pandoc_metadata(project.format_metadata(prep.project_meta, prep.front, fmt))
    plain = prep.expander.resolve(meta)
    template = layout.template_name(plain)
    columns = layout.poster_layout(plain)[2] if template == "poster" else 0
    meta_path = prep.work / f"{prep.stem}.{fmt}.yaml"
    meta_path.write_text(
        yaml.safe_dump(meta, sort_keys=True, allow_unicode=True, default_flow_style=False),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": str(_epoch()),
        "PSMA_RENDER_VALUES": str(prep.values_path),
        "PSMA_RENDER_PROJECT_DIR": str(prep.project_dir),
        "PSMA_RENDER_SOURCE_DIR": str(prep.src.parent),
        "PSMA_RENDER_SOURCE": prep.rel_source,
        "PSMA_RENDER_PNG_DIR": prep.png_dir.relative_to(prep.project_dir).as_posix(),
        "PSMA_RENDER_TEMPLATE": template,
        "PSMA_RENDER_COLUMNS": str(columns),
        "PSMA_RENDER_TABLE_NOTES": layout.table_notes(plain),
    }
    args = [
        str(prep.md_path),
        f"--from={READER}",
        f"--metadata-file={meta_path}",
        f"--data-dir={prep.ext}",
        f"--resource-path={prep.project_dir}{os.pathsep}{prep.src.parent}",
        "--preserve-tabs",
        "--standalone",
        *[f"--lua-filter={prep.ext / FILTERS_DIR / name}" for name in FILTERS],
    ]
    if citations_on(plain):
        # after the filters: crossref.lua has resolved @fig-/@tbl- by then
        args.append("--citeproc")
    return args, env, plain, template


def citations_on(meta: dict) -> bool:
    """Whether pandoc's citeproc formats the citations and the reference list.

    On when the document has a ``bibliography`` and ``show-references`` is
    not false (``false`` or ``"false"``: filters/citations.lua drops the
    citations, as a conference abstract without references needs).
    """
    value = meta.get("show-references", True)
    off = value is False or str(value).strip().lower() in ("false", "no", "")
    return bool(meta.get("bibliography")) and not off


def render(
    project_dir: Path,
    source: str,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    *,
    follow_pdf: bool = False,
) -> dict[str, Path]:
    """Implementation of :func:`analysis.render.render_document`."""
    timings = LAST_TIMINGS
    timings.steps.clear()
    t0 = time.perf_counter()
    formats = _check_formats(formats)
    prep = prepare(project_dir, source)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if "docx" in formats:
        _svg_pngs(
            prep.md_path.read_text(encoding="utf-8"),
            prep.src.parent,
            prep.project_dir,
            prep.png_dir,
        )
    timings.add("prepare", time.perf_counter() - t0)

    what = f"rendering {prep.rel_source} to"
    results: dict[str, Path] = {}
    plan_path = prep.work / poster_plan.PLAN_FILE
    # an HTML poster alone: its PDF, compiled into the work folder, for the plan
    plan_only = (
        follow_pdf
        and "html" in formats
        and "pdf" not in formats
        and _base_args(prep, "html")[3] == "poster"
    )
    if "pdf" in formats or plan_only:
        plan_path.unlink(missing_ok=True)  # the plan of this render's PDF, or none
    for fmt in ("pdf", *formats) if plan_only else formats:
        t1 = time.perf_counter()
        args, env, plain, template = _base_args(prep, fmt)
        if plain.get("toc") is True and fmt != "docx":  # docx: docx-title.lua
            args += ["--toc", f"--toc-depth={layout.toc_depth(plain)}"]
        if plain.get("number-sections") is True and fmt != "pdf":
            args.append("--number-sections")
        if fmt == "html":
            target = out_dir / f"{prep.stem}.html"
            args += [
                "--to=html5",
                f"--template={prep.ext / TEMPLATES_DIR / 'html.template'}",
                f"--css={prep.ext / CSS}",
                "--mathml",
                f"--output={target}",
            ]
            aside = _runtime_aside(prep)
            if aside is not None:
                args[0] = str(aside[0])
            _html_page(prep, args, target, env, f"{what} HTML")
            if aside is not None:
                _runtime_back(target, *aside[1:])
            svg_inline.inline_file(target)
            webfonts.embed(target)
            offline.check_offline(target, prep.rel_source)
        elif fmt == "docx":
            target = out_dir / f"{prep.stem}.docx"
            reference = docx.reference_doc(
                plain, prep.work, [prep.src.parent, prep.project_dir], pandoc_path()
            )
            width, height = docx.text_area_pt(reference)
            env["PSMA_RENDER_DOCX_TEXT_WIDTH"] = f"{width:g}"
            args += ["--to=docx", f"--reference-doc={reference}", f"--output={target}"]
            _run_pandoc(args, prep.project_dir, env, f"{what} DOCX")
            docx_layout.postprocess(target, width, height)
        else:
            target = (prep.work if plan_only else out_dir) / f"{prep.stem}.pdf"
            typ = prep.work / f"{prep.stem}.typ"
            # the values the Typst partials parse, checked here for a clear message
            layout.check_typst_metadata(plain)
            args += [
                "--to=typst",
                f"--template={prep.ext / TYPST_TEMPLATE}",
                f"--output={typ}",
            ]
            if plain.get("number-sections") is True and not plain.get("section-numbering"):
                args.append("--metadata=section-numbering:1.1")
            _run_pandoc(args, prep.project_dir, env, f"{what} Typst")
            _compile_typst(typ, prep.project_dir, target, prep.rel_source)
            if template == "poster":
                poster_plan.save(typ, prep.project_dir, plan_path)
        results[fmt] = target
        timings.add(fmt, time.perf_counter() - t1)
    if "html" in results and "pdf" in results:
        poster_plan.embed(results["html"], plan_path)
    if plan_only:
        del results["pdf"]
    return results


def render_plain(project_dir: Path, source: str, out_path: Path) -> Path:
    """Implementation of :func:`analysis.render.render_plain`."""
    prep = prepare(project_dir, source)
    out_path = Path(out_path).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    args, env, _plain, _template = _base_args(prep, "plain")
    args += [
        "--to=plain",
        f"--template={prep.ext / TEMPLATES_DIR / 'plain.template'}",
        "--wrap=none",
        f"--output={out_path}",
    ]
    _run_pandoc(args, prep.project_dir, env, f"rendering {prep.rel_source} to plain text")
    return out_path


def pandoc_version() -> str:
    """Version of the pandoc binary the renderer runs (:func:`pandoc_path`), e.g. ``"3.9"``.

    Raises
    ------
    PsmaRweError
        pandoc cannot be run or fails (its exit code and what it printed).
    """
    try:
        proc = subprocess.run(
            [pandoc_path(), "--version"], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise PsmaRweError(f"cannot run pandoc ({pandoc_path()}): {exc}") from None
    if proc.returncode != 0:
        raise PsmaRweError(
            f"pandoc failed while reading its version (exit code {proc.returncode}):\n"
            f"{proc.stderr.strip()}"
        )
    first = proc.stdout.split("\n", 1)[0].split()
    return first[1] if len(first) > 1 else proc.stdout.strip()
