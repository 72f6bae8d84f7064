"""Synthetic cohorts in the data contract, seeded and deterministic.

:func:`generate` builds the four files of a cohort as frames of strings;
:func:`write_synthetic` writes them (``psma-rwe synth``).  The default,
``generate(21, seed=2024)``, reproduces the published single-institution
cohort exactly under the definitions of :mod:`analysis.psa` and
:mod:`analysis.cohort`: 21 PSA-evaluable patients, median 6 prior therapies,
8 PSA50 responders (all confirmed), 6 of them completed with six doses and 2
ongoing, PSA50 after dose 1/2/3 in 2/5/1 responders, PSA90 after dose 3/4 in
2/4 and never in 2.  Everything else is invented but clinically plausible.

How the figures hold for any cohort size
----------------------------------------
Each patient gets an *archetype* (:data:`ARCHETYPES`): treatment status,
number of doses, PSA50 and PSA90 milestones and the shape of the PSA course.
The counts of the archetypes are the study's counts out of 21 scaled to N by
largest remainders (exact for N = 21) and assigned in a seeded random order.
The PSA course is built so that it meets its archetype's milestones by
construction, with a margin of at least 8 % from every threshold:

* every dose window ``(dose n, dose n+1]`` (the last one: ``(last dose, end of
  data]``) holds two draws, one mid-cycle and one at or before the next dose;
* before the PSA50 milestone every post-dose value is ≥ 0.56 × baseline; from
  the mid-cycle draw of the milestone window on, every value is ≤ 0.46 ×
  baseline (so PSA50 is always confirmed); before the PSA90 milestone values
  stay ≥ 0.12 × baseline, from its mid-cycle draw on ≤ 0.09 × baseline;
* non-responders never go below 0.56 × baseline after dose 1;
* baseline PSA (the draw on or up to 7 days before dose 1) is ≥ 5 ng/mL and
  every value is rounded to 0.01 ng/mL, so rounding moves a ratio by < 1.1 %.

Prior-therapy counts are quantiles of a fixed distribution on 2..10 whose
median is 6 (exactly 6 for odd N), shuffled over patients; categorical patient
characteristics use largest-remainder quotas, continuous ones stratified
quantiles, so small and large cohorts look alike.

Everything is vectorised over patients and draws (a Python loop runs only
over the 14 tests), and every text cell is a shared string object taken from
a small lookup table, so 100,000 patients (about 16 million measurement rows)
take well under a minute and a few GiB.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.errors import PsmaRweError
from analysis.synth_csv import CHUNK_ROWS, csv_chunks  # noqa: F401  (given here too)
from analysis.synth_util import (  # noqa: F401  (largest_remainder, format_fixed given here too)
    EPOCH,
    _between,
    _day,
    _frame,
    _quota,
    _stratified_normal,
    _text_table,
    format_dates,
    format_fixed,
    largest_remainder,
)

#: Cohort size the archetype counts refer to (the published cohort).
REFERENCE_N = 21
DEFAULT_SEED = 2024

#: End of data: no dose or measurement after it.
CUTOFF = dt.date(2024, 1, 31)
#: First doses fall in this range (inclusive).
ACCRUAL = (dt.date(2022, 1, 3), dt.date(2023, 11, 30))

DOSE_INTERVAL_DAYS = 42
DOSE_JITTER_DAYS = (-3, 4)  # inclusive: intervals of 39..46 days
#: Ongoing patients received their last dose this many days before the cut-off.
ONGOING_LAST_DOSE_DAYS = (26, 40)
#: Measurements end this many days after the last dose (completed, discontinued).
END_OF_DATA_DAYS = (39, 45)
END_OF_DATA_DAYS_DEATH = (28, 36)

#: Largest number of doses an archetype may have (PSMA-617 is given up to 6 times).
MAX_DOSES = 6
#: Draws before dose 1: days before the dose-1 date (inclusive ranges).
PRE_DRAWS = ((58, 72), (27, 35), (0, 7))
MID_CYCLE_DAYS = (17, 23)
PRE_DOSE_DAYS = (0, 4)
#: Fewest days between a mid-cycle draw and the draw after it.
MIN_DRAW_GAP_DAYS = 10

# PSA ratio bounds (value / baseline) of each part of a course.
RATIO_ABOVE_50 = (0.56, 1.25)  # before the PSA50 milestone
RATIO_BETWEEN = (0.12, 0.46)  # from the PSA50 milestone to the PSA90 milestone
RATIO_BELOW_90 = (0.0, 0.09)  # from the PSA90 milestone on
RATIO_NON_RESPONDER = (0.56, 8.0)
PSA_BASELINE_RANGE = (5.0, 900.0)
PSA_BASELINE_MEDIAN = 60.0
PSA_BASELINE_LOG_SD = 1.0
PSA_DETECTION_LIMIT = 0.1


@dataclass(frozen=True)
class Archetype:
    """A kind of patient: how treatment went and what the PSA did.

    ``count`` is the number of such patients out of :data:`REFERENCE_N`;
    ``doses`` the inclusive range of doses received; ``psa50``/``psa90`` the
    milestones (dose number, 0 for never).  ``psa_start`` is the range of the
    first post-dose PSA ratio (value / baseline) before any milestone;
    ``psa_end`` the range of the ratio at the end of data for non-responders
    and of the nadir ratio for responders without PSA90 (unused otherwise).
    """

    count: int
    status: str
    doses: tuple[int, int]
    psa50: int
    psa90: int
    psa_start: tuple[float, float]
    psa_end: tuple[float, float]
    reason: str = ""
    deep: bool = False  # PSA falls below the detection limit (written "<0.1")
    marrow: bool = False  # marked fall of haemoglobin, platelets and white cells

    @property
    def responder(self) -> bool:
        return self.psa50 > 0

    @property
    def label(self) -> str:
        what = "responder" if self.responder else "non-responder"
        parts = [what, self.status, self.reason] if self.reason else [what, self.status]
        lo, hi = self.doses
        parts.append(f"{lo} doses" if lo == hi else f"{lo}-{hi} doses")
        if self.responder:
            parts.append(f"PSA50 after dose {self.psa50}")
            parts.append(f"PSA90 after dose {self.psa90}" if self.psa90 else "no PSA90")
        if self.deep:
            parts.append("PSA below detection")
        if self.marrow:
            parts.append("marrow toxicity")
        return ", ".join(parts)


_FIRST = (0.62, 0.95)  # responders' first post-dose ratio when PSA50 comes after dose 2 or 3
_NADIR = (0.14, 0.42)  # nadir ratio of responders without PSA90
_NA = (0.0, 0.0)
PROGRESSION = "PSA and radiographic progression"

# fmt: off
ARCHETYPES: tuple[Archetype, ...] = (
    #        n  status         doses  PSA50 PSA90 first ratio   end/nadir ratio
    Archetype(1, "completed",    (6, 6), 1, 3, _FIRST,       _NA, deep=True),
    Archetype(1, "completed",    (6, 6), 1, 4, _FIRST,       _NA),
    Archetype(1, "completed",    (6, 6), 2, 3, _FIRST,       _NA),
    Archetype(2, "completed",    (6, 6), 2, 4, _FIRST,       _NA),
    Archetype(1, "completed",    (6, 6), 3, 0, _FIRST,       _NADIR),
    Archetype(1, "ongoing",      (5, 5), 2, 4, _FIRST,       _NA),
    Archetype(1, "ongoing",      (4, 4), 2, 0, _FIRST,       _NADIR),
    Archetype(4, "discontinued", (2, 4), 0, 0, (0.8, 1.3),   (1.4, 3.5), PROGRESSION),
    Archetype(2, "discontinued", (2, 3), 0, 0, (0.75, 1.2),  (1.2, 2.8), "clinical progression"),
    Archetype(1, "discontinued", (3, 4), 0, 0, (0.62, 0.95), (0.7, 1.3), "hematologic toxicity",
              marrow=True),
    Archetype(1, "discontinued", (2, 4), 0, 0, (0.65, 1.05), (0.75, 1.5), "patient preference"),
    Archetype(1, "discontinued", (2, 3), 0, 0, (0.9, 1.4),   (1.6, 4.0), "death"),
    Archetype(3, "completed",    (6, 6), 0, 0, (0.6, 0.9),   (0.62, 1.3)),
    Archetype(1, "ongoing",      (3, 3), 0, 0, (0.62, 1.0),  (0.7, 1.2)),
)
# fmt: on

# Patient characteristics: (level, count out of 21).
RACES = (
    ("White", 15),
    ("Black or African American", 3),
    ("Asian", 1),
    ("Other", 1),
    ("Unknown", 1),
)
ETHNICITIES = (("Not Hispanic or Latino", 18), ("Hispanic or Latino", 2), ("Unknown", 1))
ECOG = (("0", 6), ("1", 12), ("2", 3))
GLEASON = (("7", 5), ("8", 6), ("9", 7), ("10", 1), ("", 2))
#: Yes-counts out of 21.
FLAGS = {"de_novo_metastatic": 6, "bone_mets": 19, "lymph_node_mets": 11, "visceral_mets": 4}
AGE = (72.0, 7.0, 55, 88)  # mean, sd, min, max (stratified normal, whole years)
HEIGHT = (176.0, 6.5, 160.0, 190.0)

#: Distinct prior agents: percent of patients with 2..10; median 6.
PRIOR_COUNT_PERCENT = {2: 4, 3: 7, 4: 12, 5: 15, 6: 20, 7: 16, 8: 12, 9: 8, 10: 6}

ADT_AGENTS = (("leuprolide", 60), ("degarelix", 15), ("goserelin", 15), ("relugolix", 10))
ARPI_AGENTS = (("abiraterone", 45), ("enzalutamide", 40), ("apalutamide", 10), ("darolutamide", 5))
#: Optional prior agents: (agent, class, sampling weight, usual order of use).
#: ``None`` agents are a second ARPI and a second ADT agent, chosen per patient.
OPTIONAL_AGENTS = (
    ("docetaxel", "taxane", 30.0, 4),
    (None, "arpi", 14.0, 5),
    ("bicalutamide", "other", 10.0, 1),
    ("cabazitaxel", "taxane", 9.0, 7),
    ("radium-223", "radium_223", 5.0, 6),
    ("olaparib", "parp_inhibitor", 4.0, 8),
    ("sipuleucel-T", "sipuleucel_t", 3.0, 2),
    ("carboplatin", "platinum", 3.0, 9),
    ("dexamethasone", "other", 3.0, 10),
    ("pembrolizumab", "immunotherapy", 2.0, 9),
    ("ketoconazole", "other", 2.0, 10),
    ("rucaparib", "parp_inhibitor", 1.5, 8),
    (None, "adt", 2.0, 2),
)
#: Patients (out of 21) with a second course of their ADT agent (a repeated row).
REPEATED_ADT = 3

#: Convertible units used for the pre-treatment draws of about one patient in 21
#: each (records from a referring laboratory): test → (unit, decimals).
OUTSIDE_UNITS = {
    "hemoglobin": ("g/L", 0),
    "platelets": ("K/uL", 0),
    "creatinine": ("µmol/L", 0),
    "weight": ("lb", 1),
}


# --- the cohort ---------------------------------------------------------------------------


def _patients(rng, n: int) -> dict[str, np.ndarray]:
    """Archetype and characteristics of each patient."""
    arche = _quota(rng, n, [a.count for a in ARCHETYPES])
    p: dict[str, np.ndarray] = {"archetype": arche}
    p["race"] = np.array([r for r, _ in RACES], dtype=object)[_quota(rng, n, [c for _, c in RACES])]
    p["ethnicity"] = np.array([e for e, _ in ETHNICITIES], dtype=object)[
        _quota(rng, n, [c for _, c in ETHNICITIES])
    ]
    p["ecog"] = np.array([e for e, _ in ECOG], dtype=object)[_quota(rng, n, [c for _, c in ECOG])]
    p["gleason_score"] = np.array([g for g, _ in GLEASON], dtype=object)[
        _quota(rng, n, [c for _, c in GLEASON])
    ]
    for flag, yes in FLAGS.items():
        p[flag] = _quota(rng, n, [yes, REFERENCE_N - yes]) == 0
    mean, sd, lo, hi = AGE
    age = _stratified_normal(rng, n, mean, sd, lo - 0.5, hi + 0.49)
    p["age"] = np.clip(np.rint(age), lo, hi).astype(np.int64)
    mean, sd, lo, hi = HEIGHT
    p["height"] = _stratified_normal(rng, n, mean, sd, lo, hi)
    return p


def _doses(rng, n: int, arche: np.ndarray) -> dict[str, np.ndarray]:
    """Number of doses, dose dates (n × MAX_DOSES, day numbers) and end of data."""
    lo = np.array([a.doses[0] for a in ARCHETYPES])[arche]
    hi = np.array([a.doses[1] for a in ARCHETYPES])[arche]
    n_doses = _between(rng, n, lo, hi)
    status = np.array([a.status for a in ARCHETYPES], dtype=object)[arche]
    ongoing = status == "ongoing"
    death = np.array([a.reason == "death" for a in ARCHETYPES])[arche]

    intervals = DOSE_INTERVAL_DAYS + rng.integers(
        DOSE_JITTER_DAYS[0], DOSE_JITTER_DAYS[1] + 1, (n, MAX_DOSES - 1)
    )
    offsets = np.zeros((n, MAX_DOSES), dtype=np.int64)
    offsets[:, 1:] = np.cumsum(intervals, axis=1)
    last_offset = offsets[np.arange(n), n_doses - 1]

    cutoff = _day(CUTOFF)
    first_allowed, last_allowed = (_day(d) for d in ACCRUAL)
    end_after_last = np.where(
        death,
        _between(rng, n, *END_OF_DATA_DAYS_DEATH),
        _between(rng, n, *END_OF_DATA_DAYS),
    )
    latest = np.minimum(last_allowed, cutoff - last_offset - end_after_last)
    d1 = _between(rng, n, first_allowed, latest)
    # Ongoing: the last dose shortly before the cut-off, earlier doses counted back from it.
    last_dose = cutoff - _between(rng, n, *ONGOING_LAST_DOSE_DAYS)
    d1 = np.where(ongoing, last_dose - last_offset, d1)
    dates = d1[:, None] + offsets
    end = np.where(
        ongoing, cutoff - _between(rng, n, 0, 3), dates[np.arange(n), n_doses - 1] + end_after_last
    )
    return {"n_doses": n_doses, "dates": dates, "end": end, "d1": d1, "status": status}


def _draws(rng, n: int, doses: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Lab draws: three before dose 1, then a mid-cycle and a pre-dose (or final) draw per dose.

    Returns per-draw arrays in patient, date order: ``patient``, ``day``,
    ``slot`` (0..2 before dose 1, then 3 + 2 (w − 1) mid-cycle and
    4 + 2 (w − 1) late draw of window w) and ``u`` (w for mid-cycle, w + ½
    for late draws, 0 before dose 1).
    """
    n_doses, dates, end, d1 = doses["n_doses"], doses["dates"], doses["end"], doses["d1"]
    n_slots = len(PRE_DRAWS) + 2 * MAX_DOSES
    day = np.zeros((n, n_slots), dtype=np.int64)
    for j, (lo, hi) in enumerate(PRE_DRAWS):
        day[:, j] = d1 - _between(rng, n, lo, hi)
    for w in range(1, MAX_DOSES + 1):
        start = dates[:, w - 1]
        # late draw: on or a few days before the next dose, or the last draw of the patient
        late = end
        if w < MAX_DOSES:
            late = np.where(w < n_doses, dates[:, w] - _between(rng, n, *PRE_DOSE_DAYS), end)
        mid_days = np.minimum(_between(rng, n, *MID_CYCLE_DAYS), late - start - MIN_DRAW_GAP_DAYS)
        mid = start + mid_days
        day[:, 1 + 2 * w] = mid
        day[:, 2 + 2 * w] = late
    slot = np.arange(n_slots)
    window = np.where(slot < len(PRE_DRAWS), 0, (slot - len(PRE_DRAWS)) // 2 + 1)
    valid = window[None, :] <= n_doses[:, None]
    patient, slot_idx = np.nonzero(valid)
    u = np.where(slot_idx < len(PRE_DRAWS), 0.0, window[slot_idx] + 0.5 * ((slot_idx - 3) % 2))
    return {"patient": patient, "day": day[patient, slot_idx], "slot": slot_idx, "u": u}


def _psa(rng, n, arche, doses, draws) -> tuple[np.ndarray, np.ndarray]:
    """Baseline PSA per patient and PSA per draw (ng/mL, rounded to 0.01)."""
    table = ARCHETYPES
    lo, hi = np.log(np.array(PSA_BASELINE_RANGE) / PSA_BASELINE_MEDIAN)
    z = _stratified_normal(rng, n, 0.0, PSA_BASELINE_LOG_SD, lo, hi)
    baseline = np.rint(PSA_BASELINE_MEDIAN * np.exp(z) * 100) / 100

    m = np.array([a.psa50 for a in table], dtype=float)[arche]
    k = np.array([a.psa90 if a.psa90 else np.inf for a in table], dtype=float)[arche]
    start_lo = np.array([a.psa_start[0] for a in table])[arche]
    start_hi = np.array([a.psa_start[1] for a in table])[arche]
    end_lo = np.array([a.psa_end[0] for a in table])[arche]
    end_hi = np.array([a.psa_end[1] for a in table])[arche]
    deep = np.array([a.deep for a in table])[arche]
    responder = m > 0
    end_u = doses["n_doses"] + 0.5

    r_start = rng.uniform(start_lo, start_hi)  # first post-dose value (non-responders too)
    r_pre = np.maximum(RATIO_ABOVE_50[0] + 0.01, r_start * rng.uniform(0.7, 1.0, n))
    c50 = rng.uniform(0.25, 0.45, n)  # first value after the PSA50 milestone
    r_end = rng.uniform(end_lo, end_hi)  # non-responders: end; responders w/o PSA90: nadir
    r_end = np.where(r_end > 0, r_end, 1.0)  # (unused for responders with PSA90)
    c_b = np.where(np.isfinite(k), np.minimum(rng.uniform(0.13, 0.3, n), c50), r_end)
    c50 = np.where(np.isfinite(k), c50, np.maximum(c50, r_end))
    c90 = rng.uniform(0.03, 0.085, n)  # first value after the PSA90 milestone
    nadir = c90 * rng.uniform(0.12, 0.9, n)
    deep_nadir = rng.uniform(0.03, 0.06, n) / baseline  # below the detection limit
    nadir = np.where(deep, np.minimum(deep_nadir, 0.9 * c90), nadir)
    doubling = rng.uniform(45, 150, n)  # PSA doubling time before treatment, days

    i = draws["patient"]
    u = draws["u"]
    mi, ki, endi = m[i], k[i], end_u[i]
    lg = np.log

    def along(lo_u, hi_u, a, b):
        frac = np.clip((u - lo_u) / np.maximum(hi_u - lo_u, 0.5), 0.0, 1.0)
        return lg(a) + frac * (lg(b) - lg(a))

    seg_a = along(1.0, mi - 0.5, r_start[i], r_pre[i])
    seg_b = along(mi, np.minimum(ki - 0.5, endi), c50[i], c_b[i])
    seg_c = along(np.where(np.isfinite(ki), ki, 0.0), endi, c90[i], nadir[i])
    log_resp = np.where(u < mi, seg_a, np.where(u < ki, seg_b, seg_c))
    log_non = along(1.0, endi, r_start[i], r_end[i])
    noise = rng.normal(0.0, 0.06, len(u))
    ratio = np.exp(np.where(responder[i], log_resp, log_non) + noise)

    lo = np.where(
        responder[i],
        np.where(u < mi, RATIO_ABOVE_50[0], np.where(u < ki, RATIO_BETWEEN[0], RATIO_BELOW_90[0])),
        RATIO_NON_RESPONDER[0],
    )
    hi = np.where(
        responder[i],
        np.where(u < mi, RATIO_ABOVE_50[1], np.where(u < ki, RATIO_BETWEEN[1], RATIO_BELOW_90[1])),
        RATIO_NON_RESPONDER[1],
    )
    ratio = np.clip(ratio, lo, hi)
    # Before dose 1: rising towards the baseline draw.
    before = doses["d1"][i] - draws["day"]
    rising = np.exp(-np.log(2) * before / doubling[i] + noise)
    ratio = np.where(u == 0, np.minimum(rising, 1.0), ratio)
    ratio = np.where(draws["slot"] == len(PRE_DRAWS) - 1, 1.0, ratio)
    value = np.rint(ratio * baseline[i] * 100) / 100
    return baseline, value


def _labs(rng, n, arche, pts, doses, draws, psa_ratio) -> dict[str, np.ndarray]:
    """Every other test per draw, in its canonical unit (not yet rounded)."""
    marrow = np.array([a.marrow for a in ARCHETYPES])[arche]
    responder = np.array([a.responder for a in ARCHETYPES])[arche]
    i = draws["patient"]
    nd = len(i)
    days = draws["day"] - doses["d1"][i]
    t = np.clip(days / 240.0, 0.0, 1.0)  # treatment exposure
    t_marrow = np.where(marrow[i], np.clip(days / 150.0, 0.0, 1.0), t)
    burden = np.log2(np.clip(psa_ratio, 1.0, 8.0))  # PSA rise above baseline, doublings

    def lognormal(median, sd, lo, hi):
        return np.clip(median * np.exp(rng.normal(0.0, sd, n)), lo, hi)

    def noise(sd):
        return np.exp(rng.normal(0.0, sd, nd))

    out: dict[str, np.ndarray] = {}
    hb0 = np.clip(rng.normal(np.where(responder, 11.9, 11.55), 0.8), 9.3, 15.0)
    hb_drop = np.where(marrow, rng.uniform(2.4, 3.2, n), np.clip(rng.normal(0.85, 0.35, n), 0, 2))
    out["hemoglobin"] = np.clip(
        hb0[i] - hb_drop[i] * t_marrow - 0.2 * burden + rng.normal(0.0, 0.15, nd), 6.0, 17.0
    )
    plt0 = lognormal(225.0, 0.25, 110.0, 450.0)
    plt_drop = np.where(
        marrow, rng.uniform(0.72, 0.8, n), np.clip(rng.normal(0.25, 0.1, n), 0.0, 0.55)
    )
    out["platelets"] = np.maximum(plt0[i] * (1 - plt_drop[i] * t_marrow) * noise(0.07), 15.0)
    wbc0 = lognormal(6.4, 0.25, 3.2, 12.0)
    wbc_drop = np.where(marrow, 0.5, np.clip(rng.normal(0.2, 0.08, n), 0.0, 0.4))
    wbc = np.maximum(wbc0[i] * (1 - wbc_drop[i] * t_marrow) * noise(0.08), 1.0)
    out["wbc"] = wbc
    anc_frac = rng.uniform(0.52, 0.68, n)
    alc_frac = rng.uniform(0.12, 0.24, n)
    out["anc"] = wbc * anc_frac[i] * noise(0.04)
    out["alc"] = wbc * alc_frac[i] * (1 - 0.35 * t) * noise(0.06)
    cr0 = lognormal(0.95, 0.2, 0.55, 1.9)
    out["creatinine"] = cr0[i] * (1 + 0.06 * t) * noise(0.05)
    alp0 = np.where(responder, 110.0, 160.0) * np.where(pts["bone_mets"], 1.25, 1.0)
    alp0 = np.clip(alp0 * np.exp(rng.normal(0.0, 0.5, n)), 45.0, 1500.0)
    out["alkaline_phosphatase"] = alp0[i] * np.clip(psa_ratio, 0.05, 8.0) ** 0.25 * noise(0.06)
    out["ast"] = lognormal(22.0, 0.3, 10.0, 80.0)[i] * noise(0.12)
    out["alt"] = lognormal(18.0, 0.35, 7.0, 80.0)[i] * noise(0.14)
    alb0 = rng.uniform(3.3, 4.2, n)
    out["albumin"] = np.clip(
        alb0[i] - 0.15 * t - 0.12 * burden + rng.normal(0.0, 0.08, nd), 2.4, 4.9
    )
    ldh0 = lognormal(205.0, 0.25, 120.0, 900.0) * np.where(responder, 1.0, 1.2)
    out["ldh"] = ldh0[i] * np.clip(psa_ratio, 0.05, 8.0) ** 0.12 * noise(0.08)
    out["total_bilirubin"] = np.maximum(lognormal(0.5, 0.3, 0.2, 1.6)[i] * noise(0.12), 0.1)
    bmi = np.clip(rng.normal(27.5, 4.0, n), 19.0, 40.0)
    weight0 = bmi * (pts["height_rounded"] / 100) ** 2
    out["weight"] = weight0[i] * (1 - 0.025 * t - 0.02 * burden) + rng.normal(0.0, 0.4, nd)
    return out


def _measurements(rng, n, arche, pts, doses, draws, pids, stash=None) -> dict[str, np.ndarray]:
    baseline, psa = _psa(rng, n, arche, doses, draws)
    i = draws["patient"]
    if stash is not None:  # the last PSA of each patient (draws are in patient, date order)
        last = np.zeros(n)
        last[i] = np.maximum(np.rint(psa * 100) / 100, PSA_DETECTION_LIMIT)
        stash["psa_last"] = last
    labs = _labs(rng, n, arche, pts, doses, draws, psa / baseline[i])
    labs["psa"] = psa

    # Convertible units on the pre-treatment draws of about one patient in 21 per test.
    n_outside = max(1, (n + REFERENCE_N // 2) // REFERENCE_N)
    before = draws["slot"] < len(PRE_DRAWS)
    nd, nt = len(i), len(config.TESTS)
    values = np.empty((nd, nt), dtype=object)
    units = np.empty((nd, nt), dtype=object)
    for j, test in enumerate(config.TESTS):
        decimals = config.LAB_DECIMALS[test]
        canonical = np.rint(labs[test] * 10**decimals) / 10**decimals
        text = format_fixed(canonical, decimals)
        if test == "psa":
            text[canonical < PSA_DETECTION_LIMIT] = f"<{PSA_DETECTION_LIMIT}"
        unit = np.full(nd, config.CANONICAL_UNITS[test], dtype=object)
        if test in OUTSIDE_UNITS:
            name, decimals = OUTSIDE_UNITS[test]
            chosen = np.zeros(n, dtype=bool)
            chosen[rng.choice(n, size=min(n, n_outside), replace=False)] = True
            rows = before & chosen[i]
            factor = config.UNIT_FACTORS[test][name]
            text[rows] = format_fixed(canonical[rows] / factor, decimals)
            unit[rows] = name
        values[:, j] = text
        units[:, j] = unit
    day_text = format_dates(draws["day"])
    return {
        "patient_id": np.repeat(pids[i], nt),
        "measured_on": np.repeat(day_text, nt),
        "test": np.tile(np.array(config.TESTS, dtype=object), nd),
        "value": values.ravel(),
        "unit": units.ravel(),
    }


def prior_count_quantiles(n: int) -> np.ndarray:
    """Sorted distinct-agent counts: the (2i + 1) / 2n quantiles of PRIOR_COUNT_PERCENT.

    Integer arithmetic, so the middle value of an odd ``n`` is exactly 6.
    """
    levels = np.array(list(PRIOR_COUNT_PERCENT), dtype=np.int64)
    cum = np.cumsum(list(PRIOR_COUNT_PERCENT.values()))
    total = int(cum[-1])
    p = 2 * np.arange(n, dtype=np.int64) + 1  # quantile (2i + 1) / 2n
    # smallest level whose cumulative share reaches the quantile: total·p ≤ 2n·cum
    idx = np.searchsorted(2 * n * cum, total * p, side="left")
    return levels[idx]


def _prior_therapies(rng, n, pts, d1, pids) -> dict[str, np.ndarray]:
    """Prior agents, classes and start dates (all before dose 1), in date order."""
    count = rng.permutation(prior_count_quantiles(n))
    adt = rng.choice(len(ADT_AGENTS), n, p=_shares(ADT_AGENTS))
    arpi = rng.choice(len(ARPI_AGENTS), n, p=_shares(ARPI_AGENTS))
    adt_name = np.array([a for a, _ in ADT_AGENTS], dtype=object)[adt]
    arpi_name = np.array([a for a, _ in ARPI_AGENTS], dtype=object)[arpi]

    n_opt = len(OPTIONAL_AGENTS)
    weights = np.array([w for _, _, w, _ in OPTIONAL_AGENTS])
    keys = np.log(rng.random((n, n_opt))) / weights  # weighted sampling without replacement
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen_rank = np.empty_like(order)
    np.put_along_axis(chosen_rank, order, np.arange(n_opt)[None, :].repeat(n, 0), axis=1)
    selected = chosen_rank < (count - 2)[:, None]
    names = [a for a, _, _, _ in OPTIONAL_AGENTS]
    doce, caba = names.index("docetaxel"), names.index("cabazitaxel")
    swap = selected[:, caba] & ~selected[:, doce]  # cabazitaxel only after docetaxel
    selected[swap, caba] = False
    selected[swap, doce] = True

    agent = np.empty((n, n_opt), dtype=object)
    for j, (name, _, _, _) in enumerate(OPTIONAL_AGENTS):
        agent[:, j] = name
    agent[:, 1] = np.where(arpi_name == "abiraterone", "enzalutamide", "abiraterone")
    agent[:, n_opt - 1] = np.where(adt_name == "relugolix", "leuprolide", "relugolix")
    klass = np.array([c for _, c, _, _ in OPTIONAL_AGENTS], dtype=object)
    rank = np.array([r for _, _, _, r in OPTIONAL_AGENTS], dtype=float)

    # Columns: ADT, ARPI, the optional agents, a repeated ADT course.
    all_agent = np.column_stack([adt_name, arpi_name, agent, adt_name])
    all_class = np.concatenate([["adt", "arpi"], klass, ["adt"]]).astype(object)
    repeat = _quota(rng, n, [REPEATED_ADT, REFERENCE_N - REPEATED_ADT]) == 0
    present = np.column_stack([np.ones((n, 2), dtype=bool), selected, repeat])

    # Dates: ADT years before dose 1; the rest in their usual order of use, spread over time.
    years = np.where(
        pts["de_novo_metastatic"], rng.uniform(1.2, 3.5, n), rng.uniform(3.0, 9.0, n)
    ) + 0.3 * (count - 2)
    adt_start = d1 - np.rint(np.minimum(years, 15.0) * 365.25).astype(np.int64)
    span = (d1 - 30) - adt_start
    later_rank = np.concatenate([[3.0], rank]) + 0.8 * rng.random((n, n_opt + 1))
    later_rank = np.where(present[:, 1:-1], later_rank, np.inf)
    position = np.empty((n, n_opt + 1), dtype=np.int64)
    np.put_along_axis(
        position,
        np.argsort(later_rank, axis=1, kind="stable"),
        np.arange(n_opt + 1)[None, :].repeat(n, 0),
        axis=1,
    )
    n_later = (count - 1)[:, None]
    frac = (position + 0.2 + 0.6 * rng.random((n, n_opt + 1))) / n_later
    frac = 0.05 + 0.93 * np.minimum(frac, 1.0)
    repeat_frac = rng.uniform(0.2, 0.7, n)
    all_frac = np.column_stack([np.zeros(n), frac, repeat_frac])
    start = adt_start[:, None] + np.rint(all_frac * span[:, None]).astype(np.int64)

    patient, col = np.nonzero(present)
    start = start[patient, col]
    order = np.lexsort((col, start, patient))
    patient, col, start = patient[order], col[order], start[order]
    return {
        "patient_id": pids[patient],
        "agent": all_agent[patient, col],
        "therapy_class": all_class[col],
        "start_date": format_dates(start),
    }


def _shares(levels) -> np.ndarray:
    w = np.array([c for _, c in levels], dtype=float)
    return w / w.sum()


def generate(n_patients: int = REFERENCE_N, seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """A synthetic cohort: file name → frame of strings in contract column order.

    Same ``(n_patients, seed)`` → same frames.  The default reproduces the
    published cohort (see the module docstring).
    """
    n = int(n_patients)
    if n < 1:
        raise PsmaRweError(f"n_patients must be 1 or more; got {n_patients}")
    rng = np.random.default_rng(seed)
    pts = _patients(rng, n)
    arche = pts["archetype"]
    width = max(4, len(str(n)))
    pids = np.array([f"PT-{k:0{width}d}" for k in range(1, n + 1)], dtype=object)
    height_text = format_fixed(pts["height"], 1)
    pts["height_rounded"] = np.rint(pts["height"] * 10) / 10

    doses = _doses(rng, n, arche)
    draws = _draws(rng, n, doses)
    stash: dict[str, np.ndarray] = {}
    meas = _measurements(rng, n, arche, pts, doses, draws, pids, stash)
    prior = _prior_therapies(rng, n, pts, doses["d1"], pids)
    # Follow-up draws from a stream of its own, so the treatment-period data stay as they were.
    fu = _follow_up(np.random.default_rng([seed, 13]), n, arche, doses, stash["psa_last"])
    k = len(fu["psa_patient"])
    meas = {
        "patient_id": np.concatenate([meas["patient_id"], pids[fu["psa_patient"]]]),
        "measured_on": np.concatenate([meas["measured_on"], format_dates(fu["psa_day"])]),
        "test": np.concatenate([meas["test"], np.full(k, "psa", dtype=object)]),
        "value": np.concatenate([meas["value"], format_fixed(fu["psa_value"], 2)]),
        "unit": np.concatenate([meas["unit"], np.full(k, "ng/mL", dtype=object)]),
    }

    n_doses = doses["n_doses"]
    dose_patient, dose_idx = np.nonzero(np.arange(MAX_DOSES)[None, :] < n_doses[:, None])
    activity = np.clip(rng.normal(7.4, 0.12, len(dose_patient)), 6.8, 7.6)
    dose_frame = _frame(
        config.DOSES,
        {
            "patient_id": pids[dose_patient],
            "dose_number": format_fixed(dose_idx + 1, 0),
            "dose_date": format_dates(doses["dates"][dose_patient, dose_idx]),
            "activity_gbq": format_fixed(activity, 2),
        },
    )

    yes_no = np.array(["false", "true"], dtype=object)
    patient_frame = _frame(
        config.PATIENTS,
        {
            "patient_id": pids,
            "age_at_first_dose": format_fixed(pts["age"], 0),
            "race": pts["race"],
            "ethnicity": pts["ethnicity"],
            "ecog": pts["ecog"],
            "gleason_score": pts["gleason_score"],
            **{flag: yes_no[pts[flag].astype(np.int64)] for flag in FLAGS},
            "height_cm": height_text,
            "treatment_status": np.array([a.status for a in ARCHETYPES], dtype=object)[arche],
            "discontinuation_reason": np.array([a.reason for a in ARCHETYPES], dtype=object)[arche],
        },
    )
    for col in config.FOLLOW_UP_COLUMNS:
        days = fu[col]
        text = np.full(n, "", dtype=object)
        text[days >= 0] = format_dates(days[days >= 0])
        patient_frame[col] = pd.array(text, dtype="str")
    return {
        config.PATIENTS: patient_frame,
        config.DOSES: dose_frame,
        config.MEASUREMENTS: _frame(config.MEASUREMENTS, meas),
        config.PRIOR_THERAPIES: _frame(config.PRIOR_THERAPIES, prior),
    }


# --- follow-up ------------------------------------------------------------------------------

#: Median overall survival from dose 1 (months) drawn for responders / non-responders, and
#: median time to PSA progression after the end of treatment data (months).
OS_MEDIAN_MONTHS = (32.0, 16.0)
PSA_PROGRESSION_MEDIAN_MONTHS = (2.5, 1.0)
RPFS_MEDIAN_MONTHS = (11.0, 4.5)
FOLLOW_UP_DRAW_DAYS = (38, 46)
MONTH_DAYS = 30.4375


def _follow_up(rng, n: int, arche: np.ndarray, doses: dict, psa_last: np.ndarray) -> dict:
    """Deaths, last contacts, radiographic progression and post-treatment PSA draws.

    Ongoing patients are alive at the cut-off; the "death" archetype dies a few days
    after its last draw; everyone else gets an exponential survival time (longer for
    responders), never before the end of their treatment data.  After the treatment
    data, PSA is drawn every ~6 weeks until death or last contact: flat (0.9-1.0 of the
    previous value) until a drawn progression time, then rising 1.6-fold and 1.3-fold
    per draw, so every rise is ≥ 25% and ≥ 2 ng/mL above the nadir and is confirmed.
    Day numbers are days since 1970-01-01; -1 means blank.
    """
    table = ARCHETYPES
    responder = np.array([a.responder for a in table])[arche]
    status = np.array([a.status for a in table], dtype=object)[arche]
    reason = np.array([a.reason for a in table], dtype=object)[arche]
    d1, end = doses["d1"], doses["end"]
    cutoff = _day(CUTOFF)
    os_median = np.where(responder, OS_MEDIAN_MONTHS[0], OS_MEDIAN_MONTHS[1]) * MONTH_DAYS
    death = d1 + np.rint(rng.exponential(os_median / np.log(2))).astype(np.int64)
    death = np.maximum(death, end + _between(rng, n, 20, 90))
    death = np.where(reason == "death", end + _between(rng, n, 2, 10), death)
    alive = (death > cutoff) | (status == "ongoing")
    contact = np.where(alive, np.maximum(end, cutoff - _between(rng, n, 0, 14)), -1)
    death = np.where(alive, -1, death)
    stop = np.where(alive, contact, death)

    p_median = np.where(responder, *PSA_PROGRESSION_MEDIAN_MONTHS) * MONTH_DAYS
    rise_at = end + np.rint(rng.exponential(p_median / np.log(2))).astype(np.int64)
    rise_at = np.where(status == "ongoing", cutoff + 1, rise_at)  # still on treatment
    patients, days, values = [], [], []
    day = end.copy()
    value = psa_last.copy()
    rising = np.zeros(n, dtype=bool)
    for _ in range(40):
        day = day + _between(rng, n, *FOLLOW_UP_DRAW_DAYS)
        ok = (day < stop) & (status != "ongoing")
        if not ok.any():
            break
        now_rising = rising | (day >= rise_at)
        factor = np.where(now_rising, np.where(rising, 1.3, 1.6), rng.uniform(0.9, 1.0, n))
        value = np.where(ok, value * factor + np.where(now_rising & ~rising, 3.0, 0.0), value)
        rising = np.where(ok, now_rising, rising)
        patients.append(np.nonzero(ok)[0])
        days.append(day[ok])
        values.append(np.maximum(value[ok], PSA_DETECTION_LIMIT))

    r_median = np.where(responder, *RPFS_MEDIAN_MONTHS) * MONTH_DAYS
    rad = d1 + np.rint(rng.exponential(r_median / np.log(2))).astype(np.int64)
    rad = np.where(reason == PROGRESSION, np.minimum(end, stop), rad)
    rad = np.where(rad <= stop, np.maximum(rad, d1), -1)
    order = np.lexsort((np.concatenate(days), np.concatenate(patients))) if patients else []
    cat = (lambda parts: np.concatenate(parts)[order]) if patients else (lambda parts: np.zeros(0))
    return {
        "last_contact_date": contact,
        "death_date": death,
        "radiographic_progression_date": rad,
        "psa_patient": cat(patients).astype(np.int64) if patients else np.zeros(0, np.int64),
        "psa_day": cat(days).astype(np.int64) if patients else np.zeros(0, np.int64),
        "psa_value": cat(values) if patients else np.zeros(0),
    }


# --- writing --------------------------------------------------------------------------------


def write_synthetic(
    out: Path | str,
    n_patients: int = REFERENCE_N,
    seed: int = DEFAULT_SEED,
    overwrite: bool = False,
) -> list[Path]:
    """Generate a cohort and write its four CSV files into ``out`` (created).

    Refuses to replace existing files unless ``overwrite``; returns the paths
    written, in contract order.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PsmaRweError(f"{out}: exists and is not a folder; expected a folder to write to")
    paths = [out / name for name in config.INPUT_FILES]
    existing = [p.name for p in paths if p.exists()]
    if existing and not overwrite:
        raise PsmaRweError(
            f"{out}: {', '.join(existing)} already exist; use --force (overwrite=True) "
            "to replace them"
        )
    frames = generate(n_patients, seed)
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as fh:
            for chunk in csv_chunks(frames[path.name]):
                fh.write(chunk)
        os.replace(tmp, path)
    return paths
