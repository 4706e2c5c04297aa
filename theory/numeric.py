"""Vectorised numpy functions lambdified from the theory's sympy objects (never retyped).

Every function here is built with :func:`sympy.lambdify` from an expression of
:func:`robocarbon.theory.derive.derivation` or :mod:`robocarbon.theory.claims` for the paper's
primitives, so the numbers the simulator uses are the expressions the tests verify. All inputs
broadcast together (numpy rules); scalars in give a float out.

``lnA`` is ``int_{N-1}^{I} ln gamma_m(x) dx + int_I^N ln gamma_L(x) dx`` (the log of A in (14)).
Admissible parameters: ``alpha, beta > 0``, ``alpha + beta < 1``, ``N - 1 < I < N``, positive
factor supplies; anything else raises ``ValueError``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import os
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

# sympy and the derivation are imported where they are needed: a process that finds the
# lambdified functions in the cache (see _cache_file) never imports sympy

__all__ = [
    "log_output", "factor_shares", "log_carbon_intensity", "elasticity_indco_M", "log_tfp",
    "gamma_0", "factor_prices", "log_energy_priced", "log_carbon_intensity_priced",
    "elasticity_indco_I", "implied_robot_share", "REGIMES",
]

REGIMES = ("fixed_energy", "priced_energy", "elastic_energy")


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


def _cache_file() -> Path | None:
    """Where the derived expressions are cached between processes, or None (cache disabled).

    ``ROBOCARBON_THEORY_CACHE``: a directory, or ``off``/``0`` to disable; default
    ``$XDG_CACHE_HOME/robocarbon`` (``~/.cache/robocarbon``). The file name carries the SHA-256
    of the theory package's source, the sympy and the Python version, so any change to the
    theory (or to sympy) derives afresh.
    """
    env = os.environ.get("ROBOCARBON_THEORY_CACHE", "")
    if env.strip().lower() in ("off", "0", "no", "false", "none"):
        return None
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME")
                                      or Path.home() / ".cache") / "robocarbon"
    h = hashlib.sha256()
    h.update(f"{importlib.metadata.version('sympy')}|{np.__version__}|{sys.version_info[:2]}"
             .encode())
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return base / f"theory-numeric-{h.hexdigest()[:24]}.pickle"


def _lambdified(name: str, args, ex) -> dict:
    """The cache entry of one function: the source sympy.lambdify generates for ``ex`` with the
    numpy functions it calls, and the pickled (args, expression)."""
    import sympy as sp

    fn = sp.lambdify(args, ex, "numpy")
    entry = {"expr": pickle.dumps((tuple(args), ex), protocol=pickle.HIGHEST_PROTOCOL),
             "source": None, "names": ()}
    try:
        source = inspect.getsource(fn)
        names = tuple(n for n in fn.__code__.co_names if n in fn.__globals__)
        # only when every global the code uses is numpy's own object (or a builtin)
        if all(getattr(np, n, None) is fn.__globals__[n] for n in names):
            entry["source"], entry["names"] = source, names
    except (OSError, TypeError):  # pragma: no cover - no source: lambdify again when loaded
        pass
    return entry


@functools.lru_cache(maxsize=1)
def _expressions() -> dict:
    """{name: entry} for every numeric function: ``entry["expr"]`` the pickled (argument
    symbols, expression in the paper's symbols), derived from the sympy objects of
    :mod:`robocarbon.theory.derive` and :mod:`robocarbon.theory.claims` (seconds), and
    ``entry["source"]`` the code ``sympy.lambdify`` generates for it; or all of this read back
    from the file a previous process wrote of exactly those objects (keyed by the theory's
    source; see :func:`_cache_file`)."""
    path = None
    try:
        path = _cache_file()
        if path is not None and path.is_file():
            with open(path, "rb") as fh:
                out = pickle.load(fh)
            if isinstance(out, dict) and out and all(
                    isinstance(v, dict) and "expr" in v for v in out.values()):
                return out
    except Exception:  # an unreadable or stale cache: derive afresh
        pass
    out = {}
    for name, (args, ex) in _table().items():
        ex = _paper_expr(ex)
        extra = ex.free_symbols - set(args)
        if extra:  # pragma: no cover - guards against an expression the table did not foresee
            raise RuntimeError(f"{name}: unexpected free symbols {extra}")
        out[name] = _lambdified(name, args, ex)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except Exception:  # read-only home, unpicklable object: run without the cache
            pass
    return out


@functools.lru_cache(maxsize=None)
def _fn(name: str):
    """The numpy function of ``name``: lambdify's code for the theory's expression."""
    entry = _expressions()[name]
    if entry.get("source"):
        ns = {n: getattr(np, n) for n in entry["names"]}
        exec(compile(entry["source"], f"<robocarbon.theory.numeric:{name}>", "exec"), ns)
        return ns["_lambdifygenerated"]
    import sympy as sp

    args, ex = pickle.loads(entry["expr"])
    return sp.lambdify(args, ex, "numpy")


def expression(name: str):
    """The sympy expression behind a numeric function (for tests and reports)."""
    return pickle.loads(_expressions()[name]["expr"])[1]


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
