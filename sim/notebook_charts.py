"""Figures of the scenario comparison notebook (``results/compare_scenarios.ipynb``).

Each function takes a table of :func:`sim.notebook.load_comparison` and returns
a matplotlib figure for :func:`sim.notebook.show`. Labels use the plan's wording
of the targets and plain words for their definitions; every figure says in its
title what its marks mean. No model logic: only stored numbers are drawn.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from sim.notebook import FANS, ZONE_WORDS, definition_text, fmt_pct, measure_text, pyplot, stock_goals, target_text


def target_chart(table: pd.DataFrame, ncols: int = 3):
    """Bars: share of replications reaching each target, per scenario, one colour per definition; 95% whiskers."""
    plt = pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    table = table.dropna(subset=["p_reach"])
    targets, scen = list(dict.fromkeys(table["target"])), list(dict.fromkeys(table["scenario"]))
    defs, ncols = list(dict.fromkeys(table["definition"])), min(ncols, len(targets))
    colour = {d: plt.get_cmap("tab10")(i % 10) for i, d in enumerate(defs)}
    nrows = int(np.ceil(len(targets) / ncols))
    most = int(table.groupby("target")["definition"].nunique().max())
    panel_h = 0.9 + 0.2 * len(scen) * most
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, panel_h * nrows + 1.0), squeeze=False)
    for i, (ax, target) in enumerate(zip(axes.flat, targets, strict=False)):
        sub = table[table["target"] == target]
        mine = list(dict.fromkeys(sub["definition"]))
        height = 0.8 / len(mine)
        for k, d in enumerate(mine):
            part = sub[sub["definition"] == d].set_index("scenario").reindex(scen)
            y = np.arange(len(scen)) - 0.4 + height * (k + 0.5)
            p = part["p_reach"].to_numpy(float)
            err = np.vstack([p - part["p_low"], part["p_high"] - p]).clip(0)
            ax.barh(y, np.nan_to_num(p), height=height * 0.85, color=colour[d], xerr=np.nan_to_num(err), capsize=2,
                    error_kw={"elinewidth": 0.9, "ecolor": "0.25"})  # fmt: skip
            ax.plot(np.nan_to_num(p), y, "o", ms=5, color=colour[d], markeredgecolor="0.2", markeredgewidth=0.5)
            for yy, pp, hi in zip(y, p, part["p_high"].to_numpy(float), strict=True):
                if np.isfinite(pp):
                    ax.text(min(hi, 1.0) + 0.02, yy, fmt_pct(pp), va="center", fontsize=7)
        ax.set_yticks(np.arange(len(scen)), scen if i % ncols == 0 else [""] * len(scen), fontsize=8)
        ax.set_ylim(len(scen) - 0.5, -0.5)
        ax.set_xlim(-0.04, 1.16)
        ax.set_xticks([0, 0.5, 0.8, 1.0])
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.35)
        ax.set_title(textwrap.fill(target_text(target), 42), fontsize=9)
    for ax in list(axes.flat)[len(targets) :]:
        ax.axis("off")
    handles = [Patch(color=colour[d], label=definition_text(d)) for d in defs]
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(defs)), fontsize=8, frameon=False,
               title="definition of the target", title_fontsize=8)  # fmt: skip
    fig.suptitle("Share of replications that reach each target (whisker: 95% interval)", fontsize=11)
    legend_in = 0.45 + 0.2 * np.ceil(len(defs) / 5)
    fig.tight_layout(rect=(0, legend_in / (panel_h * nrows + 1.0), 1, 0.98))
    return fig


def fan_chart(monthly: pd.DataFrame, ncols: int = 2):
    """Median and 90% band over time per scenario of the key indicators, with the plan's targets (diamond: due)."""
    plt = pyplot()
    import matplotlib.dates as mdates
    from matplotlib.transforms import blended_transform_factory

    panels = [(c, t) for c, t in FANS if c in monthly]
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 2.9 * nrows + 0.9), squeeze=False, sharex=True)
    dates = sorted(monthly["date"].unique())
    x, goals = pd.to_datetime(pd.Series(dates)), stock_goals()
    band_alpha = 0.18 if monthly["scenario"].nunique() <= 4 else 0.07  # many bands on top of each other turn to mud
    for ax, (col, title) in zip(axes.flat, panels, strict=False):
        for k, (name, runs) in enumerate(monthly.groupby("scenario", sort=False)):
            q = runs.groupby("date")[col].quantile([0.05, 0.5, 0.95]).unstack().reindex(dates)
            colour = plt.get_cmap("tab10")(k % 10)
            ax.fill_between(x, q[0.05], q[0.95], color=colour, alpha=band_alpha, linewidth=0)
            ax.plot(x, q[0.5], color=colour, linewidth=1.6, label=name)
        if col in goals:
            value, year, _d = goals[col]
            ax.axhline(value, color="black", linestyle="--", linewidth=0.9)
            due = pd.Timestamp(f"{year}-12-01")
            ax.plot(due, value, "D", color="black", ms=5, zorder=6) if x.iloc[0] <= due <= x.iloc[-1] else None
            ax.set_ylim(top=max(ax.get_ylim()[1], value * 1.2))
            left = due > x.iloc[len(x) // 2]  # the label goes on the side away from the diamond
            where = blended_transform_factory(ax.transAxes, ax.transData)
            ax.text(0.01 if left else 0.99, value, f"target: {value:g} by end {year}", transform=where, va="bottom",
                    ha="left" if left else "right", fontsize=8, zorder=5,
                    bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1})  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=9, frameon=False)
    fig.suptitle("Key indicators over time (line: median replication; band: 90% of replications)", fontsize=11)
    legend_in = 0.3 + 0.22 * np.ceil(len(labels) / 5)
    fig.tight_layout(rect=(0, legend_in / (2.9 * nrows + 0.9), 1, 0.98))
    return fig


def zone_chart(zones: pd.DataFrame):
    """Grouped bars: median firms and talent per zone at the end of the run, per scenario; whisker 90% band."""
    plt = pyplot()
    scen = list(dict.fromkeys(zones["scenario"]))
    zone_names = list(dict.fromkeys(zones["zone"]))
    width = 0.8 / len(scen)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), squeeze=False)
    for ax, kind in zip(axes.flat, ("firms", "talent"), strict=True):
        for k, name in enumerate(scen):
            sub = zones[(zones["kind"] == kind) & (zones["scenario"] == name)].set_index("zone").reindex(zone_names)
            x = np.arange(len(zone_names)) - 0.4 + width * (k + 0.5)
            err = np.vstack([sub["median"] - sub["q05"], sub["q95"] - sub["median"]]).clip(0)
            ax.bar(x, sub["median"], width * 0.9, yerr=err, capsize=2, label=name, color=plt.get_cmap("tab10")(k % 10),
                   error_kw={"elinewidth": 0.9, "ecolor": "0.25"})  # fmt: skip
        ax.set_xticks(np.arange(len(zone_names)), [f"{z} zone" for z in zone_names])
        ax.set_title(f"{ZONE_WORDS[kind]} in each zone at the end of the run", fontsize=10)
        ax.grid(axis="y", alpha=0.35)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.suptitle("Where firms and talent sit (bar: median; whisker: 90% of replications)", fontsize=11)
    fig.tight_layout(rect=(0, 0.08 + 0.05 * (len(labels) > 5), 1, 0.97))
    return fig


def difference_chart(diffs: pd.DataFrame):
    """Heat map: change in the probability of reaching each target against the reference, per scenario."""
    plt = pyplot()
    sub = diffs[diffs["kind"] == "p_reach"]
    scen, measures = list(dict.fromkeys(sub["scenario"])), list(dict.fromkeys(sub["measure"]))
    grid = {k: sub.pivot(index="measure", columns="scenario", values=k).reindex(index=measures, columns=scen)
            for k in ("mean_diff", "ci_low", "ci_high")}  # fmt: skip
    keep = grid["mean_diff"].notna().any(axis=1)
    mean, low, high = (g[keep].to_numpy(float) for g in grid.values())
    rows = [textwrap.shorten(measure_text(m), 90) for m in np.array(measures)[keep.to_numpy()]]
    fig, ax = plt.subplots(figsize=(5.5 + 1.1 * len(scen), 1.6 + 0.3 * len(rows)))
    image = ax.imshow(100 * mean, cmap="RdBu", vmin=-100, vmax=100, aspect="auto")
    for (r, c), m in np.ndenumerate(mean):
        sure = np.isfinite(low[r, c]) and (low[r, c] > 0 or high[r, c] < 0)
        text = "n/a" if not np.isfinite(m) else (f"{100 * m:+.0f}" if round(100 * m) else "0") + ("*" if sure else "")
        ax.text(c, r, text, ha="center", va="center", fontsize=8, color="white" if abs(np.nan_to_num(m)) > 0.6 else "k")
    ax.set_yticks(np.arange(len(rows)), rows, fontsize=8)
    ax.set_xticks(np.arange(len(scen)), scen, rotation=30, ha="right", fontsize=8)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labelrotation=30)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("change in the chance of reaching (percentage points)", fontsize=8)
    ref, pairs = sub["reference"].iloc[0], int(sub["pairs"].min())
    ax.set_title(f"Change in the chance of reaching each target vs {ref} (same random numbers, {pairs} pairs)\n"
                 "numbers: percentage points; * = the 95% interval excludes zero", fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def indicator_chart(diffs: pd.DataFrame, order=None, ncols: int = 4):
    """One small panel per end-of-run indicator: paired change against the reference (dot: mean; whisker: 95%).

    ``order`` lists every scenario (reference included) so that colours match the other charts.
    """
    plt = pyplot()
    sub = diffs[diffs["kind"] == "value"]
    scen, measures = list(dict.fromkeys(sub["scenario"])), list(dict.fromkeys(sub["measure"]))
    order = list(order or [sub["reference"].iloc[0], *scen])
    nrows = int(np.ceil(len(measures) / ncols))
    panel_h = 1.0 + 0.3 * len(scen)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.9 * ncols, panel_h * nrows + 0.8), squeeze=False)
    for i, (ax, measure) in enumerate(zip(axes.flat, measures, strict=False)):
        part = sub[sub["measure"] == measure].set_index("scenario").reindex(scen)
        err = np.vstack([part["mean_diff"] - part["ci_low"], part["ci_high"] - part["mean_diff"]])
        for k in range(len(scen)):
            ax.errorbar(part["mean_diff"].iloc[k], k, xerr=np.nan_to_num(err[:, k : k + 1]).clip(0), fmt="o", ms=4,
                        capsize=2, color=plt.get_cmap("tab10")(order.index(scen[k]) % 10))  # fmt: skip
        reach = np.nanmax(np.abs(part[["mean_diff", "ci_low", "ci_high"]].to_numpy(float)), initial=0.0)
        ax.set_xlim(-1.15 * (reach or 1.0), 1.15 * (reach or 1.0))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(np.arange(len(scen)), scen if i % ncols == 0 else [""] * len(scen), fontsize=8)
        ax.set_ylim(len(scen) - 0.5, -0.5)
        ax.set_title(textwrap.fill(measure_text(measure), 34), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.35)
    for ax in list(axes.flat)[len(measures) :]:
        ax.axis("off")
    fig.suptitle(
        f"End of the run: change against {sub['reference'].iloc[0]} on the same random numbers "
        "(dot: mean of the pairs; whisker: 95% interval; in the indicator's own unit)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig
