"""Read a cohort folder into validated, typed frames.

:func:`load_cohort` is the only entry point the rest of the package uses.  It
reads the four CSV files as text (so that every cell can be checked and
reported with its line number), hands them to :mod:`analysis.validate`, and
returns a frozen :class:`Cohort`.  Input files are opened read-only and never
written.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import config
from analysis.errors import Problem, PsmaRweError

if TYPE_CHECKING:
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


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key (missing where absent), aligned with ``keys``.

    Like ``keys.map(table)`` but keeps ``table``'s dtype when either side is
    empty (``Series.map`` with an empty datetime mapper fails in pandas 3).
    ``table`` must have a unique index.
    """
    import pandas as pd

    values = table.reindex(keys.to_numpy())
    return pd.Series(values.to_numpy(), index=keys.index, name=table.name, dtype=table.dtype)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_raw(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one CSV file as text cells.

    Every cell is kept as a stripped string (empty for a blank cell); the
    column ``_line`` holds the line number a person sees in an editor.  A
    byte-order mark is accepted.  Returns ``(None, problems)`` when the file
    cannot be read as a table.
    """
    import pandas as pd

    name = path.name
    if not path.is_file():
        return None, [Problem(name, None, None, f"file not found in {path.parent}")]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(name, line, None, "not valid UTF-8 text; save the file as UTF-8")]
    if not text.strip():
        return None, [Problem(name, None, None, "file is empty; expected a header row and data")]

    header, records, lines, problems = _records(name, text)
    problems = _check_header(name, header) or problems
    if problems:
        return None, problems
    frame = pd.DataFrame(records, columns=header, dtype=str)
    frame = frame[list(config.COLUMNS[name])]
    for col in frame.columns:
        frame[col] = frame[col].str.strip()
    frame[LINE] = pd.Series(lines, index=frame.index, dtype="int64")
    return frame, []


def _records(name: str, text: str) -> tuple[list[str], list[list[str]], list[int], list[Problem]]:
    """Split CSV text into header, data records and the line each record starts on.

    Blank lines are skipped.  A record spanning several lines (a quoted cell
    with a line break) gets the line it starts on.  A record with more or
    fewer fields than the header is a problem: pandas would silently shift its
    cells into the wrong columns (or pad them).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    start = 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if header is None:
                header = [h.strip() for h in fields]
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                problems.append(
                    Problem(
                        name,
                        line,
                        None,
                        f"found {len(fields)} fields; expected {len(header)}, one per header"
                        " column (check for an unquoted comma, an unclosed quote or a missing"
                        " cell)",
                    )
                )
                continue
            records.append(fields)
            lines.append(line)
    except csv.Error as exc:
        problems.append(Problem(name, reader.line_num, None, f"not a well-formed CSV line ({exc})"))
    return header or [], records, lines, problems


def _check_header(name: str, header: list[str]) -> list[Problem]:
    problems = []
    for col in header:
        key = col.lower().replace(" ", "_").replace("-", "_")
        hits = [p for p in config.IDENTIFIER_PATTERNS if p in key]
        if hits and col not in config.COLUMNS[name]:
            problems.append(
                Problem(
                    name,
                    1,
                    col,
                    f"looks like a direct identifier ({hits[0]}); remove this column: "
                    "the pipeline accepts de-identified data only",
                )
            )
    seen = set()
    for col in header:
        if col in seen:
            problems.append(Problem(name, 1, col, "column appears twice in the header"))
        seen.add(col)
    for col in config.COLUMNS[name]:
        if col not in header:
            expected = ", ".join(config.COLUMNS[name])
            problems.append(
                Problem(name, 1, col, f"required column is missing; expected columns: {expected}")
            )
    return problems


def load_cohort(data_dir: Path | str) -> Cohort:
    """Read, validate and type the four files of a cohort folder.

    Raises
    ------
    PsmaRweError
        With every problem found (file, row, column, what was expected).
    """
    from analysis.validate import validate_frames

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PsmaRweError(f"{data_dir}: not a folder; expected a folder with the four CSV files")
    frames = {}
    problems: list[Problem] = []
    for name in config.INPUT_FILES:
        frame, found = read_raw(data_dir / name)
        frames[name] = frame
        problems += found
    return validate_frames(frames, data_dir, problems)
