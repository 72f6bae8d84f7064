"""Large cohorts: bounded chart specs, readable large-cohort chart forms, bounded Fisher work."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from analysis import charts, config, stats, tables
from analysis.analyze import run_analysis
from analysis.cohort import _variable
from analysis.load import load_cohort
from analysis.results import PatientResult, PsaCoursePoint, Table1
from tests.handmade import handmade_cohort

N_LARGE = 10_000
STATUSES = ("completed", "ongoing", "discontinued")


def _big_results(base, n: int, seed: int = 5):
    """``base`` with ``n`` invented patients (95 % PSA-evaluable) and their PSA course."""
    rng = np.random.default_rng(seed)
    best = np.round(rng.uniform(-100, 260, n), 1)
    evaluable = rng.random(n) < 0.95
    doses = rng.integers(1, 7, n)
    status = rng.integers(0, 3, n)
    patients, course = [], []
    for i in range(n):
        no = i + 1
        b = float(best[i]) if evaluable[i] else None
        m50 = int(rng.integers(1, doses[i] + 1)) if b is not None and b <= -50 else None
        m90 = m50 if b is not None and b <= -90 else None
        patients.append(
            PatientResult(
                patient_no=no,
                baseline_psa=None if b is None else 50.0,
                best_psa_change_pct=b,
                psa50_after_dose=m50,
                psa90_after_dose=m90,
                psa50_confirmed=None if b is None else m50 is not None,
                doses_received=int(doses[i]),
                treatment_status=STATUSES[status[i]],
                responder=m50 is not None,
            )
        )
        if b is not None:
            for k in range(1, int(doses[i]) + 1):
                value = float(np.round(b * k / doses[i] + rng.normal(0, 15), 1))
                course.append(PsaCoursePoint(no, k, value, m50 is not None))
    return dataclasses.replace(
        base,
        cohort=dataclasses.replace(base.cohort, n_patients=n, max_dose_number=6),
        patients=tuple(patients),
        psa_course=tuple(course),
    )


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    return run_analysis(load_cohort(handmade_cohort(tmp_path_factory.mktemp("handmade")))).results


@pytest.fixture(scope="module")
def large(handmade):
    return _big_results(handmade, N_LARGE)


@pytest.fixture(scope="module")
def large_specs(large):
    return {name: chart.to_dict() for name, chart in charts.chart_specs(large).items()}


def _rows(spec) -> int:
    """Inline data rows anywhere in a spec."""
    count = 0
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "values" and isinstance(value, list):
                count += len(value)
            elif key == "datasets":
                count += sum(len(v) for v in value.values())
            else:
                count += _rows(value)
    elif isinstance(spec, list):
        count += sum(_rows(v) for v in spec)
    return count


def _dataset(spec, *columns) -> list[dict]:
    """The one top-level dataset whose rows have all ``columns``."""
    found = [rows for rows in spec["datasets"].values() if rows and set(columns) <= set(rows[0])]
    assert len(found) == 1, [list(r[0]) for r in spec["datasets"].values() if r]
    return found[0]


def _subtitle(spec) -> list[str]:
    sub = spec["title"]["subtitle"]
    return [sub] if isinstance(sub, str) else list(sub)


# --- charts ------------------------------------------------------------------------


def test_every_chart_of_10k_patients_has_a_bounded_spec(large_specs):
    # Altair raises MaxRowsError above 5,000 rows; the large forms draw aggregates.
    sizes = {}
    for name, spec in large_specs.items():
        assert _rows(spec) <= 600, name
        html = charts.interactive_html(name, spec)
        sizes[name] = len(html.encode("utf-8"))
        assert sizes[name] < 200_000, name
    print("embedded HTML bytes for 10k patients:", sizes)


def test_large_waterfall_groups_every_patient(large, large_specs):
    spec = large_specs["waterfall"]
    groups = _dataset(spec, "rank_from", "median")
    evaluable = sorted(
        (p for p in large.patients if p.best_psa_change_pct is not None),
        key=lambda p: (-p.best_psa_change_pct, p.patient_no),
    )
    n = len(evaluable)
    assert len(groups) <= config.WATERFALL_GROUPS + 2
    assert sum(g["n"] for g in groups) == n
    assert groups[0]["rank_from"] == 1 and groups[-1]["rank_to"] == n
    assert groups[0]["start_pct"] == 0 and groups[-1]["end_pct"] == 100
    values = [p.best_psa_change_pct for p in evaluable]
    for a, b in itertools.pairwise(groups):
        assert b["rank_from"] == a["rank_to"] + 1
    for g in groups:
        chunk = evaluable[g["rank_from"] - 1 : g["rank_to"]]
        assert {charts.response_category(p) for p in chunk} == {g["response"]}
        median = float(np.median(values[g["rank_from"] - 1 : g["rank_to"]]))
        assert g["median"] == pytest.approx(median)
        assert g["median_plot"] == pytest.approx(min(median, charts.WATERFALL_CAP))
    text = json.dumps(spec)
    assert '"patient_no"' not in text  # no per-patient rows or labels
    sub = _subtitle(spec)
    assert sub[0].startswith(f"All {n:,} of {N_LARGE:,} patients, ranked")
    assert any("Each bar: the median of up to" in s for s in sub)
    assert any("drawn at +100%" in s for s in sub)


def test_large_swimmer_is_a_stated_seeded_sample(large, large_specs):
    spec = large_specs["swimmer"]
    segments = _dataset(spec, "start", "end")
    shown = {r["patient_no"] for r in segments}
    assert len(shown) == config.SWIMMER_SAMPLE
    by_no = {p.patient_no: p for p in large.patients}
    assert len(segments) == sum(by_no[no].doses_received for no in shown)
    assert _subtitle(spec)[0].startswith(
        f"{config.SWIMMER_SAMPLE} of {N_LARGE:,} patients, random sample "
        f"(seed {config.SWIMMER_SAMPLE_SEED})"
    )
    again = charts.swimmer(large).to_dict()
    assert {r["patient_no"] for r in _dataset(again, "start", "end")} == shown
    # the sample does not depend on the order the patients are listed in
    shuffled = dataclasses.replace(large, patients=tuple(reversed(large.patients)))
    assert {p.patient_no for p in charts.swimmer_sample(shuffled)} == shown


def test_large_psa_course_bands_are_pandas_quantiles(large, large_specs):
    spec = large_specs["psa_course"]
    rows = _dataset(spec, "median", "q1", "q3")
    points = pd.DataFrame(
        [(c.patient_no, c.after_dose, c.pct_change, c.responder) for c in large.psa_course],
        columns=["patient_no", "after_dose", "pct_change", "responder"],
    )
    baseline = points.drop_duplicates("patient_no").assign(after_dose=0, pct_change=0.0)
    points = pd.concat([baseline, points])
    expected = {}
    for (resp, dose), values in points.groupby(["responder", "after_dose"])["pct_change"]:
        group = charts.RESPONDER if resp else charts.NON_RESPONDER
        expected[group, dose] = (len(values), *values.quantile([0.25, 0.5, 0.75]))
    assert len(rows) == len(expected)
    for r in rows:
        n, q1, median, q3 = expected[r["group"], r["after_dose"]]
        assert r["n"] == n
        assert (r["q1"], r["median"], r["q3"]) == pytest.approx((q1, median, q3))
        assert r["q3_plot"] == pytest.approx(min(q3, charts.PSA_COURSE_CAP))
    sub = _subtitle(spec)
    assert any("Median (line) and interquartile range (band)" in s for s in sub)
    assert f"{points['patient_no'].nunique():,} patients" in sub[0]


def test_thresholds_switch_forms(handmade):
    at = _big_results(handmade, 150, seed=2)  # ≤ 150 patients: per-patient forms
    above = _big_results(handmade, 200, seed=2)
    n_eval_at = sum(p.best_psa_change_pct is not None for p in at.patients)
    assert n_eval_at <= config.WATERFALL_PATIENTS_MAX
    wf = charts.waterfall(at).to_dict()
    assert len(_dataset(wf, "patient_no", "best_change")) == n_eval_at
    sw = charts.swimmer(at).to_dict()  # the swimmer samples above SWIMMER_PATIENTS_MAX (40)
    assert len({r["patient_no"] for r in _dataset(sw, "start", "end")}) == config.SWIMMER_SAMPLE
    assert "rank_from" in json.dumps(charts.waterfall(above).to_dict())
    sw = charts.swimmer(above).to_dict()
    assert len({r["patient_no"] for r in _dataset(sw, "start", "end")}) == config.SWIMMER_SAMPLE
    # PSA course: one line per patient up to PSA_COURSE_LINES_MAX patients drawn
    lines = _big_results(handmade, 100, seed=2)
    assert len({c.patient_no for c in lines.psa_course}) <= config.PSA_COURSE_LINES_MAX
    spec = charts.psa_course(lines).to_dict()
    assert len(_dataset(spec, "patient_no", "pct_change")) > 100
    assert "interquartile" not in json.dumps(spec)
    spec = charts.psa_course(above).to_dict()
    assert "interquartile" in json.dumps(spec) and '"patient_no"' not in json.dumps(spec)


def test_psa_course_caption_says_what_its_lines_are(handmade):
    """The 200-patient supplement's caption said "one line per patient" under the
    medians and interquartile bands drawn above PSA_COURSE_LINES_MAX patients."""
    from analysis.charts_poster import poster_variables, supplement_variables

    lines = _big_results(handmade, 100, seed=2)
    above = _big_results(handmade, 200, seed=2)
    for variables in (supplement_variables, poster_variables):
        assert variables(lines)["course_caption"] == (
            "PSA change from baseline after each dose, one line per patient."
        )
        caption = variables(above)["course_caption"]
        assert "interquartile range" in caption and "one line per patient" not in caption


def test_a_waterfall_bar_of_one_patient_is_not_called_a_median(handmade):
    """At 200 patients every bar of the ranked waterfall is one patient; its subtitle
    read "the median of up to 1 consecutive patients"."""
    above = _big_results(handmade, 200, seed=2)
    sub = _subtitle(charts.waterfall(above).to_dict())
    groups = _dataset(charts.waterfall(above).to_dict(), "rank_from", "median")
    assert max(g["n"] for g in groups) == 1
    assert "Each bar: one patient." in sub
    assert not any("median of up to" in s for s in sub)


def test_large_forms_render(large_specs):
    for name in ("waterfall", "swimmer", "psa_course"):
        svg = charts.to_svg(large_specs[name])
        assert svg.startswith("<svg") and len(svg) < 2_000_000, name


# --- Fisher's exact test -----------------------------------------------------------


def _race_variable(white: int, black: int):
    """Table 1's race row for White/Black/Asian 1 and 10,000 written "Unknown" (a level)."""
    values = pd.Series(
        ["White"] * white + ["Black"] * black + ["Asian"] + ["Unknown"] * 10_000, dtype=object
    )
    responder = np.zeros(len(values), dtype=bool)
    responder[::8] = True
    responder[1::8] = True
    responder[2::8] = True
    levels = ["White", "Black", "Asian", "Unknown"]
    tracemalloc.start()
    t0 = time.perf_counter()
    var = _variable("race", "Race", "categorical", "", values, responder, levels)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"race {white}/{black}/1/10000: {var.test} p={var.p_value:.4f} "
        f"{seconds:.2f} s, peak {peak / 2**20:.0f} MiB"
    )
    return var, peak


def _table1_html(handmade, var) -> str:
    t1 = Table1(len(var.overall.levels), var.responders.n, var.non_responders.n, (var,))
    return tables.to_html(tables.table1(dataclasses.replace(handmade, table1=t1)))


def test_fisher_999_998_1_is_bounded_and_named(handmade):
    var, peak = _race_variable(999, 998)
    assert peak < 500 * 2**20
    # about 2.0 million tables: still enumerated exactly
    assert var.test == "fisher" and 0 <= var.p_value <= 1
    table = [
        [var.responders.levels[lv].n, var.non_responders.levels[lv].n] for lv in var.level_order
    ]
    assert var.p_value == pytest.approx(stats.fisher_simulated(table), abs=0.01)
    html = _table1_html(handmade, var)
    assert "Fisher&#x27;s exact test" in html and "simulated" not in html


def test_fisher_past_the_limit_is_simulated_and_said_so(handmade):
    var, peak = _race_variable(1999, 1998)
    assert peak < 500 * 2**20
    assert var.test == "fisher_sim" and 0 < var.p_value <= 1
    again, _ = _race_variable(1999, 1998)
    assert again.p_value == var.p_value
    html = _table1_html(handmade, var)
    assert "Fisher&#x27;s exact test with simulated p-value" in html
    assert f"more than {stats.FISHER_MAX_TABLES:,} tables" in html
    assert f"{stats.FISHER_SIM_TABLES:,} random tables" in html


@pytest.mark.parametrize(
    ("table", "expected"),
    [  # p-values of the enumeration before it bounded its work, as repr()
        ([[6, 12], [2, 0], [0, 1]], 0.13333333333333325),
        ([[1, 5], [3, 1], [0, 4], [2, 2]], 0.12626589097177313),
        ([[5, 0], [0, 5], [2, 2]], 0.003496503496503491),
        ([[20, 31], [7, 2], [0, 3], [11, 9], [1, 0]], 0.045566676871779954),
        ([[40, 60], [35, 70], [1, 0], [300, 500]], 0.4526472081804808),
    ],
)
def test_small_fisher_p_values_are_unchanged(table, expected):
    # to 1e-12: the last bit of a sum of many terms differs between CPUs (numpy's
    # SIMD paths); one machine gave ...87177995 for ...871779954
    test, p = stats.categorical_test(table)
    assert test == "fisher" and p == pytest.approx(expected, rel=1e-12, abs=0)


def test_enumeration_counts_tables_before_allocating(monkeypatch):
    # A limit below the table count: stops before building the tables.
    monkeypatch.setattr(stats, "FISHER_MAX_TABLES", 10)
    assert stats.fisher_exact_rx2([[3, 3], [3, 3], [0, 1]], simulate=False) is None
    test, p = stats.categorical_test([[3, 3], [3, 3], [0, 1]])
    assert test == "fisher_sim" and 0 < p <= 1
    assert math.isclose(p, stats.fisher_simulated([[3, 3], [3, 3], [0, 1]]))


def test_blank_race_is_missing_not_the_level_unknown(tmp_path):
    # A blank race is a missing value (gtsummary's missing row), outside the denominators
    # and the test; only a written "Unknown" is a level.  The hand-made cohort's 5 patients
    # are all "White" (tests/cohorts.py), so a blank for P1 leaves 4 known, all White.
    folder = handmade_cohort(tmp_path)
    path = folder / config.PATIENTS
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["race"] = ""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    race = next(
        v for v in run_analysis(load_cohort(folder)).results.table1.variables if v.name == "race"
    )
    assert race.overall.missing == 1
    assert "Unknown" not in race.overall.levels
    assert race.level_order == ("White",)
    assert (race.overall.levels["White"].n, race.overall.levels["White"].pct) == (4, 100.0)
    assert race.test is None  # one level left: nothing to test


@pytest.mark.parametrize("n", [config.SWIMMER_SAMPLE, config.SWIMMER_SAMPLE + 1, 120])
def test_swimmer_draws_every_patient_only_while_they_fit_a_page(handmade, n):
    """120 patients drawn in full had printed the supplement's swimmer plot a quarter
    of the page wide with its labels at about 2 pt; above SWIMMER_SAMPLE patients the
    plot draws a sample of that many, and the supplement's caption says so."""
    from analysis.charts_poster import supplement_variables

    results = _big_results(handmade, n, seed=11)
    shown = {r["patient_no"] for r in _dataset(charts.swimmer(results).to_dict(), "start", "end")}
    assert len(shown) == min(n, config.SWIMMER_SAMPLE)
    note = supplement_variables(results)["swimmer_note"]
    if n <= config.SWIMMER_SAMPLE:
        assert note == ""
    else:
        assert note == f"A random sample of {config.SWIMMER_SAMPLE} of the {n} patients is shown."
