"""Every figure parksim draws, one module per family of figures.

* :mod:`~sim.plots.fan`: indicators over time (median and 90% band per scenario) with the plan's targets;
* :mod:`~sim.plots.targets`: probability of reaching each target (bars, heat map, against a package's scale);
* :mod:`~sim.plots.zones`: firms and talent per zone;
* :mod:`~sim.plots.differences`: paired differences between scenarios on common random numbers;
* :mod:`~sim.plots.calibration`: prior against posterior, predictive check, ABC schedule, MSM trace;
* :mod:`~sim.plots.sensitivity`: sensitivity indices (bars, Morris scatter and heat map).

Each function takes the tables the library already computes and returns a
:class:`matplotlib.figure.Figure`. Figures are made with :func:`figure`, not
through ``pyplot``: they need no backend, hold no global state and never open a
window, so the same functions serve the command line, scripts and notebooks.
:func:`save` writes one to a file.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure


def figure(width: float, height: float) -> Figure:
    """A new figure of ``width`` x ``height`` inches, not registered with ``pyplot``."""
    return Figure(figsize=(width, height))


def grid(n: int, ncols: int, width: float, height: float, extra: float = 0.0, **kwargs):
    """A figure with ``n`` panels on ``ncols`` columns, the unused ones switched off.

    Args:
        n: panels wanted.
        ncols: columns of panels (fewer when ``n`` is smaller).
        width: inches per panel column.
        height: inches per panel row.
        extra: inches added to the height (titles, legends).
        kwargs: passed to :meth:`~matplotlib.figure.Figure.subplots` (``sharex``, ...).

    Returns:
        ``(figure, axes)``: ``axes`` a 2-D array of ``ceil(n / ncols)`` x ``ncols``.
    """
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = figure(width * ncols, height * nrows + extra)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def colour(k: int, name: str = "tab10"):
    """The ``k``-th colour of a qualitative colour map (cycling)."""
    cmap = colormaps[name]
    return cmap(k % cmap.N)


def legend_below(fig: Figure, handles, labels, ncol: int = 5, fontsize: float = 8, **kwargs) -> None:
    """One legend for the whole figure, centred under the panels."""
    fig.legend(handles, labels, loc="lower center", ncol=max(1, min(len(labels), ncol)), fontsize=fontsize,
               frameon=False, **kwargs)  # fmt: skip


def heatmap(values, rows, columns, size, cmap: str, colorbar: str, title: str, column_style=None):
    """A heat map of ``values`` (rows x columns, colours from 0 to 1) with labelled axes and a colour bar.

    Args:
        values: 2-D array of numbers between 0 and 1.
        rows: row labels.
        columns: column labels.
        size: ``(width, height)`` in inches.
        cmap: colour map name.
        colorbar: the colour bar's label.
        title: the panel's title.
        column_style: keyword arguments for the column labels (default: rotated 45 degrees, size 8).

    Returns:
        ``(figure, axes)``, so that callers can write values into the cells.
    """
    fig = figure(*size)
    ax = fig.subplots()
    image = ax.imshow(values, vmin=0, vmax=1, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, **(column_style or {"rotation": 45, "ha": "right", "fontsize": 8}))
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    fig.colorbar(image, ax=ax, label=colorbar, shrink=0.6)
    ax.set_title(title, fontsize=10)
    return fig, ax


def finish(fig: Figure, title: str, legend_inches: float = 0.0, fontsize: float = 11, top: float = 0.98) -> Figure:
    """Title the figure and lay its panels out above ``legend_inches`` of room for a legend below them."""
    fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, top))
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 100, **kwargs) -> Path:
    """Write ``fig`` to ``path`` (folders are created; the format follows the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, **kwargs)
    return path
