"""Hardening of reading and validation, round two.

Identifier columns (HIPAA Safe Harbor categories, matched on normalised header
words), identifier-shaped ``patient_id`` values, files that are not the expected
kind of CSV (other separators, UTF-16, two byte-order marks, folders and FIFOs),
control characters, Excel's unnamed trailing columns, doses before the first human
use of 177Lu-PSMA-617, NFC/NFD spellings of one id, parsing bytes that were read
once, and the direction of the imports between ``load`` and ``validate``.

Bad-input cases start from :func:`cohorts.minimal_cohort` (line map in
tests/test_validate.py), make one change and run ``psma-rwe validate``: exit 2 and
the problem line ``file, row N, column C: ...`` with a key phrase.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest
from cohorts import dose, meas, minimal_cohort, patient, prior, write_cohort
from test_validate import (
    IDENTIFIER,
    add_column,
    append_line,
    assert_problem,
    replace_bytes,
    run_validate,
    set_cells,
)

from analysis import config, identifiers, load, validate
from analysis.errors import Problem, PsmaRweError, printable
from analysis.load import load_cohort, read_input_bytes

P, D, M, T = config.PATIENTS, config.DOSES, config.MEASUREMENTS, config.PRIOR_THERAPIES


# --- imports flow one way: load → validate → records ----------------------------------


def _imported_modules(module: str) -> set[str]:
    path = config.PACKAGE_DIR / f"{module}.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_validate_and_records_do_not_import_load():
    assert not {"analysis.load"} & _imported_modules("validate")
    assert not {"analysis.load", "analysis.validate"} & _imported_modules("records")
    assert "analysis.validate" in _imported_modules("load")


def test_importing_validate_does_not_import_load():
    code = "import sys, analysis.validate; print('analysis.load' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_still_offers_the_names_the_package_imports_from_it():
    from analysis import load, records

    for name in ("LINE", "Cohort", "Codes", "lookup", "sort_stable", "text_codes"):
        assert getattr(load, name) is getattr(records, name)


# --- helpers -------------------------------------------------------------------------


def cohort(tmp_path: Path) -> Path:
    return minimal_cohort(tmp_path / "cohort")


def problem_lines(result, file: str | None = None) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    return [line for line in lines if file is None or line.startswith(f"  - {file}")]


def assert_only_problem(result, file, row, column, phrase) -> None:
    """Exit 2, this problem, and no other problem for the file (one clear line)."""
    assert_problem(result, file, row, column, phrase)
    assert len(problem_lines(result, file)) == 1, result.stderr


def assert_no_raw_controls(result) -> None:
    raw = [c for c in result.stderr if not c.isprintable() and c != "\n"]
    assert not raw, (raw, result.stderr)


def rewrite(file: str, change) -> callable:
    """Apply ``change`` (bytes -> bytes) to one file."""

    def apply(folder: Path) -> None:
        path = folder / file
        path.write_bytes(change(path.read_bytes()))

    return apply


# --- 1. identifier columns (HIPAA Safe Harbor) ---------------------------------------

NAMES = "names"
GEO = "geographic subdivisions smaller than a state"
DATES = "dates directly related to the individual"

REFUSED_HEADERS = [
    # (header as written, Safe Harbor category)
    ("Name", NAMES),
    ("first_name", NAMES),
    ("FirstName", NAMES),
    ("LAST NAME", NAMES),
    ("patient_name", NAMES),
    ("patient.name", NAMES),
    ("Surname", NAMES),
    ("given-name", NAMES),
    ("initials", NAMES),
    ("dob", DATES),
    ("PatientDOB", DATES),
    ("birthdate", DATES),
    ("birth_date", DATES),
    ("DateOfBirth", DATES),
    ("date of birth", DATES),
    ("admission_date", DATES),
    ("DischargeDate", DATES),
    ("zip", GEO),
    ("ZIP", GEO),
    ("zip_code", GEO),
    ("ZipCode", GEO),
    ("postal-code", GEO),
    ("address", GEO),
    ("home_address1", GEO),
    ("Street", GEO),
    ("city", GEO),
    ("County", GEO),
    ("phone", "telephone numbers"),
    ("Telephone", "telephone numbers"),
    ("mobile_phone", "telephone numbers"),
    ("fax", "fax numbers"),
    ("email", "e-mail addresses"),
    ("E-mail", "e-mail addresses"),
    ("e_mail", "e-mail addresses"),
    ("EmailAddress", "e-mail addresses"),
    ("ssn", "social security numbers"),
    ("SocialSecurityNumber", "social security numbers"),
    ("social security number", "social security numbers"),
    ("mrn", "medical record numbers"),
    ("MRN_Number", "medical record numbers"),
    ("MedicalRecordNumber", "medical record numbers"),
    ("medical.record.number", "medical record numbers"),
    ("health_plan_id", "health plan beneficiary numbers"),
    ("account_number", "account numbers"),
    ("license_number", "certificate/license numbers"),
    ("LicenceNumber", "certificate/license numbers"),
    ("vehicle_id", "vehicle identifiers"),
    ("license_plate", "vehicle identifiers"),
    ("device_serial", "device identifiers and serial numbers"),
    ("SerialNumber", "device identifiers and serial numbers"),
    ("url", "web URLs"),
    ("Website", "web URLs"),
    ("ip_address", "IP addresses"),
    ("IPAddress", "IP addresses"),
    ("fingerprint", "biometric identifiers"),
    ("voice print", "biometric identifiers"),
    ("photo", "full-face photographs and comparable images"),
    ("face_image", "full-face photographs and comparable images"),
]


@pytest.mark.parametrize(
    ("header", "category"), REFUSED_HEADERS, ids=[h for h, _ in REFUSED_HEADERS]
)
def test_identifier_header_is_refused_with_its_category(tmp_path, header, category):
    folder = cohort(tmp_path)
    file = config.INPUT_FILES[len(header) % 4]  # spread over the four files
    add_column(file, header, "x")(folder)
    result = run_validate(folder)
    assert_only_problem(result, file, 1, header, IDENTIFIER)
    assert f"HIPAA Safe Harbor category {category})" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("header", "category"), REFUSED_HEADERS, ids=[h for h, _ in REFUSED_HEADERS]
)
def test_identifier_category_of_header(header, category):
    assert identifiers.identifier_category(header)[0] == category


ACCEPTED_HEADERS = [
    # contract columns of any file, and the exempt future date columns
    *sorted({col for cols in config.COLUMNS.values() for col in cols}),
    *sorted(config.IDENTIFIER_EXEMPT_COLUMNS),
    "Death Date",
    "LastContactDate",
    # names of things, not of people
    "agent_name",
    "AgentName",
    "drug name",
    "test_name",
    "site_name",
    # words that only contain an identifier term
    "site",
    "rename_flag",
    "surnameless",
    "zipper",
    "phoneme",
    "emailed",
    "dobutamine",
    "citystate",
]


@pytest.mark.parametrize("header", ACCEPTED_HEADERS)
def test_non_identifier_header_is_accepted(header):
    assert identifiers.identifier_category(header) is None


@pytest.mark.parametrize("header", ["agent_name", "site", "Death Date", "last_contact_date"])
def test_extra_non_identifier_column_validates(tmp_path, header):
    folder = cohort(tmp_path)
    add_column(T, header, "x")(folder)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("DateOfBirth", ("date", "of", "birth")),
        ("MRNNumber", ("mrn", "number")),
        ("E-mail", ("e", "mail")),
        ("patient.name", ("patient", "name")),
        ("Zip Code", ("zip", "code")),
        ("address1", ("address", "1")),
        ("ＤＯＢ", ("dob",)),  # full-width letters (NFKC)
        ("  ssn  ", ("ssn",)),
    ],
)
def test_header_names_are_normalised_to_words(header, words):
    assert identifiers.header_words(header) == words


def test_contract_columns_never_match_a_rule():
    for cols in config.COLUMNS.values():
        for col in cols:
            assert identifiers.identifier_category(col) is None, col


def test_every_category_has_terms_and_terms_are_normalised():
    for category, terms in config.IDENTIFIER_RULES.items():
        assert terms, category
        for term in terms:
            assert term == term.lower() and not set(term) & set(" -."), term
            assert identifiers.identifier_category(term)[0] == category, term


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        ("na\x07me", "na\\x07me"),
        ("\u202eeman", "\\u202eeman"),
        ("site\x1b[31m", "site\\x1b[31m"),
        ("dob\x00", "dob\\x00"),
    ],
)
def test_control_characters_in_header_are_refused_and_shown_escaped(tmp_path, header, shown):
    folder = cohort(tmp_path)
    lines = (folder / P).read_bytes().splitlines()
    lines = [lines[0] + b"," + header.encode()] + [line + b",x" for line in lines[1:]]
    (folder / P).write_bytes(b"\n".join(lines) + b"\n")
    result = run_validate(folder)
    assert_problem(result, P, 1, shown, "control character")
    assert_no_raw_controls(result)


def test_problem_and_error_render_control_characters_escaped():
    problem = Problem("a\x07.csv", 3, "col\u202e", "found 'x\x1b[2J'")
    assert str(problem) == "a\\x07.csv, row 3, column col\\u202e: found 'x\\x1b[2J'"
    error = PsmaRweError("folder\x07: 1 problem\nsecond line", [problem])
    assert error.render().splitlines()[:2] == ["folder\\x07: 1 problem", "second line"]
    assert printable("plain é text") == "plain é text"


# --- 2. patient_id values that look like direct identifiers ----------------------------

ID_VALUES = [
    ("123-45-6789", "social security number"),
    ("123 45 6789", "social security number"),
    ("123456789", "social security number"),
    ("jane.doe@example.org", "e-mail address"),
    ("a@b.co", "e-mail address"),
    ("MRN123", "medical record number"),
    ("MRN-00123", "medical record number"),
    ("mrn: 55", "medical record number"),
    ("Mrn_7", "medical record number"),
    ("MedicalRecord 42", "medical record number"),
]


def _rename_patient(folder: Path, old: str, new: str) -> None:
    """Give patient ``old`` the id ``new`` in every file (so that only the id is wrong)."""
    for name in config.INPUT_FILES:
        path = folder / name
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        quoted = f'"{new}"' if "," in new else new
        lines = [
            quoted + line[len(old) :] if line.startswith(old + ",") else line for line in lines
        ]
        path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize(("value", "why"), ID_VALUES, ids=[v for v, _ in ID_VALUES])
def test_identifier_shaped_patient_id_is_refused_without_echoing_it(tmp_path, value, why):
    folder = cohort(tmp_path)
    _rename_patient(folder, "P2", value)
    result = run_validate(folder)
    assert_problem(result, P, 3, "patient_id", why)
    assert_problem(result, D, 4, "patient_id", why)
    assert_problem(result, M, 6, "patient_id", why)
    assert_problem(result, T, 4, "patient_id", why)
    assert value not in result.stderr  # the identifier is never printed


@pytest.mark.parametrize("value", ["123-45-6789", "MRN-00123", "x@y.org"])
def test_identifier_shaped_orphan_is_reported_once_without_echo(tmp_path, value):
    folder = cohort(tmp_path)
    append_line(M, f"{value},2023-01-05,psa,10,ng/mL")(folder)
    result = run_validate(folder)
    assert_only_problem(result, M, 9, "patient_id", "not a direct identifier")
    assert value not in result.stderr


@pytest.mark.parametrize(
    "value",
    ["P001", "PT-0001", "SYN-0001", "SYN-2023-0042", "12345678", "1234567890", "MRNA-1", "P1@"],
)
def test_study_codes_are_accepted(tmp_path, value):
    folder = cohort(tmp_path)
    _rename_patient(folder, "P2", value)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr


def test_shipped_synthetic_ids_pass():
    ids = (config.SYNTHETIC_DIR / P).read_text(encoding="utf-8").splitlines()[1:]
    assert ids
    assert all(identifiers.id_value_reason(line.split(",")[0]) is None for line in ids)


# --- 3a. other separators, encodings and byte-order marks --------------------------------


def _with_separator(sep: str):
    return rewrite(D, lambda b: b.replace(b",", sep.encode()))


FORMAT_CASES = [
    pytest.param(
        _with_separator(";"), D, 1, "the header is separated by ';', expected ','", id="semicolon"
    ),
    pytest.param(
        _with_separator("\t"), D, 1, "the header is separated by a tab, expected ','", id="tab"
    ),
    pytest.param(
        _with_separator("|"), D, 1, "the header is separated by '|', expected ','", id="pipe"
    ),
    pytest.param(
        rewrite(P, lambda b: b"\xef\xbb\xbf" + b.replace(b",", b";").replace(b"\n", b"\r\n")),
        P,
        1,
        "separated by ';'",
        id="semicolon-bom-crlf",
    ),
    pytest.param(
        rewrite(M, lambda b: b"sep=;\n" + b.replace(b",", b";")),
        M,
        1,
        "separator line 'sep=;': the file is separated by ';', expected ','",
        id="excel-sep-semicolon-line",
    ),
    pytest.param(
        rewrite(M, lambda b: b"sep=\t\n" + b.replace(b",", b"\t")),
        M,
        1,
        "the file is separated by a tab",
        id="excel-sep-tab-line",
    ),
    pytest.param(
        rewrite(T, lambda b: b.decode().encode("utf-16-le")),
        T,
        None,
        "UTF-16 text without a byte-order mark",
        id="utf-16-le-no-bom",
    ),
    pytest.param(
        rewrite(P, lambda b: b.decode().encode("utf-16-be")),
        P,
        None,
        "UTF-16 text without a byte-order mark",
        id="utf-16-be-no-bom",
    ),
    pytest.param(
        rewrite(D, lambda b: b.decode().encode("utf-16")),
        D,
        None,
        "is UTF-16 text (byte-order mark",
        id="utf-16-with-bom",
    ),
    pytest.param(
        rewrite(M, lambda b: b"\xef\xbb\xbf\xef\xbb\xbf" + b),
        M,
        1,
        "starts with two byte-order marks",
        id="double-bom",
    ),
]


@pytest.mark.parametrize(("change", "file", "row", "phrase"), FORMAT_CASES)
def test_wrong_format_is_one_clear_problem(tmp_path, change, file, row, phrase):
    folder = cohort(tmp_path)
    change(folder)
    result = run_validate(folder)
    assert_only_problem(result, file, row, None, phrase)
    assert "required column is missing" not in result.stderr


SEP_LINE_CASES = [
    pytest.param(rewrite(D, lambda b: b"sep=,\n" + b), id="sep-line"),
    pytest.param(
        rewrite(D, lambda b: b"sep=,\r\n" + b.replace(b"\n", b"\r\n")), id="sep-line-crlf"
    ),
    pytest.param(rewrite(D, lambda b: b"\xef\xbb\xbfsep=,\n" + b), id="bom-sep-line"),
    pytest.param(
        lambda f: [rewrite(n, lambda b: b"sep=,\n" + b)(f) for n in config.INPUT_FILES],
        id="sep-line-every-file",
    ),
]


@pytest.mark.parametrize("change", SEP_LINE_CASES)
def test_excel_sep_comma_line_is_skipped(tmp_path, change):
    folder = cohort(tmp_path)
    change(folder)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("line", "column", "value", "phrase"),
    [
        (3, "dose_date", "2023/02/21", "expected a date written YYYY-MM-DD"),
        (5, "activity_gbq", "abc", "expected a number"),
        (2, "dose_number", "1st", "expected a whole number"),
    ],
)
def test_rows_after_a_sep_line_are_reported_as_editor_lines(tmp_path, line, column, value, phrase):
    folder = cohort(tmp_path)
    set_cells(folder / D, line, **{column: value})
    rewrite(D, lambda b: b"sep=,\n" + b)(folder)
    result = run_validate(folder)
    assert_problem(result, D, line + 1, column, phrase)


def test_sep_line_shifts_header_problems_to_line_2(tmp_path):
    folder = cohort(tmp_path)
    add_column(D, "MRN", "1")(folder)
    rewrite(D, lambda b: b"sep=,\n" + b)(folder)
    assert_problem(run_validate(folder), D, 2, "MRN", IDENTIFIER)


def test_sep_line_rows_match_the_plain_file(tmp_path):
    plain = cohort(tmp_path)
    shifted = minimal_cohort(tmp_path / "shifted")
    for name in config.INPUT_FILES:
        rewrite(name, lambda b: b"sep=,\n" + b)(shifted)
    a, b = load_cohort(plain), load_cohort(shifted)
    for field in ("patients", "doses", "measurements", "prior_therapies"):
        assert getattr(a, field).equals(getattr(b, field)), field


# --- 3b. control characters in cells ---------------------------------------------------

CONTROL_CASES = [
    ("\x00", "\\x00"),
    ("\x07", "\\x07"),
    ("\x1b", "\\x1b"),
    ("\x08", "\\x08"),
    ("\x0b", "\\x0b"),
    ("\x0c", "\\x0c"),
    ("\x1f", "\\x1f"),
    ("\x7f", "\\x7f"),
    ("\x85", "\\x85"),
    ("\u202e", "\\u202e"),
    ("\u2066", "\\u2066"),
]


@pytest.mark.parametrize(("char", "shown"), CONTROL_CASES, ids=[s for _, s in CONTROL_CASES])
@pytest.mark.parametrize(
    ("file", "line", "column", "value"),
    [
        (P, 3, "discontinuation_reason", "progre{c}ssion"),
        (T, 2, "agent", "{c}leuprolide"),  # at the start: not stripped away
        (M, 4, "unit", "ng/mL{c}"),  # at the end
    ],
    ids=["middle", "start", "end"],
)
def test_control_character_in_a_cell_is_refused(tmp_path, char, shown, file, line, column, value):
    folder = cohort(tmp_path)
    set_cells(folder / file, line, **{column: value.format(c=char)})
    result = run_validate(folder)
    assert_problem(result, file, line, column, f"holds the control character '{shown}'")
    assert_no_raw_controls(result)


def test_nul_in_patient_id_is_refused_everywhere_it_occurs(tmp_path):
    folder = cohort(tmp_path)
    set_cells(folder / M, 3, patient_id="P1\x00")
    result = run_validate(folder)
    assert_problem(result, M, 3, "patient_id", "control character '\\x00'")
    assert_no_raw_controls(result)


@pytest.mark.parametrize(
    "value",
    ["progression\tpain", "progression\npain", "progression\r\npain", "\tprogression "],
    ids=["tab", "lf", "crlf", "leading-tab"],
)
def test_tab_and_line_breaks_in_quoted_cells_are_accepted(tmp_path, value):
    folder = cohort(tmp_path)
    set_cells(folder / P, 3, discontinuation_reason=value)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr


def test_control_characters_in_messages_of_other_rules_are_escaped(tmp_path):
    folder = cohort(tmp_path)
    set_cells(folder / M, 4, test="psa\x1b[2J", unit="\u202eng/mL")
    result = run_validate(folder)
    assert_problem(result, M, 4, "test", "unknown test")
    assert_no_raw_controls(result)


# --- 3c. Excel's unnamed trailing columns --------------------------------------------------


def _trailing_commas(n: int, file: str = P):
    return rewrite(file, lambda b: b.replace(b"\n", b"," * n + b"\n"))


def _empty_column_after_first(file: str):
    """An unnamed, empty column between the first and the second column."""
    return rewrite(file, lambda b: b"\n".join(ln.replace(b",", b",,", 1) for ln in b.split(b"\n")))


UNNAMED_VALID = [
    pytest.param(_trailing_commas(1), id="one-empty-column"),
    pytest.param(_trailing_commas(2), id="two-empty-columns"),
    pytest.param(_trailing_commas(5, M), id="five-empty-columns-measurements"),
    pytest.param(
        lambda f: [_trailing_commas(3, n)(f) for n in config.INPUT_FILES], id="every-file"
    ),
    pytest.param(
        lambda f: (
            _trailing_commas(2, D)(f),
            rewrite(D, lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"))(f),
        ),
        id="bom-crlf",
    ),
    pytest.param(rewrite(D, lambda b: b.replace(b"\n", b", ,\n")), id="blank-cells"),
    pytest.param(_empty_column_after_first(T), id="empty-column-in-the-middle"),
]


@pytest.mark.parametrize("change", UNNAMED_VALID)
def test_empty_unnamed_columns_are_accepted(tmp_path, change):
    folder = cohort(tmp_path)
    change(folder)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("change", "file", "row", "phrase"),
    [
        pytest.param(
            lambda f: (_trailing_commas(2, D)(f), replace_bytes(D, b"7.4,,\nP2", b"7.4,,x\nP2")(f)),
            D,
            3,
            "column number 6 has no name in the header but holds data (in 1 row)",
            id="data-in-second-unnamed",
        ),
        pytest.param(
            lambda f: (
                _trailing_commas(1, M)(f),
                rewrite(M, lambda b: b.replace(b"ng/mL,\n", b"ng/mL,note\n"))(f),
            ),
            M,
            2,
            "column number 6 has no name in the header but holds data (in 6 rows)",
            id="data-in-many-rows",
        ),
    ],
)
def test_unnamed_column_with_data_is_reported_once(tmp_path, change, file, row, phrase):
    folder = cohort(tmp_path)
    change(folder)
    result = run_validate(folder)
    assert_only_problem(result, file, row, None, phrase)
    assert "appears twice" not in result.stderr


# --- 3d. doses before the first human use of 177Lu-PSMA-617 ----------------------------------


@pytest.mark.parametrize(
    ("line", "date"),
    [(2, "2013-12-31"), (4, "2010-06-15"), (2, "1999-01-01"), (4, "1900-01-01")],
)
def test_dose_before_2014_is_refused(tmp_path, line, date):
    folder = cohort(tmp_path)
    set_cells(folder / D, line, dose_date=date)
    result = run_validate(folder)
    assert_problem(
        result, D, line, "dose_date", "before 2014-01-01, the first human use of 177Lu-PSMA-617"
    )


def test_dose_on_2014_01_01_is_accepted(tmp_path):
    folder = write_cohort(
        tmp_path / "early",
        [patient("P1")],
        [dose("P1", 1, "2014-01-01"), dose("P1", 2, "2014-02-12")],
        [meas("P1", "2013-12-20", "psa", 10), meas("P1", "2014-02-01", "psa", 4)],
        [prior("P1", "docetaxel", "taxane", "2012-01-01")],
    )
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr


def test_earliest_dose_date_is_a_config_constant():
    assert config.EARLIEST_DOSE_DATE == "2014-01-01"


# --- 3e. NFC and NFD spellings of one patient_id ----------------------------------------------

NFC = unicodedata.normalize("NFC", "PÉ1")
NFD = unicodedata.normalize("NFD", "PÉ1")


@pytest.mark.parametrize(
    ("in_patients", "elsewhere"),
    [(NFC, NFD), (NFD, NFC), (NFD, NFD)],
    ids=["nfc-patients-nfd-rest", "nfd-patients-nfc-rest", "nfd-everywhere"],
)
def test_nfc_and_nfd_ids_join(tmp_path, in_patients, elsewhere):
    assert NFC != NFD
    folder = cohort(tmp_path)
    _rename_patient(folder, "P2", elsewhere)
    set_cells(folder / P, 3, patient_id=in_patients)
    result = run_validate(folder)
    assert result.exit_code == 0, result.stderr
    c = load_cohort(folder)
    for frame in (c.patients, c.doses, c.measurements, c.prior_therapies):
        assert NFC in set(frame["patient_id"]) and NFD not in set(frame["patient_id"])


def test_nfc_and_nfd_spellings_are_one_patient_listed_twice(tmp_path):
    folder = cohort(tmp_path)
    set_cells(folder / P, 2, patient_id=NFC)
    set_cells(folder / P, 3, patient_id=NFD)
    assert_problem(run_validate(folder), P, 3, "patient_id", "appears again (first at row 2)")


def test_free_text_is_nfc_too(tmp_path):
    folder = cohort(tmp_path)
    set_cells(folder / T, 2, agent=unicodedata.normalize("NFD", "lévothyroxine"))
    set_cells(folder / T, 3, agent=unicodedata.normalize("NFC", "lévothyroxine"))
    prior_rows = load_cohort(folder).prior_therapies
    assert prior_rows["agent_key"].nunique() == 2  # docetaxel and the one agent


# --- 3f. folders, FIFOs and other non-files in place of a CSV file ------------------------------


@pytest.mark.parametrize("file", config.INPUT_FILES)
def test_folder_in_place_of_a_file(tmp_path, file):
    folder = cohort(tmp_path)
    (folder / file).unlink()
    (folder / file).mkdir()
    assert_only_problem(run_validate(folder), file, None, None, "is a folder")
    assert "expected a CSV file" in run_validate(folder).stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("file", [P, M])
def test_fifo_in_place_of_a_file_is_reported_without_blocking(tmp_path, file):
    folder = cohort(tmp_path)
    (folder / file).unlink()
    os.mkfifo(folder / file)
    results = []
    worker = threading.Thread(target=lambda: results.append(run_validate(folder)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "validate blocked on the FIFO"
    assert_only_problem(results[0], file, None, None, "is a FIFO (named pipe)")


def test_link_to_a_folder_and_broken_link(tmp_path):
    folder = cohort(tmp_path)
    (folder / D).unlink()
    (folder / D).symlink_to(tmp_path)
    (folder / T).unlink()
    (folder / T).symlink_to(tmp_path / "nowhere.csv")
    result = run_validate(folder)
    assert_only_problem(result, D, None, None, "is a folder")
    assert_only_problem(result, T, None, None, "file not found")


def test_missing_file_is_still_not_found(tmp_path):
    folder = cohort(tmp_path)
    (folder / M).unlink()
    assert_only_problem(run_validate(folder), M, None, None, "file not found")


# --- 4. parse the bytes that were read (and hashed) ----------------------------------------------


def test_read_input_bytes_reads_each_input_file(tmp_path):
    folder = cohort(tmp_path)
    contents = read_input_bytes(folder)
    assert set(contents) == set(config.INPUT_FILES)
    for name, data in contents.items():
        assert data == (folder / name).read_bytes()


def test_load_cohort_parses_the_given_bytes_not_the_changed_file(tmp_path):
    folder = cohort(tmp_path)
    contents = read_input_bytes(folder)
    # After reading: P1's age changes on disk, a measurement becomes invalid,
    # and a file disappears.
    set_cells(folder / P, 2, age_at_first_dose="99")
    set_cells(folder / M, 4, value="high")
    (folder / T).unlink()
    c = load_cohort(folder, contents=contents)
    assert c.patients.set_index("patient_id").loc["P1", "age_at_first_dose"] == 70
    assert len(c.measurements) == 7 and len(c.prior_therapies) == 3
    assert c.source == folder
    with pytest.raises(PsmaRweError):
        load_cohort(folder)  # the files on disk are now bad


def test_load_cohort_reports_problems_of_the_given_bytes_with_editor_lines(tmp_path):
    folder = cohort(tmp_path)
    contents = read_input_bytes(folder)
    bad = contents[D].replace(b"2023-02-21", b"2023/02/21")
    with pytest.raises(PsmaRweError) as info:
        load_cohort(folder, contents={**contents, D: bad})
    assert Problem(D, 3, "dose_date", "found '2023/02/21'; expected a date written YYYY-MM-DD") in (
        info.value.problems
    )


def test_load_cohort_with_a_file_missing_from_the_contents(tmp_path):
    folder = cohort(tmp_path)
    contents = read_input_bytes(folder)
    del contents[M]
    with pytest.raises(PsmaRweError) as info:
        load_cohort(folder, contents=contents)
    assert [(p.file, p.row) for p in info.value.problems] == [(M, None)]


def test_load_cohort_with_contents_equals_load_from_disk(tmp_path):
    folder = cohort(tmp_path)
    a = load_cohort(folder)
    b = load_cohort(folder, contents=read_input_bytes(folder))
    for field in ("patients", "doses", "measurements", "prior_therapies"):
        assert getattr(a, field).equals(getattr(b, field)), field


def test_each_file_is_read_once(tmp_path, monkeypatch):
    folder = cohort(tmp_path)
    opened = []
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda p, *a, **k: (opened.append(Path(p).name), real_open(p, *a, **k))[1]
    )
    read_input_bytes(folder)
    assert sorted(opened) == sorted(config.INPUT_FILES)


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (lambda f: (f / D).unlink(), "file not found"),
        (lambda f: ((f / D).unlink(), (f / D).mkdir()), "is a folder"),
    ],
    ids=["missing", "folder"],
)
def test_read_input_bytes_refuses_missing_files_and_folders(tmp_path, change, phrase):
    folder = cohort(tmp_path)
    change(folder)
    with pytest.raises(PsmaRweError) as info:
        read_input_bytes(folder)
    assert [(p.file, p.row, p.column) for p in info.value.problems] == [(D, None, None)]
    assert phrase in info.value.problems[0].message


def test_read_input_bytes_of_a_missing_folder(tmp_path):
    with pytest.raises(PsmaRweError, match="not a folder"):
        read_input_bytes(tmp_path / "nowhere")


def test_control_character_patterns_of_load_and_validate_agree():
    assert load.CONTROL_CHARACTERS == validate.CONTROL_CHARACTERS
