"""Fit behavioural parameters to the park's history (ABC-SMC, simulated moments or history matching).

The job file names the parameters and priors, the data series and weights, the
method and its budget (see docs/calibration.md). Results go to
calibration/fitted/<job>/: params.toml (point values a scenario can reference
with fitted_params = "..."), summary.csv (90% intervals), posterior_draws.csv,
predictive.csv (does the 90% band cover each figure?) and PNG diagnostics.
An ABC job stores every finished generation in abc.db and an MSM job every
evaluation in msm_cache.jsonl: after an interruption, --resume continues.
A progress bar on stderr shows generations (ABC) or points (MSM) done, time
used of the budget and an ETA to whichever limit stops the fit; --quiet hides it.
The budget is honoured within a generation (ABC) or a point (MSM): the fit stops
within about one simulation per worker of it and says where ("budget: stopped in
generation N after S s"); --resume continues. After each generation and at the
end the log gives simulations per second and the share of worker time spent
outside the simulator (also in run.json).
Exit codes: 0 done, 2 bad job, data or option, 3 unreadable stored run, 4 the pool or Dask cluster
cannot run the simulations, 130 interrupted (resumable).

example:
  parksim calibrate calibration/jobs/default.toml --workers 2
  parksim calibrate calibration/jobs/default.toml --workers 2 --resume --budget 10m
  parksim calibrate calibration/jobs/default.toml --dask tcp://scheduler:8786
  parksim calibrate calibration/jobs/default.toml --dask local:2
  parksim calibrate calibration/jobs/default.toml --check
"""

from __future__ import annotations

import re
import sys

from sim.cli import options

HELP = "fit behavioural parameters to the park's history (ABC-SMC, MSM or history matching)"


def _seconds(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def register(p):
    p.add_argument("job", metavar="JOB", help="calibration job file (calibration/jobs/*.toml)")
    options.add_executor(p)
    p.add_argument("--resume", action="store_true", help="continue the stored run of this job")
    p.add_argument(
        "--budget",
        metavar="TIME",
        help="time the fit may take: seconds, or 90s / 25m / 1h (default: job); honoured within a generation",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default calibration/fitted/<job>/)")
    p.add_argument("--check", action="store_true", help="validate the job and its data, then stop")
    options.add_quiet(p)


def main(args) -> int:
    from sim.calibration.job import load_job

    budget = None
    if args.budget is not None:
        try:
            budget = _seconds(args.budget)
        except ValueError:
            print(
                f"parksim calibrate: error: --budget must look like 1500, 90s, 25m or 1h, got {args.budget!r}",
                file=sys.stderr,
            )
            return 2
    job = load_job(args.job)
    obs = job.observations
    fitted = int((obs["weight"] > 0).sum())
    pats = 0 if job.patterns is None else int((job.patterns["weight"] > 0).sum())
    print(
        f"ok: job '{job.name}' ({job.method}) fits {', '.join(job.param_names)} to {fitted} figures "
        f"({len(obs) - fitted} more checked only) of {len(obs[['series', 'frame']].drop_duplicates())} series"
        f"{f' and {pats} pattern figures' if pats else ''}; "
        f"scenario {job.scenario.name} {job.scenario.start}..{job.scenario.end}"
    )
    if args.check:
        return 0
    from sim.calibration.calibrate import calibrate
    from sim.calibration.parallel import install_interrupt_handler

    install_interrupt_handler()

    try:
        calibrate(
            job,
            out=args.out,
            workers=args.workers,
            dask=args.dask,
            resume=args.resume,
            budget=budget,
            log=lambda line: print(line, flush=True),
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print(
            f"parksim calibrate: interrupted; finished work is stored. Continue with: "
            f"parksim calibrate {args.job} --resume",
            file=sys.stderr,
        )
        return 130
    return 0
