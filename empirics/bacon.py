"""Goodman-Bacon (2021) decomposition of the TWFE DID coefficient.

With staggered adoption, the TWFE coefficient on D_it is a weighted average of every 2x2 DID
comparison between two timing groups (cohorts): earlier- vs later-treated (before the later group
adopts), later- vs earlier-treated (after the earlier group adopted: the "forbidden" comparison
that uses already-treated units as controls), treated vs never-treated, and later- vs
always-treated. The weights are proportional to the squared subsample size times the variance of
the treatment within the 2x2 subsample and sum to one.

Implemented for balanced panels without controls (the exact decomposition). With controls the
decomposition also has a within-cohort term (Goodman-Bacon 2021, section 5); it is not implemented
here and :func:`bacon_decomposition` raises :class:`InputError` when controls are given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .did import _fe_regression, _panel_from, _spec
from .did_panel import DidPanel, single_threaded, time_value
from .errors import InputError
from .result import Result

TYPES = (
    "Earlier vs Later Treated",
    "Later vs Earlier Treated",
    "Treated vs Untreated",
    "Later vs Always Treated",
)


def _did22(yk: np.ndarray, yl: np.ndarray, post: np.ndarray) -> float:
    """2x2 DID of the mean outcome paths (periods x 1) of groups k and l, post = bool per period."""
    return float((yk[post].mean() - yk[~post].mean()) - (yl[post].mean() - yl[~post].mean()))


@single_threaded
def bacon_decomposition(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    file: str | None = None,
) -> Result:
    """Goodman-Bacon decomposition of the TWFE coefficient into all 2x2 DID comparisons.

    Parameters
    ----------
    data : balanced long panel.
    y, entity, time, adopt : outcome, entity, period and adoption-period columns (adoption ``0``,
        missing or ``inf`` = never treated; at or before the first period = always treated).
    controls : must be empty (see the module docstring).

    Returns
    -------
    Result
        Term ``"D"``: the TWFE coefficient with its entity-clustered SE.
        ``diagnostics["comparisons"]``: list of ``{"treated", "untreated", "estimate", "weight",
        "type"}`` (cohort adoption periods; ``"never"`` for the never-treated group);
        ``diagnostics["summary"]``: per type ``{"type", "weight", "estimate", "n"}`` (total weight and
        weighted average estimate); ``diagnostics["weighted_sum"]`` (sum of weight x estimate),
        ``diagnostics["twfe"]`` and ``diagnostics["check_difference"]`` (weighted_sum - twfe, zero up
        to rounding).

    Notes
    -----
    For a comparison of timing groups k (treated) and l (control) on the subsample used by the
    2x2 (k vs never: all periods; k earlier than l: periods before l adopts; k later than l:
    periods from l's adoption on), with n_k, n_l the observation counts and D_k, D_l the shares of
    treated observations in that subsample, the unnormalised weights are (Goodman-Bacon 2021,
    eq. 10, in the form of the R package bacondecomp):

    .. math::
        s_{kU} \\propto (n_k+n_U)^2\\, n_{kU}(1-n_{kU})\\, D_k(1-D_k),\\\\
        s^{k}_{kl} \\propto ((n_k+n_l)(1-D_l))^2\\, n_{kl}(1-n_{kl})
            \\frac{D_k-D_l}{1-D_l}\\frac{1-D_k}{1-D_l},\\\\
        s^{l}_{kl} \\propto ((n_k+n_l) D_k)^2\\, n_{kl}(1-n_{kl})
            \\frac{D_l}{D_k}\\frac{D_k-D_l}{D_k},

    with n_{kl} = n_k/(n_k+n_l), normalised to sum to one. Each 2x2 estimate is the TWFE
    coefficient on the subsample, which in a balanced panel is the difference in pre/post mean
    changes. Then beta_TWFE = sum s * beta_2x2 exactly.
    """
    if controls:
        raise InputError(
            "the Goodman-Bacon decomposition is implemented without controls only (with controls it "
            "has an extra within-cohort term); run it without --controls"
        )
    panel = _panel_from(data, y, entity, time, adopt, (), None, file)
    if not panel.is_balanced:
        counts = np.bincount(panel.entity_codes, minlength=panel.n_entities)
        bad = [str(e) for e in panel.entities[counts != panel.n_times]]
        raise InputError(
            "the Goodman-Bacon decomposition needs a balanced panel; entities not observed in every "
            f"period: {', '.join(bad[:5])}" + (" ..." if len(bad) > 5 else ""),
            file=panel.file, column=panel.names["entity"],
        )
    return _bacon(panel)


def _bacon(panel: DidPanel) -> Result:
    times = panel.times
    T = times.shape[0]
    first = times[0]
    ea = panel.entity_adopt()
    # timing groups; adoption after the last period = never treated within the sample
    ea = np.where(ea > times[-1], np.inf, ea)
    ea = np.where(ea <= first, first, ea)  # always treated
    groups = np.unique(ea)
    Y = np.zeros((panel.n_entities, T))
    Y[panel.entity_codes, panel.time_codes] = panel.y
    ybar = {g: Y[ea == g].mean(axis=0) for g in groups}
    nunits = {g: int(np.sum(ea == g)) for g in groups}
    dpath = {g: (times >= g).astype(float) for g in groups}
    rows = []
    for k in groups:
        if np.isinf(k) or k == first:
            continue  # never- and always-treated are never the "treated" group
        for l_ in groups:
            if l_ == k:
                continue
            if np.isinf(l_):
                sub = np.ones(T, bool)
                typ = TYPES[2]
            elif k < l_:
                sub = times < l_
                typ = TYPES[0]
            else:
                sub = times >= l_
                typ = TYPES[3] if l_ == first else TYPES[1]
            Tsub = int(sub.sum())
            nk, nl = nunits[k] * Tsub, nunits[l_] * Tsub
            Dk = dpath[k][sub].mean()
            Dl = dpath[l_][sub].mean()
            nkl = nk / (nk + nl)
            if np.isinf(l_):
                w = (nk + nl) ** 2 * nkl * (1 - nkl) * Dk * (1 - Dk)
            elif k < l_:
                w = ((nk + nl) * (1 - Dl)) ** 2 * nkl * (1 - nkl) * (Dk - Dl) / (1 - Dl) * (1 - Dk) / (1 - Dl)
            else:
                # roles: the earlier group l_ is the control here, the later group k is treated
                ne, nla = nl, nk
                De, Dla = Dl, Dk
                nel = ne / (ne + nla)
                w = ((ne + nla) * De) ** 2 * nel * (1 - nel) * (Dla / De) * (De - Dla) / De
            post = dpath[k][sub] == 1
            if post.all() or (~post).all():
                continue
            est = _did22(ybar[k][sub], ybar[l_][sub], post)
            rows.append({"treated": time_value(k), "untreated": "never" if np.isinf(l_) else time_value(l_),
                         "estimate": est, "weight": float(w), "type": typ})
    if not rows:
        raise InputError("no 2x2 comparison: need at least two timing groups", file=panel.file,
                         column=panel.names["adopt"])
    total = sum(r["weight"] for r in rows)
    for r in rows:
        r["weight"] = r["weight"] / total
    fit = _fe_regression(panel, panel.D[:, None], ["D"])
    beta = float(fit["beta"][0])
    wsum = float(sum(r["weight"] * r["estimate"] for r in rows))
    summary = []
    for typ in TYPES:
        sel = [r for r in rows if r["type"] == typ]
        if not sel:
            continue
        wt = sum(r["weight"] for r in sel)
        summary.append({
            "type": typ, "weight": float(wt),
            "estimate": float(sum(r["weight"] * r["estimate"] for r in sel) / wt) if wt > 0 else float("nan"),
            "n": len(sel),
        })
    return Result(
        terms=["D"], params=fit["beta"], cov=fit["cov"], nobs=panel.nobs, df_resid=fit["df"],
        cov_type="cluster", estimator="bacon_decomposition", nobs_dropped=panel.nobs_dropped,
        r2_within=fit["r2_within"], r2_with_fe=fit["r2_with_fe"],
        diagnostics={
            "comparisons": rows, "summary": summary, "weighted_sum": wsum, "twfe": beta,
            "check_difference": wsum - beta, "dropped": dict(panel.dropped),
        },
        spec=_spec(panel),
    )


def bacon_table(result: Result) -> pd.DataFrame:
    """The 2x2 comparisons of a :func:`bacon_decomposition` result as a DataFrame."""
    return pd.DataFrame([dict(r) for r in result.diagnostics["comparisons"]])


__all__ = ["bacon_decomposition", "bacon_table", "TYPES"]
