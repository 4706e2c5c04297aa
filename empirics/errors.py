"""The one error type for bad input: it names the file, the column and the offending rows."""

from __future__ import annotations

from collections.abc import Sequence


class InputError(ValueError):
    """Bad user input (a data file, a formula, an option).

    The message always says what is wrong; where known it names the file, the column and the
    first offending rows (as 1-based data rows of the file, or entity/time labels). The command
    line turns it into ``error: ...`` on stderr and exit status 2, and writes no output.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence | None = None,
        max_rows: int = 5,
    ) -> None:
        self.file = file
        self.column = column
        self.rows = list(rows) if rows is not None else None
        parts = []
        if file is not None:
            parts.append(f"file {file!s}")
        if column is not None:
            parts.append(f"column {column!r}")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:max_rows])
            more = f" and {len(self.rows) - max_rows} more" if len(self.rows) > max_rows else ""
            parts.append(f"rows {shown}{more}")
        where = ("; ".join(parts) + ": ") if parts else ""
        super().__init__(where + message)
        self.message = message
