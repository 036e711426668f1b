"""Scenario discovery: which ranges of the varied levers and parameters reach a target.

RUN is a finished sweep or sensitivity batch (an id under --root, or a folder)
whose outcomes table has the varied inputs as columns. A design point succeeds
when the share of its replications reaching the target is at least P
(--threshold, default 0.5); with --per-run every run is a point of its own.
PRIM (EMA Workbench) peels a box around the successes; CART (EMA Workbench on
scikit-learn) splits the inputs into leaves. Printed: coverage (share of all
successes inside a box), density (share of the box that succeeds) and mass of
every box, the chosen box (highest coverage with density >= --min-density, or
--box N) with its limits and in plain words. Written into the batch folder:
discover_<target>__<definition>_<method>[_per_run]_{trajectory.csv, box.csv,
box.json, tradeoff.png}. Exit code 0 on success, 2 on bad input.

example:
  parksim discover 20261127-190000-ab12cd --target listed_companies_2020 --definition exchange_neeq
  parksim discover results/runs/sweep1 --target tech_projects_2016_2020__signed --threshold 0.8 --method cart
"""

from __future__ import annotations

import sys

from sim.cli import options

HELP = "scenario discovery (PRIM, CART): lever ranges that reach a target"
METHODS = ("prim", "cart")


def register(p):
    p.add_argument("run", metavar="RUN", help="batch id under --root, or a batch folder")
    p.add_argument("--target", required=True, metavar="NAME", help="target name, or target__definition")
    p.add_argument("--definition", metavar="D", help="definition of the target (needed when it has several)")
    p.add_argument(
        "--threshold", type=float, default=0.5, metavar="P",
        help="a point succeeds when at least this share of its replications reach the target (default 0.5)",
    )  # fmt: skip
    p.add_argument("--per-run", action="store_true", help="treat every run as a point (success = the run reaches it)")
    p.add_argument("--method", default="prim", help=f"one of: {', '.join(METHODS)} (default prim)")
    p.add_argument("--min-density", type=float, default=0.8, help="density the chosen box should reach (default 0.8)")
    p.add_argument("--box", type=int, help="choose this box of the trajectory instead (see the printed table)")
    options.add_root(p)


def _error(message: str) -> int:
    print(f"parksim discover: error: {message}", file=sys.stderr)
    return 2


def _check(args) -> str | None:
    if args.method not in METHODS:
        return f"--method {args.method!r} is not allowed; allowed: {', '.join(METHODS)}"
    if not 0 < args.threshold <= 1:
        return f"--threshold must be in (0, 1], got {args.threshold}"
    if not 0 < args.min_density <= 1:
        return f"--min-density must be in (0, 1], got {args.min_density}"
    return None


def main(args) -> int:
    problem = _check(args)
    if problem:
        return _error(problem)
    from sim.analysis import discovery as sd
    from sim.run.batch import load_batch

    column = sd.target_column(args.target, args.definition)
    batch = load_batch(args.run, root=args.root)
    outcomes = batch.outcomes
    inputs = sd.varied_inputs(outcomes, batch.manifest.get("input_columns"))
    if len(outcomes) == 0:
        return _error(f"batch {batch.id} has no finished runs ({batch.folder})")
    if not inputs:
        return _error(f"batch {batch.id} varies no input (its outcomes table has no varied lever or parameter "
                      "columns); run discovery on a 'parksim sweep' or 'parksim sensitivity' batch")  # fmt: skip
    x, y, points = sd.discovery_data(outcomes, inputs, column, args.threshold, args.per_run)
    unit = "runs" if args.per_run else f"design points (reach share >= {args.threshold:g})"
    print(f"{column}: {int(y.sum())} of {len(y)} {unit} reach the target; varied: {', '.join(inputs)}")
    try:
        found = sd.discover(x, y, column, args.method, args.min_density)
    except ValueError as exc:
        print(f"no box: {exc} in batch {batch.id}; nothing to separate")
        return 0
    if args.box is not None:
        if not 0 <= args.box < len(found.trajectory):
            return _error(f"--box must be between 0 and {len(found.trajectory) - 1}, got {args.box}")
        found.chosen = args.box
    print(sd.format_trajectory(found))
    table = sd.box_table(found)
    shown = table[table["restricted"]]
    cols = ["input", "low", "high", "tested_low", "tested_high", "unit", "qp_low", "qp_high"]
    print(f"\nbox {found.chosen} limits ({len(table) - len(shown)} other inputs unrestricted; all in the box CSV):")
    if len(shown):
        print(shown[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n" + sd.describe_box(found, per_run=args.per_run, threshold=args.threshold))
    if batch.folder is not None:
        for path in sd.write_discovery(found, table, batch.folder, args.threshold, args.per_run, batch.id):
            print(f"wrote {path}")
    return 0
