"""The literate replication report: sections computed from the estimators, rendered to HTML
(self-contained: MathML equations, embedded figures, no JavaScript) and Markdown, with the
tables as LaTeX (booktabs) and CSV, the figures as PNG and SVG, and a manifest.

Structure
---------
Each section is a pair of functions: ``compute_<id>(ctx) -> inputs`` runs the estimators and
returns plain computed values (or raises :class:`SectionUnavailable` with a stated reason: a
column absent from the user's panel, a dependency not importable); ``section_<id>(inputs, ctx)
-> Section`` turns the computed inputs into blocks of prose, tables, figures and equations.
Prose numbers are always inserted from those inputs, never typed in. The verdicts at the end
are assembled from the values the other sections computed.

The report holds no model specification: every paper table is computed by its function in
:mod:`robocarbon.empirics.paper` (the one a Python user calls), the Monte Carlo scenarios come from
:mod:`robocarbon.simulate.scenarios`, and the verdict rules from
:mod:`robocarbon.empirics.paper.verdicts`; the sections here only render what those return.
"""

from __future__ import annotations

import html as _html
import os
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics import paper as P
from robocarbon.empirics.paper import CONTROLS, REQUIRED  # noqa: F401 - re-exported for the CLI
from robocarbon.empirics.paper import verdicts as V
from robocarbon.empirics.provenance import (
    provenance,
    write_json_atomic,
    write_manifest,
    write_text_atomic,
)

from . import figures as F
from . import tables as T
from .mathml import to_latex, to_mathml

# names of the independent random streams (SeedSequence.spawn), by purpose; appending a new
# purpose at the end never changes the earlier streams
STREAMS = ("design", "montecarlo", "permutation", "threshold_bootstrap", "did_bootstrap", "spare")


# A section cannot be computed; the message is the reason shown in the report. The same class
# as the paper tables' (a table whose columns the panel lacks is a skipped section).
SectionUnavailable = P.Unavailable


# ---------------------------------------------------------------------------- building blocks
@dataclass
class Block:
    kind: str  # "p", "list", "table", "figure", "equation", "html"
    content: Any
    markdown: str | None = None


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    status: str = "ok"  # ok | skipped | failed
    reason: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # extra text outputs: {relative path: text}

    # convenience adders
    def p(self, text: str) -> None:
        self.blocks.append(Block("p", text))

    def items(self, items: Sequence[str]) -> None:
        self.blocks.append(Block("list", list(items)))

    def table(self, table: T.Table) -> None:
        self.blocks.append(Block("table", table))

    def figure(self, fig: F.Figure) -> None:
        self.blocks.append(Block("figure", fig))

    def equation(self, eq_id: str, expr: Any, caption: str = "") -> None:
        self.blocks.append(Block("equation", {"id": eq_id, "mathml": to_mathml(expr, label=f"({eq_id})"),
                                              "latex": to_latex(expr), "caption": caption}))

    def raw(self, html: str, markdown: str) -> None:
        self.blocks.append(Block("html", html, markdown))

    @property
    def tables(self) -> list[T.Table]:
        return [b.content for b in self.blocks if b.kind == "table"]

    @property
    def figures(self) -> list[F.Figure]:
        return [b.content for b in self.blocks if b.kind == "figure"]


@dataclass
class Context:
    """Everything a section may use: the panel, where it came from, seeds and settings."""

    panel: pd.DataFrame
    source: str  # "synthetic" or "user"
    seed: int
    sims: int
    data_path: str | None = None
    design: Any = None
    truth: Mapping[str, Any] | None = None
    published: dict[str, Any] = field(default_factory=T.load_published)
    results: dict[str, Any] = field(default_factory=dict)  # computed inputs by section id
    sections: dict[str, Any] = field(default_factory=dict)  # rendered sections by id (for verdicts)
    jobs: int = 1
    bootstrap: int = 299  # bootstrap draws (threshold F tests, Callaway-Sant'Anna bands)
    progress: Any = None

    def stream(self, name: str) -> np.random.Generator:
        """An independent generator per purpose, from SeedSequence(seed).spawn."""
        children = np.random.SeedSequence(self.seed).spawn(len(STREAMS))
        return np.random.default_rng(children[STREAMS.index(name)])

    def has(self, *cols: str) -> bool:
        return all(c in self.panel.columns for c in cols)

    def require(self, *cols: str, why: str = "") -> None:
        P.require(self.panel, *cols, why=why)

    @property
    def controls(self) -> list[str]:
        return P.controls_of(self.panel)

    def seed_from(self, name: str) -> int:
        """One integer seed from the stream ``name`` (for an estimator that takes an int)."""
        return int(self.stream(name).integers(0, 2**31 - 1))


def num(x: Any, digits: int = 3) -> str:
    """A computed number for prose, by the tables' formatter: at least ``digits`` decimals and
    three significant digits, so a nonzero number never prints as zero."""
    return T.fmt(x, digits)


def pval(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


# ============================================================================ sections
# ---------------------------------------------------------------------------- data
def compute_data(ctx: Context) -> dict[str, Any]:
    p = ctx.panel
    years = sorted(p["year"].unique())
    counts = p.groupby("city")["year"].count()
    return {
        "source": ctx.source,
        "data_path": ctx.data_path,
        "nobs": int(len(p)),
        "cities": int(p["city"].nunique()),
        "year_min": int(years[0]),
        "year_max": int(years[-1]),
        "balanced": bool(counts.nunique() == 1 and counts.iloc[0] == len(years)),
        "columns": list(p.columns),
        "truth": dict(ctx.truth or {}),
        "design_name": getattr(ctx.design, "name", None),
    }


def section_data(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("data", "Data and design")
    pub = ctx.published["sample"]
    if d["source"] == "synthetic":
        s.p(
            f"No panel was supplied, so this report runs on one draw (seed {ctx.seed}) of the "
            f"calibrated synthetic design '{d['design_name']}': a panel generated from the paper's "
            "task model and passed through its measurement steps (Bartik robot exposure, "
            "nightlight downscaling). Because the truth of a synthetic panel is known, every "
            "estimate below can be compared with it; the numbers are those of this draw, not the "
            "paper's data, which are not public."
        )
        if d["truth"]:
            rob = d["truth"].get("robot")
            if rob is not None and np.isfinite(rob):
                s.p(f"The true effect of robot penetration on ln carbon intensity in this draw, "
                    f"derived from the theory, is {num(rob, 4)}.")
    else:
        s.p(f"The report runs on the panel supplied by the user ({d['data_path']}).")
    s.p(
        f"The panel has {d['nobs']:,} observations on {d['cities']:,} cities from {d['year_min']} "
        f"to {d['year_max']} ({'balanced' if d['balanced'] else 'unbalanced'}); the paper's has "
        f"{pub['nobs']:,} observations on {pub['cities']} cities from {pub['years'][0]} to "
        f"{pub['years'][1]}."
    )
    s.values.update(nobs=d["nobs"], cities=d["cities"])
    return s


# ---------------------------------------------------------------------------- theory
def compute_theory(ctx: Context) -> dict[str, Any]:
    from robocarbon.theory import claims, ledger, render

    return {"ledger": ledger.build_ledger(), "exprs": ledger.equation_exprs(),
            "claims": claims.check_claims(), "derivation_md": render.derivation_markdown()}


def _demote_headings(md: str, by: int = 2) -> str:
    """Markdown headings pushed down ``by`` levels (to nest under the report's section)."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(6, len(m.group(1)) + by) + " ", md, flags=re.M)


_DOLLAR = re.compile(r"\$([^$]+)\$")


def _note_html(text: str) -> str:
    """A ledger note: plain text with inline LaTeX fragments shown as code."""
    parts = []
    last = 0
    for m in _DOLLAR.finditer(text):
        parts.append(_html.escape(text[last:m.start()]))
        parts.append(f'<code class="tex">{_html.escape(m.group(1))}</code>')
        last = m.end()
    parts.append(_html.escape(text[last:]))
    return "".join(parts)


def section_theory(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("theory", "Theory: the paper's equations (1)-(17) re-derived")
    led = d["ledger"]
    exprs = d["exprs"]
    counts = pd.Series([e["status"] for e in led]).value_counts()
    s.p(
        "Each printed equation of section 2 was transcribed and compared with the expression "
        "derived from the model's primitives with sympy. Of the "
        f"{len(led)} equations, " + ", ".join(f"{int(n)} are {k}" for k, n in counts.items()) + ". "
        "The equations below are rendered from the same sympy objects the theory tests verify."
    )
    frame = pd.DataFrame([{"eq": f"({e['id']})", "title": e["title"], "status": e["status"],
                           "method": e.get("method", "")} for e in led])
    s.table(T.frame_table("theory_ledger", "Ledger of the printed equations", frame))
    for e in led:
        printed, derived = exprs[e["id"]]
        eid = e["id"]
        same = printed == derived
        html = [f'<h3 id="eq-{e["id"]}">({_html.escape(e["id"])}) {_html.escape(e["title"])} '
                f'<span class="status">[{_html.escape(e["status"])}]</span></h3>']
        md = [f"### ({e['id']}) {e['title']} [{e['status']}]", ""]
        if same:
            html.append('<div class="equation"><span class="eqno">printed = derived</span>'
                        + to_mathml(printed, label=f"equation ({eid})") + "</div>")
            md.append(f"$$ {to_latex(printed)} $$")
        else:
            html.append('<div class="equation"><span class="eqno">printed</span>'
                        + to_mathml(printed, label=f"equation ({eid}) as printed") + "</div>")
            html.append('<div class="equation"><span class="eqno">derived</span>'
                        + to_mathml(derived, label=f"equation ({eid}) as derived") + "</div>")
            md += [f"Printed: $$ {to_latex(printed)} $$", "", f"Derived: $$ {to_latex(derived)} $$"]
        html.append(f'<p class="note">{_note_html(e["note"])}</p>')
        md += ["", e["note"], ""]
        s.raw("\n".join(html), "\n".join(md))
    # claims
    s.blocks.append(Block("html", "<h3>Claims of the theory</h3>", "### Claims of the theory\n"))
    cl = pd.DataFrame([{"claim": c["id"], "holds": c["holds"], "statement": c["statement"]} for c in d["claims"]])
    s.table(T.frame_table("theory_claims", "The paper's comparative statics, checked", cl))
    for c in d["claims"]:
        html = (f'<div class="verdict"><p><strong>{_html.escape(c["id"])}</strong> '
                f'(holds: {_html.escape(c["holds"])}): {_html.escape(c["statement"])}</p>'
                f'<p>{_note_html(c["conditions"])}</p>'
                f'<details><summary>derivation (LaTeX)</summary><pre>{_html.escape(c["derivation"])}</pre></details></div>')
        md = (f"- **{c['id']}** (holds: {c['holds']}): {c['statement']} {c['conditions']} "
              f"$ {c['derivation']} $")
        s.raw(html, md)
    if d["derivation_md"]:
        s.raw('<p class="files">The full literate derivation, step by step with the paper\'s equation numbers '
              '(Markdown with LaTeX, from robocarbon.theory.render), is in <a href="derivation.md">derivation.md</a> '
              'and at the end of report.md.</p>',
              "The full literate derivation follows.\n\n" + _demote_headings(d["derivation_md"]))
        s.files["derivation.md"] = d["derivation_md"]
    s.values.update(statuses={e["id"]: e["status"] for e in led},
                    claims={c["id"]: c["holds"] for c in d["claims"]},
                    claims_conditions={c["id"]: c["conditions"] for c in d["claims"]})
    return s


# ---------------------------------------------------------------------------- table 1
def compute_table1(ctx: Context) -> P.PaperTable:
    return P.table1(ctx.panel)


def section_table1(t: P.PaperTable, ctx: Context) -> Section:
    s = Section("table1", "Table 1: descriptive statistics")
    d = t.data
    frame = pd.DataFrame(d["rows"], columns=["variable", "n", "mean", "sd", "max", "min"])
    s.table(T.frame_table("table1", "Table 1. Descriptive statistics (this panel)", frame,
                          notes=["sd: sample standard deviation (n - 1)."]))
    if d["missing"]:
        s.p("Not in this panel, so not described: " + ", ".join(d["missing"]) + ".")
    wide = P.table1_beside(t)
    s.table(T.beside_wide_table("table1_beside", "Table 1: the paper beside ours", wide,
                                stats=("mean", "sd", "max", "min")))
    s.values["table1"] = {r["variable"]: r for r in d["rows"]}
    s.values["beside"] = [{"quantity": f"{r['item']} {r['stat']}", "published": r["published"], "ours": r["ours"]}
                          for r in wide]
    return s


# ---------------------------------------------------------------------------- table 2
_coef = P.coef


def compute_table2(ctx: Context) -> P.PaperTable:
    return P.table2(ctx.panel)


def section_table2(t: P.PaperTable, ctx: Context) -> Section:
    s = Section("table2", "Table 2: baseline two-way fixed effects and lags 1-5")
    models = t.models
    # one display row for the robot regressor whatever its lag
    pairs = [(m.label, _renamed(m.result, {m.term: "robot (lag k)"})) for m in models]
    cons = []
    for m in models:
        ic = m.result.diagnostics.get("intercept")
        cons.append(f"{num(ic['estimate'])} ({num(ic['std_error'])})" if ic else "")
    tab = T.regression_table(
        "table2", t.title, pairs, terms=["robot (lag k)"],
        rows_extra={"Lag k": [m.info["lag"] for m in models],
                    "Controls": ["yes" if m.info["controls"] else "no" for m in models],
                    "Constant (Stata style)": cons},
        notes=["City-clustered standard errors (CR1, fixest/reghdfe small-sample convention). "
               f"Controls: {', '.join(t.data['controls']) or 'none in this panel'}."],
    )
    s.table(tab)
    pub = t.published
    coefs = [m.coef() for m in models]
    fig = F.coefficient_plot(
        "table2_lags", "Effect of robot penetration at lags 0-5 (columns 2-7), ours beside the paper",
        [f"lag {m.info['lag']}" for m in models[1:]], [c["estimate"] for c in coefs[1:]],
        [c["conf_low"] for c in coefs[1:]], [c["conf_high"] for c in coefs[1:]],
        published=[r["coef"] for r in pub[1:]], published_se=[r["se"] for r in pub[1:]],
        ylabel="coefficient on robot",
    )
    s.figure(fig)
    c1, c2 = coefs[0], coefs[1]
    s.p(
        f"Without controls the coefficient on robot is {num(c1['estimate'], 4)} (SE {num(c1['std_error'], 4)}, "
        f"p {pval(c1['p_value'])}); with the controls it is {num(c2['estimate'], 4)} (SE "
        f"{num(c2['std_error'], 4)}, p {pval(c2['p_value'])}). The paper prints {pub[0]['coef']} "
        f"({pub[0]['se']}) and {pub[1]['coef']} ({pub[1]['se']})."
    )
    lagged = coefs[2:]
    grows = V.lag_growth([c["estimate"] for c in lagged]).grows
    s.p(
        "At lags 1 to 5 the coefficients are "
        + ", ".join(num(c["estimate"], 4) for c in lagged)
        + f"; their magnitude {'grows' if grows else 'does not grow'} monotonically with the lag "
        f"(the paper prints {', '.join(str(r['coef']) for r in pub[2:])}, growing). Each lag drops "
        f"the first k years, so the samples differ ({', '.join(num(m.result.nobs) for m in models[2:])} "
        "observations) and the comparison across columns mixes the lag with the sample."
    )
    beside = P.table2_beside(t)
    s.table(T.beside_table("table2_beside", "Table 2: the paper beside ours", beside, digits=4))
    s.values.update(coefs={m.label: c for m, c in zip(models, coefs)}, beside=beside,
                    lags_grow=grows, nobs=[m.result.nobs for m in models])
    return s


def _renamed(res: Any, mapping: Mapping[str, str]) -> Any:
    """The same Result with some terms renamed (for side-by-side display rows)."""
    import dataclasses

    return dataclasses.replace(res, terms=tuple(mapping.get(t, t) for t in res.terms))


# ---------------------------------------------------------------------------- DID
def compute_did(ctx: Context) -> dict[str, Any]:
    table = P.did(ctx.panel, bootstrap=ctx.bootstrap, seed=ctx.seed_from("did_bootstrap"))
    out: dict[str, Any] = {"twfe_controls": None, **table.named_results()}
    out["truth"] = {k: v for k, v in (ctx.truth or {}).items() if k == "did" or k.startswith("did_e")}
    return out


def _event_series(res: Any, prefix: str = "e") -> tuple[list[float], list[float], list[float], list[float]]:
    t = res.tidy()
    t = t[t["term"].str.match(r"^e[+-]\d+$")].copy()
    t["et"] = t["term"].str[1:].astype(int)
    t = t.sort_values("et")
    return list(t["et"]), list(t["estimate"]), list(t["conf_low"]), list(t["conf_high"])


def section_did(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("did", "Staggered DID: two-integration pilot zones")
    twfe, twc, ev, bac, cs, sa = (d[k] for k in ("twfe", "twfe_controls", "event", "bacon", "cs", "sa"))
    tw = _coef(twfe, "D")
    cs_simple = _coef(cs, "simple")
    cs_dyn = _coef(cs, "dynamic")
    sa_att = _coef(sa, "att")
    models = [("TWFE", twfe)] + ([("TWFE + controls", twc)] if twc is not None else [])
    tab = T.regression_table("did", "DID: effect of the pilot zones on ln industrial carbon intensity",
                             models, terms=["D"], term_labels={"D": "pilot zone (D)"}, r2="r2_with_fe",
                             notes=["City and year fixed effects; city-clustered SE."])
    s.table(tab)
    # robust estimators beside TWFE
    rows = [
        {"estimator": "TWFE (paper)", "estimate": tw["estimate"], "std_error": tw["std_error"],
         "p_value": tw["p_value"]},
        {"estimator": "Callaway-Sant'Anna, simple ATT", **{k: cs_simple[k] for k in ("estimate", "std_error", "p_value")}},
        {"estimator": "Callaway-Sant'Anna, dynamic (e >= 0)", **{k: cs_dyn[k] for k in ("estimate", "std_error", "p_value")}},
        {"estimator": "Sun-Abraham, post-adoption ATT", **{k: sa_att[k] for k in ("estimate", "std_error", "p_value")}},
    ]
    truth = d["truth"].get("did")
    if truth is not None:
        for r in rows:
            r["truth"] = truth
    s.table(T.frame_table("did_robust", "TWFE beside heterogeneity-robust estimators", pd.DataFrame(rows), digits=4,
                          notes=["Callaway-Sant'Anna: never-treated controls, outcome regression, "
                                 f"standard errors from the multiplier bootstrap ({ctx.bootstrap} draws), as R's did."]))
    # event study figure
    et, est, lo, hi = _event_series(ev)
    series = {}
    e2, s2, l2, h2 = _event_series(sa)
    keep = [k for k, e in enumerate(e2) if min(et) <= e <= max(et)]  # the TWFE window
    series["Sun-Abraham"] = tuple([v[k] for k in keep] for v in (e2, s2, l2, h2))
    cst = cs.tidy()
    cst = cst[cst["term"].str.match(r"^e[+-]\d+$")].copy()
    if len(cst):
        cst["et"] = cst["term"].str[1:].astype(int)
        cst = cst[(cst["et"] >= min(et)) & (cst["et"] <= max(et))].sort_values("et")
        series["Callaway-Sant'Anna"] = (list(cst["et"]), list(cst["estimate"]), list(cst["conf_low"]),
                                        list(cst["conf_high"]))
    tr = None
    if d["truth"]:
        tr = [d["truth"].get(f"did_e{e}", 0.0 if e < 0 else np.nan) for e in et]
    s.figure(F.event_study_plot("did_event_study", "Event study: TWFE leads and lags (endpoints binned), "
                                "Sun-Abraham and Callaway-Sant'Anna", et, est, lo, hi, truth=tr, series=series))
    pre = dict(ev.diagnostics.get("pretrend", {}))
    # Bacon
    comps = [dict(c) for c in bac.diagnostics["comparisons"]]
    summ = [dict(r) for r in bac.diagnostics["summary"]]
    s.figure(F.bacon_plot("did_bacon", "Goodman-Bacon decomposition of the TWFE DID estimate",
                          [c["weight"] for c in comps], [c["estimate"] for c in comps],
                          [c["type"] for c in comps], overall=float(bac.params[0])))
    s.table(T.frame_table("did_bacon", "Goodman-Bacon decomposition: summary by comparison type",
                          pd.DataFrame(summ)[["type", "weight", "estimate", "n"]], digits=4))
    w = dict(twfe.diagnostics.get("dcdh_weights", {}))
    forbidden = next((r for r in summ if r["type"].startswith("Later vs Earlier")), None)
    txt = (
        f"TWFE gives {num(tw['estimate'], 4)} (SE {num(tw['std_error'], 4)}, p {pval(tw['p_value'])}). "
        f"The Callaway-Sant'Anna simple ATT is {num(cs_simple['estimate'], 4)} (SE {num(cs_simple['std_error'], 4)}) "
        f"and the Sun-Abraham post-adoption ATT {num(sa_att['estimate'], 4)} (SE {num(sa_att['std_error'], 4)})."
    )
    if truth is not None:
        txt += f" The true average effect in this synthetic draw is {num(truth, 4)}."
    s.p(txt)
    if pre:
        s.p(f"The joint pre-trend test of the {pre.get('df', '')} TWFE leads gives chi-square "
            f"{num(pre.get('statistic'), 2)}, p {pval(pre.get('p_value', float('nan')))}.")
    if forbidden is not None:
        s.p(f"In the Goodman-Bacon decomposition the 'later vs earlier treated' comparisons, which use "
            f"already-treated cities as controls, carry weight {num(forbidden['weight'], 3)} with average "
            f"estimate {num(forbidden['estimate'], 4)}; the weighted sum of all 2x2 estimates "
            f"reproduces TWFE up to {num(abs(bac.diagnostics['check_difference']), 2) if abs(bac.diagnostics['check_difference']) >= 0.01 else '< 0.01'}.")
    if w:
        s.p(f"de Chaisemartin-D'Haultfoeuille weights: {w.get('n_negative', 0)} of "
            f"{w.get('n_treated_obs', 0)} treated city-years get a negative weight (sum "
            f"{num(w.get('sum_negative', 0.0), 4)}).")
    s.values.update(twfe=tw, cs_simple=cs_simple, cs_dynamic=cs_dyn, sa=sa_att, truth=truth,
                    cohorts=[dict(c) for c in twfe.diagnostics.get("cohorts", [])],
                    pretrend_p=pre.get("p_value"),
                    forbidden_weight=None if forbidden is None else forbidden["weight"],
                    n_negative=w.get("n_negative"))
    return s


# ---------------------------------------------------------------------------- robustness
def compute_robustness(ctx: Context) -> dict[str, Any]:
    table = P.robustness(ctx.panel)
    checks = [{"label": m.label, "result": m.result, "term": m.term} for m in table.models]
    return {"checks": checks, "notdone": list(table.notdone), "truth": (ctx.truth or {}).get("robot"),
            "truth_lnco": (ctx.truth or {}).get("robot_lnco")}


def section_robustness(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("robustness", "Robustness")
    pairs = [(f"({i + 1})", _renamed(c["result"], {c["term"]: "robot"})) for i, c in enumerate(d["checks"])]
    tab = T.regression_table("robustness", "Robustness of the robot coefficient", pairs, terms=["robot"],
                             notes=["Columns: " + "; ".join(f"({i + 1}) {c['label']}" for i, c in enumerate(d["checks"])),
                                    "City and year FE, controls, city-clustered SE."])
    s.table(tab)
    vals = {c["label"]: _coef(c["result"], c["term"]) for c in d["checks"]}
    s.p("; ".join(f"{k}: {num(v['estimate'], 4)} (SE {num(v['std_error'], 4)})" for k, v in vals.items()) + ".")
    if d["notdone"]:
        s.p("Not run, with the reason:")
        s.items(d["notdone"])
    lnco, base = P.specs.ROBUSTNESS_LNCO, P.specs.ROBUSTNESS_BASELINE
    if lnco in vals and d["truth_lnco"] is not None and d["truth"] is not None:
        tl, ti = float(d["truth_lnco"]), float(d["truth"])
        txt = (f"In this synthetic draw the true effect on ln total CO2 is {num(tl, 4)}, against {num(ti, 4)} "
               f"on ln intensity (estimated: {num(vals[lnco]['estimate'], 4)} "
               f"and {num(vals[base]['estimate'], 4)}).")
        if abs(tl) < 0.5 * abs(ti):
            txt += (" Most of the fall in intensity comes from the denominator: robots raise industrial value "
                    "added while emissions barely move, as the model with fixed energy implies.")
        s.p(txt)
    s.values.update(checks=vals, notdone=d["notdone"])
    return s


# ---------------------------------------------------------------------------- IV
def compute_iv(ctx: Context) -> dict[str, Any]:
    table = P.iv(ctx.panel)
    models = [{"label": m.info["name"], "instruments": m.info["instruments"], "result": m.result}
              for m in table.models]
    return {"models": models, "notdone": list(table.notdone), "ols": table.data["ols"],
            "truth": (ctx.truth or {}).get("robot")}


def section_iv(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("iv", "IV estimates and weak-instrument diagnostics")
    models = d["models"]
    rows_extra: dict[str, list[Any]] = {k: [] for k in (
        "Instruments", "First-stage F (cluster)", "KP rk LM", "KP rk LM p-value", "Cragg-Donald Wald F",
        "KP rk Wald F", "Stock-Yogo 10% max. size", "Stock-Yogo 10% max. bias")}
    for m in models:
        w = m["result"].diagnostics["weak_iv"]
        fs = m["result"].diagnostics["first_stage"]["robot"]
        sy = w["stock_yogo"]
        rows_extra["Instruments"].append(len(m["instruments"]))
        rows_extra["First-stage F (cluster)"].append(fs["f_statistic"])
        rows_extra["KP rk LM"].append(w["kp_rk_lm"])
        rows_extra["KP rk LM p-value"].append(w["kp_rk_lm_pvalue"])
        rows_extra["Cragg-Donald Wald F"].append(w["cragg_donald_f"])
        rows_extra["KP rk Wald F"].append(w["kp_rk_wald_f"])
        rows_extra["Stock-Yogo 10% max. size"].append(sy["size"].get("0.10"))
        rows_extra["Stock-Yogo 10% max. bias"].append(sy["bias"].get("0.10"))
    pairs = [("OLS", d["ols"])] + [(m["label"][:3], m["result"]) for m in models]
    rows_extra = {k: [None] + v for k, v in rows_extra.items()}
    s.table(T.regression_table("iv", "IV-2SLS: robot instrumented, each instrument on its own", pairs,
                               terms=["robot"], rows_extra=rows_extra,
                               notes=["Columns: OLS = Table 2 column 2; " + "; ".join(m["label"] for m in models) + ".",
                                      "City and year FE, controls, city-clustered SE. KP: Kleibergen-Paap; "
                                      "Stock-Yogo critical values are for the Cragg-Donald F under i.i.d. errors "
                                      "and are compared with the KP Wald F as ivreg2 does (a rule of thumb)."]))
    vals = {}
    sent = []
    for m in models:
        res = m["result"]
        w = res.diagnostics["weak_iv"]
        c = _coef(res, "robot")
        cv = w["stock_yogo"]["size"].get("0.10")
        strong = V.instrument_strength(w["kp_rk_wald_f"], cv).strong
        vals[m["label"][:3]] = {"robot": c, "kp_rk_lm": w["kp_rk_lm"], "kp_rk_lm_pvalue": w["kp_rk_lm_pvalue"],
                                "cragg_donald_f": w["cragg_donald_f"], "kp_rk_wald_f": w["kp_rk_wald_f"],
                                "strong": strong}
        sent.append(f"{m['label']}: {num(c['estimate'], 4)} (SE {num(c['std_error'], 4)}); KP rk LM "
                    f"{num(w['kp_rk_lm'], 2)} (p {pval(w['kp_rk_lm_pvalue'])}), KP Wald F {num(w['kp_rk_wald_f'], 2)} "
                    f"{'above' if strong else 'below'} the Stock-Yogo 10% size critical value {num(cv, 2)}")
    s.items(sent)
    for r in d["notdone"]:
        s.p(f"Not computed: {r}.")
    if "(b)" in vals:
        s.p("Instrument (b) is built from robot itself: robot(t-1) x its change is correlated with "
            "robot(t) by construction, so its strength says nothing about exogeneity; any shock to "
            "carbon intensity that moves robot adoption also moves this instrument.")
    ols = _coef(d["ols"], "robot")
    truth = d["truth"]
    verdict = ("IV estimates: " + "; ".join(f"{k} {num(v['robot']['estimate'], 4)} (SE {num(v['robot']['std_error'], 4)})"
                                            for k, v in vals.items()) + f", against OLS {num(ols['estimate'], 4)}."
               + ("" if truth is None else f" Truth of the draw {num(truth, 4)}."))
    s.values.update(models=vals, ols=ols, verdict=verdict)
    return s


# ---------------------------------------------------------------------------- heterogeneity
def compute_heterogeneity(ctx: Context) -> dict[str, Any]:
    permutations = min(ctx.bootstrap, P.specs.HETEROGENEITY_MAX_PERMUTATIONS)
    table = P.heterogeneity(ctx.panel, permutations=permutations, seed=ctx.stream("permutation"))
    truth = {k: v for k, v in (ctx.truth or {}).items() if k.startswith("robot|")}
    return {"table": table, "groups": table.data["groups"], "rows": table.data["rows"],
            "missing": table.data["missing"], "permutations": permutations, "truth": truth}


def section_heterogeneity(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("heterogeneity", "Heterogeneity across city groups")
    rows = d["rows"]
    frame = pd.DataFrame(rows)
    s.table(T.frame_table("heterogeneity", "Split-sample robot coefficients and tests of equal coefficients",
                          frame, digits=4,
                          notes=["Chow: fully interacted pooled regression, clustered; SUEST: stacked joint "
                                 "covariance; permutation: group labels reassigned across cities "
                                 f"({d['permutations']} draws)."]))
    sent = []
    for r in rows:
        sig0 = V.significance(r["estimate 0"], r["SE 0"]).significant
        sig1 = V.significance(r["estimate 1"], r["SE 1"]).significant
        differ = V.equality_test(r["SUEST p"]).rejected
        sent.append(f"{r['grouping']}: {num(r['estimate 0'], 4)} vs {num(r['estimate 1'], 4)} "
                    f"({'significant' if sig0 else 'not significant'} / {'significant' if sig1 else 'not significant'} "
                    f"at 5%); equality {'rejected' if differ else 'not rejected'} (SUEST p {pval(r['SUEST p'])}, "
                    f"permutation p {pval(r['permutation p'])})")
    s.items(sent)
    if d["missing"]:
        s.p("Not computed (no column): " + ", ".join(d["missing"]) + ".")
    hv = V.heterogeneity_verdict(rows)
    n_diff, n_onesided = hv.n_rejected, hv.n_one_sided
    verdict = (f"In {n_onesided} of {len(rows)} splits the effect is significant in one group only, but equality "
               f"of the two coefficients is rejected in {n_diff} of {len(rows)}: significance in one group and "
               "not the other is not evidence of a difference.")
    s.p(verdict)
    s.values.update(rows=rows, verdict=verdict)
    return s


# ---------------------------------------------------------------------------- Table 3
def _part(t: P.PaperTable | None) -> dict[str, Any] | None:
    """A Table 3 part as the renderer reads it."""
    if t is None:
        return None
    return {"models": [{"label": m.info.get("name", m.label), "col": m.info.get("col", m.label),
                        "key": m.info.get("key"), "result": m.result,
                        "interaction": m.info.get("interaction")} for m in t.models],
            "missing": list(t.notdone), "table": t}


def compute_table3(ctx: Context) -> dict[str, Any]:
    t3 = P.table3(ctx.panel, bootstrap=ctx.bootstrap, seed=ctx.seed_from("threshold_bootstrap"))
    truth = {k: v for k, v in (ctx.truth or {}).items() if k.startswith("robot_x_")}
    return {"mech": _part(t3.mechanisms), "thr": _part(t3.thresholds), "reasons": list(t3.reasons),
            "truth": truth}


def section_table3(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("table3", "Table 3: mechanisms and thresholds")
    beside = []
    vals: dict[str, Any] = {}
    for r in d["reasons"]:
        s.p(f"Not computed: {r}.")
    for part in (d["mech"], d["thr"]):
        for r in (part or {}).get("missing", []):
            s.p(f"Not computed: {r}.")
    if d["mech"]:
        models = d["mech"]["models"]
        pairs = []
        for m in models:
            res = m["result"]
            it = m["interaction"]
            pairs.append((m["col"], _renamed(res, {m["col"]: "M", it: "M × robot"})))
        s.table(T.regression_table("table3_mechanisms", "Table 3 (columns 1-2): mechanism interactions, equation (22)",
                                   pairs, terms=["robot", "M", "M × robot"], r2="r2_with_fe",
                                   notes=["City and year FE, controls, city-clustered SE."]))
        for m in models:
            res = m["result"]
            it = m["interaction"]
            mv = pd.to_numeric(ctx.panel[m["col"]], errors="coerce").dropna().to_numpy()
            mef = pd.DataFrame([dict(r) for r in res.diagnostics["marginal_effect"]])
            me = {"grid": mef["moderator"].to_numpy(), "effect": mef["effect"].to_numpy(),
                  "low": mef["conf_low"].to_numpy(), "high": mef["conf_high"].to_numpy()}
            s.figure(F.marginal_effect_plot(f"table3_me_{m['col']}", f"Marginal effect of robot over {m['label']} "
                                            "(95% pointwise band)", me["grid"], me["effect"], me["low"],
                                            me["high"], xlabel=m["col"], rug=mv[:: max(1, len(mv) // 400)]))
            ci = _coef(res, it)
            rb = _coef(res, "robot")
            tr = d["truth"].get(f"robot_x_{m['col']}")
            share_neg = V.negative_share(me["high"]).share
            s.p(f"{m['label']}: interaction {num(ci['estimate'], 4)} (SE {num(ci['std_error'], 4)}, p {pval(ci['p_value'])}); "
                f"the marginal effect of robot is significantly negative over {num(100 * share_neg, 0)}% of the "
                f"range of {m['col']} shown." + ("" if tr is None else f" True interaction in this draw: {num(tr, 4)}."))
            vals[f"mech_{m['col']}"] = {"interaction": ci, "robot": rb, "truth": tr}
        beside += P.mechanisms_beside(d["mech"]["table"])
    if d["thr"]:
        models = d["thr"]["models"]
        pairs = [(m["label"], m["result"]) for m in models]
        tab = T.regression_table("table3_thresholds", "Table 3 (columns 3-5): single-threshold models, equation (24)",
                                 [(lab, _renamed(r, {"robot_regime1": "robot, T ≤ γ", "robot_regime2": "robot, T > γ"}))
                                  for lab, r in pairs], terms=["robot, T ≤ γ", "robot, T > γ"], r2="r2_within",
                                 rows_extra={
                                     "Threshold γ": [m["result"].diagnostics["thresholds"][0] for m in models],
                                     "Bootstrap F": [m["result"].diagnostics["tests"][0]["F"] for m in models],
                                     "Bootstrap p": [m["result"].diagnostics["tests"][0]["p_value"] for m in models],
                                     "Share above γ": [m["result"].diagnostics["regimes"][1]["share"] for m in models],
                                 },
                                 notes=["City and year FE, controls; slopes given γ with city-clustered SE; "
                                        f"Hansen (1999) bootstrap ({ctx.bootstrap} draws) of the single-threshold F; "
                                        f"{num(100 * d['thr']['table'].data['trim'], 0)}% trimming; "
                                        f"{d['thr']['table'].data['grid']} grid points."])
        s.table(tab)
        for m in models:
            res = m["result"]
            dg = res.diagnostics
            lr = dg["lr"][0]
            s.figure(F.lr_plot(f"table3_lr_{m['col']}", f"Likelihood ratio for the threshold in {m['label']}",
                               lr["gamma"], lr["lr"], critical=lr["critical_value"], threshold=lr["threshold"],
                               xlabel=m["col"]))
            lo, hi = _coef(res, "robot_regime1"), _coef(res, "robot_regime2")
            test = dg["tests"][0]
            share = dg["regimes"][1]["share"]
            sig = V.threshold_verdict(test["F"], test["p_value"]).significant
            s.p(f"{m['label']}: γ = {num(dg['thresholds'][0], 4)} (95% LR interval {num(dg['intervals'][0][0], 4)} to "
                f"{num(dg['intervals'][0][1], 4)}); robot slope {num(lo['estimate'], 4)} below and {num(hi['estimate'], 4)} "
                f"above; {num(100 * share, 1)}% of observations above; bootstrap F = {num(test['F'], 2)}, p "
                f"{pval(test['p_value'])}: the threshold is {'' if sig else 'not '}significant at 5%.")
            vals[f"thr_{m['key']}"] = {"low": lo, "high": hi, "F": test["F"], "p_value": test["p_value"],
                                       "gamma": dg["thresholds"][0], "share_above": share}
        beside += P.thresholds_beside(d["thr"]["table"])
    if beside:
        s.table(T.beside_table("table3_beside", "Table 3: the paper beside ours", beside, digits=4,
                               notes=["The paper's R² in columns 3-5 is evidently a within R²; ours is labelled."]))
    s.values.update(vals)
    s.values["beside"] = beside
    return s


# ---------------------------------------------------------------------------- Monte Carlo
def _scenarios():
    from robocarbon.simulate import scenarios

    return scenarios


def _mc_seed(ctx: Context) -> int:
    return ctx.seed_from("montecarlo")


def compute_montecarlo(ctx: Context) -> dict[str, Any]:
    from robocarbon.simulate.design import get_design

    base = ctx.design if ctx.design is not None else get_design("paper")
    seed = _mc_seed(ctx)
    rows = _scenarios().diagnose_scenarios(base, sims=ctx.sims, seed=seed, jobs=ctx.jobs,
                                           progress=bool(ctx.progress), bootstrap=ctx.bootstrap)
    return {"rows": rows, "seed": seed, "design": getattr(base, "name", "paper")}


def _kv_text(kv: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in kv.items()) or "defaults"


def section_montecarlo(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("montecarlo", "Monte Carlo: power, bias and coverage of the paper's estimators")
    df = pd.DataFrame(d["rows"])
    s.p(
        f"Each scenario draws synthetic panels from the calibrated '{d['design']}' design (with the "
        "named threat switched on), applies the paper's estimators, and compares them with the "
        "true estimand computed from the theory for each draw. Every scenario uses the same "
        f"replication streams (master seed {d['seed']}), so differences between scenarios are due "
        "to the threats, not to simulation noise. Monte Carlo standard errors are in the CSV."
        + ("" if ctx.source == "synthetic" else
           " The Monte Carlo always runs on the synthetic design, since it needs a known truth; "
           "it describes the paper's design, not the user's panel.")
    )
    # the scenarios: their settings and, from the simulator, what each threat does and predicts
    from robocarbon.simulate.threats import THREATS as threats

    scen_rows = []
    for label, kv, ests, _share in _scenarios().PAPER_SCENARIOS:  # noqa: B007
        pred = ""
        for t in threats.values():
            names = {x.strip() for x in str(t.get("params", "")).split(",")}
            if kv and set(kv) & names:
                pred = t.get("prediction", "")
                break
        sims = sorted({int(r) for r in df.loc[df["scenario"] == label, "sims"]})
        used = ", ".join(dict.fromkeys(df.loc[df["scenario"] == label, "estimator"])) or ests
        scen_rows.append({"scenario": label, "setting": _kv_text(kv), "estimators": used,
                          "replications": ", ".join(str(x) for x in sims), "predicted (simulator)": pred})
    s.table(T.frame_table("montecarlo_scenarios", "Monte Carlo scenarios: settings and predicted effects",
                          pd.DataFrame(scen_rows),
                          notes=["Threat knobs of the paper design (robocarbon.simulate.threats); the "
                                 "magnitudes are this report's settings."]))
    show = df.copy()
    show["estimator"] = [f"{e}: {t}" for e, t in zip(show["estimator"], show["term"])]
    cols = {"scenario": "scenario", "estimator": "estimator: term", "estimand": "estimand",
            "mean_estimate": "mean est.", "bias": "bias", "sd_estimate": "SD", "mean_se": "mean SE",
            "coverage": "coverage", "power": "power", "sims": "S"}
    tab = T.frame_table("montecarlo", "Monte Carlo diagnosands by scenario and estimator",
                        show[list(cols)].rename(columns=cols), digits=4,
                        notes=["coverage: share of 95% intervals containing the estimand; power: share "
                               "rejecting zero at 5%; S: replications; blank where the design defines no "
                               "estimand. Monte Carlo standard errors are in the CSV."])
    tab.data = df.drop(columns=["params"]).assign(setting=[_kv_text(k) for k in df["params"]])
    s.table(tab)
    for est in ("twfe", "iv", "did"):
        sub = df[(df["estimator"] == est)]
        if sub.empty:
            continue
        labels = list(sub["scenario"])
        panels = {
            "bias": (list(sub["bias"]), list(sub["bias_mcse"])),
            "coverage": (list(sub["coverage"]), list(sub["coverage_mcse"])),
            "power": (list(sub["power"]), list(sub["power_mcse"])),
        }
        s.figure(F.diagnosand_plot(f"mc_{est}", f"Monte Carlo diagnosands of the {est.upper()} estimator "
                                   "across scenarios (bars: ± 1.96 MCSE)", labels, panels,
                                   references={"bias": 0.0, "coverage": 0.95, "power": 0.05}))
    base = df[(df["scenario"] == _scenarios().BASELINE)].set_index("estimator")
    sentences = []
    for est in base.index:
        r = base.loc[est]
        sentences.append(
            f"{est}: bias {num(r['bias'], 4)} (MCSE {num(r['bias_mcse'], 4)}), coverage {num(r['coverage'], 3)}"
            f", power {num(r['power'], 3)} over {int(r['sims'])} replications"
        )
    s.p("Under the calibrated design without threats: " + "; ".join(sentences) + ".")
    tw = df[df["estimator"] == "twfe"].set_index("scenario")
    worst = tw["coverage"].idxmin() if len(tw) else None
    if worst is not None:
        s.p(f"The TWFE interval covers the truth least often under '{worst}' "
            f"(coverage {num(tw.loc[worst, 'coverage'], 3)}, bias {num(tw.loc[worst, 'bias'], 4)}).")
    thr = df[df["estimator"] == "threshold"]
    if len(thr):
        s.p(f"The threshold model is diagnosed with {int(thr['sims'].iloc[0])} replications only "
            "(each fit is a full grid search); its diagnosands are correspondingly rough.")
    s.values.update(rows=[{k: v for k, v in r.items() if k != "params"} for r in d["rows"]])
    return s


# ---------------------------------------------------------------------------- paper beside ours
BESIDE_SOURCES = (("table1", "Table 1"), ("table2", "Table 2"), ("table3", "Table 3"))


def compute_beside(ctx: Context) -> dict[str, Any]:
    rows = []
    notes = []
    for sid, label in BESIDE_SOURCES:
        sec = ctx.sections.get(sid)
        if sec is None or sec.status != "ok":
            notes.append(f"{label}: {'not run' if sec is None else sec.status + ' (' + str(sec.reason) + ')'}")
            continue
        for r in sec.values.get("beside", []):
            rows.append({"table": label, **r})
    if not rows:
        raise SectionUnavailable("no paper table could be computed: " + "; ".join(notes))
    return {"rows": rows, "notes": notes}


def section_beside(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("beside", "Every paper table beside ours")
    df = pd.DataFrame(d["rows"])
    df["difference"] = [None if (o is None or not np.isfinite(o)) else float(o) - float(p)
                        for o, p in zip(df["ours"], df["published"])]
    summary = []
    for tab in dict.fromkeys(r["table"] for r in d["rows"]):
        a = V.agreement(r for r in d["rows"] if r["table"] == tab)
        summary.append({"table": tab, "quantities": a.quantities, "compared": a.compared,
                        "mean_abs_difference": a.mean_abs_difference,
                        "coefficients_same_sign": a.coefficients_same_sign, "stars_agree": a.stars_agree})
    sm = pd.DataFrame(summary)
    s.table(T.frame_table("paper_beside_summary", "Agreement with the printed numbers, by table", sm,
                          notes=["coefficients_same_sign and stars_agree are shares of the compared coefficients."]))
    full = T.beside_table("paper_beside_all", "All published numbers beside ours", 
                          [{"quantity": f"{r['table']}: {r['quantity']}", "published": r["published"], "ours": r["ours"]}
                           for r in d["rows"]], digits=4)
    s.table(full)
    if ctx.source == "synthetic":
        s.p("These differences compare a synthetic draw with the paper's real data: they measure how "
            "well the calibration reproduces the printed moments and estimates, not a replication failure.")
    for n in d["notes"]:
        s.p(f"Not compared: {n}.")
    s.values["summary"] = summary
    return s


# ---------------------------------------------------------------------------- verdicts
def _sec(ctx: Context, sid: str) -> Section | None:
    sec = ctx.sections.get(sid)
    return sec if sec is not None and sec.status == "ok" else None


def _mc_row(ctx: Context, scenario: str, est: str) -> dict[str, Any] | None:
    mc = _sec(ctx, "montecarlo")
    if mc is None:
        return None
    for r in mc.values.get("rows", []):
        if r["scenario"] == scenario and r["estimator"] == est:
            return r
    return None


def compute_verdicts(ctx: Context) -> dict[str, Any]:
    return {"available": [k for k, v in ctx.sections.items() if v.status == "ok"]}


def section_verdicts(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("verdicts", "Verdicts: what the theory, the data and the design support")
    th, t2, t3, did, mc, rob, het, iv = (_sec(ctx, k) for k in
                                         ("theory", "table2", "table3", "did", "montecarlo", "robustness",
                                          "heterogeneity", "iv"))
    data_label = "this synthetic draw" if ctx.source == "synthetic" else "the user's panel"
    unavailable = "not computed in this run"

    def block(title: str, theory: str, data: str, design: str) -> None:
        html = (f'<div class="verdict"><h3>{_html.escape(title)}</h3><ul>'
                f"<li><strong>Theory.</strong> {_html.escape(theory)}</li>"
                f"<li><strong>Data.</strong> {_html.escape(data)}</li>"
                f"<li><strong>Design.</strong> {_html.escape(design)}</li></ul></div>")
        md = f"### {title}\n\n- **Theory.** {theory}\n- **Data.** {data}\n- **Design.** {design}\n"
        s.raw(html, md)

    # H1
    if th is not None:
        c = th.values["claims"]
        cond = th.values["claims_conditions"]
        word = {"yes": "holds", "no": "does not hold", "conditional": "holds only under conditions"}
        theory = (f"The paper's sign claim d ln indco / d ln M = -beta(I-N+1) < 0 "
                  f"{word.get(c.get('robot_elasticity_fixed_energy'), 'was not checked')}: "
                  f"{cond.get('robot_elasticity_fixed_energy', '')} With energy chosen optimally at a given price "
                  f"it {word.get(c.get('energy_priced'), 'was not checked')}; with an upward-sloping energy supply "
                  f"it {word.get(c.get('energy_elastic_supply'), 'was not checked')}. That a constant coefficient "
                  f"on robot in levels is the theory's effect {word.get(c.get('log_versus_level'), 'was not checked')}.")
    else:
        theory = f"Theory {unavailable}."
    if t2 is not None:
        cf = t2.values["coefs"]
        c2 = cf["(2)"]
        data = (f"In {data_label} the baseline coefficient is {num(c2['estimate'], 4)} (SE {num(c2['std_error'], 4)}, "
                f"p {pval(c2['p_value'])}); lags 1-5: " + ", ".join(num(cf[f'({k})']['estimate'], 4) for k in range(3, 8))
                + f", {'growing' if t2.values['lags_grow'] else 'not growing'} in magnitude.")
        if ctx.truth and "robot" in ctx.truth:
            data += f" The truth of the draw is {num(ctx.truth['robot'], 4)}."
            lags = [ctx.truth.get(f"robot_lag{k}") for k in range(1, 6)]
            if all(v is not None for v in lags):
                data += (" The true effects of robot lagged 1-5 years are " + ", ".join(num(v, 4) for v in lags)
                         + "; the lag columns regress on one lag at a time, so with a persistent robot series "
                           "they pick up the contemporaneous effect too, and their growth need not mean "
                           "that the effect grows.")
    else:
        data = f"Table 2 {unavailable}."
    SC = _scenarios()
    r0 = _mc_row(ctx, SC.BASELINE, "twfe")
    if r0 is not None:
        design = (f"Under the calibrated design TWFE has bias {num(r0['bias'], 4)}, coverage {num(r0['coverage'], 3)} "
                  f"and power {num(r0['power'], 3)} ({int(r0['sims'])} replications).")
        threats = []
        for label, _kv, ests, _sh in SC.PAPER_SCENARIOS[1:]:
            if "twfe" not in ests:
                continue
            r = _mc_row(ctx, label, "twfe")
            if r is None or r["coverage"] is None or not np.isfinite(r["coverage"]):
                continue
            # below nominal by more than two binomial standard errors of a 0.95 coverage
            if V.coverage_verdict(r["coverage"], int(r["sims"])).status == "undercovers":
                threats.append(f"{label} (coverage {num(r['coverage'], 2)}, bias {num(r['bias'], 4)})")
        design += (" Threats under which its 95% interval undercovers (by more than two binomial standard "
                   "errors): " + "; ".join(threats) + "." if threats
                   else " No simulated threat made its 95% interval undercover by more than two binomial "
                        "standard errors at this number of replications.")
    else:
        design = f"Monte Carlo {unavailable}."
    block("H1: robots reduce industrial carbon intensity, more so with lags", theory, data, design)

    # H2 / H3 mechanisms
    for col, title in (("gpatent", "H2: green innovation is a mechanism"),
                       ("hmatch", "H3: human-machine matching is a mechanism")):
        v = t3.values.get(f"mech_{col}") if t3 is not None else None
        theory = ("The task model of section 2 has no role for green patents or matching: the robot "
                  "elasticity -beta(I-N+1) involves neither, so the mechanism is an added hypothesis, not "
                  "a derived one." if th is not None else f"Theory {unavailable}.")
        if v is not None:
            ci = v["interaction"]
            data = (f"In {data_label} the robot x {col} interaction is {num(ci['estimate'], 4)} "
                    f"(SE {num(ci['std_error'], 4)}, p {pval(ci['p_value'])}).")
            if v.get("truth") is not None:
                data += f" The draw's true interaction is {num(v['truth'], 4)}."
        else:
            data = f"The {col} model {unavailable} (see Table 3)."
        design = ("An interaction of robot with a variable that is itself correlated with robot and trends "
                  "identifies moderation, not mediation: a significant coefficient does not show the channel.")
        block(title, theory, data, design)

    # thresholds
    if t3 is not None and any(k.startswith("thr_") for k in t3.values):
        parts = []
        for label, _cols, key in P.specs.THRESHOLD_VARS:
            v = t3.values.get(f"thr_{key}")
            if v is not None:
                parts.append(f"{label}: F {num(v['F'], 2)}, p {pval(v['p_value'])}, slopes {num(v['low']['estimate'], 4)} "
                             f"/ {num(v['high']['estimate'], 4)}")
        data = f"In {data_label}: " + "; ".join(parts) + "."
    else:
        data = f"Threshold models {unavailable}."
    rthr = _mc_row(ctx, SC.THRESHOLD_SCENARIO, "twfe")
    thr_rows = [r for r in (mc.values.get("rows", []) if mc is not None else [])
                if r["scenario"] == SC.THRESHOLD_SCENARIO and r["estimator"] == "threshold"]
    r2s = [r["r2"] for r in ctx.published["table3"] if r["model"] == "threshold"]
    design = ("" if rthr is None else
              f"With a true threshold in human capital the pooled TWFE estimate has bias {num(rthr['bias'], 4)} relative to "
              "the average effect; ")
    if thr_rows:
        design += ("the threshold model's regime slopes have bias " + " and ".join(num(r["bias"], 4) for r in thr_rows)
                   + " and power " + " and ".join(num(r["power"], 2) for r in thr_rows)
                   + f" ({int(thr_rows[0]['sims'])} replications); ")
    design += (f"the paper's R² of {num(min(r2s), 3)}-{num(max(r2s), 3)} in these columns is a within R², not "
               "comparable with Table 2's.")
    block("Thresholds in internet, human capital and sci-tech spending",
          "The model has a single robot elasticity; a threshold enters only if beta(I-N+1) varies with the "
          "threshold variable (claim robots_versus_tasks: it grows with automated tasks I).", data, design)

    # DID
    if did is not None:
        v = did.values
        data = (f"TWFE DID {num(v['twfe']['estimate'], 4)} (SE {num(v['twfe']['std_error'], 4)}); Callaway-Sant'Anna "
                f"{num(v['cs_simple']['estimate'], 4)} (SE {num(v['cs_simple']['std_error'], 4)}); Sun-Abraham "
                f"{num(v['sa']['estimate'], 4)}." + ("" if v.get("truth") is None else f" Truth {num(v['truth'], 4)}."))
    else:
        data = f"DID {unavailable}."
    rd = _mc_row(ctx, SC.BASELINE, "did")
    rdd = _mc_row(ctx, "dynamic, cohort-heterogeneous DID effects", "did")
    cohorts = did.values.get("cohorts", []) if did is not None else []
    treated = [c for c in cohorts if c.get("cohort") not in (None, 0) and np.isfinite(float(c["cohort"]))]
    design = ""
    if rd is not None:
        design += f"Under the calibrated design the TWFE DID has power {num(rd['power'], 3)}"
        if treated:
            design += (f" (the panel here has {sum(c['entities'] for c in treated)} treated cities in "
                       f"{len(treated)} adoption cohorts)")
        design += "; "
    if rdd is not None:
        design += (f"with effects growing after adoption its bias is {num(rdd['bias'], 4)} "
                   f"(coverage {num(rdd['coverage'], 3)}).")
    block("The pilot-zone DID confirms the effect", "The pilot zones move robot adoption (I or M); the theory "
          "predicts lower intensity only with energy held fixed (see H1).", data, design or f"Monte Carlo {unavailable}.")

    # IV and heterogeneity
    if iv is not None:
        riv = _mc_row(ctx, SC.BASELINE, "iv")
        rweak = _mc_row(ctx, "weak instrument", "iv")
        rconf = _mc_row(ctx, "shift-share confounding", "iv")
        rconf_t = _mc_row(ctx, "shift-share confounding", "twfe")
        design = ""
        if riv is not None:
            design += (f"The leave-one-out province IV has bias {num(riv['bias'], 4)}, coverage {num(riv['coverage'], 3)} "
                       f"and power {num(riv['power'], 3)} under the calibrated design")
            if rweak is not None:
                design += (f"; with a weak instrument its SD rises to {num(rweak['sd_estimate'], 4)} and power falls "
                           f"to {num(rweak['power'], 3)}")
            if rconf is not None and rconf_t is not None:
                design += (f"; under shift-share confounding TWFE is biased by {num(rconf_t['bias'], 4)} and the IV by "
                           f"{num(rconf['bias'], 4)}")
            design += "."
        else:
            design = f"Monte Carlo {unavailable}."
        block("IV estimates confirm the baseline", "Exogeneity of the instruments is an assumption outside the "
              "model; the theory gives no instrument.", iv.values.get("verdict", ""), design)
    if het is not None:
        block("Heterogeneity across city groups", "The model predicts larger effects where more tasks are automated "
              "(claim robots_versus_tasks).", het.values.get("verdict", ""), "Split-sample differences are tested "
              "with equal-coefficient tests, not judged by significance in each group.")
    headline = _headline_rows(ctx, t2, t3, did, iv)
    if headline:
        frame = pd.DataFrame(headline, columns=["estimate", "paper", "ours", "ours_se", "truth"])
        tab = T.frame_table("headline", "At a glance: the paper's key estimates, ours and (synthetic) the truth",
                            frame, digits=4, notes=["truth: the estimand of the synthetic draw, from the theory; "
                                                    "blank for a user panel or where the design defines none."])
        s.blocks.insert(0, Block("table", tab))
    s.values["available"] = d["available"]
    s.values["headline"] = headline
    return s


def _headline_rows(ctx: Context, t2, t3, did, iv) -> list[dict[str, Any]]:
    pub = ctx.published
    truth = ctx.truth or {}
    rows: list[dict[str, Any]] = []

    def add(label: str, paper: Any, c: Mapping[str, float] | None, tr: Any = None) -> None:
        if c is None:
            return
        rows.append({"estimate": label, "paper": paper, "ours": c["estimate"], "ours_se": c["std_error"],
                     "truth": tr})

    if t2 is not None:
        cf = t2.values["coefs"]
        add("robot, baseline with controls (Table 2 col 2)", pub["table2"][1]["coef"], cf.get("(2)"), truth.get("robot"))
        # regressing on robot(t-5) alone has no estimand in the design (it mixes the lag's own effect
        # with the persistence of robot), so no truth is quoted
        add("robot lagged 5 years (Table 2 col 7)", pub["table2"][6]["coef"], cf.get("(7)"))
    if iv is not None:
        m = iv.values["models"].get("(a)")
        add("robot, IV (a) province leave-one-out mean", None, None if m is None else m["robot"], truth.get("robot"))
    if t3 is not None:
        p3 = {(r.get("M") or r.get("T")): r for r in pub["table3"]}
        for col in ("gpatent", "hmatch"):
            v = t3.values.get(f"mech_{col}")
            if v is not None:
                add(f"robot x {col} (Table 3)", p3[col]["M_x_robot"][0], v["interaction"], v.get("truth"))
        for label, _cols, key in P.specs.THRESHOLD_VARS:
            v = t3.values.get(f"thr_{key}")
            if v is not None:
                add(f"robot above the {label} threshold (Table 3)", p3[key]["robot_high"][0], v["high"])
    if did is not None:
        add("pilot-zone DID, TWFE", None, did.values["twfe"], did.values.get("truth"))
        add("pilot-zone DID, Callaway-Sant'Anna", None, did.values["cs_simple"], did.values.get("truth"))
    return rows


# ---------------------------------------------------------------------------- the registry
@dataclass
class Spec:
    id: str
    title: str
    compute: Callable[[Context], Any]
    render: Callable[[Any, Context], Section]


SECTIONS: list[Spec] = [
    Spec("theory", "Theory: the paper's equations (1)-(17) re-derived", compute_theory, section_theory),
    Spec("data", "Data and design", compute_data, section_data),
    Spec("table1", "Table 1: descriptive statistics", compute_table1, section_table1),
    Spec("table2", "Table 2: baseline two-way fixed effects and lags 1-5", compute_table2, section_table2),
    Spec("iv", "IV estimates and weak-instrument diagnostics", compute_iv, section_iv),
    Spec("table3", "Table 3: mechanisms and thresholds", compute_table3, section_table3),
    Spec("did", "Staggered DID: two-integration pilot zones", compute_did, section_did),
    Spec("robustness", "Robustness", compute_robustness, section_robustness),
    Spec("heterogeneity", "Heterogeneity across city groups", compute_heterogeneity, section_heterogeneity),
    Spec("montecarlo", "Monte Carlo: power, bias and coverage of the paper's estimators",
         compute_montecarlo, section_montecarlo),
    Spec("beside", "Every paper table beside ours", compute_beside, section_beside),
    Spec("verdicts", "Verdicts: what the theory, the data and the design support", compute_verdicts,
         section_verdicts),
]


def register(spec: Spec, *, before: str | None = None) -> None:
    ids = [s.id for s in SECTIONS]
    if spec.id in ids:
        SECTIONS[ids.index(spec.id)] = spec
    elif before in ids:
        SECTIONS.insert(ids.index(before), spec)
    else:
        SECTIONS.append(spec)


# ============================================================================ rendering
def block_html(b: Block) -> str:
    if b.kind == "p":
        return f"<p>{_html.escape(b.content)}</p>"
    if b.kind == "list":
        return "<ul>" + "".join(f"<li>{_html.escape(i)}</li>" for i in b.content) + "</ul>"
    if b.kind == "table":
        return (f'<div class="table-wrap">{b.content.to_html()}'
                f'<p class="files">tables/{b.content.name}.tex, tables/{b.content.name}.csv</p></div>')
    if b.kind == "figure":
        f = b.content
        return (f'<figure id="fig-{_html.escape(f.name)}"><img src="{f.data_uri()}" '
                f'alt="{_html.escape(f.caption)}"><figcaption>{_html.escape(f.caption)} '
                f'<span class="files">(figures/{f.name}.png, .svg)</span></figcaption></figure>')
    if b.kind == "equation":
        e = b.content
        cap = f'<span class="eqcap">{_html.escape(e["caption"])}</span>' if e["caption"] else ""
        return f'<div class="equation"><span class="eqno">({_html.escape(e["id"])})</span>{e["mathml"]}{cap}</div>'
    if b.kind == "html":
        return b.content
    raise ValueError(b.kind)


def block_markdown(b: Block) -> str:
    if b.kind == "p":
        return b.content + "\n"
    if b.kind == "list":
        return "\n".join(f"- {i}" for i in b.content) + "\n"
    if b.kind == "table":
        return b.content.to_markdown()
    if b.kind == "figure":
        f = b.content
        return f"![{f.caption}](figures/{f.name}.png)\n\n*{f.caption}*\n"
    if b.kind == "equation":
        e = b.content
        return f"$$ {e['latex']} \\qquad ({e['id']}) $$\n" + (f"\n{e['caption']}\n" if e["caption"] else "")
    if b.kind == "html":
        return (b.markdown or "") + "\n"
    raise ValueError(b.kind)


def _template(name: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda n: resources.files("robocarbon.reports").joinpath(f"templates/{n}").read_text(encoding="utf-8")
        ),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name)


def render_html(sections: Sequence[Section], meta: Mapping[str, Any]) -> str:
    secs = [
        {"id": s.id, "title": s.title, "status": s.status, "reason": s.reason,
         "body": "\n".join(block_html(b) for b in s.blocks)}
        for s in sections
    ]
    return _template("report.html.j2").render(sections=secs, meta=meta, esc=_html.escape)


def render_markdown(sections: Sequence[Section], meta: Mapping[str, Any]) -> str:
    secs = [
        {"id": s.id, "title": s.title, "status": s.status, "reason": s.reason,
         "body": "\n".join(block_markdown(b) for b in s.blocks)}
        for s in sections
    ]
    return _template("report.md.j2").render(sections=secs, meta=meta)


# ============================================================================ orchestration
def _progress(total: int, enabled: bool | None):
    from tqdm.auto import tqdm

    disable = (not sys.stderr.isatty()) if enabled is None else (not enabled)
    return tqdm(total=total, desc="replicate", unit="section", file=sys.stderr, disable=disable)


def compute_sections(ctx: Context, *, only: Sequence[str] | None = None, strict: bool = False,
                     progress: bool | None = None) -> list[Section]:
    """Compute and render every registered section (or those in ``only``) in order.

    A section whose inputs are unavailable is kept with status ``skipped`` and its reason; an
    unexpected error is kept with status ``failed`` and the error (``strict=True`` re-raises).
    """
    specs = [s for s in SECTIONS if only is None or s.id in only]
    out: list[Section] = []
    bar = _progress(len(specs), progress)
    ctx.progress = not bar.disable  # long sections (Monte Carlo) show their own bar below
    try:
        for spec in specs:
            bar.set_postfix_str(spec.id)
            t0 = time.perf_counter()
            c0 = time.process_time()
            try:
                inputs = spec.compute(ctx)
                ctx.results[spec.id] = inputs
                sec = spec.render(inputs, ctx)
            except SectionUnavailable as exc:
                sec = Section(spec.id, spec.title, status="skipped", reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - shown in the report, never hidden
                if strict:
                    raise
                sec = Section(spec.id, spec.title, status="failed",
                              reason=f"{type(exc).__name__}: {exc}")
                sec.values["traceback"] = traceback.format_exc()
            sec.values["seconds"] = time.perf_counter() - t0
            sec.values["cpu_seconds"] = time.process_time() - c0
            ctx.sections[spec.id] = sec
            out.append(sec)
            bar.update(1)
    finally:
        bar.close()
    return out


def write_outputs(sections: Sequence[Section], out: str | os.PathLike, meta: Mapping[str, Any], *,
                  seed: int, config: Mapping[str, Any], inputs: Sequence[str] = (),
                  wall_start: float | None = None, argv: list[str] | None = None) -> Path:
    """Write the whole output folder atomically: everything goes into a temporary sibling
    folder, which takes the place of ``out`` only when complete (a failure leaves no partial
    output) and only as the output policy allows (:func:`robocarbon.empirics.outputs.commit_folder`:
    an absent, empty or clean robocarbon folder is replaced; any other folder is refused unless
    ``--force``, and then only robocarbon's files are written into it)."""
    from robocarbon.empirics import outputs as O

    O.check_folder(out, replace=True)
    tmp = O.staging_folder(out)
    try:
        for sec in sections:
            for t in sec.tables:
                write_text_atomic(tmp / "tables" / f"{t.name}.tex", t.to_latex())
                write_text_atomic(tmp / "tables" / f"{t.name}.csv", t.to_csv())
            for f in sec.figures:
                F.save_figure(f, tmp / "figures")
            for rel, text in sec.files.items():
                write_text_atomic(tmp / rel, text)
        write_text_atomic(tmp / "report.html", render_html(sections, meta))
        write_text_atomic(tmp / "report.md", render_markdown(sections, meta))
        write_json_atomic(tmp / "results.json", {
            "sections": [
                {"id": s.id, "title": s.title, "status": s.status, "reason": s.reason,
                 "values": {k: v for k, v in s.values.items() if k != "traceback"}}
                for s in sections
            ],
            "meta": dict(meta),
        })
        wall = None if wall_start is None else time.perf_counter() - wall_start
        write_manifest(
            tmp, seed=seed, config=dict(config), inputs=list(inputs), wall_time=wall, argv=argv,
            outputs=sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")
                           if p.is_file() and p.name != O.LEDGER),
            sections={s.id: s.status for s in sections},
        )
        return O.commit_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_report(
    out: str | os.PathLike,
    *,
    panel: pd.DataFrame | None = None,
    data_path: str | None = None,
    seed: int = 20240101,
    sims: int = 200,
    jobs: int = 1,
    bootstrap: int = 299,
    progress: bool | None = None,
    strict: bool = False,
    only: Sequence[str] | None = None,
    argv: list[str] | None = None,
) -> tuple[Path, list[Section]]:
    """Run the replication and write the report folder.

    Parameters
    ----------
    out
        Output folder (replaced atomically).
    panel
        The user's panel (already loaded and validated); ``None`` draws the calibrated
        synthetic ``paper`` design with ``seed``.
    seed
        Master seed; independent streams per purpose via ``SeedSequence.spawn``.
    sims
        Monte Carlo replications per scenario.
    """
    t0 = time.perf_counter()
    from robocarbon.empirics.outputs import check_folder

    check_folder(out, replace=True)  # refuse a user's folder before any work
    if panel is None:
        from robocarbon.simulate.design import get_design

        design = get_design("paper")
        ctx = Context(panel=pd.DataFrame(), source="synthetic", seed=seed, sims=sims, jobs=jobs,
                      bootstrap=bootstrap)
        draw = design.draw(ctx.stream("design"))
        ctx.panel = draw.panel
        ctx.design = design
        ctx.truth = dict(draw.truth)
    else:
        ctx = Context(panel=panel, source="user", seed=seed, sims=sims, data_path=data_path, jobs=jobs,
                      bootstrap=bootstrap)
    sections = compute_sections(ctx, only=only, strict=strict, progress=progress)
    meta = {
        "title": "Industrial robots and urban industrial carbon intensity: a replication report",
        "paper": ctx.published.get("citation", ctx.published.get("source")),
        "source": ctx.source,
        "data_path": data_path,
        "seed": seed,
        "sims": sims,
        "bootstrap": bootstrap,
        "created": provenance()["created"],
        "git_commit": provenance()["git_commit"],
        "sections": [(s.id, s.title, s.status) for s in sections],
    }
    config = {"seed": seed, "sims": sims, "data": data_path, "jobs": jobs, "bootstrap": bootstrap,
              "design": getattr(ctx.design, "name", None) if ctx.source == "synthetic" else None}
    path = write_outputs(sections, out, meta, seed=seed, config=config,
                         inputs=[data_path] if data_path else [], wall_start=t0, argv=argv)
    return path, sections
