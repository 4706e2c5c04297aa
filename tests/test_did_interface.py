"""DID input validation, TWFE parity with linearmodels, the CLI contract and the figures."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics.bacon import bacon_decomposition
from robocarbon.empirics.did import event_study, twfe_did
from robocarbon.empirics.did_cs import callaway_santanna, multiplier_bootstrap
from robocarbon.empirics.errors import InputError
from robocarbon.reports.cli import main

KW = dict(y="y", entity="id", time="t", adopt="g")


def panel(seed=0, n_per=8, cohorts=(3, 5, 0), T=7, effect=1.0):
    rng = np.random.default_rng(seed)
    rows, i = [], 0
    for g in cohorts:
        for _ in range(n_per):
            a = rng.normal()
            for t in range(1, T + 1):
                d = g and t >= g
                rows.append((i, t, g, a + 0.2 * t + effect * d * (1 + 0.3 * (t - g)) + rng.normal(),
                             rng.normal()))
            i += 1
    return pd.DataFrame(rows, columns=["id", "t", "g", "y", "x"])


@pytest.mark.parametrize("unbalanced", [False, True])
def test_twfe_matches_linearmodels_paneols(unbalanced):
    from linearmodels import PanelOLS

    df = panel(seed=3)
    if unbalanced:  # alternating projections instead of the exact two-way transform
        df = df.sample(frac=0.85, random_state=1).sort_index()
    res = twfe_did(df, controls=["x"], **KW)
    df["D"] = ((df.g > 0) & (df.t >= df.g)).astype(float)
    p = df.set_index(["id", "t"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = PanelOLS(p.y, p[["D", "x"]], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True, debiased=False, group_debias=False)
    assert np.allclose(res.params, lm.params.to_numpy(), atol=1e-10)
    # ours: CR1 with G/(G-1) (n-1)/(n-K), K = 2 + (T-1) + 1 (entity effects nested in the
    # clusters count one, as in fixest/reghdfe);
    # linearmodels (no debiasing): n/(n - absorbed) with absorbed = N + T - 1
    n, N, T, G = len(df), df.id.nunique(), df.t.nunique(), df.id.nunique()
    K = 2 + T
    ours_raw = np.diag(res.cov) / (G / (G - 1) * (n - 1) / (n - K))
    lm_raw = np.diag(lm.cov.to_numpy()) / (n / (n - (N + T - 1)))
    assert np.allclose(ours_raw, lm_raw, rtol=1e-7)
    assert res.df_resid == G - 1


def test_input_errors_name_column_and_rows():
    df = panel()
    with pytest.raises(InputError, match="column 'nope'"):
        twfe_did(df, y="nope", entity="id", time="t", adopt="g")
    bad = df.copy()
    bad.loc[3, "g"] = 4  # adoption varies within entity 0
    with pytest.raises(InputError) as ei:
        twfe_did(bad, **KW)
    assert ei.value.column == "g" and 5 in ei.value.rows  # index 3 = spreadsheet row 5
    dup = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    with pytest.raises(InputError, match="duplicate") as ei:
        twfe_did(dup, **KW)
    assert ei.value.rows == [len(dup) + 1]  # the last row; the header is row 1
    txt = df.astype({"y": object})
    txt.loc[2, "y"] = "n/a"
    with pytest.raises(InputError, match="non-numeric") as ei:
        twfe_did(txt, **KW)
    assert ei.value.rows == [4]


def test_missing_outcomes_are_dropped_and_counted():
    df = panel()
    df.loc[[1, 10], "y"] = np.nan
    res = twfe_did(df, **KW)
    assert res.nobs == len(df) - 2 and res.nobs_dropped == 2
    assert sum(res.diagnostics["dropped"].values()) == 2
    # Callaway-Sant'Anna balances the panel as did does: the two entities are dropped, counted
    cs = callaway_santanna(df, bootstrap=False, **KW)
    assert cs.nobs == len(df) - 2 * 7 and cs.nobs_dropped == 2 * 7


def test_never_treated_codings_are_equivalent():
    df = panel()
    a = twfe_did(df, **KW)
    df2 = df.assign(g=df.g.replace(0, np.nan))
    df3 = df.assign(g=df.g.replace(0, np.inf))
    for d in (df2, df3):
        assert np.allclose(twfe_did(d, **KW).params, a.params, atol=1e-12)


def test_bacon_refuses_controls_and_unbalanced_panels():
    df = panel()
    with pytest.raises(InputError, match="without controls"):
        bacon_decomposition(df, controls=["x"], **KW)
    with pytest.raises(InputError, match="balanced"):
        bacon_decomposition(df.drop(index=[4]), **KW)


def test_cs_rejects_bad_options_and_missing_never_treated():
    df = panel(cohorts=(3, 5))
    with pytest.raises(InputError, match="notyet"):
        callaway_santanna(df, **KW)
    with pytest.raises(InputError):
        callaway_santanna(panel(), control_group="sometimes", **KW)


def test_event_study_without_never_treated_omits_a_second_lead():
    df = panel(cohorts=(3, 5))
    es = event_study(df, **KW)
    assert len(es.diagnostics["omitted"]) >= 2 and es.diagnostics["omitted"][0] == -1
    assert np.all(np.isfinite(es.std_errors))


def test_multiplier_bootstrap_se_matches_analytic_for_a_mean():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    psi = (x - x.mean())[:, None]
    out = multiplier_bootstrap(psi, n_boot=2000, seed=1)
    analytic = np.sqrt(np.mean(psi[:, 0] ** 2) / len(x))
    assert out["se"][0] == pytest.approx(analytic, rel=0.06)
    # a single parameter: the sup-t critical value is the pointwise one
    assert out["crit"] == pytest.approx(1.96, abs=0.12)


def _write(tmp_path, df):
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    return path


def test_cli_json_contract_and_plots(tmp_path):
    path = _write(tmp_path, panel(n_per=6))
    out = tmp_path / "out" / "did.json"
    png = tmp_path / "out" / "did.png"
    rc = main(["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
               "--controls", "x", "--method", "all", "--seed", "3", "--n-boot", "99",
               "--json", str(out), "--plot", str(png)])
    assert rc == 0
    d = json.loads(out.read_text())
    for key in ("twfe", "twfe_no_controls", "event", "bacon", "cs", "sa"):
        assert key in d
    assert {"term", "estimate", "se"} <= set(d["twfe"]["estimates"][0])
    row = d["cs"]["att_gt"][0]
    assert {"group", "time", "att", "se"} <= set(row)
    assert set(d["cs"]["aggregations"]) == {"simple", "dynamic", "group", "calendar"}
    comp = d["bacon"]["comparisons"][0]
    assert set(comp) == {"treated", "untreated", "estimate", "weight", "type"}
    assert {s["type"] for s in d["bacon"]["summary"]} <= {
        "Earlier vs Later Treated", "Later vs Earlier Treated", "Treated vs Untreated", "Later vs Always Treated"}
    assert d["event"]["pretrend"]["df"] >= 1
    assert png.stat().st_size > 1000
    # the run's manifest is named after its primary output, never a shared manifest.json
    assert (tmp_path / "out" / "did.manifest.json").exists()
    assert not (tmp_path / "out" / "manifest.json").exists()
    svg = tmp_path / "b.svg"
    assert main(["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
                 "--method", "bacon", "--plot", str(svg)]) == 0
    assert svg.read_text().lstrip().startswith("<?xml")
    both = tmp_path / "figs" / "event"
    assert main(["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
                 "--method", "event", "--plot", str(both)]) == 0
    assert both.with_suffix(".png").stat().st_size > 1000 and both.with_suffix(".svg").exists()


def test_cli_bad_input_exit_2_and_no_output(tmp_path, capsys):
    path = _write(tmp_path, panel(n_per=4))
    out = tmp_path / "x" / "did.json"
    rc = main(["did", "--data", str(path), "--y", "nope", "--entity", "id", "--time", "t", "--adopt", "g",
               "--json", str(out)])
    assert rc == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()
    rc = main(["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
               "--method", "bacon", "--controls", "x", "--json", str(out)])
    assert rc == 2 and not out.exists()


def test_cs_cluster_option():
    df = panel(n_per=10, seed=4)
    df["state"] = df["id"] // 3
    a = callaway_santanna(df, bootstrap=False, **KW)
    b = callaway_santanna(df, bootstrap=False, cluster="id", **KW)
    c = callaway_santanna(df, bootstrap=False, cluster="state", **KW)
    assert np.allclose(a.std_errors, b.std_errors, rtol=1e-12)
    assert np.allclose(a.params, c.params) and not np.allclose(a.std_errors, c.std_errors)
    assert c.diagnostics["n_clusters"] == df["state"].nunique()
    # the clustered covariance is the sum over clusters of the summed influence functions
    boot = callaway_santanna(df, cluster="state", n_boot=999, seed=2, **KW)
    assert np.allclose(boot.std_errors, c.std_errors, rtol=0.25)
    df.loc[df.index[0], "state"] = 99  # varies within entity 0
    with pytest.raises(InputError, match="vary over time"):
        callaway_santanna(df, cluster="state", **KW)


def test_cli_all_skips_inapplicable_methods(tmp_path, capsys):
    df = panel(n_per=5).drop(index=[3])  # unbalanced: Goodman-Bacon does not apply
    path = _write(tmp_path, df)
    out = tmp_path / "all.json"
    rc = main(["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
               "--n-boot", "60", "--seed", "1", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert "balanced" in d["bacon"]["skipped"]
    assert d["cs"]["att_gt"] and d["twfe"]["estimates"]
    assert "warning: bacon skipped" in capsys.readouterr().err
    # asked for alone, the same problem is an error
    assert main(["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
                 "--method", "bacon", "--json", str(tmp_path / "b.json")]) == 2
    assert not (tmp_path / "b.json").exists()


def test_cs_dr_skips_cells_without_overlap():
    df = panel(n_per=12, seed=2)
    # a covariate that separates cohort 3 from the never treated perfectly
    df["z"] = np.where(df.g == 3, 5.0, -5.0) + 0.01 * np.arange(len(df)) % 1
    res = callaway_santanna(df, controls=["z"], est_method="dr", bootstrap=False, **KW)
    skipped = res.diagnostics["skipped_cells"]
    assert skipped and all(s["group"] == 3 for s in skipped)
    assert "overlap" in skipped[0]["reason"]
    assert all(r["group"] != 3 for r in res.diagnostics["att_gt"])
