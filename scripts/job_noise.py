"""Measure the model's run-to-run noise of every figure a calibration job matches.

Runs the job's history scenario RUNS times at the prior median (seeds from the
job seed) and writes the sample sd of each series figure to the job's noise file
(the ``[distance] model_noise`` it names, else ``<job>_noise.csv`` beside it):
columns obs, model_sd, runs. The job then scales each residual by
sqrt(measurement sd^2 + model_sd^2) (docs/calibration.md, "How each figure is
weighted"). The patterns' model_sd are printed as [[patterns]] tables to paste
into the job file. Exit codes: 0 done, 2 bad job or option.

example:
  .venv/bin/python scripts/job_noise.py calibration/jobs/default.toml --runs 32 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.cli import options  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("job", help="a job file or a name in calibration/jobs/")
    ap.add_argument("--runs", type=options.positive_int, default=32, help="replications (default 32)")
    ap.add_argument("--workers", type=options.positive_int, default=1, help="local worker processes")
    ap.add_argument("--out", help="the CSV to write (default: the job's model_noise file, else <job>_noise.csv)")
    args = ap.parse_args(argv)

    import numpy as np

    from sim import resources
    from sim.calibration.job import JobError, load_job
    from sim.calibration.parallel import Pool
    from sim.calibration.patterns import fitted_patterns, job_model, job_noise, noise_floor
    from sim.schema import read_toml

    try:
        job = load_job(args.job, model_noise=False)
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out = Path(args.out)
    else:
        ref = read_toml(Path(job.path), JobError).get("distance", {}).get("model_noise")
        out = resources.find(ref, "job", referrer=job.path, must_exist=False) if ref else None
        out = out or Path(job.path).with_name(f"{Path(job.path).stem}_noise.csv")
    with Pool(args.workers) as pool:
        series, patterns = job_noise(job, args.runs, pool)
    pats = fitted_patterns(job)
    series.to_csv(out, index=False, float_format="%.4g")
    print(f"wrote {out}: model_sd of {len(series)} series figures from {args.runs} runs at the prior median")
    _, disc = job_model(job)
    meas = np.r_[job.observations["sd_meas"], [] if pats is None else pats["sd_meas"]]
    model = np.r_[series["model_sd"].fillna(0.0), patterns["model_sd"].fillna(0.0)]
    floor = noise_floor(disc.weight, meas, model)
    print(f"noise floor of the distance (a run at the truth, RMS): {floor:.3g}; the job's [abc] min_epsilon can be it")
    for r in patterns.itertuples():
        print(f'[[patterns]]\npattern = "{r.pattern}"\nstatistic = "{r.statistic}"\n'
              f"model_sd = {r.model_sd:.4g}  # {args.runs} runs at the prior median\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
