"""Run chunks on Dask: an existing ``dask scheduler`` (``tcp://HOST:PORT``) or a ``LocalCluster`` (``local:N``).

The scheduler re-runs tasks of dead workers itself
(``distributed.scheduler.allowed-failures`` times); the attempt that finished a
chunk is read back from the scheduler (its ``suspicious`` count). Before any
work the executor checks that the scheduler answers within a timeout and that
the workers run the same parksim. :func:`parse_dask_address` imports nothing
heavy (the command line checks ``--dask`` with it while parsing).
"""

from __future__ import annotations

import os

from sim.errors import ExecutorError, InputError
from sim.run.executor import Executor, WorkerLost

DASK_CONNECT_TIMEOUT_S = 5.0  # how long to try to reach a scheduler; env PARKSIM_DASK_TIMEOUT_S overrides


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

    return {"version": sim.__version__, "columns": _columns()}


def _columns() -> list[list[str]]:
    """The outcome and reporter columns this code produces (imported late: the model is heavy)."""
    from sim.run.chunks import outcome_columns, reporter_columns

    return [outcome_columns(), reporter_columns()]


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
        if probe["columns"] != _columns():
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
