"""The verdict rules of robocarbon.empirics.paper.verdicts at their boundaries."""

from __future__ import annotations

import math

import pytest

from robocarbon.empirics.paper import verdicts as V


def _limit(sims: int) -> float:
    return 0.95 - 2 * math.sqrt(0.95 * 0.05 / sims)


@pytest.mark.parametrize("sims", [4, 50, 200, 1000])
def test_coverage_undercovers_strictly_below_two_binomial_se(sims):
    lim = V.coverage_verdict(0.5, sims).limit
    assert lim == pytest.approx(_limit(sims), abs=1e-15)
    at = V.coverage_verdict(lim, sims)
    assert at.status == "ok"
    assert at.binomial_se == pytest.approx(math.sqrt(0.95 * 0.05 / sims), rel=1e-14)
    below = V.coverage_verdict(math.nextafter(lim, 0.0), sims)
    assert below.status == "undercovers"
    assert V.coverage_verdict(math.nextafter(lim, 1.0), sims).status == "ok"


def test_coverage_at_200_replications():
    # 0.95 - 2 sqrt(0.0475/200) = 0.919178...: 0.92 is fine, 0.915 undercovers
    assert V.coverage_verdict(0.92, 200).status == "ok"
    assert V.coverage_verdict(0.915, 200).status == "undercovers"


def test_coverage_undefined_and_zero_sims():
    for c in (None, float("nan"), float("inf")):
        assert V.coverage_verdict(c, 100).status == "undefined"
    v = V.coverage_verdict(0.0, 0)  # no replication: the SE of one, not a division by zero
    assert v.status == "undercovers" and v.binomial_se == pytest.approx(math.sqrt(0.0475))


def test_coverage_other_nominal_and_width():
    v = V.coverage_verdict(0.85, 100, nominal=0.9, k=1.0)
    assert v.limit == pytest.approx(0.9 - math.sqrt(0.09 / 100)) and v.status == "undercovers"


def test_stars_at_the_paper_cutoffs():
    assert [V.stars(p) for p in (0.0099, 0.01, 0.0499, 0.05, 0.0999, 0.10, 0.5)] == \
        ["***", "**", "**", "*", "*", "", ""]
    assert V.stars(None) == "" and V.stars(float("nan")) == "" and V.stars_count(0.001) == 3


def test_lag_growth_is_weak_monotone_in_magnitude():
    assert V.lag_growth([-0.013, -0.013, -0.020, -0.021, -0.023]).status == "grows"  # the paper's
    assert V.lag_growth([-0.02, 0.021]).grows  # magnitudes, not signed values
    assert not V.lag_growth([-0.02, -0.019]).grows
    assert V.lag_growth([]).grows and V.lag_growth([1.0]).grows
    assert V.lag_growth([-1.0, 2.0]).magnitudes == (1.0, 2.0)


def test_significance_boundary_and_zero_se():
    assert V.significance(1.96, 1.0).status == "not significant"  # strict inequality
    assert V.significance(math.nextafter(1.96, 2.0), 1.0).significant
    assert V.significance(-2.0, 1.0).z == -2.0 and V.significance(-2.0, 1.0).significant
    assert V.significance(1.0, 0.0).status == "not significant" and V.significance(1.0, None).z is None


def test_equality_test_boundary():
    assert V.equality_test(0.05).status == "not rejected"
    assert V.equality_test(math.nextafter(0.05, 0.0)).rejected
    assert not V.equality_test(None).rejected and not V.equality_test(float("nan")).rejected


def test_heterogeneity_verdict_counts():
    rows = [
        # significant in group 0 only, equality not rejected: the paper's kind of claim
        {"estimate 0": -3.0, "SE 0": 1.0, "estimate 1": -1.0, "SE 1": 1.0, "SUEST p": 0.2},
        # significant in group 1 only, equality rejected
        {"estimate 0": 0.0, "SE 0": 1.0, "estimate 1": -5.0, "SE 1": 1.0, "SUEST p": 0.001},
        # both significant
        {"estimate 0": -3.0, "SE 0": 1.0, "estimate 1": -3.0, "SE 1": 1.0, "SUEST p": 0.9},
    ]
    v = V.heterogeneity_verdict(rows)
    assert (v.n_splits, v.n_one_sided, v.n_rejected) == (3, 2, 1)
    assert v.status == "one-sided significance without a difference"
    assert V.heterogeneity_verdict(rows[1:]).status == "consistent"


def test_instrument_strength_boundary():
    assert V.instrument_strength(16.38, 16.38).status == "weak"  # strictly above the critical value
    assert V.instrument_strength(math.nextafter(16.38, 20.0), 16.38).strong
    assert V.instrument_strength(100.0, None).status == "unknown"


def test_threshold_verdict_boundary():
    assert V.threshold_verdict(10.0, 0.05).status == "not significant"
    assert V.threshold_verdict(10.0, 0.0499).significant
    assert V.threshold_verdict(None, None).status == "not significant"


def test_negative_share():
    assert V.negative_share([-1.0, -0.5, 0.0, 1.0]).share == 0.5  # zero is not below zero
    assert V.negative_share([-1.0]).status == "everywhere"
    assert V.negative_share([0.0]).status == "nowhere" and V.negative_share([]).points == 0
    assert V.negative_share([-1.0, 1.0]).status == "somewhere"


def test_agreement():
    rows = [{"published": -0.013, "ours": -0.02, "kind": "coef"},
            {"published": 0.005, "ours": 0.004},
            {"published": 3, "ours": 2.0, "kind": "stars"},
            {"published": 0.015, "ours": 0.01, "kind": "coef"},
            {"published": 4.4, "ours": None}]
    a = V.agreement(rows)
    assert (a.quantities, a.compared) == (5, 4)
    assert a.mean_abs_difference == pytest.approx((0.007 + 0.001 + 1.0 + 0.005) / 4)
    assert a.coefficients_same_sign == 1.0 and a.stars_agree == 0.0
    rows[3]["ours"] = -0.01
    assert V.agreement(rows).coefficients_same_sign == 0.5
    assert V.agreement([{"published": 1.0, "ours": float("nan")}]).status == "nothing compared"
