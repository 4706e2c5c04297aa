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


# ---------------------------------------------------------------------------- checkpoint keys
def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_code_key_names_version_libraries_and_sources():
    import robocarbon
    from robocarbon.simulate.design import get_design

    key = engine.code_key(ToyDesign(), engine.resolve_estimators({"twfe": get_estimator("twfe"),
                                                                   "custom": toy_twfe}))
    assert key["robocarbon"] == robocarbon.__version__
    assert set(key["libraries"]) == {"numpy", "scipy", "numba"}
    assert key["libraries"]["numpy"] == np.__version__
    mods = key["modules"]
    # the design's class, the estimators (and what they import), the engine itself
    for name in ("test_mc_engine", "robocarbon.simulate.estimators", "robocarbon.simulate.fastpath",
                 "robocarbon.empirics.result", "robocarbon.simulate.engine"):
        assert name in mods, name
    paper = engine.code_key(get_design("paper"), engine.resolve_estimators("twfe"))["modules"]
    for name in ("robocarbon.simulate.design", "robocarbon.simulate.paper",
                 "robocarbon.simulate.kernels", "robocarbon.theory.numeric",
                 "robocarbon.simulate.engine"):
        assert name in paper, name
    # the engine's own imports (file writing, the summary) are not followed, nor is the
    # package's __init__ of a `from . import submodule`
    assert "robocarbon.simulate.diagnosands" not in paper and "robocarbon.simulate" not in paper
    assert "test_mc_engine" not in paper
    assert engine.code_key(ToyDesign(), engine.resolve_estimators("twfe")) == \
        engine.code_key(ToyDesign().with_params(beta=0.3), engine.resolve_estimators("twfe"))


def test_code_key_follows_the_source_of_a_users_design(tmp_path, monkeypatch):
    src = textwrap.dedent("""
        from test_mc_engine import ToyDesign as _Base

        class UserDesign(_Base):
            SCALE = 1.0
    """)
    mod = tmp_path / "user_design_mod.py"
    mod.write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    m = importlib.import_module("user_design_mod")
    ests = engine.resolve_estimators("twfe")
    k1 = engine.code_key(m.UserDesign(), ests)
    assert "user_design_mod" in k1["modules"]
    mod.write_text(src.replace("1.0", "2.50"))  # an edit of the design's source
    k2 = engine.code_key(m.UserDesign(), ests)
    assert k2["code_hash"] != k1["code_hash"]
    assert k2["modules"]["robocarbon.simulate.estimators"] == k1["modules"]["robocarbon.simulate.estimators"]
    assert engine._key_difference(k1, k2).endswith("(changed code: user_design_mod)")
    assert engine._key_difference(k2, k2) is None


def test_checkpoint_of_other_code_refused_force_starts_fresh(tmp_path):
    design = ToyDesign().with_params(cities=10, years=4)
    out = tmp_path / "mc"
    diagnose(design, ["twfe"], 12, seed=5, out=out, chunk_size=5, progress=False)
    old_parts = sorted(p.name for p in (out / "parts").glob("part-*"))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["key"] == engine.code_key(design, engine.resolve_estimators("twfe"))
    cfg["key"]["code_hash"] = "feedfacefeedface"  # as if written by other code
    cfg["key"]["robocarbon"] = "0.0.9"
    (out / "config.json").write_text(json.dumps(cfg))
    before = _files(out)
    with pytest.raises(InputError) as info:
        diagnose(design, ["twfe"], 12, seed=5, out=out, progress=False)
    msg = str(info.value)
    assert "was written by robocarbon 0.0.9 / code hash feedfacefeedface; this is robocarbon" in msg
    assert "--force" in msg and "another --out" in msg
    assert _files(out) == before  # nothing touched
    # an old checkpoint without any key (written before keys existed) is refused too
    del cfg["key"]
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="without a code key"):
        diagnose(design, ["twfe"], 12, seed=5, out=out, progress=False)
    # force: the old parts go, the run starts fresh and gives the numbers of a fresh run
    got, dgot = diagnose(design, ["twfe"], 12, seed=5, out=out, chunk_size=4, progress=False,
                         force=True)
    fresh, dfresh = diagnose(design, ["twfe"], 12, seed=5, progress=False)
    pd.testing.assert_frame_equal(got, fresh, check_exact=True)
    pd.testing.assert_frame_equal(dgot, dfresh, check_exact=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications_resumed"] == 0 and manifest["replications_run"] == 12
    assert manifest["code_key"]["code_hash"] == cfg_key_now(design)
    new_parts = sorted(p.name for p in (out / "parts").glob("part-*"))
    assert len(new_parts) == 3 and not set(new_parts) & set(old_parts)
    # and it resumes normally afterwards
    again, _ = diagnose(design, ["twfe"], 12, seed=5, out=out, progress=False)
    pd.testing.assert_frame_equal(again, fresh, check_exact=True)
    assert json.loads((out / "manifest.json").read_text())["replications_run"] == 0


def cfg_key_now(design):
    return engine.code_key(design, engine.resolve_estimators("twfe"))["code_hash"]


def test_force_never_deletes_a_part_robocarbon_did_not_write(tmp_path):
    design = ToyDesign().with_params(cities=10, years=4)
    out = tmp_path / "mc"
    diagnose(design, ["twfe"], 6, seed=5, out=out, chunk_size=3, progress=False)
    part = sorted((out / "parts").glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes() + b"\0")  # changed since robocarbon wrote it
    with pytest.raises(InputError, match="different configuration"):
        diagnose(design, ["twfe"], 6, seed=6, out=out, progress=False)
    with pytest.raises(InputError, match="will not delete them") as info:
        diagnose(design, ["twfe"], 6, seed=6, out=out, progress=False, force=True)
    assert part.name in str(info.value)
    assert part.exists() and part.read_bytes().endswith(b"\0")


def test_out_into_a_users_folder_is_refused_and_untouched(tmp_path):
    user = tmp_path / "work"
    user.mkdir()
    (user / "thesis.tex").write_text("my thesis")
    (user / "parts").mkdir()
    (user / "parts" / "notes.txt").write_text("mine")
    before = _files(user)
    with pytest.raises(InputError, match="not created by robocarbon"):
        diagnose(ToyDesign(), ["twfe"], 2, seed=1, out=user, progress=False)
    assert _files(user) == before and sorted(p.name for p in user.iterdir()) == ["parts", "thesis.tex"]
    # an empty folder is fine: it becomes robocarbon's
    empty = tmp_path / "empty"
    empty.mkdir()
    diagnose(ToyDesign().with_params(cities=8, years=3), ["twfe"], 2, seed=1, out=empty,
             progress=False)
    from robocarbon.empirics import outputs

    assert outputs.folder_state(empty) == "ours"


def test_kill_inside_a_part_write_leaves_a_temp_the_next_run_sweeps(tmp_path):
    """A SIGKILL while a part is being written leaves atomic_path's 0-byte temporary file; the
    next run of the folder removes it (and only such files) and completes the study."""
    out = tmp_path / "mc"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(HERE)!r})
        import pandas as pd
        from test_mc_engine import ToyDesign
        from robocarbon.simulate.engine import diagnose
        real = pd.DataFrame.to_parquet
        calls = []
        def hang_on_third(self, path, *a, **k):
            calls.append(path)
            if len(calls) == 3:
                time.sleep(120)  # killed here, inside the write of the third part
            return real(self, path, *a, **k)
        pd.DataFrame.to_parquet = hang_on_third
        diagnose(ToyDesign().with_params(cities=8, years=3), ["twfe"], 20, seed=2,
                 out={str(out)!r}, chunk_size=4, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 60
        temps: list[Path] = []
        while time.time() < deadline and proc.poll() is None:
            temps = list((out / "parts").glob(".part-*.tmp")) if (out / "parts").is_dir() else []
            if temps and len(list((out / "parts").glob("part-*.parquet"))) == 2:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert len(temps) == 1 and temps[0].stat().st_size == 0
    user_file = out / "parts" / ".part-notes.tmp"  # not a name atomic_path gives a part
    user_file.write_text("keep")
    past = time.time() - 5
    for p in (temps[0], user_file):
        os.utime(p, (past, past))
    design = ToyDesign().with_params(cities=8, years=3)
    got, _ = diagnose(design, ["twfe"], 20, seed=2, out=out, progress=False)
    assert not temps[0].exists()
    assert user_file.read_text() == "keep"
    assert json.loads((out / "manifest.json").read_text())["replications_resumed"] == 8
    fresh, _ = diagnose(design, ["twfe"], 20, seed=2, progress=False)
    pd.testing.assert_frame_equal(got, fresh, check_exact=True)


def test_a_second_run_of_the_same_folder_is_refused_while_one_works(tmp_path):
    out = tmp_path / "mc"
    design = ToyDesign().with_params(cities=8, years=3)
    diagnose(design, ["twfe"], 2, seed=1, out=out, progress=False)
    fd = engine._lock_folder(out)  # as a running diagnose holds it
    assert fd is not None
    temp = out / "parts" / ".part-c00000-r00000000-00000001-0123abcd.parquet.x1y2z3.tmp"
    temp.write_bytes(b"")  # possibly being written by the running process: must stay
    try:
        with pytest.raises(InputError, match="another Monte Carlo run is using"):
            diagnose(design, ["twfe"], 4, seed=1, out=out, progress=False)
        assert temp.exists()
    finally:
        engine._unlock_folder(fd)
    os.utime(temp, (time.time() - 5, time.time() - 5))
    diagnose(design, ["twfe"], 4, seed=1, out=out, progress=False)
    assert not temp.exists()


def test_sizes_are_checked_before_anything_is_written(tmp_path, monkeypatch):
    out = tmp_path / "mc"
    with pytest.raises(InputError, match="memory"):
        diagnose(ToyDesign(), ["twfe"], 10**12, seed=1, out=out, progress=False)
    assert not out.exists()
    rows, need = engine.table_bytes(1000, 3, engine.resolve_estimators(["twfe", "threshold"]))
    assert rows == 1000 * 3 * 3 and need == rows * (len(engine._PART_COLUMNS) + 1) * 8 * 4
    monkeypatch.setattr(engine, "available_memory", lambda: need - 1)
    with pytest.raises(InputError, match=r"9,000 rows .* available"):
        diagnose(ToyDesign(), ["twfe", "threshold"], 1000, seed=1, out=out,
                 grid={"beta": [0, 1, 2]}, progress=False)
    assert not out.exists()
    for kw, msg in [({"jobs": -1}, "jobs must be at least 0"), ({"jobs": 10**6}, "worker processes"),
                    ({"chunk_size": 0}, "chunk_size must be at least 1"),
                    ({"chunk_size": 2.5}, "whole number")]:
        with pytest.raises(InputError, match=msg):
            diagnose(ToyDesign(), ["twfe"], 2, seed=1, out=out, progress=False, **kw)
        assert not out.exists()
    with pytest.raises(InputError, match="whole number"):
        diagnose(ToyDesign(), ["twfe"], 2.5, seed=1, progress=False)
    assert engine.available_memory() is None or engine.available_memory() > 0


# ---------------------------------------------------------------------------- worker lifetime
def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) from /proc."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(d)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> list[int]:
    table = _proc_table()
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, (pp, _) in table.items() if pp == p]
        found += kids
        todo += kids
    return found


def _living(pids) -> list[int]:
    table = _proc_table()
    return [p for p in pids if p in table and table[p][1] not in ("Z", "X")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")
def test_pool_workers_exit_when_the_parent_is_killed(tmp_path):
    out = tmp_path / "mc"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "robocarbon", "diagnose", "--design", "test_mc_engine:ToyDesign",
         "--set", "cities=10", "--set", "years=4", "--set", "sleep=0.05", "--estimators", "twfe",
         "--sims", "400", "--jobs", "2", "--chunk-size", "2", "--out", str(out), "--no-progress"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            workers = _living(_descendants(proc.pid))
            parts = list((out / "parts").glob("part-*.parquet")) if (out / "parts").is_dir() else []
            if len(workers) >= 2 and len(parts) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None and len(workers) >= 2, "the pool must be running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 5
        while _living(workers) and time.time() < deadline:
            time.sleep(0.05)
        survivors = _living(workers)
    finally:
        for p in _living(workers):
            os.kill(p, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert survivors == [], f"workers {survivors} outlived their killed parent"


@pytest.mark.skipif(os.name != "posix", reason="uses fork")
def test_watchdog_fallback_exits_when_the_parent_dies(tmp_path):
    """Where prctl is missing, a thread polling os.getppid() ends the worker."""
    script = textwrap.dedent("""
        import os, sys, threading, time
        from robocarbon.simulate.engine import _watch_parent
        pid = os.fork()
        if pid == 0:
            threading.Thread(target=_watch_parent, args=(os.getppid(), 0.05), daemon=True).start()
            time.sleep(60)
            os._exit(0)
        print(pid, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    child = int(proc.stdout.readline())
    try:
        time.sleep(0.3)
        assert os.path.exists(f"/proc/{child}") or sys.platform != "linux"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            if sys.platform.startswith("linux") and not _living([child]):
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the watchdog did not end the orphaned worker")
    finally:
        proc.stdout.close()
