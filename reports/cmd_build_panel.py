"""``robocarbon build-panel``: raw inputs (docs/inputs.md) -> the analysis panel."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from robocarbon.empirics.errors import InputError

NAME = "build-panel"
HELP = "build the analysis panel (lnindco, robot, controls, ...) from raw inputs"
DESCRIPTION = (
    "Reads the raw-input folder (robots by IFR industry, the IFR -> GB/T 4754-2002 crosswalk, "
    "base-year city x industry employment, nightlights, city yearbook variables, provincial "
    "industrial CO2 or CEADs workbooks; schema in docs/inputs.md), builds the Bartik robot "
    "exposure (21), downscales CO2 (19)-(20), computes the controls and hmatch (23), and writes "
    "the panel, a report of every dropped row (<out>.dropped.csv) and manifest.json."
)


INPUTS = ("inputs",)


def _side_outputs(out: Path) -> dict[str, Path]:
    from robocarbon.empirics.provenance import manifest_path

    return {"dropped": out.with_name(out.stem + ".dropped.csv"),
            "diagnostics": out.with_name(out.stem + ".diagnostics.json"),
            "manifest": manifest_path(out)}


def planned_outputs(args):
    from robocarbon.empirics.panel_builder import template_targets

    from .cli import Outputs

    plan = Outputs()
    if args.templates:
        for _, target in template_targets(args.templates):
            plan.file(target)
        return plan
    if args.out:
        plan.file(args.out)
        for p in _side_outputs(Path(args.out)).values():
            plan.file(p)
    return plan


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", default=None, help="raw-input folder")
    p.add_argument("--out", default=None, help="output panel (.parquet or .csv)")
    p.add_argument("--base-year", type=int, default=2004, dest="base_year",
                   help="base year of the employment shares (default 2004)")
    p.add_argument("--years", default=None, help="keep years FIRST-LAST, e.g. 2007-2019")
    p.add_argument("--downscale-form", default="levels", choices=["levels", "logs"],
                   dest="form", help="CO2-light relation in levels (default) or logs")
    p.add_argument("--downscale-fixed-effects", action="store_true", dest="fixed_effects",
                   help="let the province and year effects enter the city allocation")
    p.add_argument("--sample-rule", action="store_true", dest="sample_rule",
                   help="drop cities missing a variable in 4 or more consecutive years")
    p.add_argument("--max-missing-run", type=int, default=4, dest="max_missing_run")
    p.add_argument("--interpolate", action="store_true",
                   help="fill shorter interior gaps of the controls by linear interpolation")
    p.add_argument("--usd-cny", type=float, default=None, dest="usd_cny",
                   help="yuan per dollar for FDI if the yearbook has no usd_cny column")
    p.add_argument("--unspecified", default="distribute", choices=["distribute", "drop"],
                   help="IFR 99 (unspecified) robots: spread pro rata (default) or drop")
    p.add_argument("--templates", default=None, metavar="DIR",
                   help="write the CSV templates of the input schema to DIR and exit")
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(p, what="the CSV files of --inputs")


def _reader_options(args):
    from robocarbon.reports.cli_common import reader_options

    return reader_options(args)


def run(args: argparse.Namespace) -> int:
    from robocarbon.empirics.panel_builder import build_panel, write_templates
    from robocarbon.empirics.provenance import atomic_path, write_json_atomic, write_manifest

    if args.templates:
        for f in write_templates(args.templates):
            print(f)
        return 0
    if not args.inputs or not args.out:
        raise InputError("--inputs and --out are required (or --templates DIR)")
    t0 = time.perf_counter()
    years = None
    if args.years:
        try:
            lo, hi = (int(v) for v in args.years.split("-"))
        except ValueError as exc:
            raise InputError(f"--years must be FIRST-LAST, got {args.years!r}") from exc
        years = (lo, hi)
    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError("--out must end in .parquet or .csv", file=str(out))
    b = build_panel(args.inputs, base_year=args.base_year, years=years, form=args.form,
                    fixed_effects=args.fixed_effects, apply_sample_rule=args.sample_rule,
                    max_missing_run=args.max_missing_run, interpolate=args.interpolate,
                    usd_cny=args.usd_cny, unspecified=args.unspecified,
                    reader=_reader_options(args))
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".parquet":
            b.panel.to_parquet(tmp, index=False)
        else:
            b.panel.to_csv(tmp, index=False)
    side = _side_outputs(out)
    dropped = side["dropped"]
    with atomic_path(dropped) as tmp:
        b.dropped.to_csv(tmp, index=False)
    write_json_atomic(side["diagnostics"], b.diagnostics)
    inputs = sorted(str(p) for p in Path(args.inputs).rglob("*") if p.is_file())
    write_manifest(for_file=out, config={k: v for k, v in vars(args).items() if not k.startswith("_")},
                   inputs=inputs, wall_time=time.perf_counter() - t0,
                   outputs=[str(out), str(dropped), str(side["diagnostics"])])
    print(f"panel: {len(b.panel)} rows, {b.panel['city'].nunique()} cities -> {out}")
    print(f"dropped: {len(b.dropped)} rows -> {dropped}")
    for reason, n in b.diagnostics.get("dropped_by_reason", {}).items():
        print(f"  {n:6d}  {reason}")
    return 0
