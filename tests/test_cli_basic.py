"""CLI basics: ``parksim --help`` lists every command and each command's help has an example.

Commands are the modules of sim/cli/ (discovered, like the CLI does), so a new
command is covered as soon as its file exists. Per-command help is checked
in-process (cheap); the console script and ``python -m sim.cli`` once each in
a subprocess.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sim.cli

COMMANDS = sorted(
    i.name.replace("_", "-") for i in pkgutil.iter_modules(sim.cli.__path__) if not i.name.startswith("_")
)
HEAVY = ("mesa", "pandas", "matplotlib", "scipy", "pyarrow", "dask", "distributed", "duckdb", "pyabc", "SALib")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def test_there_are_commands():
    assert "validate" in COMMANDS and "run" in COMMANDS, f"expected at least validate and run, found {COMMANDS}"


@pytest.mark.parametrize(
    "command",
    [[str(Path(sys.executable).with_name("parksim"))], [sys.executable, "-m", "sim.cli"]],
    ids=["console_script", "python_m_sim_cli"],
)
def test_top_level_help_lists_every_command(command):
    proc = run([*command, "--help"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = [c for c in COMMANDS if f"    {c} " not in proc.stdout and f"    {c}\n" not in proc.stdout]
    assert not missing, f"commands missing from --help: {missing}\n{proc.stdout}"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_exits_0_and_has_an_example(capsys, command):
    with pytest.raises(SystemExit) as info:
        sim.cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: parksim {command}" in out
    assert "example" in out.lower(), f"'parksim {command} --help' should end with an example block:\n{out}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_module_has_the_parts_the_cli_needs(command):
    import importlib

    mod = importlib.import_module(f"sim.cli.{command.replace('-', '_')}")
    assert isinstance(mod.HELP, str) and mod.HELP and "\n" not in mod.HELP, "HELP must be one line"
    assert mod.__doc__ and re.search(r"^examples?:$", mod.__doc__, re.M), "the docstring needs an 'example:' block"
    assert callable(mod.register) and callable(mod.main)


def test_no_command_prints_help_and_exits_2(capsys):
    assert sim.cli.main([]) == 2
    assert "usage: parksim" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        sim.cli.main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_building_the_parser_imports_nothing_heavy():
    """Heavy imports happen after argument parsing, so `parksim X --help` answers at once."""
    code = (
        "import sys; from sim.cli import build_parser; build_parser(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = proc.stdout.strip()
    assert loaded == "", f"building the CLI parser imported {loaded} (via sim/__init__.py or a register())"
