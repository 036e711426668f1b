"""A sensitivity study on the model: sample a design, run its points as one batch, analyse, write.

:func:`run_study` is what ``parksim sensitivity`` runs: the points of a design
(:mod:`sim.analysis.sensitivity`) become scenarios, :func:`sim.run.batch.run_batch`
runs them with common random numbers (resumable like any batch), and the indices
of every outcome are computed and written beside the batch with their figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.sensitivity import (
    CONF_LEVEL,
    METHODS,
    MORRIS_LEVELS,
    SensitivityDesign,
    analyze,
    check_n,
    kind_of,
    n_points,
    point_outcomes,
    point_scenarios,
    point_values,
    sample,
)
from sim.model.scenario import Scenario, ScenarioError


@dataclass
class Study:
    """A finished sensitivity study.

    Attributes:
        method: ``morris`` or ``sobol``.
        design: the checked design.
        x: the design points as sampled (one row per point).
        points: per point: scenario name (index), input values, averaged outcomes, ``n_runs``.
        table: the tidy table of indices (see :func:`analyze`), with the input's ``kind``.
        skipped: outcome columns not analysed, with the reason.
        batch: the :class:`sim.run.batch.Batch` that holds the runs.
        files: what was written into the batch folder.
    """

    method: str
    design: SensitivityDesign
    x: np.ndarray
    points: pd.DataFrame
    table: pd.DataFrame
    skipped: dict
    batch: object
    files: list = None


class StudyIncomplete(ScenarioError):  # noqa: N818 - reads as a state of the study
    """Design points without a single successful run: the indices need every point."""

    def __init__(self, batch, missing: list[str]):
        self.batch, self.missing = batch, missing
        failed = batch.failed if batch.folder is not None else "some"
        super().__init__(
            batch.folder or "in-memory batch", None,
            f"{len(missing)} design point(s) have no successful run (e.g. {missing[0]}; {failed} run(s) failed in "
            f"all). Morris and Sobol need every point: see the errors with 'parksim show {batch.id}', fix the cause "
            "(or narrow the design) and run the study again",
        )  # fmt: skip


def study_spec(base: Scenario, design: SensitivityDesign, method: str, n: int, seed: int) -> dict:
    """What identifies a study's design points (stored in the manifest under ``sensitivity``)."""
    return {
        "method": method,
        "n": n,
        "n_points": n_points(method, n, len(design.factors)),
        "sample_seed": seed,
        "morris_levels": MORRIS_LEVELS if method == "morris" else None,
        "scenario": base.name,
        "design": design.to_dict(),
    }


def manifest_design(design: SensitivityDesign, method: str, seed: int, scenarios: list[Scenario]) -> dict:
    """The ``design`` entry of the manifest, in the shape sweeps use (so ``parksim show`` reads it)."""
    points = [{"name": s.name, **{k: s[k] for k in design.inputs}} for s in scenarios]
    name = Path(design.path).stem if design.path else "sensitivity"
    return {
        "name": name, "label": design.label, "method": f"sensitivity-{method}", "path": design.path,
        "sample_seed": seed, "inputs": design.inputs, "factors": design.to_dict()["factors"], "points": points,
    }  # fmt: skip


def _check_resume(folder_or_id, root, spec: dict, reps: int) -> None:
    from sim import store

    folder = store.resolve_folder(folder_or_id, root)
    manifest = store.read_manifest(folder)
    stored = manifest.get("sensitivity")
    where = folder / store.MANIFEST
    if not isinstance(stored, dict):
        raise ScenarioError(
            where, "sensitivity", "this batch is not a sensitivity study; resume it with 'parksim resume'"
        )
    for key in ("method", "n", "sample_seed", "scenario"):
        if stored.get(key) != spec[key]:
            raise ScenarioError(
                where, f"sensitivity.{key}", f"the batch has {stored.get(key)!r}, this command {spec[key]!r}"
            )
    if stored.get("design", {}).get("factors") != spec["design"]["factors"]:
        raise ScenarioError(
            where, "sensitivity.design", "the batch was made from another design (inputs or ranges differ)"
        )
    if manifest["reps"] != reps:
        raise ScenarioError(where, "reps", f"the batch has {manifest['reps']} replications, this command --reps {reps}")


def run_study(
    base: Scenario,
    design: SensitivityDesign,
    method: str,
    n: int,
    reps: int,
    seed: int,
    *,
    workers: int = 1,
    dask: str | None = None,
    out_root: str | None = "results/runs",
    batch_id: str | None = None,
    resume: str | None = None,
    command: str | None = None,
    progress: bool = True,
    run_fn=None,
) -> Study:
    """Sample, run every point ``reps`` times through :func:`sim.run.batch.run_batch`, analyse, write.

    With ``resume`` (a batch id or folder), the stored study is completed instead:
    the same design points are rebuilt and must match the stored ones. ``run_fn``
    replaces :func:`sim.run.runner.run_scenario` (tests use a stand-in model).

    Raises:
        ScenarioError: bad arguments, a resume that does not match, or points with no finished run.
    """
    from sim.run.batch import resume_batch, run_batch

    problem_n = check_n(method, n)
    if problem_n:
        raise ScenarioError("--n" if method in METHODS else "--method", None, problem_n)
    x = sample(design.problem(), method, n, seed)
    scenarios = point_scenarios(base, design, x)
    spec = study_spec(base, design, method, n, seed)
    if resume:
        _check_resume(resume, out_root, spec, reps)
        batch = resume_batch(resume, root=out_root, workers=workers, dask=dask, progress=progress, command=command,
                             expect_scenarios=scenarios, run_fn=run_fn)  # fmt: skip
    else:
        extra = {"design": manifest_design(design, method, seed, scenarios), "sensitivity": spec,
                 "base_scenario": base.to_dict()}  # fmt: skip
        batch = run_batch(
            scenarios, reps, seed, workers, dask, out_root, batch_id, command, progress, extra, run_fn=run_fn
        )
    names = [s.name for s in scenarios]
    means = point_outcomes(batch.outcomes, names, list(design.outcomes))
    missing = means.index[means["n_runs"].isna()].tolist()
    if missing:
        raise StudyIncomplete(batch, missing)
    table, skipped = analyze(design.problem(), method, x, means.drop(columns="n_runs"), seed)
    table.insert(3, "kind", [kind_of(k) for k in table["input"]])
    values = pd.DataFrame(point_values(design, x), index=names)
    study = Study(method, design, x, values.join(means), table, skipped, batch, [])
    if batch.folder is not None:
        study.files = write_study(study, Path(batch.folder))
    return study


def write_study(study: Study, folder: Path) -> list[Path]:
    """Indices table, per-point table, figures and a JSON note of what was analysed."""
    from sim.store import write_json

    indices, points = folder / "sensitivity_indices.csv", folder / "sensitivity_points.csv"
    study.table.to_csv(indices, index=False)
    study.points.rename_axis("scenario").to_csv(points)
    from sim.plots.sensitivity import write_figures

    figures = write_figures(study.table, study.method, folder) if len(study.table) else []
    note = folder / "sensitivity.json"
    write_json(note, {
        "method": study.method, "design": study.design.to_dict(), "skipped": study.skipped,
        "conf_level": CONF_LEVEL, "files": [p.name for p in (indices, points, *figures)],
    })  # fmt: skip
    return [indices, points, *figures, note]
