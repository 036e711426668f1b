"""Figures of a sensitivity study (:mod:`sim.sensitivity`).

Bars of each index with its bootstrap interval per outcome, and Morris
``mu_star`` against ``sigma``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

PANEL_GROUPS = (
    ("targets", "measured value of each target", lambda o, m: m == "mean" and not o.startswith("end_")),
    ("reach", "probability of reaching each target", lambda o, m: m == "reach_share"),
    ("indicators", "end-of-run indicators", lambda o, m: o.startswith("end_")),
)


def _panels(table: pd.DataFrame, keep) -> list[tuple[str, str]]:
    keys = table[["outcome", "measure"]].drop_duplicates()
    return [(o, m) for o, m in keys.itertuples(index=False) if keep(o, m)]


def _grid(n_panels: int, n_inputs: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = min(3, n_panels)
    nrows = math.ceil(n_panels / ncols)
    height = 0.9 + 0.28 * n_inputs
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols + 1.5, height * nrows + 0.8), squeeze=False)
    return plt, fig, axes


def _finish(plt, fig, axes, n_used: int, title: str, path: Path) -> Path:
    for ax in list(axes.flat)[n_used:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_bars(table: pd.DataFrame, method: str, path: str | Path, keep=lambda o, m: True, title: str = "") -> Path:
    """One horizontal bar chart per outcome: Morris ``mu_star`` or Sobol ``S1``/``ST``, with 95% error bars."""
    panels = _panels(table, keep)
    inputs = list(dict.fromkeys(table["input"]))
    plt, fig, axes = _grid(len(panels), len(inputs))
    shown = ("mu_star",) if method == "morris" else ("S1", "ST")
    height = 0.8 / len(shown)
    ypos = np.arange(len(inputs))
    for ax, (outcome, measure) in zip(axes.flat, panels, strict=False):
        sub = table[(table["outcome"] == outcome) & (table["measure"] == measure)]
        for k, index in enumerate(shown):
            s = sub[sub["index"] == index].set_index("input").reindex(inputs)
            ax.barh(ypos + (k - (len(shown) - 1) / 2) * height, s["value"], height, xerr=s["conf"], label=index,
                    capsize=2, error_kw={"linewidth": 0.8})  # fmt: skip
        ax.set_yticks(ypos, inputs, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(outcome + (" (P reach)" if measure == "reach_share" else ""), fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        if method == "sobol":
            ax.legend(fontsize=6, loc="lower right")
    return _finish(plt, fig, axes, len(panels), title or f"{method} sensitivity (95% bootstrap intervals)", Path(path))


def plot_morris(table: pd.DataFrame, path: str | Path, keep=lambda o, m: True, title: str = "") -> Path:
    """One ``mu_star`` vs ``sigma`` scatter per outcome (Morris screening plot)."""
    panels = _panels(table, keep)
    plt, fig, axes = _grid(len(panels), 6)
    for ax, (outcome, measure) in zip(axes.flat, panels, strict=False):
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
        ax.set_title(outcome + (" (P reach)" if measure == "reach_share" else ""), fontsize=8)
    default = (
        "Morris: mean |elementary effect| (mu_star) vs its spread (sigma); above the line = non-linear/interacting"
    )
    return _finish(plt, fig, axes, len(panels), title or default, Path(path))


def write_figures(table: pd.DataFrame, method: str, folder: str | Path) -> list[Path]:
    """Bar charts (and Morris scatter plots) per outcome group into ``folder``."""
    folder, written = Path(folder), []
    for group, words, keep in PANEL_GROUPS:
        if not _panels(table, keep):
            continue
        title = f"{method} sensitivity of the {words} (95% bootstrap intervals)"
        written.append(plot_bars(table, method, folder / f"sensitivity_{group}.png", keep, title))
        if method == "morris":
            written.append(plot_morris(table, folder / f"sensitivity_{group}_mu_sigma.png", keep))
    return written
