"""The lambdified numeric functions equal the symbolic expressions they come from."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.theory import numeric as nm
from robocarbon.theory import primitives as P
from robocarbon.theory.derive import derivation
from robocarbon.theory.primitives import PAPER, to_paper


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
