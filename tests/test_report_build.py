"""robocarbon replicate end to end: outputs, manifest, every number computed, user panels,
bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from report_build_helper import SMALL_BOOTSTRAP, built_report
from robocarbon.empirics.outputs import LEDGER
from robocarbon.reports.cli import main
from robocarbon.reports.tables import load_published


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_default_build_writes_every_output():
    out, sections = built_report()
    for name in ("report.html", "report.md", "manifest.json", "results.json"):
        assert (out / name).is_file(), name
    for s in sections:
        for t in s.tables:
            assert (out / "tables" / f"{t.name}.tex").is_file()
            assert (out / "tables" / f"{t.name}.csv").is_file()
            tex = (out / "tables" / f"{t.name}.tex").read_text(encoding="utf-8")
            assert "\\toprule" in tex and "\\bottomrule" in tex
        for f in s.figures:
            assert (out / "figures" / f"{f.name}.png").read_bytes()[:4] == b"\x89PNG"
            assert (out / "figures" / f"{f.name}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["seed"] == 11 and man["config"]["sims"] == 4
    listed = set(man["outputs"])
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json", LEDGER}
    assert listed == on_disk
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "temporary folder left"


def test_default_build_computes_every_section():
    out, sections = built_report()
    bad = {s.id: (s.status, s.reason) for s in sections if s.status != "ok"}
    assert not bad, f"sections not computed on the default design: {bad}"
    html = (out / "report.html").read_text(encoding="utf-8")
    for s in sections:
        assert f'<section id="{s.id}">' in html
    assert "<script" not in html.lower()
    assert html.count("<math ") >= 17  # every ledger equation, rendered from sympy
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.count("$$") >= 34


def _numeric_leaves(obj, path=()):
    if isinstance(obj, dict):
        if isinstance(obj.get("quantity"), str):  # a row beside the paper: name it by its quantity
            path = path + (obj["quantity"],)
        for k, v in obj.items():
            yield from _numeric_leaves(v, path + (str(k),))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numeric_leaves(v, path + (str(i),))
    elif isinstance(obj, float) and math.isfinite(obj):
        yield path, obj


# leaves that need not change with the seed: the truth of the design (an estimand), counts,
# shares of a handful of replications or bootstrap draws (coarse by construction), timings, and
# the sample extremes of Table 1 (the simulator bounds some variables, e.g. urban share <= 0.998)
_STABLE = ("truth", "seconds", "cpu_seconds", "published", "nobs", "sims", "failures", "coverage", "power", "type_s",
           "stars", "same_sign", "stars_agree", "estimand", "n_negative", "quantities", "compared",
           "exaggeration", "df", "thr_", "max", "min", "permutation", "paper")


def test_a_different_seed_changes_every_computed_number_but_not_the_published_ones():
    a, _ = built_report(11)
    # the theory section is symbolic (no random number in it): the second build leaves it out
    b, _ = built_report(12, skip=("theory",))
    ra, rb = _results(a), _results(b)
    la = {("sections", s["id"]) + p: v for s in ra["sections"] for p, v in _numeric_leaves(s["values"])}
    lb = {("sections", s["id"]) + p: v for s in rb["sections"] for p, v in _numeric_leaves(s["values"])}
    common = [k for k in la if k in lb and not any(w in "/".join(k) for w in _STABLE)
              and not float(la[k]).is_integer()]
    assert len(common) > 150
    same = [k for k in common if la[k] == lb[k]]
    assert not same, f"numbers unchanged by the seed: {same[:10]}"
    # the published numbers quoted beside ours are the paper's, identical in both
    pub = load_published()
    by_id_b = {s["id"]: s for s in rb["sections"]}
    n_pub = 0
    for ra_s in ra["sections"]:
        if ra_s["id"] not in by_id_b:
            continue
        pa = [r["published"] for r in ra_s["values"].get("beside", [])]
        pb = [r["published"] for r in by_id_b[ra_s["id"]]["values"].get("beside", [])]
        assert pa == pb
        n_pub += len(pa)
    assert n_pub > 80
    va = next(s for s in ra["sections"] if s["id"] == "verdicts")["values"]["headline"]
    vb = by_id_b["verdicts"]["values"]["headline"]
    assert [r["paper"] for r in va] == [r["paper"] for r in vb]
    assert all(x["ours"] != y["ours"] for x, y in zip(va, vb))
    t2 = next(s for s in ra["sections"] if s["id"] == "table2")["values"]["beside"]
    assert [r["published"] for r in t2 if r["quantity"].endswith("coefficient")] == [r["coef"] for r in pub["table2"]]
    ours = [r["ours"] for r in t2 if r["quantity"].endswith("coefficient")]
    t2b = next(s for s in rb["sections"] if s["id"] == "table2")["values"]["beside"]
    assert all(x != y for x, y in zip(ours, [r["ours"] for r in t2b if r["quantity"].endswith("coefficient")]))


def _user_panel(tmp_path: Path, n_cities: int = 60) -> pd.DataFrame:
    from robocarbon.simulate.design import get_design

    draw = get_design("paper").draw(np.random.default_rng(3))
    p = draw.panel
    p = p[p["city"].isin(sorted(p["city"].unique())[:n_cities])]
    return p[[c for c in p.columns if not c.startswith("true_")]].reset_index(drop=True)


def test_cli_runs_on_a_user_panel_and_states_skipped_sections(tmp_path, capsys):
    panel = _user_panel(tmp_path).drop(columns=["adopt_year", "hmatch"])
    path = tmp_path / "mypanel.csv"
    panel.to_csv(path, index=False)
    out = tmp_path / "build"
    rc = main(["replicate", "--data", str(path), "--out", str(out), "--sims", "2", "--seed", "5",
               "--bootstrap", str(SMALL_BOOTSTRAP), "--no-progress",
               "--sections", "data,table1,table2,table3,did,beside"])
    assert rc == 0
    assert (out / "report.html").is_file() and (out / "manifest.json").is_file()
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert list(man["inputs"].values()) != [] and str(path) in man["inputs"]
    res = _results(out)
    status = {s["id"]: (s["status"], s["reason"]) for s in res["sections"]}
    assert status["did"][0] == "skipped" and "adopt_year" in status["did"][1]
    assert status["table2"][0] == "ok"
    assert set(status) == {"data", "table1", "table2", "table3", "did", "beside"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "adopt_year" in html and "mypanel.csv" in html
    t1 = next(s for s in res["sections"] if s["id"] == "table1")["values"]["table1"]
    # Table 1 is computed from the user's file: compare with pandas on the same file
    assert t1["robot"]["mean"] == pytest.approx(panel["robot"].mean(), rel=1e-12)
    assert t1["lnindco"]["n"] == len(panel)
    # the hmatch mechanism is stated as not run
    t3 = (out / "report.md").read_text(encoding="utf-8")
    assert "no column hmatch" in t3


@pytest.mark.parametrize("breakage", ["missing_robot", "duplicate", "text", "nofile", "one_city"])
def test_bad_data_exits_2_and_writes_nothing(tmp_path, capsys, breakage):
    p = pd.DataFrame({"city": np.repeat([1, 2, 3], 4), "year": np.tile([2007, 2008, 2009, 2010], 3),
                      "lnindco": np.linspace(1, 2, 12), "robot": np.linspace(0, 3, 12)})
    path = tmp_path / "bad.csv"
    if breakage == "missing_robot":
        p = p.drop(columns=["robot"])
    elif breakage == "duplicate":
        p.loc[1, "year"] = 2007
    elif breakage == "text":
        p["lnindco"] = p["lnindco"].astype(object)
        p.loc[5, "lnindco"] = "n/a?"
    elif breakage == "one_city":
        p["city"] = 1
        p["year"] = np.arange(2000, 2012)
    if breakage != "nofile":
        p.to_csv(path, index=False)
    out = tmp_path / "build"
    rc = main(["replicate", "--data", str(path), "--out", str(out), "--sims", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ")
    assert not out.exists()
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".build")]


def test_readme_map_names_files_the_report_writes():
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Paper tables and figures", 1)[1]
    names = set(re.findall(r"`((?:tables|figures)/[A-Za-z0-9_]+)`", section))
    assert len(names) > 15
    out, _ = built_report()
    ext = {"tables": (".tex", ".csv"), "figures": (".png", ".svg")}
    missing = [f"{n}{e}" for n in sorted(names) for e in ext[n.split("/")[0]] if not (out / f"{n}{e}").is_file()]
    assert not missing, f"README names outputs the report does not write: {missing}"
