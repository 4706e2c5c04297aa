"""The ``paper`` design: Huang and Jiang's cities, generated from their own task model.

Model
    262 prefecture cities in 30 provinces (east / central / west; south / north), 2007-2019 with
    five pre-sample years of robot history. Fourteen robot-using industries with base-year (2004)
    employment shares s_ij (a province mix blended with a city mix, times the city's
    manufacturing share) and industry robot densities g_jt growing at industry-specific rates.
    City factor supplies K, L, M, E and productivity ln A; the task-model economy of the theory
    module (``robocarbon.theory.numeric``) gives ln Y and ln(E/Y) for the automation frontier I,
    task range N and exponents alpha, beta, in one of three energy regimes (E fixed; E chosen at a
    price; E with a finite supply elasticity).
Inquiry
    The effect of robot penetration on log carbon intensity, from the theory's elasticity
    d ln indco / d ln M (``elasticity_indco_M``) times the link d ln M / d robot. Without the
    log-versus-level threat, city robot services are M_it = M0_i exp(kappa robot_it), so
    ln indco is linear in robot with slope elasticity x kappa; the estimand targeted by TWFE
    ("robot") is the TWFE projection of the structural robot component of ln indco on robot
    (after the fixed effects and the controls), computed from the generated data; it equals
    elasticity x kappa exactly when the effect is homogeneous and linear, and is the
    variance-weighted average derivative otherwise.
Data strategy
    robot_it = Bartik (21) of the shares and the industry densities (equal to
    ``robocarbon.empirics.bartik.bartik``, tested); city industrial CO2 observed only through nightlight
    downscaling (19)-(20) of provincial totals (``robocarbon.empirics.downscale.allocate``);
    lnindco = ln(downscaled CO2 / industrial value added); controls with the moments of Table 1;
    staggered pilot-zone adoption (16 zones, 2008 / 2009 / 2011); green patents, human capital,
    human-machine matching (23), internet penetration and science spending; groupings.
Answer strategies
    Named for the engine: ``twfe``, ``iv``, ``did``, ``threshold``.

See ``docs/simulate.md`` for the equations, the calibration and each threat knob.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
import pandas as pd

from robocarbon.empirics.downscale import allocate, light_relation
from robocarbon.empirics.errors import InputError

from . import fastpath as _fastpath
from . import kernels as _kernels
from . import threats as _threats
from .design import DesignSpec, Draw, Param, register_design

__all__ = ["PROVINCES", "CONTROLS", "GROUPINGS", "PARAMS", "draw_paper", "theory_functions"]

#: (province, region, south, cities in the paper-sized sample)
PROVINCES: tuple[tuple[str, str, int, int], ...] = (
    ("Beijing", "east", 0, 1), ("Tianjin", "east", 0, 1), ("Hebei", "east", 0, 11),
    ("Liaoning", "east", 0, 14), ("Shanghai", "east", 1, 1), ("Jiangsu", "east", 1, 13),
    ("Zhejiang", "east", 1, 11), ("Fujian", "east", 1, 9), ("Shandong", "east", 0, 16),
    ("Guangdong", "east", 1, 20), ("Hainan", "east", 1, 2),
    ("Shanxi", "central", 0, 11), ("Jilin", "central", 0, 8), ("Heilongjiang", "central", 0, 9),
    ("Anhui", "central", 1, 15), ("Jiangxi", "central", 1, 11), ("Henan", "central", 0, 16),
    ("Hubei", "central", 1, 12), ("Hunan", "central", 1, 13),
    ("Inner Mongolia", "west", 0, 7), ("Guangxi", "west", 1, 11), ("Chongqing", "west", 1, 1),
    ("Sichuan", "west", 1, 15), ("Guizhou", "west", 1, 6), ("Yunnan", "west", 1, 5),
    ("Shaanxi", "west", 0, 10), ("Gansu", "west", 0, 6), ("Qinghai", "west", 0, 1),
    ("Ningxia", "west", 0, 5), ("Xinjiang", "west", 0, 1),
)

#: the paper's seven controls, in the order of Table 1 (and of ``Draw.arrays["X"]`` after robot)
CONTROLS: tuple[str, ...] = ("edu", "urban", "lnpop", "lnpgdp", "energ", "fin", "open")
#: the 0/1 groupings of the heterogeneity analysis
GROUPINGS: tuple[str, ...] = ("resource", "east", "south", "large", "digital")
THRESHOLD_VARS: tuple[str, ...] = ("internet", "hum", "scitech")
MAX_LAG = 5
PRE_YEARS = MAX_LAG  # years of robot history simulated before first_year

# Control processes: Table 1 mean and SD, the transform, and the variance shares of the latent
# standard-normal index (city level, common trend, AR(1) noise), the sign of the trend and the
# loading of the city level on a common "development" factor.
#            name      mean   sd     form    city  trend noise trend_sign dev_loading
_CONTROL_SPEC = {
    "edu":    (0.016, 0.015, "lognormal", 0.55, 0.15, 0.30, +1, 0.4),
    "urban":  (0.523, 0.151, "normal",    0.80, 0.15, 0.05, +1, 0.7),
    "lnpop":  (5.806, 0.886, "normal",    0.97, 0.00, 0.03, +1, 0.3),
    "lnpgdp": (10.20, 0.631, "normal",    0.55, 0.40, 0.05, +1, 0.7),
    "energ":  (0.093, 0.092, "lognormal", 0.60, 0.10, 0.30, -1, -0.3),
    "fin":    (0.883, 0.540, "lognormal", 0.60, 0.15, 0.25, +1, 0.3),
    "open":   (0.019, 0.018, "lognormal", 0.60, 0.10, 0.30, -1, 0.4),
}
# loadings of each control's AR(1) noise on ln A (productivity); scaled by ``ctrl_effect``
_CTRL_LOADINGS = np.array([0.3, 0.2, 0.1, 0.6, -0.5, -0.2, 0.3])
_CTRL_LOADINGS = _CTRL_LOADINGS / np.sqrt(np.sum(_CTRL_LOADINGS**2))

_PROV_NAMES = tuple(q[0] for q in PROVINCES)
_REGIONS = ("east", "central", "west")
_PROV_REGION = np.array([_REGIONS.index(q[1]) for q in PROVINCES], dtype=np.int64)
_PROV_SOUTH = np.array([q[2] for q in PROVINCES], dtype=np.int64)
_PROV_DTYPE = pd.CategoricalDtype(list(_PROV_NAMES))
_REGION_DTYPE = pd.CategoricalDtype(list(_REGIONS))


# ---------------------------------------------------------------------------- theory link
def theory_functions():
    """The theory module's numeric functions (``robocarbon.theory.numeric``): vectorised numpy
    functions lambdified from the sympy objects the theory tests verify."""
    from robocarbon.theory import numeric as tn

    return tn


# ---------------------------------------------------------------------------- parameters
P = Param
PARAMS: tuple[Param, ...] = (
    # sample
    P("n_cities", 262, "int", "number of cities (allocated to provinces in proportion to the "
      "paper's sample; 262 reproduces it)", low=30, group="data"),
    P("first_year", 2007, "int", "first year of the panel", low=1990, high=2100, group="data"),
    P("last_year", 2019, "int", "last year of the panel", low=1990, high=2100, group="data"),
    P("n_industries", 14, "int", "robot-using (IFR) industries in the Bartik formula", low=2,
      group="data"),
    # theory
    P("alpha", 0.3, "float", "capital exponent alpha of the task technology", low=0.0, high=1.0),
    P("beta", 0.5, "float", "labour / robot exponent beta of the task technology", low=0.0,
      high=1.0),
    P("N", 1.0, "float", "upper end N of the task range [N-1, N]"),
    P("I", 0.2, "float", "automation frontier I (robots do tasks [N-1, I])"),
    P("regime", "fixed_energy", "str", "energy regime of the theory",
      choices=("fixed_energy", "priced_energy", "elastic_energy")),
    P("supply_elasticity", 1.0, "float", "energy supply elasticity (elastic_energy regime)",
      low=0.0),
    P("kappa", 0.13, "float", "d ln M / d robot: city robot services M = M0 exp(kappa robot)"),
    # Bartik
    P("robot_level", 0.71, "float", "median industry robot density in first_year (robots per "
      "10,000 workers of the industry, before the city's manufacturing share)", low=0.0,
      group="calibration"),
    P("robot_growth", 0.24, "float", "mean annual log growth of industry robot densities",
      group="calibration"),
    P("robot_growth_sd", 0.05, "float", "SD across industries of the annual log growth",
      low=0.0, group="calibration"),
    P("industry_sd", 0.8, "float", "SD across industries of log robot density", low=0.0,
      group="calibration"),
    P("industry_seed", 2004, "int", "seed of the industries' robot levels and growth rates, "
      "held fixed across draws; -1 redraws them in every draw", low=-1, group="data"),
    P("industry_noise", 0.05, "float", "SD of AR(1) shocks to industry log robot densities",
      low=0.0, group="calibration"),
    P("manuf_logit_mean", -0.7, "float", "mean logit of the city's base-year share of employment "
      "in robot-using industries", group="calibration"),
    P("manuf_logit_sd", 1.0, "float", "SD of that logit", low=0.0, group="calibration"),
    P("share_concentration", 0.6, "float", "Dirichlet concentration of industry mixes (small = "
      "specialised cities)", low=1e-3, group="calibration"),
    P("shares_seed", 17, "int", "seed of the cities' base-year industry mixes and "
      "manufacturing shares, held fixed across draws (the design conditions on the exposure "
      "shares, as shift-share inference does); -1 redraws them in every draw", low=-1,
      group="data"),
    P("iv_strength", 0.5, "float", "weight of the province industry mix in each city's mix; "
      "drives the strength of the province leave-one-out instrument (0 = irrelevant)",
      low=0.0, high=1.0, group="threat"),
    # outcome
    P("indco_level", 1.71, "float", "ln indco of a city of average size in first_year with no "
      "robots and average productivity (calibrates the mean of Table 1)",
      group="calibration"),
    P("indco_city_sd", 0.34, "float", "SD of the city level of ln indco", low=0.0,
      group="calibration"),
    P("indco_city_skew", 0.4, "float", "log-SD of the lognormal city level (right skew)",
      low=0.0, group="calibration"),
    P("indco_trend", -0.55, "float", "change of ln indco over the sample from productivity growth",
      group="calibration"),
    P("sigma_A", 0.31, "float", "SD of AR(1) shocks to ln A (the TWFE residual)", low=0.0,
      group="calibration"),
    P("rho_A", 0.92, "float", "AR(1) coefficient of ln A shocks", low=-0.99, high=0.99,
      group="calibration"),
    P("sigma_factors", 0.03, "float", "SD of shocks to ln K, ln L and the energy supply",
      low=0.0, group="calibration"),
    P("ctrl_effect", 0.12, "float", "SD of the controls' contribution to ln A", low=0.0,
      group="calibration"),
    P("light_noise", 0.05, "float", "SD of log nightlight noise around log CO2", low=0.0,
      group="calibration"),
    # pilots (DID)
    P("pilot_lnM", 0.3, "float", "jump in ln M when a city's pilot zone starts"),
    P("pilot_growth", 0.0, "float", "further growth of ln M per year since adoption (dynamic, "
      "cohort-heterogeneous DID effects)", group="threat"),
    P("pilot_pretrend", 0.0, "float", "parallel-trends violation: pilot-zone cities' ln indco "
      "drifts by this much over the sample relative to the others", group="threat"),
    # threats
    P("confounding", 0.0, "float", "shift-share confounding: trend in ln indco over the sample "
      "per SD of the growth implied by the city-specific part of its base-year mix", group="threat"),
    P("industry_residual", 0.0, "float", "SD (for a typical city) of productivity shocks by "
      "industry-year shared through the base-year shares: cross-city correlated residuals",
      low=0.0, group="threat"),
    P("downscale_form", "levels", "str", "form of the light relation (19) and the allocation "
      "(20): levels (shares of lights; the slope cancels) or logs (shares of light**a, a "
      "estimated on the province panel)", choices=("levels", "logs"), group="data"),
    P("downscale_output", 0.0, "float", "weight of output (instead of CO2) in nightlights, "
      "0..1: downscaling error correlated with output", low=0.0, high=1.0, group="threat"),
    P("va_robot", 0.0, "float", "robots raise measured industrial value added (the outcome's "
      "denominator): ln VA += va_robot * robot", group="threat"),
    P("het_group", "none", "str", "grouping whose cities have a shifted automation frontier",
      choices=("none",) + GROUPINGS, group="threat"),
    P("het_dI", 0.0, "float", "shift of I in the het_group = 1 cities", group="threat"),
    P("lag_weights", (1.0,), "floats", "weights w_0..w_L of robot_t..robot_{t-L} in ln M "
      f"(L <= {MAX_LAG}); (1,) = contemporaneous only", group="threat"),
    P("threshold_var", "none", "str", "threshold variable T of a regime-dependent kappa",
      choices=("none",) + THRESHOLD_VARS, group="threat"),
    P("threshold_quantile", 0.7, "float", "quantile of T at the threshold phi", low=0.01,
      high=0.99, group="threat"),
    P("threshold_gain", 0.0, "float", "kappa is multiplied by (1 + gain) when T > phi",
      group="threat"),
    P("mech_gpatent", 0.0, "float", "kappa multiplied by (1 + mech_gpatent * z), z = "
      "standardised gpatent", group="threat"),
    P("mech_hmatch", 0.0, "float", "kappa multiplied by (1 + mech_hmatch * z), z = "
      "standardised hmatch", group="threat"),
    P("log_level", False, "bool", "log-versus-level gap: M proportional to robot**"
      "loglevel_elasticity (the theory's ln M) while the regression uses robot in levels",
      group="threat"),
    P("loglevel_elasticity", 1.0, "float", "d ln M / d ln robot under log_level", group="threat"),
)


# ---------------------------------------------------------------------------- helpers
def _province_sizes(n_cities: int) -> np.ndarray:
    base = np.array([p[3] for p in PROVINCES], dtype=float)
    if n_cities == int(base.sum()):
        return base.astype(int)
    raw = base * n_cities / base.sum()
    sizes = np.maximum(np.floor(raw).astype(int), 1)
    # largest remainders until the total matches
    while sizes.sum() < n_cities:
        sizes[np.argmax(raw - sizes)] += 1
    while sizes.sum() > n_cities:
        cand = np.where(sizes > 1, sizes - raw, -np.inf)
        sizes[np.argmax(cand)] -= 1
    return sizes


def _quantile(x: np.ndarray, q: float) -> float:
    """``numpy.quantile(x, q)`` (the default linear method, to the bit) for a 1-d finite ``x``,
    without its per-call overhead."""
    s = np.sort(x)
    v = q * (s.shape[0] - 1)
    lo = int(math.floor(v))
    g = v - lo
    a = float(s[lo])
    b = float(s[min(lo + 1, s.shape[0] - 1)])
    d = b - a
    return b - d * (1.0 - g) if g >= 0.5 else a + d * g


def _median(x: np.ndarray) -> float:
    """``numpy.median`` of a 1-d finite ``x`` (to the bit)."""
    s = np.sort(x)
    m = s.shape[0]
    h = m // 2
    return float(s[h]) if m % 2 else float((s[h - 1] + s[h]) / 2.0)


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x, dtype=float)


def _hmatch(robot: np.ndarray, hum: np.ndarray) -> np.ndarray:
    """Human-machine matching (23) in the theory's closed form (r h)^(1/4) of the min-max scaled
    inputs (``robocarbon.theory.hmatch``; equal to ``threats.hmatch``, tested)."""
    return np.sqrt(np.sqrt(_minmax(robot) * _minmax(hum)))


def _std_lognormal(z: np.ndarray, s: float) -> np.ndarray:
    """A standardised (mean 0, SD 1) lognormal transform of a standard normal z (right skew)."""
    if s <= 0:
        return z
    m = np.exp(s * s / 2)
    sd = np.sqrt((np.exp(s * s) - 1) * np.exp(s * s))
    return (np.exp(s * z) - m) / sd


def _twoway_resid(M: np.ndarray, n: int, T: int) -> np.ndarray:
    """Exact two-way within transform of columns of M laid out city-major (n*T rows)."""
    A = M.reshape(n, T, -1)
    out = A - A.mean(axis=1, keepdims=True) - A.mean(axis=0, keepdims=True) + A.mean(axis=(0, 1),
                                                                                  keepdims=True)
    return out.reshape(n * T, -1)


def _projection(component: np.ndarray, robot: np.ndarray, controls: np.ndarray, n: int, T: int,
                rows: np.ndarray | None = None, ratio: np.ndarray | None = None) -> float:
    """TWFE projection coefficient of ``component`` on robot given controls (FWL), optionally on
    the cities selected by the boolean city mask ``rows`` (a split-sample regression).
    ``ratio``: ``component / robot`` on the full sample when the caller has it already."""
    comp, rob, ctrl = component, robot, controls
    if ratio is None:
        if rows is not None:
            sel = np.repeat(rows, T)
            comp, rob = comp[sel], rob[sel]
        ratio = comp / rob
    elif rows is not None:
        ratio = ratio[np.repeat(rows, T)]
    # exact shortcut: a component proportional to robot projects on its constant of proportion
    if np.all(np.isfinite(ratio)) and np.ptp(ratio) <= 1e-12 * max(1.0, abs(float(ratio[0]))):
        return float(ratio[0])
    comp, rob = component, robot
    if rows is not None:
        sel = np.repeat(rows, T)
        comp, rob, ctrl = comp[sel], rob[sel], ctrl[sel]
        n = int(rows.sum())
    Z = _twoway_resid(np.column_stack([rob, ctrl, comp]), n, T)
    r, C, c = Z[:, 0], Z[:, 1:-1], Z[:, -1]
    if C.shape[1]:
        sc = np.sqrt(np.einsum("ij,ij->j", C, C))
        sc[sc == 0] = 1.0
        Cs = C / sc
        coef = np.linalg.solve(Cs.T @ Cs, Cs.T @ r)  # 7 x 7 normal equations, well scaled
        r = r - Cs @ coef
    den = float(r @ r)
    return float(r @ c / den) if den > 0 else float("nan")


def _regime_projection(component: np.ndarray, robot: np.ndarray, controls: np.ndarray,
                       low: np.ndarray, n: int, T: int) -> tuple[float, float]:
    """Joint TWFE projection coefficients of ``component`` on robot x 1(low) and robot x 1(not
    low) given controls: the estimand of the single-threshold regression (24) at a given
    threshold (``low`` a boolean per city-year, city-major). NaN for an empty regime."""
    lo = low.astype(float)
    if lo.all() or not lo.any():
        full = _projection(component, robot, controls, n, T)
        return (full, float("nan")) if lo.all() else (float("nan"), full)
    Z = _twoway_resid(np.column_stack([robot * lo, robot * (1.0 - lo), controls, component]), n, T)
    X, c = Z[:, :-1], Z[:, -1]
    sc = np.sqrt(np.einsum("ij,ij->j", X, X))
    sc[sc == 0] = 1.0
    coef, *_ = np.linalg.lstsq(X / sc, c, rcond=None)
    coef = coef / sc
    return float(coef[0]), float(coef[1])


# ---------------------------------------------------------------------------- the draw
def draw_paper(p: dict, rng: np.random.Generator) -> Draw:
    """Draw one panel of the ``paper`` design (see the module docstring).

    Randomness: one stream (``rng``), consumed in a fixed order: one block of standard normals
    (every Gaussian shock of the outcome's model, laid out by :func:`_normal_layout`), the pilot
    zones, and last the draws that only some parameter values need (the base-year shares when
    ``shares_seed < 0``, the industry paths when ``industry_seed < 0``, the industry-level
    residuals of ``industry_residual``); the mechanism variables come from a child stream
    (:func:`_child_seed`), built when needed. Switching a threat knob therefore leaves every other
    part of the data unchanged for the same seed (common random numbers across a grid's cells).
    """
    st = _static(_params_key(p))  # everything that depends on the parameters only (cached)
    first = p["first_year"]
    w_lag = st.w_lag
    n, n_prov, T, J = st.n, st.n_prov, st.T, p["n_industries"]
    years, prov_idx = st.years, st.prov_idx

    # ---- the draw's random numbers ------------------------------------------------------
    lay = _normal_layout(n, n_prov, T, st.TT, J)
    z = rng.standard_normal(out=_scratch(lay["size"]))  # a per-thread buffer, read only here
    Z = {name: z[a:b].reshape(shape) for name, (a, b, shape) in lay["blocks"].items()}
    adopt = _threats.pilot_zones(rng, prov_idx, _PROV_NAMES, first)
    # the draws that only some parameter values need come last
    share_args = (J, p["share_concentration"], p["iv_strength"], p["manuf_logit_mean"],
                  p["manuf_logit_sd"])
    if p["shares_seed"] < 0:
        shares, manuf_z, city_mix = _exposure_shares(rng, n, prov_idx, *share_args)
    else:
        shares, manuf_z, city_mix = _exposure_shares_fixed(p["shares_seed"], p["n_cities"],
                                                           *share_args)
    if p["industry_seed"] < 0:
        ind_level = _industry_levels(rng, J, st.TT, p["robot_level"], p["industry_sd"],
                                     p["robot_growth"], p["robot_growth_sd"])
    else:
        ind_level = _industry_levels_fixed(p["industry_seed"], J, st.TT, p["robot_level"],
                                           p["industry_sd"], p["robot_growth"],
                                           p["robot_growth_sd"])
    nu = rng.standard_normal((J, T)) if p["industry_residual"] != 0.0 else None
    e_ar = Z["ar"]  # AR(1) innovations: 7 controls; L, K, E, productivity
    # the mechanism variables' own stream (a child of this one), used only when they are built
    mech_seed = _child_seed(rng)

    # ---- shares (base year 2004) and industry robot densities -------------------------
    # industry log robot densities (fixed levels and growth, ``industry_seed``, plus AR(1) noise)
    # and the Bartik exposure (21); the estimator's regressors (robot, then the controls) are
    # filled in place, city-major
    k = len(CONTROLS)
    X = np.empty((n * T, 1 + k))
    shocks, robot_all = np.empty((J, st.TT)), np.empty((n, st.TT))
    _kernels.exposure(shares, ind_level, Z["ar_industry"], 0.8, p["industry_noise"], PRE_YEARS,
                      shocks, robot_all, X[:, 0])
    robot = X[:, 0].reshape(n, T)

    # ---- controls: latent indices mapped to the Table 1 moments -----------------------
    # x = a + b z (normal) or exp(a + b z) (lognormal), z = (sqrt(wc) city + sqrt(wt) sign
    # trend + sqrt(we) AR(1) noise) / sqrt(wc + wt + we), the city level loading on a common
    # development factor; ctrl_idx = the loading-weighted sum of the controls' noise (-> ln A)
    dev = Z["dev"]
    city7 = st.ctrl_load[:, None] * dev + st.ctrl_unique[:, None] * Z["ctrl_city"]
    X7 = X[:, 1:].T.reshape(k, n, T)  # a view: the kernel writes the controls into X
    ctrl_idx = np.zeros((n, T))
    c_mean, c_late = np.empty((k, n)), np.empty((k, n))
    _kernels.ar1_series(e_ar[:k], city7, st.ctrl_trend, st.ctrl_city_coef, st.ctrl_noise_coef,
                        st.ctrl_rho, st.ctrl_form, st.ctrl_lo, st.ctrl_hi, _CTRL_LOADINGS,
                        st.late_start, X7, ctrl_idx, c_mean, c_late)
    controls = dict(zip(CONTROLS, X7))
    # science spending share: the paper's edu *is* the science-and-technology share of fiscal
    # spending, the third threshold variable
    scitech = controls["edu"]

    # ---- which effects vary -------------------------------------------------------------
    # homogeneous: one automation frontier, a constant kappa and the level link; then the truth
    # needs neither the mechanism variables nor the groupings' members, and they are computed
    # only when the panel is (the draw's random numbers are the same either way)
    het = p["het_group"] != "none" and p["het_dI"] != 0.0
    homogeneous = (not het and p["threshold_var"] == "none" and p["mech_gpatent"] == 0.0
                   and p["mech_hmatch"] == 0.0 and not p["log_level"])

    # ---- mechanism and threshold variables, the digital grouping ----------------------
    mech = _Lazy(_mechanism, mech_seed, dev.copy(), T, st.mech_trend, st.late_start)
    if not homogeneous:
        mech.get()

    # ---- groupings ---------------------------------------------------------------
    # resource (top 40 % of a latent: low manufacturing, outside the east), large (top 35 % by
    # population and urbanisation), digital (the mechanism's median split); east and south by
    # province. The latent splits are built when needed, like the mechanism variables: a split
    # above the q-quantile of n distinct values has n - 1 - floor(q (n - 1)) cities, so the
    # truth's bookkeeping knows the sizes without them
    lnpop_i = c_mean[CONTROLS.index("lnpop")]
    splits = _Lazy(_latent_splits, manuf_z, Z["res"].copy(), st.not_east, lnpop_i,
                   c_mean[CONTROLS.index("urban")], mech)
    groups = {"resource": functools.partial(_lazy_item, splits, "resource"), "east": st.east,
              "south": st.south, "large": functools.partial(_lazy_item, splits, "large"),
              "digital": functools.partial(_lazy_item, splits, "digital")}
    group_ones = {"resource": _n_above(n, _RESOURCE_Q), "east": st.east_ones,
                  "south": st.south_ones, "large": _n_above(n, _LARGE_Q), "digital": n // 2}
    if not homogeneous:
        groups.update(splits.get())
        group_ones = {g: int(np.count_nonzero(v)) for g, v in groups.items()}

    # ---- structural robot link and the theory ---------------------------------------
    alpha, beta, N = p["alpha"], p["beta"], p["N"]
    if het:
        I_city = p["I"] + p["het_dI"] * groups[p["het_group"]]
        if not np.all((N - 1 < I_city) & (I_city < N)):
            raise InputError("I + het_dI leaves the task range (N-1, N)", column="het_dI")
        I_u, I_inv = np.unique(I_city, return_inverse=True)
        I_inv = I_inv.ravel()
    else:
        I_u, I_inv = np.array([p["I"]]), None
    I_key = tuple(I_u.tolist())
    elas_u, s_M_u, s_E_u = _theory_at(alpha, beta, I_key, N, p["regime"],
                                      p["supply_elasticity"])
    coef_u = _log_output_coefs(alpha, beta, I_key, N)
    s_E = float(s_E_u[0])  # the energy share 1 - alpha - beta does not depend on I
    if I_inv is None:  # one frontier: length-1 arrays broadcast over the cities
        elas_c = float(elas_u[0])
        elas, s_M = elas_u, s_M_u
        coef = np.repeat(coef_u, n, axis=0)
    else:
        elas, s_M = elas_u[I_inv], s_M_u[I_inv]
        elas_c = elas[:, None]
        coef = coef_u[I_inv]

    kappa_it = p["kappa"]  # a scalar unless a threshold or mechanism knob makes it vary
    phi = float("nan")
    T_var = None
    if p["threshold_var"] != "none":
        T_var = (scitech if p["threshold_var"] == "scitech" else mech.get()[p["threshold_var"]])
        phi = _quantile(T_var.ravel(), p["threshold_quantile"])
        kappa_it = kappa_it * (1.0 + p["threshold_gain"] * (T_var > phi))
    # human-machine matching, eq (23), from min-max scaled robot and hum (built when needed)
    hmatch = None
    gpatent = None
    if p["mech_gpatent"] != 0.0 or p["mech_hmatch"] != 0.0:
        gpatent, hum = mech.get()["gpatent"], mech.get()["hum"]
        hmatch = _hmatch(robot, hum)
        z_gp = (gpatent - gpatent.mean()) / gpatent.std()
        z_hm = (hmatch - hmatch.mean()) / hmatch.std()
        kappa_it = kappa_it * (1.0 + p["mech_gpatent"] * z_gp + p["mech_hmatch"] * z_hm)

    if p["log_level"]:
        robot_part = p["loglevel_elasticity"] * np.log(robot)  # ln M = m0 + e ln robot
        marginal = elas_c * p["loglevel_elasticity"] / robot  # d lnindco / d robot
        link = robot_part  # the contemporaneous part of ln M that robot moves
    else:
        if w_lag.size == 1:
            lagsum = w_lag[0] * robot
        else:
            lagsum = sum(w_lag[l] * robot_all[:, PRE_YEARS - l: PRE_YEARS - l + T]
                         for l in range(w_lag.size))
        robot_part = kappa_it * lagsum
        marginal = elas_c * kappa_it * w_lag[0]
        # the contemporaneous part of ln M that robot moves (the truth needs it only when the
        # effect varies)
        link = None if homogeneous else kappa_it * w_lag[0] * robot

    # ---- factor supplies, productivity, the economy, emissions, nightlights ---------
    # ln L, ln K, energy supply = 3 + 0.01 t, 4 + 0.08 t, 2 + 0.04 t + size_i + sigma_factors u
    # (AR(1), rho 0.7); ln A = -indco_trend t / (T - 1) + sigma_A u (rho_A) + ctrl_effect x the
    # controls' noise index (+ the industry-level residuals of ``industry_residual``)
    size_i = lnpop_i - CONTROL_MEAN_LNPOP
    fp = _factor_params(st.T, first, p["sigma_factors"], p["sigma_A"], p["rho_A"],
                        p["indco_trend"])
    lnA_extra = np.zeros((n, T))
    if nu is not None:
        # productivity shocks by industry, shared by the cities in proportion to their base-year
        # shares: residuals correlated across cities with similar industry mixes (the inference
        # problem of shift-share designs, Adao, Kolesar and Morales 2019)
        scale = np.sqrt(np.mean(np.sum(shares**2, axis=1)))
        lnA_extra += p["industry_residual"] * (shares @ nu) / scale
    ln_phi = p["indco_city_sd"] * _std_lognormal(Z["phi"], p["indco_city_skew"])
    # threats that move ln indco directly: shift-share confounding (a trend loading on the growth
    # implied by the city-specific part of the base-year mix) and pilot-zone pre-trends
    shift = np.zeros((n, T))
    if p["confounding"] != 0.0:
        own_growth = city_mix @ (shocks[:, -1] - shocks[:, PRE_YEARS])
        shift += _threats.confounding_trend(p["confounding"], own_growth, st.tt)
    if p["pilot_pretrend"] != 0.0:
        shift += p["pilot_pretrend"] * (adopt > 0)[:, None] * st.tt[None, :]
    level = p["indco_level"] - st.reference_level  # calibrated level of ln indco
    regime = _REGIMES.index(p["regime"])
    out = np.empty((9, n, T))
    D, pilot_part, lnM, lnE, lnY, ln_co2, true_lnindco, ln_va, ln_light = out
    prov_co2, prov_light = np.empty((n_prov, T)), np.empty((n_prov, T))
    _kernels.economy(e_ar[k:], size_i, fp["trend"], _FAC_CITY_COEF, fp["noise_coef"],
                     fp["rho"], ctrl_idx, p["ctrl_effect"], lnA_extra, robot_part, robot, adopt,
                     st.years_int, p["pilot_lnM"], p["pilot_growth"], coef, regime, s_E,
                     p["supply_elasticity"], level + ln_phi, shift, p["va_robot"],
                     p["downscale_output"], level, p["light_noise"], Z["light"], prov_idx, D,
                     pilot_part, lnM, lnE, lnY, ln_co2, true_lnindco, ln_va, ln_light, prov_co2,
                     prov_light)

    # ---- measurement: downscaling (20) -----------------------------------------------
    lnco = np.empty((n, T))
    lnindco = np.empty(n * T)
    if p["downscale_form"] == "levels":
        # the top-down share of fitted values a light_it (the slope a of (19) cancels): in logs,
        # equal to downscale.allocate (tested)
        _kernels.allocate_levels(ln_light, ln_va, prov_idx, prov_co2, prov_light, lnco, lnindco)
    else:
        # logs: estimate (19) ln CO_kt = a ln light_kt + prov_k + v_t on the province panel, then
        # allocate by light_it ** a
        light = np.exp(ln_light).ravel()
        prov_df = pd.DataFrame({"province": np.repeat(np.arange(n_prov), T),
                                "year": np.tile(years, n_prov), "co2": prov_co2.ravel(),
                                "light": prov_light.ravel()})
        prov_df = prov_df[prov_df["light"] > 0]
        fit, _, _ = light_relation(prov_df, form="logs")
        co2_hat, _share = allocate(prov_co2.ravel(), light, st.cell, float(fit.params[0]),
                                   form="logs")
        lnco = np.log(co2_hat).reshape(n, T)
        lnindco = (lnco - ln_va).ravel()

    # ---- inquiry: truth from the theory for these data -------------------------------
    rob = robot.ravel()
    truth = _inquiry(p, n, T, rob, X[:, 1:], elas, s_M, s_E, kappa_it, marginal, link,
                     w_lag, pilot_part, D, adopt, years, groups, group_ones, T_var, phi,
                     gpatent, hmatch, homogeneous)

    # ---- the panel (built on first access of Draw.panel) --------------------------------
    cols = {"lnindco": lnindco, "robot": rob}
    cols.update(controls)
    cols.update({"adopt_year": adopt, "D": D,
                 "gpatent": functools.partial(_lazy_item, mech, "gpatent"),
                 "hum": functools.partial(_lazy_item, mech, "hum"),
                 "hmatch": (functools.partial(_lazy_hmatch, robot, mech) if hmatch is None
                            else hmatch),
                 "internet": functools.partial(_lazy_item, mech, "internet"),
                 "scitech": scitech, "lnco": lnco})
    cols.update(groups)
    if T_var is not None:
        cols["threshold_var"] = T_var
    cols.update({"true_lnindco": true_lnindco, "true_lnco": ln_co2, "true_lnM": lnM,
                 "true_lnY": lnY, "true_lnE": lnE, "true_effect": marginal})
    arrays = {
        "y": lnindco,
        "X": X,
        "X_names": _X_NAMES,
        "entity": st.entity,
        "time": st.time,
        "group": st.group,
        "cluster": st.entity,
        "D": D.ravel(),
        "robot": rob,
        "layout": st.layout,
    }
    return Draw(truth=truth, arrays=arrays,
                panel_fn=functools.partial(_build_panel, st.panel_ids, n, T, cols))


_SCRATCH = threading.local()


def _scratch(size: int) -> np.ndarray:
    """A per-thread buffer of ``size`` doubles, reused by the next draw on the thread (the
    normals block: allocating and freeing a third of a megabyte in every draw costs about as much
    as a fifth of the draw's arithmetic)."""
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.shape[0] < size:
        buf = _SCRATCH.buf = np.empty(size)
    return buf[:size]


def _child_seed(rng: np.random.Generator) -> np.random.SeedSequence:
    """A child of the generator's seed sequence (``SeedSequence.spawn``): an independent stream
    that a part of the draw can use later without moving ``rng``; from two of ``rng``'s integers
    when the generator has no seed sequence."""
    seq = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(seq, np.random.SeedSequence):
        return seq.spawn(1)[0]
    return np.random.SeedSequence(rng.integers(0, 2**63, size=2).tolist())


def _mechanism(seed, dev, T, trend, late_start) -> dict:
    """The mechanism and threshold variables and the digital grouping of a draw:

        gpatent  = 3 + 1.2 t + 1.3 c_gp + 0.35 u
        hum      = exp(ln 0.012 + 0.25 t + 0.85 c_hum + 0.08 u)
        internet = logistic(-2.6 + 2.2 t + 0.6 c_int + 0.15 u)

    (t = 0..1 over the sample, u AR(1) with rho 0.5; city levels c_gp = 0.6 dev + 0.8 z,
    c_hum = 0.5 dev + sqrt(0.75) z, c_int = 0.6 dev + 0.8 z) and digital = 1 above the median
    of the 2011-2019 mean internet penetration plus 0.1 SD(internet) noise. Random numbers: one
    block of standard normals from ``default_rng(seed)`` (the city z's, the digital noise, the
    AR(1) innovations)."""
    n = dev.shape[0]
    z = np.random.default_rng(seed).standard_normal(3 * n + n + 3 * n * T)
    city_z, dig_z, e = z[:3 * n].reshape(3, n), z[3 * n:4 * n], z[4 * n:].reshape(3, n, T)
    city = np.empty((3, n))
    city[0] = 0.6 * dev + 0.8 * city_z[0]
    city[1] = 0.5 * dev + math.sqrt(0.75) * city_z[1]
    city[2] = 0.6 * dev + 0.8 * city_z[2]
    out = np.empty((3, n, T))
    mean, mean_late = np.empty((3, n)), np.empty((3, n))
    _kernels.ar1_series(e, city, trend, _MECH_CITY_COEF, _MECH_NOISE_COEF, _MECH_RHO, _MECH_FORM,
                        _NO_BOUND_LO[:3], _NO_BOUND_HI[:3], _NO_LOAD[:3], late_start, out,
                        np.zeros((n, T)), mean, mean_late)
    gpatent, hum, internet = out
    dig_index = mean_late[2] + 0.1 * dig_z * float(internet.std())
    digital = (dig_index > _median(dig_index)).astype(np.int64)
    return {"gpatent": gpatent, "hum": hum, "internet": internet, "digital": digital}


_RESOURCE_Q, _LARGE_Q = 0.6, 0.65


def _n_above(n: int, q: float) -> int:
    """Cities strictly above the q-quantile (numpy's linear method) of n distinct values."""
    return n - 1 - int(math.floor(q * (n - 1)))


def _latent_splits(manuf_z, res_z, not_east, lnpop_i, urban_i, mech) -> dict:
    """The groupings drawn from latents: resource (top 40 % of -manufacturing share z + 0.8
    outside the east + 0.8 noise), large (top 35 % of mean ln pop + 2 x mean urbanisation) and
    digital (from the mechanism variables)."""
    res_latent = -manuf_z + not_east + 0.8 * res_z
    size_latent = lnpop_i + 2.0 * urban_i
    return {"resource": (res_latent > _quantile(res_latent, _RESOURCE_Q)).astype(np.int64),
            "large": (size_latent > _quantile(size_latent, _LARGE_Q)).astype(np.int64),
            "digital": mech.get()["digital"]}


class _Lazy:
    """A value computed on first use and kept (picklable when its function is)."""

    def __init__(self, fn, *args):
        self.fn, self.args, self.value, self.done = fn, args, None, False

    def get(self):
        if not self.done:
            self.value, self.done, self.args = self.fn(*self.args), True, None
        return self.value


def _lazy_item(lazy: _Lazy, key: str):
    return lazy.get()[key]


def _lazy_hmatch(robot: np.ndarray, mech: _Lazy) -> np.ndarray:
    return _hmatch(robot, mech.get()["hum"])


_X_NAMES = np.array(("robot",) + CONTROLS)
_X_NAMES.flags.writeable = False


def _build_panel(ids: tuple, n: int, T: int, cols: dict) -> pd.DataFrame:
    """The draw's DataFrame: identifiers (city, year, province codes, region codes) first, then
    the columns of ``cols`` in order, city-major (a per-city array is repeated over the years, a
    city x year array or a scalar laid out by city then year)."""
    city, year, prov_codes, region_codes = ids
    head = {
        "city": city,
        "year": year,
        "province": pd.Categorical.from_codes(prov_codes.copy(), dtype=_PROV_DTYPE),
        "region": pd.Categorical.from_codes(region_codes.copy(), dtype=_REGION_DTYPE),
    }
    for name, v in cols.items():
        a = np.asarray(v() if callable(v) else v)
        if a.ndim == 1 and a.shape[0] == n * T:
            head[name] = a
        elif a.ndim == 1 and a.shape[0] == n:
            head[name] = np.repeat(a, T)
        else:
            head[name] = np.broadcast_to(a, (n, T)).ravel()
    return pd.DataFrame(head)


_REGION_SHIFT = np.array([{"east": 0.6, "central": 0.0, "west": -0.6}[q[1]] for q in PROVINCES])
_REGION_SHIFT.flags.writeable = False
# The AR(1) series of the model, in the order of the "ar" block of the normals: the seven
# controls' noise, the shocks to ln L, ln K and the energy supply, and the productivity shocks
# (the mechanism variables draw theirs from a child stream, see _mechanism)
_AR_SERIES = 11


def _params_key(p: dict) -> tuple:
    """The parameters that the cached per-design quantities depend on, hashable."""
    return (p["first_year"], p["last_year"], p["n_cities"], p["alpha"], p["beta"], p["I"],
            p["N"], tuple(p["lag_weights"]))


@functools.lru_cache(maxsize=64)
def _normal_layout(n: int, n_prov: int, T: int, TT: int, J: int) -> dict:
    """Where each Gaussian shock of a draw sits in its one block of standard normals:
    ``{"size": total, "blocks": {name: (start, stop, shape)}}``."""
    shapes = {
        "dev": (n,),                      # common development factor of the controls
        "ctrl_city": (len(CONTROLS), n),  # the controls' city levels
        "res": (n,),                      # resource-city latent
        "phi": (n,),                      # city emission factor
        "ar_industry": (J, TT),           # industry robot-density noise (AR(1) innovations)
        "ar": (_AR_SERIES, n, T),         # AR(1) innovations (series x cities x years)
        "light": (n, T),                  # nightlight noise
    }
    blocks, start = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        blocks[name] = (start, start + size, shape)
        start += size
    return {"size": start, "blocks": blocks}


def _industry_levels(rng, J, TT, robot_level, industry_sd, growth_mean, growth_sd) -> np.ndarray:
    """ln g_j0 + growth_j (t - first_year) of the industries' robot densities (J x TT years,
    the pre-sample history first), from ``rng``."""
    ln_dens0 = np.log(robot_level) + industry_sd * rng.standard_normal(J)
    growth = growth_mean + growth_sd * rng.standard_normal(J)
    t = np.arange(-PRE_YEARS, TT - PRE_YEARS, dtype=float)
    return ln_dens0[:, None] + growth[:, None] * t[None, :]


@functools.lru_cache(maxsize=64)
def _industry_levels_fixed(seed, J, TT, robot_level, industry_sd, growth_mean, growth_sd):
    """The industry paths fixed by ``industry_seed`` (the design conditions on one set of them,
    like the IFR data): the same for every draw, computed once."""
    out = _industry_levels(np.random.default_rng(seed), J, TT, robot_level, industry_sd,
                           growth_mean, growth_sd)
    out.flags.writeable = False
    return out


def _exposure_shares(rng, n_cities, prov_idx, J, conc, w, logit_mean, logit_sd):
    """Base-year (2004) employment shares s_ij = m_i [w p_{p(i)j} + (1 - w) c_ij] of the cities
    in the robot-using industries, from ``rng``: Dirichlet(conc) province and city mixes p and c,
    and the share m_i of those industries in the city's employment, logistic in
    logit_mean + logit_sd z_i with z_i = sqrt(w) z_p(i) + sqrt(1 - w) e_i (a province part with the
    regional pattern, weight w, and a city part: iv_strength = w = 0 leaves nothing common within
    a province). Returns (shares, z, city mixes)."""
    n_prov = len(PROVINCES)
    mixes = rng.dirichlet(np.full(J, conc), size=n_prov + n_cities)
    e = rng.standard_normal(n_prov + n_cities)
    prov_mix, city_mix = mixes[:n_prov], mixes[n_prov:]
    prov_z = _REGION_SHIFT + 0.8 * e[:n_prov]
    manuf_z = math.sqrt(w) * prov_z[prov_idx] + math.sqrt(1 - w) * e[n_prov:]
    manuf = 1.0 / (1.0 + np.exp(-(logit_mean + logit_sd * manuf_z)))
    shares = manuf[:, None] * (w * prov_mix[prov_idx] + (1 - w) * city_mix)
    return shares, manuf_z, city_mix


@functools.lru_cache(maxsize=64)
def _exposure_shares_fixed(seed, n_cities, J, conc, w, logit_mean, logit_sd):
    """The shares fixed by ``shares_seed``: the same for every draw, computed once."""
    prov_idx = np.repeat(np.arange(len(PROVINCES)), _province_sizes(n_cities))
    out = _exposure_shares(np.random.default_rng(seed), prov_idx.size, prov_idx, J, conc, w,
                           logit_mean, logit_sd)
    for a in out:
        a.flags.writeable = False
    return out


# kernels.ar1_series coefficients of the mechanism variables (gpatent, hum, internet) and of the
# factor shocks (ln L, ln K, energy supply, productivity); bounds and loadings that do nothing
_MECH_CITY_COEF = np.array([1.3, 0.85, 0.6])
_MECH_NOISE_COEF = np.array([0.35, 0.08, 0.15])
_MECH_RHO = np.full(3, 0.5)
_MECH_FORM = np.array([_kernels.IDENTITY, _kernels.EXP, _kernels.LOGISTIC], dtype=np.int64)
_FAC_CITY_COEF = np.array([1.0, 1.0, 1.0, 0.0])
_NO_BOUND_LO = np.full(4, -np.inf)
_NO_BOUND_HI = np.full(4, np.inf)
_NO_LOAD = np.zeros(4)
_REGIMES = ("fixed_energy", "priced_energy", "elastic_energy")
for _a in (_MECH_CITY_COEF, _MECH_NOISE_COEF, _MECH_RHO, _MECH_FORM, _FAC_CITY_COEF,
           _NO_BOUND_LO, _NO_BOUND_HI, _NO_LOAD):
    _a.flags.writeable = False


@functools.lru_cache(maxsize=64)
def _factor_params(T: int, first: int, sigma_factors: float, sigma_A: float, rho_A: float,
                   indco_trend: float) -> dict:
    """kernels.ar1_series trends, noise coefficients and AR coefficients of ln L, ln K, the
    energy supply (3 + 0.01 t, 4 + 0.08 t, 2 + 0.04 t, t = year - first_year, plus city size and
    sigma_factors u, rho 0.7) and of the productivity shock (-indco_trend x t / (T - 1) plus
    sigma_A u, rho rho_A)."""
    t = np.arange(T, dtype=float)
    tt = t / max(T - 1, 1)
    out = {"trend": np.stack([3.0 + 0.01 * t, 4.0 + 0.08 * t, 2.0 + 0.04 * t, -indco_trend * tt]),
           "noise_coef": np.array([sigma_factors] * 3 + [sigma_A]),
           "rho": np.array([0.7, 0.7, 0.7, rho_A])}
    for v in out.values():
        v.flags.writeable = False
    return out


class _Static:
    """What a draw needs that depends on the parameters only (no randomness)."""


@functools.lru_cache(maxsize=64)
def _static(key: tuple) -> _Static:
    first, last, n_cities, alpha, beta, I, N, lag_weights = key
    if last <= first:
        raise InputError("last_year must be after first_year", column="last_year")
    if not (N - 1 < I < N):
        raise InputError("the automation frontier I must lie inside (N-1, N)", column="I")
    if alpha + beta >= 1:
        raise InputError("alpha + beta must be below 1 (energy share positive)", column="beta")
    w_lag = np.asarray(lag_weights, dtype=float)
    if w_lag.size > MAX_LAG + 1:
        raise InputError(f"at most {MAX_LAG + 1} lag weights", column="lag_weights")
    s = _Static()
    s.first, s.last, s.w_lag = first, last, w_lag
    s.T = T = last - first + 1
    s.TT = T + PRE_YEARS
    s.years = years = np.arange(first, last + 1)
    s.tt = tt = (years - first) / max(T - 1, 1)
    trend_std = (tt - tt.mean()) / (tt.std() if T > 1 else 1.0)
    s.late_start = int(np.argmax(years >= min(max(2011, first), last)))
    sizes = _province_sizes(n_cities)
    s.n = n = int(sizes.sum())
    s.n_prov = len(PROVINCES)
    s.prov_idx = prov_idx = np.repeat(np.arange(len(PROVINCES)), sizes)
    region_code = _PROV_REGION[prov_idx]
    s.east = (region_code == 0).astype(np.int64)
    s.south = _PROV_SOUTH[prov_idx]
    s.east_ones, s.south_ones = int(s.east.sum()), int(s.south.sum())
    s.not_east = 0.8 * (region_code != 0)
    s.cell = (prov_idx[:, None] * T + np.arange(T)[None, :]).ravel()
    s.entity = np.repeat(np.arange(n), T)
    s.time = np.tile(np.arange(T), n)
    s.group = np.repeat(prov_idx, T).astype(np.int64)
    s.panel_ids = (np.repeat(np.arange(1, n + 1), T), np.tile(years, n), np.repeat(prov_idx, T),
                   np.repeat(region_code, T))
    s.reference_level = _reference_level(theory_functions(), {"alpha": alpha, "beta": beta,
                                                              "I": I, "N": N})
    # the controls: x = a + b z (normal) or exp(a + b z) (lognormal) with the Table 1 mean and
    # SD, z = (sqrt(wc) city + sqrt(wt) sign trend + sqrt(we) noise) / sqrt(wc + wt + we): the
    # coefficients of kernels.ar1_series
    k = len(CONTROLS)
    s.ctrl_load = np.empty(k)
    s.ctrl_unique = np.empty(k)
    s.ctrl_city_coef = np.empty(k)
    s.ctrl_noise_coef = np.empty(k)
    s.ctrl_trend = np.empty((k, T))
    s.ctrl_form = np.empty(k, dtype=np.int64)
    s.ctrl_lo = np.full(k, -np.inf)
    s.ctrl_hi = np.full(k, np.inf)
    s.ctrl_rho = np.full(k, 0.6)
    for j, name in enumerate(CONTROLS):
        mean, sd, form, wc, wt, we, tsign, load = _CONTROL_SPEC[name]
        if form == "normal":
            a, b = mean, sd
            s.ctrl_form[j] = _kernels.IDENTITY
        else:
            s2 = np.log1p((sd / mean) ** 2)
            a, b = np.log(mean) - s2 / 2, np.sqrt(s2)
            s.ctrl_form[j] = _kernels.EXP
        tot = np.sqrt(wc + wt + we)
        s.ctrl_load[j] = load
        s.ctrl_unique[j] = np.sqrt(1 - load * load)
        s.ctrl_city_coef[j] = b * np.sqrt(wc) / tot
        s.ctrl_noise_coef[j] = b * np.sqrt(we) / tot
        s.ctrl_trend[j] = a + b * np.sqrt(wt) * tsign * trend_std / tot
    s.ctrl_lo[CONTROLS.index("urban")], s.ctrl_hi[CONTROLS.index("urban")] = 0.12, 0.998
    # the mechanism variables' trends (gpatent, ln hum, the internet logit)
    s.mech_trend = np.stack([3.0 + 1.2 * tt, np.log(0.012) + 0.25 * tt, -2.6 + 2.2 * tt])
    s.years_int = years.astype(np.int64)
    s.layout = _fastpath.panel_layout(s.entity, s.time)
    for v in vars(s).values():  # shared by every draw: read-only
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    for v in s.panel_ids:
        v.flags.writeable = False
    return s


@functools.lru_cache(maxsize=64)
def _theory_at(alpha: float, beta: float, I_values: tuple, N: float, regime: str,
               supply_elasticity: float):
    """The theory's d ln indco / d ln M and the robot and energy shares at each automation
    frontier in ``I_values`` (from ``robocarbon.theory.numeric``)."""
    tn = theory_functions()
    I_arr = np.asarray(I_values, dtype=float)
    k = I_arr.size
    elas = np.asarray(tn.elasticity_indco_M(alpha, beta, I_arr, N, regime=regime,
                                            supply_elasticity=supply_elasticity),
                      dtype=float) * np.ones(k)
    shares_f = tn.factor_shares(alpha, beta, I_arr, N)
    s_M = np.asarray(shares_f["robots"], dtype=float) * np.ones(k)
    s_E = np.asarray(shares_f["energy"], dtype=float) * np.ones(k)
    for a in (elas, s_M, s_E):
        a.flags.writeable = False
    return elas, s_M, s_E


#: the log factors of the theory's output, in the order of :func:`_log_output_coefs`
_LOG_FACTORS = ("K", "L", "M", "E", "lnA")


@functools.lru_cache(maxsize=64)
def _log_output_coefs(alpha: float, beta: float, I_values: tuple, N: float) -> np.ndarray:
    """ln Y of the theory as c0 + cK ln K + cL ln L + cM ln M + cE ln E + cA ln A, one row
    (c0, cK, cL, cM, cE, cA) per automation frontier in ``I_values``.

    The coefficients are read off the theory's own ``log_output`` (at unit factors, then one
    factor at e), and the log-linearity they rely on is checked at an interior point: a theory
    whose ln Y is not linear in the log factors is refused, not approximated. A draw then needs no
    exp/log round trip per city-year."""
    tn = theory_functions()
    I_arr = np.asarray(I_values, dtype=float)
    one = np.ones_like(I_arr)

    def f(K=1.0, L=1.0, M=1.0, E=1.0, lnA=0.0):
        return np.asarray(tn.log_output(K * one, L * one, M * one, E * one, alpha, beta, I_arr,
                                        N, lnA * one), dtype=float) * one

    c0 = f()
    e = math.e
    cols = [c0, f(K=e) - c0, f(L=e) - c0, f(M=e) - c0, f(E=e) - c0, f(lnA=1.0) - c0]
    out = np.column_stack(cols)
    x = {"K": 2.7, "L": 0.35, "M": 5.3, "E": 1.9, "lnA": -0.4}
    got = f(**x)
    want = c0 + sum(out[:, 1 + i] * (math.log(x[k]) if k != "lnA" else x[k])
                    for i, k in enumerate(_LOG_FACTORS))
    if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
        raise RuntimeError("the theory's log_output is not linear in the log factors; the paper "
                           "design's closed forms do not apply")
    out.flags.writeable = False
    return out


CONTROL_MEAN_LNPOP = _CONTROL_SPEC["lnpop"][0]


def _reference_level(tn, p) -> float:
    """ln(E/Y) of the theory at the reference city (average size, first year, no robots, ln A = 0);
    ``indco_level`` is the observed ln indco of that city."""
    one = np.ones(1)
    val = tn.log_carbon_intensity(np.exp(4.0) * one, np.exp(3.0) * one, np.exp(1.0) * one,
                                  np.exp(2.0) * one, p["alpha"], p["beta"], p["I"], p["N"], 0.0 * one)
    return float(np.asarray(val, dtype=float).ravel()[0])


def _inquiry(p, n, T, rob, X_ctrl, elas, s_M, s_E, kappa_it, marginal, link, w_lag, pilot_part,
             D, adopt, years, groups, group_ones, T_var, phi, gpatent, hmatch, homogeneous):
    """The estimands, computed from the theory's elasticity for the generated data.

    ``homogeneous``: one elasticity for all cities, a constant kappa and the level link, so the
    structural robot component of ln indco is c robot exactly (c = elasticity x kappa x w_0) and
    every TWFE projection of it (full sample, any subsample, any controls) is c itself."""
    truth: dict[str, float] = {}
    if homogeneous:
        c = float(elas[0]) * float(kappa_it) * float(w_lag[0])
        truth["robot"] = truth["robot_nocontrols"] = truth["robot_ame"] = c
        # d ln E / d ln M = (elasticity + s_M) / (1 - s_E) for the lnco robustness outcome
        elas_E0 = (float(elas[0]) + float(s_M[0])) / (1 - s_E)
        truth["robot_lnco"] = elas_E0 * float(kappa_it) * float(w_lag[0])
        ratio = None
    else:
        elas_E = (elas + s_M) / (1 - s_E)  # d ln E / d ln M (the lnco robustness outcome)
        comp = (elas[:, None] * link).ravel()
        ratio = comp / rob
        truth["robot"] = _projection(comp, rob, X_ctrl, n, T, ratio=ratio)
        truth["robot_nocontrols"] = _projection(comp, rob, X_ctrl[:, :0], n, T, ratio=ratio)
        truth["robot_ame"] = float(np.mean(np.broadcast_to(marginal, (n, T))))
        truth["robot_lnco"] = _projection((elas_E[:, None] * link).ravel(), rob, X_ctrl, n, T)
    elas_mean = float(elas[0]) if homogeneous else float(np.mean(elas))
    truth["elasticity_indco_lnM"] = elas_mean
    truth["kappa"] = float(p["kappa"])
    # dynamic (structural lag) effects: d lnindco_t / d robot_{t-l}
    if not p["log_level"]:
        base = (elas_mean * float(kappa_it) if homogeneous
                else float(np.mean(elas[:, None] * kappa_it)))
        for lag in range(1, MAX_LAG + 1):
            wl = w_lag[lag] if lag < w_lag.size else 0.0
            truth[f"robot_lag{lag}"] = base * wl
        truth["robot_cumulative"] = base * float(w_lag.sum())
    # split samples (the heterogeneity tables): TWFE projection within each group
    # a component proportional to robot on the whole sample (spread of the ratio <= 1e-12) is
    # so on every subsample, where _projection's shortcut returns the ratio of its first cell
    proportional = homogeneous or (bool(np.all(np.isfinite(ratio)))
                                   and float(np.ptp(ratio)) <= 1e-12)
    for g in GROUPINGS:
        ones = group_ones[g]
        for v in (0, 1):
            if (ones if v else n - ones) >= 2:
                if homogeneous:
                    truth[f"robot|{g}={v}"] = truth["robot"]
                elif proportional:
                    truth[f"robot|{g}={v}"] = float(ratio[int(np.argmax(groups[g] == v)) * T])
                else:
                    truth[f"robot|{g}={v}"] = _projection(comp, rob, X_ctrl, n, T,
                                                          rows=groups[g] == v, ratio=ratio)
    # thresholds: the estimand of the threshold regression (24) at the true threshold phi, i.e.
    # the joint TWFE projection of the structural component on robot x 1(T <= phi) and
    # robot x 1(T > phi) given the controls (as "robot" is for (18)); the unweighted regime means
    # of the marginal effect are kept as robot_low_ame / robot_high_ame. The two differ when the
    # effect varies within a regime (e.g. mech_gpatent): regression weights follow robot's
    # within-variation, which grows over time.
    if T_var is not None:
        eff = np.broadcast_to(marginal, (n, T))
        low = T_var <= phi
        truth["robot_low_ame"] = float(eff[low].mean()) if low.any() else float("nan")
        truth["robot_high_ame"] = float(eff[~low].mean()) if (~low).any() else float("nan")
        comp_t = (elas[:, None] * link).ravel()
        truth["robot_low"], truth["robot_high"] = _regime_projection(
            comp_t, rob, X_ctrl, low.ravel(), n, T)
        truth["threshold"] = phi
    # mechanisms: the interaction coefficient on robot x M per unit of M
    if not p["log_level"]:
        base_k = elas_mean * p["kappa"]
        for name, m, v in (("gpatent", p["mech_gpatent"], gpatent),
                           ("hmatch", p["mech_hmatch"], hmatch)):
            truth[f"robot_x_{name}"] = base_k * m / float(v.std()) if m else base_k * m
    # pilot zones: ATT of the pilot dummy on ln indco, overall and by event time k = year -
    # adoption year (k >= 0 in the treated cells)
    adopted = sorted(set(adopt.tolist()) - {0})
    if not adopted or adopted[0] > years[-1]:
        truth["did"] = float("nan")
        return truth
    if homogeneous and p["pilot_growth"] == 0.0:
        # one effect in every treated cell: elasticity x pilot_lnM, at each event time present
        c_did = elas_mean * p["pilot_lnM"]
        truth["did"] = c_did
        ks = set()
        for a in adopted:
            ks.update(range(max(int(years[0]) - a, 0), int(years[-1]) - a + 1))
        for k in sorted(ks):
            truth[f"did_e{k}"] = c_did
        return truth
    treated = D > 0
    eff_pilot = (elas[:, None] * pilot_part)[treated]
    truth["did"] = float(eff_pilot.mean())
    ev = np.broadcast_to(years[None, :] - adopt[:, None], (n, T))[treated]
    sums = np.bincount(ev, weights=eff_pilot)
    counts = np.bincount(ev)
    for k in np.flatnonzero(counts).tolist():
        truth[f"did_e{k}"] = float(sums[k] / counts[k])
    return truth


register_design(DesignSpec(
    name="paper",
    description=("Huang and Jiang's 262 cities, 2007-2019, generated from the task model with "
                 "Bartik robots and nightlight-downscaled CO2, calibrated to Tables 1-2"),
    params=PARAMS,
    draw_fn=draw_paper,
    answer_strategies=("twfe", "iv", "did", "threshold"),
))

register_design(DesignSpec(
    name="paper_claims",
    description=("the paper design with its Table 3 claims built in: a human-capital threshold "
                 "(30 % of city-years above, effect tripled) and a green-patent mechanism "
                 "(negative robot x gpatent interaction)"),
    params=PARAMS,
    draw_fn=draw_paper,
    answer_strategies=("twfe", "iv", "did", "threshold"),
    base={"threshold_var": "hum", "threshold_quantile": 0.7, "threshold_gain": 2.0,
          "kappa": 0.075, "mech_gpatent": 0.6},
))
