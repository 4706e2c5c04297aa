"""``robocarbon diagnose``: the JSON contract, outputs, resumption and bad input."""

from __future__ import annotations

import json

import pytest

from robocarbon.reports.cli import main
from robocarbon.reports.cmd_diagnose import JSON_KEYS

# the engine's small test design (tests/test_mc_engine.py), loaded by MODULE:ATTR
SMALL = ["--design", "test_mc_engine:ToyDesign", "--set", "cities=15", "--set", "years=4",
         "--no-progress"]


def test_diagnose_grid_json_contract_and_outputs(tmp_path, capsys):
    out, js = tmp_path / "mc", tmp_path / "d.json"
    argv = ["diagnose", *SMALL, "--grid", "beta=0,-0.5", "--estimators", "twfe,iv",
            "--sims", "6", "--seed", "3", "--out", str(out), "--json", str(js)]
    assert main(argv) == 0
    rows = json.loads(js.read_text())
    assert isinstance(rows, list) and len(rows) == 4
    for r in rows:
        assert list(r) == ["beta", *JSON_KEYS]
        assert r["sims"] == 6
    assert [r["estimator"] for r in rows] == ["twfe", "iv", "twfe", "iv"]
    twfe = [r for r in rows if r["estimator"] == "twfe"]
    assert twfe[0]["estimand"] == 0.0 and twfe[1]["estimand"] < 0
    for name in ("manifest.json", "config.json", "simulations.parquet", "diagnosands.csv",
                 "bias_coverage.png", "bias_coverage.svg", "power_curve.png", "power_curve.svg",
                 "mde.csv"):
        assert (out / name).exists(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["config"]["grid"] == {"beta": [0, -0.5]}
    assert manifest["replications_run"] == 12 and manifest["config_hash"]
    assert "minimum detectable effect" in capsys.readouterr().out
    # rerunning the same command resumes: nothing recomputed, identical JSON
    first = js.read_text()
    assert main(argv) == 0
    assert js.read_text() == first
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications_run"] == 0 and manifest["replications_resumed"] == 12
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["hash"]


@pytest.mark.parametrize("bad, msg", [
    (["--design", "nowhere"], "unknown design"),
    (["--design", "test_mc_engine:Nothing"], "cannot load design"),
    (["--set", "nope=1"], "no parameter"),
    (["--set", "kappa"], "KEY=VALUE"),
    (["--grid", "kappa="], "KEY=VALUE"),
    (["--grid", "n_cities=40,abc"], "integer"),
    (["--estimators", "twfe,ols"], "unknown estimator"),
    (["--sims", "0"], "--sims"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_input_exits_2_without_output(tmp_path, capsys, bad, msg):
    js = tmp_path / "d.json"
    argv = ["diagnose", "--design", "paper", "--sims", "2", "--seed", "1", "--no-progress",
            "--json", str(js), *bad]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err
    assert not js.exists()


def test_other_config_refuses_same_out(tmp_path, capsys):
    out = tmp_path / "mc"
    base = ["diagnose", *SMALL, "--sims", "2", "--out", str(out)]
    assert main([*base, "--seed", "1"]) == 0
    assert main([*base, "--seed", "2"]) == 2
    assert "different configuration" in capsys.readouterr().err
    # --force discards the old run and starts fresh: the numbers of a fresh run
    js, fresh = tmp_path / "a.json", tmp_path / "b.json"
    assert main([*base, "--seed", "2", "--force", "--json", str(js)]) == 0
    assert json.loads((out / "manifest.json").read_text())["replications_resumed"] == 0
    assert main(["diagnose", *SMALL, "--sims", "2", "--seed", "2", "--json", str(fresh)]) == 0
    assert js.read_text() == fresh.read_text()


def test_figures_are_written_atomically(tmp_path):
    import pandas as pd

    from robocarbon.reports import figures_mc

    diag = pd.DataFrame({
        "estimator": ["a", "a", "b", "b"], "term": "x", "estimand": [0.0, -0.1, 0.0, 0.0],
        "power": [0.05, 0.9, 0.05, 0.06], "power_mcse": 0.01, "bias": 0.0, "bias_mcse": 0.01,
        "coverage": 0.95, "coverage_mcse": 0.01, "sims": 100, "k": [0, 1, 0, 1],
    })
    paths = figures_mc.power_curve(diag, "estimand", tmp_path / "pc")
    paths += figures_mc.bias_coverage(diag, tmp_path / "bc", x="k")
    assert sorted(p.name for p in paths) == ["bc.png", "bc.svg", "pc.png", "pc.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    # nothing else (no temporary file; the output ledger, if any, is not an output)
    assert sorted(f.name for f in tmp_path.iterdir() if f.name != ".robocarbon-outputs.json") \
        == ["bc.png", "bc.svg", "pc.png", "pc.svg"]
    assert (tmp_path / "pc.png").read_bytes()[:4] == b"\x89PNG"


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("bad, msg", [
    (["--sims", "1e12"], "memory"),
    (["--sims", "1.5"], "--sims"),
    (["--sims", "-3"], "--sims"),
    (["--jobs", "-1"], "--jobs"),
    (["--jobs", "100000"], "worker processes"),
    (["--chunk-size", "0"], "--chunk-size"),
    (["--chunk-size", "x"], "--chunk-size"),
    (["--grid", "beta=" + ",".join(str(i) for i in range(400)), "--sims", "1e9"], "memory"),
])
def test_sizes_refused_before_anything_is_written(tmp_path, capsys, bad, msg):
    out, js = tmp_path / "mc", tmp_path / "d.json"
    argv = ["diagnose", *SMALL, "--estimators", "twfe", "--seed", "1", "--out", str(out),
            "--json", str(js), *bad]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no folder, no config.json, no JSON


def test_sims_in_scientific_notation_accepted(tmp_path):
    js = tmp_path / "d.json"
    assert main(["diagnose", *SMALL, "--estimators", "twfe", "--sims", "1e1", "--seed", "1",
                 "--json", str(js)]) == 0
    assert json.loads(js.read_text())[0]["sims"] == 10


def test_out_into_a_user_folder_is_refused_and_left_alone(tmp_path, capsys, monkeypatch):
    user = tmp_path / "thesis"
    (user / "data").mkdir(parents=True)
    (user / "thesis.tex").write_text("\\documentclass{article}")
    (user / "data" / "panel.csv").write_text("city,year\n1,2007\n")
    (user / "config.json").write_text('{"mine": true}')
    before = _snapshot(user)
    argv = ["diagnose", *SMALL, "--estimators", "twfe", "--sims", "2", "--seed", "1",
            "--out", str(user)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not created by robocarbon" in err
    assert _snapshot(user) == before  # every file kept, nothing added (no ledger, no parts)
    # --out . from inside it: the same
    monkeypatch.chdir(user)
    assert main([*argv[:-1], "."]) == 2
    assert _snapshot(user) == before
    # with --force it writes its files into the folder and leaves the user's other files
    assert main([*argv, "--force"]) == 0
    after = _snapshot(user)
    for name in ("thesis.tex", "data/panel.csv"):
        assert after[name] == before[name]
    assert "simulations.parquet" in after and any(k.startswith("parts/part-") for k in after)


def test_estimator_failing_everywhere_exits_2_with_outputs(tmp_path, capsys):
    out, js = tmp_path / "mc", tmp_path / "d.json"
    argv = ["diagnose", *SMALL, "--set", "fail_every=1", "--estimators", "twfe,iv",
            "--sims", "4", "--seed", "1", "--out", str(out), "--json", str(js)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    last = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(last) == 1 and "failed in every replication" in last[0]
    assert "twfe (4 of 4" in last[0] and "iv (4 of 4" in last[0]
    rows = json.loads(js.read_text())  # the outputs are still written and show the failures
    assert [r["sims"] for r in rows] == [0, 0]
    assert (out / "diagnosands.csv").exists() and (out / "simulations.parquet").exists()


def test_partial_failures_warn_with_counts(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "mc"
    argv = ["diagnose", *SMALL, "--set", "fail_every=3", "--estimators", "twfe",
            "--sims", "30", "--seed", "1", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    sims = pd.read_parquet(out / "simulations.parquet")
    failed = int((sims["error"] != "").sum())
    assert 0 < failed < 30
    assert f"warning: estimator twfe failed in {failed} of 30 replications" in err
    assert not any(line.startswith("error:") for line in err.splitlines())


def test_changed_code_key_refused_then_force_matches_fresh(tmp_path, capsys):
    out, js = tmp_path / "mc", tmp_path / "d.json"
    argv = ["diagnose", *SMALL, "--estimators", "twfe", "--sims", "6", "--seed", "4",
            "--out", str(out), "--json", str(js)]
    assert main(argv) == 0
    fresh = js.read_text()
    cfg = json.loads((out / "config.json").read_text())
    cfg["key"]["robocarbon"] = "0.0.1"
    cfg["key"]["code_hash"] = "0123456789abcdef"
    (out / "config.json").write_text(json.dumps(cfg))
    js.unlink()
    before = _snapshot(out)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert "written by robocarbon 0.0.1 / code hash 0123456789abcdef; this is robocarbon" in err
    assert "--force" in err
    assert _snapshot(out) == before and not js.exists()
    assert main([*argv, "--force"]) == 0
    assert js.read_text() == fresh
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications_resumed"] == 0 and manifest["replications_run"] == 6
    assert json.loads((out / "config.json").read_text())["key"]["code_hash"] != "0123456789abcdef"
