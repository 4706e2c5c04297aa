"""Fuzz-style malformed inputs across every command line (issue 13).

Each case writes a small well-formed input (a panel, a shift-share pair, a build-panel folder, a
CEADs folder), breaks it in one way, runs ``robocarbon.reports.cli.main(argv)`` in-process and
asserts: exit status 2, stderr starting with ``error: ``, no traceback, every input file's
bytes unchanged, and no output written (all outputs are asked for under ``<tmp>/out``, which
must not exist afterwards; no temp parts left anywhere).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robocarbon.reports.cli import main

# ---------------------------------------------------------------------------------------------
# well-formed inputs
# ---------------------------------------------------------------------------------------------

CONTROLS = ("edu", "urban", "lnpop", "lnpgdp", "energ", "fin", "open")


def base_panel(N: int = 10, T: int = 6, seed: int = 0) -> pd.DataFrame:
    """A small city-year panel in the replicate schema (usable by estimate, did, threshold)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"city": np.repeat([f"c{i:02d}" for i in range(N)], T),
                       "year": np.tile(np.arange(2010, 2010 + T), N)})
    df["province"] = np.repeat([f"p{i % 3}" for i in range(N)], T)
    df["robot"] = rng.gamma(2.0, 1.0, len(df))
    for c in CONTROLS:
        df[c] = rng.normal(size=len(df))
    df["hum"] = rng.uniform(0, 1, len(df))
    df["w"] = rng.uniform(1, 2, len(df))
    df["lnindco"] = -0.2 * df["robot"] + 0.1 * df["edu"] + rng.normal(size=len(df))
    adopt = np.where(np.arange(N) % 3 == 0, 2012, np.where(np.arange(N) % 3 == 1, 2013, np.nan))
    df["adopt_year"] = np.repeat(adopt, T)
    df["one"] = "p0"
    return df


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def shiftshare_inputs(n: int = 40, K: int = 5, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    W = rng.dirichlet(np.ones(K), size=n) * 0.8
    g = rng.normal(size=K)
    z = W @ g
    x = z + rng.normal(size=n)
    data = pd.DataFrame({"y": -0.4 * x + rng.normal(size=n), "x": x, "z": z,
                         "c": rng.normal(size=n), "st": np.arange(n) % 8,
                         "wt": rng.uniform(1, 2, n)})
    shares = pd.DataFrame([(i + 1, k, W[i, k]) for i in range(n) for k in range(K)],
                          columns=["row", "industry", "share"])
    return data, shares


# ---------------------------------------------------------------------------------------------
# a case
# ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    argv: list[str]                      # "{in}" and "{out}" are replaced by the folders
    files: dict[str, bytes | None] = field(default_factory=dict)  # None: a folder
    setup: Callable[[Path], None] | None = None  # extra preparation of the input folder
    fragment: str | None = None          # a piece the message must contain (case-insensitive)


CASES: list[Case] = []


def add(case: Case) -> None:
    assert case.id not in {c.id for c in CASES}, case.id
    CASES.append(case)


# ---- mutations of the panel file ------------------------------------------------------------

def _with(df: pd.DataFrame, col: str, row: int, value) -> pd.DataFrame:
    df = df.copy()
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


def _text(df_fn) -> Callable[[], dict[str, bytes | None]]:
    return lambda: {"panel.csv": csv_bytes(df_fn(base_panel()))}


def _raw(name: str, content: bytes | None) -> Callable[[], dict[str, bytes | None]]:
    return lambda: {name: content}


def _dup_column(df: pd.DataFrame, name: str) -> bytes:
    text = df.to_csv(index=False)
    head, rest = text.split("\n", 1)
    lines = rest.rstrip("\n").split("\n")
    vals = df[name].astype(str).tolist()
    return ("\n".join([head + "," + name] + [f"{ln},{v}" for ln, v in zip(lines, vals)]) + "\n").encode()


def _gbk_panel() -> bytes:
    df = base_panel()
    df["city"] = df["city"].str.replace("c", "城市", regex=False)
    return df.to_csv(index=False).encode("gbk")


def _ragged() -> bytes:
    text = base_panel().to_csv(index=False).split("\n")
    text[4] = text[4] + ",1,2,3"
    return "\n".join(text).encode()


def _unterminated_quote() -> bytes:
    text = base_panel().to_csv(index=False).split("\n")
    text[3] = text[3].replace(",", ',"', 1)
    return "\n".join(text).encode()


def _singletons(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby("city", sort=False).head(1).reset_index(drop=True)


PANEL_MUTATIONS: dict[str, tuple[Callable[[], dict[str, bytes | None]], str, str | None]] = {
    # name: (files, panel file name, message fragment)
    "text in outcome": (_text(lambda d: _with(d, "lnindco", 3, "abc")), "panel.csv", "non-numeric"),
    "inf in outcome": (_text(lambda d: _with(d, "lnindco", 3, "inf")), "panel.csv", "infinite"),
    "-inf in outcome": (_text(lambda d: _with(d, "lnindco", 7, "-inf")), "panel.csv", "infinite"),
    "1e400 in outcome": (_text(lambda d: _with(d, "lnindco", 5, "1e400")), "panel.csv", "infinite"),
    "NaN entity": (_text(lambda d: _with(d, "city", 4, None)), "panel.csv", "city"),
    "NaN time": (_text(lambda d: _with(d, "year", 4, None)), "panel.csv", "year"),
    "duplicate column": (lambda: {"panel.csv": _dup_column(base_panel(), "lnindco")}, "panel.csv",
                         "duplicate column name"),
    "whitespace-colliding columns": (
        lambda: {"panel.csv": csv_bytes(base_panel().assign(**{"lnindco ": 1.0}))}, "panel.csv",
        "blanks"),
    "header only": (lambda: {"panel.csv": ",".join(base_panel().columns).encode() + b"\n"},
                    "panel.csv", "no data rows"),
    "empty file": (_raw("panel.csv", b""), "panel.csv", "empty"),
    "blank lines only": (_raw("panel.csv", b"\n\n\n"), "panel.csv", "empty"),
    "wrong extension": (lambda: {"panel.sav": csv_bytes(base_panel())}, "panel.sav", "unknown file type"),
    "no extension": (lambda: {"panel": csv_bytes(base_panel())}, "panel", "unknown file type"),
    "folder instead of file": (_raw("panel.csv", None), "panel.csv", "folder"),
    "missing file": (lambda: {}, "panel.csv", "not found"),
    "GBK bytes read as UTF-8": (lambda: {"panel.csv": _gbk_panel()}, "panel.csv", "--encoding"),
    "garbage parquet": (_raw("panel.parquet", b"this is not parquet"), "panel.parquet", "cannot read"),
    "garbage xlsx": (_raw("panel.xlsx", b"PK\x03\x04 not a zip"), "panel.xlsx", "excel"),
    "garbage dta": (_raw("panel.dta", b"\x00\x01garbage"), "panel.dta", "cannot read"),
    "duplicate entity-time": (_text(lambda d: _with(d, "year", 1, 2010)), "panel.csv", "duplicate"),
    "all-NaN outcome": (_text(lambda d: d.assign(lnindco=np.nan)), "panel.csv", None),
    "ragged row": (lambda: {"panel.csv": _ragged()}, "panel.csv", "cannot parse"),
    "unterminated quote": (lambda: {"panel.csv": _unterminated_quote()}, "panel.csv", None),
    "random binary": (lambda: {"panel.csv": bytes(np.random.default_rng(1).integers(128, 256, 400,
                                                                                     dtype=np.uint8))},
                      "panel.csv", None),
    "non-integer time": (_text(lambda d: _with(d, "year", 2, 2011.5)), "panel.csv", "integer"),
}

PANEL_OPTION_CASES: dict[str, tuple[list[str], str | None]] = {
    "--sheet on a CSV": (["--sheet", "Data"], "--sheet"),
    "unknown --encoding": (["--encoding", "klingon-8"], "encoding"),
    "--skiprows past the end": (["--skiprows", "500"], "empty"),
    "wrong --sep": (["--sep", ";"], None),
}


def panel_argv(command: str, f: str) -> list[str]:
    if command == "estimate":
        return ["estimate", "--data", f, "--formula", "lnindco ~ robot + edu | city + year",
                "--entity", "city", "--time", "year", "--json", "{out}/res.json",
                "--table", "{out}/table.txt"]
    if command == "did":
        return ["did", "--data", f, "--y", "lnindco", "--entity", "city", "--time", "year",
                "--adopt", "adopt_year", "--method", "twfe", "--json", "{out}/did.json"]
    if command == "threshold":
        return ["threshold", "--data", f, "--y", "lnindco", "--regime", "robot", "--q", "hum",
                "--x", "edu", "--entity", "city", "--time", "year", "--bootstrap", "0",
                "--grid", "10", "--trim", "0.1", "--json", "{out}/th.json"]
    if command == "replicate":
        return ["replicate", "--data", f, "--out", "{out}/build", "--sims", "2", "--bootstrap", "2",
                "--no-progress"]
    raise AssertionError(command)


PANEL_COMMANDS = ("estimate", "did", "threshold", "replicate")
# the threshold model needs no integer periods (any distinct time labels are fine)
_SKIP = {("threshold", "non-integer time")}

for cmd in PANEL_COMMANDS:
    for name, (files, fname, frag) in PANEL_MUTATIONS.items():
        if (cmd, name) in _SKIP:
            continue
        add(Case(f"{cmd}: {name}", panel_argv(cmd, "{in}/" + fname), files(), fragment=frag))
    for name, (opts, frag) in PANEL_OPTION_CASES.items():
        add(Case(f"{cmd}: {name}", panel_argv(cmd, "{in}/panel.csv") + opts,
                 {"panel.csv": csv_bytes(base_panel())}, fragment=frag))

# ---- command-specific panel cases -------------------------------------------------------------

_good = {"panel.csv": csv_bytes(base_panel())}
_est = ["estimate", "--data", "{in}/panel.csv", "--json", "{out}/res.json"]
for name, extra, frag in [
    ("lag order 1e20", ["--formula", "lnindco ~ l(robot, 1e20) | city + year", "--entity", "city",
                        "--time", "year"], None),
    ("lag longer than the panel", ["--formula", "lnindco ~ l(robot, 100) | city + year",
                                   "--entity", "city", "--time", "year"], "longer than the panel"),
    ("lead longer than the panel", ["--formula", "lnindco ~ l(robot, -100) | city + year",
                                    "--entity", "city", "--time", "year"], "longer than the panel"),
    ("one cluster", ["--formula", "lnindco ~ robot | city + year", "--cluster", "one"], "cluster"),
    ("text weights", ["--formula", "lnindco ~ robot | city + year", "--weights", "city"], None),
    ("unknown column", ["--formula", "lnindco ~ robots | city + year"], "robots"),
    ("formula without tilde", ["--formula", "lnindco robot"], None),
    ("entity without time", ["--formula", "lnindco ~ robot", "--entity", "city"], None),
]:
    add(Case(f"estimate: {name}", _est + extra, dict(_good), fragment=frag))

for name, fn, frag in [
    ("negative weights", lambda d: d.assign(w=d["w"] - 5), "positive"),
    ("zero weights", lambda d: d.assign(w=0.0), "positive"),
]:
    add(Case(f"estimate: {name}", _est + ["--formula", "lnindco ~ robot | city + year", "--weights", "w"],
             {"panel.csv": csv_bytes(fn(base_panel()))}, fragment=frag))

_did = panel_argv("did", "{in}/panel.csv")
for name, df_fn, extra, frag in [
    ("non-integer adoption year", lambda d: d.assign(adopt_year=d["adopt_year"].where(
        d["adopt_year"].isna(), d["adopt_year"] + 0.5)), [], "whole"),
    ("text adoption year", lambda d: _with(d, "adopt_year", 0, "soon"), [], "non-numeric"),
    ("inf adoption year", lambda d: _with(d, "adopt_year", 0, "inf"), [], "infinite"),
    ("only singletons", _singletons, [], None),
    ("only singletons, all methods", _singletons, ["--method", "all", "--n-boot", "50"], None),
    ("one entity", lambda d: d[d.city == "c00"], [], None),
    ("unknown control", lambda d: d, ["--controls", "nope"], "nope"),
    ("text control", lambda d: _with(d, "edu", 2, "x"), ["--controls", "edu"], "non-numeric"),
]:
    add(Case(f"did: {name}", _did + extra, {"panel.csv": csv_bytes(df_fn(base_panel()))}, fragment=frag))

_did_ev = ["did", "--data", "{in}/panel.csv", "--y", "lnindco", "--entity", "city", "--time", "year",
           "--adopt", "adopt_year", "--method", "event", "--json", "{out}/did.json"]
for name, extra in [("leads 1e20", ["--leads", str(10**20)]), ("lags 1e20", ["--lags", str(10**20)]),
                    ("reference period 1e20", ["--ref", str(10**20)]),
                    ("negative leads", ["--leads", "-5"])]:
    add(Case(f"did: event study {name}", _did_ev + extra, dict(_good)))

_th = panel_argv("threshold", "{in}/panel.csv")
for name, df_fn, frag in [
    ("all-NaN threshold variable", lambda d: d.assign(hum=np.nan), "no values"),
    ("all-NaN regime regressor", lambda d: d.assign(robot=np.nan), "no values"),
    ("all-NaN control", lambda d: d.assign(edu=np.nan), "no values"),
    ("NaN entity and time", lambda d: _with(_with(d, "city", 3, None), "year", 9, None), "missing"),
    ("text threshold variable", lambda d: _with(d, "hum", 8, "high"), "non-numeric"),
    ("only singletons", _singletons, None),
]:
    add(Case(f"threshold: {name}", _th, {"panel.csv": csv_bytes(df_fn(base_panel()))}, fragment=frag))

_rep = panel_argv("replicate", "{in}/panel.csv")
for name, df_fn, frag in [
    ("missing required column", lambda d: d.drop(columns="robot"), "robot"),
    ("non-integer adopt_year", lambda d: d.assign(adopt_year=d["adopt_year"] + 0.5), "whole"),
    ("one city", lambda d: d[d.city == "c00"], "two cities"),
    ("text in a control", lambda d: _with(d, "fin", 3, "n/a?"), "non-numeric"),
]:
    add(Case(f"replicate: {name}", _rep, {"panel.csv": csv_bytes(df_fn(base_panel()))}, fragment=frag))

# ---- shiftshare -------------------------------------------------------------------------------

_SS = ["shiftshare", "--data", "{in}/d.csv", "--shares", "{in}/s.csv", "--y", "y", "--x", "x",
       "--instrument", "z", "--controls", "c", "--json", "{out}/ss.json"]


def _ss_files(data_fn=None, shares_fn=None, data_raw=None, shares_raw=None) -> dict[str, bytes | None]:
    d, s = shiftshare_inputs()
    return {"d.csv": data_raw if data_raw is not None else csv_bytes(data_fn(d) if data_fn else d),
            "s.csv": shares_raw if shares_raw is not None else csv_bytes(shares_fn(s) if shares_fn else s)}


for name, kw, extra, frag in [
    ("text in outcome", dict(data_fn=lambda d: _with(d, "y", 2, "lots")), [], "non-numeric"),
    ("text in regressor", dict(data_fn=lambda d: _with(d, "x", 2, "n/a?")), [], "non-numeric"),
    ("inf in regressor", dict(data_fn=lambda d: _with(d, "x", 4, "inf")), [], "infinite"),
    ("1e400 in instrument", dict(data_fn=lambda d: _with(d, "z", 4, "1e400")), [], "infinite"),
    ("inf in a control", dict(data_fn=lambda d: _with(d, "c", 4, "inf")), [], "infinite"),
    ("one cluster", dict(data_fn=lambda d: d.assign(st=1)), ["--cluster", "st"], "cluster"),
    ("negative weights", dict(data_fn=lambda d: _with(d, "wt", 3, -1.0)), ["--weights", "wt"], "positive"),
    ("zero weights", dict(data_fn=lambda d: d.assign(wt=0.0)), ["--weights", "wt"], "positive"),
    ("text weights", dict(data_fn=lambda d: _with(d, "wt", 3, "heavy")), ["--weights", "wt"], "non-numeric"),
    ("all-NaN outcome", dict(data_fn=lambda d: d.assign(y=np.nan)), [], None),
    ("unknown cluster column", {}, ["--cluster", "state"], "state"),
    ("duplicate column in data", dict(data_raw=_dup_column(shiftshare_inputs()[0], "x")), [], "duplicate"),
    ("whitespace collision in data", dict(data_fn=lambda d: d.assign(**{" y": 1.0})), [], "blanks"),
    ("header-only data", dict(data_raw=b"y,x,z,c,st,wt\n"), [], "no data rows"),
    ("text share", dict(shares_fn=lambda s: _with(s, "share", 7, "half")), [], "non-numeric"),
    ("share above one", dict(shares_fn=lambda s: _with(s, "share", 7, 1.5)), [], "[0, 1]"),
    ("negative share", dict(shares_fn=lambda s: _with(s, "share", 7, -0.1)), [], "[0, 1]"),
    ("inf share", dict(shares_fn=lambda s: _with(s, "share", 7, "inf")), [], "infinite"),
    ("shares summing above one", dict(shares_fn=lambda s: pd.concat(
        [s, pd.DataFrame({"row": [1], "industry": [99], "share": [0.5]})], ignore_index=True)), [],
     "more than one"),
    ("row out of range", dict(shares_fn=lambda s: _with(s, "row", 3, 999)), [], "row"),
    ("non-integer row", dict(shares_fn=lambda s: _with(s, "row", 3, 1.5)), [], "row"),
    ("text row", dict(shares_fn=lambda s: _with(s, "row", 3, "first")), [], "non-numeric"),
    ("missing sector label", dict(shares_fn=lambda s: _with(s, "industry", 3, None)), [], "sector"),
    ("duplicate row-sector", dict(shares_fn=lambda s: pd.concat([s, s.iloc[[0]]], ignore_index=True)), [],
     "duplicate"),
    ("missing sector column", dict(shares_fn=lambda s: s.rename(columns={"industry": "sic"})), [], "industry"),
    ("duplicate column in shares", dict(shares_raw=_dup_column(shiftshare_inputs()[1], "share")), [],
     "duplicate"),
    ("header-only shares", dict(shares_raw=b"row,industry,share\n"), [], "no data rows"),
    ("empty shares", dict(shares_raw=b""), [], "empty"),
    ("GBK shares", dict(shares_raw=shiftshare_inputs()[1].assign(industry="制造业").to_csv(
        index=False).encode("gbk")), [], "--encoding"),
    ("all shares zero", dict(shares_fn=lambda s: s.assign(share=0.0)), [], None),
    ("--sheet on CSV", {}, ["--sheet", "1"], "--sheet"),
    ("--alpha out of range", {}, ["--alpha", "1.5"], "alpha"),
]:
    add(Case(f"shiftshare: {name}", _SS + extra, _ss_files(**kw), fragment=frag))

add(Case("shiftshare: shares file is a folder", _SS, {"d.csv": _ss_files()["d.csv"], "s.csv": None},
         fragment="folder"))

# ---- build-panel ------------------------------------------------------------------------------

_BP = ["build-panel", "--inputs", "{in}/raw", "--out", "{out}/panel.parquet"]


def _edit_csv(name: str, fn) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        p = d / "raw" / name
        df = pd.read_csv(p, dtype={"ifr_code": str, "gbt_code": str})
        out = fn(df)
        p.write_bytes(out if isinstance(out, bytes) else csv_bytes(out))
    return setup


def _write(name: str, content: bytes | None) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        p = d / "raw" / name
        if content is None:
            p.unlink()
        else:
            p.write_bytes(content)
    return setup


for name, setup, extra, frag in [
    ("iva = 'lots'", _edit_csv("yearbook.csv", lambda d: _with(d, "iva", 2, "lots")), [], "non-numeric"),
    ("text robots", _edit_csv("robots.csv", lambda d: _with(d, "robots", 2, "many")), [], "non-numeric"),
    ("negative robots", _edit_csv("robots.csv", lambda d: _with(d, "robots", 2, -5.0)), [], "negative"),
    ("inf light", _edit_csv("lights_city.csv", lambda d: _with(d, "light", 2, "inf")), [], "infinite"),
    ("1e400 employment", _edit_csv("employment.csv", lambda d: _with(d, "employment", 2, "1e400")), [],
     "infinite"),
    ("text gdp", _edit_csv("yearbook.csv", lambda d: _with(d, "gdp", 5, "unknown")), [], "non-numeric"),
    ("non-integer year", _edit_csv("lights_province.csv", lambda d: _with(d, "year", 1, 2007.5)), [],
     "whole"),
    ("text year", _edit_csv("yearbook.csv", lambda d: _with(d, "year", 1, "2007a")), [], "year"),
    ("non-integer pilot year", _edit_csv("cities.csv", lambda d: _with(d, "pilot_year", 0, 2008.5)), [],
     "whole"),
    ("NaN city", _edit_csv("yearbook.csv", lambda d: _with(d, "city", 3, None)), [], "city"),
    ("header-only robots.csv", _write("robots.csv", b"ifr_code,year,robots\n"), [], "no data rows"),
    ("empty robots.csv", _write("robots.csv", b""), [], "empty"),
    ("missing robots.csv", _write("robots.csv", None), [], "robots.csv"),
    ("duplicate column in yearbook", _edit_csv("yearbook.csv", lambda d: _dup_column(d, "iva")), [],
     "duplicate"),
    ("whitespace collision in yearbook", _edit_csv("yearbook.csv", lambda d: d.assign(**{"iva ": 1.0})), [],
     "blanks"),
    ("GBK yearbook", _edit_csv("yearbook.csv", lambda d: d.assign(city=d["city"] + "市").to_csv(
        index=False).encode("gbk")), [], "--encoding"),
    ("--sheet on CSV inputs", None, ["--sheet", "x"], "--sheet"),
    ("unknown --encoding", None, ["--encoding", "nope-99"], "encoding"),
]:
    add(Case(f"build-panel: {name}", _BP + extra, {}, setup=setup, fragment=frag))

add(Case("build-panel: inputs is a file", ["build-panel", "--inputs", "{in}/raw/robots.csv", "--out",
                                           "{out}/panel.parquet"], {}, fragment="folder"))
add(Case("build-panel: inputs missing", ["build-panel", "--inputs", "{in}/nope", "--out",
                                         "{out}/panel.parquet"], {}, fragment="not found"))
add(Case("build-panel: bad --years", _BP + ["--years", "2007:2010"], {}, fragment="years"))

# ---- ceads ------------------------------------------------------------------------------------

_CE = ["ceads", "--inputs", "{in}/ceads", "--json", "{out}/ceads.json", "--csv", "{out}/ceads.csv"]


def _workbook(sheets: dict[str, list[list]]) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        import openpyxl

        wb = openpyxl.Workbook()
        wb.active.title = "NOTE"
        for nm, rows in sheets.items():
            ws = wb.create_sheet(nm)
            for r in rows:
                ws.append(list(r))
        (d / "ceads").mkdir(exist_ok=True)
        wb.save(d / "ceads" / "Emission_Inventories_2010.xlsx")
    return setup


def _ceads_rows(text_cell: bool = False) -> list[list]:
    from robocarbon.empirics import ceads

    M = np.ones((47, 22))
    M[:, 21] = M[:, :21].sum(axis=1)
    rows = [[None] + list(ceads.COLUMNS), [None] + ["Mt CO2"] * 22, [None] * 23,
            ["Total Consumption"] + list(M.sum(axis=0))]
    rows += [[s] + list(r) for s, r in zip(ceads.SECTORS, M)]
    if text_cell:
        rows[10][3] = "n/a"
    return rows


def _ceads_empty(d: Path) -> None:
    (d / "ceads").mkdir()


def _ceads_garbage(d: Path) -> None:
    (d / "ceads").mkdir()
    (d / "ceads" / "Emission_Inventories_2010.xlsx").write_bytes(b"not a workbook")


for name, setup, extra, frag in [
    ("empty folder", _ceads_empty, [], "no .xlsx"),
    ("garbage workbook", _ceads_garbage, [], "workbook"),
    ("bad sheet name", _workbook({"Atlantis2010": _ceads_rows()}), [], "sheet"),
    ("text cell", _workbook({"Beijing2010": _ceads_rows(text_cell=True)}), [], "non-numeric"),
    ("unknown layout", _workbook({"Beijing2010": [["a", "b"], [1, 2]]}), [], "layout"),
    ("--check-tol nan", _workbook({"Beijing2010": _ceads_rows()}), ["--check-tol", "nan"], "check"),
    ("--check-tol negative", _workbook({"Beijing2010": _ceads_rows()}), ["--check-tol", "-1"], "check"),
]:
    add(Case(f"ceads: {name}", _CE + extra, {}, setup=setup, fragment=frag))
add(Case("ceads: inputs missing", _CE, {}, fragment="not found"))

# ---- simulate / diagnose: bad options ------------------------------------------------------

for name, argv in [
    ("unknown design", ["simulate", "--design", "nope", "--seed", "1", "--out", "{out}/p.parquet"]),
    ("unknown parameter", ["simulate", "--set", "nope=1", "--seed", "1", "--out", "{out}/p.parquet"]),
    ("text parameter", ["simulate", "--set", "n_cities=abc", "--seed", "1", "--out", "{out}/p.parquet"]),
    ("bad output type", ["simulate", "--seed", "1", "--out", "{out}/p.sav"]),
    ("malformed --set", ["simulate", "--set", "n_cities", "--seed", "1", "--out", "{out}/p.parquet"]),
]:
    add(Case(f"simulate: {name}", argv, {}))

for name, argv in [
    ("sims 1e12", ["diagnose", "--sims", "1e12", "--out", "{out}/mc", "--json", "{out}/d.json"]),
    ("sims 0", ["diagnose", "--sims", "0", "--out", "{out}/mc"]),
    ("unknown design", ["diagnose", "--design", "nope", "--sims", "2", "--out", "{out}/mc"]),
    ("unknown estimator", ["diagnose", "--estimators", "nope", "--sims", "2", "--out", "{out}/mc"]),
    ("malformed grid", ["diagnose", "--grid", "n_cities", "--sims", "2", "--out", "{out}/mc"]),
    ("alpha above one", ["diagnose", "--alpha", "2", "--sims", "2", "--out", "{out}/mc"]),
    ("unknown parameter", ["diagnose", "--set", "nope=1", "--sims", "2", "--out", "{out}/mc"]),
]:
    add(Case(f"diagnose: {name}", argv, {}))


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def raw_inputs(tmp_path_factory) -> Path:
    from test_measure_panel import make_inputs

    return make_inputs(tmp_path_factory.mktemp("bp") / "raw")


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_enough_cases():
    assert len(CASES) >= 120
    assert {c.argv[0] for c in CASES} >= {"estimate", "did", "threshold", "shiftshare", "build-panel",
                                          "ceads", "replicate", "simulate", "diagnose"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input(case: Case, tmp_path, capsys, raw_inputs):
    ind, outd = tmp_path / "in", tmp_path / "out"
    ind.mkdir()
    if case.argv[0] == "build-panel":
        shutil.copytree(raw_inputs, ind / "raw")
    for name, content in case.files.items():
        p = ind / name
        if content is None:
            p.mkdir(parents=True)
        else:
            p.write_bytes(content)
    if case.setup is not None:
        case.setup(ind)
    before = _snapshot(ind)
    argv = [a.replace("{in}", str(ind)).replace("{out}", str(outd)) for a in case.argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and "Traceback" not in cap.out, cap.err
    assert code == 2, f"exit {code}; stderr: {cap.err[-2000:]}"
    assert cap.err.startswith("error: "), cap.err[-2000:]
    if case.fragment:
        assert case.fragment.lower() in cap.err.lower(), cap.err
    assert _snapshot(ind) == before, "an input file changed"
    assert not outd.exists(), f"output written: {sorted(map(str, outd.rglob('*')))}"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or ".part-" in p.name]
