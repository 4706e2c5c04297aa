"""Bartik exposure (21): exact identities, DataFrame/numpy agreement, and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from robocarbon.empirics.bartik import bartik, base_shares, robot_shocks
from robocarbon.empirics.errors import InputError


def _raw(seed=0, n_city=5, n_ind=4, years=(2004, 2007, 2008)):
    rng = np.random.default_rng(seed)
    emp = pd.DataFrame(
        [(f"c{i}", f"j{j}", 2004, float(rng.integers(1, 100))) for i in range(n_city)
         for j in range(n_ind)], columns=["city", "industry", "year", "employment"])
    rob = pd.DataFrame([(f"j{j}", t, float(rng.integers(0, 500))) for j in range(n_ind)
                        for t in years], columns=["industry", "year", "robots"])
    return emp, rob


def test_equation_21_by_explicit_loop():
    emp, rob = _raw()
    S = base_shares(emp, 2004)
    G = robot_shocks(rob, emp, 2004)
    got = bartik(S, G)
    # the printed formula, term by term
    lab_i = emp.groupby("city").employment.sum()
    lab_j = emp.groupby("industry").employment.sum()
    for c in got.index:
        for t in got.columns:
            want = 0.0
            for _, r in emp[emp.city == c].iterrows():
                R = rob[(rob.industry == r.industry) & (rob.year == t)].robots.iloc[0]
                want += r.employment / lab_i[c] * R / lab_j[r.industry]
            assert got.loc[c, t] == pytest.approx(want, rel=1e-12)


def test_numpy_wide_long_forms_agree_and_industries_matched_by_label():
    emp, rob = _raw(1)
    S = base_shares(emp, 2004)
    G = robot_shocks(rob, emp, 2004)
    wide = bartik(S, G.iloc[::-1])  # shuffled industry order must not matter
    arr = bartik(S.to_numpy(), G.loc[S.columns].to_numpy())
    np.testing.assert_allclose(wide.to_numpy(), arr, rtol=1e-13)
    Sl = S.stack().rename("share").rename_axis(["city", "industry"]).reset_index()
    Gl = G.stack().rename("shock").rename_axis(["industry", "year"]).reset_index()
    long = bartik(Sl, Gl)
    assert list(long.columns) == ["city", "year", "robot"]
    np.testing.assert_allclose(long.set_index(["city", "year"]).robot.unstack().to_numpy(), arr)
    one = bartik(S, G[2007])
    np.testing.assert_allclose(one.to_numpy(), arr[:, 1])


@settings(max_examples=40, deadline=None)
@given(arrays(float, (6, 3), elements=st.floats(0, 1)), st.floats(-5, 5),
       arrays(float, (3, 2), elements=st.floats(-10, 10)), st.floats(-3, 3))
def test_identities(raw, c, G, lam):
    S = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1.0)  # incomplete rows allowed
    # a common shock c gives exposure c times the covered share
    np.testing.assert_allclose(bartik(S, np.full((3, 2), c)), np.outer(S.sum(1), [c, c]), atol=1e-12)
    # linear in the shocks
    np.testing.assert_allclose(bartik(S, lam * G), lam * bartik(S, G), atol=1e-9)


def test_base_year_any_and_missing():
    emp, rob = _raw(2)
    emp2 = pd.concat([emp, emp.assign(year=2010, employment=emp.employment * 2.0)])
    np.testing.assert_allclose(base_shares(emp2, 2010).to_numpy(), base_shares(emp2, 2004).to_numpy())
    with pytest.raises(InputError, match="base year 1999 not found"):
        base_shares(emp2, 1999)
    with pytest.raises(InputError, match="give base_year"):
        base_shares(emp2)


def test_incomplete_shares_with_city_total():
    emp, rob = _raw(3)
    tot = emp.groupby("city").employment.sum() * 2
    S = base_shares(emp, 2004, city_total=tot)
    np.testing.assert_allclose(S.sum(axis=1), 0.5)
    full = bartik(base_shares(emp, 2004), robot_shocks(rob, emp, 2004))
    np.testing.assert_allclose(bartik(S, robot_shocks(rob, emp, 2004)), full / 2)
    with pytest.raises(InputError, match="do not sum to one"):
        bartik(S, robot_shocks(rob, emp, 2004), allow_incomplete=False)


def test_errors():
    S = np.array([[0.5, 0.6], [0.2, 0.2]])
    with pytest.raises(InputError, match="sum to more than one"):
        bartik(S, np.ones((2, 1)))
    with pytest.raises(InputError, match="above one"):
        bartik(np.array([[1.5, 0.0]]), np.ones((2, 1)))
    with pytest.raises(InputError, match="non-negative"):
        bartik(np.array([[-0.1, 0.0]]), np.ones((2, 1)))
    with pytest.raises(InputError, match="one row per industry"):
        bartik(np.array([[0.1, 0.2]]), np.ones((3, 1)))
    Sdf = pd.DataFrame([[0.3, 0.2]], index=["a"], columns=["x", "y"])
    with pytest.raises(InputError, match="have no shock"):
        bartik(Sdf, pd.DataFrame({2007: [1.0]}, index=["x"]))
    # an industry absent from the shocks but with zero shares is harmless
    Sdf0 = pd.DataFrame([[0.3, 0.0]], index=["a"], columns=["x", "y"])
    assert bartik(Sdf0, pd.DataFrame({2007: [2.0]}, index=["x"])).loc["a", 2007] == pytest.approx(0.6)
    emp, rob = _raw()
    with pytest.raises(InputError, match="non-negative"):
        base_shares(emp.assign(employment=-emp.employment), 2004)
    with pytest.raises(InputError, match="non-negative"):
        robot_shocks(rob.assign(robots=-1.0), emp, 2004)
    with pytest.raises(InputError, match="no base-year employment"):
        robot_shocks(pd.concat([rob, pd.DataFrame([("jX", 2007, 5.0)], columns=rob.columns)]), emp, 2004)
