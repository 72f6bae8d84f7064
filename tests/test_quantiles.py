"""Table 1's quartiles: R's ``quantile(type = 2)``, as gtsummary ≥ 2.0 computes them.

Reference numbers come from base R, never from running R in the tests:

* ``tests/r/quantile_reference.json`` (``tests/r/quantile_reference.R``): type 2
  (and type 7, for contrast) of hand-picked vectors — odd and even n, ties, n = 1, 2.
* ``tests/r/table1_quartiles.json`` (``tests/r/table1_quartiles.R``): type 2 of the
  shipped synthetic cohort's Table 1 continuous variables, overall and by PSA50
  response, read from ``tests/r/table1_inputs.csv``.  That file is written by
  ``python tests/test_quantiles.py`` and a test checks it still matches the cohort.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stats import quantile_type2, quartiles, quartiles_type2

R_DIR = Path(__file__).parent / "r"
REFERENCE = json.loads((R_DIR / "quantile_reference.json").read_text())
INPUTS = R_DIR / "table1_inputs.csv"
TABLE1_R = json.loads((R_DIR / "table1_quartiles.json").read_text())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_type2_matches_r(name):
    ref = REFERENCE[name]
    got = [quantile_type2(ref["x"], p) for p in ref["probs"]]
    assert got == ref["type2"]  # exact: the same operations as R's quantile.default
    assert list(quartiles_type2(ref["x"])) == ref["type2"]


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_type7_is_still_pandas_linear_rule(name):
    ref = REFERENCE[name]
    assert list(quartiles(ref["x"])) == pytest.approx(ref["type7"], rel=1e-12)


def test_type7_quartiles_are_pandas_own_bit_for_bit():
    """quartiles() calls np.percentile as Series.quantile does, without its overhead:
    the same floats, on values of every scale, ties, integers and missing values."""
    rng = np.random.default_rng(7)
    for i in range(2000):
        n = int(rng.integers(1, 50))
        x = [
            rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 6)),
            rng.integers(0, 12, size=n).astype(float),
            np.round(rng.lognormal(size=n), 2),
        ][i % 3].tolist()
        if i % 5 == 0 and n > 1:
            x[0] = None
        q = pd.Series(x, dtype=float).dropna().quantile([0.5, 0.25, 0.75])
        assert quartiles(x) == tuple(float(v) for v in q), x
    assert quartiles([None, np.nan]) == (None, None, None)
    # by hand: x = 1 2 3 4, type 7: h = (n − 1)p + 1 → Q1 at 1.75, median 2.5, Q3 3.25
    assert quartiles([4, 1, 3, 2]) == (2.5, 1.75, 3.25)


def test_type2_by_hand():
    # n = 4, x = 1 2 3 4.  Q1: n·p = 1 is whole → (x1 + x2)/2 = 1.5; median n·p = 2 →
    # (x2 + x3)/2 = 2.5; Q3: 3 → (x3 + x4)/2 = 3.5.  (Type 7 would give 1.75, 2.5, 3.25.)
    assert quartiles_type2([4, 1, 3, 2]) == (2.5, 1.5, 3.5)
    # n = 5, x = 10 20 30 40 50.  Q1: n·p = 1.25 → x2 = 20; median 2.5 → x3 = 30;
    # Q3 3.75 → x4 = 40 (type 7 gives the same here: (n − 1)p + 1 = 2, 3, 4 are whole).
    assert quartiles_type2([50, 10, 40, 20, 30]) == (30.0, 20.0, 40.0)
    # n = 8, x = 1 2 … 8: Q1 n·p = 2 → (2 + 3)/2 = 2.5; Q3 6 → (6 + 7)/2 = 6.5.
    assert quartiles_type2(range(1, 9)) == (4.5, 2.5, 6.5)
    # n = 1: every quantile is the value; n = 2: Q1 n·p = 0.5 → x1, Q3 1.5 → x2.
    assert quartiles_type2([7.0]) == (7.0, 7.0, 7.0)
    assert quartiles_type2([3, 10]) == (6.5, 3.0, 10.0)
    # ties at a discontinuity: x = 2 2 5 5, Q1 n·p = 1 → (2 + 2)/2 = 2, no averaging issue
    assert quartiles_type2([5, 2, 5, 2]) == (3.5, 2.0, 5.0)
    # the ends: p = 0 → x1 (x0 = x1), p = 1 → xn (x_{n+1} = xn)
    assert quantile_type2([3, 1, 2], 0) == 1.0 and quantile_type2([3, 1, 2], 1) == 3.0


def test_type2_missing_and_empty():
    assert quartiles_type2([np.nan, None, 4, 1, 3, 2]) == (2.5, 1.5, 3.5)
    assert quartiles_type2([]) == (None, None, None)
    assert quartiles_type2([np.nan]) == (None, None, None)
    with pytest.raises(ValueError, match="prob"):
        quantile_type2([1, 2], 1.5)


# --- the shipped cohort's Table 1 against R ----------------------------------------------


def table1_inputs() -> pd.DataFrame:
    """Long frame ``variable, group, value`` of Table 1's continuous variables (shipped cohort)."""
    from analysis import config
    from analysis.cohort import prior_therapy_counts
    from analysis.labs import baseline_values, bmi
    from analysis.load import load_cohort
    from analysis.psa import patient_psa

    cohort = load_cohort(config.SYNTHETIC_DIR)
    p = cohort.patients.set_index("patient_id")
    resp = patient_psa(cohort).set_index("patient_id")["responder"].reindex(p.index)
    baseline = baseline_values(cohort)
    values = {
        "age": p["age_at_first_dose"],
        "bmi": bmi(cohort, baseline),
        "prior_therapies": prior_therapy_counts(cohort).astype(float),
        "baseline_psa": baseline["psa"].where(baseline["psa"] > 0),
    }
    for test in ("hemoglobin", "platelets", "alkaline_phosphatase", "ldh", "albumin", "creatinine"):
        values[test] = baseline[test]
    rows = []
    for name, v in values.items():
        v = v.reindex(p.index).astype(float)
        for pid, x in v.items():
            rows.append((name, "responder" if resp[pid] else "non_responder", x))
    return pd.DataFrame(rows, columns=["variable", "group", "value"])


def test_table1_inputs_file_matches_the_shipped_cohort():
    committed = pd.read_csv(INPUTS, float_precision="round_trip")
    now = table1_inputs()
    assert list(committed["variable"]) == list(now["variable"])
    assert list(committed["group"]) == list(now["group"])
    # written with repr(): round-trips exactly
    np.testing.assert_array_equal(committed["value"].to_numpy(), now["value"].to_numpy())


def test_shipped_table1_quartiles_are_r_type2():
    from analysis import config
    from analysis.analyze import run_analysis
    from analysis.load import load_cohort

    t1 = run_analysis(load_cohort(config.SYNTHETIC_DIR)).results.table1
    checked = 0
    for var in t1.variables:
        if var.kind != "continuous":
            continue
        for group, stat in (
            ("overall", var.overall),
            ("responder", var.responders),
            ("non_responder", var.non_responders),
        ):
            ref = TABLE1_R[var.name][group]
            assert (stat.median, stat.q1, stat.q3) == tuple(ref), (var.name, group)
            checked += 1
    assert checked == 30
    # the cell that exposed the difference: baseline PSA of the 8 responders, gtsummary's
    # 60 (46, 106), not the linear rule's 60 (48, 93)
    psa = next(v for v in t1.variables if v.name == "baseline_psa").responders
    assert (round(psa.median), round(psa.q1), round(psa.q3)) == (60, 46, 106)


def _write_inputs() -> None:
    frame = table1_inputs()
    frame["value"] = [repr(float(v)) if not math.isnan(v) else "NA" for v in frame["value"]]
    frame.to_csv(INPUTS, index=False, lineterminator="\n")


if __name__ == "__main__":  # python tests/test_quantiles.py → tests/r/table1_inputs.csv
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    _write_inputs()
