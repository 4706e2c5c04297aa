"""The build-panel, ceads and shiftshare commands: outputs, manifests, and exit status 2 with no
output on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from robocarbon.reports.cli import main
from test_measure_ceads import _sheet, _write_workbook
from test_measure_panel import make_inputs


def test_build_panel_command(tmp_path, capsys):
    raw = make_inputs(tmp_path / "raw")
    out = tmp_path / "out" / "panel.parquet"
    assert main(["build-panel", "--inputs", str(raw), "--out", str(out), "--base-year", "2004",
                 "--years", "2007-2010"]) == 0
    p = pd.read_parquet(out)
    assert set(p.year) == {2007, 2008, 2009, 2010} and len(p) == 24
    assert (tmp_path / "out" / "panel.manifest.json").exists()
    assert (tmp_path / "out" / "panel.dropped.csv").exists()
    assert "panel: 24 rows" in capsys.readouterr().out
    # bad input: exit 2, message, no output
    (raw / "robots.csv").write_text("ifr_code,year,robots\nZZ,2007,5\n")
    out2 = tmp_path / "out2" / "panel.parquet"
    assert main(["build-panel", "--inputs", str(raw), "--out", str(out2)]) == 2
    assert "missing from the crosswalk" in capsys.readouterr().err
    assert not out2.exists()
    assert main(["build-panel", "--templates", str(tmp_path / "tpl")]) == 0
    assert (tmp_path / "tpl" / "crosswalk.csv").exists()


def test_ceads_command(tmp_path, capsys):
    folder = tmp_path / "ceads"
    folder.mkdir()
    rows, M = _sheet("early", 5)
    _write_workbook(folder / "Emission_Inventories_for_30_Provinces_2010.xlsx", {"Beijing2010": rows})
    rows2, M2 = _sheet("late", 6)
    _write_workbook(folder / "Emission_Inventories_for_30_Provinces_2019.xlsx", {"Beijing2019": rows2})
    js = tmp_path / "o" / "ceads.json"
    assert main(["ceads", "--inputs", str(folder), "--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert doc["unit"] == "Mt CO2" and len(doc["records"]) == 2
    rec = {r["year"]: r for r in doc["records"]}
    assert rec[2019]["industrial_co2"] == pytest.approx(M2[1:41, 21].sum(), rel=1e-12)
    assert (tmp_path / "o" / "ceads.manifest.json").exists()
    bad, _ = _sheet("early", 7, total_label="Sum")
    _write_workbook(folder / "Emission_Inventories_for_30_Provinces_2011.xlsx", {"Beijing2011": bad})
    js2 = tmp_path / "o2" / "c.json"
    assert main(["ceads", "--inputs", str(folder), "--json", str(js2)]) == 2
    err = capsys.readouterr().err
    assert "Beijing2011" in err and "unknown CEADs layout" in err and not js2.exists()


def test_shiftshare_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n, K = 120, 6
    W = rng.dirichlet(np.ones(K), size=n) * 0.8
    g = rng.normal(size=K)
    z = W @ g
    x = z + rng.normal(size=n)
    y = -0.4 * x + rng.normal(size=n)
    data = pd.DataFrame({"y": y, "x": x, "z": z, "c": rng.normal(size=n), "st": np.arange(n) % 10})
    data.to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame([(i + 1, k, W[i, k]) for i in range(n) for k in range(K)],
                 columns=["row", "industry", "share"]).to_csv(tmp_path / "s.csv", index=False)
    js = tmp_path / "r" / "ss.json"
    args = ["shiftshare", "--data", str(tmp_path / "d.csv"), "--shares", str(tmp_path / "s.csv"),
            "--y", "y", "--x", "x", "--instrument", "z", "--controls", "c", "--cluster", "st"]
    assert main(args + ["--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert doc["cov_type"] == "akm" and set(doc["diagnostics"]["inference"]) >= {"akm", "akm0", "ehw"}
    assert "Rotemberg" in capsys.readouterr().out
    js2 = tmp_path / "r2" / "ss.json"
    assert main(args[:-4] + ["--controls", "nope", "--json", str(js2)]) == 2
    assert "nope" in capsys.readouterr().err and not js2.exists()
