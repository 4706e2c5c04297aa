"""Figures for the report: matplotlib (Agg), saved as PNG and SVG, embedded as data URIs.

Each plotting function takes computed values (from ``Result.tidy()``, diagnostics or the Monte
Carlo diagnosands) and returns a :class:`Figure`; :func:`save_figure` writes
``figures/<name>.png`` and ``.svg`` atomically and :meth:`Figure.data_uri` gives the base64 PNG
for the self-contained HTML report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from robocarbon.empirics.provenance import atomic_path  # noqa: E402

plt.rcParams.update({
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "robocarbon",  # deterministic SVG ids
    "svg.fonttype": "none",
})

OURS = "#1f5fa8"
PAPER = "#c0392b"
GREY = "#7f7f7f"


@dataclass
class Figure:
    """A finished figure: file stem, caption and the rendered bytes."""

    name: str
    caption: str
    png: bytes
    svg: bytes

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def finish(fig: "plt.Figure", name: str, caption: str) -> Figure:
    """Render a matplotlib figure to PNG and SVG bytes and close it."""
    fig.tight_layout()
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png")
    fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    return Figure(name, caption, png.getvalue(), svg.getvalue())


def save_figure(figure: Figure, folder: str | Path) -> list[Path]:
    """Write ``<folder>/<name>.png`` and ``.svg`` atomically; returns the paths."""
    folder = Path(folder)
    paths = []
    for ext, blob in (("png", figure.png), ("svg", figure.svg)):
        p = folder / f"{figure.name}.{ext}"
        with atomic_path(p) as tmp:
            tmp.write_bytes(blob)
        paths.append(p)
    return paths


# ---------------------------------------------------------------------------- plots
def coefficient_plot(
    name: str,
    caption: str,
    labels: Sequence[str],
    estimate: Sequence[float],
    conf_low: Sequence[float],
    conf_high: Sequence[float],
    *,
    published: Sequence[float | None] | None = None,
    published_se: Sequence[float | None] | None = None,
    ylabel: str = "coefficient",
) -> Figure:
    """Point estimates with 95% intervals, optionally with the paper's published numbers beside."""
    x = np.arange(len(labels), dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    est = np.asarray(estimate, float)
    ax.errorbar(x - 0.1, est, yerr=[est - np.asarray(conf_low, float), np.asarray(conf_high, float) - est],
                fmt="o", color=OURS, capsize=3, label="ours (95% CI)")
    if published is not None:
        pub = np.array([np.nan if v is None else v for v in published], float)
        if published_se is not None:
            se = np.array([np.nan if v is None else v for v in published_se], float)
            ax.errorbar(x + 0.1, pub, yerr=1.96 * se, fmt="s", color=PAPER, capsize=3,
                        label="paper (± 1.96 SE)")
        else:
            ax.plot(x + 0.1, pub, "s", color=PAPER, label="paper")
    ax.axhline(0, color=GREY, lw=0.8)
    ax.set_xticks(x, labels)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    return finish(fig, name, caption)


def event_study_plot(
    name: str,
    caption: str,
    event_time: Sequence[float],
    estimate: Sequence[float],
    conf_low: Sequence[float],
    conf_high: Sequence[float],
    *,
    truth: Sequence[float] | None = None,
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]]] | None = None,
) -> Figure:
    """Event-study coefficients by event time with 95% intervals; further estimators as
    ``series = {label: (event_time, estimate, conf_low, conf_high)}``."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    allseries = {"TWFE event study": (event_time, estimate, conf_low, conf_high)}
    allseries.update(series or {})
    colours = [OURS, "#2e8b57", "#8e44ad", "#d35400"]
    n = len(allseries)
    for k, (lab, (et, est, lo, hi)) in enumerate(allseries.items()):
        et = np.asarray(et, float) + (k - (n - 1) / 2) * 0.12
        est = np.asarray(est, float)
        ax.errorbar(et, est, yerr=[est - np.asarray(lo, float), np.asarray(hi, float) - est], fmt="o-",
                    ms=3, lw=1, capsize=2, color=colours[k % len(colours)], label=lab)
    if truth is not None:
        ax.plot(np.asarray(event_time, float), np.asarray(truth, float), "k--", lw=1, label="truth")
    ax.axhline(0, color=GREY, lw=0.8)
    ax.axvline(-0.5, color=GREY, lw=0.8, ls=":")
    ax.set_xlabel("years since adoption")
    ax.set_ylabel("effect on ln indco")
    ax.legend(frameon=False, fontsize=8)
    return finish(fig, name, caption)


def bacon_plot(name: str, caption: str, weights: Sequence[float], estimates: Sequence[float],
               types: Sequence[str], *, overall: float | None = None) -> Figure:
    """Goodman-Bacon scatter: each 2x2 comparison's estimate against its weight, by type."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    types = np.asarray(types, dtype=object)
    w = np.asarray(weights, float)
    e = np.asarray(estimates, float)
    markers = ["o", "s", "^", "D"]
    for k, t in enumerate(sorted(set(types))):
        m = types == t
        ax.scatter(w[m], e[m], marker=markers[k % 4], label=str(t), alpha=0.8)
    if overall is not None:
        ax.axhline(overall, color=OURS, lw=1, ls="--", label=f"TWFE = {overall:.4f}")
    ax.axhline(0, color=GREY, lw=0.8)
    ax.set_xlabel("weight")
    ax.set_ylabel("2x2 DID estimate")
    ax.legend(frameon=False, fontsize=8)
    return finish(fig, name, caption)


def marginal_effect_plot(name: str, caption: str, grid: Sequence[float], effect: Sequence[float],
                         conf_low: Sequence[float], conf_high: Sequence[float], *, xlabel: str,
                         rug: Sequence[float] | None = None) -> Figure:
    """Marginal effect of robot over the mechanism variable, with its 95% band."""
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    g = np.asarray(grid, float)
    ax.fill_between(g, np.asarray(conf_low, float), np.asarray(conf_high, float), color=OURS, alpha=0.2,
                    label="95% band")
    ax.plot(g, np.asarray(effect, float), color=OURS, label="marginal effect of robot")
    if rug is not None and len(rug):
        r = np.asarray(rug, float)
        r = r[np.isfinite(r)]
        lo = ax.get_ylim()[0]
        ax.plot(r, np.full_like(r, lo), "|", color=GREY, alpha=0.3, ms=6)
    ax.axhline(0, color=GREY, lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("d ln indco / d robot")
    ax.legend(frameon=False, fontsize=8)
    return finish(fig, name, caption)


def lr_plot(name: str, caption: str, gamma: Sequence[float], lr: Sequence[float], *,
            critical: float, threshold: float | None = None, xlabel: str = "threshold") -> Figure:
    """Hansen's likelihood-ratio statistic over candidate thresholds with its critical value."""
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    g = np.asarray(gamma, float)
    order = np.argsort(g)
    ax.plot(g[order], np.asarray(lr, float)[order], color=OURS, lw=1, label="LR(γ)")
    ax.axhline(critical, color=PAPER, ls="--", lw=1, label=f"95% critical value {critical:.2f}")
    if threshold is not None:
        ax.axvline(threshold, color=GREY, ls=":", lw=1, label=f"γ̂ = {threshold:.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("LR")
    ax.legend(frameon=False, fontsize=8)
    return finish(fig, name, caption)


def diagnosand_plot(name: str, caption: str, labels: Sequence[str],
                    panels: Mapping[str, tuple[Sequence[float], Sequence[float] | None]],
                    *, references: Mapping[str, float] | None = None) -> Figure:
    """One horizontal-bar panel per diagnosand (e.g. bias, coverage, power) across scenarios;
    ``panels = {diagnosand: (values, mcse or None)}``; ``references`` draws a line (0.95
    for coverage, 0 for bias)."""
    k = len(panels)
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k + 1.6, 0.32 * len(labels) + 1.3), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(labels))
    for ax, (diag, (vals, mcse)) in zip(axes, panels.items()):
        v = np.asarray(vals, float)
        err = None if mcse is None else 1.96 * np.asarray(mcse, float)
        ax.barh(y, v, xerr=err, color=OURS, alpha=0.75, capsize=2)
        if references and diag in references:
            ax.axvline(references[diag], color=PAPER, ls="--", lw=1)
        ax.axvline(0, color=GREY, lw=0.6)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=3))
        ax.set_title(diag)
    axes[0].set_yticks(y, labels)
    axes[0].invert_yaxis()
    return finish(fig, name, caption)
