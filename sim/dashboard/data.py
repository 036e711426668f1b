"""What the dashboard reads from stored batches and computes, without any user interface.

Everything here takes and returns plain pandas tables (or dicts and dataclasses)
so that it has ordinary unit tests; :mod:`sim.dashboard.app` only lays it out.
Scenarios and targets appear under their human labels (the scenario files'
``label``, the plan's wording of the targets), never as code names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.model.params import LEVERS
from sim.model.targets import TARGETS, TARGETS_BY_NAME
from sim.plots.labels import definition_text

FINISHED = ("complete", "complete-with-failures")
# (monthly column, panel title, unit on the axis); the five series the plan's targets are about
FAN_SERIES = (
    ("projects_signed_cum", "Technology projects signed since 2016-01", "projects"),
    ("listed_exchange_neeq", "Listed companies (exchange + NEEQ)", "firms"),
    ("listed_exchange", "Exchange-listed companies", "firms"),
    ("market_value_exchange_neeq_bn_yuan", "Market value of listed companies (exchange + NEEQ)", "bn yuan"),
    ("leading_firms", "Leading (landmark) enterprises", "firms"),
    ("graphene_firms", "Graphene firms in the park", "firms"),
)
ZONES = ("north", "central", "south")
ZONE_ROLES = {  # the plan's roles of the three zones (docs: DESIGN.md section 1)
    "north": "manufacturing base for emerging industries, ecological agriculture, small-town renewal",
    "central": "R&D, incubation and acceleration; carbon materials, medical devices, internet, film; China-Israel park",
    "south": "high-end R&D, health and wellness, headquarters economy, finance centre, culture and tourism",
}
INDUSTRY_WORDS = {
    "graphene": "graphene / advanced carbon",
    "health": "health (medical devices, services)",
    "internet": "internet (incl. e-commerce)",
    "culture": "film, culture and tourism",
    "other_tech": "other technology",
}
STAGE_WORDS = {"signed": "signed", "registered": "registered", "operating": "operating", "growing": "growing",
               "mature": "mature"}  # fmt: skip
LEVER_LABELS = {  # plain-language names of the plan's levers (the declarations carry unit, range and a one-line doc)
    "eco_max_pollution_index": "Eco-standard entry threshold (highest pollution index admitted)",
    "attraction_effort_index": "Investment-attraction effort",
    "key_project_focus_share": "Share of effort on large key projects",
    "israel_projects_per_year": "Extra Israeli project leads (China-Israel park)",
    "finance_supermarket_loans_per_year": "Finance supermarket: loans brokered",
    "finance_supermarket_loan_myuan": "Finance supermarket: average loan",
    "vc_cluster_index": "Strength of the VC cluster / finance centre",
    "guidance_fund_myuan": "Government guidance fund",
    "listing_subsidy_myuan": "Listing subsidy (share reform, NEEQ, IPO)",
    "listing_reserve_support": "Coaching of listing-reserve firms",
    "leading_support_firms": "One enterprise, one policy: firms supported",
    "leading_support_myuan_per_year": "One enterprise, one policy: support per firm",
    "talent_subsidy_yuan_per_month": "Talent subsidy for new arrivals",
    "services_north_index": "Public services, north zone",
    "services_central_index": "Public services, central zone",
    "services_south_index": "Public services, south zone",
    "land_north_m2_per_year": "New floor space, north zone",
    "land_central_m2_per_year": "New floor space, central zone",
    "land_south_m2_per_year": "New floor space, south zone",
}
PACKAGE_NAME = "dashboard_package"


# ---------------------------------------------------------------- batches
def finished_batches(root: str | Path) -> list[dict]:
    """The finished batches under ``root`` (newest first), each with a one-line ``choice`` description."""
    from sim.store import list_batches

    if not Path(root).is_dir():
        return []
    rows = [r for r in list_batches(root) if r.get("status") in FINISHED]
    for r in rows:
        r["choice"] = f"{r['id']}: {r['scenarios']} scenarios x {r['reps']} replications ({r['created'][:16]})"
    return sorted(rows, key=lambda r: r.get("created", ""), reverse=True)


@dataclass
class View:
    """Finished runs of the chosen batches, scenario keys made unique, with their human labels.

    Attributes:
        outcomes: one row per finished run (``scenario`` holds the unique key).
        monthly: one row per run and month of the columns the dashboard draws.
        labels: scenario key -> human label (unique).
        ids: the batch ids shown.
    """

    outcomes: pd.DataFrame
    monthly: pd.DataFrame
    labels: dict
    ids: list
    inputs: dict = None


def monthly_columns() -> list[str]:
    """The monthly columns the dashboard reads (each once): fan series, zones, industries and stages."""
    zone = [f"{k}_{z}" for k in ("firms", "talent", "occupancy") for z in ZONES]
    rest = zone + [f"{i}_firms" for i in INDUSTRY_WORDS] + [f"stage_{s}" for s in STAGE_WORDS]
    return list(dict.fromkeys([c for c, _, _ in FAN_SERIES] + rest))


def load_view(ids: list[str], root: str | Path) -> View:
    """Read the chosen batches (only the columns drawn) into one :class:`View`.

    Raises:
        StoreError / NotABatch: a batch that cannot be read (the CLI's messages).
    """
    from sim.analysis.compare import gather
    from sim.run.batch import load_batch

    batches = [load_batch(i, root=root) for i in ids]
    outcomes, monthly = gather(batches, monthly_columns())
    return View(outcomes, monthly, scenario_labels(batches), list(ids), scenario_inputs(batches))


def scenario_inputs(batches) -> dict[str, dict]:
    """Scenario key -> its resolved inputs, as the manifest stores them."""
    from sim.analysis.compare import _labelled

    return {mapping[s["name"]]: dict(s.get("inputs") or {}) for b, mapping in _labelled(batches)
            for s in b.manifest["scenarios"]}  # fmt: skip


def scenario_labels(batches) -> dict[str, str]:
    """Scenario key (as :func:`sim.analysis.compare.gather` names it) -> a unique human label."""
    from sim.analysis.compare import _labelled

    pairs = []
    for batch, mapping in _labelled(batches):
        for s in batch.manifest["scenarios"]:
            pairs.append((mapping[s["name"]], s.get("label") or s["name"], batch.id))
    texts = [t for _, t, _ in pairs]
    return {key: (f"{text} ({bid})" if texts.count(text) > 1 else text) for key, text, bid in pairs}


def relabel(frame: pd.DataFrame, labels: dict, column: str = "scenario") -> pd.DataFrame:
    """A copy of ``frame`` whose ``column`` holds the human labels."""
    out = frame.copy()
    out[column] = out[column].map(lambda k: labels.get(k, k))
    return out


# ---------------------------------------------------------------- targets
def reach_table(outcomes: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """P(reach) of every target under every definition, per scenario, with its 95% Wilson interval.

    Columns: ``scenario`` (label), ``target`` (the plan's wording), ``definition`` (words),
    ``goal`` (threshold and unit), ``p_reach``, ``p_low``, ``p_high``, ``runs``, ``median``.
    Targets the run window leaves out (no finished value) are dropped.
    """
    from sim.analysis.report import target_table

    if outcomes.empty:
        return pd.DataFrame(columns=["scenario", "target", "definition", "goal", "p_reach", "p_low", "p_high"])
    t = target_table(outcomes)
    t = t[t["n"] > 0].copy()
    t["scenario"] = t["scenario"].map(lambda k: labels.get(k, k))
    t["goal"] = [f"{th:g} {unit}" for th, unit in zip(t["threshold"], t["unit"], strict=True)]
    t["target"] = t["target"].map(lambda n: TARGETS_BY_NAME[n].text)
    t["definition"] = t["definition"].map(definition_text)
    t = t.rename(columns={"n": "runs"})
    return t[["scenario", "target", "definition", "goal", "p_reach", "p_low", "p_high", "runs", "median"]]


def reach_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`reach_table` for people: percentages with the interval in words."""
    out = table[["scenario", "target", "definition", "goal"]].copy()
    out["chance of reaching"] = [f"{100 * p:.0f}%" for p in table["p_reach"]]
    bounds = zip(table["p_low"], table["p_high"], strict=True)
    out["95% interval"] = [f"{100 * lo:.0f}% to {100 * hi:.0f}%" for lo, hi in bounds]
    out["replications"] = table["runs"].astype(int)
    return out.rename(columns=str.capitalize).reset_index(drop=True)


def reach_figure(outcomes: pd.DataFrame, labels: dict):
    """The bar chart of :func:`sim.plots.targets.target_chart` with scenarios under their labels."""
    from sim.analysis.report import target_table
    from sim.plots.targets import target_chart

    t = target_table(relabel(outcomes, labels))
    return target_chart(t[t["n"] > 0]) if not t.empty else None


# ---------------------------------------------------------------- fan charts
def history_points(history: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Monthly column -> the park's published levels that it stands for (``date``, ``value``, ``source``).

    Only level figures (stocks) in the model's own unit are overlaid; counts that need an
    offset (projects since some earlier year) are left to the calibration report.
    """
    from sim.calibration.data import load_history
    from sim.calibration.observe import LEVEL, QUANTITIES

    data = load_history() if history is None else history
    out: dict[str, list] = {}
    for row in data.itertuples():
        q = QUANTITIES.get((row.series, row.frame))
        if q is None or q.measure != LEVEL or row.kind != "stock" or q.offset_input:
            continue
        out.setdefault(q.column, []).append(
            {"date": pd.Timestamp(row.date), "value": float(row.value) / q.to_unit, "frame": row.frame}
        )
    return {col: pd.DataFrame(rows).sort_values("date") for col, rows in out.items()}


def cumulative_goals(inputs: dict[str, dict], records_from_2016: bool = False) -> dict[str, tuple[float, int, str]]:
    """Fan column -> (goal within the run, year due, words) of the plan's cumulative project target.

    The 1000-project target counts from January 2016. A run forked from the 2014 history
    records January-June 2016 itself (``records_from_2016``: the panel is then drawn as
    signings since 2016-01, see :func:`since_2016`), so the goal is the whole 1000; a cold
    start in 2016-07 misses that half-year, and the declared ``h1_2016_tech_projects``
    input is taken off the goal instead.
    """
    t = TARGETS_BY_NAME["tech_projects_2016_2020"]
    if records_from_2016:
        return {"projects_signed_cum": (t.threshold, t.year, f"{t.threshold:g} over 2016-2020, counted from 2016-01")}
    h1s = [float(v[t.h1_input]) for v in (inputs or {}).values() if t.h1_input in v]
    h1 = float(np.median(h1s)) if h1s else 0.0  # the scenarios of a study share the record of H1 2016
    return {"projects_signed_cum": (t.threshold - h1, t.year, f"{t.threshold:g} over 2016-2020 less {h1:g} in H1 2016")}


def since_2016(monthly: pd.DataFrame, column: str = "projects_signed_cum") -> tuple[pd.DataFrame, bool]:
    """Rebase a cumulative column to each run's December 2015 (blank before 2016) when the records hold it."""
    dates = monthly["date"].astype(str)
    if column not in monthly or not (dates == "2015-12").any():
        return monthly, False
    keys = [k for k in ("scenario", "run", "replicate") if k in monthly]
    base = monthly[dates == "2015-12"].set_index(keys)[column]
    at = monthly.set_index(keys).index.map(base.to_dict().get)
    rebased = monthly[column].to_numpy(float) - np.asarray(at, float)
    return monthly.assign(**{column: np.where(dates >= "2016-01", rebased, np.nan)}), True


def fan_figure(view: View, history: dict[str, pd.DataFrame] | None = None):
    """Fan charts (median, 90% band) of the five target series, targets and due dates marked, history overlaid."""
    from sim.plots.fan import fan_chart, target_line

    if view.monthly.empty:
        return None
    monthly, from_2016 = since_2016(view.monthly)
    monthly = relabel(monthly, view.labels)
    panels = [(c, f"{title} ({unit})") for c, title, unit in FAN_SERIES if c in monthly]
    fig = fan_chart(monthly, panels, ncols=2)
    dates = pd.to_datetime(pd.Series(sorted(monthly["date"].unique())))
    goals = cumulative_goals(view.inputs, from_2016)
    history = history_points() if history is None else history
    for ax, (col, _title) in zip(fig.axes, panels, strict=False):
        unit = next(u for c, _, u in FAN_SERIES if c == col)
        ax.set_ylabel(unit, fontsize=8)
        if col in goals:
            target_line(ax, goals[col][0], goals[col][1], dates)
            ax.set_title(f"{ax.get_title()}\ntarget line: {goals[col][2]}", fontsize=9)
        points = history.get(col)
        if points is not None:
            inside = points[
                (points["date"] >= dates.iloc[0] - pd.DateOffset(years=3)) & (points["date"] <= dates.iloc[-1])
            ]
            if len(inside):
                ax.plot(inside["date"], inside["value"], "o", color="crimson", ms=5, zorder=7,
                        label="historical record")  # fmt: skip
                ax.legend(fontsize=7, loc="upper left")
    return fig


# ---------------------------------------------------------------- paired differences
def paired_table(outcomes: pd.DataFrame, labels: dict, scenario: str, reference: str) -> pd.DataFrame:
    """``scenario`` minus ``reference``, run by run on shared seeds: change in P(reach) per target and definition.

    Replicate i of each scenario of a batch shares a seed (common random numbers), so
    the difference of a pair is due to policy alone; 95% t interval on the mean.
    """
    from sim.analysis.compare import paired_differences
    from sim.plots.labels import measure_text

    two = outcomes[outcomes["scenario"].isin([scenario, reference])]
    diffs = paired_differences(two, reference)
    diffs = diffs[(diffs["kind"] == "p_reach") & diffs["mean_diff"].notna()]
    if diffs.empty or int(diffs["pairs"].max()) == 0:
        return pd.DataFrame(columns=["Target (definition)", "Change in chance (points)", "95% interval", "Pairs"])
    bounds = zip(diffs["ci_low"], diffs["ci_high"], strict=True)
    return pd.DataFrame({
        "Target (definition)": diffs["measure"].map(measure_text).to_numpy(),
        "Change in chance (points)": [f"{100 * m:+.0f}" for m in diffs["mean_diff"]],
        "95% interval": [f"{100 * lo:+.0f} to {100 * hi:+.0f}" for lo, hi in bounds],
        "Pairs": diffs["pairs"].astype(int).to_numpy(),
    })  # fmt: skip


def paired_figure(outcomes: pd.DataFrame, labels: dict, scenario: str, reference: str):
    """:func:`sim.plots.differences.difference_chart` of ``scenario`` against ``reference``, in labels."""
    from sim.analysis.compare import paired_differences
    from sim.plots.differences import difference_chart

    two = relabel(outcomes[outcomes["scenario"].isin([scenario, reference])], labels)
    diffs = paired_differences(two, labels.get(reference, reference))
    ok = diffs[(diffs["kind"] == "p_reach") & diffs["mean_diff"].notna()]
    return difference_chart(diffs) if len(ok) and int(ok["pairs"].max()) > 0 else None


# ---------------------------------------------------------------- the park as a place
def months(monthly: pd.DataFrame) -> list[str]:
    """The months of the runs, ``YYYY-MM``, in order."""
    return [pd.Timestamp(d).strftime("%Y-%m") for d in sorted(monthly["date"].unique())]


def park_snapshot(monthly: pd.DataFrame, scenario: str, month: str) -> dict[str, pd.DataFrame]:
    """Median over replications, in one month of one scenario: per zone, per industry and per stage.

    Returns:
        ``zones`` (zone, firms, talent_people, occupancy_share), ``industries`` (industry, firms)
        and ``stages`` (stage, firms).
    """
    runs = monthly[(monthly["scenario"] == scenario) & (pd.to_datetime(monthly["date"]).dt.strftime("%Y-%m") == month)]
    med = runs.median(numeric_only=True)
    zones = pd.DataFrame({
        "zone": list(ZONES),
        "firms": [med.get(f"firms_{z}", np.nan) for z in ZONES],
        "talent_people": [med.get(f"talent_{z}", np.nan) for z in ZONES],
        "occupancy_share": [med.get(f"occupancy_{z}", np.nan) for z in ZONES],
    })  # fmt: skip
    industries = pd.DataFrame({"industry": [INDUSTRY_WORDS[i] for i in INDUSTRY_WORDS],
                               "firms": [med.get(f"{i}_firms", np.nan) for i in INDUSTRY_WORDS]})  # fmt: skip
    stages = pd.DataFrame({"stage": list(STAGE_WORDS.values()),
                           "firms": [med.get(f"stage_{s}", np.nan) for s in STAGE_WORDS]})  # fmt: skip
    return {"zones": zones, "industries": industries, "stages": stages}


def park_figure(snapshot: dict[str, pd.DataFrame], title: str):
    """A schematic map of the zones (north on top: firms, talent, occupancy) beside bars of industries and stages."""
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    from sim.plots import figure

    fig = figure(11.5, 5.2)
    gs = fig.add_gridspec(2, 2, width_ratios=[1.2, 1], hspace=0.55, wspace=0.75, left=0.02, right=0.98)
    ax = fig.add_subplot(gs[:, 0])
    cmap = colormaps["Greens"]
    for k, r in enumerate(snapshot["zones"].itertuples()):
        y = 2 - k  # north at the top of the map
        occ = 0.0 if not np.isfinite(r.occupancy_share) else float(r.occupancy_share)
        ax.add_patch(Rectangle((0, y), 1, 0.92, facecolor=cmap(0.05 + 0.45 * min(occ, 1.0)), edgecolor="black"))
        ax.text(0.02, y + 0.8, f"{r.zone.capitalize()} zone", fontsize=11, weight="bold", va="top")
        ax.text(0.02, y + 0.6, _wrap(ZONE_ROLES[r.zone], 70), fontsize=7, va="top", style="italic")
        ax.text(0.02, y + 0.22, f"firms: {_n(r.firms)}    talent: {_n(r.talent_people)} people\n"
                f"occupancy: {_pct(occ)} of floor space", fontsize=9, va="center")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 2.95)
    ax.set_axis_off()
    ax.set_title("The park's three zones (schematic, north at the top; colour: occupancy)", fontsize=9)
    for row, (key, col) in enumerate((("industries", "industry"), ("stages", "stage"))):
        bx = fig.add_subplot(gs[row, 1])
        part = snapshot[key]
        bx.barh(part[col], part["firms"].fillna(0), color="tab:blue")
        bx.invert_yaxis()
        bx.set_xlabel("firms (median over replications)", fontsize=8)
        bx.set_title(
            "Firms in the park by industry" if key == "industries" else "Firms by stage (signed: not yet in the park)",
            fontsize=9,
        )
        bx.tick_params(labelsize=8)
    fig.suptitle(title, fontsize=11)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _n(x) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:,.0f}"


def _pct(x) -> str:
    return f"{100 * x:.0f}%"


# ---------------------------------------------------------------- trying a package
@dataclass(frozen=True)
class LeverSpec:
    """One lever as the dashboard shows it: plain label, unit, declared range, default and slider step."""

    name: str
    label: str
    unit: str
    low: float
    high: float
    default: float
    step: float
    integer: bool
    description: str


def lever_specs(base=None) -> list[LeverSpec]:
    """Every declared lever (:data:`sim.model.params.LEVERS`), defaults from ``base`` (a scenario) when given."""
    out = []
    for name, p in LEVERS.items():
        default = float(base[name]) if base is not None else float(p.default)
        step = 1.0 if p.integer else _slider_step(p.high - p.low)
        out.append(LeverSpec(name, LEVER_LABELS.get(name, name.replace("_", " ")), p.unit, float(p.low),
                             float(p.high), default, step, p.integer, p.doc))  # fmt: skip
    return out


def _slider_step(span: float) -> float:
    """The power of ten at or below a hundredth of ``span`` (found by steps: no transcendental calls in sim/)."""
    step = 1.0
    while step > span / 100:
        step /= 10
    while step * 10 <= span / 100:
        step *= 10
    return step


def package_scenario(base, values: dict[str, float]):
    """``base`` with the levers that differ from it changed, named and labelled as the dashboard's package.

    Raises:
        InputError: a lever out of its declared range or of the wrong kind (the same message as the CLI).
    """
    changed = {k: (int(v) if LEVERS[k].integer and float(v).is_integer() else v) for k, v in values.items()
               if k in LEVERS and v != base[k]}  # fmt: skip
    words = ", ".join(f"{LEVER_LABELS.get(k, k)} {v:g} {LEVERS[k].unit}" for k, v in changed.items()) or "no change"
    return base.with_values(name=PACKAGE_NAME, label=f"Package tried: {words}", **changed)


def launch(base_ref: str, values: dict[str, float], reps: int, root: str | Path, *, seed: int = 2016,
           workers: int = 2, batch_id: str | None = None):  # fmt: skip
    """Run the base scenario and the package ``reps`` times on common seeds, stored under ``root`` like any batch.

    Raises:
        InputError: an unknown base scenario, a lever out of range, ``reps`` < 1.
        StoreError / ExecutorError: the run could not be stored or executed.
    """
    from sim.errors import InputError
    from sim.model.scenario import load_scenario
    from sim.run.batch import run_batch

    if int(reps) < 1:
        raise InputError("parksim dashboard", "replications", f"must be at least 1, got {reps!r}")
    base = load_scenario(base_ref)
    package = package_scenario(base, values)
    command = f"parksim dashboard: {base.name} and {package.label} x{reps}"
    return run_batch([base, package], reps=int(reps), seed=seed, workers=workers, out_root=str(root),
                     batch_id=batch_id, command=command, progress=False)  # fmt: skip


def runs_done(folder: str | Path) -> int:
    """Runs stored so far in a batch folder (read from the Parquet parts' metadata; 0 before the first)."""
    import pyarrow.parquet as pq

    from sim.store import part_files

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    try:
        return sum(pq.read_metadata(p).num_rows for p in part_files(folder, "outcomes"))
    except Exception:  # noqa: BLE001 - a part being written or merged right now: count it next time
        return 0


def target_names() -> list[str]:
    """The plan's targets in words, in declaration order."""
    return [t.text for t in TARGETS]
