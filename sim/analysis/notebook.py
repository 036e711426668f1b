"""Helpers for the results notebooks in ``results/``: choose inputs, build tables, write captions, show figures.

The notebooks only call functions. This module picks finished batches, gathers
the tables of :mod:`sim.analysis.compare` and :mod:`sim.analysis.report` once
(:func:`load_comparison`), turns them into tables in plain words and writes
captions from the numbers; :mod:`sim.plots` draws the figures (the same
functions as the command line) and :mod:`sim.analysis.notebook_calibration` reads fitted
calibration jobs. No model logic:
every number comes from stored results.

Environment variables (so that a notebook runs unchanged in tests and on CI):

* ``PARKSIM_BATCHES=id1,id2``: batch ids or folders for ``compare_scenarios``;
* ``PARKSIM_CALIBRATION_JOB=name``: fitted job for ``calibration_report`` (:mod:`sim.analysis.notebook_calibration`);
* ``PARKSIM_FIGURES=folder``: also save every figure shown as a PNG there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pandas as pd

from sim.model.targets import column_of
from sim.plots.labels import (  # noqa: F401  (the notebooks' words, also reached as nb.<name>)
    DEFINITIONS,
    INDICATORS,
    ZONE_WORDS,
    definition_text,
    fmt_num,
    fmt_pct,
    measure_text,
    stock_goals,
    target_text,
)

ENV_BATCHES = "PARKSIM_BATCHES"
ENV_FIGURES = "PARKSIM_FIGURES"
FINISHED = ("complete", "complete-with-failures")
MAX_SCENARIOS = 12
DPI = 100
FANS = (
    ("projects_signed_cum", "technology projects signed since the start"),
    ("projects_started_cum", "technology projects started operating since the start"),
    ("listed_exchange_neeq", "listed companies (exchange + NEEQ)"),
    ("listed_exchange", "exchange-listed companies"),
    ("market_value_exchange_neeq_bn_yuan", "market value of listed companies (exchange + NEEQ), bn yuan"),
    ("leading_firms", "leading enterprises"),
    ("graphene_firms", "graphene firms in the park"),
    ("graphene_projects_signed_cum", "graphene projects signed since the start"),
)


# ---------------------------------------------------------------- choosing inputs
def project_root() -> Path:
    """The parksim checkout: the folder above the working directory that holds ``pyproject.toml`` and ``sim/``."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "pyproject.toml").is_file() and (folder / "sim").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def latest_batches(root: str | Path, scenarios=()) -> list[str]:
    """Ids of the most recent finished scenario batch, or per scenario name the latest batch holding it.

    Sweeps and sensitivity designs (manifests with a ``design``) are left out: they
    are read by ``parksim discover`` and ``parksim sensitivity``.

    Raises:
        FileNotFoundError: no finished batch (holding the scenario) under ``root``.
    """
    from sim.store import list_batches, read_manifest

    found = []
    for row in list_batches(root) if Path(root).is_dir() else []:
        if row["status"] not in FINISHED:
            continue
        manifest = read_manifest(Path(row["folder"]))
        if not manifest.get("design"):
            names = {s["name"] for s in manifest["scenarios"]}
            found.append((manifest.get("finished") or manifest.get("created") or "", row["id"], names))
    found.sort()
    how = f"run one (e.g. 'parksim run baseline full_package --reps 20') or set {ENV_BATCHES}=id1,id2"
    if not found:
        raise FileNotFoundError(f"no finished scenario batch under {root}: {how}")
    if not scenarios:
        return [found[-1][1]]
    picked = []
    for name in scenarios:
        hits = [batch_id for _, batch_id, names in found if name in names]
        if not hits:
            raise FileNotFoundError(f"no finished batch under {root} holds scenario {name!r}: {how}")
        picked += [hits[-1]] if hits[-1] not in picked else []
    return picked


def pick_batches(ids=(), root: str | Path | None = None, scenarios=()) -> list:
    """Load the batches to compare: ``ids`` if given, else ``$PARKSIM_BATCHES``, else the latest.

    Args:
        ids: batch ids (under ``root``) or batch folders.
        root: folder of batch folders (default ``results/runs`` of the checkout).
        scenarios: without ids, take per scenario name the latest batch holding it.

    Returns:
        :class:`sim.run.batch.Batch` objects.
    """
    from sim.run.batch import load_batch

    root = Path(root) if root else project_root() / "results" / "runs"
    chosen = [str(i).strip() for i in ids if str(i).strip()]
    chosen = chosen or [s.strip() for s in os.environ.get(ENV_BATCHES, "").split(",") if s.strip()]
    chosen = chosen or latest_batches(root, scenarios)
    return [load_batch(b, root=root) for b in chosen]


@dataclass
class Comparison:
    """Everything the comparison notebook shows, computed once from the batches."""

    batches: list
    outcomes: pd.DataFrame
    monthly: pd.DataFrame
    targets: pd.DataFrame
    zones: pd.DataFrame
    differences: pd.DataFrame
    reference: str
    scenarios: list
    dropped: list
    labels: dict = field(default_factory=dict)  # scenario name -> human label (unique), for the charts

    def labelled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its ``scenario`` and ``reference`` columns in labels instead of names (a copy)."""
        return labelled(frame, self.labels)


def load_comparison(batches, reference: str | None = None, only=(), max_scenarios: int = MAX_SCENARIOS) -> Comparison:
    """Target attainment, zones and paired differences of ``batches`` (finished runs only).

    Args:
        batches: loaded batches.
        reference: scenario the paired differences are taken against (default ``baseline``
            when present, else the first scenario).
        only: keep only these scenario names (all when empty).
        max_scenarios: scenarios beyond this many are left out (named in ``dropped``).

    Raises:
        ValueError: no finished runs, an unknown scenario in ``only`` or an unknown reference.
    """
    from sim.analysis.compare import ZONE_COLUMNS, gather, paired_differences, zone_table
    from sim.analysis.report import target_table

    columns = [c for c, _ in FANS] + list(ZONE_COLUMNS)
    outcomes, monthly = gather(batches, columns)
    if outcomes.empty:
        raise ValueError("the batches hold no finished runs: " + "; ".join(b.summary_line() for b in batches))
    names = list(dict.fromkeys(outcomes["scenario"]))
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ValueError(f"scenarios {unknown} are not in the batches; they hold: {', '.join(names)}")
    names = [n for n in names if n in only] if only else names
    kept, dropped = names[:max_scenarios], names[max_scenarios:]
    outcomes = outcomes[outcomes["scenario"].isin(kept)]
    monthly = monthly[monthly["scenario"].isin(kept)]
    reference = reference or ("baseline" if "baseline" in kept else kept[0])
    if reference not in kept:
        raise ValueError(f"reference {reference!r} is not among the scenarios: {', '.join(kept)}")
    diffs = paired_differences(outcomes, reference) if len(kept) > 1 else pd.DataFrame()
    return Comparison(
        batches, outcomes, monthly, target_table(outcomes), zone_table(monthly), diffs, reference, kept, dropped,
        scenario_labels(batches, kept),
    )  # fmt: skip


def scenario_labels(batches, names) -> dict:
    """Scenario name (as the comparison spells it, ``<id>:`` prefix and all) -> its label, made unique."""
    found = {}
    for b in batches:
        for s in b.manifest["scenarios"]:
            for key in (s["name"], f"{b.id}:{s['name']}"):
                found.setdefault(key, s.get("label") or s["name"])
    labels = {n: found.get(n, n) for n in names}
    repeated = {v for v in labels.values() if list(labels.values()).count(v) > 1}
    return {n: f"{v} ({n})" if v in repeated else v for n, v in labels.items()}


def labelled(frame: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """``frame`` with ``scenario`` / ``reference`` columns mapped to ``labels`` (names without a label stay)."""
    out = frame.copy()
    for col in ("scenario", "reference"):
        if col in out:
            out[col] = out[col].map(lambda n: labels.get(n, n))
    return out


# ---------------------------------------------------------------- labels and display
def show(figure, name: str, folder: str | Path | None = None) -> None:
    """Show a matplotlib figure (or a PNG file) in the notebook; save it under ``folder`` / ``$PARKSIM_FIGURES``."""
    from IPython.display import Image, display

    if isinstance(figure, (str, Path)):
        data = Path(figure).read_bytes()
    else:
        buffer = BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        if "matplotlib.pyplot" in sys.modules:  # a figure made through pyplot would be shown a second time
            sys.modules["matplotlib.pyplot"].close(figure)
        data = buffer.getvalue()
    folder = folder or os.environ.get(ENV_FIGURES)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.png").write_bytes(data)
    display(Image(data=data))


# ---------------------------------------------------------------- target attainment
def target_matrix(table: pd.DataFrame, value: str = "p_reach") -> pd.DataFrame:
    """Wide table: one row per target and definition, one column per scenario.

    Args:
        table: :func:`sim.analysis.report.target_table` output.
        value: ``p_reach`` for "probability (95% interval)" cells, ``median`` for "median (90% band)".
    """
    if value == "p_reach":
        cell = table.apply(lambda r: f"{fmt_pct(r.p_reach)} ({fmt_pct(r.p_low)}-{fmt_pct(r.p_high)})", axis=1)
    else:
        cell = table.apply(lambda r: f"{fmt_num(r['median'])} ({fmt_num(r['q05'])}-{fmt_num(r['q95'])})", axis=1)
    rows = table.assign(
        target=table["target"].map(target_text),
        definition=table["definition"].map(definition_text),
        goal=table.apply(lambda r: f"{fmt_num(r.threshold)} {r.unit}", axis=1),
        cell=cell,
    )
    wide = rows.pivot(index=["target", "definition", "goal"], columns="scenario", values="cell")
    order = list(dict.fromkeys(zip(rows["target"], rows["definition"], rows["goal"], strict=True)))
    wide = wide.reindex(index=pd.MultiIndex.from_tuples(order, names=wide.index.names))
    return wide.reindex(columns=list(dict.fromkeys(table["scenario"])))


def caption_targets(table: pd.DataFrame) -> str:
    """What the attainment chart says, in sentences built from the numbers."""
    table = table.dropna(subset=["p_reach"])
    lines = []
    for name, sub in table.groupby("scenario", sort=False):
        likely = sub[sub["p_reach"] >= 0.8]
        never = sub[sub["p_reach"] == 0]
        best = sub.sort_values("p_reach", ascending=False).iloc[0]
        text = (
            f"- **{name}** ({int(sub['n'].max())} replications): {len(likely)} of {len(sub)} target readings are "
            f"reached in at least 80% of replications, {len(never)} in none."
        )
        if best["p_reach"] > 0:
            likeliest = measure_text(column_of(best["target"], best["definition"]))
            text += f" Most likely: *{likeliest}*, {fmt_pct(best['p_reach'])}."
        lines.append(text)
    best = table.groupby(["target", "definition"], sort=False)["p_reach"].max()
    never = []
    for target, defs in best.groupby(level="target", sort=False):
        zero = [d for (_, d), p in defs.items() if p == 0]
        if len(zero) == len(defs):
            never.append(target_text(target))
        elif zero:
            never.append(f"{target_text(target)} ({', '.join(map(definition_text, zero))})")
    if never:
        lines.append(f"- No scenario reached these in any replication: {'; '.join(never)}.")
    half = float(((table["p_high"] - table["p_low"]) / 2).max())
    lines.append(
        f"- The widest 95% interval is about ±{100 * half:.0f} points: differences between scenarios smaller than "
        "that can be chance; more replications (`--reps`) narrow the intervals."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- fans and zones
def caption_fans(monthly: pd.DataFrame) -> str:
    """The median replication's value when each stock target falls due, per scenario."""
    lines = []
    for col, title in FANS:
        goal = stock_goals().get(col)
        if goal is None or col not in monthly:
            continue
        due = f"{goal[1]}-12" if f"{goal[1]}-12" in set(monthly["date"]) else monthly["date"].max()
        med = monthly[monthly["date"] == due].groupby("scenario", sort=False)[col].median()
        per = ", ".join(f"{name} {fmt_num(v)}" for name, v in med.items())
        lines.append(f"- {title} (target {goal[0]:g} by end {goal[1]}): median in {due}: {per}.")
    return "\n".join(lines)


def zone_matrix(zones: pd.DataFrame) -> pd.DataFrame:
    """Firms and talent per zone at the end: one row per scenario, cells "median (90% band)"."""
    cell = zones.apply(lambda r: f"{fmt_num(r['median'])} ({fmt_num(r['q05'])}-{fmt_num(r['q95'])})", axis=1)
    rows = zones.assign(what=zones["kind"].map(ZONE_WORDS), cell=cell)
    wide = rows.pivot(index="scenario", columns=["what", "zone"], values="cell")
    return wide.reindex(
        index=list(dict.fromkeys(zones["scenario"])),
        columns=list(dict.fromkeys(zip(rows["what"], rows["zone"], strict=True))),
    )


def caption_zones(zones: pd.DataFrame) -> str:
    """Which zone holds most firms and most talent under each scenario, with its share."""
    lines = []
    for name, sub in zones.groupby("scenario", sort=False):
        parts = []
        for kind in ("firms", "talent"):
            k = sub[sub["kind"] == kind].set_index("zone")["median"]
            if len(k) and k.sum() > 0:
                top = k.idxmax()
                parts.append(f"most {ZONE_WORDS[kind]} in the {top} zone ({fmt_num(k[top])}, {k[top] / k.sum():.0%})")
        lines.append(f"- **{name}**: " + "; ".join(parts) + ".")
    return "\n".join(lines)


# ---------------------------------------------------------------- paired differences
def _in_points(diffs: pd.DataFrame) -> pd.DataFrame:
    """Changes in the chance of reaching as percentage points, intervals clipped to the possible -100..100."""
    out = diffs.copy()
    chance = out["kind"] == "p_reach"
    for col in ("mean_diff", "ci_low", "ci_high"):
        out.loc[chance, col] = (100 * out.loc[chance, col]).clip(-100, 100)
    return out


def difference_table(diffs: pd.DataFrame) -> pd.DataFrame:
    """Paired differences in words: one row per measure, one column per scenario, "mean (95% interval)".

    Chances of reaching are given in percentage points, indicators in their own unit.
    """

    def cell(r) -> str:
        digits = 0 if r["kind"] == "p_reach" else 1
        return f"{r['mean_diff']:+.{digits}f} ({r['ci_low']:+.{digits}f} to {r['ci_high']:+.{digits}f})"

    rows = _in_points(diffs)
    rows = rows.assign(measure=rows["measure"].map(measure_text), cell=rows.apply(cell, axis=1))
    wide = rows.pivot(index="measure", columns="scenario", values="cell")
    return wide.reindex(index=list(dict.fromkeys(rows["measure"])), columns=list(dict.fromkeys(rows["scenario"])))


def caption_differences(diffs: pd.DataFrame, top: int = 6) -> str:
    """The largest paired changes whose 95% interval excludes zero: chances of reaching, then indicators."""
    sure = _in_points(diffs).dropna(subset=["ci_low", "ci_high"])
    sure = sure[(sure["ci_low"] > 0) | (sure["ci_high"] < 0)]
    pairs = int(diffs["pairs"].min()) if len(diffs) else 0
    lines = []
    for kind in ("p_reach", "value"):
        sub = sure[sure["kind"] == kind]
        show = fmt_num if kind == "value" else (lambda x: f"{x:.0f}")
        for r in sub.reindex(sub["mean_diff"].abs().sort_values(ascending=False).index).head(top).itertuples():
            what = f"the chance of *{measure_text(r.measure)}*" if kind == "p_reach" else f"*{measure_text(r.measure)}*"
            verb = "raises" if r.mean_diff > 0 else "lowers"
            lines.append(
                f"- **{r.scenario}** {verb} {what} by {show(abs(r.mean_diff))}{' points' if kind == 'p_reach' else ''} "
                f"(95% interval {show(r.ci_low)} to {show(r.ci_high)})."
            )
        if len(sub) > top:
            lines.append(f"- ... and {len(sub) - top} more such changes (table below).")
        if sub.empty and kind == "p_reach":
            lines.append(
                f"- No scenario changes the chance of reaching any target by more than chance allows with {pairs} "
                "paired replications; more replications can reveal smaller effects."
            )
    return "\n".join(lines)


def caption_batches(comparison: Comparison) -> str:
    """Which batches and scenarios the notebook shows, their status, replications and failures."""
    lines = []
    for b in comparison.batches:
        m, c = b.manifest, b.manifest["counts"]
        lines.append(
            f"- batch `{b.id}`: {b.status}, {len(m['scenarios'])} scenario(s) x {m['reps']} replications, "
            f"seed {m['seed']}, {c['ok']} runs finished, {c['failed']} failed, made {m.get('created', '?')}"
            + (f" by `{m['command']}`" if m.get("command") else "")
        )
        lines += [f"  - `{s['name']}`: {s.get('label') or ''}" for s in m["scenarios"][:MAX_SCENARIOS]]
    if comparison.dropped:
        lines.append(f"- Left out (more than {MAX_SCENARIOS} scenarios): {', '.join(comparison.dropped)}.")
    lines.append(f"- Paired differences are taken against **{comparison.reference}**.")
    return "\n".join(lines)
