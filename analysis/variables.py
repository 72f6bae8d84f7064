"""Computed values for the documents' prose: results → ``_variables.yml``.

The Quarto documents never contain a typed number: every figure in their text
is a ``{{< var key >}}`` shortcode resolved from the ``_variables.yml`` that
this module writes beside them (Quarto's own mechanism, which the embedded
renderer implements too).  Values are strings formatted for prose: counts as
integers, percentages with one decimal, medians without a trailing ``.0``.
The keys are listed in :func:`document_variables`; the documents may use any
of them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

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


def document_variables(results: StudyResults, first_dose_span=(None, None)) -> dict[str, Any]:
    """Every computed value the documents may cite, as nested strings."""
    r = results
    c = r.cohort
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
            "first_dose_from": _month(first_dose_span[0]),
            "first_dose_to": _month(first_dose_span[1]),
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
        "psa50": _count(r.psa_response.psa50),
        "psa90": _count(r.psa_response.psa90),
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
    }
