"""Compiled per-city-year loops of the ``paper`` design (numba).

A draw of the ``paper`` design evaluates the same few equations in every one of its 3,406
city-years, for fourteen AR(1) series and for the economy. Written with numpy, each equation is a
pass over memory with a temporary array, and the passes, not the arithmetic, take the time; here
each loop visits a city-year once and keeps the intermediate values in registers. The loops are
the equations of ``docs/simulate.md`` in scalar form; ``tests/test_simulate_kernels.py`` checks
them against numpy re-statements of the same equations and the AR(1) recursion against
``scipy.signal.lfilter``.

No fast-math: the loops round like the numpy expressions they replace (no reassociation, no
fused multiply-add), so results do not depend on the CPU's vector units, and a draw is the same on
every machine. The compiled code is cached on disk (numba ``cache=True``) after the first call,
in the user's cache folder (``~/.cache/robocarbon/numba``, never the source tree; see
:mod:`robocarbon.empirics.core.numba_cache`).
"""

from __future__ import annotations

import math

import numpy as np

from robocarbon.empirics.core.numba_cache import configure as _configure_numba_cache

_configure_numba_cache()  # before numba is imported and anything is decorated

try:  # numba is a dependency; the pure-Python fallback only serves a broken installation
    from numba import njit as _njit
except ImportError:  # pragma: no cover
    _njit = None

__all__ = ["IDENTITY", "EXP", "LOGISTIC", "ar1_series", "economy", "allocate_levels",
           "pilot_assign", "exposure"]

#: transforms of :func:`ar1_series`
IDENTITY, EXP, LOGISTIC = 0, 1, 2


def _jit(fn):
    if _njit is None:  # pragma: no cover
        return fn
    return _njit(cache=True, nogil=True)(fn)


@_jit
def ar1_series(e, city, trend, city_coef, noise_coef, rho, form, lo, hi, load, late_start,
               out, index, mean, mean_late):
    """Observed series built on stationary AR(1) noise, for S series x n cities x T years.

    For series j, city i, year t (innovations ``e[j, i, t]`` standard normal):

        u_0 = e_0,   u_t = rho_j u_{t-1} + sqrt(1 - rho_j^2) e_t         (unit-variance AR(1))
        z_t = trend[j, t] + city_coef[j] city[j, i] + noise_coef[j] u_t
        x_t = z_t, exp(z_t) or 1 / (1 + exp(-z_t))                        (form[j] = 0, 1, 2)
        x_t = min(max(x_t, lo[j]), hi[j])

    Writes ``out[j, i, t] = x_t``, adds ``load[j] u_t`` to ``index[i, t]`` (a loading-weighted
    sum of the noises), and stores the mean of x over the years in ``mean[j, i]`` and over the
    years from ``late_start`` on in ``mean_late[j, i]``.
    """
    S, n, T = e.shape
    for j in range(S):
        r = rho[j]
        c = math.sqrt(1.0 - r * r)
        cc = city_coef[j]
        cn = noise_coef[j]
        f = form[j]
        lj = load[j]
        for i in range(n):
            base = cc * city[j, i]
            u = 0.0
            s = 0.0
            s_late = 0.0
            for t in range(T):
                if t == 0:
                    u = e[j, i, 0]
                else:
                    u = c * e[j, i, t] + r * u
                z = trend[j, t] + base + cn * u
                if f == 1:
                    x = math.exp(z)
                elif f == 2:
                    x = 1.0 / (1.0 + math.exp(-z))
                else:
                    x = z
                if x < lo[j]:
                    x = lo[j]
                elif x > hi[j]:
                    x = hi[j]
                out[j, i, t] = x
                if lj != 0.0:
                    index[i, t] += lj * u
                s += x
                if t >= late_start:
                    s_late += x
            mean[j, i] = s / T
            mean_late[j, i] = s_late / (T - late_start) if T > late_start else np.nan


@_jit
def economy(e_fac, size, fac_trend, fac_city_coef, fac_noise_coef, fac_rho, ctrl_idx,
            ctrl_effect, lnA_extra, robot_part, robot, adopt, years, pilot_lnM, pilot_growth,
            coef, regime, s_E, eta, base, shift, va_robot, lam, level, light_noise, e_light,
            prov, D, pilot_part, lnM, lnE, lnY, ln_co2, true_lnindco, ln_va, ln_light, prov_co2,
            prov_light):
    """Factor supplies, productivity, the task-model economy, emissions and nightlights of every
    city-year.

    For city i in province p(i), year t: the four AR(1) series s = ln L, ln K, energy supply,
    productivity shock (innovations ``e_fac[s, i, t]``, coefficients ``fac_rho[s]``, unit
    variance u_s as in :func:`ar1_series`) give

        x_s      = fac_trend[s, t] + fac_city_coef[s] size_i + fac_noise_coef[s] u_s
        ln A     = x_3 + ctrl_effect ctrl_idx + lnA_extra

    and, with ``coef[i] = (c0, cK, cL, cM, cE, cA)`` (ln Y linear in the log factors, cE = s_E):

        D        = 1(adopt_i > 0 and year_t >= adopt_i)
        pilot    = D (pilot_lnM + pilot_growth (year_t - adopt_i))
        ln M     = 1 + size_i + robot_part + pilot
        f0       = c0 + cK ln K + cL ln L + cM ln M + cA ln A             (ln Y at E = 1)
        ln E     = supply                                    (regime 0, fixed)
                 = (ln s_E + f0 - ln P_e) / (1 - s_E),  ln P_e = (supply - mean supply) / 2
                                                              (regime 1, priced)
                 = (supply + eta (ln s_E + f0)) / (1 + eta (1 - s_E))     (regime 2, elastic)
        ln Y     = f0 + cE ln E
        ln CO2   = base_i + ln E + shift                    (base = level + ln phi_i)
        true ln indco = ln CO2 - ln Y
        ln VA    = ln Y + va_robot robot
        ln light = light_noise e + (1 - lam) ln CO2 + lam (ln VA + level)

    and the province-year sums of CO2 and light in ``prov_co2`` and ``prov_light`` (zeroed
    here), the inputs of the downscaling (20).
    """
    n, T = robot_part.shape
    prov_co2[:, :] = 0.0
    prov_light[:, :] = 0.0
    ln_sE = math.log(s_E)
    c = np.empty(4)
    for s in range(4):
        c[s] = math.sqrt(1.0 - fac_rho[s] * fac_rho[s])
    supply_mean = 0.0
    if regime == 1:  # the mean energy supply over the panel, for the price
        for i in range(n):
            u = 0.0
            for t in range(T):
                u = e_fac[2, i, 0] if t == 0 else c[2] * e_fac[2, i, t] + fac_rho[2] * u
                supply_mean += (fac_trend[2, t] + fac_city_coef[2] * size[i]
                                + fac_noise_coef[2] * u)
        supply_mean /= n * T
    for i in range(n):
        a = adopt[i]
        c0 = coef[i, 0]
        cK = coef[i, 1]
        cL = coef[i, 2]
        cM = coef[i, 3]
        cE = coef[i, 4]
        cA = coef[i, 5]
        p = prov[i]
        m0 = 1.0 + size[i]
        uL = 0.0
        uK = 0.0
        uE = 0.0
        uA = 0.0
        for t in range(T):
            if t == 0:
                uL = e_fac[0, i, 0]
                uK = e_fac[1, i, 0]
                uE = e_fac[2, i, 0]
                uA = e_fac[3, i, 0]
            else:
                uL = c[0] * e_fac[0, i, t] + fac_rho[0] * uL
                uK = c[1] * e_fac[1, i, t] + fac_rho[1] * uK
                uE = c[2] * e_fac[2, i, t] + fac_rho[2] * uE
                uA = c[3] * e_fac[3, i, t] + fac_rho[3] * uA
            lnL = fac_trend[0, t] + fac_city_coef[0] * size[i] + fac_noise_coef[0] * uL
            lnK = fac_trend[1, t] + fac_city_coef[1] * size[i] + fac_noise_coef[1] * uK
            supply = fac_trend[2, t] + fac_city_coef[2] * size[i] + fac_noise_coef[2] * uE
            lnA = ((fac_trend[3, t] + fac_city_coef[3] * size[i] + fac_noise_coef[3] * uA)
                   + ctrl_effect * ctrl_idx[i, t] + lnA_extra[i, t])
            d = 1.0 if (a > 0 and years[t] >= a) else 0.0
            pp = d * (pilot_lnM + pilot_growth * (years[t] - a)) if d > 0.0 else 0.0
            D[i, t] = d
            pilot_part[i, t] = pp
            lm = m0 + robot_part[i, t] + pp
            lnM[i, t] = lm
            f0 = c0 + cK * lnK + cL * lnL + cM * lm + cA * lnA
            if regime == 0:
                le = supply
            elif regime == 1:
                le = (ln_sE + f0 - 0.5 * (supply - supply_mean)) / (1.0 - s_E)
            else:
                le = (supply + eta * (ln_sE + f0)) / (1.0 + eta * (1.0 - s_E))
            ly = f0 + cE * le
            lnE[i, t] = le
            lnY[i, t] = ly
            lc = base[i] + le + shift[i, t]
            ln_co2[i, t] = lc
            true_lnindco[i, t] = lc - ly
            lv = ly + va_robot * robot[i, t] if va_robot != 0.0 else ly
            ln_va[i, t] = lv
            if lam == 0.0:
                ll = light_noise * e_light[i, t] + lc
            else:
                ll = light_noise * e_light[i, t] + ((1.0 - lam) * lc + lam * (lv + level))
            ln_light[i, t] = ll
            prov_co2[p, t] += math.exp(lc)
            prov_light[p, t] += math.exp(ll)


@_jit
def allocate_levels(ln_light, ln_va, prov, prov_co2, prov_light, lnco, lnindco):
    """Downscaling (20) with the top-down share of lights, in logs:

        ln CO2_hat_it = ln light_it + ln total_p(i)t - ln sum_{k in p(i)} light_kt

    (the slope of (19) cancels from the shares), and ln indco = ln CO2_hat - ln VA, written
    city-major into the flat ``lnindco``."""
    n, T = ln_light.shape
    n_prov = prov_co2.shape[0]
    gap = np.empty((n_prov, T))
    for p in range(n_prov):
        for t in range(T):
            if prov_light[p, t] > 0.0:
                gap[p, t] = math.log(prov_co2[p, t]) - math.log(prov_light[p, t])
            else:
                gap[p, t] = np.nan
    for i in range(n):
        p = prov[i]
        for t in range(T):
            v = ln_light[i, t] + gap[p, t]
            lnco[i, t] = v
            lnindco[i * T + t] = v - ln_va[i, t]


@_jit
def pilot_assign(order, start, counts, uz, zone_years, special_year, special_prov,
                 special_size, adopt):
    """Assign the pilot zones, zone by zone (``threats.pilot_zones`` draws the random numbers).

    ``order`` lists the cities province by province, in the order of their random keys, with
    province k's cities at ``order[start[k]:start[k] + counts[k]]``. Zone z takes, in the year
    ``zone_years[z]``, the province whose cumulative count of free cities first exceeds
    ``uz[2 z] x (free cities)`` (a province in proportion to its free cities) and
    ``1 + floor(4 uz[2 z + 1])`` of its free cities, the next ones in key order (fewer if fewer
    are free); a zone in ``special_year`` is ``special_size`` cities of ``special_prov`` instead
    (when ``special_prov >= 0``). Writes the adoption years into ``adopt`` (0 = never)."""
    n_prov = counts.shape[0]
    avail = counts.copy()
    used = np.zeros(n_prov, dtype=np.int64)
    total = 0
    for k in range(n_prov):
        total += avail[k]
    for i in range(adopt.shape[0]):
        adopt[i] = 0
    for z in range(zone_years.shape[0]):
        year = zone_years[z]
        if year == special_year and special_prov >= 0:
            k = special_prov
            size = special_size
        else:
            if total == 0:
                break
            target = uz[2 * z] * total
            acc = 0
            k = -1
            for j in range(n_prov):
                if avail[j] > 0:
                    k = j  # the last province with free cities, if rounding overshoots
                    acc += avail[j]
                    if acc > target:
                        break
            size = 1 + int(4.0 * uz[2 * z + 1])
        take = min(size, avail[k])
        if take == 0:
            continue
        pos = start[k] + used[k]
        for m in range(pos, pos + take):
            adopt[order[m]] = year
        used[k] += take
        avail[k] -= take
        total -= take


@_jit
def exposure(shares, ln_level, e, rho, noise_sd, pre, shocks, robot_all, robot_out):
    """Industry robot densities and the Bartik exposure (21) of every city-year.

    Industry j's log robot density in year t is ``ln_level[j, t] + noise_sd u_jt`` (u a
    stationary unit-variance AR(1) with coefficient ``rho`` of the innovations ``e[j, t]``), the
    shock g_jt = exp(.) into ``shocks``; then robot_it = sum_j s_ij g_jt (``robot_all``, all
    years, equal to ``robocarbon.empirics.bartik.bartik``, tested) and the years from ``pre`` on,
    city-major, into the flat ``robot_out``."""
    J, TT = e.shape
    n = shares.shape[0]
    c = math.sqrt(1.0 - rho * rho)
    for j in range(J):
        u = 0.0
        for t in range(TT):
            u = e[j, 0] if t == 0 else c * e[j, t] + rho * u
            shocks[j, t] = math.exp(ln_level[j, t] + noise_sd * u)
    T = TT - pre
    for i in range(n):
        for t in range(TT):
            robot_all[i, t] = 0.0
        for j in range(J):  # industry by industry: the inner loop runs along contiguous years
            s = shares[i, j]
            for t in range(TT):
                robot_all[i, t] += s * shocks[j, t]
        for t in range(pre, TT):
            robot_out[i * T + t - pre] = robot_all[i, t]
