"""Equation (23), the human-machine matching index."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.theory.hmatch import hmatch, hmatch_analysis

unit = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)


def _literal(r, h):
    """(23) exactly as printed."""
    U = 2 * np.sqrt(r * h) / (r + h)
    V = (r + h) / 2
    return np.sqrt(U * V)


@settings(max_examples=60, deadline=None)
@given(unit, unit)
def test_closed_form_equals_printed_definition(r, h):
    assert hmatch(r, h) == pytest.approx(_literal(r, h), rel=1e-12)
    assert hmatch(r, h) == pytest.approx(hmatch(h, r), rel=1e-14)
    assert 0.0 <= hmatch(r, h) <= 1.0


def test_analysis():
    a = hmatch_analysis()
    assert a["closed_form"]["verified"] and a["symmetric"]
    assert a["bounds"]["value_at_max"] == 1.0 and a["bounds"]["elasticity_robot"] == r"\frac{1}{4}"
    assert a["at_zero"]["hmatch_limit"] == 0.0 and a["at_zero"]["U_has_limit"] is False
    lv = a["level_vs_balance"]
    assert lv["example_unbalanced_1_0.2"] > lv["example_balanced_0.1_0.1"]
    assert lv["share_var_ln_hmatch_from_level_V"] + lv["share_var_ln_hmatch_from_balance_U"] == pytest.approx(1.0)
    assert lv["share_var_ln_hmatch_from_level_V"] > 0.5
    ids = {c["id"]: c["holds"] for c in a["claims"]}
    assert ids == {"hmatch_closed_form": "yes", "hmatch_bounds_symmetry": "yes", "hmatch_measures_balance": "no"}


def test_zero_and_broadcasting():
    out = hmatch(np.array([0.0, 0.0, 0.5])[:, None], np.array([0.0, 0.3]))
    assert out.shape == (3, 2)
    assert np.all(out[:2] == 0.0)  # continuous extension at 0 (the printed U is 0/0 there)
    with np.errstate(invalid="ignore"):
        assert np.isnan(_literal(0.0, 0.0))
    with pytest.raises(ValueError):
        hmatch(-0.1, 0.5)
