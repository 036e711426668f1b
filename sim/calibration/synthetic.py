"""Synthetic data: figures simulated at known parameter values, in the data file's format.

Fitting such data back is how a job's identifiability is checked (and how the
recovery tests work): if a method cannot recover parameters that generated the
data, it cannot be trusted on the real record either.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration.data import COLUMNS
from sim.calibration.observe import QUANTITIES, month_position, observable
from sim.model.scenario import Scenario
from sim.run.runner import run_scenario


def synthetic_data(
    scenario: Scenario,
    truth: dict[str, float],
    figures: list[tuple[str, str, str, str]],
    seed: int,
    confidence: str = "H",
) -> pd.DataFrame:
    """Simulate once at ``truth`` and measure the requested figures.

    Args:
        scenario: the scenario to run (its window must contain the figures).
        truth: parameter values to simulate at.
        figures: ``(series, frame, kind, date)`` of each figure (date ``YYYY-MM-DD``).
        seed: root seed of the single run.
        confidence: confidence grade written on every row.

    Returns:
        Rows with the columns of the data file (qualifier ``eq``).
    """
    sc = scenario.with_values(**truth)
    result = run_scenario(sc, seed=np.random.SeedSequence(seed))
    rows = []
    for series, frame, kind, date in figures:
        q = QUANTITIES[(series, frame)]
        value = observable(q, kind, result.monthly, sc.values)[month_position(result.monthly.index, date[:7])]
        rows.append(
            {
                "date": date,
                "series": series,
                "frame": frame,
                "value": float(f"{value:.6g}"),
                "qualifier": "eq",
                "unit": q.unit_for(kind),
                "kind": kind,
                "confidence": confidence,
                "source": f"synthetic: {scenario.name}, seed {seed}",
                "quote": "; ".join(f"{k}={v:g}" for k, v in truth.items()),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_data(data: pd.DataFrame, path: str | Path) -> Path:
    """Write rows in the data file's format (readable by :func:`sim.calibration.data.load_history`)."""
    path = Path(path)
    data[list(COLUMNS)].to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- synthetic copies of a job's own record
def with_values(job, values) -> pd.DataFrame:
    """``job.observations`` with new figure values, their standard deviations rescaled as the job scales them.

    The sd of a figure depends on its value (``rel_sd`` of its confidence grade times
    the value, floored at ``min_sd`` of its unit: :mod:`sim.calibration.job`), so a
    synthetic record is weighted exactly as the real one would be at those values.
    """
    from sim.calibration.job import JobError, _distance, _sd, spread
    from sim.schema import read_toml

    obs = job.observations.copy()
    obs["value"] = np.asarray(values, float)[: len(obs)]
    raw = read_toml(Path(job.path), JobError) if Path(job.path).is_file() else {}
    obs["sd_meas"] = _sd(obs, _distance(raw))
    obs["sd"] = spread(obs["sd_meas"], obs["model_sd"])  # the model's noise does not depend on the record
    return obs


def with_pattern_values(job, values):
    """``job.patterns`` with the fitted patterns' values replaced by ``values`` (figures after the series).

    ``values`` is a whole figure vector of :func:`sim.calibration.patterns.job_model`
    (series, then the patterns of weight > 0). The published range moves with the
    value (same half-width), so the measurement error is recomputed as the job
    computes it. Returns None for a job without patterns.
    """
    from sim.calibration.job import spread
    from sim.calibration.patterns import fitted_patterns, pattern_sd

    pats = fitted_patterns(job)
    if pats is None:
        return None
    new = np.asarray(values, float)[len(job.observations) :]
    pats = pats.copy()
    shift = new - pats["value"].to_numpy(float)
    pats["value"], pats["low"], pats["high"] = new, pats["low"] + shift, pats["high"] + shift
    pats["sd_meas"] = pattern_sd(pats, job.distance["rel_sd"])
    pats["sd"] = spread(pats["sd_meas"], pats["model_sd"])
    return pats


def synthetic_observations(job, truth: dict[str, float], seed, simulator=None) -> pd.DataFrame:
    """The job's record as it would read had the park run at ``truth``: same series, frames, kinds and dates.

    Args:
        job: a loaded job (:func:`sim.calibration.job.load_job`); every figure, fitted or checked, is simulated.
        truth: values of the job's parameters.
        seed: a ``SeedSequence`` or int: the single run of this synthetic history.
        simulator: a :class:`~sim.calibration.simulator.Simulator` of the job (made when not given).

    Returns:
        A copy of ``job.observations`` with ``value`` (NaN where the run failed) and ``sd`` replaced.
    """
    from sim.calibration.patterns import job_model

    sim = simulator or job_model(job)[0]
    seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    figures = sim.figures(truth, seed)
    return with_values(job, figures)
