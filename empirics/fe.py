"""The formula front door: linear models with absorbed fixed effects, and IV, from a formula
and a DataFrame.

The main entry is :func:`fit` (alias :func:`feols`)::

    fit("lnindco ~ robot + edu + urban | city + year", panel, cluster="city")
    fit("y ~ x | city + year | robot ~ z1 + z2", panel, cluster="city")    # IV-2SLS
    fit("y ~ l(robot, 1) + edu | city + year", panel, entity="city", time="year")

Where the work is done (each piece once, none importing its caller):

- :mod:`robocarbon.empirics.core.frame`: the model frame (formula evaluated on the DataFrame,
  missing rows and singletons dropped) and its within transform;
- :mod:`robocarbon.empirics.core.ols`: :func:`~robocarbon.empirics.core.ols.fe_ols`, the one
  FE least squares, on arrays (the Monte Carlo calls it too);
- :mod:`robocarbon.empirics.iv` (the IV diagnostics) over
  :func:`~robocarbon.empirics.core.iv.fe_iv`, the one IV;
- :mod:`robocarbon.empirics.core.covariance`: the degrees-of-freedom rule, the small-sample
  conventions and the sandwiches.

This module assembles the OLS Result (R-squared, the Stata-style constant, dropped columns) and
keeps the names other modules import from it (``build_frame``, ``transform``, ``SSC_NAMES``,
``fe_dof``, ``twfe_fast``, ...).
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import iv as _iv
from .core.covariance import SSC_NAMES, VCOV_NAMES, covariance, fe_dof, small_sample
from .core.frame import (
    FE_COLLINEAR_RTOL,
    ModelFrame,
    Transformed,
    absorbed_by_fe,
    as_cluster_list,
    build_frame,
    column_array,
    fe_error,
    r_squared,
    transform,
)
from .core.lstsq import find_collinear
from .core.ols import constant_from_cov, fe_ols, stata_constant
from .core.stamp import fast_provenance
from .core.threads import single_threaded_blas
from .errors import InputError
from .formula import Formula, parse_formula
from .result import Result

__all__ = ["fit", "feols", "feiv", "twfe_fast", "build_frame", "transform", "ModelFrame",
           "Transformed", "fe_dof", "small_sample", "SSC_NAMES", "VCOV_NAMES", "column_array",
           "absorbed_by_fe", "find_collinear", "fast_provenance", "FE_COLLINEAR_RTOL"]

# former private names, for code written against them
_covariance = covariance
_fe_error = fe_error
_as_cluster_list = as_cluster_list


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
    vcov, clusters = _resolve_vcov(vcov, as_cluster_list(cluster), f, entity)
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
    with single_threaded_blas():
        if f.is_iv:
            return _iv.fit_frame(frame, f, vcov=vcov, ssc=ssc, collinear=collinear,
                                 method=method, spec=spec, t0=t0)
        return fit_ols_frame(frame, f, vcov=vcov, ssc=ssc, collinear=collinear, spec=spec, t0=t0)




feols = fit


def feiv(formula: str, data, **kwargs) -> Result:
    """IV with absorbed fixed effects: :func:`fit` on a formula that must have an
    ``endog ~ instruments`` part. See :func:`fit` for the options."""
    f = formula if isinstance(formula, Formula) else parse_formula(formula)
    if not f.is_iv:
        raise InputError("feiv: the formula has no IV part ('| endog ~ instruments')")
    return fit(f, data, **kwargs)


def _drop_collinear(X, names, collinear):
    if collinear == "error":
        # the fit's own qr_lstsq (pivoted QR) raises the error naming the collinear column
        return list(range(X.shape[1])), []
    drop = find_collinear(X, names)
    if drop:
        keep = [j for j in range(X.shape[1]) if j not in drop]
        return keep, [names[j] for j in drop]
    return list(range(X.shape[1])), []


def fit_ols_frame(frame: ModelFrame, f: Formula, *, vcov, ssc, collinear, spec, t0) -> Result:
    """The OLS Result of an evaluated model frame: :func:`fe_ols` on its transformed arrays,
    with the R-squared, the Stata-style constant and the dropped columns."""
    tr = transform(frame, intercept=f.intercept)
    names = (["Intercept"] if (f.intercept and not frame.fe_codes) else []) + list(frame.x_names)
    X = tr.X
    if X.shape[1] == 0:
        raise InputError("the model has no regressors (and no intercept)")
    absorbed = absorbed_by_fe(tr, frame)["X"]
    if absorbed:
        if collinear == "error":
            raise fe_error(absorbed)
        keep0 = [j for j, nm in enumerate(names) if nm not in absorbed]
        X = X[:, keep0]
        names = [names[j] for j in keep0]
        if X.shape[1] == 0:
            raise fe_error(absorbed)
    keep, dropped_names = _drop_collinear(X, names, collinear)
    dropped_names = list(absorbed) + list(dropped_names)
    if len(keep) < X.shape[1]:
        X = X[:, keep]
    names = [names[j] for j in keep]
    n = X.shape[0]
    has_fe = bool(frame.fe_codes)
    one = (tr.sw if tr.sw is not None else np.ones(n)) if has_fe else None
    # the coefficients and the Stata-style constant from one sandwich (see fe_ols: the bread
    # is block-diagonal); two-way clustering repairs eigenvalues of the whole matrix, so that
    # case computes the constant's covariance separately
    joint = has_fe and (vcov != "cluster" or len(frame.cluster_codes) == 1)
    fitted = fe_ols(tr.y, X, frame.fe_codes, names=names, clusters=frame.cluster_codes,
                    vcov=vcov, ssc=ssc, solver="qr", transformed=True,
                    constant=one if joint else None)
    r2w, r2f = r_squared(frame, tr, fitted.rss)
    diagnostics = {
        "dropped": frame.dropped,
        "small_sample": fitted.small_sample,
        "demean": {"method": tr.demean_info.method, "iterations": tr.demean_info.iterations},
        "fixed_effects": {nm: int(L) for nm, L in zip(frame.fe_names, fitted.fe["levels"])},
        "rss": fitted.rss,
    }
    if dropped_names:
        diagnostics["collinear_dropped"] = dropped_names
    if has_fe:
        xidx = [frame.x_names.index(nm) for nm in names]
        xbar = tr.means[1:][xidx]
        if joint:
            diagnostics["intercept"] = constant_from_cov(fitted.cov_constant, tr.means[0], xbar,
                                                         fitted.beta)
        else:
            cov_args = dict(vcov=vcov, ssc=ssc, clusters=frame.cluster_codes, n=n, k=X.shape[1],
                            fe=fitted.fe, has_fe=has_fe)
            diagnostics["intercept"] = stata_constant(X, fitted.resid, one, tr.means[0], xbar,
                                                      fitted.beta, cov_args)
    prov = fast_provenance(t0)
    if frame.file:
        prov["data_file"] = frame.file
    return Result(
        terms=tuple(names),
        params=fitted.beta,
        cov=fitted.cov,
        nobs=n,
        df_resid=fitted.df_resid,
        cov_type=vcov,
        estimator="feols" if has_fe else "ols",
        nobs_dropped=frame.nobs_dropped,
        r2_within=r2w,
        r2_with_fe=r2f,
        diagnostics=diagnostics,
        spec=spec,
        provenance=prov,
    )


_fit_ols_frame = fit_ols_frame


# ----------------------------------------------------------------------------- arrays
def twfe_fast(
    y: np.ndarray,
    X: np.ndarray,
    entity_codes: np.ndarray,
    time_codes: np.ndarray,
    cluster_codes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two-way fixed-effects least squares with CR1 clustered SEs on arrays: ``(beta, se)``.

    :func:`~robocarbon.empirics.core.ols.fe_ols` with the entity and time codes as the fixed
    effects (exact two-way transform when every entity-time cell occurs exactly once, else
    alternating projections), the Cholesky solver, and the default convention of :func:`fit`
    (``ssc="fixest"``: (n-1)/(n-K) * G/(G-1), K = k + the fixed-effect degrees of freedom not
    nested in the clusters). ``cluster_codes`` defaults to the entity. No validation beyond
    finiteness: the caller passes integer codes.
    """
    e = np.asarray(entity_codes, dtype=np.int64)
    t = np.asarray(time_codes, dtype=np.int64)
    c = e if cluster_codes is None else np.asarray(cluster_codes, dtype=np.int64)
    with single_threaded_blas():
        res = fe_ols(y, X, [e, t], clusters=[c], vcov="cluster", ssc="fixest",
                     solver="cholesky")
    return res.beta, np.sqrt(np.clip(np.diag(res.cov), 0.0, None))
