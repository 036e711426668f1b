"""Figure of a calibration cross-validation (:mod:`sim.calibration.crossval`).

One panel per parameter: the posterior mean of each synthetic data set against
the truth that made it, with its 90% interval, one colour per method; the
diagonal is perfect recovery and a flat cloud at the prior mean is no
information. The panel title gives each method's coverage, shrinkage and the correlation r of
posterior mean and truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from sim.plots import colour, finish, grid, legend_below


def scatter(fits: pd.DataFrame, table: pd.DataFrame, title: str = ""):
    """Posterior mean vs truth per parameter and method (``fits``: :func:`~sim.calibration.crossval.run_crossval`).

    Returns:
        A matplotlib Figure.
    """
    names = list(dict.fromkeys(fits["param"])) if len(fits) else []
    methods = list(dict.fromkeys(fits["method"])) if len(fits) else []
    fig, axes = grid(max(1, len(names)), 3, 4.0, 4.2, extra=0.9)  # room for a title line per method
    stats = table.set_index(["method", "param"]) if len(table) else None
    for ax, name in zip(axes.flat, names, strict=False):
        lines = []
        for k, method in enumerate(methods):
            g = fits[(fits["param"] == name) & (fits["method"] == method)]
            if g.empty:
                continue
            err = np.vstack([g["mean"] - g["q05"], g["q95"] - g["mean"]]).clip(min=0)
            ax.errorbar(g["truth"], g["mean"], yerr=err, fmt="o", ms=3.5, lw=0.8, alpha=0.8, color=colour(k))
            if stats is not None and (method, name) in stats.index:
                r = stats.loc[(method, name)]
                cover, shrink, corr = r["coverage"], r["shrinkage"], r["corr_mean_truth"]
                lines.append(f"{method}: cover {cover:.2f}, shrink {shrink:.2f}, r {corr:.2f}")
        sub = fits[fits["param"] == name]
        lo = float(min(sub["truth"].min(), sub["q05"].min()))
        hi = float(max(sub["truth"].max(), sub["q95"].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
        ax.set_xlabel(f"true {name}", fontsize=8)
        ax.set_ylabel("posterior mean (90% interval)", fontsize=8)
        ax.set_title(name + "\n" + "\n".join(lines), fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [Line2D([], [], marker="o", ls="", color=colour(k)) for k in range(len(methods))]
    legend_below(fig, handles, methods, ncol=max(1, len(methods)))
    return finish(fig, title or "Cross-validation: posterior mean vs truth", legend_inches=0.5)
