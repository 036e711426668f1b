"""The statistics parksim reports over replications, from scipy.

* :func:`proportion_ci`: Wilson score interval of the probability of reaching a
  target (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``);
* :func:`mean_ci`: mean of paired differences with its t interval
  (``scipy.stats.ttest_1samp(...).confidence_interval``).

Both work on arrays and give NaN where there is nothing to estimate from.
"""

from __future__ import annotations

import warnings

import numpy as np


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n`` (NaN when ``n`` is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def proportion_ci(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals of many proportions: ``successes[i]`` out of ``n[i]``.

    scipy's ``binomtest`` takes one count at a time; each distinct ``(successes, n)``
    pair is computed once (tables repeat few pairs: 0 of n, n of n, ...).

    Returns:
        ``(low, high)`` arrays shaped like the inputs (NaN where ``n`` is 0).
    """
    k, n = np.broadcast_arrays(np.asarray(successes, int), np.asarray(n, int))
    pairs, where = np.unique(np.stack([k.ravel(), n.ravel()], axis=1), axis=0, return_inverse=True)
    bounds = np.array([wilson_interval(a, b, confidence) for a, b in pairs]).reshape(-1, 2)
    low, high = bounds[where.ravel(), 0], bounds[where.ravel(), 1]
    return low.reshape(k.shape), high.reshape(k.shape)


def mean_ci(diffs, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``diffs`` along ``axis`` (NaNs left out) with its t interval.

    Returns:
        ``(mean, low, high)``: NaN without values; the interval NaN with fewer than two.
        Identical differences give a zero-width interval.
    """
    from scipy.stats import ttest_1samp

    diffs = np.asarray(diffs, float)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # no values, one value or identical values: scipy warns, and the answer (NaN or zero width) is right
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(diffs, axis=axis)
        ci = ttest_1samp(diffs, 0.0, axis=axis, nan_policy="omit").confidence_interval(confidence)
    return mean, np.asarray(ci.low), np.asarray(ci.high)
