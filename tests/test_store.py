"""The results store: layout and manifest, reading without parksim (DuckDB, pyarrow),
and bad input or faults: missing or corrupt folders, damaged parts, a full disk."""

from __future__ import annotations

import errno
import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main as cli
from sim.environment import cpu_signature, signature_text
from sim.model.scenario import load_scenario
from sim.run.batch import load_batch, resume_batch, run_batch
from sim.store import FORMAT_VERSION, StoreError, compact_parts, list_batches, read_log

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A finished two-scenario batch on disk, parts not merged (one part per run, serial)."""
    root = tmp_path_factory.mktemp("runs")
    tiny = load_scenario(TINY)
    scenarios = [tiny, tiny.with_values(name="eco", eco_max_pollution_index=0.4)]
    batch = run_batch(
        scenarios, reps=2, seed=3, out_root=root, batch_id="s", command="parksim test", progress=False, compact=False
    )
    return batch


def copy_batch(batch, dest: Path) -> Path:
    import shutil

    return Path(shutil.copytree(batch.folder, dest / batch.folder.name))


def test_manifest_records_what_is_needed_to_reproduce(stored):
    m = json.loads((stored.folder / "manifest.json").read_text())
    assert m["format"] == "parksim-results" and m["format_version"] == FORMAT_VERSION
    assert m["code"]["version"] and "git_commit" in m["code"]
    assert m["command"] == "parksim test" and m["status"] == "complete"
    assert m["seed"] == 3 and m["reps"] == 2
    assert [r["spawn_key"] for r in m["replicates"]] == [[0], [1]]
    assert [s["name"] for s in m["scenarios"]] == ["tiny", "eco"]
    assert m["scenarios"][1]["inputs"]["eco_max_pollution_index"] == 0.4
    assert [r["status"] for r in m["runs"]] == ["ok"] * 4 and all(r["seconds"] > 0 for r in m["runs"])
    assert m["timings"]["wall_seconds"] > 0 and m["sessions"][0]["executor"] == "serial"
    assert m["tables"]["outcomes"]["columns"] == list(stored.outcomes.columns)
    assert m["tables"]["monthly"]["columns"] == list(stored.monthly.columns)
    assert not list(stored.folder.rglob("*.tmp")), "no temporary files are left behind"
    env = m["environment"]
    assert set(env["packages"]) >= {"python", "parksim", "numpy", "pandas", "scipy", "mesa", "pyarrow", "dask"}
    assert env["packages"]["numpy"] == np.__version__ and env["cpu"]["machine"] == platform.machine()
    assert m["cpu_signatures"] == [signature_text()] and env["cpu_signature"] == signature_text()
    assert m["sessions"][0]["environment"]["packages"] == env["packages"]
    assert {e["cpu"] for p in (stored.folder / "outcomes").glob("*.parquet") for e in read_log(p)} == {signature_text()}


def test_cpu_signature_lists_numpy_dispatch_features():
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    sig = cpu_signature()
    assert sig["numpy_dispatch"] == sorted(f for f in __cpu_dispatch__ if __cpu_features__[f])
    assert signature_text(sig).split()[0] == platform.machine()


def test_a_batch_mixing_cpu_signatures_is_warned_about(stored, tmp_path, monkeypatch, capsys):
    folder = copy_batch(stored, tmp_path)
    sorted((folder / "outcomes").glob("*.parquet"))[-1].unlink()
    monkeypatch.setattr("sim.environment.signature_text", lambda signature=None: "otherarch FEATURE_X")
    resumed = resume_batch(folder, progress=False)
    assert resumed.manifest["cpu_signatures"] == [signature_text(), "otherarch FEATURE_X"]
    assert "mixes CPU signatures" in capsys.readouterr().err


def test_tables_read_without_parksim(stored):
    import duckdb
    import pyarrow.dataset as ds

    folder = stored.folder
    # the docs/results_format.md recipes
    con = duckdb.connect()
    q = f"SELECT scenario, count(*) AS runs FROM read_parquet('{folder}/outcomes/*.parquet') GROUP BY 1 ORDER BY 1"
    assert con.execute(q).fetchall() == [("eco", 2), ("tiny", 2)]
    q = f"SELECT count(*) FROM read_parquet('{folder}/monthly/*.parquet')"
    assert con.execute(q).fetchone()[0] == len(stored.monthly)
    table = ds.dataset(folder / "outcomes", format="parquet").to_table().sort_by("run").to_pandas()
    pd.testing.assert_frame_equal(table, stored.outcomes)


def test_missing_and_corrupt_folders_are_reported(stored, tmp_path, capsys):
    with pytest.raises(StoreError, match="no such results folder"):
        load_batch("nope", root=tmp_path)
    assert cli(["show", "nope", "--root", str(tmp_path)]) == 2
    assert "no such results folder" in capsys.readouterr().err
    folder = copy_batch(stored, tmp_path)
    (folder / "manifest.json").write_text('{"format": "parksim-results", "format_ver')
    with pytest.raises(StoreError, match="corrupt manifest"):
        load_batch(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(StoreError, match="missing"):
        load_batch(folder)
    assert cli(["resume", str(folder), "--quiet"]) == 2
    assert "manifest.json" in capsys.readouterr().err
    rows = {r["id"]: r for r in list_batches(tmp_path)}
    assert rows["s"]["status"] == "damaged"


def test_truncated_part_is_reported_then_quarantined_and_rerun(stored, tmp_path, capsys):
    folder = copy_batch(stored, tmp_path)
    part = sorted((folder / "monthly").glob("*.parquet"))[1]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    with pytest.raises(StoreError, match=part.name):
        load_batch(folder)
    assert cli(["compare", str(folder), "--out", str(tmp_path / "cmp")]) == 3, "a damaged store is a store fault"
    assert "damaged Parquet file" in capsys.readouterr().err
    resumed = resume_batch(folder, progress=False)
    assert (folder / "quarantine" / f"monthly-{part.name}").exists(), "the damaged file is kept aside, not deleted"
    pd.testing.assert_frame_equal(resumed.outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(resumed.monthly, stored.monthly)


def test_uncommitted_part_and_temp_files_are_cleaned_on_resume(stored, tmp_path):
    folder = copy_batch(stored, tmp_path)
    last = sorted((folder / "outcomes").glob("*.parquet"))[-1]
    last.unlink()  # as if killed between the monthly and the outcomes write of the last part
    (folder / "outcomes" / ".s00-000009.parquet.123.tmp").write_bytes(b"half a file")
    partial = load_batch(folder)
    assert len(partial.outcomes) == 3 and partial.monthly["run"].nunique() == 3, "an uncommitted part does not count"
    assert "is missing" in partial.problems[last.name] and partial.status == "incomplete"
    resumed = resume_batch(folder, progress=False)
    assert not list(folder.rglob("*.tmp"))
    pd.testing.assert_frame_equal(resumed.monthly, stored.monthly)


def test_full_disk_stops_with_a_message_and_keeps_what_was_written(tmp_path, monkeypatch, capsys):
    import pyarrow.parquet as pq

    real = pq.write_table
    calls = {"n": 0}

    def flaky(table, where, **kw):
        calls["n"] += 1
        if calls["n"] > 4:  # two parts (monthly + outcomes each) fit, then the disk is full
            Path(where).write_bytes(b"partial")  # a half-written temporary file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", flaky)
    design = tmp_path / "d.toml"
    design.write_text('method = "grid"\n[levers]\neco_max_pollution_index = { values = [0.5, 0.9] }\n')
    args = ["sweep", str(TINY), "--design", str(design), "--reps", "2", "--out", str(tmp_path), "--id", "full"]
    assert cli([*args, "--quiet"]) == 3, "a full disk is a store fault (exit 3), not bad input"
    err = capsys.readouterr().err
    assert "disk is full" in err and "parksim resume full" in err
    monkeypatch.setattr(pq, "write_table", real)
    kept = load_batch("full", root=tmp_path)
    assert kept.status == "error" and list(kept.outcomes["run"]) == [0, 1]
    assert not list((tmp_path / "full").rglob("*.tmp"))
    assert cli([*args[:-2], "--resume", "full", "--quiet"]) == 0
    done = load_batch("full", root=tmp_path)
    fresh = run_batch(_scenarios(design), reps=2, seed=2016, out_root=None, progress=False, posterior=True)
    pd.testing.assert_frame_equal(done.outcomes, fresh.outcomes)
    pd.testing.assert_frame_equal(done.monthly, fresh.monthly)


def _scenarios(design):
    from sim.analysis.design import load_design

    return load_design(design).scenarios(load_scenario(TINY))


def test_runs_lists_batches_with_status(stored, tmp_path, capsys):
    folder = copy_batch(stored, tmp_path)
    m = json.loads((folder / "manifest.json").read_text())
    m.update(status="running", writer={"host": "elsewhere", "pid": 1}, command="parksim run tiny --reps 2")
    (folder / "manifest.json").write_text(json.dumps(m))
    sorted((folder / "outcomes").glob("*.parquet"))[-1].unlink()
    assert cli(["runs", "--root", str(tmp_path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("s "))
    assert "interrupted" in line and "3/4" in line and "2x2" in line and "parksim run tiny" in line


def test_a_second_writer_fails_at_once_naming_the_holder(stored, tmp_path, capsys):
    import socket

    from sim.store.lock import BatchLock, lock_holder

    folder = copy_batch(stored, tmp_path)
    sorted((folder / "outcomes").glob("*.parquet"))[-1].unlink()  # one run left to do
    with BatchLock(folder):
        assert lock_holder(folder)["pid"] == os.getpid()
        with pytest.raises(StoreError, match=f"batch s is being written by process {os.getpid()}"):
            resume_batch(folder, progress=False)
        assert cli(["resume", str(folder), "--quiet"]) == 3, "a locked batch is a store fault (exit 3)"
        err = capsys.readouterr().err
        assert socket.gethostname() in err and "only one process may write" in err
        assert [r["status"] for r in list_batches(tmp_path)] == ["incomplete"], "the refused writer changed nothing"
    assert lock_holder(folder) is None, "the lock goes with its holder"
    resumed = resume_batch(folder, progress=False)
    pd.testing.assert_frame_equal(resumed.outcomes, stored.outcomes)


def _with_duplicates(stored, tmp_path) -> Path:
    """A copy of the batch where run 0 is stored twice in two parts, and a merged file holds runs 1 and 2 twice."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.store import MERGED_KEY, MONTHLY_ROWS_KEY

    folder = copy_batch(stored, tmp_path)
    parts = sorted((folder / "outcomes").glob("*.parquet"))
    for table in ("outcomes", "monthly"):
        shutil.copy(folder / table / parts[0].name, folder / table / "s01-000000.parquet")
    # as two writers merging each other's parts leave it: one merged file with runs 1 and 2 in it twice
    names = [parts[1].name, parts[2].name] * 2
    monthly = pa.concat_tables([pq.read_table(folder / "monthly" / n) for n in names])
    outcomes = pa.concat_tables([pq.read_table(folder / "outcomes" / n).replace_schema_metadata(None) for n in names])
    pq.write_table(monthly, folder / "monthly" / "compact-000.parquet")
    meta = {MERGED_KEY: json.dumps(names[:2]).encode(), MONTHLY_ROWS_KEY: str(len(monthly)).encode()}
    pq.write_table(outcomes.replace_schema_metadata(meta), folder / "outcomes" / "compact-000.parquet")
    return folder


def test_runs_stored_twice_are_refused_then_repaired_by_the_command_named(stored, tmp_path, capsys):
    folder = _with_duplicates(stored, tmp_path)
    with pytest.raises(StoreError, match="two writers") as info:
        load_batch(folder)
    assert "parksim resume s" in str(info.value), "the message names the repair"
    assert cli(["resume", str(folder), "--quiet"]) == 0, "the repair the message names works"
    assert "kept one copy each of 3 runs" in capsys.readouterr().err
    repaired = load_batch(folder)
    assert repaired.status == "complete"
    pd.testing.assert_frame_equal(repaired.outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(repaired.monthly, stored.monthly)
    assert not (folder / "quarantine").exists(), "identical copies are deduplicated, not quarantined"


def test_duplicates_that_differ_are_all_removed_and_run_again(stored, tmp_path):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = _with_duplicates(stored, tmp_path)
    path = folder / "outcomes" / "s01-000000.parquet"
    table = pq.read_table(path)
    column = "end_firms_in_park"
    changed = table.set_column(table.schema.get_field_index(column), column, pc.add(table[column], 1.0))
    pq.write_table(changed, path)  # keeps the footer: a copy of run 0 with another value
    resumed = resume_batch(folder, progress=False)
    pd.testing.assert_frame_equal(resumed.outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(resumed.monthly, stored.monthly)
    assert resumed.manifest["sessions"][-1]["runs_done"] == 1, "only the run whose copies differ ran again"


@pytest.mark.parametrize("merged", [False, True], ids=["parts", "merged"])
def test_a_lost_monthly_file_marks_its_runs_missing_and_resume_reruns_them(stored, tmp_path, capsys, merged):
    folder = copy_batch(stored, tmp_path)
    if merged:
        compact_parts(folder)
    lost = sorted((folder / "monthly").glob("*.parquet"))[-1]
    lost.unlink()
    batch = load_batch(folder)
    missing = 4 if merged else 1
    assert batch.status == "incomplete" and batch.manifest["counts"]["pending"] == missing
    assert list(batch.problems) == [lost.name] and "is missing" in batch.problems[lost.name]
    assert len(batch.outcomes) == 4 - missing and batch.monthly["run"].nunique() == 4 - missing
    assert cli(["show", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"MISSING:  part {lost.name}" in out and "incomplete" in out
    assert cli(["runs", "--root", str(tmp_path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("s "))
    assert "incomplete" in line and f"{4 - missing}/4" in line and "is missing" in line
    assert cli(["compare", str(folder), "--out", str(tmp_path / "cmp")]) in (0, 1, 2, 3), "no crash"
    capsys.readouterr()
    resumed = resume_batch(folder, progress=False)
    assert resumed.status == "complete" and resumed.manifest["sessions"][-1]["runs_done"] == missing
    pd.testing.assert_frame_equal(resumed.outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(resumed.monthly, stored.monthly)
    assert not load_batch(folder).problems


def test_finished_batch_is_merged_into_one_file_per_table(stored, tmp_path):
    tiny = load_scenario(TINY)
    scenarios = [tiny, tiny.with_values(name="eco", eco_max_pollution_index=0.4)]
    merged = run_batch(scenarios, reps=2, seed=3, out_root=tmp_path, batch_id="c", progress=False)
    for table in ("outcomes", "monthly"):
        assert [p.name for p in (merged.folder / table).iterdir()] == ["compact-000.parquet"], table
    assert merged.manifest["sessions"][0]["parts_merged"] == 4
    again = load_batch(merged.folder)
    pd.testing.assert_frame_equal(again.outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(again.monthly, stored.monthly)
    assert [r["seconds"] > 0 for r in again.manifest["runs"]] == [True] * 4, "per-run log survives the merge"


def test_merge_interrupted_at_any_step_keeps_tables_identical(stored, tmp_path):
    folder = copy_batch(stored, tmp_path)
    assert compact_parts(folder, delete=False) == 4  # killed before the merged parts were deleted
    pd.testing.assert_frame_equal(load_batch(folder).outcomes, stored.outcomes)
    pd.testing.assert_frame_equal(load_batch(folder).monthly, stored.monthly)
    (folder / "outcomes" / "compact-000.parquet").unlink()  # or killed between the monthly and outcomes file
    pd.testing.assert_frame_equal(load_batch(folder).monthly, stored.monthly)
    assert compact_parts(folder, delete=False) == 4
    resumed = resume_batch(folder, progress=False)  # finishes the deletion
    assert sorted(p.name for p in (folder / "monthly").iterdir()) == ["compact-000.parquet"]
    pd.testing.assert_frame_equal(resumed.monthly, stored.monthly)


def test_json_output_for_scripts(stored, tmp_path, capsys):
    assert cli(["show", str(stored.folder), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "s" and shown["status"] == "complete" and shown["folder"] == str(stored.folder)
    assert shown["counts"]["ok"] == 4 and shown["problems"] == {}
    assert {row["scenario"] for row in shown["targets"]} == {"tiny", "eco"} and "p_reach" in shown["targets"][0]
    assert cli(["runs", "--root", str(stored.folder.parent), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == "s" and row["status"] == "complete" and row["done"] == 4
    out = tmp_path / "runs"
    args = ["run", str(TINY), "--reps", "2", "--out", str(out), "--id", "j", "--quiet", "--no-figure", "--json"]
    assert cli(args) == 0
    ran = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON object
    assert ran["id"] == "j" and ran["status"] == "complete" and ran["folder"] == str(out / "j")
    assert ran["targets"] and ran["targets"][0]["scenario"] == "tiny"


# ---------------------------------------------------------------- the typed manifest
def test_manifest_reads_and_writes_back_exactly(stored):
    from sim.store import Manifest

    data = json.loads((stored.folder / "manifest.json").read_text())
    manifest = Manifest.from_json(data, stored.folder / "manifest.json")
    assert manifest.runs[3].status == "ok" and manifest.sessions[0].executor["executor"] == "serial"
    assert json.dumps(manifest.to_json()) == json.dumps(data), "same keys, same values, same order"


def test_an_old_minimal_manifest_reads_and_keeps_what_it_has(tmp_path):
    from sim.store import Manifest

    old = {
        "format": "parksim-results", "format_version": 1, "id": "old", "seed": 1, "reps": 1, "status": "complete",
        "scenarios": [{"name": "a"}], "runs": [{"run": 0, "scenario": "a", "replicate": 0, "status": "ok"}],
        "design": None, "sensitivity": {"method": "morris"},
    }  # fmt: skip
    manifest = Manifest.from_json(old)
    assert (
        manifest.environment is None
        and manifest.sessions == []
        and manifest.extra == {"sensitivity": old["sensitivity"]}
    )
    written = manifest.to_json()
    assert {k: written[k] for k in old} == old, "entries of an older manifest are kept as they were"
    assert "environment" not in written and "code" not in written, "absent entries stay absent"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda m: m.pop("reps"), "reps"),
        (lambda m: m.update(seed="3"), "seed"),
        (lambda m: m["runs"][1].pop("status"), "runs[1].status"),
        (lambda m: m["runs"][2].update(run=None), "runs[2].run"),
        (lambda m: m["sessions"].append([]), "sessions[1]"),
        (lambda m: m["scenarios"][0].pop("name"), "scenarios[0].name"),
    ],
    ids=["missing", "wrong-type", "run-missing", "run-null", "session", "scenario"],
)
def test_a_bad_manifest_entry_is_named_with_the_file(stored, tmp_path, change, key):
    folder = copy_batch(stored, tmp_path)
    data = json.loads((folder / "manifest.json").read_text())
    change(data)
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r"manifest\.json: key '" + key.replace("[", r"\[")) as info:
        load_batch(folder)
    assert info.value.key == key


def test_run_results_and_sessions_change_the_manifest_through_methods():
    from sim.store import Manifest, RunRecord, Session

    m = Manifest(id="m", seed=1, reps=2, scenarios=[{"name": "a", "inputs": {"x": 1}, "overrides": ["x"]}],
                 runs=[RunRecord(0, "a", 0, spawn_key="0"), RunRecord(1, "a", 1, spawn_key="1")])  # fmt: skip
    m.open_session(Session(started="t0", writer={"host": "h", "pid": 1}, runs_planned=2))
    assert (m.status, m.writer, m.finished) == ("running", {"host": "h", "pid": 1}, None)
    m.apply_run(0, {"status": "ok", "seconds": 0.5, "attempt": 1, "worker": None})
    m.apply_run(1, {"status": "failed", "error": "ValueError: x", "traceback": "tb"})
    m.refresh_counts()
    assert (
        m.counts == {"planned": 2, "ok": 1, "failed": 1, "pending": 0} and m.final_status() == "complete-with-failures"
    )
    assert m.failures[0]["overrides"] == {"x": 1} and m.failures[0]["error"] == "ValueError: x"
    assert "worker" not in m.to_json()["runs"][0], "unknown details are left out, as before"
    m.apply_run(1, {"status": "pending"})
    assert m.to_json()["runs"][1] == {"run": 1, "scenario": "a", "replicate": 1, "spawn_key": "1", "status": "pending"}
    assert m.note_cpu_signature("x86 A") and not m.note_cpu_signature("x86 A") and not m.note_cpu_signature(None)
