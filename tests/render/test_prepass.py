"""Unit tests of the shortcode pre-pass, metadata merging and layout settings (no pandoc)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import config
from analysis.errors import PsmaRweError
from analysis.render import layout, project
from analysis.render.shortcodes import ShortcodeExpander, split_front_matter


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "report").mkdir(parents=True)
    (root / "tables").mkdir()
    (root / "tables" / "t.html").write_text(
        "<div id='t'>\n\n<table><tr><td>x</td></tr></table>\n</div>\n"
    )
    (root / "tables" / "note.md").write_text("Note with {{< var a.b >}}.\n")
    return root


def expander(root: Path, variables=None, metadata=None) -> ShortcodeExpander:
    return ShortcodeExpander(root.resolve(), variables or {"a": {"b": "AB"}}, metadata or {})


@pytest.mark.parametrize("path", ["../tables/t.html", "tables/t.html", "/tables/t.html"])
def test_include_paths_relative_to_file_root_or_slash(tree, path):
    out = expander(tree).expand(f"{{{{< include {path} >}}}}\n", tree / "report" / "x.qmd")
    assert out.startswith("\n```{=html}\n<div id='t'>\n\n<table>")
    assert out.endswith("</div>\n```\n\n")


def test_html_include_fence_outlasts_backticks_in_content(tree):
    (tree / "tables" / "t.html").write_text("<pre>````</pre>\n")
    out = expander(tree).expand("{{< include ../tables/t.html >}}\n", tree / "report" / "x.qmd")
    assert "\n`````{=html}\n<pre>````</pre>\n`````\n" in out


def test_markdown_include_is_expanded_recursively(tree):
    exp = expander(tree)
    out = exp.expand('{{< include "../tables/note.md" >}}\n', tree / "report" / "x.qmd")
    assert out == f"Note with {exp.placeholder(0)}.\n"
    assert exp.values == ["AB"]


def test_include_cycle_and_escape_are_errors(tree):
    (tree / "report" / "a.md").write_text("{{< include b.md >}}\n")
    (tree / "report" / "b.md").write_text("{{< include a.md >}}\n")
    with pytest.raises(PsmaRweError, match=r"include cycle: report/x.qmd -> report/a.md"):
        expander(tree).expand("{{< include a.md >}}\n", tree / "report" / "x.qmd")
    with pytest.raises(PsmaRweError, match="outside the project"):
        expander(tree).expand("{{< include ../../etc/passwd >}}\n", tree / "report" / "x.qmd")


def test_var_and_meta_become_placeholders_with_text_values(tree):
    exp = expander(
        tree, {"n": 120, "flag": True, "x": {"y": "<b>"}}, {"title": "T", "list": [1, 2]}
    )
    out = exp.expand(
        "N={{< var n >}} {{< var flag >}} {{< var x.y >}} {{< meta title >}} {{< meta list >}}"
        " again {{< var n >}} `{{< var x.y >}}` {{{< var kept >}}}",
        tree / "report" / "x.qmd",
    )
    tokens = [exp.placeholder(i) for i in range(5)]
    assert out == (
        f"N={tokens[0]} {tokens[1]} {tokens[2]} {tokens[3]} {tokens[4]}"
        f" again {tokens[0]} `{tokens[2]}` {{{{< var kept >}}}}"
    )
    assert exp.values == ["120", "true", "<b>", "T", "1, 2"]


def test_unknown_key_and_shortcode_are_errors(tree):
    with pytest.raises(PsmaRweError, match=r"report/x.qmd: unknown var key 'a.c'"):
        expander(tree).expand("{{< var a.c >}}", tree / "report" / "x.qmd")
    with pytest.raises(PsmaRweError, match="holds a dict"):
        expander(tree).expand("{{< var a >}}", tree / "report" / "x.qmd")
    with pytest.raises(PsmaRweError, match="unsupported shortcode 'video'"):
        expander(tree).expand("{{< video x.mp4 >}}", tree / "report" / "x.qmd")


def test_front_matter_split_keeps_line_numbers():
    yaml_text, body = split_front_matter("---\ntitle: x\n---\nBody\n")
    assert yaml_text == "title: x\n"
    assert body == "\n\n\nBody\n"
    assert split_front_matter("No front matter\n") == (None, "No front matter\n")


def test_metadata_layers_and_authors():
    proj = {
        "project": {"type": "default"},
        "title": "P",
        "toc": False,
        "format": {
            "html": {"toc": True},
            "pdf": {"papersize": "a4"},
            "typst": {"fontsize": "11pt"},
        },
        "authors": [
            {"name": "A", "affiliations": [{"ref": "u"}]},
            {"name": {"given": "B", "family": "C"}, "affiliations": ["Lab", {"ref": "u"}]},
            "D",
        ],
        "affiliations": [{"id": "u", "name": "Uni", "city": "Town"}],
    }
    front = {"title": "Doc", "format": {"html": {"toc": False}}}
    html = project.format_metadata(proj, front, "html")
    assert html["title"] == "Doc" and html["toc"] is False and "project" not in html
    pdf = project.format_metadata(proj, front, "pdf")
    assert pdf["papersize"] == "a4" and pdf["fontsize"] == "11pt" and pdf["toc"] is False
    assert project.shortcode_metadata(proj, front)["title"] == "Doc"
    by_author, by_aff = project.normalize_authors(proj)
    # Quarto's shape (by-author name.literal, affiliations[].number; by-affiliation)
    assert by_author == [
        {"name": {"literal": "A"}, "affiliations": [{"number": 1, "name": "Uni, Town"}]},
        {
            "name": {"literal": "B C"},
            "affiliations": [{"number": 2, "name": "Lab"}, {"number": 1, "name": "Uni, Town"}],
        },
        {"name": {"literal": "D"}, "affiliations": []},
    ]
    assert by_aff == [{"number": 1, "name": "Uni, Town"}, {"number": 2, "name": "Lab"}]


def test_typst_metadata_checked():
    layout.check_typst_metadata({"format-template": "poster", "poster-size": "40x30in"})
    layout.check_typst_metadata({"papersize": "a4", "fontsize": "11pt", "accent-color": "8a1538"})
    with pytest.raises(PsmaRweError, match="poster-columns"):
        layout.check_typst_metadata({"format-template": "poster", "poster-columns": 0})
    with pytest.raises(PsmaRweError, match="format-template"):
        layout.check_typst_metadata({"format-template": "slides"})
    with pytest.raises(PsmaRweError, match="papersize"):
        layout.check_typst_metadata({"papersize": "legal"})
    with pytest.raises(PsmaRweError, match="accent-color"):
        layout.check_typst_metadata({"accent-color": "blue"})


def test_typst_parses_sizes_as_python_does(tmp_path):
    """typst-template.typ parses poster-size and papersize itself (so that
    `quarto render` needs nothing from Python): the same sizes as layout.py."""
    import shutil

    import typst

    # the library imports its other files by their path from the project root
    shutil.copytree(config.PROJECT_DIR / "_extensions", tmp_path / "_extensions")
    lib = (config.PROJECT_DIR / "_extensions/psma-rwe/typst/typst-template.typ").read_text()
    sizes = [*layout.POSTER_SIZES, "40x30in", "100 x 70 cm", "600×800mm"]
    calls = ", ".join(f'poster-size-of("{s}").map(x => x.pt())' for s in sizes)
    doc = tmp_path / "t.typ"
    doc.write_text(
        lib + f"\n#metadata(({calls},)) <sizes>\n"
        '#metadata((paper-of("letter"), paper-of("A4"), paper-of("us-letter"))) <papers>\n',
        encoding="utf-8",
    )
    got = typst.query(str(doc), "<sizes>", field="value", one=True, root=str(tmp_path))
    import json

    got = json.loads(got) if isinstance(got, str) else got
    want = [[layout.length_pt(v) for v in layout.poster_size(s)] for s in sizes]
    assert [x for pair in got for x in pair] == pytest.approx([x for pair in want for x in pair])
    papers = typst.query(str(doc), "<papers>", field="value", one=True)
    papers = json.loads(papers) if isinstance(papers, str) else papers
    assert papers == ["us-letter", "a4", "us-letter"]


def test_poster_layout_and_table_notes():
    assert layout.poster_layout({}) == ("48in", "36in", 4)
    assert layout.poster_layout({"poster-size": "36x48in"}) == ("36in", "48in", 3)
    assert layout.poster_layout({"poster-size": "a0"})[2] == 3  # portrait
    assert layout.poster_layout({"poster-size": "a0", "poster-columns": 2})[2] == 2
    with pytest.raises(PsmaRweError, match="poster-columns: 'four'"):
        layout.poster_layout({"poster-columns": "four"})
    # source notes are left off the poster by default, kept elsewhere
    assert layout.table_notes({"format-template": "poster"}) == "footnotes"
    assert layout.table_notes({}) == "all"
    assert layout.table_notes({"format-template": "poster", "table-notes": "All"}) == "all"
    assert layout.table_notes({"table-notes": "none"}) == "none"
    with pytest.raises(PsmaRweError, match="table-notes: 'some'"):
        layout.table_notes({"table-notes": "some"})


def test_a_nonce_found_in_the_inputs_is_drawn_again(tree, monkeypatch):
    import json

    from analysis.render import pipeline, shortcodes

    first, second = "A" * shortcodes.NONCE_LENGTH, "B" * shortcodes.NONCE_LENGTH
    draws = iter([first, first, first, second])
    monkeypatch.setattr(shortcodes, "new_nonce", lambda: next(draws))
    (tree / "_variables.yml").write_text(f"a: x\nb: QSCX{first}00000XQSC\n")
    (tree / "tables" / "t.html").write_text(f"<p>QSCX{first}00001XQSC</p>\n")
    (tree / "report" / "x.qmd").write_text(
        "{{< var a >}}\n\n{{< include ../tables/t.html >}}\n\n{{< var b >}}\n"
    )
    prep = pipeline.prepare(tree, "report/x.qmd")
    assert prep.expander.nonce == second
    saved = json.loads(prep.values_path.read_text())
    assert saved == {"nonce": second, "values": ["x", f"QSCX{first}00000XQSC"]}
    markdown = prep.md_path.read_text()
    assert f"QSCX{first}00001XQSC" in markdown  # the included text, untouched
    assert markdown.startswith(prep.expander.placeholder(0))


def test_escape_marks_in_included_text_are_not_restored(tree):
    exp = expander(tree)
    (tree / "tables" / "m.md").write_text(
        f"\x00PSMAESC{exp.nonce}0\x00 and \x00PSMA-ESCAPED-0\x00\n"
    )
    out = exp.expand(
        "{{{< var a.b >}}} {{< include ../tables/m.md >}}\n", tree / "report" / "x.qmd"
    )
    assert out.startswith("{{< var a.b >}} ")
    assert "\x00PSMA-ESCAPED-0\x00" in out


def test_svg_scan_is_linear_in_a_long_word():
    import time

    from analysis.render.pipeline import _SVG_REF

    body = "![](../figures/a.svg) /figures/b-c.svg " + "x" * 100_000 + " y.svg"
    start = time.perf_counter()
    assert sorted(set(_SVG_REF.findall(body))) == ["../figures/a.svg", "/figures/b-c.svg", "y.svg"]
    assert time.perf_counter() - start < 1


def test_lua_poster_page_matches_python(tmp_path):
    """filters/layout.lua computes the HTML poster's page (size and type scale) from
    poster-size itself, for Quarto's sake: the same style as layout.poster_page_style."""
    import subprocess

    from analysis.render.pipeline import pandoc_path

    ext = config.PROJECT_DIR / "_extensions" / "psma-rwe"
    template = tmp_path / "t.html"
    template.write_text("$psma-template$|$psma-poster-page$\n", encoding="utf-8")
    sizes = [*layout.POSTER_SIZES, "40x30in", "100 x 70 cm", "600×800mm"]
    for size in sizes:
        meta = {"format-template": "poster", "poster-size": size}
        proc = subprocess.run(
            [
                pandoc_path(),
                "--from=markdown",
                "--to=html",
                f"--template={template}",
                f"--lua-filter={ext / 'filters' / 'layout.lua'}",
                "--metadata=format-template:poster",
                f"--metadata=poster-size:{size}",
            ],
            input="text\n",
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert proc.stdout.strip() == f"poster|{layout.poster_page_style(meta)}", size
