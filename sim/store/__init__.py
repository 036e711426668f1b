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
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
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
    merged = merged_parts(folder, outcomes)
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


def merged_parts(folder: Path, outcome_files: list[Path]) -> set[str]:
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
        delete_parts(folder, [p.name for p in parts])
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


def delete_parts(folder: Path, names) -> None:
    for table in ("outcomes", "monthly"):  # outcomes first: a part stops counting before its data goes
        for name in names:
            (folder / table / name).unlink(missing_ok=True)
    _fsync_dir(folder / "outcomes")


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
        from sim.store.lock import LOCK, lock_holder

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
