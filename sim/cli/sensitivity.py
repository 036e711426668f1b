"""Global sensitivity of the plan's targets to levers and behavioural parameters (SALib).

The design file (scenarios/designs/sensitivity_*.toml) names the inputs to vary
and their ranges; every other input keeps the value of SCENARIO. Morris samples
N trajectories (N x (inputs + 1) points) and reports mu_star (mean absolute
elementary effect, with a 95% bootstrap interval), mu and sigma; Sobol samples
N x (inputs + 2) points (Saltelli; N a power of 2) and reports first-order (S1)
and total (ST) indices with 95% intervals. Each point runs REPS replications
with common random numbers through the batch runner (--workers, --dask, and a
resumable store); the replications of a point are averaged before the analysis.

Outcomes: the measured value of each target under each definition, the share
of replications reaching it ("P reach"), and the end_* indicators. Written into
the batch folder results/runs/<id>/: sensitivity_indices.csv (tidy: outcome,
measure, input, kind, index, value, conf, low, high), sensitivity_points.csv,
sensitivity_<group>.png bar charts (Morris also *_mu_sigma.png) and
sensitivity.json. A summary of the most influential inputs per outcome is
printed. Runs go to a local process pool with one worker per usable core by
default (--workers 1: in this process); the indices are the same whatever the
number of workers. Exit code 0 on success, 1 when runs failed, 2 on bad input.

example:
  parksim sensitivity baseline --method morris --design sensitivity_levers --n 10 --reps 10
  parksim sensitivity baseline --method sobol --design sensitivity_listing --n 256 --reps 4 --id sobol-listing
  parksim sensitivity baseline --method sobol --design sensitivity_listing --n 256 --reps 4 --resume sobol-listing
  parksim sensitivity baseline --method morris --design sensitivity_behaviour --n 10 --reps 4 --dask local:4
"""

from __future__ import annotations

import sys

from sim.cli import options
from sim.run.executor import usable_cores  # light: the count the executors cap --workers at

HELP = "global sensitivity (Morris, Sobol) of the targets to levers and parameters"
METHODS = ("morris", "sobol")
MAX_DEFAULT_WORKERS = 16  # beyond this a local pool gains little on one machine; ask for more with --workers


def default_workers(runs: int) -> int:
    """``--workers`` when not given: the usable cores, capped, and never more processes than runs."""
    return max(1, min(usable_cores(), MAX_DEFAULT_WORKERS, runs))


def register(p):
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file, or name of a file in scenarios/")
    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    p.add_argument(
        "--design", required=True, metavar="FILE", help="sensitivity design file, or its name in scenarios/designs/"
    )
    p.add_argument(
        "--n", type=int, help="Morris trajectories (default 10) or Sobol base sample, a power of 2 (default 64)"
    )
    options.add_reps(p, default=5, per="design point")
    options.add_seed(p)
    options.add_executor(
        p, workers_default=None, workers_help=f"default: the usable cores, at most {MAX_DEFAULT_WORKERS}, one per run"
    )
    options.add_out(p)
    options.add_batch_id(p)
    p.add_argument("--resume", metavar="ID", help="complete an interrupted study (same arguments) in batch ID")
    p.add_argument(
        "--top", type=options.positive_int, default=3, help="inputs named per outcome in the summary (default 3)"
    )
    options.add_quiet(p)


def _error(message: str) -> int:
    print(f"parksim sensitivity: error: {message}", file=sys.stderr)
    return 2


def main(args) -> int:
    if args.method not in METHODS:
        return _error(f"--method {args.method!r} is not allowed; allowed: {', '.join(METHODS)}")
    if args.resume and args.batch_id:
        return _error("give either --resume ID (complete a study) or --id ID (name a new one), not both")
    from sim.analysis import sensitivity as sa
    from sim.analysis import sensitivity_study
    from sim.model.scenario import load_scenario

    n = args.n if args.n is not None else (10 if args.method == "morris" else 64)
    problem = sa.check_n(args.method, n)
    if problem:
        return _error(problem)
    base = load_scenario(args.scenario)
    design = sa.load_design(args.design)  # everything is checked before anything runs
    points = sa.n_points(args.method, n, len(design.factors))
    workers = args.workers if args.workers is not None else default_workers(points * args.reps)
    where = f"Dask at {args.dask}" if args.dask else f"{workers} local process{'es' if workers > 1 else ''}"
    print(f"{args.method}: {len(design.factors)} factors, {points} design points x {args.reps} replications "
          f"= {points * args.reps} runs on {where}", file=sys.stderr)  # fmt: skip
    try:
        study = sensitivity_study.run_study(
            base, design, args.method, n, args.reps, args.seed, workers=workers, dask=args.dask,
            out_root=args.out, batch_id=args.batch_id, resume=args.resume,
            command=options.command_line(), progress=not args.quiet,
        )  # fmt: skip
    except sensitivity_study.StudyIncomplete as exc:
        print(f"parksim sensitivity: {exc}", file=sys.stderr)
        return 1
    print(sa.format_summary(study.table, args.method, study.skipped, top=args.top))
    for path in study.files or []:
        print(f"wrote {path}")
    if study.batch.failed:
        print(f"parksim sensitivity: {study.batch.failed} run(s) failed; indices use the rest of each point's "
              f"replications; see {study.batch.folder}/manifest.json", file=sys.stderr)  # fmt: skip
        return 1
    return 0
