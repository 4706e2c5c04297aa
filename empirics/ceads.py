"""Readers for the CEADs CO2 emission inventories (ceads.net).

Provincial inventories (IPCC sectoral approach; Shan et al. 2016, 2018, 2020; Guan et al. 2021)
come as one workbook per year with a ``NOTE`` sheet and one sheet per province-year named
``<Province><year>`` (e.g. ``Shanghai2019``). Each sheet is a 47-sector x 22-column matrix in Mt
CO2: 17 fuels, two scope-2 columns and "Other Energy" (zero in these inventories), ``Process``
(cement process emissions) and ``Scope 1 Total``; a total row sits above the sectors. Two layouts
exist:

- early (2004-2017 here): header row with a blank corner and spaced names (``Raw Coal``), the total
  row labelled ``Total Consumption``, sector labels padded with trailing blanks;
- late (2018-2019 here): corner ``Emission_Inventory``, underscored names (``Raw_Coal``,
  ``CleanedCoal``), the total row labelled ``TotalEmissions`` or ``Total Emissions``.

Both are recognised by normalising labels (case, blanks and underscores removed). Anything else
raises :class:`InputError` naming the file and the sheet.

Industrial CO2
--------------
The industrial sectors summed are the 40 rows from "Coal Mining and Dressing" to "Production and
Supply of Tap Water" (:data:`INDUSTRIAL_SECTORS`): mining and quarrying (6 mining rows plus
"Logging and Transport of Wood and Bamboo", which the old GB/T 4754 classification used by the
China Energy Statistical Yearbook files under extraction), the 30 manufacturing rows (including
"Scrap and waste") and the 3 utilities rows (electric power and heat, gas, tap water). This is the
industry aggregate of the energy balance sheets that CEADs' sector list follows (the "industry"
of Shan et al. 2018, Table 2: all sectors but farming, construction, transport, wholesale and
retail, others, and urban and rural households). Three industrial totals are returned: the 17
fuels only (energy-related CO2, the paper's "17 fuels"), process emissions, and their sum
(``industrial_co2``, the Scope 1 total of the industrial rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = [
    "SECTORS", "INDUSTRIAL_SECTORS", "FUELS", "UNIT", "PROVINCES_ZH",
    "read_province_sheet", "read_province_workbook", "read_province_inventories",
    "province_co2", "read_city_inventory",
]

UNIT = "Mt CO2"

FUELS = (
    "Raw Coal", "Cleaned Coal", "Other Washed Coal", "Briquettes", "Coke", "Coke Oven Gas",
    "Other Gas", "Other Coking Products", "Crude Oil", "Gasoline", "Kerosene", "Diesel Oil",
    "Fuel Oil", "LPG", "Refinery Gas", "Other Petroleum Products", "Natural Gas",
)
COLUMNS = FUELS + ("Scope 2 Heat", "Scope 2 Electricity", "Other Energy", "Process", "Scope 1 Total")

SECTORS = (
    "Farming, Forestry, Animal Husbandry, Fishery and Water Conservancy",
    "Coal Mining and Dressing",
    "Petroleum and Natural Gas Extraction",
    "Ferrous Metals Mining and Dressing",
    "Nonferrous Metals Mining and Dressing",
    "Nonmetal Minerals Mining and Dressing",
    "Other Minerals Mining and Dressing",
    "Logging and Transport of Wood and Bamboo",
    "Food Processing",
    "Food Production",
    "Beverage Production",
    "Tobacco Processing",
    "Textile Industry",
    "Garments and Other Fiber Products",
    "Leather, Furs, Down and Related Products",
    "Timber Processing, Bamboo, Cane, Palm Fiber & Straw Products",
    "Furniture Manufacturing",
    "Papermaking and Paper Products",
    "Printing and Record Medium Reproduction",
    "Cultural, Educational and Sports Articles",
    "Petroleum Processing and Coking",
    "Raw Chemical Materials and Chemical Products",
    "Medical and Pharmaceutical Products",
    "Chemical Fiber",
    "Rubber Products",
    "Plastic Products",
    "Nonmetal Mineral Products",
    "Smelting and Pressing of Ferrous Metals",
    "Smelting and Pressing of Nonferrous Metals",
    "Metal Products",
    "Ordinary Machinery",
    "Equipment for Special Purposes",
    "Transportation Equipment",
    "Electric Equipment and Machinery",
    "Electronic and Telecommunications Equipment",
    "Instruments, Meters, Cultural and Office Machinery",
    "Other Manufacturing Industry",
    "Scrap and waste",
    "Production and Supply of Electric Power, Steam and Hot Water",
    "Production and Supply of Gas",
    "Production and Supply of Tap Water",
    "Construction",
    "Transportation, Storage, Post and Telecommunication Services",
    "Wholesale, Retail Trade and Catering Services",
    "Others",
    "Urban",
    "Rural",
)
#: mining (incl. logging, old GB/T 4754 extraction), manufacturing, electricity/gas/water
INDUSTRIAL_SECTORS = SECTORS[1:41]
SECTOR_GROUPS = {
    "mining": SECTORS[1:8],
    "manufacturing": SECTORS[8:38],
    "utilities": SECTORS[38:41],
}

TOTAL_LABELS = ("totalconsumption", "totalemissions")

#: the 30 provinces of the inventories (sheet spelling) and their Chinese names (city workbook)
PROVINCES_ZH = {
    "Beijing": "北京", "Tianjin": "天津", "Hebei": "河北", "Shanxi": "山西",
    "InnerMongolia": "内蒙古", "Liaoning": "辽宁", "Jilin": "吉林", "Heilongjiang": "黑龙江",
    "Shanghai": "上海", "Jiangsu": "江苏", "Zhejiang": "浙江", "Anhui": "安徽", "Fujian": "福建",
    "Jiangxi": "江西", "Shandong": "山东", "Henan": "河南", "Hubei": "湖北", "Hunan": "湖南",
    "Guangdong": "广东", "Guangxi": "广西", "Hainan": "海南", "Chongqing": "重庆",
    "Sichuan": "四川", "Guizhou": "贵州", "Yunnan": "云南", "Shaanxi": "陕西", "Gansu": "甘肃",
    "Qinghai": "青海", "Ningxia": "宁夏", "Xinjiang": "新疆",
}


def _norm(label) -> str:
    return re.sub(r"[\s_]+", "", str(label)).lower() if label is not None else ""


_COL_KEYS = [_norm(c) for c in COLUMNS]
_SECTOR_KEYS = [_norm(s) for s in SECTORS]
_SHEET_RE = re.compile(r"^([A-Za-z]+?)\s*_?(\d{4})$")


def _layout_error(msg: str, file, sheet) -> InputError:
    return InputError(f"sheet {sheet!r}: unknown CEADs layout: {msg}", file=str(file))


def read_province_sheet(rows: Sequence[Sequence], *, file="<workbook>", sheet="<sheet>",
                        check_tol: float | None = 1e-6) -> tuple[np.ndarray, np.ndarray, str]:
    """Parse one province-year sheet given as a list of rows (cell values).

    Returns
    -------
    (matrix, total_row, layout)
        ``matrix`` is 47 sectors x 22 columns (:data:`SECTORS` x ``COLUMNS``) in Mt CO2,
        ``total_row`` the sheet's own total row (22 values) and ``layout`` ``"early"`` or
        ``"late"``.

    Raises
    ------
    InputError
        Header, unit, total-row or sector labels that match no known layout; non-numeric cells;
        a total row that differs from the sum of the sectors by more than ``check_tol`` Mt, or a
        Scope 1 Total column that differs from the sum of fuels and process by more than it.
    """
    rows = [tuple(r) for r in rows]
    if len(rows) < 4 + len(SECTORS):
        raise _layout_error(f"{len(rows)} rows, expected {4 + len(SECTORS)}", file, sheet)
    head = rows[0]
    if len(head) < 1 + len(COLUMNS) or [_norm(c) for c in head[1:1 + len(COLUMNS)]] != _COL_KEYS:
        raise _layout_error(f"header row {list(head)[:6]}... does not list the 17 fuels, "
                            "scope-2, process and Scope 1 Total columns", file, sheet)
    corner = _norm(head[0])
    if corner == "":
        layout = "early"
    elif corner == "emissioninventory":
        layout = "late"
    else:
        raise _layout_error(f"header corner cell {head[0]!r}", file, sheet)
    units = {str(u).strip() for u in rows[1][1:1 + len(COLUMNS)]}
    if units != {UNIT}:
        raise _layout_error(f"unit row {sorted(units)}; expected {UNIT!r}", file, sheet)
    if _norm(rows[3][0]) not in TOTAL_LABELS:
        raise _layout_error(f"total row labelled {rows[3][0]!r}; expected 'Total Consumption' "
                            "or 'TotalEmissions'", file, sheet)
    labels = [_norm(r[0]) for r in rows[4:4 + len(SECTORS)]]
    if labels != _SECTOR_KEYS:
        bad = [rows[4 + i][0] for i, (a, b) in enumerate(zip(labels, _SECTOR_KEYS)) if a != b]
        raise _layout_error(f"sector labels differ from the 47 CEADs sectors: {bad[:3]}", file, sheet)
    extra = [r for r in rows[4 + len(SECTORS):] if any(v not in (None, "") for v in r)]
    if extra:
        raise _layout_error(f"unexpected rows below the sectors: {extra[0][:3]}", file, sheet)

    def num(r, i):
        out = []
        for v in r[1:1 + len(COLUMNS)]:
            if v is None or v == "":
                out.append(0.0)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                if not np.isfinite(v):
                    raise InputError(f"sheet {sheet!r}: non-finite cell {v!r}", file=str(file),
                                     rows=[i + 1])
                out.append(float(v))
            else:
                raise InputError(f"sheet {sheet!r}: non-numeric cell {v!r}", file=str(file),
                                 rows=[i + 1])
        return out

    total = np.array(num(rows[3], 3))
    M = np.array([num(rows[4 + i], 4 + i) for i in range(len(SECTORS))])
    if check_tol is not None:
        d = np.abs(M.sum(axis=0) - total)
        if d.max() > check_tol:
            j = int(d.argmax())
            raise InputError(f"sheet {sheet!r}: the total row differs from the sum of the sectors "
                             f"by {d[j]:.3g} Mt in column {COLUMNS[j]!r}", file=str(file))
        d = np.abs(M[:, :-1].sum(axis=1) - M[:, -1])
        if d.max() > check_tol:
            i = int(d.argmax())
            raise InputError(f"sheet {sheet!r}: Scope 1 Total differs from the sum of the fuels "
                             f"and process by {d[i]:.3g} Mt for sector {SECTORS[i]!r}", file=str(file))
    return M, total, layout


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RNS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _col_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if ch.isalpha():
            n = n * 26 + (ord(ch.upper()) - 64)
        else:
            break
    return n - 1


_CELL_RE = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_V_RE = re.compile(rb"<v>(.*?)</v>", re.S)
_T_RE = re.compile(rb"<t[^>]*>(.*?)</t>", re.S)
_TYPE_RE = re.compile(rb'\bt="(\w+)"')


def _fast_sheet_rows(path: Path):
    """Cell values of every sheet, read straight from the workbook's XML with regular expressions
    (several times faster than openpyxl for these many small sheets; the tests check that the
    two agree on the real workbooks). Numbers, shared and inline strings, booleans; cached
    formula results are used (as openpyxl's ``data_only=True``)."""
    import html
    import posixpath
    import zipfile
    from xml.etree import ElementTree as ET

    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            for si in root.iter(f"{_NS}si"):
                shared.append("".join(t.text or "" for t in si.iter(f"{_NS}t")))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        wbx = ET.fromstring(z.read("xl/workbook.xml"))
        out = []
        for sh in wbx.iter(f"{_NS}sheet"):
            tgt = target[sh.get(f"{_RNS}id")]
            part = tgt.lstrip("/") if tgt.startswith("/") else posixpath.normpath(posixpath.join("xl", tgt))
            xml = z.read(part)
            cells: dict[int, dict[int, object]] = {}
            for m in _CELL_RE.finditer(xml):
                col = _col_index(m.group(1).decode())
                row = int(m.group(2)) - 1
                tm = _TYPE_RE.search(m.group(3))
                t = tm.group(1).decode() if tm else "n"
                inner = m.group(4) or b""
                if t == "inlineStr":
                    val = html.unescape("".join(x.decode() for x in _T_RE.findall(inner)))
                else:
                    vm = _V_RE.search(inner)
                    if vm is None:
                        val = None
                    else:
                        v = vm.group(1).decode()
                        if t == "s":
                            val = shared[int(v)]
                        elif t == "b":
                            val = v == "1"
                        elif t in ("str", "e"):
                            val = html.unescape(v)
                        else:
                            f = float(v)
                            val = int(f) if f.is_integer() and "." not in v and "E" not in v.upper() else f
                cells.setdefault(row, {})[col] = val
            nrow = max(cells) + 1 if cells else 0
            width = max((max(c) + 1 for c in cells.values() if c), default=0)
            rows = [tuple(cells.get(r, {}).get(k) for k in range(width)) for r in range(nrow)]
            out.append((sh.get("name"), rows))
    return out


def _sheet_rows(path: Path, engine: str = "fast"):
    """(sheet name, rows) of every sheet of a workbook; ``engine`` "fast" or "openpyxl"."""
    if engine == "fast":
        try:
            return _fast_sheet_rows(path)
        except Exception as exc:  # not a zip, missing parts, bad XML
            raise InputError(f"cannot open as an xlsx workbook: {exc}", file=str(path)) from exc
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip / xml errors from a file that is not a workbook
        raise InputError(f"cannot open as an xlsx workbook: {exc}", file=str(path)) from exc
    try:
        return [(name, list(wb[name].iter_rows(values_only=True))) for name in wb.sheetnames]
    finally:
        wb.close()


def read_province_workbook(path, *, check_tol: float | None = 1e-6, engine: str = "fast") -> dict:
    """Read one provincial CEADs workbook.

    Returns
    -------
    dict
        ``{(province, year): {"matrix": 47x22 array, "total_row": 22 array, "layout": str,
        "sheet": name}}`` for every province-year sheet (the ``NOTE`` sheet is skipped).

    Raises
    ------
    InputError
        A sheet whose name is not ``<Province><year>``, a province not among the 30, or a sheet
        of unknown layout (the error names the file and the sheet).
    """
    path = Path(path)
    out = {}
    for name, rows in _sheet_rows(path, engine):
        if name.strip().upper() == "NOTE":
            continue
        m = _SHEET_RE.match(name.strip())
        if not m:
            raise _layout_error("sheet name is not <Province><year>", path, name)
        prov, year = m.group(1), int(m.group(2))
        if prov not in PROVINCES_ZH:
            raise _layout_error(f"province {prov!r} is not one of the 30 CEADs provinces", path, name)
        M, total, layout = read_province_sheet(rows, file=path, sheet=name, check_tol=check_tol)
        out[(prov, year)] = {"matrix": M, "total_row": total, "layout": layout, "sheet": name}
    if not out:
        raise InputError("no province-year sheets found", file=str(path))
    return out


def _province_files(inputs) -> list[Path]:
    if isinstance(inputs, str | Path):
        p = Path(inputs)
        if p.is_file():
            return [p]
        if not p.is_dir():
            raise InputError("CEADs input folder not found", file=str(p))
        if (p / "provinces").is_dir():
            p = p / "provinces"
        files = sorted(f for f in p.glob("*.xlsx") if not f.name.startswith(("~$", ".")))
        files = [f for f in files if "citi" not in f.name.lower()]
        if not files:
            raise InputError("no .xlsx workbooks in the CEADs folder", file=str(p))
        return files
    return [Path(f) for f in inputs]


def read_province_inventories(inputs, *, check_tol: float | None = 1e-6, progress: bool = False) -> dict:
    """Read every provincial workbook in a folder (or a list of files).

    ``inputs`` may be the folder of workbooks, a CEADs folder with a ``provinces/`` sub-folder,
    one workbook, or a list of workbooks. Returns the merged dict of
    :func:`read_province_workbook`; a province-year present twice raises :class:`InputError`.
    """
    if check_tol is not None:
        try:
            tol = float(check_tol)
        except (TypeError, ValueError) as exc:
            raise InputError(f"check_tol (--check-tol) must be a number, got {check_tol!r}") from exc
        if not (np.isfinite(tol) and tol >= 0):
            raise InputError(f"check_tol (--check-tol) must be a finite number >= 0, got {check_tol!r}")
    files = _province_files(inputs)
    it: Iterable = files
    if progress:
        from tqdm import tqdm

        it = tqdm(files, desc="CEADs workbooks", unit="file", disable=None)
    out: dict = {}
    for f in it:
        wb = read_province_workbook(f, check_tol=check_tol)
        for key, v in wb.items():
            if key in out:
                raise InputError(f"province-year {key} appears twice (also in {out[key]['file']})",
                                 file=str(f))
            v["file"] = str(f)
            out[key] = v
    return out


def province_co2(inventories, *, sectors: Sequence[str] = INDUSTRIAL_SECTORS) -> pd.DataFrame:
    """Province x year industrial and total CO2 (Mt CO2).

    Parameters
    ----------
    inventories
        The dict of :func:`read_province_inventories`, or anything it accepts (folder, files).
    sectors
        The sectors summed as "industrial" (default :data:`INDUSTRIAL_SECTORS`, the 40 mining,
        manufacturing and utilities rows); labels are matched after normalisation.

    Returns
    -------
    pandas.DataFrame
        Columns ``province``, ``province_zh``, ``year``, ``industrial_co2`` (Scope 1 total of the
        industrial sectors: 17 fuels plus process), ``industrial_energy_co2`` (17 fuels only),
        ``industrial_process_co2``, ``total_co2`` (the sum of all 47 sectors), ``total_reported``
        (the sheet's own total row), ``layout``, ``unit``; sorted by province and year.
    """
    if not isinstance(inventories, dict):
        inventories = read_province_inventories(inventories)
    keys = {_norm(s) for s in sectors}
    unknown = keys - set(_SECTOR_KEYS)
    if unknown:
        raise InputError(f"unknown CEADs sector(s): {sorted(unknown)[:3]}")
    mask = np.array([k in keys for k in _SECTOR_KEYS])
    nf = len(FUELS)
    iproc, itot = COLUMNS.index("Process"), COLUMNS.index("Scope 1 Total")
    recs = []
    for (prov, year), v in inventories.items():
        M = v["matrix"]
        ind = M[mask]
        recs.append({
            "province": prov, "province_zh": PROVINCES_ZH.get(prov), "year": year,
            "industrial_co2": float(ind[:, itot].sum()),
            "industrial_energy_co2": float(ind[:, :nf].sum()),
            "industrial_process_co2": float(ind[:, iproc].sum()),
            "total_co2": float(M[:, itot].sum()),
            "total_reported": float(v["total_row"][itot]),
            "layout": v["layout"], "unit": UNIT,
        })
    df = pd.DataFrame(recs).sort_values(["province", "year"]).reset_index(drop=True)
    df.attrs["unit"] = UNIT
    df.attrs["industrial_sectors"] = list(sectors)
    return df


def read_city_inventory(path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read the CEADs inventory of 290 cities (total CO2, 1997-2019, unbalanced).

    Accepts the workbook (its ``emission vector`` sheet: ID, city, year, emission; or, failing
    that, the ``emission matrix`` sheet: city x year), a folder holding it (or a ``cities/``
    sub-folder), or a CSV with columns city, year, emission.

    Returns
    -------
    pandas.DataFrame
        ``city`` (Chinese name as in the workbook, province prefix included), ``province_zh``,
        ``province`` (English, as in the provincial workbooks), ``year``, ``co2`` (Mt CO2),
        ``unit``.
    """
    p = Path(path)
    if p.is_dir():
        if (p / "cities").is_dir():
            p = p / "cities"
        cands = sorted(f for f in p.glob("*.xlsx") if not f.name.startswith(("~$", ".")))
        if len(cands) != 1:
            raise InputError(f"expected one city workbook in the folder, found {len(cands)}", file=str(p))
        p = cands[0]
    if not p.exists():
        raise InputError("file not found", file=str(p))
    if p.suffix.lower() in (".csv", ".tsv", ".txt") or p.name.lower().endswith(".csv.gz"):
        from .data import read_table

        df = read_table(p)
    else:
        try:
            sheets = pd.read_excel(p, sheet_name=None)
        except Exception as exc:
            raise InputError(f"cannot read the city workbook: {exc}", file=str(p)) from exc
        if sheet is not None:
            if sheet not in sheets:
                raise InputError(f"no sheet {sheet!r} (sheets: {list(sheets)})", file=str(p))
            df = sheets[sheet]
        elif "emission vector" in sheets:
            df = sheets["emission vector"]
        elif "emission matrix" in sheets:
            df = sheets["emission matrix"]
        else:
            raise InputError(f"unknown CEADs city layout: sheets {list(sheets)}; expected "
                             "'emission vector' or 'emission matrix'", file=str(p))
    if "emission" not in df.columns and "city" in df.columns and all(
            re.fullmatch(r"\d{4}", str(c)) for c in df.columns if c != "city"):
        df = df.melt(id_vars="city", var_name="year", value_name="emission").dropna()
    need = {"city", "year", "emission"}
    if not need <= set(df.columns):
        raise InputError(f"unknown CEADs city layout: columns {list(df.columns)}, expected "
                         f"{sorted(need)}", file=str(p))
    out = df[["city", "year", "emission"]].rename(columns={"emission": "co2"}).copy()
    yr = pd.to_numeric(out["year"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(yr) | (yr != np.round(yr))
    if bad.any():
        raise InputError("the year must be a whole number", file=str(p), column="year",
                         rows=out.loc[bad, "city"].astype(str).unique().tolist()[:5])
    out["year"] = yr.astype(int)
    out["co2"] = pd.to_numeric(out["co2"], errors="coerce")
    if np.isinf(out["co2"].to_numpy(dtype=float)).any():
        raise InputError("infinite emission values", file=str(p), column="emission")
    zh_to_en = {v: k for k, v in PROVINCES_ZH.items()}
    prefixes = sorted(zh_to_en, key=len, reverse=True)

    def prov_of(name: str):
        for z in prefixes:
            if str(name).startswith(z):
                return z
        return None

    out.insert(1, "province_zh", out["city"].map(prov_of))
    out.insert(2, "province", out["province_zh"].map(zh_to_en))
    bad = out["province"].isna()
    if bad.any():
        raise InputError("city names without a known province prefix", file=str(p), column="city",
                         rows=out.loc[bad, "city"].unique().tolist())
    if out.duplicated(["city", "year"]).any():
        raise InputError("duplicate city-year rows", file=str(p), column="year",
                         rows=out.loc[out.duplicated(["city", "year"]), "city"].tolist())
    out["unit"] = UNIT
    return out.sort_values(["city", "year"]).reset_index(drop=True)
