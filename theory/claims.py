"""The paper's comparative statics, each derived from the primitives and checked with its
conditions.

Every claim is a dict ``{id, statement, holds, conditions, derivation, method}`` where
``holds`` is ``"yes"``, ``"no"`` or ``"conditional"`` and ``derivation`` is LaTeX produced by
sympy from the same objects the tests check. :func:`check_claims` recomputes all of them from a
:class:`~robocarbon.theory.primitives.Primitives` object.

Energy regimes for the robot elasticity of carbon intensity:

- ``fixed_energy``: E is a fixed supply (the paper's (17) holds E fixed);
- ``priced_energy``: E is chosen optimally at a given price P_e (perfectly elastic supply);
- ``elastic_energy``: E is supplied with constant price elasticity ``eta``:
  ``ln P_e = ln P_0 + ln(E) / eta``; ``eta -> 0`` is fixed energy, ``eta -> oo`` a given price.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from . import primitives as P
from .derive import derivation, is_zero, solve_linear, tidy, without_integrals
from .primitives import PAPER, Primitives, to_paper

__all__ = ["check_claims", "energy_regimes", "automation_margin", "level_slope", "CLAIM_IDS", "eta", "robot"]

eta = sp.Symbol("eta", positive=True)       # price elasticity of energy supply
lnP0 = sp.Symbol("lnP_0", real=True)        # log level of the energy supply curve
lnPe = sp.Symbol("lnP_e", real=True)        # log of a given energy price
lnE, lnM = sp.symbols("lnE lnM", real=True)
robot = sp.Symbol("robot", positive=True)   # robot penetration (level), as in (18)
L0 = sp.Symbol("L_0", positive=True)        # base-year employment of the Bartik measure

CLAIM_IDS = (
    "robot_elasticity_fixed_energy", "factors_held_fixed", "energy_priced", "energy_elastic_supply",
    "energy_efficiency_channel", "automation_frontier", "robots_versus_tasks", "gamma_m_gt_gamma_L",
    "log_versus_level", "shares_sum_to_one", "gamma_0_sign",
)


def _lx(expr) -> str:
    if isinstance(expr, tuple | list):
        return r",\quad ".join(_lx(e) for e in expr)
    return sp.latex(to_paper(expr), order="old")


def _log_form(expr):
    """ln Y etc. with ln E and ln M as symbols (so E and M can be made endogenous)."""
    return sp.expand(expr).xreplace({sp.log(P.E): lnE, sp.log(P.M): lnM})


def _limit_rational_at_infinity(expr, var):
    """Limit of a rational function of ``var`` as ``var -> oo`` (from the degrees)."""
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    pn, pd = sp.Poly(num, var), sp.Poly(den, var)
    if pn.degree() < pd.degree():
        return sp.Integer(0)
    if pn.degree() == pd.degree():
        return sp.factor(pn.LC() / pd.LC())
    return sp.sign(pn.LC() / pd.LC()) * sp.oo


@functools.lru_cache(maxsize=32)
def energy_regimes(prim: Primitives = PAPER) -> dict:
    """The elasticity d ln(indco) / d ln(M) under the three energy regimes, derived.

    Returns
    -------
    dict with keys ``fixed_energy``, ``priced_energy``, ``elastic_energy`` (sympy expressions,
    the last in :data:`eta`), ``log_energy_priced`` (optimal ln E at a given ln P_e, symbol
    ``lnP_e``), ``log_intensity_priced`` (ln E/Y at the optimum) and the limits of the elastic
    case at ``eta -> 0`` and ``eta -> oo``.
    """
    d = derivation(prim)
    lnY = _log_form(d["lnY"])
    ln_theta = sp.log(prim.emission_factor)
    sigma_E = sp.diff(lnY, lnE)  # = energy share of (6) under constant returns
    out = {"fixed_energy": tidy(sp.diff(ln_theta + lnE - lnY, lnM))}
    # optimal energy: P_e = dY/dE = sigma_E Y / E  <=>  ln P_e = ln sigma_E + ln Y - ln E
    foc = sp.Eq(lnPe, sp.log(sigma_E) + lnY - lnE)
    lnE_star = solve_linear(foc, lnE)
    ln_int_star = tidy(sp.expand(ln_theta + lnE_star - lnY.subs(lnE, lnE_star)), (lnM, lnPe))
    out["log_energy_priced"] = tidy(lnE_star, (lnM, lnPe))
    out["log_intensity_priced"] = ln_int_star
    out["priced_energy"] = without_integrals(sp.simplify, sp.diff(ln_int_star, lnM))
    # finite supply elasticity: ln P_e = ln P_0 + ln E / eta on the supply side
    foc_eta = sp.Eq(lnP0 + lnE / eta, sp.log(sigma_E) + lnY - lnE)
    lnE_eta = solve_linear(foc_eta, lnE)
    ln_int_eta = ln_theta + lnE_eta - lnY.subs(lnE, lnE_eta)
    el = without_integrals(lambda e_: sp.factor(sp.cancel(e_)), sp.diff(ln_int_eta, lnM))
    out["elastic_energy"] = el
    out["elastic_limit_eta_0"] = sp.factor(sp.cancel(el.subs(eta, 0)))  # rational in eta, finite at 0
    out["elastic_limit_eta_oo"] = _limit_rational_at_infinity(el, eta)
    out["elastic_d_eta"] = sp.factor(sp.cancel(sp.diff(el, eta)))
    out["sigma_E"] = sigma_E
    return out


@functools.lru_cache(maxsize=32)
def automation_margin(prim: Primitives = PAPER) -> dict:
    """Raising the automation frontier I with M, L, K, E fixed.

    ``dlnY_dI`` is derived from (13) (moving integral limits and the measures I-N+1, N-I);
    ``cost_gap`` is ln p_L(I) - ln p_m(I), the log unit-cost advantage of robots at the
    marginal task at the equilibrium prices (3)-(6); the claim checks they are equal.
    """
    d = derivation(prim)
    dI = d["dlnY_dI"]
    prices = d["factor_prices"]
    pm = d["price_robot"].subs(prices).subs(P.x, P.I)
    pl = d["price_labour"].subs(prices).subs(P.x, P.I)
    gap = tidy(sp.expand(sp.expand_log(sp.log(pl) - sp.log(pm), force=True)))
    return {"dlnY_dI": dI, "dln_indco_dI": tidy(-dI), "cost_gap": gap,
            "equal": is_zero(dI - gap),
            "cross": tidy(sp.diff(P.to_paper(d["elasticity_indco_M"]), P.I))}


@functools.lru_cache(maxsize=32)
def level_slope(prim: Primitives = PAPER):
    """d ln(indco)/d robot when robot = M / L_0 (penetration in levels, as in (18))."""
    ln_indco = derivation(prim)["ln_indco"]
    return without_integrals(sp.simplify, sp.diff(ln_indco.subs({P.M: robot * L0}), robot))


@functools.lru_cache(maxsize=32)
def _claims(prim: Primitives):
    d = derivation(prim)
    reg = energy_regimes(prim)
    aut = automation_margin(prim)
    s, u, b = P.s_r, P.s_l, P.beta
    ln_indco = d["ln_indco"]
    el_M = d["elasticity_indco_M"]
    claims = []

    def add(cid, statement, holds, conditions, derivation_tex, method="symbolic"):
        claims.append({"id": cid, "statement": statement, "holds": holds,
                       "conditions": conditions, "derivation": derivation_tex, "method": method})

    # 1. the paper's sign claim
    printed_el = -b * s
    same = is_zero(el_M - printed_el)
    negative = bool((-el_M).is_positive)
    add("robot_elasticity_fixed_energy",
        "d ln(indco)/d ln(M) = -beta(I-N+1) < 0: more robots lower carbon intensity (text after (17)).",
        "conditional" if (same and negative) else ("conditional" if negative else "no"),
        "Holds as a partial derivative with K, L, E and I (hence A and the gamma functions) fixed, "
        "and with some tasks automated (I > N-1; at I = N-1 the effect is zero). Energy E must be a "
        "fixed supply: see energy_priced and energy_elastic_supply."
        + ("" if same else " The derived elasticity differs from the printed -beta(I-N+1)."),
        r"\frac{\partial \ln indco}{\partial \ln M} = " + _lx(el_M))

    # 2. which factors are held fixed: the total differential
    dK, dL, dM, dE, dI = sp.symbols(r"d\ln{K} d\ln{L} d\ln{M} d\ln{E} dI")
    total = sp.Add(*[sp.Mul(tidy(q * sp.diff(ln_indco, q)), dq, evaluate=False) for q, dq in
                     ((P.K, dK), (P.L, dL), (P.M, dM), (P.E, dE))],
                   sp.Mul(aut["dln_indco_dI"], dI, evaluate=False), evaluate=False)
    add("factors_held_fixed",
        "The robot effect -beta(I-N+1) is ceteris paribus: K, L, E and the automation frontier I are held fixed.",
        "yes",
        "Total differential of (17): every other margin (capital, labour, energy use, the set of "
        "automated tasks) moves ln(indco) too; an empirical robot coefficient equals "
        "-beta(I-N+1) only if robot penetration is uncorrelated with those margins given the "
        "controls.",
        r"d \ln indco = " + _lx(total))

    # 3. energy chosen optimally at a given price
    zero = is_zero(reg["priced_energy"])
    add("energy_priced",
        "Robots lower carbon intensity when energy is chosen optimally at a given price P_e.",
        "no" if zero else "conditional",
        "With P_e = dY/dE the energy share (6) fixes E/Y = (1-alpha-beta)/P_e: intensity depends "
        "on the energy price only, and the robot elasticity is "
        + ("exactly zero." if zero else "not zero for these primitives."),
        r"\ln indco^{*} = " + _lx(reg["log_intensity_priced"])
        + r",\quad \frac{\partial \ln indco^{*}}{\partial \ln M} = " + _lx(reg["priced_energy"]))

    # 4. finite supply elasticity
    el = reg["elastic_energy"]
    lim0, limoo = reg["elastic_limit_eta_0"], reg["elastic_limit_eta_oo"]
    neg_eta = (-el).is_positive
    add("energy_elastic_supply",
        "With an upward-sloping energy supply (price elasticity eta), more robots still lower carbon intensity.",
        "conditional" if neg_eta is not False else "no",
        ("" if neg_eta else "Sign not determined symbolically for these primitives. ")
        + "Negative for every finite eta, but smaller in magnitude than the paper's: it equals "
        "-beta(I-N+1) only at eta -> 0 (fixed energy) and vanishes as eta -> infinity (given "
        "price). Its magnitude falls monotonically in eta.",
        r"\frac{d \ln indco}{d \ln M} = " + _lx(el) + r",\quad \lim_{\eta\to 0} = " + _lx(lim0)
        + r",\quad \lim_{\eta\to\infty} = " + _lx(limoo)
        + r",\quad \frac{\partial}{\partial \eta} = " + _lx(reg["elastic_d_eta"]))

    # 5. the energy-efficiency reading
    el_Y = d["elasticity_Y"][P.M]
    add("energy_efficiency_channel",
        "Robots raise energy efficiency (the paper's reading of (17)).",
        "conditional",
        "In the model E/Y falls only because output rises with energy fixed: d ln Y/d ln M = "
        "beta(I-N+1), d ln E/d ln M = 0, and energy per task e(x) = E is unchanged. There is no "
        "energy-saving technical change; the effect is an output effect that exists only while "
        "energy is not re-optimised.",
        r"\frac{\partial \ln Y}{\partial \ln M} = " + _lx(el_Y)
        + r",\quad \frac{\partial \ln E}{\partial \ln M} = 0")

    # 6. raising I: automating more tasks
    add("automation_frontier",
        "Automating more tasks (raising I with robots M fixed) lowers carbon intensity.",
        "conditional",
        "Only if robots are cheaper than labour at the marginal task I: gamma_m(I) (M/(I-N+1))^beta "
        "> gamma_L(I) (L/(N-I))^beta, i.e. gamma_m(I)/P_m^beta > gamma_L(I)/W^beta. Raising I "
        "spreads the fixed robot stock over more tasks (M/(I-N+1) falls) and concentrates labour; "
        "d ln Y/dI equals the log unit-cost advantage of robots at I"
        + (" (verified symbolically)." if aut["equal"] else " (NOT equal for these primitives)."),
        r"\frac{\partial \ln indco}{\partial I} = " + _lx(aut["dln_indco_dI"])
        + r",\quad \frac{\partial \ln Y}{\partial I} = \ln\frac{p_L(I)}{p_m(I)} = " + _lx(aut["cost_gap"]))

    # 7. robots versus tasks
    add("robots_versus_tasks",
        "Using more robots (M) and automating more tasks (I) both lower carbon intensity.",
        "conditional",
        "The M margin lowers intensity for any gamma functions (E fixed); the I margin has the sign "
        "of the robots' cost advantage at I. The two interact: more automated tasks raise the "
        "magnitude of the robot elasticity by beta per unit of I.",
        r"\frac{\partial \ln indco}{\partial \ln M} = " + _lx(el_M)
        + r",\quad \frac{\partial^2 \ln indco}{\partial I\,\partial \ln M} = " + _lx(aut["cross"]))

    # 8. gamma_m > gamma_L
    free_of_gamma = not (el_M.has(prim.gamma_m) or el_M.has(prim.gamma_L))
    ex = {P.beta: sp.Rational(1, 2), P.M: 1, P.L: 10, s: sp.Rational(1, 2), u: sp.Rational(1, 2)}
    dI_num = aut["dlnY_dI"].subs(ex)
    gm_I, gL_I = prim.gamma_m(P.I), prim.gamma_L(P.I)
    counter = sp.N(dI_num.subs({gm_I: 2, gL_I: 1}))
    example = ""
    if counter.is_number:
        example = (f"Example: beta = 1/2, I-N+1 = 1/2, M = 1, L = 10, gamma_m(I) = 2 gamma_L(I) gives "
                   f"d ln Y/dI = {float(counter):.3f}{' < 0' if counter < 0 else ''}, so automating more "
                   f"tasks {'raises' if counter < 0 else 'lowers'} intensity. ")
    add("gamma_m_gt_gamma_L",
        "gamma_m > gamma_L (robots more productive than labour) is what makes robots reduce carbon intensity.",
        "no",
        "The robot elasticity -beta(I-N+1) does not involve gamma_m or gamma_L at all"
        + ("" if free_of_gamma else " (it does for these primitives)")
        + ". For the I margin gamma_m(I) > gamma_L(I) is neither necessary nor sufficient: what "
        "matters is gamma_m(I)/gamma_L(I) against (m/l)^(-beta) with m = M/(I-N+1), l = L/(N-I). "
        + example + "In the model gamma_m > gamma_L only bears on whether robots are used on "
        "[N-1, I] at all.",
        r"\frac{\partial}{\partial \gamma}\frac{\partial \ln indco}{\partial \ln M} = 0,\quad "
        r"\frac{\partial \ln Y}{\partial I} = " + _lx(aut["dlnY_dI"]))

    # 9. logs versus levels
    dl = level_slope(prim)
    add("log_versus_level",
        "The estimating equation (18), linear in robot penetration with a constant coefficient b1, is the theory's robot effect.",
        "no" if dl.has(robot) else "yes",
        "The theory is linear in ln M; (18) uses the level of penetration robot = M/L_0. Then "
        "d ln(indco)/d robot = -beta(I-N+1)/robot: the implied b1 is not constant but falls in "
        "magnitude with the penetration level, so a constant b1 is a weighted average of "
        "-beta(I-N+1)/robot over the sample (a local approximation), and beta(I-N+1) = -b1 x "
        "robot only at a given robot level.",
        r"\frac{d \ln indco}{d\, robot} = -\beta(I-N+1)\frac{d\ln M}{d\,robot} = " + _lx(dl))

    # 10. shares
    total_sh = d["share_total"]
    add("shares_sum_to_one",
        "The factor shares (3)-(6) sum to one.",
        "yes" if is_zero(total_sh - 1) else "no",
        "alpha + beta(N-I) + beta(I-N+1) + (1-alpha-beta) = 1 by constant returns in every task; "
        "no profits, so P_e E/Y and the other shares exhaust output.",
        r"\sum \text{shares} = " + " + ".join(r"\left(" + _lx(v) + r"\right)" for v in d["shares"].values())
        + " = " + _lx(total_sh))

    # 11. gamma_0's sign
    g0 = d["gamma_0"]
    g0_unit = sp.expand(P.unit_measure(g0))
    at_half = sp.expand_log(sp.expand(g0_unit.subs(s, sp.Rational(1, 2))), force=True)
    lim_lo = sp.limit(g0_unit, s, 0, "+") if g0_unit.free_symbols <= {P.beta, s} else sp.nan
    lim_hi = sp.limit(g0_unit, s, 1, "-") if g0_unit.free_symbols <= {P.beta, s} else sp.nan
    if g0_unit.free_symbols <= {P.beta, s}:
        f = sp.lambdify((P.beta, s), g0_unit, "numpy")
        grid = np.linspace(1e-6, 1 - 1e-6, 2001)
        sign_text = ("non-positive on the admissible range" if bool(np.all(f(1.0, grid) <= 1e-15))
                     else "not of one sign")
    else:
        sign_text = "not a constant for these primitives (it depends on " + ", ".join(
            sorted(str(v) for v in g0_unit.free_symbols - {P.beta, s})) + ")"
    add("gamma_0_sign",
        "gamma_0 = -beta(I-N+1)ln(I-N+1) - beta(N-I)ln(N-I) - (1-alpha-beta)ln(1-alpha-beta) as printed (a positive constant).",
        "no",
        "Derived gamma_0 = beta[s ln s + (1-s) ln(1-s)], s = I-N+1: "
        + sign_text
        + ", zero at the ends and -beta ln 2 at s = 1/2; the printed reading is positive. "
        "gamma_0 - ln A = -ln TFP.",
        r"\gamma_0 = " + _lx(g0) + r",\quad \gamma_0\big|_{s=1/2} = " + sp.latex(at_half)
        + r",\quad \lim_{s\to 0^+} = " + sp.latex(lim_lo) + r",\quad \lim_{s\to 1^-} = " + sp.latex(lim_hi),
        method="symbolic; numeric(grid of 2001 points for the sign)")
    return tuple(claims)


def check_claims(primitives: Primitives | None = None) -> list[dict]:
    """The paper's comparative statics, derived and checked from ``primitives``.

    Returns
    -------
    list of dict
        Keys ``id``, ``statement``, ``holds`` ("yes" | "no" | "conditional"), ``conditions``,
        ``derivation`` (LaTeX) and ``method``.
    """
    prim = PAPER if primitives is None else primitives
    return [dict(c) for c in _claims(prim)]
