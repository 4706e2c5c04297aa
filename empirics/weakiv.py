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
- the Anderson and Rubin (1949) confidence set for one endogenous regressor, with the Wald SEs'
  small-sample factor, by the analytic quadratic inequality (one instrument) or by vectorised
  evaluation on a grid and brentq root-finding (several), reporting the union of intervals
  (bounded intervals, rays, the whole line or the empty set).
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


def score_outer(scores: np.ndarray, vcov: str, clusters, g_adjust: str = "none") -> np.ndarray:
    """sum_i s_i s_i' (hc1/unadjusted) or sum_g s_g s_g' (one-way), or the CGM two-way sum.

    ``g_adjust`` applies the cluster-count factors exactly as ``core.covariance.cluster_vcov``:
    ``"none"`` (raw sums), ``"each"`` (each meat times its own G/(G-1)) or ``"min"`` (the whole
    times Gmin/(Gmin-1), Gmin over the clustering dimensions)."""
    if vcov == "cluster" and clusters:
        if len(clusters) == 1:
            parts = [(clusters[0], 1.0)]
        else:
            a, b = clusters[0], clusters[1]
            ab = np.unique(a * (int(b.max()) + 1) + b, return_inverse=True)[1].ravel()
            parts = [(a, 1.0), (b, 1.0), (ab, -1.0)]
        out = np.zeros((scores.shape[1], scores.shape[1]))
        Gs = []
        for codes, sgn in parts:
            S = _cluster_sum(scores, codes)
            G = S.shape[0]
            Gs.append(G)
            f = G / (G - 1) if (g_adjust == "each" and G > 1) else 1.0
            out += sgn * f * (S.T @ S)
        if g_adjust == "min":
            g = min(Gs[: len(clusters)])
            out *= g / (g - 1)
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
_G_FACTOR = {"none": "", "each": " x G/(G-1) per clustering dimension",
             "min": " x Gmin/(Gmin-1)"}


def _fmt_set(intervals) -> str:
    if not intervals:
        return "empty"
    parts = []
    for lo, hi in intervals:
        a = "(-inf" if lo is None else f"[{lo:.6g}"
        b = "inf)" if hi is None else f"{hi:.6g}]"
        parts.append(f"{a}, {b}")
    return " U ".join(parts)


def _set_type(intervals) -> str:
    if not intervals:
        return "empty"
    rays = [iv for iv in intervals if iv[0] is None or iv[1] is None]
    if intervals == [[None, None]]:
        return "whole line"
    if not rays:
        return "bounded" if len(intervals) == 1 else "union of bounded intervals"
    if len(intervals) == 1:
        return "ray"
    if len(intervals) == 2 and len(rays) == 2:
        return "union of two rays"
    return "unbounded"


def anderson_rubin_set(
    y: np.ndarray,
    x: np.ndarray,
    Z: np.ndarray,
    *,
    vcov: str,
    clusters=(),
    scale: float = 1.0,
    g_adjust: str = "none",
    convention: str | None = None,
    df_resid: int | None = None,
    level: float = 0.95,
    center: float = 0.0,
    width: float = 1.0,
    grid_points: int = 2001,
    method: str = "auto",
) -> dict:
    r"""Anderson-Rubin confidence set for the coefficient of one endogenous regressor.

    For each b0 the AR statistic is the Wald test of gamma = 0 in the regression of y - b0 x on Z
    (exogenous regressors and fixed effects already partialled out), with the covariance of the
    fitted model: :math:`AR(b_0)=\gamma(b_0)'V(b_0)^{-1}\gamma(b_0)`, compared with
    L * F(L, df_resid) (chi2(L) when ``df_resid`` is None). Pass the small-sample factor of the
    model's Wald SEs: ``scale`` ((n-1)/(n-K) clustered, n/(n-K) HC1, n/(n-K) unadjusted) and, for
    clustering, ``g_adjust`` (``"each"``/``"min"``/``"none"``, as ``core.covariance``), so the
    set inverts exactly the test the reported SEs imply (CR1: (G/(G-1))((n-1)/(n-K))).

    Notes
    -----
    With :math:`\pi_y,\pi_x` the coefficients of y and x on Z and :math:`\Omega` the covariance of
    :math:`(\pi_y,\pi_x)` (one sandwich of the stacked scores :math:`[Z u_y, Z u_x]`),
    :math:`\gamma(b)=\pi_y-b\pi_x` and :math:`V(b)=\Omega_{yy}-b(\Omega_{xy}+\Omega_{yx})+
    b^2\Omega_{xx}` in closed form, so the statistic is evaluated for all b0 at once (a batched
    L x L solve; one instrument: a ratio of two quadratics in b0). With one instrument the
    acceptance region is a quadratic inequality solved exactly. Otherwise the statistic minus the
    critical value is evaluated on a grid (``grid_points`` on center +- 50*width plus a
    logarithmic tail grid out to 1e12*width) and every sign change is refined by
    ``scipy.optimize.brentq``; the sign beyond the grid is the analytic limit
    :math:`\pi_x'\Omega_{xx}^{-1}\pi_x` as b0 -> +-inf (a root beyond the grid is bracketed by
    expanding outward). Intervals narrower than the grid spacing can be missed.

    Returns ``{"type", "intervals", "set", "method", "level", "critical_value",
    "small_sample"}``; ``type`` is one of ``"bounded"``, ``"union of bounded intervals"``,
    ``"union of two rays"``, ``"ray"``, ``"whole line"``, ``"empty"``, ``"unbounded"`` (rays and
    bounded pieces); ``intervals`` lists [low, high] pairs (None for -inf/+inf); ``set`` says it in
    words. ``method="grid"`` forces the root-finding inversion also with one instrument.
    """
    from scipy.optimize import brentq

    n, L = Z.shape
    ZZ = Z.T @ Z
    piy = np.linalg.solve(ZZ, Z.T @ y)
    pix = np.linalg.solve(ZZ, Z.T @ x)
    ry = y - Z @ piy
    rx = x - Z @ pix
    crit = (stats.f.ppf(level, L, df_resid) * L) if df_resid else stats.chi2.ppf(level, L)
    ZZi = np.linalg.inv(ZZ)

    if vcov == "unadjusted":
        Syy, Sxy, Sxx = ry @ ry / n * ZZ, rx @ ry / n * ZZ, rx @ rx / n * ZZ
    else:
        M = score_outer(np.hstack([Z * ry[:, None], Z * rx[:, None]]), vcov, clusters,
                        g_adjust=g_adjust if vcov == "cluster" else "none")
        Syy, Sxy, Sxx = M[:L, :L], M[L:, :L], M[L:, L:]
    Vyy = scale * ZZi @ Syy @ ZZi
    Vxy = scale * ZZi @ Sxy @ ZZi
    Vxx = scale * ZZi @ Sxx @ ZZi
    Vc = Vxy + Vxy.T
    Vyy, Vxx, Vc = (Vyy + Vyy.T) / 2, (Vxx + Vxx.T) / 2, (Vc + Vc.T) / 2

    def stat(b):
        """AR(b) for an array (or scalar) b, vectorised."""
        b = np.asarray(b, dtype=float)
        bb = b.reshape(-1)
        g = piy[None, :] - bb[:, None] * pix[None, :]
        if L == 1:
            v = Vyy[0, 0] - bb * Vc[0, 0] + bb * bb * Vxx[0, 0]
            out = g[:, 0] ** 2 / v
        else:
            Vb = Vyy[None] - bb[:, None, None] * Vc[None] + (bb * bb)[:, None, None] * Vxx[None]
            out = np.einsum("ij,ij->i", g, np.linalg.solve(Vb, g[:, :, None])[:, :, 0])
        return out.reshape(b.shape)

    label = convention or ("CR1" if vcov == "cluster" else "HC1" if vcov == "hc1" else "iid")
    factor = {"cluster": "(n-1)/(n-K)" + _G_FACTOR.get(g_adjust, ""), "hc1": "n/(n-K)",
              "unadjusted": "n/(n-K)"}.get(vcov, "")
    out = {"level": level, "critical_value": float(crit),
           "small_sample": {"convention": label, "scale": float(scale),
                            "g_adjust": g_adjust if vcov == "cluster" else "none",
                            "factor": factor if scale != 1.0 or (vcov == "cluster" and g_adjust != "none")
                            else "none"}}

    def finish(intervals, meth, **extra):
        out.update(type=_set_type(intervals), intervals=intervals, set=_fmt_set(intervals),
                   method=meth, **extra)
        return out

    if L == 1 and method != "grid":
        a2 = pix[0] ** 2 - crit * Vxx[0, 0]
        a1 = -2 * piy[0] * pix[0] + crit * Vc[0, 0]
        a0 = piy[0] ** 2 - crit * Vyy[0, 0]
        disc = a1 * a1 - 4 * a2 * a0
        meth = "analytic quadratic"
        if abs(a2) < 1e-14 * max(abs(a1), abs(a0), 1e-300):
            if abs(a1) < 1e-300:
                return finish([[None, None]] if a0 <= 0 else [], meth)
            r = -a0 / a1
            return finish([[None, r]] if a1 > 0 else [[r, None]], meth)
        if disc < 0:
            return finish([] if a2 > 0 else [[None, None]], meth)
        q = -0.5 * (a1 + math.copysign(math.sqrt(disc), a1))  # the stable quadratic formula
        r1, r2 = sorted((q / a2, a0 / q)) if q != 0 else (0.0, 0.0)
        return finish([[r1, r2]] if a2 > 0 else [[None, r1], [r2, None]], meth)

    # root-finding inversion
    lim = float(pix @ np.linalg.solve(Vxx, pix))  # AR(b) as b -> +-inf
    lim_acc = lim <= crit
    tail = np.logspace(np.log10(50.0), 12.0, 400)[1:]
    t = np.concatenate([-tail[::-1], np.linspace(-50.0, 50.0, grid_points), tail])
    grid = center + t * width
    f = stat(grid) - crit
    acc = f <= 0

    def f1(b):
        return float(stat(b)) - crit

    tol = dict(xtol=1e-14 * max(width, 1e-300), rtol=4 * np.finfo(float).eps, maxiter=500)
    roots = []
    for j in np.flatnonzero(acc[:-1] != acc[1:]):
        roots.append(brentq(f1, grid[j], grid[j + 1], **tol))

    def beyond(edge, acc_edge, direction):
        """A root beyond the grid's edge when the limit's sign differs from the edge's."""
        if acc_edge == lim_acc:
            return None
        a, step = edge, 1e12 * width
        for _ in range(60):
            b = a + direction * step
            if (f1(b) <= 0) != acc_edge:
                lo, hi = sorted((a, b))
                return brentq(f1, lo, hi, **tol)
            a, step = b, step * 10.0
        return None

    rlo = beyond(grid[0], bool(acc[0]), -1.0)
    rhi = beyond(grid[-1], bool(acc[-1]), 1.0)
    pts = ([rlo] if rlo is not None else []) + roots + ([rhi] if rhi is not None else [])
    # accepted pieces between consecutive breakpoints (-inf, pts..., +inf)
    edges = [None] + pts + [None]
    intervals = []
    # the left tail has the limit's sign (or the edge's if no root was found beyond it)
    state = lim_acc if rlo is not None else bool(acc[0])
    for k in range(len(edges) - 1):
        if state:
            intervals.append([edges[k] if k > 0 else None, edges[k + 1]])
        state = not state
    return finish(intervals, f"root-finding (brentq) on a {len(grid)}-point grid",
                  grid=[float(grid[0]), float(grid[-1])])
