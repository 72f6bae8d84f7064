"""Tests of analysis.models against references that do not come from it.

References used:

* closed forms for one binary covariate (a 2×2 table): ML log-OR log(ad/bc)
  with Wald SE sqrt(1/a+1/b+1/c+1/d); Firth log-OR
  log((a+½)(d+½)/((b+½)(c+½))) (Firth's estimate in a saturated two-group
  model adds ½ to every cell);
* a direct statsmodels ``Logit`` fit for the Wald interval of a continuous
  covariate;
* an independent penalised-likelihood computation written here with scipy
  (l*(β) = l(β) + ½ log|I(β)|, profiled over the nuisance parameters);
* R logistf results on the endometrial data of Heinze & Schemper (2002) as
  recorded in jzluo/firthlogist ``firthlogist/tests/test_firthlogist.py``, and
  on the simulated data of jzluo/firthmodels ``tests/conftest.py`` as recorded
  in ``tests/test_logistic.py::test_matches_logistf_with_separation``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from firthmodels import detect_separation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import expit
from scipy.stats import chi2

from analysis import models
from analysis.errors import PsmaRweError
from analysis.models import (
    MultivariableDecision,
    RegressionRow,
    fit_multivariable,
    fit_univariable,
)

Z975 = 1.959964
CHI2_95 = 3.841459
STATUSES = {"ok", "separation", "not_estimable", "not_converged"}


def table(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """Patients of a 2×2 table: a/b exposed events/non-events, c/d unexposed."""
    x = [1] * (a + b) + [0] * (c + d)
    y = [1] * a + [0] * b + [1] * c + [0] * d
    return pd.DataFrame({"x": x, "y": y})


def by_method(rows: list[RegressionRow], term: str | None = None) -> dict[str, RegressionRow]:
    picked = [r for r in rows if term is None or r.term == term]
    out = {r.method: r for r in picked}
    assert len(out) == len(picked) == 2
    return out


# --- 21 patients, 8 responders, one continuous covariate (not separated) --------

X21 = np.array(
    [
        *[2.1, 3.4, 1.2, 4.8, 2.9, 3.3, 0.7, 5.1, 2.2, 3.9, 1.8],
        *[4.4, 2.6, 3.0, 1.1, 4.1, 2.4, 3.7, 1.5, 2.8, 3.6],
    ]
)
Y21 = np.array([1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0])


def test_fixture_has_8_of_21() -> None:
    assert Y21.size == 21 and Y21.sum() == 8


# --- 2×2 tables -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "c", "d"),
    [(6, 3, 2, 10), (3, 5, 4, 9)],
)
def test_ml_binary_covariate_matches_2x2_closed_form(a, b, c, d) -> None:
    row = by_method(fit_univariable(table(a, b, c, d), "y", [("x", "Exposed")]))["ml"]
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    p = math.erfc(abs(log_or / se) / math.sqrt(2))
    assert row.status == "ok" and row.note == ""
    assert math.log(row.odds_ratio) == pytest.approx(log_or, abs=1e-4)
    assert math.log(row.ci_low) == pytest.approx(log_or - Z975 * se, abs=1e-4)
    assert math.log(row.ci_high) == pytest.approx(log_or + Z975 * se, abs=1e-4)
    assert row.p_value == pytest.approx(p, rel=1e-4)
    assert (row.n, row.events) == (a + b + c + d, a + c)


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "separated"),
    [
        (6, 3, 2, 10, False),
        (3, 5, 4, 9, False),
        (5, 0, 3, 13, True),  # quasi-complete: no exposed non-responder
        (2, 9, 0, 10, True),  # quasi-complete: no unexposed responder
        (8, 0, 0, 13, True),  # complete separation
    ],
)
def test_firth_binary_covariate_adds_half_to_every_cell(a, b, c, d, separated) -> None:
    rows = by_method(fit_univariable(table(a, b, c, d), "y", [("x", "Exposed")]))
    firth = rows["firth"]
    expected = math.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))
    assert math.log(firth.odds_ratio) == pytest.approx(expected, abs=1e-4)
    assert firth.ci_low < firth.odds_ratio < firth.ci_high
    assert 0 < firth.p_value < 1
    if separated:
        assert firth.status == "separation" and "separation" in firth.note
        ml = rows["ml"]
        assert ml.status == "separation"
        assert (ml.odds_ratio, ml.ci_low, ml.ci_high, ml.p_value) == (None, None, None, None)
        assert "separation" in ml.note and ("infinite" in ml.note or "zero" in ml.note)
    else:
        assert firth.status == "ok" and firth.note == ""


def test_binary_covariate_in_large_units() -> None:
    # the 2×2 table (1, 7, 3, 10) coded 0/10,000, in an order on which
    # firthmodels 0.8 on its own stops in step-halving (found by a random search)
    exposed = "001000000101001101110"
    frame = pd.DataFrame(
        {
            "x": [10_000 * int(c) for c in exposed],
            "y": [int(c) for c in "000000000110010010000"],
        }
    )
    rows = by_method(fit_univariable(frame, "y", [("x", "X")]))
    firth, ml = rows["firth"], rows["ml"]
    assert firth.status == ml.status == "ok"
    expected = math.log(1.5 * 10.5 / (7.5 * 3.5)) / 10_000
    assert math.log(firth.odds_ratio) == pytest.approx(expected, rel=1e-4)
    assert math.log(ml.odds_ratio) == pytest.approx(math.log(1 * 10 / (7 * 3)) / 10_000, rel=1e-4)


def test_complete_separation_on_a_continuous_covariate() -> None:
    x = np.arange(21, dtype=float)
    y = (x >= 13).astype(int)  # the 8 highest values respond
    rows = by_method(fit_univariable(pd.DataFrame({"x": x, "y": y}), "y", [("x", "X")]))
    assert rows["ml"].status == "separation" and rows["ml"].odds_ratio is None
    assert rows["ml"].note.startswith("Complete separation")
    assert "infinite" in rows["ml"].note
    firth = rows["firth"]
    assert firth.status == "separation"
    values = [firth.odds_ratio, firth.ci_low, firth.ci_high, firth.p_value]
    assert all(v is not None and math.isfinite(v) for v in values)
    assert firth.odds_ratio > 1


def test_separation_towards_zero_says_zero() -> None:
    x = np.arange(21, dtype=float)
    y = (x <= 7).astype(int)
    ml = by_method(fit_univariable(pd.DataFrame({"x": x, "y": y}), "y", [("x", "X")]))["ml"]
    assert ml.status == "separation" and "zero" in ml.note


# --- continuous covariate -----------------------------------------------------------


def test_ml_continuous_matches_statsmodels_wald() -> None:
    import statsmodels.api as sm

    frame = pd.DataFrame({"psa": X21, "resp": Y21})
    row = by_method(fit_univariable(frame, "resp", [("psa", "log PSA")]))["ml"]
    ref = sm.Logit(Y21, sm.add_constant(X21)).fit(disp=0)
    b, se = ref.params[1], ref.bse[1]
    assert row.status == "ok"
    assert row.odds_ratio == pytest.approx(math.exp(b), rel=1e-4)
    assert row.ci_low == pytest.approx(math.exp(b - Z975 * se), rel=1e-4)
    assert row.ci_high == pytest.approx(math.exp(b + Z975 * se), rel=1e-4)
    assert row.p_value == pytest.approx(ref.pvalues[1], rel=1e-4)
    assert (row.label, row.model, row.n, row.events) == ("log PSA", "univariable", 21, 8)


@pytest.mark.parametrize("factor", [1e-2, 1e3])
def test_change_of_units_rescales_the_odds_ratio_only(factor) -> None:
    base = fit_univariable(pd.DataFrame({"x": X21, "y": Y21}), "y", [("x", "X")])
    scaled = fit_univariable(pd.DataFrame({"x": X21 * factor, "y": Y21}), "y", [("x", "X")])
    for one, other in zip(base, scaled, strict=True):
        assert math.log(other.odds_ratio) * factor == pytest.approx(
            math.log(one.odds_ratio), rel=1e-6
        )
        assert math.log(other.ci_low) * factor == pytest.approx(math.log(one.ci_low), rel=1e-5)
        assert other.p_value == pytest.approx(one.p_value, rel=1e-5)


# --- Firth: independent penalised-likelihood computation ----------------------------


def penalised_loglik(beta: np.ndarray, design: np.ndarray, y: np.ndarray) -> float:
    """l(β) + ½ log det(X'WX), written from the definition."""
    eta = design @ beta
    p = expit(eta)
    info = (design.T * (p * (1 - p))) @ design
    sign, logdet = np.linalg.slogdet(info)
    assert sign > 0
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * logdet)


def maximise(design: np.ndarray, y: np.ndarray, fixed: dict[int, float]) -> float:
    """max of l* over the coefficients not in ``fixed``."""
    k = design.shape[1]
    free = [j for j in range(k) if j not in fixed]

    def negative(theta: np.ndarray) -> float:
        beta = np.zeros(k)
        beta[free] = theta
        for j, value in fixed.items():
            beta[j] = value
        return -penalised_loglik(beta, design, y)

    best = optimize.minimize(negative, np.zeros(len(free)), method="BFGS", options={"gtol": 1e-9})
    polished = optimize.minimize(
        negative,
        best.x,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20_000},
    )
    return -min(best.fun, polished.fun)


def test_firth_continuous_matches_independent_penalised_likelihood() -> None:
    frame = pd.DataFrame({"psa": X21, "resp": Y21})
    firth = by_method(fit_univariable(frame, "resp", [("psa", "log PSA")]))["firth"]
    assert firth.status == "ok"
    design = np.column_stack([np.ones(21), X21])
    y = Y21.astype(float)

    def profile(b1: float) -> float:
        found = optimize.minimize_scalar(
            lambda b0: -penalised_loglik(np.array([b0, b1]), design, y),
            bracket=(-5.0, 5.0),
            tol=1e-12,
        )
        return -found.fun

    top = optimize.minimize_scalar(lambda b1: -profile(b1), bracket=(-2.0, 2.0), tol=1e-10)
    b_hat, l_hat = top.x, -top.fun
    assert math.log(firth.odds_ratio) == pytest.approx(b_hat, abs=1e-4)

    # penalised likelihood-ratio test of b1 = 0
    statistic = 2 * (l_hat - profile(0.0))
    assert firth.p_value == pytest.approx(chi2.sf(statistic, 1), rel=1e-4)

    # at the reported bounds the profile statistic equals chi2(1).ppf(0.95) ...
    for bound in (firth.ci_low, firth.ci_high):
        assert 2 * (l_hat - profile(math.log(bound))) == pytest.approx(CHI2_95, abs=1e-4)

    # ... and the bounds are the roots found independently
    def excess(b1: float) -> float:
        return 2 * (l_hat - profile(b1)) - CHI2_95

    low = optimize.brentq(excess, b_hat - 10, b_hat, xtol=1e-12)
    high = optimize.brentq(excess, b_hat, b_hat + 10, xtol=1e-12)
    assert math.log(firth.ci_low) == pytest.approx(low, abs=1e-4)
    assert math.log(firth.ci_high) == pytest.approx(high, abs=1e-4)


# --- Firth: R logistf references ----------------------------------------------------

# Endometrial cancer data (Heinze & Schemper 2002, n = 79, 30 high-grade): NV
# (neovasculisation) separates the outcome quasi-completely.
ENDO_NV = "0000000000000000000001111100000000000000000000011110000000000000000000100011010"
ENDO_HG = "0000000000000000011111111110000000000000000111111111100000000000000001111111111"
# fmt: off
ENDO_PI = [
    13, 16, 8, 34, 20, 5, 17, 10, 26, 17, 8, 7, 20, 10, 18, 16, 18, 8, 29, 12, 20, 38, 22, 7, 25,
    15, 7, 28, 11, 19, 10, 10, 18, 14, 21, 11, 17, 25, 16, 19, 15, 33, 24, 48, 12, 19, 2, 22, 40,
    5, 0, 21, 15, 29, 15, 12, 3, 20, 23, 12, 22, 42, 15, 13, 14, 19, 12, 13, 10, 12, 49, 6, 5, 17,
    11, 21, 5, 19, 33,
]
ENDO_EH = [
    1.64, 2.26, 3.14, 2.68, 1.28, 2.31, 1.8, 1.68, 1.56, 2.31, 2.01, 1.89, 3.15, 1.23, 1.27, 1.76,
    2, 2.64, 0.88, 1.27, 1.37, 0.97, 1.14, 0.88, 0.91, 0.58, 0.97, 1.5, 1.33, 2.37, 1.82, 3.13,
    1.31, 1.92, 1.64, 2.01, 1.88, 1.93, 2.11, 1.29, 1.72, 0.75, 1.92, 1.84, 1.11, 1.61, 1.18, 1.44,
    1.18, 0.93, 1.17, 1.19, 1.06, 2.02, 2.29, 2.33, 2.9, 1.7, 1.41, 2.25, 1.54, 1.97, 1.75, 2.16,
    2.57, 1.37, 3.61, 2.04, 2.17, 1.69, 0.27, 1.84, 1.3, 0.96, 1.01, 0.98, 0.35, 1.02, 0.85,
]
# fmt: on
ENDO_TERMS = [("NV", "Neovasculisation"), ("PI", "Pulsatility index"), ("EH", "Endometrium height")]
# logistf(HG ~ NV + PI + EH): coefficient, lower 0.95, upper 0.95
LOGISTF_ENDO = {
    "NV": (2.92927330, 0.6097244, 7.85463171),
    "PI": (-0.03475175, -0.1244587, 0.04045547),
    "EH": (-2.60416387, -4.3651832, -1.23272106),
}


def endometrial() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "NV": [int(c) for c in ENDO_NV],
            "PI": ENDO_PI,
            "EH": ENDO_EH,
            "HG": [int(c) for c in ENDO_HG],
        }
    )


def test_endometrial_data_as_published() -> None:
    frame = endometrial()
    assert len(frame) == 79 and frame["HG"].sum() == 30 and frame["NV"].sum() == 13
    assert frame["PI"].sum() == 1373 and frame["EH"].sum() == pytest.approx(131.27)


def test_firth_multivariable_matches_logistf_on_endometrial_data() -> None:
    decision, rows = fit_multivariable(endometrial(), "HG", ENDO_TERMS)
    # 30 events / 3 terms = exactly 10 per term: the boundary is inclusive
    assert decision == MultivariableDecision(True, decision.reason, 30, 3, 10.0)
    assert [(r.term, r.method) for r in rows] == [
        (t, m) for t, _ in ENDO_TERMS for m in ("ml", "firth")
    ]
    for term, (coef, low, high) in LOGISTF_ENDO.items():
        firth = by_method(rows, term)["firth"]
        assert math.log(firth.odds_ratio) == pytest.approx(coef, rel=1e-4)
        assert math.log(firth.ci_low) == pytest.approx(low, rel=1e-4)
        assert math.log(firth.ci_high) == pytest.approx(high, rel=1e-4)
        assert (firth.n, firth.events, firth.model) == (79, 30, "multivariable")
    assert by_method(rows, "NV")["firth"].status == "separation"
    assert {by_method(rows, t)["firth"].status for t in ("PI", "EH")} == {"ok"}
    # NV separates: no ML estimates at all, and the note names the culprit
    for term, _ in ENDO_TERMS:
        ml = by_method(rows, term)["ml"]
        assert ml.status == "separation" and ml.odds_ratio is None and ml.p_value is None
        assert "Neovasculisation" in ml.note


def test_firth_multivariable_lr_p_values_match_independent_computation() -> None:
    frame = endometrial()
    _, rows = fit_multivariable(frame, "HG", ENDO_TERMS)
    design = np.column_stack([np.ones(79), frame[["NV", "PI", "EH"]].to_numpy(float)])
    y = frame["HG"].to_numpy(float)
    l_hat = maximise(design, y, {})
    for j, (term, _) in enumerate(ENDO_TERMS, start=1):
        statistic = 2 * (l_hat - maximise(design, y, {j: 0.0}))
        assert by_method(rows, term)["firth"].p_value == pytest.approx(
            chi2.sf(statistic, 1), rel=1e-4
        )


def test_firth_multivariable_matches_logistf_on_firthmodels_simulation() -> None:
    # the simulated data of jzluo/firthmodels tests/conftest.py (seed 42)
    rng = np.random.default_rng(42)
    separator = rng.choice([0, 1], 100, p=[0.8, 0.2])
    x1 = rng.standard_normal(100)
    x2 = rng.uniform(-1, 1, 100)
    x3 = rng.exponential(scale=2.0, size=100)
    y = rng.binomial(1, expit(-0.5 + 0.8 * x1 - 0.6 * x2 + 0.3 * x3))
    y[separator == 1] = 1
    assert (int(separator.sum()), int(y.sum())) == (14, 63), "numpy's random stream changed"
    frame = pd.DataFrame({"sep": separator, "x1": x1, "x2": x2, "x3": x3, "y": y})
    terms = [(name, name) for name in ("sep", "x1", "x2", "x3")]
    decision, rows = fit_multivariable(frame, "y", terms, min_epv=10)
    assert decision.fitted and decision.events_per_variable == pytest.approx(63 / 4)
    # logistf: coefficient, lower 0.95, upper 0.95, penalised LR p
    logistf = {
        "sep": (3.6577140153, 1.3901042899, 8.5876062114, 0.0002084147149),
        "x1": (0.6759781501, 0.1602568036, 1.2568999211, 0.0093173148959),
        "x2": (-0.8633119501, -1.6677883758, -0.1135186948, 0.0236385713206),
        "x3": (0.3385788510, 0.0893054012, 0.6572681313, 0.0055887969164),
    }
    for term, (coef, low, high, p) in logistf.items():
        firth = by_method(rows, term)["firth"]
        assert math.log(firth.odds_ratio) == pytest.approx(coef, rel=1e-4)
        assert math.log(firth.ci_low) == pytest.approx(low, rel=1e-4)
        assert math.log(firth.ci_high) == pytest.approx(high, rel=1e-4)
        assert firth.p_value == pytest.approx(p, rel=1e-4)


# --- not estimable, missing values --------------------------------------------------


def test_five_complete_cases_is_not_estimable() -> None:
    frame = pd.DataFrame({"x": X21.copy(), "y": Y21})
    frame.loc[5:, "x"] = np.nan  # 5 complete cases left
    rows = fit_univariable(frame, "y", [("x", "X")])
    assert [r.method for r in rows] == ["ml", "firth"]
    for row in rows:
        assert row.status == "not_estimable" and row.n == 5
        assert row.events == int(Y21[:5].sum())
        assert "5 complete cases" in row.note and "10" in row.note
        assert (row.odds_ratio, row.ci_low, row.ci_high, row.p_value) == (None,) * 4


def test_constant_covariate_is_not_estimable() -> None:
    frame = pd.DataFrame({"x": np.full(21, 3.0), "y": Y21})
    for row in fit_univariable(frame, "y", [("x", "Prior docetaxel")]):
        assert row.status == "not_estimable"
        assert "Prior docetaxel has no variation" in row.note
        assert (row.n, row.events) == (21, 8)


def test_too_few_events_is_not_estimable() -> None:
    y = np.zeros(21, dtype=int)
    y[0] = 1
    for row in fit_univariable(pd.DataFrame({"x": X21, "y": y}), "y", [("x", "X")]):
        assert row.status == "not_estimable" and "1 event and 20 non-events" in row.note


def test_missing_values_are_dropped_per_term() -> None:
    frame = pd.DataFrame(
        {
            "a": X21.copy(),
            "b": pd.array(list(Y21[::-1]), dtype="Int64"),
            "y": pd.array([bool(v) for v in Y21], dtype="boolean"),
        }
    )
    frame.loc[[0, 2, 4], "a"] = np.nan  # two responders (rows 0, 2), one not (4)
    frame.loc[20, "y"] = pd.NA
    frame.loc[1, "b"] = pd.NA
    rows = fit_univariable(frame, "y", [("a", "A"), ("b", "B")])
    a, b = by_method(rows, "a"), by_method(rows, "b")
    assert (a["ml"].n, a["ml"].events) == (17, 6)
    assert (b["ml"].n, b["ml"].events) == (19, 8)
    assert a["firth"].n == 17 and b["firth"].n == 19
    assert [r.term for r in rows] == ["a", "a", "b", "b"]


# --- multivariable ------------------------------------------------------------------


def test_multivariable_not_fitted_below_ten_events_per_term() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({f"t{j}": rng.standard_normal(21) for j in range(12)})
    frame["y"] = Y21
    terms = [(f"t{j}", f"Term {j}") for j in range(12)]
    decision, rows = fit_multivariable(frame, "y", terms)
    assert rows == []
    assert not decision.fitted
    assert (decision.events, decision.n_terms) == (8, 12)
    assert decision.events_per_variable == pytest.approx(8 / 12)
    assert "8 events" in decision.reason and "12 terms" in decision.reason
    assert "at least 10" in decision.reason


def test_multivariable_epv_uses_complete_cases_and_min_epv() -> None:
    frame = endometrial()
    frame.loc[frame.index[frame["HG"] == 1][:1], "PI"] = np.nan  # 29 events remain
    decision, rows = fit_multivariable(frame, "HG", ENDO_TERMS)
    assert not decision.fitted and rows == []
    assert decision.events == 29 and "29 events among 78 complete cases" in decision.reason
    assert fit_multivariable(frame, "HG", ENDO_TERMS, min_epv=9.5)[0].fitted


def test_multivariable_recovers_generating_odds_ratios() -> None:
    rng = np.random.default_rng(20240611)
    n = 20_000
    age = rng.normal(0, 1, n)
    ecog = (rng.random(n) < 0.4).astype(float)
    ldh = rng.normal(0, 1, n)
    true_or = {"age": 1.5, "ecog": 0.5, "ldh": 2.0}
    eta = -0.4 + sum(
        math.log(v) * x for v, x in zip(true_or.values(), (age, ecog, ldh), strict=True)
    )
    frame = pd.DataFrame({"age": age, "ecog": ecog, "ldh": ldh})
    frame["y"] = (rng.random(n) < expit(eta)).astype(int)
    terms = [(name, name) for name in true_or]
    decision, rows = fit_multivariable(frame, "y", terms)
    assert decision.fitted and decision.events_per_variable >= 10
    for term, value in true_or.items():
        ml, firth = by_method(rows, term)["ml"], by_method(rows, term)["firth"]
        assert ml.status == firth.status == "ok"
        assert ml.odds_ratio == pytest.approx(value, rel=0.08)
        assert ml.ci_low < value < ml.ci_high
        assert firth.odds_ratio == pytest.approx(ml.odds_ratio, rel=1e-3)
        assert ml.p_value < 1e-6 and firth.p_value < 1e-6


def test_multivariable_collinear_terms_are_not_fitted() -> None:
    frame = endometrial()
    frame["EH2"] = 2 * frame["EH"] + 1
    terms = [*ENDO_TERMS[1:], ("EH2", "Twice EH")]
    decision, rows = fit_multivariable(frame, "HG", terms, min_epv=5)
    assert not decision.fitted and rows == [] and "collinear" in decision.reason


# --- behaviour and input ------------------------------------------------------------


def test_results_are_deterministic() -> None:
    frame = endometrial()
    assert fit_univariable(frame, "HG", ENDO_TERMS) == fit_univariable(frame, "HG", ENDO_TERMS)
    assert fit_multivariable(frame, "HG", ENDO_TERMS) == fit_multivariable(frame, "HG", ENDO_TERMS)


def test_firth_retries_with_looser_tolerance(monkeypatch) -> None:
    real, tolerances = models._firth_once, []

    def first_lr_test_fails(X, y, tol):
        tolerances.append(tol)
        fit = real(X, y, tol)
        if len(tolerances) == 1:
            return dataclasses.replace(fit, p=np.full_like(fit.p, np.nan))
        return fit

    monkeypatch.setattr(models, "_firth_once", first_lr_test_fails)
    firth = by_method(fit_univariable(table(6, 3, 2, 10), "y", [("x", "X")]))["firth"]
    assert tolerances == list(models._FIRTH_TOLS) and len(tolerances) == 2
    assert firth.status == "ok" and firth.p_value is not None


def test_firth_reports_what_did_not_converge(monkeypatch) -> None:
    real = models._firth_once

    def no_upper_bound(X, y, tol):
        fit = real(X, y, tol)
        ci = fit.ci.copy()
        ci[:, 1] = np.nan
        return dataclasses.replace(fit, ci=ci)

    monkeypatch.setattr(models, "_firth_once", no_upper_bound)
    firth = by_method(fit_univariable(table(6, 3, 2, 10), "y", [("x", "X")]))["firth"]
    assert firth.status == "not_converged"
    assert firth.note == "The profile-likelihood upper bound did not converge."
    assert firth.ci_high is None
    assert math.log(firth.odds_ratio) == pytest.approx(math.log(6.5 * 10.5 / (3.5 * 2.5)), abs=1e-4)
    assert firth.ci_low is not None and firth.p_value is not None


def test_failed_fits_are_reported_and_their_warnings_kept_quiet(monkeypatch, recwarn) -> None:
    # starve both optimisers: statsmodels and firthmodels then warn (ConvergenceWarning)
    monkeypatch.setattr(models, "_ML_MAXITER", 1)
    monkeypatch.setattr(models, "_FIRTH_MAXITER", 1)
    rows = by_method(fit_univariable(pd.DataFrame({"x": X21, "y": Y21}), "y", [("x", "X")]))
    assert len(recwarn) == 0
    for method, row in rows.items():
        assert row.status == "not_converged" and row.odds_ratio is None
        assert row.note.startswith("ML fit" if method == "ml" else "Firth fit")
        assert "did not converge (limit 1 iterations)" in row.note


@pytest.mark.parametrize(
    ("frame", "outcome", "terms", "message"),
    [
        (pd.DataFrame({"x": [1.0], "y": [2]}), "y", [("x", "X")], "0/1"),
        (pd.DataFrame({"x": ["a"], "y": [1]}), "y", [("x", "X")], "numeric"),
        (pd.DataFrame({"x": [1.0], "y": [1]}), "y", [("z", "Z")], "not in the data"),
        (pd.DataFrame({"x": [1.0], "y": [1]}), "y", [("x", "X"), ("x", "X")], "more than once"),
        (pd.DataFrame({"x": [np.inf], "y": [1]}), "y", [("x", "X")], "infinite"),
    ],
)
def test_bad_input_raises(frame, outcome, terms, message) -> None:
    with pytest.raises(PsmaRweError, match=message):
        fit_univariable(frame, outcome, terms)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 1)),
        min_size=10,
        max_size=16,
    )
)
def test_separation_decision_agrees_with_detect_separation(pairs) -> None:
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs])
    rows = by_method(fit_univariable(pd.DataFrame({"x": x, "y": y}), "y", [("x", "X")]))
    for row in rows.values():
        assert row.status in STATUSES
    if y.sum() < 2 or (1 - y).sum() < 2 or np.unique(x).size < 2:
        assert rows["ml"].status == rows["firth"].status == "not_estimable"
        return
    separated = detect_separation(x[:, None], y).separation
    assert (rows["ml"].status == "separation") == separated
    firth = rows["firth"]
    assert firth.status in ({"separation"} if separated else {"ok"})
    assert all(
        v is not None and math.isfinite(v)
        for v in (firth.odds_ratio, firth.ci_low, firth.ci_high, firth.p_value)
    )
    assert firth.ci_low <= firth.odds_ratio <= firth.ci_high
