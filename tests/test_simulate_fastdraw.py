"""The speed devices of the ``paper`` draw compute the model's equations.

Checked against references nobody here wrote: scipy's ``lfilter`` for the AR(1) recursion (to the
bit in the compiled loops), numpy's own expressions for the compiled series and numpy's quantile
and median (to the bit), the measurement module's ``allocate`` for the downscaling in logs,
numpy's ``Generator.choice`` for the pilot-zone assignment (in distribution), the theory's
``log_output`` for the log-linear coefficients.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter

from robocarbon.simulate import kernels, paper, threats
from robocarbon.simulate.design import get_design
from robocarbon.theory import numeric as tn


def _ar1_lfilter(e, rho):
    """The reference stationary AR(1): scipy's lfilter on the scaled innovations."""
    x = np.array(e, dtype=float)
    x[..., 1:] *= np.sqrt(1.0 - rho * rho)
    return lfilter([1.0], [1.0, -rho], x, axis=-1)


@pytest.mark.parametrize("rho", [0.5, 0.92, -0.3])
def test_kernel_ar1_equals_lfilter_bit_for_bit(rho):
    S, n, T = 3, 40, 13
    e = np.random.default_rng(3).standard_normal((S, n, T))
    out = np.empty((S, n, T))
    kernels.ar1_series(e, np.zeros((S, n)), np.zeros((S, T)), np.zeros(S), np.ones(S),
                       np.full(S, rho), np.zeros(S, dtype=np.int64), np.full(S, -np.inf),
                       np.full(S, np.inf), np.zeros(S), 5, out, np.zeros((n, T)),
                       np.empty((S, n)), np.empty((S, n)))
    np.testing.assert_array_equal(out, _ar1_lfilter(e, rho))


def test_kernel_series_equal_their_numpy_statement():
    """kernels.ar1_series against the equations written with numpy: the three transforms, the
    bounds, the loading-weighted index of the noises and the (late) means over the years."""
    rng = np.random.default_rng(5)
    S, n, T, late = 4, 30, 9, 4
    e = rng.standard_normal((S, n, T))
    city = rng.standard_normal((S, n))
    trend = rng.standard_normal((S, T))
    cc, cn = rng.uniform(0.2, 1.5, S), rng.uniform(0.1, 0.9, S)
    rho = np.array([0.6, 0.5, 0.7, -0.2])
    form = np.array([kernels.IDENTITY, kernels.EXP, kernels.LOGISTIC, kernels.IDENTITY])
    lo = np.array([-np.inf, -np.inf, -np.inf, -0.3])
    hi = np.array([np.inf, np.inf, np.inf, 0.4])
    load = np.array([0.5, 0.0, -1.0, 2.0])
    out, index = np.empty((S, n, T)), np.zeros((n, T))
    mean, mean_late = np.empty((S, n)), np.empty((S, n))
    kernels.ar1_series(e, city, trend, cc, cn, rho, form, lo, hi, load, late, out, index, mean,
                       mean_late)
    want_index = np.zeros((n, T))
    for j in range(S):
        u = _ar1_lfilter(e[j], rho[j])
        z = trend[j][None, :] + cc[j] * city[j][:, None] + cn[j] * u
        x = {0: z, 1: np.exp(z), 2: 1.0 / (1.0 + np.exp(-z))}[int(form[j])]
        x = np.clip(x, lo[j], hi[j])
        np.testing.assert_allclose(out[j], x, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(mean[j], x.mean(axis=1), rtol=1e-13)
        np.testing.assert_allclose(mean_late[j], x[:, late:].mean(axis=1), rtol=1e-13)
        want_index += load[j] * u
    np.testing.assert_allclose(index, want_index, rtol=1e-13, atol=1e-14)
    assert out[3].min() >= -0.3 and out[3].max() <= 0.4


def test_exposure_kernel_is_the_bartik_formula():
    """kernels.exposure: industry densities exp(level + sd x AR(1)) and robot = shares @ shocks,
    against scipy's lfilter and the measurement module's bartik()."""
    from robocarbon.empirics.bartik import bartik

    rng = np.random.default_rng(9)
    n, J, TT, pre = 40, 6, 12, 5
    shares = rng.dirichlet(np.full(J, 0.6), size=n) * rng.uniform(0.1, 0.6, (n, 1))
    level = rng.normal(size=(J, TT))
    e = rng.standard_normal((J, TT))
    shocks, robot_all, flat = np.empty((J, TT)), np.empty((n, TT)), np.empty(n * (TT - pre))
    kernels.exposure(shares, level, e, 0.8, 0.05, pre, shocks, robot_all, flat)
    want_shocks = np.exp(level + 0.05 * _ar1_lfilter(e, 0.8))
    np.testing.assert_allclose(shocks, want_shocks, rtol=1e-14)
    np.testing.assert_allclose(robot_all, bartik(shares, shocks), rtol=1e-13)
    np.testing.assert_array_equal(flat, robot_all[:, pre:].ravel())


def test_allocate_levels_equals_downscale_allocate():
    """(20) in logs, as the draw computes it, against the measurement module's allocate()."""
    from robocarbon.empirics.downscale import allocate

    rng = np.random.default_rng(6)
    n, T, n_prov = 50, 7, 6
    prov = np.sort(rng.integers(0, n_prov, n))
    prov[:n_prov] = np.arange(n_prov)
    prov = np.sort(prov)
    ln_light = rng.normal(size=(n, T))
    ln_va = rng.normal(size=(n, T))
    co2 = np.exp(rng.normal(size=(n, T)))
    cell = (prov[:, None] * T + np.arange(T)[None, :]).ravel()
    prov_co2 = np.bincount(cell, weights=co2.ravel(), minlength=n_prov * T).reshape(n_prov, T)
    prov_light = np.bincount(cell, weights=np.exp(ln_light).ravel(),
                             minlength=n_prov * T).reshape(n_prov, T)
    lnco, lnindco = np.empty((n, T)), np.empty(n * T)
    kernels.allocate_levels(ln_light, ln_va, prov, prov_co2, prov_light, lnco, lnindco)
    want, _ = allocate(prov_co2.ravel(), np.exp(ln_light).ravel(), cell)
    np.testing.assert_allclose(np.exp(lnco).ravel(), want, rtol=1e-12)
    np.testing.assert_allclose(lnindco, (lnco - ln_va).ravel(), rtol=0, atol=0)
    # the cities of a province share out exactly its total
    np.testing.assert_allclose(np.bincount(cell, weights=np.exp(lnco).ravel()),
                               prov_co2.ravel(), rtol=1e-12)


@pytest.mark.parametrize("size", [5, 262, 263, 1000])
def test_quantile_and_median_equal_numpy_to_the_bit(size):
    rng = np.random.default_rng(size)
    for _ in range(20):
        x = rng.standard_normal(size) * rng.uniform(0.1, 10)
        for q in (0.0, 0.1, 0.5, 0.6, 0.65, 0.7, 0.99, 1.0, float(rng.uniform())):
            assert paper._quantile(x, q) == np.quantile(x, q), q
        assert paper._median(x) == np.median(x)


def test_hmatch_closed_form_equals_equation_23():
    rng = np.random.default_rng(7)
    robot = rng.lognormal(size=(40, 9))
    hum = rng.lognormal(size=(40, 9)) * 0.02
    np.testing.assert_allclose(paper._hmatch(robot, hum), threats.hmatch(robot, hum),
                               rtol=1e-12, atol=1e-15)


def test_log_output_coefficients_reproduce_the_theory():
    """ln Y = c0 + cK ln K + cL ln L + cM ln M + cE ln E + cA ln A, read off the theory's
    log_output, reproduces it at random points (two frontiers), and cE is the energy share."""
    I_values = (0.2, 0.35)
    C = paper._log_output_coefs(0.3, 0.5, I_values, 1.0)
    rng = np.random.default_rng(8)
    for r, I in enumerate(I_values):
        K, L, M, E = rng.uniform(0.1, 20.0, (4, 50))
        lnA = rng.normal(size=50)
        got = C[r, 0] + C[r, 1:5] @ np.log([K, L, M, E]) + C[r, 5] * lnA
        np.testing.assert_allclose(got, tn.log_output(K, L, M, E, 0.3, 0.5, I, 1.0, lnA),
                                   rtol=1e-12, atol=1e-12)
        assert C[r, 4] == pytest.approx(float(tn.factor_shares(0.3, 0.5, I, 1.0)["energy"]))
        assert C[r, 5] == pytest.approx(1.0)


def _pilot_zones_reference(rng, prov_idx, prov_names):
    """Zone by zone: a province in proportion to its free cities (numpy's choice), a size 1-4,
    and that many free cities of it sampled without replacement (numpy's choice)."""
    n = prov_idx.shape[0]
    adopt = np.zeros(n, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    names = list(prov_names)
    for year in threats._ZONE_YEARS:
        if year == 2009 and "Inner Mongolia" in names:
            k, size = names.index("Inner Mongolia"), 3
        else:
            avail = np.bincount(prov_idx[free], minlength=len(names))
            if avail.sum() == 0:
                break
            k = int(rng.choice(len(names), p=avail / avail.sum()))
            size = int(rng.integers(1, 5))
        cand = np.flatnonzero(free & (prov_idx == k))
        if cand.size == 0:
            continue
        pick = rng.choice(cand, size=min(size, cand.size), replace=False)
        adopt[pick] = year
        free[pick] = False
    return adopt


@pytest.mark.parametrize("n_cities", [262, 60])
def test_pilot_zones_have_the_distribution_of_sampling_without_replacement(n_cities):
    """The keyed sampler against the zone-by-zone sampler written with numpy's choice(): the
    probability that each city joins each batch (2008, 2009, 2011) agrees within Monte Carlo
    error (two-sample z, 3,000 draws each), and so does the number of treated cities."""
    sizes = paper._province_sizes(n_cities)
    prov_idx = np.repeat(np.arange(len(paper.PROVINCES)), sizes)
    names = [q[0] for q in paper.PROVINCES]
    R = 3000
    years = (2008, 2009, 2011)
    got, ref = np.zeros((len(years), prov_idx.size)), np.zeros((len(years), prov_idx.size))
    n_got, n_ref = np.empty(R), np.empty(R)
    r1, r2 = np.random.default_rng(11), np.random.default_rng(12)
    im = names.index("Inner Mongolia")
    for r in range(R):
        a = threats.pilot_zones(r1, prov_idx, names, 2007)
        b = _pilot_zones_reference(r2, prov_idx, names)
        # every draw: the three batches; the 2009 zone is three Inner Mongolia cities (fewer
        # when 2008 zones took some of the province's cities)
        assert set(np.unique(a)) <= {0, *years}
        in_2009 = a == 2009
        assert np.all(prov_idx[in_2009] == im) and in_2009.sum() <= 3
        assert in_2009.sum() == min(3, sizes[im] - int(((a == 2008) & (prov_idx == im)).sum()))
        for y, row_g, row_r in zip(years, got, ref):
            row_g += a == y
            row_r += b == y
        n_got[r], n_ref[r] = (a > 0).sum(), (b > 0).sum()
    p1, p2 = got / R, ref / R
    pool = (p1 + p2) / 2
    se = np.sqrt(np.maximum(pool * (1 - pool), 1e-12) * 2 / R)
    z = np.abs(p1 - p2) / se
    assert z.max() < 5.0, z.max()  # about 800 cells: the max of |z| is below 4 under the null
    z_n = abs(n_got.mean() - n_ref.mean()) / np.sqrt((n_got.var() + n_ref.var()) / R)
    assert z_n < 4.0, (n_got.mean(), n_ref.mean())


def test_pilot_zones_use_a_fixed_count_of_uniforms():
    sizes = paper._province_sizes(262)
    prov_idx = np.repeat(np.arange(len(paper.PROVINCES)), sizes)
    r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
    threats.pilot_zones(r1, prov_idx, [q[0] for q in paper.PROVINCES], 2007)
    r2.random(prov_idx.size + 2 * len(threats._ZONE_YEARS))
    assert r1.random() == r2.random()


def test_a_later_draw_changes_nothing_in_an_earlier_one():
    """The normals block is a reused per-thread buffer: an earlier draw's arrays, truth and
    lazily built panel (mechanism variables included) must not depend on it."""
    d = get_design("paper", n_cities=60)
    a = d.draw(np.random.default_rng(1))
    y, X, truth = a.arrays["y"].copy(), a.arrays["X"].copy(), dict(a.truth)
    d.draw(np.random.default_rng(2))
    d.with_params(threshold_var="hum").draw(np.random.default_rng(3))
    ref = d.draw(np.random.default_rng(1))
    np.testing.assert_array_equal(a.arrays["y"], y)
    np.testing.assert_array_equal(a.arrays["X"], X)
    assert a.truth == truth == ref.truth
    pd.testing.assert_frame_equal(a.panel, ref.panel)


@pytest.mark.parametrize("n_cities", [262, 263, 60, 35])
def test_lazy_groupings_have_the_sizes_the_truth_assumes(n_cities):
    """The truth's bookkeeping takes the sizes of the latent splits from n alone
    (``_n_above``); the groupings, once built, have those sizes, and equal the eager ones of a
    design whose effects vary (which builds them at once)."""
    d = get_design("paper", n_cities=n_cities)
    a = d.draw(np.random.default_rng(4)).panel.groupby("city").first()
    assert int(a["resource"].sum()) == paper._n_above(n_cities, 0.6)
    assert int(a["large"].sum()) == paper._n_above(n_cities, 0.65)
    assert int(a["digital"].sum()) == n_cities // 2
    b = d.with_params(threshold_var="scitech").draw(np.random.default_rng(4)).panel
    b = b.groupby("city").first()
    for g in ("resource", "large", "digital"):
        np.testing.assert_array_equal(a[g].to_numpy(), b[g].to_numpy())


def test_panel_is_lazy_and_matches_arrays():
    dr = get_design("paper", n_cities=60).draw(np.random.default_rng(5))
    assert not dr.panel_built
    a = dr.arrays
    p = dr.panel
    assert dr.panel_built and dr.panel is p  # built once, then kept
    np.testing.assert_array_equal(p["lnindco"].to_numpy(), a["y"])
    for j, name in enumerate(a["X_names"]):
        np.testing.assert_array_equal(p[str(name)].to_numpy(), a["X"][:, j])
    np.testing.assert_array_equal(pd.factorize(p["city"])[0], a["entity"])
    np.testing.assert_array_equal(p["province"].cat.codes.to_numpy(), a["group"])
    # a lazy draw pickles lazily and unpickles to the same DataFrame
    again = get_design("paper", n_cities=60).draw(np.random.default_rng(5))
    back = pickle.loads(pickle.dumps(again))
    assert not back.panel_built
    pd.testing.assert_frame_equal(back.panel, p)
    # changing the panel of one draw leaves the next draw's panel alone (shared identifiers)
    p.loc[0, "city"] = -1
    fresh = get_design("paper", n_cities=60).draw(np.random.default_rng(5)).panel
    assert fresh.loc[0, "city"] == 1


def test_a_draw_does_not_import_sympy():
    # the theory's numeric code ships as a generated module (tests/test_theory_numeric.py)
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from robocarbon.simulate.design import get_design\n"
            "get_design('paper', n_cities=40).draw(np.random.default_rng(0))\n"
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"
