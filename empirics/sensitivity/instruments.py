r"""Conley, Hansen and Rossi (2012): inference for a 2SLS coefficient when the exclusion
restriction holds only approximately ("plausibly exogenous" instruments).

The structural equation lets the excluded instruments Z enter directly,

.. math:: y = X\beta + W\delta + Z\gamma + \text{fixed effects} + \varepsilon,

with X endogenous and W exogenous; 2SLS assumes :math:`\gamma = 0`. Two answers:

- :func:`conley_uci`, union of confidence intervals: for a support :math:`\gamma \in [lo, hi]`
  (a box with several instruments), the union over the support of the 2SLS intervals of the
  regression of :math:`y - Z\gamma_0` (coverage at least ``level`` whatever the true
  :math:`\gamma` in the support);
- :func:`conley_ltz`, local to zero: :math:`\gamma \sim N(\mu, \Omega)`, so that
  :math:`\hat\beta \approx N(\beta + A\mu, V + A\Omega A')` with
  :math:`A = (\hat R'\hat R)^{-1}\hat R'Z` the 2SLS map of the instruments (R = [X, W],
  :math:`\hat R = P_{[Z,W]}R`, everything after absorbing the fixed effects).

Both run the project's 2SLS (:func:`robocarbon.empirics.fe.fit` with the formula's IV part,
fixed effects absorbed, any covariance) on adjusted outcomes; nothing is re-estimated by hand.

Reference: Conley, T. G., Hansen, C. B. and Rossi, P. E. (2012). Plausibly exogenous.
*Review of Economics and Statistics* 94(1), 260-272 (the Stata implementation is Clarke's
plausexog).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.result import Result

from . import _common as C

__all__ = ["conley_uci", "conley_ltz"]

_Y = "__chr_outcome"


def _iv_parts(formula):
    f = C.parse(formula)
    if not f.is_iv:
        raise InputError("Conley-Hansen-Rossi needs an IV formula 'y ~ w | fe | x ~ z'")
    if f.lhs.kind not in ("var", "log"):
        raise InputError(f"the outcome must be a column or log(column), not {f.lhs.name!r}")
    insts = []
    for t in f.instruments:
        if len(t.factors) != 1 or t.factors[0].kind != "var":
            raise InputError(f"instruments must be plain columns here, not {t.name!r} (create the "
                             "column first)")
        insts.append(t.factors[0].var)
    return f, insts


def _outcome(f, data: pd.DataFrame) -> np.ndarray:
    y = pd.to_numeric(data[f.lhs.var], errors="coerce").to_numpy(dtype=float)
    if f.lhs.kind == "log":
        ok = np.isfinite(y)
        if np.any(y[ok] <= 0):
            raise InputError(f"log({f.lhs.var}) of non-positive values", column=f.lhs.var)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(y)
    return y


def _with_outcome(f, data: pd.DataFrame, values: np.ndarray) -> tuple[str, pd.DataFrame]:
    if _Y in data.columns:
        raise InputError(f"the data may not have a column named {_Y!r}")
    rest = f.text.split("~", 1)[1]
    df = data.copy(deep=False)
    df[_Y] = values
    return f"{_Y} ~{rest}", df


def _instrument_matrix(data: pd.DataFrame, insts: list[str]) -> np.ndarray:
    return np.column_stack([pd.to_numeric(data[z], errors="coerce").to_numpy(dtype=float)
                            for z in insts])


def _ranges(gamma_range, insts: list[str]) -> list[tuple[float, float]]:
    if isinstance(gamma_range, Mapping):
        missing = [z for z in insts if z not in gamma_range]
        extra = [k for k in gamma_range if k not in insts]
        if missing or extra:
            raise InputError(f"gamma_range must give a range for each instrument {insts}; "
                             f"missing {missing}, unknown {extra}")
        pairs = [gamma_range[z] for z in insts]
    else:
        pairs = list(gamma_range)
        if len(pairs) == 2 and all(np.isscalar(v) for v in pairs):
            pairs = [pairs]
        if len(pairs) != len(insts):
            raise InputError(f"gamma_range: {len(insts)} instrument(s) {insts} need "
                             f"{len(insts)} (lo, hi) pair(s), got {gamma_range!r}")
    out = []
    for z, p in zip(insts, pairs):
        vals = C.as_float_list(p, f"gamma_range of {z}")
        if len(vals) != 2:
            raise InputError(f"gamma_range of {z}: expected (lo, hi), got {p!r}")
        lo, hi = vals
        if lo > hi:
            raise InputError(f"gamma_range of {z}: lo {lo} exceeds hi {hi}")
        out.append((lo, hi))
    return out


def _fit_at(f, data, y, Zm, gamma, options):
    text, df = _with_outcome(f, data, y - Zm @ np.asarray(gamma, dtype=float))
    return C.fit(text, df, options)


def _tsls_summary(res: Result, level: float) -> dict[str, Any]:
    ci = res.conf_int(level)
    return {"params": dict(zip(res.terms, map(float, res.params))),
            "std_errors": {k: float(v) for k, v in res.std_errors.items()},
            "conf_int": {t: [float(ci.loc[t, "lower"]), float(ci.loc[t, "upper"])]
                         for t in res.terms}}


def conley_uci(
    formula: str,
    data: pd.DataFrame,
    *,
    gamma_range: Sequence[float] | Sequence[Sequence[float]] | Mapping[str, Sequence[float]],
    level: float = 0.95,
    grid: int = 21,
    **fit_options: Any,
) -> Result:
    r"""Union-of-confidence-intervals (UCI) of Conley, Hansen and Rossi (2012).

    For every :math:`\gamma_0` in the support, 2SLS of :math:`y - Z\gamma_0` on the same
    right-hand side gives :math:`\hat\beta(\gamma_0)` and its ``level`` interval
    :math:`CI(\gamma_0)`; the UCI is :math:`\bigcup_{\gamma_0} CI(\gamma_0)`.

    Parameters
    ----------
    formula
        ``"y ~ w1 + w2 | fe | x ~ z1 + z2"`` (see :func:`robocarbon.empirics.fe.fit`); the
        excluded instruments must be plain columns.
    data
        The data.
    gamma_range
        The support of the direct effect: ``(lo, hi)`` with one instrument; one pair per
        instrument (in the formula's order) or ``{instrument: (lo, hi)}`` with several (a box).
    level
        Confidence level of each interval (and so the UCI's minimal coverage).
    grid
        Points of the path stored for plotting with one instrument (``diagnostics["path"]``);
        the UCI itself is exact without it (see Notes).
    **fit_options
        Passed to :func:`~robocarbon.empirics.fe.fit` (``vcov``, ``cluster``, ``weights``,
        ``ssc``, ``method``, ...), the same at every :math:`\gamma_0`.

    Returns
    -------
    Result
        ``estimator="chr_uci"``, the 2SLS terms. The UCI of each term is
        ``diagnostics["intervals"][term]``; so that ``tidy()`` shows it too, ``params`` holds the
        interval's midpoint and ``cov`` the squared half-width over the critical value (the
        ``conf_low``/``conf_high`` of ``tidy(level)`` are the UCI; the estimate column is not an
        estimate). ``diagnostics``: ``intervals``, ``gamma_range``, ``vertices`` (each
        :math:`\gamma_0` with its estimates and intervals), ``path`` (one instrument: the grid of
        :math:`\gamma_0` with estimate, lower, upper per term), ``tsls`` (the 2SLS at
        :math:`\gamma = 0`), ``level``, ``critical_value``.

    Notes
    -----
    :math:`\hat\beta(\gamma_0)` is affine in :math:`\gamma_0` and its standard error is the
    Euclidean norm of an affine function of :math:`\gamma_0` (the residuals, hence the scores of
    any sandwich, are affine in it), a convex function. So the lower limit (affine minus
    convex) is concave and the upper limit convex in :math:`\gamma_0`, and over a box both attain
    their extremes at a vertex: the UCI is [min over the vertices of the lower limits, max of
    the upper limits], exact with :math:`2^{p}` fits (Clarke's plausexog also evaluates the
    vertices by default). The union is an interval because the limits move continuously. The
    critical value is that of the 2SLS Result (t with its ``df_resid`` when set, else normal;
    plausexog uses the normal), so a zero-width support reproduces the 2SLS interval exactly.

    Source: Conley, Hansen and Rossi (2012), REStat 94(1), section III.A.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> z = rng.normal(size=n); u = rng.normal(size=n)
    >>> x = z + 0.5 * u + rng.normal(size=n)
    >>> df = pd.DataFrame({"z": z, "x": x, "y": 1.0 * x + u, "g": rng.integers(0, 10, n)})
    >>> from robocarbon.empirics.fe import fit
    >>> tsls = fit("y ~ 1 | g | x ~ z", df, vcov="hc1")
    >>> same = conley_uci("y ~ 1 | g | x ~ z", df, gamma_range=(0, 0), vcov="hc1")
    >>> list(same.diagnostics["intervals"]["x"]) == list(tsls.conf_int().loc["x"])
    True
    >>> wide = conley_uci("y ~ 1 | g | x ~ z", df, gamma_range=(-0.1, 0.1), vcov="hc1")
    >>> lo, hi = wide.diagnostics["intervals"]["x"]
    >>> bool(lo < tsls.conf_int().loc["x", "lower"] and hi > tsls.conf_int().loc["x", "upper"])
    True
    """
    level = C.check_level(level)
    f, insts = _iv_parts(formula)
    ranges = _ranges(gamma_range, insts)
    grid = int(grid)
    if grid < 2:
        raise InputError(f"grid must be at least 2, got {grid}")
    y = _outcome(f, data)
    Zm = _instrument_matrix(data, insts)
    opts = dict(fit_options)
    base = _fit_at(f, data, y, Zm, np.zeros(len(insts)), opts)
    crit = base.critical_value(level)
    terms = list(base.terms)
    vertices = []
    for g in itertools.product(*[sorted({lo, hi}) for lo, hi in ranges]):
        res = base if not any(g) else _fit_at(f, data, y, Zm, g, opts)
        if list(res.terms) != terms or res.nobs != base.nobs:
            raise InputError("the 2SLS fits at different gamma used different terms or rows")
        ci = res.conf_int(level)
        vertices.append({"gamma": dict(zip(insts, map(float, g))),
                         "estimate": dict(zip(terms, map(float, res.params))),
                         "lower": {t: float(ci.loc[t, "lower"]) for t in terms},
                         "upper": {t: float(ci.loc[t, "upper"]) for t in terms}})
    lower = {t: min(v["lower"][t] for v in vertices) for t in terms}
    upper = {t: max(v["upper"][t] for v in vertices) for t in terms}
    path = []
    if len(insts) == 1 and ranges[0][0] < ranges[0][1]:
        for g0 in np.linspace(ranges[0][0], ranges[0][1], grid):
            res = _fit_at(f, data, y, Zm, [g0], opts)
            ci = res.conf_int(level)
            path.append({"gamma": float(g0),
                         "estimate": dict(zip(terms, map(float, res.params))),
                         "lower": {t: float(ci.loc[t, "lower"]) for t in terms},
                         "upper": {t: float(ci.loc[t, "upper"]) for t in terms}})
            # the vertices are the extremes (see Notes); guard against rounding only
            for t in terms:
                lower[t] = min(lower[t], path[-1]["lower"][t])
                upper[t] = max(upper[t], path[-1]["upper"][t])
    intervals = {t: [lower[t], upper[t]] for t in terms}
    mid = np.array([(lower[t] + upper[t]) / 2.0 for t in terms])
    half = np.array([(upper[t] - lower[t]) / 2.0 for t in terms])
    dg = {
        "intervals": intervals, "level": level, "critical_value": crit,
        "gamma_range": {z: list(r) for z, r in zip(insts, ranges)}, "instruments": insts,
        "vertices": vertices, "path": path, "tsls": _tsls_summary(base, level),
        "encoding": "params = UCI midpoint, std_error = UCI half-width / critical_value",
        "dropped": dict(base.diagnostics.get("dropped", {})),
    }
    spec = dict(base.spec)
    spec.update(formula=f.text, method="Conley, Hansen and Rossi (2012) UCI",
                endogenous=[t.name for t in f.endogenous],
                gamma_range=dg["gamma_range"], level=level)
    return Result(terms=tuple(terms), params=mid, cov=np.diag((half / crit) ** 2),
                  nobs=base.nobs, df_resid=base.df_resid, cov_type=base.cov_type,
                  estimator="chr_uci", nobs_dropped=base.nobs_dropped, diagnostics=dg,
                  spec=spec, provenance=dict(base.provenance))


def _omega(gamma_var, p: int) -> np.ndarray:
    om = np.asarray(gamma_var, dtype=float)
    if om.ndim == 0:
        om = np.eye(p) * float(om)
    elif om.ndim == 1:
        if om.size != p:
            raise InputError(f"gamma_var: {p} instrument(s) need {p} variances, got {om.size}")
        om = np.diag(om)
    if om.shape != (p, p) or not np.all(np.isfinite(om)):
        raise InputError(f"gamma_var must be a number, {p} variances or a {p}x{p} matrix")
    if not np.allclose(om, om.T):
        raise InputError("gamma_var must be symmetric")
    if np.linalg.eigvalsh((om + om.T) / 2).min() < -1e-12 * max(1.0, np.abs(om).max()):
        raise InputError("gamma_var must be positive semi-definite")
    return om


def conley_ltz(
    formula: str,
    data: pd.DataFrame,
    *,
    gamma_mean: float | Sequence[float] = 0.0,
    gamma_var: float | Sequence[float] | np.ndarray = 0.0,
    **fit_options: Any,
) -> Result:
    r"""Local-to-zero (LTZ) inference of Conley, Hansen and Rossi (2012).

    With a prior :math:`\gamma \sim N(\mu, \Omega)` on the direct effect of the excluded
    instruments,

    .. math:: \hat\beta_{LTZ} = \hat\beta_{2SLS} - A\mu, \qquad
       V_{LTZ} = \hat V_{2SLS} + A\,\Omega\,A', \qquad
       A = (\hat R'\hat R)^{-1}\hat R' Z,

    where R = [X, W] are the regressors, :math:`\hat R` their projection on the instruments
    [Z, W], after absorbing the fixed effects (and weighting). Column j of A is the 2SLS
    coefficient vector of the regression of :math:`Z_j` itself on the same right-hand side
    (2SLS is linear in the outcome), which is how it is computed here: one
    :func:`~robocarbon.empirics.fe.fit` per instrument.

    Parameters
    ----------
    formula
        ``"y ~ w | fe | x ~ z1 + z2"``; instruments plain columns.
    data
        The data.
    gamma_mean
        :math:`\mu`: a number (one instrument) or one per instrument.
    gamma_var
        :math:`\Omega`: a number, one variance per instrument, or the full matrix.
    **fit_options
        Passed to :func:`~robocarbon.empirics.fe.fit` (the covariance :math:`\hat V_{2SLS}` is
        the one they choose).

    Returns
    -------
    Result
        ``estimator="chr_ltz"``: ``params`` :math:`\hat\beta_{LTZ}`, ``cov`` :math:`V_{LTZ}`
        (``tidy()`` gives the LTZ intervals; critical values from the 2SLS Result's reference
        distribution, plausexog uses the normal); ``diagnostics``: ``gamma_mean``,
        ``gamma_var``, ``A`` (term -> one coefficient per instrument), ``tsls``.

    Notes
    -----
    With :math:`\mu = 0` and :math:`\Omega = 0` the Result is the 2SLS one exactly. The
    covariance :math:`\hat V_{2SLS}` is computed at :math:`\gamma = 0`, as in Conley, Hansen and
    Rossi's appendix and plausexog.

    Source: Conley, Hansen and Rossi (2012), REStat 94(1), section III.C.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> z = rng.normal(size=n); u = rng.normal(size=n)
    >>> x = z + 0.5 * u + rng.normal(size=n)
    >>> df = pd.DataFrame({"z": z, "x": x, "y": 1.0 * x + u})
    >>> from robocarbon.empirics.fe import fit
    >>> tsls = fit("y ~ 1 | x ~ z", df, vcov="hc1")
    >>> zero = conley_ltz("y ~ 1 | x ~ z", df, gamma_mean=0, gamma_var=0, vcov="hc1")
    >>> bool(np.array_equal(zero.params, tsls.params) and np.array_equal(zero.cov, tsls.cov))
    True
    >>> ltz = conley_ltz("y ~ 1 | x ~ z", df, gamma_mean=0.1, gamma_var=0.01, vcov="hc1")
    >>> bool(ltz.std_errors["x"] > tsls.std_errors["x"])
    True
    """
    f, insts = _iv_parts(formula)
    p = len(insts)
    mu = np.asarray(C.as_float_list(gamma_mean, "gamma_mean"))
    if mu.size == 1 and p > 1:
        mu = np.repeat(mu, p)
    if mu.size != p:
        raise InputError(f"gamma_mean: {p} instrument(s) need {p} means, got {mu.size}")
    om = _omega(gamma_var, p)
    opts = dict(fit_options)
    base = C.fit(f.text, data, opts)
    terms = list(base.terms)
    A = np.zeros((len(terms), p))
    Zm = _instrument_matrix(data, insts)
    for j in range(p):
        text, df = _with_outcome(f, data, Zm[:, j])
        res = C.fit(text, df, opts)
        if list(res.terms) != terms or res.nobs != base.nobs:
            raise InputError("the 2SLS map of the instruments used different terms or rows")
        A[:, j] = res.params
    params = base.params - A @ mu
    cov = base.cov + A @ om @ A.T
    dg = {"gamma_mean": dict(zip(insts, map(float, mu))), "gamma_var": om.tolist(),
          "instruments": insts, "A": {t: A[i].tolist() for i, t in enumerate(terms)},
          "tsls": _tsls_summary(base, 0.95),
          "dropped": dict(base.diagnostics.get("dropped", {}))}
    spec = dict(base.spec)
    spec.update(formula=f.text, method="Conley, Hansen and Rossi (2012) LTZ",
                endogenous=[t.name for t in f.endogenous],
                gamma_mean=dg["gamma_mean"], gamma_var=dg["gamma_var"])
    return Result(terms=tuple(terms), params=params, cov=cov, nobs=base.nobs,
                  df_resid=base.df_resid, cov_type=base.cov_type, estimator="chr_ltz",
                  nobs_dropped=base.nobs_dropped, r2_within=base.r2_within,
                  r2_with_fe=base.r2_with_fe, diagnostics=dg, spec=spec,
                  provenance=dict(base.provenance))

