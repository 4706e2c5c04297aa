"""Vectorised numpy functions lambdified from the theory's sympy objects (never retyped).

Every function here is the code :func:`sympy.lambdify` generates for an expression of
:func:`robocarbon.theory.derive.derivation` or :mod:`robocarbon.theory.claims` for the paper's
primitives, so the numbers the simulator uses are the expressions the tests verify. All inputs
broadcast together (numpy rules); scalars in give a float out.

``lnA`` is ``int_{N-1}^{I} ln gamma_m(x) dx + int_I^N ln gamma_L(x) dx`` (the log of A in (14)).
Admissible parameters: ``alpha, beta > 0``, ``alpha + beta < 1``, ``N - 1 < I < N``, positive
factor supplies; anything else raises ``ValueError``.

Where the code comes from
-------------------------
The generated code ships with the package as the module ``_generated_numeric.py`` (plain
Python source, imported like any other module); nothing is cached, unpickled or executed from
disk at run time, and sympy is not imported to evaluate these functions. :func:`generate_source`
rebuilds that module's text from the derivation, and ``tests/test_theory_numeric.py`` requires
the committed file to equal it byte for byte. After a change to the theory (or to sympy's
printers), regenerate it with::

    python -m robocarbon.theory.numeric --regenerate

(``--check`` exits 1 if the file is out of date). :func:`expression` gives the sympy expression
behind each function, derived when asked.
"""

from __future__ import annotations

import builtins
import functools

import numpy as np

# sympy and the derivation are imported only where they are needed (expression(), the
# generator): evaluating the functions uses the generated module and numpy alone

__all__ = [
    "log_output", "factor_shares", "log_carbon_intensity", "elasticity_indco_M", "log_tfp",
    "gamma_0", "factor_prices", "log_energy_priced", "log_carbon_intensity_priced",
    "elasticity_indco_I", "implied_robot_share", "REGIMES", "expression", "generate_source",
]

REGIMES = ("fixed_energy", "priced_energy", "elastic_energy")

#: the command that rewrites ``_generated_numeric.py`` from the derivation
REGENERATE_COMMAND = "python -m robocarbon.theory.numeric --regenerate"


@functools.lru_cache(maxsize=1)
def _symbols() -> dict:
    import sympy as sp

    return {"lnA_sym": sp.Symbol("lnA", real=True),
            "log_gap": sp.Symbol("log_gamma_ratio", real=True)}  # ln gamma_m(I) - ln gamma_L(I)


def __getattr__(name: str):
    # the module's sympy symbols lnA_sym and log_gap, created (and sympy imported) on first use
    if name in ("lnA_sym", "log_gap"):
        return _symbols()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _paper_expr(ex):
    """An expression in the paper's symbols with ``int ln gamma`` replaced by ``lnA``."""
    import sympy as sp

    from .derive import derivation
    from .primitives import PAPER, to_paper

    d = derivation(PAPER)
    ex = sp.sympify(ex).xreplace({d["int_gamma_m"]: _symbols()["lnA_sym"], d["int_gamma_L"]: 0})
    return to_paper(ex)


def _table() -> dict:
    """{name: (argument symbols, raw expression)} of every numeric function (the slow part: it
    runs the derivation)."""
    import sympy as sp

    from . import primitives as P
    from .claims import automation_margin, energy_regimes, eta, level_slope, lnM, lnPe, robot
    from .derive import derivation, solve_linear
    from .primitives import PAPER

    lnA_sym, log_gap = _symbols()["lnA_sym"], _symbols()["log_gap"]
    _PAR = (P.alpha, P.beta, P.I, P.N)
    d = derivation(PAPER)
    reg = energy_regimes(PAPER)
    aut = automation_margin(PAPER)
    q = (P.K, P.L, P.M, P.E)
    table = {
        "log_output": (q + _PAR + (lnA_sym,), d["lnY"]),
        "log_carbon_intensity": (q + _PAR + (lnA_sym,), d["ln_indco"]),
        "log_tfp": (_PAR + (lnA_sym,), d["lnTFP"]),
        "gamma_0": (_PAR, d["gamma_0"]),
        "fixed_energy": (_PAR, reg["fixed_energy"]),
        "priced_energy": (_PAR, reg["priced_energy"]),
        "elastic_energy": (_PAR + (eta,), reg["elastic_energy"]),
        "log_energy_priced": ((P.K, P.L, P.M, P.P_e) + _PAR + (lnA_sym,),
                              reg["log_energy_priced"].xreplace({lnM: sp.log(P.M), lnPe: sp.log(P.P_e)})),
        "log_intensity_priced": ((P.P_e,) + _PAR, reg["log_intensity_priced"].xreplace({lnPe: sp.log(P.P_e)})),
        "dln_indco_dI": ((P.L, P.M) + _PAR + (log_gap,),
                         aut["dln_indco_dI"].xreplace({sp.log(PAPER.gamma_m(P.I)): log_gap,
                                                       sp.log(PAPER.gamma_L(P.I)): 0})),
    }
    b1 = sp.Symbol("b1", real=True)
    robot_share = solve_linear(sp.Eq(b1, level_slope(PAPER)), P.beta) * P.s_r
    table["implied_robot_share"] = ((b1, robot), robot_share)
    for key, share in d["shares"].items():
        table[f"share_{key}"] = (_PAR, share)
    for sym, key in ((P.R, "R"), (P.W, "W"), (P.P_m, "P_m"), (P.P_e, "P_e")):
        table[f"price_{key}"] = ((P.Y,) + q + _PAR, d["factor_prices"][sym])
    return table


@functools.lru_cache(maxsize=1)
def _expressions() -> dict:
    """{name: (argument symbols, expression in the paper's symbols)} of every numeric function,
    derived from the sympy objects of :mod:`robocarbon.theory.derive` and
    :mod:`robocarbon.theory.claims` (seconds; imports sympy)."""
    out = {}
    for name, (args, ex) in _table().items():
        ex = _paper_expr(ex)
        extra = ex.free_symbols - set(args)
        if extra:  # pragma: no cover - guards against an expression the table did not foresee
            raise RuntimeError(f"{name}: unexpected free symbols {extra}")
        out[name] = (tuple(args), ex)
    return out


def expression(name: str):
    """The sympy expression behind a numeric function (for tests and reports), derived from
    the theory when asked (imports sympy).

    ``name`` is a key of the generated module's ``FUNCTIONS`` (e.g. ``"log_output"``,
    ``"share_robots"``, ``"price_W"``, ``"elastic_energy"``); the function takes the
    expression's arguments in the order of ``_expressions()[name][0]``.
    """
    try:
        return _expressions()[name][1]
    except KeyError:
        raise KeyError(f"no numeric function {name!r}; known: {sorted(_expressions())}") from None


def _code_names(code) -> set:
    """Every global name a code object (and the code objects nested in it) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _code_names(const)
    return names


def _function_source(name: str, args, ex) -> tuple[str, set]:
    """The source of ``def name(args): ...`` that :func:`sympy.lambdify` generates for ``ex``
    with numpy, and the numpy names it uses. Refuses code that needs anything but numpy's
    own functions and builtins (the generated module imports only those)."""
    import inspect
    import keyword

    import sympy as sp

    for a in args:  # lambdify keeps these names only when they are plain identifiers
        if not (str(a).isidentifier() and not keyword.iskeyword(str(a))):
            raise RuntimeError(f"{name}: argument {a!r} is not a Python identifier")
    fn = sp.lambdify(args, ex, "numpy")
    source = inspect.getsource(fn)
    header = f"def _lambdifygenerated({', '.join(map(str, args))}):\n"
    if not source.startswith(header) or source.count("_lambdifygenerated") != 1:
        raise RuntimeError(f"{name}: unexpected lambdify source:\n{source}")
    numpy_names = set()
    for n in sorted(_code_names(fn.__code__) - {str(a) for a in args}):
        obj = fn.__globals__.get(n, getattr(builtins, n, None))
        if n in fn.__globals__ and getattr(np, n, None) is obj:
            numpy_names.add(n)
        elif n not in fn.__globals__ and hasattr(builtins, n):
            continue
        else:
            raise RuntimeError(f"{name}: lambdify's code uses {n!r}, which is not numpy's own")
    return f"def {name}" + source[len("def _lambdifygenerated"):], numpy_names


def generate_source() -> str:
    """The text of ``_generated_numeric.py``: lambdify's numpy code of every expression of
    :func:`_expressions`, as plain functions, and the table ``FUNCTIONS`` of them by name."""
    funcs, used = [], set()
    for name, (args, ex) in _expressions().items():
        if not name.isidentifier() or hasattr(builtins, name):
            raise RuntimeError(f"{name!r} cannot name a generated function")
        src, names = _function_source(name, args, ex)
        funcs.append((name, src))
        used |= names
    clash = used & {n for n, _ in funcs}
    if clash:  # pragma: no cover - a function named like a numpy function it calls
        raise RuntimeError(f"generated function names shadow numpy names: {sorted(clash)}")
    lines = [
        "# Generated from the theory's sympy derivation by",
        "# robocarbon.theory.numeric.generate_source (the code sympy.lambdify prints for numpy).",
        "# Do not edit: regenerate with",
        f"#     {REGENERATE_COMMAND}",
        "# tests/test_theory_numeric.py requires this file to equal a fresh regeneration.",
        '"""numpy code of the theory\'s expressions: ``FUNCTIONS[name]`` computes',
        '``robocarbon.theory.numeric.expression(name)``."""',
        "",
    ]
    if used:
        lines.append(f"from numpy import {', '.join(sorted(used))}")
    for name, src in funcs:
        lines += ["", "", src.rstrip("\n")]
    lines += ["", "", "FUNCTIONS = {"]
    lines += [f"    {name!r}: {name}," for name, _ in funcs]
    lines += ["}", ""]
    return "\n".join(lines)


def _generated_path():
    from pathlib import Path

    return Path(__file__).resolve().with_name("_generated_numeric.py")


def regenerate(path=None) -> bool:
    """Write :func:`generate_source` to ``_generated_numeric.py`` (or ``path``); True if the
    file changed."""
    from pathlib import Path

    path = Path(path) if path is not None else _generated_path()
    text = generate_source()
    old = path.read_bytes() if path.is_file() else None
    if old == text.encode("utf-8"):
        return False
    path.write_bytes(text.encode("utf-8"))
    return True


@functools.lru_cache(maxsize=None)
def _fn(name: str):
    """The numpy function of ``name``: the generated module's code for the theory's expression."""
    from ._generated_numeric import FUNCTIONS

    return FUNCTIONS[name]


def _check(alpha, beta, I, N, **pos):
    alpha, beta, I, N = (np.asarray(v, dtype=float) for v in (alpha, beta, I, N))
    if np.any(~(alpha > 0)) or np.any(~(beta > 0)) or np.any(~(alpha + beta < 1)):
        raise ValueError("need alpha > 0, beta > 0 and alpha + beta < 1")
    if np.any(~(I > N - 1)) or np.any(~(I < N)):
        raise ValueError("need N - 1 < I < N (both robot and labour tasks present)")
    for k, v in pos.items():
        if v is not None and np.any(~(np.asarray(v, dtype=float) > 0)):
            raise ValueError(f"{k} must be positive")


def _out(val, *inputs):
    shape = np.broadcast_shapes(*(np.shape(v) for v in inputs))
    arr = np.broadcast_to(np.asarray(val, dtype=float), shape).copy() if shape else np.asarray(val, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def log_output(K, L, M, E, alpha, beta, I, N, lnA):
    """ln Y of equation (13).

    Notes
    -----
    ln Y = alpha ln K + beta(I-N+1) ln M + beta(N-I) ln L + (1-alpha-beta) ln E
    - beta(I-N+1) ln(I-N+1) - beta(N-I) ln(N-I) + lnA.
    """
    _check(alpha, beta, I, N, K=K, L=L, M=M, E=E)
    args = (K, L, M, E, alpha, beta, I, N, lnA)
    return _out(_fn("log_output")(*args), *args)


def log_carbon_intensity(K, L, M, E, alpha, beta, I, N, lnA):
    """ln(indco) = ln(E/Y) of equation (17) with the derived gamma_0.

    Notes
    -----
    ln indco = gamma_0 - lnA - beta(I-N+1) ln M - beta(N-I) ln L - alpha ln K + (alpha+beta) ln E,
    gamma_0 = beta(I-N+1) ln(I-N+1) + beta(N-I) ln(N-I).
    """
    _check(alpha, beta, I, N, K=K, L=L, M=M, E=E)
    args = (K, L, M, E, alpha, beta, I, N, lnA)
    return _out(_fn("log_carbon_intensity")(*args), *args)


def log_tfp(alpha, beta, I, N, lnA):
    """ln TFP of equation (15)."""
    _check(alpha, beta, I, N)
    args = (alpha, beta, I, N, lnA)
    return _out(_fn("log_tfp")(*args), *args)


def gamma_0(alpha, beta, I, N):
    """The derived constant gamma_0 of (17) (non-positive)."""
    _check(alpha, beta, I, N)
    args = (alpha, beta, I, N)
    return _out(_fn("gamma_0")(*args), *args)


def factor_shares(alpha, beta, I, N) -> dict:
    """Factor shares (3)-(6): dict(capital, labour, robots, energy), each broadcast to the
    common shape of the inputs; they sum to one."""
    _check(alpha, beta, I, N)
    args = (alpha, beta, I, N)
    return {key: _out(_fn(f"share_{key}")(*args), *args)
            for key in ("capital", "labour", "robots", "energy")}


def factor_prices(Y, K, L, M, E, alpha, beta, I, N) -> dict:
    """Equilibrium factor prices dict(R, W, P_m, P_e) from (3)-(6) (numeraire: price index)."""
    _check(alpha, beta, I, N, Y=Y, K=K, L=L, M=M, E=E)
    args = (Y, K, L, M, E, alpha, beta, I, N)
    return {key: _out(_fn(f"price_{key}")(*args), *args) for key in ("R", "W", "P_m", "P_e")}


def elasticity_indco_M(alpha, beta, I, N, regime="fixed_energy", supply_elasticity=None):
    """d ln(indco) / d ln(M) under an energy regime.

    Parameters
    ----------
    regime : {"fixed_energy", "priced_energy", "elastic_energy"}
        Fixed energy supply (the paper's -beta(I-N+1)); energy chosen at a given price (zero);
        energy supply with price elasticity ``supply_elasticity`` (-beta(I-N+1)/(1+(alpha+beta)eta)).
    supply_elasticity : array_like, optional
        eta > 0, required for ``"elastic_energy"``.
    """
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, not {regime!r}")
    _check(alpha, beta, I, N)
    args = (alpha, beta, I, N)
    if regime == "elastic_energy":
        if supply_elasticity is None:
            raise ValueError("regime 'elastic_energy' needs supply_elasticity")
        _check(alpha, beta, I, N, supply_elasticity=supply_elasticity)
        args = args + (supply_elasticity,)
    return _out(_fn(regime)(*args), *args)


def log_energy_priced(K, L, M, P_e, alpha, beta, I, N, lnA):
    """Optimal ln E when energy is bought at price P_e (P_e = dY/dE)."""
    _check(alpha, beta, I, N, K=K, L=L, M=M, P_e=P_e)
    args = (K, L, M, P_e, alpha, beta, I, N, lnA)
    return _out(_fn("log_energy_priced")(*args), *args)


def log_carbon_intensity_priced(P_e, alpha, beta, I, N):
    """ln(E/Y) at optimal energy and price P_e: ln(1-alpha-beta) - ln P_e (no robot term)."""
    _check(alpha, beta, I, N, P_e=P_e)
    args = (P_e, alpha, beta, I, N)
    return _out(_fn("log_intensity_priced")(*args), *args)


def elasticity_indco_I(L, M, alpha, beta, I, N, log_gamma_ratio):
    """d ln(indco) / dI (K, L, M, E fixed); ``log_gamma_ratio`` = ln gamma_m(I) - ln gamma_L(I).

    Notes
    -----
    d ln indco/dI = -[ln(gamma_m(I)/gamma_L(I)) + beta ln(M/(I-N+1)) - beta ln(L/(N-I))]:
    negative iff robots are cheaper than labour at the marginal task.
    """
    _check(alpha, beta, I, N, L=L, M=M)
    args = (L, M, alpha, beta, I, N, log_gamma_ratio)
    return _out(_fn("dln_indco_dI")(*args), *args)


def implied_robot_share(b1, robot):
    """beta(I-N+1) implied by a level coefficient b1 of (18) at penetration ``robot``.

    Notes
    -----
    Solves b1 = d ln indco / d robot = -beta(I-N+1)/robot (claim log_versus_level) for
    beta(I-N+1), i.e. -b1 * robot.
    """
    return _out(_fn("implied_robot_share")(b1, robot), b1, robot)


def main(argv=None) -> int:
    """``python -m robocarbon.theory.numeric --regenerate | --check``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m robocarbon.theory.numeric",
                                 description="Rewrite or check _generated_numeric.py, the numpy "
                                             "code generated from the theory's derivation.")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--regenerate", action="store_true", help="rewrite the generated module")
    g.add_argument("--check", action="store_true",
                   help="exit 1 if the generated module differs from a fresh regeneration")
    opts = ap.parse_args(argv)
    path = _generated_path()
    if opts.check:
        same = path.is_file() and path.read_bytes() == generate_source().encode("utf-8")
        print(f"{path}: {'up to date' if same else 'OUT OF DATE; run ' + REGENERATE_COMMAND}")
        return 0 if same else 1
    changed = regenerate(path)
    print(f"{path}: {'rewritten' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    raise SystemExit(main())
