"""Hansen (1999) investment and leverage data, the xthreg example: published numbers and exact
identities (direct separate regressions at the candidates)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scipy import linalg as sla

from robocarbon.empirics.linalg import demean, factorize, qr_lstsq
from robocarbon.empirics.provenance import file_sha256
from robocarbon.empirics.threshold import lr_critical_value, threshold


CONTROLS = ["q1", "q2", "q3", "d1", "qd1"]


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "threshold" / "hansen1999.json").read_text())


@pytest.fixture(scope="module")
def data(shared_data, ref):
    path = shared_data / ref["input"]
    if not path.exists():
        pytest.skip(f"validation file {path} is absent from the data mirror")
    assert file_sha256(path) == ref["input_sha256"]
    return pd.read_stata(path)


class _Direct:
    """Separate least-squares fits at given thresholds: within-transform once, QR per fit."""

    def __init__(self, d: pd.DataFrame):
        self.ent, _ = factorize(d["id"].to_numpy())
        self.q = d["d1"].to_numpy(dtype=float)
        self.x = d["c1"].to_numpy(dtype=float)
        M, _ = demean(np.column_stack([d["i"].to_numpy(float), d[CONTROLS].to_numpy(float), self.x]), [self.ent])
        self.yd, self.Wd, self.xd = M[:, 0], M[:, 1:-1], M[:, -1]

    def rss(self, gammas=()) -> float:
        cols = [self.Wd, self.xd[:, None]]
        for g in gammas:
            z, _ = demean(self.x * (self.q <= g), [self.ent])
            cols.append(z[:, None])
        Q, _ = sla.qr(np.hstack(cols), mode="economic")
        resid = self.yd - Q @ (Q.T @ self.yd)
        return float(resid @ resid)


def _profile(res, which=0):
    lr = res.diagnostics["lr"][which]
    m = res.diagnostics["models"][1]
    return np.array(lr["gamma"]), m["rss"] + np.array(lr["lr"]) * m["sigma2"]


def test_xthreg_reference_command(data, ref):
    """xthreg i q1 q2 q3 d1 qd1, rx(c1) qx(d1) thnum(1) trim(0.01) grid(400) bs(300)."""
    res = threshold(data, y="i", regime=["c1"], q="d1", entity="id", time="year", controls=CONTROLS, trim=0.01, grid=400, bootstrap=300, seed=12345
    )
    dg = res.diagnostics
    direct = _Direct(data)
    (g,) = dg["thresholds"]
    tol = ref["tolerance"]["first_threshold"]["abs"]
    assert abs(g - ref["values"]["first_threshold"]) < tol
    # linear and threshold RSS against separate direct regressions (1e-10)
    s0, s1 = dg["rss"][0], dg["rss"][1]
    assert s0 == pytest.approx(direct.rss(), rel=1e-10)
    assert s1 == pytest.approx(direct.rss([g]), rel=1e-10)
    # and the slopes equal the project's QR least squares on the within-transformed data
    z, _ = demean(direct.x * (direct.q <= g), [direct.ent])
    fit = qr_lstsq(np.column_stack([z, direct.xd - z, direct.Wd]), direct.yd)
    np.testing.assert_allclose(res.params, fit.beta, rtol=1e-9)
    assert dg["rss_direct"] == pytest.approx(s1, rel=1e-10)
    # F statistic from its definition, sigma2 = S1 / (n - N)
    n, N = res.nobs, dg["n_entities"]
    assert (n, N) == (7910, 565)
    (test,) = dg["tests"]
    assert test["F"] == pytest.approx((s0 - s1) / (s1 / (n - N)), rel=1e-12)
    cv = test["critical_values"]
    assert 0.0 <= test["p_value"] <= 1.0
    assert cv["90"] <= cv["95"] <= cv["99"]
    assert test["bootstrap"] == 300
    # the LR interval: contains the estimate, and every point of the curve inside has LR <= c
    c = ref["values"]["lr_critical_value_95"]
    assert dg["lr"][0]["critical_value"] == pytest.approx(c, abs=ref["tolerance"]["lr_critical_value_95"]["abs"])
    lo, hi = dg["intervals"][0]
    assert lo <= g <= hi
    gam, prof = _profile(res)
    lr = np.array(dg["lr"][0]["lr"])
    assert lr.min() == 0.0 and gam[np.argmin(lr)] == g
    assert lr[(gam == lo) | (gam == hi)].max() <= c
    assert np.all(lr[(gam < lo) | (gam > hi)] > c)
    region = dg["lr"][0]["region"]
    assert region[0][0] == lo and region[-1][1] == hi
    inside = np.zeros(gam.size, dtype=bool)
    for a, b in region:
        inside |= (gam >= a) & (gam <= b)
    np.testing.assert_array_equal(inside, lr <= c)
    # slopes: two regimes of c1 plus the five controls, with clustered SEs
    assert list(res.terms) == ["c1_regime1", "c1_regime2", *CONTROLS]
    assert np.all(res.std_errors > 0)
    assert res.cov_type == "cluster"
    # the grid's profile is exact at a spread of its points
    for j in np.linspace(0, gam.size - 1, 6).astype(int):
        assert prof[j] == pytest.approx(direct.rss([gam[j]]), rel=1e-10)
    # reproducible with the same seed
    again = threshold(data, y="i", regime=["c1"], q="d1", entity="id", time="year", controls=CONTROLS, trim=0.01, grid=400, bootstrap=300, seed=12345)
    assert again.diagnostics["tests"][0]["p_value"] == test["p_value"]


@pytest.fixture(scope="module")
def exact(data):
    return threshold(data, y="i", regime=["c1"], q="d1", entity="id", time="year", controls=CONTROLS, trim=0.01, exact=True, bootstrap=0)


def test_exact_search_unique_minimiser(data, ref, exact):
    res = exact
    gam, prof = _profile(res)
    (g,) = res.diagnostics["thresholds"]
    assert res.diagnostics["search"] == "exact"
    assert gam.size == res.diagnostics["candidates"] > 6000  # every distinct value in the trimmed range
    order = np.argsort(prof)
    smin = prof[order[0]]
    assert gam[order[0]] == g
    # unique: the runner-up is strictly worse, far beyond rounding
    assert prof[order[1]] > smin * (1.0 + 1e-10)
    # brute force: separate QR regressions at the 100 best candidates and 100 drawn from the rest
    rng = np.random.default_rng(0)
    subset = np.unique(np.concatenate([order[:100], rng.choice(gam.size, 100, replace=False)]))
    direct = _Direct(data)
    rss = np.array([direct.rss([gam[j]]) for j in subset])
    np.testing.assert_allclose(prof[subset], rss, rtol=1e-10)
    assert rss.min() >= smin * (1.0 - 1e-10)
    assert gam[subset][np.argmin(rss)] == g
    # Hansen's 400-quantile grid contains the exact minimiser, so the grid search lands on it
    on_grid = threshold(data, y="i", regime=["c1"], q="d1", entity="id", time="year", controls=CONTROLS, trim=0.01, grid=400, bootstrap=0)
    assert on_grid.diagnostics["thresholds"][0] == g
    assert on_grid.diagnostics["candidates"] == 392  # 393 quantiles, one lost to a tie
    # published: Hansen (1999) places the first threshold in leverage near 0.016
    assert abs(g - ref["values"]["first_threshold"]) < ref["tolerance"]["first_threshold"]["abs"]


def test_lr_critical_value_formula():
    assert lr_critical_value(0.95) == pytest.approx(7.3523, abs=5e-5)
    assert lr_critical_value(0.90) == pytest.approx(-2 * np.log(1 - np.sqrt(0.90)), rel=1e-15)


def test_exact_search_against_frozen_r_brute_force(exact, reference_dir, ref):
    """R (lm.fit at all 6,667 candidates; plm within and sandwich at the minimiser)."""
    r = json.loads((reference_dir / "threshold" / "hansen1999_R.json").read_text())
    assert r["input_sha256"] == ref["input_sha256"]
    v, tol = r["values"], r["tolerance"]
    dg = exact.diagnostics
    gam, prof = _profile(exact)
    order = np.argsort(prof)
    assert dg["candidates"] == v["n_candidates"]
    assert dg["thresholds"][0] == pytest.approx(v["threshold"], rel=tol["threshold"]["rel"])
    assert gam[order[1]] == pytest.approx(v["threshold_runner_up"], rel=tol["threshold"]["rel"])
    rt = tol["rss"]["rel"]
    assert prof[order[0]] == pytest.approx(v["rss_min"], rel=rt)
    assert prof[order[1]] == pytest.approx(v["rss_runner_up"], rel=rt)
    assert dg["rss"][0] == pytest.approx(v["rss_linear"], rel=rt)
    assert dg["rss_direct"] == pytest.approx(v["rss_threshold_plm"], rel=rt)
    for term, b in v["coefficients"].items():
        assert exact.coefficients[term] == pytest.approx(b, rel=tol["coefficients"]["rel"])
    # plm's type "sss" counts K = the k slopes; ours (fixest/reghdfe, as fe.fit) counts the
    # entity effects nested in the clusters as one more parameter: same meat, factor below
    n, k = exact.nobs, len(exact.terms)
    to_plm = np.sqrt((n - (k + 1)) / (n - k))
    for term, se in v["std_errors_cluster_sss"].items():
        assert exact.std_errors[term] * to_plm == pytest.approx(se, rel=tol["std_errors"]["rel"])
