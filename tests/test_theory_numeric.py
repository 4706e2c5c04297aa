"""The lambdified numeric functions equal the symbolic expressions they come from.

Their code ships as ``theory/_generated_numeric.py``: these tests require it to equal a fresh
regeneration from the derivation, check every generated function against its sympy expression
(evalf) and against lambdify to the bit, and check that no cache folder's contents (a malicious
pickle, edited source) are ever loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import os
import pickle
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.theory import _generated_numeric as gen
from robocarbon.theory import numeric as nm
from robocarbon.theory import primitives as P
from robocarbon.theory.derive import derivation
from robocarbon.theory.primitives import PAPER, to_paper

GENERATED = Path(nm.__file__).resolve().with_name("_generated_numeric.py")


@st.composite
def params(draw):
    alpha = draw(st.floats(0.02, 0.7))
    beta = draw(st.floats(0.02, 0.97 - alpha))
    N = draw(st.floats(-2.0, 5.0))
    I = N - 1 + draw(st.floats(0.01, 0.99))
    K, L, M, E = (draw(st.floats(0.05, 50.0)) for _ in range(4))
    lnA = draw(st.floats(-2.0, 2.0))
    return dict(K=K, L=L, M=M, E=E, alpha=alpha, beta=beta, I=I, N=N, lnA=lnA)


def _symbolic(ex_name, p):
    """Evaluate the derivation's own expression (not the lambdified one) with sympy."""
    d = derivation(PAPER)
    ex = to_paper(d[ex_name].xreplace({d["int_gamma_m"]: sp.Symbol("lnA"), d["int_gamma_L"]: 0}))
    sub = {P.K: p["K"], P.L: p["L"], P.M: p["M"], P.E: p["E"], P.alpha: p["alpha"],
           P.beta: p["beta"], P.I: p["I"], P.N: p["N"], sp.Symbol("lnA"): p["lnA"]}
    return float(ex.xreplace({k: sp.Float(v, 30) for k, v in sub.items()}).evalf(30))


@settings(max_examples=25, deadline=None)
@given(params())
def test_numeric_equals_symbolic(p):
    assert nm.log_output(**p) == pytest.approx(_symbolic("lnY", p), rel=1e-10, abs=1e-10)
    assert nm.log_carbon_intensity(**p) == pytest.approx(_symbolic("ln_indco", p), rel=1e-10, abs=1e-10)
    # (16)-(17): ln indco = ln E - ln Y
    assert nm.log_carbon_intensity(**p) == pytest.approx(np.log(p["E"]) - nm.log_output(**p), abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(params())
def test_shares_sum_to_one_and_match_prices(p):
    sh = nm.factor_shares(p["alpha"], p["beta"], p["I"], p["N"])
    assert set(sh) == {"capital", "labour", "robots", "energy"}
    assert sum(sh.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(v > 0 for v in sh.values())
    Y = np.exp(nm.log_output(**p))
    pr = nm.factor_prices(Y, p["K"], p["L"], p["M"], p["E"], p["alpha"], p["beta"], p["I"], p["N"])
    assert pr["P_m"] * p["M"] / Y == pytest.approx(sh["robots"], rel=1e-12)
    assert pr["W"] * p["L"] / Y == pytest.approx(sh["labour"], rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(params())
def test_elasticities_against_finite_differences(p):
    h = 1e-6
    up = dict(p, M=p["M"] * np.exp(h))
    dn = dict(p, M=p["M"] * np.exp(-h))
    fd = (nm.log_carbon_intensity(**up) - nm.log_carbon_intensity(**dn)) / (2 * h)
    fixed = nm.elasticity_indco_M(p["alpha"], p["beta"], p["I"], p["N"])
    assert fd == pytest.approx(fixed, rel=1e-5, abs=1e-8)
    # priced energy: re-optimise E at a fixed price; intensity does not move with M
    P_e = 1.7

    def ln_int_priced(q):
        lnE = nm.log_energy_priced(q["K"], q["L"], q["M"], P_e, q["alpha"], q["beta"], q["I"], q["N"], q["lnA"])
        return nm.log_carbon_intensity(q["K"], q["L"], q["M"], np.exp(lnE), q["alpha"], q["beta"], q["I"], q["N"], q["lnA"])

    assert (ln_int_priced(up) - ln_int_priced(dn)) / (2 * h) == pytest.approx(0.0, abs=1e-6)
    assert ln_int_priced(p) == pytest.approx(
        nm.log_carbon_intensity_priced(P_e, p["alpha"], p["beta"], p["I"], p["N"]), abs=1e-9)
    assert nm.elasticity_indco_M(p["alpha"], p["beta"], p["I"], p["N"], regime="priced_energy") == 0.0


def test_elastic_regime_interpolates():
    a, b, I, N = 0.3, 0.4, 0.5, 1.0
    fixed = nm.elasticity_indco_M(a, b, I, N)
    el = nm.elasticity_indco_M(a, b, I, N, regime="elastic_energy", supply_elasticity=np.array([1e-9, 1.0, 1e9]))
    assert el[0] == pytest.approx(fixed) and abs(el[2]) < 1e-8 and fixed < el[1] < 0


def test_broadcasting_and_validation():
    K = np.linspace(1, 2, 4)[:, None]
    M = np.linspace(1, 3, 5)[None, :]
    out = nm.log_output(K, 1.0, M, 1.0, 0.3, 0.4, 0.5, 1.0, 0.0)
    assert out.shape == (4, 5)
    sh = nm.factor_shares(0.3, np.array([0.1, 0.2, 0.3]), 0.5, 1.0)
    assert all(np.shape(v) == (3,) for v in sh.values())
    assert isinstance(nm.log_tfp(0.3, 0.4, 0.5, 1.0, 0.0), float)
    e = nm.elasticity_indco_M(0.3, 0.4, np.array([0.2, 0.5, 0.8]), 1.0)
    assert e.shape == (3,) and np.all(np.diff(e) < 0)
    with pytest.raises(ValueError):
        nm.log_output(1, 1, 1, 1, 0.6, 0.5, 0.5, 1.0, 0.0)  # alpha + beta > 1
    with pytest.raises(ValueError):
        nm.factor_shares(0.3, 0.4, 1.0, 1.0)  # I = N: no labour tasks
    with pytest.raises(ValueError):
        nm.elasticity_indco_M(0.3, 0.4, 0.5, 1.0, regime="elastic_energy")
    with pytest.raises(ValueError):
        nm.elasticity_indco_M(0.3, 0.4, 0.5, 1.0, regime="nope")


def test_gamma0_tfp_and_level_helpers():
    # gamma_0 - lnA = -ln TFP (15)-(17)
    g0 = nm.gamma_0(0.3, 0.4, 0.5, 1.0)
    assert g0 == pytest.approx(-0.4 * np.log(2))
    assert g0 - 0.7 == pytest.approx(-nm.log_tfp(0.3, 0.4, 0.5, 1.0, 0.7))
    assert nm.implied_robot_share(-0.013, 2.0) == pytest.approx(0.026)
    # d ln indco/dI equals minus the log cost advantage of robots at I (finite difference on (17))
    a, b, N, K, L, M, E, lnA0 = 0.3, 0.4, 1.0, 2.0, 3.0, 0.7, 1.1, 0.0
    gm, gl = np.log(1.5), 0.0  # constant gammas: lnA(I) = ln(1.5) (I - N + 1)

    def li(I):
        return nm.log_carbon_intensity(K, L, M, E, a, b, I, N, lnA0 + gm * (I - N + 1) + gl * (N - I))

    h = 1e-6
    fd = (li(0.4 + h) - li(0.4 - h)) / (2 * h)
    assert fd == pytest.approx(nm.elasticity_indco_I(L, M, a, b, 0.4, N, gm - gl), rel=1e-6)


# ------------------------------------------------------------------ the generated module

def test_generated_module_equals_a_fresh_regeneration():
    fresh = nm.generate_source().encode("utf-8")
    assert GENERATED.read_bytes() == fresh, (
        f"{GENERATED.name} is out of date with the theory's derivation (or with sympy's "
        f"printers); regenerate it with\n    {nm.REGENERATE_COMMAND}\nand commit the result")


def test_regenerate_and_check_commands(tmp_path, monkeypatch):
    stale = tmp_path / "_generated_numeric.py"
    edited = GENERATED.read_bytes().replace(b"return alpha*log(K)", b"return 2*alpha*log(K)")
    stale.write_bytes(edited)
    monkeypatch.setattr(nm, "_generated_path", lambda: stale)
    assert nm.main(["--check"]) == 1  # a hand edit is detected
    assert nm.main(["--regenerate"]) == 0
    assert stale.read_bytes() == GENERATED.read_bytes()
    assert nm.main(["--check"]) == 0
    assert nm.regenerate(stale) is False  # unchanged: not rewritten
    # the documented command, as a developer runs it (on the real file: read-only check)
    out = subprocess.run([sys.executable, "-m", "robocarbon.theory.numeric", "--check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "up to date" in out.stdout


def test_generated_functions_are_the_derivation_lambdified_to_the_bit():
    derived = nm._expressions()
    assert set(gen.FUNCTIONS) == set(derived)
    rng = np.random.default_rng(0)
    for name, (args, ex) in derived.items():
        fn = gen.FUNCTIONS[name]
        assert nm._fn(name) is fn
        assert list(inspect.signature(fn).parameters) == [str(a) for a in args], name
        assert nm.expression(name) == ex, name
        vals = [rng.uniform(0.05, 0.3, 50) if str(a) in ("alpha", "beta")
                else rng.uniform(0.1, 0.9, 50) if str(a) == "I"
                else np.ones(50) if str(a) == "N" else rng.uniform(0.5, 3.0, 50)
                for a in args]
        ref = sp.lambdify(args, ex, "numpy")(*vals)
        np.testing.assert_array_equal(np.broadcast_to(fn(*vals), np.shape(ref)), ref,
                                      err_msg=name)
    with pytest.raises(KeyError, match="no numeric function"):
        nm.expression("nope")


def _admissible(arg: str, rng) -> float:
    """A random admissible value of a numeric function's argument (alpha, beta, I, N drawn
    jointly by the caller)."""
    if arg in ("lnA", "log_gamma_ratio", "b1"):
        return float(rng.normal())
    return float(np.exp(rng.uniform(-3.0, 3.0)))  # K, L, M, E, Y, P_e, eta, robot: positive


@pytest.mark.parametrize("name", sorted(gen.FUNCTIONS))
def test_each_generated_function_equals_its_expression_by_evalf(name):
    args, ex = nm._expressions()[name]
    rng = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
    fn = gen.FUNCTIONS[name]
    for _ in range(30):
        alpha = rng.uniform(0.02, 0.7)
        beta = rng.uniform(0.02, 0.97 - alpha)
        N = rng.uniform(-2.0, 5.0)
        I = N - 1 + rng.uniform(0.01, 0.99)
        joint = {"alpha": alpha, "beta": beta, "N": N, "I": I}
        vals = [joint[str(a)] if str(a) in joint else _admissible(str(a), rng) for a in args]
        exact = ex.xreplace({a: sp.Float(v, 30) for a, v in zip(args, vals)}).evalf(30)
        assert float(fn(*vals)) == pytest.approx(float(exact), rel=1e-12, abs=1e-12), (name, vals)


# ------------------------------------------------------------------ nothing runs from a cache

def _grid_values() -> dict:
    """Every public numeric function on a fixed grid of admissible inputs, as float.hex
    strings (bit-exact); run in the test process and in a fresh subprocess."""
    import numpy as np

    from robocarbon.theory import numeric as nm

    rng = np.random.default_rng(20240607)
    n = 64
    a = rng.uniform(0.05, 0.4, n)
    b = rng.uniform(0.05, 0.5, n)
    N = rng.uniform(-1.0, 3.0, n)
    I = N - 1 + rng.uniform(0.05, 0.95, n)
    K, L, M, E, Y, Pe, eta, robot = (np.exp(rng.uniform(-2.0, 2.0, n)) for _ in range(8))
    lnA, lg, b1 = (rng.normal(size=n) for _ in range(3))
    out = {
        "log_output": nm.log_output(K, L, M, E, a, b, I, N, lnA),
        "log_carbon_intensity": nm.log_carbon_intensity(K, L, M, E, a, b, I, N, lnA),
        "log_tfp": nm.log_tfp(a, b, I, N, lnA),
        "gamma_0": nm.gamma_0(a, b, I, N),
        "fixed": nm.elasticity_indco_M(a, b, I, N),
        "priced": nm.elasticity_indco_M(a, b, I, N, regime="priced_energy"),
        "elastic": nm.elasticity_indco_M(a, b, I, N, regime="elastic_energy",
                                         supply_elasticity=eta),
        "log_energy_priced": nm.log_energy_priced(K, L, M, Pe, a, b, I, N, lnA),
        "log_carbon_intensity_priced": nm.log_carbon_intensity_priced(Pe, a, b, I, N),
        "elasticity_indco_I": nm.elasticity_indco_I(L, M, a, b, I, N, lg),
        "implied_robot_share": nm.implied_robot_share(b1, robot),
        "scalar": nm.log_output(2.0, 3.0, 0.5, 1.5, 0.3, 0.4, 0.5, 1.0, 0.1),
    }
    for k, v in nm.factor_shares(a, b, I, N).items():
        out[f"share_{k}"] = v
    for k, v in nm.factor_prices(Y, K, L, M, E, a, b, I, N).items():
        out[f"price_{k}"] = v
    return {k: [float(x).hex() for x in np.ravel(v)] for k, v in out.items()}


class _Payload:
    """A pickle that, when loaded, runs ``code`` (what a poisoned cache file would hold)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _legacy_cache_name() -> str:
    """The file name the pickle cache of the previous numeric.py read (and ran) from its cache
    folder; planted below so that a return of that scheme would load the poison."""
    h = hashlib.sha256()
    h.update(f"{importlib.metadata.version('sympy')}|{np.__version__}|{sys.version_info[:2]}"
             .encode())
    for f in sorted(GENERATED.parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return f"theory-numeric-{h.hexdigest()[:24]}.pickle"


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_poisoned_cache_folder_is_never_executed(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    attack = (f"open({str(sentinel)!r}, 'w').write('cache code ran')\n"
              "import sys\n"  # ... and change the numbers of the module if it is loaded
              "_m = sys.modules.get('robocarbon.theory._generated_numeric')\n"
              "if _m is not None: _m.FUNCTIONS['log_output'] = lambda *a: 42.0\n")
    poison = pickle.dumps(_Payload(attack))
    # edited source: the generated module and numeric.py, with the attack prepended and a
    # number changed, as a cache of source would hold them
    edited = {name: attack + src.replace("return alpha*log(K)", "return 3*alpha*log(K)")
              for name, src in (("_generated_numeric.py", GENERATED.read_text()),
                                ("numeric.py", Path(nm.__file__).read_text()))}
    # positive controls (in a subprocess): the poison runs when it is loaded
    control = _write_bytes(tmp_path / "control" / "p.pickle", poison)
    for cmd in (["-c", f"import pickle; pickle.loads(open({str(control)!r}, 'rb').read())"],
                [str(_write(tmp_path / "control" / "m.py", edited["_generated_numeric.py"]))]):
        subprocess.run([sys.executable, *cmd], check=True, timeout=60, capture_output=True)
        assert sentinel.read_text() == "cache code ran"
        sentinel.unlink()

    xdg = tmp_path / "xdg"
    theory_cache = tmp_path / "theory-cache"
    for folder in (xdg / "robocarbon", theory_cache):
        for fname in (_legacy_cache_name(), "theory-numeric-0123456789abcdef01234567.pickle",
                      "theory-numeric.pickle", "cache.pickle"):
            _write_bytes(folder / fname, poison)
        for fname, src in edited.items():
            _write(folder / fname, src)
            _write(folder / "robocarbon" / "theory" / fname, src)
    before = _snapshot(tmp_path)
    code = (textwrap.dedent(inspect.getsource(_grid_values))
            + "import json, sys\n"
              "vals = _grid_values()\n"
              "print(json.dumps({'values': vals, 'sympy': 'sympy' in sys.modules}))\n")
    expected = _grid_values()
    for env_extra in ({"ROBOCARBON_THEORY_CACHE": str(theory_cache), "XDG_CACHE_HOME": str(xdg)},
                      {"XDG_CACHE_HOME": str(xdg)}):  # the folder named, and the default one
        env = {k: v for k, v in os.environ.items()
               if k not in ("ROBOCARBON_THEORY_CACHE", "XDG_CACHE_HOME")}
        env.update(env_extra)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert not sentinel.exists(), "code from the cache folder was executed"
        assert got["values"] == expected  # the same numbers, to the bit, as without any cache
        assert got["sympy"] is False  # evaluated from the shipped module: nothing derived
    assert _snapshot(tmp_path) == before  # the cache folders are neither read into code nor written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_numeric_modules_load_no_code():
    """Static check of numeric.py and the generated module: no deserialiser, no dynamic
    execution or import, no environment lookups (the old cache folder variables)."""
    import ast

    banned_modules = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "importlib",
                      "runpy", "os"}
    banned_calls = {"exec", "eval", "compile", "__import__", "getenv"}
    for path in (Path(nm.__file__), GENERATED):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = {node.module.split(".")[0]}
            else:
                mods = set()
            assert not mods & banned_modules, (path.name, node.lineno, mods)
            if isinstance(node, ast.Call):
                f = node.func
                name = getattr(f, "id", None) or getattr(f, "attr", "")
                assert name not in banned_calls, (path.name, node.lineno, name)
            if isinstance(node, ast.Attribute):
                assert node.attr != "environ", (path.name, node.lineno)
