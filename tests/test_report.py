"""What `parksim run` prints: the compact targets x scenarios table first, then the detail, within 120 columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import report
from sim.model.scenario import load_scenario
from sim.model.targets import TARGETS, TARGETS_BY_NAME
from sim.run.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def batch():
    tiny = load_scenario(ROOT / "scenarios" / "tiny.toml")
    scenarios = [
        tiny.with_values(name="baseline", label="Status quo on the tiny park"),
        tiny.with_values(name="full_package", label="Everything the plan names", listing_subsidy_myuan=3.0),
    ]
    return run_batch(scenarios, reps=3, seed=7, progress=False), scenarios


def labels_of(scenarios):
    return {s.name: s.label for s in scenarios}


def test_every_target_has_a_plan_reading_among_its_definitions():
    assert set(report.PLAN_READING) == {t.name for t in TARGETS}
    for t in TARGETS:
        assert report.plan_reading(t.name) in t.columns, f"{t.name}: the plan's reading must be one of its definitions"
    # the readings the brief asks to state: projects introduced = signed, listed = exchange + NEEQ
    assert report.plan_reading("tech_projects_2016_2020") == "signed"
    assert report.plan_reading("listed_companies_2020") == "exchange_neeq"


def test_glance_table_has_one_row_per_target_and_one_column_per_scenario(batch):
    b, scenarios = batch
    table = report.glance_table(b.outcomes)
    assert list(table["target"]) == [t.name for t in TARGETS]
    assert table["plan_reading"].all()
    assert list(table.columns[6:]) == [s.name for s in scenarios]
    values = table[[s.name for s in scenarios]].to_numpy(float)
    assert ((values >= 0) & (values <= 1)).all()
    every = report.glance_table(b.outcomes, all_definitions=True)
    assert len(every) == sum(len(t.columns) for t in TARGETS)
    assert every.groupby("target")["plan_reading"].sum().eq(1).all(), "exactly one plan's reading per target"


def test_summary_prints_the_compact_table_first_with_labels_units_and_notes(batch):
    b, scenarios = batch
    text = report.format_summary(b.outcomes, labels_of(scenarios))
    lines = text.splitlines()
    assert lines[0].startswith("Targets of the 2016 plan: P(reach) per scenario, 3 replications each")
    assert "[1]" in lines[1] and "[2]" in lines[1] and "reading" in lines[1]
    assert "[1] baseline: Status quo on the tiny park" in text and "[2] full_package: Everything the plan names" in text
    for t in TARGETS:
        assert t.text.split()[0] in text
    glance = text[: text.index("\n==")]
    assert "worst year's count" in glance, "say what 'every year' measures"
    assert "--all-definitions" in glance
    assert "registered" not in glance.split("reading", 1)[1].split("[1] baseline")[0], "only the plan's readings"
    detail = text[text.index("\n==") :]
    assert "== [1] Status quo on the tiny park (baseline, 3 replications)" in detail
    assert "bn yuan" in detail and "projects (worst year)" in detail, "goals and measures carry units"
    assert "projects signed since the start" in detail and "January-June 2016" in detail
    assert "hindcast" in glance and "hindcast" in detail, "2016 results are marked as a hindcast"
    assert "assumed h1_2016_*" in " ".join(glance.split()), "the cold-start first half-year is named an assumption"


def test_reach_three_listed_has_a_flow_and_a_level_reading_both_labelled():
    flow, level = TARGETS_BY_NAME["listings_2016"], TARGETS_BY_NAME["listings_2016_level"]
    assert (flow.how, level.how) == ("year_flow", "stock")
    assert report.plan_reading("listings_2016_level") == report.plan_reading("listings_2016") == "exchange_neeq"
    assert "main_board_neeq" in level.columns and report._reading("listings_2016_level", "main_board_neeq", False)


def test_every_line_fits_120_columns_with_ten_scenarios_and_every_definition():
    rng = np.random.default_rng(1)
    rows = []
    for k in range(10):
        for _rep in range(5):
            row = {"scenario": f"scenario_{k}", "status": "ok"}
            for t in TARGETS:
                for d in t.columns:
                    row[f"{t.name}__{d}"] = float(rng.uniform(0, 2 * t.threshold))
            row["end_firms_in_park"] = float(rng.uniform(100, 1000))
            row["end_market_value_exchange_neeq_bn_yuan"] = float(rng.uniform(0, 50))
            row["end_projects_signed_cum"] = float(rng.uniform(500, 900))
            rows.append(row)
    outcomes = pd.DataFrame(rows)
    labels = {f"scenario_{k}": f"A long human label for policy scenario number {k}, with details" for k in range(10)}
    for every in (False, True):
        text = report.format_summary(outcomes, labels, all_definitions=every)
        too_wide = [line for line in text.splitlines() if len(line) > report.WIDTH]
        assert not too_wide, f"lines wider than {report.WIDTH}: {too_wide[:3]}"
        header = text.splitlines()[1]
        assert "[10]" in header, "ten scenarios fit side by side in one table"
    assert "signed*" in report.format_glance(outcomes, labels, all_definitions=True)


def test_bands_use_one_precision_and_counts_are_whole():
    assert report._fmt_band(67.0, 59.2, 77.25) == "67 (59-77)"
    assert report._fmt_band(10.04, 6.6, 14.5, counts=False) == "10.0 (6.6-14.5)"
    assert report._fmt_band(150.0, 99.5, 210.0, counts=False) == "150 (100-210)"
    assert report._fmt_band(np.nan, np.nan, np.nan) == "n/a"


def test_h1_signed_scales_the_january_june_record(batch):
    _, scenarios = batch
    h1 = report.h1_signed(scenarios)
    inputs = dict(scenarios[0].inputs)
    assert h1["baseline"] == 0.0, "a run recording from history_start (2014-01) has its own January-June 2016"
    cold = {"name": "cold", "start": "2016-07", "inputs": inputs}  # a manifest entry without history_start
    expected = inputs["h1_2016_tech_projects"] * inputs["population_scale"]
    assert report.h1_signed([cold])["cold"] == pytest.approx(expected)
    assert TARGETS_BY_NAME["tech_projects_2016_2020"].h1_input == "h1_2016_tech_projects"
