"""compare: target probabilities with intervals, fan charts, zones, and paired
differences that rest on common random numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.batch import load_batch, run_batch
from sim.cli import main as cli
from sim.compare import compare, paired_differences
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Batch A: tiny, an identical copy under another name, and more listing support; batch B: tiny again."""
    root = tmp_path_factory.mktemp("runs")
    tiny = load_scenario(TINY)
    scenarios = [
        tiny,
        tiny.with_values(name="tiny_same"),
        tiny.with_values(name="tiny_listing", listing_subsidy_myuan=3.0, listing_reserve_support=0.8),
    ]
    run_batch(scenarios, reps=3, seed=21, out_root=root, batch_id="A", progress=False)
    run_batch([tiny], reps=2, seed=21, out_root=root, batch_id="B", progress=False)
    return root


def test_identical_scenarios_on_common_seeds_differ_by_exactly_zero(root):
    outcomes = load_batch("A", root=root).outcomes
    diffs = paired_differences(outcomes, "tiny")
    same = diffs[diffs["scenario"] == "tiny_same"]
    assert (same["pairs"] == 3).all()
    assert (same["mean_diff"].fillna(0) == 0).all(), "same inputs and same seeds must give the same runs"
    listing = diffs[(diffs["scenario"] == "tiny_listing") & (diffs["measure"] == "end_listed_exchange_neeq")].iloc[0]
    a = outcomes.set_index(["scenario", "replicate"])["end_listed_exchange_neeq"]
    expected = np.mean([a["tiny_listing", r] - a["tiny", r] for r in range(3)])
    assert listing["mean_diff"] == pytest.approx(expected)
    assert listing["ci_low"] <= listing["mean_diff"] <= listing["ci_high"]


def test_compare_writes_table_and_figures(root, tmp_path):
    batches = [load_batch("A", root=root), load_batch("B", root=root)]
    result = compare(batches, tmp_path, reference="A:tiny")
    for name in ("targets.csv", "targets.png", "fan_charts.png", "zones.csv", "zones.png"):
        assert result["files"][name].stat().st_size > 1000, name
    assert result["files"]["paired_differences.png"].exists()
    targets = result["targets"]
    # a name found in two batches is prefixed with its batch id
    assert set(targets["scenario"]) == {"A:tiny", "tiny_same", "tiny_listing", "B:tiny"}
    tol = 1e-12  # sim.report.wilson_interval's bounds carry rounding of order 1e-17 at p = 0 and 1
    assert (targets["p_low"] <= targets["p_reach"] + tol).all() and (
        targets["p_reach"] <= targets["p_high"] + tol
    ).all()
    assert set(targets.loc[targets["scenario"] == "B:tiny", "n"]) == {2}
    # B:tiny runs replicates 0 and 1 of the same root seed: paired with A:tiny on those two seeds
    diffs = result["paired_differences"]
    assert set(diffs.loc[diffs["scenario"] == "B:tiny", "pairs"]) == {2}
    assert (diffs.loc[diffs["scenario"] == "B:tiny", "mean_diff"].fillna(0) == 0).all()
    zones = result["zones"]
    monthly = batches[0].monthly
    last = monthly[(monthly["scenario"] == "tiny_listing") & (monthly["date"] == monthly["date"].max())]
    row = zones[(zones["scenario"] == "tiny_listing") & (zones["kind"] == "talent") & (zones["zone"] == "south")]
    assert row["median"].iloc[0] == pytest.approx(np.median(last["talent_south"]))


def test_compare_cli(root, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert cli(["compare", "A", "--root", str(root), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "P(reach) [95% Wilson interval]" in text and "paired change in P(reach) vs tiny" in text
    assert (out / "fan_charts.png").exists() and (out / "paired_differences.csv").exists()
    assert cli(["compare", "A", "--root", str(root), "--out", str(out), "--reference", "nope"]) == 2
    assert "tiny_same" in capsys.readouterr().err, "the error lists the scenarios to choose from"
    assert cli(["compare", "missing", "--root", str(root)]) == 2
    assert cli(["compare", "A", "B", "--root", str(root)]) == 0
    assert (root / "A" / "compare-with-B" / "targets.csv").exists(), "by default beside the first batch"
