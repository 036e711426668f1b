"""Cross-validate a calibration job on synthetic data: coverage and shrinkage per parameter.

Draws DATASETS parameter vectors from the job's prior, simulates the job's own
record (series, frames, dates) once at each, fits each data set with each method
(abc, msm, and hm where installed) on a reduced budget, and writes to
calibration/fitted/<job>/identifiability/: identifiability.csv (per method and
parameter: coverage of the 90% interval with a 95% binomial interval, shrinkage),
crossval_fits.csv, sensitivity.csv, identifiability.md and identifiability.png.
Resumable: finished data sets and fits are stored and a rerun skips them.
See docs/identifiability.md. Exit codes: 0 done, 2 bad job or option, 130 interrupted.

example:
  .venv/bin/python scripts/identifiability.py calibration/jobs/default.toml --datasets 20 --budget 60
  .venv/bin/python scripts/identifiability.py default --methods msm --datasets 4 --budget 30 --no-sensitivity
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.cli import options  # noqa: E402


def positive_seconds(text: str) -> float:
    """Seconds above 0 (``60``, ``90s``, ``5m``)."""
    from sim.cli.calibrate import _seconds

    try:
        value = _seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 60, 90s, 5m or 1h, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    from sim.calibration.crossval import DEFAULT_BUDGET_SECONDS, DEFAULT_DATASETS

    p = argparse.ArgumentParser(
        prog="scripts/identifiability.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("job", metavar="JOB", help="calibration job file (calibration/jobs/*.toml) or its name")
    p.add_argument(
        "--datasets",
        type=options.positive_int,
        default=DEFAULT_DATASETS,
        metavar="N",
        help=f"synthetic data sets (default {DEFAULT_DATASETS}; at least 20 for a coverage worth reading)",
    )
    p.add_argument(
        "--budget",
        type=positive_seconds,
        default=DEFAULT_BUDGET_SECONDS,
        metavar="TIME",
        help=f"time each fit may take (default {DEFAULT_BUDGET_SECONDS:g} s)",
    )
    p.add_argument("--methods", metavar="M,M", help="comma-separated methods (default: every installed method)")
    p.add_argument("--out", metavar="DIR", help="output folder (default calibration/fitted/<job>/identifiability/)")
    p.add_argument("--workers", type=options.positive_int, default=1, metavar="W", help="worker processes per fit")
    p.add_argument("--no-sensitivity", action="store_true", help="skip the one-at-a-time sensitivity runs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from sim.calibration.crossval import available_methods, crossval_job
    from sim.calibration.job import load_job
    from sim.errors import ParksimError

    prog = "scripts/identifiability.py"
    allowed = available_methods()
    methods = None
    if args.methods is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        bad = [m for m in methods if m not in allowed]
        if bad or not methods:
            print(f"{prog}: error: --methods: unknown {bad or args.methods!r}; allowed: {', '.join(allowed)}",
                  file=sys.stderr)  # fmt: skip
            return 2
    try:
        job = load_job(args.job)
        res = crossval_job(
            job,
            n=args.datasets,
            budget=args.budget,
            methods=methods,
            folder=args.out,
            workers=args.workers,
            sensitivity=not args.no_sensitivity,
            log=lambda line: print(line, flush=True),
        )
    except ParksimError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished fits are stored: rerun the same command to continue", file=sys.stderr)
        return 130
    print(res["paths"]["markdown"].read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
