"""parksim bench: structure of its figures, the side-by-side comparison with a git ref, bad input.

Benchmarks, not timed tests: nothing here asserts a speed; only that the
figures exist, are positive, and that the ratios are computed from them.
"""

from __future__ import annotations

import json

import pytest

from sim.cli import main as cli
from sim.errors import InputError
from sim.run import bench


@pytest.fixture(scope="module")
def against_head():
    """tiny, one fresh process per side, the working tree against HEAD."""
    return bench.run_all(["tiny"], 1, against="HEAD")


def test_bench_against_head_reports_both_versions_and_their_ratio(against_head):
    doc = against_head
    assert doc["commit"] and len(doc["commit"]) == 40
    row = doc["configs"]["tiny"]
    for side in ("new", "old"):
        r = row[side]
        assert "error" not in r, r
        assert r["months"] > 0 and r["firm_months"] > 0 and r["cpu_s"] > 0 and r["peak_rss_mib"] > 0
        assert r["cpu_s_per_month"] == pytest.approx(r["cpu_s"] / r["months"])
        assert r["firm_months_per_cpu_s"] == pytest.approx(r["firm_months"] / r["cpu_s"])
    # same seeds, same model at HEAD and (for this test) the same code: the same park
    assert row["new"]["firm_months"] == row["old"]["firm_months"]
    rat = row["ratio"]
    assert rat["cpu_s_per_month"] == pytest.approx(row["old"]["cpu_s_per_month"] / row["new"]["cpu_s_per_month"])
    assert rat["firm_months_per_cpu_s"] == pytest.approx(
        row["new"]["firm_months_per_cpu_s"] / row["old"]["firm_months_per_cpu_s"]
    )
    table = bench.markdown(doc)
    assert "CPU ratio old/new" in table and "| tiny |" in table


def test_a_configuration_the_old_code_cannot_run_is_reported_as_na(monkeypatch):
    monkeypatch.setitem(bench.CONFIGS, "tiny_bogus", ("tiny", {"no_such_parameter_in_any_version": 1.0}))
    doc = bench.run_all(["tiny_bogus"], 1)
    r = doc["configs"]["tiny_bogus"]["new"]
    assert "error" in r and "no_such_parameter" in r["error"]
    assert "n/a" in bench.markdown(doc)
    assert bench.ratios(r, r) == {k: None for k in bench.FIGURES}


def test_bench_cli_writes_json_and_refuses_a_bad_ref(tmp_path, capsys):
    assert cli(["bench", "--config", "tiny", "--reps", "1", "--against", "no-such-ref-xyz"]) == 2
    err = capsys.readouterr().err
    assert "--against" in err and "no-such-ref-xyz" in err, err
    with pytest.raises(InputError, match="--against"):
        bench.run_all(["tiny"], 1, against="no-such-ref-xyz")
    with pytest.raises(InputError, match="--config"):
        bench.run_all(["huge"], 1)
    path = tmp_path / "b.json"
    assert cli(["bench", "--config", "tiny", "--reps", "1", "--quiet", "--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert doc["configs"]["tiny"]["new"]["cpu_s_per_month"] > 0 and doc["against"] is None


def test_timed_replications_add_up_their_months_and_a_bad_count_is_refused(capsys):
    one = bench.measure_once("tiny", timed=1)
    two = bench.measure_once("tiny", timed=2)
    assert "error" not in one and "error" not in two, (one, two)
    assert two["months"] == 2 * one["months"]  # tiny's window, twice
    assert two["cpu_s_per_month"] == pytest.approx(two["cpu_s"] / two["months"])
    assert "2 timed replications" in bench.markdown({**bench.run_all(["tiny"], 1, timed=2)})
    assert cli(["bench", "--config", "tiny", "--timed", "0"]) == 2
    assert "--timed" in capsys.readouterr().err


@pytest.mark.slow  # four fresh processes, each a batch (tiny and baseline on 1 and 2 workers)
def test_batch_mode_reports_runs_per_second_and_the_speed_up():
    doc = bench.run_batch_bench(reps=1, repeats=1)
    res = doc["results"]
    for length in ("short", "long"):
        one, two = res[f"{length} x1"]["new"], res[f"{length} x2"]["new"]
        assert one["runs_per_s"] > 0 and two["runs_per_s"] > 0, (one, two)
        assert res[f"{length} speed-up 1->2"]["new"] == pytest.approx(two["runs_per_s"] / one["runs_per_s"])
    assert res["short x1"]["new"]["months"] == 84 and res["long x1"]["new"]["months"] == 144  # 2014-01 on
    table = bench.batch_markdown(doc)
    assert "speed-up 1->2" in table and "months/s (working tree)" in table
