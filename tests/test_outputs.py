"""Outputs a validator needs (issue 11 item 9) and targets read as the plan wrote them (item 10).

Invariants of the new monthly reporters on the tiny park, and target measures on
synthetic records: 2016 flows counted from records that cover 2016-01, the declared
January-June 2016 assumption only for cold starts, and "reach 3" read as a level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.model import markets, metrics, targets
from sim.model.scenario import load_scenario
from sim.run.runner import END_INDICATORS, outcome_columns, run_scenario

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (3, 4)


@pytest.fixture(scope="module")
def runs():
    tiny = load_scenario(ROOT / "scenarios" / "tiny.toml")
    # a listing subsidy makes listings happen in a tiny park, so the board sums are not all 0 = 0
    scenarios = (tiny, tiny.with_values(name="subsidised", listing_subsidy_myuan=3.0))
    return [run_scenario(sc, seed=s) for sc in scenarios for s in SEEDS]


# ------------------------------------------------------------------ invariants of the new outputs
def test_frames_are_their_reporters_and_nest_in_the_whole_park(runs):
    for r in runs:
        m = r.monthly
        for frame, column in metrics.FRAMES.items():
            assert (m[f"frame_{frame}_firms"] == m[column]).all(), frame
        whole = m["frame_whole_park_firms"]
        assert (m["frame_graphene_park_firms"] + m["frame_health_park_firms"] <= whole).all()
        assert (m["frame_china_israel_park_firms"] <= whole).all()
        assert (whole > 0).all()


def test_listings_by_board_sum_to_the_listing_counts(runs):
    boards = markets.BOARDS[1:]
    domestic = [markets.BOARDS[b] for b in markets.DOMESTIC]
    listed_any = 0.0
    for r in runs:
        m = r.monthly
        for kind in ("cum", "ytd"):
            by_board = sum(m[f"exchange_listings_{b}_{kind}"] for b in boards)
            assert np.allclose(by_board, m[f"exchange_listings_{kind}"]), kind
            dom = sum(m[f"exchange_listings_{b}_{kind}"] for b in domestic)
            assert np.allclose(dom, m[f"exchange_listings_domestic_{kind}"]), kind
        assert np.allclose(sum(m[f"listed_{b}"] for b in boards), m["listed_exchange"])
        assert (m["listed_main_neeq"] <= m["listed_exchange_neeq"]).all()
        assert (m["listed_main_neeq"] >= m["neeq_quoted"]).all()
        listed_any += m["exchange_listings_cum"].iloc[-1]
    assert listed_any > 0, "some run lists a firm, so the sums are tested on events"


def test_year_to_date_counts_are_the_yearly_flows_of_the_cumulative_counts(runs):
    for r in runs:
        m = r.monthly
        december = m[m.index.str.endswith("-12")]
        for event in metrics.YEAR_FLOW_EVENTS:
            cum, ytd = december[f"{event}_cum"].to_numpy(), december[f"{event}_ytd"].to_numpy()
            flows = np.diff(cum, prepend=0.0)  # the first year counts from the run's first month
            assert np.allclose(ytd, flows), event
        assert (m.filter(like="_ytd") >= 0).all(axis=None)
        january = m[m.index.str.endswith("-01")]
        assert (january["projects_signed_ytd"] <= january["projects_signed_cum"]).all()


def test_output_per_m2_is_finite_and_positive_where_floor_is_occupied(runs):
    for r in runs:
        m = r.monthly
        floor = m["occupied_floor_m2"]
        assert (floor > 0).all()
        per_m2 = m["revenue_yuan_per_m2"]
        assert np.isfinite(per_m2).all() and (per_m2 > 0).all()
        # the same figure from the columns it is made of: bn yuan -> yuan over m2
        assert np.allclose(per_m2, m["revenue_bn_yuan"] * 1e9 / floor)
        assert (m["graphene_revenue_bn_yuan"] <= m["revenue_bn_yuan"] + 1e-9).all()
        assert (m["talent_employed"] <= m["talent_people"]).all()


def test_new_end_indicators_are_outcomes_of_every_run(runs):
    cols = outcome_columns()
    for name in ("health_firms", "listed_overseas", "revenue_yuan_per_m2", "talent_employed", "listed_main_neeq"):
        assert name in END_INDICATORS and f"end_{name}" in cols
    for r in runs:
        assert sorted(r.outcomes) == sorted(cols)
        for name in END_INDICATORS:
            assert r.outcomes[f"end_{name}"] == pytest.approx(float(r.monthly[name].iloc[-1]), nan_ok=True)


# ------------------------------------------------------------------ targets on synthetic records
def _needed_columns() -> set[str]:
    out = set()
    for t in targets.TARGETS:
        for c in t.columns.values():
            out.update(c if isinstance(c, tuple) else (c,))
    return out


def _records(first: str, last: str = "2020-12", per_month: float = 1.0) -> pd.DataFrame:
    """Every target column: cumulative counts rising ``per_month`` from the first record, stocks equal to 2."""
    dates = pd.period_range(first, last, freq="M").strftime("%Y-%m")
    rising = per_month * np.arange(1, len(dates) + 1, dtype=float)
    data = {c: rising if c.endswith("_cum") else np.full(len(dates), 2.0) for c in _needed_columns()}
    return pd.DataFrame(data, index=pd.Index(dates, name="date"))


INPUTS = {"h1_2016_listings": 40, "h1_2016_tech_projects": 500, "population_scale": 1.0}


@pytest.mark.parametrize("first", ["2014-01", "2016-01"])
def test_2016_flows_count_from_records_that_cover_january_2016(first):
    monthly = _records(first)
    ends = targets.YearEnds(monthly)
    assert not targets.h1_assumed(ends, "2016-07")  # the scenario's policy start stays 2016-07
    values = targets.evaluate(monthly, "2016-07", INPUTS)
    # 12 months of 2016 at 1 a month in each summed column; the 40 assumed listings are not added
    assert values["listings_2016__exchange_neeq"] == pytest.approx(24.0)
    assert values["share_reforms_2016__completed"] == pytest.approx(12.0)
    assert values["tech_projects_2016_2020__signed"] == pytest.approx(60.0)  # 5 years x 12
    assert values["tech_projects_each_year__signed"] == pytest.approx(12.0)


def test_a_cold_start_adds_the_declared_first_half_assumption():
    monthly = _records("2016-07")
    assert targets.h1_assumed(targets.YearEnds(monthly), "2016-07")
    values = targets.evaluate(monthly, "2016-07", {**INPUTS, "population_scale": 0.5})
    assert values["listings_2016__exchange_neeq"] == pytest.approx(2 * 6 + 40 * 0.5)
    assert values["tech_projects_2016_2020__signed"] == pytest.approx(6 + 48 + 500 * 0.5)
    assert values["tech_projects_each_year__signed"] == pytest.approx(12.0)  # 2016: 6 + 250; later years 12
    assert "[assumption]" in targets_h1_sources()


def targets_h1_sources() -> str:
    from sim.model.params import PARAMS

    inputs = {t.h1_input for t in targets.TARGETS if t.h1_input}
    return " ".join(PARAMS[name].source for name in sorted(inputs))


def test_every_declared_first_half_input_is_named_an_assumption():
    from sim.model.params import PARAMS

    for name in {t.h1_input for t in targets.TARGETS if t.h1_input}:
        assert PARAMS[name].source.startswith("[assumption]"), name


def test_records_from_2014_leave_earlier_years_measurable_and_later_years_unsimulated_nan():
    monthly = _records("2014-01", "2017-12")
    ends = targets.YearEnds(monthly)
    assert targets.year_flow(ends, "projects_signed_cum", 2015, "2016-07", 99.0) == pytest.approx(12.0)
    assert targets.year_flow(ends, "projects_signed_cum", 2014, "2016-07", 99.0) == pytest.approx(12.0)
    assert np.isnan(targets.year_flow(ends, "projects_signed_cum", 2018, "2016-07", 99.0))
    assert np.isnan(targets.year_flow(targets.YearEnds(_records("2016-07")), "projects_signed_cum", 2015, "", 0.0))


def test_reach_three_is_read_as_a_level_and_as_a_flow():
    level = targets.TARGETS_BY_NAME["listings_2016_level"]
    flow = targets.TARGETS_BY_NAME["listings_2016"]
    assert level.how == "stock" and flow.how == "year_flow"
    assert level.threshold == flow.threshold == 3 and level.year == flow.year == 2016
    assert "level" in level.text and "flow" in flow.text
    monthly = _records("2014-01")
    # a park with 5 listed firms at the end of 2016 but no listing during 2016
    monthly.loc[:, "listed_exchange"] = 3.0  # of which 2 on the main board (the default stock of 2)
    for c in ("exchange_listings_cum", "neeq_quotations_cum", "exchange_listings_main_cum"):
        monthly.loc[:, c] = 1.0
    values = targets.evaluate(monthly, "2016-07", INPUTS)
    assert values["listings_2016_level__exchange_neeq"] == 5.0
    assert values["listings_2016_level__main_board_neeq"] == 4.0
    assert values["listings_2016__exchange_neeq"] == 0.0
    got = targets.reached(values)
    assert got["listings_2016_level__exchange_neeq"] == 1.0 and got["listings_2016__exchange_neeq"] == 0.0


def test_the_level_reading_on_a_run_is_the_december_2016_stock(runs):
    for r in runs:
        m = r.monthly
        assert r.outcomes["listings_2016_level__exchange_neeq"] == m.loc["2016-12", "listed_exchange_neeq"]
        assert r.outcomes["listings_2016_level__main_board_neeq"] == m.loc["2016-12", "listed_main_neeq"]


def test_a_run_whose_records_start_in_2014_counts_2016_itself_whatever_the_assumed_first_half():
    """A stand-in for a run forked from the 2014-01 history: the h1_2016_* inputs change nothing."""
    import dataclasses

    tiny = load_scenario(ROOT / "scenarios" / "tiny.toml")
    early = dataclasses.replace(tiny, start="2014-01", end="2016-12")
    low = run_scenario(early.with_values(h1_2016_listings=0, h1_2016_tech_projects=0), seed=5)
    high = run_scenario(early.with_values(h1_2016_listings=50, h1_2016_tech_projects=900), seed=5)
    assert low.monthly.index[0] == "2014-01"
    for key in ("listings_2016__exchange_neeq", "graphene_new_2016__signed", "share_reforms_2016__completed"):
        assert low.outcomes[key] == high.outcomes[key], key
    m = low.monthly
    projects = m.loc["2016-12", "projects_signed_cum"] - m.loc["2015-12", "projects_signed_cum"]
    assert low.outcomes["tech_projects_2016_2020__signed"] != low.outcomes["tech_projects_2016_2020__signed"]  # NaN
    assert m.loc["2016-12", "projects_signed_ytd"] == projects
    listings = (
        m.loc["2016-12", ["exchange_listings_cum", "neeq_quotations_cum"]].sum()
        - m.loc["2015-12", ["exchange_listings_cum", "neeq_quotations_cum"]].sum()
    )
    assert low.outcomes["listings_2016__exchange_neeq"] == listings
