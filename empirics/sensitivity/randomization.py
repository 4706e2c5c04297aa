r"""Randomization inference: permute the assignment of treatment (or of adoption timing) across
units and refit :func:`robocarbon.empirics.fe.fit`.

See :func:`randomization_inference`.
"""

from __future__ import annotations

import math
import time as _time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics.errors import InputError

from ._common import fit as _fit

__all__ = ["randomization_inference"]

_TIE_RTOL = 1e-9


def _n_arrangements(values) -> int:
    c = Counter(values)
    out = math.factorial(len(values))
    for m in c.values():
        out //= math.factorial(m)
    return out


def randomization_inference(
    formula: str,
    data: pd.DataFrame,
    param: str,
    *,
    assignment: str,
    unit: str,
    build: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    statistic: str = "t",
    B: int = 999,
    enumerate_all: bool | None = None,
    seed: int | np.random.Generator | None = 0,
    fit_options: Mapping[str, Any] | None = None,
):
    r"""Randomization (permutation) test of the sharp null of no effect for one coefficient.

    Parameters
    ----------
    formula, data
        As for :func:`robocarbon.empirics.fe.fit`.
    param
        The coefficient whose statistic is permuted.
    assignment
        Column holding the assignment, constant within ``unit``: a treatment indicator, a
        treatment dose, or an adoption date (timing). Its unit-level values are permuted across
        units (a permutation of treatment across clusters, or of adoption timing across units).
    unit
        The unit (cluster) column across which the assignment is permuted.
    build
        Optional function ``df -> df`` recomputing the regressors from the permuted assignment
        (e.g. ``d = (year >= adoption)`` for staggered timing). Default: the assignment column
        is itself a regressor.
    statistic
        ``"t"`` (default; the studentized coefficient, with the fit's covariance) or
        ``"coef"``.
    B
        Random permutations when not enumerating.
    enumerate_all
        None: enumerate every distinct arrangement of the assignment values when their number
        (the multinomial coefficient) is at most ``B``; True/False forces it.
    seed
        Seed or Generator of ``numpy.random.default_rng``.
    fit_options
        Other keyword arguments of ``fe.fit`` (``cluster``, ``vcov``, ``entity``, ``time``...).

    Returns
    -------
    Result
        ``estimator="randomization_inference"``, one term: the ``fe.fit`` estimate and variance.
        ``diagnostics``: ``p_value`` (two-sided, :math:`|T^*|\ge|T|`), ``p_value_upper``
        (:math:`T^*\ge T`), ``p_value_lower``, ``statistic``, ``draws``, ``enumerated``,
        ``count`` (the number of permutations at least as extreme), ``permutation_stats``.

    Notes
    -----
    Under the sharp null that the outcome does not depend on the assignment, every arrangement
    of the unit-level assignment values is equally likely and leaves the outcome unchanged, so
    the permutation distribution of the statistic :math:`T` is its exact null distribution
    (Fisher 1935; Rosenbaum 2002; for clustered and staggered designs MacKinnon and Webb 2020,
    "Randomization inference for difference-in-differences with few treated clusters", J.
    Econometrics; Young 2019, QJE). Under full enumeration the p-value is the exact count
    :math:`\#\{\pi: |T^{\pi}| \ge |T|\}/\#\Pi` (the identity included). With ``B`` random
    permutations it is :math:`(1 + \#\{b: |T^{*}_b| \ge |T|\})/(1 + B)`, which is exact
    (never anti-conservative) for a random subset of permutations (Phipson and Smyth 2010).
    Ties are counted up to a relative 1e-9.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from robocarbon.empirics.sensitivity import randomization_inference
    >>> rng = np.random.default_rng(0)
    >>> unit = np.repeat(np.arange(8), 5)
    >>> treat = np.isin(unit, [0, 1, 2]).astype(float)
    >>> df = pd.DataFrame({"unit": unit, "treat": treat, "y": 0.8 * treat + rng.normal(size=40)})
    >>> res = randomization_inference("y ~ treat", df, "treat", assignment="treat", unit="unit",
    ...                               fit_options={"cluster": "unit"})
    >>> res.diagnostics["enumerated"], res.diagnostics["draws"]   # 8 choose 3 arrangements
    (True, 56)
    >>> bool(res.diagnostics["p_value"] >= 1 / 56)
    True
    """
    t0 = _time.perf_counter()
    if statistic not in ("t", "coef"):
        raise InputError(f"statistic must be 't' or 'coef', got {statistic!r}")
    for col in (assignment, unit):
        if col not in data.columns:
            raise InputError(f"no column {col!r} in the data")
    opts = dict(fit_options or {})
    d0 = build(data.copy()) if build is not None else data
    base = _fit(formula, d0, opts)
    if param not in base.terms:
        raise InputError(f"unknown term {param!r}; the fit has {list(base.terms)}")
    jj = base.terms.index(param)

    def stat(res) -> float:
        j = res.terms.index(param)
        b = float(res.params[j])
        if statistic == "coef":
            return b
        return b / math.sqrt(float(res.cov[j, j]))

    per_unit = data.groupby(unit, sort=True)[assignment].agg(["first", "nunique"])
    if (per_unit["nunique"] > 1).any():
        bad = list(per_unit.index[per_unit["nunique"] > 1][:5])
        raise InputError(f"{assignment!r} varies within {unit!r} (e.g. units {bad})")
    units = per_unit.index.to_numpy()
    vals = per_unit["first"].to_numpy()
    pos = pd.Index(units).get_indexer(data[unit])
    n_arr = _n_arrangements(list(vals))
    if enumerate_all is None:
        enumerate_all = n_arr <= int(B)
    if enumerate_all:
        if n_arr > 200_000:
            raise InputError(f"{n_arr} arrangements are too many to enumerate")
        from sympy.utilities.iterables import multiset_permutations

        sorted_vals = list(np.sort(vals, kind="stable"))
        perms = [np.asarray(p, dtype=vals.dtype) for p in multiset_permutations(sorted_vals)]
    else:
        gen = np.random.default_rng(seed)
        perms = [gen.permutation(vals) for _ in range(int(B))]

    T = stat(base)
    out = np.empty(len(perms))
    for b, pv in enumerate(perms):
        d = data.copy()
        d[assignment] = pv[pos]
        if build is not None:
            d = build(d)
        out[b] = stat(_fit(formula, d, opts))
    tol = _TIE_RTOL * max(abs(T), 1e-300)
    c_two = int(np.sum(np.abs(out) >= abs(T) - tol))
    c_up = int(np.sum(out >= T - tol))
    c_lo = int(np.sum(out <= T + tol))
    if enumerate_all:
        denom, add = len(perms), 0
    else:
        denom, add = len(perms) + 1, 1
    dg = {
        "p_value": (c_two + add) / denom,
        "p_value_upper": (c_up + add) / denom,
        "p_value_lower": (c_lo + add) / denom,
        "count": c_two,
        "statistic": T,
        "statistic_type": statistic,
        "draws": len(perms),
        "enumerated": bool(enumerate_all),
        "n_arrangements": n_arr,
        "n_units": len(units),
        "permutation_stats": out,
        "seed": None if isinstance(seed, np.random.Generator) else seed,
    }
    spec = {**dict(base.spec), "param": param, "assignment": assignment, "unit": unit,
            "statistic": statistic, "B": int(B)}
    prov = dict(base.provenance)
    prov["wall_time"] = _time.perf_counter() - t0
    from robocarbon.empirics.result import Result

    return Result(terms=(param,), params=np.array([base.params[jj]]),
                  cov=np.array([[base.cov[jj, jj]]]), nobs=base.nobs, df_resid=base.df_resid,
                  cov_type=base.cov_type, estimator="randomization_inference",
                  nobs_dropped=base.nobs_dropped, r2_within=base.r2_within,
                  r2_with_fe=base.r2_with_fe, diagnostics=dg, spec=spec, provenance=prov)
