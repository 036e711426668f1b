"""The executor interface, and the executor that runs in this process.

Every executor has the same small interface: :meth:`Executor.run` takes a
picklable function and an iterable of chunks (tuples of tasks) and yields
``(chunk, result, attempt)`` as chunks finish, in any order. ``result`` is what
the function returned, or a :class:`WorkerLost` when the chunk's worker died too
often. Results never depend on the executor: each task carries its own seed.
The executors that leave this process are in :mod:`sim.run.pool` and
:mod:`sim.run.dask`; :func:`sim.run.executors.make_executor` chooses one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

MAX_ATTEMPTS = 3


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on macOS or Windows
        return max(1, os.cpu_count() or 1)


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
