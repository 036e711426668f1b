"""The EMA Workbench model factory (issue 12 item 6): declared levers and uncertainties with their
ranges, every outcome column, replications that are the batch's (draw, seed) pairs, reproducible."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "ipyparallel not installed"
    import ema_workbench
    from ema_workbench import perform_experiments

from sim.ema import ema_model, uncertainty_names
from sim.model.params import LEVERS, PARAMS
from sim.model.scenario import ScenarioError, load_scenario
from sim.run.batch import run_batch
from sim.run.runner import outcome_columns

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
OUTCOMES = ["end_firms_in_park", "end_talent_people", "end_projects_signed_cum"]


def short_tiny():
    return load_scenario(TINY).with_values(end="2017-06")


def test_levers_uncertainties_and_outcomes_are_the_declared_ones():
    model = ema_model(short_tiny(), replications=2, seed=3)
    assert [p.name for p in model.levers] == list(LEVERS)
    for p in [*model.levers, *model.uncertainties]:
        assert (p.lower_bound, p.upper_bound) == (PARAMS[p.name].low, PARAMS[p.name].high)
    drawn = set(model.parksim_posterior["scenarios"]["tiny"]["params"])
    assert drawn and {p.name for p in model.uncertainties} == set(uncertainty_names()) - drawn
    assert [o.name for o in model.outcomes] == outcome_columns()
    at_point = ema_model(short_tiny(), replications=2, posterior=False)
    assert {p.name for p in at_point.uncertainties} == set(uncertainty_names())
    with pytest.raises(ScenarioError, match="levers"):
        ema_model(short_tiny(), levers=["leads_per_month"])


def test_perform_experiments_shapes_and_reproducibility():
    model = ema_model(short_tiny(), replications=2, seed=3, outcomes=OUTCOMES)
    kwargs = {"uncertainty_sampling_kwargs": {"rng": 1}, "lever_sampling_kwargs": {"rng": 2}}
    experiments, outcomes = perform_experiments(model, scenarios=2, policies=2, **kwargs)
    assert len(experiments) == 4
    assert all(outcomes[k].shape == (4, 2) for k in OUTCOMES), "experiments x replications"
    again_exp, again = perform_experiments(model, scenarios=2, policies=2, **kwargs)
    assert all(np.array_equal(outcomes[k], again[k]) for k in OUTCOMES), "same samples, same results"
    row = experiments.iloc[3]
    inputs = {p.name: row[p.name] for p in [*model.levers, *model.uncertainties]}
    assert model.function(replicate=1, **inputs)["end_talent_people"] == outcomes["end_talent_people"][3, 1]
    assert isinstance(model, ema_workbench.ReplicatorModel)


def test_replications_are_the_batch_draw_seed_pairs():
    """With the scenario's own inputs, EMA replication i is run i of 'parksim run --reps 2 --seed 3'."""
    tiny = short_tiny()
    model = ema_model(tiny, replications=2, seed=3, outcomes=OUTCOMES, levers=[], uncertainties=[])
    batch = run_batch([tiny], reps=2, seed=3, out_root=None, progress=False, posterior=True)
    for i in range(2):
        assert model.function(replicate=i)["end_talent_people"] == batch.outcomes["end_talent_people"][i]
