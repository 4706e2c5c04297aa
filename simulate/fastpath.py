"""The Monte Carlo's array entries: the one TWFE and the one IV of ``robocarbon.empirics``
called on a draw's arrays.

There is no second estimator here. :func:`twfe_cluster` is
:func:`robocarbon.empirics.core.ols.fe_ols` with the entity and time codes as the fixed effects,
entity clusters and the Cholesky solver; :func:`iv2sls_cluster` is
:func:`robocarbon.empirics.core.iv.fe_iv`. Each wraps the core's answer in the one
:class:`~robocarbon.empirics.result.Result`, skipping only what a formula fit does per call
(parsing, DataFrame validation, missing-value handling, the weak-instrument battery). They are
numerically equal to ``robocarbon.empirics.fe.fit`` on the same data (tests/test_mc_fastpath.py).

Conventions (Stata reghdfe / R fixest defaults): CR1 clustered covariance

    V = (n - 1) / (n - K) * G / (G - 1) * B M B,

with B = (X'X)^-1 of the within-transformed regressors, M the sum over clusters of the outer
products of the summed scores, G the number of clusters and K the number of regressors plus the
fixed-effect degrees of freedom not nested in the cluster (the one rule,
:func:`robocarbon.empirics.core.covariance.fe_dof`; with city effects and city clusters
K = k + T). Tests and intervals use a t distribution with G - 1 degrees of freedom.

A balanced panel sorted by entity then time (layout ``"grid"``) clustered by entity, the Monte
Carlo's case, runs the core's compiled route (numba; its cache folder is configured here before
the first call). Both entries run with single-threaded BLAS
(:func:`robocarbon.empirics.core.threads.single_threaded_blas`; nested inside the engine's own
entry it costs a counter increment).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from robocarbon.empirics.core import covariance as _cov
from robocarbon.empirics.core import lstsq as _lstsq
from robocarbon.empirics.core import ols as _ols
from robocarbon.empirics.core import within as _within
from robocarbon.empirics.core.iv import fe_iv
from robocarbon.empirics.core.ols import fe_ols
from robocarbon.empirics.core.threads import single_threaded_blas
from robocarbon.empirics.core.within import PanelLayout, demean, panel_layout
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.result import Result

from robocarbon.empirics.core.numba_cache import configure as _configure_numba_cache

_configure_numba_cache()  # numba's cache in the user cache folder, not the source tree

__all__ = [
    "PanelLayout",
    "panel_layout",
    "within",
    "twfe_cluster",
    "iv2sls_cluster",
    "leave_one_out_mean",
]

#: whether twfe_cluster lets the core take the compiled route on grid panels clustered by
#: entity (tests switch it off to compare with the numpy route)
_USE_COMPILED = _ols.USE_COMPILED
#: the core's compiled kernels and the LAPACK Cholesky bread (for the tests that compare them)
_chol_bread = _lstsq.chol_bread_compiled
_bread_from_gram = _lstsq.bread_from_gram
_grid_within_c = _within.grid_within_compiled
_grid_cov = _cov.grid_cov_compiled

#: the spec of every fast-path TWFE Result, frozen once (what Result's constructor makes of
#: {"fixed_effects": ["entity", "time"], "path": "fast"})
_FAST_SPEC = MappingProxyType({"fixed_effects": ("entity", "time"), "path": "fast"})


def within(M: np.ndarray, layout: PanelLayout) -> np.ndarray:
    """Two-way (entity and time) within transform of the columns of ``M`` (n x p): the core's
    :func:`~robocarbon.empirics.core.within.demean` on the layout's codes."""
    M = np.asarray(M, dtype=float)
    if M.ndim == 1:
        M = M[:, None]
    out, info = demean(M, layout.codes, layout=layout)
    if not info.converged:
        raise InputError("alternating projections did not converge in the within transform")
    return out


def _cluster_codes(layout: PanelLayout, cluster):
    if cluster is None:
        return layout.entity
    cluster = np.asarray(cluster, dtype=np.int64)
    if cluster is not layout.entity and np.array_equal(cluster, layout.entity):
        return layout.entity  # the layout's own array: its degrees of freedom are cached
    return cluster


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
    """Two-way fixed-effects least squares with cluster-robust (CR1) standard errors, on arrays.

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
    Estimating equation: y_it = x_it' b + mu_i + lambda_t + e_it, estimated by
    :func:`robocarbon.empirics.core.ols.fe_ols` (``ssc="fixest"``, Cholesky solver):
    with ~z the within transform, b = (~X'~X)^-1 ~X'~y and

        V = (n-1)/(n-K) * G/(G-1) * (~X'~X)^-1 [sum_g S_g S_g'] (~X'~X)^-1,  S_g = sum_{i in g} ~x_it e_it.
    """
    if layout is None:
        layout = panel_layout(entity, time)
    cl = _cluster_codes(layout, cluster)
    with single_threaded_blas():
        fit = fe_ols(y, X, layout.codes, names=names, clusters=[cl], vcov="cluster",
                     ssc="fixest", solver="cholesky", layout=layout, compiled=_USE_COMPILED)
    G = fit.small_sample["n_clusters"][0]
    r2 = (1.0 - fit.rss / fit.tss_within) if fit.tss_within > 0 else None
    # fresh arrays nobody else holds: Result.adopt freezes them in place (no copies)
    return Result.adopt(fit.names, fit.beta, fit.cov, fit.nobs, G - 1, "cluster", estimator,
                        r2_within=r2, spec=_FAST_SPEC)


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

    Terms: endogenous, then exogenous (the estimand first, as the Monte Carlo has always listed
    them; the core, like the formula API, computes exogenous first and the Result lists the
    same numbers permuted). ``diagnostics``
    holds the cluster-robust first-stage F of the excluded instruments for each endogenous
    regressor (``first_stage_f``: {name: F}).

    Notes
    -----
    Structural equation y_it = x_it' b + w_it' g + mu_i + lambda_t + e_it with x endogenous,
    instruments z: :func:`robocarbon.empirics.core.iv.fe_iv` (Cholesky solver). After the within
    transform, with W = [w, z] and Xh = P_W [x, w], b = (Xh'Xh)^-1 Xh'y, residuals
    e = y - [x, w] b, and V is the CR1 sandwich of the scores Xh e, with the small-sample factor
    of :func:`twfe_cluster`.
    """
    if layout is None:
        layout = panel_layout(entity, time)
    cl = _cluster_codes(layout, cluster)
    with single_threaded_blas():
        fit = fe_iv(y, X_exog, X_endog, Z, layout.codes, exog_names=list(exog_names),
                    endog_names=list(endog_names), instrument_names=list(instrument_names),
                    clusters=[cl], vcov="cluster", ssc="fixest", solver="cholesky",
                    layout=layout)
    G = fit.small_sample["n_clusters"][0]
    fs = {str(nm): float(v["f_statistic"]) for nm, v in fit.first_stage.items()}
    p_e = len(fit.names) - len(fit.first_stage)
    order = list(range(p_e, len(fit.names))) + list(range(p_e))  # endogenous first
    return Result(
        terms=tuple(fit.names[j] for j in order),
        params=fit.beta[order],
        cov=fit.cov[np.ix_(order, order)],
        nobs=fit.nobs,
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
