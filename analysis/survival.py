"""Time-to-event estimates as R's ``survival`` package reports them.

The estimators are lifelines' (Kaplan–Meier with Greenwood variance, the
log-rank test, Cox regression with Efron ties); where lifelines' defaults or
outputs differ from R, this module configures or completes them:

* confidence intervals of S(t): lifelines' "exponential Greenwood" interval is
  R's ``conf.type = "log-log"``; it is taken from lifelines, undefined (NaN,
  R's NA) where S(t) is 1 or 0;
* Cox regression: Efron ties as in ``coxph``, with a tighter stopping rule
  than lifelines' default, which left the HR off R's in the 4th digit;
* the median and its CI: lifelines takes the first time S(t) ≤ 0.5; R's
  ``survfit`` takes, when a curve is *exactly* 0.5 (within √machine-ε) over an
  interval, the midpoint of that interval, and reads the CI of the median off
  the upper and lower confidence curves with the same rule — done here
  (:func:`quantile_time`);
* S(t) at fixed times and the numbers at risk follow ``summary(fit, times =)``:
  the estimate at the last event time ≤ t, and the patients with time ≥ t;
  a time after the last observation has no estimate (``None``);
* median follow-up by the reverse Kaplan–Meier method: the median of the
  curve that treats censoring as the event.

Times are in days in, months out (days / 30.4375).  Every function takes
plain arrays, so the tests check them against R on hand-made data, and the
analysis feeds them from the cohort.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DAYS_PER_MONTH = 30.4375
#: R's survfit tolerance for "the curve is exactly at the quantile".
_TOL = math.sqrt(2.220446049250313e-16)
RATE_MONTHS = (6, 12)
AT_RISK_STEP_MONTHS = 3


@dataclass(frozen=True)
class AtRisk:
    month: int
    n: int


@dataclass(frozen=True)
class SurvivalSummary:
    """One Kaplan–Meier curve as the documents report it (``None``: not reached/estimable)."""

    n: int
    events: int
    median_months: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    rate_6m: float | None
    rate_6m_ci_low: float | None
    rate_6m_ci_high: float | None
    rate_12m: float | None
    rate_12m_ci_low: float | None
    rate_12m_ci_high: float | None
    at_risk: tuple[AtRisk, ...]


@dataclass(frozen=True)
class Curve:
    """The step function of a fit: at ``times[i]`` the curve drops to ``surv[i]``."""

    times: tuple[float, ...]
    surv: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


def _fit(durations: Sequence[float], events: Sequence[bool]):
    import numpy as np
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=0.05)
    kmf.fit(np.asarray(durations, dtype=float), np.asarray(events, dtype=bool))
    return kmf


def curve(durations: Sequence[float], events: Sequence[bool]) -> Curve:
    """Kaplan–Meier estimate with log-log 95% limits at each distinct observed time > 0."""
    if len(durations) == 0:
        return Curve((), (), (), ())
    kmf = _fit(durations, events)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    times, surv, lower, upper = [], [], [], []
    for t, s, lo, hi in zip(sf.index, sf.to_numpy(), ci.iloc[:, 0], ci.iloc[:, 1], strict=True):
        if t <= 0:
            continue
        times.append(float(t))
        surv.append(float(s))
        # Where S(t) is 1 or 0 the log-log interval is undefined: R gives NA.
        defined = 0 < s < 1
        lower.append(float(lo) if defined else math.nan)
        upper.append(float(hi) if defined else math.nan)
    return Curve(tuple(times), tuple(surv), tuple(lower), tuple(upper))


def quantile_time(times: Sequence[float], values: Sequence[float], p: float = 0.5) -> float | None:
    """The time a step curve reaches ``p``, by R's ``survfit`` rule.

    The first time the curve is ≤ p; when it equals p (within √ε) from a time
    tᵢ to the next step tⱼ, the midpoint (tᵢ + tⱼ) / 2 — or tᵢ when the curve
    stays at p to its end.  ``None`` when the curve never reaches p.  NaN
    values (an undefined confidence limit) are skipped, as R does.
    """
    points = [(t, v) for t, v in zip(times, values, strict=True) if not math.isnan(v)]
    for i, (t, v) in enumerate(points):
        if abs(v - p) < _TOL:
            later = [u for u, w in points[i + 1 :] if w < p - _TOL]
            return (t + later[0]) / 2 if later else t
        if v < p:
            return t
    return None


def value_at(c: Curve, t: float) -> tuple[float, float, float] | None:
    """(S, lower, upper) at time ``t`` as ``summary(fit, times = t)``: last step at or before t."""
    if not c.times or t > c.times[-1]:
        return None
    s, lo, hi = 1.0, 1.0, 1.0
    for ti, si, li, ui in zip(c.times, c.surv, c.lower, c.upper, strict=True):
        if ti > t:
            break
        s, lo, hi = si, li, ui
    return s, lo, hi


def _months(days: float | None) -> float | None:
    return None if days is None else days / DAYS_PER_MONTH


def _clean(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def summarize(durations_days: Sequence[float], events: Sequence[bool]) -> SurvivalSummary:
    """Median with CI, 6- and 12-month rates with CI and numbers at risk every 3 months."""
    n = len(durations_days)
    c = curve(durations_days, events)
    median = quantile_time(c.times, c.surv)
    low = quantile_time(c.times, c.lower)  # the lower curve reaches 0.5 first
    high = quantile_time(c.times, c.upper)
    rates: dict[int, tuple[float | None, float | None, float | None]] = {}
    for m in RATE_MONTHS:
        at = value_at(c, m * DAYS_PER_MONTH)
        rates[m] = (None, None, None) if at is None else tuple(_clean(v) for v in at)
    follow = max(durations_days, default=0.0)
    at_risk = []
    month = 0
    while month * DAYS_PER_MONTH <= follow + 1e-9:
        t = month * DAYS_PER_MONTH
        at_risk.append(AtRisk(month, sum(1 for d in durations_days if d >= t - 1e-9)))
        month += AT_RISK_STEP_MONTHS
    return SurvivalSummary(
        n=n,
        events=int(sum(bool(e) for e in events)),
        median_months=_months(median),
        median_ci_low=_months(low),
        median_ci_high=_months(high),
        rate_6m=rates[6][0],
        rate_6m_ci_low=rates[6][1],
        rate_6m_ci_high=rates[6][2],
        rate_12m=rates[12][0],
        rate_12m_ci_low=rates[12][1],
        rate_12m_ci_high=rates[12][2],
        at_risk=tuple(at_risk),
    )


def reverse_km_median_months(
    durations_days: Sequence[float], events: Sequence[bool]
) -> float | None:
    """Median follow-up: the median of the Kaplan–Meier curve of censoring."""
    c = curve(durations_days, [not bool(e) for e in events])
    return _months(quantile_time(c.times, c.surv))


def logrank_p(
    durations_days: Sequence[float], events: Sequence[bool], groups: Sequence[bool]
) -> float | None:
    """Two-sided log-rank p (R's ``survdiff``); ``None`` when a group is empty or no event."""
    import numpy as np
    from lifelines.statistics import logrank_test

    d = np.asarray(durations_days, dtype=float)
    e = np.asarray(events, dtype=bool)
    g = np.asarray(groups, dtype=bool)
    if g.all() or (~g).all() or not e.any():
        return None
    result = logrank_test(d[g], d[~g], event_observed_A=e[g], event_observed_B=e[~g])
    return float(result.p_value)


@dataclass(frozen=True)
class CoxResult:
    hr: float | None
    ci_low: float | None
    ci_high: float | None
    p: float | None


def cox_binary(
    durations_days: Sequence[float], events: Sequence[bool], covariate: Sequence[bool]
) -> CoxResult:
    """Hazard ratio of ``covariate`` (true vs false), Efron ties, Wald CI and p (R's ``coxph``).

    ``None`` throughout when the model cannot be estimated (a group without
    patients, no event, or an event pattern with no finite estimate, e.g. all
    events in one group).
    """
    import warnings

    import numpy as np
    import pandas as pd
    from lifelines import CoxPHFitter

    x = np.asarray(covariate, dtype=float)
    e = np.asarray(events, dtype=bool)
    none = CoxResult(None, None, None, None)
    # One group only, or a group without events (the likelihood is monotone: the estimate
    # goes to ±∞; R warns and reports it).
    if x.min(initial=0) == x.max(initial=0) or not e[x == 1].any() or not e[x == 0].any():
        return none
    frame = pd.DataFrame({"T": np.asarray(durations_days, dtype=float), "E": e, "x": x})
    cph = CoxPHFitter(alpha=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # lifelines' default stopping rule is looser than coxph's (eps = 1e-9): the
            # HR differed from R in the 4th digit. 1e-12 on the step gives R's estimate.
            cph.fit(
                frame,
                duration_col="T",
                event_col="E",
                formula="x",
                fit_options={"precision": 1e-12},
            )
        except Exception:  # convergence failure: not estimable
            return none
    row = cph.summary.loc["x"]
    return CoxResult(
        hr=float(row["exp(coef)"]),
        ci_low=float(row["exp(coef) lower 95%"]),
        ci_high=float(row["exp(coef) upper 95%"]),
        p=float(row["p"]),
    )
