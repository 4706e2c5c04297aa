"""Least squares on within-transformed data: the coefficient "bread" (X'X)^-1 by a pivoted QR
or a Cholesky factor, never by inverting X'X, with a rank check that names the collinear column.

- :func:`qr_lstsq`: pivoted Householder QR (LAPACK geqp3) of the unit-norm columns; the bread
  is R^-1 R^-T from the triangular factor. The formula API's solver.
- :func:`bread_from_gram`: the bread from the cross product X'X by the Cholesky factor of the
  column-scaled matrix (unit diagonal; LAPACK potrf/potri, or the compiled
  :func:`chol_bread_compiled` in the Monte Carlo's fused route); a vanishing column, a matrix
  that is not positive definite or an ill-conditioned factor goes to :func:`qr_lstsq`, which
  names the culprit. The Monte Carlo's solver.
- :func:`find_collinear` / :func:`collinear_in_order`: which columns to drop, "later duplicates"
  first (the Stata/fixest convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy.linalg.lapack import dpotrf, dpotri

from ..errors import InputError
from .jit import jit

__all__ = ["LstsqFit", "qr_lstsq", "bread_from_gram", "chol_bread_compiled", "collinear_in_order",
           "find_collinear", "solve_bread", "partial_out"]


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


def find_collinear(X: np.ndarray, names: Sequence[str], rtol: float = 1e-10) -> list[int]:
    """Indices of columns to drop so that the rest has full column rank: every column that is a
    linear combination of the columns before it (and columns with no variation left after the
    fixed effects), as Stata and fixest drop "later" collinear variables."""
    k = X.shape[1]
    if k == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    scale = max(norms.max(), 1.0)
    zero = [j for j in range(k) if norms[j] < 1e-12 * scale]
    keep = [j for j in range(k) if j not in zero]
    if not keep:
        return zero
    sub = collinear_in_order(X[:, keep], rtol=rtol)
    return sorted(zero + [keep[j] for j in sub])


def _chol_bread_py(A, bread):
    """(A)^-1 into ``bread`` by the Cholesky factor of the column-scaled A (unit diagonal), as
    :func:`bread_from_gram` does with LAPACK (potrf, then the inverse from the factor as potri
    forms it: inv(U) inv(U)'). Returns 0, or 1 (a column vanishes), 2 (not positive definite)
    or 3 (factor ill conditioned): the caller then takes :func:`bread_from_gram`, which names
    the culprit or falls back to the pivoted QR."""
    k = A.shape[0]
    if k == 0:
        return 1
    s = np.empty(k)
    smax = 0.0
    for j in range(k):
        s[j] = math.sqrt(A[j, j])
        if s[j] > smax:
            smax = s[j]
    for j in range(k):
        if not s[j] > 1e-12 * max(smax, 1e-300):
            return 1
    U = np.zeros((k, k))
    for j in range(k):  # right-looking on the upper triangle: U'U = A / (s s')
        d = A[j, j] / (s[j] * s[j])
        for p in range(j):
            d -= U[p, j] * U[p, j]
        if not d > 0.0:
            return 2
        d = math.sqrt(d)
        U[j, j] = d
        for i in range(j + 1, k):
            v = A[j, i] / (s[j] * s[i])
            for p in range(j):
                v -= U[p, j] * U[p, i]
            U[j, i] = v / d
    dmin = U[0, 0]
    dmax = U[0, 0]
    for j in range(k):
        dmin = min(dmin, U[j, j])
        dmax = max(dmax, U[j, j])
    if dmin < 1e-7 * dmax:
        return 3
    W = np.zeros((k, k))  # inv(U), upper triangular
    for j in range(k):
        W[j, j] = 1.0 / U[j, j]
        for i in range(j - 1, -1, -1):
            v = 0.0
            for p in range(i + 1, j + 1):
                v += U[i, p] * W[p, j]
            W[i, j] = -v / U[i, i]
    for i in range(k):  # inv(U) inv(U)', unscaled
        for j in range(i, k):
            v = 0.0
            for p in range(j, k):
                v += W[i, p] * W[j, p]
            v /= s[i] * s[j]
            bread[i, j] = v
            bread[j, i] = v
    return 0


def bread_from_gram(A: np.ndarray, Xw: np.ndarray, names: Sequence[str]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(X'X)^-1 from the cross product ``A = Xw'Xw`` via a Cholesky factor of the column-scaled
    matrix (unit diagonal; LAPACK potrf then potri); falls back to the pivoted QR of
    ``qr_lstsq`` on ``Xw`` (which names a collinear column) when a column vanishes, the matrix
    is not positive definite or the factor is not well conditioned."""
    k = A.shape[0]
    scale = np.sqrt(A.diagonal())
    if k == 0 or scale.min() <= 1e-12 * max(float(scale.max()), 1e-300):
        qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)  # raises InputError naming the column
    ss = np.outer(scale, scale)
    c, info = dpotrf(A / ss, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)
        if info > 0:
            raise np.linalg.LinAlgError(f"{info}-th leading minor not positive definite")
        raise ValueError(f"potrf: illegal value in argument {-info}")  # pragma: no cover
    d = np.abs(c.diagonal())
    if d.min() < 1e-7 * d.max():
        # ill conditioned: let the pivoted QR decide (and name the culprit)
        fit = qr_lstsq(Xw, np.zeros(Xw.shape[0]), names)
        return fit.bread, scale
    inv, info = dpotri(c, lower=0, overwrite_c=1)
    if info != 0:  # pragma: no cover - a unit-diagonal factor checked above is nonsingular
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    lower = _lower_indices(k)
    inv[lower] = inv.T[lower]  # potri fills the upper triangle only
    inv /= ss
    return inv, scale


_LOWER: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _lower_indices(k: int) -> tuple[np.ndarray, np.ndarray]:
    idx = _LOWER.get(k)
    if idx is None:
        idx = _LOWER[k] = np.tril_indices(k, -1)
    return idx


#: the compiled :func:`_chol_bread_py` (numba; None only where numba is missing)
chol_bread_compiled = jit(_chol_bread_py)


def solve_bread(Xw: np.ndarray, names: Sequence[str], *, solver: str = "qr") -> np.ndarray:
    """(X'X)^-1 of the columns of ``Xw``: ``"qr"`` (pivoted QR) or ``"cholesky"`` (the Cholesky
    factor of the scaled cross product, QR when that is not well conditioned)."""
    if solver == "cholesky":
        return bread_from_gram(Xw.T @ Xw, Xw, names)[0]
    return qr_lstsq(Xw, np.zeros(Xw.shape[0]), names).bread


def partial_out(A: np.ndarray, X: np.ndarray | None) -> np.ndarray:
    """Residuals of the columns of A regressed on X (A itself if X has no columns)."""
    if X is None or X.shape[1] == 0:
        return A.copy()
    Q, _ = np.linalg.qr(X)
    return A - Q @ (Q.T @ A)
