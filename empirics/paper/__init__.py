"""The paper's tables as library code: one call per table, a panel in, Results and tidy tables out.

Huang and Jiang, "Digital Low-carbon Road: Industrial Robots and Urban Industrial Carbon
Emissions". The specifications (which variables enter each column, fixed effects, clustering,
settings) are in :mod:`.specs`; the verdict rules of the replication, as functions of numbers
returning data, in :mod:`.verdicts`; the paper's printed numbers in ``published.json``
(:func:`load_published`). ``robocarbon replicate`` and its report call these same functions and
only render what they return.

==========================  =====================================================
paper table                 call
==========================  =====================================================
Table 1 (descriptives)      ``paper.table1(panel)``
Table 2 (baseline, lags)    ``paper.table2(panel)``
IV-2SLS, four instruments   ``paper.iv(panel)``
Table 3 cols 1-2            ``paper.mechanisms(panel)``
Table 3 cols 3-5            ``paper.thresholds(panel, bootstrap=299, seed=1)``
Table 3 (both parts)        ``paper.table3(panel, bootstrap=299, seed=1)``
staggered DID               ``paper.did(panel, bootstrap=299, seed=1)``
robustness                  ``paper.robustness(panel)``
heterogeneity               ``paper.heterogeneity(panel, permutations=99, seed=1)``
==========================  =====================================================

Each returns a :class:`PaperTable` (``.models``, ``.results``, ``.tidy``, ``.published``,
``.notdone``, ``.data``); :func:`table3` a :class:`Table3` of the two parts. A table whose
columns the panel lacks raises :class:`Unavailable` with the reason.

Examples
--------
>>> import numpy as np
>>> from robocarbon.simulate.design import get_design
>>> from robocarbon.empirics import paper
>>> panel = get_design("paper", n_cities=60).draw(np.random.default_rng(1)).panel
>>> t2 = paper.table2(panel)
>>> t2.labels
['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)']
>>> t2["(7)"].term, t2["(7)"].result.nobs
('l(robot,5)', 480)
"""

from __future__ import annotations

from . import specs, verdicts
from .specs import CONTROLS, REQUIRED, TABLE1_VARS
from .tables import (
    Model,
    PaperTable,
    Table3,
    Unavailable,
    coef,
    controls_of,
    did,
    heterogeneity,
    iv,
    iv_diagnostics,
    load_published,
    mechanisms,
    mechanisms_beside,
    require,
    robustness,
    table1,
    table1_beside,
    table2,
    table2_beside,
    table3,
    thresholds,
    thresholds_beside,
)

__all__ = [
    "CONTROLS", "REQUIRED", "TABLE1_VARS", "Model", "PaperTable", "Table3", "Unavailable", "coef",
    "controls_of", "did", "heterogeneity", "iv", "iv_diagnostics", "load_published", "mechanisms",
    "mechanisms_beside", "require", "robustness", "specs", "table1", "table1_beside", "table2",
    "table2_beside", "table3", "thresholds", "thresholds_beside", "verdicts",
]
