"""``robocarbon estimate``: fit a fixed-effects / IV regression on a panel file."""

from __future__ import annotations

import argparse
import sys
import time

from robocarbon.empirics.errors import InputError

NAME = "estimate"
HELP = "fit y ~ x | fixed effects | endog ~ instruments on a panel file (CSV, Parquet, dta, xlsx)"
DESCRIPTION = (
    "Least squares with absorbed fixed effects, or IV-2SLS/LIML with them, clustered standard "
    "errors (reghdfe/fixest small-sample correction by default). Prints a regression table and "
    "optionally writes the result as JSON."
)


INPUTS = ("data",)


def planned_outputs(args):
    from .cli import Outputs

    plan = Outputs()
    plan.file(args.json)
    plan.file(args.table)
    return plan


def add_arguments(p: argparse.ArgumentParser) -> None:
    from robocarbon.empirics.fe import SSC_NAMES

    p.add_argument("--data", required=True, help="panel file (.csv, .parquet, .dta, .xlsx)")
    p.add_argument("--formula", required=True, help='e.g. "lnindco ~ robot + edu | city + year"')
    p.add_argument("--entity", default=None, help="entity column (needed for lags l(x,k))")
    p.add_argument("--time", default=None, help="time column (needed for lags l(x,k))")
    p.add_argument("--cluster", default=None, help="cluster column(s), comma separated (at most two)")
    p.add_argument("--vcov", default=None, choices=["unadjusted", "hc1", "cluster"],
                   help="covariance; default: cluster when a cluster/entity/fixed effect is known, else hc1")
    p.add_argument("--weights", default=None, help="column of analytic weights")
    p.add_argument("--ssc", default="fixest", choices=list(SSC_NAMES), help="small-sample convention")
    p.add_argument("--method", default="2sls", choices=["2sls", "liml"], help="IV estimator")
    p.add_argument("--on-gap", default="error", choices=["error", "missing"], dest="on_gap",
                   help="lags across gaps in the panel: error (default) or missing")
    p.add_argument("--format", default="text", choices=["text", "markdown"], help="table format")
    p.add_argument("--json", default=None, help="write the Result as JSON to this path")
    p.add_argument("--table", default=None, help="also write the table to this path")
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(p)


def run(args: argparse.Namespace) -> int:
    from robocarbon.empirics import fe
    from robocarbon.empirics.data import load_panel
    from robocarbon.empirics.provenance import file_sha256, write_json_atomic, write_text_atomic
    from robocarbon.reports.regtable import regression_table

    t0 = time.perf_counter()
    from robocarbon.reports.cli_common import print_dropped, reader_options

    df = load_panel(args.data, entity=args.entity, time=args.time, **reader_options(args))
    print_dropped(df)
    vcov = args.vcov
    if vcov is None:
        vcov = "cluster" if (args.cluster or args.entity or "|" in args.formula.split("~", 1)[-1]) else "hc1"
        # a formula with only an IV part and no fixed effects or cluster: robust
        if vcov == "cluster" and not (args.cluster or args.entity):
            from robocarbon.empirics.formula import parse_formula

            if not parse_formula(args.formula).fixed_effects:
                vcov = "hc1"
    res = fe.fit(
        args.formula, df, entity=args.entity, time=args.time, cluster=args.cluster, vcov=vcov,
        weights=args.weights, ssc=args.ssc, method=args.method, on_gap=args.on_gap,
    )
    table = regression_table(res, fmt=args.format)
    if args.json:
        out = res.to_dict()
        out["provenance"] = dict(out.get("provenance") or {})
        out["provenance"].update(
            command=["robocarbon"] + list(sys.argv[1:]),
            input_sha256={str(args.data): file_sha256(args.data)},
            wall_time_seconds=round(time.perf_counter() - t0, 6),
        )
        write_json_atomic(args.json, out)
    if args.table:
        write_text_atomic(args.table, table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise InputError("run through `robocarbon estimate`")
