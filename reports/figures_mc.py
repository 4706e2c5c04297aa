"""Figures of a Monte Carlo study: power curves and bias/coverage by grid cell (PNG and SVG).

Every figure is written atomically, once as ``<stem>.png`` and once as ``<stem>.svg``. Error bars
are +-1.96 Monte Carlo standard errors; the coverage panel shades the Monte Carlo band of a
correct 95% interval, 0.95 +- 1.96 sqrt(0.95 x 0.05 / S).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from robocarbon.empirics.provenance import atomic_path  # noqa: E402

__all__ = ["power_curve", "bias_coverage", "save_figure"]

_KEYS = ("estimator", "term")


def save_figure(fig, stem: str | os.PathLike) -> list[Path]:
    """Write ``fig`` to ``stem.png`` and ``stem.svg`` atomically; return the paths."""
    stem = Path(stem)
    paths = []
    for ext in ("png", "svg"):
        path = stem.with_name(stem.name + "." + ext)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150 if ext == "png" else None, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else None)
        paths.append(path)
    plt.close(fig)
    return paths


def _label(key) -> str:
    est, term = key
    return f"{est}: {term}"


def _series(diag: pd.DataFrame, terms: Sequence[str] | None):
    d = diag if terms is None else diag[diag["term"].isin(list(terms))]
    return d.groupby(list(_KEYS), sort=False)


def power_curve(
    diagnosands: pd.DataFrame,
    x: str,
    stem: str | os.PathLike,
    *,
    terms: Sequence[str] | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    mde: pd.DataFrame | None = None,
    title: str | None = None,
) -> list[Path]:
    """Power (rejection rate at ``alpha``) against the grid column ``x`` (or ``estimand``), one
    line per estimator x term whose ``x`` takes at least two values, with +-1.96 MCSE bars, the ``power`` target and the test level as
    reference lines, and the minimum detectable effects of ``mde`` (from
    :func:`robocarbon.simulate.diagnosands.mde_table`) marked when given."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, g in _series(diagnosands, terms):
        g = g.sort_values(x, kind="stable")
        xs = g[x].to_numpy(dtype=float)
        if np.unique(xs[np.isfinite(xs)]).size < 2:
            continue  # no curve: the effect does not vary (or is undefined) for this series
        ax.errorbar(xs, g["power"], yerr=1.96 * g["power_mcse"].fillna(0.0), marker="o",
                    ms=4, capsize=2, label=_label(key))
    ax.axhline(power, color="0.4", ls="--", lw=0.8)
    ax.axhline(alpha, color="0.6", ls=":", lw=0.8)
    if mde is not None and x == "estimand":
        for _, r in mde.iterrows():
            if terms is not None and r["term"] not in terms:
                continue
            if np.isfinite(r["mde"]):
                ax.axvline(-r["mde"] if diagnosands[x].min() < 0 else r["mde"], color="0.5",
                           lw=0.6, ls="-.")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("true effect (mean estimand)" if x == "estimand" else x)
    ax.set_ylabel(f"power (rejection rate at {alpha:g})")
    ax.set_title(title or "Power curve")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return save_figure(fig, stem)


def bias_coverage(
    diagnosands: pd.DataFrame,
    stem: str | os.PathLike,
    *,
    x: str | None = None,
    terms: Sequence[str] | None = None,
    level: float = 0.95,
    title: str | None = None,
) -> list[Path]:
    """Two panels: bias (+-1.96 MCSE) and coverage (+-1.96 MCSE, with the band of a correct
    interval) by grid cell ``x``; without a grid, one point per estimator x term."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 4.0))
    groups = list(_series(diagnosands, terms))
    for i, (key, g) in enumerate(groups):
        if x is not None:
            g = g.sort_values(x, kind="stable")
            xs = g[x].to_numpy(dtype=float)
        else:
            xs = np.full(len(g), float(i))
        ax1.errorbar(xs, g["bias"], yerr=1.96 * g["bias_mcse"].fillna(0.0), marker="o", ms=4,
                     capsize=2, label=_label(key))
        ax2.errorbar(xs, g["coverage"], yerr=1.96 * g["coverage_mcse"].fillna(0.0), marker="o",
                     ms=4, capsize=2, label=_label(key))
    ax1.axhline(0.0, color="0.4", lw=0.8)
    S = float(np.nanmax(diagnosands["sims"])) if len(diagnosands) else 1.0
    half = 1.96 * np.sqrt(level * (1 - level) / max(S, 1.0))
    ax2.axhspan(level - half, level + half, color="0.85", zorder=0)
    ax2.axhline(level, color="0.4", lw=0.8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if x is not None:
            ax.set_xlabel(x)
        else:
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels([_label(k) for k, _ in groups], rotation=30, ha="right", fontsize=8)
    ax1.set_ylabel("bias (estimate - estimand)")
    ax2.set_ylabel(f"coverage of the {level:.0%} interval")
    ax1.legend(fontsize=8, frameon=False)
    fig.suptitle(title or "Bias and coverage")
    fig.tight_layout()
    return save_figure(fig, stem)
