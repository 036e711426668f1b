"""Speed and memory benchmark of single replications (``parksim bench``).

Each configuration runs in a fresh Python process so that its peak memory
(``ru_maxrss``) is its own; a warm-up run is excluded from the timings, and the
figures reported are medians over replications.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

CONFIGS = {
    "tiny": ("tiny", {}),
    "baseline": ("baseline", {}),
    "baseline_x10": ("baseline", {"population_scale": 10.0}),
}


def measure(config: str, reps: int) -> dict:
    """Run one configuration ``reps`` times in this process and return its figures."""
    import resource

    from sim.model.park import ParkModel
    from sim.model.scenario import load_scenario
    from sim.run.runner import replicate_seeds

    name, values = CONFIGS[config]
    sc = load_scenario(name).with_values(**values) if values else load_scenario(name)
    seeds = replicate_seeds(1, reps + 1)
    ParkModel(sc, seed=seeds[0]).run()  # warm-up
    times, steps, firms, talent = [], [], [], []
    for s in seeds[1:]:
        t0 = time.perf_counter()
        model = ParkModel(sc, seed=s)
        model.run()
        times.append(time.perf_counter() - t0)
        steps.append(model.agent_steps)
        firms.append(len(model.agent_of_row))
        talent.append(model.talent.people())
    med = statistics.median(times)
    return {
        "config": config,
        "reps": reps,
        "months": sc.n_months,
        "seconds_median": med,
        "seconds_min": min(times),
        "seconds_max": max(times),
        "agent_steps_per_run": statistics.median(steps),
        "agent_steps_per_second": statistics.median(steps) / med,
        "firms_at_end": statistics.median(firms),
        "talent_people_at_end": statistics.median(talent),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def check_reps(reps: int) -> int:
    """Refuse a replication count below 1 (a median needs at least one timed run)."""
    from sim.errors import InputError

    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise InputError(
            "--reps", None, f"must be a whole number of 1 or more (timed runs per configuration), got {reps!r}"
        )
    return reps


def run_all(configs: list[str], reps: int) -> list[dict]:
    """Measure each configuration in its own subprocess."""
    check_reps(reps)
    out = []
    for config in configs:
        cmd = [sys.executable, "-m", "sim.run.bench", config, str(reps)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def markdown(rows: list[dict]) -> str:
    """Format results as a Markdown table with cost ratios against ``baseline``."""
    base = next((r for r in rows if r["config"] == "baseline"), rows[0])
    head = ("config", "firms at end", "talent (people)", "s/replication (median)", "agent-steps/s", "peak RSS MiB")
    lines = ["| " + " | ".join(head) + " | cost vs baseline |", "|---" * (len(head) + 1) + "|"]
    for r in rows:
        ratio = r["seconds_median"] / base["seconds_median"]
        cells = (
            r["config"],
            f"{r['firms_at_end']:.0f}",
            f"{r['talent_people_at_end']:.0f}",
            f"{r['seconds_median']:.3f}",
            f"{r['agent_steps_per_second']:,.0f}",
            f"{r['peak_rss_mib']:.0f}",
            f"{ratio:.2f}x",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
