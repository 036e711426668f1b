"""What is measured: event counters and the monthly reporters, declared in one place.

Reporters are plain functions of the model registered with :func:`reporter`;
the model calls :func:`record` once a month and gets one row (a dict) back.
Firm counts include only firms in the park (registered or later) unless the
name says otherwise; talent figures are people (agents times their scale).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from sim.model import markets, portable
from sim.model.arrivals import CATEGORIES
from sim.model.context import ModelContext
from sim.model.firms import (
    GROWING,
    IPO_FILED,
    LISTED,
    LISTING_STATES,
    MATURE,
    NEEQ,
    NEEQ_FILED,
    OPERATING,
    REFORMED,
    REGISTERED,
    SIGNED,
    STAGES,
    is_one_of,
)
from sim.model.listing import valuation_myuan
from sim.model.params import INDUSTRIES, ZONES
from sim.model.units import MONTHS_PER_YEAR, MYUAN_PER_BNYUAN, YUAN_PER_MYUAN

GRAPHENE = INDUSTRIES.index("graphene")
IN_PARK = (REGISTERED, OPERATING, GROWING, MATURE)
COUNTED_EVENTS = (
    "projects_signed",
    "projects_registered",
    "projects_started",
    "graphene_projects_signed",
    "graphene_projects_registered",
    "graphene_projects_started",
    "internet_projects_signed",
    "internet_projects_registered",
    "internet_projects_started",
    "key_projects_signed",
    "key_projects_registered",
    "key_projects_started",
    "israeli_projects_signed",
    "high_pollution_signed",
    "leads",
    "leads_refused_eco",
    "share_reforms",
    "neeq_quotations",
    "exchange_listings",
    *(f"exchange_listings_{b}" for b in markets.BOARDS[1:]),
    "ipo_filings",
    "ipo_rejections",
    "neeq_delistings",
    "reserve_firms_new",
    "vc_deals",
    "loans",
    "closed",
    "relocated_out",
    "abandoned",
    "talent_arrived",
    "talent_left",
)
# Outside option and EIA categories (sim.model.arrivals, sim.model.lifecycle): leads lost to
# competing parks or for want of land, and leads, refusals and signings by EIA category.
COUNTED_EVENTS += (
    "leads_lost_outside",
    "leads_lost_no_land",
    *(f"leads_{c}" for c in CATEGORIES),
    *(f"leads_refused_eco_{c}" for c in CATEGORIES),
    *(f"{c}_projects_signed" for c in CATEGORIES),
    *(f"high_pollution_{c}_signed" for c in CATEGORIES),
)
# Firm dynamics and talent (sim.model.arrivals, lifecycle, talent): foreign-capital projects,
# closures for want of cash, and the talent flows that make turnover measurable.
COUNTED_EVENTS += (
    *(f"foreign_projects_{e}" for e in ("signed", "registered", "started")),
    "closed_cash_out",
    "talent_quits",
    "talent_laid_off",
)


class Counters:
    """Cumulative event counts since the start of the run."""

    def __init__(self):
        self.total: dict[str, float] = defaultdict(float)
        self.transitions: set[tuple[int, int]] = set()
        # totals at the end of the last recorded December: the base of the year-to-date reporters
        self.year_base: dict[str, float] = {}
        # totals when the scenario's own levers took over (its start): the base of the lever costs
        self.policy_base: dict[str, float] = {}

    def mark_policy_start(self) -> None:
        """Remember the totals at the scenario's start, so costs count what its own levers spend."""
        self.policy_base = dict(self.total)

    def since_policy_start(self, name: str) -> float:
        """Events (or m yuan) of kind ``name`` since the scenario's start (since the run's start without a fork)."""
        return self.total[name] - self.policy_base.get(name, 0.0)

    def year_to_date(self, name: str) -> float:
        """Events of kind ``name`` since January of the current year (or since the run's start, if later)."""
        return self.total[name] - self.year_base.get(name, 0.0)

    def add(self, name: str, n: float) -> None:
        """Count ``n`` events of kind ``name``."""
        self.total[name] += n

    def record_transitions(self, old: np.ndarray, new: int) -> None:
        """Remember which listing transitions happened (checked by the tests)."""
        new = int(new)
        self.transitions.update({(o, new) for o in old.tolist()})  # np.unique costs ~5 us on a few rows


REPORTERS: dict[str, Callable] = {}
UNITS: dict[str, str] = {}
# Reporters that only read one event counter: name -> (event, year to date?, the reporter).
# :func:`record` reads these counters directly (the values their reporters return) instead of
# calling about fifty one-line functions a month, as long as the registered reporter is that one.
_COUNTER_OF: dict[str, tuple[str, bool, Callable]] = {}


_PLAN: list = [None, ()]  # [the registry's items it was built for, plan]


def _plan() -> tuple[tuple[str, Callable, str | None, bool], ...]:
    """(name, reporter, counter event or None, year to date?) in order; rebuilt when the registry changes."""
    items = tuple(REPORTERS.items())  # a few microseconds; catches any change to REPORTERS, however made
    if _PLAN[0] != items:
        _PLAN[0] = items
        plan = []
        for name, fn in items:
            event, ytd, registered = _COUNTER_OF.get(name, (None, False, None))
            plan.append((name, fn, event, ytd) if fn is registered else (name, fn, None, False))
        _PLAN[1] = tuple(plan)
    return _PLAN[1]


def reporter(name: str, unit: str):
    """Register a monthly reporter under ``name`` with its unit."""

    def wrap(fn):
        REPORTERS[name] = fn
        UNITS[name] = unit
        return fn

    return wrap


def in_park(ctx: ModelContext) -> np.ndarray:
    """Rows of firms in the park (registered or later).

    While :func:`record` runs they come from ``ctx.in_park_rows`` (computed once a
    month instead of once per reporter, about 30 times); otherwise from the table.
    """
    rows = ctx.in_park_rows
    return ctx.firms.in_stage(*IN_PARK) if rows is None else rows


def once(ctx: ModelContext, key: str, compute: Callable):
    """``compute()``, once per :func:`record` call for each ``key`` (every call outside a record).

    Several reporters read the same column of the firms in the park (a stage
    count, the listing states, the market values): the first computes it and
    the rest read it from ``ctx.record_memo``, which :func:`record` empties when
    it starts and ends, under the same rule as ``ctx.in_park_rows``.
    """
    memo = getattr(ctx, "record_memo", None)  # None outside record, and on contexts built by hand
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def tally(ctx: ModelContext) -> dict:
    """Counts and revenue sums over the firms in the park that about forty reporters read (once per record).

    ``industry``, ``zone`` and ``listing``: firms per code; ``listed_board``: listed firms per
    board; ``israeli``, ``foreign``, ``leading``, ``supported``, ``vc_backed``,
    ``high_pollution`` and ``graphene_neeq``: firms with the flag (ints); ``revenue``: the
    park's revenue (m yuan/year) and ``revenue_industry`` each industry's (floats). One
    compiled pass (:func:`sim.model._jit_metrics.tally`, the same sums in the same order)
    unless ``PARKSIM_NO_JIT`` is set; :func:`tally_numpy` is the reference.
    """
    memo = getattr(ctx, "record_memo", None)
    if memo is not None and "tally" in memo:  # about forty reads a record: once()'s rule without its calls
        return memo["tally"]
    return once(ctx, "tally", lambda: _tally_compiled(ctx) if portable.USE_JIT else tally_numpy(ctx))


def tally_numpy(ctx: ModelContext) -> dict:
    """:func:`tally` by numpy masks and sums, as each reporter computed its figure before."""
    from sim.model.arrivals import HIGH_POLLUTION_INDEX

    f, rows = ctx.firms, in_park(ctx)
    industry, listing, revenue, zone = f.industry[rows], f.listing[rows], f.revenue_myuan[rows], f.zone[rows]
    quoted = rows[listing == NEEQ]
    innovation, select = markets.neeq_tiers(
        ctx.params,
        ctx.month,
        {
            "p1": f.profit_y1_myuan[quoted],
            "p2": f.profit_y2_myuan[quoted],
            "neeq_months": ctx.month - f.quoted_month[quoted],
        },
    )
    live = f.live()
    return {
        "industry": np.bincount(industry, minlength=len(INDUSTRIES)),
        "zone": np.bincount(zone[zone >= 0], minlength=len(ZONES)),
        "listing": np.bincount(listing, minlength=len(LISTING_STATES)),
        "listed_board": np.bincount(f.board[rows][listing == LISTED], minlength=len(markets.BOARDS)),
        "israeli": int(f.israeli[rows].sum()),
        "foreign": int(f.foreign[rows].sum()),
        "leading": int(f.leading[rows].sum()),
        "supported": int(f.supported[rows].sum()),
        "vc_backed": int(f.vc_backed[rows].sum()),
        "high_pollution": int((f.pollution_index[rows] > HIGH_POLLUTION_INDEX).sum()),
        "graphene_neeq": int(((listing == NEEQ) & (industry == GRAPHENE)).sum()),
        "neeq_innovation": int(innovation.sum()),
        "neeq_select": int(select.sum()),
        "revenue": float(revenue.sum()),
        "revenue_industry": [float(revenue[industry == i].sum()) for i in range(len(INDUSTRIES))],
        "stage": np.bincount(f.stage[live], minlength=len(STAGES)),
        "graphene_incl_signed": int((f.industry[live] == GRAPHENE).sum()),
        "talent_zone": np.bincount(ctx.talent.zone, minlength=len(ZONES)),
        "employed": int((ctx.talent.employer >= 0).sum()),
    }


def _tally_compiled(ctx: ModelContext) -> dict:
    """:func:`tally` by one pass of the compiled loop, unpacked into the same keys and types."""
    from sim.model import _jit_metrics as jit
    from sim.model.arrivals import HIGH_POLLUTION_INDEX

    f = ctx.firms
    sizes = (len(INDUSTRIES), len(ZONES), len(LISTING_STATES), len(markets.BOARDS))
    counts, sums = jit.tally(
        np.asarray(in_park(ctx), dtype=np.int64),
        f.industry,
        f.zone,
        f.listing,
        f.board,
        f.israeli,
        f.foreign,
        f.leading,
        f.supported,
        f.vc_backed,
        f.pollution_index,
        f.revenue_myuan,
        float(HIGH_POLLUTION_INDEX),
        sizes,
        LISTED,
        NEEQ,
        GRAPHENE,
        f.profit_y1_myuan,
        f.profit_y2_myuan,
        f.quoted_month,
        ctx.month,
        markets.TIER_RULES,
        markets.tiers_open(ctx.params, ctx.month),
    )
    out, at = {}, 0
    for name, size in zip(("industry", "zone", "listing", "listed_board"), sizes, strict=True):
        out[name] = counts[at : at + size]
        at += size
    for name, value in zip(jit.SINGLE_COUNTS, counts[at:].tolist(), strict=True):
        out[name] = value
    out["revenue"] = float(sums[0])
    out["revenue_industry"] = sums[1:].tolist()
    census = jit.census(
        f.n, f.alive, f.stage, f.industry, len(STAGES), GRAPHENE, ctx.talent.zone, ctx.talent.employer, len(ZONES)
    )
    out["stage"] = census[: len(STAGES)]
    out["graphene_incl_signed"] = int(census[len(STAGES)])
    out["talent_zone"] = census[len(STAGES) + 1 : len(STAGES) + 1 + len(ZONES)]
    out["employed"] = int(census[-1])
    return out


for _i, _ind in enumerate(INDUSTRIES):
    reporter(f"{_ind}_firms", "firms")(lambda m, i=_i: int(tally(m)["industry"][i]))
    reporter(f"{_ind}_revenue_bn_yuan", "bn yuan/year")(
        lambda m, i=_i: tally(m)["revenue_industry"][i] / MYUAN_PER_BNYUAN
    )
for _z, _zone in enumerate(ZONES):
    reporter(f"firms_{_zone}", "firms")(lambda m, z=_z: int(tally(m)["zone"][z]))
    reporter(f"talent_{_zone}", "people")(lambda m, z=_z: int(tally(m)["talent_zone"][z]) * m.talent.scale)
    reporter(f"occupancy_{_zone}", "share")(lambda m, z=_z: float(m.zones.occupancy[z]))
    reporter(f"rent_{_zone}_yuan_per_m2_month", "yuan/m2/month")(
        lambda m, z=_z: float(m.zones.rent_yuan_per_m2_month[z])
    )
    reporter(f"eco_quality_{_zone}", "index 0-1")(lambda m, z=_z: float(m.zones.eco_quality_index[z]))
for _s, _stage in (
    (SIGNED, "signed"),
    (REGISTERED, "registered"),
    (OPERATING, "operating"),
    (GROWING, "growing"),
    (MATURE, "mature"),
):
    reporter(f"stage_{_stage}", "firms")(lambda m, s=_s: int(tally(m)["stage"][s]))
for _event in COUNTED_EVENTS:
    _COUNTER_OF[f"{_event}_cum"] = (
        _event,
        False,
        reporter(f"{_event}_cum", "events since start")(lambda m, e=_event: m.counters.total[e]),
    )


@reporter("firms_in_park", "firms")
def _firms(m):
    return len(in_park(m))


@reporter("graphene_firms_incl_signed", "firms")
def _graphene_all(m):
    return tally(m)["graphene_incl_signed"]


@reporter("israeli_firms", "firms")
def _israeli(m):
    return tally(m)["israeli"]


@reporter("foreign_firms", "firms")
def _foreign(m):
    return tally(m)["foreign"]


@reporter("talent_people", "people")
def _talent(m):
    return m.talent.people()


@reporter("talent_employed", "people")
def _employed(m):
    return tally(m)["employed"] * m.talent.scale


def _listing_count(m, *states):
    counts = tally(m)["listing"]
    return int(sum(int(counts[s]) for s in states))


reporter("reformed_firms", "firms")(lambda m: _listing_count(m, REFORMED, NEEQ_FILED, NEEQ, IPO_FILED, LISTED))
reporter("neeq_quoted", "firms")(lambda m: _listing_count(m, NEEQ))
reporter("ipo_queue", "firms")(lambda m: _listing_count(m, IPO_FILED))
reporter("listed_exchange", "firms")(lambda m: _listing_count(m, LISTED))
reporter("listed_exchange_neeq", "firms")(lambda m: _listing_count(m, LISTED, NEEQ))


def _listed_on(m, boards) -> int:
    """Firms in the park listed on one of ``boards``."""
    counts = tally(m)["listed_board"]
    return int(sum(int(counts[b]) for b in boards))


def _quoted_values(m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, listing states and market values (m yuan) of the firms in the park listed or NEEQ-quoted.

    Valuation is element by element, so a subset of these values has the bits
    :func:`valuation_myuan` gives the subset's rows.
    """

    def compute():
        rows = in_park(m)
        rows = rows[is_one_of(m.firms.listing[rows], (LISTED, NEEQ))]
        return rows, m.firms.listing[rows], valuation_myuan(m, rows)

    return once(m, "quoted_values", compute)


@functools.cache
def _board_mask(boards: tuple[int, ...]) -> np.ndarray:
    """Look-up table of ``boards`` over the board codes (``np.isin`` by indexing; a hot path)."""
    mask = np.zeros(len(markets.BOARDS), dtype=bool)
    mask[list(boards)] = True
    mask.flags.writeable = False
    return mask


for _b, _board in enumerate(markets.BOARDS[1:], start=1):
    reporter(f"listed_{_board}", "firms")(lambda m, b=_b: _listed_on(m, (b,)))
reporter("listed_domestic", "firms")(lambda m: _listed_on(m, markets.DOMESTIC))
reporter("listed_domestic_neeq", "firms")(lambda m: _listed_on(m, markets.DOMESTIC) + _listing_count(m, NEEQ))


@reporter("neeq_innovation_tier", "firms")
def _neeq_innovation(m):
    return tally(m)["neeq_innovation"]


@reporter("neeq_select_tier", "firms")
def _neeq_select(m):
    return tally(m)["neeq_select"]


def _market_value_bn(m, *states):
    _, listing, values = _quoted_values(m)
    return float(values[is_one_of(listing, states)].sum()) / MYUAN_PER_BNYUAN


def _domestic_value_bn(m):
    rows, listing, values = _quoted_values(m)
    on = (listing == LISTED) & _board_mask(markets.DOMESTIC)[m.firms.board[rows]]
    return float(values[on].sum()) / MYUAN_PER_BNYUAN


reporter("market_value_exchange_bn_yuan", "bn yuan")(lambda m: _market_value_bn(m, LISTED))
reporter("market_value_exchange_neeq_bn_yuan", "bn yuan")(lambda m: _market_value_bn(m, LISTED, NEEQ))
reporter("market_value_domestic_bn_yuan", "bn yuan")(_domestic_value_bn)


@reporter("graphene_neeq_quoted", "firms")
def _graphene_neeq(m):
    return tally(m)["graphene_neeq"]


@reporter("leading_firms", "firms")
def _leading(m):
    return tally(m)["leading"]


@reporter("supported_firms", "firms")
def _supported(m):
    return tally(m)["supported"]


@reporter("revenue_bn_yuan", "bn yuan/year")
def _revenue(m):
    return tally(m)["revenue"] / MYUAN_PER_BNYUAN


@reporter("high_pollution_firms", "firms")
def _polluters(m):
    return tally(m)["high_pollution"]


@reporter("vc_backed_firms", "firms")
def _vc_backed(m):
    return tally(m)["vc_backed"]


@reporter("investors", "investors")
def _investors(m):
    return len(m.finance.investors())


@reporter("vc_capital_myuan", "m yuan")
def _vc_capital(m):
    return m.finance.vc_capital()


# -------- outputs a validator needs (issue 11, item 9)
# Frames: the figures the park publishes count firms in one of four frames; each maps to a
# reporter of the model (docs/ODD.md 7.12). The model has no sub-park boundaries, so the
# graphene park is the graphene industry, the China-Israel park the Israeli firms and the
# health park the health industry, all counted in the park (registered or later).
FRAMES = {
    "whole_park": "firms_in_park",
    "graphene_park": "graphene_firms",
    "china_israel_park": "israeli_firms",
    "health_park": "health_firms",
}
# Year-to-date event counts (``*_ytd``): the December row of a year is that year's flow;
# the first year of a run counts from the run's first month.
YEAR_FLOW_EVENTS = (
    "projects_signed",
    "projects_registered",
    "projects_started",
    "graphene_projects_signed",
    "israeli_projects_signed",
    "neeq_quotations",
    "exchange_listings",
    *(f"exchange_listings_{b}" for b in markets.BOARDS[1:]),
)
for _frame, _column in FRAMES.items():
    reporter(f"frame_{_frame}_firms", "firms")(REPORTERS[_column])
for _event in YEAR_FLOW_EVENTS:
    _COUNTER_OF[f"{_event}_ytd"] = (
        _event,
        True,
        reporter(f"{_event}_ytd", "events this year")(lambda m, e=_event: m.counters.year_to_date(e)),
    )
reporter("exchange_listings_domestic_ytd", "events this year")(
    lambda m: sum(m.counters.year_to_date(f"exchange_listings_{markets.BOARDS[b]}") for b in markets.DOMESTIC)
)
reporter("exchange_listings_domestic_cum", "events since start")(
    lambda m: sum(m.counters.total[f"exchange_listings_{markets.BOARDS[b]}"] for b in markets.DOMESTIC)
)
reporter("listed_main_neeq", "firms")(lambda m: _listed_on(m, (markets.MAIN,)) + _listing_count(m, NEEQ))


@reporter("occupied_floor_m2", "m2")
def _occupied_floor(m):
    return float(m.zones.occupied_m2.sum())


@reporter("revenue_yuan_per_m2", "yuan/m2/year")
def _revenue_per_m2(m):
    """Industrial output per m2 of land: revenue of firms in the park / floor space they occupy (NaN without floor)."""
    floor = float(m.zones.occupied_m2.sum())
    if floor <= 0.0:
        return float("nan")
    return tally(m)["revenue"] * YUAN_PER_MYUAN / floor


from sim.model import costs  # noqa: E402  (registers the policy_cost_* reporters last; issue 11, lever costs)


def record(ctx: ModelContext) -> dict[str, float]:
    """One row of every registered reporter for the current month.

    Sets ``ctx.in_park_rows`` for the reporters and clears it afterwards (the
    cache's invalidation rule, see :class:`~sim.model.context.ModelContext`).
    """
    ctx.in_park_rows = ctx.firms.in_stage(*IN_PARK)
    ctx.record_memo = {}
    costs.account(ctx)  # book this month's policy spending before the policy_cost_* reporters read it
    total, year_base = ctx.counters.total, ctx.counters.year_base
    try:
        row = {}
        for name, fn, event, ytd in _plan():
            if event is None:
                row[name] = fn(ctx)
            elif ytd:  # = ctx.counters.year_to_date(event)
                row[name] = total[event] - year_base.get(event, 0.0)
            else:
                row[name] = total[event]
        return row
    finally:
        ctx.in_park_rows = None
        ctx.record_memo = None
        if ctx.month % MONTHS_PER_YEAR == MONTHS_PER_YEAR - 1:  # December: next year's counts start here
            ctx.counters.year_base = dict(ctx.counters.total)
