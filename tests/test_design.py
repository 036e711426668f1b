"""Sweep designs: grid, Latin hypercube, Sobol' and CSV tables, checked against the
declared inputs before anything runs, and sweeps that pair every point on the same seeds."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.design import DesignError, load_design
from sim.cli import main as cli
from sim.model.params import PARAMS
from sim.model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
SHIPPED = ("eco_x_financing", "listing_x_leading", "levers_lhs", "behaviour_sobol", "plan_packages")


def write(tmp_path, text, name="d.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_designs_load_and_make_valid_scenarios(name):
    design = load_design(ROOT / "scenarios" / "designs" / f"{name}.toml")
    scenarios = design.scenarios(load_scenario(TINY))
    assert len(scenarios) == len(design.points) >= 5
    assert len({s.name for s in scenarios}) == len(scenarios)
    for sc, point in zip(scenarios, design.points, strict=True):
        assert all(sc[k] == v for k, v in point.items())


def test_grid_is_the_full_product_with_linked_factors():
    design = load_design(ROOT / "scenarios" / "designs" / "eco_x_financing.toml")
    eco = sorted({p["eco_max_pollution_index"] for p in design.points})
    loans = sorted({p["finance_supermarket_loans_per_year"] for p in design.points})
    assert eco == [0.35, 0.45, 0.65, 0.85] and loans == [7.5, 18.75, 30.0]
    assert len(design.points) == 12
    assert {(p["eco_max_pollution_index"], p["finance_supermarket_loans_per_year"]) for p in design.points} == set(
        itertools.product(eco, loans)
    )
    # the linked inputs move together: vc_cluster_index is 1.0 / 1.5 / 2.0 with loans 7.5 / 18.75 / 30
    assert {(p["finance_supermarket_loans_per_year"], p["vc_cluster_index"]) for p in design.points} == {
        (7.5, 1.0),
        (18.75, 1.5),
        (30.0, 2.0),
    }


def test_lhs_is_stratified_and_integers_are_rounded(tmp_path):
    path = write(
        tmp_path,
        'method = "lhs"\npoints = 10\nsample_seed = 4\n[levers]\nvc_cluster_index = [0.5, 2.5]\n'
        "leading_support_firms = [0, 40]\n",
    )
    design = load_design(path)
    vc = np.array([p["vc_cluster_index"] for p in design.points])
    # a Latin hypercube puts exactly one point in each of the 10 equal slices of every range
    assert sorted(np.floor((vc - 0.5) / 0.2).astype(int)) == list(range(10))
    firms = [p["leading_support_firms"] for p in design.points]
    assert all(isinstance(f, int) and 0 <= f <= 40 for f in firms)
    assert load_design(path).points == design.points, "the same sample_seed gives the same points"


def test_sobol_needs_a_power_of_two_and_covers_the_range(tmp_path):
    bad = write(tmp_path, 'method = "sobol"\npoints = 12\n[params]\np_sign_lead = [0.2, 0.8]\n')
    with pytest.raises(DesignError, match="power of 2.*8 or 16"):
        load_design(bad)
    good = write(tmp_path, 'method = "sobol"\npoints = 16\n[params]\np_sign_lead = [0.2, 0.8]\n', "g.toml")
    values = np.array([p["p_sign_lead"] for p in load_design(good).points])
    assert len(values) == 16 and values.min() >= 0.2 and values.max() <= 0.8
    assert np.histogram(values, bins=4, range=(0.2, 0.8))[0].tolist() == [4, 4, 4, 4]


def test_log_scale_grid(tmp_path):
    path = write(
        tmp_path,
        'method = "grid"\n[levers]\nguidance_fund_myuan = { low = 10.0, high = 1000.0, levels = 3, scale = "log" }\n',
    )
    assert [p["guidance_fund_myuan"] for p in load_design(path).points] == pytest.approx([10.0, 100.0, 1000.0])


def test_csv_table(tmp_path):
    write(tmp_path, "name,vc_cluster_index,leading_support_firms\nlow,0.5,0\nhigh,2.5,30\n", "pts.csv")
    design = load_design(write(tmp_path, 'method = "table"\ntable = "pts.csv"\n'))
    assert design.point_names == ("low", "high")
    assert design.points == (
        {"vc_cluster_index": 0.5, "leading_support_firms": 0},
        {"vc_cluster_index": 2.5, "leading_support_firms": 30},
    )


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('method = "grid"\n[levers]\nnot_a_lever = [0, 1]\n', "levers.not_a_lever", "unknown lever; allowed: eco_max"),
        ('method = "grid"\n[levers]\np_sign_lead = [0.2, 0.8]\n', "levers.p_sign_lead", "belongs in \\[params\\]"),
        (
            'method = "grid"\n[levers]\nvc_cluster_index = [0.5, 9.0]\n',
            "levers.vc_cluster_index.high",
            "outside the declared range.*\\[0, 3\\]",
        ),
        (
            'method = "grid"\n[levers]\nvc_cluster_index = { values = [-1] }\n',
            "levers.vc_cluster_index.values",
            "outside",
        ),
        (
            'method = "grid"\n[levers]\nvc_cluster_index = { low = 0.5, hi = 2 }\n',
            "levers.vc_cluster_index.hi",
            "allowed: low, high",
        ),
        ('method = "random"\n[levers]\nvc_cluster_index = [0.5, 2]\n', "method", "allowed: grid, lhs, sobol, table"),
        ('method = "lhs"\n[levers]\nvc_cluster_index = [0.5, 2]\n', "points", "whole number"),
        ('method = "grid"\nrepeats = 3\n', "repeats", "allowed top-level keys"),
        ('method = "grid"\n', "levers", "varies nothing"),
        ('method = "table"\ntable = "missing.csv"\n', "table", "file not found"),
        (
            'method = "grid"\n[factors.f]\nlow = { vc_cluster_index = 1 }\nhigh = { nope = 2 }\n',
            "factors.f",
            "same inputs",
        ),
    ],
)
def test_design_errors_name_file_key_and_what_is_allowed(tmp_path, text, key, message):
    path = write(tmp_path, text)
    with pytest.raises(DesignError, match=message) as info:
        load_design(path)
    assert info.value.key == key and str(path) in str(info.value)


def test_bad_csv_value_names_the_line(tmp_path):
    write(tmp_path, "vc_cluster_index\n1.0\nlots\n", "pts.csv")
    with pytest.raises(DesignError, match=r"vc_cluster_index \(line 3\).*must be a number"):
        load_design(write(tmp_path, 'method = "table"\ntable = "pts.csv"\n'))


def test_sweep_rejects_a_bad_design_before_anything_runs(tmp_path, capsys):
    path = write(tmp_path, 'method = "grid"\n[levers]\nvc_cluster_index = [0.5, 9.0]\n')
    out = tmp_path / "runs"
    assert cli(["sweep", str(TINY), "--design", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "levers.vc_cluster_index.high" in err and "[0, 3]" in err
    assert not out.exists(), "nothing is written"


def test_sweep_pairs_every_point_on_the_same_seeds(tmp_path, capsys):
    path = write(tmp_path, 'name = "lv"\nmethod = "grid"\n[levers]\nleading_support_firms = { values = [0, 30] }\n')
    args = [
        "sweep",
        str(TINY),
        "--design",
        str(path),
        "--reps",
        "2",
        "--seed",
        "9",
        "--out",
        str(tmp_path),
        "--id",
        "w",
    ]
    assert cli([*args, "--quiet"]) == 0
    from sim.run.batch import load_batch

    batch = load_batch("w", root=tmp_path)
    out = batch.outcomes
    assert list(out["scenario"]) == ["lv-000", "lv-000", "lv-001", "lv-001"]
    assert list(out["leading_support_firms"]) == [0, 0, 30, 30]
    keys = out.groupby("scenario")["spawn_key"].apply(list)
    assert keys["lv-000"] == keys["lv-001"] == ["0", "1"]
    assert batch.manifest["design"]["method"] == "grid" and len(batch.manifest["design"]["points"]) == 2
    # resuming a finished sweep with another design is refused
    other = write(
        tmp_path, 'name = "lv"\nmethod = "grid"\n[levers]\nleading_support_firms = { values = [0, 20] }\n', "o.toml"
    )
    assert (
        cli(
            [
                "sweep",
                str(TINY),
                "--design",
                str(other),
                "--reps",
                "2",
                "--seed",
                "9",
                "--out",
                str(tmp_path),
                "--resume",
                "w",
            ]
        )
        == 2
    )
    assert "other scenarios or another design" in capsys.readouterr().err
    assert PARAMS["leading_support_firms"].integer
