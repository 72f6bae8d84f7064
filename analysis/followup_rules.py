"""Validation rules of the optional follow-up columns of patients.csv.

``last_contact_date``, ``death_date`` and ``radiographic_progression_date``
(config.FOLLOW_UP_COLUMNS) may be absent altogether; when present:

* each is a date not before dose 1 and not in the future;
* once ``last_contact_date`` or ``death_date`` is present, every living
  patient has a ``last_contact_date``; for a patient who died it is blank or
  equal to ``death_date``;
* no dose or measurement is dated after ``death_date``, and none after
  ``last_contact_date`` for a living patient; a radiographic progression is not
  after either.

A cell that is not a date is reported once (by :func:`analysis.validate.check_patients`)
and then neither called empty nor taken for "alive": the survival rules skip it.

Problems name the file, the editor row and the column, what was found and what
was expected, like every other rule (:mod:`analysis.validate`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis import config
from analysis.records import LINE, lookup

P, D, M = config.PATIENTS, config.DOSES, config.MEASUREMENTS


def present(patients: pd.DataFrame) -> list[str]:
    return [c for c in config.FOLLOW_UP_COLUMNS if c in patients.columns]


def _day(value) -> str:
    return str(pd.Timestamp(value).date())


def _dates(
    patients: pd.DataFrame, written: pd.DataFrame | None, col: str
) -> tuple[pd.Series, pd.Series]:
    """Column ``col`` (all NaT when absent) and where its cell is filled but not a date."""
    if col not in patients.columns:
        return pd.Series(pd.NaT, patients.index), pd.Series(False, patients.index)
    value = patients[col]
    if written is None or col not in written.columns:
        return value, pd.Series(False, patients.index)
    filled = pd.Series(np.asarray(written[col] != "", dtype=bool), patients.index)
    return value, value.isna() & filled


def check_follow_up(
    probs,
    patients: pd.DataFrame,
    first: pd.Series,
    doses: pd.DataFrame | None,
    meas: pd.DataFrame | None,
    written: pd.DataFrame | None = None,
) -> None:
    """Apply the follow-up rules.

    Parameters
    ----------
    probs : analysis.validate.Problems
        Collects the problems.
    patients : pandas.DataFrame
        Typed patients.csv (dates parsed, NaT when blank or not a date).
    first : pandas.Series
        Date of dose 1 by ``patient_id``.
    doses, meas : pandas.DataFrame or None
        Typed doses.csv and measurements.csv.
    written : pandas.DataFrame or None
        patients.csv as read (same index as ``patients``): tells a blank cell from
        one that is not a date (already reported), so that such a cell is neither
        called empty nor taken for "alive".
    """
    cols = present(patients)
    if not cols:
        return
    d1 = lookup(patients["patient_id"], first)
    today = pd.Timestamp(dt.date.today())
    for col in cols:
        value = patients[col]
        early = value.notna() & d1.notna() & (value < d1)
        probs.rows(
            P,
            patients.assign(_d1=d1),
            early,
            col,
            lambda r, c=col: (
                f"found {_day(r[c])}, before dose 1 ({_day(r['_d1'])}); expected a date on or"
                " after the first dose"
            ),
        )
        future = value.notna() & (value > today)
        probs.rows(
            P,
            patients,
            future,
            col,
            lambda r, c=col: f"found {_day(r[c])}, which is in the future; expected a past date",
        )
    if "last_contact_date" not in cols and "death_date" not in cols:
        return
    death, death_unread = _dates(patients, written, "death_date")
    contact, contact_unread = _dates(patients, written, "last_contact_date")
    dead = death.notna()
    alive = death.isna() & ~death_unread  # a death_date that is not a date: status unknown
    found = "empty cell" if "last_contact_date" in cols else "no last_contact_date column"
    probs.rows(
        P,
        patients,
        alive & contact.isna() & ~contact_unread,
        "last_contact_date",
        lambda r: (
            f"{found}; expected the date the patient was last known alive (required for every"
            " living patient once death_date or last_contact_date is given)"
        ),
    )
    differs = dead & contact.notna() & (contact != death)
    probs.rows(
        P,
        patients.assign(_death=death, _contact=contact),
        differs,
        "last_contact_date",
        lambda r: (
            f"found {_day(r['_contact'])} for a patient who died on {_day(r['_death'])};"
            " expected a blank cell or the death date"
        ),
    )
    end = death.where(dead, contact.where(alive))  # the last date the patient can have data
    ends = pd.Series(end.to_numpy(), index=patients["patient_id"].to_numpy())
    ends = ends[~ends.index.duplicated()]
    why = pd.Series(
        ["death_date" if d else "last_contact_date" for d in dead],
        index=patients["patient_id"].to_numpy(),
    )
    why = why[~why.index.duplicated()]
    if "radiographic_progression_date" in cols:
        rad = patients["radiographic_progression_date"]
        late = rad.notna() & end.notna() & (rad > end)
        probs.rows(
            P,
            patients.assign(_end=end, _why=why.reindex(patients["patient_id"]).to_numpy()),
            late,
            "radiographic_progression_date",
            lambda r: (
                f"found {_day(r['radiographic_progression_date'])}, after {r['_why']}"
                f" ({_day(r['_end'])}); expected a date on or before it"
            ),
        )
    for name, frame, col, what in (
        (D, doses, "dose_date", "dose"),
        (M, meas, "measured_on", "measurement"),
    ):
        if frame is None or frame.empty:
            continue
        limit = lookup(frame["patient_id"], ends)
        reason = lookup(frame["patient_id"], why)
        late = frame[col].notna() & limit.notna() & (frame[col] > limit)
        probs.rows(
            name,
            frame.assign(_end=limit, _why=reason),
            late,
            col,
            lambda r, c=col, w=what: (
                f"found {_day(r[c])}, after the patient's {r['_why']} ({_day(r['_end'])});"
                f" expected no {w} after it"
            ),
        )


__all__ = ["LINE", "check_follow_up", "present"]
