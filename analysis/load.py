"""Read a cohort folder into validated, typed frames.

:func:`load_cohort` is the only entry point the rest of the package uses.  It
reads the four CSV files as text (so that every cell can be checked and
reported with its line number), hands them to :mod:`analysis.validate`, and
returns a frozen :class:`Cohort`.  Input files are opened read-only and never
written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import config
from analysis.errors import Problem, PsmaRweError

# Re-exported: the rest of the package imports these from here.
from analysis.records import LINE, Codes, Cohort, lookup, sort_stable, text_codes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LINE",
    "Codes",
    "Cohort",
    "load_cohort",
    "lookup",
    "read_raw",
    "sort_stable",
    "text_codes",
]


def read_raw(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one CSV file as text cells.

    Every cell is kept as a stripped string (empty for a blank cell); the
    column ``_line`` holds the line number a person sees in an editor.  A
    byte-order mark is accepted.  Returns ``(None, problems)`` when the file
    cannot be read as a table.  Cells are returned as categorical columns (each
    distinct value stored once), so that the rules can work per distinct value.
    """
    import numpy as np
    import pandas as pd

    name = path.name
    if not path.is_file():
        return None, [Problem(name, None, None, f"file not found in {path.parent}")]
    raw = path.read_bytes()
    if not raw.isascii() and not _is_utf8(raw):
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return None, [Problem(name, line, None, "not valid UTF-8 text; save the file as UTF-8")]

    fast = _read_simple(raw)
    if fast is not None:
        header, frame = fast
        problems = _check_header(name, header)
        if problems:
            return None, problems
        frame.columns = header
        frame = frame[list(config.COLUMNS[name])]
        for col in frame.columns:
            frame[col] = _strip_categories(frame[col])
        frame[LINE] = np.arange(2, len(frame) + 2, dtype=np.int64)
        return frame, []

    text = raw.decode("utf-8-sig")
    if not text.strip():
        return None, [Problem(name, None, None, "file is empty; expected a header row and data")]

    header, records, lines, problems = _records(name, text)
    problems = _check_header(name, header) or problems
    if problems:
        return None, problems
    frame = pd.DataFrame(records, columns=header, dtype=str)
    frame = frame[list(config.COLUMNS[name])]
    for col in frame.columns:
        frame[col] = frame[col].str.strip().astype("category")
    frame[LINE] = pd.Series(lines, index=frame.index, dtype="int64")
    return frame, []


def _is_utf8(raw: bytes, chunk: int = 1 << 24) -> bool:
    """Whether ``raw`` is valid UTF-8, checked piece by piece (no decoded copy)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for start in range(0, len(view), chunk):
            decoder.decode(view[start : start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_simple(raw: bytes) -> tuple[list[str], pd.DataFrame] | None:
    """Fast path of :func:`read_raw` for the common, simple file; ``None`` otherwise.

    Applies when the file (UTF-8) has no NUL character, no carriage return but in
    CRLF line ends, no cell holding a comma, a quote or a line break (cells may be
    wrapped in quotes), and every line after the header has exactly as many fields
    as the header: then each line is one record, its commas separate the fields,
    pandas' C parser reads the same cells as :func:`_records` and the record on
    line ``i`` is row ``i - 2``.  Anything else (blank lines, a field-count
    mismatch, quotes within a cell, a very long field, header only) returns
    ``None`` and goes through the ``csv`` module, which names the line of each
    problem.  Cells come back as categoricals (unstripped).
    """
    import pandas as pd

    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    if b"\x00" in data:
        return None
    quoted = b'"' in data
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None  # a carriage return that does not end a line (CRLF files are fine)
    end = data.find(b"\n")
    if end < 0:
        return None
    first = data[:end].decode("utf-8")
    fields = next(csv.reader([first])) if quoted and first.count('"') % 2 == 0 else None
    if quoted and (fields is None or any(_special(h) for h in fields)):
        return None
    header = [h.strip() for h in (fields if quoted else first.split(","))]
    start = end + 1
    if len(header) < 2 or start >= len(data):
        return None
    n_lines = data.count(b"\n", start) + (0 if data.endswith(b"\n") else 1)
    # No line has more fields than the header (the C parser raises otherwise, and
    # the frame's width is that of the first record), and no cell holds a comma
    # (checked below), so equal totals mean that every line has exactly
    # len(header) fields: no blank and no short lines.
    if data.count(b",", start) != n_lines * (len(header) - 1):
        return None
    options = {
        "header": None,
        "skiprows": 1,
        "na_filter": False,
        "skip_blank_lines": False,
        "quoting": csv.QUOTE_MINIMAL,
        "encoding": "utf-8",
        "engine": "c",
    }
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype="category", **options)
        if frame.shape != (n_lines, len(header)):
            return None
        # pandas turns categories that all look like numbers or booleans into
        # numbers or booleans ("1" and "01" would both become 1): read those
        # columns again as text.
        numeric = [col for col in frame.columns if frame[col].cat.categories.dtype != "str"]
        if numeric:
            text = pd.read_csv(io.BytesIO(data), dtype=str, usecols=numeric, **options)
            if len(text) != n_lines:
                return None
            for col in numeric:
                codes, uniques = pd.factorize(text[col])
                frame[col] = pd.Categorical.from_codes(codes, categories=uniques)
    except (ValueError, UnicodeDecodeError):  # pandas' ParserError is a ValueError
        return None
    limit = csv.field_size_limit()
    for col in frame.columns:
        cats = frame[col].cat.categories
        if len(cats) and int(cats.str.len().max()) >= limit:
            return None
        if quoted and any(_special(c) for c in cats):
            return None
    return header, frame


def _special(cell: str) -> bool:
    """A cell the fast path cannot place: it holds a comma, a quote or a line break."""
    return any(c in cell for c in ',"\r\n')


def _strip_categories(column: pd.Series) -> pd.Series:
    """``str.strip`` of every cell of a categorical column, computed once per value."""
    import pandas as pd

    cat = column.array
    stripped = cat.categories.str.strip()
    if stripped.equals(cat.categories):
        return column
    codes, uniques = pd.factorize(stripped)
    new = pd.Categorical.from_codes(codes[cat.codes], categories=uniques)
    return pd.Series(new, index=column.index, name=column.name)


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
