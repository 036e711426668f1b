"""The Pareto front of a robust package search: planned cost against the probability of reaching.

:func:`pareto_chart` takes a :class:`sim.analysis.robust.SearchResult` (its ``front`` table with
``planned_cost_myuan`` and ``p_reach``, and its ``choices``).
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.ticker import PercentFormatter

from sim.plots import colour, figure, finish
from sim.plots.labels import target_text


def pareto_chart(result, width: float = 6.4, height: float = 4.2):
    """Front of (cost, P on the shared combinations) packages, the thresholds and the chosen packages.

    A chosen package that was confirmed also shows its confirmation P with the 95% Wilson interval.
    """
    from sim.analysis.robust import COST, P_REACH

    front = result.front.sort_values(COST)
    fig = figure(width, height)
    ax = fig.subplots()
    ax.step(front[COST], front[P_REACH], where="post", color=colour(0), alpha=0.5)
    ax.plot(front[COST], front[P_REACH], "o", color=colour(0), label="front (P on the shared combinations)")
    for k, choice in enumerate(result.choices):
        c = colour(k + 1)
        ax.axhline(choice.threshold, color=c, linestyle=":", linewidth=1)
        marker = "*" if choice.reachable else "x"
        text = f"P >= {choice.threshold:.0%}: {choice.cost_myuan:,.0f} m yuan" if choice.reachable else (
            f"P >= {choice.threshold:.0%}: not reached (best {choice.p_shared:.0%})")  # fmt: skip
        ax.plot([choice.cost_myuan], [choice.p_shared], marker, color=c, markersize=12, label=text)
        if choice.confirm and np.isfinite(choice.confirm["p"]):
            conf = choice.confirm
            ax.errorbar([choice.cost_myuan], [conf["p"]], yerr=[[conf["p"] - conf["low"]], [conf["high"] - conf["p"]]],
                        fmt="s", color=c, capsize=3, markersize=5,
                        label=f"confirmed: {conf['p']:.0%} of {conf['n']} fresh runs (95%)")  # fmt: skip
    ax.set_xlabel("planned cost of the package (m yuan)")
    ax.set_ylabel("probability of reaching")
    ax.set_ylim(-0.03, 1.03)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    s = result.settings
    title = (f"{textwrap.shorten(target_text(result.target), 70)} ({result.definition})\n"
             f"cheapest robust packages: nfe {s['nfe']}, {s['deep']} deep points x {s['reps']} draw-seeds")  # fmt: skip
    return finish(fig, title, fontsize=9)
