"""The Vega runtime is set aside while pandoc writes the HTML, and put back after.

pandoc's ``--embed-resources`` parses the HTML it wrote once more; 0.9 MB of
JavaScript in it took 0.8 s of the supplement's 1.8 s.  The runtime's code goes
round pandoc instead: the HTML is byte for byte the one pandoc writes with the
code inside (checked here against pandoc run on the whole markdown).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.errors import PsmaRweError
from analysis.render import pipeline, render_document

#: A stand-in for the runtime: characters pandoc would mangle if it touched them,
#: an escaped end tag (the bundle escapes its own), and a long line.
CODE = (
    "var psmaRuntime = {lt: '<', amp: '&amp;', quote: \"'\", end: '<\\/script>'};\n"
    + "/* "
    + "x" * 20000
    + " */"
)


def with_runtime(project) -> None:
    (project / "figures" / "vega-runtime.md").write_text(
        f'```{{=html}}\n<script id="vega-runtime">\n{CODE}\n</script>\n```\n', encoding="utf-8"
    )
    article = project / "report" / "article.qmd"
    text = article.read_text(encoding="utf-8")
    article.write_text(
        text + '\n::: {.content-visible when-format="html"}\n'
        "{{< include ../figures/vega-runtime.md >}}\n:::\n",
        encoding="utf-8",
    )


def test_the_runtime_goes_round_pandoc_and_comes_back_unchanged(project, tmp_path, monkeypatch):
    with_runtime(project)
    seen = []
    run = pipeline._run_pandoc

    def spy(args, cwd, env, what):
        seen.append(args[0])
        return run(args, cwd, env, what)

    monkeypatch.setattr(pipeline, "_run_pandoc", spy)
    html = render_document(project, "report/article.qmd", tmp_path / "aside", ["html"])["html"]
    text = html.read_text(encoding="utf-8")
    assert text.count(f'<script id="vega-runtime">\n{CODE}\n</script>') == 1
    assert "RUNTIMEXQSC" not in text
    # pandoc read the markdown without the code
    (given,) = seen
    assert given.endswith("article.html.md")
    assert CODE not in Path(given).read_text(encoding="utf-8")

    # the same bytes as with the code left in pandoc's input
    monkeypatch.setattr(pipeline, "_runtime_aside", lambda prep: None)
    whole = render_document(project, "report/article.qmd", tmp_path / "whole", ["html"])["html"]
    assert seen[-1].endswith("article.md")
    assert whole.read_bytes() == html.read_bytes()


def test_a_missing_marker_is_an_error(tmp_path):
    html = tmp_path / "x.html"
    html.write_text("<p>no marker</p>", encoding="utf-8")
    with pytest.raises(PsmaRweError, match="Vega runtime"):
        pipeline._runtime_back(html, "QSCXabcRUNTIMEXQSC", CODE)
