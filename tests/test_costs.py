"""Lever costs (sim.model.costs): accounting invariants and the planned cost of a package.

Invariants: cumulative costs never fall, the total is the sum of the items, a
run without any policy spends nothing, the listing subsidy's cost is the
subsidy times the steps it was paid on, talent subsidies stop after
``talent_subsidy_months``. The planned estimate (``package_cost_myuan``)
matches the realised cost exactly for the budget items it can know (attraction,
VC cluster, services, land, guidance fund) and scales with a policy's window.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_PATH

from sim.model import costs
from sim.model.park import ParkModel
from sim.model.policies import POLICY_NAMES
from sim.model.scenario import load_scenario
from sim.run.runner import END_INDICATORS

SHORT = {"end": "2018-06"}  # two years: enough events, about 0.3 s a run


def scenario_file(tmp_path, body: str, name: str = "costs"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'base = "{TINY_PATH.as_posix()}"\nname = "{name}"\n{body}', encoding="utf-8")
    return load_scenario(path)


def run(scenario, seed: int = 7) -> ParkModel:
    model = ParkModel(scenario, seed=seed)
    model.run()
    return model


@pytest.fixture(scope="module")
def strong(tiny):
    """Every spending lever switched on strongly, two years."""
    return tiny.with_values(
        listing_subsidy_myuan=5.0,
        listing_reserve_support=1.0,
        leading_support_firms=5,
        talent_subsidy_yuan_per_month=2000.0,
        rent_index=0.5,
        guidance_fund_myuan=400.0,  # above the status quo's 200, committed in the warm-up: 200 m yuan new
        **SHORT,
    )


@pytest.fixture(scope="module")
def strong_run(strong):
    return run(strong)


def series(model, column) -> np.ndarray:
    return np.array([r[column] for r in model.records])


def test_costs_never_fall_and_the_total_is_the_sum_of_items(strong_run):
    for col in costs.COLUMNS:
        s = series(strong_run, col)
        assert np.all(np.diff(s) >= 0), f"{col} fell"
        assert np.all(s >= 0), col
    last = strong_run.records[-1]
    items = sum(last[f"policy_cost_{k}_myuan"] for k in costs.ITEMS)
    assert last[costs.TOTAL] == pytest.approx(items)
    for k in (
        "attraction",
        "vc_cluster",
        "guidance_fund",
        "listing_subsidy",
        "leading_support",
        "talent_subsidy",
        "services",
        "land",
        "rent",
        "reserve_coaching",
        "china_israel",
    ):
        assert last[f"policy_cost_{k}_myuan"] > 0, f"{k} spends nothing although its lever is on"
    assert "policy_cost_myuan" in END_INDICATORS


def test_no_policy_spends_nothing(tmp_path):
    body = "".join(f"[policies.{n}]\nenabled = false\n" for n in POLICY_NAMES)
    sc = scenario_file(tmp_path, body).with_values(**SHORT)
    model = run(sc)
    assert all(r[c] == 0.0 for r in model.records for c in costs.COLUMNS), "no policy, no cost"
    assert costs.package_cost_myuan(sc) == 0.0


def test_listing_subsidy_cost_is_subsidy_times_steps_paid(strong_run, strong):
    since = strong_run.counters.since_policy_start  # the warm-up's steps were paid by the status quo
    steps = since("share_reforms") + since("neeq_quotations") + since("exchange_listings")
    assert steps > 0, "the test needs some paid steps"
    cost = strong_run.records[-1]["policy_cost_listing_subsidy_myuan"]
    assert cost == pytest.approx(strong["listing_subsidy_myuan"] * steps)


def test_talent_subsidy_is_paid_for_talent_subsidy_months_only(tmp_path, tiny):
    body = '[levers]\ntalent_subsidy_yuan_per_month = 2000.0\n[policies.talent_services]\nend = "2016-12"\n'
    sc = scenario_file(tmp_path, body).with_values(talent_subsidy_months=6, **SHORT)
    model = run(sc)
    paid = dict(zip([r["date"] for r in model.records], series(model, "policy_cost_talent_subsidy_myuan"), strict=True))
    assert paid["2016-12"] > 0
    # the last arrivals (2016-12) are paid for 6 months: 2016-12 .. 2017-05
    assert paid["2017-05"] > paid["2017-04"]
    assert paid["2018-06"] == paid["2017-05"], "nobody is paid after talent_subsidy_months"


def test_planned_cost_matches_realised_budget_items(strong_run, strong):
    planned = costs.package_cost_myuan(strong, by_item=True)
    last = strong_run.records[-1]
    for k in ("attraction", "vc_cluster", "guidance_fund", "services", "land", "reserve_coaching", "china_israel"):
        assert planned[k] == pytest.approx(last[f"policy_cost_{k}_myuan"]), k
    assert costs.package_cost_myuan(strong) == pytest.approx(sum(planned.values()))
    assert set(planned) == set(costs.ITEMS)


def test_planned_cost_scales_with_the_window(tmp_path):
    whole = scenario_file(tmp_path, "", "whole").with_values(**SHORT)
    half = scenario_file(tmp_path, '[policies.attraction]\nend = "2017-06"\n', "half").with_values(**SHORT)
    months_whole, months_half = 24, 12  # 2016-07..2018-06 and 2016-07..2017-06
    a = costs.package_cost_myuan(whole, by_item=True)["attraction"]
    b = costs.package_cost_myuan(half, by_item=True)["attraction"]
    assert b == pytest.approx(a * months_half / months_whole)
    more = whole.with_values(attraction_effort_index=2.0)
    assert costs.package_cost_myuan(more) > costs.package_cost_myuan(whole), "more effort costs more"
