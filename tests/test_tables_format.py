"""The one number formatter (no nonzero number printed as zero) and paste-ready LaTeX tables."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, strategies as st

import robocarbon.reports.tables as T

finite = st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != 0)


def _is_zero(text: str) -> bool:
    return float(text) == 0


@given(finite, st.integers(0, 6))
def test_no_nonzero_number_formats_as_zero(x, digits):
    out = T.fmt(x, digits)
    assert not _is_zero(out), out
    assert math.copysign(1, float(out)) == math.copysign(1, x)


@given(finite, finite)
def test_estimate_and_se_never_zero_and_alike(est, se):
    e, s = T.fmt_pair(est, se)
    assert not _is_zero(e) and not _is_zero(s)
    # the same notation and the same decimals
    assert ("e" in e) == ("e" in s)
    if "e" not in e:
        assert len(e.split(".")[1]) == len(s.split(".")[1])


def test_examples_of_the_formatter():
    assert T.fmt(-2.785e-06) == "-2.79e-06"
    assert T.fmt(0.0157) == "0.0157"
    assert T.fmt(3.278) == "3.278"
    assert T.fmt(0.0) == "0.000" and T.fmt(-0.0) == "0.000"
    assert T.fmt_pair(-2.785e-06, 1.2e-06) == ("-2.79e-06", "1.20e-06")


def test_latex_escape_is_ascii_with_math_symbols():
    assert T.latex_escape("γ̂ = 0.5") == r"$\hat{\gamma}$ = 0.5"
    assert T.latex_escape("*** p<0.01") == "*** $p<0.01$"
    assert T.latex_escape("R² (within)") == "R$^{2}$ (within)"
    assert T.latex_escape("a_b & c ≤ 3") == r"a\_b \& c $\leq$ 3"
    assert T.latex_escape("Λ 城").isascii()
    assert T.latex_caption("Table 2. Baseline") == "Baseline (paper's Table 2)"


def _outside_math(tex: str) -> str:
    return re.sub(r"(?<!\\)\$[^$]*(?<!\\)\$", "", tex.replace(r"\$", ""))


def _check_tex(tex: str, name: str) -> None:
    assert tex.isascii(), (name, sorted({c for c in tex if not c.isascii()}))
    body = _outside_math(tex)
    assert "<" not in body and ">" not in body, name
    cap = re.search(r"\\caption\{(.*)\}", tex).group(1)
    assert not re.match(r"\s*Table\s+\d", cap), (name, cap)


def test_tiny_coefficients_never_print_as_zero(tmp_path):
    """A user panel with the outcome scaled by 1e-6: no '0.000 (0.000)' in tables or prose."""
    from robocarbon.reports.cli import main
    from robocarbon.simulate.design import get_design

    draw = get_design("paper").draw(np.random.default_rng(3))
    p = draw.panel
    p = p[p["city"].isin(sorted(p["city"].unique())[:24])]
    p = p[[c for c in p.columns if not c.startswith("true_")]].reset_index(drop=True)
    p["lnindco"] = p["lnindco"] * 1e-6
    path = tmp_path / "tiny.csv"
    p.to_csv(path, index=False)
    out = tmp_path / "build"
    rc = main(["replicate", "--data", str(path), "--out", str(out), "--sims", "2", "--seed", "5",
               "--bootstrap", "9", "--no-progress", "--sections", "table2"])
    assert rc == 0
    files = sorted((out / "tables").glob("*.tex")) + sorted((out / "tables").glob("*.csv"))
    texts = [f.read_text(encoding="utf-8") for f in sorted((out / "tables").glob("*.tex"))]
    texts.append((out / "report.md").read_text(encoding="utf-8"))
    assert files and len(texts) > 1
    for t in texts:
        assert "0.000 (0.000)" not in t and "(0.000)" not in t
        assert "0.0000 (SE 0.0000)" not in t
    for f in (out / "tables").glob("*.tex"):
        _check_tex(f.read_text(encoding="utf-8"), f.name)


def test_every_built_table_is_ascii_latex():
    from report_build_helper import built_report

    out, _ = built_report()
    files = sorted((out / "tables").glob("*.tex"))
    assert files
    for p in files:
        _check_tex(p.read_text(encoding="utf-8"), p.name)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_every_built_table_compiles(tmp_path):
    from report_build_helper import built_report

    out, _ = built_report()
    for p in sorted((out / "tables").glob("*.tex")):
        doc = ("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
               + p.read_text(encoding="utf-8") + "\n\\end{document}\n")
        (tmp_path / "t.tex").write_text(doc)
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (p.name, r.stdout[-2000:])
