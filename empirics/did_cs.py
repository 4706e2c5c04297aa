"""Callaway and Sant'Anna (2021) group-time average treatment effects and their aggregations.

ATT(g,t) is the average effect in period t for the cohort first treated in period g. It is
identified by a 2x2 comparison of the cohort with a control group (never-treated, or not yet
treated) between period t and a base period, so no already-treated unit is ever used as a
control and no effect is ever weighted negatively. The conventions follow the R package ``did``
(``att_gt`` + ``aggte``), so that published numbers can be reproduced:

* base period ``"varying"`` (did's default): post-treatment cells (t >= g) compare t with g-1 (the
  last period before adoption); pre-treatment cells (t < g) compare t with t-1, so the
  pre-period ATT(g,t) are period-to-period placebo effects. ``"universal"``: every cell uses g-1.
* control group ``"never"``: units never treated; ``"notyet"``: never treated plus units whose
  adoption is later than both periods of the comparison (and not cohort g).
* estimation ``"reg"`` (outcome regression; with no covariates the difference of mean changes)
  or ``"dr"`` (doubly robust, Sant'Anna and Zhao 2020, the locally efficient panel estimator:
  logit propensity score and linear outcome regression on covariates from the base period).
* inference from influence functions: analytic covariance Psi'Psi/n^2 (clustered by entity, or
  by a coarser time-invariant cluster), and the multiplier bootstrap (Mammen or Rademacher
  weights) with IQR-based standard errors and sup-t critical values for uniform bands.
* aggregations with weights proportional to cohort sizes P(G=g), accounting for the estimated
  weights in the influence function: ``simple`` (all post-treatment cells), ``dynamic`` (event
  time e = t - g, overall = mean over e >= 0), ``group`` (per cohort: mean over its post-periods;
  overall weighted by cohort size) and ``calendar`` (per period; overall = mean over periods).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .did_panel import DidPanel, fmt_time, prepare_panel, single_threaded, time_value
from .errors import InputError
from .result import Result

_SQ5 = np.sqrt(5.0)


# ----------------------------------------------------------------------- 2x2 estimators
def _ols_ifs(w: np.ndarray, X: np.ndarray, dy: np.ndarray, n: int):
    """Weighted OLS of dy on X among rows with weight w (0/1): coefficients and their
    asymptotic linear representation (n x k)."""
    XtX = (X * w[:, None]).T @ X / n
    beta = np.linalg.lstsq(XtX, (X * w[:, None]).T @ dy / n, rcond=None)[0]
    resid = dy - X @ beta
    inv = np.linalg.inv(XtX)  # LinAlgError: the caller skips the cell
    alr = (w * resid)[:, None] * X @ inv
    return beta, alr


def _logit(D: np.ndarray, X: np.ndarray, maxiter: int = 100, tol: float = 1e-10):
    """Logistic regression by Newton-Raphson; returns fitted probabilities and the Hessian
    inverse scaled by n (the asymptotic variance of the coefficients times n)."""
    n, k = X.shape
    b = np.zeros(k)
    for _ in range(maxiter):
        eta = np.clip(X @ b, -35, 35)
        p = 1.0 / (1.0 + np.exp(-eta))
        W = p * (1 - p)
        H = (X * W[:, None]).T @ X
        g = X.T @ (D - p)
        step = np.linalg.solve(H, g)
        b = b + step
        if np.max(np.abs(step)) < tol:
            break
    eta = np.clip(X @ b, -35, 35)
    p = 1.0 / (1.0 + np.exp(-eta))
    H = (X * (p * (1 - p))[:, None]).T @ X
    return p, np.linalg.inv(H) * n


def att_reg(dy: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DID on the 2x2 subsample (DRDID's reg_did_panel).

    ``dy`` outcome change, ``D`` 1 for the treated cohort and 0 for controls, ``X`` covariates
    with an intercept column. Returns the ATT and its influence function (length of the
    subsample, scaled so that Var(att) = mean(IF^2)/n_sub).
    """
    n = dy.shape[0]
    C = 1.0 - D
    beta, alr = _ols_ifs(C, X, dy, n)
    pred = X @ beta
    p1 = D.mean()
    att_treat = D * dy
    att_cont = D * pred
    eta_t = att_treat.mean() / p1
    eta_c = att_cont.mean() / p1
    inf_t = (att_treat - D * eta_t) / p1
    M1 = (D[:, None] * X).mean(axis=0)
    inf_c = (att_cont - D * eta_c + alr @ M1) / p1
    return float(eta_t - eta_c), inf_t - inf_c


def att_dr(dy: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Doubly robust DID on the 2x2 subsample (Sant'Anna-Zhao locally efficient panel estimator,
    DRDID's drdid_panel): logit propensity score, linear outcome regression among controls."""
    n = dy.shape[0]
    C = 1.0 - D
    ps, Vps = _logit(D, X)
    if ps.max() >= 0.999:  # as did: the overlap condition fails, the cell is not estimated
        raise np.linalg.LinAlgError("overlap condition violated (a propensity score >= 0.999)")
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(D == 1, True, ps < 0.995)
    beta, alr_ols = _ols_ifs(C, X, dy, n)
    pred = X @ beta
    w_t = trim * D
    w_c = trim * ps * C / (1 - ps)
    if w_c.sum() <= 0 or w_t.sum() <= 0:
        raise np.linalg.LinAlgError("no overlap: every control unit is trimmed (propensity >= 0.995)")
    r = dy - pred
    eta_t = np.mean(w_t * r) / np.mean(w_t)
    eta_c = np.mean(w_c * r) / np.mean(w_c)
    alr_ps = ((D - ps)[:, None] * X) @ Vps
    inf_t1 = w_t * r - w_t * eta_t
    M1 = np.mean(w_t[:, None] * X, axis=0)
    inf_t = (inf_t1 - alr_ols @ M1) / np.mean(w_t)
    inf_c1 = w_c * r - w_c * eta_c
    M2 = np.mean((w_c * (r - eta_c))[:, None] * X, axis=0)
    M3 = np.mean(w_c[:, None] * X, axis=0)
    inf_c = (inf_c1 + alr_ps @ M2 - alr_ols @ M3) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


# ----------------------------------------------------------------------- bootstrap
def multiplier_bootstrap(
    psi: np.ndarray,
    *,
    n_boot: int = 999,
    weights: str = "mammen",
    seed=None,
    alpha: float = 0.05,
    cluster: np.ndarray | None = None,
) -> dict:
    """Multiplier bootstrap of influence functions (as the R did package's ``mboot``).

    ``psi`` is n x K (one column per parameter, scaled so that theta_hat - theta ~ mean(psi)).
    Each draw multiplies the (cluster sums of the) rows by i.i.d. weights V with mean 0 and
    variance 1 (Mammen: (1-sqrt5)/2 w.p. (sqrt5+1)/(2 sqrt5), else (1+sqrt5)/2; or Rademacher)
    and takes the mean. Standard error = IQR of the draws / (z_.75 - z_.25); the uniform critical
    value is the (1-alpha) quantile of max_k |draw_k| / se_k.

    Returns ``se`` (K), ``crit`` (sup-t critical value), ``draws`` (B x K, scaled as sqrt(G) *
    mean) and ``n_boot``.
    """
    psi = np.asarray(psi, dtype=float)
    if psi.ndim == 1:
        psi = psi[:, None]
    n = psi.shape[0]
    if cluster is not None:
        codes = np.unique(np.asarray(cluster), return_inverse=True)[1].ravel()
        G = int(codes.max()) + 1
        S = np.zeros((G, psi.shape[1]))
        np.add.at(S, codes, psi)
    else:
        G = n
        S = psi
    rng = np.random.default_rng(seed)
    if weights == "mammen":
        k1, k2 = 0.5 * (1 - _SQ5), 0.5 * (1 + _SQ5)
        pk = 0.5 * (1 + _SQ5) / _SQ5
        V = np.where(rng.random((n_boot, G)) < pk, k1, k2)
    elif weights == "rademacher":
        V = np.where(rng.random((n_boot, G)) < 0.5, -1.0, 1.0)
    else:
        raise InputError(f"unknown bootstrap weights {weights!r}; use mammen or rademacher")
    draws = np.sqrt(G) * (V @ S) / G
    q75 = np.quantile(draws, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(draws, 0.25, axis=0, method="inverted_cdf")
    bsig = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = bsig > np.sqrt(np.finfo(float).eps) * 10
    se = np.full(psi.shape[1], np.nan)
    se[ok] = bsig[ok] * np.sqrt(G) / n
    if ok.any():
        tmax = np.max(np.abs(draws[:, ok] / bsig[ok]), axis=1)
        crit = float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))
    else:
        crit = float("nan")
    return {"se": se, "crit": crit, "draws": draws, "n_boot": int(n_boot)}


# ----------------------------------------------------------------------- main estimator
@dataclass(frozen=True)
class _Cell:
    g: float
    t: float
    base: float
    att: float
    psi: np.ndarray
    n_treated: int
    n_control: int


def _wif(keep_groups: np.ndarray, pg_cells: np.ndarray, Gi: np.ndarray) -> np.ndarray:
    """Influence function of the estimated weights pg_k / sum(pg) (did's ``wif``): n x k."""
    tot = pg_cells.sum()
    ind = (Gi[:, None] == keep_groups[None, :]).astype(float) - pg_cells[None, :]
    if1 = ind / tot
    if2 = ind.sum(axis=1)[:, None] * (pg_cells / tot**2)[None, :]
    return if1 - if2


@single_threaded
def callaway_santanna(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    control_group: str = "never",
    est_method: str | None = None,
    base_period: str = "varying",
    bootstrap: bool = True,
    n_boot: int = 999,
    boot_weights: str = "mammen",
    alpha: float = 0.05,
    seed=None,
    cluster: str | None = None,
    file: str | None = None,
) -> Result:
    """Callaway-Sant'Anna ATT(g,t), aggregations and pre-trend test.

    Parameters
    ----------
    data : long panel; unbalanced entities are dropped (counted), as in did.
    y, entity, time, adopt : outcome, entity, period and adoption-period columns (adoption ``0``,
        missing or ``inf`` = never treated; entities treated in the first period are dropped,
        adoption after the last period counts as never treated).
    controls : covariates (their base-period values are used); need ``est_method`` "reg" or "dr".
    control_group : ``"never"`` or ``"notyet"``.
    est_method : ``"reg"`` (default without covariates) or ``"dr"`` (default with covariates).
    base_period : ``"varying"`` (default, as did) or ``"universal"``.
    bootstrap : compute multiplier-bootstrap SEs and uniform bands (``n_boot`` draws,
        ``boot_weights`` "mammen" or "rademacher", ``seed``).
    alpha : 1 - confidence level of the uniform bands.
    cluster : a time-invariant cluster column coarser than the entity (default: entity).

    Returns
    -------
    Result
        Terms: ``ATT(g,t)`` cells named ``"att(g,t)"`` (e.g. ``"att(2004,2005)"``), the event-time
        aggregates ``"e-3"`` .. ``"e+3"``, cohort aggregates ``"g2004"``, calendar aggregates
        ``"t2005"`` and the overall aggregates ``"simple"``, ``"dynamic"``, ``"group"``,
        ``"calendar"``. ``cov`` is the analytic influence-function covariance (joint across all
        terms; the normal distribution is the reference). ``diagnostics``: ``att_gt`` (list of
        ``{"group", "time", "base", "att", "se", "se_analytic", "lower", "upper", "post"}`` with
        uniform bands), ``aggregations`` (``simple``/``dynamic``/``group``/``calendar``: overall
        ``att``/``se`` and the ``by`` list with uniform bands), ``pretrend`` (Wald test that every
        pre-period ATT(g,t) is zero, with the analytic covariance as in did), ``bootstrap``
        settings and ``dropped``.

    Notes
    -----
    For cohort g, period t and base period b (see the module docstring),

    .. math:: ATT(g,t) = E[Y_t - Y_b \\mid G=g] - E[Y_t - Y_b \\mid C=1]

    (with covariates, the conditional version by outcome regression or doubly robust weighting).
    Each estimate has influence function psi_i; Var = sum psi_i^2 / n^2. Aggregations are
    theta = sum_k w_k ATT_k with w_k proportional to P(G = g_k), their influence functions
    include the estimation of the w_k.
    """
    if control_group not in ("never", "notyet"):
        raise InputError(f"control_group must be 'never' or 'notyet', got {control_group!r}")
    if base_period not in ("varying", "universal"):
        raise InputError(f"base_period must be 'varying' or 'universal', got {base_period!r}")
    controls = tuple(controls or ())
    if est_method is None:
        est_method = "dr" if controls else "reg"
    if est_method not in ("reg", "dr"):
        raise InputError(f"est_method must be 'reg' or 'dr', got {est_method!r}")
    panel = data if isinstance(data, DidPanel) else prepare_panel(
        data, y=y, entity=entity, time=time, adopt=adopt, controls=controls, cluster=cluster, file=file)
    panel = panel.balanced()
    times = panel.times
    first = times[0]
    ea = panel.entity_adopt()
    always = np.isfinite(ea) & (ea <= first)
    if always.any():
        panel = panel.subset(always[panel.entity_codes] == False,  # noqa: E712
                             "entity treated in the first period (no pre-period)")
        times = panel.times
        ea = panel.entity_adopt()
    ea = np.where(ea > times[-1], np.inf, ea)
    n = panel.n_entities
    T = times.shape[0]
    if T < 2:
        raise InputError("need at least two periods", file=panel.file, column=panel.names["time"])
    Y = np.full((n, T), np.nan)
    Y[panel.entity_codes, panel.time_codes] = panel.y
    p = len(panel.controls)
    Xp = np.full((n, T, p), np.nan)
    if p:
        Xp[panel.entity_codes, panel.time_codes, :] = panel.X
    clu = np.zeros(n, dtype=np.int64)
    clu[panel.entity_codes] = panel.cluster_codes
    cl_per_entity = pd.DataFrame({"e": panel.entity_codes, "c": panel.cluster_codes}).groupby("e")["c"].nunique()
    if (cl_per_entity > 1).any():
        raise InputError("the cluster variable must not vary over time within an entity",
                         file=panel.file, column=panel.cluster_name)
    use_cluster = panel.cluster_name != panel.names["entity"]
    glist = np.unique(ea[np.isfinite(ea)])
    if glist.size == 0:
        raise InputError("no treated cohort", file=panel.file, column=panel.names["adopt"])
    if control_group == "never" and not np.isinf(ea).any():
        raise InputError("no never-treated entities: use control_group='notyet'",
                         file=panel.file, column=panel.names["adopt"])
    est = att_reg if est_method == "reg" else att_dr

    cells: list[_Cell] = []
    skipped: list[dict] = []
    for g in glist:
        pre_idx = np.nonzero(times < g)[0]
        if pre_idx.size == 0:
            continue
        gb = pre_idx[-1]  # last period before adoption
        t_range = range(T) if base_period == "universal" else range(1, T)
        for ti in t_range:
            t = times[ti]
            if base_period == "universal" or t >= g:
                bi = gb
            else:
                bi = ti - 1
            if bi == ti:
                continue
            later = max(t, times[bi])
            treat = ea == g
            if control_group == "never":
                ctrl = np.isinf(ea)
            else:
                ctrl = np.isinf(ea) | ((ea > later) & (ea != g))
            sub = treat | ctrl
            if treat.sum() == 0 or ctrl.sum() == 0:
                skipped.append({"group": time_value(g), "time": time_value(t), "reason": "no control units"})
                continue
            dy = (Y[:, ti] - Y[:, bi])[sub]
            Dd = treat[sub].astype(float)
            Xs = np.ones((int(sub.sum()), 1))
            if p:
                Xs = np.column_stack([Xs, Xp[sub, min(ti, bi), :]])
                Xc = Xs[Dd == 0]
                if np.linalg.matrix_rank(Xc) < Xs.shape[1]:
                    skipped.append({"group": time_value(g), "time": time_value(t),
                                    "reason": "covariates collinear among controls"})
                    continue
            try:
                att, inf = est(dy, Dd, Xs)
            except np.linalg.LinAlgError as exc:
                skipped.append({"group": time_value(g), "time": time_value(t), "reason": str(exc)})
                continue
            psi = np.zeros(n)
            psi[sub] = inf * (n / sub.sum())
            cells.append(_Cell(g, t, times[bi], att, psi, int(treat.sum()), int(ctrl.sum())))
    if not cells:
        raise InputError("no ATT(g,t) could be computed", file=panel.file, column=panel.names["adopt"])

    K = len(cells)
    att = np.array([c.att for c in cells])
    psi = np.column_stack([c.psi for c in cells])
    cg = np.array([c.g for c in cells])
    ct = np.array([c.t for c in cells])
    pg_group = {g: float(np.mean(ea == g)) for g in glist}
    pg = np.array([pg_group[g] for g in cg])

    terms: list[str] = [f"att({fmt_time(g)},{fmt_time(t)})" for g, t in zip(cg, ct)]
    est_list: list[float] = list(att)
    psi_cols: list[np.ndarray] = [psi[:, k] for k in range(K)]

    def add(name, value, col):
        terms.append(name)
        est_list.append(float(value))
        psi_cols.append(col)

    def agg(idx, with_wif=True):
        w = pg[idx] / pg[idx].sum()
        val = float(att[idx] @ w)
        col = psi[:, idx] @ w
        if with_wif:
            col = col + _wif(cg[idx], pg[idx], ea) @ att[idx]
        return val, col

    post = cg <= ct
    aggs: dict[str, dict] = {}
    # simple
    if post.any():
        v, col = agg(np.nonzero(post)[0])
        add("simple", v, col)
        aggs["simple"] = {"term": "simple"}
    # dynamic
    evt = np.round(ct - cg).astype(int)
    e_by = []
    for e in np.unique(evt):
        idx = np.nonzero(evt == e)[0]
        v, col = agg(idx)
        add(f"e{int(e):+d}", v, col)
        e_by.append({"event_time": int(e), "term": f"e{int(e):+d}"})
    epos = [d["term"] for d in e_by if d["event_time"] >= 0]
    if epos:
        cols = [psi_cols[terms.index(tn)] for tn in epos]
        vals = [est_list[terms.index(tn)] for tn in epos]
        add("dynamic", float(np.mean(vals)), np.mean(cols, axis=0))
    aggs["dynamic"] = {"term": "dynamic" if epos else None, "by": e_by}
    # group
    g_by = []
    gvals, gcols, gpg = [], [], []
    for g in glist:
        idx = np.nonzero((cg == g) & post)[0]
        if idx.size == 0:
            continue
        v = float(att[idx].mean())
        col = psi[:, idx].mean(axis=1)
        add(f"g{fmt_time(g)}", v, col)
        g_by.append({"group": time_value(g), "term": f"g{fmt_time(g)}"})
        gvals.append(v)
        gcols.append(col)
        gpg.append(pg_group[g])
    if gvals:
        gpg_a = np.array(gpg)
        w = gpg_a / gpg_a.sum()
        gl = np.array([d["group"] if d["group"] is not None else np.inf for d in g_by], dtype=float)
        col = np.column_stack(gcols) @ w + _wif(gl, gpg_a, ea) @ np.array(gvals)
        add("group", float(np.array(gvals) @ w), col)
    aggs["group"] = {"term": "group" if gvals else None, "by": g_by}
    # calendar
    c_by = []
    cvals, ccols = [], []
    for t in times[times >= glist.min()]:
        idx = np.nonzero((ct == t) & post)[0]
        if idx.size == 0:
            continue
        v, col = agg(idx)
        add(f"t{fmt_time(t)}", v, col)
        c_by.append({"time": time_value(t), "term": f"t{fmt_time(t)}"})
        cvals.append(v)
        ccols.append(col)
    if cvals:
        add("calendar", float(np.mean(cvals)), np.mean(ccols, axis=0))
    aggs["calendar"] = {"term": "calendar" if cvals else None, "by": c_by}

    Psi = np.column_stack(psi_cols)
    if use_cluster:
        S = np.zeros((int(clu.max()) + 1, Psi.shape[1]))
        np.add.at(S, clu, Psi)
        Gc = S.shape[0]
        cov_an = S.T @ S / n**2
    else:
        Gc = n
        cov_an = Psi.T @ Psi / n**2
    se_an = np.sqrt(np.clip(np.diag(cov_an), 0, None))

    # bootstrap: one set of multiplier draws for everything; sup-t per family
    boot = None
    se_final = se_an.copy()
    crit = {}
    zcrit = float(stats.norm.ppf(1 - alpha / 2))
    families = {
        "att_gt": list(range(K)),
        "dynamic": [terms.index(d["term"]) for d in e_by],
        "group": [terms.index(d["term"]) for d in g_by],
        "calendar": [terms.index(d["term"]) for d in c_by],
    }
    if bootstrap:
        boot = multiplier_bootstrap(Psi, n_boot=n_boot, weights=boot_weights, seed=seed, alpha=alpha,
                                    cluster=clu if use_cluster else None)
        se_b = boot["se"]
        se_final = np.where(np.isfinite(se_b), se_b, se_an)
        bsig = se_final * n / np.sqrt(Gc)
        for fam, idx in families.items():
            idx = [i for i in idx if np.isfinite(se_b[i]) and se_b[i] > 0]
            if not idx:
                crit[fam] = float("nan")
                continue
            tmax = np.max(np.abs(boot["draws"][:, idx] / bsig[idx]), axis=1)
            crit[fam] = float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))
    else:
        crit = {fam: zcrit for fam in families}

    # covariance reported in the Result: analytic correlation scaled to the final SEs
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov_an / np.outer(se_an, se_an)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    cov = corr * np.outer(se_final, se_final)
    cov[np.diag_indices_from(cov)] = se_final**2

    # pre-trend test (did: analytic V of the pre-period cells)
    pre_idx = [k for k in range(K) if cg[k] > ct[k]]
    pretrend = None
    if pre_idx:
        Vp = cov_an[np.ix_(pre_idx, pre_idx)]
        a = att[pre_idx]
        wv, U = np.linalg.eigh((Vp + Vp.T) / 2)
        keep = wv > wv.max(initial=0) * 1e-12
        stat = float(np.sum((U[:, keep].T @ a) ** 2 / wv[keep]))
        dfp = int(keep.sum())
        pretrend = {"statistic": stat, "df": dfp, "p_value": float(stats.chi2.sf(stat, dfp)),
                    "cells": [terms[k] for k in pre_idx]}

    def band(i, fam):
        c = crit.get(fam, zcrit)
        if not np.isfinite(c):
            c = zcrit
        return float(est_list[i] - c * se_final[i]), float(est_list[i] + c * se_final[i])

    att_gt_rows = []
    for k, c in enumerate(cells):
        lo, hi = band(k, "att_gt")
        att_gt_rows.append({
            "group": time_value(c.g), "time": time_value(c.t), "base": time_value(c.base),
            "att": float(c.att), "se": float(se_final[k]), "se_analytic": float(se_an[k]),
            "lower": lo, "upper": hi, "post": bool(c.g <= c.t),
            "n_treated": c.n_treated, "n_control": c.n_control,
        })

    def fill(lst, fam):
        for d in lst:
            i = terms.index(d["term"])
            lo, hi = band(i, fam)
            d.update(att=float(est_list[i]), se=float(se_final[i]), se_analytic=float(se_an[i]),
                     lower=lo, upper=hi)
        return lst

    out_aggs = {}
    for name in ("simple", "dynamic", "group", "calendar"):
        a = aggs.get(name)
        if a is None or a.get("term") is None:
            out_aggs[name] = None
            continue
        i = terms.index(a["term"])
        d = {"att": float(est_list[i]), "se": float(se_final[i]), "se_analytic": float(se_an[i])}
        if "by" in a:
            d["by"] = fill(a["by"], name)
            d["crit_value"] = crit.get(name)
        out_aggs[name] = d

    diagnostics = {
        "att_gt": att_gt_rows,
        "aggregations": out_aggs,
        "pretrend": pretrend,
        "crit_value_att_gt": crit.get("att_gt"),
        "skipped_cells": skipped,
        "dropped": dict(panel.dropped),
        "n_entities": n, "n_times": T, "n_clusters": int(Gc),
        "cohorts": [{"cohort": time_value(g), "entities": int(np.sum(ea == g)), "share": pg_group[g]}
                    for g in glist],
        "never_treated": int(np.isinf(ea).sum()),
        "bootstrap": None if boot is None else {
            "n_boot": boot["n_boot"], "weights": boot_weights, "seed": seed, "alpha": alpha},
        "se_type": "bootstrap" if bootstrap else "analytic",
    }
    return Result(
        terms=terms, params=np.array(est_list), cov=cov, nobs=panel.nobs, df_resid=None,
        cov_type=("multiplier bootstrap (influence function)" if bootstrap else "influence function"),
        estimator="callaway_santanna", nobs_dropped=panel.nobs_dropped, diagnostics=diagnostics,
        spec={**panel.names, "controls": list(panel.controls), "control_group": control_group,
              "est_method": est_method, "base_period": base_period, "cluster": panel.cluster_name},
    )


__all__ = ["callaway_santanna", "multiplier_bootstrap", "att_reg", "att_dr"]
