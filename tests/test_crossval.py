"""Cross-validation of calibration (sim/calibration/crossval.py): coverage, shrinkage, resumability, CLI.

The fast tests use a cheap analytic simulator whose answers are known: two
parameters ``a`` and ``b`` are each observed with small Gaussian noise, a third
``c`` enters no output. Fitted exactly (prior draws weighted by the likelihood),
the 90% intervals must cover about 90% of the truths, ``a`` and ``b`` must shrink
almost fully and ``c`` not at all, and the report must name ``c`` unidentified.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration import crossval
from sim.calibration.crossval import (
    Design,
    Posterior,
    binomial_interval,
    identifiability_table,
    local_sensitivity,
    markdown_report,
    run_crossval,
    write_outputs,
)
from sim.calibration.job import Prior
from sim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
NOISE = 0.05  # sd of each cheap observation
PRIORS = [Prior("a", "uniform", 0.0, 1.0), Prior("b", "uniform", 0.0, 1.0), Prior("c", "uniform", 0.0, 1.0)]
STATS = ["a_obs@x@2016-06-30", "b_obs@x@2016-06-30", "b_obs@x@2017-06-30"]


def cheap_simulate(theta: dict, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([theta["a"], theta["b"], theta["b"]]) + NOISE * rng.standard_normal(3)


def cheap_design(seed: int = 7) -> Design:
    return Design(["a", "b", "c"], PRIORS, cheap_simulate, STATS, np.full(3, NOISE), seed)


def exact_fitter(calls: list | None = None, draws: int = 20_000):
    """Prior draws weighted by the Gaussian likelihood: the exact posterior, up to Monte Carlo error."""

    def fit(i, figures, work):
        if calls is not None:
            calls.append(i)
        rng = np.random.default_rng(1000 + i)
        theta = pd.DataFrame(rng.random((draws, 3)), columns=["a", "b", "c"])
        pred = np.column_stack([theta["a"], theta["b"], theta["b"]])
        w = np.exp(-0.5 * np.sum((pred - figures) ** 2, axis=1) / NOISE**2)
        return Posterior.from_draws(theta, w)

    return fit


@pytest.fixture(scope="module")
def cheap_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cv")
    fits = run_crossval(cheap_design(), {"exact": exact_fitter()}, 40, folder, log=lambda line: None)
    return folder, fits, identifiability_table(fits)


def test_identified_parameters_shrink_and_unused_one_does_not(cheap_run):
    _, _, table = cheap_run
    t = table.set_index("param")
    assert t.loc["a", "shrinkage"] > 0.9 and t.loc["b", "shrinkage"] > 0.9
    assert abs(t.loc["c", "shrinkage"]) < 0.1
    assert t.loc[["a", "b"], "identified"].all() and not t.loc["c", "identified"]
    assert t.loc["a", "corr_mean_truth"] > 0.95


def test_exact_posteriors_cover_about_ninety_percent(cheap_run):
    _, fits, table = cheap_run
    for r in table.itertuples():
        assert r.datasets == 40
        assert r.coverage_low <= 0.9 <= r.coverage_high, f"{r.param}: coverage {r.coverage}"
        assert r.covered == fits[fits["param"] == r.param]["covered"].sum()


def test_binomial_interval_is_clopper_pearson():
    lo, hi = binomial_interval(9, 10)
    assert lo == pytest.approx(0.5550, abs=1e-4) and hi == pytest.approx(0.9975, abs=1e-4)
    assert binomial_interval(0, 5)[0] == 0.0 and binomial_interval(5, 5)[1] == 1.0


def test_unused_parameter_is_named_unidentified_with_a_reason(cheap_run):
    _, _, table = cheap_run
    sens = local_sensitivity(cheap_design(), reps=2)
    c = sens[sens["param"] == "c"]
    assert np.allclose(c["effect"], 0.0)
    b = sens[(sens["param"] == "b")].set_index("stat")["effect"]
    assert b[STATS[1]] > 5 and abs(b[STATS[0]]) < 1e-12  # b's middle half is 0.5 wide = 10 sd
    text = markdown_report(table, sens, "cheap")
    assert "| exact | c |" in text and "**unidentified**" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("- **c**"))
    assert "no figure of the record moves" in line
    assert "**a**" not in text and "**b**" not in text


def test_outputs_written(cheap_run, tmp_path):
    _, fits, table = cheap_run
    sens = local_sensitivity(cheap_design(), reps=1)
    paths = write_outputs(tmp_path / "identifiability", fits, table, sens, "cheap")
    for p in paths.values():
        assert p.stat().st_size > 0, p
    back = pd.read_csv(paths["table"])
    assert list(back["param"]) == ["a", "b", "c"] and "coverage_low" in back


def test_resumable_and_extendable(tmp_path):
    calls: list = []
    fitters = {"m1": exact_fitter(calls, 2000), "m2": exact_fitter(calls, 2000)}
    first = run_crossval(cheap_design(), fitters, 3, tmp_path, log=lambda line: None)
    assert sorted(calls) == [0, 0, 1, 1, 2, 2]
    calls.clear()
    again = run_crossval(cheap_design(), fitters, 3, tmp_path, log=lambda line: None)
    assert calls == []
    pd.testing.assert_frame_equal(first, again)
    more = run_crossval(cheap_design(), fitters, 4, tmp_path, log=lambda line: None)
    assert calls == [3, 3]
    pd.testing.assert_frame_equal(more[more["dataset"] < 3].reset_index(drop=True), first)
    with pytest.raises(InputError, match="another job or seed"):
        run_crossval(cheap_design(seed=8), fitters, 1, tmp_path, log=lambda line: None)


def test_reproducible_across_folders(tmp_path):
    a = run_crossval(cheap_design(), {"m": exact_fitter(None, 2000)}, 3, tmp_path / "a", log=lambda line: None)
    b = run_crossval(cheap_design(), {"m": exact_fitter(None, 2000)}, 3, tmp_path / "b", log=lambda line: None)
    pd.testing.assert_frame_equal(a, b)


def test_methods_are_the_installed_ones():
    methods = crossval.available_methods()
    assert {"abc", "msm"} <= set(methods)
    assert all(m in crossval.METHOD_MODULES for m in methods)


# ---------------------------------------------------------------- the script: bad input exits 2
def _script(*args):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import identifiability
    finally:
        sys.path.pop(0)
    return identifiability.main(list(args))


@pytest.mark.parametrize(
    "args",
    [
        ("default", "--datasets", "0"),
        ("default", "--datasets", "many"),
        ("default", "--budget", "soon"),
        ("default", "--budget", "0"),
    ],
)
def test_script_bad_option_exits_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        _script(*args)
    assert exc.value.code == 2
    assert args[1] in capsys.readouterr().err


def test_script_unknown_method_exits_2(capsys):
    assert _script("default", "--methods", "abc,bayes") == 2
    err = capsys.readouterr().err
    assert "--methods" in err and "bayes" in err and "allowed: abc, msm" in err  # hm joins when installed


def test_script_unknown_job_exits_2():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "identifiability.py"), "no_such_job"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "no_such_job" in out.stderr and "calibration jobs" in out.stderr


# ---------------------------------------------------------------- the park: synthetic copies of a job's record
TINY_JOB = """name = "cv_tiny"
method = "msm"
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

[distance]
rel_sd = {H = 0.05}
min_sd = {firms = 1.0, projects = 1.0}
"""
TINY_FIGURES = [
    ("firms", "park", "stock", "2018-06-30"),
    ("projects_signed", "park", "flow_year", "2018-06-30"),
    ("firms_closed", "park", "flow_year", "2018-06-30"),
]


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory):
    from sim.calibration.job import load_job
    from sim.calibration.synthetic import synthetic_data, write_data
    from sim.model.scenario import load_scenario

    folder = tmp_path_factory.mktemp("cvtiny")
    tiny = ROOT / "scenarios" / "tiny.toml"
    (folder / "scenario.toml").write_text(f'base = "{tiny}"\nname = "tiny24"\nend = "2018-06"\n', encoding="utf-8")
    truth = {"leads_per_month": 30.0, "exit_peak_per_year": 0.095}
    write_data(synthetic_data(load_scenario(folder / "scenario.toml"), truth, TINY_FIGURES, 1), folder / "data.csv")
    (folder / "job.toml").write_text(TINY_JOB, encoding="utf-8")
    return load_job(folder / "job.toml")


def test_synthetic_copy_keeps_the_record_layout(tiny_job):
    from sim.calibration.synthetic import synthetic_observations

    truth = {"leads_per_month": 50.0, "exit_peak_per_year": 0.2}
    a = synthetic_observations(tiny_job, truth, 3)
    b = synthetic_observations(tiny_job, truth, 3)
    pd.testing.assert_frame_equal(a, b)
    keep = ["obs", "series", "frame", "kind", "date", "confidence", "weight"]
    pd.testing.assert_frame_equal(a[keep], tiny_job.observations[keep])
    assert np.all(np.isfinite(a["value"])) and not np.allclose(a["value"], tiny_job.observations["value"])
    # sd follows the job's distance: 5% of the value, at least 1
    assert np.allclose(a["sd"], np.maximum(0.05 * a["value"].abs(), 1.0))


@pytest.mark.slow
def test_park_crossval_smoke(tiny_job, tmp_path):
    res = crossval.crossval_job(
        tiny_job, n=2, budget=10, methods=["msm"], folder=tmp_path / "cv", log=lambda line: None
    )
    table = res["table"]
    assert list(table["param"]) == tiny_job.param_names and (table["datasets"] == 2).all()
    assert np.all(np.isfinite(table["shrinkage"]))
    assert (tmp_path / "cv" / "identifiability.png").stat().st_size > 0
    assert set(res["sensitivity"]["param"]) == set(tiny_job.param_names)


def test_method_specific_failure_is_not_blamed_on_the_data():
    table = pd.DataFrame(
        [
            {"method": "m1", "param": "a", "datasets": 20, "covered": 18, "coverage": 0.9, "coverage_low": 0.68,
             "coverage_high": 0.99, "shrinkage": 0.8, "corr_mean_truth": 0.9, "identified": True},
            {"method": "m2", "param": "a", "datasets": 20, "covered": 18, "coverage": 0.9, "coverage_low": 0.68,
             "coverage_high": 0.99, "shrinkage": 0.1, "corr_mean_truth": 0.3, "identified": False},
        ]
    )  # fmt: skip
    line = next(ln for ln in markdown_report(table, None, "x").splitlines() if ln.startswith("- **a**"))
    assert "(by m2)" in line and "identified by m1" in line


def test_stored_crossval_of_other_settings_is_refused(tiny_job, tmp_path):
    crossval._check_settings(tmp_path, tiny_job, 10.0)
    crossval._check_settings(tmp_path, tiny_job, 10.0)  # same settings: resumes
    with pytest.raises(InputError, match="budget"):
        crossval._check_settings(tmp_path, tiny_job, 20.0)


def test_effects_within_noise_do_not_count():
    sens = pd.DataFrame(
        {
            "param": ["p", "p", "q", "q"],
            "stat": ["s1@f@2016", "s2@f@2016", "s1@f@2016", "s2@f@2016"],
            "effect": [3.0, 0.5, 3.0, 0.5],
            "noise": [2.0, 0.1, 0.5, 0.1],
        }
    )
    assert crossval.what_would_identify(sens, "p").startswith("no figure of the record moves")
    assert "s1@f (3 sd)" in crossval.what_would_identify(sens, "q")


def test_reduced_job_changes_only_settings(tiny_job):
    r = crossval.reduced_job(tiny_job, "abc", 99)
    assert r.method == "abc" and r.seed == 99 and r.abc["population"] == crossval.REDUCED["abc"]["population"]
    assert r.msm["max_evaluations"] == crossval.REDUCED["msm"]["max_evaluations"]
    assert r.priors == tiny_job.priors and r.observations is tiny_job.observations


def test_a_posterior_that_narrows_without_following_the_truth_is_unidentified():
    """Shrinkage alone is not identification: means stuck at the prior's middle, whatever the truth, are not."""
    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 1, 20)
    rows = []
    for i, t in enumerate(truth):
        base = {"method": "m", "dataset": i, "truth": t}
        rows.append({**base, "param": "follows", "mean": t + rng.normal(0, 0.05), "var": 0.01,
                     "q05": t - 0.2, "q95": t + 0.2, "covered": True, "shrinkage": 0.88})  # fmt: skip
        rows.append({**base, "param": "stuck", "mean": 0.5 + rng.normal(0, 0.01), "var": 0.06,
                     "q05": 0.1, "q95": 0.9, "covered": bool(0.1 <= t <= 0.9), "shrinkage": 0.3})  # fmt: skip
    table = crossval.identifiability_table(pd.DataFrame(rows)).set_index("param")
    assert table.loc["follows", "identified"] and table.loc["follows", "corr_mean_truth"] > 0.9
    assert table.loc["stuck", "shrinkage"] >= crossval.UNIDENTIFIED_SHRINKAGE
    assert not table.loc["stuck", "identified"], "a narrowing posterior that ignores the truth is not identification"
