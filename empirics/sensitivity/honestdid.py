"""Rambachan and Roth (2023): inference on event-study effects when parallel trends may fail.

An event study estimates ``beta = (beta_pre, beta_post)`` with covariance ``Sigma``; under a
violation ``delta`` of parallel trends, ``beta = delta + (0, tau_post)``. The target is
``theta = l' tau_post`` (the first post-period effect by default). Instead of assuming
``delta_post = 0``, Rambachan and Roth (2023, *Review of Economic Studies* 90(5): 2555-2591) let
``delta`` lie in a set ``Delta`` disciplined by the pre-period coefficients, and give confidence
sets for ``theta`` that are valid uniformly over ``Delta``:

* relative magnitudes ``Delta^RM(Mbar)``: no post-period change of the violation exceeds Mbar
  times the largest pre-period change, ``|delta_{t+1} - delta_t| <= Mbar max_{s<0}
  |delta_{s+1} - delta_s|``; a union over the location and sign of that maximum of polyhedra,
  each tested with the conditional (ARP) or conditional-least-favourable hybrid (C-LF) test of
  Andrews, Roth and Pakes (2023) and inverted on a grid of ``theta``;
* smoothness ``Delta^SD(M)``: the slope of ``delta`` changes by at most ``M`` between
  consecutive periods, ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M``; the
  fixed-length confidence interval (FLCI) of the optimal affine estimator (Armstrong and Kolesar
  2018, 2020), or the ARP / C-LF tests.

The linear programs of the ARP test are tiny (a few moments, ``n_post - 1`` nuisance
parameters), so this module solves them exactly by enumerating the vertices of the dual polytope
once per restriction: every test statistic, every conditioning bound and every simulated
least-favourable draw is then a matrix product (see :func:`arp_test`). The FLCI needs no conic
solver: the worst-case bias of an affine estimator over ``Delta^SD(M)`` has a closed form (it is
``M`` times an l1 norm of cumulated weights, see :func:`flci`), so the optimal estimator is a
one-dimensional search along the bias-variance frontier, each point a small quadratic program
solved by SLSQP.

Conventions follow the R package HonestDiD 0.2.8 (grid of 1000 points, hybrid size
``kappa = alpha / 10``, 1000 least-favourable draws, only the moments that involve a
post-period in the ARP test when there are several post-periods), so that its published numbers
are reproduced; the least-favourable critical value is simulated from this package's own seeded
stream, not R's.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ..errors import InputError
from ..result import Result

_EVENT_TERM = re.compile(r"^e([+-]\d+)$")
_MAX_SUBSETS = 200_000
_CONVENTIONS = ("exact", "honestdid")


# ================================================================= R's default normal stream
@functools.lru_cache(maxsize=4)
def r_normal_stream(n: int, seed: int = 0) -> np.ndarray:
    """The first ``n`` values of R's ``set.seed(seed); rnorm(n)`` (read-only array).

    R's defaults: Mersenne-Twister seeded by R's linear-congruential scrambling of the seed, and
    normals by inversion of a 2^-27-refined uniform (two uniforms per normal). Used only by
    ``convention="honestdid"``, which reproduces HonestDiD's simulated quantities (the
    least-favourable critical value from ``set.seed(0)`` and 1000 ``mvtnorm`` draws; the folded
    normal quantile from 10^6 draws) and so its printed numbers.

    Examples
    --------
    >>> [round(float(v), 7) for v in r_normal_stream(3, 0)]
    [1.2629543, -0.3262334, 1.3297993]
    """
    s = int(seed) & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        key[j] = s
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    u = bg.random_raw(2 * int(n)).astype(np.float64) * 2.3283064365386963e-10
    tiny = 0.5 * 2.328306437080797e-10
    u = np.where(u <= 0.0, tiny, np.where(1.0 - u <= 0.0, 1.0 - tiny, u))
    big = 134217728.0
    out = special.ndtri((np.floor(big * u[0::2]) + u[1::2]) / big)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=1)
def _sorted_r_draws() -> np.ndarray:
    z = np.sort(np.asarray(r_normal_stream(1_000_000, 0)))
    z.setflags(write=False)
    return z


def _kth_abs_shifted(z: np.ndarray, t: float, k: int) -> float:
    """k-th smallest (0-based) of |z + t| for sorted z, in O(log n): the merge of the two sorted
    sequences z_i + t (z_i >= -t, ascending) and -(z_i + t) (z_i < -t, ascending)."""
    i0 = int(np.searchsorted(z, -t, side="left"))
    na, nb = z.shape[0] - i0, i0

    def a(i):
        return z[i0 + i] + t

    def b(i):
        return -(z[i0 - 1 - i] + t)

    lo, hi = max(0, k + 1 - nb), min(k + 1, na)
    while lo < hi:  # i = elements taken from a among the first k+1
        i = (lo + hi) // 2
        if b(k - i) > a(i):  # need more from a
            lo = i + 1
        else:
            hi = i
    i = lo
    cands = []
    if i > 0:
        cands.append(a(i - 1))
    if k + 1 - i > 0:
        cands.append(b(k - i))
    return float(max(cands))


def _r_folded_quantile(p: float, t: float) -> float:
    """R's ``quantile(abs(rnorm(1e6) + t), p)`` (type 7) after ``set.seed(0)``, without sorting
    10^6 values for each t."""
    z = _sorted_r_draws()
    n = z.shape[0]
    h = (n - 1) * p
    j = int(math.floor(h))
    lo = _kth_abs_shifted(z, t, j)
    if j + 1 >= n:
        return lo
    hi = _kth_abs_shifted(z, t, j + 1)
    return lo + (h - j) * (hi - lo)


def _normal_draws(shape: tuple[int, int], seed: int, convention: str) -> np.ndarray:
    if convention == "honestdid":
        # mvtnorm::rmvnorm fills the n x p matrix by row
        return np.asarray(r_normal_stream(shape[0] * shape[1], seed)).reshape(shape)
    return np.random.default_rng(seed).standard_normal(shape)


# ================================================================= event-study coefficients
def _contiguous(event_times: Sequence[int], ref: int) -> tuple[int, int]:
    e = sorted(int(v) for v in event_times)
    pre = [v for v in e if v < ref]
    post = [v for v in e if v > ref]
    if ref in e:
        raise InputError(f"the reference period {ref} must be omitted from the coefficients")
    if not pre or not post:
        raise InputError(f"need pre-periods (< {ref}) and post-periods (> {ref}); event times {e}")
    if pre != list(range(ref - len(pre), ref)) or post != list(range(ref + 1, ref + 1 + len(post))):
        raise InputError(
            f"event times must be consecutive on both sides of the reference period {ref} "
            f"(Rambachan-Roth's delta is indexed by periods relative to it); got {e}")
    return len(pre), len(post)


def event_coefficients(result: Result, *, ref: int | None = None,
                       window: tuple[int, int] | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Event-study coefficients of a project Result: ``(event_times, beta, Sigma, ref)``.

    Parameters
    ----------
    result
        A Result of :func:`robocarbon.empirics.did.event_study` (TWFE; the ``e-K`` .. ``e+L``
        terms, controls left out), :func:`robocarbon.empirics.did_sa.sun_abraham` (the
        interaction-weighted ``e±k`` terms; ``att`` left out) or
        :func:`robocarbon.empirics.did_cs.callaway_santanna` (its dynamic aggregation
        ``e±k``). Any other Result with terms named ``e-2``, ``e+0``, ... is read the same way.
    ref
        The omitted reference event time; default: the estimator's own (``spec["ref"]``,
        ``-1`` for Callaway-Sant'Anna with a universal base period).
    window
        Keep only event times ``lo <= e <= hi`` (e.g. ``(-5, 5)`` for noisy long leads).

    Returns
    -------
    event_times, beta, Sigma, ref
        Sorted event times (without ``ref``), the coefficients and their covariance in that
        order, and the reference period.

    Notes
    -----
    Covariances used: TWFE and Sun-Abraham, the Result's clustered (CR1) covariance of the
    event-time terms (for Sun-Abraham the delta-method covariance of the cohort-share weighted
    averages). Callaway-Sant'Anna: the Result's joint covariance of the dynamic aggregates,
    i.e. the correlation of their influence functions (``Psi'Psi/n^2``, clustered when a
    cluster is set) scaled to the reported standard errors -- the multiplier-bootstrap SEs when
    ``bootstrap=True``, the analytic ones when ``bootstrap=False`` (which is exactly the
    covariance HonestDiD's ``honest_did.AGGTEobj`` helper uses). Callaway-Sant'Anna must be run
    with ``base_period="universal"``: with the default varying base the pre-period estimates
    are period-to-period placebos, not deviations from a common reference, and Rambachan-Roth's
    restrictions do not apply to them.

    The TWFE event study bins event times beyond its window into the endpoint terms; those
    endpoint coefficients then average several periods (flagged in the sensitivity
    diagnostics).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from robocarbon.empirics.did import event_study
    >>> rng = np.random.default_rng(0)
    >>> panel = pd.DataFrame([(i, t, 2005 if i < 10 else np.nan) for i in range(20)
    ...                       for t in range(2001, 2009)], columns=["id", "year", "adopt"])
    >>> panel["y"] = rng.normal(size=len(panel)) + (panel.year >= panel.adopt)
    >>> es = event_study(panel, y="y", entity="id", time="year", adopt="adopt")
    >>> e, beta, sigma, ref = event_coefficients(es)
    >>> e.tolist(), ref, sigma.shape
    ([-4, -3, -2, 0, 1, 2, 3], -1, (7, 7))
    """
    if not isinstance(result, Result):
        raise InputError(f"expected a Result, got {type(result).__name__}")
    est = result.estimator
    if est == "callaway_santanna":
        base = result.spec.get("base_period")
        if base != "universal":
            raise InputError(
                "Callaway-Sant'Anna event study with base_period='varying': its pre-period "
                "estimates are period-to-period placebos; re-run callaway_santanna(..., "
                "base_period='universal') for a sensitivity analysis")
        by = (result.diagnostics.get("aggregations", {}) or {}).get("dynamic") or {}
        rows = by.get("by") or []
        pairs = [(int(r["event_time"]), r["term"]) for r in rows]
        default_ref = -1
    else:
        pairs = []
        for t in result.terms:
            m = _EVENT_TERM.match(t)
            if m:
                pairs.append((int(m.group(1)), t))
        default_ref = int(result.spec.get("ref", -1))
        omitted = [int(v) for v in result.diagnostics.get("omitted", [default_ref])]
        extra = [v for v in omitted if v != (default_ref if ref is None else ref)]
        if extra:
            raise InputError(
                f"the event study omitted event times {extra} besides the reference period "
                "(no never-treated units); its coefficients are not deviations from one "
                "reference period")
    if not pairs:
        raise InputError(f"no event-time terms (e-2, e+0, ...) in the {est} result")
    ref = default_ref if ref is None else int(ref)
    if window is not None:
        lo, hi = int(window[0]), int(window[1])
        pairs = [p for p in pairs if lo <= p[0] <= hi]
    pairs.sort()
    terms = list(result.terms)
    idx = [terms.index(t) for _, t in pairs]
    e = np.array([p[0] for p in pairs], dtype=int)
    _contiguous(e, ref)
    beta = np.asarray(result.params, dtype=float)[idx]
    sigma = np.asarray(result.cov, dtype=float)[np.ix_(idx, idx)]
    return e, beta, (sigma + sigma.T) / 2.0, ref


# ================================================================= restriction matrices
def _first_difference_rows(n_pre: int, n_post: int) -> np.ndarray:
    """Rows r = 0 .. n_pre+n_post-1: delta_{t+1} - delta_t over (delta_{-n_pre} .. delta_{n_post})
    including delta_0 (dropped later)."""
    T = n_pre + n_post
    D = np.zeros((T, T + 1))
    for r in range(T):
        D[r, r], D[r, r + 1] = -1.0, 1.0
    return D


def rm_polyhedra(n_pre: int, n_post: int, mbar: float) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The polyhedra ``{delta : A delta <= d}`` whose union is ``Delta^RM(Mbar)``.

    One polyhedron per location ``s`` of the largest pre-period first difference (the change
    between ``s - 1`` and ``s``, ``s = -(n_pre - 1) .. 0``) and its sign: every post-period first
    difference is bounded by ``Mbar`` times it. Columns are ``delta_{-n_pre} .. delta_{-1},
    delta_1 .. delta_{n_post}`` (``delta_0 = 0``). Only the rows that involve a post-period are
    returned: the rows that make ``s`` the largest pre-period change involve pre-periods only,
    do not change the union, and HonestDiD drops them from the test too.
    """
    D = _first_difference_rows(n_pre, n_post)
    out = []
    for s in range(-(n_pre - 1), 1):
        for sign in (1.0, -1.0):
            v = np.zeros(n_pre + n_post + 1)
            v[n_pre + s - 1], v[n_pre + s] = -sign, sign
            post = D[n_pre:]
            A = np.vstack([post - mbar * v, -post - mbar * v])
            A = np.delete(A, n_pre, axis=1)
            out.append((f"s={s},{'+' if sign > 0 else '-'}", A, np.zeros(A.shape[0])))
    return out


def sd_polyhedron(n_pre: int, n_post: int, m: float, *, post_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """``Delta^SD(M) = {delta : |delta_{t+1} - 2 delta_t + delta_{t-1}| <= M}`` as ``A delta <= d``
    (columns as in :func:`rm_polyhedra`); ``post_only`` keeps the rows that involve a post-period."""
    T = n_pre + n_post
    S = np.zeros((T - 1, T + 1))
    for r in range(T - 1):
        S[r, r:r + 3] = (1.0, -2.0, 1.0)
    S = np.delete(S, n_pre, axis=1)
    if post_only:
        S = S[np.any(S[:, n_pre:] != 0, axis=1)]
    A = np.vstack([S, -S])
    return A, np.full(A.shape[0], float(m))


def _trend_weights(l_vec: np.ndarray) -> np.ndarray:
    """c_k = sum_{t > k} (t - k) l_t, k = 0 .. n_post-1: the weight of the k-th post-period second
    difference in l' delta_post (see :func:`flci`)."""
    n = l_vec.shape[0]
    return np.array([sum((t - k) * l_vec[t - 1] for t in range(k + 1, n + 1)) for k in range(n)])


# ================================================================= the ARP test, exactly
def _dual_vertices(sd: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Vertices of ``{lam >= 0 : sd' lam = 1, X' lam = 0}`` (rows), by enumerating bases.

    The ARP statistic ``eta = min_{eta, xi} eta s.t. y - X xi <= eta sd`` equals, by LP duality,
    ``max_lam lam' y`` over this polytope, attained at a vertex; a vertex has at most
    ``k + 1`` positive entries (k = nuisance dimension).
    """
    m, k = X.shape
    if k == 0:
        return np.diag(1.0 / sd)
    n_sub = math.comb(m, k + 1)
    if n_sub > _MAX_SUBSETS:
        raise InputError(
            f"{m} moments and {k} nuisance parameters: {n_sub} candidate vertices; use fewer "
            "post-periods (window=...) for the conditional tests")
    W = np.column_stack([sd, X])  # m x (k+1)
    subsets = np.array(list(itertools.combinations(range(m), k + 1)))
    B = W[subsets].transpose(0, 2, 1)  # (n_sub, k+1, k+1): columns = chosen rows
    rhs = np.zeros(k + 1)
    rhs[0] = 1.0
    cond = np.linalg.cond(B)
    ok = np.isfinite(cond) & (cond < 1e12)
    lam_s = np.linalg.solve(B[ok], np.broadcast_to(rhs, (int(ok.sum()), k + 1))[..., None])[..., 0]
    feas = np.all(lam_s >= -1e-12, axis=1)
    V = np.zeros((int(feas.sum()), m))
    rows = np.nonzero(feas)[0]
    for i, r in enumerate(rows):
        V[i, subsets[ok][r]] = np.clip(lam_s[r], 0.0, None)
    if V.shape[0] == 0:
        raise InputError("the moment inequalities admit no bounded test statistic")
    V = np.unique(np.round(V, 14), axis=0)
    return V


class _Moments:
    """Moment inequalities ``E[Y - a theta - X xi] <= 0`` with ``Y ~ N(mu, SigmaY)``."""

    def __init__(self, A, d, beta, sigma, n_pre, l_vec, *, lf_draws, kappa, rng_seed,
                 hybrid, shift_floor, convention="exact"):
        n_post = l_vec.shape[0]
        Gamma = _completion(l_vec)
        AGi = A[:, n_pre:] @ np.linalg.inv(Gamma)
        self.a = AGi[:, 0]
        X = AGi[:, 1:]
        self.Y = A @ beta - d
        self.SY = A @ sigma @ A.T
        sd = np.sqrt(np.clip(np.diag(self.SY), 0.0, None))
        if np.any(sd <= 0):
            # cannot happen for the restrictions of this module with a positive definite Sigma
            raise InputError(f"moment(s) {np.nonzero(sd <= 0)[0].tolist()} have zero variance; "
                             "is Sigma singular?")
        self.sd = sd
        self.V = _dual_vertices(sd, X)
        self.Q = self.V @ self.SY @ self.V.T
        self.Va = self.V @ self.a
        self.VY = self.V @ self.Y
        self.hybrid = hybrid
        self.kappa = kappa
        self.k = X.shape[1]
        # package convention without nuisance parameters: the critical value max(0, c) is taken
        # on the scale of the normalised moment including d (see arp_test)
        if shift_floor and self.k == 0:
            self.floor = -(d / sd)[np.argmax(self.V, axis=1)]
        else:
            self.floor = np.zeros(self.V.shape[0])
        self.lf_cv = None
        if hybrid == "LF":
            w, U = np.linalg.eigh((self.SY + self.SY.T) / 2)
            root = U @ np.diag(np.sqrt(np.clip(w, 0, None))) @ U.T
            xi = _normal_draws((lf_draws, self.SY.shape[0]), rng_seed, convention) @ root
            eta = np.max(xi @ self.V.T, axis=1)
            self.lf_cv = float(np.quantile(eta, 1.0 - kappa))

    def accept(self, theta: np.ndarray, alpha: float) -> np.ndarray:
        """Acceptance (True) of H0: theta, for each value in ``theta`` (vectorised)."""
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        vals = self.VY[:, None] - self.Va[:, None] * theta[None, :]  # (nv, G)
        g = np.argmax(vals, axis=0)
        eta = vals[g, np.arange(theta.size)]
        qgg = self.Q[g, g]
        sigma_b = np.sqrt(qgg)
        r = self.Q[:, g] / qgg  # lam' Sigma gamma / gamma' Sigma gamma
        num = vals - r * eta
        den = 1.0 - r
        tol = 1e-10
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = num / den
        lo = np.where(den > tol, ratio, -np.inf).max(axis=0)
        up = np.where(den < -tol, ratio, np.inf).min(axis=0)
        reject = np.zeros(theta.size, dtype=bool)
        if self.hybrid == "LF":
            first = eta > self.lf_cv
            reject |= first
            if self.k > 0:
                up = np.minimum(up, self.lf_cv)
            size = (alpha - self.kappa) / (1.0 - self.kappa)
        else:
            first = np.zeros(theta.size, dtype=bool)
            size = alpha
        zlo, zup, z = lo / sigma_b, up / sigma_b, eta / sigma_b
        inside = (zlo <= z) & (z <= zup) & ~first
        if inside.any():
            q = _truncnorm_ppf(1.0 - size, zlo[inside], zup[inside])
            floor = self.floor[g[inside]] / sigma_b[inside] if self.k == 0 else 0.0
            cval = np.maximum(floor, q)
            reject[np.nonzero(inside)[0]] = z[inside] > cval
        return ~reject


def _truncnorm_ppf(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Quantile of the standard normal truncated to [lo, hi] (infinite bounds allowed)."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    out = stats.truncnorm.ppf(p, lo, hi)
    bad = ~np.isfinite(out) | (hi - lo < 1e-12)
    if np.any(bad):
        # a degenerate interval: the quantile is its (common) end point
        out = np.where(bad, np.where(np.isfinite(lo), lo, hi), out)
    return out


def _completion(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix whose first row is l' (the change of basis to (theta, nuisance))."""
    n = l_vec.shape[0]
    j = int(np.argmax(np.abs(l_vec)))
    if l_vec[j] == 0:
        raise InputError("the target weights l are all zero")
    rows = [l_vec] + [np.eye(n)[i] for i in range(n) if i != j]
    return np.vstack(rows)


def arp_test(theta, *, A, d, beta, sigma, n_pre, l_vec, alpha=0.05, hybrid="LF",
             kappa=None, lf_draws=1000, seed=0, convention="exact") -> np.ndarray:
    """Andrews-Roth-Pakes conditional (``hybrid="ARP"``) or conditional-least-favourable hybrid
    (``"LF"``) test of ``H0: l' tau_post = theta`` with ``delta in {A delta <= d}``.

    Returns a boolean array: True where ``theta`` is accepted at level ``alpha``.

    Notes
    -----
    Write ``Y = A beta_hat - d ~ N(mu, Sigma_Y)`` and change basis so that ``tau_post =
    Gamma^{-1} (theta, xi)``; the null is ``E[Y - a theta - X xi] <= 0`` for some nuisance xi.
    The statistic is ``eta = min_{eta, xi} eta s.t. Y - a theta - X xi <= eta sd(Y)``, which by
    duality is ``max_v v'(Y - a theta)`` over the vertices v of
    ``{v >= 0, sd'v = 1, X'v = 0}``. Conditional on the optimal vertex g and on
    ``S = (I - Sigma_Y g g'/g'Sigma_Y g) y``, ``eta = g'y`` is normal with variance
    ``g'Sigma_Y g`` truncated to ``[V_lo, V_up]``, the values of c for which g stays optimal
    along ``y = S + Sigma_Y g c / g'Sigma_Y g``; every other vertex v gives the bound
    ``v'S <= (1 - v'Sigma_Y g / g'Sigma_Y g) c``. The test rejects when eta / sd exceeds
    ``max(0, q)``, q the 1 - alpha quantile of that truncated standard normal (ARP 2023,
    Section 3; the dual and primal approaches of HonestDiD compute the same bounds). The LF
    hybrid first rejects when eta exceeds the 1 - kappa quantile of eta under ``mu = 0``
    (simulated), and otherwise uses level ``(alpha - kappa)/(1 - kappa)`` with ``V_up`` capped
    at that critical value. Without nuisance parameters (one post-period) the package does not
    cap ``V_up`` and takes the floor ``max(0, q)`` on the scale of ``A beta_hat`` rather than
    ``A beta_hat - d``; both conventions are followed here for parity.
    """
    kappa = alpha / 10.0 if kappa is None else kappa
    mom = _Moments(np.asarray(A, float), np.asarray(d, float), np.asarray(beta, float),
                   np.asarray(sigma, float), n_pre, np.asarray(l_vec, float), lf_draws=lf_draws,
                   kappa=kappa, rng_seed=seed, hybrid=hybrid, shift_floor=len(l_vec) == 1,
                   convention=convention)
    return mom.accept(theta, alpha)


# ================================================================= confidence sets on a grid
def _grid_interval(grid: np.ndarray, accept: np.ndarray) -> dict:
    if not accept.any():
        return {"conf_low": math.nan, "conf_high": math.nan, "empty": True, "open_end": False}
    lo, hi = float(grid[accept].min()), float(grid[accept].max())
    inner = accept[np.argmax(accept):len(accept) - np.argmax(accept[::-1])]
    return {"conf_low": lo, "conf_high": hi, "empty": False,
            "open_end": bool(accept[0] or accept[-1]), "gaps": bool(not inner.all())}


def _build_moments(kind, par, beta, sigma, n_pre, l_vec, hybrid, alpha, lf_draws, seed,
                   convention="exact"):
    n_post = l_vec.shape[0]
    kappa = alpha / 10.0
    if kind == "rm":
        polys = [(A, d) for _, A, d in rm_polyhedra(n_pre, n_post, par)]
    else:
        polys = [sd_polyhedron(n_pre, n_post, par, post_only=n_post > 1)]
    return [_Moments(A, d, beta, sigma, n_pre, l_vec, lf_draws=lf_draws, kappa=kappa,
                     rng_seed=seed, hybrid=hybrid, shift_floor=n_post == 1,
                     convention=convention) for A, d in polys]


def _accept_union(moments, theta, alpha) -> np.ndarray:
    acc = np.zeros(np.atleast_1d(theta).shape[0], dtype=bool)
    for mom in moments:
        acc |= mom.accept(theta, alpha)
    return acc


def conditional_interval(beta, sigma, n_pre: int, *, restriction: str, bound: float,
                         l_vec=None, alpha: float = 0.05, hybrid: str = "LF",
                         grid_points: int = 1000, grid: tuple[float, float] | None = None,
                         lf_draws: int = 1000, seed: int = 0, convention: str = "exact") -> dict:
    """ARP / C-LF confidence set for ``l' tau_post`` under ``Delta^RM(Mbar)`` (``restriction="rm"``,
    ``bound`` = Mbar) or ``Delta^SD(M)`` (``"sd"``, ``bound`` = M), by test inversion on a grid.

    The default grid follows HonestDiD: ``grid_points`` equally spaced values on ``[-20 sd,
    20 sd]`` (sd the standard error of ``l' beta_post``) for RM, and on the identified set at
    ``beta = 0`` widened by ``20 sd`` for SD. The interval reported is [min, max] of the
    accepted grid values (``gaps`` says whether the accepted set is not an interval,
    ``open_end`` whether an end point of the grid was accepted).
    """
    beta = np.asarray(beta, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    n_post = beta.shape[0] - n_pre
    l_vec = _basis(n_post) if l_vec is None else np.asarray(l_vec, dtype=float)
    sd_theta = float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
    if grid is None:
        if restriction == "rm":
            grid = (-20.0 * sd_theta, 20.0 * sd_theta)
        else:
            half = float(bound) * float(np.sum(np.abs(_trend_weights(l_vec))))
            grid = (-half - 20.0 * sd_theta, half + 20.0 * sd_theta)
    thetas = np.linspace(grid[0], grid[1], int(grid_points))
    moments = _build_moments(restriction, float(bound), beta, sigma, n_pre, l_vec, hybrid,
                             alpha, lf_draws, seed, convention)
    acc = _accept_union(moments, thetas, alpha)
    out = _grid_interval(thetas, acc)
    out.update(grid=[float(grid[0]), float(grid[1])], grid_points=int(grid_points))
    if hybrid == "LF":
        out["lf_critical_values"] = [m.lf_cv for m in moments]
    return out


def _basis(n: int, i: int = 0) -> np.ndarray:
    v = np.zeros(n)
    v[i] = 1.0
    return v


# ================================================================= FLCI under Delta^SD(M)
def _folded_normal_quantile(p: float, t: float, convention: str = "exact") -> float:
    """q with P(|N(t, 1)| <= q) = p: exact (root finding), or HonestDiD's estimate, the
    type-7 sample quantile of |Z + t| over R's first 10^6 normals from ``set.seed(0)``."""
    t = abs(float(t))
    if convention == "honestdid":
        return _r_folded_quantile(p, t)

    def f(q):
        return special.ndtr(q - t) - special.ndtr(-q - t) - p

    hi = t + float(special.ndtri(p)) + 1.0
    while f(hi) < 0:
        hi += 1.0
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-15))


def flci(beta, sigma, n_pre: int, *, m: float, l_vec=None, alpha: float = 0.05,
         n_frontier: int = 40, convention: str = "exact") -> dict:
    """Optimal fixed-length confidence interval for ``l' tau_post`` under ``Delta^SD(M)``.

    Returns ``{"conf_low", "conf_high", "center", "half_length", "sd", "max_bias",
    "weights_pre", "weights"}``; the interval is ``v'beta_hat +- half_length``.

    Notes
    -----
    Affine estimators ``v'beta_hat`` with post-period weights ``l`` (as HonestDiD). Parametrise
    ``delta`` by its slope at the reference period, ``f = delta_0 - delta_{-1}``, and its second
    differences ``a_k`` (free in ``[-M, M]``). Then ``l'delta_post = f sum_t t l_t +
    sum_{k>=0} c_k a_k`` with ``c_k = sum_{t>k} (t-k) l_t``, and ``v_pre'delta_pre =
    -f sum_m m v_{-m} + sum_{i>=1} e_i a_{-i}`` with ``e_i = sum_{m>i} (m-i) v_{-m}``. The bias
    is bounded only if ``sum_m m v_{-m} = sum_t t l_t`` (the estimator removes a linear trend),
    and then the worst-case bias is exactly ``M (sum_k |c_k| + sum_i |e_i|)``. With ``h`` the
    standard deviation of the estimator and ``b`` its worst-case bias, the shortest interval
    that covers with probability ``1 - alpha`` for every bias in ``[-b, b]`` has half-length
    ``h cv_alpha(b / h)``, ``cv_alpha(t)`` the 1 - alpha quantile of ``|N(t, 1)|`` (computed
    exactly here; HonestDiD simulates it with 10^6 draws). The optimum lies on the
    bias-variance frontier ``min var(v) + 2 mu sum_i |e_i|`` (``mu >= 0``; a convex quadratic
    program in ``v`` and ``|e|``, solved by SLSQP); the half-length is minimised over ``mu`` by
    a log-spaced scan of ``n_frontier`` points followed by a bounded Brent search, together with
    the two ends of the frontier (minimum variance; no pre-period bias). References:
    Armstrong and Kolesar (2018, Econometrica 86(2)); Rambachan and Roth (2023), Section 4.1.
    """
    beta = np.asarray(beta, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    n_post = beta.shape[0] - n_pre
    l_vec = _basis(n_post) if l_vec is None else np.asarray(l_vec, dtype=float)
    m = float(m)
    if m < 0:
        raise InputError(f"M must be >= 0, got {m}")
    S_pp = sigma[:n_pre, :n_pre]
    s_pl = sigma[:n_pre, n_pre:] @ l_vec
    s_ll = float(l_vec @ sigma[n_pre:, n_pre:] @ l_vec)
    scale = s_ll if s_ll > 0 else float(np.trace(sigma)) / sigma.shape[0]
    P, q0 = S_pp / scale, s_pl / scale  # variance / scale = v'Pv + 2 q0'v + s_ll/scale
    const_bias = float(np.sum(np.abs(_trend_weights(l_vec))))
    g = np.arange(n_pre, 0, -1, dtype=float)  # column j of delta_pre is delta_{-(n_pre - j)}
    c = float(np.arange(1, n_post + 1) @ l_vec)
    # e_i = sum_{m > i} (m - i) v_{-m}, i = 1 .. n_pre - 1
    E = np.zeros((max(n_pre - 1, 0), n_pre))
    for i in range(1, n_pre):
        for j in range(n_pre):
            mm = n_pre - j
            if mm > i:
                E[i - 1, j] = mm - i

    def variance(v):
        return float(v @ P @ v + 2 * q0 @ v + s_ll / scale) * scale

    def bias(v):
        return m * (const_bias + float(np.sum(np.abs(E @ v))))

    def half_length(v):
        h = math.sqrt(max(variance(v), 0.0))
        b = bias(v)
        if h == 0:
            return b
        return h * _folded_normal_quantile(1.0 - alpha, b / h, convention)

    # end points of the frontier: minimum variance (KKT) and zero pre-period bias (E v = 0)
    K = np.block([[2 * P, g[:, None]], [g[None, :], np.zeros((1, 1))]])
    sol = np.linalg.lstsq(K, np.concatenate([-2 * q0, [c]]), rcond=None)[0]
    v_minvar = sol[:n_pre]
    v_minbias = np.zeros(n_pre)
    v_minbias[-1] = c  # all weight on delta_{-1}: the linear extrapolation, e = 0
    candidates = [v_minvar, v_minbias]
    if n_pre > 1 and m > 0:
        nE = E.shape[0]

        def frontier(mu, x0):
            def fun(x):
                v, u = x[:n_pre], x[n_pre:]
                return float(v @ P @ v + 2 * q0 @ v + 2 * mu * u.sum())

            def jac(x):
                v = x[:n_pre]
                return np.concatenate([2 * P @ v + 2 * q0, np.full(nE, 2 * mu)])

            I = np.eye(nE)
            cons = [
                {"type": "ineq", "fun": lambda x: x[n_pre:] - E @ x[:n_pre],
                 "jac": lambda x: np.hstack([-E, I])},
                {"type": "ineq", "fun": lambda x: x[n_pre:] + E @ x[:n_pre],
                 "jac": lambda x: np.hstack([E, I])},
                {"type": "eq", "fun": lambda x: np.array([g @ x[:n_pre] - c]),
                 "jac": lambda x: np.concatenate([g, np.zeros(nE)])[None, :]},
            ]
            res = optimize.minimize(fun, x0, jac=jac, constraints=cons, method="SLSQP",
                                    options={"ftol": 1e-15, "maxiter": 500})
            return res.x[:n_pre]

        x0 = np.concatenate([v_minvar, np.abs(E @ v_minvar)])
        # mu scale: the slope of the variance along the frontier, variance units per bias unit
        mus = np.geomspace(1e-6, 1e3, n_frontier)
        path = []
        for mu in mus:
            v = frontier(mu, x0)
            x0 = np.concatenate([v, np.abs(E @ v)])
            path.append((half_length(v), mu, v))
        best = int(np.argmin([p[0] for p in path]))
        lo_mu = mus[max(best - 1, 0)]
        hi_mu = mus[min(best + 1, len(mus) - 1)]
        cache = {}

        def obj(logmu):
            v = frontier(math.exp(logmu), np.concatenate([path[best][2], np.abs(E @ path[best][2])]))
            cache[logmu] = v
            return half_length(v)

        if hi_mu > lo_mu:
            r = optimize.minimize_scalar(obj, bounds=(math.log(lo_mu), math.log(hi_mu)),
                                         method="bounded", options={"xatol": 1e-8})
            candidates.append(cache[r.x] if r.x in cache else frontier(math.exp(r.x), x0))
        candidates.extend(p[2] for p in path)
    hls = [half_length(v) for v in candidates]
    v = candidates[int(np.argmin(hls))]
    hl = float(min(hls))
    w = np.concatenate([v, l_vec])
    center = float(w @ beta)
    return {"conf_low": center - hl, "conf_high": center + hl, "center": center,
            "half_length": hl, "sd": math.sqrt(variance(v)), "max_bias": bias(v),
            "weights_pre": v.tolist(), "weights": w.tolist()}


# ================================================================= original interval, breakdown
def original_interval(beta, sigma, n_pre: int, *, l_vec=None, alpha: float = 0.05) -> dict:
    """The usual interval ``l'beta_post +- z_{1-alpha/2} sd`` (parallel trends assumed)."""
    beta = np.asarray(beta, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    n_post = beta.shape[0] - n_pre
    l_vec = _basis(n_post) if l_vec is None else np.asarray(l_vec, dtype=float)
    est = float(l_vec @ beta[n_pre:])
    sd = float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return {"estimate": est, "std_error": sd, "conf_low": est - z * sd, "conf_high": est + z * sd}


def _bisect_breakdown(includes_zero, upper0: float, *, rel_tol: float = 1e-4,
                      max_upper: float = 1e6) -> float:
    """Smallest b >= 0 with includes_zero(b) True, assuming monotonicity (inf if none found)."""
    if includes_zero(0.0):
        return 0.0
    hi = upper0
    while not includes_zero(hi):
        hi *= 2.0
        if hi > max_upper:
            return math.inf
    lo = 0.0 if hi == upper0 else hi / 2.0
    while hi - lo > rel_tol * max(hi, 1e-300):
        mid = 0.5 * (lo + hi)
        if includes_zero(mid):
            hi = mid
        else:
            lo = mid
    return hi


def breakdown_value(beta, sigma, n_pre: int, *, restriction: str, method: str, l_vec=None,
                    alpha: float = 0.05, lf_draws: int = 1000, seed: int = 0,
                    rel_tol: float = 1e-4, convention: str = "exact") -> float:
    """Smallest Mbar (``restriction="rm"``) or M (``"sd"``) at which the robust confidence set
    includes 0 (``inf`` if it never does up to 1e6; 0 if it does under exact parallel trends).

    For the conditional and hybrid sets this inverts the test at ``theta = 0`` itself (no grid:
    the grid-based intervals include 0 from this value on, up to their grid spacing); for the
    FLCI, ``|center(M)| <= half_length(M)``. Found by bisection to relative tolerance
    ``rel_tol``, assuming the sets grow with the bound, as they do in practice.
    """
    beta = np.asarray(beta, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    n_post = beta.shape[0] - n_pre
    l_vec = _basis(n_post) if l_vec is None else np.asarray(l_vec, dtype=float)
    if restriction == "sd" and method == "FLCI":
        def inc(mv):
            r = flci(beta, sigma, n_pre, m=mv, l_vec=l_vec, alpha=alpha, convention=convention)
            return r["conf_low"] <= 0.0 <= r["conf_high"]
        sd_theta = float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
        return _bisect_breakdown(inc, sd_theta, rel_tol=rel_tol)
    hybrid = {"C-LF": "LF", "Conditional": "ARP"}[method]

    def inc(b):
        moms = _build_moments(restriction, b, beta, sigma, n_pre, l_vec, hybrid, alpha,
                              lf_draws, seed, convention)
        return bool(_accept_union(moms, np.array([0.0]), alpha)[0])

    start = 1.0 if restriction == "rm" else float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
    return _bisect_breakdown(inc, start, rel_tol=rel_tol)


# ================================================================= the estimator
def _target(target, event_times: np.ndarray, ref: int) -> tuple[np.ndarray, str]:
    post = [int(e) for e in event_times if e > ref]
    n_post = len(post)
    if isinstance(target, str):
        if target == "first":
            return _basis(n_post), f"e{post[0]:+d}"
        if target == "average":
            return np.full(n_post, 1.0 / n_post), "average(" + ",".join(f"e{e:+d}" for e in post) + ")"
        m = _EVENT_TERM.match(target)
        if m and int(m.group(1)) in post:
            return _basis(n_post, post.index(int(m.group(1)))), target
        raise InputError(f"target must be 'first', 'average', a post-period term {[f'e{e:+d}' for e in post]} "
                         f"or a weight vector; got {target!r}")
    l_vec = np.asarray(target, dtype=float).ravel()
    if l_vec.shape[0] != n_post:
        raise InputError(f"target weights need {n_post} entries (one per post-period), got {l_vec.shape[0]}")
    return l_vec, "l'tau_post"


def _inputs(result, beta, sigma, event_times, ref, window):
    if result is not None:
        e, b, s, r = event_coefficients(result, ref=ref, window=window)
        return e, b, s, r, result
    if beta is None or sigma is None or event_times is None:
        raise InputError("give an event-study Result, or beta, sigma and event_times")
    e = np.asarray(event_times, dtype=int)
    r = -1 if ref is None else int(ref)
    order = np.argsort(e)
    b = np.asarray(beta, dtype=float)[order]
    s = np.asarray(sigma, dtype=float)[np.ix_(order, order)]
    if s.shape != (b.shape[0], b.shape[0]):
        raise InputError(f"sigma must be {b.shape[0]} x {b.shape[0]}, got {s.shape}")
    _contiguous(e[order], r)
    return e[order], b, (s + s.T) / 2.0, r, None


def honest_did(result: Result | None = None, *, beta=None, sigma=None, event_times=None,
               ref: int | None = None, window: tuple[int, int] | None = None,
               restriction: str = "rm", bounds: Sequence[float] | None = None,
               method: str | None = None, target: Any = "first", alpha: float = 0.05,
               grid_points: int = 1000, lf_draws: int = 1000, seed: int = 0,
               convention: str = "exact", breakdown: bool = True) -> Result:
    """Rambachan-Roth sensitivity of an event-study effect to violations of parallel trends.

    Parameters
    ----------
    result
        An event-study Result (TWFE ``event_study``, ``sun_abraham``, ``callaway_santanna``
        with ``base_period="universal"``); read by :func:`event_coefficients`. Or give
        ``beta``, ``sigma`` and ``event_times`` (and ``ref``, default -1) directly.
    window
        Keep event times in ``[lo, hi]`` only.
    restriction
        ``"rm"``: relative magnitudes ``Delta^RM(Mbar)``; ``"sd"``: smoothness
        ``Delta^SD(M)``.
    bounds
        The values of Mbar (rm; default 0, 0.5, 1, 1.5, 2) or M (sd; default: see Notes).
    method
        rm: ``"C-LF"`` (default, the conditional-least-favourable hybrid) or
        ``"Conditional"`` (ARP); sd: ``"FLCI"`` (default), ``"Conditional"`` or ``"C-LF"``.
    target
        ``"first"`` (the first post-period effect, default), ``"average"`` (mean of the
        post-period effects), a post-period term such as ``"e+1"``, or weights ``l`` over the
        post-periods.
    alpha
        1 - confidence level; the hybrid's first stage has size ``alpha / 10``.
    grid_points, lf_draws, seed
        Test-inversion grid size, number of draws for the least-favourable critical value and
        the seed of its stream (``numpy.random.default_rng``).
    convention
        ``"exact"`` (default): the folded-normal quantile of the FLCI computed exactly, the
        least-favourable draws from ``numpy.random.default_rng(seed)``. ``"honestdid"``: both
        simulated as HonestDiD does, from R's ``set.seed(0)`` normal stream
        (:func:`r_normal_stream`), which reproduces the package's printed numbers digit for
        digit; the two differ by simulation noise only (about 1e-3 of the half-length).
    breakdown
        Also compute the breakdown value (:func:`breakdown_value`).

    Returns
    -------
    Result
        One term, the target (e.g. ``e+0``), with its estimate ``l'beta_post`` and variance
        ``l'Sigma_post l``, so ``tidy()`` gives the original interval (normal reference, as
        HonestDiD's ``constructOriginalCS``). ``diagnostics["intervals"]``: one row per bound,
        ``{"term": "Mbar=0.5" | "M=0.01", "bound", "method", "conf_low", "conf_high", ...}``
        (FLCI rows add ``center``, ``half_length``, ``max_bias``, ``weights``); read them as a
        table with :func:`intervals_table`. ``diagnostics["breakdown"]``, ``["original"]``,
        ``["event_times"]``, ``["n_pre"]``, ``["n_post"]``, ``["l_vec"]``.

    Notes
    -----
    With ``beta = (beta_pre, beta_post) ~ N((delta_pre, tau_post + delta_post), Sigma)``
    (``tau_pre = 0``) and ``theta = l'tau_post``:

    .. math:: \\Delta^{RM}(\\bar M) = \\{\\delta : |\\delta_{t+1} - \\delta_t| \\le \\bar M
              \\max_{s < 0} |\\delta_{s+1} - \\delta_s|,\\ t \\ge 0\\}

    .. math:: \\Delta^{SD}(M) = \\{\\delta : |(\\delta_{t+1} - \\delta_t) - (\\delta_t -
              \\delta_{t-1})| \\le M\\}

    (``delta_0 = 0`` at the reference period). Confidence sets: :func:`conditional_interval`
    (ARP / C-LF test inversion; the RM set is the union over the polyhedra of
    :func:`rm_polyhedra`) and :func:`flci`. Default M grid for sd: 10 values on
    ``[0, se(beta_{-1})]`` (HonestDiD's default with one pre-period; with more it uses an
    estimated upper bound on the pre-period second differences) -- a scale choice only; pass
    ``bounds`` for a substantive one.
    Source: Rambachan and Roth (2023), Andrews, Roth and Pakes (2023, *Review of Economic
    Studies*), Armstrong and Kolesar (2018); numbers checked against the HonestDiD README's
    Medicaid example (tests/reference/sensitivity/).

    Examples
    --------
    >>> import numpy as np
    >>> beta = np.array([0.002, -0.001, 0.0, 0.05, 0.07])
    >>> sigma = np.diag([0.01, 0.01, 0.01, 0.012, 0.015]) ** 2
    >>> res = honest_did(beta=beta, sigma=sigma, event_times=[-4, -3, -2, 0, 1],
    ...                  bounds=[0, 1], breakdown=False)
    >>> res.terms
    ('e+0',)
    >>> tab = intervals_table(res)
    >>> tab["term"].tolist()
    ['original', 'Mbar=0', 'Mbar=1']
    >>> bool(tab.loc[2, "conf_low"] < tab.loc[1, "conf_low"])
    True
    """
    e, b, s, r, src = _inputs(result, beta, sigma, event_times, ref, window)
    n_pre, n_post = _contiguous(e, r)
    l_vec, term = _target(target, e, r)
    restriction = str(restriction).lower()
    if restriction not in ("rm", "sd"):
        raise InputError(f"restriction must be 'rm' or 'sd', got {restriction!r}")
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    if convention not in _CONVENTIONS:
        raise InputError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    if method is None:
        method = "C-LF" if restriction == "rm" else "FLCI"
    valid = ("C-LF", "Conditional") if restriction == "rm" else ("FLCI", "Conditional", "C-LF")
    if method not in valid:
        raise InputError(f"method for restriction {restriction!r} must be one of {valid}, got {method!r}")
    if bounds is None:
        if restriction == "rm":
            bounds = [0.0, 0.5, 1.0, 1.5, 2.0]
        else:
            bounds = list(np.linspace(0.0, float(np.sqrt(s[n_pre - 1, n_pre - 1])), 10))
    bounds = [float(v) for v in bounds]
    if any(v < 0 for v in bounds):
        raise InputError(f"bounds must be >= 0, got {bounds}")
    label = "Mbar" if restriction == "rm" else "M"
    orig = original_interval(b, s, n_pre, l_vec=l_vec, alpha=alpha)
    rows = []
    for v in bounds:
        if method == "FLCI":
            out = flci(b, s, n_pre, m=v, l_vec=l_vec, alpha=alpha, convention=convention)
        else:
            out = conditional_interval(b, s, n_pre, restriction=restriction, bound=v,
                                       l_vec=l_vec, alpha=alpha,
                                       hybrid={"C-LF": "LF", "Conditional": "ARP"}[method],
                                       grid_points=grid_points, lf_draws=lf_draws, seed=seed,
                                       convention=convention)
        rows.append({"term": f"{label}={v:g}", "bound": v, "method": method,
                     "restriction": "DeltaRM" if restriction == "rm" else "DeltaSD", **out})
    bd = None
    if breakdown:
        value = breakdown_value(b, s, n_pre, restriction=restriction, method=method,
                                l_vec=l_vec, alpha=alpha, lf_draws=lf_draws, seed=seed,
                                convention=convention)
        bd = {"parameter": label, "value": value, "method": method,
              "significant_under_parallel_trends": not (orig["conf_low"] <= 0 <= orig["conf_high"]),
              "definition": f"smallest {label} at which the {1 - alpha:.0%} robust confidence set "
                            "includes 0"}
    binned = []
    if src is not None:
        binned = [int(d["event_time"]) for d in src.diagnostics.get("event_times", ()) if d.get("binned")]
    diagnostics = {
        "restriction": "DeltaRM" if restriction == "rm" else "DeltaSD",
        "method": method, "alpha": alpha, "bound_name": label,
        "intervals": rows, "original": orig, "breakdown": bd,
        "event_times": e.tolist(), "ref": r, "n_pre": n_pre, "n_post": n_post,
        "l_vec": l_vec.tolist(), "binned_event_times": binned,
        "hybrid_kappa": alpha / 10.0 if method == "C-LF" else None,
        "lf_draws": lf_draws if method == "C-LF" else None, "seed": seed,
        "source_estimator": None if src is None else src.estimator,
        "convention": convention,
        "conventions_note": "HonestDiD 0.2.8 (R): grid test inversion, kappa = alpha/10, "
                            "post-period moments only in the ARP test; 'exact' computes the "
                            "folded-normal quantile exactly and draws the least-favourable "
                            "critical value from numpy's default_rng(seed); 'honestdid' uses "
                            "R's set.seed(0) normal stream for both, as the package",
    }
    spec = {"restriction": restriction, "method": method, "bounds": bounds, "target": term,
            "convention": convention,
            "alpha": alpha, "grid_points": grid_points, "lf_draws": lf_draws, "seed": seed,
            "window": None if window is None else list(window)}
    if src is not None:
        spec["source_spec"] = dict(src.spec)
    return Result(
        terms=[term], params=[orig["estimate"]], cov=[[orig["std_error"] ** 2]],
        nobs=0 if src is None else src.nobs, df_resid=None,
        cov_type="given" if src is None else src.cov_type,
        estimator=f"honestdid_{restriction}", diagnostics=diagnostics, spec=spec,
        provenance={} if src is None else dict(src.provenance),
    )


def intervals_table(result: Result) -> pd.DataFrame:
    """The sensitivity table of :func:`honest_did`: the original interval, then one row per
    bound; columns ``term, bound, method, estimate, conf_low, conf_high``.

    Examples
    --------
    >>> import numpy as np
    >>> res = honest_did(beta=np.array([0.0, 0.01, 0.05]), sigma=np.eye(3) * 1e-4,
    ...                  event_times=[-3, -2, 0], bounds=[0.0], breakdown=False)
    >>> list(intervals_table(res).columns)
    ['term', 'bound', 'method', 'estimate', 'conf_low', 'conf_high']
    """
    d = result.diagnostics
    if "intervals" not in d or "original" not in d:
        raise InputError(f"not a honest_did result: {result.estimator}")
    o = d["original"]
    rows = [{"term": "original", "bound": math.nan, "method": "Original", "estimate": o["estimate"],
             "conf_low": o["conf_low"], "conf_high": o["conf_high"]}]
    for r in d["intervals"]:
        rows.append({"term": r["term"], "bound": r["bound"], "method": r["method"],
                     "estimate": r.get("center", o["estimate"]),
                     "conf_low": r["conf_low"], "conf_high": r["conf_high"]})
    return pd.DataFrame(rows, columns=["term", "bound", "method", "estimate", "conf_low", "conf_high"])


__all__ = ["event_coefficients", "honest_did", "intervals_table", "conditional_interval", "flci",
           "original_interval", "breakdown_value", "arp_test", "rm_polyhedra", "sd_polyhedron"]

