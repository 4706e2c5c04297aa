"""The one result shape every estimator returns.

Monte Carlo, tables and reports consume :meth:`Result.tidy` and nothing else. A ``Result`` is
immutable: its arrays are read-only and its mappings are read-only views.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

TIDY_COLUMNS = ("term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen_array(a: Any, ndim: int) -> np.ndarray:
    arr = np.array(a, dtype=float, copy=True)
    if arr.ndim != ndim:
        raise ValueError(f"expected a {ndim}-d array, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _freeze(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(_freeze(v) for v in obj)
    if isinstance(obj, np.ndarray):
        out = obj.copy()
        out.setflags(write=False)
        return out
    return obj


def _thaw(obj: Any) -> Any:
    """Plain, JSON-ready Python objects from frozen ones."""
    if isinstance(obj, Mapping):
        return {str(k): _thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_thaw(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _thaw(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, pd.DataFrame):
        return _thaw(obj.to_dict(orient="records"))
    if isinstance(obj, pd.Series):
        return _thaw(obj.to_dict())
    return obj


@dataclass(frozen=True, eq=False)
class Result:
    """An estimate: parameters, their covariance and everything needed to read them.

    Parameters
    ----------
    terms
        Names of the parameters, in order.
    params
        Point estimates, one per term.
    cov
        Covariance matrix of ``params`` (already including any small-sample correction).
    nobs
        Observations used in estimation.
    df_resid
        Degrees of freedom of the reference t distribution for tests and intervals; ``None``
        means the normal distribution (large-sample inference). With clustered covariances the
        Stata/fixest convention is G - 1.
    cov_type
        Name of the covariance estimator, e.g. ``"cluster"``, ``"hc1"``, ``"unadjusted"``.
    estimator
        Name of the estimator, e.g. ``"ols"``, ``"2sls"``, ``"twfe_did"``, ``"threshold"``.
    nobs_dropped
        Rows removed before estimation (missing values, singletons, ...); see
        ``diagnostics["dropped"]`` for the reasons.
    r2_within, r2_with_fe
        R-squared of the within-transformed model, and including the fixed effects (the usual
        R-squared when there are no fixed effects).
    diagnostics
        Anything else the estimator computed (first-stage F, KP rk LM, thresholds, ...).
    spec
        The specification: formula, entity and time columns, cluster variables, options.
    provenance
        Input hashes, package versions, seed, time.
    """

    terms: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    nobs: int
    df_resid: int | None
    cov_type: str
    estimator: str
    nobs_dropped: int = 0
    r2_within: float | None = None
    r2_with_fe: float | None = None
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        terms = tuple(str(t) for t in self.terms)
        if len(set(terms)) != len(terms):
            raise ValueError(f"duplicate term names: {terms}")
        params = _frozen_array(self.params, 1)
        cov = _frozen_array(self.cov, 2)
        if params.shape[0] != len(terms) or cov.shape != (len(terms), len(terms)):
            raise ValueError(
                f"shape mismatch: {len(terms)} terms, params {params.shape}, cov {cov.shape}"
            )
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "nobs", int(self.nobs))
        object.__setattr__(self, "nobs_dropped", int(self.nobs_dropped))
        if self.df_resid is not None:
            object.__setattr__(self, "df_resid", int(self.df_resid))
        for name in ("diagnostics", "spec", "provenance"):
            object.__setattr__(self, name, _freeze(dict(getattr(self, name))))

    @classmethod
    def adopt(cls, terms: Sequence[str], params: np.ndarray, cov: np.ndarray, nobs: int,
              df_resid: int | None, cov_type: str, estimator: str, *,
              r2_within: float | None = None, spec: Mapping[str, Any] | None = None) -> Result:
        """A Result that takes ownership of ``params`` and ``cov`` instead of copying them.

        For fast paths that build thousands of Results (the Monte Carlo): when the arrays are
        float64 of the right shapes and the terms unique strings, the arrays are frozen in place
        (the caller must not hold on to them) and ``spec`` is frozen once; the object equals the
        one the constructor builds. Anything else goes through the constructor, with its checks
        and errors.
        """
        terms = tuple(terms)
        k = len(terms)
        if (not isinstance(params, np.ndarray) or not isinstance(cov, np.ndarray)
                or params.dtype != np.float64 or cov.dtype != np.float64
                or params.shape != (k,) or cov.shape != (k, k)
                or not all(isinstance(t, str) for t in terms) or len(set(terms)) != k):
            return cls(terms=terms, params=params, cov=cov, nobs=nobs, df_resid=df_resid,
                       cov_type=cov_type, estimator=estimator, r2_within=r2_within,
                       spec=dict(spec or {}))
        params.setflags(write=False)
        cov.setflags(write=False)
        res = object.__new__(cls)
        for name, value in (("terms", terms), ("params", params), ("cov", cov),
                            ("nobs", int(nobs)),
                            ("df_resid", None if df_resid is None else int(df_resid)),
                            ("cov_type", cov_type), ("estimator", estimator),
                            ("nobs_dropped", 0), ("r2_within", r2_within), ("r2_with_fe", None),
                            ("diagnostics", _EMPTY), ("provenance", _EMPTY),
                            ("spec", spec if isinstance(spec, MappingProxyType)
                             else _freeze(dict(spec or {})))):
            object.__setattr__(res, name, value)
        return res

    # ------------------------------------------------------------------ derived quantities
    @property
    def std_errors(self) -> pd.Series:
        se = np.sqrt(np.clip(np.diag(self.cov), 0.0, None))
        return pd.Series(se, index=list(self.terms), name="std_error")

    @property
    def coefficients(self) -> pd.Series:
        return pd.Series(self.params, index=list(self.terms), name="estimate")

    @property
    def tstats(self) -> pd.Series:
        with np.errstate(divide="ignore", invalid="ignore"):
            return pd.Series(
                self.params / self.std_errors.to_numpy(), index=list(self.terms), name="statistic"
            )

    def _dist(self):
        return stats.norm if self.df_resid is None else stats.t(self.df_resid)

    @property
    def pvalues(self) -> pd.Series:
        t = self.tstats.to_numpy()
        p = 2.0 * self._dist().sf(np.abs(t))
        return pd.Series(p, index=list(self.terms), name="p_value")

    def critical_value(self, level: float = 0.95) -> float:
        return float(self._dist().ppf(0.5 + level / 2.0))

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Wald confidence intervals, columns ``lower`` and ``upper``."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        q = self.critical_value(level)
        se = self.std_errors.to_numpy()
        return pd.DataFrame(
            {"lower": self.params - q * se, "upper": self.params + q * se},
            index=list(self.terms),
        )

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        """The long table: ``term, estimate, std_error, statistic, p_value, conf_low, conf_high``."""
        ci = self.conf_int(level)
        return pd.DataFrame(
            {
                "term": list(self.terms),
                "estimate": self.params,
                "std_error": self.std_errors.to_numpy(),
                "statistic": self.tstats.to_numpy(),
                "p_value": self.pvalues.to_numpy(),
                "conf_low": ci["lower"].to_numpy(),
                "conf_high": ci["upper"].to_numpy(),
            },
            columns=list(TIDY_COLUMNS),
        )

    def wald_test(
        self, restrictions: np.ndarray | Sequence[str], values: np.ndarray | None = None
    ) -> dict[str, float]:
        """Joint Wald test of R b = r.

        ``restrictions`` is either a matrix R (rows = restrictions) or a list of term names (each
        set to zero). Returns ``statistic`` (chi-square form), ``df``, ``p_value`` and the F form
        ``f_statistic``/``f_p_value`` (denominator ``df_resid`` when set).
        """
        if len(restrictions) and isinstance(restrictions[0], str):
            missing = [t for t in restrictions if t not in self.terms]
            if missing:
                raise KeyError(f"unknown terms {missing}; have {list(self.terms)}")
            R = np.zeros((len(restrictions), len(self.terms)))
            for i, t in enumerate(restrictions):
                R[i, self.terms.index(t)] = 1.0
        else:
            R = np.atleast_2d(np.asarray(restrictions, dtype=float))
        r = np.zeros(R.shape[0]) if values is None else np.asarray(values, dtype=float)
        diff = R @ self.params - r
        V = R @ self.cov @ R.T
        # pseudo-inverse through the eigen decomposition guards against a singular V
        w, U = np.linalg.eigh((V + V.T) / 2.0)
        keep = w > w.max(initial=0.0) * 1e-12
        rank = int(keep.sum())
        stat = float(np.sum((U[:, keep].T @ diff) ** 2 / w[keep]))
        out = {"statistic": stat, "df": rank, "p_value": float(stats.chi2.sf(stat, rank))}
        f = stat / rank if rank else math.nan
        if self.df_resid is None:
            out.update(f_statistic=f, f_p_value=float(stats.chi2.sf(stat, rank)))
        else:
            out.update(f_statistic=f, f_p_value=float(stats.f.sf(f, rank, self.df_resid)))
        return out

    # ------------------------------------------------------------------ export
    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """The JSON form: ``estimator, formula, nobs, nobs_dropped, params, std_errors, pvalues,
        conf_int, r2_within, r2_with_fe, diagnostics, provenance`` (plus cov_type, df_resid,
        spec)."""
        ci = self.conf_int(level)
        return {
            "estimator": self.estimator,
            "formula": self.spec.get("formula"),
            "nobs": self.nobs,
            "nobs_dropped": self.nobs_dropped,
            "params": dict(zip(self.terms, map(float, self.params))),
            "std_errors": {k: float(v) for k, v in self.std_errors.items()},
            "pvalues": {k: float(v) for k, v in self.pvalues.items()},
            "conf_int": {
                t: [float(ci.loc[t, "lower"]), float(ci.loc[t, "upper"])] for t in self.terms
            },
            "conf_level": level,
            "cov_type": self.cov_type,
            "df_resid": self.df_resid,
            "r2_within": self.r2_within,
            "r2_with_fe": self.r2_with_fe,
            "diagnostics": _thaw(self.diagnostics),
            "spec": _thaw(self.spec),
            "provenance": _thaw(self.provenance),
        }

    def __repr__(self) -> str:  # compact, readable
        body = self.tidy().to_string(index=False, float_format=lambda v: f"{v:.6g}")
        return (
            f"Result(estimator={self.estimator!r}, cov_type={self.cov_type!r}, nobs={self.nobs})\n"
            + body
        )
