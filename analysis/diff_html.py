"""``psma-rwe diff --html FILE``: the comparison as one self-contained HTML page.

The page shows the old and new versions side by side: the numbers of the
abstract and poster as displayed, the generated sentences and the abstract's
paragraphs with deletions (``<del>``) and insertions (``<ins>``) marked, its
length against the limit, the tables' changed cells, the inputs, and every
changed value of ``results.json`` (folded).  It opens offline: no script, no
external style sheet, font or image (a Content-Security-Policy forbids any
load), and every string from the versions is HTML-escaped, the cohort's
free text included.  It is written through a temporary file renamed into
place, and never inside a version folder (versions are immutable and
verified against their manifests).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from analysis.build import MANIFEST, TMP_PREFIX
from analysis.diff import VersionDiff, word_diff
from analysis.diff_report import length_text
from analysis.errors import PsmaRweError, os_error_message
from analysis.files import write_text_atomic

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Arial, sans-serif;
       color: #222; margin: 2em auto; max-width: 72em; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em;
     border-bottom: 1px solid #ccc; } h3 { font-size: 1em; margin-bottom: .3em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.old { background: #fff6f6; } td.new { background: #f4fbf4; }
del { background: #f8c8c8; text-decoration: line-through; }
ins { background: #c6efc6; text-decoration: none; }
.muted { color: #666; } .over { color: #b00; font-weight: bold; }
code { font-size: .9em; }
"""


def _e(value) -> str:
    """``value`` as escaped HTML text (``None`` as an empty cell)."""
    return html.escape("" if value is None else str(value), quote=True)


def _marked(words, side: str) -> str:
    """One side of a word diff: unchanged words, and ``<del>`` (old) or ``<ins>`` (new)."""
    parts = []
    for op, text in words:
        if op == "=":
            parts.append(_e(text))
        elif op == "-" and side == "old":
            parts.append(f"<del>{_e(text)}</del>")
        elif op == "+" and side == "new":
            parts.append(f"<ins>{_e(text)}</ins>")
    return " ".join(parts)


def _row(*cells: str, classes: tuple[str, ...] = ()) -> str:
    out = []
    for i, cell in enumerate(cells):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        out.append(f"<td{css}>{cell}</td>")
    return "<tr>" + "".join(out) + "</tr>"


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"


def render_html(d: VersionDiff) -> str:
    """The page for ``d`` (see the module docstring).

    Parameters
    ----------
    d : VersionDiff

    Returns
    -------
    str
        A complete HTML document; every string from the versions is escaped.
    """
    a, b = _e(d.old.name), _e(d.new.name)
    side = ("", "old", "new")
    body = [f"<h1>psma-rwe diff: {a} → {b}</h1>"]
    if d.identical:
        body.append(
            "<p><strong>No changes.</strong> Same inputs; the numbers of the abstract and"
            " poster, the abstract, the tables and results.json are identical.</p>"
        )
    numbers = [s for s in d.shown if s.kind == "number"]
    texts = [s for s in d.shown if s.kind == "text"]
    if not d.identical:
        cells = sum(len(t.cells) for t in d.tables)
        summary = (
            f"{len(numbers)} displayed numbers and {len(texts)} sentences changed;"
            f" abstract: {len(d.paragraphs)} paragraphs changed; tables: {len(d.tables)}"
            f" changed ({cells:,} cells); inputs: {len(d.inputs)} changed;"
            f" results.json: {len(d.values):,} values changed."
        )
        body.append(f'<p class="muted">{_e(summary)}</p>')

    body.append("<h2>Numbers in the abstract and poster</h2>")
    if d.shown_note:
        body.append(f'<p class="muted">{_e(d.shown_note)}</p>')
    if numbers:
        body.append("<table>" + _head("Number", a, b, "Shown in"))
        for s in numbers:
            docs = _e(", ".join(s.documents))
            body.append(_row(_e(s.label), _e(s.old), _e(s.new), docs, classes=side))
        body.append("</table>")
    else:
        body.append("<p>No displayed number changed.</p>")
    if texts:
        body.append("<h3>Sentences</h3><table>" + _head("Sentence", a, b, "Shown in"))
        for s in texts:
            words = word_diff(s.old or "", s.new or "")
            body.append(
                _row(
                    _e(s.label),
                    _marked(words, "old"),
                    _marked(words, "new"),
                    _e(", ".join(s.documents)),
                    classes=side,
                )
            )
        body.append("</table>")

    body.append("<h2>Abstract</h2><table>" + _head("", a, b))
    lengths = []
    for length in (d.length_old, d.length_new):
        over = bool(length) and not length.get("within_limit", True)
        css = ' class="over"' if over else ""
        lengths.append(f"<span{css}>{_e(length_text(length))}</span>")
    body.append(_row("Length", *lengths, classes=side))
    for p in d.paragraphs:
        body.append(
            _row(_e(p.where), _marked(p.words, "old"), _marked(p.words, "new"), classes=side)
        )
    body.append("</table>")
    if not d.paragraphs:
        body.append("<p>The text is unchanged.</p>")

    body.append("<h2>Tables</h2>")
    if not d.tables:
        body.append("<p>No table cell changed.</p>")
    for t in d.tables:
        also = ", ".join(f"{doc} Table {n}" for doc, n in t.numbers[1:])
        also = f' <span class="muted">(also {_e(also)})</span>' if also else ""
        body.append(f"<h3>{_e(t.reference)}: {_e(t.title)}{also}</h3>")
        body.append("<table>" + _head("Row", "Column", a, b))
        for c in t.cells:
            body.append(
                _row(_e(c.row), _e(c.column), _e(c.old), _e(c.new), classes=("", "", "old", "new"))
            )
        body.append("</table>")

    body.append("<h2>Inputs</h2>")
    if d.inputs:
        items = "".join(f"<li><code>{_e(n)}</code> {_e(c)}</li>" for n, c in d.inputs)
        body.append(f"<ul>{items}</ul>")
    else:
        body.append("<p>No input file changed.</p>")

    body.append("<h2>results.json</h2>")
    if d.values:
        body.append(f"<details><summary>{len(d.values):,} values changed</summary><table>")
        body.append(_head("Path", a, b))
        for path, x, y in d.values:
            old, new = json.dumps(x, ensure_ascii=False), json.dumps(y, ensure_ascii=False)
            body.append(_row(f"<code>{_e(path)}</code>", _e(old), _e(new), classes=side))
        body.append("</table></details>")
    else:
        body.append("<p>No value changed.</p>")

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>psma-rwe diff {a} → {b}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def check_place(path: Path) -> None:
    """Refuse a target that is a folder, or inside a version (or a build's temporary) folder.

    Parameters
    ----------
    path : Path
        Where ``--html`` is to write.

    Raises
    ------
    PsmaRweError
        ``path`` is a folder, its folder does not exist, or a folder above it holds a
        ``manifest.json`` (a version) or is a build's temporary folder.
    """
    target = Path(path)
    if target.is_dir():
        raise PsmaRweError(f"--html {path}: is a folder; give a file name, e.g. diff.html")
    parent = target.parent.resolve()
    if not parent.is_dir():
        raise PsmaRweError(f"--html {path}: the folder {target.parent} does not exist")
    for folder in (parent, *parent.parents):
        if (folder / MANIFEST).is_file() or folder.name.startswith(TMP_PREFIX):
            raise PsmaRweError(
                f"--html {path}: {folder} is a version folder, which is never written to "
                "after its build; write the page elsewhere"
            )


def write_html(d: VersionDiff, path: Path) -> None:
    """Write :func:`render_html` of ``d`` to ``path`` atomically.

    Parameters
    ----------
    d : VersionDiff
    path : Path
        The page; replaced if it exists (temporary file in the same folder, renamed).

    Raises
    ------
    PsmaRweError
        A place :func:`check_place` refuses, or an OS error while writing (one line).
    """
    check_place(path)
    try:
        write_text_atomic(Path(path), render_html(d))
    except OSError as exc:
        raise PsmaRweError(f"--html {path}: cannot be written: {os_error_message(exc)}") from None
