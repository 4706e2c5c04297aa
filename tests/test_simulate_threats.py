"""Each threat knob moves the TWFE estimate the way the econometrics predicts.

Every test compares draws with the threat off and on under common random numbers (same seeds:
the design draws each component from its own stream, so switching a threat on changes only the
part of the data it targets). The predicted direction and the reason are in each docstring.
Estimation: engineer B's ``robocarbon.empirics.fe.twfe_fast`` (city and year fixed effects,
city-clustered SEs), the paper's equation (18) with the seven controls.
"""

from __future__ import annotations

import numpy as np
import pytest

from robocarbon.empirics.fe import twfe_fast
from robocarbon.simulate.design import get_design
from robocarbon.theory import numeric as tn

SEEDS = range(6)
BASE = get_design("paper")


def _twfe(dr, first=None, extra=()):
    a = dr.arrays
    cols = [a["X"][:, 0] if first is None else first] + list(extra) + [a["X"][:, 1:]]
    X = np.column_stack(cols)
    beta, se = twfe_fast(a["y"], X, a["entity"], a["time"])
    return beta, se


def _paired(on: dict, seeds=SEEDS, base=BASE):
    """Lists of (draw off, draw on) for the seeds."""
    d_on = base.with_params(**on)
    return [(base.draw(np.random.default_rng(s)), d_on.draw(np.random.default_rng(s))) for s in seeds]


def _robot_est(pairs):
    off = np.array([_twfe(a)[0][0] for a, _ in pairs])
    on = np.array([_twfe(b)[0][0] for _, b in pairs])
    return off, on


def _significant(x, sign):
    """Mean of x has the given sign and is more than 3 standard errors from zero."""
    x = np.asarray(x)
    se = x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else 0.0
    return sign * x.mean() > 3 * se and sign * x.mean() > 0


@pytest.mark.parametrize("strength,sign", [(0.3, +1), (-0.3, -1)])
def test_shiftshare_confounding_biases_in_its_sign(strength, sign):
    """Predicted: bias with the sign of ``confounding``. The confounder is a city trend in
    ln indco proportional to the growth implied by the city's own base-year industry mix; the
    TWFE coefficient is identified by exactly that growth (city-specific robot trends), so the
    omitted trend loads on robot with its own sign. The truth does not move."""
    pairs = _paired({"confounding": strength})
    off, on = _robot_est(pairs)
    assert _significant(on - off, sign)
    assert all(b.truth["robot"] == a.truth["robot"] for a, b in pairs)


def test_downscaling_error_correlated_with_output_attenuates():
    """Predicted: toward zero. If nightlights track value added with weight lambda instead of
    CO2, the downscaled city CO2 inherits output, ln(CO2/VA) loses a share lambda of the
    within-province robot effect (which runs through ln Y), so the estimate shrinks toward 0."""
    pairs = _paired({"downscale_output": 0.6})
    off, on = _robot_est(pairs)
    truth = pairs[0][0].truth["robot"]
    assert truth < 0
    assert _significant(on - off, +1)
    assert np.mean(on) > truth and np.mean(on) < 0.0


def test_robots_raising_value_added_shift_the_estimate_by_minus_theta():
    """Predicted: more negative, by exactly va_robot. Measured ln VA = ln Y + theta robot, so
    observed ln indco = true - theta robot and the linear TWFE coefficient falls by theta;
    the physical intensity effect (the truth) is unchanged."""
    theta = 0.004
    pairs = _paired({"va_robot": theta}, seeds=range(3))
    off, on = _robot_est(pairs)
    np.testing.assert_allclose(on - off, -theta, atol=1e-10)
    assert pairs[0][1].truth["robot"] == pairs[0][0].truth["robot"]


def test_heterogeneous_effects_pooled_is_a_variance_weighted_average():
    """Predicted: the pooled TWFE estimate moves toward the larger (more negative) effect of
    the group whose frontier I is shifted up (its robot share beta(I-N+1) is larger), and lies
    between the two split-sample estimands; split samples recover their group's effect."""
    dI = 0.1
    pairs = _paired({"het_group": "east", "het_dI": dI})
    off, on = _robot_est(pairs)
    t = pairs[0][1].truth
    e_east = float(tn.elasticity_indco_M(0.3, 0.5, 0.2 + dI, 1.0)) * 0.13
    assert t["robot|east=1"] == pytest.approx(e_east, rel=1e-9)
    assert t["robot|east=0"] == pytest.approx(-0.013, rel=1e-9)
    assert t["robot|east=1"] < t["robot"] < t["robot|east=0"]
    assert _significant(on - off, -1)
    # the shift of the pooled estimate equals the shift of the pooled estimand (to MC noise)
    shift = np.array([b.truth["robot"] - a.truth["robot"] for a, b in pairs])
    np.testing.assert_allclose(np.mean(on - off), np.mean(shift), atol=0.0015)
    # split sample of the east cities recovers the east effect (paired, so noise cancels)
    diffs = []
    for a, b in pairs:
        sel = a.panel["east"].to_numpy() == 1
        ea, eb = (np.unique(x.arrays["entity"][sel], return_inverse=True)[1] for x in (a, b))
        ta = a.arrays["time"][sel]
        ba = twfe_fast(a.arrays["y"][sel], a.arrays["X"][sel], ea, ta)[0][0]
        bb = twfe_fast(b.arrays["y"][sel], b.arrays["X"][sel], eb, ta)[0][0]
        diffs.append((bb - ba) - (b.truth["robot|east=1"] - a.truth["robot|east=1"]))
    assert abs(np.mean(diffs)) < 0.002


def test_dynamic_effects_load_on_the_contemporaneous_regressor():
    """Predicted: with ln M depending on robot_{t-1} and robot_{t-2} too, the regression on
    robot_t alone is more negative than the impact effect 'robot' (the omitted lags are
    positively correlated with robot_t) but less negative than the cumulative effect (the
    within-city correlation of robot_t with its lags is below one)."""
    pairs = _paired({"lag_weights": (1.0, 0.5, 0.5)}, seeds=range(3))
    off, on = _robot_est(pairs)
    t = pairs[0][1].truth
    assert t["robot"] == pytest.approx(-0.013) and t["robot_cumulative"] == pytest.approx(-0.026)
    assert t["robot_lag1"] == pytest.approx(-0.0065) and t["robot_lag3"] == 0.0
    shift = on - off  # deterministic part added by the lags
    assert np.all(shift < 0)
    assert np.all(shift > t["robot_cumulative"] - t["robot"])


def test_dynamic_pilot_effects_attenuate_static_twfe_did():
    """Predicted: the static TWFE DID coefficient understates (in magnitude) the ATT when the
    pilot effect grows with time since adoption: TWFE down-weights long-exposed cells and uses
    already-treated early adopters as controls for later ones (Goodman-Bacon; de Chaisemartin
    and D'Haultfoeuille)."""
    pairs = _paired({"pilot_growth": 0.1}, seeds=range(3))
    for a, b in pairs:
        Da, Db = a.arrays["D"], b.arrays["D"]
        est_a = _twfe(a, first=Da)[0][0]
        est_b = _twfe(b, first=Db)[0][0]
        d_est = est_b - est_a
        d_att = b.truth["did"] - a.truth["did"]
        assert d_att < 0 and d_est < 0
        assert abs(d_est) < abs(d_att)
        # the event-time estimands grow with exposure
        assert b.truth["did_e5"] < b.truth["did_e0"]


def test_threshold_pooled_estimate_lies_between_the_regimes():
    """Predicted: with kappa tripled above the human-capital threshold (about 30 % of
    city-years, as in the paper), pooled TWFE lies between the regime effects 'robot_low' and
    'robot_high'."""
    d = BASE.with_params(threshold_var="hum", threshold_gain=2.0)
    est, lows, highs = [], [], []
    for s in SEEDS:
        dr = d.draw(np.random.default_rng(s))
        est.append(_twfe(dr)[0][0])
        lows.append(dr.truth["robot_low"])
        highs.append(dr.truth["robot_high"])
        assert np.mean(dr.panel["threshold_var"] > dr.truth["threshold"]) == pytest.approx(0.3, abs=0.01)
    assert np.mean(highs) == pytest.approx(3 * np.mean(lows))
    assert np.mean(highs) < np.mean(est) < np.mean(lows)


def test_mechanism_interaction_is_recovered_by_equation_22():
    """Predicted: with kappa rising in green patents, the robot x gpatent coefficient of (22)
    (robot, gpatent, robot x gpatent and controls, two-way FE) is negative and estimates
    'robot_x_gpatent'."""
    d = BASE.with_params(mech_gpatent=0.5)
    est, truth = [], []
    for s in SEEDS:
        dr = d.draw(np.random.default_rng(s))
        p = dr.panel
        inter = (p["robot"] * p["gpatent"]).to_numpy()
        beta, _ = _twfe(dr, extra=[p["gpatent"].to_numpy(), inter])
        est.append(beta[2])
        truth.append(dr.truth["robot_x_gpatent"])
    assert np.mean(truth) < 0
    assert _significant(est, -1)
    assert abs(np.mean(est) - np.mean(truth)) < 0.35 * abs(np.mean(truth))


def _loo_iv(dr):
    """Just-identified FE-2SLS with the province leave-one-out mean of robot (instrument (a)),
    controls partialled out; returns (OLS, IV, cluster-robust first-stage F)."""
    a = dr.arrays
    n, T = int(a["entity"].max()) + 1, int(a["time"].max()) + 1
    prov = a["group"].reshape(n, T)[:, 0]
    R = a["robot"].reshape(n, T)
    G = int(prov.max()) + 1
    S = np.zeros((G, T))
    np.add.at(S, prov, R)
    c = np.bincount(prov, minlength=G)
    ok = c[prov] > 1
    z = ((S[prov] - R)[ok] / (c[prov][ok] - 1)[:, None]).ravel()
    sel = np.repeat(ok, T)
    m = int(ok.sum())
    M = np.column_stack([a["y"][sel], a["X"][sel], z]).reshape(m, T, -1)
    M = (M - M.mean(1, keepdims=True) - M.mean(0, keepdims=True) + M.mean((0, 1), keepdims=True))
    M = M.reshape(m * T, -1)
    y, x, C, zz = M[:, 0], M[:, 1], M[:, 2:-1], M[:, -1]
    Q, _ = np.linalg.qr(C)
    y, x, zz = (v - Q @ (Q.T @ v) for v in (y, x, zz))
    ols = x @ y / (x @ x)
    iv = zz @ y / (zz @ x)
    pi = zz @ x / (zz @ zz)
    u = x - pi * zz
    scores = np.bincount(np.repeat(np.arange(m), T), weights=zz * u)
    F = pi**2 / ((scores @ scores) / (zz @ zz) ** 2)
    return ols, iv, F


def test_weak_instrument_knob_kills_the_first_stage_not_twfe():
    """Predicted: iv_strength (the province share of the industry mix) does not bias TWFE, but
    as it falls the province leave-one-out instrument loses relevance (cluster-robust
    first-stage F from hundreds to below 10); with confounding on, a strong instrument removes
    the OLS bias (the confounder loads on the city-specific mix the other cities do not share).
    That holds over draws of the base-year mixes (shares_seed=-1): with the shares held fixed,
    one realisation's confounder and instrument keep whatever sample correlation they have."""
    strong = BASE.with_params(confounding=0.3, iv_strength=0.9, shares_seed=-1)
    weak = BASE.with_params(confounding=0.3, iv_strength=0.02, shares_seed=-1)
    rs = np.array([_loo_iv(strong.draw(np.random.default_rng(s))) for s in SEEDS])
    rw = np.array([_loo_iv(weak.draw(np.random.default_rng(s))) for s in SEEDS])
    assert np.median(rs[:, 2]) > 100 and np.median(rw[:, 2]) < 10
    truth = -0.013
    assert abs(np.mean(rs[:, 1]) - truth) < 0.004
    # the strong-instrument case: OLS is biased upward by the confounder, 2SLS is not
    assert np.mean(rs[:, 0]) - truth > np.mean(rs[:, 1]) - truth


def test_log_versus_level_gap():
    """Predicted: with M proportional to robot (the theory's ln M), TWFE in levels estimates the
    variance-weighted average derivative 'robot' (a projection computed from the data), which is
    far smaller in magnitude than the average marginal effect 'robot_ame' = mean(-s/robot):
    the derivative is largest where robot is small, and there robot barely varies within city."""
    pairs = _paired({"log_level": True}, seeds=range(4))
    off, on = _robot_est(pairs)
    t_on = np.array([b.truth["robot"] for _, b in pairs])
    t_off = np.array([a.truth["robot"] for a, _ in pairs])
    ame = np.array([b.truth["robot_ame"] for _, b in pairs])
    assert np.all(ame < t_on)  # |AME| > |TWFE estimand|
    # paired: the estimate moves by the change of the estimand (MC noise cancels)
    np.testing.assert_allclose(on - off, t_on - t_off, atol=0.002)
    assert np.all(np.abs((on - off) - (ame - t_off)) > 0.05)


@pytest.mark.parametrize("regime,eta", [("priced_energy", None), ("elastic_energy", 1.0)])
def test_energy_regime_changes_the_estimand_and_twfe_follows(regime, eta):
    """Predicted (theory, not a threat): when energy is bought at a price the robot effect on
    E/Y vanishes, and with a finite supply elasticity it is -beta(I-N+1)/(1+(alpha+beta)eta);
    TWFE follows the estimand."""
    kv = {"regime": regime} | ({"supply_elasticity": eta} if eta else {})
    pairs = _paired(kv, seeds=range(4))
    off, on = _robot_est(pairs)
    want = float(tn.elasticity_indco_M(0.3, 0.5, 0.2, 1.0, regime=regime, supply_elasticity=eta)) * 0.13
    assert pairs[0][1].truth["robot"] == pytest.approx(want, rel=1e-9)
    assert abs(np.mean(on) - want) < 0.006
    # emissions: d ln E / d ln M = (elasticity + s_M) / (1 - s_E) > 0 once energy responds;
    # TWFE on lnco (the robustness outcome) follows it
    s = tn.factor_shares(0.3, 0.5, 0.2, 1.0)
    want_co = (want / 0.13 + float(s["robots"])) / (1 - float(s["energy"])) * 0.13
    assert pairs[0][1].truth["robot_lnco"] == pytest.approx(want_co, rel=1e-9)
    assert pairs[0][0].truth["robot_lnco"] == pytest.approx(0.0, abs=1e-15)
    est_co = []
    for _, b in pairs:
        a = b.arrays
        est_co.append(twfe_fast(b.panel["lnco"].to_numpy(), a["X"], a["entity"], a["time"])[0][0])
    assert abs(np.mean(est_co) - want_co) < 0.008


def test_industry_correlated_residuals_make_city_clustered_se_too_small():
    """Predicted (Adao, Kolesar and Morales 2019): productivity shocks by industry-year, shared
    through the same base-year shares that build robot, leave TWFE unbiased but correlate the
    scores across cities with similar industry mixes, so the city-clustered SE understates the
    sampling SD: the ratio SD / mean SE rises well above one (it is about one without them)."""
    def ratio(design):
        est, ses = [], []
        for s in range(30):
            beta, se = _twfe(design.draw(np.random.default_rng(100 + s)))
            est.append(beta[0])
            ses.append(se[0])
        return np.std(est, ddof=1) / np.mean(ses)

    base, threat = ratio(BASE), ratio(BASE.with_params(industry_residual=0.2))
    assert base < 1.3
    assert threat > 1.8 and threat > 1.5 * base


@pytest.mark.parametrize("drift,sign", [(0.1, +1), (-0.1, -1)])
def test_pilot_pretrends_bias_did_with_their_sign(drift, sign):
    """Predicted: a linear drift of the adopters' ln indco (parallel trends fail) loads on the
    DID dummy with its own sign, because D = 1 in the adopters' later years; the ATT 'did' is
    unchanged."""
    pairs = _paired({"pilot_pretrend": drift}, seeds=range(4))
    d_est = [_twfe(b, first=b.arrays["D"])[0][0] - _twfe(a, first=a.arrays["D"])[0][0]
             for a, b in pairs]
    assert all(sign * x > 0 for x in d_est)
    assert all(a.truth["did"] == b.truth["did"] for a, b in pairs)
