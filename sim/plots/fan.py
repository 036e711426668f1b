"""Fan charts: median and 90% band over replications, month by month, per scenario, with the plan's targets.

The target lines come from the declared targets (:data:`sim.model.targets.TARGETS`):
every stock target draws its threshold on the panel of the monthly column that
measures it, with a diamond where it falls due.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from sim.plots import colour, finish, grid, legend_below
from sim.plots.labels import stock_goals

TITLE = "Key indicators over time (line: median replication; band: 90% of replications)"


def fan_chart(monthly: pd.DataFrame, columns, group: str = "scenario", ncols: int = 2, title: str = TITLE):
    """One panel per monthly column: median and 90% band per scenario, and the plan's target where it has one.

    Args:
        monthly: one row per run and month (columns ``group``, ``date`` and the metrics).
        columns: ``(column, title)`` pairs; those missing from ``monthly`` are skipped.
        group: the column that names scenarios.
        ncols: panels per row.
        title: the figure's title.

    Returns:
        The figure.
    """
    panels = [(c, t) for c, t in columns if c in monthly]
    fig, axes = grid(len(panels), ncols, 6.2, 2.9, extra=0.9, sharex=True)
    dates = sorted(monthly["date"].unique())
    x, goals = pd.to_datetime(pd.Series(dates)), stock_goals()
    band_alpha = 0.18 if monthly[group].nunique() <= 4 else 0.07  # many bands on top of each other turn to mud
    for ax, (col, panel_title) in zip(axes.flat, panels, strict=False):
        for k, (name, runs) in enumerate(monthly.groupby(group, sort=False)):
            q = runs.groupby("date")[col].quantile([0.05, 0.5, 0.95]).unstack().reindex(dates)
            ax.fill_between(x, q[0.05], q[0.95], color=colour(k), alpha=band_alpha, linewidth=0)
            ax.plot(x, q[0.5], color=colour(k), linewidth=1.6, label=str(name))
        if col in goals:
            target_line(ax, goals[col][0], goals[col][1], x)
        _style(ax, panel_title)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    legend_below(fig, handles, labels, fontsize=9)
    return finish(fig, title, legend_inches=0.3 + 0.22 * np.ceil(len(labels) / 5))


def target_line(ax, value: float, year: int, x: pd.Series) -> None:
    """The target ``value`` as a dashed line, a diamond where it falls due (end of ``year``) and a label."""
    ax.axhline(value, color="black", linestyle="--", linewidth=0.9)
    due = pd.Timestamp(f"{year}-12-01")
    if x.iloc[0] <= due <= x.iloc[-1]:
        ax.plot(due, value, "D", color="black", ms=5, zorder=6)
    ax.set_ylim(top=max(ax.get_ylim()[1], value * 1.2))
    left = due > x.iloc[len(x) // 2]  # the label goes on the side away from the diamond
    where = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(0.01 if left else 0.99, value, f"target: {value:g} by end {year}", transform=where, va="bottom",
            ha="left" if left else "right", fontsize=8, zorder=5,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1})  # fmt: skip


def _style(ax, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
