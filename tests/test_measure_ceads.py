"""CEADs readers on the real workbooks (via the data mirror) and on small synthetic workbooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics import ceads
from robocarbon.empirics.errors import InputError
from conftest import require_file


@pytest.fixture(scope="session")
def ceads_inventories(shared_data):
    folder = shared_data / "ceads" / "provinces"
    if not folder.is_dir():
        pytest.skip(f"CEADs provincial workbooks absent from {folder}")
    return ceads.read_province_inventories(folder)


@pytest.fixture(scope="session")
def ceads_table(ceads_inventories):
    return ceads.province_co2(ceads_inventories)


def test_every_workbook_2004_2019_read(ceads_table):
    years = sorted(ceads_table.year.unique())
    assert years == list(range(2004, 2020))
    assert ceads_table.groupby("year").province.nunique().eq(30).all()
    assert set(ceads_table.province) == set(ceads.PROVINCES_ZH)
    # both sheet layouts occur and are handled
    assert set(ceads_table.layout) == {"early", "late"}
    assert (ceads_table.unit == "Mt CO2").all()


def test_totals_match_the_workbooks_total_rows(ceads_table, ceads_inventories):
    # our sum of the 47 sectors against each sheet's own total row, to 1e-6 Mt
    assert np.abs(ceads_table.total_co2 - ceads_table.total_reported).max() < 1e-6
    # every column of the total row, not only Scope 1 Total
    for v in ceads_inventories.values():
        assert np.abs(v["matrix"].sum(axis=0) - v["total_row"]).max() < 1e-6


def test_national_sums_match_published(ceads_table):
    # /work/shared/data/README.md: the 30 provinces sum to about 6,822 Mt (2007) and 10,864 Mt
    # (2019); "about" = the published rounding to the Mt, so tolerance 0.5 Mt
    s = ceads_table.groupby("year").total_co2.sum()
    assert s[2007] == pytest.approx(6822, abs=0.5)
    assert s[2019] == pytest.approx(10864, abs=0.5)


def test_industrial_aggregate_identities(ceads_table, ceads_inventories):
    t = ceads_table
    np.testing.assert_allclose(t.industrial_co2, t.industrial_energy_co2 + t.industrial_process_co2, atol=1e-9)
    assert (t.industrial_co2 < t.total_co2).all() and (t.industrial_co2 > 0.3 * t.total_co2).all()
    assert len(ceads.INDUSTRIAL_SECTORS) == 40
    groups = ceads.SECTOR_GROUPS
    assert sum(len(g) for g in groups.values()) == 40
    # summing the groups separately gives the same aggregate
    parts = sum(ceads.province_co2(ceads_inventories, sectors=g).industrial_co2 for g in groups.values())
    np.testing.assert_allclose(parts, t.industrial_co2, rtol=1e-12)
    # process emissions are all in non-metal mineral products (cement), an industrial sector
    allp = ceads.province_co2(ceads_inventories, sectors=ceads.SECTORS)
    np.testing.assert_allclose(allp.industrial_process_co2, t.industrial_process_co2, atol=1e-9)


def test_fast_reader_equals_openpyxl(shared_data):
    for year in (2004, 2019):
        f = require_file(shared_data / "ceads" / "provinces" / f"Emission_Inventories_for_30_Provinces_{year}.xlsx")
        a = ceads.read_province_workbook(f, engine="fast")
        b = ceads.read_province_workbook(f, engine="openpyxl")
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k]["matrix"], b[k]["matrix"])


def test_city_inventory(shared_data):
    folder = shared_data / "ceads" / "cities"
    f = require_file(folder / "The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx")
    c = ceads.read_city_inventory(folder.parent)
    assert c.city.nunique() == 290 and c.province.nunique() == 30
    assert c.year.min() >= 1995 and c.year.max() == 2019
    # the long sheet and the wide sheet of the workbook agree
    wide = pd.read_excel(f, sheet_name="emission matrix").set_index("city")
    wide.columns = wide.columns.astype(int)
    long = c.set_index(["city", "year"]).co2
    w = wide.stack().rename("co2")
    w.index.names = ["city", "year"]
    common = long.index.intersection(w.index)
    assert len(common) == len(long)
    np.testing.assert_allclose(long.loc[common], w.loc[common], rtol=1e-12)
    # and the reader's own matrix path gives the same table
    m = ceads.read_city_inventory(f, sheet="emission matrix")
    pd.testing.assert_frame_equal(m[["city", "year"]], c[["city", "year"]])


# ---- synthetic workbooks: layouts and errors --------------------------------------------------

def _write_workbook(path, sheets):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "NOTE"
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(list(r))
    wb.save(path)
    return path


def _sheet(layout="early", seed=0, total_label=None, sector_edit=None, header_edit=None):
    rng = np.random.default_rng(seed)
    M = rng.uniform(0, 2, (47, 22))
    M[:, 17:20] = 0
    M[:, 21] = M[:, :21].sum(axis=1)
    cols = list(ceads.COLUMNS) if layout == "early" else [c.replace(" ", "_") for c in ceads.COLUMNS]
    if header_edit:
        cols[0] = header_edit
    head = [None if layout == "early" else "Emission_Inventory"] + cols
    unit = [None if layout == "early" else "unit"] + ["Mt CO2"] * 22
    label = total_label or ("Total Consumption" if layout == "early" else "TotalEmissions")
    sectors = [s + ("   " if layout == "early" else "") for s in ceads.SECTORS]
    if sector_edit:
        sectors[5] = sector_edit
    rows = [head, unit, [None] * 23, [label] + list(M.sum(axis=0))]
    rows += [[s] + list(r) for s, r in zip(sectors, M)]
    return rows, M


def test_synthetic_layouts_roundtrip(tmp_path):
    e, Me = _sheet("early", 1)
    l, Ml = _sheet("late", 2, total_label="Total Emissions")
    f = _write_workbook(tmp_path / "w.xlsx", {"Beijing2010": e, "InnerMongolia2010": l})
    inv = ceads.read_province_workbook(f)
    np.testing.assert_allclose(inv[("Beijing", 2010)]["matrix"], Me, rtol=1e-15)
    assert inv[("InnerMongolia", 2010)]["layout"] == "late"
    tab = ceads.province_co2(inv)
    want = Ml[1:41, 21].sum()
    assert tab.set_index("province").loc["InnerMongolia", "industrial_co2"] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("kw,msg", [
    (dict(total_label="Grand Total"), "total row"),
    (dict(sector_edit="Coal Mines"), "sector labels"),
    (dict(header_edit="Anthracite"), "header row"),
])
def test_unknown_layout_names_file_and_sheet(tmp_path, kw, msg):
    rows, _ = _sheet("early", 3, **kw)
    f = _write_workbook(tmp_path / "bad.xlsx", {"Hebei2012": rows})
    with pytest.raises(InputError, match=msg) as ei:
        ceads.read_province_workbook(f)
    assert "bad.xlsx" in str(ei.value) and "Hebei2012" in str(ei.value)


def test_other_errors(tmp_path):
    rows, _ = _sheet("late", 4)
    f = _write_workbook(tmp_path / "n.xlsx", {"Atlantis2012": rows})
    with pytest.raises(InputError, match="not one of the 30"):
        ceads.read_province_workbook(f)
    rows[10][3] = rows[10][3] + 1.0  # breaks the total row identity
    f = _write_workbook(tmp_path / "t.xlsx", {"Hebei2012": rows})
    with pytest.raises(InputError, match="total row differs"):
        ceads.read_province_workbook(f)
    assert ceads.read_province_workbook(f, check_tol=None)
    (tmp_path / "x.xlsx").write_text("not a workbook")
    with pytest.raises(InputError, match="cannot open"):
        ceads.read_province_workbook(tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="unknown CEADs sector"):
        ceads.province_co2(ceads.read_province_workbook(f, check_tol=None), sectors=["Mining"])
