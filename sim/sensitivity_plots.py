"""Figures of a sensitivity study: kept so that ``from sim.sensitivity_plots import write_figures`` works.

The figures live in :mod:`sim.plots.sensitivity`.
"""

from sim.plots.sensitivity import PANEL_GROUPS, bars, morris_scatter, write_figures

__all__ = ["PANEL_GROUPS", "bars", "morris_scatter", "write_figures"]
