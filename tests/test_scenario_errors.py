"""Bad scenario input: every kind of mistake gives a clear ScenarioError, and the CLI exits 2.

Each case writes small TOML files into a temporary folder and names the file
the message must point at, the key, and words saying what is allowed. The same
cases then go through ``parksim validate`` in-process, and all of them at once
through the console script and ``python -m sim.cli`` in subprocesses: exit code
2, the message on stderr, nothing on stdout for the bad files, nothing written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TINY_PATH

from sim.model.scenario import ScenarioError, load_scenario


@dataclass
class Case:
    """One bad input: the files to write, the one to load, and what the message must say."""

    files: dict[str, str]
    load: str  # file (key of ``files``) to load, or a missing file name
    blame: str  # file the message must name
    key: str | None  # key the message must name (None: the file as a whole)
    allowed: tuple[str, ...]  # words saying what is allowed or what went wrong


GOOD = 'name = "ok"\nlabel = "fine"\n'
CASES = {
    "unknown_top_level_key": Case(
        {"a.toml": GOOD + 'colour = "red"\n'}, "a.toml", "a.toml", "colour", ("allowed top-level keys", "levers")
    ),
    "unknown_lever": Case(
        {"a.toml": "[levers]\neco_max = 0.5\n"}, "a.toml", "a.toml", "levers.eco_max", ("eco_max_pollution_index",)
    ),
    "param_in_levers": Case(
        {"a.toml": "[levers]\nleads_per_month = 40.0\n"},
        "a.toml",
        "a.toml",
        "levers.leads_per_month",
        ("belongs in [params]", "attraction_effort_index"),
    ),
    "lever_in_params": Case(
        {"a.toml": "[params]\nattraction_effort_index = 1.5\n"},
        "a.toml",
        "a.toml",
        "params.attraction_effort_index",
        ("belongs in [levers]",),
    ),
    "string_value": Case(
        {"a.toml": '[levers]\nattraction_effort_index = "high"\n'},
        "a.toml",
        "a.toml",
        "levers.attraction_effort_index",
        ("must be a number", "x 2016 level"),
    ),
    "bool_value": Case(
        {"a.toml": "[levers]\neco_max_pollution_index = true\n"},
        "a.toml",
        "a.toml",
        "levers.eco_max_pollution_index",
        ("must be a number",),
    ),
    "out_of_range": Case(
        {"a.toml": "[levers]\nattraction_effort_index = 5.0\n"},
        "a.toml",
        "a.toml",
        "levers.attraction_effort_index",
        ("between 0.2 and 3",),
    ),
    "negative_param": Case(
        {"a.toml": "[params]\np_sign_lead = -0.1\n"}, "a.toml", "a.toml", "params.p_sign_lead", ("between 0.1 and 0.9",)
    ),
    "non_integer_for_integer": Case(
        {"a.toml": "[levers]\nleading_support_firms = 2.5\n"},
        "a.toml",
        "a.toml",
        "levers.leading_support_firms",
        ("whole number",),
    ),
    "section_not_a_table": Case({"a.toml": "levers = 3\n"}, "a.toml", "a.toml", "levers", ("table",)),
    "bad_month": Case({"a.toml": 'start = "2016-13"\n'}, "a.toml", "a.toml", "start", ("YYYY-MM",)),
    "date_not_a_string": Case(
        {"a.toml": "start = 2016-07-01\n"}, "a.toml", "a.toml", "start", ('write it as "2016-07"',)
    ),
    "end_date_not_a_string": Case(
        {"a.toml": "end = 2020-12-01\n"}, "a.toml", "a.toml", "end", ('write it as "2020-12"',)
    ),
    "nan_value": Case(
        {"a.toml": "[levers]\nvc_cluster_index = nan\n"}, "a.toml", "a.toml", "levers.vc_cluster_index", ("finite",)
    ),
    "infinite_value": Case(
        {"a.toml": "[params]\nleads_per_month = inf\n"}, "a.toml", "a.toml", "params.leads_per_month", ("finite",)
    ),
    "start_equals_end": Case(
        {"a.toml": 'start = "2018-01"\nend = "2018-01"\n'}, "a.toml", "a.toml", "end", ("later month than start",)
    ),
    "date_outside_window": Case({"a.toml": 'end = "2040-01"\n'}, "a.toml", "a.toml", "end", ("2010-01", "2035-12")),
    "end_before_start": Case(
        {"a.toml": 'start = "2018-01"\nend = "2017-12"\n'}, "a.toml", "a.toml", "end", ("later month than start",)
    ),
    "missing_file": Case({}, "nowhere.toml", "nowhere.toml", None, ("not found",)),
    "missing_base_file": Case(
        {"a.toml": 'base = "nobase.toml"\n'}, "a.toml", "a.toml", "base", ("nobase.toml", "not found")
    ),
    "base_loop": Case(
        {"a.toml": 'base = "b.toml"\n', "b.toml": 'base = "a.toml"\n'}, "a.toml", "a.toml", "base", ("loop",)
    ),
    "error_in_base_file": Case(
        {"a.toml": 'base = "b.toml"\n', "b.toml": "[levers]\nvc_cluster_index = 9.0\n"},
        "a.toml",
        "b.toml",
        "levers.vc_cluster_index",
        ("between 0 and 3",),
    ),
    "malformed_toml": Case({"a.toml": "[levers\nx = 1\n"}, "a.toml", "a.toml", None, ("not valid TOML", "line 1")),
    "fitted_params_missing": Case(
        {"a.toml": 'fitted_params = "fit.toml"\n'}, "a.toml", "a.toml", "fitted_params", ("fit.toml", "not found")
    ),
    "fitted_params_not_a_string": Case(
        {"a.toml": "fitted_params = 3\n"}, "a.toml", "a.toml", "fitted_params", ("string",)
    ),
    "fitted_params_without_table": Case(
        {"a.toml": 'fitted_params = "fit.toml"\n', "fit.toml": "p_sign_lead = 0.5\n"},
        "a.toml",
        "fit.toml",
        "params",
        ("[params] table",),
    ),
    "fitted_params_with_a_lever": Case(
        {"a.toml": 'fitted_params = "fit.toml"\n', "fit.toml": "[params]\nvc_cluster_index = 1.0\n"},
        "a.toml",
        "fit.toml",
        "params.vc_cluster_index",
        ("belongs in [levers]",),
    ),
    "fitted_params_out_of_range": Case(
        {"a.toml": 'fitted_params = "fit.toml"\n', "fit.toml": "[params]\np_sign_lead = 2.0\n"},
        "a.toml",
        "fit.toml",
        "params.p_sign_lead",
        ("between 0.1 and 0.9",),
    ),
    "fitted_params_malformed": Case(
        {"a.toml": 'fitted_params = "fit.toml"\n', "fit.toml": "[params]\np_sign_lead = \n"},
        "a.toml",
        "fit.toml",
        None,
        ("not valid TOML",),
    ),
}


def write_case(case: Case, folder: Path) -> Path:
    for name, text in case.files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder / case.load


def assert_good_message(message: str, case: Case, folder: Path) -> None:
    blamed = str((folder / case.blame).resolve())
    assert blamed in message or str(folder / case.blame) in message, f"message should name {blamed}: {message}"
    if case.key:
        assert f"'{case.key}'" in message, f"message should name the key '{case.key}': {message}"
    for word in case.allowed:
        assert word in message, f"message should say {word!r}: {message}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_a_clear_scenario_error(tmp_path, name):
    case = CASES[name]
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_case(case, tmp_path))
    assert_good_message(str(info.value), case, tmp_path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_reports_bad_input_with_exit_code_2(tmp_path, capsys, name):
    from sim.cli import main

    case = CASES[name]
    path = write_case(case, tmp_path)
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "", f"nothing should be reported as valid: {out}"
    assert_good_message(err, case, tmp_path)


def test_fitted_params_resolve_and_apply(tmp_path):
    """The good path of the fitted-parameter file, so that the bad cases above are not the only ones exercised."""
    (tmp_path / "fit.toml").write_text("[params]\np_sign_lead = 0.3\n")
    (tmp_path / "a.toml").write_text(f'base = "{TINY_PATH}"\nfitted_params = "fit.toml"\n')
    sc = load_scenario(tmp_path / "a.toml")
    assert sc["p_sign_lead"] == 0.3 and sc["population_scale"] == 0.15


# ----------------------------------------------------------------- Scenario.with_values
def test_with_values_rejects_unknown_and_out_of_range_inputs():
    sc = load_scenario(TINY_PATH)
    with pytest.raises(ScenarioError, match="'no_such_lever'.*allowed"):
        sc.with_values(no_such_lever=1.0)
    with pytest.raises(ScenarioError, match="'vc_cluster_index'.*between 0 and 3"):
        sc.with_values(vc_cluster_index=7.0)
    with pytest.raises(ScenarioError, match="'leading_support_firms'.*whole number"):
        sc.with_values(leading_support_firms=1.5)


@pytest.mark.parametrize(
    ("dates", "key"),
    [({"start": "2016-13"}, "start"), ({"end": "20-12"}, "end"), ({"start": "2019-01", "end": "2018-12"}, "end")],
)
def test_with_values_checks_the_run_window(dates, key):
    """A copy with a bad start or end must be refused like a file, not fail later inside the model."""
    sc = load_scenario(TINY_PATH)
    with pytest.raises(ScenarioError, match=f"'{key}'"):
        sc.with_values(**dates)


# ----------------------------------------------------------------- through real processes
def tree_state(folder: Path) -> dict:
    """Every file under ``folder`` with its size, modification time and content hash."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def parksim_script() -> str:
    script = Path(sys.executable).with_name("parksim")
    assert script.exists(), f"the parksim console script is not installed next to {sys.executable}"
    return str(script)


@pytest.fixture
def all_cases(tmp_path):
    """Every bad case in its own folder, plus one good scenario, under one temporary folder."""
    bad = []
    for name, case in sorted(CASES.items()):
        folder = tmp_path / name
        folder.mkdir()
        bad.append((case, folder, write_case(case, folder)))
    good = tmp_path / "good.toml"
    good.write_text(f'base = "{TINY_PATH}"\nname = "good"\nlabel = "a good one"\n')
    return tmp_path, bad, good


@pytest.mark.parametrize("how", ["console_script", "python_m_sim_cli"])
def test_cli_subprocess_exits_2_and_writes_nothing(all_cases, how):
    folder, bad, good = all_cases
    command = [parksim_script()] if how == "console_script" else [sys.executable, "-m", "sim.cli"]
    before = tree_state(folder)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [*command, "validate", str(good), *(str(p) for _, _, p in bad)],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, f"exit code {proc.returncode}, stderr: {proc.stderr[-2000:]}"
    assert str(good) in proc.stdout, "the good file should still be reported valid"
    invalid = [ln for ln in proc.stderr.splitlines() if ln.startswith("INVALID")]
    for _, case_folder, path in bad:  # the wording of each message is checked in-process above
        assert str(path) not in proc.stdout, f"{path} was reported valid"
        assert any(str(case_folder) in ln for ln in invalid), f"no INVALID line on stderr for {path}"
    assert tree_state(folder) == before, "validating bad input must not write or change any file"
