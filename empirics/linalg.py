"""Numerical core: fixed-effect within transforms, least squares by QR, covariance matrices.

Everything here works on plain numpy arrays (no DataFrames), so the Monte Carlo fast paths and
the user-facing estimators share one implementation.

Least squares is solved by a QR decomposition of the within-transformed regressors; the
covariance "bread" (X'X)^-1 is formed as R^-1 R^-T from the triangular factor, never by inverting
X'X. Rank deficiency is detected from the diagonal of R (with column pivoting) and reported by
column name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla

from .errors import InputError


def factorize(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for the distinct values of ``values`` (in order of first sorting)."""
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


def _group_mean(M: np.ndarray, codes: np.ndarray, w: np.ndarray | None, G: int) -> np.ndarray:
    """(Weighted) means of the columns of M by group: one sorted pass for all columns."""
    return _Grouping(codes, w, G).means(M)


def _balanced_cells(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray | None:
    """Cell index a * Gb + b when every (a, b) cell occurs exactly once, else None."""
    Ga, Gb = int(codes_a.max()) + 1, int(codes_b.max()) + 1
    if codes_a.shape[0] != Ga * Gb:
        return None
    cell = codes_a.astype(np.int64) * Gb + codes_b
    if not np.all(np.bincount(cell, minlength=Ga * Gb) == 1):
        return None
    return cell


def _demean_grid(M: np.ndarray, cell: np.ndarray, Ga: int, Gb: int) -> np.ndarray:
    """Exact two-way within transform of a balanced grid: x - mean_a - mean_b + mean.

    Each column is laid out as a (Ga, Gb) array (a scatter of the cell index, no sort; nothing
    to do when the rows are already sorted by a then b), the a-means are subtracted, then the
    b-means of the result (which are mean_b - mean), and the rows are put back in input order.
    Returns a column-major (Fortran-ordered) array.
    """
    n, k = M.shape
    Mt = np.ascontiguousarray(M.T)  # k x n, free for a column-major M
    in_order = bool(cell[0] == 0 and np.all(np.diff(cell) == 1))
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
    return D.T


def is_balanced_two_way(codes_a: np.ndarray, codes_b: np.ndarray) -> bool:
    """True when every (a, b) cell occurs exactly once: the exact two-way within transform applies."""
    return _balanced_cells(codes_a, codes_b) is not None


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
    tol: float = 1e-12,
    maxiter: int = 100_000,
) -> tuple[np.ndarray, DemeanInfo]:
    """Project the columns of ``M`` off the fixed effects given by ``fe_codes``.

    One fixed effect: subtract (weighted) group means, exact. Two fixed effects forming a
    balanced grid without weights: x - mean_a - mean_b + mean, exact. Otherwise: alternating
    projections (the method of reghdfe/fixest) until the largest change is below ``tol`` times the
    scale of the data.
    """
    M = np.asarray(M, dtype=float)
    squeeze = M.ndim == 1
    if squeeze:
        M = M[:, None]
    if not fe_codes:
        return (M[:, 0] if squeeze else M.copy()), DemeanInfo("none", 0, True)
    Gs = [int(c.max()) + 1 for c in fe_codes]
    if len(fe_codes) == 1:
        out = M - _group_mean(M, fe_codes[0], weights, Gs[0])[fe_codes[0]]
        return (out[:, 0] if squeeze else out), DemeanInfo("one-way", 1, True)
    if len(fe_codes) == 2 and weights is None:
        cell = _balanced_cells(*fe_codes)
        if cell is not None and not np.isfinite(M).all():
            # non-finite entries: the group-mean formula (empty or non-finite means set to 0)
            a, b = fe_codes
            out = (
                M
                - _group_mean(M, a, None, Gs[0])[a]
                - _group_mean(M, b, None, Gs[1])[b]
                + M.mean(axis=0)
            )
            return (out[:, 0] if squeeze else out), DemeanInfo("two-way-exact", 1, True)
        if cell is not None:
            out = _demean_grid(M, cell, Gs[0], Gs[1])
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


_LAPACK_QR = None


def _lapack_qr():
    global _LAPACK_QR
    if _LAPACK_QR is None:
        _LAPACK_QR = sla.get_lapack_funcs(("geqp3", "ormqr"), (np.zeros((1, 1)),))
    return _LAPACK_QR


@dataclass(frozen=True)
class LstsqFit:
    beta: np.ndarray
    resid: np.ndarray
    bread: np.ndarray  # (X'WX)^-1 from the QR factor
    rank: int


def qr_lstsq(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
    *,
    rtol: float = 1e-10,
) -> LstsqFit:
    """Least squares of ``y`` on ``X`` by pivoted QR, with a rank check naming the culprit.

    Raises :class:`InputError` if a column is (numerically) a linear combination of the others,
    or is zero after the fixed effects are absorbed.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    names = list(names) if names is not None else [f"x{j}" for j in range(k)]
    if k == 0:
        return LstsqFit(np.zeros(0), y.copy(), np.zeros((0, 0)), 0)
    if n < k:
        raise InputError(f"{n} observations for {k} regressors: not identified")
    if weights is not None:
        sw = np.sqrt(np.asarray(weights, dtype=float))
        Xw, yw = X * sw[:, None], y * sw
    else:
        Xw, yw = X, y
    colnorm = np.sqrt(np.einsum("ij,ij->j", Xw, Xw))
    floor = 1e-12 * max(colnorm.max(), 1.0)
    zero = [names[j] for j in range(k) if colnorm[j] == 0.0 or colnorm[j] < floor]
    if zero:
        raise InputError(
            "regressor(s) " + ", ".join(repr(z) for z in zero)
            + " have no variation left after absorbing the fixed effects (collinear with them)"
        )
    # pivoted Householder QR of the unit-norm columns straight from LAPACK (the routine scipy's
    # qr(pivoting=True) calls), without forming Q: Q'y is applied from the reflectors (ormqr)
    Xs = np.asfortranarray(Xw / colnorm)  # no copy when X is column-major already
    # finite column norms imply finite entries, each at most 1 in absolute value after scaling
    if not np.isfinite(colnorm).all() and not np.isfinite(Xs).all():
        raise ValueError("array must not contain infs or NaNs")  # as scipy.linalg.qr did
    geqp3, ormqr = _lapack_qr()
    qr, jpvt, tau, _, info = geqp3(Xs, lwork=2 * k + (k + 1) * 64, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument errors only
        raise np.linalg.LinAlgError(f"geqp3 failed (info={info})")
    piv = jpvt - 1
    R = np.triu(qr[:k, :k])
    d = np.abs(np.diag(R))
    rank = int(np.sum(d > rtol * d[0]))
    if rank < k:
        bad = [names[j] for j in collinear_in_order(Xw / colnorm, rtol=rtol)] or [
            names[piv[j]] for j in range(rank, k)
        ]
        raise InputError(
            "regressor(s) " + ", ".join(repr(b) for b in bad)
            + " are collinear with the other regressors (and fixed effects); drop them"
        )
    c = np.empty((n, 1), order="F")
    c[:, 0] = yw
    qty, _, info = ormqr("L", "T", qr, tau, c, 64 + 4160, overwrite_c=1)
    if info != 0:  # pragma: no cover
        raise np.linalg.LinAlgError(f"ormqr failed (info={info})")
    # undo the column scaling and pivoting
    # back substitution (np.linalg.solve on a triangular matrix does no row exchanges); much
    # cheaper per call than scipy's solve_triangular for the small k of regressions
    Rinv = np.linalg.solve(R, np.eye(k))
    coef_p = Rinv @ qty[:k, 0]
    beta = np.empty(k)
    beta[piv] = coef_p / colnorm[piv]
    bread_p = Rinv @ Rinv.T
    bread = np.empty((k, k))
    bread[np.ix_(piv, piv)] = bread_p
    bread /= np.outer(colnorm, colnorm)
    resid = y - X @ beta
    return LstsqFit(beta, resid, bread, rank)


def collinear_in_order(X: np.ndarray, *, rtol: float = 1e-10) -> list[int]:
    """Columns that are (numerically) linear combinations of the columns BEFORE them, in order.

    Unpivoted QR of the unit-norm columns: |R_jj| is the distance of column j from the span of
    columns 0..j-1; a column is flagged when it falls below ``rtol`` times the largest |R_ii|.
    Flagged columns are removed from the span before the next is checked, so the result is the
    set a user dropping "later duplicates" would drop (the Stata/fixest convention).
    """
    n, k = X.shape
    norms = np.linalg.norm(X, axis=0)
    keep: list[int] = []
    bad: list[int] = []
    Q = np.zeros((n, 0))
    scale = 1.0
    for j in range(k):
        if norms[j] == 0:
            bad.append(j)
            continue
        v = X[:, j] / norms[j]
        r = v - Q @ (Q.T @ v)
        r = r - Q @ (Q.T @ r)  # re-orthogonalise (classical Gram-Schmidt twice)
        d = float(np.linalg.norm(r))
        if d < rtol * scale:
            bad.append(j)
            continue
        Q = np.column_stack([Q, r / d])
        keep.append(j)
    return bad


def cluster_meat(scores: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Sum over clusters of (sum of scores in cluster)(...)'. ``scores`` is n x k (X_i * u_i)."""
    G = int(codes.max()) + 1
    n, k = scores.shape
    if k and n > 1 and np.all(codes[1:] >= codes[:-1]):
        # rows sorted by cluster (the usual panel layout): one pass of block sums, adding the
        # rows in the same order as the bincount below
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        sums = np.add.reduceat(scores, starts, axis=0)
        if starts.shape[0] == G:
            S = sums
        else:
            S = np.zeros((G, k))
            S[codes[starts]] = sums
        return S.T @ S, G
    S = np.empty((G, scores.shape[1]))
    for j in range(scores.shape[1]):
        S[:, j] = np.bincount(codes, weights=scores[:, j], minlength=G)
    return S.T @ S, G


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


def is_nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """True if every level of ``inner`` lies within a single level of ``outer``."""
    inner = np.asarray(inner, dtype=np.int64)
    outer = np.asarray(outer, dtype=np.int64)
    first = np.empty(int(inner.max()) + 1, dtype=np.int64)
    first[inner[::-1]] = outer[::-1]  # the outer level at the first occurrence of each inner level
    return bool(np.all(first[inner] == outer))


# ----------------------------------------------------------------------------- BLAS threads
def _openblas_handles() -> list:
    """(set, get) function pairs of the OpenBLAS libraries bundled with numpy and scipy."""
    import ctypes
    import glob
    import os

    out = []
    for mod, pattern in (("numpy", "numpy.libs"), ("scipy", "scipy.libs")):
        try:
            pkg = __import__(mod)
        except ImportError:  # pragma: no cover
            continue
        for path in glob.glob(os.path.join(os.path.dirname(pkg.__file__), "..", pattern, "*openblas*")):
            try:
                lib = ctypes.CDLL(path)
            except OSError:  # pragma: no cover
                continue
            for suffix in ("64_", ""):
                s = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                g = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                if s is not None and g is not None:
                    out.append((s, g))
                    break
    return out


_BLAS = None


class single_threaded_blas:
    """Context manager: run OpenBLAS single-threaded, then restore the previous thread count.

    The regressions here are small and dense (n in the thousands, k in the tens), where OpenBLAS
    threads only add synchronisation cost; on a loaded machine multithreaded QR of a 1444 x 18
    matrix was measured 100-300x slower than single-threaded. Does nothing if the bundled
    OpenBLAS cannot be found.
    """

    def __enter__(self):
        global _BLAS
        if _BLAS is None:
            try:
                _BLAS = _openblas_handles()
            except Exception:  # pragma: no cover - never fail an estimate over this
                _BLAS = []
        self.saved = []
        for s, g in _BLAS:
            try:
                self.saved.append((s, int(g())))
                s(1)
            except Exception:  # pragma: no cover
                pass
        return self

    def __exit__(self, *exc):
        for s, n in self.saved:
            try:
                s(n)
            except Exception:  # pragma: no cover
                pass
        return False
