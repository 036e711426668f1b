"""Target attainment: the probability of reaching each target, per scenario and definition.

Every function takes :func:`sim.analysis.report.target_table` output (one row per
scenario x target x definition with ``p_reach``, ``p_low``, ``p_high``).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from sim.plots import colour, figure, finish, grid, heatmap
from sim.plots.labels import column_label, definition_text, fmt_pct, target_text

TITLE = "Share of replications that reach each target (whisker: 95% interval)"


def target_chart(table: pd.DataFrame, ncols: int = 3, title: str = TITLE):
    """Bars: share of replications reaching each target, per scenario, one colour per definition; 95% whiskers."""
    table = table.dropna(subset=["p_reach"])
    targets, scen = list(dict.fromkeys(table["target"])), list(dict.fromkeys(table["scenario"]))
    defs = list(dict.fromkeys(table["definition"]))
    colours = {d: colour(i) for i, d in enumerate(defs)}
    most = int(table.groupby("target")["definition"].nunique().max())
    fig, axes = grid(len(targets), ncols, 5.2, 0.9 + 0.2 * len(scen) * most, extra=1.0)
    ncols = axes.shape[1]
    for i, (ax, target) in enumerate(zip(axes.flat, targets, strict=False)):
        sub = table[table["target"] == target]
        mine = list(dict.fromkeys(sub["definition"]))
        for k, d in enumerate(mine):
            _bars(ax, sub[sub["definition"] == d].set_index("scenario").reindex(scen), k, len(mine), colours[d])
        ax.set_yticks(np.arange(len(scen)), scen if i % ncols == 0 else [""] * len(scen), fontsize=8)
        ax.set_ylim(len(scen) - 0.5, -0.5)
        _percent_axis(ax)
        ax.set_title(textwrap.fill(target_text(target), 42), fontsize=9)
    handles = [Patch(color=colours[d], label=definition_text(d)) for d in defs]
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(defs)), fontsize=8, frameon=False,
               title="definition of the target", title_fontsize=8)  # fmt: skip
    return finish(fig, title, legend_inches=0.45 + 0.2 * np.ceil(len(defs) / 5))


def _bars(ax, part: pd.DataFrame, k: int, n: int, colour) -> None:
    """The ``k``-th of ``n`` bars per scenario row: P(reach), its interval and its value in percent."""
    height = 0.8 / n
    y = np.arange(len(part)) - 0.4 + height * (k + 0.5)
    p = part["p_reach"].to_numpy(float)
    err = np.vstack([p - part["p_low"], part["p_high"] - p]).clip(0)
    ax.barh(y, np.nan_to_num(p), height=height * 0.85, color=colour, xerr=np.nan_to_num(err), capsize=2,
            error_kw={"elinewidth": 0.9, "ecolor": "0.25"})  # fmt: skip
    ax.plot(np.nan_to_num(p), y, "o", ms=5, color=colour, markeredgecolor="0.2", markeredgewidth=0.5)
    for yy, pp, hi in zip(y, p, part["p_high"].to_numpy(float), strict=True):
        if np.isfinite(pp):
            ax.text(min(hi, 1.0) + 0.02, yy, fmt_pct(pp), va="center", fontsize=7)


def _percent_axis(ax) -> None:
    ax.set_xlim(-0.04, 1.16)
    ax.set_xticks([0, 0.5, 0.8, 1.0])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.35)


def probability_heatmap(table: pd.DataFrame, label=column_label):
    """Heat map of P(reach) in percent: one row per ``column`` (``target__definition``), one column per scenario.

    Args:
        table: target table with a ``column`` column.
        label: ``column`` -> row label.
    """
    wide = table.pivot(index="column", columns="scenario", values="p_reach")
    wide = wide.reindex(index=table["column"].unique(), columns=table["scenario"].unique())
    values = wide.to_numpy(float)
    fig, ax = heatmap(
        values, [label(c) for c in wide.index], list(wide.columns), size=(8.5, 8), cmap="viridis",
        colorbar="probability of reaching the target",
        title="Probability of reaching each target (percent), by scenario",
    )  # fmt: skip
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=6, color="w" if v < 0.6 else "k")
    fig.tight_layout()
    return fig


def reach_by_scale(table: pd.DataFrame, levels=(0.5, 0.8), label=column_label, min_change: float = 0.05):
    """P(reach) against the scale of a package, one line per ``column`` whose P changes by ``min_change`` or more.

    Args:
        table: target table with ``column`` and ``scale`` columns.
        levels: probabilities drawn as dotted guide lines.
        label: ``column`` -> legend label.
        min_change: flatter lines (always or never reached) are left out.
    """
    fig = figure(8, 5)
    ax = fig.subplots()
    ax.set_prop_cycle(color=[colour(k, "tab20") for k in range(20)])
    for col, g in table.groupby("column", sort=False):
        g = g.sort_values("scale")
        if g["p_reach"].max() - g["p_reach"].min() < min_change:
            continue
        err = [(g["p_reach"] - g["p_low"]).clip(lower=0), (g["p_high"] - g["p_reach"]).clip(lower=0)]
        ax.errorbar(g["scale"], g["p_reach"], yerr=err, marker="o", ms=3, capsize=2, lw=1, label=label(col))
    for level in levels:
        ax.axhline(level, color="grey", ls=":", lw=1)
    ax.set_xlabel("scale of the full package (0 = status quo, 1 = the plan's package)")
    ax.set_ylabel("probability of reaching (95% Wilson interval)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title("Scaling the plan's full package", fontsize=10)
    fig.tight_layout()
    return fig
