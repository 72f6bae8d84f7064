"""PSA progression (PCWG3), OS, PSA-PFS, rPFS and the landmark set, on hand-worked cases.

Every expected value is worked out by hand in the comment beside it.  Dates are
days after dose 1 (D1 = 2023-01-01).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis import followup

D1 = dt.date(2023, 1, 1)


def day(n: int) -> dt.date:
    return D1 + dt.timedelta(days=n)


def prog(baseline: float, series: list[tuple[int, float]]) -> int | None:
    dates = [day(d) for d, _ in series]
    values = [v for _, v in series]
    found = followup.psa_progression(dates, values, baseline, D1)
    return None if found is None else (found - D1).days


@pytest.mark.parametrize(
    ("baseline", "series", "expected"),
    [
        # decline to 4; 7 is ≥ 5 (125% of 4) and ≥ 4 + 2; confirmed by 8 at day 90 (≥ 81)
        pytest.param(10, [(30, 4), (60, 7), (90, 8)], 60, id="confirmed-after-decline"),
        # 5 at day 90 is 125% of the nadir 4 but only 1 ng/mL above: not confirmed; the
        # later candidates (5 vs nadir 4) do not rise
        pytest.param(10, [(30, 4), (60, 7), (90, 5)], None, id="unconfirmed"),
        # the confirming PSA is the first ≥ 21 days after the rise: 3 at day 70 is skipped,
        # 8 at day 81 confirms
        pytest.param(10, [(30, 4), (60, 7), (70, 3), (81, 8)], 60, id="values-in-between-skipped"),
        # no confirmation PSA at all
        pytest.param(10, [(30, 4), (60, 8)], None, id="no-confirmation-psa"),
        # never below baseline: the rise at day 30 is before 12 weeks and does not count;
        # day 90: 14 vs nadir min(10, 13) = 10 → ≥ 12.5 and ≥ 12; confirmed by 15 at day 120
        pytest.param(10, [(30, 13), (60, 13), (90, 14), (120, 15)], 90, id="no-decline-12-weeks"),
        # never below baseline and a confirmed rise before 12 weeks only: no progression
        pytest.param(10, [(30, 13), (55, 14)], None, id="early-rise-without-decline"),
        # the first value exactly at 12 weeks (day 84) counts
        pytest.param(10, [(84, 13), (105, 13)], 84, id="no-decline-day-84"),
        # low PSA: 1.5 is 150% of the nadir 1 but not 2 ng/mL above; 3.0 is (≥ 1.25, ≥ 3)
        pytest.param(2, [(30, 1), (60, 1.5), (90, 3.0), (120, 3.1)], 90, id="absolute-2-ng"),
        # thresholds are inclusive: 5.0 = 125% of 4 is not 2 above; 6.0 = 4 + 2 and ≥ 5
        pytest.param(10, [(30, 4), (60, 6.0), (81, 6.0)], 60, id="inclusive"),
        # the nadir of the confirming value is the rise's nadir (4), not a later low
        pytest.param(10, [(30, 4), (60, 7), (70, 1), (90, 6.5)], 60, id="same-nadir"),
        # decline anywhere (even after the rise) makes the nadir rule apply from day 1
        pytest.param(10, [(20, 13), (50, 13), (100, 9)], 20, id="decline-later"),
    ],
)
def test_psa_progression_by_hand(baseline, series, expected):
    assert prog(baseline, series) == expected


def _frames(patients: list[dict], psa: list[tuple[str, int, float]], evaluable: dict[str, float]):
    p = pd.DataFrame(patients)
    p["first_dose_date"] = pd.Timestamp(D1)
    for col in followup.FOLLOW_UP_COLUMNS:
        if col in p:
            p[col] = pd.to_datetime(p[col].map(lambda d: None if pd.isna(d) else day(int(d))))
    m = pd.DataFrame(
        [(pid, pd.Timestamp(day(d)), v) for pid, d, v in psa],
        columns=["patient_id", "measured_on", "value"],
    )
    per = pd.DataFrame(
        {
            "patient_id": p["patient_id"],
            "baseline_psa": [evaluable.get(pid, np.nan) for pid in p["patient_id"]],
            "evaluable": [pid in evaluable for pid in p["patient_id"]],
        }
    )
    return p, m, per


def test_os_psa_pfs_rpfs_by_hand():
    patients = [
        # died day 200; PSA progression at day 60 (confirmed day 90) → PSA-PFS 60, event
        {
            "patient_id": "A",
            "death_date": 200,
            "last_contact_date": None,
            "radiographic_progression_date": 150,
        },
        # alive, last contact 300; no progression; last PSA day 120 → PSA-PFS censored at 120
        {
            "patient_id": "B",
            "death_date": None,
            "last_contact_date": 300,
            "radiographic_progression_date": None,
        },
        # died day 100 with no PSA progression: PSA-PFS is the death, however long after the
        # last PSA (day 30)
        {
            "patient_id": "C",
            "death_date": 100,
            "last_contact_date": 100,
            "radiographic_progression_date": None,
        },
        # not PSA-evaluable: no PSA-PFS; alive at 50
        {
            "patient_id": "D",
            "death_date": None,
            "last_contact_date": 50,
            "radiographic_progression_date": None,
        },
    ]
    psa = [("A", 30, 4), ("A", 60, 7), ("A", 90, 8), ("B", 30, 9), ("B", 120, 8), ("C", 30, 5)]
    p, m, per = _frames(patients, psa, {"A": 10, "B": 10, "C": 10})
    fu = followup.follow_up(p, m, per)
    f = fu.frame.set_index("patient_id")
    assert fu.has_os and fu.has_rpfs
    assert f["os_days"].tolist() == [200, 300, 100, 50]
    assert f["os_event"].tolist() == [True, False, True, False]
    assert f.loc[["A", "B", "C"], "psa_pfs_days"].tolist() == [60, 120, 100]
    assert f.loc[["A", "B", "C"], "psa_pfs_event"].tolist() == [True, False, True]
    assert pd.isna(f.at["D", "psa_pfs_days"]) and pd.isna(f.at["D", "psa_progression"])
    assert f.loc[["A", "B", "C"], "psa_progression"].tolist() == [True, False, False]
    # rPFS: A progression day 150 (before death 200); B censored at 300; C death 100
    assert f["rpfs_days"].tolist() == [150, 300, 100, 50]
    assert f["rpfs_event"].tolist() == [True, False, True, False]


def test_data_cutoff_uses_nothing_after_it():
    patients = [
        {"patient_id": "A", "death_date": 200, "last_contact_date": None},
        {"patient_id": "B", "death_date": None, "last_contact_date": 300},
    ]
    psa = [("A", 30, 4), ("A", 60, 7), ("A", 90, 8), ("B", 30, 4), ("B", 120, 8), ("B", 150, 9)]
    p, m, per = _frames(patients, psa, {"A": 10, "B": 10})
    fu = followup.follow_up(p, m, per, cutoff=day(130))
    f = fu.frame.set_index("patient_id")
    # A: death after the cut-off → alive at the cut-off (day 130); B: contact → cut-off
    assert f["os_days"].tolist() == [130, 130]
    assert f["os_event"].tolist() == [False, False]
    # B: rise at day 120 (8 vs nadir 4) would be confirmed only by day 150 > cut-off: none
    assert f.loc["B", "psa_progression"] == False  # noqa: E712
    assert f.loc["B", "psa_pfs_days"] == 120  # censored at the last PSA within the cut-off
    assert not fu.has_rpfs


def test_without_follow_up_columns_only_psa_pfs_is_computed():
    p, m, per = _frames(
        [{"patient_id": "A"}], [("A", 30, 4), ("A", 60, 7), ("A", 90, 8)], {"A": 10}
    )
    fu = followup.follow_up(p, m, per)
    assert not fu.has_os and not fu.has_rpfs
    assert fu.frame.loc[0, "psa_pfs_days"] == 60


def test_landmark_set_by_hand():
    patients = [
        {"patient_id": "A", "death_date": 50, "last_contact_date": None},  # died before L
        {"patient_id": "B", "death_date": 84, "last_contact_date": None},  # died on L: out
        {"patient_id": "C", "death_date": None, "last_contact_date": 83},  # censored before L
        {"patient_id": "D", "death_date": None, "last_contact_date": 84},  # censored on L: in
        {"patient_id": "E", "death_date": 200, "last_contact_date": None},  # in, PSA50 day 84
        {"patient_id": "F", "death_date": 300, "last_contact_date": None},  # in, PSA50 day 85
    ]
    psa = [("E", 84, 5), ("F", 85, 5), ("D", 30, 9)]
    base = {k: 10 for k in "ABCDEF"}
    p, m, per = _frames(patients, psa, base)
    fu = followup.follow_up(p, m, per)
    lm = followup.landmark_set(fu, p.set_index("patient_id")["first_dose_date"], weeks=12)
    assert lm.days == 84
    assert (lm.n_excluded_died, lm.n_excluded_censored) == (2, 1)
    assert lm.time_days.tolist() == [0, 116, 216]  # D, E, F from the landmark
    assert lm.event.tolist() == [False, True, True]
    assert lm.psa50.tolist() == [False, True, False]  # F reached PSA50 after the landmark
