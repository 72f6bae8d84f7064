"""Writing output files atomically, with the permissions a plain write would give."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


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
