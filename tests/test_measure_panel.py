"""The panel builder end to end on small raw inputs written by the test, and every malformed
input giving a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.panel_builder import build_panel, read_inputs, template_dir, write_templates

PROVS = {"P1": ["c1", "c2"], "P2": ["c3", "c4"], "P3": ["c5", "c6"]}
YEARS = range(2006, 2011)


def make_inputs(d: Path, seed: int = 0) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    inds = ["37", "40", "26", "13"]
    pd.DataFrame([(k, t, float(rng.integers(100, 1000) * (t - 2003))) for k in ("29", "26-27", "19-22", "10-12", "99")
                  for t in YEARS], columns=["ifr_code", "year", "robots"]).to_csv(d / "robots.csv", index=False)
    emp = [(c, j, 2004, float(rng.integers(1000, 50000))) for cs in PROVS.values() for c in cs for j in inds]
    pd.DataFrame(emp, columns=["city", "gbt_code", "year", "employment"]).to_csv(d / "employment.csv", index=False)
    lp, lc, pc, yb = [], [], [], []
    for p, cs in PROVS.items():
        for t in YEARS:
            cl = rng.uniform(1e3, 5e3, len(cs))
            for c, v in zip(cs, cl):
                lc.append((c, p, t, v))
                yb.append(dict(city=c, province=p, year=t, iva=rng.uniform(1e6, 3e7), gdp=rng.uniform(3e6, 6e7),
                               gdp_deflator=1.0, pop=rng.uniform(300, 900), urban_pop=rng.uniform(100, 300),
                               area=rng.uniform(5e3, 2e4), ind_elec=rng.uniform(1e5, 3e6), fdi=rng.uniform(1e4, 8e5),
                               usd_cny=7.0, loans=rng.uniform(1e6, 5e7), fiscal_exp=rng.uniform(5e5, 5e6),
                               sci_exp=rng.uniform(1e4, 2e5), students=rng.uniform(1e4, 8e5),
                               broadband=rng.uniform(20, 200), green_patents=int(rng.integers(0, 500))))
            lp.append((p, t, cl.sum() * 1.5))
            pc.append((p, t, 0.05 * cl.sum() * 1.5 + rng.normal(0, 5) + 100))
    pd.DataFrame(lp, columns=["province", "year", "light"]).to_csv(d / "lights_province.csv", index=False)
    pd.DataFrame(lc, columns=["city", "province", "year", "light"]).to_csv(d / "lights_city.csv", index=False)
    pd.DataFrame(pc, columns=["province", "year", "industrial_co2"]).to_csv(d / "province_co2.csv", index=False)
    pd.DataFrame(yb).to_csv(d / "yearbook.csv", index=False)
    pd.DataFrame([(c, p, i % 2, 2008 if c in ("c1", "c4") else None) for p, cs in PROVS.items()
                  for i, c in enumerate(cs)], columns=["city", "province", "east", "pilot_year"]
                 ).to_csv(d / "cities.csv", index=False)
    return d


@pytest.fixture
def inputs(tmp_path):
    return make_inputs(tmp_path / "raw")


def test_end_to_end_values(inputs):
    b = build_panel(inputs)
    p = b.panel
    assert len(p) == 30 and b.dropped.empty
    # robot (21) by hand for one city-year, from the raw files and the shipped crosswalk
    emp = pd.read_csv(inputs / "employment.csv", dtype={"gbt_code": str})
    rob = pd.read_csv(inputs / "robots.csv", dtype={"ifr_code": str})
    nat = emp.groupby("gbt_code").employment.sum()
    t = 2008
    r = rob[rob.year == t].set_index("ifr_code").robots
    # 29 -> 37 only; 26-27 -> 39, 40, 41 (only 40 has employment); 19-22 -> 25..30 (only 26);
    # 10-12 -> 13..16 (only 13); 99 spread pro rata over the mapped robots
    mapped = {"37": r["29"], "40": r["26-27"], "26": r["19-22"], "13": r["10-12"]}
    tot = sum(mapped.values())
    mapped = {j: v * (1 + r["99"] / tot) for j, v in mapped.items()}
    e1 = emp[emp.city == "c3"].set_index("gbt_code").employment
    want = sum(e1[j] / e1.sum() * mapped[j] / (nat[j] / 1e4) for j in mapped)
    got = p[(p.city == "c3") & (p.year == t)].robot.iloc[0]
    assert got == pytest.approx(want, rel=1e-12)
    # downscaled CO2 adds up to the provinces; lnindco = ln(1e6 Mt / 10^4 yuan)
    pc = pd.read_csv(inputs / "province_co2.csv").set_index(["province", "year"]).industrial_co2
    s = p.groupby(["province", "year"]).co2_ind.sum()
    np.testing.assert_allclose(s, pc.reindex(s.index), rtol=1e-12)
    np.testing.assert_allclose(p.lnindco, np.log(p.co2_ind * 1e6 / p.iva), rtol=1e-12)
    # groupings and the DID indicator
    c1 = p[p.city == "c1"].set_index("year")
    assert c1.did.to_dict() == {2006: 0, 2007: 0, 2008: 1, 2009: 1, 2010: 1}
    assert p[p.city == "c2"].did.sum() == 0
    assert {"hmatch", "gpatent", "hum", "internet", "sci", "east"} <= set(p.columns)


def test_drop_report_and_sample_rule(inputs):
    yb = pd.read_csv(inputs / "yearbook.csv")
    yb.loc[(yb.city == "c2") & (yb.year == 2007), "loans"] = np.nan          # one missing year
    yb.loc[(yb.city == "c5") & yb.year.between(2006, 2009), "ind_elec"] = np.nan  # four in a row
    yb.to_csv(inputs / "yearbook.csv", index=False)
    b = build_panel(inputs)
    d = b.dropped
    assert len(b.panel) == 30 - 1 - 4
    assert set(d.reason) == {"fin missing", "energ missing"}
    assert d[d.reason == "fin missing"][["city", "year"]].values.tolist() == [["c2", 2007]]
    r = build_panel(inputs, apply_sample_rule=True)
    assert "c5" not in set(r.panel.city) and "c2" in set(r.panel.city)
    rule = r.dropped[r.dropped.stage == "sample rule"]
    assert rule.city.tolist() == ["c5"] and "4 consecutive" in rule.reason.iloc[0]
    assert len(r.panel) == 30 - 5 - 1
    # interpolation fills the single interior gap of c2
    ri = build_panel(inputs, apply_sample_rule=True, interpolate=True)
    assert len(ri.panel) == 25 and ri.diagnostics["interpolated_values"] == 1
    # years
    assert set(build_panel(inputs, years=(2007, 2009)).panel.year) == {2007, 2008, 2009}


def _edit(path: Path, fn):
    df = pd.read_csv(path, dtype=str)
    fn(df)
    df.to_csv(path, index=False)


@pytest.mark.parametrize("case,match", [
    ("ifr_missing", "missing from the crosswalk"),
    ("share_above_one", "shares above one"),
    ("negative_robots", "negative robot counts"),
    ("negative_employment", "negative employment"),
    ("two_provinces", "more than one province"),
    ("no_base_year", "base year 2004 not in the employment file"),
    ("missing_file", "required input yearbook.csv"),
    ("bad_workbook", "unknown CEADs layout"),
])
def test_malformed_inputs(inputs, case, match):
    if case == "ifr_missing":
        _edit(inputs / "robots.csv", lambda d: d.__setitem__("ifr_code", d.ifr_code.replace("29", "29x")))
    elif case == "share_above_one":
        c = pd.read_csv(inputs / "cities.csv")
        c["employment_total"] = 10.0
        c.to_csv(inputs / "cities.csv", index=False)
    elif case == "negative_robots":
        _edit(inputs / "robots.csv", lambda d: d.__setitem__("robots", "-" + d.robots))
    elif case == "negative_employment":
        _edit(inputs / "employment.csv", lambda d: d.loc.__setitem__((d.index[3], "employment"), "-5"))
    elif case == "two_provinces":
        _edit(inputs / "lights_city.csv", lambda d: d.loc.__setitem__((d.index[0], "province"), "P3"))
    elif case == "no_base_year":
        _edit(inputs / "employment.csv", lambda d: d.__setitem__("year", "2005"))
    elif case == "missing_file":
        (inputs / "yearbook.csv").unlink()
    elif case == "bad_workbook":
        import openpyxl

        (inputs / "province_co2.csv").unlink()
        (inputs / "ceads").mkdir()
        wb = openpyxl.Workbook()
        wb.active.title = "NOTE"
        ws = wb.create_sheet("Hubei2008")
        ws.append(["Weird", "Coal"])
        wb.save(inputs / "ceads" / "Emission_Inventories_for_30_Provinces_2008.xlsx")
    with pytest.raises(InputError, match=match) as ei:
        build_panel(inputs)
    if case == "bad_workbook":
        assert "Hubei2008" in str(ei.value) and "2008.xlsx" in str(ei.value)


def test_templates_are_a_readable_schema(tmp_path):
    files = write_templates(tmp_path / "t")
    names = {f.name for f in files}
    assert {"robots.csv", "crosswalk.csv", "employment.csv", "yearbook.csv", "lights_city.csv",
            "lights_province.csv", "province_co2.csv", "cities.csv"} <= names
    frames = read_inputs(tmp_path / "t")
    cw = frames["crosswalk.csv"]
    # the shipped crosswalk covers every IFR class and maps to GB/T 4754-2002 two-digit codes
    assert cw.gbt_code.dropna().str.fullmatch(r"\d\d").all()
    industrial = {f"{k:02d}" for k in range(6, 47)} - {"12", "38"}
    assert set(cw.gbt_code.dropna()) == industrial
    assert (template_dir() / "crosswalk_ifr_gbt2002.csv").exists()


def test_province_co2_from_ceads_workbooks(tmp_path):
    """Without province_co2.csv the builder reads CEADs workbooks from ceads/ and allocates their
    industrial CO2 (40 industrial sectors, Scope 1 total)."""
    from test_measure_ceads import _sheet, _write_workbook

    raw = make_inputs(tmp_path / "raw")
    names = {"P1": "Beijing", "P2": "Hebei", "P3": "Shanxi"}
    for f in ("lights_province.csv", "lights_city.csv", "yearbook.csv", "cities.csv"):
        df = pd.read_csv(raw / f)
        df["province"] = df["province"].map(names)
        df.to_csv(raw / f, index=False)
    (raw / "province_co2.csv").unlink()
    (raw / "ceads").mkdir()
    want = {}
    for t in YEARS:
        sheets = {}
        for k, prov in enumerate(names.values()):
            rows, M = _sheet("early" if t < 2009 else "late", seed=100 * t + k)
            sheets[f"{prov}{t}"] = rows
            want[(prov, t)] = M[1:41, 21].sum()
        _write_workbook(raw / "ceads" / f"Emission_Inventories_for_30_Provinces_{t}.xlsx", sheets)
    b = build_panel(raw)
    s = b.panel.groupby(["province", "year"]).co2_ind.sum()
    assert len(s) == 15
    for key, v in s.items():
        assert v == pytest.approx(want[key], rel=1e-12)


def test_hmatch_scaled_over_the_final_sample(inputs):
    from robocarbon.empirics.variables import minmax

    p = build_panel(inputs).panel
    r, h = minmax(p.robot), minmax(p.hum)
    np.testing.assert_allclose(p.hmatch, (r * h) ** 0.25, atol=1e-12)
    assert p.hmatch.max() <= 1 and p.hmatch.min() >= 0
