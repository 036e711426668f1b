"""One session of a batch: cut the runs into chunks, run them, store the parts, keep the manifest.

:func:`execute_session` is shared by :func:`sim.run.batch.run_batch` (session 0) and
:func:`sim.run.batch.resume_batch` (each later session). The manifest
(:class:`sim.store.manifest.Manifest`) keeps one entry per run and counts derived from them;
it is rewritten every ``MANIFEST_EVERY_S`` seconds and when the session ends,
but after a crash the parts, not the manifest, say which runs are done.

Test hooks (environment variables; tests use them to stop a batch at a
deterministic point instead of racing it with timers):

* ``PARKSIM_INTERRUPT_AFTER_RUN=k``: once the session has written ``k`` runs
  (their parts are on disk), raise ``KeyboardInterrupt`` as Ctrl-C would.
* ``PARKSIM_KILL_AFTER_RUN=k``: once the session has written ``k`` runs, kill this
  process with SIGKILL (a crash: no cleanup, no manifest update).

Both count the runs of the current session, in the order chunks come back; with
one run per chunk (``chunk_size=1``) exactly ``k`` runs are stored.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from functools import partial

from sim import environment, store
from sim.errors import InputError
from sim.run.executors import WorkerLost, chunk_tables, lost_chunk, run_chunk
from sim.store import StoreError
from sim.store.manifest import Manifest, Session

MANIFEST_EVERY_S = 10.0
CHUNK_TARGET_S = 0.5  # aim for chunks of about this much work: see Chunker
MAX_CHUNK = 256
INTERRUPT_AFTER = "PARKSIM_INTERRUPT_AFTER_RUN"  # test hook: see the module docstring
KILL_AFTER = "PARKSIM_KILL_AFTER_RUN"  # test hook: see the module docstring


def _hook_limits() -> dict[str, int]:
    """The test hooks set in the environment: variable -> number of runs."""
    limits = {}
    for name in (INTERRUPT_AFTER, KILL_AFTER):
        text = os.environ.get(name, "").strip()
        if text:
            if not text.isdigit():
                raise InputError(name, None, f"must be a whole number of runs, got {text!r}")
            limits[name] = int(text)
    return limits


def _run_hooks(limits: dict[str, int], written: int, sink) -> None:
    """Stop the session the way a test asked for, once ``written`` runs are on disk."""
    if not any(written >= k for k in limits.values()):
        return
    sink.flush()
    if written >= limits.get(KILL_AFTER, written + 1):
        os.kill(os.getpid(), signal.SIGKILL)
    raise KeyboardInterrupt(f"{INTERRUPT_AFTER}={limits[INTERRUPT_AFTER]}")


class Chunker:
    """Cuts the runs to do into chunks sized by how long runs take.

    Every chunk costs a fixed overhead (a round trip to a worker, one Parquet part
    of two files with ``fsync``; about 5 ms), and a killed batch loses the runs
    of the chunks in flight. So the first chunk of each worker holds one run;
    after that a chunk holds about ``target_s`` of work at the mean run time seen
    so far (one run for long runs, many for short ones: the overhead stays near
    1% and a kill costs at most about ``target_s`` per worker), and never more than
    a quarter of the remaining runs per worker, so that the workers finish
    together. A fixed ``size`` turns this off.
    """

    def __init__(self, plan, runs: list[int], workers: int, size: int | None = None, target_s=CHUNK_TARGET_S):
        self.plan, self.runs, self.workers, self.size, self.target_s = plan, runs, max(1, workers), size, target_s
        self.run_seconds, self.runs_timed, self.sizes = 0.0, 0, []

    def observe(self, result: dict) -> None:
        """Learn run times from a chunk that came back."""
        for run in result.get("runs", ()):
            if run.get("status") == "ok" and run.get("seconds"):
                self.run_seconds += run["seconds"]
                self.runs_timed += 1

    def next_size(self, remaining: int) -> int:
        """Runs in the next chunk when ``remaining`` runs are left to hand out."""
        if self.size:
            return self.size
        if not self.runs_timed:
            return 1
        by_time = round(self.target_s / max(self.run_seconds / self.runs_timed, 1e-6))
        by_balance = math.ceil(remaining / (4 * self.workers))
        return max(1, min(MAX_CHUNK, by_time, by_balance))

    def __iter__(self):
        i = 0
        while i < len(self.runs):
            size = self.next_size(len(self.runs) - i)
            self.sizes.append(size)
            yield tuple(self.plan.task(k) for k in self.runs[i : i + size])
            i += size


def _note_signature(manifest: Manifest, signature: str | None) -> None:
    """Keep the distinct CPU signatures of the processes that computed runs; warn when a batch mixes them."""
    if manifest.note_cpu_signature(signature) and len(manifest.cpu_signatures) > 1:
        print(
            f"parksim: warning: batch {manifest.id} mixes CPU signatures ({'; '.join(manifest.cpu_signatures)}); "
            "numpy's SIMD kernels differ between them, so its runs may differ in the last digits from runs on one "
            "machine",
            file=sys.stderr,
        )


def _warn_retried(log, attempt, result) -> None:
    runs = [entry["run"] for entry in log]
    shown = ", ".join(map(str, runs[:10])) + (", ..." if len(runs) > 10 else "")
    how = "lost on every attempt" if result.get("worker") is None else f"done on attempt {attempt}"
    print(f"parksim: warning: a worker died while running run(s) {shown}; {how}", file=sys.stderr)


def execute_session(plan, manifest, sink, executor, todo, *, progress, run_fn, chunk_size, command):
    """Run ``todo`` (run numbers of ``plan``) as one session of the batch: chunks out, parts and manifest in."""
    from tqdm import tqdm

    session = Session(
        started=store.now_iso(),
        command=command,
        executor=executor.describe(),
        writer=store.writer_identity(),
        code_commit=store.code_version()["git_commit"],
        environment=environment.describe(),
        runs_planned=len(todo),
    )
    manifest.open_session(session)
    sink.save_manifest(manifest)
    limits = _hook_limits()
    chunker = Chunker(plan, todo, executor.workers, chunk_size)
    fn = partial(run_chunk, run_fn=run_fn) if run_fn else run_chunk
    t0 = last = time.perf_counter()
    bar = tqdm(total=plan.n_runs, initial=plan.n_runs - len(todo), unit="run", file=sys.stderr, disable=not progress)
    status = "interrupted"
    try:
        for chunk, result, attempt in executor.run(fn, chunker):
            if isinstance(result, WorkerLost):
                result = lost_chunk(chunk, result)
            chunker.observe(result)
            outcomes, monthly, log = chunk_tables(plan, result)
            for entry in log:  # in the part's footer too, so that it survives a crash
                entry["attempt"] = attempt
            sink.write(outcomes, monthly, log)
            for entry, run in zip(log, result["runs"], strict=True):
                manifest.apply_run(entry["run"], {**entry, "attempt": attempt, "error": run["error"]})
            if attempt > 1:
                _warn_retried(log, attempt, result)
            _note_signature(manifest, result.get("cpu"))
            session.runs_done += len(log)
            bar.update(len(log))
            _run_hooks(limits, session.runs_done, sink)
            if time.perf_counter() - last > MANIFEST_EVERY_S:
                session.wall_seconds = round(time.perf_counter() - t0, 3)
                manifest.refresh_counts()
                sink.save_manifest(manifest)
                last = time.perf_counter()
        status = None
    except StoreError:
        status = "error"
        raise
    finally:
        bar.close()
        session.executor.update(executor.describe())  # e.g. pool restarts after lost workers
        session.chunks, session.largest_chunk = len(chunker.sizes), max(chunker.sizes, default=0)
        close_session(manifest, session, sink, status, time.perf_counter() - t0)


def close_session(manifest: Manifest, session: Session | None, sink, status, wall_s) -> None:
    """Wait for the writer, record how the session ended, save the manifest, stop the writer.

    ``session`` is None when a resume found nothing to run (no session is recorded).
    """
    error = None
    try:
        sink.flush()
    except StoreError as exc:
        status, error = "error", exc
    if status == "error" and sink.folder is not None:  # parts dropped after a failed write are not done
        done = store.scan_runs(sink.folder)
        for entry in manifest.runs:
            if entry.run not in done:
                entry.apply({"status": "pending"})
    if session is not None:
        session.finished, session.wall_seconds = store.now_iso(), round(wall_s, 3)
    manifest.refresh_counts()
    if status is None:
        status = manifest.final_status()
        manifest.finished = store.now_iso()
        if getattr(sink, "compact", False):
            try:
                merged = store.compact_parts(sink.folder)
            except StoreError as exc:
                print(f"parksim: warning: parts not merged ({exc}); they stay as they are", file=sys.stderr)
            else:
                if session is not None:
                    session.parts_merged = merged
    manifest.mark(status)
    try:
        sink.save_manifest(manifest)
    except StoreError:
        if status != "error":
            raise
    finally:
        sink.close()
    if error is not None:
        raise error
