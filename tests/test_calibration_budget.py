"""The time budget of a fit is honoured within a generation (ABC) and within a point (MSM), and says so;
calibrations report simulations per second and the share of time outside the simulator.

Where the budget must bind at an exact point the budget's clock
(``sim.calibration.progress.now``) is replaced by a count of simulations, so
nothing depends on how fast this machine is; the one real-time test has only a
generous upper bound.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sim.calibration import progress
from sim.calibration.calibrate import calibrate
from sim.calibration.job import JobError, load_job
from sim.calibration.synthetic import synthetic_data, write_data
from sim.model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
JOB = """name = "budget_{method}"
method = "{method}"
scenario = "scenario.toml"
data = "data.csv"
seed = 3

[params.leads_per_month]
low = 10.0
high = 60.0

[params.p_register_per_month]
low = 0.02
high = 0.25

[[series]]
series = "projects_signed"

[[series]]
series = "firms"

[abc]
population = 8
max_generations = 6

[msm]
replications = 3
start_points = 2
max_evaluations = 12

[output]
predictive_runs = 2
posterior_draws = 8
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A 12-month tiny scenario with a synthetic record and one job file per method."""
    folder = tmp_path_factory.mktemp("budget")
    tiny = ROOT / "scenarios" / "tiny.toml"
    (folder / "scenario.toml").write_text(f'base = "{tiny}"\nname = "tiny12"\nend = "2017-06"\n', encoding="utf-8")
    figures = [("projects_signed", "park", "flow_year", "2017-06-30"), ("firms", "park", "stock", "2017-06-30")]
    truth = {"leads_per_month": 30.0, "p_register_per_month": 0.08}
    write_data(synthetic_data(load_scenario(folder / "scenario.toml"), truth, figures, seed=2), folder / "data.csv")
    for method in ("abc", "msm"):
        (folder / f"{method}.toml").write_text(JOB.format(method=method), encoding="utf-8")
    return folder


def quiet(line):
    pass


class SimulationClock:
    """A budget clock that advances one 'second' per call of the simulator's deadline check."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


@pytest.mark.slow  # three short generations of a real ABC job: about 10 s of CPU
def test_abc_stops_within_a_generation_when_the_budget_runs_out_and_says_where(folder, monkeypatch):
    clock = SimulationClock()
    monkeypatch.setattr(progress, "now", clock)
    lines = []
    # generation 0 (8 particles, plus pyABC's calibration sample of 8) took 26 simulations at this commit;
    # 50 "seconds" of simulations end the fit inside a later generation, long before max_generations
    result = calibrate(load_job(folder / "abc.toml"), out=folder / "abc_out", budget=50, log=lines.append)
    reason = result["stop_reason"]
    assert reason.startswith("budget: stopped in generation ") and "after" in reason, reason
    stopped_in = int(reason.split("generation ")[1].split()[0])
    assert stopped_in >= 1
    import pandas as pd

    gens = pd.read_csv(folder / "abc_out" / "generations.csv")
    assert len(gens) == stopped_in, "the generations before the cut are kept, the cut one is not stored"
    assert any(line.startswith("stopped: budget: stopped in generation") for line in lines), lines
    # throughput in the progress output and the manifest
    assert any("simulations/s" in line and "outside the simulator" in line for line in lines), lines
    tp = result["fit_throughput"]
    assert tp["simulations"] > 0 and tp["simulations_per_second"] > 0
    assert 0.0 <= tp["share_outside_simulator"] <= 1.0 and tp["seconds_inside_simulator"] > 0
    assert result["simulations_per_second"] == tp["simulations_per_second"]
    assert result["predictive_throughput"]["simulations"] == 2
    manifest = json.loads((folder / "abc_out" / "run.json").read_text(encoding="utf-8"))
    assert manifest["stop_reason"] == reason and manifest["fit_throughput"]["simulations"] == tp["simulations"]
    assert manifest["share_outside_simulator"] == tp["share_outside_simulator"]


def test_abc_with_a_budget_too_small_for_generation_0_stops_quickly_and_says_why(folder):
    budget = 0.5
    t0 = time.perf_counter()
    with pytest.raises(JobError, match="budget: stopped in generation 0") as err:
        calibrate(load_job(folder / "abc.toml"), out=folder / "abc_tiny_budget", budget=budget, log=quiet)
    assert "--resume" in str(err.value) and "larger --budget" in str(err.value)
    assert time.perf_counter() - t0 < 10 * budget + 20, "generous bound: start-up and one simulation in flight"


def test_msm_stops_within_its_search_when_the_budget_runs_out(folder, monkeypatch):
    clock = SimulationClock()
    monkeypatch.setattr(progress, "now", clock)
    job = load_job(folder / "msm.toml")
    from sim.calibration import msm
    from sim.calibration.parallel import Pool

    # the first point (the weighting matrix, 3 replications) runs outside the budget; the clock then
    # ticks once per simulation: deadline at tick 8, so points 2 and 3 run and point 4 is cut off
    with Pool(1) as pool:
        out = msm.run_msm(job, folder / "msm_cut", pool, budget=7, log=quiet)
    assert out.stop_reason.startswith("budget reached"), out.stop_reason
    # 3 points of the search (the 4th, cut off, is not stored) and the Jacobian's 2 x 2 points
    assert out.points == 3 + 4, "the point cut off is not stored"
    assert sum(1 for _ in (folder / "msm_cut" / "msm_cache.jsonl").open()) == 3 + 4
    assert out.throughput["simulations"] > 0


def test_the_progress_bar_and_the_throughput_figures_count_worker_reports():
    tp = progress.Throughput(workers=2)
    bar = progress.FitProgress("ABC", "generation", (3, "max_generations"), budget=1e6, enabled=False)
    bar.watch_throughput(tp)
    assert "sims/s" not in bar.text(), "no simulation yet: no rate"
    tp.remote, tp.remote_calls = 0.5, 4  # what workers report through TimedPool
    fig = tp.figures()
    assert fig["simulations"] == 4 and fig["seconds_inside_simulator"] == pytest.approx(0.5, abs=1e-3)
    assert 0.0 <= fig["share_outside_simulator"] <= 1.0
    assert "sims/s" in bar.text()
    assert "4 simulations" in progress.Throughput.line(fig) and "outside the simulator" in progress.Throughput.line(fig)
