"""Summaries and figures of batches: target attainment with intervals, fan charts.

All functions take the tidy tables a batch produces (``outcomes``: one row per
run with a ``scenario`` column and ``target__definition`` / ``end_*`` columns;
``monthly``: one row per run and month with ``scenario`` and ``date`` columns)
so they work the same on fresh and on stored batches.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.stats import proportion_ci
from sim.model.targets import TARGETS_BY_NAME, is_target_column, parse_column, target_of

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


# The plan's own reading of each target: the definition the compact table reports.
# The plan (DESIGN.md section 1) counts what investment attraction brings in: "technology projects
# introduced", "graphene projects", "internet projects introduced", "key projects". In Chinese park
# reporting a project is "introduced" (引进) when its agreement is signed; registration and starting
# operations come later and are not what a yearly attraction target counts, so projects are read as
# signed. "80+ graphene projects in total" counts projects, not registered firms, so signed projects
# not yet registered count too. The plan's own 2016 listing target is "3 main-board or NEEQ
# listings", i.e. it counts NEEQ quotation as listing: listed companies and their market value are
# read as exchange + NEEQ. "主板或新三板挂牌企业达到3家" says "reach 3": besides the flow reading
# (listings_2016, 3 listings during 2016) it is read as a level (listings_2016_level, the stock of
# listed firms in December 2016), under the same exchange + NEEQ reading. The other targets have one
# definition each.
PLAN_READING = {
    "tech_projects_each_year": "signed",
    "tech_projects_2016_2020": "signed",
    "listed_companies_2020": "exchange_neeq",
    "listed_market_value_2020": "exchange_neeq",
    "leading_enterprises_2020": "revenue_threshold",
    "graphene_new_2016": "signed",
    "graphene_total_2016": "incl_signed",
    "internet_projects_2016": "signed",
    "listings_2016": "exchange_neeq",
    "listings_2016_level": "exchange_neeq",
    "share_reforms_2016": "completed",
    "reserve_firms_2016": "new_reserve",
    "key_projects_2016": "signed",
}
READING_WORDS = {  # short words for a definition, to fit a column
    "signed": "signed",
    "registered": "registered",
    "started": "started",
    "exchange": "exchange only",
    "exchange_neeq": "exchange+NEEQ",
    "revenue_threshold": "revenue rule",
    "in_park": "in the park",
    "incl_signed": "incl. signed",
    "completed": "completed",
    "new_reserve": "new reserve",
    "main_board_neeq": "main+NEEQ",
}
WIDTH = 120  # every line printed fits a terminal this wide


def plan_reading(target: str) -> str:
    """The definition under which the plan states ``target`` (see :data:`PLAN_READING`)."""
    return PLAN_READING.get(target) or next(iter(TARGETS_BY_NAME[target].columns))


def _chosen(table: pd.DataFrame, all_definitions: bool) -> pd.DataFrame:
    """Rows of a :func:`target_table` under the plan's reading (every definition with ``all_definitions``)."""
    if table.empty or all_definitions:
        return table
    keep = [plan_reading(t) == d for t, d in zip(table["target"], table["definition"], strict=True)]
    return table[keep]


def glance_table(outcomes: pd.DataFrame, group: str = "scenario", all_definitions: bool = False) -> pd.DataFrame:
    """Targets as rows, scenarios as columns: P(reach) under the plan's reading of each target.

    Args:
        outcomes: one row per run.
        group: the column that names scenarios.
        all_definitions: one row per definition of every target instead of the plan's reading only.

    Returns:
        Columns ``target``, ``definition``, ``plan_reading`` (whether the row is the plan's reading),
        ``label`` (the plan's wording), ``goal``, ``unit``, then one column of P(reach) per scenario.
    """
    tt = _chosen(target_table(outcomes, group), all_definitions)
    if tt.empty:
        return pd.DataFrame(columns=["target", "definition", "plan_reading", "label", "goal", "unit"])
    wide = tt.pivot_table(index=["target", "definition"], columns=group, values="p_reach", sort=False, dropna=False)
    order = list(dict.fromkeys(tt[group]))
    rows = list(dict.fromkeys(zip(tt["target"], tt["definition"], strict=True)))
    wide = wide.reindex(index=pd.MultiIndex.from_tuples(rows), columns=order)
    head = pd.DataFrame({
        "target": [t for t, _ in rows], "definition": [d for _, d in rows],
        "plan_reading": [plan_reading(t) == d for t, d in rows],
        "label": [TARGETS_BY_NAME[t].text for t, _ in rows],
        "goal": [TARGETS_BY_NAME[t].threshold for t, _ in rows], "unit": [TARGETS_BY_NAME[t].unit for t, _ in rows],
    })  # fmt: skip
    return pd.concat([head, pd.DataFrame(wide.to_numpy(), columns=order)], axis=1)


def _pct(p: float) -> str:
    return "n/a" if p is None or not np.isfinite(p) else f"{100 * p:.0f}%"


def _legend(names: list, labels: dict) -> list[str]:
    """``[1] baseline: Status quo (2016 levers)`` entries packed into lines of at most :data:`WIDTH`."""
    entries = [
        f"[{i}] {n}: {labels.get(n, n)}" if labels.get(n, n) != n else f"[{i}] {n}" for i, n in enumerate(names, 1)
    ]
    lines, line = [], "  "
    for e in entries:
        if len(line) + len(e) + 3 > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = "  "
        line += e + "   "
    return [*lines, line.rstrip()] if line.strip() else lines


LABEL_W, READING_W, CELL_W = 45, 14, 4


def format_glance(
    outcomes: pd.DataFrame, labels: dict | None = None, group: str = "scenario", all_definitions: bool = False
) -> str:
    """The answer at a glance: P(reach) of every target (rows) under every scenario (numbered columns).

    Args:
        outcomes: one row per run.
        labels: scenario name -> human label (for the legend).
        group: the column that names scenarios.
        all_definitions: a row per definition of each target (the plan's reading marked ``*``).
    """
    labels = labels or {}
    table = glance_table(outcomes, group, all_definitions)
    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    if table.empty:
        return "no finished runs to summarise"
    names = list(table.columns[6:])
    n = ok.groupby(group, sort=False).size()
    reps = f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
    low, high = proportion_ci(np.array([n.min() // 2]), np.array([n.min()]))
    half = 100 * (high[0] - low[0]) / 2
    reading = "every definition, * the plan's reading" if all_definitions else "under the plan's reading"
    out = [
        f"Targets of the 2016 plan: P(reach) per scenario, {reps} replications each, {reading}:",
    ]
    per_table = max(1, (WIDTH - 2 - LABEL_W - 1 - READING_W) // (CELL_W + 1))
    for first in range(0, len(names), per_table):
        chunk = names[first : first + per_table]
        cols = "".join(f" {f'[{first + i}]':>{CELL_W}}" for i, _ in enumerate(chunk, 1))
        out.append(f"  {"target (goal in the plan's units)":<{LABEL_W}} {'reading':<{READING_W}}{cols}")
        previous = None
        for _, r in table.iterrows():
            first_row, previous = r["target"] != previous, r["target"]  # the label heads a target's first row
            lines = textwrap.wrap(r["label"], LABEL_W) if first_row else [""]
            words = _reading(r["target"], r["definition"], all_definitions)
            cells = "".join(f" {_pct(r[c]):>{CELL_W}}" for c in chunk)
            out.append(f"  {lines[0]:<{LABEL_W}} {words:<{READING_W}}{cells}")
            out.extend(f"    {more}" for more in lines[1:])
    out += _legend(names, labels)
    out += [
        f"  P(reach): share of replications reaching the goal; at {n.min()} replications its 95% interval is up to"
        f" +/-{half:.0f} points.",
        "  'every year': reached only if each year 2016-2020 has 200+ projects; its measure is the worst year's count.",
    ]
    out += textwrap.wrap(f"{HINDCAST_NOTE} {H1_NOTE}", WIDTH, initial_indent="  ", subsequent_indent="  ")
    if not all_definitions:
        out.append("  Other readings (registered, started; exchange only; firms in the park): --all-definitions.")
    return "\n".join(out)


def _reading(target: str, definition: str, marked: bool) -> str:
    """Short words for a definition, ``*`` after the plan's reading when every reading is shown."""
    return READING_WORDS.get(definition, definition) + ("*" if marked and plan_reading(target) == definition else "")


def _fmt_band(median: float, q05: float, q95: float, counts: bool = True) -> str:
    """``median (q05-q95)`` with one precision for all three: whole numbers for counts, else one decimal below 100."""
    values = [v for v in (median, q05, q95) if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    whole = counts or max(abs(v) for v in values) >= 100
    f = (lambda v: f"{v:,.0f}") if whole else (lambda v: f"{v:,.1f}")
    return f"{f(median)} ({f(q05)}-{f(q95)})"


def _indicator_words(name: str) -> str:
    from sim.plots.labels import INDICATORS

    return INDICATORS.get(name, name.replace("_", " "))


def _unit(target) -> str:
    return "projects (worst year)" if target.how == "each_year" else target.unit


SIGNED_NOTE = (
    "projects signed since the start counts signings from the run's first month; the 1000 over 2016-2020"
    " counts from January 2016 (from the records, or with the assumed input h1_2016_tech_projects for"
    " January-June 2016 when the run starts in 2016-07)."
)
HINDCAST_NOTE = "2016 targets are a hindcast: 2016-07 to 2017-12 overlaps the park's record, so compare them with it."
H1_NOTE = (
    "2016 flows count January-June 2016 from the run's records when they start by 2016-01 (runs forked from"
    " the 2014 history); runs that start in 2016-07 add the assumed h1_2016_* counts."
)


def format_detail(
    outcomes: pd.DataFrame, labels: dict | None = None, group: str = "scenario", all_definitions: bool = False
) -> str:
    """Per scenario: P(reach) with its 95% interval and the measured value's median and 90% band, then indicators."""
    labels = labels or {}
    tt, it = _chosen(target_table(outcomes, group), all_definitions), indicator_table(outcomes, group)
    out = []
    for i, name in enumerate(tt[group].unique() if len(tt) else [], 1):
        t = tt[tt[group] == name]
        title = f"[{i}] {labels[name]} ({name}" if labels.get(name, name) != name else f"[{i}] {name} ("
        out.append(f"\n== {title}{', ' if title[-1] != '(' else ''}{int(t['n'].max())} replications)")
        out.append(
            f"  {'target':<{LABEL_W}} {'reading':<{READING_W}} {'P(reach) [95% CI]':<17} measure: median (90% band)"
        )
        for r in t.itertuples():
            if r.n == 0:
                continue
            target = TARGETS_BY_NAME[r.target]
            lines = textwrap.wrap(target.text, LABEL_W)
            p = f"{_pct(r.p_reach)} [{_pct(r.p_low)[:-1]}-{_pct(r.p_high)}]"
            band = f"{_fmt_band(r.median, r.q05, r.q95, 'yuan' not in target.unit)} {_unit(target)}"
            words = _reading(r.target, r.definition, all_definitions)
            out.append(f"  {lines[0]:<{LABEL_W}} {words:<{READING_W}} {p:<17} {band}")
            out.extend(f"    {more}" for more in lines[1:])
        ind = it[it[group] == name]
        words = "; ".join(
            f"{_indicator_words(r.indicator)} {_fmt_band(r.median, r.q05, r.q95, 'yuan' not in r.indicator)}"
            for r in ind.itertuples()
        )
        out += textwrap.wrap(
            "at the end (median, 90% band): " + words, WIDTH, initial_indent="  ", subsequent_indent="    "
        )
    if len(it) and (it["indicator"] == "projects_signed_cum").any():
        out += textwrap.wrap("Note: " + SIGNED_NOTE, WIDTH, initial_indent="  ", subsequent_indent="    ")
    if len(tt):
        out += textwrap.wrap("Note: " + HINDCAST_NOTE, WIDTH, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(out)


def format_summary(
    outcomes: pd.DataFrame, labels: dict | None = None, group: str = "scenario", all_definitions: bool = False
) -> str:
    """Plain-text summary: the compact table across scenarios first, then the detail per scenario."""
    return (
        format_glance(outcomes, labels, group, all_definitions)
        + "\n"
        + format_detail(outcomes, labels, group, all_definitions)
    )


def h1_signed(scenarios) -> dict:
    """Scenario name -> technology projects signed January-June 2016 (before the run), scaled like the park.

    ``scenarios``: :class:`~sim.model.scenario.Scenario` objects or the manifest's scenario dicts.
    Zero for a scenario whose records start by 2016-01 (``history_start``): its run has its own
    January-June 2016.
    """
    out = {}
    for s in scenarios or ():
        name, inputs = (s["name"], s.get("inputs", {})) if isinstance(s, dict) else (s.name, dict(s.inputs))
        first = (s.get("history_start") or s.get("start", "")) if isinstance(s, dict) else s.first_month
        before_run = not first or first > "2016-01"
        h1 = float(inputs.get("h1_2016_tech_projects", 0.0)) * float(inputs.get("population_scale", 1.0))
        out[name] = h1 if before_run else 0.0
    return out


def fan_chart(monthly: pd.DataFrame, path: str | Path, scenarios=(), group: str = "scenario") -> Path:
    """Write a PNG of the plan's headline targets over time per scenario (:func:`sim.plots.fan.target_fans`).

    Args:
        monthly: one row per run and month (columns ``group``, ``run``, ``date`` and the metrics).
        path: PNG file to write (folders are created).
        scenarios: the batch's scenarios (objects or manifest dicts), for labels and January-June 2016 counts.
        group: the column that names scenarios.

    Returns:
        The path written.
    """
    from sim.plots import save
    from sim.plots.fan import target_fans

    labels = {
        (s["name"] if isinstance(s, dict) else s.name): (s.get("label") if isinstance(s, dict) else s.label)
        for s in scenarios or ()
    }
    return save(target_fans(monthly, group, labels, h1_signed(scenarios)), path, dpi=110)
