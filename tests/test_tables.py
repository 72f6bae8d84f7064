"""Publication tables (analysis/tables.py): formats, escaping, CSS scoping, pandoc, determinism.

Most tests use ``built_results()``, a StudyResults put together by hand from the
dataclasses (so they do not depend on the analysis); the synthetic cohort
checks the headline cell against the known 8 of 21 PSA50 responders.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import json
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from analysis import config, tables
from analysis.models import MultivariableDecision, RegressionRow
from analysis.results import (
    CohortSummary,
    Count,
    GroupStat,
    LabPoint,
    Milestone,
    PriorTherapySummary,
    PsaResponse,
    RegressionSummary,
    Responders,
    StudyResults,
    Table1,
    Table1Variable,
    ToxicityFlag,
)
from analysis.stats import pct

SCRIPT = "<script>alert(1)</script>"


class HTMLSnapshotExtension(SingleFileSnapshotExtension):
    """One ``.html`` file per snapshot in ``tests/__snapshots__/test_tables/``."""

    file_extension = "html"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def html_snapshot(snapshot):
    return snapshot.use_extension(HTMLSnapshotExtension)


# --- a hand-built StudyResults ------------------------------------------------------


def c(n: int, d: int) -> Count:
    return Count(n, pct(n, d), d)


def levels(counts: dict[str, int]) -> dict[str, Count]:
    total = sum(counts.values())
    return {k: c(v, total) for k, v in counts.items()}


def cont(n, missing, median, q1, q3) -> GroupStat:
    return GroupStat(n=n, missing=missing, median=median, q1=q1, q3=q3)


def cat(counts: dict[str, int], missing: int = 0) -> GroupStat:
    return GroupStat(n=sum(counts.values()), missing=missing, levels=levels(counts))


def row(term, label, method, status="ok", odds=None, lo=None, hi=None, p=None, note=""):
    return RegressionRow(
        term=term,
        label=label,
        method=method,
        model="univariable",
        odds_ratio=odds,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        n=21,
        events=8,
        status=status,
        note=note,
    )


def built_results(race_level: str = SCRIPT) -> StudyResults:
    """21 patients, 8 PSA50 responders; every table kind and status represented."""
    variables = (
        Table1Variable(
            "age",
            "Age, years",
            "continuous",
            "",
            cont(21, 0, 71.0, 66.0, 76.5),
            cont(8, 0, 74.5, 70.0, 78.0),
            cont(13, 0, 68.0, 64.0, 73.0),
            "wilcoxon",
            0.0004,
        ),
        Table1Variable(
            "race",
            "Race",
            "categorical",
            "",
            cat({"White": 17, race_level: 3, "Unknown": 1}),
            cat({"White": 7, race_level: 1, "Unknown": 0}),
            cat({"White": 10, race_level: 2, "Unknown": 1}),
            "fisher",
            0.012,
            ("White", race_level, "Unknown"),
        ),
        Table1Variable(
            "de_novo_metastatic",
            "De novo metastatic disease",
            "dichotomous",
            "",
            cat({"Yes": 6, "No": 14}, missing=1),
            cat({"Yes": 2, "No": 6}),
            cat({"Yes": 4, "No": 8}, missing=1),
            "chisq",
            0.95,
            ("Yes", "No"),
        ),
        Table1Variable(
            "bone_mets",
            "Bone",
            "dichotomous",
            "Metastatic sites",
            cat({"Yes": 19, "No": 2}),
            cat({"Yes": 8, "No": 0}),
            cat({"Yes": 11, "No": 2}),
            "fisher",
            0.5,
            ("Yes", "No"),
        ),
        Table1Variable(
            "baseline_psa",
            "PSA, ng/mL",
            "continuous",
            "Baseline laboratory values",
            cont(19, 2, 85.25, 20.5, 310.0),
            cont(8, 0, 120.0, 40.0, 400.0),
            cont(11, 2, 60.0, 12.0, 200.0),
            "wilcoxon",
            0.049,
        ),
    )
    milestones = (
        Milestone(1, 5, 1, pct(5, 21), pct(1, 21), pct(5, 8), pct(1, 8)),
        Milestone(2, 7, 3, pct(7, 21), pct(3, 21), pct(7, 8), pct(3, 8)),
        Milestone(3, 8, 4, pct(8, 21), pct(4, 21), pct(8, 8), pct(4, 8)),
    )
    classes = dict.fromkeys(config.THERAPY_CLASSES, 0) | {"adt": 21, "arpi": 18, "taxane": 9}
    reg_rows = (
        row("age", "Age, per 10 years", "ml", odds=1.5312, lo=0.7, hi=3.349, p=0.27),
        row("age", "Age, per 10 years", "firth", odds=1.48, lo=0.69, hi=3.2, p=0.31),
        row("ecog_ge1", "ECOG ≥ 1 (vs 0)", "ml", "separation", note="Complete separation."),
        row(
            "ecog_ge1",
            "ECOG ≥ 1 (vs 0)",
            "firth",
            "separation",
            odds=0.004,
            lo=0.0001,
            hi=0.31,
            p=0.0031,
            note="Complete separation; finite only because of Firth's penalty.",
        ),
        row("ldh", "LDH, per 100 U/L", "ml", odds=0.81, lo=0.52, hi=1.26, p=0.35),
        row(
            "ldh",
            "LDH, per 100 U/L",
            "firth",
            "not_converged",
            odds=0.83,
            lo=0.54,
            p=0.4,
            note="Profile-likelihood upper CI bound did not converge.",
        ),
        row(
            "albumin",
            "Albumin, per 1 g/dL",
            "ml",
            "not_estimable",
            note="Not estimable: 6 complete cases; at least 10 are needed.",
        ),
        row(
            "albumin",
            "Albumin, per 1 g/dL",
            "firth",
            "not_estimable",
            note="Not estimable: 6 complete cases; at least 10 are needed.",
        ),
        row("psa", "Baseline PSA, per doubling", "ml", odds=123.4, lo=2.0, hi=4567.0, p=0.05),
        row("psa", "Baseline PSA, per doubling", "firth", odds=98.7, lo=1.9, hi=3210.0, p=0.06),
    )
    return StudyResults(
        cohort=CohortSummary(
            n_patients=21,
            n_psa_evaluable=20,
            n_doses_total=70,
            doses_median=4.0,
            doses_q1=2.0,
            doses_q3=5.0,
            doses_min=1,
            doses_max=6,
            by_status={"completed": 12, "ongoing": 5, "discontinued": 4},
            max_dose_number=3,
        ),
        prior_therapies=PriorTherapySummary(
            median=2.0,
            q1=1.5,
            q3=3.0,
            min=0,
            max=6,
            by_class=classes,
            by_class_pct={k: pct(v, 21) for k, v in classes.items()},
        ),
        psa_response=PsaResponse(
            psa50=c(8, 21),
            psa90=c(4, 21),
            psa50_confirmed=c(6, 21),
            milestones=milestones,
            best_change_median=-41.25,
            best_change_q1=-88.04,
            best_change_q3=12.5,
        ),
        responders=Responders(8, 4, 2, 2, 4, 4, pct(4, 8), 6),
        table1=Table1(21, 8, 13, variables),
        labs=(
            LabPoint("hemoglobin", "Hemoglobin", "g/dL", 1, 21, 12.04, 11.1, 13.0, 21, 0, 0, 0),
            LabPoint("hemoglobin", "Hemoglobin", "g/dL", 2, 18, 11.6, 10.8, 12.5, 18, -0.4, -1, 0),
            LabPoint("platelets", "Platelets", "×10⁹/L", 1, 20, 221.0, 180.0, 260.0, 20, 0, 0, 0),
            LabPoint("weight", "Weight", "kg", 1, 21, 80.0, 75.0, 90.0, 21, 0, 0, 0),
        ),
        toxicity=(
            ToxicityFlag(
                "anemia_grade2",
                "Anemia grade ≥ 2",
                "hemoglobin < 10 g/dL",
                c(2, 21),
                c(5, 20),
                c(3, 20),
            ),
            ToxicityFlag(
                "thrombocytopenia_grade2",
                "Thrombocytopenia grade ≥ 2",
                "platelets < 75 ×10⁹/L",
                c(0, 0),
                c(0, 0),
                c(0, 0),
            ),
        ),
        regression=RegressionSummary(
            outcome="psa50_response",
            rows=reg_rows,
            multivariable=MultivariableDecision(
                False,
                "8 events among 19 complete cases for 12 terms (0.7 per term); "
                "at least 10 events per term are needed",
                8,
                12,
                8 / 12,
            ),
            multivariable_rows=(),
        ),
        definitions={
            "baseline_window_days": 60,
            "psa50_fraction": 0.5,
            "psa90_fraction": 0.1,
            "confirmation_days": 21,
            "predose_lab_window_days": 14,
            "hb_grade2_g_dl": 10.0,
            "plt_grade2_10e9_l": 75.0,
            "min_events_per_variable": 10,
        },
    )


@pytest.fixture(scope="module")
def results() -> StudyResults:
    return built_results()


@pytest.fixture(scope="module")
def fragments(results) -> dict[str, str]:
    return tables.fragments(results)


# --- HTML helpers -------------------------------------------------------------------


class _Cells(HTMLParser):
    """Text of every <td>/<th> cell (title row included), in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.rows: list[list[str]] = []
        self._depth = 0
        self._style = False

    def handle_starttag(self, tag, attrs):
        if tag == "style":
            self._style = True
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._depth += 1
            self.cells.append("")
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "style":
            self._style = False
        if tag in ("td", "th"):
            self._depth -= 1

    def handle_data(self, data):
        if self._depth and not self._style:
            self.cells[-1] += data
            self.rows[-1][-1] += data


def cells(html: str) -> list[str]:
    parser = _Cells()
    parser.feed(html)
    return parser.cells


def body_list(html: str) -> list[tuple[str, list[str]]]:
    """Body rows as (stub label without its no-break-space indentation, cells)."""
    tbody = re.search(r"<tbody.*?</tbody>", html, re.S).group(0)
    parser = _Cells()
    parser.feed(tbody)
    return [(r[0].replace(tables.NBSP, ""), r[1:]) for r in parser.rows if r]


def body_rows(html: str) -> dict[str, list[str]]:
    """Body rows by stub label (the first row of each label)."""
    out: dict[str, list[str]] = {}
    for label, row_cells in body_list(html):
        out.setdefault(label, row_cells)
    return out


def style_selectors(html: str) -> list[str]:
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    return [s.strip() for sels in re.findall(r"([^{}]+)\{", css) for s in sels.split(",")]


# --- number formats -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.0004, "<0.001"),
        (0.012, "0.012"),
        (0.049, "0.049"),
        (0.5, "0.5"),
        (0.95, ">0.9"),
        # gtsummary's style_pvalue() example vector (digits = 1)
        (1, ">0.9"),
        (0.999, ">0.9"),
        (0.9, "0.9"),
        (0.25, "0.3"),
        (0.2, "0.2"),
        (0.197, "0.2"),
        (0.12, "0.12"),
        (0.10, "0.10"),
        (0.0999, "0.10"),
        (0.06, "0.060"),
        (0.05, "0.050"),
        (0.03, "0.030"),
        (0.002, "0.002"),
        (0.001, "0.001"),
        (0.00099, "<0.001"),
        (0.0002, "<0.001"),
        (0.0, "<0.001"),
        (0.0125, "0.013"),  # round half away from zero, as gtsummary's round2()
    ],
)
def test_format_p_follows_gtsummary_style_pvalue(p, expected):
    assert tables.format_p(p) == expected


def test_format_p_none_is_blank_and_out_of_range_raises():
    assert tables.format_p(None) == ""
    for bad in (1.5, -1.0, float("nan")):
        with pytest.raises(ValueError):
            tables.format_p(bad)


def test_number_formats():
    assert tables.fmt_number(-41.25, 1) == "\u221241.3"
    assert tables.fmt_number(-0.04, 1) == "0.0"
    assert tables.fmt_number(None, 1) == tables.DASH
    assert tables.fmt_count(c(8, 21)) == "8 (38.1%)"
    assert tables.fmt_count(c(5, 20), True) == "5/20 (25.0%)"
    assert tables.fmt_count(c(0, 0)) == tables.DASH
    assert tables.fmt_or_ci(1.5312, 0.7, 3.349) == "1.53 (0.70\u20133.35)"
    assert tables.fmt_or_ci(123.4, 2.0, 999.0) == "123 (2.00\u2013999)"
    # beyond the range shown: > 999 and < 0.001 (degenerate fits; footnoted in the table)
    assert tables.fmt_or_ci(123.4, 2.0, 4567.0) == "123 (2.00\u2013>999)"
    assert tables.fmt_or_ci(245_273_024.0, 3.1, 2.06e14) == ">999 (3.10\u2013>999)"
    assert tables.fmt_or_ci(0.004, 0.0001, 0.31) == "<0.01 (<0.001\u20130.31)"
    assert tables.fmt_or_ci(0.004, 0.001, 0.31) == "<0.01 (<0.01\u20130.31)"  # 0.001 shown
    assert tables.fmt_or_ci(0.83, 0.54, None) == "0.83 (0.54\u2013NE)"
    assert tables.fmt_or_ci(None, None, None) == tables.DASH


# --- snapshots ----------------------------------------------------------------------


def test_snapshot_psa_response(fragments, html_snapshot):
    assert fragments["psa_response"] == html_snapshot


def test_snapshot_milestones(fragments, html_snapshot):
    assert fragments["milestones"] == html_snapshot


# --- key cells ----------------------------------------------------------------------


def test_every_table_has_its_fixed_id_and_a_title(fragments):
    # the follow-up tables are made only when the results have their data
    assert list(tables.BUILDERS) == list(fragments)[: len(tables.BUILDERS)]
    assert set(fragments) <= set(tables.TABLE_IDS)
    assert len(set(tables.TABLE_IDS.values())) == len(tables.TABLE_IDS)
    for name, html in fragments.items():
        table_id = tables.TABLE_IDS[name]
        # the documents' ::: {#tbl-...} divs carry the cross-reference ids
        assert not table_id.startswith("tbl-")
        assert html.startswith(f'<div id="{table_id}"')
        titled = name != "milestones_compact"  # captioned by the abstract instead
        assert (f'id="{table_id}-title"' in html) == titled, name
        assert html.count("<table") == 1
        for banned in ("<img", "<svg", "<script", "<iframe", "<math"):
            assert banned not in html


def test_table1_headers_show_the_group_sizes(fragments):
    html = fragments["table1"]
    for label in (
        "Overall, N\u00a0=\u00a021",
        "PSA50 responders, N\u00a0=\u00a08",
        "Non-responders, N\u00a0=\u00a013",
    ):
        assert label in html
    assert ">p-value<" in html


def test_table1_rows(fragments):
    html = fragments["table1"]
    assert body_list(html) == [
        ("Age, years", ["71 (66, 77)", "75 (70, 78)", "68 (64, 73)", "<0.001"]),
        ("Race", ["", "", "", "0.012"]),
        ("White", ["17 (81.0%)", "7 (87.5%)", "10 (76.9%)", ""]),
        (SCRIPT, ["3 (14.3%)", "1 (12.5%)", "2 (15.4%)", ""]),
        ("Unknown", ["1 (4.8%)", "0 (0.0%)", "1 (7.7%)", ""]),  # a race level
        # dichotomous: one row, n (%) of Yes among known values; then the missing count
        ("De novo metastatic disease", ["6 (30.0%)", "2 (25.0%)", "4 (33.3%)", ">0.9"]),
        ("Missing", ["1", "0", "1", ""]),
        ("Metastatic sites", ["", "", "", ""]),
        ("Bone", ["19 (90.5%)", "8 (100.0%)", "11 (84.6%)", "0.5"]),
        ("Baseline laboratory values", ["", "", "", ""]),
        ("PSA, ng/mL", ["85 (21, 310)", "120 (40, 400)", "60 (12, 200)", "0.049"]),
        ("Missing", ["2", "0", "2", ""]),
    ]
    # indentation: levels and missing rows one step, inside a group two steps
    assert f">{tables.INDENT}White</th>" in html
    assert f">{tables.INDENT}Bone</th>" in html
    assert f">{tables.INDENT * 2}Missing</th>" in html
    assert "<strong>Metastatic sites</strong>" in html  # bold, also for pandoc
    assert "n (%); Median (Q1, Q3)" in html
    assert "Wilcoxon rank sum test; Pearson&#x27;s Chi-squared test; Fisher&#x27;s exact" in html


def test_table1_missing_row_is_called_missing_beside_a_recorded_unknown():
    results = built_results()
    race = results.table1.variables[1]
    race = dataclasses.replace(race, overall=dataclasses.replace(race.overall, missing=2))
    table = dataclasses.replace(results.table1, variables=(race,))
    html = tables.to_html(tables.table1(dataclasses.replace(results, table1=table)))
    assert [label for label, _ in body_list(html)] == [
        "Race",
        "White",
        SCRIPT,
        "Unknown",
        "Missing",
    ]


def test_table1_footnotes_name_only_the_tests_used():
    results = built_results()
    only_wilcoxon = tuple(v for v in results.table1.variables if v.test == "wilcoxon")
    table = Table1(21, 8, 13, only_wilcoxon)
    html = tables.to_html(tables.table1(dataclasses.replace(results, table1=table)))
    assert "Wilcoxon rank sum test" in html
    assert "Fisher" not in html and "Chi-squared" not in html
    assert "n (%)" not in html and "Median (Q1, Q3)" in html


def test_psa_response_rows(fragments):
    rows = body_rows(fragments["psa_response"])
    assert rows["PSA50 response"] == ["8 (38.1%)"]
    assert rows["PSA90 response"] == ["4 (19.0%)"]
    assert rows["Confirmed PSA50 response"] == ["6 (28.6%)"]
    assert rows["Best PSA change from baseline, %"] == ["\u221241.3 (\u221288.0, 12.5)"]
    assert "All patients, N\u00a0=\u00a021" in fragments["psa_response"]
    assert "the 1 patient without a baseline PSA" in fragments["psa_response"]


def test_milestones_rows(fragments):
    rows = body_rows(fragments["milestones"])
    assert rows["After dose 1"] == ["5", "62.5", "23.8", "1", "12.5", "4.8"]
    assert rows["After dose 3"] == ["8", "100.0", "38.1", "4", "50.0", "19.0"]
    html = fragments["milestones"]
    assert ">PSA50<" in html and ">PSA90<" in html


def test_milestones_compact_rows(fragments):
    html = fragments["milestones_compact"]
    assert body_list(html) == [
        ("1", ["5 (23.8%)", "1 (4.8%)"]),
        ("2", ["7 (33.3%)", "3 (14.3%)"]),
        ("3", ["8 (38.1%)", "4 (19.0%)"]),
    ]
    assert "Cumulative; % of all 21 patients." in html


def test_prior_therapy_rows(fragments):
    rows = body_rows(fragments["prior_therapy"])
    assert rows["Agents per patient"] == ["2.0 (1.5, 3.0)"]
    assert rows["Range"] == ["0\u20136"]
    assert rows["ARPI (androgen-receptor pathway inhibitor)"] == ["18 (85.7%)"]
    assert rows["Sipuleucel-T"] == ["0 (0.0%)"]
    assert list(rows)[3:] == [tables.THERAPY_CLASS_LABELS[k] for k in config.THERAPY_CLASSES]


def test_labs_and_toxicity_rows(fragments):
    rows = body_rows(fragments["labs"])
    assert rows["Hemoglobin, g/dL"] == ["12.0 (11.1, 13.0)", "11.6 (10.8, 12.5)"]
    assert rows["Platelets, ×10⁹/L"] == ["221 (180, 260)", tables.DASH]
    assert "Weight, kg" not in rows  # not a lab
    tox = body_rows(fragments["toxicity"])
    assert tox["Anemia grade ≥ 2 (hemoglobin < 10 g/dL)"] == [
        "2/21 (9.5%)",
        "5/20 (25.0%)",
        "3/20 (15.0%)",
    ]


def test_regression_rows_and_flags(fragments):
    html = fragments["regression"]
    rows = body_rows(html)
    assert rows["Age, per 10 years"] == [
        "1.53 (0.70\u20133.35)",
        "0.3",
        "1.48 (0.69\u20133.20)",
        "0.3",
        "21",
        "8",
    ]
    # separation: ML shows a dash with a mark; Firth keeps its estimate, flagged
    ml, ml_p, firth, firth_p = rows["ECOG ≥ 1 (vs 0)"][:4]
    assert ml_p == tables.DASH and ml.startswith(tables.DASH) and len(ml) == 2
    assert firth.startswith("<0.01 (<0.001\u20130.31)") and firth_p == "0.003"
    assert "Separation: the maximum-likelihood estimate does not exist; see Firth." in html
    assert "finite only because of Firth" in html
    assert rows["LDH, per 100 U/L"][2].startswith("0.83 (0.54\u2013NE)")
    assert "NE, not estimated" in html
    assert "Profile-likelihood upper CI bound did not converge." in html
    # not estimable by either method: the label carries the mark, once
    assert html.count("Not estimable: 6 complete cases") == 1
    assert re.search(r"Albumin, per 1 g/dL<sup class=\"gt_footnote_marks\">\w</sup>", html)
    assert rows["Baseline PSA, per doubling"][0].startswith("123 (2.00\u2013>999)")
    assert html_lib.escape(tables.OR_BEYOND_NOTE, quote=False) in html
    assert ">Maximum likelihood<" in html and ">Firth penalized likelihood<" in html
    assert "Multivariable model not fitted: 8 events among 19 complete cases" in html


def test_regression_with_a_multivariable_model(results):
    multi = tuple(
        dataclasses.replace(r, model="multivariable", n=19, events=8)
        for r in results.regression.rows
        if r.term in ("age", "ldh")
    )
    decision = MultivariableDecision(True, "80 events among 190 complete cases", 80, 2, 40.0)
    reg = dataclasses.replace(results.regression, multivariable=decision, multivariable_rows=multi)
    html = tables.to_html(tables.regression(dataclasses.replace(results, regression=reg)))
    labels = [label for label, _ in body_list(html)]
    assert labels[0] == "Univariable models"
    assert labels[-3:] == ["Multivariable model", "Age, per 10 years", "LDH, per 100 U/L"]
    assert body_list(html)[-1][1][-2:] == ["19", "8"]
    assert ">Logistic regression of PSA50 response<" in html
    assert "Multivariable model fitted: 80 events among 190 complete cases." in html


# --- escaping, CSS, pandoc, determinism ------------------------------------------------


def test_data_strings_are_escaped(fragments):
    html = fragments["table1"]
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_css_is_scoped_to_the_table_id(fragments):
    for name, html in fragments.items():
        table_id = tables.TABLE_IDS[name]
        selectors = style_selectors(html)
        assert selectors
        assert all(re.match(rf"#{table_id}(\s|$|[.:])", s) for s in selectors), selectors
        assert html.count("<style>") == 1


def test_scope_css_prefixes_every_selector_and_prunes_unused():
    css = "#t thead, tbody, tr { border-style: none; }\n tr { color: red; }\n#t .gt_x { a: b }"
    out = tables.scope_css(css, "t", used_classes={"gt_y"})
    assert out == "#t thead, #t tbody, #t tr { border-style: none; }\n#t tr { color: red; }"
    with pytest.raises(ValueError):
        tables.scope_css("@media print { tr { a: b } }", "t")


def _pandoc_cell_count(html: str, to: str = "json") -> int:
    import pypandoc

    ast = json.loads(pypandoc.convert_text(html, "json", format="html"))
    count = 0

    def walk(node):
        nonlocal count
        if isinstance(node, dict):
            if node.get("t") == "Table":
                _, _, _, head, bodies, foot = node["c"]
                rows = head[1] + foot[1]
                for body in bodies:
                    rows += body[2] + body[3]
                count += sum(len(r[1]) for r in rows)
            else:
                walk(node.get("c"))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(ast["blocks"])
    return count


def _typst_text(typst: str) -> str:
    """Typst markup → comparable text: ``~`` (no-break space) dropped, ``--``/``---``
    back to en/em dashes, ``#super[x]`` (footnote marks) unwrapped, escapes undone,
    line wrapping undone."""
    typst = re.sub(r"(?<!\\)~", "", typst)
    typst = re.sub(r"(?<!\\)---", "\u2014", typst)  # Typst shorthands for the dashes
    typst = re.sub(r"(?<!\\)--", "\u2013", typst)
    typst = re.sub(r"#super\[(\w(?:,\w)*)\]", r"\1", typst)  # one mark or several: b,c
    typst = re.sub(r"\\(.)", r"\1", typst)
    return re.sub(r"\s+", " ", typst)


def test_pandoc_reads_every_fragment_into_one_table_without_losing_cells(fragments):
    import pypandoc

    for name, html in fragments.items():
        expected = [t.replace(tables.NBSP, "").strip() for t in cells(html)]
        assert _pandoc_cell_count(html) == len(expected), name
        typst = pypandoc.convert_text(html, "typst", format="html")
        assert typst.count("#table(") == 1, name
        text = _typst_text(typst)
        for value, k in Counter(re.sub(r"\s+", " ", v) for v in expected if v).items():
            assert text.count(value) >= k, (name, value)


def test_docx_keeps_the_cells_of_table1(fragments, tmp_path):
    import pypandoc

    html = fragments["table1"]
    docx = tmp_path / "t.docx"
    pypandoc.convert_text(html, "docx", format="html", outputfile=str(docx))
    back = pypandoc.convert_file(str(docx), "html", format="docx", extra_args=["--wrap=none"])
    assert _pandoc_cell_count(back) == len(cells(html))
    assert "8 (100.0%)" in back
    assert "<sup>a</sup>" in back


def test_write_tables_is_deterministic(results, fragments, tmp_path):
    first = tables.write_tables(results, tmp_path / "a")
    second = tables.write_tables(built_results(), tmp_path / "b")
    assert list(first) == list(fragments)
    for name, path in first.items():
        assert path == tmp_path / "a" / f"{name}.html"
        data = path.read_bytes()
        assert data == second[name].read_bytes()
        assert data.endswith(b"</div>\n") and not data.endswith(b"\n\n")
        assert data.decode("utf-8") == fragments[name]


# --- real analyses ------------------------------------------------------------------


@pytest.fixture(scope="module")
def handmade_results(tmp_path_factory):
    from analysis.analyze import run_analysis
    from analysis.load import load_cohort
    from tests.handmade import handmade_cohort

    folder = handmade_cohort(tmp_path_factory.mktemp("handmade"))
    return run_analysis(load_cohort(folder)).results


def test_handmade_cohort_tables(handmade_results):
    frags = tables.fragments(handmade_results)
    assert body_rows(frags["psa_response"])["PSA50 response"] == ["3 (60.0%)"]
    assert "Overall, N\u00a0=\u00a05" in frags["table1"]
    for name, html in frags.items():
        assert _pandoc_cell_count(html) == len(cells(html)), name


@pytest.mark.skipif(
    not (config.SYNTHETIC_DIR / config.PATIENTS).is_file(),
    reason="data/synthetic (the 21-patient synthetic cohort) is not in the tree yet",
)
def test_synthetic_cohort_psa50_row():
    from analysis.analyze import run_analysis
    from analysis.load import load_cohort

    results = run_analysis(load_cohort(config.SYNTHETIC_DIR)).results
    frags = tables.fragments(results)
    assert body_rows(frags["psa_response"])["PSA50 response"] == ["8 (38.1%)"]
    assert "PSA50 responders, N\u00a0=\u00a08" in frags["table1"]
    assert "Overall, N\u00a0=\u00a021" in frags["table1"]


def test_regression_of_a_near_separated_cohort_shows_no_false_precision():
    """82 hand-made patients, near-separated by a yes/no term x (not separated: one
    responder and one non-responder on the "wrong" side).

    x = 1: 40 responders, 1 non-responder; x = 0: 1 responder, 40 non-responders.
    ML (a saturated 2 × 2): OR = 40·40 / (1·1) = 1600, Wald se of log OR
    = √(1/40 + 1/1 + 1/1 + 1/40) = √2.05 = 1.4318, so the 95% CI is
    1600 · exp(∓1.96 · 1.4318) = 1600 ÷ 16.548 = 96.69 to 1600 × 16.548 = 26,476.
    Firth on a 2 × 2 table = 0.5 added to each cell: 40.5² / 1.5² = 729.
    z = 1 − x mirrors it: ML 1/1600 = 0.000625 (CI 0.0000378–0.0103), Firth 1/729 = 0.00137.
    """
    import pandas as pd

    from analysis.models import fit_univariable

    x = [1.0] * 41 + [0.0] * 41
    y = [1.0] * 40 + [0.0] + [1.0] + [0.0] * 40
    frame = pd.DataFrame({"psa50_response": y, "x": x, "z": [1 - v for v in x]})
    rows = fit_univariable(frame, "psa50_response", [("x", "Term x"), ("z", "Term z")])
    got = {(r.term, r.method): r for r in rows}
    assert {r.status for r in rows} == {"ok"}
    assert got["x", "ml"].odds_ratio == pytest.approx(1600, rel=1e-9)
    assert got["x", "ml"].ci_low == pytest.approx(96.69, rel=1e-4)
    assert got["x", "ml"].ci_high == pytest.approx(26476, rel=1e-4)
    assert got["x", "firth"].odds_ratio == pytest.approx(729, rel=1e-6)

    base = built_results()
    reg = dataclasses.replace(base.regression, rows=tuple(rows))
    html = tables.to_html(tables.regression(dataclasses.replace(base, regression=reg)))
    body = {label: cells_ for label, cells_ in body_list(html)}
    mark = r"<sup class=\"gt_footnote_marks\">(\w)</sup>"
    # 1600 → ">999", 96.69 shown, 26,476 → ">999"; Firth 729 and its lower limit 102 shown
    assert body["Term x"][0].startswith(">999 (96.69\u2013>999)")
    assert body["Term x"][2].startswith("729 (102\u2013>999)")
    # 0.000625 → "<0.001"; 0.0000378 → "<0.001"; 0.0103 → "0.01"; Firth 0.00137 → "<0.01"
    assert body["Term z"][0].startswith("<0.001 (<0.001\u20130.01)")
    assert body["Term z"][2].startswith("<0.01 (<0.001\u20130.01)")
    assert [body[t][1] for t in ("Term x", "Term z")] == ["<0.001", "<0.001"]
    # every one of the four cells carries the same mark, defined once in the notes
    marks = re.findall(r">[^<]*(?:&gt;999|&lt;0\.001)[^<]*\)" + mark, html)
    assert len(marks) == 4 and len(set(marks)) == 1
    note = html_lib.escape(tables.OR_BEYOND_NOTE, quote=False)
    assert html.count(note) == 1 and "quasi-separation or sparse" in note
    assert "245,273,024" not in html and "26,476" not in html


def test_the_posters_missing_rows_say_why_they_have_no_percentage():
    """The poster shows footnotes, not source notes: a count-only Missing row (patients
    without a value) carries a footnote saying it is not in the percentages; a level
    row with a percentage does not."""
    from analysis.analyze import run_analysis
    from analysis.load import load_cohort
    from analysis.tables_poster import MISSING_NOTE, table1_compact

    results = run_analysis(load_cohort(config.SYNTHETIC_DIR)).results
    fragment = tables.to_html(table1_compact(results))
    rows = re.findall(r"<th[^>]*gt_stub[^>]*>(.*?)</th>\s*<td[^>]*>(.*?)</td>", fragment, re.S)
    unknown = [(label, cell) for label, cell in rows if "Unknown" in label or "Missing" in label]
    assert all("Missing" in label for label, _ in unknown)  # Gleason: none recorded
    assert unknown  # the shipped cohort has Gleason scores not recorded
    mark = re.search(
        r'<sup class="gt_footnote_marks">(\w)</sup> ' + re.escape(MISSING_NOTE), fragment
    )
    assert mark, "no footnote on the Missing rows"
    for label, cell in unknown:
        assert "%" not in cell
        assert f'<sup class="gt_footnote_marks">{mark.group(1)}</sup>' in label, label
    marked = [label for label, _ in rows if f">{mark.group(1)}</sup>" in label]
    assert len(marked) == len(unknown)
