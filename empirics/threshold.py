"""Hansen (1999) fixed-effect panel threshold regression: one to three thresholds.

The model (Hansen 1999, equation (1), with several regime regressors and controls) is

    y_it = mu_i [+ tau_t] + x_it' b_1 1(q_it <= g_1) + x_it' b_2 1(g_1 < q_it <= g_2) + ...
           + x_it' b_{k+1} 1(q_it > g_k) + w_it' c + e_it,

with entity effects mu_i, optional time effects tau_t, regime-dependent regressors x, regime-
independent controls w and the threshold variable q. Thresholds are estimated by least squares
over a candidate set (a grid of quantiles or every distinct value of q), sequentially with
Hansen's refinement step; the test of k against k+1 regimes is the F statistic with Hansen's
fixed-regressor bootstrap; the threshold's confidence interval inverts the likelihood-ratio
statistic LR(g) = (S(g) - S(ghat)) / sigma2 at the critical value -2 ln(1 - sqrt(level)).

How it is fast
--------------
Let M_E be the entity within transform (exact on unbalanced panels: subtract entity means) and
let Q0 be an orthonormal basis of the entity-demeaned base regressors [time dummies (when time
effects are on), x, w]. Because x 1(q > g) = x - x 1(q <= g), the threshold model spans the base
plus the single varying block z_g = x 1(q <= g). With Y the outcome projected off the entity
effects and the base, Frisch-Waugh gives

    S(g) = Y'Y - c_g' R_g^{-1} c_g,
    c_g  = sum_{q_it <= g} x_it Y_it,
    R_g  = (x d_g)' M_E (x d_g) - W_g' W_g,  W_g = sum_{q_it <= g} Q0_it x_it',
    (x d_g)' M_E (x d_g) = sum_{q_it <= g} x_it x_it' - sum_i S_i(g) S_i(g)' / T_i,
    S_i(g) = sum_{t: q_it <= g} x_it,

all cumulative sums over the observations sorted by q (the entity term is updated one observation
at a time: adding x to S_i adds (S_i x' + x S_i' + x x') / T_i). This is *not* the naive
"indicator times within-x": the within transform of x 1(q <= g) is handled exactly. Two-way
effects on an unbalanced panel are exact too: the time dummies, entity-demeaned, are part of the
base (P_[entity, time] = P_entity + P_{M_E time}). Every bootstrap replication is a column of an
outcome matrix, so the profile of all candidates for all replications is one cumulative sum.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg as sla

from .data import file_rows as _file_rows
from .errors import InputError
from .core.threads import single_threaded_blas
from .linalg import demean, drop_singletons, factorize, qr_lstsq, sandwich
from .result import Result

__all__ = [
    "threshold",
    "threshold_fit",
    "threshold_test",
    "bootstrap_F",
    "lr_critical_value",
    "candidate_values",
    "ThresholdPanel",
]

_STAGE_NAMES = {1: "single", 2: "double", 3: "triple"}


def lr_critical_value(level: float = 0.95) -> float:
    """Hansen's (2000) critical value for the no-rejection interval of the LR statistic:
    c(level) = -2 ln(1 - sqrt(level)); 7.3523 at 95%."""
    if not 0.0 < level < 1.0:
        raise InputError(f"confidence level must be in (0, 1), got {level}")
    return -2.0 * math.log(1.0 - math.sqrt(level))


def candidate_values(q: np.ndarray, trim: float, grid: int | None) -> np.ndarray:
    """Candidate thresholds for the first search.

    Parameters
    ----------
    q
        Threshold variable (estimation sample).
    trim
        Minimum share of observations in each regime; a candidate g is kept only if at least
        ``ceil(trim * n)`` observations have q <= g and as many have q > g.
    grid
        ``None`` for the exact search (every distinct value of q that satisfies the trimming);
        otherwise the number of quantiles, with Hansen's (1999) convention: with d_1 < ... < d_D
        the distinct values of q, the candidates are d_floor(p D) (1-based) at the
        probabilities p = trim, trim + 1/grid, ..., 1 - trim (grid (1 - 2 trim) + 1 points),
        de-duplicated.

    Returns
    -------
    numpy.ndarray
        Sorted distinct candidate values.
    """
    s = np.sort(np.asarray(q, dtype=float))
    n = s.shape[0]
    nmin = _nmin(trim, n)
    if grid is None:
        cand = np.unique(s)
    else:
        if grid < 1:
            raise InputError(f"--grid must be a positive number of points, got {grid}")
        d = np.unique(s)
        steps = int(math.floor(grid * (1.0 - 2.0 * trim) + 1e-9))
        p = trim + np.arange(steps + 1) / grid
        idx = np.clip(np.floor(p * d.size + 1e-9).astype(np.int64) - 1, 0, d.size - 1)
        cand = np.unique(d[idx])
    cuts = np.searchsorted(s, cand, side="right")
    ok = (cuts >= nmin) & (n - cuts >= nmin)
    return cand[ok]


def _nmin(trim: float, n: int) -> int:
    if not 0.0 <= trim < 0.5:
        raise InputError(f"--trim must be in [0, 0.5), got {trim}")
    return max(1, int(math.ceil(trim * n - 1e-9)))


# ----------------------------------------------------------------------------- the engine
@dataclass
class _Stage:
    rss: np.ndarray  # (G, B) RSS of each candidate, nan where not allowed
    null_rss: np.ndarray  # (B,) RSS with the fixed thresholds only


class ThresholdPanel:
    """Prepared arrays for fast threshold searches on one panel (rows sorted by entity, time).

    Parameters
    ----------
    y, x, w, q
        Outcome (n), regime-dependent regressors (n x kx), controls (n x kw), threshold variable.
    entity
        Entity codes 0..N-1 (rows need not be sorted).
    time
        Time codes 0..T-1, or None; used for time effects and for aligning bootstrap residuals.
    time_effects
        Add time fixed effects (two-way), exact on unbalanced panels.
    x_names, w_names
        Column names used in rank errors.
    """

    def __init__(
        self,
        y: np.ndarray,
        x: np.ndarray,
        w: np.ndarray | None,
        q: np.ndarray,
        entity: np.ndarray,
        time: np.ndarray | None = None,
        *,
        time_effects: bool = False,
        x_names: Sequence[str] | None = None,
        w_names: Sequence[str] | None = None,
    ) -> None:
        y = np.asarray(y, dtype=float).ravel()
        n = y.shape[0]
        x = np.asarray(x, dtype=float).reshape(n, -1)
        w = np.zeros((n, 0)) if w is None else np.asarray(w, dtype=float).reshape(n, -1)
        q = np.asarray(q, dtype=float).ravel()
        ent, N = factorize(entity)
        if time is None:
            if time_effects:
                raise InputError("time effects need a time column")
            # without a time column: position within entity in row order
            tim = np.zeros(n, dtype=np.int64)
            order0 = np.argsort(ent, kind="stable")
            tim_sorted = np.arange(n) - np.searchsorted(ent[order0], ent[order0], side="left")
            tim[order0] = tim_sorted
            Tn = int(tim.max()) + 1 if n else 0
        else:
            tim, Tn = factorize(time)
        # sort rows by entity then time so every entity is one contiguous block
        order = np.lexsort((tim, ent))
        same = (ent[order][1:] == ent[order][:-1]) & (tim[order][1:] == tim[order][:-1])
        if time is not None and same.any():
            raise InputError(f"{int(same.sum())} duplicate (entity, time) pairs")
        self.order = order
        self.y = y[order]
        self.x = x[order]
        self.w = w[order]
        self.q = q[order]
        self.entity = ent[order]
        self.time = tim[order]
        self.n, self.N, self.T = n, N, Tn
        self.kx, self.kw = x.shape[1], w.shape[1]
        self.time_effects = bool(time_effects)
        self.x_names = list(x_names) if x_names is not None else [f"x{j}" for j in range(self.kx)]
        self.w_names = list(w_names) if w_names is not None else [f"w{j}" for j in range(self.kw)]
        if self.kx == 0:
            raise InputError("at least one regime-dependent regressor is needed")
        self.Ti = np.bincount(self.entity, minlength=N).astype(float)
        self.starts = np.concatenate([[0], np.cumsum(self.Ti.astype(np.int64))])
        if np.any(self.Ti < 2):
            raise InputError("every entity needs at least two observations (drop singletons first)")
        self.df_sigma = n - N  # Hansen's n(T-1): observations minus entities
        # base: entity-demeaned [time dummies, x, w]
        cols, names = [], []
        if self.time_effects:
            D = np.zeros((n, Tn - 1))
            m = self.time > 0
            D[np.nonzero(m)[0], self.time[m] - 1] = 1.0
            cols.append(D)
            names += [f"time={t}" for t in range(1, Tn)]
        cols += [self.x, self.w]
        names += self.x_names + self.w_names
        A = self.demean_entity(np.hstack(cols))
        self.Q0 = _orthonormal(A, names)
        self.Y = self._project(self.demean_entity(self.y[:, None]), self.Q0)[:, 0]
        # q-sorted order and the cumulative pieces that do not depend on the outcome
        self.qs = np.argsort(self.q, kind="stable")
        self.q_sorted = self.q[self.qs]
        xs = self.x[self.qs]
        es = self.entity[self.qs]
        # P_j: sum of x over earlier (in q order) observations of the same entity
        o2 = np.argsort(es, kind="stable")
        cx = np.cumsum(xs[o2], axis=0)
        es2 = es[o2]
        first = np.searchsorted(es2, es2, side="left")
        base = np.where(first[:, None] > 0, cx[np.maximum(first - 1, 0)], 0.0)
        prev = cx - xs[o2] - base
        P = np.empty_like(xs)
        P[o2] = prev
        invT = 1.0 / self.Ti[es]
        outer_xx = xs[:, :, None] * xs[:, None, :]
        incr = outer_xx - (
            P[:, :, None] * xs[:, None, :] + xs[:, :, None] * P[:, None, :] + outer_xx
        ) * invT[:, None, None]
        self._zz = _cum0(incr)  # (n+1, kx, kx)
        self.Q0s = self.Q0[self.qs]
        self._W0 = _cum0(self.Q0s[:, :, None] * xs[:, None, :])  # (n+1, p0, kx)
        self._xs = xs
        self.ent_s = es
        self.pos_s = (np.arange(n) - self.starts[self.entity])[self.qs]
        # the outcome off the base, in q-sorted row order (the engine's working order)
        self.Ys = self.Y[self.qs]
        self._cache: dict = {}

    # -------------------------------------------------------------- helpers
    def demean_entity(self, M: np.ndarray) -> np.ndarray:
        """Subtract entity means (exact on unbalanced panels)."""
        sums = np.add.reduceat(M, self.starts[:-1], axis=0)
        return M - (sums / self.Ti[:, None])[self.entity]

    @staticmethod
    def _project(M: np.ndarray, Q: np.ndarray) -> np.ndarray:
        if Q.shape[1] == 0:
            return M
        return M - Q @ (Q.T @ M)

    def cuts_of(self, values: np.ndarray) -> np.ndarray:
        """Number of observations with q <= value."""
        return np.searchsorted(self.q_sorted, np.asarray(values, dtype=float), side="right")

    def _fixed_basis(self, cuts: Sequence[int]) -> np.ndarray:
        """Orthonormal basis (q-sorted rows) of the entity-demeaned blocks x 1(q <= g_f) for the
        fixed thresholds, orthogonal to the base."""
        n, kx = self.n, self.kx
        cols = []
        for c in sorted(int(v) for v in cuts):
            blk = self._xs * (np.arange(n) < c)[:, None]
            for k in range(kx):
                sums = np.bincount(self.ent_s, weights=blk[:, k], minlength=self.N)
                cols.append(blk[:, k] - (sums / self.Ti)[self.ent_s])
        XF = self._project(np.column_stack(cols), self.Q0s)
        names = [f"{nm}*1(q<=g{j + 1})" for j in range(len(cuts)) for nm in self.x_names]
        return _orthonormal(XF, names)

    # -------------------------------------------------------------- the search
    def stage(
        self,
        Y: np.ndarray,
        fixed_cuts: Sequence[int],
        cand_cuts: np.ndarray,
        nmin: int,
    ) -> _Stage:
        """RSS of every candidate threshold given fixed thresholds, for every row of Y.

        ``Y`` (B x n: one outcome per row, observations in q-sorted order, see ``Ys``) must
        already be projected off the entity effects and the base. A candidate
        cut m is allowed when every regime formed with the fixed cuts holds >= nmin
        observations; others get NaN.
        """
        n, kx = self.n, self.kx
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[None, :]
        fixed_cuts = sorted(int(c) for c in fixed_cuts)
        m = np.asarray(cand_cuts, dtype=np.int64)
        # pieces that depend on the candidate set only: computed once per set
        key = m.tobytes()
        cached = self._cache.get(key)
        if cached is None:
            order = np.argsort(m, kind="stable")
            bounds = np.concatenate([[0], m[order]])
            R0 = self._zz[m] - np.einsum("gpk,gpl->gkl", self._W0[m], self._W0[m])
            scale = np.maximum(np.einsum("gkk->g", self._zz[m]), 1e-300)
            cached = self._cache[key] = (order, bounds, R0, scale)
        order, bounds, R0, scale = cached

        def at_cuts(M):  # (n, ...) -> cumulative sums over the first m rows, (G, ...)
            out = np.empty((m.size,) + M.shape[1:])
            out[order] = np.cumsum(np.add.reduceat(M, bounds, axis=0)[:-1], axis=0)
            return out

        # basis of the fixed indicator blocks, orthogonal to the base
        R = R0
        if fixed_cuts:
            QF = self._fixed_basis(fixed_cuts)
            Yf = Y - (Y @ QF) @ QF.T
            WFm = at_cuts(QF[:, :, None] * self._xs[:, None, :])
            R = R0 - np.einsum("gpk,gpl->gkl", WFm, WFm)
        else:
            Yf = Y
        null_rss = np.einsum("bj,bj->b", Yf, Yf)
        allowed = (m >= nmin) & (n - m >= nmin)
        for f in fixed_cuts:
            allowed &= np.abs(m - f) >= nmin
        # c_g = sum over the first m q-sorted observations of x_j Y_j  -> (G, B, kx):
        # segment sums between consecutive cuts, then a short cumulative sum over candidates
        C = np.empty((m.size, Yf.shape[0], kx))
        for k in range(kx):
            seg = np.add.reduceat(Yf * self._xs[:, k], bounds, axis=1)[:, :-1]  # (B, G)
            C[order, :, k] = np.cumsum(seg, axis=1).T
        # regime blocks without within variation would make R singular: not allowed
        if kx == 1:
            r = R[:, 0, 0]
            good = allowed & (r > 1e-12 * scale)
            with np.errstate(divide="ignore", invalid="ignore"):
                gain = np.where(good[:, None], C[:, :, 0] ** 2 / np.where(good, r, 1.0)[:, None], np.nan)
        else:
            eig = np.linalg.eigvalsh(R)
            good = allowed & (eig[:, 0] > 1e-12 * scale)
            Rg = np.where(good[:, None, None], R, np.eye(kx)[None])
            sol = np.linalg.solve(Rg, np.transpose(C, (0, 2, 1)))  # (G, kx, B)
            gain = np.einsum("gbk,gkb->gb", C, sol)
            gain[~good] = np.nan
        rss = null_rss[None, :] - gain
        return _Stage(rss=rss, null_rss=null_rss)

    def sequential(
        self,
        Y: np.ndarray,
        n_thresholds: int,
        cand_cuts: np.ndarray,
        nmins: Sequence[int],
        *,
        keep_profiles: bool = False,
        refine: bool = True,
    ) -> dict:
        """Hansen's sequential estimation for every row of Y (B x n, q-sorted observations).

        ``refine=False`` skips the refinement when only two thresholds are searched (the F test
        of one against two thresholds does not use it).

        Stage 1: search g1. Stage 2: search g2 given g1, then refine g1 given g2. Stage 3: search
        g3 given the refined pair. Columns are grouped by the thresholds already found, so each
        distinct conditioning set costs one profile for all the columns that share it.

        Returns a dict with ``S0`` (B,), and per stage ``S1, cut1``; ``S2, cut2, S2r, cut1r``;
        ``S3, cut3`` (arrays over columns) and, with ``keep_profiles``, the RSS profiles.
        """
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[None, :]
        B = Y.shape[0]
        out: dict = {"S0": np.einsum("bj,bj->b", Y, Y)}
        profiles: dict = {}

        def run(key_cuts: np.ndarray | None, fixed_fn, nmin, label):
            rss_best = np.full(B, np.nan)
            cut_best = np.full(B, -1, dtype=np.int64)
            groups = (
                [((), np.arange(B))]
                if key_cuts is None
                else _groups(key_cuts)
            )
            for key, cols in groups:
                st = self.stage(Y if len(cols) == B else Y[cols], fixed_fn(key), cand_cuts, nmin)
                if np.all(np.isnan(st.rss)):
                    raise InputError(
                        f"no admissible candidate for the {label} threshold: the trimming leaves "
                        "no regime with enough observations; lower --trim or use fewer thresholds"
                    )
                j = np.nanargmin(st.rss, axis=0)
                rss_best[cols] = st.rss[j, np.arange(len(cols))]
                cut_best[cols] = cand_cuts[j]
                if keep_profiles and B == 1:
                    profiles[label] = st.rss[:, 0].copy()
            return rss_best, cut_best

        out["S1"], out["cut1"] = run(None, lambda k: (), nmins[0], "single")
        if n_thresholds >= 2:
            out["S2"], out["cut2"] = run(out["cut1"][:, None], lambda k: k, nmins[1], "double")
            if refine or n_thresholds >= 3:
                out["S2r"], out["cut1r"] = run(out["cut2"][:, None], lambda k: k, nmins[0], "refined")
        if n_thresholds >= 3:
            pair = np.stack([out["cut1r"], out["cut2"]], axis=1)
            out["S3"], out["cut3"] = run(pair, lambda k: k, nmins[2], "triple")
        if keep_profiles:
            out["profiles"] = profiles
        return out

    # -------------------------------------------------------------- bootstrap
    def null_residuals(self, cuts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Within residuals of the model with thresholds at ``cuts`` and its projected fit
        (both n-vectors in q-sorted order, already off the base)."""
        Y = self.Ys[:, None]
        if cuts:
            e = self._project(Y, self._fixed_basis(cuts))[:, 0]
        else:
            e = Y[:, 0].copy()
        return e, self.Ys - e

    def bootstrap_outcomes(self, e: np.ndarray, fit: np.ndarray, B: int, rng) -> np.ndarray:
        """Hansen's fixed-regressor bootstrap: outcome rows (B x n, q-sorted observations) fit + e*, with e* the residual
        vectors of entities drawn with replacement (within groups of entities with the same
        number of observations, aligned by position in time), projected off the base."""
        Estar = self.resample_residuals(e, B, rng)
        # resampled blocks still sum to zero within each entity: only the base is projected out
        Estar -= (Estar @ self.Q0s) @ self.Q0s.T
        Estar += fit[None, :]
        return Estar

    def resample_residuals(self, e: np.ndarray, B: int, rng) -> np.ndarray:
        """B draws (rows; q-sorted observations) of entity residual vectors: each entity gets the
        vector of an entity drawn with replacement among those with as many observations,
        aligned by position in time."""
        # residuals in entity order (each entity block sums to zero: e is a within residual)
        e_ent = np.empty(self.n)
        e_ent[self.qs] = e
        Ti = self.Ti.astype(np.int64)
        src = np.empty((self.N, B), dtype=np.int64)  # the entity whose residual vector i gets
        for Tval in np.unique(Ti):
            ents = np.nonzero(Ti == Tval)[0]
            src[ents] = ents[rng.integers(0, len(ents), size=(len(ents), B))]
        # (n, B) positions in e_ent for the q-sorted rows: start of the source block + position
        idx = np.take(np.ascontiguousarray(self.starts[src].T.astype(np.int32)), self.ent_s, axis=1)
        idx += self.pos_s.astype(np.int32)[None, :]
        return np.take(e_ent, idx)  # (B, n)


def _crit(Fb: np.ndarray, p: float) -> float:
    """Bootstrap critical value as in Hansen's code: the ceil(p B)-th smallest draw."""
    srt = np.sort(Fb)
    return float(srt[min(max(int(math.ceil(p * srt.size - 1e-9)), 1), srt.size) - 1])


def _cum0(a: np.ndarray) -> np.ndarray:
    """Cumulative sum along axis 0 with a leading zero slice (so index m = sum of first m)."""
    out = np.empty((a.shape[0] + 1,) + a.shape[1:])
    out[0] = 0.0
    np.cumsum(a, axis=0, out=out[1:])
    return out


def _groups(keys: np.ndarray):
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    for g in range(uniq.shape[0]):
        yield tuple(int(v) for v in uniq[g]), np.nonzero(inv == g)[0]


def _orthonormal(A: np.ndarray, names: Sequence[str], rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis of the columns of A by pivoted QR; a rank deficiency names the column."""
    k = A.shape[1]
    if k == 0:
        return np.zeros((A.shape[0], 0))
    norms = np.linalg.norm(A, axis=0)
    if k == 1 and norms[0] >= 1e-12 * max(float(norms[0]), 1.0):  # one column: no QR needed
        return A / norms[0]
    big = max(float(norms.max()), 1.0)
    zero = [names[j] for j in range(k) if norms[j] < 1e-12 * big]
    if zero:
        raise InputError(
            "regressor(s) " + ", ".join(repr(z) for z in zero)
            + " have no variation left after absorbing the fixed effects"
        )
    Qm, R, piv = sla.qr(A / norms, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    rank = int(np.sum(d > rtol * d[0]))
    if rank < k:
        bad = [names[piv[j]] for j in range(rank, k)]
        raise InputError(
            "regressor(s) " + ", ".join(repr(b) for b in bad)
            + " are collinear with the other regressors and fixed effects; drop them"
        )
    return Qm


# ----------------------------------------------------------------------------- user entries
def _single_threaded(fn):
    """Run ``fn`` with single-threaded BLAS (small dense problems: threads only add contention)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper


@_single_threaded
def threshold_fit(
    y: np.ndarray,
    regime: np.ndarray,
    q: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray | None = None,
    controls: np.ndarray | None = None,
    *,
    time_effects: bool = False,
    n_thresholds: int = 1,
    trim: float | Sequence[float] = 0.01,
    grid: int | None = 400,
    exact: bool = False,
    bootstrap: int | Sequence[int] = 300,
    seed: int | np.random.SeedSequence | None = None,
    level: float = 0.95,
    regime_names: Sequence[str] | None = None,
    control_names: Sequence[str] | None = None,
    q_name: str = "q",
    nobs_dropped: int = 0,
    dropped: dict | None = None,
    spec: dict | None = None,
    progress: bool = False,
) -> Result:
    """Fixed-effect panel threshold regression (Hansen 1999) on numpy arrays.

    Parameters
    ----------
    y : (n,) outcome.
    regime : (n,) or (n, kx) regime-dependent regressors x.
    q : (n,) threshold variable.
    entity, time : (n,) entity and time labels (any sortable values); time may be None without
        time effects.
    controls : (n, kw) regime-independent regressors w, or None.
    time_effects : add time fixed effects (two-way; exact on unbalanced panels).
    n_thresholds : 1, 2 or 3; estimated sequentially with Hansen's refinement.
    trim : minimum share of observations in every regime, one value or one per threshold.
    grid : number of quantile grid points (ignored when ``exact``).
    exact : search every distinct value of q.
    bootstrap : replications for each test (k vs k+1 regimes), one value or one per test; 0 skips.
    seed : seed of the bootstrap (numpy SeedSequence; one spawned stream per test).
    level : confidence level of the LR intervals.
    progress : show a progress bar over the bootstrap tests (tqdm, on stderr).

    Returns
    -------
    Result
        ``params`` are the regime slopes (``<x>_regime<j>``) and the control coefficients, with
        entity-clustered (CR1) covariance given the estimated thresholds. ``diagnostics`` holds
        ``thresholds``, ``intervals``, ``models`` (RSS, sigma2 of the linear and threshold
        models), ``tests`` (F, bootstrap p-value, 90/95/99% critical values), ``lr`` (the LR
        curve of each threshold), ``regimes``, ``candidates``, ``search``, ``trim``.

    Notes
    -----
    Estimating equation (one threshold):

    .. math:: y_{it} = \\mu_i + x_{it}'\\beta_1 1(q_{it} \\le \\gamma)
              + x_{it}'\\beta_2 1(q_{it} > \\gamma) + w_{it}'c + e_{it},

    :math:`\\hat\\gamma = \\arg\\min S(\\gamma)`, :math:`F_1 = (S_0 - S_1(\\hat\\gamma))/\\hat\\sigma^2`,
    :math:`\\hat\\sigma^2 = S_1(\\hat\\gamma)/(n - N)` (Hansen's n(T-1)),
    :math:`LR(\\gamma) = (S_1(\\gamma) - S_1(\\hat\\gamma))/\\hat\\sigma^2`.
    """
    if n_thresholds not in (1, 2, 3):
        raise InputError(f"--n-thresholds must be 1, 2 or 3, got {n_thresholds}")
    trims = _per_threshold(trim, n_thresholds, "trim", float)
    boots = _per_threshold(bootstrap, n_thresholds, "bootstrap", int)
    if any(b < 0 for b in boots):
        raise InputError("--bootstrap must be >= 0")
    x = np.asarray(regime, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    kx = x.shape[1]
    regime_names = list(regime_names) if regime_names is not None else [f"x{j}" for j in range(kx)]
    w = None if controls is None else np.asarray(controls, dtype=float)
    if w is not None and w.ndim == 1:
        w = w[:, None]
    kw = 0 if w is None else w.shape[1]
    control_names = list(control_names) if control_names is not None else [f"w{j}" for j in range(kw)]
    panel = ThresholdPanel(
        y, x, w, q, entity, time, time_effects=time_effects, x_names=regime_names, w_names=control_names
    )
    n = panel.n
    nmins = [_nmin(t, n) for t in trims]
    values = candidate_values(panel.q, trims[0], None if exact else grid)
    if values.size == 0:
        raise InputError("no candidate threshold survives the trimming; lower --trim")
    cand_cuts = panel.cuts_of(values)
    crit_lr = lr_critical_value(level)
    df = panel.df_sigma

    seq = panel.sequential(panel.Ys[None, :], n_thresholds, cand_cuts, nmins, keep_profiles=True)
    S = {k: float(v[0]) for k, v in seq.items() if k.startswith("S")}
    cut = {k: int(v[0]) for k, v in seq.items() if k.startswith("cut")}
    val_of = dict(zip(cand_cuts.tolist(), values.tolist()))
    profiles = seq["profiles"]

    # the models, the thresholds of each and the LR curves
    models = [{"n_thresholds": 0, "thresholds": [], "rss": S["S0"], "sigma2": S["S0"] / df}]
    lr = []

    def lr_entry(name, profile, rss_hat, sigma2, cut_hat, which):
        ok = ~np.isnan(profile)
        stat = (profile[ok] - rss_hat) / sigma2
        g = values[ok]
        accept = stat <= crit_lr
        inside = g[accept]
        # the no-rejection set as runs of consecutive candidates (it need not be an interval)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], accept.astype(np.int8), [0]])))
        region = [[float(g[a]), float(g[b - 1])] for a, b in zip(edges[::2], edges[1::2])]
        return {
            "name": name,
            "threshold_index": which,
            "threshold": val_of[cut_hat],
            "gamma": g.tolist(),
            "lr": stat.tolist(),
            "critical_value": crit_lr,
            "level": level,
            "interval": [float(inside.min()), float(inside.max())],
            "region": region,
        }

    s1 = S["S1"] / df
    models.append({"n_thresholds": 1, "thresholds": [val_of[cut["cut1"]]], "rss": S["S1"], "sigma2": s1})
    lr.append(lr_entry("single", profiles["single"], S["S1"], s1, cut["cut1"], 1))
    final_cuts = [cut["cut1"]]
    if n_thresholds >= 2:
        s2 = S["S2"] / df
        s2r = S["S2r"] / df
        models.append(
            {
                "n_thresholds": 2,
                "thresholds": sorted([val_of[cut["cut1r"]], val_of[cut["cut2"]]]),
                "rss": S["S2r"],
                "sigma2": s2r,
                "rss_before_refinement": S["S2"],
                "first_threshold_before_refinement": val_of[cut["cut1"]],
            }
        )
        lr.append(lr_entry("double_second", profiles["double"], S["S2"], s2, cut["cut2"], 2))
        lr.append(lr_entry("double_first_refined", profiles["refined"], S["S2r"], s2r, cut["cut1r"], 1))
        final_cuts = [cut["cut1r"], cut["cut2"]]
    if n_thresholds >= 3:
        s3 = S["S3"] / df
        models.append(
            {
                "n_thresholds": 3,
                "thresholds": sorted(val_of[c] for c in (cut["cut1r"], cut["cut2"], cut["cut3"])),
                "rss": S["S3"],
                "sigma2": s3,
            }
        )
        lr.append(lr_entry("triple_third", profiles["triple"], S["S3"], s3, cut["cut3"], 3))
        final_cuts = [cut["cut1r"], cut["cut2"], cut["cut3"]]

    # the bootstrap F tests of k against k + 1 thresholds
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    streams = ss.spawn(n_thresholds)
    null_cuts = {0: [], 1: [cut["cut1"]], 2: [cut.get("cut1r"), cut.get("cut2")]}
    stat_pairs = {0: ("S0", "S1"), 1: ("S1", "S2"), 2: ("S2r", "S3")}
    tests = []
    from tqdm import tqdm

    for k in tqdm(range(n_thresholds), desc="bootstrap tests", disable=not progress, leave=False):
        a, b = stat_pairs[k]
        F = (S[a] - S[b]) / (S[b] / df)
        entry = {
            "null_thresholds": k,
            "alternative_thresholds": k + 1,
            "name": _STAGE_NAMES[k + 1],
            "rss_null": S[a],
            "rss_alternative": S[b],
            "F": F,
            "bootstrap": boots[k],
            "p_value": None,
            "critical_values": None,
        }
        if boots[k] > 0:
            Fb = bootstrap_F(panel, null_cuts[k], k, cand_cuts, nmins, boots[k], np.random.default_rng(streams[k]))
            entry["p_value"] = float(np.mean(Fb >= F))
            entry["critical_values"] = {
                "90": _crit(Fb, 0.90),
                "95": _crit(Fb, 0.95),
                "99": _crit(Fb, 0.99),
            }
        tests.append(entry)

    # slopes given the thresholds: direct regression on the within-transformed data
    final_vals = sorted(val_of[c] for c in final_cuts)
    fit = _fit_given(panel, final_vals, regime_names, control_names)
    intervals = []
    if n_thresholds == 1:
        intervals = [lr[0]["interval"]]
    elif n_thresholds >= 2:
        by_cut = {cut["cut1r"]: lr[2]["interval"], cut["cut2"]: lr[1]["interval"]}
        if n_thresholds == 3:
            by_cut[cut["cut3"]] = lr[3]["interval"]
        intervals = [by_cut[c] for c in sorted(final_cuts)]
    direct_rss = float(fit["rss"])
    diagnostics = {
        "thresholds": final_vals,
        "intervals": intervals,
        "threshold_variable": q_name,
        "models": models,
        "rss": {m["n_thresholds"]: m["rss"] for m in models},
        "rss_direct": direct_rss,
        "tests": tests,
        "lr": lr,
        "regimes": fit["regimes"],
        "candidates": int(values.size),
        "search": "exact" if exact else f"grid({grid})",
        "trim": trims,
        "min_regime_obs": nmins,
        "sigma2_df": df,
        "n_entities": panel.N,
        "n_periods": panel.T,
        "balanced": bool(np.all(panel.Ti == panel.Ti[0])),
        "time_effects": bool(time_effects),
        "seed": None if isinstance(seed, np.random.SeedSequence) else seed,
        "dropped": dict(dropped or {}),
        "bootstrap_method": "fixed-regressor entity residual resampling (Hansen 1999)",
    }
    return Result(
        terms=fit["terms"],
        params=fit["beta"],
        cov=fit["cov"],
        nobs=n,
        df_resid=fit["df"],
        cov_type="cluster",
        estimator="threshold",
        nobs_dropped=nobs_dropped,
        r2_within=fit["r2_within"],
        r2_with_fe=fit["r2_with_fe"],
        diagnostics=diagnostics,
        spec=dict(spec or {}),
    )


def bootstrap_F(
    panel: ThresholdPanel,
    null_cuts: Sequence[int],
    k: int,
    cand_cuts: np.ndarray,
    nmins: Sequence[int],
    B: int,
    rng: np.random.Generator,
    *,
    chunk: int | None = None,
) -> np.ndarray:
    """Bootstrap distribution of the F statistic of k against k + 1 thresholds (B draws).

    Outcomes are generated from the null model with ``null_cuts`` (fit plus resampled entity
    residual vectors) and the whole sequential search is rerun on every draw, all draws as
    rows of one matrix (processed in chunks to bound memory).
    """
    e, fit = panel.null_residuals(null_cuts)
    pair = {0: ("S0", "S1"), 1: ("S1", "S2"), 2: ("S2r", "S3")}[k]
    if chunk is None:
        chunk = max(16, int(4_000_000 // max(panel.n * panel.kx, 1)))
    out = []
    done = 0
    while done < B:
        b = min(chunk, B - done)
        Ystar = panel.bootstrap_outcomes(e, fit, b, rng)
        seq = panel.sequential(Ystar, k + 1, cand_cuts, nmins, refine=False)
        Sa, Sb = seq[pair[0]], seq[pair[1]]
        out.append((Sa - Sb) / (Sb / panel.df_sigma))
        done += b
    return np.concatenate(out)


@_single_threaded
def threshold_test(
    y: np.ndarray,
    regime: np.ndarray,
    q: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray | None = None,
    controls: np.ndarray | None = None,
    *,
    null_thresholds: int = 0,
    time_effects: bool = False,
    trim: float | Sequence[float] = 0.01,
    grid: int | None = 400,
    exact: bool = False,
    bootstrap: int = 300,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
) -> dict:
    """The bootstrap F test of ``null_thresholds`` against one more threshold, nothing else.

    The fast path for Monte Carlo studies: no slopes, no covariance, no LR curves. Returns a dict
    with ``F``, ``p_value``, ``critical_values`` (90/95/99), ``thresholds`` (of the alternative
    model, sorted), ``rss_null``, ``rss_alternative`` and ``bootstrap``. Same conventions as
    :func:`threshold_fit` (which reports the same F and, for the same seed stream, p-value).
    """
    k = int(null_thresholds)
    if k not in (0, 1, 2):
        raise InputError(f"null_thresholds must be 0, 1 or 2, got {null_thresholds}")
    panel = ThresholdPanel(y, regime, controls, q, entity, time, time_effects=time_effects)
    trims = _per_threshold(trim, k + 1, "trim", float)
    nmins = [_nmin(t, panel.n) for t in trims]
    values = candidate_values(panel.q, trims[0], None if exact else grid)
    if values.size == 0:
        raise InputError("no candidate threshold survives the trimming; lower --trim")
    cand_cuts = panel.cuts_of(values)
    seq = panel.sequential(panel.Ys[None, :], k + 1, cand_cuts, nmins, refine=False)
    a, b = {0: ("S0", "S1"), 1: ("S1", "S2"), 2: ("S2r", "S3")}[k]
    Sa, Sb = float(seq[a][0]), float(seq[b][0])
    F = (Sa - Sb) / (Sb / panel.df_sigma)
    null_keys = {0: [], 1: ["cut1"], 2: ["cut1r", "cut2"]}[k]
    null_cuts = [int(seq[c][0]) for c in null_keys]
    alt_keys = {0: ["cut1"], 1: ["cut1", "cut2"], 2: ["cut1r", "cut2", "cut3"]}[k]
    val_of = dict(zip(cand_cuts.tolist(), values.tolist()))
    out = {
        "F": F,
        "rss_null": Sa,
        "rss_alternative": Sb,
        "thresholds": sorted(val_of[int(seq[c][0])] for c in alt_keys),
        "bootstrap": int(bootstrap),
        "p_value": None,
        "critical_values": None,
    }
    if bootstrap > 0:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        Fb = bootstrap_F(panel, null_cuts, k, cand_cuts, nmins, int(bootstrap), rng)
        out["p_value"] = float(np.mean(Fb >= F))
        out["critical_values"] = {
            "90": _crit(Fb, 0.90),
            "95": _crit(Fb, 0.95),
            "99": _crit(Fb, 0.99),
        }
    return out


def _fit_given(panel: ThresholdPanel, thresholds: Sequence[float], xn, wn) -> dict:
    """Regime slopes and controls given the thresholds, by QR on data within-transformed with
    linalg.demean, with entity-clustered CR1 covariance."""
    edges = [-np.inf] + list(thresholds) + [np.inf]
    q = panel.q
    cols, terms, regimes = [], [], []
    blocks = []
    for j in range(len(edges) - 1):
        d = (q > edges[j]) & (q <= edges[j + 1])
        blocks.append(panel.x * d[:, None])
        regimes.append(
            {
                "regime": j + 1,
                "lower": None if not np.isfinite(edges[j]) else float(edges[j]),
                "upper": None if not np.isfinite(edges[j + 1]) else float(edges[j + 1]),
                "nobs": int(d.sum()),
                "share": float(d.mean()),
            }
        )
    for k, nm in enumerate(xn):
        for j, blk in enumerate(blocks):
            cols.append(blk[:, k])
            terms.append(f"{nm}_regime{j + 1}")
    for k, nm in enumerate(wn):
        cols.append(panel.w[:, k])
        terms.append(nm)
    X = np.column_stack(cols)
    fe = [panel.entity] + ([panel.time] if panel.time_effects else [])
    Md, _ = demean(np.column_stack([panel.y, X]), fe)
    yd, Xd = Md[:, 0], Md[:, 1:]
    fitres = qr_lstsq(Xd, yd, names=terms)
    # K as fixest/reghdfe and fe.fit: the entity effects are nested in the entity clusters and
    # count as one parameter; time effects add T - 1
    kk = X.shape[1] + 1 + (panel.T - 1 if panel.time_effects else 0)
    cov, dfr = sandwich(Xd, fitres.resid, fitres.bread, kind="cluster", clusters=[panel.entity], n=panel.n, k=kk)
    rss = float(fitres.resid @ fitres.resid)
    tss_w = float(yd @ yd)
    tss = float(np.sum((panel.y - panel.y.mean()) ** 2))
    return {
        "terms": terms,
        "beta": fitres.beta,
        "cov": cov,
        "df": dfr,
        "rss": rss,
        "regimes": regimes,
        "r2_within": 1.0 - rss / tss_w if tss_w > 0 else None,
        "r2_with_fe": 1.0 - rss / tss if tss > 0 else None,
    }


def _per_threshold(v, k: int, name: str, cast):
    if isinstance(v, int | float | np.integer | np.floating):
        return [cast(v)] * k
    vals = [cast(a) for a in v]
    if len(vals) == 1:
        return vals * k
    if len(vals) != k:
        raise InputError(f"--{name} takes one value or one per threshold ({k}), got {len(vals)}")
    return vals


def threshold(
    data: pd.DataFrame,
    *,
    y: str,
    regime: str | Sequence[str],
    q: str,
    entity: str,
    time: str,
    controls: Sequence[str] = (),
    time_effects: bool = False,
    n_thresholds: int = 1,
    trim: float | Sequence[float] = 0.01,
    grid: int | None = 400,
    exact: bool = False,
    bootstrap: int | Sequence[int] = 300,
    seed: int | None = None,
    level: float = 0.95,
    file: str | None = None,
    progress: bool = False,
) -> Result:
    """Fixed-effect panel threshold regression (Hansen 1999) on a DataFrame.

    Rows with a missing value in any used column are dropped and counted; then entities (and,
    with time effects, periods) with a single observation are dropped (fixed effects fit them
    exactly). Duplicate (entity, time) pairs are an error. See :func:`threshold_fit` for the
    model, the options and the returned diagnostics.

    Notes
    -----
    .. math:: y_{it} = \\mu_i [+ \\tau_t] + \\sum_{j=1}^{k+1} x_{it}'\\beta_j
              1(\\gamma_{j-1} < q_{it} \\le \\gamma_j) + w_{it}'c + e_{it}
    """
    regime = [regime] if isinstance(regime, str) else list(regime)
    controls = list(controls or [])
    used = [y, *regime, q, *controls, entity, time]
    for c in dict.fromkeys(used):
        if c not in data.columns:
            raise InputError(f"no such column; have {list(data.columns)[:20]}", file=file, column=c)
    for c in dict.fromkeys([y, *regime, q, *controls]):
        if not pd.api.types.is_numeric_dtype(data[c]):
            bad = pd.to_numeric(data[c], errors="coerce").isna() & data[c].notna()
            rows = _file_rows(data, bad.to_numpy())
            raise InputError("column is not numeric", file=file, column=c, rows=rows)
    sub = data[list(dict.fromkeys(used))]
    miss = sub.isna().any(axis=1).to_numpy().copy()
    num = sub[list(dict.fromkeys([y, *regime, q, *controls]))].to_numpy(dtype=float)
    miss |= ~np.isfinite(num).all(axis=1)
    dropped = {"missing": int(miss.sum())}
    sub = sub.loc[~miss]
    dup = sub.duplicated(subset=[entity, time], keep=False).to_numpy()
    if dup.any():
        rows = (np.nonzero(dup)[0]).tolist()
        labels = [f"{sub.iloc[r][entity]}/{sub.iloc[r][time]}" for r in rows[:5]]
        raise InputError(
            f"duplicate (entity, time) pairs, e.g. {', '.join(labels)}", file=file, column=entity, rows=labels
        )
    ent, _ = factorize(sub[entity].to_numpy())
    fes = [ent]
    if time_effects:
        tim, _ = factorize(sub[time].to_numpy())
        fes.append(tim)
    keep = drop_singletons(fes)
    dropped["singletons"] = int((~keep).sum())
    sub = sub.loc[keep]
    if len(sub) == 0:
        raise InputError("no observations left after dropping missing values and singletons", file=file)
    spec = {
        "y": y, "regime": regime, "q": q, "controls": controls, "entity": entity, "time": time,
        "time_effects": time_effects, "n_thresholds": n_thresholds, "trim": trim, "grid": grid,
        "exact": exact, "bootstrap": bootstrap, "seed": seed, "level": level,
        "formula": f"{y} ~ {'+'.join(regime)} x 1(regime of {q}) + {'+'.join(controls) or '0'} | {entity}"
        + (f" + {time}" if time_effects else ""),
    }
    return threshold_fit(
        sub[y].to_numpy(dtype=float),
        sub[regime].to_numpy(dtype=float),
        sub[q].to_numpy(dtype=float),
        sub[entity].to_numpy(),
        sub[time].to_numpy(),
        sub[controls].to_numpy(dtype=float) if controls else None,
        time_effects=time_effects,
        n_thresholds=n_thresholds,
        trim=trim,
        grid=grid,
        exact=exact,
        bootstrap=bootstrap,
        seed=seed,
        level=level,
        regime_names=regime,
        control_names=controls,
        q_name=q,
        nobs_dropped=int(sum(dropped.values())),
        dropped=dropped,
        spec=spec,
        progress=progress,
    )
