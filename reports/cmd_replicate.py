"""``robocarbon replicate``: the whole check, written as a literate, self-contained report.

Without ``--data`` it runs on one draw of the calibrated synthetic ``paper`` design (the
embedded default); with ``--data`` it runs on the user's panel. Schema of a user panel: one row
per city and year with columns ``city``, ``year``, ``lnindco`` (ln industrial CO2 per unit of
industrial value added) and ``robot`` (robot penetration), plus the paper's controls ``edu,
urban, lnpop, lnpgdp, energ, fin, open``; optional columns switch further sections on
(``province`` for the IV, ``adopt_year`` for the DID, ``gpatent``/``hmatch`` for mechanisms,
``internet``/``hum``/``scitech`` (or ``human_capital``/``scitech_spending``) for thresholds, grouping columns for the
heterogeneity, ``lnco``/``lnindco1`` for robustness; see docs/report.md). A section whose
columns are absent is kept in the report with the reason it was skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "replicate"
HELP = "the whole check (theory, tables, IV, DID, thresholds, Monte Carlo), as a literate report"
DESCRIPTION = (
    "The whole check, written as a literate, self-contained report (build/report.html, report.md, "
    "tables as LaTeX and CSV, figures as PNG and SVG, manifest.json). Without --data it runs on one "
    "draw of the calibrated synthetic 'paper' design; with --data on your panel: one row per city "
    "and year with columns city, year, lnindco, robot, and the controls edu, urban, lnpop, lnpgdp, "
    "energ, fin, open. Optional columns switch further sections on: province (IV), adopt_year "
    "(DID), gpatent and hmatch (mechanisms), internet, hum or human_capital, scitech or "
    "scitech_spending (thresholds), resource, east, south, large, digital (heterogeneity), lnco, "
    "lnindco1, robot_alt, municipality (robustness). A section whose columns are absent is kept "
    "in the report with the reason. See docs/report.md."
)

INPUTS = ("data",)
DEFAULT_SIMS = 200
DEFAULT_SEED = 20240101


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="PANEL", default=None,
                        help="the user's panel (CSV, Parquet, .dta, .xlsx) in the documented schema; "
                             "default: a draw of the calibrated synthetic 'paper' design")
    parser.add_argument("--out", metavar="DIR", default="build/",
                        help="output folder (default: build/). Created if absent; a folder robocarbon "
                             "made earlier is replaced atomically; any other non-empty folder is "
                             "refused unless --force (which writes the report's files into it and "
                             "leaves every other file alone)")
    parser.add_argument("--sims", metavar="N", type=int, default=DEFAULT_SIMS,
                        help=f"Monte Carlo replications per scenario (default: {DEFAULT_SIMS})")
    parser.add_argument("--seed", metavar="S", type=int, default=DEFAULT_SEED,
                        help=f"master seed (default: {DEFAULT_SEED})")
    parser.add_argument("--bootstrap", metavar="B", type=int, default=299,
                        help="bootstrap draws for the threshold F tests and the Callaway-Sant'Anna "
                             "bands (default: 299)")
    parser.add_argument("--jobs", metavar="J", type=int, default=1,
                        help="worker processes for the Monte Carlo (default: 1)")
    parser.add_argument("--sections", metavar="IDS", default=None,
                        help="comma-separated subset of sections to compute, in report order "
                             "(default: all; see docs/report.md for the ids)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(parser, what="--data")


def planned_outputs(args):
    from .cli import Outputs

    plan = Outputs()
    plan.folder(args.out, replace=True)
    return plan


def load_user_panel(path: str, **reader):
    """Load and validate a user panel in the replicate schema (InputError on bad input);
    ``reader``: the options of :func:`robocarbon.empirics.data.read_table`."""
    from robocarbon.empirics.data import check_integer_periods, check_numeric_columns, load_panel
    from robocarbon.empirics.errors import InputError

    from .report import REQUIRED

    p = Path(path)
    df = load_panel(p, entity="city", time="year", columns=[c for c in REQUIRED if c not in ("city", "year")],
                    **reader)
    if len(df) == 0:
        raise InputError("the panel has no rows", file=str(path))
    from .report import CONTROLS

    present = [c for c in CONTROLS if c in df.columns]
    if present:
        check_numeric_columns(df, present, file=str(path))  # the controls that are there
    if "adopt_year" in df.columns:
        check_integer_periods(df, "adopt_year", file=str(path))
    if df["city"].nunique() < 2:
        raise InputError("need at least two cities (clusters)", file=str(path), column="city")
    return df


def run(args: argparse.Namespace) -> int:
    from robocarbon.empirics.errors import InputError

    from .report import build_report

    if args.sims < 1:
        raise InputError(f"--sims must be a positive integer, got {args.sims}")
    if args.bootstrap < 1:
        raise InputError(f"--bootstrap must be a positive integer, got {args.bootstrap}")
    if args.jobs < 1:
        raise InputError(f"--jobs must be a positive integer, got {args.jobs}")
    from .report import SECTIONS

    only = None
    if args.sections:
        only = [x.strip() for x in args.sections.split(",") if x.strip()]
        known = [s.id for s in SECTIONS]
        unknown = [x for x in only if x not in known]
        if unknown:
            raise InputError(f"--sections: unknown section(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    from robocarbon.reports.cli_common import print_dropped, reader_options

    panel = load_user_panel(args.data, **reader_options(args)) if args.data else None
    if panel is not None:
        print_dropped(panel)
    out, sections = build_report(
        args.out, panel=panel, data_path=args.data, seed=args.seed, sims=args.sims, jobs=args.jobs,
        bootstrap=args.bootstrap, only=only,
        progress=False if args.no_progress else None, argv=sys.argv,
    )
    n_ok = sum(s.status == "ok" for s in sections)
    print(f"wrote {out / 'report.html'} ({n_ok} of {len(sections)} sections computed)")
    for s in sections:
        if s.status != "ok":
            print(f"  {s.id}: {s.status}: {s.reason}", file=sys.stderr)
    # a section skipped for want of data columns is stated in the report (exit 0); a section
    # whose computation failed is an error
    failed = [s.id for s in sections if s.status == "failed"]
    if failed:
        print(f"error: {len(failed)} requested section(s) not computed: {', '.join(failed)} (the "
              f"report in {out} says why)", file=sys.stderr)
        return 2
    return 0
