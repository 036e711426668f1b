"""Executors: where the chunks of a batch or a calibration run (in-process, a local process pool, Dask).

* :class:`SerialExecutor` (:mod:`sim.run.executor`, with the interface): in this
  process, one chunk after the other.
* :class:`PoolExecutor` (:mod:`sim.run.pool`): a process pool that lives for the
  whole batch and is rebuilt when a worker dies.
* :class:`DaskExecutor` (:mod:`sim.run.dask`): an existing scheduler or a
  ``LocalCluster``.

:func:`make_executor` chooses one for ``--workers`` / ``--dask``. What a worker
computes for a chunk of a batch, and the tables made from it, are in
:mod:`sim.run.chunks`. Every name is importable from here.
"""

from __future__ import annotations

import sys

from sim.errors import InputError
from sim.run.chunks import (
    chunk_tables,
    lost_chunk,
    monthly_schema,
    outcome_columns,
    outcomes_schema,
    reporter_columns,
    run_chunk,
)
from sim.run.dask import DASK_CONNECT_TIMEOUT_S, DaskExecutor, parse_dask_address
from sim.run.executor import MAX_ATTEMPTS, Executor, SerialExecutor, WorkerLost, usable_cores
from sim.run.pool import PoolExecutor, pool_context

__all__ = [
    "DASK_CONNECT_TIMEOUT_S",
    "MAX_ATTEMPTS",
    "DaskExecutor",
    "Executor",
    "PoolExecutor",
    "SerialExecutor",
    "WorkerLost",
    "chunk_tables",
    "lost_chunk",
    "make_executor",
    "monthly_schema",
    "outcome_columns",
    "outcomes_schema",
    "parse_dask_address",
    "pool_context",
    "reporter_columns",
    "run_chunk",
    "usable_cores",
]


def make_executor(workers: int = 1, dask: str | None = None) -> Executor:
    """The executor for ``--workers`` / ``--dask`` (connects now, so errors come before any file is written)."""
    if dask:
        return DaskExecutor(dask)
    if workers is None or isinstance(workers, bool) or int(workers) < 1:
        raise InputError("--workers", None, f"must be 1 or more, got {workers!r}")
    workers = int(workers)
    # more processes than usable cores only add start-up cost and memory; results do not depend on the count
    usable = usable_cores()
    if workers > usable:
        print(f"parksim: note: --workers {workers} capped at {usable}, the cores this process may use", file=sys.stderr)
        workers = usable
    return SerialExecutor() if workers == 1 else PoolExecutor(workers)
