"""Markdown wrappers of the HTML fragments the documents include.

``{{< include x.html >}}`` pastes the file into the markdown under ``quarto
render``, where pandoc then parses the HTML as markdown: a great-tables
fragment falls apart into loose text.  The documents therefore include
``x.md``: the fragment in a fenced raw HTML block (```` ```{=html} ````),
which both renderers keep as one raw block and which filters/gt-tables.lua
turns into each format's table.  The wrappers are written next to the
fragments in the folder that is rendered (never into a version folder).

A fragment that holds a script (an interactive figure and its Vega runtime)
is marked with Quarto's documented opt-out comment (``<!--|
quarto-html-table-processing: none -->``): its JavaScript mentions
``<table``, which Quarto would otherwise try to parse as a table for Typst.
"""

from __future__ import annotations

import re
from pathlib import Path

from analysis.files import write_text_atomic


def fenced_html(content: str) -> str:
    """``content`` as a fenced raw HTML block, the fence longer than any backtick run in it."""
    if not content.endswith("\n"):
        content += "\n"
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{content}{fence}\n"


#: Quarto leaves a raw HTML block holding this comment alone (no table parsing).
NO_TABLE_PROCESSING = "<!--| quarto-html-table-processing: none -->\n"


def write_wrappers(folder: Path) -> list[Path]:
    """Write ``<name>.md`` beside every ``<name>.html`` in ``folder``; returns the paths."""
    written = []
    for html in sorted(Path(folder).glob("*.html")):
        md = html.with_suffix(".md")
        content = html.read_text(encoding="utf-8")
        if "<script" in content:
            content = NO_TABLE_PROCESSING + content
        write_text_atomic(md, fenced_html(content))
        written.append(md)
    return written
