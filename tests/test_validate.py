"""Bad input is refused with every problem named by file, row and column.

Each bad-input case starts from the valid :func:`cohorts.minimal_cohort`,
makes one deliberate change and runs ``psma-rwe validate`` in-process.  The
problem line printed on stderr must carry the file, the editor line number
(header = line 1; none for a whole-file problem), the column and a key phrase
of the message.

Line map of the minimal cohort (the line numbers the cases refer to)::

    patients.csv         2 P1 (completed)   3 P2 (discontinued, progression)
    doses.csv            2 P1 d1 2023-01-10 3 P1 d2 2023-02-21
                         4 P2 d1 2023-01-12 5 P2 d2 2023-02-23
    measurements.csv     2 P1 psa 2023-01-05 100   3 P1 psa 2023-02-10 80
                         4 P1 psa 2023-03-15 40    5 P1 weight 2023-01-05 80
                         6 P2 psa 2023-01-02 50    7 P2 psa 2023-02-20 70
                         8 P2 psa 2023-03-20 90
    prior_therapies.csv  2 P1 leuprolide adt 2019-05-01
                         3 P1 enzalutamide arpi 2020-02-01
                         4 P2 docetaxel taxane 2021-03-01
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from cohorts import minimal_cohort
from typer.testing import CliRunner

from analysis import config
from analysis.cli import app
from analysis.load import load_cohort

P, D, M, T = config.PATIENTS, config.DOSES, config.MEASUREMENTS, config.PRIOR_THERAPIES

Change = Callable[[Path], None]

# --- editing helpers --------------------------------------------------------------


def _read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_cells(path: Path, line: int, **values: str) -> None:
    """Rewrite cells of one line (header = line 1) of a CSV file, by column name."""
    rows = _read_rows(path)
    header = rows[0]
    for column, value in values.items():
        rows[line - 1][header.index(column)] = value
    _write_rows(path, rows)


def cell(file: str, line: int, column: str, value: str) -> Change:
    return lambda folder: set_cells(folder / file, line, **{column: value})


def cells(file: str, line: int, **values: str) -> Change:
    return lambda folder: set_cells(folder / file, line, **values)


def text(file: str, content: str | bytes) -> Change:
    """Replace a whole file's content (bytes are written as they are)."""

    def change(folder: Path) -> None:
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / file).write_bytes(data)

    return change


def header_only(file: str) -> Change:
    return text(file, ",".join(config.COLUMNS[file]) + "\n")


def delete(file: str) -> Change:
    return lambda folder: (folder / file).unlink()


def drop_line(file: str, line: int) -> Change:
    def change(folder: Path) -> None:
        lines = (folder / file).read_bytes().splitlines(keepends=True)
        del lines[line - 1]
        (folder / file).write_bytes(b"".join(lines))

    return change


def append_line(file: str, line: str) -> Change:
    def change(folder: Path) -> None:
        with (folder / file).open("a", encoding="utf-8", newline="") as fh:
            fh.write(line + "\n")

    return change


def drop_column(file: str, column: str) -> Change:
    def change(folder: Path) -> None:
        rows = _read_rows(folder / file)
        i = rows[0].index(column)
        _write_rows(folder / file, [r[:i] + r[i + 1 :] for r in rows])

    return change


def add_column(file: str, column: str, value: str = "x") -> Change:
    def change(folder: Path) -> None:
        rows = _read_rows(folder / file)
        _write_rows(folder / file, [[*rows[0], column]] + [[*r, value] for r in rows[1:]])

    return change


def replace_bytes(file: str, old: bytes, new: bytes, count: int = 1) -> Change:
    def change(folder: Path) -> None:
        data = (folder / file).read_bytes()
        assert old in data, f"{old!r} not in {file}"
        (folder / file).write_bytes(data.replace(old, new, count))

    return change


def cohort(tmp_path: Path) -> Path:
    return minimal_cohort(tmp_path / "cohort")


def run_validate(folder: Path):
    return CliRunner().invoke(app, ["validate", str(folder)])


def problem_prefix(file: str, row: int | None, column: str | None) -> str:
    """The start of a problem line as :class:`analysis.errors.Problem` renders it."""
    parts = [file]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column}")
    return f"  - {', '.join(parts)}: "


def assert_problem(result, file: str, row: int | None, column: str | None, phrase: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    prefix = problem_prefix(file, row, column)
    lines = result.stderr.splitlines()
    hits = [line for line in lines if line.startswith(prefix) and phrase in line]
    assert hits, f"no line starting {prefix!r} containing {phrase!r} in:\n{result.stderr}"


# --- bad input ----------------------------------------------------------------------


def case(id: str, change: Change, file: str, row: int | None, column: str | None, phrase: str):
    return pytest.param(change, file, row, column, phrase, id=id)


IDENTIFIER = "direct identifier"
NOT_NUMBER = "expected a number"
NOT_WHOLE = "expected a whole number"
NOT_DATE = "expected a date written YYYY-MM-DD"
REQUIRED = "empty cell; a value is required"
FUTURE = "in the future; expected a past date"
ORPHAN = "is not in patients.csv"
FIELDS = "fields; expected"

BAD_CASES = [
    # whole files
    *(
        case(f"missing-file-{f.removesuffix('.csv')}", delete(f), f, None, None, "file not found")
        for f in config.INPUT_FILES
    ),
    case("empty-0-byte-patients", text(P, b""), P, None, None, "file is empty"),
    case("empty-0-byte-measurements", text(M, b""), M, None, None, "file is empty"),
    case("whitespace-only-doses", text(D, " \n\t\n  \r\n"), D, None, None, "file is empty"),
    case("whitespace-only-prior", text(T, "\n\n"), T, None, None, "file is empty"),
    case("header-only-patients", header_only(P), P, None, None, "header only"),
    case("header-only-doses", header_only(D), D, None, None, "header only"),
    case("header-only-measurements", header_only(M), M, None, None, "header only"),
    case("missing-column-ecog", drop_column(P, "ecog"), P, 1, "ecog", "required column"),
    case("missing-column-dose-date", drop_column(D, "dose_date"), D, 1, "dose_date", "missing"),
    case("missing-column-unit", drop_column(M, "unit"), M, 1, "unit", "required column"),
    case(
        "missing-column-therapy-class",
        drop_column(T, "therapy_class"),
        T,
        1,
        "therapy_class",
        "required column",
    ),
    case("duplicate-column", add_column(D, "dose_date"), D, 1, "dose_date", "appears twice"),
    case("identifier-Name", add_column(P, "Name", "Smith"), P, 1, "Name", IDENTIFIER),
    case("identifier-MRN", add_column(D, "MRN", "12345"), D, 1, "MRN", IDENTIFIER),
    case(
        "identifier-date_of_birth",
        add_column(P, "date_of_birth", "1950-01-01"),
        P,
        1,
        "date_of_birth",
        IDENTIFIER,
    ),
    case("identifier-Email", add_column(M, "Email", "a@b.org"), M, 1, "Email", IDENTIFIER),
    case(
        "identifier-patient_name",
        add_column(T, "patient_name", "Jones"),
        T,
        1,
        "patient_name",
        "de-identified data only",
    ),
    case(
        "ragged-row-too-many-fields",
        replace_bytes(P, b",progression", b",progression,extra"),
        P,
        3,
        None,
        "found 14 fields; expected 13",
    ),
    case(
        "ragged-first-data-row",
        replace_bytes(D, b"2023-01-10,7.4", b"2023-01-10,7.4,"),
        D,
        2,
        None,
        "found 5 fields; expected 4",
    ),
    case(
        "ragged-row-too-few-fields",
        replace_bytes(T, b",taxane", b""),
        T,
        4,
        None,
        "found 3 fields; expected 4",
    ),
    case(
        "invalid-utf8",
        replace_bytes(P, b"progression", b"progr\xe9ssion"),
        P,
        3,
        None,
        "not valid UTF-8",
    ),
    # patients.csv
    case(
        "duplicate-patient-id",
        cell(P, 3, "patient_id", "P1"),
        P,
        3,
        "patient_id",
        "'P1' appears again (first at row 2)",
    ),
    case("empty-patient-id", cell(P, 2, "patient_id", ""), P, 2, "patient_id", REQUIRED),
    case(
        "age-17",
        cell(P, 2, "age_at_first_dose", "17"),
        P,
        2,
        "age_at_first_dose",
        "found '17'; expected a value from 18 to 110",
    ),
    case(
        "age-111",
        cell(P, 3, "age_at_first_dose", "111"),
        P,
        3,
        "age_at_first_dose",
        "expected a value from 18 to 110",
    ),
    case(
        "age-not-a-number",
        cell(P, 2, "age_at_first_dose", "seventy"),
        P,
        2,
        "age_at_first_dose",
        NOT_NUMBER,
    ),
    case("age-empty", cell(P, 2, "age_at_first_dose", ""), P, 2, "age_at_first_dose", REQUIRED),
    case("ecog-5", cell(P, 2, "ecog", "5"), P, 2, "ecog", "expected a value from 0 to 4"),
    case("ecog-1.5", cell(P, 3, "ecog", "1.5"), P, 3, "ecog", NOT_WHOLE),
    case(
        "gleason-11",
        cell(P, 2, "gleason_score", "11"),
        P,
        2,
        "gleason_score",
        "expected a value from 6 to 10",
    ),
    case(
        "boolean-yes",
        cell(P, 3, "bone_mets", "yes"),
        P,
        3,
        "bone_mets",
        "found 'yes'; expected true or false",
    ),
    case("boolean-1", cell(P, 2, "visceral_mets", "1"), P, 2, "visceral_mets", "true or false"),
    case(
        "height-300",
        cell(P, 2, "height_cm", "300"),
        P,
        2,
        "height_cm",
        "expected a value from 120 to 220",
    ),
    case(
        "height-100",
        cell(P, 3, "height_cm", "100"),
        P,
        3,
        "height_cm",
        "expected a value from 120 to 220",
    ),
    case(
        "unknown-treatment-status",
        cell(P, 2, "treatment_status", "stopped"),
        P,
        2,
        "treatment_status",
        "expected one of completed | ongoing | discontinued",
    ),
    case(
        "discontinued-without-reason",
        cell(P, 3, "discontinuation_reason", ""),
        P,
        3,
        "discontinuation_reason",
        "a reason is required when treatment_status is discontinued",
    ),
    case(
        "completed-with-reason",
        cell(P, 2, "discontinuation_reason", "toxicity"),
        P,
        2,
        "discontinuation_reason",
        "expected an empty cell when treatment_status is completed",
    ),
    case(
        "ongoing-with-reason",
        cells(P, 2, treatment_status="ongoing", discontinuation_reason="toxicity"),
        P,
        2,
        "discontinuation_reason",
        "expected an empty cell when treatment_status is ongoing",
    ),
    case(
        "patient-without-dose-1",
        drop_line(D, 4),
        P,
        3,
        "patient_id",
        "'P2' has no dose 1 in doses.csv",
    ),
    case(
        "patient-without-any-dose",
        append_line(P, "P3,70,White,,1,8,false,true,false,false,175,completed,"),
        P,
        4,
        "patient_id",
        "'P3' has no dose 1",
    ),
    # doses.csv
    case("dose-date-slashes", cell(D, 2, "dose_date", "2023/01/10"), D, 2, "dose_date", NOT_DATE),
    case("dose-date-day-first", cell(D, 4, "dose_date", "10-01-2023"), D, 4, "dose_date", NOT_DATE),
    case(
        "dose-date-feb-30",
        cell(D, 3, "dose_date", "2023-02-30"),
        D,
        3,
        "dose_date",
        "found '2023-02-30'; expected a date",
    ),
    case("dose-date-empty", cell(D, 5, "dose_date", ""), D, 5, "dose_date", REQUIRED),
    case("dose-gap-1-3", cell(D, 3, "dose_number", "3"), D, 3, "dose_number", "expected dose 2"),
    case(
        "dose-not-starting-at-1",
        lambda f: (set_cells(f / D, 4, dose_number="2"), set_cells(f / D, 5, dose_number="3")),
        D,
        4,
        "dose_number",
        "follows no earlier dose; expected dose 1",
    ),
    case(
        "dose-number-duplicate",
        cell(D, 3, "dose_number", "1"),
        D,
        3,
        "dose_number",
        "dose 1 of patient 'P1' is listed twice",
    ),
    case("dose-number-0", cell(D, 2, "dose_number", "0"), D, 2, "dose_number", "1 or more"),
    case("dose-number-text", cell(D, 3, "dose_number", "two"), D, 3, "dose_number", NOT_WHOLE),
    case(
        "dose-dates-out-of-order",
        cell(D, 3, "dose_date", "2023-01-05"),
        D,
        3,
        "dose_date",
        "not after the previous dose (2023-01-10)",
    ),
    case(
        "dose-dates-equal",
        cell(D, 5, "dose_date", "2023-01-12"),
        D,
        5,
        "dose_date",
        "not after the previous dose (2023-01-12)",
    ),
    case("dose-date-future", cell(D, 5, "dose_date", "2099-01-01"), D, 5, "dose_date", FUTURE),
    case(
        "activity-20",
        cell(D, 2, "activity_gbq", "20"),
        D,
        2,
        "activity_gbq",
        "expected a value from 0.0 to 15.0",
    ),
    case(
        "activity-negative",
        cell(D, 4, "activity_gbq", "-1"),
        D,
        4,
        "activity_gbq",
        "expected a value from 0.0 to 15.0",
    ),
    case("activity-abc", cell(D, 3, "activity_gbq", "abc"), D, 3, "activity_gbq", NOT_NUMBER),
    case("orphan-in-doses", cell(D, 5, "patient_id", "P9"), D, 5, "patient_id", ORPHAN),
    # measurements.csv
    case(
        "unknown-test",
        cell(M, 2, "test", "prostate_antigen"),
        M,
        2,
        "test",
        "unknown test 'prostate_antigen'",
    ),
    case(
        "unknown-unit-psa-ug/L",
        cell(M, 3, "unit", "ug/L"),
        M,
        3,
        "unit",
        "unit 'ug/L' is not accepted for psa; expected ng/mL",
    ),
    case(
        "unit-of-another-test",
        cells(M, 5, test="hemoglobin", value="12", unit="U/L"),
        M,
        5,
        "unit",
        "unit 'U/L' is not accepted for hemoglobin",
    ),
    case("unit-empty", cell(M, 6, "unit", ""), M, 6, "unit", REQUIRED),
    case("value-not-a-number", cell(M, 4, "value", "high"), M, 4, "value", NOT_NUMBER),
    case("value-empty", cell(M, 4, "value", ""), M, 4, "value", REQUIRED),
    case(
        "value-negative-psa",
        cell(M, 7, "value", "-5"),
        M,
        7,
        "value",
        "found '-5' for psa; expected a value of 0 or more",
    ),
    case("value-censored-without-number", cell(M, 8, "value", "<"), M, 8, "value", NOT_NUMBER),
    case("value-greater-than", cell(M, 8, "value", ">1000"), M, 8, "value", NOT_NUMBER),
    case(
        "measured-more-than-10-years-before-dose-1",
        cell(M, 2, "measured_on", "2012-06-01"),
        M,
        2,
        "measured_on",
        "more than 10 years before dose 1 (2023-01-10)",
    ),
    case(
        "measured-in-future", cell(M, 8, "measured_on", "2099-03-20"), M, 8, "measured_on", FUTURE
    ),
    case(
        "measured-on-bad-date",
        cell(M, 6, "measured_on", "02/01/2023"),
        M,
        6,
        "measured_on",
        NOT_DATE,
    ),
    case("orphan-in-measurements", cell(M, 8, "patient_id", "P9"), M, 8, "patient_id", ORPHAN),
    # prior_therapies.csv
    case(
        "unknown-therapy-class",
        cell(T, 2, "therapy_class", "hormonal"),
        T,
        2,
        "therapy_class",
        "unknown therapy class 'hormonal'",
    ),
    case(
        "prior-therapy-on-dose-1",
        cell(T, 4, "start_date", "2023-01-12"),
        T,
        4,
        "start_date",
        "not before dose 1 (2023-01-12)",
    ),
    case(
        "prior-therapy-after-dose-1",
        cell(T, 3, "start_date", "2023-06-01"),
        T,
        3,
        "start_date",
        "not before dose 1 (2023-01-10)",
    ),
    case(
        "prior-start-bad-date", cell(T, 2, "start_date", "2019-13-01"), T, 2, "start_date", NOT_DATE
    ),
    case("prior-agent-empty", cell(T, 3, "agent", ""), T, 3, "agent", REQUIRED),
    case("orphan-in-prior-therapies", cell(T, 3, "patient_id", "P9"), T, 3, "patient_id", ORPHAN),
    # line numbers after blank lines and multi-line quoted cells
    case(
        "line-number-after-blank-line",
        lambda f: (
            replace_bytes(M, b"\nP1,2023-01-05,weight", b"\n\nP1,2023-01-05,weight")(f),
            set_cells(f / M, 8, value="high"),  # the P2 psa row that was line 7
        ),
        M,
        8,
        "value",
        NOT_NUMBER,
    ),
    case(
        "line-number-of-multiline-cell",
        cells(T, 2, agent="leuprolide\ndepot", therapy_class="hormonal"),  # spans lines 2-3
        T,
        2,
        "therapy_class",
        "unknown therapy class",
    ),
    case(
        "line-number-after-multiline-cell",
        lambda f: (
            set_cells(f / T, 2, agent="leuprolide\ndepot"),  # line 2 now spans lines 2-3
            replace_bytes(T, b"taxane", b"hormonal")(f),  # the P2 row, now line 5
        ),
        T,
        5,
        "therapy_class",
        "unknown therapy class",
    ),
]


@pytest.mark.parametrize(("change", "file", "row", "column", "phrase"), BAD_CASES)
def test_bad_input_is_refused(tmp_path, change, file, row, column, phrase):
    folder = cohort(tmp_path)
    change(folder)
    assert_problem(run_validate(folder), file, row, column, phrase)


def test_identifier_column_refuses_the_file_before_reading_rows(tmp_path):
    folder = cohort(tmp_path)
    add_column(P, "MRN", "123")(folder)
    set_cells(folder / P, 2, age_at_first_dose="seventy")
    result = run_validate(folder)
    assert_problem(result, P, 1, "MRN", "remove this column")
    assert "seventy" not in result.stderr


def test_not_a_folder(tmp_path):
    result = run_validate(tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "not a folder" in result.stderr


# --- many problems ---------------------------------------------------------------------


def test_more_than_50_problems_are_capped_with_the_right_count(tmp_path):
    folder = cohort(tmp_path)
    # 40 rows, each with a bad value and a bad unit: 80 problems from two rules.
    rows = "".join(f"P1,2023-01-{d:02d},psa,high,ug/L\n" for d in range(1, 21))
    rows += "".join(f"P2,2023-01-{d:02d},psa,high,ug/L\n" for d in range(1, 12))
    rows += "".join(f"P2,2022-12-{d:02d},psa,high,ug/L\n" for d in range(1, 10))
    with (folder / M).open("a", encoding="utf-8") as fh:
        fh.write(rows)
    result = run_validate(folder)
    assert result.exit_code == 2
    assert "80 problems found" in result.stderr
    listed = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(listed) == config.MAX_PROBLEMS
    assert result.stderr.rstrip().endswith("... and 30 more problems")
    # Listed in file order, each with its own line number.
    assert listed[0].startswith("  - measurements.csv, row 9, column unit: ")
    assert listed[1].startswith("  - measurements.csv, row 9, column value: ")


def test_exactly_one_more_problem_is_singular(tmp_path):
    folder = cohort(tmp_path)
    with (folder / M).open("a", encoding="utf-8") as fh:
        fh.write("P1,2023-01-20,psa,high,ng/mL\n" * 51)
    result = run_validate(folder)
    assert "51 problems found" in result.stderr
    assert result.stderr.rstrip().endswith("... and 1 more problem")


def test_problems_from_every_file_are_reported_in_one_run(tmp_path):
    folder = cohort(tmp_path)
    set_cells(folder / P, 2, age_at_first_dose="17")
    set_cells(folder / P, 3, ecog="7")
    set_cells(folder / D, 3, activity_gbq="abc")
    set_cells(folder / M, 4, unit="ug/L")
    set_cells(folder / T, 4, therapy_class="hormonal")
    result = run_validate(folder)
    assert "5 problems found" in result.stderr
    assert_problem(result, P, 2, "age_at_first_dose", "18 to 110")
    assert_problem(result, P, 3, "ecog", "0 to 4")
    assert_problem(result, D, 3, "activity_gbq", NOT_NUMBER)
    assert_problem(result, M, 4, "unit", "not accepted for psa")
    assert_problem(result, T, 4, "therapy_class", "unknown therapy class")
    # Files in contract order.
    order = [line.split(",")[0] for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert order == [f"  - {P}", f"  - {P}", f"  - {D}", f"  - {M}", f"  - {T}"]


def test_whole_file_and_row_problems_in_one_run(tmp_path):
    folder = cohort(tmp_path)
    delete(T)(folder)
    text(D, b"")(folder)
    set_cells(folder / M, 2, test="prostate_antigen")
    result = run_validate(folder)
    assert_problem(result, D, None, None, "file is empty")
    assert_problem(result, M, 2, "test", "unknown test")
    assert_problem(result, T, None, None, "file not found")


# --- valid edge cases --------------------------------------------------------------------


def _all_files(change: Callable[[bytes], bytes]) -> Change:
    def apply(folder: Path) -> None:
        for name in config.INPUT_FILES:
            path = folder / name
            path.write_bytes(change(path.read_bytes()))

    return apply


VALID_CASES = [
    pytest.param(lambda f: None, id="minimal-cohort"),
    pytest.param(_all_files(lambda b: b"\xef\xbb\xbf" + b), id="bom-every-file"),
    pytest.param(_all_files(lambda b: b.replace(b"\n", b"\r\n")), id="crlf-line-endings"),
    pytest.param(_all_files(lambda b: b + b"\n"), id="blank-trailing-line"),
    pytest.param(_all_files(lambda b: b[:-1]), id="no-final-newline"),
    pytest.param(
        _all_files(lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n") + b"\r\n"),
        id="bom-crlf-blank-trailing-line",
    ),
    pytest.param(replace_bytes(D, b"\nP2,", b"\n\nP2,"), id="blank-line-between-rows"),
    pytest.param(
        lambda f: (
            set_cells(f / P, 2, de_novo_metastatic="FALSE", bone_mets="TRUE"),
            set_cells(f / P, 3, lymph_node_mets="True", visceral_mets="False"),
        ),
        id="upper-case-booleans",
    ),
    pytest.param(cell(P, 2, "treatment_status", "Completed"), id="capitalised-treatment-status"),
    pytest.param(cell(M, 4, "value", "<0.1"), id="censored-psa"),
    pytest.param(cell(M, 4, "value", "< 0.1"), id="censored-psa-with-space"),
    pytest.param(cells(M, 5, test="hemoglobin", value="125", unit="g/L"), id="hemoglobin-g/L"),
    pytest.param(
        cells(M, 5, test="creatinine", value="88.4", unit="µmol/L"), id="creatinine-µmol/L"
    ),
    pytest.param(
        cells(M, 5, test="creatinine", value="88.4", unit="umol/L"), id="creatinine-umol/L"
    ),
    pytest.param(
        cells(M, 5, test="creatinine", value="88.4", unit="μmol/L"), id="creatinine-greek-mu"
    ),
    pytest.param(cells(M, 5, value="176.37", unit="lb"), id="weight-lb"),
    pytest.param(cells(M, 5, test="platelets", value="250", unit="K/uL"), id="platelets-K/uL"),
    pytest.param(cell(P, 2, "gleason_score", ""), id="gleason-empty"),
    pytest.param(cells(P, 3, race="", ethnicity=""), id="race-and-ethnicity-empty"),
    pytest.param(cell(D, 3, "activity_gbq", ""), id="activity-empty"),
    pytest.param(header_only(T), id="header-only-prior-therapies"),
    pytest.param(add_column(P, "site", "A"), id="extra-non-identifier-column"),
    pytest.param(cell(T, 2, "agent", "leuprolide, depot"), id="quoted-comma-in-cell"),
    pytest.param(
        cell(M, 2, "measured_on", "2013-01-10"), id="measurement-exactly-10-years-before-dose-1"
    ),
    pytest.param(cell(T, 4, "start_date", "2023-01-11"), id="prior-therapy-day-before-dose-1"),
]


@pytest.mark.parametrize("change", VALID_CASES)
def test_valid_edge_cases_pass(tmp_path, change):
    folder = cohort(tmp_path)
    change(folder)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_validate_prints_a_summary_with_the_patient_count(tmp_path):
    folder = cohort(tmp_path)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout
    assert re.search(r"patients\s*│\s*2\s", result.stdout), result.stdout
    assert re.search(r"doses\s*│\s*4\s", result.stdout), result.stdout


# --- typed frames ---------------------------------------------------------------------------


def test_units_are_converted_to_canonical(tmp_path):
    folder = cohort(tmp_path)
    with (folder / M).open("a", encoding="utf-8") as fh:
        fh.write(
            "P2,2023-01-02,hemoglobin,125,g/L\n"
            "P2,2023-01-02,weight,176.37,lb\n"
            "P2,2023-01-02,creatinine,88.4,µmol/L\n"
            "P2,2023-01-03,creatinine,176.8,umol/L\n"
            "P2,2023-01-02,platelets,250,K/uL\n"
            "P2,2023-01-02,albumin,40,g/L\n"
        )
    set_cells(folder / M, 4, value="<0.1")
    meas = load_cohort(folder).measurements.set_index(["patient_id", "test", "measured_on"])

    def one(pid, test, date):
        return meas.loc[(pid, test, pd.Timestamp(date))]

    hb = one("P2", "hemoglobin", "2023-01-02")
    assert hb["value"] == pytest.approx(12.5)
    assert hb["unit"] == "g/dL"
    wt = one("P2", "weight", "2023-01-02")
    assert wt["value"] == pytest.approx(80.0, abs=0.01)
    assert wt["unit"] == "kg"
    assert one("P2", "creatinine", "2023-01-02")["value"] == pytest.approx(1.0)
    assert one("P2", "creatinine", "2023-01-03")["value"] == pytest.approx(2.0)
    assert one("P2", "creatinine", "2023-01-03")["unit"] == "mg/dL"
    assert one("P2", "platelets", "2023-01-02")["value"] == pytest.approx(250)
    assert one("P2", "platelets", "2023-01-02")["unit"] == "10^9/L"
    assert one("P2", "albumin", "2023-01-02")["value"] == pytest.approx(4.0)
    censored = one("P1", "psa", "2023-03-15")
    assert censored["value"] == pytest.approx(0.1)
    assert bool(censored["censored"]) is True
    assert meas["censored"].sum() == 1


def test_upper_case_booleans_are_typed(tmp_path):
    folder = cohort(tmp_path)
    set_cells(folder / P, 2, de_novo_metastatic="TRUE", bone_mets="FALSE")
    patients = load_cohort(folder).patients.set_index("patient_id")
    assert bool(patients.loc["P1", "de_novo_metastatic"]) is True
    assert bool(patients.loc["P1", "bone_mets"]) is False


# --- input files are never modified ------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: None, id="valid"),
        pytest.param(cell(M, 3, "unit", "ug/L"), id="invalid"),
        pytest.param(
            _all_files(lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n")), id="bom-crlf"
        ),
    ],
)
def test_input_files_are_not_modified(tmp_path, change):
    folder = cohort(tmp_path)
    change(folder)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    run_validate(folder)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert after == before


# --- data text is printed as it is -------------------------------------------------------------


@pytest.mark.parametrize("value", ["[/x]", ":smile:"])
def test_cell_text_is_printed_verbatim(tmp_path, value):
    folder = cohort(tmp_path)
    set_cells(folder / P, 2, age_at_first_dose=value)
    result = run_validate(folder)
    assert_problem(result, P, 2, "age_at_first_dose", f"found {value!r}")
