"""Recovery: data simulated at known parameters (tiny scenario) are fitted back, by ABC-SMC and by MSM.

The two parameters are chosen to be identifiable from the figures by design:
``leads_per_month`` moves the signed-project flow, ``exit_peak_per_year`` the
closures. The synthetic record is one run at the truth (data seed 1), so the
fit must account for the noise of a single history, as on the real record.
Over data seeds 1-8 the 90% intervals covered the true value in 15 (MSM) and
13 (ABC) of 16 (parameter, seed) cases (docs/calibration.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.calibration.calibrate import calibrate
from sim.calibration.job import load_job
from sim.calibration.synthetic import synthetic_data, write_data
from sim.model.scenario import load_fitted, load_scenario

pytestmark = pytest.mark.slow  # fits two calibrations: about 140 s on one core

ROOT = Path(__file__).resolve().parents[1]
# A cold start at 2016-07 (no 2014 warm-up): the fit machinery is the same and the runs are 2-3x shorter.
# The forked path through calibration is covered by test_calibration_budget, test_crossval and test_history_matching.
COLD = 'history_start = "2016-07"\n'
TRUTH = {"leads_per_month": 30.0, "exit_peak_per_year": 0.095}
FIGURES = [
    ("firms", "park", "stock", "2017-06-30"),
    ("firms", "park", "stock", "2018-06-30"),
    ("projects_signed", "park", "flow_year", "2017-06-30"),
    ("projects_signed", "park", "flow_year", "2018-06-30"),
    ("firms_closed", "park", "flow_year", "2017-06-30"),
    ("firms_closed", "park", "flow_year", "2018-06-30"),
]
JOB = """name = "recovery_{method}"
method = "{method}"
scenario = "scenario.toml"
data = "data.csv"
seed = 5

[params.leads_per_month]
low = 10.0
high = 60.0

[params.exit_peak_per_year]
low = 0.03
high = 0.25

[[series]]
series = "firms"

[[series]]
series = "projects_signed"

[[series]]
series = "firms_closed"

[distance]  # synthetic figures are exact: the noise of the single history dominates
rel_sd = {{H = 0.05}}
min_sd = {{firms = 1.0, projects = 1.0}}

[abc]
population = 40
max_generations = 4

[msm]
replications = 8
start_points = 4
max_evaluations = 30

[output]
predictive_runs = 8
posterior_draws = 40
"""


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> Path:
    """A folder with a 24-month tiny scenario and its synthetic record."""
    folder = tmp_path_factory.mktemp("recovery")
    tiny = ROOT / "scenarios" / "tiny.toml"
    (folder / "scenario.toml").write_text(
        f'base = "{tiny}"\nname = "tiny24"\n{COLD}end = "2018-06"\n', encoding="utf-8"
    )
    scenario = load_scenario(folder / "scenario.toml")
    write_data(synthetic_data(scenario, TRUTH, FIGURES, seed=1), folder / "data.csv")
    return folder


def fit(folder: Path, method: str):
    path = folder / f"{method}.toml"
    path.write_text(JOB.format(method=method), encoding="utf-8")
    return calibrate(load_job(path), out=folder / method, workers=1, log=lambda line: None)


def check_recovered(result: dict) -> None:
    summary = result["summary"].set_index("param")
    for name, true in TRUTH.items():
        row = summary.loc[name]
        assert row["q05"] <= true <= row["q95"], f"{name}: truth {true} outside 90% interval {row['q05']}..{row['q95']}"
        assert row["narrowing"] > 0.25, f"{name}: the data should narrow the prior, got {row['narrowing']:.2f}"
    out = result["out"]
    fitted = load_fitted(out / "params.toml")
    assert set(fitted) == set(TRUTH)
    for name in ("prior_posterior.png", "predictive.png", "summary.csv", "predictive.csv", "posterior_draws.csv"):
        assert (out / name).stat().st_size > 0, name


def test_abc_smc_recovers_known_parameters(record):
    np.random.seed(2016)  # noqa: NPY002 - pyABC draws proposals from numpy's global state; fixed for a stable test
    result = fit(record, "abc")
    check_recovered(result)
    schedule = np.genfromtxt(result["out"] / "generations.csv", delimiter=",", names=True)
    assert len(schedule) >= 3 and np.all(np.diff(schedule["epsilon"]) < 0), "epsilon must fall every generation"
    assert (result["out"] / "abc_schedule.png").exists()


def test_simulated_moments_recover_known_parameters(record):
    result = fit(record, "msm")
    check_recovered(result)
    summary = result["summary"].set_index("param")
    assert np.all(np.isfinite(summary["se"])) and np.all(summary["se"] > 0)
    assert (result["out"] / "msm_trace.png").exists()
