"""Kaplan–Meier figures, built from a :class:`~analysis.results.StudyResults` only.

The curves are the points :func:`analysis.outcomes.compute_outcomes` stored
(:class:`analysis.outcomes.CurvePoints`, months since the first dose); the
medians, numbers at risk, hazard ratio and p-values are the results' own.
Nothing is estimated here: the only look-up is the height of the curve at
each censoring time, where its tick is drawn.

``km``
    Overall survival, PSA-PFS and (when the cohort has radiographic
    progression dates) rPFS: step curves from (0, 100 %) with their log-log 95%
    confidence bands, a tick at each censoring, one Okabe–Ito colour and one
    stroke dash per endpoint, and the numbers at risk every 3 months under the
    plot; the subtitle gives each median (95% CI).
``landmark``
    Overall survival from the landmark (12 weeks), by PSA50 reached by then,
    in the same style; the subtitle gives the hazard ratio (95% CI), the
    log-rank p and the patients excluded (died or censored before the
    landmark).

A figure is drawn only when its data exist (:func:`available_survival_figures`):
``km`` when the cohort has follow-up (overall survival, or a PSA-PFS with at
least one progression — a cohort without follow-up columns still has PSA-PFS
times, censored at the last PSA, but a curve that never drops says nothing),
``landmark`` when ``results.landmark`` is set.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from analysis.charts import (
    BLUE,
    INK,
    NONRESP_GREY,
    ORANGE,
    _finish,
    _title,
)

if TYPE_CHECKING:
    import altair as alt

    from analysis.outcomes import CurvePoints
    from analysis.results import StudyResults

SURVIVAL_CHART_NAMES: tuple[str, ...] = ("km", "landmark")

#: Okabe–Ito reddish purple: between BLUE and ORANGE in lightness (luminance ≈ 0.30).
PURPLE = "#CC79A7"

OS_LABEL = "Overall survival"
PFS_LABEL = "PSA-PFS"
RPFS_LABEL = "rPFS"
#: (label, SurvivalResults summary field, curve field, colour, stroke dash)
ENDPOINTS = (
    (OS_LABEL, "os", "os_curve", BLUE, []),
    (PFS_LABEL, "psa_pfs", "psa_pfs_curve", ORANGE, [7, 4]),
    (RPFS_LABEL, "rpfs", "rpfs_curve", PURPLE, [2, 3]),
)
LANDMARK_DASHES = ([], [7, 4])

X_TITLE = "Months since first dose"
STEP_MONTHS = 3
PLOT_WIDTH = 560
PLOT_HEIGHT = 300
RISK_ROW = 20
BAND_OPACITY = 0.12
TICK_SIZE = 9
NOT_REACHED = "NR"


# --- text -----------------------------------------------------------------------


def fmt_months(x: float | None) -> str:
    """One decimal; ``NR`` (not reached / not estimable) for ``None`` (as the tables)."""
    from analysis.tables_followup import months

    return months(None if isinstance(x, float) and not math.isfinite(x) else x)


def fmt_median(median: float | None, low: float | None, high: float | None) -> str:
    """``14.7 (6.3–NR)``, as the survival tables write it."""
    from analysis.tables_followup import median_ci

    return median_ci(median, low, high)


def _events(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --- data -------------------------------------------------------------------------


def drawn_endpoints(results: StudyResults) -> list[tuple[str, Any, CurvePoints, str, list]]:
    """(label, summary, curve, colour, dash) of each endpoint the ``km`` figure draws."""
    surv = results.survival
    if surv is None:
        return []
    has_os = surv.os is not None and surv.os_curve is not None
    out = []
    for label, key, curve_key, colour, dash in ENDPOINTS:
        summary, curve = getattr(surv, key), getattr(surv, curve_key)
        if summary is None or curve is None:
            continue
        if key == "psa_pfs" and not has_os and summary.events == 0:
            continue  # no follow-up: PSA-PFS censored at the last PSA, never dropping
        out.append((label, summary, curve, colour, dash))
    return out


def available_survival_figures(results: StudyResults) -> list[str]:
    """The names in :data:`SURVIVAL_CHART_NAMES` that ``results`` have the data for."""
    names = []
    if drawn_endpoints(results):
        names.append("km")
    lm = results.landmark
    if lm is not None and lm.curves and lm.n_included > 0:
        names.append("landmark")
    return names


def _value_at(curve: CurvePoints, t: float) -> float:
    """Height of the step curve at ``t`` (1 before the first step)."""
    s = 1.0
    for ti, si in zip(curve.times_months, curve.surv, strict=True):
        if ti > t + 1e-12:
            break
        s = si
    return s


def _limit(s: float, value: float) -> float | None:
    # The log-log limits are undefined where S is 1 (the band closes on the curve)
    # or 0 (no band is drawn).
    if not math.isnan(value):
        return value
    return 1.0 if s >= 1.0 else None


def curve_rows(group: str, curve: CurvePoints) -> list[dict[str, Any]]:
    """Step rows from (0, 1): ``group``, ``month``, ``surv``, ``lower``, ``upper``."""
    rows = [{"group": group, "month": 0.0, "surv": 1.0, "lower": 1.0, "upper": 1.0}]
    for t, s, lo, hi in zip(curve.times_months, curve.surv, curve.lower, curve.upper, strict=True):
        rows.append(
            {"group": group, "month": t, "surv": s, "lower": _limit(s, lo), "upper": _limit(s, hi)}
        )
    return rows


def censor_rows(group: str, curve: CurvePoints) -> list[dict[str, Any]]:
    """One row per censored patient, on the curve at the censoring time."""
    return [
        {"group": group, "month": t, "surv": _value_at(curve, t)} for t in curve.censor_times_months
    ]


def risk_rows(group: str, at_risk) -> list[dict[str, Any]]:
    return [{"group": group, "month": a.month, "n": a.n} for a in at_risk]


def _x_max(curves, at_risk) -> int:
    last = max(
        [0.0, *[t for c in curves for t in c.times_months], *[a.month for r in at_risk for a in r]]
    )
    return max(STEP_MONTHS, math.ceil(last / STEP_MONTHS - 1e-9) * STEP_MONTHS)


# --- charts -------------------------------------------------------------------------


def _km_layers(alt, curves, censors, risks, domain, colours, dashes, x_max, x_title, legend_title):
    """(plot, risk table) of one figure: curves, bands, censor ticks; numbers at risk."""
    import pandas as pd

    x_scale = alt.Scale(domain=[0, x_max], nice=False, zero=True)
    x_values = list(range(0, x_max + 1, STEP_MONTHS))
    x = alt.X(
        "month:Q",
        title=x_title,
        scale=x_scale,
        axis=alt.Axis(values=x_values, format="d", grid=False),
    )
    y = alt.Y(
        "surv:Q",
        title="Probability",
        scale=alt.Scale(domain=[0, 1], nice=False),
        axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1.0]),
    )
    colour = alt.Color(
        "group:N",
        scale=alt.Scale(domain=domain, range=colours),
        legend=alt.Legend(
            title=legend_title,
            orient="top",
            direction="horizontal",
            symbolOpacity=1,
            symbolType="stroke",
            symbolStrokeWidth=2.4,
            symbolSize=400,
            labelLimit=320,
        ),
    )
    dash = alt.StrokeDash(
        "group:N", scale=alt.Scale(domain=domain, range=dashes), legend=alt.Legend(title=None)
    )
    tooltip = [
        alt.Tooltip("group:N", title="Curve"),
        alt.Tooltip("month:Q", title="Months", format=".1f"),
        alt.Tooltip("surv:Q", title="Probability", format=".1%"),
        alt.Tooltip("lower:Q", title="95% CI lower", format=".1%"),
        alt.Tooltip("upper:Q", title="95% CI upper", format=".1%"),
    ]
    data = pd.DataFrame(curves, columns=["group", "month", "surv", "lower", "upper"])
    base = alt.Chart(data)
    band = (
        base.transform_filter("isValid(datum.lower) && isValid(datum.upper)")
        .mark_area(interpolate="step-after", opacity=BAND_OPACITY)
        .encode(
            x=x,
            y=alt.Y("lower:Q", scale=alt.Scale(domain=[0, 1], nice=False)),
            y2=alt.Y2("upper:Q"),
            color=colour,
            detail=alt.Detail("group:N"),
        )
    )
    line = base.mark_line(interpolate="step-after", strokeWidth=2.2).encode(
        x=x, y=y, color=colour, strokeDash=dash, tooltip=tooltip
    )
    ticks = (
        alt.Chart(pd.DataFrame(censors, columns=["group", "month", "surv"]))
        .mark_tick(orient="vertical", size=TICK_SIZE, thickness=1.5, opacity=1)
        .encode(
            x=x,
            y=alt.Y("surv:Q"),
            color=colour,
            tooltip=[
                alt.Tooltip("group:N", title="Censored"),
                alt.Tooltip("month:Q", title="Months", format=".1f"),
            ],
        )
    )
    plot = alt.layer(band, line, ticks).properties(width=PLOT_WIDTH, height=PLOT_HEIGHT)

    table = (
        alt.Chart(pd.DataFrame(risks, columns=["group", "month", "n"]))
        .mark_text(fontSize=11, color=INK)
        .encode(
            x=alt.X("month:Q", scale=x_scale, axis=None),
            y=alt.Y(
                "group:N",
                sort=domain,
                title=None,
                axis=alt.Axis(
                    domain=False, ticks=False, labelPadding=22, labelFontSize=11, labelLimit=180
                ),
            ),
            text=alt.Text("n:Q", format="d"),
        )
        .properties(
            width=PLOT_WIDTH,
            height=RISK_ROW * len(domain),
            title=alt.Title(
                "Number at risk", fontSize=12, fontWeight="bold", anchor="start", offset=6
            ),
        )
    )
    return plot, table


def _assemble(alt, plot, table, title) -> alt.VConcatChart:
    return _finish(alt.vconcat(plot, table, spacing=14, title=title))


def km_chart(results: StudyResults, labels: tuple[str, ...] | None = None) -> alt.VConcatChart:
    """Overall survival, PSA-PFS (and rPFS) with CI bands, censor ticks and risk table
    (only the endpoints named in ``labels`` when given: the poster's OS and PSA-PFS)."""
    import altair as alt

    drawn = [d for d in drawn_endpoints(results) if labels is None or d[0] in labels]
    if not drawn:
        raise ValueError("no follow-up data: the Kaplan–Meier figure is not drawn")
    curves, censors, risks, subtitle = [], [], [], []
    words = {OS_LABEL: "death", PFS_LABEL: "progression", RPFS_LABEL: "event"}
    for label, summary, curve, _colour, _dash in drawn:
        curves += curve_rows(label, curve)
        censors += censor_rows(label, curve)
        risks += risk_rows(label, summary.at_risk)
        median = fmt_median(summary.median_months, summary.median_ci_low, summary.median_ci_high)
        subtitle.append(
            f"{label}: median {median} months; "
            f"{_events(summary.events, words[label])} in {summary.n} patients."
        )
    domain = [d[0] for d in drawn]
    x_max = _x_max([d[2] for d in drawn], [d[1].at_risk for d in drawn])
    plot, table = _km_layers(
        alt,
        curves,
        censors,
        risks,
        domain,
        [d[3] for d in drawn],
        [d[4] for d in drawn],
        x_max,
        X_TITLE,
        None,
    )
    subtitle.append("Median (95% CI) in months; NR, not reached; ticks: censored patients.")
    title = _title("Overall survival and progression-free survival", *subtitle)
    return _assemble(alt, plot, table, title)


def landmark_label(psa50: bool, weeks: int, n: int) -> str:
    return f"{'PSA50' if psa50 else 'No PSA50'} by week {weeks} (n = {n})"


def landmark_chart(results: StudyResults) -> alt.VConcatChart:
    """Overall survival from the landmark by PSA50 reached by then."""
    import altair as alt

    from analysis.tables import fmt_or_ci, format_p

    lm = results.landmark
    if lm is None or not lm.curves:
        raise ValueError("no landmark analysis: the landmark figure is not drawn")
    by_flag = {g.psa50: g for g in lm.groups}
    curves, censors, risks, domain, colours, dashes, subtitle = [], [], [], [], [], [], []
    for flag, curve in lm.curves:
        group = by_flag[flag]
        label = landmark_label(flag, lm.weeks, group.n)
        domain.append(label)
        colours.append(BLUE if flag else NONRESP_GREY)
        dashes.append(LANDMARK_DASHES[0] if flag else LANDMARK_DASHES[1])
        curves += curve_rows(label, curve)
        censors += censor_rows(label, curve)
        risks += risk_rows(label, curve.at_risk)
        median = fmt_median(group.median_months, group.median_ci_low, group.median_ci_high)
        subtitle.append(
            f"{'PSA50' if flag else 'No PSA50'}: median {median} months; "
            f"{_events(group.events, 'death')} in {group.n} patients."
        )
    hr = fmt_or_ci(lm.hr, lm.hr_ci_low, lm.hr_ci_high) if lm.hr is not None else "not estimable"
    p = format_p(lm.logrank_p) if lm.logrank_p is not None else "not estimable"
    p_text = f"p {p}" if p.startswith(("<", ">")) else f"p = {p}"
    subtitle.append(f"HR (95% CI), PSA50 vs no PSA50: {hr}; log-rank {p_text}.")
    excluded = lm.n_excluded_died + lm.n_excluded_censored
    subtitle.append(
        f"{lm.n_included} patients alive and followed at week {lm.weeks}; {excluded} excluded "
        f"({lm.n_excluded_died} died, {lm.n_excluded_censored} censored before the landmark)."
    )
    x_max = _x_max([c for _f, c in lm.curves], [c.at_risk for _f, c in lm.curves])
    plot, table = _km_layers(
        alt,
        curves,
        censors,
        risks,
        domain,
        colours,
        dashes,
        x_max,
        f"Months since the {lm.weeks}-week landmark",
        None,
    )
    title = _title(f"Overall survival by PSA50 at the {lm.weeks}-week landmark", *subtitle)
    return _assemble(alt, plot, table, title)


BUILDERS = {"km": km_chart, "landmark": landmark_chart}


def survival_chart_specs(results: StudyResults) -> dict[str, alt.TopLevelMixin]:
    """The survival figures the results have data for, themed, keyed by name."""
    return {name: BUILDERS[name](results) for name in available_survival_figures(results)}
