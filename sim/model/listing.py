"""The listing pipeline: share reform, NEEQ quotation, IPO queue, exchange listing.

States and the only allowed transitions (``ALLOWED``)::

    none -> reforming -> reformed -> neeq_filed -> neeq -> delisted
                         reformed -> ipo_filed          neeq -> ipo_filed
    ipo_filed -> listed      (approved after the queue)
    ipo_filed -> reformed | neeq   (rejected: back to where it filed from)

Legal gates (``../shared/data/priors.md``): NEEQ needs a joint-stock company at
least ``neeq_min_age_months`` old; an IPO needs ``ipo_min_age_months`` since
the firm was founded (a company converted at book value keeps its founding
date) and two profitable years with at least ``ipo_min_profit_2y_myuan``
of profit (the ChiNext route). Monthly hazards of taking a step are
``base / 12 * exp(listing_subsidy_elasticity * subsidy) * (vc mult if VC-backed)
* (1 + reserve_support if on the reserve list)``.
"""

from __future__ import annotations

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext
from sim.model.firms import (
    DELISTED,
    GROWING,
    IPO_FILED,
    LISTED,
    MATURE,
    NEEQ,
    NEEQ_FILED,
    NONE,
    OPERATING,
    REFORMED,
    REFORMING,
    is_one_of,
)

ALLOWED = {
    (NONE, REFORMING),
    (REFORMING, REFORMED),
    (REFORMED, NEEQ_FILED),
    (NEEQ_FILED, NEEQ),
    (REFORMED, IPO_FILED),
    (NEEQ, IPO_FILED),
    (IPO_FILED, LISTED),
    (IPO_FILED, REFORMED),
    (IPO_FILED, NEEQ),
    (NEEQ, DELISTED),
}
REFORM_MIN_REVENUE_MYUAN = 5.0  # firms below this do not start a share reform [judgement]
REGISTRATION_REFORM_YEAR = 2019  # STAR market 2019, ChiNext registration 2020 (priors)


def valuation_myuan(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """Market value: P/E (floored by P/S) when listed, P/S on the NEEQ, private P/S otherwise."""
    p, firms = ctx.params, ctx.firms
    rev = firms.revenue_myuan[rows]
    profit = np.maximum(firms.profit_y1_myuan[rows], 0.0)
    listed = np.maximum(p.pe_exchange * profit, p.ps_exchange_floor * rev)
    state = firms.listing[rows]
    return np.select([state == LISTED, state == NEEQ], [listed, p.ps_neeq * rev], p.ps_private * rev)


def _move(ctx: ModelContext, rows: np.ndarray, new_state: int, event: str | None = None) -> None:
    firms = ctx.firms
    old = firms.listing[rows]
    bad = [(int(o), new_state) for o in old if (int(o), new_state) not in ALLOWED]
    assert not bad, f"illegal listing transition(s) {bad[:3]}"
    firms.listing[rows] = new_state
    if event:
        ctx.counters.add(event, len(rows))
    ctx.counters.record_transitions(old, new_state)


def _hazard(ctx: ModelContext, rows: np.ndarray, base_per_year: float) -> np.ndarray:
    p, firms, fx = ctx.params, ctx.firms, ctx.effects
    h = base_per_year / 12.0 * portable.exp(p.listing_subsidy_elasticity * fx.listing_subsidy_myuan)
    h = h * np.where(firms.vc_backed[rows], p.vc_listing_hazard_mult, 1.0)
    return h * np.where(firms.reserve[rows], 1.0 + fx.reserve_support, 1.0)


def _draw(ctx: ModelContext, rows: np.ndarray, base_per_year: float) -> np.ndarray:
    rng = ctx.streams["listing"]
    return rows[rng.random(len(rows)) < _hazard(ctx, rows, base_per_year)]


def listing_step(ctx: ModelContext) -> None:
    """Advance every firm's listing state by one month.

    Every decision reads the listing states held at the start of the month
    (``state``), so a firm takes at most one step a month; the order of the
    sub-steps below is the order of their random draws.
    """
    firms = ctx.firms
    live = firms.live()
    state = firms.listing[live]
    firms.listing_timer[live] = np.maximum(firms.listing_timer[live] - 1, 0)
    timer_done = firms.listing_timer[live] == 0
    _update_reserve(ctx, live)
    _finish_timers(ctx, live, state, timer_done)
    age = ctx.month - firms.born_month[live]
    _start_reforms(ctx, live, state)
    _file_ipos(ctx, live, state, age)
    _file_neeq(ctx, live, state, age)
    _delist_neeq(ctx, live, state)


def _finish_timers(ctx: ModelContext, live: np.ndarray, state: np.ndarray, timer_done: np.ndarray) -> None:
    """Timers that run out: share reform done, NEEQ quotation, IPO decision (approved or back)."""
    p, firms = ctx.params, ctx.firms
    done = live[(state == REFORMING) & timer_done]
    _move(ctx, done, REFORMED, "share_reforms")
    firms.reform_month[done] = ctx.month
    _pay_subsidy(ctx, done)
    quoted = live[(state == NEEQ_FILED) & timer_done]
    _move(ctx, quoted, NEEQ, "neeq_quotations")
    _after_listing(ctx, quoted)
    decided = live[(state == IPO_FILED) & timer_done]
    support = ctx.effects.reserve_support
    approve = ctx.streams["listing"].random(len(decided)) < min(0.98, p.ipo_approval_rate + 0.1 * support)
    _move(ctx, decided[approve], LISTED, "exchange_listings")
    firms.listed_month[decided[approve]] = ctx.month
    _after_listing(ctx, decided[approve])
    for back in (REFORMED, NEEQ):
        rej = decided[~approve & (firms.pre_ipo_listing[decided] == back)]
        _move(ctx, rej, back, "ipo_rejections")


def _start_reforms(ctx: ModelContext, live: np.ndarray, state: np.ndarray) -> None:
    """Operating firms above the reform revenue start a share reform."""
    firms = ctx.firms
    stage_ok = is_one_of(firms.stage[live], (OPERATING, GROWING, MATURE))
    can_reform = live[(state == NONE) & stage_ok & (firms.revenue_myuan[live] >= REFORM_MIN_REVENUE_MYUAN)]
    start = _draw(ctx, can_reform, ctx.params.p_reform_per_year)
    _move(ctx, start, REFORMING, "share_reforms_started")
    firms.listing_timer[start] = ctx.params.reform_months


def _file_ipos(ctx: ModelContext, live: np.ndarray, state: np.ndarray, age: np.ndarray) -> None:
    """Reformed or quoted firms past the age and profit gates file for an IPO and join the queue."""
    p, firms = ctx.params, ctx.firms
    profit_ok = (
        (firms.profit_y1_myuan[live] > 0)
        & (firms.profit_y2_myuan[live] > 0)
        & (firms.profit_y1_myuan[live] + firms.profit_y2_myuan[live] >= p.ipo_min_profit_2y_myuan)
    )
    ipo_ok = live[is_one_of(state, (REFORMED, NEEQ)) & (age >= p.ipo_min_age_months) & profit_ok]
    filers = _draw(ctx, ipo_ok, p.p_ipo_file_per_year)
    firms.pre_ipo_listing[filers] = firms.listing[filers]
    _move(ctx, filers, IPO_FILED, "ipo_filings")
    queue = p.ipo_queue_months_2016 if ctx.month // 12 < REGISTRATION_REFORM_YEAR else p.ipo_queue_months_2019
    firms.listing_timer[filers] = np.maximum(1, np.round(ctx.streams["listing"].gamma(4.0, queue / 4.0, len(filers))))


def _file_neeq(ctx: ModelContext, live: np.ndarray, state: np.ndarray, age: np.ndarray) -> None:
    """Reformed firms old enough (and not filing an IPO this month) file for NEEQ quotation."""
    p, firms = ctx.params, ctx.firms
    neeq_ok = live[(state == REFORMED) & (age >= p.neeq_min_age_months)]
    neeq_ok = neeq_ok[firms.listing[neeq_ok] == REFORMED]  # not those that just filed an IPO
    file_neeq = _draw(ctx, neeq_ok, p.p_neeq_file_per_year)
    _move(ctx, file_neeq, NEEQ_FILED, "neeq_filings")
    firms.listing_timer[file_neeq] = p.neeq_filing_months


def _delist_neeq(ctx: ModelContext, live: np.ndarray, state: np.ndarray) -> None:
    """Quoted firms that stayed on the NEEQ this month leave it with ``neeq_delist_per_year``."""
    firms = ctx.firms
    quoted_now = live[(state == NEEQ) & (firms.listing[live] == NEEQ)]
    delist = quoted_now[ctx.streams["listing"].random(len(quoted_now)) < ctx.params.neeq_delist_per_year / 12.0]
    _move(ctx, delist, DELISTED, "neeq_delistings")


def _update_reserve(ctx: ModelContext, live: np.ndarray) -> None:
    """Listing-reserve list: profitable firms above the reserve revenue, not yet listed."""
    p, firms = ctx.params, ctx.firms
    new = live[
        ~firms.reserve[live]
        & (firms.revenue_myuan[live] >= p.reserve_revenue_myuan)
        & (firms.profit_y1_myuan[live] > 0)
        & (firms.listing[live] < LISTED)
    ]
    firms.reserve[new] = True
    ctx.counters.add("reserve_firms_new", len(new))


def _pay_subsidy(ctx: ModelContext, rows: np.ndarray) -> None:
    """The listing subsidy is paid on share reform, NEEQ quotation and exchange listing."""
    ctx.firms.cash_myuan[rows] += ctx.effects.listing_subsidy_myuan
    ctx.counters.add("listing_subsidy_paid_myuan", ctx.effects.listing_subsidy_myuan * len(rows))


def _after_listing(ctx: ModelContext, rows: np.ndarray) -> None:
    """Subsidy payment and investors' exits on quotation or listing."""
    if len(rows) == 0:
        return
    _pay_subsidy(ctx, rows)
    for r, v in zip(rows, valuation_myuan(ctx, rows), strict=True):
        ctx.finance.on_listing(int(r), float(v))
