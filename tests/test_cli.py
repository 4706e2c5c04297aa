"""The command line: every subcommand has --help; bad input exits non-zero."""

from __future__ import annotations

import subprocess
import sys

import pytest

from robocarbon.reports.cli import _commands, build_parser, main


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "robocarbon" in capsys.readouterr().out


@pytest.mark.parametrize("name", [m.NAME for m in _commands()])
def test_subcommand_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert name in capsys.readouterr().out


def test_no_command_is_an_error(capsys):
    assert main([]) == 2


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "robocarbon", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "robocarbon" in out.stdout


def test_parser_builds():
    assert build_parser().prog == "robocarbon"
