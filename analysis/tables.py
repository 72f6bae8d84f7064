"""Publication tables: :class:`~analysis.results.StudyResults` → HTML fragments.

Each builder (:func:`table1`, :func:`prior_therapy`, :func:`psa_response`,
:func:`milestones`, :func:`milestones_compact`, :func:`labs`, :func:`toxicity`,
:func:`regression`; all in :data:`BUILDERS`) returns a great-tables ``GT``
object with a fixed id (:data:`TABLE_IDS`), a title (except the abstract's
compact table, which its document captions), footnotes and source notes.
:func:`to_html` turns one into the fragment the documents include
(``tables/<name>.html``); :func:`write_tables` writes them all.

Every cell is preformatted here as text; no ``fmt_*`` method is used, so
great-tables escapes every string (data strings such as race levels included).

Number formats are those of :mod:`analysis.tables_format` (gtsummary's), the
fragments' HTML that of :mod:`analysis.tables_html`; both modules' names are
given here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis import config
from analysis.tables_format import (  # noqa: F401  (the number formats, by their old names)
    DASH,
    MINUS,
    NBSP,
    NOT_ESTIMATED,
    OR_BEYOND_NOTE,
    OR_SHOWN_MAX,
    OR_SHOWN_MIN,
    _auto_digits,
    _count_digits,
    _definition,
    _g,
    beyond_shown,
    fmt_count,
    fmt_median_iqr,
    fmt_n_pct,
    fmt_number,
    fmt_or_ci,
    fmt_pct,
    fmt_ratio,
    format_p,
    n_equals,
    round2,
)
from analysis.tables_html import (  # noqa: F401  (assembly and HTML, by their old names)
    INDENT,
    TABLE_IDS,
    _css,
    _Frame,
    _gt,
    _notes,
    scope_css,
    to_html,
)

if TYPE_CHECKING:
    from great_tables import GT

    from analysis.results import Count, GroupStat, StudyResults, Table1Variable


#: Human-readable therapy classes, in config.THERAPY_CLASSES order.
THERAPY_CLASS_LABELS: dict[str, str] = {
    "adt": "ADT",
    "arpi": "ARPI (androgen-receptor pathway inhibitor)",
    "taxane": "Taxane",
    "parp_inhibitor": "PARP inhibitor",
    "radium_223": "Radium-223",
    "sipuleucel_t": "Sipuleucel-T",
    "platinum": "Platinum",
    "immunotherapy": "Immunotherapy",
    "other": "Other",
}

#: Table 1 tests: results code → the name gtsummary prints in its footnote.
TEST_NAMES: dict[str, str] = {
    "wilcoxon": "Wilcoxon rank sum test",
    "chisq": "Pearson's Chi-squared test",
    "fisher": "Fisher's exact test",
    "fisher_sim": "Fisher's exact test with simulated p-value",
}


def row_test_note(test: str) -> str | None:
    """Footnote on the p-value of a row whose test is not the one its expected counts pick."""
    from analysis import stats

    if test == "fisher_sim":
        return (
            "Fisher's exact test with simulated p-value: the margins allow more than"
            f" {stats.FISHER_MAX_TABLES:,} tables, too many to enumerate; p from"
            f" {stats.FISHER_SIM_TABLES:,} random tables with the same margins (seed"
            f" {stats.FISHER_SIM_SEED}), as R's fisher.test(simulate.p.value = TRUE)."
        )
    return None


#: Decimals of continuous Table 1 variables (others: by magnitude, see _auto_digits).
TABLE1_DIGITS: dict[str, int] = {
    "age": 0,
    "bmi": 1,
    "hemoglobin": 1,
    "platelets": 0,
    "alkaline_phosphatase": 0,
    "ldh": 0,
    "albumin": 1,
    "creatinine": 2,
}

#: Tests left out of :func:`labs` by default (PSA has its own tables; weight is not a lab).
LABS_EXCLUDED = ("psa", "weight")

STAT_COUNT = "n (%)"
#: Label of Table 1's row of patients without a value: a count, without a percentage
#: (gtsummary's missing row).  Not "Unknown", which the data may record as an answer
#: (a race "Unknown" is a level, with its percentage, beside this row).
MISSING_LABEL = "Missing"
STAT_MEDIAN = "Median (Q1, Q3)"

# --- Table 1 ----------------------------------------------------------------------


def _t1_digits(var: Table1Variable) -> int:
    if var.name in TABLE1_DIGITS:
        return TABLE1_DIGITS[var.name]
    if var.name == "prior_therapies":
        o = var.overall
        return _count_digits(o.median, o.q1, o.q3)
    return _auto_digits(var.overall.median, var.overall.q1, var.overall.q3)


def _t1_cells(var: Table1Variable, level: str | None) -> dict[str, str]:
    stats: tuple[GroupStat, ...] = (var.overall, var.responders, var.non_responders)
    cols = ("overall", "responders", "non_responders")
    if var.kind == "continuous":
        d = _t1_digits(var)
        return {
            c: fmt_median_iqr(s.median, s.q1, s.q3, d) for c, s in zip(cols, stats, strict=True)
        }
    out = {}
    for c, s in zip(cols, stats, strict=True):
        count = s.levels.get(level) if level is not None else None
        out[c] = fmt_count(count) if count is not None else DASH
    return out


def table1(results: StudyResults, name: str = "table1", p_values: bool = True) -> GT:
    """Baseline characteristics, overall and by PSA50 response (gtsummary's look).

    ``name`` is the table's name in :data:`TABLE_IDS`; ``p_values=False``
    leaves out the p-value column and its footnotes (the poster's compact
    table, :mod:`analysis.tables_poster`).

    Continuous variables as median (Q1, Q3); categorical variables as a label
    row with indented levels, n (%); yes/no variables as one row, n (%) of
    "Yes"; an indented :data:`MISSING_LABEL` row with the number missing when
    any value is missing.  Variables sharing a ``group`` are indented under a bold
    heading.  Footnotes name the statistics and the tests used.
    """
    from great_tables import loc

    t1 = results.table1
    f = _Frame(["overall", "responders", "non_responders", *(["p_value"] if p_values else [])])
    stats_used: list[str] = []
    tests_used: list[str] = []
    row_notes: dict[str, list[int]] = {}  # footnote → rows of the p-value column
    current_group = ""
    for var in t1.variables:
        base = 0
        if var.group:
            if var.group != current_group:
                f.bold.append(f.add(var.group))
            base = 1
        current_group = var.group
        stat = STAT_MEDIAN if var.kind == "continuous" else STAT_COUNT
        if stat not in stats_used:
            stats_used.append(stat)
        if var.test is not None:
            if var.test not in TEST_NAMES:
                raise ValueError(f"unknown test {var.test!r} for {var.name}")
            if var.p_value is not None and TEST_NAMES[var.test] not in tests_used:
                tests_used.append(TEST_NAMES[var.test])
        p = {"p_value": format_p(var.p_value) if var.test is not None else ""}
        if not p_values:
            p = {}
        if var.kind == "continuous":
            row = f.add(var.label, base, **p, **_t1_cells(var, None))
        elif var.kind == "dichotomous":
            row = f.add(var.label, base, **p, **_t1_cells(var, "Yes"))
        elif var.kind == "categorical":
            row = f.add(var.label, base, **p)
            for level in var.level_order or tuple(var.overall.levels):
                f.add(level, base + 1, **_t1_cells(var, level))
        else:
            raise ValueError(f"unknown kind {var.kind!r} for {var.name}")
        note = row_test_note(var.test) if var.p_value is not None and p_values else None
        if note:
            row_notes.setdefault(note, []).append(row)
        if var.overall.missing > 0:
            f.add(
                MISSING_LABEL,
                base + 1,
                overall=str(var.overall.missing),
                responders=str(var.responders.missing),
                non_responders=str(var.non_responders.missing),
            )

    labels = {
        "overall": f"Overall, {n_equals(t1.n_overall)}",
        "responders": f"PSA50 responders, {n_equals(t1.n_responders)}",
        "non_responders": f"Non-responders, {n_equals(t1.n_non_responders)}",
        "p_value": "p-value",
    }
    gt = _gt(
        f,
        name,
        "Baseline characteristics by PSA50 response",
        {k: v for k, v in labels.items() if k in f.columns},
        stubhead="Characteristic",
        center=list(f.columns),
    )
    # fixed order, as in gtsummary's footnotes: n (%) before Median (Q1, Q3); tests as TEST_NAMES
    stats_used = [s for s in (STAT_COUNT, STAT_MEDIAN) if s in stats_used]
    tests_used = [t for t in TEST_NAMES.values() if t in tests_used]
    if stats_used:
        gt = gt.tab_footnote(
            "; ".join(stats_used),
            locations=loc.column_labels(columns=["overall", "responders", "non_responders"]),
        )
    if tests_used and p_values:
        gt = gt.tab_footnote("; ".join(tests_used), locations=loc.column_labels(columns="p_value"))
    for text, rows in row_notes.items():
        gt = gt.tab_footnote(text, locations=loc.body(columns="p_value", rows=rows))
    window = _definition(results, "baseline_window_days", config.BASELINE_WINDOW_DAYS)
    return _notes(
        gt,
        [
            f"PSA50 responder: a PSA value ≤ {_pct_of(results, 'psa50_fraction')} of baseline"
            " (a decline ≥ 50%) at any time after dose 1; patients without a baseline PSA"
            " count as non-responders.",
            f"Baseline: the latest value in the {window} days up to and including the day of"
            " dose 1. Percentages, quartiles and tests are of patients with a known value;"
            f" {MISSING_LABEL}: patients without one (a blank race or ethnicity; a baseline"
            " PSA of 0, not PSA-evaluable); Unknown: an answer recorded as such.",
        ],
    )


def _pct_of(results: StudyResults, key: str) -> str:
    default = {"psa50_fraction": config.PSA50_FRACTION, "psa90_fraction": config.PSA90_FRACTION}
    return f"{_g(_definition(results, key, default[key]) * 100)}%"


# --- prior therapies --------------------------------------------------------------


def prior_therapy(results: StudyResults) -> GT:
    """Prior systemic agents per patient and patients per therapy class."""
    from great_tables import loc

    pt = results.prior_therapies
    n = results.cohort.n_patients
    f = _Frame(["value"])
    d = _count_digits(pt.median, pt.q1, pt.q3)
    f.add("Agents per patient", value=fmt_median_iqr(pt.median, pt.q1, pt.q3, d))
    f.add("Range", 1, value=f"{pt.min}\u2013{pt.max}")
    f.bold.append(f.add("Therapy class"))
    classes = [c for c in config.THERAPY_CLASSES if c in pt.by_class]
    classes += sorted(c for c in pt.by_class if c not in classes)
    for klass in classes:
        count = pt.by_class[klass]
        label = THERAPY_CLASS_LABELS.get(klass, klass)
        f.add(label, 1, value=fmt_count(_count(count, pt.by_class_pct.get(klass), n)))
    gt = _gt(
        f,
        "prior_therapy",
        "Prior systemic therapies",
        {"value": f"Patients, {n_equals(n)}"},
        stubhead="Characteristic",
        center=["value"],
    )
    gt = gt.tab_footnote(
        f"{STAT_MEDIAN}; range; {STAT_COUNT}", locations=loc.column_labels(columns="value")
    )
    return _notes(
        gt,
        [
            "Agents per patient: distinct agents recorded before 177Lu-PSMA-617 (an agent"
            " recorded twice counts once). Therapy class: patients with at least one agent of"
            " the class; a patient may count in several classes.",
            "ADT, androgen-deprivation therapy; PARP, poly(ADP-ribose) polymerase.",
        ],
    )


def _count(n: int, pct: float | None, denominator: int) -> Count:
    from analysis.results import Count

    return Count(n, pct, denominator)


# --- PSA response -----------------------------------------------------------------


def _psa_definitions(results: StudyResults) -> list[str]:
    window = _definition(results, "baseline_window_days", config.BASELINE_WINDOW_DAYS)
    days = _definition(results, "confirmation_days", config.CONFIRMATION_DAYS)
    return [
        f"Baseline PSA: the latest PSA in the {window} days up to and including the day of dose 1.",
        f"PSA50 (PSA90): a PSA value ≤ {_pct_of(results, 'psa50_fraction')}"
        f" (≤ {_pct_of(results, 'psa90_fraction')}) of baseline after dose 1, i.e. a decline"
        " ≥ 50% (≥ 90%). Confirmed PSA50: the first PSA measured ≥"
        f" {days} days after the first PSA50 value is also ≤"
        f" {_pct_of(results, 'psa50_fraction')} of baseline.",
    ]


def psa_response(results: StudyResults) -> GT:
    """PSA50, PSA90 and confirmed PSA50 (n (%) of all patients) and the best PSA change."""
    from great_tables import loc

    pr = results.psa_response
    denominator = pr.psa50.denominator
    differ = any(c.denominator != denominator for c in (pr.psa90, pr.psa50_confirmed))
    f = _Frame(["value"])
    f.add("PSA50 response", value=fmt_count(pr.psa50, differ))
    f.add("PSA90 response", value=fmt_count(pr.psa90, differ))
    f.add("Confirmed PSA50 response", value=fmt_count(pr.psa50_confirmed, differ))
    n_best = sum(p.best_psa_change_pct is not None for p in results.patients)
    best = "Best PSA change from baseline, %"
    if results.patients:
        best += f" (n = {n_best})"
    f.add(
        best, value=fmt_median_iqr(pr.best_change_median, pr.best_change_q1, pr.best_change_q3, 1)
    )
    gt = _gt(
        f,
        "psa_response",
        "PSA response",
        {"value": f"All patients, {n_equals(denominator)}"},
        stubhead="Response",
        center=["value"],
    )
    gt = gt.tab_footnote(
        f"{STAT_COUNT}; {STAT_MEDIAN}", locations=loc.column_labels(columns="value")
    )
    n_no_baseline = results.cohort.n_patients - results.cohort.n_psa_evaluable
    if n_no_baseline:
        who = "patient" if n_no_baseline == 1 else "patients"
        denominators = (
            f"Percentages are of all {denominator} treated patients; the {n_no_baseline}"
            f" {who} without a baseline PSA count as non-responders."
        )
    else:
        denominators = f"Percentages are of all {denominator} treated patients."
    return _notes(
        gt,
        [
            *_psa_definitions(results),
            "Best PSA change: (lowest PSA after dose 1 − baseline) ÷ baseline × 100, among"
            " patients with a baseline PSA and a later PSA value.",
            denominators,
        ],
    )


def milestones(results: StudyResults) -> GT:
    """Cumulative PSA50 and PSA90 responses by dose (n, % of responders, % of all)."""
    pr = results.psa_response
    columns = ["p50_n", "p50_resp", "p50_all", "p90_n", "p90_resp", "p90_all"]
    f = _Frame(columns)
    for m in pr.milestones:
        f.add(
            f"After dose {m.after_dose}",
            p50_n=str(m.psa50_n),
            p50_resp=fmt_pct(m.psa50_pct_of_responders),
            p50_all=fmt_pct(m.psa50_pct),
            p90_n=str(m.psa90_n),
            p90_resp=fmt_pct(m.psa90_pct_of_responders),
            p90_all=fmt_pct(m.psa90_pct),
        )
    labels = {
        "p50_n": "n",
        "p50_resp": "% of responders",
        "p50_all": "% of all patients",
        "p90_n": "n",
        "p90_resp": "% of responders",
        "p90_all": "% of all patients",
    }
    gt = _gt(
        f,
        "milestones",
        "Cumulative PSA50 and PSA90 response by dose",
        labels,
        stubhead="Dose",
        center=columns,
    )
    gt = gt.tab_spanner("PSA50", columns=columns[:3], id="psa50")
    gt = gt.tab_spanner("PSA90", columns=columns[3:], id="psa90")
    n_resp = results.responders.n
    n_all = pr.psa50.denominator
    return _notes(
        gt,
        [
            "Patients whose first PSA50 (PSA90) value was measured after the given dose or an"
            " earlier one. A PSA value counts after dose n when it was measured after the day"
            " of dose n and no later than the day of dose n + 1 (after the last dose: to the"
            " end of follow-up).",
            f"Responders: the {n_resp} patients with a PSA50 response at any time; all"
            f" patients: N = {n_all}.",
            *_psa_definitions(results),
        ],
    )


def milestones_compact(results: StudyResults) -> GT:
    """The abstract's table: cumulative PSA50 and PSA90 by dose, n (% of all patients).

    No title and one short note: the document's caption names the table, and
    every character counts against the abstract's limit.
    """
    pr = results.psa_response
    n_all = pr.psa50.denominator
    f = _Frame(["psa50", "psa90"])
    for m in pr.milestones:
        f.add(
            f"{m.after_dose}",
            psa50=fmt_count(_count(m.psa50_n, m.psa50_pct, n_all)),
            psa90=fmt_count(_count(m.psa90_n, m.psa90_pct, n_all)),
        )
    labels = {"psa50": "PSA50, n (%)", "psa90": "PSA90, n (%)"}
    gt = _gt(
        f, "milestones_compact", None, labels, stubhead="After dose", center=["psa50", "psa90"]
    )
    return _notes(gt, [f"Cumulative; % of all {n_all} patients."])


# --- laboratory values and toxicity ----------------------------------------------


def labs(results: StudyResults, tests: Sequence[str] | None = None) -> GT:
    """Pre-dose laboratory values per test (rows) and dose (columns): median (Q1, Q3), n.

    Parameters
    ----------
    tests : sequence of str, optional
        Tests to show, in this order; default every test in the results except
        those in :data:`LABS_EXCLUDED`, in the results' order.
    """
    points = results.labs
    if tests is None:
        tests = list(dict.fromkeys(p.test for p in points if p.test not in LABS_EXCLUDED))
    doses = sorted({p.dose_number for p in points if p.test in tests})
    columns = [f"dose_{d}" for d in doses]
    by_key = {(p.test, p.dose_number): p for p in points}
    f = _Frame(columns)
    for test in tests:
        mine = [p for p in points if p.test == test]
        if not mine:
            continue
        first = mine[0]
        digits = config.LAB_DECIMALS.get(test)
        if digits is None:
            digits = _auto_digits(*(p.median for p in mine))
        cells, ns = {}, {}
        for d, col in zip(doses, columns, strict=True):
            p = by_key.get((test, d))
            cells[col] = fmt_median_iqr(p.median, p.q1, p.q3, digits) if p else DASH
            ns[col] = str(p.n) if p else "0"
        f.add(f"{first.label}, {first.unit}", **cells)
        f.muted.append(f.add("n", 1, **ns))
    labels = {col: f"Dose {d}" for d, col in zip(doses, columns, strict=True)}
    gt = _gt(
        f, "labs", "Laboratory values before each dose", labels, stubhead="Test", center=columns
    )
    if columns:
        gt = gt.tab_spanner("Pre-dose value", columns=columns, id="predose")
    window = _definition(results, "predose_lab_window_days", config.PREDOSE_LAB_WINDOW_DAYS)
    return _notes(
        gt,
        [
            f"{STAT_MEDIAN}; n, patients with a pre-dose value. Pre-dose value: the latest"
            f" value in the {window} days up to and including the day of the dose.",
        ],
    )


def toxicity(results: StudyResults) -> GT:
    """Patients with grade ≥ 2 anemia or thrombocytopenia at baseline and on treatment."""
    columns = ["baseline", "on_treatment", "new"]
    f = _Frame(columns)
    for flag in results.toxicity:
        f.add(
            f"{flag.label} ({flag.threshold})",
            baseline=fmt_count(flag.baseline, True),
            on_treatment=fmt_count(flag.on_treatment, True),
            new=fmt_count(flag.new_on_treatment, True),
        )
    labels = {"baseline": "Baseline", "on_treatment": "On treatment", "new": "New on treatment"}
    gt = _gt(
        f,
        "toxicity",
        "Grade ≥ 2 anemia and thrombocytopenia",
        labels,
        stubhead="CTCAE v5.0 toxicity",
        center=columns,
    )
    window = _definition(results, "baseline_window_days", config.BASELINE_WINDOW_DAYS)
    return _notes(
        gt,
        [
            "n/N (%). Grade ≥ 2: below the CTCAE v5.0 lower bound of grade 2"
            f" (hemoglobin < {_g(_definition(results, 'hb_grade2_g_dl', config.HB_GRADE2_G_DL))}"
            " g/dL; platelets <"
            f" {_g(_definition(results, 'plt_grade2_10e9_l', config.PLT_GRADE2_10E9_L))}"
            " ×10⁹/L).",
            f"Baseline: the latest value in the {window} days up to and including the day of"
            " dose 1; N, patients with a baseline value. On treatment: any value after the day"
            " of dose 1; N, patients with such a value. New: grade ≥ 2 on treatment without"
            " grade ≥ 2 at baseline (or without a baseline value).",
        ],
    )


# --- regression -------------------------------------------------------------------

_SEPARATION_ML = "Separation: the maximum-likelihood estimate does not exist; see Firth."
_SEPARATION_FIRTH = "Separated data: the estimate is finite only because of Firth's penalty."
_OUTCOMES = {"psa50_response": "PSA50 response"}


def regression(results: StudyResults) -> GT:
    """Logistic regression of PSA50 response: ML and Firth side by side, one row per term.

    Rows with a non-``"ok"`` status get a footnote mark: ML separation (no
    estimate, "—"), Firth estimates from separated data, and terms not
    estimable or not converged (with the reason from the row's note).  The
    multivariable decision is a source note.
    """
    from great_tables import loc

    reg = results.regression
    columns = ["ml_or", "ml_p", "firth_or", "firth_p", "n", "events"]
    f = _Frame(columns)
    marks: dict[str, list[tuple[str | None, int]]] = {}  # footnote → [(column or stub, row)]

    def mark(text: str, column: str | None, row: int) -> None:
        marks.setdefault(text, []).append((column, row))

    models = [("univariable", reg.rows)]
    if reg.multivariable_rows:
        models.append(("multivariable", reg.multivariable_rows))
    for model, rows in models:
        pairs: dict[str, dict[str, Any]] = {}
        for r in rows:
            pairs.setdefault(r.term, {})[r.method] = r
        if len(models) > 1:
            f.bold.append(
                f.add("Univariable models" if model == "univariable" else "Multivariable model")
            )
        level = 1 if len(models) > 1 else 0
        for pair in pairs.values():
            ml, firth = pair.get("ml"), pair.get("firth")
            any_row = ml or firth
            cells = {"n": str(any_row.n), "events": str(any_row.events)}
            for prefix, r in (("ml", ml), ("firth", firth)):
                if r is None:
                    cells[f"{prefix}_or"] = cells[f"{prefix}_p"] = DASH
                    continue
                cells[f"{prefix}_or"] = fmt_or_ci(r.odds_ratio, r.ci_low, r.ci_high)
                cells[f"{prefix}_p"] = DASH if r.p_value is None else format_p(r.p_value)
            i = f.add(any_row.label, level, **cells)
            for prefix, r in (("ml", ml), ("firth", firth)):
                if r is not None and any(
                    beyond_shown(v) for v in (r.odds_ratio, r.ci_low, r.ci_high)
                ):
                    mark(OR_BEYOND_NOTE, f"{prefix}_or", i)
            statuses = {r.status for r in (ml, firth) if r is not None}
            if statuses == {"not_estimable"}:
                # the term as a whole: mark its label once per distinct reason
                for note in dict.fromkeys(r.note for r in (ml, firth) if r is not None):
                    mark(note or "Not estimable.", None, i)
                continue
            for prefix, r in (("ml", ml), ("firth", firth)):
                if r is None or r.status == "ok":
                    continue
                if r.status == "separation":
                    text = _SEPARATION_ML if prefix == "ml" else _SEPARATION_FIRTH
                elif r.status in ("not_estimable", "not_converged"):
                    text = r.note or r.status.replace("_", " ").capitalize() + "."
                else:
                    raise ValueError(f"unknown status {r.status!r} for {r.term}")
                mark(text, f"{prefix}_or", i)

    labels = {
        "ml_or": "OR (95% CI)",
        "ml_p": "p-value",
        "firth_or": "OR (95% CI)",
        "firth_p": "p-value",
        "n": "n",
        "events": "Events",
    }
    outcome = _OUTCOMES.get(reg.outcome, reg.outcome)
    what = "Univariable logistic" if len(models) == 1 else "Logistic"
    gt = _gt(
        f, "regression", f"{what} regression of {outcome}", labels, stubhead="Term", center=columns
    )
    gt = gt.tab_spanner("Maximum likelihood", columns=["ml_or", "ml_p"], id="ml")
    gt = gt.tab_spanner("Firth penalized likelihood", columns=["firth_or", "firth_p"], id="firth")
    for text, where in marks.items():
        locations = [
            loc.stub(rows=[r]) if c is None else loc.body(columns=c, rows=[r]) for c, r in where
        ]
        gt = gt.tab_footnote(text, locations=locations)
    any_ne = any(
        r.odds_ratio is not None and (r.ci_low is None or r.ci_high is None)
        for _, rows in models
        for r in rows
    )
    dec = reg.multivariable
    if dec is not None:
        state = "fitted" if dec.fitted else "not fitted"
        decision = f"Multivariable model {state}: {dec.reason.rstrip('.')}."
    else:
        decision = "Multivariable model not considered."
    return _notes(
        gt,
        [
            "OR, odds ratio per the unit in the term's label; CI, confidence interval"
            + ("; NE, not estimated" if any_ne else "")
            + ". Maximum likelihood: Wald CI and p-value. Firth: profile penalized-likelihood CI"
            " and penalized likelihood-ratio p-value. n, complete cases; events, PSA50"
            " responders among them.",
            decision,
        ],
    )


# --- all tables -------------------------------------------------------------------

#: Builders by table name, in document order.
BUILDERS: dict[str, Callable[[StudyResults], GT]] = {
    "table1": table1,
    "prior_therapy": prior_therapy,
    "psa_response": psa_response,
    "milestones": milestones,
    "milestones_compact": milestones_compact,
    "labs": labs,
    "toxicity": toxicity,
    "regression": regression,
}


def fragments(results: StudyResults) -> dict[str, str]:
    """Every table's HTML fragment, by name (see :data:`TABLE_IDS`).

    The follow-up tables (:mod:`analysis.tables_followup`) are included when
    the results have their data.
    """
    from analysis import tables_followup, tables_poster

    builders = {**BUILDERS, **tables_poster.BUILDERS, **tables_followup.available(results)}
    return {name: to_html(build(results)) for name, build in builders.items()}


def write_tables(results: StudyResults, out_dir: Path) -> dict[str, Path]:
    """Write ``<out_dir>/<name>.html`` for every table (UTF-8, trailing newline).

    The same results always give the same bytes.  Returns the paths by name.
    """
    from analysis.files import write_text_atomic

    out_dir = Path(out_dir)
    paths = {}
    for name, html in fragments(results).items():
        path = out_dir / f"{name}.html"
        write_text_atomic(path, html)
        paths[name] = path
    return paths
