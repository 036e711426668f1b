"""What a worker computes for a chunk of a batch, and the tidy tables made from it.

:func:`run_chunk` runs a chunk of run tasks in a worker and returns compact
arrays (no model objects); :func:`chunk_tables` turns such a result into the
batch's outcome and monthly tables; :func:`lost_chunk` stands for a chunk whose
worker died on every attempt.
"""

from __future__ import annotations

import os
import socket
import time
import traceback

import numpy as np


def run_chunk(tasks: tuple, run_fn=None) -> dict:
    """Run a chunk of tasks in a worker and return compact arrays (no model objects).

    A run that raises is returned as failed with its traceback; the chunk goes on.
    """
    from sim.run.runner import run_arrays

    ocols, rcols = outcome_columns(), reporter_columns()
    runs = []
    for task in tasks:
        t0 = time.perf_counter()
        entry = {"run": task.run, "status": "ok", "error": None, "traceback": None, "dates": []}
        try:
            if run_fn is None:  # the model's own path: arrays, no DataFrame
                res = run_arrays(task.scenario, task.seed)
                entry["dates"], entry["monthly"] = res.dates, res.monthly
            else:  # a stand-in returning a RunResult (tests, custom models)
                res = run_fn(task.scenario, seed=task.seed, replicate=task.replicate)
                entry["dates"] = [str(d) for d in res.monthly.index]
                entry["monthly"] = res.monthly[rcols].to_numpy(dtype=float)
            entry["outcomes"] = np.array([res.outcomes.get(c, np.nan) for c in ocols], dtype=float)
        except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the batch goes on
            entry.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
            entry["outcomes"] = np.full(len(ocols), np.nan)
            entry["monthly"] = np.empty((0, len(rcols)))
        entry["seconds"] = round(time.perf_counter() - t0, 4)
        runs.append(entry)
    from sim.environment import signature_text

    return {"worker": f"{socket.gethostname()}:{os.getpid()}", "cpu": signature_text(), "runs": runs}


def lost_chunk(tasks: tuple, exc: BaseException) -> dict:
    """The result of a chunk whose worker died on every attempt: all its runs failed."""
    n_out, n_rep = len(outcome_columns()), len(reporter_columns())
    runs = [
        {
            "run": t.run,
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": None,
            "dates": [],
            "outcomes": np.full(n_out, np.nan),
            "monthly": np.empty((0, n_rep)),
            "seconds": 0.0,
        }
        for t in tasks
    ]
    return {"worker": None, "runs": runs}


def outcome_columns() -> list[str]:
    """Outcome columns of every run (:func:`sim.run.runner.outcome_columns`; kept importable from here)."""
    from sim.run.runner import outcome_columns as columns

    return columns()


def reporter_columns() -> list[str]:
    """Monthly metric columns (the registered reporters, in registration order)."""
    from sim.model.metrics import REPORTERS

    return list(REPORTERS)


def outcomes_schema(input_columns):
    import pyarrow as pa

    meta = [("run", pa.int64()), ("scenario", pa.string()), ("replicate", pa.int64()), ("seed", pa.int64())]
    meta += [("spawn_key", pa.string()), ("status", pa.string()), ("error", pa.string())]
    values = [(c, pa.float64()) for c in (*outcome_columns(), *input_columns)]
    return pa.schema(meta + values)


def monthly_schema():
    import pyarrow as pa

    meta = [("run", pa.int64()), ("scenario", pa.string()), ("replicate", pa.int64()), ("seed", pa.int64())]
    return pa.schema(meta + [("date", pa.string())] + [(c, pa.float64()) for c in reporter_columns()])


def chunk_tables(plan, result: dict):
    """Turn a worker's chunk result into (outcomes table, monthly table or None, log entries)."""
    import pyarrow as pa

    runs = result["runs"]
    ids = [r["run"] for r in runs]
    scen = [plan.scenarios[k // plan.reps] for k in ids]
    out = {
        "run": ids,
        "scenario": [s.name for s in scen],
        "replicate": [k % plan.reps for k in ids],
        "seed": [plan.seed] * len(ids),
        "spawn_key": [plan.spawn_key(k) for k in ids],
        "status": [r["status"] for r in runs],
        "error": [r["error"] for r in runs],
    }
    values = np.vstack([r["outcomes"] for r in runs])
    for j, name in enumerate(outcome_columns()):
        out[name] = values[:, j]
    for name in plan.input_columns:
        out[name] = [float(s[name]) for s in scen]
    outcomes = pa.Table.from_pydict(out, schema=outcomes_schema(plan.input_columns))
    monthly = None
    rows = [r for r in runs if len(r["dates"])]
    if rows:
        reps = [len(r["dates"]) for r in rows]
        ids_m = np.repeat([r["run"] for r in rows], reps)
        mon = {
            "run": ids_m,
            "scenario": [plan.scenarios[k // plan.reps].name for k in ids_m],
            "replicate": ids_m % plan.reps,
            "seed": np.full(len(ids_m), plan.seed),
            "date": [d for r in rows for d in r["dates"]],
        }
        matrix = np.vstack([r["monthly"] for r in rows])
        for j, name in enumerate(reporter_columns()):
            mon[name] = matrix[:, j]
        monthly = pa.Table.from_pydict(mon, schema=monthly_schema())
    where = {"worker": result["worker"], "cpu": result.get("cpu")}  # the process that computed the runs
    log = [{k: r[k] for k in ("run", "status", "seconds", "traceback")} | where for r in runs]
    return outcomes, monthly, log
