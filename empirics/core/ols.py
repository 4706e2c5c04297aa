r"""Least squares with absorbed fixed effects on arrays: the one FE-OLS (and TWFE) estimator.

:func:`fe_ols` is called by the formula API (:func:`robocarbon.empirics.fe.fit`, on the arrays
of a model frame), by the Monte Carlo (:func:`robocarbon.simulate.fastpath.twfe_cluster`, on a
draw's arrays) and by :func:`robocarbon.empirics.fe.twfe_fast`. The estimating equation is

.. math:: y_{it} = x_{it}'\beta + \alpha_{g_1(it)} + \dots + \alpha_{g_m(it)} + e_{it},

solved on the data with the fixed effects projected out (:func:`..within.demean`), which by the
Frisch-Waugh-Lovell theorem gives the dummy-variable :math:`\hat\beta`; the covariance is the
sandwich of :func:`..covariance.covariance` with K from the one degrees-of-freedom rule
(:func:`..covariance.fe_dof`).

Routes (the same formulas, chosen by the data, never by the caller's name):

- ``solver="qr"`` (the formula API): pivoted QR of the transformed regressors;
  ``solver="cholesky"`` (the Monte Carlo): the Cholesky factor of the scaled cross product,
  falling back to the QR when a column vanishes or the factor is ill conditioned. Both name
  a collinear column.
- fused (compiled): a grid panel (balanced, sorted by entity then time; :class:`PanelLayout`)
  clustered by entity with the Cholesky solver runs two compiled passes: the within transform,
  then coefficients, residuals, entity score sums and the sandwich.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .covariance import covariance, fe_dof, grid_cov_compiled, small_sample
from .lstsq import bread_from_gram, chol_bread_compiled, qr_lstsq
from .within import DemeanInfo, PanelLayout, demean, grid_within_compiled

__all__ = ["OLSFit", "fe_ols", "stata_constant", "NONFINITE"]

NONFINITE = "non-finite values in y or X (the array path takes complete data)"

#: whether fe_ols takes the compiled fused route when it applies (tests switch it off to
#: compare with the numpy route)
USE_COMPILED = grid_within_compiled is not None and chol_bread_compiled is not None

_FUSED = DemeanInfo("two-way-exact", 1, True)


@dataclass(slots=True)
class OLSFit:
    """What :func:`fe_ols` computed. ``X``/``y``/``resid`` are the transformed (and weighted)
    arrays (``None`` for ``X``/``resid`` on the fused route, which never forms the residuals
    as an array); ``cov_constant`` is the covariance of (beta, constant) when requested."""

    names: list[str]
    beta: np.ndarray
    cov: np.ndarray
    df_resid: int | None
    nobs: int
    bread: np.ndarray
    rss: float
    tss_within: float
    small_sample: dict
    fe: dict
    demean: DemeanInfo
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    resid: np.ndarray | None = None
    cov_constant: np.ndarray | None = None


def _as_clusters(clusters, fe_codes) -> list[np.ndarray]:
    if clusters is None:
        return []
    if isinstance(clusters, np.ndarray):
        return [np.asarray(clusters, dtype=np.int64)]
    return [np.asarray(c, dtype=np.int64) for c in clusters]


def _fe_info(fe_codes, clusters, layout: PanelLayout | None) -> dict:
    """:func:`fe_dof`, remembered on the layout when clustering by its entity codes."""
    if layout is not None and len(clusters) == 1 and clusters[0] is layout.entity:
        info = layout.cache.get("fe_dof_entity")
        if info is None:
            info = layout.cache["fe_dof_entity"] = fe_dof(layout.codes, clusters)
        return info
    return fe_dof(fe_codes, clusters)


def fe_ols(
    y: np.ndarray,
    X: np.ndarray,
    fe: Sequence[np.ndarray] = (),
    *,
    names: Sequence[str] | None = None,
    clusters: np.ndarray | Sequence[np.ndarray] | None = None,
    vcov: str = "cluster",
    ssc: str = "fixest",
    weights: np.ndarray | None = None,
    solver: str = "qr",
    layout: PanelLayout | None = None,
    transformed: bool = False,
    constant: np.ndarray | None = None,
    check_finite: bool = True,
    compiled: bool = True,
) -> OLSFit:
    """Least squares of ``y`` on ``X`` with the fixed effects ``fe`` absorbed.

    Parameters
    ----------
    y, X
        Outcome (n,) and regressors (n, k), without a constant when there are fixed effects.
    fe
        Integer codes (0..G-1) of each fixed effect. With ``layout`` (a
        :class:`~robocarbon.empirics.core.within.PanelLayout`), pass ``layout.codes``.
    names
        Names of the columns of ``X`` (for errors naming a collinear column).
    clusters
        One or two integer code arrays (``vcov="cluster"``).
    vcov, ssc
        Covariance type (``"cluster"``, ``"hc1"``, ``"unadjusted"``) and small-sample
        convention (see :func:`robocarbon.empirics.core.covariance.small_sample`).
    weights
        Positive analytic weights: the transform is weighted and rows are scaled by sqrt(w).
    solver
        ``"qr"`` or ``"cholesky"`` (see the module notes).
    transformed
        ``y`` and ``X`` are already within-transformed and weighted (the formula API transforms
        all the model's columns at once); ``fe`` then only counts degrees of freedom.
    constant
        The (weighted) constant column, when the covariance of the Stata-style constant is
        wanted (``cov_constant``): the regression on (x - x_i., 1) has a block-diagonal bread, so
        its k x k block is exactly the covariance of beta. One-way clusters, HC1, unadjusted.
    check_finite
        Refuse non-finite y or X (the formula API has dropped them already).
    compiled
        Allow the compiled fused route (tests compare it with the numpy route).
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    names = [f"x{j}" for j in range(k)] if names is None else list(names)
    if len(names) != k:
        raise InputError(f"{len(names)} names for {k} regressors")
    if y.shape != (n,):
        raise InputError(f"y has shape {y.shape} for {n} rows of X")
    if isinstance(clusters, np.ndarray):
        clusters = [clusters]
    cl = [] if clusters is None else [c if isinstance(c, np.ndarray) and c.dtype == np.int64
                                      else np.asarray(c, dtype=np.int64) for c in clusters]
    if vcov == "cluster" and not cl:
        raise InputError("clustered covariance requested but no cluster variable given")
    fe_codes = fe if isinstance(fe, list) else list(fe)
    has_fe = bool(fe_codes)
    fed = _fe_info(fe_codes, cl, layout)

    # the compiled fused route: a grid clustered by its entity, Cholesky, nothing else asked
    if (compiled and USE_COMPILED and layout is not None and layout.kind == "grid"
            and solver == "cholesky" and vcov == "cluster" and len(cl) == 1 and not transformed
            and weights is None and constant is None and k > 0
            and n == layout.n_entity * layout.n_time
            and (cl[0] is layout.entity or np.array_equal(cl[0], layout.entity))):
        return _fused_grid(y, X, names, layout, vcov, ssc, fed)

    if transformed:
        yw, Xw, info = y, X, DemeanInfo("given", 0, True)
    else:
        if check_finite and not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
            raise InputError(NONFINITE)
        if has_fe:
            if layout is not None and X.flags.c_contiguous and weights is None:
                M = np.empty((n, k + 1))  # row-major, as the Monte Carlo's arrays
            else:
                M = np.empty((n, k + 1), order="F")
            M[:, 0] = y
            M[:, 1:] = X
            Md, info = demean(M, fe_codes, weights, layout=layout)
            if not info.converged:
                raise InputError(f"the fixed-effect projections did not converge in "
                                 f"{info.iterations} iterations")
            yw, Xw = Md[:, 0], Md[:, 1:]
        else:
            yw, Xw, info = y, X, DemeanInfo("none", 0, True)
        if weights is not None:
            sw = np.sqrt(np.asarray(weights, dtype=float))
            yw, Xw = yw * sw, Xw * sw[:, None]
    if k == 0:
        raise InputError("the model has no regressors")
    if solver == "qr":
        fitted = qr_lstsq(Xw, yw, names)
        beta, bread, resid = fitted.beta, fitted.bread, fitted.resid
    elif solver == "cholesky":
        A = Xw.T @ Xw
        xy = Xw.T @ yw
        if not math.isfinite(float(A.sum()) + float(xy.sum())):
            raise InputError(NONFINITE)
        bread, _ = bread_from_gram(A, Xw, names)
        beta = bread @ xy
        resid = yw - Xw @ beta
    else:
        raise InputError(f"unknown solver {solver!r}; use 'qr' or 'cholesky'")
    rss = float(resid @ resid)
    tss = float(yw @ yw)
    cov_args = dict(vcov=vcov, ssc=ssc, clusters=cl, n=n, k=k, fe=fed, has_fe=has_fe)
    Vc = None
    if constant is not None:
        one = np.asarray(constant, dtype=float)
        bread_e = np.zeros((k + 1, k + 1))
        bread_e[:k, :k] = bread
        bread_e[k, k] = 1.0 / float(one @ one)
        Se = np.empty((n, k + 1), order="F")
        Se[:, :k] = Xw
        Se[:, k] = one
        Vc, df, ssinfo = covariance(Se, resid, bread_e, **cov_args)
        V = Vc[:k, :k].copy()
    else:
        V, df, ssinfo = covariance(Xw, resid, bread, **cov_args)
    return OLSFit(names, beta, V, df, n, bread, rss, tss, ssinfo, fed, info, Xw, yw, resid, Vc)


def _fused_grid(y, X, names, layout: PanelLayout, vcov, ssc, fed) -> OLSFit:
    """The compiled route: within transform (one pass), cross products (BLAS), Cholesky bread,
    then residuals, entity score sums and the sandwich (one pass)."""
    n, k = X.shape
    G, T = layout.n_entity, layout.n_time
    y = np.ascontiguousarray(y)
    X = np.ascontiguousarray(X)
    yw = np.empty(n)
    Xw = np.empty((n, k))
    if grid_within_compiled(y, X, G, T, yw, Xw) != 0.0:  # an entity sum is not finite
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
            raise InputError(NONFINITE)
    A = Xw.T @ Xw
    xy = Xw.T @ yw
    tss = float(yw @ yw)
    bread = np.empty((k, k))
    if chol_bread_compiled(A, bread) != 0:
        bread, _ = bread_from_gram(A, Xw, names)  # names the culprit, or QR fallback
    if G < 2:
        raise InputError(f"clustered covariance needs at least two clusters, got {G}")
    key = ("ssc", ssc, k)
    sc = layout.cache.get(key)
    if sc is None:
        scale, K, gmode = small_sample(ssc, vcov, n=n, k=k, fe=fed, has_fe=True)
        adj = scale * (G / (G - 1) if gmode in ("min", "each") else 1.0)
        sc = layout.cache[key] = (adj, {"ssc": ssc, "K": int(K), "scale": float(scale),
                                        "n_clusters": [int(G)]})
    adj, ssinfo = sc
    beta = np.empty(k)
    V = np.empty((k, k))
    rss = grid_cov_compiled(yw, Xw, bread, xy, G, T, adj, beta, V)
    return OLSFit(names, beta, V, G - 1, n, bread, rss, tss, ssinfo, fed, _FUSED, Xw, yw)


def stata_constant(S: np.ndarray, resid: np.ndarray, one: np.ndarray, ybar: float,
                   xbar: np.ndarray, beta: np.ndarray, cov_args: dict) -> dict:
    """The constant as Stata reports it after absorbing fixed effects: ybar - xbar'b, with the
    standard error of the constant in the regression on (x - x_i. + xbar, 1) (xtreg/reghdfe).

    That regression is a reparametrisation of the one on (x - x_i., 1), whose regressors are
    orthogonal (the within-transformed columns have weighted mean zero), so its bread is
    block-diagonal: with a = ybar the coefficient on 1, cons = a - xbar'b and
    Var(cons) = Var(a) + xbar'Var(b)xbar - 2 xbar'Cov(b, a). ``S`` are the score regressors of
    the fit (the transformed X, the projected regressors of 2SLS, the k-class regressors of
    LIML), ``one`` the (weighted) constant column; the bread is (S'S)^-1 by Cholesky.
    """
    n, k = S.shape
    Se = np.column_stack([S, one])
    bread_e = np.zeros((k + 1, k + 1))
    bread_e[:k, :k] = bread_from_gram(S.T @ S, S, [f"x{j}" for j in range(k)])[0]
    bread_e[k, k] = 1.0 / float(one @ one)
    V, _, _ = covariance(Se, resid, bread_e, **cov_args)
    return constant_from_cov(V, ybar, xbar, beta)


def constant_from_cov(Vc: np.ndarray, ybar: float, xbar: np.ndarray, beta: np.ndarray) -> dict:
    """The Stata-style constant and its standard error from ``OLSFit.cov_constant``."""
    g = np.concatenate([-xbar, [1.0]])
    var = float(g @ Vc @ g)
    return {"estimate": float(ybar - xbar @ beta), "std_error": float(math.sqrt(max(var, 0.0)))}
