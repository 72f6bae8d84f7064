"""Follow-up results: survival curves, the landmark analysis, discontinuation and dosing.

Composes :mod:`analysis.followup` (per-patient times and events, by the
definitions in data/README.md) with :mod:`analysis.survival` (estimates as
R's ``survival`` package gives them) into the frozen results that
``results.json`` carries under ``survival``, ``landmark``,
``discontinuation`` and ``dosing``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import config, followup, survival
from analysis.records import Cohort
from analysis.stats import pct, quartiles

#: Marks a field that is drawn in the figures but kept out of ``results.json``.  Such
#: fields are also left out of ``==`` (compare=False): curves hold NaN limits (NaN != NaN)
#: and results with the same ``results.json`` content should compare equal.
NOT_IN_JSON = {"results_json": False}


@dataclass(frozen=True)
class CurvePoints:
    """A Kaplan–Meier curve for drawing: :func:`survival.curve` in months.

    At ``times_months[i]`` the curve drops to ``surv[i]`` (the curve is 1
    before the first time); ``lower``/``upper``: log-log 95% limits, NaN where
    S is 1 or 0.  ``censor_times_months``: one entry per censored patient
    (ties repeated), sorted.  ``at_risk``: patients at risk every 3 months.
    """

    times_months: tuple[float, ...]
    surv: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    censor_times_months: tuple[float, ...]
    at_risk: tuple[survival.AtRisk, ...] = ()


@dataclass(frozen=True)
class SurvivalResults:
    """``os``, ``psa_pfs``, ``rpfs``: ``None`` when their data are absent.

    ``*_curve``: the same curves' points for the figures (not in ``results.json``).
    """

    os: survival.SurvivalSummary | None
    psa_pfs: survival.SurvivalSummary | None
    rpfs: survival.SurvivalSummary | None
    follow_up_median_months: float | None
    data_cutoff: str | None
    os_curve: CurvePoints | None = field(
        default=None, repr=False, compare=False, metadata=NOT_IN_JSON
    )
    psa_pfs_curve: CurvePoints | None = field(
        default=None, repr=False, compare=False, metadata=NOT_IN_JSON
    )
    rpfs_curve: CurvePoints | None = field(
        default=None, repr=False, compare=False, metadata=NOT_IN_JSON
    )


@dataclass(frozen=True)
class LandmarkGroup:
    psa50: bool
    n: int
    events: int
    median_months: float | None
    median_ci_low: float | None
    median_ci_high: float | None


@dataclass(frozen=True)
class LandmarkResult:
    weeks: int
    n_included: int
    n_excluded_died: int
    n_excluded_censored: int
    hr: float | None
    hr_ci_low: float | None
    hr_ci_high: float | None
    hr_p: float | None
    logrank_p: float | None
    groups: tuple[LandmarkGroup, ...]
    #: ``(psa50, CurvePoints)`` per group, months from the landmark (not in ``results.json``)
    curves: tuple[tuple[bool, CurvePoints], ...] = field(
        default=(), repr=False, compare=False, metadata=NOT_IN_JSON
    )


@dataclass(frozen=True)
class Discontinuation:
    reason: str
    n: int
    pct: float | None


@dataclass(frozen=True)
class DoseCount:
    doses: int
    n: int
    pct: float | None


@dataclass(frozen=True)
class Dosing:
    distribution: tuple[DoseCount, ...]
    activity_per_dose_median: float | None
    activity_per_dose_q1: float | None
    activity_per_dose_q3: float | None
    cumulative_activity_median: float | None
    cumulative_activity_q1: float | None
    cumulative_activity_q3: float | None


@dataclass(frozen=True)
class Outcomes:
    survival: SurvivalResults
    landmark: LandmarkResult | None
    discontinuation: tuple[Discontinuation, ...]
    dosing: Dosing
    frame: pd.DataFrame  # per patient: os_months, os_event, psa_pfs_months, ...


def _summary(days: pd.Series, events: pd.Series) -> survival.SurvivalSummary | None:
    keep = days.notna()
    if not keep.any():
        return None
    return survival.summarize(days[keep].astype(float).tolist(), events[keep].astype(bool).tolist())


def curve_points(durations_days, events, at_risk: tuple[survival.AtRisk, ...] = ()) -> CurvePoints:
    """:func:`survival.curve` of the patients, in months, with their censoring times."""
    days = [float(d) for d in durations_days]
    flags = [bool(e) for e in events]
    c = survival.curve(days, flags)
    month = survival.DAYS_PER_MONTH
    censored = sorted(d / month for d, e in zip(days, flags, strict=True) if not e)
    return CurvePoints(
        times_months=tuple(t / month for t in c.times),
        surv=c.surv,
        lower=c.lower,
        upper=c.upper,
        censor_times_months=tuple(censored),
        at_risk=tuple(at_risk),
    )


def _curve(
    days: pd.Series, events: pd.Series, summary: survival.SurvivalSummary | None
) -> CurvePoints | None:
    if summary is None:
        return None
    keep = days.notna()
    return curve_points(
        days[keep].astype(float).tolist(), events[keep].astype(bool).tolist(), summary.at_risk
    )


def compute_outcomes(
    cohort: Cohort,
    per_patient: pd.DataFrame,
    *,
    cutoff: dt.date | None = None,
    landmark_weeks: int = followup.DEFAULT_LANDMARK_WEEKS,
) -> Outcomes:
    """Every follow-up result of the cohort (``per_patient``: :func:`analysis.psa.patient_psa`)."""
    m = cohort.measurements
    is_psa = cohort.measurement_codes[1].rows_equal("psa")
    psa = m.loc[is_psa, ["patient_id", "measured_on", "value"]]
    fu = followup.follow_up(cohort.patients, psa, per_patient, cutoff=cutoff)
    f = fu.frame
    evaluable = per_patient["evaluable"].to_numpy(dtype=bool)

    os_ = _summary(f["os_days"], f["os_event"]) if fu.has_os else None
    pfs_days = f["psa_pfs_days"].where(evaluable)
    pfs_event = f["psa_pfs_event"].astype("boolean").fillna(False).astype(bool)
    psa_pfs = _summary(pfs_days, pfs_event)
    rpfs = _summary(f["rpfs_days"], f["rpfs_event"]) if fu.has_rpfs else None
    follow = None
    if fu.has_os:
        keep = f["os_days"].notna()
        follow = survival.reverse_km_median_months(
            f.loc[keep, "os_days"].astype(float).tolist(),
            f.loc[keep, "os_event"].astype(bool).tolist(),
        )
    surv = SurvivalResults(
        os=os_,
        psa_pfs=psa_pfs,
        rpfs=rpfs,
        follow_up_median_months=follow,
        data_cutoff=None if cutoff is None else cutoff.isoformat(),
        os_curve=_curve(f["os_days"], f["os_event"], os_) if fu.has_os else None,
        psa_pfs_curve=_curve(pfs_days, pfs_event, psa_pfs),
        rpfs_curve=_curve(f["rpfs_days"], f["rpfs_event"], rpfs) if fu.has_rpfs else None,
    )

    landmark = None
    if fu.has_os:
        first = cohort.patients.set_index("patient_id")["first_dose_date"]
        lm = followup.landmark_set(fu, first, landmark_weeks)
        groups, curves = [], []
        for flag in (True, False):
            sel = lm.psa50 == flag
            s = survival.summarize(lm.time_days[sel].tolist(), lm.event[sel].tolist())
            curves.append(
                (flag, curve_points(lm.time_days[sel].tolist(), lm.event[sel].tolist(), s.at_risk))
            )
            groups.append(
                LandmarkGroup(
                    psa50=flag,
                    n=int(sel.sum()),
                    events=s.events,
                    median_months=s.median_months,
                    median_ci_low=s.median_ci_low,
                    median_ci_high=s.median_ci_high,
                )
            )
        cox = survival.cox_binary(lm.time_days.tolist(), lm.event.tolist(), lm.psa50.tolist())
        landmark = LandmarkResult(
            weeks=landmark_weeks,
            n_included=len(lm.time_days),
            n_excluded_died=lm.n_excluded_died,
            n_excluded_censored=lm.n_excluded_censored,
            hr=cox.hr,
            hr_ci_low=cox.ci_low,
            hr_ci_high=cox.ci_high,
            hr_p=cox.p,
            logrank_p=survival.logrank_p(
                lm.time_days.tolist(), lm.event.tolist(), lm.psa50.tolist()
            ),
            groups=tuple(groups),
            curves=tuple(curves),
        )

    frame = pd.DataFrame({"patient_id": f["patient_id"]})
    month = survival.DAYS_PER_MONTH
    frame["os_months"] = f["os_days"] / month if fu.has_os else np.nan
    frame["os_event"] = f["os_event"].where(f["os_days"].notna()) if fu.has_os else pd.NA
    frame["psa_pfs_months"] = pfs_days / month
    frame["psa_pfs_event"] = f["psa_pfs_event"].where(evaluable)
    frame["psa_progression"] = f["psa_progression"]
    return Outcomes(
        survival=surv,
        landmark=landmark,
        discontinuation=discontinuation(cohort),
        dosing=dosing(cohort),
        frame=frame,
    )


def discontinuation(cohort: Cohort) -> tuple[Discontinuation, ...]:
    """Reasons among the patients who discontinued (n, % of them), most frequent first."""
    p = cohort.patients
    reasons = p.loc[p["treatment_status"] == "discontinued", "discontinuation_reason"].astype(str)
    counts = reasons.str.strip().value_counts()
    total = int(counts.sum())
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold()))
    return tuple(Discontinuation(str(r), int(n), pct(int(n), total)) for r, n in rows)


def dosing(cohort: Cohort) -> Dosing:
    """Doses received per patient, and administered activity per dose and cumulative (GBq)."""
    d = cohort.doses
    received = d.groupby("patient_id")["dose_number"].max()
    n = len(cohort.patients)
    dist = received.value_counts().sort_index()
    distribution = tuple(DoseCount(int(k), int(v), pct(int(v), n)) for k, v in dist.items())
    activity = pd.to_numeric(d["activity_gbq"], errors="coerce")
    per = quartiles(activity.dropna()) if activity.notna().any() else (None, None, None)
    given = d.assign(a=activity)
    has_all = given["a"].notna().groupby(given["patient_id"]).all()  # every dose's activity
    cumulative = given.groupby("patient_id")["a"].sum()[has_all]
    cum = quartiles(cumulative) if len(cumulative) else (None, None, None)
    return Dosing(distribution, *per, *cum)


__all__ = ["Outcomes", "compute_outcomes", "config"]
