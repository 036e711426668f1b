"""Parameter uncertainty in every probability (issue 12 item 5): posterior batches pair replication i
with posterior draw d_i for every scenario, record the draws, reproduce a run alone, give the same
tables whatever the executor, never override what a scenario or design sets; the variance split of
sim.analysis.uncertainty recovers known components on synthetic data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.report import target_table
from sim.analysis.uncertainty import deep_split, split_one, target_probabilities, variance_split
from sim.cli import main as cli
from sim.model.scenario import load_fitted, load_scenario
from sim.run.batch import Plan, load_batch, resume_batch, run_batch
from sim.run.plan import POSTERIOR_FILE, draw_indices, fitted_file
from sim.run.runner import replicate_seeds, run_arrays

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
FITTED = ROOT / "calibration" / "fitted" / "default"
REPS, SEED, END = 4, 11, "2017-06"


def short_pair():
    tiny = load_scenario(TINY).with_values(end=END)
    return [tiny, tiny.with_values(name="tiny_listing", listing_subsidy_myuan=3.0, listing_reserve_support=0.8)]


@pytest.fixture(scope="module")
def reference():
    """Serial, in memory, posterior sampled: what every other way of running must reproduce."""
    return run_batch(short_pair(), reps=REPS, seed=SEED, out_root=None, progress=False, posterior=True)


# ---------------------------------------------------------------- pairing and records
def test_draws_are_paired_across_scenarios_and_deterministic():
    plan = Plan.build(short_pair(), REPS, SEED, posterior=True)
    first = [plan.draw_of(k) for k in range(REPS)]
    second = [plan.draw_of(REPS + k) for k in range(REPS)]
    assert first == second, "replication i of every scenario takes the same draw"
    assert first == draw_indices(SEED, REPS, 200), "the draws depend only on the root seed and the posterior"
    assert draw_indices(SEED + 1, REPS, 200) != first, "another root seed draws other parameters"
    grouped = draw_indices(SEED, 6, 200, seeds_per_draw=3)
    assert grouped[:3] == [grouped[0]] * 3 and grouped[3:] == [grouped[3]] * 3


def test_each_run_carries_its_draw_and_only_fitted_uncertainties_change():
    plan = Plan.build(short_pair(), REPS, SEED, posterior=True)
    draws = pd.read_csv(FITTED / POSTERIOR_FILE)
    for k in (0, REPS + 1):
        run = plan.scenario_of(k)
        row = draws.iloc[plan.draw_of(k)]
        assert all(run[c] == pytest.approx(float(row[c])) for c in draws.columns)
        point = plan.scenarios[k // REPS]
        changed = {n for n, v in point.inputs if run[n] != v}
        assert changed <= set(draws.columns), "nothing but the posterior's parameters changes"
    entries = plan.run_entries()
    assert [e.extra["draw"] for e in entries] == [plan.draw_of(k) for k in range(plan.n_runs)]


def test_what_the_scenario_or_design_sets_is_never_drawn():
    tiny = load_scenario(TINY).with_values(end=END)
    own = tiny.with_values(name="own_leads", leads_per_month=40.0)
    plan = Plan.build([tiny, own], REPS, SEED, design_inputs=("p_sign_lead",), posterior=True)
    for k in range(plan.n_runs):
        assert plan.scenario_of(k)["p_sign_lead"] == tiny["p_sign_lead"], "a design input keeps its value"
    assert all(plan.scenario_of(REPS + k)["leads_per_month"] == 40.0 for k in range(REPS))
    assert "leads_per_month" in plan.posterior["scenarios"]["own_leads"]["kept"]
    assert "leads_per_month" in plan.posterior["scenarios"]["tiny"]["params"]


def test_without_fitted_params_or_posterior_a_scenario_runs_at_its_point(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text('end = "2017-06"\n[params]\npopulation_scale = 0.15\n')
    fitted = tmp_path / "fitted"
    fitted.mkdir()
    shutil.copy(FITTED / "params.toml", fitted / "params.toml")  # no posterior_draws.csv beside it
    lonely = tmp_path / "lonely.toml"
    lonely.write_text(f'base = "{TINY}"\nfitted_params = "{fitted / "params.toml"}"\n')
    scenarios = [load_scenario(plain), load_scenario(lonely)]
    plan = Plan.build(scenarios, 2, SEED, posterior=True)
    for k, sc in enumerate(scenarios):
        entry = plan.posterior["scenarios"][sc.name]
        assert entry["source"] is None and entry["note"], "it says why it runs at its point"
        assert plan.draw_of(2 * k) is None and plan.scenario_of(2 * k) == sc
    assert "no fitted_params" in plan.posterior["scenarios"]["plain"]["note"]
    assert "missing" in plan.posterior["scenarios"]["lonely"]["note"]
    assert fitted_file(load_scenario(TINY)) == FITTED / "params.toml"


def test_posterior_runs_differ_from_point_runs_and_carry_draws(reference):
    point = run_batch(short_pair(), reps=REPS, seed=SEED, out_root=None, progress=False)
    assert "draw" not in point.outcomes and point.posterior is None
    assert (reference.outcomes["draw"].to_numpy()[:REPS] == reference.outcomes["draw"].to_numpy()[REPS:]).all()
    assert not np.array_equal(
        reference.outcomes["end_talent_people"].to_numpy(), point.outcomes["end_talent_people"].to_numpy()
    ), "parameter draws change the runs"


# ---------------------------------------------------------------- reproducibility
def test_pool_and_folder_batches_match_and_a_run_reproduces_alone(reference, tmp_path):
    pooled = run_batch(
        short_pair(), reps=REPS, seed=SEED, workers=2, out_root=tmp_path, progress=False, chunk_size=3,
        posterior=True,
    )  # fmt: skip
    stored = load_batch(pooled.folder)
    pd.testing.assert_frame_equal(reference.outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(reference.monthly, stored.monthly)
    plan = Plan.from_manifest(stored.record)  # from the manifest alone, without the posterior file
    k = REPS + 2
    alone = run_arrays(plan.scenario_of(k), replicate_seeds(SEED, REPS)[k % REPS])
    row = stored.outcomes.set_index("run").loc[k]
    assert alone.outcomes["end_firms_in_park"] == row["end_firms_in_park"]
    assert int(row["draw"]) == stored.record.runs[k].extra["draw"]


@pytest.mark.slow  # starts a local Dask cluster: about 20 s
def test_dask_gives_the_serial_posterior_tables(reference):
    on_dask = run_batch(short_pair(), reps=REPS, seed=SEED, dask="local:2", out_root=None, progress=False,
                        posterior=True)  # fmt: skip
    pd.testing.assert_frame_equal(reference.outcomes, on_dask.outcomes)
    pd.testing.assert_frame_equal(reference.monthly, on_dask.monthly)


def test_interrupted_posterior_batch_resumes_to_the_same_tables(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_RUN", "3")
    with pytest.raises(KeyboardInterrupt):
        run_batch(short_pair(), reps=REPS, seed=SEED, out_root=tmp_path, batch_id="b", progress=False,
                  chunk_size=1, posterior=True)  # fmt: skip
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_RUN")
    resumed = resume_batch("b", root=tmp_path, progress=False)
    pd.testing.assert_frame_equal(reference.outcomes, resumed.outcomes)


# ---------------------------------------------------------------- the variance split, on synthetic data
def test_variance_split_recovers_known_components():
    rng = np.random.default_rng(5)
    groups, k = 2000, 5
    between = rng.normal(0.0, 2.0, groups)  # parameter part: variance 4
    y = np.repeat(between, k) + rng.normal(0.0, 1.0, groups * k)  # stochastic part: variance 1
    split = split_one(y, np.repeat(np.arange(groups), k))
    assert split["parameter_var"] == pytest.approx(4.0, rel=0.12)
    assert split["stochastic_var"] == pytest.approx(1.0, rel=0.05)
    assert split["parameter_share"] == pytest.approx(0.8, abs=0.03)


def test_variance_split_exact_cases():
    no_noise = split_one([1, 1, 3, 3, 5, 5], [0, 0, 1, 1, 2, 2])
    assert no_noise["stochastic_var"] == 0 and no_noise["parameter_var"] == pytest.approx(4.0)
    no_param = split_one([1, 3, 1, 3, 1, 3], [0, 0, 1, 1, 2, 2])
    assert no_param["parameter_var"] == 0 and no_param["stochastic_var"] == pytest.approx(2.0)
    unbalanced = split_one([0, 2, 10, 10, 10, np.nan], [0, 0, 1, 1, 1, 1])
    assert unbalanced["n"] == 5 and unbalanced["stochastic_var"] == pytest.approx(2.0 / 3.0)
    one_seed = split_one([1.0, 2.0, 4.0], [0, 1, 2])
    assert np.isnan(one_seed["parameter_var"]) and one_seed["total_var"] == pytest.approx(np.var([1, 2, 4], ddof=1))


def test_deep_split_recovers_known_components_under_common_draws():
    """Experiments x replications, every experiment reusing the same (draw, seed) pairs (as sim.ema does)."""
    rng = np.random.default_rng(8)
    n_exp, draws, k = 300, 200, 4
    deep = rng.normal(0.0, 3.0, n_exp)[:, None]  # variance 9
    draw = np.repeat(rng.normal(0.0, 2.0, draws), k)[None, :]  # variance 4, shared by all experiments
    effect = rng.normal(1.0, 0.25, n_exp)[:, None]  # how much a draw matters differs by experiment
    noise = rng.normal(0.0, 1.0, (n_exp, draws * k))  # variance 1
    split = deep_split(deep + effect * draw + noise, seeds_per_draw=k)
    assert split["deep_var"] == pytest.approx(9.0, rel=0.25)
    assert split["parameter_var"] == pytest.approx(4.0 * (1 + 0.25**2), rel=0.3)
    assert split["stochastic_var"] == pytest.approx(1.0, rel=0.05)
    assert np.isnan(deep_split(noise[:, :1])["deep_var"]), "one replication cannot split anything"


def test_variance_split_table_and_probabilities_of_a_batch(reference):
    ok = reference.outcomes
    table = variance_split(ok, seeds_per_draw=2, columns=["end_firms_in_park"])
    assert list(table["scenario"]) == ["tiny", "tiny_listing"] and (table["n"] == REPS).all()
    assert (table["groups"] == REPS // 2).all()
    one = target_probabilities(ok, seeds_per_draw=1)
    wilson = target_table(ok)
    assert np.allclose(one["p_low"], wilson["p_low"], equal_nan=True), "one seed per draw: Wilson over runs"
    assert (target_probabilities(ok, seeds_per_draw=2)["n_eff"] <= one["n_eff"] + 1e-9).all()


def test_cli_run_and_show_report_parameter_uncertainty(tmp_path, capsys):
    short = tmp_path / "short.toml"
    short.write_text(f'base = "{TINY}"\nname = "short"\nend = "{END}"\n')
    out = tmp_path / "runs"
    args = ["run", str(short), "--reps", "4", "--seeds-per-draw", "2", "--no-figure", "--quiet", "--out", str(out)]
    assert cli([*args, "--id", "post"]) == 0
    text = capsys.readouterr().out
    assert "sampled from the fitted posterior" in text and "variance split" in text
    assert cli(["show", "post", "--root", str(out)]) == 0
    assert "parameter = between posterior draws" in capsys.readouterr().out
    point = ["run", str(short), "--reps", "2", "--no-figure", "--quiet", "--out", str(out), "--at-point"]
    assert cli([*point, "--id", "point"]) == 0
    assert "at its scenario's point" in capsys.readouterr().out
    assert load_batch("post", root=out).posterior["seeds_per_draw"] == 2
    assert load_batch("point", root=out).posterior is None
    assert load_fitted(FITTED / "params.toml")  # the fitted files this relies on are present
    assert cli([*args, "--id", "both", "--at-point"]) == 2, "--seeds-per-draw with --at-point is refused"
    assert "give one or the other" in capsys.readouterr().err
