"""A small Monte Carlo of the bootstrap threshold test: size near nominal without a threshold,
high power with a clear one (100 replications x 99 bootstrap draws, fixed seed)."""

from __future__ import annotations

import numpy as np
import pytest

from robocarbon.empirics.threshold import threshold_fit, threshold_test

REPS, BOOT = 100, 99


def _draw(rng, N=40, T=5, delta=0.0):
    ent = np.repeat(np.arange(N), T)
    tim = np.tile(np.arange(T), N)
    n = N * T
    q = rng.normal(size=n)
    x = rng.normal(size=n)
    w = rng.normal(size=n)
    y = rng.normal(size=N)[ent] + x * (1.0 + delta * (q > 0)) + 0.5 * w + rng.normal(size=n)
    return y, x, q, ent, tim, w


def _unbalance(rng, y, x, q, ent, tim, w, keep=0.8):
    m = rng.random(ent.size) < keep
    for i in np.unique(ent):
        rows = np.nonzero(ent == i)[0]
        if m[rows].sum() < 2:
            m[rows[:2]] = True
    return y[m], x[m], q[m], ent[m], tim[m], w[m]


def _pvalues(delta: float, seed: int, *, unbalanced=False, null_thresholds=0, time_effects=False,
             reps=REPS) -> np.ndarray:
    out = []
    for stream in np.random.SeedSequence(seed).spawn(reps):
        rng = np.random.default_rng(stream)
        data = _draw(rng, delta=delta)
        if unbalanced:
            data = _unbalance(rng, *data)
        y, x, q, ent, tim, w = data
        r = threshold_test(y, x, q, ent, tim, w, null_thresholds=null_thresholds,
                           time_effects=time_effects, trim=0.1, grid=50, bootstrap=BOOT, seed=rng)
        out.append(r["p_value"])
    return np.array(out)


def _assert_size(p):
    # with 100 replications the 5% rejection rate has a Monte Carlo s.e. of about 0.022: a
    # rate above 0.12 (3 s.e.) would mean a badly oversized test; p-values are about uniform
    assert (p <= 0.05).mean() <= 0.12
    assert 0.02 <= (p <= 0.10).mean() <= 0.20
    assert 0.38 <= p.mean() <= 0.62


@pytest.mark.slow
def test_size_near_nominal_without_threshold():
    _assert_size(_pvalues(0.0, 2024))


@pytest.mark.slow
def test_size_unbalanced_panel_with_time_effects():
    """20% of the rows missing at random: residual vectors resampled within equal-length groups."""
    _assert_size(_pvalues(0.0, 7, unbalanced=True, time_effects=True))


@pytest.mark.slow
def test_size_of_the_double_threshold_test_under_a_single_threshold():
    """F_2 (1 vs 2 thresholds) when the truth has one threshold: the bootstrap re-estimates the
    first threshold on every draw."""
    _assert_size(_pvalues(1.5, 8, null_thresholds=1))


@pytest.mark.slow
def test_high_power_with_a_clear_threshold():
    p = _pvalues(0.7, 2025)
    assert (p <= 0.05).mean() >= 0.85


def test_fast_test_agrees_with_full_fit():
    rng = np.random.default_rng(7)
    y, x, q, ent, tim, w = _draw(rng, delta=0.5)
    full = threshold_fit(y, x, q, ent, tim, w, trim=0.1, grid=50, bootstrap=49, seed=11)
    fast = threshold_test(y, x, q, ent, tim, w, trim=0.1, grid=50, bootstrap=49,
                          seed=np.random.SeedSequence(11).spawn(1)[0])
    t = full.diagnostics["tests"][0]
    assert fast["F"] == pytest.approx(t["F"], rel=1e-12)
    assert fast["p_value"] == t["p_value"]
    assert fast["thresholds"] == list(full.diagnostics["thresholds"])


def test_fast_double_test_agrees_with_full_fit():
    rng = np.random.default_rng(8)
    y, x, q, ent, tim, w = _draw(rng, delta=1.0)
    full = threshold_fit(y, x, q, ent, tim, w, n_thresholds=2, trim=0.1, grid=40, bootstrap=29, seed=5)
    fast = threshold_test(y, x, q, ent, tim, w, null_thresholds=1, trim=0.1, grid=40, bootstrap=29,
                          seed=np.random.SeedSequence(5).spawn(2)[1])
    t = full.diagnostics["tests"][1]
    assert fast["F"] == pytest.approx(t["F"], rel=1e-12)
    assert fast["p_value"] == t["p_value"]
    assert fast["critical_values"] == dict(t["critical_values"])
