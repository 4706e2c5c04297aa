"""Heterogeneity: split-sample estimates and three tests that a coefficient is equal in two groups.

For a grouping column with two groups A and B (e.g. resource-based vs other cities) and a term
(e.g. ``robot``), :func:`compare_groups` reports:

1. **Chow-type pooled test**: one regression on the pooled sample with every regressor and every
   fixed effect interacted with the group indicator D (so each group keeps its own slopes and
   fixed effects), clustered SEs; the test is the t test of the coefficient on ``term:D``
   (= b_B - b_A).
2. **SUEST** (seemingly unrelated estimation, Stata's ``suest``): the two split-sample fits are
   stacked; their joint covariance is the sandwich of the stacked scores clustered by the cluster
   variable (a cluster that appears in both groups contributes to the cross-covariance), with
   G/(G-1); z test of b_B - b_A.
3. **Fisher permutation test**: the group labels are reassigned at the entity level (each entity
   keeps one label; the number of entities per group is kept), ``permutations`` times with a
   seeded generator; the p-value is (1 + #{|d*| >= |d|}) / (1 + permutations) with
   d = b_B - b_A from the split-sample fits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from . import linalg
from .errors import InputError
from .formula import parse_formula
from .result import Result


def split_sample(formula: str, data: pd.DataFrame, by: str, **fit_kwargs) -> dict:
    """Fit ``formula`` separately in each group of column ``by``: {group label: Result}."""
    from .fe import fit

    if by not in data.columns:
        raise InputError("unknown grouping column", column=by)
    out = {}
    for g, sub in data.groupby(by, sort=True, dropna=True):
        out[g] = fit(formula, sub.reset_index(drop=True), **fit_kwargs)
    return out


def _two_groups(data: pd.DataFrame, by: str, groups):
    levels = list(pd.unique(data[by].dropna())) if groups is None else list(groups)
    try:
        levels = sorted(levels)
    except TypeError:
        pass
    if len(levels) != 2:
        raise InputError(f"need exactly two groups to compare, found {levels[:6]}", column=by)
    return levels


def _pieces(formula: str, data: pd.DataFrame, *, cluster, entity, time, weights=None):
    """Coefficients, bread, scores (n x k) and cluster labels of an OLS fit (no IV)."""
    from . import fe

    f = parse_formula(formula)
    if f.is_iv:
        raise InputError("SUEST is implemented for least squares formulas only")
    frame = fe.build_frame(f, data, entity=entity, time=time, cluster=cluster, weights=weights)
    tr = fe.transform(frame, intercept=f.intercept)
    names = (["Intercept"] if (f.intercept and not frame.fe_codes) else []) + list(frame.x_names)
    fitted = linalg.qr_lstsq(tr.X, tr.y, names)
    scores = tr.X * fitted.resid[:, None]
    labels = data[cluster].to_numpy()[frame.rows]
    return names, fitted.beta, fitted.bread, scores, labels


def compare_groups(
    formula: str,
    data: pd.DataFrame,
    *,
    by: str,
    term: str,
    entity: str,
    time: str | None = None,
    cluster: str | None = None,
    groups: Sequence | None = None,
    permutations: int = 199,
    seed: int = 0,
    **fit_kwargs,
) -> dict:
    """Split-sample estimates of ``term`` by ``by`` and the three tests of equality (module doc).

    Returns a plain dict: ``groups``, ``split`` ({label: {estimate, std_error, nobs}}),
    ``difference`` (b_B - b_A), ``chow``, ``suest`` and ``permutation`` (each with ``statistic``
    and ``p_value``). The grouping must be constant within entity for the permutation test.
    """
    from .fe import fit

    with linalg.single_threaded_blas():
        cluster = cluster or entity
        a, b = _two_groups(data, by, groups)
        d = data[data[by].isin([a, b])].reset_index(drop=True)
        per_entity = d.groupby(entity)[by].nunique()
        if (per_entity > 1).any():
            bad = per_entity[per_entity > 1].index[:5].tolist()
            raise InputError(f"the group changes within entities {bad}; group at the entity level", column=by)
        kw = dict(fit_kwargs, entity=entity, time=time, cluster=cluster)
        fa = fit(formula, d[d[by] == a].reset_index(drop=True), **kw)
        fb = fit(formula, d[d[by] == b].reset_index(drop=True), **kw)
        for r in (fa, fb):
            if term not in r.terms:
                raise InputError(f"term {term!r} not in the model; terms: {list(r.terms)}")
        diff = float(fb.coefficients[term] - fa.coefficients[term])
        out = {
            "groups": [str(a), str(b)],
            "term": term,
            "split": {
                str(g): {"estimate": float(r.coefficients[term]), "std_error": float(r.std_errors[term]),
                         "nobs": r.nobs}
                for g, r in ((a, fa), (b, fb))
            },
            "difference": diff,
        }
        out["chow"] = _chow(formula, d, by=by, b=b, term=term, kw=kw)
        out["suest"] = _suest(formula, d, by=by, a=a, b=b, term=term, cluster=cluster, entity=entity,
                              time=time, weights=fit_kwargs.get("weights"))
        out["permutation"] = _permutation(formula, d, by=by, a=a, b=b, term=term, kw=kw, observed=diff,
                                          entity=entity, permutations=permutations, seed=seed)
    return out


def _chow(formula, d, *, by, b, term, kw) -> dict:
    from .fe import fit

    f = parse_formula(formula)
    if f.is_iv:
        raise InputError("the pooled interacted test is implemented for least squares formulas")
    dd = d.copy()
    dd["__grp"] = (dd[by] == b).astype(float)
    terms = [t.name for t in f.terms]
    inter = [f"{t}:__grp" for t in terms]
    fes = []
    for c in f.fixed_effects:
        dd[f"{c}__grp"] = dd[c].astype(str) + "#" + dd["__grp"].astype(str)
        fes.append(f"{c}__grp")
    rhs = " + ".join(terms + inter + ([] if fes else ["__grp"]))
    lhs = f.lhs.name
    pooled = lhs + " ~ " + rhs + (" | " + " + ".join(fes) if fes else "")
    r = fit(pooled, dd, **kw)
    name = f"{term}:__grp"
    t = float(r.tstats[name])
    return {"method": "pooled fully interacted regression, clustered", "formula": pooled,
            "estimate": float(r.coefficients[name]), "std_error": float(r.std_errors[name]),
            "statistic": t, "p_value": float(r.pvalues[name]), "df": r.df_resid}


def _suest(formula, d, *, by, a, b, term, cluster, entity, time, weights) -> dict:
    na, ba, Ba, Sa, la = _pieces(formula, d[d[by] == a].reset_index(drop=True), cluster=cluster,
                                 entity=entity, time=time, weights=weights)
    nb, bb, Bb, Sb, lb = _pieces(formula, d[d[by] == b].reset_index(drop=True), cluster=cluster,
                                 entity=entity, time=time, weights=weights)
    labels, codes = np.unique(np.concatenate([la.astype(str), lb.astype(str)]), return_inverse=True)
    ca, cb = codes[: la.size], codes[la.size :]
    G = labels.size
    ka, kb = Sa.shape[1], Sb.shape[1]
    SA = np.zeros((G, ka))
    SB = np.zeros((G, kb))
    for j in range(ka):
        SA[:, j] = np.bincount(ca, weights=Sa[:, j], minlength=G)
    for j in range(kb):
        SB[:, j] = np.bincount(cb, weights=Sb[:, j], minlength=G)
    S = np.hstack([SA, SB])
    meat = S.T @ S * G / (G - 1)
    Bread = np.zeros((ka + kb, ka + kb))
    Bread[:ka, :ka] = Ba
    Bread[ka:, ka:] = Bb
    V = Bread @ meat @ Bread
    ia, ib = na.index(term), ka + nb.index(term)
    diff = bb[nb.index(term)] - ba[na.index(term)]
    var = V[ia, ia] + V[ib, ib] - 2 * V[ia, ib]
    se = math.sqrt(max(var, 0.0))
    z = diff / se if se > 0 else math.nan
    return {"method": "stacked scores (suest), clustered, G/(G-1)", "estimate": float(diff),
            "std_error": se, "statistic": float(z), "p_value": float(2 * stats.norm.sf(abs(z))),
            "covariance_ab": float(V[ia, ib]), "n_clusters": int(G)}


def _permutation(formula, d, *, by, a, b, term, kw, observed, entity, permutations, seed) -> dict:
    """Fisher permutation test; the model frame is evaluated once and each permuted split only
    re-absorbs the fixed effects and re-solves the least squares (same estimates as fe.fit)."""
    from . import fe

    f = parse_formula(formula)
    frame = fe.build_frame(f, d, entity=kw.get("entity"), time=kw.get("time"),
                           weights=kw.get("weights"), on_gap=kw.get("on_gap", "error"), singletons=False)
    if f.is_iv:
        raise InputError("the permutation test is implemented for least squares formulas")
    names = (["Intercept"] if (f.intercept and not frame.fe_codes) else []) + list(frame.x_names)
    if term not in names:
        raise InputError(f"term {term!r} not in the model; terms: {names}")
    j = names.index(term)
    ent_rows = d[entity].to_numpy()[frame.rows]
    ents = d[[entity, by]].drop_duplicates(entity)
    labels = ents[by].to_numpy()
    ent_index = pd.Index(ents[entity].to_numpy())
    pos = ent_index.get_indexer(ent_rows)
    M = np.column_stack([frame.y, frame.X])
    w = frame.weights

    def coef(mask):
        Mi = M[mask]
        wi = None if w is None else w[mask]
        codes = [linalg.factorize(c[mask])[0] for c in frame.fe_codes]
        if codes:
            keep = linalg.drop_singletons(codes)
            if not keep.all():
                Mi = Mi[keep]
                wi = None if wi is None else wi[keep]
                codes = [linalg.factorize(c[keep])[0] for c in codes]
            Md, _ = linalg.demean(Mi, codes, wi)
        else:
            Md = Mi
        X = Md[:, 1:]
        if f.intercept and not codes:
            X = np.column_stack([np.ones(X.shape[0]), X])
        fit_ = linalg.qr_lstsq(X, Md[:, 0], names, wi)
        return fit_.beta[j]

    rng = np.random.default_rng(seed)
    stats_ = np.empty(permutations)
    try:
        import sys

        from tqdm import tqdm

        it = tqdm(range(permutations), desc="permutations", file=sys.stderr,
                  disable=not sys.stderr.isatty(), leave=False)
    except ImportError:  # pragma: no cover
        it = range(permutations)
    for i in it:
        g = rng.permutation(labels)[pos]
        try:
            stats_[i] = coef(g == b) - coef(g == a)
        except InputError:
            stats_[i] = np.nan
    valid = stats_[np.isfinite(stats_)]
    p = (1 + np.sum(np.abs(valid) >= abs(observed) - 1e-12)) / (1 + valid.size)
    return {"method": "Fisher permutation of group labels across entities", "statistic": float(observed),
            "p_value": float(p), "permutations": int(valid.size), "seed": seed}


def heterogeneity_table(results: dict) -> pd.DataFrame:
    """A tidy summary of :func:`compare_groups`'s output: one row per test."""
    rows = []
    for key in ("chow", "suest", "permutation"):
        r = results[key]
        rows.append({"test": key, "difference": results["difference"], "statistic": r["statistic"],
                     "p_value": r["p_value"]})
    return pd.DataFrame(rows)


__all__ = ["split_sample", "compare_groups", "heterogeneity_table", "Result"]
