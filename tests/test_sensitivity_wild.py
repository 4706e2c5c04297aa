"""Wild cluster bootstrap (empirics/sensitivity/wild.py): the exact identity with refitting
``fe.fit`` on every bootstrap outcome, parity with the ``wildboottest`` package on the same
weights, test inversion, and the doctest."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics import fe
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.sensitivity import bootstrap_weights, wild_cluster_bootstrap
from robocarbon.empirics.sensitivity import wild as wild_module


def _panel(G=8, T=6, seed=3, beta=0.1):
    rng = np.random.default_rng(seed)
    idx = np.repeat(np.arange(G), T)
    t = np.tile(np.arange(T), G)
    x = rng.normal(size=G * T) + 0.5 * rng.normal(size=G)[idx] + 0.3 * rng.normal(size=T)[t]
    w = rng.normal(size=G * T)
    e = rng.normal(size=G * T) * (1 + 0.5 * (idx % 3)) + rng.normal(size=G)[idx]
    y = beta * x - 0.4 * w + rng.normal(size=G)[idx] + rng.normal(size=T)[t] + e
    return pd.DataFrame({"id": idx, "t": t, "x": x, "w": w, "y": y})


def _restricted_residuals(df, theta):
    """M_[D, w] (y - theta x) by a dummy-variable regression (independent of the module)."""
    D = pd.get_dummies(df[["id", "t"]].astype(str), drop_first=False).to_numpy(float)
    Z = np.column_stack([D, df["w"].to_numpy()])
    r = df["y"].to_numpy() - theta * df["x"].to_numpy()
    return r - Z @ np.linalg.lstsq(Z, r, rcond=None)[0]


def test_enumeration_equals_brute_force_refits_of_fe_fit():
    df = _panel()
    theta = 0.2
    res = wild_cluster_bootstrap("y ~ x + w | id + t", df, "x", cluster="id", null=theta,
                                 conf_int=False)
    dg = res.diagnostics
    assert dg["enumerated"] and dg["draws"] == 2 ** 8
    u = _restricted_residuals(df, theta)
    y_r = df["y"].to_numpy() - u
    g = df["id"].to_numpy()
    tb = []
    for v in itertools.product([-1.0, 1.0], repeat=8):
        d = df.assign(ystar=y_r + np.asarray(v)[g] * u)
        r = fe.fit("ystar ~ x + w | id + t", d, cluster="id")
        tb.append((r.params[0] - theta) / r.std_errors.iloc[0])
    tb = np.asarray(tb)
    np.testing.assert_allclose(dg["t_boot"], tb, rtol=0, atol=1e-10)
    base = fe.fit("y ~ x + w | id + t", df, cluster="id")
    t = (base.params[0] - theta) / base.std_errors.iloc[0]
    assert dg["t_statistic"] == pytest.approx(t, abs=1e-12)
    exceed = np.abs(tb) > abs(t) * (1 + 1e-9)
    assert dg["p_value"] == pytest.approx(exceed.mean(), abs=1e-15)
    # the all-ones vector reproduces the original statistic (y* = y)
    assert tb[-1] == pytest.approx(t, abs=1e-10)


def _wildboottest(df, V=None, weights="rademacher", B=999):
    wbt = pytest.importorskip("wildboottest.wildboottest")
    # the entity FE is nested in the clusters, so the within data is the whole model
    Xw = df[["x", "w"]] - df.groupby("id")[["x", "w"]].transform("mean")
    yw = df["y"] - df.groupby("id")["y"].transform("mean")
    wb = wbt.WildboottestCL(X=Xw.to_numpy(), Y=yw.to_numpy(), cluster=df["id"].to_numpy(),
                            R=np.array([1.0, 0.0]), B=B, seed=1, parallel=False)
    wb.get_scores(bootstrap_type="11", impose_null=True)
    wb.get_weights(weights_type=weights)
    if V is not None:
        wb.v, wb.B = V, V.shape[1]
    wb.get_numer()
    wb.get_denom()
    wb.get_tboot()
    wb.get_vcov()
    wb.get_tstat()
    out = {"t_stat": float(np.ravel(wb.t_stat)[0]), "t_boot": np.ravel(wb.t_boot),
           "full": wb.full_enumeration}
    for kind in ("two-tailed", "equal-tailed"):
        wb.get_pvalue(pval_type=kind)
        out[kind] = float(wb.pvalue)
    return out


def test_parity_with_wildboottest_full_enumeration():
    df = _panel(seed=11)
    res = wild_cluster_bootstrap("y ~ x + w | id", df, "x", cluster="id", B=999,
                                 conf_int=False)
    ref = _wildboottest(df)
    dg = res.diagnostics
    assert ref["full"] and dg["enumerated"]
    # same enumeration order; the statistics differ only by the small-sample factor, which
    # cancels in the ratio t*/t
    np.testing.assert_allclose(dg["t_boot"] / dg["t_statistic"],
                               ref["t_boot"] / ref["t_stat"], rtol=1e-10, atol=1e-12)
    assert dg["p_value"] == pytest.approx(ref["two-tailed"], abs=1e-8)
    assert dg["p_value_equal_tailed"] == pytest.approx(ref["equal-tailed"], abs=1e-8)


def test_parity_with_wildboottest_webb_same_draws():
    df = _panel(seed=5)
    res = wild_cluster_bootstrap("y ~ x + w | id", df, "x", cluster="id", weights="webb",
                                 B=2000, enumerate_all=False, seed=7, conf_int=False)
    V, full = bootstrap_weights(8, 2000, "webb", enumerate_all=False, rng=7)
    assert not full
    ref = _wildboottest(df, V=V, weights="webb")
    dg = res.diagnostics
    np.testing.assert_allclose(dg["t_boot"] / dg["t_statistic"],
                               ref["t_boot"] / ref["t_stat"], rtol=1e-10, atol=1e-12)
    assert dg["p_value"] == pytest.approx(ref["two-tailed"], abs=1e-8)
    assert dg["p_value_equal_tailed"] == pytest.approx(ref["equal-tailed"], abs=1e-8)


def test_weights_enumeration_rule_and_seed():
    V, full = bootstrap_weights(4, 9999, "webb")
    assert full and V.shape == (4, 6 ** 4)
    np.testing.assert_allclose(np.sort(np.unique(V)) ** 2, [1.5, 1, 0.5, 0.5, 1, 1.5])
    V2, full2 = bootstrap_weights(20, 999, "rademacher", rng=3)
    assert not full2 and V2.shape == (20, 999)
    np.testing.assert_array_equal(V2, bootstrap_weights(20, 999, "rademacher", rng=3)[0])
    with pytest.raises(InputError):
        bootstrap_weights(4, 10, "mammen")


def test_interval_is_the_inverted_test():
    df = _panel(G=10, seed=2)
    res = wild_cluster_bootstrap("y ~ x + w | id + t", df, "x", cluster="id", B=999, seed=4)
    lo, hi = res.diagnostics["conf_int"]
    b = res.params[0]
    assert lo < b < hi
    alpha = 0.05
    width = hi - lo

    def p(theta, key="p_value"):
        r = wild_cluster_bootstrap("y ~ x + w | id + t", df, "x", cluster="id", B=999,
                                   seed=4, null=theta, conf_int=False)
        return r.diagnostics[key]

    eps = 1e-6 * width
    assert p(lo + eps) > alpha >= p(lo - eps)
    assert p(hi - eps) > alpha >= p(hi + eps)
    elo, ehi = res.diagnostics["conf_int_equal_tailed"]
    assert p(elo + eps, "p_value_equal_tailed") > alpha >= p(elo - eps, "p_value_equal_tailed")
    assert res.diagnostics["draws"] == 999 and not res.diagnostics["enumerated"]
    tidy = res.tidy()
    assert list(tidy["term"]) == ["x"]


def test_input_errors():
    df = _panel()
    with pytest.raises(InputError):
        wild_cluster_bootstrap("y ~ x | id", df, "nope", cluster="id")
    with pytest.raises(InputError):
        wild_cluster_bootstrap("y ~ x | id", df, "x", cluster="id", weights="normal")


def test_docstring_examples_run():
    out = doctest.testmod(wild_module, raise_on_error=False)
    assert out.attempted > 0 and out.failed == 0


# ----------------------------------------------------------------------------- randomization
from robocarbon.empirics.sensitivity import randomization as ri_module  # noqa: E402
from robocarbon.empirics.sensitivity import randomization_inference  # noqa: E402


def test_randomization_exact_count_equals_enumerated_difference_in_means():
    rng = np.random.default_rng(8)
    unit = np.repeat(np.arange(7), 4)
    treated = [0, 2, 5]
    treat = np.isin(unit, treated).astype(float)
    df = pd.DataFrame({"unit": unit, "treat": treat,
                       "y": 0.7 * treat + rng.normal(size=7)[unit] + rng.normal(size=28)})
    res = randomization_inference("y ~ treat", df, "treat", assignment="treat", unit="unit",
                                  statistic="coef", fit_options={"vcov": "hc1"})
    dg = res.diagnostics
    assert dg["enumerated"] and dg["draws"] == 35
    # independent: the difference in means over all 35 choices of 3 treated units
    ybar = df.groupby("unit")["y"].mean().to_numpy()   # balanced: unit means suffice
    diffs = np.array([ybar[list(c)].mean() - np.delete(ybar, list(c)).mean()
                      for c in itertools.combinations(range(7), 3)])
    np.testing.assert_allclose(np.sort(dg["permutation_stats"]), np.sort(diffs), atol=1e-12)
    T = ybar[treated].mean() - np.delete(ybar, treated).mean()
    assert dg["statistic"] == pytest.approx(T, abs=1e-12)
    assert dg["p_value"] == pytest.approx(np.mean(np.abs(diffs) >= abs(T) - 1e-12), abs=1e-15)


def test_randomization_timing_with_build_and_random_draws():
    rng = np.random.default_rng(2)
    G, T = 12, 6
    unit = np.repeat(np.arange(G), T)
    year = np.tile(np.arange(T), G)
    adopt = np.array([2, 3, 4, 99, 99, 99, 2, 3, 99, 4, 99, 99])[unit]
    df = pd.DataFrame({"unit": unit, "year": year, "adopt": adopt})
    df["y"] = -0.5 * (df["year"] >= df["adopt"]) + rng.normal(size=G * T)

    def build(d):
        return d.assign(d=(d["year"] >= d["adopt"]).astype(float))

    kw = dict(assignment="adopt", unit="unit", build=build, B=199, seed=3,
              fit_options={"cluster": "unit"})
    res = randomization_inference("y ~ d | unit + year", df, "d", **kw)
    dg = res.diagnostics
    assert not dg["enumerated"] and dg["draws"] == 199
    assert dg["p_value"] == pytest.approx((1 + dg["count"]) / 200)
    again = randomization_inference("y ~ d | unit + year", df, "d", **kw)
    np.testing.assert_array_equal(again.diagnostics["permutation_stats"], dg["permutation_stats"])
    with pytest.raises(InputError):
        randomization_inference("y ~ d | unit + year", build(df), "d", assignment="year",
                                unit="unit")


def test_randomization_docstring_examples_run():
    out = doctest.testmod(ri_module, raise_on_error=False)
    assert out.attempted > 0 and out.failed == 0
