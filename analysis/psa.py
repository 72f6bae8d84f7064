"""PSA response: baseline, per-dose windows, PSA50/PSA90 milestones, confirmation.

The definitions (data/README.md, "Response definitions") are implemented
exactly, vectorised over patients:

* Baseline PSA: the latest PSA dated in [dose-1 date − 60 days, dose-1 date].
  No such value, or a value of 0 → not PSA-evaluable (counted as a non-responder).
* Window "after dose n": dates in (date of dose n, date of dose n+1]; after the
  last dose given, (date of last dose, end of data].
* PSA50 after dose n: minimum PSA in that window ≤ 0.5 × baseline; PSA90:
  ≤ 0.1 × baseline.  A censored ``<x`` counts as x.  The milestone is the
  earliest such n; a responder has a PSA50 milestone.
* Confirmed PSA50: the first post-baseline PSA ≤ 0.5 × baseline, and the first
  PSA measured ≥ 21 days after it is also ≤ 0.5 × baseline.
* Best PSA change: (minimum PSA after the date of dose 1 − baseline) /
  baseline × 100.

Thresholds are compared with a relative tolerance of 1e-9, so that a value
equal to the threshold in decimal notation (e.g. 12.3 against 0.1 × 123)
counts as reaching it despite binary floating point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.load import Cohort, lookup, sort_stable

#: Relative tolerance of threshold comparisons (see module docstring).
RTOL = 1e-9


def reaches(values, baseline, fraction: float):
    """True where ``values ≤ fraction × baseline`` (inclusive, with RTOL)."""
    return values <= fraction * baseline * (1 + RTOL)


def assign_windows(psa: pd.DataFrame, doses: pd.DataFrame) -> pd.Series:
    """Dose window of each measurement: the last dose dated strictly before it.

    A value on the day of dose n+1 belongs to window n; a value on or before
    the date of dose 1 gets no window (NaN).
    """
    left = psa[["patient_id", "measured_on"]].reset_index().sort_values(["measured_on"])
    right = doses[["patient_id", "dose_number", "dose_date"]].sort_values(["dose_date"])
    # pandas 2 refuses datetime keys of different resolutions (e.g. [us] vs [ns])
    left["measured_on"] = left["measured_on"].astype("datetime64[ns]")
    right = right.assign(dose_date=right["dose_date"].astype("datetime64[ns]"))
    merged = pd.merge_asof(
        left,
        right,
        left_on="measured_on",
        right_on="dose_date",
        by="patient_id",
        allow_exact_matches=False,
        direction="backward",
    )
    return merged.set_index("index")["dose_number"].reindex(psa.index)


def patient_psa(cohort: Cohort) -> pd.DataFrame:
    """Per-patient PSA results, one row per patient in patients.csv order.

    Returns
    -------
    pandas.DataFrame
        Columns ``patient_id, baseline_psa, evaluable, psa50_after_dose,
        psa90_after_dose, psa50_confirmed, best_psa_change_pct,
        doses_received, treatment_status, responder``.  Not-applicable values
        are missing (``NaN`` / ``<NA>``).
    """
    pts = cohort.patients[["patient_id", "first_dose_date", "treatment_status"]].set_index(
        "patient_id"
    )
    d1 = pts["first_dose_date"]
    m = cohort.measurements
    is_psa = cohort.measurement_codes[1].rows_equal("psa")
    psa = m.loc[is_psa, ["patient_id", "measured_on", "value"]]
    psa = sort_stable(psa, ["patient_id", "measured_on"])
    psa_d1 = lookup(psa["patient_id"], d1)

    # Baseline: latest PSA in [d1 - 60 d, d1]; on a tie of dates, the row listed last.
    in_window = (psa["measured_on"] >= psa_d1 - pd.Timedelta(days=config.BASELINE_WINDOW_DAYS)) & (
        psa["measured_on"] <= psa_d1
    )
    baseline = psa[in_window].groupby("patient_id")["value"].last()
    # A baseline of 0 admits no relative change: such a patient is not PSA-evaluable.
    baseline = baseline.where(baseline > 0).reindex(pts.index)

    post = psa[psa["measured_on"] > psa_d1].copy()
    post["baseline"] = lookup(post["patient_id"], baseline)
    post = post[post["baseline"].notna()]
    post["window"] = assign_windows(post, cohort.doses)
    post["is50"] = reaches(post["value"], post["baseline"], config.PSA50_FRACTION)
    post["is90"] = reaches(post["value"], post["baseline"], config.PSA90_FRACTION)

    # Windows are ordered in time, so the earliest window whose minimum reaches
    # the threshold is the window of the earliest value that reaches it.
    psa50_after = post[post["is50"]].groupby("patient_id")["window"].min()
    psa90_after = post[post["is90"]].groupby("patient_id")["window"].min()

    first_dip = post[post["is50"]].groupby("patient_id")["measured_on"].min()
    later = post.assign(first_dip=lookup(post["patient_id"], first_dip))
    later = later[
        later["first_dip"].notna()
        & (later["measured_on"] >= later["first_dip"] + pd.Timedelta(days=config.CONFIRMATION_DAYS))
    ]
    confirm = later.groupby("patient_id")["is50"].first()

    best = post.groupby("patient_id")["value"].min()
    best_pct = (best - baseline.reindex(best.index)) / baseline.reindex(best.index) * 100

    doses_received = cohort.doses.groupby("patient_id")["dose_number"].max()

    evaluable = baseline.notna()
    out = pd.DataFrame(index=pts.index)
    out["baseline_psa"] = baseline
    out["evaluable"] = evaluable
    out["psa50_after_dose"] = psa50_after.reindex(pts.index).astype("Int64")
    out["psa90_after_dose"] = psa90_after.reindex(pts.index).astype("Int64")
    confirmed = confirm.reindex(pts.index).astype("boolean").fillna(False)
    out["psa50_confirmed"] = confirmed.where(evaluable, pd.NA).astype("boolean")
    out["best_psa_change_pct"] = best_pct.reindex(pts.index)
    out["doses_received"] = doses_received.reindex(pts.index).astype(np.int64)
    out["treatment_status"] = pts["treatment_status"]
    out["responder"] = out["psa50_after_dose"].notna()
    return out.reset_index()


def psa_course(cohort: Cohort, baseline: pd.Series) -> pd.DataFrame:
    """Minimum PSA per dose window relative to baseline, for evaluable patients.

    Parameters
    ----------
    baseline : pandas.Series
        Baseline PSA indexed by patient_id (NaN when not evaluable).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, after_dose, min_psa, pct_change`` for every window that
        holds at least one PSA value.
    """
    m = cohort.measurements
    is_psa = cohort.measurement_codes[1].rows_equal("psa")
    psa = m.loc[is_psa, ["patient_id", "measured_on", "value"]]
    d1 = cohort.first_dose_of_measurements(is_psa)
    post = psa[psa["measured_on"] > d1].copy()
    post["baseline"] = lookup(post["patient_id"], baseline)
    post = post[post["baseline"].notna()]
    post["after_dose"] = assign_windows(post, cohort.doses)
    grouped = post.groupby(["patient_id", "after_dose"], sort=True).agg(
        min_psa=("value", "min"), baseline=("baseline", "first")
    )
    grouped["pct_change"] = (grouped["min_psa"] - grouped["baseline"]) / grouped["baseline"] * 100
    return grouped.drop(columns="baseline").reset_index()
