"""filters/citations.lua: a citation's items in number order, without the style's sort.

The project's styles collapse citation numbers but have no ``<sort>`` in their
citation (pandoc's citeproc would start a Unicode collator for it, about 65 ms
a render): the filter puts each citation's items in the order of their first
citation.  Each case here is rendered twice, with the style as CSL would
write it (the sort put back, no filter) and as the project renders it (the
style as it is, with the filter); the pages must be the same.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from analysis.config import REPORT_DIR
from analysis.render.extension import bundled_dir
from analysis.render.pipeline import pandoc_path

FILTER = bundled_dir() / "filters" / "citations.lua"
STYLES = ("psma-rwe.csl", "psma-rwe-poster.csl")
SORT = '\n    <sort>\n      <key variable="citation-number"/>\n    </sort>'
_CITATION_TAG = re.compile(r'<citation collapse="citation-number">')

#: Six books, a to f.
REFERENCES = "references:\n" + "".join(
    f"- id: {k}\n  type: book\n  title: Title {k.upper()}\n"
    f"  author: [{{family: Author{k.upper()}, given: Ann}}]\n"
    f"  issued: {{date-parts: [[20{10 + i}]]}}\n"
    for i, k in enumerate("abcdef")
)

#: Citations whose written order is not their number order, in the places
#: citeproc numbers them from: the metadata (first), the text, a footnote, a
#: table, a caption; with locators, prefixes and a suppressed author.
CASES = {
    "new items": "First [@c; @a].\n",
    "an old item after new ones": "See [@b], then [@a; @b].\n",
    "mixed": "[@a] [@c] and [@d; @b; @a]; all [@a; @b; @c; @d]; back [@d; @c; @b].\n",
    "metadata first": '---\nabstract: "Intro [@f] and [@e; @f]."\n---\nBody [@a; @e; @f].\n',
    "footnote": "Text [@c].^[See @e and [@f; @c].] After [@f; @a].\n",
    "table and caption": (
        "[@b] and [@a].\n\n| x |\n|---|\n| [@e; @b] |\n\n![Caption [@d; @a]](x.png)\n"
    ),
    "prefix and suffix": "[@b] [@c] [see @c; @a; @b] and [@c; @a, and others; @b].\n",
    "locators": "[@b] [@c] [@c, p. 3; @a, pp. 4\u20135; @b, chap. 1] [@c, 12; @a].\n",
    "locator then text": "[@b] [@c] [@c, p. 3 and passim; @a; @b].\n",
    "suppressed author": "[@b] [-@c; @a; @b].\n",
    "unknown item": "[@zzz] [@b] [@a; @zzz; @b].\n",
}


def _style(name: str, folder: Path, sort: bool) -> Path:
    text = (REPORT_DIR / name).read_text(encoding="utf-8")
    if sort:
        text, n = _CITATION_TAG.subn(lambda m: m.group(0) + SORT, text)
        assert n == 1, f"{name}: no <citation collapse=...> to put the sort in"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "style.csl"  # one name: Word keeps it among its properties
    target.write_text(text, encoding="utf-8")
    return target


def _render(folder: Path, text: str, fmt: str, *, filtered: bool) -> str:
    (folder / "refs.yaml").write_text(REFERENCES, encoding="utf-8")
    (folder / "doc.md").write_text(text, encoding="utf-8")
    out = folder / f"doc.{fmt}"
    args = [
        pandoc_path(),
        "doc.md",
        "--metadata-file=refs.yaml",
        "--metadata=csl:style.csl",
        *([f"--lua-filter={FILTER}"] if filtered else []),
        "--citeproc",
        f"--to={fmt}",
        "--standalone",
        "--wrap=none",
        f"--output={out.name}",
    ]
    subprocess.run(args, cwd=folder, check=True, capture_output=True)
    if fmt == "docx":
        with zipfile.ZipFile(out) as z:
            return z.read("word/document.xml").decode("utf-8")
    page = out.read_text(encoding="utf-8")
    # the HTML writer lists a citation's keys in its data-cites, in the order of
    # the items: the filter's order (the numbers' order), not the written one
    return re.sub(r'\s+data-cites="[^"]*"', "", page)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", ["html", "typst", "docx"])
def test_the_filter_orders_citations_as_the_styles_sort_would(tmp_path, style, case, fmt):
    _style(style, tmp_path / "sorted", sort=True)
    _style(style, tmp_path / "project", sort=False)
    expected = _render(tmp_path / "sorted", CASES[case], fmt, filtered=False)
    assert _render(tmp_path / "project", CASES[case], fmt, filtered=True) == expected


@pytest.mark.parametrize("style", STYLES)
def test_without_the_filter_the_numbers_would_come_as_written(tmp_path, style):
    """The check above can fail: the project's style alone prints "3,4,1"."""
    text = CASES["mixed"]
    _style(style, tmp_path / "sorted", sort=True)
    _style(style, tmp_path / "project", sort=False)
    sorted_page = _render(tmp_path / "sorted", text, "html", filtered=False)
    bare_page = _render(tmp_path / "project", text, "html", filtered=False)
    assert "<sup>1,3,4</sup>" in sorted_page  # [@d; @b; @a]: a 1, c 2, d 3, b 4
    assert "<sup>3,4,1</sup>" in bare_page


AUTHOR_DATE = """<?xml version="1.0" encoding="utf-8"?>
<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">
  <info><title>Names</title><id>names</id><updated>2026-01-01T00:00:00+00:00</updated></info>
  <citation>
    <layout prefix="(" suffix=")" delimiter="; ">
      <names variable="author"><name form="short"/></names>
    </layout>
  </citation>
  <bibliography><layout><names variable="author"/></layout></bibliography>
</style>
"""


def test_a_style_that_does_not_collapse_numbers_keeps_the_written_order(tmp_path):
    """An author-date style (no collapse="citation-number"): the filter changes nothing."""
    (tmp_path / "style.csl").write_text(AUTHOR_DATE, encoding="utf-8")
    page = _render(tmp_path, "See [@c] and [@b; @c; @a].\n", "html", filtered=True)
    assert "(AuthorB; AuthorC; AuthorA)" in page


@pytest.mark.parametrize("style", STYLES)
def test_the_project_styles_leave_the_order_to_the_filter(style):
    """No <sort> in their citation (it would cost each render the collator's start)."""
    text = (REPORT_DIR / style).read_text(encoding="utf-8")
    citation = re.search(r"<citation[\s>].*?</citation>", text, re.S)
    assert citation and 'collapse="citation-number"' in citation.group(0)
    assert "<sort>" not in citation.group(0)
