"""Covariance of least-squares and IV coefficients: the one degrees-of-freedom rule, the
small-sample conventions, and the CR1/HC1/unadjusted sandwiches.

- :func:`fe_dof`: the fixed-effect degrees of freedom (sum of levels, minus one for each fixed
  effect after the first), and the part not nested in any cluster variable (a nested fixed
  effect counts one), as fixest and reghdfe count them. Every estimator takes K from here.
- :func:`small_sample`: the scale and K of a named convention (``SSC_NAMES``).
- :func:`covariance`: the sandwich ``c B M B`` of score regressors S and residuals, with the
  meat of :func:`cluster_meat` (one- or two-way clusters) or HC1, or ``c s^2 B``.
- :func:`grid_cov_compiled`: the coefficients, residuals, entity cluster sums and the CR1
  sandwich of a grid panel in one compiled pass (the Monte Carlo's fused route).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from .jit import jit
from .within import factorize, group_sums

__all__ = ["SSC_NAMES", "VCOV_NAMES", "fe_dof", "small_sample", "covariance", "cluster_meat",
           "cluster_vcov", "sandwich", "is_nested", "grid_cov_compiled"]

SSC_NAMES = ("fixest", "reghdfe", "xtreg", "linearmodels", "plm", "full", "none")
VCOV_NAMES = ("unadjusted", "hc1", "cluster")


def is_nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """True if every level of ``inner`` lies within a single level of ``outer``."""
    inner = np.asarray(inner, dtype=np.int64)
    outer = np.asarray(outer, dtype=np.int64)
    first = np.empty(int(inner.max()) + 1, dtype=np.int64)
    first[inner[::-1]] = outer[::-1]  # the outer level at the first occurrence of each inner level
    return bool(np.all(first[inner] == outer))


def fe_dof(fe_codes: Sequence[np.ndarray], clusters: Sequence[np.ndarray]) -> dict:
    """Degrees of freedom of the fixed effects: total (levels minus one per extra FE), and the
    part not nested in any cluster variable (a nested FE counts 1), as fixest/reghdfe."""
    levels = [int(c.max()) + 1 for c in fe_codes]
    nfe = len(levels)
    total = sum(levels) - (nfe - 1) if nfe else 0
    nested = [any(c is g or is_nested(c, g) for g in clusters) for c in fe_codes]
    nonnested = total - sum(L for L, nst in zip(levels, nested) if nst) + sum(nested) if nfe else 0
    return {"levels": levels, "total": total, "nonnested": nonnested, "nested": nested}


def small_sample(
    ssc: str, vcov: str, *, n: int, k: int, fe: dict, has_fe: bool
) -> tuple[float, int, str]:
    """(scale of the covariance, K used, G-adjustment mode) for a convention name.

    Returns the multiplier applied to the raw sandwich (HC0/CR0 with any G factor applied by
    ``g_mode``), or to RSS/n for ``unadjusted``.
    """
    total = fe["total"] if has_fe else 0
    if ssc in ("fixest", "reghdfe"):
        K = k + (fe["nonnested"] if (vcov == "cluster" and has_fe) else total)
        g = "min"
    elif ssc == "xtreg":
        if vcov == "cluster" and has_fe:
            K = k + 1 + total - fe["levels"][0]
        else:
            K = k + total
        g = "each"
    elif ssc == "linearmodels":
        d = total
        if vcov == "cluster" and has_fe and len(fe["levels"]) == 1 and fe["nested"][0]:
            d = 0
        K = k + d
        g = "none"
    elif ssc == "plm":
        K = k
        g = "each"
    elif ssc == "full":
        K = k + total
        g = "each"
    elif ssc == "none":
        K = k + total
        g = "none"
    else:
        raise InputError(f"unknown small-sample convention ssc={ssc!r}; use one of {SSC_NAMES}")
    if n - K <= 0:
        raise InputError(f"no residual degrees of freedom: {n} observations, {K} parameters")
    if vcov == "unadjusted":
        scale = n / (n - (k + total)) if ssc != "none" else 1.0
        if ssc == "linearmodels":
            scale = n / (n - K)
        return scale, K, g
    if ssc == "none":
        return 1.0, K, g
    if ssc == "linearmodels":
        return n / (n - K), K, g
    if vcov == "hc1":
        return n / (n - K), K, g
    return (n - 1) / (n - K), K, g


def covariance(
    S: np.ndarray,
    resid: np.ndarray,
    bread: np.ndarray,
    *,
    vcov: str,
    ssc: str,
    clusters: list[np.ndarray],
    n: int,
    k: int,
    fe: dict,
    has_fe: bool,
) -> tuple[np.ndarray, int | None, dict]:
    """Covariance of the coefficients from the (weighted, transformed) score regressors S."""
    scale, K, gmode = small_sample(ssc, vcov, n=n, k=k, fe=fe, has_fe=has_fe)
    info = {"ssc": ssc, "K": int(K), "scale": float(scale)}
    if vcov == "unadjusted":
        s2 = float(resid @ resid) / n
        return scale * s2 * bread, n - K, info
    scores = S * resid[:, None]
    if vcov == "hc1":
        V = bread @ (scores.T @ scores) @ bread
        return scale * (V + V.T) / 2, n - K, info
    if vcov == "cluster":
        V, Gs, fixed = cluster_vcov(scores, bread, clusters, g_adjust=gmode)
        info["n_clusters"] = [int(g) for g in Gs]
        if fixed:
            info["psd_fixed"] = True
        return scale * V, min(Gs) - 1, info
    raise InputError(f"unknown vcov {vcov!r}; use one of {VCOV_NAMES}")


def cluster_meat(scores: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Sum over clusters of (sum of scores in cluster)(...)'. ``scores`` is n x k (X_i * u_i)."""
    G = int(codes.max()) + 1
    S = group_sums(scores, codes, G)
    return S.T @ S, G


def cluster_vcov(
    scores: np.ndarray,
    bread: np.ndarray,
    clusters: Sequence[np.ndarray],
    *,
    g_adjust: str = "each",
) -> tuple[np.ndarray, list[int], bool]:
    """Cluster-robust covariance ``bread @ meat @ bread`` without the (n-1)/(n-K) factor.

    One- or two-way (Cameron, Gelbach and Miller 2011: meat_a + meat_b - meat_ab). ``g_adjust``:
    ``"each"`` multiplies each meat by its own G/(G-1) (CGM; linearmodels' ``group_debias``),
    ``"min"`` multiplies the whole by Gmin/(Gmin-1) (R fixest's default ``cluster.df="min"``),
    ``"none"`` applies no G factor (CR0). A two-way result that is not positive semi-definite is
    repaired by clipping negative eigenvalues at zero (CGM's suggestion); the third return value
    says whether that happened. Returns the covariance, the cluster counts and that flag.
    """
    if not clusters:
        raise InputError("clustered covariance requested but no cluster variable given")
    if len(clusters) > 2:
        raise InputError("at most two-way clustering is supported")
    if len(clusters) == 1:
        parts = [(clusters[0], 1.0)]
    else:
        a, b = clusters
        ab, _ = factorize(a.astype(np.int64) * (int(b.max()) + 1) + b)
        parts = [(a, 1.0), (b, 1.0), (ab, -1.0)]
    total = np.zeros((scores.shape[1], scores.shape[1]))
    Gs = []
    for codes, sign in parts:
        meat, G = cluster_meat(scores, codes)
        Gs.append(G)
        f = G / (G - 1) if (g_adjust == "each" and G > 1) else 1.0
        total += sign * f * meat
    main = Gs[: len(clusters)]
    if min(main) < 2:
        raise InputError(f"clustered covariance needs at least two clusters, got {min(main)}")
    if g_adjust == "min":
        g = min(main)
        total *= g / (g - 1)
    V = bread @ total @ bread
    V = (V + V.T) / 2
    fixed = False
    if len(clusters) == 2:
        wv, U = np.linalg.eigh(V)
        if wv.min() < 0:
            V = (U * np.clip(wv, 0, None)) @ U.T
            fixed = True
    return V, main, fixed


def sandwich(
    X: np.ndarray,
    resid: np.ndarray,
    bread: np.ndarray,
    *,
    kind: str = "cluster",
    clusters: Sequence[np.ndarray] = (),
    weights: np.ndarray | None = None,
    n: int | None = None,
    k: int | None = None,
) -> tuple[np.ndarray, int | None]:
    """Covariance of least-squares coefficients, with the CR1/HC1 small-sample factors.

    ``k`` is the number of parameters counted in the n-K correction (regressors plus fixed effects
    not nested in the cluster, the reghdfe/fixest convention); ``n`` the number of observations.
    Returns the covariance and the degrees of freedom for t-tests (G - 1 for clustered, with G the
    smallest number of clusters; n - k otherwise).

    Kinds: ``unadjusted`` (s^2 (X'X)^-1, s^2 = RSS/(n-k)); ``hc1``; ``cluster`` (one-way or, with
    two code arrays, two-way Cameron-Gelbach-Miller, each term with its own G/(G-1)).
    """
    X = np.asarray(X, dtype=float)
    nn = X.shape[0] if n is None else n
    kk = X.shape[1] if k is None else k
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    scores = X * (w * resid)[:, None]
    if kind == "unadjusted":
        s2 = float(np.sum(w * resid**2)) / (nn - kk)
        return s2 * bread, nn - kk
    if kind == "hc1":
        meat = scores.T @ scores
        return (nn / (nn - kk)) * bread @ meat @ bread, nn - kk
    if kind == "cluster":
        if not clusters:
            raise InputError("clustered covariance requested but no cluster variable given")
        adj = (nn - 1) / (nn - kk)
        if len(clusters) == 1:
            meat, G = cluster_meat(scores, clusters[0])
            if G < 2:
                raise InputError(f"clustered covariance needs at least two clusters, got {G}")
            return adj * G / (G - 1) * bread @ meat @ bread, G - 1
        if len(clusters) == 2:
            a, b = clusters
            ab, _ = factorize(a.astype(np.int64) * (int(b.max()) + 1) + b)
            total = np.zeros_like(bread)
            Gs = []
            for codes, sign in ((a, 1.0), (b, 1.0), (ab, -1.0)):
                meat, G = cluster_meat(scores, codes)
                if G < 2:
                    raise InputError(f"clustered covariance needs at least two clusters, got {G}")
                Gs.append(G)
                total += sign * G / (G - 1) * meat
            V = adj * bread @ total @ bread
            # Cameron-Gelbach-Miller: fix a non-positive-definite result by eigenvalue clipping
            wv, U = np.linalg.eigh((V + V.T) / 2)
            if wv.min() < 0:
                V = (U * np.clip(wv, 0, None)) @ U.T
            return V, min(Gs[:2]) - 1
        raise InputError("at most two-way clustering is supported")
    raise InputError(f"unknown covariance kind {kind!r}; use unadjusted, hc1 or cluster")


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


#: the compiled :func:`_grid_cov_py` (numba; None only where numba is missing)
grid_cov_compiled = jit(_grid_cov_py)
