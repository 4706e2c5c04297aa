"""The Design / Draw interface of robocarbon.simulate.design and the exact identities of a draw.

Validation is against identities nobody here chose: the theory module's elasticity (engineer A's
sympy objects) for the generated economy, equation (23) for human-machine matching, equation (21)
for the Bartik exposure, and the adding-up property of the downscaling (20).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics.errors import InputError
from robocarbon.simulate import paper, threats
from robocarbon.simulate.design import Design, Draw, get_design, list_designs
from robocarbon.theory import numeric as tn

COLUMNS = ["city", "year", "province", "region", "lnindco", "robot", "edu", "urban", "lnpop",
           "lnpgdp", "energ", "fin", "open", "adopt_year", "gpatent", "hum", "hmatch", "internet",
           "scitech", "lnco", "resource", "east", "south", "large", "digital"]


@pytest.fixture(scope="module")
def draw() -> Draw:
    return get_design("paper").draw(np.random.default_rng(11))


def test_list_designs_has_paper_with_parameter_table():
    names = [d[0] for d in list_designs()]
    assert "paper" in names
    name, desc, table = next(d for d in list_designs() if d[0] == "paper")
    assert desc
    keys = {r["name"] for r in table}
    for k in ("kappa", "alpha", "beta", "I", "N", "regime", "confounding", "downscale_output",
              "va_robot", "het_group", "lag_weights", "threshold_var", "iv_strength", "log_level",
              "pilot_growth"):
        assert k in keys, k
    assert all(r["description"] for r in table)


def test_with_params_validates_names_and_types():
    d = get_design("paper")
    assert isinstance(d, Design)
    d2 = d.with_params(kappa=0.2, lag_weights=[1, 0.5], log_level="true")
    assert d2.params["kappa"] == 0.2 and d2.params["lag_weights"] == (1.0, 0.5)
    assert d2.params["log_level"] is True
    assert d.params["kappa"] == 0.13  # immutable original
    assert d2.changed() == {"kappa": 0.2, "lag_weights": (1.0, 0.5), "log_level": True}
    with pytest.raises(InputError, match="no parameter 'kapa'"):
        d.with_params(kapa=1.0)
    with pytest.raises(InputError, match="must be a number"):
        d.with_params(kappa="big")
    with pytest.raises(InputError, match="must be an integer"):
        d.with_params(n_cities=10.5)
    with pytest.raises(InputError, match="must be one of"):
        d.with_params(regime="sometimes")
    with pytest.raises(InputError, match=">="):
        d.with_params(n_cities=3)
    with pytest.raises(InputError, match="unknown design"):
        get_design("nonesuch")
    with pytest.raises(InputError):
        get_design("paper", I=1.5).draw(0)
    # picklable and hashable (the engine ships designs to workers)
    assert pickle.loads(pickle.dumps(d2)) == d2
    assert hash(d2) == hash(d.with_params(kappa=0.2, lag_weights=(1.0, 0.5), log_level=True))


def test_panel_columns_shape_and_arrays(draw):
    p = draw.panel
    assert p.shape[0] == 262 * 13 == 3406
    for c in COLUMNS:
        assert c in p.columns, c
    assert p["city"].nunique() == 262 and sorted(p["year"].unique()) == list(range(2007, 2020))
    assert not p[COLUMNS].isna().any().any()
    a = draw.arrays
    np.testing.assert_array_equal(a["y"], p["lnindco"].to_numpy())
    assert list(a["X_names"]) == ["robot", "edu", "urban", "lnpop", "lnpgdp", "energ", "fin", "open"]
    np.testing.assert_array_equal(a["X"], p[list(a["X_names"])].to_numpy())
    np.testing.assert_array_equal(a["entity"], pd.factorize(p["city"])[0])
    np.testing.assert_array_equal(a["time"], p["year"].to_numpy() - 2007)
    # adopt_year: 0 = never; 16 zones in the 2008, 2009 and 2011 batches
    years = set(p["adopt_year"].unique())
    assert years <= {0, 2008, 2009, 2011} and {0, 2008, 2009, 2011} <= years
    D = ((p["adopt_year"] > 0) & (p["year"] >= p["adopt_year"])).astype(float).to_numpy()
    np.testing.assert_array_equal(a["D"], D)
    for g in ("resource", "east", "south", "large", "digital"):
        assert set(p[g].unique()) == {0, 1}
        assert p.groupby("city")[g].nunique().max() == 1  # city-level groupings
    assert p.loc[p["province"] == "Beijing", "east"].eq(1).all()
    assert p.loc[p["province"] == "Guangdong", "south"].eq(1).all()


def test_truth_keys(draw):
    t = draw.truth
    for k in ("robot", "robot_ame", "robot_lnco", "robot_cumulative", "did", "robot|east=1",
              "robot|east=0", "robot_lag1", "robot_lag5"):
        assert k in t and np.isfinite(t[k]), k
    # homogeneous linear default: every TWFE estimand equals elasticity x kappa from the theory
    expect = float(tn.elasticity_indco_M(0.3, 0.5, 0.2, 1.0)) * 0.13
    assert t["robot"] == pytest.approx(expect, rel=1e-12)
    assert t["robot|resource=1"] == pytest.approx(expect, rel=1e-12)
    assert t["did"] == pytest.approx(float(tn.elasticity_indco_M(0.3, 0.5, 0.2, 1.0)) * 0.3)


def test_same_seed_same_draw_different_seed_differs():
    d = get_design("paper", n_cities=60)
    a, b = d.draw(np.random.default_rng(5)), d.draw(np.random.default_rng(5))
    pd.testing.assert_frame_equal(a.panel, b.panel)
    assert a.truth == b.truth
    c = d.draw(np.random.default_rng(6))
    assert not np.allclose(a.panel["lnindco"], c.panel["lnindco"])


def _economy(p, lnK, lnL, lnM, lnE0, lnA):
    """ln E and ln Y of the paper design's compiled economy for given log factors: the factor
    series are passed as white noise with unit loading (rho 0, so x = the innovation), ln M as
    the robot part of a city with 1 + size = 0, no pilot, no threat."""
    from robocarbon.simulate import kernels

    n, T = lnK.shape
    coef = np.repeat(paper._log_output_coefs(p["alpha"], p["beta"], (p["I"],), p["N"]), n, axis=0)
    s_E = float(tn.factor_shares(p["alpha"], p["beta"], p["I"], p["N"])["energy"])
    out = np.empty((9, n, T))
    pc, pl = np.empty((1, T)), np.empty((1, T))
    e_fac = np.stack([lnL, lnK, lnE0, lnA])
    kernels.economy(e_fac, np.full(n, -1.0), np.zeros((4, T)), np.zeros(4), np.ones(4),
                    np.zeros(4), np.zeros((n, T)), 0.0, np.zeros((n, T)), lnM, np.ones((n, T)),
                    np.zeros(n, dtype=np.int64), np.arange(2007, 2007 + T), 0.3, 0.0, coef,
                    paper._REGIMES.index(p["regime"]), s_E, p["supply_elasticity"],
                    np.zeros(n), np.zeros((n, T)), 0.0, 0.0, 0.0, 0.0, np.zeros((n, T)),
                    np.zeros(n, dtype=np.int64), *out, pc, pl)
    assert np.array_equal(out[2], lnM) and not out[0].any()  # ln M = the robot part, no pilot
    return out[3], out[4]


@pytest.mark.parametrize("regime,eta", [("fixed_energy", None), ("priced_energy", None),
                                        ("elastic_energy", 0.7), ("elastic_energy", 3.0)])
def test_economy_response_matches_theory_elasticity(regime, eta):
    """The simulator's equilibrium (energy fixed, bought at a price, or supplied elastically)
    responds to ln M exactly as the theory's d ln indco / d ln M says (A's sympy object)."""
    p = dict(get_design("paper").params, regime=regime, supply_elasticity=eta or 1.0)
    rng = np.random.default_rng(0)
    shape = (7, 5)
    lnK, lnL, lnM, lnE0, lnA = (rng.normal(size=shape) for _ in range(5))
    h = 1e-5
    e0, y0 = _economy(p, lnK, lnL, lnM, lnE0, lnA)
    e1, y1 = _economy(p, lnK, lnL, lnM + h, lnE0, lnA)
    slope = ((e1 - y1) - (e0 - y0)) / h
    want = tn.elasticity_indco_M(p["alpha"], p["beta"], p["I"], p["N"], regime=regime,
                                 supply_elasticity=eta)
    np.testing.assert_allclose(slope, want, atol=1e-7)
    # ln Y is the theory's log_output, and ln(E/Y) its log carbon intensity, at the equilibrium
    args = (np.exp(lnK), np.exp(lnL), np.exp(lnM), np.exp(e0), p["alpha"], p["beta"], p["I"],
            p["N"], lnA)
    np.testing.assert_allclose(y0, tn.log_output(*args), atol=1e-10)
    np.testing.assert_allclose(e0 - y0, tn.log_carbon_intensity(*args), atol=1e-10)


def test_true_outcome_moves_with_robot_by_the_estimand():
    """Raising kappa changes only the robot component: the change of the true outcome per unit
    of robot equals the change of the truth (elasticity x delta kappa), city-year by city-year."""
    d = get_design("paper", n_cities=40)
    a = d.draw(np.random.default_rng(3))
    b = d.with_params(kappa=0.23).draw(np.random.default_rng(3))
    dy = (b.panel["true_lnindco"] - a.panel["true_lnindco"]).to_numpy()
    np.testing.assert_allclose(dy / a.panel["robot"].to_numpy(), b.truth["robot"] - a.truth["robot"],
                               rtol=1e-9, atol=1e-12)


def test_downscaled_co2_adds_up_to_province_totals(draw):
    """Equation (20) with the top-down share: the cities' downscaled CO2 sums to the province
    total (here the sum of the cities' true CO2) in every province-year."""
    p = draw.panel
    got = np.exp(p["lnco"]).groupby([p["province"], p["year"]], observed=True).sum()
    want = np.exp(p["true_lnco"]).groupby([p["province"], p["year"]], observed=True).sum()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
    # lnindco is ln(CO2 / value added), and lights track CO2, so it is close to the truth
    assert np.corrcoef(p["lnindco"], p["true_lnindco"])[0, 1] > 0.98


def test_hmatch_equation_23():
    """Our eq (23) on min-max scaled inputs equals the theory module's derived closed form
    (r h)^(1/4) (engineer A), and the printed definition term by term."""
    from robocarbon.theory.hmatch import hmatch as theory_hmatch

    rng = np.random.default_rng(4)
    r = rng.lognormal(size=200)
    h = rng.lognormal(size=200) * 0.02
    got = threats.hmatch(r, h)
    rs, hs = threats.minmax(r), threats.minmax(h)
    np.testing.assert_allclose(got, theory_hmatch(rs, hs), rtol=1e-12, atol=1e-15)
    U = np.where(rs + hs > 0, 2 * np.sqrt(rs * hs) / np.where(rs + hs > 0, rs + hs, 1), 0.0)
    np.testing.assert_allclose(got, np.sqrt(U * (rs + hs) / 2), rtol=1e-12, atol=1e-15)
    assert got.min() >= 0 and got.max() <= 1


def test_pilot_zones_structure():
    prov_idx = np.repeat(np.arange(len(paper.PROVINCES)), [q[3] for q in paper.PROVINCES])
    adopt = threats.pilot_zones(np.random.default_rng(2), prov_idx,
                                [q[0] for q in paper.PROVINCES], 2007)
    im = [q[0] for q in paper.PROVINCES].index("Inner Mongolia")
    assert (adopt[prov_idx == im] == 2009).sum() == 3
    assert 16 <= (adopt > 0).sum() <= 64
    assert set(np.unique(adopt)) == {0, 2008, 2009, 2011}


def test_paper_claims_design_builds_in_table3_claims():
    """The claims design: effect larger above the human-capital threshold (30 % above, as the
    paper reports), negative robot x gpatent interaction (H2), robot effect negative (H1)."""
    d = get_design("paper_claims")
    assert d.changed() == {}
    assert d.params["threshold_var"] == "hum"
    t = d.draw(np.random.default_rng(2)).truth
    assert t["robot_high"] < t["robot_low"] < 0
    assert t["robot_x_gpatent"] < 0 and t["robot"] < 0
    names = [x[0] for x in list_designs()]
    assert names == sorted(names) and "paper_claims" in names


def test_log_form_downscaling_estimates_19_and_still_adds_up():
    """downscale_form='logs': the slope of (19) is estimated on the province panel and cities get
    light**a shares; the allocation still adds up to the province totals exactly."""
    dr = get_design("paper", n_cities=80, downscale_form="logs").draw(np.random.default_rng(1))
    p = dr.panel
    got = np.exp(p["lnco"]).groupby([p["province"], p["year"]], observed=True).sum()
    want = np.exp(p["true_lnco"]).groupby([p["province"], p["year"]], observed=True).sum()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
    lv = get_design("paper", n_cities=80).draw(np.random.default_rng(1)).panel
    assert not np.allclose(lv["lnco"], p["lnco"])  # the form matters


@given(st.integers(min_value=30, max_value=3000))
@settings(max_examples=60, deadline=None)
def test_province_sizes_add_up_and_keep_every_province(n):
    sizes = paper._province_sizes(n)
    assert sizes.sum() == n and sizes.min() >= 1 and sizes.size == len(paper.PROVINCES)


@given(st.floats(-0.1, 0.1, allow_nan=False), st.integers(0, 2**31 - 1))
@settings(max_examples=25, deadline=None)
def test_projection_of_a_proportional_component_is_its_constant(c, seed):
    """The inquiry's FWL projection returns c for a component c x robot, whatever the data."""
    rng = np.random.default_rng(seed)
    n, T = 12, 5
    robot = rng.lognormal(size=n * T)
    ctrl = rng.normal(size=(n * T, 3))
    assert paper._projection(c * robot, robot, ctrl, n, T) == pytest.approx(c, abs=1e-12)
    # the general path (no shortcut) agrees on a component that is not proportional
    comp = c * robot + rng.normal(size=n * T) * 1e-3
    sel = np.ones(n, dtype=bool)
    Z = paper._twoway_resid(np.column_stack([robot, ctrl, comp]), n, T)
    r = Z[:, 0] - Z[:, 1:4] @ np.linalg.lstsq(Z[:, 1:4], Z[:, 0], rcond=None)[0]
    assert paper._projection(comp, robot, ctrl, n, T, rows=sel) == pytest.approx(
        float(r @ Z[:, 4] / (r @ r)), rel=1e-9, abs=1e-12)
