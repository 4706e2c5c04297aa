"""Derive the paper's equations (1)-(17) from the primitives, step by step, with checks.

Nothing here is transcribed from the paper: every expression is obtained from a
:class:`~robocarbon.theory.primitives.Primitives` object by cost minimisation, the demand of the
Cobb-Douglas aggregator, market clearing and the numeraire. Each step records how it was
checked:

- ``"symbolic"``: a sympy difference simplifies to exactly zero (integrals of the general
  functions ``gamma_m``, ``gamma_L`` are handled by linearity and stay unevaluated);
- ``"numeric(n points)"``: sympy cannot close the step (it involves integrals of general
  functions), so it is checked at ``n`` random admissible parameter points with concrete
  productivity functions, integrating over tasks with ``scipy.integrate.quad``.

The main entry is :func:`derivation` (cached per primitives object).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import primitives as P
from .primitives import PAPER, Primitives

__all__ = [
    "Derivation", "derivation", "is_zero", "integrate_linear", "cost_function",
    "numeric_checks", "NUMERIC_POINTS", "tidy", "solve_linear", "without_integrals",
]

#: Number of random admissible points in the numeric checks of integral steps.
NUMERIC_POINTS = 200

lnY = sp.Symbol("lnY", real=True)


def _canon(expr):
    """Expand products and logs (every quantity, price and measure is positive)."""
    ex = sp.expand_log(sp.sympify(expr), force=True)
    ex = sp.expand(ex, power_exp=False, power_base=False, multinomial=False)
    return sp.expand(sp.expand_log(ex, force=True), power_exp=False, power_base=False)


def _tidy_coef(c):
    c = sp.sympify(c)
    cands = [sp.expand(c), sp.expand(P.unit_measure(c)), sp.expand(c.xreplace({P.s_r: 1 - P.s_l}))]
    if sp.count_ops(cands[0]) > 40:  # large coefficients: keep it cheap
        return min(cands, key=lambda z: (sp.count_ops(z), len(str(z))))
    cands += [sp.factor_terms(z) for z in cands]
    if any(isinstance(t, sp.Pow) and t.exp.is_negative for t in sp.preorder_traversal(c)):
        cands += [sp.factor_terms(sp.cancel(P.unit_measure(c)))]
    return min(cands, key=lambda z: (sp.count_ops(z), len(str(z))))


def tidy(expr, extra=()):
    """Collect on logs and integrals (and the symbols ``extra``) and write each coefficient in
    its shortest form, using the unit length of the task interval (``s_r + s_l = 1``)."""
    expr = sp.expand(sp.sympify(expr))
    atoms = sorted(expr.atoms(sp.log, sp.Integral), key=str) + [a_ for a_ in extra if expr.has(a_)]
    if not atoms:
        return _tidy_coef(expr)
    parts = sp.collect(expr, atoms, evaluate=False)
    return sp.Add(*[_tidy_coef(c) * key for key, c in parts.items()])


def is_zero(expr) -> bool:
    """True when ``expr`` simplifies to exactly zero.

    Logs are expanded with positive arguments (all quantities, prices and the interval measures
    ``s_r``, ``s_l`` are positive); if that does not close it, the unit length of the task
    interval (``s_l = 1 - s_r``) is imposed, and finally ``sympy.simplify`` is tried.
    """
    if isinstance(expr, sp.Tuple | tuple | list):
        return all(is_zero(e) for e in expr)
    expr = sp.sympify(expr)
    ex = _canon(expr)
    if ex == 0:
        return True
    ex = _canon(P.unit_measure(ex))
    if ex == 0:
        return True
    ex = sp.expand(sp.expand_log(sp.powsimp(ex, force=True), force=True))
    if ex == 0:
        return True
    if _probe_nonzero(ex):  # a non-zero value at one admissible point settles it quickly
        return False
    return without_integrals(sp.simplify, ex) == 0


def without_integrals(fn, expr):
    """Apply ``fn`` with every Integral replaced by a dummy symbol (so sympy never tries to
    evaluate integrals of the general functions gamma_m, gamma_L), then put them back."""
    ints = sorted(sp.sympify(expr).atoms(sp.Integral), key=str)
    fwd = {i_: sp.Dummy(f"int{k_}") for k_, i_ in enumerate(ints)}
    out = fn(sp.sympify(expr).xreplace(fwd))
    return out.xreplace({v: k_ for k_, v in fwd.items()})


def solve_linear(eq, unknown):
    """Solve an equation that is linear in ``unknown`` (no general-purpose solver involved)."""
    ex = sp.expand(eq.lhs - eq.rhs if isinstance(eq, sp.Eq) else eq)
    if not unknown.is_Symbol:
        dummy = sp.Dummy("u")
        return solve_linear(ex.xreplace({unknown: dummy}), dummy).xreplace({dummy: unknown})
    coef = sp.expand(sp.diff(ex, unknown))
    if coef == 0 or coef.has(unknown):
        raise ValueError(f"equation is not linear in {unknown}")
    return -ex.subs(unknown, 0) / coef


def _probe_nonzero(ex, tol=1e-9) -> bool:
    """True if ``ex`` is clearly non-zero at a fixed admissible point.

    Integrals and values of the general functions are replaced by fixed positive numbers
    (they enter the residuals as independent atoms), N = 1.3 and I = 0.7 (so both task sets
    have positive measure), every other symbol by a number in (0.05, 0.3). Only ever used to
    reject: zero is established symbolically.
    """
    import random

    rnd = random.Random(20260501)
    reps = {a_: rnd.uniform(0.1, 0.5) for a_ in sorted(ex.atoms(sp.Integral), key=str)}
    ex2 = ex.xreplace(reps)
    funcs = sorted(ex2.atoms(sp.core.function.AppliedUndef), key=str)
    ex2 = ex2.xreplace({f: rnd.uniform(0.5, 2.0) for f in funcs})
    vals = {P.N: 1.3, P.I: 0.7}
    for sym in sorted(ex2.free_symbols, key=str):
        vals.setdefault(sym, rnd.uniform(0.05, 0.3))
    try:
        val = complex(ex2.xreplace(vals).evalf())
    except (TypeError, ValueError):  # pragma: no cover - cannot evaluate: fall back to simplify
        return False
    return abs(val) > tol


def integrate_linear(expr: sp.Expr, lo, hi, measure, var=P.x) -> sp.Expr:
    """``int_lo^hi expr d var`` by linearity.

    Terms free of ``var`` give ``term * measure`` (``measure`` is the interval length,
    ``hi - lo``, passed as a positive symbol); terms in ``var`` (e.g. ``log(gamma_m(x))``) stay
    as unevaluated integrals with their coefficient.
    """
    out = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        coef, dep = term.as_independent(var, as_Add=False)
        if dep == 1:
            out += coef * measure
        else:
            out += coef * sp.Integral(dep, (var, lo, hi))
    return out


def cost_function(tech_exponents, prices, gamma, y_out):
    """Cost minimisation for a Cobb-Douglas task technology.

    Minimise ``sum_j price_j q_j`` subject to ``gamma prod_j q_j**a_j = y``. The Lagrangian's
    first-order conditions ``price_j = lambda a_j y / q_j`` give the conditional demands
    ``q_j = lambda a_j y / price_j``; substituting them into the constraint fixes ``lambda``:
    ``lambda**sigma = y**(1 - sigma) / (gamma prod_j (a_j/price_j)**a_j)``, ``sigma = sum a_j``.

    Returns
    -------
    dict with ``demands`` (list), ``multiplier`` (lambda), ``cost`` (total cost ``C(y)``),
    ``marginal_cost`` (``dC/dy``), ``crs`` (bool), ``sigma``.
    """
    a = [sp.sympify(v) for v in tech_exponents]
    sigma = sp.simplify(sum(a))
    crs = bool(sp.simplify(sigma - 1) == 0)
    unit = sp.Mul(*[(pj / aj) ** aj for aj, pj in zip(a, prices)]) / gamma
    lam = unit if crs else (y_out ** (1 - sigma) * unit) ** (1 / sigma)
    demands = [lam * aj * y_out / pj for aj, pj in zip(a, prices)]
    cost = (lam * y_out) if crs else sigma * lam * y_out  # sum_j p_j q_j = lambda y sum_j a_j
    mc = sp.diff(cost, y_out)
    return {"demands": demands, "multiplier": lam, "cost": cost, "marginal_cost": mc,
            "crs": crs, "sigma": sigma}


@dataclass
class Derivation:
    """All derived objects of one primitives object, and the record of how each was checked.

    Expressions are stored with the interval measures as the positive symbols ``s_r``
    (``= I - N + 1``) and ``s_l`` (``= N - I``); use :func:`robocarbon.theory.primitives.to_paper`
    to display them in the paper's notation.
    """

    primitives: Primitives
    exprs: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)

    def add(self, eq_id, name, expr, residual=None, method="symbolic", note=""):
        """Record a step; ``residual`` (if given) must simplify to zero."""
        ok = None
        if residual is not None:
            ok = is_zero(residual)
        self.exprs[name] = expr
        self.steps.append({"equation": eq_id, "name": name, "expr": expr, "method": method,
                           "ok": ok, "note": note})
        return expr

    def __getitem__(self, name):
        return self.exprs[name]


@functools.lru_cache(maxsize=32)
def derivation(prim: Primitives = PAPER) -> Derivation:
    """Derive equations (1)-(17) from ``prim`` (cached; treat the result as read-only)."""
    d = Derivation(prim)
    x, Y, K, L, M, E = P.x, P.Y, P.K, P.L, P.M, P.E
    R, W, P_m, P_e, Pidx = P.R, P.W, P.P_m, P.P_e, P.P
    s, u = prim.robot_measure, prim.labour_measure
    lo, mid, hi = P.N - 1, P.I, P.N
    a_k, a_m, a_e = prim.robot_exponents
    b_k, b_l, b_e = prim.labour_exponents

    def robot_int(ex):
        return integrate_linear(ex, lo, mid, s)

    def labour_int(ex):
        return integrate_linear(ex, mid, hi, u)

    # (1) aggregator (definition) and (2) technologies (assumption)
    d.add("1", "aggregator", sp.Eq(sp.log(Y), sp.Integral(sp.log(P.y(x)), (x, lo, hi))))
    y_m = d.add("2", "y_robot", prim.technology("robot"))
    y_L = d.add("2", "y_labour", prim.technology("labour"))

    # cost minimisation per task type -> (7) cost, (8) price = marginal cost
    ybar = sp.Symbol("y", positive=True)  # task output level in the cost function
    cm = cost_function((a_k, a_m, a_e), (R, P_m, P_e), prim.gamma_m(x), ybar)
    cl = cost_function((b_k, b_l, b_e), (R, W, P_e), prim.gamma_L(x), ybar)
    for tag, c, tech, ins, prices in (
        ("robot", cm, y_m, (P.k, P.m, P.e), (R, P_m, P_e)),
        ("labour", cl, y_L, (P.k, P.l, P.e), (R, W, P_e)),
    ):
        sub = dict(zip(ins, c["demands"]))
        d.add("7", f"cost_constraint_{tag}", sp.Eq(tech.subs(sub), ybar),
              residual=sp.log(tech.subs(sub)) - sp.log(ybar),
              note="the conditional demands deliver the required task output")
        d.add("7", f"cost_foc_{tag}", sp.Tuple(*c["demands"]),
              residual=sp.Tuple(*[sp.log(pr) - sp.log((c["multiplier"] * sp.diff(tech, q)).subs(sub))
                                  for pr, q in zip(prices, ins)]),
              note="price of each input = multiplier x marginal product at the demands")
    d.exprs["crs"] = cm["crs"] and cl["crs"]
    d.add("7", "cost_robot", cm["cost"])
    d.add("7", "cost_labour", cl["cost"])
    d.add("8", "price_robot", cm["marginal_cost"])
    d.add("8", "price_labour", cl["marginal_cost"])
    d.exprs["cost_output_symbol"] = ybar

    # (9) demand of the Cobb-Douglas aggregator: max int ln y s.t. int p y = P Y.
    # Pointwise FOC 1/y(x) = lambda p(x)  =>  p(x) y(x) = 1/lambda for every x; the budget
    # integrates 1/lambda over [N-1, N], of length one, so 1/lambda = P Y.
    lam = sp.Symbol("lambda", positive=True)
    yx = sp.Symbol("y_x", positive=True)
    px = sp.Symbol("p_x", positive=True)
    foc_y = sp.diff(sp.log(yx) - lam * px * yx, yx)
    # 1/y - lambda p = 0 is linear in 1/y
    inv_y = sp.Symbol("inv_y", positive=True)
    y_star = 1 / solve_linear(sp.Eq(foc_y.subs(yx, 1 / inv_y), 0), inv_y)
    budget = sp.Eq(integrate_linear(px * y_star, lo, hi, hi - lo), Pidx * Y)
    lam_star = 1 / solve_linear(budget.subs(lam, 1 / inv_y), inv_y)
    spend = sp.simplify(px * y_star.subs(lam, lam_star))
    d.add("9", "task_spending", sp.Eq(px * yx, spend), residual=spend - Pidx * Y,
          note="p(x) y(x) = P Y: each task receives the same spending")
    # ideal price index: ln Y = int ln y = int [ln P + ln Y - ln p]  =>  int ln p = ln P
    int_lnp = sp.Integral(sp.log(P.p(x)), (x, lo, hi))
    lnY_from_demand = integrate_linear(sp.log(Pidx) + sp.log(Y), lo, hi, hi - lo) - int_lnp
    price_index = solve_linear(sp.Eq(sp.log(Y), lnY_from_demand), int_lnp)
    d.add("10", "price_index", sp.Eq(int_lnp, price_index), residual=price_index - sp.log(Pidx),
          note="int ln p(x) dx = ln P: (10) holds exactly when the price index is the numeraire")

    # equilibrium with the numeraire P = 1: factor payment = exponent x p(x) y(x) = exponent x Y
    # (value marginal product = factor price), then market clearing fixes the factor prices
    pay = {"k_robot": a_k * Y, "k_labour": b_k * Y, "m": a_m * Y, "l": b_l * Y,
           "e_robot": a_e * Y, "e_labour": b_e * Y}
    R_eq = (robot_int(pay["k_robot"]) + labour_int(pay["k_labour"])) / K
    Pm_eq = robot_int(pay["m"]) / M
    W_eq = labour_int(pay["l"]) / L
    Pe_eq = (robot_int(pay["e_robot"]) + labour_int(pay["e_labour"])) / E
    prices = {R: tidy(R_eq), P_m: tidy(Pm_eq), W: tidy(W_eq), P_e: tidy(Pe_eq)}
    R_eq, Pm_eq, W_eq, Pe_eq = prices[R], prices[P_m], prices[W], prices[P_e]
    d.exprs["factor_prices"] = prices
    alloc = {"k_robot": pay["k_robot"] / R_eq, "k_labour": pay["k_labour"] / R_eq,
             "m": pay["m"] / Pm_eq, "l": pay["l"] / W_eq,
             "e_robot": pay["e_robot"] / Pe_eq, "e_labour": pay["e_labour"] / Pe_eq}
    alloc = {key: tidy(sp.cancel(v)) for key, v in alloc.items()}
    d.exprs["allocations"] = alloc
    # the value-marginal-product demands are the cost-minimising ones at p(x) = MC(x)
    if d.exprs["crs"]:
        for tag, c, keys in (("robot", cm, ("k_robot", "m", "e_robot")),
                             ("labour", cl, ("k_labour", "l", "e_labour"))):
            y_task = Y / c["marginal_cost"]  # (9): y(x) = Y / p(x)
            res = [sp.log(q.subs(ybar, y_task)) - sp.log(pay[key] / pr)
                   for q, key, pr in zip(c["demands"], keys, (R, P_m if tag == "robot" else W, P_e))]
            d.add("3-6", f"demands_consistent_{tag}", sp.Tuple(*[pay[key] for key in keys]),
                  residual=sp.Tuple(*res),
                  note="p(x) dy/dq = price_q with p(x) y(x) = Y gives the cost-minimising demands")
    for name, sup, parts in (
        ("capital", K, (robot_int(alloc["k_robot"]), labour_int(alloc["k_labour"]))),
        ("robots", M, (robot_int(alloc["m"]),)),
        ("labour", L, (labour_int(alloc["l"]),)),
        ("energy", E, (robot_int(alloc["e_robot"]), labour_int(alloc["e_labour"]))),
    ):
        tot = sum(parts)
        d.add("3-6", f"clearing_{name}", sp.Eq(tot, sup), residual=tot - sup,
              note="allocations integrate back to the supply")
    shares = {"capital": tidy(R_eq * K / Y), "labour": tidy(W_eq * L / Y),
              "robots": tidy(Pm_eq * M / Y), "energy": tidy(Pe_eq * E / Y)}
    d.add("3", "share_capital", shares["capital"])
    d.add("4", "share_labour", shares["labour"])
    d.add("5", "share_robots", shares["robots"])
    d.add("6", "share_energy", shares["energy"])
    d.add("3-6", "share_total", sp.factor(sp.expand(P.unit_measure(sum(shares.values())))))
    d.exprs["shares"] = shares

    # (11) int ln p(x) dx = 0 with p(x) from (8), factor prices still symbols
    lnp_m = _canon(sp.log(cm["marginal_cost"]))
    lnp_L = _canon(sp.log(cl["marginal_cost"]))
    d.add("11", "eq11_lhs", sp.Integral(lnp_m, (x, lo, mid)) + sp.Integral(lnp_L, (x, mid, hi)))
    d.exprs["eq11_linear"] = robot_int(lnp_m) + labour_int(lnp_L)
    d.exprs["lnp_robot"], d.exprs["lnp_labour"] = lnp_m, lnp_L
    # (12) substitute the factor prices (3)-(6)
    lnp_m12 = _canon(lnp_m.subs(prices))
    lnp_L12 = _canon(lnp_L.subs(prices))
    d.add("12", "eq12_lhs", sp.Integral(lnp_m12, (x, lo, mid)) + sp.Integral(lnp_L12, (x, mid, hi)))
    eq12_lin = robot_int(lnp_m12) + labour_int(lnp_L12)
    d.exprs["eq12_linear"] = eq12_lin
    d.exprs["lnp12_robot"], d.exprs["lnp12_labour"] = lnp_m12, lnp_L12
    # (13) solve (12) = 0 for ln Y (route 1, through prices); it is linear in ln Y
    lin = sp.expand(P.unit_measure(_canon(eq12_lin).subs(sp.log(Y), lnY)))
    c1 = sp.expand(sp.diff(lin, lnY))
    route1 = sp.expand(-lin.subs(lnY, 0) / c1) if c1 != 0 else None
    int_m = sp.Integral(sp.log(prim.gamma_m(x)), (x, lo, mid))
    int_L = sp.Integral(sp.log(prim.gamma_L(x)), (x, mid, hi))
    d.exprs["int_gamma_m"], d.exprs["int_gamma_L"] = int_m, int_L
    # route 2: integrate ln y(x) over tasks at the market-clearing allocations, i.e. (1)
    lny_m = _canon(sp.log(y_m.subs({P.k: alloc["k_robot"], P.m: alloc["m"], P.e: alloc["e_robot"]})))
    lny_L = _canon(sp.log(y_L.subs({P.k: alloc["k_labour"], P.l: alloc["l"], P.e: alloc["e_labour"]})))
    route2 = tidy(robot_int(lny_m) + labour_int(lny_L))
    d.exprs["lny_robot_task"], d.exprs["lny_labour_task"] = lny_m, lny_L
    if route1 is not None and d.exprs["crs"]:
        d.add("13", "lnY_route_prices", route1, residual=route1 - route2,
              note="solving (12) for ln Y agrees with integrating (1) at the allocations")
    d.add("13", "lnY", route2)
    # (14) Y and A; (15) TFP as the Solow residual with the derived shares as weights
    lnA = int_m + int_L
    d.add("14", "lnA", lnA)
    d.add("14", "Y", sp.exp(route2))
    solow_index = sum(sh * sp.log(q) for sh, q in
                      ((shares["capital"], K), (shares["robots"], M), (shares["labour"], L),
                       (shares["energy"], E)))
    lnTFP = tidy(route2 - solow_index)
    d.add("15", "lnTFP", lnTFP)
    # (16)-(17) carbon intensity = emissions / output
    ln_indco = tidy(_canon(sp.log(prim.emission_factor * E)) - route2)
    d.add("16", "indco", prim.emission_factor * E / sp.exp(route2))
    d.add("17", "ln_indco", ln_indco)
    # gamma_0: what is left of ln indco after the printed slope terms and -ln A
    printed_slopes = (-lnA - P.beta * s * sp.log(M) - P.beta * u * sp.log(L)
                      - P.alpha * sp.log(K) + (P.alpha + P.beta) * sp.log(E))
    d.add("17", "gamma_0", tidy(ln_indco - printed_slopes))
    # comparative statics used by the claims
    d.exprs["elasticity_Y"] = {q: tidy(q * sp.diff(route2, q)) for q in (K, L, M, E)}
    d.exprs["elasticity_indco_M"] = tidy(M * sp.diff(ln_indco, M))
    # d ln Y / dI: the moving limits of the integrals plus s_r = I - N + 1, s_l = N - I
    rest = route2 - lnA
    boundary = sp.diff(P.to_paper(lnA), P.I).doit()
    d.exprs["dlnY_dI"] = tidy(boundary + sp.diff(rest, s) - sp.diff(rest, u))
    return d


# ------------------------------------------------------------------------------------------
# numeric checks of the steps that involve integrals of the general functions gamma_m, gamma_L
# ------------------------------------------------------------------------------------------

def _concrete_gammas(c0, c1, c2):
    """Concrete positive productivity functions used by the numeric checks."""
    gm = sp.Lambda(P.x, sp.exp(c0 + c1 * P.x))
    gl = sp.Lambda(P.x, 1 + c2 * (P.x - P.N + 1) ** 2)
    return gm, gl


def _draw(rng, n):  # noqa: D401
    """Random admissible parameter points (paper primitives)."""
    a = rng.uniform(0.05, 0.6, n)
    b = rng.uniform(0.05, 0.95 - a, n) if n else a
    Nn = rng.uniform(0.5, 3.0, n)
    Ii = Nn - 1 + rng.uniform(0.02, 0.98, n)
    K, L, M, E = np.exp(rng.normal(0.0, 1.0, (4, n)))
    c0, c1, c2 = rng.normal(0, 0.5, n), rng.normal(0, 0.5, n), rng.uniform(0.1, 2.0, n)
    return a, b, Nn, Ii, K, L, M, E, c0, c1, c2


#: Gauss-Legendre nodes used for the integrals over tasks in the numeric checks.
QUADRATURE_NODES = 48


def _gauss(f, lo, hi, nodes, weights):
    """Vectorised Gauss-Legendre integral of ``f(x)`` over ``[lo, hi]`` (arrays of bounds)."""
    half = (hi - lo) / 2.0
    xs = lo[None, :] + half[None, :] * (nodes[:, None] + 1.0)
    return half * np.sum(weights[:, None] * f(xs), axis=0)


@functools.lru_cache(maxsize=8)
def numeric_checks(prim: Primitives = PAPER, n: int = NUMERIC_POINTS, seed: int = 20260501) -> dict:
    """Check the integral steps numerically at ``n`` random admissible points.

    With concrete ``gamma_m(x) = exp(c0 + c1 x)`` and ``gamma_L(x) = 1 + c2 (x - N + 1)^2``
    (random ``c``), integrating over tasks by Gauss-Legendre quadrature
    (:data:`QUADRATURE_NODES` nodes; the integrands are smooth, so this is exact to rounding):

    - ``"13"``: ln Y of (13) (``int ln gamma`` by quadrature) against ``int ln y(x) dx`` of (1)
      evaluated at the market-clearing allocations;
    - ``"10"``: ``int ln p(x) dx = 0`` with p(x) from (8) at the factor prices (3)-(6);
    - ``"9"``: ``p(x) y(x) = Y`` at every quadrature node.

    Returns {equation: {"method": "numeric(n points)", "max_abs_error": float, "ok": bool}};
    empty when the primitives have free parameters other than alpha and beta.
    """
    d = derivation(prim)
    if set(prim.parameters()) - {P.alpha, P.beta}:
        return {}
    rng = np.random.default_rng(seed)
    c0, c1, c2 = sp.symbols("c0 c1 c2", real=True)
    gm, gl = _concrete_gammas(c0, c1, c2)
    args = (P.alpha, P.beta, P.N, P.I, P.K, P.L, P.M, P.E, c0, c1, c2)

    def conc(ex):
        return P.to_paper(ex.replace(prim.gamma_m, gm).replace(prim.gamma_L, gl))

    def fn(ex, extra=()):
        return sp.lambdify((P.x,) + tuple(extra) + args, conc(ex), "numpy")

    lny_m, lny_L = fn(d["lny_robot_task"]), fn(d["lny_labour_task"])
    lngm, lngl = fn(sp.log(gm(P.x))), fn(sp.log(gl(P.x)))
    iA = sp.Symbol("intA")
    lnY13 = sp.lambdify(args + (iA,), conc(d["lnY"].xreplace({d["int_gamma_m"]: iA, d["int_gamma_L"]: 0})), "numpy")
    prices = d["factor_prices"]
    lnpm = fn(sp.log(d["price_robot"].subs(prices)), (P.Y,))
    lnpl = fn(sp.log(d["price_labour"].subs(prices)), (P.Y,))
    a = _draw(rng, n)
    Nn, Ii = a[2], a[3]
    # evaluate in complex arithmetic: for non-paper exponents sympy may write a positive log
    # argument as log(-1) + log(negative); the imaginary parts cancel in a correct identity
    a = (a[0].astype(complex), a[1].astype(complex)) + tuple(a[2:4]) + tuple(v.astype(complex) for v in a[4:])
    nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)

    def integ(f, lo, hi, *extra):
        return _gauss(lambda xs: f(xs, *extra, *a) + 0 * xs, lo, hi, nodes, weights)

    ilnA = integ(lngm, Nn - 1, Ii) + integ(lngl, Ii, Nn)
    lnY_a = lnY13(*a, ilnA)
    lnY_b = integ(lny_m, Nn - 1, Ii) + integ(lny_L, Ii, Nn)
    Yv = np.exp(lnY_a.real)
    ip = integ(lnpm, Nn - 1, Ii, Yv) + integ(lnpl, Ii, Nn, Yv)
    half_r, half_l = (Ii - Nn + 1) / 2, (Nn - Ii) / 2
    xr = (Nn - 1)[None, :] + half_r[None, :] * (nodes[:, None] + 1)
    xl = Ii[None, :] + half_l[None, :] * (nodes[:, None] + 1)
    e9 = max(np.max(np.abs(lnpm(xr, Yv, *a) + lny_m(xr, *a) - lnY_a)),
             np.max(np.abs(lnpl(xl, Yv, *a) + lny_L(xl, *a) - lnY_a)))
    errs = {"13": np.max(np.abs(lnY_a - lnY_b)), "10": np.max(np.abs(ip)), "9": e9}
    return {key: {"method": f"numeric({n} points)", "max_abs_error": float(v), "ok": bool(v < 1e-8)}
            for key, v in errs.items()}
