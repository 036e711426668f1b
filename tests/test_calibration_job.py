"""Calibration job files and the history run: bad input is refused clearly; the history is aligned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.calibration.job import JobError, load_job
from sim.calibration.simulator import Simulator
from sim.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JOB = ROOT / "calibration" / "jobs" / "default.toml"
DATA = ROOT / "calibration" / "data" / "west_taihu_history.csv"

HEAD = f'''name = "t"
scenario = "{ROOT / "scenarios" / "history.toml"}"
data = "{DATA}"
'''
PARAM = """
[params.leads_per_month]
prior = "uniform"
low = 10.0
high = 60.0
"""
SERIES = """
[[series]]
series = "graphene_firms"
frame = "graphene_park"
"""


def job_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_job_is_valid_and_fits_the_three_frames():
    job = load_job(DEFAULT_JOB)
    assert job.method == "abc" and job.scenario.start < "2016-07"
    fitted = job.observations[job.observations["weight"] > 0]
    assert {"graphene_park", "cip", "health_park"} <= set(fitted["frame"])
    by_series = fitted.groupby(["series", "frame"])
    assert np.allclose(by_series["weight"].sum(), by_series["series_weight"].first()), "a series' weight is shared"
    # every fitted parameter is an uncertainty whose prior lies inside its declared range
    from sim.model.params import UNCERTAINTIES

    for p in job.priors:
        assert UNCERTAINTIES[p.name].low <= p.low < p.high <= UNCERTAINTIES[p.name].high


@pytest.mark.parametrize(
    "text, key, needle",
    [
        (HEAD + "[params.leads_per_montth]\nlow = 10\n" + SERIES, "params.leads_per_montth", "unknown parameter"),
        (HEAD + "[params.attraction_effort_index]\n" + SERIES, "params.attraction_effort_index", "is a lever input"),
        (HEAD + "[params.leads_per_month]\nlow = 1.0\n" + SERIES, "params.leads_per_month.low", "range 5..120"),
        (
            HEAD + '[params.exit_peak_per_year]\nprior = "normal"\nmean = 0.5\nsd = 0.1\n' + SERIES,
            "params.exit_peak_per_year.mean",
            "outside the prior's range",
        ),
        (HEAD + PARAM + '[[series]]\nseries = "graphene_firmz"\n', "series[0].series", "no rows for 'graphene_firmz'"),
        (HEAD + PARAM + '[[series]]\nseries = "graphene_firms"\n', "series[0].frame", "name one"),
        (HEAD + PARAM + '[[series]]\nseries = "gdp"\n', "series[0]", "cannot produce 'gdp'"),
        (
            HEAD + PARAM + SERIES.replace('park"', 'park"\nfrom = "2018-01-01"'),
            "series[0]",
            "empty data selection",
        ),
        (HEAD.replace('name = "t"', 'method = "mcmc"') + PARAM + SERIES, "method", "allowed: abc, msm"),
        (HEAD + PARAM + SERIES + "[abc]\npopulaton = 10\n", "abc.populaton", "unknown key"),
        (HEAD + PARAM + SERIES + "[abc]\npopulation = 2\n", "abc.population", "at least 4"),
        (HEAD + PARAM + SERIES.replace('park"', 'park"\nweight = 0'), "series", "nothing would be fitted"),
        (HEAD + PARAM + SERIES + "[abc]\nmin_epsilon = nan\n", "abc.min_epsilon", "finite"),
        (HEAD + PARAM + SERIES.replace('park"', 'park"\nweight = inf'), "series[0].weight", "finite"),
        (HEAD + "[params.leads_per_month]\nhigh = nan\n" + SERIES, "params.leads_per_month.high", "finite"),
    ],
)
def test_a_bad_job_names_the_file_the_key_and_what_is_allowed(tmp_path, text, key, needle):
    path = job_file(tmp_path, text)
    with pytest.raises(JobError) as err:
        load_job(path)
    message = str(err.value)
    assert str(path) in message and f"key '{key}'" in message and needle in message, message


def test_the_command_line_refuses_a_bad_job_with_exit_code_2(tmp_path, capsys):
    path = job_file(tmp_path, HEAD + "[params.not_a_param]\n" + SERIES)
    assert cli(["calibrate", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "not_a_param" in err and "unknown parameter" in err
    assert cli(["calibrate", str(DEFAULT_JOB), "--check"]) == 0
    assert cli(["calibrate", str(DEFAULT_JOB), "--check", "--budget", "soon"]) == 2


def test_the_history_run_produces_every_fitted_series_aligned_by_date():
    job = load_job(DEFAULT_JOB)
    sim = Simulator(job.scenario, job.observations, job.param_names, job.seed)
    theta = {p.name: float(p.ppf(0.5)) for p in job.priors}
    figures, traj = sim.trajectories_task((theta, np.random.SeedSequence(3)))
    assert np.all(np.isfinite(figures)), "every figure of the default job is measured"
    months = sim.months()
    assert months[0] == "2014-01" and months[-1] == "2017-12"
    for r, value in zip(job.observations.itertuples(), figures, strict=True):
        series = traj[(r.series, r.frame, r.kind)]
        assert series[months.index(r.month)] == value, f"{r.obs} is read from the month of its date"
    graphene = traj[("graphene_firms", "graphene_park", "stock")]
    assert graphene[0] == pytest.approx(job.scenario["init_graphene_firms"], abs=3)


def test_the_progress_eta_names_the_limit_that_will_stop_the_fit():
    from sim.calibration.progress import FitProgress, clock

    roomy = FitProgress("ABC", "generation", (3, "max_generations"), budget=1e6, enabled=False)
    assert roomy.eta() == (None, "budget") and "no generation timed yet" in roomy.text()
    roomy.step(10.0, "last: epsilon 2")
    seconds, binding = roomy.eta()
    assert binding == "max_generations" and 0 <= seconds <= 20.0, "two generations of about 10 s are left"
    assert "generation 1/3" in roomy.text() and "last: epsilon 2" in roomy.text()
    tight = FitProgress("MSM", "point", (100, "max_evaluations"), budget=0.0, enabled=False)
    tight.step(10.0)
    assert tight.eta() == (0.0, "budget") and tight.fraction() == 1.0
    assert clock(59.6) == "1:00" and clock(3725) == "1:02:05"
