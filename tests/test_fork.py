"""One park: every run builds the 2014 park, warms up under the status quo, forks at its start.

Invariants and reproducibility of the fork (issue 11 items 1 and 8): records
before a scenario's start do not depend on its levers or policy windows (same
seed, same warm-up), a lever acts only from the start, the history run and the
baseline's warm-up are the same months, and the cluster multiplier reads
absolute counts. Plus the header key's validation and round trip.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import SCENARIO_DIR, SMALL

import sim.cli
from sim.model.metrics import REPORTERS
from sim.model.params import INDUSTRIES
from sim.model.park import ParkModel
from sim.model.scenario import HINDCAST_WINDOW, Scenario, ScenarioError, in_hindcast, load_scenario
from sim.run.runner import run_scenario

COLUMNS = list(REPORTERS)
# The lever-cost columns count a scenario's own spending from its start (sim.model.costs): 0 in a
# fork's warm-up, counted from 2014-01 in the unforked history run. Every other column must agree.
STATE = [COLUMNS.index(c) for c in COLUMNS if not c.startswith("policy_cost")]


def _records(scenario: Scenario, seed) -> tuple[list[str], np.ndarray]:
    model = ParkModel(scenario, seed=seed)
    model.run()
    return [r["date"] for r in model.records], np.array([[r[k] for k in COLUMNS] for r in model.records], float)


def _short(scenario: Scenario, end: str = "2016-12") -> Scenario:
    return scenario.with_values(end=end)


def test_policy_runs_record_from_history_start(tiny):
    dates, _ = _records(_short(tiny), 3)
    assert dates[0] == "2014-01" and dates[-1] == "2016-12"
    assert dates.index("2016-07") == 30


@pytest.mark.parametrize(
    "change",
    [
        {"attraction_effort_index": 3.0, "israel_projects_per_year": 0.0},
        {"finance_supermarket_loans_per_year": 30.0, "vc_cluster_index": 2.0, "guidance_fund_myuan": 1000.0},
        {"eco_max_pollution_index": 0.3, "leading_support_firms": 10, "land_north_m2_per_year": 0.0},
    ],
)
def test_months_before_the_start_do_not_depend_on_the_scenario(tiny, change):
    base_dates, base = _records(_short(tiny), 11)
    dates, other = _records(_short(tiny.with_values(**change)), 11)
    assert dates == base_dates
    before = dates.index("2016-07")
    np.testing.assert_array_equal(other[:before], base[:before])
    assert not np.array_equal(other[before:], base[before:])  # and the levers do act from the start


def test_policy_windows_and_disabled_policies_leave_the_warm_up_alone(tiny):
    windows = (("china_israel", "", "", False), ("listing_support", "2017-01", "", True))
    timed = dataclasses.replace(tiny, name="timed", policies=windows)
    _, base = _records(_short(tiny), 5)
    _, other = _records(_short(timed), 5)
    np.testing.assert_array_equal(other[:30], base[:30])


def test_a_lever_raises_signings_only_after_the_start(tiny):
    """Direction of effect with paired seeds: more attraction effort, more projects signed after 2016-07."""
    col = COLUMNS.index("projects_signed_cum")
    gain_before, gain_after = [], []
    for seed in range(6):
        _, low = _records(_short(tiny, "2017-12"), seed)
        _, high = _records(_short(tiny.with_values(attraction_effort_index=3.0), "2017-12"), seed)
        gain_before.append(high[29, col] - low[29, col])
        gain_after.append((high[-1, col] - high[29, col]) - (low[-1, col] - low[29, col]))
    assert gain_before == [0.0] * 6
    assert np.mean(gain_after) > 0 and sum(g > 0 for g in gain_after) >= 5


def test_history_run_and_baseline_warm_up_agree_month_by_month():
    """The fitted history (cold start 2014-01) and the baseline fork are the same park up to 2016-06."""
    history = load_scenario(SCENARIO_DIR / "history.toml").with_values(end="2016-08", **SMALL)
    baseline = load_scenario(SCENARIO_DIR / "baseline.toml").with_values(end="2016-08", **SMALL)
    assert not history.forks and baseline.forks
    h_dates, h = _records(history, 2)
    b_dates, b = _records(baseline, 2)
    upto = h_dates.index("2016-06") + 1
    assert h_dates[:upto] == b_dates[:upto]
    np.testing.assert_array_equal(h[:upto, STATE], b[:upto, STATE])


def test_full_scale_history_and_baseline_agree_up_to_the_fork():
    history = load_scenario(SCENARIO_DIR / "history.toml").with_values(end="2016-08")
    baseline = load_scenario(SCENARIO_DIR / "baseline.toml").with_values(end="2016-08")
    _, h = _records(history, 2016)
    _, b = _records(baseline, 2016)
    np.testing.assert_array_equal(h[:30, STATE], b[:30, STATE])


def test_the_cluster_multiplier_reads_absolute_counts(tiny):
    """Same park state, same multiplier, whatever month the run started in."""
    forked = ParkModel(tiny, seed=4)
    cold = ParkModel(tiny.with_values(history_start="2016-07"), seed=4)
    assert forked.start_month != cold.start_month
    cold.firms = forked.firms
    np.testing.assert_array_equal(cold.cluster_factor(), forked.cluster_factor())
    p = forked.params
    n = np.bincount(forked.firms.industry[forked.firms.live()], minlength=len(INDUSTRIES))
    ref = p.population_scale * np.array([getattr(p, f"cluster_ref_{i}_firms") for i in INDUSTRIES])
    np.testing.assert_allclose(forked.cluster_factor(), (np.maximum(n, 1) / ref) ** p.cluster_lead_elasticity)


def test_the_guidance_fund_joins_once_at_the_status_quo_size(tiny):
    model = ParkModel(tiny.with_values(end="2016-09"), seed=1)
    model.run()
    assert len(model.finance.investors("guidance")) == 1  # joined 2014-01; no second fund at the fork


def test_a_cold_start_needs_history_start_equal_to_start(tiny):
    history = load_scenario(SCENARIO_DIR / "history.toml")
    assert history.history_start == history.start == "2014-01" and not history.forks
    assert load_scenario(SCENARIO_DIR / "baseline.toml").end == "2025-12"
    assert tiny.end == "2020-12" and tiny.forks


def test_scenarios_round_trip_with_their_history_start(tiny):
    back = Scenario.from_dict(tiny.to_dict())
    assert back == tiny and back.status_quo == tiny.status_quo and back.warmup() == tiny.warmup()
    assert dict(tiny.warmup().inputs)["attraction_effort_index"] == 1.0


def test_history_start_after_start_is_refused(tmp_path, capsys):
    bad = tmp_path / "late.toml"
    bad.write_text(f'base = "{SCENARIO_DIR / "baseline.toml"}"\nhistory_start = "2017-01"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert "late.toml" in str(err.value) and "history_start" in str(err.value) and "2016-07" in str(err.value)
    assert sim.cli.main(["validate", str(bad)]) == 2
    undated = tmp_path / "date.toml"
    undated.write_text("history_start = 2014-01-01\n")
    with pytest.raises(ScenarioError, match='write it as "2014-01"'):
        load_scenario(undated)


def test_outcomes_count_2016_from_the_runs_own_months(tiny):
    """2016 flows are December 2016 less December 2015 of the run's own records (no h1_2016_* inputs added)."""
    run = run_scenario(_short(tiny), seed=7)
    m = run.monthly["key_projects_signed_cum"]
    assert run.outcomes["key_projects_2016__signed"] == pytest.approx(m["2016-12"] - m["2015-12"])


def test_the_hindcast_window():
    assert HINDCAST_WINDOW == ("2016-07", "2017-12")
    assert in_hindcast("2017-03") and not in_hindcast("2016-06") and not in_hindcast("2018-01")
