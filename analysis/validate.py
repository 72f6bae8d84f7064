"""Validation rules of the data contract (data/README.md).

Each rule is a small function that looks at one file (or at two files
together), marks the offending rows with a vectorised mask and records one
:class:`~analysis.errors.Problem` per row: file, line number, column, what was
found and what was expected.  All rules run, so one run reports every
problem; :func:`validate_frames` then raises a single
:class:`~analysis.errors.PsmaRweError` or returns the typed
:class:`~analysis.load.Cohort`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.errors import Problem, PsmaRweError
from analysis.load import LINE, Cohort, lookup

P, D, M, T = config.PATIENTS, config.DOSES, config.MEASUREMENTS, config.PRIOR_THERAPIES
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class Problems:
    """Collects problems; keeps at most ``keep`` per rule but counts them all."""

    def __init__(self, keep: int = config.MAX_PROBLEMS):
        self.keep = keep
        self.items: list[Problem] = []
        self.total = 0

    def add(self, problem: Problem) -> None:
        self.total += 1
        self.items.append(problem)

    def rows(
        self,
        file: str,
        frame: pd.DataFrame,
        mask,
        column: str | None,
        message: Callable[[pd.Series], str],
    ) -> None:
        """Record a problem for each row of ``frame`` where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if not n:
            return
        self.total += n
        for _, row in frame[mask].head(self.keep).iterrows():
            self.items.append(Problem(file, int(row[LINE]), column, message(row)))

    def __bool__(self) -> bool:
        return self.total > 0


def _found(value: str) -> str:
    return f"found {value!r}" if value != "" else "found an empty cell"


# --- cell parsers ---------------------------------------------------------------


def parse_dates(series: pd.Series) -> pd.Series:
    """ISO dates (YYYY-MM-DD) → datetime64; anything else → NaT."""
    ok = series.str.match(DATE_PATTERN)
    out = pd.to_datetime(series.where(ok), format="%Y-%m-%d", errors="coerce")
    return out


def parse_numbers(series: pd.Series) -> pd.Series:
    """Finite decimal numbers → float; anything else → NaN."""
    out = pd.to_numeric(series.where(series != ""), errors="coerce").astype(float)
    return out.where(np.isfinite(out))


def check_required(probs: Problems, file: str, frame: pd.DataFrame) -> None:
    for col in config.COLUMNS[file]:
        if col in config.OPTIONAL_COLUMNS[file]:
            continue
        probs.rows(file, frame, frame[col] == "", col, lambda r: "empty cell; a value is required")


def check_date(probs, file, frame, col, parsed, what="a date written YYYY-MM-DD") -> None:
    bad = parsed.isna() & (frame[col] != "")
    probs.rows(file, frame, bad, col, lambda r: f"{_found(r[col])}; expected {what}")


def check_number(probs, file, frame, col, parsed, lo=None, hi=None, integer=False) -> None:
    present = frame[col] != ""
    bad = parsed.isna() & present
    kind = "a whole number" if integer else "a number"
    probs.rows(file, frame, bad, col, lambda r: f"{_found(r[col])}; expected {kind}")
    if integer:
        frac = parsed.notna() & (parsed != np.floor(parsed))
        probs.rows(file, frame, frac, col, lambda r: f"{_found(r[col])}; expected a whole number")
    if lo is not None:
        out = parsed.notna() & ((parsed < lo) | (parsed > hi))
        probs.rows(
            file, frame, out, col, lambda r: f"{_found(r[col])}; expected a value from {lo} to {hi}"
        )


# --- per-file rules -------------------------------------------------------------


def check_patients(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    check_required(probs, P, raw)
    out = pd.DataFrame({"patient_id": raw["patient_id"], LINE: raw[LINE]})

    dup = raw["patient_id"].duplicated(keep="first") & (raw["patient_id"] != "")
    first_line = raw.drop_duplicates("patient_id").set_index("patient_id")[LINE]
    probs.rows(
        P,
        raw,
        dup,
        "patient_id",
        lambda r: (
            f"{r['patient_id']!r} appears again (first at row {first_line[r['patient_id']]});"
            " expected each patient once"
        ),
    )

    for col, (lo, hi) in config.PATIENT_RANGES.items():
        parsed = parse_numbers(raw[col])
        check_number(probs, P, raw, col, parsed, lo, hi, integer=col in config.INTEGER_COLUMNS)
        out[col] = parsed

    for col in config.BOOLEAN_COLUMNS:
        low = raw[col].str.lower()
        bad = ~low.isin(config.TRUE_WORDS | config.FALSE_WORDS) & (raw[col] != "")
        probs.rows(P, raw, bad, col, lambda r, c=col: f"{_found(r[c])}; expected true or false")
        out[col] = low.isin(config.TRUE_WORDS)

    status = raw["treatment_status"].str.lower()
    bad = ~status.isin(config.TREATMENT_STATUSES) & (raw["treatment_status"] != "")
    allowed = " | ".join(config.TREATMENT_STATUSES)
    probs.rows(
        P,
        raw,
        bad,
        "treatment_status",
        lambda r: f"{_found(r['treatment_status'])}; expected one of {allowed}",
    )
    reason = raw["discontinuation_reason"]
    missing = (status == "discontinued") & (reason == "")
    probs.rows(
        P,
        raw,
        missing,
        "discontinuation_reason",
        lambda r: "empty cell; a reason is required when treatment_status is discontinued",
    )
    extra = status.isin(("completed", "ongoing")) & (reason != "")
    probs.rows(
        P,
        raw,
        extra,
        "discontinuation_reason",
        lambda r: (
            f"{_found(r['discontinuation_reason'])}; expected an empty cell "
            f"when treatment_status is {r['treatment_status'].lower()}"
        ),
    )
    out["treatment_status"] = status
    out["discontinuation_reason"] = reason
    for col in ("race", "ethnicity"):
        out[col] = raw[col].where(raw[col] != "", "Unknown")
    return out


def check_doses(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    check_required(probs, D, raw)
    number = parse_numbers(raw["dose_number"])
    check_number(probs, D, raw, "dose_number", number, integer=True)
    bad = number.notna() & (number < 1)
    probs.rows(
        D, raw, bad, "dose_number", lambda r: f"{_found(r['dose_number'])}; expected 1 or more"
    )
    date = parse_dates(raw["dose_date"])
    check_date(probs, D, raw, "dose_date", date)
    future = date > pd.Timestamp(dt.date.today())
    probs.rows(
        D,
        raw,
        future,
        "dose_date",
        lambda r: f"{_found(r['dose_date'])}, which is in the future; expected a past date",
    )
    activity = parse_numbers(raw["activity_gbq"])
    check_number(probs, D, raw, "activity_gbq", activity, *config.ACTIVITY_RANGE)

    out = pd.DataFrame(
        {
            "patient_id": raw["patient_id"],
            "dose_number": number,
            "dose_date": date,
            "activity_gbq": activity,
            LINE: raw[LINE],
        }
    )
    good = out["dose_number"].notna() & (out["dose_number"] >= 1) & (number == np.floor(number))
    ordered = out[good].sort_values(["patient_id", "dose_number"], kind="stable")

    dup = ordered.duplicated(["patient_id", "dose_number"], keep="first")
    probs.rows(
        D,
        ordered,
        dup,
        "dose_number",
        lambda r: (
            f"dose {int(r['dose_number'])} of patient {r['patient_id']!r} is listed twice;"
            " expected each dose number once per patient"
        ),
    )
    ordered = ordered[~dup]
    prev_number = ordered.groupby("patient_id")["dose_number"].shift()
    expected = prev_number.fillna(0) + 1
    gap = ordered["dose_number"] != expected
    probs.rows(
        D,
        ordered.assign(_prev=prev_number),
        gap,
        "dose_number",
        lambda r: (
            f"dose {int(r['dose_number'])} of patient {r['patient_id']!r} follows "
            + ("no earlier dose" if pd.isna(r["_prev"]) else f"dose {int(r['_prev'])}")
            + f"; expected dose {1 if pd.isna(r['_prev']) else int(r['_prev']) + 1}"
            " (dose numbers run 1, 2, 3, ... without gaps)"
        ),
    )
    prev_date = ordered.groupby("patient_id")["dose_date"].shift()
    order_bad = (
        prev_date.notna() & ordered["dose_date"].notna() & (ordered["dose_date"] <= prev_date)
    )
    probs.rows(
        D,
        ordered.assign(_prev=prev_date),
        order_bad,
        "dose_date",
        lambda r: (
            f"dose {int(r['dose_number'])} on {r['dose_date'].date()} is not after the"
            f" previous dose ({r['_prev'].date()}); expected dates increasing with dose_number"
        ),
    )
    return ordered.assign(dose_number=ordered["dose_number"].astype(np.int64))


def check_measurements(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    check_required(probs, M, raw)
    date = parse_dates(raw["measured_on"])
    check_date(probs, M, raw, "measured_on", date)

    test = raw["test"].str.lower()
    unknown = ~test.isin(config.TESTS) & (raw["test"] != "")
    probs.rows(
        M,
        raw,
        unknown,
        "test",
        lambda r: f"unknown test {r['test']!r}; expected one of {', '.join(config.TESTS)}",
    )

    text = raw["value"]
    censored = text.str.startswith("<")
    number = parse_numbers(text.str.lstrip("<").str.strip())
    bad = number.isna() & (text != "")
    probs.rows(
        M,
        raw,
        bad,
        "value",
        lambda r: (
            f"{_found(r['value'])}; expected a number (or <number for a value below the"
            " detection limit)"
        ),
    )
    negative = number < 0
    probs.rows(
        M,
        raw,
        negative,
        "value",
        lambda r: f"{_found(r['value'])} for {r['test']}; expected a value of 0 or more",
    )

    unit_key = raw["unit"].str.replace("μ", "µ").str.lower()
    factor = pd.Series(np.nan, index=raw.index)
    for name, units in config.UNIT_FACTORS.items():
        rows = test == name
        if not rows.any():
            continue
        lookup = {u.lower(): f for u, f in units.items()}
        factor[rows] = unit_key[rows].map(lookup)
    bad_unit = factor.isna() & test.isin(config.TESTS) & (raw["unit"] != "")
    probs.rows(
        M,
        raw,
        bad_unit,
        "unit",
        lambda r: (
            f"unit {r['unit']!r} is not accepted for {r['test'].lower()}; expected "
            + " or ".join(config.UNIT_FACTORS[r["test"].lower()])
        ),
    )
    return pd.DataFrame(
        {
            "patient_id": raw["patient_id"],
            "measured_on": date,
            "test": test,
            "value": number * factor,
            "censored": censored.to_numpy(),
            "unit": test.map(config.CANONICAL_UNITS),
            LINE: raw[LINE],
        }
    )


def check_prior_therapies(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    check_required(probs, T, raw)
    klass = raw["therapy_class"].str.lower()
    bad = ~klass.isin(config.THERAPY_CLASSES) & (raw["therapy_class"] != "")
    probs.rows(
        T,
        raw,
        bad,
        "therapy_class",
        lambda r: (
            f"unknown therapy class {r['therapy_class']!r}; expected one of "
            + ", ".join(config.THERAPY_CLASSES)
        ),
    )
    date = parse_dates(raw["start_date"])
    check_date(probs, T, raw, "start_date", date)
    return pd.DataFrame(
        {
            "patient_id": raw["patient_id"],
            "agent": raw["agent"],
            "agent_key": raw["agent"].str.lower().str.split().str.join(" "),
            "therapy_class": klass,
            "start_date": date,
            LINE: raw[LINE],
        }
    )


# --- cross-file rules -------------------------------------------------------------


def check_orphans(probs: Problems, file: str, frame: pd.DataFrame, ids: pd.Index) -> None:
    orphan = ~frame["patient_id"].isin(ids) & (frame["patient_id"] != "")
    probs.rows(
        file,
        frame,
        orphan,
        "patient_id",
        lambda r: (
            f"patient {r['patient_id']!r} is not in patients.csv; expected a patient_id"
            " listed there"
        ),
    )


def check_first_doses(probs: Problems, patients: pd.DataFrame, doses: pd.DataFrame) -> None:
    has_first = patients["patient_id"].isin(doses.loc[doses["dose_number"] == 1, "patient_id"])
    probs.rows(
        P,
        patients,
        ~has_first & (patients["patient_id"] != ""),
        "patient_id",
        lambda r: (
            f"patient {r['patient_id']!r} has no dose 1 in doses.csv; expected every"
            " patient to have received dose 1"
        ),
    )


def check_measurement_dates(probs: Problems, meas: pd.DataFrame, first: pd.Series) -> None:
    d1 = lookup(meas["patient_id"], first)
    earliest = d1 - pd.DateOffset(years=config.MAX_LOOKBACK_YEARS)
    early = meas["measured_on"].notna() & d1.notna() & (meas["measured_on"] < earliest)
    probs.rows(
        M,
        meas.assign(_d1=d1),
        early,
        "measured_on",
        lambda r: (
            f"found {r['measured_on'].date()}, more than 10 years before dose 1"
            f" ({r['_d1'].date()}); expected a date within 10 years before dose 1"
        ),
    )
    future = meas["measured_on"] > pd.Timestamp(dt.date.today())
    probs.rows(
        M,
        meas,
        future,
        "measured_on",
        lambda r: f"found {r['measured_on'].date()}, which is in the future; expected a past date",
    )


def check_therapy_dates(probs: Problems, prior: pd.DataFrame, first: pd.Series) -> None:
    d1 = lookup(prior["patient_id"], first)
    late = prior["start_date"].notna() & d1.notna() & (prior["start_date"] >= d1)
    probs.rows(
        T,
        prior.assign(_d1=d1),
        late,
        "start_date",
        lambda r: (
            f"found {r['start_date'].date()}, not before dose 1 ({r['_d1'].date()});"
            " expected prior therapies to start before the first dose"
        ),
    )


def validate_frames(
    frames: dict[str, pd.DataFrame | None], source: Path, problems: list[Problem]
) -> Cohort:
    """Apply every rule; raise one error listing all problems or return the cohort."""
    probs = Problems()
    for p in problems:
        probs.add(p)

    checkers = {
        P: check_patients,
        D: check_doses,
        M: check_measurements,
        T: check_prior_therapies,
    }
    typed: dict[str, pd.DataFrame | None] = {}
    for name, check in checkers.items():
        raw = frames.get(name)
        if raw is None:
            typed[name] = None
            continue
        if len(raw) == 0 and name != T:
            probs.add(Problem(name, None, None, "header only, no data rows; expected data"))
            typed[name] = None
            continue
        typed[name] = check(probs, raw)

    patients = typed[P]
    if patients is not None:
        ids = pd.Index(patients["patient_id"])
        for name in (D, M, T):
            if typed[name] is not None:
                check_orphans(probs, name, typed[name], ids)
        if typed[D] is not None:
            check_first_doses(probs, patients, typed[D])
    if typed[D] is not None:
        d = typed[D]
        first = d[d["dose_number"] == 1].drop_duplicates("patient_id").set_index("patient_id")
        first = first["dose_date"]
        if typed[M] is not None:
            check_measurement_dates(probs, typed[M], first)
        if typed[T] is not None:
            check_therapy_dates(probs, typed[T], first)

    if probs:
        order = {name: i for i, name in enumerate(config.INPUT_FILES)}
        items = sorted(
            probs.items, key=lambda p: (order.get(p.file, 9), p.row or 0, p.column or "")
        )
        n = probs.total
        raise PsmaRweError(
            f"{source}: {n} problem{'s' if n != 1 else ''} found; the data do not meet the"
            " contract in data/README.md",
            items,
            total=n,
        )
    return _assemble(typed, source)


def _assemble(typed: dict[str, pd.DataFrame], source: Path) -> Cohort:
    doses = typed[D].drop(columns=LINE).reset_index(drop=True)
    first = doses.loc[doses["dose_number"] == 1].set_index("patient_id")["dose_date"]
    patients = typed[P].drop(columns=LINE).reset_index(drop=True)
    patients["first_dose_date"] = lookup(patients["patient_id"], first)
    patients["ecog"] = patients["ecog"].astype(np.int64)
    meas = (
        typed[M]
        .drop(columns=LINE)
        .sort_values(["patient_id", "test", "measured_on"], kind="stable")
        .reset_index(drop=True)
    )
    prior = typed[T].drop(columns=LINE).reset_index(drop=True)
    return Cohort(patients, doses, meas, prior, source)
