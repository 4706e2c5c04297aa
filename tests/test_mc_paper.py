"""Done-criterion of the Monte Carlo engine on the simulator's ``paper`` design.

With no threat switched on, the TWFE (eq 18) 95% interval covers the design's estimand at the
nominal rate and the estimator is unbiased, at 2,000 replications. Marked slow: the paper
design's draw (25-50 ms for 262 cities x 13 years on this shared machine, plus a one-off warm-up of
the theory module's lambdified functions of 4-25 s) dominates, not the fast-path fit (about 1 ms):
the test takes 37 s on 2 quiet cores, up to 3 minutes when the machine is busy.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from robocarbon.simulate.engine import diagnose

design_mod = pytest.importorskip("robocarbon.simulate.design")

#: 2,000 by default (the done-criterion); ROBOCARBON_MC_PAPER_SIMS lowers it on a slow machine
SIMS = int(os.environ.get("ROBOCARBON_MC_PAPER_SIMS", "2000"))


@pytest.mark.slow
def test_paper_twfe_coverage_and_bias_at_2000_replications():
    design = design_mod.get_design("paper")
    sims, diag = diagnose(design, ["twfe"], SIMS, seed=20261128, jobs=2, progress=False)
    d = diag.set_index("term").loc["robot"]
    assert d["sims"] == SIMS and d["failures"] == 0
    # bias within 3 Monte Carlo SE of zero
    assert abs(d["bias"]) < 3 * d["bias_mcse"], (d["bias"], d["bias_mcse"])
    # coverage within the Monte Carlo band of 0.95 (3 binomial SE; at S = 2000: +-0.0146)
    band = 3 * np.sqrt(0.95 * 0.05 / SIMS)
    assert abs(d["coverage"] - 0.95) < band, d["coverage"]
    # and the paper's precision: SE of the robot coefficient near 0.004-0.005 (Table 2)
    assert 0.002 < d["mean_se"] < 0.01
