"""Diagnostic figures of a calibration job (PNG, small).

* ``prior_posterior.png``: each fitted parameter's prior density and its
  posterior (ABC: weighted histogram of the final population; MSM: the
  estimate's normal approximation), with the point value and 90% interval.
* ``predictive.png``: for every observed series, the fitted model's monthly
  90% band and median against the observed figures (points with one sd; lower
  bounds as upward triangles).
* ``abc_schedule.png`` (ABC): epsilon and acceptance rate per generation.
* ``msm_trace.png`` (MSM): the objective at every evaluation.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

DPI = 80


def _grid(n: int, width: float = 3.6, height: float = 2.6):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def prior_posterior(path: Path, priors, summary: pd.DataFrame, particles=None, weights=None, cov=None) -> None:
    """Prior density against the posterior of every parameter."""
    fig, axes = _grid(len(priors))
    for j, (p, ax) in enumerate(zip(priors, axes, strict=False)):
        x = np.linspace(p.low, p.high, 200)
        ax.plot(x, p.dist().pdf(x), color="grey", label="prior")
        row = summary.set_index("param").loc[p.name]
        if particles is not None:
            ax.hist(particles[p.name], bins=25, range=(p.low, p.high), weights=weights, density=True, alpha=0.5)
        elif cov is not None and np.isfinite(cov[j, j]) and cov[j, j] > 0:
            ax.plot(x, stats.norm(row["estimate"], math.sqrt(cov[j, j])).pdf(x), color="C0", label="estimate")
        ax.axvspan(row["q05"], row["q95"], color="C1", alpha=0.15, label="90% interval")
        ax.axvline(row["estimate"], color="C1")
        tag = "" if row["identified"] else " (not identified)"
        ax.set_title(f"{p.name}{tag}", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def predictive(path: Path, bands: pd.DataFrame, coverage: pd.DataFrame) -> None:
    """Monthly 90% predictive bands of every observed series with the observed figures."""
    keys = list(bands.groupby(["series", "frame", "kind"], sort=False).groups)
    fig, axes = _grid(len(keys), width=4.0, height=2.7)
    for key, ax in zip(keys, axes, strict=False):
        b = bands[(bands["series"] == key[0]) & (bands["frame"] == key[1]) & (bands["kind"] == key[2])]
        t = pd.to_datetime(b["month"])
        ax.fill_between(t, b["q05"], b["q95"], alpha=0.3, label="90% band")
        ax.plot(t, b["q50"], lw=1, label="median")
        obs = coverage[(coverage["series"] == key[0]) & (coverage["frame"] == key[1]) & (coverage["kind"] == key[2])]
        for r in obs.itertuples():
            when = pd.Timestamp(r.date)
            colour = "k" if r.covered else "red"
            if r.qualifier == "gt":
                ax.plot(when, r.value, marker="^", color=colour, ms=7)
            else:
                ax.errorbar(when, r.value, yerr=r.sd, fmt="o", color=colour, ms=4, capsize=2)
        unit = obs["unit"].iloc[0] if len(obs) else ""
        tag = "" if obs["fitted"].all() else ", check only"
        ax.set_title(f"{key[0]} ({key[1]}, {key[2]}{tag})\n[{unit}]", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="x", rotation=30)
    axes[0].legend(fontsize=7)
    fig.suptitle(
        "Posterior predictive: band and median; observed (black covered, red not; ^ = 'more than')", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def abc_schedule(path: Path, generations: pd.DataFrame) -> None:
    """Epsilon and acceptance rate per ABC generation."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.8))
    a.semilogy(generations["generation"], generations["epsilon"], "o-")
    a.set_xlabel("generation")
    a.set_ylabel("epsilon (distance, sd units)")
    b.semilogy(generations["generation"], generations["acceptance_rate"], "o-", color="C1")
    b.set_xlabel("generation")
    b.set_ylabel("acceptance rate")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def msm_trace(path: Path, evaluations: pd.DataFrame) -> None:
    """The MSM objective at every evaluation, with the best so far."""
    ev = evaluations.dropna(subset=["objective"])
    fig, ax = plt.subplots(figsize=(6, 2.8))
    for stage, g in ev.groupby("stage"):
        ax.semilogy(g["evaluation"], g["objective"], ".", label=stage)
    ax.semilogy(ev["evaluation"], ev["objective"].cummin(), "k-", lw=1, label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("J = r' W r")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
