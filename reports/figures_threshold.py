"""The likelihood-ratio plot of a Hansen (1999) threshold model.

One panel per estimated threshold: LR(gamma) = (S(gamma) - S(gamma_hat)) / sigma2 against the
candidate thresholds, with the critical value -2 ln(1 - sqrt(level)) as a dashed line; the
no-rejection interval is the set of candidates below that line. Written atomically as PNG and
SVG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robocarbon.empirics.errors import InputError  # noqa: E402
from robocarbon.empirics.provenance import atomic_path  # noqa: E402
from robocarbon.empirics.result import Result  # noqa: E402

_TITLES = {
    "single": "single threshold",
    "double_second": "second threshold (given the first)",
    "double_first_refined": "first threshold, refined (given the second)",
    "triple_third": "third threshold (given the first two)",
}


def lr_figure(result: Result | Mapping[str, Any]):
    """A matplotlib figure of the LR curve(s) of a threshold :class:`Result` (or its
    ``diagnostics``)."""
    dg = result.diagnostics if isinstance(result, Result) else result
    curves = list(dg.get("lr", ()))
    if not curves:
        raise InputError("the result has no LR curve (not a threshold model)")
    qname = dg.get("threshold_variable", "q")
    fig, axes = plt.subplots(len(curves), 1, figsize=(6.4, 2.9 * len(curves)), squeeze=False)
    for ax, c in zip(axes[:, 0], curves):
        g = np.asarray(c["gamma"], dtype=float)
        lr = np.asarray(c["lr"], dtype=float)
        ax.plot(g, lr, color="#1f77b4", lw=1.2, label=r"LR($\gamma$)")
        crit = float(c["critical_value"])
        ax.axhline(crit, color="#d62728", ls="--", lw=1.0,
                   label=f"{100 * c['level']:.0f}% critical value {crit:.4f}")
        lo, hi = c["interval"]
        ax.axvspan(lo, hi, color="#d62728", alpha=0.08, lw=0)
        ax.axvline(c["threshold"], color="#2ca02c", lw=0.8, ls=":",
                   label=rf"$\hat\gamma$ = {c['threshold']:.6g} [{lo:.6g}, {hi:.6g}]")
        ax.set_title(_TITLES.get(c["name"], c["name"]), fontsize=10)
        ax.set_xlabel(rf"threshold $\gamma$ ({qname})")
        ax.set_ylabel(r"LR($\gamma$)")
        ax.set_ylim(bottom=0.0)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def output_paths(path: str | os.PathLike) -> list[Path]:
    """The files :func:`plot_lr` writes for ``path``: ``<stem>.png`` and ``<stem>.svg``."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in (".png", ".svg") else path
    return [stem.with_name(stem.name + "." + fmt) for fmt in ("png", "svg")]


def plot_lr(result: Result | Mapping[str, Any], path: str | os.PathLike, *, dpi: int = 150) -> list[Path]:
    """Write the LR plot as ``<stem>.png`` and ``<stem>.svg`` (``path`` may end in .png, .svg or
    have no suffix); each file atomically. Returns the paths written."""
    fig = lr_figure(result)
    written = []
    try:
        for target in output_paths(path):
            fmt = target.suffix[1:]
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi)
            written.append(target)
    finally:
        plt.close(fig)
    return written
