"""DID estimators on simulated staggered panels with a known truth.

Noise-free panels give exact identities (an estimator either recovers the truth to rounding or
it does not); noisy panels check unbiasedness within a few standard errors. Homogeneous effects:
every estimator recovers the effect. Heterogeneous dynamic effects: TWFE is biased (and equals
its de Chaisemartin-D'Haultfoeuille weighted sum of the cell effects exactly), Callaway-Sant'Anna
and Sun-Abraham are not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics.bacon import bacon_decomposition
from robocarbon.empirics.did import dcdh_weights, event_study, twfe_did
from robocarbon.empirics.did_cs import callaway_santanna
from robocarbon.empirics.did_sa import sun_abraham

COHORTS = (4, 6, 8, 0)  # 0 = never treated
T = 10


def effect_homogeneous(g, t):
    return 2.0


def effect_dynamic(g, t):
    # grows with exposure, faster for the earliest cohort: TWFE's forbidden comparisons bite
    e = t - g
    return (1.0 + 2.0 * (g == 4)) * (e + 1) * 0.5


def simulate(effect, *, n_per=40, sigma=0.0, seed=0, cohorts=COHORTS, covariate_trend=0.0):
    rng = np.random.default_rng(seed)
    rows = []
    i = 0
    for g in cohorts:
        for _ in range(n_per):
            a_i = rng.normal()
            x_i = rng.normal(loc=0.8 if g == 4 else 0.0)
            for t in range(1, T + 1):
                d = g != 0 and t >= g
                tau = effect(g, t) if d else 0.0
                y = a_i + 0.3 * t + covariate_trend * x_i * t + tau + sigma * rng.normal()
                rows.append((i, t, g, y, x_i, tau))
            i += 1
    return pd.DataFrame(rows, columns=["id", "t", "g", "y", "x", "tau"])


KW = dict(y="y", entity="id", time="t", adopt="g")


def true_att_simple(df):
    """The group-size weighted average effect over treated cells (did's 'simple')."""
    return float(df.loc[df.tau != 0, "tau"].mean()) if (df.tau != 0).any() else 0.0


def test_homogeneous_noise_free_all_estimators_exact():
    df = simulate(effect_homogeneous)
    tw = twfe_did(df, **KW)
    assert tw.params[0] == pytest.approx(2.0, abs=1e-10)
    es = event_study(df, **KW)
    post = [t for t in es.terms if t.startswith("e+")]
    pre = [t for t in es.terms if t.startswith("e-")]
    assert np.allclose(es.coefficients[post], 2.0, atol=1e-9)
    assert np.allclose(es.coefficients[pre], 0.0, atol=1e-9)
    cs = callaway_santanna(df, bootstrap=False, **KW)
    for r in cs.diagnostics["att_gt"]:
        assert r["att"] == pytest.approx(2.0 if r["post"] else 0.0, abs=1e-10)
    for name in ("simple", "dynamic", "group", "calendar"):
        assert cs.coefficients[name] == pytest.approx(2.0, abs=1e-10)
    sa = sun_abraham(df, **KW)
    assert sa.coefficients["att"] == pytest.approx(2.0, abs=1e-9)
    b = bacon_decomposition(df, **KW)
    assert all(abs(r["estimate"] - 2.0) < 1e-9 for r in b.diagnostics["comparisons"])


def test_heterogeneous_noise_free_twfe_biased_cs_sa_exact():
    df = simulate(effect_dynamic)
    cs = callaway_santanna(df, bootstrap=False, **KW)
    for r in cs.diagnostics["att_gt"]:
        truth = effect_dynamic(r["group"], r["time"]) if r["post"] else 0.0
        assert r["att"] == pytest.approx(truth, abs=1e-10)
    # event-time truth: cohort-size weighted (equal sizes here) mean effect at exposure e
    sa = sun_abraham(df, **KW)
    for e in range(0, T - 4 + 1):
        gs = [g for g in COHORTS if g and g + e <= T]
        truth = np.mean([effect_dynamic(g, g + e) for g in gs])
        assert cs.coefficients[f"e{e:+d}"] == pytest.approx(truth, abs=1e-10)
        assert sa.coefficients[f"e{e:+d}"] == pytest.approx(truth, abs=1e-9)
    for e in range(-7, -1):
        assert sa.coefficients[f"e{e:+d}"] == pytest.approx(0.0, abs=1e-9)
    truth_simple = true_att_simple(df)
    assert cs.coefficients["simple"] == pytest.approx(truth_simple, abs=1e-10)
    assert sa.coefficients["att"] == pytest.approx(truth_simple, abs=1e-9)
    tw = twfe_did(df, **KW)
    assert abs(tw.params[0] - truth_simple) > 0.25 * truth_simple  # TWFE is badly biased
    # ... and it is exactly the dCDH-weighted sum of the cell effects
    w = tw.diagnostics["dcdh_weights"]
    cell_sum = sum(c["weight"] * effect_dynamic(c["group"], c["time"]) for c in w["cells"])
    assert tw.params[0] == pytest.approx(cell_sum, abs=1e-10)
    assert sum(c["weight"] for c in w["cells"]) == pytest.approx(1.0, abs=1e-12)
    assert w["n_negative"] > 0 and w["sum_negative"] < 0
    # the TWFE event study's leads are contaminated too (non-zero although the truth is zero)
    es = event_study(df, **KW)
    assert np.max(np.abs(es.coefficients[[t for t in es.terms if t.startswith("e-")]])) > 0.05


def test_heterogeneous_noisy_unbiased_within_se():
    df = simulate(effect_dynamic, n_per=60, sigma=1.0, seed=11)
    truth = true_att_simple(df)
    cs = callaway_santanna(df, seed=3, n_boot=299, **KW)
    sa = sun_abraham(df, **KW)
    tw = twfe_did(df, **KW)
    assert abs(cs.coefficients["simple"] - truth) < 4 * cs.std_errors["simple"]
    assert abs(sa.coefficients["att"] - truth) < 4 * sa.std_errors["att"]
    assert abs(tw.params[0] - truth) > 6 * tw.std_errors["D"]


def test_homogeneous_noisy_estimators_agree():
    df = simulate(effect_homogeneous, n_per=50, sigma=1.0, seed=5)
    ests = {
        "twfe": twfe_did(df, **KW).coefficients["D"],
        "cs": callaway_santanna(df, bootstrap=False, **KW).coefficients["simple"],
        "cs_notyet": callaway_santanna(df, bootstrap=False, control_group="notyet", **KW).coefficients["simple"],
        "sa": sun_abraham(df, **KW).coefficients["att"],
    }
    for name, v in ests.items():
        assert abs(v - 2.0) < 0.25, name
    vals = np.array(list(ests.values()))
    assert vals.max() - vals.min() < 0.25


def test_sun_abraham_post_effects_equal_cs_dynamic_with_never_treated():
    # balanced panel, no covariates, never-treated controls, base g-1: an exact identity
    df = simulate(effect_dynamic, n_per=15, sigma=1.0, seed=2)
    cs = callaway_santanna(df, bootstrap=False, **KW)
    sa = sun_abraham(df, control_cohort="never", **KW)
    for e in range(0, 7):
        assert sa.coefficients[f"e{e:+d}"] == pytest.approx(cs.coefficients[f"e{e:+d}"], abs=1e-9)


def test_sun_abraham_last_treated_control():
    df = simulate(effect_dynamic, cohorts=(4, 6, 8))  # no never-treated
    sa = sun_abraham(df, **KW)
    assert sa.diagnostics["control_cohort"] == "last"
    for e in range(0, 4):  # periods < 8 only
        gs = [g for g in (4, 6) if g + e < 8]
        truth = np.mean([effect_dynamic(g, g + e) for g in gs])
        assert sa.coefficients[f"e{e:+d}"] == pytest.approx(truth, abs=1e-9)


def test_cs_notyet_without_never_treated_is_exact():
    df = simulate(effect_dynamic, cohorts=(4, 6, 8))
    cs = callaway_santanna(df, control_group="notyet", bootstrap=False, **KW)
    assert cs.diagnostics["att_gt"], "no cells"
    for r in cs.diagnostics["att_gt"]:
        truth = effect_dynamic(r["group"], r["time"]) if r["post"] else 0.0
        assert r["att"] == pytest.approx(truth, abs=1e-10)
    assert cs.diagnostics["skipped_cells"]  # periods >= 8 have no not-yet-treated control


def test_cs_covariates_conditional_parallel_trends():
    # the trend depends on x, and x differs by cohort: unconditional PT fails, conditional holds
    df = simulate(effect_homogeneous, n_per=150, sigma=0.3, seed=9, covariate_trend=0.5)
    kw = dict(bootstrap=False, **KW)
    raw = callaway_santanna(df, **kw)
    reg = callaway_santanna(df, controls=["x"], est_method="reg", **kw)
    dr = callaway_santanna(df, controls=["x"], est_method="dr", **kw)
    assert abs(raw.coefficients["g4"] - 2.0) > 0.5
    for r in (reg, dr):
        assert abs(r.coefficients["g4"] - 2.0) < 4 * r.std_errors["g4"] + 1e-9
        assert abs(r.coefficients["simple"] - 2.0) < 4 * r.std_errors["simple"]


def test_cs_dr_equals_reg_without_covariates():
    df = simulate(effect_dynamic, n_per=20, sigma=1.0, seed=4)
    a = callaway_santanna(df, est_method="reg", bootstrap=False, **KW)
    b = callaway_santanna(df, est_method="dr", bootstrap=False, **KW)
    assert np.allclose(a.params, b.params, atol=1e-10)
    assert np.allclose(a.std_errors, b.std_errors, atol=1e-10)


def test_event_study_binning_and_reference():
    df = simulate(effect_homogeneous, n_per=10, sigma=1.0, seed=1)
    es = event_study(df, leads=3, lags=2, **KW)
    assert list(es.terms) == ["e-3", "e-2", "e+0", "e+1", "e+2"]
    ev = {d["term"]: d for d in es.diagnostics["event_times"]}
    assert ev["e-3"]["binned"] and ev["e+2"]["binned"]
    # e <= -3 binned: cohort 4 has e in -3..-1 pre, cohorts 6 and 8 reach -5 and -7
    assert ev["e-3"]["n_obs"] == 10 * (1 + 3 + 5)
    pre = es.diagnostics["pretrend"]
    assert pre["df"] == 2 and 0.0 <= pre["p_value"] <= 1.0
    es2 = event_study(df, ref=-2, **KW)
    assert "e-2" not in es2.terms and "e-1" in es2.terms
    trimmed = event_study(df, leads=3, lags=2, bin_endpoints=False, **KW)
    assert trimmed.nobs < es.nobs and trimmed.nobs_dropped > 0


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=3, max_size=5),
    adopts=st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 6]), min_size=3, max_size=5),
    seed=st.integers(0, 10_000),
)
def test_bacon_weighted_sum_equals_twfe(sizes, adopts, seed):
    rng = np.random.default_rng(seed)
    n = min(len(sizes), len(adopts))
    rows, i = [], 0
    for k in range(n):
        for _ in range(sizes[k]):
            for t in range(1, 7):
                rows.append((i, t, adopts[k], rng.normal()))
            i += 1
    df = pd.DataFrame(rows, columns=["id", "t", "g", "y"])
    timing = {0 if a == 0 or a > 6 else max(a, 1) for a in adopts[:n]}
    treated_groups = {a for a in timing if a not in (0, 1)}
    if not treated_groups or len(timing) < 2:
        return  # no identifying 2x2 comparison
    res = bacon_decomposition(df, **KW)
    w = np.array([r["weight"] for r in res.diagnostics["comparisons"]])
    assert np.all(w >= -1e-12) and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert res.diagnostics["weighted_sum"] == pytest.approx(float(res.params[0]), abs=1e-9)


def test_dcdh_sigma_fe_is_attained_by_the_least_dispersed_effects():
    # dCDH (2020) Corollary 1: the cell effects Delta = c (W - 1) (W = N1 w, mean 1) have mean 0
    # over the treated cells, give beta_fe = c var(W), and have the smallest dispersion compatible
    # with that beta_fe: sd(Delta) = |beta_fe| / sd(W) = sigma_fe.
    base = simulate(effect_homogeneous, n_per=10, cohorts=(3, 5, 7, 0))
    w = dcdh_weights(base, entity="id", time="t", adopt="g")
    n1 = w["n_treated_obs"]
    cellw = {(c["group"], c["time"]): c["weight"] / c["n_obs"] for c in w["cells"]}
    c = 0.7
    df = base.copy()
    treated = (df.g > 0) & (df.t >= df.g)
    delta = np.array([c * (n1 * cellw[(g, t)] - 1.0) if d else 0.0
                      for g, t, d in zip(df.g, df.t, treated)])
    df["y"] = df["y"] - df["tau"] + delta
    assert delta[treated].mean() == pytest.approx(0.0, abs=1e-12)
    tw = twfe_did(df, **KW)
    beta = float(tw.params[0])
    assert beta == pytest.approx(c * w["sd_weights"] ** 2, rel=1e-9)
    sigma_fe = tw.diagnostics["dcdh_weights"]["sigma_fe"]
    assert sigma_fe == pytest.approx(np.sqrt(np.mean(delta[treated] ** 2)), rel=1e-9)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(-3, 3).filter(lambda v: abs(v) > 0.1))
def test_estimators_invariant_to_fixed_effects_and_equivariant_to_scale(seed, scale):
    rng = np.random.default_rng(seed)
    df = simulate(effect_dynamic, n_per=6, sigma=1.0, seed=seed)
    a_i = rng.normal(size=df["id"].max() + 1)
    l_t = rng.normal(size=T + 1)
    df2 = df.assign(y=scale * (df["y"] + a_i[df["id"]] + l_t[df["t"]]))
    for fit in (lambda d: twfe_did(d, **KW), lambda d: sun_abraham(d, **KW),
                lambda d: callaway_santanna(d, bootstrap=False, **KW),
                lambda d: event_study(d, leads=3, lags=3, **KW)):
        r1, r2 = fit(df), fit(df2)
        assert np.allclose(r2.params, scale * r1.params, atol=1e-8)
        assert np.allclose(r2.std_errors, abs(scale) * r1.std_errors, rtol=1e-7, atol=1e-10)


def test_cs_base_period_varying_vs_universal():
    # a blip of size 1 at event time -2 only, no treatment effect: with the varying base the
    # placebo ATT(g, g-2) = +1 (vs g-3) and ATT(g, g-1) = -1 (vs g-2); with the universal base
    # (g-1) ATT(g, g-2) = +1 and every other pre-period cell is 0; post cells are 0 in both.
    df = simulate(lambda g, t: 0.0, n_per=5)
    blip = (df.g > 0) & (df.t == df.g - 2)
    df.loc[blip, "y"] += 1.0
    var = callaway_santanna(df, bootstrap=False, **KW)
    uni = callaway_santanna(df, bootstrap=False, base_period="universal", **KW)
    for res, expect in ((var, {-2: 1.0, -1: -1.0}), (uni, {-2: 1.0})):
        for r in res.diagnostics["att_gt"]:
            e = r["time"] - r["group"]
            assert r["att"] == pytest.approx(expect.get(e, 0.0), abs=1e-10), (r, res.spec["base_period"])
    assert all(r["base"] == r["group"] - 1 for r in uni.diagnostics["att_gt"])


def test_sun_abraham_estimated_weights_variance_equals_cs_influence_function():
    # balanced panel, never-treated controls: the SA cohort effects are the CS ATT(g,t) cells and,
    # with the share estimation accounted for, the SA delta-method variance is the CS
    # influence-function variance (which includes the weights' influence function) up to the CR1
    # small-sample factor; with fixed weights it is smaller for event times pooling cohorts.
    df = simulate(effect_dynamic, n_per=25, sigma=1.0, seed=8)
    sa_est = sun_abraham(df, weights_variance="estimated", **KW)
    sa_fix = sun_abraham(df, **KW)
    cs = callaway_santanna(df, bootstrap=False, **KW)
    n, G = len(df), df["id"].nunique()
    K = len(sa_est.diagnostics["cohort_effects"]) + T  # nested entity FE count one
    adj = np.sqrt(G / (G - 1) * (n - 1) / (n - K))
    post = [t for t in sa_est.terms if t.startswith("e+")]
    assert np.allclose(sa_est.std_errors[post] / adj, cs.std_errors[post], rtol=1e-9)
    assert sa_est.std_errors["att"] / adj == pytest.approx(cs.std_errors["simple"], rel=1e-9)
    assert np.allclose(sa_est.params, sa_fix.params)
    # event time +6 has a single cohort (g=4): its weight is 1, nothing to estimate
    assert sa_est.std_errors["e+6"] == pytest.approx(sa_fix.std_errors["e+6"], rel=1e-12)
