"""Side-by-side comparison of finished batches: one table and a set of PNG figures.

:func:`compare` takes batches (stored or in memory) and writes into one folder:

* ``targets.csv`` / ``targets.png``: probability of reaching each target (every
  definition) per scenario or design point, with Wilson 95% intervals
  (:func:`sim.report.target_table`);
* ``fan_charts.png``: median and 90% band over time of the key indicators
  (:func:`sim.report.fan_chart`);
* ``zones.csv`` / ``zones.png``: where firms and talent are at the end of the run
  (median and 90% band per zone);
* ``paired_differences.csv`` / ``paired_differences.png``: each scenario minus a
  reference scenario, run by run on the same replicate seeds (common random
  numbers), with 95% t intervals on the mean difference.

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
MAX_DIFF_PANELS = 6


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


def _mean_ci(diff: np.ndarray) -> tuple[float, float, float]:
    from scipy.stats import t

    diff = diff[~np.isnan(diff)]
    if len(diff) == 0:
        return np.nan, np.nan, np.nan
    mean = float(diff.mean())
    if len(diff) < 2:
        return mean, np.nan, np.nan
    half = float(t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)))
    return mean, mean - half, mean + half


def paired_differences(outcomes: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Each scenario minus ``reference`` on runs with the same seed and spawn key.

    Target columns are compared as reached (1) / not reached (0), so the mean
    difference is the change in the probability of reaching; ``end_*``
    indicators are compared as values.

    Returns:
        One row per scenario x measure: mean difference, 95% t interval, number of pairs.
    """
    from sim.report import target_columns
    from sim.targets import TARGETS_BY_NAME

    tcols = target_columns(outcomes)
    ecols = [c for c in outcomes.columns if c.startswith("end_")]
    frame = outcomes.copy()
    for col in tcols:
        values = frame[col].to_numpy(float)
        threshold = TARGETS_BY_NAME[col.split("__")[0]].threshold
        frame[col] = np.where(np.isnan(values), np.nan, (values >= threshold).astype(float))
    ref = frame[frame["scenario"] == reference].set_index(list(PAIR_KEYS))
    if ref.empty:
        raise ValueError(f"reference scenario {reference!r} has no finished runs")
    rows = []
    for name, runs in frame.groupby("scenario", sort=False):
        if name == reference:
            continue
        pairs = runs.set_index(list(PAIR_KEYS)).join(ref[tcols + ecols], how="inner", suffixes=("", "__ref"))
        for col in tcols + ecols:
            mean, lo, hi = _mean_ci((pairs[col] - pairs[f"{col}__ref"]).to_numpy(float))
            kind = "p_reach" if col in tcols else "value"
            rows.append({
                "scenario": name, "reference": reference, "measure": col, "kind": kind,
                "mean_diff": mean, "ci_low": lo, "ci_high": hi, "pairs": len(pairs),
            })  # fmt: skip
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_targets(table: pd.DataFrame, path: Path) -> Path:
    """One panel per target: P(reach) with its 95% interval per scenario, one marker per definition."""
    plt = _plt()
    targets = list(dict.fromkeys(table["target"]))
    scen = list(dict.fromkeys(table["scenario"]))
    ncols = 3
    nrows = int(np.ceil(len(targets) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(15, 0.35 * len(scen) * nrows + 1.6 * nrows), squeeze=False)
    for ax, target in zip(axes.flat, targets, strict=False):
        sub = table[table["target"] == target]
        defs = list(dict.fromkeys(sub["definition"]))
        for k, d in enumerate(defs):
            part = sub[sub["definition"] == d].set_index("scenario").reindex(scen)
            y = np.arange(len(scen)) + (k - (len(defs) - 1) / 2) * 0.22
            err = np.vstack([part["p_reach"] - part["p_low"], part["p_high"] - part["p_reach"]]).clip(0)
            ax.errorbar(part["p_reach"], y, xerr=err, fmt="o", ms=4, capsize=2, label=d)
        ax.set_yticks(np.arange(len(scen)), scen, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(-0.03, 1.03)
        ax.set_title(target, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[len(targets) :]:
        ax.axis("off")
    fig.suptitle("Probability of reaching each target (95% Wilson interval)", fontsize=11)
    return _save(fig, path)


def plot_zones(zones: pd.DataFrame, path: Path) -> Path:
    """Stacked bars: median firms and talent per zone at the end of the run, per scenario."""
    plt = _plt()
    scen = list(dict.fromkeys(zones["scenario"]))
    fig, axes = plt.subplots(1, 2, figsize=(12, 1.2 + 0.35 * len(scen)), squeeze=False)
    colours = {"north": "#4c72b0", "central": "#dd8452", "south": "#55a868"}
    for ax, kind in zip(axes.flat, ("firms", "talent"), strict=True):
        left = np.zeros(len(scen))
        for zone in ZONES:
            sub = zones[(zones["kind"] == kind) & (zones["zone"] == zone)].set_index("scenario").reindex(scen)
            ax.barh(scen, sub["median"], left=left, color=colours[zone], label=zone)
            left += sub["median"].fillna(0).to_numpy()
        ax.invert_yaxis()
        ax.set_title(f"{kind} by zone at the end (median)", fontsize=10)
        ax.tick_params(axis="y", labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return _save(fig, path, layout=False)


def plot_differences(diffs: pd.DataFrame, path: Path) -> Path:
    """Paired change in P(reach) of each target definition against the reference, per scenario."""
    plt = _plt()
    sub = diffs[diffs["kind"] == "p_reach"]
    scen = list(dict.fromkeys(sub["scenario"]))[:MAX_DIFF_PANELS]
    measures = list(dict.fromkeys(sub["measure"]))
    fig, axes = plt.subplots(1, len(scen), figsize=(4.2 * len(scen) + 2.5, 0.25 * len(measures) + 1.5), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes.flat, scen, strict=True)):
        part = sub[sub["scenario"] == name].set_index("measure").reindex(measures)
        y = np.arange(len(measures))
        err = np.vstack([part["mean_diff"] - part["ci_low"], part["ci_high"] - part["mean_diff"]])
        ax.errorbar(part["mean_diff"], y, xerr=np.nan_to_num(err).clip(0), fmt="o", ms=3, capsize=2)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, measures if i == 0 else [""] * len(measures), fontsize=6)
        ax.invert_yaxis()
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(f"{name}\nminus {part['reference'].iloc[0]} ({int(part['pairs'].iloc[0])} pairs)", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle("Paired change in probability of reaching (same seeds, 95% t interval)", fontsize=10)
    return _save(fig, path)


def _save(fig, path: Path, layout: bool = True) -> Path:
    plt = _plt()
    if layout:
        fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- the whole comparison
def compare(batches, out_dir: str | Path, reference: str | None = None) -> dict:
    """Write the comparison table and figures of ``batches`` into ``out_dir``.

    Args:
        batches: :class:`~sim.batch.Batch` objects (stored or in memory).
        out_dir: folder for the CSV and PNG files (created).
        reference: scenario the paired differences are taken against (default: the first).

    Returns:
        Name -> DataFrame for the tables and name -> Path for every file written.
    """
    from sim.report import FAN_COLUMNS, fan_chart, target_table

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
    files["targets.png"] = plot_targets(result["targets"], out / "targets.png")
    files["fan_charts.png"] = fan_chart(monthly, out / "fan_charts.png", columns=fans)
    if not result["zones"].empty:
        files["zones.png"] = plot_zones(result["zones"], out / "zones.png")
    if not result["paired_differences"].empty:
        files["paired_differences.png"] = plot_differences(result["paired_differences"], out / "paired_differences.png")
    result["files"] = files
    return result
