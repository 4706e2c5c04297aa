"""Calibration of the ``paper`` design against the paper's Table 1 and Table 2.

Targets come from ``published.json`` (the machine-readable transcription of the paper's tables,
``/work/shared/paper/published.json``); a frozen copy of the numbers used here is
:data:`TABLE1` / :data:`TABLE2_COL2` so the package works without the shared folder (a test
checks the copy against the file when it is present).

Tolerances (and why):

- mean: within 0.10 target SD (a location error small relative to the spread);
- SD: within 15 % (the paper's panel is one draw of 3,406 correlated observations);
- min / max: reported, checked only loosely: within 1.5 target SDs for max and min of the
  smooth variables, because several of the paper's extremes are single outlier cities (ln pgdp
  min 4.36 is 9 SDs below the mean; ln pop min 1.57 is 4.8 SDs; open min 1.3e-6) that a smooth
  calibrated distribution does not produce and should not be forced to. The band is put around
  the average extreme and around the range of the draws' extremes: a sample extreme varies a
  lot from draw to draw (the largest energ of a draw has an SD of about 0.44 across draws, three
  times the band), so the question is whether the paper's extreme is one the design produces,
  not whether it equals an average of a few;
- TWFE with controls (Table 2 col 2): mean coefficient within 0.003 of -0.013, mean clustered SE
  within 0.0015 of 0.004.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .design import Design, as_generator, get_design

__all__ = ["TABLE1", "TABLE2_COL2", "TOLERANCES", "moments", "calibration_table",
           "precision", "format_table", "check", "shares_seed_ranking"]

#: Table 1 (N = 3,406): mean, sd, max, min
TABLE1: dict[str, dict[str, float]] = {
    "lnindco": {"mean": 1.412, "sd": 0.524, "max": 3.682, "min": 0.187},
    "robot": {"mean": 3.278, "sd": 4.004, "max": 27.00, "min": 0.0073},
    "edu": {"mean": 0.016, "sd": 0.015, "max": 0.207, "min": 0.0006},
    "urban": {"mean": 0.523, "sd": 0.151, "max": 0.998, "min": 0.175},
    "lnpop": {"mean": 5.806, "sd": 0.886, "max": 7.882, "min": 1.573},
    "lnpgdp": {"mean": 10.20, "sd": 0.631, "max": 12.80, "min": 4.358},
    "energ": {"mean": 0.093, "sd": 0.092, "max": 1.117, "min": 0.001},
    "fin": {"mean": 0.883, "sd": 0.540, "max": 7.450, "min": 0.112},
    "open": {"mean": 0.019, "sd": 0.018, "max": 0.198, "min": 1.34e-06},
}
#: Table 2 column 2: robot coefficient and city-clustered SE with controls, R2 with the FE
TABLE2_COL2 = {"coef": -0.013, "se": 0.004, "r2": 0.878, "nobs": 3406}
TABLE2_COL1 = {"coef": -0.013, "se": 0.005, "r2": 0.854, "nobs": 3406}

TOLERANCES = {
    "mean": ("abs_in_target_sd", 0.10),
    "sd": ("rel", 0.15),
    "min": ("abs_in_target_sd", 1.5),
    "max": ("abs_in_target_sd", 1.5),
    "coef": ("abs", 0.003),
    "se": ("abs", 0.0015),
}


def moments(panel: pd.DataFrame, variables=None) -> pd.DataFrame:
    """Mean, SD (n-1), min and max of the Table 1 variables in a panel."""
    variables = list(TABLE1) if variables is None else list(variables)
    rows = []
    for v in variables:
        x = panel[v].to_numpy(dtype=float)
        rows.append({"variable": v, "n": int(x.size), "mean": float(x.mean()),
                     "sd": float(x.std(ddof=1)), "min": float(x.min()), "max": float(x.max())})
    return pd.DataFrame(rows)


def _within(stat: str, sim: float, var: str) -> tuple[bool, float]:
    kind, tol = TOLERANCES[stat]
    tgt = TABLE1[var][stat]
    if kind == "rel":
        dev = abs(sim / tgt - 1.0)
    else:
        dev = abs(sim - tgt) / TABLE1[var]["sd"]
    return bool(dev <= tol), float(dev)


def calibration_table(design: Design | None = None, *, draws: int = 5, seed: int = 20240607
                      ) -> pd.DataFrame:
    """Simulated (average over ``draws`` draws) against target moments of Table 1.

    Columns: variable, stat, simulated, mc_se (Monte Carlo SE of the average over draws),
    target, deviation (in the unit of the tolerance), tolerance, ok. Min and max are averaged
    over draws too.
    """
    design = get_design("paper") if design is None else design
    ss = np.random.SeedSequence(seed)
    mats = []
    for child in ss.spawn(draws):
        mats.append(moments(design.draw(np.random.default_rng(child)).panel).set_index("variable"))
    stack = np.stack([m[["mean", "sd", "min", "max"]].to_numpy(dtype=float) for m in mats])
    avg = pd.DataFrame(stack.mean(axis=0), index=mats[0].index, columns=["mean", "sd", "min", "max"])
    # Monte Carlo SE of the average over draws (NaN with a single draw)
    mcse = pd.DataFrame(stack.std(axis=0, ddof=1) / np.sqrt(len(mats)) if len(mats) > 1
                        else np.full(stack.shape[1:], np.nan), index=avg.index, columns=avg.columns)
    rows = []
    for v in TABLE1:
        for stat in ("mean", "sd", "min", "max"):
            sim = float(avg.loc[v, stat])
            se = float(mcse.loc[v, stat])
            ok, dev = _within(stat, sim, v)
            if stat in ("min", "max") and not ok:
                # within the band of the range of the draws' extremes
                j = ["mean", "sd", "min", "max"].index(stat)
                row = list(avg.index).index(v)
                lo, hi = stack[:, row, j].min(), stack[:, row, j].max()
                tgt, band = TABLE1[v][stat], TOLERANCES[stat][1] * TABLE1[v]["sd"]
                ok = bool(lo - band <= tgt <= hi + band)
            kind, tol = TOLERANCES[stat]
            rows.append({"variable": v, "stat": stat, "simulated": sim, "mc_se": se,
                         "target": TABLE1[v][stat], "deviation": dev,
                         "tolerance": f"{tol:g} ({kind})" + (" of the average or of the draws' range"
                                                             if stat in ("min", "max") else ""),
                         "ok": ok})
    return pd.DataFrame(rows)


def shares_seed_ranking(design: Design | None = None, *, seeds=range(40), draws: int = 3,
                        seed: int = 100) -> pd.DataFrame:
    """How the ``paper`` design's fixed base-year shares were chosen.

    The design conditions on one set of cities' industry mixes (``shares_seed``), as shift-share
    inference conditions on the exposure shares. Which set is an arbitrary draw, so the default is
    the most representative one among ``seeds``: the realisation whose robot penetration has the
    mean and SD closest to Table 1 (score = |mean - 3.278| / 4.004 + |sd / 4.004 - 1|, averaged
    over ``draws`` draws of everything else). Returns the seeds sorted by that score, with columns
    shares_seed, robot_mean, robot_sd, score; the first row is the default.
    """
    design = get_design("paper") if design is None else design
    rows = []
    for s in seeds:
        d = design.with_params(shares_seed=int(s))
        m, sd = [], []
        for r in range(draws):
            x = d.draw(np.random.default_rng(seed + r)).arrays["robot"]
            m.append(float(x.mean()))
            sd.append(float(x.std(ddof=1)))
        mean, sdev = float(np.mean(m)), float(np.mean(sd))
        tgt = TABLE1["robot"]
        score = abs(mean - tgt["mean"]) / tgt["sd"] + abs(sdev / tgt["sd"] - 1.0)
        rows.append({"shares_seed": int(s), "robot_mean": mean, "robot_sd": sdev, "score": score})
    return pd.DataFrame(rows).sort_values("score", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Precision:
    coef_mean: float
    coef_sd: float
    se_mean: float
    r2_fe: float
    truth: float
    draws: int


def _twfe(y: np.ndarray, X: np.ndarray, entity: np.ndarray, time: np.ndarray):
    """TWFE with CR1 city-clustered SE, by B's fast path (numpy), plus the R2 with the FE."""
    from robocarbon.empirics.fe import twfe_fast

    beta, se = twfe_fast(y, X, entity, time, entity)
    n, T = int(entity.max()) + 1, int(time.max()) + 1
    Y = y.reshape(n, T)
    Z = X.reshape(n, T, -1)

    def dm(A):
        return A - A.mean(axis=1, keepdims=True) - A.mean(axis=0, keepdims=True) + A.mean(
            axis=(0, 1), keepdims=True)

    resid = dm(Y) - np.tensordot(dm(Z), beta, axes=([2], [0]))
    r2 = 1.0 - float((resid**2).sum()) / float(((y - y.mean()) ** 2).sum())
    return beta, se, r2


def precision(design: Design | None = None, *, draws: int = 20, seed: int = 7,
              controls: bool = True) -> Precision:
    """Monte Carlo mean and SD of the TWFE robot coefficient, mean clustered SE, R2 with FE."""
    design = get_design("paper") if design is None else design
    gen = as_generator(seed)
    coefs, ses, r2s, truths = [], [], [], []
    for _ in range(draws):
        dr = design.draw(gen)
        a = dr.arrays
        X = a["X"] if controls else a["X"][:, :1]
        beta, se, r2 = _twfe(a["y"], X, a["entity"], a["time"])
        coefs.append(beta[0])
        ses.append(se[0])
        r2s.append(r2)
        truths.append(dr.truth["robot" if controls else "robot_nocontrols"])
    return Precision(float(np.mean(coefs)), float(np.std(coefs, ddof=1)), float(np.mean(ses)),
                     float(np.mean(r2s)), float(np.mean(truths)), draws)


def format_table(table: pd.DataFrame, prec: Precision | None = None) -> str:
    """A Markdown table of simulated against target moments (and the TWFE precision)."""
    lines = ["| variable | stat | simulated | MC SE | target | deviation | tolerance | ok |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.variable} | {r.stat} | {r.simulated:.4g} | {r.mc_se:.2g} | "
                     f"{r.target:.4g} | {r.deviation:.3f} | {r.tolerance} | "
                     f"{'yes' if r.ok else 'NO'} |")
    if prec is not None:
        lines += ["", "| TWFE (Table 2 col 2) | simulated | target |", "|---|---|---|",
                  f"| robot coefficient (mean over {prec.draws} draws) | {prec.coef_mean:.4f} | "
                  f"{TABLE2_COL2['coef']} |",
                  f"| SD of the coefficient over draws | {prec.coef_sd:.4f} | |",
                  f"| clustered SE (mean) | {prec.se_mean:.4f} | {TABLE2_COL2['se']} |",
                  f"| R2 with fixed effects | {prec.r2_fe:.3f} | {TABLE2_COL2['r2']} |",
                  f"| truth 'robot' | {prec.truth:.4f} | |"]
    return "\n".join(lines)


def check(design: Design | None = None, *, draws: int = 5, seed: int = 20240607,
          mc_draws: int = 20, verbose: bool = True) -> dict[str, Any]:
    """Compute the calibration table and the TWFE precision; print them; return a summary."""
    design = get_design("paper") if design is None else design
    table = calibration_table(design, draws=draws, seed=seed)
    prec = precision(design, draws=mc_draws, seed=seed)
    ok_mom = bool(table.loc[table["stat"].isin(["mean", "sd"]), "ok"].all())
    ok_coef = abs(prec.coef_mean - TABLE2_COL2["coef"]) <= TOLERANCES["coef"][1]
    ok_se = abs(prec.se_mean - TABLE2_COL2["se"]) <= TOLERANCES["se"][1]
    if verbose:
        print(format_table(table, prec))
    return {"table": table, "precision": prec, "moments_ok": ok_mom, "coef_ok": bool(ok_coef),
            "se_ok": bool(ok_se)}


if __name__ == "__main__":  # pragma: no cover
    check()
