"""Sensitivity plots for parallel trends: Rambachan-Roth robust intervals against Mbar or M,
with the original interval beside them, and Roth's pre-test power curve.

Each function returns a matplotlib Figure (Agg backend); write it with
:func:`robocarbon.reports.figures_did.save_figure`.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robocarbon.empirics.errors import InputError  # noqa: E402
from robocarbon.empirics.result import Result  # noqa: E402
from robocarbon.empirics.sensitivity.honestdid import intervals_table  # noqa: E402

_ROBUST = "#01a2d9"
_ORIGINAL = "#d62728"


def sensitivity_plot(result: Result, *, title: str | None = None, ax=None):
    """Robust confidence intervals of a :func:`~robocarbon.empirics.sensitivity.honestdid.honest_did`
    Result against the bound (Mbar or M), the original interval drawn one step to the left of
    the smallest bound (as HonestDiD's ``createSensitivityPlot``), a zero line and, when
    computed, the breakdown value as a dotted vertical line.

    Examples
    --------
    >>> import numpy as np
    >>> from robocarbon.empirics.sensitivity.honestdid import honest_did
    >>> res = honest_did(beta=np.array([0.0, 0.01, 0.05]), sigma=np.eye(3) * 1e-4,
    ...                  event_times=[-3, -2, 0], bounds=[0.0, 1.0], breakdown=False)
    >>> fig = sensitivity_plot(res)
    >>> fig.axes[0].get_xlabel()
    'Mbar'
    """
    tab = intervals_table(result)
    d = result.diagnostics
    label = d["bound_name"]
    robust = tab[tab["term"] != "original"]
    bounds = robust["bound"].to_numpy(dtype=float)
    if bounds.size > 1:
        gap = float(np.min(np.diff(np.sort(bounds))))
    else:
        gap = float(bounds[0]) / 2 if bounds[0] > 0 else 0.5
    x_orig = float(bounds.min()) - gap
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
    else:
        fig = ax.figure
    o = tab.iloc[0]
    width = gap / 4
    ax.errorbar([x_orig], [(o.conf_low + o.conf_high) / 2],
                yerr=[[(o.conf_high - o.conf_low) / 2]], fmt="none", ecolor=_ORIGINAL,
                capsize=4, lw=2, label="Original")
    ok = robust.dropna(subset=["conf_low", "conf_high"])
    mid = (ok.conf_low + ok.conf_high) / 2
    ax.errorbar(ok["bound"], mid, yerr=(ok.conf_high - ok.conf_low) / 2, fmt="none",
                ecolor=_ROBUST, capsize=4, lw=2, label=f"{d['method']} ({d['restriction']})")
    ax.axhline(0.0, color="black", lw=0.8)
    bd = d.get("breakdown")
    if bd and bd.get("value") is not None and math.isfinite(bd["value"]) and bd["value"] <= bounds.max() + gap:
        ax.axvline(bd["value"], color="0.4", ls=":", lw=1,
                   label=f"breakdown {label} = {bd['value']:.3g}")
    ax.set_xlim(x_orig - width * 2, bounds.max() + width * 2)
    ticks = [x_orig] + [float(v) for v in bounds]
    ax.set_xticks(ticks, ["original"] + [f"{v:g}" for v in bounds])
    ax.set_xlabel(label)
    ax.set_ylabel(f"{1 - d['alpha']:.0%} confidence interval for {result.terms[0]}")
    ax.set_title(title or f"Sensitivity to violations of parallel trends ({label})")
    ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def pretrend_power_plot(result: Result, *, ax=None):
    """Power of the pre-test and the bias of the estimate (unconditional and conditional on
    passing) against the slope of a linear violation, for a
    :func:`~robocarbon.empirics.sensitivity.pretrends.pretrend_power` Result.

    Examples
    --------
    >>> import numpy as np
    >>> from robocarbon.empirics.sensitivity.pretrends import pretrend_power
    >>> res = pretrend_power(beta=np.zeros(3), sigma=np.eye(3) * 1e-4, event_times=[-3, -2, 0])
    >>> len(pretrend_power_plot(res).axes)
    2
    """
    d = result.diagnostics
    if "power_curve" not in d:
        raise InputError(f"not a pretrend_power result: {result.estimator}")
    curve = d["power_curve"]
    g = [r["slope"] for r in curve]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
    else:
        fig = ax.figure
    ax.plot(g, [r["power"] for r in curve], color="black", label="power of the pre-test")
    ax.set_xlabel("slope of the linear violation (per period)")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.plot(g, [r["bias_unconditional"] for r in curve], color=_ROBUST, ls="--", label="bias")
    ax2.plot(g, [r["bias_conditional"] for r in curve], color=_ORIGINAL,
             label="bias | passing the pre-test")
    ax2.set_ylabel(f"bias of {result.terms[0]}")
    for r in d["slope_for_power"]:
        ax.axvline(r["slope"], color="0.5", ls=":", lw=1)
        ax.text(r["slope"], 0.02, f" {r['power']:.0%}", fontsize=7, color="0.3")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines[:1] + ax2.get_lines(), [ln.get_label() for ln in lines[:1] + ax2.get_lines()],
              loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


__all__ = ["sensitivity_plot", "pretrend_power_plot"]
