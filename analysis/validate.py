"""Validation rules of the data contract (data/README.md).

Each rule is a small function that looks at one file (or at two files
together), marks the offending rows with a vectorised mask and records one
:class:`~analysis.errors.Problem` per row: file, line number, column, what was
found and what was expected.  All rules run, so one run reports every
problem; :func:`validate_frames` then raises a single
:class:`~analysis.errors.PsmaRweError` or returns the typed
:class:`~analysis.records.Cohort`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.errors import Problem, PsmaRweError
from analysis.followup_rules import check_follow_up
from analysis.identifiers import ID_VALUE_PATTERNS, id_value_reason
from analysis.records import LINE, Cohort, lookup

P, D, M, T = config.PATIENTS, config.DOSES, config.MEASUREMENTS, config.PRIOR_THERAPIES
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

#: Refused in cells: as :data:`analysis.load.CONTROL_CHARACTERS` (not imported from
#: there, so that imports flow one way; a test checks that the two are equal).
CONTROL_CHARACTERS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"


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


# --- raw columns ------------------------------------------------------------------
#
# :func:`~analysis.load.read_raw` returns the cells as categorical columns: each
# distinct text is stored once with an integer code per row.  A rule that looks at
# one cell at a time is computed on the distinct values and spread back by the codes,
# which gives the same result as computing it on every row, at the cost of the number
# of distinct values (a few thousand dates and units for millions of measurements).


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``(codes, values)`` with ``column == values[codes]``; ``values`` as ``str``."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        values = column.cat.categories.to_numpy(dtype=object)
    else:
        codes, values = pd.factorize(column.to_numpy(dtype=object))
    return codes, pd.Series(pd.array(values, dtype="str"), name=column.name)


def _spread(per_value: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Row values from values computed per distinct value."""
    return pd.Series(per_value.array.take(codes), index=index, name=per_value.name)


def _text(column: pd.Series) -> pd.Series:
    """A raw column as a ``str`` column (the cells as they were read, stripped)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column
    codes, values = _codes(column)
    return _spread(values.rename(column.name), codes, column.index)


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(**{col: _text(raw[col]) for col in raw.columns if col != LINE})


def _by_value(column: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func(column)`` for a cell-by-cell ``func``, computed once per distinct value."""
    codes, values = _codes(column)
    return _spread(func(values), codes, column.index)


def _lower(series: pd.Series) -> pd.Series:
    return series.str.lower()


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


def check_control_characters(probs: Problems, file: str, raw: pd.DataFrame) -> pd.Series:
    """Cells holding a control character (tab and line breaks are fine); the bad rows."""
    bad_rows = pd.Series(False, index=raw.index)
    optional = [c for c in config.OPTIONAL_PRESENT_COLUMNS[file] if c in raw.columns]
    for col in (*config.COLUMNS[file], *optional):
        codes, values = _codes(raw[col])
        found = values.str.extract(f"({CONTROL_CHARACTERS})", expand=False)
        bad = found.notna().to_numpy()
        if not bad.any():
            continue
        rows = bad[codes] & (codes >= 0)
        bad_rows |= rows
        char = _spread(found.fillna(""), codes, raw.index)
        probs.rows(
            file,
            raw.assign(_char=char),
            rows,
            col,
            lambda r: (
                f"holds the control character {r['_char']!r}; expected plain text (remove"
                " it, e.g. by saving the file again from a spreadsheet)"
            ),
        )
    return bad_rows


_ANY_ID_VALUE = re.compile(
    "|".join(f"(?:{p.pattern})" for p, _ in ID_VALUE_PATTERNS), re.IGNORECASE | re.DOTALL
)


def _id_reasons(values: pd.Series) -> pd.Series:
    """Per distinct ``patient_id``: why it looks like a direct identifier ("" if not)."""
    reasons = pd.Series("", index=values.index, dtype=object)
    # One pass with all patterns, then only the (rare) hits are told apart.
    any_hit = values.str.fullmatch(_ANY_ID_VALUE).fillna(False).to_numpy(dtype=bool)
    if any_hit.any():
        reasons[any_hit] = [id_value_reason(v) or "" for v in values[any_hit]]
    return reasons


def check_id_values(probs: Problems, file: str, raw: pd.DataFrame) -> None:
    """``patient_id`` values shaped like an SSN, an e-mail address or an MRN.

    The value is not repeated in the message (it may be a real identifier), nor in
    the messages of the cross-file rules (see :func:`_identifier_like`).
    """
    codes, values = _codes(raw["patient_id"])
    reasons = _id_reasons(values)
    bad = (reasons != "").to_numpy()
    if not bad.any():
        return
    probs.rows(
        file,
        raw.assign(_why=_spread(reasons, codes, raw.index)),
        bad[codes] & (codes >= 0),
        "patient_id",
        lambda r: (
            f"the value {r['_why']}; expected a study code (such as PT-0001), not a direct"
            " identifier"
        ),
    )


def check_patients(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    cells, raw = raw, _as_text(raw)
    check_required(probs, P, raw)
    out = pd.DataFrame({"patient_id": raw["patient_id"], LINE: raw[LINE]})

    dup = raw["patient_id"].duplicated(keep="first") & (raw["patient_id"] != "")
    dup &= ~_identifier_like(raw["patient_id"])
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
        parsed = _by_value(cells[col], parse_numbers)
        check_number(probs, P, raw, col, parsed, lo, hi, integer=col in config.INTEGER_COLUMNS)
        out[col] = parsed

    for col in config.BOOLEAN_COLUMNS:
        low = _by_value(cells[col], _lower)
        bad = ~low.isin(config.TRUE_WORDS | config.FALSE_WORDS) & (raw[col] != "")
        probs.rows(P, raw, bad, col, lambda r, c=col: f"{_found(r[c])}; expected true or false")
        out[col] = low.isin(config.TRUE_WORDS)

    status = _by_value(cells["treatment_status"], _lower)
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
        # blank = not recorded: missing (Table 1's missing row), not a level; a written
        # "Unknown" stays a level
        out[col] = raw[col].where(raw[col] != "", None)
    for col in config.FOLLOW_UP_COLUMNS:
        if col in raw.columns:
            parsed = _by_value(cells[col], parse_dates)
            check_date(probs, P, raw, col, parsed)
            out[col] = parsed
    return out


def check_doses(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    cells, raw = raw, _as_text(raw)
    check_required(probs, D, raw)
    number = _by_value(cells["dose_number"], parse_numbers)
    check_number(probs, D, raw, "dose_number", number, integer=True)
    bad = number.notna() & (number < 1)
    probs.rows(
        D, raw, bad, "dose_number", lambda r: f"{_found(r['dose_number'])}; expected 1 or more"
    )
    date = _by_value(cells["dose_date"], parse_dates)
    check_date(probs, D, raw, "dose_date", date)
    future = date > pd.Timestamp(dt.date.today())
    probs.rows(
        D,
        raw,
        future,
        "dose_date",
        lambda r: f"{_found(r['dose_date'])}, which is in the future; expected a past date",
    )
    early = date < pd.Timestamp(config.EARLIEST_DOSE_DATE)
    probs.rows(
        D,
        raw,
        early,
        "dose_date",
        lambda r: (
            f"{_found(r['dose_date'])}, before {config.EARLIEST_DOSE_DATE}, the first human use"
            " of 177Lu-PSMA-617; expected a later date (check the year)"
        ),
    )
    activity = _by_value(cells["activity_gbq"], parse_numbers)
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
    """Rules of measurements.csv, computed per distinct cell value (see :func:`_codes`).

    The result keeps ``patient_id``, ``test`` and ``unit`` as categoricals;
    :func:`_assemble` turns them into text columns.
    """
    check_required(probs, M, raw)
    date_codes, dates = _codes(raw["measured_on"])
    date = _spread(parse_dates(dates), date_codes, raw.index)
    check_date(probs, M, raw, "measured_on", date)

    test_codes, tests = _codes(raw["test"])
    test_lower = tests.str.lower()
    unknown = ~test_lower.isin(config.TESTS) & (tests != "")
    probs.rows(
        M,
        raw,
        unknown.to_numpy()[test_codes],
        "test",
        lambda r: f"unknown test {r['test']!r}; expected one of {', '.join(config.TESTS)}",
    )

    value_codes, texts = _codes(raw["value"])
    censored = texts.str.startswith("<").to_numpy()[value_codes]
    number = parse_numbers(texts.str.lstrip("<").str.strip())
    bad = number.isna() & (texts != "")
    probs.rows(
        M,
        raw,
        bad.to_numpy()[value_codes],
        "value",
        lambda r: (
            f"{_found(r['value'])}; expected a number (or <number for a value below the"
            " detection limit)"
        ),
    )
    negative = (number < 0).to_numpy()[value_codes]
    probs.rows(
        M,
        raw,
        negative,
        "value",
        lambda r: f"{_found(r['value'])} for {r['test']}; expected a value of 0 or more",
    )

    # The conversion factor depends on the (test, unit) pair: compute it per pair.
    unit_codes, units = _codes(raw["unit"])
    pair_codes, pairs = _pair_codes(test_codes, unit_codes)
    pair_test = test_lower.to_numpy(dtype=object)[pairs[:, 0]]
    unit_key = units.str.replace("μ", "µ").str.lower().to_numpy(dtype=object)[pairs[:, 1]]
    factor = np.full(len(pairs), np.nan)
    for name, accepted in config.UNIT_FACTORS.items():
        lookup_factor = {u.lower(): f for u, f in accepted.items()}
        for i in np.flatnonzero(pair_test == name):
            factor[i] = lookup_factor.get(unit_key[i], np.nan)
    known_test = np.array([t in config.TESTS for t in pair_test], dtype=bool)
    bad_unit = np.isnan(factor) & known_test & (units.to_numpy(dtype=object)[pairs[:, 1]] != "")
    probs.rows(
        M,
        raw,
        bad_unit[pair_codes],
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
            "test": _categorical(test_lower, test_codes, raw.index),
            "value": number.to_numpy()[value_codes] * factor[pair_codes],
            "censored": censored,
            "unit": _categorical(test_lower.map(config.CANONICAL_UNITS), test_codes, raw.index),
            LINE: raw[LINE],
        },
        copy=False,
    )


def _pair_codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the pairs ``(a[i], b[i])`` of two code arrays, and the pairs (rows).

    Every combination gets a code when there are few (a small dense table);
    otherwise only the pairs that occur.
    """
    n_a, n_b = int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1
    if n_a * n_b <= 1 << 16:
        key = a.astype(np.intp) * n_b + b
        grid = np.indices((n_a, n_b)).reshape(2, -1).T
        return key, grid
    key = a.astype(np.int64) * n_b + b
    uniq, codes = np.unique(key, return_inverse=True)
    return codes.reshape(-1), np.column_stack([uniq // n_b, uniq % n_b])


def _categorical(per_value: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A categorical column with ``per_value[codes[i]]`` in row ``i``."""
    new_codes, uniques = pd.factorize(per_value.to_numpy(dtype=object), use_na_sentinel=True)
    cat = pd.Categorical.from_codes(
        new_codes[codes], categories=pd.Index(pd.array(uniques, dtype="str"))
    )
    return pd.Series(cat, index=index)


def check_prior_therapies(probs: Problems, raw: pd.DataFrame) -> pd.DataFrame:
    cells, raw = raw, _as_text(raw)
    check_required(probs, T, raw)
    klass = _by_value(cells["therapy_class"], _lower)
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
    date = _by_value(cells["start_date"], parse_dates)
    check_date(probs, T, raw, "start_date", date)
    return pd.DataFrame(
        {
            "patient_id": raw["patient_id"],
            "agent": raw["agent"],
            "agent_key": _by_value(cells["agent"], _agent_key),
            "therapy_class": klass,
            "start_date": date,
            LINE: raw[LINE],
        }
    )


def _agent_key(agent: pd.Series) -> pd.Series:
    return agent.str.lower().str.split().str.join(" ")


# --- cross-file rules -------------------------------------------------------------


def _identifier_like(ids: pd.Series) -> np.ndarray:
    """Rows whose ``patient_id`` :func:`check_id_values` refuses (other rules skip them)."""
    codes, values = _codes(ids)
    flags = (_id_reasons(values) != "").to_numpy(dtype=bool)
    return flags[codes] & (codes >= 0) if len(flags) else np.zeros(len(ids), dtype=bool)


def check_orphans(probs: Problems, file: str, frame: pd.DataFrame, ids: pd.Index) -> None:
    orphan = ~frame["patient_id"].isin(ids) & (frame["patient_id"] != "")
    orphan &= ~_identifier_like(frame["patient_id"])
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
        ~has_first & (patients["patient_id"] != "") & ~_identifier_like(patients["patient_id"]),
        "patient_id",
        lambda r: (
            f"patient {r['patient_id']!r} has no dose 1 in doses.csv; expected every"
            " patient to have received dose 1"
        ),
    )


def check_measurement_dates(probs: Problems, meas: pd.DataFrame, first: pd.Series) -> None:
    d1 = lookup(meas["patient_id"], first)
    earliest = lookup(meas["patient_id"], first - pd.DateOffset(years=config.MAX_LOOKBACK_YEARS))
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
        check_control_characters(probs, name, raw)
        check_id_values(probs, name, raw)
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
        if patients is not None:
            check_follow_up(probs, patients, first, d, typed[M], frames[P])

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
    meas = _sorted_measurements(typed[M].drop(columns=LINE))
    prior = typed[T].drop(columns=LINE).reset_index(drop=True)
    return Cohort(patients, doses, meas, prior, source)


def _sorted_measurements(meas: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by patient_id, test and date (stable), categoricals as ``str``.

    The same order as ``sort_values(["patient_id", "test", "measured_on"],
    kind="stable")`` on text columns, computed from the codes: each category's
    rank in the sorted distinct values stands for its text.
    """
    group = np.zeros(len(meas), dtype=np.int64)
    for col in ("patient_id", "test"):
        codes, values = _codes(meas[col])
        rank = np.empty(len(values), dtype=np.int64)
        rank[np.argsort(values.to_numpy(dtype=object), kind="stable")] = np.arange(len(values))
        group = group * len(values) + rank[codes]
    dates = meas["measured_on"].to_numpy()
    when = np.where(np.isnat(dates), np.iinfo(np.int64).max, dates.view(np.int64))
    day = np.int64(86_400_000_000 if dates.dtype == "M8[us]" else 0)
    if len(when) and day and not np.isnat(dates).any() and not (when % day).any():
        # Dates at midnight (always, from YYYY-MM-DD): one integer key, one sort.
        days = (when - when.min()) // day
        span = int(days.max()) + 1
        if int(group.max()) < np.iinfo(np.int64).max // span - 1:
            order = np.argsort(group * span + days, kind="stable")
        else:
            order = np.lexsort((when, group))
    else:
        order = np.lexsort((when, group))
    del group, when, dates  # free the sort keys before the columns are copied
    out = {}
    for col in meas.columns:
        column = meas[col]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes, values = _codes(column)
            out[col] = values.array.take(codes[order], allow_fill=True)
        else:
            out[col] = column.to_numpy()[order]
    return pd.DataFrame(out, copy=False)
