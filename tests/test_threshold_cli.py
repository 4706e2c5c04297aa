"""The ``robocarbon threshold`` command, multiple thresholds and the LR plot, on synthetic panels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.threshold import candidate_values, threshold, threshold_fit
from robocarbon.reports.cli import main


def _panel(seed=0, N=60, T=8, gammas=(-0.5, 0.6), slopes=(1.0, 2.5, 0.0), unbalanced=False):
    rng = np.random.default_rng(seed)
    ent = np.repeat(np.arange(N), T)
    tim = np.tile(np.arange(2000, 2000 + T), N)
    n = N * T
    q = rng.normal(size=n)
    x = rng.normal(size=n) + 1.0
    w = rng.normal(size=n)
    edges = [-np.inf, *gammas, np.inf]
    b = np.select([(q > edges[j]) & (q <= edges[j + 1]) for j in range(len(slopes))], slopes)
    y = rng.normal(size=N)[ent] + 0.1 * (tim - 2000) + b * x + 0.3 * w + 0.5 * rng.normal(size=n)
    df = pd.DataFrame({"city": ent, "year": tim, "y": y, "x": x, "q": q, "w": w})
    if unbalanced:
        df = df.sample(frac=0.85, random_state=seed).sort_index()
    return df


def test_cli_writes_json_plot_and_manifest(tmp_path):
    df = _panel(1)
    df.loc[3, "w"] = np.nan  # a missing value is dropped and counted
    data = tmp_path / "panel.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "out" / "th.json"
    rc = main([
        "threshold", "--data", str(data), "--y", "y", "--regime", "x", "--q", "q", "--x", "w",
        "--entity", "city", "--time", "year", "--time-effects", "--n-thresholds", "2",
        "--trim", "0.05", "--grid", "100", "--bootstrap", "49", "--seed", "3",
        "--json", str(out), "--plot", str(tmp_path / "out" / "lr"),
    ])
    assert rc == 0
    js = json.loads(out.read_text())
    for key in ("thresholds", "intervals", "rss", "tests", "slopes"):
        assert key in js
    assert len(js["thresholds"]) == 2 and len(js["intervals"]) == 2
    assert set(js["rss"]) == {"linear", "single", "double"}
    assert [t["test"] for t in js["tests"]] == ["0 vs 1 thresholds", "1 vs 2 thresholds"]
    for t in js["tests"]:
        assert 0 <= t["p_value"] <= 1 and set(t["critical_values"]) == {"90", "95", "99"}
    assert [s["term"] for s in js["slopes"]] == ["x_regime1", "x_regime2", "x_regime3", "w"]
    assert all(s["se"] > 0 for s in js["slopes"])
    assert js["nobs_dropped"] == 1 and js["result"]["diagnostics"]["dropped"]["missing"] == 1
    # the two true thresholds are found (the sample grid is coarse: within 0.15)
    assert js["thresholds"][0] == pytest.approx(-0.5, abs=0.15)
    assert js["thresholds"][1] == pytest.approx(0.6, abs=0.15)
    assert (tmp_path / "out" / "lr.png").stat().st_size > 1000
    assert "<svg" in (tmp_path / "out" / "lr.svg").read_text()[:500]
    # the run's manifest is named after its primary output (never a shared manifest.json)
    assert json.loads((tmp_path / "out" / "th.manifest.json").read_text())["seed"] == 3


def test_cli_bad_column_exits_2_without_output(tmp_path, capsys):
    data = tmp_path / "panel.csv"
    _panel(2).to_csv(data, index=False)
    out = tmp_path / "th.json"
    rc = main(["threshold", "--data", str(data), "--y", "y", "--regime", "nope", "--q", "q",
               "--entity", "city", "--time", "year", "--json", str(out), "--bootstrap", "0"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "'nope'" in err
    assert not out.exists()


def test_duplicates_and_bad_options_raise():
    df = _panel(3)
    dup = pd.concat([df, df.iloc[:1]])
    with pytest.raises(InputError, match="duplicate"):
        threshold(dup, y="y", regime="x", q="q", entity="city", time="year", bootstrap=0)
    with pytest.raises(InputError, match="n-thresholds"):
        threshold(df, y="y", regime="x", q="q", entity="city", time="year", n_thresholds=4, bootstrap=0)
    with pytest.raises(InputError, match="trim"):
        threshold(df, y="y", regime="x", q="q", entity="city", time="year", trim=0.6, bootstrap=0)
    with pytest.raises(InputError, match="collinear"):
        threshold(df.assign(w2=2 * df["w"]), y="y", regime="x", q="q", entity="city", time="year", controls=["w", "w2"], bootstrap=0)


def test_triple_threshold_and_refinement_unbalanced():
    df = _panel(4, N=80, T=10, gammas=(-0.8, 0.0, 0.8), slopes=(0.0, 1.5, 3.0, 4.5), unbalanced=True)
    res = threshold(df, y="y", regime="x", q="q", entity="city", time="year", controls=["w"], time_effects=True, n_thresholds=3,
                    trim=[0.05, 0.05, 0.05], grid=200, bootstrap=[19, 19, 19], seed=5)
    dg = res.diagnostics
    assert not dg["balanced"]
    np.testing.assert_allclose(dg["thresholds"], [-0.8, 0.0, 0.8], atol=0.1)
    np.testing.assert_allclose(res.params[:4], [0.0, 1.5, 3.0, 4.5], atol=0.25)
    # RSS never increases with more thresholds; the refined double model is no worse
    rss = [m["rss"] for m in dg["models"]]
    assert rss == sorted(rss, reverse=True)
    assert dg["models"][2]["rss"] <= dg["models"][2]["rss_before_refinement"] + 1e-12
    # every regime keeps at least the trimmed share
    assert min(r["nobs"] for r in dg["regimes"]) >= dg["min_regime_obs"][0]
    assert [t["p_value"] for t in dg["tests"]][:2] == [0.0, 0.0]


def test_grid_candidates_respect_trimming():
    q = np.random.default_rng(0).normal(size=1000)
    for trim in (0.01, 0.1, 0.25):
        c = candidate_values(q, trim, 50)
        cuts = np.searchsorted(np.sort(q), c, side="right")
        assert cuts.min() >= np.ceil(trim * 1000) and (1000 - cuts).min() >= np.ceil(trim * 1000)
        # Hansen's grid: quantiles trim, trim + 1/50, ..., 1 - trim of the distinct values
        k = int(np.floor(50 * (1 - 2 * trim) + 1e-9)) + 1
        assert k - 2 <= c.size <= k
        srt = np.sort(q)
        assert c[0] == srt[int(np.floor(trim * 1000)) - 1] or c[0] == srt[int(np.floor(trim * 1000))]
    exact = candidate_values(q, 0.1, None)
    assert exact.size == 1000 - 2 * 100 + 1


def test_two_regime_regressors_match_direct_fit():
    rng = np.random.default_rng(9)
    N, T = 30, 6
    ent = np.repeat(np.arange(N), T)
    n = N * T
    x = rng.normal(size=(n, 2))
    q = rng.uniform(size=n)
    y = rng.normal(size=N)[ent] + x @ [1.0, -1.0] + (q > 0.5) * (x @ [1.0, 1.0]) + rng.normal(size=n)
    res = threshold_fit(y, x, q, ent, None, None, trim=0.1, exact=True, bootstrap=0,
                        regime_names=["a", "b"])
    assert list(res.terms) == ["a_regime1", "a_regime2", "b_regime1", "b_regime2"]
    assert res.diagnostics["rss_direct"] == pytest.approx(res.diagnostics["models"][1]["rss"], rel=1e-10)
    assert res.diagnostics["thresholds"][0] == pytest.approx(0.5, abs=0.1)
