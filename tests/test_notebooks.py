"""The results notebooks run end to end on small inputs, and their helpers say what the numbers say.

``compare_scenarios.ipynb`` runs on a small batch made here (tiny park, three
scenarios sharing replicate seeds, 3 replications), found through
``PARKSIM_BATCHES`` exactly as a user would point it at their own batches.
``calibration_report.ipynb`` runs on a fitted job made here by the real
calibration code (a 2-parameter ABC job on a 12-month tiny park, ~5 s): that
checks the notebook against the files the current calibration code writes,
whether or not a committed job exists or has been regenerated since. The
committed ``default`` job is also reported on when its folder is present.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from sim.model.scenario import load_scenario
from sim.run.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
NOTEBOOKS = sorted(RESULTS.glob("*.ipynb"))
TINY = ROOT / "scenarios" / "tiny.toml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def on_tiny(name: str, tiny):
    """A policy scenario's own settings applied on the tiny park."""
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    return tiny.with_values(name=f"{name}@tiny", **{k: scenario[k] for k in scenario.overrides})


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tiny = load_scenario(TINY)
    scenarios = [tiny, on_tiny("financing", tiny), on_tiny("full_package", tiny)]
    return run_batch(scenarios, reps=3, seed=11, out_root=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.fixture(scope="module")
def fitted_job(tmp_path_factory) -> Path:
    """A finished calibration job made by ``sim.calibration.calibrate`` on synthetic data."""
    from sim.calibration.calibrate import calibrate
    from sim.calibration.job import load_job
    from sim.calibration.synthetic import synthetic_data, write_data

    folder = tmp_path_factory.mktemp("calib")
    (folder / "scenario.toml").write_text(f'base = "{TINY}"\nname = "tiny12"\nend = "2017-06"\n', encoding="utf-8")
    figures = [("projects_signed", "park", "flow_year", "2017-06-30"), ("firms", "park", "stock", "2017-06-30")]
    truth = {"leads_per_month": 30.0, "p_register_per_month": 0.08}
    write_data(synthetic_data(load_scenario(folder / "scenario.toml"), truth, figures, seed=2), folder / "data.csv")
    job = folder / "job.toml"
    job.write_text(
        'name = "nbtest"\nmethod = "abc"\nscenario = "scenario.toml"\ndata = "data.csv"\nseed = 3\n'
        "[params.leads_per_month]\nlow = 10.0\nhigh = 60.0\n"
        "[params.p_register_per_month]\nlow = 0.02\nhigh = 0.25\n"
        '[[series]]\nseries = "projects_signed"\n[[series]]\nseries = "firms"\n'
        "[abc]\npopulation = 16\nmax_generations = 2\n[output]\npredictive_runs = 8\nposterior_draws = 16\n",
        encoding="utf-8",
    )
    calibrate(load_job(job), out=folder / "fitted", log=lambda *_: None)
    return folder / "fitted"


def execute(name: str, monkeypatch, **env) -> nbformat.NotebookNode:
    """Run a committed notebook from ``results/`` (as Jupyter would) with ``env`` set for its kernel."""
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    nb = nbformat.read(RESULTS / name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(RESULTS)}}).execute()
    return nb


def outputs(nb, mime: str) -> str:
    """Every output of one MIME type (``text/markdown``, ``text/html``, ...), joined."""
    found = [out["data"][mime] for c in nb.cells for out in c.get("outputs", []) if mime in out.get("data", {})]
    return "\n".join(found)


def check_png(path: Path) -> None:
    assert path.is_file(), f"{path.name} was not written"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000, f"{path.name} is not a real figure"


# ---------------------------------------------------------------- the notebooks run
@pytest.mark.slow  # executes a notebook in a kernel
def test_compare_notebook_runs_on_a_small_batch(batch, tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    nb = execute("compare_scenarios.ipynb", monkeypatch, PARKSIM_BATCHES=batch.folder, PARKSIM_FIGURES=figures)
    for name in ("targets", "fan_charts", "zones", "paired_differences", "indicator_differences"):
        check_png(figures / f"{name}.png")
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images == 5, f"each figure must be shown once, got {images} images"
    text = outputs(nb, "text/markdown") + outputs(nb, "text/html")
    assert f"batch `{batch.id}`" in text, "the first output must say which batch is shown"
    for scenario in ("tiny", "financing@tiny", "full_package@tiny"):
        assert scenario in text, f"scenario {scenario} missing from the notebook's output"
    assert "30 listed companies by end 2020" in text, "the target table must use the plan's wording"
    assert "exchange + NEEQ" in text, "every definition of a target must be shown"
    assert "**full_package@tiny**: most firms in the" in text, "the zone caption must say where firms sit"
    assert "No scenario changes the chance" in text or "raises" in text or "lowers" in text


@pytest.mark.slow  # executes a notebook in a kernel
def test_calibration_notebook_runs_on_a_fitted_job(fitted_job, tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    nb = execute("calibration_report.ipynb", monkeypatch, PARKSIM_CALIBRATION_JOB=fitted_job, PARKSIM_FIGURES=figures)
    check_png(figures / "prior_posterior.png")
    check_png(figures / "predictive.png")
    text = outputs(nb, "text/markdown") + outputs(nb, "text/html")
    assert "job **nbtest**" in text
    for param in ("leads_per_month", "p_register_per_month"):
        assert param in text, f"fitted parameter {param} missing from the report"
    covered = int(json.loads((fitted_job / "run.json").read_text())["figures_covered"])
    assert f"{covered} of 2 published figures" in text, "the coverage caption must match run.json"


@pytest.mark.slow  # executes a notebook in a kernel
def test_calibration_notebook_reads_the_committed_default_job(tmp_path, monkeypatch):
    if not (ROOT / "calibration" / "fitted" / "default" / "run.json").is_file():
        pytest.skip("calibration/fitted/default has not been produced in this checkout")
    nb = execute("calibration_report.ipynb", monkeypatch, PARKSIM_FIGURES=tmp_path)
    assert "job **default**" in outputs(nb, "text/markdown")
    check_png(tmp_path / "predictive.png")


# ---------------------------------------------------------------- the notebooks as committed
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_are_committed_without_outputs(path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "strip_notebooks.py"), "--check", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_hold_no_model_code(path):
    """Code cells only call sim: no function or class definitions, imports from sim and IPython only."""
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), f"definition in:\n{cell.source}"
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert all(n.split(".")[0] in ("sim", "IPython") for n in names), f"import of {names} in a notebook"


def test_strip_removes_outputs_and_nothing_else(tmp_path):
    clean = nbformat.read(RESULTS / "compare_scenarios.ipynb", as_version=4)
    dirty = nbformat.read(RESULTS / "compare_scenarios.ipynb", as_version=4)
    code = next(c for c in dirty.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello")]
    code.execution_count = 3
    code.metadata["execution"] = {"iopub.status.idle": "2026-11-27T00:00:00Z"}
    dirty.metadata["language_info"]["version"] = "3.13.0"
    path = tmp_path / "dirty.ipynb"
    nbformat.write(dirty, path)
    script = [sys.executable, str(ROOT / "scripts" / "strip_notebooks.py")]
    assert subprocess.run([*script, "--check", str(path)], capture_output=True).returncode == 1
    assert subprocess.run([*script, str(path)], capture_output=True).returncode == 0
    assert subprocess.run([*script, "--check", str(path)], capture_output=True).returncode == 0
    assert nbformat.read(path, as_version=4) == clean, "stripping must give back the committed notebook exactly"


# ---------------------------------------------------------------- helpers
def finished_batch(root: Path, batch_id: str, names, finished: str, design=None, status="complete") -> None:
    """A minimal stored batch: a manifest and one outcomes part with its monthly part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / batch_id
    (folder / "outcomes").mkdir(parents=True)
    (folder / "monthly").mkdir()
    runs = [{"run": i, "scenario": n, "replicate": 0, "spawn_key": "0", "status": "ok"} for i, n in enumerate(names)]
    manifest = {
        "format": "parksim-results", "format_version": 1, "id": batch_id, "status": status, "seed": 1, "reps": 1,
        "created": finished, "finished": finished, "scenarios": [{"name": n} for n in names], "runs": runs,
        "design": design, "counts": {},
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = len(names) if status == "complete" else 0
    pq.write_table(pa.table({"run": list(range(done))}), folder / "outcomes" / "s0-0.parquet")
    pq.write_table(pa.table({"run": list(range(done))}), folder / "monthly" / "s0-0.parquet")


def test_latest_batches_picks_finished_scenario_batches(tmp_path):
    from sim.analysis.notebook import latest_batches

    finished_batch(tmp_path, "old", ["baseline", "financing"], "2026-01-01T00:00:00Z")
    finished_batch(tmp_path, "new", ["baseline", "full_package"], "2026-02-01T00:00:00Z")
    finished_batch(tmp_path, "sweep", ["p0", "p1"], "2026-03-01T00:00:00Z", design={"name": "grid"})
    finished_batch(tmp_path, "killed", ["baseline"], "2026-04-01T00:00:00Z", status="interrupted")
    assert latest_batches(tmp_path) == ["new"], "sweeps and unfinished batches must not be the default"
    assert latest_batches(tmp_path, ["financing", "baseline", "full_package"]) == ["old", "new"]
    with pytest.raises(FileNotFoundError, match="land_supply.*parksim run"):
        latest_batches(tmp_path, ["land_supply"])
    with pytest.raises(FileNotFoundError, match="no finished scenario batch"):
        latest_batches(tmp_path / "empty")


def test_pick_batches_prefers_ids_then_the_environment(batch, monkeypatch, tmp_path):
    from sim.analysis.notebook import pick_batches

    monkeypatch.setenv("PARKSIM_BATCHES", f" {batch.folder} ,")
    assert [b.id for b in pick_batches(root=tmp_path)] == [batch.id]
    monkeypatch.setenv("PARKSIM_BATCHES", "no-such-batch")
    assert [b.id for b in pick_batches([str(batch.folder)], root=tmp_path)] == [batch.id]
    with pytest.raises(Exception, match="no-such-batch"):
        pick_batches(root=tmp_path)


def test_load_comparison_filters_and_checks_names(batch):
    from sim.analysis.notebook import load_comparison

    cmp = load_comparison([batch], only=["full_package@tiny", "tiny"])
    assert cmp.scenarios == ["tiny", "full_package@tiny"] and cmp.reference == "tiny"
    assert set(cmp.differences["scenario"]) == {"full_package@tiny"}
    assert set(cmp.targets["scenario"]) == set(cmp.zones["scenario"]) == {"tiny", "full_package@tiny"}
    assert load_comparison([batch], max_scenarios=2).dropped == ["full_package@tiny"]
    with pytest.raises(ValueError, match="baseline"):
        load_comparison([batch], only=["baseline"])
    with pytest.raises(ValueError, match="not among the scenarios"):
        load_comparison([batch], reference="financing@tiny", only=["tiny", "full_package@tiny"])


def diff_row(scenario, measure, kind, mean, low, high, pairs=20) -> dict:
    return {"scenario": scenario, "reference": "baseline", "measure": measure, "kind": kind,
            "mean_diff": mean, "ci_low": low, "ci_high": high, "pairs": pairs}  # fmt: skip


def test_difference_caption_reports_only_changes_beyond_chance():
    from sim.analysis.notebook import caption_differences, difference_table

    diffs = pd.DataFrame([
        diff_row("full_package", "listed_companies_2020__exchange_neeq", "p_reach", 0.45, 0.30, 0.60),
        diff_row("full_package", "leading_enterprises_2020__revenue_threshold", "p_reach", 0.10, -0.05, 0.25),
        diff_row("eco_threshold", "end_high_pollution_firms", "value", -12.0, -15.0, -9.0),
    ])  # fmt: skip
    text = caption_differences(diffs)
    assert "**full_package** raises the chance of *30 listed companies by end 2020 (exchange + NEEQ)* by 45" in text
    assert "(95% interval 30 to 60)" in text
    assert "leading" not in text, "a change whose interval spans zero must not be reported"
    assert "**eco_threshold** lowers *high-pollution firms* by 12" in text
    table = difference_table(diffs)
    assert table.loc["30 listed companies by end 2020 (exchange + NEEQ)", "full_package"] == "+45 (+30 to +60)"
    assert table.loc["high-pollution firms", "eco_threshold"] == "-12.0 (-15.0 to -9.0)"
    none = caption_differences(diffs.iloc[[1]])
    assert none.startswith("- No scenario changes the chance") and "20 paired replications" in none


def test_target_matrix_and_caption_state_the_numbers():
    from sim.analysis.notebook import caption_targets, target_matrix

    table = pd.DataFrame([
        {"scenario": "baseline", "target": "listed_companies_2020", "definition": "exchange", "threshold": 30,
         "unit": "firms", "n": 20, "p_reach": 0.0, "p_low": 0.0, "p_high": 0.161, "median": 12, "q05": 8, "q95": 17},
        {"scenario": "baseline", "target": "listed_companies_2020", "definition": "exchange_neeq", "threshold": 30,
         "unit": "firms", "n": 20, "p_reach": 0.85, "p_low": 0.64, "p_high": 0.948, "median": 36, "q05": 29.5,
         "q95": 44},
    ])  # fmt: skip
    wide = target_matrix(table)
    key = ("30 listed companies by end 2020", "exchange + NEEQ", "30 firms")
    assert wide.loc[key, "baseline"] == "85% (64%-95%)"
    assert target_matrix(table, "median").loc[key, "baseline"] == "36 (29.5-44)"
    text = caption_targets(table)
    assert "1 of 2 target readings are reached in at least 80% of replications, 1 in none" in text
    assert "30 listed companies by end 2020 (exchange-listed only)" in text, "never-reached readings must be named"
    assert "±15 points" in text, "the widest interval is (94.8% - 64%) / 2"


@pytest.mark.slow  # needs a fitted job (a small calibration)
def test_load_fitted_names_the_jobs_that_exist(fitted_job, tmp_path):
    from sim.analysis.notebook_calibration import load_fitted, parameter_table

    fit = load_fitted(fitted_job)
    assert list(fit.summary["param"]) == ["leads_per_month", "p_register_per_month"]
    assert set(fit.priors) == {"leads_per_month", "p_register_per_month"}, "priors come from the job file"
    table = parameter_table(fit)
    assert table.loc["leads_per_month", "unit"] == "leads/month"
    assert np.isclose(float(table.loc["leads_per_month", "estimate"]), fit.summary["estimate"].iloc[0], rtol=1e-3)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "abc.db").write_text("")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "run.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"missing run\.json.*finished jobs under .*: done"):
        load_fitted("half", root=tmp_path)


# ---------------------------------------------------------------- what the notebooks say and draw
def test_charts_name_scenarios_by_their_labels(batch):
    import sim.analysis.notebook as nb

    cmp = nb.load_comparison([batch])
    label = load_scenario(TINY).label  # the three tiny variants share it: the name is added to tell them apart
    assert cmp.labels["tiny"] == f"{label} (tiny)" and cmp.labels["financing@tiny"] == f"{label} (financing@tiny)"
    assert len(set(cmp.labels.values())) == len(cmp.labels), "labels are made unique"
    shown = cmp.labelled(cmp.differences)
    assert set(shown["scenario"]) <= set(cmp.labels.values()) and set(shown["reference"]) == {cmp.labels["tiny"]}
    assert set(cmp.differences["scenario"]) <= set(cmp.labels), "the tables themselves keep the names"


def test_narrowing_is_worded_narrower_or_wider():
    from sim.plots.calibration import narrowing_words

    assert narrowing_words(0.62) == "interval 62% narrower than the prior's"
    assert narrowing_words(-0.21) == "interval 21% wider than the prior's", "a negative narrowing is a wider interval"
    assert "0% narrower" not in narrowing_words(-0.04)


def test_calibration_panels_are_titled_by_parameter_meaning_and_count_bands_stop_at_zero():
    from sim.calibration.job import Prior
    from sim.model.params import PARAMS
    from sim.plots.calibration import predictive, prior_posterior

    prior = Prior("leads_per_month", "uniform", 10.0, 60.0)
    summary = pd.DataFrame([{
        "param": prior.name, "estimate": 30.0, "q05": 5.0, "q95": 59.0, "prior_q05": 12.5, "prior_q95": 57.5,
        "narrowing": -0.2, "identified": False,
    }])  # fmt: skip
    fig = prior_posterior(summary, [prior], cov=np.array([[4.0]]))
    title = fig.axes[0].get_title()
    assert PARAMS["leads_per_month"].doc[1:20] in title and "20% wider" in title, title
    months = [f"2016-{m:02d}" for m in range(1, 13)]
    bands = pd.DataFrame({"series": "graphene_neeq", "frame": "park", "kind": "stock", "month": months,
                          "q05": np.full(12, -1.5), "q50": np.ones(12), "q95": np.full(12, 3.0)})  # fmt: skip
    coverage = pd.DataFrame([{"series": "graphene_neeq", "frame": "park", "kind": "stock", "date": "2016-12-31",
                              "value": 1.0, "sd": 2.0, "qualifier": "", "covered": True, "fitted": True,
                              "unit": "firms"}])  # fmt: skip
    ax = predictive(bands, coverage).axes[0]
    lowest = min(v[1] for c in ax.collections for p in c.get_paths() for v in p.vertices)
    assert lowest >= 0, f"a band or whisker of a count goes below zero ({lowest})"


def test_report_header_shows_project_paths_not_the_fitting_machine(tmp_path):
    import sim.analysis.notebook_calibration as nc

    run = {"job": "default", "job_file": "/some/machine/checkout/calibration/jobs/default.toml", "method": "abc",
           "data": "/work/elsewhere/calibration/data/west_taihu_history.csv"}  # fmt: skip
    fitted = nc.Fitted(nc.project_root() / "calibration" / "fitted" / "default", run, pd.DataFrame(), None,
                       pd.DataFrame(), pd.DataFrame(), {})  # fmt: skip
    text = nc.caption_fit(fitted)
    assert "`calibration/data/west_taihu_history.csv`" in text and "`calibration/jobs/default.toml`" in text, text
    assert "/work/" not in text and "/some/" not in text, "no absolute path of another machine in the header"
