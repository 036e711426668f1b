"""Options shared by the commands: one definition, one help text and one check each.

Every command adds ``--workers``, ``--dask``, ``--out``/``--root``, ``--seed``,
``--reps``, ``--quiet`` and ``--json`` through these functions. Checks are
argparse ``type=`` functions, so a bad value stops the command while parsing
with exit code 2 and a message naming the option, before anything is loaded
or written. :func:`command_line` is the command line recorded in manifests.
Nothing heavy is imported here (``parksim X --help`` answers at once).
"""

from __future__ import annotations

import argparse
import shlex

RESULTS_ROOT = "results/runs"
DASK_HELP = "run on a Dask cluster: tcp://HOST:PORT (a running scheduler), or local:N (N workers on this machine)"
_ARGV: dict = {"argv": None}  # the arguments of the command being run (set by sim.cli.main)


# ---------------------------------------------------------------- checks (argparse type= functions)
def positive_int(text: str) -> int:
    """A whole number of at least 1.

    Raises:
        argparse.ArgumentTypeError: anything else (argparse prints it with the option and exits 2).
    """
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def whole_number(text: str) -> int:
    """Any whole number (a seed).

    Raises:
        argparse.ArgumentTypeError: not a whole number.
    """
    try:
        return int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def dask_address(text: str) -> str:
    """A ``--dask`` value: ``tcp://HOST:PORT`` (or another Dask scheme) or ``local:N``.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    from sim.errors import InputError
    from sim.run.dask import parse_dask_address  # light: no numpy, no dask

    try:
        parse_dask_address(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None
    return text.strip()


# ---------------------------------------------------------------- options
def add_executor(p, workers_default: int | None = 1, workers_help: str | None = None) -> None:
    """``--workers W`` and ``--dask ADDR`` (one or the other): where the runs are computed.

    Args:
        p: the command's parser.
        workers_default: ``--workers`` when not given (None: the command chooses).
        workers_help: what the default is, when the command chooses it.
    """
    where = p.add_mutually_exclusive_group()
    default = workers_help or f"default {workers_default}"
    where.add_argument(
        "--workers",
        type=positive_int,
        default=workers_default,
        metavar="W",
        help=f"local worker processes, capped at the cores this process may use ({default}); results do not "
        "depend on it",
    )
    where.add_argument("--dask", type=dask_address, metavar="ADDR", help=DASK_HELP)


def add_reps(p, default: int, per: str = "scenario") -> None:
    """``--reps N``: replications per scenario or design point."""
    help = f"replications per {per} (default {default})"
    p.add_argument("--reps", type=positive_int, default=default, metavar="N", help=help)


def add_seed(p) -> None:
    """``--seed S``: the root seed; replication i uses ``SeedSequence(S).spawn(reps)[i]``."""
    help = "root seed: replication i of every scenario or point uses SeedSequence(S).spawn(reps)[i] (default 2016)"
    p.add_argument("--seed", type=whole_number, default=2016, metavar="S", help=help)


def add_out(p) -> None:
    """``--out DIR``: the folder that receives a new batch folder."""
    p.add_argument(
        "--out",
        default=RESULTS_ROOT,
        metavar="DIR",
        help=f"folder that receives the batch folder (default {RESULTS_ROOT})",
    )


def add_root(p) -> None:
    """``--root DIR``: where batch ids are looked up."""
    p.add_argument(
        "--root", default=RESULTS_ROOT, metavar="DIR", help=f"folder of batch folders (default {RESULTS_ROOT})"
    )


def add_batch_id(p) -> None:
    """``--id ID``: the name of a new batch folder."""
    p.add_argument("--id", dest="batch_id", help="name of the batch folder (default: date-time and a short hash)")


def add_quiet(p) -> None:
    """``--quiet``: no progress bar on stderr."""
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_json(p, what: str) -> None:
    """``--json``: print ``what`` (JSON) on stdout and nothing else there (for scripts)."""
    p.add_argument("--json", action="store_true", help=f"print {what} on stdout instead (for scripts)")


def add_all_definitions(p) -> None:
    """``--all-definitions``: report every definition of each target, not only the plan's reading."""
    p.add_argument(
        "--all-definitions", action="store_true", help="report every definition of each target, not only the plan's"
    )


def add_posterior(p) -> None:
    """``--at-point`` and ``--seeds-per-draw K``: parameter uncertainty of a batch (issue 12 item 5)."""
    p.add_argument(
        "--at-point",
        action="store_true",
        help="run every replication at the fitted point values (today's behaviour) instead of pairing "
        "replication i with posterior draw i of the scenario's fitted_params",
    )
    p.add_argument(
        "--seeds-per-draw",
        type=positive_int,
        default=1,
        metavar="K",
        help="replications (seeds) that share one posterior draw (default 1: every replication a fresh "
        "(draw, seed) pair); K > 1 splits each indicator's variance into parameter and stochastic parts",
    )


def posterior_conflict(args, command: str) -> bool:
    """Say so on stderr (and return True) when ``--seeds-per-draw`` is given with ``--at-point``."""
    if args.at_point and args.seeds_per_draw > 1:
        import sys

        print(
            f"parksim {command}: error: --seeds-per-draw {args.seeds_per_draw} needs posterior draws; "
            "--at-point runs at the fitted point (give one or the other)",
            file=sys.stderr,
        )
        return True
    return False


# ---------------------------------------------------------------- the command line of manifests
def set_argv(argv: list[str] | None) -> None:
    """Remember the arguments of the command being run (``sim.cli.main`` calls it; None when it ends)."""
    _ARGV["argv"] = None if argv is None else [str(a) for a in argv]


def command_line() -> str | None:
    """``parksim ARGS...`` of the command being run, quoted for a shell; None outside a ``parksim`` command."""
    argv = _ARGV["argv"]
    return None if argv is None else shlex.join(["parksim", *argv])
