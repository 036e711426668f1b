"""The plan's targets, declared as data, and their evaluation on a run's monthly table.

"Introduced" can mean signed, registered or started, and "listed" can mean
exchange-listed (domestic boards and Hong Kong / US), domestic exchanges only, or
either plus NEEQ: every target is evaluated under
each definition it can have. Yearly flows are counted from the run's own monthly
records: a run whose records cover January 2016 (one forked from the 2014-01
history) counts all of 2016 from them. Only when the records start after
January 2016 (a cold start in 2016-07) are the declared January-June 2016
counts (``h1_2016_*`` initial inputs, an ``[assumption]``) added to the 2016
flow. "Reach 3 listed" is read both as a flow (listings during 2016) and as a
level (the stock at December 2016). A target whose date lies outside the
records evaluates to NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PROJECT_DEFS = ("signed", "registered", "started")
# The first year the plan sets targets for: flows are counted from it and the declared
# January-June counts belong to it [source: the park's 2016 second-half work plan, DESIGN.md 1].
PLAN_FIRST_YEAR = 2016
YEAR_DIGITS = 4  # labels are "YYYY-MM" [definition: the month label format]


@dataclass(frozen=True)
class Target:
    """One target of the plan.

    Attributes:
        name: identifier used in tables and on the command line.
        text: the target as the plan states it.
        threshold: value to reach (reached when the measure is >= threshold).
        unit: unit of the measure.
        year: the year by whose end it must be reached.
        how: ``stock`` (value at the end of ``year``), ``year_flow`` (events in
            ``year``), ``each_year`` (smallest yearly flow 2016..year) or
            ``cumulative`` (events 2016..year).
        columns: definition name -> monthly column that measures it.
        h1_input: the ``h1_2016_*`` input added to 2016 flows, if any.
    """

    name: str
    text: str
    threshold: float
    unit: str
    year: int
    how: str
    columns: dict
    h1_input: str | None = None


def _proj(prefix: str) -> dict:
    return {d: f"{prefix}_{d}_cum" for d in PROJECT_DEFS}


# The plan's targets, each with its threshold and year as the plan states them [source: the
# park's 2016 second-half work plan, DESIGN.md section 1 "Targets"; a sourced table: the plan].
TARGETS = (
    Target(
        "tech_projects_each_year",
        "200 technology projects introduced every year",
        200,
        "projects/year",
        2020,
        "each_year",
        _proj("projects"),
        "h1_2016_tech_projects",
    ),
    Target(
        "tech_projects_2016_2020",
        "1000 technology projects over 2016-2020",
        1000,
        "projects",
        2020,
        "cumulative",
        _proj("projects"),
        "h1_2016_tech_projects",
    ),
    Target(
        "listed_companies_2020",
        "30 listed companies by end 2020",
        30,
        "firms",
        2020,
        "stock",
        {
            "exchange": "listed_exchange",
            "exchange_neeq": "listed_exchange_neeq",
            "domestic_exchange": "listed_domestic",
            "domestic_exchange_neeq": "listed_domestic_neeq",
        },
    ),
    Target(
        "listed_market_value_2020",
        "market value of listed companies 100 bn yuan by 2020",
        100,
        "bn yuan",
        2020,
        "stock",
        {
            "exchange": "market_value_exchange_bn_yuan",
            "exchange_neeq": "market_value_exchange_neeq_bn_yuan",
            "domestic_exchange": "market_value_domestic_bn_yuan",
        },
    ),
    Target(
        "leading_enterprises_2020",
        "30 leading (landmark) enterprises by 2020",
        30,
        "firms",
        2020,
        "stock",
        {"revenue_threshold": "leading_firms"},
    ),
    Target(
        "graphene_new_2016",
        "30+ new graphene projects in 2016",
        30,
        "projects",
        2016,
        "year_flow",
        _proj("graphene_projects"),
        "h1_2016_graphene_projects",
    ),
    Target(
        "graphene_total_2016",
        "80+ graphene projects in total by end 2016",
        80,
        "firms",
        2016,
        "stock",
        {"in_park": "graphene_firms", "incl_signed": "graphene_firms_incl_signed"},
    ),
    Target(
        "internet_projects_2016",
        "35 internet projects introduced in 2016",
        35,
        "projects",
        2016,
        "year_flow",
        _proj("internet_projects"),
        "h1_2016_internet_projects",
    ),
    Target(
        "listings_2016",
        "3 main-board or NEEQ listings in 2016 (read as a flow: listings during 2016)",
        3,
        "firms",
        2016,
        "year_flow",
        {
            "exchange_neeq": ("exchange_listings_cum", "neeq_quotations_cum"),
            "main_board_neeq": ("exchange_listings_main_cum", "neeq_quotations_cum"),
        },
        "h1_2016_listings",
    ),
    Target(
        "listings_2016_level",
        "main-board or NEEQ listed firms reach 3 in 2016 (read as a level: the stock in December 2016)",
        3,
        "firms",
        2016,
        "stock",
        # sums of reporters (not listed_exchange_neeq itself), so that each monthly column keeps one stock goal
        # (sim.plots.labels.stock_goals: listed_exchange_neeq carries the 30-by-2020 goal)
        {"exchange_neeq": ("listed_exchange", "neeq_quoted"), "main_board_neeq": ("listed_main", "neeq_quoted")},
    ),
    Target(
        "share_reforms_2016",
        "7 share reforms in 2016",
        7,
        "firms",
        2016,
        "year_flow",
        {"completed": "share_reforms_cum"},
        "h1_2016_share_reforms",
    ),
    Target(
        "reserve_firms_2016",
        "7 new listing-reserve firms in 2016",
        7,
        "firms",
        2016,
        "year_flow",
        {"new_reserve": "reserve_firms_new_cum"},
        "h1_2016_reserve_firms",
    ),
    Target(
        "key_projects_2016",
        "20 key projects in 2016",
        20,
        "projects",
        2016,
        "year_flow",
        _proj("key_projects"),
        "h1_2016_key_projects",
    ),
)
TARGETS_BY_NAME = {t.name: t for t in TARGETS}
SEPARATOR = "__"  # outcome columns are named target__definition


def column_of(target: str, definition: str) -> str:
    """The outcome column of one target under one definition: ``target__definition``."""
    return f"{target}{SEPARATOR}{definition}"


def parse_column(name: str) -> tuple[str, str]:
    """``target__definition`` -> ``(target, definition)``.

    Raises:
        ValueError: ``name`` is not of that form.
    """
    target, sep, definition = name.partition(SEPARATOR)
    if not sep or not target or not definition or SEPARATOR in definition:
        raise ValueError(f"{name!r} is not a target column (target{SEPARATOR}definition)")
    return target, definition


def is_target_column(name: str) -> bool:
    """Whether ``name`` is ``target__definition`` of a declared target."""
    target, sep, definition = name.partition(SEPARATOR)
    return bool(sep and definition) and target in TARGETS_BY_NAME


def target_of(column: str) -> Target:
    """The declared target a ``target__definition`` column measures."""
    return TARGETS_BY_NAME[parse_column(column)[0]]


def all_columns() -> list[str]:
    """Every ``target__definition`` column, in declaration order."""
    return [column_of(t.name, d) for t in TARGETS for d in t.columns]


class YearEnds:
    """The December values of a run's monthly table: all that a target reads.

    Built once per run; looking values up in numpy arrays instead of through
    pandas indexing makes :func:`evaluate` about ten times cheaper, which counts
    for short runs in large batches.
    """

    def __init__(self, monthly: pd.DataFrame | None = None, *, dates=None, column=None):
        """From a monthly table (index ``date``), or from ``dates`` and ``column(name) -> array``."""
        if monthly is not None:
            dates, column = monthly.index, lambda name: monthly[name].to_numpy()
        self._column = column
        labels = [str(d) for d in dates]
        self._rows = {int(d[:YEAR_DIGITS]): i for i, d in enumerate(labels) if d.endswith("-12")}
        self._arrays: dict[str, np.ndarray] = {}
        self.first = labels[0] if labels else None  # "YYYY-MM" of the first record: where cumulative counts start

    def value(self, column, year: int) -> float:
        """``column`` (a reporter, or a tuple of reporters summed) in December of ``year``; NaN when not simulated."""
        i = self._rows.get(year)
        if i is None:
            return float("nan")
        total = 0
        for c in column if isinstance(column, tuple) else (column,):
            if c not in self._arrays:
                self._arrays[c] = self._column(c)
            total = total + self._arrays[c][i]
        return float(total)


def h1_assumed(ends: YearEnds, start: str) -> bool:
    """Whether 2016 flows need the declared January-June 2016 counts: the records start after 2016-01.

    ``start`` (the scenario's policy start) stands in for the first record only when ``ends``
    does not know its dates. A run forked from the 2014-01 history records 2016-01 itself.
    """
    first = ends.first or start
    return "2016-01" < first <= "2016-12"


def year_flow(ends: YearEnds, column, year: int, start: str, h1: float) -> float:
    """Events during ``year`` from a cumulative-since-the-first-record reporter.

    The flow is the December value less the previous December's; in the year of the
    first record it is the December value itself (the count starts with the records).
    For 2016, when the records start after January 2016 (:func:`h1_assumed`), ``h1``
    (the declared January-June count) is added.
    """
    end = ends.value(column, year)
    if np.isnan(end):
        return end
    first_year = int((ends.first or start)[:YEAR_DIGITS])
    if year < first_year:
        return float("nan")
    before = 0.0 if year == first_year else ends.value(column, year - 1)
    h1_applies = year == PLAN_FIRST_YEAR and h1_assumed(ends, start)
    return end - before + (h1 if h1_applies else 0.0)


def measure(target: Target, monthly: pd.DataFrame | YearEnds, start: str, inputs: dict, column) -> float:
    """The measured value of one target under one definition."""
    ends = monthly if isinstance(monthly, YearEnds) else YearEnds(monthly)
    # January-June 2016 counts are for the whole park: scale them like the simulated population
    h1 = (
        float(inputs.get(target.h1_input, 0.0)) * float(inputs.get("population_scale", 1.0)) if target.h1_input else 0.0
    )
    if target.how == "stock":
        return ends.value(column, target.year)
    if target.how == "year_flow":
        return year_flow(ends, column, target.year, start, h1)
    flows = [year_flow(ends, column, y, start, h1) for y in range(PLAN_FIRST_YEAR, target.year + 1)]
    if any(np.isnan(f) for f in flows):
        return float("nan")
    if target.how == "each_year":
        return float(min(flows))
    return float(sum(flows))


def evaluate(monthly: pd.DataFrame | YearEnds, start: str, inputs: dict) -> dict[str, float]:
    """Every target under every definition: ``{name}__{definition}`` -> measured value.

    Use :func:`reached` to turn values into booleans.
    """
    ends = monthly if isinstance(monthly, YearEnds) else YearEnds(monthly)
    out = {}
    for t in TARGETS:
        for definition, column in t.columns.items():
            out[column_of(t.name, definition)] = measure(t, ends, start, inputs, column)
    return out


def reached(values: dict[str, float]) -> dict[str, float]:
    """1.0 / 0.0 per target-definition (NaN stays NaN when not evaluable)."""
    out = {}
    for key, value in values.items():
        target = target_of(key)
        out[key] = float("nan") if np.isnan(value) else float(value >= target.threshold)
    return out
