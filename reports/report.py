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
"""

from __future__ import annotations

import contextlib
import html as _html
import math
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics.provenance import (
    provenance,
    to_json,
    write_json_atomic,
    write_manifest,
    write_text_atomic,
)

from . import figures as F
from . import tables as T
from .mathml import to_latex, to_mathml

CONTROLS = ("edu", "urban", "lnpop", "lnpgdp", "energ", "fin", "open")
REQUIRED = ("city", "year", "lnindco", "robot")
TABLE1_VARS = ("lnindco", "robot") + CONTROLS

# names of the independent random streams (SeedSequence.spawn), by purpose; appending a new
# purpose at the end never changes the earlier streams
STREAMS = ("design", "montecarlo", "permutation", "threshold_bootstrap", "did_bootstrap", "spare")


class SectionUnavailable(Exception):
    """A section cannot be computed; the message is the reason shown in the report."""


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
    jobs: int = 1
    progress: Any = None

    def stream(self, name: str) -> np.random.Generator:
        """An independent generator per purpose, from SeedSequence(seed).spawn."""
        children = np.random.SeedSequence(self.seed).spawn(len(STREAMS))
        return np.random.default_rng(children[STREAMS.index(name)])

    def has(self, *cols: str) -> bool:
        return all(c in self.panel.columns for c in cols)

    def require(self, *cols: str, why: str = "") -> None:
        missing = [c for c in cols if c not in self.panel.columns]
        if missing:
            raise SectionUnavailable(
                f"the panel has no column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                + (f" ({why})" if why else "")
            )

    @property
    def controls(self) -> list[str]:
        return [c for c in CONTROLS if c in self.panel.columns]


def num(x: Any, digits: int = 3) -> str:
    """A computed number for prose."""
    return T.fmt(x, digits)


def pval(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _import(modname: str, what: str):
    """Import a peer module, or make the section unavailable with the reason."""
    import importlib

    try:
        return importlib.import_module(modname)
    except ImportError as exc:
        raise SectionUnavailable(f"{what} is not available ({modname}: {exc})") from exc


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


# ---------------------------------------------------------------------------- table 1
def compute_table1(ctx: Context) -> dict[str, Any]:
    p = ctx.panel
    rows = []
    for v in TABLE1_VARS:
        if v not in p.columns:
            continue
        x = pd.to_numeric(p[v], errors="coerce").dropna()
        rows.append({"variable": v, "n": int(x.size), "mean": float(x.mean()), "sd": float(x.std(ddof=1)),
                     "max": float(x.max()), "min": float(x.min())})
    missing = [v for v in TABLE1_VARS if v not in p.columns]
    return {"rows": rows, "missing": missing}


def section_table1(d: Mapping[str, Any], ctx: Context) -> Section:
    s = Section("table1", "Table 1: descriptive statistics")
    frame = pd.DataFrame(d["rows"], columns=["variable", "n", "mean", "sd", "max", "min"])
    s.table(T.frame_table("table1", "Table 1. Descriptive statistics (this panel)", frame,
                          notes=["sd: sample standard deviation (n - 1)."]))
    if d["missing"]:
        s.p("Not in this panel, so not described: " + ", ".join(d["missing"]) + ".")
    pub = ctx.published["table1"]
    rows = []
    for r in d["rows"]:
        if r["variable"] in pub:
            for stat in ("mean", "sd", "max", "min"):
                rows.append({"quantity": f"{r['variable']} {stat}", "published": pub[r["variable"]][stat],
                             "ours": r[stat]})
    s.table(T.beside_table("table1_beside", "Table 1: the paper beside ours", rows))
    s.values["table1"] = {r["variable"]: r for r in d["rows"]}
    s.values["beside"] = rows
    return s


# ---------------------------------------------------------------------------- the registry
@dataclass
class Spec:
    id: str
    title: str
    compute: Callable[[Context], Any]
    render: Callable[[Any, Context], Section]


SECTIONS: list[Spec] = [
    Spec("data", "Data and design", compute_data, section_data),
    Spec("table1", "Table 1: descriptive statistics", compute_table1, section_table1),
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
def _md_escape_cell(s: str) -> str:
    return s


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
    try:
        for spec in specs:
            bar.set_postfix_str(spec.id)
            t0 = time.perf_counter()
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
            out.append(sec)
            bar.update(1)
    finally:
        bar.close()
    return out


def write_outputs(sections: Sequence[Section], out: str | os.PathLike, meta: Mapping[str, Any], *,
                  seed: int, config: Mapping[str, Any], inputs: Sequence[str] = (),
                  wall_start: float | None = None, argv: list[str] | None = None) -> Path:
    """Write the whole output folder atomically: everything goes into a temporary sibling
    folder, which replaces ``out`` only when complete (a failure leaves no partial output)."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        (tmp / "tables").mkdir()
        (tmp / "figures").mkdir()
        for sec in sections:
            for t in sec.tables:
                write_text_atomic(tmp / "tables" / f"{t.name}.tex", t.to_latex())
                write_text_atomic(tmp / "tables" / f"{t.name}.csv", t.to_csv())
            for f in sec.figures:
                F.save_figure(f, tmp / "figures")
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
            outputs=sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()),
            sections={s.id: s.status for s in sections},
        )
        backup = None
        if out.exists():
            backup = out.with_name(f".{out.name}.old.{os.getpid()}")
            os.replace(out, backup)
        os.replace(tmp, out)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def build_report(
    out: str | os.PathLike,
    *,
    panel: pd.DataFrame | None = None,
    data_path: str | None = None,
    seed: int = 20240101,
    sims: int = 200,
    jobs: int = 1,
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
    if panel is None:
        design_mod = _import("robocarbon.simulate.design", "the simulator")
        design = design_mod.get_design("paper")
        ctx = Context(panel=pd.DataFrame(), source="synthetic", seed=seed, sims=sims, jobs=jobs)
        draw = design.draw(ctx.stream("design"))
        ctx.panel = draw.panel
        ctx.design = design
        ctx.truth = dict(draw.truth)
    else:
        ctx = Context(panel=panel, source="user", seed=seed, sims=sims, data_path=data_path, jobs=jobs)
        with contextlib.suppress(SectionUnavailable):
            ctx.design = _import("robocarbon.simulate.design", "the simulator").get_design("paper")
    sections = compute_sections(ctx, only=only, strict=strict, progress=progress)
    meta = {
        "title": "Industrial robots and urban industrial carbon intensity: a replication report",
        "paper": ctx.published.get("citation", ctx.published.get("source")),
        "source": ctx.source,
        "data_path": data_path,
        "seed": seed,
        "sims": sims,
        "created": provenance()["created"],
        "git_commit": provenance()["git_commit"],
        "sections": [(s.id, s.title, s.status) for s in sections],
    }
    config = {"seed": seed, "sims": sims, "data": data_path, "jobs": jobs,
              "design": getattr(ctx.design, "name", None) if ctx.source == "synthetic" else None}
    path = write_outputs(sections, out, meta, seed=seed, config=config,
                         inputs=[data_path] if data_path else [], wall_start=t0, argv=argv)
    return path, sections
