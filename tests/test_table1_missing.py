"""Table 1's missing values as gtsummary counts them: outside the percentages and the tests.

The hand-made cohort of tests/handmade.py (responders P1, P3, P5; non-responders P2, P4),
with race, ethnicity and P4's baseline PSA changed per test; every figure is worked out
by hand in the comments.
"""

from __future__ import annotations

import csv

import pytest

from analysis import config, tables
from analysis.analyze import run_analysis
from analysis.load import load_cohort
from tests.handmade import handmade_cohort


def _rewrite(path, change) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = [change(dict(r)) for r in rows]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


RACE = {"P1": "", "P2": "Black", "P3": "White", "P4": "Unknown", "P5": "White"}
ETHNICITY = {"P1": "Hispanic or Latino", "P2": ""}


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    folder = handmade_cohort(tmp_path_factory.mktemp("missing"))

    def patients(r):
        r["race"] = RACE[r["patient_id"]]
        r["ethnicity"] = ETHNICITY.get(r["patient_id"], r["ethnicity"])
        return r

    def measurements(r):
        # P4's baseline PSA (10.0 on 2023-01-01, the only one in its window) becomes 0
        if (r["patient_id"], r["measured_on"], r["test"]) == ("P4", "2023-01-01", "psa"):
            r["value"] = "0"
        return r

    _rewrite(folder / config.PATIENTS, patients)
    _rewrite(folder / config.MEASUREMENTS, measurements)
    return run_analysis(load_cohort(folder))


def _var(analysis, name):
    return next(v for v in analysis.results.table1.variables if v.name == name)


def test_blank_race_is_missing_and_a_written_unknown_is_a_level(analysis):
    race = _var(analysis, "race")
    # known: P2 Black, P3 White, P4 "Unknown" (written), P5 White; P1 blank → missing.
    assert (race.overall.n, race.overall.missing) == (4, 1)
    assert (race.responders.n, race.responders.missing) == (2, 1)  # P3, P5; P1 missing
    assert (race.non_responders.n, race.non_responders.missing) == (2, 0)  # P2, P4
    assert race.level_order == ("White", "Black", "Unknown")  # by frequency; Unknown last
    # denominators are the 4 (2, 2) known values, not 5 (3, 2)
    got = {lv: (c.n, c.pct, c.denominator) for lv, c in race.overall.levels.items()}
    assert got == {"White": (2, 50.0, 4), "Black": (1, 25.0, 4), "Unknown": (1, 25.0, 4)}
    assert race.responders.levels["White"].pct == 100.0
    assert race.non_responders.levels["Black"].pct == 50.0
    # Fisher on rows White (2, 0), Black (0, 1), Unknown (0, 1): the 2 responders are one
    # of C(4, 2) = 6 equally likely pairs of the 4 known patients.  Pairs: {W, W} 1,
    # {W, B} 2, {W, U} 2, {B, U} 1 → probabilities 1/6, 2/6, 2/6, 1/6.  Observed {W, W}
    # = 1/6; tables no more probable: {W, W} and {B, U} → p = 2/6 = 1/3
    # (R: fisher.test(matrix(c(2, 0, 0, 0, 1, 1), 3)) → 0.3333).
    assert race.test == "fisher"
    assert race.p_value == pytest.approx(1 / 3, rel=1e-9)


def test_blank_ethnicity_is_missing(analysis):
    eth = _var(analysis, "ethnicity")
    # P1 Hispanic (responder), P2 blank (non-responder), P3-P5 Not Hispanic
    assert (eth.overall.n, eth.overall.missing) == (4, 1)
    assert (eth.non_responders.n, eth.non_responders.missing) == (1, 1)
    assert "Unknown" not in eth.overall.levels
    assert eth.overall.levels["Not Hispanic or Latino"].pct == 75.0  # 3 of 4
    assert eth.responders.levels["Hispanic or Latino"].pct == pytest.approx(33.3)  # 1 of 3


def test_baseline_psa_of_zero_is_missing_in_table1_as_in_patient_summary(analysis):
    psa = _var(analysis, "baseline_psa")
    # baselines P1 100, P3 40, P5 123 (all responders); P2 none, P4 0 → both missing.
    # Type 2 on 40 100 123 (n = 3): median n·p = 1.5 → x2 = 100; Q1 0.75 → x1 = 40;
    # Q3 2.25 → x3 = 123.
    assert (psa.overall.n, psa.overall.missing) == (3, 2)
    assert (psa.overall.median, psa.overall.q1, psa.overall.q3) == (100.0, 40.0, 123.0)
    assert (psa.non_responders.n, psa.non_responders.missing) == (0, 2)
    assert psa.non_responders.median is None
    assert psa.p_value is None  # no non-responder with a value: no test
    summary = analysis.patient_summary.set_index("patient_id")
    assert summary.loc["P4", "baseline_psa"] == "" and summary.loc["P2", "baseline_psa"] == ""


def _rows(html: str) -> list[tuple[str, list[str]]]:
    import re

    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        th = re.search(r"<th[^>]*>(.*?)</th>", tr, re.S)
        tds = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        if th and tds:
            label = re.sub(r"<[^>]+>", "", th.group(1)).replace(tables.NBSP, " ").strip()
            out.append((label, [re.sub(r"<[^>]+>", "", t).strip() for t in tds]))
    return out


def test_table1_shows_missing_rows_with_counts_only(analysis):
    rows = _rows(tables.to_html(tables.table1(analysis.results)))
    labels = [label for label, _ in rows]
    race = labels.index("Race")
    # a written "Unknown" is a level, with its percentage; the missing row is "Missing"
    assert rows[race + 1 : race + 5] == [
        ("White", ["2 (50.0%)", "2 (100.0%)", "0 (0.0%)", ""]),
        ("Black", ["1 (25.0%)", "0 (0.0%)", "1 (50.0%)", ""]),
        ("Unknown", ["1 (25.0%)", "0 (0.0%)", "1 (50.0%)", ""]),
        ("Missing", ["1", "1", "0", ""]),
    ]
    eth = labels.index("Ethnicity")
    eth_rows = rows[eth + 1 : eth + 4]
    assert eth_rows[-1] == ("Missing", ["1", "0", "1", ""])  # gtsummary's missing row
    psa = labels.index("PSA, ng/mL")
    assert rows[psa] == ("PSA, ng/mL", ["100 (40, 123)", "100 (40, 123)", "\u2014", ""])
    assert rows[psa + 1] == ("Missing", ["2", "0", "2", ""])
    html = tables.to_html(tables.table1(analysis.results))
    assert "a baseline PSA of 0, not PSA-evaluable" in html
