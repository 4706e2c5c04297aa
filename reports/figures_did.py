"""Figures for the staggered DID estimators: event studies with confidence intervals, the
Goodman-Bacon scatter, and the de Chaisemartin-D'Haultfoeuille weights.

Every function builds a matplotlib figure (Agg backend) and, given ``path``, writes it atomically
as PNG or SVG (by the suffix; ``.pdf`` too; no suffix writes both PNG and SVG). The ``*_series``
helpers turn a :class:`~robocarbon.empirics.result.Result` into plain lists so that the report
can also draw them itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robocarbon.empirics.errors import InputError  # noqa: E402
from robocarbon.empirics.provenance import atomic_path  # noqa: E402
from robocarbon.empirics.result import Result  # noqa: E402

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_COLORS = {"TWFE event study": "#7f7f7f", "Callaway-Sant'Anna": "#1f77b4", "Sun-Abraham": "#d62728"}
_TYPE_MARKERS = {
    "Earlier vs Later Treated": ("o", "#1f77b4"),
    "Later vs Earlier Treated": ("^", "#d62728"),
    "Treated vs Untreated": ("s", "#2ca02c"),
    "Later vs Always Treated": ("D", "#9467bd"),
}


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 150) -> list[Path]:
    """Write ``fig`` atomically; the format comes from the suffix (.png, .svg, .pdf). A path
    without a suffix writes both ``PATH.png`` and ``PATH.svg``. Returns the files written."""
    path = Path(path)
    if path.suffix == "":
        targets = [path.with_suffix(".png"), path.with_suffix(".svg")]
    else:
        if path.suffix.lower() not in _FORMATS:
            raise InputError(f"unknown figure type {path.suffix!r}; use .png or .svg", file=str(path))
        targets = [path]
    for target in targets:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=_FORMATS[target.suffix.lower()], dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return targets


def event_series(result: Result, label: str | None = None, *, level: float = 0.95) -> dict:
    """Event-time estimates of an event-study-like Result as plain lists.

    Works for :func:`~robocarbon.empirics.did.event_study` and
    :func:`~robocarbon.empirics.did_sa.sun_abraham` (terms ``e-2``, ``e+0``: pointwise intervals),
    and :func:`~robocarbon.empirics.did_cs.callaway_santanna` (its dynamic aggregation, with the
    uniform bootstrap band). The reference period (estimate 0) is added for the regressions.
    """
    if result.estimator == "callaway_santanna":
        by = result.diagnostics["aggregations"]["dynamic"]["by"]
        varying = result.spec.get("base_period", "varying") == "varying"
        return {
            "label": label or "Callaway-Sant'Anna",
            "note": "leads vs the previous period" if varying else None,
            "event_time": [int(d["event_time"]) for d in by],
            "estimate": [float(d["att"]) for d in by],
            "lower": [float(d["lower"]) for d in by],
            "upper": [float(d["upper"]) for d in by],
            "band": "uniform" if result.diagnostics.get("se_type") == "bootstrap" else "pointwise",
        }
    ci = result.conf_int(level)
    rows = []
    for t in result.terms:
        if t.startswith("e") and t[1:2] in "+-" and t[2:].isdigit():
            rows.append((int(t[1:]), float(result.coefficients[t]), float(ci.loc[t, "lower"]),
                         float(ci.loc[t, "upper"])))
    ref = result.spec.get("ref", -1)
    omitted = result.diagnostics.get("omitted", [ref])
    for e in omitted or []:
        if e is not None and all(r[0] != e for r in rows):
            rows.append((int(e), 0.0, 0.0, 0.0))
    rows.sort()
    default = {"twfe_event_study": "TWFE event study", "sun_abraham": "Sun-Abraham"}.get(result.estimator,
                                                                                          result.estimator)
    return {
        "label": label or default,
        "event_time": [r[0] for r in rows],
        "estimate": [r[1] for r in rows],
        "lower": [r[2] for r in rows],
        "upper": [r[3] for r in rows],
        "band": "pointwise",
    }


def plot_event_study(
    series: Sequence[dict] | dict | Result,
    path: str | os.PathLike | None = None,
    *,
    title: str = "Event study",
    ylabel: str = "effect",
    ax=None,
):
    """Event-study plot: estimates by event time with confidence intervals, several estimators
    side by side (slightly dodged). ``series`` are :func:`event_series` dicts or Results."""
    if isinstance(series, Result | dict):
        series = [series]
    series = [event_series(s) if isinstance(s, Result) else s for s in series]
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    k = len(series)
    for j, s in enumerate(series):
        off = (j - (k - 1) / 2) * 0.12
        x = np.asarray(s["event_time"], dtype=float) + off
        est = np.asarray(s["estimate"], dtype=float)
        lo, hi = np.asarray(s["lower"], dtype=float), np.asarray(s["upper"], dtype=float)
        color = _COLORS.get(s["label"])
        extras = [x for x in ("uniform band" if s.get("band") == "uniform" else None, s.get("note")) if x]
        lab = s["label"] + (f" ({'; '.join(extras)})" if extras else "")
        ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt="o", ms=4, capsize=3, color=color, label=lab)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axvline(-0.5, color="black", lw=0.8, ls=":")
    ax.set_xlabel("periods since adoption")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    if own and path is not None:
        save_figure(fig, path)
    return fig


def plot_bacon(result: Result, path: str | os.PathLike | None = None, *, ax=None, title=None):
    """Goodman-Bacon scatter: each 2x2 estimate against its weight, by comparison type, with the
    TWFE coefficient as a horizontal line."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    comps = result.diagnostics["comparisons"]
    for typ, (marker, color) in _TYPE_MARKERS.items():
        sel = [c for c in comps if c["type"] == typ]
        if sel:
            ax.scatter([c["weight"] for c in sel], [c["estimate"] for c in sel], marker=marker,
                       color=color, label=typ, s=30)
    ax.axhline(result.diagnostics["twfe"], color="black", lw=0.8, ls="--",
               label=f"TWFE = {result.diagnostics['twfe']:.4g}")
    ax.set_xlabel("weight")
    ax.set_ylabel("2x2 DID estimate")
    ax.set_title(title or "Goodman-Bacon decomposition")
    ax.legend(frameon=False, fontsize=8)
    if own and path is not None:
        save_figure(fig, path)
    return fig


def plot_dcdh_weights(weights: dict, path: str | os.PathLike | None = None, *, ax=None):
    """The TWFE weights on each treated cohort x period cell (negative ones in red)."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    cells = weights["cells"]
    labels = [f"{c['group']}/{c['time']}" for c in cells]
    w = np.array([c["weight"] for c in cells])
    ax.bar(range(len(w)), w, color=np.where(w < 0, "#d62728", "#1f77b4"))
    ax.set_xticks(range(len(w)))
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("cohort / period")
    ax.set_ylabel("weight in the TWFE coefficient")
    ax.set_title(f"de Chaisemartin-D'Haultfoeuille weights: {weights['n_negative']} negative "
                 f"(sum {weights['sum_negative']:.3g})")
    if own and path is not None:
        save_figure(fig, path)
    return fig


def plot_did_summary(event_results: Sequence[Result], bacon: Result | None, path, *, title="Staggered DID"):
    """Two panels: the event studies side by side, and the Goodman-Bacon scatter."""
    ncols = 2 if bacon is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.2))
    axes = np.atleast_1d(axes)
    plot_event_study(list(event_results), ax=axes[0], title=title)
    if bacon is not None:
        plot_bacon(bacon, ax=axes[1])
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


__all__ = ["event_series", "plot_event_study", "plot_bacon", "plot_dcdh_weights", "plot_did_summary",
           "save_figure"]
