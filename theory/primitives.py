"""Primitives of the paper's task model (section 2), as sympy objects.

The economy of Huang and Jiang (after Acemoglu and Restrepo, 2018) is a continuum of tasks
``x`` on ``[N-1, N]``. Tasks below the automation frontier ``I`` are produced with robots,
tasks above it with labour. Each task has a Cobb-Douglas technology

.. math::

    y(x) = \\gamma_m(x)\\, k^{a_k} m^{a_m} e^{a_e} \\quad x \\in [N-1, I],\\qquad
    y(x) = \\gamma_L(x)\\, k^{b_k} l^{b_l} e^{b_e} \\quad x \\in [I, N],

with the paper's exponents ``(alpha, beta, 1-alpha-beta)`` on both task types. Factor supplies
``K, L, M, E`` are given, factor markets are competitive (prices ``R, W, P_m, P_e``), tasks are
combined by the Cobb-Douglas aggregator ``ln Y = int ln y(x) dx`` and the ideal price index is
the numeraire.

Everything downstream (derivation, ledger, claims, numerics) is computed from a
:class:`Primitives` object, so changing one primitive (a different labour exponent, energy
entering the robot tasks differently, an emission factor) changes the whole ledger.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

__all__ = ["Primitives", "PAPER", "paper_primitives", "SYMBOLS", "to_paper", "unit_measure"]

# -- the paper's symbols (shared by every Primitives object; the printed equations use them) --
x = sp.Symbol("x", real=True)
alpha = sp.Symbol("alpha", positive=True)
beta = sp.Symbol("beta", positive=True)
N = sp.Symbol("N", real=True)
I = sp.Symbol("I", real=True)  # noqa: E741  (the paper's automation frontier)
K, L, M, E = sp.symbols("K L M E", positive=True)
R, W = sp.symbols("R W", positive=True)
P_m = sp.Symbol("P_m", positive=True)
P_e = sp.Symbol("P_e", positive=True)
Y = sp.Symbol("Y", positive=True)
P = sp.Symbol("P", positive=True)  # the ideal price index (numeraire: P = 1)
A = sp.Symbol("A", positive=True)
TFP = sp.Symbol("TFP", positive=True)
indco = sp.Symbol("indco", positive=True)
gamma_0 = sp.Symbol("gamma_0", real=True)
# measures of the two task intervals, as positive symbols for the algebra (sympy cannot know
# that I - N + 1 > 0 and N - I > 0); :func:`to_paper` maps them back to I - N + 1 and N - I.
s_r = sp.Symbol("s_r", positive=True)
s_l = sp.Symbol("s_l", positive=True)
MEASURES = {s_r: I - N + 1, s_l: N - I}
# per-task quantities
# (named with their task argument so that e(x) is not read as Euler's number in LaTeX)
k, l, m, e = sp.symbols("k(x) l(x) m(x) e(x)", positive=True)
y = sp.Function("y")
p = sp.Function("p")
gamma_m = sp.Function("gamma_m", positive=True)
gamma_L = sp.Function("gamma_L", positive=True)

SYMBOLS = {
    "x": x, "alpha": alpha, "beta": beta, "N": N, "I": I, "K": K, "L": L, "M": M, "E": E,
    "R": R, "W": W, "P_m": P_m, "P_e": P_e, "Y": Y, "P": P, "A": A, "TFP": TFP,
    "indco": indco, "gamma_0": gamma_0, "k": k, "l": l, "m": m, "e": e, "s_r": s_r, "s_l": s_l,
}


def to_paper(expr):
    """Replace the interval measures ``s_r``, ``s_l`` by ``I - N + 1`` and ``N - I``."""
    if isinstance(expr, dict):
        return {k_: to_paper(v) for k_, v in expr.items()}
    return sp.sympify(expr).xreplace(MEASURES)


def unit_measure(expr):
    """Impose that the task interval has length one: ``s_l = 1 - s_r``."""
    return sp.sympify(expr).xreplace({s_l: 1 - s_r})


@dataclass(frozen=True)
class Primitives:
    """The model's primitives. Frozen and hashable, so derived objects can be cached on it.

    Parameters
    ----------
    robot_exponents : tuple of sympy expressions
        ``(capital, robots, energy)`` exponents of the robot-task technology on ``[N-1, I]``.
    labour_exponents : tuple of sympy expressions
        ``(capital, labour, energy)`` exponents of the labour-task technology on ``[I, N]``.
    gamma_m, gamma_L : sympy undefined functions
        Task productivities ``gamma_m(x)`` (robots) and ``gamma_L(x)`` (labour); general
        functions, not constants.
    emission_factor : sympy expression
        Carbon per unit of energy: emissions are ``emission_factor * E``. The paper's (16)
        sets it to one.
    name : str
        A label for reports.

    Notes
    -----
    The task interval, the aggregator ``ln Y = int_{N-1}^{N} ln y(x) dx``, competitive factor
    markets, market clearing and the price-index numeraire are fixed parts of the model.
    Use :meth:`replace` to change a primitive: ``PAPER.replace(labour_exponents=(alpha, beta2,
    1 - alpha - beta2))``.
    """

    robot_exponents: tuple = (alpha, beta, 1 - alpha - beta)
    labour_exponents: tuple = (alpha, beta, 1 - alpha - beta)
    gamma_m: object = gamma_m
    gamma_L: object = gamma_L
    emission_factor: object = sp.Integer(1)
    name: str = "paper"

    def __post_init__(self):
        for fld in ("robot_exponents", "labour_exponents"):
            val = getattr(self, fld)
            if len(val) != 3:
                raise ValueError(f"{fld} needs three exponents (capital, robots/labour, energy)")
            object.__setattr__(self, fld, tuple(sp.sympify(v) for v in val))
        object.__setattr__(self, "emission_factor", sp.sympify(self.emission_factor))

    # -- convenience -------------------------------------------------------------------------
    def replace(self, **changes) -> "Primitives":
        """A copy with some primitives changed (the dataclass is frozen)."""
        if "name" not in changes:
            changes["name"] = f"{self.name} (modified: {', '.join(sorted(changes))})"
        return dataclasses.replace(self, **changes)

    @property
    def robot_measure(self) -> sp.Expr:
        """Length of the robot-task interval ``[N-1, I]`` (``I - N + 1``), as the positive
        symbol ``s_r``."""
        return s_r

    @property
    def labour_measure(self) -> sp.Expr:
        """Length of the labour-task interval ``[I, N]`` (``N - I``), as the positive symbol
        ``s_l``."""
        return s_l

    def technology(self, kind: str) -> sp.Expr:
        """Task output ``y(x)`` as a function of per-task inputs ``k, m|l, e``."""
        if kind == "robot":
            a_k, a_m, a_e = self.robot_exponents
            return self.gamma_m(x) * k**a_k * m**a_m * e**a_e
        if kind == "labour":
            b_k, b_l, b_e = self.labour_exponents
            return self.gamma_L(x) * k**b_k * l**b_l * e**b_e
        raise ValueError(f"kind must be 'robot' or 'labour', not {kind!r}")

    def parameters(self) -> list[sp.Symbol]:
        """Free parameter symbols of the technology (alpha, beta, and any the caller added)."""
        syms = set()
        for ex in self.robot_exponents + self.labour_exponents + (self.emission_factor,):
            syms |= ex.free_symbols
        return sorted(syms, key=lambda s: s.name)

    def admissible(self) -> list[sp.Expr]:
        """Inequalities defining admissible parameters (all exponents positive, interior I)."""
        conds = [ex > 0 for ex in self.robot_exponents + self.labour_exponents]
        conds += [I > N - 1, I < N]
        return conds


#: The paper's primitives: exponents (alpha, beta, 1 - alpha - beta) on both task types.
PAPER = Primitives()


def paper_primitives() -> Primitives:
    """The paper's primitives (the default everywhere)."""
    return PAPER
