"""Equation (23): the human-machine matching index ("coupling coordination degree").

The paper defines, with robot penetration ``r`` and human capital ``h`` min-max scaled to
[0, 1],

.. math::

    U = \\frac{2\\sqrt{r h}}{r + h},\\qquad V = \\frac{r + h}{2},\\qquad
    hmatch = \\sqrt{U V}.

sympy shows ``U V = sqrt(r h)``, so ``hmatch = (r h)^{1/4}``: a Cobb-Douglas *level* index
with elasticity 1/4 in each input, not a measure of balance (``U`` alone is the balance part).
:func:`hmatch_analysis` derives this and the index's bounds, symmetry, behaviour at zero and a
quantified level-versus-balance decomposition; :func:`hmatch` evaluates it on arrays.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

__all__ = ["hmatch", "hmatch_analysis", "hmatch_exprs", "GRID"]

r, h = sp.symbols("r h", nonnegative=True)
rp, hp = sp.symbols("r h", positive=True)
t = sp.Symbol("t", positive=True)

#: Midpoint grid size for the numeric level-versus-balance decomposition.
GRID = 400


@functools.lru_cache(maxsize=1)
def hmatch_exprs() -> dict:
    """The printed definition and the derived closed form as sympy objects."""
    U = 2 * sp.sqrt(rp * hp) / (rp + hp)
    V = (rp + hp) / 2
    printed = sp.sqrt(U * V)
    closed = sp.simplify(sp.powsimp(sp.expand_power_base(printed, force=True), force=True))
    return {"U": U, "V": V, "printed": printed, "closed_form": closed,
            "UV": sp.simplify(U * V)}


@functools.lru_cache(maxsize=1)
def _closed_fn():
    e = hmatch_exprs()
    quarter = sp.Rational(1, 4)
    if not sp.simplify(e["closed_form"] - (rp * hp) ** quarter) == 0:  # pragma: no cover
        raise AssertionError("hmatch closed form is not (r h)^(1/4)")
    return sp.lambdify((rp, hp), e["closed_form"], "numpy")


def hmatch(robot, hum):
    """Human-machine matching index (23) on arrays, from the derived closed form (r h)^(1/4).

    Parameters
    ----------
    robot, hum : array_like
        Min-max scaled robot penetration and human capital, in [0, 1] (broadcast together).

    Returns
    -------
    numpy.ndarray
        ``sqrt(U V) = (robot * hum) ** 0.25``; 0 where either input is 0 (the continuous
        extension: the printed ``U`` is 0/0 at ``robot = hum = 0``).

    Notes
    -----
    hmatch_it = sqrt(U V), U = 2 sqrt(robot hum)/(robot + hum), V = (robot + hum)/2 (paper eq. 23).
    """
    r_, h_ = np.broadcast_arrays(np.asarray(robot, dtype=float), np.asarray(hum, dtype=float))
    if np.any(r_ < 0) or np.any(h_ < 0):
        raise ValueError("hmatch inputs must be non-negative (min-max scaled to [0, 1])")
    return np.asarray(_closed_fn()(r_, h_), dtype=float)


@functools.lru_cache(maxsize=1)
def hmatch_analysis() -> dict:
    """Closed form, bounds, symmetry, zero behaviour and level-versus-balance of (23).

    Returns
    -------
    dict with LaTeX strings and computed values under ``closed_form``, ``bounds``,
    ``symmetric``, ``at_zero``, ``level_vs_balance`` and ``claims`` (same shape as
    :func:`robocarbon.theory.claims.check_claims`).
    """
    e = hmatch_exprs()
    U, V, printed, closed = e["U"], e["V"], e["printed"], e["closed_form"]
    quarter = sp.Rational(1, 4)
    uv_ok = sp.simplify(e["UV"] - sp.sqrt(rp * hp)) == 0
    closed_ok = sp.simplify(closed - (rp * hp) ** quarter) == 0
    symmetric = sp.simplify(printed - printed.subs({rp: hp, hp: rp}, simultaneous=True)) == 0
    # bounds on [0,1]^2: increasing in both inputs (elasticities 1/4), so min 0 at an axis and
    # max 1 at (1, 1); U is GM/AM in [0, 1] (AM-GM), V in [0, 1]
    el_r = sp.simplify(rp * sp.diff(sp.log(closed), rp))
    el_h = sp.simplify(hp * sp.diff(sp.log(closed), hp))
    at_11 = closed.subs({rp: 1, hp: 1})
    lim_axis = sp.limit(closed.subs(hp, sp.Rational(1, 2)), rp, 0, "+")
    amgm = sp.factor(sp.simplify((rp + hp) ** 2 - 4 * rp * hp))  # (r - h)^2 >= 0  =>  U <= 1
    # behaviour at zero: U along h = t r depends on t (no limit); hmatch -> 0 on every path
    U_path = sp.simplify(U.subs(hp, t * rp))
    hm_path = sp.limit(closed.subs(hp, t * rp), rp, 0, "+")
    # level versus balance, quantified
    diag = sp.simplify(closed.subs(hp, rp))  # balanced inputs r = h: hmatch = sqrt(r)
    v = sp.Symbol("v", positive=True)
    max_at_level = sp.simplify(closed.subs({rp: v, hp: v}))  # at fixed V = v, max at r = h = v
    ex_bal = float(closed.subs({rp: sp.Rational(1, 10), hp: sp.Rational(1, 10)}))
    ex_unbal = float(closed.subs({rp: 1, hp: sp.Rational(1, 5)}))
    n = GRID
    g = (np.arange(n) + 0.5) / n
    R_, H_ = np.meshgrid(g, g, indexing="ij")
    lnU = np.log(2.0) + 0.5 * np.log(R_) + 0.5 * np.log(H_) - np.log(R_ + H_)
    lnV = np.log((R_ + H_) / 2.0)
    lnhm = 0.5 * lnU + 0.5 * lnV
    var = float(np.var(lnhm))
    share_level = float(np.mean((lnhm - lnhm.mean()) * 0.5 * (lnV - lnV.mean())) / var)
    share_balance = float(np.mean((lnhm - lnhm.mean()) * 0.5 * (lnU - lnU.mean())) / var)
    hm = np.exp(lnhm)
    corr_V = float(np.corrcoef(hm.ravel(), np.exp(lnV).ravel())[0, 1])
    corr_U = float(np.corrcoef(hm.ravel(), np.exp(lnU).ravel())[0, 1])
    lx = sp.latex
    out = {
        "definition": r"hmatch = \sqrt{U V},\quad U = " + lx(U) + r",\quad V = " + lx(V),
        "closed_form": {"UV": lx(e["UV"]), "hmatch": lx(closed), "verified": bool(uv_ok and closed_ok),
                        "method": "symbolic"},
        "bounds": {"range": [0.0, 1.0], "max_at": [1.0, 1.0], "value_at_max": float(at_11),
                   "zero_when": "robot = 0 or hum = 0", "elasticity_robot": lx(el_r),
                   "elasticity_hum": lx(el_h), "U_le_1_because": lx(amgm) + r" \ge 0",
                   "limit_on_axis": float(lim_axis), "method": "symbolic"},
        "symmetric": bool(symmetric),
        "at_zero": {"U_along_h_eq_t_r": lx(U_path), "U_has_limit": not U_path.has(t),
                    "hmatch_limit": float(hm_path),
                    "note": "U is 0/0 at robot = hum = 0 and its limit depends on the path "
                            "(h = t r gives 2 sqrt(t)/(1+t)); hmatch itself tends to 0 on every "
                            "path, so hmatch(0, 0) = 0 is the continuous extension. A literal "
                            "implementation of U gives NaN there."},
        "level_vs_balance": {
            "balanced_diagonal": lx(diag), "max_at_fixed_level_v": lx(max_at_level),
            "example_balanced_0.1_0.1": ex_bal, "example_unbalanced_1_0.2": ex_unbal,
            "share_var_ln_hmatch_from_level_V": share_level,
            "share_var_ln_hmatch_from_balance_U": share_balance,
            "corr_hmatch_V": corr_V, "corr_hmatch_U": corr_U,
            "method": f"symbolic; numeric(midpoint grid {n}x{n}, robot and hum independent uniform on [0, 1])",
        },
    }
    out["claims"] = [
        {"id": "hmatch_closed_form", "statement": "hmatch = sqrt(U V) simplifies to (robot x hum)^(1/4).",
         "holds": "yes" if out["closed_form"]["verified"] else "no",
         "conditions": "robot, hum >= 0; at robot = hum = 0 by continuity (U itself has no limit there).",
         "derivation": r"U V = " + lx(e["UV"]) + r",\quad hmatch = " + lx(closed), "method": "symbolic"},
        {"id": "hmatch_bounds_symmetry",
         "statement": "hmatch lies in [0, 1] on [0, 1] inputs and is symmetric in robot and hum.",
         "holds": "yes" if symmetric and float(at_11) == 1.0 else "no",
         "conditions": "Inputs min-max scaled to [0, 1]. 0 whenever either input is 0 (the city-year "
                       "with the lowest robot penetration gets hmatch = 0 whatever its human capital); "
                       "1 only at robot = hum = 1.",
         "derivation": r"\frac{\partial \ln hmatch}{\partial \ln r} = " + lx(el_r)
                       + r",\quad \frac{\partial \ln hmatch}{\partial \ln h} = " + lx(el_h)
                       + r",\quad hmatch(1,1) = " + lx(at_11), "method": "symbolic"},
        {"id": "hmatch_measures_balance",
         "statement": "hmatch measures the match (balance) between robots and human capital.",
         "holds": "no",
         "conditions": (
             "It is a level index: (r h)^(1/4) rises with either input, never penalises imbalance "
             f"at a given product, and a balanced pair (0.1, 0.1) scores {ex_bal:.3f} below an "
             f"unbalanced pair (1, 0.2) at {ex_unbal:.3f}. With independent uniform inputs, "
             f"{100 * share_level:.0f}% of the variance of ln hmatch comes from the level V and "
             f"{100 * share_balance:.0f}% from the balance U. Because hmatch contains robot^(1/4), the "
             "mechanism regression's robot x hmatch term is partly a nonlinearity in robot itself."),
         "derivation": r"hmatch\big|_{r=h} = " + lx(diag) + r",\quad \max_{r+h=2v} hmatch = " + lx(max_at_level),
         "method": out["level_vs_balance"]["method"]},
    ]
    return out
