"""Forest plot of the univariable Firth logistic regressions of PSA50 response.

One row per term (``results.regression.rows`` with ``method == "firth"`` and
``model == "univariable"``, in the table's order): the odds ratio as a dot and
its 95% confidence interval as a line on a log axis from
:data:`AXIS_MIN` to :data:`AXIS_MAX`.  A limit beyond the axis is drawn at
the axis edge with an arrowhead, and :func:`clipped_note` names its value for
the caption; each row's ``estimate`` (``fmt_or_ci`` of :mod:`analysis.tables`,
``>999`` as in the tables) is in the tooltip; a
term without an estimate is listed as "not estimable" with no mark.  Nothing
is computed here: every number is the results' own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from analysis.charts import INK, MUTED, _finish, _title
from analysis.tables import NOT_ESTIMATED, fmt_or_ci, fmt_ratio

if TYPE_CHECKING:
    import altair as alt

    from analysis.results import StudyResults

#: The log axis: odds ratios drawn from AXIS_MIN to AXIS_MAX.
AXIS_MIN = 0.01
AXIS_MAX = 100.0
NOT_ESTIMABLE = "not estimable"
ARROW_NOTE = "Arrowhead: a confidence limit beyond the axis."


def _limit(x: float | None) -> str:
    return NOT_ESTIMATED if x is None else fmt_ratio(x)


def forest_rows(results: StudyResults) -> list[dict[str, Any]]:
    """The plotted rows: ``term``, ``label`` (with OR and CI), ``odds_ratio``,
    ``ci_low``, ``ci_high``, ``p_value`` (the results' values, ``None`` when
    missing), the drawn ``x``/``lo``/``hi`` (clipped to the axis) and the
    ``clip_low``/``clip_high`` flags."""
    rows = []
    reg = results.regression
    for r in reg.rows if reg is not None else ():
        if r.method != "firth" or r.model != "univariable":
            continue
        has = r.odds_ratio is not None and math.isfinite(r.odds_ratio)
        lo = r.ci_low if r.ci_low is not None else (r.odds_ratio if has else None)
        hi = r.ci_high if r.ci_high is not None else (r.odds_ratio if has else None)

        def clip(x):
            return None if x is None else min(AXIS_MAX, max(AXIS_MIN, x))

        clip_low = lo is not None and (r.ci_low is None or lo < AXIS_MIN)
        clip_high = hi is not None and (r.ci_high is None or hi > AXIS_MAX)
        rows.append(
            {
                "term": r.term,
                "label": r.label,
                "estimate": (
                    fmt_or_ci(r.odds_ratio, r.ci_low, r.ci_high) if has else NOT_ESTIMABLE
                ),
                "odds_ratio": r.odds_ratio,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "x": clip(r.odds_ratio) if has else None,
                "lo": clip(lo),
                "hi": clip(hi),
                "clip_low": clip_low,
                "clip_high": clip_high,
                "low_text": _limit(r.ci_low) if clip_low else "",
                "high_text": _limit(r.ci_high) if clip_high else "",
            }
        )
    return rows


def forest(results: StudyResults) -> alt.LayerChart:
    """The forest plot (see the module docstring)."""
    import altair as alt
    import pandas as pd

    rows = forest_rows(results)
    if not rows:
        raise ValueError("no Firth regression rows: the forest plot is not drawn")
    data = pd.DataFrame(rows)
    order = list(data["label"])
    x_scale = alt.Scale(type="log", domain=[AXIS_MIN, AXIS_MAX], nice=False, clamp=True)
    y = alt.Y(
        "label:N",
        sort=order,
        title=None,
        axis=alt.Axis(ticks=False, domain=False, labelLimit=900, labelPadding=8),
    )
    tooltip = [
        alt.Tooltip("label:N", title="Term"),
        alt.Tooltip("estimate:N", title="OR (95% CI)"),
        alt.Tooltip("p_value:Q", title="p-value", format=".3f"),
    ]
    base = alt.Chart(data)
    one = alt.Chart().mark_rule(color=MUTED, strokeDash=[4, 3]).encode(x=alt.XDatum(1))
    ci = (
        base.transform_filter("isValid(datum.lo)")
        .mark_rule(color=INK, strokeWidth=2)
        .encode(
            x=alt.X(
                "lo:Q",
                scale=x_scale,
                title="Odds ratio (log scale)",
                # a tick per decade, a label every other one (they would touch on the poster)
                axis=alt.Axis(
                    values=[0.01, 0.1, 1, 10, 100],
                    format="~g",
                    grid=False,
                    labelExpr="indexof([0.01, 1, 100], datum.value) >= 0 ? datum.label : ''",
                ),
            ),
            x2=alt.X2("hi:Q"),
            y=y,
            tooltip=tooltip,
        )
    )
    dots = (
        base.transform_filter("isValid(datum.x)")
        .mark_point(shape="square", filled=True, size=90, color=INK, opacity=1)
        .encode(x=alt.X("x:Q", scale=x_scale), y=y, tooltip=tooltip)
    )
    arrows = []
    for flag, field, shape in (
        ("clip_low", "lo", "triangle-left"),
        ("clip_high", "hi", "triangle-right"),
    ):
        arrows.append(
            base.transform_filter(f"datum.{flag}")
            .mark_point(shape=shape, filled=True, size=110, color=INK, opacity=1)
            .encode(x=alt.X(f"{field}:Q", scale=x_scale), y=y)
        )
    # no estimate: said so in its row
    missing = (
        base.transform_filter("!isValid(datum.x)")
        .mark_text(align="center", baseline="middle", fontSize=11, color=MUTED)
        .encode(x=alt.XDatum(1), y=y, text=alt.Text("estimate:N"))
    )
    chart = alt.layer(one, ci, dots, *arrows, missing).properties(
        width=360,
        height=alt.Step(26),
        title=_title(
            "Univariable odds ratios for PSA50 response",
            "Firth penalized likelihood; dots: odds ratio, lines: 95% CI.",
            *([ARROW_NOTE] if bool(data["clip_low"].any() or data["clip_high"].any()) else []),
        ),
    )
    return _finish(chart)


def has_forest(results: StudyResults) -> bool:
    """True when the results hold univariable Firth rows to draw."""
    return bool(forest_rows(results))


def forest_chart_specs(results: StudyResults) -> dict[str, alt.TopLevelMixin]:
    """``{"forest": chart}`` when there are rows to draw, else ``{}``."""
    return {"forest": forest(results)} if has_forest(results) else {}


def clipped_note(results: StudyResults) -> str:
    """The caption's sentence on limits beyond the axis and terms not estimable, e.g.
    "Arrowheads: 95% CI beyond the axis (Prior taxane (vs none): upper limit 803)."; "" if none."""
    clipped, missing = [], []
    for r in forest_rows(results):
        if r["x"] is None:
            missing.append(r["label"])
            continue
        limits = [
            f"{side} limit {text}"
            for side, text in (("lower", r["low_text"]), ("upper", r["high_text"]))
            if text
        ]
        if limits:
            clipped.append(f"{r['label']}: {' and '.join(limits)}")
    out = []
    if clipped:
        out.append(f"Arrowheads: 95% CI beyond the axis ({'; '.join(clipped)}).")
    if missing:
        out.append(f"Not estimable: {'; '.join(missing)}.")
    return " ".join(out)
