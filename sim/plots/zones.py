"""Where firms and talent sit: per zone at the end of the run, per scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.plots import colour, finish, grid, legend_below
from sim.plots.labels import ZONE_WORDS

TITLE = "Where firms and talent sit (bar: median; whisker: 90% of replications)"


def zone_chart(zones: pd.DataFrame, title: str = TITLE):
    """Grouped bars: median firms and talent per zone per scenario; whisker 90% band.

    Args:
        zones: :func:`sim.analysis.compare.zone_table` output
            (``scenario``, ``kind``, ``zone``, ``median``, ``q05``, ``q95``).
        title: the figure's title.
    """
    scen = list(dict.fromkeys(zones["scenario"]))
    zone_names = list(dict.fromkeys(zones["zone"]))
    width = 0.8 / len(scen)
    fig, axes = grid(2, 2, 6, 4.2)
    for ax, kind in zip(axes.flat, ("firms", "talent"), strict=True):
        for k, name in enumerate(scen):
            sub = zones[(zones["kind"] == kind) & (zones["scenario"] == name)].set_index("zone").reindex(zone_names)
            x = np.arange(len(zone_names)) - 0.4 + width * (k + 0.5)
            err = np.vstack([sub["median"] - sub["q05"], sub["q95"] - sub["median"]]).clip(0)
            ax.bar(x, sub["median"], width * 0.9, yerr=err, capsize=2, label=name, color=colour(k),
                   error_kw={"elinewidth": 0.9, "ecolor": "0.25"})  # fmt: skip
        ax.set_xticks(np.arange(len(zone_names)), [f"{z} zone" for z in zone_names])
        ax.set_title(f"{ZONE_WORDS[kind]} in each zone at the end of the run", fontsize=10)
        ax.grid(axis="y", alpha=0.35)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    ncol = 5 if max(map(len, labels), default=0) <= 24 else 3  # long scenario labels: fewer columns, more rows
    legend_below(fig, handles, labels, ncol=ncol)
    rows = int(np.ceil(len(labels) / ncol))
    return finish(fig, title, legend_inches=0.25 + 0.2 * rows, top=0.97)
