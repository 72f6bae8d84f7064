"""Frozen result dataclasses and their serialisation to ``results.json``.

The analysis stages return these objects; tables, charts and documents are
built from them only.  ``results.json`` is :meth:`StudyResults.to_json`:
sorted keys, floats rounded to 6 significant digits, percentages to one
decimal, no timestamps, so the same input always gives the same bytes.
Per-patient rows (``patients``, ``psa_course``) are kept out of
``results.json``; they are written to ``patient_summary.csv`` and drawn in the
figures with patients numbered 1..n (never their patient_id).  Fields marked
``metadata={"results_json": False}`` (the Kaplan–Meier curve points of
:mod:`analysis.outcomes`) are drawn in the figures and left out too.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Count:
    """``n`` of ``denominator`` with its percentage (one decimal)."""

    n: int
    pct: float | None
    denominator: int


@dataclass(frozen=True)
class CohortSummary:
    n_patients: int
    n_psa_evaluable: int
    n_doses_total: int
    doses_median: float | None
    doses_q1: float | None
    doses_q3: float | None
    doses_min: int
    doses_max: int
    by_status: dict[str, int]
    max_dose_number: int


@dataclass(frozen=True)
class PriorTherapySummary:
    median: float | None
    q1: float | None
    q3: float | None
    min: int
    max: int
    by_class: dict[str, int]
    by_class_pct: dict[str, float | None]


@dataclass(frozen=True)
class Milestone:
    """Cumulative patients whose PSA50 / PSA90 milestone is at or before ``after_dose``."""

    after_dose: int
    psa50_n: int
    psa90_n: int
    psa50_pct: float | None
    psa90_pct: float | None
    psa50_pct_of_responders: float | None
    psa90_pct_of_responders: float | None


@dataclass(frozen=True)
class PsaResponse:
    psa50: Count
    psa90: Count
    psa50_confirmed: Count
    milestones: tuple[Milestone, ...]
    best_change_median: float | None
    best_change_q1: float | None
    best_change_q3: float | None
    #: Exact (Clopper–Pearson) 95% CI of the PSA50 and PSA90 rates, in percent.
    psa50_ci_low: float | None = None
    psa50_ci_high: float | None = None
    psa90_ci_low: float | None = None
    psa90_ci_high: float | None = None


@dataclass(frozen=True)
class Responders:
    n: int
    completed: int
    ongoing: int
    discontinued: int
    psa90_n: int
    never_psa90: int
    psa90_pct_of_responders: float | None
    confirmed_n: int


@dataclass(frozen=True)
class GroupStat:
    """Summary of one Table 1 variable in one column (overall or a group)."""

    n: int
    missing: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    levels: dict[str, Count] = field(default_factory=dict)


@dataclass(frozen=True)
class Table1Variable:
    name: str
    label: str
    kind: str  # "continuous" | "categorical" | "dichotomous"
    group: str  # section heading, e.g. "Metastatic sites"
    overall: GroupStat
    responders: GroupStat
    non_responders: GroupStat
    test: str | None
    p_value: float | None
    level_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table1:
    n_overall: int
    n_responders: int
    n_non_responders: int
    variables: tuple[Table1Variable, ...]


@dataclass(frozen=True)
class LabPoint:
    """Pre-dose value of one test at one dose (nearest before, within 14 days)."""

    test: str
    label: str
    unit: str
    dose_number: int
    n: int
    median: float | None
    q1: float | None
    q3: float | None
    change_n: int
    change_median: float | None
    change_q1: float | None
    change_q3: float | None


@dataclass(frozen=True)
class ToxicityFlag:
    """Patients with a CTCAE grade ≥ 2 value at baseline and on treatment."""

    name: str
    label: str
    threshold: str
    baseline: Count
    on_treatment: Count
    new_on_treatment: Count


@dataclass(frozen=True)
class RegressionRow:
    """One coefficient of one logistic model, ready for a table.

    Parameters
    ----------
    term : str
        Machine name: the column of the input frame, e.g. ``"age"``.
    label : str
        Human label, e.g. ``"Age, per year"``.
    method : str
        ``"ml"`` (maximum likelihood, Wald CI and p) or ``"firth"`` (penalised
        likelihood, profile-likelihood CI and penalised likelihood-ratio p).
    model : str
        ``"univariable"`` or ``"multivariable"``.
    odds_ratio, ci_low, ci_high : float or None
        Odds ratio per unit of the term and its 95% confidence interval;
        ``None`` when not available (see ``status``).
    p_value : float or None
        Two-sided p-value for "odds ratio = 1".
    n : int
        Complete cases used (outcome and term(s) all present).
    events : int
        Events (responders) among them.
    status : str
        ``"ok"``; ``"separation"`` (ML row: no numbers, the ML estimate does
        not exist; Firth row: finite penalised estimates from separated data,
        reported but flagged); ``"not_estimable"`` (too little data, no
        numbers); ``"not_converged"`` (a fit or a CI bound did not converge;
        what did converge is reported).
    note : str
        ``""`` or a short sentence saying why the status is not ``"ok"``.
    """

    term: str
    label: str
    method: str
    model: str
    odds_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    events: int
    status: str
    note: str


@dataclass(frozen=True)
class MultivariableDecision:
    """Whether the multivariable model was fitted, and why (not).

    Parameters
    ----------
    fitted : bool
        True when the model was fitted.
    reason : str
        One sentence with the numbers, e.g. ``"8 events among 21 complete
        cases for 12 terms (0.7 per term); at least 10 events per term are
        needed"``.
    events : int
        Events among the complete cases over all terms.
    n_terms : int
        Number of terms in the model.
    events_per_variable : float
        ``events / n_terms``.
    """

    fitted: bool
    reason: str
    events: int
    n_terms: int
    events_per_variable: float


@dataclass(frozen=True)
class RegressionSummary:
    outcome: str
    rows: tuple[RegressionRow, ...]
    multivariable: MultivariableDecision
    multivariable_rows: tuple[RegressionRow, ...]


@dataclass(frozen=True)
class PatientResult:
    """One patient, numbered 1..n in patients.csv order (no identifiers)."""

    patient_no: int
    baseline_psa: float | None
    best_psa_change_pct: float | None
    psa50_after_dose: int | None
    psa90_after_dose: int | None
    psa50_confirmed: bool | None
    doses_received: int
    treatment_status: str
    responder: bool


@dataclass(frozen=True)
class PsaCoursePoint:
    patient_no: int
    after_dose: int
    pct_change: float
    responder: bool


@dataclass(frozen=True)
class StudyResults:
    cohort: CohortSummary
    prior_therapies: PriorTherapySummary
    psa_response: PsaResponse
    responders: Responders
    table1: Table1
    labs: tuple[LabPoint, ...]
    toxicity: tuple[ToxicityFlag, ...]
    regression: RegressionSummary
    definitions: dict[str, Any]
    patients: tuple[PatientResult, ...] = field(repr=False, default=())
    psa_course: tuple[PsaCoursePoint, ...] = field(repr=False, default=())
    #: analysis.outcomes results (``None`` / empty for results made without them)
    survival: Any = None
    landmark: Any = None
    discontinuation: tuple = ()
    dosing: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` structure (aggregate results only)."""
        out = {
            "schema_version": SCHEMA_VERSION,
            "cohort": _plain(self.cohort),
            "prior_therapies": _plain(self.prior_therapies),
            "psa_response": _plain(self.psa_response),
            "responders": _plain(self.responders),
            "table1": _plain(self.table1),
            "labs": _plain(self.labs),
            "toxicity": _plain(self.toxicity),
            "regression": _plain(self.regression.rows),
            "multivariable": {
                **_plain(self.regression.multivariable),
                "rows": _plain(self.regression.multivariable_rows),
            },
            "regression_outcome": self.regression.outcome,
            "definitions": dict(self.definitions),
        }
        if self.survival is not None:
            surv = {
                k: _plain(getattr(self.survival, k))
                for k in ("os", "psa_pfs", "rpfs")
                if getattr(self.survival, k) is not None
            }
            surv["follow_up_median_months"] = _plain(self.survival.follow_up_median_months)
            surv["data_cutoff"] = self.survival.data_cutoff
            out["survival"] = surv
        if self.landmark is not None:
            out["landmark"] = _plain(self.landmark)
        out["discontinuation"] = _plain(self.discontinuation)
        if self.dosing is not None:
            out["dosing"] = _plain(self.dosing)
        return out

    def to_json(self) -> str:
        return dumps(self.to_dict())


def _number(value: float) -> float | int | None:
    if not math.isfinite(value):
        return None
    return float(format(value, ".6g"))


def _plain(obj: Any) -> Any:
    """Dataclasses, tuples and numpy scalars → JSON-ready builtins, floats rounded."""
    if dataclasses.is_dataclass(obj):
        return {
            f.name: _plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.metadata.get("results_json", True)  # figure-only fields stay out
        }
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "item"):  # numpy scalar
        return _plain(obj.item())
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return _number(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(data: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    return json.dumps(_plain(data), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
