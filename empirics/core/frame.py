"""The model frame: a parsed formula evaluated on a DataFrame, and its within transform.

:func:`build_frame` validates the columns, evaluates the terms (logs, lags, interactions,
``i()`` dummies), drops rows with a missing value and fixed-effect singletons (counted), and
codes the fixed effects and clusters; :func:`transform` absorbs the fixed effects from all the
model's columns at once (:func:`robocarbon.empirics.core.within.demean`) and applies the
weights; :func:`absorbed_by_fe` names the columns the fixed effects absorb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import data as _data
from ..errors import InputError
from ..formula import Factor, Formula, Term
from .within import DemeanInfo, demean, drop_singletons, factorize

__all__ = ["ModelFrame", "Transformed", "build_frame", "transform", "absorbed_by_fe", "fe_error",
           "column_array", "as_cluster_list", "r_squared", "FE_COLLINEAR_RTOL"]


@dataclass
class ModelFrame:
    """Numeric arrays of one model, after dropping missing rows and singletons."""

    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    endog: np.ndarray
    endog_names: list[str]
    Z: np.ndarray
    z_names: list[str]
    fe_codes: list[np.ndarray]
    fe_names: list[str]
    cluster_codes: list[np.ndarray]
    cluster_names: list[str]
    weights: np.ndarray | None
    rows: np.ndarray  # positions (0-based) of the used rows in the input table
    dropped: dict = field(default_factory=dict)
    nobs_dropped: int = 0
    y_name: str = "y"
    file: str | None = None


def column_array(df: pd.DataFrame, col: str) -> np.ndarray:
    """The values of one column as an array, without building a Series (pandas' Series
    construction costs ~50 us per column; this matters inside Monte Carlo loops)."""
    try:
        loc = df.columns.get_loc(col)
        if isinstance(loc, int):
            return np.asarray(df._get_column_array(loc))
    except (AttributeError, KeyError, TypeError):  # pragma: no cover - other pandas versions
        pass
    return df[col].to_numpy()


def _raw_column(df: pd.DataFrame, col: str):
    """The backing array of one column (numpy or pandas extension array), or None when ``col``
    names several columns or this pandas lacks the accessor."""
    try:
        loc = df.columns.get_loc(col)
        if isinstance(loc, int):
            return df._get_column_array(loc)
    except (AttributeError, KeyError, TypeError):  # pragma: no cover - other pandas versions
        pass
    return None


def as_cluster_list(cluster) -> list[str]:
    if cluster is None:
        return []
    if isinstance(cluster, str):
        return [c.strip() for c in cluster.split(",") if c.strip()]
    return [str(c) for c in cluster]


class _Evaluator:
    def __init__(self, df: pd.DataFrame, entity, time, file, on_gap: str):
        self.df = df
        self.entity = entity
        self.time = time
        self.file = file
        self.on_gap = on_gap
        self.cache: dict[str, np.ndarray] = {}
        self.finite_ids: set[int] = set()  # ids of cached arrays known to be all finite
        self.panel_checked = False

    def prefetch(self, cols) -> None:
        """Convert all plainly numeric (non-bool) columns in one block (fast path)."""
        cols = [c for c in dict.fromkeys(cols) if c not in self.cache]
        num, arrs = [], []
        dtypes = None
        for c in cols:
            a = _raw_column(self.df, c)
            if a is None:  # a duplicated name, or a pandas without the private accessor
                if dtypes is None:
                    dtypes = self.df.dtypes
                dt = dtypes[c]
                if isinstance(dt, np.dtype) and dt.kind in "fiu":
                    num.append(c)
                    arrs.append(column_array(self.df, c))
            elif isinstance(a, np.ndarray) and a.dtype.kind in "fiu":
                num.append(c)
                arrs.append(a)
        if not num:
            return
        # column-major: every column a contiguous float64 array
        block = np.empty((len(self.df), len(num)), order="F")
        for j, a in enumerate(arrs):
            block[:, j] = a
        finite = np.isfinite(block).all(axis=0)
        if not finite.all() and np.isinf(block).any():
            return  # the per-column path names the column and rows
        for j, c in enumerate(num):
            self.cache[c] = col = block[:, j]
            if finite[j]:
                self.finite_ids.add(id(col))

    def numeric(self, col: str) -> np.ndarray:
        if col not in self.cache:
            self.cache[col] = _data.numeric_column(self.df, col, file=self.file)
        return self.cache[col]

    def _check_panel(self, what: str) -> None:
        if self.panel_checked:
            return
        if self.entity is None or self.time is None:
            raise InputError(
                f"{what} needs the panel structure: pass entity= and time= (--entity/--time)",
                file=self.file,
            )
        _data.check_panel_index(self.df, self.entity, self.time, file=self.file)
        _data.time_values(self.df, self.time, file=self.file)
        if self.on_gap == "error":
            gaps = _data.find_gaps(self.df, self.entity, self.time)
            if len(gaps):
                g = gaps.iloc[0]
                raise InputError(
                    f"time gaps in the panel ({len(gaps)} in all; e.g. entity {g['e']!r} jumps "
                    f"from {g['previous']} to {g['t']}) while the formula takes lags; a lag across "
                    "a gap would be missing. Fill the panel or pass on_gap='missing' to drop "
                    "those observations",
                    file=self.file, column=self.time, rows=gaps["row"].tolist(),
                )
        self.panel_checked = True

    def factor(self, f: Factor) -> tuple[list[np.ndarray], list[str]]:
        if f.kind == "var":
            return [self.numeric(f.var)], [f.name]
        if f.kind == "log":
            v = self.numeric(f.var)
            bad = np.isfinite(v) & (v <= 0)
            if bad.any():
                raise InputError(
                    "non-positive values where a log is taken", file=self.file, column=f.var,
                    rows=_data.file_rows(self.df, bad),
                )
            return [np.log(np.where(bad, np.nan, v))], [f.name]
        if f.kind in ("lag", "diff"):
            self._check_panel(f.name)
            v = self.numeric(f.var)
            if f.kind == "lag":
                return [_data.lag(self.df, v, f.k, entity=self.entity, time=self.time)], [f.name]
            return [v - _data.lag(self.df, v, 1, entity=self.entity, time=self.time)], [f.name]
        if f.kind == "i":
            s = self.df[f.var]
            levels = pd.unique(s.dropna())
            try:
                levels = np.sort(levels)
            except TypeError:
                levels = np.array(sorted(levels, key=str))
            if len(levels) < 2:
                raise InputError("i(): the column has fewer than two levels", file=self.file, column=f.var)
            cols, names = [], []
            miss = s.isna().to_numpy()
            for lev in levels[1:]:
                c = (s == lev).to_numpy(dtype=float)
                c[miss] = np.nan
                cols.append(c)
                names.append(f"{f.var}::{lev}")
            return cols, names
        raise InputError(f"unsupported formula element {f.name}")  # pragma: no cover

    def term(self, t: Term) -> tuple[list[np.ndarray], list[str]]:
        cols, names = self.factor(t.factors[0])
        for f in t.factors[1:]:
            c2, n2 = self.factor(f)
            cols = [a * b for a in cols for b in c2]
            names = [f"{a}:{b}" for a in names for b in n2]
        return cols, names


def build_frame(
    f: Formula,
    df: pd.DataFrame,
    *,
    entity: str | None = None,
    time: str | None = None,
    cluster=None,
    weights=None,
    on_gap: str = "error",
    singletons: bool = True,
    extra_fe: Sequence[str] = (),
) -> ModelFrame:
    """Evaluate a parsed formula on a DataFrame: validation, missing rows, singletons."""
    if not isinstance(df, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame (use data.load_panel for files)")
    file = _data.source_of(df)
    n = len(df)
    if n == 0:
        raise InputError("no observations", file=file)
    clusters = as_cluster_list(cluster)
    wcol = weights if isinstance(weights, str) else None
    needed = f.variables() + list(extra_fe) + clusters + ([wcol] if wcol else [])
    needed += [c for c in (entity, time) if c is not None]
    needed = list(dict.fromkeys(needed))
    cols_index = df.columns
    if not all(c in cols_index for c in needed):
        _data.check_columns(df, needed, file=file)  # raises, naming the column
    if on_gap not in ("error", "missing"):
        raise InputError(f"on_gap must be 'error' or 'missing', got {on_gap!r}")
    ev = _Evaluator(df, entity, time, file, on_gap)
    plain = [fc.var for t in (f.lhs,) for fc in (t,)] + [
        fc.var for t in f.terms + f.endogenous + f.instruments for fc in t.factors if fc.kind != "i"
    ]
    ev.prefetch(plain + ([wcol] if wcol else []))
    if entity is not None and time is not None:
        _data.check_panel_index(df, entity, time, file=file)

    missing: dict[str, int] = {}
    valid = np.ones(n, dtype=bool)

    def note(name: str, arr: np.ndarray) -> None:
        nonlocal valid
        if id(arr) in ev.finite_ids:
            return
        bad = valid & ~np.isfinite(arr)
        if bad.any():
            missing[name] = missing.get(name, 0) + int(bad.sum())
            valid &= ~bad

    yl, yn = ev.factor(f.lhs)
    y = yl[0]
    note(yn[0], y)

    def block(terms) -> tuple[np.ndarray, list[str]]:
        cols, names = [], []
        for t in terms:
            c, nm = ev.term(t)
            for a, b in zip(c, nm):
                if b in names:
                    continue
                note(b, a)
                cols.append(a)
                names.append(b)
        out = np.empty((n, len(cols)), order="F")  # column-major, as the numeric block
        for j, a in enumerate(cols):
            out[:, j] = a
        return out, names

    X, xn = block(f.terms)
    E, en = block(f.endogenous)
    Z, zn = block(f.instruments)
    clash = set(xn) & set(en) or set(xn) & set(zn) or set(en) & set(zn)
    if clash:
        raise InputError(f"formula: {sorted(clash)} appear in two parts of the model")

    fe_list = list(f.fixed_effects) + [c for c in extra_fe if c not in f.fixed_effects]
    fe_raw = []
    for c in fe_list:
        s = column_array(df, c)
        miss = np.asarray(pd.isna(s))
        bad = valid & miss
        if bad.any():
            missing[c] = missing.get(c, 0) + int(bad.sum())
            valid &= ~miss
        fe_raw.append(s)
    cl_raw = []
    for c in clusters:
        s = column_array(df, c)
        miss = np.asarray(pd.isna(s))
        bad = valid & miss
        if bad.any():
            missing[c] = missing.get(c, 0) + int(bad.sum())
            valid &= ~miss
        cl_raw.append(s)
    w = None
    if weights is not None:
        if wcol:
            w = ev.numeric(wcol)
            wname = wcol
        else:
            w = np.asarray(weights, dtype=float).ravel()
            wname = "weights"
            if w.shape[0] != n:
                raise InputError(f"weights has {w.shape[0]} values for {n} rows")
        note(wname, w)
        neg = valid & (w <= 0)
        if neg.any():
            raise InputError("weights must be positive", file=file, column=wname, rows=_data.file_rows(df, neg))

    dropped: dict = {}
    if missing:
        dropped["missing"] = missing
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        raise InputError("no complete observations left after dropping missing values", file=file)
    fe_codes = [_codes(s[rows]) for s in fe_raw]
    n_single = 0
    if fe_codes and singletons:
        keep = drop_singletons(fe_codes)
        n_single = int((~keep).sum())
        if n_single:
            rows = rows[keep]
            dropped["singletons"] = n_single
            fe_codes = [factorize(c[keep])[0] for c in fe_codes]
    if rows.size == 0:
        raise InputError("no observations left after dropping singletons", file=file)
    # a cluster variable that is also a fixed effect has the same codes (both are the ranks of
    # the sorted levels among the rows used)
    cl_codes = [fe_codes[fe_list.index(c)] if c in fe_list else _codes(s[rows])
                for c, s in zip(clusters, cl_raw)]
    if rows.size == n:  # nothing dropped: X, E and Z are fresh arrays already
        y = y.copy()
    else:
        y, X, E, Z = y[rows], X[rows], E[rows], Z[rows]
    return ModelFrame(
        y=y,
        X=X,
        x_names=xn,
        endog=E,
        endog_names=en,
        Z=Z,
        z_names=zn,
        fe_codes=fe_codes,
        fe_names=fe_list,
        cluster_codes=cl_codes,
        cluster_names=clusters,
        weights=None if w is None else w[rows],
        rows=rows,
        dropped=dropped,
        nobs_dropped=n - rows.size,
        y_name=yn[0],
        file=file,
    )


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes 0..G-1 of the levels (sorted for numbers; pandas for anything else)."""
    if values.dtype.kind in "ib" or (values.dtype.kind == "u" and values.dtype.itemsize < 8):
        if values.size:
            v = values.astype(np.int64, copy=False)
            lo, hi = int(v.min()), int(v.max())
            if hi - lo <= 4 * v.size + 1024:
                # ranks by counting (O(n + range)): the same codes as np.unique, without a sort
                off = v - lo
                present = np.zeros(hi - lo + 1, dtype=bool)
                present[off] = True
                return (np.cumsum(present) - 1)[off].astype(np.int64, copy=False)
        uniq, inv = np.unique(values, return_inverse=True)
        return inv.astype(np.int64).ravel()
    if values.dtype.kind == "u":
        uniq, inv = np.unique(values, return_inverse=True)
        return inv.astype(np.int64).ravel()
    return pd.factorize(values, sort=True)[0].astype(np.int64)


# ----------------------------------------------------------------------------- core arrays
@dataclass
class Transformed:
    """Fixed effects partialled out and weights applied (multiplied by sqrt(w))."""

    y: np.ndarray
    X: np.ndarray
    E: np.ndarray
    Z: np.ndarray
    sw: np.ndarray | None
    demean_info: DemeanInfo
    means: np.ndarray  # weighted means of [y, X, E, Z] (for the Stata-style constant)
    spread: np.ndarray | None = None  # norms of [y, X, E, Z] around their means, before the FE


# a column whose variation left after absorbing the fixed effects is below this fraction of its
# variation around its mean is collinear with the fixed effects (entity- or time-constant)
FE_COLLINEAR_RTOL = 1e-8


def transform(frame: ModelFrame, *, intercept: bool) -> Transformed:
    n = frame.y.shape[0]
    kx = frame.X.shape[1]
    ke = frame.endog.shape[1]
    # column-major: the within transform, the norms and the QR all work column by column
    M = np.empty((n, 1 + kx + ke + frame.Z.shape[1]), order="F")
    M[:, 0] = frame.y
    M[:, 1 : 1 + kx] = frame.X
    M[:, 1 + kx : 1 + kx + ke] = frame.endog
    M[:, 1 + kx + ke :] = frame.Z
    w = frame.weights
    if not M.size:
        means = np.zeros(M.shape[1])
    else:
        means = M.mean(axis=0) if w is None else np.average(M, axis=0, weights=w)
    sw0 = np.sqrt(w) if w is not None else None
    if frame.fe_codes:
        Md, info = demean(M, frame.fe_codes, w)
        if not info.converged:
            raise InputError(
                f"the fixed-effect projections did not converge in {info.iterations} iterations"
            )
        dev = M  # M is no longer needed (demean returned a new array): centre it in place
        dev -= means
    else:
        Md, info = M, DemeanInfo("none", 0, True)
        dev = M - means
    if sw0 is not None:
        dev = dev * sw0[:, None]
    spread = np.sqrt(np.einsum("ij,ij->j", dev, dev))
    y = Md[:, 0]
    X = Md[:, 1 : 1 + kx]
    E = Md[:, 1 + kx : 1 + kx + ke]
    Z = Md[:, 1 + kx + ke :]
    if intercept and not frame.fe_codes:
        X = np.column_stack([np.ones(n), X])
    sw = None
    if w is not None:
        sw = np.sqrt(w)
        y, X, E, Z = y * sw, X * sw[:, None], E * sw[:, None], Z * sw[:, None]
    return Transformed(y, X, E, Z, sw, info, means, spread)


def absorbed_by_fe(tr: Transformed, frame: ModelFrame) -> dict[str, list[str]]:
    """Regressors, endogenous regressors and instruments with (numerically) no variation left
    after the fixed effects are absorbed, judged relative to each column's own spread."""
    if not frame.fe_codes or tr.spread is None:
        return {"X": [], "E": [], "Z": []}
    kx, ke = frame.X.shape[1], frame.endog.shape[1]
    sw = tr.sw
    out = {}
    for key, cols, off, names in (("X", tr.X, 1, frame.x_names), ("E", tr.E, 1 + kx, frame.endog_names),
                                  ("Z", tr.Z, 1 + kx + ke, frame.z_names)):
        bad = []
        lefts = np.sqrt(np.einsum("ij,ij->j", cols, cols)) if names else ()
        for j, nm in enumerate(names):
            left = float(lefts[j])
            tot = float(tr.spread[off + j])
            if tot == 0.0 or left <= FE_COLLINEAR_RTOL * tot:
                bad.append(nm)
        out[key] = bad
    return out


def fe_error(names: list[str], what: str = "regressor(s)", hint: bool = True) -> InputError:
    """The error for columns the fixed effects absorb."""
    return InputError(
        f"{what} " + ", ".join(repr(n) for n in names)
        + " have no variation left after absorbing the fixed effects (constant within the fixed"
        " effects, e.g. entity- or time-invariant); drop them"
        + (" or pass collinear='drop'" if hint else "")
    )


def r_squared(frame: ModelFrame, tr: Transformed, rss: float) -> tuple[float | None, float]:
    """(R-squared within, R-squared with the fixed effects) from the residual sum of squares
    (the within one is None without fixed effects)."""
    w = frame.weights
    ybar = np.average(frame.y, weights=w)
    dev = frame.y - ybar
    tss = float(np.sum((w if w is not None else 1.0) * dev**2))
    r2_full = 1.0 - rss / tss if tss > 0 else math.nan
    if frame.fe_codes:
        tss_w = float(tr.y @ tr.y)
        r2_within = 1.0 - rss / tss_w if tss_w > 0 else math.nan
        return r2_within, r2_full
    return None, r2_full
