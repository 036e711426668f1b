"""Global sensitivity: the SALib pipeline against known answers, design files, the CLI on the tiny park."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis import sensitivity as sa
from sim.analysis import sensitivity_study as ss
from sim.model.scenario import ScenarioError

# ---------------------------------------------------------------- Ishigami (known indices)
ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
# Analytic indices for a = 7, b = 0.1 (Ishigami & Homma 1990; Saltelli et al. 2008, sect. 4.6).
S1_TRUE = np.array([0.3139, 0.4424, 0.0])
ST_TRUE = np.array([0.5576, 0.4424, 0.2437])


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_pipeline_recovers_ishigami_indices():
    # Same sample -> evaluate -> analyze path as the CLI, with the model replaced by Ishigami.
    x = sa.sample(ISHIGAMI, "sobol", 4096, seed=11)
    assert x.shape == (sa.n_points("sobol", 4096, 3), 3)
    y = pd.DataFrame({"y": ishigami(x)})
    table, skipped = sa.analyze(ISHIGAMI, "sobol", x, y, seed=11)
    assert not skipped
    got = table.pivot(index="input", columns="index", values="value").loc[ISHIGAMI["names"]]
    conf = table.pivot(index="input", columns="index", values="conf").loc[ISHIGAMI["names"]]
    # Tolerance 0.03: at N = 4096 (20480 evaluations) the largest error over 20 seeds was 0.007 for
    # both S1 and ST, and SALib's 95% bootstrap half-widths are about 0.03 (S1) and 0.045 (ST).
    # So 0.03 is ~4x the observed error yet tight enough to catch a swapped S1/ST, wrong bounds
    # or a mis-ordered input (the indices differ by more than 0.1).
    np.testing.assert_allclose(got["S1"], S1_TRUE, atol=0.03, err_msg="S1 of Ishigami off the analytic values")
    np.testing.assert_allclose(got["ST"], ST_TRUE, atol=0.03, err_msg="ST of Ishigami off the analytic values")
    # The reported 95% intervals must hold the analytic value (a check on the conf columns' meaning).
    assert (np.abs(got["S1"] - S1_TRUE) <= conf["S1"] + 0.005).all(), "S1 interval misses the analytic value"
    assert (np.abs(got["ST"] - ST_TRUE) <= conf["ST"] + 0.005).all(), "ST interval misses the analytic value"
    assert ((table["low"] <= table["value"]) & (table["value"] <= table["high"])).all()


def test_morris_pipeline_ranks_ishigami_inputs():
    # Morris mu_star of Ishigami: x1 (linear + interaction) and x2 (a = 7) dominate; x3 acts only
    # through the interaction with x1, so its sigma exceeds its mu (non-linear/interacting).
    x = sa.sample(ISHIGAMI, "morris", 40, seed=3)
    table, _ = sa.analyze(ISHIGAMI, "morris", x, pd.DataFrame({"y": ishigami(x)}), seed=3)
    wide = table.pivot(index="input", columns="index", values="value")
    assert wide.loc["x2", "mu_star"] > wide.loc["x3", "mu_star"], "x2 should matter more than x3"
    assert abs(wide.loc["x3", "mu"]) < wide.loc["x3", "sigma"], "x3's effect should change sign with x1"
    assert set(table["index"]) == {"mu_star", "mu", "sigma"}


def test_analyze_skips_constant_and_missing_outcomes():
    x = sa.sample(ISHIGAMI, "morris", 4, seed=1)
    y = pd.DataFrame({"y": ishigami(x), "flat": 1.0, "gap": ishigami(x)})
    y.loc[0, "gap"] = np.nan
    table, skipped = sa.analyze(ISHIGAMI, "morris", x, y, seed=1)
    assert set(table["outcome"]) == {"y"}
    assert "constant" in skipped["flat"] and "without a value" in skipped["gap"]
    assert "not analysed" in sa.format_summary(table, "morris", skipped)


def test_sample_size_rules():
    assert sa.check_n("sobol", 64) is None
    assert "power of 2" in sa.check_n("sobol", 100)
    assert "at least 2" in sa.check_n("morris", 1)
    assert "allowed: morris, sobol" in sa.check_n("fast", 8)


# ---------------------------------------------------------------- design files
def _write(tmp_path, text, name="sensitivity_test.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_design_file_is_read_and_checked(tmp_path):
    path = _write(
        tmp_path,
        'label = "t"\noutcomes = ["tech_projects_2016_2020", "end_firms_in_park"]\n'
        "[levers]\nattraction_effort_index = [0.5, 2.0]\nleading_support_firms = [0, 40]\n"
        "[params]\np_sign_lead = [0.2, 0.6]\n",
    )
    d = sa.load_design(path)
    assert d.names == ["attraction_effort_index", "leading_support_firms", "p_sign_lead"]
    assert d.problem()["bounds"] == [[0.0, 1.0]] * 3, "SALib samples positions 0..1 of each factor"
    assert d.outcomes == (
        "tech_projects_2016_2020__signed",
        "tech_projects_2016_2020__registered",
        "tech_projects_2016_2020__started",
        "end_firms_in_park",
    )
    # positions map onto the ranges; integer inputs become whole numbers in the scenarios
    values = sa.point_values(d, np.array([[0.0, 13.4 / 40, 0.25]]))
    assert values == [{"attraction_effort_index": 0.5, "leading_support_firms": 13, "p_sign_lead": 0.3}]


def test_linked_factor_and_log_scale(tmp_path):
    path = _write(
        tmp_path,
        '[levers]\nguidance_fund_myuan = { low = 10.0, high = 1000.0, scale = "log" }\n'
        "[factors.listing_support]\nlow = { listing_subsidy_myuan = 0.5, listing_reserve_support = 0.0 }\n"
        "high = { listing_subsidy_myuan = 3.0, listing_reserve_support = 0.8 }\n",
    )
    d = sa.load_design(path)
    assert d.names == ["guidance_fund_myuan", "listing_support"]
    assert d.inputs == ["guidance_fund_myuan", "listing_subsidy_myuan", "listing_reserve_support"]
    (v,) = sa.point_values(d, np.array([[0.5, 0.5]]))
    assert v["guidance_fund_myuan"] == pytest.approx(100.0), "half-way on a log scale from 10 to 1000"
    assert v["listing_subsidy_myuan"] == pytest.approx(1.75) and v["listing_reserve_support"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[levers]\nattraction_effort_index = [0.5, 9.0]\n", "levers.attraction_effort_index.high", "[0.2, 3]"),
        ("[levers]\nno_such_lever = [0, 1]\n", "levers.no_such_lever", "allowed: eco_max_pollution_index"),
        ("[levers]\np_sign_lead = [0.2, 0.5]\n", "levers.p_sign_lead", "belongs in [params]"),
        ("[levers]\nattraction_effort_index = [1.0, 1.0]\n", "levers.attraction_effort_index", "are equal"),
        ("[levers]\nattraction_effort_index = 1.0\n", "levers.attraction_effort_index", "[low, high]"),
        ("[levers]\nvc_cluster_index = { values = [0.5, 1] }\n", "levers.vc_cluster_index.values", "grid"),
        ("label = 'x'\n", "levers", "varies nothing"),
        ("method = 'sobol'\n[levers]\nvc_cluster_index = [0, 2]\n", "method", "come from --method and --n"),
        ("colour = 'red'\n[levers]\nvc_cluster_index = [0, 2]\n", "colour", "allowed top-level keys"),
        ("outcomes = ['nope']\n[levers]\nvc_cluster_index = [0, 2]\n", "outcomes", "tech_projects_each_year"),
        ("[levers\n", None, "not valid TOML"),
    ],
)
def test_design_file_errors_name_file_key_and_allowed(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        sa.load_design(path)
    assert err.value.key == key
    assert str(path) in str(err.value) and words in str(err.value)


def test_missing_design_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        sa.load_design(tmp_path / "sensitivity_none.toml")


def test_shipped_designs_load():
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[1] / "scenarios" / "designs").glob("sensitivity_*.toml"))
    assert files, "no sensitivity design shipped in scenarios/designs/"
    for f in files:
        assert sa.load_design(f).inputs


# ---------------------------------------------------------------- the real model, through the CLI
TINY_DESIGN = (
    'outcomes = ["tech_projects_2016_2020", "listings_2016"]\n'
    "[levers]\nattraction_effort_index = [0.5, 2.0]\nlisting_reserve_support = [0.0, 1.0]\n"
)


def _cli_args(design, out, *extra):
    return ["sensitivity", "tiny", "--method", "morris", "--design", str(design), "--n", "3", "--reps", "1",
            "--seed", "7", "--out", str(out), "--quiet", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def morris_tiny(tmp_path_factory):
    from sim.cli import main as cli

    root = tmp_path_factory.mktemp("sens")
    design = root / "sensitivity_tiny.toml"
    design.write_text(TINY_DESIGN, encoding="utf-8")
    out = root / "runs"
    rc = cli(_cli_args(design, out, "--id", "m1"))
    return rc, design, out, out / "m1"


def test_morris_on_tiny_ranks_attraction_above_reserve_support(morris_tiny, capsys):
    rc, _, _, folder = morris_tiny
    assert rc == 0
    table = pd.read_csv(folder / "sensitivity_indices.csv")
    mu = table[(table["index"] == "mu_star") & (table["measure"] == "mean")]
    mu = mu[mu["outcome"] == "tech_projects_2016_2020__signed"].set_index("input")["value"]
    # Attraction effort multiplies the lead rate, so signed projects move by ~100+ over its range;
    # reserve coaching acts on listings only and reaches signing at most through second-order
    # feedbacks (paired seeds), so its elementary effects are a few projects at most.
    assert mu["attraction_effort_index"] > 5 * max(mu["listing_reserve_support"], 1.0), mu
    assert set(table["kind"]) == {"lever"}
    points = pd.read_csv(folder / "sensitivity_points.csv")
    assert len(points) == 3 * (2 + 1) and (points["n_runs"] == 1).all()
    assert (folder / "sensitivity_targets.png").stat().st_size > 0
    assert (folder / "sensitivity_targets_mu_sigma.png").stat().st_size > 0


def test_sensitivity_batch_has_inputs_for_discovery(morris_tiny):
    from sim.run.batch import load_batch

    batch = load_batch(morris_tiny[3])
    assert {"attraction_effort_index", "listing_reserve_support"} <= set(batch.outcomes.columns)
    assert batch.manifest["sensitivity"]["method"] == "morris"


def test_resume_completes_with_identical_indices(morris_tiny, tmp_path):
    import shutil

    from sim.cli import main as cli

    _, design, out, folder = morris_tiny
    copy_root = tmp_path / "runs"
    shutil.copytree(folder, copy_root / "m1")
    first = (folder / "sensitivity_indices.csv").read_text()
    parts = sorted((copy_root / "m1" / "outcomes").glob("*.parquet"))
    parts[-1].unlink()  # as if the batch had been killed before its last chunk was stored
    (copy_root / "m1" / "sensitivity_indices.csv").unlink()
    assert cli(_cli_args(design, copy_root, "--resume", "m1")) == 0
    assert (copy_root / "m1" / "sensitivity_indices.csv").read_text() == first


@pytest.mark.slow  # starts a process pool for a study
def test_indices_are_the_same_in_this_process_and_on_two_workers(morris_tiny):
    from sim.cli import main as cli

    _, design, out, folder = morris_tiny  # the fixture ran with the default workers
    for workers in ("1", "2"):
        assert cli(_cli_args(design, out, "--id", f"w{workers}", "--workers", workers)) == 0
    default = (folder / "sensitivity_indices.csv").read_text()
    assert (out / "w1" / "sensitivity_indices.csv").read_text() == default, "serial differs from the default pool"
    assert (out / "w2" / "sensitivity_indices.csv").read_text() == default, "2 workers differ from the default pool"


def test_default_workers_are_the_usable_cores_capped(monkeypatch):
    from sim.cli import sensitivity as cmd

    assert cmd.usable_cores() >= 1
    monkeypatch.setattr(cmd, "usable_cores", lambda: 64)
    assert cmd.default_workers(runs=1000) == cmd.MAX_DEFAULT_WORKERS
    assert cmd.default_workers(runs=3) == 3, "never more processes than runs"
    monkeypatch.setattr(cmd, "usable_cores", lambda: 1)
    assert cmd.default_workers(runs=1000) == 1


def test_resume_with_other_arguments_is_refused(morris_tiny, capsys):
    from sim.cli import main as cli

    _, design, out, folder = morris_tiny
    manifest = (folder / "manifest.json").read_bytes()
    args = _cli_args(design, out, "--resume", "m1")
    args[args.index("--n") + 1] = "4"
    assert cli(args) == 2
    assert "sensitivity.n" in capsys.readouterr().err
    assert (folder / "manifest.json").read_bytes() == manifest, "a refused resume changed the batch"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"--method": "fast"}, "allowed: morris, sobol"),
        ({"--method": "sobol", "--n": "100"}, "power of 2"),
        ({"tiny": "no_such_scenario"}, "file not found"),
        ({"--id": "m1"}, "a batch with this id exists"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(morris_tiny, capsys, change, words):
    from sim.cli import main as cli

    _, design, out, _ = morris_tiny
    args = _cli_args(design, out, "--id", "new")
    for key, value in change.items():
        if key in args:
            args[args.index(key) + (0 if key == "tiny" else 1)] = value
        else:
            args += [key, value]
    before = sorted(p.name for p in out.iterdir())
    assert cli(args) == 2
    assert words in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


def test_cli_bad_design_file(tmp_path, capsys):
    from sim.cli import main as cli

    design = _write(tmp_path, "[levers]\nattraction_effort_index = [0.5, 9.0]\n")
    assert cli(_cli_args(design, tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert str(design) in err and "levers.attraction_effort_index.high" in err
    assert not (tmp_path / "runs").exists()


def test_sobol_on_tiny_through_the_cli(morris_tiny, capsys):
    from sim.cli import main as cli

    _, design, out, _ = morris_tiny
    args = _cli_args(design, out, "--id", "s1")
    args[args.index("morris")] = "sobol"
    args[args.index("--n") + 1] = "2"
    assert cli(args) == 0
    table = pd.read_csv(out / "s1" / "sensitivity_indices.csv")
    assert set(table["index"]) == {"S1", "ST"}
    assert set(table["input"]) == {"attraction_effort_index", "listing_reserve_support"}
    assert len(pd.read_csv(out / "s1" / "sensitivity_points.csv")) == 2 * (2 + 2)
    assert "most influential inputs by ST" in capsys.readouterr().out


# ---------------------------------------------------------------- failed runs (stand-in model)
def stand_in(scenario, *, seed, replicate=0):
    """No simulation: signed projects = 100 x attraction effort; fails where told to."""
    from sim.model.metrics import REPORTERS
    from sim.run.runner import RunResult

    if scenario["attraction_effort_index"] > 1.9 and replicate in FAIL_REPS:
        raise RuntimeError("stand-in failure")
    outcomes = dict.fromkeys(sa.outcome_columns(), 0.0)
    outcomes["tech_projects_2016_2020__signed"] = 100.0 * scenario["attraction_effort_index"]
    monthly = pd.DataFrame([dict.fromkeys(REPORTERS, 0.0)], index=pd.Index(["2020-12"], name="date"))
    return RunResult(scenario.name, replicate, 0, (replicate,), monthly, outcomes)


FAIL_REPS: set = set()


@pytest.fixture
def tiny_design(tmp_path):
    return sa.load_design(_write(tmp_path, TINY_DESIGN))


def test_points_with_some_failed_replications_use_the_rest(tiny, tiny_design, tmp_path):
    FAIL_REPS.update({1})
    try:
        study = ss.run_study(tiny, tiny_design, "morris", 3, 2, 7, out_root=tmp_path, batch_id="b", progress=False,
                             run_fn=stand_in)  # fmt: skip
    finally:
        FAIL_REPS.clear()
    assert study.batch.failed > 0
    hit = study.points["attraction_effort_index"] > 1.9
    assert (study.points.loc[hit, "n_runs"] == 1).all() and (study.points.loc[~hit, "n_runs"] == 2).all()
    mu = study.table[
        (study.table["index"] == "mu_star") & (study.table["outcome"] == "tech_projects_2016_2020__signed")
    ]
    # 100 projects per unit of effort over a range of 1.5 units: an elementary effect of 150 per full range
    assert mu.set_index("input").loc["attraction_effort_index", "value"] == pytest.approx(150.0)


def test_points_without_any_run_stop_the_analysis(tiny, tiny_design, tmp_path):
    FAIL_REPS.update({0})
    try:
        with pytest.raises(ss.StudyIncomplete, match="no successful run"):
            ss.run_study(tiny, tiny_design, "morris", 3, 1, 7, out_root=tmp_path, batch_id="b", progress=False,
                         run_fn=stand_in)  # fmt: skip
    finally:
        FAIL_REPS.clear()
    assert (tmp_path / "b" / "manifest.json").is_file(), "the runs that finished are kept"
