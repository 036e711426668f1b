"""The batch manifest as a typed object: read and checked once, changed through methods, written whole.

``manifest.json`` (``docs/results_format.md``) is read into a :class:`Manifest`
by :meth:`Manifest.from_json`, which names the file and the key of anything
missing or of the wrong type, and written back by :meth:`Manifest.to_json`
(through :func:`sim.store.write_json`, atomically). Every change a writer makes
(a run's result, a session opened or closed, a CPU signature, the status) goes
through a method, so the four modules that write a batch agree on its shape.

Keys this module does not know (``base_scenario``, ``sensitivity``, or entries of
a newer parksim of the same format version) are kept and written back as they
were; so are the key order of a manifest read from disk and the absence of the
optional entries of older manifests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sim.errors import StoreError

FORMAT_NAME = "parksim-results"
FORMAT_VERSION = 1
RUN_DETAILS = ("seconds", "attempt", "worker", "error", "traceback")  # what a run's result adds to its entry


def _check(path, data: dict, key: str, types, where: str = "") -> Any:
    """``data[key]`` when it has one of ``types``; otherwise a StoreError naming the file and the key."""
    name = f"{where}{key}"
    if key not in data:
        raise StoreError(path, "missing entry; the manifest is incomplete", name)
    value = data[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise StoreError(path, f"must be {_type_names(types)}, not {value!r}", name)
    if not isinstance(value, types):
        raise StoreError(path, f"must be {_type_names(types)}, not {type(value).__name__} {value!r:.60}", name)
    return value


def _optional(path, data: dict, key: str, types, where: str = "") -> Any:
    """``data[key]`` (None when absent or null) when it has one of ``types``."""
    if data.get(key) is None:
        return None
    return _check(path, data, key, types, where)


TYPE_NAMES = {int: "a whole number", float: "a number", str: "text", list: "a list", dict: "an object"}


def _object(data, path, where: str) -> None:
    """Raise a StoreError naming the entry when an entry of a list (``runs[3].``) is not an object."""
    if not isinstance(data, dict):
        raise StoreError(path, f"must be an object, not {data!r:.60}", where.rstrip("."))


def _type_names(types) -> str:
    return " or ".join(TYPE_NAMES.get(t, t.__name__) for t in (types if isinstance(types, tuple) else (types,)))


def _in_order(data: dict, order: list[str]) -> dict:
    """``data`` with the keys of ``order`` first, in that order (the order of the file read), then the others."""
    if not order:
        return data
    ordered = {k: data[k] for k in order if k in data}
    return ordered | {k: v for k, v in data.items() if k not in ordered}


RUN_REQUIRED = {"run": int, "scenario": str, "replicate": int, "status": str}
RUN_OPTIONAL = {"spawn_key": str, "attempt": int, "seconds": (int, float)}
RUN_FIELDS = frozenset({*RUN_REQUIRED, *RUN_OPTIONAL, "worker", "error", "traceback"})


@dataclass
class RunRecord:
    """The manifest's entry for one run (``runs[k]``)."""

    run: int
    scenario: str
    replicate: int
    status: str = "pending"  # pending, ok, failed
    spawn_key: str | None = None
    seconds: float | None = None
    attempt: int | None = None
    worker: str | None = None
    error: str | None = None
    traceback: str | None = None
    extra: dict = field(default_factory=dict)  # keys of other parksim versions, kept as they were

    def apply(self, info: dict) -> None:
        """Record a run's result: its status and, where known, time, attempt, worker, error, traceback."""
        self.status = info["status"]
        for key in RUN_DETAILS:
            setattr(self, key, info.get(key))

    @classmethod
    def from_json(cls, data, path, where: str) -> RunRecord:
        """Check one entry of ``runs`` (cheaply when it is well formed: a batch can have a million runs)."""
        try:
            record = cls(data["run"], data["scenario"], data["replicate"], data["status"], data.get("spawn_key"))
            record.seconds, record.attempt = data.get("seconds"), data.get("attempt")
            record.worker, record.error, record.traceback = data.get("worker"), data.get("error"), data.get("traceback")
        except (KeyError, TypeError, AttributeError):
            record = None
        if (
            record is None
            or type(record.run) is not int
            or type(record.scenario) is not str
            or type(record.replicate) is not int
            or type(record.status) is not str
            or not (record.spawn_key is None or type(record.spawn_key) is str)
            or not (record.attempt is None or type(record.attempt) is int)
            or not (record.seconds is None or type(record.seconds) in (int, float))
        ):
            cls._explain(data, path, where)
        unknown = data.keys() - RUN_FIELDS
        if unknown:
            record.extra = {k: v for k, v in data.items() if k in unknown}
        return record

    @staticmethod
    def _explain(data, path, where: str) -> None:
        """Raise the StoreError that names what is wrong with a malformed entry of ``runs``."""
        _object(data, path, where)
        for key, types in RUN_REQUIRED.items():
            _check(path, data, key, types, where)
        for key, types in RUN_OPTIONAL.items():
            _optional(path, data, key, types, where)
        raise StoreError(path, "malformed entry", where.rstrip("."))  # not reached: one of the checks fails

    def to_json(self) -> dict:
        data = {"run": self.run, "scenario": self.scenario, "replicate": self.replicate}
        if self.spawn_key is not None:
            data["spawn_key"] = self.spawn_key
        data["status"] = self.status
        data.update({k: getattr(self, k) for k in RUN_DETAILS if getattr(self, k) is not None})
        data.update(self.extra)
        return data


@dataclass
class Session:
    """One invocation that computed runs of the batch (the first run, then each resume)."""

    started: str | None
    command: str | None = None
    executor: dict = field(default_factory=dict)  # what the executor describes: kind, workers, restarts, ...
    writer: dict | None = None
    code_commit: str | None = None
    environment: dict | None = None
    runs_planned: int | None = None
    runs_done: int = 0
    wall_seconds: float | None = None
    chunks: int | None = None
    largest_chunk: int | None = None
    finished: str | None = None
    parts_merged: int | None = None

    key_order: list[str] = field(default_factory=list, repr=False)  # of the manifest it was read from

    LATER = ("writer", "code_commit", "environment", "runs_planned", "runs_done", "chunks", "largest_chunk")
    LAST = ("finished", "wall_seconds", "parts_merged")

    @classmethod
    def from_json(cls, data, path, where: str) -> Session:
        _object(data, path, where)
        typed = {"started", "command", *cls.LATER, *cls.LAST}
        values = {k: data[k] for k in typed if k in data}
        values["runs_done"] = _optional(path, data, "runs_done", int, where) or 0
        values.setdefault("started", None)
        executor = {k: v for k, v in data.items() if k not in typed}
        return cls(**values, executor=executor, key_order=list(data))

    def to_json(self) -> dict:
        data = {"started": self.started, "command": self.command, **self.executor}
        data.update({k: getattr(self, k) for k in (*self.LATER, *self.LAST) if getattr(self, k) is not None})
        return _in_order(data, self.key_order)


@dataclass
class Manifest:
    """What a batch asked for and what happened (``manifest.json``; see ``docs/results_format.md``).

    Attributes:
        runs: one :class:`RunRecord` per planned run, indexed by run number.
        sessions: one :class:`Session` per invocation.
        extra: entries of other modules (a sweep's ``base_scenario``, a study's
            ``sensitivity``) and of other parksim versions, written back unchanged.
    """

    id: str
    seed: int
    reps: int
    scenarios: list[dict]
    runs: list[RunRecord]
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    status: str | None = None
    created: str | None = None
    updated: str | None = None
    finished: str | None = None
    command: str | None = None
    code: dict | None = None
    environment: dict | None = None
    cpu_signatures: list[str] = field(default_factory=list)
    writer: dict | None = None
    replicates: list[dict] | None = None
    input_columns: list[str] = field(default_factory=list)
    tables: dict | None = None
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    design: dict | None = None
    extra: dict = field(default_factory=dict)
    key_order: list[str] = field(default_factory=list, repr=False)  # of the file it was read from

    ALWAYS = ("finished", "command")  # written as null when unset (batches made from Python have no command)

    # ------------------------------------------------------------ reading and writing
    @classmethod
    def from_json(cls, data, path: str | Path = "manifest.json") -> Manifest:
        """Check a manifest read from ``path`` and build the typed object.

        Raises:
            StoreError: another format, a newer format version, or a missing entry or
                an entry of the wrong type (names the file and the key).
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise StoreError(path, f"not a parksim results manifest (expected format '{FORMAT_NAME}')", "format")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
            raise StoreError(
                path, f"results format version {version!r} is not supported (this parksim reads 1..{FORMAT_VERSION})"
            )
        for key in ("id", "seed", "reps", "scenarios", "runs"):
            if key not in data:
                raise StoreError(path, "missing entry; the manifest is incomplete", key)
        runs = _check(path, data, "runs", list)
        sessions = _optional(path, data, "sessions", list) or []
        values = {
            "id": _check(path, data, "id", str),
            "seed": _check(path, data, "seed", int),
            "reps": _check(path, data, "reps", int),
            "scenarios": _check(path, data, "scenarios", list),
            "runs": [RunRecord.from_json(r, path, f"runs[{i}].") for i, r in enumerate(runs)],
            "format_version": version,
            "sessions": [Session.from_json(s, path, f"sessions[{i}].") for i, s in enumerate(sessions)],
        }
        for i, scenario in enumerate(values["scenarios"]):
            if not isinstance(scenario, dict) or not isinstance(scenario.get("name"), str):
                raise StoreError(path, "each scenario must be an object with a 'name'", f"scenarios[{i}].name")
        for key, types in (("status", str), ("created", str), ("updated", str), ("finished", str), ("code", dict),
                           ("environment", dict), ("writer", dict), ("replicates", list), ("tables", dict),
                           ("design", dict), ("command", str)):  # fmt: skip
            values[key] = _optional(path, data, key, types)
        for key in ("cpu_signatures", "input_columns", "failures"):
            values[key] = _optional(path, data, key, list) or []
        for key in ("counts", "timings"):
            values[key] = _optional(path, data, key, dict) or {}
        known = {f.name for f in fields(cls)} - {"extra", "key_order"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra, key_order=list(data))

    def to_json(self) -> dict:
        """The manifest as JSON data: the key order of the file it was read from, new keys last."""
        data = {"format": self.format, "format_version": self.format_version, "id": self.id}
        for key in ("status", "created", "updated", "finished", "command", "code", "environment"):
            self._put(data, key, getattr(self, key))
        data["cpu_signatures"] = list(self.cpu_signatures)
        for key in ("writer", "seed", "reps", "replicates", "scenarios", "input_columns", "tables", "counts"):
            self._put(data, key, getattr(self, key))
        data.update(timings=self.timings, sessions=[s.to_json() for s in self.sessions], failures=self.failures)
        data["runs"] = [r.to_json() for r in self.runs]
        self._put(data, "design", self.design)
        data.update(self.extra)
        return _in_order(data, self.key_order)

    def _put(self, data: dict, key: str, value) -> None:
        if value is not None or key in self.ALWAYS or key in self.key_order:
            data[key] = value

    # ------------------------------------------------------------ changes
    def apply_run(self, run: int, info: dict) -> None:
        """Record the result of ``run`` (``info``: status and, where known, seconds, attempt, worker, error)."""
        self.runs[run].apply(info)

    def refresh_counts(self) -> None:
        """Recompute counts, failures and timings from the per-run entries."""
        ok = sum(r.status == "ok" for r in self.runs)
        failed = [r for r in self.runs if r.status == "failed"]
        self.counts = {"planned": len(self.runs), "ok": ok, "failed": len(failed)}
        self.counts["pending"] = len(self.runs) - ok - len(failed)
        by_name = {s["name"]: s for s in self.scenarios}
        self.failures = [self._failure(r, by_name[r.scenario]) for r in failed]
        run_s = sum(r.seconds or 0.0 for r in self.runs)
        wall_s = sum(s.wall_seconds or 0.0 for s in self.sessions)
        self.timings = {
            "wall_seconds": round(wall_s, 3),
            "run_seconds": round(run_s, 3),
            "runs_per_second": round((ok + len(failed)) / wall_s, 3) if wall_s else None,
        }

    def _failure(self, r: RunRecord, scenario: dict) -> dict:
        return {
            "run": r.run,
            "scenario": r.scenario,
            "replicate": r.replicate,
            "seed": self.seed,
            "spawn_key": r.spawn_key,
            "error": r.error,
            "traceback": r.traceback,
            "overrides": {k: scenario["inputs"][k] for k in scenario["overrides"]},
        }

    def open_session(self, session: Session) -> None:
        """Start a session: the batch is running, written by the session's writer."""
        self.sessions.append(session)
        self.status, self.writer, self.finished = "running", session.writer, None

    def note_cpu_signature(self, signature: str | None) -> bool:
        """Record the CPU signature of a process that computed runs; True when it is a new one."""
        if not signature or signature in self.cpu_signatures:
            return False
        self.cpu_signatures.append(signature)
        return True

    def mark(self, status: str) -> None:
        """Set the status: created, running, complete, complete-with-failures, incomplete, interrupted, error."""
        self.status = status

    def final_status(self) -> str:
        """Status of a session that ran to its end, from the counts."""
        if self.counts["pending"]:
            return "incomplete"
        return "complete" if self.counts["failed"] == 0 else "complete-with-failures"
