"""Fixed-effects least squares: NIST Longley, parity with pyfixest and linearmodels, the fast
path, lags and gaps, dropped rows, and invariance properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robocarbon.empirics.data import lag
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.fe import fit, twfe_fast

# NIST StRD "Longley" (public domain data and certified values, Longley 1967):
# y = total employment; x1..x6 = GNP deflator, GNP, unemployed, armed forces, population, year.
LONGLEY = np.array(
    [
        [60323, 83.0, 234289, 2356, 1590, 107608, 1947],
        [61122, 88.5, 259426, 2325, 1456, 108632, 1948],
        [60171, 88.2, 258054, 3682, 1616, 109773, 1949],
        [61187, 89.5, 284599, 3351, 1650, 110929, 1950],
        [63221, 96.2, 328975, 2099, 3099, 112075, 1951],
        [63639, 98.1, 346999, 1932, 3594, 113270, 1952],
        [64989, 99.0, 365385, 1870, 3547, 115094, 1953],
        [63761, 100.0, 363112, 3578, 3350, 116219, 1954],
        [66019, 101.2, 397469, 2904, 3048, 117388, 1955],
        [67857, 104.6, 419180, 2822, 2857, 118734, 1956],
        [68169, 108.4, 442769, 2936, 2798, 120445, 1957],
        [66513, 110.8, 444546, 4681, 2637, 121950, 1958],
        [68655, 112.6, 482704, 3813, 2552, 123366, 1959],
        [69564, 114.2, 502601, 3931, 2514, 125368, 1960],
        [69331, 115.7, 518173, 4806, 2572, 127852, 1961],
        [70551, 116.9, 554894, 4007, 2827, 130081, 1962],
    ]
)
LONGLEY_B = [-3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
             -1.03322686717359, -0.511041056535807e-01, 1829.15146461355]
LONGLEY_SE = [890420.383607373, 84.9149257747669, 0.334910077722432e-01, 0.488399681651699,
              0.214274163161675, 0.226073200069370, 455.478499142212]
LONGLEY_R2 = 0.995479004577296
LONGLEY_RSD = 304.854073561965


def _digits(a, b):
    return -np.log10(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b)))


def test_longley_nist_certified_values():
    df = pd.DataFrame(LONGLEY, columns=["y", "x1", "x2", "x3", "x4", "x5", "x6"])
    res = fit("y ~ x1 + x2 + x3 + x4 + x5 + x6", df, vcov="unadjusted")
    assert list(res.terms) == ["Intercept", "x1", "x2", "x3", "x4", "x5", "x6"]
    assert np.all(_digits(res.params, LONGLEY_B) >= 9)
    assert np.all(_digits(res.std_errors.to_numpy(), LONGLEY_SE) >= 9)
    assert _digits(res.r2_with_fe, LONGLEY_R2) >= 9
    rsd = np.sqrt(res.diagnostics["rss"] / (16 - 7))
    assert _digits(rsd, LONGLEY_RSD) >= 9


def panel(N=40, T=6, seed=0, unbalanced=False):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"city": np.repeat(np.arange(N), T), "year": np.tile(np.arange(2007, 2007 + T), N)})
    df["prov"] = df["city"] % 7
    a = rng.normal(size=N)[df["city"]]
    g = rng.normal(size=T)[df["year"] - 2007]
    df["x1"] = rng.normal(size=len(df)) + a
    df["x2"] = rng.normal(size=len(df)) + g
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    df["y"] = 0.5 * df["x1"] - 0.25 * df["x2"] + a + g + rng.normal(size=len(df)) * (1 + 0.5 * np.abs(df["x1"]))
    if unbalanced:
        df = df.sample(frac=0.85, random_state=seed).sort_index().reset_index(drop=True)
    return df


@pytest.mark.parametrize(
    "ours, theirs, unbalanced",
    [
        (dict(cluster="city"), {"CRV1": "city"}, False),
        (dict(cluster="prov"), {"CRV1": "prov"}, True),
        (dict(vcov="hc1"), "hetero", True),
        (dict(vcov="unadjusted"), "iid", False),
        (dict(cluster=["city", "year"]), {"CRV1": "city+year"}, True),
        (dict(cluster="city", weights="w"), {"CRV1": "city"}, True),
    ],
)
def test_parity_with_pyfixest(ours, theirs, unbalanced):
    pf = pytest.importorskip("pyfixest")
    df = panel(unbalanced=unbalanced)
    res = fit("y ~ x1 + x2 | city + year", df, **ours)
    m = pf.feols("y ~ x1 + x2 | city + year", df, vcov=theirs, weights=ours.get("weights"))
    np.testing.assert_allclose(res.params, m.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.std_errors.to_numpy(), m.se().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(res.r2_within, m._r2_within, rtol=1e-8)
    np.testing.assert_allclose(res.r2_with_fe, m._r2, rtol=1e-8)


def test_parity_with_linearmodels_panelols():
    from linearmodels import PanelOLS

    df = panel()
    res = fit("y ~ x1 + x2 | city + year", df, cluster="city", ssc="linearmodels")
    d = df.set_index(["city", "year"])
    m = PanelOLS(d["y"], d[["x1", "x2"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    np.testing.assert_allclose(res.params, m.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.std_errors.to_numpy(), m.std_errors.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(res.r2_within, m.rsquared, rtol=1e-6)
    one = fit("y ~ x1 + x2 | city", df, cluster="city", ssc="linearmodels")
    m1 = PanelOLS(d["y"], d[["x1", "x2"]], entity_effects=True).fit(cov_type="clustered", cluster_entity=True)
    np.testing.assert_allclose(one.std_errors.to_numpy(), m1.std_errors.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("cl", ["city", "prov"])
def test_twfe_fast_equals_fit(cl):
    df = panel(N=30, T=5, seed=3)
    res = fit("y ~ x1 + x2 | city + year", df, cluster=cl)
    e = pd.factorize(df["city"])[0]
    t = pd.factorize(df["year"])[0]
    c = pd.factorize(df[cl])[0]
    b, se = twfe_fast(df["y"].to_numpy(), df[["x1", "x2"]].to_numpy(), e, t, c)
    np.testing.assert_allclose(b, res.params, rtol=1e-10)
    np.testing.assert_allclose(se, res.std_errors.to_numpy(), rtol=1e-10)


def test_ols_without_fe_has_intercept_and_fe_intercept_is_stata_style():
    df = panel()
    ols = fit("y ~ x1", df, vcov="hc1")
    assert ols.terms[0] == "Intercept" and ols.r2_within is None
    fe1 = fit("y ~ x1 + x2 | city", df, cluster="city")
    c = fe1.diagnostics["intercept"]
    np.testing.assert_allclose(c["estimate"], df["y"].mean() - df[["x1", "x2"]].mean().to_numpy() @ fe1.params)
    # same SE as the constant of the regression on x - x_i. + xbar (xtreg's construction)
    d = df.copy()
    for v in ("y", "x1", "x2"):
        d[v + "_t"] = d[v] - d.groupby("city")[v].transform("mean") + d[v].mean()
    aug = fit("y_t ~ x1_t + x2_t", d, cluster="city", ssc="full")
    # ssc differs only through K: rescale to the FE model's K
    n, k_aug, K_fe = len(d), 3, fe1.diagnostics["small_sample"]["K"]
    se_aug = aug.std_errors["Intercept"] * np.sqrt((n - k_aug) / (n - K_fe))
    np.testing.assert_allclose(c["std_error"], se_aug, rtol=1e-8)


def test_lags_respect_gaps_and_drops_are_counted():
    df = pd.DataFrame({"id": [1, 1, 1, 2, 2, 2], "t": [2000, 2001, 2003, 2000, 2001, 2002],
                       "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    out = lag(df, "x", 1, entity="id", time="t")
    assert np.isnan(out[0]) and out[1] == 1.0 and np.isnan(out[2])  # 2003 has no 2002: missing
    assert out[4] == 4.0 and out[5] == 5.0
    lead = lag(df, "x", -1, entity="id", time="t")
    assert lead[0] == 2.0 and np.isnan(lead[1])
    df["y"] = [0.3, 0.1, 0.7, 0.2, 0.9, 0.4]
    with pytest.raises(InputError, match="gap"):
        fit("y ~ l(x, 1)", df, entity="id", time="t", vcov="hc1")
    r = fit("y ~ l(x, 1)", df, entity="id", time="t", vcov="hc1", on_gap="missing")
    assert r.nobs == 3 and r.nobs_dropped == 3
    assert r.diagnostics["dropped"]["missing"]["l(x,1)"] == 3


def test_singletons_dropped_and_counted():
    df = panel(N=10, T=4)
    extra = pd.DataFrame({"city": [99], "year": [2007], "prov": [0], "x1": [0.1], "x2": [0.2], "w": [1.0], "y": [1.0]})
    d = pd.concat([df, extra], ignore_index=True)
    r = fit("y ~ x1 + x2 | city + year", d, cluster="city")
    assert r.diagnostics["dropped"]["singletons"] == 1 and r.nobs == len(df) and r.nobs_dropped == 1


def test_collinear_with_fixed_effect_named_or_dropped():
    df = panel(N=12, T=4)
    df["cityconst"] = df["city"] * 0.5 + 1.0
    with pytest.raises(InputError, match="cityconst"):
        fit("y ~ x1 + cityconst | city + year", df, cluster="city")
    r = fit("y ~ x1 + cityconst | city + year", df, cluster="city", collinear="drop")
    assert list(r.diagnostics["collinear_dropped"]) == ["cityconst"]
    base = fit("y ~ x1 | city + year", df, cluster="city")
    np.testing.assert_allclose(r.params, base.params, rtol=1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0), perm_seed=st.integers(0, 10_000))
def test_properties_row_order_and_scaling(seed, scale, perm_seed):
    df = panel(N=12, T=4, seed=seed, unbalanced=True)
    base = fit("y ~ x1 + x2 | city + year", df, cluster="city")
    perm = df.sample(frac=1.0, random_state=perm_seed).reset_index(drop=True)
    r2 = fit("y ~ x1 + x2 | city + year", perm, cluster="city")
    np.testing.assert_allclose(r2.params, base.params, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(r2.std_errors, base.std_errors, rtol=1e-7, atol=1e-10)
    d = df.copy()
    d["y"] = d["y"] * scale
    r3 = fit("y ~ x1 + x2 | city + year", d, cluster="city")
    np.testing.assert_allclose(r3.params, base.params * scale, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(r3.std_errors, base.std_errors * scale, rtol=1e-7, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(-5, 5), which=st.sampled_from(["city", "year"]),
       scale=st.sampled_from([1e-6, 1.0, 1e6, 1e12]), unbalanced=st.booleans())
def test_property_constant_columns_are_rejected_by_name_or_dropped(seed, c, which, scale, unbalanced):
    """Entity- or time-constant columns under entity and time fixed effects, at any scale and
    in balanced (exact transform) or unbalanced (alternating projections) panels: rejected by
    name by default, dropped (and listed) with collinear='drop', never estimated."""
    df = panel(N=10, T=4, seed=seed, unbalanced=unbalanced)
    rng = np.random.default_rng(seed)
    levels = df[which].unique()
    df["z"] = pd.Series((rng.normal(size=len(levels)) + c) * scale, index=levels).loc[df[which]].to_numpy()
    with pytest.raises(InputError, match="'z'"):
        fit("y ~ x1 + z | city + year", df, cluster="city")
    base = fit("y ~ x1 | city + year", df, cluster="city")
    r = fit("y ~ x1 + z | city + year", df, cluster="city", collinear="drop")
    assert list(r.diagnostics["collinear_dropped"]) == ["z"]
    np.testing.assert_allclose(r.params, base.params, rtol=1e-7)
    np.testing.assert_allclose(r.std_errors, base.std_errors, rtol=1e-7)


def _nt_unbalanced_panel(seed=21, N=12, T=6):
    """N x T rows that are not a balanced grid: one entity-time cell twice, one cell missing."""
    rng = np.random.default_rng(seed)
    ent = np.repeat(np.arange(N), T)
    tim = np.tile(np.arange(T), N)
    tim[T + 2] = 3  # entity 1 has period 3 twice and no period 2
    a, lam = rng.normal(size=N), rng.normal(size=T)
    x = rng.normal(size=N * T) + a[ent] + 0.5 * lam[tim]
    w = rng.normal(size=N * T)
    y = 0.5 * x - 0.3 * w + 2 * a[ent] + lam[tim] + rng.normal(size=N * T)
    return ent, tim, y, np.column_stack([x, w])


def _lsdv(y, X, ent, tim):
    """Least squares with every dummy (numpy lstsq), the cluster-by-entity CR1 covariance with
    K counted as fixest (entity effects nested in the clusters count one)."""
    N, T = ent.max() + 1, tim.max() + 1
    D = np.column_stack([X, np.eye(N)[ent], np.eye(T)[tim][:, 1:]])
    b, *_ = np.linalg.lstsq(D, y, rcond=None)
    u = y - D @ b
    # FWL: the covariance of the slopes from the residual-maker on the dummies
    F = D[:, X.shape[1]:]
    Xt = X - F @ np.linalg.lstsq(F, X, rcond=None)[0]
    bread = np.linalg.pinv(Xt.T @ Xt)
    S = np.vstack([(Xt[ent == g] * u[ent == g, None]).sum(0) for g in range(N)])
    n, k = X.shape
    K = k + T  # (N - 1 nested in the clusters, counted 1) + T - 1 + 1
    V = (n - 1) / (n - K) * N / (N - 1) * bread @ (S.T @ S) @ bread
    return b[: X.shape[1]], np.sqrt(np.diag(V))


def test_nt_rows_unbalanced_panel_equals_lsdv():
    """A panel with exactly N x T rows but a duplicated cell and a missing one is unbalanced:
    every TWFE route (twfe_fast, the Monte Carlo's twfe_cluster, fe.fit, the core fe_ols)
    gives the dummy-variable answer (an earlier twfe_fast took the balanced shortcut on the
    row count and missed it)."""
    from robocarbon.empirics.core.ols import fe_ols
    from robocarbon.empirics.core.within import balanced_cells, demean, panel_layout
    from robocarbon.simulate.fastpath import twfe_cluster

    ent, tim, y, X = _nt_unbalanced_panel()
    assert y.shape[0] == (ent.max() + 1) * (tim.max() + 1)
    assert balanced_cells(ent, tim) is None
    assert panel_layout(ent, tim).kind == "unbalanced"
    assert demean(X, [ent, tim])[1].method == "alternating-projections"
    b_ref, se_ref = _lsdv(y, X, ent, tim)
    beta, se = twfe_fast(y, X, ent, tim)
    np.testing.assert_allclose(beta, b_ref, rtol=1e-9)
    np.testing.assert_allclose(se, se_ref, rtol=1e-8)
    fast = twfe_cluster(y, X, ent, tim, names=["x", "w"])
    np.testing.assert_allclose(fast.params, b_ref, rtol=1e-9)
    np.testing.assert_allclose(fast.std_errors.to_numpy(), se_ref, rtol=1e-8)
    df = pd.DataFrame({"e": ent, "t": tim, "y": y, "x": X[:, 0], "w": X[:, 1]})
    res = fit("y ~ x + w | e + t", df, cluster="e")
    np.testing.assert_allclose(res.params, b_ref, rtol=1e-9)
    np.testing.assert_allclose(res.std_errors.to_numpy(), se_ref, rtol=1e-8)
    core = fe_ols(y, X, [ent, tim], clusters=[ent], solver="qr")
    np.testing.assert_allclose(core.beta, b_ref, rtol=1e-9)


def test_balanced_shortcut_needs_every_cell_once():
    """The exact two-way transform is taken only when every entity-time cell occurs exactly
    once: the same rows with the duplicate repaired give the grid route."""
    from robocarbon.empirics.core.within import balanced_cells, demean

    ent, tim, y, X = _nt_unbalanced_panel()
    assert balanced_cells(ent, tim) is None
    tim2 = tim.copy()
    tim2[6 + 2] = 2
    assert balanced_cells(ent, tim2) is not None
    assert demean(X, [ent, tim2])[1].method == "two-way-exact"


def test_single_threaded_blas_nests_and_restores(monkeypatch):
    """The one BLAS-threads helper: one thread inside (however deep), the previous counts back
    after the outermost exit; ``environ=True`` sets the thread variables for child processes
    and restores them."""
    import os

    from threadpoolctl import threadpool_info, threadpool_limits

    from robocarbon.empirics.core.threads import THREAD_ENV, blas_depth, single_threaded_blas

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        with single_threaded_blas():
            assert blas_depth() == 1 and set(blas_threads()) <= {1}
            with single_threaded_blas(environ=True):
                assert blas_depth() == 2 and all(os.environ[k] == "1" for k in THREAD_ENV)
            assert "OPENBLAS_NUM_THREADS" not in os.environ
            assert set(blas_threads()) <= {1}
        assert blas_depth() == 0 and blas_threads() == before
        try:
            with single_threaded_blas():
                raise ValueError("boom")
        except ValueError:
            pass
        assert blas_depth() == 0 and blas_threads() == before
