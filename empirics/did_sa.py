"""Sun and Abraham (2021) interaction-weighted event study.

The TWFE event study pools cohorts, so each lead/lag coefficient can be contaminated by the
effects at other event times when effects differ across cohorts. Sun and Abraham estimate
cohort-specific effects CATT(g, e) from one regression with cohort x relative-period
interactions, using a clean control cohort (the never treated, or the last-treated cohort on the
periods before it adopts), and average them across cohorts with weights equal to the cohorts'
shares at each event time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .did import _fe_regression, _panel_from, _spec, event_term
from .did_panel import fmt_time, single_threaded, time_value
from .errors import InputError
from .result import Result


@single_threaded
def sun_abraham(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    control_cohort: str = "auto",
    ref: int = -1,
    weights_variance: str = "fixed",
    cluster: str | None = None,
    file: str | None = None,
) -> Result:
    """Interaction-weighted (IW) event-study estimator of Sun and Abraham (2021).

    Parameters
    ----------
    data : long panel.
    y, entity, time, adopt : outcome, entity, period and adoption-period columns (adoption ``0``,
        missing or ``inf`` = never treated).
    controls : time-varying controls (entered linearly, common slopes).
    control_cohort : ``"never"`` (never-treated entities), ``"last"`` (the last-treated cohort;
        periods from its adoption on are dropped) or ``"auto"`` (never if any, else last).
    ref : omitted relative period of every cohort (default -1).
    weights_variance : ``"fixed"`` (default; the cohort shares are treated as known, as fixest's
        ``sunab``) or ``"estimated"`` (the delta method also accounts for estimating the shares, as
        in Sun and Abraham 2021 and Stata's eventstudyinteract; joint with the regression part).
    cluster : cluster column (default: the entity).

    Returns
    -------
    Result
        Terms ``e-K`` .. ``e+L`` (the IW estimates, ``ref`` excluded) and ``att`` (the average of
        the post-adoption cohort effects weighted by their number of observations). The covariance
        is W V W' with V the clustered (CR1) covariance of the interaction coefficients and W the
        cohort-share weights (delta method, weights treated as fixed, as fixest's ``sunab``).
        ``diagnostics["cohort_effects"]`` lists every CATT(g, e) with its SE and weight;
        ``diagnostics["pretrend"]`` is the joint Wald test that every lead is zero.

    Notes
    -----
    .. math:: y_{it} = \\alpha_i + \\lambda_t + \\sum_{g \\notin C} \\sum_{e \\ne ref}
              \\delta_{g,e} 1\\{G_i = g\\} 1\\{t - g = e\\} + X_{it}'\\gamma + u_{it},

    .. math:: \\hat\\nu_e = \\sum_g \\hat\\delta_{g,e} \\Pr(G_i = g \\mid t - G_i = e,
              G_i \\notin C),

    with the probabilities estimated by the cohorts' observation shares at event time e.
    Entities treated in the first period (no pre-period) are dropped.
    """
    panel = _panel_from(data, y, entity, time, adopt, controls, cluster, file)
    ea = panel.entity_adopt()
    first = panel.times[0]
    always = np.isfinite(ea) & (ea <= first)
    if always.any():
        panel = panel.subset(~always[panel.entity_codes], "entity treated in the first period (no pre-period)")
        ea = panel.entity_adopt()
    ea = np.where(ea > panel.times[-1], np.inf, ea)
    has_never = bool(np.isinf(ea).any())
    if control_cohort == "auto":
        control_cohort = "never" if has_never else "last"
    if control_cohort not in ("never", "last"):
        raise InputError(f"control_cohort must be 'never', 'last' or 'auto', got {control_cohort!r}")
    if control_cohort == "never" and not has_never:
        raise InputError("no never-treated entities: use control_cohort='last'",
                         file=panel.file, column=panel.names["adopt"])
    cohorts = np.unique(ea[np.isfinite(ea)])
    if control_cohort == "last":
        if cohorts.size < 2:
            raise InputError("control_cohort='last' needs at least two treated cohorts",
                             file=panel.file, column=panel.names["adopt"])
        glast = cohorts[-1]
        keep = panel.time < glast
        panel = panel.subset(keep, "periods from the last cohort's adoption on (last-treated control)")
        ea = panel.entity_adopt()
        ctrl = (ea == glast) | np.isinf(ea)
        cohorts = cohorts[:-1]
    else:
        ctrl = np.isinf(ea)
    if cohorts.size == 0:
        raise InputError("no treated cohort", file=panel.file, column=panel.names["adopt"])
    G_row = ea[panel.entity_codes]
    ctrl_row = ctrl[panel.entity_codes]
    rel = np.where(ctrl_row, 0, panel.time - np.where(np.isfinite(G_row), G_row, 0.0))
    rel = np.round(rel).astype(int)
    cols, names, cells = [], [], []
    for g in cohorts:
        in_g = (G_row == g) & ~ctrl_row
        for e in np.unique(rel[in_g]):
            if e == ref:
                continue
            d = (in_g & (rel == e)).astype(float)
            cols.append(d)
            names.append(f"catt({fmt_time(g)},{int(e):+d})")
            cells.append((g, int(e), int(d.sum())))
    if not cols:
        raise InputError("no cohort x relative-period cell to estimate", file=panel.file)
    if not any(e == ref for g in cohorts for e in np.unique(rel[(G_row == g) & ~ctrl_row])):
        raise InputError(f"no cohort observed at the reference period {ref}", file=panel.file)
    fit = _fe_regression(panel, np.column_stack(cols), names)
    k = len(cols)
    b = fit["beta"][:k]
    V = fit["cov"][:k, :k]
    evs = sorted({c[1] for c in cells})
    W = np.zeros((len(evs) + 1, k))
    out_terms = [event_term(e) for e in evs] + ["att"]
    cell_w = np.zeros(k)
    for j, e in enumerate(evs):
        idx = [i for i, c in enumerate(cells) if c[1] == e]
        nobs = np.array([cells[i][2] for i in idx], dtype=float)
        W[j, idx] = nobs / nobs.sum()
        cell_w[idx] = nobs / nobs.sum()
    post_idx = [i for i, c in enumerate(cells) if c[1] >= 0]
    if post_idx:
        nobs = np.array([cells[i][2] for i in post_idx], dtype=float)
        W[-1, post_idx] = nobs / nobs.sum()
    params = W @ b
    if weights_variance == "fixed":
        cov = W @ V @ W.T
    elif weights_variance == "estimated":
        cov = _cov_estimated_weights(panel, fit, W, b, cells, G_row, ctrl_row, rel, evs, post_idx)
    else:
        raise InputError(f"weights_variance must be 'fixed' or 'estimated', got {weights_variance!r}")
    if not post_idx:
        params, cov, out_terms = params[:-1], cov[:-1, :-1], out_terms[:-1]
    res = Result(terms=out_terms, params=params, cov=cov, nobs=panel.nobs, df_resid=fit["df"],
                 cov_type="cluster", estimator="sun_abraham")
    lead_terms = [event_term(e) for e in evs if e < 0]
    pre = res.wald_test(lead_terms) if lead_terms else None
    if pre is not None:
        pre["terms"] = lead_terms
    se_b = np.sqrt(np.clip(np.diag(V), 0, None))
    diagnostics = {
        "cohort_effects": [
            {"cohort": time_value(c[0]), "event_time": c[1], "estimate": float(b[i]), "se": float(se_b[i]),
             "n_obs": c[2], "weight": float(cell_w[i])}
            for i, c in enumerate(cells)
        ],
        "pretrend": pre,
        "control_cohort": control_cohort,
        "weights_variance": weights_variance,
        "dropped": dict(panel.dropped),
        "n_entities": panel.n_entities, "n_times": panel.n_times,
    }
    return Result(
        terms=res.terms, params=res.params, cov=res.cov, nobs=res.nobs, df_resid=res.df_resid,
        cov_type="cluster", estimator="sun_abraham", nobs_dropped=panel.nobs_dropped,
        r2_within=fit["r2_within"], r2_with_fe=fit["r2_with_fe"], diagnostics=diagnostics,
        spec=_spec(panel, ref=ref, control_cohort=control_cohort),
    )


def _cov_estimated_weights(panel, fit, W, b, cells, G_row, ctrl_row, rel, evs, post_idx):
    """Joint delta-method covariance of the IW estimates with estimated cohort shares.

    Each IW estimate is nu = sum_c w_c delta_c with w_c = n_c / sum_{c' in S} n_c' (n_c the
    observations of cell c = (g, e)). As a ratio of entity means, w_c has the influence function
    psi_ic = (m_ic - mbar_c)/P - w_c sum_{c'}(m_ic' - mbar_c')/P (m_ic: entity i's observations
    in cell c, P = sum mbar). The cluster contributions of the regression (bread X_c'u_c) and of
    the shares (sum_c delta_c psi_ic / N) are added and the CR1 factor applied to the total.
    """
    k = len(cells)
    Zt, resid, bread = fit["Zt"], fit["resid"], fit["bread"]
    clu = panel.cluster_codes
    Gc = int(clu.max()) + 1
    scores = np.zeros((Gc, Zt.shape[1]))
    np.add.at(scores, clu, Zt * resid[:, None])
    S = (scores @ bread.T)[:, :k]  # cluster contributions to delta_hat - delta
    A = S @ W.T
    N = panel.n_entities
    # entity-level cell counts m_ic
    M = np.zeros((N, k))
    for c, (g, e, _) in enumerate(cells):
        rows = (G_row == g) & ~ctrl_row & (rel == e)
        np.add.at(M[:, c], panel.entity_codes[rows], 1.0)
    mbar = M.mean(axis=0)
    ent_cluster = np.zeros(N, dtype=np.int64)
    ent_cluster[panel.entity_codes] = clu
    groups = [[i for i, c in enumerate(cells) if c[1] == e] for e in evs]
    if post_idx:
        groups.append(list(post_idx))
    for j, idx in enumerate(groups):
        P = mbar[idx].sum()
        w = mbar[idx] / P
        dev = M[:, idx] - mbar[idx]
        psi = dev / P - np.outer(dev.sum(axis=1), w) / P  # N x len(idx)
        contrib = psi @ b[idx] / N
        np.add.at(A[:, j], ent_cluster, contrib)
    n, K = panel.nobs, fit["K"]
    adj = Gc / (Gc - 1) * (n - 1) / (n - K)
    return adj * A.T @ A


__all__ = ["sun_abraham"]
