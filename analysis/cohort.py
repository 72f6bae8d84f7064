"""Cohort description: counts, prior therapies and Table 1.

Definitions (data/README.md):

* Prior therapies: distinct agents per patient (agent names compared
  case-insensitively with white space folded; repeated rows count once; 0
  for a patient with no rows).  Median, quartiles (pandas' default linear
  interpolation), minimum and maximum over all patients; patients with at
  least one agent of each therapy class.
* Table 1: overall and by PSA50 response.  Continuous variables as median
  (Q1, Q3) — quartiles by R's ``quantile(type = 2)`` as gtsummary ≥ 2.0
  (``stats.quartiles_type2``), not the linear rule of the other summaries —
  with the Wilcoxon rank-sum test; categorical and yes/no variables
  as n (%) of patients with a known value, with Pearson's chi-squared test
  (no continuity correction) when every expected count is ≥ 5 and Fisher's
  exact test otherwise — gtsummary's defaults.  Fisher's test is exact while
  the margins allow at most ``stats.FISHER_MAX_TABLES`` tables; past that its
  p-value is simulated with a fixed seed (test ``"fisher_sim"``, named in
  Table 1's footnotes and marked on its row).  Missing values are counted,
  not imputed, and are outside the percentages and the tests (gtsummary's
  missing row): a blank race or ethnicity is missing (the text "Unknown"
  written in the data is a level like any other), and so is a baseline PSA
  of 0, which is not PSA-evaluable (as in patient_summary.csv).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.labs import LAB_LABELS, unit_label
from analysis.load import Cohort
from analysis.results import (
    CohortSummary,
    Count,
    GroupStat,
    PriorTherapySummary,
    Table1,
    Table1Variable,
)
from analysis.stats import categorical_test, pct, quartiles, quartiles_type2, wilcoxon_rank_sum

TABLE1_LABS = ("hemoglobin", "platelets", "alkaline_phosphatase", "ldh", "albumin", "creatinine")


def prior_therapy_counts(cohort: Cohort) -> pd.Series:
    """Distinct prior agents per patient (index patient_id, 0 for none)."""
    prior = cohort.prior_therapies
    counts = prior.drop_duplicates(["patient_id", "agent_key"]).groupby("patient_id").size()
    return counts.reindex(cohort.patients["patient_id"], fill_value=0).astype(np.int64)


def prior_therapy_summary(cohort: Cohort) -> PriorTherapySummary:
    counts = prior_therapy_counts(cohort)
    med, q1, q3 = quartiles(counts)
    prior = cohort.prior_therapies
    n = len(cohort.patients)
    by_class = {}
    for klass in config.THERAPY_CLASSES:
        by_class[klass] = int(prior.loc[prior["therapy_class"] == klass, "patient_id"].nunique())
    return PriorTherapySummary(
        median=med,
        q1=q1,
        q3=q3,
        min=int(counts.min()),
        max=int(counts.max()),
        by_class=by_class,
        by_class_pct={k: pct(v, n) for k, v in by_class.items()},
    )


def cohort_summary(cohort: Cohort, n_evaluable: int) -> CohortSummary:
    received = cohort.doses.groupby("patient_id")["dose_number"].max()
    med, q1, q3 = quartiles(received)
    status = cohort.patients["treatment_status"].value_counts()
    return CohortSummary(
        n_patients=len(cohort.patients),
        n_psa_evaluable=int(n_evaluable),
        n_doses_total=len(cohort.doses),
        doses_median=med,
        doses_q1=q1,
        doses_q3=q3,
        doses_min=int(received.min()),
        doses_max=int(received.max()),
        by_status={s: int(status.get(s, 0)) for s in config.TREATMENT_STATUSES},
        max_dose_number=int(cohort.doses["dose_number"].max()),
    )


# --- Table 1 -------------------------------------------------------------------------


def _continuous(values: pd.Series) -> GroupStat:
    med, q1, q3 = quartiles_type2(values)
    return GroupStat(
        n=int(values.notna().sum()), missing=int(values.isna().sum()), median=med, q1=q1, q3=q3
    )


def _categorical(values: pd.Series, levels: list[str]) -> GroupStat:
    known = values.dropna()
    counts = known.value_counts()
    return GroupStat(
        n=len(known),
        missing=int(values.isna().sum()),
        levels={
            lv: Count(int(counts.get(lv, 0)), pct(int(counts.get(lv, 0)), len(known)), len(known))
            for lv in levels
        },
    )


def _variable(name, label, kind, group, values, responder, levels=()) -> Table1Variable:
    resp = values[responder]
    non = values[~responder]
    if kind == "continuous":
        stats = [_continuous(v) for v in (values, resp, non)]
        p = wilcoxon_rank_sum(resp, non)
        test = "wilcoxon" if p is not None else None
    else:
        levels = list(levels)
        stats = [_categorical(v, levels) for v in (values, resp, non)]
        table = np.array([[stats[1].levels[lv].n, stats[2].levels[lv].n] for lv in levels])
        test, p = categorical_test(table)
    return Table1Variable(
        name=name,
        label=label,
        kind=kind,
        group=group,
        overall=stats[0],
        responders=stats[1],
        non_responders=stats[2],
        test=test,
        p_value=p,
        level_order=tuple(levels),
    )


def _level_order(values: pd.Series) -> list[str]:
    """Levels by descending frequency, then name; 'Unknown'/'Other' last."""
    counts = values.dropna().value_counts()
    tail = [lv for lv in ("Other", "Unknown") if lv in counts.index]
    head = sorted((lv for lv in counts.index if lv not in tail), key=lambda lv: (-counts[lv], lv))
    return head + tail


def table1(
    cohort: Cohort,
    responder: pd.Series,
    baseline: pd.DataFrame,
    bmi: pd.Series,
    n_prior: pd.Series,
) -> Table1:
    """Table 1 data: overall and by PSA50 response, with p-values and missing counts.

    All inputs are indexed by patient_id in patients.csv order.
    """
    p = cohort.patients.set_index("patient_id")
    resp = responder.reindex(p.index).fillna(False).astype(bool).to_numpy()

    def yes_no(col):
        return p[col].map({True: "Yes", False: "No"})

    gleason = p["gleason_score"].map(lambda g: f"{int(g)}" if pd.notna(g) else None)
    ecog = p["ecog"].map(lambda e: f"{int(e)}")
    variables = [
        _variable("age", "Age, years", "continuous", "", p["age_at_first_dose"], resp),
        _variable("race", "Race", "categorical", "", p["race"], resp, _level_order(p["race"])),
        _variable(
            "ethnicity",
            "Ethnicity",
            "categorical",
            "",
            p["ethnicity"],
            resp,
            _level_order(p["ethnicity"]),
        ),
        _variable(
            "ecog",
            "ECOG performance status",
            "categorical",
            "",
            ecog,
            resp,
            sorted(ecog.dropna().unique(), key=int),
        ),
        _variable(
            "gleason",
            "Gleason score",
            "categorical",
            "",
            gleason,
            resp,
            sorted(gleason.dropna().unique(), key=int),
        ),
        _variable(
            "de_novo_metastatic",
            "De novo metastatic disease",
            "dichotomous",
            "",
            yes_no("de_novo_metastatic"),
            resp,
            ["Yes", "No"],
        ),
    ]
    for col, label in (
        ("bone_mets", "Bone"),
        ("lymph_node_mets", "Lymph node"),
        ("visceral_mets", "Visceral"),
    ):
        variables.append(
            _variable(
                col, label, "dichotomous", "Metastatic sites", yes_no(col), resp, ["Yes", "No"]
            )
        )
    variables.append(_variable("bmi", "BMI, kg/m²", "continuous", "", bmi.reindex(p.index), resp))
    variables.append(
        _variable(
            "prior_therapies",
            "Prior therapies, n",
            "continuous",
            "",
            n_prior.reindex(p.index).astype(float),
            resp,
        )
    )
    variables.append(
        _variable(
            "baseline_psa",
            "PSA, ng/mL",
            "continuous",
            "Baseline laboratory values",
            # 0 is not PSA-evaluable (analysis.psa): missing here too, as in patient_summary.csv
            baseline["psa"].where(baseline["psa"] > 0).reindex(p.index),
            resp,
        )
    )
    for test in TABLE1_LABS:
        variables.append(
            _variable(
                test,
                f"{LAB_LABELS[test]}, {unit_label(test)}",
                "continuous",
                "Baseline laboratory values",
                baseline[test].reindex(p.index),
                resp,
            )
        )
    n_resp = int(resp.sum())
    return Table1(
        n_overall=len(p),
        n_responders=n_resp,
        n_non_responders=len(p) - n_resp,
        variables=tuple(variables),
    )
