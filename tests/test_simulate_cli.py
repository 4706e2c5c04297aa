"""``robocarbon simulate``: byte-identical files for the same seed, the truth beside the panel,
atomic failure, the design list."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from robocarbon.reports import cmd_simulate
from robocarbon.reports.cli import main


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_files(tmp_path):
    args = ["simulate", "--design", "paper", "--set", "n_cities=80", "--set",
            "lag_weights=[1,0.5]", "--seed", "9"]
    assert main(args + ["--out", str(tmp_path / "a" / "panel.parquet")]) == 0
    assert main(args + ["--out", str(tmp_path / "b" / "panel.parquet")]) == 0
    assert main(args[:-1] + ["10", "--out", str(tmp_path / "c" / "panel.parquet")]) == 0
    for name in ("panel.parquet", "panel.truth.json"):
        assert _sha(tmp_path / "a" / name) == _sha(tmp_path / "b" / name), name
        assert _sha(tmp_path / "a" / name) != _sha(tmp_path / "c" / name), name
    panel = pd.read_parquet(tmp_path / "a" / "panel.parquet")
    rec = json.loads((tmp_path / "a" / "panel.truth.json").read_text())
    assert panel.shape[0] == 80 * 13 == rec["rows"]
    assert rec["params"]["lag_weights"] == [1.0, 0.5] and rec["seed"] == 9
    assert rec["changed"] == ["lag_weights", "n_cities"]
    assert rec["truth"]["robot_lag1"] < 0
    assert (tmp_path / "a" / "panel.manifest.json").exists()
    # the file round-trips to the draw
    from robocarbon.simulate.design import get_design

    dr = get_design("paper", n_cities=80, lag_weights=[1, 0.5]).draw(9)
    pd.testing.assert_series_equal(panel["lnindco"], dr.panel["lnindco"])


def test_csv_output_and_truth_path(tmp_path):
    out = tmp_path / "x.csv"
    assert main(["simulate", "--set", "n_cities=40", "--seed", "1", "--out", str(out)]) == 0
    assert (tmp_path / "x.truth.json").exists()
    assert pd.read_csv(out).shape[0] == 40 * 13
    assert cmd_simulate.truth_path(tmp_path / "p.parquet").name == "p.truth.json"


def test_bad_parameter_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "p.parquet"
    assert main(["simulate", "--set", "kapa=1", "--seed", "1", "--out", str(out)]) == 2
    assert "kapa" in capsys.readouterr().err
    assert main(["simulate", "--set", "regime=sometimes", "--seed", "1", "--out", str(out)]) == 2
    assert main(["simulate", "--set", "n_cities=40", "--out", str(out)]) == 2  # no seed
    assert list(tmp_path.iterdir()) == []


def test_list_designs(capsys):
    assert main(["simulate", "--list"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("paper:")
    for k in ("confounding", "downscale_output", "va_robot", "iv_strength", "log_level", "kappa"):
        assert f"  {k} " in text
    assert "shift-share confounding [confounding]" in text


def test_parse_settings():
    got = cmd_simulate.parse_settings(["a=1", "b=[1, 2]", "c=east", "d=true", "e=1,0.5"])
    assert got == {"a": 1, "b": [1, 2], "c": "east", "d": True, "e": [1.0, 0.5]}


def test_calibrate_prints_simulated_against_targets(capsys):
    assert main(["simulate", "--set", "n_cities=262", "--calibrate", "--draws", "1"]) == 0
    text = capsys.readouterr().out
    assert "| lnindco | mean |" in text and "| open | max |" in text
    assert "clustered SE (mean)" in text and "| 0.004 |" in text
