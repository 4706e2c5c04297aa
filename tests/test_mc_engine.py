"""Monte Carlo engine: streams, diagnosands, bit-identical parallel runs, resumable checkpoints.

The engine is exercised on a small panel design defined here (a known slope, so the estimand is
exact), independent of the simulator's ``paper`` design.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics.errors import InputError
from robocarbon.simulate import engine
from robocarbon.simulate.engine import diagnose, replication_rng
from robocarbon.simulate.estimators import Estimator, get_estimator

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ToyDraw:
    panel: pd.DataFrame
    truth: dict
    arrays: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ToyDesign:
    """lnindco_it = beta robot_it + 0.5 edu_it + a_i + l_t + e_it; robot correlated with a_i, l_t.

    Errors are AR(1) within city (rho), so only city-clustered SEs are right."""

    name: str = "toy"
    params: dict = field(default_factory=lambda: {
        "cities": 40, "years": 6, "beta": -0.02, "rho": 0.5, "sleep": 0.0, "fail_every": 0,
        "did": -0.1})

    def with_params(self, **kv) -> ToyDesign:
        unknown = set(kv) - set(self.params)
        if unknown:
            raise ValueError(f"unknown parameters {unknown}")
        return ToyDesign(self.name, {**self.params, **kv})

    def draw(self, rng: np.random.Generator) -> ToyDraw:
        p = self.params
        G, T = int(p["cities"]), int(p["years"])
        if p["sleep"]:
            time.sleep(p["sleep"])
        a = rng.normal(size=G)
        lam = rng.normal(size=T)
        ent = np.repeat(np.arange(G), T)
        tim = np.tile(np.arange(T), G)
        robot = 2.0 + a[ent] + 0.3 * lam[tim] + rng.gamma(2.0, 1.0, size=G * T)
        edu = rng.normal(size=G * T)
        e = np.empty((G, T))
        e[:, 0] = rng.normal(size=G)
        for t in range(1, T):
            e[:, t] = p["rho"] * e[:, t - 1] + np.sqrt(1 - p["rho"] ** 2) * rng.normal(size=G)
        adopt = np.where(np.arange(G) % 3 == 0, 2007 + T // 2, np.nan)  # a third adopt mid-way
        D = (2007 + tim >= adopt[ent]).astype(float)
        hum = rng.uniform(size=G * T)
        y = (p["beta"] * robot + 0.5 * edu + a[ent] + lam[tim] + 0.2 * e.ravel()
             + p["did"] * D)
        if p["fail_every"] and rng.integers(p["fail_every"]) == 0:
            robot = np.zeros_like(robot)  # no variation: the estimator must raise
        panel = pd.DataFrame({
            "city": ent, "year": 2007 + tim, "province": ent // 4, "lnindco": y, "robot": robot,
            "edu": edu, "adopt_year": adopt[ent], "hum": hum,
        })
        return ToyDraw(panel, {"robot": float(p["beta"]), "did": float(p["did"])},
                       {"entity": ent, "time": tim})


def toy_twfe(draw):
    """A custom strategy: the registry's TWFE (a top-level function, picklable)."""
    return get_estimator("twfe")(draw)


def test_replication_streams_are_spawned_children():
    ss = np.random.SeedSequence(123)
    kids = ss.spawn(5)
    for r in (0, 3, 4):
        a = np.random.default_rng(kids[r]).random(4)
        b = replication_rng(123, 0, r, keyed_by_cell=False).random(4)
        assert np.array_equal(a, b)
    cell2 = np.random.SeedSequence(7).spawn(3)[2].spawn(6)[5]
    assert np.array_equal(np.random.default_rng(cell2).random(3),
                          replication_rng(7, 2, 5, keyed_by_cell=True).random(3))


def test_simulations_table_matches_result_tidy():
    design = ToyDesign()
    sims, diag = diagnose(design, ["twfe"], 6, seed=11, progress=False)
    assert list(sims.columns) == [c for c in engine.SIMULATION_COLUMNS if c != "cell"]
    assert (sims["rep"].to_numpy() == np.arange(6)).all()
    # recompute replication 4 by hand: the same stream, the general Result.tidy()
    draw = design.draw(replication_rng(11, 0, 4, keyed_by_cell=False))
    tidy = get_estimator("twfe")(draw)[0].tidy().set_index("term").loc["robot"]
    row = sims.iloc[4]
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        assert row[col] == tidy[col], col
    assert row["estimand"] == -0.02
    d = diag.iloc[0]
    assert d["sims"] == 6 and d["failures"] == 0
    err = sims["estimate"] - sims["estimand"]
    assert d["bias"] == pytest.approx(err.mean(), abs=1e-15)
    assert d["bias_mcse"] == pytest.approx(err.std(ddof=1) / np.sqrt(6))
    assert d["rmse"] == pytest.approx(np.sqrt((err**2).mean()))
    cov = ((sims["conf_low"] <= -0.02) & (sims["conf_high"] >= -0.02)).mean()
    assert d["coverage"] == cov


def test_coverage_and_bias_on_toy_design():
    """Unbiased estimator, right SEs: coverage inside the MC band, bias within 3 MC SE."""
    sims, diag = diagnose(ToyDesign(), ["twfe"], 400, seed=2026, progress=False)
    d = diag.set_index("term").loc["robot"]
    assert abs(d["bias"]) < 3 * d["bias_mcse"]
    band = 3 * np.sqrt(0.95 * 0.05 / 400)
    assert abs(d["coverage"] - 0.95) < band
    # the SE is right on average: mean SE close to the SD of the estimates
    assert d["mean_se"] == pytest.approx(d["sd_estimate"], rel=0.15)
    assert 0 < d["power"] < 1 and d["type_s"] <= 0.05 and d["exaggeration"] >= 1


def test_bit_identical_across_jobs_and_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    design = ToyDesign().with_params(cities=20, years=5)
    grid = {"beta": [0.0, -0.05]}
    ests = {"twfe": get_estimator("twfe"), "custom": toy_twfe}
    s1, d1 = diagnose(design, ests, 24, seed=5, grid=grid, jobs=1, progress=False)
    s2, d2 = diagnose(design, ests, 24, seed=5, grid=grid, jobs=2, chunk_size=7,
                      progress=False)
    pd.testing.assert_frame_equal(s1, s2, check_exact=True)
    pd.testing.assert_frame_equal(d1, d2, check_exact=True)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        s3, d3 = diagnose(design, ests, 24, seed=5, grid=grid, scheduler=client, chunk_size=5,
                          progress=False)
        # a scheduler address (what --scheduler passes) works the same way
        s4, _ = diagnose(design, ests, 24, seed=5, grid=grid,
                         scheduler=cluster.scheduler_address, progress=False)
    pd.testing.assert_frame_equal(s1, s4, check_exact=True)
    pd.testing.assert_frame_equal(s1, s3, check_exact=True)
    pd.testing.assert_frame_equal(d1, d3, check_exact=True)
    assert list(s1.columns[:3]) == ["cell", "beta", "rep"]
    assert len(s1) == 2 * 24 * (1 + 2)  # custom keeps every term (no estimands declared)
    assert list(d1["beta"]) == [0.0] * 3 + [-0.05] * 3


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    """SIGKILL a run midway; rerunning the same call completes it; the final table equals an
    uninterrupted run, with nothing lost or counted twice."""
    out = tmp_path / "mc"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from test_mc_engine import ToyDesign
        from robocarbon.simulate.engine import diagnose
        d = ToyDesign().with_params(cities=12, years=4, sleep=0.03)
        diagnose(d, ["twfe"], 60, seed=9, out={str(out)!r}, chunk_size=4, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            parts = list((out / "parts").glob("part-*.parquet")) if out.exists() else []
            if len(parts) >= 3 or proc.poll() is not None:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    n_parts = len(list((out / "parts").glob("part-*.parquet")))
    assert 3 <= n_parts < 15, "the kill must land midway"
    assert not (out / "simulations.parquet").exists()
    # a stale temporary file left by the kill must not be read
    (out / "parts" / ".part-junk.parquet.tmp").write_bytes(b"garbage")
    design = ToyDesign().with_params(cities=12, years=4, sleep=0.0)
    # sleep is a design parameter: the config differs, the folder refuses it
    with pytest.raises(InputError, match="different configuration"):
        diagnose(design, ["twfe"], 60, seed=9, out=out, progress=False)
    design = design.with_params(sleep=0.03)
    resumed, dres = diagnose(design, ["twfe"], 60, seed=9, out=out, chunk_size=9,
                             progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications_resumed"] == 4 * n_parts
    assert manifest["replications_run"] == 60 - 4 * n_parts
    fresh, dfresh = diagnose(design.with_params(sleep=0.0), ["twfe"], 60, seed=9,
                             progress=False)
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=True)
    pd.testing.assert_frame_equal(dres, dfresh, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "simulations.parquet"), fresh,
                                  check_exact=True)


def test_extending_sims_reuses_checkpoint(tmp_path):
    design = ToyDesign().with_params(cities=10, years=4)
    diagnose(design, ["twfe"], 10, seed=3, out=tmp_path, progress=False)
    more, _ = diagnose(design, ["twfe"], 25, seed=3, out=tmp_path, progress=False)
    assert json.loads((tmp_path / "manifest.json").read_text())["replications_run"] == 15
    fresh, _ = diagnose(design, ["twfe"], 25, seed=3, progress=False)
    pd.testing.assert_frame_equal(more, fresh, check_exact=True)
    fewer, dfew = diagnose(design, ["twfe"], 8, seed=3, out=tmp_path, progress=False)
    pd.testing.assert_frame_equal(fewer, fresh.iloc[:8], check_exact=True)
    assert int(dfew["sims"].iloc[0]) == 8


def test_failures_are_recorded_not_dropped():
    design = ToyDesign().with_params(cities=10, years=4, fail_every=3)
    sims, diag = diagnose(design, ["twfe"], 30, seed=1, progress=False)
    failed = sims["error"] != ""
    assert failed.any() and (~failed).any()
    assert sims.loc[failed, "estimate"].isna().all()
    assert "collinear" in sims.loc[failed, "error"].iloc[0] or "variation" in sims.loc[failed, "error"].iloc[0]
    d = diag.iloc[0]
    assert d["failures"] == failed.sum() and d["sims"] == (~failed).sum()


def test_bad_inputs():
    with pytest.raises(InputError, match="sims"):
        diagnose(ToyDesign(), ["twfe"], 0, seed=1, progress=False)
    with pytest.raises(InputError, match="unknown estimator"):
        diagnose(ToyDesign(), ["nope"], 2, seed=1, progress=False)
    with pytest.raises(InputError, match="not parameters"):
        diagnose(ToyDesign(), ["twfe"], 2, seed=1, grid={"cites": [1, 2]}, progress=False)


def test_estimand_mapping_and_custom_estimator():
    est = Estimator("mine", toy_twfe, {"robot": ("absent", "robot"), "edu": "nothing"})
    sims, diag = diagnose(ToyDesign(), [est], 5, seed=4, progress=False)
    assert list(diag["term"]) == ["robot", "edu"]
    assert (sims.loc[sims.term == "robot", "estimand"] == -0.02).all()
    assert sims.loc[sims.term == "edu", "estimand"].isna().all()
    assert np.isnan(diag.loc[diag.term == "edu", "bias"].iloc[0])


def test_extras_carried_and_averaged():
    sims, diag = diagnose(ToyDesign().with_params(cities=16, years=4), ["twfe", "iv"], 5, seed=8,
                          progress=False)
    assert "first_stage_f" in sims.columns and "mean_first_stage_f" in diag.columns
    iv_rows = sims[sims.estimator == "iv"]
    assert (iv_rows["first_stage_f"] > 0).all()
    assert sims.loc[sims.estimator == "twfe", "first_stage_f"].isna().all()
    d = diag.set_index("estimator")
    assert d.loc["iv", "mean_first_stage_f"] == pytest.approx(iv_rows["first_stage_f"].mean())


def test_did_and_threshold_strategies_run_on_a_design():
    sims, diag = diagnose(ToyDesign().with_params(cities=30, years=6), ["did", "threshold"], 4,
                          seed=2, progress=False)
    assert list(diag["term"]) == ["D", "robot_regime1", "robot_regime2"]
    assert (sims["error"] == "").all()
    did = sims[sims.estimator == "did"]
    assert (did["estimand"] == -0.1).all() and did["estimate"].between(-0.5, 0.3).all()
    thr = sims[sims.estimator == "threshold"]
    assert thr["threshold_hat"].between(0, 1).all() and thr["estimand"].isna().all()


def test_common_random_numbers_exact_identity():
    """With common random numbers every cell sees the same draws; the toy outcome is linear in
    beta, so the TWFE estimates of two cells differ by exactly the difference in beta."""
    design = ToyDesign().with_params(cities=12, years=4)
    sims, _ = diagnose(design, ["twfe"], 5, seed=6, grid={"beta": [0.0, 0.3]},
                       common_random_numbers=True, progress=False)
    a = sims[sims.beta == 0.0]["estimate"].to_numpy()
    b = sims[sims.beta == 0.3]["estimate"].to_numpy()
    np.testing.assert_allclose(b - a, 0.3, rtol=1e-9)
    indep, _ = diagnose(design, ["twfe"], 5, seed=6, grid={"beta": [0.0, 0.3]}, progress=False)
    c = indep[indep.beta == 0.3]["estimate"].to_numpy()
    assert not np.allclose(c - a, 0.3)


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 13))
def test_chunk_size_does_not_change_results(chunk):
    design = ToyDesign().with_params(cities=8, years=3)
    ref, _ = diagnose(design, ["twfe"], 13, seed=21, chunk_size=13, progress=False)
    got, _ = diagnose(design, ["twfe"], 13, seed=21, chunk_size=chunk, progress=False)
    pd.testing.assert_frame_equal(ref, got, check_exact=True)


def test_chunk_inference_is_scipy_stats_to_the_bit():
    """The per-chunk inference columns call the special functions scipy.stats.t / norm
    evaluate; they equal the frozen distributions exactly (t with df_resid degrees of freedom,
    the normal when df_resid is missing), zero and infinite statistics included."""
    from scipy import stats

    rng = np.random.default_rng(0)
    est = rng.normal(size=40)
    se = rng.gamma(1.0, size=40)
    se[:3] = [0.0, np.inf, np.nan]
    est[3] = 0.0
    dfr = np.where(np.arange(40) % 3 == 0, np.nan, np.where(np.arange(40) % 3 == 1, 5.0, 261.0))
    for level in (0.95, 0.9):
        stat, p, low, high = engine._inference(est, se, dfr, level)
        with np.errstate(divide="ignore", invalid="ignore"):
            assert np.array_equal(stat, est / se, equal_nan=True)
        for i in range(40):
            dist = stats.norm if np.isnan(dfr[i]) else stats.t(dfr[i])
            q = dist.ppf(0.5 + level / 2.0)
            assert np.array_equal(p[i], 2.0 * dist.sf(np.abs(stat[i])), equal_nan=True)
            assert np.array_equal(low[i], est[i] - q * se[i], equal_nan=True)
            assert np.array_equal(high[i], est[i] + q * se[i], equal_nan=True)


def test_chunk_frame_has_the_table_dtypes():
    """A chunk's frame (built column by column) is already in the normal form of the table:
    normalising it again changes nothing, failures included."""
    design = ToyDesign().with_params(fail_every=2)
    task = engine.ChunkTask(design, tuple(engine.resolve_estimators(["twfe", "iv"])), 3, 0,
                            tuple(range(6)), False)
    part = engine.run_chunk(task)
    assert list(part.columns) == list(engine._PART_COLUMNS) + ["first_stage_f"]
    assert (part["error"] != "").any() and (part["error"] == "").any()
    pd.testing.assert_frame_equal(engine._normalise(part), part, check_exact=True)
