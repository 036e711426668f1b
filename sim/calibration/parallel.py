"""Where simulations run: this process, a local process pool, or an existing Dask cluster.

:class:`Pool` maps a picklable callable over tasks (MSM replications, the
posterior predictive check); :func:`abc_sampler` gives the matching pyABC
sampler. Results never depend on the choice: every task carries its own seed.
"""

from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor


class Pool:
    """An ordered ``map`` over 1 process, ``workers`` local processes, or a Dask scheduler.

    Args:
        workers: local worker processes (1 = run in this process).
        dask: address of a Dask scheduler (``tcp://host:8786``); overrides ``workers``.
    """

    def __init__(self, workers: int = 1, dask: str | None = None):
        self.workers, self.address = max(1, int(workers)), dask
        self.client = None
        self._executor = None
        if dask:
            from distributed import Client

            self.client = Client(dask)
        elif self.workers > 1:
            self._executor = ProcessPoolExecutor(max_workers=self.workers)

    def map(self, fn, tasks: list) -> list:
        """``[fn(t) for t in tasks]``, computed where the pool says."""
        tasks = list(tasks)
        if self.client is not None:
            return self.client.gather(self.client.map(fn, tasks, pure=False))
        if self._executor is not None:
            chunk = max(1, len(tasks) // (4 * self.workers))
            return list(self._executor.map(fn, tasks, chunksize=chunk))
        return [fn(t) for t in tasks]

    def describe(self) -> str:
        if self.client is not None:
            return f"Dask cluster at {self.address} ({sum(self.client.ncores().values())} cores)"
        return f"{self.workers} local process{'es' if self.workers > 1 else ''}"

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def abc_sampler(pool: Pool):
    """The pyABC sampler that runs on the same resources as ``pool``."""
    from pyabc.sampler import DaskDistributedSampler, MulticoreEvalParallelSampler, SingleCoreSampler

    if pool.client is not None:
        return DaskDistributedSampler(dask_client=pool.client, batch_size=2)
    if pool.workers > 1:
        return MulticoreEvalParallelSampler(n_procs=pool.workers)
    return SingleCoreSampler()


_STOP = {"requested": False}


def install_interrupt_handler() -> None:
    """Make Ctrl-C reliable: remember the request as well as raising KeyboardInterrupt.

    A KeyboardInterrupt that lands inside a garbage-collection callback is
    swallowed by Python; the remembered request is honoured at the next safe
    point (:func:`check_interrupt`: after a generation, between evaluations).
    Call from the main thread of a command-line process only.
    """

    def handler(signum, frame):
        _STOP["requested"] = True
        raise KeyboardInterrupt

    _STOP["requested"] = False
    signal.signal(signal.SIGINT, handler)


def check_interrupt() -> None:
    """Raise KeyboardInterrupt if an interrupt was requested and has not yet stopped the job."""
    if _STOP["requested"]:
        raise KeyboardInterrupt
