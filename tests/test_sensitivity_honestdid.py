"""Parallel-trends sensitivity: Rambachan-Roth (honestdid.py) and Roth's pre-test power
(pretrends.py), checked against the HonestDiD documentation's Medicaid (ehec) numbers, against
linear programs solved independently, and against Monte Carlo identities."""

from __future__ import annotations

import doctest
import json
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from conftest import REFERENCE, require_file
from robocarbon.empirics.did import event_study
from robocarbon.empirics.did_cs import callaway_santanna
from robocarbon.empirics.did_sa import sun_abraham
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.sensitivity import honestdid as H
from robocarbon.empirics.sensitivity import pretrends as P

REF = REFERENCE / "sensitivity"


# ----------------------------------------------------------------------------- helpers
def _half_unit(printed: str) -> float:
    """Half a unit in the last printed digit of a number written as ``printed``."""
    exp = Decimal(printed).as_tuple().exponent
    return 0.5 * 10.0 ** exp


def _assert_printed(value: float, printed: str, slack: float = 0.0, what: str = "") -> None:
    tol = _half_unit(printed) + slack
    assert abs(value - float(printed)) <= tol, f"{what}: {value!r} vs printed {printed} (tol {tol:g})"


def _ehec(shared_data, sample: str = "readme"):
    path = require_file(shared_data / "ehec" / "ehec_data.csv")
    df = pd.read_csv(path)
    if sample == "readme":
        d = df[(df.year <= 2015) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
        d["adopt"] = np.where(d.yexp2 == 2014, 2014, np.nan)
    else:  # Mixtape exercise 2: only never-treated and the 2014 cohort
        d = df[(df.year <= 2015) & (df.yexp2.isna() | (df.yexp2 < 2015))].copy()
        d["adopt"] = np.where(d.yexp2.notna(), 2014, np.nan)
    return event_study(d, y="dins", entity="stfips", time="year", adopt="adopt")


@pytest.fixture(scope="module")
def ehec(shared_data):
    return _ehec(shared_data)


@pytest.fixture(scope="module")
def readme_ref():
    return json.loads((REF / "ehec_honestdid_readme.json").read_text())


def _rows(res):
    return H.intervals_table(res).set_index("term")


def _step(res) -> float:
    sd = res.diagnostics["original"]["std_error"]
    return 40.0 * sd / 999.0


# ----------------------------------------------------------------------------- R's stream
def test_r_normal_stream_matches_r():
    # R: set.seed(0); rnorm(5) and set.seed(42); rnorm(2)
    np.testing.assert_allclose(H.r_normal_stream(5, 0),
                               [1.262954285, -0.326233361, 1.329799263, 1.272429321, 0.414641434],
                               atol=1e-9)
    np.testing.assert_allclose(H.r_normal_stream(2, 42), [1.37095845, -0.56469817], atol=1e-8)


def test_r_folded_quantile_equals_sorting():
    z = np.asarray(H.r_normal_stream(1_000_000, 0))
    for t in (0.0, 0.37, 2.5, 7.0):
        assert H._r_folded_quantile(0.95, t) == pytest.approx(float(np.quantile(np.abs(z + t), 0.95)),
                                                              abs=1e-13)


# ----------------------------------------------------------------------------- ehec, published
def test_ehec_event_study_inputs(ehec):
    e, beta, sigma, ref = H.event_coefficients(ehec)
    assert e.tolist() == [-6, -5, -4, -3, -2, 0, 1] and ref == -1
    assert beta[5] == pytest.approx(0.0464469, abs=5e-8)  # fixest: 0.046447 (README plot)


def test_ehec_rm_c_lf_readme_digits(ehec, readme_ref):
    v = readme_ref["values"]["rm_c_lf_readme_2022"]
    res = H.honest_did(ehec, bounds=v["Mbar"], convention="honestdid", breakdown=False)
    tab = _rows(res)
    for mb, lb, ub in zip(v["Mbar"], v["lb"], v["ub"]):
        row = tab.loc[f"Mbar={mb:g}"]
        _assert_printed(row.conf_low, lb, what=f"Mbar={mb} lb")
        _assert_printed(row.conf_high, ub, what=f"Mbar={mb} ub")
    stata = readme_ref["values"]["stata_rm_first"]
    _assert_printed(tab.loc["original"].conf_low, stata["original"][0])
    _assert_printed(tab.loc["original"].conf_high, stata["original"][1])
    for mb, lb, ub in zip(stata["Mbar"], stata["lb"], stata["ub"]):
        _assert_printed(tab.loc[f"Mbar={mb:g}"].conf_low, lb, what="stata")
        _assert_printed(tab.loc[f"Mbar={mb:g}"].conf_high, ub, what="stata")


@pytest.mark.parametrize("version,convention", [("rm_c_lf_readme_2022", "exact"),
                                                ("rm_c_lf_readme_2024", "honestdid")])
def test_ehec_rm_c_lf_within_a_grid_step(ehec, readme_ref, version, convention):
    v = readme_ref["values"][version]
    res = H.honest_did(ehec, bounds=v["Mbar"], convention=convention, breakdown=False)
    tab = _rows(res)
    step = _step(res)
    for mb, lb, ub in zip(v["Mbar"], v["lb"], v["ub"]):
        row = tab.loc[f"Mbar={mb:g}"]
        _assert_printed(row.conf_low, lb, slack=step, what=f"{version} Mbar={mb} lb")
        _assert_printed(row.conf_high, ub, slack=step, what=f"{version} Mbar={mb} ub")


def test_ehec_sd_flci_readme_digits(ehec, readme_ref):
    v = readme_ref["values"]["sd_flci_readme"]
    honest = _rows(H.honest_did(ehec, restriction="sd", bounds=v["M"], convention="honestdid",
                                breakdown=False))
    exact = _rows(H.honest_did(ehec, restriction="sd", bounds=v["M"], breakdown=False))
    for m, lb, ub in zip(v["M"], v["lb"], v["ub"]):
        term = f"M={m:g}"
        _assert_printed(honest.loc[term].conf_low, lb, slack=2e-6, what=f"{term} lb")
        _assert_printed(honest.loc[term].conf_high, ub, slack=2e-6, what=f"{term} ub")
        _assert_printed(exact.loc[term].conf_low, lb, slack=5e-5, what=f"exact {term} lb")
        _assert_printed(exact.loc[term].conf_high, ub, slack=5e-5, what=f"exact {term} ub")
    stata = readme_ref["values"]["stata_sd_first"]
    for m, lb, ub in zip(stata["M"], stata["lb"], stata["ub"]):
        _assert_printed(exact.loc[f"M={m:g}"].conf_low, lb, what="stata sd")
        _assert_printed(exact.loc[f"M={m:g}"].conf_high, ub, what="stata sd")


def test_ehec_rm_average_stata(ehec, readme_ref):
    v = readme_ref["values"]["stata_rm_average"]
    res = H.honest_did(ehec, target="average", bounds=v["Mbar"], convention="honestdid", breakdown=False)
    tab = _rows(res)
    _assert_printed(tab.loc["original"].conf_low, v["original"][0])
    _assert_printed(tab.loc["original"].conf_high, v["original"][1])
    step = _step(res)
    for mb, lb, ub in zip(v["Mbar"], v["lb"], v["ub"]):
        _assert_printed(tab.loc[f"Mbar={mb:g}"].conf_low, lb, slack=step)
        _assert_printed(tab.loc[f"Mbar={mb:g}"].conf_high, ub, slack=step)


def test_ehec_mixtape_exercise2_digits(shared_data):
    ref = json.loads((REF / "ehec_mixtape_exercise2.json").read_text())["values"]
    es = _ehec(shared_data, sample="exercise2")
    rm = _rows(H.honest_did(es, bounds=ref["rm_c_lf"]["Mbar"], convention="honestdid", breakdown=False))
    for mb, lb, ub in zip(ref["rm_c_lf"]["Mbar"], ref["rm_c_lf"]["lb"], ref["rm_c_lf"]["ub"]):
        _assert_printed(rm.loc[f"Mbar={mb:g}"].conf_low, lb, what=f"Mbar={mb}")
        _assert_printed(rm.loc[f"Mbar={mb:g}"].conf_high, ub, what=f"Mbar={mb}")
    sd = _rows(H.honest_did(es, restriction="sd", bounds=ref["sd_flci"]["M"], convention="honestdid",
                            breakdown=False))
    for m, lb, ub in zip(ref["sd_flci"]["M"], ref["sd_flci"]["lb"], ref["sd_flci"]["ub"]):
        _assert_printed(sd.loc[f"M={m:g}"].conf_low, lb, slack=2e-6, what=f"M={m}")
        _assert_printed(sd.loc[f"M={m:g}"].conf_high, ub, slack=2e-6, what=f"M={m}")


def test_ehec_breakdown_values(ehec):
    rm = H.honest_did(ehec, bounds=[1.9, 2.0])
    bd = rm.diagnostics["breakdown"]["value"]
    # README: "the breakdown value ... is Mbar = 2"; the interval at Mbar = 2 includes 0
    assert 1.5 < bd <= 2.0
    tab = _rows(rm)
    assert tab.loc["Mbar=2"].conf_low < 0 < tab.loc["Mbar=1.9"].conf_low + _step(rm)
    sd = H.honest_did(ehec, restriction="sd", bounds=[0.02, 0.03])
    # README: "M ~ 0.03"; the FLCI includes 0 from M ~ 0.023 on (0.02 excludes, 0.03 includes)
    assert 0.02 < sd.diagnostics["breakdown"]["value"] < 0.03
    r = H.flci(*H.event_coefficients(ehec)[1:3], 5, m=sd.diagnostics["breakdown"]["value"])
    assert r["conf_low"] == pytest.approx(0.0, abs=1e-5)


# ----------------------------------------------------------------------------- FLCI structure
def _sd_worst_bias_lp(w, n_pre, m):
    """max over Delta^SD(M) of w'delta by linprog, delta = (pre, post), delta_0 = 0."""
    T = len(w)
    A, d = H.sd_polyhedron(n_pre, T - n_pre, m, post_only=False)
    res = optimize.linprog(-np.asarray(w), A_ub=A, b_ub=d, bounds=[(None, None)] * T, method="highs")
    assert res.status == 0
    return -res.fun


def test_flci_closed_form_bias_matches_lp():
    rng = np.random.default_rng(3)
    n_pre, n_post = 4, 3
    B = rng.normal(size=(7, 7))
    sigma = (B @ B.T + 7 * np.eye(7)) * 1e-4
    beta = rng.normal(size=7) * 0.01
    for m in (0.005, 0.02):
        for l_vec in (np.array([1.0, 0, 0]), np.array([0.2, 0.3, 0.5])):
            r = H.flci(beta, sigma, n_pre, m=m, l_vec=l_vec)
            w = np.asarray(r["weights"])
            assert r["max_bias"] == pytest.approx(_sd_worst_bias_lp(w, n_pre, m), rel=1e-7)
            assert r["half_length"] == pytest.approx(
                r["sd"] * H._folded_normal_quantile(0.95, r["max_bias"] / r["sd"]), rel=1e-12)
            # the weights remove linear trends: bias against delta_t = t is zero
            t = np.r_[np.arange(-n_pre, 0), np.arange(1, n_post + 1)]
            assert w @ t == pytest.approx(0.0, abs=1e-9)


def test_flci_is_optimal_among_affine_estimators():
    rng = np.random.default_rng(5)
    n_pre = 4
    B = rng.normal(size=(6, 6))
    sigma = (B @ B.T + 6 * np.eye(6)) * 1e-4
    beta = np.zeros(6)
    l_vec = np.array([1.0, 0.0])
    m = 0.01
    r = H.flci(beta, sigma, n_pre, m=m, l_vec=l_vec)
    g = np.arange(n_pre, 0, -1.0)
    c = float(np.arange(1, 3) @ l_vec)
    E = np.array([[max(n_pre - j - i, 0) for j in range(n_pre)] for i in range(1, n_pre)], float)
    const = float(np.sum(np.abs(H._trend_weights(l_vec))))
    # random feasible weights never beat the optimum
    for _ in range(300):
        v = rng.normal(size=n_pre) * 0.5
        v += (c - g @ v) / (g @ g) * g
        w = np.r_[v, l_vec]
        sd = math.sqrt(w @ sigma @ w)
        b = m * (const + np.abs(E @ v).sum())
        assert sd * H._folded_normal_quantile(0.95, b / sd) >= r["half_length"] - 1e-12


def test_flci_m0_is_the_minimum_variance_trend_estimator():
    rng = np.random.default_rng(8)
    B = rng.normal(size=(5, 5))
    sigma = (B @ B.T + 5 * np.eye(5)) * 1e-4
    beta = rng.normal(size=5) * 0.01
    r = H.flci(beta, sigma, 3, m=0.0)
    # minimise w' Sigma w over w = (v, 1, 0) with sum_m m v_{-m} = 1: by brute force QP
    cons = {"type": "eq", "fun": lambda v: np.array([3 * v[0] + 2 * v[1] + v[2] - 1.0])}
    obj = lambda v: np.r_[v, 1.0, 0.0] @ sigma @ np.r_[v, 1.0, 0.0]  # noqa: E731
    v = optimize.minimize(obj, np.zeros(3), constraints=[cons], method="SLSQP", options={"ftol": 1e-16}).x
    assert r["sd"] == pytest.approx(math.sqrt(obj(v)), rel=1e-7)
    assert r["half_length"] == pytest.approx(stats.norm.ppf(0.975) * r["sd"], rel=1e-10)


# ----------------------------------------------------------------------------- ARP machinery
def test_dual_vertices_give_the_lp_value():
    rng = np.random.default_rng(11)
    for m, k in ((4, 1), (6, 2), (8, 3)):
        X = rng.normal(size=(m, k))
        sd = rng.uniform(0.5, 2, size=m)
        V = H._dual_vertices(sd, X)
        for _ in range(5):
            y = rng.normal(size=m)
            lp = optimize.linprog(np.r_[1.0, np.zeros(k)], A_ub=-np.column_stack([sd, X]), b_ub=-y,
                                  bounds=[(None, None)] * (k + 1), method="highs")
            if lp.status != 0:
                continue
            assert np.max(V @ y) == pytest.approx(lp.fun, rel=1e-9, abs=1e-12)


def _rm_identified_set(beta, n_pre, mbar, l_vec):
    """Union over the RM polyhedra of [min, max] l'tau_post with delta_pre = beta_pre (linprog)."""
    n_post = beta.shape[0] - n_pre
    lo, hi = math.inf, -math.inf
    for _, A, d in H.rm_polyhedra(n_pre, n_post, mbar):
        # full RM set for this (s, sign): add the pre-period rows that make s the largest change
        Aeq = np.hstack([np.eye(n_pre), np.zeros((n_pre, n_post))])
        c = np.r_[np.zeros(n_pre), l_vec]
        out = []
        for sgn in (1, -1):
            r = optimize.linprog(sgn * c, A_ub=A, b_ub=d, A_eq=Aeq, b_eq=beta[:n_pre],
                                 bounds=[(None, None)] * len(c), method="highs")
            out.append(sgn * r.fun if r.status == 0 else None)
        if out[0] is None:
            continue
        theta = l_vec @ beta[n_pre:]
        lo, hi = min(lo, theta - out[1]), max(hi, theta - out[0])
    return lo, hi


def test_rm_interval_shrinks_to_identified_set():
    beta = np.array([0.01, -0.02, 0.005, 0.05, 0.07])
    sigma = np.eye(5) * 1e-10
    for mbar in (0.5, 1.0, 2.0):
        r = H.conditional_interval(beta, sigma, 3, restriction="rm", bound=mbar, grid_points=4001,
                                   grid=(-0.2, 0.3))
        lo, hi = _rm_identified_set(beta, 3, mbar, np.array([1.0, 0.0]))
        assert r["conf_low"] == pytest.approx(lo, abs=2e-4)
        assert r["conf_high"] == pytest.approx(hi, abs=2e-4)


def test_one_post_period_and_conditional_methods_run():
    beta = np.array([0.0, 0.01, -0.004, 0.05])
    sigma = np.diag([1e-4, 1e-4, 1e-4, 1.5e-4])
    res = H.honest_did(beta=beta, sigma=sigma, event_times=[-4, -3, -2, 0], bounds=[0, 1],
                       method="Conditional")
    tab = _rows(res)
    assert tab.loc["Mbar=0"].conf_low < 0.05 < tab.loc["Mbar=0"].conf_high
    assert tab.loc["Mbar=1"].conf_high - tab.loc["Mbar=1"].conf_low > \
        tab.loc["Mbar=0"].conf_high - tab.loc["Mbar=0"].conf_low
    for meth in ("Conditional", "C-LF", "FLCI"):
        sd = _rows(H.honest_did(beta=beta, sigma=sigma, event_times=[-4, -3, -2, 0], restriction="sd",
                                bounds=[0.0, 0.01], method=meth, breakdown=False))
        assert sd.loc["M=0.01"].conf_low <= sd.loc["M=0"].conf_low + 1e-3


def test_c_lf_size_under_parallel_trends():
    """Monte Carlo: the C-LF set covers theta = 0 at least 1 - alpha of the time when delta = 0."""
    rng = np.random.default_rng(21)
    n_pre, n_post = 3, 2
    B = rng.normal(size=(5, 5))
    sigma = (B @ B.T / 5 + np.eye(5)) * 1e-4
    L = np.linalg.cholesky(sigma)
    reps, covered = 300, 0
    for i in range(reps):
        b = L @ rng.normal(size=5)
        moms = H._build_moments("rm", 1.0, b, sigma, n_pre, np.array([1.0, 0.0]), "LF", 0.05, 1000, i)
        covered += bool(H._accept_union(moms, np.array([0.0]), 0.05)[0])
    # 95% nominal; binomial sd at 300 draws is 1.3 points
    assert covered / reps >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / reps)


# ----------------------------------------------------------------------------- adapter
def _staggered_panel(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(60):
        g = [2005, 2007, np.nan][i % 3]
        for t in range(2001, 2011):
            eff = 0.5 if (not np.isnan(g) and t >= g) else 0.0
            rows.append((i, t, g, rng.normal() + eff + 0.1 * t))
    return pd.DataFrame(rows, columns=["id", "year", "adopt", "y"])


def test_event_coefficients_for_each_estimator():
    df = _staggered_panel()
    kw = dict(y="y", entity="id", time="year", adopt="adopt")
    es = event_study(df, **kw)
    sa = sun_abraham(df, **kw)
    cs = callaway_santanna(df, base_period="universal", bootstrap=False, **kw)
    for res in (es, sa, cs):
        e, beta, sigma, ref = H.event_coefficients(res)
        assert ref == -1 and -1 not in e.tolist()
        assert np.all(np.diff(e) >= 1) and sigma.shape == (e.size, e.size)
        assert np.all(np.linalg.eigvalsh(sigma) > -1e-12)
        terms = [f"e{v:+d}" for v in e]
        np.testing.assert_allclose(beta, res.coefficients[terms].to_numpy())
    e, beta, sigma, _ = H.event_coefficients(cs, window=(-3, 2))
    assert e.tolist() == [-3, -2, 0, 1, 2]
    with pytest.raises(InputError, match="universal"):
        H.event_coefficients(callaway_santanna(df, bootstrap=False, **kw))
    with pytest.raises(InputError, match="consecutive"):
        H.honest_did(beta=np.zeros(4), sigma=np.eye(4), event_times=[-4, -2, 0, 1])
    res = H.honest_did(sa, bounds=[0.5], breakdown=False)
    assert res.diagnostics["source_estimator"] == "sun_abraham"
    assert res.tidy()["term"].tolist() == ["e+0"]


# ----------------------------------------------------------------------------- Roth (2022)
def test_pretest_power_and_slope_inverse():
    sigma = 1e-4 * (np.eye(6) + 0.4)
    t_pre = np.array([-4.0, -3.0, -2.0, -1.0])
    S = sigma[:4, :4]
    for pw in (0.5, 0.8, 0.95):
        g = P.slope_for_power(pw, t_pre=t_pre, S_pre=S)
        assert P.pretest_power(g, t_pre=t_pre, S_pre=S) == pytest.approx(pw, abs=1e-10)
        row = P.conditional_bias(g, t_pre=t_pre, t_post=np.array([1.0, 2.0]), Sigma=sigma, n_pre=4,
                                 l_vec=np.array([1.0, 0.0]))
        # the integration's pass probability is the noncentral chi-square's
        assert row["pass_probability"] == pytest.approx(1 - pw, abs=1e-9)


@pytest.mark.parametrize("k", [1, 4])
def test_conditional_bias_monte_carlo_identity(k):
    rng = np.random.default_rng(100 + k)
    n = k + 2
    B = rng.normal(size=(n, n))
    sigma = (B @ B.T / n + np.eye(n)) * 1e-4
    t = np.r_[np.arange(-k, 0), [1.0, 2.0]].astype(float)
    l_vec = np.array([0.5, 0.5])
    g = P.slope_for_power(0.6, t_pre=t[:k], S_pre=sigma[:k, :k])
    row = P.conditional_bias(g, t_pre=t[:k], t_post=t[k:], Sigma=sigma, n_pre=k, l_vec=l_vec)
    draws = rng.multivariate_normal(g * t, sigma, size=400_000)
    pre = draws[:, :k]
    stat = np.einsum("ij,ij->i", pre, np.linalg.solve(sigma[:k, :k], pre.T).T)
    passed = stat <= stats.chi2.ppf(0.95, k)
    est = draws[passed][:, k:] @ l_vec
    se_mean = est.std() / math.sqrt(passed.sum())
    assert passed.mean() == pytest.approx(row["pass_probability"], abs=4 * math.sqrt(0.24 / 400_000))
    assert est.mean() == pytest.approx(row["bias_conditional"], abs=4 * se_mean)
    assert row["bias_unconditional"] == pytest.approx(g * (l_vec @ t[k:]))


def test_pretrend_power_on_ehec(ehec):
    res = P.pretrend_power(ehec)
    d = res.diagnostics
    # the pre-test is the event study's own Wald test
    assert d["pretest"]["statistic"] == pytest.approx(ehec.diagnostics["pretrend"]["statistic"], rel=1e-10)
    s50, s80 = (r["slope"] for r in d["slope_for_power"])
    assert 0 < s50 < s80
    assert all(r["bias_conditional"] > r["bias_unconditional"] > 0 for r in d["slope_for_power"])


# ----------------------------------------------------------------------------- figures, CLI, docs
def test_sensitivity_figures():
    from robocarbon.reports.figures_honestdid import pretrend_power_plot, sensitivity_plot

    beta = np.array([0.0, 0.01, -0.004, 0.05, 0.06])
    sigma = np.eye(5) * 1e-4
    res = H.honest_did(beta=beta, sigma=sigma, event_times=[-4, -3, -2, 0, 1], restriction="sd",
                       bounds=[0, 0.01, 0.02], breakdown=False)
    fig = sensitivity_plot(res)
    assert fig.axes[0].get_xlabel() == "M"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][0] == "original"
    fig2 = pretrend_power_plot(P.pretrend_power(beta=beta, sigma=sigma, event_times=[-4, -3, -2, 0, 1]))
    assert len(fig2.axes) == 2


def test_cli_run_honest_writes_outputs(tmp_path):
    import argparse

    from robocarbon.reports.sensitivity_honest import add_arguments_honest, run_honest

    df = _staggered_panel(1)
    df["D"] = (df.adopt == 2005).astype(int)
    df = df[(df.adopt == 2005) | df.adopt.isna()]
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    parser = argparse.ArgumentParser()
    add_arguments_honest(parser)
    args = parser.parse_args(["--data", str(path), "--y", "y", "--entity", "id", "--time", "year",
                              "--treat", "D", "--ref-year", "2004", "--mbar", "0,1",
                              "--json", str(tmp_path / "out.json"), "--plot", str(tmp_path / "fig.png")])
    assert run_honest(args) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert [r["term"] for r in out["result"]["diagnostics"]["intervals"]] == ["Mbar=0", "Mbar=1"]
    assert (tmp_path / "fig.png").stat().st_size > 0
    args = parser.parse_args(["--data", str(path), "--y", "y", "--entity", "id", "--time", "year",
                              "--adopt", "adopt", "--json", str(tmp_path / "p.json")])
    assert run_honest(args, "pretrend-power") == 0
    assert "slope_for_power" in json.loads((tmp_path / "p.json").read_text())["result"]["diagnostics"]


def test_robocarbon_sensitivity_command(tmp_path, capsys):
    from robocarbon.reports.cli import main

    df = _staggered_panel(2)
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    base = ["sensitivity", "--data", str(path), "--y", "y", "--entity", "id", "--time", "year",
            "--adopt", "adopt"]
    assert main(base + ["--method", "honestdid", "--estimator", "sa", "--restriction", "sd",
                        "--m", "0,0.1", "--json", str(tmp_path / "h.json")]) == 0
    assert "DeltaSD (FLCI)" in capsys.readouterr().out
    assert main(base + ["--method", "pretrend-power", "--target", "average"]) == 0
    assert "pre-test Wald" in capsys.readouterr().out
    # honestdid flags are rejected with another method
    assert main(["sensitivity", "--method", "oster", "--data", str(path), "--formula", "y ~ adopt",
                 "--treatment", "adopt", "--mbar", "1"]) == 2


@pytest.mark.parametrize("module", ["honestdid", "pretrends", "figures"])
def test_docstring_examples(module):
    import robocarbon.reports.figures_honestdid as F

    mod = {"honestdid": H, "pretrends": P, "figures": F}[module]
    failed, attempted = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
