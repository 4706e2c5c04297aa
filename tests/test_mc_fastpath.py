"""The Monte Carlo fast paths equal the general estimators (to 1e-10) and exact identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics import fe
from robocarbon.empirics.errors import InputError
from robocarbon.simulate import estimators as E
from robocarbon.simulate.fastpath import (
    iv2sls_cluster,
    leave_one_out_mean,
    panel_layout,
    twfe_cluster,
)

TOL = 1e-10


def _panel(seed=0, G=30, T=7, drop=0, shuffle=False):
    rng = np.random.default_rng(seed)
    ent = np.repeat(np.arange(G), T)
    tim = np.tile(np.arange(T), G)
    a, lam = rng.normal(size=G), rng.normal(size=T)
    z = rng.normal(size=G * T) + 0.5 * a[ent]
    u = rng.normal(size=G * T)
    x = 0.8 * z + a[ent] + lam[tim] + 0.5 * u + rng.normal(size=G * T)
    w1, w2 = rng.normal(size=G * T), rng.gamma(2.0, size=G * T) + 0.1 * tim
    y = -0.3 * x + 0.4 * w1 - 0.2 * w2 + 2 * a[ent] + lam[tim] + u
    df = pd.DataFrame({"city": ent, "year": 2000 + tim, "prov": ent // 5, "y": y, "x": x,
                       "w1": w1, "w2": w2, "z": z})
    if drop:
        df = df.drop(index=rng.choice(len(df), size=drop, replace=False))
    if shuffle:
        df = df.sample(frac=1.0, random_state=seed)
    return df.reset_index(drop=True)


def _codes(s):
    return np.unique(s.to_numpy(), return_inverse=True)[1].astype(np.int64).ravel()


@pytest.mark.parametrize("case", ["grid", "shuffled", "unbalanced"])
def test_twfe_fast_equals_general_fit(case):
    df = _panel(seed=3, drop=17 if case == "unbalanced" else 0, shuffle=case == "shuffled")
    e, t = _codes(df["city"]), _codes(df["year"])
    assert panel_layout(e, t).kind == {"grid": "grid", "shuffled": "balanced",
                                       "unbalanced": "unbalanced"}[case]
    fast = twfe_cluster(df["y"], df[["x", "w1", "w2"]].to_numpy(), e, t, names=["x", "w1", "w2"])
    gen = fe.fit("y ~ x + w1 + w2 | city + year", df, entity="city", time="year", cluster="city")
    assert fast.terms == gen.terms
    np.testing.assert_allclose(fast.params, gen.params, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(fast.cov, gen.cov, rtol=TOL, atol=TOL * 1e-2)
    assert fast.df_resid == gen.df_resid
    tf, tg = fast.tidy(), gen.tidy()
    for col in ("p_value", "conf_low", "conf_high"):
        np.testing.assert_allclose(tf[col], tg[col], rtol=1e-9, atol=1e-12)
    # B's numpy fast entry agrees too
    beta, se = fe.twfe_fast(df["y"].to_numpy(), df[["x", "w1", "w2"]].to_numpy(), e, t)
    np.testing.assert_allclose(fast.params, beta, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(fast.std_errors.to_numpy(), se, rtol=TOL, atol=TOL)


def test_twfe_fast_other_cluster_equals_general_fit():
    df = _panel(seed=4)
    e, t, p = _codes(df["city"]), _codes(df["year"]), _codes(df["prov"])
    fast = twfe_cluster(df["y"], df[["x", "w1"]].to_numpy(), e, t, cluster=p, names=["x", "w1"])
    gen = fe.fit("y ~ x + w1 | city + year", df, entity="city", time="year", cluster="prov")
    np.testing.assert_allclose(fast.params, gen.params, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(fast.cov, gen.cov, rtol=TOL, atol=TOL * 1e-2)
    assert fast.df_resid == gen.df_resid == 5


def test_twfe_fast_is_dummy_variable_least_squares():
    """Frisch-Waugh-Lovell: the within slope equals least squares with city and year dummies,
    and the CR1 covariance equals the sandwich of the dummy regression's scores."""
    df = _panel(seed=5, G=12, T=5, drop=6)
    e, t = _codes(df["city"]), _codes(df["year"])
    X = df[["x", "w1"]].to_numpy()
    D = np.column_stack([X, np.eye(e.max() + 1)[e], np.eye(t.max() + 1)[t][:, 1:]])
    b, *_ = np.linalg.lstsq(D, df["y"].to_numpy(), rcond=None)
    u = df["y"].to_numpy() - D @ b
    fast = twfe_cluster(df["y"], X, e, t)
    np.testing.assert_allclose(fast.params, b[:2], rtol=TOL, atol=TOL)
    n, G, T = len(df), e.max() + 1, t.max() + 1
    XtXi = np.linalg.inv(D.T @ D)
    S = np.zeros((G, D.shape[1]))
    np.add.at(S, e, D * u[:, None])
    V = XtXi @ (S.T @ S) @ XtXi * (n - 1) / (n - (2 + T)) * G / (G - 1)
    np.testing.assert_allclose(fast.cov, V[:2, :2], rtol=1e-8)


def test_iv_fast_equals_general_fit():
    df = _panel(seed=6)
    e, t = _codes(df["city"]), _codes(df["year"])
    fast = iv2sls_cluster(df["y"], df[["w1", "w2"]].to_numpy(), df["x"], df["z"], e, t,
                          exog_names=["w1", "w2"], endog_names=["x"], instrument_names=["z"])
    gen = fe.fit("y ~ w1 + w2 | city + year | x ~ z", df, entity="city", time="year",
                 cluster="city")
    order = [gen.terms.index(term) for term in fast.terms]
    np.testing.assert_allclose(fast.params, gen.params[order], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(fast.cov, gen.cov[np.ix_(order, order)], rtol=TOL, atol=TOL * 1e-2)
    # the first-stage F with one instrument is the squared cluster-robust t of z
    fs = fe.fit("x ~ z + w1 + w2 | city + year", df, entity="city", time="year", cluster="city")
    t_z = fs.params[fs.terms.index("z")] / fs.std_errors["z"]
    assert fast.diagnostics["first_stage_f"]["x"] == pytest.approx(t_z**2, rel=1e-10)


def test_iv_with_instrument_equal_to_regressor_is_ols():
    df = _panel(seed=7)
    e, t = _codes(df["city"]), _codes(df["year"])
    ivr = iv2sls_cluster(df["y"], df[["w1"]].to_numpy(), df["x"], df["x"], e, t,
                         exog_names=["w1"], endog_names=["x"])
    ols = twfe_cluster(df["y"], df[["x", "w1"]].to_numpy(), e, t, names=["x", "w1"])
    np.testing.assert_allclose(ivr.params, ols.params, rtol=TOL)
    np.testing.assert_allclose(ivr.cov, ols.cov, rtol=1e-9)


def test_leave_one_out_mean_by_hand():
    x = np.array([1.0, 2.0, 4.0, 10.0, 3.0, 5.0])
    g = np.array([0, 0, 0, 1, 0, 0])
    t = np.array([0, 0, 0, 0, 1, 1])
    out = leave_one_out_mean(x, g, t)
    np.testing.assert_allclose(out[:3], [3.0, 2.5, 1.5])
    assert np.isnan(out[3])
    np.testing.assert_allclose(out[4:], [5.0, 3.0])


def test_collinear_regressor_is_named():
    df = _panel(seed=8)
    e, t = _codes(df["city"]), _codes(df["year"])
    X = np.column_stack([df["x"], df["w1"], df["x"] + 2 * df["w1"]])
    with pytest.raises(InputError, match="collinear") as err:  # any member of the set x, w1, bad
        twfe_cluster(df["y"], X, e, t, names=["x", "w1", "bad"])
    assert any(f"'{n}'" in str(err.value) for n in ("x", "w1", "bad"))
    with pytest.raises(InputError, match="tconst"):
        twfe_cluster(df["y"], np.column_stack([df["x"], t * 1.0]), e, t, names=["x", "tconst"])


def test_registry_fast_paths_equal_general_on_a_draw():
    """The registry's twfe and iv (fast paths on a Draw) equal the formula estimators of
    robocarbon.empirics.fe on the draw's panel, including the rows dropped for a missing
    leave-one-out instrument (cities alone in their province)."""
    from test_mc_engine import ToyDesign

    draw = ToyDesign().with_params(cities=42, years=5).draw(np.random.default_rng(42))
    draw.panel.loc[draw.panel["city"] >= 40, "province"] = 99 + draw.panel["city"]  # singletons
    a, b = E.twfe(draw), E.twfe_general(draw)
    assert a.terms == b.terms == ("robot", "edu")
    np.testing.assert_allclose(a.params, b.params, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(a.cov, b.cov, rtol=TOL, atol=TOL * 1e-2)
    a, b = E.iv(draw), E.iv_general(draw)
    order = [b.terms.index(term) for term in a.terms]
    np.testing.assert_allclose(a.params, b.params[order], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(a.cov, b.cov[np.ix_(order, order)], rtol=TOL, atol=TOL * 1e-2)
    assert a.nobs == b.nobs == 40 * 5 and a.nobs_dropped == 2 * 5


def test_did_fast_equals_general_fit_and_did_module():
    """The registry's TWFE DID (fast path, D from adopt_year) equals empirics.fe.fit on D to
    1e-10, and empirics.did.twfe_did in estimates and covariance (both count K = k + T, the
    fixest/reghdfe convention with the nested entity effects counting one)."""
    from test_mc_engine import ToyDesign

    draw = ToyDesign().with_params(cities=24, years=6).draw(np.random.default_rng(3))
    a = E.did(draw)
    panel = draw.panel.assign(D=E.did_dummy(draw))
    g = fe.fit("lnindco ~ D + edu | city + year", panel, entity="city", time="year",
               cluster="city")
    assert a.terms == g.terms == ("D", "edu")
    np.testing.assert_allclose(a.params, g.params, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(a.cov, g.cov, rtol=TOL, atol=TOL * 1e-2)
    c = E.did_general(draw)
    np.testing.assert_allclose(a.params, c.params, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(a.cov, c.cov, rtol=1e-10)


@pytest.mark.parametrize("bad", ["nan_y", "inf_x", "neg_inf_y"])
@pytest.mark.parametrize("case", ["grid", "shuffled"])
def test_nonfinite_input_is_refused(bad, case):
    """The grid path checks finiteness through the cross products (a NaN or inf in any input
    reaches them); the error is the same as the explicit scan of the other layouts."""
    df = _panel(seed=9, shuffle=case == "shuffled")
    e, t = _codes(df["city"]), _codes(df["year"])
    y, X = df["y"].to_numpy().copy(), df[["x", "w1"]].to_numpy().copy()
    if bad == "nan_y":
        y[17] = np.nan
    elif bad == "inf_x":
        X[5, 1] = np.inf
    else:
        y[0] = -np.inf
    with pytest.raises(InputError, match="non-finite values in y or X"):
        twfe_cluster(y, X, e, t, names=["x", "w1"])


def test_twfe_grid_path_equals_balanced_path():
    """The grid kernels (entity sums by matrix products, time deviations along rows) give the
    numbers of the order-free balanced transform on the same rows, for one and many columns."""
    from robocarbon.simulate.fastpath import within

    df = _panel(seed=10, G=23, T=9)
    e, t = _codes(df["city"]), _codes(df["year"])
    X = df[["x", "w1", "w2"]].to_numpy()
    grid = panel_layout(e, t)
    assert grid.kind == "grid"
    flat = panel_layout(e, t)
    flat = type(flat)("balanced", flat.entity, flat.time, flat.n_entity, flat.n_time)
    np.testing.assert_allclose(within(X, grid), within(X, flat), rtol=0, atol=1e-13)
    a = twfe_cluster(df["y"], X, e, t, layout=grid)
    b = twfe_cluster(df["y"], X, e, t, layout=flat)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-11)
    assert a.r2_within == pytest.approx(b.r2_within, rel=1e-12)


def test_layout_carried_by_the_draw_is_used():
    """A draw whose arrays carry a precomputed PanelLayout (shared across the design's draws)
    is fitted on that layout; without one the layout comes from the codes; same numbers."""
    from test_mc_engine import ToyDesign

    base = ToyDesign().with_params(cities=30, years=6).draw(np.random.default_rng(5))
    ent, tim = base.arrays["entity"], base.arrays["time"]
    shared = panel_layout(ent, tim)
    with_layout = type(base)(base.panel, base.truth, {**base.arrays, "layout": shared})
    assert E._layout(with_layout) is shared
    assert E._layout(base) is not shared and E._layout(base).kind == "grid"
    a, b = E.twfe(with_layout), E.twfe(base)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.cov, b.cov)
    # the layout is read, never rebuilt: a second draw reuses the same object
    other = ToyDesign().with_params(cities=30, years=6).draw(np.random.default_rng(6))
    other = type(other)(other.panel, other.truth, {**other.arrays, "layout": shared})
    assert E._layout(other) is shared
    np.testing.assert_allclose(E.twfe(other).params, E.twfe_general(other).params, rtol=TOL)


@pytest.mark.parametrize("seed,G,T,cols", [(11, 30, 7, ["x", "w1", "w2"]), (12, 9, 13, ["x"]),
                                           (13, 50, 3, ["w2", "x"])])
def test_compiled_grid_route_equals_numpy_route(monkeypatch, seed, G, T, cols):
    """The compiled grid route (within pass, Cholesky bread, residual/score/sandwich pass)
    gives the numbers of the numpy route (and of the other layouts) to rounding."""
    import robocarbon.simulate.fastpath as fp

    assert fp._USE_COMPILED, "numba is a dependency: the compiled route must be on"
    df = _panel(seed=seed, G=G, T=T)
    e, t = _codes(df["city"]), _codes(df["year"])
    X = df[cols].to_numpy()
    a = twfe_cluster(df["y"], X, e, t, names=cols)
    monkeypatch.setattr(fp, "_USE_COMPILED", False)
    b = twfe_cluster(df["y"], X, e, t, names=cols)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-11, atol=1e-16)
    assert a.r2_within == pytest.approx(b.r2_within, rel=1e-12)
    # the Cholesky bread equals the LAPACK one; an ill-conditioned matrix is handed back
    A = (X - X.mean(0)).T @ (X - X.mean(0))
    mine = np.empty_like(A)
    assert fp._chol_bread(A, mine) == 0
    np.testing.assert_allclose(mine, fp._bread_from_gram(A, X, cols)[0], rtol=1e-12)
    if len(cols) > 1:
        near = np.column_stack([X, X[:, 0] + 1e-9 * X[:, 1]])
        An = (near - near.mean(0)).T @ (near - near.mean(0))
        assert fp._chol_bread(An, np.empty_like(An)) in (2, 3)


def test_fast_result_equals_the_constructor():
    """The fast path's Result (Result.adopt: arrays frozen in place) equals Result(...) field
    by field: the same types, read-only arrays, frozen mappings; tidy() and to_dict() agree."""
    import dataclasses

    from robocarbon.empirics.result import Result

    df = _panel(seed=14)
    e, t = _codes(df["city"]), _codes(df["year"])
    fast = twfe_cluster(df["y"], df[["x", "w1"]].to_numpy(), e, t, names=["x", "w1"])
    ref = Result(terms=fast.terms, params=fast.params, cov=fast.cov, nobs=fast.nobs,
                 df_resid=fast.df_resid, cov_type="cluster", estimator="twfe",
                 r2_within=fast.r2_within, spec={"fixed_effects": ["entity", "time"],
                                                 "path": "fast"})
    for f in dataclasses.fields(Result):
        a, b = getattr(fast, f.name), getattr(ref, f.name)
        assert type(a) is type(b), f.name
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b) and not a.flags.writeable, f.name
        else:
            assert a == b, f.name
    pd.testing.assert_frame_equal(fast.tidy(), ref.tidy())
    assert fast.to_dict() == ref.to_dict()
    with pytest.raises(ValueError):
        fast.params[0] = 1.0


def test_paper_draw_columns_from_arrays_equal_the_panel():
    """column() reads the outcome and the controls from Draw.arrays (y, X by X_names) without
    building the lazy panel; the values are the panel's, and the DID fit equals the one on the
    panel's columns."""
    from robocarbon.simulate.design import get_design

    draw = get_design("paper").draw(np.random.default_rng(3))
    cols = [E.OUTCOME, *E.CONTROLS, E.TREATMENT]
    got = {c: E.column(draw, c) for c in cols}
    res = E.did(draw)
    if hasattr(draw, "panel_built"):
        assert not draw.panel_built
    for c in cols:
        np.testing.assert_array_equal(got[c], draw.panel[c].to_numpy(dtype=float))
    ref = fe.fit("lnindco ~ D + " + " + ".join(E._present_controls(draw)) + " | city + year",
                 draw.panel.assign(D=E.did_dummy(draw)), entity="city", time="year",
                 cluster="city")
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-9, atol=1e-12)
