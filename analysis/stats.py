"""Small statistical helpers shared by the analysis stages.

Percentages, quartiles and the two-group tests of Table 1, chosen the way
R's gtsummary chooses them by default.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd


def pct(n: int, denominator: int) -> float | None:
    """``n / denominator × 100`` rounded half away from zero to one decimal.

    Computed in decimal arithmetic, so 1/8 → 12.5 and 1/16 → 6.3 exactly.
    ``None`` when the denominator is 0.
    """
    if denominator == 0:
        return None
    value = Decimal(int(n) * 100) / Decimal(int(denominator))
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def quartiles(values) -> tuple[float | None, float | None, float | None]:
    """Median, first and third quartile (pandas' default linear interpolation)."""
    s = pd.Series(values, dtype=float).dropna()
    if s.empty:
        return None, None, None
    q = s.quantile([0.5, 0.25, 0.75])
    return float(q.iloc[0]), float(q.iloc[1]), float(q.iloc[2])


def wilcoxon_rank_sum(x, y) -> float | None:
    """Two-sided Wilcoxon rank-sum p-value as R's ``wilcox.test`` computes it.

    Exact when both groups have fewer than 50 values and there are no ties;
    otherwise the normal approximation with tie and continuity correction.
    """
    from scipy import stats

    x = np.asarray(pd.Series(x, dtype=float).dropna())
    y = np.asarray(pd.Series(y, dtype=float).dropna())
    if len(x) == 0 or len(y) == 0:
        return None
    both = np.concatenate([x, y])
    if np.unique(both).size == 1:
        return None
    ties = np.unique(both).size < both.size
    exact = len(x) < 50 and len(y) < 50 and not ties
    res = stats.mannwhitneyu(
        x,
        y,
        alternative="two-sided",
        method="exact" if exact else "asymptotic",
        use_continuity=True,
    )
    return float(res.pvalue)


def categorical_test(table: np.ndarray) -> tuple[str | None, float | None]:
    """gtsummary's default test for a categorical variable by group.

    Pearson's chi-squared test without continuity correction when every
    expected count is at least 5, otherwise Fisher's exact test.  Rows or
    columns that are all zero are dropped first; ``(None, None)`` when fewer
    than two rows or columns remain.
    """
    from scipy import stats

    table = np.asarray(table, dtype=np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None, None
    expected = stats.contingency.expected_freq(table)
    if (expected >= 5).all():
        chi2 = stats.chi2_contingency(table, correction=False)
        return "chisq", float(chi2.pvalue)
    if table.shape == (2, 2):
        return "fisher", float(stats.fisher_exact(table).pvalue)
    if table.shape[1] == 2:
        return "fisher", fisher_exact_rx2(table)
    return "fisher", fisher_exact_rx2(table.T)


#: Tables enumerated at most by :func:`fisher_exact_rx2` before it falls back to Monte Carlo.
FISHER_MAX_TABLES = 2_000_000


def fisher_exact_rx2(table) -> float:
    """Two-sided Fisher exact p-value of an r × 2 table, as R's ``fisher.test``.

    Enumerates every table with the observed margins and sums the
    probabilities not above the observed one (relative tolerance 1e-7, as R).
    SciPy's default for tables larger than 2 × 2 is a random Monte Carlo
    estimate, which would make builds differ; this is exact and deterministic.
    Past ``FISHER_MAX_TABLES`` tables it uses a Monte Carlo estimate with a
    fixed seed (still deterministic).
    """
    from scipy import stats
    from scipy.special import gammaln

    table = np.asarray(table, dtype=np.int64)
    rows = table.sum(axis=1)
    c1 = int(table[:, 0].sum())
    n = int(rows.sum())

    def log_comb(a, b):
        return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    observed = float(np.sum(log_comb(rows, table[:, 0])))
    remaining = np.concatenate([np.cumsum(rows[::-1])[::-1][1:], [0]])
    sums = np.zeros(1, dtype=np.int64)
    logp = np.zeros(1)
    for r, rest in zip(rows, remaining, strict=True):
        a = np.arange(r + 1)
        sums = (sums[:, None] + a[None, :]).ravel()
        logp = (logp[:, None] + log_comb(r, a)[None, :]).ravel()
        keep = (sums <= c1) & (sums + rest >= c1)
        sums, logp = sums[keep], logp[keep]
        if sums.size > FISHER_MAX_TABLES:
            method = stats.MonteCarloMethod(n_resamples=200_000, rng=np.random.default_rng(0))
            return float(stats.fisher_exact(table, method=method).pvalue)
    total = log_comb(n, c1)
    probs = np.exp(logp - total)
    p_obs = np.exp(observed - total)
    return float(min(1.0, probs[probs <= p_obs * (1 + 1e-7)].sum()))


def finite_or_none(value) -> float | None:
    """A float, or ``None`` for missing / non-finite values."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
