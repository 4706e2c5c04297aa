"""Roth (2022): how much a pre-trend test can see, and what passing it does to the estimate.

Roth, J. (2022), "Pretest with Caution: Event-Study Estimates after Testing for Parallel
Trends", *American Economic Review: Insights* 4(3): 305-322. Given event-study coefficients
``beta = (beta_pre, beta_post) ~ N(delta + (0, tau_post), Sigma)`` and a hypothesised violation
of parallel trends that is linear in event time, ``delta_t = slope * (t - ref)``, this module
computes

* the power of the pre-test -- here the joint Wald test that every pre-period coefficient is
  zero, at level ``alpha`` -- against that violation (exactly: a noncentral chi-square);
* the slope against which the pre-test has 50% and 80% power;
* the bias of ``l'beta_post`` for ``l'tau_post``, unconditionally (``l'delta_post``) and
  conditional on passing the pre-test, by exact one-dimensional numerical integration
  (below), validated against a Monte Carlo in the tests.

Roth's R package ``pretrends`` uses a different pre-test, "no pre-period coefficient is
individually significant"; the Wald test is the one this project's event studies report
(``diagnostics["pretrend"]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import integrate, optimize, stats

from ..errors import InputError
from ..result import Result
from .honestdid import _contiguous, _inputs, _target


def _pre_quadratic(t_pre: np.ndarray, S_pre: np.ndarray) -> float:
    return float(t_pre @ np.linalg.solve(S_pre, t_pre))


def _conditional_moments(a: float, c: float, k: int) -> tuple[float, float]:
    """For z ~ N(mu, I_k) with |mu| = a: P(|z|^2 <= c) and E[z1 | |z|^2 <= c], z1 = mu'z/|mu|.

    z1 ~ N(a, 1) is independent of W = |z|^2 - z1^2 ~ chi2(k - 1), so
    P = int phi(x - a) F_{k-1}(c - x^2) dx and E[z1 1{pass}] = int x phi(x - a) F_{k-1}(c - x^2) dx
    over |x| <= sqrt(c) (F_0 = 1: the truncated normal for k = 1).
    """
    r = math.sqrt(c)
    if k == 1:
        p = stats.norm.cdf(r - a) - stats.norm.cdf(-r - a)
        m = a * p + (stats.norm.pdf(-r - a) - stats.norm.pdf(r - a))
        return float(p), float(m / p) if p > 0 else math.nan
    F = stats.chi2(k - 1).cdf

    def dens(x):
        return stats.norm.pdf(x - a) * F(c - x * x)

    opts = dict(epsabs=1e-13, epsrel=1e-11, limit=200, points=[a] if -r < a < r else None)
    p = integrate.quad(dens, -r, r, **opts)[0]
    m = integrate.quad(lambda x: x * dens(x), -r, r, **opts)[0]
    return float(p), (float(m / p) if p > 0 else math.nan)


def pretest_power(slope: float, *, t_pre: np.ndarray, S_pre: np.ndarray, alpha: float = 0.05) -> float:
    """Power of the level-``alpha`` Wald pre-test against ``delta_pre = slope * t_pre``:
    ``P(chi2_k(ncp) > chi2_{k,1-alpha})`` with ``ncp = slope^2 t_pre' S_pre^{-1} t_pre``."""
    k = t_pre.shape[0]
    crit = stats.chi2.ppf(1 - alpha, k)
    ncp = slope * slope * _pre_quadratic(t_pre, S_pre)
    return float(stats.ncx2.sf(crit, k, ncp)) if ncp > 0 else float(alpha)


def slope_for_power(power: float, *, t_pre: np.ndarray, S_pre: np.ndarray, alpha: float = 0.05) -> float:
    """The positive slope of a linear violation against which the Wald pre-test has ``power``."""
    if not alpha < power < 1:
        raise InputError(f"target power must lie in (alpha, 1) = ({alpha}, 1), got {power}")
    k = t_pre.shape[0]
    crit = stats.chi2.ppf(1 - alpha, k)
    hi = 1.0
    while stats.ncx2.sf(crit, k, hi) < power:
        hi *= 2.0
    ncp = optimize.brentq(lambda v: stats.ncx2.sf(crit, k, v) - power, 0.0, hi, xtol=1e-14, rtol=1e-14)
    return float(math.sqrt(ncp / _pre_quadratic(t_pre, S_pre)))


def conditional_bias(slope: float, *, t_pre, t_post, Sigma, n_pre: int, l_vec, alpha: float = 0.05) -> dict:
    """Bias of ``l'beta_post`` for ``l'tau_post`` under ``delta_t = slope t``: unconditional and
    conditional on passing the Wald pre-test, and the probability of passing.

    ``E[beta_post | beta_pre] = tau + delta_post + Sigma_21 Sigma_11^{-1} (beta_pre - delta_pre)``
    and, by rotational symmetry of the whitened pre-period coefficients,
    ``E[beta_pre | pass] = delta_pre E[z1 | pass] / a`` with ``a^2 = delta_pre' Sigma_11^{-1}
    delta_pre`` (:func:`_conditional_moments`), so the conditional bias is
    ``l'delta_post + l'Sigma_21 Sigma_11^{-1} delta_pre (E[z1 | pass]/a - 1)``.
    """
    S11 = Sigma[:n_pre, :n_pre]
    S21 = Sigma[n_pre:, :n_pre]
    d_pre = slope * np.asarray(t_pre, float)
    d_post = slope * np.asarray(t_post, float)
    k = n_pre
    c = stats.chi2.ppf(1 - alpha, k)
    unc = float(l_vec @ d_post)
    if slope == 0:
        return {"slope": 0.0, "bias_unconditional": 0.0, "bias_conditional": 0.0,
                "pass_probability": 1 - alpha, "power": alpha}
    a = math.sqrt(float(d_pre @ np.linalg.solve(S11, d_pre)))
    p, m1 = _conditional_moments(a, c, k)
    proj = float(l_vec @ S21 @ np.linalg.solve(S11, d_pre))
    return {"slope": float(slope), "bias_unconditional": unc,
            "bias_conditional": unc + proj * (m1 / a - 1.0),
            "pass_probability": p, "power": 1.0 - p}


def pretrend_power(result: Result | None = None, *, beta=None, sigma=None, event_times=None,
                   ref: int | None = None, window: tuple[int, int] | None = None,
                   target: Any = "first", alpha: float = 0.05,
                   powers: Sequence[float] = (0.5, 0.8), slopes: Sequence[float] | None = None) -> Result:
    """Roth (2022) power of the pre-trend test against linear violations, and the bias of the
    event-study estimate conditional on passing it.

    Parameters
    ----------
    result
        An event-study Result (see :func:`~robocarbon.empirics.sensitivity.honestdid.event_coefficients`),
        or ``beta``, ``sigma``, ``event_times`` (and ``ref``, default -1).
    target
        ``"first"``, ``"average"``, a post-period term (``"e+1"``) or weights over the
        post-periods; the bias is reported for ``l'beta_post``.
    alpha
        Level of the Wald pre-test.
    powers
        Report the slopes with these powers (default 50% and 80%).
    slopes
        Extra slopes to evaluate (the power curve); default: 0 to twice the 80%-power slope.

    Returns
    -------
    Result
        One term, the target, with estimate ``l'beta_post`` and variance ``l'Sigma l``.
        ``diagnostics``: ``pretest`` (Wald statistic, df, critical value, p-value, passes),
        ``slope_for_power`` (rows ``{"power", "slope", "bias_unconditional",
        "bias_conditional", "pass_probability"}``), ``power_curve`` (same rows for
        ``slopes``), and ``violation`` (``delta_t = slope * (t - ref)``).

    Notes
    -----
    With ``t`` the event time relative to the reference period and ``k`` pre-periods, the
    pre-test rejects when ``beta_pre' Sigma_11^{-1} beta_pre > chi2_{k, 1-alpha}``. Under
    ``delta_t = gamma t`` its power is ``P(chi2_k(gamma^2 t_pre' Sigma_11^{-1} t_pre) >
    chi2_{k, 1-alpha})``. The conditional bias uses
    :func:`conditional_bias` (exact 1-D integration of a normal density against a chi-square
    CDF); Roth (2022) Proposition 1 explains its sign: with positively correlated pre- and
    post-period estimates, passing the test selects draws that understate the trend and the
    bias can exceed the unconditional one.

    Examples
    --------
    >>> import numpy as np
    >>> sigma = 0.01 ** 2 * (np.eye(5) + 0.5)
    >>> res = pretrend_power(beta=np.zeros(5), sigma=sigma, event_times=[-4, -3, -2, 0, 1])
    >>> rows = res.diagnostics["slope_for_power"]
    >>> [r["power"] for r in rows]
    [0.5, 0.8]
    >>> bool(rows[1]["slope"] > rows[0]["slope"] > 0)
    True
    """
    e, b, s, r, src = _inputs(result, beta, sigma, event_times, ref, window)
    n_pre, n_post = _contiguous(e, r)
    l_vec, term = _target(target, e, r)
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    t = (e - r).astype(float)
    t_pre, t_post = t[:n_pre], t[n_pre:]
    S11 = s[:n_pre, :n_pre]
    bpre = b[:n_pre]
    stat = float(bpre @ np.linalg.solve(S11, bpre))
    crit = float(stats.chi2.ppf(1 - alpha, n_pre))
    pretest = {"statistic": stat, "df": n_pre, "critical_value": crit,
               "p_value": float(stats.chi2.sf(stat, n_pre)), "passes": bool(stat <= crit),
               "test": "Wald, every pre-period coefficient zero (chi-square reference)"}
    rows = []
    for pw in powers:
        g = slope_for_power(float(pw), t_pre=t_pre, S_pre=S11, alpha=alpha)
        row = conditional_bias(g, t_pre=t_pre, t_post=t_post, Sigma=s, n_pre=n_pre, l_vec=l_vec, alpha=alpha)
        rows.append({**row, "power": float(pw)})
    if slopes is None:
        top = 2.0 * max([x["slope"] for x in rows] or [1.0])
        slopes = np.linspace(0.0, top, 21)
    curve = [conditional_bias(float(g), t_pre=t_pre, t_post=t_post, Sigma=s, n_pre=n_pre, l_vec=l_vec,
                              alpha=alpha) for g in slopes]
    orig_se = float(np.sqrt(l_vec @ s[n_pre:, n_pre:] @ l_vec))
    diagnostics = {
        "pretest": pretest, "slope_for_power": rows, "power_curve": curve,
        "violation": "delta_t = slope * (t - ref), t the event time", "alpha": alpha,
        "event_times": e.tolist(), "ref": r, "n_pre": n_pre, "n_post": n_post,
        "l_vec": l_vec.tolist(), "source_estimator": None if src is None else src.estimator,
        "method": "power: noncentral chi-square; conditional bias: exact 1-D numerical integration",
    }
    return Result(terms=[term], params=[float(l_vec @ b[n_pre:])], cov=[[orig_se ** 2]],
                  nobs=0 if src is None else src.nobs, df_resid=None,
                  cov_type="given" if src is None else src.cov_type, estimator="pretrend_power",
                  diagnostics=diagnostics,
                  spec={"target": term, "alpha": alpha, "powers": [float(p) for p in powers],
                        "window": None if window is None else list(window)})


__all__ = ["pretrend_power", "pretest_power", "slope_for_power", "conditional_bias"]
