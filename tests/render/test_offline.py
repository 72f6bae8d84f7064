"""An HTML page's own files placed in it (analysis/render/offline.py), and the
fall-back to pandoc's --embed-resources for what that cannot place."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from analysis.errors import PsmaRweError
from analysis.render import offline, pipeline, render_document

CHART = (
    '<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="40" height="20" '
    'viewBox="0 0 40 20"><text font-family="Lato">&lt;b&gt; &amp; 5</text></svg>'
)
CSS = "/* the page */\nbody {\n  color: #222;\n}\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def page(tmp_path: Path, body: str, head: str = '<link rel="stylesheet" href="css/s.css">') -> Path:
    (tmp_path / "css").mkdir(exist_ok=True)
    (tmp_path / "css" / "s.css").write_text(CSS, encoding="utf-8")
    (tmp_path / "figures").mkdir(exist_ok=True)
    (tmp_path / "figures" / "c.svg").write_text(CHART, encoding="utf-8")
    html = tmp_path / "out.html"
    html.write_text(f"<html><head>\n{head}\n</head><body>\n{body}\n</body></html>\n")
    return html


def test_the_stylesheet_and_a_chart_are_placed_in_the_page(tmp_path):
    html = page(
        tmp_path, '<p>a</p>\n<img src="figures/c.svg"\nalt="PSA &amp; dose &lt;1&gt;" />\n<p>b</p>'
    )
    assert offline.place_local(html, [tmp_path])
    assert html.read_text() == (
        '<html><head>\n<style type="text/css">\n/* the page */\nbody {\n  color: #222;\n}\n'
        "</style>\n</head><body>\n<p>a</p>\n"
        '<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="40" height="20" '
        'viewBox="0 0 40 20" role="img" aria-label="PSA &amp; dose &lt;1&gt;">'
        '<text font-family="Lato">&lt;b&gt; &amp; 5</text></svg>\n<p>b</p>\n</body></html>\n'
    )
    assert offline.loads(html.read_text()) == []


def test_a_relative_url_is_looked_up_in_each_folder_in_turn(tmp_path):
    html = page(tmp_path, '<img src="c.svg" alt="x">', head="")
    assert not offline.place_local(html, [tmp_path / "css", tmp_path])  # c.svg: nowhere
    assert offline.place_local(html, [tmp_path / "css", tmp_path / "figures"])
    assert "<svg" in html.read_text()


@pytest.mark.parametrize(
    ("body", "head"),
    [
        ('<img src="figures/p.png" alt="a photograph">', ""),  # not an SVG
        ('<img src="figures/plain.svg" alt="not vl-convert">', ""),
        ('<img src="figures/missing.svg" alt="x">', ""),
        ('<video src="figures/c.svg"></video>', ""),
        ('<div style="background: url(figures/p.png)">x</div>', ""),
        ("<style>@import 'css/s.css';</style>", ""),
        ("", '<link rel="stylesheet" href="css/s.css" media="print">'),
        ("", '<link rel="stylesheet" href="css/u.css">'),  # its CSS loads a file
        ("", '<link rel="icon" href="figures/p.png">'),
        ("", '<script src="css/s.js"></script>'),
    ],
)
def test_a_page_naming_anything_else_of_its_own_is_left_as_it_was(tmp_path, body, head):
    html = page(tmp_path, body + '\n<img src="figures/c.svg" alt="x">', head)
    (tmp_path / "figures" / "p.png").write_bytes(PNG)
    (tmp_path / "figures" / "plain.svg").write_text(CHART.replace(' class="marks"', ""))
    (tmp_path / "css" / "u.css").write_text("body { background: url(../figures/p.png); }")
    (tmp_path / "css" / "s.js").write_text("1;")
    before = html.read_bytes()
    assert not offline.place_local(html, [tmp_path])
    assert html.read_bytes() == before


def test_data_urls_and_places_in_the_page_and_remote_urls_are_not_files_of_the_page(tmp_path):
    body = (
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">\n<a href="#top">top</a>\n'
        '<img src="https://example.org/x.svg" alt="remote">'
    )
    html = page(tmp_path, body, head="")
    assert offline.place_local(html, [tmp_path])  # nothing of its own to place
    with pytest.raises(
        PsmaRweError, match=r"out\.html would load a resource from the network: line 6"
    ):
        offline.check_offline(html)


def test_every_load_is_found_with_its_place(tmp_path):
    text = '<p>x</p><img src="a.svg"\n alt="y"><style>p { background: url("b.png") }</style>'
    found = offline.loads(text)
    assert [(ld.tag, ld.url) for ld in found] == [("img", "a.svg"), ("style", "b.png")]
    img = found[0]
    assert text[img.start : img.end] == '<img src="a.svg"\n alt="y">'
    assert img.attrs == {"src": "a.svg", "alt": "y"}


def _pandoc_calls(monkeypatch) -> list[list[str]]:
    calls: list[list[str]] = []
    run = pipeline._run_pandoc

    def record(args, cwd, env, what):
        calls.append(list(args))
        return run(args, cwd, env, what)

    monkeypatch.setattr(pipeline, "_run_pandoc", record)
    return calls


def test_a_document_with_its_charts_is_rendered_once_without_pandocs_embedding(
    project, tmp_path, monkeypatch
):
    calls = _pandoc_calls(monkeypatch)
    out = render_document(project, "report/article.qmd", tmp_path, formats=["html"])["html"]
    assert len(calls) == 1 and "--embed-resources" not in calls[0]
    markup = out.read_text(encoding="utf-8")
    assert re.search(r"<svg [^>]*class=\"marks\"", markup)
    assert '<style type="text/css">' in markup and "<link" not in markup
    assert all(ld.url.startswith("data:") for ld in offline.loads(markup))


def test_a_document_with_a_photograph_is_embedded_by_pandoc(project, tmp_path, monkeypatch):
    (project / "figures" / "photo.png").write_bytes(PNG)
    qmd = project / "report" / "article.qmd"
    qmd.write_text(qmd.read_text() + "\n![A photograph.](../figures/photo.png)\n")
    calls = _pandoc_calls(monkeypatch)
    out = render_document(project, "report/article.qmd", tmp_path, formats=["html"])["html"]
    assert len(calls) == 2 and "--embed-resources" in calls[1]
    markup = out.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in markup
    assert re.search(r"<svg [^>]*class=\"marks\"", markup)  # still placed
    assert all(ld.url.startswith("data:") for ld in offline.loads(markup))
