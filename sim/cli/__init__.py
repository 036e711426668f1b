"""Command line: ``parksim COMMAND ...``.

Each command is a module in this package with ``HELP`` (one line),
``register(parser)`` (adds its arguments; must import nothing heavy) and
``main(args) -> int``. Modules are discovered automatically, so adding a command
means adding a file. Heavy imports happen inside ``main``, after parsing.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from sim import __version__

EXIT_BAD_INPUT = 2
NOT_COMMANDS = {"options"}  # helper modules of this package


def _commands() -> dict:
    mods = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_") and info.name not in NOT_COMMANDS:
            mods[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return mods


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The top-level parser with one sub-parser per command module."""
    parser = argparse.ArgumentParser(
        prog="parksim",
        description="Agent-based simulation of the West Taihu Science and Technology Industrial Park under policy.",
        epilog="Run 'parksim COMMAND --help' for the options and an example of each command.",
    )
    parser.add_argument("--version", action="version", version=f"parksim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    mods = _commands()
    for name, mod in mods.items():
        p = sub.add_parser(
            name.replace("_", "-"),
            help=mod.HELP,
            description=mod.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.register(p)
        p.set_defaults(_module=mod)
    return parser, mods


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``parksim`` console script."""
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    from sim.cli.options import set_argv
    from sim.errors import ParksimError

    set_argv(sys.argv[1:] if argv is None else argv)  # the command line manifests record
    try:
        return int(args._module.main(args) or 0)
    except ParksimError as exc:
        print(f"parksim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("parksim: interrupted; finished runs are kept.", file=sys.stderr)
        return 130
    finally:
        set_argv(None)


if __name__ == "__main__":
    sys.exit(main())
