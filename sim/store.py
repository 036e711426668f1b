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

One writer per batch: every writer (``run_batch``, ``resume_batch``) holds an
exclusive ``fcntl.flock`` on ``writer.lock`` for its whole session, taken before
it reads anything (:class:`BatchLock`); a second writer fails at once with a
:class:`~sim.errors.StoreError` naming the holder. The operating system drops
the lock when the holder dies, however it dies.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sim.errors import NotABatch, StoreError

FORMAT_NAME = "parksim-results"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES = ("outcomes", "monthly")
LOG_KEY = b"parksim.log"
MERGED_KEY = b"parksim.merged_parts"
COMPACT = "compact-"
ROW_GROUP_ROWS = 16_384  # rows per row group of a merged file (bounds the merge's buffers)
MERGE_GROUP = 256  # parts merged by one DuckDB query
PART_COMPRESSION = "snappy"  # parts are short-lived (merged at the end, with zstd): fast to write matters more
DEFAULT_ROOT = "results/runs"
LOCK = "writer.lock"
LOCK_TRIES = 10  # tries, 20 ms apart, to take the writer lock (outlasts any reader's probe, never a writer)
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


# ---------------------------------------------------------------- code version
def code_version() -> dict:
    """Package and library versions, plus the git commit of the source tree when there is one."""
    import mesa
    import numpy
    import pandas

    import sim

    root = Path(sim.__file__).resolve().parent.parent
    info = {
        "package": "parksim",
        "version": sim.__version__,
        "git_commit": None,
        "git_dirty": None,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "mesa": mesa.__version__,
    }
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if head.returncode == 0:
            info["git_commit"] = head.stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "--", "sim", "scenarios"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=5,
            )
            info["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def writer_identity() -> dict:
    """Host and process of the writer (lets readers tell a live batch from a dead one)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


# ---------------------------------------------------------------- one writer per batch
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


# ---------------------------------------------------------------- folders
def resolve_folder(folder_or_id: str | Path, root: str | Path = DEFAULT_ROOT) -> Path:
    """Map a batch id or a folder path to the batch folder.

    Raises:
        StoreError: no such folder, or the folder has no manifest.
    """
    given = Path(folder_or_id)
    candidates = [given] if given.is_dir() else [Path(root) / str(folder_or_id)]
    folder = candidates[0]
    if not folder.is_dir():
        known = ", ".join(b.name for b in sorted(Path(root).glob("*"))[-5:] if b.is_dir()) or "none"
        raise NotABatch(folder, f"no such results folder (batch ids under {root}: {known}; see 'parksim runs')")
    if not (folder / MANIFEST).is_file():
        raise NotABatch(folder / MANIFEST, "missing: this is not a parksim results folder, or its manifest was deleted")
    return folder


def read_manifest(folder: Path) -> dict:
    """Read and check a batch manifest.

    Raises:
        StoreError: unreadable JSON, another format, or a newer format version.
    """
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotABatch(path, "missing: this is not a parksim results folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(path, f"corrupt manifest ({exc}); the Parquet parts beside it are intact") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise StoreError(path, f"not a parksim results manifest (expected format '{FORMAT_NAME}')", "format")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoreError(
            path, f"results format version {version!r} is not supported (this parksim reads 1..{FORMAT_VERSION})"
        )
    for key in ("id", "seed", "reps", "scenarios", "runs"):
        if key not in data:
            raise StoreError(path, "missing entry; the manifest is incomplete", key)
    return data


def part_files(folder: Path, table: str) -> list[Path]:
    """Committed part files of one table, sorted by name.

    A part counts only when its outcomes file exists, and not when a committed
    compacted file lists it as merged (see :func:`compact_parts`).
    """
    outcomes = _unmerged(folder)
    broken = _broken(folder, outcomes)
    outcomes = [p for p in outcomes if p.name not in broken]
    if table == "outcomes":
        return outcomes
    return [p for p in (folder / table / o.name for o in outcomes) if p.is_file()]


def _unmerged(folder: Path) -> list[Path]:
    outcomes = sorted((folder / "outcomes").glob("*.parquet"))
    merged = _merged_parts(folder, outcomes)
    return [p for p in outcomes if p.name not in merged]


def broken_parts(folder: Path) -> dict[str, str]:
    """Parts that do not count, with the reason (what ``parksim show`` and ``parksim runs`` report).

    A part whose runs have monthly rows needs its monthly file; when that file was
    deleted, the part's runs are missing (readers skip the part, ``parksim resume``
    moves its outcomes file to ``quarantine/`` and runs its runs again). A monthly
    file without its outcomes file (deleted, or never committed by a killed
    writer) is reported too; ``parksim resume`` removes it and reruns its runs.
    """
    unmerged = _unmerged(folder)
    problems = _broken(folder, unmerged)
    merged = {p.name for p in (folder / "outcomes").glob("*.parquet")}
    for path in sorted((folder / "monthly").glob("*.parquet")):
        if path.name not in merged:
            problems[path.name] = f"outcomes/{path.name} is missing (lost, or never committed); its runs are pending"
    return problems


def _broken(folder: Path, outcome_files: list[Path]) -> dict[str, str]:
    broken = {}
    for path in outcome_files:
        if (folder / "monthly" / path.name).is_file():
            continue
        rows = expected_monthly_rows(folder, path)
        if rows != 0:
            lost = f"{rows} monthly rows" if rows else "the monthly rows"
            broken[path.name] = f"monthly/{path.name} is missing ({lost} of its runs are lost)"
    return broken


def expected_monthly_rows(folder: Path, path: Path) -> int | None:
    """Rows the monthly file of outcomes part ``path`` must hold (from its footer; older parts: ok runs, if any).

    Returns:
        The number of rows, or None for an older part that has ok runs (rows unknown, but more than 0).
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        if MONTHLY_ROWS_KEY in meta:
            return int(meta[MONTHLY_ROWS_KEY])
        status = pq.read_table(path, columns=["status"]).column("status")
    except Exception as exc:  # noqa: BLE001 - any read failure means the file is damaged
        raise _damaged(folder, path, exc) from None
    return None if pc.any(pc.equal(status, "ok")).as_py() else 0


def _merged_parts(folder: Path, outcome_files: list[Path]) -> set[str]:
    import pyarrow.parquet as pq

    names: set[str] = set()
    for path in outcome_files:
        if path.name.startswith(COMPACT):
            try:
                names.update(json.loads((pq.read_schema(path).metadata or {}).get(MERGED_KEY, b"[]")))
            except Exception as exc:  # noqa: BLE001 - any read failure means the file is damaged
                raise _damaged(folder, path, exc) from None
    return names


def compact_parts(folder: Path, delete: bool = True) -> int:
    """Merge the committed parts of a batch into one file per table (fewer, larger files read faster).

    Crash-safe like every write: the merged monthly file is written first, then the
    merged outcomes file whose footer lists the parts it replaces (from then on
    readers skip those), then the replaced parts are deleted; ``clean_folder``
    finishes a deletion a crash interrupted. DuckDB streams the monthly parts into
    the merged file, so memory stays bounded however large the batch.

    Returns:
        The number of parts merged (0 when there was nothing to merge).
    """
    import pyarrow.parquet as pq

    parts = part_files(folder, "outcomes")
    if len(parts) < 2:
        return 0
    name = f"{COMPACT}{len(list((folder / 'outcomes').glob(COMPACT + '*'))):03d}.parquet"
    monthly = [folder / "monthly" / p.name for p in parts if (folder / "monthly" / p.name).exists()]
    if monthly:
        atomic_write(folder / "monthly" / name, lambda tmp: _duckdb_merge(monthly, tmp))
    schema = pq.read_schema(parts[0]).remove_metadata()
    outcomes = _duckdb_merge(parts, None).cast(schema).sort_by("run")
    logs = [entry for p in parts for entry in read_log(p)]
    rows = pq.read_metadata(folder / "monthly" / name).num_rows if monthly else 0
    meta = {
        LOG_KEY: json.dumps(logs).encode(),
        MERGED_KEY: json.dumps([p.name for p in parts]).encode(),
        MONTHLY_ROWS_KEY: str(rows).encode(),
    }
    write_parquet(folder / "outcomes" / name, outcomes.replace_schema_metadata(meta))
    if delete:
        _delete_parts(folder, [p.name for p in parts])
    return len(parts)


def _duckdb_merge(files: list[Path], target: Path | None):
    """Union of Parquet files: streamed into ``target`` (row groups of ROW_GROUP_ROWS), or returned as a table.

    DuckDB keeps some metadata of every file of a query until it ends (about 45 kB
    a file), so more than MERGE_GROUP files are merged in two stages through
    temporary files: memory stays bounded however many parts a batch has.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads TO 1")  # streams file by file: half the peak memory of the default, and faster
        if target is None:
            return con.sql(
                "SELECT * FROM read_parquet($files)", params={"files": [str(f) for f in files]}
            ).to_arrow_table()
        stages = []
        try:
            if len(files) > MERGE_GROUP:
                for k in range(0, len(files), MERGE_GROUP):
                    stages.append(target.parent / f".stage-{os.getpid()}-{k // MERGE_GROUP:05d}.tmp")
                    _copy(con, files[k : k + MERGE_GROUP], stages[-1])
            _copy(con, stages or files, target)
        finally:
            for stage in stages:
                stage.unlink(missing_ok=True)
        return None
    finally:
        con.close()


def _copy(con, files: list[Path], target: Path) -> None:
    where = str(target).replace("'", "''")
    con.execute(
        f"COPY (SELECT * FROM read_parquet($files)) TO '{where}' "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})",
        {"files": [str(f) for f in files]},
    )


def _delete_parts(folder: Path, names) -> None:
    for table in ("outcomes", "monthly"):  # outcomes first: a part stops counting before its data goes
        for name in names:
            (folder / table / name).unlink(missing_ok=True)
    _fsync_dir(folder / "outcomes")


def clean_folder(folder: Path) -> list[str]:
    """Repair what a killed writer (or a lost file) can leave behind; return what was done.

    Removes temporary files and monthly parts without their outcomes part
    (uncommitted, so re-run), finishes an interrupted merge, moves unreadable parts
    and parts whose monthly file was lost into ``quarantine/`` (their runs are run
    again) and keeps one copy of runs stored twice (:func:`dedup_runs`). Call it
    only while holding the batch's :class:`BatchLock`.
    """
    done = []
    for tmp in folder.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        done.append(f"removed temporary file {tmp.name}")
    for path in sorted((folder / "outcomes").glob(f"{COMPACT}*.parquet")):
        try:
            merged = _merged_parts(folder, [path])
        except StoreError:
            done.append(quarantine(folder, path.name))
            continue
        left = [n for n in merged if (folder / "outcomes" / n).exists() or (folder / "monthly" / n).exists()]
        if left:
            _delete_parts(folder, left)
            done.append(f"removed {len(left)} parts already merged into {path.name}")
    committed = {p.name for p in (folder / "outcomes").glob("*.parquet")}
    for part in (folder / "monthly").glob("*.parquet"):
        if part.name not in committed:
            part.unlink()
            done.append(f"removed uncommitted part monthly/{part.name}")
    for name in sorted(committed):
        problem = _part_problem(folder, name)
        if problem:
            done.append(f"{problem}: " + quarantine(folder, name))
    return done + dedup_runs(folder)


def _part_problem(folder: Path, name: str) -> str | None:
    """Why part ``name`` cannot count (unreadable, monthly file lost or short), or None."""
    import pyarrow.parquet as pq

    outcomes, monthly = folder / "outcomes" / name, folder / "monthly" / name
    try:
        pq.read_table(outcomes, columns=["run"])
        expected = expected_monthly_rows(folder, outcomes)
        rows = pq.read_metadata(monthly).num_rows if monthly.exists() else 0
    except Exception:  # noqa: BLE001 - any read failure means the file is damaged
        return f"part {name} is damaged"
    if not monthly.exists() and expected != 0:
        return f"part {name} lost its monthly file"
    if expected is not None and rows != expected:
        return f"part {name} has {rows} monthly rows, not {expected}"
    return None


def dedup_runs(folder: Path) -> list[str]:
    """Keep one copy of each run stored more than once (two writers on one batch, before the lock existed).

    Deterministic: the copy kept is the first in part-name order (then row order).
    Copies that are identical (outcomes row and monthly rows) lose all but that one;
    a run whose copies differ loses every copy and is run again. Affected parts are
    rewritten (monthly file first, then the outcomes file, each atomically; a crash
    in between leaves a part whose monthly row count disagrees with its footer,
    which the next :func:`clean_folder` quarantines).
    """
    import pyarrow.parquet as pq

    parts = part_files(folder, "outcomes")
    runs_of = {p.name: pq.read_table(p, columns=["run"]).column("run").to_pylist() for p in parts}
    seen: dict[int, int] = {}
    for runs in runs_of.values():
        for run in runs:
            seen[run] = seen.get(run, 0) + 1
    dup = {run for run, n in seen.items() if n > 1}
    if not dup:
        return []
    copies: dict[int, list] = {}  # run -> [(part, row index, outcomes row, monthly rows)]
    tables = {}
    for path in parts:
        if dup.isdisjoint(runs_of[path.name]):
            continue
        tables[path.name] = table = _part_tables(folder, path)
        for run, found in _copies_in(table, dup).items():
            copies.setdefault(run, []).extend((path.name, *c) for c in found)
    differ = {run for run, found in copies.items() if any(not _same(found[0][2:], c[2:]) for c in found[1:])}
    keep = {run: found[0][:2] for run, found in copies.items() if run not in differ}
    for name, (outcomes, monthly) in tables.items():
        _rewrite_part(folder, name, outcomes, monthly, dup, keep)
    done = [f"kept one copy each of {len(keep)} runs stored more than once (identical copies): {sorted(keep)[:10]}"]
    if differ:
        done.append(f"runs {sorted(differ)} were stored more than once with different values; all copies removed")
    return done + ["runs found nowhere else will be run again"]


def _part_tables(folder: Path, path: Path):
    import pyarrow.parquet as pq

    monthly = folder / "monthly" / path.name
    return pq.read_table(path), (pq.read_table(monthly) if monthly.exists() else None)


def _copies_in(tables, dup: set[int]) -> dict[int, list]:
    """Per duplicated run in one part: (row index, outcomes row, monthly rows) of each copy."""
    outcomes, monthly = tables
    runs = outcomes.column("run").to_pylist()
    mruns = monthly.column("run").to_pylist() if monthly is not None else []
    found: dict[int, list] = {}
    for run in dup.intersection(runs):
        rows = [i for i, r in enumerate(runs) if r == run]
        mrows = [i for i, r in enumerate(mruns) if r == run]
        size = len(mrows) // len(rows)
        blocks = [mrows[j * size : (j + 1) * size] for j in range(len(rows))]
        if size * len(rows) != len(mrows):  # uneven: the copies cannot be told apart, so they differ
            blocks = [mrows] + [[]] * (len(rows) - 1)
        found[run] = [
            (i, outcomes.slice(i, 1).to_pylist()[0], monthly.take(b).to_pylist() if b else [])
            for i, b in zip(rows, blocks, strict=True)
        ]
    return found


def _same(a, b) -> bool:
    """Equal values, NaN equal to NaN (rows as dicts, or lists and tuples of them)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def _rewrite_part(folder: Path, name: str, outcomes, monthly, dup: set[int], keep: dict) -> None:
    """Write part ``name`` again without the copies of duplicated runs that are not kept."""
    runs = outcomes.column("run").to_pylist()
    rows = [i for i, r in enumerate(runs) if r not in dup or keep.get(r) == (name, i)]
    if not rows:
        _delete_parts(folder, [name])
        return
    kept_runs = {runs[i] for i in rows}
    meta = dict(outcomes.schema.metadata or {})
    mrows = []
    if monthly is not None:
        mruns = monthly.column("run").to_pylist()
        first: dict[int, int] = {}  # a kept duplicated run keeps its first block of monthly rows
        for j, r in enumerate(mruns):
            if r in kept_runs and r in dup:
                first.setdefault(r, j)
        months = {r: sum(1 for x in mruns if x == r) // runs.count(r) for r in first}
        mrows = [j for j, r in enumerate(mruns) if r in kept_runs and (r not in dup or j < first[r] + months[r])]
        write_parquet(folder / "monthly" / name, monthly.take(mrows).replace_schema_metadata(None))
    log, logged = [], set()
    for entry in json.loads(meta.get(LOG_KEY, b"[]")):
        if entry.get("run") in kept_runs and entry["run"] not in logged:
            log.append(entry)
            logged.add(entry["run"])
    meta.update({LOG_KEY: json.dumps(log).encode(), MONTHLY_ROWS_KEY: str(len(mrows)).encode()})
    write_parquet(folder / "outcomes" / name, outcomes.take(rows).replace_schema_metadata(meta))


def quarantine(folder: Path, name: str) -> str:
    """Move both files of part ``name`` into ``quarantine/`` (kept, not deleted; its runs are run again)."""
    target = folder / "quarantine"
    target.mkdir(exist_ok=True)
    for table in ("outcomes", "monthly"):  # outcomes first: the part stops counting at once
        path = folder / table / name
        if path.exists():
            os.replace(path, target / f"{table}-{name}")
    return f"moved part {name} (damaged or a duplicate) to quarantine/; runs found nowhere else will be run again"


def read_log(path: Path) -> list[dict]:
    """The per-run log stored in a part's Parquet footer."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(LOG_KEY)
    return json.loads(raw) if raw else []


def read_table(folder: Path, table: str, columns: list[str] | None = None):
    """Read one table of a batch (all committed parts) as a pyarrow Table sorted by run.

    Raises:
        StoreError: a part file is damaged (names it and says how to repair).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = part_files(folder, table)
    if not files:
        return None
    try:
        data = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns)
    except (OSError, pa.ArrowInvalid) as exc:
        raise _damaged(folder, _first_bad_part(files) or folder / table, exc) from None
    keys = [("run", "ascending")] + ([("date", "ascending")] if table == "monthly" else [])
    if columns is None or all(k in columns for k, _ in keys):
        data = data.sort_by(keys)
    return data.replace_schema_metadata(None)


def _first_bad_part(files: list[Path]) -> Path | None:
    import pyarrow.parquet as pq

    for f in files:
        try:
            pq.read_table(f)
        except Exception:  # noqa: BLE001
            return f
    return None


def scan_runs(folder: Path) -> dict[int, dict]:
    """Status of every committed run, from the part files (the authority after a crash).

    Returns:
        run -> {"status", "error", "seconds", "attempt", "worker", "traceback", "part"}.

    Raises:
        StoreError: a damaged part.
    """
    import pyarrow.parquet as pq

    runs: dict[int, dict] = {}
    for path in part_files(folder, "outcomes"):
        monthly = folder / "monthly" / path.name
        try:
            cols = pq.read_table(path, columns=["run", "status", "error"]).to_pydict()
            log = {entry["run"]: entry for entry in read_log(path)}
        except Exception as exc:  # noqa: BLE001 - any read failure means the file is damaged
            raise _damaged(folder, path, exc) from None
        try:
            rows = pq.read_metadata(monthly).num_rows if monthly.exists() else 0
        except Exception as exc:  # noqa: BLE001
            raise _damaged(folder, monthly, exc) from None
        expected = (pq.read_schema(path).metadata or {}).get(MONTHLY_ROWS_KEY)
        if expected is not None and int(expected) != rows:
            raise _damaged(folder, monthly, ValueError(f"{rows} rows, the part's outcomes file says {int(expected)}"))
        for run, status, error in zip(cols["run"], cols["status"], cols["error"], strict=True):
            if run in runs:
                raise StoreError(
                    path,
                    f"run {run} is also stored in part {runs[run]['part']} (two writers on one batch); "
                    f"'parksim resume {folder.name} --root {folder.parent}' keeps one copy of each run "
                    "and runs what is missing",
                )
            entry = {"status": status, "error": error, "part": path.name}
            entry.update({k: v for k, v in log.get(run, {}).items() if k != "run"})
            runs[int(run)] = entry
    return runs


def _damaged(folder: Path, path: Path, exc: Exception) -> StoreError:
    return StoreError(
        path,
        f"damaged Parquet file ({exc}). Run 'parksim resume {folder.name} --root {folder.parent}' "
        "to move it to quarantine/ and run its runs again",
    )


def pid_alive(info: dict) -> bool:
    """Whether the writer recorded in ``info`` still runs (only decidable on the same host)."""
    if info.get("host") != socket.gethostname() or not info.get("pid"):
        return False
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_status(manifest: dict, n_done: int, n_failed: int, folder: Path | None = None) -> str:
    """Status from the manifest and the parts: running, interrupted, complete, ...

    A batch recorded as running is running while its writer lock is held (any host
    that shares the folder); batches from before the lock fall back to the writer's pid.
    """
    planned = len(manifest["runs"])
    recorded = manifest.get("status", "unknown")
    if n_done >= planned:
        return "complete" if n_failed == 0 else "complete-with-failures"
    if recorded == "running":
        if folder is not None and (Path(folder) / LOCK).exists():
            return "running" if lock_holder(folder) is not None else "interrupted"
        return "running" if pid_alive(manifest.get("writer", {})) else "interrupted"
    return recorded if recorded in ("interrupted", "error") else "incomplete"


def list_batches(root: str | Path = DEFAULT_ROOT) -> list[dict]:
    """One summary dict per batch folder under ``root`` (damaged folders included, marked)."""
    import pyarrow.parquet as pq

    rows = []
    for folder in sorted(p for p in Path(root).glob("*") if p.is_dir()):
        row = {"id": folder.name, "folder": str(folder)}
        try:
            manifest = read_manifest(folder)
        except StoreError as exc:
            row.update(status="damaged", problem=str(exc))
            rows.append(row)
            continue
        done = failed = 0
        problems = []
        try:
            problems = [f"{name}: {why}" for name, why in broken_parts(folder).items()]
            parts = part_files(folder, "outcomes")
        except StoreError as exc:
            problems, parts = [str(exc)], []
        for part in parts:
            try:
                done += pq.read_metadata(part).num_rows
                failed += sum(1 for e in read_log(part) if e.get("status") == "failed")
            except Exception:  # noqa: BLE001
                problems.append(f"damaged part {part.name}")
        if problems:
            row["problem"] = "; ".join(problems) + f" (repair: parksim resume {folder.name})"
        row.update(
            status=current_status(manifest, done, failed, folder),
            planned=len(manifest["runs"]),
            done=done,
            failed=failed,
            scenarios=len(manifest["scenarios"]),
            reps=manifest["reps"],
            command=manifest.get("command") or "",
            created=manifest.get("created", ""),
        )
        rows.append(row)
    return rows
