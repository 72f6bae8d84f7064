"""The poster's versions of the charts: text that prints large, charts that span a column.

A poster figure is placed at the width of its column (``typst/typst-template.typ``
stretches every poster image to the column, up to a height cap), so the size
its text prints at is the font size in the Vega-Lite spec times the placed
width over the chart's rendered width.  :func:`poster_spec` turns a chart's
spec into its poster version:

* the title and subtitle go (the poster captions each figure);
* every text size, text offset and label limit is multiplied by one factor so
  that the smallest font is :data:`POSTER_FONT_MIN` px (strokes and symbols
  grow with it);
* the plot area is resized so that the whole chart renders
  :data:`POSTER_CHART_WIDTH` px wide, and no taller than
  :data:`POSTER_ASPECT_MAX` times that.

:func:`print_sizes` gives the printed size of every font in a spec for a
placed width; :func:`placed_width` the width the poster gives a figure
(:func:`analysis.render.layout.poster_geometry`).  With the narrowest column
of the 48 x 36 in, 36 x 48 in and A0 posters (A0, 706 pt) a 14 px font in a
400 px chart prints at 24.7 pt: the rule "chart text at least
:data:`POSTER_MIN_PT` pt" holds there.  A smaller poster (A1) sets all its
type smaller, in proportion to its short side (body text 19.5 pt on A1 against
30 pt on 48 x 36 in); its charts, drawn once for every poster size, print
their text smaller in the same proportion.  24 pt chart text there would be
larger than the body text, so the rule for it is :func:`min_text_pt`: chart
text as large relative to the body text as on the 48 x 36 in design (36 x 48
in for a portrait poster, whose three columns are relatively narrower)
(tests/test_charts_poster.py).
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Smallest printed chart text on the poster, in points.
POSTER_MIN_PT = 24.0
#: Body text of a poster with a 36 in short side, pt (typst/psma.typ, ``poster``:
#: every type size scales with the short side).
POSTER_BODY_PT = 30.0
#: Smallest font in a poster spec, px.
POSTER_FONT_MIN = 14.0
#: Rendered width of every poster chart, px.
POSTER_CHART_WIDTH = 400
#: Rendered height at most this times the width (by chart; others POSTER_ASPECT_MAX):
#: the poster's columns hold little more than its text, tables and figures.
POSTER_ASPECT_MAX = 0.7
POSTER_ASPECTS = {"waterfall": 0.66, "milestones": 0.62, "km": 0.75, "swimmer": 1.0}
#: The poster's swimmer plot draws at most this many patients (a random sample above),
#: at most this tall (a row per patient must hold its label's text).
POSTER_SWIMMER_MAX = 14

_FONT_KEY = re.compile(r"(^|[a-z])[fF]ontSize$")
#: Lengths that grow with the text (offsets, paddings, label limits, stroke widths).
_LINEAR_KEYS = {
    "dx",
    "dy",
    "offset",
    "labelPadding",
    "titlePadding",
    "subtitlePadding",
    "labelLimit",
    "titleLimit",
    "strokeWidth",
    "symbolStrokeWidth",
    "thickness",
    "padding",
}
#: Areas (point and legend symbol sizes).
_AREA_KEYS = {"size", "symbolSize"}


def font_sizes(spec: Any) -> list[float]:
    """Every font size set in a Vega-Lite spec (marks, axes, legends, titles, config)."""
    out: list[float] = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if _FONT_KEY.search(key) and isinstance(value, (int, float)):
                out.append(float(value))
            else:
                out += font_sizes(value)
    elif isinstance(spec, list):
        for value in spec:
            out += font_sizes(value)
    return out


def _grow(node: Any, factor: float, parent_mark: str | None = None) -> Any:
    """``node`` with every text size and text-bound length multiplied by ``factor``."""
    if isinstance(node, list):
        return [_grow(v, factor, parent_mark) for v in node]
    if not isinstance(node, dict):
        return node
    mark = parent_mark
    if isinstance(node.get("type"), str) and "mark" not in node:
        mark = node["type"]
    out = {}
    for key, value in node.items():
        if key in ("datasets", "data"):
            out[key] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            out[key] = _grow(value, factor, mark)
        elif _FONT_KEY.search(key) or key in _LINEAR_KEYS:
            out[key] = round(value * factor, 2)
        elif key in _AREA_KEYS:
            # a tick's size is a length, a point's an area
            out[key] = round(value * (factor if mark == "tick" else factor * factor), 2)
        else:
            out[key] = value
    return out


def _parts(spec: dict) -> list[dict]:
    """The plot areas of a spec: itself, or the parts of a concatenation."""
    for key in ("vconcat", "hconcat", "concat"):
        if key in spec:
            return spec[key]
    return [spec]


def _only_text(part: dict) -> bool:
    mark = part.get("mark")
    return (mark.get("type") if isinstance(mark, dict) else mark) == "text"


def _rendered_size(spec: dict) -> tuple[float, float]:
    from analysis.charts import to_svg

    head = to_svg(spec)[:400]
    w = re.search(r'width="([\d.]+)"', head)
    h = re.search(r'height="([\d.]+)"', head)
    if not (w and h):
        raise ValueError("vl-convert gave an SVG without a width and height")
    return float(w.group(1)), float(h.group(1))


def _set_widths(spec: dict, width: float) -> None:
    for part in _parts(spec):
        if isinstance(part.get("width"), (int, float)):
            part["width"] = max(40, round(width))


def _plot_width(spec: dict) -> float:
    widths = [p["width"] for p in _parts(spec) if isinstance(p.get("width"), (int, float))]
    if not widths:
        raise ValueError("a poster chart needs a numeric plot width")
    return float(max(widths))


def _scale_heights(spec: dict, factor: float, step_min: float) -> None:
    for part in _parts(spec):
        value = part.get("height")
        if isinstance(value, dict) and "step" in value:
            part["height"] = {**value, "step": max(step_min, round(value["step"] * factor))}
        elif isinstance(value, (int, float)) and not _only_text(part):
            part["height"] = max(60, round(value * factor))


def _plot_height(spec: dict) -> float:
    """The numeric heights of the plot areas, summed (text-only parts left out)."""
    return sum(
        p["height"]
        for p in _parts(spec)
        if isinstance(p.get("height"), (int, float)) and not _only_text(p)
    )


def _cut_heights(spec: dict, rendered_h: float, limit: float, step_min: float) -> None:
    """Scale the plot heights down so that a chart ``rendered_h`` tall would be ``limit``."""
    plot_h = _plot_height(spec)
    if plot_h and rendered_h > limit:
        _scale_heights(spec, max(0.3, (plot_h - (rendered_h - limit)) / plot_h), step_min)


def _fit(spec: dict, width: float, aspect_max: float, step_min: float) -> None:
    """Resize the plot areas so that the chart renders ``width`` px wide and at most
    ``aspect_max`` times as tall (what is not plot, axes, legends, labels, keeps its size).

    Each step draws the chart once: the new height is foreseen from the last
    drawing (what is not plot keeps its height), so that a drawing made only to
    see the height is needed only where the foresight was short (a banded axis
    whose rows are steps, say).
    """
    limit = aspect_max * width
    for _ in range(3):
        rendered_w, rendered_h = _rendered_size(spec)
        plot_w = _plot_width(spec)
        if abs(rendered_w - width) <= 2 and rendered_h <= limit + 2:
            return
        new_w = max(40.0, plot_w - (rendered_w - width))
        before = _plot_height(spec)
        _set_widths(spec, new_w)
        _scale_heights(spec, new_w / plot_w, step_min)
        _cut_heights(spec, rendered_h + _plot_height(spec) - before, limit, step_min)
        rendered_w, rendered_h = _rendered_size(spec)
        _cut_heights(spec, rendered_h, limit, step_min)


def _stack_legends(node: Any) -> None:
    """Lay every horizontal legend out as one entry per line."""
    if isinstance(node, list):
        for v in node:
            _stack_legends(v)
    elif isinstance(node, dict):
        legend = node.get("legend")
        if isinstance(legend, dict) and legend.get("direction") == "horizontal":
            legend["direction"] = "vertical"
        for key, value in node.items():
            if key not in ("datasets", "data"):
                _stack_legends(value)


def poster_spec(
    spec: dict[str, Any],
    width: float = POSTER_CHART_WIDTH,
    font_min: float = POSTER_FONT_MIN,
    aspect_max: float = POSTER_ASPECT_MAX,
) -> dict[str, Any]:
    """The poster version of a chart's spec (see the module docstring).

    Parameters
    ----------
    spec : dict
        A top-level Vega-Lite spec (``chart.to_dict()``) with numeric plot widths.
    width : float
        Rendered width of the result, px.
    font_min : float
        Smallest font size of the result, px.
    aspect_max : float
        Largest rendered height over width.

    Returns
    -------
    dict
        A new spec; ``spec`` is not changed.
    """
    sizes = font_sizes(spec)
    factor = font_min / min(sizes) if sizes else 1.0
    out = _grow({k: v for k, v in spec.items() if k != "title"}, max(1.0, factor))
    axis = out.get("config", {}).get("axis", {})
    step_min = math.ceil(1.15 * max(font_min, axis.get("labelFontSize", 0)))
    for part in _parts(out):  # the risk table's rows grow with their text
        if _only_text(part) and isinstance(part.get("height"), (int, float)):
            part["height"] = round(part["height"] * max(1.0, factor))
    _fit(out, width, aspect_max, step_min)
    if _rendered_size(out)[0] > width + 2:  # a legend set the width: stack its entries
        _stack_legends(out)
        _fit(out, width, aspect_max, step_min)
    return out


def print_sizes(spec: dict[str, Any], rendered_width: float, placed_width_pt: float) -> list[float]:
    """Printed size, pt, of every font in ``spec`` when a chart rendered
    ``rendered_width`` px wide is placed ``placed_width_pt`` wide."""
    return [size * placed_width_pt / rendered_width for size in font_sizes(spec)]


def rendered_size(spec: dict[str, Any]) -> tuple[float, float]:
    """``(width, height)`` px of the chart as vl-convert draws it."""
    return _rendered_size(spec)


def placed_width(rendered: tuple[float, float], geometry: dict[str, float]) -> float:
    """Width, pt, the poster gives a figure drawn ``rendered`` = (width, height) px:
    its column's width, less when that would make it taller than the height cap."""
    w, h = rendered
    return min(geometry["column_width"], geometry["figure_max_height"] * w / h)


def body_pt(geometry: dict[str, float]) -> float:
    """Body text size, pt, of a poster of ``geometry`` (its short side over 36 in)."""
    return POSTER_BODY_PT * min(geometry["width"], geometry["height"]) / (36 * 72)


def min_text_pt(geometry: dict[str, float]) -> float:
    """Smallest size, pt, the chart text of a poster of ``geometry`` must print at.

    :data:`POSTER_MIN_PT`, or, on a poster too small for that at its type
    scale, the smallest chart text of the 48 x 36 in design (36 x 48 in when
    the poster is portrait) relative to its body text, times this poster's
    body text: a 14 px font in a 400 px chart placed at the reference poster's
    column width.
    """
    from analysis.render.layout import poster_geometry

    portrait = geometry["height"] > geometry["width"]
    ref = poster_geometry({"poster-size": "36x48in" if portrait else "48x36in"})
    ratio = POSTER_FONT_MIN * ref["column_width"] / POSTER_CHART_WIDTH / body_pt(ref)
    return min(POSTER_MIN_PT, ratio * body_pt(geometry))


def _waterfall_poster(spec: dict[str, Any]) -> dict[str, Any]:
    """The waterfall without patient numbers under the bars (they do not fit at
    poster type) and with a y title short enough for a short plot."""
    out = dict(spec)
    layers = []
    for layer in spec.get("layer", []):
        enc = dict(layer.get("encoding", {}))
        x, y = enc.get("x"), enc.get("y")
        if isinstance(x, dict) and isinstance(x.get("axis"), dict):
            enc["x"] = {**x, "axis": {**x["axis"], "labels": False}}
        if isinstance(x, dict) and x.get("field") == "start_pct":  # the large-cohort form
            enc["x"] = {**enc.get("x", x), "title": "Patients, ranked (% of PSA-evaluable)"}
        if isinstance(y, dict) and y.get("title"):
            enc["y"] = {**y, "title": "Best PSA change (%)"}
        if enc:
            layer = {**layer, "encoding": enc}
        layers.append(layer)
    if layers:
        out["layer"] = layers
    return out


#: The milestone chart's bar bands on the poster: padding between the doses and
#: at the ends, as shares of a dose's step (its two bars share the rest).
MILESTONE_PADDING = (0.2, 0.1)
#: Space kept between a bar's count and any other count, bar or the responders'
#: line, in em of the counts' font.
COUNT_GAP_EM = 0.3
#: A count's box in Lato, em: a digit's advance, its height (the cap height)
#: and how far under the alphabetic baseline Vega's ``baseline: bottom`` sits.
_DIGIT_EM, _DIGIT_HEIGHT_EM, _BOTTOM_EM = 0.58, 0.72, 0.214


def _mark_type(layer: dict) -> str | None:
    mark = layer.get("mark")
    return mark.get("type") if isinstance(mark, dict) else mark


def _milestones_poster(spec: dict[str, Any]) -> dict[str, Any]:
    """The milestone chart before poster fitting: the responders' line named in
    the legend (a dashed line symbol) instead of by a text right of the plot,
    which took a quarter of the chart's width and left two 14 px bars a dose;
    the bands' paddings set (:data:`MILESTONE_PADDING`), so that
    :func:`_place_counts` knows where each bar is."""
    layers, label = [], None
    for layer in spec.get("layer", []):
        text = layer.get("encoding", {}).get("text")
        if _mark_type(layer) == "text" and isinstance(text, dict) and "value" in text:
            label = text["value"]
            continue
        layers.append(layer)
    inner, outer = MILESTONE_PADDING
    out_layers = []
    for layer in layers:
        enc = dict(layer.get("encoding", {}))
        if isinstance(enc.get("x"), dict):
            enc["x"] = {**enc["x"], "scale": {"paddingInner": inner, "paddingOuter": outer}}
        colour = enc.get("color")
        if isinstance(colour, dict) and isinstance(colour.get("legend"), dict):
            # one legend row (PSA50, PSA90, the line): the plot keeps the height
            enc["color"] = {**colour, "legend": {**colour["legend"], "title": None}}
        mark = layer.get("mark")
        if _mark_type(layer) == "rule" and label is not None and isinstance(mark, dict):
            dash = mark.get("strokeDash", [5, 3])
            enc["strokeDash"] = {
                "datum": label,
                "type": "nominal",
                "scale": {"range": [dash]},
                "legend": {"title": None, "orient": "bottom", "symbolType": "stroke"},
            }
        out_layers.append({**layer, "encoding": enc})
    return {**spec, "layer": out_layers}


def _place_counts(spec: dict[str, Any]) -> dict[str, Any]:
    """The poster milestone chart with each bar's count clear of the others.

    A count stands on its bar; at poster type it is as wide as the bar or
    wider, so the PSA90 count beside a PSA50 one of about the same height, a
    count wider than its bar beside a taller bar, or one crossing the
    responders' line touched or overlapped (the 200-patient poster).  Here,
    from the fitted plot's size, each count is raised (never lowered) until
    it is :data:`COUNT_GAP_EM` clear of every other count, every other bar and
    the line; the y scale grows when the highest no longer fits.  The counts
    get a field ``label_pct`` (the y of their box's foot), no ``dy`` and no
    ARIA label.
    """
    layers = spec.get("layer", [])
    counts = next(
        (
            ly
            for ly in layers
            if _mark_type(ly) == "text"
            and ly.get("encoding", {}).get("text", {}).get("field") == "n"
        ),
        None,
    )
    width, height = spec.get("width"), spec.get("height")
    if (
        counts is None
        or not isinstance(width, (int, float))
        or not isinstance(height, (int, float))
    ):
        return spec
    # the counts' rows: their layer's dataset, or the chart's (a cohort without
    # responders draws every layer from the chart's one dataset)
    source = (counts.get("data") or spec.get("data") or {}).get("name")
    if source not in spec.get("datasets", {}):
        return spec
    rows = [dict(r) for r in spec["datasets"][source]]
    y_enc = counts["encoding"]["y"]
    y_max = float(y_enc["scale"]["domain"][1])
    size = float(counts["mark"].get("fontSize", 11))
    lift = -float(counts["mark"].get("dy", 0)) + _BOTTOM_EM * size
    rule = next((ly for ly in layers if _mark_type(ly) == "rule"), None)
    line = rule["encoding"]["y"].get("datum") if rule else None
    gap, tall = COUNT_GAP_EM * size, _DIGIT_HEIGHT_EM * size

    doses = sorted({r["after_dose"] for r in rows})
    inner, outer = MILESTONE_PADDING
    step = width / (len(doses) - inner + 2 * outer)
    band = step * (1 - inner)
    shown = [r for r in rows if r.get("pct") is not None]
    for r in shown:
        x0 = step * (outer + doses.index(r["after_dose"])) + (r["measure"] != "PSA50") * band / 2
        r["_x"] = (x0, x0 + band / 2)
        half = len(f"{r['n']}") * _DIGIT_EM * size / 2
        r["_lx"] = (x0 + band / 4 - half, x0 + band / 4 + half)

    def apart(a: tuple[float, float], b: tuple[float, float], by: float = 0.0) -> bool:
        return a[1] + by <= b[0] or b[1] + by <= a[0]

    for _ in range(4):  # the scale grows at most a few times
        px = height / y_max
        for r in shown:
            r["_b"] = r["pct"] * px + lift
        for _ in range(2 * len(shown) + 1):  # raises only, so this settles
            moved = False
            for r in sorted(shown, key=lambda r: r["_b"]):
                foot = r["_b"]
                for o in shown:
                    if o is r:
                        continue
                    if not apart(r["_lx"], o["_x"]):  # over another bar: above it
                        foot = max(foot, o["pct"] * px + gap)
                    # beside a count at or below it: above that count
                    if (
                        not apart(r["_lx"], o["_lx"], gap)
                        and o["_b"] <= foot < o["_b"] + tall + gap
                    ):
                        foot = o["_b"] + tall + gap
                if line is not None and foot - gap < line * px < foot + tall + gap:
                    foot = line * px + gap
                if foot > r["_b"] + 1e-9:
                    r["_b"], moved = foot, True
            if not moved:
                break
        top = max((r["_b"] + tall for r in shown), default=0.0)
        if top + gap <= height:
            break
        y_max = math.ceil(y_max * (top + gap) / height / 10) * 10
    px = height / y_max
    for r in rows:
        if r.get("pct") is not None:
            r["label_pct"] = round((r["_b"] - _BOTTOM_EM * size) / px, 3)
        for key in ("_x", "_lx", "_b"):
            r.pop(key, None)
    name = f"{source}-poster"
    out_layers = []
    for ly in layers:
        enc = dict(ly.get("encoding", {}))
        y = enc.get("y")
        if isinstance(y, dict) and isinstance(y.get("scale"), dict):
            enc["y"] = {**y, "scale": {**y["scale"], "domain": [0, y_max]}}
        if ly is counts:
            enc["y"] = {**enc["y"], "field": "label_pct"}
            # no ARIA label: it would read the label's position as the y value
            # (the bar under it says the count and percentage)
            mark = {**{k: v for k, v in ly["mark"].items() if k != "dy"}, "aria": False}
            ly = {**ly, "mark": mark, "data": {"name": name}}
        out_layers.append({**ly, "encoding": enc})
    return {**spec, "layer": out_layers, "datasets": {**spec["datasets"], name: rows}}


def poster_variant(name: str, spec: dict[str, Any], results: Any) -> dict[str, Any]:
    """The poster version of chart ``name`` (its full-size ``spec``).

    The swimmer plot is redrawn with at most :data:`POSTER_SWIMMER_MAX`
    patients (a seeded random sample above, said in the caption's variable):
    a row per patient must fit the text of its label.  The Kaplan–Meier
    figure shows overall survival and PSA-PFS only.
    """
    if name == "swimmer":
        from analysis.charts import swimmer
        from analysis.charts_write import chart_spec

        spec = chart_spec(swimmer(results, POSTER_SWIMMER_MAX))
    elif name == "waterfall":  # patient numbers do not fit under the bars at poster type
        spec = _waterfall_poster(spec)
    elif name == "km":
        from analysis.charts_survival import OS_LABEL, PFS_LABEL, km_chart
        from analysis.charts_write import chart_spec

        spec = chart_spec(km_chart(results, (OS_LABEL, PFS_LABEL)))
    elif name == "milestones":  # counts clear of each other at poster type
        spec = _milestones_poster(spec)
    aspect = POSTER_ASPECTS.get(name, POSTER_ASPECT_MAX)
    out = poster_spec(spec, aspect_max=aspect)
    if name == "waterfall":
        _fill_aspect(out, aspect)
    return _place_counts(out) if name == "milestones" else out


def _fill_aspect(spec: dict[str, Any], aspect: float) -> None:
    """A one-plot chart's plot made taller until the chart renders ``aspect`` times
    as tall as wide.  The waterfall of a large cohort (520 px wide, bars by
    percentile) shrank to the poster's width with its height in proportion: a
    plot 70 px tall, its "−50% (PSA50)" and "−90% (PSA90)" labels touching."""
    if len(_parts(spec)) != 1 or not isinstance(spec.get("height"), (int, float)):
        return
    for _ in range(2):
        width, height = _rendered_size(spec)
        room = aspect * width - height
        if room < 2:
            return
        spec["height"] = round(spec["height"] + room)


def poster_variables(results: Any) -> dict[str, str]:
    """The ``poster`` variables of ``_variables.yml``: sentences for the poster's
    figure captions, from the results (``""`` when there is nothing to say).

    ``forest_note``: limits beyond the forest plot's axis
    (:func:`analysis.charts_forest.clipped_note`); ``swimmer_note``: that the
    poster's swimmer plot is a sample, and of how many; ``course_caption``: the
    PSA-course figure's caption (:func:`analysis.charts.psa_course_caption`).
    """
    from analysis.charts import psa_course_caption, swimmer_sample
    from analysis.charts_forest import clipped_note
    from analysis.config import SWIMMER_SAMPLE

    n = len(results.patients)
    shown = len(
        swimmer_sample(results, POSTER_SWIMMER_MAX, min(POSTER_SWIMMER_MAX, SWIMMER_SAMPLE))
    )
    return {
        "course_caption": psa_course_caption(results),
        "forest_note": clipped_note(results),
        "swimmer_note": sample_note(shown, n),
    }


def sample_note(shown: int, n: int) -> str:
    """A caption's sentence saying that a per-patient figure draws a sample (``""``
    when it draws every patient)."""
    return f"A random sample of {shown:,} of the {n:,} patients is shown." if shown < n else ""


def supplement_variables(results: Any) -> dict[str, str]:
    """The ``supplement`` variables of ``_variables.yml``: ``swimmer_note``, that the
    supplement's swimmer plot is a sample (above ``config.SWIMMER_PATIENTS_MAX``
    patients), and of how many; ``course_caption``, the PSA-course figure's caption
    (:func:`analysis.charts.psa_course_caption`: its lines are patients, or medians
    above ``config.PSA_COURSE_LINES_MAX`` patients)."""
    from analysis.charts import psa_course_caption, swimmer_sample

    return {
        "course_caption": psa_course_caption(results),
        "swimmer_note": sample_note(len(swimmer_sample(results)), len(results.patients)),
    }
