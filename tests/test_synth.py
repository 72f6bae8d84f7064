"""The synthetic-cohort generator (analysis/synth.py) and the committed data/synthetic/."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import config, synth
from analysis.cohort import prior_therapy_counts
from analysis.errors import PsmaRweError
from analysis.load import load_cohort
from analysis.psa import patient_psa


@pytest.fixture(scope="module")
def default_frames():
    return synth.generate()


@pytest.fixture(scope="module")
def default_cohort():
    return load_cohort(config.SYNTHETIC_DIR)


@pytest.fixture(scope="module")
def default_psa(default_cohort):
    return patient_psa(default_cohort)


def _bytes(frames) -> dict[str, bytes]:
    return {name: b"".join(synth.csv_chunks(frame)) for name, frame in frames.items()}


def _read(folder) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in config.INPUT_FILES}


# --- determinism and the committed files -----------------------------------------------


@pytest.mark.parametrize("name", config.INPUT_FILES)
def test_committed_files_equal_default_output(default_frames, name):
    committed = (config.SYNTHETIC_DIR / name).read_bytes()
    expected = b"".join(synth.csv_chunks(default_frames[name]))
    assert committed == expected, (
        f"data/synthetic/{name} differs from the generator's default output; regenerate it "
        "with `psma-rwe synth --out data/synthetic --force` instead of editing it"
    )


def test_frames_are_strings_in_contract_order(default_frames):
    assert list(default_frames) == list(config.INPUT_FILES)
    for name, frame in default_frames.items():
        optional = config.OPTIONAL_PRESENT_COLUMNS[name]
        assert tuple(frame.columns) == config.COLUMNS[name] + optional
        for col in frame.columns:
            assert pd.api.types.is_string_dtype(frame[col]), (name, col)
            assert frame[col].map(type).eq(str).all(), (name, col)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    written = synth.write_synthetic(tmp_path / "a", n_patients=30, seed=5)
    synth.write_synthetic(tmp_path / "b", n_patients=30, seed=5)
    synth.write_synthetic(tmp_path / "c", n_patients=30, seed=6)
    assert written == [tmp_path / "a" / name for name in config.INPUT_FILES]
    assert _read(tmp_path / "a") == _read(tmp_path / "b")
    assert _read(tmp_path / "a") == _bytes(synth.generate(30, 5))
    other = _read(tmp_path / "c")
    for name, data in _read(tmp_path / "a").items():
        assert data != other[name], name


def test_files_are_utf8_with_unix_newlines(tmp_path):
    synth.write_synthetic(tmp_path, n_patients=21)
    for name, data in _read(tmp_path).items():
        text = data.decode("utf-8")
        assert not text.startswith("\ufeff") and "\r" not in text, name
        header = config.COLUMNS[name] + config.OPTIONAL_PRESENT_COLUMNS[name]
        assert text.endswith("\n") and text.splitlines()[0] == ",".join(header)


def test_refuses_to_overwrite_unless_asked(tmp_path):
    synth.write_synthetic(tmp_path, n_patients=5, seed=1)
    before = _read(tmp_path)
    with pytest.raises(PsmaRweError, match="already exist"):
        synth.write_synthetic(tmp_path, n_patients=5, seed=2)
    assert _read(tmp_path) == before
    synth.write_synthetic(tmp_path, n_patients=5, seed=2, overwrite=True)
    assert _read(tmp_path) != before
    assert not list(tmp_path.glob(".*.tmp"))


def test_refuses_a_file_as_folder_and_bad_sizes(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(PsmaRweError, match="not a folder"):
        synth.write_synthetic(target)
    with pytest.raises(PsmaRweError, match="1 or more"):
        synth.generate(0)


def test_csv_quotes_cells_that_need_it():
    frame = pd.DataFrame({"a": ["x", 'say "hi"', "1,2"], "b": ["", "y", "z"]}, dtype="str")
    assert b"".join(synth.csv_chunks(frame, chunk_rows=2)) == (
        b'a,b\nx,\n"say ""hi""",y\n"1,2",z\n'
    )


# --- the default cohort reproduces the study -----------------------------------------------


def test_default_cohort_validates(default_cohort):
    s = default_cohort.summary()
    assert s["patients"] == 21 and s["tests"] == len(config.TESTS)
    assert s["last_date"] <= synth.CUTOFF.isoformat()
    ids = default_cohort.patients["patient_id"]
    assert ids.str.fullmatch(r"PT-\d{4}").all()


def test_default_cohort_study_figures(default_cohort, default_psa):
    r = default_psa
    assert len(r) == 21
    assert r["evaluable"].all()

    prior = default_cohort.prior_therapies
    distinct = prior.assign(key=prior["agent"].str.lower()).drop_duplicates(["patient_id", "key"])
    counts = distinct.groupby("patient_id").size().reindex(r["patient_id"], fill_value=0)
    assert counts.median() == 6
    assert prior_therapy_counts(default_cohort).median() == 6
    assert prior.duplicated(["patient_id", "agent_key"]).any()  # a repeated course counts once

    resp = r[r["responder"]]
    assert len(resp) == 8
    assert round(100 * len(resp) / len(r), 1) == 38.1
    completed = resp[resp["treatment_status"] == "completed"]
    assert len(completed) == 6 and (completed["doses_received"] == 6).all()
    assert (resp["treatment_status"] == "ongoing").sum() == 2
    assert (resp["psa50_after_dose"] <= 2).sum() == 7
    assert (resp["psa50_after_dose"] <= 3).sum() == 8
    assert (resp["psa90_after_dose"] <= 4).sum() == 6
    assert resp["psa90_after_dose"].isna().sum() == 2
    assert int(r["psa50_confirmed"].sum()) == 8
    assert set(resp["psa50_after_dose"]) == {1, 2, 3}


def test_default_cohort_non_responders(default_cohort, default_psa):
    non = default_psa[~default_psa["responder"]]
    assert len(non) == 13
    assert (non["best_psa_change_pct"] > -45).all()
    status = non["treatment_status"].value_counts()
    assert status["discontinued"] == 9 and status["completed"] == 3 and status["ongoing"] == 1
    p = default_cohort.patients
    reasons = p.loc[p["treatment_status"] == "discontinued", "discontinuation_reason"]
    assert (reasons != "").all() and reasons.nunique() == 5


def test_default_thresholds_have_a_margin(default_cohort, default_psa):
    """No post-dose PSA within 3 % of 0.5× or 0.1× baseline, so rounding cannot flip a result."""
    m = default_cohort.measurements
    d1 = default_cohort.patients.set_index("patient_id")["first_dose_date"]
    psa = m[(m["test"] == "psa") & (m["measured_on"] > m["patient_id"].map(d1))]
    ratio = psa["value"] / psa["patient_id"].map(
        default_psa.set_index("patient_id")["baseline_psa"]
    )
    for fraction in (config.PSA50_FRACTION, config.PSA90_FRACTION):
        assert ((ratio / fraction - 1).abs() > 0.03).all()


def test_default_cohort_realistic_details(default_cohort):
    raw = pd.read_csv(config.SYNTHETIC_DIR / config.MEASUREMENTS, dtype=str, keep_default_na=False)
    units = set(zip(raw["test"], raw["unit"], strict=True))
    for test, (unit, _) in synth.OUTSIDE_UNITS.items():
        assert (test, unit) in units
    assert raw["value"].str.startswith("<").sum() in (1, 2)
    per_draw = raw.groupby(["patient_id", "measured_on"]).size()
    # treatment-period draws hold every test; follow-up draws after the treatment data PSA only
    psa_only = raw.groupby(["patient_id", "measured_on"])["test"].agg(lambda t: set(t) == {"psa"})
    assert ((per_draw == len(config.TESTS)) | ((per_draw == 1) & psa_only)).all()
    last_full = (
        per_draw[per_draw == len(config.TESTS)]
        .reset_index()
        .groupby("patient_id")["measured_on"]
        .max()
    )
    follow = per_draw[per_draw == 1].reset_index()
    assert (follow["measured_on"] > follow["patient_id"].map(last_full)).all()

    doses = default_cohort.doses
    gaps = doses.groupby("patient_id")["dose_date"].diff().dt.days.dropna()
    assert gaps.between(38, 46).all()
    first = doses.loc[doses["dose_number"] == 1, "dose_date"]
    assert first.min() >= pd.Timestamp("2022-01-01") and first.max() <= pd.Timestamp("2023-11-30")
    assert doses["activity_gbq"].between(6.8, 7.6).all()

    p = default_cohort.patients
    assert p["age_at_first_dose"].between(55, 88).all()
    assert p["ecog"].isin([0, 1, 2]).all() and (p["ecog"] == 1).sum() > 10
    assert p["gleason_score"].isna().sum() in (1, 2)

    prior = default_cohort.prior_therapies
    for klass in ("adt", "arpi"):
        assert prior.loc[prior["therapy_class"] == klass, "patient_id"].nunique() == 21
    assert prior.loc[prior["therapy_class"] == "taxane", "patient_id"].nunique() > 10


def test_every_dose_has_a_predose_lab(default_cohort):
    from analysis.labs import predose_values

    pre = predose_values(default_cohort, ("hemoglobin",))
    assert len(pre) == len(default_cohort.doses)


# --- any size keeps the study's proportions -------------------------------------------------


def test_other_size_and_seed_validates_and_keeps_proportions(tmp_path):
    n = 500
    synth.write_synthetic(tmp_path, n_patients=n, seed=11)
    cohort = load_cohort(tmp_path)
    r = patient_psa(cohort)
    assert len(r) == n and r["evaluable"].all()
    assert 0.3 <= r["responder"].mean() <= 0.45

    counts = synth.largest_remainder(n, [a.count for a in synth.ARCHETYPES])
    expected_resp = sum(c for c, a in zip(counts, synth.ARCHETYPES, strict=True) if a.responder)
    assert r["responder"].sum() == expected_resp
    assert r["psa50_confirmed"].sum() == expected_resp
    for dose in (1, 2, 3):
        want = sum(c for c, a in zip(counts, synth.ARCHETYPES, strict=True) if a.psa50 == dose)
        assert (r["psa50_after_dose"] == dose).sum() == want
    for dose in (3, 4):
        want = sum(c for c, a in zip(counts, synth.ARCHETYPES, strict=True) if a.psa90 == dose)
        assert (r["psa90_after_dose"] == dose).sum() == want
    assert (r.loc[~r["responder"], "best_psa_change_pct"] > -45).all()
    assert prior_therapy_counts(cohort).median() == 6


# --- building blocks ---------------------------------------------------------------------------


def test_largest_remainder_is_exact_at_the_reference_size():
    weights = [a.count for a in synth.ARCHETYPES]
    assert synth.largest_remainder(synth.REFERENCE_N, weights).tolist() == weights
    for n in (1, 2, 10, 22, 500, 10_001):
        assert synth.largest_remainder(n, weights).sum() == n


@pytest.mark.parametrize("n", [1, 3, 21, 99, 1001, 100_001])
def test_prior_count_median_is_six_for_odd_sizes(n):
    counts = synth.prior_count_quantiles(n)
    assert np.median(counts) == 6
    assert counts.min() >= 2 and counts.max() <= 10


def test_format_fixed_writes_lab_style_numbers():
    got = synth.format_fixed(np.array([0.0, 0.05, 1.005, 12.3, 1234.567]), 2).tolist()
    assert got == ["0.00", "0.05", "1.00", "12.30", "1234.57"]
    assert synth.format_fixed(np.array([7.0, 215.4]), 0).tolist() == ["7", "215"]
