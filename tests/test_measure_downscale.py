"""Downscaling (19)-(20): the province regression against an independent dummy-variable fit,
exact adding-up, the options, and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics.downscale import allocate, downscale, light_relation
from robocarbon.empirics.errors import InputError


def _panel(seed=0, n_prov=6, years=range(2005, 2012), unbalanced=False):
    rng = np.random.default_rng(seed)
    prows, crows = [], []
    for k in range(n_prov):
        ncity = int(rng.integers(2, 6))
        for t in years:
            if unbalanced and (k + t) % 5 == 0:
                continue
            cl = rng.gamma(2, 1, ncity) * (1 + 0.05 * (t - 2005))
            crows += [dict(city=f"c{k}_{i}", province=f"p{k}", year=t, light=v) for i, v in enumerate(cl)]
            L = cl.sum() * 1.2
            prows.append(dict(province=f"p{k}", year=t, light=L, co2=3 * L + k + 0.5 * (t - 2005) + rng.normal()))
    return pd.DataFrame(prows), pd.DataFrame(crows)


@pytest.mark.parametrize("unbalanced", [False, True])
@pytest.mark.parametrize("form", ["levels", "logs"])
def test_slope_equals_dummy_variable_ols(form, unbalanced):
    P, _ = _panel(unbalanced=unbalanced)
    fit, prov_fx, year_fx = light_relation(P, form=form)
    y, x = P.co2.to_numpy(), P.light.to_numpy()
    if form == "logs":
        y, x = np.log(y), np.log(x)
    D = np.column_stack([x, pd.get_dummies(P.province).to_numpy(float),
                         pd.get_dummies(P.year, drop_first=True).to_numpy(float)])
    b = np.linalg.lstsq(D, y, rcond=None)[0]
    assert fit.params[0] == pytest.approx(b[0], rel=1e-9)
    # the fixed effects reproduce the fitted values of the dummy regression
    fitted = fit.params[0] * x + prov_fx.reindex(P.province).to_numpy() + year_fx.reindex(P.year).to_numpy()
    np.testing.assert_allclose(fitted, D @ b, rtol=1e-9, atol=1e-9)
    assert abs(year_fx.mean()) < 1e-10


def test_slope_se_is_cr1_of_the_dummy_variable_regression():
    P, _ = _panel(seed=4, n_prov=10)
    fit, _, _ = light_relation(P)
    D = np.column_stack([P.light, pd.get_dummies(P.province).to_numpy(float),
                         pd.get_dummies(P.year, drop_first=True).to_numpy(float)])
    b, *_ = np.linalg.lstsq(D, P.co2.to_numpy(), rcond=None)
    u = P.co2.to_numpy() - D @ b
    bread = np.linalg.pinv(D.T @ D)
    meat = sum(np.outer(D[m].T @ u[m], D[m].T @ u[m]) for m in (P.province == p for p in P.province.unique()))
    n, G, T = len(P), P.province.nunique(), P.year.nunique()
    # CR1 with the fixest convention: province effects are nested in the clusters, not counted
    V = (bread @ meat @ bread) * G / (G - 1) * (n - 1) / (n - (1 + T - 1))
    assert fit.std_errors.iloc[0] == pytest.approx(np.sqrt(V[0, 0]), rel=1e-8)
    assert fit.df_resid == G - 1


@pytest.mark.parametrize("form", ["levels", "logs"])
@pytest.mark.parametrize("fe", [False, True])
def test_cities_sum_exactly_to_province(form, fe):
    P, C = _panel(1)
    d = downscale(P, C, form=form, fixed_effects=fe)
    s = d.cities.groupby(["province", "year"]).co2.sum()
    np.testing.assert_allclose(s.to_numpy(), P.set_index(["province", "year"]).co2.reindex(s.index), rtol=1e-13)
    assert (d.cities.share >= 0).all()


def test_default_is_light_share_and_logs_use_elasticity():
    P, C = _panel(2)
    d = downscale(P, C)
    light_share = C.light / C.groupby(["province", "year"]).light.transform("sum")
    np.testing.assert_allclose(d.cities.share, light_share, rtol=1e-12)
    dl = downscale(P, C, form="logs")
    a = dl.fit.params[0]
    w = C.light**a
    np.testing.assert_allclose(dl.cities.share, w / w.groupby([C.province, C.year]).transform("sum"), rtol=1e-12)
    # in logs the fixed effects cancel from the shares
    np.testing.assert_allclose(downscale(P, C, form="logs", fixed_effects=True).cities.share, dl.cities.share)
    # a given slope overrides the estimate
    assert downscale(P, C, form="logs", a=1.0).cities.share.to_numpy() == pytest.approx(light_share.to_numpy())


def test_province_denominator_and_missing_total_reported():
    P, C = _panel(3)
    d = downscale(P, C, denominator="province")
    ratio = d.cities.groupby(["province", "year"]).co2.sum() / P.set_index(["province", "year"]).co2
    np.testing.assert_allclose(ratio.dropna(), 1 / 1.2, rtol=1e-12)  # cities cover 1/1.2 of the light
    C2 = pd.concat([C, pd.DataFrame([dict(city="zz", province="pX", year=2006, light=1.0)])])
    d2 = downscale(P, C2)
    assert d2.dropped and d2.dropped[0]["rows"] == 1 and np.isnan(d2.cities.co2.iloc[-1])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.01, 100), min_size=2, max_size=12), st.floats(0.2, 2.0), st.floats(1, 1e4))
def test_allocate_adds_up(lights, a, total):
    g = np.arange(len(lights)) % 2
    for form in ("levels", "logs"):
        v, s = allocate(np.array([total, 2 * total]), np.array(lights), g, a, form=form)
        assert v[g == 0].sum() == pytest.approx(total, rel=1e-12)
        assert v[g == 1].sum() == pytest.approx(2 * total, rel=1e-12)


def test_errors():
    P, C = _panel()
    with pytest.raises(InputError, match="more than one province"):
        downscale(P, pd.concat([C, C.iloc[:1].assign(province="p9", year=1999)]))
    with pytest.raises(InputError, match="duplicate city-year"):
        downscale(P, pd.concat([C, C.iloc[:1]]))
    with pytest.raises(InputError, match="negative"):
        downscale(P.assign(co2=-P.co2), C)
    with pytest.raises(InputError, match="form must be"):
        downscale(P, C, form="sqrt")
    with pytest.raises(InputError, match="lacks column"):
        downscale(P.drop(columns="light"), C)
