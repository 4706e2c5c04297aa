"""The within transform on unbalanced panels: every RSS the fast profile reports equals a
dummy-variable (LSDV) regression with explicit entity (and time) dummies, an exact identity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics.linalg import demean
from robocarbon.empirics.threshold import ThresholdPanel, threshold_fit


def _unbalanced(seed: int, N: int = 25, T: int = 8, kx: int = 1, kw: int = 2, keep: float = 0.7):
    rng = np.random.default_rng(seed)
    ent = np.repeat(np.arange(N), T)
    tim = np.tile(np.arange(T), N)
    m = rng.random(N * T) < keep
    # every entity keeps at least two periods
    for i in range(N):
        rows = np.nonzero(ent == i)[0]
        if m[rows].sum() < 2:
            m[rows[:2]] = True
    ent, tim = ent[m], tim[m]
    n = ent.size
    q = rng.normal(size=n) + 0.3 * rng.normal(size=N)[ent]
    x = rng.normal(size=(n, kx)) + 0.5 * rng.normal(size=(N, kx))[ent]
    w = rng.normal(size=(n, kw))
    mu = rng.normal(size=N)[ent]
    tau = rng.normal(size=T)[tim]
    d = q <= 0.2
    y = mu + tau + (x * np.where(d, 1.0, 2.0)[:, None]).sum(1) + w @ np.ones(kw) + rng.normal(size=n)
    perm = rng.permutation(n)  # rows in no particular order
    return y[perm], x[perm], w[perm], q[perm], ent[perm], tim[perm]


def _lsdv_rss(y, x, w, q, ent, tim, gammas, time_effects):
    edges = [-np.inf, *sorted(gammas), np.inf]
    cols = [x * ((q > edges[j]) & (q <= edges[j + 1]))[:, None] for j in range(len(edges) - 1)]
    D = (ent[:, None] == np.unique(ent)[None, :]).astype(float)
    parts = [*cols, w, D]
    if time_effects:
        parts.append((tim[:, None] == np.unique(tim)[None, 1:]).astype(float))
    X = np.hstack(parts)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta
    return float(r @ r), beta[: sum(c.shape[1] for c in cols) + w.shape[1]]


@pytest.mark.parametrize("time_effects", [False, True])
@pytest.mark.parametrize("kx", [1, 2])
def test_profile_equals_dummy_variable_regression(time_effects, kx):
    y, x, w, q, ent, tim = _unbalanced(1, kx=kx)
    res = threshold_fit(
        y, x, q, ent, tim, w, time_effects=time_effects, exact=True, trim=0.05, bootstrap=0
    )
    lr = res.diagnostics["lr"][0]
    s2 = res.diagnostics["models"][1]["sigma2"]
    rss_hat = res.diagnostics["models"][1]["rss"]
    g = np.array(lr["gamma"])
    prof = rss_hat + np.array(lr["lr"]) * s2
    assert not res.diagnostics["balanced"]
    for j in np.linspace(0, g.size - 1, 12).astype(int):
        direct, _ = _lsdv_rss(y, x, w, q, ent, tim, [g[j]], time_effects)
        assert prof[j] == pytest.approx(direct, rel=1e-10)
    # the reported slopes equal the LSDV slopes at the estimated threshold
    direct, beta = _lsdv_rss(y, x, w, q, ent, tim, res.diagnostics["thresholds"], time_effects)
    assert res.diagnostics["rss_direct"] == pytest.approx(direct, rel=1e-9)
    # LSDV orders the blocks regime-major; our terms are regressor-major
    order = [j * kx + k for k in range(kx) for j in range(2)] + [2 * kx + c for c in range(w.shape[1])]
    np.testing.assert_allclose(res.params, beta[order], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("time_effects", [False, True])
def test_double_threshold_stages_equal_dummy_variable_regression(time_effects):
    y, x, w, q, ent, tim = _unbalanced(2, N=30, T=8)
    res = threshold_fit(
        y, x, q, ent, tim, w, time_effects=time_effects, exact=True, trim=0.05,
        n_thresholds=2, bootstrap=0,
    )
    models = res.diagnostics["models"]
    g1, g2 = models[2]["thresholds"]
    direct, _ = _lsdv_rss(y, x, w, q, ent, tim, [g1, g2], time_effects)
    assert models[2]["rss"] == pytest.approx(direct, rel=1e-10)
    # the LR curve of the second threshold, given the first before refinement
    lr = res.diagnostics["lr"][1]
    first = models[2]["first_threshold_before_refinement"]
    s2 = (models[2]["rss_before_refinement"]) / res.diagnostics["sigma2_df"]
    g = np.array(lr["gamma"])
    prof = models[2]["rss_before_refinement"] + np.array(lr["lr"]) * s2
    for j in np.linspace(0, g.size - 1, 8).astype(int):
        d, _ = _lsdv_rss(y, x, w, q, ent, tim, [first, g[j]], time_effects)
        assert prof[j] == pytest.approx(d, rel=1e-10)


def test_entity_demeaning_matches_linalg_demean():
    y, x, w, q, ent, tim = _unbalanced(3)
    p = ThresholdPanel(y, x, w, q, ent, tim)
    M = np.column_stack([p.y, p.x, p.w])
    ours = p.demean_entity(M)
    ref, _ = demean(M, [p.entity])
    np.testing.assert_allclose(ours, ref, atol=1e-13)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), time_effects=st.booleans(), keep=st.floats(0.4, 1.0))
def test_profile_identity_property(seed, time_effects, keep):
    y, x, w, q, ent, tim = _unbalanced(seed, N=8, T=6, kw=1, keep=keep)
    if time_effects and np.unique(tim).size < 2:
        return
    res = threshold_fit(y, x, q, ent, tim, w, time_effects=time_effects, exact=True, trim=0.1, bootstrap=0)
    lr = res.diagnostics["lr"][0]
    s2 = res.diagnostics["models"][1]["sigma2"]
    rss_hat = res.diagnostics["models"][1]["rss"]
    g = np.array(lr["gamma"])
    prof = rss_hat + np.array(lr["lr"]) * s2
    j = seed % g.size
    direct, _ = _lsdv_rss(y, x, w, q, ent, tim, [g[j]], time_effects)
    assert prof[j] == pytest.approx(direct, rel=1e-9, abs=1e-10)
    # the minimiser really is the minimum over the candidates
    assert rss_hat == pytest.approx(prof.min(), rel=1e-12)


def test_tied_threshold_variable_splits_at_distinct_values():
    """An integer-valued q: candidates are its distinct values and every split is q <= g."""
    y, x, w, q, ent, tim = _unbalanced(5, N=30, T=8)
    q = np.floor(3 * q)  # a handful of distinct values, many ties
    res = threshold_fit(y, x, q, ent, tim, w, time_effects=True, exact=True, trim=0.05, bootstrap=0)
    lr = res.diagnostics["lr"][0]
    g = np.array(lr["gamma"])
    assert set(g) <= set(np.unique(q)) and g.size == res.diagnostics["candidates"]
    prof = res.diagnostics["models"][1]["rss"] + np.array(lr["lr"]) * res.diagnostics["models"][1]["sigma2"]
    for j in range(g.size):
        direct, _ = _lsdv_rss(y, x, w, q, ent, tim, [g[j]], True)
        assert prof[j] == pytest.approx(direct, rel=1e-10)
    lower = res.diagnostics["regimes"][0]
    assert lower["nobs"] == int(np.sum(q <= res.diagnostics["thresholds"][0]))


def test_time_invariant_control_is_named():
    from robocarbon.empirics.errors import InputError

    y, x, w, q, ent, tim = _unbalanced(6)
    w_bad = np.column_stack([w, np.arange(ent.max() + 1)[ent] * 1.0])
    with pytest.raises(InputError, match="'size'"):
        threshold_fit(y, x, q, ent, tim, w_bad, bootstrap=0, control_names=["a", "b", "size"])


def test_bootstrap_resamples_whole_residual_vectors_within_equal_lengths():
    y, x, w, q, ent, tim = _unbalanced(8, N=20, T=6, keep=0.6)
    p = ThresholdPanel(y, x, w, q, ent, tim)
    # a residual whose every entity block is distinct and sums to zero
    e_ent = np.empty(p.n)
    for i in range(p.N):
        a, b = p.starts[i], p.starts[i + 1]
        e_ent[a:b] = (i + 1) * (np.arange(b - a) - (b - a - 1) / 2)
    E = p.resample_residuals(e_ent[p.qs], 40, np.random.default_rng(0))
    back = np.empty((40, p.n))
    back[:, p.qs] = E  # to entity order
    blocks = {i: e_ent[p.starts[i]:p.starts[i + 1]] for i in range(p.N)}
    for b in range(40):
        for i in range(p.N):
            got = back[b, p.starts[i]:p.starts[i + 1]]
            src = [k for k, v in blocks.items() if v.size == got.size and np.array_equal(v, got)]
            assert src, f"draw {b}, entity {i}: not a whole residual vector of an equal-length entity"
    # and entities are drawn with replacement across draws (not a fixed permutation)
    assert np.unique(back[:, : p.starts[1]], axis=0).shape[0] > 1
