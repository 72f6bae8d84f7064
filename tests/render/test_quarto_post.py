"""The project's post-render step (``_extensions/psma-rwe/post-render.lua`` runs
``python -m analysis.render.quarto_post``): what a hand-run ``quarto render``
gets of a build's Word post-processing and HTML network check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analysis import config
from analysis.errors import PsmaRweError
from analysis.render import docx, docx_layout, pipeline, quarto, quarto_post

LUA = config.PROJECT_DIR / "_extensions" / "psma-rwe" / "post-render.lua"

BAD_HTML = '<html><body>\n<p>x</p>\n<img src="https://example.org/a.png">\n</body></html>\n'
GOOD_HTML = "<html><body><p>offline</p></body></html>\n"


def _project(tmp_path: Path) -> Path:
    """A project folder with the support files ``psma-rwe prepare`` writes for Word."""
    root = tmp_path / "study"
    (root / "report").mkdir(parents=True)
    support = root / quarto.SUPPORT_DIR
    docx.write_reference(support / "reference.docx", pipeline.pandoc_path(), "a4")
    (support / quarto.PYTHON_FILE).write_text(sys.executable + "\n", encoding="utf-8")
    return root


def _word(root: Path, name: str = "report/t.docx") -> Path:
    """A pandoc Word file with a table and no post-processing."""
    md = root / "t.md"
    md.write_text(
        "Text.\n\n| Characteristic | N = 3 |\n|:--|--:|\n"
        "| Age | 70 (65–74) |\n| Hemoglobin | 11.2 |\n",
        encoding="utf-8",
    )
    out = root / name
    subprocess.run(
        [
            pipeline.pandoc_path(),
            str(md),
            "-o",
            str(out),
            f"--reference-doc={quarto.reference_path(root)}",
        ],
        check=True,
    )
    return out


def test_output_files_come_from_the_variable_or_the_file_quarto_names(tmp_path):
    env = {"QUARTO_PROJECT_OUTPUT_FILES": "report/a.html\nreport/a.docx\n"}
    assert quarto_post.output_files(tmp_path, env) == [
        tmp_path / "report/a.html",
        tmp_path / "report/a.docx",
    ]
    listing = tmp_path / "files.txt"
    listing.write_text("report/b.pdf\n", encoding="utf-8")
    env = {"QUARTO_USE_FILE_FOR_PROJECT_OUTPUT_FILES": str(listing), **env}
    assert quarto_post.output_files(tmp_path, env) == [tmp_path / "report/b.pdf"]


def test_word_files_get_the_builds_post_processing(tmp_path):
    root = _project(tmp_path)
    word = _word(root)
    expected = tmp_path / "expected.docx"
    shutil.copyfile(word, expected)
    docx_layout.postprocess(expected, *docx.text_area_pt(quarto.reference_path(root)))
    before = word.read_bytes()

    assert quarto_post.post_render(root, [word, root / "report/missing.docx"]) == [word]
    assert word.read_bytes() != before
    assert word.read_bytes() == expected.read_bytes()
    xml = zipfile.ZipFile(word).read("word/document.xml").decode("utf-8")
    assert '<w:pStyle w:val="TableText"' in xml  # the cells in the project's table style


def test_word_without_the_reference_document_is_refused(tmp_path):
    root = _project(tmp_path)
    word = _word(root)
    quarto.reference_path(root).unlink()
    with pytest.raises(PsmaRweError, match=r"t\.docx.*psma-rwe prepare"):
        quarto_post.post_render(root, [word])


def test_html_loading_from_the_network_is_refused_naming_file_and_line(tmp_path):
    root = _project(tmp_path)
    (root / "report/ok.html").write_text(GOOD_HTML, encoding="utf-8")
    (root / "report/bad.html").write_text(BAD_HTML, encoding="utf-8")
    assert quarto_post.post_render(root, [root / "report/ok.html"]) == [root / "report/ok.html"]
    with pytest.raises(PsmaRweError, match=r"bad\.html.*line 3.*example\.org"):
        quarto_post.post_render(root, [root / "report/ok.html", root / "report/bad.html"])


def test_inside_a_build_the_step_does_nothing(tmp_path):
    root = _project(tmp_path)
    (root / "report/bad.html").write_text(BAD_HTML, encoding="utf-8")
    env = {"QUARTO_PROJECT_OUTPUT_FILES": "report/bad.html"}
    with pytest.raises(PsmaRweError):
        quarto_post.run(root, env)
    assert quarto_post.run(root, {**env, quarto_post.SKIP_ENV: "1"}) == []
    assert quarto.quarto_env()[quarto_post.SKIP_ENV] == "1"


def _lua(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """post-render.lua run as Quarto runs a Lua script: pandoc with it as a filter."""
    base = {k: v for k, v in os.environ.items() if k != quarto_post.SKIP_ENV}
    return subprocess.run(
        [pipeline.pandoc_path(), "--from", "markdown", "--to", "plain", "--lua-filter", str(LUA)],
        cwd=root,
        input="",
        capture_output=True,
        text=True,
        env={**base, "PATH": "/usr/bin:/bin", **env},
    )


def test_the_lua_step_runs_the_recorded_python_without_psma_rwe_on_path(tmp_path):
    root = _project(tmp_path)
    word = _word(root)
    before = word.read_bytes()
    (root / "report/bad.html").write_text(BAD_HTML, encoding="utf-8")

    proc = _lua(root, {"QUARTO_PROJECT_OUTPUT_FILES": "report/t.docx"})
    assert proc.returncode == 0, proc.stderr
    assert word.read_bytes() != before

    proc = _lua(root, {"QUARTO_PROJECT_OUTPUT_FILES": "report/bad.html"})
    assert proc.returncode != 0
    assert "bad.html" in proc.stderr and "Traceback" not in proc.stderr

    proc = _lua(root, {"QUARTO_PROJECT_OUTPUT_FILES": "report/bad.html", quarto_post.SKIP_ENV: "1"})
    assert proc.returncode == 0, proc.stderr


def test_the_lua_step_without_prepare_says_what_to_run(tmp_path):
    root = _project(tmp_path)
    (root / quarto.SUPPORT_DIR / quarto.PYTHON_FILE).unlink()
    proc = _lua(root, {"QUARTO_PROJECT_OUTPUT_FILES": ""})
    assert proc.returncode != 0
    assert "psma-rwe prepare" in proc.stderr


def test_the_project_names_the_step():
    from analysis.render.project import load_yaml

    meta = load_yaml(config.PROJECT_DIR / "_quarto.yml", "_quarto.yml")
    assert meta["project"]["post-render"] == "_extensions/psma-rwe/post-render.lua"
    assert LUA.is_file()
