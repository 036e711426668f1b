"""Executors: where the chunks of a batch run (in-process, a local process pool, Dask).

Every executor has the same small interface: :meth:`Executor.run` takes a
picklable function and an iterable of chunks (tuples of run tasks) and yields
``(chunk, result, attempt)`` as chunks finish, in any order. ``result`` is what
the function returned, or a :class:`WorkerLost` when the chunk's worker died too
often. Results never depend on the executor: each run carries its own seed.

* :class:`SerialExecutor`: in this process, one chunk after the other.
* :class:`PoolExecutor`: a process pool that lives for the whole batch. A worker
  that dies (killed, out of memory) breaks the pool; the pool is rebuilt and the
  chunks that had not come back are run again, split into single runs after a
  first loss so that one bad run cannot sink its neighbours.
* :class:`DaskExecutor`: an existing ``dask scheduler`` (``tcp://HOST:PORT``) or a
  ``LocalCluster`` (``local:N``). The scheduler re-runs tasks of dead workers
  itself (``distributed.scheduler.allowed-failures`` times); the attempt that
  finished a chunk is read back from the scheduler (its ``suspicious`` count).

Only a bounded number of chunks is in flight, so memory stays flat however many
runs a batch has.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from sim.errors import ExecutorError, InputError
from sim.run.pool_guard import MAIN_GUARD_HELP, main_guard_problem, worker_init

DASK_CONNECT_TIMEOUT_S = 5.0  # how long to try to reach a scheduler; env PARKSIM_DASK_TIMEOUT_S overrides
MAX_ATTEMPTS = 3


class WorkerLost(RuntimeError):  # noqa: N818 - it is a result, not only raised
    """A chunk whose worker process died on every attempt."""


class Executor:
    """Base class: runs chunks and yields ``(chunk, result, attempt)`` as they finish."""

    name = "base"
    workers = 1

    def run(self, fn: Callable, chunks: Iterable[tuple]) -> Iterator[tuple[tuple, object, int]]:
        raise NotImplementedError

    def describe(self) -> dict:
        """What to record in the manifest."""
        return {"executor": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release processes and connections."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialExecutor(Executor):
    """Run chunks one after the other in this process."""

    name = "serial"

    def run(self, fn, chunks):
        for chunk in chunks:
            yield chunk, fn(chunk), 1


# ---------------------------------------------------------------- worker side
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


# ---------------------------------------------------------------- tidy tables
def outcome_columns() -> list[str]:
    """Outcome columns of every run: each target under each definition, then end-state indicators."""
    from sim.model.targets import TARGETS
    from sim.run.runner import END_INDICATORS

    return [f"{t.name}__{d}" for t in TARGETS for d in t.columns] + [f"end_{k}" for k in END_INDICATORS]


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


# ---------------------------------------------------------------- local process pool
def pool_context():
    """The multiprocessing context of the pool, chosen explicitly.

    ``forkserver`` (POSIX) forks workers from a small server process that has
    already imported the model, so workers start in milliseconds without
    inheriting this process's threads; ``spawn`` elsewhere. Explicit because
    ``mesa.batch_run`` switches the *global* start method to ``spawn``.
    """
    if sys.platform != "win32" and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["sim.run.batch", "sim.model.park"])
        return ctx
    return multiprocessing.get_context("spawn")


class PoolExecutor(Executor):
    """A local process pool kept alive for the whole batch.

    Args:
        workers: number of worker processes.
        max_attempts: tries per run before it is recorded as lost.
    """

    name = "pool"

    def __init__(self, workers: int, max_attempts: int = MAX_ATTEMPTS):
        self.workers = int(workers)
        self.max_attempts = max_attempts
        self.restarts = 0
        self._pool = None
        where = main_guard_problem()
        if where:
            raise ExecutorError("--workers", f"{where}: {MAIN_GUARD_HELP}")
        self._probe()

    def _start(self):
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=pool_context(), initializer=worker_init, initargs=(os.getpid(),)
        )

    def _probe(self) -> None:
        """Start the pool and run a trivial task: workers that cannot start fail before any file is written."""
        from concurrent.futures.process import BrokenProcessPool

        self._start()
        try:
            self._pool.submit(os.getpid).result()
        except BrokenProcessPool:
            self._shutdown()
            raise ExecutorError(
                "--workers",
                f"the pool's worker processes died while starting; if you call run_batch from a script, "
                f"{MAIN_GUARD_HELP}",
            ) from None

    def describe(self) -> dict:
        return {**super().describe(), "start_method": pool_context().get_start_method(), "restarts": self.restarts}

    def run(self, fn, chunks):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._start()
        fresh = iter(chunks)
        retry: deque = deque()
        flight: dict = {}
        fruitless = 0  # pool breaks in a row without any chunk coming back
        while True:
            while len(flight) < 2 * self.workers:
                chunk = retry.popleft() if retry else (next(fresh, None), 1)
                if chunk[0] is None:
                    break
                flight[self._pool.submit(fn, chunk[0])] = chunk
            if not flight:
                return
            done, _ = wait(list(flight), return_when=FIRST_COMPLETED)
            lost = []
            for fut in done:
                chunk, attempt = flight.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    lost.append((chunk, attempt))
                    continue
                fruitless = 0
                yield chunk, result, attempt
            if lost:
                fruitless += 1
                if fruitless >= 3:
                    self._shutdown()
                    raise ExecutorError(
                        "--workers",
                        f"the pool's worker processes die before returning any run; if you call run_batch from a "
                        f"script, {MAIN_GUARD_HELP}",
                    )
                yield from self._recover(lost + list(flight.values()), retry)
                flight.clear()

    def _recover(self, lost: list, retry: deque):
        """A worker died: rebuild the pool and queue again every chunk that was in flight."""
        self._shutdown()
        self.restarts += 1
        for chunk, attempt in lost:
            if attempt >= self.max_attempts:
                yield chunk, WorkerLost(f"worker process died on each of {attempt} attempts"), attempt
            elif len(chunk) > 1:
                retry.extend(((task,), attempt + 1) for task in chunk)
            else:
                retry.append((chunk, attempt + 1))
        self._start()

    def _shutdown(self):
        if self._pool is None:
            return
        procs = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:  # running chunks are abandoned; their runs are not recorded
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)
        self._pool = None

    def close(self):
        self._shutdown()


# ---------------------------------------------------------------- Dask
def parse_dask_address(address: str) -> tuple[str, int | str]:
    """Check a ``--dask`` value: ``("local", n)`` or ``("remote", "tcp://host:port")``.

    Raises:
        ExecutorError: anything else.
    """
    text = str(address).strip()
    if text.startswith("local:"):
        count = text.split(":", 1)[1]
        if count.isdigit() and int(count) >= 1:
            return "local", int(count)
    elif "://" in text:
        scheme, rest = text.split("://", 1)
        host, _, port = rest.rpartition(":")
        if scheme in ("tcp", "tls", "ucx", "ws", "wss") and host and port.isdigit():
            return "remote", text
    raise InputError(
        "--dask", None, f"got {address!r}; allowed: tcp://HOST:PORT (an existing scheduler) or local:N (N workers here)"
    )


def _worker_probe() -> dict:
    """Runs on a Dask worker: proves it can import parksim and says which tables it produces."""
    import sim

    return {"version": sim.__version__, "columns": [outcome_columns(), reporter_columns()]}


class DaskExecutor(Executor):
    """Run chunks on a Dask distributed cluster.

    Args:
        address: ``tcp://HOST:PORT`` of a running scheduler, or ``local:N``.
        timeout_s: how long to try to reach the scheduler before giving up.
    """

    name = "dask"

    def __init__(self, address: str, timeout_s: float | None = None):
        kind, where = parse_dask_address(address)
        if timeout_s is None:
            timeout_s = float(os.environ.get("PARKSIM_DASK_TIMEOUT_S", DASK_CONNECT_TIMEOUT_S))
        self.address = address
        self._cluster = None
        import logging

        from distributed import Client, LocalCluster

        try:
            if kind == "local":
                self._cluster = LocalCluster(
                    n_workers=where,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # a free port; never collide with a running cluster
                    silence_logs=logging.ERROR,
                )
                self.client = Client(self._cluster, timeout=timeout_s)
            else:
                self.client = Client(where, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ExecutorError(
                "--dask",
                f"cannot reach a Dask scheduler at {where} within {timeout_s:g} s ({exc}). "
                "Start one with 'dask scheduler' and 'dask worker ADDRESS', or use --dask local:N",
            ) from None
        self._check_workers()

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=30)
            probe = self.client.submit(_worker_probe, pure=False).result(timeout=60)
        except Exception as exc:  # noqa: BLE001 - any failure here means the cluster cannot run parksim
            self.close()
            raise ExecutorError(
                "--dask",
                f"the Dask cluster at {self.address} cannot run parksim ({type(exc).__name__}: {exc}); "
                "install parksim on every worker (pip install -e .) and check that workers are connected",
            ) from None
        if probe["columns"] != [outcome_columns(), reporter_columns()]:
            self.close()
            raise ExecutorError(
                "--dask",
                f"the workers at {self.address} run another version of parksim (parksim {probe['version']} "
                "with other outcome or reporter columns); install the same code on every worker",
            )

    @property
    def workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> dict:
        return {**super().describe(), "address": self.address, "scheduler": self.client.scheduler.address}

    def run(self, fn, chunks):
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        todo = iter(chunks)
        running = as_completed()
        meta: dict = {}

        def submit_next() -> bool:
            chunk = next(todo, None)
            if chunk is None:
                return False
            fut = self.client.submit(fn, chunk, pure=False)
            meta[fut.key] = chunk
            running.add(fut)
            return True

        for _ in range(3 * self.workers):
            if not submit_next():
                break
        for fut in running:
            chunk = meta.pop(fut.key)
            try:
                result = fut.result()
            except KilledWorker as exc:
                result = WorkerLost(f"Dask worker died on every attempt: {exc}")
            except Exception as exc:  # noqa: BLE001
                raise ExecutorError("--dask", f"a task failed on the cluster: {type(exc).__name__}: {exc}") from exc
            attempt = self._attempt(fut.key)
            fut.release()
            yield chunk, result, attempt  # first, so that the caller sees the result before the next chunk is cut
            submit_next()

    def _attempt(self, key) -> int:
        """Which attempt finished task ``key``: 1 + the times a worker died while running it (the scheduler knows)."""

        def suspicious(key, dask_scheduler=None):  # a local function: pickled by value, runs without parksim
            task = dask_scheduler.tasks.get(key)
            return getattr(task, "suspicious", 0) if task is not None else 0

        try:
            return 1 + int(self.client.run_on_scheduler(suspicious, key))
        except Exception:  # noqa: BLE001 - a scheduler that does not allow it: the attempt is unknown, say 1
            return 1

    def close(self):
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(workers: int = 1, dask: str | None = None) -> Executor:
    """The executor for ``--workers`` / ``--dask`` (connects now, so errors come before any file is written)."""
    if dask:
        return DaskExecutor(dask)
    if workers is None or isinstance(workers, bool) or int(workers) < 1:
        raise InputError("--workers", None, f"must be 1 or more, got {workers!r}")
    workers = int(workers)
    # more processes than usable cores only add start-up cost and memory; results do not depend on the count
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers > usable:
        print(f"parksim: note: --workers {workers} capped at {usable}, the cores this process may use", file=sys.stderr)
        workers = usable
    return SerialExecutor() if workers == 1 else PoolExecutor(workers)
