"""Fast numpy paths for the Monte Carlo: TWFE and 2SLS with clustered standard errors.

These functions take plain arrays (outcome, regressors, integer codes) and skip everything a
user-facing estimator does per call (formula parsing, DataFrame validation, missing-value
handling), so thousands of replications cost little more than the arithmetic. They return the one
:class:`~robocarbon.empirics.result.Result`, numerically equal (to 1e-10) to the general path; a
test checks that against a least-squares-dummy-variable fit and, where available, the general
estimators in ``robocarbon.empirics``.

Conventions (Stata reghdfe / R fixest defaults): CR1 clustered covariance

    V = (n - 1) / (n - K) * G / (G - 1) * B M B,

with B = (X'X)^-1 of the within-transformed regressors, M the sum over clusters of the outer
products of the summed scores, G the number of clusters and K the number of regressors plus the
fixed-effect degrees of freedom not nested in the cluster, a nested fixed effect counting one
(with city fixed effects and city clusters: K = k + T), as ``robocarbon.empirics.fe.fit``.
Tests and intervals use a t distribution with G - 1 degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.linalg import demean as _demean_general
from robocarbon.empirics.linalg import qr_lstsq
from robocarbon.empirics.result import Result

__all__ = [
    "PanelLayout",
    "panel_layout",
    "within",
    "cluster_sums",
    "twfe_cluster",
    "iv2sls_cluster",
    "leave_one_out_mean",
]


@dataclass(frozen=True)
class PanelLayout:
    """How the rows of a two-way panel are laid out, so the within transform can be exact.

    ``kind`` is ``"grid"`` (balanced and sorted by entity then time: arrays reshape to
    entity x time), ``"balanced"`` (balanced, any row order) or ``"unbalanced"``.
    """

    kind: str
    entity: np.ndarray
    time: np.ndarray
    n_entity: int
    n_time: int


def panel_layout(entity: np.ndarray, time: np.ndarray) -> PanelLayout:
    """Classify the layout of integer codes ``entity`` (0..G-1) and ``time`` (0..T-1)."""
    entity = np.asarray(entity, dtype=np.int64)
    time = np.asarray(time, dtype=np.int64)
    if entity.shape != time.shape or entity.ndim != 1:
        raise InputError("entity and time codes must be 1-d arrays of the same length")
    if entity.size == 0:
        raise InputError("empty panel")
    G = int(entity.max()) + 1
    T = int(time.max()) + 1
    n = entity.shape[0]
    kind = "unbalanced"
    if n == G * T:
        if np.array_equal(entity, np.repeat(np.arange(G), T)) and np.array_equal(
            time, np.tile(np.arange(T), G)
        ):
            kind = "grid"
        elif np.all(np.bincount(entity * T + time, minlength=G * T) == 1):
            kind = "balanced"
    return PanelLayout(kind, entity, time, G, T)


def _group_means(M: np.ndarray, codes: np.ndarray, G: int) -> np.ndarray:
    cnt = np.bincount(codes, minlength=G).astype(float)
    sums = np.empty((G, M.shape[1]))
    for j in range(M.shape[1]):
        sums[:, j] = np.bincount(codes, weights=M[:, j], minlength=G)
    return sums / cnt[:, None]


def within(M: np.ndarray, layout: PanelLayout) -> np.ndarray:
    """Two-way (entity and time) within transform of the columns of ``M`` (n x p).

    Balanced panels: the exact x - mean_entity - mean_time + mean. Unbalanced panels: alternating
    projections (``robocarbon.empirics.linalg.demean``).
    """
    M = np.asarray(M, dtype=float)
    if M.ndim == 1:
        M = M[:, None]
    if layout.kind == "grid":
        G, T = layout.n_entity, layout.n_time
        C = M.reshape(G, T, -1)
        me = np.add.reduce(C, axis=1) / T  # entity means, G x p
        mt = np.add.reduce(C, axis=0) / G  # time means, T x p
        out = C - me[:, None, :]
        out -= (mt - mt.mean(axis=0))[None, :, :]
        return out.reshape(M.shape)
    if layout.kind == "balanced":
        return (
            M
            - _group_means(M, layout.entity, layout.n_entity)[layout.entity]
            - _group_means(M, layout.time, layout.n_time)[layout.time]
            + M.mean(axis=0)
        )
    out, info = _demean_general(M, [layout.entity, layout.time])
    if not info.converged:
        raise InputError("alternating projections did not converge in the within transform")
    return out


def cluster_sums(scores: np.ndarray, codes: np.ndarray, G: int, layout: PanelLayout | None = None,
                 by_entity: bool = False) -> np.ndarray:
    """G x k matrix of score sums per cluster."""
    if by_entity and layout is not None and layout.kind == "grid":
        return scores.reshape(layout.n_entity, layout.n_time, -1).sum(axis=1)
    S = np.empty((G, scores.shape[1]))
    for j in range(scores.shape[1]):
        S[:, j] = np.bincount(codes, weights=scores[:, j], minlength=G)
    return S


def _chol_solve_bread(Xw: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(X'X)^-1 via a Cholesky factor of the column-scaled cross product (unit diagonal); falls
    back to the pivoted QR of ``qr_lstsq`` (which names a collinear column) when the factor is
    not well conditioned."""
    A = Xw.T @ Xw
    scale = np.sqrt(np.diag(A))
    if np.any(scale <= 1e-12 * max(float(scale.max(initial=0.0)), 1e-300)):
        qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)  # raises InputError naming the column
    As = A / np.outer(scale, scale)
    try:
        c, low = sla.cho_factor(As, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)
        raise
    d = np.abs(np.diag(c))
    if d.min() < 1e-7 * d.max():
        # ill conditioned: let the pivoted QR decide (and name the culprit)
        fit = qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)
        return fit.bread, scale
    bread_s = sla.cho_solve((c, low), np.eye(A.shape[0]), check_finite=False)
    return bread_s / np.outer(scale, scale), scale


def _cluster_cov(bread, scores, cluster, G, n, K, layout, by_entity):
    if G < 2:
        raise InputError(f"clustered covariance needs at least two clusters, got {G}")
    S = cluster_sums(scores, cluster, G, layout, by_entity)
    meat = S.T @ S
    adj = (n - 1) / (n - K) * G / (G - 1)
    V = adj * (bread @ meat @ bread)
    return (V + V.T) / 2.0


def _cluster_setup(layout: PanelLayout, cluster):
    if cluster is None:
        return layout.entity, layout.n_entity, True
    cluster = np.asarray(cluster, dtype=np.int64)
    G = int(cluster.max()) + 1
    by_entity = cluster is layout.entity or np.array_equal(cluster, layout.entity)
    return cluster, G, by_entity


def _fe_params_not_nested(layout: PanelLayout, by_entity: bool, cluster, G) -> int:
    """Fixed-effect degrees of freedom counted in K (the fixest/reghdfe convention, as
    ``robocarbon.empirics.fe``): all G_e + T - 1 levels, where a fixed effect nested in the
    cluster counts as one (with city effects and city clusters: T)."""
    total = layout.n_entity + layout.n_time - 1
    if by_entity:
        return total - layout.n_entity + 1
    nested_e = np.unique(layout.entity * G + cluster).shape[0] == layout.n_entity
    nested_t = np.unique(layout.time * G + cluster).shape[0] == layout.n_time
    return (total - (layout.n_entity - 1 if nested_e else 0)
            - (layout.n_time - 1 if nested_t else 0))


def twfe_cluster(
    y: np.ndarray,
    X: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray,
    cluster: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    layout: PanelLayout | None = None,
    estimator: str = "twfe",
) -> Result:
    """Two-way fixed-effects least squares with cluster-robust (CR1) standard errors.

    Parameters
    ----------
    y, X
        Outcome (n,) and regressors (n, k), without a constant (the fixed effects absorb it).
    entity, time
        Integer codes 0..G-1 and 0..T-1 of the two fixed effects.
    cluster
        Integer cluster codes; ``None`` clusters by ``entity``.
    names
        Names of the columns of ``X``.
    layout
        A precomputed :func:`panel_layout` (reuse it across replications with the same structure).

    Returns
    -------
    Result
        ``estimator`` as given, ``cov_type="cluster"``, ``df_resid = G - 1``; ``r2_within``.

    Notes
    -----
    Estimating equation: y_it = x_it' b + mu_i + lambda_t + e_it. With the within transform
    ~z = z - zbar_i - zbar_t + zbar (exact for balanced panels), b = (~X'~X)^-1 ~X'~y and

        V = (n-1)/(n-K) * G/(G-1) * (~X'~X)^-1 [sum_g S_g S_g'] (~X'~X)^-1,  S_g = sum_{i in g} ~x_it e_it,

    where K = k + the fixed-effect degrees of freedom not nested in the cluster (k + T for city
    effects with city clusters).
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    names = [f"x{j}" for j in range(k)] if names is None else list(names)
    if len(names) != k:
        raise InputError(f"{len(names)} names for {k} regressors")
    if layout is None:
        layout = panel_layout(entity, time)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise InputError("non-finite values in y or X (the fast path takes complete data)")
    W = within(np.column_stack([y, X]), layout)
    yw, Xw = W[:, 0], W[:, 1:]
    bread, _ = _chol_solve_bread(Xw, names)
    beta = bread @ (Xw.T @ yw)
    resid = yw - Xw @ beta
    cl, G, by_entity = _cluster_setup(layout, cluster)
    K = k + _fe_params_not_nested(layout, by_entity, cl, G)
    V = _cluster_cov(bread, Xw * resid[:, None], cl, G, n, K, layout, by_entity)
    rss = float(resid @ resid)
    tss = float(yw @ yw)
    return Result(
        terms=tuple(names),
        params=beta,
        cov=V,
        nobs=n,
        df_resid=G - 1,
        cov_type="cluster",
        estimator=estimator,
        r2_within=(1.0 - rss / tss) if tss > 0 else None,
        spec={"fixed_effects": ["entity", "time"], "path": "fast"},
    )


def iv2sls_cluster(
    y: np.ndarray,
    X_exog: np.ndarray | None,
    X_endog: np.ndarray,
    Z: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray,
    cluster: np.ndarray | None = None,
    *,
    exog_names: Sequence[str] = (),
    endog_names: Sequence[str] = ("endog",),
    instrument_names: Sequence[str] = ("z",),
    layout: PanelLayout | None = None,
    estimator: str = "iv",
) -> Result:
    """Two-stage least squares with two-way fixed effects absorbed and clustered (CR1) errors.

    Terms come in the order endogenous, then exogenous. ``diagnostics`` holds the cluster-robust
    first-stage F of the excluded instruments for each endogenous regressor
    (``first_stage_f``: {name: F}).

    Notes
    -----
    Structural equation y_it = x_it' b + w_it' g + mu_i + lambda_t + e_it with x endogenous,
    instruments z. After the within transform, with W = [w, z] and Xh = P_W [x, w],
    b = (Xh'Xh)^-1 Xh'y, residuals e = y - [x, w] b, and V is the CR1 sandwich of the scores
    Xh e, with the same small-sample factor as :func:`twfe_cluster`.
    """
    y = np.asarray(y, dtype=float)
    Xn = np.asarray(X_endog, dtype=float).reshape(y.shape[0], -1)
    Zi = np.asarray(Z, dtype=float).reshape(y.shape[0], -1)
    Xe = (np.zeros((y.shape[0], 0)) if X_exog is None
          else np.asarray(X_exog, dtype=float).reshape(y.shape[0], -1))
    n = y.shape[0]
    p_n, p_e, p_z = Xn.shape[1], Xe.shape[1], Zi.shape[1]
    if p_z < p_n:
        raise InputError(f"{p_z} instruments for {p_n} endogenous regressors: not identified")
    if layout is None:
        layout = panel_layout(entity, time)
    M = within(np.column_stack([y, Xn, Xe, Zi]), layout)
    yw = M[:, 0]
    Xnw = M[:, 1 : 1 + p_n]
    Xew = M[:, 1 + p_n : 1 + p_n + p_e]
    Ziw = M[:, 1 + p_n + p_e :]
    Xw = np.column_stack([Xnw, Xew])
    Ww = np.column_stack([Xew, Ziw])
    names = list(endog_names) + list(exog_names)
    wnames = list(exog_names) + list(instrument_names)
    # first stage: projection on the instruments through the Cholesky factor of W'W (scaled;
    # an ill-conditioned W falls back to the pivoted QR, which names a collinear instrument)
    bread_w, _ = _chol_solve_bread(Ww, wnames)
    Pi = bread_w @ (Ww.T @ Xw)
    Xh = Ww @ Pi
    bread, _ = _chol_solve_bread(Xh, names)
    beta = bread @ (Xh.T @ yw)
    resid = yw - Xw @ beta
    cl, G, by_entity = _cluster_setup(layout, cluster)
    K = (p_n + p_e) + _fe_params_not_nested(layout, by_entity, cl, G)
    V = _cluster_cov(bread, Xh * resid[:, None], cl, G, n, K, layout, by_entity)
    # first-stage cluster-robust F of the excluded instruments, per endogenous regressor
    fs = {}
    Kw = Ww.shape[1] + _fe_params_not_nested(layout, by_entity, cl, G)
    for j, nm in enumerate(endog_names):
        g = Pi[:, j]
        u = Xnw[:, j] - Ww @ g
        Vw = _cluster_cov(bread_w, Ww * u[:, None], cl, G, n, Kw, layout, by_entity)
        sl = slice(p_e, p_e + p_z)
        gz = g[sl]
        Vz = Vw[sl, sl]
        fs[str(nm)] = float(gz @ sla.solve(Vz, gz, assume_a="pos") / p_z)
    return Result(
        terms=tuple(names),
        params=beta,
        cov=V,
        nobs=n,
        df_resid=G - 1,
        cov_type="cluster",
        estimator=estimator,
        diagnostics={"first_stage_f": fs},
        spec={"fixed_effects": ["entity", "time"], "instruments": list(instrument_names),
              "path": "fast"},
    )


def leave_one_out_mean(x: np.ndarray, group: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Mean of ``x`` over the other entities of the same group (province) and time:
    (sum_{g,t} x - x_it) / (n_{g,t} - 1); NaN where an entity is alone in its group-time cell."""
    x = np.asarray(x, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    time = np.asarray(time, dtype=np.int64)
    cell = group * (int(time.max()) + 1) + time
    m = int(cell.max()) + 1
    s = np.bincount(cell, weights=x, minlength=m)
    c = np.bincount(cell, minlength=m).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (s[cell] - x) / (c[cell] - 1.0)
    out[c[cell] <= 1] = np.nan
    return out
