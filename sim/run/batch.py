"""Batches: scenarios x replications with common random numbers, stored as runs finish.

Replication ``i`` of every scenario uses ``SeedSequence(seed).spawn(reps)[i]``,
so scenario (or design-point) pairs differ only by policy. Run ``k`` of a batch is
scenario ``k // reps``, replication ``k % reps``. Each run depends only on its
scenario and its seed, so the tables are identical whatever the executor, the
number of workers, the chunking, or how often the batch was interrupted and
resumed.

What runs and the new manifest are :mod:`sim.run.plan`'s; one session of
running is :mod:`sim.run.session`'s. Runs go to workers in chunks sized by
measured run time (:class:`sim.run.session.Chunker`: one run per chunk for long
runs, many for short ones). Workers send back compact arrays (never model
objects); the main process turns each finished chunk into one Parquet part,
written by a background thread while the next runs go on (see
:mod:`sim.store.sinks` and :mod:`sim.store`), so memory stays flat and a killed
batch loses only the chunks in flight (about half a second of work per worker).
When every run is done the parts are merged into one file per table.
"""

from __future__ import annotations

import shutil
import sys
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import pandas as pd

from sim import store
from sim.errors import ExecutorError
from sim.model.scenario import Scenario, ScenarioError
from sim.run.executors import make_executor, monthly_schema, outcomes_schema
from sim.run.plan import Plan, RunTask, new_batch_id, new_manifest
from sim.run.pool_guard import MAIN_GUARD_HELP
from sim.run.session import close_session, execute_session
from sim.store import DEFAULT_ROOT, StoreError
from sim.store.lock import BatchLock
from sim.store.manifest import Manifest
from sim.store.repair import clean_folder
from sim.store.sinks import FolderSink, MemorySink

__all__ = [  # Plan, RunTask, new_batch_id and new_manifest live in sim.run.plan; imported from here too
    "Batch",
    "Plan",
    "RunTask",
    "load_batch",
    "new_batch_id",
    "new_manifest",
    "refuse_in_worker_bootstrap",
    "resume_batch",
    "run_batch",
]


# ---------------------------------------------------------------- results
class Batch:
    """A batch: its manifest and its tables (read from the folder on first use).

    Attributes:
        id: batch id (the folder name).
        folder: the batch folder, or None for an in-memory batch.
        record: the manifest, typed (:class:`sim.store.manifest.Manifest`).
        manifest: the manifest as JSON data, as ``manifest.json`` holds it (read it, do not change it).
        problems: parts that do not count (for example a lost monthly file), by part name.
    """

    def __init__(self, record: Manifest, folder: Path | None = None, memory: MemorySink | None = None):
        self.record, self.folder, self._memory = record, folder, memory
        self.problems: dict[str, str] = {}  # part name -> why it does not count (see store.broken_parts)

    @cached_property
    def manifest(self) -> dict:
        """The manifest as JSON data (a read-only view, made once: the batch is finished when you have it)."""
        return self.record.to_json()

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def failed(self) -> int:
        """Number of failed runs."""
        return int(self.record.counts["failed"])

    @property
    def n_runs(self) -> int:
        return len(self.record.runs)

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
        """One row per finished run (see docs/results_format.md).

        A posterior batch adds the column ``draw``: the posterior draw index of each run
        (from the manifest; -1 for a scenario that ran at its point).
        """
        table = self._table("outcomes", outcomes_schema(self.record.input_columns))
        if self.posterior is not None:
            draws = {r.run: r.extra.get("draw", -1) for r in self.record.runs}
            table["draw"] = table["run"].map(draws).fillna(-1).astype("int64")
        return table

    @property
    def posterior(self) -> dict | None:
        """What a posterior batch drew (see :func:`sim.run.plan.posterior_record`); None for a batch at the point."""
        return self.record.extra.get("posterior")

    @cached_property
    def monthly(self) -> pd.DataFrame:
        """One row per run and month (see docs/results_format.md)."""
        return self._table("monthly", monthly_schema())

    def scenario(self, name: str) -> dict:
        """The stored scenario dict of ``name``."""
        return next(s for s in self.record.scenarios if s["name"] == name)

    def summary_line(self) -> str:
        c = self.record.counts
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
    posterior=False,
    seeds_per_draw=1,
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
        posterior: sample the fitted posterior: replication ``i`` of every scenario takes the same
            posterior draw ``d_i`` of its fitted parameters (see :mod:`sim.run.plan`), recorded in the
            manifest and in each run's entry; a scenario without posterior draws runs at its point.
            False (the default of this function; ``parksim run --at-point``): every run at its point.
        seeds_per_draw: replications that share one draw (consecutive replications; see
            :mod:`sim.analysis.uncertainty` for the variance split this allows).

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
    design_inputs = (extra.get("design") or {}).get("inputs", ())
    plan = Plan.build(scenarios, reps, seed, design_inputs, posterior=posterior, seeds_per_draw=seeds_per_draw)
    folder = None
    if out_root is not None:
        batch_id = batch_id or new_batch_id(str([s.name for s in plan.scenarios]))
        if not batch_id or "/" in batch_id or batch_id.startswith("."):
            raise ScenarioError("run_batch", "batch_id", f"must be a plain folder name, got {batch_id!r}")
        folder = Path(out_root) / batch_id
        if folder.exists():
            raise ScenarioError(folder, "batch_id", "a batch with this id exists; resume it with 'parksim resume'")
    manifest = new_manifest(plan, batch_id or "in-memory", command, extra)
    options = {"progress": progress, "run_fn": run_fn, "chunk_size": chunk_size, "command": command}
    with make_executor(workers, dask) as executor, _new_folder(folder):
        sink = FolderSink(folder, 0, compact=compact) if folder is not None else MemorySink()
        todo = list(range(plan.n_runs))
        try:
            execute_session(plan, manifest, sink, executor, todo, **options)
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
    keys = ("name", "history_start", "start", "end", "inputs", "status_quo", "policies")
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
    manifest = store.load_manifest(folder)
    if expect_scenarios is not None and not _same_scenarios(manifest.scenarios, expect_scenarios):
        raise ScenarioError(
            folder / store.MANIFEST, "scenarios", "this batch was made from other scenarios or another design"
        )
    if expect_reps_seed is not None and tuple(expect_reps_seed) != (manifest.reps, manifest.seed):
        raise ScenarioError(
            folder / store.MANIFEST,
            "reps/seed",
            f"the batch was made with --reps {manifest.reps} --seed {manifest.seed}, "
            f"not --reps {expect_reps_seed[0]} --seed {expect_reps_seed[1]}",
        )
    for action in clean_folder(folder):
        print(f"parksim: {action}", file=sys.stderr)
    plan = Plan.from_manifest(manifest)
    done = _apply_parts(manifest, folder)
    todo = [k for k in range(plan.n_runs) if k not in done]
    for signature in sorted({r["cpu"] for r in done.values() if r.get("cpu")}):  # the parts know, even when
        manifest.note_cpu_signature(signature)  # the manifest is stale
    stored_commit = (manifest.code or {}).get("git_commit")
    current = store.code_version()["git_commit"]
    if todo and stored_commit and current and stored_commit != current:
        print(
            f"parksim: warning: batch {manifest.id} was started with code {stored_commit[:10]}, "
            f"now {current[:10]}; runs made now may differ from the earlier ones",
            file=sys.stderr,
        )
    sink = FolderSink(folder, len(manifest.sessions), compact=compact)
    options = {"progress": progress, "run_fn": run_fn, "chunk_size": chunk_size, "command": command}
    if not todo:
        close_session(manifest, None, sink, None, 0.0)
        return Batch(manifest, folder)
    with make_executor(workers, dask) as executor:
        execute_session(plan, manifest, sink, executor, todo, **options)
    return Batch(manifest, folder)


def load_batch(folder_or_id, root=DEFAULT_ROOT) -> Batch:
    """Read a finished or partial batch back (run status comes from the part files).

    Raises:
        StoreError: missing folder or manifest, corrupt manifest or damaged part.
    """
    folder = store.resolve_folder(folder_or_id, root)
    manifest = store.load_manifest(folder)
    done = _apply_parts(manifest, folder)
    manifest.refresh_counts()
    manifest.mark(store.current_status(manifest, len(done), manifest.counts["failed"], folder))
    batch = Batch(manifest, folder)
    batch.problems = store.broken_parts(folder)
    return batch


def _apply_parts(manifest: Manifest, folder: Path) -> dict[int, dict]:
    """Set every run's entry from the parts (the authority after a crash); return the committed runs."""
    done = store.scan_runs(folder)
    for run in range(len(manifest.runs)):
        manifest.apply_run(run, done.get(run, {"status": "pending"}))
    return done
