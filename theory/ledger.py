"""A ledger of the paper's printed equations (1)-(17), each checked against the derivation.

For every equation the ledger holds the printed form (transcribed from the original text,
``paper/000_ffab1dc4b9154349.txt``, whose PDF extraction garbles some formulas; the reading used
is stated in the note), the form derived from the primitives (:mod:`.derive`), and a status:

- ``verified``: printed and derived forms agree (their difference simplifies to zero);
- ``typo``: they agree after an evident misprint is corrected (the note says which);
- ``wrong``: they do not agree; the note gives the correct expression;
- ``conditional``: they agree only under a stated condition;
- ``assumption`` / ``definition``: a primitive of the model or a definition (checked only for
  consistency with the primitives in use).

The status is computed, not typed: build the ledger from different primitives
(``build_ledger(PAPER.replace(...))``) and the statuses and derived forms change.
"""

from __future__ import annotations

import functools

import sympy as sp

from . import primitives as P
from .derive import derivation, integrate_linear, is_zero, numeric_checks, tidy
from .primitives import PAPER, Primitives, to_paper

__all__ = ["build_ledger", "equation_exprs", "printed_forms", "latex_of", "exp_form", "EQUATION_IDS",
           "STATUSES"]

EQUATION_IDS = tuple(str(i) for i in range(1, 18))
STATUSES = ("verified", "typo", "wrong", "conditional", "assumption", "definition")

a, b = P.alpha, P.beta
sr, sl = P.s_r, P.s_l
x, Y, K, L, M, E = P.x, P.Y, P.K, P.L, P.M, P.E
ae = 1 - a - b
lo, mid, hi = P.N - 1, P.I, P.N
ybar = sp.Symbol("y", positive=True)


def latex_of(expr) -> str:
    """LaTeX of an expression in the paper's notation (tuples joined by a comma and a quad;
    terms ordered as the paper writes them, e.g. ``N - I`` and ``1 - alpha - beta``)."""
    if isinstance(expr, sp.Tuple | tuple | list):
        return r",\quad ".join(latex_of(e) for e in expr)
    return sp.latex(to_paper(expr), order="old")


def _pw(robot, labour):
    return sp.Piecewise((robot, x <= P.I), (labour, True))


@functools.lru_cache(maxsize=1)
def printed_forms() -> dict:
    """The paper's printed equations as sympy objects (in the paper's own symbols).

    Interval lengths are written with the positive symbols ``s_r = I - N + 1`` and
    ``s_l = N - I`` (displayed as the paper writes them).
    """
    gm, gL = P.gamma_m(x), P.gamma_L(x)
    cost_core_m = (P.R / a) ** a * (P.P_m / b) ** b * (P.P_e / ae) ** ae
    cost_core_L = (P.R / a) ** a * (P.W / b) ** b * (P.P_e / ae) ** ae
    A_def = sp.exp(sp.Integral(sp.log(gm), (x, lo, mid)) + sp.Integral(sp.log(gL), (x, mid, hi)))
    integrand11_m = (a * sp.log(P.R) - a * sp.log(a) + b * sp.log(P.P_m) - b * sp.log(b)
                     + ae * sp.log(P.P_e) - ae * sp.log(ae) - sp.log(gm))
    integrand11_L = (a * sp.log(P.R) - a * sp.log(a) + b * sp.log(P.W) - b * sp.log(b)
                     + ae * sp.log(P.P_e) - ae * sp.log(ae) - sp.log(gL))
    integrand12_m = a * sp.log(Y / K) + b * sp.log(sr * Y / M) + ae * sp.log(Y / E) - sp.log(gm)
    integrand12_L = a * sp.log(Y / K) + b * sp.log(sl * Y / L) + ae * sp.log(Y / E) - sp.log(gL)
    lnY13 = (a * sp.log(K) + b * sr * sp.log(M) + b * sl * sp.log(L) + ae * sp.log(E)
             - b * sr * sp.log(sr) - b * sl * sp.log(sl)
             + sp.Integral(sp.log(gm), (x, lo, mid)) + sp.Integral(sp.log(gL), (x, mid, hi)))
    g0_printed = -b * sr * sp.log(sr) - b * sl * sp.log(sl) - ae * sp.log(ae)
    return {
        "1": sp.Eq(sp.log(Y), sp.Integral(sp.log(P.y(x)), (x, lo, hi))),
        "2": sp.Eq(P.y(x), _pw(gm * P.k ** a * P.m ** b * P.e ** ae, gL * P.k ** a * P.l ** b * P.e ** ae)),
        "3": sp.Eq(P.R * K / Y, a),
        "4": sp.Eq(P.W * L / Y, b * sl),
        "5": sp.Eq(P.P_m * M / Y, b * sr),
        "6": sp.Eq(P.P_m * E / Y, ae),
        "7": sp.Eq(sp.Function("c")(x), _pw(ybar / gm * cost_core_m, ybar / gL * cost_core_L)),
        "8": sp.Eq(P.p(x), _pw(cost_core_m / gm, cost_core_L / gL)),
        "9": sp.Eq(P.p(x) * P.y(x), Y),
        "10": sp.Eq(sp.Integral(sp.log(P.p(x)), (x, lo, hi)), 0),
        "11": sp.Eq(sp.Integral(integrand11_m, (x, lo, mid)) + sp.Integral(integrand11_L, (x, mid, hi)), 0),
        "12": sp.Eq(sp.Integral(integrand12_m, (x, lo, mid)) + sp.Integral(integrand12_L, (x, mid, hi)), 0),
        "13": sp.Eq(sp.log(Y), lnY13),
        "14": sp.Tuple(sp.Eq(Y, P.A * K ** a * (M / sr) ** (b * sr) * (L / sl) ** (b * sl) * E ** ae),
                       sp.Eq(P.A, A_def)),
        "15": sp.Eq(P.TFP, P.A * (1 / sr) ** (b * sr) * (1 / sl) ** (b * sl)),
        "16": sp.Eq(P.indco, E / Y),
        "17": sp.Tuple(sp.Eq(sp.log(P.indco), P.gamma_0 - sp.log(P.A) - b * sr * sp.log(M)
                             - b * sl * sp.log(L) - a * sp.log(K) + (a + b) * sp.log(E)),
                       sp.Eq(P.gamma_0, g0_printed)),
        "_A": A_def,
    }


# --- helpers -----------------------------------------------------------------------------------

def _lin(integral_sum):
    """Linearise a sum of Integral objects over the two task regions."""
    out = sp.Integer(0)
    for term in sp.Add.make_args(integral_sum):
        coef, integ = term.as_independent(sp.Integral, as_Add=False)
        if isinstance(integ, sp.Integral):
            (var, l0, h0), = integ.limits
            meas = sr if (l0, h0) == (lo, mid) else sl if (l0, h0) == (mid, hi) else h0 - l0
            out += coef * integrate_linear(integ.function, l0, h0, meas)
        else:
            out += term
    return out


def _pw_equal(pw1, pw2) -> bool:
    """Two Piecewise objects with the same conditions agree branch by branch (in logs)."""
    return all(is_zero(sp.log(e1) - sp.log(e2)) for (e1, _), (e2, _) in zip(pw1.args, pw2.args))


def exp_form(ln_expr, ln_a=None):
    """Write ``exp(ln_expr)`` as a product of powers: ``c log(q)`` terms become ``q**c``; the
    part equal to ``ln_a`` (if given) becomes the symbol ``A``; the rest stays in ``exp``."""
    ex = sp.expand(ln_expr)
    logs = sorted(ex.atoms(sp.log), key=str)
    parts = sp.collect(ex, logs, evaluate=False)
    factors, rest = [], sp.Integer(0)
    for key, coef in parts.items():
        if isinstance(key, sp.log):
            factors.append(sp.Pow(key.args[0], coef, evaluate=False))
        else:
            rest += key * coef
    if ln_a is not None and is_zero(rest - ln_a):
        factors.insert(0, P.A)
    elif rest != 0:
        factors.insert(0, sp.exp(rest))
    return sp.Mul(*factors, evaluate=False)


def _expr_str(expr) -> str:
    return "$" + latex_of(expr) + "$"


@functools.lru_cache(maxsize=32)
def _ledger(prim: Primitives):
    d = derivation(prim)
    pf = printed_forms()
    num = numeric_checks(prim)
    prices = d["factor_prices"]
    shares = d["shares"]
    rows = []

    def add(eq_id, title, status, printed, derived, note, method="symbolic"):
        rows.append({"id": eq_id, "title": title, "status": status, "printed": printed,
                     "derived": derived, "note": note, "method": method})

    def mismatch(derived_text):
        return f" The printed form does not follow from the primitives in use; derived: {derived_text}."

    # (1) aggregator
    add("1", "aggregator", "definition", pf["1"], d["aggregator"],
        "Cobb-Douglas (unit-elasticity) aggregator over tasks of total measure one. The text calls "
        "it 'total output equals the sum of task outputs', but the formula is a geometric mean "
        "(sum of logs), which is what the derivation uses.")

    # (2) technologies
    tech = _pw(d["y_robot"], d["y_labour"])
    same = _pw_equal(pf["2"].rhs, tech)
    add("2", "task technologies", "assumption", pf["2"], sp.Eq(P.y(x), tech),
        "Per-task Cobb-Douglas with constant returns; gamma_m(x), gamma_L(x) are general "
        "functions. The text adds 'gamma_m > gamma_L' (see the claim gamma_m_gt_gamma_L: the "
        "robot-elasticity of intensity does not depend on it)."
        + ("" if same else " The primitives in use differ from the printed (2): "
           + _expr_str(tech) + "; every derived form below follows the primitives in use."))

    # (3)-(6) factor prices and shares
    share_eqs = {
        "3": ("capital share", P.R * K / Y, shares["capital"], {},
              "Competitive price R = p(x) dy/dk = alpha p(x) y(x)/k(x) = alpha Y/K using (9); the "
              "printed marginal-product line R = alpha y(x)/k(x) omits the task price p(x) (as printed "
              "it would differ across tasks). The share is what matters downstream."),
        "4": ("labour share", P.W * L / Y, shares["labour"], {},
              "W = p(x) dy/dl = beta Y / l(x) on labour tasks (0 on robot tasks), with l(x) = L/(N-I) "
              "from market clearing; the printed marginal-product line omits p(x) as in (3)."),
        "5": ("robot share", P.P_m * M / Y, shares["robots"], {},
              "P_m = p(x) dy/dm = beta Y / m(x) on robot tasks, with m(x) = M/(I-N+1) from market "
              "clearing; the printed marginal-product line omits p(x) as in (3)."),
        "6": ("energy share", P.P_e * E / Y, shares["energy"], {P.P_m: P.P_e},
              "P_e = p(x) dy/de = (1-alpha-beta) Y / e(x) on every task, e(x) = E."),
    }
    for eq_id, (title, lhs, share, typo_sub, base) in share_eqs.items():
        printed = pf[eq_id]
        resid = (printed.lhs - printed.rhs).xreplace(prices)
        derived = sp.Eq(lhs, share)
        if is_zero(resid):
            status, note = "verified", base
        elif typo_sub and is_zero((printed.lhs.xreplace(typo_sub) - printed.rhs).xreplace(prices)):
            status = "typo"
            fixed = ", ".join(f"{latex_of(k_)} -> {latex_of(v)}" for k_, v in typo_sub.items())
            note = (f"Typo: the left side prints P_m where P_e is meant ({fixed}); as printed, "
                    f"P_m E/Y = {_expr_str(printed.lhs.xreplace(prices))}, not 1-alpha-beta. " + base)
        else:
            status, note = "wrong", base + mismatch(_expr_str(derived))
        add(eq_id, title, status, printed, derived, note)
    total = d["share_total"]
    rows[-1]["note"] += (" Shares (3)-(6) sum to " + _expr_str(total)
                         + (" (constant returns)." if is_zero(total - 1) else " (not one: no constant returns)."))

    # (7) cost functions, (8) prices
    cost_pw = _pw(d["cost_robot"], d["cost_labour"]).xreplace({d["cost_output_symbol"]: ybar})
    price_pw = _pw(d["price_robot"], d["price_labour"])
    for eq_id, title, printed, derived, base in (
        ("7", "cost functions", pf["7"], cost_pw,
         "Minimum cost of producing y(x) from the Lagrangian of cost minimisation. As printed "
         "c(x) includes the factor y(x): it is the total cost of the task; the unit cost is "
         "c(x)/y(x)."),
        ("8", "task prices", pf["8"], price_pw,
         "Competitive price = marginal (= unit) cost. The text says firms pick the cheaper "
         "technique; with the assignment fixed at I this requires robots to be cheaper on "
         "[N-1, I]: gamma_m(x)/gamma_L(x) >= (P_m/W)^beta, i.e. gamma_m(x) m^beta >= "
         "gamma_L(x) l^beta at the allocations (see claim automation_frontier)."),
    ):
        ok = _pw_equal(printed.rhs, derived)
        add(eq_id, title, "verified" if ok else "wrong", printed, sp.Eq(printed.lhs, derived),
            base if ok else base + mismatch(_expr_str(derived)))

    # (9) demand, (10) price index
    spend = d["task_spending"]
    ok9 = is_zero(spend.rhs.xreplace({P.P: 1}) - Y)
    add("9", "task demand", "conditional" if ok9 else "wrong", pf["9"],
        sp.Eq(P.p(x) * P.y(x), spend.rhs),
        "Derived from max int ln y(x) dx s.t. int p(x) y(x) dx = P Y: every task gets the same "
        "spending, p(x) y(x) = P Y. The printed y(x) = Y/p(x) holds only with the ideal price "
        "index P = exp(int ln p) as numeraire (P = 1). 'Dixit-Stiglitz' here is its unit-elasticity "
        "(Cobb-Douglas) limit.",
        method="symbolic; " + num.get("9", {}).get("method", "numeric not run"))
    pidx = d["price_index"]
    ok10 = is_zero(pidx.rhs.xreplace({P.P: 1}))
    add("10", "price-index condition", "definition" if ok10 else "wrong", pf["10"], pidx,
        "int ln p(x) dx = ln P for the Cobb-Douglas aggregator, so (10) is the numeraire "
        "normalisation P = 1, not a result: the printed derivation (integrate (9), use (1)) is "
        "circular because (9) already assumes P = 1. Checked numerically: at the equilibrium "
        "prices (3)-(6) and Y of (14), int ln p(x) dx = 0.",
        method="symbolic; " + num.get("10", {}).get("method", "numeric not run"))

    # (11), (12)
    for eq_id, title, dkey, dlin, base in (
        ("11", "price index with task prices", "eq11_lhs", "eq11_linear",
         "(8) substituted into (10); integrals of ln gamma stay unevaluated (linearity)."),
        ("12", "price index with factor prices", "eq12_lhs", "eq12_linear",
         "(3)-(6) substituted into (11): R = alpha Y/K, P_m = beta(I-N+1)Y/M, W = beta(N-I)Y/L, "
         "P_e = (1-alpha-beta)Y/E."),
    ):
        ok = is_zero(_lin(pf[eq_id].lhs) - d[dlin])
        derived = sp.Eq(d[dkey], 0)
        add(eq_id, title, "verified" if ok else "wrong", pf[eq_id], derived,
            base if ok else base + mismatch(_expr_str(derived)))

    # (13) aggregate production function (two routes), (14) Y and A, (15) TFP
    lnY = d["lnY"]
    ok13 = is_zero(pf["13"].rhs - lnY)
    r1 = [s_ for s_ in d.steps if s_["name"] == "lnY_route_prices"]
    route_note = (" Solving (12) for ln Y and integrating (1) at the market-clearing allocations "
                  "give the same expression." if r1 and r1[0]["ok"] else "")
    add("13", "aggregate production (logs)", "verified" if ok13 else "wrong", pf["13"], sp.Eq(sp.log(Y), lnY),
        "Cobb-Douglas in K, M, L, E with exponents alpha, beta(I-N+1), beta(N-I), 1-alpha-beta." + route_note
        + ("" if ok13 else mismatch(_expr_str(lnY))),
        method="symbolic; " + num.get("13", {}).get("method", "numeric not run"))
    A_def = pf["_A"]
    lhs14 = pf["14"][0].rhs.xreplace({P.A: A_def})
    ok14 = is_zero(sp.log(lhs14) - lnY)
    derived14 = sp.Tuple(sp.Eq(Y, exp_form(lnY, d["lnA"])), sp.Eq(P.A, sp.exp(d["lnA"])))
    add("14", "aggregate production (levels)", "verified" if ok14 else "wrong", pf["14"], derived14,
        "exp of (13); A = exp(int ln gamma_m + int ln gamma_L) aggregates task productivities."
        + ("" if ok14 else mismatch(_expr_str(derived14))))
    lnTFP = d["lnTFP"]
    ok15 = is_zero(sp.log(pf["15"].rhs.xreplace({P.A: A_def})) - lnTFP)
    add("15", "TFP", "verified" if ok15 else "wrong", pf["15"], sp.Eq(P.TFP, exp_form(lnTFP, d["lnA"])),
        "Solow residual: Y divided by K^alpha M^(beta(I-N+1)) L^(beta(N-I)) E^(1-alpha-beta) (the "
        "derived shares as weights). It depends on I through A and through the allocation terms "
        "(1/(I-N+1))^(beta(I-N+1)) (1/(N-I))^(beta(N-I)), i.e. how thinly robots and labour are "
        "spread over their tasks." + ("" if ok15 else mismatch(_expr_str(sp.exp(lnTFP)))))

    # (16) carbon intensity, (17) its log form and gamma_0
    theta = prim.emission_factor
    add("16", "carbon intensity", "definition", pf["16"], sp.Eq(P.indco, theta * E / Y),
        "Carbon intensity = emissions / output with emissions proportional to energy (emission "
        "factor one: every fuel emits the same carbon per unit of energy)."
        + ("" if is_zero(theta - 1) else " The primitives in use set the emission factor to "
           + _expr_str(theta) + "."))
    ln_indco = d["ln_indco"]
    g0 = d["gamma_0"]
    printed17, g0p = pf["17"]
    full_printed = printed17.rhs.xreplace({P.gamma_0: g0p.rhs}).subs(sp.log(P.A), d["lnA"])
    slopes_printed = printed17.rhs.xreplace({P.gamma_0: 0}).subs(sp.log(P.A), d["lnA"])
    main17 = P.gamma_0 - sp.log(P.A) + tidy(ln_indco - g0 + d["lnA"])
    derived17 = sp.Tuple(sp.Eq(sp.log(P.indco), main17), sp.Eq(P.gamma_0, g0))
    resid_slopes = sp.expand(ln_indco - slopes_printed)
    slopes_ok = not (resid_slopes.free_symbols & {K, L, M, E}) and not resid_slopes.has(sp.Integral)
    if is_zero(ln_indco - full_printed):
        status17, note17 = "verified", "Printed (17) and gamma_0 follow from (14) and (16)."
    else:
        status17 = "wrong"
        alt = -(g0p.rhs + ae * sp.log(ae))  # both signs flipped, spurious last term dropped
        flipped = is_zero(alt - g0)
        note17 = ("Reading of the garbled gamma_0: '-beta(I-N+1)ln(I-N+1) - beta(N-I)ln(N-I) - "
                  "(1-alpha-beta)ln(1-alpha-beta)' (the extraction drops the last 'ln'). ")
        if slopes_ok:
            note17 += ("The slope terms (-ln A, -beta(I-N+1) ln M, -beta(N-I) ln L, -alpha ln K, "
                       "+(alpha+beta) ln E) are right; gamma_0 is wrong: derived gamma_0 = "
                       + _expr_str(g0) + ". ")
            if flipped:
                note17 += ("The printed gamma_0 has both signs flipped and a spurious "
                           "-(1-alpha-beta)ln(1-alpha-beta). The correct gamma_0 = beta[s ln s + "
                           "(1-s) ln(1-s)] with s = I-N+1 is minus beta times an entropy: it is "
                           "NEGATIVE, between -beta ln 2 and 0, whereas the printed reading is "
                           "positive. Equivalently gamma_0 - ln A = -ln TFP of (15). It is a "
                           "constant absorbed by fixed effects, so the estimating equation is "
                           "unaffected, but the sign matters for reading TFP.")
        else:
            note17 += "The slopes do not follow from the primitives in use; derived: " + _expr_str(ln_indco) + "."
    add("17", "log carbon intensity", status17, pf["17"], derived17, note17)
    return tuple(rows)


def build_ledger(primitives: Primitives | None = None) -> list[dict]:
    """The ledger of equations (1)-(17), computed from ``primitives`` (default: the paper's).

    Returns
    -------
    list of dict
        One dict per equation with keys ``id`` ("1".."17"), ``status`` (one of
        :data:`STATUSES`), ``printed`` and ``derived`` (LaTeX from ``sympy.latex``), ``note``,
        plus ``title`` and ``method`` (``"symbolic"`` or ``"symbolic; numeric(n points)"``).
    """
    prim = PAPER if primitives is None else primitives
    out = []
    for row in _ledger(prim):
        r = dict(row)
        r["printed"] = latex_of(row["printed"])
        r["derived"] = latex_of(row["derived"])
        out.append(r)
    return out


def equation_exprs(primitives: Primitives | None = None) -> dict:
    """``{id: (printed_expr, derived_expr)}``: the sympy objects of the ledger, in the paper's
    notation (interval measures written as ``I - N + 1`` and ``N - I``), for rendering."""
    prim = PAPER if primitives is None else primitives
    return {row["id"]: (to_paper(row["printed"]), to_paper(row["derived"])) for row in _ledger(prim)}

