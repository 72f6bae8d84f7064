"""Read a cohort from an Excel workbook (``.xlsx``) instead of a folder of CSV files.

The workbook holds one sheet per input file, named like the file with or without
``.csv`` (``patients`` or ``patients.csv``; case and surrounding spaces are ignored).
Other sheets are ignored, as extra columns are.  Each sheet is turned into exactly
what :func:`analysis.load.parse_raw` makes of a CSV file (text cells and the row
number a person sees, here the spreadsheet's own row), so that every rule and
message of :mod:`analysis.validate` applies unchanged; problems are then renamed
to the sheet and the spreadsheet column: ``cohort.xlsx: doses, row 7, column C
(dose_date)``.

Cells are turned into text as a CSV export would write them:

- dates and date-formatted numbers become ``YYYY-MM-DD``; a date with a time of
  day other than midnight, a time of day and a duration are refused;
- whole numbers stored as floats become ``7`` (not ``7.0``), other numbers their
  shortest exact decimal; numbers stored as text stay as typed (``<0.1`` too);
- booleans become ``true`` / ``false``;
- a formula cell gives the value Excel last calculated and saved with the file
  (a workbook written by a program that calculates nothing has none: blank), and an
  error value (``#N/A``, ``#DIV/0!``) reads as a blank cell.

The workbook is read from bytes (:func:`read_workbook_bytes`, once), so that a
build hashes and parses the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path

from analysis import config
from analysis.errors import Problem, PsmaRweError
from analysis.records import Cohort

#: The one workbook format accepted.
WORKBOOK_SUFFIX = ".xlsx"

#: Other spreadsheet formats, refused with what to do instead.
OTHER_SPREADSHEETS = {
    ".xlsm": "a macro-enabled Excel workbook (.xlsm)",
    ".xlsb": "a binary Excel workbook (.xlsb)",
    ".xls": "an Excel 97-2003 workbook (.xls)",
    ".ods": "an OpenDocument spreadsheet (.ods)",
}

_SAVE_AS = "save it as Excel Workbook (.xlsx)"
_ZIP_MAGIC = b"PK\x03\x04"
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: .xls, encrypted .xlsx


def is_workbook(path: Path | str) -> bool:
    """Whether ``path`` names a spreadsheet file (by its suffix) rather than a folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    return (suffix == WORKBOOK_SUFFIX or suffix in OTHER_SPREADSHEETS) and not path.is_dir()


def read_workbook_bytes(path: Path | str) -> dict[str, bytes]:
    """``{workbook name: bytes}``, read once; refuses formats other than ``.xlsx``."""
    from analysis.load import read_file_bytes

    path = Path(path)
    kind = OTHER_SPREADSHEETS.get(path.suffix.lower())
    if kind:
        raise PsmaRweError(
            f"{path}: is {kind}; expected an .xlsx workbook: open it in Excel or LibreOffice"
            f" and {_SAVE_AS}"
        )
    raw, problem = read_file_bytes(path)
    if raw is None:
        problem = Problem(problem.file, None, None, problem.message.replace("CSV file", "workbook"))
        raise PsmaRweError(f"{path}: cannot read the workbook", [problem])
    return {path.name: raw}


def load_workbook(path: Path | str, contents: Mapping[str, bytes] | None = None) -> Cohort:
    """Read, validate and type the four sheets of a workbook (see the module notes).

    ``contents`` is what :func:`read_workbook_bytes` returned: parsed instead of
    reading the file again.
    """
    from analysis.validate import validate_frames

    path = Path(path)
    if contents is None:
        contents = read_workbook_bytes(path)
    if path.name not in contents:
        raise PsmaRweError(f"{path}: no bytes given for the workbook; expected its contents")
    frames, problems, sheets = parse_workbook(path.name, contents[path.name])
    cells = {(p.file, p.row, _letter(p.column)) for p in problems if p.row and p.column}
    try:
        return validate_frames(frames, path, problems)
    except PsmaRweError as exc:
        renamed = [_rename(p, sheets) for p in exc.problems]
        kept = [
            p for p in renamed if p in problems or (p.file, p.row, _letter(p.column)) not in cells
        ]
        total = exc.total - (len(renamed) - len(kept))
        stems = (n.removesuffix(".csv") for n in config.INPUT_FILES)
        order = {f"{path.name}: {stem}": i for i, stem in enumerate(stems)}
        order.update({label: config.INPUT_FILES.index(n) for n, (label, _) in sheets.items()})
        kept.sort(key=lambda p: (order.get(p.file, 9), p.row or 0))
        summary = exc.summary
        if total != exc.total:
            summary = summary.replace(f": {exc.total} problem", f": {total} problem", 1)
        raise PsmaRweError(summary, kept, total=total) from None


def _letter(column: str | None) -> str:
    """``C`` of ``C (dose_date)``."""
    return (column or "").split(" ")[0]


def column_letter(index: int) -> str:
    """Spreadsheet column of a 0-based index: 0 → ``A``, 25 → ``Z``, 26 → ``AA``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _rename(problem: Problem, sheets: dict[str, tuple[str, list[str]]]) -> Problem:
    """A problem of the CSV rules named after the sheet and the spreadsheet column."""
    if problem.file not in sheets:
        return problem
    label, header = sheets[problem.file]
    column = problem.column
    if column is not None and column in header:
        column = f"{column_letter(header.index(column))} ({column})"
    message = problem.message
    for name in config.INPUT_FILES:  # "is not in patients.csv;" and the like
        message = message.replace(f"in {name};", f"in the {name.removesuffix('.csv')} sheet;")
    return Problem(label, problem.row, column, message)


def _open(workbook: str, raw: bytes):
    """The calamine workbook, or an error saying why the bytes are not an .xlsx file."""
    import python_calamine

    if raw.startswith(_CFB_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in raw:
            raise PsmaRweError(
                f"{workbook}: is password-protected (encrypted); expected a workbook without a"
                " password: in Excel remove it (File > Info > Protect Workbook > Encrypt with"
                " Password, clear the password) and save again"
            )
        raise PsmaRweError(
            f"{workbook}: is an Excel 97-2003 (.xls) file with an .xlsx name; {_SAVE_AS}"
        )
    if not raw.startswith(_ZIP_MAGIC):
        what = "is empty" if not raw else "is not an .xlsx workbook (not a ZIP archive)"
        raise PsmaRweError(f"{workbook}: {what}; expected an Excel workbook: {_SAVE_AS}")
    try:
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except python_calamine.PasswordError:
        raise PsmaRweError(
            f"{workbook}: is password-protected; expected a workbook without a password"
        ) from None
    except Exception as exc:  # calamine's errors (zip, XML) have no common base
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PsmaRweError(
            f"{workbook}: cannot be read as an .xlsx workbook ({reason}); the file may be"
            f" damaged: open it in Excel and {_SAVE_AS} again"
        ) from None


def parse_workbook(workbook: str, raw: bytes):
    """Frames as :func:`analysis.load.parse_raw` makes them, one per input file.

    Returns ``(frames, problems, sheets)``: frames keyed by CSV file name (``None``
    when the sheet is missing or cannot be used), the problems found while reading
    (already named after the sheet), and for each sheet read its label
    (``"cohort.xlsx: doses"``) and header, to rename the problems of the rules.
    """
    book = _open(workbook, raw)
    names = book.sheet_names
    frames: dict[str, object] = {}
    problems: list[Problem] = []
    sheets: dict[str, tuple[str, list[str]]] = {}
    try:
        for name in config.INPUT_FILES:
            stem = name.removesuffix(".csv")
            found = [s for s in names if s.strip().casefold() in (stem, name)]
            frames[name] = None
            if not found:
                listed = ", ".join(repr(s) for s in names)
                problems.append(
                    Problem(
                        f"{workbook}: {stem}",
                        None,
                        None,
                        f"sheet not found (the workbook has {listed}); expected a sheet named"
                        f" {stem!r} or {name!r}",
                    )
                )
                continue
            if len(found) > 1:
                problems.append(
                    Problem(
                        f"{workbook}: {stem}",
                        None,
                        None,
                        f"{len(found)} sheets match: {', '.join(repr(s) for s in found)};"
                        " expected exactly one",
                    )
                )
                continue
            label = f"{workbook}: {found[0]}"
            try:
                sheet = book.get_sheet_by_name(found[0])
                rows = sheet.to_python(skip_empty_area=False)
                merged = sheet.merged_cell_ranges or []
            except Exception as exc:
                problems.append(Problem(label, None, None, f"cannot be read ({exc})"))
                continue
            frame, header, found_problems = _sheet_frame(name, label, rows, merged)
            frames[name] = frame
            problems += found_problems
            if header is not None:
                sheets[name] = (label, header)
    finally:
        book.close()
    return frames, problems, sheets


def _sheet_frame(name: str, label: str, rows: list[list], merged):
    """One sheet as :func:`analysis.load._finish` returns a CSV file's frame."""
    import numpy as np
    import pandas as pd

    from analysis.load import _check_header, _finish

    cells: list[list[str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    header: list[str] | None = None
    header_row = 0
    for i, row in enumerate(rows):
        converted = [_cell_text(value) for value in row]
        text = [t for t, _ in converted]
        if not any(t.strip() for t in text):
            continue  # blank rows are skipped, as blank lines of a CSV file are
        if header is None:
            header, header_row = [t.strip() for t in text], i + 1
        else:
            cells.append(text)
            lines.append(i + 1)
        for j, (_, wrong) in enumerate(converted):
            if wrong:
                column = column_letter(j) if header_row == i + 1 else _column(header, j)
                problems.append(Problem(label, i + 1, column, wrong))
    if header is None:
        return None, None, [Problem(label, None, None, "sheet is empty; expected a header row")]
    # Cells that cannot be used are reported here and then go through the rules as
    # their text (a date with a time as its date): the sheet's other problems are
    # found too, and a rule's problem with the same cell is dropped (load_workbook).
    header_problems = _blank_headers(label, header, header_row, cells, lines, merged)
    header_problems = header_problems or _check_header(name, header, header_row)
    if header_problems:
        return None, header, problems + header_problems
    frame = pd.DataFrame(cells, columns=range(len(header)), dtype=str)
    frame, found = _finish(name, header, frame, np.asarray(lines, dtype=np.int64))
    return frame, header, problems + found


def _column(header: list[str], j: int) -> str:
    """``C (dose_date)``, or ``C`` when the header cell is blank."""
    name = header[j] if j < len(header) else ""
    return f"{column_letter(j)} ({name})" if name else column_letter(j)


def _blank_headers(label, header, header_row, cells, lines, merged) -> list[Problem]:
    """A blank header cell above data (one above nothing is fine, as in a CSV file)."""
    spans = {}
    for (r0, c0), (r1, c1) in merged:
        if r0 <= header_row - 1 <= r1 and c1 > c0:
            for c in range(c0 + 1, c1 + 1):
                spans[c] = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1}"
    problems = []
    for j, name in enumerate(header):
        if name != "":
            continue
        filled = [lines[k] for k, row in enumerate(cells) if row[j].strip()]
        if not filled:
            continue
        n = len(filled)
        holds = f"the column holds data (in {n} row{'s' if n != 1 else ''}, first row {filled[0]})"
        if j in spans:
            message = (
                f"the header cell is part of the merged cells {spans[j]} but {holds}; expected"
                " one column name in each header cell (unmerge the cells and name each column)"
            )
        else:
            message = f"the header cell is blank but {holds}; expected a column name"
        problems.append(Problem(label, header_row, column_letter(j), message))
    return problems


def _cell_text(value) -> tuple[str, str | None]:
    """One cell as a CSV export writes it, and why it cannot be used (see the module notes)."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value)), None
        return repr(value), None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat(), None
        return value.date().isoformat(), (
            f"holds a date with a time of day ({value:%Y-%m-%d %H:%M:%S}); expected a date only:"
            " remove the time or format the cell as a date (YYYY-MM-DD)"
        )
    if isinstance(value, dt.date):
        return value.isoformat(), None
    if isinstance(value, dt.time | dt.timedelta):
        what = "a time of day" if isinstance(value, dt.time) else "a duration"
        return str(value), f"holds {what} ({value}); expected a date (YYYY-MM-DD), a number or text"
    return ("" if value is None else str(value)), None
