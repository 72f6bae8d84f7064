"""The values the documents' prose cites equal the computed results (hand-made cohort)."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.analyze import run_analysis
from analysis.load import load_cohort
from analysis.variables import document_variables, num
from tests.handmade import handmade_cohort


@pytest.fixture(scope="module")
def variables(tmp_path_factory):
    cohort = load_cohort(handmade_cohort(tmp_path_factory.mktemp("v")))
    results = run_analysis(cohort).results
    span = (cohort.patients["first_dose_date"].min(), cohort.patients["first_dose_date"].max())
    return results, document_variables(results, span)


def test_counts_and_percentages(variables):
    _, v = variables
    assert v["cohort"]["n_patients"] == "5" and v["cohort"]["n_evaluable"] == "4"
    # exact 95% CI of 3/5: R binom.test(3, 5) → 14.66 to 94.73 %
    assert v["psa50"] == {"n": "3", "pct": "60.0", "of": "5", "ci_low": "14.7", "ci_high": "94.7"}
    assert v["confirmed"] == {"n": "2", "pct": "40.0", "of": "5"}
    assert (v["prior"]["median"], v["prior"]["min"], v["prior"]["max"]) == ("2", "0", "5")
    assert v["prior"]["taxane"] == {"n": "2", "pct": "40.0"}


def test_milestone_phrases_worked_out_by_hand(variables):
    # PSA50 milestones: P1 dose 1, P3 dose 1, P5 dose 2 → all 3 by dose 2, 2 by dose 1.
    # PSA90 milestones: P3 dose 1, P1 dose 2, P5 dose 2 → final 3, reached by dose 2.
    _, v = variables
    m = v["milestones"]
    assert (m["all_psa50_dose"], m["before_all_dose"], m["before_all_n"]) == ("2", "1", "2")
    assert m["before_all_pct"] == "66.7"
    assert (m["psa90_dose"], m["psa90_n"], m["psa90_pct"]) == ("2", "3", "100.0")
    assert m["after_dose1_n"] == "2"


def test_study_period_is_month_and_year(variables):
    results, _ = variables
    span = (dt.date(2023, 1, 10), dt.date(2023, 3, 1))
    v = document_variables(results, span, min_cohort_for_dates=5)  # 5 patients: months
    assert (v["cohort"]["first_dose_from"], v["cohort"]["first_dose_to"]) == (
        "January 2023",
        "March 2023",
    )
    assert v["cohort"]["period"] == "between January 2023 and March 2023"


def test_study_period_of_a_small_cohort_is_in_years(variables):
    _, v = variables  # 5 patients < 11
    assert (v["cohort"]["first_dose_from"], v["cohort"]["first_dose_to"]) == ("2023", "2023")
    assert v["cohort"]["period"] == "in 2023"
    assert "fewer than 11 patients" in v["cohort"]["date_note"]


def test_every_value_is_text_without_python_reprs(variables):
    _, v = variables

    def leaves(d):
        for value in d.values():
            if isinstance(value, dict):
                yield from leaves(value)
            else:
                yield value

    for value in leaves(v):
        assert isinstance(value, str)
        assert value not in ("None", "nan", "NaN", "")


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (6.0, None, "6"),
        (5.5, None, "5.5"),
        (1234, None, "1,234"),
        (None, None, "—"),
        (-37.25, 1, "-37.3"),
        (0.05, 1, "0.1"),
        (2.0, 1, "2.0"),
    ],
)
def test_number_formatting(value, decimals, text):
    assert num(value, decimals) == text
