"""``robocarbon shiftshare``: Rotemberg weights and AKM/AKM0 exposure-robust inference."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from robocarbon.empirics.errors import InputError

NAME = "shiftshare"
HELP = "shift-share diagnostics: Rotemberg weights (GPSS 2020) and AKM/AKM0 intervals (AKM 2019)"
DESCRIPTION = (
    "Regression (or IV with --instrument) of --y on the shift-share --x with controls and "
    "weights; reports homoskedastic, EHW, region-clustered, AKM and AKM0 inference and the "
    "Rotemberg-weight decomposition. --shares is a long table: a row key ('row', 1-based data "
    "row, or --keys), the sector column(s) (--sector, e.g. sic,t2) and 'share'."
)


INPUTS = ("data", "shares")


def planned_outputs(args):
    from .cli import file_outputs

    return file_outputs(args.json)


def _cols(s: str | None) -> list[str]:
    return [c.strip() for c in s.split(",") if c.strip()] if s else []


def add_arguments(p: argparse.ArgumentParser) -> None:
    from robocarbon.empirics.shiftshare import METHODS

    p.add_argument("--data", required=True, help="region-level data file")
    p.add_argument("--shares", required=True, help="long share table (csv, csv.gz, parquet)")
    p.add_argument("--y", required=True, help="outcome column")
    p.add_argument("--x", required=True, help="regressor (the shift-share variable, or endogenous with --instrument)")
    p.add_argument("--instrument", default=None, help="shift-share instrument column (IV)")
    p.add_argument("--controls", default=None,
                   help="comma-separated control columns; i.col (or C(col)) for dummies; an intercept is added")
    p.add_argument("--weights", default=None, help="regression weight column")
    p.add_argument("--cluster", default=None, help="region cluster column (for the region-clustered SE)")
    p.add_argument("--sector", default="industry", help="sector column(s) of the shares table (default industry)")
    p.add_argument("--share-col", default="share", dest="share_col")
    p.add_argument("--row-col", default="row", dest="row_col",
                   help="1-based data-row column of the shares table (default row)")
    p.add_argument("--keys", default=None, help="instead of --row-col: key columns in both tables, e.g. city,year")
    p.add_argument("--sector-cluster", default=None, dest="sector_cluster",
                   help="shares-table column clustering sectors for AKM/AKM0")
    p.add_argument("--residual-sector", action="store_true", dest="residual_sector")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--beta0", type=float, default=0.0)
    p.add_argument("--cov-type", default="akm", choices=list(METHODS), dest="cov_type")
    p.add_argument("--top", type=int, default=5, help="rows of the top-industries table")
    p.add_argument("--json", default=None, help="write the Result (with diagnostics) as JSON")
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(p, what="--data and --shares")


def run(args: argparse.Namespace) -> int:
    from robocarbon.empirics.data import read_table
    from robocarbon.empirics.provenance import write_json_atomic, write_manifest
    from robocarbon.empirics.shiftshare import METHODS, shiftshare

    t0 = time.perf_counter()
    from robocarbon.reports.cli_common import print_dropped, reader_options

    data = read_table(args.data, **reader_options(args))
    shares = read_table(args.shares, **reader_options(args))
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha must be in (0, 1), got {args.alpha}")
    res = shiftshare(
        data, shares, y=args.y, x=args.x, instrument=args.instrument, controls=_cols(args.controls),
        weights=args.weights, cluster=args.cluster, sector=_cols(args.sector), share=args.share_col,
        row=args.row_col, keys=_cols(args.keys) or None, sector_cluster=args.sector_cluster,
        residual_sector=args.residual_sector, alpha=args.alpha, beta0=args.beta0,
        cov_type=args.cov_type, top=args.top, file=args.shares,
    )
    d = res.diagnostics
    print_dropped(data, shares, d.get("dropped"))
    est = "2SLS" if args.instrument else "OLS"
    print(f"{est} of {args.y} on {args.x}: {res.params[0]:.7f}  (n = {res.nobs}, sectors = {d['n_sectors']})")
    if d["first_stage"] is not None:
        print(f"first stage (instrument coefficient): {d['first_stage']:.7f}")
    level = int(round(100 * (1 - args.alpha)))
    print(f"\n{'method':<15}{'std.error':>12}{'p-value':>12}{f'{level}% CI':>28}")
    for m in METHODS:
        r = d["inference"][m]
        print(f"{m:<15}{r['std_error']:>12.6f}{r['p_value']:>12.4g}   [{r['conf_low']:>10.6f}, {r['conf_high']:>10.6f}]")
    rot = d["rotemberg"]
    block = rot.get("by_industry", rot)
    print(f"\nRotemberg weights ({block['n_sectors']} {'industries' if 'by_industry' in rot else 'sectors'}): "
          f"sum of negative weights {block['sum_negative']:.4f}, share negative {block['share_negative']:.3f}")
    print(f"shocks: {d['shocks'].get('source')}; max |W g - B| = {d['shocks']['max_abs_error']:.3g}")
    print(f"{'sector':<20}{'alpha':>10}{'g':>12}{'beta':>10}")
    for row in block["top"]:
        print(f"{str(row['sector']):<20}{row['alpha']:>10.4f}{row['g']:>12.4f}{row['beta']:>10.4f}")
    if args.json:
        write_json_atomic(args.json, res.to_dict())
        write_manifest(for_file=args.json,
                       config={k: v for k, v in vars(args).items() if not k.startswith("_")},
                       inputs=[args.data, args.shares], wall_time=time.perf_counter() - t0)
    return 0
