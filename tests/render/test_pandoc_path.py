"""The embedded renderer runs the pandoc of pypandoc-binary, whatever else is installed."""

from __future__ import annotations

import os
from pathlib import Path

import pypandoc
import pytest

from analysis.render import pipeline


@pytest.fixture
def fresh_path(monkeypatch):
    pipeline.pandoc_path.cache_clear()
    monkeypatch.delenv("PYPANDOC_PANDOC", raising=False)
    yield
    pipeline.pandoc_path.cache_clear()


def fake_pandoc(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "pandoc"
    script.write_text(f"#!/bin/sh\necho 'pandoc {version}'\n")
    script.chmod(0o755)
    return script


def test_the_bundled_pandoc_is_run_not_a_newer_one_on_path(tmp_path, monkeypatch, fresh_path):
    fake_pandoc(tmp_path / "bin", "99.0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    bundled = Path(pypandoc.__file__).parent / "files" / "pandoc"
    assert pipeline.pandoc_path() == str(bundled)
    assert pipeline.pandoc_version() != "99.0"
    assert pipeline.pandoc_version()[0].isdigit()


def test_pypandoc_pandoc_in_the_environment_is_respected(tmp_path, monkeypatch, fresh_path):
    script = fake_pandoc(tmp_path / "bin", "3.99")
    monkeypatch.setenv("PYPANDOC_PANDOC", str(script))
    monkeypatch.setattr(pypandoc, "get_pandoc_path", lambda: str(script))
    assert pipeline.pandoc_path() == str(script)
    assert pipeline.pandoc_version() == "3.99"
