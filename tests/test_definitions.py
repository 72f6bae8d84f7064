"""The response, prior-therapy and lab definitions on a hand-made cohort (tests/handmade.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.cohort import prior_therapy_counts, prior_therapy_summary
from analysis.labs import baseline_values, bmi, predose_values, toxicity, trajectories
from analysis.load import load_cohort
from analysis.psa import assign_windows, patient_psa, reaches
from analysis.stats import pct
from tests.handmade import EXPECTED_PATIENTS, handmade_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(handmade_cohort(tmp_path_factory.mktemp("handmade")))


@pytest.fixture(scope="module")
def per_patient(cohort):
    return patient_psa(cohort).set_index("patient_id")


@pytest.mark.parametrize("pid", sorted(EXPECTED_PATIENTS))
def test_patient_figures(per_patient, pid):
    baseline, m50, m90, confirmed, best, doses = EXPECTED_PATIENTS[pid]
    row = per_patient.loc[pid]
    if baseline is None:
        assert pd.isna(row["baseline_psa"]) and not row["evaluable"]
    else:
        assert row["baseline_psa"] == baseline and row["evaluable"]
    assert (None if pd.isna(row["psa50_after_dose"]) else int(row["psa50_after_dose"])) == m50
    assert (None if pd.isna(row["psa90_after_dose"]) else int(row["psa90_after_dose"])) == m90
    got_confirmed = None if pd.isna(row["psa50_confirmed"]) else bool(row["psa50_confirmed"])
    assert got_confirmed is confirmed
    if best is None:
        assert pd.isna(row["best_psa_change_pct"])
    else:
        assert row["best_psa_change_pct"] == pytest.approx(best, abs=1e-9)
    assert row["doses_received"] == doses
    assert bool(row["responder"]) is (m50 is not None)


def test_value_on_day_of_next_dose_belongs_to_window_before(cohort):
    m = cohort.measurements
    psa = m[(m["patient_id"] == "P1") & (m["test"] == "psa")]
    windows = assign_windows(psa, cohort.doses)
    by_date = dict(zip(psa["measured_on"].dt.strftime("%Y-%m-%d"), windows, strict=True))
    assert pd.isna(by_date["2023-01-10"])  # day of dose 1: baseline, no window
    assert by_date["2023-02-21"] == 1  # day of dose 2 → window after dose 1
    assert by_date["2023-03-01"] == 2
    assert by_date["2023-03-14"] == 2


def test_censored_value_counts_as_its_limit(cohort):
    m = cohort.measurements
    row = m[(m["patient_id"] == "P3") & (m["measured_on"] == "2023-05-20")].iloc[0]
    assert row["censored"] and row["value"] == 0.1


@pytest.mark.parametrize(
    ("value", "baseline", "fraction", "expected"),
    [
        (50, 100, 0.5, True),
        (50.0001, 100, 0.5, False),
        (12.3, 123, 0.1, True),
        (0.3, 3, 0.1, True),
        (12.31, 123, 0.1, False),
    ],
)
def test_thresholds_are_inclusive(value, baseline, fraction, expected):
    assert bool(reaches(value, baseline, fraction)) is expected


def test_prior_therapies_count_distinct_agents(cohort):
    counts = prior_therapy_counts(cohort)
    assert counts.to_dict() == {"P1": 2, "P2": 0, "P3": 3, "P4": 1, "P5": 5}
    s = prior_therapy_summary(cohort)
    assert (s.median, s.q1, s.q3, s.min, s.max) == (2.0, 1.0, 3.0, 0, 5)
    assert s.by_class["adt"] == 3 and s.by_class["arpi"] == 3 and s.by_class["taxane"] == 2
    assert s.by_class["parp_inhibitor"] == 1 and s.by_class["platinum"] == 0
    assert s.by_class_pct["adt"] == 60.0


def test_bmi_uses_weight_within_60_days_before_dose_1(cohort):
    values = bmi(cohort, baseline_values(cohort))
    assert values["P1"] == pytest.approx(80 / 1.75**2)
    assert values["P5"] == pytest.approx(176.37 * 0.45359237 / 1.8**2)
    assert math.isnan(values["P2"])


def test_baseline_lab_converts_units_and_takes_latest(cohort):
    base = baseline_values(cohort)
    assert base.loc["P1", "hemoglobin"] == 12.0  # 12.5 (125 g/L) is earlier
    assert base.loc["P4", "hemoglobin"] == 13.0


def test_predose_values_within_14_days(cohort):
    pre = predose_values(cohort, ("hemoglobin",))
    got = {(r.patient_id, r.dose_number): r.value for r in pre.itertuples()}
    assert got == {
        ("P1", 1): 12.0,
        ("P1", 2): 10.5,
        ("P4", 1): 13.0,
        ("P4", 2): 12.0,
        ("P5", 1): 11.0,
        ("P5", 2): 10.0,
    }


def test_lab_trajectory_summary(cohort):
    points = {(p.test, p.dose_number): p for p in trajectories(cohort, ("hemoglobin",))}
    d1, d2 = points["hemoglobin", 1], points["hemoglobin", 2]
    assert (d1.n, d1.median, d1.q1, d1.q3) == (3, 12.0, 11.5, 12.5)
    assert (d2.n, d2.median, d2.q1, d2.q3) == (3, 10.5, 10.25, 11.25)
    assert (d2.change_n, d2.change_median, d2.change_q1, d2.change_q3) == (3, -1.0, -1.25, -1.0)
    assert ("hemoglobin", 3) not in points


def test_toxicity_flags(cohort):
    flags = {f.name: f for f in toxicity(cohort, baseline_values(cohort))}
    anemia = flags["anemia_grade2"]
    assert (anemia.on_treatment.n, anemia.on_treatment.denominator) == (1, 3)
    assert anemia.on_treatment.pct == 33.3
    assert anemia.baseline.n == 0 and anemia.new_on_treatment.n == 1


@pytest.mark.parametrize(
    ("n", "d", "expected"),
    [
        (8, 21, 38.1),
        (1, 8, 12.5),
        (1, 16, 6.3),
        (1, 3, 33.3),
        (2, 3, 66.7),
        (0, 5, 0.0),
        (5, 5, 100.0),
        (1, 0, None),
        (1, 400, 0.3),
        (1, 800, 0.1),
    ],
)
def test_percentages_round_half_away_from_zero(n, d, expected):
    assert pct(n, d) == expected


def _fisher_brute_force(table):
    """Independent reference: every r × 2 table with the same margins, exact fractions."""
    import itertools
    from fractions import Fraction
    from math import comb

    rows = [sum(r) for r in table]
    c1 = sum(r[0] for r in table)
    n = sum(rows)

    def prob(col):
        num = 1
        for r, a in zip(rows, col, strict=True):
            num *= comb(r, a)
        return Fraction(num, comb(n, c1))

    p_obs = prob([r[0] for r in table])
    total = Fraction(0)
    for col in itertools.product(*(range(r + 1) for r in rows)):
        if sum(col) == c1 and prob(col) <= p_obs:
            total += prob(col)
    return float(total)


@pytest.mark.parametrize(
    "table",
    [[[6, 12], [2, 0], [0, 1]], [[1, 5], [3, 1], [0, 4], [2, 2]], [[5, 0], [0, 5], [2, 2]]],
)
def test_fisher_rx2_is_exact_and_deterministic(table):
    from analysis.stats import categorical_test, fisher_exact_rx2

    expected = _fisher_brute_force(table)
    assert fisher_exact_rx2(table) == pytest.approx(expected, rel=1e-9)
    runs = {categorical_test(table) for _ in range(5)}
    assert len(runs) == 1
    test, p = runs.pop()
    assert test == "fisher" and p == pytest.approx(expected, rel=1e-9)


def test_fisher_2x2_matches_the_rx2_enumeration():
    from scipy import stats

    from analysis.stats import fisher_exact_rx2

    table = [[3, 1], [2, 5]]
    assert fisher_exact_rx2(table) == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)
