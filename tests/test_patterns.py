"""Pattern statistics on constructed firm tables, their spreads, and patterns in a job's distance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.data import load_patterns
from sim.calibration.distance import Discrepancy
from sim.calibration.job import JobError, load_job
from sim.calibration.patterns import (
    exit_hazard,
    hill_exponent,
    landing_share,
    listings_in_month,
    pattern_sd,
    pattern_targets,
    stock_ratio,
    top_share,
)
from sim.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]


def firms(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"industry": np.zeros(n, int), "alive": np.ones(n, bool), "signed_month": np.zeros(n, int),
            "registered_month": np.zeros(n, int), "gone_month": np.full(n, -1), "revenue_myuan": np.ones(n),
            "listed_month": np.full(n, -1)}  # fmt: skip
    return pd.DataFrame({**base, **cols})


def test_exit_hazard_is_exits_over_firm_years_at_risk_by_age():
    # ten firms registered in month 0; two exit in month 6 (first year), one in month 18 (second year);
    # one signed project never registered (not at risk)
    gone = np.r_[6, 6, 18, np.full(7, -1), 5]
    reg = np.r_[np.zeros(10, int), -1]
    table = firms(registered_month=reg, gone_month=gone)
    assert exit_hazard(table, 1, 0, 35) == pytest.approx(2 / ((8 * 12 + 2 * 7) / 12))
    assert exit_hazard(table, 2, 0, 35) == pytest.approx(1 / ((7 * 12 + 7) / 12))
    assert exit_hazard(table, 3, 0, 35) == 0.0
    assert np.isnan(exit_hazard(table, 4, 0, 35))  # nobody is four years old in three years
    # a window that starts late sees only the later exits and exposure
    assert exit_hazard(table, 2, 12, 35) == pytest.approx(1 / ((7 * 12 + 7) / 12))
    # closures only: the first-year leaver that relocated out ends its exposure without counting
    moved = firms(registered_month=reg, gone_month=gone, closed=np.r_[True, False, True, np.zeros(8, bool)])
    assert exit_hazard(moved, 1, 0, 35) == pytest.approx(1 / ((8 * 12 + 2 * 7) / 12))


def test_size_tail_statistics_give_the_known_values():
    assert hill_exponent(np.array([8.0, 4.0, 2.0, 1.0, 0.0]), 2) == pytest.approx(2 / (3 * np.log(2)))
    zipf = 1000.0 / np.arange(1, 1001)  # sizes n/i: an exact Zipf law
    assert hill_exponent(zipf, 200) == pytest.approx(1.0, abs=0.02)  # Hill's bias on a discrete Zipf: +1.3%
    assert np.isnan(hill_exponent(np.array([3.0, 2.0]), 2))
    assert top_share(np.array([5.0, 3.0, 1.0, 1.0]), 0.25) == pytest.approx(0.5)


def test_landing_share_counts_registrations_within_the_horizon_of_signing():
    table = firms(signed_month=np.r_[0, 0, 0, 0, 30], registered_month=np.r_[3, 20, -1, 12, 31])
    assert landing_share(table, 0, 35, horizon=12) == pytest.approx(0.5)  # the month-30 project is too recent


def test_stock_ratio_and_listings_read_the_run():
    monthly = pd.DataFrame({"neeq_quoted": [4.0, 6.0, 5.0]}, index=["2016-08", "2017-03", "2017-04"])
    assert stock_ratio(monthly, "neeq_quoted", "2017-03", "2016-08") == pytest.approx(1.5)
    assert np.isnan(stock_ratio(monthly, "neeq_quoted", "2020-12", "2017-03"))
    table = firms(listed_month=np.r_[7, 7, -1, 7], industry=np.r_[0, 1, 0, 0])
    assert listings_in_month(table, 7) == 3 and listings_in_month(table, 7, industry=0) == 2


def test_the_spread_combines_measurement_and_model_noise_as_documented():
    t = pd.DataFrame({"value": [0.5, 1.0, 0.08], "low": [0.4, 1.0, 0.079], "high": [0.6, 1.0, 0.081],
                      "confidence": ["M", "H", "L"]})  # fmt: skip
    rel = {"H": 0.1, "M": 0.2, "L": 0.4}
    # half-range 0.1 = 20% of 0.5 (M); a point figure: 10% (H); a narrow range: 40% of 0.08 (L)
    assert pattern_sd(t, rel).tolist() == pytest.approx([0.1, 0.1, 0.032])
    assert pattern_sd(t, rel, np.array([0.1, 0.0, np.nan])).tolist() == pytest.approx([np.sqrt(0.02), 0.1, 0.032])


def test_derived_neeq_rise_is_the_ratio_of_the_published_levels():
    targets = pattern_targets(load_patterns()).set_index("statistic")
    assert targets.loc["rise_2016_08_to_2017_03", "value"] == pytest.approx(11023 / 8781)
    assert {"hazard_age_3", "zipf_exponent_revenue_top500", "registered_share_of_signed"} <= set(targets.index)


HEAD = f'''name = "t"
scenario = "{ROOT / "scenarios" / "history.toml"}"
[params.leads_per_month]
low = 10.0
high = 60.0
[[series]]
series = "graphene_firms"
frame = "graphene_park"
'''


def test_a_job_adds_patterns_to_its_distance_with_their_spreads(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text(HEAD + '[[patterns]]\npattern = "exit_hazard_by_age"\nstatistic = "hazard_age_3"\nmodel_sd = 0.02\n'
                    '[[patterns]]\npattern = "landing_share"\nstatistic = "registered_share_of_signed"\nweight = 0.5\n',
                    encoding="utf-8")  # fmt: skip
    job = load_job(path)
    pats = job.patterns.set_index("statistic")
    # hazard 0.095 in 0.08..0.11 (M): max(0.015, 0.019) combined with the model's 0.02
    assert pats.loc["hazard_age_3", "sd"] == pytest.approx(np.hypot(0.2 * 0.095, 0.02))
    disc = Discrepancy.from_observations(job.observations, job.patterns)
    n = len(job.observations)
    assert len(disc.y) == n + 2 and disc.y[n] == pytest.approx(0.095)
    assert disc.weight[n] == pytest.approx(2 * disc.weight[n + 1]) and disc.weight.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "extra, key, needle",
    [
        ('[[patterns]]\npattern = "luck"\nstatistic = "x"\n', "patterns[0]", "no model statistic"),
        (
            '[[patterns]]\npattern = "landing_share"\nstatistic = "registered_share_of_signed"\nmodel_sd = -1\n',
            "patterns[0].model_sd",
            "at least 0",
        ),  # fmt: skip
        (
            '[[patterns]]\npattern = "neeq_contraction"\nstatistic = "ratio_2020_end_to_2017_march"\n',
            "patterns[0]",
            "needs a run covering 2017-03..2020-12",
        ),  # fmt: skip
        ('method = "hm"\n', "method", "allowed: abc, msm, hm"),
        ("[hm]\ncutoff = 0.1\n", "hm.cutoff", "at least 0.5"),
        ("[hm]\nrank = 1.5\n", "hm.rank", "whole"),
        ("[hm]\nwavs = 3\n", "hm.wavs", "unknown key"),
    ],
)
def test_bad_patterns_and_hm_settings_are_refused_with_exit_code_2(tmp_path, capsys, extra, key, needle):
    path = tmp_path / "job.toml"
    text = HEAD + extra if not extra.startswith("method") else extra + HEAD
    path.write_text(text.replace('method = "hm"', 'method = "hmm"'), encoding="utf-8")
    with pytest.raises(JobError) as err:
        load_job(path)
    message = str(err.value)
    assert str(path) in message and f"key '{key}'" in message and needle in message, message
    assert cli(["calibrate", str(path), "--check"]) == 2


def test_the_model_noise_of_a_pattern_is_its_sd_over_replications(tmp_path):
    from sim.calibration.patterns import job_pattern_noise

    path = tmp_path / "job.toml"
    path.write_text(HEAD + '[[patterns]]\npattern = "landing_share"\nstatistic = "registered_share_of_signed"\n',
                    encoding="utf-8")  # fmt: skip
    job = load_job(path)
    calls = []

    def fake_run(scenario, seed):  # replication i: i + 1 of four signed projects land within a year
        i = len(calls)
        calls.append(scenario.values["leads_per_month"])
        reg = np.r_[np.full(i + 1, 3), np.full(3 - i, -1)]
        return None, firms(signed_month=np.zeros(4, int), registered_month=reg), 0, 35

    table = job_pattern_noise(job, k=3, run=fake_run)
    assert table["model_sd"].iloc[0] == pytest.approx(np.std([0.25, 0.5, 0.75], ddof=1))
    assert calls == [35.0] * 3, "replications run at the prior median"
    assert "model_sd = 0.25" in table["toml"].iloc[0]


def _job_with_patterns(tmp_path, extra=""):
    path = tmp_path / "job.toml"
    path.write_text(HEAD + extra + '[[patterns]]\npattern = "exit_hazard_by_age"\nstatistic = "hazard_age_3"\n'
                    'model_sd = 0.02\n[[patterns]]\npattern = "landing_share"\n'
                    'statistic = "registered_share_of_signed"\nweight = 0.5\n'
                    'model_sd = 0.03\n[[patterns]]\npattern = "exit_hazard_by_age"\n'
                    'statistic = "hazard_age_1"\nweight = 0\n', encoding="utf-8")  # fmt: skip
    return load_job(path)


def test_every_method_matches_the_job_patterns_with_its_own_spread(tmp_path, monkeypatch):
    """ABC scales by measurement and model noise; MSM and HM add the model's variance themselves."""
    from sim.calibration import abc_smc, history_matching, msm
    from sim.calibration.parallel import Pool
    from sim.calibration.patterns import PatternSimulator
    from sim.calibration.progress import disabled

    job = _job_with_patterns(tmp_path)
    n, fitted = len(job.observations), job.patterns[job.patterns["weight"] > 0]
    keys = [("exit_hazard_by_age", "hazard_age_3"), ("landing_share", "registered_share_of_signed")]
    values = np.r_[job.observations["value"], fitted["value"]]
    # ABC: the stored observation and the distance hold the two weighted patterns (not the weight-0 one)
    assert np.allclose(abc_smc._observed(job), values)
    sim, disc = abc_smc.job_model(job)
    assert isinstance(sim, PatternSimulator) and list(sim.pattern_keys) == keys
    assert np.allclose(disc.sd[n:], np.hypot(fitted["sd_meas"], [0.02, 0.03]))
    # MSM: the objective's model and distance, with the measurement spread only
    obj = msm.Objective(job, tmp_path / "msm", Pool(1), False, np.inf, lambda line: None, disabled())
    assert isinstance(obj.sim.sim, PatternSimulator) and np.allclose(obj.disc.y, values)
    assert np.allclose(obj.disc.sd[n:], fitted["sd_meas"]) and np.all(obj.disc.sd[n:] < disc.sd[n:])
    # HM: what run_hm hands the history matching
    seen = {}

    def fake_match(runs, k, y, var_obs, var_model, *args):
        seen.update(sim=runs.sim, y=y, var_obs=var_obs)
        raise StopIteration

    monkeypatch.setattr(history_matching, "history_match", fake_match)
    monkeypatch.setattr(history_matching, "model_variance", lambda job, sim, pool: np.zeros(n + 2))
    hm_job = job.__class__(**{**job.__dict__, "method": "hm"})
    with pytest.raises(StopIteration):
        history_matching.run_hm(hm_job, tmp_path / "hm", Pool(1), log=lambda line: None)
    assert isinstance(seen["sim"], PatternSimulator) and np.allclose(seen["y"], values)
    assert np.allclose(seen["var_obs"][n:], fitted["sd_meas"] ** 2)


def test_the_model_noise_file_widens_each_figure_and_a_stale_one_is_refused(tmp_path, capsys):
    extra = '[distance]\nmodel_noise = "noise.csv"\n'
    with pytest.raises(JobError, match="distance.model_noise"):
        _job_with_patterns(tmp_path, extra)  # the file does not exist yet
    bare = load_job(tmp_path / "job.toml", model_noise=False)
    model_sd = np.arange(1.0, len(bare.observations) + 1)
    pd.DataFrame({"obs": bare.observations["obs"], "model_sd": model_sd}).to_csv(tmp_path / "noise.csv", index=False)
    job = load_job(tmp_path / "job.toml")
    assert np.allclose(job.observations["sd"], np.hypot(bare.observations["sd_meas"], model_sd))
    assert np.allclose(job.observations["sd_meas"], bare.observations["sd_meas"])
    pd.DataFrame({"obs": bare.observations["obs"][1:], "model_sd": model_sd[1:]}).to_csv(tmp_path / "noise.csv")
    with pytest.raises(JobError) as err:
        load_job(tmp_path / "job.toml")
    assert "noise.csv" in str(err.value) and "key 'obs'" in str(err.value) and "no row for" in str(err.value)
    assert cli(["calibrate", str(tmp_path / "job.toml"), "--check"]) == 2


def test_job_noise_is_the_sd_over_replications_of_every_figure(tmp_path):
    """The noise file's figures are the replications' sd; the patterns' agree with job_pattern_noise (same seeds)."""
    from sim.calibration.distance import replication_sd
    from sim.calibration.patterns import job_model, job_noise, job_pattern_noise
    from sim.run.runner import replicate_seeds

    job = _job_with_patterns(tmp_path)
    series, patterns = job_noise(job, k=3)
    sim, _ = job_model(job)
    theta = {p.name: float(p.ppf(0.5)) for p in job.priors}
    direct = np.array([sim.figures(theta, s) for s in replicate_seeds(job.seed + 23, 3)])
    n = len(job.observations)
    assert list(series["obs"]) == list(job.observations["obs"]) and (series["runs"] == 3).all()
    assert np.allclose(series["model_sd"], replication_sd(direct[:, :n]), equal_nan=True)
    assert np.allclose(patterns["model_sd"], replication_sd(direct[:, n:]), equal_nan=True)
    fitted = job.__class__(**{**job.__dict__, "patterns": job.patterns[job.patterns["weight"] > 0]})
    assert np.allclose(patterns["model_sd"], job_pattern_noise(fitted, k=3)["model_sd"], equal_nan=True)
    assert np.nanmax(series["model_sd"]) > 0, "the runs differ"


def test_a_synthetic_record_moves_the_pattern_ranges_with_their_values(tmp_path):
    from sim.calibration.synthetic import with_pattern_values, with_values

    job = _job_with_patterns(tmp_path)
    n = len(job.observations)
    figures = np.r_[job.observations["value"] * 2, 0.2, 0.6]
    pats = with_pattern_values(job, figures)
    assert list(pats["value"]) == [0.2, 0.6]
    assert list(pats["statistic"]) == ["hazard_age_3", "registered_share_of_signed"]
    fitted = job.patterns[job.patterns["weight"] > 0].reset_index(drop=True)
    assert np.allclose(pats["high"] - pats["low"], fitted["high"] - fitted["low"])
    assert np.allclose(pats["sd"], np.hypot(pats["sd_meas"], fitted["model_sd"]))
    obs = with_values(job, figures)
    assert len(obs) == n and np.allclose(obs["value"], 2 * job.observations["value"])


def test_the_noise_floor_lies_between_one_and_the_root_of_two():
    from sim.calibration.patterns import noise_floor

    w = np.array([1.0, 3.0])
    assert noise_floor(w, np.ones(2), np.zeros(2)) == pytest.approx(1.0)  # measurement error alone
    assert noise_floor(w, np.zeros(2), np.ones(2)) == pytest.approx(np.sqrt(2.0))  # model noise alone
    # equal parts in the heavier figure only: 1/4 * 1 + 3/4 * 1.5
    assert noise_floor(w, np.ones(2), np.r_[0.0, 1.0]) == pytest.approx(np.sqrt(0.25 + 0.75 * 1.5))


@pytest.mark.slow  # one small ABC fit with its predictive check: about 20 s
def test_an_abc_fit_matches_the_patterns_and_checks_them_against_its_runs(tmp_path):
    import json

    from sim.calibration.abc_smc import _observed
    from sim.calibration.calibrate import calibrate
    from sim.calibration.synthetic import synthetic_data, write_data
    from sim.model.scenario import load_scenario

    (tmp_path / "scenario.toml").write_text(
        f'base = "{ROOT / "scenarios" / "tiny.toml"}"\nname = "tiny12"\nhistory_start = "2016-07"\nend = "2017-06"\n',
        encoding="utf-8",
    )
    figures = [("firms", "park", "stock", "2017-06-30")]
    data = synthetic_data(load_scenario(tmp_path / "scenario.toml"), {"leads_per_month": 30.0}, figures, seed=2)
    write_data(data, tmp_path / "data.csv")
    (tmp_path / "job.toml").write_text(
        'name = "p"\nscenario = "scenario.toml"\ndata = "data.csv"\nseed = 3\n[params.leads_per_month]\nlow = 10.0\n'
        'high = 60.0\n[[series]]\nseries = "firms"\n[abc]\npopulation = 8\nmax_generations = 1\n'
        "[output]\npredictive_runs = 4\nposterior_draws = 8\n"
        '[[patterns]]\npattern = "exit_hazard_by_age"\nstatistic = "hazard_age_1"\nmodel_sd = 0.01\n',
        encoding="utf-8",
    )
    job = load_job(tmp_path / "job.toml")
    res = calibrate(job, out=tmp_path / "out", log=lambda line: None)
    from pyabc import History

    stored = History(f"sqlite:///{tmp_path / 'out' / 'abc.db'}").observed_sum_stat()["x"]
    assert len(stored) == 2 and np.allclose(stored, _observed(job)) and stored[1] == pytest.approx(0.016)
    check = pd.read_csv(tmp_path / "out" / "predictive_patterns.csv")
    assert list(check["statistic"]) == ["hazard_age_1"] and check["sim_q05"].iloc[0] <= check["sim_q95"].iloc[0]
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert manifest["pattern_figures"] == 1 and manifest["patterns_covered"] == int(check["covered"].sum())
    assert res["job"] == "p"
