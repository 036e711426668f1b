"""Batch folders: finding one by id, reading its manifest, telling its status, listing them all.

Also what a writer records about itself: the code version and its host and pid.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sim.errors import NotABatch, StoreError
from sim.store.files import DEFAULT_ROOT, MANIFEST
from sim.store.manifest import Manifest
from sim.store.parts import broken_parts, part_files, read_log


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


def read_json_manifest(folder: Path) -> tuple[Path, dict]:
    """The manifest file of ``folder`` and its JSON data (not yet checked)."""
    path = folder / MANIFEST
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotABatch(path, "missing: this is not a parksim results folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(path, f"corrupt manifest ({exc}); the Parquet parts beside it are intact") from None


def load_manifest(folder: Path) -> Manifest:
    """Read and check a batch manifest into the typed :class:`~sim.store.manifest.Manifest`.

    Raises:
        StoreError: unreadable JSON, another format, a newer format version, or a
            missing or bad entry (names the file and the key).
    """
    path, data = read_json_manifest(folder)
    return Manifest.from_json(data, path)


def read_manifest(folder: Path) -> dict:
    """Read and check a batch manifest, as plain JSON data (for readers; writers use :func:`load_manifest`).

    Raises:
        StoreError: as for :func:`load_manifest`.
    """
    path, data = read_json_manifest(folder)
    Manifest.from_json(data, path)
    return data


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


def current_status(manifest: Manifest | dict, n_done: int, n_failed: int, folder: Path | None = None) -> str:
    """Status from the manifest and the parts: running, interrupted, complete, ...

    A batch recorded as running is running while its writer lock is held (any host
    that shares the folder); batches from before the lock fall back to the writer's pid.
    """
    if isinstance(manifest, dict):  # the JSON data of a manifest (readers outside sim.store)
        manifest = Manifest.from_json(manifest)
    planned = len(manifest.runs)
    recorded = manifest.status or "unknown"
    if n_done >= planned:
        return "complete" if n_failed == 0 else "complete-with-failures"
    if recorded == "running":
        from sim.store.lock import LOCK, lock_holder

        if folder is not None and (Path(folder) / LOCK).exists():
            return "running" if lock_holder(folder) is not None else "interrupted"
        return "running" if pid_alive(manifest.writer or {}) else "interrupted"
    return recorded if recorded in ("interrupted", "error") else "incomplete"


def list_batches(root: str | Path = DEFAULT_ROOT) -> list[dict]:
    """One summary dict per batch folder under ``root`` (damaged folders included, marked)."""
    import pyarrow.parquet as pq

    rows = []
    for folder in sorted(p for p in Path(root).glob("*") if p.is_dir()):
        row = {"id": folder.name, "folder": str(folder)}
        try:
            manifest = load_manifest(folder)
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
            planned=len(manifest.runs),
            done=done,
            failed=failed,
            scenarios=len(manifest.scenarios),
            reps=manifest.reps,
            command=manifest.command or "",
            created=manifest.created or "",
        )
        rows.append(row)
    return rows
