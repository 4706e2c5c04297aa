"""Fixed effects projected out: the within transforms, one implementation for every estimator.

:func:`demean` is the one entry: no fixed effect (a copy), one (exact group means), two forming
a balanced grid without weights (exact: x - mean_a - mean_b + mean), anything else alternating
projections (the method of reghdfe and fixest). A two-way design is balanced only when every
(a, b) cell occurs exactly once (:func:`balanced_cells`: counting the cells, not the rows; a
panel with N x T rows, one cell twice and one missing, is unbalanced).

:class:`PanelLayout` remembers how the rows of a two-way panel are laid out, so loops over
replications with the same structure classify it once. On a grid (balanced, rows sorted by
entity then time) the transform works on the entity x time arrays directly, and
:func:`grid_within_compiled` (numba) does it in one pass for the fused Monte Carlo route of
:func:`robocarbon.empirics.core.ols.fe_ols`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .jit import jit

__all__ = [
    "DemeanInfo",
    "PanelLayout",
    "panel_layout",
    "factorize",
    "drop_singletons",
    "balanced_cells",
    "is_balanced_two_way",
    "grid_within",
    "demean",
    "group_sums",
]


def factorize(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for the distinct values of ``values`` (in sorted order)."""
    uniq, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.astype(np.int64).ravel(), int(uniq.shape[0])


def drop_singletons(fe_codes: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean mask of rows kept after iteratively dropping fixed-effect singletons (groups with
    one observation, which a fixed effect fits exactly; reghdfe and fixest drop them)."""
    n = fe_codes[0].shape[0] if fe_codes else 0
    keep = np.ones(n, dtype=bool)
    if not fe_codes:
        return keep
    changed = True
    while changed:
        changed = False
        for codes in fe_codes:
            counts = np.bincount(codes[keep], minlength=codes.max() + 1)
            single = keep & (counts[codes] == 1)
            if single.any():
                keep &= ~single
                changed = True
    return keep


# ----------------------------------------------------------------------------- layouts
def balanced_cells(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray | None:
    """Cell index a * Gb + b when every (a, b) cell occurs exactly once, else None."""
    Ga, Gb = int(codes_a.max()) + 1, int(codes_b.max()) + 1
    if codes_a.shape[0] != Ga * Gb:
        return None
    cell = codes_a.astype(np.int64) * Gb + codes_b
    if not np.all(np.bincount(cell, minlength=Ga * Gb) == 1):
        return None
    return cell


def is_balanced_two_way(codes_a: np.ndarray, codes_b: np.ndarray) -> bool:
    """True when every (a, b) cell occurs exactly once: the exact two-way within transform applies."""
    return balanced_cells(codes_a, codes_b) is not None


@dataclass(frozen=True)
class PanelLayout:
    """How the rows of a two-way panel are laid out, so the within transform can be exact.

    ``kind`` is ``"grid"`` (balanced and sorted by entity then time: arrays reshape to
    entity x time), ``"balanced"`` (every entity-time cell exactly once, any row order) or
    ``"unbalanced"``.
    """

    kind: str
    entity: np.ndarray
    time: np.ndarray
    n_entity: int
    n_time: int
    #: per-layout constants computed on first use (ones vectors, cluster setup, degrees of
    #: freedom); never part of equality, only ever filled with values derived from the fields
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def ones(self, m: int) -> np.ndarray:
        """A read-only vector of ``m`` ones (cached)."""
        key = ("ones", m)
        v = self.cache.get(key)
        if v is None:
            v = np.ones(m)
            v.setflags(write=False)
            self.cache[key] = v
        return v

    @property
    def codes(self) -> list[np.ndarray]:
        """The fixed-effect codes ``[entity, time]``."""
        return [self.entity, self.time]


def panel_layout(entity: np.ndarray, time: np.ndarray) -> PanelLayout:
    """Classify the layout of integer codes ``entity`` (0..G-1) and ``time`` (0..T-1)."""
    entity = np.asarray(entity, dtype=np.int64)
    time = np.asarray(time, dtype=np.int64)
    if entity.shape != time.shape or entity.ndim != 1:
        raise InputError("entity and time codes must be 1-d arrays of the same length")
    if entity.size == 0:
        raise InputError("empty panel")
    G = int(entity.max()) + 1
    T = int(time.max()) + 1
    n = entity.shape[0]
    kind = "unbalanced"
    if n == G * T:
        if np.array_equal(entity, np.repeat(np.arange(G), T)) and np.array_equal(
            time, np.tile(np.arange(T), G)
        ):
            kind = "grid"
        elif balanced_cells(entity, time) is not None:
            kind = "balanced"
    return PanelLayout(kind, entity, time, G, T)


# ----------------------------------------------------------------------------- group means
class _Grouping:
    """Sorted layout of one grouping (computed once, reused for every column and iteration)."""

    __slots__ = ("G", "order", "starts", "present", "cnt", "wo")

    def __init__(self, codes: np.ndarray, w: np.ndarray | None, G: int):
        self.G = G
        self.order = order = np.argsort(codes, kind="stable")
        sc = codes[order]
        self.starts = starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
        self.present = sc[starts]
        if w is None:
            self.wo = None
            self.cnt = np.diff(np.r_[starts, sc.shape[0]]).astype(float)
        else:
            self.wo = w[order]
            self.cnt = np.add.reduceat(self.wo, starts)

    def means(self, M: np.ndarray) -> np.ndarray:
        if self.wo is None:
            sums = np.add.reduceat(M[self.order], self.starts, axis=0)
        else:
            sums = np.add.reduceat(M[self.order] * self.wo[:, None], self.starts, axis=0)
        means = np.zeros((self.G, M.shape[1]))
        with np.errstate(invalid="ignore", divide="ignore"):
            means[self.present] = sums / self.cnt[:, None]
        means[~np.isfinite(means)] = 0.0
        return means


def group_mean(M: np.ndarray, codes: np.ndarray, w: np.ndarray | None, G: int) -> np.ndarray:
    """(Weighted) means of the columns of M by group: one sorted pass for all columns."""
    return _Grouping(codes, w, G).means(M)


def group_sums(scores: np.ndarray, codes: np.ndarray, G: int) -> np.ndarray:
    """G x k sums of the rows of ``scores`` by group (rows sorted by group: one pass of block
    sums; otherwise one bincount per column)."""
    n, k = scores.shape
    if k and n > 1 and np.all(codes[1:] >= codes[:-1]):
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        m = n // G
        if (starts.shape[0] == G and m * G == n and scores.flags.c_contiguous
                and np.array_equal(starts, np.arange(0, n, m))):
            # equal groups of m consecutive rows (a sorted balanced panel): one batched
            # product instead of a segmented reduction
            return np.matmul(np.ones(m), scores.reshape(G, m, k))
        sums = np.add.reduceat(scores, starts, axis=0)
        if starts.shape[0] == G:
            return sums
        S = np.zeros((G, k))
        S[codes[starts]] = sums
        return S
    S = np.empty((G, k))
    for j in range(k):
        S[:, j] = np.bincount(codes, weights=scores[:, j], minlength=G)
    return S


# ----------------------------------------------------------------------------- grid transform
def grid_within(M: np.ndarray, Ga: int, Gb: int, cell: np.ndarray | None = None,
                ones: PanelLayout | None = None) -> np.ndarray:
    """Exact two-way within transform of a balanced grid: x - mean_a - (mean_b - mean).

    ``cell`` is the cell index a * Gb + b of each row (None: rows sorted by a then b). Each
    column is laid out as a (Ga, Gb) array (a scatter of the cell index, no sort; nothing to do
    when the rows are already sorted), the a-means are subtracted, then the b-means of the
    result (which are mean_b - mean), and the rows are put back in input order. A row-major
    ``M`` is transformed along its rows (batched products, no transposes) and the result is
    row-major; otherwise the result is column-major. ``ones`` (a layout) supplies cached ones.
    """
    M = np.asarray(M, dtype=float)
    squeeze = M.ndim == 1
    if squeeze:
        M = M[:, None]
    n, k = M.shape
    in_order = cell is None or bool(cell[0] == 0 and np.all(np.diff(cell) == 1))
    if in_order and M.flags.c_contiguous and not squeeze:
        ob = ones.ones(Gb) if ones is not None else np.ones(Gb)
        oa = ones.ones(Ga) if ones is not None else np.ones(Ga)
        C = M.reshape(Ga, Gb, k)
        me = np.matmul(ob, C)  # a sums, Ga x k
        me /= Gb
        mt = oa @ M.reshape(Ga, Gb * k)  # b sums, Gb k
        mt /= Ga
        mt = mt.reshape(Gb, k)
        dev = mt - np.add.reduce(mt, axis=0) / Gb  # b means minus the grand mean
        out = np.repeat(me, Gb, axis=0)
        np.subtract(M, out, out=out)
        rows = out.reshape(Ga, Gb * k)  # a view: rows of length Gb k
        rows -= dev.reshape(Gb * k)
        return out
    Mt = np.ascontiguousarray(M.T)  # k x n, free for a column-major M
    if not in_order:
        pos = np.empty(n, dtype=np.int64)
        pos[cell] = np.arange(n)
        Mt = np.take(Mt, pos, axis=1)
    Ms = Mt.reshape(k, Ga, Gb)
    D = Ms - (np.einsum("kab->ka", Ms) / Gb)[:, :, None]
    D -= (np.einsum("kab->kb", D) / Ga)[:, None, :]
    D = D.reshape(k, n)
    if not in_order:
        D = np.take(D, cell, axis=1)
    return D[0] if squeeze else D.T


def _grid_within_py(y, X, G, T, yw, Xw):
    """Within transform of y (n,) and X (n, k) on the G x T grid into ``yw`` and ``Xw``, by
    the formulas of :func:`grid_within` (entity means, then time means minus the grand mean).
    Returns a flag, 0 when every entity sum is finite, else NaN: a non-finite input makes its
    entity sum non-finite (so does an overflow: the caller then scans the inputs)."""
    n, k = X.shape
    me = np.zeros((G, k))
    mt = np.zeros((T, k))
    mey = np.zeros(G)
    mty = np.zeros(T)
    for g in range(G):
        for t in range(T):
            i = g * T + t
            v = y[i]
            mey[g] += v
            mty[t] += v
            for j in range(k):
                v = X[i, j]
                me[g, j] += v
                mt[t, j] += v
    flag = 0.0  # x * 0 is 0 for every finite x, NaN otherwise
    for g in range(G):
        flag += mey[g] * 0.0
        mey[g] /= T
        for j in range(k):
            flag += me[g, j] * 0.0
            me[g, j] /= T
    grand = np.zeros(k)
    grand_y = 0.0
    for t in range(T):
        mty[t] /= G
        grand_y += mty[t]
        for j in range(k):
            mt[t, j] /= G
            grand[j] += mt[t, j]
    for t in range(T):
        mty[t] -= grand_y / T
        for j in range(k):
            mt[t, j] -= grand[j] / T
    for g in range(G):
        for t in range(T):
            i = g * T + t
            yw[i] = (y[i] - mey[g]) - mty[t]
            for j in range(k):
                Xw[i, j] = (X[i, j] - me[g, j]) - mt[t, j]
    return flag


#: the compiled :func:`_grid_within_py` (numba; None only where numba is missing)
grid_within_compiled = jit(_grid_within_py)


# ----------------------------------------------------------------------------- the transform
@dataclass(frozen=True)
class DemeanInfo:
    method: str  # "none", "one-way", "two-way-exact", "alternating-projections"
    iterations: int
    converged: bool


def demean(
    M: np.ndarray,
    fe_codes: Sequence[np.ndarray],
    weights: np.ndarray | None = None,
    *,
    layout: PanelLayout | None = None,
    tol: float = 1e-12,
    maxiter: int = 100_000,
) -> tuple[np.ndarray, DemeanInfo]:
    """Project the columns of ``M`` off the fixed effects given by ``fe_codes``.

    One fixed effect: subtract (weighted) group means, exact. Two fixed effects in which every
    cell occurs exactly once, without weights: x - mean_a - mean_b + mean, exact (``layout``,
    a :class:`PanelLayout` of the same two codes, saves the balance check). Otherwise:
    alternating projections (the method of reghdfe/fixest) until the largest change is below
    ``tol`` times the scale of each column.
    """
    M = np.asarray(M, dtype=float)
    squeeze = M.ndim == 1
    if squeeze:
        M = M[:, None]
    if not fe_codes:
        return (M[:, 0] if squeeze else M.copy()), DemeanInfo("none", 0, True)
    if layout is not None and len(fe_codes) == 2 and weights is None:
        Gs = [layout.n_entity, layout.n_time]
    else:
        Gs = [int(c.max()) + 1 for c in fe_codes]
    if len(fe_codes) == 1:
        out = M - group_mean(M, fe_codes[0], weights, Gs[0])[fe_codes[0]]
        return (out[:, 0] if squeeze else out), DemeanInfo("one-way", 1, True)
    if len(fe_codes) == 2 and weights is None:
        if layout is not None and layout.kind == "grid":
            exact, cell = True, None  # sorted by entity then time: no scatter
        elif layout is not None and layout.kind == "unbalanced":
            exact, cell = False, None
        else:
            cell = balanced_cells(*fe_codes)
            exact = cell is not None
        if exact:
            if not np.isfinite(M).all():
                # non-finite entries: the group-mean formula (empty or non-finite means set to 0)
                a, b = fe_codes
                out = (M - group_mean(M, a, None, Gs[0])[a] - group_mean(M, b, None, Gs[1])[b]
                       + M.mean(axis=0))
            else:
                out = grid_within(M, Gs[0], Gs[1], cell, layout)
            return (out[:, 0] if squeeze else out), DemeanInfo("two-way-exact", 1, True)
    out = M.copy()
    # per-column scale: a column's convergence is judged against its own magnitude, so a column
    # in large units (population) does not loosen the tolerance for the others
    scale = np.abs(M).max(axis=0, initial=0.0)
    scale = np.where(scale > 0, scale, 1.0)
    groupings = [_Grouping(codes, weights, G) for codes, G in zip(fe_codes, Gs)]
    it = 0
    converged = False
    while it < maxiter:
        it += 1
        prev = out.copy()
        for codes, grouping in zip(fe_codes, groupings):
            out -= grouping.means(out)[codes]
        if np.all(np.abs(out - prev).max(axis=0, initial=0.0) < tol * scale):
            converged = True
            break
    return (out[:, 0] if squeeze else out), DemeanInfo("alternating-projections", it, converged)
