"""Follow-up tables: survival, landmark, discontinuation and dosing.

Built like the tables of :mod:`analysis.tables` (same house style, fixed ids,
every cell pre-formatted text) from ``StudyResults.survival``, ``.landmark``,
``.discontinuation`` and ``.dosing``.  A table whose data are absent is not
made (:func:`available`); the documents then say so in a sentence
(:mod:`analysis.followup_docs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from analysis import tables as t

if TYPE_CHECKING:
    from great_tables import GT

    from analysis.results import StudyResults


ENDPOINTS = (
    ("os", "Overall survival"),
    ("psa_pfs", "PSA progression-free survival"),
    ("rpfs", "Radiographic progression-free survival"),
)
NOT_REACHED = "NR"


def months(x: float | None) -> str:
    """Months to one decimal; NR when not reached."""
    return NOT_REACHED if x is None else t.fmt_number(x, 1)


def median_ci(median: float | None, low: float | None, high: float | None) -> str:
    """``14.7 (9.2–NR)``: a median and its 95% CI in months."""
    if median is None and low is None:
        return NOT_REACHED
    return f"{months(median)} ({months(low)}–{months(high)})"


def rate_ci(rate: float | None, low: float | None, high: float | None) -> str:
    """``61.9% (38.1–78.8)``; — when not estimable (follow-up shorter than the time)."""
    if rate is None:
        return "—"

    def p(x: float | None) -> str:
        return "NE" if x is None else t.fmt_number(100 * x, 1)

    return f"{p(rate)}% ({p(low)}–{p(high)})"


def survival(results: StudyResults) -> GT:
    """Median and 6- and 12-month rates of each endpoint with data."""
    s = results.survival
    columns = ["n", "events", "median", "rate6", "rate12"]
    f = t._Frame(columns)
    for key, label in ENDPOINTS:
        e = getattr(s, key)
        if e is None:
            continue
        f.add(
            label,
            n=str(e.n),
            events=str(e.events),
            median=median_ci(e.median_months, e.median_ci_low, e.median_ci_high),
            rate6=rate_ci(e.rate_6m, e.rate_6m_ci_low, e.rate_6m_ci_high),
            rate12=rate_ci(e.rate_12m, e.rate_12m_ci_low, e.rate_12m_ci_high),
        )
    labels = {
        "n": "Patients",
        "events": "Events",
        "median": "Median, months (95% CI)",
        "rate6": "At 6 months (95% CI)",
        "rate12": "At 12 months (95% CI)",
    }
    title = "Time-to-event endpoints"
    gt = t._gt(f, "survival", title, labels, stubhead="Endpoint", center=columns)
    notes = [
        "Kaplan–Meier estimates from the first dose; 95% CIs on the log–log scale (Greenwood"
        " variance). NR, not reached; NE, not estimable; —, follow-up shorter than that time."
    ]
    if s.follow_up_median_months is not None:
        notes.append(
            f"Median follow-up {months(s.follow_up_median_months)} months (reverse Kaplan–Meier)."
        )
    if s.data_cutoff:
        notes.append(f"Data cut-off {s.data_cutoff}.")
    return t._notes(gt, notes)


def landmark(results: StudyResults) -> GT:
    """OS from the landmark by PSA50 reached on or before it."""
    lm = results.landmark
    columns = ["n", "events", "median"]
    f = t._Frame(columns)
    for g in lm.groups:
        f.add(
            "PSA50 reached" if g.psa50 else "PSA50 not reached",
            n=str(g.n),
            events=str(g.events),
            median=median_ci(g.median_months, g.median_ci_low, g.median_ci_high),
        )
    labels = {
        "n": "Patients",
        "events": "Deaths",
        "median": "Median OS from the landmark, months (95% CI)",
    }
    gt = t._gt(
        f,
        "landmark",
        f"Overall survival from the {lm.weeks}-week landmark",
        labels,
        stubhead=f"PSA50 by week {lm.weeks}",
        center=columns,
    )
    if lm.hr is None:
        hr = "Hazard ratio not estimable (a group without patients or without deaths)."
    else:
        hr = (
            f"Hazard ratio, PSA50 reached vs not: {t.fmt_ratio(lm.hr)} (95% CI"
            f" {t.fmt_ratio(lm.hr_ci_low)}–{t.fmt_ratio(lm.hr_ci_high)}; Wald p ="
            f" {t.format_p(lm.hr_p)}; Cox model, Efron ties)."
        )
    lr = "" if lm.logrank_p is None else f" Log-rank p = {t.format_p(lm.logrank_p)}."
    return t._notes(
        gt,
        [
            hr + lr,
            f"Patients alive and followed at week {lm.weeks} after the first dose; time from the"
            f" landmark. Excluded: {lm.n_excluded_died} who died and {lm.n_excluded_censored}"
            " whose follow-up ended before the landmark.",
        ],
    )


def discontinuation(results: StudyResults) -> GT:
    columns = ["n"]
    f = t._Frame(columns)
    total = sum(d.n for d in results.discontinuation)
    for d in results.discontinuation:
        f.add(d.reason, n=t.fmt_n_pct(d.n, d.pct))
    gt = t._gt(
        f,
        "discontinuation",
        "Reasons for discontinuation",
        {"n": t.n_equals(total)},
        stubhead="Reason",
        center=columns,
    )
    return t._notes(gt, ["n (%) of the patients who discontinued treatment."])


def dosing(results: StudyResults) -> GT:
    d = results.dosing
    columns = ["value"]
    f = t._Frame(columns)
    f.add("Doses received", value="")
    for c in d.distribution:
        f.add(f"{c.doses}", level=1, value=t.fmt_n_pct(c.n, c.pct))
    if d.activity_per_dose_median is not None:
        f.add(
            "Activity per dose, GBq",
            value=t.fmt_median_iqr(
                d.activity_per_dose_median, d.activity_per_dose_q1, d.activity_per_dose_q3, 2
            ),
        )
    if d.cumulative_activity_median is not None:
        f.add(
            "Cumulative activity, GBq",
            value=t.fmt_median_iqr(
                d.cumulative_activity_median,
                d.cumulative_activity_q1,
                d.cumulative_activity_q3,
                1,
            ),
        )
    n = sum(c.n for c in d.distribution)
    gt = t._gt(f, "dosing", "Treatment received", {"value": t.n_equals(n)}, center=columns)
    return t._notes(gt, ["n (%); activity: median (Q1, Q3), per dose given and per patient."])


def available(results: StudyResults) -> dict[str, Callable[[StudyResults], GT]]:
    """The follow-up tables the results have data for, by name."""
    out: dict[str, Callable[[StudyResults], GT]] = {}
    s = results.survival
    if s is not None and any(getattr(s, k) is not None for k, _ in ENDPOINTS):
        out["survival"] = survival
    if results.landmark is not None:
        out["landmark"] = landmark
    if results.discontinuation:
        out["discontinuation"] = discontinuation
    if results.dosing is not None and results.dosing.distribution:
        out["dosing"] = dosing
    return out
