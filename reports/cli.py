"""The ``robocarbon`` command line.

Each subcommand lives in its own module ``robocarbon/reports/cmd_<name>.py`` (folder
``reports/``) that defines:

- ``NAME`` (the subcommand, e.g. ``"theory"``) and ``HELP`` (one line);
- ``add_arguments(parser)`` to declare its flags;
- ``run(args) -> int`` returning the exit status.

Modules are discovered automatically, so adding a subcommand never edits this file. Bad input
raises :class:`robocarbon.empirics.errors.InputError`; it is printed as ``error: ...`` with exit
status 2, and, because every output is written atomically, no output file is left behind.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import robocarbon
from robocarbon import reports
from robocarbon.empirics.errors import InputError

# the order in which subcommands are listed in --help (others follow alphabetically)
_ORDER = (
    "replicate", "theory", "estimate", "did", "threshold", "build-panel", "ceads", "shiftshare",
    "simulate", "diagnose",
)


def _commands():
    mods = []
    for info in pkgutil.iter_modules(reports.__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"robocarbon.reports.{info.name}"))
    rank = {n: i for i, n in enumerate(_ORDER)}
    return sorted(mods, key=lambda m: (rank.get(m.NAME, len(rank)), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robocarbon",
        description=(
            "Check Huang and Jiang, 'Digital Low-carbon Road: Industrial Robots and Urban "
            "Industrial Carbon Emissions', end to end: theory, identification and numbers."
        ),
    )
    parser.add_argument("--version", action="version", version=f"robocarbon {robocarbon.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: file not found: {exc.filename or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
