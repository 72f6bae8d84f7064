"""Figures of the study, built from a :class:`~analysis.results.StudyResults` only.

Every chart reads the frozen results and draws them; no statistic is computed
here.  Patients appear as their numbers 1..n (``PatientResult.patient_no``),
never as a patient_id or a date.

Charts (names are the keys of :func:`chart_specs` and :func:`write_figures`):

``waterfall``
    Best PSA change per PSA-evaluable patient, largest increase to largest
    decrease, coloured by response (PSA90 / PSA50 only / no PSA50); bars above
    +100 % are drawn at +100 % and marked with ↑ and their true value.  Above
    ``config.WATERFALL_PATIENTS_MAX`` patients: every patient still, ranked on
    an axis of 0–100 % of patients, in at most ``config.WATERFALL_GROUPS``
    groups of consecutive patients of one response category, each drawn as one
    bar at the group's median (:func:`waterfall_groups`).
``psa_course``
    Lowest PSA of each dose interval relative to baseline, one line per
    patient (responders in colour, non-responders grey), clipped at +200 %.
    Above ``config.PSA_COURSE_LINES_MAX`` patients: median (line) and
    interquartile range (band) per dose and group instead
    (:func:`psa_course_bands`, pandas' default quantiles of the unclipped
    values, clipped for drawing only).
``milestones``
    Cumulative patients who had reached PSA50 and PSA90 by each dose, as % of
    all patients with the counts printed.
``swimmer``
    One bar per patient made of one segment per dose received, coloured by
    treatment status, with PSA50 / PSA90 markers in the segment of the dose
    after which the milestone was reached and an arrow for ongoing treatment.
    Above ``config.SWIMMER_PATIENTS_MAX`` patients: a random sample of
    ``config.SWIMMER_SAMPLE`` patients drawn with a fixed seed
    (:func:`swimmer_sample`), said so in the subtitle.

Large cohorts
    Every chart's data is inline in its spec, and Altair refuses more than
    5,000 rows; the large-cohort forms above draw aggregated or sampled rows
    only, so no spec holds more than a few hundred rows whatever the cohort
    size, and Altair's row limit is never lifted.
``labs``
    Median and IQR of pre-dose laboratory values by dose, one panel per test.
``km``, ``landmark``
    Kaplan–Meier figures (:mod:`analysis.charts_survival`), written by
    :func:`write_figures` only when the results have follow-up.

Theme
    Text is set in Lato, a bundled font (:mod:`analysis.fonts`): vl-convert
    sees only the bundled and project fonts, never the machine's, so SVG →
    PDF/PNG conversion gives the same glyphs and text widths on every machine;
    browsers showing the SVG use Lato where installed, else Helvetica/Arial.
    Colours are Okabe–Ito hues chosen with clearly different lightness, so
    every category also reads in greyscale; response is never coded by red against green.

Outputs (:func:`write_figures`)
    ``<name>.svg``, ``<name>.pdf``, ``<name>.vl.json`` (sorted keys) and
    ``<name>-interactive.html`` (a ``<div>`` plus a ``<script>`` calling
    ``vegaEmbed`` with the inline spec), and one ``vega-runtime.html``: a
    ``<script>`` holding :func:`vl_convert.javascript_bundle`, which defines
    ``window.vegaEmbed``, ``window.vega`` and ``window.vegaLite``.  A page
    includes the runtime once, then any number of chart fragments; nothing is
    loaded from the network.  The same results give byte-identical files: the
    only varying bytes of vl-convert's PDF (the order of the page's font
    resource entries) are put in a fixed order by :func:`stable_pdf`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis import config, fonts
from analysis.charts_data import (  # noqa: F401  (the charts' data, under this module too)
    MARK_ONGOING,
    MARK_PSA50,
    MARK_PSA90,
    NO_PSA50,
    NON_RESPONDER,
    PSA50_ONLY,
    PSA90,
    PSA_COURSE_CAP,
    RESPONDER,
    RESPONSE_ORDER,
    STATUS_LABELS,
    STATUS_ORDER,
    WATERFALL_CAP,
    lab_data,
    milestone_data,
    milestone_text,
    psa_course_bands,
    psa_course_data,
    response_category,
    signed_pct,
    swimmer_data,
    swimmer_order,
    swimmer_sample,
    waterfall_data,
    waterfall_groups,
)
from analysis.charts_draw import (  # noqa: F401  (the drawing functions, under this module too)
    VL_VERSION,
    cache_dir,
    embed_spec,
    interactive_html,
    runtime_html,
    spec_json,
    stable_pdf,
    to_pdf,
    to_png,
    to_svg,
)

if TYPE_CHECKING:
    import altair as alt

    from analysis.results import StudyResults

CHART_NAMES: tuple[str, ...] = ("waterfall", "psa_course", "milestones", "swimmer", "labs")
RUNTIME_NAME = "vega-runtime"
RUNTIME_FILE = "vega-runtime.html"
DEFAULT_LAB_TESTS: tuple[str, ...] = ("hemoglobin", "platelets", "alkaline_phosphatase", "ldh")


# --- theme -------------------------------------------------------------------

#: Lato is bundled (analysis.fonts); the rest are for browsers without it.
FONT = f"{fonts.SANS}, Helvetica, Arial, sans-serif"
INK = "#222222"
MUTED = "#555555"

# Okabe–Ito colours, picked for distinct lightness (relative luminance in brackets).
BLUE = "#0072B2"  # dark (0.17)
ORANGE = "#E69F00"  # light (0.46)
SKY = "#56B4E9"  # light-mid (0.40)
GREEN = "#009E73"  # mid-dark (0.26)
GREY = "#DDDDDD"  # very light (0.72)
NONRESP_GREY = "#A6A6A6"

RESPONSE_COLOURS = (BLUE, ORANGE, GREY)  # in RESPONSE_ORDER
STATUS_COLOURS = (GREEN, SKY, GREY)  # in STATUS_ORDER

#: Above this many bars the waterfall drops its patient-number labels and fixes its width.
WATERFALL_LABELLED_MAX = 40
#: Plot width, px, of a waterfall with more bars than that: the chart then draws
#: about 670 px wide, so that the supplement's PDF, which sets it at the text
#: width, prints its smallest text at 7 pt (at 960 px it printed at 4.2 pt).
WATERFALL_WIDE = 520

THEME: dict[str, Any] = {
    "font": FONT,
    "background": "white",
    "padding": 10,
    "title": {
        "anchor": "start",
        "color": INK,
        "fontSize": 16,
        "fontWeight": "bold",
        "subtitleColor": "#444444",
        "subtitleFontSize": 12,
        "subtitlePadding": 4,
        "offset": 12,
    },
    "axis": {
        "domainColor": MUTED,
        "gridColor": "#E4E4E4",
        "labelColor": INK,
        "labelFontSize": 11,
        "tickColor": MUTED,
        "titleColor": INK,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "titlePadding": 8,
    },
    "legend": {
        "labelColor": INK,
        "labelFontSize": 11,
        "titleColor": INK,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "symbolSize": 120,
    },
    "header": {"labelFontSize": 12, "titleFontSize": 12},
    "text": {"color": INK, "fontSize": 11},
    "view": {"stroke": None},
    "concat": {"spacing": 28},
}

#: Axis labels with a sign: "+50", "0", "−50" (the format gives a true minus).
SIGNED_LABEL = "datum.value > 0 ? '+' + datum.label : datum.label"


def _finish(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Apply the theme to a top-level chart (the spec carries its own config)."""
    return chart.configure(**THEME)


def _title(text: str, *subtitle: str) -> alt.Title:
    import altair as alt

    return alt.Title(text, subtitle=list(subtitle)) if subtitle else alt.Title(text)


def _reference_lines(values: tuple[tuple[float, str], ...]):
    """Dashed horizontal lines with their labels just right of the plot (at x = "width")."""
    import altair as alt
    import pandas as pd

    refs = pd.DataFrame({"y": [v for v, _ in values], "label": [t for _, t in values]})
    base = alt.Chart(refs)
    rules = base.mark_rule(color=INK, strokeDash=[5, 3], strokeWidth=1.2).encode(y=alt.Y("y:Q"))
    labels = base.mark_text(align="left", baseline="middle", dx=10, fontSize=11, color=INK).encode(
        y=alt.Y("y:Q"), x=alt.XValue("width"), text=alt.Text("label:N")
    )
    return rules, labels


# --- charts ------------------------------------------------------------------


def waterfall(results: StudyResults) -> alt.LayerChart:
    """Best PSA change per PSA-evaluable patient (see module docstring)."""
    import altair as alt

    data = waterfall_data(results)
    if len(data) > config.WATERFALL_PATIENTS_MAX:
        return _waterfall_large(results, data)
    n_all = len(results.patients)
    n_shown = len(data)
    n_out = n_all - n_shown
    many = n_shown > WATERFALL_LABELLED_MAX
    width = WATERFALL_WIDE if many else max(260, 24 * n_shown)
    order = [int(v) for v in data["patient_no"]]

    sub = [
        f"{n_shown} of {n_all} patients, sorted from largest increase to largest decrease; "
        + (f"{n_out} not PSA-evaluable, not shown." if n_out else "all patients PSA-evaluable.")
    ]
    if bool(data["capped"].any()):
        sub.append(f"↑ Bar capped at {signed_pct(WATERFALL_CAP)}; the true value is printed.")

    x = alt.X(
        "patient_no:O",
        sort=order,
        title="Patient",
        axis=alt.Axis(labelAngle=0, labelFontSize=10, ticks=False, labels=not many),
    )
    y_scale = alt.Scale(domain=[-100, WATERFALL_CAP], nice=False)
    tooltip = [
        alt.Tooltip("patient_no:O", title="Patient"),
        alt.Tooltip("best_change:Q", title="Best PSA change (%)", format="+.1f"),
        alt.Tooltip("response:N", title="Response"),
        alt.Tooltip("psa50:N", title="PSA50"),
        alt.Tooltip("psa90:N", title="PSA90"),
    ]
    base = alt.Chart(data)
    bars = base.mark_bar(stroke=MUTED, strokeWidth=0 if many else 0.5).encode(
        x=x,
        y=alt.Y(
            "best_change_plot:Q",
            scale=y_scale,
            title="Best PSA change from baseline (%)",
            axis=alt.Axis(values=list(range(-100, 101, 25)), labelExpr=SIGNED_LABEL),
        ),
        color=alt.Color(
            "response:N",
            scale=alt.Scale(domain=list(RESPONSE_ORDER), range=list(RESPONSE_COLOURS)),
            legend=alt.Legend(title="Best response", orient="bottom", direction="horizontal"),
        ),
        tooltip=tooltip,
    )
    capped = base.transform_filter("datum.capped")
    cap_marks = capped.mark_text(text="↑", baseline="bottom", dy=-2, fontSize=12).encode(
        x=x, y=alt.Y("best_change_plot:Q"), tooltip=tooltip
    )
    cap_labels = capped.mark_text(
        angle=270, align="right", baseline="middle", dx=-6, fontSize=11, color=INK
    ).encode(x=x, y=alt.Y("best_change_plot:Q"), text=alt.Text("cap_label:N"), tooltip=tooltip)
    zero = alt.Chart().mark_rule(color=MUTED, strokeWidth=1).encode(y=alt.YDatum(0))
    rules, labels = _reference_lines(((-50, "−50% (PSA50)"), (-90, "−90% (PSA90)")))
    chart = alt.layer(bars, zero, rules, labels, cap_marks, cap_labels).properties(
        width=width,
        height=320,
        title=_title("Best PSA change from baseline", *sub),
    )
    return _finish(chart)


def _response_colour(alt):
    return alt.Color(
        "response:N",
        scale=alt.Scale(domain=list(RESPONSE_ORDER), range=list(RESPONSE_COLOURS)),
        legend=alt.Legend(title="Best response", orient="bottom", direction="horizontal"),
    )


def _waterfall_large(results: StudyResults, data) -> alt.LayerChart:
    """Every PSA-evaluable patient, ranked, one bar per group (:func:`waterfall_groups`)."""
    import altair as alt

    groups = waterfall_groups(results)
    n_all = len(results.patients)
    n_shown = len(data)
    n_out = n_all - n_shown
    largest = int(groups["n"].max())
    n_capped = int((data["best_change"] > WATERFALL_CAP).sum())
    sub = [
        f"All {n_shown:,} of {n_all:,} patients, ranked from largest increase to largest "
        + "decrease; "
        + (f"{n_out:,} not PSA-evaluable, not shown." if n_out else "all PSA-evaluable."),
        "Each bar: one patient."
        if largest == 1
        else f"Each bar: the median of up to {largest:,} consecutive patients of one response.",
    ]
    if n_capped:
        sub.append(
            f"{n_capped:,} patients above {signed_pct(WATERFALL_CAP)} are drawn at "
            f"{signed_pct(WATERFALL_CAP)}."
        )
    tooltip = [
        alt.Tooltip("rank_from:Q", title="From rank", format=","),
        alt.Tooltip("rank_to:Q", title="To rank", format=","),
        alt.Tooltip("n:Q", title="Patients (n)", format=","),
        alt.Tooltip("median:Q", title="Median best PSA change (%)", format="+.1f"),
        alt.Tooltip("min:Q", title="Lowest (%)", format="+.1f"),
        alt.Tooltip("max:Q", title="Highest (%)", format="+.1f"),
        alt.Tooltip("response:N", title="Response"),
    ]
    bars = (
        alt.Chart(groups)
        .mark_bar(strokeWidth=0)
        .encode(
            x=alt.X(
                "start_pct:Q",
                title="Patients, ranked by best PSA change (% of PSA-evaluable patients)",
                scale=alt.Scale(domain=[0, 100], nice=False),
                axis=alt.Axis(values=list(range(0, 101, 10)), grid=False),
            ),
            x2="end_pct:Q",
            y=alt.Y(
                "median_plot:Q",
                scale=alt.Scale(domain=[-100, WATERFALL_CAP], nice=False),
                title="Best PSA change from baseline (%)",
                axis=alt.Axis(values=list(range(-100, 101, 25)), labelExpr=SIGNED_LABEL),
            ),
            y2=alt.datum(0),
            color=_response_colour(alt),
            tooltip=tooltip,
        )
    )
    zero = alt.Chart().mark_rule(color=MUTED, strokeWidth=1).encode(y=alt.YDatum(0))
    rules, labels = _reference_lines(((-50, "−50% (PSA50)"), (-90, "−90% (PSA90)")))
    chart = alt.layer(bars, zero, rules, labels).properties(
        width=WATERFALL_WIDE, height=320, title=_title("Best PSA change from baseline", *sub)
    )
    return _finish(chart)


def psa_course_lines(results: StudyResults) -> bool:
    """Whether :func:`psa_course` draws one line per patient (else, above
    ``config.PSA_COURSE_LINES_MAX`` patients, each group's median and interquartile
    range by dose)."""
    return _one_line_each(int(psa_course_data(results)["patient_no"].nunique()))


def _one_line_each(n_lines: int) -> bool:
    return n_lines <= config.PSA_COURSE_LINES_MAX


def psa_course_caption(results: StudyResults) -> str:
    """The caption of :func:`psa_course`'s figure: what its lines are."""
    if psa_course_lines(results):
        return "PSA change from baseline after each dose, one line per patient."
    return (
        "Median PSA change from baseline after each dose, with interquartile range, "
        "in responders and non-responders."
    )


def psa_course(results: StudyResults) -> alt.LayerChart:
    """PSA change by dose interval, one line per patient (see module docstring)."""
    import altair as alt

    data = psa_course_data(results)
    max_dose = max(
        [results.cohort.max_dose_number, *[int(v) for v in data["after_dose"]]], default=1
    )
    width = max(320, 80 * max_dose)
    n_lines = int(data["patient_no"].nunique())
    n_resp = int(data.loc[data["group"] == RESPONDER, "patient_no"].nunique())
    if not _one_line_each(n_lines):
        return _psa_course_bands_chart(results, max_dose, width, n_lines, n_resp)

    x, y = _psa_course_axes(alt, max_dose, "pct_change_plot:Q")
    colour = _group_colour(alt)
    tooltip = [
        alt.Tooltip("patient_no:O", title="Patient"),
        alt.Tooltip("after_dose:Q", title="After dose", format="d"),
        alt.Tooltip("pct_change:Q", title="PSA change (%)", format="+.1f"),
        alt.Tooltip("group:N", title="Group"),
    ]
    base = alt.Chart(data)
    layers = []
    # Non-responders first so that responders' lines are drawn on top.
    for group, width_px in ((NON_RESPONDER, 1.5), (RESPONDER, 2.2)):
        sel = base.transform_filter(alt.datum.group == group)
        layers.append(
            sel.mark_line(strokeWidth=width_px).encode(
                x=x, y=y, color=colour, detail=alt.Detail("patient_no:O"), tooltip=tooltip
            )
        )
        layers.append(
            sel.transform_filter("!datum.capped && !datum.baseline")
            .mark_point(filled=True, size=36, opacity=1)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
        )
        layers.append(
            sel.transform_filter("datum.capped")
            .mark_point(shape="triangle-up", filled=True, size=90, opacity=1)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
        )
    return _psa_course_layout(
        alt,
        layers,
        width,
        f"Lowest PSA in each dose interval vs baseline; {n_lines} patients, {n_resp} responders.",
        f"Values above {signed_pct(PSA_COURSE_CAP)} are drawn at {signed_pct(PSA_COURSE_CAP)} (↑).",
    )


def _group_colour(alt):
    """Responders blue, non-responders grey, legend below (both PSA-course forms)."""
    return alt.Color(
        "group:N",
        scale=alt.Scale(domain=[RESPONDER, NON_RESPONDER], range=[BLUE, NONRESP_GREY]),
        legend=alt.Legend(title=None, orient="bottom", direction="horizontal"),
    )


def _psa_course_axes(alt, max_dose: int, field: str):
    x = alt.X(
        "after_dose:Q",
        title="After dose",
        scale=alt.Scale(domain=[0, max_dose], nice=False),
        axis=alt.Axis(
            values=list(range(0, max_dose + 1)),
            labelExpr="datum.value == 0 ? 'Baseline' : datum.value",
            grid=False,
        ),
    )
    y = alt.Y(
        field,
        title="PSA change from baseline (%)",
        scale=alt.Scale(domain=[-100, PSA_COURSE_CAP], nice=False),
        axis=alt.Axis(
            values=list(range(-100, int(PSA_COURSE_CAP) + 1, 50)), labelExpr=SIGNED_LABEL
        ),
    )
    return x, y


def _psa_course_bands_chart(results, max_dose, width, n_lines, n_resp) -> alt.LayerChart:
    """Median and IQR per dose and group (:func:`psa_course_bands`)."""
    import altair as alt

    bands = psa_course_bands(results)
    x, y = _psa_course_axes(alt, max_dose, "median_plot:Q")
    colour = _group_colour(alt)
    tooltip = [
        alt.Tooltip("group:N", title="Group"),
        alt.Tooltip("after_dose:Q", title="After dose", format="d"),
        alt.Tooltip("n:Q", title="Patients (n)", format=","),
        alt.Tooltip("median:Q", title="Median PSA change (%)", format="+.1f"),
        alt.Tooltip("q1:Q", title="Q1 (%)", format="+.1f"),
        alt.Tooltip("q3:Q", title="Q3 (%)", format="+.1f"),
    ]
    layers = []
    for group in (NON_RESPONDER, RESPONDER):
        sel = alt.Chart(bands).transform_filter(alt.datum.group == group)
        layers.append(
            sel.mark_area(opacity=0.3).encode(
                x=x, y=alt.Y("q1_plot:Q"), y2="q3_plot:Q", color=colour, tooltip=tooltip
            )
        )
        layers.append(sel.mark_line(strokeWidth=2.4).encode(x=x, y=y, color=colour))
        layers.append(
            sel.mark_point(filled=True, size=40, opacity=1).encode(
                x=x, y=y, color=colour, tooltip=tooltip
            )
        )
    return _psa_course_layout(
        alt,
        layers,
        width,
        f"Lowest PSA in each dose interval vs baseline; {n_lines:,} patients, "
        f"{n_resp:,} responders.",
        "Median (line) and interquartile range (band) of the patients with a value "
        "after each dose.",
        f"Values above {signed_pct(PSA_COURSE_CAP)} are drawn at {signed_pct(PSA_COURSE_CAP)}.",
    )


def _psa_course_layout(alt, layers: list, width: int, *subtitle: str):
    """Both PSA-course forms: zero line, PSA50/PSA90 reference lines, the layers, the title."""
    zero = alt.Chart().mark_rule(color=MUTED, strokeWidth=1).encode(y=alt.YDatum(0))
    rules, labels = _reference_lines(((-50, "−50% (PSA50)"), (-90, "−90% (PSA90)")))
    chart = alt.layer(zero, rules, labels, *layers).properties(
        width=width, height=340, title=_title("PSA change by dose", *subtitle)
    )
    return _finish(chart)


def milestones(results: StudyResults) -> alt.LayerChart:
    """Cumulative PSA50 / PSA90 by dose, % of all patients with counts."""
    import altair as alt

    data = milestone_data(results)
    n_all = results.psa_response.psa50.denominator
    n_resp = results.psa_response.psa50.n
    n_doses = max(len(results.psa_response.milestones), 1)
    width = max(300, 70 * n_doses)

    sub = [f"Patients who had reached each milestone by the dose, as % of all {n_all} patients."]
    by_all = [m.after_dose for m in results.psa_response.milestones if m.psa50_n == n_resp]
    if n_resp and by_all:
        first = by_all[0]
        earlier = [m for m in results.psa_response.milestones if m.after_dose == first - 1]
        if earlier and earlier[0].psa50_n:
            sub.append(
                f"{earlier[0].psa50_n} of {n_resp} responders reached PSA50 by dose "
                f"{first - 1}, all {n_resp} by dose {first}."
            )
        else:
            sub.append(f"All {n_resp} responders reached PSA50 by dose {first}.")

    top = max([0.0, *[float(v) for v in data["pct"].dropna()]])
    y_max = min(100.0, max(10.0, (int(top * 1.2) // 10 + 1) * 10))
    x = alt.X("after_dose:O", title="By dose", axis=alt.Axis(labelAngle=0))
    x_off = alt.XOffset("measure:N", sort=["PSA50", "PSA90"])
    colour = alt.Color(
        "measure:N",
        scale=alt.Scale(domain=["PSA50", "PSA90"], range=[ORANGE, BLUE]),
        legend=alt.Legend(title="Milestone", orient="bottom", direction="horizontal"),
    )
    tooltip = [
        alt.Tooltip("after_dose:O", title="By dose"),
        alt.Tooltip("measure:N", title="Milestone"),
        alt.Tooltip("n:Q", title="Patients (n)"),
        alt.Tooltip("pct:Q", title="% of all patients", format=".1f"),
        alt.Tooltip("pct_of_responders:Q", title="% of responders", format=".1f"),
    ]
    base = alt.Chart(data)
    y = alt.Y(
        "pct:Q",
        title=f"Patients (% of all {n_all})",
        scale=alt.Scale(domain=[0, y_max], nice=False),
    )
    bars = base.mark_bar(stroke=MUTED, strokeWidth=0.5).encode(
        x=x, xOffset=x_off, y=y, color=colour, tooltip=tooltip
    )
    counts = base.mark_text(baseline="bottom", dy=-3, fontSize=11).encode(
        x=x, xOffset=x_off, y=y, text=alt.Text("n:Q"), tooltip=tooltip
    )
    layers = [bars, counts]
    if n_resp and results.psa_response.psa50.pct is not None:
        resp_line = alt.Chart().mark_rule(color=INK, strokeDash=[5, 3], strokeWidth=1.2)
        layers.append(resp_line.encode(y=alt.YDatum(results.psa_response.psa50.pct)))
        layers.append(
            alt.Chart()
            .mark_text(align="left", baseline="middle", dx=4, fontSize=11)
            .encode(
                y=alt.YDatum(results.psa_response.psa50.pct),
                x=alt.XValue("width"),
                text=alt.TextValue(f"All {n_resp} responders"),
            )
        )
    chart = alt.layer(*layers).properties(
        width=width,
        height=280,
        title=_title("PSA50 and PSA90 by dose (cumulative)", *sub),
    )
    return _finish(chart)


def swimmer(results: StudyResults, most: int | None = None) -> alt.LayerChart:
    """Doses received per patient with status and response milestones (above ``most``
    patients, default ``config.SWIMMER_PATIENTS_MAX``, a sample of ``most`` or
    ``config.SWIMMER_SAMPLE``, whichever is smaller)."""
    import altair as alt

    shown = (
        swimmer_sample(results)
        if most is None
        else swimmer_sample(results, most, min(most, config.SWIMMER_SAMPLE))
    )
    seg, mark = swimmer_data(results, shown)
    order = swimmer_order(results, shown)
    max_dose = max(
        [results.cohort.max_dose_number, *[p.doses_received for p in results.patients]], default=1
    )
    width = max(320, 70 * max_dose)
    y = alt.Y("patient_no:O", sort=order, title="Patient", axis=alt.Axis(ticks=False, domain=False))
    x_axis = alt.Axis(
        values=[k - 0.5 for k in range(1, max_dose + 1)],
        labelExpr="datum.value + 0.5",
        grid=False,
        ticks=False,
    )
    x_scale = alt.Scale(domain=[0, max_dose + 0.4], nice=False)
    tooltip = [
        alt.Tooltip("patient_no:O", title="Patient"),
        alt.Tooltip("doses_received:Q", title="Doses received"),
        alt.Tooltip("status:N", title="Treatment status"),
        alt.Tooltip("psa50:N", title="PSA50"),
        alt.Tooltip("psa90:N", title="PSA90"),
    ]
    bars = (
        alt.Chart(seg)
        .mark_bar(stroke="white", strokeWidth=1.5, height={"band": 0.72})
        .encode(
            x=alt.X("start:Q", title="Dose", scale=x_scale, axis=x_axis),
            x2=alt.X2("end:Q"),
            y=y,
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=[STATUS_LABELS[s] for s in STATUS_ORDER], range=list(STATUS_COLOURS)
                ),
                legend=alt.Legend(title="Treatment status", orient="right"),
            ),
            tooltip=tooltip,
        )
    )
    marker_domain = [MARK_PSA50, MARK_PSA90, MARK_ONGOING]
    markers = (
        alt.Chart(mark)
        .mark_point(filled=True, size=70, stroke=INK, strokeWidth=1.2, opacity=1)
        .encode(
            x=alt.X("x:Q", scale=x_scale),
            y=y,
            shape=alt.Shape(
                "marker:N",
                scale=alt.Scale(
                    domain=marker_domain, range=["circle", "diamond", "triangle-right"]
                ),
                legend=alt.Legend(title="Markers", orient="right"),
            ),
            fill=alt.Fill(
                "marker:N",
                scale=alt.Scale(domain=marker_domain, range=["white", INK, INK]),
                legend=alt.Legend(title="Markers", orient="right"),
            ),
            tooltip=[alt.Tooltip("marker:N", title="Marker"), *tooltip],
        )
    )
    n = len(results.patients)
    if len(shown) < n:
        who = (
            f"{len(shown):,} of {n:,} patients, random sample (seed "
            f"{config.SWIMMER_SAMPLE_SEED}); one segment per dose received, sorted by doses "
            "received."
        )
    else:
        who = f"{n} patients, one segment per dose received, sorted by doses received."
    chart = (
        alt.layer(bars, markers)
        .resolve_scale(color="independent")
        .properties(
            width=width,
            height=alt.Step(18),
            title=_title(
                "Treatment course per patient",
                who,
                "PSA50/PSA90 markers sit in the dose after which the milestone was first reached.",
            ),
        )
    )
    return _finish(chart)


def lab_trajectories(
    results: StudyResults, tests: tuple[str, ...] = DEFAULT_LAB_TESTS
) -> alt.ConcatChart | alt.LayerChart:
    """Median (line) and IQR (band) of pre-dose values by dose, one panel per test."""
    import altair as alt

    thresholds = {
        "hemoglobin": results.definitions.get("hb_grade2_g_dl"),
        "platelets": results.definitions.get("plt_grade2_10e9_l"),
    }
    max_dose = max([results.cohort.max_dose_number, *[p.dose_number for p in results.labs]])
    panels = []
    for test in tests:
        data, pts = lab_data(results, test)
        if not pts:
            continue
        label, unit = pts[0].label, pts[0].unit  # ×10⁹/L as in the tables (Lato has ⁹)
        x = alt.X(
            "dose_number:Q",
            title="Before dose",
            scale=alt.Scale(domain=[1, max_dose], nice=False),
            axis=alt.Axis(values=list(range(1, max_dose + 1)), format="d", grid=False),
        )
        y_title = f"{label} ({unit})"
        tooltip = [
            alt.Tooltip("dose_number:Q", title="Dose", format="d"),
            alt.Tooltip("median:Q", title=f"Median ({unit})", format=".4~g"),
            alt.Tooltip("q1:Q", title="Q1", format=".4~g"),
            alt.Tooltip("q3:Q", title="Q3", format=".4~g"),
            alt.Tooltip("n:Q", title="Patients (n)"),
        ]
        base = alt.Chart(data)
        band = base.mark_area(color=SKY, opacity=0.35).encode(
            x=x,
            y=alt.Y("q1:Q", title=y_title, scale=alt.Scale(zero=False)),
            y2=alt.Y2("q3:Q"),
            tooltip=tooltip,
        )
        line = base.mark_line(color=BLUE, strokeWidth=2.2).encode(x=x, y=alt.Y("median:Q"))
        points = base.mark_point(color=BLUE, filled=True, size=40, opacity=1).encode(
            x=x, y=alt.Y("median:Q"), tooltip=tooltip
        )
        n_text = base.mark_text(baseline="bottom", fontSize=10, color=MUTED).encode(
            x=x, y=alt.YValue(-4), text=alt.Text("n_label:N")
        )
        layers = [band, line, points, n_text]
        limit = thresholds.get(test)
        if limit is not None:
            layers.append(
                alt.Chart()
                .mark_rule(color=INK, strokeDash=[5, 3], strokeWidth=1)
                .encode(y=alt.YDatum(float(limit)))
            )
            layers.append(
                alt.Chart()
                .mark_text(align="right", baseline="bottom", dy=-2, fontSize=10, color=INK)
                .encode(
                    y=alt.YDatum(float(limit)),
                    x=alt.XValue(220),
                    text=alt.TextValue(f"CTCAE grade 2 (< {limit:g})"),
                )
            )
        panels.append(
            alt.layer(*layers).properties(
                width=220,
                height=160,
                title=alt.Title(label, fontSize=13, offset=18, anchor="start"),
            )
        )
    title = _title(
        "Laboratory values before each dose",
        "Median (line) and interquartile range (band) of the value nearest before each dose;",
        "numbers above each panel: patients with a value.",
    )
    if not panels:
        empty = (
            alt.Chart()
            .mark_text(fontSize=12, color=MUTED)
            .encode(text=alt.value("No laboratory values for the selected tests."))
            .properties(width=300, height=60, title=title)
        )
        return _finish(empty)
    return _finish(alt.concat(*panels, columns=2, title=title))


BUILDERS = {
    "waterfall": waterfall,
    "psa_course": psa_course,
    "milestones": milestones,
    "swimmer": swimmer,
    "labs": lab_trajectories,
}


def chart_specs(results: StudyResults) -> dict[str, alt.TopLevelMixin]:
    """Every chart, themed, keyed by name in :data:`CHART_NAMES` order."""
    return {name: BUILDERS[name](results) for name in CHART_NAMES}


#: Charts the poster shows, in their poster versions (:mod:`analysis.charts_poster`).
POSTER_CHARTS = ("waterfall", "psa_course", "milestones", "swimmer", "km", "forest")


def write_figures(results: StudyResults, out_dir: Path) -> dict[str, dict[str, Path]]:
    """Write every chart as SVG, PDF, Vega-Lite JSON and an HTML fragment, plus the runtime.

    Returns ``{name: {"svg", "pdf", "json", "html": path}}`` for each name in
    :data:`CHART_NAMES` and each survival figure the results have data for
    (:func:`analysis.charts_survival.available_survival_figures`), with
    the forest plot when there are regression rows
    (:mod:`analysis.charts_forest`), ``"poster_svg"``/``"poster_pdf"`` for the
    :data:`POSTER_CHARTS` (:func:`analysis.charts_poster.poster_variant`), and
    ``{"vega-runtime": {"html": path}}``.
    """
    from analysis.charts_write import write_figures as write

    return write(results, out_dir)
