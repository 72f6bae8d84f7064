"""The cells of the great-tables fragments of a version, for ``psma-rwe diff``.

A version holds every table as the HTML fragment its documents include
(``tables/<name>.html``).  :func:`read_table` turns one into its displayed text:
the title, the column headers (keyed by their ``id``, which does not change when
a header's text does, e.g. ``PSA50 responders, N = 8``), the rows (keyed by
their stub, indented rows under the row above them) and the notes below it.
:func:`table_numbers` finds which table of which document a fragment is
("Table 2" of the poster) from the rendered HTML documents.  Both read only
the standard library's HTML parser: no rendering, no network.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

#: The first ``<div id="gt-...">`` of a fragment: its id in the documents.
_FRAGMENT_ID = re.compile(r'<div id="(gt-[^"]+)"')
_FLOAT = re.compile(r'<div id="tbl-[^"]*" class="table-float">')
_LABEL = re.compile(r'<span class="crossref-label">Table\s*(\d+)[:.]?</span>(.*?)</p>', re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """``text`` with every run of white space (no-break spaces too) one space, stripped."""
    return _SPACE.sub(" ", text.replace("\xa0", " ")).strip()


@dataclass(frozen=True)
class Table:
    """One table as displayed.

    Attributes
    ----------
    title : str
        The table's title (``gt_title``), or ``""``.
    stub_head : str
        Header of the stub column (``After dose``), or ``""``.
    headers : dict
        ``{header id: text}`` of every column header and spanner.
    rows : tuple
        ``(row key, row label, {column key: cell text})`` in table order; a column
        key is the tuple of the header ids of the cell.
    notes : tuple
        Text of each footnote and source note.
    """

    title: str
    stub_head: str
    headers: dict[str, str]
    rows: tuple[tuple[str, str, dict[tuple[str, ...], str]], ...]
    notes: tuple[str, ...]

    def column_label(self, key: tuple[str, ...]) -> str:
        """``Spanner › Column`` for a column key."""
        return " › ".join(self.headers.get(k, k) for k in key if self.headers.get(k, k))


class _Parser(HTMLParser):
    """Collects headers, body cells and notes of one great-tables fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.headers: dict[str, str] = {}
        self.header_order: list[str] = []
        self.rows: list[tuple[str, str, str, list[tuple[tuple[str, ...], str]]]] = []
        self.notes: list[str] = []
        self.group = ""
        self._part = ""  # thead, tbody, tfoot
        self._cell: dict | None = None
        self._skip = 0  # inside a footnote mark
        self._row: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "sup" and "gt_footnote_marks" in classes:
            self._skip += 1
        elif tag == "tr" and self._part == "tbody":
            self._row = ["", "", []]  # stub id, stub text, cells
        elif tag in ("th", "td"):
            self._cell = {"tag": tag, "attrs": a, "classes": classes, "text": []}
        elif self._skip and tag == "sup":
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "sup" and self._skip:
            self._skip -= 1
        elif tag in ("th", "td") and self._cell is not None:
            self._close_cell()
        elif tag == "tr" and self._row is not None:
            stub_id, stub, cells = self._row
            if stub or cells:
                self.rows.append((self.group, stub_id, stub, cells))
            self._row = None

    def handle_data(self, data):
        if self._cell is not None and not self._skip:
            self._cell["text"].append(data)

    def _close_cell(self) -> None:
        cell, self._cell = self._cell, None
        raw = "".join(cell["text"])
        text, attrs, classes = clean(raw), cell["attrs"], cell["classes"]
        if self._part == "thead":
            if "gt_title" in classes:
                self.title = text
            elif cell["tag"] == "th" and attrs.get("id"):
                self.headers[attrs["id"]] = text
                self.header_order.append(attrs["id"])
        elif self._part == "tbody":
            if "gt_group_heading" in classes:
                self.group = text
            elif self._row is not None and cell["tag"] == "th" and attrs.get("scope") == "row":
                indent = raw[: len(raw) - len(raw.lstrip())]
                self._row[0] = attrs.get("id", "")
                self._row[1] = ("\t" if indent else "") + text
            elif self._row is not None:
                ids = tuple((attrs.get("headers") or "").split())
                self._row[2].append((ids, text))
        elif self._part == "tfoot" and text:
            self.notes.append(text)


def read_table(fragment: str) -> Table:
    """The displayed text of a great-tables HTML fragment.

    Parameters
    ----------
    fragment : str
        ``tables/<name>.html`` of a version.

    Returns
    -------
    Table
        Rows keyed by their stub: an indented row (great-tables' no-break spaces) is
        ``Parent › row``, a row of a row group ``Group › row``, a numeric stub
        ``<stub head> n`` (``After dose 2``); a repeated key gets `` (2)``.
    """
    parser = _Parser()
    parser.feed(fragment)
    parser.close()
    used = {i for _, _, _, cells in parser.rows for ids, _ in cells for i in ids}
    stub_head = next((parser.headers[i] for i in parser.header_order if i not in used), "")
    rows, seen, parent = [], {}, ""
    for group, stub_id, stub, cells in parser.rows:
        columns = [(tuple(i for i in ids if i != stub_id), text) for ids, text in cells]
        if not stub and columns:  # no stub column: the first cell names the row
            stub, columns = columns[0][1], columns[1:]
        child = stub.startswith("\t")
        stub = stub.lstrip("\t")
        if not child:
            parent = stub
        label = f"{stub_head} {stub}" if stub_head and stub.isdigit() else stub
        if child and parent:
            label = f"{parent} › {label}"
        if group:
            label = f"{group} › {label}"
        seen[label] = seen.get(label, 0) + 1
        key = label if seen[label] == 1 else f"{label} ({seen[label]})"
        rows.append((key, key, {ids or (str(n),): text for n, (ids, text) in enumerate(columns)}))
    return Table(parser.title, stub_head, dict(parser.headers), tuple(rows), tuple(parser.notes))


def fragment_id(fragment: str) -> str | None:
    """The ``gt-...`` id a fragment carries into the documents."""
    m = _FRAGMENT_ID.search(fragment)
    return m.group(1) if m else None


def table_numbers(document_html: str) -> dict[str, tuple[int, str]]:
    """The tables of a rendered HTML document, by fragment.

    Parameters
    ----------
    document_html : str
        ``abstract.html``, ``poster.html`` or ``supplement.html`` of a version.

    Returns
    -------
    dict
        ``{fragment id: (table number, caption)}``, read from the cross-reference
        labels ("Table 2: ...") of the document's table floats; empty for a
        document rendered without them.
    """
    out: dict[str, tuple[int, str]] = {}
    starts = [m.start() for m in _FLOAT.finditer(document_html)]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(document_html)
        part = document_html[start:end]
        label, gt = _LABEL.search(part), _FRAGMENT_ID.search(part)
        if label and gt and gt.group(1) not in out:
            caption = clean(html.unescape(_TAG.sub("", label.group(2))))
            out[gt.group(1)] = (int(label.group(1)), caption)
    return out


def read_tables(version: Path) -> dict[str, tuple[str, Table]]:
    """Every table of a version.

    Parameters
    ----------
    version : Path

    Returns
    -------
    dict
        ``{name: (fragment id, Table)}`` of every ``tables/<name>.html``.
    """
    out = {}
    folder = version / "tables"
    for path in sorted(folder.glob("*.html")) if folder.is_dir() else ():
        text = path.read_bytes().decode("utf-8", errors="replace")
        out[path.stem] = (fragment_id(text) or f"gt-{path.stem}", read_table(text))
    return out
