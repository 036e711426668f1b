"""What a batch runs and what it records first: the plan (scenarios x replications) and the new manifest.

Replication ``i`` of every scenario uses ``SeedSequence(seed).spawn(reps)[i]``
(common random numbers); run ``k`` is scenario ``k // reps``, replication
``k % reps``. :func:`new_manifest` turns a plan into the typed manifest of a new
batch (:class:`sim.store.manifest.Manifest`), every run pending.
"""

from __future__ import annotations

import os
import time
from collections import namedtuple

import numpy as np

from sim import environment, store
from sim.model.scenario import Scenario, ScenarioError
from sim.run.executors import monthly_schema, outcomes_schema
from sim.run.runner import replicate_seeds
from sim.store.manifest import Manifest, RunRecord

RunTask = namedtuple("RunTask", "run scenario replicate seed")


# ---------------------------------------------------------------- the plan
class Plan:
    """What a batch runs: scenarios x replications, with input columns for the outcomes table."""

    def __init__(self, scenarios: list[Scenario], reps: int, seed: int, input_columns: list[str]):
        self.scenarios, self.reps, self.seed = list(scenarios), int(reps), int(seed)
        self.input_columns = list(input_columns)
        self.seeds = replicate_seeds(self.seed, self.reps)

    @classmethod
    def build(cls, scenarios, reps, seed, design_inputs=()) -> Plan:
        """Check the arguments of a batch and choose the input columns.

        Raises:
            ScenarioError: no scenarios, duplicate names, bad reps or seed.
        """
        scenarios = list(scenarios)
        if not scenarios or not all(isinstance(s, Scenario) for s in scenarios):
            raise ScenarioError("run_batch", "scenarios", "needs a non-empty list of Scenario objects")
        names = [s.name for s in scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ScenarioError("run_batch", "scenarios", f"scenario names must be unique; repeated: {dupes}")
        if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
            raise ScenarioError("run_batch", "reps", f"must be a whole number >= 1, got {reps!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
            raise ScenarioError("run_batch", "seed", f"must be a whole number in [0, 2**63), got {seed!r}")
        varying = [k for k, _ in scenarios[0].inputs if len({s[k] for s in scenarios}) > 1]
        columns = list(dict.fromkeys([*design_inputs, *varying]))
        return cls(scenarios, reps, seed, columns)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> Plan:
        """Rebuild the plan of a stored batch (for resume)."""
        scenarios = [Scenario.from_dict(d) for d in manifest.scenarios]
        return cls(scenarios, manifest.reps, manifest.seed, manifest.input_columns)

    @property
    def n_runs(self) -> int:
        return len(self.scenarios) * self.reps

    def task(self, run: int) -> RunTask:
        return RunTask(run, self.scenarios[run // self.reps], run % self.reps, self.seeds[run % self.reps])

    def spawn_key(self, run: int) -> str:
        return ",".join(str(k) for k in self.seeds[run % self.reps].spawn_key)

    def run_entries(self) -> list[RunRecord]:
        return [
            RunRecord(k, self.scenarios[k // self.reps].name, k % self.reps, spawn_key=self.spawn_key(k))
            for k in range(self.n_runs)
        ]


# ---------------------------------------------------------------- manifest
def new_batch_id(salt: str = "") -> str:
    """Timestamp plus a short hash, e.g. ``20261127-183512-ab12cd``."""
    import hashlib

    salt = f"{salt}{time.time_ns()}{os.getpid()}"
    return time.strftime("%Y%m%d-%H%M%S") + "-" + hashlib.sha1(salt.encode()).hexdigest()[:6]


def new_manifest(plan: Plan, batch_id: str, command: str | None, extra: dict) -> Manifest:
    """The manifest of a new batch (runs all pending).

    Raises:
        ScenarioError: ``extra`` uses a key the manifest reserves.
    """
    clash = sorted(set(extra) & RESERVED)
    if clash:
        raise ScenarioError("run_batch", "extra_manifest", f"keys {clash} are reserved by the manifest")
    extra = dict(extra)
    manifest = Manifest(
        id=batch_id,
        status="created",
        created=store.now_iso(),
        updated=store.now_iso(),
        command=command,
        code=store.code_version(),
        environment=environment.describe(),
        writer=store.writer_identity(),
        seed=plan.seed,
        reps=plan.reps,
        replicates=[
            {"replicate": i, "entropy": plan.seed, "spawn_key": list(s.spawn_key)} for i, s in enumerate(plan.seeds)
        ],
        scenarios=[s.to_dict() for s in plan.scenarios],
        input_columns=plan.input_columns,
        tables={
            "outcomes": {"folder": "outcomes", "sort": ["run"], "columns": outcomes_schema(plan.input_columns).names},
            "monthly": {"folder": "monthly", "sort": ["run", "date"], "columns": monthly_schema().names},
        },
        runs=plan.run_entries(),
        design=extra.pop("design", None),
        extra=extra,
    )
    manifest.refresh_counts()
    return manifest


# keys of the manifest that ``extra_manifest`` may not set (``design`` it may: a sweep's design)
RESERVED = frozenset(
    {"format", "format_version", "id", "status", "created", "updated", "finished", "command", "code"}
    | {"environment", "cpu_signatures", "writer", "seed", "reps", "replicates", "scenarios", "input_columns"}
    | {"tables", "counts", "timings", "sessions", "failures", "runs"}
)
