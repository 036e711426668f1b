"""Diagnostic figures of a calibration job, written as small PNGs beside its tables.

Kept for :mod:`sim.calibration.calibrate`, which calls these by file; the
figures themselves are :mod:`sim.plots.calibration`, shared with the
calibration notebook.

* ``prior_posterior.png``: each fitted parameter's prior density and its
  posterior (ABC: weighted histogram of the final population; MSM: the
  estimate's normal approximation), with the point value and 90% intervals.
* ``predictive.png``: for every observed series, the fitted model's monthly
  90% band and median against the observed figures.
* ``abc_schedule.png`` (ABC): epsilon and acceptance rate per generation.
* ``msm_trace.png`` (MSM): the objective at every evaluation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.plots import calibration as figures
from sim.plots import save

DPI = 80


def prior_posterior(path: Path, priors, summary: pd.DataFrame, particles=None, weights=None, cov=None) -> None:
    """Prior density against the posterior of every parameter."""
    save(figures.prior_posterior(summary, priors, draws=particles, weights=weights, cov=cov), path, dpi=DPI)


def predictive(path: Path, bands: pd.DataFrame, coverage: pd.DataFrame) -> None:
    """Monthly 90% predictive bands of every observed series with the observed figures."""
    save(figures.predictive(bands, coverage), path, dpi=DPI)


def abc_schedule(path: Path, generations: pd.DataFrame) -> None:
    """Epsilon and acceptance rate per ABC generation."""
    save(figures.abc_schedule(generations), path, dpi=DPI)


def msm_trace(path: Path, evaluations: pd.DataFrame) -> None:
    """The MSM objective at every evaluation, with the best so far."""
    save(figures.msm_trace(evaluations), path, dpi=DPI)
