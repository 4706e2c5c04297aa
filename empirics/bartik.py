"""Shift-share (Bartik) robot exposure, the paper's equation (21).

    robot_it = sum_j (labor_ij,b / labor_i,b) * (Robot_jt / labor_j,b)

The *shares* are city x industry base-year employment shares s_ij = labor_ij,b / labor_i,b and
the *shocks* are industry x year robot densities g_jt = Robot_jt / labor_j,b (robots per worker
of industry j in the base year b; the paper uses b = 2004). The exposure is the matrix product
S G. Shares may be incomplete (a row summing to less than one: employment outside the covered
industries gets a zero shock, the usual convention of Borusyak, Hull and Jaravel 2022 and of
Adao, Kolesar and Morales 2019), and any base year may be used.

Functions
---------
bartik(shares, shocks)
    The exposure, in numpy form (arrays in, array out) or DataFrame form (wide or long).
base_shares(employment, base_year=None)
    City x industry shares from a long employment table.
robot_shocks(robots, employment, base_year=None)
    Industry x year shocks Robot_jt / labor_j,b from robot stocks and base-year employment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["bartik", "base_shares", "robot_shocks", "check_shares"]

_SHARE_TOL = 1e-9


def check_shares(S: np.ndarray, *, allow_incomplete: bool = True, labels: Sequence | None = None,
                 file: str | None = None) -> None:
    """Validate a share matrix: finite, in [0, 1], rows summing to at most one.

    Raises :class:`InputError` naming the first offending rows (by ``labels`` when given).
    With ``allow_incomplete=False`` every row must sum to one (within 1e-9).
    """
    S = np.asarray(S, dtype=float)
    lab = list(labels) if labels is not None else list(range(1, S.shape[0] + 1))
    bad = ~np.isfinite(S).all(axis=1)
    if bad.any():
        raise InputError("shares must be finite (no missing values)", file=file, column="share",
                         rows=[lab[i] for i in np.flatnonzero(bad)])
    bad = (S < -_SHARE_TOL).any(axis=1)
    if bad.any():
        raise InputError("shares must be non-negative", file=file, column="share",
                         rows=[lab[i] for i in np.flatnonzero(bad)])
    bad = (S > 1 + _SHARE_TOL).any(axis=1)
    if bad.any():
        raise InputError("a share is above one", file=file, column="share",
                         rows=[lab[i] for i in np.flatnonzero(bad)])
    tot = S.sum(axis=1)
    bad = tot > 1 + 1e-6
    if bad.any():
        raise InputError("shares of a row sum to more than one (%.6g)" % tot[bad][0], file=file,
                         column="share", rows=[lab[i] for i in np.flatnonzero(bad)])
    if not allow_incomplete:
        bad = np.abs(tot - 1) > 1e-6
        if bad.any():
            raise InputError("shares of a row do not sum to one and allow_incomplete=False",
                             file=file, column="share", rows=[lab[i] for i in np.flatnonzero(bad)])


def _long_to_wide(df: pd.DataFrame, row: str, col: str, value: str, what: str) -> pd.DataFrame:
    missing = [c for c in (row, col, value) if c not in df.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {missing}; it has {list(df.columns)}")
    dup = df.duplicated([row, col], keep=False)
    if dup.any():
        first = df.loc[dup, [row, col]].head(5).astype(str).agg("/".join, axis=1).tolist()
        raise InputError(f"{what} table has duplicate ({row}, {col}) pairs", column=col, rows=first)
    return df.pivot(index=row, columns=col, values=value)


def bartik(
    shares,
    shocks,
    *,
    allow_incomplete: bool = True,
    check: bool = True,
    city: str = "city",
    industry: str = "industry",
    year: str = "year",
    share: str = "share",
    shock: str = "shock",
    name: str = "robot",
):
    """City x year shift-share exposure, equation (21).

    Parameters
    ----------
    shares
        City x industry base-year employment shares s_ij. Either a 2-d numpy array (cities x
        industries), a wide DataFrame (index = city, columns = industries) or a long DataFrame with
        columns ``city``, ``industry``, ``share`` (industries absent for a city have share 0).
        Rows may sum to less than one (incomplete shares).
    shocks
        Industry x year shocks g_jt = Robot_jt / labor_j,b. A 2-d array (industries x years), a
        wide DataFrame (index = industry, columns = years), a long DataFrame with columns
        ``industry``, ``year``, ``shock``, or a 1-d array / Series (one period).
    allow_incomplete
        Accept rows of shares summing to less than one (default True).
    check
        Validate the shares (finite, within [0, 1], rows summing to at most one).
    city, industry, year, share, shock, name
        Column names of the long forms and of the long output.

    Returns
    -------
    numpy.ndarray or pandas.DataFrame
        numpy in -> ``S @ G`` (cities x years; 1-d if the shocks were 1-d). Wide DataFrame
        shares -> a wide DataFrame (index = city, columns = years). Long DataFrame shares -> a long
        DataFrame with columns ``city``, ``year``, ``name``.

    Raises
    ------
    InputError
        An industry with a positive share has no shock (in a DataFrame form, the industries are
        matched by label; shocks for industries absent from the shares are ignored), a shock is
        missing or not finite, a share is negative or above one, or a row sums above one.

    Notes
    -----
    .. math:: robot_{it} = \\sum_j \\frac{labor_{ij,b}}{labor_{i,b}}\\,
              \\frac{Robot_{jt}}{labor_{j,b}} = (S G)_{it}

    With incomplete shares the omitted employment is implicitly assigned a zero shock; nothing is
    renormalised (renormalising would change the estimand; do it explicitly with
    ``shares.div(shares.sum(1), axis=0)`` if wanted).
    """
    # ---- numpy form ----------------------------------------------------------------
    if not isinstance(shares, pd.DataFrame):
        S = np.asarray(shares, dtype=float)
        if S.ndim != 2:
            raise InputError(f"shares must be a 2-d array (cities x industries), got shape {S.shape}")
        if isinstance(shocks, pd.DataFrame | pd.Series):
            shocks = shocks.to_numpy()
        G = np.asarray(shocks, dtype=float)
        if G.ndim not in (1, 2) or G.shape[0] != S.shape[1]:
            raise InputError(
                f"shocks must have one row per industry ({S.shape[1]}), got shape {G.shape}")
        if check:
            check_shares(S, allow_incomplete=allow_incomplete)
        _check_shocks(G, S)
        return S @ G

    # ---- DataFrame forms -----------------------------------------------------------
    long_in = {city, industry, share} <= set(shares.columns) and shares.index.name != city
    if long_in:
        Sdf = _long_to_wide(shares, city, industry, share, "shares").fillna(0.0)
    else:
        Sdf = shares
    if isinstance(shocks, pd.Series):
        Gdf = shocks.to_frame(name=shocks.name if shocks.name is not None else 0)
        one_period = True
    elif isinstance(shocks, pd.DataFrame):
        one_period = False
        if {industry, year, shock} <= set(shocks.columns):
            Gdf = _long_to_wide(shocks, industry, year, shock, "shocks")
        else:
            Gdf = shocks
    else:
        G = np.asarray(shocks, dtype=float)
        one_period = G.ndim == 1
        Gdf = pd.DataFrame(G.reshape(G.shape[0], -1), index=Sdf.columns)
    inds = list(Sdf.columns)
    missing = [j for j in inds if j not in Gdf.index]
    S = Sdf.to_numpy(dtype=float)
    if missing:
        pos = [j for j in missing if (Sdf[j] > 0).any()]
        if pos:
            raise InputError(
                f"{len(pos)} industr{'y' if len(pos) == 1 else 'ies'} with positive shares "
                f"have no shock: {pos[:5]}", column=industry)
    Gdf = Gdf.reindex(inds)
    G = Gdf.to_numpy(dtype=float, copy=True)
    if missing:
        G[[inds.index(j) for j in missing], :] = 0.0
    if check:
        check_shares(S, allow_incomplete=allow_incomplete, labels=list(Sdf.index))
    _check_shocks(G, S, labels=inds, years=list(Gdf.columns))
    E = S @ G
    out = pd.DataFrame(E, index=Sdf.index.copy(), columns=Gdf.columns.copy())
    out.index.name = city
    out.columns.name = year
    if long_in:
        return (out.stack(future_stack=True).rename(name).reset_index()
                .sort_values([city, year], kind="stable").reset_index(drop=True))
    if one_period:
        return out.iloc[:, 0].rename(name)
    return out


def _check_shocks(G: np.ndarray, S: np.ndarray, labels=None, years=None) -> None:
    """Shocks must be finite where some city has a positive share of the industry."""
    G2 = G.reshape(G.shape[0], -1)
    used = (S > 0).any(axis=0)
    bad = ~np.isfinite(G2) & used[:, None]
    if bad.any():
        j, t = np.argwhere(bad)[0]
        jl = labels[j] if labels is not None else j
        tl = years[t] if years is not None else t
        raise InputError(f"shock missing or not finite for industry {jl!r}, year {tl!r}",
                         column="shock", rows=[f"{jl}/{tl}"])


def base_shares(
    employment: pd.DataFrame,
    base_year: int | None = None,
    *,
    city: str = "city",
    industry: str = "industry",
    year: str = "year",
    value: str = "employment",
    city_total: pd.Series | None = None,
    file: str | None = None,
) -> pd.DataFrame:
    """Base-year employment shares labor_ij,b / labor_i,b (wide: city x industry).

    Parameters
    ----------
    employment
        Long table with ``city``, ``industry``, ``value`` and, optionally, ``year``.
    base_year
        Year to use; required when the table has a ``year`` column with several years. A base year
        absent from the table raises :class:`InputError`.
    city_total
        Total employment labor_i,b of each city (index = city). When given the shares are relative
        to it and may be incomplete; by default the total is the sum over the listed industries
        (complete shares).
    """
    emp = _select_year(employment, base_year, year, "employment", file)
    for c in (city, industry, value):
        if c not in emp.columns:
            raise InputError(f"employment table lacks column {c!r}", file=file, column=c)
    neg = emp[value] < 0
    if neg.any():
        raise InputError("employment counts must be non-negative", file=file, column=value,
                         rows=emp.loc[neg, city].tolist())
    wide = _long_to_wide(emp, city, industry, value, "employment").fillna(0.0)
    tot = wide.sum(axis=1) if city_total is None else city_total.reindex(wide.index).astype(float)
    if tot.isna().any():
        raise InputError("city total employment missing", file=file, column=value,
                         rows=tot.index[tot.isna()].tolist())
    if (tot <= 0).any():
        raise InputError("city total employment is zero", file=file, column=value,
                         rows=tot.index[tot <= 0].tolist())
    S = wide.div(tot, axis=0)
    check_shares(S.to_numpy(), labels=list(S.index), file=file)
    return S


def robot_shocks(
    robots: pd.DataFrame,
    employment: pd.DataFrame | pd.Series,
    base_year: int | None = None,
    *,
    industry: str = "industry",
    year: str = "year",
    value: str = "robots",
    emp_value: str = "employment",
    file: str | None = None,
) -> pd.DataFrame:
    """Industry x year shocks Robot_jt / labor_j,b (wide: industry x year).

    Parameters
    ----------
    robots
        Long table ``industry``, ``year``, ``value`` (robot stock of industry j in year t, already
        mapped to the employment industry classification).
    employment
        Base-year national employment by industry: a Series (index = industry) or a long table
        with ``industry``, ``emp_value`` (and optionally ``year``, filtered to ``base_year``).
        The paper's labor_j,b is the industry's total employment in the base year.
    """
    if isinstance(employment, pd.DataFrame):
        e = _select_year(employment, base_year, year, "employment", file)
        e = e.groupby(industry)[emp_value].sum()
    else:
        e = employment.astype(float)
    if (e < 0).any() or (robots[value] < 0).any():
        bad = robots.index[robots[value] < 0].tolist()
        raise InputError("robot counts and employment must be non-negative", file=file,
                         column=value, rows=bad or e.index[e < 0].tolist())
    R = _long_to_wide(robots, industry, year, value, "robots")
    missing = [j for j in R.index if j not in e.index or not e[j] > 0]
    if missing:
        raise InputError("industries with robots but no base-year employment", file=file,
                         column=industry, rows=missing)
    return R.div(e.reindex(R.index), axis=0)


def _select_year(df: pd.DataFrame, base_year, year: str, what: str, file) -> pd.DataFrame:
    if year in df.columns:
        years = sorted(pd.unique(df[year]))
        if base_year is None:
            if len(years) != 1:
                raise InputError(f"{what} table has several years {years[:5]}; give base_year",
                                 file=file, column=year)
            base_year = years[0]
        sel = df[df[year] == base_year]
        if sel.empty:
            raise InputError(f"base year {base_year} not found in the {what} table "
                             f"(years present: {years[:10]})", file=file, column=year)
        return sel
    return df
