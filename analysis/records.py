"""Typed cohort records shared by loading, validation and the analysis.

:class:`Cohort` (the validated frames), the integer :class:`Codes` of a text
column and the small frame helpers the later stages use.  Both
:mod:`analysis.load` and :mod:`analysis.validate` import this module; it imports
neither, so imports flow one way: ``load`` → ``validate`` → ``records``.
Nothing here imports pandas at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Name of the column that carries each row's line number in the file.
LINE = "_line"


@dataclass(frozen=True)
class Cohort:
    """Validated, typed input frames.

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per patient, in file order, with typed columns (booleans,
        numbers, lower-case ``treatment_status``) and ``first_dose_date``.
    doses : pandas.DataFrame
        ``patient_id, dose_number, dose_date, activity_gbq`` sorted by
        patient and dose number.
    measurements : pandas.DataFrame
        ``patient_id, measured_on, test, value, censored, unit`` with every
        value in the canonical unit of its test.
    prior_therapies : pandas.DataFrame
        ``patient_id, agent, agent_key, therapy_class, start_date``;
        ``agent_key`` is the agent name folded for counting distinct agents.
    source : pathlib.Path
        The folder the files were read from.
    """

    patients: pd.DataFrame
    doses: pd.DataFrame
    measurements: pd.DataFrame
    prior_therapies: pd.DataFrame
    source: Path

    def first_dose_of(self, patient_ids: pd.Series) -> pd.Series:
        """Date of dose 1 for each patient_id in ``patient_ids`` (aligned with it)."""
        return lookup(patient_ids, self.patients.set_index("patient_id")["first_dose_date"])

    @cached_property
    def measurement_codes(self) -> tuple[Codes, Codes]:
        """Integer codes of the measurements' ``patient_id`` and ``test`` (computed once).

        The analysis selects and groups millions of measurement rows by patient
        and test; comparing integers is much faster than comparing text.
        """
        m = self.measurements
        return text_codes(m["patient_id"]), text_codes(m["test"])

    def first_dose_of_measurements(self, rows=None) -> pd.Series:
        """:meth:`first_dose_of` the measurements' patient_id (``rows``: a boolean mask)."""
        first = self.patients.set_index("patient_id")["first_dose_date"]
        index = self.measurements.index
        if rows is not None:
            index = index[rows]
        return self.measurement_codes[0].spread(first, index, rows)

    def summary(self) -> dict[str, object]:
        """Counts and date span for a one-screen summary."""
        dates = [self.doses["dose_date"], self.measurements["measured_on"]]
        if len(self.prior_therapies):
            dates.append(self.prior_therapies["start_date"])
        lo = min(d.min() for d in dates)
        hi = max(d.max() for d in dates)
        return {
            "patients": len(self.patients),
            "doses": len(self.doses),
            "measurements": len(self.measurements),
            "prior_therapy_rows": len(self.prior_therapies),
            "tests": int(self.measurements["test"].nunique()),
            "first_date": lo.date().isoformat(),
            "last_date": hi.date().isoformat(),
        }


@dataclass(frozen=True)
class Codes:
    """A text column as integer codes: ``column[i] == values[codes[i]]`` (-1: missing)."""

    codes: np.ndarray
    values: pd.Index

    def code(self, value: str) -> int:
        """Code of ``value`` (-1 if it does not occur)."""
        return int(self.values.get_indexer([value])[0])

    def rows_equal(self, value: str) -> np.ndarray:
        """Boolean mask of the rows equal to ``value`` (like ``column == value``)."""
        import numpy as np

        code = self.code(value)
        if code < 0:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == code

    def spread(self, table: pd.Series, index: pd.Index, rows=None) -> pd.Series:
        """``lookup(column, table)`` (restricted to ``rows``), one lookup per distinct value."""
        import pandas as pd

        codes = self.codes if rows is None else self.codes[rows]
        per_value = table.reindex(self.values.to_numpy())
        values = per_value.array.take(codes, allow_fill=True)
        return pd.Series(values, index=index, name=table.name, dtype=table.dtype)


def text_codes(column: pd.Series) -> Codes:
    """:class:`Codes` of a column, found per run of equal adjacent values.

    Fast when equal values sit together (as the sorted measurements do): each run
    is looked up once.  Works in any order.
    """
    import numpy as np
    import pandas as pd

    values = column.to_numpy(dtype=object)
    n = len(values)
    if n == 0:
        return Codes(np.zeros(0, dtype=np.intp), pd.Index(column.unique()))
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(values[1:], values[:-1], out=start[1:])
    starts = np.flatnonzero(start)
    run_codes, uniques = pd.factorize(values[starts])
    codes = np.repeat(run_codes, np.diff(np.append(starts, n)))
    return Codes(codes, pd.Index(uniques))


def sort_stable(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``frame.sort_values(by, kind="stable")``, skipped when already in that order."""
    if not _is_sorted(frame, by):
        return frame.sort_values(by, kind="stable")
    return frame


def _is_sorted(frame: pd.DataFrame, by: list[str]) -> bool:
    import numpy as np

    tied = np.ones(max(len(frame) - 1, 0), dtype=bool)
    for col in by:
        column = frame[col]
        if column.isna().any():
            return False
        values = column.to_numpy()
        after, before = values[1:], values[:-1]
        try:
            equal = np.asarray(after == before, dtype=bool)
            later = np.asarray(after > before, dtype=bool)
        except TypeError:
            return False
        if (tied & ~equal & ~later).any():
            return False
        tied &= equal
    return True


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key (missing where absent), aligned with ``keys``.

    Like ``keys.map(table)`` but keeps ``table``'s dtype when either side is
    empty (``Series.map`` with an empty datetime mapper fails in pandas 3).
    ``table`` must have a unique index.
    """
    import pandas as pd

    if isinstance(keys.dtype, pd.CategoricalDtype):
        # Look each distinct key up once, then spread by the codes (-1 = missing key).
        per_key = table.reindex(keys.cat.categories.to_numpy())
        values = per_key.array.take(keys.cat.codes.to_numpy(), allow_fill=True)
        return pd.Series(values, index=keys.index, name=table.name, dtype=table.dtype)
    values = table.reindex(keys.to_numpy())
    return pd.Series(values.to_numpy(), index=keys.index, name=table.name, dtype=table.dtype)
