"""The reports of ``psma-rwe diff``: the terminal view and the JSON document.

:func:`text_report` leads with what a team re-submitting an abstract needs:
the numbers of the abstract and poster as displayed, the generated sentences
word by word, the abstract's changed paragraphs and its length against the
limit, the tables' changed cells (at most :data:`CELLS_SHOWN` per table), the
input files, and a count of the changed values of ``results.json``; ``full``
(``--all``) lists every table cell and every value (exact).
:func:`json_report` is the ``--format json`` document.

JSON document (``--format json``; always complete, whatever ``--all``)
----------------------------------------------------------------------
``format``
    ``"psma-rwe-diff/1"``.
``old``, ``new``
    ``{"label": folder name, "path": folder}``.
``identical``
    true when nothing below differs.
``numbers``
    ``{"source": "variables" | "manifest summary" | "none", "note": str,
    "changed": [{"label", "keys", "documents", "kind", "old", "new"}]}``:
    ``kind`` is ``"number"`` or ``"text"``; ``old``/``new`` are the displayed
    strings (``null`` where absent); ``documents`` lists ``"abstract"``,
    ``"poster"``.
``abstract``
    ``{"changed": bool, "length": {"old": {...} | null, "new": {...} | null},
    "paragraphs": [{"where", "old", "new", "words": [[op, text], ...]}]}``;
    ``op`` is ``"="``, ``"-"`` or ``"+"``; a length is the manifest's
    ``abstract_length`` (``count``, ``limit``, ``rule``, ``within_limit``, ...).
``tables``
    ``[{"name", "title", "numbers": {"abstract": 1, ...}, "cells": [{"row",
    "column", "old", "new"}]}]``; ``old``/``new`` ``null`` for a row or
    column that is new or gone; ``row`` is ``"(column header)"`` or
    ``"(note)"`` for those.
``inputs``
    ``[{"name", "change"}]``, ``change`` one of ``added``, ``removed``, ``changed``.
``results``
    ``{"changed": n, "values": [{"path", "old", "new"}]}``, exact values.
"""

from __future__ import annotations

from analysis.diff import SHOWN_IN, VersionDiff, word_diff

#: Table cells listed per table without ``full`` (``--all``): tables of the abstract or
#: poster, and tables of the supplement only.
CELLS_SHOWN = (6, 2)
#: Words kept on each side of a change when a sentence is shortened.
CONTEXT_WORDS = 4


def shorten(words: tuple[tuple[str, str], ...], context: int = CONTEXT_WORDS):
    """``words`` with long unchanged runs cut to ``context`` words around each change.

    Parameters
    ----------
    words : tuple of (str, str)
        A :func:`~analysis.diff.word_diff`.
    context : int
        Words kept on each side of a change; the rest of a run is ``…``.

    Returns
    -------
    tuple of (str, str)
    """
    out = []
    last = len(words) - 1
    for i, (op, text) in enumerate(words):
        parts = text.split(" ")
        if op != "=" or len(parts) <= 2 * context:
            out.append((op, text))
            continue
        head = parts[:context] if i > 0 else []
        tail = parts[-context:] if i < last else []
        kept = [*head, "…", *tail] if head or tail else ["…"]
        out.append(("=", " ".join(kept)))
    return tuple(out)


#: A line of the terminal report: ``(text, style)`` runs; style "", "bold", "red", "green", "dim".
Line = list[tuple[str, str]]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _side(value: str | None) -> str:
    return "(none)" if value is None else value


def _marked(words) -> Line:
    out: Line = []
    for op, text in words:
        if out:
            out.append((" ", ""))
        if op == "=":
            out.append((text, ""))
        else:
            out.append(
                (f"[-{text}-]" if op == "-" else f"{{+{text}+}}", "red" if op == "-" else "green")
            )
    return out


def length_text(length: dict | None) -> str:
    """A manifest's ``abstract_length`` as a phrase.

    Parameters
    ----------
    length : dict or None

    Returns
    -------
    str
        ``1,850 characters excluding spaces of 2,000 (within the limit)``, or
        ``not recorded``.
    """
    if not length:
        return "not recorded"
    try:
        over = length["count"] - length["limit"]
        state = "within the limit" if over <= 0 else f"OVER the limit by {over:,}"
        return f"{length['count']:,} {length['rule_label']} of {length['limit']:,} ({state})"
    except (KeyError, TypeError):
        return "not recorded"


def _length_line(d: VersionDiff) -> Line:
    a, b = d.length_old, d.length_new
    over = bool(b) and not b.get("within_limit", True)
    style = "red" if over else ""
    if a == b:
        return [("Length: ", "bold"), (f"{length_text(b)}, unchanged", style)]
    same = ("rule_label", "limit")
    if a and b and all(a.get(k) == b.get(k) for k in same) and length_text(b) != "not recorded":
        over_by = b["count"] - b["limit"]
        state = "within" if over_by <= 0 else f"OVER by {over_by:,}"
        text = f"{a['count']:,} → {b['count']:,} {b['rule_label']}, limit {b['limit']:,} ({state})"
        return [("Length: ", "bold"), (text, style)]
    return [("Length: ", "bold"), (f"{length_text(a)} → {length_text(b)}", style)]


def text_report(d: VersionDiff, full: bool = False) -> list[Line]:
    """The terminal report, section by section (see the module docstring).

    Parameters
    ----------
    d : VersionDiff
    full : bool
        ``--all``: every table cell, every paragraph line, and every changed value of
        ``results.json`` (exact), not only their counts.

    Returns
    -------
    list of Line
        One entry per printed line (an empty list is an empty line).
    """
    head = f"{d.old.name} → {d.new.name}"
    if d.identical:
        return [
            [(head, "bold"), (": no changes", "")],
            [
                (
                    "  same inputs; the numbers of the abstract and poster, the abstract, the"
                    " tables and results.json are identical",
                    "dim",
                )
            ],
        ]
    out: list[Line] = [[(head, "bold")]]
    numbers = [s for s in d.shown if s.kind == "number"]
    texts = [s for s in d.shown if s.kind == "text"]
    out.append([])
    out.append([("Numbers in the abstract and poster", "bold"), (f": {len(numbers)} changed", "")])
    if d.shown_note:
        out.append([(f"  ({d.shown_note})", "dim")])
    for s in numbers:
        out.append(
            [
                (f"  {s.label}: ", ""),
                (_side(s.old), "red"),
                (" → ", ""),
                (_side(s.new), "green"),
                (f"  ({', '.join(s.documents)})", "dim"),
            ]
        )
    if texts:
        out.append(
            [("Sentences in the abstract and poster", "bold"), (f": {len(texts)} changed", "")]
        )
    for s in texts:
        words = word_diff(s.old or "", s.new or "")
        out.append([(f"  {s.label} ({', '.join(s.documents)}): ", ""), *_marked(shorten(words))])
    out.append([])
    changed = f": {_plural(len(d.paragraphs), 'paragraph')} changed" if d.paragraphs else ""
    out.append([("Abstract", "bold"), (changed or ": text unchanged", "")])
    out.append([("  ", ""), *_length_line(d)])
    table_rows: dict[str, int] = {}
    for p in d.paragraphs:
        if not full and p.where.startswith("Table "):  # its cells are under Tables
            table_rows[p.where] = table_rows.get(p.where, 0) + 1
            if table_rows[p.where] > 1:
                continue
        out.append([(f"  {p.where}: ", ""), *_marked(shorten(p.words))])
    for where, n in table_rows.items():
        if n > 1:
            out.append(
                [(f"  {where}: {n - 1:,} more lines changed (its cells are under Tables)", "dim")]
            )
    out.append([])
    n_cells = sum(len(t.cells) for t in d.tables)
    out.append(
        [("Tables", "bold"), (f": {len(d.tables)} changed, {_plural(n_cells, 'cell')}", "")]
        if d.tables
        else [("Tables", "bold"), (": unchanged", "")]
    )
    for t in d.tables:
        also = [f"{doc} Table {n}" for doc, n in t.numbers[1:]]
        on_show = any(doc in SHOWN_IN for doc, _ in t.numbers)
        shown = t.cells if full else t.cells[: CELLS_SHOWN[0 if on_show else 1]]
        more = f"; {len(shown)} shown, --all lists every one" if len(shown) < len(t.cells) else ""
        out.append(
            [
                (f"  {t.reference}", "bold"),
                (f" (also {', '.join(also)})" if also else "", ""),
                (f": {t.title}", ""),
                (f"  [{_plural(len(t.cells), 'cell')} changed{more}]", "dim"),
            ]
        )
        for c in shown:
            if c.row == "(column header)":
                where = f"{t.reference}, column header"
            elif c.row == "(note)":
                where = f"{t.reference}, note {c.column}"
            else:
                where = f"{t.reference}, row {c.row}, column {c.column}"
            out.append(
                [
                    (f"    {where}: ", ""),
                    (_side(c.old), "red"),
                    (" → ", ""),
                    (_side(c.new), "green"),
                ]
            )
    out.append([])
    out.append([("Inputs", "bold"), ("" if d.inputs else ": none changed", "")])
    for name, change in d.inputs:
        out.append([(f"  {name} {change}", "")])
    out.append([])
    listed = "" if full or not d.values else " (--all lists every one)"
    out.append(
        [("results.json", "bold"), (f": {_plural(len(d.values), 'value')} changed{listed}", "")]
    )
    if full:
        for path, x, y in d.values:
            out.append([(f"  {path}: ", ""), (repr(x), "red"), (" → ", ""), (repr(y), "green")])
    return out


def json_report(d: VersionDiff) -> dict:
    """The ``--format json`` document.

    Parameters
    ----------
    d : VersionDiff

    Returns
    -------
    dict
        JSON-serializable, with the keys listed in the module docstring; always
        complete (every cell and value, whatever ``--all``).
    """
    return {
        "format": "psma-rwe-diff/1",
        "old": {"label": d.old.name, "path": str(d.old)},
        "new": {"label": d.new.name, "path": str(d.new)},
        "identical": d.identical,
        "numbers": {
            "source": d.shown_source,
            "note": d.shown_note,
            "changed": [
                {
                    "label": s.label,
                    "keys": list(s.keys),
                    "documents": list(s.documents),
                    "kind": s.kind,
                    "old": s.old,
                    "new": s.new,
                }
                for s in d.shown
            ],
        },
        "abstract": {
            "changed": bool(d.paragraphs),
            "length": {"old": d.length_old, "new": d.length_new},
            "paragraphs": [
                {"where": p.where, "old": p.old, "new": p.new, "words": [list(w) for w in p.words]}
                for p in d.paragraphs
            ],
        },
        "tables": [
            {
                "name": t.name,
                "title": t.title,
                "numbers": dict(t.numbers),
                "cells": [
                    {"row": c.row, "column": c.column, "old": c.old, "new": c.new} for c in t.cells
                ],
            }
            for t in d.tables
        ],
        "inputs": [{"name": n, "change": c} for n, c in d.inputs],
        "results": {
            "changed": len(d.values),
            "values": [{"path": p, "old": x, "new": y} for p, x, y in d.values],
        },
    }
