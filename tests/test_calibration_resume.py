"""Interrupted jobs: an interrupted ABC job keeps its accepted particles and resumes; MSM resumes exactly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.calibrate import calibrate
from sim.calibration.job import JobError, load_job
from sim.calibration.synthetic import synthetic_data, write_data
from sim.cli import main as cli
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
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
    (folder / "scenario.toml").write_text(f'base = "{tiny}"\nname = "tiny12"\nend = "2017-06"\n', encoding="utf-8")
    figures = [("projects_signed", "park", "flow_year", "2017-06-30"), ("firms", "park", "stock", "2017-06-30")]
    truth = {"leads_per_month": 30.0, "p_register_per_month": 0.08}
    write_data(synthetic_data(load_scenario(folder / "scenario.toml"), truth, figures, seed=2), folder / "data.csv")
    for method in ("abc", "msm"):
        (folder / f"{method}.toml").write_text(JOB.format(method=method), encoding="utf-8")
    return folder


def stored_generations(db: Path) -> pd.DataFrame:
    from pyabc import History

    if not db.exists():
        return pd.DataFrame({"t": []})
    try:
        pops = History(f"sqlite:///{db}").get_all_populations()
    except Exception:  # noqa: BLE001 - the file may be half-created while the job starts
        return pd.DataFrame({"t": []})
    return pops[pops["t"] >= 0]


def particles(db: Path, t: int) -> pd.DataFrame:
    from pyabc import History

    df, w = History(f"sqlite:///{db}").get_distribution(m=0, t=t)
    return df.assign(w=w).sort_values(list(df.columns)).reset_index(drop=True)


def test_an_interrupted_abc_job_resumes_without_losing_accepted_particles(folder):
    out = folder / "abc_out"
    db = out / "abc.db"
    cmd = [sys.executable, "-m", "sim.cli", "calibrate", str(folder / "abc.toml"), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(stored_generations(db)) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # Ctrl-C after the first generation is stored
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err, "the message must say how to continue"
    kept = len(stored_generations(db))
    assert 1 <= kept < 3, "the job was cut off before its last generation"
    first = particles(db, 0)

    # without --resume the stored run is not overwritten
    assert cli(["calibrate", str(folder / "abc.toml"), "--out", str(out)]) == 2
    assert len(stored_generations(db)) == kept

    result = calibrate(load_job(folder / "abc.toml"), out=out, resume=True, log=lambda line: None)
    assert len(stored_generations(db)) == 3, "resuming completes the planned generations"
    pd.testing.assert_frame_equal(particles(db, 0), first)
    assert (out / "params.toml").exists() and result["method"] == "abc"


def test_a_resumed_msm_job_gives_the_result_of_an_uninterrupted_one(folder):
    job = load_job(folder / "msm.toml")
    whole = calibrate(job, out=folder / "msm_whole", log=lambda line: None)["summary"]

    out = folder / "msm_cut"
    cut = calibrate(job, out=out, budget=0.0, log=lambda line: None)  # stops after the first point
    assert "budget" in cut["stop_reason"]
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
    from distributed import LocalCluster

    job = load_job(folder / "msm.toml")
    local = calibrate(job, out=folder / "msm_local", log=lambda line: None)["summary"]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        on_dask = calibrate(job, out=folder / "msm_dask", dask=cluster.scheduler_address, log=lambda line: None)
    assert on_dask["executor"].startswith("Dask cluster")
    np.testing.assert_array_equal(on_dask["summary"]["estimate"].to_numpy(), local["estimate"].to_numpy())
