"""A local process pool that lives for the whole batch and survives dying workers.

A worker that dies (killed, out of memory) breaks the pool; the pool is rebuilt
and the chunks that had not come back are run again, split into single runs
after a first loss so that one bad run cannot sink its neighbours. Workers die
with the main process and scripts need a main guard (:mod:`sim.run.pool_guard`).
Only a bounded number of chunks is in flight, so memory stays flat however many
runs a batch has.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque

from sim.errors import ExecutorError
from sim.run.executor import MAX_ATTEMPTS, Executor, WorkerLost
from sim.run.pool_guard import MAIN_GUARD_HELP, main_guard_problem, worker_init


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
            broke = False  # a worker died since the last wait, found by submit (under load, a real race)
            while len(flight) < 2 * self.workers:
                chunk = retry.popleft() if retry else (next(fresh, None), 1)
                if chunk[0] is None:
                    break
                try:
                    flight[self._pool.submit(fn, chunk[0])] = chunk
                except BrokenProcessPool:
                    retry.appendleft(chunk)  # it never started: the same attempt, first after the restart
                    broke = True
                    break
            if not flight and not broke:
                return
            if broke:  # what finished before the break still counts; the rest is lost with the pool
                done = [fut for fut in flight if fut.done()]
            else:
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
            if lost or broke:
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
