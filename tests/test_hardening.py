"""Hardening of ``psma-rwe build``: bad input, valid edge cases and faults.

Bad input
    Every case of tests/test_validate.py (one change to the minimal cohort) and
    cases on a copy of the shipped synthetic cohort go through ``psma-rwe build DATA
    --label bad --outputs OUT`` in-process.  Each must exit 2 with the problem
    named by file, row and column (file and row only for whole-file and ragged-row
    problems), leave no ``bad`` folder and no ``.building-*`` folder in OUT, and
    leave the version built in OUT once per module (``v1``, from the all-responders
    edge cohort) byte-for-byte as it was.
Valid edge cases
    One build per cohort (built on first use, shared by the tests): a mixed cohort
    (a patient with one dose, a patient with no PSA after dose 1, non-ASCII,
    HTML-special and 500-character free text), a cohort without a single responder,
    a cohort of one patient, and a cohort in which every patient responds (``v1``).
    The documents must give the right numbers in HTML and PDF, say in words what
    cannot be computed, and never print "None", "nan" or a dash in a sentence.
Faults
    The renderer or pandoc failing, an outputs folder that cannot be created or
    written, a full disk, a build killed with SIGKILL, leftovers of an earlier
    process with our PID and unusable labels: a clear one-line error (exit 2, no
    traceback) and nothing partial left behind.  SIGTERM and SIGINT are in
    tests/test_build.py.
"""

from __future__ import annotations

import errno
import hashlib
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from cohorts import dose, meas, minimal_cohort, patient, prior, write_cohort
from test_validate import (
    BAD_CASES,
    FUTURE,
    IDENTIFIER,
    NOT_DATE,
    NOT_NUMBER,
    NOT_WHOLE,
    ORPHAN,
    REQUIRED,
    add_column,
    assert_problem,
    case,
    cell,
    set_cells,
)
from typer.testing import CliRunner

from analysis import config
from analysis.build import LOCK_FILE, TMP_PREFIX, BuildLock, BuildReport, build, clean_stale_builds
from analysis.cli import app

pytestmark = pytest.mark.slow

P, D, M, T = config.PATIENTS, config.DOSES, config.MEASUREMENTS, config.PRIOR_THERAPIES
LABEL = "bad"


def sha256_tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_build(data: Path, outputs: Path, label: str = LABEL):
    args = ["build", str(data), "--label", label, "--outputs", str(outputs)]
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """An outputs folder holding one real version, ``v1``, and the SHA-256 of its files.

    ``v1`` is built from :func:`all_responder_cohort`, one of the valid edge cases,
    whose documents the edge-case tests read.
    """
    root = tmp_path_factory.mktemp("earlier")
    outputs = root / "outputs"
    report = build(all_responder_cohort(root / "cohort"), label="v1", outputs=outputs)
    return outputs, sha256_tree(report.path)


def assert_nothing_written(earlier) -> None:
    outputs, hashes = earlier
    # no folder for the failed label and no .building-* leftovers
    assert sorted(p.name for p in outputs.iterdir()) == ["v1"]
    assert sha256_tree(outputs / "v1") == hashes


def assert_one_line_error(result, *phrases: str) -> None:
    """Exit 2, no traceback, one ``error:`` line holding every phrase."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])


# --- bad input ---------------------------------------------------------------------------


def _bom_crlf(file: str):
    def change(folder: Path) -> None:
        path = folder / file
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))

    return change


#: Line map of data/synthetic used below: patients 2 PT-0001 (discontinued), 10 PT-0009
#: (ongoing), 22 PT-0021; doses 2 PT-0001 dose 1 on 2022-10-30, 50 PT-0012, 94 the last;
#: measurements 100 PT-0001 psa, 1234 PT-0009 psa, 1500 PT-0007 psa, 3000 PT-0019
#: platelets, 3487 the last (weight); prior_therapies 2 PT-0001, 60, 132 the last.
SYNTHETIC_CASES = [
    case("ecog-2.5-last-patient", cell(P, 22, "ecog", "2.5"), P, 22, "ecog", NOT_WHOLE),
    case(
        "height-in-metres",
        cell(P, 10, "height_cm", "1.658"),
        P,
        10,
        "height_cm",
        "expected a value from 120 to 220",
    ),
    case(
        "boolean-no",
        cell(P, 2, "de_novo_metastatic", "no"),
        P,
        2,
        "de_novo_metastatic",
        "true or false",
    ),
    case(
        "ongoing-with-reason",
        cell(P, 10, "discontinuation_reason", "toxicity"),
        P,
        10,
        "discontinuation_reason",
        "expected an empty cell when treatment_status is ongoing",
    ),
    case("identifier-Phone", add_column(P, "Phone", "555-0100"), P, 1, "Phone", IDENTIFIER),
    case(
        "dose-in-future-last-row",
        cell(D, 94, "dose_date", "2099-12-31"),
        D,
        94,
        "dose_date",
        FUTURE,
    ),
    case(
        "activity-decimal-comma",
        cell(D, 50, "activity_gbq", "7,37"),
        D,
        50,
        "activity_gbq",
        NOT_NUMBER,
    ),
    case("dose-number-1st", cell(D, 50, "dose_number", "1st"), D, 50, "dose_number", NOT_WHOLE),
    case("psa-value-n/a", cell(M, 1500, "value", "n/a"), M, 1500, "value", NOT_NUMBER),
    case(
        "platelets-unit-mg/L",
        cell(M, 3000, "unit", "mg/L"),
        M,
        3000,
        "unit",
        "unit 'mg/L' is not accepted for platelets",
    ),
    case(
        "measured-on-2022-02-29",
        cell(M, 3487, "measured_on", "2022-02-29"),
        M,
        3487,
        "measured_on",
        NOT_DATE,
    ),
    case("orphan-measurement", cell(M, 100, "patient_id", "PT-9999"), M, 100, "patient_id", ORPHAN),
    case(
        "line-numbers-with-bom-and-crlf",
        lambda f: (set_cells(f / M, 1234, value="high"), _bom_crlf(M)(f)),
        M,
        1234,
        "value",
        NOT_NUMBER,
    ),
    case(
        "unknown-class-last-row",
        cell(T, 132, "therapy_class", "chemo"),
        T,
        132,
        "therapy_class",
        "unknown therapy class 'chemo'",
    ),
    case("prior-start-empty", cell(T, 60, "start_date", ""), T, 60, "start_date", REQUIRED),
    case(
        "prior-after-dose-1",
        cell(T, 2, "start_date", "2023-12-01"),
        T,
        2,
        "start_date",
        "not before dose 1 (2022-10-30)",
    ),
]


def _cases():
    for param in BAD_CASES:
        yield pytest.param("minimal", *param.values, id=f"minimal-{param.id}")
    for param in SYNTHETIC_CASES:
        yield pytest.param("synthetic", *param.values, id=f"synthetic-{param.id}")


@pytest.mark.parametrize(("start", "change", "file", "row", "column", "phrase"), list(_cases()))
def test_bad_input_fails_the_build_and_writes_nothing(
    earlier, tmp_path, start, change, file, row, column, phrase
):
    data = tmp_path / "data"
    if start == "minimal":
        minimal_cohort(data)
    else:
        shutil.copytree(config.SYNTHETIC_DIR, data)
    change(data)
    result = run_build(data, earlier[0])
    assert_problem(result, file, row, column, phrase)
    assert "Traceback" not in result.output
    assert_nothing_written(earlier)


def test_enough_bad_input_cases_name_file_row_and_column():
    named = [p for p in (*BAD_CASES, *SYNTHETIC_CASES) if None not in p.values[2:4]]
    assert len(named) >= 40
    assert {p.values[1] for p in named} == set(config.INPUT_FILES)


def test_bad_input_does_not_even_create_the_outputs_folder(tmp_path):
    data = minimal_cohort(tmp_path / "data")
    set_cells(data / D, 3, dose_date="2023/02/21")
    outputs = tmp_path / "new" / "outputs"
    result = run_build(data, outputs)
    assert_problem(result, D, 3, "dose_date", NOT_DATE)
    assert not (tmp_path / "new").exists()


def test_problems_in_every_file_are_listed_by_one_failed_build(earlier, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(config.SYNTHETIC_DIR, data)
    set_cells(data / P, 5, ecog="9")
    set_cells(data / D, 7, activity_gbq="lots")
    set_cells(data / M, 2000, unit="ng/dL")
    set_cells(data / T, 100, therapy_class="hormonal")
    result = run_build(data, earlier[0])
    assert "4 problems found" in result.stderr
    assert_problem(result, P, 5, "ecog", "0 to 4")
    assert_problem(result, D, 7, "activity_gbq", NOT_NUMBER)
    assert_problem(result, M, 2000, "unit", "is not accepted")
    assert_problem(result, T, 100, "therapy_class", "unknown therapy class")
    assert_nothing_written(earlier)


# --- valid edge cases ------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
LONG_RACE = ("Mixed ancestry as self reported by the patient at enrolment " * 9)[:500].strip()
LONG_REASON = "中文 Ελληνικά " + "clinical and radiographic progression with pain; " * 10
NON_ASCII = ("Amérindien", "中文", "Ελληνικά")


def _labs(pid: str, baseline: str, after: str) -> list[dict[str, str]]:
    return [
        meas(pid, baseline, "hemoglobin", "12.5"),
        meas(pid, baseline, "platelets", 210),
        meas(pid, after, "hemoglobin", "9.5"),
        meas(pid, after, "platelets", 180),
    ]


def mixed_cohort(folder: Path) -> Path:
    """Four patients; responders P1 (after dose 1, one dose) and P3 (dose 2, PSA90 dose 3).

    P2 has no PSA after dose 1; P4 does not respond.  Race and ethnicity carry
    non-ASCII, HTML-special and 500-character text; P2's reason is 500+ characters.
    """
    return write_cohort(
        folder,
        [
            patient("P1", race="Amérindien", ethnicity="Ελληνικά"),
            patient(
                "P2",
                race=SCRIPT,
                treatment_status="discontinued",
                discontinuation_reason=LONG_REASON,
            ),
            patient("P3", race="中文", treatment_status="ongoing"),
            patient("P4", race=LONG_RACE, ethnicity=""),
        ],
        [
            dose("P1", 1, "2023-01-10"),
            dose("P2", 1, "2023-01-12"),
            dose("P2", 2, "2023-02-23"),
            dose("P3", 1, "2023-01-12"),
            dose("P3", 2, "2023-02-23"),
            dose("P3", 3, "2023-04-06"),
            dose("P4", 1, "2023-01-20"),
            dose("P4", 2, "2023-03-03"),
        ],
        [
            meas("P1", "2023-01-05", "psa", 100),
            meas("P1", "2023-02-10", "psa", 40),
            meas("P2", "2023-01-02", "psa", 50),
            meas("P3", "2023-01-05", "psa", 80),
            meas("P3", "2023-02-20", "psa", 60),
            meas("P3", "2023-03-15", "psa", 30),
            meas("P3", "2023-04-20", "psa", 5),
            meas("P4", "2023-01-15", "psa", 20),
            meas("P4", "2023-02-20", "psa", 25),
            meas("P4", "2023-04-01", "psa", 40),
            *_labs("P1", "2023-01-05", "2023-02-10"),
            *_labs("P3", "2023-01-05", "2023-02-20"),
            *_labs("P4", "2023-01-15", "2023-02-20"),
        ],
        [
            prior("P1", "enzalutamide", "arpi", "2021-01-01"),
            prior("P2", "docetaxel", "taxane", "2021-06-01"),
            prior("P3", "abiraterone", "arpi", "2020-01-01"),
        ],
    )


def nonresponder_cohort(folder: Path) -> Path:
    """Three patients, none with PSA50: P2 has no baseline PSA, P3 had one dose."""
    return write_cohort(
        folder,
        [
            patient("P1"),
            patient("P2", treatment_status="discontinued", discontinuation_reason="death"),
            patient("P3", treatment_status="discontinued", discontinuation_reason="toxicity"),
        ],
        [
            dose("P1", 1, "2023-01-10"),
            dose("P1", 2, "2023-02-21"),
            dose("P2", 1, "2023-01-12"),
            dose("P2", 2, "2023-02-23"),
            dose("P3", 1, "2023-01-20"),
        ],
        [
            meas("P1", "2023-01-05", "psa", 100),
            meas("P1", "2023-02-10", "psa", 80),
            meas("P1", "2023-03-15", "psa", 120),
            meas("P2", "2023-02-20", "psa", 70),
            meas("P3", "2023-01-15", "psa", 30),
            meas("P3", "2023-02-15", "psa", 45),
            *_labs("P1", "2023-01-05", "2023-02-10"),
        ],
    )


def single_patient_cohort(folder: Path) -> Path:
    """One patient, still on treatment: PSA50 after dose 2, PSA90 after dose 3."""
    return write_cohort(
        folder,
        [patient("P1", treatment_status="ongoing")],
        [dose("P1", 1, "2023-01-10"), dose("P1", 2, "2023-02-21"), dose("P1", 3, "2023-04-04")],
        [
            meas("P1", "2023-01-05", "psa", 100),
            meas("P1", "2023-02-10", "psa", 70),
            meas("P1", "2023-03-15", "psa", 40),
            meas("P1", "2023-04-20", "psa", 8),
            *_labs("P1", "2023-01-05", "2023-02-10"),
        ],
    )


def all_responder_cohort(folder: Path) -> Path:
    """Three patients, all with PSA50 after dose 1; P1 and P2 reach PSA90 (doses 1 and 2)."""
    return write_cohort(
        folder,
        [patient("P1"), patient("P2"), patient("P3", treatment_status="ongoing")],
        [
            dose("P1", 1, "2023-01-10"),
            dose("P1", 2, "2023-02-21"),
            dose("P2", 1, "2023-01-12"),
            dose("P2", 2, "2023-02-23"),
            dose("P3", 1, "2023-01-20"),
        ],
        [
            meas("P1", "2023-01-05", "psa", 100),
            meas("P1", "2023-02-10", "psa", 9),
            meas("P2", "2023-01-05", "psa", 50),
            meas("P2", "2023-02-10", "psa", 20),
            meas("P2", "2023-03-10", "psa", 4),
            meas("P3", "2023-01-15", "psa", 30),
            meas("P3", "2023-02-15", "psa", 12),
            *_labs("P2", "2023-01-05", "2023-02-10"),
        ],
    )


COHORTS = {
    "mixed": mixed_cohort,
    "nonresponders": nonresponder_cohort,
    "single": single_patient_cohort,
    "all-responders": all_responder_cohort,
}

#: (patients, PSA50 responders, PSA50 % of all patients)
EXPECTED = {
    "mixed": (4, 2, "50.0"),
    "nonresponders": (3, 0, "0.0"),
    "single": (1, 1, "100.0"),
    "all-responders": (3, 3, "100.0"),
}


class Version:
    """A built version and its documents as text (each document read once)."""

    def __init__(self, path: Path):
        self.path = path
        self._pdf: dict[str, str] = {}

    def html(self, doc: str) -> str:
        return (self.path / f"{doc}.html").read_text(encoding="utf-8")

    def html_text(self, doc: str, tables: bool = True) -> str:
        """The visible text of an HTML document, whitespace collapsed."""
        text = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", self.html(doc), flags=re.S | re.I)
        if not tables:
            text = re.sub(r"<table\b.*?</table>", " ", text, flags=re.S | re.I)
        return _squash(html.unescape(re.sub(r"<[^>]+>", " ", text)))

    def pdf_text(self, doc: str) -> str:
        if doc not in self._pdf:
            from pypdf import PdfReader

            reader = PdfReader(str(self.path / f"{doc}.pdf"))
            self._pdf[doc] = _squash(" ".join(page.extract_text() for page in reader.pages))
        return self._pdf[doc]

    def docx_xml(self, doc: str) -> str:
        with zipfile.ZipFile(self.path / f"{doc}.docx") as z:
            return z.read("word/document.xml").decode("utf-8")

    def abstract(self) -> str:
        return (self.path / "abstract.txt").read_text(encoding="utf-8")


def _squash(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split())


@pytest.fixture(scope="module")
def builds(earlier, tmp_path_factory):
    """The version of an edge cohort by name, built on first use (all-responders is v1)."""
    cache = {"all-responders": Version(earlier[0] / "v1")}

    def get(name: str) -> Version:
        if name not in cache:
            root = tmp_path_factory.mktemp(name)
            data = COHORTS[name](root / "data")
            result = run_build(data, root / "outputs", label=name)
            assert result.exit_code == 0, (result.output, result.exception)
            cache[name] = Version(root / "outputs" / name)
        return cache[name]

    return get


@pytest.fixture(params=list(COHORTS))
def edge(request, builds):
    return request.param, builds(request.param)


def _prose_paragraphs(text: str) -> list[str]:
    """Lines of abstract.txt that are prose (tables are tab-separated rows)."""
    return [line for line in text.splitlines() if line.strip() and "\t" not in line]


def test_edge_cohort_builds_every_document_with_the_right_numbers(edge):
    name, v = edge
    n, responders, pct = EXPECTED[name]
    patients = f"{n} patient{'s' if n != 1 else ''}"
    for doc, formats in {
        "abstract": ("html", "pdf", "docx", "txt"),
        "poster": ("html", "pdf"),
        "supplement": ("html", "pdf", "docx"),
    }.items():
        for fmt in formats:
            assert (v.path / f"{doc}.{fmt}").stat().st_size > 0, (doc, fmt)
    assert f"The cohort comprised {patients}," in _squash(v.abstract())
    for text in (v.html_text("abstract"), v.pdf_text("abstract")):
        assert f"The cohort comprised {patients}," in text
        assert f"PSA50 occurred in {responders} ({pct}%; 95% CI" in text
    for text in (v.html_text("supplement"), v.pdf_text("supplement")):
        # (pypdf reads the superscript one of "¹⁷⁷Lu" as "1")
        assert re.search(rf"{patients} started [1¹]⁷⁷Lu-PSMA-617", text), patients
        assert f"PSA50 was met by {responders} patient" in text
    for text in (v.html_text("poster"), v.pdf_text("poster")):
        assert f"{pct}%" in text and str(n) in text


@pytest.mark.parametrize("doc", ["abstract", "poster", "supplement"])
def test_edge_cohort_documents_never_say_none_or_nan(edge, doc):
    _, v = edge
    texts = [v.html_text(doc), v.pdf_text(doc)]
    if doc != "poster":
        texts.append(v.docx_xml(doc))
    if doc == "abstract":
        texts.append(v.abstract())
    for text in texts:
        assert not re.search(r"\b(None|nan|NaN|null|undefined)\b", text), re.search(
            r".{0,80}\b(None|nan|NaN|null|undefined)\b.{0,80}", text
        )


def test_edge_cohort_prose_has_no_dash_for_a_missing_number(edge):
    _, v = edge
    for line in _prose_paragraphs(v.abstract()):
        assert "—" not in line, line
    for doc in ("abstract", "poster", "supplement"):
        prose = v.html_text(doc, tables=False)
        # a dash between spaces or before % is a number that could not be computed
        assert not re.search(r"(\s—\s|—%|\(—)", prose), re.search(r".{0,80}—.{0,80}", prose)


def test_mixed_cohort_milestone_sentences(builds):
    v = builds("mixed")
    abstract = _squash(v.abstract())
    assert (
        "PSA50 was first seen by dose 1 in 1 responder (50.0%) and by dose 2 in all of them."
        in abstract
    )
    assert "PSA90 followed in 1 responder (50.0%), after dose 3; 1 never reached it." in abstract
    assert "Of the 2 responders, 1 (50.0%) completed all six doses" in abstract


def test_mixed_cohort_patients_with_one_dose_or_no_later_psa(builds):
    v = builds("mixed")
    summary = (v.path / "patient_summary.csv").read_text(encoding="utf-8").splitlines()
    rows = {line.split(",")[0]: line.split(",") for line in summary[1:]}
    header = summary[0].split(",")
    col = {c: header.index(c) for c in header}
    assert rows["P1"][col["doses_received"]] == "1"
    assert rows["P1"][col["psa50_after_dose"]] == "1"
    assert rows["P2"][col["best_psa_change_pct"]] == ""  # no PSA after dose 1
    assert rows["P2"][col["psa50_after_dose"]] == ""


def test_mixed_cohort_html_escapes_the_data_everywhere(builds):
    v = builds("mixed")
    pages = sorted(v.path.rglob("*.html"))
    assert len(pages) > 3
    for page in pages:
        assert SCRIPT not in page.read_text(encoding="utf-8"), page
    supplement = v.html("supplement")
    assert html.escape(SCRIPT, quote=False) in supplement
    for value in (*NON_ASCII, LONG_RACE):
        assert value in supplement, value
    assert html.escape(SCRIPT, quote=False) in v.docx_xml("supplement")


def test_mixed_cohort_pdf_shows_the_data_as_written(builds):
    v = builds("mixed")
    text = v.pdf_text("supplement")
    assert SCRIPT in text
    for value in ("Amérindien", "Ελληνικά"):
        assert value in text, value
    assert LONG_RACE[:40] in text


def test_no_responder_is_said_in_words(builds):
    v = builds("nonresponders")
    abstract = _squash(v.abstract())
    assert re.search(
        r"PSA50 occurred in 0 \(0\.0%; 95% CI 0\.0–\d+\.\d\) and PSA90 in 0 \(0\.0%; 95% CI"
        r" 0\.0–\d+\.\d\)\. No patient reached PSA50",
        abstract,
    ), abstract
    assert (
        "In heavily pretreated patients treated in routine care, no PSA50 response to "
        "¹⁷⁷Lu-PSMA-617 was seen after any dose." in abstract
    )
    assert "responders" not in abstract.split("Conclusions")[0].split("Results")[1]
    assert "evident early" not in abstract
    for doc in ("abstract", "poster", "supplement"):
        for text in (v.html_text(doc, tables=False), v.pdf_text(doc)):
            assert "No patient reached PSA50 after any dose." in text, doc
    poster = v.html_text("poster")
    assert "No patient had a deep (PSA90) response." in poster
    assert "most responders" not in poster
    supplement = v.html_text("supplement")
    assert "With no responder, no odds ratio could be estimated." in supplement
    assert "0 events among" in supplement  # the multivariable reason, now a full sentence
    assert re.search(r"at least 10 events per term are needed\.", supplement)


def test_single_patient_is_singular(builds):
    v = builds("single")
    abstract = _squash(v.abstract())
    for sentence in (
        "The cohort comprised 1 patient,",
        "The responder was still on treatment.",
        "The responder reached PSA50 after dose 2.",
        "The responder went on to PSA90 after dose 3.",
        "the one PSA50 response to ¹⁷⁷Lu-PSMA-617 was seen after dose 2.",
    ):
        assert sentence in abstract, sentence
    results = abstract.split("Results", 1)[1].split("Table 1:", 1)[0]
    assert "1 responders" not in results and "1 patients" not in results
    supplement = v.html_text("supplement")
    assert "With every patient a responder, no odds ratio could be estimated." in supplement
    assert "1 patient started" in supplement


def test_every_patient_responding(builds):
    v = builds("all-responders")
    abstract = _squash(v.abstract())
    assert "PSA50 occurred in 3 (100.0%; 95% CI 29.2–100.0)" in abstract  # R binom.test(3, 3)
    assert "All 3 responders reached PSA50 after dose 1." in abstract
    assert "PSA90 followed in 2 responders (66.7%), every one by dose 2; 1 never reached it." in (
        abstract
    )
    assert "were seen after dose 1 in all 3 responders." in abstract
    supplement = v.html_text("supplement")
    assert "With every patient a responder, no odds ratio could be estimated." in supplement
    assert "All 3 responders reached PSA50 after dose 1." in v.pdf_text("supplement")


def _prose(folder: Path) -> dict[str, str]:
    from analysis.analyze import run_analysis
    from analysis.load import load_cohort
    from analysis.variables import document_variables

    results = run_analysis(load_cohort(folder)).results
    return document_variables(results, planned_doses="six")["prose"]


def test_generated_phrases_read_as_the_documents_did_for_typical_data():
    prose = _prose(config.SYNTHETIC_DIR)
    assert prose == {
        "responders": "Of the 8 responders, 6 (75.0%) completed all six doses and 2 (25.0%) "
        "were still on treatment.",
        "psa50_timing": "PSA50 was first seen by dose 2 in 7 responders (87.5%) and by dose 3 "
        "in all of them.",
        "psa90_timing": "PSA90 followed in 6 responders (75.0%), every one by dose 4; 2 never "
        "reached it.",
        "psa50_early": "PSA50 responses to 177Lu-PSMA-617 were evident early: most by dose 2 "
        "and all by dose 3",
        "psa50_evident_early": "yes",  # chooses the result-stating title when asked for
        "psa90_early": "Deep (PSA90) responses followed within the next doses in most responders.",
        "regression": "With 8 responders, estimates are imprecise and should be read as "
        "descriptive.",
        "toxicity": "Hemoglobin fell below 10 g/dL during treatment in 5 of 21 patients "
        "(23.8%) and platelets below 75 ×10⁹/L in 1 (4.8%).",
    }


def test_toxicity_without_any_value_after_dose_1_is_said_in_words(tmp_path):
    folder = minimal_cohort(tmp_path / "data")
    assert _prose(folder)["toxicity"] == (
        "No hemoglobin or platelet value was recorded after the first dose."
    )
    with (folder / M).open("a", encoding="utf-8") as fh:
        fh.write("P1,2023-01-20,platelets,60,10^9/L\n")
    assert _prose(folder)["toxicity"] == (
        "No hemoglobin value was recorded after the first dose; platelets fell below 75 "
        "×10⁹/L during treatment in 1 of 1 patient (100.0%)."
    )


# --- faults ------------------------------------------------------------------------------


def test_renderer_failure_is_a_clear_error_and_leaves_nothing(earlier, tmp_path, monkeypatch):
    from analysis.errors import PsmaRweError

    def broken(*args, **kwargs):
        raise PsmaRweError("typst failed while rendering report/abstract.qmd to PDF: simulated")

    monkeypatch.setattr("analysis.render.render_document", broken)
    monkeypatch.setenv("PSMA_RWE_JOBS", "1")  # rendered in this process, where the patch holds
    result = run_build(minimal_cohort(tmp_path / "data"), earlier[0])
    assert_one_line_error(result, "typst failed", "simulated")
    assert_nothing_written(earlier)


def test_a_failure_while_workers_draw_leaves_nothing(earlier, tmp_path, monkeypatch):
    """The build's process fails (here at the abstract's length) while its workers
    are still drawing figures into the temporary folder: the workers are stopped
    before the folder is removed.  Before, a figure written just after the removal
    made the folder again, and CI found a ``.building-bad-*`` beside the versions."""
    from analysis import build as build_module
    from analysis import charts_write
    from analysis.errors import PsmaRweError

    def drawing(name, results_path, out_dir):  # runs in a forked worker
        for _ in range(60):  # 3 s of figures being written
            (Path(out_dir) / "late").mkdir(parents=True, exist_ok=True)
            (Path(out_dir) / "late" / f"{name}.svg").write_text("<svg/>")
            time.sleep(0.05)
        raise RuntimeError("not reached: the worker is stopped")

    def failing(*args, **kwargs):
        raise PsmaRweError("simulated failure at the abstract's length")

    discard = build_module._discard

    def slow_discard(*args, **kwargs):  # time for a late write to land
        discard(*args, **kwargs)
        time.sleep(0.5)

    monkeypatch.setenv("PSMA_RWE_JOBS", "2")
    monkeypatch.setattr(charts_write, "_write_chart_task", drawing)
    monkeypatch.setattr("analysis.render.render_plain", failing)
    monkeypatch.setattr(build_module, "_discard", slow_discard)
    result = run_build(minimal_cohort(tmp_path / "data"), earlier[0])
    assert_one_line_error(result, "simulated failure")
    assert_nothing_written(earlier)


def test_pandoc_failure_is_a_clear_error_and_leaves_nothing(earlier, tmp_path, monkeypatch):
    fake = tmp_path / "pandoc"
    fake.write_text("#!/bin/sh\necho 'pandoc: simulated crash' >&2\nexit 83\n")
    fake.chmod(0o755)
    monkeypatch.setattr("analysis.render.pipeline.pandoc_path", lambda: str(fake))
    result = run_build(minimal_cohort(tmp_path / "data"), earlier[0])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "pandoc failed" in result.stderr and "exit code 83" in result.stderr
    assert "simulated crash" in result.stderr
    assert_nothing_written(earlier)


@pytest.mark.parametrize(
    ("where", "why"),
    [("under", "Not a directory"), ("is", "File exists")],
    ids=["outputs-under-a-file", "outputs-is-a-file"],
)
def test_outputs_folder_that_cannot_be_created_is_a_clear_error(tmp_path, where, why):
    # Works as root too, where a read-only mode would not stop the build.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n")
    outputs = blocker / "outputs" if where == "under" else blocker
    result = run_build(minimal_cohort(tmp_path / "data"), outputs)
    assert_one_line_error(result, "cannot create the outputs folder", str(outputs), why)
    assert blocker.read_text() == "a file where a folder should be\n"


def _chmod_stops_writes(folder: Path) -> bool:
    """False as root (CI), where a read-only mode does not stop writes."""
    probe = folder / "probe"
    try:
        probe.mkdir()
    except PermissionError:
        return True
    probe.rmdir()
    return False


def test_read_only_outputs_folder_is_a_clear_error(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    outputs.chmod(0o555)
    try:
        if not _chmod_stops_writes(outputs):
            pytest.skip("running as root: a read-only folder is still writable")
        result = run_build(minimal_cohort(tmp_path / "data"), outputs)
        assert_one_line_error(result, "Permission denied", str(outputs))
        assert list(outputs.iterdir()) == []
    finally:
        outputs.chmod(0o755)


def _fake_build_into(fail: OSError | None = None):
    """A stand-in for the rendering stages: writes one file, then fails or succeeds."""

    def fake(tmp, inputs, cohort, label, *args, **kwargs):
        (tmp / "results.json").write_text("{}\n", encoding="utf-8")
        if fail is not None:
            raise fail
        return BuildReport(label=label, path=tmp)

    return fake


def test_disk_full_during_the_build_is_one_line_and_leaves_nothing(earlier, tmp_path, monkeypatch):
    outputs = earlier[0]
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(outputs / "x" / "poster.pdf"))
    monkeypatch.setattr("analysis.build._build_into", _fake_build_into(full))
    result = run_build(minimal_cohort(tmp_path / "data"), outputs)
    assert_one_line_error(result, "No space left on device", "poster.pdf", f"'{LABEL}'")
    assert_nothing_written(earlier)


def test_os_error_escaping_the_build_is_still_one_line(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/outputs")

    monkeypatch.setattr("analysis.build.build", denied)
    result = run_build(minimal_cohort(tmp_path / "data"), tmp_path / "outputs")
    assert_one_line_error(result, "Permission denied", "/somewhere/outputs")


def test_interrupt_during_an_import_is_reported_as_an_interrupt(tmp_path, monkeypatch):
    # Ctrl-C while a compiled module initialises surfaces as an ImportError caused by
    # the KeyboardInterrupt (seen with scipy in test_build's SIGINT test).
    def build_interrupted_while_importing(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr("analysis.build.build", build_interrupted_while_importing)
    result = run_build(minimal_cohort(tmp_path / "data"), tmp_path / "outputs")
    assert result.exit_code == 130, (result.output, result.exception)
    assert "interrupted:" in result.stderr and "Traceback" not in result.output


def test_killed_build_leaves_a_temporary_folder_that_the_next_build_removes(tmp_path, monkeypatch):
    data = minimal_cohort(tmp_path / "data")
    outputs = tmp_path / "outputs"
    args = ["build", str(data), "--label", "killed", "--outputs", str(outputs)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "analysis", *args],
        cwd=config.PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while not (outputs.is_dir() and any(outputs.glob(f"{TMP_PREFIX}*"))):
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("the build never started")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no handler runs: the temporary folder stays
    proc.wait(timeout=30)
    left = [p.name for p in outputs.iterdir()]
    assert len(left) == 1 and left[0].startswith(f"{TMP_PREFIX}killed-")

    monkeypatch.setattr("analysis.build._build_into", _fake_build_into())
    result = run_build(data, outputs, label="next")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outputs.iterdir()) == ["next"]


def _lock_holder(folder: Path) -> subprocess.Popen:
    """Another process that holds a build lock on ``folder`` (like a running build)."""
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(folder / LOCK_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_clean_stale_builds_removes_only_abandoned_folders_of_its_own(tmp_path):
    outputs = tmp_path / "outputs"
    names = {
        "dead": f"{TMP_PREFIX}a-1234abcd",  # lock file, nobody holds it: a killed build
        "running": f"{TMP_PREFIX}b-5678abcd",  # lock held by another process (container)
        "mine": f"{TMP_PREFIX}c-9999abcd",  # lock held by this process
        "user": f"{TMP_PREFIX}notes",  # a user's folder: no lock file, never touched
        "version": "v1",
    }
    for name in names.values():
        (outputs / name).mkdir(parents=True)
    (outputs / names["dead"] / LOCK_FILE).write_text('{"pid": 1}')
    (outputs / names["user"] / "todo.txt").write_text("keep me")
    holder = _lock_holder(outputs / names["running"])
    mine = BuildLock.__new__(BuildLock)  # a lock as a running build holds it
    import fcntl

    mine.path = outputs / names["mine"]
    mine._fd = os.open(mine.path / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(mine._fd, fcntl.LOCK_EX)
    try:
        clean_stale_builds(outputs)
        kept = sorted(p.name for p in outputs.iterdir())
        assert kept == sorted(n for k, n in names.items() if k != "dead")
        assert (outputs / names["user"] / "todo.txt").read_text() == "keep me"
    finally:
        holder.kill()
        holder.wait()
        mine.close()
    clean_stale_builds(outputs)  # both locks released: both folders are abandoned now
    assert sorted(p.name for p in outputs.iterdir()) == [names["user"], "v1"]


def test_a_build_never_deletes_a_folder_it_did_not_create(earlier, tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    notes = outputs / f"{TMP_PREFIX}notes"
    notes.mkdir(parents=True)
    (notes / "todo.txt").write_text("keep me")
    monkeypatch.setattr("analysis.build._build_into", _fake_build_into())
    result = run_build(minimal_cohort(tmp_path / "data"), outputs, label="again")
    assert result.exit_code == 0, (result.output, result.exception)
    assert sorted(p.name for p in outputs.iterdir()) == [f"{TMP_PREFIX}notes", "again"]
    assert sorted(p.name for p in (outputs / "again").iterdir()) == ["results.json"]


def test_a_build_holds_its_lock_while_it_runs(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    seen = {}

    def fake(tmp, inputs, cohort, label, *args, **kwargs):
        clean_stale_builds(outputs)  # e.g. a second build starting meanwhile
        seen["kept"] = tmp.is_dir() and (tmp / LOCK_FILE).is_file()
        (tmp / "results.json").write_text("{}\n", encoding="utf-8")
        return BuildReport(label=label, path=tmp)

    monkeypatch.setattr("analysis.build._build_into", fake)
    result = run_build(minimal_cohort(tmp_path / "data"), outputs, label="v")
    assert result.exit_code == 0, result.output
    assert seen["kept"]
    assert not (outputs / "v" / LOCK_FILE).exists()


@pytest.mark.parametrize(
    ("label", "phrase"),
    [
        # a name over 255 bytes cannot be created at all (ENAMETOOLONG)
        pytest.param("x" * 256, "at most 200", id="too-long"),
        pytest.param("é" * 120, "240 bytes long", id="too-long-in-utf8"),
        pytest.param("a\nb", "not usable as a folder name", id="newline"),
        pytest.param("a/b", "not usable as a folder name", id="slash"),
        pytest.param(".hidden", "not usable as a folder name", id="leading-dot"),
    ],
)
def test_unusable_label_is_refused_before_anything_is_written(earlier, tmp_path, label, phrase):
    result = run_build(minimal_cohort(tmp_path / "data"), earlier[0], label=label)
    assert_one_line_error(result, phrase)
    assert_nothing_written(earlier)
