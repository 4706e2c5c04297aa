"""The small synthetic panel the paper-table tests and their frozen reference share.

Not a test module. One draw of the calibrated ``paper`` design with 80 cities (seed 2024), the
true columns removed, and the optional columns the design does not make added from one seeded
generator, so that every branch of every paper table runs: ``city_name`` (naming the four
municipalities), ``lnindco1``, ``robot_alt``, ``us_robot`` (a US series by year times a city exposure share, so that it
survives the year effects) and
``lowcarbon_pilot``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

N_CITIES = 80
DRAW_SEED = 2024
EXTRA_SEED = 99
# the options every paper-table test and the frozen reference use (small, for speed)
BOOTSTRAP = 19
SEED = 7  # the report Context's master seed


def small_panel() -> pd.DataFrame:
    from robocarbon.simulate.design import get_design

    draw = get_design("paper", n_cities=N_CITIES).draw(np.random.default_rng(DRAW_SEED))
    p = draw.panel
    p = p[[c for c in p.columns if not c.startswith("true_")]].copy()
    rng = np.random.default_rng(EXTRA_SEED)
    cities = sorted(p["city"].unique())
    names = {c: (("beijing", "tianjin", "shanghai", "chongqing")[i] if i < 4 else f"city{c}")
             for i, c in enumerate(cities)}
    p["city_name"] = p["city"].map(names)
    p["lnindco1"] = p["lnindco"] + rng.normal(0.0, 0.05, len(p))
    p["robot_alt"] = 0.8 * p["robot"] + rng.normal(0.0, 0.3, len(p))
    years = sorted(p["year"].unique())
    us = dict(zip(years, np.cumsum(rng.uniform(0.2, 0.6, len(years)))))
    share = dict(zip(cities, rng.uniform(0.5, 1.5, len(cities))))
    p["us_robot"] = p["year"].map(us) * p["city"].map(share) + 0.0
    pilot = {c: (2010 + int(rng.integers(0, 4)) if rng.random() < 0.3 else 0) for c in cities}
    p["lowcarbon_pilot"] = [float(pilot[c] and y >= pilot[c]) for c, y in zip(p["city"], p["year"])]
    return p.reset_index(drop=True)


def panel_sha256(p: pd.DataFrame) -> str:
    """SHA-256 of the panel's CSV text (column order, 17 significant digits)."""
    return hashlib.sha256(p.to_csv(index=False, float_format="%.17g").encode()).hexdigest()
