"""Summaries and figures of batches: target attainment with intervals, fan charts.

All functions take the tidy tables a batch produces (``outcomes``: one row per
run with a ``scenario`` column and ``target__definition`` / ``end_*`` columns;
``monthly``: one row per run and month with ``scenario`` and ``date`` columns)
so they work the same on fresh and on stored batches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.stats import proportion_ci
from sim.model.targets import is_target_column, parse_column, target_of

FAN_COLUMNS = (
    ("projects_signed_cum", "technology projects signed since start"),
    ("listed_exchange_neeq", "listed companies (exchange + NEEQ)"),
    ("listed_exchange", "exchange-listed companies"),
    ("market_value_exchange_neeq_bn_yuan", "market value of listed firms, bn yuan"),
    ("leading_firms", "leading enterprises"),
    ("graphene_firms", "graphene firms in the park"),
)


def target_columns(outcomes: pd.DataFrame) -> list[str]:
    """The ``target__definition`` columns present in ``outcomes``."""
    return [c for c in outcomes.columns if is_target_column(c)]


def target_table(outcomes: pd.DataFrame, group: str = "scenario") -> pd.DataFrame:
    """Probability of reaching each target (Wilson 95% interval) and the measured value's spread.

    Args:
        outcomes: one row per run.
        group: the column that names scenarios (or design points).

    Returns:
        One row per group x target x definition.
    """
    rows = []
    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    for name, runs in ok.groupby(group, sort=False):
        for col in target_columns(runs):
            target = target_of(col)
            values = runs[col].dropna().to_numpy(float)
            hits = int((values >= target.threshold).sum())
            q05, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95]) if len(values) else (np.nan,) * 3
            rows.append({
                group: name, "target": target.name, "definition": parse_column(col)[1],
                "threshold": target.threshold, "unit": target.unit, "n": len(values),
                "p_reach": hits / len(values) if len(values) else np.nan, "hits": hits,
                "median": q50, "q05": q05, "q95": q95,
            })  # fmt: skip
    return _with_intervals(pd.DataFrame(rows))


def _with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """``hits`` out of ``n`` -> Wilson 95% interval ``p_low`` / ``p_high`` beside ``p_reach``."""
    if table.empty:
        return table
    low, high = proportion_ci(table.pop("hits"), table["n"])
    at = table.columns.get_loc("p_reach") + 1
    table.insert(at, "p_high", high)
    table.insert(at, "p_low", low)
    return table


def indicator_table(outcomes: pd.DataFrame, group: str = "scenario") -> pd.DataFrame:
    """Median and 90% band of the end-of-run indicators (``end_*`` columns)."""
    cols = [c for c in outcomes.columns if c.startswith("end_")]
    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    stats = ok.groupby(group, sort=False)[cols].quantile([0.05, 0.5, 0.95]).unstack()
    rows = []
    for name in stats.index:
        for c in cols:
            rows.append({
                group: name, "indicator": c[4:], "median": stats.loc[name, (c, 0.5)],
                "q05": stats.loc[name, (c, 0.05)], "q95": stats.loc[name, (c, 0.95)],
            })  # fmt: skip
    return pd.DataFrame(rows)


HEADER = f"  {'target':<28} {'definition':<17} {'goal':>7}  {'P(reach) [95% CI]':<20} {'median (90% band)':<24}"


def format_summary(outcomes: pd.DataFrame, group: str = "scenario") -> str:
    """Plain-text summary: per scenario, target attainment then key indicators."""
    tt, it = target_table(outcomes, group), indicator_table(outcomes, group)
    out = []
    for name in tt[group].unique() if len(tt) else []:
        t = tt[tt[group] == name]
        n = int(t["n"].max()) if len(t) else 0
        out.append(f"\n== {name}  ({n} replications)")
        out.append(
            f"  {'target':<28} {'definition':<17} {'goal':>7}  {'P(reach) [95% CI]':<20} {'median (90% band)':<24}"
        )
        for r in t.itertuples():
            if r.n == 0:
                continue
            p = f"{r.p_reach:.2f} [{r.p_low:.2f}, {r.p_high:.2f}]"
            band = f"{_num(r.median)} ({_num(r.q05)}-{_num(r.q95)})"
            out.append(f"  {r.target:<28} {r.definition:<17} {_num(r.threshold):>7}  {p:<20} {band:<24}")
        i = it[it[group] == name]
        out.append(
            "  indicators at end: "
            + "; ".join(f"{r.indicator} {_num(r.median)} ({_num(r.q05)}-{_num(r.q95)})" for r in i.itertuples())
        )
    return "\n".join(out)


def _num(x: float) -> str:
    if x is None or np.isnan(x):
        return "n/a"
    return f"{x:.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:.1f}"


def fan_chart(monthly: pd.DataFrame, path: str | Path, columns=FAN_COLUMNS, group: str = "scenario") -> Path:
    """Write a PNG of median and 90% band over time per scenario for each column (:func:`sim.plots.fan.fan_chart`).

    Args:
        monthly: one row per run and month (columns ``group``, ``date`` and the metrics).
        path: PNG file to write (folders are created).
        columns: ``(column, title)`` pairs to plot.
        group: the column that names scenarios.

    Returns:
        The path written.
    """
    from sim.plots import save
    from sim.plots.fan import fan_chart as draw

    ncols = 3 if len([c for c, _ in columns if c in monthly]) > 4 else 2
    return save(draw(monthly, columns, group=group, ncols=ncols), path, dpi=110)
