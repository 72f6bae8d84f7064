"""Fixtures for the renderer tests (see render_project.py for the project)."""

from __future__ import annotations

from pathlib import Path

import pytest
from render_project import build_project
from render_project import chart_files as make_chart_files


@pytest.fixture(scope="session")
def chart_files() -> tuple[str, bytes]:
    """``(svg_text, pdf_bytes)`` of the 3-bar chart, made once per session."""
    return make_chart_files()


@pytest.fixture
def project(tmp_path: Path, chart_files: tuple[str, bytes]) -> Path:
    """A fresh fixture project in ``tmp_path/project``."""
    svg, pdf = chart_files
    return build_project(tmp_path / "project", svg, pdf)
