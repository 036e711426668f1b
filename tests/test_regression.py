"""Baseline regression on tiny.toml (STYLE.md test layer 4).

tests/data/tiny_baseline.json holds the mean outcomes and a few monthly values
of tiny.toml over fixed seeds; it is written only by scripts/regen_baseline.py.
When a model change is meant to move results, rerun that script and commit the
new file with the change; when it is not, this test has found a regression.

The results are bit-identical on every CPU (sim/model/portable.py replaces numpy's
CPU-dispatched exp/log/power; tests/test_portable.py runs the same seeds on
narrower SIMD paths), and the dependencies are pinned in requirements.lock, so
the stored means are checked at relative 1e-12 (they are written and read as
shortest round-trip decimals) and a SHA-256 over every run's full monthly table
and outcomes must match exactly. A one-line change to any rate moves both.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "regen_baseline.py"
STORED = ROOT / "tests" / "data" / "tiny_baseline.json"
REGEN = "if the change is deliberate, run: .venv/bin/python scripts/regen_baseline.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("regen_baseline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regen():
    return _load_script()


@pytest.fixture(scope="module")
def stored():
    assert STORED.exists(), f"{STORED} is missing; {REGEN}"
    return json.loads(STORED.read_text())


@pytest.fixture(scope="module")
def fresh(regen):
    return regen.summarise()


def test_tiny_inputs_are_those_the_baseline_was_made_from(regen, stored):
    from sim.model.scenario import load_scenario

    now = regen.inputs_hash(load_scenario(regen.SCENARIO))
    assert now == stored["inputs_hash"], (
        f"tiny.toml or the declared defaults changed since the baseline was stored ({stored['inputs_hash']} -> {now}); "
        + REGEN
    )


def test_tiny_summary_matches_the_stored_baseline(regen, stored, fresh):
    moved = regen.differences(stored, fresh)
    assert not moved, "tiny.toml results moved from tests/data/tiny_baseline.json:\n" + "\n".join(moved) + "\n" + REGEN


def test_the_comparison_detects_a_small_change(regen, stored):
    """The comparison is not blind: a 0.01% change of one stored mean is reported."""
    changed = json.loads(json.dumps(stored))
    key = next(iter(changed["outcome_means"]))
    changed["outcome_means"][key] = changed["outcome_means"][key] * 1.0001 + 1e-3
    assert regen.differences(stored, changed) == [
        f"outcome_means.{key}: {stored['outcome_means'][key]:.6g} -> {changed['outcome_means'][key]:.6g}"
    ]


def test_the_baseline_covers_every_chosen_outcome_and_date(regen, stored):
    assert set(stored["outcome_means"]) == set(regen.OUTCOMES)
    assert set(stored["monthly_means"]) == {f"{c}@{d}" for c in regen.MONTHLY for d in regen.DATES}
    assert stored["n_reps"] == regen.N_REPS and stored["root_seed"] == regen.ROOT_SEED
