"""Run replications of one or more scenarios and report target attainment.

Replication i of every scenario uses the same child seed
SeedSequence(SEED).spawn(REPS)[i] (common random numbers), so scenarios differ
only by policy. Results go to results/runs/<id>/: manifest.json, Parquet tables
(monthly series, one row of outcomes per run), summary CSVs and a fan chart PNG.
At the end a compact table gives the probability of reaching each target under
the plan's reading of it (rows) for every scenario (columns); then, per
scenario, the probability with its 95% Wilson interval and the median and 90%
band of what is measured. --all-definitions reports every definition of each
target (projects signed / registered / started; exchange only / exchange +
NEEQ; ...).

By default each replication i of every scenario also takes posterior draw d_i of
the scenario's fitted parameters (calibration/fitted/<job>/posterior_draws.csv),
the same (draw, seed) pairs for every scenario, so P(target) covers parameter
uncertainty as well as the model's randomness; the draws are recorded in the
manifest. --at-point runs every replication at the fitted point values instead.
--seeds-per-draw K gives K seeds to each draw and prints the split of each
indicator's variance into parameter and stochastic parts.

examples:
  parksim run baseline --reps 20
  parksim run baseline listing_support full_package --reps 100 --seed 2016 --workers 2
  parksim run scenarios/financing.toml --reps 50 --dask tcp://127.0.0.1:8786
  parksim run baseline full_package --reps 40 --all-definitions
  parksim run baseline --reps 20 --quiet --json > batch.json
  parksim run baseline --reps 20 --at-point
  parksim run baseline --reps 40 --seeds-per-draw 4
"""

from __future__ import annotations

import sys

from sim.cli import options

HELP = "run replications of scenarios and report target attainment"


def register(p):
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files, or names of files in scenarios/")
    options.add_reps(p, default=20)
    options.add_seed(p)
    options.add_posterior(p)
    options.add_executor(p)
    options.add_out(p)
    options.add_batch_id(p)
    p.add_argument("--no-figure", action="store_true", help="skip the fan chart")
    options.add_all_definitions(p)
    options.add_quiet(p)
    options.add_json(p, "one JSON object (id, folder, status, targets)")


def main(args) -> int:
    from sim.model.scenario import load_scenario, scenario_notes

    if options.posterior_conflict(args, "run"):
        return 2
    scenarios = [load_scenario(s) for s in args.scenarios]  # validate everything before running anything
    for sc in scenarios:
        for note in scenario_notes(sc):
            print(f"parksim run: note: {sc.path or sc.name}: {note}", file=sys.stderr)
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        print(
            f"parksim run: error: scenario names repeat ({', '.join(names)}); give each file a distinct name",
            file=sys.stderr,
        )
        return 2
    from sim.analysis.report import fan_chart, format_summary, indicator_table, target_table
    from sim.run.batch import run_batch

    batch = run_batch(
        scenarios, reps=args.reps, seed=args.seed, workers=args.workers, dask=args.dask, out_root=args.out,
        batch_id=args.batch_id, command=options.command_line(), progress=not args.quiet,
        posterior=not args.at_point, seeds_per_draw=args.seeds_per_draw,
    )  # fmt: skip
    say = (lambda *a: None) if args.json else print  # with --json, stdout holds only the JSON object
    labels = {s.name: s.label for s in scenarios}
    say(format_summary(batch.outcomes, labels, all_definitions=getattr(args, "all_definitions", False)))
    from sim.cli.show import print_uncertainty

    print_uncertainty(batch, say)
    folder = batch.folder
    if folder is not None:
        target_table(batch.outcomes).to_csv(folder / "summary_targets.csv", index=False)
        indicator_table(batch.outcomes).to_csv(folder / "summary_indicators.csv", index=False)
        if not args.no_figure:
            png = fan_chart(batch.monthly, folder / "fan_chart.png", scenarios)
            say(f"\nfigure: {png}")
        say(f"results: {folder}")
    if args.json:
        from sim.cli.show import batch_json

        print(batch_json(batch))
    if batch.failed:
        print(f"parksim run: {batch.failed} run(s) failed; see {folder}/manifest.json", file=sys.stderr)
        return 1
    return 0
