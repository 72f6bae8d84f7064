"""The data the charts draw: rows read from the results (never recomputed), and the
labels of their categories.

:mod:`analysis.charts` builds the charts from these and gives every name here
under its own name too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis import config

if TYPE_CHECKING:
    from analysis.results import StudyResults

PSA90 = "PSA90"
PSA50_ONLY = "PSA50 only"
NO_PSA50 = "No PSA50"
RESPONSE_ORDER = (PSA90, PSA50_ONLY, NO_PSA50)

RESPONDER = "Responder (PSA50)"
NON_RESPONDER = "Non-responder"

STATUS_ORDER = ("completed", "ongoing", "discontinued")
STATUS_LABELS = {"completed": "Completed", "ongoing": "Ongoing", "discontinued": "Discontinued"}

MARK_PSA50 = "PSA50 reached"
MARK_PSA90 = "PSA90 reached"
MARK_ONGOING = "Treatment ongoing"

#: Waterfall bars above this are drawn at it; PSA course points above PSA_COURSE_CAP likewise.
WATERFALL_CAP = 100.0
PSA_COURSE_CAP = 200.0


def signed_pct(value: float, digits: int = 0) -> str:
    """``+245%`` / ``−12%`` with a true minus sign."""
    text = f"{abs(value):.{digits}f}%"
    return ("−" if value < 0 else "+") + text


def response_category(patient) -> str:
    if patient.psa90_after_dose is not None:
        return PSA90
    if patient.psa50_after_dose is not None:
        return PSA50_ONLY
    return NO_PSA50


def milestone_text(after_dose: int | None) -> str:
    return "not reached" if after_dose is None else f"after dose {after_dose}"


def waterfall_data(results: StudyResults):
    """One row per patient with a best PSA change, in plotting order."""
    import pandas as pd

    rows = [p for p in results.patients if p.best_psa_change_pct is not None]
    rows.sort(key=lambda p: (-p.best_psa_change_pct, p.patient_no))
    return pd.DataFrame(
        {
            "patient_no": [p.patient_no for p in rows],
            "best_change": [float(p.best_psa_change_pct) for p in rows],
            "best_change_plot": [min(float(p.best_psa_change_pct), WATERFALL_CAP) for p in rows],
            "capped": [p.best_psa_change_pct > WATERFALL_CAP for p in rows],
            "cap_label": [
                signed_pct(p.best_psa_change_pct) if p.best_psa_change_pct > WATERFALL_CAP else ""
                for p in rows
            ],
            "response": [response_category(p) for p in rows],
            "psa50": [milestone_text(p.psa50_after_dose) for p in rows],
            "psa90": [milestone_text(p.psa90_after_dose) for p in rows],
        }
    )


def waterfall_groups(results: StudyResults):
    """The large-cohort waterfall: every ranked patient, in groups of consecutive patients.

    Patients in waterfall order (:func:`waterfall_data`) are cut where the
    response category changes, and each such run into groups of at most
    ``ceil(n / config.WATERFALL_GROUPS)`` patients.  If the categories do not
    follow the change (more runs than groups allow) the groups are cut by size
    only and take their middle patient's category.  One row per group: its
    ranks (1 = largest increase), its span as % of the patients, the number of
    patients and the median, minimum and maximum best change; ``median_plot``
    is the median drawn at most at ``WATERFALL_CAP``.
    """
    import itertools
    import math

    import numpy as np
    import pandas as pd

    data = waterfall_data(results)
    n = len(data)
    size = max(1, math.ceil(n / config.WATERFALL_GROUPS))
    response = data["response"].tolist()
    cuts = [0, *[i for i in range(1, n) if response[i] != response[i - 1]], n]
    bounds = [
        (lo, min(lo + size, b)) for a, b in itertools.pairwise(cuts) for lo in range(a, b, size)
    ]
    if len(bounds) > 2 * config.WATERFALL_GROUPS:
        bounds = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    values = data["best_change"].to_numpy(dtype=float)
    rows = []
    for lo, hi in bounds:
        chunk = values[lo:hi]
        median = float(np.median(chunk))
        rows.append(
            {
                "rank_from": lo + 1,
                "rank_to": hi,
                "start_pct": 100.0 * lo / n,
                "end_pct": 100.0 * hi / n,
                "n": hi - lo,
                "median": median,
                "min": float(chunk.min()),
                "max": float(chunk.max()),
                "median_plot": min(median, WATERFALL_CAP),
                "response": response[(lo + hi - 1) // 2],
            }
        )
    columns = ["rank_from", "rank_to", "start_pct", "end_pct", "n", "median", "min", "max"]
    return pd.DataFrame(rows, columns=[*columns, "median_plot", "response"])


def psa_course_data(results: StudyResults):
    """``results.psa_course`` plus a baseline point (dose 0, 0 %) per patient drawn."""
    import pandas as pd

    points = sorted(results.psa_course, key=lambda c: (c.patient_no, c.after_dose))
    drawn = sorted({(c.patient_no, c.responder) for c in points})
    base = [(no, 0, 0.0, resp, True) for no, resp in drawn]
    course = [(c.patient_no, c.after_dose, float(c.pct_change), c.responder, False) for c in points]
    rows = sorted(base + course, key=lambda r: (r[0], r[1]))
    return pd.DataFrame(
        {
            "patient_no": [r[0] for r in rows],
            "after_dose": [r[1] for r in rows],
            "pct_change": [r[2] for r in rows],
            "pct_change_plot": [min(r[2], PSA_COURSE_CAP) for r in rows],
            "capped": [r[2] > PSA_COURSE_CAP for r in rows],
            "group": [RESPONDER if r[3] else NON_RESPONDER for r in rows],
            "baseline": [r[4] for r in rows],
        }
    )


def psa_course_bands(results: StudyResults):
    """The large-cohort PSA course: per group and dose, n, median and quartiles.

    Computed from :func:`psa_course_data` (baseline points included, so dose 0
    is 0 %) with pandas' default linear quantiles of the unclipped change;
    ``*_plot`` columns are the same values drawn at most at ``PSA_COURSE_CAP``.
    Rows: non-responders first, then responders, each by dose.
    """
    import pandas as pd

    data = psa_course_data(results)
    rows = []
    for group in (NON_RESPONDER, RESPONDER):
        sel = data[data["group"] == group]
        for dose, values in sel.groupby("after_dose", sort=True)["pct_change"]:
            q1, median, q3 = (float(v) for v in values.quantile([0.25, 0.5, 0.75]))
            rows.append(
                {
                    "group": group,
                    "after_dose": int(dose),
                    "n": len(values),
                    "q1": q1,
                    "median": median,
                    "q3": q3,
                }
            )
    out = pd.DataFrame(rows, columns=["group", "after_dose", "n", "q1", "median", "q3"])
    for col in ("q1", "median", "q3"):
        out[f"{col}_plot"] = out[col].clip(upper=PSA_COURSE_CAP)
    return out


def milestone_data(results: StudyResults):
    """Two rows per dose (PSA50, PSA90) from ``results.psa_response.milestones``."""
    import pandas as pd

    rows = []
    for m in results.psa_response.milestones:
        for measure, n, pct, pct_resp in (
            ("PSA50", m.psa50_n, m.psa50_pct, m.psa50_pct_of_responders),
            ("PSA90", m.psa90_n, m.psa90_pct, m.psa90_pct_of_responders),
        ):
            rows.append(
                {
                    "after_dose": m.after_dose,
                    "measure": measure,
                    "n": n,
                    "pct": pct,
                    "pct_of_responders": pct_resp,
                }
            )
    return pd.DataFrame(rows, columns=["after_dose", "measure", "n", "pct", "pct_of_responders"])


def swimmer_sample(
    results: StudyResults,
    most: int = config.SWIMMER_PATIENTS_MAX,
    sample: int = config.SWIMMER_SAMPLE,
) -> tuple:
    """The patients the swimmer plot draws: all, or above ``config.SWIMMER_PATIENTS_MAX``
    a random sample of ``config.SWIMMER_SAMPLE`` (seed ``config.SWIMMER_SAMPLE_SEED``,
    drawn from the patients in number order, so the same results give the same sample)."""
    import numpy as np

    patients = tuple(results.patients)
    if len(patients) <= most:
        return patients
    by_number = sorted(patients, key=lambda p: p.patient_no)
    rng = np.random.default_rng(config.SWIMMER_SAMPLE_SEED)
    picked = np.sort(rng.choice(len(by_number), size=sample, replace=False))
    return tuple(by_number[int(i)] for i in picked)


def swimmer_order(results: StudyResults, patients=None) -> list[int]:
    """Patient numbers from most to fewest doses (ties by number)."""
    patients = results.patients if patients is None else patients
    return [p.patient_no for p in sorted(patients, key=lambda p: (-p.doses_received, p.patient_no))]


def swimmer_data(results: StudyResults, patients=None):
    """(segments, markers): one segment per dose received; milestone/ongoing markers."""
    import pandas as pd

    segments, markers = [], []
    for p in results.patients if patients is None else patients:
        common = {
            "patient_no": p.patient_no,
            "doses_received": p.doses_received,
            "status": STATUS_LABELS.get(p.treatment_status, p.treatment_status),
            "psa50": milestone_text(p.psa50_after_dose),
            "psa90": milestone_text(p.psa90_after_dose),
        }
        for k in range(1, p.doses_received + 1):
            segments.append({**common, "dose": k, "start": k - 1, "end": k})
        # A milestone "after dose k" is drawn in the segment of dose k.
        if p.psa50_after_dose is not None:
            markers.append({**common, "marker": MARK_PSA50, "x": p.psa50_after_dose - 0.7})
        if p.psa90_after_dose is not None:
            markers.append({**common, "marker": MARK_PSA90, "x": p.psa90_after_dose - 0.3})
        if p.treatment_status == "ongoing":
            markers.append({**common, "marker": MARK_ONGOING, "x": p.doses_received + 0.2})
    cols = ["patient_no", "doses_received", "status", "psa50", "psa90"]
    seg = pd.DataFrame(segments, columns=[*cols, "dose", "start", "end"])
    mark = pd.DataFrame(markers, columns=[*cols, "marker", "x"])
    return seg, mark


def lab_data(results: StudyResults, test: str):
    import pandas as pd

    pts = sorted(
        (p for p in results.labs if p.test == test and p.median is not None),
        key=lambda p: p.dose_number,
    )
    return pd.DataFrame(
        {
            "dose_number": [p.dose_number for p in pts],
            "median": [p.median for p in pts],
            "q1": [p.q1 if p.q1 is not None else p.median for p in pts],
            "q3": [p.q3 if p.q3 is not None else p.median for p in pts],
            "n": [p.n for p in pts],
            "n_label": [str(p.n) for p in pts],
        }
    ), pts
