"""The mechanism model (22): main effects and their interaction, and the marginal effect of the
treatment over the range of the moderator with a delta-method confidence band.

.. math:: y_{it} = b_1 R_{it} + b_2 M_{it} + b_3 R_{it} M_{it} + g'X_{it} + \\mu_t + \\delta_i + e_{it},
          \\qquad \\partial y / \\partial R = b_1 + b_3 M.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .result import Result


def marginal_effect(
    result: Result, treatment: str, moderator: str, values: Sequence[float], *, level: float = 0.95
) -> pd.DataFrame:
    r"""Marginal effect of ``treatment`` at moderator values m: :math:`b_1 + b_3 m`, with standard
    error :math:`\sqrt{V_{11} + m^2 V_{33} + 2 m V_{13}}` from the result's (clustered) covariance
    and a pointwise band with the result's reference distribution (t(G-1) when clustered).

    Columns: ``moderator, effect, std_error, conf_low, conf_high``.
    """
    inter = _interaction_name(result, treatment, moderator)
    i1 = result.terms.index(treatment)
    i3 = result.terms.index(inter)
    m = np.asarray(values, dtype=float)
    b = result.params
    V = result.cov
    eff = b[i1] + b[i3] * m
    se = np.sqrt(np.clip(V[i1, i1] + m * m * V[i3, i3] + 2 * m * V[i1, i3], 0, None))
    q = result.critical_value(level)
    return pd.DataFrame({"moderator": m, "effect": eff, "std_error": se,
                         "conf_low": eff - q * se, "conf_high": eff + q * se})


def _interaction_name(result: Result, a: str, b: str) -> str:
    for name in (f"{a}:{b}", f"{b}:{a}"):
        if name in result.terms:
            return name
    raise InputError(f"the result has no interaction term {a}:{b}; terms: {list(result.terms)}")


def fit_mechanism(
    data: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    moderator: str,
    controls: Sequence[str] = (),
    fixed_effects: Sequence[str] = (),
    grid: int | Sequence[float] = 50,
    level: float = 0.95,
    **fit_kwargs,
) -> Result:
    """Fit model (22) with :func:`fe.fit` and attach the marginal-effect curve.

    The formula is ``outcome ~ treatment*moderator + controls | fixed_effects``; ``fit_kwargs``
    go to :func:`fe.fit` (cluster, vcov, entity, time, ...). ``grid`` is a number of points
    between the 1st and 99th percentiles of the moderator in the estimation sample, or the values
    themselves. The curve is ``diagnostics["marginal_effect"]`` (a list of records:
    moderator, effect, std_error, conf_low, conf_high), plus the moderator's observed range.
    """
    from .fe import fit

    rhs = " + ".join([f"{treatment}*{moderator}"] + list(controls))
    formula = f"{outcome} ~ {rhs}" + (f" | {' + '.join(fixed_effects)}" if fixed_effects else "")
    res = fit(formula, data, **fit_kwargs)
    mod = pd.to_numeric(data[moderator], errors="coerce").to_numpy(dtype=float)
    mod = mod[np.isfinite(mod)]
    if np.isscalar(grid):
        lo, hi = np.percentile(mod, [1, 99])
        values = np.linspace(lo, hi, int(grid))
    else:
        values = np.asarray(grid, dtype=float)
    me = marginal_effect(res, treatment, moderator, values, level=level)
    # where the effect is significantly negative / positive (pointwise)
    diag = dict(res.diagnostics)
    diag["marginal_effect"] = me.to_dict(orient="records")
    diag["moderator_range"] = [float(mod.min()), float(mod.max())] if mod.size else None
    diag["mechanism"] = {"treatment": treatment, "moderator": moderator,
                         "interaction": _interaction_name(res, treatment, moderator), "level": level}
    return dataclasses.replace(res, diagnostics=diag)
