"""The distance between simulated and observed figures, shared by ABC-SMC, MSM and history matching.

Each figure ``i`` has a value ``y_i``, a standard deviation ``sd_i`` (its
measurement error from its confidence grade and unit, and the model's
run-to-run noise where the job measured it, see :mod:`sim.calibration.job`) and a weight ``w_i``
(its series' weight shared among the series' figures, so a series counts as a
whole however many figures it has). The scaled residual is
``r_i = (x_i - y_i) / sd_i`` for a point figure and ``min(0, x_i - y_i) / sd_i``
for a lower bound (qualifier ``gt``: no loss when the model is above it). The
distance is ``sqrt(sum_i w_i r_i^2 / sum_i w_i)``: 1 means "one standard
deviation off on average".

Patterns (:mod:`sim.calibration.patterns`) join the same sum: each pattern
figure is one more ``(y_i, sd_i, w_i)`` with its own spread (measurement error
from its range and grade, plus the model's run-to-run noise); a job's pattern
weights are relative to the series weights (a pattern of weight 1 counts as
much as a series of weight 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Discrepancy:
    """Observed figures with their scales; callable as a pyABC distance.

    Attributes:
        y: observed values (data units).
        sd: standard deviation of each figure.
        weight: weight of each figure (sums to 1).
        bound: True where the figure is a lower bound (``gt``).
    """

    y: np.ndarray
    sd: np.ndarray
    weight: np.ndarray
    bound: np.ndarray

    @classmethod
    def from_observations(
        cls, obs: pd.DataFrame, patterns: pd.DataFrame | None = None, spread: str = "sd"
    ) -> Discrepancy:
        """Series figures of ``obs`` (job order), then the pattern figures of ``patterns`` (point figures).

        ``spread`` names the column of standard deviations: ``sd`` (measurement
        error and model noise, for ABC) or ``sd_meas`` (measurement error alone,
        for methods that estimate the model's variance from their own replications).
        """
        w = obs["weight"].to_numpy(float)
        y, sd, bound = obs["value"].to_numpy(float), obs[spread].to_numpy(float), (obs["qualifier"] == "gt").to_numpy()
        if patterns is not None and len(patterns):
            w = np.r_[w, patterns["weight"].to_numpy(float)]
            y, sd = np.r_[y, patterns["value"].to_numpy(float)], np.r_[sd, patterns[spread].to_numpy(float)]
            bound = np.r_[bound, np.zeros(len(patterns), bool)]
        return cls(y=y, sd=sd, weight=w / w.sum(), bound=bound)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Unscaled residuals ``x - y`` (zero for a bound the model exceeds); works on (..., n) arrays."""
        d = np.asarray(x, float) - self.y
        return np.where(self.bound, np.minimum(d, 0.0), d)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Scaled residuals ``r_i``."""
        return self.raw(x) / self.sd

    def distance(self, x: np.ndarray) -> float:
        """The weighted root-mean-square scaled residual (inf when any figure is missing)."""
        r = self.residuals(x)
        if not np.all(np.isfinite(r)):
            return float("inf")
        return float(np.sqrt(np.sum(self.weight * r**2)))

    def __call__(self, x: dict, x_0: dict | None = None) -> float:
        """PyABC's distance interface: summary statistics are ``{"x": figures}``."""
        return self.distance(x["x"])


def replication_sd(figures: np.ndarray) -> np.ndarray:
    """Run-to-run standard deviation of each figure from ``K`` replications (K x n, NaN for a failed run).

    The sample standard deviation (``ddof = 1``) over the finite replications of
    each figure; NaN where fewer than two are finite.
    """
    f = np.atleast_2d(np.asarray(figures, float))
    ok = np.isfinite(f)
    n = ok.sum(axis=0)
    mean = np.where(n > 0, np.nansum(f, axis=0) / np.maximum(n, 1), np.nan)
    ss = np.nansum(np.where(ok, (f - mean) ** 2, 0.0), axis=0)
    return np.where(n >= 2, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)
