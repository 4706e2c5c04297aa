"""Sensitivity analysis: Cinelli-Hazlett (darfur, sensemakr's published numbers), Oster (exact
identities and a design where proportional selection holds), Conley-Hansen-Rossi (the 2SLS
identity on ADH's published estimate, linearity, the vertex rule), the contour figure, the
`robocarbon sensitivity` command and the doctests of the modules."""

from __future__ import annotations

import argparse
import doctest
import json
import math

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.fe import fit
from robocarbon.empirics.sensitivity import (
    adjusted_estimate,
    adjusted_se,
    benchmark_bounds,
    cinelli_hazlett,
    conley_ltz,
    conley_uci,
    extreme_robustness_value,
    instruments,
    oster,
    oster_beta,
    oster_delta,
    ovb,
    partial_r2,
    robustness_value,
)

DARFUR = ("peacefactor ~ directlyharmed + age + farmer_dar + herder_dar + pastvoted + "
          "hhsize_darfur + female | village")


@pytest.fixture(scope="module")
def darfur(shared_data):
    from conftest import require_file

    return pd.read_csv(require_file(shared_data / "darfur" / "darfur.csv"))


@pytest.fixture(scope="module")
def darfur_ref(reference_dir):
    return json.loads((reference_dir / "sensitivity" / "darfur_sensemakr.json").read_text())


@pytest.fixture(scope="module")
def darfur_ch(darfur):
    return cinelli_hazlett(DARFUR, darfur, "directlyharmed", benchmark="female", kd=[1, 2, 3])


# ============================================================================ Cinelli-Hazlett
def test_darfur_input_is_the_reference_file(shared_data, darfur_ref):
    from robocarbon.empirics.provenance import file_sha256

    assert file_sha256(shared_data / "darfur" / "darfur.csv") == darfur_ref["input"]["sha256"]


def test_darfur_paper_and_readme_numbers(darfur_ch, darfur_ref):
    dg = darfur_ch.diagnostics
    v = darfur_ref["values"]
    assert dg["dof"] == v["dof"] == 783  # lm with 485 village dummies: 1276 - 7 - 486
    paper = v["paper"]
    assert abs(dg["estimate"] - paper["estimate"]) <= 0.0005
    assert abs(dg["se"] - paper["se"]) <= 0.0005
    assert abs(dg["t_statistic"] - paper["t_statistic"]) <= 0.005
    assert abs(100 * dg["r2yd_x"] - paper["r2yd_x_percent"]) <= 0.05
    assert abs(100 * dg["rv_q"] - paper["rv_q_percent"]) <= 0.05
    assert abs(100 * dg["rv_qa"] - paper["rv_qa_percent"]) <= 0.05
    for key, val in v["readme"].items():
        assert abs(dg[key] - val) <= 5e-6, key
    assert not dg["rv_qa_extreme"]


def test_darfur_female_bounds_table(darfur_ch, darfur_ref):
    bounds = darfur_ch.diagnostics["bounds"]
    ref = darfur_ref["values"]["bounds"]
    assert [b["label"] for b in bounds] == [r["label"] for r in ref]
    for b, r in zip(bounds, ref):
        for key in ("r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_se", "adjusted_t"):
            np.testing.assert_allclose(b[key], r[key], rtol=1e-8, err_msg=f"{r['label']} {key}")
        for key in ("adjusted_lower", "adjusted_upper"):
            assert abs(b[key] - r[key]) <= 5e-9, (r["label"], key)
    # tidy() is the same table: estimate, SE, t and the interval of each bound row
    tidy = darfur_ch.tidy().set_index("term")
    for r in ref:
        row = tidy.loc[f"directlyharmed[{r['label']}]"]
        np.testing.assert_allclose(row[["estimate", "std_error", "statistic"]].to_numpy(float),
                                   [r["adjusted_estimate"], r["adjusted_se"], r["adjusted_t"]], rtol=1e-8)
        assert abs(row["conf_low"] - r["adjusted_lower"]) <= 5e-9
        assert abs(row["conf_high"] - r["adjusted_upper"]) <= 5e-9


def test_darfur_dummies_equal_absorbed_village(darfur, darfur_ch):
    """Singletons dropped by the absorbing fit leave t and dof unchanged: the dummy-variable
    regression (singletons kept, as R lm) gives the same sensitivity statistics."""
    dummies = DARFUR.replace(" | village", " + i(village)")
    res = cinelli_hazlett(dummies, darfur, "directlyharmed", benchmark="female", kd=[1, 2, 3])
    assert darfur_ch.diagnostics["model"]["dropped"].get("singletons", 0) > 0
    assert res.nobs == 1276 and res.diagnostics["dof"] == 783
    for key in ("t_statistic", "r2yd_x", "rv_q", "rv_qa"):
        np.testing.assert_allclose(res.diagnostics[key], darfur_ch.diagnostics[key], rtol=1e-9)
    np.testing.assert_allclose(res.params, darfur_ch.params, rtol=1e-9)


def test_group_benchmark_partial_r2(darfur):
    """A group's partial R2 from the F statistic equals 1 - RSS_full / RSS_without_group, and a
    one-member group is the single benchmark."""
    single = cinelli_hazlett(DARFUR, darfur, "directlyharmed", benchmark="female")
    group1 = cinelli_hazlett(DARFUR, darfur, "directlyharmed", benchmark={"g": ["female"]})
    assert single.diagnostics["bounds"][0]["r2yxj_dx"] == pytest.approx(
        group1.diagnostics["bounds"][0]["r2yxj_dx"], rel=1e-12)
    res = cinelli_hazlett(DARFUR, darfur, "directlyharmed",
                          benchmark={"fa+pv": ["farmer_dar", "pastvoted"]})
    b = res.diagnostics["bounds"][0]
    full = fit(DARFUR, darfur, vcov="unadjusted")
    restricted = fit(DARFUR.replace(" + farmer_dar", "").replace(" + pastvoted", ""), darfur,
                     vcov="unadjusted")
    r2y = 1 - full.diagnostics["rss"] / restricted.diagnostics["rss"]
    assert b["r2yxj_dx"] == pytest.approx(r2y, rel=1e-9)
    d_full = fit("directlyharmed ~ age + farmer_dar + herder_dar + pastvoted + hhsize_darfur + "
                 "female | village", darfur, vcov="unadjusted")
    d_restr = fit("directlyharmed ~ age + herder_dar + hhsize_darfur + female | village", darfur,
                  vcov="unadjusted")
    r2d = 1 - d_full.diagnostics["rss"] / d_restr.diagnostics["rss"]
    assert b["r2dxj_x"] == pytest.approx(r2d, rel=1e-9)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PySensemakr divides by a zero critical f
def test_pysensemakr_parity(darfur, darfur_ch):
    sm = pytest.importorskip("sensemakr")
    smf = pytest.importorskip("statsmodels.formula.api")
    model = smf.ols(DARFUR.replace(" | village", " + village"), data=darfur).fit()
    s = sm.Sensemakr(model=model, treatment="directlyharmed")
    st = s.sensitivity_stats
    dg = darfur_ch.diagnostics
    assert st["dof"] == dg["dof"]
    for ours, theirs in (("r2yd_x", "r2yd_x"), ("rv_q", "rv_q"), ("rv_qa", "rv_qa"),
                         ("t_statistic", "t_statistic"), ("estimate", "estimate"), ("se", "se")):
        np.testing.assert_allclose(dg[ours], st[theirs], rtol=1e-8, err_msg=ours)
    # the bound formulas on the same benchmark partial R2s (PySensemakr's own benchmark path
    # fails with pandas >= 3, so its numeric functions are compared)
    from sensemakr import bias_functions as bf
    from sensemakr import sensitivity_bounds as sb

    b0 = dg["bounds"][0]
    tb = sb.ovb_partial_r2_bound(r2dxj_x=b0["r2dxj_x"], r2yxj_dx=b0["r2yxj_dx"], kd=[1, 2, 3])
    np.testing.assert_allclose([b["r2dz_x"] for b in dg["bounds"]], tb["r2dz_x"], rtol=1e-10)
    np.testing.assert_allclose([b["r2yz_dx"] for b in dg["bounds"]], tb["r2yz_dx"], rtol=1e-10)
    for b in dg["bounds"]:
        np.testing.assert_allclose(
            b["adjusted_estimate"],
            bf.adjusted_estimate(estimate=dg["estimate"], se=dg["se"], dof=dg["dof"],
                                 r2dz_x=b["r2dz_x"], r2yz_dx=b["r2yz_dx"]), rtol=1e-10)
        np.testing.assert_allclose(
            b["adjusted_se"], bf.adjusted_se(se=dg["se"], dof=dg["dof"], r2dz_x=b["r2dz_x"],
                                             r2yz_dx=b["r2yz_dx"]), rtol=1e-10)


def _rv_brute(t, dof, q, alpha):
    """The smallest s such that a confounder with R2dz = s and R2yz <= s brings the reduced
    estimate (alpha None) or the lower limit of its interval (t quantile on dof - 1) to zero:
    bisection on s, a fine grid over R2yz in [0, s]."""
    from scipy import stats

    fq = q * abs(t) / math.sqrt(dof)
    fc = 0.0 if alpha is None else stats.t.ppf(1 - alpha / 2, dof - 1) / math.sqrt(dof - 1)

    def reached(s):
        b = np.linspace(0.0, s, 20001)
        return np.any(fq * math.sqrt(1 - s) <= np.sqrt(s * b) + fc * np.sqrt(1 - b))

    lo, hi = 0.0, 1.0 - 1e-12
    if reached(0.0):
        return 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if reached(mid) else (mid, hi)
    return hi


@pytest.mark.parametrize("t, dof, q, alpha", [
    (4.18445, 783, 1.0, None), (4.18445, 783, 1.0, 0.05), (4.18445, 783, 0.5, 0.05),
    (10.0, 10, 1.0, 0.05),   # f_q f* > 1: the extreme branch
    (30.0, 40, 1.0, 0.10),   # extreme branch
    (1.5, 200, 1.0, 0.05),   # not significant: RV(q, alpha) = 0
    (-3.0, 50, 2.0, 0.01),
])
def test_robustness_value_is_the_minimal_strength(t, dof, q, alpha):
    rv = robustness_value(t, dof, q=q, alpha=alpha)
    assert rv == pytest.approx(_rv_brute(t, dof, q, alpha), abs=2e-6)


def test_robustness_value_boundary_identities():
    t, dof = 4.18445, 783
    rv = robustness_value(t, dof)
    # a confounder of strength RV on both sides removes the whole estimate
    assert adjusted_estimate(0.1, 0.1 / t, dof, rv, rv) == pytest.approx(0.0, abs=1e-12)
    rva = robustness_value(t, dof, alpha=0.05)
    from scipy import stats

    tq = stats.t.ppf(0.975, dof - 1)
    lower = adjusted_estimate(0.1, 0.1 / t, dof, rva, rva) - tq * adjusted_se(0.1 / t, dof, rva, rva)
    assert lower == pytest.approx(0.0, abs=1e-12)
    # with the extreme confounder (R2yz = 1) the estimate reaches zero at XRV = partial R2
    assert extreme_robustness_value(t, dof) == pytest.approx(partial_r2(t, dof), rel=1e-12)
    # vectorised, and the invariance to the sign of t
    np.testing.assert_allclose(robustness_value(np.array([t, -t]), dof), [rv, rv])


def test_benchmark_bounds_reject_impossible_kd():
    with pytest.raises(InputError, match="impossible"):
        benchmark_bounds(0.3, 0.1, kd=3)
    b = benchmark_bounds(0.01, 0.6, kd=5)
    assert b["capped"].all() and float(b["r2yz_dx"]) == 1.0


def test_cinelli_hazlett_input_errors(darfur):
    with pytest.raises(InputError, match="not a term"):
        cinelli_hazlett(DARFUR, darfur, "nothere")
    with pytest.raises(InputError, match="its own benchmark"):
        cinelli_hazlett(DARFUR, darfur, "directlyharmed", benchmark="directlyharmed")
    with pytest.raises(InputError, match="IV part"):
        cinelli_hazlett("peacefactor ~ age | village | directlyharmed ~ female", darfur,
                        "directlyharmed")
    with pytest.raises(InputError, match="same length"):
        cinelli_hazlett(DARFUR, darfur, "directlyharmed", benchmark="female", kd=[1, 2], ky=[1, 2, 3])


# ============================================================================ Oster
def test_oster_darfur_r2_is_the_dummy_regression(darfur):
    """R2 with the fixed effects on the full sample (singletons kept, as regress with dummies and
    psacalc): equals the R2 of the fit with village dummies."""
    res = oster(DARFUR, darfur, "directlyharmed")
    dummies = fit(DARFUR.replace(" | village", " + i(village)"), darfur, vcov="unadjusted")
    dg = res.diagnostics
    assert dg["nobs"] == 1276
    assert dg["r2_controlled"] == pytest.approx(dummies.r2_with_fe, rel=1e-10)
    assert dg["r2max"] == pytest.approx(1.3 * dg["r2_controlled"], rel=1e-12)
    short = fit("peacefactor ~ directlyharmed", darfur, vcov="unadjusted")
    assert dg["beta_short"] == pytest.approx(short.coefficients["directlyharmed"], rel=1e-10)
    assert dg["r2_short"] == pytest.approx(short.r2_with_fe, rel=1e-10)
    assert dg["tau_x"] > 0 and dg["var_x"] > dg["tau_x"]


@pytest.mark.parametrize("r2", ["with_fe", "within"])
@pytest.mark.parametrize("beta", [0.0, 0.05, -0.02])
def test_oster_delta_then_beta_star_identity(darfur, r2, beta):
    res = oster(DARFUR, darfur, "directlyharmed", beta=beta, r2=r2)
    delta = res.diagnostics["delta_for_beta"]
    again = oster(DARFUR, darfur, "directlyharmed", delta=delta, r2=r2)
    roots = np.array(again.diagnostics["beta_star_roots"])
    assert np.min(np.abs(roots - beta)) < 1e-9
    # and the root chosen (closest to the controlled estimate in the observables' direction,
    # or the only real root) is the target itself here
    assert again.diagnostics["beta_star"] == pytest.approx(beta, abs=1e-9)


def test_oster_cubic_is_continuous_at_delta_one():
    args = (1.0, 0.1, 0.6, 0.4, 2.0, 1.0, 0.7)
    at1 = oster_beta(*args, r2max=0.52, delta=1.0)["beta"]
    near = [oster_beta(*args, r2max=0.52, delta=1.0 + e)["beta"] for e in (-1e-7, 1e-7)]
    np.testing.assert_allclose(near, at1, atol=1e-5)
    # the chosen root solves the delta equation
    assert oster_delta(*args, r2max=0.52, beta=at1) == pytest.approx(1.0, rel=1e-9)
    # R2max = R2 controlled: no further movement, beta* is the controlled estimate
    assert oster_beta(*args, r2max=0.4, delta=1.0)["beta"] == pytest.approx(0.6, abs=1e-12)


def test_oster_recovers_beta_under_proportional_selection():
    """W1 observed, W2 unobserved, symmetric and orthogonal (delta = 1 holds exactly), R2max the
    R2 of the regression that includes W2 (Oster 2019, Proposition 2): with the population
    moments beta* is the true beta exactly; in a large sample, up to sampling error, while the
    controlled estimate stays far off."""
    # y = 0.5 x + w1 + w2 + e_y, x = 0.7 w1 + 0.7 w2 + e_x, all shocks independent N(0, 1)
    x = np.array([0.7, 0.7, 1.0, 0.0])    # loadings on (w1, w2, e_x, e_y)
    w1 = np.array([1.0, 0.0, 0.0, 0.0])
    y = 0.5 * x + w1 + np.array([0.0, 1.0, 0.0, 1.0])
    var_y, var_x = y @ y, x @ x
    b_short = (x @ y) / var_x
    M = np.array([[x @ x, x @ w1], [w1 @ x, w1 @ w1]])
    c = np.array([x @ y, w1 @ y])
    b_long = np.linalg.solve(M, c)
    args = (b_short, b_short**2 * var_x / var_y, b_long[0], b_long @ c / var_y, var_y, var_x,
            var_x - (x @ w1) ** 2 / (w1 @ w1))
    r2max = 1 - 1 / var_y
    assert oster_beta(*args, r2max=r2max, delta=1.0)["beta"] == pytest.approx(0.5, abs=1e-12)
    assert oster_delta(*args, r2max=r2max, beta=0.5) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(12)
    n = 200_000
    W1, W2 = rng.normal(size=n), rng.normal(size=n)
    X = 0.7 * W1 + 0.7 * W2 + rng.normal(size=n)
    df = pd.DataFrame({"y": 0.5 * X + W1 + W2 + rng.normal(size=n), "x": X, "w1": W1, "w2": W2})
    r2_full = fit("y ~ x + w1 + w2", df, vcov="unadjusted").r2_with_fe
    dg = oster("y ~ x + w1", df, "x", r2max=r2_full, delta=1.0).diagnostics
    assert dg["beta_controlled"] == pytest.approx(b_long[0], abs=0.01)
    assert abs(dg["beta_controlled"] - 0.5) > 0.4
    assert dg["beta_star"] == pytest.approx(0.5, abs=0.03)
    assert dg["direction_consistent"]


def test_oster_input_errors(darfur):
    with pytest.raises(InputError, match="r2max"):
        oster(DARFUR, darfur, "directlyharmed", r2max=0.3)
    with pytest.raises(InputError, match="short control"):
        oster(DARFUR, darfur, "directlyharmed", short_controls=["nothere"])
    with pytest.raises(InputError, match="lags"):
        oster("y ~ x + l(x, 1)", pd.DataFrame({"y": [1.0], "x": [1.0]}), "x")


def test_oster_short_controls_and_fixed_effects(darfur):
    """Keeping the village effects in the short regression: its beta is the FE regression of y
    on the treatment alone."""
    res = oster(DARFUR, darfur, "directlyharmed", short_controls=["village", "female"])
    short = fit("peacefactor ~ directlyharmed + female | village", darfur, vcov="unadjusted")
    assert res.diagnostics["beta_short"] == pytest.approx(short.coefficients["directlyharmed"], rel=1e-10)
    assert res.diagnostics["short_formula"] == "peacefactor ~ directlyharmed + female | village"


# ============================================================================ Conley-Hansen-Rossi
ADH_FORMULA = ("d_sh_empl_mfg ~ t2 + l_shind_manuf_cbp + l_sh_popedu_c + l_sh_popfborn + "
               "l_sh_empl_f + l_sh_routine33 + l_task_outsource + i(division) | shock ~ IV")


@pytest.fixture(scope="module")
def adh(shared_data):
    from conftest import require_file

    return pd.read_csv(require_file(shared_data / "adh" / "ADHdata_AKM.csv"))


@pytest.fixture(scope="module")
def adh_ref(reference_dir):
    return json.loads((reference_dir / "sensitivity" / "chr_adh_identity.json").read_text())


@pytest.mark.parametrize("vcov", ["unadjusted", "hc1", "cluster"])
def test_chr_zero_support_is_the_published_2sls(adh, adh_ref, vcov):
    kw = dict(vcov=vcov, ssc="none", cluster="statefip" if vcov == "cluster" else None)
    tsls = fit(ADH_FORMULA, adh, **kw)
    v = adh_ref["values"]
    assert abs(tsls.coefficients["shock"] - v["estimate"]) < 5e-8
    np.testing.assert_allclose(tsls.std_errors["shock"], v["se"][vcov], rtol=2e-7)
    uci = conley_uci(ADH_FORMULA, adh, gamma_range=(0.0, 0.0), **kw)
    ci = tsls.conf_int()
    for t in tsls.terms:
        assert list(uci.diagnostics["intervals"][t]) == [ci.loc[t, "lower"], ci.loc[t, "upper"]]
    np.testing.assert_allclose(uci.tidy()[["conf_low", "conf_high"]].to_numpy(),
                               tsls.tidy()[["conf_low", "conf_high"]].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(uci.params, tsls.params, rtol=1e-12)
    ltz = conley_ltz(ADH_FORMULA, adh, gamma_mean=0.0, gamma_var=0.0, **kw)
    assert np.array_equal(ltz.params, tsls.params) and np.array_equal(ltz.cov, tsls.cov)
    pd.testing.assert_frame_equal(ltz.tidy(), tsls.tidy())


def test_chr_linearity_and_ltz_moments(adh):
    """beta(gamma0) from the fit of y - Z gamma0 is beta - A gamma0 (A of the LTZ), and the LTZ
    covariance adds A Omega A'."""
    kw = dict(vcov="cluster", cluster="statefip")
    base = fit(ADH_FORMULA, adh, **kw)
    ltz = conley_ltz(ADH_FORMULA, adh, gamma_mean=0.02, gamma_var=0.0004, **kw)
    A = np.array([ltz.diagnostics["A"][t] for t in base.terms])
    shifted = adh.assign(y_adj=adh["d_sh_empl_mfg"] - 0.02 * adh["IV"])
    moved = fit(ADH_FORMULA.replace("d_sh_empl_mfg ~", "y_adj ~"), shifted, **kw)
    np.testing.assert_allclose(moved.params, base.params - A[:, 0] * 0.02, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ltz.params, moved.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ltz.cov, base.cov + 0.0004 * np.outer(A[:, 0], A[:, 0]), rtol=1e-12)
    assert ltz.std_errors["shock"] > base.std_errors["shock"]


def test_chr_uci_vertices_bound_every_interval(adh):
    """The vertex rule: no interval inside the support reaches beyond the UCI, and the UCI is
    attained (at a vertex)."""
    kw = dict(vcov="hc1")
    uci = conley_uci(ADH_FORMULA, adh, gamma_range=(-0.2, 0.05), grid=9, **kw)
    lo, hi = uci.diagnostics["intervals"]["shock"]
    verts = uci.diagnostics["vertices"]
    assert len(verts) == 2
    assert lo == min(v["lower"]["shock"] for v in verts)
    assert hi == max(v["upper"]["shock"] for v in verts)
    for g in np.linspace(-0.2, 0.05, 13):
        shifted = adh.assign(y_adj=adh["d_sh_empl_mfg"] - g * adh["IV"])
        ci = fit(ADH_FORMULA.replace("d_sh_empl_mfg ~", "y_adj ~"), shifted, **kw).conf_int()
        assert lo <= ci.loc["shock", "lower"] + 1e-12 and ci.loc["shock", "upper"] <= hi + 1e-12
    assert len(uci.diagnostics["path"]) == 9


def _two_instrument_data(seed=3, n=600):
    rng = np.random.default_rng(seed)
    z1, z2, u = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    x = 0.8 * z1 + 0.5 * z2 + 0.6 * u + rng.normal(size=n)
    g = rng.integers(0, 15, n)
    return pd.DataFrame({"y": 0.7 * x + u + 0.1 * g, "x": x, "z1": z1, "z2": z2, "g": g,
                         "w": rng.normal(size=n)})


def test_chr_two_instruments_box():
    df = _two_instrument_data()
    f = "y ~ w | g | x ~ z1 + z2"
    uci = conley_uci(f, df, gamma_range={"z1": (-0.05, 0.05), "z2": (0.0, 0.1)}, vcov="hc1")
    assert len(uci.diagnostics["vertices"]) == 4 and uci.diagnostics["path"] == ()
    lo, hi = uci.diagnostics["intervals"]["x"]
    rng = np.random.default_rng(0)
    for g1, g2 in zip(rng.uniform(-0.05, 0.05, 15), rng.uniform(0.0, 0.1, 15)):
        dd = df.assign(y2=df["y"] - g1 * df["z1"] - g2 * df["z2"])
        ci = fit("y2 ~ w | g | x ~ z1 + z2", dd, vcov="hc1").conf_int()
        assert lo <= ci.loc["x", "lower"] + 1e-12 and ci.loc["x", "upper"] <= hi + 1e-12
    ltz = conley_ltz(f, df, gamma_mean=[0.0, 0.05], gamma_var=[[0.001, 0.0], [0.0, 0.002]], vcov="hc1")
    assert ltz.estimator == "chr_ltz" and ltz.std_errors["x"] > 0


def test_chr_input_errors():
    df = _two_instrument_data()
    with pytest.raises(InputError, match="IV formula"):
        conley_uci("y ~ x", df, gamma_range=(0, 1))
    with pytest.raises(InputError, match="pair"):
        conley_uci("y ~ w | g | x ~ z1 + z2", df, gamma_range=(0, 1))
    with pytest.raises(InputError, match="exceeds"):
        conley_uci("y ~ w | g | x ~ z1", df, gamma_range=(1, 0))
    with pytest.raises(InputError, match="semi-definite"):
        conley_ltz("y ~ w | g | x ~ z1 + z2", df, gamma_mean=[0, 0], gamma_var=[[1, 2], [2, 1]])


# ============================================================================ figure, CLI, doctests
def test_contour_figure(darfur_ch):
    import matplotlib.figure

    from robocarbon.reports.figures_sensitivity import contour_grid, ovb_contour_figure

    for what in ("estimate", "t-value", "lwr"):
        fig = ovb_contour_figure(darfur_ch, sensitivity_of=what)
        assert isinstance(fig, matplotlib.figure.Figure)
    gx, gy, Z, crit = contour_grid(darfur_ch, points=11)
    assert Z.shape == (11, 11) and crit == 0.0
    assert Z[0, 0] == pytest.approx(darfur_ch.diagnostics["estimate"])
    np.testing.assert_allclose(Z[3, 5], adjusted_estimate(
        darfur_ch.diagnostics["estimate"], darfur_ch.diagnostics["se"],
        darfur_ch.diagnostics["dof"], gx[5], gy[3]))


def _run_cli(argv, tmp_path):
    """``robocarbon sensitivity ARGS`` through the command's own parser and the CLI's output
    policy and error boundary pieces."""
    from robocarbon.empirics import outputs as O
    from robocarbon.reports import cli
    from robocarbon.reports import cmd_sensitivity as M

    p = cli._Parser(prog="robocarbon sensitivity")
    M.add_arguments(p)
    args = p.parse_args(argv)
    with O.output_policy(force=False, inputs=cli._input_paths(M, args)):
        cli.preflight(M, args)
        return M.run(args)


def test_cli_ovb_json_and_plot(shared_data, tmp_path, capsys):
    from conftest import require_file

    data = require_file(shared_data / "darfur" / "darfur.csv")
    out = tmp_path / "ovb.json"
    rc = _run_cli(["--method", "ovb", "--data", str(data), "--formula", DARFUR, "--treatment",
                   "directlyharmed", "--benchmark", "female", "--kd", "1", "2", "3", "--json",
                   str(out), "--plot", str(tmp_path / "contour")], tmp_path)
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["method"] == "ovb" and set(doc) >= {"summary", "results", "provenance"}
    assert doc["summary"]["rv_q"] == pytest.approx(0.13878, abs=5e-6)
    assert [b["label"] for b in doc["summary"]["bounds"]] == ["1x female", "2x female", "3x female"]
    assert (tmp_path / "contour.png").stat().st_size > 0 and (tmp_path / "contour.svg").exists()
    assert (tmp_path / "ovb.manifest.json").exists()
    printed = capsys.readouterr().out
    assert "robustness value RV(q=1, alpha=0.05): 7.6258%" in printed


def test_cli_oster_and_chr(shared_data, tmp_path, capsys):
    from conftest import require_file

    darfur = require_file(shared_data / "darfur" / "darfur.csv")
    assert _run_cli(["--method", "oster", "--data", str(darfur), "--formula", DARFUR,
                     "--treatment", "directlyharmed", "--json", str(tmp_path / "o.json")],
                    tmp_path) == 0
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["summary"]["delta_for_beta"] > 1
    adh = require_file(shared_data / "adh" / "ADHdata_AKM.csv")
    assert _run_cli(["--method", "chr", "--data", str(adh), "--formula", ADH_FORMULA,
                     "--gamma-range=-0.1,0.1", "--gamma-mean", "0.05", "--gamma-var", "0.01",
                     "--json", str(tmp_path / "c.json"), "--plot", str(tmp_path / "c")],
                    tmp_path) == 0
    doc = json.loads((tmp_path / "c.json").read_text())
    assert set(doc["summary"]) >= {"uci", "ltz", "level"}
    lo, hi = doc["summary"]["uci"]["intervals"]["shock"]
    assert lo < doc["summary"]["ltz"]["terms"]["shock"]["estimate"] < hi
    assert "UCI" in capsys.readouterr().out


def test_cli_errors(shared_data, tmp_path):
    from conftest import require_file

    darfur = require_file(shared_data / "darfur" / "darfur.csv")
    with pytest.raises(InputError, match="belong"):
        _run_cli(["--method", "oster", "--data", str(darfur), "--formula", DARFUR,
                  "--treatment", "directlyharmed", "--kd", "2"], tmp_path)
    with pytest.raises(InputError, match="needs --treatment"):
        _run_cli(["--method", "ovb", "--data", str(darfur), "--formula", DARFUR], tmp_path)
    with pytest.raises(InputError, match="gamma"):
        _run_cli(["--method", "chr", "--data", str(darfur), "--formula", DARFUR], tmp_path)


def test_cli_main_error_boundary(shared_data, capsys):
    """Through the real entry point: an input error is 'error: ...' and exit status 2."""
    from conftest import require_file

    from robocarbon.reports.cli import main

    darfur = require_file(shared_data / "darfur" / "darfur.csv")
    rc = main(["sensitivity", "--method", "ovb", "--data", str(darfur), "--formula", DARFUR,
               "--treatment", "nothere"])
    assert rc == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_method_table_structure():
    from robocarbon.reports import cmd_sensitivity as M

    assert {"ovb", "oster", "chr"} <= set(M.METHODS)
    p = argparse.ArgumentParser()
    M.add_arguments(p)
    assert "benchmark" in M._METHOD_DESTS["ovb"] and "gamma_range" in M._METHOD_DESTS["chr"]
    with pytest.raises(ValueError, match="twice"):
        M.register("ovb", lambda g: None, lambda a, d: None, "dup")


@pytest.mark.parametrize("module", [ovb, instruments])
def test_doctests(module):
    res = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 5 and res.failed == 0
