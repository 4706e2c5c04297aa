"""Shift-share diagnostics on the ADH China-shock data against published numbers (ShiftShareSE,
Stata) and an R (AER/sandwich) reference; exact identities of the Rotemberg decomposition."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.provenance import file_sha256
from robocarbon.empirics.shiftshare import (
    recover_shocks, rotemberg, shares_matrix, shiftshare, shiftshare_arrays,
)
from conftest import require_file

CONFIGS = ["weighted_full", "unweighted_full", "weighted_t2", "unweighted_t2"]


@pytest.fixture(scope="module")
def adh(shared_data, reference_dir):
    ref = json.loads((reference_dir / "shiftshare" / "adh.json").read_text())
    folder = shared_data / "adh"
    for name, sha in ref["data"]["files"].items():
        f = require_file(folder / name)
        assert file_sha256(f) == sha, f"{f} differs from the data the reference was made from"
    data = pd.read_csv(folder / "ADHdata_AKM.csv")
    shares = pd.read_csv(folder / "ADH_shares.csv.gz")
    return data, shares, ref


@pytest.fixture(scope="module")
def adh_fits(adh):
    data, shares, ref = adh
    spec = ref["spec"]
    out = {}
    for cfg in CONFIGS:
        weighted, ctl = cfg.split("_")
        out[cfg] = shiftshare(
            data, shares, y=spec["y"], x=spec["x"], instrument=spec["instrument"],
            controls=spec["controls_" + ctl], weights=spec["weights"] if weighted == "weighted" else None,
            cluster=spec["cluster"], sector=spec["sector"])
    return out


@pytest.mark.parametrize("cfg", CONFIGS)
def test_2sls_and_standard_errors_match_published(adh, adh_fits, cfg):
    ref = adh[2]
    want, tol = ref["values"][cfg], ref["tolerance"]
    r = adh_fits[cfg]
    inf = r.diagnostics["inference"]
    got = {"beta": r.params[0], "first_stage": r.diagnostics["first_stage"],
           "se_homoskedastic": inf["homoskedastic"]["std_error"], "se_ehw": inf["ehw"]["std_error"],
           "se_region_cluster": inf["region_cluster"]["std_error"]}
    for k, v in want.items():
        if k.endswith("_ci"):
            m = k[:-3]
            np.testing.assert_allclose([inf[m]["conf_low"], inf[m]["conf_high"]], v, rtol=0,
                                       atol=tol[k]["abs"], err_msg=k)
        else:
            assert got[k] == pytest.approx(v, abs=tol[k]["abs"]), k


@pytest.mark.parametrize("cfg", CONFIGS)
def test_matches_r_aer_sandwich(reference_dir, adh_fits, cfg):
    ref = json.loads((reference_dir / "shiftshare" / "adh_r.json").read_text())
    r = adh_fits[cfg]
    inf = r.diagnostics["inference"]
    got = {"beta": r.params[0], "first_stage": r.diagnostics["first_stage"],
           "se_homoskedastic": inf["homoskedastic"]["std_error"], "se_ehw": inf["ehw"]["std_error"],
           "se_region_cluster": inf["region_cluster"]["std_error"]}
    for k, v in ref["values"][cfg].items():
        assert got[k] == pytest.approx(v, rel=ref["tolerance"][k]["rel"]), k


def test_akm_is_the_result_covariance(adh_fits):
    r = adh_fits["weighted_full"]
    assert r.cov_type == "akm" and r.df_resid is None
    lo, hi = r.conf_int().iloc[0]
    assert (lo, hi) == pytest.approx((-0.810991, -0.381729), abs=1e-6)
    assert r.diagnostics["inference"]["akm0"]["set"] == "interval"


def test_instrument_rebuilt_from_shares_times_recovered_shocks(adh):
    data, shares, _ = adh
    W, labels = shares_matrix(shares, len(data), sector=["sic", "t2"])
    assert W.shape == (1444, 770) and W.sum(axis=1).max() < 0.71  # incomplete shares (at most ~0.70)
    g, fit = recover_shocks(W, data["IV"].to_numpy(), names=labels)
    # 1444 equations, 770 unknowns: an exact fit up to the 8-digit rounding of the shares file
    assert fit["max_abs_error"] < 1e-4 and fit["rms_error"] < 1e-5
    np.testing.assert_allclose(W @ g, data["IV"], atol=1e-4)
    # the check can fail: the outcome is not a shift-share variable in these shares
    _, bad = recover_shocks(W, data["d_sh_empl_mfg"].to_numpy())
    assert bad["max_abs_error"] > 1.0
    # the recovered shocks for electronic computers (SIC 3571) in 2000-07 match the
    # bartik-weight package's published trade shock, 189.117
    assert g[labels.index((3571, True))] == pytest.approx(189.117, abs=1e-3)


def test_rotemberg_decomposition_identities(adh, adh_fits):
    data, shares, ref = adh
    r = adh_fits["weighted_full"]
    rot = r.diagnostics["rotemberg"]
    tab = pd.DataFrame(rot["table"])
    assert tab.alpha.sum() == pytest.approx(1.0, abs=1e-12)
    assert rot["sum_negative"] + rot["sum_positive"] == pytest.approx(1.0, abs=1e-12)
    assert rot["sum_negative"] < 0 and 0 < rot["share_negative"] < 1
    # sum_k alpha_k beta_k is the 2SLS estimate with the instrument W g (exact identity)
    W, labels = shares_matrix(shares, len(data), sector=["sic", "t2"])
    z = W @ np.nan_to_num(tab.g.to_numpy())
    from robocarbon.empirics.shiftshare import design_matrix
    C, _ = design_matrix(data, ref["spec"]["controls_full"])
    w = data.weights.to_numpy()
    sw = np.sqrt(w)
    Q, _ = np.linalg.qr(C * sw[:, None])

    def res(v):  # weighted residual on the controls
        v = v * sw
        return (v - Q @ (Q.T @ v)) / sw

    dz, dx, dy = res(z), res(data.shock.to_numpy()), res(data.d_sh_empl_mfg.to_numpy())
    b = np.sum(w * dz * dy) / np.sum(w * dz * dx)
    assert rot["beta_bartik"] == pytest.approx(b, rel=1e-10)
    # which is the published estimate up to the rounding of the shares file
    assert rot["beta_bartik"] == pytest.approx(-0.5963601, abs=1e-6)
    top = pd.DataFrame(rot["by_industry"]["top"])
    assert top.sector.iloc[0] == 3571 and top.alpha.is_monotonic_decreasing
    agg = pd.DataFrame(rot["by_industry"]["table"])
    assert agg.alpha.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.nansum(agg.alpha * agg.beta) == pytest.approx(rot["beta_bartik"], rel=1e-10)


def _synthetic(seed=0, n=200, K=8):
    rng = np.random.default_rng(seed)
    W = rng.dirichlet(np.ones(K), size=n) * rng.uniform(0.5, 1.0, (n, 1))
    g = rng.normal(size=K)
    z = W @ g
    C = np.column_stack([np.ones(n), rng.normal(size=n)])
    v = rng.normal(size=n)
    x = 0.8 * z + C[:, 1] + v
    y = -0.5 * x + 0.3 * C[:, 1] + 0.5 * v + W @ rng.normal(size=K) * 0.5 + rng.normal(size=n)
    return y, x, z, W, g, C


def test_ols_ehw_and_cluster_match_hc1_cr1():
    y, x, z, W, g, C = _synthetic(1)
    n = len(y)
    res = shiftshare_arrays(y, z, W, controls=C, region_clusters=np.arange(n) % 20)
    X = np.column_stack([z, C])
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    e = y - X @ b
    B = np.linalg.inv(X.T @ X)
    hc1 = B @ (X.T * e**2) @ X @ B * n / (n - 3)
    assert res["beta"] == pytest.approx(b[0], rel=1e-12)
    assert res["ehw"]["std_error"] == pytest.approx(np.sqrt(hc1[0, 0]), rel=1e-10)
    cl = np.arange(n) % 20
    S = np.array([X[cl == c].T @ e[cl == c] for c in range(20)])
    cr1 = B @ S.T @ S @ B * 20 / 19 * (n - 1) / (n - 3)
    assert res["region_cluster"]["std_error"] == pytest.approx(np.sqrt(cr1[0, 0]), rel=1e-10)


def test_akm_formula_and_sector_clusters():
    y, x, z, W, g, C = _synthetic(2)
    res = shiftshare_arrays(y, x, W, instrument=z, controls=C)
    # AKM by hand: residualise, shocks of the residualised instrument, sector sums of residuals
    M = np.eye(len(y)) - C @ np.linalg.pinv(C)
    dz, dx, dy = M @ z, M @ x, M @ y
    beta = (dz @ dy) / (dz @ dx)
    e = dy - beta * dx  # structural residual (controls partialled out)
    hX = np.linalg.lstsq(W, dz, rcond=None)[0]
    se = np.sqrt(np.sum((hX * (W.T @ e)) ** 2)) / abs(dz @ dx)
    assert res["beta"] == pytest.approx(beta, rel=1e-10)
    assert res["akm"]["std_error"] == pytest.approx(se, rel=1e-8)
    # one sector per cluster = no clustering; one big cluster = |sum| instead of the root sum of squares
    same = shiftshare_arrays(y, x, W, instrument=z, controls=C, sector_clusters=np.arange(W.shape[1]))
    assert same["akm"]["std_error"] == pytest.approx(res["akm"]["std_error"], rel=1e-12)
    one = shiftshare_arrays(y, x, W, instrument=z, controls=C, sector_clusters=np.zeros(W.shape[1]))
    assert one["akm"]["std_error"] == pytest.approx(abs(np.sum(hX * (W.T @ e))) / abs(dz @ dx), rel=1e-8)
    # AKM0 p-value at beta0 = beta-hat is one, and beta-hat lies inside the AKM0 interval
    at = shiftshare_arrays(y, x, W, instrument=z, controls=C, beta0=res["beta"])
    assert at["akm0"]["p_value"] == pytest.approx(1.0)
    assert res["akm0"]["conf_low"] < res["beta"] < res["akm0"]["conf_high"]


def test_rotemberg_synthetic_identity_and_scale_invariance():
    y, x, z, W, g, C = _synthetic(3)
    r1 = rotemberg(y, x, W, g, controls=C)
    r2 = rotemberg(y, x, W, 7.0 * g, controls=C)
    np.testing.assert_allclose([d["alpha"] for d in r1["table"]], [d["alpha"] for d in r2["table"]])
    iv = shiftshare_arrays(y, x, W, instrument=W @ g, controls=C)["beta"]
    assert r1["beta_bartik"] == pytest.approx(iv, rel=1e-10)
    # a single sector: its alpha is one and its beta is the IV estimate
    r3 = rotemberg(y, x, W[:, :1], g[:1], controls=C)
    assert r3["table"][0]["alpha"] == pytest.approx(1.0)


def test_errors():
    y, x, z, W, g, C = _synthetic(4, n=30, K=4)
    W = W * 0.4
    data = pd.DataFrame({"y": y, "x": x, "z": z})
    long = pd.DataFrame([(i + 1, k, W[i, k]) for i in range(30) for k in range(4)],
                        columns=["row", "industry", "share"])
    r = shiftshare(data, long, y="y", x="x", instrument="z")
    assert r.nobs == 30
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        shiftshare(data, long.assign(share=long.share * 10), y="y", x="x", instrument="z")
    over = long.copy()
    over.loc[over.row == 2, "share"] = 0.5
    with pytest.raises(InputError, match="sum to more than one"):
        shiftshare(data, over, y="y", x="x", instrument="z")
    with pytest.raises(InputError, match="not found"):
        shiftshare(data, long, y="nope", x="x")
    with pytest.raises(InputError, match="duplicate"):
        shiftshare(data, pd.concat([long, long.head(1)]), y="y", x="x", instrument="z")
    dup = long.copy()
    dup.loc[dup.industry == 3, "share"] = dup.loc[dup.industry == 2, "share"].to_numpy()
    with pytest.raises(InputError, match="collinear"):
        shiftshare(data, dup, y="y", x="x", instrument="z")
    with pytest.raises(InputError, match="cov_type"):
        shiftshare(data, long, y="y", x="x", cov_type="hc3")


def test_just_identified_betas_match_gpss_published(adh_fits):
    """Goldsmith-Pinkham, Sorkin and Swift's ADH example (bartik-weight package README, Table 5
    panel D): top industries of 2000-07 with g and beta to 3 decimals. beta_k depends only on the
    industry's share column and g_k on the instrument, so they are comparable across the two
    packages' data; SIC 3944 and 3577 are aggregated differently in ShiftShareSE's 770-sector
    data (390 x 2 industry-periods there), so only 3571, 3651 and 3661 are compared, and the
    alphas (which depend on every sector) are not."""
    t = pd.DataFrame(adh_fits["weighted_full"].diagnostics["rotemberg"]["table"])
    t.index = [tuple(s) for s in t.sector]
    published = {3571: (189.117, -0.620), 3651: (218.216, -0.147), 3661: (94.577, -0.308)}
    for sic, (g, beta) in published.items():
        row = t.loc[[(sic, True)]].iloc[0]
        assert row.g == pytest.approx(g, abs=1e-3) and row.beta == pytest.approx(beta, abs=1e-3), sic


@pytest.mark.parametrize("case", ["residual_sector", "sic_clusters", "sic3_clusters"])
def test_residual_sector_and_sector_clusters_match_shiftsharese(adh, reference_dir, case):
    data, shares, _ = adh
    ref = json.loads((reference_dir / "shiftshare" / "adh_akm_options.json").read_text())
    spec, want = ref["spec"], ref["values"][case]
    sh = shares.assign(sic3=shares.sic // 10, sic_cluster=shares.sic)
    sc = {"residual_sector": None, "sic_clusters": "sic_cluster", "sic3_clusters": "sic3"}[case]
    r = shiftshare(data, sh, y=spec["y"], x=spec["x"], instrument=spec["instrument"],
                   controls=spec["controls"], weights=spec["weights"], cluster=spec["cluster"],
                   sector=spec["sector"], residual_sector=True, sector_cluster=sc)
    inf = r.diagnostics["inference"]
    tol = ref["tolerance"]
    for m in ("akm", "akm0"):
        np.testing.assert_allclose([inf[m]["conf_low"], inf[m]["conf_high"]], want[m + "_ci"],
                                   rtol=0, atol=tol["ci"]["abs"], err_msg=f"{case} {m}")
        assert inf[m]["p_value"] == pytest.approx(want[m + "_p"], rel=tol["p"]["rel"])


def test_akm0_sets_under_weak_identification(adh):
    """ShiftShareSE's 'AKM0 under weak ID' test: on subsets of divisions the AKM0 set is an
    interval (division < 8), the complement of an interval (< 7) or the real line (< 6)."""
    data, shares, ref = adh
    kinds = {}
    for lim in (8, 7, 6):
        keep = data.division < lim
        sub = data[keep].reset_index(drop=True)
        newrow = dict(zip(np.flatnonzero(keep) + 1, range(1, keep.sum() + 1)))
        sh = shares[shares.row.isin(newrow)].assign(row=lambda s: s.row.map(newrow))
        r = shiftshare(sub, sh, y="d_sh_empl", x="shock", instrument="IV",
                       controls=ref["spec"]["controls_full"], cluster="statefip",
                       sector=["sic", "t2"], residual_sector=True)
        a0 = r.diagnostics["inference"]["akm0"]
        kinds[lim] = a0["set"]
        if a0["set"] == "interval":
            assert a0["conf_low"] < r.params[0] < a0["conf_high"]
        else:
            assert a0["std_error"] == np.inf
        if a0["set"] == "complement":
            assert a0["conf_high"] < a0["conf_low"]
        if a0["set"] == "real line":
            assert (a0["conf_low"], a0["conf_high"]) == (-np.inf, np.inf)
    assert kinds == {8: "interval", 7: "complement", 6: "real line"}


def test_rows_with_missing_values_are_dropped_and_reported():
    y, x, z, W, g, C = _synthetic(5, n=40, K=4)
    data = pd.DataFrame({"y": y, "x": x, "z": z, "c": C[:, 1]})
    data.loc[3, "c"] = np.nan
    data.loc[7, "y"] = np.nan
    full = shiftshare_arrays(np.delete(y, [3, 7]), np.delete(x, [3, 7]), np.delete(W, [3, 7], axis=0),
                             instrument=np.delete(z, [3, 7]),
                             controls=np.delete(C, [3, 7], axis=0))
    r = shiftshare(data, W, y="y", x="x", instrument="z", controls=["c"])
    assert r.nobs == 38 and r.nobs_dropped == 2 and r.diagnostics["dropped"][0]["rows"] == 2
    assert r.params[0] == pytest.approx(full["beta"], rel=1e-12)
    assert r.std_errors.iloc[0] == pytest.approx(full["akm"]["std_error"], rel=1e-10)
