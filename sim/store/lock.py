"""One writer per batch: an operating-system lock on ``<batch>/writer.lock``.

Every process that writes a batch (``run_batch``, ``resume_batch``) holds an
exclusive ``fcntl.flock`` on the file for its whole session, taken before it
reads anything; a second writer fails at once with a
:class:`~sim.errors.StoreError` that names the batch and the holder. The
operating system drops the lock when the holder ends, however it ends.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sim.errors import StoreError
from sim.store.files import now_iso
from sim.store.folder import writer_identity

LOCK = "writer.lock"
LOCK_TRIES = 10  # tries, 20 ms apart, to take the writer lock (outlasts any reader's probe, never a writer)


class BatchLock:
    """An exclusive operating-system lock on ``<folder>/writer.lock``, held by the one writer of a batch.

    ``fcntl.flock`` locks belong to the open file, so the lock is released when the
    holder closes it or dies (even by ``kill -9``): a stale lock cannot exist. The
    holder's host, pid and start time are written into the file so that a second
    writer can say who holds it. The file itself is never deleted (deleting a lock
    file lets two processes lock two different files).

    Raises:
        StoreError: another process holds the lock (names the batch and the holder).
    """

    def __init__(self, folder: Path):
        self.folder, self.fd = Path(folder), None

    def acquire(self) -> BatchLock:
        import fcntl

        path = self.folder / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(path, f"cannot open the batch's lock file: {exc.strerror or exc}") from None
        if not _try_lock(fd, fcntl.LOCK_EX):
            holder = _read_holder(fd)
            os.close(fd)
            raise StoreError(
                self.folder,
                f"batch {self.folder.name} is being written by {_describe_holder(holder)}; only one process may "
                "write a batch at a time. Wait for it to finish (or stop it), then run "
                f"'parksim resume {self.folder.name} --root {self.folder.parent}' if it is incomplete",
            ) from None
        info = json.dumps({**writer_identity(), "since": now_iso()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self) -> BatchLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _try_lock(fd: int, kind: int, tries: int = LOCK_TRIES) -> bool:
    """Take a flock without blocking, retrying briefly (a reader's :func:`lock_holder` probe lasts microseconds)."""
    import fcntl

    for attempt in range(tries):
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except OSError:
            if attempt + 1 < tries:
                time.sleep(0.02)
    return False


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _describe_holder(holder: dict) -> str:
    if not holder.get("pid"):
        return "another process"
    return f"process {holder['pid']} on {holder.get('host', '?')} (since {holder.get('since', '?')})"


def lock_holder(folder: Path) -> dict | None:
    """Who holds the batch's writer lock now: ``{"host", "pid", "since"}``, or None when nobody does."""
    import fcntl

    try:
        fd = os.open(Path(folder) / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(fd, fcntl.LOCK_SH, tries=1):
            return None
        return _read_holder(fd) or {"pid": None}
    finally:
        os.close(fd)  # also drops the shared lock at once
