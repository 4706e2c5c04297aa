"""Callaway-Sant'Anna on mpdta and Goodman-Bacon on math_reform against published numbers.

The published values and their tolerances live in tests/reference/did/*.json (with the SHA-256 of
the input data); the data are read from the shared mirror through the ``shared_data`` fixture.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, require_file

from robocarbon.empirics.bacon import bacon_decomposition
from robocarbon.empirics.did import twfe_did
from robocarbon.empirics.did_cs import callaway_santanna
from robocarbon.empirics.provenance import file_sha256

REF = REFERENCE / "did"


def _ref(name):
    return json.loads((REF / name).read_text())


@pytest.fixture(scope="module")
def mpdta(shared_data):
    path = require_file(shared_data / "mpdta" / "mpdta.csv")
    ref = _ref("mpdta_published.json")
    assert file_sha256(path) == ref["input"]["sha256"], "mpdta.csv differs from the reference input"
    return pd.read_csv(path), ref


@pytest.fixture(scope="module")
def cs_mpdta(mpdta):
    data, _ = mpdta
    return callaway_santanna(data, y="lemp", entity="countyreal", time="year", adopt="first.treat",
                             seed=20240501, n_boot=5000)


def test_mpdta_att_gt_points(cs_mpdta, mpdta):
    _, ref = mpdta
    got = {(r["group"], r["time"]): r["att"] for r in cs_mpdta.diagnostics["att_gt"]}
    assert len(got) == len(ref["values"]["att_gt"])
    for row in ref["values"]["att_gt"]:
        assert got[(row["group"], row["time"])] == pytest.approx(row["att"], abs=1e-4 + 1e-12)


def test_mpdta_pretrend_p_value(cs_mpdta, mpdta):
    _, ref = mpdta
    pre = cs_mpdta.diagnostics["pretrend"]
    assert pre["df"] == 5
    assert pre["p_value"] == pytest.approx(ref["values"]["pretrend_p_value"], abs=1e-4)


def test_mpdta_dynamic_and_group_aggregates(cs_mpdta, mpdta):
    _, ref = mpdta
    aggs = cs_mpdta.diagnostics["aggregations"]
    dyn, grp = ref["values"]["dynamic"], ref["values"]["group"]
    assert aggs["dynamic"]["att"] == pytest.approx(dyn["att"], abs=1e-4)
    by = {r["event_time"]: r["att"] for r in aggs["dynamic"]["by"]}
    for row in dyn["by"]:
        assert by[row["event_time"]] == pytest.approx(row["att"], abs=1e-4 + 1e-12)
    assert aggs["group"]["att"] == pytest.approx(grp["att"], abs=1e-3)
    # bootstrap SEs (multiplier bootstrap, Mammen weights) within 10% of the published ones
    assert aggs["dynamic"]["se"] == pytest.approx(dyn["se"], rel=0.10)
    assert aggs["group"]["se"] == pytest.approx(grp["se"], rel=0.10)
    # and the analytic influence-function SEs too
    assert aggs["dynamic"]["se_analytic"] == pytest.approx(dyn["se"], rel=0.10)
    assert aggs["group"]["se_analytic"] == pytest.approx(grp["se"], rel=0.10)
    # the Result carries the same numbers as terms
    r = cs_mpdta
    assert r.coefficients["dynamic"] == pytest.approx(aggs["dynamic"]["att"])
    assert r.std_errors["group"] == pytest.approx(aggs["group"]["se"])


def test_mpdta_bootstrap_is_seeded_and_bands_are_uniform(mpdta):
    data, _ = mpdta
    kw = dict(y="lemp", entity="countyreal", time="year", adopt="first.treat", n_boot=300)
    a = callaway_santanna(data, seed=7, **kw)
    b = callaway_santanna(data, seed=7, **kw)
    c = callaway_santanna(data, seed=8, boot_weights="rademacher", **kw)
    assert np.array_equal(a.std_errors.to_numpy(), b.std_errors.to_numpy())
    assert not np.array_equal(a.std_errors.to_numpy(), c.std_errors.to_numpy())
    crit = a.diagnostics["crit_value_att_gt"]
    # a sup-t critical value over 12 cells exceeds the pointwise 1.96 but not Bonferroni's
    assert 1.96 < crit < 3.2
    row = a.diagnostics["att_gt"][0]
    assert row["upper"] - row["att"] == pytest.approx(crit * row["se"])


@pytest.fixture(scope="module")
def math_reform(shared_data):
    path = require_file(shared_data / "bacon" / "math_reform.csv")
    ref = _ref("math_reform_published.json")
    assert file_sha256(path) == ref["input"]["sha256"]
    return pd.read_csv(path), ref


def test_math_reform_bacon_published(math_reform):
    data, ref = math_reform
    res = bacon_decomposition(data, y="incearn_ln", entity="state", time="class", adopt="reformyr_math")
    rows = {(r["treated"], r["untreated"]): r for r in res.diagnostics["comparisons"]}
    for row in ref["values"]["comparisons"]:
        got = rows[(row["treated"], row["untreated"])]
        assert got["estimate"] == pytest.approx(row["estimate"], abs=1e-6)
        assert got["weight"] == pytest.approx(row["weight"], abs=1e-6)
    summ = {s["type"]: s for s in res.diagnostics["summary"]}
    for row in ref["values"]["summary"]:
        assert summ[row["type"]]["weight"] == pytest.approx(row["weight"], abs=5e-6)
        assert summ[row["type"]]["estimate"] == pytest.approx(row["estimate"], abs=5e-6)
    # the weighted sum of the 2x2 estimates is the TWFE coefficient
    twfe = twfe_did(data, y="incearn_ln", entity="state", time="class", adopt="reformyr_math")
    wsum = sum(r["weight"] * r["estimate"] for r in res.diagnostics["comparisons"])
    assert wsum == pytest.approx(float(twfe.params[0]), abs=1e-10)
    assert sum(r["weight"] for r in res.diagnostics["comparisons"]) == pytest.approx(1.0, abs=1e-12)


def test_math_reform_adoption_column_matches_treatment_dummy(math_reform):
    data, _ = math_reform
    a = data["reformyr_math"].to_numpy(dtype=float)
    built = np.where(np.isnan(a), 0.0, (data["class"].to_numpy() >= a).astype(float))
    assert np.array_equal(built, data["reform_math"].to_numpy(dtype=float))


def test_mpdta_twfe_and_event_study_against_frozen_r(mpdta):
    from robocarbon.empirics.did import event_study

    data, _ = mpdta
    ref = _ref("twfe_mpdta.json")
    n = ref["nobs"]
    kw = dict(y="lemp", entity="countyreal", time="year", adopt="first.treat")
    tw = twfe_did(data, **kw)
    es = event_study(data, **kw)  # ref -1, every observed event time, nothing to bin
    T = 5

    def to_r(se, k_ours, k_r):  # same CR1 meat, different K in (n-1)/(n-K)
        return se * np.sqrt((n - k_ours) / (n - k_r))

    assert tw.params[0] == pytest.approx(ref["twfe"]["D"]["estimate"], abs=1e-9)
    assert to_r(tw.std_errors["D"], 1 + T, ref["n_coef_lm_twfe"]) == pytest.approx(
        ref["twfe"]["D"]["se"], rel=1e-7)
    k_es = len(es.terms) + T
    for e, row in ref["event"].items():
        term = f"e{int(e):+d}"
        assert es.coefficients[term] == pytest.approx(row["estimate"], abs=1e-9)
        assert to_r(es.std_errors[term], k_es, ref["n_coef_lm_event"]) == pytest.approx(row["se"], rel=1e-7)
