"""Fan charts: median and 90% band over replications, month by month, per scenario, with the plan's targets.

The target lines come from the declared targets (:data:`sim.model.targets.TARGETS`):
every stock target draws its threshold on the panel of the monthly column that
measures it, with a diamond where it falls due.

The baseline is drawn last, in black over a grey band, so that it stays visible
on top; the plan's full package is red. With more than :data:`MAX_BANDS`
scenarios only those two keep their bands and the others are thin median lines,
since ten bands on top of each other turn to mud.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from sim.plots import finish, grid, legend_below
from sim.plots.labels import stock_goals

TITLE = "Key indicators over time (line: median replication; band: 90% of replications)"
BASELINE, PACKAGE = "baseline", "full_package"
MAX_BANDS = 4  # above this many scenarios, only the baseline and the full package keep their bands
LABEL_BOX = {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1}
OTHERS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def scenario_styles(names) -> dict:
    """Scenario name -> ``(colour, zorder, band)``: baseline black on top, full package red, the rest tab10."""
    names = list(names)
    many = len(names) > MAX_BANDS
    out, k = {}, 0
    for name in names:
        if name == BASELINE:
            out[name] = ("black", 10, True)
        elif name == PACKAGE:
            out[name] = ("tab:red", 8, True)
        else:
            out[name] = (OTHERS[k % len(OTHERS)], 4, not many)
            k += 1
    return out


def _reps(monthly: pd.DataFrame, group: str) -> str:
    key = "run" if "run" in monthly else "replicate"
    n = monthly.groupby(group)[key].nunique() if key in monthly else pd.Series([0])
    return f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"


def _draw(ax, x, q, name, label, style, band_alpha):
    colour, z, band = style
    if band:
        ax.fill_between(x, q[0.05], q[0.95], color="0.55" if name == BASELINE else colour, alpha=band_alpha,
                        linewidth=0, zorder=z - 1)  # fmt: skip
    width = 2.2 if name == BASELINE else (1.8 if band else 1.0)
    ax.plot(x, q[0.5], color=colour, linewidth=width, label=label, zorder=z)


def fan_chart(monthly: pd.DataFrame, columns, group: str = "scenario", ncols: int = 2, title: str = TITLE, labels=None):
    """One panel per monthly column: median and 90% band per scenario, and the plan's target where it has one.

    Args:
        monthly: one row per run and month (columns ``group``, ``date`` and the metrics).
        columns: ``(column, title)`` pairs; those missing from ``monthly`` are skipped.
        group: the column that names scenarios.
        ncols: panels per row.
        title: the figure's title (the number of replications is added).
        labels: scenario name -> label for the legend (default: the names).

    Returns:
        The figure.
    """
    labels = labels or {}
    panels = [(c, t) for c, t in columns if c in monthly]
    fig, axes = grid(len(panels), ncols, 6.2, 2.9, extra=0.9, sharex=True)
    dates = sorted(monthly["date"].unique())
    x, goals = pd.to_datetime(pd.Series(dates)), stock_goals()
    names = list(dict.fromkeys(monthly[group]))
    styles = scenario_styles(names)
    band_alpha = 0.2 if len(names) <= MAX_BANDS else 0.25
    for ax, (col, panel_title) in zip(axes.flat, panels, strict=False):
        for name, runs in monthly.groupby(group, sort=False):
            q = runs.groupby("date")[col].quantile([0.05, 0.5, 0.95]).unstack().reindex(dates)
            _draw(ax, x, q, name, str(labels.get(name, name)), styles[name], band_alpha)
        if col in goals:
            target_line(ax, goals[col][0], goals[col][1], x)
        _style(ax, panel_title)
    return _finish(fig, axes, f"{title}; {_reps(monthly, group)} replications per scenario", names)


def _finish(fig, axes, title: str, names: list):
    handles, labels = axes.flat[0].get_legend_handles_labels()
    pairs = sorted(zip(handles, labels, strict=True), key=lambda p: -p[0].get_zorder())  # baseline, package, others
    handles, labels = [h for h, _ in pairs], [lab for _, lab in pairs]
    banded = [n for n, (_, _, band) in scenario_styles(names).items() if band]
    note = (
        ""
        if len(banded) == len(names)
        else f" (bands: {' and '.join(n.replace('_', ' ') for n in banded)} only)"
        if banded
        else " (medians only)"
    )
    legend_below(fig, handles, labels, ncol=3, fontsize=9)
    return finish(fig, title + note, legend_inches=0.3 + 0.24 * np.ceil(len(labels) / 3), fontsize=10)


def yearly_signed(monthly: pd.DataFrame, group: str = "scenario", h1: dict | None = None) -> pd.DataFrame:
    """Technology projects signed in each calendar year per run (2016 plus January-June 2016 from ``h1``)."""
    h1 = h1 or {}
    key = "run" if "run" in monthly else "replicate"
    dec = monthly[monthly["date"].astype(str).str.endswith("-12")].copy()
    dec["year"] = dec["date"].astype(str).str[:4].astype(int)
    dec = dec.sort_values([group, key, "year"])
    dec["signed"] = dec.groupby([group, key])["projects_signed_cum"].diff().fillna(dec["projects_signed_cum"])
    first = dec["year"] == dec.groupby([group, key])["year"].transform("min")
    dec.loc[first & (dec["year"] == 2016), "signed"] += dec[group].map(lambda n: h1.get(n, 0.0))
    return dec[[group, key, "year", "signed"]]


def target_fans(monthly: pd.DataFrame, group: str = "scenario", labels=None, h1: dict | None = None):
    """The four headline targets over time: 200 projects a year, 1000 over 2016-2020, 30 listed, 100 bn yuan.

    Projects are read as signed and listings as exchange + NEEQ (the plan's readings, see
    :data:`sim.analysis.report.PLAN_READING`).

    Args:
        monthly: one row per run and month (``group``, ``run``, ``date``, the metrics).
        group: the column that names scenarios.
        labels: scenario name -> label for the legend.
        h1: scenario name -> technology projects signed January-June 2016 (before the run; scaled).

    Returns:
        The figure.
    """
    labels, h1 = labels or {}, h1 or {}
    fig, axes = grid(4, 2, 6.2, 3.0, extra=1.0)
    dates = sorted(monthly["date"].unique())
    x = pd.to_datetime(pd.Series(dates))
    names = list(dict.fromkeys(monthly[group]))
    styles = scenario_styles(names)
    _yearly_panel(axes[0, 0], yearly_signed(monthly, group, h1), group, styles, labels)
    panels = (
        (axes[0, 1], "projects_signed_cum", "technology projects signed since 2016-01 (incl. Jan-Jun record)",
         (1000, 2020), True),
        (axes[1, 0], "listed_exchange_neeq", "listed companies (exchange + NEEQ)", (30, 2020), False),
        (axes[1, 1], "market_value_exchange_neeq_bn_yuan", "market value of listed firms (exchange + NEEQ), bn yuan",
         (100, 2020), False),
    )  # fmt: skip
    key = "run" if "run" in monthly else "replicate"
    for ax, col, panel_title, (goal, year), add_h1 in panels:
        for name, runs in monthly.groupby(group, sort=False):
            if add_h1 and (runs["date"].astype(str) == "2015-12").any():
                # records from history_start (2014-01): count signings from 2016-01 on, per run
                at = runs["date"].astype(str) == "2015-12"
                since = runs[key].map(runs[at].set_index(key)[col])
                runs = runs.assign(**{col: runs[col] - since})
                runs = runs[runs["date"].astype(str) >= "2016-01"]
            q = runs.groupby("date")[col].quantile([0.05, 0.5, 0.95]).unstack().reindex(dates)
            q = q + (h1.get(name, 0.0) if add_h1 else 0.0)
            _draw(ax, x, q, name, str(labels.get(name, name)), styles[name], 0.2)
        target_line(ax, goal, year, x)
        _style(ax, panel_title)
        ax.set_ylim(bottom=0)
    title = "The plan's headline targets (line: median replication; band or whisker: 90% of replications)"
    return _finish(fig, axes, f"{title}; {_reps(monthly, group)} replications per scenario", names)


def _yearly_panel(ax, years: pd.DataFrame, group: str, styles: dict, labels: dict) -> None:
    """Median and 90% whisker of projects signed each year per scenario, side by side, with the 200 line."""
    for i, (name, rows) in enumerate(years.groupby(group, sort=False)):
        q = rows.groupby("year")["signed"].quantile([0.05, 0.5, 0.95]).unstack()
        colour, z, band = styles[name]
        shift = (i - (len(styles) - 1) / 2) * 0.6 / max(len(styles), 1)
        if band:
            ax.vlines(q.index + shift, q[0.05], q[0.95], color=colour, linewidth=1.2, zorder=z)
        ax.plot(q.index + shift, q[0.5], "o-" if band else ".-", color=colour, ms=4, zorder=z,
                linewidth=1.6 if band else 0.8, label=str(labels.get(name, name)))  # fmt: skip
    ax.axhline(200, color="black", linestyle="--", linewidth=0.9)
    where = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(0.01, 200, "target: 200 every year", transform=where, va="bottom", fontsize=8, bbox=LABEL_BOX)
    ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 240))
    ax.set_title("technology projects signed per year (2016 incl. Jan-Jun record)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    ax.set_xticks(sorted(years["year"].unique()))


def target_line(ax, value: float, year: int, x: pd.Series) -> None:
    """The target ``value`` as a dashed line, a diamond where it falls due (end of ``year``) and a label."""
    ax.axhline(value, color="black", linestyle="--", linewidth=0.9)
    due = pd.Timestamp(f"{year}-12-01")
    if x.iloc[0] <= due <= x.iloc[-1]:
        ax.plot(due, value, "D", color="black", ms=5, zorder=12)
    ax.set_ylim(top=max(ax.get_ylim()[1], value * 1.2))
    left = due > x.iloc[len(x) // 2]  # the label goes on the side away from the diamond
    where = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(0.01 if left else 0.99, value, f"target: {value:g} by end {year}", transform=where, va="bottom",
            ha="left" if left else "right", fontsize=8, zorder=11,
            bbox=LABEL_BOX)  # fmt: skip


def _style(ax, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
