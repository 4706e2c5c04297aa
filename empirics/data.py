"""Panel data: the one reader of user files (CSV, Parquet, Stata .dta, Excel), validation,
lags and leads.

Every command that reads a panel or a share file goes through :func:`read_table` (directly or via
:func:`load_panel`), with the same reader options (``sep``, ``encoding``, ``sheet``,
``skiprows``) and the same checks: duplicate column names (read from the raw header, before pandas
renames the second ``x`` to ``x.1``), names that collide once blanks are stripped, a header
without data rows, undecodable bytes. A lone ``.`` cell (Stata's missing value) is read as
missing, in every format.

Every validation failure is an :class:`~robocarbon.empirics.errors.InputError` naming the file,
the column and the first offending rows. **Rows are numbered as a spreadsheet user sees them**:
the header is row 1 (after the ``skiprows`` lines skipped above it), so the first data row is
row 2 (row ``skiprows + 2``). Empty lines count, as they do in a spreadsheet. For Parquet and
Stata files, which have no header line, the same numbers are used: the first record is row 2,
as if the table were written out as CSV. A DataFrame not read from a file is numbered the same
way from its first row (row 2). :func:`file_rows` turns a mask or positions into these numbers.

Rows removed by a loader are recorded in ``df.attrs["dropped"]`` (a list of ``{"reason",
"rows", "first_rows"}``); :func:`describe_dropped` turns that (or an estimator's own ``dropped``
record) into lines a command prints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

_READERS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".dta": "stata",
    ".xlsx": "excel",
    ".xls": "excel",
    ".xlsm": "excel",
}

#: the spreadsheet row of the first data row of a file with a one-line header
FIRST_ROW = 2

#: the reader options every command accepts (``--sep``, ``--encoding``, ``--sheet``, ``--skiprows``)
READER_OPTIONS = ("sep", "encoding", "sheet", "skiprows")

#: cells read as missing besides pandas' defaults: Stata's "." missing value
MISSING_MARKERS = (".",)

_SEP_ALIASES = {"\\t": "\t", "tab": "\t", "\\s+": r"\s+", "space": r"\s+", "whitespace": r"\s+",
                "comma": ",", "semicolon": ";", "pipe": "|"}


def file_rows(df: pd.DataFrame | None, where) -> list[int]:
    """Spreadsheet row numbers (header = row 1, first data row = row 2, after ``skiprows``) of
    the rows of ``df`` selected by ``where`` (a boolean mask of ``len(df)`` or positions).

    For a frame read by :func:`read_table` the numbers follow its index labels, which are the
    rows' positions in the file, so they stay right after rows are filtered out or sorted (not
    after ``reset_index``)."""
    a = np.asarray(where)
    pos = np.flatnonzero(a) if a.dtype == bool else a.astype(np.int64).ravel()
    first = FIRST_ROW
    labels = pos
    if df is not None:
        first = int(df.attrs.get("first_row", FIRST_ROW))
        if df.attrs.get("row_index") and pd.api.types.is_integer_dtype(df.index.dtype):
            labels = np.asarray(df.index, dtype=np.int64)[pos]
    return (labels + first).tolist()


def _rows(mask: np.ndarray | pd.Series, df: pd.DataFrame | None = None) -> list[int]:
    """Spreadsheet row numbers where ``mask`` is True (see :func:`file_rows`)."""
    return file_rows(df, np.asarray(mask, dtype=bool))


def source_of(df: pd.DataFrame) -> str | None:
    """The file a DataFrame was loaded from (set by :func:`read_table`), if any."""
    return df.attrs.get("source_file")


def record_dropped(df: pd.DataFrame, reason: str, rows: Sequence[int]) -> None:
    """Add ``{"reason", "rows" (count), "first_rows"}`` to ``df.attrs["dropped"]``; ``rows`` are
    spreadsheet row numbers."""
    rows = list(rows)
    if not rows:
        return
    df.attrs.setdefault("dropped", []).append(
        {"reason": reason, "rows": len(rows), "first_rows": rows[:5]})


def describe_dropped(source: Any, *, what: str = "rows") -> list[str]:
    """Lines saying how many rows were dropped and why, for a command to print.

    ``source`` is a DataFrame (its ``attrs["dropped"]``), a :class:`Result`-like object (its
    ``diagnostics["dropped"]`` and ``nobs_dropped``), a list of ``{"reason", "rows"}`` records,
    or a mapping ``{reason: count}`` (nested mappings, as ``{"missing": {"x": 3}}``, are
    flattened to ``missing x``). Returns ``[]`` when nothing was dropped.
    """
    records: list[tuple[str, int, list]] = []

    def add(obj, prefix=""):
        if obj is None:
            return
        if isinstance(obj, pd.DataFrame):
            add(obj.attrs.get("dropped"), prefix)
        elif isinstance(obj, Mapping) and "reason" in obj and "rows" in obj:
            n = obj["rows"]
            n = len(n) if isinstance(n, (list, tuple, pd.DataFrame)) else int(n)
            records.append((prefix + str(obj["reason"]), n, list(obj.get("first_rows") or [])))
        elif isinstance(obj, Mapping):
            for k, v in obj.items():
                if isinstance(v, Mapping | list | tuple):
                    add(v, f"{prefix}{k} ")
                elif isinstance(v, int | np.integer | float) and not isinstance(v, bool):
                    records.append((f"{prefix}{k}".strip(), int(v), []))
        elif isinstance(obj, list | tuple):
            for o in obj:
                add(o, prefix)
        elif hasattr(obj, "diagnostics"):
            d = getattr(obj, "diagnostics", None) or {}
            before = len(records)
            add(d.get("dropped") if isinstance(d, Mapping) else None, prefix)
            total = int(getattr(obj, "nobs_dropped", 0) or 0)
            if len(records) == before and total:
                records.append((prefix + "missing values or singletons", total, []))

    add(source)
    lines = []
    for reason, n, first in records:
        if n <= 0:
            continue
        where = f" (rows {', '.join(map(str, first))}{' ...' if n > len(first) else ''})" if first else ""
        lines.append(f"dropped {n} {what if n != 1 else what.rstrip('s')}: {reason}{where}")
    return lines


def _kind_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".gz", ".bz2", ".zip", ".xz", ".zst") and len(suffixes) >= 2:
        ext = suffixes[-2]
    kind = _READERS.get(ext)
    if kind is None:
        raise InputError(
            f"unknown file type {ext or '(none)'!r}; use .csv, .tsv, .parquet, .dta, .xlsx", file=str(path)
        )
    return kind


def _normalise_sep(sep: str | None, kind: str) -> str:
    if sep is None or sep == "":
        return "\t" if kind == "tsv" else ","
    sep = _SEP_ALIASES.get(sep.lower() if isinstance(sep, str) else sep, sep)
    return sep


def _decode_error(path: Path, encoding: str, exc: UnicodeError) -> InputError:
    where = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
    shown = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8") else encoding
    return InputError(
        f"cannot decode the file as {shown}{where} ({getattr(exc, 'reason', exc)}); give its "
        "encoding with --encoding, e.g. --encoding gb18030 (or gbk) for Chinese statistical "
        "yearbooks, --encoding latin-1 for older Stata/Excel exports",
        file=str(path),
    )


def _check_header(raw: Sequence, path: Path) -> list[str]:
    """Stripped column names; raises on duplicates and on names that collide once stripped."""
    names = []
    for i, c in enumerate(raw):
        if c is None or (isinstance(c, float) and np.isnan(c)):
            names.append(f"Unnamed: {i}")
        elif isinstance(c, float) and float(c).is_integer():
            names.append(str(int(c)))
        else:
            names.append(str(c))
    seen: dict[str, int] = {}
    for i, c in enumerate(names):
        key = c.strip()
        if key == "":
            continue  # blank header cells get distinct "Unnamed: i" names below
        if key in seen:
            j = seen[key]
            a, b = names[j], c
            if a == b:
                msg = (f"duplicate column name {a!r} (columns {j + 1} and {i + 1}); each column "
                       "needs its own name")
            else:
                msg = (f"column names {a!r} and {b!r} (columns {j + 1} and {i + 1}) are the same "
                       "once leading and trailing blanks are removed; rename one")
            raise InputError(msg, file=str(path), column=key, rows=[1])
        seen[key] = i
    return [c.strip() if c.strip() else f"Unnamed: {i}" for i, c in enumerate(names)]


def _mark_missing(df: pd.DataFrame) -> pd.DataFrame:
    """Cells holding only Stata's ``.`` (or only blanks) become missing, in text columns."""
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        try:
            st = s.astype("string").str.strip()
        except (TypeError, ValueError):
            continue
        m = st.isin(MISSING_MARKERS) | (st == "")
        m = m.fillna(False).to_numpy(dtype=bool)
        if m.any():
            s = s.astype(object).where(~m, np.nan)
            conv = pd.to_numeric(s, errors="coerce")
            df[c] = conv if (conv.notna() == s.notna()).all() else s
    return df


def read_table(
    path: str | os.PathLike,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    skiprows: int = 0,
    dtype: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read a user's table by its extension (CSV/TSV, Parquet, Stata .dta, Excel), checked.

    Parameters
    ----------
    path
        The file: ``.csv``/``.txt`` (comma), ``.tsv``/``.tab`` (tab), also compressed
        (``.csv.gz``); ``.parquet``; ``.dta``; ``.xlsx``/``.xls``/``.xlsm``.
    sep
        Field separator of a text file (default ``,``; ``\\t`` for .tsv); ``tab``, ``\\t``,
        ``semicolon``, ``whitespace`` are understood.
    encoding
        Text encoding of a text file (default UTF-8, with or without a byte-order mark); Chinese
        yearbooks are often ``gb18030``/``gbk``.
    sheet
        Excel sheet, by name or 0-based number (default: the first).
    skiprows
        Lines (text) or rows (Excel) above the header to skip, e.g. a title.
    dtype
        Column types passed to the reader (e.g. ``{"code": str}``; text and Excel files).

    Returns
    -------
    pandas.DataFrame
        Column names stripped of surrounding blanks; empty rows removed (recorded in
        ``attrs["dropped"]``); ``attrs``: ``source_file``, ``first_row`` (the spreadsheet row of
        the first data row, ``skiprows + 2``), ``row_index`` (the index holds the rows' positions
        in the file, see :func:`file_rows`), ``reader`` (the options), ``dropped``.

    Raises
    ------
    InputError
        A missing file or a folder, an unknown extension, an option that does not apply to the
        file type, an undecodable file (with a hint to use ``--encoding``), a parse error, an
        empty file or one with only a header, duplicate or colliding column names.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a data file", file=str(path))
    kind = _kind_of(path)
    try:
        skiprows = int(skiprows or 0)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--skiprows must be a whole number, got {skiprows!r}", file=str(path)) from exc
    if skiprows < 0:
        raise InputError(f"--skiprows must be 0 or more, got {skiprows}", file=str(path))
    text = kind in ("csv", "tsv")
    if not text:
        for opt, val in (("sep", sep), ("encoding", encoding)):
            if val not in (None, ""):
                raise InputError(f"--{opt} applies to text files (.csv, .tsv) only, not {kind}",
                                 file=str(path))
    if kind != "excel" and sheet not in (None, ""):
        raise InputError(f"--sheet applies to Excel files only, not {kind}", file=str(path))
    if kind in ("parquet", "stata") and skiprows:
        raise InputError(f"--skiprows applies to text and Excel files only, not {kind}", file=str(path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    if size == 0:
        raise InputError("the file is empty (no header, no data)", file=str(path))
    na = list(MISSING_MARKERS)
    enc = encoding or "utf-8-sig"
    try:
        if text:
            sep_ = _normalise_sep(sep, kind)
            common = dict(sep=sep_, encoding=enc, skiprows=skiprows)
            if sep_ not in (",", "\t", ";", "|") or len(sep_) != 1:
                common["engine"] = "python"
            try:
                head = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                                   **common)
            except pd.errors.EmptyDataError:
                raise InputError("the file is empty (no header, no data)"
                                 + (f" after skipping {skiprows} lines" if skiprows else ""),
                                 file=str(path)) from None
            raw = head.iloc[0].tolist() if len(head) else []
            names = _check_header(raw, path)
            df = pd.read_csv(path, na_values=na, skip_blank_lines=False, index_col=False,
                             dtype=dict(dtype) if dtype else None, **common)
            if len(df.columns) == len(names):
                df.columns = names
        elif kind == "excel":
            sheet_ = 0 if sheet in (None, "") else sheet
            try:
                sheets = pd.ExcelFile(path).sheet_names
            except Exception as exc:
                raise InputError(f"cannot open as an Excel workbook: {type(exc).__name__}: {exc}",
                                 file=str(path)) from exc
            if isinstance(sheet_, str) and sheet_ not in sheets:
                if sheet_.strip().isdigit() and int(sheet_) < len(sheets):
                    sheet_ = int(sheet_)
                else:
                    raise InputError(f"no sheet {sheet_!r}; the workbook has {sheets}", file=str(path))
            if isinstance(sheet_, int) and not 0 <= sheet_ < len(sheets):
                raise InputError(f"no sheet number {sheet_} (0-based); the workbook has {sheets}",
                                 file=str(path))
            raw_df = pd.read_excel(path, sheet_name=sheet_, header=None, skiprows=skiprows,
                                   na_values=na, dtype=object)
            if raw_df.shape[0] == 0:
                raise InputError("the sheet is empty (no header, no data)", file=str(path))
            names = _check_header(raw_df.iloc[0].tolist(), path)
            df = raw_df.iloc[1:].reset_index(drop=True)
            df.columns = names
            df = df.infer_objects()
            for c in df.columns:
                if df[c].dtype == object:
                    conv = pd.to_numeric(df[c], errors="coerce")
                    if (conv.notna() == df[c].notna()).all() and df[c].notna().any():
                        df[c] = conv
            if dtype:
                for c, t in dtype.items():
                    if c in df.columns:
                        df[c] = df[c].astype(t) if t is not str else df[c].map(
                            lambda v: v if pd.isna(v) else (str(int(v)) if isinstance(v, float)
                                                            and v.is_integer() else str(v)))
        elif kind == "parquet":
            import pyarrow.parquet as pq

            names = _check_header(pq.read_schema(path).names, path)
            df = pd.read_parquet(path)
            df.columns = names
        else:
            df = pd.read_stata(path, convert_categoricals=False)
            names = _check_header(list(df.columns), path)
            df.columns = names
    except InputError:
        raise
    except UnicodeError as exc:
        raise _decode_error(path, enc, exc) from exc
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r} (try utf-8, gb18030, gbk, latin-1)",
                         file=str(path)) from exc
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse as {kind}: {exc}; check the separator (--sep) and quoting",
                         file=str(path)) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty (no header, no data)", file=str(path)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # the readers raise many types; report them uniformly
        raise InputError(f"cannot read as {kind}: {type(exc).__name__}: {exc}", file=str(path)) from exc
    df = df.reset_index(drop=True)
    df.attrs.clear()
    first_row = skiprows + FIRST_ROW
    df.attrs.update(source_file=str(path), first_row=first_row, row_index=True,
                    reader={"sep": sep, "encoding": encoding, "sheet": sheet, "skiprows": skiprows},
                    dropped=[])
    if df.shape[0]:
        df = _mark_missing(df)
        empty = df.isna().all(axis=1).to_numpy()
        if empty.any():
            # trailing empty lines are not rows of the table; empty lines inside it are reported
            last = np.flatnonzero(~empty)
            interior = empty & (np.arange(len(df)) < (last[-1] if last.size else 0))
            rows = file_rows(df, interior)
            df = df.loc[~empty]
            record_dropped(df, "empty row (no values)", rows)
    if df.shape[0] == 0:
        raise InputError("no data rows (the file has only a header"
                         + (f" after skipping {skiprows} lines" if skiprows else "") + ")",
                         file=str(path))
    return df


def check_columns(df: pd.DataFrame, columns: Sequence[str], *, file: str | None = None, what: str = "column") -> None:
    """Raise InputError for a name in ``columns`` that ``df`` does not have."""
    file = file if file is not None else source_of(df)
    have = list(map(str, df.columns))
    for c in columns:
        if c not in df.columns:
            import difflib

            close = difflib.get_close_matches(str(c), have, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            shown = ", ".join(have[:20]) + (" ..." if len(have) > 20 else "")
            raise InputError(f"unknown {what}: not found in the data{hint} (the data has: {shown})",
                             file=file, column=str(c))


def numeric_column(df: pd.DataFrame, col: str, *, file: str | None = None) -> np.ndarray:
    """The column as float64; raises InputError naming rows with non-numeric entries or
    infinities (``inf``, or a number too large for a float such as ``1e400``). Missing values
    (empty cells, NA, ``.``) become NaN and are left to the caller."""
    file = file if file is not None else source_of(df)
    s = df[col]
    if isinstance(s, pd.DataFrame):
        raise InputError("duplicate column name", file=file, column=str(col))
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        text = s.astype("string").str.strip()
        missing = s.isna().to_numpy() | text.isin(MISSING_MARKERS).fillna(False).to_numpy(bool) | (
            text == "").fillna(False).to_numpy(bool)
        conv = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = conv.isna().to_numpy() & ~missing
        if bad.any():
            examples = ", ".join(repr(x) for x in pd.unique(text[bad])[:3])
            raise InputError(f"non-numeric values ({examples})", file=file, column=col, rows=_rows(bad, df))
        v = conv.to_numpy(dtype=float, na_value=np.nan)
    inf = np.isinf(v)
    if inf.any():
        raise InputError("infinite values (inf, or a number beyond the float range such as 1e400)",
                         file=file, column=col, rows=_rows(inf, df))
    return v


def check_panel_index(
    df: pd.DataFrame, entity: str, time: str, *, file: str | None = None
) -> None:
    """The (entity, time) pairs must be unique, without missing entity or time labels."""
    file = file if file is not None else source_of(df)
    check_columns(df, [entity, time], file=file)
    if entity == time:
        raise InputError("the entity and the time column must differ", file=file, column=entity)
    for c in (entity, time):
        miss = df[c].isna()
        if miss.any():
            raise InputError("missing panel identifier", file=file, column=c, rows=_rows(miss, df))
    dup = df.duplicated([entity, time], keep=False)
    if dup.any():
        first = [v.item() if isinstance(v, np.generic) else v
                 for v in df.loc[dup, [entity, time]].iloc[0].tolist()]
        raise InputError(
            f"duplicate (entity, time) pair ({first[0]!r}, {first[1]!r}); each entity may "
            "appear once per period",
            file=file, column=f"{entity}, {time}", rows=_rows(dup, df),
        )


def time_values(df: pd.DataFrame, time: str, *, file: str | None = None) -> np.ndarray:
    """Integer time index (years, periods) needed for lags; raises if it is not integral."""
    file = file if file is not None else source_of(df)
    v = numeric_column(df, time, file=file)
    bad = ~np.isfinite(v) | (np.abs(v - np.round(v)) > 1e-9) | (np.abs(v) > 1e15)
    if bad.any():
        raise InputError(
            "the time column must hold integer periods (e.g. years) to take lags", file=file,
            column=time, rows=_rows(bad, df),
        )
    return np.round(v).astype(np.int64)


def check_integer_periods(
    df: pd.DataFrame, col: str, *, file: str | None = None, allow_missing: bool = True,
    what: str = "adoption period",
) -> np.ndarray:
    """A column of periods (e.g. ``adopt_year``): numeric, finite and whole; missing values (never
    treated) allowed when ``allow_missing``. Returns it as float (NaN for missing)."""
    file = file if file is not None else source_of(df)
    v = numeric_column(df, col, file=file)
    bad = np.isfinite(v) & ((np.abs(v - np.round(v)) > 1e-9) | (np.abs(v) > 1e15))
    if bad.any():
        ex = ", ".join(f"{x:g}" for x in pd.unique(v[bad])[:3])
        raise InputError(f"the {what} must be a whole period (e.g. a year), got {ex}", file=file,
                         column=col, rows=_rows(bad, df))
    if not allow_missing and np.isnan(v).any():
        raise InputError(f"missing {what}", file=file, column=col, rows=_rows(np.isnan(v), df))
    return v


def check_horizon(k, df: pd.DataFrame | None = None, time: str | None = None, *,
                  what: str = "lag order", file: str | None = None) -> int:
    """A lag, lead or event-time horizon: a whole number, and (given the panel) no longer than its
    time span. Returns it as ``int``."""
    try:
        kf = float(k)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"the {what} must be a whole number, got {k!r}", file=file) from exc
    if not np.isfinite(kf) or kf != np.round(kf):
        raise InputError(f"the {what} must be a whole number, got {k!r}", file=file)
    if df is not None and time is not None:
        file = file if file is not None else source_of(df)
        t = time_values(df, time, file=file)
        span = int(t.max() - t.min()) if t.size else 0
        if abs(kf) > span:
            raise InputError(
                f"the {what} {k:g} is longer than the panel: its periods run from {t.min()} to "
                f"{t.max()} ({span} periods apart), so every value would be missing",
                file=file, column=time)
    elif abs(kf) > 10_000:
        raise InputError(f"the {what} {k:g} is absurdly large", file=file)
    return int(kf)


def find_gaps(df: pd.DataFrame, entity: str, time: str) -> pd.DataFrame:
    """Rows after a gap: entity, the previous period and the period, for each gap (``row`` is
    the spreadsheet row of the file, see :func:`file_rows`)."""
    t = time_values(df, time)
    d = pd.DataFrame({"e": df[entity].to_numpy(), "t": t,
                      "row": np.asarray(file_rows(df, np.arange(len(df))), dtype=np.int64)})
    d = d.sort_values(["e", "t"], kind="mergesort")
    prev = d.groupby("e", sort=False)["t"].shift(1)
    gap = prev.notna() & (d["t"] - prev > 1)
    out = d.loc[gap, ["e", "t", "row"]].copy()
    out["previous"] = prev[gap].astype(np.int64)
    return out


def lag(
    df: pd.DataFrame, column: str | np.ndarray | pd.Series, k: int, *, entity: str, time: str
) -> np.ndarray:
    """``column`` lagged ``k`` periods within each entity (``k < 0``: a lead).

    The value is looked up at exactly period t - k of the same entity, so a gap in the panel gives
    NaN, never the previous available row. Requires unique (entity, time) pairs and an integer time
    column; a ``k`` longer than the panel's time span is an :class:`InputError`.
    """
    t = time_values(df, time)
    k = check_horizon(k, df, time, what="lag order" if float(k) >= 0 else "lead order")
    vals = df[column].to_numpy() if isinstance(column, str) else np.asarray(column)
    e_codes, _ = pd.factorize(df[entity], sort=False)
    key = pd.MultiIndex.from_arrays([e_codes, t])
    lookup = pd.Series(np.asarray(vals, dtype=float), index=key)
    if not lookup.index.is_unique:
        check_panel_index(df, entity, time)
    target = pd.MultiIndex.from_arrays([e_codes, t - int(k)])
    return lookup.reindex(target).to_numpy(dtype=float)


def check_numeric_columns(
    df: pd.DataFrame, columns: Sequence[str], *, file: str | None = None,
    allow_all_missing: bool = False,
) -> None:
    """Each column exists, is numeric (no text), finite (no inf or overflow) and, unless
    ``allow_all_missing``, has at least one value."""
    file = file if file is not None else source_of(df)
    check_columns(df, list(columns), file=file)
    for c in dict.fromkeys(columns):
        v = numeric_column(df, c, file=file)
        if not allow_all_missing and v.size and np.isnan(v).all():
            raise InputError("the column has no values (every row is missing)", file=file, column=c,
                             rows=_rows(np.ones(len(df), bool), df))


def reader_kwargs(options: Mapping[str, Any] | None) -> dict:
    """The reader options (``sep``, ``encoding``, ``sheet``, ``skiprows``) out of a mapping,
    dropping unset ones (so they can be passed as ``**`` to :func:`read_table`)."""
    if not options:
        return {}
    unknown = set(options) - set(READER_OPTIONS)
    if unknown:
        raise TypeError(f"unknown reader option(s) {sorted(unknown)}; use {READER_OPTIONS}")
    return {k: v for k, v in options.items() if v not in (None, "") and not (k == "skiprows" and v == 0)}


def load_panel(
    path: str | os.PathLike,
    entity: str | None = None,
    time: str | None = None,
    columns: Sequence[str] | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    skiprows: int = 0,
    periods: Sequence[str] = (),
    integer_time: bool = True,
) -> pd.DataFrame:
    """Load and validate a panel file (CSV, Parquet, Stata .dta or Excel).

    Parameters
    ----------
    path
        The file; its type is taken from the extension (``.csv``, ``.tsv``, ``.parquet``,
        ``.dta``, ``.xlsx``/``.xls``; ``.csv.gz`` works too).
    entity, time
        The panel identifiers. When given they must exist, have no missing values, and form unique
        (entity, time) pairs; ``time`` must then be integer periods (unless ``integer_time`` is
        False).
    columns
        Columns that must exist, be numeric (no text, no infinities or overflowing numbers) and
        not be entirely missing (missing values are allowed and are dropped, counted, by the
        estimators).
    sep, encoding, sheet, skiprows
        Reader options, see :func:`read_table`.
    periods
        Columns of periods that must be whole numbers where present (e.g. ``adopt_year``).

    Returns
    -------
    pandas.DataFrame
        With ``attrs["source_file"]`` set (used in later error messages), in file order.

    Raises
    ------
    InputError
        Naming the file, the column and the first offending rows (spreadsheet rows: the first
        data row is row 2).
    """
    df = read_table(path, sep=sep, encoding=encoding, sheet=sheet, skiprows=skiprows)
    file = str(path)
    if entity is not None or time is not None:
        if entity is None or time is None:
            raise InputError("give both the entity and the time column, or neither", file=file)
        check_panel_index(df, entity, time, file=file)
        if integer_time:
            time_values(df, time, file=file)
    if columns:
        check_numeric_columns(df, [c for c in columns if c not in (entity, time)], file=file)
    for c in periods:
        check_columns(df, [c], file=file)
        check_integer_periods(df, c, file=file)
    return df
