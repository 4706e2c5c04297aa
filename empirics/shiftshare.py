"""Shift-share (Bartik) diagnostics: Rotemberg weights and exposure-robust inference.

Setting: regions i = 1..n (here cities, or city-years), sectors k = 1..K, a share matrix
W (n x K, rows may sum to less than one) and sector shocks g (K). The shift-share variable is
B = W g. It is either the regressor itself (OLS, ``instrument=None``) or the instrument for an
endogenous regressor x (IV, just identified). Controls C (with an intercept) and regression
weights w are partialled out first; a double dot denotes the (weighted) residual on C.

Rotemberg weights (Goldsmith-Pinkham, Sorkin and Swift 2020, "Bartik instruments: what, when, why,
and how", AER 110(8)). The Bartik estimate is a weighted sum of the just-identified estimates that
use one sector's shares W_k as the instrument:

    beta_B = sum_k alpha_k beta_k,
    alpha_k = g_k W_k' w ddx / sum_k' g_k' W_k'' w ddx,   beta_k = W_k' w ddy / W_k' w ddx.

Exposure-robust inference (Adao, Kolesar and Morales 2019, "Shift-share designs: theory and
inference", QJE 134(4)). With ddX the residualised shift-share variable, hX the (weighted) least
squares coefficients of ddX on W (the estimated residualised shocks), e the structural residual,
R_X = sum_i w_i ddx_i ddX_i (= sum w ddX^2 in OLS):

    se_AKM^2 = sum_k (hX_k W_k' w e)^2 / R_X^2,

summed within sector clusters first when given. AKM0 imposes the null beta = beta0 in the
residual and inverts the test into a confidence set (a quadratic inequality in beta0; it can be an
interval, the complement of one, or the real line). The formulas follow the ShiftShareSE R
package's ``ivreg_ss``/``reg_ss`` (``ivBartik.fit``/``lmBartik.fit``), including its small-sample
conventions: none for IV; for OLS n/(n-p) (EHW), G/(G-1)(n-1)/(n-p) (region clusters) and
df-corrected homoskedastic variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import data as _data
from .errors import InputError
from .linalg import factorize, qr_lstsq
from .result import Result

__all__ = [
    "shiftshare", "shiftshare_arrays", "rotemberg", "recover_shocks", "shares_matrix", "ShareSolver",
    "design_matrix", "METHODS",
]

METHODS = ("homoskedastic", "ehw", "region_cluster", "akm", "akm0")


# ---------------------------------------------------------------------------------------------
# numpy core
# ---------------------------------------------------------------------------------------------

class ShareSolver:
    """(Weighted) least squares on a share matrix W (n x K), factorised once.

    Shares are sparse and often block diagonal (sectors interacted with periods), so the problem
    is split into the connected components of the region-sector graph and each block is
    factorised by pivoted QR; a rank-deficient block raises :class:`InputError` naming the
    collinear sectors (as linalg.qr_lstsq). ``solve(Y)`` returns the coefficients (K x m) and the
    fitted values (n x m).
    """

    def __init__(self, W: np.ndarray, w: np.ndarray | None = None, names: Sequence | None = None,
                 *, rtol: float = 1e-10) -> None:
        from scipy import linalg as sla
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        W = np.asarray(W, float)
        n, K = W.shape
        names = list(names) if names is not None else list(range(K))
        self.W, self.n, self.K = W, n, K
        self.sw = np.ones(n) if w is None else np.sqrt(np.asarray(w, float))
        r, c = np.nonzero(W)
        A = csr_matrix((np.ones(r.size), (r, n + c)), shape=(n + K, n + K))
        _, lab = connected_components(A, directed=False)
        self.blocks = []
        for comp in np.unique(lab[n:]):
            cols = np.flatnonzero(lab[n:] == comp)
            rows = np.flatnonzero(lab[:n] == comp)
            if rows.size < cols.size:
                raise InputError("more sectors than regions in a block of the share matrix: the "
                                 "sector shocks are not identified",
                                 column=str(names[cols[0]]))
            Wb = W[np.ix_(rows, cols)] * self.sw[rows, None]
            norm = np.linalg.norm(Wb, axis=0)
            Q, R, piv = sla.qr(Wb / norm, mode="economic", pivoting=True)
            d = np.abs(np.diag(R))
            rank = int(np.sum(d > rtol * d[0]))
            if rank < cols.size:
                bad = [str(names[cols[piv[j]]]) for j in range(rank, cols.size)]
                raise InputError("sector share column(s) " + ", ".join(bad[:5]) + " are collinear "
                                 "with the other sectors' shares: the shocks are not identified")
            self.blocks.append((rows, cols, Q, R, piv, norm))

    def solve(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy import linalg as sla

        Y = np.asarray(Y, float).reshape(self.n, -1)
        coef = np.zeros((self.K, Y.shape[1]))
        fitted = np.zeros_like(Y)
        for rows, cols, Q, R, piv, norm in self.blocks:
            b = sla.solve_triangular(R, Q.T @ (Y[rows] * self.sw[rows, None]), check_finite=False)
            bb = np.empty_like(b)
            bb[piv] = b / norm[piv, None]
            coef[cols] = bb
            fitted[rows] = self.W[np.ix_(rows, cols)] @ bb
        return coef, fitted


def _resid(v: np.ndarray, C: np.ndarray | None, w: np.ndarray | None, names=None) -> np.ndarray:
    if C is None or C.shape[1] == 0:
        return np.asarray(v, float).copy()
    return qr_lstsq(C, v, names=names, weights=w).resid


@dataclass(frozen=True)
class _Core:
    beta: float
    first_stage: float | None
    resid: np.ndarray
    ddX: np.ndarray
    ddY1: np.ndarray
    ddY2: np.ndarray
    RX: float
    rank: int


def _fit_core(y1, y2, X, C, w, cnames) -> _Core:
    """beta = pi_1 / pi_2 from the regressions of y1 and y2 on (X, C) (FWL: residualised)."""
    n = y1.shape[0]
    M = np.column_stack([X, C]) if C is not None else X[:, None]
    names = ["<shift-share>"] + list(cnames)
    f1 = qr_lstsq(M, y1, names=names, weights=w)
    if y2 is None:  # OLS: the shift-share variable is the regressor
        beta, fs, resid = float(f1.beta[0]), None, f1.resid
        y2 = X
    else:
        f2 = qr_lstsq(M, y2, names=names, weights=w)
        if f2.beta[0] == 0:
            raise InputError("first-stage coefficient of the instrument is exactly zero")
        beta, fs = float(f1.beta[0] / f2.beta[0]), float(f2.beta[0])
        resid = f1.resid - f2.resid * beta
    ddX = _resid(X, C, w, cnames)
    ddY1 = _resid(y1, C, w, cnames)
    ddY2 = _resid(y2, C, w, cnames)
    wg = np.ones(n) if w is None else w
    RX = float(np.sum(wg * ddY2 * ddX))
    return _Core(beta, fs, resid, ddX, ddY1, ddY2, RX, f1.rank)


def shiftshare_arrays(
    y: np.ndarray,
    x: np.ndarray,
    shares: np.ndarray,
    *,
    instrument: np.ndarray | None = None,
    controls: np.ndarray | None = None,
    control_names: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
    region_clusters: np.ndarray | None = None,
    sector_clusters: np.ndarray | None = None,
    residual_sector: bool = False,
    alpha: float = 0.05,
    beta0: float = 0.0,
    sector_names: Sequence | None = None,
    solver: ShareSolver | None = None,
) -> dict:
    """AKM, AKM0, EHW, region-clustered and homoskedastic inference (numpy in, dict out).

    Parameters
    ----------
    y
        Outcome (n).
    x
        The regressor of interest (n). Without ``instrument`` it is itself the shift-share
        variable (OLS); with it, x is endogenous and instrumented (2SLS, just identified).
    shares
        Share matrix W (n x K). All-zero columns are dropped (they carry no exposure).
    instrument
        Shift-share instrument W g (n), or None.
    controls
        Control matrix (n x p), which should include the intercept.
    weights
        Regression weights (n), or None.
    region_clusters, sector_clusters
        Codes of region clusters (n; for the "region_cluster" SE) and of sector clusters (K;
        AKM and AKM0 sum within them).
    residual_sector
        Add the residual share 1 - sum_k W_ik as a sector when estimating hX (ShiftShareSE's
        ``residual_sector``); its shock is not used in the variance.
    alpha, beta0
        Level of the intervals, and the null for AKM0 and the p-values.
    solver
        A :class:`ShareSolver` of the (non-zero columns of the) shares with the same weights, to
        reuse a factorisation.

    Returns
    -------
    dict
        ``beta``, ``first_stage``, ``n``, and per method in :data:`METHODS` a dict with
        ``std_error``, ``p_value``, ``conf_low``, ``conf_high``; plus ``rank`` and ``dropped_sectors``.

    Notes
    -----
    .. math:: \\widehat{se}_{AKM}^2 = \\frac{\\sum_k \\hat{\\mathcal X}_k^2
              (\\sum_i w_i W_{ik}\\hat e_i)^2}{(\\sum_i w_i \\ddot x_i \\ddot X_i)^2}
    """
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    W = np.asarray(shares, float)
    n = y.shape[0]
    if W.ndim != 2 or W.shape[0] != n or x.shape[0] != n:
        raise InputError(f"shapes do not conform: y {y.shape}, x {x.shape}, shares {W.shape}")
    w = None if weights is None else np.asarray(weights, float)
    if w is not None and not (np.isfinite(w) & (w > 0)).all():
        raise InputError("weights must be positive, finite numbers", column="weights",
                         rows=_data.file_rows(None, ~(np.isfinite(w) & (w > 0))))
    for name, v in (("y", y), ("x", x), ("instrument", instrument)):
        if v is not None and not np.isfinite(np.asarray(v, float)).all():
            raise InputError("missing or non-finite values", column=name,
                             rows=_data.file_rows(None, ~np.isfinite(np.asarray(v, float))))
    if not np.isfinite(W).all():
        raise InputError("missing or non-finite shares", column="shares",
                         rows=_data.file_rows(None, ~np.isfinite(W).all(axis=1)))
    C = None if controls is None else np.asarray(controls, float).reshape(n, -1)
    cnames = list(control_names) if control_names is not None else (
        [f"control{j}" for j in range(C.shape[1])] if C is not None else [])
    K0 = W.shape[1]
    snames = list(sector_names) if sector_names is not None else list(range(K0))
    keep = np.abs(W).sum(axis=0) > 0
    dropped = [snames[j] for j in np.flatnonzero(~keep)]
    W = W[:, keep]
    snames = [s for s, k in zip(snames, keep) if k]
    if sector_clusters is not None:
        sector_clusters = np.asarray(sector_clusters)[keep]

    if instrument is None:
        core = _fit_core(y, None, x, C, w, cnames)
    else:
        core = _fit_core(y, x, np.asarray(instrument, float), C, w, cnames)
    wg = np.ones(n) if w is None else w
    p = core.rank
    rs = residual_sector and not np.allclose(W.sum(axis=1), 1.0)
    W0 = np.column_stack([W, 1.0 - W.sum(axis=1)]) if rs else W
    if solver is None or rs:
        solver = ShareSolver(W0, w, [f"sector {s}" for s in snames] + (["<residual>"] if rs else []))
    hcoef, _ = solver.solve(core.ddX)
    hX = hcoef[: W.shape[1], 0]

    cv = float(stats.norm.ppf(1 - alpha / 2))
    ols = instrument is None
    out: dict = {"beta": core.beta, "first_stage": core.first_stage, "n": n, "rank": p,
                 "n_sectors": int(W.shape[1]), "dropped_sectors": dropped, "alpha": alpha,
                 "beta0": beta0, "estimator": "ols" if ols else "2sls"}
    RX = core.RX
    u = wg * core.resid * core.ddX
    se = {}
    if ols:
        resvar = float(np.sum(wg * core.resid**2)) / (n - p)
        se["homoskedastic"] = np.sqrt(resvar / RX)
        se["ehw"] = np.sqrt(n / (n - p) * float(u @ u)) / RX
    else:
        rss = float(np.sum(wg * core.resid**2))
        den = float(np.sum(wg * core.ddX**2))
        se["homoskedastic"] = np.sqrt(rss / n) / (np.sqrt(den) * abs(core.first_stage))
        se["ehw"] = np.sqrt(float(u @ u) / RX**2)
    if region_clusters is not None:
        codes, G = factorize(np.asarray(region_clusters))
        s = np.bincount(codes, weights=u, minlength=G)
        if ols:
            se["region_cluster"] = np.sqrt(G / (G - 1) * (n - 1) / (n - p) * float(s @ s)) / RX
        else:
            se["region_cluster"] = np.sqrt(float(s @ s) / RX**2)
        out["n_region_clusters"] = G
    else:
        se["region_cluster"] = np.nan

    cR = hX * (W.T @ (wg * core.resid))
    cR0 = hX * (W.T @ (wg * (core.ddY1 - core.ddY2 * beta0)))
    cW = hX * (W.T @ (wg * core.ddY2))
    if sector_clusters is not None:
        sc, Gs = factorize(sector_clusters)
        cR, cR0, cW = (np.bincount(sc, weights=v, minlength=Gs) for v in (cR, cR0, cW))
        out["n_sector_clusters"] = Gs
    se["akm"] = np.sqrt(float(cR @ cR)) / abs(RX)
    se_akm0_null = np.sqrt(float(cR0 @ cR0)) / abs(RX)

    Q = RX**2 / cv**2 - float(cW @ cW)
    Q2 = float(cR @ cW) / Q
    mid = core.beta - Q2
    dis = Q2**2 + float(cR @ cR) / Q
    if Q > 0:
        lo, hi, kind = mid - np.sqrt(dis), mid + np.sqrt(dis), "interval"
    elif dis > 0:
        # the set is the complement of (mid - sqrt(dis), mid + sqrt(dis)): reported, as in
        # ShiftShareSE, with the lower bound above the upper bound
        lo, hi, kind = mid + np.sqrt(dis), mid - np.sqrt(dis), "complement"
    else:
        lo, hi, kind = -np.inf, np.inf, "real line"

    for m in ("homoskedastic", "ehw", "region_cluster", "akm"):
        s_ = float(se[m])
        out[m] = {
            "std_error": s_,
            "p_value": float(2 * stats.norm.sf(abs(core.beta - beta0) / s_)) if np.isfinite(s_) else np.nan,
            "conf_low": core.beta - cv * s_, "conf_high": core.beta + cv * s_,
        }
    out["akm0"] = {
        "std_error": float((hi - lo) / (2 * cv)) if (kind == "interval") else np.inf,
        "p_value": float(2 * stats.norm.sf(abs(core.beta - beta0) / se_akm0_null)),
        "conf_low": float(lo), "conf_high": float(hi), "set": kind,
    }
    return out


def recover_shocks(shares: np.ndarray, shift_share: np.ndarray, *, names=None,
                   weights: np.ndarray | None = None, solver: ShareSolver | None = None
                   ) -> tuple[np.ndarray, dict]:
    """Recover sector shocks g from a shift-share variable B = W g by (weighted) least squares.

    With n > K and W of full column rank the solution is unique, and an (almost) exact fit is a
    check that B really is W times some shocks (n - K over-identifying restrictions). All-zero
    columns get NaN. Returns the shocks and a dict with ``max_abs_error``, ``rms_error``.
    """
    W = np.asarray(shares, float)
    B = np.asarray(shift_share, float)
    keep = np.abs(W).sum(axis=0) > 0
    labels = list(names) if names is not None else list(range(W.shape[1]))
    g = np.full(W.shape[1], np.nan)
    if solver is None:
        solver = ShareSolver(W[:, keep], weights, [labels[j] for j in np.flatnonzero(keep)])
    coef, fitted = solver.solve(B)
    g[keep] = coef[:, 0]
    err = fitted[:, 0] - B
    return g, {"max_abs_error": float(np.abs(err).max()), "rms_error": float(np.sqrt(np.mean(err**2))),
               "n": int(W.shape[0]), "n_sectors": int(keep.sum()),
               "weighted": weights is not None}


def rotemberg(
    y: np.ndarray,
    x: np.ndarray,
    shares: np.ndarray,
    shocks: np.ndarray,
    *,
    controls: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    sector_names: Sequence | None = None,
    industry: Sequence | None = None,
    top: int = 5,
) -> dict:
    """Rotemberg weights of a Bartik instrument (Goldsmith-Pinkham, Sorkin and Swift 2020).

    Parameters
    ----------
    y, x
        Outcome and endogenous regressor (n). For an OLS shift-share regression pass x = y's
        regressor; the weights then decompose the reduced form on the first stage.
    shares, shocks
        W (n x K) and g (K); the instrument is W g.
    controls, weights
        Control matrix (include the intercept) and regression weights.
    sector_names
        Labels of the K columns.
    industry
        Optional label per column to aggregate over (e.g. the industry when the columns are
        industry x period): alpha is summed and beta averaged with weights alpha, as in GPSS.
    top
        Number of rows in the top-industries table.

    Returns
    -------
    dict
        ``table`` (list of rows: sector, alpha, g, beta, mean_share), ``top`` (the ``top`` rows by
        alpha), ``sum_negative``, ``sum_positive``, ``share_negative`` (fraction of sectors with
        alpha < 0), ``n_negative``, ``beta_bartik`` (sum alpha_k beta_k over sectors with
        defined beta) and the same for the aggregated table when ``industry`` is given.

    Notes
    -----
    .. math:: \\hat\\alpha_k = \\frac{g_k W_k' w \\ddot x}{\\sum_{k'} g_{k'} W_{k'}' w \\ddot x},\\qquad
              \\hat\\beta_k = \\frac{W_k' w \\ddot y}{W_k' w \\ddot x},\\qquad
              \\hat\\beta_{Bartik} = \\sum_k \\hat\\alpha_k \\hat\\beta_k
    """
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    W = np.asarray(shares, float)
    g = np.asarray(shocks, float)
    n, K = W.shape
    w = None if weights is None else np.asarray(weights, float)
    wg = np.ones(n) if w is None else w
    C = None if controls is None else np.asarray(controls, float).reshape(n, -1)
    ddx, ddy = _resid(x, C, w), _resid(y, C, w)
    g0 = np.nan_to_num(g)
    Zx = W.T @ (wg * ddx)
    Zy = W.T @ (wg * ddy)
    denom = float(g0 @ Zx)
    if denom == 0:
        raise InputError("the Bartik instrument is orthogonal to the regressor: Rotemberg "
                         "weights are undefined")
    alpha = g0 * Zx / denom
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(Zx != 0, Zy / Zx, np.nan)
    mean_share = np.average(W, axis=0, weights=wg) if wg.sum() > 0 else W.mean(axis=0)
    names = list(sector_names) if sector_names is not None else list(range(K))
    tab = pd.DataFrame({"sector": names, "alpha": alpha, "g": g, "beta": beta, "mean_share": mean_share})
    out = _rotemberg_summary(tab, top)
    if industry is not None:
        ind = pd.Series(list(industry), name="industry")
        t2 = tab.assign(industry=ind.values, ab=tab.alpha * tab.beta.fillna(0.0))
        agg = t2.groupby("industry", sort=False).agg(alpha=("alpha", "sum"), ab=("ab", "sum"),
                                                   g=("g", "mean"), mean_share=("mean_share", "sum"))
        with np.errstate(invalid="ignore", divide="ignore"):
            agg["beta"] = np.where(agg.alpha != 0, agg.ab / agg.alpha, np.nan)
        agg = agg.drop(columns="ab").reset_index().rename(columns={"industry": "sector"})
        out["by_industry"] = _rotemberg_summary(agg[["sector", "alpha", "g", "beta", "mean_share"]], top)
    return out


def _rotemberg_summary(tab: pd.DataFrame, top: int) -> dict:
    a = tab.alpha.to_numpy()
    ok = np.isfinite(tab.beta.to_numpy())
    srt = tab.sort_values("alpha", ascending=False, kind="stable")
    return {
        "table": tab.to_dict("records"),
        "top": srt.head(top).to_dict("records"),
        "sum_negative": float(a[a < 0].sum()),
        "sum_positive": float(a[a > 0].sum()),
        "n_negative": int((a < 0).sum()),
        "share_negative": float((a < 0).mean()) if a.size else np.nan,
        "n_sectors": int(a.size),
        "beta_bartik": float(np.sum(a[ok] * tab.beta.to_numpy()[ok])),
        "alpha_sum": float(a.sum()),
    }


# ---------------------------------------------------------------------------------------------
# DataFrame layer
# ---------------------------------------------------------------------------------------------

def design_matrix(data: pd.DataFrame, controls: Sequence[str], *, intercept: bool = True,
                  file: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Control matrix with an intercept. ``i.col`` or ``C(col)`` makes dummies of ``col`` (first
    level dropped); boolean and text columns are made dummies automatically."""
    cols, names = [], []
    if intercept:
        cols.append(np.ones(len(data)))
        names.append("(Intercept)")
    for spec in controls:
        spec = spec.strip()
        if not spec:
            continue
        cat = False
        name = spec
        if spec.startswith("i."):
            cat, name = True, spec[2:]
        elif spec.startswith("C(") and spec.endswith(")"):
            cat, name = True, spec[2:-1]
        if name not in data.columns:
            raise InputError(f"control {name!r} not found; columns: {list(data.columns)[:20]}",
                             file=file, column=name)
        col = data[name]
        if col.isna().any():
            raise InputError("missing values in a control", file=file, column=name,
                             rows=_data.file_rows(data, col.isna().to_numpy()))
        if not cat and pd.api.types.is_numeric_dtype(col) and col.dtype != bool:
            _data.numeric_column(data, name, file=file)  # raises on inf / overflow
        if col.dtype == bool:
            cols.append(col.to_numpy(float))
            names.append(f"{name}[True]")
        elif cat or not pd.api.types.is_numeric_dtype(col):
            levels = sorted(pd.unique(col))
            for lv in levels[1:]:
                cols.append((col == lv).to_numpy(float))
                names.append(f"{name}[{lv}]")
        else:
            cols.append(col.to_numpy(float))
            names.append(name)
    if not cols:
        return np.zeros((len(data), 0)), []
    return np.column_stack(cols), names


def shares_matrix(
    shares: pd.DataFrame,
    n: int,
    *,
    sector: Sequence[str] = ("industry",),
    share: str = "share",
    row: str = "row",
    data: pd.DataFrame | None = None,
    keys: Sequence[str] | None = None,
    file: str | None = None,
) -> tuple[np.ndarray, list]:
    """The n x K share matrix from a long table (one row per region-row x sector).

    Rows are matched either by ``row`` (1-based data row, as in ShiftShareSE's ADH shares) or by
    ``keys`` (columns present in both tables, e.g. city and year). A sector is the combination of
    the ``sector`` columns (e.g. ``("sic", "t2")`` when shocks vary by period). Regions absent
    from the table get zero shares. Returns the matrix and the sector labels (tuples when
    several columns).
    """
    sector = [sector] if isinstance(sector, str) else list(sector)
    for c in sector + [share]:
        if c not in shares.columns:
            raise InputError(f"shares table lacks column {c!r}; it has {list(shares.columns)}",
                             file=file, column=c)
    s = shares
    if keys:
        if data is None:
            raise InputError("matching shares by keys needs the data table")
        for c in keys:
            if c not in s.columns or c not in data.columns:
                raise InputError(f"key {c!r} must be a column of both the data and the shares",
                                 file=file, column=c)
        pos = pd.Series(np.arange(n), index=pd.MultiIndex.from_frame(data[list(keys)]))
        if not pos.index.is_unique:
            raise InputError(f"data rows are not unique by {list(keys)}", column=keys[0])
        idx = pos.reindex(pd.MultiIndex.from_frame(s[list(keys)])).to_numpy()
        bad = np.isnan(idx)
        if bad.any():
            raise InputError("shares rows with no matching data row", file=file, column=keys[0],
                             rows=_data.file_rows(s, bad))
        r = idx.astype(np.int64)
    else:
        if row not in s.columns:
            raise InputError(f"shares table lacks the row column {row!r} (or give keys)",
                             file=file, column=row)
        rv = _data.numeric_column(s, row, file=file)
        bad = ~np.isfinite(rv) | (rv != np.round(rv)) | (rv < 1) | (rv > n)
        if bad.any():
            raise InputError(f"{row!r} must be the data table's record numbers 1..{n} (record 1 "
                             "is the first data row)", file=file, column=row,
                             rows=_data.file_rows(s, bad))
        r = rv.astype(np.int64) - 1
    for c in sector:
        miss = s[c].isna().to_numpy()
        if miss.any():
            raise InputError("missing sector label", file=file, column=c, rows=_data.file_rows(s, miss))
    v = _data.numeric_column(s, share, file=file)
    bad = ~np.isfinite(v) | (v < 0) | (v > 1)
    if bad.any():
        raise InputError("shares must be numbers in [0, 1]", file=file, column=share,
                         rows=_data.file_rows(s, bad))
    grp = s.groupby(sector, sort=True)
    codes = grp.ngroup().to_numpy()
    if len(sector) == 1:
        labels = list(grp.size().index)
    else:
        labels = [tuple(k) for k in grp.size().index]
    flat = r * len(labels) + codes
    if np.unique(flat).size != flat.size:
        vals, counts = np.unique(flat, return_counts=True)
        dup = np.isin(flat, vals[counts > 1])
        raise InputError("duplicate (row, sector) entries in the shares table", file=file,
                         column=share, rows=_data.file_rows(s, dup))
    W = np.zeros((n, len(labels)))
    W[r, codes] = v
    tot = W.sum(axis=1)
    if (tot > 1 + 1e-6).any():
        over = tot > 1 + 1e-6
        dfile = _data.source_of(data) if data is not None else None
        shown = ", ".join(map(str, _data.file_rows(data, over)[:5]))
        raise InputError(f"the shares of a region sum to more than one (data rows {shown}"
                         + (f" of {dfile}" if dfile else "") + ")", file=file, column=share)
    return W, labels


def shiftshare(
    data: pd.DataFrame,
    shares: pd.DataFrame | np.ndarray,
    *,
    y: str,
    x: str,
    instrument: str | None = None,
    controls: Sequence[str] = (),
    weights: str | None = None,
    cluster: str | None = None,
    sector: Sequence[str] = ("industry",),
    share: str = "share",
    row: str = "row",
    keys: Sequence[str] | None = None,
    sector_cluster: str | None = None,
    residual_sector: bool = False,
    shocks: np.ndarray | None = None,
    alpha: float = 0.05,
    beta0: float = 0.0,
    cov_type: str = "akm",
    top: int = 5,
    file: str | None = None,
) -> Result:
    """Shift-share regression or IV with Rotemberg weights and AKM/AKM0 inference.

    Parameters
    ----------
    data
        Region-level table (one row per region or region-period).
    shares
        Long share table (see :func:`shares_matrix`) or an n x K array.
    y, x, instrument
        Outcome, regressor and (optional) shift-share instrument columns. Without
        ``instrument``, ``x`` must be the shift-share variable.
    controls
        Control columns (``i.col`` for dummies); an intercept is always included.
    weights
        Column of regression weights.
    cluster
        Region cluster column (for the "region_cluster" standard error).
    sector, share, row, keys
        How to read the share table.
    sector_cluster
        Column of the shares table giving a cluster per sector (AKM, AKM0 sum within clusters).
    residual_sector
        Include the residual sector when estimating the shocks in AKM (ShiftShareSE's option).
    shocks
        Sector shocks g (K) for the Rotemberg weights; by default they are recovered from the
        shift-share variable by least squares on the shares (:func:`recover_shocks`), and the fit
        is reported in ``diagnostics["shocks"]``.
    cov_type
        Which standard error goes into ``Result.cov``: one of :data:`METHODS` ("akm" default).
        All are in ``diagnostics["inference"]``.

    Returns
    -------
    Result
        One term, ``x``; ``df_resid`` None (normal intervals); diagnostics ``inference`` (per
        method: std_error, p_value, conf_low, conf_high), ``rotemberg``, ``shocks``,
        ``first_stage``, ``dropped``.
    """
    if cov_type not in METHODS:
        raise InputError(f"cov_type must be one of {METHODS}, got {cov_type!r}")
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame (read files with empirics.data.read_table)")
    dfile = _data.source_of(data)
    if file is None and isinstance(shares, pd.DataFrame):
        file = _data.source_of(shares)
    need = [y, x] + ([instrument] if instrument else []) + ([weights] if weights else []) + (
        [cluster] if cluster else [])
    _data.check_columns(data, need, file=dfile)
    numeric = [y, x] + ([instrument] if instrument else []) + ([weights] if weights else [])
    _data.check_numeric_columns(data, numeric, file=dfile)
    if weights:
        wv_all = _data.numeric_column(data, weights, file=dfile)
        bad = np.isfinite(wv_all) & (wv_all <= 0)
        if bad.any():
            raise InputError("weights must be positive (a zero or negative weight drops or flips a "
                             "region)", file=dfile, column=weights, rows=_data.file_rows(data, bad))
    n_all = len(data)
    if isinstance(shares, pd.DataFrame):
        sector_t = [sector] if isinstance(sector, str) else list(sector)
        W, labels = shares_matrix(shares, n_all, sector=sector_t, share=share, row=row, data=data,
                                  keys=keys, file=file)
        sc = None
        if sector_cluster is not None:
            if sector_cluster not in shares.columns:
                raise InputError(f"sector cluster column {sector_cluster!r} not in the shares table",
                                 file=file, column=sector_cluster)
            m = shares.groupby(sector_t if len(sector_t) > 1 else sector_t[0])[sector_cluster].first()
            sc = m.reindex(labels if len(sector_t) > 1 else labels).to_numpy()
        industry = [lab[0] if isinstance(lab, tuple) else lab for lab in labels]
    else:
        W = np.asarray(shares, float)
        labels = list(range(W.shape[1]))
        sc, industry = None, labels
        sector_t = []
    # drop rows with missing values, and report them
    def _base(spec: str) -> str:
        spec = spec.strip()
        if spec.startswith("i."):
            return spec[2:]
        if spec.startswith("C(") and spec.endswith(")"):
            return spec[2:-1]
        return spec

    used = list(need) + [b for b in (_base(c) for c in controls) if b and b in data.columns]
    miss = data[used].isna().any(axis=1).to_numpy()
    dropped = []
    if miss.any():
        dropped.append({"reason": "missing value in " + ", ".join(used), "rows": int(miss.sum()),
                        "first_rows": _data.file_rows(data, miss)[:5]})
    keep = ~miss
    if not keep.any():
        raise InputError("no complete rows: every row misses a value in " + ", ".join(used),
                         file=dfile)
    d = data.loc[keep]
    Wk = W[keep]
    if cluster:
        G = d[cluster].nunique()
        if G < 2:
            raise InputError(f"region-clustered standard errors need at least two clusters; "
                             f"{cluster!r} has {G} among the rows used", file=dfile, column=cluster)
    nzc_ = np.abs(Wk).sum(axis=0) > 0
    if not nzc_.any():
        raise InputError("every share is zero among the rows used: no exposure to any sector",
                         file=file, column=share)
    Cm, cnames = design_matrix(d, controls, file=dfile)
    wv = d[weights].to_numpy(float) if weights else None
    rc = d[cluster].to_numpy() if cluster else None
    yv, xv = d[y].to_numpy(float), d[x].to_numpy(float)
    zv = d[instrument].to_numpy(float) if instrument else None
    nzc = np.abs(Wk).sum(axis=0) > 0
    solver = ShareSolver(Wk[:, nzc], wv, [labels[j] for j in np.flatnonzero(nzc)])
    res = shiftshare_arrays(yv, xv, Wk, instrument=zv, controls=Cm, control_names=cnames,
                            weights=wv, region_clusters=rc, sector_clusters=sc,
                            residual_sector=residual_sector, alpha=alpha, beta0=beta0,
                            sector_names=labels, solver=solver)
    # Rotemberg weights: the shocks, given or recovered from the shift-share variable
    B = zv if instrument else xv
    if shocks is None:
        g, gfit = recover_shocks(Wk, B, names=labels, weights=wv, solver=solver)
        gfit["source"] = (f"{'weighted ' if wv is not None else ''}least squares of "
                          f"{instrument or x!r} on the shares")
    else:
        g = np.asarray(shocks, float)
        if g.shape != (W.shape[1],):
            raise InputError(f"shocks must have one value per sector ({W.shape[1]}), got {g.shape}")
        err = Wk @ np.nan_to_num(g) - B
        gfit = {"source": "given", "max_abs_error": float(np.abs(err).max()),
                "rms_error": float(np.sqrt(np.mean(err**2)))}
    rot = rotemberg(yv, xv, Wk, g, controls=Cm, weights=wv, sector_names=labels,
                    industry=industry if len(sector_t) > 1 else None, top=top)
    rot["beta_rebuilt_instrument"] = rot["beta_bartik"]
    inference = {m: res[m] for m in METHODS}
    se = inference[cov_type]["std_error"]
    if not np.isfinite(se):
        raise InputError(f"the {cov_type} standard error is not available (give --cluster for "
                         "region_cluster)")
    spec = {"y": y, "x": x, "instrument": instrument, "controls": list(controls),
            "weights": weights, "cluster": cluster, "sector": list(sector_t),
            "sector_cluster": sector_cluster, "residual_sector": residual_sector,
            "alpha": alpha, "beta0": beta0}
    return Result(
        terms=(x,), params=np.array([res["beta"]]), cov=np.array([[se**2]]), nobs=int(keep.sum()),
        df_resid=None, cov_type=cov_type, estimator=res["estimator"],
        nobs_dropped=int(miss.sum()),
        diagnostics={"inference": inference, "first_stage": res["first_stage"],
                     "rotemberg": rot, "shocks": gfit, "dropped": dropped,
                     "n_sectors": res["n_sectors"], "dropped_sectors": res["dropped_sectors"],
                     "n_region_clusters": res.get("n_region_clusters"),
                     "n_sector_clusters": res.get("n_sector_clusters")},
        spec=spec,
    )
