"""A literate rendering of the derivation: Markdown with LaTeX produced by sympy.

Each step is labelled with the paper's equation number; every formula is printed from the same
sympy object that :mod:`.derive`, :mod:`.ledger` and the tests check.
"""

from __future__ import annotations

import re

import sympy as sp

from . import primitives as P
from .claims import check_claims
from .derive import derivation, numeric_checks
from .hmatch import hmatch_analysis
from .ledger import build_ledger, latex_of
from .primitives import PAPER, Primitives

__all__ = ["derivation_markdown"]


def _m(expr) -> str:
    return "\n$$\n" + (expr if isinstance(expr, str) else latex_of(expr)) + "\n$$\n\n"


def _eq(lhs, rhs) -> str:
    return _m(latex_of(lhs) + " = " + latex_of(rhs))


def derivation_markdown(primitives: Primitives | None = None) -> str:
    """The derivation of equations (1)-(17), the ledger, the claims and (23), as Markdown.

    Parameters
    ----------
    primitives : Primitives, optional
        Defaults to the paper's primitives.

    Returns
    -------
    str
        Markdown; display math in ``$$ ... $$`` blocks, LaTeX from ``sympy.latex``.
    """
    prim = PAPER if primitives is None else primitives
    d = derivation(prim)
    num = numeric_checks(prim)
    ledger = build_ledger(prim)
    claims = check_claims(prim)
    hm = hmatch_analysis()
    out: list[str] = []
    w = out.append
    w(f"# The task model re-derived ({prim.name} primitives)\n")
    w("Tasks $x \\in [N-1, N]$; robots produce tasks in $[N-1, I]$, labour in $[I, N]$. Every "
      "formula below is computed by sympy from the primitives; the measures of the two task sets "
      "are $I-N+1$ and $N-I$.\n")
    w("## (1) Aggregator (definition)\n")
    w(_m(d["aggregator"]))
    w("## (2) Task technologies (assumption)\n")
    w(_m(r"y(x)\big|_{x \in [N-1, I]} = " + latex_of(d["y_robot"])))
    w(_m(r"y(x)\big|_{x \in [I, N]} = " + latex_of(d["y_labour"])))
    w("## (7) Cost minimisation\n")
    w("Minimising $R k + P_m m + P_e e$ subject to the technology gives conditional demands "
      "$q_j = \\lambda a_j y / p_j$ with the multiplier $\\lambda$ equal to the unit cost. "
      "Total cost of producing $y$ on a robot task and on a labour task:\n")
    w(_m(r"c(x)\big|_{x \in [N-1, I]} = " + latex_of(d["cost_robot"])))
    w(_m(r"c(x)\big|_{x \in [I, N]} = " + latex_of(d["cost_labour"])))
    w("## (8) Task prices = marginal cost\n")
    w(_m(r"p(x)\big|_{x \in [N-1, I]} = " + latex_of(d["price_robot"])))
    w(_m(r"p(x)\big|_{x \in [I, N]} = " + latex_of(d["price_labour"])))
    w("## (9) Demand for task output\n")
    w("Maximising $\\int \\ln y(x)\\,dx$ subject to $\\int p(x) y(x)\\,dx = P Y$ gives equal "
      "spending on every task:\n")
    w(_m(d["task_spending"]))
    w("## (10) The price index\n")
    w("Integrating $\\ln p = \\ln P + \\ln Y - \\ln y$ and using (1):\n")
    w(_m(d["price_index"]))
    w("so (10) is the numeraire $P = 1$.\n")
    w("## (3)-(6) Factor prices, allocations and shares\n")
    w("Value marginal product = factor price with $p(x) y(x) = Y$, then market clearing:\n")
    for sym, ex in d["factor_prices"].items():
        w(_eq(sym, ex))
    alloc_names = {"k_robot": "k(x)|_{robot}", "k_labour": "k(x)|_{labour}", "m": "m(x)",
                   "l": "l(x)", "e_robot": "e(x)|_{robot}", "e_labour": "e(x)|_{labour}"}
    for key, ex in d["allocations"].items():
        w(_m(alloc_names[key] + " = " + latex_of(ex)))
    labels = {"capital": ("3", "R K / Y"), "labour": ("4", "W L / Y"),
              "robots": ("5", "P_m M / Y"), "energy": ("6", "P_e E / Y")}
    for key, ex in d["shares"].items():
        eq_id, lhs = labels[key]
        w(f"Share ({eq_id}):\n")
        w(_m(lhs + " = " + latex_of(ex)))
    w("Sum of the shares:\n")
    w(_m(r"\sum = " + latex_of(d["share_total"])))
    w("## (11) Price index with task prices\n")
    w(_m(latex_of(d["eq11_lhs"]) + " = 0"))
    w("## (12) Price index with factor prices\n")
    w(_m(latex_of(d["eq12_lhs"]) + " = 0"))
    w("## (13) Aggregate production function\n")
    w("Solving (12) for $\\ln Y$, and independently integrating (1) at the allocations:\n")
    w(_m(r"\ln Y = " + latex_of(d["lnY"])))
    if "13" in num:
        w(f"Also checked numerically with concrete productivity functions: {num['13']['method']}, "
          f"largest absolute error {num['13']['max_abs_error']:.2e}.\n")
    w("## (14) Output in levels and (15) TFP\n")
    w(_m(r"\ln A = " + latex_of(d["lnA"])))
    w(_m(r"\ln TFP = " + latex_of(d["lnTFP"])))
    w("## (16)-(17) Carbon intensity\n")
    w(_m(r"\ln indco = " + latex_of(d["ln_indco"])))
    w(_m(r"\gamma_0 = " + latex_of(d["gamma_0"])))
    w("## Checks of the derivation steps\n")
    w("| equation | step | method | result |\n|---|---|---|---|\n")
    for st in d.steps:
        if st["ok"] is None:
            continue
        w(f"| ({st['equation']}) | {st['name']} | {st['method']} | {'ok' if st['ok'] else 'FAILED'} |\n")
    for eq_id, rec in num.items():
        w(f"| ({eq_id}) | numeric check | {rec['method']} | "
          f"{'ok' if rec['ok'] else 'FAILED'} (max error {rec['max_abs_error']:.1e}) |\n")
    w("\n## Ledger of the printed equations\n")
    for row in ledger:
        w(f"### ({row['id']}) {row['title']}: **{row['status']}**\n")
        w("Printed:\n")
        w(_m(row["printed"]))
        w("Derived:\n")
        w(_m(row["derived"]))
        w(f"{row['note']} *Method: {row['method']}.*\n\n")
    w("## Claims\n")
    for c in claims + hm["claims"]:
        w(f"### {c['id']}: holds = **{c['holds']}**\n")
        w(f"{c['statement']}\n\n")
        w(_m(c["derivation"]))
        w(f"{c['conditions']}\n\n")
    w("## (23) Human-machine matching index\n")
    w(_m(hm["definition"]))
    w(_m(r"U V = " + hm["closed_form"]["UV"] + r",\qquad hmatch = " + hm["closed_form"]["hmatch"]))
    w(hm["at_zero"]["note"] + "\n")
    return re.sub(r"\n(#+ )", r"\n\n\1", "".join(out))
