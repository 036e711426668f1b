"""Benchmark of the batch runner (not a test): parksim's run_batch against mesa.batch_run,
serial against 2 workers, and Dask LocalClusters of 1 and 2 workers.

Every configuration runs the same model (ParkModel), the same scenario and the same
replicate seeds (SeedSequence(SEED).spawn(REPS)), each in a fresh Python process whose
process tree (the process and all its children) is sampled for resident memory. The
throughput of one configuration is runs / wall seconds of the batch call (pool, cluster
start-up and writing results included); the table gives the median over --repeats.

The mesa.batch_run side does what a Mesa user needs to get the same results: a
DataCollector records every reporter each month (data_collection_period=1), and the
target attainment (sim.model.targets.evaluate) is computed from the collected rows afterwards.
parksim's side also writes every run to Parquet as it finishes (results/ format).
mesa.batch_run switches the global multiprocessing start method to "spawn"; it runs in
its own process here, so it cannot affect the other configurations.

For the standard figures (runs/s on 1 and 2 workers and the 1 -> 2 speed-up, short and
long runs, optionally against a git ref side by side) use ``parksim bench --batch``
(sim/run/bench.py); this script is the wider study against mesa.batch_run and Dask.

usage:
  python benchmarks/bench_batch.py                 # 200 baseline replications, 3 repeats
  python benchmarks/bench_batch.py --reps 20 --repeats 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 2016
KINDS = ("parksim", "mesa", "dask")


def config_name(kind: str, workers: int) -> str:
    """Display name: 'parksim serial', 'parksim pool x2', 'mesa.batch_run x2', 'parksim dask local:2'."""
    if kind == "parksim":
        return "parksim serial" if workers == 1 else f"parksim pool x{workers}"
    return f"mesa.batch_run x{workers}" if kind == "mesa" else f"parksim dask local:{workers}"


def parse_config(name: str) -> tuple[str, int]:
    """The inverse of :func:`config_name`."""
    if name == "parksim serial":
        return "parksim", 1
    for kind, prefix in (("parksim", "parksim pool x"), ("mesa", "mesa.batch_run x"), ("dask", "parksim dask local:")):
        count = name.removeprefix(prefix)
        if count != name and count.isdigit() and int(count) >= 1:
            return kind, int(count)
    raise ValueError(f"unknown configuration {name!r}; e.g. {config_name('parksim', 2)!r}")


# ---------------------------------------------------------------- children
import mesa  # noqa: E402 - after the docstring constants; the classes below need it at module level

from sim.model.park import ParkModel  # noqa: E402
from sim.run.executors import reporter_columns  # noqa: E402


class MesaPark(ParkModel):
    """ParkModel with a Mesa DataCollector of every reporter, as a Mesa user would write it for batch_run."""

    def __init__(self, scenario="baseline", end=None, seed=None):
        super().__init__(bench_scenario(scenario, end), seed=seed)
        reporters = {"date": lambda m: m.date}
        reporters.update({name: (lambda m, n=name: m.records[-1][n]) for name in reporter_columns()})
        self.datacollector = mesa.DataCollector(model_reporters=reporters)

    def step(self):
        super().step()
        self.datacollector.collect(self)


def bench_scenario(name: str, end: str | None = None):
    """scenarios/<name>.toml, run to ``end`` ("YYYY-MM") instead of its own end when given."""
    from sim.model.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    return sc.with_values(end=end) if end else sc


def run_mesa(scenario: str, reps: int, workers: int, end: str | None = None) -> float:
    import pandas as pd

    from sim.model.targets import evaluate
    from sim.run.runner import replicate_seeds

    sc = bench_scenario(scenario, end)
    t0 = time.perf_counter()
    rows = mesa.batch_run(
        MesaPark,
        parameters={"scenario": scenario, "end": end},
        number_processes=workers,
        data_collection_period=1,
        max_steps=10_000,
        display_progress=False,
        rng=replicate_seeds(SEED, reps),
    )
    frame = pd.DataFrame(rows)
    outcomes = [
        evaluate(run.set_index("date")[reporter_columns()], sc.start, sc.values) for _, run in frame.groupby("RunId")
    ]
    assert len(outcomes) == reps
    return time.perf_counter() - t0


def run_parksim(scenario: str, reps: int, workers: int, dask: str | None, end: str | None = None) -> float:
    from sim.run.batch import run_batch

    sc = bench_scenario(scenario, end)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        batch = run_batch([sc], reps=reps, seed=SEED, workers=workers, dask=dask, out_root=tmp, progress=False)
        seconds = time.perf_counter() - t0
        assert batch.failed == 0 and len(batch.outcomes) == reps
    return seconds


def child(config: str, scenario: str, reps: int, end: str | None) -> None:
    kind, workers = parse_config(config)
    if kind == "mesa":
        seconds = run_mesa(scenario, reps, workers, end)
    else:
        seconds = run_parksim(scenario, reps, workers, f"local:{workers}" if kind == "dask" else None, end)
    print(json.dumps({"seconds": seconds}))


# ---------------------------------------------------------------- parent
def tree_memory_mb(proc) -> tuple[float, float]:
    """RSS and PSS (shared pages split between the processes sharing them; Linux) summed over a process tree."""
    import psutil

    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return rss / 2**20, pss / 2**20


def wait_for_quiet(max_load: float | None, limit_s: float = 1800) -> None:
    """On a shared machine: wait (up to limit_s) until the 1-minute load average falls below max_load."""
    start = time.monotonic()
    while max_load is not None and os.getloadavg()[0] >= max_load and time.monotonic() - start < limit_s:
        time.sleep(5)


def measure(config: str, scenario: str, reps: int, max_load: float | None = None, end: str | None = None) -> dict:
    import psutil

    wait_for_quiet(max_load)
    load = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--child", config, "--scenario", scenario, "--reps", str(reps)]
    cmd += ["--end", end] if end else []
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = peak_pss = 0.0
    while proc.poll() is None:
        rss, pss = tree_memory_mb(ps)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        time.sleep(0.05)
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{config} failed with exit code {proc.returncode}")
    seconds = json.loads(out.strip().splitlines()[-1])["seconds"]
    return {"seconds": seconds, "runs_per_s": reps / seconds, "peak_mb": peak, "peak_pss_mb": peak_pss, "load": load}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200, help="replications per configuration (default 200)")
    parser.add_argument(
        "--reps-per-worker",
        type=int,
        metavar="N",
        help="instead of --reps: N replications per worker (scaling studies: each configuration does the same "
        "work per worker)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per configuration (default 3)")
    parser.add_argument("--scenario", default="baseline", help="scenario name in scenarios/ (default baseline)")
    parser.add_argument(
        "--end", metavar="YYYY-MM", help="run each replication only to this month (short runs, where overhead shows)"
    )
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=[1, 2],
        metavar="N",
        help="worker counts to measure for each kind (default 1 2)",
    )
    parser.add_argument(
        "--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="runners to measure (default: all three)"
    )
    parser.add_argument(
        "--only", nargs="*", metavar="CONFIG", help="run only these configurations, e.g. 'parksim pool x2'"
    )
    parser.add_argument(
        "--max-load",
        type=float,
        metavar="L",
        help="before each measurement wait (up to 30 min) until the 1-minute load average is below L "
        "(for shared machines; the load before each is reported either way)",
    )
    parser.add_argument(
        "--memory-check",
        action="store_true",
        help="instead: peak RSS of serial parksim and mesa.batch_run on tiny.toml at REPS/10 and at REPS runs "
        "(flat = results are not held in memory)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results (every repeat) to FILE as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.scenario, args.reps, args.end)
        return 0
    if args.memory_check:
        for config in ("parksim serial", "mesa.batch_run x1"):
            for n in (max(1, args.reps // 10), args.reps):
                r = measure(config, "tiny", n, args.max_load)
                print(
                    f"- {config}, {n} runs of tiny.toml: peak RSS {r['peak_mb']:.0f} MB, "
                    f"peak PSS {r['peak_pss_mb']:.0f} MB, {r['runs_per_s']:.2f} runs/s"
                )
        return 0
    configs = args.only or [config_name(k, w) for k in args.kinds for w in args.workers]
    for config in configs:
        parse_config(config)  # fail before measuring anything
    trials = {c: [] for c in configs}
    for repeat in range(args.repeats):  # round robin, so that a busy spell of the machine hits every config alike
        for config in configs:
            reps = args.reps_per_worker * parse_config(config)[1] if args.reps_per_worker else args.reps
            trials[config].append(measure(config, args.scenario, reps, args.max_load, args.end) | {"reps": reps})
            print(f"repeat {repeat + 1}: {config}: {trials[config][-1]}", file=sys.stderr)
    results = {
        c: {
            "runs_per_s": statistics.median(t["runs_per_s"] for t in ts),
            "seconds": statistics.median(t["seconds"] for t in ts),
            "peak_mb": max(t["peak_mb"] for t in ts),
            "peak_pss_mb": max(t["peak_pss_mb"] for t in ts),
            "best": max(t["runs_per_s"] for t in ts),
            "all": [round(t["runs_per_s"], 2) for t in ts],
            "load": [round(t["load"], 1) for t in ts],
            "reps": ts[0]["reps"],
        }
        for c, ts in trials.items()
    }
    print(report(results, args))
    if args.json:
        doc = {"args": vars(args), "cpus": os.cpu_count(), "results": results}
        Path(args.json).write_text(json.dumps(doc, indent=1))
    return 0


def report(results: dict, args) -> str:
    import platform

    def ratio(a, b):
        if a in results and b in results:
            return f"{results[a]['runs_per_s'] / results[b]['runs_per_s']:.2f}x"
        return "n/a"

    lines = [
        f"{f'{args.reps_per_worker} per worker of' if args.reps_per_worker else args.reps} `{args.scenario}` "
        f"replications{f' to {args.end}' if args.end else ''} per configuration, "
        f"median of {args.repeats} fresh processes; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| configuration | runs | runs/s (median) | runs/s (best) | batch seconds (median) "
        "| peak RSS of process tree (MB) | peak PSS of process tree (MB) | runs/s of each repeat "
        "| 1-min load average before each |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config, r in results.items():
        lines.append(
            f"| {config} | {r['reps']} | {r['runs_per_s']:.2f} | {r['best']:.2f} | {r['seconds']:.1f} | "
            f"{r['peak_mb']:.0f} | "
            f"{r['peak_pss_mb']:.0f} | {', '.join(map(str, r['all']))} | {', '.join(map(str, r['load']))} |"
        )
    lines.append("")
    by_kind: dict[str, dict[int, float]] = {}
    for config, r in results.items():
        kind, workers = parse_config(config)
        by_kind.setdefault(kind, {})[workers] = r["runs_per_s"]
    labels = {"parksim": "parksim (serial/pool)", "mesa": "mesa.batch_run", "dask": "parksim on Dask LocalCluster"}
    for kind, rates in by_kind.items():
        if 1 in rates and len(rates) > 1:
            steps = ", ".join(
                f"x{w}: {rates[w] / rates[1]:.2f}x ({rates[w] / (w * rates[1]):.0%} efficiency)"
                for w in sorted(rates)
                if w > 1
            )
            lines.append(f"- {labels[kind]} speed-up over 1 worker: {steps}")
    if "parksim" in by_kind and "mesa" in by_kind:
        both = sorted(set(by_kind["parksim"]) & set(by_kind["mesa"]))
        pairs = ", ".join(f"{w} worker(s): {by_kind['parksim'][w] / by_kind['mesa'][w]:.2f}x" for w in both)
        lines.append(f"- parksim vs mesa.batch_run at equal workers (runs/s ratio): {pairs}")
    if "dask" in by_kind and "parksim" in by_kind:
        both = sorted(set(by_kind["parksim"]) & set(by_kind["dask"]))
        pairs = ", ".join(f"{w}: {by_kind['dask'][w] / by_kind['parksim'][w]:.2f}x" for w in both)
        lines.append(f"- Dask vs local pool at equal workers: {pairs}")
    lines.append(
        "- peak RSS sums the resident memory of every process in the tree, counting pages shared by forked "
        "workers once per process; PSS splits shared pages between the processes sharing them"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
