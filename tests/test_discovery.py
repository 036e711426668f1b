"""Scenario discovery: PRIM and CART find a known box in a stored batch; bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.analysis import discovery as sd
from sim.cli import main as cli
from sim.model.metrics import REPORTERS
from sim.model.scenario import ScenarioError
from sim.run.batch import run_batch
from sim.run.runner import RunResult, outcome_columns

COLUMN = "listed_companies_2020__exchange_neeq"
# The known answer: the target (30 listed firms) is reached exactly when the listing
# subsidy is above 2 m yuan/firm and reserve support above 0.4; the VC index is a decoy.
SUBSIDY_CUT, SUPPORT_CUT = 2.0, 0.4


def fake_run(scenario, *, seed, replicate=0):
    """Stands in for the model: outcomes follow a known rule of the inputs, no simulation."""
    hit = scenario["listing_subsidy_myuan"] > SUBSIDY_CUT and scenario["listing_reserve_support"] > SUPPORT_CUT
    outcomes = dict.fromkeys(outcome_columns(), 0.0)
    outcomes[COLUMN] = 40.0 if hit else 10.0 + 5.0 * replicate
    monthly = pd.DataFrame([dict.fromkeys(REPORTERS, 0.0)], index=pd.Index(["2020-12"], name="date"))
    return RunResult(scenario.name, replicate, 0, (replicate,), monthly, outcomes)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny):
    base = tiny
    rng = np.random.default_rng(5)
    n = 80
    values = {
        "listing_subsidy_myuan": rng.uniform(0, 5, n),
        "listing_reserve_support": rng.uniform(0, 1, n),
        "vc_cluster_index": rng.uniform(0.5, 2.5, n),
    }
    scenarios = [base.with_values(name=f"pt{i:03d}", **{k: float(v[i]) for k, v in values.items()}) for i in range(n)]
    root = tmp_path_factory.mktemp("runs")
    run_batch(scenarios, reps=2, seed=1, out_root=root, batch_id="sweep", progress=False, run_fn=fake_run)
    return root


@pytest.fixture(scope="module")
def data(sweep):
    from sim.run.batch import load_batch

    batch = load_batch("sweep", root=sweep)
    inputs = sd.varied_inputs(batch.outcomes, batch.manifest["input_columns"])
    return sd.discovery_data(batch.outcomes, inputs, COLUMN)


@pytest.mark.parametrize("method", ["prim", "cart"])
@pytest.mark.slow  # PRIM and CART on a synthetic sweep
def test_discovery_recovers_the_known_box(data, method):
    x, y, points = data
    assert set(x.columns) == {"listing_subsidy_myuan", "listing_reserve_support", "vc_cluster_index"}
    assert len(points) == 80 and set(points["n_runs"]) == {2}
    found = sd.discover(x, y, COLUMN, method)
    box = found.limits[found.chosen]
    assert set(found.restricted()) == {"listing_subsidy_myuan", "listing_reserve_support"}, "the decoy was restricted"
    # Box edges lie between the last failing and the first succeeding sample; with 80 uniform
    # points the gap is a few hundredths of a range, so 0.3 m yuan and 0.1 are generous.
    assert abs(box.loc["listing_subsidy_myuan", "low"] - SUBSIDY_CUT) < 0.3
    assert abs(box.loc["listing_reserve_support", "low"] - SUPPORT_CUT) < 0.1
    stats = found.trajectory.iloc[found.chosen]
    assert stats["density"] >= 0.8 and stats["coverage"] >= 0.8, stats
    words = sd.describe_box(found)
    assert "listing subsidy at least 2" in words and "m yuan/firm" in words and "(index 0-1)" in words


def test_threshold_and_per_run_change_what_counts(data, sweep):
    from sim.run.batch import load_batch

    batch = load_batch("sweep", root=sweep)
    inputs = sd.varied_inputs(batch.outcomes)
    _, y_point, _ = sd.discovery_data(batch.outcomes, inputs, COLUMN, threshold=0.5)
    _, y_run, pts = sd.discovery_data(batch.outcomes, inputs, COLUMN, per_run=True)
    assert len(y_run) == 2 * len(y_point) and (pts["n_runs"] == 1).all()
    assert y_run.sum() == 2 * y_point.sum(), "successes are deterministic in this fake, so each run agrees"


def test_choose_box_prefers_coverage_at_the_density_floor():
    t = pd.DataFrame({"box": [0, 1, 2, 3], "coverage": [1.0, 0.9, 0.7, 0.3], "density": [0.3, 0.7, 0.85, 1.0],
                      "mass": [1, 0.6, 0.4, 0.1], "res_dim": [0, 1, 2, 3], "n": [10, 6, 4, 1]})  # fmt: skip
    assert sd.choose_box(t, 0.8) == 2
    assert sd.choose_box(t, 0.6) == 1
    assert sd.choose_box(t.iloc[:2], 0.8) == 1, "with no box dense enough, the densest"


def test_cli_writes_box_files(sweep, capsys):
    folder = sweep / "sweep"
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "outcomes").iterdir()}
    assert cli(["discover", "sweep", "--root", str(sweep), "--target", "listed_companies_2020",
                "--definition", "exchange_neeq"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "coverage" in out and "<- chosen" in out and "listing subsidy at least" in out
    stem = folder / f"discover_{COLUMN}_prim"
    for suffix in ("_trajectory.csv", "_box.csv", "_box.json", "_tradeoff.png"):
        assert (folder / f"{stem.name}{suffix}").stat().st_size > 0
    box = json.loads((folder / f"{stem.name}_box.json").read_text())
    assert set(box["limits"]) == {"listing_subsidy_myuan", "listing_reserve_support"}
    assert box["density"] >= 0.8 and box["limits"]["listing_subsidy_myuan"]["unit"] == "m yuan/firm"
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "outcomes").iterdir()} == before, "batch data touched"


def test_cli_cart_and_chosen_box(sweep, capsys):
    assert cli(["discover", str(sweep / "sweep"), "--target", COLUMN, "--method", "cart", "--box", "0"]) == 0
    assert "box 0 limits" in capsys.readouterr().out


def test_target_never_reached_gives_no_box(sweep, capsys):
    assert cli(["discover", "sweep", "--root", str(sweep), "--target", "tech_projects_2016_2020__signed"]) == 0
    assert "no box: no point reaches the target" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--target", "nope"], "unknown target 'nope'; allowed: tech_projects_each_year"),
        (["--target", "listed_companies_2020"], "choose one of: exchange, exchange_neeq"),
        (["--target", "listed_companies_2020", "--definition", "x"], "allowed: exchange, exchange_neeq"),
        (["--target", COLUMN, "--method", "forest"], "allowed: prim, cart"),
        (["--target", COLUMN, "--threshold", "1.5"], "--threshold must be in (0, 1]"),
        (["--target", COLUMN, "--box", "999"], "--box must be between 0 and"),
    ],
)
def test_cli_bad_arguments(sweep, capsys, args, words):
    folder = sweep / "sweep"
    before = sorted(p.name for p in folder.iterdir())
    assert cli(["discover", "sweep", "--root", str(sweep), *args]) == 2
    assert words in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == before, "a refused command wrote something"


def test_cli_missing_and_corrupt_batch(sweep, tmp_path, capsys):
    assert cli(["discover", "no_such_batch", "--root", str(sweep), "--target", COLUMN]) == 2
    assert "no such results folder" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    assert cli(["discover", str(broken), "--target", COLUMN]) == 3, "a damaged batch is a store fault (exit 3)"
    assert "corrupt manifest" in capsys.readouterr().err
    assert (broken / "manifest.json").read_text(encoding="utf-8") == "{not json", "the damaged manifest was changed"


def test_cli_batch_without_varied_inputs(tmp_path, tiny, capsys):
    run_batch([tiny], reps=2, seed=1, out_root=tmp_path, batch_id="plain", progress=False, run_fn=fake_run)
    assert cli(["discover", "plain", "--root", str(tmp_path), "--target", COLUMN]) == 2
    assert "varies no input" in capsys.readouterr().err


def test_target_column_rules():
    assert sd.target_column("leading_enterprises_2020") == "leading_enterprises_2020__revenue_threshold"
    assert sd.target_column("listed_companies_2020", "exchange") == "listed_companies_2020__exchange"
    with pytest.raises(ScenarioError, match="allowed: signed, registered, started"):
        sd.target_column("tech_projects_2016_2020__bogus")
