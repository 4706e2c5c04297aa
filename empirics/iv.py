"""Instrumental-variables estimation (2SLS, LIML) with absorbed fixed effects: the formula
API's IV Result and its weak-instrument diagnostics.

Use the formula's IV part through :func:`robocarbon.empirics.fe.fit` (or
:func:`robocarbon.empirics.fe.feiv`)::

    fit("lnindco ~ edu + urban | city + year | robot ~ iv_loo", panel, cluster="city")
    fit("y ~ x | endog ~ z1 + z2", data, vcov="hc1", method="liml")

The estimator itself is :func:`robocarbon.empirics.core.iv.fe_iv` (the Monte Carlo calls it
too); this module adds the first-stage table, Kleibergen-Paap, Cragg-Donald, Stock-Yogo,
Hansen J and the Anderson-Rubin set.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from . import weakiv
from .core.frame import ModelFrame, absorbed_by_fe, fe_error, r_squared, transform
from .core.iv import fe_iv
from .core.ols import stata_constant
from .core.stamp import fast_provenance
from .errors import InputError
from .formula import Formula
from .result import Result

__all__ = ["fit_frame"]


def fit_frame(frame: ModelFrame, f: Formula, *, vcov, ssc, collinear, method, spec, t0) -> Result:
    """Estimate an IV model on an evaluated :class:`fe.ModelFrame`.

    Notes
    -----
    With fixed effects absorbed and weights applied, let R = [X, E] (exogenous and endogenous
    regressors) and Z = [X, Z_excl]. 2SLS is :math:`\\hat\\beta=(\\hat R'\\hat R)^{-1}\\hat R'y`,
    :math:`\\hat R = P_Z R`; LIML is the k-class estimator with kappa the smallest eigenvalue of
    :math:`(W'M_Z W)^{-1} W'M_X W`, W = [y, E]. The covariance is the sandwich with scores
    :math:`(R - \\kappa M_Z R)_i u_i` (kappa = 1 for 2SLS) and the small-sample convention of
    ``ssc`` (K = all regressors plus non-nested fixed effects), as ivreg2/ivreghdfe with
    ``small``.

    Diagnostics (``diagnostics["first_stage"]``, ``["weak_iv"]``, ``["overid"]``,
    ``["anderson_rubin"]``) are computed after partialling out X and the fixed effects:
    first-stage coefficients and the F test of the excluded instruments per endogenous regressor
    (same covariance type), Kleibergen-Paap rk LM (under-identification) and Wald F,
    Cragg-Donald Wald F, Stock-Yogo critical values, Hansen J (robust/cluster) or Sargan
    (unadjusted) when over-identified, and the Anderson-Rubin set for one endogenous regressor.
    The F scalings follow ivreg2: CD F = mineig * (n - L_all - F)/L; KP F clustered =
    chi2/(n-1) * (n - L_all - F) * (G-1)/G / L; robust = chi2/n * (n - L_all - F)/L, where L_all
    counts all instruments (included exogenous, ``Intercept``) and F the fixed-effect degrees of
    freedom counted in K.
    """
    method = method.lower()
    if method not in ("2sls", "liml"):
        raise InputError(f"unknown IV method {method!r}; use '2sls' or 'liml'")
    tr = transform(frame, intercept=f.intercept)
    xnames = (["Intercept"] if (f.intercept and not frame.fe_codes) else []) + list(frame.x_names)
    Xex, E, Z, y = tr.X, tr.E, tr.Z, tr.y
    K = E.shape[1]
    L = Z.shape[1]
    if L < K:
        raise InputError(
            f"under-identified: {K} endogenous regressor(s) {frame.endog_names} but only {L} "
            f"excluded instrument(s) {frame.z_names}"
        )
    absorbed = absorbed_by_fe(tr, frame)
    if absorbed["X"] or absorbed["E"]:
        raise fe_error(absorbed["X"] + absorbed["E"], hint=False)
    if absorbed["Z"]:
        raise fe_error(absorbed["Z"], "instrument(s)", hint=False)
    est = fe_iv(y, Xex, E, Z, frame.fe_codes, exog_names=xnames,
                endog_names=list(frame.endog_names), instrument_names=list(frame.z_names),
                clusters=frame.cluster_codes, vcov=vcov, ssc=ssc, method=method, solver="qr",
                transformed=True)
    names = est.names
    R = np.column_stack([Xex, E])  # the term order of fe_iv: exogenous first
    Zfull = np.column_stack([Xex, Z])
    n = y.shape[0]
    beta, resid, S, kappa = est.beta, est.resid, est.S, est.kappa
    V, df, info = est.cov, est.df_resid, est.small_sample
    fed = est.fe
    has_fe = bool(frame.fe_codes)
    cov_args = dict(vcov=vcov, ssc=ssc, clusters=frame.cluster_codes, n=n, k=R.shape[1], fe=fed,
                    has_fe=has_fe)
    r2w, r2f = r_squared(frame, tr, float(resid @ resid))
    # ---------------------------------------------------------------- diagnostics
    fe_extra = info["K"] - R.shape[1]  # fixed-effect dof counted in K
    Et = weakiv.partial_out(E, Xex)
    Zt = weakiv.partial_out(Z, Xex)
    yt = weakiv.partial_out(y[:, None], Xex)[:, 0]
    dof = n - Zfull.shape[1] - fe_extra
    first = {}
    for j, en in enumerate(frame.endog_names):
        fs1 = est.first_stage[en]
        b, Vz, wald, F = fs1["coefficients"], fs1["cov"], fs1["wald"], fs1["f_statistic"]
        dff = fs1["f_df"][1]
        pr2 = 1.0 - float(np.sum((Et[:, j] - Zt @ np.linalg.lstsq(Zt, Et[:, j], rcond=None)[0]) ** 2)) / float(Et[:, j] @ Et[:, j])
        first[en] = {
            "coefficients": {zn: float(v) for zn, v in zip(frame.z_names, b)},
            "std_errors": {zn: float(math.sqrt(max(Vz[i, i], 0))) for i, zn in enumerate(frame.z_names)},
            "f_statistic": F,
            "f_df": [L, dff],
            "f_pvalue": float(stats.f.sf(F, L, dff)) if dff else float(stats.chi2.sf(wald, L)),
            "partial_r2": pr2,
        }
    cd = weakiv.cragg_donald(Et, Zt, dof=dof)
    clusters = frame.cluster_codes
    kp_lm = weakiv.kleibergen_paap(Et, Zt, vcov=vcov, clusters=clusters, kind="lm")
    kp_w = weakiv.kleibergen_paap(Et, Zt, vcov=vcov, clusters=clusters, kind="wald")
    if vcov == "cluster":
        G = min(info["n_clusters"])
        kp_f = kp_w["statistic"] / (n - 1) * dof * (G - 1) / G / L
        lm_stat = kp_lm["statistic"]
    else:
        kp_f = kp_w["statistic"] / n * dof / L
        lm_stat = kp_lm["statistic"] / n * (n - fe_extra) if vcov != "unadjusted" else kp_lm["statistic"]
    weak = {
        "kp_rk_lm": lm_stat,
        "kp_rk_lm_df": kp_lm["df"],
        "kp_rk_lm_pvalue": float(stats.chi2.sf(lm_stat, kp_lm["df"])),
        "kp_rk_wald_f": kp_f if vcov != "unadjusted" else cd["cragg_donald_f"],
        "cragg_donald_f": cd["cragg_donald_f"],
        "anderson_lm": cd["anderson_lm"],
        "anderson_lm_pvalue": cd["anderson_lm_pvalue"],
        "stock_yogo": weakiv.stock_yogo(K, L, "liml" if method == "liml" else "2sls"),
        "n_endogenous": K,
        "n_instruments": L,
    }
    diagnostics = {
        "dropped": frame.dropped,
        "small_sample": info,
        "demean": {"method": tr.demean_info.method, "iterations": tr.demean_info.iterations},
        "fixed_effects": {nm: int(Lv) for nm, Lv in zip(frame.fe_names, fed["levels"])},
        "method": method,
        "first_stage": first,
        "weak_iv": weak,
        "instruments": list(frame.z_names),
        "endogenous": list(frame.endog_names),
    }
    if method == "liml":
        diagnostics["liml_kappa"] = kappa
    if L > K:
        diagnostics["overid"] = weakiv.hansen_j(y, R, Zfull, resid, vcov=vcov, clusters=clusters)
    if K == 1:
        try:
            se_b = math.sqrt(max(V[-1, -1], 0.0))  # the endogenous term
            # the same small-sample factor as the Wald SEs: scale and the G/(G-1) mode
            from .core.covariance import small_sample

            _, _, gmode = small_sample(ssc, vcov, n=n, k=R.shape[1], fe=fed, has_fe=has_fe)
            diagnostics["anderson_rubin"] = weakiv.anderson_rubin_set(
                yt, Et[:, 0], Zt, vcov=vcov, clusters=clusters, scale=info["scale"],
                g_adjust=gmode, convention=f"ssc={ssc}", df_resid=df,
                center=float(beta[-1]), width=max(se_b, 1e-8),
            )
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:  # degenerate data
            diagnostics["anderson_rubin"] = {"error": str(exc)}
    if has_fe:
        xbar_idx = [frame.x_names.index(nm) for nm in frame.x_names]
        means_x = tr.means[1 : 1 + len(frame.x_names)][xbar_idx]
        means_e = tr.means[1 + len(frame.x_names) : 1 + len(frame.x_names) + K]
        xbar = np.concatenate([means_x, means_e])
        one = tr.sw if tr.sw is not None else np.ones(n)
        diagnostics["intercept"] = stata_constant(S, resid, one, tr.means[0], xbar, beta,
                                                  cov_args)
    prov = fast_provenance(t0)
    if frame.file:
        prov["data_file"] = frame.file
    return Result(
        terms=tuple(names),
        params=beta,
        cov=V,
        nobs=n,
        df_resid=df,
        cov_type=vcov,
        estimator=("fe" if has_fe else "") + method,
        nobs_dropped=frame.nobs_dropped,
        r2_within=r2w,
        r2_with_fe=r2f,
        diagnostics=diagnostics,
        spec=dict(spec, method=method),
        provenance=prov,
    )
