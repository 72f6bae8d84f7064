"""Build the renderer's fixture project in a temporary folder.

``fixtures/project/`` holds the hand-written sources (``_quarto.yml``,
``_variables.yml``, ``report/article.qmd``, ``report/poster.qmd`` and a small
great-tables-like fragment ``tables/baseline.html``); :func:`build_project`
copies them and adds the generated artifacts: a 3-bar Vega-Lite chart as
``figures/bars.svg`` and ``figures/bars.pdf`` (vl-convert) and a 120-row pipe
table ``tables/long-table.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FIXTURE_PROJECT = Path(__file__).parent / "fixtures" / "project"

BAR_CHART = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "width": 360,
    "height": 220,
    "data": {
        "values": [
            {"cycle": "Cycle 1", "decline": 31},
            {"cycle": "Cycle 2", "decline": 47},
            {"cycle": "Cycle 3", "decline": 55},
        ]
    },
    "mark": {"type": "bar", "color": "#1f4e79"},
    "encoding": {
        "x": {"field": "cycle", "type": "nominal", "title": None, "axis": {"labelAngle": 0}},
        "y": {"field": "decline", "type": "quantitative", "title": "PSA decline (%)"},
    },
}


def long_table(rows: int = 120) -> str:
    lines = ["| Patient | Hemoglobin (g/dL) | Platelets (10^9/L) |", "|:--|--:|--:|"]
    for i in range(1, rows + 1):
        lines.append(f"| P{i:03d} | {9 + (i % 7) * 0.5:.1f} | {120 + (i * 37) % 200} |")
    return "\n".join(lines) + "\n"


def build_project(dest: Path, svg: str, pdf: bytes) -> Path:
    """Copy the fixture project to ``dest`` and add figures and generated tables."""
    from analysis.render.extension import RELATIVE_DIR, bundled_dir

    shutil.copytree(FIXTURE_PROJECT, dest)
    shutil.copytree(bundled_dir(), dest / RELATIVE_DIR)
    figures = dest / "figures"
    figures.mkdir()
    (figures / "bars.svg").write_text(svg, encoding="utf-8")
    (figures / "bars.pdf").write_bytes(pdf)
    (dest / "tables" / "long-table.md").write_text(long_table(), encoding="utf-8")
    return dest


def chart_files() -> tuple[str, bytes]:
    """``(svg_text, pdf_bytes)`` of the 3-bar chart."""
    from analysis.fonts import vl_convert as configured

    vl_convert = configured()

    spec = json.dumps(BAR_CHART, sort_keys=True)
    return vl_convert.vegalite_to_svg(spec), vl_convert.vegalite_to_pdf(spec)
