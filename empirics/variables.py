"""Variable construction: the human-machine matching index (23) and the paper's controls.

Yearbook units expected (see docs/inputs.md): money in 10,000 yuan (万元), population in 10,000
persons (万人), area in km2, industrial electricity in 10,000 kWh, FDI in 10,000 US dollars (with
a yuan-per-dollar rate), college students and green patent applications as counts, broadband users
in 10,000 households.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .data import file_rows as _file_rows
from .errors import InputError

__all__ = ["minmax", "hmatch", "controls", "YEARBOOK_COLUMNS", "CONTROL_DEFINITIONS"]

#: yearbook columns used, and their units
YEARBOOK_COLUMNS = {
    "iva": "industrial value added, 10,000 yuan",
    "gdp": "gross regional product, 10,000 yuan (nominal)",
    "gdp_deflator": "optional: price index, 1 in the base year (real GDP = gdp / gdp_deflator)",
    "pop": "population, 10,000 persons",
    "urban_pop": "urban resident population, 10,000 persons",
    "area": "land area, km2",
    "ind_elec": "industrial electricity consumption, 10,000 kWh",
    "fdi": "foreign direct investment actually used, 10,000 US dollars",
    "usd_cny": "optional: yuan per US dollar (else the `usd_cny` argument)",
    "loans": "year-end loans of financial institutions, 10,000 yuan",
    "fiscal_exp": "general budget expenditure, 10,000 yuan",
    "sci_exp": "science and technology expenditure, 10,000 yuan",
    "students": "students enrolled in regular higher education, persons",
    "broadband": "internet broadband users, 10,000 households",
    "green_patents": "green patent applications, count",
}

#: how each constructed variable is computed from the yearbook columns
CONTROL_DEFINITIONS = {
    "edu": "sci_exp / fiscal_exp (science-technology share of fiscal spending)",
    "urban": "urban_pop / pop",
    "lnpop": "ln(pop * 1e4 / area) (persons per km2)",
    "lnpgdp": "ln(gdp * 1e4 / gdp_deflator / (pop * 1e4)) (real yuan per person)",
    "energ": "ind_elec / iva (kWh per yuan of industrial value added)",
    "open": "fdi * usd_cny / gdp",
    "fin": "loans / gdp",
    "hum": "students / (pop * 1e4) (human capital: college students per person)",
    "internet": "broadband / pop (broadband users per person, both in 10,000)",
    "gpatent": "ln(1 + green_patents)",
    "sci": "sci_exp / fiscal_exp (threshold variable; equals edu)",
}


def minmax(x, *, by=None) -> np.ndarray | pd.Series:
    """Min-max scale to [0, 1]: (x - min) / (max - min), over the whole sample or within ``by``.

    A constant variable (max == min) scales to 0. Missing values stay missing.
    """
    if by is not None:
        s = pd.Series(np.asarray(x, float))
        g = pd.Series(np.asarray(by))
        lo, hi = s.groupby(g).transform("min"), s.groupby(g).transform("max")
        rng = (hi - lo).to_numpy()
        out = np.where(rng > 0, (s - lo).to_numpy() / np.where(rng > 0, rng, 1.0), 0.0)
        out[np.isnan(s.to_numpy())] = np.nan
        return out
    a = np.asarray(x, float)
    lo, hi = np.nanmin(a), np.nanmax(a)
    if not hi > lo:
        out = np.zeros_like(a)
        out[np.isnan(a)] = np.nan
        return out
    return (a - lo) / (hi - lo)


def hmatch(robot, hum, *, scale: bool = True, by=None) -> np.ndarray:
    """Human-machine matching index, equation (23) (a coupling-coordination degree).

    Parameters
    ----------
    robot, hum
        Robot penetration and human capital (arrays of equal length).
    scale
        Min-max scale both to [0, 1] first (the paper's choice). Without scaling both must lie in
        [0, 1] already.
    by
        Optional grouping for the scaling (e.g. year); default pooled over the sample.

    Returns
    -------
    numpy.ndarray
        hmatch = sqrt(U V) with U = 2 sqrt(r h) / (r + h) and V = (r + h) / 2; 0 where
        r = h = 0 (U is then 0/0 but V = 0).

    Notes
    -----
    .. math:: U = \\frac{2\\sqrt{r h}}{r + h},\\quad V = \\frac{r + h}{2},\\quad
              hmatch = \\sqrt{U V} = (r h)^{1/4}

    Algebraically hmatch = (r h)^(1/4): the coupling term U and the development term V combine to
    the geometric mean of the two scaled inputs, square-rooted.
    """
    r = np.asarray(robot, float)
    h = np.asarray(hum, float)
    if r.shape != h.shape:
        raise InputError(f"robot and hum differ in shape: {r.shape} vs {h.shape}")
    if scale:
        r, h = minmax(r, by=by), minmax(h, by=by)
    elif ((r < 0) | (r > 1) | (h < 0) | (h > 1)).any():
        raise InputError("without scaling, robot and hum must lie in [0, 1]")
    s = r + h
    with np.errstate(invalid="ignore", divide="ignore"):
        U = np.where(s > 0, 2 * np.sqrt(r * h) / np.where(s > 0, s, 1.0), 0.0)
    V = s / 2
    out = np.sqrt(U * V)
    out[np.isnan(r) | np.isnan(h)] = np.nan
    return out


def controls(yearbook: pd.DataFrame, *, usd_cny: float | pd.Series | None = None,
             keep: Sequence[str] = ("city", "province", "year"), file: str | None = None
             ) -> pd.DataFrame:
    """The paper's controls, mechanism and threshold variables from yearbook columns.

    Returns a DataFrame with ``keep`` columns plus edu, urban, lnpop, lnpgdp, energ, open, fin,
    hum, internet, gpatent, sci (definitions in :data:`CONTROL_DEFINITIONS`). A variable whose
    inputs are absent is omitted; a ratio with a zero or negative denominator, or a log of a
    non-positive number, is missing (NaN) and counted in ``out.attrs["invalid"]``.

    Raises
    ------
    InputError
        Negative values in a count or money column.
    """
    yb = yearbook
    for c in YEARBOOK_COLUMNS:
        if c in yb.columns and c not in ("gdp_deflator", "usd_cny"):
            v = pd.to_numeric(yb[c], errors="coerce")
            if (v < 0).any():
                raise InputError("negative values", file=file, column=c,
                                 rows=_file_rows(yb, (v < 0).to_numpy()))
    out = yb[[c for c in keep if c in yb.columns]].copy()
    invalid: dict[str, int] = {}

    def col(c):
        return pd.to_numeric(yb[c], errors="coerce").astype(float) if c in yb.columns else None

    def ratio(a, b, name, mult=1.0):
        A, B = col(a), col(b)
        if A is None or B is None:
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(B > 0, A * mult / B.where(B > 0, 1.0), np.nan)
        invalid[name] = int(np.sum(np.isnan(v) & A.notna().to_numpy() & B.notna().to_numpy()))
        out[name] = v

    def log_of(v, name):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)
        invalid[name] = invalid.get(name, 0) + int(np.sum(~(v > 0) & ~np.isnan(v)))
        out[name] = r

    ratio("sci_exp", "fiscal_exp", "edu")
    ratio("urban_pop", "pop", "urban")
    if col("pop") is not None and col("area") is not None:
        ratio("pop", "area", "_dens", 1e4)
        log_of(out.pop("_dens").to_numpy(), "lnpop")
    if col("gdp") is not None and col("pop") is not None:
        real = col("gdp") / (col("gdp_deflator") if col("gdp_deflator") is not None else 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            pc = np.where(col("pop") > 0, real / col("pop").where(col("pop") > 0, 1.0), np.nan)
        log_of(pc, "lnpgdp")
    ratio("ind_elec", "iva", "energ")
    if col("fdi") is not None and col("gdp") is not None:
        rate = col("usd_cny") if "usd_cny" in yb.columns else usd_cny
        if rate is None:
            raise InputError("FDI is in US dollars: give a usd_cny column or the usd_cny rate",
                             file=file, column="fdi")
        fdi_cny = col("fdi") * (np.asarray(rate, float) if not np.isscalar(rate) else rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["open"] = np.where(col("gdp") > 0, fdi_cny / col("gdp").where(col("gdp") > 0, 1.0), np.nan)
    ratio("loans", "gdp", "fin")
    ratio("students", "pop", "hum", 1e-4)
    ratio("broadband", "pop", "internet")
    if col("green_patents") is not None:
        out["gpatent"] = np.log1p(col("green_patents"))
    if "edu" in out.columns:
        out["sci"] = out["edu"]
    out.attrs["invalid"] = invalid
    out.attrs["definitions"] = {k: v for k, v in CONTROL_DEFINITIONS.items() if k in out.columns}
    return out
