"""Units of the report: MathML from sympy, tables from Result.tidy(), figures, published numbers."""

from __future__ import annotations

import base64
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from robocarbon.empirics.result import Result
from robocarbon.reports import figures as F
from robocarbon.reports import tables as T
from robocarbon.reports.mathml import CORE_ELEMENTS, MATHML_NS, to_mathml

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- MathML
def _parse(m: str) -> ET.Element:
    return ET.fromstring(m)


def test_mathml_wraps_in_math_core_and_is_wellformed():
    a, b, I, N, K = sp.symbols("alpha beta I N K", positive=True)
    x = sp.Symbol("x")
    g = sp.Function("gamma_m")
    expr = sp.Eq(sp.log(sp.Symbol("Y")),
                 a * sp.log(K) + b * (I - N + 1) * sp.log(sp.Symbol("M"))
                 + sp.Integral(sp.log(g(x)), (x, N - 1, I)) + sp.sqrt(x) / (1 + x))
    m = to_mathml(expr, label="13")
    assert m.startswith(f'<math xmlns="{MATHML_NS}" display="block"')
    root = _parse(m)
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert tags <= CORE_ELEMENTS
    assert {"mfrac", "msqrt", "msubsup"} <= tags
    assert "&" not in m.replace("&gt;", "").replace("&lt;", "").replace("&amp;", "")
    # the symbols of the expression appear as identifiers
    idents = {el.text for el in root.iter(f"{{{MATHML_NS}}}mi")}
    assert {"α", "β", "K", "Y", "M"} <= idents


def test_mathml_relations_escape_and_inline():
    x, y = sp.symbols("x y")
    for rel in (x < y, x > y, x <= y, sp.Ne(x, y)):
        root = _parse(to_mathml(rel, display="inline"))
        assert root.get("display") == "inline"
        assert len(list(root.iter())) > 3
    with pytest.raises(ValueError):
        to_mathml(x, display="wide")


def test_mathml_rewrites_mfenced():
    from robocarbon.reports.mathml import _rewrite_noncore

    el = ET.fromstring("<mrow><mfenced open='[' close=']'><mi>a</mi><mi>b</mi></mfenced></mrow>")
    _rewrite_noncore(el)
    assert [c.tag for c in el.iter()] == ["mrow", "mrow", "mo", "mi", "mo", "mi", "mo"]
    assert [c.text for c in el.iter() if c.tag == "mo"] == ["[", ",", "]"]


@settings(max_examples=25, deadline=None)
@given(st.integers(-50, 50), st.integers(1, 9))
def test_mathml_numbers_roundtrip(p, q):
    frac = sp.Rational(p, q)
    root = _parse(to_mathml(sp.Eq(sp.Symbol("z"), frac, evaluate=False)))
    numbers = [el.text for el in root.iter(f"{{{MATHML_NS}}}mn")]
    assert str(abs(frac.p)) in [n.lstrip("-") for n in numbers]
    if frac.q != 1:
        assert str(frac.q) in numbers
        assert len(list(root.iter(f"{{{MATHML_NS}}}mfrac"))) == 1


# ---------------------------------------------------------------------------- tables
def _result(params, se, nobs=100, df=49, r2=0.5, r2w=0.2):
    terms = [f"x{i}" for i in range(len(params))]
    return Result(terms=terms, params=np.array(params, float), cov=np.diag(np.square(se)),
                  nobs=nobs, df_resid=df, cov_type="cluster", estimator="ols",
                  r2_with_fe=r2, r2_within=r2w)


def test_regression_table_cells_come_from_tidy():
    r1 = _result([-0.013, 0.5], [0.004, 1.0])
    r2 = _result([0.02], [0.05], nobs=80, r2=0.7)
    tab = T.regression_table("t", "T", [("(1)", r1), ("(2)", r2)], terms=["x0", "x1"],
                             rows_extra={"Controls": [False, True]})
    tidy = r1.tidy().set_index("term")
    cell = tab.display.iloc[0, 1]
    est_txt, se_txt = T.fmt_pair(tidy.loc["x0", "estimate"], tidy.loc["x0", "std_error"])
    assert (est_txt, se_txt) == ("-0.01300", "0.00400")  # same decimals, 3 significant digits each
    assert cell == est_txt + T.stars(tidy.loc["x0", "p_value"])
    assert tab.display.iloc[1, 1] == f"({se_txt})"
    assert tab.display.iloc[0, 2] == "0.0200"  # p ~ 0.69: no stars; 3 significant digits
    assert tab.display.iloc[1, 2] == "(0.0500)"
    assert list(tab.display.iloc[-2, 1:]) == ["100", "80"]
    assert "R² (with fixed effects)" in tab.display.iloc[-1, 0]
    # CSV keeps full precision of the computed values
    back = pd.read_csv(io.StringIO(tab.to_csv()))
    est = back[(back.model == "(1)") & (back.term == "x0")]["estimate"].iloc[0]
    assert est == pytest.approx(tidy.loc["x0", "estimate"], rel=1e-9)
    pv = back[(back.model == "(1)") & (back.term == "x0")]["p_value"].iloc[0]
    assert pv == pytest.approx(tidy.loc["x0", "p_value"], rel=1e-8)


def test_stars_thresholds():
    assert [T.stars(p) for p in (0.001, 0.03, 0.07, 0.2, float("nan"))] == ["***", "**", "*", "", ""]


def test_latex_is_booktabs_and_escaped():
    tab = T.regression_table("t", "Effect on ln_indco & more", [("(1)", _result([1.0], [0.1]))])
    tex = tab.to_latex()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert tex.count(rule) == 1
    assert "ln\\_indco \\& more" in tex
    body = tex.split("\\midrule")[1].split("\\bottomrule")[0]
    assert all(line.count("&") == 1 for line in body.strip().splitlines())


def test_markdown_and_html_have_every_row():
    tab = T.regression_table("t", "T", [("(1)", _result([1.0, 2.0], [0.1, 0.2]))])
    md = tab.to_markdown().splitlines()
    rows_md = [line for line in md if line.startswith("| ")]
    assert len(rows_md) == 1 + len(tab.display)
    html = tab.to_html()
    assert html.count("<tr>") == 1 + len(tab.display)


def test_beside_table_difference_is_ours_minus_paper():
    rows = [{"quantity": "a", "published": -0.013, "ours": -0.0157},
            {"quantity": "b", "published": 4.0, "ours": None}]
    tab = T.beside_table("b", "B", rows)
    assert tab.data["difference"].iloc[0] == pytest.approx(-0.0157 - -0.013, abs=1e-15)
    assert pd.isna(tab.data["difference"].iloc[1])
    assert tab.display["Difference"].iloc[1] == ""


def test_published_copy_matches_the_transcription():
    pub = T.load_published()
    assert "Huang" in pub["citation"]
    shared = ROOT.parent / "shared" / "paper" / "published.json"
    if not shared.exists():
        pytest.skip(f"{shared} absent")
    orig = json.loads(shared.read_text(encoding="utf-8"))
    for key in ("sample", "table1", "table2", "table3"):
        assert pub[key] == orig[key]


# ---------------------------------------------------------------------------- figures
def test_figure_png_svg_and_data_uri(tmp_path):
    fig = F.coefficient_plot("coef", "caption", ["a", "b"], [1.0, -1.0], [0.5, -1.5], [1.5, -0.5],
                             published=[1.1, None], published_se=[0.1, None])
    assert fig.png[:8] == b"\x89PNG\r\n\x1a\n"
    ET.fromstring(fig.svg)
    uri = fig.data_uri()
    assert base64.b64decode(uri.split(",", 1)[1]) == fig.png
    paths = F.save_figure(fig, tmp_path / "figs")
    assert sorted(p.name for p in paths) == ["coef.png", "coef.svg"]
    assert (tmp_path / "figs" / "coef.png").read_bytes() == fig.png
    assert not list((tmp_path / "figs").glob(".*"))  # no temporary files left


def test_figure_svg_is_deterministic():
    mk = lambda: F.lr_plot("lr", "c", [0.1, 0.2, 0.3], [5.0, 0.0, 9.0], critical=7.35,  # noqa: E731
                           threshold=0.2)
    assert mk().svg == mk().svg


def test_mathml_piecewise_cases_and_function_names():
    x, I = sp.symbols("x I")
    gL = sp.Function("gamma_L")
    expr = sp.Eq(sp.Function("y")(x), sp.Piecewise((gL(x), I >= x), (sp.log(x), True)))
    root = _parse(to_mathml(expr))
    ns = f"{{{MATHML_NS}}}"
    rows = list(root.iter(ns + "mtr"))
    assert len(rows) == 2
    assert "otherwise" in [el.text for el in root.iter(ns + "mtext")]
    subs = [[c.text for c in el] for el in root.iter(ns + "msub")]
    assert ["γ", "L"] in subs  # the function's name keeps its case and becomes a subscript
    assert "ln" in [el.text for el in root.iter(ns + "mi")]


def test_mathml_tuple_is_one_line_of_equations():
    a, b = sp.symbols("a b")
    root = _parse(to_mathml(sp.Tuple(sp.Eq(a, 1), sp.Eq(b, 2))))
    ns = f"{{{MATHML_NS}}}"
    assert [el.text for el in root.iter(ns + "mo")].count("=") == 2
    assert "(" not in [el.text for el in root.iter(ns + "mo")]


def test_beside_wide_table_pivots_and_keeps_the_long_csv():
    rows = [{"item": "robot", "stat": "mean", "published": 3.278, "ours": 3.0},
            {"item": "robot", "stat": "sd", "published": 4.004, "ours": 4.5},
            {"item": "edu", "stat": "mean", "published": 0.016, "ours": 0.02}]
    tab = T.beside_wide_table("w", "W", rows, stats=("mean", "sd"))
    assert list(tab.display.columns) == ["", "mean: paper", "mean: ours", "mean: diff", "sd: paper", "sd: ours",
                                         "sd: diff"]
    assert list(tab.display.iloc[0]) == ["robot", "3.278", "3.000", "-0.278", "4.004", "4.500", "0.496"]
    assert list(tab.display.iloc[1, 4:]) == ["", "", ""]
    back = pd.read_csv(io.StringIO(tab.to_csv()))
    assert list(back.columns) == ["item", "stat", "published", "ours", "difference"]
    assert back["difference"].iloc[1] == pytest.approx(4.5 - 4.004, abs=1e-12)


def test_unavailable_and_failing_sections_are_stated_not_hidden(monkeypatch):
    from robocarbon.reports import report as R

    def boom(ctx):
        raise ZeroDivisionError("estimator blew up")

    def absent(ctx):
        ctx.require("adopt_year", why="pilot zones")

    specs = [R.Spec("a", "A", absent, lambda d, c: R.Section("a", "A")),
             R.Spec("b", "B", boom, lambda d, c: R.Section("b", "B"))]
    monkeypatch.setattr(R, "SECTIONS", specs)
    ctx = R.Context(panel=pd.DataFrame({"city": [1], "year": [2000]}), source="user", seed=1, sims=1)
    secs = R.compute_sections(ctx, progress=False)
    assert [(s.status, s.reason) for s in secs] == [
        ("skipped", "the panel has no column adopt_year (pilot zones)"),
        ("failed", "ZeroDivisionError: estimator blew up"),
    ]
    html = R.render_html(secs, {"title": "t", "paper": "p", "source": "user", "data_path": "x.csv", "seed": 1,
                                "sims": 1, "created": "now", "git_commit": None})
    assert "Not computed:</strong> the panel has no column adopt_year" in html
    assert "Failed:</strong> ZeroDivisionError: estimator blew up" in html
    with pytest.raises(ZeroDivisionError):
        R.compute_sections(ctx, progress=False, strict=True)
