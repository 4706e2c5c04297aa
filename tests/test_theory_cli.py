"""``robocarbon theory --json --markdown`` writes both files with all seventeen equations."""

from __future__ import annotations

import json

from robocarbon.reports.cli import main
from robocarbon.theory.ledger import STATUSES


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    js, md = tmp_path / "out" / "theory.json", tmp_path / "out" / "derivation.md"
    assert main(["theory", "--json", str(js), "--markdown", str(md)]) == 0
    printed = capsys.readouterr().out
    assert "(17) wrong" in printed and "( 6) typo" in printed
    doc = json.loads(js.read_text())
    assert [e["id"] for e in doc["equations"]] == [str(i) for i in range(1, 18)]
    for e in doc["equations"]:
        assert e["status"] in STATUSES and {"printed", "derived", "note"} <= set(e)
    for c in doc["claims"]:
        assert c["holds"] in ("yes", "no", "conditional") and {"id", "statement", "conditions"} <= set(c)
    assert {"robot_elasticity_fixed_energy", "energy_priced", "hmatch_measures_balance"} <= {c["id"] for c in doc["claims"]}
    assert "versions" in doc["provenance"] and "hmatch" in doc
    text = md.read_text()
    assert "## (13)" in text and "$$" in text and "(17) log carbon intensity: **wrong**" in text
    # no stray temporary files from the atomic writes
    assert sorted(p.name for p in js.parent.iterdir()) == ["derivation.md", "theory.json"]


def test_cli_without_outputs_prints_summary(capsys):
    assert main(["theory"]) == 0
    assert "Claims:" in capsys.readouterr().out
