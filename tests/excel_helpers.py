"""Write test workbooks (openpyxl) from the CSV files of a cohort folder."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from analysis import config

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def typed(cell: str):
    """A CSV cell as a person would type it in Excel: dates, numbers and booleans typed."""
    if DATE.match(cell):
        return dt.date.fromisoformat(cell)
    if NUMBER.match(cell):
        return int(cell) if "." not in cell else float(cell)
    if cell in ("true", "false"):
        return cell == "true"
    return cell if cell != "" else None


def read_sheets(data_dir: Path) -> dict[str, list[list]]:
    """``{sheet name: rows}`` of the four CSV files, cells typed (see :func:`typed`)."""
    sheets = {}
    for name in config.INPUT_FILES:
        with (data_dir / name).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        sheets[name.removesuffix(".csv")] = [rows[0]] + [[typed(c) for c in r] for r in rows[1:]]
    return sheets


def write_workbook(
    sheets: dict[str, list[list]],
    path: Path,
    edit: Callable | None = None,
) -> Path:
    """Write ``sheets`` to ``path``; ``edit(workbook)`` may change it before it is saved."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
        for cells in ws.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
    if edit is not None:
        edit(book)
    book.save(path)
    return path
