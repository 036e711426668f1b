"""The Parquet parts of a batch: which count, how they are read, scanned for run status and merged.

A part is one finished chunk: ``monthly/<part>.parquet`` written first, then
``outcomes/<part>.parquet``, which commits it. A part counts only when its
outcomes file exists, its monthly file holds the rows its footer promises, and
no merged ``compact-*`` file lists it (see ``docs/results_format.md``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sim.errors import StoreError
from sim.store.files import (
    COMPACT,
    LOG_KEY,
    MERGE_GROUP,
    MERGED_KEY,
    MONTHLY_ROWS_KEY,
    ROW_GROUP_ROWS,
    _fsync_dir,
    atomic_write,
    write_parquet,
)


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
