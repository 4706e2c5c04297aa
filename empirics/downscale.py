"""Top-down downscaling of provincial industrial CO2 to cities with nightlights, (19)-(20).

The paper (after Chen et al. 2019) first estimates, on the province panel,

    (19)  CO_kt = a light_kt + prov_k + v_t + e_kt            (province and year fixed effects)

and then allocates each province's CO2 to its cities,

    (20)  CO_it = CO_kt x (a light_it + city_i + v_t + e_it) / (a light_kt + prov_k + v_t + e_kt).

As printed, (20) cannot be computed: a city effect city_i and a city residual e_it do not come out
of a province regression, and the denominator is CO_kt itself. What is computable, and what the
downscaling literature does, is the *top-down share of fitted values*:

    CO_it = CO_kt x f_it / sum_{i' in k} f_i't,

with a city "fitted value" f_it built from the estimated relation. The choices the printed
equation leaves open are explicit options here (see docs/inputs.md):

``form``
    ``"levels"`` (as printed): f_it = a light_it. ``"logs"``: the relation is
    ln CO_kt = a ln light_kt + prov_k + v_t + e_kt and f_it = light_it ** a (so a is an
    elasticity and matters for the allocation).
``fixed_effects``
    False (default): the fixed effects do not enter f_it. True: in levels, each province-year's
    estimated fixed-effect part prov_k + v_t is split equally over its n_kt cities,
    f_it = a light_it + (prov_k + v_t) / n_kt, so that sum_i f_it equals the province's fitted
    value when the cities' lights add up to the province's; in logs, exp(prov_k + v_t) is common
    to the cities of a province-year and cancels from the shares, so the option changes nothing.
``denominator``
    ``"cities"`` (default): divide by the sum over the listed cities, so the cities sum exactly to
    their province. ``"province"``: divide by the province's own fitted value (from light_kt); the
    cities then sum to the province only if they cover it.

Default (levels, no fixed effects, cities): CO_it = CO_kt light_it / sum_{i in k} light_it. In
levels the slope a cancels from the shares; it is still estimated and reported (a non-positive or
insignificant a says lights do not track provincial CO2 and the allocation is unsupported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .linalg import demean, factorize, qr_lstsq, sandwich
from .result import Result

__all__ = ["downscale", "light_relation", "allocate", "fitted_values", "Downscaled"]

FORMS = ("levels", "logs")
DENOMINATORS = ("cities", "province")


@dataclass(frozen=True)
class Downscaled:
    """Output of :func:`downscale`.

    Attributes
    ----------
    cities
        Long DataFrame: city, province, year, light, fitted (f_it), share, and the allocated
        ``co2`` (named after the input column).
    fit
        The province regression (19) as a :class:`Result` (term ``"light"`` or ``"ln_light"``),
        covariance clustered by province.
    options
        The allocation options used.
    dropped
        Rows dropped and why (list of dicts).
    """

    cities: pd.DataFrame
    fit: Result
    options: dict[str, Any] = field(default_factory=dict)
    dropped: list = field(default_factory=list)


def light_relation(
    provinces: pd.DataFrame,
    *,
    form: str = "levels",
    province: str = "province",
    year: str = "year",
    co2: str = "co2",
    light: str = "light",
) -> tuple[Result, pd.Series, pd.Series]:
    """Estimate (19): CO_kt = a light_kt + prov_k + v_t + e_kt by OLS with both fixed effects.

    Parameters
    ----------
    provinces
        Long province x year table with ``province``, ``year``, ``co2``, ``light``.
    form
        ``"levels"`` or ``"logs"`` (ln CO on ln light; non-positive values are dropped and
        reported).

    Returns
    -------
    (Result, prov_effects, year_effects)
        The slope a with a province-clustered covariance (CR1, G - 1 degrees of freedom); the
        fixed effects normalised so that the year effects have mean zero.

    Notes
    -----
    .. math:: CO_{kt} = a\\,light_{kt} + prov_k + v_t + e_{kt}

    Solved by the within transform (linalg.demean) and pivoted QR (linalg.qr_lstsq).
    """
    if form not in FORMS:
        raise InputError(f"form must be one of {FORMS}, got {form!r}")
    for c in (province, year, co2, light):
        if c not in provinces.columns:
            raise InputError(f"province table lacks column {c!r}", column=c)
    df = provinces[[province, year, co2, light]].copy()
    dropped = []
    miss = df[[co2, light]].isna().any(axis=1)
    if miss.any():
        dropped.append({"reason": "missing co2 or light", "rows": int(miss.sum())})
        df = df[~miss]
    y = df[co2].to_numpy(float)
    x = df[light].to_numpy(float)
    term = "light"
    if form == "logs":
        pos = (y > 0) & (x > 0)
        if (~pos).any():
            dropped.append({"reason": "non-positive co2 or light in logs", "rows": int((~pos).sum())})
            df, y, x = df[pos], y[pos], x[pos]
        y, x, term = np.log(y), np.log(x), "ln_light"
    if df.duplicated([province, year]).any():
        raise InputError("province table has duplicate province-year rows", column=year)
    pc, G = factorize(df[province].to_numpy())
    tc, T = factorize(df[year].to_numpy())
    if G < 2 or T < 2:
        raise InputError("the light relation needs at least two provinces and two years")
    Z, info = demean(np.column_stack([y, x]), [pc, tc])
    fit = qr_lstsq(Z[:, 1:2], Z[:, 0], names=[term])
    a = float(fit.beta[0])
    n = y.shape[0]
    k_fe = G + T - 1
    cov, df_resid = sandwich(Z[:, 1:2], fit.resid, fit.bread, kind="cluster", clusters=[pc], n=n,
                             k=1 + T - 1)
    # recover the fixed effects from r = y - a x = prov_k + v_t + e  (small: dummies + QR)
    r = y - a * x
    D = np.zeros((n, G + T - 1))
    D[np.arange(n), pc] = 1.0
    if T > 1:
        m = tc > 0
        D[np.flatnonzero(m), G + tc[m] - 1] = 1.0
    names = [f"prov[{p}]" for p in np.unique(df[province].to_numpy())] + [
        f"year[{t}]" for t in np.unique(df[year].to_numpy())[1:]]
    fe = qr_lstsq(D, r, names=names)
    prov_fx = fe.beta[:G]
    year_fx = np.concatenate([[0.0], fe.beta[G:]])
    shift = year_fx.mean()
    year_fx, prov_fx = year_fx - shift, prov_fx + shift
    resid = fe.resid
    tss_w = float(np.sum((Z[:, 0]) ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    rss = float(np.sum(resid**2))
    res = Result(
        terms=(term,), params=np.array([a]), cov=cov, nobs=n, df_resid=df_resid,
        cov_type="cluster", estimator="ols_twfe", nobs_dropped=sum(d["rows"] for d in dropped),
        r2_within=1 - rss / tss_w if tss_w > 0 else None,
        r2_with_fe=1 - rss / tss if tss > 0 else None,
        diagnostics={"dropped": dropped, "n_provinces": G, "n_years": T, "n_fixed_effects": k_fe,
                     "demean": info.method},
        spec={"equation": "(19)", "form": form, "outcome": co2, "regressor": light,
              "fixed_effects": [province, year], "cluster": province},
    )
    prov_s = pd.Series(prov_fx, index=np.unique(df[province].to_numpy()), name="prov_effect")
    year_s = pd.Series(year_fx, index=np.unique(df[year].to_numpy()), name="year_effect")
    return res, prov_s, year_s


def fitted_values(city_light, group, a: float = 1.0, *, form: str = "levels",
                  intercept=None, n_cells: int | None = None) -> np.ndarray:
    """City fitted values f_it of the allocation (see :func:`allocate`)."""
    light = np.asarray(city_light, dtype=float)
    g = np.asarray(group, dtype=np.int64)
    if form == "levels":
        f = a * light
        if intercept is not None:
            n_g = np.bincount(g, minlength=n_cells or int(g.max()) + 1).astype(float)
            f = f + np.asarray(intercept, float)[g] / n_g[g]
    elif form == "logs":
        pos = light > 0
        f = np.where(pos, np.power(np.where(pos, light, 1.0), a), 0.0)
    else:
        raise InputError(f"form must be one of {FORMS}, got {form!r}")
    return f


def allocate(
    prov_total: np.ndarray,
    city_light: np.ndarray,
    group: np.ndarray,
    a: float = 1.0,
    *,
    form: str = "levels",
    intercept: np.ndarray | None = None,
    prov_fitted: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Numpy fast path of (20): split ``prov_total[g]`` over the cities with ``group == g``.

    Parameters
    ----------
    prov_total
        Totals per province-year cell (length G).
    city_light
        Light of each city-year (length n).
    group
        Province-year cell code 0..G-1 of each city-year.
    a
        Slope of (19).
    form
        ``"levels"``: f = a light (+ intercept[g] / n_g when ``intercept`` is given);
        ``"logs"``: f = light ** a.
    intercept
        Fixed-effect part prov_k + v_t per cell (levels only).
    prov_fitted
        If given, shares are f / prov_fitted[g] (the ``denominator="province"`` option) instead
        of f / sum of f within the cell.

    Returns
    -------
    (values, shares)
        City-year allocations and shares.
    """
    g = np.asarray(group, dtype=np.int64)
    tot = np.asarray(prov_total, dtype=float)
    f = fitted_values(city_light, g, a, form=form, intercept=intercept, n_cells=tot.shape[0])
    if prov_fitted is not None:
        denom = np.asarray(prov_fitted, float)[g]
    else:
        denom = np.bincount(g, weights=f, minlength=tot.shape[0])[g]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(denom != 0, f / denom, np.nan)
    return tot[g] * share, share


def downscale(
    provinces: pd.DataFrame,
    cities: pd.DataFrame,
    *,
    form: str = "levels",
    fixed_effects: bool = False,
    denominator: str = "cities",
    province: str = "province",
    city: str = "city",
    year: str = "year",
    co2: str = "co2",
    light: str = "light",
    a: float | None = None,
) -> Downscaled:
    """Allocate provincial industrial CO2 to cities with nightlights, equations (19)-(20).

    Parameters
    ----------
    provinces
        Province x year: ``province``, ``year``, ``co2`` (industrial CO2, e.g. Mt) and ``light``
        (the province's nightlight sum).
    cities
        City x year: ``city``, ``province``, ``year``, ``light``. Each city must belong to one
        province.
    form
        ``"levels"`` (default, as printed) or ``"logs"``; see the module docstring.
    fixed_effects
        Whether the estimated fixed effects enter the city fitted values (default False).
    denominator
        ``"cities"`` (default; cities sum exactly to their province) or ``"province"``.
    a
        Use this slope instead of estimating (19) (the regression is still run and reported).

    Returns
    -------
    Downscaled
        ``cities`` (with ``co2`` allocated and the ``share``), ``fit`` (the Result of (19)),
        ``options`` and ``dropped`` (city-years without a province total or with a zero
        denominator, with the reason).

    Raises
    ------
    InputError
        Missing columns, a city listed in two provinces, duplicate city-years, negative lights or
        CO2, or (with ``fixed_effects=True`` in levels) a negative fitted value.

    Notes
    -----
    .. math:: CO_{it} = CO_{kt}\\,\\frac{f_{it}}{\\sum_{i' \\in k} f_{i't}},\\qquad
              f_{it} = \\hat a\\,light_{it} \\;(\\text{levels}),\\quad
              f_{it} = light_{it}^{\\hat a} \\;(\\text{logs})

    With the default options the shares are light_it / sum light (â cancels); in logs they are
    light_it^â / sum light^â.
    """
    if denominator not in DENOMINATORS:
        raise InputError(f"denominator must be one of {DENOMINATORS}, got {denominator!r}")
    for c in (city, province, year, light):
        if c not in cities.columns:
            raise InputError(f"city table lacks column {c!r}", column=c)
    for c in (province, year, co2, light):
        if c not in provinces.columns:
            raise InputError(f"province table lacks column {c!r}", column=c)
    for c, frame in ((co2, provinces), (light, provinces)):
        if (frame[c] < 0).any():
            raise InputError("negative values", column=c,
                             rows=frame.index[frame[c] < 0].tolist())
    if (cities[light] < 0).any():
        raise InputError("negative city light", column=light,
                         rows=cities.index[cities[light] < 0].tolist())
    nprov = cities.groupby(city)[province].nunique()
    if (nprov > 1).any():
        raise InputError("a city is assigned to more than one province", column=province,
                         rows=nprov.index[nprov > 1].tolist())
    if cities.duplicated([city, year]).any():
        raise InputError("duplicate city-year rows", column=year,
                         rows=cities.loc[cities.duplicated([city, year]), city].tolist())
    fit, prov_fx, year_fx = light_relation(provinces, form=form, province=province, year=year,
                                           co2=co2, light=light)
    slope = float(fit.params[0]) if a is None else float(a)
    out = cities[[city, province, year, light]].copy().reset_index(drop=True)
    P = provinces.set_index([province, year])
    key = pd.MultiIndex.from_frame(out[[province, year]])
    tot = P[co2].reindex(key).to_numpy(float)
    dropped = []
    no_total = np.isnan(tot)
    if no_total.any():
        dropped.append({"reason": "no provincial CO2 for the city's province-year",
                        "rows": int(no_total.sum()),
                        "examples": out.loc[no_total, [city, year]].head(5).to_dict("records")})
    cell, G = factorize((out[province].astype(str) + "\x00" + out[year].astype(str)).to_numpy())
    first = pd.Series(np.arange(len(out))).groupby(cell).first().to_numpy()
    cell_tot = tot[first]
    intercept = None
    if fixed_effects and form == "levels":
        intercept = (prov_fx.reindex(out[province].to_numpy()[first]).to_numpy(float)
                     + year_fx.reindex(out[year].to_numpy()[first]).to_numpy(float))
        intercept = np.nan_to_num(intercept)
    prov_fitted = None
    if denominator == "province":
        pl = P[light].reindex(key).to_numpy(float)[first]
        if form == "levels":
            prov_fitted = slope * pl + (intercept if intercept is not None else 0.0)
        else:
            prov_fitted = np.power(pl, slope)
    values, share = allocate(cell_tot, out[light].to_numpy(float),
                             cell, slope, form=form, intercept=intercept, prov_fitted=prov_fitted)
    if intercept is not None and (share < 0).any():
        bad = out.loc[share < 0, [city, year]].head(5).astype(str).agg("/".join, axis=1).tolist()
        raise InputError("with fixed_effects=True a city's fitted value is negative (the "
                         "province and year effects are too negative for its light); use the "
                         "default fixed_effects=False", column=light, rows=bad)
    zero = np.isnan(share) & ~no_total
    if zero.any():
        dropped.append({"reason": "zero fitted total in the province-year (all lights zero)",
                        "rows": int(zero.sum()),
                        "examples": out.loc[zero, [city, year]].head(5).to_dict("records")})
    out["fitted"] = fitted_values(out[light].to_numpy(float), cell, slope, form=form,
                                  intercept=intercept, n_cells=G)
    out["share"] = share
    out[co2] = values
    opts = {"form": form, "fixed_effects": bool(fixed_effects), "denominator": denominator,
            "slope": slope, "slope_estimated": a is None}
    return Downscaled(cities=out, fit=fit, options=opts, dropped=dropped)
