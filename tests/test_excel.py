"""An .xlsx workbook in place of the cohort folder (analysis/excel.py).

The workbooks are written with openpyxl from the shipped synthetic cohort: dates as
real Excel dates, numbers as numbers, booleans as booleans (tests/excel_helpers.py).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from excel_helpers import read_sheets, write_workbook
from typer.testing import CliRunner

from analysis import config
from analysis.analyze import run_analysis
from analysis.build import MANIFEST, analysis_settings, collect_inputs
from analysis.cli import app
from analysis.excel import column_letter
from analysis.load import load_cohort, read_input_bytes


@pytest.fixture(scope="module")
def csv_results() -> str:
    return results_json(config.SYNTHETIC_DIR)


@pytest.fixture(scope="module")
def sheets():
    return read_sheets(config.SYNTHETIC_DIR)


def workbook(sheets, tmp_path: Path, change=None, edit=None, name="cohort.xlsx") -> Path:
    data = copy.deepcopy(sheets)
    if change is not None:
        change(data)
    return write_workbook(data, tmp_path / name, edit)


def results_json(source) -> str:
    cohort = load_cohort(source)
    return run_analysis(cohort, **analysis_settings(config.QUARTO_PROJECT)).results.to_json()


def validate(path: Path):
    return CliRunner().invoke(app, ["validate", str(path)])


def assert_fails(path: Path, *lines: str) -> str:
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for line in lines:
        assert line in result.stderr, result.stderr
    return result.stderr


# --- the same results as the CSV folder ------------------------------------------------


def test_workbook_gives_byte_identical_results(sheets, tmp_path, csv_results):
    path = workbook(sheets, tmp_path)
    assert results_json(path) == csv_results


def test_text_cells_sheet_names_extra_sheets_and_blank_rows(sheets, tmp_path, csv_results):
    """Numbers and dates stored as text, ``.csv`` and capitalised sheet names, an
    unknown sheet, blank rows and a header below blank rows: the same cohort."""

    def change(data):
        for row in data["doses"][1:]:
            row[1], row[2] = f"{row[1]}", row[2].isoformat()  # text, not number / date
        data["Measurements.csv"] = data.pop("measurements")
        data["notes"] = [["anything"], [1]]
        data["prior_therapies"] = [
            [],
            [],
            *data["prior_therapies"][:40],
            [],
            *data["prior_therapies"][40:],
        ]

    path = workbook(sheets, tmp_path, change)
    assert validate(path).exit_code == 0
    assert results_json(path) == csv_results


def test_cells_as_a_csv_export_writes_them(sheets, tmp_path):
    """7.0 → 7, TRUE → true, '<0.1' as typed, a midnight datetime → its date."""

    def change(data):
        data["patients"][1][4] = 2.0  # ecog as a float
        data["measurements"][1][3] = "<0.1"
        data["doses"][1][2] = dt.datetime(2022, 10, 30, 0, 0)

    cohort = load_cohort(workbook(sheets, tmp_path, change))
    assert cohort.patients["ecog"].iloc[0] == 2
    assert cohort.doses["dose_date"].iloc[0] == pd.Timestamp("2022-10-30")
    assert bool(cohort.patients["bone_mets"].iloc[0]) is True


def test_column_letters():
    assert [column_letter(i) for i in (0, 2, 25, 26, 27, 701, 702)] == [
        "A",
        "C",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


def test_input_hash_covers_the_workbook_bytes_once(sheets, tmp_path):
    path = workbook(sheets, tmp_path)
    inputs = collect_inputs(path, config.PROJECT_DIR)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    data = {k: v for k, v in inputs.hashes.items() if k.startswith("data/")}
    assert data == {"data/cohort.xlsx": digest}
    assert inputs.contents == {"cohort.xlsx": path.read_bytes()}
    assert read_input_bytes(path) == inputs.contents
    # The cohort is parsed from those bytes, not from the file again.
    path.write_bytes(b"replaced")
    assert load_cohort(path, contents=inputs.contents).summary()["patients"] == 21


# --- bad workbooks: exit 2, sheet, row and column as Excel shows them ----------------------


def set_cell(sheet: str, row: int, col: int, value):
    """A change that puts ``value`` in Excel row ``row`` (1 = header), column ``col`` (0 = A)."""

    def change(data):
        data[sheet][row - 1][col] = value

    return change


BAD_CELLS = [
    pytest.param(
        set_cell("doses", 7, 2, "2022-13-01"),
        "  - cohort.xlsx: doses, row 7, column C (dose_date): found '2022-13-01'; expected a"
        " date written YYYY-MM-DD",
        id="bad-date-text",
    ),
    pytest.param(
        set_cell("doses", 7, 2, dt.datetime(2023, 2, 7, 14, 30)),
        "  - cohort.xlsx: doses, row 7, column C (dose_date): holds a date with a time of day"
        " (2023-02-07 14:30:00); expected a date only",
        id="datetime-with-time",
    ),
    pytest.param(
        set_cell("measurements", 4, 1, dt.time(9, 15)),
        "  - cohort.xlsx: measurements, row 4, column B (measured_on): holds a time of day"
        " (09:15:00); expected a date (YYYY-MM-DD), a number or text",
        id="time-of-day",
    ),
    pytest.param(
        set_cell("patients", 4, 4, 2.5),
        "  - cohort.xlsx: patients, row 4, column E (ecog): found '2.5'; expected a whole number",
        id="float-in-integer-column",
    ),
    pytest.param(
        set_cell("patients", 3, 7, "yes"),
        "  - cohort.xlsx: patients, row 3, column H (bone_mets): found 'yes'",
        id="boolean-word",
    ),
    pytest.param(
        set_cell("measurements", 5, 0, "PT-9999"),
        "  - cohort.xlsx: measurements, row 5, column A (patient_id): patient 'PT-9999' is not"
        " in the patients sheet; expected a patient_id listed there",
        id="unknown-patient",
    ),
    pytest.param(
        set_cell("doses", 2, 1, None),
        "  - cohort.xlsx: doses, row 2, column B (dose_number): empty cell; a value is required",
        id="blank-cell",
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_CELLS)
def test_bad_cell(sheets, tmp_path, change, expected):
    err = assert_fails(workbook(sheets, tmp_path, change), expected)
    where = expected.split(":")[1].split("(")[0]  # " doses, row 7, column C "
    assert err.count(where) == 1, err  # one problem per cell, not the rules' as well


def test_date_with_time_does_not_hide_other_problems(sheets, tmp_path):
    def change(data):
        data["doses"][6][2] = dt.datetime.combine(data["doses"][6][2], dt.time(14, 30))
        data["doses"][9][2] = "2022-13-01"

    err = assert_fails(
        workbook(sheets, tmp_path, change),
        "cohort.xlsx: doses, row 7, column C (dose_date): holds a date with a time of day"
        " (2022-08-23 14:30:00)",
        "cohort.xlsx: doses, row 10, column C (dose_date): found '2022-13-01'",
    )
    assert err.count("row 7, column C") == 1
    assert "2 problems found" in err


def test_formula_without_cached_value_reads_blank(sheets, tmp_path):
    """calamine reads the value Excel saved; openpyxl saves none: the cell is blank."""

    def edit(book):
        book["prior_therapies"]["B3"] = "=1+1"

    assert_fails(
        workbook(sheets, tmp_path, edit=edit),
        "  - cohort.xlsx: prior_therapies, row 3, column B (agent): empty cell; a value is"
        " required",
    )


def test_header_below_blank_rows_counts_excel_rows(sheets, tmp_path):
    def change(data):
        data["doses"] = [[None], [None], *data["doses"]]
        data["doses"][8][2] = "soon"

    assert_fails(
        workbook(sheets, tmp_path, change),
        "  - cohort.xlsx: doses, row 9, column C (dose_date): found 'soon'",
    )


def test_missing_sheet(sheets, tmp_path):
    path = workbook(sheets, tmp_path, lambda data: data.pop("prior_therapies"))
    assert_fails(
        path,
        "  - cohort.xlsx: prior_therapies: sheet not found (the workbook has 'patients',"
        " 'doses', 'measurements'); expected a sheet named 'prior_therapies' or"
        " 'prior_therapies.csv'",
    )


def test_two_sheets_for_one_file(sheets, tmp_path):
    path = workbook(sheets, tmp_path, lambda data: data.update({"doses.csv": data["doses"]}))
    assert_fails(
        path, "  - cohort.xlsx: doses: 2 sheets match: 'doses', 'doses.csv'; expected exactly one"
    )


def test_empty_sheet(sheets, tmp_path):
    path = workbook(sheets, tmp_path, lambda data: data.update(measurements=[]))
    assert_fails(path, "  - cohort.xlsx: measurements: sheet is empty; expected a header row")


def test_header_only_sheet(sheets, tmp_path):
    path = workbook(sheets, tmp_path, lambda data: data.update(doses=data["doses"][:1]))
    assert_fails(path, "  - cohort.xlsx: doses: header only, no data rows; expected data")


def test_missing_column(sheets, tmp_path):
    def change(data):
        data["doses"] = [row[:2] + row[3:] for row in data["doses"]]

    assert_fails(
        workbook(sheets, tmp_path, change),
        "  - cohort.xlsx: doses, row 1, column dose_date: required column is missing",
    )


def test_identifier_column_named_with_its_letter(sheets, tmp_path):
    def change(data):
        data["patients"][0].append("mrn")

    assert_fails(
        workbook(sheets, tmp_path, change),
        "  - cohort.xlsx: patients, row 1, column Q (mrn): looks like a direct identifier",
    )


def test_blank_header_cell_above_data(sheets, tmp_path):
    assert_fails(
        workbook(sheets, tmp_path, set_cell("doses", 1, 3, None)),
        "  - cohort.xlsx: doses, row 1, column D: the header cell is blank but the column holds"
        " data (in 93 rows, first row 2); expected a column name",
    )


def test_merged_header_cells(sheets, tmp_path):
    def edit(book):
        book["doses"].merge_cells("C1:D1")

    assert_fails(
        workbook(sheets, tmp_path, edit=edit),
        "  - cohort.xlsx: doses, row 1, column D: the header cell is part of the merged cells"
        " C1:D1 but the column holds data",
    )


def test_error_value_reads_blank(sheets, tmp_path):
    def edit(book):
        cell = book["doses"]["B4"]
        cell.value, cell.data_type = "#N/A", "e"

    assert_fails(
        workbook(sheets, tmp_path, edit=edit),
        "  - cohort.xlsx: doses, row 4, column B (dose_number): empty cell",
    )


# --- files that are not an .xlsx workbook -------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "what"),
    [
        (".xls", "is an Excel 97-2003 workbook (.xls); expected an .xlsx workbook"),
        (".xlsm", "is a macro-enabled Excel workbook (.xlsm); expected an .xlsx workbook"),
        (".ods", "is an OpenDocument spreadsheet (.ods); expected an .xlsx workbook"),
        (".XLSB", "is a binary Excel workbook (.xlsb); expected an .xlsx workbook"),
    ],
)
def test_other_spreadsheet_formats(sheets, tmp_path, suffix, what):
    path = workbook(sheets, tmp_path, name=f"cohort{suffix}")
    assert_fails(path, f"cohort{suffix}: {what}")


def test_password_protected(tmp_path):
    # An encrypted .xlsx is an OLE compound file holding an EncryptionInfo stream.
    path = tmp_path / "cohort.xlsx"
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    path.write_bytes(header + "EncryptionInfo".encode("utf-16-le") + bytes(512))
    assert_fails(path, "cohort.xlsx: is password-protected (encrypted)")


def test_xls_named_xlsx(tmp_path):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))
    assert_fails(path, "cohort.xlsx: is an Excel 97-2003 (.xls) file with an .xlsx name")


def test_csv_named_xlsx(tmp_path):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes((config.SYNTHETIC_DIR / "doses.csv").read_bytes())
    assert_fails(path, "cohort.xlsx: is not an .xlsx workbook (not a ZIP archive)")


def test_truncated_workbook(sheets, tmp_path):
    path = workbook(sheets, tmp_path)
    path.write_bytes(path.read_bytes()[:2000])
    assert_fails(path, "cohort.xlsx: cannot be read as an .xlsx workbook (")


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "cohort.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hello")
    assert_fails(path, "cohort.xlsx: cannot be read as an .xlsx workbook (")


def test_empty_file(tmp_path):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"")
    assert_fails(path, "cohort.xlsx: is empty; expected an Excel workbook")


def test_workbook_not_found(tmp_path):
    assert_fails(tmp_path / "cohort.xlsx", "  - cohort.xlsx: file not found in")


# --- analyze and build ----------------------------------------------------------------


def test_analyze_command(sheets, tmp_path):
    path = workbook(sheets, tmp_path)
    result = CliRunner().invoke(app, ["analyze", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / "results.json").read_text(encoding="utf-8")
    assert json.loads(written)["cohort"]["n_patients"] == 21


@pytest.mark.slow
def test_build_from_workbook(sheets, tmp_path):
    path = workbook(sheets, tmp_path)
    outputs = tmp_path / "outputs"
    result = CliRunner().invoke(app, ["build", str(path), "--outputs", str(outputs)])
    assert result.exit_code == 0, result.output
    (version,) = [p for p in outputs.iterdir() if p.is_dir()]
    manifest = json.loads((version / MANIFEST).read_text())
    data = {k: v for k, v in manifest["inputs"].items() if k.startswith("data/")}
    assert list(data) == ["data/cohort.xlsx"]
    assert data["data/cohort.xlsx"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
