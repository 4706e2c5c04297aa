"""``robocarbon did``: staggered DID on any panel file.

TWFE (as in the paper), the TWFE event study, the Goodman-Bacon decomposition, the
de Chaisemartin-D'Haultfoeuille weights, Callaway-Sant'Anna and Sun-Abraham, side by side.
"""

from __future__ import annotations

import sys
import time as _time
from pathlib import Path

from robocarbon.empirics.errors import InputError

NAME = "did"
HELP = "staggered DID: TWFE, event study, Goodman-Bacon, dCDH weights, Callaway-Sant'Anna, Sun-Abraham"
DESCRIPTION = (
    "Staggered-adoption difference-in-differences on a long panel with an adoption-time column "
    "(first treated period; 0 or missing = never treated). Methods: twfe (two-way fixed effects "
    "with clustered SEs and de Chaisemartin-D'Haultfoeuille weights), event (TWFE event study with "
    "a pre-trend test), bacon (Goodman-Bacon decomposition; balanced panel, no controls), cs "
    "(Callaway-Sant'Anna ATT(g,t) with aggregations, bootstrap SEs and uniform bands), sa "
    "(Sun-Abraham interaction-weighted event study), all."
)
METHODS = ("twfe", "event", "bacon", "cs", "sa")
INPUTS = ("data",)


def _plot_paths(plot) -> list[Path]:
    if not plot:
        return []
    p = Path(plot)
    return [p.with_suffix(".png"), p.with_suffix(".svg")] if p.suffix == "" else [p]


def _primary_output(args) -> Path | None:
    return planned_outputs(args).files[0] if (args.json or args.plot) else None


def planned_outputs(args):
    from .cli import file_outputs

    return file_outputs(args.json, *_plot_paths(args.plot))


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help="panel file (CSV, Parquet, .dta, .xlsx)")
    parser.add_argument("--y", required=True, help="outcome column")
    parser.add_argument("--entity", required=True, help="entity (city) column; also the cluster")
    parser.add_argument("--time", required=True, help="period column (integer periods)")
    parser.add_argument("--adopt", required=True,
                        help="adoption-period column: first treated period; 0 or missing = never treated")
    parser.add_argument("--controls", default="", help="comma-separated control columns")
    parser.add_argument("--method", default="all", choices=[*METHODS, "all"], help="estimator (default all)")
    parser.add_argument("--control-group", default="never", choices=["never", "notyet"],
                        help="Callaway-Sant'Anna control group (default never)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the multiplier bootstrap")
    parser.add_argument("--json", default=None, help="write the estimates to this JSON file")
    parser.add_argument("--plot", default=None,
                        help="write a figure (.png or .svg; without a suffix both PATH.png and PATH.svg)")
    parser.add_argument("--n-boot", type=int, default=999, help="bootstrap draws for cs (default 999)")
    parser.add_argument("--ref", type=int, default=-1, help="reference event time (default -1)")
    parser.add_argument("--leads", type=int, default=None, help="event-study leads (binned beyond)")
    parser.add_argument("--lags", type=int, default=None, help="event-study lags (binned beyond)")
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(parser)


def _estimates(res) -> list[dict]:
    tidy = res.tidy()
    return [
        {"term": r.term, "estimate": float(r.estimate), "se": float(r.std_error),
         "p_value": float(r.p_value), "conf_low": float(r.conf_low), "conf_high": float(r.conf_high)}
        for r in tidy.itertuples()
    ]


def _load(args):
    controls = [c.strip() for c in args.controls.split(",") if c.strip()]
    cols = [args.y, args.adopt, *controls]
    from robocarbon.empirics.data import load_panel

    from robocarbon.reports.cli_common import reader_options

    df = load_panel(args.data, entity=args.entity, time=args.time, columns=cols,
                    periods=[args.adopt], **reader_options(args))
    return df, controls


def run_methods(df, *, y, entity, time, adopt, controls=(), methods=METHODS, control_group="never",
                seed=None, n_boot=999, ref=-1, leads=None, lags=None, file=None,
                skip_errors=False) -> tuple[dict, dict]:
    """Run the chosen methods; returns (JSON-ready dict, dict of Results by method).

    The estimators run in :func:`robocarbon.empirics.did_suite.did_suite`, the orchestration the
    paper's DID table (:func:`robocarbon.empirics.paper.did`) uses too; this function only turns
    its Results into the JSON blocks. With ``skip_errors`` (used by ``--method all``) a method that
    does not apply to the data (for example Goodman-Bacon on an unbalanced panel) is recorded as
    ``{"skipped": reason}`` instead of failing the whole run; if every method fails the first
    error is raised.
    """
    from robocarbon.empirics.did_suite import did_suite

    suite = did_suite(df, y=y, entity=entity, time=time, adopt=adopt, controls=controls, methods=methods,
                      control_group=control_group, seed=seed, n_boot=n_boot, ref=ref, leads=leads, lags=lags,
                      file=file, skip_errors=skip_errors)
    out: dict = {}
    for m in methods:
        if m in suite.skipped:
            out[m] = {"skipped": suite.skipped[m]}
            print(f"warning: {m} skipped: {suite.skipped[m]}", file=sys.stderr)
            continue
        out.update(_json_blocks(m, suite.results, control_group=control_group, ref=ref))
    return out, dict(suite.results)


def _json_blocks(method, results, *, control_group, ref) -> dict:
    """The JSON block(s) of one method from its Results."""
    out: dict = {}
    if method == "twfe":
        r = results["twfe"]
        w = r.diagnostics["dcdh_weights"]
        out["twfe"] = {"estimates": _estimates(r), "nobs": r.nobs, "nobs_dropped": r.nobs_dropped,
                       "dcdh_weights": w, "result": r.to_dict()}
        if "twfe_no_controls" in results:
            r0 = results["twfe_no_controls"]
            out["twfe_no_controls"] = {"estimates": _estimates(r0), "nobs": r0.nobs,
                                       "dcdh_weights": r0.diagnostics["dcdh_weights"], "result": r0.to_dict()}
    if method == "event":
        r = results["event"]
        out["event"] = {"estimates": _estimates(r), "pretrend": r.diagnostics["pretrend"],
                        "ref": ref, "result": r.to_dict()}
    if method == "bacon":
        d = results["bacon"].to_dict()["diagnostics"]
        out["bacon"] = {
            "comparisons": [
                {k: c[k] for k in ("treated", "untreated", "estimate", "weight", "type")}
                for c in d["comparisons"]
            ],
            "summary": d["summary"], "twfe": d["twfe"], "weighted_sum": d["weighted_sum"],
            "controls": "none (the decomposition is of the TWFE estimate without controls)",
        }
    if method == "cs":
        r = results["cs"]
        d = r.to_dict()["diagnostics"]
        out["cs"] = {
            "att_gt": [{"group": c["group"], "time": c["time"], "att": c["att"], "se": c["se"],
                        "base": c["base"], "lower": c["lower"], "upper": c["upper"]} for c in d["att_gt"]],
            "aggregations": d["aggregations"], "pretrend": d["pretrend"],
            "control_group": control_group, "est_method": r.spec["est_method"],
            "bootstrap": d["bootstrap"], "estimates": _estimates(r),
        }
    if method == "sa":
        r = results["sa"]
        out["sa"] = {"estimates": _estimates(r), "pretrend": r.diagnostics["pretrend"],
                     "cohort_effects": r.to_dict()["diagnostics"]["cohort_effects"],
                     "control_cohort": r.diagnostics["control_cohort"]}
    return out


def _figure(results: dict, path):
    from robocarbon.reports import figures_did as F

    events = [results[k] for k in ("event", "cs", "sa") if k in results]
    bacon = results.get("bacon")
    if events:
        return F.plot_did_summary(events, bacon, None)
    if bacon is not None:
        return F.plot_bacon(bacon, None)
    if "twfe" in results:
        return F.plot_dcdh_weights(results["twfe"].diagnostics["dcdh_weights"], None)
    return None


def _sha256(path) -> str:
    from robocarbon.empirics.provenance import file_sha256

    return file_sha256(path)


def run(args) -> int:
    t0 = _time.time()
    df, controls = _load(args)
    methods = METHODS if args.method == "all" else (args.method,)
    if args.n_boot < 50:
        raise InputError("--n-boot must be at least 50")
    if args.plot is not None and Path(args.plot).suffix.lower() not in ("", ".png", ".svg", ".pdf"):
        raise InputError(f"unknown figure type {Path(args.plot).suffix!r}; use .png or .svg", file=args.plot)
    out, results = run_methods(
        df, y=args.y, entity=args.entity, time=args.time, adopt=args.adopt, controls=controls,
        methods=methods, control_group=args.control_group, seed=args.seed, n_boot=args.n_boot,
        ref=args.ref, leads=args.leads, lags=args.lags, file=args.data, skip_errors=args.method == "all",
    )
    fig = _figure(results, args.plot) if args.plot else None
    payload = {
        "data": str(args.data), "data_sha256": _sha256(args.data),
        "spec": {"y": args.y, "entity": args.entity, "time": args.time, "adopt": args.adopt,
                 "controls": controls, "method": args.method, "control_group": args.control_group,
                 "seed": args.seed, "n_boot": args.n_boot, "ref": args.ref},
        **out,
    }
    from robocarbon.empirics.provenance import write_json_atomic, write_manifest

    written = []
    if fig is not None:
        from robocarbon.reports.figures_did import save_figure

        written.extend(save_figure(fig, args.plot))
    if args.json:
        write_json_atomic(args.json, payload)
        written.append(Path(args.json))
    if written:
        write_manifest(for_file=_primary_output(args), seed=args.seed, config=payload["spec"],
                       inputs=[args.data], wall_time=_time.time() - t0,
                       outputs=[str(p) for p in written])
    _print_summary(out)
    from robocarbon.reports.cli_common import print_dropped

    print_dropped(df, next(iter(results.values()), None))
    skipped = [m for m in methods if isinstance(out.get(m), dict) and "skipped" in out[m]]
    if skipped and len(skipped) == len(methods):  # --method all means "all that apply"
        print(f"error: none of the {len(methods)} requested methods could be computed "
              "(see the warnings above)", file=sys.stderr)
        return 2
    return 0


def _print_summary(out: dict) -> None:
    w = sys.stdout.write
    for name, block in out.items():
        if "skipped" in block:
            w(f"{name}: not computed: {block['skipped']}\n")
            continue
        if name == "bacon":
            w("bacon: 2x2 comparisons summary by type\n")
            for s in block["summary"]:
                w(f"  {s['type']:<26} weight {s['weight']:.5f}  avg estimate {s['estimate']:.5f}\n")
            w(f"  weighted sum {block['weighted_sum']:.6g} = TWFE {block['twfe']:.6g}\n")
            continue
        if name == "cs":
            w("cs: Callaway-Sant'Anna aggregations\n")
            for k, a in block["aggregations"].items():
                if a:
                    w(f"  {k:<9} {a['att']: .5f} (se {a['se']:.5f})\n")
            if block["pretrend"]:
                w(f"  pre-trend Wald p = {block['pretrend']['p_value']:.5f}\n")
            continue
        w(f"{name}:\n")
        for e in block["estimates"]:
            w(f"  {e['term']:<10} {e['estimate']: .5f} (se {e['se']:.5f})\n")
