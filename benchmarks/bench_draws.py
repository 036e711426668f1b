"""What the random draws cost: the time inside numpy's Generator calls in a baseline run.

The results are bit-identical to the code before the speed work (issue 14)
because every draw is taken from the same stream, in the same order and the
same sizes, by numpy's own Generator methods. Those calls are therefore a
floor that no faster code keeping today's trajectories can go below: however
fast the rest of a month becomes, a run costs at least the draws. This script
wraps each named stream in a proxy that times every Generator method call,
runs the baseline with and without the proxies (alternating, in one process),
checks that the records are the same, and prints per method the calls per
month, the microseconds per call and the share of an unwrapped run.

    python benchmarks/bench_draws.py --reps 7 --scale 1 --json FILE

The share is the time inside the calls over the median run without the
proxies, so the proxies' own cost (measured too, as the difference between the
two kinds of run) is not counted as drawing. A benchmark, not a test: figures
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from sim.model import park
from sim.model.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"


class TimedGenerator:
    """A numpy Generator whose method calls add their wall time and count to two shared counters."""

    def __init__(self, generator, seconds: collections.Counter, calls: collections.Counter):
        self._generator, self._seconds, self._calls = generator, seconds, calls

    def __getattr__(self, name):
        attribute = getattr(self._generator, name)
        if name == "bit_generator" or not callable(attribute):  # the compiled VC loop reads and sets the state
            return attribute

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._seconds[name] += time.perf_counter() - start
                self._calls[name] += 1

        return timed


@contextmanager
def timed_streams(seconds: collections.Counter, calls: collections.Counter):
    """Models built while this is open draw through :class:`TimedGenerator` proxies."""
    spawn = park.spawn_streams
    park.spawn_streams = lambda seed: {k: TimedGenerator(g, seconds, calls) for k, g in spawn(seed).items()}
    try:
        yield
    finally:
        park.spawn_streams = spawn


def one_run(scenario, seed: int, scale: float) -> tuple[float, list[dict], int]:
    start = time.perf_counter()
    model = park.ParkModel(scenario, seed=seed, population_scale=scale)
    model.run()
    return time.perf_counter() - start, model.records, len(model.records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7, help="runs of each kind (alternating)")
    ap.add_argument("--scale", type=float, default=1.0, help="population scale")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scenario = load_scenario(SCENARIO)
    one_run(scenario, 0, args.scale)  # warm-up: imports, numba's cache
    seconds, calls = collections.Counter(), collections.Counter()
    plain, proxied = [], []
    months = 0
    for rep in range(args.reps):
        wall, records, months = one_run(scenario, rep + 1, args.scale)
        plain.append(wall)
        with timed_streams(seconds, calls):
            wall, timed_records, _ = one_run(scenario, rep + 1, args.scale)
        proxied.append(wall)
        assert records == timed_records, "the proxies changed the results"
    run_s = statistics.median(plain)
    draws_s = sum(seconds.values()) / args.reps
    out = {
        "scenario": SCENARIO.name,
        "population_scale": args.scale,
        "reps": args.reps,
        "months_per_run": months,
        "run_s_median": run_s,
        "run_s_with_proxies_median": statistics.median(proxied),
        "draws_s_per_run": draws_s,
        "draws_share": draws_s / run_s,
        "calls_per_month": sum(calls.values()) / args.reps / months,
        "methods": {},
        "cpus": os.cpu_count(),
    }
    print("| Generator method | calls per month | us per call | ms per run | share of a run |")
    print("|---|---|---|---|---|")
    for name, s in seconds.most_common():
        row = {
            "calls_per_month": calls[name] / args.reps / months,
            "us_per_call": s / calls[name] * 1e6,
            "ms_per_run": s / args.reps * 1e3,
            "share": s / args.reps / run_s,
        }
        out["methods"][name] = row
        print(
            f"| {name} | {row['calls_per_month']:.1f} | {row['us_per_call']:.1f} | {row['ms_per_run']:.1f} | "
            f"{row['share']:.1%} |"
        )
    out["load_average"] = os.getloadavg()
    print(
        f"| all | {out['calls_per_month']:.1f} | | {draws_s * 1e3:.1f} | {out['draws_share']:.1%} |\n\n"
        f"- {months}-month runs at {args.scale:g}x; median run {run_s * 1e3:.1f} ms without the proxies, "
        f"{out['run_s_with_proxies_median'] * 1e3:.1f} ms with; {args.reps} of each, alternating; "
        f"load average {out['load_average']}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
