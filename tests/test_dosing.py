"""Doses and administered activity (analysis/outcomes.dosing) on a hand-made cohort.

Three patients: P1 two doses of 7.4 and 7.0 GBq (14.4 cumulative), P2 three doses of
7.4 (22.2), P3 two doses with the second's activity blank: P3 counts in the doses
received and its one known activity counts per dose, but it has no cumulative
activity.  Per dose, the six known activities 7.0, 7.4 x 5: median 7.4, Q1 7.4 (type-7
quartiles: 7.0 + 0.25 x 5 = rank 2.25 of the sorted values, 7.4), Q3 7.4.  Cumulative
14.4 and 22.2: median 18.3, Q1 16.35, Q3 20.25.
"""

from __future__ import annotations

import pytest

from analysis.load import load_cohort
from analysis.outcomes import dosing
from tests.cohorts import dose, meas, patient, write_cohort


@pytest.fixture
def cohort(tmp_path):
    folder = write_cohort(
        tmp_path / "c",
        [patient("P1"), patient("P2"), patient("P3")],
        [
            dose("P1", 1, "2023-01-10", "7.4"),
            dose("P1", 2, "2023-02-21", "7.0"),
            dose("P2", 1, "2023-01-12", "7.4"),
            dose("P2", 2, "2023-02-23", "7.4"),
            dose("P2", 3, "2023-04-06", "7.4"),
            dose("P3", 1, "2023-01-15", "7.4"),
            dose("P3", 2, "2023-02-26", ""),
        ],
        [meas(p, "2023-01-05", "psa", 100) for p in ("P1", "P2", "P3")],
    )
    return load_cohort(folder)


def test_doses_received(cohort):
    d = dosing(cohort)
    assert [(c.doses, c.n) for c in d.distribution] == [(2, 2), (3, 1)]


def test_activity_per_dose_counts_every_known_value(cohort):
    d = dosing(cohort)
    assert (d.activity_per_dose_median, d.activity_per_dose_q1, d.activity_per_dose_q3) == (
        pytest.approx(7.4),
        pytest.approx(7.4),
        pytest.approx(7.4),
    )


def test_cumulative_activity_leaves_out_a_patient_with_a_blank_dose(cohort):
    d = dosing(cohort)
    assert d.cumulative_activity_median == pytest.approx(18.3)
    assert d.cumulative_activity_q1 == pytest.approx(16.35)
    assert d.cumulative_activity_q3 == pytest.approx(20.25)
