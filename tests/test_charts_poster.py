"""The poster's charts (analysis/charts_poster.py, analysis/charts_forest.py), through
their Vega-Lite specs: text size at print size, and the forest plot's numbers."""

from __future__ import annotations

import json
import math

import pytest

from analysis import charts, config
from analysis import charts_forest as cf
from analysis import charts_poster as cp
from analysis.analyze import run_analysis
from analysis.charts_survival import survival_chart_specs
from analysis.load import load_cohort
from analysis.render.layout import poster_geometry

SIZES = ("48x36in", "36x48in", "a0")


@pytest.fixture(scope="module")
def shipped():
    return run_analysis(load_cohort(config.SYNTHETIC_DIR)).results


@pytest.fixture(scope="module")
def posters(shipped):
    """{name: (poster spec, rendered (width, height))} of every poster figure."""
    full = {
        **charts.chart_specs(shipped),
        **survival_chart_specs(shipped),
        **cf.forest_chart_specs(shipped),
    }
    out = {}
    for name in charts.POSTER_CHARTS:
        spec = cp.poster_variant(name, full[name].to_dict(), shipped)
        out[name] = (spec, cp.rendered_size(spec))
    return out


def test_every_poster_chart_is_made(posters):
    assert set(posters) == set(charts.POSTER_CHARTS)
    assert {"forest", "km", "swimmer", "waterfall"} <= set(posters)


@pytest.mark.parametrize("size", SIZES)
def test_chart_text_prints_at_24_pt_or_more(posters, size):
    """font size in the spec × placed width / rendered width ≥ 24 pt, for every font."""
    geometry = poster_geometry({"poster-size": size})
    for name, (spec, rendered) in posters.items():
        placed = cp.placed_width(rendered, geometry)
        printed = cp.print_sizes(spec, rendered[0], placed)
        assert printed, name
        assert min(printed) >= cp.POSTER_MIN_PT, (name, size, min(printed))


@pytest.mark.parametrize("size", (*SIZES, "a1", "a1-landscape"))
def test_chart_text_keeps_its_size_to_the_body_text_on_small_posters(posters, size):
    """On A1 24 pt would be larger than the body text (19.5 pt): the chart text is at
    least as large relative to the body as on 48 x 36 in (36 x 48 in when portrait),
    and 24 pt where that allows it (tests above); it printed at 17.5 pt unchecked."""
    geometry = poster_geometry({"poster-size": size})
    need = cp.min_text_pt(geometry)
    assert need == pytest.approx(min(24.0, need))
    if size in SIZES:
        assert need == cp.POSTER_MIN_PT
    else:
        assert need < cp.POSTER_MIN_PT and need >= 0.88 * cp.body_pt(geometry)
    portrait = geometry["height"] > geometry["width"]
    ref = poster_geometry({"poster-size": "36x48in" if portrait else "48x36in"})
    for name, (spec, rendered) in posters.items():
        printed = min(cp.print_sizes(spec, rendered[0], cp.placed_width(rendered, geometry)))
        assert printed >= min(need, 24.0) * 0.995, (name, size, printed, need)
        # the chart's own smallest text, relative to the body, as on the reference
        on_ref = min(cp.print_sizes(spec, rendered[0], cp.placed_width(rendered, ref)))
        if size not in SIZES:
            assert printed / cp.body_pt(geometry) >= on_ref / cp.body_pt(ref) - 1e-9, (
                name,
                size,
            )


@pytest.mark.parametrize("size", SIZES)
def test_poster_charts_span_their_column(posters, size):
    geometry = poster_geometry({"poster-size": size})
    for name, (_, rendered) in posters.items():
        assert cp.placed_width(rendered, geometry) == pytest.approx(
            geometry["column_width"], rel=0.02
        ), name


def test_font_sizes_finds_marks_axes_and_config():
    spec = {
        "config": {"axis": {"labelFontSize": 11, "titleFontSize": 12}, "text": {"fontSize": 9}},
        "layer": [{"mark": {"type": "text", "fontSize": 7}}],
    }
    assert sorted(cp.font_sizes(spec)) == [7, 9, 11, 12]
    grown = cp._grow(spec, 2.0)
    assert sorted(cp.font_sizes(grown)) == [14, 18, 22, 24]


def test_forest_numbers_equal_results_json(shipped):
    spec = cf.forest(shipped).to_dict()
    (rows,) = [d for d in spec["datasets"].values() if d and "term" in d[0]]
    expected = [
        r
        for r in json.loads(shipped.to_json())["regression"]
        if r["method"] == "firth" and r["model"] == "univariable"
    ]
    assert [r["term"] for r in rows] == [r["term"] for r in expected]
    for got, want in zip(rows, expected, strict=True):
        for key in ("odds_ratio", "ci_low", "ci_high", "p_value"):
            if want[key] is None:
                assert got[key] is None, (got["term"], key)
            else:
                assert got[key] == pytest.approx(want[key], rel=1e-5), (got["term"], key)
        # drawn values are the results clipped to the axis
        if want["odds_ratio"] is not None:
            assert got["x"] == pytest.approx(
                min(cf.AXIS_MAX, max(cf.AXIS_MIN, want["odds_ratio"])), rel=1e-5
            )


def test_forest_marks_limits_beyond_the_axis(shipped):
    rows = cf.forest_rows(shipped)
    high = [r for r in rows if r["ci_high"] is not None and r["ci_high"] > cf.AXIS_MAX]
    low = [r for r in rows if r["ci_low"] is not None and r["ci_low"] < cf.AXIS_MIN]
    assert high or low  # the shipped cohort has a quasi-separated term
    for r in high:
        assert r["clip_high"] and r["hi"] == cf.AXIS_MAX and r["high_text"]
    for r in low:
        assert r["clip_low"] and r["lo"] == cf.AXIS_MIN and r["low_text"]
    note = cf.clipped_note(shipped)
    for r in high + low:
        assert r["label"] in note
    spec = json.dumps(cf.forest(shipped).to_dict())
    assert "triangle-right" in spec and "triangle-left" in spec


def test_forest_row_not_estimable_is_said(shipped):
    import dataclasses

    reg = shipped.regression
    first = next(r for r in reg.rows if r.method == "firth")
    blank = dataclasses.replace(first, odds_ratio=None, ci_low=None, ci_high=None, p_value=None)
    rows = tuple(blank if r is first else r for r in reg.rows)
    results = dataclasses.replace(shipped, regression=dataclasses.replace(reg, rows=rows))
    row = cf.forest_rows(results)[0]
    assert row["x"] is None and row["estimate"] == cf.NOT_ESTIMABLE
    assert f"Not estimable: {first.label}." in cf.clipped_note(results)
    assert not math.isnan(cp.rendered_size(cf.forest(results).to_dict())[0])


def _lato_em(text: str) -> float:
    """Width of ``text`` in Lato Regular, em (fontTools)."""
    import fontpkg_lato
    from fontTools.ttLib import TTFont

    font = TTFont(f"{fontpkg_lato.__path__[0]}/files/Lato-Regular.ttf")
    cmap, metrics, upm = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    return sum(metrics[cmap[ord(c)]][0] for c in text) / upm


def _milestone_marks(spec: dict) -> tuple[list, list, list]:
    """(bars, counts, lines) of the rendered milestone chart, in SVG px of its
    plot: bars (x0, y0, x1, y1); counts (x0, y0, x1, y1, text), the box of the
    digits (Lato advances, cap height 0.72 em above the alphabetic baseline);
    the responders' line's y."""
    import re

    svg = charts.to_svg(spec)
    bars = [
        (float(x), float(y), float(x) + float(w), float(y) + float(h))
        for x, y, w, h in re.findall(
            r'aria-roledescription="bar" d="M([\d.]+),([\d.]+)h([\d.]+)v([\d.]+)h', svg
        )
    ]
    counts = []
    start = svg.index('class="mark-text role-mark')
    marks = svg[start : svg.index("</g>", start)]
    for x, y, size, text in re.findall(
        r'<text[^>]*text-anchor="middle" '
        r'transform="translate\(([\d.]+),([\d.]+)\)"[^>]*font-size="([\d.]+)px"[^>]*>(\d+)<',
        marks,
    ):
        half = _lato_em(text) * float(size) / 2
        top = float(y) - 0.72 * float(size)
        counts.append((float(x) - half, top, float(x) + half, float(y), text))
    block = svg[svg.index("mark-rule role-mark") :]
    lines = [float(y) for y in re.findall(r'<line transform="translate\([\d.]+,([\d.]+)\)', block)]
    return bars, counts, lines[:1]


def _gap(a, b) -> float:
    """Distance between two boxes (0 when they touch or overlap)."""
    dx = max(b[0] - a[2], a[0] - b[2], 0.0)
    dy = max(b[1] - a[3], a[1] - b[3], 0.0)
    return max(dx, dy)


@pytest.fixture(scope="module")
def cohort_200(tmp_path_factory):
    from analysis import synth

    folder = tmp_path_factory.mktemp("c200")
    synth.write_synthetic(folder, n_patients=200, seed=2024)
    return run_analysis(load_cohort(folder)).results


@pytest.mark.parametrize("cohort", ["shipped", "cohort_200"])
def test_milestone_counts_are_clear_of_each_other_at_print_size(request, cohort):
    """On the poster every count of the PSA50/PSA90 chart is at least 4 pt (at the
    narrowest placed width of the 48 x 36 in, 36 x 48 in and A0 posters) from every
    other count, from every bar but its own and from the responders' line.  On the
    200-patient poster the PSA90 counts touched the PSA50 ones beside them and the
    line crossed the "68" over dose 2."""
    results = request.getfixturevalue(cohort)
    full = charts.chart_specs(results)["milestones"].to_dict()
    spec = cp.poster_variant("milestones", full, results)
    rendered = cp.rendered_size(spec)
    pt_per_px = (
        min(cp.placed_width(rendered, poster_geometry({"poster-size": s})) for s in SIZES)
        / rendered[0]
    )
    bars, counts, lines = _milestone_marks(spec)
    assert len(counts) == len(bars) >= 6
    assert lines, "no responders' line"
    gaps = []
    for i, c in enumerate(counts):
        # its own bar: the one under its centre whose top is nearest under it
        centre = (c[0] + c[2]) / 2
        own = min(
            (b for b in bars if b[0] <= centre <= b[2] and b[1] >= c[3] - 0.5),
            key=lambda b: b[1] - c[3],
        )
        for other in counts[i + 1 :]:
            gaps.append((_gap(c, other) * pt_per_px, c[4], other[4]))
        for b in bars:
            if b is not own:
                gaps.append((_gap(c, b) * pt_per_px, c[4], "bar"))
        for y in lines:
            gaps.append((max(y - c[3], c[1] - y, 0.0) * pt_per_px, c[4], "line"))
    assert min(gaps)[0] >= 4.0, sorted(gaps)[:3]
    # and a count still reads as its bar's: no higher above it than two text heights
    for c in counts:
        centre = (c[0] + c[2]) / 2
        under = [b[1] for b in bars if b[0] <= centre <= b[2]]
        assert min(abs(t - c[3]) for t in under) <= 2.5 * (c[3] - c[1]), c


@pytest.mark.parametrize("cohort", ["shipped", "cohort_200"])
def test_waterfall_reference_labels_are_clear_of_each_other(request, cohort):
    """The labels of the PSA50 and PSA90 lines ("−50% (PSA50)", "−90% (PSA90)",
    centred on their lines) are at least 1.3 text heights apart on the poster.  The
    200-patient waterfall shrank to a 70 px plot and they touched."""
    import re

    results = request.getfixturevalue(cohort)
    full = charts.chart_specs(results)["waterfall"].to_dict()
    svg = charts.to_svg(cp.poster_variant("waterfall", full, results))
    found = {
        text: (float(y), float(size))
        for y, size, text in re.findall(
            r'transform="translate\([\d.]+,([\d.]+)\)"[^>]*font-size="([\d.]+)px"[^>]*>'
            r"(−\d+% \(PSA\d+\))<",
            svg,
        )
    }
    assert set(found) == {"−50% (PSA50)", "−90% (PSA90)"}, found
    (y50, size), (y90, _) = found["−50% (PSA50)"], found["−90% (PSA90)"]
    assert y90 - y50 >= 1.3 * size, (y50, y90, size)


def test_milestone_counts_say_no_false_percentage(shipped):
    """The counts' y is their label's position, not a percentage: the SVG does not
    announce it as "Patients (% of all N)" (the bars carry the true values)."""
    import re

    full = charts.chart_specs(shipped)["milestones"].to_dict()
    svg = charts.to_svg(cp.poster_variant("milestones", full, shipped))
    pcts = {round(float(p), 1) for p in re.findall(r"% of all patients: ([\d.]+)", svg)}
    announced = re.findall(r'aria-label="[^"]*Patients \(% of all \d+\): ([\d.]+)', svg)
    assert announced and {round(float(a), 1) for a in announced} <= pcts, announced


def test_a_cohort_without_responders_has_a_poster_milestone_chart(tmp_path):
    """No responders: every layer of the milestone chart reads the chart's one dataset
    (the counts' placement had looked for the counts layer's own and failed the build)."""
    from tests.cohorts import dose, meas, patient, write_cohort

    folder = write_cohort(
        tmp_path / "c",
        [patient("P1"), patient("P2")],
        [dose("P1", 1, "2023-01-10"), dose("P1", 2, "2023-02-21"), dose("P2", 1, "2023-01-12")],
        [
            meas("P1", "2023-01-05", "psa", 100),
            meas("P1", "2023-02-10", "psa", 120),
            meas("P2", "2023-01-02", "psa", 50),
            meas("P2", "2023-02-20", "psa", 70),
        ],
    )
    results = run_analysis(load_cohort(folder)).results
    assert results.psa_response.psa50.n == 0
    spec = charts.chart_specs(results)["milestones"].to_dict()
    poster = cp.poster_variant("milestones", spec, results)
    assert charts.to_svg(poster).startswith("<svg")
    assert cp.font_sizes(poster) and min(cp.font_sizes(poster)) >= cp.POSTER_FONT_MIN


def test_a_poster_chart_cut_to_its_height_is_drawn_twice(shipped, monkeypatch):
    # The Kaplan-Meier chart grows too tall when widened to the column: the cut is
    # foreseen from the first drawing, not seen in a third one.
    from analysis import charts_draw
    from analysis.charts_survival import survival_chart_specs

    full = {**charts.chart_specs(shipped), **survival_chart_specs(shipped)}
    drawn: list[str] = []
    real = cp._rendered_size

    def counted(spec):
        key = json.dumps(spec, sort_keys=True)
        if key not in drawn:
            drawn.append(key)
        return real(spec)

    monkeypatch.setattr(cp, "_rendered_size", counted)
    for name in ("km",):
        drawn.clear()
        charts_draw._SVG_MEMO.clear()
        spec = cp.poster_variant(name, full[name].to_dict(), shipped)
        width, height = cp.rendered_size(spec)
        aspect = cp.POSTER_ASPECTS.get(name, cp.POSTER_ASPECT_MAX)
        assert abs(width - cp.POSTER_CHART_WIDTH) <= 2, name
        assert height <= aspect * cp.POSTER_CHART_WIDTH + 2, name
        assert len(drawn) == 2, name
