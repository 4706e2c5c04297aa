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
    assert sorted(f.name for f in tmp_path.iterdir()) == ["bc.png", "bc.svg", "pc.png", "pc.svg"]
    assert (tmp_path / "pc.png").read_bytes()[:4] == b"\x89PNG"
