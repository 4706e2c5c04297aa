"""Builders for the paper's four instruments for robot penetration (section 4.3).

1. :func:`leave_one_out_mean` - the mean of the other entities in the same group (province) and
   period: :math:`z_{it} = (\\sum_{j \\in g(i)} x_{jt} - x_{it}) / (n_{g(i)t} - 1)`.
2. :func:`lag_times_difference` - :math:`x_{i,t-1} (x_{it} - x_{i,t-1})` (a gap gives missing).
3. :func:`external_series` - a series merged by period (e.g. US robot penetration), optionally
   through base-period shares: :math:`z_{it} = \\sum_j s_{ij} m_{jt}`.
4. :func:`lewbel` - Lewbel (2012) heteroskedasticity-based instruments
   :math:`(Z - \\bar Z)\\hat e`, with :math:`\\hat e` the residual of the endogenous regressor on
   the exogenous regressors (and fixed effects); use alone or alongside external instruments.

Each returns a numpy array (or DataFrame for several columns) aligned with the rows of ``data``;
add it as a column and name it in the formula's IV part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import data as _data
from . import linalg
from .errors import InputError


def leave_one_out_mean(data: pd.DataFrame, column: str, *, group: str, time: str) -> np.ndarray:
    """Mean of ``column`` over the OTHER rows of the same ``group`` and ``time``.

    Missing values are left out of both the sum and the count; a row that is alone in its
    (group, time) cell (no other non-missing value) gets NaN.
    """
    _data.check_columns(data, [column, group, time])
    x = _data.numeric_column(data, column)
    g = pd.factorize(pd.MultiIndex.from_arrays([data[group], data[time]]))[0]
    ok = np.isfinite(x)
    G = int(g.max()) + 1
    s = np.bincount(g, weights=np.where(ok, x, 0.0), minlength=G)
    c = np.bincount(g, weights=ok.astype(float), minlength=G)
    own = np.where(ok, x, 0.0)
    cnt = c[g] - ok
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (s[g] - own) / cnt
    out[cnt <= 0] = np.nan
    return out


def lag_times_difference(data: pd.DataFrame, column: str, *, entity: str, time: str) -> np.ndarray:
    """:math:`x_{i,t-1}(x_{it} - x_{i,t-1})`; missing in an entity's first period and after a gap."""
    _data.check_panel_index(data, entity, time)
    x = _data.numeric_column(data, column)
    x1 = _data.lag(data, x, 1, entity=entity, time=time)
    return x1 * (x - x1)


def external_series(
    data: pd.DataFrame,
    series: pd.Series | pd.DataFrame,
    *,
    time: str,
    entity: str | None = None,
    shares: pd.DataFrame | None = None,
) -> np.ndarray:
    """An external series merged by period, optionally through base shares.

    Parameters
    ----------
    series
        Without ``shares``: a Series indexed by period (e.g. US robots per worker by year).
        With ``shares``: a DataFrame indexed by period with one column per sector.
    shares
        Entity x sector base-period shares (index: entity labels, columns: the sectors of
        ``series``); the instrument is :math:`\\sum_j s_{ij} m_{jt}` (a shift-share design).

    Periods of ``data`` absent from ``series`` raise an InputError naming them.
    """
    _data.check_columns(data, [time] + ([entity] if entity else []))
    t = data[time].to_numpy()
    if shares is None:
        if isinstance(series, pd.DataFrame):
            if series.shape[1] != 1:
                raise InputError("external_series: pass a Series, or shares with a sector DataFrame")
            series = series.iloc[:, 0]
        missing = sorted(set(pd.unique(t)) - set(series.index))
        if missing:
            raise InputError(f"external series has no value for periods {missing[:5]}", column=time)
        return series.reindex(t).to_numpy(dtype=float)
    if entity is None:
        raise InputError("external_series with shares needs entity=")
    if not isinstance(series, pd.DataFrame):
        raise InputError("external_series with shares needs a period x sector DataFrame")
    sectors = [c for c in shares.columns if c in series.columns]
    if not sectors:
        raise InputError("shares and series have no sector in common")
    missing_t = sorted(set(pd.unique(t)) - set(series.index))
    if missing_t:
        raise InputError(f"external series has no value for periods {missing_t[:5]}", column=time)
    e = data[entity].to_numpy()
    missing_e = sorted(set(pd.unique(e)) - set(shares.index), key=str)
    if missing_e:
        raise InputError(f"no base shares for entities {missing_e[:5]}", column=entity)
    exposure = shares[sectors].to_numpy(dtype=float) @ series[sectors].to_numpy(dtype=float).T
    ei = shares.index.get_indexer(e)
    ti = series.index.get_indexer(t)
    return exposure[ei, ti]


def lewbel(
    data: pd.DataFrame,
    endog: str,
    exog: Sequence[str],
    *,
    z: Sequence[str] | None = None,
    fixed_effects: Sequence[str] = (),
    prefix: str = "lewbel_",
) -> pd.DataFrame:
    r"""Lewbel (2012) generated instruments :math:`(Z_k - \bar Z_k)\,\hat e`.

    :math:`\hat e` is the residual of the least-squares regression of ``endog`` on ``exog`` (with
    an intercept, or with the ``fixed_effects`` absorbed); ``z`` (default: ``exog``) are the
    variables whose heteroskedasticity identifies the model. Identification requires
    :math:`\mathrm{cov}(Z, e^2) \ne 0` and :math:`\mathrm{cov}(Z, e\,u) = 0` (Lewbel 2012,
    Assumption A2): an untestable assumption the user must argue. Rows with a missing value get
    NaN. Returns a DataFrame with one column ``prefix + name`` per element of ``z``.
    """
    z = list(exog if z is None else z)
    cols = [endog] + list(exog) + z + list(fixed_effects)
    _data.check_columns(data, list(dict.fromkeys(cols)))
    y = _data.numeric_column(data, endog)
    X = np.column_stack([_data.numeric_column(data, c) for c in exog]) if exog else np.zeros((len(data), 0))
    Z = np.column_stack([_data.numeric_column(data, c) for c in z])
    ok = np.isfinite(y) & np.all(np.isfinite(X), axis=1) & np.all(np.isfinite(Z), axis=1)
    for c in fixed_effects:
        ok &= data[c].notna().to_numpy()
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        raise InputError("lewbel: no complete observations")
    with linalg.single_threaded_blas():
        M = np.column_stack([y[rows], X[rows]])
        if fixed_effects:
            codes = [pd.factorize(data[c].to_numpy()[rows])[0] for c in fixed_effects]
            M, _ = linalg.demean(M, codes)
        else:
            M = np.column_stack([M, np.ones(rows.size)])
        fitted = linalg.qr_lstsq(M[:, 1:], M[:, 0], list(exog) + ([] if fixed_effects else ["Intercept"]))
    e = np.full(len(data), np.nan)
    e[rows] = fitted.resid
    Zc = Z - np.nanmean(np.where(ok[:, None], Z, np.nan), axis=0)
    out = pd.DataFrame({prefix + c: Zc[:, j] * e for j, c in enumerate(z)}, index=data.index)
    return out
