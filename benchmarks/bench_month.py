"""Where a baseline month's time goes: each process of ParkModel.step, and the compiled loops, in µs per month.

Wraps each call that ``ParkModel.step`` makes (the processes, the zone update, the talent
recount and the monthly record) and, separately, every compiled function of the modules in
``sim.model._jit.COMPILED_MODULES`` that Python code calls (through the module's attribute, as
every caller does), with a perf-counter timer, then runs ``--runs`` baseline replications
(``scenarios/baseline.toml``, 144 months from the 2014 park) after a warm-up. It prints the time
per simulated month of each process, of the compiled loops (their calls from Python, summed), of
the month as a whole (``ParkModel.step``), and the number of firms created and removed a month
(each one is a Mesa agent). The timers cost something (about 70 timed calls a month): the
script also times the same runs without them and prints both medians; the records are checked
equal to the unwrapped runs'.

    python benchmarks/bench_month.py --runs 10 --json FILE

A benchmark, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import json
import os
import statistics
import time
from pathlib import Path

from numba.core.registry import CPUDispatcher

from sim.model import _jit
from sim.model.park import ParkModel
from sim.model.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"

# What ParkModel.step calls, in its order: (module, attribute or Class.method, label)
PROCESSES = (
    ("sim.model.lifecycle", "support_step", "support"),
    ("sim.model.arrivals", "arrivals_step", "arrivals and screening"),
    ("sim.model.lifecycle", "conversion_step", "conversion"),
    ("sim.model.talent", "TalentPool.step", "talent"),
    ("sim.model.finance", "Finance.step", "finance"),
    ("sim.model.lifecycle", "growth_step", "growth"),
    ("sim.model.listing", "listing_step", "listing"),
    ("sim.model.lifecycle", "leading_step", "leading enterprises"),
    ("sim.model.lifecycle", "exit_step", "exits and relocation"),
    ("sim.model.zones", "Zones.update", "zone update"),
    ("sim.model.talent", "TalentPool.recount", "talent recount"),
    ("sim.model.metrics", "record", "monthly record"),
)


@contextlib.contextmanager
def timed(owner, name: str, seconds: collections.Counter, calls: collections.Counter, label: str):
    """``owner.name`` adds its wall time to ``seconds[label]`` and its calls to ``calls[label]`` while open."""
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    fn = original.__func__ if isinstance(original, staticmethod) else original

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - t
            calls[label] += 1

    setattr(owner, name, staticmethod(wrapper) if isinstance(original, staticmethod) else wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _owner(module: str, attr: str):
    mod = importlib.import_module(module)
    if "." in attr:
        cls, meth = attr.split(".")
        return getattr(mod, cls), meth
    return mod, attr


def compiled_functions() -> list[tuple[object, str, str]]:
    """(module, name, label) of every compiled function defined in the compiled modules."""
    out = []
    for short in _jit.COMPILED_MODULES:
        mod = importlib.import_module(f"sim.model.{short}")
        for name, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod.__name__:
                out.append((mod, name, f"{short}.{name}"))
    return out


def measure(scenario, runs: int) -> dict:
    seconds, calls = collections.Counter(), collections.Counter()
    kernels, kernel_calls = collections.Counter(), collections.Counter()
    months, created, removed = 0, 0, 0
    step_s, records = [], []
    with contextlib.ExitStack() as stack:
        for m, a, label in PROCESSES:
            stack.enter_context(timed(*_owner(m, a), seconds, calls, label))
        for mod, name, label in compiled_functions():
            stack.enter_context(timed(mod, name, kernels, kernel_calls, label))
        stack.enter_context(timed(ParkModel, "step", seconds, calls, "month (ParkModel.step)"))
        for seed in range(1, runs + 1):
            model = ParkModel(scenario, seed=seed)
            n0, gone0 = model.firms.n, int((~model.firms.alive[: model.firms.n]).sum())
            before = seconds["month (ParkModel.step)"]
            model.run()
            step_s.append((seconds["month (ParkModel.step)"] - before) / len(model.records))
            months += len(model.records)
            created += model.firms.n - n0
            removed += int((~model.firms.alive[: model.firms.n]).sum()) - gone0
            records.append(model.records)
    plain_s = []
    for seed in range(1, runs + 1):  # the same runs without the timers: what they cost
        plain = ParkModel(scenario, seed=seed)
        t = time.perf_counter()
        plain.run()
        plain_s.append((time.perf_counter() - t) / len(plain.records))
        assert plain.records == records[seed - 1], f"the timers changed the results of seed {seed}"
    per_month = {k: v / months * 1e6 for k, v in seconds.items()}
    return {
        "months": months,
        "month_us_median_of_runs": statistics.median(step_s) * 1e6,
        "month_us_median_of_runs_without_timers": statistics.median(plain_s) * 1e6,
        "processes_us_per_month": per_month,
        "process_calls_per_month": {k: v / months for k, v in calls.items()},
        "compiled_us_per_month": {k: v / months * 1e6 for k, v in kernels.most_common()},
        "compiled_calls_per_month": {k: v / months for k, v in kernel_calls.items()},
        "compiled_total_us_per_month": sum(kernels.values()) / months * 1e6,
        "firms_created_per_month": created / months,
        "firms_removed_per_month": removed / months,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="baseline replications timed after the warm-up")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scenario = load_scenario(SCENARIO)
    ParkModel(scenario, seed=0).run()  # warm-up: imports, numba's cache
    out = {"scenario": SCENARIO.name, "runs": args.runs, "cpus": os.cpu_count(), **measure(scenario, args.runs)}
    month = out["processes_us_per_month"]["month (ParkModel.step)"]
    print("| part of ParkModel.step | µs per month | share of the month |\n|---|---|---|")
    for _, _, label in PROCESSES:
        us = out["processes_us_per_month"].get(label, 0.0)
        print(f"| {label} | {us:.1f} | {us / month:.1%} |")
    inside = sum(out["processes_us_per_month"].get(label, 0.0) for _, _, label in PROCESSES)
    print(
        f"| the step's own code (policies, effects, the record's append) | {month - inside:.1f} "
        f"| {(month - inside) / month:.1%} |"
    )
    print(f"| **month** | **{month:.1f}** | 100% |")
    print(
        f"\nmedian month of a run with the timers {out['month_us_median_of_runs']:.1f} µs, "
        f"the same runs without them {out['month_us_median_of_runs_without_timers']:.1f} µs (wall time)"
    )
    total = out["compiled_total_us_per_month"]
    n_calls = sum(out["compiled_calls_per_month"].values())
    print(
        f"\ncompiled loops called from Python: {total:.1f} µs a month ({total / month:.1%}), "
        f"{n_calls:.0f} calls; the largest:"
    )
    for label, us in list(out["compiled_us_per_month"].items())[:8]:
        print(f"- {label}: {us:.1f} µs ({out['compiled_calls_per_month'][label]:.1f} calls)")
    print(
        f"\nfirms created {out['firms_created_per_month']:.1f} and removed "
        f"{out['firms_removed_per_month']:.1f} a month "
        f"(each a Mesa agent); {out['months']} months over {args.runs} runs; load average {os.getloadavg()}"
    )
    out["load_average"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
