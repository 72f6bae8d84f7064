"""Writing output files atomically, with the permissions a plain write would give.

CSV files go through :func:`csv_text`, which neutralises cells a spreadsheet
would run as a formula.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Leading characters that make a spreadsheet read a cell as a formula (OWASP,
#: "CSV Injection"): such a text cell is written with a leading single quote.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: A plain decimal number ("-37.2", "1e-05"): data, never a formula, left as it is.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@functools.cache
def _umask() -> int:
    """The process umask (read from /proc where possible; os.umask has to set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place.

    ``mkstemp`` creates the temporary file readable by its owner only; it is
    given the mode a plain ``open(path, "w")`` would (0o666 less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_atomic` of ``text`` as UTF-8."""
    write_atomic(path, text.encode("utf-8"))


def neutralise_cell(value):
    """``value`` with a ``'`` in front if it is text a spreadsheet would run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
    prefixed, unless it is a plain number (a negative change such as ``-37.2``
    written as text); anything else, numbers included, is returned unchanged.
    """
    formula = isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)
    if formula and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(frame: pd.DataFrame, **to_csv) -> str:
    """``frame`` as CSV text (no index, ``\\n`` line ends) with every text cell neutralised.

    The one way the tool writes CSV.  Numeric and boolean columns are written
    as pandas writes them; ``to_csv`` are further :meth:`pandas.DataFrame.to_csv`
    options (e.g. ``float_format``).
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (is_numeric_dtype(values) or is_bool_dtype(values)):
            safe[column] = values.map(neutralise_cell)
    return safe.to_csv(index=False, lineterminator="\n", **to_csv)
