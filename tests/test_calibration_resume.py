"""Interrupted jobs resume to the result of an uninterrupted one, wherever they were cut off.

Interruptions are placed exactly by the test hooks of :mod:`sim.calibration.parallel`
(``PARKSIM_INTERRUPT_AFTER_*``), never by timing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.calibrate import calibrate
from sim.calibration.job import JobError, load_job
from sim.calibration.synthetic import synthetic_data, write_data
from sim.cli import main as cli
from sim.errors import InputError, StoreError
from sim.model.scenario import load_scenario

pytestmark = pytest.mark.slow  # runs, cuts and resumes real ABC and MSM jobs: about 60 s

ROOT = Path(__file__).resolve().parents[1]
# A cold start at 2016-07 (no 2014 warm-up): the fit machinery is the same and the runs are 2-3x shorter.
# The forked path through calibration is covered by test_calibration_budget, test_crossval and test_history_matching.
COLD = 'history_start = "2016-07"\n'
HANG_GUARD_S = 900  # only stops a hung subprocess; no result depends on how long anything takes
JOB = """name = "resume_{method}"
method = "{method}"
scenario = "scenario.toml"
data = "data.csv"
seed = 3

[params.leads_per_month]
low = 10.0
high = 60.0

[params.p_register_per_month]
low = 0.02
high = 0.25

[[series]]
series = "projects_signed"

[[series]]
series = "firms"

[abc]
population = 16
max_generations = 3

[msm]
replications = 4
start_points = 2
max_evaluations = 12

[output]
predictive_runs = 4
posterior_draws = 16
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A 12-month tiny scenario with a synthetic record and one job file per method."""
    folder = tmp_path_factory.mktemp("resume")
    tiny = ROOT / "scenarios" / "tiny.toml"
    (folder / "scenario.toml").write_text(
        f'base = "{tiny}"\nname = "tiny12"\n{COLD}end = "2017-06"\n', encoding="utf-8"
    )
    figures = [("projects_signed", "park", "flow_year", "2017-06-30"), ("firms", "park", "stock", "2017-06-30")]
    truth = {"leads_per_month": 30.0, "p_register_per_month": 0.08}
    write_data(synthetic_data(load_scenario(folder / "scenario.toml"), truth, figures, seed=2), folder / "data.csv")
    for method in ("abc", "msm"):
        (folder / f"{method}.toml").write_text(JOB.format(method=method), encoding="utf-8")
    return folder


def stored_generations(db: Path) -> int:
    from sim.calibration.abc_smc import finished_generations

    return finished_generations(db)


def particles(db: Path, t: int) -> pd.DataFrame:
    from pyabc import History

    df, w = History(f"sqlite:///{db}").get_distribution(m=0, t=t)
    return df.assign(w=w).sort_values(list(df.columns)).reset_index(drop=True)


def quiet(line):
    pass


def same_fit(out: Path, whole: Path) -> None:
    """The fit in ``out`` equals the uninterrupted one in ``whole`` (workers = 1 is reproducible)."""
    for name in ("generations.csv", "posterior.csv"):
        a, b = pd.read_csv(out / name), pd.read_csv(whole / name)
        a, b = a.drop(columns="seconds", errors="ignore"), b.drop(columns="seconds", errors="ignore")
        pd.testing.assert_frame_equal(a, b, obj=name)


@pytest.fixture(scope="module")
def abc_whole(folder) -> Path:
    """The ABC job run without interruption: what every resumed run must end with."""
    out = folder / "abc_whole"
    calibrate(load_job(folder / "abc.toml"), out=out, log=quiet)
    return out


def test_an_interrupted_abc_job_resumes_without_losing_accepted_particles(folder, abc_whole):
    out = folder / "abc_out"
    db = out / "abc.db"
    cmd = [sys.executable, "-m", "sim.cli", "calibrate", str(folder / "abc.toml"), "--out", str(out)]
    env = {**os.environ, "PARKSIM_INTERRUPT_AFTER_GENERATION": "0"}  # as a Ctrl-C once generation 0 is stored
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert proc.returncode == 130, proc.stderr
    assert "--resume" in proc.stderr, "the message must say how to continue"
    assert "generation 1/3" in proc.stderr and "ETA" in proc.stderr, "a progress bar with an ETA is drawn"
    assert stored_generations(db) == 1, "the job stopped right after generation 0"
    first = particles(db, 0)

    # without --resume the stored run is not overwritten
    assert cli(["calibrate", str(folder / "abc.toml"), "--out", str(out), "--quiet"]) == 2
    assert stored_generations(db) == 1

    result = calibrate(load_job(folder / "abc.toml"), out=out, resume=True, log=quiet)
    assert stored_generations(db) == 3, "resuming completes the planned generations"
    pd.testing.assert_frame_equal(particles(db, 0), first)
    assert (out / "params.toml").exists() and result["method"] == "abc"
    same_fit(out, abc_whole)


def test_an_abc_job_cut_off_before_its_first_generation_starts_again(folder, abc_whole, monkeypatch):
    out = folder / "abc_early"
    job = load_job(folder / "abc.toml")
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_SIMULATION", "5")  # inside the prior sample of generation 0
    with pytest.raises(KeyboardInterrupt):
        calibrate(job, out=out, log=quiet)
    assert (out / "abc.db").exists() and stored_generations(out / "abc.db") == 0
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_SIMULATION")
    lines = []
    calibrate(job, out=out, resume=True, log=lines.append)
    assert any("starting from the prior" in line for line in lines), lines
    same_fit(out, abc_whole)


def test_an_abc_job_cut_off_mid_generation_resumes_from_the_last_stored_one(folder, abc_whole, monkeypatch):
    out = folder / "abc_mid"
    job = load_job(folder / "abc.toml")
    sims = json.loads((abc_whole / "run.json").read_text())["simulations"]  # prior sample + every generation
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_SIMULATION", str(sims - 2))  # inside the last generation
    with pytest.raises(KeyboardInterrupt):
        calibrate(job, out=out, log=quiet)
    assert stored_generations(out / "abc.db") == 2
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_SIMULATION")
    calibrate(job, out=out, resume=True, log=quiet)
    same_fit(out, abc_whole)


def half_created(db: Path) -> None:
    """What pyABC 0.13 leaves when cut off while creating a file: some tables, no version row."""
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE version (version_num VARCHAR(32) PRIMARY KEY)")
    con.execute("CREATE TABLE abc_smc (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()


def test_a_half_created_history_is_discarded_and_a_garbage_file_is_refused(tmp_path, folder):
    from sim.calibration.abc_smc import _check_resume

    job = load_job(folder / "abc.toml")
    db = tmp_path / "abc.db"
    half_created(db)
    (tmp_path / "abc.db.new").write_bytes(b"")  # a new run's tables, cut off before they were moved
    lines = []
    _check_resume(db, job, resume=False, log=lines.append)  # nothing finished to protect: no --resume needed
    assert not db.exists() and not (tmp_path / "abc.db.new").exists() and "starting from the prior" in lines[0]
    db.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="cannot be read as a pyABC history"):
        _check_resume(db, job, resume=True, log=lines.append)
    assert db.exists(), "a file that cannot be read is never deleted"


def test_a_new_history_appears_with_all_its_tables(folder, tmp_path, monkeypatch):
    """A reader (another pyABC History) never meets a half-built file: the cause of 'table ... already exists'."""
    from sim.calibration import abc_smc
    from sim.calibration.parallel import Pool
    from sim.calibration.patterns import job_model

    job = load_job(folder / "abc.toml")
    moved, real_replace = [], os.replace

    def replace(src, dst):
        con = sqlite3.connect(src)
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        moved.append((tables, con.execute("SELECT COUNT(*) FROM version").fetchone()[0]))
        con.close()
        real_replace(src, dst)

    monkeypatch.setattr(abc_smc.os, "replace", replace)
    db = tmp_path / "abc.db"
    sim, disc = job_model(job)
    abc_smc._create(db, abc_smc._abcsmc(job, sim, disc, Pool(1)), job)
    (tables, versions), *_ = moved
    assert {"version", "abc_smc", "populations", "models", "particles", "parameters"} <= tables and versions == 1
    assert abc_smc.finished_generations(db) == 0 and not (tmp_path / "abc.db.new").exists()


def test_a_bad_interrupt_hook_value_is_bad_input(monkeypatch):
    from sim.calibration.parallel import interrupt_point

    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_GENERATION", "two")
    with pytest.raises(InputError, match="PARKSIM_INTERRUPT_AFTER_GENERATION.*whole number"):
        interrupt_point("generation", 0)


def test_a_resumed_msm_job_gives_the_result_of_an_uninterrupted_one(folder, monkeypatch):
    job = load_job(folder / "msm.toml")
    whole = calibrate(job, out=folder / "msm_whole", log=lambda line: None)["summary"]

    out = folder / "msm_cut"
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_EVALUATION", "3")  # as a Ctrl-C once the 3rd point is stored
    with pytest.raises(KeyboardInterrupt):
        calibrate(job, out=out, log=lambda line: None)
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_EVALUATION")
    assert len((out / "msm_cache.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    with (out / "msm_cache.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"u": [0.5, 0.5], "figures": [[1.0, ')  # a line cut off by a kill
    with pytest.raises(JobError, match="--resume"):
        calibrate(job, out=out, log=lambda line: None)
    resumed = calibrate(job, out=out, resume=True, log=lambda line: None)["summary"]
    np.testing.assert_array_equal(resumed["estimate"].to_numpy(), whole["estimate"].to_numpy())
    np.testing.assert_allclose(resumed["se"].to_numpy(), whole["se"].to_numpy())

    # a different job must not continue this run's stored evaluations
    changed = folder / "msm_seed4.toml"
    changed.write_text((folder / "msm.toml").read_text(encoding="utf-8").replace("seed = 3", "seed = 4"))
    with pytest.raises(JobError, match="changed since this run began \\(seed\\)"):
        calibrate(load_job(changed), out=out, resume=True, log=lambda line: None)


def test_a_job_gives_the_same_result_on_a_dask_cluster(folder):
    """MSM with common random numbers is deterministic, so the executor must not change its result."""
    job = load_job(folder / "msm.toml")
    local = calibrate(job, out=folder / "msm_local", log=lambda line: None)["summary"]
    on_dask = calibrate(job, out=folder / "msm_dask", dask="local:1", log=lambda line: None)  # the batch executor's
    assert on_dask["executor"].startswith("Dask cluster")
    np.testing.assert_array_equal(on_dask["summary"]["estimate"].to_numpy(), local["estimate"].to_numpy())


def test_calibrate_on_dask_local_gives_the_generations_of_a_process_pool(folder):
    """``--dask local:2`` and ``--workers 2`` run the same seeded sampling tasks, so the fit is the same.

    Both use the parallel sampler (one seed per sampling task, drawn from the job's
    generator); ``--workers 1`` samples sequentially and gives other, equally valid
    generations, so only parallel executors are compared.
    """
    job = folder / "abc_parallel.toml"
    job.write_text(
        (folder / "abc.toml").read_text(encoding="utf-8").replace("max_generations = 3", "max_generations = 2")
    )
    outs = {}
    for name, flags in (("pool", ["--workers", "2"]), ("dask", ["--dask", "local:2"])):
        outs[name] = folder / f"abc_{name}"
        assert cli(["calibrate", str(job), "--out", str(outs[name]), "--quiet", *flags]) == 0, name
    same_fit(outs["dask"], outs["pool"])
    assert json.loads((outs["dask"] / "run.json").read_text())["executor"].startswith("Dask cluster at local:2")
    assert stored_generations(outs["dask"] / "abc.db") == 2
