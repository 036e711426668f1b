"""Where a running batch puts its finished chunks: a batch folder, or memory.

:class:`FolderSink` writes each chunk as one Parquet part (monthly file first,
then the outcomes file that commits it; see :mod:`sim.store` and
``docs/results_format.md``) from a background thread, so that encoding and
``fsync`` overlap with the next runs. :class:`MemorySink` keeps the tables in
memory for ``run_batch(..., out_root=None)``.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.store.files import (
    LOG_KEY,
    MANIFEST,
    MONTHLY_ROWS_KEY,
    PART_COMPRESSION,
    TABLES,
    now_iso,
    write_json,
    write_parquet,
)
from sim.store.manifest import Manifest


class MemorySink:
    """Keeps the tables in memory (``out_root=None``: tests and notebooks)."""

    folder = None

    def __init__(self):
        self.outcomes, self.monthly = [], []

    def write(self, outcomes, monthly, log) -> None:
        self.outcomes.append(outcomes)
        if monthly is not None:
            self.monthly.append(monthly)

    def save_manifest(self, manifest: Manifest) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class FolderSink:
    """Writes each finished chunk as one Parquet part of the batch folder.

    Writing (Parquet encoding and ``fsync``) happens in a background thread so
    that it overlaps with the next runs; at most ``QUEUED_PARTS`` parts wait.
    :meth:`flush` (called before every manifest write, and when a session ends,
    also after Ctrl-C) waits until everything handed over is on disk. A write
    error is raised once, by the next :meth:`write` or :meth:`flush`; later
    parts are dropped, so the folder only ever holds whole parts.
    """

    QUEUED_PARTS = 2

    def __init__(self, folder: Path, session: int, compact: bool = True):
        import queue
        import threading

        self.folder, self.session, self.seq, self.compact = folder, session, 0, compact
        for table in TABLES:
            (folder / table).mkdir(parents=True, exist_ok=True)
        self._queue = queue.Queue(maxsize=self.QUEUED_PARTS)
        self._error: BaseException | None = None
        self._failed = False
        self._thread = threading.Thread(target=self._loop, name="parksim-writer", daemon=True)
        self._thread.start()

    def write(self, outcomes, monthly, log) -> None:
        self._raise()
        name = f"s{self.session:02d}-{self.seq:06d}.parquet"
        self.seq += 1
        self._queue.put((name, outcomes, monthly, log))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if not self._failed:
                    self._write_part(*item)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self._error, self._failed = exc, True
            finally:
                self._queue.task_done()

    def _write_part(self, name, outcomes, monthly, log) -> None:
        if monthly is not None:
            write_parquet(self.folder / "monthly" / name, monthly, PART_COMPRESSION)
        rows = 0 if monthly is None else monthly.num_rows
        meta = {LOG_KEY: json.dumps(log).encode(), MONTHLY_ROWS_KEY: str(rows).encode()}
        write_parquet(self.folder / "outcomes" / name, outcomes.replace_schema_metadata(meta), PART_COMPRESSION)

    def _raise(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def flush(self) -> None:
        """Wait until every part handed over is written; raise a write error."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._queue.join()
        self._queue.put(None)
        self._thread.join()

    def save_manifest(self, manifest: Manifest) -> None:
        """Write the manifest (atomically) once every part handed over is on disk."""
        self.flush()
        manifest.updated = now_iso()
        write_json(self.folder / MANIFEST, manifest.to_json())
