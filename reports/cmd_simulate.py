"""``robocarbon simulate``: draw one synthetic city panel from a design and write it with its truth.

Examples::

    robocarbon simulate --list
    robocarbon simulate --design paper --seed 1 --out panel.parquet
    robocarbon simulate --design paper --set confounding=0.2 --set lag_weights=[1,0.3] \\
        --seed 1 --out threat.parquet
    robocarbon simulate --design paper --calibrate

The panel goes to ``--out`` (Parquet, or CSV when the name ends in .csv), the truth to the same
name with the suffix replaced by ``.truth.json`` (e.g. ``panel.truth.json``); both are written
atomically and are byte-identical for the same design, parameters and seed. A ``manifest.json``
(command, seed, config, versions, wall time) is written beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from robocarbon.empirics.errors import InputError

NAME = "simulate"
HELP = "draw a synthetic city panel (with its true estimands) from a design"
DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--design", default="paper", help="design name (see --list); default paper")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="change a design parameter (repeatable); VALUE is JSON "
                             "(numbers, true/false, [lists]) or a bare string")
    parser.add_argument("--seed", type=int, default=None, help="random seed (required with --out)")
    parser.add_argument("--out", default=None, help="output panel file (.parquet or .csv)")
    parser.add_argument("--list", action="store_true", help="list designs and their parameters")
    parser.add_argument("--calibrate", action="store_true",
                        help="print the design's simulated against Table 1/Table 2 target moments")
    parser.add_argument("--draws", type=int, default=5,
                        help="draws averaged by --calibrate (default 5)")


def parse_settings(settings: list[str]) -> dict:
    """``["a=1", "b=[1,2]", "c=none"]`` -> ``{"a": 1, "b": [1, 2], "c": "none"}``."""
    out = {}
    for item in settings:
        if "=" not in item:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}", column="--set")
        key, raw = item.split("=", 1)
        key = key.strip()
        raw = raw.strip()
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            if "," in raw:
                try:
                    val = [float(x) for x in raw.split(",")]
                except ValueError:
                    val = raw
            else:
                val = raw
        out[key] = val
    return out


_PANEL_SUFFIXES = (".csv", ".parquet", ".pq", "")


def planned_outputs(args):
    from robocarbon.empirics.provenance import manifest_path

    from .cli import Outputs

    plan = Outputs()
    if args.out and not args.list and not args.calibrate:
        out = Path(args.out)
        if out.suffix.lower() not in _PANEL_SUFFIXES:
            raise InputError(f"unknown output format {out.suffix!r}; use .parquet or .csv",
                             file=str(out))
        plan.file(out)
        plan.file(truth_path(out))
        plan.file(manifest_path(out))
    return plan


def truth_path(out: Path) -> Path:
    """``panel.parquet`` -> ``panel.truth.json``."""
    return out.with_name(out.stem + ".truth.json") if out.suffix else out.with_name(out.name + ".truth.json")


def write_panel(panel, out: Path) -> None:
    """Write the panel atomically; Parquet without timestamps or index, so bytes are stable."""
    from robocarbon.empirics.provenance import atomic_path

    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            panel.to_csv(tmp, index=False, float_format="%.17g", lineterminator="\n")
        elif suffix in _PANEL_SUFFIXES:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(panel, preserve_index=False)
            pq.write_table(table, tmp, compression="snappy", write_statistics=True,
                           store_schema=True)
        else:
            raise InputError(f"unknown output format {out.suffix!r}; use .parquet or .csv",
                             file=str(out))


def _print_list(stream=None) -> None:
    from robocarbon.simulate.design import list_designs

    stream = sys.stdout if stream is None else stream
    for name, desc, table in list_designs():
        print(f"{name}: {desc}", file=stream)
        w = max(len(r["name"]) for r in table)
        for r in table:
            extra = f" (choices: {', '.join(r['choices'])})" if "choices" in r else ""
            print(f"  {r['name']:<{w}}  {r['type']:<6} default {r['default']!r:<14} "
                  f"[{r['group']}] {r['description']}{extra}", file=stream)
    from robocarbon.simulate.threats import THREATS

    print("threats (all off by default; predicted effect on the TWFE robot estimate):", file=stream)
    for name, t in THREATS.items():
        print(f"  {name} [{t['params']}]: {t['prediction']}", file=stream)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from robocarbon.empirics.provenance import write_json_atomic, write_manifest
    from robocarbon.simulate.design import get_design

    if args.list:
        _print_list()
        return 0
    params = parse_settings(args.settings)
    design = get_design(args.design, **params)
    if args.calibrate:
        from robocarbon.simulate.calibrate import check

        check(design, draws=args.draws, seed=20240607 if args.seed is None else args.seed)
        return 0
    if args.out is None:
        raise InputError("--out is required (or use --list / --calibrate)", column="--out")
    if args.seed is None:
        raise InputError("--seed is required so the panel can be reproduced", column="--seed")
    t0 = time.perf_counter()
    draw = design.draw(np.random.default_rng(args.seed))
    out = Path(args.out)
    tpath = truth_path(out)
    record = {
        "design": design.name,
        "seed": args.seed,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(design.params.items())},
        "changed": sorted(design.changed()),
        "truth": {k: draw.truth[k] for k in sorted(draw.truth)},
        "rows": int(draw.panel.shape[0]),
        "columns": list(draw.panel.columns),
        "panel_file": out.name,
    }
    write_panel(draw.panel, out)
    try:
        write_json_atomic(tpath, record)
    except BaseException:
        from robocarbon.empirics.outputs import remove_own_file

        remove_own_file(out)  # the panel just written (ours, unchanged); never a user's file
        raise
    write_manifest(for_file=out, seed=args.seed, config={"design": design.name, **record["params"]},
                   wall_time=time.perf_counter() - t0, outputs=[out.name, tpath.name])
    print(f"wrote {out} ({draw.panel.shape[0]} rows) and {tpath}")
    return 0
