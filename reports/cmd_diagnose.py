"""``robocarbon diagnose``: Monte Carlo power, bias and coverage of the paper's estimators.

Examples
--------
robocarbon diagnose --design paper --sims 2000 --seed 1 --jobs 2 --out build/mc --json mc.json
robocarbon diagnose --design paper --grid kappa=0,0.05,0.1,0.2 --estimators twfe,iv --sims 500 \
    --seed 7 --out build/power
robocarbon diagnose --design paper --sims 5000 --seed 1 --scheduler tcp://10.0.0.5:8786 --out mc

Exit status: 0; 2 on bad input (``error: ...``, nothing written) or when a requested estimator
failed in every replication (its outputs are still written and show the failures; partial
failures are a warning with counts).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.provenance import write_json_atomic, write_manifest, write_text_atomic

NAME = "diagnose"
HELP = "Monte Carlo power, bias and coverage"
DESCRIPTION = (
    "Monte Carlo diagnosis of a simulated design: runs each estimator on --sims draws (one "
    "random stream per replication, so results do not depend on --jobs or the scheduler) and "
    "reports bias, SD, RMSE, mean SE, coverage, power, type-S rate and exaggeration ratio with "
    "their Monte Carlo standard errors; with --grid, per cell, with power curves and minimum "
    "detectable effects. With --out the run is checkpointed and rerunning resumes it."
)

#: the keys of each row of the --json output (a contract)
JSON_KEYS = (
    "estimator", "term", "estimand", "mean_estimate", "bias", "bias_mcse", "sd_estimate", "rmse",
    "mean_se", "coverage", "coverage_mcse", "power", "power_mcse", "type_s", "exaggeration",
    "sims",
)


#: no input files (a ``--design MODULE:ATTR`` file is declared as an input in :func:`run`)
INPUTS = ()


def planned_outputs(args):
    """The folder (added to: a checkpoint is resumed) and the JSON file of this run."""
    from .cli import Outputs

    plan = Outputs()
    plan.folder(args.out, replace=False)
    plan.file(args.json)
    return plan


def count(minimum: int, *, what: str = "a whole number"):
    """An argparse type: a whole number >= ``minimum``; ``1e6`` and ``1_000_000`` are read as
    1000000 (sizes are checked against the machine by the engine before any work)."""

    def parse(text: str) -> int:
        t = text.strip().replace("_", "")
        try:
            value = int(t)
        except ValueError:
            try:
                f = float(t)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
            if not math.isfinite(f) or not f.is_integer():
                raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
            value = int(f)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text!r}")
        return value

    parse.__name__ = "count"
    return parse


def add_arguments(parser) -> None:
    parser.add_argument("--design", default="paper",
                        help="registered design (default: paper), or MODULE:ATTR naming a design "
                             "object (or a class/factory called without arguments) of your own")
    parser.add_argument("--set", dest="set_", action="append", default=[], metavar="KEY=VALUE",
                        help="set a design parameter (repeatable); a comma list gives a tuple")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="vary a design parameter over values (repeatable: all combinations)")
    parser.add_argument("--estimators", default=None,
                        help="comma-separated strategies: twfe, iv, did, threshold "
                             "(default: the design's own, else twfe)")
    parser.add_argument("--sims", type=count(1), default=500,
                        help="replications per cell (500; 1e4 is read as 10000); refused before "
                             "any work when the results would not fit in memory")
    parser.add_argument("--seed", type=int, default=0, help="root seed (0)")
    ex = parser.add_mutually_exclusive_group()
    ex.add_argument("--jobs", type=count(0), default=1,
                    help="local worker processes (1; 0 = one per core; at most 4 x cores)")
    ex.add_argument("--scheduler", default=None, metavar="ADDR",
                    help="Dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="checkpoint/output folder (rerunning resumes); must be new, empty "
                             "or made by robocarbon")
    parser.add_argument("--json", default=None, metavar="PATH", help="diagnosands as JSON rows")
    parser.add_argument("--alpha", type=float, default=0.05, help="test level for power (0.05)")
    parser.add_argument("--chunk-size", type=count(1), default=None,
                        help="replications per task (>= 1)")
    parser.add_argument("--force", action="store_true",
                        help="if --out holds a checkpoint written by another robocarbon version, "
                             "other code or another configuration, discard it (only files "
                             "robocarbon wrote) and start fresh instead of refusing; also write "
                             "into an --out folder robocarbon did not create (its other files "
                             "are left alone)")
    parser.add_argument("--common-random-numbers", action="store_true",
                        help="give every grid cell the same replication streams")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--list-estimators", action="store_true",
                        help="list the registered estimators and exit")


def _scalar(text: str) -> Any:
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    if "=" not in text:
        raise InputError(f"{flag} expects KEY=VALUE, got {text!r}", column=flag)
    k, v = text.split("=", 1)
    k = k.strip()
    if not k or not v.strip():
        raise InputError(f"{flag} expects KEY=VALUE, got {text!r}", column=flag)
    return k, v


def parse_sets(items: list[str]) -> dict[str, Any]:
    out = {}
    for it in items:
        k, v = parse_assignment(it, "--set")
        parts = [p for p in v.split(",") if p.strip()]
        out[k] = tuple(_scalar(p) for p in parts) if len(parts) > 1 else _scalar(v)
    return out


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for it in items:
        k, v = parse_assignment(it, "--grid")
        if k in out:
            raise InputError(f"--grid names {k!r} twice", column="--grid")
        vals = [_scalar(p) for p in v.split(",") if p.strip()]
        if not vals:
            raise InputError(f"--grid {k} has no values", column="--grid")
        out[k] = vals
    return out


def load_design(spec: str, params: dict[str, Any]):
    """A registered design by name, or ``module:attr`` (a design object, or a class/factory
    called without arguments), with ``params`` applied."""
    from robocarbon.simulate.design import get_design

    if ":" not in spec:
        return get_design(spec, **params)
    import importlib

    mod_name, attr = spec.split(":", 1)
    try:
        obj = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot load design {spec!r}: {exc}", column="--design") from exc
    if isinstance(obj, type) or (not hasattr(obj, "draw") and callable(obj)):
        obj = obj()
    if not hasattr(obj, "draw"):
        raise InputError(f"{spec!r} is not a design (no draw method)", column="--design")
    if params:
        try:
            obj = obj.with_params(**params)
        except (ValueError, TypeError) as exc:
            raise InputError(f"--set: {exc}", column="--set") from exc
    return obj


def json_rows(diag, grid_cols) -> list[dict[str, Any]]:
    rows = []
    for rec in diag.to_dict(orient="records"):
        row = {k: rec[k] for k in grid_cols}
        for k in JSON_KEYS:
            v = rec[k]
            if k == "sims":
                v = int(v)
            elif isinstance(v, float | np.floating):
                v = float(v)
            row[k] = v
        rows.append(row)
    return rows


def _effect_column(diag, grid_cols) -> str | None:
    """The first grid column along which the true effect (mean estimand) moves materially (by
    more than a tenth of its largest absolute value; designs whose truth is computed from each
    draw move it a little along any parameter)."""
    for c in grid_cols:
        others = [o for o in grid_cols if o != c] + ["estimator", "term"]

        def moves(s):
            v = s.to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            return v.size > 1 and float(v.max() - v.min()) > 0.1 * float(np.abs(v).max())

        if diag.groupby(others, dropna=False)["estimand"].agg(moves).any():
            return c
    return None


def _print_table(diag, grid_cols) -> None:
    cols = list(grid_cols) + ["estimator", "term", "estimand", "bias", "bias_mcse", "sd_estimate",
                              "mean_se", "coverage", "power", "sims", "failures"]
    print(diag[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def run(args) -> int:
    from robocarbon.simulate import diagnosands as dg
    from robocarbon.simulate import estimators as est_mod
    from robocarbon.empirics import outputs
    from robocarbon.simulate.engine import diagnose, failure_summary

    if args.list_estimators:
        for name, desc in est_mod.list_estimators().items():
            print(f"{name:<10} {desc}")
        return 0
    t0 = time.perf_counter()
    if args.sims < 1:
        raise InputError(f"--sims must be at least 1, got {args.sims}", column="--sims")
    if args.seed < 0:
        raise InputError(f"--seed must be non-negative, got {args.seed}", column="--seed")
    params = parse_sets(args.set_)
    grid = parse_grid(args.grid)
    clash = sorted(set(params) & set(grid))
    if clash:
        raise InputError(f"parameter(s) {clash} given both in --set and --grid", column="--grid")
    design = load_design(args.design, params)
    if ":" in args.design:  # the file defining the design is an input: never written over
        mod = sys.modules.get(args.design.split(":", 1)[0])
        if getattr(mod, "__file__", None):
            outputs.add_inputs(mod.__file__)
    if grid:  # validate every grid value before any work (bad values raise InputError)
        for k, vals in grid.items():
            for v in vals:
                try:
                    design.with_params(**{k: v})
                except (ValueError, TypeError) as exc:
                    raise InputError(f"--grid {k}={v}: {exc}", column="--grid") from exc
    if args.estimators:
        names = [s.strip() for s in args.estimators.split(",") if s.strip()]
    else:
        own = [n for n in getattr(design, "answer_strategies", ()) if n in est_mod.list_estimators()]
        names = own or ["twfe"]
    ests = est_mod.resolve_estimators(names)
    if args.json:
        outputs.check_file(args.json)
    force = bool(getattr(args, "force", False))
    sims, diag = diagnose(
        design, ests, args.sims, args.seed, jobs=args.jobs, scheduler=args.scheduler,
        out=args.out, grid=grid or None, progress=not args.no_progress,
        chunk_size=args.chunk_size, alpha=args.alpha,
        common_random_numbers=args.common_random_numbers, force=force,
    )
    failures = failure_summary(sims, ests)
    for f in failures:
        if f["failed"] and not f["all_failed"]:
            print(f"warning: estimator {f['estimator']} failed in {f['failed']} of "
                  f"{f['replications']} replications (first error: {f['first_error']}); the "
                  "diagnosands use the others (column failures)", file=sys.stderr)
    grid_cols = list(grid)
    _print_table(diag, grid_cols)
    mde = None
    effect = _effect_column(diag, grid_cols)
    if effect is not None:
        mde = dg.mde_table(diag, by=[c for c in grid_cols if c != effect], alpha=args.alpha)
        print(f"\nminimum detectable effect at 80% power along {effect} (interpolated in the "
              "true effect; analytic 2.8 x mean SE beside it):")
        print(mde.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    outputs = []
    if args.out:
        from robocarbon.reports import figures_mc

        out = Path(args.out)
        x = grid_cols[0] if grid_cols else None
        outputs += figures_mc.bias_coverage(diag, out / "bias_coverage", x=x,
                                            title=f"{args.design}: bias and coverage")
        if mde is not None:
            outputs += figures_mc.power_curve(diag, "estimand", out / "power_curve", mde=mde,
                                              alpha=args.alpha,
                                              title=f"{args.design}: power by true effect")
            write_text_atomic(out / "mde.csv", mde.to_csv(index=False))
            outputs.append(out / "mde.csv")
        import json

        engine_manifest = json.loads((out / "manifest.json").read_text())
        carried = {k: engine_manifest.get(k) for k in
                   ("config_hash", "code_key", "replications_run", "replications_resumed")}
        write_manifest(
            out, seed=args.seed, **carried,
            config={"design": args.design, "params": dict(design.params), "grid": grid,
                    "estimators": names, "sims": args.sims, "alpha": args.alpha,
                    "jobs": args.jobs, "scheduler": args.scheduler, "force": force},
            wall_time=time.perf_counter() - t0,
            outputs=["config.json", "parts/", "simulations.parquet", "diagnosands.parquet",
                     "diagnosands.csv"] + [Path(p).name for p in outputs],
        )
    if args.json:
        write_json_atomic(args.json, json_rows(diag, grid_cols))
    print(f"\n{args.sims} replications x {len(diag)} diagnosand rows in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    dead = [f for f in failures if f["all_failed"]]
    if dead:
        listing = "; ".join(f"{f['estimator']} ({f['replications']} of {f['replications']}; "
                            f"first error: {f['first_error']})" for f in dead)
        print(f"error: estimator(s) failed in every replication: {listing}. The outputs were "
              "written and show the failures", file=sys.stderr)
        return 2
    return 0
