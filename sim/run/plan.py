"""What a batch runs and what it records first: the plan (scenarios x replications) and the new manifest.

Replication ``i`` of every scenario uses ``SeedSequence(seed).spawn(reps)[i]``
(common random numbers); run ``k`` is scenario ``k // reps``, replication
``k % reps``. In a posterior batch replication ``i`` also takes posterior draw
``d_i`` (:func:`draw_indices`: from the root seed and the posterior file only, the
same for every scenario), so each replication is a (draw, seed) pair shared by
all scenarios and design points. :func:`new_manifest` turns a plan into the typed manifest of a new
batch (:class:`sim.store.manifest.Manifest`), every run pending.
"""

from __future__ import annotations

import os
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

from sim import environment, store
from sim.model.scenario import Scenario, ScenarioError, load_fitted
from sim.run.executors import monthly_schema, outcomes_schema
from sim.run.runner import replicate_seeds
from sim.store.manifest import Manifest, RunRecord

RunTask = namedtuple("RunTask", "run scenario replicate seed")


# ---------------------------------------------------------------- the plan
class Plan:
    """What a batch runs: scenarios x replications, with input columns for the outcomes table."""

    def __init__(
        self, scenarios: list[Scenario], reps: int, seed: int, input_columns: list[str], posterior: dict | None = None
    ):
        self.scenarios, self.reps, self.seed = list(scenarios), int(reps), int(seed)
        self.input_columns = list(input_columns)
        self.seeds = replicate_seeds(self.seed, self.reps)
        self.posterior = posterior  # see posterior_record; None: every run at its scenario's point

    @classmethod
    def build(cls, scenarios, reps, seed, design_inputs=(), posterior=False, seeds_per_draw=1) -> Plan:
        """Check the arguments of a batch and choose the input columns.

        With ``posterior``, replication ``i`` of every scenario also gets posterior draw ``d_i``
        (:func:`draw_indices`) of its fitted parameters (:func:`posterior_record`).

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
        record = posterior_record(scenarios, reps, seed, seeds_per_draw, design_inputs) if posterior else None
        return cls(scenarios, reps, seed, columns, record)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> Plan:
        """Rebuild the plan of a stored batch (for resume)."""
        scenarios = [Scenario.from_dict(d) for d in manifest.scenarios]
        return cls(scenarios, manifest.reps, manifest.seed, manifest.input_columns, manifest.extra.get("posterior"))

    @property
    def n_runs(self) -> int:
        return len(self.scenarios) * self.reps

    def task(self, run: int) -> RunTask:
        return RunTask(run, self.scenario_of(run), run % self.reps, self.seeds[run % self.reps])

    def draw_of(self, run: int) -> int | None:
        """The posterior draw index of run ``run``; None when it runs at its point."""
        if self.posterior is None:
            return None
        source = self.posterior["scenarios"][self.scenarios[run // self.reps].name]["source"]
        return None if source is None else self.posterior["sources"][source]["draws"][run % self.reps]

    def scenario_of(self, run: int) -> Scenario:
        """The scenario run ``run`` computes: its scenario, with its posterior draw when it has one."""
        scenario = self.scenarios[run // self.reps]
        draw = self.draw_of(run)
        if draw is None:
            return scenario
        entry = self.posterior["scenarios"][scenario.name]
        values = self.posterior["sources"][entry["source"]]["values"][str(draw)]
        return scenario.with_values(**{k: values[k] for k in entry["params"]}) if entry["params"] else scenario

    def spawn_key(self, run: int) -> str:
        return ",".join(str(k) for k in self.seeds[run % self.reps].spawn_key)

    def run_entries(self) -> list[RunRecord]:
        records = [
            RunRecord(k, self.scenarios[k // self.reps].name, k % self.reps, spawn_key=self.spawn_key(k))
            for k in range(self.n_runs)
        ]
        if self.posterior is not None:
            for record in records:
                draw = self.draw_of(record.run)
                if draw is not None:
                    record.extra["draw"] = draw
        return records


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
        extra=extra | ({"posterior": plan.posterior} if plan.posterior is not None else {}),
    )
    manifest.refresh_counts()
    return manifest


# keys of the manifest that ``extra_manifest`` may not set (``design`` it may: a sweep's design)
RESERVED = frozenset(
    {"format", "format_version", "id", "status", "created", "updated", "finished", "command", "code"}
    | {"environment", "cpu_signatures", "writer", "seed", "reps", "replicates", "scenarios", "input_columns"}
    | {"tables", "counts", "timings", "sessions", "failures", "runs", "posterior"}
)


# ---------------------------------------------------------------- parameter uncertainty (issue 12 item 5)
POSTERIOR_FILE = "posterior_draws.csv"  # next to a job's params.toml (sim.calibration.fitted)
DRAW_TAG = 0x64726177  # "draw": mixed with the root seed so that draw choice and replicate seeds are independent


def fitted_file(scenario: Scenario) -> Path | None:
    """The ``fitted_params`` file a scenario's file (or its nearest base) names; None when none does.

    A scenario built in code without a file (``path == ""``) has none.
    """
    from sim import resources
    from sim.schema import read_toml

    if not scenario.path:
        return None
    path, seen = Path(scenario.path), set()
    while path is not None and path.resolve() not in seen:
        seen.add(path.resolve())
        data = read_toml(path, ScenarioError)
        if "fitted_params" in data:
            return resources.find(data["fitted_params"], "fitted", path, "fitted_params")
        path = resources.find(data["base"], "scenario", path, "base") if "base" in data else None
    return None


def posterior_of(scenario: Scenario) -> tuple[Path | None, Path | None, str]:
    """The posterior draws file of ``scenario``, its fitted point file and, when there are no draws, why."""
    fitted = fitted_file(scenario)
    if fitted is None:
        return None, None, "names no fitted_params: it runs at its point values"
    draws = fitted.parent / POSTERIOR_FILE
    if not draws.is_file():
        why = f"its fitted parameters have no posterior draws ({draws} is missing): it runs at the fitted point"
        return None, fitted, why
    return draws, fitted, ""


def draw_indices(seed: int, reps: int, n_draws: int, seeds_per_draw: int = 1) -> list[int]:
    """The posterior draw of each replication: group ``i // seeds_per_draw`` gets an independent uniform draw.

    Drawn with replacement from the equal-weight draws by a generator seeded from ``(DRAW_TAG, seed)`` only,
    so every scenario and design point of a batch gets the same draw for replication ``i`` (paired), and
    each group is an independent draw of the (empirical) posterior.
    """
    groups = -(-reps // seeds_per_draw)
    rng = np.random.default_rng([DRAW_TAG, int(seed)])
    chosen = rng.integers(0, n_draws, size=groups)
    return [int(chosen[i // seeds_per_draw]) for i in range(reps)]


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def posterior_record(scenarios, reps: int, seed: int, seeds_per_draw: int, design_inputs=()) -> dict:
    """What the manifest keeps of a posterior batch: per file the draws used, per scenario what is drawn.

    ``sources[file]``: ``sha256``, ``n_draws``, ``draws`` (the draw index of each replication) and
    ``values`` (the parameter values of each draw used, by index, so a run can be redone without the file).
    ``scenarios[name]``: ``source`` (a file of ``sources``, or None and ``note``), ``params`` (drawn)
    and ``kept`` (posterior parameters the scenario or design sets, which keep its value).

    Raises:
        ScenarioError: a posterior file without draws, or with columns that are not declared uncertainties.
    """
    from sim.model.params import PARAMS

    if isinstance(seeds_per_draw, bool) or not isinstance(seeds_per_draw, (int, np.integer)) or seeds_per_draw < 1:
        raise ScenarioError("run_batch", "seeds_per_draw", f"must be a whole number >= 1, got {seeds_per_draw!r}")
    sources, per_scenario, tables = {}, {}, {}
    for sc in scenarios:
        path, fitted, note = posterior_of(sc)
        if path is None:
            per_scenario[sc.name] = {"source": None, "note": note, "params": [], "kept": []}
            continue
        key = str(path)
        if key not in tables:
            import pandas as pd

            table = pd.read_csv(path)
            bad = [c for c in table.columns if c not in PARAMS or PARAMS[c].kind != "uncertainty"]
            if table.empty or bad:
                why = f"columns {bad} are not declared uncertainties" if bad else "it holds no draws"
                raise ScenarioError(path, "columns", f"cannot sample this posterior: {why}")
            tables[key] = table
            draws = draw_indices(seed, reps, len(table), seeds_per_draw)
            values = {str(i): {c: float(table.iloc[i][c]) for c in table.columns} for i in sorted(set(draws))}
            sources[key] = {"sha256": _sha256(path), "n_draws": len(table), "draws": draws, "values": values}
        point = load_fitted(fitted)
        drawn, kept = [], []
        for name in tables[key].columns:
            carries_point = name in point and sc[name] == point[name]
            (drawn if carries_point and name not in design_inputs else kept).append(name)
        per_scenario[sc.name] = {"source": key, "note": "", "params": drawn, "kept": kept}
    return {"mode": "posterior", "seeds_per_draw": int(seeds_per_draw), "sources": sources, "scenarios": per_scenario}
