"""The one error type for bad input: it names the file, the column and the offending rows."""

from __future__ import annotations

from collections.abc import Sequence


class InputError(ValueError):
    """Bad user input (a data file, a formula, an option).

    The message always says what is wrong; where known it names the file, the column and the
    first offending rows. Rows are numbered as a spreadsheet user sees the file: the header is
    row 1, so the first data row is row 2 (row ``skiprows + 2`` when lines above the header are
    skipped; Parquet and Stata files are numbered as if written out as CSV with a header); see
    :func:`robocarbon.empirics.data.file_rows`. Where rows have no position in a file, ``rows``
    holds entity or entity/time labels instead. The command line turns the error into
    ``error: ...`` on stderr and exit status 2, and writes no output.
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
            word = "row" if len(self.rows) == 1 else "rows"
            parts.append(f"{word} {shown}{more}")
        where = ("; ".join(parts) + ": ") if parts else ""
        super().__init__(where + message)
        self.message = message
