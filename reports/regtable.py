"""A regression table in text or Markdown: coefficients, standard errors in parentheses, stars,
N, both R-squared (labelled), the Stata-style constant and the main diagnostics."""

from __future__ import annotations

import math
from collections.abc import Sequence

from robocarbon.empirics.result import Result

STARS = ((0.01, "***"), (0.05, "**"), (0.10, "*"))


def _stars(p: float) -> str:
    if p is None or not math.isfinite(p):
        return ""
    for cut, s in STARS:
        if p < cut:
            return s
    return ""


def _num(v, digits: int) -> str:
    """One number, by the one table formatter (significant digits, never a nonzero as zero)."""
    from robocarbon.reports.tables import fmt

    if v is None:
        return ""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return fmt(v, digits)


def _pair(est, se, digits: int) -> tuple[str, str]:
    from robocarbon.reports.tables import fmt_pair

    return fmt_pair(float(est), float(se), digits)


def table_rows(results: Sequence[Result], digits: int = 3) -> tuple[list[str], list[list[str]]]:
    """Header and body rows (one pair of rows per term: estimate with stars, SE in parentheses)."""
    terms: list[str] = []
    for r in results:
        for t in r.terms:
            if t not in terms:
                terms.append(t)
    header = [""] + [f"({i + 1})" for i in range(len(results))]
    rows: list[list[str]] = [["dependent variable"] + [str(r.spec.get("formula", "")).split("~")[0].strip() for r in results]]
    for t in terms:
        est, se = [t], [""]
        for r in results:
            if t in r.terms:
                i = r.terms.index(t)
                e_txt, se_txt = _pair(r.params[i], r.std_errors.iloc[i], digits)
                est.append(e_txt + _stars(float(r.pvalues.iloc[i])))
                se.append("(" + se_txt + ")")
            else:
                est.append("")
                se.append("")
        rows += [est, se]
    if any("intercept" in r.diagnostics for r in results):
        est, se = ["constant (Stata-style, FE absorbed)"], [""]
        for r in results:
            c = r.diagnostics.get("intercept")
            est.append(_num(c["estimate"], digits) if c else "")
            se.append("(" + _num(c["std_error"], digits) + ")" if c else "")
        rows += [est, se]
    rows.append(["fixed effects"] + [" + ".join(r.spec.get("fixed_effects", []) or []) or "none" for r in results])
    rows.append(["N"] + [str(r.nobs) for r in results])
    rows.append(["rows dropped"] + [str(r.nobs_dropped) for r in results])
    rows.append(["R-squared (incl. FE)"] + [_num(r.r2_with_fe, digits) for r in results])
    rows.append(["R-squared (within)"] + [_num(r.r2_within, digits) for r in results])
    rows.append(["SE type"] + [f"{r.cov_type}" + (f" ({', '.join(r.spec.get('cluster') or [])})" if r.cov_type == "cluster" else "") for r in results])
    if any("weak_iv" in r.diagnostics for r in results):
        labels = [
            ("first-stage F", lambda d: min(v["f_statistic"] for v in d["first_stage"].values())),
            ("KP rk LM", lambda d: d["weak_iv"]["kp_rk_lm"]),
            ("KP rk LM p-value", lambda d: d["weak_iv"]["kp_rk_lm_pvalue"]),
            ("KP rk Wald F", lambda d: d["weak_iv"]["kp_rk_wald_f"]),
            ("Cragg-Donald F", lambda d: d["weak_iv"]["cragg_donald_f"]),
            ("Stock-Yogo 10% size", lambda d: d["weak_iv"]["stock_yogo"]["size"].get("0.10")),
            ("Hansen J p-value", lambda d: d.get("overid", {}).get("pvalue")),
        ]
        for lab, fn in labels:
            row = [lab]
            for r in results:
                try:
                    row.append(_num(fn(r.diagnostics), digits) if "weak_iv" in r.diagnostics else "")
                except (KeyError, ValueError, TypeError):
                    row.append("")
            rows.append(row)
    return header, rows


def regression_table(results: Result | Sequence[Result], fmt: str = "text", digits: int = 3) -> str:
    """Format one or several results side by side (``fmt``: ``"text"`` or ``"markdown"``).

    Stars: *** p < 0.01, ** p < 0.05, * p < 0.10 (t with the result's degrees of freedom).
    """
    if isinstance(results, Result):
        results = [results]
    header, rows = table_rows(list(results), digits)
    note = "Standard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01."
    if fmt == "markdown":
        out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(out) + "\n\n" + note + "\n"
    widths = [max(len(str(r[j])) for r in [header] + rows) for j in range(len(header))]
    line = "-" * (sum(widths) + 2 * (len(widths) - 1))
    fmt_row = lambda r: "  ".join(str(c).ljust(widths[0]) if j == 0 else str(c).rjust(widths[j]) for j, c in enumerate(r))  # noqa: E731
    out = [line, fmt_row(header), line] + [fmt_row(r) for r in rows] + [line, note]
    return "\n".join(out) + "\n"
