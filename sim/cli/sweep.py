"""Run a sweep: the points of a design file crossed with replications.

The design (TOML, see scenarios/designs/) names levers and/or behavioural
parameters with ranges and a method: a full grid, a Latin hypercube, a Sobol'
sequence or an explicit CSV table of points. Every name and range is checked
against sim/model/params.py before anything runs. Each point is SCENARIO with the
point's inputs; replication i of every point uses the same child seed
SeedSequence(SEED).spawn(REPS)[i] and, unless --at-point, the same posterior draw
of the fitted parameters (never of a design input), so differences between
points are paired.
Results go to OUT/<id>/ like 'parksim run'; the outcomes table has one column per
varied input. A killed sweep is completed with --resume ID (same SCENARIO,
design, --reps and --seed), giving the tables an uninterrupted sweep gives.
Exit code: 0 all runs ok, 1 some runs failed, 2 bad input, 130 interrupted.

examples:
  parksim sweep baseline --design eco_x_financing --reps 20 --workers 2
  parksim sweep baseline --design scenarios/designs/levers_lhs.toml --reps 10 --dask tcp://10.0.0.5:8786
  parksim sweep baseline --design eco_x_financing --reps 20 --resume 20261127-183512-ab12cd
"""

from __future__ import annotations

import sys

from sim.cli import options

HELP = "run a lever/parameter design (grid, LHS, Sobol, CSV table) with replications"


def register(p):
    p.add_argument("scenario", metavar="SCENARIO", help="base scenario file, or a name in scenarios/")
    p.add_argument("--design", required=True, metavar="FILE", help="design TOML, or a name in scenarios/designs/")
    options.add_reps(p, default=10, per="design point")
    options.add_seed(p)
    options.add_posterior(p)
    options.add_executor(p)
    options.add_out(p)
    options.add_batch_id(p)
    p.add_argument("--resume", metavar="ID", help="complete the interrupted sweep ID instead of starting a new one")
    options.add_quiet(p)


def main(args) -> int:
    from sim.analysis.design import load_design
    from sim.model.scenario import load_scenario

    if options.posterior_conflict(args, "sweep"):
        return 2
    base = load_scenario(args.scenario)
    design = load_design(args.design)
    scenarios = design.scenarios(base)  # everything is checked before anything runs
    from sim.cli.show import print_outcome_summary
    from sim.run.batch import new_batch_id, resume_batch, run_batch

    command = options.command_line()
    batch_id = args.resume or args.batch_id or new_batch_id(design.name)
    print(f"sweep: {design.name} ({design.method}, {len(scenarios)} points x {args.reps} reps) on {base.name}")
    if args.resume and not _same_posterior_mode(args):
        return 2
    try:
        if args.resume:
            batch = resume_batch(
                args.resume, root=args.out, workers=args.workers, dask=args.dask, progress=not args.quiet,
                command=command, expect_scenarios=scenarios, expect_reps_seed=(args.reps, args.seed),
            )  # fmt: skip
        else:
            batch = run_batch(
                scenarios, reps=args.reps, seed=args.seed, workers=args.workers, dask=args.dask, out_root=args.out,
                batch_id=batch_id, command=command, progress=not args.quiet,
                extra_manifest={"design": design.to_dict(), "base_scenario": base.to_dict()},
                posterior=not args.at_point, seeds_per_draw=args.seeds_per_draw,
            )  # fmt: skip
    except KeyboardInterrupt:
        print(f"parksim sweep: complete it with 'parksim resume {batch_id} --root {args.out}'", file=sys.stderr)
        raise
    print_outcome_summary(batch, headline=True)
    from sim.analysis.uncertainty import describe_posterior

    print(describe_posterior(batch.posterior))
    print(batch.summary_line())
    if batch.failed:
        print(f"parksim sweep: {batch.failed} run(s) failed; see 'parksim show {batch.id}'", file=sys.stderr)
        return 1
    return 0


def _same_posterior_mode(args) -> bool:
    """A resumed sweep keeps the parameter treatment it started with: say so when the options differ."""
    from sim import store

    stored = store.load_manifest(store.resolve_folder(args.resume, args.out)).extra.get("posterior")
    asked = None if args.at_point else args.seeds_per_draw
    had = None if stored is None else stored.get("seeds_per_draw", 1)
    if asked == had:
        return True
    how = lambda k: "--at-point" if k is None else f"the posterior with --seeds-per-draw {k}"  # noqa: E731
    print(
        f"parksim sweep: error: --resume {args.resume}: the sweep was made with {how(had)}, not {how(asked)}; "
        "give the same options",
        file=sys.stderr,
    )
    return False
