"""Diagnosands of a Monte Carlo study, each with its Monte Carlo standard error.

From the simulations table (one row per replication x estimator x term, with ``estimate``,
``std_error``, ``p_value``, ``conf_low``, ``conf_high`` and the ``estimand``), per estimator x
term (x grid cell):

============== ===================================================== ==========================
diagnosand     definition (over the S successful replications)        Monte Carlo SE (``*_mcse``)
============== ===================================================== ==========================
mean_estimand  mean of the estimand                                   --
mean_estimate  mean of b_s                                            sd(b)/sqrt(S)
bias           mean of (b_s - theta_s)                                sd(b - theta)/sqrt(S)
sd_estimate    sd of b_s (S - 1 denominator)                          sd * sqrt(kurtosis-based)  [1]
rmse           sqrt(mean (b_s - theta_s)^2)                           delta method [2]
mean_se        mean of the reported SE                                sd(se)/sqrt(S)
coverage       share with conf_low <= theta_s <= conf_high            sqrt(p(1-p)/S)
power          share with p_value < alpha                             sqrt(p(1-p)/S)
type_s         among significant replications, share whose sign      bootstrap over replications
               differs from the estimand's (Gelman and Carlin 2014)
exaggeration   among significant replications, mean |b_s|/|theta_s|   bootstrap over replications
               (Gelman and Carlin's exaggeration ratio, type M)
============== ===================================================== ==========================

[1] SE of a sample SD: sd * sqrt((m4/sd^4 - (S-3)/(S-1)) / (4 S)), with m4 the fourth central
moment (exact to first order for any distribution; sd/sqrt(2(S-1)) under normality).
[2] SE of the mean squared error, sd((b - theta)^2)/sqrt(S), divided by 2 rmse.

The ratio diagnosands (type-S rate and exaggeration ratio) condition on a random number of
significant replications, so their MCSE is the SD over ``bootstrap`` resamples of the
replications (seeded, deterministic). Failed replications (``error`` not empty) are counted in
``failures`` and left out of every diagnosand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["DIAGNOSAND_COLUMNS", "diagnose_table", "mde_table"]

#: the columns of the diagnosands table (after the grouping columns)
DIAGNOSAND_COLUMNS = (
    "estimand", "mean_estimate", "mean_estimate_mcse", "bias", "bias_mcse", "sd_estimate",
    "sd_estimate_mcse", "rmse", "rmse_mcse", "mean_se", "mean_se_mcse", "coverage",
    "coverage_mcse", "power", "power_mcse", "type_s", "type_s_mcse", "exaggeration",
    "exaggeration_mcse", "sims", "failures",
)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if x.size > 1 else float("nan")


def _prop_mcse(p: float, n: int) -> float:
    return float(np.sqrt(p * (1.0 - p) / n)) if n > 0 and np.isfinite(p) else float("nan")


def _ratio_stats(est: np.ndarray, theta: np.ndarray, sig: np.ndarray) -> tuple[float, float]:
    """type-S rate and exaggeration ratio among significant replications with a non-zero estimand."""
    ok = sig & (theta != 0) & np.isfinite(theta)
    if not ok.any():
        return float("nan"), float("nan")
    e, t = est[ok], theta[ok]
    type_s = float(np.mean(np.sign(e) != np.sign(t)))
    with np.errstate(over="ignore"):  # a (near-)zero estimand exaggerates without bound
        exag = float(np.mean(np.abs(e) / np.abs(t)))
    return type_s, exag


def _group_diagnosands(g: pd.DataFrame, alpha: float, bootstrap: int, rng,
                       extras: Sequence[str] = ()) -> dict:
    failed = g["error"].astype(str).str.len().to_numpy() > 0 if "error" in g else np.zeros(len(g), bool)
    ok = g.loc[~failed]
    S = int(len(ok))
    b = ok["estimate"].to_numpy(dtype=float)
    se = ok["std_error"].to_numpy(dtype=float)
    theta = ok["estimand"].to_numpy(dtype=float)
    p = ok["p_value"].to_numpy(dtype=float)
    lo = ok["conf_low"].to_numpy(dtype=float)
    hi = ok["conf_high"].to_numpy(dtype=float)
    has_theta = S > 0 and bool(np.all(np.isfinite(theta)))
    out: dict = {"estimand": _mean(theta) if has_theta else float("nan")}
    out["mean_estimate"] = _mean(b)
    out["mean_estimate_mcse"] = _sd(b) / np.sqrt(S) if S > 1 else float("nan")
    if has_theta:
        err = b - theta
        out["bias"] = _mean(err)
        out["bias_mcse"] = _sd(err) / np.sqrt(S) if S > 1 else float("nan")
        mse = float(np.mean(err**2))
        out["rmse"] = float(np.sqrt(mse))
        out["rmse_mcse"] = (_sd(err**2) / np.sqrt(S) / (2.0 * out["rmse"])
                            if S > 1 and out["rmse"] > 0 else float("nan"))
        cov = float(np.mean((lo <= theta) & (theta <= hi)))
        out["coverage"] = cov
        out["coverage_mcse"] = _prop_mcse(cov, S)
    else:
        for k in ("bias", "bias_mcse", "rmse", "rmse_mcse", "coverage", "coverage_mcse"):
            out[k] = float("nan")
    sd = _sd(b)
    out["sd_estimate"] = sd
    if S > 3 and sd > 0:
        # kurtosis from standardised deviations (sd**4 underflows to 0 for sd below ~1e-77)
        kurt = float(np.mean(((b - b.mean()) / sd) ** 4))
        out["sd_estimate_mcse"] = float(sd * np.sqrt(max(kurt - (S - 3) / (S - 1), 0.0) / (4 * S)))
    else:
        out["sd_estimate_mcse"] = float("nan")
    out["mean_se"] = _mean(se)
    out["mean_se_mcse"] = _sd(se) / np.sqrt(S) if S > 1 else float("nan")
    sig = p < alpha
    pw = _mean(sig.astype(float))
    out["power"] = pw
    out["power_mcse"] = _prop_mcse(pw, S)
    if has_theta:
        ts, ex = _ratio_stats(b, theta, sig)
        out["type_s"], out["exaggeration"] = ts, ex
        if bootstrap > 0 and S > 1 and np.isfinite(ex):
            idx = rng.integers(0, S, size=(bootstrap, S))
            bs = np.array([_ratio_stats(b[i], theta[i], sig[i]) for i in idx])
            with np.errstate(invalid="ignore"):
                out["type_s_mcse"] = float(np.nanstd(bs[:, 0], ddof=1))
                out["exaggeration_mcse"] = float(np.nanstd(bs[:, 1], ddof=1))
        else:
            out["type_s_mcse"] = out["exaggeration_mcse"] = float("nan")
    else:
        for k in ("type_s", "type_s_mcse", "exaggeration", "exaggeration_mcse"):
            out[k] = float("nan")
    out["sims"] = S
    out["failures"] = int(failed.sum())
    for c in extras:
        v = ok[c].to_numpy(dtype=float)
        out[f"mean_{c}"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    return out


def diagnose_table(
    simulations: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    alpha: float = 0.05,
    bootstrap: int = 200,
    seed: int = 0,
    extra_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """The diagnosands table: one row per ``by`` x estimator x term, in order of appearance.

    Parameters
    ----------
    simulations
        The simulations table of :func:`robocarbon.simulate.engine.diagnose`.
    by
        Grouping columns before estimator and term (the grid columns, or ``cell``).
    alpha
        Test level for ``power`` (two-sided p-value below ``alpha``).
    bootstrap
        Resamples of the replications for the MCSE of ``type_s`` and ``exaggeration``
        (0 switches them off). Resampling is seeded by ``seed``: the table is deterministic.
    extra_columns
        Per-replication scalars of the simulations table (estimator ``extras``, e.g.
        ``first_stage_f``) to average: ``mean_<column>``.
    """
    keys = list(by) + ["estimator", "term"]
    extras = [c for c in extra_columns if c in simulations.columns]
    rows = []
    for gi, (key, g) in enumerate(simulations.groupby(keys, sort=False, dropna=False)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(gi,)))
        rec = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        rec.update(_group_diagnosands(g, alpha, bootstrap, rng, extras))
        rows.append(rec)
    return pd.DataFrame(rows, columns=keys + list(DIAGNOSAND_COLUMNS)
                        + [f"mean_{c}" for c in extras])


def mde_table(
    diagnosands: pd.DataFrame,
    *,
    effect: str = "estimand",
    by: Sequence[str] = (),
    power: float = 0.8,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Minimum detectable effects from a power curve over a grid of effect sizes.

    For each estimator x term (x ``by`` columns), the cells are ordered by |effect| and the
    smallest |effect| at which the power curve crosses ``power`` is found by linear interpolation
    between the two neighbouring cells (``mde``; NaN when the curve never reaches it, the
    smallest effect when it starts above it). Beside it the analytic approximation
    (z_{1-alpha/2} + z_{power}) x SE (2.80 x SE at 5% and 80%), with the mean SE over the cells
    (``mde_analytic``): the two agree when the estimator is unbiased, its SE does not depend on
    the effect and it is roughly normal.

    ``effect`` is the column giving the effect size of each cell: ``estimand`` (the mean true
    effect, default) or a grid column. Estimator x term groups with fewer than two distinct
    finite effects are left out.
    """
    from scipy import stats

    mult = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    keys = list(by) + ["estimator", "term"]
    rows = []
    for key, g in diagnosands.groupby(keys, sort=False, dropna=False):
        g = g[np.isfinite(g[effect].to_numpy(dtype=float))]
        if g[effect].nunique() < 2:
            continue  # no effect-size curve for this estimator x term (e.g. no estimand)
        x = np.abs(g[effect].to_numpy(dtype=float))
        pw = g["power"].to_numpy(dtype=float)
        order = np.argsort(x, kind="stable")
        x, pw = x[order], pw[order]
        mde = float("nan")
        if pw.size and pw[0] >= power:
            mde = float(x[0])
        else:
            for i in range(1, x.size):
                if pw[i - 1] < power <= pw[i]:
                    mde = float(x[i - 1] + (power - pw[i - 1]) * (x[i] - x[i - 1]) / (pw[i] - pw[i - 1]))
                    break
        rec = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        rec.update(
            mde=mde,
            mde_analytic=mult * float(np.nanmean(g["mean_se"].to_numpy(dtype=float))),
            multiplier=mult,
            power_target=power,
            cells=int(len(g)),
            max_power=float(np.nanmax(pw)) if pw.size else float("nan"),
        )
        rows.append(rec)
    return pd.DataFrame(rows, columns=keys + ["mde", "mde_analytic", "multiplier", "power_target",
                                              "cells", "max_power"])
