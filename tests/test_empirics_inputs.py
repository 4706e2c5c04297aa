"""Malformed inputs: each gives a clear InputError naming the problem, a non-zero exit from the
CLI (robocarbon estimate) and no output file. Also the loaders for CSV, Parquet, .dta, Excel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics.data import load_panel
from robocarbon.empirics.errors import InputError
from robocarbon.reports.cli import main


def good_panel(N=8, T=4, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"city": np.repeat([f"c{i}" for i in range(N)], T),
                       "year": np.tile(np.arange(2010, 2010 + T), N)})
    df["prov"] = np.repeat(np.arange(N) % 3, T)
    df["x"] = rng.normal(size=len(df))
    df["z"] = rng.normal(size=len(df))
    df["pos"] = rng.uniform(1, 2, len(df))
    df["y"] = df["x"] + rng.normal(size=len(df))
    return df


def _write(df, tmp_path, name="panel.csv"):
    p = tmp_path / name
    if name.endswith(".csv"):
        df.to_csv(p, index=False)
    else:
        p.write_text(df)
    return p


def _mutate(kind):
    df = good_panel()
    if kind == "text_value":
        df["x"] = df["x"].astype(object)
        df.loc[5, "x"] = "n/a?"
    elif kind == "inf_value":
        df.loc[3, "x"] = np.inf
    elif kind == "duplicate_pair":
        df.loc[1, "year"] = 2010
    elif kind == "nonpositive_log":
        df.loc[6, "pos"] = -1.0
    elif kind == "gap":
        df = df.drop(index=2).reset_index(drop=True)
    elif kind == "one_cluster":
        df["prov"] = 1
    elif kind == "missing_entity":
        df["city"] = df["city"].astype(object)
        df.loc[4, "city"] = None
    elif kind == "noninteger_time":
        df["year"] = df["year"].astype(float)
        df.loc[2, "year"] = 2011.5
    elif kind == "all_missing_y":
        df["y"] = np.nan
    elif kind == "negative_weight":
        df["pos"] = df["pos"] - 1.5
    return df


# (case name, data mutation, extra CLI arguments, formula, expected fragment of the message)
CASES = [
    ("unknown outcome", None, [], "nope ~ x | city + year", "nope"),
    ("unknown regressor", None, [], "y ~ xx | city + year", "xx"),
    ("unknown fixed effect", None, [], "y ~ x | town + year", "town"),
    ("unknown cluster", None, ["--cluster", "county"], "y ~ x | city + year", "county"),
    ("unknown entity column", None, ["--entity", "firm", "--time", "year"], "y ~ x | city + year", "firm"),
    ("text in numeric column", "text_value", [], "y ~ x | city + year", "non-numeric"),
    ("infinity", "inf_value", [], "y ~ x | city + year", "infinite"),
    ("duplicate entity-time", "duplicate_pair", ["--entity", "city", "--time", "year"], "y ~ x | city + year", "duplicate"),
    ("log of non-positive", "nonpositive_log", [], "log(pos) ~ x | city + year", "non-positive"),
    ("gap with lags", "gap", ["--entity", "city", "--time", "year"], "y ~ l(x, 1) | city + year", "gap"),
    ("lag without panel", None, [], "y ~ l(x, 1) | city + year", "entity"),
    ("one cluster", "one_cluster", ["--cluster", "prov"], "y ~ x | city + year", "two clusters"),
    ("three cluster variables", None, ["--cluster", "city,year,prov"], "y ~ x | city + year", "at most two"),
    ("missing entity label", "missing_entity", ["--entity", "city", "--time", "year"], "y ~ x | year", "missing panel identifier"),
    ("non-integer time", "noninteger_time", ["--entity", "city", "--time", "year"], "y ~ x | city", "integer"),
    ("nothing left", "all_missing_y", [], "y ~ x | city + year", "no complete observations"),
    ("negative weights", "negative_weight", ["--weights", "pos"], "y ~ x | city + year", "positive"),
    ("formula without tilde", None, [], "y x | city", "expected '~'"),
    ("formula dangling plus", None, [], "y ~ x + | city", "expected a variable name"),
    ("formula unknown function", None, [], "y ~ sqrt(x) | city", "unknown function"),
    ("formula unbalanced paren", None, [], "y ~ l(x, 1 | city", "missing ')'"),
    ("formula bad lag order", None, [], "y ~ l(x, a) | city", "integer"),
    ("under-identified IV", None, [], "y ~ 1 | city | x + pos ~ z", "under-identified"),
    ("collinear regressor", None, [], "y ~ x + x2 | city + year", "collinear"),
    ("regressor absorbed by FE", None, [], "y ~ x + prov | city + year", "prov"),
    ("cluster vcov without cluster", None, ["--vcov", "cluster"], "y ~ x", "cluster"),
]


@pytest.mark.parametrize("name, mutation, args, formula, fragment", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_cli(tmp_path, capsys, name, mutation, args, formula, fragment):
    df = _mutate(mutation) if mutation else good_panel()
    if name == "collinear regressor":
        df["x2"] = 2 * df["x"] + 1
    path = _write(df, tmp_path)
    out = tmp_path / "out" / "result.json"
    code = main(["estimate", "--data", str(path), "--formula", formula, "--json", str(out)] + args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ")
    assert fragment.lower() in err.lower(), err
    assert not out.exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("content, name, fragment", [
    ("a,b\n", "empty.csv", "no data rows"),
    ("not a parquet file", "bad.parquet", "cannot read"),
    ("x", "data.sav", "unknown file type"),
])
def test_unreadable_files(tmp_path, capsys, content, name, fragment):
    p = tmp_path / name
    p.write_text(content)
    out = tmp_path / "r.json"
    code = main(["estimate", "--data", str(p), "--formula", "b ~ a", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and not out.exists()


def test_missing_file(tmp_path, capsys):
    code = main(["estimate", "--data", str(tmp_path / "nope.csv"), "--formula", "y ~ x"])
    assert code == 2 and "not found" in capsys.readouterr().err


def test_error_names_file_column_and_rows(tmp_path):
    df = _mutate("text_value")
    p = _write(df, tmp_path)
    with pytest.raises(InputError) as ei:
        load_panel(p, columns=["x"])
    msg = str(ei.value)
    assert str(p) in msg and "'x'" in msg and "row 7" in msg  # spreadsheet row: header = row 1, index 5 = row 7


@pytest.mark.parametrize("ext", ["csv", "parquet", "dta", "xlsx"])
def test_loaders_roundtrip_and_cli_output(tmp_path, capsys, ext):
    df = good_panel()
    p = tmp_path / f"panel.{ext}"
    if ext == "csv":
        df.to_csv(p, index=False)
    elif ext == "parquet":
        df.to_parquet(p)
    elif ext == "dta":
        df.to_stata(p, write_index=False)
    else:
        df.to_excel(p, index=False)
    back = load_panel(p, entity="city", time="year", columns=["x", "y"])
    np.testing.assert_allclose(back["x"].to_numpy(), df["x"].to_numpy())
    out = tmp_path / "res.json"
    code = main(["estimate", "--data", str(p), "--formula", "y ~ x | city + year", "--entity", "city",
                 "--time", "year", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "R-squared (within)" in printed and out.exists()
    import json

    rec = json.loads(out.read_text())
    for key in ("estimator", "formula", "nobs", "nobs_dropped", "params", "std_errors", "pvalues",
                "conf_int", "r2_within", "r2_with_fe", "diagnostics", "provenance"):
        assert key in rec
    assert rec["nobs"] == len(df) and rec["provenance"]["input_sha256"]


# ---- the one reader: options, header checks, row numbers, dropped rows ----------------------

from robocarbon.empirics.data import describe_dropped, file_rows, read_table  # noqa: E402
from robocarbon.reports.cli_common import add_reader_arguments, reader_options  # noqa: E402


def test_gbk_file_needs_and_accepts_encoding(tmp_path, capsys):
    df = good_panel()
    df["city"] = df["city"].str.replace("c", "城市", regex=False)
    p = tmp_path / "gbk.csv"
    p.write_bytes(df.to_csv(index=False).encode("gbk"))
    with pytest.raises(InputError, match="--encoding") as ei:
        read_table(p)
    assert str(p) in str(ei.value)
    back = read_table(p, encoding="gb18030")
    assert back["city"].iloc[0] == "城市0"
    out = tmp_path / "r.json"
    args = ["estimate", "--data", str(p), "--formula", "y ~ x | city + year", "--json", str(out)]
    assert main(args) == 2 and "--encoding" in capsys.readouterr().err and not out.exists()
    assert main(args + ["--encoding", "gbk"]) == 0 and out.exists()


def test_sep_skiprows_and_row_numbers(tmp_path):
    df = good_panel()
    df["x"] = df["x"].astype(object)
    df.loc[5, "x"] = "oops"
    body = df.to_csv(index=False, sep=";")
    p = tmp_path / "titled.csv"
    p.write_text("City panel, yearbook 2015\nsource: somewhere\n" + body)
    with pytest.raises(InputError) as ei:
        load_panel(p, columns=["x"], sep=";", skiprows=2)
    # two title lines, the header on line 3, index 5 is the sixth data row: line 9
    assert ei.value.rows == [9] and "row 9" in str(ei.value)
    t = read_table(p, sep="semicolon", skiprows=2)
    assert list(t.columns) == list(df.columns) and t.attrs["first_row"] == 4


def test_blank_lines_keep_spreadsheet_rows_and_are_reported(tmp_path):
    df = good_panel()
    lines = df.to_csv(index=False).splitlines()
    lines[4] = lines[4].replace(lines[4].split(",")[3], "bad", 1)  # data row 4 = spreadsheet row 5
    text = "\n".join(lines[:3] + [""] + lines[3:]) + "\n\n\n"  # a blank line at row 4, trailing ones
    p = tmp_path / "blank.csv"
    p.write_text(text)
    t = read_table(p)
    assert len(t) == len(df)
    assert t.attrs["dropped"] == [{"reason": "empty row (no values)", "rows": 1, "first_rows": [4]}]
    assert describe_dropped(t) == ["dropped 1 row: empty row (no values) (rows 4)"]
    with pytest.raises(InputError) as ei:
        load_panel(p, columns=["x"])
    assert ei.value.rows == [6]  # the blank line counts, as in a spreadsheet


def test_stata_dot_is_missing_in_every_format(tmp_path):
    df = good_panel()
    df["x"] = df["x"].astype(object)
    df.loc[[2, 7], "x"] = "."
    p = tmp_path / "dots.csv"
    df.to_csv(p, index=False)
    v = load_panel(p, columns=["x"])["x"]
    assert v.dtype.kind == "f" and v.isna().sum() == 2
    q = tmp_path / "dots.xlsx"
    df.to_excel(q, index=False)
    v = load_panel(q, columns=["x"])["x"]
    assert v.dtype.kind == "f" and v.isna().sum() == 2
    d = tmp_path / "dots.dta"
    df.assign(x=df["x"].astype(str)).to_stata(d, write_index=False)
    v = load_panel(d, columns=["x"])["x"]
    assert v.isna().sum() == 2


def test_duplicate_and_colliding_names_in_every_format(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["robot", "robot"]), p)
    with pytest.raises(InputError, match="duplicate column name 'robot'"):
        read_table(p)
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["city", "robot", "robot "])
    ws.append(["a", 1, 2])
    x = tmp_path / "dup.xlsx"
    wb.save(x)
    with pytest.raises(InputError, match="same once leading and trailing blanks"):
        read_table(x)
    # a real column named "x.1" next to "x" is not mistaken for pandas' renaming
    c = tmp_path / "dots.csv"
    c.write_text("x,x.1\n1,2\n")
    assert list(read_table(c).columns) == ["x", "x.1"]
    c.write_text("x,x\n1,2\n")
    with pytest.raises(InputError, match="columns 1 and 2"):
        read_table(c)


def test_excel_sheet_and_skiprows(tmp_path):
    df = good_panel()
    p = tmp_path / "book.xlsx"
    with pd.ExcelWriter(p) as w:
        pd.DataFrame({"a": [1]}).to_excel(w, sheet_name="notes", index=False)
        df.to_excel(w, sheet_name="panel", index=False, startrow=1)
    t = read_table(p, sheet="panel", skiprows=1)
    np.testing.assert_allclose(t["x"].to_numpy(), df["x"].to_numpy())
    assert read_table(p, sheet="1", skiprows=1).shape == df.shape
    with pytest.raises(InputError, match="no sheet 'nope'.*notes"):
        read_table(p, sheet="nope")
    c = tmp_path / "x.csv"
    c.write_text("a\n1\n")
    with pytest.raises(InputError, match="--sheet applies to Excel"):
        read_table(c, sheet="x")


def test_reader_arguments_helper():
    import argparse

    ap = argparse.ArgumentParser()
    add_reader_arguments(ap)
    assert reader_options(ap.parse_args([])) == {}
    a = ap.parse_args(["--sep", ";", "--encoding", "gbk", "--sheet", "2019", "--skiprows", "3"])
    assert reader_options(a) == {"sep": ";", "encoding": "gbk", "sheet": "2019", "skiprows": 3}
    with pytest.raises(SystemExit):
        ap.parse_args(["--skiprows", "-1"])


def test_file_rows_follow_the_file_after_filtering(tmp_path):
    p = _write(good_panel(), tmp_path)
    t = read_table(p, skiprows=0)
    sub = t[t["year"] == 2012]
    assert file_rows(sub, np.ones(len(sub), bool))[:2] == [4, 8]  # rows 2.. of the file, T = 4
    assert file_rows(None, np.array([True, False, True])) == [2, 4]


def test_describe_dropped_shapes():
    assert describe_dropped({"missing": {"x": 3, "y": 0}, "singletons": 2}) == [
        "dropped 3 rows: missing x", "dropped 2 rows: singletons"]
    assert describe_dropped([{"reason": "missing value in y", "rows": 1, "first_rows": [7]}]) == [
        "dropped 1 row: missing value in y (rows 7)"]
    assert describe_dropped(None) == [] and describe_dropped(pd.DataFrame()) == []


def test_adoption_and_lag_horizons(tmp_path):
    from robocarbon.empirics.data import check_horizon, check_integer_periods

    df = good_panel().assign(adopt=2011.5)
    p = _write(df, tmp_path)
    with pytest.raises(InputError, match="whole period") as ei:
        load_panel(p, periods=["adopt"])
    assert ei.value.column == "adopt" and ei.value.rows[0] == 2
    assert np.isnan(check_integer_periods(good_panel().assign(a=np.nan), "a")).all()
    with pytest.raises(InputError, match="longer than the panel"):
        check_horizon(1e20, good_panel(), "year")
    with pytest.raises(InputError, match="whole number"):
        check_horizon(1.5)
    assert check_horizon(-2, good_panel(), "year") == -2


def test_estimator_errors_use_spreadsheet_rows(tmp_path):
    """A bad weight or a log of a non-positive value is named by the row a spreadsheet shows."""
    import pandas as pd

    from robocarbon.empirics import fe
    from robocarbon.empirics.data import load_panel
    from robocarbon.empirics.errors import InputError

    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 5.0], "x": [1.0, 2.0, -1.0, 4.0, 2.0],
                       "w": [1.0, 1.0, 1.0, -2.0, 1.0]})
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    data = load_panel(path)
    with pytest.raises(InputError, match=r"row 5\b"):  # 4th data row -> spreadsheet row 5
        fe.fit("y ~ x", data, weights="w", vcov="hc1")
    with pytest.raises(InputError, match=r"row 4\b"):  # log(-1) in the 3rd data row
        fe.fit("y ~ log(x)", data, vcov="hc1")
