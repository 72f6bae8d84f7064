"""The optional follow-up columns of patients.csv are validated like every other cell.

``last_contact_date``, ``death_date`` and ``radiographic_progression_date`` may be
absent altogether (the cohort validates as before) or present.  Each bad-input case
starts from :func:`cohorts.minimal_cohort` with the three columns added by
:func:`follow_up` (both patients alive, last contact 2023-06-01, no progression),
makes one deliberate change and runs ``psma-rwe validate`` in-process; the problem
line must carry the file, the editor row, the column and a key phrase.

Line map (see tests/test_validate.py)::

    patients.csv      2 P1   3 P2
    doses.csv         2 P1 d1 2023-01-10   3 P1 d2 2023-02-21
                      4 P2 d1 2023-01-12   5 P2 d2 2023-02-23
    measurements.csv  2 P1 2023-01-05  3 P1 2023-02-10  4 P1 2023-03-15
                      5 P1 2023-01-05 (weight)
                      6 P2 2023-01-02  7 P2 2023-02-20  8 P2 2023-03-20
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from test_validate import (
    NOT_DATE,
    Change,
    _all_files,
    _read_rows,
    _write_rows,
    add_column,
    assert_problem,
    case,
    cohort,
    run_validate,
    set_cells,
)

from analysis import config
from analysis.load import load_cohort

P, D, M = config.PATIENTS, config.DOSES, config.MEASUREMENTS
CONTACT, DEATH, RAD = config.FOLLOW_UP_COLUMNS

BEFORE_DOSE_1 = "expected a date on or after the first dose"
FUTURE = "which is in the future; expected a past date"
NO_CONTACT = "expected the date the patient was last known alive"
DIED = "expected a blank cell or the death date"
CONTROL = "holds the control character"


def follow_up(*changes: Change, contact: str = "2023-06-01", death: str = "", rad: str = ""):
    """Add the three follow-up columns (same value on every row), then apply ``changes``."""

    def change(folder: Path) -> None:
        add_column(P, CONTACT, contact)(folder)
        add_column(P, DEATH, death)(folder)
        add_column(P, RAD, rad)(folder)
        for more in changes:
            more(folder)

    return change


def at(line: int, **values: str) -> Change:
    """Set cells of one line of patients.csv."""
    return lambda folder: set_cells(folder / P, line, **values)


def reorder(file: str, order: list[str]) -> Change:
    """Rewrite ``file`` with its columns in ``order`` (every column, by name)."""

    def change(folder: Path) -> None:
        rows = _read_rows(folder / file)
        idx = [rows[0].index(col) for col in order]
        _write_rows(folder / file, [[r[i] for i in idx] for r in rows])

    return change


SHUFFLED = [RAD, "patient_id", DEATH, *reversed(config.COLUMNS[P][1:]), CONTACT]


def problem_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("  - ")]


def assert_only_problem(result, file, row, column, phrase) -> None:
    assert_problem(result, file, row, column, phrase)
    assert len(problem_lines(result)) == 1, result.stderr


# --- bad input ----------------------------------------------------------------------

BAD_CASES = [
    # not a date
    case("contact-bad-month", follow_up(at(2, **{CONTACT: "2023-13-01"})), P, 2, CONTACT, NOT_DATE),
    case(
        "contact-day-first",
        follow_up(at(3, **{CONTACT: "01/06/2023"})),
        P,
        3,
        CONTACT,
        "found '01/06/2023'; expected a date written YYYY-MM-DD",
    ),
    case(
        "death-words",
        follow_up(at(3, **{DEATH: "June 2023", CONTACT: ""})),
        P,
        3,
        DEATH,
        "found 'June 2023'; expected a date",
    ),
    case("death-feb-30", follow_up(at(2, **{DEATH: "2023-02-30"})), P, 2, DEATH, NOT_DATE),
    case("rad-slashes", follow_up(at(2, **{RAD: "2023/05/01"})), P, 2, RAD, NOT_DATE),
    case("rad-text", follow_up(at(3, **{RAD: "yes"})), P, 3, RAD, "found 'yes'"),
    # before dose 1
    case(
        "contact-before-dose-1",
        follow_up(at(2, **{CONTACT: "2023-01-09"})),
        P,
        2,
        CONTACT,
        "found 2023-01-09, before dose 1 (2023-01-10); " + BEFORE_DOSE_1,
    ),
    case(
        "death-before-dose-1",
        follow_up(at(3, **{DEATH: "2023-01-11", CONTACT: ""})),
        P,
        3,
        DEATH,
        "found 2023-01-11, before dose 1 (2023-01-12)",
    ),
    case(
        "rad-before-dose-1",
        follow_up(at(2, **{RAD: "2022-12-31"})),
        P,
        2,
        RAD,
        "before dose 1 (2023-01-10)",
    ),
    # in the future
    case("contact-future", follow_up(at(2, **{CONTACT: "2099-01-01"})), P, 2, CONTACT, FUTURE),
    case(
        "death-future",
        follow_up(at(3, **{DEATH: "2099-01-01", CONTACT: ""})),
        P,
        3,
        DEATH,
        "found 2099-01-01, " + FUTURE,
    ),
    case("rad-future", follow_up(at(2, **{RAD: "2099-01-01"})), P, 2, RAD, FUTURE),
    # survival status
    case(
        "living-without-contact",
        follow_up(at(3, **{CONTACT: ""})),
        P,
        3,
        CONTACT,
        "empty cell; " + NO_CONTACT,
    ),
    case(
        "living-without-contact-blank-spaces",
        follow_up(at(2, **{CONTACT: "   "})),
        P,
        2,
        CONTACT,
        "empty cell; " + NO_CONTACT,
    ),
    case(
        "only-death-column-living-patient",
        lambda f: (add_column(P, DEATH, "")(f), set_cells(f / P, 2, **{DEATH: "2023-06-01"})),
        P,
        3,
        CONTACT,
        "no last_contact_date column; " + NO_CONTACT,
    ),
    case(
        "dead-contact-before-death",
        follow_up(at(2, **{DEATH: "2023-06-01", CONTACT: "2023-05-01"})),
        P,
        2,
        CONTACT,
        "found 2023-05-01 for a patient who died on 2023-06-01; " + DIED,
    ),
    case(
        "dead-contact-after-death",
        follow_up(at(3, **{DEATH: "2023-04-01", CONTACT: "2023-06-01"})),
        P,
        3,
        CONTACT,
        "found 2023-06-01 for a patient who died on 2023-04-01",
    ),
    # data after death or last contact
    case(
        "dose-after-death",
        follow_up(at(2, **{DEATH: "2023-02-20", CONTACT: ""})),
        D,
        3,
        "dose_date",
        "found 2023-02-21, after the patient's death_date (2023-02-20); expected no dose after it",
    ),
    case(
        "measurement-after-death",
        follow_up(at(2, **{DEATH: "2023-03-01", CONTACT: "2023-03-01"})),
        M,
        4,
        "measured_on",
        "found 2023-03-15, after the patient's death_date (2023-03-01); expected no measurement",
    ),
    case(
        "dose-after-last-contact",
        follow_up(at(3, **{CONTACT: "2023-02-22"})),
        D,
        5,
        "dose_date",
        "found 2023-02-23, after the patient's last_contact_date (2023-02-22)",
    ),
    case(
        "measurement-after-last-contact",
        follow_up(at(3, **{CONTACT: "2023-03-19"})),
        M,
        8,
        "measured_on",
        "found 2023-03-20, after the patient's last_contact_date (2023-03-19)",
    ),
    case(
        "rad-after-death",
        follow_up(at(2, **{DEATH: "2023-06-01", CONTACT: "", RAD: "2023-06-02"})),
        P,
        2,
        RAD,
        "found 2023-06-02, after death_date (2023-06-01); expected a date on or before it",
    ),
    case(
        "rad-after-last-contact",
        follow_up(at(3, **{RAD: "2023-07-01"})),
        P,
        3,
        RAD,
        "found 2023-07-01, after last_contact_date (2023-06-01)",
    ),
    # control characters
    case(
        "control-character-in-death",
        follow_up(at(2, **{DEATH: "2023-06-01\x07", CONTACT: ""})),
        P,
        2,
        DEATH,
        CONTROL + " '\\x07'",
    ),
    case(
        "control-character-in-contact",
        follow_up(at(3, **{CONTACT: "2023-06-\x0001"})),
        P,
        3,
        CONTACT,
        CONTROL + " '\\x00'",
    ),
    case(
        "bidi-override-in-rad",
        follow_up(at(2, **{RAD: "\u202e2023-05-01"})),
        P,
        2,
        RAD,
        CONTROL + " '\\u202e'",
    ),
    # header spelling: names are matched exactly, a variant is refused (not ignored)
    case(
        "header-capitalised",
        add_column(P, "Death_Date", ""),
        P,
        1,
        "Death_Date",
        "found the column name 'Death_Date'; expected it written death_date",
    ),
    case(
        "header-upper-case",
        add_column(P, "LAST_CONTACT_DATE", "2023-06-01"),
        P,
        1,
        "LAST_CONTACT_DATE",
        "expected it written last_contact_date",
    ),
    case(
        "header-camel-case",
        add_column(P, "RadiographicProgressionDate", ""),
        P,
        1,
        "RadiographicProgressionDate",
        "column names are matched exactly",
    ),
    case(
        "header-spaces",
        follow_up(add_column(P, "death date", "")),
        P,
        1,
        "death date",
        "expected it written death_date",
    ),
    # file encodings and layouts with the columns
    case(
        "bom-crlf-dose-after-death",
        follow_up(
            at(2, **{DEATH: "2023-02-20", CONTACT: ""}),
            _all_files(lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n")),
        ),
        D,
        3,
        "dose_date",
        "after the patient's death_date (2023-02-20)",
    ),
    case(
        "crlf-bad-contact",
        follow_up(at(3, **{CONTACT: "2023-6-1"}), _all_files(lambda b: b.replace(b"\n", b"\r\n"))),
        P,
        3,
        CONTACT,
        "found '2023-6-1'; expected a date",
    ),
    case(
        "columns-reordered-living-without-contact",
        follow_up(at(2, **{CONTACT: ""}), reorder(P, SHUFFLED)),
        P,
        2,
        CONTACT,
        "empty cell; " + NO_CONTACT,
    ),
    case(
        "columns-reordered-rad-after-death",
        follow_up(
            at(3, **{DEATH: "2023-04-01", CONTACT: "", RAD: "2023-05-01"}), reorder(P, SHUFFLED)
        ),
        P,
        3,
        RAD,
        "after death_date (2023-04-01)",
    ),
    # only the radiographic column
    case(
        "only-rad-column-before-dose-1",
        add_column(P, RAD, "2022-01-01"),
        P,
        3,
        RAD,
        "before dose 1 (2023-01-12)",
    ),
]


@pytest.mark.parametrize(("change", "file", "row", "column", "phrase"), BAD_CASES)
def test_bad_follow_up_is_refused(tmp_path, change, file, row, column, phrase):
    folder = cohort(tmp_path)
    change(folder)
    assert_problem(run_validate(folder), file, row, column, phrase)


def test_every_follow_up_problem_is_listed_in_one_run(tmp_path):
    folder = cohort(tmp_path)
    follow_up(
        at(2, **{DEATH: "2023-02-20", CONTACT: "2023-02-19", RAD: "2023-03-01"}),
        at(3, **{CONTACT: "", RAD: "2099-01-01"}),
    )(folder)
    result = run_validate(folder)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "6 problems found" in result.stderr, result.stderr
    assert_problem(result, P, 2, CONTACT, "found 2023-02-19 for a patient who died on 2023-02-20")
    assert_problem(result, P, 2, RAD, "after death_date (2023-02-20)")
    assert_problem(result, P, 3, CONTACT, "empty cell; " + NO_CONTACT)
    assert_problem(result, P, 3, RAD, FUTURE)
    assert_problem(result, D, 3, "dose_date", "after the patient's death_date (2023-02-20)")
    assert_problem(result, M, 4, "measured_on", "after the patient's death_date (2023-02-20)")
    files = [line.split(",")[0] for line in problem_lines(result)]
    assert files == [f"  - {P}"] * 4 + [f"  - {D}", f"  - {M}"]


# A cell that is not a date is reported once: it is neither "empty" nor "alive".


def test_unreadable_contact_is_not_called_empty(tmp_path):
    folder = cohort(tmp_path)
    follow_up(at(2, **{CONTACT: "2023-13-01"}))(folder)
    assert_only_problem(run_validate(folder), P, 2, CONTACT, "found '2023-13-01'")


def test_unreadable_death_does_not_make_the_patient_living(tmp_path):
    folder = cohort(tmp_path)
    # Blank contact (allowed if dead) and a dose after the contact date of P2: neither is
    # judged while the death date cannot be read.
    follow_up(at(2, **{DEATH: "died", CONTACT: ""}), at(3, **{DEATH: "?", CONTACT: "2023-02-22"}))(
        folder
    )
    result = run_validate(folder)
    assert_problem(result, P, 2, DEATH, "found 'died'")
    assert_problem(result, P, 3, DEATH, "found '?'")
    assert len(problem_lines(result)) == 2, result.stderr


def test_control_character_is_reported_as_such_and_as_not_a_date(tmp_path):
    folder = cohort(tmp_path)
    follow_up(at(2, **{CONTACT: "2023-06-01\x1b"}))(folder)
    result = run_validate(folder)
    assert_problem(result, P, 2, CONTACT, CONTROL)
    assert_problem(result, P, 2, CONTACT, NOT_DATE)
    assert len(problem_lines(result)) == 2, result.stderr
    assert "\x1b" not in result.stderr


# --- valid edge cases --------------------------------------------------------------------

TODAY = dt.date.today().isoformat()

VALID_CASES = [
    pytest.param(lambda f: None, id="columns-absent"),
    pytest.param(follow_up(), id="all-living-with-contact"),
    pytest.param(follow_up(at(2, **{CONTACT: "2023-03-15"})), id="contact-on-last-measurement"),
    pytest.param(follow_up(contact=TODAY), id="contact-today"),
    pytest.param(follow_up(at(2, **{DEATH: "2023-06-01", CONTACT: ""})), id="dead-blank-contact"),
    pytest.param(
        follow_up(at(3, **{DEATH: "2023-06-01", CONTACT: "2023-06-01"})),
        id="dead-contact-equals-death",
    ),
    pytest.param(
        follow_up(
            at(2, **{DEATH: "2023-02-21", CONTACT: ""}),
            lambda f: set_cells(f / M, 4, measured_on="2023-02-21"),
        ),
        id="death-on-day-of-last-dose-and-measurement",
    ),
    pytest.param(follow_up(death="2023-06-01", contact=""), id="everyone-dead"),
    pytest.param(
        lambda f: add_column(P, DEATH, "2023-06-01")(f), id="only-death-column-everyone-dead"
    ),
    pytest.param(
        follow_up(at(2, **{DEATH: "2023-06-01", CONTACT: "", RAD: "2023-06-01"})),
        id="rad-on-day-of-death",
    ),
    pytest.param(follow_up(at(3, **{RAD: "2023-06-01"})), id="rad-on-last-contact"),
    pytest.param(follow_up(at(2, **{RAD: "2023-01-10"})), id="rad-on-dose-1"),
    pytest.param(add_column(P, RAD, ""), id="only-rad-column-blank"),
    pytest.param(
        lambda f: (add_column(P, RAD, "")(f), set_cells(f / P, 2, **{RAD: "2023-04-01"})),
        id="only-rad-column-with-a-date",
    ),
    pytest.param(follow_up(at(3, **{DEATH: "  "})), id="death-blank-with-spaces"),
    pytest.param(follow_up(at(2, **{CONTACT: " 2023-06-01 "})), id="contact-with-spaces"),
    pytest.param(
        follow_up(_all_files(lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"))),
        id="bom-crlf",
    ),
    pytest.param(
        follow_up(
            at(2, **{DEATH: "2023-06-01", CONTACT: ""}),
            _all_files(lambda b: b.replace(b"\n", b"\r\n") + b"\r\n"),
        ),
        id="crlf-blank-trailing-line",
    ),
    pytest.param(follow_up(reorder(P, SHUFFLED)), id="columns-reordered"),
]


@pytest.mark.parametrize("change", VALID_CASES)
def test_valid_follow_up_passes(tmp_path, change):
    folder = cohort(tmp_path)
    change(folder)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_follow_up_dates_are_typed_whatever_the_column_order(tmp_path):
    folder = cohort(tmp_path)
    follow_up(at(2, **{DEATH: "2023-06-01", CONTACT: ""}), reorder(P, SHUFFLED))(folder)
    patients = load_cohort(folder).patients.set_index("patient_id")
    assert patients.loc["P1", DEATH] == pd.Timestamp("2023-06-01")
    assert pd.isna(patients.loc["P1", CONTACT])
    assert patients.loc["P2", CONTACT] == pd.Timestamp("2023-06-01")
    assert pd.isna(patients.loc["P2", DEATH])
    assert patients[RAD].isna().all()


def test_absent_columns_stay_absent(tmp_path):
    patients = load_cohort(cohort(tmp_path)).patients
    assert not set(config.FOLLOW_UP_COLUMNS) & set(patients.columns)
