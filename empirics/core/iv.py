r"""Instrumental variables with absorbed fixed effects on arrays: the one 2SLS/LIML estimator.

:func:`fe_iv` is called by the formula API (:func:`robocarbon.empirics.iv.fit_frame`, which
adds the weak-instrument diagnostics) and by the Monte Carlo
(:func:`robocarbon.simulate.fastpath.iv2sls_cluster`).

With the fixed effects absorbed and weights applied, let R = [X, E] (exogenous, then endogenous
regressors, as linearmodels) and Z = [X, Z_excl]. 2SLS is
:math:`\hat\beta=(\hat R'\hat R)^{-1}\hat R'y` with :math:`\hat R = P_Z R`; LIML is the k-class
estimator with kappa the smallest eigenvalue of :math:`(W'M_Z W)^{-1} W'M_X W`, W = [y, E].
The covariance is the sandwich with score regressors :math:`R - \kappa M_Z R` (kappa = 1 for
2SLS) and K = all regressors plus the non-nested fixed effects (:func:`..covariance.fe_dof`),
as ivreg2/ivreghdfe with ``small``. The first stage of each endogenous regressor (coefficients
on the excluded instruments, their covariance of the same type, the Wald F) comes from the
same factorisation of Z.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla

from ..errors import InputError
from .covariance import covariance
from .lstsq import bread_from_gram, find_collinear, partial_out, qr_lstsq
from .ols import NONFINITE, _as_clusters, _fe_info
from .within import DemeanInfo, PanelLayout, demean

__all__ = ["IVFit", "fe_iv", "wald"]


@dataclass(frozen=True)
class IVFit:
    """What :func:`fe_iv` computed (transformed, weighted arrays)."""

    names: list[str]
    beta: np.ndarray
    cov: np.ndarray
    df_resid: int | None
    nobs: int
    small_sample: dict
    fe: dict
    demean: DemeanInfo
    method: str
    kappa: float
    resid: np.ndarray
    S: np.ndarray  # score regressors
    y: np.ndarray
    X: np.ndarray  # exogenous regressors
    E: np.ndarray  # endogenous regressors
    Z: np.ndarray  # excluded instruments
    first_stage: dict  # {endog name: {"coefficients", "cov", "wald", "f_statistic", "f_df"}}


def wald(b: np.ndarray, V: np.ndarray) -> float:
    """b' V^-1 b, infinite when V is (numerically) singular in a direction where b is not zero
    (a perfect first stage)."""
    w, U = np.linalg.eigh((V + V.T) / 2)
    tol = max(float(w.max(initial=0.0)), 0.0) * 1e-12
    proj = U.T @ b
    if np.any((w <= tol) & (np.abs(proj) > 0)):
        return math.inf
    return float(np.sum(proj**2 / w))


def _kclass(y, R, Xhat, kappa):
    """k-class estimator: beta = [R'(I - k M_Z)R]^-1 R'(I - k M_Z) y with M_Z R = R - Xhat."""
    Rk = R - kappa * (R - Xhat)
    A = Rk.T @ R
    A = (A + A.T) / 2
    b = Rk.T @ y
    c, low = sla.cho_factor(A)
    beta = sla.cho_solve((c, low), b)
    bread = sla.cho_solve((c, low), np.eye(A.shape[0]))
    return beta, bread, Rk


def _block(a, n) -> np.ndarray:
    if a is None:
        return np.zeros((n, 0))
    return np.asarray(a, dtype=float).reshape(n, -1)


def fe_iv(
    y: np.ndarray,
    X_exog: np.ndarray | None,
    X_endog: np.ndarray,
    Z: np.ndarray,
    fe: Sequence[np.ndarray] = (),
    *,
    exog_names: Sequence[str] = (),
    endog_names: Sequence[str] = ("endog",),
    instrument_names: Sequence[str] = ("z",),
    clusters: np.ndarray | Sequence[np.ndarray] | None = None,
    vcov: str = "cluster",
    ssc: str = "fixest",
    weights: np.ndarray | None = None,
    method: str = "2sls",
    solver: str = "qr",
    layout: PanelLayout | None = None,
    transformed: bool = False,
) -> IVFit:
    """2SLS or LIML of ``y`` on [X_exog, X_endog] instrumented by [X_exog, Z], fixed effects
    ``fe`` absorbed; terms in that order (exogenous first). Options as :func:`robocarbon.empirics.core.ols.fe_ols`; ``solver="qr"``
    checks the instruments and the regressors for collinearity by name (and solves by QR),
    ``"cholesky"`` solves through Cholesky factors, falling back to the QR (which names the
    column) when they are not well conditioned."""
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    Xe, En, Zi = _block(X_exog, n), _block(X_endog, n), _block(Z, n)
    p_e, K, L = Xe.shape[1], En.shape[1], Zi.shape[1]
    xnames, enames, znames_ex = list(exog_names), list(endog_names), list(instrument_names)
    if (len(xnames), len(enames), len(znames_ex)) != (p_e, K, L):
        raise InputError("fe_iv: the names do not match the columns of X_exog, X_endog and Z")
    if L < K:
        raise InputError(
            f"under-identified: {K} endogenous regressor(s) {enames} but only {L} "
            f"excluded instrument(s) {znames_ex}"
        )
    method = method.lower()
    if method not in ("2sls", "liml"):
        raise InputError(f"unknown IV method {method!r}; use '2sls' or 'liml'")
    fe_codes = list(fe)
    cl = _as_clusters(clusters, fe_codes)
    has_fe = bool(fe_codes)
    if transformed:
        yw, Xw, Ew, Zw, info = y, Xe, En, Zi, DemeanInfo("given", 0, True)
    else:
        M = np.column_stack([y, Xe, En, Zi])
        if not np.all(np.isfinite(M)):
            raise InputError(NONFINITE)
        if has_fe:
            M, info = demean(M, fe_codes, weights, layout=layout)
            if not info.converged:
                raise InputError(f"the fixed-effect projections did not converge in "
                                 f"{info.iterations} iterations")
        else:
            info = DemeanInfo("none", 0, True)
        if weights is not None:
            M = M * np.sqrt(np.asarray(weights, dtype=float))[:, None]
        yw = M[:, 0]
        Xw = M[:, 1 : 1 + p_e]
        Ew = M[:, 1 + p_e : 1 + p_e + K]
        Zw = M[:, 1 + p_e + K :]
    names = xnames + enames
    znames = xnames + znames_ex
    R = np.column_stack([Xw, Ew])
    Zfull = np.column_stack([Xw, Zw])
    if solver == "qr":
        dropz = find_collinear(Zfull, znames)
        if dropz:
            raise InputError(
                "instrument(s) " + ", ".join(repr(znames[j]) for j in dropz)
                + " are collinear with the other instruments/exogenous regressors (and fixed "
                "effects)"
            )
        dropr = find_collinear(R, names)
        if dropr:
            raise InputError(
                "regressor(s) " + ", ".join(repr(names[j]) for j in dropr)
                + " are collinear with the other regressors (and fixed effects)"
            )
        Qz, _ = np.linalg.qr(Zfull)

        def project(A):
            return Qz @ (Qz.T @ A)
    elif solver == "cholesky":
        bread_z, _ = bread_from_gram(Zfull.T @ Zfull, Zfull, znames)

        def project(A):
            return Zfull @ (bread_z @ (Zfull.T @ A))
    else:
        raise InputError(f"unknown solver {solver!r}; use 'qr' or 'cholesky'")
    Xhat = project(R)
    kappa = 1.0
    if method == "2sls":
        if solver == "qr":
            fitted = qr_lstsq(Xhat, yw, names)
            beta, bread = fitted.beta, fitted.bread
        else:
            bread, _ = bread_from_gram(Xhat.T @ Xhat, Xhat, names)
            beta = bread @ (Xhat.T @ yw)
        S = Xhat
    else:
        W = np.column_stack([yw, Ew])
        MzW = W - project(W)
        MxW = partial_out(W, Xw)
        kappa = float(sla.eigh(MxW.T @ MxW, MzW.T @ MzW, eigvals_only=True)[0])
        beta, bread, S = _kclass(yw, R, Xhat, kappa)
    resid = yw - R @ beta
    fed = _fe_info(fe_codes, cl, layout)
    cov_args = dict(vcov=vcov, ssc=ssc, clusters=cl, n=n, k=R.shape[1], fe=fed, has_fe=has_fe)
    V, df, ssinfo = covariance(S, resid, bread, **cov_args)

    # first stage of each endogenous regressor on all instruments, same covariance type
    first = {}
    fargs = dict(cov_args, k=Zfull.shape[1])
    idx = list(range(p_e, Zfull.shape[1]))
    for j, en in enumerate(enames):
        if solver == "qr":
            fs = qr_lstsq(Zfull, Ew[:, j], znames)
            g, u, bw = fs.beta, fs.resid, fs.bread
        else:
            g = bread_z @ (Zfull.T @ Ew[:, j])
            u = Ew[:, j] - Zfull @ g
            bw = bread_z
        Vf, dff, _ = covariance(Zfull, u, bw, **fargs)
        b = g[idx]
        Vz = Vf[np.ix_(idx, idx)]
        w = wald(b, Vz)
        first[en] = {"coefficients": b, "cov": Vz, "wald": w, "f_statistic": w / L,
                     "f_df": [L, dff]}
    return IVFit(names, beta, V, df, n, ssinfo, fed, info, method, kappa, resid, S, yw, Xw, Ew,
                 Zw, first)

