"""Side-by-side comparison of finished batches: one table and a set of PNG figures.

:func:`compare` takes batches (stored or in memory) and writes into one folder:

* ``targets.csv`` / ``targets.png``: probability of reaching each target (every
  definition) per scenario or design point, with Wilson 95% intervals
  (:func:`sim.analysis.report.target_table`);
* ``fan_charts.png``: median and 90% band over time of the key indicators;
* ``zones.csv`` / ``zones.png``: where firms and talent are at the end of the run
  (median and 90% band per zone);
* ``paired_differences.csv`` / ``paired_differences.png`` /
  ``indicator_differences.png``: each scenario minus a reference scenario, run
  by run on the same replicate seeds (common random numbers), with 95% t
  intervals on the mean difference (chances of reaching, end-of-run indicators).

The figures are drawn by :mod:`sim.plots`, the same functions the notebooks use.

Only the columns needed are read from the Parquet parts (pyarrow dataset
projection), so large batches compare without loading whole tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.store import read_table

FAN_EXTRA = ("firms_in_park",)
ZONES = ("north", "central", "south")
ZONE_COLUMNS = tuple(f"{kind}_{z}" for kind in ("firms", "talent") for z in ZONES)
PAIR_KEYS = ("seed", "spawn_key")
DPI = 100


def _labelled(batches) -> list[tuple[object, dict[str, str]]]:
    """Scenario name -> label per batch; names found in several batches get ``<id>:`` in front."""
    names = [s["name"] for b in batches for s in b.manifest["scenarios"]]
    out = []
    for b in batches:
        mapping = {}
        for s in b.manifest["scenarios"]:
            n = s["name"]
            mapping[n] = f"{b.id}:{n}" if names.count(n) > 1 else n
        out.append((b, mapping))
    return out


def _read(batch, table: str, columns: list[str]) -> pd.DataFrame:
    if batch.folder is None:
        frame = getattr(batch, table)
        return frame[[c for c in columns if c in frame.columns]]
    data = read_table(batch.folder, table, columns=[c for c in columns if c in _schema_names(batch, table)])
    return pd.DataFrame(columns=columns) if data is None else data.to_pandas()


def _schema_names(batch, table: str) -> list[str]:
    return batch.manifest["tables"][table]["columns"]


def gather(batches, monthly_columns=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outcomes of the finished runs and the chosen monthly columns, scenario names made unique."""
    outs, mons = [], []
    for batch, mapping in _labelled(batches):
        o = batch.outcomes[batch.outcomes["status"] == "ok"].copy()
        o["scenario"] = o["scenario"].map(mapping)
        o["batch"] = batch.id
        outs.append(o)
        if monthly_columns:
            m = _read(batch, "monthly", ["run", "scenario", "seed", "date", *monthly_columns])
            m["scenario"] = m["scenario"].map(mapping)
            mons.append(m)
    outcomes = pd.concat(outs, ignore_index=True) if outs else pd.DataFrame()
    monthly = pd.concat(mons, ignore_index=True) if mons else pd.DataFrame()
    return outcomes, monthly


# ---------------------------------------------------------------- tables
def zone_table(monthly: pd.DataFrame) -> pd.DataFrame:
    """Firms and talent per zone in the last month of each run: median and 90% band per scenario."""
    last = monthly[monthly["date"] == monthly.groupby("scenario")["date"].transform("max")]
    rows = []
    for name, runs in last.groupby("scenario", sort=False):
        for col in ZONE_COLUMNS:
            if col not in runs:
                continue
            kind, zone = col.split("_", 1)
            q05, q50, q95 = np.quantile(runs[col].to_numpy(float), [0.05, 0.5, 0.95])
            rows.append({"scenario": name, "kind": kind, "zone": zone, "median": q50, "q05": q05, "q95": q95})
    return pd.DataFrame(rows)


def paired_differences(outcomes: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each scenario minus ``reference`` on runs with the same seed and spawn key.

    Target columns are compared as reached (1) / not reached (0), so the mean
    difference is the change in the probability of reaching; ``end_*``
    indicators are compared as values.

    Returns:
        One row per scenario x measure: mean difference, 95% t interval, number of pairs.
    """
    from sim.analysis.report import target_columns
    from sim.analysis.stats import mean_ci
    from sim.model.targets import target_of

    tcols = target_columns(outcomes)
    ecols = [c for c in outcomes.columns if c.startswith("end_")]
    frame = outcomes.copy()
    for col in tcols:
        values = frame[col].to_numpy(float)
        frame[col] = np.where(np.isnan(values), np.nan, (values >= target_of(col).threshold).astype(float))
    ref = frame[frame["scenario"] == reference].set_index(list(PAIR_KEYS))
    if ref.empty:
        raise ValueError(f"reference scenario {reference!r} has no finished runs")
    rows = []
    for name, runs in frame.groupby("scenario", sort=False):
        if name == reference:
            continue
        pairs = runs.set_index(list(PAIR_KEYS)).join(ref[tcols + ecols], how="inner", suffixes=("", "__ref"))
        cols = tcols + ecols
        diff = pairs[cols].to_numpy(float) - pairs[[f"{c}__ref" for c in cols]].to_numpy(float)
        mean, low, high = mean_ci(diff.reshape(len(pairs), len(cols)), axis=0)
        for j, col in enumerate(cols):
            rows.append({
                "scenario": name, "reference": reference, "measure": col,
                "kind": "p_reach" if col in tcols else "value",
                "mean_diff": float(mean[j]), "ci_low": float(low[j]), "ci_high": float(high[j]), "pairs": len(pairs),
            })  # fmt: skip
    return pd.DataFrame(rows)


def scenario_words(batches) -> dict[str, str]:
    """Scenario name (as the comparison spells it) -> words: a design point's lever values, else its label."""
    out = {}
    for batch, mapping in _labelled(batches):
        design = batch.manifest.get("design") or {}
        points = {p["name"]: {k: v for k, v in p.items() if k != "name"} for p in design.get("points", [])}
        for s in batch.manifest["scenarios"]:
            point = points.get(s["name"])
            words = ", ".join(f"{k} {v:g}" for k, v in point.items()) if point else s.get("label") or s["name"]
            out[mapping[s["name"]]] = words
    return out


# ---------------------------------------------------------------- text
WIDTH = 120  # the printed tables fit a terminal this wide


def wide_text(cells: pd.DataFrame, row_title: str, width: int = WIDTH, numbers=None) -> list[str]:
    """Lines of a table of strings, columns headed ``[k]`` (``numbers``, default 1, 2, ...), split to fit ``width``."""
    numbers = list(numbers or range(1, cells.shape[1] + 1))
    label_w = max([len(row_title), *(len(str(r)) for r in cells.index)])
    cell_w = max([2 + len(str(max(numbers, default=1))), *(len(str(v)) for v in cells.to_numpy().ravel())])
    per = max(1, (width - 2 - label_w) // (cell_w + 2))
    lines = []
    for first in range(0, cells.shape[1], per):
        block = cells.iloc[:, first : first + per]
        head = "".join(f"  {f'[{k}]':>{cell_w}}" for k in numbers[first : first + per])
        lines.append(f"  {row_title:<{label_w}}{head}")
        for label, row in block.iterrows():
            lines.append(f"  {str(label):<{label_w}}" + "".join(f"  {str(v):>{cell_w}}" for v in row))
    return lines


def legend_text(names, words: dict, width: int = WIDTH) -> list[str]:
    """``[k] name: words`` per column, wrapped to ``width``."""
    import textwrap

    lines = []
    for k, name in enumerate(names, 1):
        text = f"[{k}] {name}: {words.get(name, name)}" if words.get(name, name) != name else f"[{k}] {name}"
        lines += textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="        ")
    return lines


def _pp(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:+.0f}"


def format_comparison(result: dict, width: int = WIDTH) -> str:
    """P(reach) with its interval per target, definition and scenario, then paired changes, within ``width``."""
    from sim.analysis.report import READING_WORDS

    t = result["targets"]
    names = list(dict.fromkeys(t["scenario"]))
    t = t.assign(
        row=[f"{a} [{READING_WORDS.get(d, d)}]" for a, d in zip(t["target"], t["definition"], strict=True)],
        cell=[
            "n/a" if not np.isfinite(p) else f"{100 * p:.0f}% [{100 * lo:.0f}-{100 * hi:.0f}]"
            for p, lo, hi in zip(t["p_reach"], t["p_low"], t["p_high"], strict=True)
        ],
    )
    cells = t.pivot(index="row", columns="scenario", values="cell").reindex(
        index=list(dict.fromkeys(t["row"])), columns=names
    )
    out = ["P(reach) [95% Wilson interval], per scenario or design point:"]
    out += wide_text(cells, "target [definition]", width)
    out += legend_text(names, result.get("words", {}), width)
    diffs = result["paired_differences"]
    if not diffs.empty:
        from sim.model.targets import parse_column

        sub = diffs[diffs["kind"] == "p_reach"]
        rows = [f"{a} [{READING_WORDS.get(d, d)}]" for a, d in map(parse_column, sub["measure"])]
        sub = sub.assign(
            row=rows,
            cell=[
                f"{_pp(m)} [{_pp(lo)},{_pp(hi)}]"
                for m, lo, hi in zip(sub.mean_diff, sub.ci_low, sub.ci_high, strict=True)
            ],
        )
        others, ref = list(dict.fromkeys(sub["scenario"])), sub["reference"].iloc[0]
        cells = sub.pivot(index="row", columns="scenario", values="cell").reindex(
            index=list(dict.fromkeys(rows)), columns=others
        )
        out.append(
            f"\npaired change in P(reach) vs [{names.index(ref) + 1}] {ref}, percentage points"
            " (same seeds, 95% t interval):"
        )
        out += wide_text(cells, "target [definition]", width, [names.index(n) + 1 for n in others])
    return "\n".join(out)


# ---------------------------------------------------------------- the whole comparison
def compare(batches, out_dir: str | Path, reference: str | None = None) -> dict:
    """Write the comparison table and figures of ``batches`` into ``out_dir``.

    Args:
        batches: :class:`~sim.run.batch.Batch` objects (stored or in memory).
        out_dir: folder for the CSV and PNG files (created).
        reference: scenario the paired differences are taken against (default: the first).

    Returns:
        Name -> DataFrame for the tables and name -> Path for every file written.
    """
    from sim.analysis.report import FAN_COLUMNS, target_table
    from sim.plots import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fans = [*FAN_COLUMNS, *((c, c.replace("_", " ")) for c in FAN_EXTRA)]
    outcomes, monthly = gather(batches, [c for c, _ in fans] + list(ZONE_COLUMNS))
    if outcomes.empty:
        raise ValueError("the batches hold no finished runs to compare")
    result: dict = {"targets": target_table(outcomes), "zones": zone_table(monthly)}
    names = list(dict.fromkeys(outcomes["scenario"]))
    reference = reference or names[0]
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not among the scenarios: {', '.join(names)}")
    result["paired_differences"] = paired_differences(outcomes, reference) if len(names) > 1 else pd.DataFrame()
    files = {}
    for name in ("targets", "zones", "paired_differences"):
        if not result[name].empty:
            files[f"{name}.csv"] = out / f"{name}.csv"
            result[name].to_csv(files[f"{name}.csv"], index=False)
    for name, fig in _figures(result, monthly, fans).items():
        files[f"{name}.png"] = save(fig, out / f"{name}.png", dpi=DPI)
    result["files"] = files
    result["words"] = scenario_words(batches)
    return result


def _figures(result: dict, monthly: pd.DataFrame, fans) -> dict:
    """Name -> figure of the comparison (:mod:`sim.plots`); figures without data are left out."""
    from sim.plots.differences import difference_chart, indicator_chart
    from sim.plots.fan import fan_chart
    from sim.plots.targets import target_chart
    from sim.plots.zones import zone_chart

    figures = {"targets": target_chart(result["targets"]), "fan_charts": fan_chart(monthly, fans, ncols=3)}
    if not result["zones"].empty:
        figures["zones"] = zone_chart(result["zones"])
    diffs = result["paired_differences"]
    if not diffs.empty:
        figures["paired_differences"] = difference_chart(diffs)
        figures["indicator_differences"] = indicator_chart(diffs)
    return figures
