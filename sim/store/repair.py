"""Repairs of a batch folder, made by ``parksim resume`` while it holds the writer lock.

What a killed writer leaves (temporary files, uncommitted monthly parts, a merge
half done), damaged or incomplete parts (moved to ``quarantine/``, never deleted;
their runs are run again) and runs stored twice by two writers at once (one copy
kept, deterministically). See ``docs/results_format.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sim.errors import StoreError
from sim.store.files import COMPACT, LOG_KEY, MONTHLY_ROWS_KEY, write_parquet
from sim.store.parts import delete_parts, expected_monthly_rows, merged_parts, part_files


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
            merged = merged_parts(folder, [path])
        except StoreError:
            done.append(quarantine(folder, path.name))
            continue
        left = [n for n in merged if (folder / "outcomes" / n).exists() or (folder / "monthly" / n).exists()]
        if left:
            delete_parts(folder, left)
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
        delete_parts(folder, [name])
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
    return f"moved part {name} (damaged or incomplete) to quarantine/; runs found nowhere else will be run again"
