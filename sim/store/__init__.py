"""The results store: one folder per batch, written so that a crash loses no finished run.

Layout of a batch folder (documented for other tools in ``docs/results_format.md``)::

    <out_root>/<id>/manifest.json          what was asked for, code version, seeds, run status
    <out_root>/<id>/outcomes/<part>.parquet one row per run (the commit record of a part)
    <out_root>/<id>/monthly/<part>.parquet  one row per run and month
    <out_root>/<id>/quarantine/             damaged files moved aside by ``parksim resume``
    <out_root>/<id>/writer.lock             locked (``fcntl.flock``) by the one process writing the batch

Every file is written to a temporary name, flushed to disk and renamed, so a
reader sees either the whole file or nothing. A part's monthly file is written
before its outcomes file; a part counts only once its outcomes file exists, so a
batch killed between the two writes simply re-runs that part on resume.
Parquet footers carry a ``parksim.log`` entry (per-run wall time, attempt,
worker, traceback) that stays out of the tables so that the tables do not depend
on the executor.

One writer per batch: every writer holds the batch's ``writer.lock``
(:mod:`sim.store.lock`) for its whole session; :mod:`sim.store.repair` mends what a
killed writer, a lost file or (before the lock) two writers left behind.

The modules, one concept each: :mod:`~sim.store.files` (file names and atomic
writes), :mod:`~sim.store.manifest` (the typed manifest), :mod:`~sim.store.parts`
(Parquet parts: which count, reading, scanning, merging), :mod:`~sim.store.folder`
(batch folders: lookup, manifest reading, status, listing), :mod:`~sim.store.sinks`
(where a running batch writes), :mod:`~sim.store.lock` and :mod:`~sim.store.repair`.
The names other packages use are re-exported here.
"""

from __future__ import annotations

from sim.errors import NotABatch, StoreError
from sim.store.files import (
    COMPACT,
    DEFAULT_ROOT,
    LOG_KEY,
    MANIFEST,
    MERGE_GROUP,
    MERGED_KEY,
    MONTHLY_ROWS_KEY,
    PART_COMPRESSION,
    ROW_GROUP_ROWS,
    TABLES,
    atomic_write,
    now_iso,
    write_json,
    write_parquet,
)
from sim.store.folder import (
    code_version,
    current_status,
    list_batches,
    load_manifest,
    pid_alive,
    read_manifest,
    resolve_folder,
    writer_identity,
)
from sim.store.manifest import FORMAT_NAME, FORMAT_VERSION, Manifest, RunRecord, Session
from sim.store.parts import (
    broken_parts,
    compact_parts,
    delete_parts,
    expected_monthly_rows,
    merged_parts,
    part_files,
    read_log,
    read_table,
    scan_runs,
)

__all__ = [
    "COMPACT",
    "DEFAULT_ROOT",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LOG_KEY",
    "MANIFEST",
    "MERGED_KEY",
    "MERGE_GROUP",
    "MONTHLY_ROWS_KEY",
    "PART_COMPRESSION",
    "ROW_GROUP_ROWS",
    "TABLES",
    "Manifest",
    "NotABatch",
    "RunRecord",
    "Session",
    "StoreError",
    "atomic_write",
    "broken_parts",
    "code_version",
    "compact_parts",
    "current_status",
    "delete_parts",
    "expected_monthly_rows",
    "list_batches",
    "load_manifest",
    "merged_parts",
    "now_iso",
    "part_files",
    "pid_alive",
    "read_log",
    "read_manifest",
    "read_table",
    "resolve_folder",
    "scan_runs",
    "write_json",
    "write_parquet",
    "writer_identity",
]
