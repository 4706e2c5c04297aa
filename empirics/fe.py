"""Linear models with absorbed fixed effects (and IV through the same entry point).

The main entry is :func:`fit` (alias :func:`feols`)::

    fit("lnindco ~ robot + edu + urban | city + year", panel, cluster="city")
    fit("y ~ x | city + year | robot ~ z1 + z2", panel, cluster="city")    # IV-2SLS
    fit("y ~ l(robot, 1) + edu | city + year", panel, entity="city", time="year")

and :func:`twfe_fast` is a numpy-only path for Monte Carlo loops.
"""

from __future__ import annotations

import functools
import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import data as _data
from . import linalg
from .errors import InputError
from .formula import Factor, Formula, Term, parse_formula
from .result import Result

SSC_NAMES = ("fixest", "reghdfe", "xtreg", "linearmodels", "plm", "full", "none")
VCOV_NAMES = ("unadjusted", "hc1", "cluster")


# ----------------------------------------------------------------------------- model frame
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


def _as_cluster_list(cluster) -> list[str]:
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
                    rows=(np.flatnonzero(bad) + 1).tolist(),
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
    clusters = _as_cluster_list(cluster)
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
            raise InputError("weights must be positive", file=file, column=wname, rows=(np.flatnonzero(neg) + 1).tolist())

    dropped: dict = {}
    if missing:
        dropped["missing"] = missing
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        raise InputError("no complete observations left after dropping missing values", file=file)
    fe_codes = [_codes(s[rows]) for s in fe_raw]
    n_single = 0
    if fe_codes and singletons:
        keep = linalg.drop_singletons(fe_codes)
        n_single = int((~keep).sum())
        if n_single:
            rows = rows[keep]
            dropped["singletons"] = n_single
            fe_codes = [linalg.factorize(c[keep])[0] for c in fe_codes]
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


# ----------------------------------------------------------------------------- small-sample
def fe_dof(fe_codes: Sequence[np.ndarray], clusters: Sequence[np.ndarray]) -> dict:
    """Degrees of freedom of the fixed effects: total (levels minus one per extra FE), and the
    part not nested in any cluster variable (a nested FE counts 1), as fixest/reghdfe."""
    levels = [int(c.max()) + 1 for c in fe_codes]
    nfe = len(levels)
    total = sum(levels) - (nfe - 1) if nfe else 0
    nested = [any(c is g or linalg.is_nested(c, g) for g in clusters) for c in fe_codes]
    nonnested = total - sum(L for L, nst in zip(levels, nested) if nst) + sum(nested) if nfe else 0
    return {"levels": levels, "total": total, "nonnested": nonnested, "nested": nested}


def small_sample(
    ssc: str, vcov: str, *, n: int, k: int, fe: dict, has_fe: bool
) -> tuple[float, int, str]:
    """(scale of the covariance, K used, G-adjustment mode) for a convention name.

    Returns the multiplier applied to the raw sandwich (HC0/CR0 with any G factor applied by
    ``g_mode``), or to RSS/n for ``unadjusted``.
    """
    total = fe["total"] if has_fe else 0
    if ssc in ("fixest", "reghdfe"):
        K = k + (fe["nonnested"] if (vcov == "cluster" and has_fe) else total)
        g = "min"
    elif ssc == "xtreg":
        if vcov == "cluster" and has_fe:
            K = k + 1 + total - fe["levels"][0]
        else:
            K = k + total
        g = "each"
    elif ssc == "linearmodels":
        d = total
        if vcov == "cluster" and has_fe and len(fe["levels"]) == 1 and fe["nested"][0]:
            d = 0
        K = k + d
        g = "none"
    elif ssc == "plm":
        K = k
        g = "each"
    elif ssc == "full":
        K = k + total
        g = "each"
    elif ssc == "none":
        K = k + total
        g = "none"
    else:
        raise InputError(f"unknown small-sample convention ssc={ssc!r}; use one of {SSC_NAMES}")
    if n - K <= 0:
        raise InputError(f"no residual degrees of freedom: {n} observations, {K} parameters")
    if vcov == "unadjusted":
        scale = n / (n - (k + total)) if ssc != "none" else 1.0
        if ssc == "linearmodels":
            scale = n / (n - K)
        return scale, K, g
    if ssc == "none":
        return 1.0, K, g
    if ssc == "linearmodels":
        return n / (n - K), K, g
    if vcov == "hc1":
        return n / (n - K), K, g
    return (n - 1) / (n - K), K, g


# ----------------------------------------------------------------------------- core arrays
@dataclass
class Transformed:
    """Fixed effects partialled out and weights applied (multiplied by sqrt(w))."""

    y: np.ndarray
    X: np.ndarray
    E: np.ndarray
    Z: np.ndarray
    sw: np.ndarray | None
    demean_info: linalg.DemeanInfo
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
        Md, info = linalg.demean(M, frame.fe_codes, w)
        if not info.converged:
            raise InputError(
                f"the fixed-effect projections did not converge in {info.iterations} iterations"
            )
        dev = M  # M is no longer needed (demean returned a new array): centre it in place
        dev -= means
    else:
        Md, info = M, linalg.DemeanInfo("none", 0, True)
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


def _fe_error(names: list[str], what: str = "regressor(s)", hint: bool = True) -> InputError:
    return InputError(
        f"{what} " + ", ".join(repr(n) for n in names)
        + " have no variation left after absorbing the fixed effects (constant within the fixed"
        " effects, e.g. entity- or time-invariant); drop them"
        + (" or pass collinear='drop'" if hint else "")
    )


def find_collinear(X: np.ndarray, names: Sequence[str], rtol: float = 1e-10) -> list[int]:
    """Indices of columns to drop so that the rest has full column rank: every column that is a
    linear combination of the columns before it (and columns with no variation left after the
    fixed effects), as Stata and fixest drop "later" collinear variables."""
    k = X.shape[1]
    if k == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    scale = max(norms.max(), 1.0)
    zero = [j for j in range(k) if norms[j] < 1e-12 * scale]
    keep = [j for j in range(k) if j not in zero]
    if not keep:
        return zero
    sub = linalg.collinear_in_order(X[:, keep], rtol=rtol)
    return sorted(zero + [keep[j] for j in sub])


def _covariance(
    S: np.ndarray,
    resid: np.ndarray,
    bread: np.ndarray,
    *,
    vcov: str,
    ssc: str,
    clusters: list[np.ndarray],
    n: int,
    k: int,
    fe: dict,
    has_fe: bool,
) -> tuple[np.ndarray, int | None, dict]:
    """Covariance of the coefficients from the (weighted, transformed) score regressors S."""
    scale, K, gmode = small_sample(ssc, vcov, n=n, k=k, fe=fe, has_fe=has_fe)
    info = {"ssc": ssc, "K": int(K), "scale": float(scale)}
    if vcov == "unadjusted":
        s2 = float(resid @ resid) / n
        return scale * s2 * bread, n - K, info
    scores = S * resid[:, None]
    if vcov == "hc1":
        V = bread @ (scores.T @ scores) @ bread
        return scale * (V + V.T) / 2, n - K, info
    if vcov == "cluster":
        V, Gs, fixed = linalg.cluster_vcov(scores, bread, clusters, g_adjust=gmode)
        info["n_clusters"] = [int(g) for g in Gs]
        if fixed:
            info["psd_fixed"] = True
        return scale * V, min(Gs) - 1, info
    raise InputError(f"unknown vcov {vcov!r}; use one of {VCOV_NAMES}")


def _resolve_vcov(vcov: str, clusters: list[str], formula: Formula, entity: str | None) -> tuple[str, list[str]]:
    vcov = str(vcov).lower()
    aliases = {"iid": "unadjusted", "homoskedastic": "unadjusted", "robust": "hc1", "hetero": "hc1",
               "clustered": "cluster", "cr1": "cluster"}
    vcov = aliases.get(vcov, vcov)
    if vcov not in VCOV_NAMES:
        raise InputError(f"unknown vcov {vcov!r}; use unadjusted, hc1 or cluster")
    if vcov == "cluster" and not clusters:
        if entity is not None:
            clusters = [entity]
        elif formula.fixed_effects:
            clusters = [formula.fixed_effects[0]]
        else:
            raise InputError(
                "vcov='cluster' needs a cluster variable: pass cluster= (--cluster), or use "
                "vcov='hc1'/'unadjusted'"
            )
    if vcov != "cluster":
        clusters = []
    if len(clusters) > 2:
        raise InputError(f"at most two cluster variables, got {clusters}")
    return vcov, clusters


# ----------------------------------------------------------------------------- main entry
def fit(
    formula: str,
    data: pd.DataFrame,
    *,
    entity: str | None = None,
    time: str | None = None,
    cluster: str | Sequence[str] | None = None,
    vcov: str = "cluster",
    weights: str | np.ndarray | None = None,
    ssc: str = "fixest",
    collinear: str = "error",
    on_gap: str = "error",
    method: str = "2sls",
) -> Result:
    r"""Least squares with absorbed fixed effects, or IV (2SLS/LIML) when the formula has an
    ``endog ~ instruments`` part.

    Parameters
    ----------
    formula
        ``y ~ x1 + x2 | fe1 + fe2 | endog ~ z1 + z2`` (see :mod:`robocarbon.empirics.formula`).
    data
        The panel, one row per observation (see :func:`robocarbon.empirics.data.load_panel`).
    entity, time
        Panel identifiers; needed for lags ``l(x, k)``, leads and differences, and used as the
        default cluster (``entity``) when ``vcov="cluster"`` and ``cluster`` is not given.
    cluster
        One or two columns (a list or ``"a,b"``) for one- or two-way clustering. Default: the
        entity, else the first fixed effect.
    vcov
        ``"cluster"`` (CR1), ``"hc1"`` or ``"unadjusted"``.
    weights
        Column name or array of positive analytic weights (weighted least squares).
    ssc
        Small-sample convention, see Notes.
    collinear
        ``"error"`` (default): a regressor collinear with the others or with the fixed effects is
        an InputError naming it; ``"drop"``: such regressors are dropped (pivoted QR order) and
        listed in ``diagnostics["collinear_dropped"]``.
    on_gap
        When the formula takes lags and an entity's periods have gaps: ``"error"`` (default) or
        ``"missing"`` (lags across a gap are missing; those rows are dropped and counted).
    method
        IV only: ``"2sls"`` or ``"liml"``.

    Returns
    -------
    Result
        ``estimator`` is ``"ols"``, ``"feols"``, ``"2sls"``/``"liml"`` (``"fe2sls"``/``"feliml"``
        with fixed effects). ``r2_within`` is the R-squared of the within-transformed model
        (``None`` without fixed effects), ``r2_with_fe`` the R-squared including the fixed effects
        (the ordinary R-squared without them). With fixed effects the Stata-style constant is in
        ``diagnostics["intercept"]`` (``estimate``, ``std_error``), not among the terms; without
        them the intercept is the term ``Intercept``.

    Notes
    -----
    The model is

    .. math:: y_{it} = x_{it}'\beta + \alpha_{g_1(it)} + \dots + \alpha_{g_m(it)} + e_{it},

    estimated by least squares on the data with the fixed effects projected out (the exact
    one-way or balanced two-way within transform, else alternating projections), which by the
    Frisch-Waugh-Lovell theorem gives the same :math:`\hat\beta` as the dummy-variable regression.
    Rows with a missing value in any variable used are dropped and counted
    (``diagnostics["dropped"]["missing"]``), then fixed-effect singletons, iteratively
    (``diagnostics["dropped"]["singletons"]``); ``nobs_dropped`` is the total.

    Covariance: :math:`c\,(X'X)^{-1}(\sum_g s_g s_g')(X'X)^{-1}` with cluster scores
    :math:`s_g=\sum_{i\in g}x_i e_i` (two-way: Cameron-Gelbach-Miller A + B - A∩B); HC1 with one
    cluster per observation; unadjusted :math:`c\,\hat\sigma^2 (X'X)^{-1}`.
    Small-sample conventions (``ssc``), with n observations, k regressors (including
    ``Intercept``), F the fixed-effect degrees of freedom (sum of levels, minus one for each
    fixed effect after the first), F_nn the same counting each FE nested in a cluster variable as
    1:

    - ``"fixest"`` = ``"reghdfe"`` (default; R fixest ``ssc()`` defaults, Stata reghdfe):
      cluster c = (n-1)/(n-K) * G/(G-1), K = k + F_nn, and for two-way clustering G = min(G_a, G_b)
      for all three terms; hc1 c = n/(n-K), K = k + F; unadjusted sigma^2 = RSS/(n-k-F).
      t tests use G-1 degrees of freedom when clustered (the smallest G), n-K otherwise.
    - ``"xtreg"`` (Stata ``xtreg, fe vce(cluster)``, first FE = the panel variable, nested in the
      clusters): K = k + 1 + (F - levels of the first FE); each clustering dimension its own G/(G-1).
    - ``"linearmodels"`` (PanelOLS ``fit(cov_type="clustered", debiased=True)``): c = n/(n-k-F),
      no G/(G-1); F is not counted when the only FE is nested in the clusters.
    - ``"plm"`` (R plm ``vcovHC(type="sss")``/``"HC1"``): K = k, the fixed effects never counted.
    - ``"full"`` (Stata ``areg``; R ``lm`` with dummies and sandwich ``vcovCL(type="HC1")``):
      K = k + F always.
    - ``"none"``: no correction (CR0/HC0; sigma^2 = RSS/n... with F counted for unadjusted).

    Redundant fixed-effect levels are counted as one per extra fixed effect (exact for connected
    designs such as balanced panels). The Stata-style constant is
    :math:`\bar y - \bar x'\hat\beta` (weighted means), with the standard error of the constant in
    the regression of :math:`\tilde y + \bar y` on :math:`(\tilde x + \bar x, 1)` under the same
    covariance (as ``xtreg``/``reghdfe``).
    """
    t0 = _time.perf_counter()
    if isinstance(formula, Formula):
        f = formula
    else:
        f = parse_formula(formula)
    if collinear not in ("error", "drop"):
        raise InputError(f"collinear must be 'error' or 'drop', got {collinear!r}")
    if ssc not in SSC_NAMES:
        raise InputError(f"unknown small-sample convention ssc={ssc!r}; use one of {SSC_NAMES}")
    vcov, clusters = _resolve_vcov(vcov, _as_cluster_list(cluster), f, entity)
    frame = build_frame(
        f, data, entity=entity, time=time, cluster=clusters, weights=weights, on_gap=on_gap
    )
    spec = {
        "formula": f.text,
        "entity": entity,
        "time": time,
        "cluster": clusters,
        "vcov": vcov,
        "ssc": ssc,
        "weights": weights if isinstance(weights, str) else (None if weights is None else "array"),
        "fixed_effects": list(f.fixed_effects),
    }
    if f.is_iv:
        from . import iv as _iv

        return _iv.fit_frame(frame, f, vcov=vcov, ssc=ssc, collinear=collinear, method=method,
                             spec=spec, t0=t0)
    return _fit_ols_frame(frame, f, vcov=vcov, ssc=ssc, collinear=collinear, spec=spec, t0=t0)


feols = fit
_fit_impl = fit


def fit(formula, data, **kwargs):  # noqa: F811 - the public entry, single-threaded BLAS inside
    with linalg.single_threaded_blas():
        return _fit_impl(formula, data, **kwargs)


fit.__doc__ = _fit_impl.__doc__
fit.__wrapped__ = _fit_impl
feols = fit


def _r2(frame: ModelFrame, tr: Transformed, resid_w: np.ndarray) -> tuple[float | None, float]:
    rss = float(resid_w @ resid_w)
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


def _drop_collinear(X, names, collinear):
    if collinear == "error":
        # the fit's own qr_lstsq (pivoted QR) raises the error naming the collinear column
        return list(range(X.shape[1])), []
    drop = find_collinear(X, names)
    if drop:
        if collinear == "error":
            # qr_lstsq raises the error naming the column; the fallback covers tolerance edges
            linalg.qr_lstsq(X, np.zeros(X.shape[0]), names)
            raise InputError(
                "regressor(s) " + ", ".join(repr(names[j]) for j in drop) + " are collinear"
            )
        keep = [j for j in range(X.shape[1]) if j not in drop]
        return keep, [names[j] for j in drop]
    return list(range(X.shape[1])), []


def intercept_stata(
    tr: Transformed, frame: ModelFrame, beta: np.ndarray, resid_w: np.ndarray, S: np.ndarray,
    xbar: np.ndarray, cov_args: dict,
) -> dict:
    """The constant as Stata reports it after absorbing fixed effects: ybar - xbar'b, with the
    standard error of the constant in the regression on (x - x_i. + xbar, 1) (xtreg/reghdfe).

    That regression is a reparametrisation of the one on (x - x_i., 1), whose regressors are
    orthogonal (the within-transformed columns have weighted mean zero), so its bread is
    block-diagonal and no second factorisation is needed: with a = ybar the coefficient on 1,
    cons = a - xbar'b and Var(cons) = Var(a) + xbar'Var(b)xbar - 2 xbar'Cov(b, a).
    """
    ybar = tr.means[0]
    cons = float(ybar - xbar @ beta)
    n = S.shape[0]
    one = tr.sw if tr.sw is not None else np.ones(n)
    k = S.shape[1]
    Se = np.column_stack([S, one])
    bread = np.zeros((k + 1, k + 1))
    XtX = S.T @ S
    bread[:k, :k] = np.linalg.inv((XtX + XtX.T) / 2)
    bread[k, k] = 1.0 / float(one @ one)
    V, _, _ = _covariance(Se, resid_w, bread, **cov_args)
    g = np.concatenate([-xbar, [1.0]])
    var = float(g @ V @ g)
    return {"estimate": cons, "std_error": float(math.sqrt(max(var, 0.0)))}


def _fit_ols_frame(frame: ModelFrame, f: Formula, *, vcov, ssc, collinear, spec, t0) -> Result:
    tr = transform(frame, intercept=f.intercept)
    names = (["Intercept"] if (f.intercept and not frame.fe_codes) else []) + list(frame.x_names)
    X = tr.X
    if X.shape[1] == 0:
        raise InputError("the model has no regressors (and no intercept)")
    absorbed = absorbed_by_fe(tr, frame)["X"]
    if absorbed:
        if collinear == "error":
            raise _fe_error(absorbed)
        keep0 = [j for j, nm in enumerate(names) if nm not in absorbed]
        X = X[:, keep0]
        names = [names[j] for j in keep0]
        if X.shape[1] == 0:
            raise _fe_error(absorbed)
    keep, dropped_names = _drop_collinear(X, names, collinear)
    dropped_names = list(absorbed) + list(dropped_names)
    if len(keep) < X.shape[1]:
        X = X[:, keep]
    names = [names[j] for j in keep]
    fitted = linalg.qr_lstsq(X, tr.y, names)
    n = X.shape[0]
    fe = fe_dof(frame.fe_codes, frame.cluster_codes)
    has_fe = bool(frame.fe_codes)
    cov_args = dict(vcov=vcov, ssc=ssc, clusters=frame.cluster_codes, n=n, k=X.shape[1], fe=fe,
                    has_fe=has_fe)
    k = X.shape[1]
    joint = has_fe and (vcov != "cluster" or len(frame.cluster_codes) == 1)
    if joint:
        # the coefficients and the Stata-style constant from one sandwich: the regression on
        # (x - x_i., 1) has a block-diagonal bread (see intercept_stata), so the k x k block of
        # its covariance is exactly the covariance of beta (for two-way clustering the
        # eigenvalue repair acts on the whole matrix, so that case takes the separate path)
        one = tr.sw if tr.sw is not None else np.ones(n)
        bread_e = np.zeros((k + 1, k + 1))
        bread_e[:k, :k] = fitted.bread
        bread_e[k, k] = 1.0 / float(one @ one)
        Se = np.empty((n, k + 1), order="F")
        Se[:, :k] = X
        Se[:, k] = one
        Ve, df, info = _covariance(Se, fitted.resid, bread_e, **cov_args)
        V = Ve[:k, :k].copy()
    else:
        V, df, info = _covariance(X, fitted.resid, fitted.bread, **cov_args)
    r2w, r2f = _r2(frame, tr, fitted.resid)
    diagnostics = {
        "dropped": frame.dropped,
        "small_sample": info,
        "demean": {"method": tr.demean_info.method, "iterations": tr.demean_info.iterations},
        "fixed_effects": {nm: int(L) for nm, L in zip(frame.fe_names, fe["levels"])},
        "rss": float(fitted.resid @ fitted.resid),
    }
    if dropped_names:
        diagnostics["collinear_dropped"] = dropped_names
    if has_fe:
        xidx = [frame.x_names.index(nm) for nm in names]
        xbar = tr.means[1:][xidx]
        if joint:
            g = np.concatenate([-xbar, [1.0]])
            var = float(g @ Ve @ g)
            diagnostics["intercept"] = {"estimate": float(tr.means[0] - xbar @ fitted.beta),
                                        "std_error": float(math.sqrt(max(var, 0.0)))}
        else:
            diagnostics["intercept"] = intercept_stata(tr, frame, fitted.beta, fitted.resid, X, xbar,
                                                       cov_args)
    prov = fast_provenance(t0)
    if frame.file:
        prov["data_file"] = frame.file
    return Result(
        terms=tuple(names),
        params=fitted.beta,
        cov=V,
        nobs=n,
        df_resid=df,
        cov_type=vcov,
        estimator="feols" if has_fe else "ols",
        nobs_dropped=frame.nobs_dropped,
        r2_within=r2w,
        r2_with_fe=r2f,
        diagnostics=diagnostics,
        spec=spec,
        provenance=prov,
    )


@functools.lru_cache(maxsize=1)
def _static_provenance() -> dict:
    from .provenance import provenance

    rec = provenance()
    rec.pop("created", None)
    return rec


def fast_provenance(t0: float | None = None) -> dict:
    """Provenance for an estimate: versions and git commit (looked up once per process), time."""
    import datetime as _dt

    rec = dict(_static_provenance())
    rec["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    if t0 is not None:
        rec["wall_time_seconds"] = round(_time.perf_counter() - t0, 6)
    return rec


# ----------------------------------------------------------------------------- fast path
def twfe_fast(
    y: np.ndarray,
    X: np.ndarray,
    entity_codes: np.ndarray,
    time_codes: np.ndarray,
    cluster_codes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two-way fixed-effects least squares with CR1 clustered SEs, numpy only.

    For a balanced panel (every entity observed once in every period; codes 0..N-1, 0..T-1),
    the exact within transform :math:`\ddot x = x - \bar x_{i\cdot} - \bar x_{\cdot t} + \bar x`
    is used; otherwise it falls back to :func:`linalg.demean`. The covariance is the default of
    :func:`fit` (``ssc="fixest"``): (n-1)/(n-K) * G/(G-1) with K = k + the fixed-effect degrees
    of freedom not nested in the clusters (k + T when clustering by entity). ``cluster_codes``
    defaults to the entity. Returns ``(beta, se)``; equal to ``fit`` on the same data (tested).
    No validation: the caller guarantees finite values and integer codes.
    """
    with linalg.single_threaded_blas():
        return _twfe_fast(y, X, entity_codes, time_codes, cluster_codes)


def _twfe_fast(y, X, entity_codes, time_codes, cluster_codes):
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    e = np.asarray(entity_codes, dtype=np.int64)
    t = np.asarray(time_codes, dtype=np.int64)
    c = e if cluster_codes is None else np.asarray(cluster_codes, dtype=np.int64)
    n, k = X.shape
    N = int(e.max()) + 1
    T = int(t.max()) + 1
    M = np.empty((n, k + 1), order="F")
    M[:, 0] = y
    M[:, 1:] = X
    cell = linalg._balanced_cells(e, t) if n == N * T else None
    if cell is not None and np.isfinite(M).all():
        Md = linalg._demean_grid(M, cell, N, T)
    elif n == N * T:
        ce = np.bincount(e, minlength=N).astype(float)
        ct = np.bincount(t, minlength=T).astype(float)
        me = np.empty((N, k + 1))
        mt = np.empty((T, k + 1))
        for j in range(k + 1):
            me[:, j] = np.bincount(e, weights=M[:, j], minlength=N)
            mt[:, j] = np.bincount(t, weights=M[:, j], minlength=T)
        me /= ce[:, None]
        mt /= ct[:, None]
        Md = M - me[e] - mt[t] + M.mean(axis=0)
    else:
        Md, _ = linalg.demean(M, [e, t])
    yd = Md[:, 0]
    Xd = Md[:, 1:]
    Q, R = np.linalg.qr(Xd)
    Rinv = np.linalg.solve(R, np.eye(k)) if k > 1 else 1.0 / R
    beta = Rinv @ (Q.T @ yd)
    u = yd - Xd @ beta
    bread = Rinv @ Rinv.T
    meat, G = linalg.cluster_meat(Xd * u[:, None], c)
    nested_e = cluster_codes is None or linalg.is_nested(e, c)
    nested_t = linalg.is_nested(t, c)
    Kfe = (N + T - 1) - (N - 1 if nested_e else 0) - (T - 1 if nested_t else 0)
    K = k + Kfe
    V = (n - 1) / (n - K) * G / (G - 1) * (bread @ meat @ bread)
    return beta, np.sqrt(np.clip(np.diag(V), 0.0, None))
