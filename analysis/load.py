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
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import config
from analysis.errors import Problem, PsmaRweError

# Re-exported: the rest of the package imports these from here.
from analysis.records import LINE, Codes, Cohort, lookup, sort_stable, text_codes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONTROL_CHARACTERS",
    "LINE",
    "Codes",
    "Cohort",
    "load_cohort",
    "lookup",
    "parse_raw",
    "read_file_bytes",
    "read_input_bytes",
    "read_raw",
    "sort_stable",
    "text_codes",
]


BOM = b"\xef\xbb\xbf"

#: What :func:`str.strip` removes, less the control characters (which are refused,
#: see :data:`CONTROL_CHARACTERS`, and so must stay in the cell to be seen).
STRIP_CHARACTERS = (
    " \t\n\r\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

#: Characters refused in cells and header names: C0 and C1 control characters other
#: than tab and line ends, DEL, and the bidirectional embeddings, overrides and
#: isolates (which make text display in another order than it is stored).
CONTROL_CHARACTERS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"

_SEPARATOR_NAMES = {";": "';'", "\t": "a tab", "|": "'|'"}


def read_input_bytes(data_dir: Path | str) -> dict[str, bytes]:
    """The bytes of each of :data:`config.INPUT_FILES` in ``data_dir``, each read once.

    For an Excel workbook (``data_dir`` a ``.xlsx`` file, see :mod:`analysis.excel`):
    ``{workbook name: its bytes}``.

    Hash these bytes and pass them to :func:`load_cohort` (``contents=``): the
    cohort is then parsed from exactly the bytes that were hashed, even if a file
    is replaced in between.

    Raises
    ------
    PsmaRweError
        When ``data_dir`` is not a folder, or a file is missing, is a folder, a FIFO
        or another non-regular file, or cannot be read (one problem per file).
    """
    from analysis import excel

    if excel.is_workbook(data_dir):
        return excel.read_workbook_bytes(data_dir)
    data_dir = _folder(data_dir)
    contents, problems = _read_inputs(data_dir)
    if problems:
        n = len(problems)
        raise PsmaRweError(
            f"{data_dir}: {n} problem{'s' if n != 1 else ''} found; the data do not meet the"
            " contract in data/README.md",
            problems,
        )
    return contents


def _folder(data_dir: Path | str) -> Path:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PsmaRweError(
            f"{data_dir}: not a folder; expected a folder with the four CSV files or an .xlsx"
            " workbook"
        )
    return data_dir


def _read_inputs(data_dir: Path) -> tuple[dict[str, bytes], list[Problem]]:
    contents: dict[str, bytes] = {}
    problems: list[Problem] = []
    for name in config.INPUT_FILES:
        raw, problem = read_file_bytes(data_dir / name)
        if raw is not None:
            contents[name] = raw
        if problem is not None:
            problems.append(problem)
    return contents, problems


def read_file_bytes(path: Path) -> tuple[bytes | None, Problem | None]:
    """The bytes of one input file, or the problem that stops reading it.

    The file is opened without blocking and checked to be a regular file before it
    is read, so that a FIFO in its place is reported rather than waited on.
    """
    name = path.name
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, Problem(name, None, None, f"file not found in {path.parent}")
    except OSError as exc:
        if path.is_dir():  # Windows cannot open a folder
            return None, Problem(
                name, None, None, f"is a folder in {path.parent}; expected a CSV file"
            )
        return None, Problem(name, None, None, f"cannot be read ({exc.strerror or exc})")
    try:
        mode = os.fstat(fd).st_mode
        kind = _not_a_file(mode)
        if kind:
            return None, Problem(
                name, None, None, f"is {kind} in {path.parent}; expected a CSV file"
            )
        with open(fd, "rb", closefd=False) as fh:
            return fh.read(), None
    except OSError as exc:
        return None, Problem(name, None, None, f"cannot be read ({exc.strerror or exc})")
    finally:
        os.close(fd)


def _not_a_file(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_raw(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one CSV file as text cells (:func:`parse_raw` of its bytes)."""
    raw, problem = read_file_bytes(path)
    if raw is None:
        return None, [problem]
    return parse_raw(path.name, raw)


def parse_raw(name: str, raw: bytes) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Parse the bytes of one CSV file (named ``name``) into text cells.

    Every cell is kept as a stripped string (empty for a blank cell) in Unicode
    NFC, so that composed and decomposed spellings of one id are equal; the
    column ``_line`` holds the line number a person sees in an editor.  A
    byte-order mark is accepted, and so is a first line ``sep=,`` as Excel writes
    it (skipped; line numbers still count it).  Returns ``(None, problems)`` when
    the bytes cannot be read as a comma-separated UTF-8 table.  Cells are returned
    as categorical columns (each distinct value stored once), so that the rules
    can work per distinct value.
    """
    import numpy as np
    import pandas as pd

    problem = _encoding_problem(name, raw)
    if problem is not None:
        return None, [problem]
    data = raw[len(BOM) :] if raw.startswith(BOM) else raw
    data, offset, problem = _skip_sep_line(name, data)
    if problem is not None:
        return None, [problem]

    fast = _read_simple(data)
    if fast is not None:
        header, frame = fast
        lines = np.arange(2 + offset, len(frame) + 2 + offset, dtype=np.int64)
        problems = _check_header(name, header, 1 + offset)
        if problems:
            return None, problems
        return _finish(name, header, frame, lines)

    text = data.decode("utf-8")
    if not text.strip():
        return None, [Problem(name, None, None, "file is empty; expected a header row and data")]

    header, records, lines, problems = _records(name, text)
    lines = [line + offset for line in lines]
    problems = [
        Problem(p.file, p.row + offset if p.row else p.row, p.column, p.message) for p in problems
    ]
    header_problems = _separator_problem(name, header, 1 + offset) or _check_header(
        name, header, 1 + offset
    )
    if header_problems or problems:
        return None, header_problems or problems
    if "\x00" in text:
        # pandas 2 hashes a string only up to a NUL ("P1\x00" would count as "P1"), so
        # NUL bytes are refused here, cell by cell, before any frame is built.
        return None, [
            Problem(
                name,
                line,
                header[i] if i < len(header) else None,
                "holds the control character '\\x00'; expected plain text (remove it, e.g."
                " by saving the file again from a spreadsheet)",
            )
            for line, fields in zip(lines, records, strict=True)
            for i, cell in enumerate(fields)
            if "\x00" in cell
        ]
    # dtype=object: a numpy str array would drop trailing NULs (pandas 2)
    frame = pd.DataFrame(records, columns=range(len(header)), dtype=object)
    return _finish(name, header, frame, np.asarray(lines, dtype=np.int64))


def _encoding_problem(name: str, raw: bytes) -> Problem | None:
    """UTF-16 (with or without a byte-order mark), two byte-order marks, invalid UTF-8."""
    save = "save the file as UTF-8 (in Excel: CSV UTF-8)"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        mark = raw[:2].hex(" ").upper()
        return Problem(name, None, None, f"is UTF-16 text (byte-order mark {mark}); {save}")
    if b"\x00" in raw[:4096] and _looks_like_utf16(raw[:4096]):
        return Problem(
            name,
            None,
            None,
            f"looks like UTF-16 text without a byte-order mark (every other byte is 0); {save}",
        )
    if raw.startswith(BOM + BOM):
        return Problem(
            name,
            1,
            None,
            "starts with two byte-order marks (EF BB BF EF BB BF); expected at most one:"
            f" {save} again",
        )
    if not raw.isascii() and not _is_utf8(raw):
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return Problem(name, line, None, "not valid UTF-8 text; save the file as UTF-8")
    return None


def _looks_like_utf16(sample: bytes) -> bool:
    """Most even or most odd bytes are 0 while the others are not (ASCII in UTF-16)."""
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 2:
        return False
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    return max(zero_even, zero_odd) > 0.6 and min(zero_even, zero_odd) < 0.2


def _skip_sep_line(name: str, data: bytes) -> tuple[bytes, int, Problem | None]:
    """Drop a first line ``sep=,`` (Excel's separator hint); refuse another separator."""
    if data[:4].lower() != b"sep=":
        return data, 0, None
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].rstrip(b"\r")
    if first == b"sep=,":
        return (data[end + 1 :] if end >= 0 else b""), 1, None
    hint = first.decode("utf-8", "replace")
    shown = _SEPARATOR_NAMES.get(hint[4:], repr(hint[4:]))
    return (
        data,
        0,
        Problem(
            name,
            1,
            None,
            f"starts with Excel's separator line {hint!r}: the file is separated by {shown},"
            " expected ',' (save it as CSV with commas)",
        ),
    )


def _separator_problem(name: str, header: list[str], line: int) -> list[Problem]:
    """One problem when the header is one field holding another separator."""
    if len(header) != 1:
        return []
    for sep, shown in _SEPARATOR_NAMES.items():
        if sep in header[0]:
            return [
                Problem(
                    name,
                    line,
                    None,
                    f"the header is separated by {shown}, expected ',' (save the file as"
                    " CSV with commas)",
                )
            ]
    return []


def _finish(
    name: str, header: list[str], frame: pd.DataFrame, lines
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Contract columns of a frame with positional columns, cleaned, with ``_line``."""
    problems = _unnamed_columns(name, header, frame, lines)
    if problems:
        return None, problems
    wanted = list(config.COLUMNS[name])
    wanted += [c for c in config.OPTIONAL_PRESENT_COLUMNS[name] if c in header]
    frame = frame.iloc[:, [header.index(col) for col in wanted]]
    frame.columns = wanted
    frame = frame.assign(**{col: _clean_categories(frame[col]) for col in wanted})
    frame[LINE] = lines
    return frame, []


def _unnamed_columns(name: str, header: list[str], frame: pd.DataFrame, lines) -> list[Problem]:
    """Columns without a name are accepted when empty (Excel's trailing ``,,``)."""
    import numpy as np

    problems = []
    for i, col in enumerate(header):
        if col != "":
            continue
        filled = np.flatnonzero(_clean_categories(frame.iloc[:, i]).to_numpy() != "")
        if len(filled):
            problems.append(
                Problem(
                    name,
                    int(lines[filled[0]]),
                    None,
                    f"column number {i + 1} has no name in the header but holds data"
                    f" (in {len(filled)} row{'s' if len(filled) != 1 else ''}); expected a"
                    " name for every column with data",
                )
            )
    return problems


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


def _clean_categories(column: pd.Series) -> pd.Series:
    """Cells stripped (not of control characters) and in NFC, computed once per value."""
    import pandas as pd

    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("category")
    cat = column.array
    clean = cat.categories.str.strip(STRIP_CHARACTERS)
    if not all(str(v).isascii() for v in clean):  # Series.str.isascii needs pandas 3
        clean = clean.str.normalize("NFC")
    if clean.equals(cat.categories):
        return column
    codes, uniques = pd.factorize(clean)
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


def _check_header(name: str, header: list[str], line: int = 1) -> list[Problem]:
    """Identifier columns, control characters, duplicate and missing columns."""
    from analysis.identifiers import identifier_category

    problems = []
    for col in header:
        control = re.search(CONTROL_CHARACTERS, col)
        if control:
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    f"the column name holds the control character {control[0]!r};"
                    " expected plain text",
                )
            )
        found = identifier_category(col) if col not in config.COLUMNS[name] else None
        if found:
            category, term = found
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    f"looks like a direct identifier ({term!r}: HIPAA Safe Harbor category"
                    f" {category}); remove this column: the pipeline accepts de-identified"
                    " data only",
                )
            )
    from analysis.identifiers import normalised_name

    optional = {normalised_name(c): c for c in config.OPTIONAL_PRESENT_COLUMNS[name]}
    for col in header:
        meant = optional.get(normalised_name(col))
        if meant and col != meant:
            # Read only when spelled exactly: a variant would be dropped without a word.
            problems.append(
                Problem(
                    name,
                    line,
                    col,
                    f"found the column name {col!r}; expected it written {meant}"
                    " (column names are matched exactly)",
                )
            )
    seen = set()
    for col in header:
        if col in seen and col != "":
            problems.append(Problem(name, line, col, "column appears twice in the header"))
        seen.add(col)
    for col in config.COLUMNS[name]:
        if col not in header:
            expected = ", ".join(config.COLUMNS[name])
            problems.append(
                Problem(
                    name, line, col, f"required column is missing; expected columns: {expected}"
                )
            )
    return problems


def load_cohort(data_dir: Path | str, contents: Mapping[str, bytes] | None = None) -> Cohort:
    """Read, validate and type the four files of a cohort folder.

    Parameters
    ----------
    data_dir : path
        The cohort folder (recorded as :attr:`Cohort.source`), or an ``.xlsx`` workbook
        with one sheet per file (:func:`analysis.excel.load_workbook`).
    contents : mapping of file name to bytes, optional
        The files' bytes as :func:`read_input_bytes` returned them: parsed instead of
        reading the files again, so that the cohort is exactly what was hashed.  A
        file missing from it is a problem, as a missing file is.

    Raises
    ------
    PsmaRweError
        With every problem found (file, row, column, what was expected).
    """
    from analysis import excel
    from analysis.validate import validate_frames

    if excel.is_workbook(data_dir):
        return excel.load_workbook(data_dir, contents)
    if contents is None:
        data_dir = _folder(data_dir)
        contents, problems = _read_inputs(data_dir)
    else:
        data_dir = Path(data_dir)
        problems = [
            Problem(name, None, None, "no bytes given for this file; expected its contents")
            for name in config.INPUT_FILES
            if name not in contents
        ]
    frames = {}
    for name in config.INPUT_FILES:
        if name not in contents:
            frames[name] = None
            continue
        frame, found = parse_raw(name, contents[name])
        frames[name] = frame
        problems += found
    return validate_frames(frames, data_dir, problems)
