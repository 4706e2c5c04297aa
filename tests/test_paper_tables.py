"""Each paper-table function of robocarbon.empirics.paper gives the numbers the report gave
before the specifications moved out of it (frozen in tests/reference/paper/small_panel.json by
the report of commit 978d1d1), and the report still gives them through those functions."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import paper_helper as H
from robocarbon.empirics import paper
from robocarbon.empirics.result import Result

REF = Path(__file__).resolve().parent / "reference" / "paper" / "small_panel.json"
RTOL = ATOL = 1e-12


@lru_cache(maxsize=1)
def _ref() -> dict:
    return json.loads(REF.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _panel() -> pd.DataFrame:
    return H.small_panel()


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None or (a is None and not math.isfinite(b)) or (b is None and not math.isfinite(a))
    if not (math.isfinite(a) and math.isfinite(b)):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)


def _assert_result(res: Result, frozen: dict, name: str) -> None:
    t = res.tidy().set_index("term")
    assert list(t.index) == list(frozen["terms"]), name
    bad = []
    for term, vals in frozen["terms"].items():
        for k, v in vals.items():
            if not _close(float(t.loc[term, k]), v):
                bad.append((term, k, float(t.loc[term, k]), v))
    assert res.nobs == frozen["nobs"], name
    for k in ("r2_with_fe", "r2_within"):
        if k in frozen:
            assert _close(getattr(res, k), frozen[k]), (name, k)
    assert not bad, f"{name}: {bad[:5]}"


def _assert_values(ours, frozen, path="") -> None:
    """Recursive equality of computed values: numbers to 1e-12, everything else exactly."""
    if isinstance(frozen, dict):
        assert isinstance(ours, dict) and set(ours) == set(frozen), (path, sorted(set(ours) ^ set(frozen)))
        for k in frozen:
            _assert_values(ours[k], frozen[k], f"{path}/{k}")
    elif isinstance(frozen, list):
        assert isinstance(ours, list | tuple) and len(ours) == len(frozen), path
        for i, (a, b) in enumerate(zip(ours, frozen)):
            _assert_values(a, b, f"{path}/{i}")
    elif isinstance(frozen, float) or (isinstance(ours, float) and frozen is None):
        assert _close(None if ours is None else float(ours), frozen), (path, ours, frozen)
    else:
        assert ours == frozen, (path, ours, frozen)


def test_the_panel_is_the_one_frozen():
    assert H.panel_sha256(_panel()) == _ref()["input"]["sha256"]


def test_table1_gives_the_frozen_statistics():
    t = paper.table1(_panel())
    frozen = _ref()["values"]["table1"]["table1"]
    _assert_values({r["variable"]: r for r in t.data["rows"]}, frozen)
    assert t.data["missing"] == [] and t.published == paper.load_published()["table1"]
    # the long table holds the same numbers
    wide = t.tidy.pivot(index="variable", columns="statistic", values="value")
    assert wide.loc["robot", "mean"] == frozen["robot"]["mean"]
    beside = [{"quantity": f"{r['item']} {r['stat']}", "published": r["published"], "ours": r["ours"]}
              for r in paper.table1_beside(t)]
    _assert_values(beside, _ref()["values"]["table1"]["beside"])


def test_table2_gives_the_frozen_columns():
    t = paper.table2(_panel())
    ref = _ref()["results"]
    assert t.labels == ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)"]
    for m in t.models:
        _assert_result(m.result, ref[f"table2/models/{m.label}"], m.label)
    assert [m.info["lag"] for m in t.models] == [0, 0, 1, 2, 3, 4, 5]
    assert [m.term for m in t.models][2:] == [f"l(robot,{k})" for k in range(1, 6)]
    _assert_values(paper.table2_beside(t), _ref()["values"]["table2"]["beside"])
    # tidy: one row per model and term, the numbers of each Result
    assert set(t.tidy["model"]) == set(t.labels)
    row = t.tidy[(t.tidy["model"] == "(2)") & (t.tidy["term"] == "robot")].iloc[0]
    assert row["estimate"] == t["(2)"].result.coefficients["robot"]
    assert t.published == paper.load_published()["table2"]


def test_iv_gives_the_frozen_columns_and_diagnostics():
    t = paper.iv(_panel())
    ref = _ref()["results"]
    assert t.labels == ["(a)", "(b)", "(c)", "(d)"] and t.notdone == ()
    for m in t.models:
        _assert_result(m.result, ref[f"iv/models/{m.info['name']}"], m.label)
    _assert_result(t.data["ols"], ref["iv/ols"], "ols")
    frozen = _ref()["values"]["iv"]["models"]
    for m in t.models:
        dg = paper.iv_diagnostics(m)
        for k in ("kp_rk_lm", "kp_rk_lm_pvalue", "cragg_donald_f", "kp_rk_wald_f"):
            assert _close(dg[k], frozen[m.label][k]), (m.label, k)
        strong = paper.verdicts.instrument_strength(dg["kp_rk_wald_f"], dg["stock_yogo_size_10"]).strong
        assert strong == frozen[m.label]["strong"]


def test_iv_states_the_instruments_it_cannot_build():
    t = paper.iv(_panel().drop(columns=["province", "us_robot"]))
    assert t.labels == ["(b)", "(d)"]
    assert [n[:3] for n in t.notdone] == ["(a)", "(c)"]


def test_table3_gives_the_frozen_mechanisms_and_thresholds():
    ref = _ref()
    t = paper.table3(_panel(), bootstrap=H.BOOTSTRAP, seed=_report_seed("threshold_bootstrap"))
    for m in t.mechanisms.models:
        _assert_result(m.result, ref["results"][f"table3/mech/models/{m.info['name']}"], m.label)
    for m in t.thresholds.models:
        _assert_result(m.result, ref["results"][f"table3/thr/models/{m.label}"], m.label)
        v = ref["values"]["table3"][f"thr_{m.info['key']}"]
        test = m.result.diagnostics["tests"][0]
        assert _close(test["F"], v["F"]) and _close(test["p_value"], v["p_value"])
        assert _close(m.result.diagnostics["thresholds"][0], v["gamma"])
    assert t.reasons == ()
    beside = paper.mechanisms_beside(t.mechanisms) + paper.thresholds_beside(t.thresholds)
    _assert_values(beside, ref["values"]["table3"]["beside"])
    assert len(t.results) == 5 and set(t.tidy["model"]) == {m.label for m in t.models}


def test_table3_parts_run_alone_and_say_why_not():
    p = _panel().drop(columns=["gpatent", "hmatch"])
    t = paper.table3(p, bootstrap=H.BOOTSTRAP, seed=1)
    assert t.mechanisms is None and "no column gpatent" in t.reasons[0]
    with pytest.raises(paper.Unavailable, match="no column hmatch"):
        paper.mechanisms(p)
    with pytest.raises(paper.Unavailable, match="mechanisms: .*thresholds: "):
        paper.table3(p.drop(columns=["internet", "hum", "scitech"]))


def _report_seed(stream: str) -> int:
    """The integer seed the report's Context draws from ``stream`` (master seed H.SEED)."""
    from robocarbon.reports.report import Context

    return Context(panel=pd.DataFrame(), source="user", seed=H.SEED, sims=1).seed_from(stream)


def test_did_gives_the_frozen_estimates():
    t = paper.did(_panel(), bootstrap=H.BOOTSTRAP, seed=_report_seed("did_bootstrap"))
    ref = _ref()["results"]
    assert t.labels == ["twfe", "twfe_controls", "event", "bacon", "cs", "sa"]
    for m in t.models:
        _assert_result(m.result, ref[f"did/{m.label}"], m.label)
    v = _ref()["values"]["did"]
    assert _close(t["twfe"].coef()["estimate"], v["twfe"]["estimate"])
    assert _close(t["cs"].coef()["estimate"], v["cs_simple"]["estimate"])
    assert _close(t["sa"].coef()["estimate"], v["sa"]["estimate"])


def test_did_without_adoption_is_unavailable():
    with pytest.raises(paper.Unavailable, match="no column adopt_year"):
        paper.did(_panel().drop(columns=["adopt_year"]))


def test_robustness_gives_the_frozen_checks():
    t = paper.robustness(_panel())
    ref = _ref()["results"]
    assert len(t.models) == 6 and t.notdone == ()
    for m in t.models:
        _assert_result(m.result, ref[f"robustness/checks/{m.label}"], m.label)
    # the municipalities really are dropped: four cities fewer
    full, without = t[paper.specs.ROBUSTNESS_BASELINE].result, t["without the four municipalities"].result
    assert full.nobs - without.nobs == 4 * _panel()["year"].nunique()


def test_robustness_lists_what_it_cannot_run():
    p = _panel().drop(columns=["lnco", "lnindco1", "robot_alt", "city_name", "D", "lowcarbon_pilot"])
    t = paper.robustness(p)
    assert t.labels == [paper.specs.ROBUSTNESS_BASELINE] and len(t.notdone) == 5


def test_heterogeneity_gives_the_frozen_tests():
    from robocarbon.reports.report import Context

    rng = Context(panel=pd.DataFrame(), source="user", seed=H.SEED, sims=1).stream("permutation")
    t = paper.heterogeneity(_panel(), permutations=min(H.BOOTSTRAP, 99), seed=rng)
    _assert_values(t.data["rows"], _ref()["values"]["heterogeneity"]["rows"])
    assert list(t.tidy["grouping"]) == [r["grouping"] for r in t.data["rows"]]


def test_heterogeneity_seed_is_one_argument_int_or_generator():
    p = _panel()
    a = paper.heterogeneity(p, permutations=9, seed=5).data["rows"]
    b = paper.heterogeneity(p, permutations=9, seed=np.random.default_rng(5)).data["rows"]
    assert [r["permutation p"] for r in a] == [r["permutation p"] for r in b]


def test_the_report_renders_the_same_numbers():
    """The report, now computing through the paper functions, writes the frozen values."""
    import sys

    sys.path.insert(0, str(REF.parent))
    import make_reference as M

    now = M.build()
    for sid, frozen in _ref()["values"].items():
        _assert_values(now["values"][sid], frozen, sid)
    for name, frozen in _ref()["results"].items():
        assert name in now["results"], name
        for term, vals in frozen["terms"].items():
            for k, v in vals.items():
                assert _close(now["results"][name]["terms"][term][k], v), (name, term, k)
