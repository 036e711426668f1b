"""Robust package search (issue 12 item 6): the robustness function, the choice of the cheapest
package, the search on the tiny scenario (cheaper than the full package, P meets the threshold on the
shared combinations, each candidate scored on its own runs), unreachable targets named with their best
P, reproducibility, the confirmation, the figure and bad command-line input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "ipyparallel not installed"
    import ema_workbench  # noqa: F401

import sim.cli
from sim.analysis import robust
from sim.model.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
# share reforms: 7 in 2016; the tiny park makes ~0.5 at today's levers and ~10 with the listing levers high
REACHABLE = ("share_reforms_2016", "completed")
LEVERS = ["listing_subsidy_myuan", "listing_reserve_support", "vc_cluster_index"]
SMALL = {"nfe": 12, "reps": 2, "deep": 2, "seed": 5, "levers": LEVERS, "population": 4, "end": "2016-12"}


def tiny():
    return load_scenario(TINY)


# ---------------------------------------------------------------- robustness function (synthetic)
def test_p_reach_is_the_share_of_finite_values_at_or_above_the_goal():
    values = np.array([[7.0, 6.9, np.nan], [10.0, 0.0, 7.0]])
    assert robust.p_reach(values, 7.0) == pytest.approx(3 / 5)
    assert robust.p_reach(values, 100.0) == 0.0
    assert np.isnan(robust.p_reach(np.full(3, np.nan), 1.0))
    assert robust.ReachProbability(7.0)(values) == pytest.approx(0.6)
    assert robust.ReachProbability(7.0)(np.full(2, np.nan)) == 0.0  # the MOEA needs a number


def _front():
    return pd.DataFrame(
        {
            "listing_subsidy_myuan": [0.0, 5.0, 10.0, 10.0],
            "vc_cluster_index": [1.0, 2.0, 3.0, 2.0],
            robust.COST: [10.0, 50.0, 200.0, 150.0],
            robust.P_REACH: [0.1, 0.55, 0.7, 0.7],
        }
    )


def test_choose_takes_the_cheapest_package_that_reaches_the_threshold():
    levers = ["listing_subsidy_myuan", "vc_cluster_index"]
    c = robust.choose(_front(), 0.5, levers)
    assert c.reachable and c.cost_myuan == 50.0 and c.p_shared == 0.55
    assert c.package == {"listing_subsidy_myuan": 5.0, "vc_cluster_index": 2.0}
    c = robust.choose(_front(), 0.7, levers)
    assert c.reachable and c.cost_myuan == 150.0  # of two with P 0.7, the cheaper


def test_an_unreachable_threshold_is_named_with_the_best_p_and_the_levers_at_a_bound():
    c = robust.choose(_front(), 0.8, ["listing_subsidy_myuan", "vc_cluster_index"], nfe=30)
    assert not c.reachable and c.p_shared == 0.7 and c.cost_myuan == 150.0  # best P, the cheaper of the two
    assert c.at_bound == {"listing_subsidy_myuan": "high"}
    assert "70%" in c.reason and "listing_subsidy_myuan at its high bound" in c.reason and "30 evaluations" in c.reason


# ---------------------------------------------------------------- the search on the tiny scenario
@pytest.fixture(scope="module")
def found():
    return robust.search(tiny(), *REACHABLE, **SMALL)


def test_search_finds_a_package_cheaper_than_the_full_one_that_meets_the_threshold(found):
    c50 = found.choices[0]
    assert c50.threshold == 0.5 and c50.reachable, c50.reason
    assert c50.cost_myuan <= found.full_cost_myuan
    assert c50.p_shared >= 0.5
    for lever, (low, high) in robust.lever_bounds(found.levers).items():
        assert low <= c50.package[lever] <= high
    assert list(found.levers) == LEVERS and len(found.deep) == 2
    assert set(found.front.columns) == {*LEVERS, robust.COST, robust.P_REACH}


def test_each_candidate_is_scored_on_its_own_runs_of_the_shared_combinations(found):
    """Rerun the chosen package on the shared (deep point, replicate) combinations: the same P as the search.

    (EMA 3.0.0 alone would score a candidate on the runs of its whole generation.)
    """
    model = robust.robust_model(found.scenario, found.column, SMALL["reps"], SMALL["seed"], LEVERS)
    c = found.choices[0]
    values = [
        model.function(replicate=i, **c.package, **point)[found.column]
        for point in found.deep
        for i in range(SMALL["reps"])
    ]
    assert robust.p_reach(values, found.goal) == pytest.approx(c.p_shared)
    cost = model.function(replicate=0, **c.package, **found.deep[0])[robust.COST_OUTCOME]
    assert cost == pytest.approx(c.cost_myuan)


def test_same_seed_same_front_and_package(found):
    again = robust.search(tiny(), *REACHABLE, **SMALL)
    pd.testing.assert_frame_equal(again.front, found.front)
    assert [c.to_json() for c in again.choices] == [c.to_json() for c in found.choices]


def test_a_target_out_of_reach_is_named_unreachable_with_its_best_p():
    """80 graphene firms in the tiny park (~15 at 15% scale) is out of reach whatever the levers."""
    r = robust.search(tiny(), "graphene_total_2016", "in_park", thresholds=(1.0,), **{**SMALL, "nfe": 8})
    (c,) = r.choices
    assert not c.reachable and c.p_shared == r.front[robust.P_REACH].max() < 1.0
    assert c.reason.startswith(f"best P found in 8 evaluations {c.p_shared:.0%}")


def test_confirmation_reruns_the_package_with_fresh_seeds_and_gives_a_wilson_interval(found):
    c = found.choices[0]
    conf = robust.confirm(found, c, runs=10)
    assert conf["n"] == 10 and conf["seed"] == SMALL["seed"] + 1 and conf["failed"] == 0
    assert conf["low"] <= conf["p"] <= conf["high"]
    assert conf["draws"] > 1  # the posterior is sampled, not the point
    assert c.confirm is conf
    json.dumps(found.to_json())  # writable as JSON


def test_pareto_chart_is_a_figure_without_pyplot(found):
    from matplotlib.figure import Figure

    from sim.plots.robust import pareto_chart

    fig = pareto_chart(found)
    assert isinstance(fig, Figure) and fig.axes


def test_search_refuses_bad_arguments():
    with pytest.raises(ScenarioError, match="allowed"):
        robust.search(tiny(), "no_such_target", "x")
    with pytest.raises(ScenarioError, match="allowed: completed"):
        robust.search(tiny(), "share_reforms_2016", "signed")
    with pytest.raises(ScenarioError, match="ends before 2020-12"):
        robust.search(tiny(), "listed_companies_2020", "exchange", end="2016-12")
    with pytest.raises(ScenarioError, match="deep"):
        robust.search(tiny(), *REACHABLE, deep=1)


# ---------------------------------------------------------------- command line
@pytest.mark.parametrize(
    "argv, words",
    [
        (["--target", "nope"], ["--target", "allowed: all", "share_reforms_2016"]),
        (["--target", "share_reforms_2016:signed"], ["--target", "allowed: completed"]),
        (["--target", "listed_companies_2020", "--end", "2016-12"], ["--end", "listed_companies_2020"]),
        (["--target", "share_reforms_2016", "--deep", "1"], ["--deep", ">= 2"]),
        (["--target", "share_reforms_2016", "--levers", "rent"], ["--levers", "allowed:", "rent_index"]),
    ],
)
def test_bad_input_exits_2_naming_the_option_and_the_allowed_values(capsys, argv, words):
    assert sim.cli.main(["optimise", str(TINY), *argv]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err


@pytest.mark.parametrize("bad", [["--threshold", "1.5"], ["--threshold", "x"], ["--nfe", "0"], ["--reps", "0"]])
def test_bad_numbers_are_usage_errors(capsys, bad):
    with pytest.raises(SystemExit) as exc:
        sim.cli.main(["optimise", str(TINY), "--target", "share_reforms_2016", *bad])
    assert exc.value.code == 2 and bad[0] in capsys.readouterr().err


def test_command_writes_front_result_figure_and_summary(tmp_path):
    argv = ["optimise", str(TINY), "--target", "share_reforms_2016:completed", "--end", "2016-12", "--nfe", "8",
            "--reps", "2", "--deep", "2", "--confirm", "4", "--levers", *LEVERS, "--out", str(tmp_path)]  # fmt: skip
    assert sim.cli.main(argv) == 0
    stem = tmp_path / "robust_share_reforms_2016__completed"
    for suffix in ("_front.csv", "_convergence.csv", "_result.json", "_front.png"):
        assert Path(f"{stem}{suffix}").is_file()
    result = json.loads(Path(f"{stem}_result.json").read_text())
    assert [c["threshold"] for c in result["choices"]] == [0.5, 0.8]
    assert "| share_reforms_2016 | completed | 50% |" in (tmp_path / "summary.md").read_text()
