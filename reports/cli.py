"""The ``robocarbon`` command line.

Each subcommand lives in its own module ``robocarbon/reports/cmd_<name>.py`` (folder
``reports/``) that defines:

- ``NAME`` (the subcommand, e.g. ``"theory"``) and ``HELP`` (one line);
- ``add_arguments(parser)`` to declare its flags;
- ``run(args) -> int`` returning the exit status;
- optionally ``INPUTS`` (names of the ``args`` attributes holding input files or folders) and
  ``planned_outputs(args) -> Outputs`` (every file and folder the run will write), so the output
  policy is checked before any work.

Modules are discovered automatically, so adding a subcommand never edits this file; each module
imports its heavy dependencies inside ``run`` so ``robocarbon --help`` answers at once.

The error boundary (:func:`main`): every failure becomes ``error: ...`` on stderr and exit status
2 (a Python traceback only with ``--debug``); Ctrl-C gives 130. Bad input raises
:class:`robocarbon.empirics.errors.InputError`, which names the file, column and rows. Every
command runs under the output policy of :mod:`robocarbon.empirics.outputs`: it never overwrites
or deletes a file or folder robocarbon did not create (unless ``--force``), never writes over its
own inputs, and writes each file atomically, so a failure leaves no partial output.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import robocarbon
from robocarbon import reports
from robocarbon.empirics.errors import InputError

# the order in which subcommands are listed in --help (others follow alphabetically)
_ORDER = (
    "replicate", "theory", "estimate", "did", "threshold", "build-panel", "ceads", "shiftshare",
    "simulate", "diagnose", "sensitivity",
)
#: at most this many files of an input folder are registered as inputs (outputs may not hit them)
_MAX_INPUT_FILES = 100_000


@dataclasses.dataclass
class Outputs:
    """What a command run will write: ``files`` (replaced one by one) and ``folders`` (each
    ``(path, replace)``: replaced as a whole, or added to)."""

    files: list = dataclasses.field(default_factory=list)
    folders: list = dataclasses.field(default_factory=list)

    def file(self, path) -> None:
        if path:
            self.files.append(Path(path))

    def folder(self, path, *, replace: bool) -> None:
        if path:
            self.folders.append((Path(path), replace))


def file_outputs(*paths) -> Outputs:
    """The plan of a command that writes single files: ``paths`` (``None`` entries skipped) and,
    when there are any, the run's manifest named after the first of them."""
    from robocarbon.empirics.provenance import manifest_path

    plan = Outputs()
    given = [Path(p) for p in paths if p]
    for p in given:
        plan.file(p)
    if given:
        plan.file(manifest_path(given[0]))
    return plan


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error format: ``error: ...`` first, exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"error: {self.prog}: {message}\n(see `{self.prog} --help`)\n")


def _commands():
    mods = []
    for info in pkgutil.iter_modules(reports.__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"robocarbon.reports.{info.name}"))
    rank = {n: i for i, n in enumerate(_ORDER)}
    return sorted(mods, key=lambda m: (rank.get(m.NAME, len(rank)), m.NAME))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the subcommand it names gets its flags declared (the
    others are listed by name), so ``robocarbon --help`` and ``robocarbon X --help`` import
    only what X needs."""
    wanted = None
    if argv is not None:
        names = {m.NAME for m in _commands()}
        wanted = next((a for a in argv if a in names), "")
    parser = _Parser(
        prog="robocarbon",
        description=(
            "Check Huang and Jiang, 'Digital Low-carbon Road: Industrial Robots and Urban "
            "Industrial Carbon Emissions', end to end: theory, identification and numbers."
        ),
        epilog="Every command: --force to overwrite files robocarbon did not write (never its own "
               "inputs), --debug for a Python traceback on error. Errors: 'error: ...', exit 2.",
    )
    parser.add_argument("--version", action="version", version=f"robocarbon {robocarbon.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        if wanted is not None and mod.NAME != wanted:
            p.set_defaults(_run=None, _module=mod)
            continue
        mod.add_arguments(p)
        if "--force" not in p._option_string_actions:
            p.add_argument("--force", action="store_true",
                           help="overwrite or write into files and folders robocarbon did not create "
                                "(it never writes over its own inputs and never deletes other files)")
        if "--debug" not in p._option_string_actions:
            p.add_argument("--debug", action="store_true",
                           help="on error, also print the Python traceback")
        p.set_defaults(_run=mod.run, _module=mod)
    return parser


def _input_paths(mod, args) -> list[Path]:
    out: list[Path] = []
    for name in getattr(mod, "INPUTS", ()):
        val = getattr(args, name, None)
        for v in (val if isinstance(val, list | tuple) else [val]):
            if not v:
                continue
            p = Path(v)
            if p.is_dir():
                for i, f in enumerate(p.rglob("*")):
                    if i >= _MAX_INPUT_FILES:
                        break
                    if f.is_file():
                        out.append(f)
            out.append(p)
    return out


def preflight(mod, args) -> None:
    """Check every planned output of a run against the output policy before any work."""
    from robocarbon.empirics import outputs as O

    plan = getattr(mod, "planned_outputs", None)
    if plan is None:
        return
    planned = plan(args)
    seen: dict[Path, str] = {}
    for p in planned.files + [f for f, _ in planned.folders]:
        r = Path(os.path.abspath(p)).resolve()
        if r in seen:
            raise InputError(f"two outputs of this run are the same path ({seen[r]} and {p})", file=str(p))
        seen[r] = str(p)
    for f in planned.files:
        O.check_file(f)
    for d, replace in planned.folders:
        O.check_folder(d, replace=replace)


def _innermost_step(exc: BaseException) -> str:
    """``module.function`` of the innermost robocarbon frame of a traceback."""
    step = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if "robocarbon" in frame.filename or "/work/" in frame.filename:
            step = f"{Path(frame.filename).stem}.{frame.name}"
    return step or "robocarbon"


def _error(message: str, exc: BaseException | None, debug: bool) -> int:
    if debug and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit 0 as argparse does; usage errors give 2
        if not exc.code:
            raise
        return int(exc.code) if isinstance(exc.code, int) else 2
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    debug = bool(getattr(args, "debug", False))
    from robocarbon.empirics import outputs as O

    try:
        with O.output_policy(force=bool(getattr(args, "force", False)),
                             inputs=_input_paths(args._module, args)):
            preflight(args._module, args)
            return int(args._run(args) or 0)
    except InputError as exc:
        return _error(str(exc), exc, debug)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError as exc:
        return _error("out of memory in " + _innermost_step(exc) + ": the problem is too large for "
                      "this machine; use fewer replications (--sims), fewer workers (--jobs), a "
                      "coarser grid or a smaller panel", exc, debug)
    except OSError as exc:
        return _error(O.disk_error_message(exc), exc, debug)
    except RecursionError as exc:
        return _error(f"internal error in {_innermost_step(exc)}: recursion too deep "
                      "(rerun with --debug for the traceback)", exc, debug)
    except (ArithmeticError, ValueError) as exc:
        import numpy as np

        kind = "numerical failure" if isinstance(exc, ArithmeticError | np.linalg.LinAlgError) else "invalid value"
        return _error(f"{kind} in {_innermost_step(exc)}: {exc} (rerun with --debug for the "
                      "traceback)", exc, debug)
    except Exception as exc:  # noqa: BLE001 - the one boundary: never a bare traceback
        return _error(f"internal error in {_innermost_step(exc)}: {type(exc).__name__}: {exc} "
                      "(rerun with --debug for the traceback; please report it)", exc, debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
