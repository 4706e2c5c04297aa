"""Weak- and under-identification diagnostics for linear IV, and weak-IV-robust inference.

All functions take numpy arrays from which the included exogenous regressors (and any absorbed
fixed effects) have already been partialled out, with weights already applied as sqrt(w) scaling:
``E`` (n x K endogenous regressors), ``Z`` (n x L excluded instruments), ``y`` (n).

Implemented (our own code, following the published definitions; ivreg2/ranktest by Baum,
Schaffer, Stillman and Kleibergen were read for the conventions):

- Cragg and Donald (1993) minimum-eigenvalue Wald F and the Anderson (1951) canonical-correlation
  LM statistic (homoskedastic);
- Kleibergen and Paap (2006) rk statistics (LM: under-identification; Wald F: weak
  identification), robust to heteroskedasticity or clustering;
- Stock and Yogo (2005) critical values, read from ``stock_yogo_2005.csv`` beside this module;
- Hansen (1982) J / Sargan (1958) over-identification statistics;
- the Anderson and Rubin (1949) confidence set for one endogenous regressor, by the analytic
  quadratic inequality (one instrument) or by test inversion over a grid (several), reporting
  bounded intervals, unions of rays, the whole line or the empty set.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import linalg as sla
from scipy import stats

from .core.lstsq import partial_out

_SY_FILE = Path(__file__).with_name("stock_yogo_2005.csv")


# ----------------------------------------------------------------------------- helpers
def _cluster_sum(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    G = int(codes.max()) + 1
    S = np.zeros((G, scores.shape[1]))
    np.add.at(S, codes, scores)
    return S


def score_outer(scores: np.ndarray, vcov: str, clusters) -> np.ndarray:
    """sum_i s_i s_i' (hc1/unadjusted) or sum_g s_g s_g' (one-way), or the CGM two-way sum."""
    if vcov == "cluster" and clusters:
        if len(clusters) == 1:
            S = _cluster_sum(scores, clusters[0])
            return S.T @ S
        a, b = clusters[0], clusters[1]
        ab = np.unique(a * (int(b.max()) + 1) + b, return_inverse=True)[1].ravel()
        out = np.zeros((scores.shape[1], scores.shape[1]))
        for codes, sgn in ((a, 1.0), (b, 1.0), (ab, -1.0)):
            S = _cluster_sum(scores, codes)
            out += sgn * (S.T @ S)
        return out
    return scores.T @ scores


def _sqrtm_psd(A: np.ndarray) -> np.ndarray:
    w, U = np.linalg.eigh((A + A.T) / 2)
    return (U * np.sqrt(np.clip(w, 0, None))) @ U.T


# ----------------------------------------------------------------------------- rank tests
def canonical_correlations(E: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Squared canonical correlations between E and Z (descending)."""
    Qe, _ = np.linalg.qr(E)
    Qz, _ = np.linalg.qr(Z)
    s = np.linalg.svd(Qz.T @ Qe, compute_uv=False)
    return np.clip(s**2, 0.0, 1.0)


def cragg_donald(E: np.ndarray, Z: np.ndarray, *, dof: float) -> dict:
    """Cragg-Donald minimum-eigenvalue F and Anderson's canonical-correlation LM.

    ``dof`` is the residual degrees of freedom used for the F scaling (n minus all instruments,
    included exogenous and absorbed fixed effects; ivreg2's N - iv1_ct - sdofminus - dofminus).
    """
    n, K = E.shape
    L = Z.shape[1]
    cc = canonical_correlations(E, Z)
    mincc = float(cc[K - 1]) if cc.size >= K else 0.0
    cd = mincc / (1.0 - mincc) if mincc < 1 else math.inf
    lm = n * mincc
    df = L - K + 1
    return {
        "cragg_donald_f": cd * dof / L,
        "anderson_lm": lm,
        "anderson_lm_df": df,
        "anderson_lm_pvalue": float(stats.chi2.sf(lm, df)),
        "min_eigenvalue": cd,
    }


def kleibergen_paap(
    E: np.ndarray, Z: np.ndarray, *, vcov: str, clusters=(), kind: str = "lm"
) -> dict:
    """Kleibergen-Paap (2006) rk statistic for H0: rank(Pi) = K - 1 in E = Z Pi + V.

    ``kind="lm"`` uses the covariance under the null (scores from E itself); ``"wald"`` the
    unrestricted first-stage residuals. Returns the raw chi-square statistic (ranktest's r(chi2))
    and its degrees of freedom L - K + 1. With ``vcov="unadjusted"`` and ``kind="lm"`` it is the
    Anderson canonical-correlation statistic n * (smallest squared canonical correlation).
    """
    n, K = E.shape
    L = Z.shape[1]
    ZZ = Z.T @ Z
    EE = E.T @ E
    Pi = np.linalg.solve(ZZ, Z.T @ E)
    Lz = np.linalg.cholesky(ZZ)
    Ly = np.linalg.cholesky(EE)
    iLy_t = np.linalg.solve(Ly, np.eye(K)).T  # inv(Ly')
    iLz_t = np.linalg.solve(Lz, np.eye(L)).T  # inv(Lz')
    theta = Lz.T @ Pi @ iLy_t
    U, s, Vh = np.linalg.svd(theta, full_matrices=True)
    V = Vh.T
    q = K  # test of rank K-1, the last (smallest) singular value
    u12 = U[: q - 1, q - 1 :]
    u22 = U[q - 1 :, q - 1 :]
    v12 = V[: q - 1, q - 1 :]
    v22 = V[q - 1 :, q - 1 :]
    aq = np.vstack([u12, u22]) @ np.linalg.solve(u22, _sqrtm_psd(u22 @ u22.T))
    bq = _sqrtm_psd(v22 @ v22.T) @ np.linalg.solve(v22.T, np.vstack([v12, v22]).T)
    kr = np.kron(bq, aq.T)
    lab = kr @ theta.flatten(order="F")
    if kind == "lm" and vcov == "unadjusted":
        vhat = np.eye(L * K) / n
    else:
        e = E if kind == "lm" else E - Z @ Pi
        scores = (e[:, :, None] * Z[:, None, :]).reshape(n, K * L)  # kron(e_i, z_i)
        if vcov == "unadjusted":
            # homoskedastic Wald: S = (e'e/n) kron (Z'Z)
            S = np.kron(e.T @ e / n, ZZ)
        else:
            S = score_outer(scores, vcov, clusters)
        Kinv = np.kron(iLy_t.T, iLz_t.T)
        vhat = Kinv @ S @ Kinv.T
    vlab = kr @ vhat @ kr.T
    vlab = (vlab + vlab.T) / 2
    w_, U_ = np.linalg.eigh(vlab)
    if w_.max(initial=0.0) <= 0 or w_.min() <= 1e-14 * w_.max():
        # a perfect first stage (no first-stage residual variation): the rank is certain
        stat = math.inf if float(lab @ lab) > 0 else math.nan
    else:
        stat = float(np.sum((U_.T @ lab) ** 2 / w_))
    df = (L - K + 1)
    return {"statistic": stat, "df": df, "pvalue": float(stats.chi2.sf(stat, df)),
            "singular_values": s.tolist()}


# ----------------------------------------------------------------------------- Stock-Yogo
@lru_cache(maxsize=1)
def _sy_table() -> list[dict]:
    rows = []
    with open(_SY_FILE, encoding="utf-8") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    for r in csv.DictReader(lines):
        rows.append(
            {
                "table": r["table"],
                "estimator": r["estimator"],
                "threshold": float(r["threshold"]),
                "n_endog": int(r["n_endog"]),
                "k2": int(r["k2_instruments"]),
                "value": float(r["critical_value"]),
            }
        )
    return rows


def stock_yogo(n_endog: int, n_instruments: int, estimator: str = "2sls") -> dict:
    """Stock-Yogo (2005) critical values for the Cragg-Donald F (also used, as ivreg2 does, for
    the Kleibergen-Paap F): ``{"bias": {0.05: cv, ...}, "size": {0.10: cv, ...}}``; thresholds
    not tabulated for this (n_endog, n_instruments) are absent."""
    out: dict = {"bias": {}, "size": {}, "source": "Stock and Yogo (2005), Tables 5.1, 5.2, 5.4"}
    for r in _sy_table():
        if r["n_endog"] == n_endog and r["k2"] == n_instruments and r["estimator"] == estimator.lower():
            out[r["table"]][f"{r['threshold']:.2f}"] = r["value"]
    return out


# ----------------------------------------------------------------------------- over-identification
def hansen_j(
    y: np.ndarray, R: np.ndarray, Zfull: np.ndarray, resid: np.ndarray, *, vcov: str, clusters=()
) -> dict:
    """Hansen J (robust/cluster: the two-step efficient GMM objective, with the weight matrix from
    the 2SLS residuals) or Sargan (unadjusted: n u'P_Z u / u'u). Degrees of freedom L - K."""
    n = y.shape[0]
    df = Zfull.shape[1] - R.shape[1]
    if vcov == "unadjusted":
        Q, _ = np.linalg.qr(Zfull)
        pu = Q.T @ resid
        stat = float(n * (pu @ pu) / (resid @ resid))
        name = "sargan"
    else:
        S = score_outer(Zfull * resid[:, None], vcov, clusters)
        W = np.linalg.pinv(S)
        ZR = Zfull.T @ R
        Zy = Zfull.T @ y
        b = np.linalg.solve(ZR.T @ W @ ZR, ZR.T @ W @ Zy)
        g = Zfull.T @ (y - R @ b)
        stat = float(g @ W @ g)
        name = "hansen_j"
    return {"name": name, "statistic": stat, "df": int(df), "pvalue": float(stats.chi2.sf(stat, df))}


# ----------------------------------------------------------------------------- Anderson-Rubin
def anderson_rubin_set(
    y: np.ndarray,
    x: np.ndarray,
    Z: np.ndarray,
    *,
    vcov: str,
    clusters=(),
    scale: float = 1.0,
    df_resid: int | None = None,
    level: float = 0.95,
    center: float = 0.0,
    width: float = 1.0,
    grid_points: int = 2001,
    method: str = "auto",
) -> dict:
    r"""Anderson-Rubin confidence set for the coefficient of one endogenous regressor.

    For each b0 the AR statistic tests gamma = 0 in the regression of y - b0 x on Z (exogenous
    regressors and fixed effects already partialled out) with the chosen covariance (``scale`` the
    small-sample factor): :math:`AR(b_0)=\gamma(b_0)'V(b_0)^{-1}\gamma(b_0)/L`, compared with
    F(L, df_resid) (chi2(L)/L when ``df_resid`` is None). With one instrument the acceptance
    region is a quadratic inequality solved exactly; otherwise the statistic is inverted over a
    grid of ``grid_points`` values on center +- 50*width, widened while a set that is bounded
    (decided by the analytic limit of the statistic as b0 -> +-inf) still touches the grid edge.

    Returns ``{"type", "intervals", "method", "level"}``; ``type`` is one of ``"bounded"``,
    ``"union of two rays"``, ``"ray"``, ``"whole line"``, ``"empty"``, ``"unbounded"``;
    ``intervals`` lists [low, high] pairs (None for -inf/+inf). ``method="grid"`` forces the
    grid inversion also with one instrument (a cross-check of the analytic solution).
    """
    n, L = Z.shape
    ZZ = Z.T @ Z
    piy = np.linalg.solve(ZZ, Z.T @ y)
    pix = np.linalg.solve(ZZ, Z.T @ x)
    ry = y - Z @ piy
    rx = x - Z @ pix
    crit = (stats.f.ppf(level, L, df_resid) * L) if df_resid else stats.chi2.ppf(level, L)
    ZZi = np.linalg.inv(ZZ)

    def meats():
        if vcov == "unadjusted":
            Syy, Sxy, Sxx = ry @ ry / n * ZZ, rx @ ry / n * ZZ, rx @ rx / n * ZZ
            return Syy, Sxy, Sxx
        sy = Z * ry[:, None]
        sx = Z * rx[:, None]
        both = np.hstack([sy, sx])
        M = score_outer(both, vcov, clusters)
        return M[:L, :L], (M[L:, :L] + M[:L, L:].T) / 2, M[L:, L:]

    Syy, Sxy, Sxx = meats()
    Vyy = scale * ZZi @ Syy @ ZZi
    Vxy = scale * ZZi @ Sxy @ ZZi
    Vxx = scale * ZZi @ Sxx @ ZZi

    def stat(b0):
        g = piy - b0 * pix
        Vb = Vyy - b0 * (Vxy + Vxy.T) + b0 * b0 * Vxx
        return float(g @ np.linalg.solve(Vb, g))

    out = {"level": level, "critical_value": float(crit)}
    if L == 1 and method != "grid":
        a2 = pix[0] ** 2 - crit * Vxx[0, 0]
        a1 = -2 * piy[0] * pix[0] + 2 * crit * Vxy[0, 0]
        a0 = piy[0] ** 2 - crit * Vyy[0, 0]
        out["method"] = "analytic quadratic"
        disc = a1 * a1 - 4 * a2 * a0
        if abs(a2) < 1e-14 * max(abs(a1), abs(a0), 1e-300):
            if abs(a1) < 1e-300:
                out.update(type="whole line" if a0 <= 0 else "empty", intervals=[[None, None]] if a0 <= 0 else [])
            else:
                r = -a0 / a1
                out.update(type="ray", intervals=[[None, r]] if a1 > 0 else [[r, None]])
            return out
        if disc < 0:
            if a2 > 0:
                out.update(type="empty", intervals=[])
            else:
                out.update(type="whole line", intervals=[[None, None]])
            return out
        r1, r2 = sorted(((-a1 - math.sqrt(disc)) / (2 * a2), (-a1 + math.sqrt(disc)) / (2 * a2)))
        if a2 > 0:
            out.update(type="bounded", intervals=[[r1, r2]])
        else:
            out.update(type="union of two rays", intervals=[[None, r1], [r2, None]])
        return out
    # several instruments: grid inversion
    # the limit b0 -> inf: pix' Vxx^-1 pix compared with crit
    lim_acc = float(pix @ np.linalg.solve(Vxx, pix)) <= crit
    half = 50.0
    for _ in range(8):  # widen the grid until a bounded set no longer touches its edges
        grid = center + np.linspace(-half, half, grid_points) * width
        acc = np.array([stat(b) <= crit for b in grid])
        if lim_acc or not (acc[0] or acc[-1]):
            break
        half *= 4.0
    intervals = []
    j = 0
    while j < len(grid):
        if acc[j]:
            k = j
            while k + 1 < len(grid) and acc[k + 1]:
                k += 1
            lo = None if (j == 0 and lim_acc) else float(grid[j])
            hi = None if (k == len(grid) - 1 and lim_acc) else float(grid[k])
            intervals.append([lo, hi])
            j = k + 1
        else:
            j += 1
    if not intervals:
        typ = "empty"
    elif any(iv[0] is None or iv[1] is None for iv in intervals):
        typ = "whole line" if intervals == [[None, None]] else "unbounded"
    else:
        typ = "bounded"
    out.update(type=typ, intervals=intervals, method=f"grid inversion ({grid_points} points)",
               grid=[float(grid[0]), float(grid[-1])])
    return out
