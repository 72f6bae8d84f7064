"""The Kaplan–Meier figures (analysis/charts_survival.py), checked through their Vega-Lite specs."""

from __future__ import annotations

import json
import math

import pytest

from analysis import charts, config, survival
from analysis import charts_survival as cs
from analysis.analyze import run_analysis
from analysis.load import load_cohort
from analysis.outcomes import compute_outcomes
from analysis.psa import patient_psa
from tests.cohorts import minimal_cohort

MONTH = 30.4375


@pytest.fixture(scope="module")
def shipped():
    """(results, per-patient follow-up frame) of the shipped synthetic cohort."""
    cohort = load_cohort(config.SYNTHETIC_DIR)
    results = run_analysis(cohort).results
    frame = compute_outcomes(cohort, patient_psa(cohort)).frame
    return results, frame


@pytest.fixture(scope="module")
def minimal(tmp_path_factory):
    return run_analysis(load_cohort(minimal_cohort(tmp_path_factory.mktemp("minimal")))).results


@pytest.fixture(scope="module")
def km(shipped):
    return cs.km_chart(shipped[0]).to_dict()


@pytest.fixture(scope="module")
def landmark(shipped):
    return cs.landmark_chart(shipped[0]).to_dict()


# --- helpers -------------------------------------------------------------------


def _units(spec):
    """Every unit spec (with a mark) of a layered / concatenated spec, depth first."""
    if "mark" in spec:
        yield spec
    for key in ("layer", "concat", "hconcat", "vconcat"):
        for child in spec.get(key, []):
            yield from _units(child)


def _mark(unit):
    mark = unit["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def _rows(spec, unit):
    data = unit["data"]
    return data["values"] if "values" in data else spec["datasets"][data["name"]]


def _plot(spec):
    return {_mark(u): u for u in _units(spec["vconcat"][0])}


def _table(spec):
    (unit,) = _units(spec["vconcat"][1])
    return unit


def _by_group(rows, group):
    return [r for r in rows if r["group"] == group]


def _fmt(x):
    return "NR" if x is None else f"{x:.1f}"


def _subtitle(spec):
    sub = spec["title"]["subtitle"]
    return [sub] if isinstance(sub, str) else sub


# --- which figures ---------------------------------------------------------------


def test_shipped_cohort_has_both_figures(shipped):
    results, _ = shipped
    assert cs.available_survival_figures(results) == ["km", "landmark"]
    assert set(cs.survival_chart_specs(results)) == {"km", "landmark"}


def test_no_follow_up_no_figures(minimal, tmp_path):
    assert minimal.survival.os is None and minimal.landmark is None
    assert cs.available_survival_figures(minimal) == []
    assert cs.survival_chart_specs(minimal) == {}
    paths = charts.write_figures(minimal, tmp_path)
    assert set(paths) == {*charts.CHART_NAMES, "forest", charts.RUNTIME_NAME}
    assert not list(tmp_path.glob("km*")) and not list(tmp_path.glob("landmark*"))
    with pytest.raises(ValueError):
        cs.km_chart(minimal)


def test_curves_stay_out_of_results_json(shipped):
    results, _ = shipped
    assert results.survival.os_curve is not None and results.landmark.curves
    data = json.loads(results.to_json())
    assert not any(k.endswith("_curve") for k in data["survival"])
    assert "curves" not in data["landmark"]
    assert "censor_times_months" not in results.to_json()


# --- the km figure ----------------------------------------------------------------


def test_km_steps_ci_band_and_theme(km):
    plot = _plot(km)
    assert set(plot) == {"area", "line", "tick"}
    assert plot["line"]["mark"]["interpolate"] == "step-after"
    assert plot["area"]["mark"]["interpolate"] == "step-after"
    assert plot["area"]["mark"]["opacity"] < 0.3
    assert plot["area"]["encoding"]["y"]["field"] == "lower"
    assert plot["area"]["encoding"]["y2"]["field"] == "upper"
    assert km["config"]["font"] == charts.FONT
    y = plot["line"]["encoding"]["y"]
    assert y["title"] == "Probability" and y["axis"]["format"] == "%"
    assert y["scale"]["domain"] == [0, 1]
    x = plot["line"]["encoding"]["x"]
    assert x["title"] == "Months since first dose"
    assert x["axis"]["values"] == list(range(0, x["scale"]["domain"][1] + 1, 3))
    # one colour and one dash per endpoint, Okabe–Ito
    colour = plot["line"]["encoding"]["color"]["scale"]
    dash = plot["line"]["encoding"]["strokeDash"]["scale"]
    assert colour["domain"] == [cs.OS_LABEL, cs.PFS_LABEL, cs.RPFS_LABEL]
    assert len(set(colour["range"])) == 3 and len({json.dumps(d) for d in dash["range"]}) == 3
    assert colour["range"][:2] == [charts.BLUE, charts.ORANGE]


@pytest.mark.parametrize(
    ("label", "months", "event"),
    [(cs.OS_LABEL, "os_months", "os_event"), (cs.PFS_LABEL, "psa_pfs_months", "psa_pfs_event")],
)
def test_km_curve_values_are_survival_curve(km, shipped, label, months, event):
    _, frame = shipped
    keep = frame[months].notna()
    days = (frame.loc[keep, months] * MONTH).tolist()
    events = frame.loc[keep, event].astype(bool).tolist()
    expected = survival.curve(days, events)
    rows = _by_group(_rows(km, _plot(km)["line"]), label)
    assert rows[0]["month"] == 0 and rows[0]["surv"] == 1  # starts at (0, 1)
    assert [r["month"] for r in rows[1:]] == pytest.approx([t / MONTH for t in expected.times])
    assert [r["surv"] for r in rows[1:]] == pytest.approx(list(expected.surv))
    for r, lo, hi, s in zip(rows[1:], expected.lower, expected.upper, expected.surv, strict=True):
        if math.isnan(lo):  # undefined limits: closed on the curve at 1, no band at 0
            assert (r["lower"], r["upper"]) == ((1.0, 1.0) if s == 1 else (None, None))
        else:
            assert (r["lower"], r["upper"]) == pytest.approx((lo, hi))
    # censoring ticks: one per censored patient, on the curve
    ticks = _by_group(_rows(km, _plot(km)["tick"]), label)
    assert len(ticks) == sum(not e for e in events)
    censored = sorted(d / MONTH for d, e in zip(days, events, strict=True) if not e)
    assert [t["month"] for t in ticks] == pytest.approx(censored)
    for t in ticks:
        before = [r["surv"] for r in rows if r["month"] <= t["month"] + 1e-9]
        assert t["surv"] == before[-1]


def test_km_risk_table_and_subtitle(km, shipped):
    results, _ = shipped
    table = _table(km)
    assert _mark(table) == "text"
    rows = _rows(km, table)
    for label, key in ((cs.OS_LABEL, "os"), (cs.PFS_LABEL, "psa_pfs"), (cs.RPFS_LABEL, "rpfs")):
        at_risk = getattr(results.survival, key).at_risk
        assert [(r["month"], r["n"]) for r in _by_group(rows, label)] == [
            (a.month, a.n) for a in at_risk
        ]
    assert [a.n for a in results.survival.os.at_risk][:3] == [21, 21, 16]
    assert table["encoding"]["x"]["scale"] == _plot(km)["line"]["encoding"]["x"]["scale"]
    subtitle = " ".join(_subtitle(km))
    for key in ("os", "psa_pfs", "rpfs"):
        s = getattr(results.survival, key)
        text = f"median {_fmt(s.median_months)} ({_fmt(s.median_ci_low)}–{_fmt(s.median_ci_high)})"
        assert text in subtitle, key
    assert "median 14.7 (6.3–NR) months" in subtitle


def test_km_without_rpfs_draws_two_endpoints(shipped):
    import dataclasses

    results, _ = shipped
    no_rpfs = dataclasses.replace(
        results, survival=dataclasses.replace(results.survival, rpfs=None, rpfs_curve=None)
    )
    spec = cs.km_chart(no_rpfs).to_dict()
    assert _plot(spec)["line"]["encoding"]["color"]["scale"]["domain"] == [
        cs.OS_LABEL,
        cs.PFS_LABEL,
    ]
    assert "rPFS" not in " ".join(_subtitle(spec))


# --- the landmark figure ----------------------------------------------------------


def test_landmark_groups_risk_table_and_subtitle(landmark, shipped):
    results, _ = shipped
    lm = results.landmark
    plot = _plot(landmark)
    assert plot["line"]["mark"]["interpolate"] == "step-after"
    assert plot["area"]["mark"]["interpolate"] == "step-after"
    assert landmark["config"]["font"] == charts.FONT
    domain = plot["line"]["encoding"]["color"]["scale"]["domain"]
    assert domain == [cs.landmark_label(g.psa50, lm.weeks, g.n) for g in lm.groups]
    assert [g.n for g in lm.groups] == [7, 14]
    table = _rows(landmark, _table(landmark))
    lines = _rows(landmark, plot["line"])
    ticks = _rows(landmark, plot["tick"])
    for label, group, (flag, curve) in zip(domain, lm.groups, lm.curves, strict=True):
        assert flag == group.psa50
        first = _by_group(table, label)[0]
        assert (first["month"], first["n"]) == (0, group.n)  # everyone at risk at the landmark
        assert [r["n"] for r in _by_group(table, label)] == [a.n for a in curve.at_risk]
        assert [r["month"] for r in _by_group(lines, label)][1:] == list(curve.times_months)
        assert len(_by_group(ticks, label)) == group.n - group.events
    subtitle = " ".join(_subtitle(landmark))
    assert "HR (95% CI), PSA50 vs no PSA50: 0.21 (0.03–1.65)" in subtitle
    assert "log-rank p = 0.10" in subtitle
    assert f"{lm.n_excluded_died} died, {lm.n_excluded_censored} censored" in subtitle
    assert "median NR (7.8–NR)" in subtitle and "median 6.8 (3.0–NR)" in subtitle
    assert plot["line"]["encoding"]["x"]["title"] == "Months since the 12-week landmark"


# --- outputs --------------------------------------------------------------------


def test_write_figures_writes_the_survival_figures(shipped, tmp_path):
    results, _ = shipped
    paths = charts.write_figures(results, tmp_path)
    assert {"km", "landmark"} <= set(paths)
    for name in ("km", "landmark"):
        files = paths[name]
        poster = ["poster_pdf", "poster_svg"] if name in charts.POSTER_CHARTS else []
        assert sorted(files) == sorted(["html", "json", "pdf", *poster, "svg"])
        assert files["pdf"].read_bytes().startswith(b"%PDF-")
        assert files["svg"].read_text(encoding="utf-8").startswith("<svg")
        spec = json.loads(files["json"].read_text(encoding="utf-8"))
        assert spec == cs.survival_chart_specs(results)[name].to_dict()
        assert f'id="fig-{name}-interactive"' in files["html"].read_text(encoding="utf-8")


def test_poster_variant_has_os_and_psa_pfs_and_its_risk_table(km, shipped):
    from analysis import charts_poster as cp

    results, _ = shipped
    poster = cp.poster_variant("km", km, results)
    assert "title" not in poster
    plot, table = poster["vconcat"]
    assert table["width"] == plot["width"]
    groups = {r["group"] for r in _rows(poster, table)}
    assert groups == {cs.OS_LABEL, cs.PFS_LABEL}
    assert table["height"] > km["vconcat"][1]["height"] * 2 / 3  # rows of text grow with it
