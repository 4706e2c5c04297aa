"""Diagnosands on hand-made simulations tables: every number checked against its definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.simulate.diagnosands import DIAGNOSAND_COLUMNS, diagnose_table, mde_table


def _table(est, se, theta, p=None, err=None):
    est, se = np.asarray(est, float), np.asarray(se, float)
    q = 1.959963984540054
    return pd.DataFrame({
        "rep": np.arange(est.size), "estimator": "e", "term": "x", "estimate": est,
        "std_error": se, "statistic": est / se,
        "p_value": p if p is not None else 2 * (1 - __import__("scipy").stats.norm.cdf(np.abs(est / se))),
        "conf_low": est - q * se, "conf_high": est + q * se, "estimand": theta,
        "error": err if err is not None else [""] * est.size,
    })


def test_definitions_by_hand():
    est = [1.0, 3.0, -1.0, 5.0]
    se = [0.5, 1.0, 2.0, 1.0]
    p = np.array([0.01, 0.2, 0.03, 0.001])
    t = _table(est, se, 2.0, p=p)
    d = diagnose_table(t, bootstrap=0).iloc[0]
    err = np.array(est) - 2.0
    assert d["estimand"] == 2.0
    assert d["mean_estimate"] == pytest.approx(2.0)
    assert d["bias"] == pytest.approx(0.0, abs=1e-15)
    assert d["bias_mcse"] == pytest.approx(np.std(err, ddof=1) / 2)
    assert d["sd_estimate"] == pytest.approx(np.std(est, ddof=1))
    assert d["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert d["mean_se"] == pytest.approx(1.125)
    # intervals: [0.02, 1.98] misses 2, [1.04, 4.96] covers, [-4.92, 2.92] covers, [3.04, 6.96] misses
    assert d["coverage"] == 0.5
    assert d["coverage_mcse"] == pytest.approx(np.sqrt(0.25 / 4))
    assert d["power"] == 0.75 and d["power_mcse"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    # significant: 1.0, -1.0, 5.0; wrong sign: -1.0 -> type S 1/3; exaggeration mean(0.5, 0.5, 2.5)
    assert d["type_s"] == pytest.approx(1 / 3)
    assert d["exaggeration"] == pytest.approx(3.5 / 3)
    assert d["sims"] == 4 and d["failures"] == 0
    assert list(diagnose_table(t).columns) == ["estimator", "term", *DIAGNOSAND_COLUMNS]


def test_failures_excluded_and_counted():
    t = _table([1.0, 2.0, np.nan], [1.0, 1.0, np.nan], 1.5, err=["", "", "boom"])
    d = diagnose_table(t, bootstrap=0).iloc[0]
    assert d["sims"] == 2 and d["failures"] == 1
    assert d["mean_estimate"] == 1.5


def test_bootstrap_mcse_is_deterministic_and_sensible():
    rng = np.random.default_rng(0)
    est = 0.2 + 0.1 * rng.standard_normal(400)
    t = _table(est, np.full(400, 0.1), 0.2)
    a = diagnose_table(t, bootstrap=300, seed=3)
    b = diagnose_table(t, bootstrap=300, seed=3)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    d = a.iloc[0]
    # exaggeration among significant draws exceeds 1 (significance filter), with a small MCSE
    assert d["exaggeration"] > 1.0 and 0 < d["exaggeration_mcse"] < 0.05
    # the SE of the SD under normality is about sd / sqrt(2(S - 1))
    assert d["sd_estimate_mcse"] == pytest.approx(d["sd_estimate"] / np.sqrt(2 * 399), rel=0.25)


def test_tiny_spread_does_not_divide_by_zero():
    """A spread so small that sd**4 underflows (found by hypothesis): the SD's Monte Carlo SE is
    still computed, from standardised deviations."""
    t = _table([0.0, 0.0, 0.0, 4.7055610662060733e-153], np.ones(4), 0.0)
    d = diagnose_table(t, bootstrap=0).iloc[0]
    assert d["sd_estimate"] > 0 and np.isfinite(d["sd_estimate_mcse"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=3, max_size=30), st.floats(-3, 3))
def test_bias_identity(est, theta):
    """bias = mean estimate - estimand, rmse^2 = bias^2 + (S-1)/S sd^2 (exact identities)."""
    est = np.array(est)
    t = _table(est, np.ones(est.size), theta)
    d = diagnose_table(t, bootstrap=0).iloc[0]
    assert d["bias"] == pytest.approx(d["mean_estimate"] - theta, abs=1e-9)
    S = est.size
    assert d["rmse"] ** 2 == pytest.approx(d["bias"] ** 2 + (S - 1) / S * d["sd_estimate"] ** 2,
                                           abs=1e-9)


def test_mde_interpolation_and_analytic():
    diag = pd.DataFrame({
        "estimator": "e", "term": "x", "estimand": [0.0, -0.01, -0.02, -0.04],
        "power": [0.05, 0.4, 0.7, 0.95], "mean_se": [0.01, 0.01, 0.01, 0.01],
    })
    m = mde_table(diag).iloc[0]
    # 0.8 lies between 0.02 (0.7) and 0.04 (0.95): 0.02 + 0.1/0.25 * 0.02
    assert m["mde"] == pytest.approx(0.028)
    assert m["multiplier"] == pytest.approx(1.959964 + 0.841621, rel=1e-6)
    assert m["mde_analytic"] == pytest.approx(0.028016, rel=1e-4)
    never = mde_table(diag.assign(power=[0.05, 0.1, 0.2, 0.3])).iloc[0]
    assert np.isnan(never["mde"]) and never["max_power"] == 0.3
    assert mde_table(diag.assign(estimand=np.nan)).empty
