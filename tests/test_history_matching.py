"""History matching (sim.calibration.history_matching): a cheap synthetic simulator with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calibration.distance import replication_sd
from sim.calibration.history_matching import HmSettings, history_match, implausibility, ranked

NOISE = 0.02  # run-to-run sd of the synthetic simulator
TRUTH = np.array([0.3, 0.6])


def _truth_figures(u: np.ndarray) -> np.ndarray:
    u = np.atleast_2d(u)
    return np.column_stack([u[:, 0] + 0.5 * u[:, 1], u[:, 0] - u[:, 1] ** 2, np.sin(3.0 * u[:, 1])])


class Synthetic:
    """A stochastic function, not the park: three figures of two parameters plus Gaussian noise."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def __call__(self, u: np.ndarray) -> np.ndarray:
        self.calls += len(u)
        f = _truth_figures(u)
        return f + self.rng.normal(0.0, NOISE, f.shape)


def _match(seed: int = 3, **kw):
    z = _truth_figures(TRUTH)[0] + np.random.default_rng(99).normal(0.0, NOISE, 3)  # one noisy "history"
    sim = Synthetic(seed)
    var_model = replication_sd(sim(np.repeat(TRUTH[None, :] * 0 + 0.5, 20, axis=0))) ** 2  # at the prior mean
    settings = HmSettings(**{"waves": 4, "runs": 30, "candidates": 3000, **kw})
    return history_match(sim, 2, z, np.full(3, NOISE**2), var_model, settings, seed=seed, log=lambda _: None), sim


def test_history_matching_keeps_the_truth_and_shrinks_the_prior_box():
    res, sim = _match()
    assert res.plausible(TRUTH[None, :])[0], "the truth must stay non-implausible"
    vol = res.waves["volume"].to_numpy()
    assert vol[-1] < 0.05, f"the non-implausible volume should shrink far below the prior box, got {vol}"
    assert np.all(np.diff(vol) <= 1e-9), "each wave keeps a subset of the previous one"
    assert len(res.sample) > 0 and sim.calls == res.simulations + 20
    centre = res.sample.mean(axis=0)
    assert np.abs(centre - TRUTH).max() < 0.1
    assert res.sample.min(axis=0).tolist() <= TRUTH.tolist() <= res.sample.max(axis=0).tolist()


def test_history_matching_is_reproducible_for_a_seed():
    a, _ = _match(seed=5, waves=2)
    b, _ = _match(seed=5, waves=2)
    assert np.array_equal(a.sample, b.sample) and a.waves["volume"].tolist() == b.waves["volume"].tolist()


def test_implausibility_is_the_standardised_distance_and_bounds_count_from_below():
    mu = np.array([[10.0, 4.0, 4.0]])
    z = np.array([7.0, 5.0, 3.0])
    out = implausibility(mu, np.array([[1.0, 0.0, 0.0]]), z, np.array([4.0, 1.0, 1.0]), np.array([4.0, 0.0, 0.0]),
                         np.array([False, True, True]))  # fmt: skip
    assert out[0].tolist() == pytest.approx([1.0, 1.0, 0.0])  # 3/sqrt(9); 1 below a bound; above a bound: 0
    assert ranked(np.array([[1.0, 5.0, 3.0]]), 1)[0] == 5.0 and ranked(np.array([[1.0, 5.0, 3.0]]), 2)[0] == 3.0


def test_replication_sd_is_the_sample_sd_over_finite_runs():
    f = np.array([[1.0, 2.0, np.nan], [3.0, 2.0, 1.0], [np.nan, 2.0, np.nan]])
    sd = replication_sd(f)
    assert sd[0] == pytest.approx(np.sqrt(2.0)) and sd[1] == 0.0 and np.isnan(sd[2])


JOB = """name = "hm_smoke"
method = "hm"
scenario = "scenario.toml"
data = "data.csv"
seed = 5

[params.leads_per_month]
low = 10.0
high = 60.0

[[series]]
series = "firms"

[[series]]
series = "projects_signed"

[[patterns]]
pattern = "landing_share"
statistic = "registered_share_of_signed"

[[patterns]]
pattern = "exit_hazard_by_age"
statistic = "hazard_age_2"

[distance]
rel_sd = {H = 0.05}
min_sd = {firms = 1.0, projects = 1.0}

[hm]
waves = 2
runs = 8
candidates = 400
replications = 3

[output]
predictive_runs = 4
posterior_draws = 20
"""


@pytest.mark.slow  # about 30 runs of a 24-month tiny park
def test_parksim_calibrate_runs_a_tiny_hm_job_and_writes_the_fitted_folder(tmp_path):
    from pathlib import Path

    from sim.calibration.synthetic import synthetic_data, write_data
    from sim.cli import main as cli
    from sim.model.scenario import load_fitted, load_scenario

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "scenario.toml").write_text(
        f'base = "{root / "scenarios" / "tiny.toml"}"\nname = "tiny24"\nend = "2018-06"\n', encoding="utf-8"
    )
    figures = [("firms", "park", "stock", "2018-06-30"), ("projects_signed", "park", "flow_year", "2018-06-30")]
    scenario = load_scenario(tmp_path / "scenario.toml")
    write_data(synthetic_data(scenario, {"leads_per_month": 30.0}, figures, seed=1), tmp_path / "data.csv")
    (tmp_path / "job.toml").write_text(JOB, encoding="utf-8")
    out = tmp_path / "fitted"
    assert cli(["calibrate", str(tmp_path / "job.toml"), "--out", str(out), "--quiet"]) == 0
    for name in ("params.toml", "summary.csv", "posterior_draws.csv", "predictive.csv", "waves.csv", "hm_runs.csv",
                 "nonimplausible.csv", "run.json"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    runs = pd.read_csv(out / "hm_runs.csv")
    assert {"f2", "f3"} <= set(runs.columns), "the two pattern statistics follow the two series figures"
    assert runs["f2"].between(0, 1).all() and (runs["f3"] >= 0).all()  # a share and a hazard
    waves = np.genfromtxt(out / "waves.csv", delimiter=",", names=True)
    assert np.all(np.atleast_1d(waves["volume"]) <= 1.0)
    assert 10.0 <= load_fitted(out / "params.toml")["leads_per_month"] <= 60.0
    # a resumed run replays the stored waves without simulating them again: the same points and figures
    before = (out / "hm_runs.csv").read_text()
    lines = len((out / "hm_cache.jsonl").read_text().splitlines())
    assert cli(["calibrate", str(tmp_path / "job.toml"), "--out", str(out), "--quiet"]) == 2  # never overwritten
    assert cli(["calibrate", str(tmp_path / "job.toml"), "--out", str(out), "--quiet", "--resume"]) == 0
    assert (out / "hm_runs.csv").read_text() == before
    assert len((out / "hm_cache.jsonl").read_text().splitlines()) == lines


def test_cutting_on_the_second_largest_implausibility_keeps_more_of_the_box():
    rank1, _ = _match(seed=3, waves=1)
    rank2, _ = _match(seed=3, waves=1, rank=2)
    assert rank2.waves["volume"].iloc[0] > rank1.waves["volume"].iloc[0]
    loose, _ = _match(seed=3, waves=1, cutoff=5.0)
    assert loose.waves["volume"].iloc[0] > rank1.waves["volume"].iloc[0]
