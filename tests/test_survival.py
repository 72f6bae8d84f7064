"""Kaplan–Meier, log-rank and Cox estimates against R's survival package.

The reference numbers are in ``tests/r/survival_reference.json``, written by
``tests/r/survival_reference.R`` (``survfit(conf.type = "log-log")``,
``quantile``, ``summary(fit, times =)``, reverse Kaplan–Meier, ``survdiff``,
``coxph(ties = "efron")``).  The cohorts cover deaths and censorings tied on
the same day, a curve with no event, a median that is not reached, curves
exactly at 0.5 over an interval (with and without censoring), and 40 patients
with a landmark at 84 days.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from analysis import survival

R = json.loads((Path(__file__).parent / "r" / "survival_reference.json").read_text())
CURVES = [k for k in R if k != "landmark"]
MONTH = survival.DAYS_PER_MONTH
TOL = 1e-6


def close(ours, theirs, scale: float = 1.0) -> bool:
    if theirs is None:
        return ours is None
    return ours is not None and math.isclose(ours * scale, theirs, rel_tol=TOL, abs_tol=1e-9)


@pytest.mark.parametrize("name", CURVES)
def test_curve_and_limits_match_r(name):
    ref = R[name]
    c = survival.curve(ref["time"], [bool(s) for s in ref["status"]])
    assert list(c.times) == [float(t) for t in ref["km_time"]]
    for ours, theirs in (
        (c.surv, ref["km_surv"]),
        (c.lower, ref["km_lower"]),
        (c.upper, ref["km_upper"]),
    ):
        for a, b in zip(ours, theirs, strict=True):
            if b is None:  # R: NA where S(t) = 0
                assert math.isnan(a)
            else:
                assert math.isclose(a, b, rel_tol=TOL, abs_tol=1e-12), (a, b)


@pytest.mark.parametrize("name", CURVES)
def test_median_rates_at_risk_and_follow_up_match_r(name):
    ref = R[name]
    events = [bool(s) for s in ref["status"]]
    s = survival.summarize(ref["time"], events)
    assert s.n == len(ref["time"]) and s.events == sum(events)
    assert close(s.median_months, ref["median"], MONTH), (s.median_months, ref["median"])
    assert close(s.median_ci_low, ref["median_low"], MONTH)
    assert close(s.median_ci_high, ref["median_high"], MONTH)
    for ours, theirs in zip(
        (s.rate_6m, s.rate_6m_ci_low, s.rate_6m_ci_high), ref["rate6"], strict=True
    ):
        assert close(ours, theirs), (ours, theirs)
    for ours, theirs in zip(
        (s.rate_12m, s.rate_12m_ci_low, s.rate_12m_ci_high), ref["rate12"], strict=True
    ):
        assert close(ours, theirs), (ours, theirs)
    assert [a.n for a in s.at_risk] == ref["at_risk"]
    assert [a.month for a in s.at_risk] == [3 * k for k in range(len(ref["at_risk"]))]
    follow = survival.reverse_km_median_months(ref["time"], events)
    assert close(follow, ref["follow_up_median"], MONTH)


def test_the_exact_half_rule_is_r_not_lifelines():
    """lifelines would say 60 days (first time S ≤ 0.5); R says the midpoint, 75."""
    s = survival.summarize([30, 60, 90, 120], [True] * 4)
    assert s.median_months * MONTH == pytest.approx(75)
    from lifelines import KaplanMeierFitter

    assert KaplanMeierFitter().fit([30, 60, 90, 120]).median_survival_time_ == 60


def test_quantile_rule_by_hand():
    # Never reaches 0.5 → None; reaches below at once → that time; exactly 0.5 to the end → t.
    assert survival.quantile_time([10, 20], [0.9, 0.6]) is None
    assert survival.quantile_time([10, 20], [0.9, 0.4]) == 20
    assert survival.quantile_time([10, 20, 30], [0.8, 0.5, 0.5]) == 20
    assert survival.quantile_time([10, 20, 30, 40], [0.8, 0.5, 0.5, 0.2]) == 30  # (20 + 40) / 2
    assert survival.quantile_time([10, 20], [math.nan, 0.4]) == 20


def test_landmark_logrank_and_cox_match_r():
    ref = R["landmark"]
    L = ref["landmark_days"]
    rows = [
        (t, bool(s), bool(g))
        for t, s, g in zip(ref["time"], ref["status"], ref["group"], strict=True)
        if t > L or (not s and t >= L)
    ]
    assert len(rows) == ref["n_included"]
    t = [r[0] - L for r in rows]
    e = [r[1] for r in rows]
    g = [r[2] for r in rows]
    assert survival.logrank_p(t, e, g) == pytest.approx(ref["logrank_p"], rel=TOL)
    cox = survival.cox_binary(t, e, g)
    assert cox.hr == pytest.approx(ref["hr"], rel=TOL)
    assert cox.ci_low == pytest.approx(ref["hr_low"], rel=TOL)
    assert cox.ci_high == pytest.approx(ref["hr_high"], rel=TOL)
    assert cox.p == pytest.approx(ref["hr_p"], rel=TOL)


def test_cox_not_estimable_cases():
    none = survival.CoxResult(None, None, None, None)
    assert survival.cox_binary([1, 2, 3], [True, True, True], [True, True, True]) == none
    assert survival.cox_binary([1, 2, 3], [False, False, False], [True, False, True]) == none
    # all events in one group: the likelihood has no finite maximum
    assert survival.cox_binary([1, 2, 3, 4], [True, True, False, False], [1, 1, 0, 0]) == none
    assert survival.logrank_p([1, 2], [False, False], [True, False]) is None
