"""The fast paths give exactly what the plain code gives.

Reading (pandas' C parser instead of the ``csv`` module), validation (per distinct
value instead of per row) and the analysis (integer codes instead of text) have
fast paths for large cohorts; each is compared here with the plain version it
replaces, on inputs chosen to hit the edges: numbers with leading zeros, words
pandas would turn into booleans, blank cells, white space, a byte-order mark,
unsorted rows, ties and the 14-day boundary of the pre-dose window.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cohorts import minimal_cohort

from analysis import config, labs, load
from analysis.load import Cohort, load_cohort, read_raw, sort_stable, text_codes


def _slow_read(path: Path, monkeypatch) -> tuple[pd.DataFrame | None, list]:
    with monkeypatch.context() as m:
        m.setattr(load, "_read_simple", lambda raw: None)
        return read_raw(path)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({c: str for c in frame.columns if c != load.LINE})


SIMPLE = {
    "doses.csv": (
        "patient_id,dose_number,dose_date,activity_gbq\n"
        "P1,01,2023-01-10, 7.4\n"
        "P1,1,2023-01-10,7.40\n"
        " P2 ,2,2023-02-21,\n"
        "P2,true,2023-02-21,True\n"
        "P3,2.0,  ,nan\n"
    ),
    "measurements.csv": (
        "\ufeffpatient_id,measured_on,test,value,unit\n"
        "P1,2023-01-05,PSA,<0.1,ng/mL\n"
        "P1,2023-01-05,psa,0.10,µmol/L\n"
        "P1,2023-01-05,psa,1e3,  \n"
        "P2,2023-01-05,weight,80,\tlb\n"
        ",,,,\n"
    ),
    "prior_therapies.csv": (
        "patient_id , agent,therapy_class,start_date\nP1,  Leuprolide   acetate ,ADT,2019-05-01"
    ),
    "quoted/measurements.csv": (
        '"patient_id","measured_on","test","value","unit"\r\n'
        '"P1","2023-01-05","psa","<0.1","ng/mL"\r\n'
        '"P1",2023-01-05,"psa"," 01 ",""\r\n'
        '"P2","2023-01-05" ,psa,"7","ng/mL"\r\n'
    ),
    "patients.csv": (
        "patient_id,age_at_first_dose,race,ethnicity,ecog,gleason_score,de_novo_metastatic,"
        "bone_mets,lymph_node_mets,visceral_mets,height_cm,treatment_status,"
        "discontinuation_reason\r\n"
        "P1,70,White,,1,8,TRUE,true,False,false,175,Completed,\r\n"
        "P2,070,Asian,Hispanic or Latino,01,,false,true,true,true,175.0,discontinued, pain \r\n"
    ),
}


@pytest.mark.parametrize("name", sorted(SIMPLE))
def test_fast_read_matches_csv_module(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(SIMPLE[name], encoding="utf-8")
    assert load._read_simple(path.read_bytes()) is not None  # the fast path applies
    fast, fast_problems = read_raw(path)
    slow, slow_problems = _slow_read(path, monkeypatch)
    assert fast_problems == slow_problems == []
    pd.testing.assert_frame_equal(_as_text(fast), _as_text(slow))
    assert fast[load.LINE].tolist() == list(range(2, len(fast) + 2))


@pytest.mark.parametrize(
    "content",
    [
        "patient_id,agent,therapy_class,start_date\nP1,a,adt,2019-05-01\n\nP1,b,adt,2019-05-01\n",
        "patient_id,agent,therapy_class,start_date\nP1,a,adt\nP1,b,adt,2019-05-01,x\n",
        'patient_id,agent,therapy_class,start_date\nP1,"a, b",adt,2019-05-01\n',
        'patient_id,agent,therapy_class,start_date\nP1,"a ""b""",adt,2019-05-01\n',
        'patient_id,agent,therapy_class,start_date\nP1,"a\nb",adt,2019-05-01\n',
        'patient_id,agent,therapy_class,start_date\nP1,a"b,adt,2019-05-01\n',
        'patient_id,agent,therapy_class,start_date\nP1,"a,adt,2019-05-01\n',
        '"patient_id,agent",therapy_class,start_date\nP1,a,adt,2019-05-01\n',
        'patient_id,agent,therapy_class,start_date\n"P1","a","adt"\n"P1","a","adt","x","y"\n',
        "patient_id,agent,therapy_class,start_date\nP1,a\r,adt,2019-05-01\n",
        "patient_id,agent,therapy_class,start_date\r\nP1,a,adt,2019-05-01\r",
        "patient_id,agent,therapy_class,start_date\n",
        "patient_id,agent,therapy_class,start_date\nP1,a,adt,2019-05-01\n   \n",
        "patient_id,agent,therapy_class\nP1,a,adt,2019-05-01\n",
    ],
)
def test_other_files_take_the_csv_module_path(tmp_path, monkeypatch, content):
    path = tmp_path / config.PRIOR_THERAPIES
    path.write_text(content, encoding="utf-8")
    assert load._read_simple(path.read_bytes()) is None
    fast, fast_problems = read_raw(path)
    slow, slow_problems = _slow_read(path, monkeypatch)
    assert fast_problems == slow_problems
    if slow is not None:
        pd.testing.assert_frame_equal(_as_text(fast), _as_text(slow))


def test_loaded_cohort_is_the_same_either_way(tmp_path, monkeypatch):
    folder = minimal_cohort(tmp_path)
    for data in (config.SYNTHETIC_DIR, folder):
        fast = load_cohort(data)
        with monkeypatch.context() as m:
            m.setattr(load, "_read_simple", lambda raw: None)
            slow = load_cohort(data)
        for field in ("patients", "doses", "measurements", "prior_therapies"):
            pd.testing.assert_frame_equal(getattr(fast, field), getattr(slow, field))


def test_text_codes_and_sort_on_unsorted_rows():
    column = pd.Series(["b", "a", "b", "b", None, "a", "c"], dtype="str")
    codes = text_codes(column)
    back = [None if c < 0 else codes.values[c] for c in codes.codes]
    assert back == [None if pd.isna(v) else v for v in column]
    assert codes.rows_equal("b").tolist() == (column == "b").tolist()
    assert not codes.rows_equal("zzz").any()
    frame = pd.DataFrame({"k": ["b", "a", "b", "a"], "d": [2, 1, 1, 1], "v": [0, 1, 2, 3]})
    expected = frame.sort_values(["k", "d"], kind="stable")
    pd.testing.assert_frame_equal(sort_stable(frame, ["k", "d"]), expected)
    assert sort_stable(expected, ["k", "d"]) is expected


def _cohort_with_edges(base: Cohort) -> Cohort:
    """The loaded cohort plus hemoglobin values 14 and 15 days before dose 2, ties."""
    d = base.doses
    rows = []
    for pid, when in zip(d["patient_id"], d["dose_date"], strict=True):
        for days, value in ((14, 9.1), (15, 9.2), (0, 9.3), (0, 9.4), (3, 9.5)):
            rows.append((pid, when - pd.Timedelta(days=days), "hemoglobin", value))
    extra = pd.DataFrame(rows, columns=["patient_id", "measured_on", "test", "value"])
    extra = extra.assign(censored=False, unit="g/dL")
    extra["patient_id"] = extra["patient_id"].astype("str")
    extra["test"] = extra["test"].astype("str")
    extra["unit"] = extra["unit"].astype("str")
    meas = pd.concat([base.measurements, extra], ignore_index=True)
    meas = meas.iloc[np.random.default_rng(1).permutation(len(meas))].reset_index(drop=True)
    return dataclasses.replace(base, measurements=meas)


@pytest.mark.parametrize(
    "tests",
    [config.TESTS, ("hemoglobin",), ("psa", "weight", "psa"), ("no-such-test", "albumin")],
)
def test_predose_by_codes_matches_merge_asof(monkeypatch, tests):
    base = load_cohort(config.SYNTHETIC_DIR)
    for cohort in (base, _cohort_with_edges(base)):
        fast, fast_key = labs._predose(cohort, tests)
        assert labs._predose_by_codes(cohort, tuple(tests)) is not None
        with monkeypatch.context() as m:
            m.setattr(labs, "_predose_by_codes", lambda *args: None)
            plain, plain_key = labs._predose(cohort, tests)
            plain_points = labs.trajectories(cohort) if tests == config.TESTS else None
        pd.testing.assert_frame_equal(fast, plain)
        assert fast.index.equals(plain.index)
        # the keys tell the same (patient, test) pairs apart
        assert (pd.factorize(fast_key)[0] == pd.factorize(plain_key)[0]).all()
        if plain_points is not None:
            assert labs.trajectories(cohort) == plain_points
