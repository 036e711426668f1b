"""Where simulations run: this process, a local process pool, or an existing Dask cluster.

:class:`Pool` maps a picklable callable over tasks (MSM replications, the
posterior predictive check); :func:`abc_sampler` gives the matching pyABC
sampler. Results never depend on the choice: every task carries its own seed.

Interruptions: :func:`install_interrupt_handler` and :func:`check_interrupt`
make Ctrl-C reliable; :func:`interrupt_point` is a test hook that raises
KeyboardInterrupt at an exact point of a job, named by an environment variable
(never set it outside tests):

* ``PARKSIM_INTERRUPT_AFTER_GENERATION=k``: ABC, right after generation ``t = k``
  (0-based) is stored in ``abc.db``;
* ``PARKSIM_INTERRUPT_AFTER_SIMULATION=n``: ABC, mid-generation, right after the
  ``n``-th simulation the sampler ran in this process (``workers = 1`` only);
* ``PARKSIM_INTERRUPT_AFTER_EVALUATION=k``: MSM, right after the ``k``-th point
  (1-based, counting the points already in the cache) is stored in ``msm_cache.jsonl``.
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

from sim.errors import InputError

INTERRUPT_ENV = {
    "generation": "PARKSIM_INTERRUPT_AFTER_GENERATION",
    "simulation": "PARKSIM_INTERRUPT_AFTER_SIMULATION",
    "evaluation": "PARKSIM_INTERRUPT_AFTER_EVALUATION",
}


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


def abc_sampler(pool: Pool, counter: SimCounter | None = None):
    """The pyABC sampler that runs on the same resources as ``pool``.

    With ``counter``, the local samplers count every simulation and accepted
    particle into it as they go (the progress bar reads it); a Dask sampler does
    not count.
    """
    from pyabc.sampler import DaskDistributedSampler, MulticoreEvalParallelSampler, SingleCoreSampler

    if pool.client is not None:
        return DaskDistributedSampler(dask_client=pool.client, batch_size=2)
    if pool.workers > 1:
        sampler = MulticoreEvalParallelSampler(n_procs=pool.workers)
        if counter is None or sampler.pickle:  # counts reach forked workers only, not pickled ones
            return sampler
        return _counting(MulticoreEvalParallelSampler, counter, shared=True)(n_procs=pool.workers)
    return SingleCoreSampler() if counter is None else _counting(SingleCoreSampler, counter, shared=False)()


class SimCounter:
    """Simulations and accepted particles of the generation being sampled, readable from another thread.

    Attributes:
        total: simulations counted in this process over all generations (in-process samplers only).
        live: a sampler counts into it (False for Dask: nothing to show).
    """

    def __init__(self):
        self.total, self.live = 0, False
        self.reset()

    def reset(self, ctx=None) -> None:
        """Start a generation; with a multiprocessing context the counts are shared with forked workers."""
        if ctx is None:
            self._sims, self._acc = SimpleNamespace(value=0), SimpleNamespace(value=0)
        else:
            self._sims, self._acc = ctx.Value("q", 0), ctx.Value("q", 0)

    def add(self, accepted: bool) -> None:
        for box, step in ((self._sims, 1), (self._acc, int(bool(accepted)))):
            if hasattr(box, "get_lock"):
                with box.get_lock():
                    box.value += step
            else:
                box.value += step

    def read(self) -> tuple[int, int]:
        """(simulations, accepted) of the current generation so far."""
        return int(self._sims.value), int(self._acc.value)


def _counting(base, counter: SimCounter, shared: bool):
    """A subclass of the pyABC sampler ``base`` that counts into ``counter`` (and honours the test hook)."""
    counter.live = True

    class Counting(base):
        def sample_until_n_accepted(self, n, simulate_one, t, **kwargs):
            if shared:
                from pyabc.sampler.util import get_mp_context

                counter.reset(get_mp_context())
            else:
                counter.reset()

            def counted():
                particle = simulate_one()
                counter.add(particle.accepted)
                if not shared:
                    counter.total += 1
                    interrupt_point("simulation", counter.total)
                return particle

            return super().sample_until_n_accepted(n, counted, t, **kwargs)

    return Counting


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


def interrupt_point(kind: str, count: int) -> None:
    """Test hook: raise KeyboardInterrupt when ``count`` equals the job's ``PARKSIM_INTERRUPT_AFTER_*`` variable.

    Args:
        kind: ``generation``, ``simulation`` or ``evaluation`` (see the module docstring).
        count: how far the job has got in that unit.

    Raises:
        KeyboardInterrupt: at the requested point, exactly as a Ctrl-C there would.
        InputError: the variable is set but is not a whole number.
    """
    name = INTERRUPT_ENV[kind]
    value = os.environ.get(name)
    if value is None or not value.strip():
        return
    try:
        wanted = int(value)
    except ValueError:
        raise InputError(name, None, f"must be a whole number (a test hook), got {value!r}") from None
    if count == wanted:
        raise KeyboardInterrupt
