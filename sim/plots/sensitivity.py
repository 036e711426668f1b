"""Figures of a sensitivity study (:mod:`sim.analysis.sensitivity`).

Bars of each index with its bootstrap interval per outcome, Morris ``mu_star``
against ``sigma``, and a heat map of ``mu_star`` over many outcomes. Tables are
the long index tables of :mod:`sim.analysis.sensitivity` (``input``, ``outcome``,
``measure``, ``index``, ``value``, ``conf``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.plots import finish, grid, heatmap, save
from sim.plots.labels import column_label

PANEL_GROUPS = (
    ("targets", "measured value of each target", lambda o, m: m == "mean" and not o.startswith("end_")),
    ("reach", "probability of reaching each target", lambda o, m: m == "reach_share"),
    ("indicators", "end-of-run indicators", lambda o, m: o.startswith("end_")),
)
MORRIS_TITLE = (
    "Morris: mean |elementary effect| (mu_star) vs its spread (sigma); above the line = non-linear/interacting"
)


def panels(table: pd.DataFrame, keep=lambda o, m: True) -> list[tuple[str, str]]:
    """The ``(outcome, measure)`` pairs of ``table`` that ``keep(outcome, measure)`` accepts, in order."""
    keys = table[["outcome", "measure"]].drop_duplicates()
    return [(o, m) for o, m in keys.itertuples(index=False) if keep(o, m)]


def _grid(n_panels: int, n_inputs: int):
    return grid(n_panels, 3, 4.6, 0.9 + 0.28 * n_inputs, extra=0.8)


def _panel_title(outcome: str, measure: str) -> str:
    return outcome + (" (P reach)" if measure == "reach_share" else "")


def bars(table: pd.DataFrame, method: str, keep=lambda o, m: True, title: str = ""):
    """One horizontal bar chart per outcome: Morris ``mu_star`` or Sobol ``S1``/``ST``, with 95% error bars."""
    chosen = panels(table, keep)
    inputs = list(dict.fromkeys(table["input"]))
    fig, axes = _grid(len(chosen), len(inputs))
    fig.set_figwidth(fig.get_figwidth() + 1.5)
    shown = ("mu_star",) if method == "morris" else ("S1", "ST")
    height = 0.8 / len(shown)
    ypos = np.arange(len(inputs))
    for ax, (outcome, measure) in zip(axes.flat, chosen, strict=False):
        sub = table[(table["outcome"] == outcome) & (table["measure"] == measure)]
        for k, index in enumerate(shown):
            s = sub[sub["index"] == index].set_index("input").reindex(inputs)
            ax.barh(ypos + (k - (len(shown) - 1) / 2) * height, s["value"], height, xerr=s["conf"], label=index,
                    capsize=2, error_kw={"linewidth": 0.8})  # fmt: skip
        ax.set_yticks(ypos, inputs, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(_panel_title(outcome, measure), fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        if method == "sobol":
            ax.legend(fontsize=6, loc="lower right")
    return finish(fig, title or f"{method} sensitivity (95% bootstrap intervals)")


def morris_scatter(table: pd.DataFrame, keep=lambda o, m: True, title: str = MORRIS_TITLE):
    """One ``mu_star`` vs ``sigma`` scatter per outcome (Morris screening plot)."""
    chosen = panels(table, keep)
    fig, axes = _grid(len(chosen), 6)
    fig.set_figwidth(fig.get_figwidth() + 1.5)
    for ax, (outcome, measure) in zip(axes.flat, chosen, strict=False):
        sub = table[(table["outcome"] == outcome) & (table["measure"] == measure)]
        wide = sub.pivot(index="input", columns="index", values="value")
        ax.scatter(wide["mu_star"], wide["sigma"], s=14)
        for name, r in wide.iterrows():
            ax.annotate(name, (r["mu_star"], r["sigma"]), fontsize=6, xytext=(2, 2), textcoords="offset points")
        top = float(np.nanmax([wide["mu_star"].max(), wide["sigma"].max(), 0.0])) or 1.0
        ax.plot([0, top], [0, top], color="grey", linewidth=0.7, linestyle="--")
        ax.margins(x=0.3, y=0.1)
        ax.set_xlabel("mu_star", fontsize=7)
        ax.set_ylabel("sigma", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_title(_panel_title(outcome, measure), fontsize=8)
    return finish(fig, title)


def morris_heatmap(mu: pd.DataFrame, outcomes: list[str], label=column_label):
    """Heat map of ``mu_star`` on the measured value of ``outcomes``, normalised per outcome, inputs by mean effect.

    Args:
        mu: the ``mu_star`` rows of an index table.
        outcomes: the outcome columns, in the order shown (those without indices are skipped).
        label: outcome -> column label.
    """
    value = mu[(mu["measure"] == "mean") & mu["outcome"].isin(outcomes)]
    wide = value.pivot(index="input", columns="outcome", values="value")
    wide = wide.reindex(columns=[c for c in outcomes if c in wide.columns])
    wide = wide / wide.max(axis=0)
    wide = wide.loc[wide.mean(axis=1).sort_values(ascending=False).index]
    fig, _ = heatmap(
        wide.to_numpy(float), list(wide.index), [label(c) for c in wide.columns], size=(9, 6), cmap="magma_r",
        colorbar="mu* / largest mu* of the target",
        title="Morris screening: which levers move each target (measured value)",
        column_style={"rotation": 60, "ha": "right", "fontsize": 6},
    )  # fmt: skip
    fig.tight_layout()
    return fig


def write_figures(table: pd.DataFrame, method: str, folder: str | Path) -> list[Path]:
    """Bar charts (and Morris scatter plots) per outcome group into ``folder``."""
    folder, written = Path(folder), []
    for group, words, keep in PANEL_GROUPS:
        if not panels(table, keep):
            continue
        title = f"{method} sensitivity of the {words} (95% bootstrap intervals)"
        written.append(save(bars(table, method, keep, title), folder / f"sensitivity_{group}.png"))
        if method == "morris":
            written.append(save(morris_scatter(table, keep), folder / f"sensitivity_{group}_mu_sigma.png"))
    return written
