"""IV-2SLS/LIML: the published ADH estimates and Stata SEs, exact identities, linearmodels parity,
weak-IV diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics import weakiv
from robocarbon.empirics.data import load_panel
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.fe import fit

CONTROLS = ("t2 + l_shind_manuf_cbp + l_sh_popedu_c + l_sh_popfborn + l_sh_empl_f + l_sh_routine33"
            " + l_task_outsource + i(division)")

# /work/shared/data/README.md: Stata SEs of the IV coefficient (ivreg2 without `small`, i.e. no
# small-sample factor: our ssc="none") and of the first stage (regress: ssc="fixest").
ADH = {
    None: {"b": -0.3028266, "fs": 0.7462433,
           "se": {"unadjusted": 0.0390714, "hc1": 0.090163192, "cluster": 0.100470868},
           "fs_se": {"unadjusted": 0.029158413, "hc1": 0.171520974, "cluster": 0.181839343}},
    "weights": {"b": -0.5963601, "fs": 0.6310409,
                "se": {"unadjusted": 0.053969004, "hc1": 0.095215853, "cluster": 0.098773877},
                "fs_se": {"unadjusted": 0.02732516, "hc1": 0.087007189, "cluster": 0.091423724}},
}


@pytest.fixture(scope="module")
def adh(shared_data):
    from conftest import require_file

    return load_panel(require_file(shared_data / "adh" / "ADHdata_AKM.csv"))


@pytest.mark.parametrize("w", [None, "weights"])
@pytest.mark.parametrize("vcov", ["unadjusted", "hc1", "cluster"])
def test_adh_published_2sls(adh, w, vcov):
    ref = ADH[w]
    kw = dict(vcov=vcov, cluster="statefip" if vcov == "cluster" else None, weights=w)
    res = fit(f"d_sh_empl_mfg ~ {CONTROLS} | shock ~ IV", adh, ssc="none", **kw)
    # published to 7 decimals: agreement to the printed precision
    assert abs(res.coefficients["shock"] - ref["b"]) < 5e-8
    np.testing.assert_allclose(res.std_errors["shock"], ref["se"][vcov], rtol=2e-7)
    fs = fit(f"shock ~ {CONTROLS} + IV", adh, **kw)
    assert abs(fs.coefficients["IV"] - ref["fs"]) < 5e-8
    np.testing.assert_allclose(fs.std_errors["IV"], ref["fs_se"][vcov], rtol=2e-7)
    # the first-stage block of the IV result is that same regression
    d = fit(f"d_sh_empl_mfg ~ {CONTROLS} | shock ~ IV", adh, **kw).diagnostics["first_stage"]["shock"]
    np.testing.assert_allclose(d["coefficients"]["IV"], fs.coefficients["IV"], rtol=1e-10)
    np.testing.assert_allclose(d["std_errors"]["IV"], fs.std_errors["IV"], rtol=1e-10)


@pytest.mark.parametrize("w, controls, b, fs", [
    ("weights", "t2", -0.7460301, 0.7916466),
    (None, "t2", -0.6215758, 0.8671441),
])
def test_adh_published_t2_only(adh, w, controls, b, fs):
    res = fit(f"d_sh_empl_mfg ~ {controls} | shock ~ IV", adh, vcov="hc1", weights=w)
    assert abs(res.coefficients["shock"] - b) < 5e-8
    assert abs(res.diagnostics["first_stage"]["shock"]["coefficients"]["IV"] - fs) < 5e-8


def test_adh_division_dummies_equal_absorbed_division(adh):
    a = fit(f"d_sh_empl_mfg ~ {CONTROLS} | shock ~ IV", adh, cluster="statefip")
    ctrl = CONTROLS.replace(" + i(division)", "")
    b = fit(f"d_sh_empl_mfg ~ {ctrl} | division | shock ~ IV", adh, cluster="statefip")
    np.testing.assert_allclose(b.coefficients["shock"], a.coefficients["shock"], rtol=1e-9)
    np.testing.assert_allclose(b.std_errors["shock"], a.std_errors["shock"], rtol=1e-9)


def _iv_panel(seed, N=30, T=5):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"id": np.repeat(np.arange(N), T), "t": np.tile(np.arange(T), N)})
    a = rng.normal(size=N)[df["id"]]
    df["z1"] = rng.normal(size=len(df))
    df["z2"] = rng.normal(size=len(df))
    u = rng.normal(size=len(df))
    df["x"] = 0.8 * df["z1"] + 0.5 * df["z2"] + 0.5 * u + a + rng.normal(size=len(df))
    df["w"] = rng.normal(size=len(df))
    df["y"] = 1.0 * df["x"] - 0.5 * df["w"] + a + u
    return df


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 5000))
def test_iv_with_z_equal_x_is_ols(seed):
    df = _iv_panel(seed)
    df["xcopy"] = df["x"]
    ols = fit("y ~ w + x | id + t", df, cluster="id")
    iv = fit("y ~ w | id + t | x ~ xcopy", df, cluster="id")
    np.testing.assert_allclose(iv.params, ols.params, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(iv.std_errors, ols.std_errors, rtol=1e-8)


def test_2sls_and_liml_match_linearmodels():
    from linearmodels.iv import IV2SLS, IVLIML

    df = _iv_panel(1)
    df["const"] = 1.0
    for ours_m, Theirs in (("2sls", IV2SLS), ("liml", IVLIML)):
        r = fit("y ~ w | x ~ z1 + z2", df, vcov="hc1", method=ours_m, ssc="none")
        m = Theirs(df["y"], df[["const", "w"]], df[["x"]], df[["z1", "z2"]]).fit(cov_type="robust", debiased=False)
        np.testing.assert_allclose(r.params, m.params.to_numpy(), rtol=1e-8)
        # LIML: our bread is ivreg2's (R'(I - k M_Z)R)^-1; linearmodels uses (Rk'Rk)^-1 with
        # Rk = (1-k)R + k P_Z R. They differ by O(k - 1), here about 1e-4 relative.
        rtol = 1e-6 if ours_m == "2sls" else 1e-3
        np.testing.assert_allclose(r.std_errors.to_numpy(), m.std_errors.to_numpy(), rtol=rtol)
        if ours_m == "liml":
            np.testing.assert_allclose(r.diagnostics["liml_kappa"], m.kappa, rtol=1e-8)
        else:
            j = m.wooldridge_overid  # robust overid exists; compare Sargan under unadjusted instead
            assert j is not None
    u = fit("y ~ w | x ~ z1 + z2", df, vcov="unadjusted")
    m = IV2SLS(df["y"], df[["const", "w"]], df[["x"]], df[["z1", "z2"]]).fit(cov_type="unadjusted")
    np.testing.assert_allclose(u.diagnostics["overid"]["statistic"], m.sargan.stat, rtol=1e-8)


def test_weak_iv_diagnostics_identities():
    df = _iv_panel(2, N=60)
    r = fit("y ~ w | id + t | x ~ z1 + z2", df, vcov="unadjusted")
    wk = r.diagnostics["weak_iv"]
    # homoskedastic: KP rk LM is Anderson's LM, KP Wald F is Cragg-Donald
    np.testing.assert_allclose(wk["kp_rk_lm"], wk["anderson_lm"], rtol=1e-8)
    np.testing.assert_allclose(wk["kp_rk_wald_f"], wk["cragg_donald_f"], rtol=1e-12)
    # one endogenous regressor, robust: the KP Wald statistic is the robust Wald test of the
    # excluded instruments in the first stage (scaled as ivreg2 does)
    rc = fit("y ~ w | id + t | x ~ z1 + z2", df, vcov="hc1", ssc="none")
    n = rc.nobs
    kpw = rc.diagnostics["weak_iv"]["kp_rk_wald_f"] * 2 * n / (n - 2 - 1 - (rc.diagnostics["small_sample"]["K"] - 2))
    fs_w = rc.diagnostics["first_stage"]["x"]["f_statistic"] * 2
    np.testing.assert_allclose(kpw, fs_w, rtol=1e-8)
    assert rc.diagnostics["overid"]["name"] == "hansen_j" and rc.diagnostics["overid"]["df"] == 1
    sy = wk["stock_yogo"]
    assert sy["size"]["0.10"] == 19.93 and sy["size"]["0.25"] == 7.25
    assert weakiv.stock_yogo(1, 3)["bias"]["0.05"] == 13.91
    assert weakiv.stock_yogo(3, 5)["bias"]["0.10"] == 6.61
    assert weakiv.stock_yogo(1, 1, "liml")["size"]["0.10"] == 16.38


def test_anderson_rubin_set_contains_2sls_and_detects_unbounded():
    df = _iv_panel(3, N=60)
    r = fit("y ~ w | id + t | x ~ z1", df, cluster="id")
    ar = r.diagnostics["anderson_rubin"]
    assert ar["type"] == "bounded" and ar["method"] == "analytic quadratic"
    lo, hi = ar["intervals"][0]
    assert lo < r.coefficients["x"] < hi
    # an irrelevant instrument: the set is unbounded
    rng = np.random.default_rng(0)
    df["junk"] = rng.normal(size=len(df))
    rj = fit("y ~ w | id + t | x ~ junk", df, cluster="id")
    assert rj.diagnostics["anderson_rubin"]["type"] in ("union of two rays", "whole line")
    r2 = fit("y ~ w | id + t | x ~ z1 + z2", df, cluster="id")
    ar2 = r2.diagnostics["anderson_rubin"]
    assert ar2["type"] == "bounded" and ar2["intervals"][0][0] < r2.coefficients["x"] < ar2["intervals"][0][1]


def test_iv_errors():
    df = _iv_panel(4)
    with pytest.raises(InputError, match="under-identified"):
        fit("y ~ w | x + w2 ~ z1", df.assign(w2=df["w"] ** 2), cluster="id")
    with pytest.raises(InputError, match="collinear"):
        fit("y ~ w | x ~ z1 + zz", df.assign(zz=2 * df["z1"]), cluster="id")


@pytest.mark.parametrize("clustered", [False, True])
def test_hansen_j_equals_linearmodels_two_step_gmm(clustered):
    from linearmodels.iv import IVGMM

    df = _iv_panel(5)
    df["const"] = 1.0
    if clustered:
        r = fit("y ~ w | x ~ z1 + z2", df, cluster="id")
        m = IVGMM(df["y"], df[["const", "w"]], df[["x"]], df[["z1", "z2"]], weight_type="clustered",
                  clusters=df["id"]).fit(iter_limit=2, cov_type="clustered", clusters=df["id"])
    else:
        r = fit("y ~ w | x ~ z1 + z2", df, vcov="hc1")
        m = IVGMM(df["y"], df[["const", "w"]], df[["x"]], df[["z1", "z2"]],
                  weight_type="robust").fit(iter_limit=2, cov_type="robust")
    np.testing.assert_allclose(r.diagnostics["overid"]["statistic"], m.j_stat.stat, rtol=1e-8)
    np.testing.assert_allclose(r.diagnostics["overid"]["pvalue"], m.j_stat.pval, rtol=1e-6)


def test_kp_rk_lm_one_endogenous_is_the_robust_score_statistic():
    """With one endogenous regressor the KP rk LM statistic (ranktest's LM form) reduces to the
    cluster-robust score statistic x'Z (sum_g s_g s_g')^-1 Z'x, s_g = sum_{i in g} x_i z_i, for
    x and Z partialled on the exogenous regressors and fixed effects."""
    from robocarbon.empirics.linalg import demean

    df = _iv_panel(6, N=50)
    r = fit("y ~ w | id + t | x ~ z1 + z2", df, cluster="id")
    codes = [pd.factorize(df["id"])[0], pd.factorize(df["t"])[0]]
    M, _ = demean(df[["x", "z1", "z2", "w"]].to_numpy(), codes)
    part = M[:, :3] - M[:, [3]] @ np.linalg.lstsq(M[:, [3]], M[:, :3], rcond=None)[0]
    x, Z = part[:, 0], part[:, 1:]
    s = Z * x[:, None]
    Sg = np.zeros((codes[0].max() + 1, 2))
    np.add.at(Sg, codes[0], s)
    g = Z.T @ x
    lm = g @ np.linalg.solve(Sg.T @ Sg, g)
    np.testing.assert_allclose(r.diagnostics["weak_iv"]["kp_rk_lm"], lm, rtol=1e-8)
    # and the KP Wald statistic uses the first-stage residuals instead of x
    assert r.diagnostics["weak_iv"]["kp_rk_wald_f"] > 0


@pytest.mark.parametrize("K, L", [(1, 3), (2, 3), (2, 4), (3, 5)])
def test_kp_homoskedastic_reduces_to_anderson_and_cragg_donald(K, L):
    """Kleibergen-Paap under homoskedasticity: LM = n * smallest squared canonical correlation
    (Anderson), Wald = n * cc/(1 - cc) (Cragg-Donald), for several endogenous regressors."""
    rng = np.random.default_rng(K * 10 + L)
    n = 300
    Z = rng.normal(size=(n, L))
    E = Z @ rng.normal(size=(L, K)) * 0.3 + rng.normal(size=(n, K))
    Z -= Z.mean(0)
    E -= E.mean(0)
    cc = weakiv.canonical_correlations(E, Z)[K - 1]
    lm = weakiv.kleibergen_paap(E, Z, vcov="unadjusted", kind="lm")
    wd = weakiv.kleibergen_paap(E, Z, vcov="unadjusted", kind="wald")
    np.testing.assert_allclose(lm["statistic"], n * cc, rtol=1e-9)
    np.testing.assert_allclose(wd["statistic"], n * cc / (1 - cc), rtol=1e-9)
    assert lm["df"] == L - K + 1


def test_anderson_rubin_analytic_equals_grid_inversion():
    from robocarbon.empirics.linalg import demean

    df = _iv_panel(7, N=60)
    codes = [pd.factorize(df["id"])[0], pd.factorize(df["t"])[0]]
    M, _ = demean(df[["y", "x", "z1", "w"]].to_numpy(), codes)
    part = M[:, :3] - M[:, [3]] @ np.linalg.lstsq(M[:, [3]], M[:, :3], rcond=None)[0]
    y, x, Z = part[:, 0], part[:, 1], part[:, [2]]
    kw = dict(vcov="cluster", clusters=[codes[0]], scale=1.0, df_resid=59, center=1.0, width=0.02,
              grid_points=20001)
    exact = weakiv.anderson_rubin_set(y, x, Z, **kw)
    grid = weakiv.anderson_rubin_set(y, x, Z, method="grid", **kw)
    assert exact["type"] == grid["type"] == "bounded"
    step = 100 * 0.02 / 20000
    np.testing.assert_allclose(grid["intervals"][0], exact["intervals"][0], atol=step)


def test_iv_instrument_constant_within_entity_is_named():
    df = _iv_panel(8)
    df["zc"] = df["id"] * 3.0 + 1e6
    with pytest.raises(InputError, match="instrument.*'zc'.*no variation left"):
        fit("y ~ w | id + t | x ~ zc", df, cluster="id")


# ----------------------------------------------------------------------------- AR set, exact
def _ar_by_ols(df, b0, controls, instruments, endog, yname, **kw):
    """The AR statistic at b0 computed independently: the Wald test of the instrument
    coefficients in the OLS of y - b0*x on the instruments and controls, with the project's own
    OLS covariance (same vcov), rescaled from the OLS small-sample factor to the IV model's."""
    d = df.copy()
    d["_ytil"] = d[yname] - b0 * d[endog]
    r = fit(f"_ytil ~ {controls} + {' + '.join(instruments)}", d, **kw)
    idx = [r.terms.index(z) for z in instruments]
    g = np.asarray(r.params)[idx]
    V = np.asarray(r.cov)[np.ix_(idx, idx)]
    return float(g @ np.linalg.solve(V, g)), r.diagnostics["small_sample"]["scale"]


@pytest.mark.parametrize("instruments", [("IV",), ("IV", "IVsq")])
@pytest.mark.parametrize("vcov", ["cluster", "hc1", "unadjusted"])
def test_adh_anderson_rubin_set_is_the_exact_inversion_of_the_wald_test(adh, instruments, vcov):
    from scipy import optimize

    d = adh.copy()
    d["IVsq"] = d["IV"] ** 2
    kw = dict(vcov=vcov, cluster="statefip" if vcov == "cluster" else None, weights="weights")
    res = fit(f"d_sh_empl_mfg ~ {CONTROLS} | shock ~ {' + '.join(instruments)}", d, **kw)
    ar = res.diagnostics["anderson_rubin"]
    scale_iv = res.diagnostics["small_sample"]["scale"]
    assert ar["small_sample"]["scale"] == scale_iv
    if vcov == "cluster":
        assert ar["small_sample"]["g_adjust"] == "min" and "G" in ar["small_sample"]["factor"]

    def exact(b0):
        s, scale_ols = _ar_by_ols(d, b0, CONTROLS, instruments, "shock", "d_sh_empl_mfg", **kw)
        return s * scale_ols / scale_iv - ar["critical_value"]

    if ar["type"] == "empty":  # iid, two instruments: the over-identification is rejected
        assert vcov == "unadjusted" and len(instruments) == 2
        bgrid = res.coefficients["shock"] + np.linspace(-1, 1, 21)
        assert min(exact(b0) for b0 in bgrid) > 0
        return
    assert ar["type"] == "bounded"
    lo, hi = ar["intervals"][0]
    for e in (lo, hi):
        # the statistic equals the critical value at each endpoint
        assert abs(exact(e)) < 1e-8 * ar["critical_value"]
        # and the exact root, found independently, is the endpoint
        root = optimize.brentq(exact, e - 0.01, e + 0.01, xtol=1e-13)
        assert abs(root - e) < 1e-6
    b = res.coefficients["shock"]
    assert exact(b) < 0 and exact(lo - 0.05) > 0 and exact(hi + 0.05) > 0


def test_adh_anderson_rubin_cluster_includes_the_g_factor(adh):
    # the CR1 set is wider than the one without G/(G-1): same scale, g_adjust none
    kw = dict(vcov="cluster", cluster="statefip", weights="weights")
    res = fit(f"d_sh_empl_mfg ~ {CONTROLS} | shock ~ IV", adh, **kw)
    ar = res.diagnostics["anderson_rubin"]
    assert ar["small_sample"]["convention"] == "ssc=fixest"
    lo, hi = ar["intervals"][0]
    # values measured on this data (old code without G/(G-1): [-0.859699, -0.430985])
    np.testing.assert_allclose([lo, hi], [-0.8634470666502, -0.4295144686530], rtol=1e-8)


def test_anderson_rubin_root_finding_equals_analytic_and_unions_of_rays():
    from robocarbon.empirics.linalg import demean

    df = _iv_panel(7, N=60)
    codes = [pd.factorize(df["id"])[0], pd.factorize(df["t"])[0]]
    M, _ = demean(df[["y", "x", "z1", "w"]].to_numpy(), codes)
    part = M[:, :3] - M[:, [3]] @ np.linalg.lstsq(M[:, [3]], M[:, :3], rcond=None)[0]
    y, x, Z = part[:, 0], part[:, 1], part[:, [2]]
    for gadj in ("none", "min", "each"):
        kw = dict(vcov="cluster", clusters=[codes[0]], scale=1.02, g_adjust=gadj, df_resid=59,
                  center=1.0, width=0.02)
        exact = weakiv.anderson_rubin_set(y, x, Z, **kw)
        roots = weakiv.anderson_rubin_set(y, x, Z, method="grid", **kw)
        assert exact["type"] == roots["type"] == "bounded"
        np.testing.assert_allclose(roots["intervals"][0], exact["intervals"][0], rtol=1e-10)
    # a weak instrument: union of two rays, by both methods
    rng = np.random.default_rng(3)
    zj = rng.normal(size=(len(y), 1))
    xw = 0.12 * zj[:, 0] + rng.normal(size=len(y))
    yw = 0.5 * xw + rng.normal(size=len(y))
    kw = dict(vcov="hc1", scale=1.0, df_resid=len(y) - 2, center=0.5, width=1.0)
    a = weakiv.anderson_rubin_set(yw, xw, zj, **kw)
    g = weakiv.anderson_rubin_set(yw, xw, zj, method="grid", **kw)
    assert a["type"] == g["type"]
    if a["type"] == "union of two rays":
        np.testing.assert_allclose([a["intervals"][0][1], a["intervals"][1][0]],
                                   [g["intervals"][0][1], g["intervals"][1][0]], rtol=1e-9)
        assert "inf" in a["set"]
