"""What Mesa's per-firm agent objects cost: the same runs with and without them, interleaved in one process.

Each firm is a row of the model's FirmTable and, for users' Mesa code, an
``Enterprise`` agent (``mesa.Agent``: registered in the model's AgentSet when a
firm is created, removed when it leaves). This script runs the baseline with
the agents as the model makes them and with ``ParkModel.add_firms`` and
``remove_firms`` patched to keep the table rows only (a placeholder in
``agent_of_row``, no ``mesa.Agent``), alternating the two so that the
machine's load falls on both alike, and prints the median CPU seconds of each
and the agents' share. The results of the two are the same (the agents hold no
state and draw nothing); the script checks that on the records.

    python benchmarks/bench_mesa_agents.py --scales 1 10 30 --reps 5 --json FILE

A benchmark, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from sim.model.park import ParkModel
from sim.model.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"


@contextmanager
def without_agents():
    """ParkModel keeps firms as table rows only while this is open (no mesa.Agent per firm)."""
    add, remove = ParkModel.add_firms, ParkModel.remove_firms

    def add_rows(self, count, **columns):
        rows = self.firms.add(count, **columns)
        self.agent_of_row.update(dict.fromkeys(rows.tolist()))
        return rows

    class _Row:  # what remove_firms calls .remove() on
        @staticmethod
        def remove():
            return None

    def remove_rows(self, rows, reason):
        for r in rows.tolist():
            self.agent_of_row[r] = _Row
        remove(self, rows, reason)

    ParkModel.add_firms, ParkModel.remove_firms = add_rows, remove_rows
    try:
        yield
    finally:
        ParkModel.add_firms, ParkModel.remove_firms = add, remove


def one_run(scenario, seed: int, scale: float) -> tuple[float, list[dict], int]:
    t = time.process_time()
    model = ParkModel(scenario, seed=seed, population_scale=scale)
    model.run()
    return time.process_time() - t, model.records, model.firms.n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0, 30.0])
    ap.add_argument("--reps", type=int, default=5, help="runs of each kind per scale (alternating)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scenario = load_scenario(SCENARIO)
    one_run(scenario, 0, 1.0)  # warm-up: imports, numba's cache
    out = {"scenario": str(SCENARIO.name), "reps": args.reps, "cpus": os.cpu_count(), "rows": []}
    print("| population | firms created | CPU s with agents | CPU s without | agents' share | us per firm created |")
    print("|---|---|---|---|---|---|")
    for scale in args.scales:
        with_cpu, without_cpu = [], []
        for rep in range(args.reps):
            cpu, rec_with, created = one_run(scenario, rep + 1, scale)
            with_cpu.append(cpu)
            with without_agents():
                cpu, rec_without, _ = one_run(scenario, rep + 1, scale)
            without_cpu.append(cpu)
            assert rec_with == rec_without, "the agents changed the results"
        a, b = statistics.median(with_cpu), statistics.median(without_cpu)
        row = {
            "population_scale": scale,
            "firms_created": created,
            "cpu_s_with_agents": a,
            "cpu_s_without_agents": b,
            "agents_share": (a - b) / a,
            "us_per_firm_created": (a - b) / created * 1e6,
            "with": with_cpu,
            "without": without_cpu,
        }
        out["rows"].append(row)
        print(
            f"| {scale:g}x | {created:,} | {a:.3f} | {b:.3f} | {row['agents_share']:.1%} | "
            f"{row['us_per_firm_created']:.1f} |"
        )
    out["load_average"] = os.getloadavg()
    print(f"\n- medians of {args.reps} runs of each kind, alternating, one process; load average {out['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
