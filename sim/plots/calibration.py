"""Figures of a calibration job: what the data taught, how well the fitted model reproduces the park's history.

* :func:`prior_posterior`: each fitted parameter's prior density against its
  posterior (a histogram of draws, weighted for ABC populations, or the MSM
  estimate's normal approximation), with the estimate and both 90% intervals;
* :func:`predictive`: per observed series, the fitted model's monthly 90% band
  and median against the published figures (points with one sd; lower bounds
  as upward triangles; red when outside the band);
* :func:`abc_schedule`: epsilon and acceptance rate per ABC generation;
* :func:`msm_trace`: the MSM objective at every evaluation.

The tables are those of :mod:`sim.calibration.fitted` (``summary.csv``,
``predictive.csv``, ``predictive_bands.csv``).
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from sim.plots import figure, finish, grid, legend_below

WORDS = {
    "100m_yuan": "100 m yuan",
    "pct_per_year": "% per year",
    "flow_year": "yearly flow",
    "flow_quarter": "quarterly flow",
    "rate": "growth rate",
    "cip": "China-Israel park",
    "park": "whole park",
}
TOKENS = {"neeq": "NEEQ", "q1": "(Q1)", "israeli": "Israeli"}
MIN_WIDTH = 10.0  # inches


def words(code: str) -> str:
    """A unit, kind, frame or series code of the history table in words."""
    if code in WORDS:
        return WORDS[code]
    return " ".join(TOKENS.get(part, part) for part in str(code).split("_"))


def param_label(name: str, width: int = 52) -> str:
    """A parameter in words: its declared one-line meaning, shortened to ``width`` (the name when undeclared)."""
    from sim.model.params import PARAMS

    doc = getattr(PARAMS.get(name), "doc", "") or name
    return textwrap.shorten(doc[:1].upper() + doc[1:], width, placeholder="...")


def narrowing_words(narrowing: float) -> str:
    """``0.62`` -> "interval 62% narrower than the prior's"; a negative value is a wider interval."""
    if narrowing is None or not np.isfinite(narrowing):
        return "interval width vs the prior's unknown"
    return f"interval {abs(narrowing):.0%} {'narrower' if narrowing >= 0 else 'wider'} than the prior's"


def prior_posterior(summary: pd.DataFrame, priors, draws=None, weights=None, cov=None, ncols: int = 3):
    """Per parameter: prior density, posterior, estimate, and both 90% intervals as bars on top.

    Args:
        summary: one row per parameter (``param``, ``estimate``, ``q05``, ``q95``, ``prior_q05``,
            ``prior_q95``, ``narrowing``, ``identified``).
        priors: the job's priors, by name (dict) or in order; ``{}`` draws no prior density.
        draws: posterior draws, one column per parameter (an ABC population or resampled draws).
        weights: weights of ``draws`` (ABC particles).
        cov: covariance of the estimate (MSM), used when there are no draws.
        ncols: panels per row.
    """
    priors = priors if isinstance(priors, dict) else {p.name: p for p in priors}
    rows = list(summary.itertuples())
    fig, axes = grid(len(rows), ncols, 4.6, 3.0, extra=0.8)
    fig.set_figwidth(max(fig.get_figwidth(), MIN_WIDTH))  # room for the title and the legend with few panels
    for j, (ax, r) in enumerate(zip(axes.flat, rows, strict=False)):
        _posterior_panel(ax, r, priors.get(r.param), draws, weights, _sd(cov, j))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    legend_below(fig, handles, labels, ncol=len(labels), fontsize=9)
    return finish(fig, "What the data taught us: prior against posterior for each fitted parameter", 0.5)


def _sd(cov, j: int) -> float | None:
    if cov is None or not np.isfinite(cov[j, j]) or cov[j, j] <= 0:
        return None
    return math.sqrt(cov[j, j])


def _posterior_panel(ax, r, prior, draws, weights, sd: float | None) -> None:
    lo, hi = (prior.low, prior.high) if prior else (min(r.prior_q05, r.q05), max(r.prior_q95, r.q95))
    x = np.linspace(lo, hi, 300)
    if draws is not None and r.param in draws:
        ax.hist(draws[r.param], bins=25, range=(lo, hi), weights=weights, density=True, color="C0", alpha=0.5,
                label="posterior (draws)")  # fmt: skip
    elif sd is not None:
        ax.plot(x, stats.norm(r.estimate, sd).pdf(x), color="C0", linewidth=1.4, label="posterior (normal approx.)")
    if prior:
        ax.plot(x, prior.dist().pdf(x), color="0.3", linewidth=1.4, label="prior")
    ax.axvline(r.estimate, color="C1", linewidth=1.6, label="estimate")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot([r.prior_q05, r.prior_q95], [0.94, 0.94], color="0.45", linewidth=4, transform=top, label="prior 90%")
    ax.plot([r.q05, r.q95], [0.87, 0.87], color="C1", linewidth=4, transform=top, label="posterior 90%")
    verdict = "identified" if r.identified else "not identified"
    ax.set_title(f"{param_label(r.param)}\n{verdict}: {narrowing_words(r.narrowing)}", fontsize=9)
    ax.set_xlabel(r.param, fontsize=7, color="0.35")  # the name a job file or scenario uses
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=8)


def _predictive_legend() -> list:
    return [
        Rectangle((0, 0), 1, 1, color="C0", alpha=0.25, label="model: 90% band"),
        Line2D([], [], color="C0", label="model: median"),
        Line2D([], [], marker="o", color="k", linestyle="none", label="park figure inside the band (whisker: 1 sd)"),
        Line2D([], [], marker="o", color="red", linestyle="none", label="park figure outside the band"),
        Line2D([], [], marker="^", color="k", linestyle="none", label="'more than' figure (lower bound)"),
    ]


def predictive(bands: pd.DataFrame, coverage: pd.DataFrame, ncols: int = 3):
    """Per observed series: the fitted model's 90% band and median over time, with the park's figures."""
    keys = list(dict.fromkeys(zip(bands["series"], bands["frame"], bands["kind"], strict=True)))
    fig, axes = grid(len(keys), ncols, 4.8, 3.0, extra=0.9)
    fig.set_figwidth(max(fig.get_figwidth(), MIN_WIDTH))
    for ax, key in zip(axes.flat, keys, strict=False):
        _predictive_panel(ax, _rows(bands, key), _rows(coverage, key), key)
    fig.legend(handles=_predictive_legend(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    return finish(fig, "Posterior predictive check: the fitted model against the park's history", 0.75)


def _rows(table: pd.DataFrame, key: tuple) -> pd.DataFrame:
    return table[(table["series"] == key[0]) & (table["frame"] == key[1]) & (table["kind"] == key[2])]


def _predictive_panel(ax, band: pd.DataFrame, obs: pd.DataFrame, key: tuple) -> None:
    t = pd.to_datetime(band["month"])
    # counts (firms, projects) and amounts cannot be negative: their bands and whiskers stop at zero instead of
    # promising negative firms; growth rates can be negative and are left alone
    floor = 0.0 if key[2] != "rate" else -np.inf
    ax.fill_between(t, band["q05"].clip(lower=floor), band["q95"], color="C0", alpha=0.25, linewidth=0)
    ax.plot(t, band["q50"], color="C0", linewidth=1.2)
    for r in obs.itertuples():
        colour, when = ("k" if r.covered else "red"), pd.Timestamp(r.date)
        if r.qualifier == "gt":
            ax.plot(when, r.value, marker="^", color=colour, ms=7, linestyle="none")
        else:
            low = min(r.sd, max(r.value - floor, 0.0)) if np.isfinite(r.sd) else r.sd
            ax.errorbar(when, r.value, yerr=[[low], [r.sd]], fmt="o", color=colour, ms=4, capsize=2)
    unit = obs["unit"].iloc[0] if len(obs) else ""
    check = "" if obs["fitted"].all() else "; check only, not fitted"
    ax.set_title(f"{words(key[0])}\n{words(key[1])}, {words(key[2])}{check}", fontsize=9)
    ax.set_ylabel(words(unit), fontsize=8)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)


def abc_schedule(generations: pd.DataFrame):
    """Epsilon and acceptance rate per ABC generation."""
    fig = figure(8, 2.8)
    a, b = fig.subplots(1, 2)
    a.semilogy(generations["generation"], generations["epsilon"], "o-")
    a.set_xlabel("generation")
    a.set_ylabel("epsilon (distance, sd units)")
    b.semilogy(generations["generation"], generations["acceptance_rate"], "o-", color="C1")
    b.set_xlabel("generation")
    b.set_ylabel("acceptance rate")
    fig.tight_layout()
    return fig


def msm_trace(evaluations: pd.DataFrame):
    """The MSM objective at every evaluation, with the best so far."""
    ev = evaluations.dropna(subset=["objective"])
    fig = figure(6, 2.8)
    ax = fig.subplots()
    for stage, g in ev.groupby("stage"):
        ax.semilogy(g["evaluation"], g["objective"], ".", label=stage)
    ax.semilogy(ev["evaluation"], ev["objective"].cummin(), "k-", lw=1, label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("J = r' W r")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
