"""Input from other tools and the remaining kinds of bad input.

Numbers from numpy (EMA Workbench, SALib and ``scipy.stats.qmc`` hand them over)
are accepted wherever a Python number is and stored as plain Python numbers;
NaN and infinity are refused. Each bad input is refused with the file (or
option), the key and what is allowed, exit code 2 through the command line, and
nothing written. A store or disk fault raised where bad input is handled is not
reported as bad input.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import TINY_PATH

from sim.analysis.design import DesignError, factors_of, load_design, round_point
from sim.calibration.job import JobError, load_job, parse_prior
from sim.cli import main as cli
from sim.errors import InputError, StoreError
from sim.model.params import defaults
from sim.model.park import ParkModel
from sim.model.scenario import ScenarioError, load_scenario, scenario_notes

ROOT = Path(__file__).resolve().parents[1]
BOM = "\ufeff"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def names(message: str, path: Path | str, key: str | None) -> None:
    assert str(path) in message, f"the message should name {path}: {message}"
    if key:
        assert f"'{key}'" in message, f"the message should name the key '{key}': {message}"


# ----------------------------------------------------------------- numpy scalars
NUMPY_VALUES = {
    "vc_cluster_index": np.float32(1.5),
    "attraction_effort_index": np.float64(1.25),
    "leading_support_firms": np.int64(3),
    "guidance_fund_myuan": np.int32(400),
}


def test_numpy_scalars_are_accepted_and_stored_as_plain_numbers(tiny):
    sc = tiny.with_values(**NUMPY_VALUES)
    for key, value in NUMPY_VALUES.items():
        assert sc[key] == pytest.approx(float(value)), key
        assert type(sc[key]) in (int, float), f"{key} is stored as {type(sc[key]).__name__}, not a Python number"
    assert type(sc["leading_support_firms"]) is int
    json.dumps(sc.to_dict())  # the manifest's scenario serialises


def test_park_model_and_run_scenario_take_numpy_values(tiny):
    from sim.run.runner import run_scenario

    model = ParkModel(tiny, seed=np.int64(3), **NUMPY_VALUES)
    assert all(type(v) in (int, float) for v in model.park_scenario.values.values())
    short = tiny.with_values(end="2016-09", **NUMPY_VALUES)
    result = run_scenario(short, seed=np.int64(3))
    assert len(result.monthly) == short.n_months and result.monthly.index[-3] == "2016-07"


@pytest.mark.parametrize(
    ("value", "needle"),
    [(np.bool_(True), "must be a number"), (True, "must be a number"), (np.float64("nan"), "finite"),
     (float("inf"), "finite"), (np.float32("-inf"), "finite"), ("1.5", "must be a number")],
)  # fmt: skip
def test_with_values_refuses_bools_nan_and_infinity(tiny, value, needle):
    with pytest.raises(ScenarioError) as info:
        tiny.with_values(vc_cluster_index=value)
    assert "'vc_cluster_index'" in str(info.value) and needle in str(info.value), str(info.value)


def test_design_factors_take_numpy_numbers(tmp_path):
    data = {
        "levels": np.int64(3),
        "levers": {"vc_cluster_index": [np.float32(0.5), np.int64(2)]},
        "params": {"leads_per_month": {"values": [np.float64(20.0), np.int64(40)]}},
    }
    factors = factors_of(tmp_path / "d.toml", data, "grid")
    point = round_point({k: v for f in factors for k, v in f.grid()[0].items()})
    assert all(type(v) in (int, float) for v in point.values()), point
    json.dumps([f.low for f in factors] + [list(f.values) for f in factors])


def test_calibration_priors_take_numpy_numbers_and_refuse_nan(tmp_path):
    prior = parse_prior(tmp_path / "job.toml", "leads_per_month", {"low": np.float32(10), "high": np.int64(60)})
    assert (prior.low, prior.high) == (10.0, 60.0) and type(prior.low) is float
    with pytest.raises(JobError) as info:
        parse_prior(tmp_path / "job.toml", "leads_per_month", {"low": np.float64("nan")})
    names(str(info.value), tmp_path / "job.toml", "params.leads_per_month.low")


# ----------------------------------------------------------------- files: BOM, tables, empty
def test_a_utf8_bom_is_accepted_in_scenario_design_table_and_job_files(tmp_path):
    sc = load_scenario(write(tmp_path / "a.toml", f'{BOM}base = "{TINY_PATH}"\nname = "bom"\n'))
    assert sc.name == "bom"
    write(tmp_path / "points.csv", f"{BOM}name,vc_cluster_index\np1,0.5\np2,2.0\n")
    design = load_design(write(tmp_path / "d.toml", f'{BOM}method = "table"\ntable = "points.csv"\n'))
    assert design.point_names == ("p1", "p2")
    data = ROOT / "calibration" / "data" / "west_taihu_history.csv"
    job = f'{BOM}scenario = "{ROOT / "scenarios" / "history.toml"}"\ndata = "{data}"\n'
    job += '[params.leads_per_month]\nlow = 10.0\nhigh = 60.0\n[[series]]\nseries = "graphene_firms"\n'
    job += 'frame = "graphene_park"\n'
    assert load_job(write(tmp_path / "job.toml", job)).param_names == ["leads_per_month"]


def test_nan_in_a_csv_design_is_refused_with_the_table_and_column(tmp_path):
    csv = write(tmp_path / "points.csv", "vc_cluster_index\n0.5\nnan\n")
    with pytest.raises(DesignError) as info:
        load_design(write(tmp_path / "d.toml", 'method = "table"\ntable = "points.csv"\n'))
    names(str(info.value), csv, "vc_cluster_index (line 3)")
    assert "finite" in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "needle"),
    [
        ('method = "grid"\n[levers]\nvc_cluster_index = [2.5, 0.5]\n', "levers.vc_cluster_index",
         "low must be below high"),
        ('method = "lhs"\npoints = 4\n[levers]\nvc_cluster_index = { low = 2.5, high = 0.5 }\n',
         "levers.vc_cluster_index", "write [0.5, 2.5]"),
        ("", None, "the file is empty"),
        ("# only a comment\n", None, "method = one of grid"),
        ("[levers]\nvc_cluster_index = [0.5, 2.5]\n", "method", "missing"),
        ('method = "lhs"\npoints = nan\n[levers]\nvc_cluster_index = [0.5, 2.5]\n', "points", "whole number"),
    ],
)  # fmt: skip
def test_bad_designs_are_refused_by_sweep_with_exit_2_and_nothing_written(tmp_path, capsys, text, key, needle):
    design = write(tmp_path / "d.toml", text)
    with pytest.raises(DesignError) as info:
        load_design(design)
    names(str(info.value), design, key)
    assert needle in str(info.value), str(info.value)
    results = tmp_path / "results"
    assert cli(["sweep", str(TINY_PATH), "--design", str(design), "--reps", "1", "--out", str(results)]) == 2
    names(capsys.readouterr().err, design, key)
    assert not results.exists(), "a refused sweep must not create its results folder"


def test_a_linked_factor_may_run_one_input_down_as_another_goes_up(tmp_path):
    text = 'method = "grid"\n[factors.swap]\nlow = { vc_cluster_index = 2.0 }\nhigh = { vc_cluster_index = 0.5 }\n'
    assert len(load_design(write(tmp_path / "d.toml", text)).points) == 3


# ----------------------------------------------------------------- scenarios through `parksim run`
@pytest.mark.parametrize(
    ("text", "key", "needle"),
    [
        ("start = 2016-07-01\n", "start", 'write it as "2016-07"'),
        ('start = "2018-01"\nend = "2018-01"\n', "end", "later month than start"),
        ("[levers]\nvc_cluster_index = nan\n", "levers.vc_cluster_index", "finite"),
    ],
)
def test_run_refuses_bad_scenarios_with_exit_2_and_writes_nothing(tmp_path, capsys, text, key, needle):
    path = write(tmp_path / "a.toml", f'base = "{TINY_PATH}"\n' + text)
    results = tmp_path / "results"
    assert cli(["run", str(path), "--reps", "1", "--out", str(results), "--quiet"]) == 2
    err = capsys.readouterr().err
    names(err, path, key)
    assert needle in err, err
    assert not results.exists(), "a refused run must not create its results folder"


def test_validate_says_which_targets_a_short_run_leaves_out(tmp_path, capsys):
    path = write(tmp_path / "short.toml", f'base = "{TINY_PATH}"\nend = "2017-12"\n')
    assert cli(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "listed_companies_2020 (due by December 2020, after the run's end 2017-12)" in err, err
    assert "graphene_total_2016" not in err, "a 2016 target is inside this window"
    full = load_scenario(TINY_PATH).with_values(end="2020-12")  # the window to the 2020 targets
    assert scenario_notes(full) == [], "the full window evaluates every target"


def test_an_empty_scenario_runs_the_declared_defaults_and_validate_says_so(tmp_path, capsys):
    path = write(tmp_path / "empty.toml", "")
    assert load_scenario(path).values == defaults()
    assert cli(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"note    {path}" in err and "declared defaults" in err and 'base = "baseline.toml"' in err, err


# ----------------------------------------------------------------- options
def test_compare_refuses_an_out_that_is_a_file(tmp_path, capsys):
    out = write(tmp_path / "notes.txt", "keep me\n")
    for given in (out, out / "sub"):
        assert cli(["compare", "no-such-batch", "--root", str(tmp_path), "--out", str(given)]) == 2
        err = capsys.readouterr().err
        assert "'--out'" not in err and "--out" in err and str(out) in err and "is a file" in err, err
    assert out.read_text() == "keep me\n", "the file given as --out must be left as it was"


def test_bench_refuses_no_replications_and_an_unwritable_json(tmp_path, capsys):
    assert cli(["bench", "--reps", "0", "--config", "tiny"]) == 2
    assert "--reps" in (err := capsys.readouterr().err) and "1 or more" in err, err
    assert cli(["bench", "--reps", "1", "--config", "tiny", "--json", str(tmp_path)]) == 2
    assert "--json" in capsys.readouterr().err
    from sim.run.bench import run_all

    with pytest.raises(InputError, match="--reps"):
        run_all(["tiny"], 0)


def test_runs_says_a_root_that_is_a_file_is_not_a_folder(tmp_path, capsys):
    root = write(tmp_path / "runs", "")
    assert cli(["runs", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert str(root) in err and "is a file, not a folder" in err, err


def test_workers_beyond_the_usable_cores_are_capped_with_a_note(capsys):
    from sim.run.executors import make_executor

    usable = len(os.sched_getaffinity(0))
    with make_executor(usable + 498) as executor:
        assert executor.describe().get("workers", 1) <= usable
    assert f"--workers {usable + 498} capped at {usable}" in capsys.readouterr().err
    with make_executor(1):
        pass
    assert capsys.readouterr().err == "", "no note when the count fits"


# ----------------------------------------------------------------- errors by kind
def test_a_store_fault_while_validating_is_not_reported_as_bad_input(monkeypatch, capsys):
    def broken(ref):
        raise StoreError(ref, "cannot read: the disk failed")

    monkeypatch.setattr("sim.model.scenario.load_scenario", broken)
    assert cli(["validate", "baseline"]) == 3
    err = capsys.readouterr().err
    assert "INVALID" not in err and "disk failed" in err, err


def test_a_full_disk_while_validating_is_not_reported_as_bad_input(monkeypatch, capsys):
    def full(ref):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sim.model.scenario.load_scenario", full)
    with pytest.raises(OSError, match="No space left"):
        cli(["validate", "baseline"])
    assert "INVALID" not in capsys.readouterr().err


def test_a_store_fault_loading_a_jobs_scenario_is_not_turned_into_a_job_error(monkeypatch):
    def broken(ref):
        raise StoreError(ref, "cannot read: the disk failed")

    monkeypatch.setattr("sim.calibration.job.load_scenario", broken)
    with pytest.raises(StoreError) as info:
        load_job(ROOT / "calibration" / "jobs" / "default.toml")
    assert not isinstance(info.value, InputError)


def test_a_full_disk_while_comparing_is_a_store_fault_not_bad_input(tmp_path, monkeypatch, capsys):
    fake = SimpleNamespace(status="complete", id="b1", folder=tmp_path, summary_line=lambda: "b1")
    monkeypatch.setattr("sim.run.batch.load_batch", lambda ref, root: fake)

    def full(batches, out, reference=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sim.analysis.compare.compare", full)
    assert cli(["compare", "b1", "--out", str(tmp_path / "cmp")]) == 3
    err = capsys.readouterr().err
    assert "No space left on device" in err and "--reference" not in err, err


def test_a_scenario_without_base_or_fitted_parameters_gets_the_same_note(tmp_path):
    path = write(tmp_path / "loose.toml", "[levers]\nvc_cluster_index = 2.0\n")
    assert any("declared defaults" in n for n in scenario_notes(load_scenario(path)))
    for name in ("baseline", "history", "financing"):
        assert not any("declared defaults" in n for n in scenario_notes(load_scenario(name))), name
