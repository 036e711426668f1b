"""Paired differences: each scenario minus a reference on the same random numbers.

Both functions take :func:`sim.analysis.compare.paired_differences` output (one row per
scenario x measure with ``mean_diff``, ``ci_low``, ``ci_high``, ``kind``,
``reference`` and ``pairs``).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from sim.plots import colour, figure, finish, grid
from sim.plots.labels import measure_text


def difference_chart(diffs: pd.DataFrame):
    """Heat map: change in the probability of reaching each target against the reference, per scenario."""
    sub = diffs[diffs["kind"] == "p_reach"]
    scen, measures = list(dict.fromkeys(sub["scenario"])), list(dict.fromkeys(sub["measure"]))
    grids = {k: sub.pivot(index="measure", columns="scenario", values=k).reindex(index=measures, columns=scen)
             for k in ("mean_diff", "ci_low", "ci_high")}  # fmt: skip
    keep = grids["mean_diff"].notna().any(axis=1)
    mean, low, high = (g[keep].to_numpy(float) for g in grids.values())
    rows = [textwrap.shorten(measure_text(m), 90) for m in np.array(measures)[keep.to_numpy()]]
    fig = figure(5.5 + 1.1 * len(scen), 1.6 + 0.3 * len(rows))
    ax = fig.subplots()
    image = ax.imshow(100 * mean, cmap="RdBu", vmin=-100, vmax=100, aspect="auto")
    for (r, c), m in np.ndenumerate(mean):
        ax.text(c, r, _cell(m, low[r, c], high[r, c]), ha="center", va="center", fontsize=8,
                color="white" if abs(np.nan_to_num(m)) > 0.6 else "k")  # fmt: skip
    ax.set_yticks(np.arange(len(rows)), rows, fontsize=8)
    ax.set_xticks(np.arange(len(scen)), scen, rotation=30, ha="left", rotation_mode="anchor", fontsize=8)
    ax.xaxis.tick_top()
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("change in the chance of reaching (percentage points)", fontsize=8)
    ref, pairs = sub["reference"].iloc[0], int(sub["pairs"].min())
    # a figure title, not the axes' one: tight_layout then keeps it clear of the column labels on top
    return finish(fig, f"Change in the chance of reaching each target vs {ref} (same random numbers, {pairs} pairs)\n"
                  "numbers: percentage points; * = the 95% interval excludes zero", fontsize=9)  # fmt: skip


def _cell(mean: float, low: float, high: float) -> str:
    """A change in percentage points, starred when its interval excludes zero."""
    if not np.isfinite(mean):
        return "n/a"
    sure = np.isfinite(low) and (low > 0 or high < 0)
    return (f"{100 * mean:+.0f}" if round(100 * mean) else "0") + ("*" if sure else "")


def indicator_chart(diffs: pd.DataFrame, order=None, ncols: int = 4):
    """One small panel per end-of-run indicator: paired change against the reference (dot: mean; whisker: 95%).

    ``order`` lists every scenario (reference included) so that colours match the other charts.
    """
    sub = diffs[diffs["kind"] == "value"]
    scen, measures = list(dict.fromkeys(sub["scenario"])), list(dict.fromkeys(sub["measure"]))
    order = list(order or [sub["reference"].iloc[0], *scen])
    fig, axes = grid(len(measures), ncols, 3.9, 1.0 + 0.3 * len(scen), extra=0.8)
    ncols = axes.shape[1]
    for i, (ax, measure) in enumerate(zip(axes.flat, measures, strict=False)):
        part = sub[sub["measure"] == measure].set_index("scenario").reindex(scen)
        err = np.vstack([part["mean_diff"] - part["ci_low"], part["ci_high"] - part["mean_diff"]])
        for k in range(len(scen)):
            ax.errorbar(part["mean_diff"].iloc[k], k, xerr=np.nan_to_num(err[:, k : k + 1]).clip(0), fmt="o", ms=4,
                        capsize=2, color=colour(order.index(scen[k])))  # fmt: skip
        reach = np.nanmax(np.abs(part[["mean_diff", "ci_low", "ci_high"]].to_numpy(float)), initial=0.0)
        ax.set_xlim(-1.15 * (reach or 1.0), 1.15 * (reach or 1.0))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(np.arange(len(scen)), scen if i % ncols == 0 else [""] * len(scen), fontsize=8)
        ax.set_ylim(len(scen) - 0.5, -0.5)
        ax.set_title(textwrap.fill(measure_text(measure), 34), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.35)
    title = (
        f"End of the run: change against {sub['reference'].iloc[0]} on the same random numbers "
        "(dot: mean of the pairs; whisker: 95% interval; in the indicator's own unit)"
    )
    return finish(fig, title, fontsize=10, top=0.97)
