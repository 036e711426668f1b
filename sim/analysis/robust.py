"""Cheapest lever packages that reach a target, found by robust optimisation (issue 12 item 6).

For one target under one definition, :func:`search` runs EMA Workbench's
``robust_optimize`` (an epsilon-NSGA-II from platypus-opt) over the scenario's
levers with two robustness objectives:

* minimise the planned cost of the package (m yuan,
  :func:`sim.model.costs.package_cost_myuan`: declarations only, no simulation);
* maximise P(reach): the share of a fixed set of shared combinations in which
  the target's measured value is >= its goal.

The shared combinations are ``deep x reps``: ``deep`` Latin-hypercube points
of the exposed uncertainties (the declared uncertainties and deep
uncertainties that the posterior does not cover; :func:`sim.ema.ema_model`)
times ``reps`` replications, each a (posterior draw, seed) pair as
``parksim run --reps R --seed S`` makes them. Every candidate package is run on
the same combinations, so comparisons between candidates are paired.

From the Pareto front (cost vs P) :func:`choose` takes, for each threshold
(default 50% and 80%), the cheapest package whose P on the shared combinations
is at least the threshold; when none is, the target is named unreachable with
the best P found and the levers of that best package that sit at a bound of
their declared range. :func:`confirm` then reruns the chosen package with
fresh seeds (same posterior, same deep points) through
:func:`sim.run.batch.run_batch` and reports P with its Wilson interval.

EMA Workbench 3.0.0 computes a robustness function over the outcomes of the
whole batch of candidates that platypus hands it at once
(``optimization.evaluate`` indexes ``outcomes`` rather than that candidate's
rows), which gives every candidate of a generation the same scores.
:class:`PairedEvaluator` hands EMA one candidate at a time, which makes the
scores each candidate's own.

Everything is seeded: the same arguments give the same front and package
(platypus draws from Python's ``random``, seeded by ``robust_optimize``).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.ema import ScenarioFunction, ema_model, lever_names
from sim.model.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "COST",
    "P_REACH",
    "Choice",
    "ReachProbability",
    "SearchResult",
    "choose",
    "confirm",
    "full_package",
    "p_reach",
    "search",
]

COST = "planned_cost_myuan"  # objective 1 (minimise), m yuan
P_REACH = "p_reach"  # objective 2 (maximise), share of shared combinations
COST_OUTCOME = "package_cost_per_run"  # the model outcome behind COST (EMA needs distinct names)
DEFAULT_THRESHOLDS = (0.5, 0.8)  # the two probabilities
ALGORITHM = "EpsNSGAII (platypus-opt) via ema_workbench.robust_optimize"


def p_reach(values, goal: float) -> float:
    """Share of ``values`` (any shape) that are >= ``goal``, ignoring NaN; NaN when none is finite."""
    values = np.asarray(values, dtype=float).ravel()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan")
    return float(np.mean(finite >= goal))


class ReachProbability:
    """The P(reach) robustness function for EMA: outcome array of one package -> share reaching ``goal``.

    A class, not a closure, so parallel evaluators can pickle it.
    """

    def __init__(self, goal: float):
        self.goal = float(goal)

    def __call__(self, values) -> float:
        p = p_reach(values, self.goal)
        return 0.0 if math.isnan(p) else p


def _first(values) -> float:
    """The planned cost is the same in every combination: its first value."""
    return float(np.asarray(values, dtype=float).ravel()[0])


class CostedFunction(ScenarioFunction):
    """:class:`sim.ema.ScenarioFunction` that also returns the package's planned cost (m yuan)."""

    def __init__(self, scenario, replications, seed, posterior, outcomes, levers):
        super().__init__(scenario, replications, seed, posterior, outcomes)
        self.levers = list(levers)

    def __call__(self, replicate: int = 0, **inputs) -> dict[str, float]:
        from sim.model.costs import package_cost_myuan

        out = super().__call__(replicate, **inputs)
        package = {k: inputs[k] for k in self.levers if k in inputs}
        out[COST_OUTCOME] = package_cost_myuan(self.scenario.with_values(**package))
        return out


def _paired_evaluator_class():
    from ema_workbench import SequentialEvaluator

    class PairedEvaluator(SequentialEvaluator):
        """A sequential evaluator that hands EMA one candidate package at a time (see the module docstring)."""

        def evaluate_all(self, jobs, **kwargs):
            for job in jobs:
                super().evaluate_all([job], **kwargs)
            return jobs

    return PairedEvaluator


def __getattr__(name):  # PairedEvaluator imports EMA only when asked for
    if name == "PairedEvaluator":
        return _paired_evaluator_class()
    raise AttributeError(name)


def deep_names() -> list[str]:
    """The declared parameters of kind ``deep`` (lever effects without an empirical estimate)."""
    from sim.model.params import PARAMS

    return [k for k, p in PARAMS.items() if p.kind == "deep"]


def robust_model(scenario: Scenario, column: str, reps: int, seed: int, levers=None, uncertainties=None):
    """An EMA ReplicatorModel of ``scenario`` with outcomes ``column`` and :data:`COST_OUTCOME`.

    The exposed uncertainties default to the deep ones (:func:`deep_names`); the fitted
    parameters come from the posterior, the others stay at the scenario's values.
    """
    from ema_workbench import ArrayOutcome, ReplicatorModel

    unc = deep_names() if uncertainties is None else list(uncertainties)
    base = ema_model(scenario, replications=reps, seed=seed, posterior=True, levers=levers, uncertainties=unc,
                     outcomes=[column])  # fmt: skip
    names = [p.name for p in base.levers]
    function = CostedFunction(scenario, reps, seed, base.parksim_posterior, [column], names)
    model = ReplicatorModel(base.name, function=function)
    model.levers = list(base.levers)
    model.uncertainties = list(base.uncertainties)
    model.outcomes = [ArrayOutcome(column), ArrayOutcome(COST_OUTCOME)]
    model.replications = [{"replicate": i} for i in range(int(reps))]
    model.parksim_posterior = base.parksim_posterior
    return model


def shared_scenarios(model, n: int, seed: int) -> list:
    """``n`` Latin-hypercube points of the model's uncertainties, seeded: the deep points every candidate shares."""
    from ema_workbench import Sample
    from ema_workbench.em_framework.samplers import LHSSampler

    params = [u for u in model.uncertainties if hasattr(u, "lower_bound")]
    if not params:  # nothing to sample: n copies of the scenario's own values
        return [Sample(f"deep{i}") for i in range(max(2, n))]
    samples = list(LHSSampler().generate_samples(params, int(n), rng=np.random.default_rng(seed)))
    return [Sample(f"deep{i}", **dict(s.items())) for i, s in enumerate(samples)]


def lever_bounds(levers) -> dict[str, tuple[float, float]]:
    """Declared (low, high) of each lever."""
    from sim.model.params import PARAMS

    return {k: (float(PARAMS[k].low), float(PARAMS[k].high)) for k in levers}


def full_package(levers) -> dict[str, float]:
    """Every searched lever at the high end of its declared range (the reference "do everything" package)."""
    from sim.model.params import PARAMS

    return {k: (int(PARAMS[k].high) if PARAMS[k].integer else float(PARAMS[k].high)) for k in levers}


@dataclass
class Choice:
    """The cheapest package reaching one threshold, or why there is none.

    Attributes:
        threshold: the probability asked for.
        reachable: a package on the front reaches it on the shared combinations.
        package: lever values of the chosen package (reachable) or of the best-P package (not).
        cost_myuan: its planned cost (m yuan).
        p_shared: its P(reach) on the shared combinations.
        at_bound: levers of ``package`` at a bound of their range, ``{name: "low"|"high"}``.
        reason: why not reachable ("" when reachable).
        confirm: filled by :func:`confirm`: ``{"n", "hits", "p", "low", "high", "seed"}``.
    """

    threshold: float
    reachable: bool
    package: dict
    cost_myuan: float
    p_shared: float
    at_bound: dict = field(default_factory=dict)
    reason: str = ""
    confirm: dict | None = None

    def to_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "reachable": self.reachable,
            "package": {k: float(v) for k, v in self.package.items()},
            "cost_myuan": self.cost_myuan,
            "cost_yuan": self.cost_myuan * 1e6,
            "p_shared": self.p_shared,
            "at_bound": self.at_bound,
            "reason": self.reason,
            "confirm": self.confirm,
        }


@dataclass
class SearchResult:
    """What :func:`search` found for one target and definition.

    Attributes:
        scenario: the scenario searched (its end as searched).
        target, definition, column, goal: the target, its outcome column and its goal.
        levers: the levers searched (others stay at the scenario's values).
        front: the Pareto front, one row per package: levers, :data:`COST`, :data:`P_REACH`.
        convergence: EMA's runtime convergence table.
        deep: the shared deep points (list of dicts).
        settings: nfe, reps, deep, seed, population, epsilons.
        full_cost_myuan: planned cost of :func:`full_package`.
        choices: one :class:`Choice` per threshold.
    """

    scenario: Scenario
    target: str
    definition: str
    column: str
    goal: float
    levers: list
    front: pd.DataFrame
    convergence: pd.DataFrame
    deep: list
    settings: dict
    full_cost_myuan: float
    choices: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "end": self.scenario.end,
            "target": self.target,
            "definition": self.definition,
            "column": self.column,
            "goal": self.goal,
            "levers": self.levers,
            "settings": self.settings,
            "full_cost_myuan": self.full_cost_myuan,
            "deep": self.deep,
            "choices": [c.to_json() for c in self.choices],
        }


def _at_bound(package: dict, bounds: dict, rel: float = 0.01) -> dict:
    """Levers within ``rel`` of their range's width from a bound."""
    out = {}
    for k, v in package.items():
        low, high = bounds[k]
        width = high - low
        if width <= 0:
            continue
        if v >= high - rel * width:
            out[k] = "high"
        elif v <= low + rel * width:
            out[k] = "low"
    return out


def choose(front: pd.DataFrame, threshold: float, levers, bounds: dict | None = None, nfe: int | None = None) -> Choice:
    """The cheapest package of ``front`` with P(reach) >= ``threshold``; else the best-P package, unreachable.

    Ties in cost go to the higher P, then to the first row (the front's order is seeded).
    """
    bounds = bounds or lever_bounds(levers)
    ok = front[front[P_REACH] >= threshold - 1e-12]
    if len(ok):
        row = ok.sort_values([COST, P_REACH], ascending=[True, False], kind="stable").iloc[0]
        package = {k: row[k] for k in levers}
        return Choice(threshold, True, package, float(row[COST]), float(row[P_REACH]), _at_bound(package, bounds))
    row = front.sort_values([P_REACH, COST], ascending=[False, True], kind="stable").iloc[0]
    package = {k: row[k] for k in levers}
    bound = _at_bound(package, bounds)
    named = ", ".join(f"{k} at its {side} bound" for k, side in bound.items()) or "no lever at a bound"
    searched = f" in {nfe} evaluations" if nfe else ""
    reason = f"best P found{searched} {float(row[P_REACH]):.0%} < {threshold:.0%} within the lever ranges ({named})"
    return Choice(threshold, False, package, float(row[COST]), float(row[P_REACH]), bound, reason)


def resolve(scenario: Scenario | str, end: str | None = None) -> Scenario:
    """The scenario (a name or file in ``scenarios/``), with its end moved to ``end`` if given."""
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return base.with_values(end=end) if end else base


def search(
    scenario: Scenario | str,
    target: str,
    definition: str,
    *,
    thresholds=DEFAULT_THRESHOLDS,
    nfe: int = 200,
    reps: int = 5,
    deep: int = 4,
    seed: int = 2016,
    levers=None,
    uncertainties=None,
    population: int | None = None,
    cost_epsilon: float = 0.01,
    end: str | None = None,
    archive_dir: str | None = None,
) -> SearchResult:
    """Robust search for the cheapest packages reaching ``target`` under ``definition`` (see the module docstring).

    Args:
        scenario: a scenario or a scenario name / file.
        target: the target's name (:data:`sim.model.targets.TARGETS`).
        definition: one of its definitions.
        thresholds: probabilities for which a package is chosen.
        nfe: function evaluations (candidate packages) of the MOEA.
        reps: (posterior draw, seed) replications per deep point.
        deep: shared deep-uncertainty points (at least 2: EMA's robust search needs several scenarios).
        seed: root seed of the replications, the deep sample and the MOEA.
        levers: levers searched (default: every declared lever).
        uncertainties: uncertainties sampled at the deep points (default :func:`deep_names`).
        population: MOEA population (default: ``max(4, min(20, nfe // 5))``).
        cost_epsilon: epsilon of the cost objective as a share of the full package's cost.
        end: move the scenario's end (a shorter window runs faster; the target's year must be inside it).
        archive_dir: folder for EMA's archive tarball (the front every nfe/10 evaluations); default a
            temporary folder, removed afterwards.

    Raises:
        ScenarioError: unknown target, definition or lever; bad counts; the target's year outside the window.
    """
    from ema_workbench import Sample, ScalarOutcome
    from platypus import EpsNSGAII

    from sim.model.costs import package_cost_myuan
    from sim.model.scenario import month_index
    from sim.model.targets import TARGETS_BY_NAME, column_of

    base = resolve(scenario, end)
    if target not in TARGETS_BY_NAME:
        raise ScenarioError("search", "target", f"unknown {target!r}; allowed: {', '.join(TARGETS_BY_NAME)}")
    t = TARGETS_BY_NAME[target]
    if definition not in t.columns:
        raise ScenarioError("search", "definition", f"{definition!r} for {target}; allowed: {', '.join(t.columns)}")
    if month_index(base.end) < month_index(f"{t.year}-12"):
        raise ScenarioError("search", "end", f"{base.end} ends before {t.year}-12, the date of {target}")
    for name, value, low in (("nfe", nfe, 1), ("reps", reps, 1), ("deep", deep, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ScenarioError("search", name, f"must be a whole number >= {low}, got {value!r}")
    lever_list = lever_names() if levers is None else list(levers)
    column = column_of(target, definition)
    model = robust_model(base, column, int(reps), int(seed), lever_list, uncertainties)
    lever_list = [p.name for p in model.levers]  # constant (zero-width) levers are not searched
    points = shared_scenarios(model, int(deep), int(seed))
    deep_points = [{k: float(v) for k, v in p.items()} for p in points]  # before EMA adds levers to them
    full = full_package(lever_list)
    full_cost = package_cost_myuan(base.with_values(**full))
    n_shared = int(deep) * int(reps)
    epsilons = [max(full_cost, 1.0) * cost_epsilon, 0.5 / n_shared]
    pop = population or max(4, min(20, int(nfe) // 5))
    objectives = [
        ScalarOutcome(COST, kind=ScalarOutcome.MINIMIZE, variable_name=COST_OUTCOME, function=_first),
        ScalarOutcome(
            P_REACH, kind=ScalarOutcome.MAXIMIZE, variable_name=column, function=ReachProbability(t.threshold)
        ),
    ]
    current = {k: base.values[k] for k in lever_list}
    start = [Sample("full", **full), Sample("scenario", **current)]  # the search always knows both ends
    with tempfile.TemporaryDirectory() as scratch, _paired_evaluator_class()(model) as evaluator:
        front, convergence = evaluator.robust_optimize(
            objectives,
            points,
            algorithm=EpsNSGAII,
            nfe=int(nfe),
            rng=int(seed),
            epsilons=epsilons,
            population_size=pop,
            initial_population=start,
            convergence_freq=max(1, int(nfe) // 10),
            logging_freq=max(1, int(nfe) // 10),
            directory=archive_dir or scratch,
            filename="archives.tar.gz",
        )
    front = front.sort_values([COST, P_REACH], kind="stable").reset_index(drop=True)
    settings = {"nfe": int(nfe), "reps": int(reps), "deep": int(deep), "seed": int(seed), "population": pop,
                "epsilons": epsilons, "algorithm": ALGORITHM}  # fmt: skip
    result = SearchResult(base, target, definition, column, float(t.threshold), lever_list, front, convergence,
                          deep_points, settings, float(full_cost))  # fmt: skip
    bounds = lever_bounds(lever_list)
    result.choices = [choose(front, float(th), lever_list, bounds, int(nfe)) for th in thresholds]
    return result


def confirm(
    result: SearchResult, choice: Choice, runs: int = 200, seed: int | None = None, workers: int = 1, dask=None
) -> dict:
    """Rerun ``choice``'s package ``runs`` times with fresh seeds; fills and returns ``choice.confirm``.

    The runs are spread evenly over the search's deep points (``ceil(runs / deep)`` each, at least
    ``runs`` in all) and sample the same posterior with seed ``seed`` (default the search seed + 1,
    so none of the (draw, seed) pairs of the search is reused), through
    :func:`sim.run.batch.run_batch` (``posterior=True``, in memory).
    """
    from sim.analysis.stats import wilson_interval
    from sim.run.batch import run_batch

    seed = int(result.settings["seed"]) + 1 if seed is None else int(seed)
    points = result.deep or [{}]
    per_point = max(1, math.ceil(int(runs) / len(points)))
    package = {k: (int(round(v)) if float(v).is_integer() else float(v)) for k, v in choice.package.items()}
    scenarios = [
        result.scenario.with_values(name=f"{result.scenario.name}-deep{i}", **package, **point)
        for i, point in enumerate(points)
    ]
    batch = run_batch(scenarios, reps=per_point, seed=seed, workers=workers, dask=dask, out_root=None, progress=False,
                      posterior=True)  # fmt: skip
    table = batch.outcomes
    draws = int(table.loc[table["draw"] >= 0, "draw"].nunique()) if "draw" in table else 0  # 0: at the point
    values = table[result.column].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    hits = int((values >= result.goal).sum())
    low, high = wilson_interval(hits, len(values))
    choice.confirm = {"n": int(len(values)), "hits": hits, "p": hits / len(values) if len(values) else float("nan"),
                      "low": low, "high": high, "seed": seed, "failed": int(batch.failed), "draws": draws}  # fmt: skip
    return choice.confirm


def summary_markdown(results: list[SearchResult]) -> str:
    """A markdown summary: one table row per target, definition and threshold."""
    lines = [
        "# Cheapest robust lever packages",
        "",
        "P(shared): share of the shared (deep point x posterior draw x seed) combinations of the search that reach",
        "the goal; P(confirm): fresh runs of the chosen package (same posterior and deep points, new seeds) with",
        "its 95% Wilson interval. Cost: planned cost of the levers (sim.model.costs.package_cost_myuan).",
        "",
        "| target | definition | P asked | reachable | cost (m yuan) | P(shared) | P(confirm) [95%] | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for c in r.choices:
            conf = c.confirm
            ptxt = f"{conf['p']:.0%} [{conf['low']:.0%}, {conf['high']:.0%}] (n={conf['n']})" if conf else "-"
            below = conf is not None and conf["p"] < c.threshold
            note = c.reason if not c.reachable else ("confirmation below the asked P" if below else "")
            lines.append(
                f"| {r.target} | {r.definition} | {c.threshold:.0%} | {'yes' if c.reachable else 'no'} | "
                f"{c.cost_myuan:,.1f} | {c.p_shared:.0%} | {ptxt} | {note} |"
            )
    lines.append("")
    for r in results:
        s = r.settings
        lines += [
            f"## {r.target} ({r.definition})",
            "",
            f"Scenario {r.scenario.name} to {r.scenario.end}; goal {r.goal:g}; nfe {s['nfe']}, reps {s['reps']}, "
            f"deep points {s['deep']}, seed {s['seed']}, population {s['population']}; front of {len(r.front)} "
            f"packages; full package {r.full_cost_myuan:,.1f} m yuan.",
            "",
        ]
        for c in r.choices:
            if c.reachable:
                moved = {k: v for k, v in c.package.items() if not np.isclose(v, r.scenario.values[k])}
                lines.append(f"* P >= {c.threshold:.0%}: " + ", ".join(f"{k} = {v:.4g}" for k, v in moved.items()))
        lines.append("")
    return "\n".join(lines)
