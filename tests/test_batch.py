"""The batch engine: common random numbers, identical tables whatever the executor,
failed runs recorded without stopping the batch, and crash safety (SIGKILL, Ctrl-C,
a dead pool worker) with resume giving the tables of an uninterrupted batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main as cli
from sim.model.scenario import ScenarioError, load_scenario
from sim.run.batch import Plan, load_batch, resume_batch, run_batch
from sim.run.executors import outcome_columns, reporter_columns
from sim.run.runner import run_arrays, run_scenario
from sim.run.session import Chunker

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
REPS, SEED = 3, 11


def tiny_pair():
    tiny = load_scenario(TINY)
    return [tiny, tiny.with_values(name="tiny_listing", listing_subsidy_myuan=3.0, listing_reserve_support=0.8)]


@pytest.fixture(scope="module")
def reference():
    """Serial, in memory: the tables every other way of running must reproduce."""
    return run_batch(tiny_pair(), reps=REPS, seed=SEED, out_root=None, progress=False)


def assert_same_tables(a, b):
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)


def test_common_random_numbers_and_layout(reference):
    out = reference.outcomes
    assert list(out["run"]) == list(range(2 * REPS))
    assert list(out["scenario"]) == ["tiny"] * REPS + ["tiny_listing"] * REPS
    # replicate i of every scenario has the same child seed: SeedSequence(SEED).spawn(REPS)[i]
    children = np.random.SeedSequence(SEED).spawn(REPS)
    for scen, runs in out.groupby("scenario"):
        assert list(runs["spawn_key"]) == [",".join(map(str, c.spawn_key)) for c in children], scen
        assert set(runs["seed"]) == {SEED}
    # outcomes equal, bit for bit, those of run_scenario with that child seed (the batch takes the array path)
    solo = run_scenario(load_scenario(TINY), seed=children[1], replicate=1)
    row = out[(out["scenario"] == "tiny") & (out["replicate"] == 1)].iloc[0]
    assert sorted(solo.outcomes) == sorted(outcome_columns())
    for key, value in solo.outcomes.items():
        assert row[key] == value or (np.isnan(row[key]) and np.isnan(value)), key
    mon = reference.monthly
    assert list(mon.columns[:5]) == ["run", "scenario", "replicate", "seed", "date"]
    assert list(mon.columns[5:]) == reporter_columns()
    assert len(mon) == 2 * REPS * len(solo.monthly)
    np.testing.assert_array_equal(mon[mon["run"] == 1][reporter_columns()].to_numpy(), solo.monthly.to_numpy(float))
    # the lever that differs between the scenarios is an input column of the outcomes
    assert list(out.groupby("scenario")["listing_subsidy_myuan"].first()) == [0.5, 3.0]
    assert reference.failed == 0 and reference.status == "complete"


def test_identical_tables_for_pool_and_chunking(reference, tmp_path):
    pooled = run_batch(tiny_pair(), reps=REPS, seed=SEED, workers=2, out_root=tmp_path, progress=False, chunk_size=2)
    assert_same_tables(reference, pooled)
    assert_same_tables(reference, load_batch(pooled.folder))
    assert pooled.manifest["sessions"][0]["executor"] == "pool"


def test_chunks_follow_run_time_and_keep_the_tail_balanced():
    plan = Plan.build(tiny_pair(), 50, SEED)
    chunker = Chunker(plan, list(range(plan.n_runs)), workers=2, target_s=0.5)
    chunks = iter(chunker)
    drawn = [next(chunks) for _ in range(4)]
    assert [len(c) for c in drawn] == [1, 1, 1, 1], "nothing is known of run times yet: one run per chunk"
    chunker.observe({"runs": [{"status": "ok", "seconds": 0.01}] * 4})  # short runs: 50 would fit in 0.5 s
    drawn.append(next(chunks))
    assert len(drawn[-1]) == 12, "capped at a quarter of the remaining 96 runs per worker"
    chunker.observe({"runs": [{"status": "ok", "seconds": 10.0}] * 12})  # long runs now dominate the mean
    drawn.append(next(chunks))
    assert len(drawn[-1]) == 1
    drawn += list(chunks)
    runs = [t.run for c in drawn for t in c]
    assert runs == list(range(plan.n_runs)), "every run exactly once, in order"
    assert [len(c) for c in Chunker(plan, list(range(20)), workers=2, size=7)] == [7, 7, 6], "a fixed size is kept"


def test_different_seed_differs(reference):
    other = run_batch(tiny_pair()[:1], reps=2, seed=SEED + 1, out_root=None, progress=False)
    mine = reference.outcomes[reference.outcomes["scenario"] == "tiny"].head(2).reset_index(drop=True)
    cols = ["end_firms_in_park", "end_talent_people", "end_revenue_bn_yuan"]
    assert not np.allclose(mine[cols].to_numpy(), other.outcomes[cols].to_numpy()), "another seed gives another park"


def fail_on(scenario, *, seed, replicate, bad=("tiny_listing", 1)):
    if (scenario.name, replicate) == bad:
        raise ValueError("injected failure")
    return run_scenario(scenario, seed=seed, replicate=replicate)


def fail_arrays_on(scenario, seed, bad):
    """The batch's own path (run_arrays), failing for one scenario and replicate."""
    if (scenario.name, seed.spawn_key[-1]) == bad:
        raise ValueError("injected failure")
    return run_arrays(scenario, seed)


def test_failed_run_is_recorded_and_batch_goes_on(reference, tmp_path):
    batch = run_batch(tiny_pair(), reps=REPS, seed=SEED, out_root=tmp_path, progress=False, run_fn=fail_on)
    assert batch.failed == 1 and batch.status == "complete-with-failures"
    out = batch.outcomes
    bad = out[out["status"] == "failed"]
    assert list(bad["run"]) == [REPS + 1] and bad["error"].iloc[0] == "ValueError: injected failure"
    assert bad[outcome_columns()].isna().all(axis=None)
    assert (batch.monthly["run"] != REPS + 1).all()
    good = out[out["status"] == "ok"].drop(columns=["status", "error"])
    ref = reference.outcomes.drop(index=REPS + 1).drop(columns=["status", "error"])
    pd.testing.assert_frame_equal(good.reset_index(drop=True), ref.reset_index(drop=True))
    manifest = json.loads((batch.folder / "manifest.json").read_text())
    (failure,) = manifest["failures"]
    assert failure["seed"] == SEED and failure["spawn_key"] == "1" and failure["scenario"] == "tiny_listing"
    assert "injected failure" in failure["traceback"] and failure["overrides"]["listing_subsidy_myuan"] == 3.0
    assert manifest["counts"] == {"planned": 2 * REPS, "ok": 2 * REPS - 1, "failed": 1, "pending": 0}


def test_cli_exit_code_is_nonzero_when_a_run_fails(tmp_path, monkeypatch, capsys):
    design = tmp_path / "two.toml"
    design.write_text('method = "grid"\n[levers]\nlisting_subsidy_myuan = { values = [0.5, 3.0] }\n')
    monkeypatch.setattr("sim.run.runner.run_arrays", partial(fail_arrays_on, bad=("two-001", 0)))
    args = ["sweep", str(TINY), "--design", str(design), "--reps", "2", "--out", str(tmp_path / "runs"), "--quiet"]
    assert cli(args) == 1
    assert "1 run(s) failed" in capsys.readouterr().err


def test_ctrl_c_keeps_finished_runs_and_resume_completes(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_RUN", str(REPS))  # Ctrl-C once REPS runs are stored
    with pytest.raises(KeyboardInterrupt):
        run_batch(tiny_pair(), reps=REPS, seed=SEED, out_root=tmp_path, batch_id="b", progress=False, chunk_size=1)
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_RUN")
    partial_batch = load_batch("b", root=tmp_path)
    assert partial_batch.status == "interrupted"
    assert list(partial_batch.outcomes["run"]) == list(range(REPS)), "the runs finished before Ctrl-C are kept"
    assert cli(["resume", "b", "--root", str(tmp_path), "--quiet"]) == 0
    done = load_batch("b", root=tmp_path)
    assert done.status == "complete" and len(done.manifest["sessions"]) == 2
    assert_same_tables(reference, done)


def parksim(*args, env=None, **kw):
    """Start ``parksim ARGS`` as a real process."""
    return subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.slow  # starts real parksim processes
def test_two_resumes_at_once_give_the_tables_of_an_uninterrupted_batch(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("PARKSIM_INTERRUPT_AFTER_RUN", "2")
    with pytest.raises(KeyboardInterrupt):
        run_batch(tiny_pair(), reps=REPS, seed=SEED, out_root=tmp_path, batch_id="two", progress=False, chunk_size=1)
    monkeypatch.delenv("PARKSIM_INTERRUPT_AFTER_RUN")
    procs = [parksim("resume", "two", "--root", str(tmp_path), "--quiet") for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]  # the timeout only guards against a hang
    for code, err in results:
        assert code == 0 or (code == 3 and "batch two is being written by process" in err), (code, err)
    assert 0 in [code for code, _ in results], results
    done = load_batch("two", root=tmp_path)
    assert done.status == "complete"
    assert_same_tables(reference, done)


def exit_once(scenario, *, seed, replicate, marker):
    """Kill this worker process the first time run 'tiny_listing' replicate 1 is attempted."""
    flag = Path(marker)
    if scenario.name == "tiny_listing" and replicate == 1 and not flag.exists():
        flag.write_text("died once")
        os._exit(9)
    return run_scenario(scenario, seed=seed, replicate=replicate)


def test_dead_pool_worker_costs_only_its_runs(reference, tmp_path):
    run_fn = partial(exit_once, marker=str(tmp_path / "marker"))
    batch = run_batch(tiny_pair(), reps=REPS, seed=SEED, workers=2, out_root=tmp_path, progress=False, run_fn=run_fn)
    assert (tmp_path / "marker").exists(), "the worker really died"
    assert batch.failed == 0 and batch.manifest["sessions"][0]["restarts"] >= 1
    assert max(r.get("attempt", 1) for r in batch.manifest["runs"]) >= 2
    assert max(r.get("attempt", 1) for r in load_batch(batch.folder).manifest["runs"]) >= 2, "kept in the parts"
    assert_same_tables(reference, batch)


def batch_script(folder, workers=1, reps=4):
    """A script running a three-scenario batch 'k' into ``folder``, one run per chunk."""
    return (
        "from sim.model.scenario import load_scenario\nfrom sim.run.batch import run_batch\n"
        "if __name__ == '__main__':\n"
        f"    s = load_scenario({str(TINY)!r})\n"
        "    sc = [s.with_values(name=f't{i}', listing_subsidy_myuan=0.5 + i) for i in range(3)]\n"
        f"    run_batch(sc, reps={reps}, seed=5, out_root={str(folder)!r}, batch_id='k', progress=False,\n"
        f"              workers={workers}, chunk_size=1)\n"
    )


@pytest.mark.slow  # starts real parksim processes
def test_sigkill_mid_batch_loses_nothing_and_resume_is_identical(tmp_path):
    scenarios = [load_scenario(TINY).with_values(name=f"t{i}", listing_subsidy_myuan=0.5 + i) for i in range(3)]
    reps = 4
    script = tmp_path / "batch.py"
    script.write_text(batch_script(tmp_path, reps=reps))
    env = {**os.environ, "PARKSIM_KILL_AFTER_RUN": "3"}  # SIGKILL itself once 3 runs are stored
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    kept = load_batch("k", root=tmp_path)
    assert list(kept.outcomes["run"]) == [0, 1, 2], "killed after exactly three stored runs"
    assert kept.status == "interrupted"
    assert cli(["runs", "--root", str(tmp_path)]) == 0
    resumed = resume_batch("k", root=tmp_path, progress=False)
    assert resumed.status == "complete"
    uninterrupted = run_batch(scenarios, reps=reps, seed=5, out_root=None, progress=False)
    assert_same_tables(uninterrupted, load_batch("k", root=tmp_path))
    again = resumed.outcomes.set_index("run").loc[kept.outcomes["run"]].reset_index()
    pd.testing.assert_frame_equal(kept.outcomes, again[kept.outcomes.columns])


def live_members(group: int) -> list[int]:
    """Processes of process group ``group`` that are still running (zombies excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.slow  # starts real parksim processes
def test_workers_and_forkserver_exit_when_the_main_process_is_killed(tmp_path):
    script = tmp_path / "batch.py"
    script.write_text(batch_script(tmp_path, workers=2, reps=20))
    env = {**os.environ, "PARKSIM_KILL_AFTER_RUN": "4"}
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, start_new_session=True)
    assert proc.wait(timeout=300) == -signal.SIGKILL
    workers = {
        int(w.rsplit(":", 1)[1])
        for w in (r.get("worker") for r in load_batch("k", root=tmp_path).manifest["runs"])
        if w
    }
    assert workers and proc.pid not in workers, "the runs were made by pool workers"
    deadline = time.monotonic() + 60  # a guard against hanging; the test asks only that they exit
    while live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_members(proc.pid), "the forkserver and the pool's workers outlived the killed main process"


def test_bad_arguments_are_rejected_before_anything_is_written(tmp_path):
    tiny = load_scenario(TINY)
    with pytest.raises(ScenarioError, match="unique"):
        run_batch([tiny, tiny], reps=1, out_root=tmp_path, progress=False)
    with pytest.raises(ScenarioError, match="reps"):
        run_batch([tiny], reps=0, out_root=tmp_path, progress=False)
    with pytest.raises(ScenarioError, match="seed"):
        run_batch([tiny], reps=1, seed=-1, out_root=tmp_path, progress=False)
    with pytest.raises(ScenarioError, match="workers"):
        run_batch([tiny], reps=1, workers=0, out_root=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    run_batch([tiny], reps=1, out_root=tmp_path, batch_id="x", progress=False)
    with pytest.raises(ScenarioError, match="exists"):
        run_batch([tiny], reps=1, out_root=tmp_path, batch_id="x", progress=False)


README_SCRIPT = """\
from sim import load_scenario, run_scenario, run_batch
{indent}result = run_scenario(load_scenario({tiny!r}), seed=1)
{indent}batch = run_batch([load_scenario({tiny!r})], reps=2, seed=2016, workers=2, out_root={out!r}, progress=False)
{indent}print("rows", len(batch.outcomes))
"""


@pytest.mark.slow  # starts real parksim processes
def test_a_script_without_the_main_guard_fails_fast_and_writes_nothing(tmp_path):
    out = tmp_path / "runs"
    bare = tmp_path / "bare.py"  # the README's From Python snippet, as users save it: no guard
    bare.write_text(README_SCRIPT.format(indent="", tiny=str(TINY), out=str(out)))
    proc = subprocess.run([sys.executable, str(bare)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'if __name__ == "__main__":' in proc.stderr and "ExecutorError" in proc.stderr, proc.stderr
    assert "bare.py, line 3" in proc.stderr, "the message points at the unguarded call"
    assert not out.exists() or not list(out.iterdir()), "no batch folder is left behind"
    guarded = tmp_path / "guarded.py"
    guarded.write_text(README_SCRIPT.replace("from sim import", "if __name__ == '__main__':\n    from sim import")
                       .format(indent="    ", tiny=str(TINY), out=str(out)))  # fmt: skip
    proc = subprocess.run([sys.executable, str(guarded)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "rows 2" in proc.stdout, proc.stderr
    assert len(list(out.iterdir())) == 1


@pytest.mark.slow  # starts real parksim processes
def test_python_dash_m_needs_no_guard(tmp_path):
    """multiprocessing never imports a package's __main__ in workers, so 'python -m sim.cli' runs a pool."""
    args = [
        "run",
        str(TINY),
        "--reps",
        "2",
        "--workers",
        "2",
        "--out",
        str(tmp_path),
        "--quiet",
        "--no-figure",
        "--json",
    ]
    proc = parksim(*args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "complete"


def _triple(chunk):
    return [3 * x for x in chunk]


def test_a_pool_found_broken_at_submit_is_restarted_and_every_chunk_comes_back_once(monkeypatch):
    """A worker may die between the pool's wait and its next submit (a race that heavy load made real):
    submit then raises BrokenProcessPool. The chunk it was given never started; every chunk still comes
    back once, that one at its first attempt, and the pool is restarted once."""
    from concurrent.futures.process import BrokenProcessPool

    from sim.run.pool import PoolExecutor

    executor = PoolExecutor(2)
    try:
        first = executor._pool
        submit, calls = first.submit, []

        def breaks_on_the_fifth(fn, *args):
            calls.append(args)
            if len(calls) == 5:
                raise BrokenProcessPool("a worker died since the last wait")
            return submit(fn, *args)

        monkeypatch.setattr(first, "submit", breaks_on_the_fifth)
        chunks = [(i,) for i in range(12)]
        got = list(executor.run(_triple, chunks))
        assert executor.restarts == 1 and executor._pool is not first
        assert sorted(chunk for chunk, _, _ in got) == chunks  # each chunk once
        assert all(result == [3 * chunk[0]] for chunk, result, _ in got)
        attempts = {chunk: attempt for chunk, _, attempt in got}
        assert attempts[calls[4][0]] == 1, "the chunk that never started keeps its first attempt"
    finally:
        executor.close()
