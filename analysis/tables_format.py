"""Number formats of the tables (and of the figures and prose that quote them).

Number formats
--------------
* p-values: :func:`format_p`, the rules of gtsummary's ``style_pvalue()``
  (default ``digits = 1``): ``>0.9`` above 0.9; one decimal when the value
  rounded to one decimal is ≥ 0.2; two decimals when rounded to two decimals
  it is ≥ 0.1; three decimals down to 0.001; ``<0.001`` below.  Rounding is
  gtsummary's ``round2()``: half away from zero, with a tolerance of
  √(machine ε) for binary floating point (0.0125 → "0.013").
* n (%): the percentage as stored in the results (one decimal), e.g.
  ``8 (38.1%)``; ``n/N (%)`` where denominators differ between rows.
* Odds ratios and their confidence limits: two decimals; values ≥ 100 without
  decimals; values that round to 0.00 as ``<0.01``.  Beyond
  :data:`OR_SHOWN_MAX` (999) ``>999`` and below :data:`OR_SHOWN_MIN` (0.001)
  ``<0.001``, with a footnote on the cell (:data:`OR_BEYOND_NOTE`): digits of a
  degenerate fit (quasi-separation, sparse data) are not precision.
* Negative numbers use the minus sign U+2212; a missing value is an em dash.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.results import Count, StudyResults

MINUS = "\u2212"
DASH = "\u2014"
NBSP = "\u00a0"
#: A confidence limit that was not estimated (defined in the regression table's notes).
NOT_ESTIMATED = "NE"

_EPS = math.sqrt(sys.float_info.epsilon)


def round2(x: float, digits: int = 0) -> float:
    """gtsummary's ``round2()``: round half away from zero with a √ε tolerance."""
    scale = 10.0**digits
    return math.copysign(math.trunc(abs(x) * scale + 0.5 + _EPS) / scale, x)


def fmt_number(x: float | None, digits: int) -> str:
    """``x`` rounded by :func:`round2` to ``digits`` decimals; U+2212 minus; ``None`` → —."""
    if x is None or not math.isfinite(x):
        return DASH
    text = f"{round2(x, digits):.{digits}f}"
    if text.startswith("-"):
        text = text[1:] if float(text) == 0 else MINUS + text[1:]
    return text


def format_p(p: float | None) -> str:
    """A p-value by gtsummary's ``style_pvalue()`` rules (``digits = 1``).

    ``None`` (no test) gives ``""``.  Raises ``ValueError`` for NaN or a value
    outside [0, 1] (gtsummary would print ``NA``; here it is a bug upstream).

    >>> [format_p(p) for p in (0.0004, 0.012, 0.049, 0.05, 0.1, 0.5, 0.9, 0.95)]
    ['<0.001', '0.012', '0.049', '0.050', '0.10', '0.5', '0.9', '>0.9']
    """
    if p is None:
        return ""
    try:
        value = float(p)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(p, bool) or not -1e-15 <= value <= 1 + 1e-15:  # NaN fails too
        raise ValueError(f"p-value must be a number in [0, 1]; found {p!r}")
    p = value
    if p > 0.9:
        return ">0.9"
    if round2(p, 1) >= 0.2:
        return f"{round2(p, 1):.1f}"
    if round2(p, 2) >= 0.1:
        return f"{round2(p, 2):.2f}"
    if p >= 0.001:
        return f"{round2(p, 3):.3f}"
    return "<0.001"


def _auto_digits(*values: float | None) -> int:
    """Decimals by magnitude: ≥ 100 → 0, ≥ 1 → 1, smaller → 2."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    if top >= 100:
        return 0
    if top >= 1:
        return 1
    return 2


def fmt_median_iqr(median: float | None, q1: float | None, q3: float | None, digits: int) -> str:
    """``median (Q1, Q3)``; — when the median is missing."""
    if median is None:
        return DASH
    return f"{fmt_number(median, digits)} ({fmt_number(q1, digits)}, {fmt_number(q3, digits)})"


def _count_digits(*values: float | None) -> int:
    """0 decimals for whole numbers (counts), else 1 (an interpolated quartile)."""
    return 0 if all(v is None or float(v).is_integer() for v in values) else 1


def fmt_count(count: Count, with_denominator: bool = False) -> str:
    """``n (pct%)`` or ``n/N (pct%)``; — when the denominator is 0."""
    if count.denominator == 0 or count.pct is None:
        return DASH
    n = f"{count.n}/{count.denominator}" if with_denominator else f"{count.n}"
    return f"{n} ({count.pct:.1f}%)"


def fmt_pct(pct: float | None) -> str:
    return DASH if pct is None else f"{pct:.1f}"


def n_equals(n: int) -> str:
    """``N = 21`` for a column heading, its spaces non-breaking: a heading that wraps
    breaks before the N, never between "N =" and its number."""
    return f"N{NBSP}={NBSP}{n:,}"


def fmt_n_pct(n: int, pct: float | None) -> str:
    """``n (pct%)``, as :func:`fmt_count` writes a count; ``n (—)`` without a percentage."""
    return f"{n} ({DASH})" if pct is None else f"{n} ({pct:.1f}%)"


#: Odds ratios and confidence limits shown as numbers: within [OR_SHOWN_MIN, OR_SHOWN_MAX].
OR_SHOWN_MAX = 999
OR_SHOWN_MIN = 0.001
#: Footnote on a regression cell with a value beyond the shown range.
OR_BEYOND_NOTE = (
    f"Beyond the range shown (>{OR_SHOWN_MAX:,} or <{OR_SHOWN_MIN:g}): an odds ratio or"
    " confidence limit this extreme comes from a degenerate fit (quasi-separation or sparse"
    " data: almost all patients of one group are responders, or non-responders); it is"
    " unstable and its digits carry no precision."
)


def beyond_shown(x: float | None) -> bool:
    """True for a finite ratio that :func:`fmt_ratio` shows as ``>999`` or ``<0.001``."""
    return x is not None and math.isfinite(x) and (x > OR_SHOWN_MAX or x < OR_SHOWN_MIN)


def fmt_ratio(x: float | None) -> str:
    """An odds ratio or confidence limit: 2 decimals, ≥ 100 without; < 0.005 → <0.01;
    above 999 → >999, below 0.001 → <0.001."""
    if x is None or math.isnan(x):
        return DASH
    if math.isinf(x):
        return "∞"
    if x > OR_SHOWN_MAX:
        return f">{OR_SHOWN_MAX:,}"
    if x < OR_SHOWN_MIN:
        return f"<{OR_SHOWN_MIN:g}"
    if x >= 100:
        return f"{round2(x, 0):,.0f}"
    if round2(x, 2) == 0:
        return "<0.01"
    return f"{round2(x, 2):.2f}"


def fmt_or_ci(odds_ratio: float | None, low: float | None, high: float | None) -> str:
    """``OR (low–high)``; — when there is no estimate, NE for a confidence limit not estimated."""
    if odds_ratio is None:
        return DASH

    def limit(x: float | None) -> str:
        return NOT_ESTIMATED if x is None else fmt_ratio(x)

    return f"{fmt_ratio(odds_ratio)} ({limit(low)}\u2013{limit(high)})"


def _definition(results: StudyResults, key: str, default: Any) -> Any:
    return (results.definitions or {}).get(key, default)


def _g(x: float) -> str:
    """A definition's number without a trailing .0 (10.0 → "10")."""
    return f"{x:g}"
