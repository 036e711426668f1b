"""Batches: scenarios x replications with common random numbers, stored as runs finish.

Replication ``i`` of every scenario uses ``SeedSequence(seed).spawn(reps)[i]``,
so scenario (or design-point) pairs differ only by policy. Run ``k`` of a batch is
scenario ``k // reps``, replication ``k % reps``. Each run depends only on its
scenario and its seed, so the tables are identical whatever the executor, the
number of workers, the chunking, or how often the batch was interrupted and
resumed.

Runs go to workers in chunks sized by measured run time (:class:`sim.run.session.Chunker`: one
run per chunk for long runs, many for short ones). Workers send back compact
arrays (never model objects); the main process turns each finished chunk into
one Parquet part, written by a background thread while the next runs go on (see
:mod:`sim.store.sinks` and :mod:`sim.store`), so memory stays flat and a killed batch loses only the chunks
in flight (about half a second of work per worker). When every run is done the
parts are merged into one file per table.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import namedtuple
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sim import environment, store
from sim.errors import ExecutorError
from sim.model.scenario import Scenario, ScenarioError
from sim.run.executors import (
    make_executor,
    monthly_schema,
    outcomes_schema,
)
from sim.run.pool_guard import MAIN_GUARD_HELP
from sim.run.runner import replicate_seeds
from sim.run.session import apply_run, close_session, execute_session, refresh_counts
from sim.store import DEFAULT_ROOT, StoreError
from sim.store.lock import BatchLock
from sim.store.repair import clean_folder
from sim.store.sinks import FolderSink, MemorySink

RunTask = namedtuple("RunTask", "run scenario replicate seed")


# ---------------------------------------------------------------- the plan
class Plan:
    """What a batch runs: scenarios x replications, with input columns for the outcomes table."""

    def __init__(self, scenarios: list[Scenario], reps: int, seed: int, input_columns: list[str]):
        self.scenarios, self.reps, self.seed = list(scenarios), int(reps), int(seed)
        self.input_columns = list(input_columns)
        self.seeds = replicate_seeds(self.seed, self.reps)

    @classmethod
    def build(cls, scenarios, reps, seed, design_inputs=()) -> Plan:
        """Check the arguments of a batch and choose the input columns.

        Raises:
            ScenarioError: no scenarios, duplicate names, bad reps or seed.
        """
        scenarios = list(scenarios)
        if not scenarios or not all(isinstance(s, Scenario) for s in scenarios):
            raise ScenarioError("run_batch", "scenarios", "needs a non-empty list of Scenario objects")
        names = [s.name for s in scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ScenarioError("run_batch", "scenarios", f"scenario names must be unique; repeated: {dupes}")
        if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
            raise ScenarioError("run_batch", "reps", f"must be a whole number >= 1, got {reps!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise ScenarioError("run_batch", "seed", f"must be a whole number in [0, 2**63), got {seed!r}")
        varying = [k for k, _ in scenarios[0].inputs if len({s[k] for s in scenarios}) > 1]
        columns = list(dict.fromkeys([*design_inputs, *varying]))
        return cls(scenarios, reps, seed, columns)

    @classmethod
    def from_manifest(cls, manifest: dict) -> Plan:
        """Rebuild the plan of a stored batch (for resume)."""
        scenarios = [Scenario.from_dict(d) for d in manifest["scenarios"]]
        return cls(scenarios, manifest["reps"], manifest["seed"], manifest.get("input_columns", []))

    @property
    def n_runs(self) -> int:
        return len(self.scenarios) * self.reps

    def task(self, run: int) -> RunTask:
        return RunTask(run, self.scenarios[run // self.reps], run % self.reps, self.seeds[run % self.reps])

    def spawn_key(self, run: int) -> str:
        return ",".join(str(k) for k in self.seeds[run % self.reps].spawn_key)

    def run_entries(self) -> list[dict]:
        return [
            {
                "run": k,
                "scenario": self.scenarios[k // self.reps].name,
                "replicate": k % self.reps,
                "spawn_key": self.spawn_key(k),
                "status": "pending",
            }
            for k in range(self.n_runs)
        ]


# ---------------------------------------------------------------- manifest
def new_batch_id(salt: str = "") -> str:
    """Timestamp plus a short hash, e.g. ``20261127-183512-ab12cd``."""
    import hashlib

    salt = f"{salt}{time.time_ns()}{os.getpid()}"
    return time.strftime("%Y%m%d-%H%M%S") + "-" + hashlib.sha1(salt.encode()).hexdigest()[:6]


def new_manifest(plan: Plan, batch_id: str, command: str | None, extra: dict) -> dict:
    """The manifest of a new batch (runs all pending)."""
    manifest = {
        "format": store.FORMAT_NAME,
        "format_version": store.FORMAT_VERSION,
        "id": batch_id,
        "status": "created",
        "created": store.now_iso(),
        "updated": store.now_iso(),
        "finished": None,
        "command": command,
        "code": store.code_version(),
        "environment": environment.describe(),
        "cpu_signatures": [],
        "writer": store.writer_identity(),
        "seed": plan.seed,
        "reps": plan.reps,
        "replicates": [
            {"replicate": i, "entropy": plan.seed, "spawn_key": list(s.spawn_key)} for i, s in enumerate(plan.seeds)
        ],
        "scenarios": [s.to_dict() for s in plan.scenarios],
        "input_columns": plan.input_columns,
        "tables": {
            "outcomes": {"folder": "outcomes", "sort": ["run"], "columns": outcomes_schema(plan.input_columns).names},
            "monthly": {"folder": "monthly", "sort": ["run", "date"], "columns": monthly_schema().names},
        },
        "counts": {},
        "timings": {},
        "sessions": [],
        "failures": [],
        "runs": plan.run_entries(),
    }
    clash = sorted(set(extra) & set(manifest))
    if clash:
        raise ScenarioError("run_batch", "extra_manifest", f"keys {clash} are reserved by the manifest")
    manifest.update(extra)
    refresh_counts(manifest)
    return manifest


# ---------------------------------------------------------------- results
class Batch:
    """A batch: its manifest and its tables (read from the folder on first use).

    Attributes:
        id: batch id (the folder name).
        folder: the batch folder, or None for an in-memory batch.
        manifest: the manifest as a dict.
        problems: parts that do not count (for example a lost monthly file), by part name.
    """

    def __init__(self, manifest: dict, folder: Path | None = None, memory: MemorySink | None = None):
        self.manifest, self.folder, self._memory = manifest, folder, memory
        self.problems: dict[str, str] = {}  # part name -> why it does not count (see store.broken_parts)

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def status(self) -> str:
        return self.manifest["status"]

    @property
    def failed(self) -> int:
        """Number of failed runs."""
        return int(self.manifest["counts"]["failed"])

    @property
    def n_runs(self) -> int:
        return len(self.manifest["runs"])

    def _table(self, name: str, schema):
        import pyarrow as pa

        if self._memory is not None:
            parts = getattr(self._memory, name)
            table = pa.concat_tables(parts) if parts else None
            if table is not None:
                keys = [("run", "ascending")] + ([("date", "ascending")] if name == "monthly" else [])
                table = table.sort_by(keys).replace_schema_metadata(None)
        else:
            table = store.read_table(self.folder, name)
        table = schema.empty_table() if table is None else table
        return table.to_pandas().reset_index(drop=True)

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        """One row per finished run (see docs/results_format.md)."""
        return self._table("outcomes", outcomes_schema(self.manifest.get("input_columns", [])))

    @cached_property
    def monthly(self) -> pd.DataFrame:
        """One row per run and month (see docs/results_format.md)."""
        return self._table("monthly", monthly_schema())

    def scenario(self, name: str) -> dict:
        """The stored scenario dict of ``name``."""
        return next(s for s in self.manifest["scenarios"] if s["name"] == name)

    def summary_line(self) -> str:
        c = self.manifest["counts"]
        where = f" in {self.folder}" if self.folder else ""
        return (
            f"batch {self.id}: {self.status}; {c['ok']} ok, {c['failed']} failed, {c['pending']} pending "
            f"of {c['planned']} runs{where}"
        )

    def __repr__(self) -> str:
        return f"<Batch {self.summary_line()}>"


def run_batch(
    scenarios,
    reps=10,
    seed=2016,
    workers=1,
    dask=None,
    out_root="results/runs",
    batch_id=None,
    command=None,
    progress=True,
    extra_manifest=None,
    *,
    chunk_size=None,
    run_fn=None,
    compact=True,
) -> Batch:
    """Run every scenario ``reps`` times with common random numbers and store the results.

    Args:
        scenarios: list of scenarios (design points are scenarios made with ``with_values``).
        reps: replications per scenario; replication i uses ``SeedSequence(seed).spawn(reps)[i]``.
        seed: root seed.
        workers: 1 runs in this process; more uses a local process pool.
        dask: ``tcp://HOST:PORT`` of a running scheduler, or ``local:N``; overrides ``workers``.
        out_root: the batch folder is ``out_root/<id>/``; None keeps results in memory only.
        batch_id: folder name (default: timestamp and short hash).
        command: command line recorded in the manifest.
        progress: show a progress bar on stderr.
        extra_manifest: entries added to the manifest (for example the design of a sweep).
        chunk_size: runs per task sent to a worker (default: chosen from runs and workers).
        run_fn: replacement for :func:`sim.run.runner.run_scenario` (tests inject faults with it).
        compact: merge the parts into one file per table once every run is done.

    Returns:
        The batch; failed runs are recorded in ``batch.outcomes`` and counted in ``batch.failed``.

    Raises:
        ScenarioError: bad arguments or an existing batch id (before anything is written).
        ExecutorError: an executor that cannot run the batch (an unreachable Dask cluster, a
            script without ``if __name__ == "__main__":``); when no run was stored, no batch
            folder is left behind.
        StoreError: a write failed (finished runs are kept).
    """
    refuse_in_worker_bootstrap("run_batch")
    extra = dict(extra_manifest or {})
    plan = Plan.build(scenarios, reps, seed, (extra.get("design") or {}).get("inputs", ()))
    folder = None
    if out_root is not None:
        batch_id = batch_id or new_batch_id(str([s.name for s in plan.scenarios]))
        if not batch_id or "/" in batch_id or batch_id.startswith("."):
            raise ScenarioError("run_batch", "batch_id", f"must be a plain folder name, got {batch_id!r}")
        folder = Path(out_root) / batch_id
        if folder.exists():
            raise ScenarioError(folder, "batch_id", "a batch with this id exists; resume it with 'parksim resume'")
    manifest = new_manifest(plan, batch_id or "in-memory", command, extra)
    with make_executor(workers, dask) as executor, _new_folder(folder):
        sink = FolderSink(folder, 0, compact=compact) if folder is not None else MemorySink()
        todo = list(range(plan.n_runs))
        try:
            execute_session(
                plan,
                manifest,
                sink,
                executor,
                todo,
                progress=progress,
                run_fn=run_fn,
                chunk_size=chunk_size,
                command=command,
            )
        except ExecutorError:
            if folder is not None and not store.part_files(folder, "outcomes"):
                shutil.rmtree(folder, ignore_errors=True)  # no run could start: leave nothing behind
            raise
    return Batch(manifest, folder, sink if folder is None else None)


@contextmanager
def _new_folder(folder: Path | None):
    """Create a new batch folder and hold its writer lock (a no-op for an in-memory batch)."""
    if folder is None:
        yield None
        return
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise ScenarioError(
            folder, "batch_id", "a batch with this id exists; resume it with 'parksim resume'"
        ) from None
    except OSError as exc:
        raise StoreError(folder, f"cannot create the results folder: {exc.strerror or exc}") from None
    with BatchLock(folder) as lock:
        yield lock


def refuse_in_worker_bootstrap(what: str) -> None:
    """Fail at once when a pool worker runs this while importing the main script.

    Worker processes (forkserver, spawn) import the script that started the pool;
    a script that calls :func:`run_batch` outside ``if __name__ == "__main__":``
    would start a batch in every worker. Raising here kills that worker before it
    writes anything, and the pool reports the missing guard.

    Raises:
        ExecutorError: this process is a worker still importing the main script.
    """
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ExecutorError(what, MAIN_GUARD_HELP)


def _same_scenarios(stored: list[dict], given: list[Scenario]) -> bool:
    keys = ("name", "start", "end", "inputs", "policies")
    return [{k: d.get(k) for k in keys} for d in stored] == [{k: s.to_dict().get(k) for k in keys} for s in given]


def resume_batch(
    folder_or_id,
    *,
    root=DEFAULT_ROOT,
    workers=1,
    dask=None,
    progress=True,
    command=None,
    chunk_size=None,
    run_fn=None,
    expect_scenarios=None,
    expect_reps_seed=None,
    compact=True,
) -> Batch:
    """Complete an interrupted batch: run what is missing with the batch's own seeds.

    Holds the batch's writer lock (:class:`sim.store.lock.BatchLock`) from before the
    first read to the end. Damaged parts and parts that lost their monthly file are
    moved to ``quarantine/`` and their runs run again, runs stored twice keep one copy
    (:mod:`sim.store.repair`); the final tables equal those of an uninterrupted batch.

    Args:
        folder_or_id: the batch folder or its id under ``root``.
        root: where batch ids are looked up.
        workers: as for :func:`run_batch`.
        dask: as for :func:`run_batch`.
        progress: show a progress bar.
        command: command line recorded for this session.
        chunk_size: as for :func:`run_batch`.
        run_fn: as for :func:`run_batch`.
        expect_scenarios: when given (``sweep --resume``), the batch must hold exactly these.
        expect_reps_seed: when given, ``(reps, seed)`` the batch must have been made with.
        compact: as for :func:`run_batch`.

    Raises:
        StoreError: missing or damaged manifest, or another process is writing the batch
            (names it); ScenarioError: scenarios differ.
    """
    refuse_in_worker_bootstrap("resume_batch")
    folder = store.resolve_folder(folder_or_id, root)
    with BatchLock(folder):  # before anything is read: one writer per batch
        return _resume_locked(
            folder,
            workers=workers,
            dask=dask,
            progress=progress,
            command=command,
            chunk_size=chunk_size,
            run_fn=run_fn,
            expect_scenarios=expect_scenarios,
            expect_reps_seed=expect_reps_seed,
            compact=compact,
        )


def _resume_locked(
    folder, *, workers, dask, progress, command, chunk_size, run_fn, expect_scenarios, expect_reps_seed, compact
) -> Batch:
    manifest = store.read_manifest(folder)
    if expect_scenarios is not None and not _same_scenarios(manifest["scenarios"], expect_scenarios):
        raise ScenarioError(
            folder / store.MANIFEST, "scenarios", "this batch was made from other scenarios or another design"
        )
    if expect_reps_seed is not None and tuple(expect_reps_seed) != (manifest["reps"], manifest["seed"]):
        raise ScenarioError(
            folder / store.MANIFEST,
            "reps/seed",
            f"the batch was made with --reps {manifest['reps']} --seed {manifest['seed']}, "
            f"not --reps {expect_reps_seed[0]} --seed {expect_reps_seed[1]}",
        )
    for action in clean_folder(folder):
        print(f"parksim: {action}", file=sys.stderr)
    plan = Plan.from_manifest(manifest)
    done = store.scan_runs(folder)
    for run in range(plan.n_runs):
        apply_run(manifest, run, done.get(run, {"status": "pending"}))
    todo = [k for k in range(plan.n_runs) if k not in done]
    seen = manifest.setdefault("cpu_signatures", [])  # the parts know, even when the manifest is stale
    seen.extend(sorted({r["cpu"] for r in done.values() if r.get("cpu")} - set(seen)))
    stored_commit = manifest.get("code", {}).get("git_commit")
    current = store.code_version()["git_commit"]
    if todo and stored_commit and current and stored_commit != current:
        print(
            f"parksim: warning: batch {manifest['id']} was started with code {stored_commit[:10]}, "
            f"now {current[:10]}; runs made now may differ from the earlier ones",
            file=sys.stderr,
        )
    sink = FolderSink(folder, len(manifest["sessions"]), compact=compact)
    if not todo:
        close_session(manifest, {}, sink, None, 0.0)
        return Batch(manifest, folder)
    with make_executor(workers, dask) as executor:
        execute_session(
            plan,
            manifest,
            sink,
            executor,
            todo,
            progress=progress,
            run_fn=run_fn,
            chunk_size=chunk_size,
            command=command,
        )
    return Batch(manifest, folder)


def load_batch(folder_or_id, root=DEFAULT_ROOT) -> Batch:
    """Read a finished or partial batch back (run status comes from the part files).

    Raises:
        StoreError: missing folder or manifest, corrupt manifest or damaged part.
    """
    folder = store.resolve_folder(folder_or_id, root)
    manifest = store.read_manifest(folder)
    done = store.scan_runs(folder)
    for run in range(len(manifest["runs"])):
        apply_run(manifest, run, done.get(run, {"status": "pending"}))
    refresh_counts(manifest)
    manifest["status"] = store.current_status(manifest, len(done), manifest["counts"]["failed"], folder)
    batch = Batch(manifest, folder)
    batch.problems = store.broken_parts(folder)
    return batch
