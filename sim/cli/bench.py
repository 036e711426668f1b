"""Benchmark single replications (tiny, baseline, a 10x population) and batch throughput.

Reports, per configuration, CPU seconds per simulated month (process CPU time,
not wall), firm-months per second per core and peak memory, each the median
over --reps fresh processes (each runs a warm-up, then one timed replication).
--against REF measures the code of a git ref in the same run, interleaved with
the working tree's, and prints the ratios old/new. --scaling measures 1x, 3x,
10x, 30x and 50x the baseline population instead. --batch measures runs per
second of the batch runner on 1 and 2 workers for short (tiny) and long
(baseline) runs. --equivalence runs --seeds paired seeds (at least 200) of --scenario
under the working tree and under --against REF and tests every target, reached
target and end indicator for equivalence (sim/run/equivalence.py: identical
pairs, TOST with declared margins), with each side's CPU per replication.
A benchmark, not a test: figures depend on the machine and its load.

examples:
  parksim bench
  parksim bench --reps 5 --against main --json bench.json
  parksim bench --scaling --reps 3
  parksim bench --batch --batch-reps 20 --reps 3
  parksim bench --equivalence --against b4a6883 --seeds 200 --json equivalence.json
"""

from __future__ import annotations

HELP = "measure CPU per simulated month, firm-months per second and peak memory (optionally against a git ref)"


def register(p):
    from sim.cli import options
    from sim.run.bench import CONFIGS

    p.add_argument("--reps", type=int, default=5, help="fresh processes per figure (default 5; --batch: repeats)")
    p.add_argument(
        "--config",
        action="append",
        choices=list(CONFIGS),
        help="configuration to measure (repeatable; default tiny, baseline, baseline_x10)",
    )
    p.add_argument(
        "--timed",
        type=int,
        default=1,
        metavar="K",
        help="replications timed in each process after its warm-up (default 1; more: a long batch's steady state)",
    )
    p.add_argument("--scaling", action="store_true", help="measure 1x/3x/10x/30x/50x the baseline population")
    p.add_argument("--against", metavar="REF", help="also measure the code of this git ref, side by side")
    p.add_argument("--batch", action="store_true", help="instead: batch runs per second on 1 and 2 workers")
    p.add_argument("--batch-reps", type=int, default=20, help="replications per batch with --batch (default 20)")
    p.add_argument(
        "--equivalence",
        action="store_true",
        help="instead: paired seeds under the working tree and --against REF, every outcome tested for equivalence",
    )
    p.add_argument("--seeds", type=int, default=200, help="paired seeds with --equivalence (default 200, at least 200)")
    p.add_argument("--scenario", default="baseline", help="scenario in scenarios/ (--equivalence; default baseline)")
    p.add_argument(
        "--workers", type=options.positive_int, default=2, help="processes per side with --equivalence (default 2)"
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    options.add_quiet(p)  # progress here: one line per measurement on stderr


def main(args) -> int:
    import json
    import sys
    from pathlib import Path

    from sim.errors import InputError
    from sim.run import bench

    bench.check_reps(args.reps)
    bench.check_reps(args.timed, "--timed")
    if args.batch:
        bench.check_reps(args.batch_reps, "--batch-reps")
    if args.json and (Path(args.json).is_dir() or not Path(args.json).resolve().parent.is_dir()):
        raise InputError("--json", None, f"{args.json} cannot be written: give a file in an existing folder")
    if args.against:
        bench.resolve_ref(args.against)  # a bad ref fails before anything is measured
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if args.equivalence:
        from sim.run import equivalence

        if not args.against:
            raise InputError("--against", None, "--equivalence compares with the code of a git ref: give --against REF")
        if args.batch or args.scaling or args.config:
            raise InputError("--equivalence", None, "runs on its own: drop --batch, --scaling and --config")
        doc = equivalence.run_equivalence(args.scenario, args.seeds, args.against, workers=args.workers, log=log)
        print(equivalence.markdown(doc))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
        return 0 if doc["equivalent"] else 1
    if args.batch:
        doc = bench.run_batch_bench(args.batch_reps, args.reps, against=args.against, log=log)
        print(bench.batch_markdown(doc))
    else:
        configs = list(args.config or [])
        if args.scaling:
            configs += [c for c in bench.SCALING_CONFIGS if c not in configs]
        doc = bench.run_all(
            configs or list(bench.DEFAULT_CONFIGS), args.reps, against=args.against, log=log, timed=args.timed
        )
        print(bench.markdown(doc))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
    return 0
