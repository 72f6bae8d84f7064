"""Logistic regression of a binary outcome (PSA50 response) on candidate terms.

With few events ordinary maximum likelihood (ML) is unstable, so every term is
reported twice:

* ``method="ml"`` — statsmodels ``Logit``: odds ratio ``exp(b)``, Wald 95% CI
  ``exp(b ± 1.959964·se)`` and Wald p-value;
* ``method="firth"`` — Firth's penalised likelihood (firthmodels
  ``FirthLogisticRegression``): profile penalised-likelihood 95% CI and
  penalised likelihood-ratio p-value, the quantities R's ``logistf`` reports.

Separation is decided before any ML fit, from the data rather than from
optimiser warnings: for one covariate by an exact closed form (see
:func:`_separation_1d`), for several by the linear program of
``firthmodels.detect_separation``.  Under separation the ML row carries no
numbers (status ``"separation"``); the Firth row keeps its finite estimates and
is flagged.  A term with too little data is reported as ``"not_estimable"``
with the reason instead of being dropped.

All computations are deterministic: no random numbers, the numpy backend of
firthmodels even when numba is installed, and BLAS limited to one thread while
fitting (parallel BLAS may sum in a different order from run to run, and for
these tall, narrow designs it is several times slower).  Covariates are centred
and scaled inside the fits (see :func:`_standardise`) and the results mapped
back to the original units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from firthmodels import FirthLogisticRegression, detect_separation
from scipy.stats import norm
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.sm_exceptions import PerfectSeparationError
from statsmodels.tools.tools import add_constant
from threadpoolctl import threadpool_limits  # installed with scikit-learn (firthmodels)

from analysis.config import MIN_COMPLETE_CASES, MIN_EACH_OUTCOME
from analysis.errors import PsmaRweError
from analysis.results import MultivariableDecision, RegressionRow

#: Confidence level of every interval is ``1 - ALPHA``.
ALPHA = 0.05
#: Default minimum events per variable (term) for a multivariable model.
MIN_EPV = 10.0

ML, FIRTH = "ml", "firth"
UNIVARIABLE, MULTIVARIABLE = "univariable", "multivariable"
OK, SEPARATION, NOT_ESTIMABLE, NOT_CONVERGED = "ok", "separation", "not_estimable", "not_converged"

_ML_MAXITER = 100
_FIRTH_MAXITER = 100
#: Gradient and step tolerances of the penalised fit, tried in turn: the first is
#: tighter than logistf's default (1e-5); the second, firthmodels' own default, is
#: used only when float noise stops the first from converging.
_FIRTH_TOLS = (1e-6, 1e-4)
_PL_MAXITER = 100
_PL_TOL = 1e-6  # tolerance of the profile-likelihood bound search
_Z = float(norm.ppf(1 - ALPHA / 2))


# --- public API -----------------------------------------------------------------


def fit_univariable(
    frame: pd.DataFrame, outcome: str, terms: Sequence[tuple[str, str]]
) -> list[RegressionRow]:
    """Fit one logistic model per term, by ML and by Firth's method.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    outcome : str
        Column holding the outcome: 0/1 or boolean, missing allowed.
    terms : sequence of (str, str)
        ``(column, label)`` pairs; each column numeric or boolean, missing
        allowed.

    Returns
    -------
    list of RegressionRow
        Two rows per term, in the order given: the ML row, then the Firth row.
        Missing values are dropped per term; ``n`` counts the complete cases.

    Raises
    ------
    PsmaRweError
        A column is missing or not numeric, the outcome is not 0/1, or a term
        is listed twice.
    """
    y_all = _outcome(frame, outcome)
    columns = _check_terms(frame, outcome, terms)
    with threadpool_limits(limits=1, user_api="blas"):
        return _univariable_rows(y_all, columns, terms)


def _univariable_rows(
    y_all: np.ndarray, columns: list[np.ndarray], terms: Sequence[tuple[str, str]]
) -> list[RegressionRow]:
    rows: list[RegressionRow] = []
    for (column, label), x_all in zip(terms, columns, strict=True):
        keep = ~np.isnan(y_all) & ~np.isnan(x_all)
        y = y_all[keep]
        x = x_all[keep]
        n, events = int(y.size), int(y.sum())
        common = {"term": column, "label": label, "model": UNIVARIABLE, "n": n, "events": events}

        problems = _estimability_problems(x[:, None], y, [label])
        if problems:
            note = "Not estimable: " + "; ".join(problems) + "."
            rows += [_empty(method, NOT_ESTIMABLE, note, common) for method in (ML, FIRTH)]
            continue

        direction, kind = _separation_1d(x, y)
        X = x[:, None]
        if direction:
            ml_rows = [_empty(ML, SEPARATION, _separation_note_1d(x, y, direction, kind), common)]
            flag = [f"{kind.capitalize()} separation; finite only because of Firth's penalty."]
        else:
            ml_rows = _fit_ml(X, y, [common])
            flag = [None]
        rows += ml_rows
        rows += _fit_firth(X, y, [common], flag)
    return rows


def fit_multivariable(
    frame: pd.DataFrame,
    outcome: str,
    terms: Sequence[tuple[str, str]],
    min_epv: float = MIN_EPV,
) -> tuple[MultivariableDecision, list[RegressionRow]]:
    """Fit one logistic model with all terms, if the data allow it.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    outcome : str
        Column holding the outcome: 0/1 or boolean, missing allowed.
    terms : sequence of (str, str)
        ``(column, label)`` pairs, at least one.
    min_epv : float, default 10
        Minimum events per variable, ``events / len(terms)``, counted among the
        patients complete on the outcome and every term.

    Returns
    -------
    decision : MultivariableDecision
        Whether the model was fitted and why, with the numbers.
    rows : list of RegressionRow
        Empty when not fitted; otherwise per term the ML row, then the Firth
        row, with ``model="multivariable"``.  When the data are separated every
        ML row has status ``"separation"`` (the ML fit does not exist); the
        Firth rows of the terms with an infinite ML estimate are flagged.

    Raises
    ------
    PsmaRweError
        As :func:`fit_univariable`; also when ``terms`` is empty or
        ``min_epv`` is not a positive number.
    """
    if not terms:
        raise PsmaRweError("A multivariable model needs at least one term.")
    if not (isinstance(min_epv, int | float) and math.isfinite(min_epv) and min_epv > 0):
        raise PsmaRweError(f"min_epv must be a positive number; found {min_epv!r}.")
    y_all = _outcome(frame, outcome)
    columns = _check_terms(frame, outcome, terms)
    X_all = np.column_stack(columns)
    keep = ~np.isnan(y_all) & ~np.isnan(X_all).any(axis=1)
    y, X = y_all[keep], X_all[keep]
    n, events, k = int(y.size), int(y.sum()), len(terms)
    epv = events / k
    counts = (
        f"{events} event{_s(events)} among {n} complete case{_s(n)} "
        f"for {k} term{_s(k)} ({epv:.1f} per term)"
    )

    if epv < min_epv:
        reason = f"{counts}; at least {min_epv:g} events per term are needed"
        return MultivariableDecision(False, reason, events, k, epv), []
    with threadpool_limits(limits=1, user_api="blas"):
        fitted, reason, rows = _multivariable_rows(X, y, terms)
    if fitted:
        reason = f"{counts} meets the minimum of {min_epv:g} events per term"
    else:
        reason = f"{counts}, but not estimable: {reason}"
    return MultivariableDecision(fitted, reason, events, k, epv), rows


def fit_regression(
    frame: pd.DataFrame,
    outcome: str,
    terms: Sequence[tuple[str, str]],
    min_epv: float = MIN_EPV,
) -> tuple[list[RegressionRow], MultivariableDecision, list[RegressionRow]]:
    """:func:`fit_univariable`, then :func:`fit_multivariable`: every fit of a study's
    regression, as one piece of work (a build runs it in a worker process, beside
    the rest of the analysis: :func:`analysis.analyze.run_analysis`).

    Returns
    -------
    (univariable rows, multivariable decision, multivariable rows)
    """
    uni = fit_univariable(frame, outcome, terms)
    decision, multi = fit_multivariable(frame, outcome, terms, min_epv=min_epv)
    return uni, decision, multi


def warm() -> None:
    """A worker's warm-up for :func:`fit_regression`: importing this module (statsmodels,
    firthmodels and the scikit-learn it needs, about 0.7 s) is all of it."""


def _multivariable_rows(
    X: np.ndarray, y: np.ndarray, terms: Sequence[tuple[str, str]]
) -> tuple[bool, str, list[RegressionRow]]:
    """Fit the model; ``(False, why, [])`` when it is not estimable."""
    n, events, k = int(y.size), int(y.sum()), len(terms)
    labels = [label for _, label in terms]
    problems = _estimability_problems(X, y, labels)
    if not problems:
        design = np.column_stack([np.ones(n), X])
        rank = int(np.linalg.matrix_rank(design))
        if rank < k + 1:
            problems.append(
                f"the terms are collinear (design matrix of rank {rank} for {k + 1} coefficients)"
            )
    if not problems:
        try:
            separation = detect_separation(X, y)
        except np.linalg.LinAlgError as exc:  # its rank test is stricter than matrix_rank's
            problems.append(f"the terms are nearly collinear ({exc})")
    if problems:
        return False, "; ".join(problems), []

    common = [
        {"term": column, "label": label, "model": MULTIVARIABLE, "n": n, "events": events}
        for column, label in terms
    ]
    directions = np.asarray(separation.directions[:k])
    if separation.separation:
        infinite = [
            f"{label} (odds ratio {'→ ∞' if d > 0 else '→ 0'})"
            for label, d in zip(labels, directions, strict=True)
            if d
        ]
        if infinite:
            cause = "ML estimates do not exist; infinite for " + ", ".join(infinite) + "."
        else:
            cause = "ML estimates do not exist; the intercept is infinite."
        ml_rows = [_empty(ML, SEPARATION, "Separation: " + cause, c) for c in common]
        flags = [
            "Separation; finite only because of Firth's penalty." if d else None for d in directions
        ]
    else:
        ml_rows = _fit_ml(X, y, common)
        flags = [None] * k
    firth_rows = _fit_firth(X, y, common, flags)
    return True, "", [row for pair in zip(ml_rows, firth_rows, strict=True) for row in pair]


# --- input ----------------------------------------------------------------------


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _as_float(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A numeric or boolean column as float64 with NaN for missing."""
    if column not in frame.columns:
        raise PsmaRweError(f"The {what} column {column!r} is not in the data.")
    series = frame[column]
    ok = pd.api.types.is_bool_dtype(series.dtype) or (
        pd.api.types.is_numeric_dtype(series.dtype)
        and not pd.api.types.is_complex_dtype(series.dtype)
    )
    if series.dtype == object:
        ok = pd.api.types.infer_dtype(series, skipna=True) in {
            "boolean",
            "integer",
            "floating",
            "mixed-integer-float",
            "empty",
        }
    if not ok:
        raise PsmaRweError(
            f"The {what} column {column!r} must be numeric or boolean; "
            f"found dtype {series.dtype}. Encode it as numbers first."
        )
    values = series.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        raise PsmaRweError(f"The {what} column {column!r} contains infinite values.")
    return values


def _outcome(frame: pd.DataFrame, outcome: str) -> np.ndarray:
    y = _as_float(frame, outcome, "outcome")
    present = y[~np.isnan(y)]
    bad = present[(present != 0) & (present != 1)]
    if bad.size:
        raise PsmaRweError(
            f"The outcome column {outcome!r} must hold 0/1 or true/false; "
            f"found {np.unique(bad)[:5].tolist()}."
        )
    return y


def _check_terms(
    frame: pd.DataFrame, outcome: str, terms: Sequence[tuple[str, str]]
) -> list[np.ndarray]:
    names = [column for column, _ in terms]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PsmaRweError(f"Terms listed more than once: {', '.join(repeated)}.")
    if outcome in names:
        raise PsmaRweError(f"The outcome {outcome!r} cannot also be a term.")
    return [_as_float(frame, column, "term") for column in names]


# --- checks ---------------------------------------------------------------------


def _estimability_problems(X: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Why a model on these complete cases cannot be fitted ([] if it can)."""
    n, events = int(y.size), int(y.sum())
    problems = []
    if n < MIN_COMPLETE_CASES:
        problems.append(f"{n} complete case{_s(n)}; at least {MIN_COMPLETE_CASES} are needed")
    if events < MIN_EACH_OUTCOME or n - events < MIN_EACH_OUTCOME:
        problems.append(
            f"{events} event{_s(events)} and {n - events} non-event{_s(n - events)}; "
            f"at least {MIN_EACH_OUTCOME} of each are needed"
        )
    if n:
        for j, label in enumerate(labels):
            column = X[:, j]
            if column.min() == column.max():
                problems.append(f"{label} has no variation (all {column[0]:g})")
    return problems


def _separation_1d(x: np.ndarray, y: np.ndarray) -> tuple[int, str]:
    """Exact separation check for one covariate plus intercept.

    With an intercept, data are (quasi-)separated exactly when a threshold
    splits the outcomes: every non-event at or below every event (the ML slope
    is +∞) or every event at or below every non-event (−∞); "complete" when the
    inequality is strict.  This is the linear program of
    ``firthmodels.detect_separation`` solved in closed form, O(n) instead of
    an LP over n constraints.

    Returns
    -------
    direction : int
        +1, -1, or 0 (no separation).
    kind : str
        ``"complete"``, ``"quasi-complete"`` or ``""``.
    """
    x0, x1 = x[y == 0], x[y == 1]
    for direction, low, high in ((1, x0, x1), (-1, x1, x0)):
        if low.max() < high.min():
            return direction, "complete"
        if low.max() == high.min():
            return direction, "quasi-complete"
    return 0, ""


def _separation_note_1d(x: np.ndarray, y: np.ndarray, direction: int, kind: str) -> str:
    x0, x1 = x[y == 0], x[y == 1]
    if direction > 0:
        detail = f"events all ≥ {x1.min():g}, non-events all ≤ {x0.max():g}"
        limit = "infinite"
    else:
        detail = f"events all ≤ {x1.max():g}, non-events all ≥ {x0.min():g}"
        limit = "zero"
    return f"{kind.capitalize()} separation ({detail}); the ML odds ratio is {limit}."


# --- fits -----------------------------------------------------------------------


def _empty(method: str, status: str, note: str, common: dict) -> RegressionRow:
    return RegressionRow(
        method=method,
        odds_ratio=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        status=status,
        note=note,
        **common,
    )


def _exp(value: float) -> float | None:
    """exp(value) as a float, ``None`` for NaN."""
    if not math.isfinite(value):
        return None
    with np.errstate(over="ignore"):
        return float(np.exp(value))


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale each column; return the new columns and the scales.

    The optimisers' tolerances are absolute, so a covariate in large units
    (a 0/10,000 coding, PSA in ng/L) can stop firthmodels' step-halving from
    converging.  ML and Firth estimates are equivariant under this change
    (Firth's penalty, the Jeffreys prior, is invariant under
    reparametrisation), as are Wald and profile intervals and both tests: the
    slope on the original scale is ``b / scale`` and p-values are unchanged.
    """
    centre = X.mean(axis=0)
    scale = X.std(axis=0)
    return (X - centre) / scale, scale


def _fit_ml(X: np.ndarray, y: np.ndarray, commons: list[dict]) -> list[RegressionRow]:
    """statsmodels ``Logit``: exp(coef), Wald CI and Wald p for each column."""
    k = X.shape[1]
    Xs, scale = _standardise(X)
    design = add_constant(Xs, has_constant="add")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = Logit(y, design).fit(disp=0, maxiter=_ML_MAXITER)
    except PerfectSeparationError:  # statsmodels < 0.14 raised; now it warns
        note = "Separation reported by statsmodels; the ML estimates do not exist."
        return [_empty(ML, SEPARATION, note, c) for c in commons]
    except np.linalg.LinAlgError as exc:
        note = f"ML fit failed: singular information matrix ({exc})."
        return [_empty(ML, NOT_CONVERGED, note, c) for c in commons]
    params = np.asarray(result.params)[1:] / scale
    bse = np.asarray(result.bse)[1:] / scale
    pvalues = np.asarray(result.pvalues)[1:]
    converged = bool(result.mle_retvals.get("converged", False))
    if not converged or not np.all(np.isfinite(bse)):
        note = (
            f"ML fit did not converge (limit {_ML_MAXITER} iterations)."
            if not converged
            else "ML fit has a singular information matrix; no standard errors."
        )
        return [_empty(ML, NOT_CONVERGED, note, c) for c in commons]
    return [
        RegressionRow(
            method=ML,
            odds_ratio=_exp(params[j]),
            ci_low=_exp(params[j] - _Z * bse[j]),
            ci_high=_exp(params[j] + _Z * bse[j]),
            p_value=float(pvalues[j]),
            status=OK,
            note="",
            **commons[j],
        )
        for j in range(k)
    ]


@dataclass(frozen=True)
class _FirthFit:
    coef: np.ndarray  # (k,), on the standardised scale
    ci: np.ndarray  # (k, 2), NaN where a bound did not converge
    p: np.ndarray  # (k,), NaN where the constrained fit did not converge
    converged: bool


def _firth_once(X: np.ndarray, y: np.ndarray, tol: float) -> _FirthFit:
    k = X.shape[1]
    features = list(range(k))
    model = FirthLogisticRegression(backend="numpy", max_iter=_FIRTH_MAXITER, gtol=tol, xtol=tol)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.fit(X, y)
        if not model.converged_:
            nan = np.full(k, np.nan)
            return _FirthFit(np.asarray(model.coef_), np.column_stack([nan, nan]), nan, False)
        ci = model.conf_int(
            alpha=ALPHA, method="pl", features=features, max_iter=_PL_MAXITER, tol=_PL_TOL
        )
        model.lrt(features=features)
    return _FirthFit(
        np.asarray(model.coef_), np.asarray(ci[:k]), np.asarray(model.lrt_pvalues_[:k]), True
    )


def _fit_firth(
    X: np.ndarray, y: np.ndarray, commons: list[dict], flags: list[str | None]
) -> list[RegressionRow]:
    """firthmodels: exp(coef), profile penalised-likelihood CI, penalised LR p."""
    Xs, scale = _standardise(X)
    try:
        for tol in _FIRTH_TOLS:
            fit = _firth_once(Xs, y, tol)
            if fit.converged and np.isfinite(fit.ci).all() and np.isfinite(fit.p).all():
                break
    except (np.linalg.LinAlgError, ValueError) as exc:
        note = f"Firth fit failed: {exc}"
        return [_empty(FIRTH, NOT_CONVERGED, note, c) for c in commons]
    if not fit.converged:
        note = f"Firth fit did not converge (limit {_FIRTH_MAXITER} iterations)."
        return [_empty(FIRTH, NOT_CONVERGED, note, c) for c in commons]
    coef, ci = fit.coef / scale, fit.ci / scale[:, None]
    rows = []
    for j, common in enumerate(commons):
        low, high = ci[j]
        p = float(fit.p[j])
        checks = (
            ("the profile-likelihood lower bound", low),
            ("the profile-likelihood upper bound", high),
            ("the penalised likelihood-ratio test", p),
        )
        failed = [what for what, value in checks if not math.isfinite(value)]
        notes = [flags[j]] if flags[j] else []
        if failed:
            sentence = " and ".join(failed) + " did not converge."
            notes.append(sentence[0].upper() + sentence[1:])
        status = NOT_CONVERGED if failed else SEPARATION if flags[j] else OK
        rows.append(
            RegressionRow(
                method=FIRTH,
                odds_ratio=_exp(float(coef[j])),
                ci_low=_exp(float(low)),
                ci_high=_exp(float(high)),
                p_value=p if math.isfinite(p) else None,
                status=status,
                note=" ".join(notes),
                **common,
            )
        )
    return rows
