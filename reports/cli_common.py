"""Command-line pieces shared by every command that reads a user's panel or share file.

``add_reader_arguments(parser)`` declares ``--sep``, ``--encoding``, ``--sheet`` and
``--skiprows``; ``reader_options(args)`` returns them as the keyword arguments of
:func:`robocarbon.empirics.data.read_table` (and so of ``load_panel``, the shift-share and
build-panel readers). ``print_dropped(...)`` prints how many rows were dropped and why.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from robocarbon.empirics.data import describe_dropped


def _skiprows(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of lines, got {text!r}") from None
    if v < 0 or v > 10_000_000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10000000, got {v}")
    return v


def add_reader_arguments(parser: argparse.ArgumentParser, *, what: str = "the data file") -> None:
    """Declare the reader options (one group, the same on every command)."""
    g = parser.add_argument_group(
        "reading the input files",
        f"options for {what} (and every other table the command reads). A lone '.' cell "
        "(Stata's missing value) is always read as missing; rows in messages are numbered as in "
        "a spreadsheet (header = row 1).")
    g.add_argument("--sep", default=None, metavar="SEP",
                   help="field separator of CSV/text files (default ','; '\\t' or 'tab', ';', "
                        "'whitespace')")
    g.add_argument("--encoding", default=None, metavar="ENC",
                   help="text encoding of CSV files (default UTF-8; Chinese yearbooks are often "
                        "gb18030 or gbk)")
    g.add_argument("--sheet", default=None, metavar="NAME",
                   help="Excel sheet name or 0-based number (default: the first sheet)")
    g.add_argument("--skiprows", default=0, type=_skiprows, metavar="N",
                   help="lines (rows, in Excel) above the header to skip, e.g. a title (default 0)")


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reader options of parsed ``args`` as keyword arguments for ``read_table``/
    ``load_panel`` (unset options left out)."""
    out: dict[str, Any] = {}
    for k in ("sep", "encoding", "sheet"):
        v = getattr(args, k, None)
        if v not in (None, ""):
            out[k] = v
    skip = getattr(args, "skiprows", 0) or 0
    if skip:
        out["skiprows"] = int(skip)
    return out


def print_dropped(*sources: Any, file=None) -> list[str]:
    """Print (to stderr by default) one line per reason rows were dropped, from a loaded
    DataFrame's ``attrs["dropped"]``, a Result's ``diagnostics["dropped"]``/``nobs_dropped``, a
    list of ``{"reason", "rows"}`` records or a ``{reason: count}`` mapping. Returns the lines."""
    out = sys.stderr if file is None else file
    lines: list[str] = []
    for s in sources:
        lines.extend(describe_dropped(s))
    for line in lines:
        print(line, file=out)
    return lines
