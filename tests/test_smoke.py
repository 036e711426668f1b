"""Every scenario file loads and runs a few steps (STYLE.md test layer 5).

Files are found recursively under scenarios/; scenarios/designs/ holds sweep
designs (ranges, not scenarios) and is skipped. Each scenario runs at a reduced
population so that the whole sweep stays fast.
"""

from __future__ import annotations

import pytest
from conftest import SCENARIO_DIR

from sim.model.park import ParkModel
from sim.model.scenario import load_scenario, month_index, month_label

SMOKE_SCALE = 0.05  # 5% of the park: a few dozen firms, enough to exercise every process
STEPS = 3


def scenario_files():
    designs = SCENARIO_DIR / "designs"
    return sorted(p for p in SCENARIO_DIR.rglob("*.toml") if designs not in p.parents)


FILES = scenario_files()


def test_the_scenario_folder_has_the_plan_scenarios():
    names = {p.stem for p in FILES}
    expected = {
        "baseline",
        "tiny",
        "eco_threshold",
        "financing",
        "listing_support",
        "leading_enterprises",
        "talent_services",
        "attraction",
        "china_israel",
        "full_package",
    }
    assert expected <= names, f"missing scenario files: {sorted(expected - names)}"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SCENARIO_DIR)) for p in FILES])
def test_scenario_loads_and_runs_a_few_steps(path):
    sc = load_scenario(path)
    assert sc.label and sc.name, f"{path}: a scenario needs a name and a human label"
    small = sc.with_values(population_scale=min(SMOKE_SCALE, sc["population_scale"]))
    model = ParkModel(small, seed=0)
    for _ in range(STEPS):
        model.step()
    first = month_index(sc.first_month)  # records start at history_start (one park)
    assert [r["date"] for r in model.records] == [month_label(first + i) for i in range(STEPS)]
    assert model.records[-1]["firms_in_park"] > 0, f"{path}: the park is empty after {STEPS} months"


def test_scenario_names_are_unique():
    """Results are keyed by scenario name, so two files with one name would mix their rows."""
    names = {}
    for path in FILES:
        names.setdefault(load_scenario(path).name, []).append(str(path.relative_to(SCENARIO_DIR)))
    clashes = {k: v for k, v in names.items() if len(v) > 1}
    assert not clashes, f"scenario names used by more than one file: {clashes}"
