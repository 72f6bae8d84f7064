"""Follow-up of each patient: PSA progression (PCWG3), OS, PSA-PFS, rPFS and the landmark.

Definitions (data/README.md, "Follow-up definitions"), implemented exactly;
the time origin is the date of dose 1 and months are days / 30.4375:

* **PSA progression (PCWG3).**  PSA values dated after dose 1 are tested in
  date order (rows of one date in file order).  The nadir of a candidate value
  is the lowest of the baseline and the post-dose-1 values dated strictly
  before it.  If some post-dose-1 value is below baseline, the candidate rises
  when it is both ≥ 25% and ≥ 2 ng/mL above its nadir; if none ever is, the
  rise is measured against baseline and counts only from 84 days after dose 1.
  A rise is confirmed by the first PSA dated 21 or more days after it, which
  must also be ≥ 25% and ≥ 2 ng/mL above the same nadir; the progression date
  is the date of the rise.  An unconfirmed rise is not progression, and later
  values are tested in turn.
* **OS**: death, else censored at ``last_contact_date``.
* **PSA-PFS** (PSA-evaluable patients): PSA progression or death, whichever is
  first; otherwise censored at the last PSA after dose 1 (time 0 if none).
* **rPFS**: ``radiographic_progression_date`` or death, censored at
  ``last_contact_date``.
* **Data cut-off** (``study.data-cutoff``): nothing dated after it is used; a
  later death or contact means "alive at the cut-off".
* **Landmark** at ``weeks`` after dose 1: patients alive and followed at the
  landmark (died after it, or censored on or after it) are compared by PSA50
  reached by a value dated on or before it; time is counted from the landmark.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import config
from analysis.psa import RTOL, reaches

FOLLOW_UP_COLUMNS = ("last_contact_date", "death_date", "radiographic_progression_date")
PROGRESSION_FRACTION = 1.25
PROGRESSION_ABSOLUTE = 2.0  # ng/mL
NO_DECLINE_WEEKS = 12
PROGRESSION_CONFIRM_DAYS = 21
DEFAULT_LANDMARK_WEEKS = 12


def _rises(value: float, nadir: float) -> bool:
    """≥ 25% and ≥ 2 ng/mL above the nadir (inclusive, with the PSA module's tolerance)."""
    return value >= PROGRESSION_FRACTION * nadir * (1 - RTOL) and (
        value - nadir >= PROGRESSION_ABSOLUTE * (1 - RTOL)
    )


def psa_progression(
    dates: list[dt.date], values: list[float], baseline: float, first_dose: dt.date
) -> dt.date | None:
    """The PCWG3 progression date of one patient's post-dose-1 PSA series, or ``None``.

    ``dates`` / ``values`` are the PSA values dated after dose 1, in date order.
    """
    days = [d.toordinal() for d in dates]
    found = progression_day(days, values, baseline, first_dose.toordinal())
    return None if found is None else dt.date.fromordinal(found)


def progression_day(
    days: list[int], values: list[float], baseline: float, first_day: int
) -> int | None:
    """:func:`psa_progression` on day numbers (any consistent origin)."""
    declined = any(v < baseline * (1 - RTOL) for v in values)
    earliest = first_day + 7 * NO_DECLINE_WEEKS
    nadir = baseline  # lowest of baseline and the values dated strictly before `day`
    pending = baseline  # lowest of the values on the current day (join the nadir after it)
    current = None
    n = len(days)
    for i in range(n):
        day, value = days[i], values[i]
        if day != current:
            nadir = min(nadir, pending)
            pending = baseline
            current = day
        pending = min(pending, value)
        if not declined and day < earliest:
            continue
        if not _rises(value, nadir):
            continue
        due = day + PROGRESSION_CONFIRM_DAYS
        j = i + 1
        while j < n and days[j] < due:
            j += 1
        if j < n and _rises(values[j], nadir):
            return day
    return None


@dataclass(frozen=True)
class FollowUp:
    """Per-patient follow-up frame and what was available.

    ``frame`` has one row per patient (patients.csv order): ``patient_id``,
    ``os_days``, ``os_event``, ``psa_pfs_days``, ``psa_pfs_event``,
    ``psa_progression`` (boolean, NA when not PSA-evaluable),
    ``psa_progression_date``, ``rpfs_days``, ``rpfs_event``, ``psa50_date``.
    Columns of an endpoint whose data are absent are all missing.
    """

    frame: pd.DataFrame
    has_os: bool
    has_rpfs: bool
    cutoff: dt.date | None


def _first_event(
    d1: dt.date, events: tuple[dt.date | None, ...], censor: dt.date | None
) -> tuple[float, bool]:
    """(days from dose 1, event) to the first of ``events``, else censored at ``censor``."""
    happened = [d for d in events if d is not None]
    if happened:
        return (min(happened) - d1).days, True
    return ((censor - d1).days if censor is not None else np.nan), False


def _days(series: pd.Series) -> np.ndarray:
    """Day numbers (days since 1970-01-01) of a datetime column."""
    return series.to_numpy(dtype="datetime64[D]").astype(np.int64)


def _ordinal_day(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def _date(x) -> dt.date | None:
    if x is None or (isinstance(x, float) and np.isnan(x)) or pd.isna(x):
        return None
    return pd.Timestamp(x).date()


def follow_up(
    patients: pd.DataFrame,
    psa: pd.DataFrame,
    per_patient: pd.DataFrame,
    cutoff: dt.date | None = None,
) -> FollowUp:
    """Follow-up times and events of every patient.

    Parameters
    ----------
    patients : DataFrame
        ``patient_id, first_dose_date`` and any of :data:`FOLLOW_UP_COLUMNS`
        (dates or missing).
    psa : DataFrame
        ``patient_id, measured_on, value`` of every PSA value, in file order.
    per_patient : DataFrame
        :func:`analysis.psa.patient_psa`'s frame (``baseline_psa``, ``evaluable``).
    cutoff : date, optional
        Data cut-off: nothing after it is used.
    """
    present = {c for c in FOLLOW_UP_COLUMNS if c in patients.columns}
    has_os = "last_contact_date" in present or "death_date" in present
    has_rpfs = has_os and "radiographic_progression_date" in present
    base = per_patient.set_index("patient_id")
    psa = psa.sort_values(["patient_id", "measured_on"], kind="stable")
    psa_pid = psa["patient_id"].astype(str).to_numpy()
    psa_day = _days(psa["measured_on"])
    psa_value = psa["value"].to_numpy(dtype=float)
    starts: dict[str, tuple[int, int]] = {}
    if len(psa_pid):
        edges = np.flatnonzero(psa_pid[1:] != psa_pid[:-1]) + 1
        bounds = np.concatenate([[0], edges, [len(psa_pid)]])
        for a, b in itertools.pairwise(bounds.tolist()):
            starts[psa_pid[a]] = (int(a), int(b))
    d1_days = _days(patients["first_dose_date"])
    cut = None if cutoff is None else _ordinal_day(cutoff)
    baseline_of = base["baseline_psa"].to_dict()
    evaluable_of = base["evaluable"].astype(bool).to_dict()
    rows = []
    for k, rec in enumerate(patients.itertuples(index=False)):
        pid = rec.patient_id
        d1 = _date(rec.first_dose_date)
        death = _date(getattr(rec, "death_date", None))
        contact = _date(getattr(rec, "last_contact_date", None))
        rad = _date(getattr(rec, "radiographic_progression_date", None))
        if cutoff is not None:
            if death is not None and death > cutoff:
                death, contact = None, cutoff
            if contact is not None and contact > cutoff:
                contact = cutoff
            if rad is not None and rad > cutoff:
                rad = None
        row = {"patient_id": pid}
        if has_os:
            end = death or contact
            row["os_days"] = (end - d1).days if end is not None else np.nan
            row["os_event"] = death is not None
        first_day = int(d1_days[k])
        a, b = starts.get(str(pid), (0, 0))
        day_arr, value_arr = psa_day[a:b], psa_value[a:b]
        keep = day_arr > first_day
        if cut is not None:
            keep &= day_arr <= cut
        post_days = day_arr[keep].tolist()
        post_values = value_arr[keep].tolist()
        evaluable = bool(evaluable_of[pid])
        baseline = float(baseline_of[pid]) if evaluable else np.nan
        progression = None
        if evaluable:
            found = progression_day(post_days, post_values, baseline, first_day)
            progression = None if found is None else d1 + dt.timedelta(days=found - first_day)
            row["psa_progression"] = progression is not None
            dip = next(
                (
                    d
                    for d, v in zip(post_days, post_values, strict=True)
                    if reaches(v, baseline, config.PSA50_FRACTION)
                ),
                None,
            )
            row["psa50_date"] = None if dip is None else d1 + dt.timedelta(days=dip - first_day)
        else:
            row["psa_progression"] = pd.NA
            row["psa50_date"] = None
        post_dates_last = d1 + dt.timedelta(days=post_days[-1] - first_day) if post_days else None
        row["psa_progression_date"] = progression
        if evaluable:
            row["psa_pfs_days"], row["psa_pfs_event"] = _first_event(
                d1, (progression, death), post_dates_last or d1
            )
        if has_rpfs:
            row["rpfs_days"], row["rpfs_event"] = _first_event(d1, (rad, death), contact)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in (
        "os_days",
        "os_event",
        "psa_pfs_days",
        "psa_pfs_event",
        "rpfs_days",
        "rpfs_event",
    ):
        if col not in frame:
            frame[col] = np.nan
    return FollowUp(frame=frame, has_os=has_os, has_rpfs=has_rpfs, cutoff=cutoff)


@dataclass(frozen=True)
class LandmarkSet:
    """Patients in the landmark analysis and why the others are not."""

    days: int
    time_days: np.ndarray  # from the landmark
    event: np.ndarray
    psa50: np.ndarray
    n_excluded_died: int
    n_excluded_censored: int


def landmark_set(fu: FollowUp, first_dose: pd.Series, weeks: int) -> LandmarkSet:
    """OS from the landmark, by PSA50 reached on or before it (``first_dose`` by patient_id)."""
    days = 7 * weeks
    f = fu.frame
    t = f["os_days"].to_numpy(dtype=float)
    e = f["os_event"].astype(bool).to_numpy()
    died = e & (t <= days)
    censored = ~e & (t < days)
    keep = ~died & ~censored & ~np.isnan(t)
    d1 = [_date(first_dose[pid]) for pid in f["patient_id"]]
    landmark = [d + dt.timedelta(days=days) for d in d1]
    psa50 = np.array(
        [
            dip is not None and not pd.isna(dip) and _date(dip) <= lm
            for dip, lm in zip(f["psa50_date"], landmark, strict=True)
        ],
        dtype=bool,
    )
    return LandmarkSet(
        days=days,
        time_days=t[keep] - days,
        event=e[keep],
        psa50=psa50[keep],
        n_excluded_died=int(died.sum()),
        n_excluded_censored=int(censored.sum()),
    )
