"""Every step of the derivation of equations (1)-(17) closes (symbolically or numerically)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from robocarbon.theory import primitives as P
from robocarbon.theory.derive import cost_function, derivation, integrate_linear, is_zero, numeric_checks
from robocarbon.theory.primitives import PAPER, to_paper


@pytest.fixture(scope="module")
def d():
    return derivation(PAPER)


def test_every_checked_step_closes(d):
    checked = [s for s in d.steps if s["ok"] is not None]
    # cost constraint + FOC per task type, demand, price index, VMP=cost-min demands, 4 clearings,
    # the two routes to (13)
    assert len(checked) >= 13
    bad = [s["name"] for s in checked if not s["ok"]]
    assert not bad, bad
    assert {s["equation"] for s in checked} >= {"7", "9", "10", "3-6", "13"}


def test_is_zero_rejects_nonzero():
    # the checker must be able to fail: a flipped sign, a missing log term, a wrong measure
    assert not is_zero(P.beta * P.s_r - P.beta * P.s_l)
    assert not is_zero(sp.log(P.K * P.M) - sp.log(P.K))
    assert is_zero(P.s_r + P.s_l - 1)  # unit length of the task interval
    assert is_zero(sp.log(P.K ** P.alpha * P.M) - P.alpha * sp.log(P.K) - sp.log(P.M))


def test_integrate_linear_keeps_general_functions():
    ex = 2 * sp.log(P.R) - sp.log(P.gamma_m(P.x))
    out = integrate_linear(ex, P.N - 1, P.I, P.s_r)
    assert out.has(sp.Integral)
    assert is_zero(out - (2 * sp.log(P.R) * P.s_r - sp.Integral(sp.log(P.gamma_m(P.x)), (P.x, P.N - 1, P.I))))


def test_cost_function_general_exponents():
    # decreasing returns: the multiplier is marginal cost, FOCs hold, cost = sigma * lambda * y
    a1, a2 = sp.Rational(1, 3), sp.Rational(1, 4)
    y = sp.Symbol("y", positive=True)
    g = sp.Symbol("g", positive=True)
    c = cost_function((a1, a2), (P.R, P.W), g, y)
    assert not c["crs"]
    q1, q2 = c["demands"]
    assert is_zero(sp.log(g * q1 ** a1 * q2 ** a2) - sp.log(y))
    assert is_zero(sp.log(c["marginal_cost"]) - sp.log(c["multiplier"]))
    crs = cost_function((P.alpha, 1 - P.alpha), (P.R, P.W), g, y)
    assert crs["crs"] and is_zero(sp.log(crs["cost"] / y) - sp.log(crs["marginal_cost"]))


def test_market_clearing_allocations(d):
    al = d["allocations"]
    # k(x) = K and e(x) = E on every task, m(x) = M/(I-N+1), l(x) = L/(N-I)
    assert is_zero(al["k_robot"] - P.K) and is_zero(al["k_labour"] - P.K)
    assert is_zero(al["e_robot"] - P.E) and is_zero(al["e_labour"] - P.E)
    assert is_zero(al["m"] * P.s_r - P.M)
    assert is_zero(al["l"] * P.s_l - P.L)


def test_shares_are_the_papers_and_sum_to_one(d):
    sh = d["shares"]
    assert is_zero(sh["capital"] - P.alpha)
    assert is_zero(sh["labour"] - P.beta * P.s_l)
    assert is_zero(sh["robots"] - P.beta * P.s_r)
    assert is_zero(sh["energy"] - (1 - P.alpha - P.beta))
    assert d["share_total"] == 1


def test_two_routes_to_13_agree(d):
    step = [s for s in d.steps if s["name"] == "lnY_route_prices"]
    assert step and step[0]["ok"]
    # (13) has the integral terms of A and the entropy-like allocation terms
    lnY = d["lnY"]
    assert lnY.has(d["int_gamma_m"]) and lnY.has(d["int_gamma_L"])
    assert is_zero(lnY.coeff(sp.log(P.s_r)) + P.beta * P.s_r)


def test_gamma_0_derived_sign(d):
    g0 = to_paper(d["gamma_0"])
    f = sp.lambdify((P.beta, P.I, P.N), g0, "numpy")
    rng = np.random.default_rng(1)
    b = rng.uniform(0.01, 0.9, 500)
    n = rng.uniform(0, 5, 500)
    i = n - 1 + rng.uniform(1e-6, 1 - 1e-6, 500)
    v = f(b, i, n)
    assert np.all(v <= 0) and np.all(v >= -b * np.log(2) - 1e-12)


def test_numeric_checks_of_integral_steps():
    res = numeric_checks(PAPER)
    assert set(res) == {"9", "10", "13"}
    for rec in res.values():
        assert rec["ok"], rec
        assert rec["method"].startswith("numeric(") and "points" in rec["method"]


def test_dlnY_dI_boundary_terms(d):
    dI = d["dlnY_dI"]
    assert dI.has(P.gamma_m(P.I)) and dI.has(P.gamma_L(P.I))
    # independent check: finite difference of (13) with constant gammas gamma_m = 2, gamma_L = 1
    lnY = to_paper(d["lnY"]).xreplace({d["int_gamma_m"]: sp.log(2) * (P.I - P.N + 1),
                                       d["int_gamma_L"]: 0})
    f = sp.lambdify((P.I,), lnY.subs({P.alpha: 0.3, P.beta: 0.4, P.N: 1.0, P.K: 2.0, P.L: 3.0,
                                       P.M: 0.5, P.E: 1.5}), "math")
    h = 1e-6
    fd = (f(0.4 + h) - f(0.4 - h)) / (2 * h)
    exact = float(to_paper(dI).subs({P.gamma_m(P.I): 2, P.gamma_L(P.I): 1, P.alpha: 0.3, P.beta: 0.4,
                                      P.N: 1.0, P.K: 2.0, P.L: 3.0, P.M: 0.5, P.E: 1.5, P.I: 0.4}))
    assert fd == pytest.approx(exact, rel=1e-6)
