"""The one Result type: derived quantities follow from params and cov exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from robocarbon.empirics.result import TIDY_COLUMNS, Result


def _res(df=None):
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    return Result(("a", "b"), [1.0, -0.3], cov, nobs=100, df_resid=df, cov_type="unadjusted",
                  estimator="ols", spec={"formula": "y ~ a + b"}, diagnostics={"x": [1, 2]})


def test_tidy_columns_and_values():
    r = _res(df=30)
    t = r.tidy()
    assert tuple(t.columns) == TIDY_COLUMNS
    assert t["std_error"].tolist() == pytest.approx([0.2, 0.3])
    assert t["statistic"].tolist() == pytest.approx([5.0, -1.0])
    assert t.loc[1, "p_value"] == pytest.approx(2 * stats.t(30).sf(1.0))
    q = stats.t(30).ppf(0.975)
    assert t.loc[0, "conf_low"] == pytest.approx(1.0 - q * 0.2)


def test_normal_reference_when_no_df():
    r = _res(df=None)
    assert r.pvalues["b"] == pytest.approx(2 * stats.norm.sf(1.0))


def test_immutable():
    r = _res()
    with pytest.raises(ValueError):
        r.params[0] = 3.0
    with pytest.raises(AttributeError):
        r.nobs = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.diagnostics["y"] = 1  # type: ignore[index]


def test_wald_matches_t_squared():
    r = _res(df=None)
    w = r.wald_test(["b"])
    assert w["statistic"] == pytest.approx(1.0)
    assert w["p_value"] == pytest.approx(r.pvalues["b"])


def test_to_dict_keys():
    d = _res().to_dict()
    for key in ("estimator", "formula", "nobs", "nobs_dropped", "params", "std_errors", "pvalues",
                "conf_int", "r2_within", "r2_with_fe", "diagnostics", "provenance"):
        assert key in d
    assert d["formula"] == "y ~ a + b"
    assert d["diagnostics"]["x"] == [1, 2]


def test_shape_checked():
    with pytest.raises(ValueError):
        Result(("a",), [1.0, 2.0], np.eye(2), nobs=3, df_resid=None, cov_type="x", estimator="y")


def test_adopt_equals_the_constructor_and_freezes_in_place():
    import dataclasses

    params, cov = np.array([1.0, -2.0]), np.array([[0.5, 0.1], [0.1, 0.3]])
    spec = {"fixed_effects": ["entity", "time"], "path": "fast"}
    ref = Result(terms=("a", "b"), params=params, cov=cov, nobs=100, df_resid=9,
                 cov_type="cluster", estimator="twfe", r2_within=0.4, spec=spec)
    p2, c2 = params.copy(), cov.copy()
    got = Result.adopt(["a", "b"], p2, c2, 100, 9, "cluster", "twfe", r2_within=0.4, spec=spec)
    assert got.params is p2 and got.cov is c2  # owned, not copied
    assert not p2.flags.writeable and not c2.flags.writeable
    for f in dataclasses.fields(Result):
        a, b = getattr(got, f.name), getattr(ref, f.name)
        assert type(a) is type(b), f.name
        assert (np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b), f.name
    assert got.to_dict() == ref.to_dict()
    pd.testing.assert_frame_equal(got.tidy(), ref.tidy())
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.nobs = 3
    # anything unusual goes through the constructor and its checks
    with pytest.raises(ValueError, match="duplicate"):
        Result.adopt(["a", "a"], params.copy(), cov.copy(), 100, 9, "cluster", "twfe")
    with pytest.raises(ValueError, match="shape"):
        Result.adopt(["a", "b", "c"], params.copy(), cov.copy(), 100, 9, "cluster", "twfe")
    ints = Result.adopt(["a"], np.array([1]), np.array([[2]]), 5, None, "iid", "ols")
    assert ints.params.dtype == np.float64 and ints.df_resid is None
