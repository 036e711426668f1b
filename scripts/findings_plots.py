"""Figures of docs/findings.md (used by write_findings.py), drawn by :mod:`sim.plots` and saved small (dpi 80)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.plots import save
from sim.plots.labels import column_label as label  # noqa: F401  (write_findings labels its tables with it)
from sim.plots.sensitivity import morris_heatmap
from sim.plots.targets import probability_heatmap, reach_by_scale

LEVELS = (0.5, 0.8)
DPI = 80


def scale_of(name: str) -> float:
    """``scale_075`` -> 0.75."""
    return int(name.rsplit("_", 1)[1]) / 100


def plot_probabilities(table: pd.DataFrame, path: Path) -> Path:
    """Heat map: P(reach) per scenario and target definition."""
    return save(probability_heatmap(table), path, dpi=DPI)


def plot_morris(mu: pd.DataFrame, path: Path, target_order: list[str]) -> Path:
    """Heat map of mu_star on the measured value, normalised per target definition."""
    return save(morris_heatmap(mu, target_order), path, dpi=DPI)


def plot_scale(table: pd.DataFrame, path: Path) -> Path:
    """P(reach) against the scale of the full package, one line per reading whose P changes."""
    return save(reach_by_scale(table.assign(scale=table["scenario"].map(scale_of)), LEVELS), path, dpi=DPI)
