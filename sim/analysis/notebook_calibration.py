"""Helpers for ``results/calibration_report.ipynb``: read a fitted job, tabulate and caption it.

Reads the files :func:`sim.calibration.calibrate.calibrate` writes under
``calibration/fitted/<job>/`` (``run.json``, ``summary.csv``,
``posterior_draws.csv``, ``predictive.csv``, ``predictive_bands.csv``; see
:mod:`sim.calibration.fitted`). The job is ``$PARKSIM_CALIBRATION_JOB`` (a name
or a folder) when set, else ``default``. Its figures are
:func:`sim.plots.calibration.prior_posterior` and
:func:`sim.plots.calibration.predictive`, the same the calibration writes. No
model logic: only stored numbers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.notebook import fmt_num, project_root
from sim.plots.calibration import narrowing_words, words

ENV_JOB = "PARKSIM_CALIBRATION_JOB"
TOP_FOLDERS = ("calibration", "scenarios", "results", "docs", "sim")  # where a project path starts
NEEDED = ("run.json", "summary.csv", "predictive.csv", "predictive_bands.csv")


@dataclass
class Fitted:
    """The files of one fitted calibration job (see :mod:`sim.calibration.fitted`)."""

    folder: Path
    run: dict
    summary: pd.DataFrame
    draws: pd.DataFrame | None
    coverage: pd.DataFrame
    bands: pd.DataFrame
    priors: dict


def load_fitted(job: str | Path | None = None, root: str | Path | None = None) -> Fitted:
    """Read ``calibration/fitted/<job>/``: ``job`` if given, else ``$PARKSIM_CALIBRATION_JOB``, else ``default``.

    Raises:
        FileNotFoundError: the folder lacks the files a finished job writes (names the jobs that have them).
    """
    name = str(job or os.environ.get(ENV_JOB) or "default")
    root = Path(root) if root else project_root() / "calibration" / "fitted"
    folder = Path(name) if Path(name).is_dir() else root / name
    missing = [f for f in NEEDED if not (folder / f).is_file()]
    if missing:
        done = sorted(p.parent.name for p in root.glob("*/run.json")) if root.is_dir() else []
        raise FileNotFoundError(
            f"{folder}: no finished calibration here (missing {', '.join(missing)}); finished jobs under {root}: "
            f"{', '.join(done) or 'none'}; make one with 'parksim calibrate calibration/jobs/<job>.toml'"
        )
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    draws = pd.read_csv(folder / "posterior_draws.csv") if (folder / "posterior_draws.csv").is_file() else None
    coverage, bands = pd.read_csv(folder / "predictive.csv"), pd.read_csv(folder / "predictive_bands.csv")
    return Fitted(folder, run, pd.read_csv(folder / "summary.csv"), draws, coverage, bands, _priors(run))


def _priors(run: dict) -> dict:
    """The job's priors by parameter name ({} when the job file is gone or no longer valid)."""
    from sim.calibration.job import JobError, load_job

    path = Path(run.get("job_file") or "")
    path = path if path.is_absolute() else project_root() / path
    try:
        return {p.name: p for p in load_job(path).priors}
    except (JobError, OSError, ValueError):
        return {}


def parameter_table(fitted: Fitted) -> pd.DataFrame:
    """Fitted parameters in words: meaning, unit, prior and its source, estimate, 90% interval, narrowing."""
    from sim.model.params import PARAMS

    summary, priors = fitted.summary, fitted.priors
    return pd.DataFrame({
        "parameter": summary["param"],
        "meaning": summary["param"].map(lambda p: PARAMS[p].doc if p in PARAMS else ""),
        "unit": summary["param"].map(lambda p: PARAMS[p].unit if p in PARAMS else ""),
        "prior": summary["prior"],
        "prior source": summary["param"].map(lambda p: getattr(priors.get(p), "source", "")),
        "estimate": summary["estimate"].map(lambda v: f"{v:.4g}"),
        "90% interval": [f"{a:.4g} to {b:.4g}" for a, b in zip(summary["q05"], summary["q95"], strict=True)],
        "90% interval vs prior": summary["narrowing"].map(lambda v: narrowing_words(v).removeprefix("interval ")),
        "identified": summary["identified"].map({True: "yes", False: "no (prior-dominated)"}),
    }).set_index("parameter")  # fmt: skip


def predictive_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Every published figure beside the fitted model's median and 90% band."""
    gt = coverage["qualifier"] == "gt"
    return pd.DataFrame({
        "date": coverage["date"],
        "series": [f"{words(s)} ({words(f)})" for s, f in zip(coverage["series"], coverage["frame"], strict=True)],
        "park figure": np.where(gt, "more than ", "") + coverage["value"].map(fmt_num),
        "unit": coverage["unit"].map(words),
        "model median": coverage["sim_q50"].map(fmt_num),
        "model 90% band": coverage["sim_q05"].map(fmt_num) + " to " + coverage["sim_q95"].map(fmt_num),
        "inside band": coverage["covered"].map({True: "yes", False: "NO"}),
        "used in fit": coverage["fitted"].map({True: "yes", False: "check only"}),
        "confidence": coverage["confidence"],
    })  # fmt: skip


def _relative(path: str | Path) -> str:
    """``path`` relative to the project, never an absolute path of the machine that fitted the job.

    A path into another checkout keeps its part from the project's top folders on
    (``/elsewhere/calibration/data/x.csv`` -> ``calibration/data/x.csv``); anything else keeps only its name.
    """
    path, root = Path(path), project_root().resolve()
    if not path.is_absolute():
        return path.as_posix()
    if path.resolve().is_relative_to(root):
        return path.resolve().relative_to(root).as_posix()
    parts = path.parts
    for i, part in enumerate(parts):
        if part in TOP_FOLDERS and (root / Path(*parts[i:])).exists():
            return Path(*parts[i:]).as_posix()
    return path.name


def caption_fit(fitted: Fitted) -> str:
    """How the job was fitted: method, data, stopping reason, effort, code version, how to use it."""
    r = fitted.run
    method = {"abc": "ABC-SMC (pyABC)", "msm": "the method of simulated moments"}.get(r.get("method"), r.get("method"))
    return "\n".join([
        f"- job **{r.get('job')}** (`{_relative(r.get('job_file', '?'))}`), fitted by {method} "
        f"to `{_relative(r.get('data', '?'))}`",
        f"- {r.get('simulations', '?')} simulations in {r.get('seconds_total', '?')} s on {r.get('executor', '?')}; "
        f"stopped because: {r.get('stop_reason', '?')}",
        f"- code version {r.get('code_version', '?')}, seed {r.get('seed', '?')}, started {r.get('started', '?')}",
        f"- a scenario uses these values with `fitted_params = \"{_relative(fitted.folder / 'params.toml')}\"`",
    ])  # fmt: skip


def caption_parameters(summary: pd.DataFrame) -> str:
    """How many parameters the data pin down, and which are left to the prior."""
    ident = summary[summary["identified"].astype(bool)]
    loose = summary[~summary["identified"].astype(bool)]
    text = f"- The data pin down {len(ident)} of {len(summary)} parameters (90% interval under half the prior's)"
    text += f": {', '.join(ident['param'])}." if len(ident) else "."
    if len(loose):
        text += (
            f"\n- Left mostly to the prior: {', '.join(loose['param'])}. Their values are assumptions, not findings; "
            "results that depend on them should be read with that in mind."
        )
    return text


def caption_predictive(coverage: pd.DataFrame, top: int = 6) -> str:
    """How many of the park's figures the fitted model covers, and the largest misses."""
    fitted = coverage[coverage["fitted"].astype(bool)]
    lines = [
        f"- {int(coverage['covered'].sum())} of {len(coverage)} published figures fall inside the fitted model's "
        f"90% band ({int(fitted['covered'].sum())} of {len(fitted)} of those used in the fit). "
        "With a good fit about 9 in 10 should."
    ]
    for r in coverage[~coverage["covered"].astype(bool)].head(top).itertuples():
        side = "above" if r.value > r.sim_q95 else "below"
        lines.append(
            f"- Missed: {words(r.series)} ({words(r.frame)}, {r.date}): the park reported "
            f"{'more than ' if r.qualifier == 'gt' else ''}{fmt_num(r.value)} {words(r.unit)}, {side} the model's band "
            f"{fmt_num(r.sim_q05)} to {fmt_num(r.sim_q95)}" + ("" if r.fitted else " (check only, not fitted)") + "."
        )
    return "\n".join(lines)
