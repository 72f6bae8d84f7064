"""The analysis stage: validated cohort → :class:`~analysis.results.StudyResults`.

:func:`run_analysis` composes the stage modules (``psa``, ``cohort``, ``labs``,
``models``) without mutating the cohort's frames; :func:`write_analysis`
writes ``results.json``, ``patient_summary.csv`` and ``lab_trajectories.csv``
atomically (each file is written beside its target and renamed into place).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.cohort import cohort_summary, prior_therapy_counts, prior_therapy_summary, table1
from analysis.files import csv_text, write_text_atomic
from analysis.followup import DEFAULT_LANDMARK_WEEKS
from analysis.labs import baseline_values, bmi, toxicity, trajectories
from analysis.load import Cohort
from analysis.psa import patient_psa, psa_course
from analysis.results import (
    Count,
    Milestone,
    PatientResult,
    PsaCoursePoint,
    PsaResponse,
    RegressionSummary,
    Responders,
    StudyResults,
)
from analysis.stats import clopper_pearson, finite_or_none, pct, quartiles

RESULTS_JSON = "results.json"
PATIENT_SUMMARY = "patient_summary.csv"
LAB_TRAJECTORIES = "lab_trajectories.csv"

OUTCOME = "psa50_response"

#: Univariable regression terms: (column, label).
REGRESSION_TERMS: tuple[tuple[str, str], ...] = (
    ("age", "Age, per 10 years"),
    ("bmi", "BMI, per 5 kg/m²"),
    ("ecog_ge1", "ECOG ≥ 1 (vs 0)"),
    ("log2_baseline_psa", "Baseline PSA, per doubling"),
    ("hemoglobin", "Hemoglobin, per 1 g/dL"),
    ("platelets", "Platelets, per 50 ×10⁹/L"),
    ("alkaline_phosphatase", "Alkaline phosphatase, per 100 U/L"),
    ("ldh", "LDH, per 100 U/L"),
    ("albumin", "Albumin, per 1 g/dL"),
    ("prior_therapies", "Prior therapies, per agent"),
    ("prior_taxane", "Prior taxane (vs none)"),
    ("visceral_mets", "Visceral metastases (vs none)"),
)


@dataclass(frozen=True)
class Analysis:
    """Everything the analysis stage produces."""

    results: StudyResults
    patient_summary: pd.DataFrame


def regression_frame(
    cohort: Cohort,
    per_patient: pd.DataFrame,
    baseline: pd.DataFrame,
    bmi_values: pd.Series,
    n_prior: pd.Series,
) -> pd.DataFrame:
    """One row per patient: the outcome and every regression term on its reporting scale."""
    p = cohort.patients.set_index("patient_id")
    taxane = cohort.prior_therapies.loc[
        cohort.prior_therapies["therapy_class"] == "taxane", "patient_id"
    ]
    psa = baseline["psa"].where(baseline["psa"] > 0)
    return pd.DataFrame(
        {
            OUTCOME: per_patient.set_index("patient_id")["responder"].astype(int),
            "age": p["age_at_first_dose"] / 10,
            "bmi": bmi_values / 5,
            "ecog_ge1": (p["ecog"] >= 1).astype(int),
            "log2_baseline_psa": np.log2(psa),
            "hemoglobin": baseline["hemoglobin"],
            "platelets": baseline["platelets"] / 50,
            "alkaline_phosphatase": baseline["alkaline_phosphatase"] / 100,
            "ldh": baseline["ldh"] / 100,
            "albumin": baseline["albumin"],
            "prior_therapies": n_prior.astype(float),
            "prior_taxane": p.index.isin(taxane).astype(int),
            "visceral_mets": p["visceral_mets"].astype(int),
        },
        index=p.index,
    )


def _milestones(per_patient: pd.DataFrame, max_dose: int, n: int, n_resp: int):
    m50 = per_patient["psa50_after_dose"].dropna().to_numpy()
    m90 = per_patient["psa90_after_dose"].dropna().to_numpy()
    out = []
    for k in range(1, max_dose + 1):
        a, b = int((m50 <= k).sum()), int((m90 <= k).sum())
        out.append(
            Milestone(
                after_dose=k,
                psa50_n=a,
                psa90_n=b,
                psa50_pct=pct(a, n),
                psa90_pct=pct(b, n),
                psa50_pct_of_responders=pct(a, n_resp),
                psa90_pct_of_responders=pct(b, n_resp),
            )
        )
    return tuple(out)


def _column(values: pd.Series, convert) -> list:
    """``convert(v)`` for each value as a Python object, ``None`` where missing.

    Column-wise equivalent of ``None if pd.isna(v) else convert(v)``.
    """
    missing = values.isna().to_numpy().tolist()
    items = values.to_numpy(dtype=object).tolist()
    return [None if gone else convert(v) for v, gone in zip(items, missing, strict=True)]


def _finite(values: pd.Series) -> list:
    """:func:`~analysis.stats.finite_or_none` of each value."""
    return [finite_or_none(v) for v in values.to_numpy(dtype=float).tolist()]


def _patient_results(per_patient: pd.DataFrame) -> tuple[PatientResult, ...]:
    columns = (
        range(1, len(per_patient) + 1),
        _finite(per_patient["baseline_psa"]),
        _finite(per_patient["best_psa_change_pct"]),
        _column(per_patient["psa50_after_dose"], int),
        _column(per_patient["psa90_after_dose"], int),
        _column(per_patient["psa50_confirmed"], bool),
        [int(v) for v in per_patient["doses_received"].to_numpy().tolist()],
        [str(v) for v in per_patient["treatment_status"].to_numpy(dtype=object).tolist()],
        [bool(v) for v in per_patient["responder"].to_numpy().tolist()],
    )
    return tuple(map(PatientResult, *columns))


#: ``start_regression`` of :func:`run_analysis`: takes the arguments of
#: :func:`analysis.models.fit_regression`, returns a function giving its result.
StartRegression = Callable[..., Callable[[], tuple]]


def _fit_here(*args) -> Callable[[], tuple]:
    from analysis.models import fit_regression

    result = fit_regression(*args)
    return lambda: result


def run_analysis(
    cohort: Cohort,
    *,
    cutoff: dt.date | None = None,
    landmark_weeks: int = DEFAULT_LANDMARK_WEEKS,
    start_regression: StartRegression | None = None,
) -> Analysis:
    """Compute every result from a validated cohort.

    ``cutoff`` (``study.data-cutoff``): nothing dated after it enters the
    follow-up results; ``landmark_weeks`` (``study.landmark-weeks``).

    ``start_regression``: called with the regression's arguments (those of
    :func:`analysis.models.fit_regression`) as soon as its frame is known, it
    starts the fits elsewhere and returns a function that waits for their
    result; the rest of the analysis goes on meanwhile.  A build hands them to
    a worker process, which imported statsmodels and firthmodels while this
    process validated the cohort (:func:`analysis.workfolder.analyze`).
    Without it they are fitted here.  The results are the same.
    """
    from analysis.outcomes import compute_outcomes

    per_patient = patient_psa(cohort)
    n = len(per_patient)
    responder = per_patient.set_index("patient_id")["responder"]
    n_resp = int(responder.sum())
    n_eval = int(per_patient["evaluable"].sum())

    baseline = baseline_values(cohort)
    bmi_values = bmi(cohort, baseline)
    n_prior = prior_therapy_counts(cohort)
    summary = cohort_summary(cohort, n_eval)

    resp_rows = per_patient[per_patient["responder"]]
    n90 = int(per_patient["psa90_after_dose"].notna().sum())
    n_conf = int(per_patient["psa50_confirmed"].fillna(False).astype(bool).sum())
    best_med, best_q1, best_q3 = quartiles(per_patient["best_psa_change_pct"])
    psa_response = PsaResponse(
        psa50=Count(n_resp, pct(n_resp, n), n),
        psa90=Count(n90, pct(n90, n), n),
        psa50_confirmed=Count(n_conf, pct(n_conf, n), n),
        milestones=_milestones(per_patient, summary.max_dose_number, n, n_resp),
        best_change_median=best_med,
        best_change_q1=best_q1,
        best_change_q3=best_q3,
        psa50_ci_low=clopper_pearson(n_resp, n)[0],
        psa50_ci_high=clopper_pearson(n_resp, n)[1],
        psa90_ci_low=clopper_pearson(n90, n)[0],
        psa90_ci_high=clopper_pearson(n90, n)[1],
    )
    status = resp_rows["treatment_status"].value_counts()
    resp90 = int(resp_rows["psa90_after_dose"].notna().sum())
    responders = Responders(
        n=n_resp,
        completed=int(status.get("completed", 0)),
        ongoing=int(status.get("ongoing", 0)),
        discontinued=int(status.get("discontinued", 0)),
        psa90_n=resp90,
        never_psa90=n_resp - resp90,
        psa90_pct_of_responders=pct(resp90, n_resp),
        confirmed_n=int(resp_rows["psa50_confirmed"].fillna(False).astype(bool).sum()),
    )

    frame = regression_frame(cohort, per_patient, baseline, bmi_values, n_prior)
    regression = (start_regression or _fit_here)(
        frame, OUTCOME, REGRESSION_TERMS, config.MIN_EVENTS_PER_VARIABLE
    )
    outcomes = compute_outcomes(cohort, per_patient, cutoff=cutoff, landmark_weeks=landmark_weeks)

    course = psa_course(cohort, baseline["psa"])
    ids = pd.Index(per_patient["patient_id"])
    position = ids.get_indexer(course["patient_id"])
    if (position < 0).any():  # as the dictionary lookup it replaces
        raise KeyError(course["patient_id"][position < 0].iloc[0])
    responder_of = per_patient["responder"].to_numpy(dtype=bool)
    course_points = tuple(
        map(
            PsaCoursePoint,
            (position + 1).tolist(),
            [int(v) for v in course["after_dose"].to_numpy().tolist()],
            course["pct_change"].to_numpy(dtype=float).tolist(),
            responder_of[position].tolist(),
        )
    )

    table_1 = table1(cohort, responder, baseline, bmi_values, n_prior)
    labs = trajectories(cohort)
    flags = toxicity(cohort, baseline)
    uni, decision, multi = regression()
    results = StudyResults(
        cohort=summary,
        prior_therapies=prior_therapy_summary(cohort),
        psa_response=psa_response,
        responders=responders,
        table1=table_1,
        labs=labs,
        toxicity=flags,
        regression=RegressionSummary(
            outcome=OUTCOME,
            rows=tuple(uni),
            multivariable=decision,
            multivariable_rows=tuple(multi),
        ),
        definitions={
            "baseline_window_days": config.BASELINE_WINDOW_DAYS,
            "psa50_fraction": config.PSA50_FRACTION,
            "psa90_fraction": config.PSA90_FRACTION,
            "confirmation_days": config.CONFIRMATION_DAYS,
            "predose_lab_window_days": config.PREDOSE_LAB_WINDOW_DAYS,
            "hb_grade2_g_dl": config.HB_GRADE2_G_DL,
            "plt_grade2_10e9_l": config.PLT_GRADE2_10E9_L,
            "min_events_per_variable": config.MIN_EVENTS_PER_VARIABLE,
        },
        patients=_patient_results(per_patient),
        psa_course=course_points,
        survival=outcomes.survival,
        landmark=outcomes.landmark,
        discontinuation=outcomes.discontinuation,
        dosing=outcomes.dosing,
    )
    summary_frame = patient_summary_frame(per_patient, outcomes.frame)
    return Analysis(results=results, patient_summary=summary_frame)


def _fmt(value) -> str:
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return format(float(value), ".6g")


FOLLOW_UP_SUMMARY = ("os_months", "os_event", "psa_pfs_months", "psa_pfs_event", "psa_progression")


def patient_summary_frame(
    per_patient: pd.DataFrame, follow: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ``patient_summary.csv`` columns as formatted text (empty = not applicable)."""
    cols = [
        "patient_id",
        "baseline_psa",
        "best_psa_change_pct",
        "psa50_after_dose",
        "psa90_after_dose",
        "psa50_confirmed",
        "doses_received",
        "treatment_status",
    ]
    out = pd.DataFrame({c: [_fmt(v) for v in per_patient[c].astype(object)] for c in cols[1:-1]})
    out.insert(0, "patient_id", per_patient["patient_id"].astype(str).to_numpy())
    out["treatment_status"] = per_patient["treatment_status"].astype(str).to_numpy()
    out = out[cols]
    if follow is not None:
        for c in FOLLOW_UP_SUMMARY:
            out[c] = [_fmt(v) for v in follow[c].astype(object)]
    return out


def lab_frame(results: StudyResults) -> pd.DataFrame:
    from dataclasses import asdict

    return pd.DataFrame([asdict(p) for p in results.labs])


def write_analysis(analysis: Analysis, out_dir: Path) -> list[Path]:
    """Write results.json, patient_summary.csv and lab_trajectories.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    paths = [out_dir / RESULTS_JSON, out_dir / PATIENT_SUMMARY, out_dir / LAB_TRAJECTORIES]
    write_text_atomic(paths[0], analysis.results.to_json())
    write_text_atomic(paths[1], csv_text(analysis.patient_summary))
    labs = lab_frame(analysis.results)
    write_text_atomic(paths[2], csv_text(labs, float_format="%.6g"))
    return paths
