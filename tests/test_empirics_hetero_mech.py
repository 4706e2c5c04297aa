"""Instruments, the mechanism model and heterogeneity tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics import heterogeneity, instruments, mechanism
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.fe import fit


def make(N=40, T=6, seed=0, gap_effect=0.0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"city": np.repeat(np.arange(N), T), "year": np.tile(np.arange(2010, 2010 + T), N)})
    df["prov"] = df["city"] % 5
    df["east"] = (df["city"] < N // 2).astype(int)
    a = rng.normal(size=N)[df["city"]]
    df["robot"] = rng.gamma(2.0, 1.0, len(df)) + 0.3 * a
    df["m"] = rng.uniform(0, 1, len(df))
    df["c1"] = rng.normal(size=len(df))
    eff = -0.5 + gap_effect * df["east"]
    df["y"] = eff * df["robot"] + 0.2 * df["m"] - 0.4 * df["robot"] * df["m"] + 0.3 * df["c1"] + a \
        + rng.normal(0, 1 + 0.3 * df["robot"], len(df))
    return df


def test_leave_one_out_mean_by_hand():
    df = pd.DataFrame({"prov": [1, 1, 1, 2, 2, 3], "year": [1, 1, 1, 1, 1, 1], "x": [1.0, 2.0, 6.0, 3.0, np.nan, 5.0]})
    z = instruments.leave_one_out_mean(df, "x", group="prov", time="year")
    np.testing.assert_allclose(z[:3], [4.0, 3.5, 1.5])
    assert z[3] != z[3] and z[4] == 3.0 and np.isnan(z[5])  # alone / only missing others: NaN


def test_lag_times_difference_and_external_series():
    df = pd.DataFrame({"id": [1, 1, 1, 2, 2], "t": [1, 2, 4, 1, 2], "x": [1.0, 3.0, 4.0, 2.0, 5.0]})
    z = instruments.lag_times_difference(df, "x", entity="id", time="t")
    assert np.isnan(z[0]) and z[1] == 1.0 * 2.0 and np.isnan(z[2]) and z[4] == 2.0 * 3.0
    us = pd.Series([10.0, 20.0, 30.0, 40.0], index=[1, 2, 3, 4])
    np.testing.assert_allclose(instruments.external_series(df, us, time="t"), [10, 20, 40, 10, 20])
    shares = pd.DataFrame({"auto": [0.5, 0.1], "elec": [0.2, 0.6]}, index=[1, 2])
    shocks = pd.DataFrame({"auto": [1.0, 2.0, 3.0, 4.0], "elec": [10.0, 10.0, 10.0, 20.0]}, index=[1, 2, 3, 4])
    got = instruments.external_series(df, shocks, time="t", entity="id", shares=shares)
    np.testing.assert_allclose(got, [0.5 + 2, 1 + 2, 2 + 4, 0.1 + 6, 0.2 + 6])
    with pytest.raises(InputError, match="periods"):
        instruments.external_series(df, us.drop(4), time="t")


def test_lewbel_instruments_are_centered_z_times_residual():
    df = make()
    gen = instruments.lewbel(df, "robot", ["c1", "m"], fixed_effects=["city", "year"])
    r = fit("robot ~ c1 + m | city + year", df, cluster="city")
    # residual by hand
    from robocarbon.empirics.linalg import demean

    M, _ = demean(df[["robot", "c1", "m"]].to_numpy(), [pd.factorize(df.city)[0], pd.factorize(df.year)[0]])
    e = M[:, 0] - M[:, 1:] @ r.params
    np.testing.assert_allclose(gen["lewbel_c1"], (df["c1"] - df["c1"].mean()) * e, rtol=1e-9, atol=1e-12)
    df = pd.concat([df, gen], axis=1)
    iv = fit("y ~ c1 + m | city + year | robot ~ lewbel_c1 + lewbel_m", df, cluster="city")
    assert "weak_iv" in iv.diagnostics and iv.diagnostics["overid"]["df"] == 1


def test_mechanism_marginal_effect_delta_method():
    df = make()
    res = mechanism.fit_mechanism(df, outcome="y", treatment="robot", moderator="m", controls=["c1"],
                                  fixed_effects=["city", "year"], cluster="city", grid=[0.0, 0.5, 1.0])
    assert list(res.terms[:3]) == ["robot", "m", "robot:m"]
    me = pd.DataFrame(list(map(dict, res.diagnostics["marginal_effect"])))
    b, V = res.params, res.cov
    for _, row in me.iterrows():
        mv = row["moderator"]
        g = np.array([1.0, 0.0, mv, 0.0])
        np.testing.assert_allclose(row["effect"], g @ b)
        np.testing.assert_allclose(row["std_error"], np.sqrt(g @ V @ g))
    # at m = 0 the marginal effect is the main effect with its own SE
    np.testing.assert_allclose(me["std_error"][0], res.std_errors["robot"])


def test_marginal_effect_plot(tmp_path):
    from robocarbon.reports.figures_empirics import plot_marginal_effect

    df = make()
    res = mechanism.fit_mechanism(df, outcome="y", treatment="robot", moderator="m",
                                  fixed_effects=["city", "year"], cluster="city")
    out = plot_marginal_effect(res, tmp_path / "me.png")
    assert out.exists() and out.stat().st_size > 1000


def test_heterogeneity_three_tests():
    df = make(gap_effect=0.8, seed=2)
    out = heterogeneity.compare_groups("y ~ robot + c1 | city + year", df, by="east", term="robot",
                                       entity="city", permutations=39, seed=5)
    split = out["split"]
    diff = split["1"]["estimate"] - split["0"]["estimate"]
    # the fully interacted pooled regression reproduces the split-sample difference exactly
    np.testing.assert_allclose(out["chow"]["estimate"], diff, rtol=1e-9)
    # SUEST: groups are entity-level and clusters are entities, so no cross-covariance; the
    # variance of the difference is the sum of the CR0 split variances times G/(G-1)
    ra = fit("y ~ robot + c1 | city + year", df[df.east == 0].reset_index(drop=True), cluster="city", ssc="none")
    rb = fit("y ~ robot + c1 | city + year", df[df.east == 1].reset_index(drop=True), cluster="city", ssc="none")
    G = df.city.nunique()
    np.testing.assert_allclose(out["suest"]["std_error"] ** 2,
                               (ra.std_errors["robot"] ** 2 + rb.std_errors["robot"] ** 2) * G / (G - 1), rtol=1e-9)
    assert out["suest"]["covariance_ab"] == pytest.approx(0.0, abs=1e-15)
    for k in ("chow", "suest", "permutation"):
        assert 0 < out[k]["p_value"] <= 1
    assert out["chow"]["p_value"] < 0.05 and out["suest"]["p_value"] < 0.05
    assert out["permutation"]["p_value"] <= 2 / 40
    again = heterogeneity.compare_groups("y ~ robot + c1 | city + year", df, by="east", term="robot",
                                         entity="city", permutations=39, seed=5)
    assert again["permutation"]["p_value"] == out["permutation"]["p_value"]
    tab = heterogeneity.heterogeneity_table(out)
    assert list(tab["test"]) == ["chow", "suest", "permutation"]


def test_heterogeneity_rejects_time_varying_groups():
    df = make()
    df["grp"] = (df["year"] > 2012).astype(int)
    with pytest.raises(InputError, match="within entities"):
        heterogeneity.compare_groups("y ~ robot | city + year", df, by="grp", term="robot", entity="city",
                                     permutations=5)


def test_permutation_fast_path_equals_fit():
    """The permutation test's array path: the same permuted statistics as refitting with fe.fit."""
    df = make(seed=4)
    formula = "y ~ robot + c1 | city + year"
    out = heterogeneity.compare_groups(formula, df, by="east", term="robot", entity="city",
                                       permutations=6, seed=11)
    rng = np.random.default_rng(11)
    ents = df.drop_duplicates("city")
    pos = pd.Index(ents["city"].to_numpy()).get_indexer(df["city"].to_numpy())
    slow = []
    for _ in range(6):
        g = rng.permutation(ents["east"].to_numpy())[pos]
        rb = fit(formula, df[g == 1].reset_index(drop=True), cluster="city")
        ra = fit(formula, df[g == 0].reset_index(drop=True), cluster="city")
        slow.append(rb.coefficients["robot"] - ra.coefficients["robot"])
    slow = np.array(slow)
    p = (1 + np.sum(np.abs(slow) >= abs(out["difference"]) - 1e-12)) / 7
    assert out["permutation"]["p_value"] == p
