"""compare: target probabilities with intervals, fan charts, zones, and paired
differences that rest on common random numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.analysis.compare import compare, paired_differences
from sim.analysis.stats import mean_ci, proportion_ci
from sim.cli import main as cli
from sim.model.scenario import load_scenario
from sim.run.batch import load_batch, run_batch

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
    for name in ("targets.png", "fan_charts.png", "zones.png"):
        assert result["files"][name].stat().st_size > 1000, name
    for name in ("targets.csv", "zones.csv"):  # by rows, not bytes: byte counts move with the numbers' digits
        lines = result["files"][name].read_text().splitlines()
        assert len(lines) > 4 and len({line.count(",") for line in lines}) == 1, (name, lines[:3])
    assert result["files"]["paired_differences.png"].exists()
    targets = result["targets"]
    # a name found in two batches is prefixed with its batch id
    assert set(targets["scenario"]) == {"A:tiny", "tiny_same", "tiny_listing", "B:tiny"}
    tol = 1e-12  # Wilson bounds (sim.analysis.stats.proportion_ci) may carry rounding of order 1e-16 at p = 0 and 1
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


@pytest.mark.slow  # runs two batches through the command line
def test_compare_cli(root, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert cli(["compare", "A", "--root", str(root), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "P(reach) [95% Wilson interval]" in text and "paired change in P(reach) vs [1] tiny" in text
    assert (out / "fan_charts.png").exists() and (out / "paired_differences.csv").exists()
    assert cli(["compare", "A", "--root", str(root), "--out", str(out), "--reference", "nope"]) == 2
    assert "tiny_same" in capsys.readouterr().err, "the error lists the scenarios to choose from"
    assert cli(["compare", "missing", "--root", str(root)]) == 2
    assert cli(["compare", "A", "B", "--root", str(root)]) == 0
    assert (root / "A" / "compare-with-B" / "targets.csv").exists(), "by default beside the first batch"


def test_intervals_match_the_textbook_formulas():
    low, high = proportion_ci([0, 3, 10, 0], [3, 10, 10, 0])
    z = 1.959963984540054
    for k, n, lo, hi in zip([0, 3, 10], [3, 10, 10], low, high, strict=False):
        p, centre = k / n, (k / n + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        assert (lo, hi) == pytest.approx((max(0.0, centre - half), min(1.0, centre + half)), abs=1e-12)
    assert np.isnan(low[3]) and np.isnan(high[3]), "no runs: no interval"
    d = np.array([[1.0, 0.0, 5.0], [2.0, 0.0, np.nan], [4.0, 0.0, np.nan]])
    mean, lo, hi = mean_ci(d)
    half = 4.302652729911275 * np.std([1, 2, 4], ddof=1) / np.sqrt(3)  # t(0.975, 2 df)
    assert (mean[0], lo[0], hi[0]) == pytest.approx((7 / 3, 7 / 3 - half, 7 / 3 + half))
    assert (mean[1], lo[1], hi[1]) == (0.0, 0.0, 0.0), "identical differences: zero-width interval"
    assert mean[2] == 5.0 and np.isnan(lo[2]) and np.isnan(hi[2]), "one pair: a mean but no interval"


@pytest.mark.slow  # runs a sweep through the command line
def test_compare_output_fits_120_columns_and_names_sweep_points_by_lever_values(root, tmp_path, capsys):
    assert cli(["sweep", str(TINY), "--design", "eco_x_financing", "--reps", "1", "--seed", "3",
                "--out", str(root), "--id", "S", "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert cli(["compare", "S", "--root", str(root), "--out", str(tmp_path / "sw")]) == 0
    text = capsys.readouterr().out
    wide = [line for line in text.splitlines() if len(line) > 120]
    assert not wide, f"compare prints lines wider than 120 columns: {wide[:2]}"
    assert "[12] eco_x_financing-011: eco_max_pollution_index 0.85" in text, "point names carry their lever values"
    assert "[1] eco_x_financing-000: eco_max_pollution_index 0.35, finance_supermarket_loans_per_year 7.5" in text
    assert "[12]" in text.split("paired change", 1)[1], "the paired table numbers its columns like the first"


def test_difference_chart_title_is_clear_of_the_column_labels(root, tmp_path):
    from sim.plots.differences import difference_chart

    diffs = paired_differences(load_batch("A", root=root).outcomes, "tiny")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = difference_chart(diffs)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    title = fig._suptitle.get_window_extent(renderer)
    labels = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(label.y1 <= title.y0 for label in labels), "title and scenario labels must not overlap"
