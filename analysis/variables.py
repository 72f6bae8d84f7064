"""Computed values for the documents' prose: results → ``_variables.yml``.

The Quarto documents never contain a typed number: every figure in their text
is a ``{{< var key >}}`` shortcode resolved from the ``_variables.yml`` that
this module writes beside them (Quarto's own mechanism, which the embedded
renderer implements too).  Values are strings formatted for prose: counts as
integers, percentages with one decimal, medians without a trailing ``.0``.
The keys are listed in :func:`document_variables`; the documents may use any
of them.

Generated phrases
-----------------
A few sentences cannot be written once in the documents because their shape
depends on the data: with no PSA50 responder there is no "dose by which all
responders had responded", with one responder "of the 1 responders" is wrong,
and a conclusion that responses "were evident early" is false when there were
none.  Such sentences come from here, under ``prose`` (plain text, each a
complete sentence with its full stop unless said otherwise; an empty string
means "nothing to say", so place them in running text, never as a list item
of their own).  For typical data they read exactly as the documents' own
wording did before they were generated.

``cohort.patients`` / ``cohort.doses``
    "21 patients" / "1 patient", "93 doses" / "1 dose".
``prose.responders``
    Treatment status of the responders: "Of the 8 responders, 6 (75.0%)
    completed all six doses and 2 (25.0%) were still on treatment."; "The
    responder completed all six doses."; empty with no responder.
``prose.psa50_timing``
    "PSA50 was first seen by dose 2 in 7 responders (87.5%) and by dose 3 in
    all of them."; "All 5 responders reached PSA50 after dose 1." or "Both
    responders ..." (nobody earlier than the last milestone dose); "The
    responder reached PSA50 after dose 2."; "No patient reached PSA50 after
    any dose." with no responder.
``prose.psa90_timing``
    "PSA90 followed in 6 responders (75.0%), every one by dose 4; 2 never
    reached it."; "PSA90 followed in all 3 responders, every one by dose 2.";
    "PSA90 followed in 1 responder (12.5%), after dose 3; 7 never reached it.";
    "No responder reached PSA90."; empty with no responder.
``prose.psa50_early``
    A clause for the conclusions, no capital needed, no full stop: "PSA50
    responses to 177Lu-PSMA-617 were evident early: most by dose 2 and all by
    dose 3" ("most" only when more than half of the responders had responded
    by the dose before the last milestone dose; otherwise the counts are
    given); "no PSA50 response to 177Lu-PSMA-617 was seen after any dose".
``prose.psa50_evident_early``
    ``"yes"`` when ``prose.psa50_early`` says the responses "were evident
    early" (the data support a title that states it), else ``""``.
``prose.psa90_early``
    "Deep (PSA90) responses followed within the next doses in most
    responders."; "Deep (PSA90) responses followed in 2 of 8 responders.";
    "No patient had a deep (PSA90) response."
``prose.regression``
    "With 8 responders, estimates are imprecise and should be read as
    descriptive."; when no term could be estimated (no responder, no
    non-responder, too few values) it says so and why.
``prose.toxicity``
    "Hemoglobin fell below 10 g/dL during treatment in 3 of 21 patients
    (14.3%) and platelets below 75 ×10⁹/L in 1 (4.8%)."; a test with no value
    after dose 1 is said to have none instead of "0 of 0 patients (—%)".
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from analysis import config
from analysis.results import Count, StudyResults

DASH = "—"


def num(value: float | int | None, decimals: int | None = None) -> str:
    """A number for prose: integers without decimals, others to ``decimals`` (default 1).

    Rounded half away from zero on the decimal value (−37.25 → −37.3), like
    the percentages.
    """
    if value is None:
        return DASH
    if decimals is None:
        if float(value).is_integer():
            return f"{int(value):,}"
        decimals = 1
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    return f"{exact:,.{decimals}f}"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def _count(c: Count) -> dict[str, str]:
    return {"n": num(c.n), "pct": pct(c.pct), "of": num(c.denominator)}


def _of(n: int, d: int) -> str:
    from analysis.stats import pct as percent

    return pct(percent(n, d))


def _month(date) -> str:
    return DASH if date is None else date.strftime("%B %Y")


def _period(span, n: int, min_size: int) -> tuple[str, str, str, str]:
    """(from, to, period phrase, note): months, or years only below ``min_size`` patients."""
    a, b = span
    if a is None or b is None:
        return DASH, DASH, "", ""
    if n >= min_size:
        x, y = _month(a), _month(b)
        return x, y, (f"in {x}" if x == y else f"between {x} and {y}"), ""
    x, y = str(a.year), str(b.year)
    note = (
        f"Dates are given by year only: with fewer than {min_size} patients a month could"
        " identify a patient."
    )
    return x, y, (f"in {x}" if x == y else f"between {x} and {y}"), note


def document_variables(
    results: StudyResults,
    first_dose_span=(None, None),
    planned_doses: str | None = None,
    min_cohort_for_dates: int = config.MIN_COHORT_FOR_DATES,
) -> dict[str, Any]:
    """Every computed value the documents may cite, as nested strings.

    Below ``min_cohort_for_dates`` patients the treatment period is given in years
    (``cohort.period``, ``cohort.first_dose_from``/``_to``) and ``cohort.date_note``
    says why.

    ``planned_doses`` is the number of planned doses as the prose writes it
    (``study.planned-doses`` in ``_quarto.yml``, e.g. ``"six"``); without it
    ``prose.responders`` says "completed treatment".
    """
    r = results
    c = r.cohort
    period = _period(first_dose_span, c.n_patients, min_cohort_for_dates)
    resp = r.responders
    ms = r.psa_response.milestones
    by_dose = {m.after_dose: m for m in ms}

    # The dose by which every responder had reached PSA50, and the dose before it.
    all50 = next((m.after_dose for m in ms if resp.n and m.psa50_n == resp.n), None)
    prev = by_dose.get(all50 - 1) if all50 and all50 > 1 else None
    # The dose by which PSA90 had reached its final count among responders.
    final90 = ms[-1].psa90_n if ms else 0
    dose90 = next((m.after_dose for m in ms if final90 and m.psa90_n == final90), None)
    first50 = by_dose.get(1)

    prior = r.prior_therapies
    tox = {t.name: t for t in r.toxicity}
    decision = r.regression.multivariable
    uni = [row for row in r.regression.rows if row.method == "firth"]
    estimable = [row for row in uni if row.status in ("ok", "separation")]

    return {
        "cohort": {
            "n_patients": num(c.n_patients),
            "patients": _noun(c.n_patients, "patient"),
            "doses": _noun(c.n_doses_total, "dose"),
            "n_evaluable": num(c.n_psa_evaluable),
            "n_not_evaluable": num(c.n_patients - c.n_psa_evaluable),
            "n_doses": num(c.n_doses_total),
            "doses_median": num(c.doses_median),
            "doses_q1": num(c.doses_q1),
            "doses_q3": num(c.doses_q3),
            "doses_min": num(c.doses_min),
            "doses_max": num(c.doses_max),
            "max_dose": num(c.max_dose_number),
            "completed": num(c.by_status.get("completed", 0)),
            "ongoing": num(c.by_status.get("ongoing", 0)),
            "discontinued": num(c.by_status.get("discontinued", 0)),
            "first_dose_from": period[0],
            "first_dose_to": period[1],
            "period": period[2],
            "date_note": period[3],
        },
        "prior": {
            "median": num(prior.median),
            "q1": num(prior.q1),
            "q3": num(prior.q3),
            "min": num(prior.min),
            "max": num(prior.max),
            **{
                cls: {"n": num(n), "pct": pct(prior.by_class_pct[cls])}
                for cls, n in prior.by_class.items()
            },
        },
        "psa50": {
            **_count(r.psa_response.psa50),
            "ci_low": pct(r.psa_response.psa50_ci_low),
            "ci_high": pct(r.psa_response.psa50_ci_high),
        },
        "psa90": {
            **_count(r.psa_response.psa90),
            "ci_low": pct(r.psa_response.psa90_ci_low),
            "ci_high": pct(r.psa_response.psa90_ci_high),
        },
        "confirmed": _count(r.psa_response.psa50_confirmed),
        "best_change": {
            "median": num(r.psa_response.best_change_median, 1),
            "q1": num(r.psa_response.best_change_q1, 1),
            "q3": num(r.psa_response.best_change_q3, 1),
        },
        "responders": {
            "n": num(resp.n),
            "completed": num(resp.completed),
            "completed_pct": _of(resp.completed, resp.n),
            "ongoing": num(resp.ongoing),
            "ongoing_pct": _of(resp.ongoing, resp.n),
            "discontinued": num(resp.discontinued),
            "discontinued_pct": _of(resp.discontinued, resp.n),
            "psa90_n": num(resp.psa90_n),
            "psa90_pct": pct(resp.psa90_pct_of_responders),
            "never_psa90": num(resp.never_psa90),
            "never_psa90_pct": _of(resp.never_psa90, resp.n),
            "confirmed": num(resp.confirmed_n),
            "confirmed_pct": _of(resp.confirmed_n, resp.n),
        },
        "milestones": {
            "after_dose1_n": num(first50.psa50_n if first50 else None),
            "after_dose1_pct": pct(first50.psa50_pct_of_responders if first50 else None),
            "all_psa50_dose": num(all50),
            "before_all_dose": num(prev.after_dose if prev else None),
            "before_all_n": num(prev.psa50_n if prev else None),
            "before_all_pct": pct(prev.psa50_pct_of_responders if prev else None),
            "psa90_dose": num(dose90),
            "psa90_n": num(final90),
            "psa90_pct": _of(final90, resp.n),
        },
        "toxicity": {
            name: {
                "n": num(t.on_treatment.n),
                "pct": pct(t.on_treatment.pct),
                "of": num(t.on_treatment.denominator),
                "baseline_n": num(t.baseline.n),
                "new_n": num(t.new_on_treatment.n),
            }
            for name, t in tox.items()
        },
        "regression": {
            "n_terms": num(len(uni)),
            "n_estimable": num(len(estimable)),
            "events": num(decision.events),
            "epv": num(decision.events_per_variable, 1),
            "min_epv": num(r.definitions["min_events_per_variable"]),
            "multivariable": "fitted" if decision.fitted else "not fitted",
            "multivariable_reason": decision.reason,
        },
        "definitions": {k: num(v) for k, v in r.definitions.items()},
        "prose": _prose(r, all50, prev, final90, dose90, estimable, planned_doses),
    }


def _noun(n: int, word: str, plural: str | None = None) -> str:
    """``"1 patient"``, ``"21 patients"``."""
    return f"{num(n)} {word if n == 1 else plural or word + 's'}"


def _all(n: int) -> str:
    """``"both"`` or ``"all 5"``."""
    return "both" if n == 2 else f"all {num(n)}"


def _prose(r: StudyResults, all50, prev, final90, dose90, estimable, planned_doses) -> dict:
    """The generated sentences listed in the module docstring."""
    n = r.responders.n
    resp = r.responders
    completed = f"completed all {planned_doses} doses" if planned_doses else "completed treatment"

    if n == 0:
        responders = ""
    elif n == 1:
        status = (
            completed
            if resp.completed
            else "was still on treatment"
            if resp.ongoing
            else "discontinued treatment"
        )
        responders = f"The responder {status}."
    else:
        responders = (
            f"Of the {num(n)} responders, {num(resp.completed)} ({_of(resp.completed, n)}%) "
            f"{completed} and {num(resp.ongoing)} ({_of(resp.ongoing, n)}%) were still on "
            "treatment."
        )

    # PSA50: prev is the dose before the one by which every responder had responded;
    # None when that dose is 1, and then (or when prev counts nobody) all responded at once.
    at_once = prev is None or prev.psa50_n == 0
    if n == 0:
        psa50_timing = "No patient reached PSA50 after any dose."
        psa50_early = "no PSA50 response to 177Lu-PSMA-617 was seen after any dose"
    elif n == 1:
        psa50_timing = f"The responder reached PSA50 after dose {num(all50)}."
        psa50_early = f"the one PSA50 response to 177Lu-PSMA-617 was seen after dose {num(all50)}"
    elif at_once:
        psa50_timing = f"{_all(n).capitalize()} responders reached PSA50 after dose {num(all50)}."
        psa50_early = (
            f"PSA50 responses to 177Lu-PSMA-617 were seen after dose {num(all50)} in "
            f"{_all(n)} responders"
        )
    else:
        psa50_timing = (
            f"PSA50 was first seen by dose {num(prev.after_dose)} in "
            f"{_noun(prev.psa50_n, 'responder')} ({pct(prev.psa50_pct_of_responders)}%) and by "
            f"dose {num(all50)} in all of them."
        )
        if 2 * prev.psa50_n > n:
            psa50_early = (
                "PSA50 responses to 177Lu-PSMA-617 were evident early: most by dose "
                f"{num(prev.after_dose)} and all by dose {num(all50)}"
            )
        else:
            psa50_early = (
                f"PSA50 responses to 177Lu-PSMA-617 were seen in {num(prev.psa50_n)} of "
                f"{num(n)} responders by dose {num(prev.after_dose)} and in all by dose "
                f"{num(all50)}"
            )

    never = resp.never_psa90
    if n == 0:
        psa90_timing = ""
        psa90_early = "No patient had a deep (PSA90) response."
    elif final90 == 0:
        psa90_timing = "No responder reached PSA90."
        psa90_early = "No patient had a deep (PSA90) response."
    elif n == 1:
        psa90_timing = f"The responder went on to PSA90 after dose {num(dose90)}."
        psa90_early = "The responder went on to a deep (PSA90) response."
    elif final90 == n:
        psa90_timing = f"PSA90 followed in {_all(n)} responders, every one by dose {num(dose90)}."
        psa90_early = "Deep (PSA90) responses followed in every responder."
    else:
        every = "every one by" if final90 > 1 else "after"
        psa90_timing = (
            f"PSA90 followed in {_noun(final90, 'responder')} ({_of(final90, n)}%), {every} dose "
            f"{num(dose90)}; {num(never)} never reached it."
        )
        if 2 * final90 > n:
            later = dose90 is not None and all50 is not None and dose90 > all50
            psa90_early = (
                "Deep (PSA90) responses followed within the next doses in most responders."
                if later
                else "Deep (PSA90) responses followed in most responders."
            )
        else:
            psa90_early = (
                f"Deep (PSA90) responses followed in {num(final90)} of {num(n)} responders."
            )

    n_patients = r.cohort.n_patients
    if estimable:
        regression = (
            f"With {_noun(n, 'responder')}, estimates are imprecise and should be read as "
            "descriptive."
        )
    elif n == 0:
        regression = "With no responder, no odds ratio could be estimated."
    elif n == n_patients:
        regression = "With every patient a responder, no odds ratio could be estimated."
    else:
        from analysis.config import MIN_COMPLETE_CASES, MIN_EACH_OUTCOME

        regression = (
            f"No odds ratio could be estimated: no term had at least {MIN_COMPLETE_CASES} "
            f"patients with a value that varied, among them at least {MIN_EACH_OUTCOME} "
            f"responders and {MIN_EACH_OUTCOME} non-responders (the table gives the reason for "
            "each term)."
        )

    return {
        "responders": responders,
        "psa50_timing": psa50_timing,
        "psa90_timing": psa90_timing,
        "psa50_early": psa50_early,
        "psa50_evident_early": "yes" if "were evident early" in psa50_early else "",
        "psa90_early": psa90_early,
        "regression": regression,
        "toxicity": _toxicity_sentence(r),
    }


def _toxicity_sentence(r: StudyResults) -> str:
    tox = {t.name: t for t in r.toxicity}
    hb, plt = tox.get("anemia_grade2"), tox.get("thrombocytopenia_grade2")
    if hb is None or plt is None:
        return ""
    a, b = hb.on_treatment, plt.on_treatment
    hb_below = f"below {num(r.definitions['hb_grade2_g_dl'])} g/dL"
    plt_below = f"below {num(r.definitions['plt_grade2_10e9_l'])} ×10⁹/L"
    if not a.denominator and not b.denominator:
        return "No hemoglobin or platelet value was recorded after the first dose."
    if not a.denominator:
        return (
            "No hemoglobin value was recorded after the first dose; platelets fell "
            f"{plt_below} during treatment in {num(b.n)} of {_noun(b.denominator, 'patient')} "
            f"({pct(b.pct)}%)."
        )
    hemoglobin = (
        f"Hemoglobin fell {hb_below} during treatment in {num(a.n)} of "
        f"{_noun(a.denominator, 'patient')} ({pct(a.pct)}%)"
    )
    if not b.denominator:
        return f"{hemoglobin}; no platelet value was recorded after the first dose."
    count = num(b.n) if b.denominator == a.denominator else f"{num(b.n)} of {num(b.denominator)}"
    return f"{hemoglobin} and platelets {plt_below} in {count} ({pct(b.pct)}%)."
