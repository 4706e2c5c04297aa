"""Two-way fixed-effects DID, the TWFE event study and the de Chaisemartin-D'Haultfoeuille weights.

These are the estimators the paper uses (TWFE with D_it = 1 from the pilot-zone approval year on),
with the diagnostics that show when they can mislead under staggered adoption and heterogeneous
effects. The heterogeneity-robust estimators live in ``did_cs.py`` (Callaway-Sant'Anna) and
``did_sa.py`` (Sun-Abraham); the Goodman-Bacon decomposition in ``bacon.py``.

All functions take a long pandas panel and column names, and return the one
:class:`~robocarbon.empirics.result.Result`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .did_panel import DidPanel, fmt_time, prepare_panel, single_threaded, time_value
from .errors import InputError
from .linalg import demean, qr_lstsq, sandwich
from .result import Result


def _fe_regression(panel: DidPanel, R: np.ndarray, names: Sequence[str]) -> dict:
    """OLS of y on the columns of ``R`` and the controls with entity and time fixed effects,
    clustered (CR1) covariance.

    Small-sample factor: (G/(G-1)) (n-1)/(n-K) with K = regressors + time effects (T - 1) + the
    entity effects, which count as one parameter when they are nested in the clusters (the
    fixest/reghdfe convention, the same count as :func:`robocarbon.empirics.fe.fit`).
    """
    names = list(names) + list(panel.controls)
    Z = np.column_stack([R, panel.X]) if panel.X.shape[1] else np.asarray(R, dtype=float)
    fe = [panel.entity_codes, panel.time_codes]
    M, info = demean(np.column_stack([panel.y, Z]), fe)
    if not info.converged:
        raise InputError("fixed-effect demeaning did not converge", file=panel.file)
    yt, Zt = M[:, 0], M[:, 1:]
    fit = qr_lstsq(Zt, yt, names)
    n, k = Zt.shape
    nested = _nested(panel.entity_codes, panel.cluster_codes)
    K = k + (panel.n_times - 1) + (1 if nested else panel.n_entities)
    cov, df = sandwich(Zt, fit.resid, fit.bread, kind="cluster", clusters=[panel.cluster_codes], n=n, k=K)
    tss_w = float(np.sum(yt**2))
    rss = float(np.sum(fit.resid**2))
    tss = float(np.sum((panel.y - panel.y.mean()) ** 2))
    return {
        "names": names, "beta": fit.beta, "cov": cov, "df": df, "resid": fit.resid,
        "r2_within": 1.0 - rss / tss_w if tss_w > 0 else None,
        "r2_with_fe": 1.0 - rss / tss if tss > 0 else None,
        "Zt": Zt, "yt": yt, "demean": info.method, "bread": fit.bread, "K": K,
    }


def _nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """True when every group of ``inner`` lies within one group of ``outer``."""
    first = np.empty(int(inner.max()) + 1, dtype=outer.dtype)
    first[inner] = outer
    return bool(np.all(first[inner] == outer))


def _panel_from(data, y, entity, time, adopt, controls, cluster, file) -> DidPanel:
    if isinstance(data, DidPanel):
        return data
    return prepare_panel(data, y=y, entity=entity, time=time, adopt=adopt, controls=controls,
                         cluster=cluster, file=file)


def _spec(panel: DidPanel, **extra) -> dict:
    out = dict(panel.names)
    out.update(controls=list(panel.controls), cluster=panel.cluster_name,
               fixed_effects=[panel.names["entity"], panel.names["time"]])
    out.update(extra)
    return out


# --------------------------------------------------------------------------------- TWFE DID
@single_threaded
def twfe_did(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    file: str | None = None,
) -> Result:
    """Two-way fixed-effects DID with the treatment built from an adoption-time column.

    Parameters
    ----------
    data : long panel (one row per entity and period).
    y, entity, time, adopt : outcome, entity, period and adoption-period columns (adoption
        ``0``, missing or ``inf`` = never treated).
    controls : time-varying control columns.
    cluster : cluster column for the CR1 covariance (default: the entity).
    file : file name for error messages.

    Returns
    -------
    Result
        Term ``"D"`` (plus the controls); ``diagnostics["dcdh_weights"]`` holds the
        de Chaisemartin-D'Haultfoeuille weights of the estimate (see :func:`dcdh_weights`).

    Notes
    -----
    The estimating equation is

    .. math:: y_{it} = \\alpha_i + \\lambda_t + \\beta D_{it} + X_{it}'\\gamma + u_{it},
              \\qquad D_{it} = 1\\{t \\ge G_i\\},

    solved by least squares on the two-way within-transformed data. Standard errors are
    clustered (CR1, factor G/(G-1) (n-1)/(n-K)) with t(G-1) reference distribution. With staggered
    adoption and heterogeneous effects beta is a weighted sum of cell effects with possibly
    negative weights (de Chaisemartin and D'Haultfoeuille 2020; Goodman-Bacon 2021).
    """
    panel = _panel_from(data, y, entity, time, adopt, controls, cluster, file)
    if panel.D.min() == panel.D.max():
        raise InputError("treatment D has no variation (no entity switches into treatment in the sample)",
                         file=panel.file, column=panel.names["adopt"])
    fit = _fe_regression(panel, panel.D[:, None], ["D"])
    w = _dcdh_from_panel(panel, beta_fe=float(fit["beta"][0]))
    return Result(
        terms=fit["names"], params=fit["beta"], cov=fit["cov"], nobs=panel.nobs,
        df_resid=fit["df"], cov_type="cluster", estimator="twfe_did",
        nobs_dropped=panel.nobs_dropped, r2_within=fit["r2_within"], r2_with_fe=fit["r2_with_fe"],
        diagnostics={
            "dropped": dict(panel.dropped),
            "n_entities": panel.n_entities, "n_times": panel.n_times,
            "n_clusters": int(panel.cluster_codes.max()) + 1,
            "n_treated_obs": int(panel.D.sum()),
            "cohorts": _cohort_sizes(panel),
            "dcdh_weights": w,
            "demean": fit["demean"],
        },
        spec=_spec(panel, formula=f"{panel.names['y']} ~ D" + "".join(f" + {c}" for c in panel.controls)
                   + f" | {panel.names['entity']} + {panel.names['time']}"),
    )


def _cohort_sizes(panel: DidPanel) -> list[dict]:
    ea = panel.entity_adopt()
    vals, counts = np.unique(ea, return_counts=True)
    return [{"cohort": time_value(v), "entities": int(c)} for v, c in zip(vals, counts)]


# -------------------------------------------------------------------- dCDH weights
@single_threaded
def dcdh_weights(
    data: pd.DataFrame,
    *,
    entity: str,
    time: str,
    adopt: str,
    y: str | None = None,
    controls: Sequence[str] = (),
    file: str | None = None,
) -> dict:
    """de Chaisemartin-D'Haultfoeuille (2020) weights of the TWFE DID coefficient.

    Returns a dict with ``cells`` (one row per treated cohort x period cell: ``group`` (cohort),
    ``time``, ``weight`` (sum of the weights of its entity-period cells), ``n_obs``),
    ``n_treated_obs``, ``n_negative`` and ``sum_negative`` (entity-period cells with a negative
    weight, and their total weight), ``n_negative_cells`` (cohort-period cells), ``sum_positive``,
    and, when ``y`` is given, ``beta_fe`` and ``sigma_fe``.

    Notes
    -----
    Let e_it be the residual of D_it on entity and period effects (and the controls). Then

    .. math:: \\hat\\beta_{fe} = \\sum_{(i,t): D_{it}=1} w_{it} \\Delta_{it}
              \\text{ (in expectation)}, \\quad w_{it} = e_{it} / \\sum_{D_{js}=1} e_{js},

    where Delta_it is the effect in cell (i, t); the weights sum to one and can be negative
    (typically for early adopters in late periods). ``sigma_fe`` = |beta_fe| / sd(w), with
    sd(w) = (sum_{D=1} (1/N_1)(N_1 w_it - 1)^2)^{1/2}, is the smallest standard deviation of the
    cell effects under which beta_fe could have the opposite sign of every cell effect's average
    being zero (their Corollary 1): small values mean fragility.
    """
    ycol = y if y is not None else None
    if ycol is None:
        d = data.copy()
        d["__y__"] = 0.0
        ycol = "__y__"
        panel = prepare_panel(d, y=ycol, entity=entity, time=time, adopt=adopt, controls=controls, file=file)
        return _dcdh_from_panel(panel, beta_fe=None)
    panel = prepare_panel(data, y=ycol, entity=entity, time=time, adopt=adopt, controls=controls, file=file)
    fit = _fe_regression(panel, panel.D[:, None], ["D"])
    return _dcdh_from_panel(panel, beta_fe=float(fit["beta"][0]))


def _dcdh_from_panel(panel: DidPanel, beta_fe: float | None) -> dict:
    fe = [panel.entity_codes, panel.time_codes]
    M, _ = demean(np.column_stack([panel.D, panel.X]), fe)
    e = M[:, 0]
    if panel.X.shape[1]:
        Xt = M[:, 1:]
        coef, *_ = np.linalg.lstsq(Xt, e, rcond=None)
        e = e - Xt @ coef
    treated = panel.D == 1
    denom = float(e[treated].sum())
    if not treated.any() or abs(denom) < 1e-14:
        raise InputError("no treated observations with identifying variation", file=panel.file,
                         column=panel.names["adopt"])
    w = e / denom
    wt = w[treated]
    n1 = int(treated.sum())
    # aggregate to cohort x period cells
    gu, gi = np.unique(panel.adopt[treated], return_inverse=True)
    tu, ti = np.unique(panel.time[treated], return_inverse=True)
    cu, ci = np.unique(gi.ravel() * tu.shape[0] + ti.ravel(), return_inverse=True)
    ci = ci.ravel()
    csum = np.bincount(ci, weights=wt)
    ccount = np.bincount(ci)
    cg, ct = gu[cu // tu.shape[0]], tu[cu % tu.shape[0]]
    sd_w = float(np.sqrt(np.sum((n1 * wt - 1.0) ** 2) / n1))
    out = {
        "cells": [
            {"group": time_value(g), "time": time_value(t), "weight": float(w_), "n_obs": int(c)}
            for g, t, w_, c in zip(cg, ct, csum, ccount)
        ],
        "n_treated_obs": n1,
        "n_negative": int(np.sum(wt < -1e-12)),
        "sum_negative": float(wt[wt < -1e-12].sum()),
        "sum_positive": float(wt[wt > 1e-12].sum()),
        "n_negative_cells": int(np.sum(csum < -1e-12)),
        "n_cells": int(csum.shape[0]),
        "sd_weights": sd_w,
    }
    if beta_fe is not None:
        out["beta_fe"] = beta_fe
        out["sigma_fe"] = float(abs(beta_fe) / sd_w) if sd_w > 0 else float("inf")
    return out


# ------------------------------------------------------------------------- event study
def _collinear_columns(panel: DidPanel, R: np.ndarray, rtol: float = 1e-10) -> list[int]:
    """Columns of ``R`` that are linear combinations of earlier-ranked ones after absorbing the
    fixed effects (pivoted QR; later event times are preferred for removal on ties)."""
    from scipy import linalg as sla

    M, _ = demean(np.column_stack([R, panel.X]) if panel.X.shape[1] else R,
                  [panel.entity_codes, panel.time_codes])
    norms = np.linalg.norm(M, axis=0)
    norms[norms == 0] = 1.0
    _, Rq, piv = sla.qr(M / norms, mode="economic", pivoting=True)
    d = np.abs(np.diag(Rq))
    rank = int(np.sum(d > rtol * d[0])) if d.size else 0
    return sorted(int(j) for j in piv[rank:] if j < R.shape[1])


def event_term(e: int) -> str:
    """The name of the event-time term: ``e-2``, ``e+0``, ``e+3``."""
    return f"e{int(e):+d}"


@single_threaded
def event_study(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    leads: int | None = None,
    lags: int | None = None,
    ref: int = -1,
    bin_endpoints: bool = True,
    cluster: str | None = None,
    file: str | None = None,
) -> Result:
    """TWFE event study: leads and lags of adoption with entity and period effects.

    Parameters
    ----------
    leads : number of pre-adoption periods K: event times -K..-1 get a term (``ref`` excluded).
        ``None`` = every observed lead.
    lags : number of post-adoption periods L: event times 0..L. ``None`` = every observed lag.
    ref : reference event time (omitted), default -1.
    bin_endpoints : if True, event times beyond the window are binned into the endpoint terms
        (e <= -K into ``e-K``, e >= L into ``e+L``); if False, treated observations outside the
        window are dropped (counted in ``diagnostics["dropped"]``).

    Returns
    -------
    Result
        Terms ``e-K`` .. ``e+L`` (without ``ref``) and the controls. ``diagnostics["pretrend"]``
        is the joint Wald test that all lead coefficients are zero (``Result.wald_test``);
        ``diagnostics["event_times"]`` lists each term's event time and observation count.

    Notes
    -----
    .. math:: y_{it} = \\alpha_i + \\lambda_t + \\sum_{e \\ne ref} \\beta_e 1\\{t - G_i = e\\}
              + X_{it}'\\gamma + u_{it}

    Never-treated entities have all event dummies zero. Without never-treated entities the
    relative-time dummies and the two sets of fixed effects are collinear; the earliest lead is
    then also omitted (reported in ``diagnostics["omitted"]``). Under heterogeneous effects the
    TWFE event-study coefficients are contaminated by other periods' effects (Sun and Abraham
    2021): compare with :func:`robocarbon.empirics.did_sa.sun_abraham` and
    :func:`robocarbon.empirics.did_cs.callaway_santanna`.
    """
    panel = _panel_from(data, y, entity, time, adopt, controls, cluster, file)
    treated_ent = np.isfinite(panel.adopt)
    if not treated_ent.any():
        raise InputError("no treated entity", file=panel.file, column=panel.names["adopt"])
    rel = np.where(treated_ent, panel.time - np.where(treated_ent, panel.adopt, 0.0), np.nan)
    if not np.allclose(rel[treated_ent], np.round(rel[treated_ent])):
        raise InputError("event time (time - adoption) is not integer", file=panel.file,
                         column=panel.names["adopt"])
    rel_i = np.where(treated_ent, np.round(np.nan_to_num(rel)), 0).astype(int)
    emin, emax = int(rel_i[treated_ent].min()), int(rel_i[treated_ent].max())
    # a window wider than the observed event times is the observed window (nothing to bin), so
    # an absurd --leads/--lags (1e20) is clipped instead of looping over every period
    span = int(np.nanmax(panel.time) - np.nanmin(panel.time))
    for name, v in (("leads", leads), ("lags", lags)):
        if v is not None and abs(int(v)) > span:
            raise InputError(f"{name} = {v} is longer than the panel: its periods span {span}",
                             file=panel.file, column=panel.names.get("time"))
    lo = emin if leads is None else -int(leads)
    hi = emax if lags is None else int(lags)
    if lo > ref or hi < ref:
        raise InputError(f"reference period {ref} lies outside the event window [{lo}, {hi}]")
    if not min(emin, -1) <= ref <= max(emax, 0):
        raise InputError(f"reference period {ref} lies outside the observed event times "
                         f"[{emin}, {emax}]")
    lo = max(lo, min(emin, -1, ref))
    hi = min(hi, max(emax, 0, ref))
    if lo >= 0 or hi < 0:
        raise InputError(f"event window [{lo}, {hi}] must contain leads and lags")
    if bin_endpoints:
        ebin = np.clip(rel_i, lo, hi)
    else:
        outside = treated_ent & ((rel_i < lo) | (rel_i > hi))
        if outside.any():
            panel = panel.subset(~outside, "treated observations outside the event window")
            treated_ent = np.isfinite(panel.adopt)
            rel_i = rel_i[~outside]
        ebin = rel_i
    has_never = bool((~treated_ent).any())
    all_e = [e for e in range(lo, hi + 1) if e != ref and np.any(treated_ent & (ebin == e))]
    omitted = [ref]

    def build(es):
        cols = [(treated_ent & (ebin == e)).astype(float) for e in es]
        return np.column_stack(cols), [event_term(e) for e in es]

    R, names = build(all_e)
    try:
        fit = _fe_regression(panel, R, names)
    except InputError:
        if has_never:
            raise
        # no never-treated: event-time effects are identified only up to a linear trend (and the
        # last periods, when everybody is treated, not at all). Omit the earliest lead, then any
        # event time still collinear with the fixed effects, and report them.
        leads_e = [e for e in all_e if e < 0]
        if leads_e:
            omitted.append(min(leads_e))
            all_e = [e for e in all_e if e != min(leads_e)]
        R, names = build(all_e)
        dep = _collinear_columns(panel, R)
        if dep:
            omitted.extend(all_e[j] for j in dep)
            all_e = [e for j, e in enumerate(all_e) if j not in dep]
            R, names = build(all_e)
        fit = _fe_regression(panel, R, names)
    res = Result(
        terms=fit["names"], params=fit["beta"], cov=fit["cov"], nobs=panel.nobs,
        df_resid=fit["df"], cov_type="cluster", estimator="twfe_event_study",
        nobs_dropped=panel.nobs_dropped, r2_within=fit["r2_within"], r2_with_fe=fit["r2_with_fe"],
    )
    lead_terms = [event_term(e) for e in all_e if e < 0]
    pre = res.wald_test(lead_terms) if lead_terms else None
    if pre is not None:
        pre["terms"] = lead_terms
    diagnostics = {
        "dropped": dict(panel.dropped),
        "pretrend": pre,
        "event_times": [
            {"term": event_term(e), "event_time": int(e), "binned": bool(bin_endpoints and (e == lo or e == hi)),
             "n_obs": int(np.sum(treated_ent & (ebin == e)))}
            for e in all_e
        ],
        "omitted": omitted,
        "window": [lo, hi],
        "n_entities": panel.n_entities, "n_times": panel.n_times,
        "never_treated_entities": int(np.sum(~np.isfinite(panel.entity_adopt()))),
    }
    return Result(
        terms=res.terms, params=res.params, cov=res.cov, nobs=res.nobs, df_resid=res.df_resid,
        cov_type=res.cov_type, estimator=res.estimator, nobs_dropped=res.nobs_dropped,
        r2_within=res.r2_within, r2_with_fe=res.r2_with_fe, diagnostics=diagnostics,
        spec=_spec(panel, ref=ref, leads=leads, lags=lags, bin_endpoints=bin_endpoints),
    )


__all__ = ["twfe_did", "event_study", "dcdh_weights", "event_term", "fmt_time"]
