"""Human-machine matching (23) and the controls: exact identities and units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.variables import controls, hmatch, minmax


@settings(max_examples=50, deadline=None)
@given(arrays(float, 12, elements=st.floats(0, 1e3)), arrays(float, 12, elements=st.floats(0, 1e3)))
def test_hmatch_identities(r, h):
    out = hmatch(r, h)
    rs, hs = minmax(r), minmax(h)
    # sqrt(U V) with U = 2 sqrt(rh)/(r+h), V = (r+h)/2 is (r h)^(1/4)
    np.testing.assert_allclose(out, (rs * hs) ** 0.25, atol=1e-12)
    assert ((out >= 0) & (out <= 1)).all()


def test_hmatch_by_formula_and_scaling():
    r = np.array([0.0, 2.0, 4.0, 10.0])
    h = np.array([5.0, 1.0, 3.0, 9.0])
    rs = (r - 0) / 10
    hs = (h - 1) / 8
    U = np.where(rs + hs > 0, 2 * np.sqrt(rs * hs) / (rs + hs), 0)
    V = 0.5 * rs + 0.5 * hs
    np.testing.assert_allclose(hmatch(r, h), np.sqrt(U * V))
    assert hmatch(r, h)[3] == pytest.approx(1.0) and hmatch(r, h)[0] == 0.0
    np.testing.assert_allclose(minmax(r, by=[0, 0, 1, 1]), [0, 1, 0, 1])
    with pytest.raises(InputError):
        hmatch(r, h, scale=False)


def test_controls_units_and_definitions():
    yb = pd.DataFrame({
        "city": ["a", "a"], "year": [2010, 2011],
        "iva": [2e6, 2.5e6], "gdp": [5e6, 6e6], "gdp_deflator": [1.0, 1.05], "pop": [400.0, 410.0],
        "urban_pop": [200.0, 210.0], "area": [12000.0, 12000.0], "ind_elec": [1.8e5, 2e5],
        "fdi": [1.5e4, 2e4], "loans": [4e6, 5e6], "fiscal_exp": [6e5, 7e5], "sci_exp": [1.2e4, 1.5e4],
        "students": [8e4, 9e4], "broadband": [60.0, 80.0], "green_patents": [0, 150],
    })
    c = controls(yb, usd_cny=6.8)
    assert c.edu[0] == pytest.approx(0.02)
    assert c.urban[0] == pytest.approx(0.5)
    assert c.lnpop[0] == pytest.approx(np.log(400e4 / 12000))
    assert c.lnpgdp[1] == pytest.approx(np.log(6e6 * 1e4 / 1.05 / (410 * 1e4)))
    assert c.energ[0] == pytest.approx(0.09)
    assert c.open[0] == pytest.approx(1.5e4 * 6.8 / 5e6)
    assert c.fin[0] == pytest.approx(0.8)
    assert c.hum[0] == pytest.approx(8e4 / 400e4)
    assert c.internet[0] == pytest.approx(60 / 400)
    assert c.gpatent[0] == 0.0 and c.gpatent[1] == pytest.approx(np.log(151))
    # a zero denominator gives a missing value, counted
    c2 = controls(yb.assign(iva=[0.0, 1.0]), usd_cny=6.8)
    assert np.isnan(c2.energ[0]) and c2.attrs["invalid"]["energ"] == 1
    with pytest.raises(InputError, match="negative"):
        controls(yb.assign(loans=[-1.0, 1.0]), usd_cny=6.8)
    with pytest.raises(InputError, match="usd_cny"):
        controls(yb)
