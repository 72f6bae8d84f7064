"""`psma-rwe analyze` end to end on the hand-made cohort, plus invariants (hypothesis)."""

from __future__ import annotations

import csv
import itertools
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from analysis import config
from analysis.analyze import _milestones, run_analysis, write_analysis
from analysis.cli import app
from analysis.load import Cohort, load_cohort
from analysis.psa import patient_psa
from tests.handmade import handmade_cohort

CONTRACT_KEYS = {
    "cohort": {"n_patients", "n_psa_evaluable"},
    "prior_therapies": {"median", "q1", "q3", "min", "max", "by_class"},
    "psa_response": {"psa50", "psa90", "psa50_confirmed", "milestones"},
    "responders": {"n", "completed", "ongoing", "discontinued"},
}
REGRESSION_KEYS = {"term", "odds_ratio", "ci_low", "ci_high", "p_value", "method", "n", "events"}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    folder = handmade_cohort(root / "cohort")
    out = root / "out"
    result = CliRunner().invoke(app, ["analyze", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return folder, out, json.loads((out / "results.json").read_text())


def test_results_json_has_the_contract_keys(analysed):
    _, _, results = analysed
    for section, keys in CONTRACT_KEYS.items():
        assert keys <= set(results[section]), section
    for row in results["regression"]:
        assert set(row) >= REGRESSION_KEYS
    for key in ("psa50", "psa90", "psa50_confirmed"):
        assert {"n", "pct"} <= set(results["psa_response"][key])


def test_handmade_figures(analysed):
    _, _, r = analysed
    assert r["cohort"]["n_patients"] == 5 and r["cohort"]["n_psa_evaluable"] == 4
    pr = r["psa_response"]
    assert (pr["psa50"]["n"], pr["psa50"]["pct"]) == (3, 60.0)
    assert (pr["psa90"]["n"], pr["psa90"]["pct"]) == (3, 60.0)
    assert (pr["psa50_confirmed"]["n"], pr["psa50_confirmed"]["pct"]) == (2, 40.0)
    got = [(m["after_dose"], m["psa50_n"], m["psa90_n"]) for m in pr["milestones"]]
    assert got == [(1, 2, 1), (2, 3, 3), (3, 3, 3)]
    resp = r["responders"]
    assert (resp["n"], resp["completed"], resp["ongoing"], resp["discontinued"]) == (3, 1, 1, 1)
    prior = r["prior_therapies"]
    assert (prior["median"], prior["q1"], prior["q3"], prior["min"], prior["max"]) == (
        2,
        1,
        3,
        0,
        5,
    )


def test_five_patients_are_too_few_for_any_regression_term(analysed):
    _, _, r = analysed
    assert len(r["regression"]) == 24  # 12 terms × (ML, Firth)
    assert {row["status"] for row in r["regression"]} == {"not_estimable"}
    assert all(row["odds_ratio"] is None for row in r["regression"])
    assert r["multivariable"]["fitted"] is False
    assert "at least 10 events per term" in r["multivariable"]["reason"]


def test_patient_summary_csv(analysed):
    _, out, _ = analysed
    with (out / "patient_summary.csv").open() as fh:
        rows = {row["patient_id"]: row for row in csv.DictReader(fh)}
    assert list(rows["P1"]) == [
        "patient_id",
        "baseline_psa",
        "best_psa_change_pct",
        "psa50_after_dose",
        "psa90_after_dose",
        "psa50_confirmed",
        "doses_received",
        "treatment_status",
        "os_months",
        "os_event",
        "psa_pfs_months",
        "psa_pfs_event",
        "psa_progression",
    ]
    # no follow-up columns in this cohort: OS empty; PSA-PFS from the PSA data alone
    assert all(rows[p]["os_months"] == "" and rows[p]["os_event"] == "" for p in rows)
    assert rows["P2"]["psa_pfs_months"] == "" and rows["P2"]["psa_progression"] == ""
    assert rows["P1"]["psa_progression"] in ("true", "false")
    assert rows["P1"]["psa50_after_dose"] == "1" and rows["P1"]["psa50_confirmed"] == "true"
    assert rows["P2"]["baseline_psa"] == "" and rows["P2"]["psa50_confirmed"] == ""
    assert rows["P4"]["psa50_after_dose"] == "" and rows["P4"]["psa50_confirmed"] == "false"
    assert rows["P3"]["best_psa_change_pct"] == "-99.75"


def test_analyze_is_byte_identical(analysed, tmp_path):
    folder, out, _ = analysed
    from analysis.build import analysis_settings

    # `psma-rwe analyze` applies the project's study settings (data cut-off, landmark)
    settings = analysis_settings(config.QUARTO_PROJECT)
    write_analysis(run_analysis(load_cohort(folder), **settings), tmp_path)
    for name in ("results.json", "patient_summary.csv", "lab_trajectories.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_frames_are_not_mutated_by_analysis(analysed):
    folder, _, _ = analysed
    cohort = load_cohort(folder)
    before = {name: getattr(cohort, name).copy(deep=True) for name in _FRAMES}
    run_analysis(cohort)
    for name in _FRAMES:
        pd.testing.assert_frame_equal(getattr(cohort, name), before[name])


_FRAMES = ("patients", "doses", "measurements", "prior_therapies")


def test_analyze_refuses_bad_data_with_exit_2(tmp_path):
    folder = handmade_cohort(tmp_path / "c")
    text = (folder / "doses.csv").read_text().replace("P1,2,2023-02-21", "P1,2,2023-01-01")
    (folder / "doses.csv").write_text(text)
    result = CliRunner().invoke(app, ["analyze", str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "doses.csv, row 3, column dose_date" in result.stderr
    assert not (tmp_path / "o").exists()


# --- invariants on random cohorts ---------------------------------------------------------


@st.composite
def cohorts(draw):
    n = draw(st.integers(1, 6))
    patients, doses, meas = [], [], []
    for i in range(n):
        pid = f"R{i}"
        start = pd.Timestamp("2023-01-01") + pd.Timedelta(days=draw(st.integers(0, 30)))
        k = draw(st.integers(1, 6))
        gaps = draw(st.lists(st.integers(20, 60), min_size=k - 1, max_size=k - 1))
        dates = [start]
        for g in gaps:
            dates.append(dates[-1] + pd.Timedelta(days=g))
        for j, d in enumerate(dates, start=1):
            doses.append((pid, j, d))
        for offset, value in draw(
            st.lists(
                st.tuples(st.integers(-70, 400), st.floats(0, 500, allow_nan=False)),
                max_size=12,
            )
        ):
            meas.append((pid, start + pd.Timedelta(days=offset), value))
        status = draw(st.sampled_from(["completed", "ongoing", "discontinued"]))
        patients.append((pid, start, status))
    p = pd.DataFrame(patients, columns=["patient_id", "first_dose_date", "treatment_status"])
    d = pd.DataFrame(doses, columns=["patient_id", "dose_number", "dose_date"])
    m = pd.DataFrame(meas, columns=["patient_id", "measured_on", "value"])
    m = m.assign(test="psa", censored=False, unit="ng/mL").sort_values(
        ["patient_id", "test", "measured_on"], kind="stable"
    )
    m["measured_on"] = m["measured_on"].astype("datetime64[us]")
    m["value"] = m["value"].astype(float)
    for frame in (p, d, m):
        frame["patient_id"] = frame["patient_id"].astype("str")
    empty = pd.DataFrame(columns=["patient_id", "agent", "agent_key", "therapy_class"])
    return Cohort(p, d, m.reset_index(drop=True), empty, source=None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_milestone_invariants(cohort):
    per = patient_psa(cohort)
    n = len(per)
    n_resp = int(per["responder"].sum())
    max_dose = int(cohort.doses["dose_number"].max())
    ms = _milestones(per, max_dose, n, n_resp)
    assert [m.after_dose for m in ms] == list(range(1, max_dose + 1))
    for prev, cur in itertools.pairwise(ms):
        assert cur.psa50_n >= prev.psa50_n and cur.psa90_n >= prev.psa90_n
    for m in ms:
        assert m.psa90_n <= m.psa50_n <= n_resp <= n
    assert ms[-1].psa50_n == n_resp
    # PSA90 implies PSA50 no later; confirmed implies responder; responders are evaluable
    both = per.dropna(subset=["psa90_after_dose"])
    assert (both["psa50_after_dose"] <= both["psa90_after_dose"]).all()
    assert not (per["psa50_confirmed"].fillna(False).astype(bool) & ~per["responder"]).any()
    assert per.loc[per["responder"], "evaluable"].all()
    assert (per.loc[per["responder"], "best_psa_change_pct"] <= -50 + 1e-6).all()


# --- the shipped synthetic cohort reproduces the study ---------------------------------------


def test_synthetic_cohort_reproduces_the_published_figures(tmp_path):
    from analysis import config

    write_analysis(run_analysis(load_cohort(config.SYNTHETIC_DIR)), tmp_path)
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["cohort"]["n_patients"] == 21
    assert r["prior_therapies"]["median"] == 6
    assert r["psa_response"]["psa50"] == {"n": 8, "pct": 38.1, "denominator": 21}
    resp = r["responders"]
    assert (resp["n"], resp["completed"], resp["ongoing"]) == (8, 6, 2)
    assert (resp["psa90_n"], resp["never_psa90"]) == (6, 2)
    ms = {m["after_dose"]: m for m in r["psa_response"]["milestones"]}
    assert ms[2]["psa50_n"] == 7 and ms[2]["psa50_pct_of_responders"] == 87.5
    assert ms[3]["psa50_n"] == 8 and ms[3]["psa50_pct_of_responders"] == 100.0
    assert ms[4]["psa90_n"] == 6 and ms[6]["psa90_n"] == 6
    # the responders who completed did all six doses
    with (tmp_path / "patient_summary.csv").open() as fh:
        rows = [row for row in csv.DictReader(fh) if row["psa50_after_dose"]]
    assert (
        sorted(row["doses_received"] for row in rows if row["treatment_status"] == "completed")
        == ["6"] * 6
    )


def test_written_files_have_the_permissions_of_a_plain_write(analysed, tmp_path):
    _, out, _ = analysed
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = plain.stat().st_mode & 0o777
    for name in ("results.json", "patient_summary.csv", "lab_trajectories.csv"):
        assert (out / name).stat().st_mode & 0o777 == expected, name
