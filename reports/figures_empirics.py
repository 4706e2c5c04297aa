"""Figures for the empirics core: the marginal effect of the treatment over the moderator."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from robocarbon.empirics.provenance import atomic_path  # noqa: E402
from robocarbon.empirics.result import Result  # noqa: E402


def plot_marginal_effect(result: Result, path, *, title: str | None = None) -> Path:
    """Plot ``diagnostics["marginal_effect"]`` of :func:`mechanism.fit_mechanism`: the effect of
    the treatment against the moderator with its pointwise confidence band and a zero line.
    Written atomically; returns the path."""
    me = pd.DataFrame([dict(r) for r in result.diagnostics["marginal_effect"]])
    info = dict(result.diagnostics.get("mechanism", {}))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.fill_between(me["moderator"], me["conf_low"], me["conf_high"], alpha=0.25,
                    label=f"{int(100 * info.get('level', 0.95))}% pointwise band")
    ax.plot(me["moderator"], me["effect"], lw=2, label="marginal effect")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel(info.get("moderator", "moderator"))
    ax.set_ylabel(f"d y / d {info.get('treatment', 'treatment')}")
    ax.set_title(title or f"Marginal effect of {info.get('treatment', '')} by {info.get('moderator', '')}")
    ax.legend(frameon=False)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    return path
