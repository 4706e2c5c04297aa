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

Routes of :func:`twfe_cluster`: a balanced panel sorted by entity then time (layout ``"grid"``)
clustered by entity, the Monte Carlo's case, runs compiled (numba, cached on disk): one pass for
the within transform, BLAS cross products, a Cholesky bread, one pass for residuals, cluster sums
and the sandwich. Other grids run the same formulas in numpy (no n x k temporaries beyond the
transformed data); other layouts use the exact balanced transform or alternating projections.
A vanishing, collinear or ill-conditioned regressor always goes through the LAPACK Cholesky and
the pivoted QR of ``robocarbon.empirics.linalg.qr_lstsq``, which names the column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import linalg as sla
from scipy.linalg.lapack import dpotrf, dpotri

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.linalg import demean as _demean_general
from robocarbon.empirics.linalg import qr_lstsq
from robocarbon.empirics.result import Result

try:  # numba is a dependency; without it the numpy path below serves
    from numba import njit as _njit
except ImportError:  # pragma: no cover
    _njit = None

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
    #: per-layout constants computed on first use (ones vectors, cluster setup); never part of
    #: equality, and only ever filled with values derived from the fields above
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def ones(self, m: int) -> np.ndarray:
        """A read-only vector of ``m`` ones (cached)."""
        key = ("ones", m)
        v = self.cache.get(key)
        if v is None:
            v = np.ones(m)
            v.setflags(write=False)
            self.cache[key] = v
        return v


_NONFINITE = "non-finite values in y or X (the fast path takes complete data)"


#: the spec of every fast-path TWFE Result, frozen once (what Result's constructor makes of
#: {"fixed_effects": ["entity", "time"], "path": "fast"})
_FAST_SPEC = MappingProxyType({"fixed_effects": ("entity", "time"), "path": "fast"})


def _cluster_result(names: list[str], beta: np.ndarray, V: np.ndarray, n: int, G: int,
                    estimator: str, r2_within: float | None) -> Result:
    """The Result of a fast-path fit: ``beta`` and ``V`` are fresh arrays nobody else holds,
    handed over to :meth:`Result.adopt` (frozen in place, not copied)."""
    return Result.adopt(names, beta, V, n, G - 1, "cluster", estimator, r2_within=r2_within,
                        spec=_FAST_SPEC)


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


def _grid_within(M: np.ndarray, layout: PanelLayout) -> np.ndarray:
    """Exact two-way within transform of the columns of ``M`` (n x p) when the rows form the
    entity x time grid: x - mean_entity - (mean_time - mean).

    Written for speed on row-major data with few columns: entity sums by one batched
    vector-matrix product, time sums by one matrix-vector product, the entity means broadcast
    by ``np.repeat`` (a strided broadcast with a short inner loop costs twice as much) and the
    time deviations subtracted along rows of length T p."""
    G, T = layout.n_entity, layout.n_time
    p = M.shape[1]
    C = M.reshape(G, T, p)
    me = np.matmul(layout.ones(T), C)  # entity sums, G x p
    me /= T
    mt = layout.ones(G) @ M.reshape(G, T * p)  # time sums, T p
    mt /= G
    mt = mt.reshape(T, p)
    dev = mt - np.add.reduce(mt, axis=0) / T  # time means minus the grand mean, T x p
    out = np.repeat(me, T, axis=0)
    np.subtract(M, out, out=out)
    rows = out.reshape(G, T * p)  # a view: rows of length T p
    rows -= dev.reshape(T * p)
    return out


def _grid_within_vector(v: np.ndarray, layout: PanelLayout) -> np.ndarray:
    """:func:`_grid_within` of one column (n,), on the G x T matrix directly."""
    G, T = layout.n_entity, layout.n_time
    V = v.reshape(G, T)
    me = V @ layout.ones(T)
    me /= T
    mt = layout.ones(G) @ V
    mt /= G
    out = V - me[:, None]
    out -= mt - np.add.reduce(mt) / T
    return out.reshape(v.shape)


# ---------------------------------------------------------------------------- compiled grid fit
# The TWFE fit of a grid panel: two compiled passes over the data (numba, cached on disk):
# every numpy step above is a pass over memory with a temporary array, and for a 3,406 x 8
# panel the passes and the per-call overhead, not the arithmetic, take the time. Same formulas,
# no fast-math: sums run in a fixed order (per entity, then over entities), so results are
# deterministic and agree with the numpy path to rounding (tests/test_mc_fastpath.py).
def _jit(fn):
    if _njit is None:  # pragma: no cover - numba is a dependency
        return None
    return _njit(cache=True, nogil=True)(fn)


def _grid_within_py(y, X, G, T, yw, Xw):
    """Within transform of y (n,) and X (n, k) on the G x T grid into ``yw`` and ``Xw``, by
    the formulas of :func:`_grid_within` (entity means, then time means minus the grand mean).
    Returns a flag, 0 when every entity sum is finite, else NaN: a non-finite input makes its
    entity sum non-finite (so does an overflow: the caller then scans the inputs)."""
    n, k = X.shape
    me = np.zeros((G, k))
    mt = np.zeros((T, k))
    mey = np.zeros(G)
    mty = np.zeros(T)
    for g in range(G):
        for t in range(T):
            i = g * T + t
            v = y[i]
            mey[g] += v
            mty[t] += v
            for j in range(k):
                v = X[i, j]
                me[g, j] += v
                mt[t, j] += v
    flag = 0.0  # x * 0 is 0 for every finite x, NaN otherwise
    for g in range(G):
        flag += mey[g] * 0.0
        mey[g] /= T
        for j in range(k):
            flag += me[g, j] * 0.0
            me[g, j] /= T
    grand = np.zeros(k)
    grand_y = 0.0
    for t in range(T):
        mty[t] /= G
        grand_y += mty[t]
        for j in range(k):
            mt[t, j] /= G
            grand[j] += mt[t, j]
    for t in range(T):
        mty[t] -= grand_y / T
        for j in range(k):
            mt[t, j] -= grand[j] / T
    for g in range(G):
        for t in range(T):
            i = g * T + t
            yw[i] = (y[i] - mey[g]) - mty[t]
            for j in range(k):
                Xw[i, j] = (X[i, j] - me[g, j]) - mt[t, j]
    return flag


def _chol_bread_py(A, bread):
    """(A)^-1 into ``bread`` by the Cholesky factor of the column-scaled A (unit diagonal), as
    :func:`_bread_from_gram` does with LAPACK (potrf, then the inverse from the factor as potri
    forms it: inv(U) inv(U)'). Returns 0, or 1 (a column vanishes), 2 (not positive definite)
    or 3 (factor ill conditioned): the caller then takes :func:`_bread_from_gram`, which names
    the culprit or falls back to the pivoted QR."""
    k = A.shape[0]
    if k == 0:
        return 1
    s = np.empty(k)
    smax = 0.0
    for j in range(k):
        s[j] = math.sqrt(A[j, j])
        if s[j] > smax:
            smax = s[j]
    for j in range(k):
        if not s[j] > 1e-12 * max(smax, 1e-300):
            return 1
    U = np.zeros((k, k))
    for j in range(k):  # right-looking on the upper triangle: U'U = A / (s s')
        d = A[j, j] / (s[j] * s[j])
        for p in range(j):
            d -= U[p, j] * U[p, j]
        if not d > 0.0:
            return 2
        d = math.sqrt(d)
        U[j, j] = d
        for i in range(j + 1, k):
            v = A[j, i] / (s[j] * s[i])
            for p in range(j):
                v -= U[p, j] * U[p, i]
            U[j, i] = v / d
    dmin = U[0, 0]
    dmax = U[0, 0]
    for j in range(k):
        dmin = min(dmin, U[j, j])
        dmax = max(dmax, U[j, j])
    if dmin < 1e-7 * dmax:
        return 3
    W = np.zeros((k, k))  # inv(U), upper triangular
    for j in range(k):
        W[j, j] = 1.0 / U[j, j]
        for i in range(j - 1, -1, -1):
            v = 0.0
            for p in range(i + 1, j + 1):
                v += U[i, p] * W[p, j]
            W[i, j] = -v / U[i, i]
    for i in range(k):  # inv(U) inv(U)', unscaled
        for j in range(i, k):
            v = 0.0
            for p in range(j, k):
                v += W[i, p] * W[j, p]
            v /= s[i] * s[j]
            bread[i, j] = v
            bread[j, i] = v
    return 0


def _grid_cov_py(yw, Xw, bread, xy, G, T, adj, beta, V):
    """beta = bread xy; residuals e = yw - Xw beta; the CR1 covariance by entity,
    V = adj * bread [sum_g S_g S_g'] bread with S_g = sum_t Xw_gt e_gt, symmetric by
    construction. Returns the residual sum of squares."""
    n, k = Xw.shape
    for j in range(k):
        v = 0.0
        for m in range(k):
            v += bread[j, m] * xy[m]
        beta[j] = v
    meat = np.zeros((k, k))
    S = np.empty(k)
    rss = 0.0
    for g in range(G):
        for j in range(k):
            S[j] = 0.0
        for t in range(T):
            i = g * T + t
            e = yw[i]
            for j in range(k):
                e -= Xw[i, j] * beta[j]
            rss += e * e
            for j in range(k):
                S[j] += Xw[i, j] * e
        for j in range(k):
            for m in range(j + 1):
                meat[j, m] += S[j] * S[m]
    for j in range(k):
        for m in range(j):
            meat[m, j] = meat[j, m]
    BM = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            v = 0.0
            for p in range(k):
                v += bread[i, p] * meat[p, j]
            BM[i, j] = v
    for i in range(k):
        for j in range(i, k):
            v = 0.0
            for p in range(k):
                v += BM[i, p] * bread[p, j]
            V[i, j] = adj * v
    for i in range(k):
        for j in range(i):
            V[i, j] = V[j, i]
    return rss


_grid_within_c = _jit(_grid_within_py)
_chol_bread = _jit(_chol_bread_py)
_grid_cov = _jit(_grid_cov_py)
#: whether twfe_cluster takes the compiled route on grid panels clustered by entity (tests
#: switch it off to compare with the numpy route)
_USE_COMPILED = _grid_within_c is not None


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
        return _grid_within(M, layout)
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
        return np.matmul(layout.ones(layout.n_time),
                         scores.reshape(layout.n_entity, layout.n_time, -1))
    S = np.empty((G, scores.shape[1]))
    for j in range(scores.shape[1]):
        S[:, j] = np.bincount(codes, weights=scores[:, j], minlength=G)
    return S


def _bread_from_gram(A: np.ndarray, Xw: np.ndarray, names: Sequence[str]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(X'X)^-1 from the cross product ``A = Xw'Xw`` via a Cholesky factor of the column-scaled
    matrix (unit diagonal; LAPACK potrf then potri); falls back to the pivoted QR of
    ``qr_lstsq`` on ``Xw`` (which names a collinear column) when a column vanishes, the matrix
    is not positive definite or the factor is not well conditioned."""
    k = A.shape[0]
    scale = np.sqrt(A.diagonal())
    if k == 0 or scale.min() <= 1e-12 * max(float(scale.max()), 1e-300):
        qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)  # raises InputError naming the column
    ss = np.outer(scale, scale)
    c, info = dpotrf(A / ss, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)
        if info > 0:
            raise np.linalg.LinAlgError(f"{info}-th leading minor not positive definite")
        raise ValueError(f"potrf: illegal value in argument {-info}")  # pragma: no cover
    d = np.abs(c.diagonal())
    if d.min() < 1e-7 * d.max():
        # ill conditioned: let the pivoted QR decide (and name the culprit)
        fit = qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)
        return fit.bread, scale
    inv, info = dpotri(c, lower=0, overwrite_c=1)
    if info != 0:  # pragma: no cover - a unit-diagonal factor checked above is nonsingular
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    lower = _lower_indices(k)
    inv[lower] = inv.T[lower]  # potri fills the upper triangle only
    inv /= ss
    return inv, scale


_LOWER: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _lower_indices(k: int) -> tuple[np.ndarray, np.ndarray]:
    idx = _LOWER.get(k)
    if idx is None:
        idx = _LOWER[k] = np.tril_indices(k, -1)
    return idx


def _chol_solve_bread(Xw: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(X'X)^-1 of the columns of ``Xw`` (see :func:`_bread_from_gram`)."""
    return _bread_from_gram(Xw.T @ Xw, Xw, names)


def _cluster_cov(bread, scores, cluster, G, n, K, layout, by_entity):
    if G < 2:
        raise InputError(f"clustered covariance needs at least two clusters, got {G}")
    S = cluster_sums(scores, cluster, G, layout, by_entity)
    meat = S.T @ S
    adj = (n - 1) / (n - K) * G / (G - 1)
    V = adj * (bread @ meat @ bread)
    return (V + V.T) / 2.0


def _cluster_info(layout: PanelLayout, cluster) -> tuple[np.ndarray, int, bool, int]:
    """(codes, G, by_entity, fixed-effect parameters counted in K) of a cluster variable;
    cached on the layout when clustering by entity (``cluster=None``)."""
    if cluster is None:
        info = layout.cache.get("cluster_entity")
        if info is None:
            cl, G, by_entity = _cluster_setup(layout, None)
            info = (cl, G, by_entity, _fe_params_not_nested(layout, by_entity, cl, G))
            layout.cache["cluster_entity"] = info
        return info
    cl, G, by_entity = _cluster_setup(layout, cluster)
    return cl, G, by_entity, _fe_params_not_nested(layout, by_entity, cl, G)


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
    grid = layout.kind == "grid" and y.shape == (n,) and n == layout.n_entity * layout.n_time
    cl, G, by_entity, K_fe = _cluster_info(layout, cluster)
    compiled = grid and by_entity and _USE_COMPILED
    if compiled:
        # compiled: within transform (one pass), cross products (BLAS), Cholesky bread, then
        # residuals, cluster sums and the sandwich (one pass)
        T = layout.n_time
        y = np.ascontiguousarray(y)
        X = np.ascontiguousarray(X)
        yw = np.empty(n)
        Xw = np.empty((n, k))
        if _grid_within_c(y, X, G, T, yw, Xw) != 0.0:  # an entity sum is not finite
            if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
                raise InputError(_NONFINITE)
        A = Xw.T @ Xw
        xy = Xw.T @ yw
        tss = float(yw @ yw)
        bread = np.empty((k, k))
        if _chol_bread(A, bread) != 0:
            bread, _ = _bread_from_gram(A, Xw, names)  # names the culprit, or QR fallback
        if G < 2:
            raise InputError(f"clustered covariance needs at least two clusters, got {G}")
        K = k + K_fe
        beta = np.empty(k)
        V = np.empty((k, k))
        rss = _grid_cov(yw, Xw, bread, xy, G, T, (n - 1) / (n - K) * G / (G - 1), beta, V)
    else:
        if grid:
            # non-finite inputs make the cross products non-finite (NaN/inf propagate through
            # the means into every row of their column), so the data are scanned only then
            with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: refused below
                yw = _grid_within_vector(y, layout)
                Xw = _grid_within(X, layout)
                A = Xw.T @ Xw
                xy = Xw.T @ yw
                tss = float(yw @ yw)
                finite = math.isfinite(float(A.sum()) + float(xy.sum()) + tss)
            if not finite and not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
                raise InputError(_NONFINITE)
        else:
            if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
                raise InputError(_NONFINITE)
            W = within(np.column_stack([y, X]), layout)
            yw, Xw = W[:, 0], W[:, 1:]
            A = Xw.T @ Xw
            xy = Xw.T @ yw
            tss = float(yw @ yw)
        bread, _ = _bread_from_gram(A, Xw, names)
        beta = bread @ xy
        K = k + K_fe
        if G < 2:
            raise InputError(f"clustered covariance needs at least two clusters, got {G}")
        resid = yw - Xw @ beta
        if grid and by_entity:
            # score sums per city, S_g = sum_t ~x_gt e_gt, without forming the n x k scores
            S = np.matmul(resid.reshape(G, 1, layout.n_time),
                          Xw.reshape(G, layout.n_time, k)).reshape(G, k)
        else:
            S = cluster_sums(Xw * resid[:, None], cl, G, layout, by_entity)
        rss = float(resid @ resid)
        V = (n - 1) / (n - K) * G / (G - 1) * (bread @ (S.T @ S) @ bread)
        V += V.T
        V /= 2.0
    return _cluster_result(names, beta, V, n, G, estimator,
                           (1.0 - rss / tss) if tss > 0 else None)


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
    Xw = M[:, 1 : 1 + p_n + p_e]  # [endogenous, exogenous]: adjacent columns of M
    Ww = M[:, 1 + p_n :]  # [exogenous, instruments]
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
