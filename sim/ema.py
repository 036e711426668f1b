"""An EMA Workbench model of a scenario (issue 12 item 6).

:func:`ema_model` builds an ``ema_workbench.ReplicatorModel`` (EMA Workbench
3.x: https://emaworkbench.readthedocs.io) whose

* levers are the declared levers (:data:`sim.model.params.LEVERS`) with their
  declared ranges (``IntegerParameter`` for whole-number inputs);
* uncertainties are the declared uncertainties (and any of kind ``deep``) with
  their ranges, except, when the posterior is sampled, the fitted parameters
  that the scenario's posterior draws cover (pass ``uncertainties=`` to explore
  those as deep uncertainties instead; they are then not drawn);
* outcomes are the target indicators and end indicators of every run
  (:func:`sim.run.runner.outcome_columns`), one ``ArrayOutcome`` each (a value per replication);
* replications are batch replications: replication ``i`` of every experiment
  uses the seed ``SeedSequence(seed).spawn(replications)[i]`` and, with the
  posterior, draw ``d_i`` of :func:`sim.run.plan.draw_indices`, the same
  (draw, seed) pairs as ``parksim run --reps N --seed S``, so experiments are
  paired and every result is reproducible from (experiment inputs, replicate).

EMA Workbench stores replicated outcomes as arrays of shape
``(experiments, replications)``; :func:`sim.analysis.uncertainty.deep_split`
splits their variance into deep (between experiments), parameter (between
posterior draws) and stochastic parts.

Example::

    from ema_workbench import SequentialEvaluator
    from sim.ema import ema_model

    model = ema_model("baseline", replications=10, seed=2016)
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=20, policies=4)
"""

from __future__ import annotations

import numpy as np

from sim.model.scenario import Scenario, load_scenario

__all__ = ["ScenarioFunction", "ema_model", "lever_names", "uncertainty_names"]

EXPLORED_KINDS = ("uncertainty", "deep")


def lever_names() -> list[str]:
    """The declared levers, in declaration order."""
    from sim.model.params import LEVERS

    return list(LEVERS)


def uncertainty_names() -> list[str]:
    """The declared uncertainties (kinds ``uncertainty`` and ``deep``), in declaration order."""
    from sim.model.params import PARAMS

    return [k for k, p in PARAMS.items() if p.kind in EXPLORED_KINDS]


def _parameter(name: str):
    from ema_workbench import Constant, IntegerParameter, RealParameter

    from sim.model.params import PARAMS

    p = PARAMS[name]
    if p.low == p.high:
        return Constant(name, p.low)
    if p.integer:
        return IntegerParameter(name, int(p.low), int(p.high))
    return RealParameter(name, float(p.low), float(p.high))


class ScenarioFunction:
    """The model function EMA calls: one replication of the scenario with the experiment's inputs.

    A plain picklable object (no model state), so parallel evaluators can send it to workers.
    """

    def __init__(self, scenario: Scenario, replications: int, seed: int, posterior: dict | None, outcomes):
        self.scenario, self.seed, self.posterior = scenario, int(seed), posterior
        self.outcomes = list(outcomes)
        self.seeds = np.random.SeedSequence(self.seed).spawn(int(replications))

    def draw_values(self, replicate: int) -> dict[str, float]:
        """The posterior values of replication ``replicate`` (empty at the point)."""
        if self.posterior is None:
            return {}
        entry = self.posterior["scenarios"][self.scenario.name]
        if entry["source"] is None:
            return {}
        source = self.posterior["sources"][entry["source"]]
        values = source["values"][str(source["draws"][replicate])]
        return {k: values[k] for k in entry["params"]}

    def __call__(self, replicate: int = 0, **inputs) -> dict[str, float]:
        from sim.run.runner import run_arrays

        scenario = self.scenario.with_values(**inputs, **self.draw_values(int(replicate)))
        result = run_arrays(scenario, self.seeds[int(replicate)])
        return {k: float(result.outcomes[k]) for k in self.outcomes}


def ema_model(
    scenario: Scenario | str,
    replications: int = 10,
    seed: int = 2016,
    *,
    posterior: bool = True,
    seeds_per_draw: int = 1,
    levers=None,
    uncertainties=None,
    outcomes=None,
    name: str | None = None,
):
    """An ``ema_workbench.ReplicatorModel`` of ``scenario`` (see the module docstring).

    Args:
        scenario: a scenario, or a scenario file / name in ``scenarios/``.
        replications: replications per experiment (``parksim run --reps``).
        seed: root seed (``parksim run --seed``).
        posterior: sample the scenario's fitted posterior (False: ``--at-point``).
        seeds_per_draw: replications that share a posterior draw (``--seeds-per-draw``).
        levers: lever names to expose (default all declared levers).
        uncertainties: uncertainty names to expose (default: the declared ones not covered by the posterior).
        outcomes: outcome columns (default :func:`sim.run.runner.outcome_columns`).
        name: the model's name (default the scenario name, made alphanumeric).

    Raises:
        ScenarioError: an unknown name, a lever given as uncertainty or the other way round, bad replications.
    """
    from ema_workbench import ArrayOutcome, ReplicatorModel

    from sim.model.scenario import ScenarioError
    from sim.run.plan import posterior_record
    from sim.run.runner import outcome_columns

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if isinstance(replications, bool) or not isinstance(replications, (int, np.integer)) or replications < 1:
        raise ScenarioError("ema_model", "replications", f"must be a whole number >= 1, got {replications!r}")
    lever_list = lever_names() if levers is None else list(levers)
    bad = [k for k in lever_list if k not in lever_names()]
    if bad:
        raise ScenarioError("ema_model", "levers", f"not declared levers: {bad}; allowed: {', '.join(lever_names())}")
    record = posterior_record([base], int(replications), seed, seeds_per_draw, ()) if posterior else None
    covered = set(record["scenarios"][base.name]["params"]) if record else set()
    if uncertainties is None:
        unc_list = [k for k in uncertainty_names() if k not in covered]
    else:
        unc_list = list(uncertainties)
        bad = [k for k in unc_list if k not in uncertainty_names()]
        if bad:
            allowed = ", ".join(uncertainty_names())
            raise ScenarioError("ema_model", "uncertainties", f"not declared uncertainties: {bad}; allowed: {allowed}")
    if record is not None:  # an exposed uncertainty is set by EMA, never by the posterior
        entry = record["scenarios"][base.name]
        entry["kept"] += [k for k in entry["params"] if k in unc_list]
        entry["params"] = [k for k in entry["params"] if k not in unc_list]
    out_list = outcome_columns() if outcomes is None else list(outcomes)
    bad = [k for k in out_list if k not in outcome_columns()]
    if bad:
        raise ScenarioError("ema_model", "outcomes", f"not outcome columns: {bad}")
    label = name or "".join(c if c.isalnum() else "_" for c in base.name)
    function = ScenarioFunction(base, int(replications), seed, record, out_list)
    model = ReplicatorModel(label, function=function)
    model.levers = [_parameter(k) for k in lever_list]
    model.uncertainties = [_parameter(k) for k in unc_list]
    model.outcomes = [ArrayOutcome(k) for k in out_list]  # one value per replication
    model.replications = [{"replicate": i} for i in range(int(replications))]
    model.parksim_posterior = record  # what the replications draw (as a batch manifest records it)
    return model
