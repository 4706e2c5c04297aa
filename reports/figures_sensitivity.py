"""Figures of the sensitivity estimators (:mod:`robocarbon.empirics.sensitivity`).

- :func:`ovb_contour_figure`: Cinelli-Hazlett contour plot. Axes: the confounder's partial
  R-squared with the treatment (x, :math:`R^2_{D\\sim Z|X}`) and with the outcome (y,
  :math:`R^2_{Y\\sim Z|D,X}`); contours of the adjusted estimate, its t statistic or the lower
  limit of its interval; the critical contour (estimate 0, t at the critical value, or lower
  limit 0) dashed red; the unadjusted estimate at the origin; the benchmark bounds as red
  diamonds with their adjusted values.
- :func:`oster_figure`: Oster's bias-adjusted coefficient beta* against R2max at the Result's
  delta (and delta = 1 when different), with the controlled and uncontrolled estimates.
- :func:`chr_figure`: Conley-Hansen-Rossi UCI path: the 2SLS interval of the endogenous
  coefficient at each assumed direct effect gamma, and the union.

:func:`sensitivity_figure` picks the figure for a Result; :func:`plot_sensitivity` writes it
atomically as ``<stem>.png`` and ``<stem>.svg``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from scipy import stats  # noqa: E402

from robocarbon.empirics.errors import InputError  # noqa: E402
from robocarbon.empirics.provenance import atomic_path  # noqa: E402
from robocarbon.empirics.result import Result  # noqa: E402
from robocarbon.empirics.sensitivity import ovb  # noqa: E402

__all__ = ["ovb_contour_figure", "oster_figure", "chr_figure", "sensitivity_figure",
           "output_paths", "plot_sensitivity", "contour_grid"]

_SENS = ("estimate", "t-value", "lwr")


def contour_grid(result: Result, *, sensitivity_of: str = "estimate", lim: float | None = None,
                 lim_y: float | None = None, points: int = 201, threshold: float = 0.0):
    """The grid of the contour plot: ``(r2dz_x, r2yz_dx, values, critical)`` with ``values``
    of shape (len(r2yz_dx), len(r2dz_x)) and ``critical`` the level drawn dashed."""
    if result.estimator != "cinelli_hazlett":
        raise InputError("the contour plot needs a Cinelli-Hazlett Result")
    if sensitivity_of not in _SENS:
        raise InputError(f"sensitivity_of must be one of {_SENS}, got {sensitivity_of!r}")
    dg = result.diagnostics
    est, se, dof = dg["estimate"], dg["se"], dg["dof"]
    bx = [b["r2dz_x"] for b in dg["bounds"]]
    by = [b["r2yz_dx"] for b in dg["bounds"]]
    lx = lim if lim is not None else min(max([0.4] + [1.2 * v for v in bx]), 1 - 1e-9)
    ly = lim_y if lim_y is not None else (lim if lim is not None
                                         else min(max([0.4] + [1.2 * v for v in by]), 1 - 1e-9))
    if not (0 < lx < 1 and 0 < ly <= 1):
        raise InputError(f"contour limits must be in (0, 1), got {lx}, {ly}")
    gx = np.linspace(0.0, lx, points)
    gy = np.linspace(0.0, ly, points)
    X, Y = np.meshgrid(gx, gy)
    reduce = bool(dg.get("reduce", True))
    if sensitivity_of == "estimate":
        Z = ovb.adjusted_estimate(est, se, dof, X, Y, reduce=reduce)
        crit = float(threshold)
    elif sensitivity_of == "t-value":
        Z = ovb.adjusted_t(est, se, dof, X, Y, reduce=reduce, h0=threshold)
        crit = float(np.sign(est) * stats.t.ppf(1 - dg["alpha"] / 2, dof - 1))
    else:
        tq = stats.t.ppf(1 - dg["alpha"] / 2, dof - 1)
        Z = ovb.adjusted_estimate(est, se, dof, X, Y, reduce=reduce) - tq * ovb.adjusted_se(se, dof, X, Y)
        crit = float(threshold)
    return gx, gy, np.asarray(Z), crit


def ovb_contour_figure(result: Result, *, sensitivity_of: str = "estimate",
                       lim: float | None = None, lim_y: float | None = None, nlevels: int = 10,
                       threshold: float = 0.0):
    """The Cinelli-Hazlett contour plot of a :func:`~robocarbon.empirics.sensitivity.cinelli_hazlett`
    Result (a matplotlib Figure)."""
    gx, gy, Z, crit = contour_grid(result, sensitivity_of=sensitivity_of, lim=lim, lim_y=lim_y,
                                   threshold=threshold)
    dg = result.diagnostics
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    finite = Z[np.isfinite(Z)]
    levels = MaxNLocator(nlevels).tick_values(finite.min(), finite.max())
    levels = levels[(levels > finite.min()) & (levels < finite.max())]
    levels = levels[np.abs(levels - crit) > 1e-9 * max(1.0, abs(crit))]
    cs = ax.contour(gx, gy, Z, levels=levels, colors="black", linewidths=0.7)
    ax.clabel(cs, fontsize=7, fmt="%.3g")
    if finite.min() < crit < finite.max():
        cc = ax.contour(gx, gy, Z, levels=[crit], colors="#d62728", linestyles="--", linewidths=1.1)
        ax.clabel(cc, fontsize=7, fmt="%.3g")
    unadj = {"estimate": dg["estimate"], "t-value": dg["t_statistic"] - threshold / dg["se"],
             "lwr": dg["estimate"] - stats.t.ppf(1 - dg["alpha"] / 2, dg["dof"] - 1) * dg["se"]}
    ax.plot([0], [0], marker="^", color="black", ms=7, clip_on=False)
    ax.annotate(f"Unadjusted\n({unadj[sensitivity_of]:.3g})", (0, 0), xytext=(6, 6),
                textcoords="offset points", fontsize=7)
    for b in dg["bounds"]:
        x, y = b["r2dz_x"], b["r2yz_dx"]
        if sensitivity_of == "estimate":
            val = b["adjusted_estimate"]
        elif sensitivity_of == "t-value":
            val = (b["adjusted_estimate"] - threshold) / b["adjusted_se"]
        else:
            val = b["adjusted_estimate"] - stats.t.ppf(1 - dg["alpha"] / 2, dg["dof"] - 1) * b["adjusted_se"]
        ax.plot([x], [y], marker="D", color="#d62728", ms=5)
        ax.annotate(f"{b['label']}\n({val:.3g})", (x, y), xytext=(5, 4),
                    textcoords="offset points", fontsize=7, color="#d62728")
    what = {"estimate": "adjusted estimate", "t-value": "adjusted t statistic",
            "lwr": f"lower limit of the adjusted {100 * (1 - dg['alpha']):.0f}% interval"}[sensitivity_of]
    ax.set_title(f"Sensitivity of {dg['treatment']}: {what}", fontsize=9)
    ax.set_xlabel(r"partial $R^2$ of the confounder with the treatment, $R^2_{D\sim Z|X}$", fontsize=8)
    ax.set_ylabel(r"partial $R^2$ of the confounder with the outcome, $R^2_{Y\sim Z|D,X}$", fontsize=8)
    ax.set_xlim(0, gx[-1])
    ax.set_ylim(0, gy[-1])
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def oster_figure(result: Result, *, points: int = 101):
    """beta* against R2max (from the controlled R-squared to 1) of an
    :func:`~robocarbon.empirics.sensitivity.oster` Result."""
    if result.estimator != "oster":
        raise InputError("the Oster figure needs an Oster Result")
    dg = result.diagnostics
    args = (dg["beta_short"], dg["r2_short"], dg["beta_controlled"], dg["r2_controlled"],
            dg["var_y"], dg["var_x"], dg["tau_x"])
    grid = np.linspace(dg["r2_controlled"], 1.0, points)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    deltas = [dg["delta"]] + ([1.0] if dg["delta"] != 1.0 else [])
    for k, delta in enumerate(deltas):
        vals = []
        for r in grid:
            try:
                vals.append(ovb.oster_beta(*args, r2max=float(r), delta=delta)["beta"])
            except InputError:
                vals.append(np.nan)
        ax.plot(grid, vals, lw=1.3, ls="-" if k == 0 else ":",
                label=rf"$\beta^*$ at $\delta$ = {delta:.3g}")
    ax.axhline(dg["beta_controlled"], color="#2ca02c", lw=0.8, ls="--",
               label=f"controlled {dg['beta_controlled']:.4g}")
    ax.axhline(dg["beta_short"], color="grey", lw=0.8, ls="--",
               label=f"uncontrolled {dg['beta_short']:.4g}")
    ax.axhline(dg["beta"], color="#d62728", lw=0.8)
    ax.axvline(dg["r2max"], color="black", lw=0.6, ls=":")
    ax.set_xlabel(r"$R^2_{max}$" + (" (within)" if dg.get("r2") == "within" else ""))
    ax.set_ylabel(r"bias-adjusted coefficient $\beta^*$")
    ax.set_title(f"Oster (2019): delta for beta = {dg['beta']:.3g} is {dg['delta_for_beta']:.3g} "
                 f"at R2max = {dg['r2max']:.3g}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def chr_figure(result: Result, term: str | None = None):
    """The UCI path of a :func:`~robocarbon.empirics.sensitivity.conley_uci` Result (one
    instrument): the interval of ``term`` (default: the first endogenous regressor) at each
    gamma, and the union."""
    if result.estimator != "chr_uci":
        raise InputError("the CHR figure needs a conley_uci Result")
    dg = result.diagnostics
    path = dg["path"]
    if not path:
        raise InputError("the UCI path needs one instrument and a support of positive width")
    endog = result.spec.get("endogenous") or []
    if term is None:
        term = next((t for t in result.terms if t in endog), result.terms[-1])
    g = np.array([p["gamma"] for p in path])
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(g, [p["estimate"][term] for p in path], color="#1f77b4", label="2SLS estimate")
    ax.fill_between(g, [p["lower"][term] for p in path], [p["upper"][term] for p in path],
                    color="#1f77b4", alpha=0.15, label=f"{100 * dg['level']:.0f}% interval")
    lo, hi = dg["intervals"][term]
    ax.axhline(lo, color="#d62728", ls="--", lw=0.9, label=f"UCI [{lo:.4g}, {hi:.4g}]")
    ax.axhline(hi, color="#d62728", ls="--", lw=0.9)
    ax.axhline(0.0, color="black", lw=0.5)
    ax.set_xlabel(rf"direct effect of {dg['instruments'][0]}, $\gamma$")
    ax.set_ylabel(f"coefficient of {term}")
    ax.set_title("Conley, Hansen and Rossi (2012): union of confidence intervals", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sensitivity_figure(result: Result, **kwargs):
    """The figure for a sensitivity Result (contour, Oster curve or UCI path)."""
    makers = {"cinelli_hazlett": ovb_contour_figure, "oster": oster_figure, "chr_uci": chr_figure}
    if result.estimator not in makers:
        raise InputError(f"no sensitivity figure for estimator {result.estimator!r} (available: "
                         f"{sorted(makers)})")
    return makers[result.estimator](result, **kwargs)


def output_paths(path: str | os.PathLike) -> list[Path]:
    """The files :func:`plot_sensitivity` writes for ``path``: ``<stem>.png``, ``<stem>.svg``."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in (".png", ".svg") else path
    return [stem.with_name(stem.name + "." + fmt) for fmt in ("png", "svg")]


def plot_sensitivity(result: Result, path: str | os.PathLike, *, dpi: int = 150,
                     formats: Sequence[str] = ("png", "svg"), **kwargs) -> list[Path]:
    """Write the figure of ``result`` as ``<stem>.png`` and ``<stem>.svg``, each atomically
    (a failure leaves no partial file). Returns the paths written."""
    fig = sensitivity_figure(result, **kwargs)
    written = []
    try:
        for target in output_paths(path):
            fmt = target.suffix[1:]
            if fmt not in formats:
                continue
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi)
            written.append(target)
    finally:
        plt.close(fig)
    return written
