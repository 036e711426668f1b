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
    i.name.replace("_", "-")
    for i in pkgutil.iter_modules(sim.cli.__path__)
    if not i.name.startswith("_") and i.name not in sim.cli.NOT_COMMANDS
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


def _subparsers() -> dict:
    parser, _ = sim.cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return dict(sub.choices)


def _options(subparser) -> dict:
    return {flag: action for action in subparser._actions for flag in action.option_strings}


SHARED = ("--workers", "--dask", "--root", "--quiet", "--seed")


def test_shared_options_have_one_definition_in_every_command():
    """--workers, --dask, --root, --quiet and --seed read the same (and are checked the same) wherever they appear."""
    seen: dict = {}
    for name, sub in _subparsers().items():
        for flag, action in _options(sub).items():
            if flag in SHARED:
                seen.setdefault(flag, {})[name] = (action.type, action.help if flag != "--workers" else None)
    assert {"run", "sweep", "resume", "sensitivity", "calibrate"} <= set(seen["--workers"]), seen["--workers"]
    for flag, per_command in seen.items():
        assert len(set(per_command.values())) == 1, f"{flag} differs between commands: {per_command}"


BATCH_COMMANDS = [
    "run tiny",
    "sweep tiny --design x",
    "resume ID",
    "sensitivity tiny --method morris --design x",
    "calibrate JOB",
]
BAD_OPTIONS = [
    ["--workers", "0"],
    ["--workers", "two"],
    ["--reps", "0"],
    ["--dask", "host:8786"],
    ["--workers", "2", "--dask", "local:2"],
]
NO_REPS = ("resume", "calibrate")  # these take their replications from the batch or the job


@pytest.mark.parametrize(
    ("command", "bad"),
    [(c, b) for c in BATCH_COMMANDS for b in BAD_OPTIONS if not (b[0] == "--reps" and c.split()[0] in NO_REPS)],
)
def test_bad_executor_options_are_usage_errors_while_parsing(capsys, command, bad):
    argv = [*command.split(), *bad]
    with pytest.raises(SystemExit) as info:
        sim.cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {bad[0]}" in err or f"argument {bad[-2]}" in err, err


def test_the_recorded_command_line_is_the_parsed_one_quoted():
    from sim.cli.options import command_line, positive_int, set_argv

    assert command_line() is None, "outside a parksim command nothing is recorded"
    set_argv(["run", "my scenario.toml", "--reps", "3"])
    try:
        assert command_line() == "parksim run 'my scenario.toml' --reps 3"
    finally:
        set_argv(None)
    assert positive_int("4") == 4


def test_parsing_dask_and_workers_imports_nothing_heavy():
    code = (
        "import sys; from sim.cli import build_parser; p, _ = build_parser(); "
        "p.parse_args(['run', 'tiny', '--dask', 'local:2']); p.parse_args(['calibrate', 'J', '--workers', '2']); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", f"checking the options imported {proc.stdout.strip()}"
