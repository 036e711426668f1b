"""Benchmark single replications: tiny, baseline and a 10x larger population.

Reports time per replication (median of --reps runs after a warm-up),
agent-steps per second (firms + talent agents + investors stepped per month)
and peak memory, each configuration measured in a fresh process. A benchmark,
not a test: figures depend on the machine and its load.

examples:
  parksim bench
  parksim bench --reps 9 --config baseline --json bench.json
"""

from __future__ import annotations

HELP = "measure time per replication, agent-steps per second and peak memory"


def register(p):
    p.add_argument("--reps", type=int, default=5, help="timed replications per configuration (default 5)")
    p.add_argument(
        "--config",
        action="append",
        choices=["tiny", "baseline", "baseline_x10"],
        help="configuration to measure (repeatable; default all three)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")


def main(args) -> int:
    import json
    from pathlib import Path

    from sim.errors import InputError
    from sim.run.bench import check_reps, markdown, run_all

    check_reps(args.reps)
    if args.json and (Path(args.json).is_dir() or not Path(args.json).resolve().parent.is_dir()):
        raise InputError("--json", None, f"{args.json} cannot be written: give a file in an existing folder")

    rows = run_all(args.config or ["tiny", "baseline", "baseline_x10"], args.reps)
    print(markdown(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0
