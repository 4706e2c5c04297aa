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
    robot_it = Bartik (21) of the shares and the industry densities
    (``robocarbon.empirics.bartik.bartik``); city industrial CO2 observed only through nightlight
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

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from robocarbon.empirics.bartik import bartik
from robocarbon.empirics.downscale import allocate, light_relation
from robocarbon.empirics.errors import InputError

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
_STREAMS = ("geo", "shares", "industry", "factors", "productivity", "controls", "mechanism",
            "lights", "pilot", "threats")


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


def _ar1(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> np.ndarray:
    """Stationary AR(1) along axis 1 with unit marginal variance."""
    return _ar1_filter(rng.standard_normal(shape), rho)


def _ar1_filter(e: np.ndarray, rho: float) -> np.ndarray:
    """The stationary AR(1) of :func:`_ar1` from its standard normal innovations ``e`` (along
    the last axis; leading axes stack independent panels, filtered in one pass)."""
    e[..., 1:] *= np.sqrt(1.0 - rho * rho)
    T = e.shape[-1]
    if T > 64:
        return lfilter([1.0], [1.0, -rho], e, axis=-1)
    # y_t = e_t + rho y_{t-1} along the (few) years: the recursion lfilter runs, without its
    # per-call overhead, and the same numbers to the bit
    y = np.ascontiguousarray(np.moveaxis(e, -1, 0))
    for t in range(1, T):
        y[t] += rho * y[t - 1]
    return np.ascontiguousarray(np.moveaxis(y, 0, -1))


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
    """Draw one panel of the ``paper`` design (see the module docstring)."""
    tn = theory_functions()
    st = _static(_params_key(p))  # everything that depends on the parameters only (cached)
    first, last = p["first_year"], p["last_year"]
    w_lag = st.w_lag

    seeds = np.random.SeedSequence(rng.integers(0, 2**63 - 1, size=4).tolist()).spawn(len(_STREAMS))
    R = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds)}

    T, TT = st.T, st.TT  # TT: with pre-sample history
    years_all, years, tt = st.years_all, st.years, st.tt  # tt: 0..1 over the sample
    # ---- geography ---------------------------------------------------------------
    n, n_prov = st.n, st.n_prov
    prov_idx, region_code = st.prov_idx, st.region_code
    east, south = st.east, st.south

    # ---- shares (base year 2004) and industry robot densities -------------------------
    J = p["n_industries"]
    rs = R["shares"]
    conc = p["share_concentration"]
    prov_mix = rs.dirichlet(np.full(J, conc), size=n_prov)
    city_mix = rs.dirichlet(np.full(J, conc), size=n)
    w = p["iv_strength"]
    mix = w * prov_mix[prov_idx] + (1 - w) * city_mix
    # manufacturing share: a province part (regional pattern plus noise) with weight w and a city
    # part with weight 1 - w, so that iv_strength = 0 leaves nothing common within a province
    region_shift = _REGION_SHIFT
    prov_z = (region_shift + 0.8 * rs.standard_normal(n_prov)) / 1.0
    manuf_z = np.sqrt(w) * prov_z[prov_idx] + np.sqrt(1 - w) * rs.standard_normal(n)
    manuf = 1.0 / (1.0 + np.exp(-(p["manuf_logit_mean"] + p["manuf_logit_sd"] * manuf_z)))
    shares = manuf[:, None] * mix
    ri = R["industry"]
    # the industries' robot levels and growth rates: fixed by industry_seed (the design conditions
    # on one set of industry paths, like the IFR data), or redrawn each time (industry_seed < 0)
    rfix = ri if p["industry_seed"] < 0 else np.random.default_rng(p["industry_seed"])
    ln_dens0 = np.log(p["robot_level"]) + p["industry_sd"] * rfix.standard_normal(J)
    growth = p["robot_growth"] + p["robot_growth_sd"] * rfix.standard_normal(J)
    ln_dens = (ln_dens0[:, None] + growth[:, None] * (years_all - first)[None, :]
               + p["industry_noise"] * _ar1(ri, (J, TT), 0.8))
    shocks = np.exp(ln_dens)  # industry x year robots per worker of the base year
    robot_all = bartik(shares, shocks)  # eq (21): city x year
    robot = robot_all[:, PRE_YEARS:]

    # ---- controls ----------------------------------------------------------------
    rc = R["controls"]
    dev = rc.standard_normal(n)
    trend_std = st.trend_std
    controls = {}
    cities, raw = [], []
    for name in CONTROLS:  # the draws in stream order; the AR(1) filter then runs once for all
        load = _CONTROL_SPEC[name][7]
        cities.append(load * dev + np.sqrt(1 - load * load) * rc.standard_normal(n))
        raw.append(rc.standard_normal((n, T)))
    ctrl_noise = _ar1_filter(np.stack(raw), 0.6)
    for name, city, noise in zip(CONTROLS, cities, ctrl_noise):
        mean, sd, form, wc, wt, we, tsign, load = _CONTROL_SPEC[name]
        z = (np.sqrt(wc) * city[:, None] + np.sqrt(wt) * tsign * trend_std[None, :]
             + np.sqrt(we) * noise)
        z = z / np.sqrt(wc + wt + we)
        if form == "normal":
            x = mean + sd * z
            if name == "urban":
                x = np.clip(x, 0.12, 0.998)
        else:
            s2 = np.log1p((sd / mean) ** 2)
            x = np.exp(np.log(mean) - s2 / 2 + np.sqrt(s2) * z)
        controls[name] = x
    # science spending share: the paper's edu *is* the science-and-technology share of fiscal
    # spending, the third threshold variable
    scitech = controls["edu"]

    # ---- mechanism and threshold variables ----------------------------------------
    rm = R["mechanism"]
    gp_city = 0.6 * dev + 0.8 * rm.standard_normal(n)
    e_gp = rm.standard_normal((n, T))
    hum_z = 0.5 * dev + np.sqrt(0.75) * rm.standard_normal(n)
    e_hum = rm.standard_normal((n, T))
    int_city = 0.6 * dev + 0.8 * rm.standard_normal(n)
    e_int = rm.standard_normal((n, T))
    ar_gp, ar_hum, ar_int = _ar1_filter(np.stack([e_gp, e_hum, e_int]), 0.5)
    gpatent = 3.0 + 1.3 * gp_city[:, None] + 1.2 * tt[None, :] + 0.35 * ar_gp
    hum = np.exp(np.log(0.012) + 0.85 * hum_z[:, None] + 0.25 * tt[None, :]
                 + 0.08 * ar_hum)
    internet = 1.0 / (1.0 + np.exp(-(-2.6 + 2.2 * tt[None, :] + 0.6 * int_city[:, None]
                                     + 0.15 * ar_int)))

    # ---- groupings ---------------------------------------------------------------
    res_latent = -manuf_z + 0.8 * (region_code != 0) + 0.8 * rm.standard_normal(n)
    resource = (res_latent > np.quantile(res_latent, 0.6)).astype(np.int64)
    size_latent = controls["lnpop"].mean(axis=1) + 2.0 * controls["urban"].mean(axis=1)
    large = (size_latent > np.quantile(size_latent, 0.65)).astype(np.int64)
    late = st.late
    dig_index = internet[:, late].mean(axis=1) + 0.1 * rm.standard_normal(n) * internet.std()
    digital = (dig_index > np.median(dig_index)).astype(np.int64)
    groups = {"resource": resource, "east": east, "south": south, "large": large,
              "digital": digital}

    # ---- pilot zones (staggered adoption) ------------------------------------------
    adopt = _threats.pilot_zones(R["pilot"], prov_idx, _PROV_NAMES, first)
    D = ((adopt[:, None] > 0) & (years[None, :] >= adopt[:, None])).astype(float)

    # ---- structural robot link and the theory ---------------------------------------
    alpha, beta, N = p["alpha"], p["beta"], p["N"]
    I_city = np.full(n, p["I"])
    if p["het_group"] != "none" and p["het_dI"] != 0.0:
        I_city = I_city + p["het_dI"] * groups[p["het_group"]]
        if not np.all((N - 1 < I_city) & (I_city < N)):
            raise InputError("I + het_dI leaves the task range (N-1, N)", column="het_dI")
    I_u, I_inv = np.unique(I_city, return_inverse=True)
    elas_u, s_M_u, s_E_u = _theory_at(alpha, beta, tuple(I_u.tolist()), N, p["regime"],
                                      p["supply_elasticity"])
    elas = elas_u[I_inv.ravel()]
    s_M = s_M_u[I_inv.ravel()]
    s_E = float(s_E_u[I_inv.ravel()[0]])

    kappa_it = np.full((n, T), p["kappa"])
    phi = float("nan")
    T_var = None
    thr_map = {"internet": internet, "hum": hum, "scitech": scitech}
    if p["threshold_var"] != "none":
        T_var = thr_map[p["threshold_var"]]
        phi = float(np.quantile(T_var, p["threshold_quantile"]))
        kappa_it = kappa_it * (1.0 + p["threshold_gain"] * (T_var > phi))
    # human-machine matching, eq (23), from min-max scaled robot and hum
    hmatch = _threats.hmatch(robot, hum)
    z_gp = (gpatent - gpatent.mean()) / gpatent.std()
    z_hm = (hmatch - hmatch.mean()) / hmatch.std()
    if p["mech_gpatent"] != 0.0 or p["mech_hmatch"] != 0.0:
        kappa_it = kappa_it * (1.0 + p["mech_gpatent"] * z_gp + p["mech_hmatch"] * z_hm)

    if p["log_level"]:
        robot_part = p["loglevel_elasticity"] * np.log(robot)  # ln M = m0 + e ln robot
        marginal = elas[:, None] * p["loglevel_elasticity"] / robot  # d lnindco / d robot
        link = robot_part  # the contemporaneous part of ln M that robot moves
    else:
        lagged = np.stack([robot_all[:, PRE_YEARS - l: PRE_YEARS - l + T]
                           for l in range(w_lag.size)])
        robot_part = kappa_it * np.tensordot(w_lag, lagged, axes=1)
        marginal = elas[:, None] * kappa_it * w_lag[0]
        link = kappa_it * w_lag[0] * robot
    pilot_part = D * (p["pilot_lnM"] + p["pilot_growth"]
                      * np.where(adopt[:, None] > 0, years[None, :] - adopt[:, None], 0))

    # ---- factor supplies, productivity, the economy ---------------------------------
    rf = R["factors"]
    size_i = controls["lnpop"].mean(axis=1) - CONTROL_MEAN_LNPOP
    sf = p["sigma_factors"]
    ar_L, ar_K, ar_E = _ar1_filter(np.stack([rf.standard_normal((n, T)) for _ in range(3)]), 0.7)
    lnL = 3.0 + size_i[:, None] + 0.01 * (years - first)[None, :] + sf * ar_L
    lnK = 4.0 + size_i[:, None] + 0.08 * (years - first)[None, :] + sf * ar_K
    lnE_supply = 2.0 + size_i[:, None] + 0.04 * (years - first)[None, :] + sf * ar_E
    m0 = 1.0 + size_i
    lnM = m0[:, None] + robot_part + pilot_part
    rp = R["productivity"]
    ln_phi = p["indco_city_sd"] * _std_lognormal(rp.standard_normal(n), p["indco_city_skew"])
    ctrl_idx = np.tensordot(_CTRL_LOADINGS, ctrl_noise, axes=1)
    lnA = (-p["indco_trend"] * tt[None, :] + p["ctrl_effect"] * ctrl_idx
           + p["sigma_A"] * _ar1(rp, (n, T), p["rho_A"]))
    if p["industry_residual"] != 0.0:
        # productivity shocks by industry, shared by the cities in proportion to their base-year
        # shares: residuals correlated across cities with similar industry mixes (the inference
        # problem of shift-share designs, Adao, Kolesar and Morales 2019)
        nu = R["threats"].standard_normal((J, T))
        scale = np.sqrt(np.mean(np.sum(shares**2, axis=1)))
        lnA = lnA + p["industry_residual"] * (shares @ nu) / scale
    # one frontier for all cities (no het threat): pass it as a scalar, saving the broadcasts
    I_arg = float(I_u[0]) if I_u.size == 1 else I_city[:, None]
    lnE, lnY = _economy(tn, p, lnK, lnL, lnM, lnE_supply, lnA, I_arg, s_E, rp)
    # calibrated level: emission factor times energy; ln indco = ln phi + ln E - ln Y + level
    level = p["indco_level"] - st.reference_level
    ln_co2 = level + ln_phi[:, None] + lnE
    true_lnindco = ln_co2 - lnY
    # shift-share confounding loads on the city-specific part of the base-year mix
    own_growth = city_mix @ (shocks[:, -1] - shocks[:, PRE_YEARS])
    true_lnindco += _threats.confounding_trend(p["confounding"], own_growth, tt)
    # parallel-trends violation for the pilot zones: adopters on their own linear trend
    true_lnindco += p["pilot_pretrend"] * (adopt > 0)[:, None] * tt[None, :]

    # ---- measurement: value added, nightlights, downscaling ---------------------------
    ln_va = lnY + p["va_robot"] * robot
    rl = R["lights"]
    lam = p["downscale_output"]
    ln_co2_conf = ln_co2 + (true_lnindco - (ln_co2 - lnY))  # CO2 incl. the confounding trend
    ln_light = ((1 - lam) * ln_co2_conf + lam * (ln_va + level)
                + p["light_noise"] * rl.standard_normal((n, T)))
    cell = st.cell
    co2_true = np.exp(ln_co2_conf).ravel()
    prov_total = np.bincount(cell, weights=co2_true, minlength=n_prov * T)
    light = np.exp(ln_light).ravel()
    if p["downscale_form"] == "levels":
        # (20) as the top-down share of fitted values a light_it; the slope a of (19) cancels
        co2_hat, _share = allocate(prov_total, light, cell)
    else:
        # logs: estimate (19) ln CO_kt = a ln light_kt + prov_k + v_t on the province panel, then
        # allocate by light_it ** a
        prov_light = np.bincount(cell, weights=light, minlength=n_prov * T)
        prov_df = pd.DataFrame({"province": np.repeat(np.arange(n_prov), T),
                                "year": np.tile(years, n_prov), "co2": prov_total,
                                "light": prov_light})
        prov_df = prov_df[prov_df["light"] > 0]
        fit, _, _ = light_relation(prov_df, form="logs")
        co2_hat, _share = allocate(prov_total, light, cell, float(fit.params[0]), form="logs")
    lnco = np.log(co2_hat)
    lnindco = lnco - ln_va.ravel()

    # ---- inquiry: truth from the theory for these data -------------------------------
    X_ctrl = np.column_stack([controls[c].ravel() for c in CONTROLS])
    rob = robot.ravel()
    truth = _inquiry(p, tn, n, T, rob, X_ctrl, elas, s_M, s_E, kappa_it, marginal, link,
                     w_lag, pilot_part, D, adopt, years, groups, T_var, phi,
                     gpatent, hmatch)

    # ---- the panel (built on first access of Draw.panel) --------------------------------
    cols = {
        "lnindco": lnindco,
        "robot": rob,
    }
    for j, c in enumerate(CONTROLS):
        cols[c] = X_ctrl[:, j]
    cols.update({
        "adopt_year": np.repeat(adopt, T),
        "D": D.ravel(),
        "gpatent": gpatent.ravel(),
        "hum": hum.ravel(),
        "hmatch": hmatch.ravel(),
        "internet": internet.ravel(),
        "scitech": scitech.ravel(),
        "lnco": lnco,
    })
    for g in GROUPINGS:
        cols[g] = np.repeat(groups[g], T)
    if T_var is not None:
        cols["threshold_var"] = T_var.ravel()
    cols.update({
        "true_lnindco": true_lnindco.ravel(),
        "true_lnco": ln_co2_conf.ravel(),
        "true_lnM": lnM.ravel(),
        "true_lnY": lnY.ravel(),
        "true_lnE": lnE.ravel(),
        "true_effect": np.broadcast_to(marginal, (n, T)).ravel(),
    })
    entity = st.entity.copy()
    arrays = {
        "y": lnindco,
        "X": np.column_stack([rob, X_ctrl]),
        "X_names": np.array(("robot",) + CONTROLS),
        "entity": entity,
        "time": st.time.copy(),
        "group": st.group.copy(),
        "cluster": entity,
        "D": cols["D"],
        "robot": rob,
    }
    return Draw(truth=truth, arrays=arrays,
                panel_fn=functools.partial(_build_panel, st.panel_ids, cols))


def _build_panel(ids: tuple, cols: dict) -> pd.DataFrame:
    """The draw's DataFrame: identifiers (city, year, province codes, region codes) first, then
    the columns of ``cols`` in order."""
    city, year, prov_codes, region_codes = ids
    head = {
        "city": city,
        "year": year,
        "province": pd.Categorical.from_codes(prov_codes.copy(), dtype=_PROV_DTYPE),
        "region": pd.Categorical.from_codes(region_codes.copy(), dtype=_REGION_DTYPE),
    }
    head.update(cols)
    return pd.DataFrame(head)


_REGION_SHIFT = np.array([{"east": 0.6, "central": 0.0, "west": -0.6}[q[1]] for q in PROVINCES])


def _params_key(p: dict) -> tuple:
    """The parameters that the cached per-design quantities depend on, hashable."""
    return (p["first_year"], p["last_year"], p["n_cities"], p["alpha"], p["beta"], p["I"],
            p["N"], tuple(p["lag_weights"]))


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
    s.years_all = np.arange(first - PRE_YEARS, last + 1)
    s.years = years = s.years_all[PRE_YEARS:]
    s.tt = tt = (years - first) / max(T - 1, 1)
    s.trend_std = (tt - tt.mean()) / (tt.std() if T > 1 else 1.0)
    s.late = years >= min(max(2011, first), last)
    sizes = _province_sizes(n_cities)
    s.n = n = int(sizes.sum())
    s.n_prov = len(PROVINCES)
    s.prov_idx = prov_idx = np.repeat(np.arange(len(PROVINCES)), sizes)
    s.region_code = region_code = _PROV_REGION[prov_idx]
    s.east = (region_code == 0).astype(np.int64)
    s.south = _PROV_SOUTH[prov_idx]
    s.cell = (prov_idx[:, None] * T + np.arange(T)[None, :]).ravel()
    s.entity = np.repeat(np.arange(n), T)
    s.time = np.tile(np.arange(T), n)
    s.group = np.repeat(prov_idx, T).astype(np.int64)
    s.panel_ids = (np.repeat(np.arange(1, n + 1), T), np.tile(years, n), np.repeat(prov_idx, T),
                   np.repeat(region_code, T))
    for v in s.panel_ids:
        v.flags.writeable = False
    s.reference_level = _reference_level(theory_functions(), {"alpha": alpha, "beta": beta,
                                                              "I": I, "N": N})
    for v in vars(s).values():  # shared by every draw: read-only
        if isinstance(v, np.ndarray):
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


CONTROL_MEAN_LNPOP = _CONTROL_SPEC["lnpop"][0]


def _reference_level(tn, p) -> float:
    """ln(E/Y) of the theory at the reference city (average size, first year, no robots, ln A = 0);
    ``indco_level`` is the observed ln indco of that city."""
    one = np.ones(1)
    val = tn.log_carbon_intensity(np.exp(4.0) * one, np.exp(3.0) * one, np.exp(1.0) * one,
                                  np.exp(2.0) * one, p["alpha"], p["beta"], p["I"], p["N"], 0.0 * one)
    return float(np.asarray(val, dtype=float).ravel()[0])


def _economy(tn, p, lnK, lnL, lnM, lnE_supply, lnA, I, s_E, rng):
    """Energy and output in the chosen regime, from the theory's log_output.

    ``log_output`` is linear in ln E with coefficient s_E (the energy share), so
    ln Y = f0 + s_E ln E with f0 = log_output at E = 1, and each regime has a closed form:

    - fixed_energy: ln E = the supply;
    - priced_energy: E = s_E Y / P_e, so (1 - s_E) ln E = ln s_E + f0 - ln P_e;
    - elastic_energy: E = E0 P_e^eta with P_e = s_E Y / E, so
      (1 + eta (1 - s_E)) ln E = ln E0 + eta (ln s_E + f0).
    """
    alpha, beta, N = p["alpha"], p["beta"], p["N"]
    K, L, M = np.exp(lnK), np.exp(lnL), np.exp(lnM)
    regime = p["regime"]
    if regime != "fixed_energy":
        f0 = tn.log_output(K, L, M, np.ones_like(K), alpha, beta, I, N, lnA)
    if regime == "fixed_energy":
        lnE = lnE_supply
    elif regime == "priced_energy":
        ln_pe = 0.5 * (lnE_supply - lnE_supply.mean())  # a price that varies like the supply
        lnE = (np.log(s_E) + f0 - ln_pe) / (1 - s_E)
    else:
        eta = p["supply_elasticity"]
        lnE = (lnE_supply + eta * (np.log(s_E) + f0)) / (1 + eta * (1 - s_E))
    E = np.exp(lnE)
    lnY = tn.log_output(K, L, M, E, alpha, beta, I, N, lnA)
    # the theory's carbon intensity must be ln E - ln Y (checked in the tests)
    return lnE, np.asarray(lnY, dtype=float)


def _inquiry(p, tn, n, T, rob, X_ctrl, elas, s_M, s_E, kappa_it, marginal, link,
             w_lag, pilot_part, D, adopt, years, groups, T_var, phi, gpatent, hmatch):
    """The estimands, computed from the theory's elasticity for the generated data."""
    truth: dict[str, float] = {}
    comp = (elas[:, None] * link).ravel()
    ratio = comp / rob
    truth["robot"] = _projection(comp, rob, X_ctrl, n, T, ratio=ratio)
    truth["robot_nocontrols"] = _projection(comp, rob, X_ctrl[:, :0], n, T, ratio=ratio)
    truth["robot_ame"] = float(np.mean(np.broadcast_to(marginal, (n, T))))
    # effect on ln CO2 (the lnco robustness outcome): d ln E / d ln M = (elas + s_M) / (1 - s_E)
    elas_E = (elas + s_M) / (1 - s_E)
    truth["robot_lnco"] = _projection((elas_E[:, None] * link).ravel(), rob, X_ctrl, n, T)
    truth["elasticity_indco_lnM"] = float(np.mean(elas))
    truth["kappa"] = float(p["kappa"])
    # dynamic (structural lag) effects: d lnindco_t / d robot_{t-l}
    if not p["log_level"]:
        base = float(np.mean(elas[:, None] * kappa_it))
        for lag in range(1, MAX_LAG + 1):
            wl = w_lag[lag] if lag < w_lag.size else 0.0
            truth[f"robot_lag{lag}"] = base * wl
        truth["robot_cumulative"] = base * float(w_lag.sum())
    # split samples (the heterogeneity tables): TWFE projection within each group
    # a component proportional to robot on the whole sample (spread of the ratio <= 1e-12) is
    # so on every subsample, where _projection's shortcut returns the ratio of its first cell
    proportional = bool(np.all(np.isfinite(ratio))) and float(np.ptp(ratio)) <= 1e-12
    for g in GROUPINGS:
        for v in (0, 1):
            mask = groups[g] == v
            if mask.sum() >= 2:
                truth[f"robot|{g}={v}"] = (
                    float(ratio[int(np.argmax(mask)) * T]) if proportional
                    else _projection(comp, rob, X_ctrl, n, T, rows=mask, ratio=ratio))
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
        truth["robot_low"], truth["robot_high"] = _regime_projection(
            comp, rob, X_ctrl, low.ravel(), n, T)
        truth["threshold"] = phi
    # mechanisms: the interaction coefficient on robot x M per unit of M
    if not p["log_level"]:
        base_k = float(np.mean(elas)) * p["kappa"]
        truth["robot_x_gpatent"] = base_k * p["mech_gpatent"] / float(gpatent.std())
        truth["robot_x_hmatch"] = base_k * p["mech_hmatch"] / float(hmatch.std())
    # pilot zones: ATT of the pilot dummy on ln indco, overall and by event time
    eff_pilot = elas[:, None] * pilot_part
    treated = D > 0
    truth["did"] = float(eff_pilot[treated].mean()) if treated.any() else float("nan")
    if treated.any():
        # event time of the treated cells (>= 0), grouped by a stable sort: each group's cells
        # in the panel's order, as a boolean selection would give them
        ev = (years[None, :] - adopt[:, None])[treated]
        order = np.argsort(ev, kind="stable")
        ev_s, eff_s = ev[order], eff_pilot[treated][order]
        bounds = np.searchsorted(ev_s, np.arange(0, int(ev_s[-1]) + 2))
        for k in range(0, int(ev_s[-1]) + 1):
            if bounds[k + 1] > bounds[k]:
                truth[f"did_e{k}"] = float(eff_s[bounds[k]:bounds[k + 1]].mean())
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
