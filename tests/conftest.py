"""Shared fixtures and helpers of the model-core test suite.

Everything here is cheap to import: scenarios are loaded by absolute path (so
the tests do not depend on the working directory) and runs are made by the
test modules themselves, in module-scoped fixtures, so that each run is shared
by the tests that read it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "scenarios"
TINY_PATH = SCENARIO_DIR / "tiny.toml"
# Scale of tiny.toml, used to shrink the other scenarios for tests.
SMALL = {"population_scale": 0.15, "talent_people_per_agent": 10}


def policy_overrides(name: str) -> dict[str, float]:
    """The values a scenario file in ``scenarios/`` sets explicitly (its levers and params)."""
    sc = load_scenario(SCENARIO_DIR / f"{name}.toml")
    return {key: sc[key] for key in sc.overrides}


def on_tiny(name: str, tiny: Scenario) -> Scenario:
    """A policy scenario file's overrides applied on top of tiny.toml (same scale, same window)."""
    return tiny.with_values(name=f"{name}@tiny", **policy_overrides(name))


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    """The tiny test scenario (15% of the park)."""
    return load_scenario(TINY_PATH)
