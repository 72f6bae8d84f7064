"""The project's one exception type and the problem records it carries."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.config import MAX_PROBLEMS


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\x07``, ``\\u202e``).

    Header names and cells can hold control characters (a bell, an escape sequence,
    a right-to-left override); printed as they are they would act on the terminal
    or reorder the line.  Spaces stay; tabs and line breaks are escaped too.
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input.

    Parameters
    ----------
    file : str
        File name, e.g. ``"doses.csv"``.
    row : int or None
        The line number a person sees in an editor or spreadsheet (the header
        is line 1, so the first data row is line 2); ``None`` for a problem
        with the whole file.
    column : str or None
        Column name; ``None`` for a problem with a whole row or file.
    message : str
        What was found and what was expected.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        parts = [printable(self.file)]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {printable(self.column)}")
        return f"{', '.join(parts)}: {printable(self.message)}"


class PsmaRweError(Exception):
    """Every error the project raises on purpose.

    Carries a list of :class:`Problem` for data errors; the message lists at
    most ``MAX_PROBLEMS`` of them and says how many more there were.
    """

    exit_code = 2

    def __init__(
        self, summary: str, problems: list[Problem] | None = None, total: int | None = None
    ):
        self.summary = summary
        self.problems = list(problems or [])
        #: How many problems there were, including any not kept in ``problems``.
        self.total = max(total or 0, len(self.problems))
        super().__init__(self.render())

    def render(self, limit: int = MAX_PROBLEMS) -> str:
        # The summary may span lines; every other character is made printable.
        lines = ["\n".join(printable(line) for line in self.summary.split("\n"))]
        shown = self.problems[:limit]
        lines += [f"  - {p}" for p in shown]
        more = self.total - len(shown)
        if more > 0:
            lines.append(f"  ... and {more} more problem{'s' if more != 1 else ''}")
        return "\n".join(lines)


def os_error_message(exc: OSError) -> str:
    """``Permission denied: '/path'`` — an OSError in one line, without the errno prefix."""
    what = exc.strerror or str(exc) or type(exc).__name__
    where = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{what}: {' → '.join(repr(w) for w in where)}" if where else what
