"""The article's table floats (typst-template.typ): float when they fit, flow when not.

A great-tables table and its notes come from filters/gt-tables.lua as one
``#article-float[...]``.  At the top level of the body, ``float-order`` decides
from the height it measured for packing the pages; inside a div, the show rule
of ``article-tables`` measures the table itself.  Both places are checked here
on a small Typst document using the extension's library, read from its text:
at the top level a short table floats to the top of its page (above the
paragraph before it), and a table taller than a page stays in the flow (after
that paragraph) and breaks over the pages.
"""

from __future__ import annotations

import io
import shutil

import pytest

from analysis import config

typst = pytest.importorskip("typst")
pypdf = pytest.importorskip("pypdf")

LIBRARY = config.PROJECT_DIR / "_extensions/psma-rwe/typst/typst-template.typ"


def short_table(word: str) -> str:
    return f"#table(columns: 2, [{word}], [1])"


def tall_table(word: str) -> str:
    rows = ", ".join(f"[{word} {i}], [{i}]" for i in range(70))
    return f"#table(columns: 2, {rows})"


def page_texts(tmp_path, body: str) -> list[str]:
    # the library imports its other files by their path from the project root
    shutil.copytree(config.PROJECT_DIR / "_extensions", tmp_path / "_extensions")
    doc = tmp_path / "t.typ"
    doc.write_text(
        LIBRARY.read_text(encoding="utf-8") + "\n#show: article.with(title: [Floats])\n" + body,
        encoding="utf-8",
    )
    pdf = typst.compile(str(doc), root=str(tmp_path))
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_top_level_tables_float_when_they_fit_and_flow_when_not(tmp_path):
    pages = page_texts(
        tmp_path,
        "= One\n\nParagraph one.\n\n"
        f"#article-float[{short_table('Shortrow')}]\n\n"
        "= Two\n\nParagraph two.\n\n"
        f"#article-float[{tall_table('Tallrow')}]\n",
    )
    first = pages[0]
    # the short table floats to the top of page 1, above the text before it
    assert first.index("Shortrow") < first.index("Paragraph one.")
    # the tall one is in the flow: after its paragraph, running over the pages
    assert first.index("Paragraph two.") < first.index("Tallrow 0")
    assert "Tallrow 69" in "".join(pages[1:])


def test_a_table_inside_a_div_is_measured_by_the_show_rule(tmp_path):
    """float-order only sees the body's top level; a table in a div (a block) is
    decided by article-tables' show rule.  A float stays inside its block, so
    the short table keeps its place in the text; the tall one is in the flow
    and breaks over the pages (a float taller than a page would be cut off)."""
    pages = page_texts(
        tmp_path,
        "= One\n\nParagraph one.\n\n"
        f"#block[#article-float[{short_table('Shortrow')}]]\n\n"
        "Paragraph two.\n\n"
        f"#block[#article-float[{tall_table('Tallrow')}]]\n",
    )
    text = "".join(pages)
    assert text.count("Shortrow") == 1
    assert text.index("Paragraph one.") < text.index("Shortrow") < text.index("Paragraph two.")
    assert len(pages) > 1 and "Tallrow 69" in "".join(pages[1:])
