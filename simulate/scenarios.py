"""The Monte Carlo scenarios of the replication report: the calibrated ``paper`` design and each
identification threat switched on, with the estimators diagnosed under it.

The magnitudes are settings of the report, shown in its scenario table; the threat mechanisms
and their predicted directions are documented in :data:`robocarbon.simulate.threats.THREATS`.
:func:`diagnose_scenarios` runs them all with one seed (the same replication streams in every
scenario, so differences between scenarios are due to the threats, not to simulation noise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (label, threat parameters of the `paper` design, estimators, replications as a share of sims)
PAPER_SCENARIOS: tuple[tuple[str, dict[str, Any], str, float], ...] = (
    ("calibrated (no threat)", {}, "twfe,iv,did", 1.0),
    ("shift-share confounding", {"confounding": 0.1}, "twfe,iv", 0.5),
    ("weak instrument", {"iv_strength": 0.05}, "twfe,iv", 0.5),
    ("downscaling error correlated with output", {"downscale_output": 0.5}, "twfe", 1.0),
    ("robots raise measured value added", {"va_robot": 0.005}, "twfe", 1.0),
    ("dynamic effects (lags)", {"lag_weights": (0.4, 0.3, 0.2, 0.1)}, "twfe", 1.0),
    ("log versus level", {"log_level": True}, "twfe", 1.0),
    ("heterogeneous effects (east)", {"het_group": "east", "het_dI": 0.05}, "twfe", 1.0),
    ("dynamic, cohort-heterogeneous DID effects", {"pilot_growth": 0.01}, "did", 1.0),
    ("threshold structure (human capital)", {"threshold_var": "hum", "threshold_gain": 1.0}, "twfe", 1.0),
)
BASELINE = PAPER_SCENARIOS[0][0]
THRESHOLD_SCENARIO = "threshold structure (human capital)"
THRESHOLD_MC_MAX = 20  # the bootstrap-free threshold fit costs ~1 s per replication
MAX_MC_BOOTSTRAP = 200


def scenario_sims(sims: int, share: float) -> int:
    """Replications of a scenario: ``share`` of ``sims``, at least 2."""
    return max(2, int(round(sims * share)))


def diagnose_scenarios(design: Any = None, *, sims: int, seed: int, jobs: int = 1, progress: bool = False,
                       bootstrap: int = 299) -> list[dict[str, Any]]:
    """Diagnose every scenario of :data:`PAPER_SCENARIOS` (and the threshold model under the
    threshold scenario, with at most :data:`THRESHOLD_MC_MAX` replications).

    Parameters
    ----------
    design : the base design (default ``get_design("paper")``); each scenario changes its threat
        parameters with ``with_params``.
    sims : replications of a scenario with share 1.
    seed : the master seed of :func:`robocarbon.simulate.engine.diagnose`, the same for every
        scenario.
    bootstrap : bootstrap draws of the estimators that use them (at most 200).

    Returns
    -------
    One dict per scenario and estimator term: ``scenario``, ``params`` and the diagnosands of
    :func:`~robocarbon.simulate.engine.diagnose`.
    """
    from . import engine
    from .design import get_design

    base = design if design is not None else get_design("paper")
    boot = min(bootstrap, MAX_MC_BOOTSTRAP)
    rows: list[dict[str, Any]] = []
    for label, kv, ests, share in PAPER_SCENARIOS:
        _, diag = engine.diagnose(base.with_params(**kv) if kv else base, ests, scenario_sims(sims, share), seed,
                                  jobs=jobs, progress=progress, bootstrap=boot)
        rows += [{"scenario": label, "params": dict(kv), **r} for r in diag.to_dict(orient="records")]
    kv = dict(scenario_params(THRESHOLD_SCENARIO))
    _, diag = engine.diagnose(base.with_params(**kv), "threshold", min(sims, THRESHOLD_MC_MAX), seed, jobs=jobs,
                              progress=progress, bootstrap=boot)
    rows += [{"scenario": THRESHOLD_SCENARIO, "params": kv, **r} for r in diag.to_dict(orient="records")]
    return rows


def scenario_params(label: str) -> Mapping[str, Any]:
    """The threat parameters of the scenario ``label``."""
    for lab, kv, _e, _s in PAPER_SCENARIOS:
        if lab == label:
            return kv
    raise KeyError(f"no scenario {label!r}")


def find_row(rows: list[Mapping[str, Any]], scenario: str, estimator: str) -> Mapping[str, Any] | None:
    """The first diagnosand row of ``estimator`` under ``scenario``, or ``None``."""
    for r in rows:
        if r["scenario"] == scenario and r["estimator"] == estimator:
            return r
    return None
