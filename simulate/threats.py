"""Identification threats of the paper's design, as knobs of the ``paper`` design.

Each threat is off by default. :data:`THREATS` lists, for each, the parameters that switch it on,
what it does to the data and the direction in which econometrics predicts it moves the TWFE
estimate of equation (18) (tests in ``tests/test_simulate_threats.py`` check each direction).

Also here: the building blocks the design uses for them (pilot-zone assignment, the
human-machine matching index of equation (23), the confounding trend).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from . import kernels as _kernels

__all__ = ["THREATS", "pilot_zones", "hmatch", "confounding_trend", "minmax"]

#: threat -> (parameters, mechanism, predicted effect on the TWFE estimate of robot)
THREATS: dict[str, dict[str, str]] = {
    "shift-share confounding": {
        "params": "confounding",
        "mechanism": "cities whose base-year industry mix exposes them to faster robot growth "
                     "(through the city-specific part of the mix) were already on a different "
                     "carbon-intensity trend: ln indco += confounding * z_i * t/(T-1)",
        "prediction": "TWFE biased in the sign of `confounding` (the trend loads on the same "
                      "city-specific growth that identifies the robot coefficient); the "
                      "province leave-one-out IV removes most of it",
    },
    "downscaling error correlated with output": {
        "params": "downscale_output",
        "mechanism": "nightlights load on output with weight lambda instead of on CO2, so the "
                     "downscaled city CO2 follows value added",
        "prediction": "attenuation: the within-province part of the effect is scaled by "
                      "(1 - lambda), the estimate moves toward zero",
    },
    "robots raise measured value added": {
        "params": "va_robot",
        "mechanism": "ln VA = ln Y + va_robot * robot (prices, quality): the denominator of the "
                     "outcome rises with robots while emissions do not",
        "prediction": "estimate = truth - va_robot: more negative for va_robot > 0",
    },
    "heterogeneous effects": {
        "params": "het_group, het_dI",
        "mechanism": "the automation frontier I (so the robot share beta(I-N+1) and the "
                     "elasticity) differs between the groups",
        "prediction": "pooled TWFE = variance-weighted average of the group effects; split "
                      "samples recover each group's effect",
    },
    "dynamic effects (lags)": {
        "params": "lag_weights",
        "mechanism": "ln M depends on robot_t, ..., robot_{t-L}",
        "prediction": "robot_t alone picks up part of the lagged effects (robot is persistent): "
                      "the estimate is further from zero than the impact effect 'robot' and "
                      "closer to zero than 'robot_cumulative'",
    },
    "dynamic, cohort-heterogeneous DID effects": {
        "params": "pilot_growth",
        "mechanism": "the pilot-zone effect on ln M grows with years since adoption",
        "prediction": "static TWFE DID attenuated relative to the ATT 'did' (it down-weights "
                      "long-exposed cells and uses early adopters as controls)",
    },
    "pilot-zone pre-trends": {
        "params": "pilot_pretrend",
        "mechanism": "pilot-zone cities follow their own linear trend in ln indco over the "
                     "whole sample (parallel trends fail)",
        "prediction": "TWFE DID biased with the sign of the trend (post-adoption years are the "
                      "later years of the adopters' trend); the robot estimate is unaffected "
                      "because adoption is independent of robot exposure",
    },
    "threshold structure": {
        "params": "threshold_var, threshold_quantile, threshold_gain",
        "mechanism": "kappa multiplied by (1 + gain) when the threshold variable exceeds phi",
        "prediction": "the pooled TWFE estimate lies between 'robot_low' and 'robot_high'",
    },
    "mechanism interactions": {
        "params": "mech_gpatent, mech_hmatch",
        "mechanism": "kappa multiplied by (1 + m z), z the standardised mechanism variable",
        "prediction": "the interaction coefficient of (22) recovers 'robot_x_gpatent' / "
                      "'robot_x_hmatch'",
    },
    "industry-correlated residuals": {
        "params": "industry_residual",
        "mechanism": "productivity shocks by industry-year enter ln A through the base-year "
                     "shares, so residuals are correlated across cities with similar mixes",
        "prediction": "TWFE unbiased, but the city-clustered SE understates its sampling SD "
                      "(Adao, Kolesar and Morales 2019): coverage falls",
    },
    "weak instruments": {
        "params": "iv_strength",
        "mechanism": "the weight of the province industry mix in the cities' mixes; at 0 the "
                     "leave-one-out province mean of robot carries no information on a city's "
                     "own robot",
        "prediction": "TWFE unaffected; the first-stage F falls and 2SLS moves toward OLS "
                      "(and spreads) when combined with confounding",
    },
    "log versus level": {
        "params": "log_level, loglevel_elasticity",
        "mechanism": "the theory's ln M = m0 + e ln robot, but (18) uses robot in levels",
        "prediction": "TWFE targets a variance-weighted average derivative ('robot', computed "
                      "from the data); it is smaller in magnitude than the average marginal "
                      "effect 'robot_ame', because the derivative -s/robot is largest where "
                      "robot is small and carries little within variation",
    },
}


def minmax(x: np.ndarray) -> np.ndarray:
    """Min-max scaling to [0, 1] over the whole panel."""
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x, dtype=float)


def hmatch(robot: np.ndarray, hum: np.ndarray) -> np.ndarray:
    """Human-machine matching, equation (23): sqrt(U V) with U = 2 sqrt(r h) / (r + h) and
    V = (r + h) / 2, r and h the min-max scaled robot penetration and human capital."""
    r, h = minmax(robot), minmax(hum)
    s = r + h
    with np.errstate(invalid="ignore", divide="ignore"):
        U = np.where(s > 0, 2.0 * np.sqrt(r * h) / np.where(s > 0, s, 1.0), 0.0)
    V = 0.5 * r + 0.5 * h
    return np.sqrt(U * V)


def confounding_trend(strength: float, exposure_growth: np.ndarray, tt: np.ndarray) -> np.ndarray:
    """City-specific trends in ln indco correlated with the shift-share growth.

    ``exposure_growth`` is the growth over the sample implied by the city-specific part of the
    base-year industry mix (the mix times the change in industry robot densities), standardised
    to z_i; the trend adds ``strength * z_i * tt`` (tt runs from 0 to 1 over the sample). Because
    it loads on the city-specific part of the mix, the other cities of the province carry none of
    it and the province leave-one-out instrument stays valid (but weak when iv_strength is low).
    """
    if strength == 0.0:
        return np.zeros((exposure_growth.shape[0], tt.shape[0]))
    z = exposure_growth - exposure_growth.mean()
    sd = z.std()
    z = z / sd if sd > 0 else z
    return strength * z[:, None] * tt[None, :]


# The national "two-integration" pilot zones: 16 zones in two batches; the 2008 batch, of which
# one zone (Hohhot-Baotou-Ordos, approved October 2008) is coded 2009, and the 2011 batch.
_ZONE_YEARS = (2008,) * 7 + (2009,) + (2011,) * 8
_ZONE_YEARS_ARRAY = np.array(_ZONE_YEARS, dtype=np.int64)
_ZONE_YEARS_ARRAY.flags.writeable = False


def pilot_zones(rng: np.random.Generator, prov_idx: np.ndarray, prov_names: Sequence[str],
                first_year: int) -> np.ndarray:
    """Adoption year of each city (0 = never): 16 zones of 1-4 cities of one province.

    Each zone in turn picks a province with probability proportional to its cities not yet in a
    zone, a size uniform on 1-4, and that many of the province's free cities uniformly at random
    (all of them when fewer are free); the 2009 zone is three cities of Inner Mongolia (when it is
    in the sample). Zones are drawn independently of everything else (no selection on potential
    outcomes). Adoption years before ``first_year`` are kept (such cities are treated throughout
    the sample).

    Random numbers: a fixed count, ``n + 2 x 16`` uniforms. Each city gets a uniform key, and a
    zone takes the free cities of its province in the order of their keys: the keys' ranks are a
    uniformly random permutation within every province, so each zone's cities are a uniform
    random subset of the free ones, as sampling without replacement zone by zone gives (tested
    against that sampler, written with ``numpy.random.Generator.choice``, in distribution).
    """
    n = prov_idx.shape[0]
    u = rng.random(n + 2 * len(_ZONE_YEARS))
    order = np.argsort(prov_idx + u[:n], kind="stable")  # by province, in key order within
    counts, start, im = _province_blocks(np.ascontiguousarray(prov_idx, dtype=np.int64).tobytes(),
                                         tuple(prov_names))
    adopt = np.empty(n, dtype=np.int64)
    _kernels.pilot_assign(order, start, counts, u[n:], _ZONE_YEARS_ARRAY, 2009, im, 3, adopt)
    return adopt


@functools.lru_cache(maxsize=32)
def _province_blocks(prov_idx_bytes: bytes, prov_names: tuple) -> tuple:
    """Cities per province, where each province's block starts in a by-province ordering, and
    the index of Inner Mongolia (-1 when absent)."""
    prov_idx = np.frombuffer(prov_idx_bytes, dtype=np.int64)
    counts = np.bincount(prov_idx, minlength=len(prov_names))
    start = np.zeros(len(prov_names), dtype=np.int64)
    np.cumsum(counts[:-1], out=start[1:])
    for a in (counts, start):
        a.flags.writeable = False
    im = prov_names.index("Inner Mongolia") if "Inner Mongolia" in prov_names else -1
    return counts, start, im
