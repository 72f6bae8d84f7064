"""Laboratory values: baseline, BMI, pre-dose trajectories and CTCAE flags.

Definitions (data/README.md):

* Baseline value of a test: the latest value dated in [dose-1 date − 60 days,
  dose-1 date] (the same window as baseline PSA); on a tie of dates, the row
  listed last.
* BMI at baseline: the weight measured nearest dose 1 within the 60 days before
  it (inclusive) ÷ (height in m)².
* Pre-dose value at dose n: the latest value dated in [date of dose n − 14
  days, date of dose n].  Change from baseline at dose n is the pre-dose value
  at dose n minus the pre-dose value at dose 1, for patients with both.
* Grade ≥ 2 anemia: hemoglobin < 10 g/dL; grade ≥ 2 thrombocytopenia:
  platelets < 75 × 10⁹/L (CTCAE v5 lower bounds of grade 2).  "On treatment"
  means any value dated after the date of dose 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.load import Cohort
from analysis.results import Count, LabPoint, ToxicityFlag
from analysis.stats import pct, quartiles

LAB_LABELS: dict[str, str] = {
    "psa": "PSA",
    "hemoglobin": "Hemoglobin",
    "platelets": "Platelets",
    "wbc": "White blood cells",
    "anc": "Absolute neutrophils",
    "alc": "Absolute lymphocytes",
    "creatinine": "Creatinine",
    "alkaline_phosphatase": "Alkaline phosphatase",
    "ast": "AST",
    "alt": "ALT",
    "albumin": "Albumin",
    "ldh": "LDH",
    "total_bilirubin": "Total bilirubin",
    "weight": "Weight",
}

UNIT_LABELS: dict[str, str] = {
    "ng/mL": "ng/mL",
    "g/dL": "g/dL",
    "10^9/L": "×10⁹/L",
    "mg/dL": "mg/dL",
    "U/L": "U/L",
    "kg": "kg",
}


def unit_label(test: str) -> str:
    return UNIT_LABELS[config.CANONICAL_UNITS[test]]


def baseline_values(cohort: Cohort) -> pd.DataFrame:
    """Baseline value of every test per patient (index patient_id, a column per test)."""
    m = cohort.measurements
    d1 = cohort.first_dose_of_measurements()
    lo = d1 - pd.Timedelta(days=config.BASELINE_WINDOW_DAYS)
    window = m.loc[
        (m["measured_on"] >= lo) & (m["measured_on"] <= d1), ["patient_id", "test", "value"]
    ]
    # measurements are sorted by patient, test, date (stable): last = latest, last listed.
    wide = window.groupby(["patient_id", "test"])["value"].last().unstack("test")
    wide = wide.reindex(index=cohort.patients["patient_id"], columns=list(config.TESTS))
    return wide


def bmi(cohort: Cohort, baseline: pd.DataFrame) -> pd.Series:
    """BMI at baseline (kg/m²) indexed by patient_id; NaN without a weight."""
    height_m = cohort.patients.set_index("patient_id")["height_cm"] / 100
    return baseline["weight"] / height_m.reindex(baseline.index) ** 2


def predose_values(cohort: Cohort, tests=config.TESTS) -> pd.DataFrame:
    """Pre-dose value of each test at each dose: ``patient_id, dose_number, test, value``."""
    return _predose(cohort, tests)[0]


def _predose(cohort: Cohort, tests=config.TESTS) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`predose_values` and a key per row that tells (patient, test) pairs apart."""
    fast = _predose_by_codes(cohort, tuple(tests))
    if fast is not None:
        return fast
    m = cohort.measurements
    m = m[m["test"].isin(tests)][["patient_id", "test", "measured_on", "value"]]
    m = m.sort_values("measured_on", kind="stable")
    doses = cohort.doses[["patient_id", "dose_number", "dose_date"]]
    left = doses.merge(pd.DataFrame({"test": list(tests)}), how="cross").sort_values(
        "dose_date", kind="stable"
    )
    merged = pd.merge_asof(
        left,
        m,
        left_on="dose_date",
        right_on="measured_on",
        by=["patient_id", "test"],
        direction="backward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(days=config.PREDOSE_LAB_WINDOW_DAYS),
    )
    merged = merged.dropna(subset=["value"])
    pre = merged[["patient_id", "dose_number", "test", "value"]].sort_values(
        ["test", "dose_number", "patient_id"], kind="stable"
    )
    pid, test = (pd.factorize(pre[col].to_numpy(dtype=object))[0] for col in ("patient_id", "test"))
    return pre, pid.astype(np.int64) * (int(test.max(initial=0)) + 1) + test


_DAY_US = 86_400_000_000


def _predose_by_codes(
    cohort: Cohort, tests: tuple[str, ...]
) -> tuple[pd.DataFrame, np.ndarray] | None:
    """:func:`predose_values` computed on integer codes (same rows, order and index).

    The ``merge_asof`` of the plain version, by (patient, test) on the date, is a
    binary search here: the measurements of the wanted tests are ordered by
    (patient, test, day) — already so in a loaded cohort — and each (dose, test)
    looks up the last value dated on or before the dose.  Returns ``None`` (use
    the plain version) unless every date is a whole day in microseconds.
    """
    m = cohort.measurements
    doses = cohort.doses
    measured = m["measured_on"].to_numpy()
    dose_dates = doses["dose_date"].to_numpy()
    # pandas 2 parses dates to nanoseconds, pandas 3 to microseconds
    if measured.dtype == "M8[ns]":
        measured = measured.astype("M8[us]")
    if dose_dates.dtype == "M8[ns]":
        dose_dates = dose_dates.astype("M8[us]")
    if measured.dtype != "M8[us]" or dose_dates.dtype != "M8[us]" or not len(tests):
        return None
    if np.isnat(measured).any() or np.isnat(dose_dates).any() or not len(measured):
        return None
    when, dose_when = measured.view(np.int64), dose_dates.view(np.int64)
    days, dose_days = when // _DAY_US, dose_when // _DAY_US
    if (days * _DAY_US != when).any() or (dose_days * _DAY_US != dose_when).any():
        return None
    pid, test = cohort.measurement_codes
    n_tests = len(test.values)
    want = test.values.get_indexer(list(tests))

    # Measurements of the wanted tests, keyed by (patient, test, day) and ordered
    # (in place: these arrays have one element per measurement).
    wanted = np.zeros(n_tests + 1, dtype=bool)
    wanted[want[want >= 0]] = True
    keep = wanted[test.codes] & (pid.codes >= 0)
    rows = None if keep.all() else np.flatnonzero(keep)

    def pick(values: np.ndarray) -> np.ndarray:
        return values if rows is None else values[rows]

    day0 = int(min(days.min(), dose_days.min(initial=days.min())))
    span = int(max(days.max(), dose_days.max(initial=days.max()))) - day0 + 2
    if (len(pid.values) + 1) * n_tests * span >= 1 << 62:
        return None
    combined = pick(pid.codes).astype(np.int64)
    combined *= n_tests
    combined += pick(test.codes)
    combined *= span
    combined += pick(days)
    combined -= day0
    if not len(combined):
        return None
    if (combined[1:] < combined[:-1]).any():
        order = np.argsort(combined, kind="stable")
        rows = order if rows is None else rows[order]
        combined = combined[order]
    value_of = m["value"].to_numpy()
    if rows is not None:
        value_of = value_of[rows]

    # Left side: every (dose, test) in the order of the plain version's merge.
    n_doses, n_want = len(doses), len(tests)
    dose_pid = pid.values.get_indexer(doses["patient_id"].to_numpy(dtype=object))
    left_key = np.repeat(dose_pid.astype(np.int64), n_want) * n_tests + np.tile(want, n_doses)
    left_day = np.repeat(dose_days - day0, n_want)
    hit = np.searchsorted(combined, left_key * span + left_day, side="right") - 1
    safe = np.maximum(hit, 0)
    found = (
        (hit >= 0)
        & (np.repeat(dose_pid, n_want) >= 0)
        & (np.tile(want, n_doses) >= 0)
        & (combined[safe] // span == left_key)
        & (left_day - combined[safe] % span <= config.PREDOSE_LAB_WINDOW_DAYS)
    )
    value = value_of[safe]
    found &= ~np.isnan(value)

    # Index = position in the plain version's merge (cross join sorted by dose date).
    dose_rank = np.empty(n_doses, dtype=np.int64)
    dose_rank[np.argsort(dose_when, kind="stable")] = np.arange(n_doses)
    position = np.repeat(dose_rank, n_want) * n_want + np.tile(np.arange(n_want), n_doses)

    # Rows sorted by test, dose number and patient_id (stable: then by position).
    test_rank = _text_rank(np.asarray(tests, dtype=object))
    patient_ids = doses["patient_id"]
    patient_rank = _text_rank(patient_ids.to_numpy(dtype=object))
    dose_number = doses["dose_number"].to_numpy()
    if len(set(tests)) == n_want:
        # (dose, test) pairs in that order without sorting them all: tests in
        # order, and for each test the doses in order.
        dose_order = np.lexsort((dose_rank, patient_rank, dose_number))
        test_order = np.argsort(test_rank, kind="stable")
        cross = (test_order[:, None] + dose_order[None, :] * n_want).reshape(-1)
        cross = cross[found[cross]]
    else:
        cross = np.flatnonzero(found)
        dose_of, test_of = cross // n_want, cross % n_want
        order = np.lexsort(
            (position[cross], patient_rank[dose_of], dose_number[dose_of], test_rank[test_of])
        )
        cross = cross[order]
    dose_of, test_of = cross // n_want, cross % n_want
    pre = pd.DataFrame(
        {
            "patient_id": patient_ids.array.take(dose_of),
            "dose_number": dose_number[dose_of],
            "test": pd.array(np.asarray(tests, dtype=object), dtype="str").take(test_of),
            "value": value[cross],
        },
        index=pd.Index(position[cross]),
    )
    return pre, left_key[cross]


def _text_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each text in sorted order (equal texts, equal ranks)."""
    return np.unique(values, return_inverse=True)[1].reshape(-1)


def trajectories(cohort: Cohort, tests=config.TESTS) -> tuple[LabPoint, ...]:
    """Median [IQR] and n of the pre-dose value per test and dose, with change from dose 1."""
    pre, key = _predose(cohort, tests)
    # Change from the dose-1 value of the same patient and test; the rows are
    # sorted by test, dose and patient, so each (test, dose) is one slice.
    test = pre["test"].to_numpy(dtype=object)
    dose = pre["dose_number"].to_numpy()
    value = pre["value"].to_numpy()
    first = pd.Series(value[dose == 1], index=key[dose == 1])
    change_all = value - first.reindex(key).to_numpy()
    edges = np.flatnonzero((test[1:] != test[:-1]) | (dose[1:] != dose[:-1])) + 1
    bounds = zip(np.append(0, edges), np.append(edges, len(pre)), strict=True)
    points = []
    for start, stop in (b for b in bounds if len(pre)):
        name, dose_number = pre["test"].iat[start], dose[start]
        values = pd.Series(value[start:stop])
        change = pd.Series(change_all[start:stop]).dropna()
        med, q1, q3 = quartiles(values)
        cmed, cq1, cq3 = quartiles(change)
        points.append(
            LabPoint(
                test=name,
                label=LAB_LABELS[name],
                unit=unit_label(name),
                dose_number=int(dose_number),
                n=len(values),
                median=med,
                q1=q1,
                q3=q3,
                change_n=len(change),
                change_median=cmed,
                change_q1=cq1,
                change_q3=cq3,
            )
        )
    order = {t: i for i, t in enumerate(config.TESTS)}
    return tuple(sorted(points, key=lambda p: (order[p.test], p.dose_number)))


def toxicity(cohort: Cohort, baseline: pd.DataFrame) -> tuple[ToxicityFlag, ...]:
    """Grade ≥ 2 anemia and thrombocytopenia at baseline and on treatment."""
    m = cohort.measurements
    on = (m["measured_on"] > cohort.first_dose_of_measurements()).to_numpy()
    tests = cohort.measurement_codes[1]
    flags = []
    for name, test, limit, label, threshold in (
        (
            "anemia_grade2",
            "hemoglobin",
            config.HB_GRADE2_G_DL,
            "Anemia grade ≥ 2",
            "hemoglobin < 10 g/dL",
        ),
        (
            "thrombocytopenia_grade2",
            "platelets",
            config.PLT_GRADE2_10E9_L,
            "Thrombocytopenia grade ≥ 2",
            "platelets < 75 ×10⁹/L",
        ),
    ):
        values = m.loc[on & tests.rows_equal(test), ["patient_id", "value"]]
        with_values = values["patient_id"].nunique()
        below = set(values.loc[values["value"] < limit, "patient_id"])
        base = baseline[test]
        base_below = set(base.index[base < limit])
        n_base = int(base.notna().sum())
        new = below - base_below
        flags.append(
            ToxicityFlag(
                name=name,
                label=label,
                threshold=threshold,
                baseline=Count(len(base_below), pct(len(base_below), n_base), n_base),
                on_treatment=Count(len(below), pct(len(below), with_values), with_values),
                new_on_treatment=Count(len(new), pct(len(new), with_values), with_values),
            )
        )
    return tuple(flags)
