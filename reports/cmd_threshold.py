"""``robocarbon threshold``: Hansen (1999) fixed-effect panel threshold models on any panel file."""

from __future__ import annotations

import sys
import time as _time
from pathlib import Path

from robocarbon.empirics.errors import InputError

NAME = "threshold"
HELP = "Hansen (1999) panel threshold models: 1-3 thresholds, bootstrap F tests, LR intervals"
DESCRIPTION = (
    "Fixed-effect panel threshold regression (Hansen 1999): y = mu_i [+ tau_t] + x'b_j in regime j "
    "of the threshold variable q + w'c + e. Thresholds by least squares over a grid of quantiles or "
    "every distinct value of q, sequentially with Hansen's refinement; bootstrap F tests of k vs "
    "k+1 regimes (fixed-regressor entity-residual bootstrap); LR confidence intervals; "
    "entity-clustered SEs for the slopes. Unbalanced panels are handled exactly."
)


INPUTS = ("data",)


def _plot_paths(plot) -> list[Path]:
    if not plot:
        return []
    from robocarbon.reports.figures_threshold import output_paths

    return output_paths(plot)


def _primary_output(args) -> Path | None:
    return planned_outputs(args).files[0] if (args.json or args.plot) else None


def planned_outputs(args):
    from .cli import file_outputs

    return file_outputs(args.json, *_plot_paths(args.plot))


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help="panel file (CSV, Parquet, .dta, .xlsx)")
    parser.add_argument("--y", required=True, help="outcome column")
    parser.add_argument("--regime", required=True, nargs="+", help="regime-dependent regressor column(s) x (space- or comma-separated)")
    parser.add_argument("--q", required=True, help="threshold variable column")
    parser.add_argument("--x", nargs="*", default=[], help="regime-independent control columns w (space- or comma-separated)")
    parser.add_argument("--entity", required=True, help="entity column (fixed effects and clusters)")
    parser.add_argument("--time", required=True, help="time column")
    parser.add_argument("--time-effects", action="store_true", help="add time fixed effects")
    parser.add_argument("--n-thresholds", type=int, default=1, choices=[1, 2, 3],
                        help="number of thresholds (default 1)")
    parser.add_argument("--trim", type=float, nargs="+", default=[0.01],
                        help="minimum share of observations per regime; one value or one per threshold (default 0.01)")
    search = parser.add_mutually_exclusive_group()
    search.add_argument("--grid", type=int, default=400, help="number of quantile grid points (default 400)")
    search.add_argument("--exact", action="store_true", help="search every distinct value of q")
    parser.add_argument("--bootstrap", type=int, nargs="+", default=[300],
                        help="bootstrap replications per test; one value or one per test (default 300; 0 skips)")
    parser.add_argument("--seed", type=int, default=None, help="bootstrap seed")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of the LR intervals")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--plot", default=None, help="write the LR plot (PATH.png and PATH.svg)")
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(parser)


def summary(res) -> dict:
    """The JSON of the command: thresholds and intervals, RSS of each model, F tests with
    bootstrap p-values and critical values, regime slopes with SEs, and the full Result."""
    dg = res.diagnostics
    names = {0: "linear", 1: "single", 2: "double", 3: "triple"}
    tidy = res.tidy()
    return {
        "thresholds": list(dg["thresholds"]),
        "intervals": [list(iv) for iv in dg["intervals"]],
        "level": dg["lr"][0]["level"],
        "lr_critical_value": dg["lr"][0]["critical_value"],
        "rss": {names[m["n_thresholds"]]: m["rss"] for m in dg["models"]},
        "models": [dict(m) for m in dg["models"]],
        "tests": [
            {
                "test": f"{t['null_thresholds']} vs {t['alternative_thresholds']} thresholds",
                "F": t["F"],
                "p_value": t["p_value"],
                "critical_values": None if t["critical_values"] is None else dict(t["critical_values"]),
                "bootstrap": t["bootstrap"],
                "rss_null": t["rss_null"],
                "rss_alternative": t["rss_alternative"],
            }
            for t in dg["tests"]
        ],
        "slopes": [
            {"term": r.term, "estimate": float(r.estimate), "se": float(r.std_error),
             "p_value": float(r.p_value), "conf_low": float(r.conf_low), "conf_high": float(r.conf_high)}
            for r in tidy.itertuples()
        ],
        "regimes": [dict(r) for r in dg["regimes"]],
        "nobs": res.nobs,
        "nobs_dropped": res.nobs_dropped,
        "result": res.to_dict(),
    }


def _print(res, out=None) -> None:
    out = sys.stdout if out is None else out  # looked up at call time (pytest swaps it)
    dg = res.diagnostics
    print(f"Hansen panel threshold model: {res.nobs} obs, {dg['n_entities']} entities, "
          f"{dg['candidates']} candidates ({dg['search']}), trim {dg['trim']}", file=out)
    for g, (lo, hi) in zip(dg["thresholds"], dg["intervals"]):
        print(f"  threshold {g:.6g}   {100 * dg['lr'][0]['level']:.0f}% LR interval [{lo:.6g}, {hi:.6g}]", file=out)
    for m in dg["models"]:
        print(f"  RSS with {m['n_thresholds']} threshold(s): {m['rss']:.6f}", file=out)
    for t in dg["tests"]:
        cv = t["critical_values"] or {}
        p = "n/a" if t["p_value"] is None else f"{t['p_value']:.4f}"
        print(f"  F({t['null_thresholds']} vs {t['alternative_thresholds']}) = {t['F']:.4f}  p = {p}  "
              f"crit 10/5/1%: {cv.get('90', float('nan')):.4f} {cv.get('95', float('nan')):.4f} "
              f"{cv.get('99', float('nan')):.4f}  (B = {t['bootstrap']})", file=out)
    print(res.tidy().to_string(index=False, float_format=lambda v: f"{v:.6g}"), file=out)


def run(args) -> int:
    from robocarbon.empirics.provenance import file_sha256, write_json_atomic, write_manifest
    from robocarbon.empirics.threshold import threshold

    t0 = _time.time()
    from robocarbon.empirics.data import load_panel

    # columns may be given space- or comma-separated (as --controls elsewhere)
    args.regime = [c for a in args.regime for c in a.split(",") if c]
    args.x = [c for a in args.x for c in a.split(",") if c]
    cols = [args.y, *args.regime, args.q, *args.x]
    from robocarbon.reports.cli_common import print_dropped, reader_options

    df = load_panel(args.data, entity=args.entity, time=args.time, columns=cols,
                    integer_time=False, **reader_options(args))
    res = threshold(
        df, y=args.y, regime=args.regime, q=args.q, entity=args.entity, time=args.time,
        controls=args.x,
        time_effects=args.time_effects, n_thresholds=args.n_thresholds,
        trim=args.trim, grid=None if args.exact else args.grid, exact=args.exact,
        bootstrap=args.bootstrap, seed=args.seed, level=args.level, file=args.data,
        progress=sys.stderr.isatty(),
    )
    _print(res)
    print_dropped(df, res)
    outputs = []
    if args.plot:
        from robocarbon.reports.figures_threshold import plot_lr

        outputs += plot_lr(res, args.plot)
    if args.json:
        out = summary(res)
        out["provenance"] = {"data": str(args.data), "data_sha256": file_sha256(args.data),
                             "seed": args.seed, "command": sys.argv}
        outputs.append(write_json_atomic(args.json, out))
    config = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    if outputs:
        write_manifest(for_file=_primary_output(args), seed=args.seed, config=config,
                       inputs=[args.data], wall_time=_time.time() - t0,
                       outputs=[str(p) for p in outputs])
    return 0
