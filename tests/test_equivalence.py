"""parksim bench --equivalence: the paired-seed test that a faster model's results are the old ones.

The statistics are checked on samples whose answer is known (identical, a negligible shift,
a real shift, NaN on one side, a constant column); the two-tree runner on a few tiny seeds
against HEAD; the command line's refusals of bad input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.cli import main as cli
from sim.errors import InputError
from sim.run import equivalence
from sim.run.bench import ROOT, exported_tree, resolve_ref

N = 200  # pairs in the synthetic samples: the floor the command enforces
SEED = 7  # of the synthetic samples [definition: any fixed seed]


def _sample(shift_sd: float, noise_sd: float):
    rng = np.random.default_rng(SEED)
    old = rng.normal(100.0, 10.0, N)
    new = old + shift_sd * 10.0 + rng.normal(0.0, noise_sd * 10.0, N)
    return old.tolist(), new.tolist()


def test_identical_pairs_are_equivalent_exactly():
    old, _ = _sample(0.0, 0.0)
    row = equivalence.compare_column(old, list(old), reached=False)
    assert row["identical"] == N and row["p"] == 0.0 and row["equivalent"]


def test_a_negligible_shift_passes_and_a_real_one_fails():
    small = equivalence.compare_column(*_sample(0.01, 0.2), reached=False)
    assert small["identical"] == 0 and small["equivalent"] and small["p"] < equivalence.ALPHA
    assert small["delta"] == pytest.approx(equivalence.MARGIN_SD * small["sd_old"])
    large = equivalence.compare_column(*_sample(0.5, 0.2), reached=False)
    assert not large["equivalent"] and large["p"] > 0.5
    # unbiased but so noisy that the mean cannot be pinned inside the margin: not shown equivalent
    noisy = equivalence.compare_column(*_sample(0.0, 3.0), reached=False)
    assert not noisy["equivalent"]


def test_the_bound_shown_says_what_the_sample_can_show_and_how_many_seeds_would_show_more():
    """Below one margin exactly when the TOST passes; independent draws of the same distribution (a change
    that draws differently) cannot be shown equivalent by 200 seeds, and the report says how many would."""
    for shift, noise in ((0.01, 0.2), (0.5, 0.2), (0.0, 3.0), (0.05, 0.6)):
        row = equivalence.compare_column(*_sample(shift, noise), reached=False)
        assert (row["bound_in_margins"] < 1.0) == row["equivalent"], (shift, noise, row)
    rng = np.random.default_rng(SEED)
    independent = equivalence.compare_column(rng.normal(0, 1, N).tolist(), rng.normal(0, 1, N).tolist(), False)
    assert not independent["equivalent"] and independent["bound_in_margins"] > 1.0
    assert independent["seeds_needed"] > 5 * N and not independent["seeds_needed_unreachable"]
    far = equivalence.compare_column(*_sample(0.5, 0.2), reached=False)
    assert far["seeds_needed_unreachable"] and far["seeds_needed"] is None  # outside the margin: no seeds help
    identical = equivalence.compare_column(*[_sample(0.0, 0.0)[0]] * 2, reached=False)
    assert identical["bound_in_margins"] == 0.0 and identical["seeds_needed"] is None
    assert equivalence._seeds_to_show([identical]) is None
    assert equivalence._seeds_to_show([identical, independent]) == independent["seeds_needed"]
    assert equivalence._seeds_to_show([independent, far]) == -1


def test_tost_p_is_the_larger_one_sided_p():
    from scipy import stats

    rng = np.random.default_rng(SEED)
    d = rng.normal(0.02, 0.1, N).tolist()
    se = np.std(d, ddof=1) / math.sqrt(N)
    want = max(stats.t.sf((np.mean(d) + 0.05) / se, N - 1), stats.t.cdf((np.mean(d) - 0.05) / se, N - 1))
    assert equivalence.tost_p(d, 0.05) == pytest.approx(want)


def test_reached_targets_use_the_probability_margin():
    old = [1.0] * 100 + [0.0] * 100
    same_rate = [0.0] * 5 + [1.0] * 95 + [1.0] * 5 + [0.0] * 95  # ten pairs swap, the rate stays at one half
    assert equivalence.compare_column(old, same_rate, reached=True)["equivalent"]
    assert equivalence.compare_column(old, same_rate, reached=True)["delta"] == equivalence.MARGIN_REACHED
    higher = [1.0] * 100 + [1.0] * 30 + [0.0] * 70  # 50% -> 65%
    assert not equivalence.compare_column(old, higher, reached=True)["equivalent"]


def test_nan_on_one_side_and_a_moved_constant_fail():
    old, new = _sample(0.0, 0.0)
    new = list(new)
    new[3] = float("nan")
    row = equivalence.compare_column(old, new, reached=False)
    assert row["nan_on_one_side"] == 1 and not row["equivalent"]
    both_nan = equivalence.compare_column([float("nan")] * N, [float("nan")] * N, reached=False)
    assert both_nan["identical"] == N and both_nan["equivalent"]
    constant = equivalence.compare_column([5.0] * N, [5.0] * (N - 1) + [6.0], reached=False)
    assert constant["sd_old"] == 0.0 and not constant["equivalent"]


def test_two_trees_run_the_same_seeds_and_compare_every_outcome_column():
    """A few tiny seeds under HEAD's tree and the working tree: the same seeds, every column compared."""
    scenario = "scenarios/tiny.toml"
    with exported_tree(resolve_ref("HEAD")) as old_tree:
        old = equivalence.run_side(old_tree, old_tree / scenario, 3, 1, 1, label="old")
    new = equivalence.run_side(ROOT, ROOT / scenario, 3, 1, 2, label="new")  # split over two processes
    assert [r["seed"] for r in old] == [r["seed"] for r in new] == [0, 1, 2]
    assert all(r["cpu_s"] > 0 and len(r["digest"]) == 16 for r in old + new)
    doc = equivalence.compare(old, new)
    from sim.model.targets import all_columns

    targets = all_columns()
    assert set(targets) <= set(doc["columns"]) and {f"reached:{t}" for t in targets} <= set(doc["columns"])
    assert any(c.startswith("end_") for c in doc["columns"])
    assert doc["not_on_both_sides"] == []
    # different seeds do differ: the comparison sees the runs, not a constant
    assert len({r["digest"] for r in new}) == 3


def test_cli_refuses_too_few_seeds_a_missing_ref_and_a_bad_scenario(capsys):
    assert cli(["bench", "--equivalence", "--against", "HEAD", "--seeds", "10"]) == 2
    assert "at least 200" in capsys.readouterr().err
    assert cli(["bench", "--equivalence"]) == 2
    assert "--against" in capsys.readouterr().err
    assert cli(["bench", "--equivalence", "--against", "HEAD", "--scenario", "no_such_scenario"]) == 2
    assert "no_such_scenario" in capsys.readouterr().err
    assert cli(["bench", "--equivalence", "--against", "no-such-ref-xyz"]) == 2
    assert "no-such-ref-xyz" in capsys.readouterr().err
    assert cli(["bench", "--equivalence", "--against", "HEAD", "--batch"]) == 2
    assert "runs on its own" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli(["bench", "--equivalence", "--against", "HEAD", "--workers", "0"])
    assert info.value.code == 2
    assert "--workers" in capsys.readouterr().err


def test_a_tree_that_cannot_run_its_own_replications_is_refused_with_the_reason(tmp_path):
    """A tree with no model: the editable install would fill the modules from the working tree; refused."""
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "__init__.py").write_text("")
    with pytest.raises(InputError, match=r"old: (imported sim\.model\.\w+ from .*, not from|replications failed)"):
        equivalence.run_side(tmp_path, tmp_path / "scenarios" / "tiny.toml", 2, 1, 1, label="old")
