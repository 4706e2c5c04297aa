"""Panel data: loading (CSV, Parquet, Stata .dta, Excel), validation, lags and leads.

Every validation failure is an :class:`~robocarbon.empirics.errors.InputError` naming the file,
the column and the first offending rows. Rows are reported as 1-based *data rows* of the file
(the header is not counted), i.e. the position in the loaded table plus one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

_READERS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".dta": "stata",
    ".xlsx": "excel",
    ".xls": "excel",
    ".xlsm": "excel",
}


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    """1-based data-row numbers where ``mask`` is True."""
    return (np.flatnonzero(np.asarray(mask)) + 1).tolist()


def source_of(df: pd.DataFrame) -> str | None:
    """The file a DataFrame was loaded from (set by :func:`load_panel`), if any."""
    return df.attrs.get("source_file")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table by its extension (CSV/TSV, Parquet, Stata .dta, Excel)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a data file", file=str(path))
    suffixes = [s.lower() for s in path.suffixes]
    ext = suffixes[-1] if suffixes else ""
    if ext == ".gz" and len(suffixes) >= 2:
        ext = suffixes[-2]
    kind = _READERS.get(ext)
    if kind is None:
        raise InputError(
            f"unknown file type {ext or '(none)'!r}; use .csv, .parquet, .dta, .xlsx", file=str(path)
        )
    try:
        if kind == "csv":
            df = pd.read_csv(path)
        elif kind == "tsv":
            df = pd.read_csv(path, sep="\t")
        elif kind == "parquet":
            df = pd.read_parquet(path)
        elif kind == "stata":
            df = pd.read_stata(path, convert_categoricals=False)
        else:
            df = pd.read_excel(path)
    except InputError:
        raise
    except Exception as exc:  # the readers raise many types; report them uniformly
        raise InputError(f"cannot read as {kind}: {type(exc).__name__}: {exc}", file=str(path)) from exc
    if df.shape[0] == 0:
        raise InputError("no data rows", file=str(path))
    dup = [c for c in df.columns if list(df.columns).count(c) > 1]
    if dup:
        raise InputError(f"duplicate column names {sorted(set(map(str, dup)))}", file=str(path))
    df.columns = [str(c).strip() for c in df.columns]
    df = df.reset_index(drop=True)
    df.attrs["source_file"] = str(path)
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
            raise InputError(f"unknown {what}{hint} (the data has: {shown})", file=file, column=str(c))


def numeric_column(df: pd.DataFrame, col: str, *, file: str | None = None) -> np.ndarray:
    """The column as float64; raises InputError naming rows with non-numeric entries or
    infinities. Missing values (empty cells, NA) become NaN and are left to the caller."""
    file = file if file is not None else source_of(df)
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        conv = pd.to_numeric(s, errors="coerce")
        bad = conv.isna() & s.notna() & (s.astype(str).str.strip() != "")
        if bad.any():
            examples = ", ".join(repr(x) for x in s[bad].astype(str).unique()[:3])
            raise InputError(f"non-numeric values ({examples})", file=file, column=col, rows=_rows(bad))
        v = conv.to_numpy(dtype=float, na_value=np.nan)
    inf = np.isinf(v)
    if inf.any():
        raise InputError("infinite values", file=file, column=col, rows=_rows(inf))
    return v


def check_panel_index(
    df: pd.DataFrame, entity: str, time: str, *, file: str | None = None
) -> None:
    """The (entity, time) pairs must be unique, without missing entity or time labels."""
    file = file if file is not None else source_of(df)
    check_columns(df, [entity, time], file=file)
    for c in (entity, time):
        miss = df[c].isna()
        if miss.any():
            raise InputError("missing panel identifier", file=file, column=c, rows=_rows(miss))
    dup = df.duplicated([entity, time], keep=False)
    if dup.any():
        first = df.loc[dup, [entity, time]].iloc[0]
        raise InputError(
            f"duplicate (entity, time) pair ({first[entity]!r}, {first[time]!r}); each entity may "
            "appear once per period",
            file=file, column=f"{entity}, {time}", rows=_rows(dup),
        )


def time_values(df: pd.DataFrame, time: str, *, file: str | None = None) -> np.ndarray:
    """Integer time index (years, periods) needed for lags; raises if it is not integral."""
    file = file if file is not None else source_of(df)
    v = numeric_column(df, time, file=file)
    bad = ~np.isfinite(v) | (np.abs(v - np.round(v)) > 1e-9)
    if bad.any():
        raise InputError(
            "the time column must hold integer periods (e.g. years) to take lags", file=file,
            column=time, rows=_rows(bad),
        )
    return np.round(v).astype(np.int64)


def find_gaps(df: pd.DataFrame, entity: str, time: str) -> pd.DataFrame:
    """Rows after a gap: entity, the previous period and the period, for each gap."""
    t = time_values(df, time)
    d = pd.DataFrame({"e": df[entity].to_numpy(), "t": t, "row": np.arange(len(df)) + 1})
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
    column.
    """
    t = time_values(df, time)
    vals = df[column].to_numpy() if isinstance(column, str) else np.asarray(column)
    e_codes, _ = pd.factorize(df[entity], sort=False)
    key = pd.MultiIndex.from_arrays([e_codes, t])
    lookup = pd.Series(np.asarray(vals, dtype=float), index=key)
    if not lookup.index.is_unique:
        check_panel_index(df, entity, time)
    target = pd.MultiIndex.from_arrays([e_codes, t - int(k)])
    return lookup.reindex(target).to_numpy(dtype=float)


def load_panel(
    path: str | os.PathLike,
    entity: str | None = None,
    time: str | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Load and validate a panel file (CSV, Parquet, Stata .dta or Excel).

    Parameters
    ----------
    path
        The file; its type is taken from the extension (``.csv``, ``.tsv``, ``.parquet``,
        ``.dta``, ``.xlsx``/``.xls``; ``.csv.gz`` works too).
    entity, time
        The panel identifiers. When given they must exist, have no missing values, and form unique
        (entity, time) pairs; ``time`` must then be integer periods.
    columns
        Columns that must exist and be numeric (no text, no infinities; missing values are
        allowed and are dropped, counted, by the estimators).

    Returns
    -------
    pandas.DataFrame
        With ``attrs["source_file"]`` set (used in later error messages), sorted as in the file.

    Raises
    ------
    InputError
        Naming the file, the column and the first offending 1-based data rows.
    """
    df = read_table(path)
    file = str(path)
    if entity is not None or time is not None:
        if entity is None or time is None:
            raise InputError("give both the entity and the time column, or neither", file=file)
        check_panel_index(df, entity, time, file=file)
        time_values(df, time, file=file)
    if columns:
        check_columns(df, list(columns), file=file)
        for c in columns:
            if c in (entity, time):
                continue
            numeric_column(df, c, file=file)
    return df
