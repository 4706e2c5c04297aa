"""The ``paper`` design against the paper's published Table 1 and Table 2, and recovery of the
inquiry by TWFE when no threat is on.

Targets: the paper's published numbers (PAPER.md / published.json); tolerances are those stated
in ``robocarbon.simulate.calibrate`` (mean within 0.1 target SD, SD within 15 %, extremes of the
smooth variables within 1.5 target SD; TWFE coefficient within 0.003 of -0.013 and clustered SE
within 0.0015 of 0.004).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robocarbon.empirics.fe import twfe_fast
from robocarbon.simulate import calibrate
from robocarbon.simulate.design import get_design

PUBLISHED = Path(__file__).resolve().parents[2] / "shared" / "paper" / "published.json"


def test_frozen_targets_equal_published_json():
    if not PUBLISHED.exists():
        pytest.skip(f"{PUBLISHED} absent")
    pub = json.loads(PUBLISHED.read_text())
    for var, stats in calibrate.TABLE1.items():
        for k, v in stats.items():
            assert pub["table1"][var][k] == pytest.approx(v, rel=1e-12), (var, k)
    col2 = next(r for r in pub["table2"] if r["lag"] == 0 and r["controls"])
    assert col2["coef"] == calibrate.TABLE2_COL2["coef"] and col2["se"] == calibrate.TABLE2_COL2["se"]
    assert col2["r2"] == calibrate.TABLE2_COL2["r2"] and col2["nobs"] == 3406
    assert pub["sample"]["cities"] == 262 and pub["sample"]["years"] == [2007, 2019]


@pytest.fixture(scope="module")
def table():
    return calibrate.calibration_table(draws=3)


def test_table1_means_and_sds_within_tolerance(table):
    ms = table[table["stat"].isin(["mean", "sd"])]
    bad = ms[~ms["ok"]]
    assert bad.empty, bad.to_string()
    assert set(ms["variable"]) == set(calibrate.TABLE1)


def test_table1_extremes_of_smooth_variables(table):
    """Extremes within 1.5 target SD of the simulated average extreme or of the range of the
    draws' extremes, except the paper's single-city outliers (lnpgdp min 4.36, lnpop min 1.57, fin max 7.45, edu
    max 0.207), which the report lists as not matched."""
    outliers = {("lnpgdp", "min"), ("lnpop", "min"), ("fin", "max"), ("edu", "max")}
    ext = table[table["stat"].isin(["min", "max"])]
    keep = [(v, s) not in outliers for v, s in zip(ext["variable"], ext["stat"])]
    bad = ext[keep][~ext[keep]["ok"]]
    assert bad.empty, bad.to_string()


def test_table2_precision_of_twfe():
    """The paper's column 2: coefficient -0.013 with clustered SE 0.004 (262 clusters); the
    R2 with fixed effects 0.878."""
    prec = calibrate.precision(draws=12, seed=11)
    assert abs(prec.coef_mean - calibrate.TABLE2_COL2["coef"]) <= calibrate.TOLERANCES["coef"][1]
    assert abs(prec.se_mean - calibrate.TABLE2_COL2["se"]) <= calibrate.TOLERANCES["se"][1]
    assert abs(prec.r2_fe - calibrate.TABLE2_COL2["r2"]) < 0.03


def test_twfe_recovers_the_inquiry_on_a_large_draw():
    """No threat on: TWFE with controls on 2,620 cities (ten times the paper) recovers the
    truth 'robot' = elasticity_indco_M x kappa; with 2 draws the MC SE is about 0.001."""
    d = get_design("paper", n_cities=2620)
    est, truth = [], []
    for s in (1, 2):
        dr = d.draw(np.random.default_rng(s))
        a = dr.arrays
        beta, se = twfe_fast(a["y"], a["X"], a["entity"], a["time"])
        est.append(beta[0])
        truth.append(dr.truth["robot"])
        assert se[0] < 0.002
    assert abs(np.mean(est) - np.mean(truth)) < 0.003
    # without the measurement noise (the latent outcome) the error is smaller still
    dr = d.draw(np.random.default_rng(3))
    a = dr.arrays
    beta, _ = twfe_fast(dr.panel["true_lnindco"].to_numpy(), a["X"], a["entity"], a["time"])
    assert abs(beta[0] - dr.truth["robot"]) < 0.003


def test_format_table_reports_every_target(table):
    prec = calibrate.Precision(-0.013, 0.004, 0.004, 0.88, -0.013, 1)
    text = calibrate.format_table(table, prec)
    for var in calibrate.TABLE1:
        assert f"| {var} | mean |" in text
    assert "clustered SE" in text


def test_default_shares_are_the_most_representative_of_40():
    """The design conditions on one set of base-year shares; the default ``shares_seed`` is the
    realisation (of seeds 0..39) whose robot mean and SD are closest to Table 1."""
    rank = calibrate.shares_seed_ranking()
    assert int(rank.loc[0, "shares_seed"]) == get_design("paper").params["shares_seed"]
    best = rank.iloc[0]
    assert abs(best["robot_mean"] - 3.278) < 0.1 and abs(best["robot_sd"] / 4.004 - 1) < 0.05
    # the other realisations spread around the targets: the choice is of a typical draw
    assert rank["robot_mean"].min() < 3.278 < rank["robot_mean"].max()
