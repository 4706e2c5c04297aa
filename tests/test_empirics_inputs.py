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
    assert str(p) in msg and "'x'" in msg and "rows 6" in msg  # 1-based data row of index 5


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
