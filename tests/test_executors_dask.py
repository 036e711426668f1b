"""Dask: a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 run a
small sweep with the tables of a serial run, survive a worker killed mid-batch, and an
unreachable or malformed address fails fast with a clear message. No mocks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.design import load_design
from sim.cli import main as cli
from sim.model.scenario import load_scenario
from sim.run.batch import load_batch, run_batch
from sim.run.runner import run_scenario

pytestmark = pytest.mark.slow  # starts a Dask scheduler and workers: about 15 s

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
BIN = Path(sys.executable).parent
DESIGN = 'name = "dk"\nmethod = "grid"\n[levers]\nlisting_subsidy_myuan = { values = [0.5, 3.0] }\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, tmp_path, name):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True)
    proc.log = log
    return proc


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of this process: the nanny and its worker
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers on free ports of 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    procs = [start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                    "--no-dashboard"], tmp, "scheduler")]  # fmt: skip
    try:
        for i in range(2):
            procs.append(start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(tmp),
                                "--name", f"w{i}"], tmp, f"worker{i}"))  # fmt: skip
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            stop(proc)


@pytest.fixture(scope="module")
def sweep_scenarios(tmp_path_factory):
    path = tmp_path_factory.mktemp("design") / "dk.toml"
    path.write_text(DESIGN)
    return path, load_design(path).scenarios(load_scenario(TINY))


@pytest.fixture(scope="module")
def serial(sweep_scenarios):
    return run_batch(sweep_scenarios[1], reps=3, seed=2016, out_root=None, progress=False)


def test_sweep_on_a_dask_cluster_gives_the_serial_tables(cluster, sweep_scenarios, serial, tmp_path):
    design, _ = sweep_scenarios
    args = [
        "sweep",
        str(TINY),
        "--design",
        str(design),
        "--reps",
        "3",
        "--dask",
        cluster,
        "--out",
        str(tmp_path),
        "--at-point",
    ]
    assert cli([*args, "--id", "d", "--quiet"]) == 0
    batch = load_batch("d", root=tmp_path)
    pd.testing.assert_frame_equal(batch.outcomes, serial.outcomes)
    pd.testing.assert_frame_equal(batch.monthly, serial.monthly)
    session = batch.manifest["sessions"][0]
    assert session["executor"] == "dask" and session["workers"] == 2
    workers = {r["worker"] for r in batch.manifest["runs"]}
    assert len(workers) == 2, f"both workers ran chunks: {workers}"


def kill_worker_once(scenario, *, seed, replicate, marker):
    """SIGKILL the Dask worker process running this task, the first time replicate 2 of dk-001 runs."""
    flag = Path(marker)
    if scenario.name == "dk-001" and replicate == 2 and not flag.exists():
        flag.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return run_scenario(scenario, seed=seed, replicate=replicate)


def test_a_worker_killed_mid_batch_costs_only_its_runs(cluster, sweep_scenarios, serial, tmp_path, capsys):
    marker = tmp_path / "killed"
    batch = run_batch(
        sweep_scenarios[1], reps=3, seed=2016, dask=cluster, out_root=tmp_path, progress=False, chunk_size=1,
        run_fn=partial(kill_worker_once, marker=str(marker)),
    )  # fmt: skip
    assert marker.exists(), "a worker process was killed during the batch"
    assert batch.failed == 0 and batch.status == "complete"
    pd.testing.assert_frame_equal(batch.outcomes, serial.outcomes)
    pd.testing.assert_frame_equal(batch.monthly, serial.monthly)
    attempts = {r["run"]: r["attempt"] for r in batch.manifest["runs"]}
    assert attempts[3 + 2] == 2, "the run whose worker was killed is recorded as done on its second attempt"
    assert set(attempts.values()) == {1, 2}
    assert "a worker died while running run(s) 5; done on attempt 2" in capsys.readouterr().err


def test_local_cluster(sweep_scenarios, serial):
    batch = run_batch(sweep_scenarios[1][:1], reps=3, seed=2016, dask="local:1", out_root=None, progress=False)
    expected = serial.outcomes[serial.outcomes["scenario"] == "dk-000"].drop(columns=["listing_subsidy_myuan"])
    pd.testing.assert_frame_equal(batch.outcomes, expected)


def test_unreachable_or_malformed_address_fails_fast_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PARKSIM_DASK_TIMEOUT_S", "1")
    out = tmp_path / "runs"
    dead = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    # an unreachable cluster is an executor fault (exit 4)
    assert cli(["sweep", str(TINY), "--design", "eco_x_financing", "--dask", dead, "--out", str(out)]) == 4
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err
    # a malformed address is a usage error, found while parsing (exit 2) by every command that takes --dask
    for command in (["sweep", str(TINY), "--design", "eco_x_financing"], ["run", str(TINY)], ["calibrate", "JOB"]):
        with pytest.raises(SystemExit) as info:
            cli([*command, "--dask", "127.0.0.1:8786", "--out", str(out)])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "argument --dask" in err and "tcp://HOST:PORT" in err, err
    assert not out.exists(), "nothing is written when the cluster cannot be used"


def square_or_die(x, marker=None):
    """x squared; with ``marker``, the worker that first sees x = 3 dies (once)."""
    if marker is not None and x == 3 and not Path(marker).exists():
        Path(marker).write_text("killed", encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def test_calibration_pool_maps_in_order_on_every_executor(cluster, tmp_path):
    """Calibration's Pool runs on the batch executors: same ordered results in process, on a pool, on Dask."""
    from sim.calibration.parallel import Pool

    expected = [x * x for x in range(10)]
    for kwargs in ({"workers": 1}, {"workers": 2}, {"dask": cluster}, {"dask": "local:1"}):
        with Pool(**kwargs) as pool:
            assert pool.map(square_or_die, range(10)) == expected, kwargs
    with Pool(dask=cluster) as pool:
        assert pool.describe() == f"Dask cluster at {cluster} (2 cores)"
    with Pool(workers=2) as pool:  # a dead worker is replaced and its tasks run again, as in a batch
        assert pool.map(partial(square_or_die, marker=str(tmp_path / "killed")), range(10)) == expected
        assert pool.executor.restarts == 1
