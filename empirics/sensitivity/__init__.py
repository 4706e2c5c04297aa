"""Sensitivity analysis: how much would identification have to fail to overturn an estimate.

- :mod:`.ovb`: omitted-variable sensitivity of an OLS coefficient, Cinelli and Hazlett (2020)
  (:func:`cinelli_hazlett`: partial R2, robustness values, benchmark bounds) and Oster (2019)
  (:func:`oster`: delta and beta* with R2max);
- :mod:`.instruments`: Conley, Hansen and Rossi (2012) intervals for a 2SLS coefficient when the
  instrument may have a direct effect (:func:`conley_uci`, :func:`conley_ltz`).
- :mod:`.honestdid`: Rambachan and Roth (2023) sensitivity of event-study effects to violations
  of parallel trends (:func:`honest_did`: relative magnitudes and smoothness, C-LF / ARP / FLCI
  intervals, breakdown values; :func:`event_coefficients` reads any event-study Result);
- :mod:`.pretrends`: Roth (2022) power of the pre-trend test against linear violations and the
  bias conditional on passing it (:func:`pretrend_power`);
- :mod:`.wild`: restricted wild cluster bootstrap p-values and test-inversion intervals
  (:func:`wild_cluster_bootstrap`);
- :mod:`.randomization`: randomization inference over the assignment of treatment or of
  adoption timing across units (:func:`randomization_inference`).

Each estimator returns the project's one :class:`~robocarbon.empirics.result.Result` and fits
every regression through :func:`robocarbon.empirics.fe.fit`.
"""

from __future__ import annotations

from .honestdid import event_coefficients, honest_did, intervals_table
from .instruments import conley_ltz, conley_uci
from .ovb import (
    adjusted_estimate,
    adjusted_se,
    adjusted_t,
    benchmark_bounds,
    bias,
    cinelli_hazlett,
    extreme_robustness_value,
    oster,
    oster_beta,
    oster_delta,
    partial_f2,
    partial_r2,
    robustness_value,
)
from .pretrends import pretrend_power
from .randomization import randomization_inference
from .wild import bootstrap_weights, wild_cluster_bootstrap

__all__ = [
    "cinelli_hazlett", "oster", "conley_uci", "conley_ltz",
    "partial_r2", "partial_f2", "robustness_value", "extreme_robustness_value",
    "benchmark_bounds", "bias", "adjusted_estimate", "adjusted_se", "adjusted_t",
    "oster_delta", "oster_beta",
    "honest_did", "intervals_table", "event_coefficients", "pretrend_power",
    "wild_cluster_bootstrap", "bootstrap_weights", "randomization_inference",
]
