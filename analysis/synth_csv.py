"""The synthetic cohort's CSV files, written fast (:func:`analysis.synth.write_synthetic`).

Every column of a generated frame is already text; a chunk of rows is joined
with commas directly, and only a chunk that holds a comma, quote or line
break in a cell goes through the :mod:`csv` module, so the bytes are those
``csv.writer`` gives.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pandas as pd

CHUNK_ROWS = 500_000


def csv_chunks(frame: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The frame as UTF-8 CSV (header, ``\\n`` line endings, no index), in pieces.

    Cells are quoted only when they need it, as the :mod:`csv` module does.
    """
    cols = list(frame.columns)
    yield (
        _csv_text([cols]) if _needs_quoting(",".join(cols), 1, len(cols)) else ",".join(cols) + "\n"
    ).encode("utf-8")
    for start in range(0, len(frame), chunk_rows):
        part = [frame[c].iloc[start : start + chunk_rows].tolist() for c in cols]
        rows = len(part[0])
        text = "\n".join(map(",".join, zip(*part, strict=True)))
        if _needs_quoting(text, rows, len(cols)):
            text = _csv_text(zip(*part, strict=True))
        else:
            text += "\n"
        yield text.encode("utf-8")


def _needs_quoting(text: str, rows: int, n_cols: int) -> bool:
    return (
        text.count(",") != rows * (n_cols - 1)
        or text.count("\n") != rows - 1
        or '"' in text
        or "\r" in text
    )


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
