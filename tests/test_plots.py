"""sim.plots: every figure is a plain Figure drawn from library tables, without pyplot or a backend switch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim.analysis.compare import paired_differences, zone_table
from sim.analysis.report import FAN_COLUMNS, target_table
from sim.model.scenario import load_scenario
from sim.model.targets import TARGETS, column_of
from sim.plots import save
from sim.plots.differences import difference_chart, indicator_chart
from sim.plots.fan import fan_chart
from sim.plots.labels import stock_goals
from sim.plots.targets import probability_heatmap, reach_by_scale, target_chart
from sim.plots.zones import zone_chart
from sim.run.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def batch():
    tiny = load_scenario(ROOT / "scenarios" / "tiny.toml")
    scenarios = [tiny, tiny.with_values(name="tiny_listing", listing_subsidy_myuan=3.0)]
    return run_batch(scenarios, reps=2, seed=5, progress=False)


def written(fig, path: Path) -> bytes:
    assert isinstance(fig, Figure)
    return save(fig, path).read_bytes()


def test_importing_and_drawing_leave_pyplot_and_the_backend_alone():
    code = (
        "import matplotlib, sys; before = matplotlib.get_backend() if 'matplotlib.pyplot' in sys.modules else None\n"
        "import sim.plots, sim.plots.fan, sim.plots.targets, sim.plots.zones, sim.plots.differences\n"
        "import sim.plots.calibration, sim.plots.sensitivity, sim.calibration.plots\n"
        "import sim.analysis.report, sim.analysis.compare\n"
        "import sim.analysis.notebook, sim.analysis.notebook_calibration, sim.plots.sensitivity\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'importing sim.plots must not import pyplot'\n"
        "f = sim.plots.figure(2, 2); f.subplots().plot([0, 1]); sim.plots.save(f, sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'drawing and saving must not need pyplot'\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "f.png"
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, cwd=ROOT)
        assert out.read_bytes().startswith(PNG_MAGIC)


def test_target_lines_come_from_the_declared_targets():
    goals = stock_goals()
    for t in TARGETS:
        for definition, column in t.columns.items():
            if t.how == "stock":
                assert goals[column] == (t.threshold, t.year, definition)
            else:
                assert column not in goals, f"{column} measures a flow target: no line on a stock panel"


def test_fan_chart_draws_each_column_and_its_target(batch, tmp_path):
    fig = fan_chart(batch.monthly, FAN_COLUMNS, ncols=3)
    drawn = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in drawn] == [t for _, t in FAN_COLUMNS]
    listed = drawn[[c for c, _ in FAN_COLUMNS].index("listed_exchange")]
    assert any("target: 30 by end 2020" in text.get_text() for text in listed.texts)
    assert written(fig, tmp_path / "fan.png").startswith(PNG_MAGIC)


def test_target_zone_and_difference_charts_draw_from_library_tables(batch, tmp_path):
    targets = target_table(batch.outcomes)
    diffs = paired_differences(batch.outcomes, "tiny")
    figures = {
        "targets": target_chart(targets),
        "zones": zone_chart(zone_table(batch.monthly)),
        "differences": difference_chart(diffs),
        "indicators": indicator_chart(diffs),
        "heatmap": probability_heatmap(
            targets.assign(column=list(map(column_of, targets["target"], targets["definition"])))
        ),
    }
    for name, fig in figures.items():
        assert len(written(fig, tmp_path / f"{name}.png")) > 5000, name
    panels = [ax for ax in figures["targets"].axes if ax.get_title()]
    assert len(panels) == targets["target"].nunique(), "one panel per target"


def test_reach_by_scale_leaves_out_flat_lines():
    table = pd.DataFrame({
        "column": ["a__x"] * 3 + ["b__y"] * 3, "scale": [0, 0.5, 1] * 2,
        "p_reach": [0.1, 0.5, 0.9, 1.0, 1.0, 1.0], "p_low": [0.0] * 6, "p_high": [1.0] * 6,
    })  # fmt: skip
    fig = reach_by_scale(table)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a (x)"]


def test_calibration_figures_take_the_fitted_tables(tmp_path):
    from sim.calibration.job import Prior
    from sim.plots.calibration import abc_schedule, msm_trace, predictive, prior_posterior

    prior = Prior("leads_per_month", "uniform", 10.0, 60.0)
    summary = pd.DataFrame([{
        "param": prior.name, "estimate": 30.0, "q05": 25.0, "q95": 35.0, "prior_q05": 12.5, "prior_q95": 57.5,
        "narrowing": 0.78, "identified": True,
    }])  # fmt: skip
    rng = np.random.default_rng(0)
    draws = pd.DataFrame({prior.name: rng.normal(30, 3, 50)})
    months = [f"2016-{m:02d}" for m in range(1, 13)]
    bands = pd.DataFrame({"series": "firms", "frame": "park", "kind": "stock", "month": months,
                          "q05": np.arange(12.0), "q50": np.arange(12.0) + 1, "q95": np.arange(12.0) + 2})  # fmt: skip
    coverage = pd.DataFrame([{"series": "firms", "frame": "park", "kind": "stock", "date": "2016-12-31",
                              "value": 12.0, "sd": 1.0, "qualifier": "", "covered": True, "fitted": True,
                              "unit": "firms"}])  # fmt: skip
    figures = {
        "draws": prior_posterior(summary, [prior], draws=draws, weights=np.full(50, 0.02)),
        "normal": prior_posterior(summary, {prior.name: prior}, cov=np.array([[4.0]])),
        "predictive": predictive(bands, coverage),
        "abc": abc_schedule(pd.DataFrame({"generation": [0, 1], "epsilon": [2.0, 1.0], "acceptance_rate": [0.5, 0.2]})),
        "msm": msm_trace(pd.DataFrame({"evaluation": [0, 1, 2], "objective": [3.0, 1.0, 2.0], "stage": "search"})),
    }
    for name, fig in figures.items():
        assert written(fig, tmp_path / f"{name}.png").startswith(PNG_MAGIC), name


def test_target_fans_show_the_headline_targets_baseline_on_top_and_n(batch, tmp_path):
    from sim.plots.fan import target_fans

    monthly = batch.monthly.assign(scenario=batch.monthly["scenario"].map({"tiny": "baseline"}).fillna("full_package"))
    labels = {"baseline": "Status quo", "full_package": "Full package"}
    fig = target_fans(monthly, labels=labels, h1={"baseline": 80.0, "full_package": 80.0})
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    for goal in (
        "target: 200 every year",
        "target: 1000 by end 2020",
        "target: 30 by end 2020",
        "target: 100 by end 2020",
    ):
        assert goal in texts, f"the fan chart must show {goal!r}"
    assert "2 replications per scenario" in fig._suptitle.get_text()
    cumulative = fig.axes[1]
    lines = {line.get_label(): line for line in cumulative.get_lines()}
    assert lines["Status quo"].get_zorder() > lines["Full package"].get_zorder(), "baseline drawn on top"
    assert lines["Status quo"].get_color() != lines["Full package"].get_color()
    counted = np.asarray(lines["Status quo"].get_ydata(), float)
    counted = counted[~np.isnan(counted)]  # records from 2014-01: the panel counts from 2016-01
    assert counted[0] >= 80, "the 2016-2020 count includes the January-June record it is given"
    assert [t.get_text() for t in fig.legends[0].get_texts()][:2] == ["Status quo", "Full package"]
    assert written(fig, tmp_path / "targets.png").startswith(PNG_MAGIC)


def test_many_scenarios_keep_bands_only_for_baseline_and_full_package():
    from sim.plots.fan import scenario_styles

    names = ["baseline", *[f"s{k}" for k in range(8)], "full_package"]
    styles = scenario_styles(names)
    assert [n for n, (_, _, band) in styles.items() if band] == ["baseline", "full_package"]
    assert styles["baseline"][1] == max(z for _, z, _ in styles.values())
    assert len({c for c, _, _ in styles.values()}) == len(names), "distinct colours"
    few = scenario_styles(["baseline", "financing", "full_package"])
    assert all(band for _, _, band in few.values())
