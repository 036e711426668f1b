"""Fitted parameter sets: summaries, ``params.toml``, posterior draws for batches.

Files of a job under ``calibration/fitted/<job>/``:

* ``params.toml``: a ``[params]`` table of point values (posterior medians for
  ABC, estimates for MSM, medians of the non-implausible sample for HM),
  loadable by :func:`sim.model.scenario.load_fitted`, so a scenario can say
  ``fitted_params = "calibration/fitted/<job>/params.toml"``.
* ``summary.csv``: per parameter the prior, the point value, the 90% interval
  and whether the data identify it.
* ``posterior_draws.csv``: equal-weight draws of the fitted parameters. A batch
  that wants parameter uncertainty in its target probabilities gives
  replication ``i`` the draw ``i mod N`` (:func:`scenario_with_draw`).

A parameter counts as *identified* when its 90% interval is less than half as
wide as its prior's 90% interval (:data:`IDENTIFIED_NARROWING`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration.job import Job, Prior
from sim.model.scenario import Scenario, load_fitted

IDENTIFIED_NARROWING = 0.5
# what the point values of a method are, where the caller's generic wording does not fit
POINT_VALUES = {"hm": "medians of the non-implausible sample (history matching)"}


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Quantile ``q`` of ``x`` with weights ``w`` (interpolated on the weighted CDF)."""
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, x))


def summarise(priors: tuple[Prior, ...], point: dict, low90: dict, high90: dict, extra: dict | None = None):
    """One row per parameter: prior, point value, 90% interval, narrowing, identified."""
    rows = []
    for p in priors:
        p05, p95 = (float(v) for v in p.ppf([0.05, 0.95]))
        width = high90[p.name] - low90[p.name]
        narrowing = 1.0 - width / (p95 - p05) if np.isfinite(width) else 0.0
        row = {
            "param": p.name,
            "prior": p.describe(),
            "prior_q05": p05,
            "prior_q95": p95,
            "estimate": point[p.name],
            "q05": low90[p.name],
            "q95": high90[p.name],
            "narrowing": narrowing,
            "identified": bool(narrowing >= IDENTIFIED_NARROWING),
        }
        row.update((extra or {}).get(p.name, {}))
        rows.append(row)
    return pd.DataFrame(rows)


def abc_summary(priors, particles: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Posterior medians and 5-95% quantiles of a weighted ABC population."""
    med = {p.name: weighted_quantile(particles[p.name], weights, 0.5) for p in priors}
    lo = {p.name: weighted_quantile(particles[p.name], weights, 0.05) for p in priors}
    hi = {p.name: weighted_quantile(particles[p.name], weights, 0.95) for p in priors}
    mean = {p.name: {"mean": float(np.average(particles[p.name], weights=weights))} for p in priors}
    return summarise(priors, med, lo, hi, mean)


def resample(particles: pd.DataFrame, weights: np.ndarray, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` equal-weight draws from a weighted population (systematic resampling)."""
    w = np.asarray(weights, float) / np.sum(weights)
    positions = (rng.random() + np.arange(n)) / n
    idx = np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)
    return particles.iloc[idx].reset_index(drop=True)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def write_params_toml(path: Path, job: Job, summary: pd.DataFrame, how: str, seconds: float) -> None:
    """Write the ``[params]`` table of point values, with intervals as comments."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    how = POINT_VALUES.get(job.method, how)
    lines = [
        f"# Fitted by: parksim calibrate {job.path}  ({job.method.upper()}, {how})",
        f"# Job '{job.name}': {job.label}",
        f"# Data: {Path(job.data_path).name}; scenario: {job.scenario.name}; {stamp}; {seconds:.0f} s.",
        "# Values are point estimates; the comment gives the 90% interval and whether the data identify it.",
        "# Intervals and priors: summary.csv; posterior draws for batches: posterior_draws.csv.",
        "[params]",
    ]
    for r in summary.itertuples():
        tag = "identified" if r.identified else "NOT identified by the data (prior-dominated)"
        lines.append(f"{r.param} = {_fmt(r.estimate)}  # 90% {_fmt(r.q05)}..{_fmt(r.q95)}; {tag}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_fitted(path)  # the file must be usable by scenarios: fail here, not in a later study


def load_posterior_draws(path: str | Path) -> pd.DataFrame:
    """The equal-weight posterior draws of a fitted job (one column per parameter)."""
    return pd.read_csv(path)


def scenario_with_draw(scenario: Scenario, draws: pd.DataFrame, replicate: int) -> Scenario:
    """The scenario with replication ``replicate``'s parameter draw (draw ``replicate mod N``)."""
    row = draws.iloc[replicate % len(draws)]
    return scenario.with_values(**{k: float(v) for k, v in row.items()})
