"""The paper's comparative statics, checked with their conditions."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from robocarbon.theory import primitives as P
from robocarbon.theory.claims import CLAIM_IDS, automation_margin, check_claims, energy_regimes, eta
from robocarbon.theory.derive import is_zero
from robocarbon.theory.primitives import PAPER


@pytest.fixture(scope="module")
def claims():
    return {c["id"]: c for c in check_claims()}


def test_claim_shape(claims):
    assert tuple(claims) == CLAIM_IDS
    for c in claims.values():
        assert c["holds"] in ("yes", "no", "conditional")
        assert c["statement"] and c["conditions"] and c["derivation"]


def test_sign_claim_holds_with_energy_fixed(claims):
    c = claims["robot_elasticity_fixed_energy"]
    assert c["holds"] == "conditional"
    assert "E" in c["conditions"] and "fixed" in c["conditions"]
    reg = energy_regimes()
    assert is_zero(reg["fixed_energy"] + P.beta * P.s_r)


def test_priced_energy_kills_the_robot_effect(claims):
    reg = energy_regimes()
    assert reg["priced_energy"] == 0
    # E/Y = (1 - alpha - beta)/P_e at the optimum
    assert is_zero(reg["log_intensity_priced"] - (sp.log(1 - P.alpha - P.beta) - sp.Symbol("lnP_e", real=True)))
    assert claims["energy_priced"]["holds"] == "no"


def test_elastic_supply_limits_and_monotonicity(claims):
    reg = energy_regimes()
    el = reg["elastic_energy"]
    assert is_zero(reg["elastic_limit_eta_0"] - reg["fixed_energy"])
    assert reg["elastic_limit_eta_oo"] == 0
    assert is_zero(el + P.beta * P.s_r / (1 + (P.alpha + P.beta) * eta))
    assert (reg["elastic_d_eta"]).is_positive  # magnitude falls as eta rises
    assert claims["energy_elastic_supply"]["holds"] == "conditional"


def test_elastic_supply_against_a_numeric_equilibrium():
    """Independent check: solve the energy market numerically and difference in ln M."""
    from scipy.optimize import brentq

    from robocarbon.theory import numeric as nm

    alpha, beta, I, N, lnA, K, L, eta_v, P0 = 0.3, 0.4, 0.6, 1.0, 0.2, 2.0, 3.0, 1.7, 1.3

    def ln_intensity(lnM):
        # P_e(E) = P0 E^(1/eta) equals the marginal product (1-alpha-beta) Y/E
        def gap(lnE):
            lnY = nm.log_output(K, L, np.exp(lnM), np.exp(lnE), alpha, beta, I, N, lnA)
            return np.log(P0) + lnE / eta_v - (np.log(1 - alpha - beta) + lnY - lnE)

        lnE = brentq(gap, -50, 50, xtol=1e-14)
        return nm.log_carbon_intensity(K, L, np.exp(lnM), np.exp(lnE), alpha, beta, I, N, lnA)

    h = 1e-5
    fd = (ln_intensity(0.5 + h) - ln_intensity(0.5 - h)) / (2 * h)
    exact = nm.elasticity_indco_M(alpha, beta, I, N, regime="elastic_energy", supply_elasticity=eta_v)
    assert fd == pytest.approx(exact, rel=1e-6)


def test_automation_margin_is_the_cost_advantage(claims):
    aut = automation_margin()
    assert aut["equal"]
    assert aut["cross"] == -P.beta
    assert claims["automation_frontier"]["holds"] == "conditional"
    assert claims["robots_versus_tasks"]["holds"] == "conditional"


def test_gamma_claim_fails(claims):
    c = claims["gamma_m_gt_gamma_L"]
    assert c["holds"] == "no"
    assert "raises intensity" in c["conditions"]  # the counterexample with gamma_m(I) = 2 gamma_L(I)


def test_log_versus_level(claims):
    assert claims["log_versus_level"]["holds"] == "no"
    assert r"robot" in claims["log_versus_level"]["derivation"]


def test_shares_and_gamma0(claims):
    assert claims["shares_sum_to_one"]["holds"] == "yes"
    g = claims["gamma_0_sign"]
    assert g["holds"] == "no" and "non-positive" in g["conditions"]
    assert r"\log{\left(2 \right)}" in g["derivation"]


def test_claims_follow_the_primitives():
    # the same change as in test_theory_ledger (cached): labour exponent beta/2 on labour tasks,
    # so the energy share, hence the elastic-supply elasticity, changes
    b = P.beta / 2
    base = {x["id"]: x for x in check_claims()}
    c = {x["id"]: x for x in check_claims(PAPER.replace(labour_exponents=(P.alpha, b, 1 - P.alpha - b)))}
    assert c["energy_elastic_supply"]["derivation"] != base["energy_elastic_supply"]["derivation"]
    assert c["robot_elasticity_fixed_energy"]["derivation"] == base["robot_elasticity_fixed_energy"]["derivation"]
    assert c["energy_priced"]["holds"] == "no"
