"""``robocarbon ceads``: province x year industrial and total CO2 from CEADs workbooks."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


NAME = "ceads"
HELP = "read CEADs provincial inventory workbooks: province x year industrial and total CO2 (Mt)"
DESCRIPTION = (
    "Reads every provincial CEADs workbook (early 'Total Consumption' and late 'TotalEmissions' "
    "layouts) in --inputs (a folder of workbooks, or a CEADs folder with provinces/), sums the "
    "40 industrial sectors (mining incl. logging, manufacturing, electricity/gas/water; see "
    "docs/inputs.md) and prints province x year industrial and total CO2 in Mt CO2."
)


INPUTS = ("inputs",)


def _primary_output(args):
    return args.json or args.csv


def planned_outputs(args):
    from .cli import file_outputs

    return file_outputs(args.json, args.csv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", required=True, help="folder of CEADs provincial workbooks (or its parent)")
    p.add_argument("--json", default=None, help="write the table (records) and metadata as JSON")
    p.add_argument("--csv", default=None, help="also write the table as CSV")
    p.add_argument("--check-tol", type=float, default=1e-6, dest="check_tol",
                   help="tolerance (Mt) of the check of each sheet's total row (default 1e-6)")


def run(args: argparse.Namespace) -> int:
    from robocarbon.empirics import ceads
    from robocarbon.empirics.provenance import write_json_atomic, write_manifest

    t0 = time.perf_counter()
    inv = ceads.read_province_inventories(args.inputs, check_tol=args.check_tol,
                                          progress=sys.stderr.isatty())
    tab = ceads.province_co2(inv)
    files = sorted({v["file"] for v in inv.values()})
    summary = tab.groupby("year")[["industrial_co2", "total_co2"]].sum()
    print(f"{len(files)} workbooks, {tab.province.nunique()} provinces, years "
          f"{tab.year.min()}-{tab.year.max()} (unit: {ceads.UNIT})")
    print(summary.round(1).to_string())
    outs = []
    if args.json:
        doc = {
            "unit": ceads.UNIT,
            "industrial_sectors": list(ceads.INDUSTRIAL_SECTORS),
            "columns": {
                "industrial_co2": "Scope 1 total (17 fuels + process) of the industrial sectors",
                "industrial_energy_co2": "17 fuels only, industrial sectors",
                "industrial_process_co2": "process emissions, industrial sectors",
                "total_co2": "sum of all 47 sectors",
                "total_reported": "the sheet's own total row",
            },
            "files": files,
            "records": tab.to_dict(orient="records"),
        }
        write_json_atomic(args.json, doc)
        outs.append(Path(args.json))
    if args.csv:
        from robocarbon.empirics.provenance import atomic_path

        with atomic_path(args.csv) as tmp:
            tab.to_csv(tmp, index=False)
        outs.append(Path(args.csv))
    if outs:
        write_manifest(for_file=_primary_output(args), outputs=[str(o) for o in outs], config={"inputs": str(args.inputs), "check_tol": args.check_tol},
                       inputs=files, wall_time=time.perf_counter() - t0)
    return 0
