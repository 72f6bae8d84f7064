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
* Grade ≥ 2 anaemia: haemoglobin < 10 g/dL; grade ≥ 2 thrombocytopenia:
  platelets < 75 × 10⁹/L (CTCAE v5 lower bounds of grade 2).  "On treatment"
  means any value dated after the date of dose 1.
"""

from __future__ import annotations

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
    d1 = cohort.first_dose_of(m["patient_id"])
    lo = d1 - pd.Timedelta(days=config.BASELINE_WINDOW_DAYS)
    window = m[(m["measured_on"] >= lo) & (m["measured_on"] <= d1)]
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
    return merged[["patient_id", "dose_number", "test", "value"]].sort_values(
        ["test", "dose_number", "patient_id"], kind="stable"
    )


def trajectories(cohort: Cohort, tests=config.TESTS) -> tuple[LabPoint, ...]:
    """Median [IQR] and n of the pre-dose value per test and dose, with change from dose 1."""
    pre = predose_values(cohort, tests)
    first = pre[pre["dose_number"] == 1].set_index(["patient_id", "test"])["value"]
    keys = pd.MultiIndex.from_frame(pre[["patient_id", "test"]])
    pre = pre.assign(change=pre["value"].to_numpy() - first.reindex(keys).to_numpy())
    points = []
    for (test, dose_number), group in pre.groupby(["test", "dose_number"], sort=False):
        med, q1, q3 = quartiles(group["value"])
        change = group["change"].dropna()
        cmed, cq1, cq3 = quartiles(change)
        points.append(
            LabPoint(
                test=test,
                label=LAB_LABELS[test],
                unit=unit_label(test),
                dose_number=int(dose_number),
                n=len(group),
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
    """Grade ≥ 2 anaemia and thrombocytopenia at baseline and on treatment."""
    m = cohort.measurements
    d1 = cohort.first_dose_of(m["patient_id"])
    on = m[m["measured_on"] > d1]
    flags = []
    for name, test, limit, label, threshold in (
        (
            "anaemia_grade2",
            "hemoglobin",
            config.HB_GRADE2_G_DL,
            "Anaemia grade ≥ 2",
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
        values = on[on["test"] == test]
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
