"""Names of a batch folder's files and the atomic writes every file of it goes through.

Every file is written to a temporary name (``.<name>.<pid>.tmp``), flushed to disk
and renamed into place, so a reader sees either the whole file or nothing; a full
disk becomes a :class:`~sim.errors.StoreError` that says how to complete the batch.
"""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from sim.errors import StoreError

MANIFEST = "manifest.json"
TABLES = ("outcomes", "monthly")
LOG_KEY = b"parksim.log"
MERGED_KEY = b"parksim.merged_parts"
COMPACT = "compact-"
ROW_GROUP_ROWS = 16_384  # rows per row group of a merged file (bounds the merge's buffers)
MERGE_GROUP = 256  # parts merged by one DuckDB query
PART_COMPRESSION = "snappy"  # parts are short-lived (merged at the end, with zstd): fast to write matters more
DEFAULT_ROOT = "results/runs"
MONTHLY_ROWS_KEY = b"parksim.monthly_rows"  # rows of the part's monthly file (0: it has none)


def now_iso() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- atomic writes
def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _disk_error(path: Path, exc: OSError) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    else:
        why = f"the write failed ({exc.strerror or exc})"
    batch = path.parent.parent if path.parent.name in (*TABLES, "quarantine") else path.parent
    return StoreError(
        path,
        f"{why}; nothing already written was lost. Free some space, then complete the batch with "
        f"'parksim resume {batch.name} --root {batch.parent}'",
    )


def atomic_write(path: Path, write) -> None:
    """Write ``path`` via ``write(tmp_path)``, then flush and rename it into place.

    Raises:
        StoreError: the write failed (for example a full disk); the temporary file is
            removed and any earlier version of ``path`` is left untouched.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _disk_error(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json(path: Path, data: dict) -> None:
    """Write a JSON document atomically."""
    text = json.dumps(data, indent=1, sort_keys=False, default=_json_default)
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_parquet(path: Path, table, compression: str = "zstd") -> None:
    """Write a pyarrow table to Parquet atomically."""
    import pyarrow.parquet as pq

    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression=compression))
