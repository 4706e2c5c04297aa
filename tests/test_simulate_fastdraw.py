"""The speed devices of the ``paper`` draw change no number.

Checked against references nobody here wrote: scipy's ``lfilter`` for the AR(1) recursion,
numpy's own ``Generator.choice`` for the pilot-zone assignment (the draws must be the same, to
the bit, and leave the stream in the same state), and the theory's sympy derivation for the
expressions that ``robocarbon.theory.numeric`` reads back from its cache.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from scipy.signal import lfilter

from robocarbon.simulate import paper, threats
from robocarbon.simulate.design import get_design
from robocarbon.theory import numeric as tn


@pytest.mark.parametrize("rho", [0.5, 0.92, -0.3])
@pytest.mark.parametrize("shape", [(7, 40, 13), (30, 18), (5, 80)])
def test_ar1_filter_equals_lfilter_bit_for_bit(rho, shape):
    e = np.random.default_rng(3).standard_normal(shape)
    ref = e.copy()
    ref[..., 1:] *= np.sqrt(1.0 - rho * rho)
    ref = lfilter([1.0], [1.0, -rho], ref, axis=-1)
    got = paper._ar1_filter(e.copy(), rho)
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, ref)


def _pilot_zones_reference(rng, prov_idx, prov_names):
    """The assignment written with numpy's choice() and a recount for every zone."""
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


@pytest.mark.parametrize("n_cities", [262, 60, 35])
def test_pilot_zones_same_draws_as_numpy_choice(n_cities):
    sizes = paper._province_sizes(n_cities)
    prov_idx = np.repeat(np.arange(len(paper.PROVINCES)), sizes)
    names = [q[0] for q in paper.PROVINCES]
    for seed in range(40):
        r1, r2 = np.random.default_rng(seed), np.random.default_rng(seed)
        got = threats.pilot_zones(r1, prov_idx, names, 2007)
        ref = _pilot_zones_reference(r2, prov_idx, names)
        np.testing.assert_array_equal(got, ref)
        assert r1.random() == r2.random()  # the stream is left in the same state


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


def test_cached_theory_expressions_equal_the_derivation(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOCARBON_THEORY_CACHE", str(tmp_path))
    tn._expressions.cache_clear()
    tn._fn.cache_clear()
    try:
        derived = tn._expressions()  # derives and writes the cache file
        files = list(tmp_path.glob("theory-numeric-*.pickle"))
        assert len(files) == 1
        tn._expressions.cache_clear()
        tn._fn.cache_clear()
        cached = tn._expressions()  # reads it back
        assert cached is not derived
        fresh = tn._table()
        assert set(cached) == set(fresh)
        rng = np.random.default_rng(0)
        for name, (args, ex) in fresh.items():
            c_args, c_ex = pickle.loads(cached[name]["expr"])
            assert tuple(c_args) == tuple(args), name
            ex = tn._paper_expr(ex)
            assert c_ex == ex, name  # structurally the same expression
            assert tn.expression(name) == ex, name
            assert cached[name]["source"], name  # the function comes from the cached code
            # ... which computes what lambdify of the derivation computes, to the bit
            vals = [rng.uniform(0.05, 0.3, 50) if str(a) in ("alpha", "beta")
                    else rng.uniform(0.1, 0.9, 50) if str(a) == "I"
                    else np.ones(50) if str(a) == "N" else rng.uniform(0.5, 3.0, 50)
                    for a in args]
            ref = sp.lambdify(args, ex, "numpy")(*vals)
            np.testing.assert_array_equal(np.broadcast_to(tn._fn(name)(*vals), np.shape(ref)),
                                          ref, err_msg=name)
        x = dict(alpha=0.3, beta=0.5, I=0.2, N=1.0)
        assert tn.elasticity_indco_M(**x) == pytest.approx(-0.5 * 0.2, rel=1e-15)
        # a corrupt cache file is ignored (derived afresh), not an error
        files[0].write_bytes(b"not a pickle")
        tn._expressions.cache_clear()
        assert set(tn._expressions()) == set(fresh)
    finally:
        tn._expressions.cache_clear()
        tn._fn.cache_clear()


def test_a_cached_process_does_not_import_sympy():
    import subprocess
    import sys

    tn._expressions()  # writes the cache file unless it exists (or the cache is off)
    path = tn._cache_file()
    if path is None or not path.is_file():
        pytest.skip("theory cache disabled or not writable here")
    code = ("import sys, numpy as np\n"
            "from robocarbon.simulate.design import get_design\n"
            "get_design('paper', n_cities=40).draw(np.random.default_rng(0))\n"
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"
