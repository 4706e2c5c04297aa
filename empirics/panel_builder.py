"""Raw inputs -> the analysis panel (see docs/inputs.md for the schema).

Steps: (1) IFR robots by IFR industry are mapped to GB/T 4754-2002 two-digit industries with the
crosswalk; (2) the shocks Robot_jt / labor_j,b and the base-year shares labor_ij,b / labor_i,b
give the Bartik exposure (21); (3) provincial industrial CO2 (a CSV, or the CEADs workbooks in a
``ceads/`` sub-folder) is downscaled to cities with nightlights (19)-(20); (4) the controls,
mechanism and threshold variables are computed from the yearbook, and hmatch (23); (5) rows are
dropped, each with its reason, and optionally the paper's sample rule is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import bartik as _bartik
from . import ceads as _ceads
from . import downscale as _downscale
from . import variables as _variables
from .data import file_rows as _file_rows
from .errors import InputError

__all__ = ["build_panel", "BuiltPanel", "read_inputs", "template_dir", "write_templates",
           "sample_rule", "INPUT_FILES", "PANEL_VARIABLES"]

#: input files of the schema: name -> (required, columns)
INPUT_FILES = {
    "robots.csv": (True, ["ifr_code", "year", "robots"]),
    "crosswalk.csv": (False, ["ifr_code", "gbt_code"]),
    "employment.csv": (True, ["city", "gbt_code", "year", "employment"]),
    "national_employment.csv": (False, ["gbt_code", "year", "employment"]),
    "lights_province.csv": (True, ["province", "year", "light"]),
    "lights_city.csv": (True, ["city", "province", "year", "light"]),
    "yearbook.csv": (True, ["city", "province", "year", "iva"]),
    "province_co2.csv": (False, ["province", "year", "industrial_co2"]),
    "cities.csv": (False, ["city", "province"]),
}

#: variables of the analysis panel checked by the sample rule and the listwise drop
PANEL_VARIABLES = ("lnindco", "robot", "edu", "urban", "lnpop", "lnpgdp", "energ", "open", "fin")

_CODE_COLS = ("ifr_code", "gbt_code")


def template_dir() -> Path:
    """Folder of the CSV templates shipped with the package (empirics/templates)."""
    return Path(str(resources.files("robocarbon.empirics") / "templates"))


def template_targets(outdir) -> list[tuple[Path, Path]]:
    """(source, target) of each CSV template :func:`write_templates` writes into ``outdir``."""
    out = Path(outdir)
    return [(f, out / ("crosswalk.csv" if f.name.startswith("crosswalk") else f.name))
            for f in sorted(template_dir().glob("*.csv"))]


def write_templates(outdir) -> list[Path]:
    """Copy the CSV templates (the crosswalk as ``crosswalk.csv``) into ``outdir``, under the
    output policy: a user's file of the same name (e.g. their own ``robots.csv``) is never
    replaced unless ``--force``; every target is checked before the first is written."""
    from .outputs import atomic_path, check_file

    pairs = template_targets(outdir)
    for _, target in pairs:
        check_file(target)
    written = []
    for src, target in pairs:
        with atomic_path(target) as tmp:
            tmp.write_bytes(src.read_bytes())
        written.append(target)
    return written


def _code(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.where(~s.str.fullmatch(r"\d"), "0" + s)  # "6" -> "06" (GB/T two-digit codes)


#: numeric columns of the input files (beyond the required ones): text in them is an error
NUMERIC_COLUMNS = {
    "robots.csv": ("robots",),
    "crosswalk.csv": ("weight",),
    "employment.csv": ("employment",),
    "national_employment.csv": ("employment",),
    "lights_province.csv": ("light",),
    "lights_city.csv": ("light",),
    "yearbook.csv": tuple(_variables.YEARBOOK_COLUMNS),
    "province_co2.csv": ("industrial_co2",),
    "cities.csv": ("employment_total", "pilot_year"),
}


def _read_csv(path: Path, cols, *, name: str | None = None, reader: dict | None = None) -> pd.DataFrame:
    """One input file through the shared reader (:func:`robocarbon.empirics.data.read_table`),
    checked: required columns, codes as text, ids without missing values, whole years, numbers
    (no text such as ``iva = 'lots'``, no infinities) in the numeric columns."""
    from . import data as _data

    df = _data.read_table(path, dtype={c: str for c in _CODE_COLS}, **_data.reader_kwargs(reader))
    f = str(path)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}; has {list(df.columns)}", file=f,
                         column=missing[0])
    for c in _CODE_COLS:
        if c in df.columns:
            df[c] = _code(df[c])
    for c in ("city", "province"):
        if c in df.columns:
            if c in cols:
                miss = df[c].isna().to_numpy()
                if miss.any():
                    raise InputError(f"missing {c} name", file=f, column=c,
                                     rows=_data.file_rows(df, miss))
            df[c] = df[c].astype("string").str.strip()
    for c in ("ifr_code",):
        if c in cols and df[c].isna().any():
            raise InputError("missing IFR industry code", file=f, column=c,
                             rows=_data.file_rows(df, df[c].isna().to_numpy()))
    if "year" in df.columns:
        y = _data.numeric_column(df, "year", file=f)
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise InputError("the year must be a whole number", file=f, column="year",
                             rows=_data.file_rows(df, bad))
        df["year"] = y.astype(int)
    for c in NUMERIC_COLUMNS.get(name or Path(path).name, ()):
        if c in df.columns:
            if c == "pilot_year":
                _data.check_integer_periods(df, c, file=f, what="pilot year")
            else:
                _data.numeric_column(df, c, file=f)
    df.attrs["file"] = f
    return df


def read_inputs(inputs, *, reader: dict | None = None) -> dict[str, pd.DataFrame]:
    """Read the raw-input folder. Missing required files raise :class:`InputError`; the
    crosswalk defaults to the shipped template; provincial CO2 comes from ``province_co2.csv`` or,
    failing that, from CEADs workbooks in ``ceads/`` (or ``ceads/provinces/``). ``reader``: the
    options of :func:`robocarbon.empirics.data.read_table` (``sep``, ``encoding``, ``skiprows``)
    for the user's CSV files (not the shipped crosswalk)."""
    d = Path(inputs)
    if d.is_file():
        raise InputError("is a file; --inputs names the folder of raw-input CSV files", file=str(d))
    if not d.is_dir():
        raise InputError("inputs folder not found", file=str(d))
    out: dict[str, pd.DataFrame] = {}
    for name, (required, cols) in INPUT_FILES.items():
        p = d / name
        if p.exists():
            out[name] = _read_csv(p, cols, name=name, reader=reader)
        elif name == "crosswalk.csv":
            out[name] = _read_csv(template_dir() / "crosswalk_ifr_gbt2002.csv", cols, name=name)
            out[name].attrs["file"] = "shipped crosswalk_ifr_gbt2002.csv"
        elif required:
            raise InputError(f"required input {name} is missing (templates: robocarbon "
                             "build-panel --templates DIR)", file=str(p))
    if "province_co2.csv" not in out:
        cdir = d / "ceads"
        if not cdir.is_dir():
            raise InputError("no province_co2.csv and no ceads/ folder of CEADs workbooks",
                             file=str(d / "province_co2.csv"))
        tab = _ceads.province_co2(_ceads.read_province_inventories(cdir))
        df = tab[["province", "year", "industrial_co2"]].copy()
        df.attrs["file"] = str(cdir)
        out["province_co2.csv"] = df
    return out


@dataclass(frozen=True)
class BuiltPanel:
    """Output of :func:`build_panel`: the panel, the dropped rows with reasons, diagnostics."""

    panel: pd.DataFrame
    dropped: pd.DataFrame
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _check_city_province(frames: dict[str, pd.DataFrame]) -> pd.Series:
    parts = []
    for name in ("yearbook.csv", "lights_city.csv", "cities.csv"):
        if name in frames:
            f = frames[name][["city", "province"]].dropna().drop_duplicates()
            parts.append(f.assign(source=name))
    allm = pd.concat(parts, ignore_index=True)
    n = allm.groupby("city")["province"].nunique()
    bad = n.index[n > 1].tolist()
    if bad:
        ex = allm[allm.city == bad[0]]
        detail = "; ".join(f"{r.province} in {r.source}" for r in ex.itertuples())
        raise InputError(f"a city is assigned to more than one province ({bad[0]}: {detail})",
                         column="province", rows=bad)
    return allm.drop_duplicates("city").set_index("city")["province"]


def _robots_by_gbt(robots: pd.DataFrame, cw: pd.DataFrame, nat_emp: pd.Series,
                   unspecified: str) -> tuple[pd.DataFrame, dict]:
    f = robots.attrs.get("file")
    r = pd.to_numeric(robots["robots"], errors="coerce")
    if r.isna().any():
        raise InputError("missing or non-numeric robot counts", file=f, column="robots",
                         rows=_file_rows(robots, r.isna().to_numpy()))
    if (r < 0).any():
        raise InputError("negative robot counts", file=f, column="robots",
                         rows=_file_rows(robots, (r < 0).to_numpy()))
    robots = robots.assign(robots=r.astype(float))
    known = set(cw["ifr_code"].dropna())
    missing = sorted(set(robots["ifr_code"]) - known)
    if missing:
        raise InputError(f"IFR industries missing from the crosswalk: {missing[:10]} (add them "
                         "to crosswalk.csv, with an empty gbt_code to drop them)", file=f,
                         column="ifr_code", rows=missing)
    info: dict[str, Any] = {}
    cw = cw.copy()
    mapped = cw[cw["gbt_code"].notna() & (cw["gbt_code"] != "")]
    unsp_codes = set(cw.loc[cw["gbt_code"].isna() | (cw["gbt_code"] == ""), "ifr_code"])
    # one IFR industry may map to several GB/T codes: split by the given weights or else by the
    # base-year national employment of those codes
    w = pd.to_numeric(mapped.get("weight", pd.Series(np.nan, index=mapped.index)), errors="coerce")
    mapped = mapped.assign(weight=w)
    parts = []
    for code, grp in mapped.groupby("ifr_code"):
        if grp["weight"].notna().all():
            ww = grp["weight"].to_numpy(float)
        else:
            ww = nat_emp.reindex(grp["gbt_code"]).fillna(0.0).to_numpy(float)
            if ww.sum() <= 0:
                ww = np.ones(len(grp))
        if (ww < 0).any():
            raise InputError("negative crosswalk weight", column="weight", rows=[code])
        parts.append(grp.assign(weight=ww / ww.sum()))
    mapped = pd.concat(parts, ignore_index=True) if parts else mapped
    rob = robots.merge(mapped[["ifr_code", "gbt_code", "weight"]], on="ifr_code", how="inner")
    rob["robots"] = rob["robots"] * rob["weight"]
    by = rob.groupby(["gbt_code", "year"], as_index=False)["robots"].sum()
    un = robots[robots["ifr_code"].isin(unsp_codes)]
    info["robots_not_mapped"] = float(un["robots"].sum())
    if unspecified == "distribute":
        # unspecified robots (IFR 99) are spread over the mapped industries in proportion to
        # their robots in the same year; non-industrial IFR classes stay dropped
        extra = un[un["ifr_code"] == "99"].groupby("year")["robots"].sum()
        if len(extra):
            tot = by.groupby("year")["robots"].transform("sum")
            add = extra.reindex(by["year"]).fillna(0.0).to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                by["robots"] = by["robots"] + np.where(tot > 0, by["robots"] / tot * add, 0.0)
            info["robots_unspecified_distributed"] = float(extra.sum())
    elif unspecified != "drop":
        raise InputError(f"unspecified must be 'distribute' or 'drop', got {unspecified!r}")
    return by, info


def sample_rule(panel: pd.DataFrame, variables, *, max_run: int = 4, city: str = "city",
                year: str = "year", years=None) -> tuple[pd.DataFrame, list[dict]]:
    """The paper's rule: drop cities with a variable missing in ``max_run`` or more consecutive
    years (a year absent from the panel counts as missing). Returns the kept panel and a list of
    dropped cities with the variable and the run."""
    yrs = sorted(panel[year].unique()) if years is None else list(years)
    dropped = []
    keep_cities = []
    grid = pd.MultiIndex.from_product([panel[city].unique(), yrs], names=[city, year])
    full = panel.set_index([city, year]).reindex(grid)
    for c, sub in full.groupby(level=0, sort=False):
        reason = None
        for v in variables:
            miss = sub[v].isna().to_numpy() if v in sub.columns else np.ones(len(sub), bool)
            run = best = 0
            for m in miss:
                run = run + 1 if m else 0
                best = max(best, run)
            if best >= max_run:
                reason = {"city": c, "variable": v, "longest_missing_run": int(best)}
                break
        if reason is None:
            keep_cities.append(c)
        else:
            dropped.append(reason)
    return panel[panel[city].isin(keep_cities)].copy(), dropped


def build_panel(
    inputs,
    *,
    base_year: int = 2004,
    years: tuple[int, int] | None = None,
    form: str = "levels",
    fixed_effects: bool = False,
    apply_sample_rule: bool = False,
    max_missing_run: int = 4,
    interpolate: bool = False,
    per_workers: float = 1e4,
    usd_cny: float | None = None,
    unspecified: str = "distribute",
    reader: dict | None = None,
) -> BuiltPanel:
    """Build the analysis panel from a raw-input folder (or a dict of DataFrames).

    Parameters
    ----------
    inputs
        Folder in the schema of docs/inputs.md, or the dict returned by :func:`read_inputs`.
    base_year
        Base year of the employment shares and of labor_j,b (the paper: 2004).
    years
        Keep these years (inclusive range), e.g. (2007, 2019).
    form, fixed_effects
        Downscaling options (see :func:`robocarbon.empirics.downscale.downscale`).
    apply_sample_rule, max_missing_run
        Drop cities missing a variable in ``max_missing_run`` (4) or more consecutive years.
    interpolate
        After the sample rule, fill shorter interior gaps of the controls by linear interpolation
        within city (reported); off by default.
    per_workers
        Robots are expressed per this many base-year workers (10,000: robots per 10,000 workers).
    usd_cny
        Yuan per dollar for FDI when the yearbook lacks a ``usd_cny`` column.
    unspecified
        IFR "99 unspecified" robots: ``"distribute"`` over the mapped industries pro rata, or
        ``"drop"``.
    reader
        Options of the shared reader for the input CSV files (``sep``, ``encoding``,
        ``skiprows``), see :func:`robocarbon.empirics.data.read_table`.

    Returns
    -------
    BuiltPanel
        ``panel`` (city, province, year, lnindco, indco, co2_ind, robot, controls, hum, internet,
        sci, gpatent, hmatch, groupings, adopt_year, did), ``dropped`` (city, year, stage, reason)
        and ``diagnostics`` (downscaling fit, robot mapping, counts).

    Notes
    -----
    .. math:: robot_{it} = \\sum_j \\frac{labor_{ij,b}}{labor_{i,b}}
              \\frac{Robot_{jt}}{labor_{j,b}/\\text{per\\_workers}},\\qquad
              lnindco_{it} = \\ln\\frac{10^6\\,CO_{it}\\,[\\text{Mt}]}{IVA_{it}\\,[10^4\\text{ yuan}]}
    """
    frames = read_inputs(inputs, reader=reader) if not isinstance(inputs, dict) else inputs
    diag: dict[str, Any] = {"base_year": base_year}
    drops: list[dict] = []
    city_prov = _check_city_province(frames)

    # ---- employment, shares and shocks -------------------------------------------------
    emp = frames["employment.csv"]
    fe_ = emp.attrs.get("file")
    e = pd.to_numeric(emp["employment"], errors="coerce")
    if e.isna().any():
        raise InputError("missing or non-numeric employment", file=fe_, column="employment",
                         rows=_file_rows(emp, e.isna().to_numpy()))
    if (e < 0).any():
        raise InputError("negative employment counts", file=fe_, column="employment",
                         rows=_file_rows(emp, (e < 0).to_numpy()))
    emp = emp.assign(employment=e.astype(float))
    if base_year not in set(emp["year"]):
        raise InputError(f"base year {base_year} not in the employment file (years: "
                         f"{sorted(set(emp['year']))[:10]})", file=fe_, column="year")
    if "national_employment.csv" in frames:
        ne = frames["national_employment.csv"]
        ne = ne[ne["year"] == base_year]
        if ne.empty:
            raise InputError(f"base year {base_year} not in national_employment.csv",
                             file=ne.attrs.get("file"), column="year")
        if (pd.to_numeric(ne["employment"]) < 0).any():
            raise InputError("negative employment counts", file=ne.attrs.get("file"), column="employment")
        nat = ne.groupby("gbt_code")["employment"].sum().astype(float)
    else:
        nat = emp[emp["year"] == base_year].groupby("gbt_code")["employment"].sum()
    city_total = None
    cities = frames.get("cities.csv")
    if cities is not None and "employment_total" in cities.columns:
        ct = pd.to_numeric(cities["employment_total"], errors="coerce")
        if ct.notna().any():
            city_total = pd.Series(ct.to_numpy(), index=cities["city"].to_numpy()).dropna()
            base_sum = emp[emp["year"] == base_year].groupby("city")["employment"].sum()
            over = (base_sum.reindex(city_total.index) > city_total * (1 + 1e-9))
            if over.any():
                raise InputError("shares above one: a city's industry employment exceeds its "
                                 "employment_total", file=cities.attrs.get("file"),
                                 column="employment_total", rows=over.index[over].tolist())
            if not base_sum.index.isin(city_total.index).all():
                fill = base_sum[~base_sum.index.isin(city_total.index)]
                city_total = pd.concat([city_total, fill])
    S = _bartik.base_shares(emp, base_year, industry="gbt_code", city_total=city_total, file=fe_)
    cw = frames["crosswalk.csv"]
    rob, rinfo = _robots_by_gbt(frames["robots.csv"], cw, nat, unspecified)
    diag["robots"] = rinfo
    R = rob.pivot(index="gbt_code", columns="year", values="robots")
    no_emp = [j for j in R.index if not nat.get(j, 0) > 0]
    if no_emp:
        # robots in an industry with no base-year employment cannot be scaled: reported
        lost = R.loc[no_emp].sum(axis=1)
        diag["robots_in_industries_without_employment"] = {
            str(j): float(v) for j, v in lost.items() if v > 0}
        R = R.drop(index=no_emp)
    G = R.div(nat.reindex(R.index) / per_workers, axis=0)
    uncovered = [j for j in S.columns if j not in G.index]
    diag["share_industries_without_robots"] = uncovered  # zero shock (incomplete coverage)
    G = G.reindex(list(G.index) + uncovered).fillna(0.0)
    expo = _bartik.bartik(S, G).stack(future_stack=True).rename("robot").reset_index()
    expo.columns = ["city", "year", "robot"]

    # ---- CO2 downscaling ------------------------------------------------------------------
    pco2 = frames["province_co2.csv"].rename(columns={"industrial_co2": "co2"})
    lp = frames["lights_province.csv"]
    prov = pco2.merge(lp, on=["province", "year"], how="inner")
    lost = len(pco2) - len(prov)
    if lost:
        diag["province_years_without_lights"] = int(lost)
    lc = frames["lights_city.csv"]
    ds = _downscale.downscale(prov, lc, form=form, fixed_effects=fixed_effects)
    diag["downscale"] = {"options": ds.options, "slope": float(ds.fit.params[0]),
                         "slope_se": float(ds.fit.std_errors.iloc[0]), "nobs": ds.fit.nobs,
                         "dropped": ds.dropped}
    co2 = ds.cities[["city", "year", "co2"]].rename(columns={"co2": "co2_ind"})

    # ---- yearbook variables ---------------------------------------------------------------
    yb = frames["yearbook.csv"]
    if yb.duplicated(["city", "year"]).any():
        raise InputError("duplicate city-year rows", file=yb.attrs.get("file"), column="year",
                         rows=yb.loc[yb.duplicated(["city", "year"]), "city"].tolist())
    ctrl = _variables.controls(yb, usd_cny=usd_cny, file=yb.attrs.get("file"))
    panel = ctrl.merge(yb[["city", "year", "iva"]], on=["city", "year"], how="left")
    panel["province"] = panel["city"].map(city_prov)
    panel = panel.merge(expo, on=["city", "year"], how="left").merge(co2, on=["city", "year"], how="left")
    iva = pd.to_numeric(panel["iva"], errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        indco = np.where((iva > 0) & (panel["co2_ind"] > 0), panel["co2_ind"] * 1e6 / iva, np.nan)
    panel["indco"] = indco
    panel["lnindco"] = np.log(indco)
    if cities is not None:
        extra = [c for c in cities.columns if c not in ("city", "province", "employment_total")]
        panel = panel.merge(cities[["city"] + extra], on="city", how="left")
        if "pilot_year" in panel.columns:
            py = pd.to_numeric(panel["pilot_year"], errors="coerce")
            panel["adopt_year"] = py
            panel["did"] = ((panel["year"] >= py) & py.notna()).astype(int)
            panel = panel.drop(columns="pilot_year")
    if years is not None:
        lo, hi = years
        out_range = (panel["year"] < lo) | (panel["year"] > hi)
        if out_range.any():
            drops.append({"stage": "years", "reason": f"outside {lo}-{hi}",
                          "rows": panel.loc[out_range, ["city", "year"]]})
            panel = panel[~out_range]
    variables = [v for v in PANEL_VARIABLES if v in panel.columns]
    if apply_sample_rule:
        yrs = list(range(int(panel["year"].min()), int(panel["year"].max()) + 1))
        panel, dc = sample_rule(panel, variables, max_run=max_missing_run, years=yrs)
        for d in dc:
            drops.append({"stage": "sample rule", "reason": f"{d['variable']} missing "
                          f"{d['longest_missing_run']} consecutive years (>= {max_missing_run})",
                          "rows": pd.DataFrame({"city": [d["city"]], "year": [pd.NA]})})
    if interpolate:
        panel = panel.sort_values(["city", "year"])
        before = panel[variables].isna().sum().sum()
        ctrls = [v for v in variables if v not in ("lnindco", "robot")]
        panel[ctrls] = panel.groupby("city")[ctrls].transform(
            lambda s: s.interpolate(limit_area="inside"))
        diag["interpolated_values"] = int(before - panel[variables].isna().sum().sum())
    miss = panel[variables].isna()
    for v in variables:
        m = miss[v] & ~miss[variables[: variables.index(v)]].any(axis=1)
        if v == "robot":
            m_noemp = m & ~panel["city"].isin(S.index)
            if m_noemp.any():
                drops.append({"stage": "missing", "reason": f"robot missing: no base-year "
                              f"({base_year}) employment for the city",
                              "rows": panel.loc[m_noemp, ["city", "year"]]})
            m = m & ~m_noemp
        if m.any():
            drops.append({"stage": "missing", "reason": f"{v} missing",
                          "rows": panel.loc[m, ["city", "year"]]})
    panel = panel[~miss.any(axis=1)].copy()
    if "hum" in panel.columns:
        # (23) with min-max scaling over the final sample (rows dropped above do not set the range)
        ok = panel["robot"].notna() & panel["hum"].notna()
        panel["hmatch"] = np.nan
        panel.loc[ok, "hmatch"] = _variables.hmatch(panel.loc[ok, "robot"], panel.loc[ok, "hum"])
    front = ["city", "province", "year", "lnindco", "indco", "co2_ind", "iva", "robot"]
    panel = panel[[c for c in front if c in panel.columns] + [c for c in panel.columns if c not in front]]
    panel = panel.sort_values(["city", "year"]).reset_index(drop=True)
    dropped = pd.concat(
        [d["rows"].assign(stage=d["stage"], reason=d["reason"]) for d in drops],
        ignore_index=True) if drops else pd.DataFrame(columns=["city", "year", "stage", "reason"])
    diag["n_rows"] = len(panel)
    diag["n_cities"] = int(panel["city"].nunique())
    diag["n_dropped_rows"] = int(len(dropped))
    diag["dropped_by_reason"] = dropped.groupby("reason").size().to_dict() if len(dropped) else {}
    return BuiltPanel(panel=panel, dropped=dropped, diagnostics=diag)
