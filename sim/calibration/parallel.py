"""Where simulations run: the executors of :mod:`sim.run.executors`, shared with batches.

:class:`Pool` maps a picklable callable over tasks (MSM replications, the
posterior predictive check, pyABC's sampling tasks) on the executor that
``--workers`` / ``--dask`` choose for a batch (:func:`sim.run.executors.make_executor`):
this process, a local process pool (explicit start method, rebuilt when a worker
dies, workers that die with the main process, capped at the usable cores) or a
Dask cluster (``tcp://HOST:PORT`` or ``local:N``, connection timeout and a check
that the workers run the same parksim). :func:`abc_sampler` gives the matching
pyABC sampler. Results never depend on the choice of executor: every MSM task
carries its own seed, and the parallel ABC sampler seeds every sampling task
from the job (see :class:`SeededMappingSampler`).

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

import functools
import os
import random
import signal

import numpy as np

from sim.errors import ExecutorError, InputError
from sim.run.executors import DaskExecutor, SerialExecutor, WorkerLost, make_executor

INTERRUPT_ENV = {
    "generation": "PARKSIM_INTERRUPT_AFTER_GENERATION",
    "simulation": "PARKSIM_INTERRUPT_AFTER_SIMULATION",
    "evaluation": "PARKSIM_INTERRUPT_AFTER_EVALUATION",
}
CHUNKS_PER_WORKER = 4  # tasks are cut into about this many chunks per worker (few round trips, balanced load)


class _MapChunk:
    """Runs ``fn`` on each ``(index, task)`` of a chunk in a worker; picklable when ``fn`` is."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, chunk: tuple) -> list:
        return [self.fn(task) for _, task in chunk]


class Pool:
    """An ordered ``map`` on the batch executors: this process, local processes, or a Dask cluster.

    Args:
        workers: local worker processes (1 = run in this process; capped at the usable cores).
        dask: ``tcp://HOST:PORT`` of a running Dask scheduler, or ``local:N``; overrides ``workers``.

    Raises:
        InputError: a bad ``workers`` or ``dask`` value.
        ExecutorError: the pool or the cluster cannot run parksim (before any simulation).
    """

    def __init__(self, workers: int = 1, dask: str | None = None):
        self.address = dask
        self.executor = make_executor(workers, dask)
        self.workers = self.executor.workers

    @property
    def distributed(self) -> bool:
        """True when simulations leave this process (a process pool or a Dask cluster)."""
        return not isinstance(self.executor, SerialExecutor)

    def map(self, fn, tasks, each=None) -> list:
        """``[fn(t) for t in tasks]``, computed on the executor, in task order.

        Args:
            fn: a picklable callable of one task.
            tasks: the tasks.
            each: called with every result in this process as it arrives (progress counts).

        Raises:
            ExecutorError: a task's worker died on every attempt (nothing is silently lost).
        """
        tasks = list(tasks)
        size = max(1, len(tasks) // (CHUNKS_PER_WORKER * self.workers)) if self.distributed else len(tasks) or 1
        items = list(enumerate(tasks))
        chunks = [tuple(items[i : i + size]) for i in range(0, len(items), size)]
        out: list = [None] * len(tasks)
        for chunk, result, attempt in self.executor.run(_MapChunk(fn), chunks):
            if isinstance(result, WorkerLost):
                raise ExecutorError(self._flag(), f"a simulation's worker process died on each of {attempt} attempts")
            for (i, _), value in zip(chunk, result, strict=True):
                out[i] = value
                if each is not None:
                    each(value)
        return out

    def _flag(self) -> str:
        return "--dask" if isinstance(self.executor, DaskExecutor) else "--workers"

    def describe(self) -> str:
        if isinstance(self.executor, DaskExecutor):
            return f"Dask cluster at {self.address} ({self.workers} cores)"
        return f"{self.workers} local process{'es' if self.workers > 1 else ''}"

    def close(self) -> None:
        self.executor.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def abc_sampler(pool: Pool, counter: SimCounter | None = None):
    """The pyABC sampler that runs on ``pool``.

    In this process (``workers = 1``) it is pyABC's ``SingleCoreSampler``, drawing
    from numpy's global generator as seeded by the job. Otherwise it is a
    :class:`SeededMappingSampler` whose ``map`` is :meth:`Pool.map`: pyABC's
    ``MappingSampler`` semantics (each task samples until it has one accepted
    particle), with seeds drawn from the job's generator, so ``--workers N`` and
    ``--dask ...`` give the same generations.

    With ``counter``, simulations and accepted particles are counted into it
    (the progress bar reads it): one by one in this process, per finished
    sampling task otherwise.
    """
    from pyabc.sampler import SingleCoreSampler

    if pool.distributed:
        return _make_seeded_mapping_sampler()(pool, counter)
    return SingleCoreSampler() if counter is None else _counting(SingleCoreSampler, counter)()


def _seeded_task(simulate_one_bytes: bytes, sample_factory, seed: int):
    """One sampling task of :class:`SeededMappingSampler`, in a worker: simulate until one particle is accepted."""
    import cloudpickle

    simulate_one = cloudpickle.loads(simulate_one_bytes)
    np.random.seed(seed)  # noqa: NPY002 - pyABC proposes from numpy's global generator
    random.seed(seed)
    sample, n = sample_factory(), 0
    while True:
        particle = simulate_one()
        n += 1
        sample.append(particle)
        if particle.accepted:
            return sample, n


class _SeededTask:
    """Picklable ``seed -> (sample, simulations)`` over one pickled ``simulate_one``."""

    def __init__(self, simulate_one_bytes: bytes, sample_factory):
        self.simulate_one_bytes, self.sample_factory = simulate_one_bytes, sample_factory

    def __call__(self, seed: int):
        return _seeded_task(self.simulate_one_bytes, self.sample_factory, seed)


@functools.cache
def _make_seeded_mapping_sampler():
    from pyabc.sampler import MappingSampler

    class SeededMappingSampler(MappingSampler):
        """PyABC's ``MappingSampler`` on a :class:`Pool`, with each task seeded from this process.

        pyABC's own ``MappingSampler`` reseeds every task from the operating
        system (``np.random.seed()``), so its generations differ from run to
        run. Here task ``i`` of a generation gets the ``i``-th of ``n`` seeds
        drawn from numpy's global generator in this process (seeded per
        generation by :func:`sim.calibration.abc_smc._seeded`), and the
        accepted particles are joined in task order: the result depends on the
        job seed only, not on the executor or the number of workers. It is not
        the result of ``workers = 1`` (a single sequential sampler draws its
        proposals in another order). Like pyABC's, it ignores ``max_eval``: a
        generation always ends with ``n`` accepted particles.
        """

        def __init__(self, pool: Pool, counter: SimCounter | None = None):
            super().__init__(map_=pool.map)
            self._pool, self._counter = pool, counter
            if counter is not None:
                counter.live = True

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
            import cloudpickle

            seeds = [int(s) for s in np.random.randint(0, 2**31 - 1, size=n)]  # noqa: NPY002 - seeded by the job
            counter = self._counter
            if counter is not None:
                counter.reset()
            each = None if counter is None else (lambda result: counter.add_task(result[1]))
            task = _SeededTask(cloudpickle.dumps(simulate_one), self.sample_factory)
            results = self._pool.map(task, seeds, each=each)
            self.nr_evaluations_ = sum(n_sims for _, n_sims in results)
            sample = self._create_empty_sample()
            for part, _ in results:
                sample += part
            return sample

    return SeededMappingSampler


def __getattr__(name):  # pyABC is imported only when the sampler is needed
    if name == "SeededMappingSampler":
        return _make_seeded_mapping_sampler()
    raise AttributeError(name)


class SimCounter:
    """Simulations and accepted particles of the generation being sampled, readable from another thread.

    Attributes:
        total: simulations counted in this process over all generations (in-process samplers only).
        live: a sampler counts into it (False until one does: nothing to show).
    """

    def __init__(self):
        self.total, self.live = 0, False
        self.reset()

    def reset(self) -> None:
        """Start a generation."""
        self._sims, self._acc = 0, 0

    def add(self, accepted: bool) -> None:
        """One simulation in this process."""
        self._sims += 1
        self._acc += int(bool(accepted))

    def add_task(self, simulations: int) -> None:
        """A finished sampling task of a parallel sampler: ``simulations`` runs, one of them accepted."""
        self._sims += int(simulations)
        self._acc += 1

    def read(self) -> tuple[int, int]:
        """(simulations, accepted) of the current generation so far."""
        return int(self._sims), int(self._acc)


def _counting(base, counter: SimCounter):
    """A subclass of the in-process pyABC sampler ``base`` that counts into ``counter`` (and honours the test hook)."""
    counter.live = True

    class Counting(base):
        def sample_until_n_accepted(self, n, simulate_one, t, **kwargs):
            counter.reset()

            def counted():
                particle = simulate_one()
                counter.add(particle.accepted)
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
