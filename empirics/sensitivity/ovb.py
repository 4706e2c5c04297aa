r"""Omitted-variable sensitivity of a regression coefficient: Cinelli and Hazlett (2020) and
Oster (2019).

Cinelli-Hazlett (:func:`cinelli_hazlett`) asks how strong an unobserved confounder Z would have
to be, in partial R-squared with the treatment D and with the outcome Y (both given the
observed covariates X), to move the estimate of D's coefficient to zero or to insignificance,
and bounds that strength by multiples of an observed covariate (the *benchmark*). Everything
follows from the OLS t statistic of D and the residual degrees of freedom, so the numeric
building blocks (:func:`partial_r2`, :func:`robustness_value`, :func:`benchmark_bounds`,
:func:`adjusted_estimate`, ...) take numbers and are vectorised.

Oster (:func:`oster`) assumes proportional selection: the unobservables move the coefficient
``delta`` times as much as the observables, relative to how much each explains of the outcome,
up to a maximal R-squared ``R2max``; it gives the ``delta`` that would take the coefficient to
a given value (0 by default) and the bias-adjusted coefficient ``beta*`` at a given ``delta``.

Both estimators fit every regression through :func:`robocarbon.empirics.fe.fit`, so the
formula may absorb fixed effects (``"y ~ d + x1 + x2 | village"``) and take weights.

References
----------
Cinelli, C. and Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable
bias. *Journal of the Royal Statistical Society B* 82(1), 39-67.

Oster, E. (2019). Unobservable selection and coefficient stability: theory and evidence.
*Journal of Business & Economic Statistics* 37(2), 187-204.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.result import Result

from . import _common as C

__all__ = [
    "partial_r2", "partial_f2", "robustness_value", "extreme_robustness_value",
    "benchmark_bounds", "bias", "adjusted_estimate", "adjusted_se", "adjusted_t",
    "cinelli_hazlett", "oster", "oster_delta", "oster_beta",
]


# ============================================================================ numeric pieces
def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _out(a: np.ndarray):
    return float(a) if np.ndim(a) == 0 else a


def _check_dof(dof) -> np.ndarray:
    d = _arr(dof)
    if np.any(~np.isfinite(d)) or np.any(d <= 1):
        raise InputError(f"the residual degrees of freedom must exceed 1, got {dof}")
    return d


def _check_r2(name: str, r2) -> np.ndarray:
    r = _arr(r2)
    if np.any(~np.isfinite(r)) or np.any(r < 0) or np.any(r >= 1):
        raise InputError(f"{name} must be a partial R-squared in [0, 1), got {r2}")
    return r


def partial_r2(t_statistic, dof):
    r"""Partial R-squared of a regressor with the outcome, from its OLS t statistic.

    .. math:: R^2_{Y\sim D|X} = \frac{t^2}{t^2 + \mathrm{dof}}

    (Cinelli and Hazlett 2020, section 4.1; exact for the classical OLS t statistic.)

    Examples
    --------
    >>> round(partial_r2(4.18445, 783), 5)
    0.02187
    """
    t2 = _arr(t_statistic) ** 2
    return _out(t2 / (t2 + _check_dof(dof)))


def partial_f2(t_statistic, dof):
    r"""Cohen's partial :math:`f^2 = t^2/\mathrm{dof} = R^2/(1-R^2)`.

    Examples
    --------
    >>> round(partial_f2(4.0, 100), 4)
    0.16
    """
    return _out(_arr(t_statistic) ** 2 / _check_dof(dof))


def _f_crit(dof: np.ndarray, alpha: float | None) -> np.ndarray:
    if alpha is None:
        return np.zeros_like(dof)
    alpha = float(alpha)
    if not 0.0 < alpha <= 1.0:
        raise InputError(f"alpha must be in (0, 1], got {alpha}")
    return np.abs(stats.t.ppf(alpha / 2.0, dof - 1.0)) / np.sqrt(dof - 1.0)


def extreme_robustness_value(t_statistic, dof, q: float = 1.0, alpha: float | None = None):
    r"""Extreme robustness value: the smallest partial R-squared of the confounder with the
    treatment that brings the estimate (``alpha=None``) or its ``1 - alpha`` interval to the
    boundary when the confounder explains *all* the residual variance of the outcome.

    .. math:: \mathrm{XRV}_{q,\alpha} = \frac{f_q^2 - f_{\alpha}^{*2}}{1 + f_q^2}, \quad
       f_q = q\,|t|/\sqrt{\mathrm{dof}}, \quad
       f^*_\alpha = |t_{\alpha/2,\,\mathrm{dof}-1}|/\sqrt{\mathrm{dof}-1}

    and 0 when :math:`f_q \le f^*_\alpha` (Cinelli and Hazlett 2020, section 4.2).

    Examples
    --------
    >>> round(extreme_robustness_value(4.18445, 783), 5)
    0.02187
    """
    dof = _check_dof(dof)
    fq = float(q) * np.abs(_arr(t_statistic)) / np.sqrt(dof)
    fc = _f_crit(dof, alpha)
    x = (fq**2 - fc**2) / (1.0 + fq**2)
    return _out(np.where(fq > fc, x, 0.0))


def robustness_value(t_statistic, dof, q: float = 1.0, alpha: float | None = None):
    r"""Robustness value RV(q) (``alpha=None``) or RV(q, alpha).

    The smallest strength s such that a confounder explaining a share s of the residual
    variance of both the treatment and the outcome (partial R-squared) reduces the estimate by
    ``100 q`` percent (RV(q)), or brings the ``1 - alpha`` interval of the reduced estimate to
    include the null (RV(q, alpha)). With :math:`f_q = q|t|/\sqrt{\mathrm{dof}}` and
    :math:`f^*_\alpha = |t_{\alpha/2,\mathrm{dof}-1}|/\sqrt{\mathrm{dof}-1}` (the adjusted
    regression has one more regressor, hence ``dof - 1``; :math:`f^*=0` without ``alpha``),
    :math:`d = f_q - f^*_\alpha`:

    .. math:: \mathrm{RV} = \tfrac12\left(\sqrt{d^4 + 4d^2} - d^2\right)
       = \frac{2}{1 + \sqrt{1 + 4/d^2}}

    when :math:`0 < d` and :math:`f_q f^*_\alpha \le 1`; 0 when :math:`d \le 0`; and the
    extreme value :math:`(f_q^2 - f^{*2}_\alpha)/(1+f_q^2)` when :math:`f_q f^*_\alpha > 1`.

    Why the last case: with :math:`a = R^2_{D\sim Z|X}` and :math:`b = R^2_{Y\sim Z|D,X}` the
    interval reaches the null when :math:`f_q\sqrt{1-a} \le \sqrt{ab} + f^*\sqrt{1-b}`. The
    right side grows with a, so the cheapest confounder within strength s has a = s and b
    maximising :math:`\sqrt{sb} + f^*\sqrt{1-b}` over :math:`b \le s`: the maximiser
    :math:`b = s/(s+f^{*2})` lies below s exactly when :math:`s + f^{*2} > 1`, which at the
    solution is :math:`f_q f^* > 1`; then the condition is :math:`s \ge \mathrm{XRV}`; otherwise
    b = s and the condition is the equal-strength formula (Cinelli and Hazlett 2020, section
    4.2; the alpha-adjusted case as in sensemakr 0.1.4+).

    Examples
    --------
    The darfur example of Cinelli and Hazlett (2020): t = 4.18445 on 783 degrees of freedom.

    >>> round(robustness_value(4.18445, 783), 4)
    0.1388
    >>> round(robustness_value(4.18445, 783, alpha=0.05), 4)
    0.0763
    """
    dof = _check_dof(dof)
    if float(q) < 0:
        raise InputError(f"q must be non-negative, got {q}")
    fq = float(q) * np.abs(_arr(t_statistic)) / np.sqrt(dof)
    fc = _f_crit(dof, alpha)
    d = fq - fc
    with np.errstate(divide="ignore", invalid="ignore"):
        rv = np.where(d > 0, 2.0 / (1.0 + np.sqrt(1.0 + 4.0 / np.where(d > 0, d, 1.0) ** 2)), 0.0)
    extreme = (d > 0) & (fq * fc > 1.0)
    xrv = (fq**2 - fc**2) / (1.0 + fq**2)
    return _out(np.where(extreme, xrv, rv))


def benchmark_bounds(r2dxj_x, r2yxj_dx, kd=1.0, ky=None) -> dict[str, Any]:
    r"""Bounds on the strength of a confounder ``kd`` (``ky``) times as strong as a benchmark
    covariate :math:`X_j` in explaining the treatment (the outcome).

    With :math:`r_D = R^2_{D\sim X_j|X_{-j}}` and :math:`r_Y = R^2_{Y\sim X_j|D,X_{-j}}`
    (Cinelli and Hazlett 2020, section 4.4 and its footnote on the outcome bound):

    .. math::
       R^2_{D\sim Z|X} &= k_D\,\frac{r_D}{1-r_D}, \qquad
       \eta = \frac{k_D\,r_D^2}{(1-k_D r_D)(1-r_D)},\\
       R^2_{Y\sim Z|D,X} &= \left(\frac{\sqrt{k_Y}+\sqrt{\eta}}{\sqrt{1-\eta}}\right)^2
       \frac{r_Y}{1-r_Y}\quad(\text{capped at } 1).

    Returns ``{"r2dz_x", "r2yz_dx", "capped"}`` (arrays over ``kd``/``ky``; ``capped`` marks
    outcome bounds set to 1). An impossible ``kd`` (a bound at or above 1) is an InputError.

    Examples
    --------
    The female benchmark of the darfur example, 1 to 3 times as strong:

    >>> b = benchmark_bounds(0.009164, 0.125, kd=[1, 2, 3])
    >>> [round(float(v), 4) for v in b["r2dz_x"]]
    [0.0092, 0.0185, 0.0277]
    """
    rd = _check_r2("the benchmark's partial R2 with the treatment", r2dxj_x)
    ry = _check_r2("the benchmark's partial R2 with the outcome", r2yxj_dx)
    kd = _arr(kd)
    ky = kd if ky is None else _arr(ky)
    if np.any(kd < 0) or np.any(ky < 0):
        raise InputError("kd and ky must be non-negative")
    r2dz = kd * rd / (1.0 - rd)
    eta = kd * rd**2 / ((1.0 - kd * rd) * (1.0 - rd))
    if np.any(r2dz >= 1) or np.any(eta >= 1) or np.any(kd * rd >= 1):
        raise InputError(f"kd = {kd.tolist()} is impossible for this benchmark: the implied partial "
                         "R2 of the confounder with the treatment reaches 1; use a smaller kd")
    r2yz = ((np.sqrt(ky) + np.sqrt(eta)) / np.sqrt(1.0 - eta)) ** 2 * (ry / (1.0 - ry))
    capped = r2yz > 1.0
    return {"r2dz_x": np.minimum(r2dz, 1.0), "r2yz_dx": np.minimum(r2yz, 1.0), "capped": capped}


def bias(se, dof, r2dz_x, r2yz_dx):
    r"""Absolute omitted-variable bias of the coefficient implied by a confounder of strength
    (``r2dz_x``, ``r2yz_dx``):

    .. math:: |\widehat{\mathrm{bias}}| = \mathrm{se}(\hat\tau)\,
       \sqrt{\mathrm{dof}\;\frac{R^2_{Y\sim Z|D,X}\,R^2_{D\sim Z|X}}{1-R^2_{D\sim Z|X}}}

    (Cinelli and Hazlett 2020, eq. 11).

    Examples
    --------
    >>> round(bias(0.02, 100, 0.5, 0.25), 4)
    0.1
    """
    a = _check_r2("r2dz_x", r2dz_x)
    b = _arr(r2yz_dx)
    if np.any(b < 0) or np.any(b > 1):
        raise InputError(f"r2yz_dx must be in [0, 1], got {r2yz_dx}")
    return _out(_arr(se) * np.sqrt(_check_dof(dof) * b * a / (1.0 - a)))


def adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx, *, reduce: bool = True):
    r"""The estimate after removing (``reduce=True``: towards zero) or adding the bias of
    :func:`bias`: :math:`\mathrm{sign}(\hat\tau)(|\hat\tau| \mp |\widehat{\mathrm{bias}}|)`.

    Examples
    --------
    >>> round(adjusted_estimate(0.3, 0.02, 100, 0.5, 0.25), 4)
    0.2
    """
    est = _arr(estimate)
    b = _arr(bias(se, dof, r2dz_x, r2yz_dx))
    sign = np.where(est < 0, -1.0, 1.0)
    return _out(sign * (np.abs(est) - b if reduce else np.abs(est) + b))


def adjusted_se(se, dof, r2dz_x, r2yz_dx):
    r"""Standard error of the adjusted estimate (the regression that includes Z):

    .. math:: \mathrm{se}\,\sqrt{\frac{1-R^2_{Y\sim Z|D,X}}{1-R^2_{D\sim Z|X}}}\,
       \sqrt{\frac{\mathrm{dof}}{\mathrm{dof}-1}}

    (Cinelli and Hazlett 2020, eq. 12).

    Examples
    --------
    >>> round(adjusted_se(0.02, 101, 0.0, 0.0), 6)
    0.0201
    """
    a = _check_r2("r2dz_x", r2dz_x)
    b = _arr(r2yz_dx)
    dof = _check_dof(dof)
    return _out(_arr(se) * np.sqrt((1.0 - b) / (1.0 - a)) * np.sqrt(dof / (dof - 1.0)))


def adjusted_t(estimate, se, dof, r2dz_x, r2yz_dx, *, reduce: bool = True, h0: float = 0.0):
    """t statistic of the adjusted estimate against ``h0``:
    ``(adjusted_estimate - h0) / adjusted_se``.

    Examples
    --------
    >>> round(adjusted_t(0.3, 0.02, 101, 0.0, 0.0), 3)
    14.926
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out((_arr(adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx, reduce=reduce))
                     - float(h0)) / _arr(adjusted_se(se, dof, r2dz_x, r2yz_dx)))


# ============================================================================ model level
_OVB_OPTIONS = {"weights", "entity", "time", "collinear", "on_gap", "ssc"}


def _fit_options(options: Mapping[str, Any], *, vcov: str) -> dict[str, Any]:
    bad = sorted(set(options) - _OVB_OPTIONS - {"vcov", "cluster"})
    if bad:
        raise InputError(f"unknown option(s) {bad}; allowed: {sorted(_OVB_OPTIONS | {'vcov', 'cluster'})}")
    out = {k: v for k, v in options.items() if k in _OVB_OPTIONS}
    out["vcov"] = vcov
    if vcov == "cluster" and options.get("cluster") is not None:
        out["cluster"] = options["cluster"]
    return out


def _treatment_term(f, treatment: str) -> str:
    names = C.term_names(f)
    if f.is_iv:
        raise InputError("omitted-variable sensitivity is for OLS formulas; this one has an IV part "
                         "(use the instrument sensitivity, method 'chr')")
    if treatment not in names:
        raise InputError(f"treatment {treatment!r} is not a term of the formula {f.text!r}; "
                         f"terms: {names}")
    term = next(t for t in f.terms if t.name == treatment)
    if len(term.factors) != 1 or term.factors[0].kind == "i":
        raise InputError(f"the treatment must be a single variable (or l(), log(), d() of one), "
                         f"not {treatment!r}")
    return treatment


def _benchmark_groups(benchmark, names: list[str], treatment: str) -> list[tuple[str, list[str]]]:
    """``"x"``, ``["x", "z"]`` (two benchmarks) or ``{"label": ["x", "z"]}`` (a group)."""
    if benchmark is None:
        return []
    if isinstance(benchmark, str):
        items = [(benchmark, [benchmark])]
    elif isinstance(benchmark, Mapping):
        items = [(str(k), [v] if isinstance(v, str) else list(v)) for k, v in benchmark.items()]
    else:
        items = []
        for b in benchmark:
            items.append((b, [b]) if isinstance(b, str) else ("+".join(b), list(b)))
    for label, cols in items:
        for c in cols:
            if c == treatment:
                raise InputError(f"the treatment {treatment!r} cannot be its own benchmark")
            if c not in names:
                raise InputError(f"benchmark {c!r} is not a term of the formula; terms: {names}")
        if not cols:
            raise InputError(f"benchmark group {label!r} is empty")
    return items


def _group_partial_r2(res: Result, cols: list[str]) -> float:
    """Partial R-squared of a group of regressors from the classical F statistic:
    F k / (F k + dof) (k = 1: t^2/(t^2 + dof))."""
    if len(cols) == 1:
        return float(partial_r2(float(res.tstats[cols[0]]), res.df_resid))
    w = res.wald_test(cols)
    fk = w["f_statistic"] * w["df"]
    return float(fk / (fk + res.df_resid))


def _label(name: str, kd: float, ky: float) -> str:
    def fmt(v):
        return f"{v:g}"
    return f"{fmt(kd)}x {name}" if kd == ky else f"{fmt(kd)}/{fmt(ky)}x {name}"


def cinelli_hazlett(
    formula: str,
    data: pd.DataFrame,
    treatment: str,
    *,
    benchmark: str | Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    kd: float | Sequence[float] = 1.0,
    ky: float | Sequence[float] | None = None,
    q: float = 1.0,
    alpha: float = 0.05,
    reduce: bool = True,
    **fit_options: Any,
) -> Result:
    r"""Cinelli-Hazlett (2020) omitted-variable sensitivity of one coefficient.

    Fits ``formula`` (OLS, fixed effects absorbed) with the classical covariance and reports
    the partial R-squared of the treatment with the outcome, the robustness values RV(q) and
    RV(q, alpha), and for each benchmark covariate and each multiple ``kd`` (``ky``) the bound
    on the confounder's strength with the adjusted estimate, standard error, t and interval.

    Parameters
    ----------
    formula
        ``"y ~ d + x1 + x2 | fe"`` (see :func:`robocarbon.empirics.fe.fit`); no IV part.
    data
        The data.
    treatment
        The term whose coefficient is examined (a single variable).
    benchmark
        Covariate(s) to benchmark against: a term name, a list of names (each its own
        benchmark), or ``{"label": [names]}`` for a group (its partial R-squared from the
        classical F statistic).
    kd, ky
        Multiples of the benchmark's strength with the treatment (``kd``) and the outcome
        (``ky``, default ``kd``); numbers or lists of equal length.
    q
        Fraction of the estimate the confounder should remove (1 = all of it).
    alpha
        Significance level of RV(q, alpha).
    reduce
        The confounder moves the estimate towards zero (True) or away from it.
    **fit_options
        ``weights``, ``entity``, ``time``, ``collinear``, ``on_gap``, ``ssc`` passed to
        :func:`~robocarbon.empirics.fe.fit`. The covariance is always the classical one: the
        partial R-squared algebra is exact for it (as in sensemakr, which ignores robust
        covariances of fixest models).

    Returns
    -------
    Result
        ``estimator="cinelli_hazlett"``. Terms: the treatment (the unadjusted OLS estimate and
        SE) and one term ``"<treatment>[<kd>x <benchmark>]"`` per bound with the adjusted
        estimate and the adjusted SE; ``df_resid`` is the model's residual degrees of freedom,
        so ``tidy()`` gives sensemakr's bounds table (its intervals use the t quantile on
        ``dof`` degrees of freedom, as sensemakr's ``ovb_bounds``). ``diagnostics``:
        ``estimate, se, t_statistic, dof, r2yd_x, f2yd_x, rv_q, rv_qa, rv_qa_extreme, q, alpha,
        reduce, h0, bounds`` (a list of dicts ``label, benchmark, kd, ky, r2dxj_x, r2yxj_dx,
        r2dz_x, r2yz_dx, capped, adjusted_estimate, adjusted_se, adjusted_t, adjusted_lower,
        adjusted_upper``) and ``model`` (the fitted regression's nobs, dropped rows, R-squared).

    Notes
    -----
    With :math:`Y = \hat\tau D + X'\hat\beta + \hat\gamma Z + e` the regression that a
    confounder Z would complete, the omitted-variable bias of the short estimate is

    .. math:: |\hat\tau_{res} - \hat\tau| = \mathrm{se}(\hat\tau_{res})\sqrt{\mathrm{dof}}\,
       \sqrt{\frac{R^2_{Y\sim Z|D,X}\,R^2_{D\sim Z|X}}{1-R^2_{D\sim Z|X}}},

    and :math:`R^2_{Y\sim D|X} = t^2/(t^2+\mathrm{dof})`; see :func:`robustness_value`,
    :func:`benchmark_bounds`, :func:`adjusted_se`. The benchmark's partial R-squared with the
    treatment comes from the regression of the treatment on the other regressors and the same
    fixed effects; with the outcome, from the main regression. Fixed-effect singletons are
    dropped by the fit, which changes neither the t statistics nor the residual degrees of
    freedom (each dropped singleton removes one observation and one fixed-effect level), so
    the numbers equal those of the dummy-variable regression (R ``lm``).

    Source: Cinelli, C. and Hazlett, C. (2020), JRSS-B 82(1), 39-67, sections 4.1-4.4; the
    R package sensemakr (conventions checked against its darfur tests).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 500
    >>> x = rng.normal(size=n); d = 0.5 * x + rng.normal(size=n)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": 0.3 * d + 0.8 * x + rng.normal(size=n),
    ...                    "g": rng.integers(0, 20, n)})
    >>> res = cinelli_hazlett("y ~ d + x | g", df, "d", benchmark="x", kd=[1, 2])
    >>> res.terms
    ('d', 'd[1x x]', 'd[2x x]')
    >>> dg = res.diagnostics
    >>> bool(0 < dg["rv_qa"] < dg["rv_q"] < 1)
    True
    >>> round(dg["r2yd_x"], 10) == round(partial_r2(dg["t_statistic"], dg["dof"]), 10)
    True
    """
    f = C.parse(formula)
    treatment = _treatment_term(f, treatment)
    names = C.term_names(f)
    groups = _benchmark_groups(benchmark, names, treatment)
    q = float(q)
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    kd_l = C.as_float_list(kd, "kd")
    ky_l = kd_l if ky is None else C.as_float_list(ky, "ky")
    if len(ky_l) == 1 and len(kd_l) > 1:
        ky_l = ky_l * len(kd_l)
    if len(kd_l) == 1 and len(ky_l) > 1:
        kd_l = kd_l * len(ky_l)
    if len(kd_l) != len(ky_l):
        raise InputError(f"kd and ky must have the same length, got {kd_l} and {ky_l}")
    opts = _fit_options(fit_options, vcov="unadjusted")
    res = C.fit(f.text, data, opts)
    if res.df_resid is None or res.df_resid <= 1:
        raise InputError("the regression has too few residual degrees of freedom")
    j = res.terms.index(treatment)
    est = float(res.params[j])
    se = float(res.std_errors.iloc[j])
    dof = int(res.df_resid)
    t = est / se
    r2yd = float(partial_r2(t, dof))
    rv_q = float(robustness_value(t, dof, q=q))
    rv_qa = float(robustness_value(t, dof, q=q, alpha=alpha))
    fq = q * abs(t) / math.sqrt(dof)
    fc = float(_f_crit(np.asarray(float(dof)), alpha))
    dg: dict[str, Any] = {
        "treatment": treatment, "estimate": est, "se": se, "t_statistic": t, "dof": dof,
        "r2yd_x": r2yd, "f2yd_x": float(partial_f2(t, dof)), "rv_q": rv_q, "rv_qa": rv_qa,
        "rv_qa_extreme": bool(fq - fc > 0 and fq * fc > 1.0),
        "xrv_q": float(extreme_robustness_value(t, dof, q=q)),
        "xrv_qa": float(extreme_robustness_value(t, dof, q=q, alpha=alpha)),
        "q": q, "alpha": alpha, "reduce": bool(reduce), "h0": 0.0,
        "convention": ("classical OLS t statistic and residual dof (R lm / sensemakr); bound "
                       "intervals use the t quantile on dof, RV(q, alpha) on dof - 1"),
        "model": {"formula": f.text, "nobs": res.nobs, "nobs_dropped": res.nobs_dropped,
                  "dropped": dict(res.diagnostics.get("dropped", {})),
                  "r2_with_fe": res.r2_with_fe, "r2_within": res.r2_within},
        "bounds": [],
    }
    terms = [treatment]
    params = [est]
    variances = [se**2]
    if groups:
        others = [n for n in names if n != treatment]
        tf = C.rhs_formula(treatment, others, f.fixed_effects, intercept=f.intercept)
        tres = C.fit(tf, data, opts)
        if tres.nobs != res.nobs:
            raise InputError(
                f"the treatment regression {tf!r} used {tres.nobs} rows, the outcome regression "
                f"{res.nobs}: make the outcome's missing rows explicit (drop them) first")
        tcrit = stats.t.ppf(1.0 - alpha / 2.0, dof)
        for label, cols in groups:
            r_d = _group_partial_r2(tres, cols)
            r_y = _group_partial_r2(res, cols)
            b = benchmark_bounds(r_d, r_y, kd=kd_l, ky=ky_l)
            for i, (kdi, kyi) in enumerate(zip(kd_l, ky_l)):
                a2, b2 = float(b["r2dz_x"][i]), float(b["r2yz_dx"][i])
                ae = float(adjusted_estimate(est, se, dof, a2, b2, reduce=reduce))
                ase = float(adjusted_se(se, dof, a2, b2))
                lab = _label(label, kdi, kyi)
                dg["bounds"].append({
                    "label": lab, "benchmark": cols, "kd": kdi, "ky": kyi,
                    "r2dxj_x": r_d, "r2yxj_dx": r_y, "r2dz_x": a2, "r2yz_dx": b2,
                    "capped": bool(b["capped"][i]),
                    "adjusted_estimate": ae, "adjusted_se": ase,
                    "adjusted_t": ae / ase if ase > 0 else math.inf,
                    "adjusted_lower": float(ae - tcrit * ase),
                    "adjusted_upper": float(ae + tcrit * ase),
                })
                terms.append(f"{treatment}[{lab}]")
                params.append(ae)
                variances.append(ase**2)
    return Result(
        terms=tuple(terms), params=np.array(params), cov=np.diag(variances), nobs=res.nobs,
        df_resid=dof, cov_type="unadjusted", estimator="cinelli_hazlett",
        nobs_dropped=res.nobs_dropped, r2_within=res.r2_within, r2_with_fe=res.r2_with_fe,
        diagnostics=dg,
        spec={"formula": f.text, "treatment": treatment, "benchmark": [g[0] for g in groups],
              "kd": kd_l, "ky": ky_l, "q": q, "alpha": alpha, "reduce": bool(reduce),
              "method": "Cinelli and Hazlett (2020)"},
        provenance=dict(res.provenance),
    )


# ============================================================================ Oster
def oster_delta(beta_short: float, r2_short: float, beta_long: float, r2_long: float,
                var_y: float, var_x: float, tau_x: float, *, r2max: float,
                beta: float = 0.0) -> float:
    r"""Oster's (2019) delta that makes the bias-adjusted coefficient equal ``beta``.

    With :math:`\nu = \tilde\beta - \beta`, :math:`A = \mathring\beta - \tilde\beta`,
    :math:`B = (\tilde R - \mathring R)\sigma_y^2`, :math:`C = (R_{max}-\tilde R)\sigma_y^2`,
    :math:`\sigma_x^2` the variance of the treatment (after the always-included controls) and
    :math:`\tau_x` the variance of its residual on all the controls:

    .. math:: \delta = \frac{\nu B\tau_x + \nu\sigma_x^2\tau_x A^2 + 2\nu^2\tau_x A\sigma_x^2
       + \nu^3(\tau_x\sigma_x^2-\tau_x^2)}{C A\sigma_x^2 + \nu C(\sigma_x^2-\tau_x)
       + \nu^2\tau_x A\sigma_x^2 + \nu^3(\tau_x\sigma_x^2-\tau_x^2)}

    (Oster 2019, Proposition 2 solved for delta; the ``delta`` of Stata's psacalc). The
    variances enter homogeneously, so sums of squares may replace them.

    Examples
    --------
    >>> d = oster_delta(1.0, 0.1, 0.6, 0.4, 2.0, 1.0, 0.7, r2max=0.52)
    >>> abs(oster_beta(1.0, 0.1, 0.6, 0.4, 2.0, 1.0, 0.7, r2max=0.52, delta=d)["beta"]) < 1e-9
    True
    """
    A = beta_short - beta_long
    B = (r2_long - r2_short) * var_y
    Cc = (r2max - r2_long) * var_y
    v = beta_long - beta
    sx, t = var_x, tau_x
    num = v * B * t + v * sx * t * A**2 + 2 * v**2 * t * A * sx + v**3 * (t * sx - t**2)
    den = Cc * A * sx + v * Cc * (sx - t) + v**2 * t * A * sx + v**3 * (t * sx - t**2)
    if den == 0:
        return math.inf if num != 0 else math.nan
    return float(num / den)


def oster_beta(beta_short: float, r2_short: float, beta_long: float, r2_long: float,
               var_y: float, var_x: float, tau_x: float, *, r2max: float,
               delta: float = 1.0) -> dict[str, Any]:
    r"""Oster's (2019) bias-adjusted coefficient :math:`\beta^*` for a given ``delta``.

    The bias :math:`\nu = \tilde\beta - \beta^*` solves the cubic (the delta equation of
    :func:`oster_delta` multiplied out; notation there)

    .. math:: (\delta-1)(\tau_x\sigma_x^2-\tau_x^2)\nu^3 + (\delta-2)\tau_x A\sigma_x^2\nu^2
       + \left[\delta C(\sigma_x^2-\tau_x) - B\tau_x - \sigma_x^2\tau_x A^2\right]\nu
       + \delta C A\sigma_x^2 = 0,

    a quadratic when :math:`\delta = 1`. Root choice (as Stata's psacalc): among the real
    roots, those whose :math:`\beta^* - \tilde\beta` has the sign of
    :math:`\tilde\beta - \mathring\beta` (the unobservables push the coefficient on in the
    direction the observables did, which is what proportional selection with :math:`\delta>0`
    implies), and among them the one closest to :math:`\tilde\beta` (the smallest bias). When
    no real root moves in that direction psacalc's pick is arbitrary (the last root it lists);
    here it is the real root closest to :math:`\tilde\beta`, flagged by
    ``direction_consistent=False``. With a single real root (the cubic's discriminant says so)
    that root is taken, as psacalc does.

    Returns ``{"beta", "roots" (every real beta*), "direction_consistent", "beta_approx"}``
    where ``beta_approx`` is Oster's first-order approximation
    :math:`\tilde\beta - \delta(\mathring\beta-\tilde\beta)(R_{max}-\tilde R)/(\tilde R-\mathring R)`.

    Examples
    --------
    >>> out = oster_beta(1.0, 0.1, 0.6, 0.4, 2.0, 1.0, 0.7, r2max=0.52, delta=1.0)
    >>> round(out["beta"], 4), round(out["beta_approx"], 4)
    (0.4127, 0.44)
    """
    A = beta_short - beta_long
    B = (r2_long - r2_short) * var_y
    Cc = (r2max - r2_long) * var_y
    sx, t, dl = var_x, tau_x, float(delta)
    coefs = np.array([
        (dl - 1.0) * (t * sx - t**2),
        (dl - 2.0) * t * A * sx,
        dl * Cc * (sx - t) - B * t - sx * t * A**2,
        dl * Cc * A * sx,
    ])
    scale = np.max(np.abs(coefs))
    if scale == 0 or not np.all(np.isfinite(coefs)):
        raise InputError("Oster: the cubic is degenerate (no movement of the coefficient or the "
                         "R-squared between the short and the controlled regressions)")
    c = coefs / scale
    while c.size > 1 and abs(c[0]) < 1e-14:
        c = c[1:]
    if c.size == 1:
        raise InputError("Oster: no solution for beta* (degenerate equation)")
    roots = np.roots(c)
    real = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))].real
    # one Newton step on the unscaled polynomial polishes each real root
    p = np.poly1d(c)
    dp = p.deriv()
    polished = []
    for r in real:
        d = dp(r)
        polished.append(r - p(r) / d if d != 0 else r)
    nus = np.array(sorted(set(np.round(polished, 15))))
    if nus.size == 0:
        raise InputError("Oster: the cubic has no real root")
    betas = beta_long - nus
    direction = np.sign(beta_long - beta_short)
    ok = np.sign(betas - beta_long) == direction
    if nus.size == 1:
        pick, consistent = 0, bool(ok[0])
    elif ok.any():
        cand = np.flatnonzero(ok)
        pick, consistent = int(cand[np.argmin(np.abs(nus[cand]))]), True
    else:
        pick, consistent = int(np.argmin(np.abs(nus))), False
    denom = r2_long - r2_short
    approx = beta_long - dl * A * (r2max - r2_long) / denom if denom != 0 else math.nan
    return {"beta": float(betas[pick]), "roots": [float(b) for b in betas],
            "direction_consistent": consistent, "beta_approx": float(approx)}


def _sum_sq(v: np.ndarray, w: np.ndarray | None, *, center: bool = True) -> float:
    ww = np.ones_like(v) if w is None else w
    m = np.average(v, weights=ww) if center else 0.0
    return float(np.sum(ww * (v - m) ** 2))


def oster(
    formula: str,
    data: pd.DataFrame,
    treatment: str,
    *,
    delta: float = 1.0,
    beta: float = 0.0,
    r2max: float | None = None,
    r2max_multiple: float = 1.3,
    short_controls: Sequence[str] = (),
    r2: str = "with_fe",
    **fit_options: Any,
) -> Result:
    r"""Oster (2019) coefficient stability: delta for ``beta`` and beta* for ``delta``.

    Compares the short regression of the outcome on the treatment (and ``short_controls``,
    psacalc's ``mcontrol``) with the controlled regression ``formula``, and extrapolates the
    coefficient's movement to a regression with R-squared ``r2max``.

    Parameters
    ----------
    formula
        The controlled regression ``"y ~ d + x1 + x2 | fe"`` (OLS; no lags or leads: create
        those columns first, so every regression uses the same rows).
    data
        The data.
    treatment
        The treatment term.
    delta
        Relative degree of selection on unobservables for beta* (1 = as much as on
        observables).
    beta
        The coefficient value for which delta is computed (0: explain the effect away).
    r2max
        The R-squared of the hypothetical regression with the unobservables; default
        ``min(r2max_multiple * R2_controlled, 1)`` (Oster's 1.3 rule).
    short_controls
        Terms (or fixed-effect names of ``formula``) kept in the short regression.
    r2
        ``"with_fe"`` (default): R-squared including the fixed effects, as ``regress`` with
        dummies and psacalc; the fixed effects count as controls unless listed in
        ``short_controls``. ``"within"``: the fixed effects are partialled out of every
        regression and the R-squared are within R-squared (``r2max`` is then on that scale).
    **fit_options
        ``weights``, ``vcov``, ``cluster``, ``ssc``, ``collinear`` for the fits (the standard
        errors reported for the two regressions; default ``vcov="unadjusted"``).

    Returns
    -------
    Result
        ``estimator="oster"``; terms ``<treatment>`` (controlled estimate and SE),
        ``<treatment>[uncontrolled]`` (the short regression) and ``<treatment>[beta*]`` (the
        bias-adjusted coefficient at ``delta``; no standard error, NaN: Oster suggests a
        bootstrap). ``diagnostics``: ``delta_for_beta`` (delta that gives ``beta``), ``beta``,
        ``beta_star``, ``beta_star_roots``, ``beta_star_approx``, ``direction_consistent``,
        ``delta``, ``r2max``, ``r2_short``, ``r2_controlled``, ``beta_short``,
        ``beta_controlled``, ``var_y``, ``var_x``, ``tau_x`` (sums of squares over n - 1),
        ``r2``, ``short_formula``, ``nobs``.

    Notes
    -----
    Under proportional selection :math:`\delta\,\sigma_{1X}/\sigma_1^2 = \sigma_{2X}/\sigma_2^2`
    (observables' index W1 and unobservables' index W2, covariances with the treatment X), the
    bias-adjusted coefficient solves the cubic of :func:`oster_beta`, and the delta that makes
    it equal ``beta`` is :func:`oster_delta` (Oster 2019, Proposition 2). The inputs are the
    coefficients and R-squared of the short and controlled regressions, the variance of the
    outcome, the variance of the treatment (residual on ``short_controls``) and the variance
    of the treatment's residual on all the controls (:math:`\tau_x`). All regressions use the
    controlled regression's rows (missing values dropped; fixed-effect singletons kept in the
    R-squared: their residuals are zero, so the residual sums of squares of ``fe.fit``, which
    drops them, are those of the dummy-variable regression).

    Source: Oster, E. (2019), JBES 37(2), 187-204; the Stata command psacalc.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> n = 2000
    >>> w1 = rng.normal(size=n); x = 0.6 * w1 + rng.normal(size=n)
    >>> df = pd.DataFrame({"x": x, "w1": w1, "y": 0.5 * x + w1 + rng.normal(size=n)})
    >>> res = oster("y ~ x + w1", df, "x")
    >>> res.terms
    ('x', 'x[uncontrolled]', 'x[beta*]')
    >>> dg = res.diagnostics
    >>> round(dg["r2max"] / dg["r2_controlled"], 6)
    1.3
    >>> again = oster("y ~ x + w1", df, "x", delta=dg["delta_for_beta"])
    >>> abs(again.diagnostics["beta_star"]) < 1e-8
    True
    """
    from robocarbon.empirics.fe import build_frame, transform

    f = C.parse(formula)
    treatment = _treatment_term(f, treatment)
    if f.lags():
        raise InputError("Oster: the formula takes lags, leads or differences; create those "
                         "columns first so that every regression uses the same rows")
    if r2 not in ("with_fe", "within"):
        raise InputError(f"r2 must be 'with_fe' or 'within', got {r2!r}")
    names = C.term_names(f)
    fes = list(f.fixed_effects)
    short_controls = [short_controls] if isinstance(short_controls, str) else list(short_controls)
    short_terms, short_fes = [], []
    for c in short_controls:
        if c in fes:
            short_fes.append(c)
        elif c in names and c != treatment:
            short_terms.append(c)
        else:
            raise InputError(f"short control {c!r} is not a term or fixed effect of {f.text!r}")
    if r2 == "within":
        short_fes = fes
    bad = sorted(set(fit_options) - _OVB_OPTIONS - {"vcov", "cluster"})
    if bad:
        raise InputError(f"unknown option(s) {bad}")
    vcov = fit_options.get("vcov", "unadjusted")
    opts = _fit_options(fit_options, vcov=vcov)
    # the estimation sample with singletons kept: missing rows only
    frame = build_frame(f, data, weights=fit_options.get("weights"), singletons=False)
    sub = data.iloc[frame.rows]
    w = frame.weights
    if opts.get("weights") is not None and not isinstance(opts["weights"], str):
        opts["weights"] = np.asarray(opts["weights"], dtype=float)[frame.rows]
    tr = transform(frame, intercept=False) if fes else None
    long_res = C.fit(f.text, sub, opts)
    if long_res.nobs + int(long_res.diagnostics.get("dropped", {}).get("singletons", 0)) != len(sub):
        raise InputError("Oster: the controlled regression did not use every row of its sample")
    lhs = f.lhs.name
    short_text = C.rhs_formula(lhs, [treatment] + short_terms, short_fes, intercept=True)
    short_res = C.fit(short_text, sub, opts)
    others = [t for t in names if t != treatment]
    dcol = frame.x_names.index(treatment)
    d = frame.X[:, dcol]
    if r2 == "within" and fes:
        sy = float(tr.y @ tr.y)  # weighted: the transform multiplies by sqrt(w)
    else:
        sy = _sum_sq(frame.y, w)
    # sums of squares of the treatment: on the short controls, and on all the controls
    if short_terms or short_fes:
        if short_terms:
            sx = float(C.fit(C.rhs_formula(treatment, short_terms, short_fes), sub, opts)
                       .diagnostics["rss"])
        else:
            sx = float(tr.X[:, dcol] @ tr.X[:, dcol])
    else:
        sx = _sum_sq(d, w)
    if others:
        tau = float(C.fit(C.rhs_formula(treatment, others, fes), sub, opts).diagnostics["rss"])
    elif fes:
        tau = float(tr.X[:, dcol] @ tr.X[:, dcol])
    else:
        tau = sx
    rss_long = float(long_res.diagnostics["rss"])
    rss_short = float(short_res.diagnostics["rss"])
    r2_long = 1.0 - rss_long / sy
    r2_short = 1.0 - rss_short / sy
    if r2max is None:
        r2max = min(float(r2max_multiple) * r2_long, 1.0)
    r2max = float(r2max)
    if not r2_long <= r2max <= 1.0:
        raise InputError(f"r2max = {r2max:.6g} must lie between the controlled R-squared "
                         f"({r2_long:.6g}) and 1")
    n1 = len(sub) - 1
    var_y, var_x, tau_x = sy / n1, sx / n1, tau / n1
    j = long_res.terms.index(treatment)
    js = short_res.terms.index(treatment)
    b_long = float(long_res.params[j])
    b_short = float(short_res.params[js])
    args = (b_short, r2_short, b_long, r2_long, var_y, var_x, tau_x)
    dlt = oster_delta(*args, r2max=r2max, beta=float(beta))
    bs = oster_beta(*args, r2max=r2max, delta=float(delta))
    dg = {
        "delta_for_beta": dlt, "beta": float(beta), "delta": float(delta),
        "beta_star": bs["beta"], "beta_star_roots": bs["roots"],
        "beta_star_approx": bs["beta_approx"], "direction_consistent": bs["direction_consistent"],
        "r2max": r2max, "r2_short": r2_short, "r2_controlled": r2_long,
        "beta_short": b_short, "beta_controlled": b_long,
        "var_y": var_y, "var_x": var_x, "tau_x": tau_x, "r2": r2,
        "short_formula": short_text, "nobs": len(sub),
        "convention": ("psacalc: variances over n - 1 on the controlled regression's rows; "
                       "R-squared " + ("including the fixed effects" if r2 == "with_fe"
                                       else "within (fixed effects partialled out everywhere)")),
    }
    se_long = float(long_res.std_errors.iloc[j])
    se_short = float(short_res.std_errors.iloc[js])
    return Result(
        terms=(treatment, f"{treatment}[uncontrolled]", f"{treatment}[beta*]"),
        params=np.array([b_long, b_short, bs["beta"]]),
        cov=np.diag([se_long**2, se_short**2, math.nan]),
        nobs=len(sub), df_resid=long_res.df_resid, cov_type=long_res.cov_type,
        estimator="oster", nobs_dropped=len(data) - len(sub),
        r2_within=long_res.r2_within, r2_with_fe=r2_long if r2 == "with_fe" else None,
        diagnostics=dg,
        spec={"formula": f.text, "treatment": treatment, "delta": float(delta),
              "beta": float(beta), "r2max": r2max, "short_controls": short_controls, "r2": r2,
              "method": "Oster (2019)"},
        provenance=dict(long_res.provenance),
    )
