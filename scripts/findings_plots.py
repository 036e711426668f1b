"""Figures of docs/findings.md (used by write_findings.py); each is saved small (dpi 80)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = (0.5, 0.8)


def _agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


_agg()


def label(col: str) -> str:
    """``target__definition`` -> ``target (definition)``."""
    t, d = col.split("__")
    return f"{t} ({d})"


def scale_of(name: str) -> float:
    """``scale_075`` -> 0.75."""
    return int(name.rsplit("_", 1)[1]) / 100


def plot_probabilities(table: pd.DataFrame, path: Path) -> Path:
    """Heat map: P(reach) per scenario and target definition."""
    import matplotlib.pyplot as plt

    wide = table.pivot(index="column", columns="scenario", values="p_reach")
    wide = wide.reindex(index=table["column"].unique(), columns=table["scenario"].unique())
    fig, ax = plt.subplots(figsize=(8.5, 8))
    im = ax.imshow(wide.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(wide.shape[1]), wide.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(wide.shape[0]), [label(c) for c in wide.index], fontsize=7)
    for (i, j), v in np.ndenumerate(wide.to_numpy(float)):
        ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=6, color="w" if v < 0.6 else "k")
    fig.colorbar(im, ax=ax, label="probability of reaching the target", shrink=0.6)
    ax.set_title("Probability of reaching each target (percent), by scenario", fontsize=10)
    return save(fig, path)


def save(fig, path: Path) -> Path:
    """Save a figure small (dpi 80) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_morris(mu: pd.DataFrame, path: Path, target_order: list[str]) -> Path:
    """Heat map of mu_star on the measured value, normalised per target definition."""
    import matplotlib.pyplot as plt

    value = mu[(mu["measure"] == "mean") & mu["outcome"].isin(target_order)]
    wide = value.pivot(index="input", columns="outcome", values="value")
    wide = wide.reindex(columns=[c for c in target_order if c in wide.columns])
    wide = wide / wide.max(axis=0)
    wide = wide.loc[wide.mean(axis=1).sort_values(ascending=False).index]
    fig, ax = plt.subplots(figsize=(9, 6))
    im = ax.imshow(wide.to_numpy(float), vmin=0, vmax=1, cmap="magma_r", aspect="auto")
    ax.set_yticks(range(wide.shape[0]), wide.index, fontsize=7)
    ax.set_xticks(range(wide.shape[1]), [label(c) for c in wide.columns], rotation=60, ha="right", fontsize=6)
    fig.colorbar(im, ax=ax, label="mu* / largest mu* of the target", shrink=0.6)
    ax.set_title("Morris screening: which levers move each target (measured value)", fontsize=10)
    return save(fig, path)


def plot_scale(table: pd.DataFrame, path: Path) -> Path:
    """P(reach) against the scale of the full package, one line per reading whose P changes."""
    import matplotlib.pyplot as plt

    table = table.assign(scale=table["scenario"].map(scale_of))
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.set_prop_cycle(color=plt.get_cmap("tab20").colors)
    for col, g in table.groupby("column", sort=False):
        g = g.sort_values("scale")
        if g["p_reach"].max() - g["p_reach"].min() < 0.05:
            continue  # flat lines (always or never reached) are listed in the table, not drawn
        err = [(g["p_reach"] - g["p_low"]).clip(lower=0), (g["p_high"] - g["p_reach"]).clip(lower=0)]
        ax.errorbar(g["scale"], g["p_reach"], yerr=err, marker="o", ms=3, capsize=2, lw=1, label=label(col))
    for level in LEVELS:
        ax.axhline(level, color="grey", ls=":", lw=1)
    ax.set_xlabel("scale of the full package (0 = status quo, 1 = the plan's package)")
    ax.set_ylabel("probability of reaching (95% Wilson interval)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title("Scaling the plan's full package", fontsize=10)
    return save(fig, path)
