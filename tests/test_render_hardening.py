"""Hardening, round two: data strings the renderer or a spreadsheet could misread.

Placeholder-shaped data
    Race, discontinuation reason and prior agent values shaped like the
    renderer's internal markers (its placeholder tokens in the old and the
    current format, an escaped shortcode mark, column breaks, page breaks,
    raw Typst, cross-references, shortcodes) and like resource loads
    (``@import url(//...)``, ``<link href="//...">``, ``src=//``) go through a
    full ``psma-rwe build``: it must exit 0, and the supplement's Table 1 must
    show each race as written, with its count, in HTML, PDF and DOCX.
Formula injection
    patient_ids starting with ``=``, ``+``, ``-`` or ``@`` are written to every
    CSV the build writes with a leading ``'``; numbers (a negative change) are
    written as they are.
"""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pytest
from cohorts import dose, meas, patient, prior, write_cohort
from test_hardening import Version, run_build

from analysis.render.shortcodes import NONCE_LENGTH

pytestmark = pytest.mark.slow

#: Race values, one patient each (none of them may be read as markup or a marker).
MARKER_RACES = (
    "QSCX00000XQSC",  # the placeholder of the first value, old format
    "QSCX00003XQSC",
    "QSCX99999XQSC",  # out of range: was a Lua stack trace
    "QSCX" + "A" * NONCE_LENGTH + "00000XQSC",  # a guessed nonce, current format
    "QSCX" + "Q" * NONCE_LENGTH + "1XQSC",
    "qscx00000xqsc",  # the lower-case form pandoc gives identifiers
    "PSMAESC0",  # the escaped-shortcode mark without its NULs
    "{{< var cohort.patients >}}",
    "{{< pagebreak >}}",
    "::: {.column-break}",
    "psma-pagebreak",
    "#poster-colbreak(2)",
    "#table-notes[x] #pagebreak(weak: true)",
    "@tbl-table1",
    "@import url(//example.org/x.css)",
    '<link href="//x">',
    "src=//example.org/y.js",
)
MARKER_REASONS = ("QSCX00000XQSC", "QSCX99999XQSC", "QSCX" + "B" * NONCE_LENGTH + "2XQSC")
MARKER_AGENTS = ("QSCX00001XQSC", "QSCX99998XQSC", "::: {.column-break}", "@import url(//x)")


def marker_cohort(folder: Path) -> Path:
    """One patient per race in MARKER_RACES; odd ones respond, some discontinued."""
    patients, doses, measurements, priors = [], [], [], []
    for i, race in enumerate(MARKER_RACES, start=1):
        pid = f"P{i}"
        fields = {"race": race}
        if i <= len(MARKER_REASONS):
            fields.update(
                treatment_status="discontinued", discontinuation_reason=MARKER_REASONS[i - 1]
            )
        patients.append(patient(pid, **fields))
        doses += [dose(pid, 1, "2023-01-10"), dose(pid, 2, "2023-02-21")]
        after = 40 if i % 2 else 120
        measurements += [
            meas(pid, "2023-01-05", "psa", 100),
            meas(pid, "2023-03-15", "psa", after),
        ]
        if i <= len(MARKER_AGENTS):
            priors.append(prior(pid, MARKER_AGENTS[i - 1], "arpi", "2020-02-01"))
    return write_cohort(folder, patients, doses, measurements, priors)


def build_version(tmp_path_factory, name: str, make) -> Version:
    root = tmp_path_factory.mktemp(name)
    result = run_build(make(root / "data"), root / "outputs", label=name)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "traceback" not in result.output.lower()
    return Version(root / "outputs" / name)


@pytest.fixture(scope="module")
def markers(tmp_path_factory) -> Version:
    return build_version(tmp_path_factory, "markers", marker_cohort)


def docx_rows(xml: str) -> list[list[str]]:
    """The rows of every table in a document.xml: each cell's text, whitespace squashed."""
    rows = []
    for row in re.findall(r"<w:tr\b.*?</w:tr>", xml, re.S):
        cells = re.findall(r"<w:tc\b.*?</w:tc>", row, re.S)
        rows.append(
            [
                " ".join(html.unescape("".join(re.findall(r"<w:t\b[^>]*>(.*?)</w:t>", c))).split())
                for c in cells
            ]
        )
    return rows


def _share(n: int) -> str:
    return f"{n} ({100 * n / len(MARKER_RACES):.1f}%)"


@pytest.mark.parametrize("race", MARKER_RACES)
def test_marker_shaped_race_is_printed_as_written_with_its_count(markers, race):
    # the Table 1 row: stub cell with the value, then the overall count
    page = markers.html("supplement")
    assert html.escape(race, quote=False).replace('"', "&quot;") in page, race
    stub_rows = re.findall(r'gt_stub">(.*?)</th>\s*<td[^>]*>(.*?)</td>', page, re.S)
    assert (race, _share(1)) in [(html.unescape(a).strip(), b) for a, b in stub_rows]
    assert f"{race} {_share(1)}" in markers.pdf_text("supplement"), race
    assert [race, _share(1)] in [row[:2] for row in docx_rows(markers.docx_xml("supplement"))]


def test_marker_cohort_numbers_are_right(markers):
    n = len(MARKER_RACES)
    responders = (n + 1) // 2
    for text in (markers.html_text("supplement"), markers.pdf_text("supplement")):
        # (pypdf reads the superscript one of "¹⁷⁷Lu" as "1")
        assert re.search(rf"{n} patients started [1¹]⁷⁷Lu-PSMA-617", text), n
        assert f"PSA50 was met by {responders} patients" in text
    # Table 1 in Word: every race once, with its count
    races = [row[0] for row in docx_rows(markers.docx_xml("supplement")) if row[1:2] == [_share(1)]]
    assert sorted(set(MARKER_RACES) & set(races)) == sorted(MARKER_RACES)


def test_no_nonce_reaches_an_output(markers):
    known = {m.upper() for m in (*MARKER_RACES, *MARKER_REASONS, *MARKER_AGENTS)}
    for path in sorted(markers.path.rglob("*")):
        if path.suffix in (".html", ".txt", ".csv", ".json"):
            text = path.read_text(encoding="utf-8")
            for token in re.findall(r"QSCX[A-Z]*\d+XQSC", text, re.I):
                assert token.upper() in known, (path.name, token)


# --- formula injection ----------------------------------------------------------------------

FORMULA_IDS = (
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "=1+1",
)


def formula_cohort(folder: Path) -> Path:
    """One patient per id in FORMULA_IDS: PSA 100 -> 40 (change -60) or 100 -> 125 (+25)."""
    patients, doses, measurements = [], [], []
    for i, pid in enumerate(FORMULA_IDS):
        patients.append(patient(pid))
        doses += [dose(pid, 1, "2023-01-10"), dose(pid, 2, "2023-02-21")]
        measurements += [
            meas(pid, "2023-01-05", "psa", 100),
            meas(pid, "2023-03-15", "psa", 40 if i % 2 == 0 else 125),
            meas(pid, "2023-01-05", "hemoglobin", "12.5"),
            meas(pid, "2023-02-10", "hemoglobin", "9.5"),
        ]
    return write_cohort(folder, patients, doses, measurements)


@pytest.fixture(scope="module")
def formulas(tmp_path_factory) -> Version:
    return build_version(tmp_path_factory, "formulas", formula_cohort)


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_every_csv_the_build_writes_neutralises_formulas(formulas):
    from analysis.files import _NUMBER, FORMULA_TRIGGERS

    paths = sorted(formulas.path.rglob("*.csv"))
    assert {p.name for p in paths} >= {"patient_summary.csv", "lab_trajectories.csv"}
    for path in paths:
        for row in _rows(path):
            for column, cell in row.items():
                assert not cell.startswith(FORMULA_TRIGGERS) or _NUMBER.fullmatch(cell), (
                    path.name,
                    column,
                    cell,
                )
    summary = _rows(formulas.path / "patient_summary.csv")
    assert [r["patient_id"] for r in summary] == [f"'{pid}" for pid in FORMULA_IDS]
    # numbers are written as numbers: a fall of 60% is -60, not '-60
    assert [r["best_psa_change_pct"] for r in summary] == ["-60", "25", "-60", "25", "-60"]
    labs = _rows(formulas.path / "lab_trajectories.csv")
    assert labs and any(cell.startswith("-") for row in labs for cell in row.values())


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-37.2", "-37.2"),
        ("+5", "+5"),
        ("-1e-05", "-1e-05"),
        ("P-1", "P-1"),
        ("", ""),
        (-37.2, -37.2),
        (None, None),
    ],
)
def test_neutralise_cell(cell, written):
    from analysis.files import neutralise_cell

    assert neutralise_cell(cell) == written


def test_csv_text_leaves_numeric_columns_alone():
    import pandas as pd

    from analysis.files import csv_text

    frame = pd.DataFrame(
        {"id": ["=A1", "@x", "P3"], "change": [-37.2, -0.5, 12.0], "flag": [True, False, True]}
    )
    assert csv_text(frame, float_format="%.6g") == (
        "id,change,flag\n'=A1,-37.2,True\n'@x,-0.5,False\nP3,12,True\n"
    )


def test_every_csv_writer_goes_through_csv_text():
    from analysis import config

    for path in sorted((config.PROJECT_DIR / "analysis").rglob("*.py")):
        if path.name != "files.py":
            assert ".to_csv(" not in path.read_text(encoding="utf-8"), path
