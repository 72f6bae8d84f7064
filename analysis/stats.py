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
    """Median, first and third quartile (pandas' default linear interpolation, R's type 7).

    The study's own summaries (prior therapies, doses, best PSA change, laboratory
    trajectories, dosing); Table 1 uses :func:`quartiles_type2`, as gtsummary.
    """
    x = pd.Series(values, dtype=float).to_numpy()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return None, None, None
    # what Series.quantile computes (it calls np.percentile with q × 100), without
    # its overhead: 173 calls took 0.28 s of the shipped cohort's analysis
    median, q1, q3 = np.percentile(x, np.asarray([0.5, 0.25, 0.75]) * 100, method="linear")
    return float(median), float(q1), float(q3)


def quantile_type2(values, prob) -> float | None:
    """R's ``quantile(x, prob, type = 2)``: the inverse of the empirical CDF, averaged
    at discontinuities.

    With the sorted values x₁ ≤ … ≤ xₙ and j = ⌊n·p⌋: x_{j+1} when n·p is not a whole
    number, (x_j + x_{j+1}) / 2 when it is (x₀ = x₁, x_{n+1} = xₙ).  n·p is compared
    in exact rational arithmetic (``prob`` as its exact binary value, so 0.25, 0.5 and
    0.75 are exact), as R does for these probabilities.  Missing values are dropped;
    ``None`` when none is left.  Raises ``ValueError`` for ``prob`` outside [0, 1].
    """
    from fractions import Fraction

    x = np.sort(pd.Series(values, dtype=float).dropna().to_numpy())
    if not 0 <= prob <= 1:
        raise ValueError(f"prob must be in [0, 1]; found {prob!r}")
    n = len(x)
    if n == 0:
        return None
    nppm = n * Fraction(prob)
    j = math.floor(nppm)
    lo = x[min(max(j, 1), n) - 1]  # x_j, with x_0 = x_1
    hi = x[min(j + 1, n) - 1]  # x_{j+1}, with x_{n+1} = x_n
    if nppm > j or lo == hi:
        return float(hi)
    return float(0.5 * lo + 0.5 * hi)  # R: (1 - h) x_j + h x_{j+1}, h = 1/2


def quartiles_type2(values) -> tuple[float | None, float | None, float | None]:
    """Median, first and third quartile by :func:`quantile_type2` (gtsummary ≥ 2.0)."""
    return tuple(quantile_type2(values, p) for p in (0.5, 0.25, 0.75))  # type: ignore[return-value]


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

    The test is returned as a code: ``"chisq"``, ``"fisher"`` or, for an
    r × 2 table whose margins allow more than :data:`FISHER_MAX_TABLES` tables
    (too many to enumerate), ``"fisher_sim"``: Fisher's test with a simulated
    p-value, as R's ``fisher.test(simulate.p.value = TRUE)`` (see
    :func:`fisher_simulated`).
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
    rx2 = table if table.shape[1] == 2 else table.T
    p = fisher_exact_rx2(rx2, simulate=False)
    if p is None:
        return "fisher_sim", fisher_simulated(rx2)
    return "fisher", p


#: Most tables :func:`fisher_exact_rx2` enumerates; past it the p-value is simulated.
FISHER_MAX_TABLES = 2_000_000
#: Random tables of a simulated Fisher p-value, and the seed they are drawn with.
FISHER_SIM_TABLES = 200_000
FISHER_SIM_SEED = 0


def fisher_simulated(table) -> float:
    """Fisher's test of an r × c table with a Monte Carlo p-value, deterministic.

    :data:`FISHER_SIM_TABLES` random tables with the observed margins (SciPy's
    ``MonteCarloMethod``, seed :data:`FISHER_SIM_SEED`); the p-value is
    ``(k + 1) / (B + 1)``, as R's ``fisher.test(simulate.p.value = TRUE)``.
    Memory grows with the tables drawn times the cells, not with the counts.
    """
    from scipy import stats

    method = stats.MonteCarloMethod(
        n_resamples=FISHER_SIM_TABLES, rng=np.random.default_rng(FISHER_SIM_SEED)
    )
    return float(stats.fisher_exact(np.asarray(table, dtype=np.int64), method=method).pvalue)


def fisher_exact_rx2(table, *, simulate: bool = True) -> float | None:
    """Two-sided Fisher exact p-value of an r × 2 table, as R's ``fisher.test``.

    Enumerates every table with the observed margins and sums the
    probabilities not above the observed one (relative tolerance 1e-7, as R).
    SciPy's default for tables larger than 2 × 2 is a random Monte Carlo
    estimate, which would make builds differ; this is exact and deterministic.

    The enumeration extends the partial tables one row at a time and, for each
    partial table, only with the first-column counts that can still reach the
    margin, so nothing is allocated beyond the tables kept; the number kept is
    checked before each row is added (partial tables never outnumber the
    complete ones).  Past :data:`FISHER_MAX_TABLES` it stops and returns
    :func:`fisher_simulated` (``None`` with ``simulate=False``).
    """
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
        # first-column counts a of this row with sums + a <= c1 and sums + a + rest >= c1
        lo = np.maximum(0, c1 - rest - sums)
        hi = np.minimum(r, c1 - sums)
        counts = np.maximum(hi - lo + 1, 0)
        total = int(counts.sum())
        if total > FISHER_MAX_TABLES:
            return fisher_simulated(table) if simulate else None
        # for each partial table in order, a = lo..hi ascending (the order of the full product)
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        a = starts + np.arange(total)
        sums = np.repeat(sums, counts) + a
        logp = np.repeat(logp, counts) + log_comb(r, a)
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


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Exact binomial CI of ``k / n`` in percent (R's ``binom.test``); ``None`` when n = 0."""
    if n <= 0:
        return None, None
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return 100 * float(ci.low), 100 * float(ci.high)
