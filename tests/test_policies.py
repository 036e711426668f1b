"""Policies as plug-ins with optional start and end months (``[policies.NAME]`` in a scenario).

A policy acts only in its window and leaves ``Effects`` neutral outside it; a
scenario that does not time a policy runs it over the whole run, so the
default scenarios are unchanged (scripts/tables_hash.py checks that exactly).
Direction tests pair seeds as tests/test_direction.py does.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_PATH

from sim.errors import ScenarioError
from sim.model.params import PARAMS
from sim.model.park import ParkModel
from sim.model.policies import POLICY_NAMES, build_policies
from sim.model.scenario import load_scenario, month_index
from sim.run.runner import replicate_seeds, run_scenario

N_REPS = 6
ROOT_SEED = 20160701
# Strong listing support, so that its effect on share reforms is many events a run.
STRONG_LISTING = "listing_subsidy_myuan = 10.0\nlisting_reserve_support = 1.0\n"


def scenario_file(tmp_path, body: str, name: str = "timed"):
    """A scenario on top of tiny.toml with ``body`` appended."""
    path = tmp_path / f"{name}.toml"
    path.write_text(f'base = "{TINY_PATH.as_posix()}"\nname = "{name}"\n{body}', encoding="utf-8")
    return path


def test_default_scenarios_build_every_policy_for_the_whole_run(tiny):
    policies = build_policies(tiny)
    assert [p.name for p in policies] == list(POLICY_NAMES), "no [policies] table: every policy is built"
    first, last = month_index(tiny.start), month_index(tiny.end)
    assert all(p.active(first) and p.active(last) and not p.active(first - 1) for p in policies)


def test_a_window_covering_the_run_changes_nothing(tmp_path, tiny):
    body = "".join(f'[policies.{n}]\nstart = "{tiny.start}"\nend = "{tiny.end}"\n' for n in POLICY_NAMES)
    timed = load_scenario(scenario_file(tmp_path, body))
    seed = replicate_seeds(ROOT_SEED, 1)[0]
    a, b = run_scenario(tiny, seed=seed), run_scenario(timed, seed=seed)
    assert a.monthly.equals(b.monthly), "explicit whole-run windows must give the tables of no windows"


def test_disabled_policy_is_not_built(tmp_path):
    sc = load_scenario(scenario_file(tmp_path, "[policies.china_israel]\nenabled = false\n"))
    assert "china_israel" not in [p.name for p in build_policies(sc)]
    model = ParkModel(sc, seed=1)
    while model.month + 1 < model.policy_start_month:  # the status-quo warm-up has every policy
        model.step()
    warm_up = model.counters.total["israeli_projects_signed"]
    model.run()
    assert model.counters.total["israeli_projects_signed"] == warm_up, "without the policy no Israeli leads arrive"


def strong_listing(tmp_path, end: str | None = None, name: str = "listing"):
    """Strong listing support, over the whole run or ended after ``end``."""
    window = f'[policies.listing_support]\nend = "{end}"\n' if end else ""
    return load_scenario(scenario_file(tmp_path, f"[levers]\n{STRONG_LISTING}{window}", name))


def test_policy_stops_acting_after_its_end_month(tmp_path):
    model = ParkModel(strong_listing(tmp_path, end="2017-12"), seed=3)
    subsidy, paid = {}, {}
    while model.running:
        model.step()
        subsidy[model.date] = model.effects.listing_subsidy_myuan
        paid[model.date] = model.counters.total["listing_subsidy_paid_myuan"]
    start = model.park_scenario.start  # before it, the status-quo warm-up
    assert all(v == 10.0 for d, v in subsidy.items() if start <= d <= "2017-12"), "the policy acts up to its end month"
    assert all(v == 0.0 for d, v in subsidy.items() if d > "2017-12"), "and leaves Effects neutral after it"
    assert paid["2017-12"] > 0, "some subsidy was paid while the policy acted"
    assert paid[model.date] == paid["2017-12"], "no subsidy is paid after the end month"


@pytest.fixture(scope="module")
def listing_pair(tmp_path_factory):
    """Strong listing support over the whole run and ended in 2017-12, paired seeds."""
    tmp = tmp_path_factory.mktemp("listing")
    full, ended = strong_listing(tmp, name="full"), strong_listing(tmp, end="2017-12", name="ended")
    seeds = replicate_seeds(ROOT_SEED, N_REPS)
    return [run_scenario(full, seed=s) for s in seeds], [run_scenario(ended, seed=s) for s in seeds]


def test_runs_are_identical_until_the_end_month(listing_pair):
    for full, ended in zip(*listing_pair, strict=True):
        assert full.monthly.loc[:"2017-12"].equals(ended.monthly.loc[:"2017-12"]), (
            "with paired seeds, ending a policy cannot change the months before its end"
        )


def test_ending_listing_support_early_does_not_raise_share_reforms_after_it(listing_pair):
    def after_end(r):
        cum = r.monthly["share_reforms_cum"]
        return cum.iloc[-1] - cum.loc["2017-12"]

    diff = np.array([after_end(f) - after_end(e) for f, e in zip(*listing_pair, strict=True)])
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    # same tolerance rule as tests/test_direction.py: max(0.5, 2 SE) below zero
    assert diff.mean() >= -max(0.5, 2 * se), (
        f"support ended in 2017-12 should not give more share reforms in 2018-2020 than support kept on; "
        f"full - ended = {diff.mean():.2f} +- {se:.2f} per run"
    )
    assert diff.mean() > 0, f"ending strong listing support should lower later share reforms: {diff}"


def test_policy_start_delays_the_guidance_fund(tmp_path):
    body = '[levers]\nguidance_fund_myuan = 500.0\n[policies.financing]\nstart = "2018-01"\n'
    sc = load_scenario(scenario_file(tmp_path, body))
    model = ParkModel(sc, seed=5)
    joined = {}
    while model.running:
        model.step()
        joined[model.date] = len(model.finance.investors("guidance"))
    # the status-quo fund joined in the warm-up's first month; the scenario's larger fund tops it up
    assert joined["2014-01"] == 1 and joined["2017-12"] == 1, "the status-quo fund joins once, at history_start"
    assert joined["2018-01"] == 2, "the top-up joins in the policy's first month"
    assert abs(model.finance.balance_error()) < 1e-6 * model.finance.injected_myuan, "money is still conserved"


def test_leading_support_ends_with_its_window(tmp_path):
    body = '[levers]\nleading_support_firms = 10\n[policies.leading_enterprises]\nend = "2018-06"\n'
    r = run_scenario(load_scenario(scenario_file(tmp_path, body)), seed=2)
    assert r.monthly.loc["2018-06", "supported_firms"] > 0, "firms are supported while the policy acts"
    assert (r.monthly.loc["2018-07":, "supported_firms"] == 0).all(), "and nobody is supported after its end"


# ------------------------------------------------------------------ scenario errors
def test_start_after_end_is_refused(tmp_path):
    path = scenario_file(tmp_path, '[policies.land_supply]\nstart = "2019-01"\nend = "2018-12"\n')
    with pytest.raises(ScenarioError, match=r"policies\.land_supply\.end.*must not be before start \(2019-01\)"):
        load_scenario(path)


def test_unknown_policy_is_refused_with_the_allowed_names(tmp_path):
    path = scenario_file(tmp_path, '[policies.listing_suport]\nend = "2018-12"\n')
    with pytest.raises(ScenarioError, match="unknown policy") as err:
        load_scenario(path)
    assert "policies.listing_suport" in str(err.value)
    assert all(name in str(err.value) for name in POLICY_NAMES), f"the error names every allowed policy: {err.value}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[policies.attraction]\nstop = "2018-12"\n', "unknown key; allowed: start, end, enabled"),
        ("[policies.attraction]\nend = 2018\n", "must be a month written YYYY-MM"),
        ('[policies.attraction]\nend = "2018-13"\n', "must be a month written YYYY-MM"),
        ('[policies.attraction]\nenabled = "no"\n', "must be true or false"),
        ('[policies]\nattraction = "off"\n', "must be a table"),
    ],
)
def test_malformed_policy_tables_are_refused(tmp_path, body, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(scenario_file(tmp_path, body))


def test_a_file_overrides_its_base_windows(tmp_path):
    base = scenario_file(
        tmp_path, '[policies.land_supply]\nstart = "2017-01"\n[policies.attraction]\nend = "2019-12"\n'
    )
    child = tmp_path / "child.toml"
    child.write_text(f'base = "{base.name}"\n[policies.land_supply]\nend = "2018-12"\n', encoding="utf-8")
    sc = load_scenario(child)
    assert sc.policies == (("attraction", "", "2019-12", True), ("land_supply", "", "2018-12", True))
    assert sc.to_dict()["policies"]["land_supply"] == {"start": "", "end": "2018-12", "enabled": True}
    assert "policies" not in load_scenario(TINY_PATH).to_dict(), "manifests of untimed scenarios are unchanged"


def test_timed_policies_survive_the_manifest_and_a_resume(tmp_path, monkeypatch):
    from sim.model.scenario import Scenario
    from sim.run.batch import load_batch, resume_batch, run_batch

    timed = strong_listing(tmp_path, end="2017-12")
    assert Scenario.from_dict(timed.to_dict()) == timed, "the manifest's scenario must rebuild the same scenario"
    whole = run_batch([timed], reps=2, seed=5, out_root=tmp_path / "a", batch_id="t", progress=False)
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_RUN", "1")
    with pytest.raises(KeyboardInterrupt):
        run_batch([timed], reps=2, seed=5, out_root=tmp_path / "b", batch_id="t", progress=False, chunk_size=1)
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_RUN")
    resume_batch("t", root=tmp_path / "b", progress=False)
    resumed = load_batch("t", root=tmp_path / "b")
    cols = [c for c in whole.outcomes.columns if c not in ("batch",)]
    assert resumed.outcomes[cols].equals(whole.outcomes[cols]), "a resumed timed batch must keep its policy windows"


# -------- lever effects declared as deep uncertainties (issue 11): low vs high end, paired seeds
DEEP_REPS = 8
DEEP_WINDOW = {"end": "2018-06"}  # two years: many events, about 0.3 s a run


def revenue_myuan(model) -> float:
    """Revenue of the firms in the park at the end of a run (m yuan/year)."""
    return float(model.firms.revenue_myuan[model.firms.live()].sum())


def deep_difference(tiny, name: str, counter, **levers) -> tuple[float, float]:
    """Mean and standard error over paired seeds of ``counter`` at ``name``'s high end minus its low end."""
    decl = PARAMS[name]
    diffs = []
    for seed in replicate_seeds(ROOT_SEED, DEEP_REPS):
        totals = []
        for value in (decl.low, decl.high):
            model = ParkModel(tiny.with_values(**{name: value}, **levers, **DEEP_WINDOW), seed=seed)
            model.run()
            totals.append(counter(model) if callable(counter) else model.counters.total[counter])
        diffs.append(totals[1] - totals[0])
    d = np.array(diffs, dtype=float)
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


@pytest.mark.parametrize(
    ("name", "counter", "sign", "levers"),
    [
        ("attraction_effort_elasticity", "leads", 1, {"attraction_effort_index": 3.0}),
        ("attraction_effort_elasticity", "leads", -1, {"attraction_effort_index": 0.3}),
        ("key_focus_lead_loss", "leads", -1, {"key_project_focus_share": 1.0}),
        ("israel_lead_yield", "israeli_projects_signed", 1, {"israel_projects_per_year": 60.0}),
        ("vc_cluster_elasticity", "vc_deals", 1, {"vc_cluster_index": 3.0}),
        ("leading_support_growth_per_year", revenue_myuan, 1, {"leading_support_firms": 50}),
    ],
)
def test_deep_lever_effect_moves_its_outcome(tiny, name, counter, sign, levers):
    assert PARAMS[name].kind == "deep"
    mean, se = deep_difference(tiny, name, counter, **levers)
    assert sign * mean > max(0.5, 2 * se), (
        f"{name} low -> high should move {counter} by sign {sign}: {mean:+.1f} (SE {se:.1f})"
    )


def test_attraction_effort_has_diminishing_returns(tiny):
    """Leads per unit of effort fall as effort rises when the elasticity is below 1."""
    from sim.model.policies import Effects, InvestmentAttraction

    mults = []
    for effort in (1.0, 2.0, 3.0):
        sc = tiny.with_values(attraction_effort_index=effort, attraction_effort_elasticity=0.5)
        model = ParkModel(sc, seed=1)
        fx = Effects()
        InvestmentAttraction(sc).apply(model, fx)
        mults.append(fx.lead_rate_mult)
    assert mults[0] < mults[1] < mults[2], "more effort, more leads"
    assert mults[1] - mults[0] > mults[2] - mults[1], "each extra unit of effort brings fewer leads"


def test_deep_design_covers_every_deep_uncertainty_at_its_declared_range():
    from sim.analysis import sensitivity as sa
    from sim.model.params import DEEP

    design = sa.load_design("sensitivity_deep")
    assert {f.name for f in design.factors} == set(DEEP), "the deep-uncertainty design sweeps every deep input"
    for f in design.factors:
        assert (f.low[f.name], f.high[f.name]) == (DEEP[f.name].low, DEEP[f.name].high), f.name


def test_deep_inputs_are_scenario_params_but_never_fitted():
    from sim.calibration.job import JobError, _fittable
    from sim.model.params import DEEP, SECTIONS, UNCERTAINTIES

    assert DEEP and set(DEEP) <= set(SECTIONS["params"]), "deep inputs are set in a scenario's [params]"
    assert not set(DEEP) & set(UNCERTAINTIES)
    with pytest.raises(JobError, match="deep input; only uncertainties can be fitted"):
        _fittable("job.toml", "fit.listing_subsidy_elasticity", "listing_subsidy_elasticity")
