"""Posterior predictive check: does the fitted model's 90% band cover the observed figures?

Runs the history scenario at parameter draws from the fit (ABC: the posterior;
MSM: the estimate's sampling distribution), each with a fresh seed, measures
every observed figure and every observed series month by month, and reports
per figure the 5/50/95% quantiles and whether the band covers it. For a lower
bound (``gt``) the band covers it when at least 5% of the runs lie above it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration.parallel import Pool
from sim.calibration.simulator import Simulator
from sim.run.runner import replicate_seeds

QUANTILES = (0.05, 0.5, 0.95)


def predictive_runs(sim: Simulator, draws: pd.DataFrame, n: int, seed: int, pool: Pool):
    """Simulate ``n`` runs at the draws (draw ``i mod len``); return figures (n x obs) and trajectories."""
    seeds = replicate_seeds(seed, n)
    tasks = [(draws.iloc[i % len(draws)].to_dict(), seeds[i]) for i in range(n)]
    out = pool.map(sim.trajectories_task, tasks)
    figures = np.array([o[0] for o in out])
    traj = {k: np.array([o[1][k] for o in out]) for k in sim.trajectory_keys()}
    return figures, traj


def coverage_table(observations: pd.DataFrame, figures: np.ndarray) -> pd.DataFrame:
    """Per observed figure: the predictive quantiles and whether the 90% band covers it."""
    q05, q50, q95 = np.nanquantile(figures, QUANTILES, axis=0)
    y = observations["value"].to_numpy(float)
    bound = (observations["qualifier"] == "gt").to_numpy()
    above = np.mean(figures > y, axis=0)
    covered = np.where(bound, above >= 0.05, (q05 <= y) & (y <= q95))
    cols = ["obs", "series", "frame", "date", "kind", "unit", "qualifier", "value", "sd", "confidence", "line"]
    table = observations[cols].copy()
    table["sim_q05"], table["sim_q50"], table["sim_q95"] = q05, q50, q95
    table["share_above"] = above
    table["covered"] = covered
    table["fitted"] = (observations["weight"] > 0).to_numpy()
    return table


def band_table(months: list[str], traj: dict) -> pd.DataFrame:
    """Monthly 5/50/95% bands of every observed (series, frame, kind), long format."""
    frames = []
    for (series, frame, kind), runs in traj.items():
        q = np.full((3, len(months)), np.nan)
        ok = np.isfinite(runs).any(axis=0)  # months before a flow can be measured are NaN in every run
        q[:, ok] = np.nanquantile(runs[:, ok], QUANTILES, axis=0)
        frames.append(
            pd.DataFrame(
                {"series": series, "frame": frame, "kind": kind, "month": months, "q05": q[0], "q50": q[1], "q95": q[2]}
            )
        )
    return pd.concat(frames, ignore_index=True)


def pattern_check(job, draws: pd.DataFrame, n: int, seed: int, pool: Pool) -> pd.DataFrame | None:
    """The predictive check of the job's fitted patterns: the same ``n`` (draw, seed) runs as the series' check.

    Returns one row per pattern figure (pattern, statistic, value, sd, the
    5/50/95% quantiles of the runs, covered), or None for a job without patterns.
    """
    from sim.calibration.patterns import fitted_patterns, job_model

    pats = fitted_patterns(job)
    if pats is None:
        return None
    sim, _ = job_model(job)
    seeds = replicate_seeds(seed, n)
    tasks = [(draws.iloc[i % len(draws)].to_dict(), seeds[i]) for i in range(n)]
    figures = np.array(pool.map(sim.figures_task, tasks))[:, len(job.observations) :]
    q05, q50, q95 = np.nanquantile(figures, QUANTILES, axis=0)
    y = pats["value"].to_numpy(float)
    table = pats[["pattern", "statistic", "value", "low", "high", "sd", "confidence", "source"]].copy()
    table["sim_q05"], table["sim_q50"], table["sim_q95"] = q05, q50, q95
    table["covered"] = (q05 <= y) & (y <= q95)
    return table
