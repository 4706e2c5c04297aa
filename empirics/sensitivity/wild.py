r"""Wild cluster bootstrap (restricted, null imposed) for one coefficient of a fixest-style
regression fitted by :func:`robocarbon.empirics.fe.fit`.

See :func:`wild_cluster_bootstrap`.
"""

from __future__ import annotations

import itertools
import math
import time as _time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from robocarbon.empirics.errors import InputError

from ._common import check_level, fit as _fit, parse

__all__ = ["wild_cluster_bootstrap", "WEIGHT_TYPES", "bootstrap_weights"]

#: the weight distributions: Rademacher (+-1 with probability 1/2) and Webb's six-point
#: distribution (+-sqrt(1/2), +-1, +-sqrt(3/2), each with probability 1/6)
WEIGHT_TYPES = ("rademacher", "webb")
_SUPPORT = {
    "rademacher": np.array([-1.0, 1.0]),
    "webb": np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0,
                      math.sqrt(1.5)]),
}
# ties |t*| = |t| (the all-ones weight vector reproduces t exactly) are decided up to rounding
_TIE_RTOL = 1e-9


def bootstrap_weights(G: int, B: int, weights: str = "rademacher", *,
                      enumerate_all: bool | None = None,
                      rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, bool]:
    """The G x B' matrix of cluster weights and whether it is the full enumeration.

    Full enumeration (every one of the ``s**G`` vectors of the weight support, ``s`` = 2 for
    Rademacher, 6 for Webb, in lexicographic order) when ``enumerate_all`` is True, or when it is
    None and ``s**G <= B``; else ``B`` independent draws from ``numpy.random.default_rng(rng)``.
    """
    if weights not in WEIGHT_TYPES:
        raise InputError(f"weights must be one of {WEIGHT_TYPES}, got {weights!r}")
    support = _SUPPORT[weights]
    s = support.size
    if enumerate_all is None:
        enumerate_all = G * math.log(s) <= math.log(max(B, 1)) + 1e-12
    if enumerate_all:
        if G * math.log(s) > math.log(2.0 ** 22):
            raise InputError(f"full enumeration of {s}^{G} weight vectors is too large")
        V = np.array(list(itertools.product(support, repeat=G)), dtype=float).T
        return V, True
    gen = np.random.default_rng(rng)
    V = support[gen.integers(0, s, size=(G, int(B)))]
    return V, False


def _as_codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values), sort=True)[0].astype(np.int64)


class _WCR:
    """The restricted wild cluster bootstrap of one coefficient on within-transformed arrays.

    For a null value theta, the bootstrap t statistic of weight vector v is linear-over-norm in
    v: t*(v) = (N(theta) . v) / sqrt(c * ||K(theta) v||^2), with N and K affine in theta.
    """

    def __init__(self, y, X, j, fe_codes, cl, scale_from_cov: float | None):
        from robocarbon.empirics.core.within import demean

        self.n, self.k = X.shape
        self.j = j
        self.cl = cl
        G = int(cl.max()) + 1
        self.G = G
        XtX_inv = np.linalg.inv(X.T @ X)
        beta = XtX_inv @ (X.T @ y)
        self.beta_j = float(beta[j])
        cvec = XtX_inv[:, j]                       # beta_j = c' X'y
        self.cvec = cvec
        # CR0 variance of beta_j from the unrestricted residuals
        uhat = y - X @ beta
        onehot = np.zeros((self.n, G))
        onehot[np.arange(self.n), cl] = 1.0
        sc = onehot.T @ (X * uhat[:, None])
        cr0 = float(np.sum((sc @ cvec) ** 2))
        self.scale = 1.0 if scale_from_cov is None else scale_from_cov / cr0
        self.se = math.sqrt(self.scale * cr0)
        # restricted residuals u(theta) = M_Z (y - theta x_j) = r0 - theta r1, Z = [D, X_-j]
        Z = np.delete(X, j, axis=1)
        if Z.shape[1]:
            PZ = lambda a: a - Z @ np.linalg.lstsq(Z, a, rcond=None)[0]  # noqa: E731
        else:
            PZ = lambda a: a  # noqa: E731
        r0, r1 = PZ(y), PZ(X[:, j])
        proj = XtX_inv @ X.T

        def parts(u):
            # numerator coefficients N_g = c' X_g' u_g
            N = np.bincount(cl, weights=(X @ cvec) * u, minlength=G)
            # residual of the bootstrap outcome, column g: M_[D,X] (u * 1_g)
            A = onehot * u[:, None]
            if fe_codes:
                A = demean(np.asfortranarray(A), fe_codes)[0]
            A = A - X @ (proj @ A)
            # K[h, g] = c' X_h' A_{h, g}
            Kmat = onehot.T @ ((X @ cvec)[:, None] * A)
            return N, Kmat

        self.N0, self.K0 = parts(r0)
        N1, K1 = parts(r1)
        # parts is linear in u: N(theta) = N0 - theta * N1
        self.N1, self.K1 = N1, K1

    def t_boot(self, theta: float, V: np.ndarray) -> np.ndarray:
        N = self.N0 - theta * self.N1
        K = self.K0 - theta * self.K1
        num = N @ V
        den = np.sqrt(self.scale * np.einsum("gb,gb->b", KV := K @ V, KV))
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / den

    def t_stat(self, theta: float) -> float:
        return (self.beta_j - theta) / self.se

    def pvalues(self, theta: float, V: np.ndarray) -> tuple[float, float, np.ndarray, float]:
        tb = self.t_boot(theta, V)
        t = self.t_stat(theta)
        tol = _TIE_RTOL * max(abs(t), 1e-300)
        p_sym = float(np.mean(np.abs(tb) > abs(t) + tol))
        p_hi = float(np.mean(tb > t + tol))
        p_lo = float(np.mean(tb < t - tol))
        p_eq = min(1.0, 2.0 * min(p_hi, p_lo))
        return p_sym, p_eq, tb, t


def _invert(boot: _WCR, V: np.ndarray, alpha: float, which: int, se: float):
    """Test inversion: the outermost roots of p(theta) - alpha on each side of beta_hat,
    found by bracketing out from the Wald interval and Brent's method on the step function."""
    b = boot.beta_j
    f = lambda th: boot.pvalues(th, V)[which] - alpha  # noqa: E731
    if f(b) <= 0:
        return (math.nan, math.nan)
    out = []
    for sign in (-1.0, 1.0):
        step = 2.0 * se if se > 0 else 1.0
        far = b + sign * step
        tries = 0
        while f(far) > 0 and tries < 60:
            step *= 2.0
            far = b + sign * step
            tries += 1
        if f(far) > 0:
            out.append(sign * math.inf)
            continue
        lo, hi = (far, b) if sign < 0 else (b, far)
        root = optimize.brentq(f, lo, hi, xtol=1e-10 * max(1.0, abs(b)) + 1e-14 * se,
                               rtol=1e-12, maxiter=500)
        out.append(root)
    return (out[0], out[1])


def wild_cluster_bootstrap(
    formula: str,
    data: pd.DataFrame,
    param: str,
    *,
    cluster: str | None = None,
    null: float = 0.0,
    weights: str = "rademacher",
    B: int = 9999,
    enumerate_all: bool | None = None,
    level: float = 0.95,
    conf_int: bool = True,
    seed: int | np.random.Generator | None = 0,
    fit_options: Mapping[str, Any] | None = None,
):
    r"""Restricted wild cluster bootstrap (WCR) test and confidence interval for one coefficient.

    Parameters
    ----------
    formula
        A fixest-style OLS formula ``y ~ x1 + x2 | fe1 + fe2`` (no IV part), as for
        :func:`robocarbon.empirics.fe.fit`.
    data
        The panel.
    param
        The coefficient tested, a term name of the fit.
    cluster
        The (one) cluster variable, also the bootstrap cluster. Default: as ``fe.fit``.
    null
        The hypothesised value :math:`\beta_0` imposed on the bootstrap data.
    weights
        ``"rademacher"`` or ``"webb"`` (six-point).
    B
        Number of random draws when the weights are not fully enumerated.
    enumerate_all
        None (default): enumerate all :math:`2^G` (Rademacher) or :math:`6^G` (Webb) weight
        vectors when that number is at most ``B``; True/False forces it.
    level
        Confidence level of the test-inversion interval.
    conf_int
        Compute the interval (each evaluation is one pass over the weight matrix).
    seed
        Seed or Generator of ``numpy.random.default_rng`` for the random draws.
    fit_options
        Other keyword arguments of ``fe.fit`` (``entity``, ``time``, ``ssc``).

    Returns
    -------
    Result
        ``estimator="wild_cluster_bootstrap"``, one term ``param``: the ``fe.fit`` estimate and its
        CR1 variance (so ``tidy()`` shows the Wald test). The bootstrap inference is in
        ``diagnostics``: ``p_value`` (symmetric), ``p_value_equal_tailed``, ``conf_int`` and
        ``conf_int_equal_tailed`` (test inversion at ``level``), ``t_statistic``, ``t_boot``
        (the bootstrap t statistics at ``null``), ``n_clusters``, ``draws``, ``enumerated``,
        ``weights``, ``null``, ``seed``.

    Notes
    -----
    With the fixed effects :math:`D` partialled out (Frisch-Waugh-Lovell), write
    :math:`\tilde X` for the transformed regressors and :math:`Z=[D, X_{-j}]`. Under
    :math:`H_0:\beta_j=\beta_0` the restricted residuals are
    :math:`\tilde u = M_Z(y - \beta_0 x_j)`, and the bootstrap outcome of weight vector
    :math:`v\in\mathbb{R}^G` (one weight per cluster) is
    :math:`y^*=\hat y_{R} + v_{g(i)}\tilde u_i`. The bootstrap statistic is the CR1 t statistic of
    :math:`\hat\beta^*_j-\beta_0` of the *full* model refitted on :math:`y^*`, which is linear
    over a norm in :math:`v` (Roodman et al. 2019, "fast and wild"):

    .. math:: t^*(v) = \frac{\sum_g v_g N_g}{\sqrt{c\,\sum_h (\sum_g K_{hg} v_g)^2}},\quad
              N_g = a'\tilde X_g'\tilde u_g,\quad
              K_{hg} = a'\tilde X_h'\,[M_{[D,X]}(\tilde u\circ 1_g)]_h,

    with :math:`a=(\tilde X'\tilde X)^{-1}e_j` and :math:`c` the small-sample factor of
    ``fe.fit`` (it cancels in the p-values). The residual projection includes :math:`M_D`, so the
    identity with refitting ``fe.fit`` on :math:`y^*` is exact even when the fixed effects are not
    nested in the clusters. The symmetric p-value is
    :math:`\#\{|t^*| > |t|\}/B`, the equal-tailed one :math:`2\min(\#\{t^*>t\},\#\{t^*<t\})/B`
    (ties :math:`|t^*|=|t|` up to a relative 1e-9 are not counted). Under full enumeration the
    p-value is the exact randomization distribution over sign flips. The interval is
    :math:`\{\beta_0: p(\beta_0) > 1 - \text{level}\}`, its ends found by Brent's method on
    :math:`p(\beta_0)-\alpha` (the same weights at every :math:`\beta_0`), bracketed outward from
    the Wald interval; ``nan`` when :math:`p(\hat\beta_j)\le\alpha`, ``inf`` when unbounded.

    References: Cameron, Gelbach and Miller (2008), "Bootstrap-based improvements for inference
    with clustered errors", REStat 90(3); Roodman, MacKinnon, Nielsen and Webb (2019), "Fast and
    wild: bootstrap inference in Stata using boottest", Stata Journal 19(1); MacKinnon, Nielsen
    and Webb (2023), "Cluster-robust inference: a guide to empirical practice", J. Econometrics;
    Webb (2023), "Reworking wild bootstrap-based inference for clustered errors", CJE.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from robocarbon.empirics.sensitivity import wild_cluster_bootstrap
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(8), 20)
    >>> x = rng.normal(size=160) + rng.normal(size=8)[g]
    >>> df = pd.DataFrame({"g": g, "x": x, "y": 0.3 * x + rng.normal(size=8)[g] + rng.normal(size=160)})
    >>> res = wild_cluster_bootstrap("y ~ x | g", df, "x", cluster="g")
    >>> res.diagnostics["enumerated"], res.diagnostics["draws"]
    (True, 256)
    >>> 0.0 <= res.diagnostics["p_value"] <= 1.0
    True
    >>> lo, hi = res.diagnostics["conf_int"]
    >>> bool(lo < res.params[0] < hi)
    True
    """
    t0 = _time.perf_counter()
    from robocarbon.empirics.core.frame import build_frame, transform

    level = check_level(level)
    f = parse(formula)
    if f.is_iv:
        raise InputError("wild_cluster_bootstrap: OLS formulas only (no IV part)")
    opts = dict(fit_options or {})
    if "weights" in opts and opts["weights"] is not None:
        raise InputError("wild_cluster_bootstrap: regression weights are not supported")
    if int(B) < 1:
        raise InputError(f"B must be a positive integer, got {B}")
    base = _fit(formula, data, {**opts, "cluster": cluster, "vcov": "cluster"})
    clusters = list(base.spec["cluster"])
    if len(clusters) != 1:
        raise InputError(f"wild_cluster_bootstrap needs one cluster variable, got {clusters}")
    if param not in base.terms:
        raise InputError(f"unknown term {param!r}; the fit has {list(base.terms)}")
    if "collinear_dropped" in base.diagnostics:
        raise InputError("drop the collinear regressors "
                         f"{list(base.diagnostics['collinear_dropped'])} from the formula first")
    frame = build_frame(f, data, entity=opts.get("entity"), time=opts.get("time"),
                        cluster=clusters, on_gap=opts.get("on_gap", "error"))
    tr = transform(frame, intercept=f.intercept)
    names = (["Intercept"] if (f.intercept and not frame.fe_codes) else []) + list(frame.x_names)
    if list(names) != list(base.terms):
        raise InputError("the model frame does not match the fit's terms")
    j = names.index(param)
    cl = _as_codes(frame.cluster_codes[0])
    jj = base.terms.index(param)
    boot = _WCR(np.asarray(tr.y, float), np.asarray(tr.X, float), j, frame.fe_codes, cl,
                float(base.cov[jj, jj]))
    V, enumerated = bootstrap_weights(boot.G, int(B), weights, enumerate_all=enumerate_all,
                                      rng=seed)
    p_sym, p_eq, tb, t = boot.pvalues(float(null), V)
    alpha = 1.0 - level
    ci = ci_eq = (math.nan, math.nan)
    if conf_int:
        ci = _invert(boot, V, alpha, 0, boot.se)
        ci_eq = _invert(boot, V, alpha, 1, boot.se)
    dg = {
        "p_value": p_sym,
        "p_value_equal_tailed": p_eq,
        "conf_int": [float(ci[0]), float(ci[1])],
        "conf_int_equal_tailed": [float(ci_eq[0]), float(ci_eq[1])],
        "conf_level": level,
        "t_statistic": float(t),
        "t_boot": np.asarray(tb, float),
        "n_clusters": boot.G,
        "draws": int(V.shape[1]),
        "enumerated": bool(enumerated),
        "weights": weights,
        "null": float(null),
        "seed": None if isinstance(seed, np.random.Generator) else seed,
        "method": "WCR (restricted wild cluster bootstrap, CR1 t statistic)",
        "small_sample": base.diagnostics.get("small_sample"),
    }
    spec = {**dict(base.spec), "param": param, "null": float(null), "weights": weights,
            "B": int(B)}
    prov = dict(base.provenance)
    prov["wall_time"] = _time.perf_counter() - t0
    from robocarbon.empirics.result import Result

    return Result(terms=(param,), params=np.array([base.params[jj]]),
                  cov=np.array([[base.cov[jj, jj]]]), nobs=base.nobs, df_resid=base.df_resid,
                  cov_type=base.cov_type, estimator="wild_cluster_bootstrap",
                  nobs_dropped=base.nobs_dropped, r2_within=base.r2_within,
                  r2_with_fe=base.r2_with_fe, diagnostics=dg, spec=spec, provenance=prov)
