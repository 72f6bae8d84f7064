"""Small array helpers of the synthetic-cohort generator (:mod:`analysis.synth`):
quotas, bounded draws, day numbers and the columns' text."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis import config

#: Day 0 of the day numbers (days since 1970-01-01).
EPOCH = dt.date(1970, 1, 1)


def _day(date: dt.date) -> int:
    return (date - EPOCH).days


def largest_remainder(n: int, weights) -> np.ndarray:
    """Split ``n`` in proportion to integer ``weights`` (Hamilton's method).

    Ties of the remainders go to the earlier weight, so the result is exact
    and deterministic; for ``n == sum(weights)`` it returns ``weights``.
    """
    w = np.asarray(weights, dtype=np.int64)
    total = int(w.sum())
    quota = w * n
    counts = quota // total
    rest = n - int(counts.sum())
    order = np.argsort(-(quota % total), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _quota(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    """Category index per patient: largest-remainder counts in a random order."""
    counts = largest_remainder(n, weights)
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))


def _stratified_normal(rng, n: int, mean: float, sd: float, lo: float, hi: float) -> np.ndarray:
    """Normal(mean, sd) truncated to [lo, hi], one draw per probability stratum, shuffled.

    Stratum i covers the quantiles [i/n, (i+1)/n) of the truncated law, so the
    sample's median and spread barely depend on the seed.
    """
    from scipy.special import ndtr, ndtri

    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    p = (rng.permutation(n) + rng.uniform(0.05, 0.95, n)) / n
    return mean + sd * ndtri(a + p * (b - a))


def _between(rng, n: int, lo, hi) -> np.ndarray:
    """Whole numbers from ``lo`` to ``hi`` inclusive (arrays or scalars)."""
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    return lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)


def _text_table(keys: np.ndarray, render) -> np.ndarray:
    """Object array of strings for integer ``keys``, one string object per distinct key."""
    keys = np.asarray(keys, dtype=np.int64)
    if keys.size == 0:
        return np.empty(0, dtype=object)
    lo = int(keys.min())
    span = int(keys.max()) - lo + 1
    if span <= 8 * keys.size + 1024:
        used = np.zeros(span, dtype=bool)
        used[keys - lo] = True
        present = np.flatnonzero(used)
        table = np.empty(span, dtype=object)
        table[present] = [render(int(k)) for k in (present + lo).tolist()]
        return table[keys - lo]
    uniq, inverse = np.unique(keys, return_inverse=True)
    table = np.array([render(int(k)) for k in uniq.tolist()], dtype=object)
    return table[inverse]


def format_fixed(values: np.ndarray, decimals: int) -> np.ndarray:
    """Non-negative numbers rounded half to even and written with ``decimals`` places."""
    scale = 10**decimals
    keys = np.rint(np.asarray(values, dtype=float) * scale).astype(np.int64)
    if decimals == 0:
        return _text_table(keys, str)
    return _text_table(keys, lambda k: f"{k // scale}.{k % scale:0{decimals}d}")


def format_dates(days: np.ndarray) -> np.ndarray:
    """ISO dates for day numbers since 1970-01-01."""
    return _text_table(days, lambda d: (EPOCH + dt.timedelta(days=d)).isoformat())


def _frame(name: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    cols = config.COLUMNS[name]
    return pd.DataFrame(
        {c: pd.array(columns.pop(c), dtype="str") for c in cols}, columns=cols, copy=False
    )
