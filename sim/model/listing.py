"""The listing pipeline: share reform, NEEQ quotation, IPO queue, exchange listing.

States and the only allowed transitions (``ALLOWED``)::

    none -> reforming -> reformed -> neeq_filed -> neeq -> delisted
                         reformed -> ipo_filed          neeq -> ipo_filed
    ipo_filed -> listed      (approved or registered after the queue)
    ipo_filed -> reformed | neeq   (rejected: back to where it filed from, and
                                    ``ipo_refile_wait_months`` before it may file again)

An IPO filer picks one board (``firms.board``): the preferred domestic board
whose dated listing standards it meets (:func:`sim.model.markets.eligible_boards`),
or, by a separate hazard, a Hong Kong / US listing. Queue lengths and approval
rates depend on the board's regime (approval or registration) and the year
(:mod:`sim.model.markets`). A listed firm's market value is drawn at listing
from the board's distribution and then moves with its revenue and the A-share
market level. Monthly hazards of taking a step are
``base / 12 * exp(listing_subsidy_elasticity * subsidy) * (vc mult if VC-backed)
* (1 + reserve_hazard_gain * reserve_support if on the reserve list)``; the two
lever effects (``listing_subsidy_elasticity``, ``reserve_hazard_gain``, and
``reserve_approval_bonus`` on approval) are deep uncertainties (kind ``deep`` in
:mod:`sim.model.params`).
"""

from __future__ import annotations

import functools

import numpy as np

from sim.model import markets, portable
from sim.model.context import ModelContext
from sim.model.firms import (
    DELISTED,
    GROWING,
    IPO_FILED,
    LISTED,
    LISTING_STATES,
    MATURE,
    NEEQ,
    NEEQ_FILED,
    NONE,
    OPERATING,
    REFORMED,
    REFORMING,
    is_one_of,
)
from sim.model.units import MONTHS_PER_YEAR

SHOW_BAD = 3  # illegal transitions quoted in the assertion message (display only)
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
# ALLOWED as a look-up table: _ALLOWED_INTO[new][old] (the per-move check without a loop over firms)
_ALLOWED_INTO = np.zeros((len(LISTING_STATES), len(LISTING_STATES)), dtype=bool)
for _old, _new in ALLOWED:
    _ALLOWED_INTO[_new, _old] = True
_ALLOWED_INTO.flags.writeable = False


def expected_value_myuan(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """The sponsor's expected market value at filing (m yuan), for the market-value standards."""
    p, firms = ctx.params, ctx.firms
    profit = np.maximum(firms.profit_y1_myuan[rows], 0.0)
    return np.maximum(p.pe_exchange * profit, p.ps_exchange_floor * firms.revenue_myuan[rows])


def valuation_myuan(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """Market value: drawn at listing and moved with revenue and market level; P/S on the NEEQ and privately.

    One compiled loop (:func:`sim.model._jit_metrics.valuation`, the same bits) unless
    ``PARKSIM_NO_JIT`` is set; :func:`valuation_numpy` is the reference.
    """
    if portable.USE_JIT:
        from sim.model._jit_metrics import valuation  # numba's import is paid on first use

        p, firms = ctx.params, ctx.firms
        return valuation(
            np.asarray(rows, dtype=np.int64),
            firms.listing,
            firms.revenue_myuan,
            firms.listing_revenue_myuan,
            firms.ps_listed,
            LISTED,
            NEEQ,
            float(p.ps_neeq),
            float(p.ps_private),
            float(p.mv_revenue_elasticity),
            float(markets.market_level(ctx.month)),
        )
    return valuation_numpy(ctx, rows)


def valuation_numpy(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """:func:`valuation_myuan` by numpy masks: the reference the compiled loop is checked against."""
    p, firms = ctx.params, ctx.firms
    rev = firms.revenue_myuan[rows]
    state = firms.listing[rows]
    out = np.where(state == NEEQ, p.ps_neeq, p.ps_private) * rev
    listed = np.flatnonzero(state == LISTED)
    if len(listed) == 0:
        return out
    # value at listing, moved with revenue growth since (elasticity mv_revenue_elasticity) and the index;
    # computed for the listed firms only (element by element, so the same bits as over all rows)
    at_listing = firms.listing_revenue_myuan[rows[listed]]
    growth = rev[listed] / np.where(at_listing > 0, at_listing, 1.0)
    moved = _moved(rows[listed], growth, p.mv_revenue_elasticity)
    out[listed] = firms.ps_listed[rows[listed]] * at_listing * moved * markets.market_level(ctx.month)
    return out


# The last _moved computation: (rows, elasticity, growth, moved), rows strictly increasing.
_last_moved: tuple[np.ndarray, float, np.ndarray, np.ndarray] | None = None


def _moved(rows: np.ndarray, growth: np.ndarray, elasticity: float) -> np.ndarray:
    """``portable.power(max(growth, 0), elasticity)``, reusing the last call's results where they apply.

    The monthly reporters value the same listed firms three times (exchange,
    exchange and NEEQ, domestic boards). The power is a function of each
    element alone, so where every row was in the last call with a growth of
    the same bits (and the elasticity is the same) its results are the ones
    this call would compute; otherwise it computes them and remembers them.
    """
    global _last_moved
    last = _last_moved
    if last is not None and last[1] == elasticity and len(last[0]) and len(rows):
        last_rows, _, last_growth, last_result = last
        at = np.minimum(np.searchsorted(last_rows, rows), len(last_rows) - 1)
        if (last_rows[at] == rows).all() and (last_growth[at].view(np.uint64) == growth.view(np.uint64)).all():
            return last_result[at]
    result = portable.power(np.maximum(growth, 0.0), elasticity)
    if (rows[1:] > rows[:-1]).all():
        _last_moved = (rows, elasticity, growth, result)
    return result


def _move(ctx: ModelContext, rows: np.ndarray, new_state: int, event: str | None = None) -> None:
    """Move ``rows`` to ``new_state`` (checked against ``ALLOWED``), counting ``event`` (0 counts too)."""
    firms = ctx.firms
    if len(rows) == 0:  # most moves of a month are empty: nothing to check, set or remember
        if event:
            ctx.counters.add(event, 0)
        return
    old = firms.listing[rows]
    ok = _ALLOWED_INTO[new_state][old]
    assert ok.all(), f"illegal listing transition(s) {[(int(o), new_state) for o in old[~ok]][:SHOW_BAD]}"
    firms.listing[rows] = new_state
    if event:
        ctx.counters.add(event, len(rows))
    ctx.counters.record_transitions(old, new_state)


@functools.lru_cache(maxsize=1)
def _exp_scalar(x: float) -> float:
    """``portable.exp`` of one number, the last one remembered (the same bits: keyed on the value).

    The subsidy term of :func:`_hazard` is the same number in every call of a
    month (and of a run), and the array code of ``portable.exp`` costs ~80 µs a call.
    """
    return portable.exp(x)


def _hazard(ctx: ModelContext, rows: np.ndarray, base_per_year: float) -> np.ndarray:
    p, firms, fx = ctx.params, ctx.firms, ctx.effects
    h = base_per_year / MONTHS_PER_YEAR * _exp_scalar(p.listing_subsidy_elasticity * fx.listing_subsidy_myuan)
    h = h * np.where(firms.vc_backed[rows], p.vc_listing_hazard_mult, 1.0)
    return h * np.where(firms.reserve[rows], 1.0 + p.reserve_hazard_gain * fx.reserve_support, 1.0)


def _draw(ctx: ModelContext, rows: np.ndarray, base_per_year: float) -> np.ndarray:
    """The rows that take the step this month: one uniform each from the listing stream against :func:`_hazard`."""
    draws = ctx.streams["listing"].random(len(rows))
    if len(rows) == 0:  # the draw above (of nothing) stays, so the stream is used as always
        return rows
    if portable.USE_JIT:
        from sim.model._jit_listing import drawn  # numba's import is paid on first use

        p, firms, fx = ctx.params, ctx.firms, ctx.effects
        h = base_per_year / MONTHS_PER_YEAR * _exp_scalar(p.listing_subsidy_elasticity * fx.listing_subsidy_myuan)
        reserve_mult = 1.0 + p.reserve_hazard_gain * fx.reserve_support
        return drawn(rows, draws, h, firms.vc_backed, float(p.vc_listing_hazard_mult), firms.reserve, reserve_mult)
    return rows[draws < _hazard(ctx, rows, base_per_year)]


def listing_step(ctx: ModelContext) -> None:
    """Advance every firm's listing state by one month.

    Every decision reads the listing states held at the start of the month
    (``state``), so a firm takes at most one step a month; the order of the
    sub-steps below is the order of their random draws. The masks come from one
    compiled pass (:func:`sim.model._jit_listing.open_month`, the same comparisons,
    so the same rows) unless ``PARKSIM_NO_JIT`` is set; :func:`listing_step_numpy`
    is the reference.
    """
    if not portable.USE_JIT:
        listing_step_numpy(ctx)
        return
    from sim.model import _jit_listing as jit  # numba's import is paid on first use
    from sim.model import firms as codes

    p, firms = ctx.params, ctx.firms
    rules, switches = markets.eligible_rules(p, ctx.month)
    new_reserve, done, quoted, decided, can_reform, can_ipo, board, overseas, neeq_cand, quoted_cand = jit.open_month(
        firms.n,
        firms.alive,
        firms.listing,
        firms.listing_timer,
        firms.reserve,
        firms.stage,
        firms.industry,
        firms.revenue_myuan,
        firms.profit_y1_myuan,
        firms.profit_y2_myuan,
        firms.profit_y3_myuan,
        firms.born_month,
        firms.quoted_month,
        ctx.month,
        tuple(getattr(codes, name) for name in jit.CODES),
        tuple(float(getattr(p, name)) for name in jit.GATES),
        rules,
        switches,
        tuple(getattr(markets, name) for name in jit.BOARD_CODES),
        _PREFERENCE,
        markets.IS_RD_INDUSTRY,
        markets.STAR_EXCLUDED_INDUSTRY,
        markets.HEALTH_INDUSTRY,
        markets.BSE_MIN_QUOTED_MONTHS,
    )
    ctx.counters.add("reserve_firms_new", int(new_reserve))
    _finish(ctx, done, quoted, decided)
    _reform(ctx, can_reform)
    if len(can_ipo):
        _file(ctx, can_ipo, board, overseas)
    _neeq(ctx, neeq_cand[firms.listing[neeq_cand] == REFORMED])  # not those that just filed an IPO
    _delist(ctx, quoted_cand[firms.listing[quoted_cand] == NEEQ])


_PREFERENCE = np.array(markets.PREFERENCE, dtype=np.int64)  # the compiled pass's copy [derived]


def listing_step_numpy(ctx: ModelContext) -> None:
    """:func:`listing_step` by numpy masks: the reference the compiled pass is checked against."""
    firms = ctx.firms
    live = firms.live()
    state = firms.listing[live]
    timer = np.maximum(firms.listing_timer[live] - 1, 0)
    firms.listing_timer[live] = timer
    timer_done = timer == 0
    _update_reserve(ctx, live)
    _finish_timers(ctx, live, state, timer_done)
    age = ctx.month - firms.born_month[live]
    _start_reforms(ctx, live, state)
    _file_ipos(ctx, live, state, age, timer_done)
    _file_neeq(ctx, live, state, age)
    _delist_neeq(ctx, live, state)


def _finish_timers(ctx: ModelContext, live: np.ndarray, state: np.ndarray, timer_done: np.ndarray) -> None:
    """Timers that run out: share reform done, NEEQ quotation, IPO decision (approved or back)."""
    done = live[(state == REFORMING) & timer_done]
    quoted = live[(state == NEEQ_FILED) & timer_done]
    decided = live[(state == IPO_FILED) & timer_done]
    _finish(ctx, done, quoted, decided)


def _finish(ctx: ModelContext, done: np.ndarray, quoted: np.ndarray, decided: np.ndarray) -> None:
    """Reforms ``done``, NEEQ filings ``quoted`` and IPO queues ``decided`` end this month."""
    firms = ctx.firms
    _move(ctx, done, REFORMED, "share_reforms")
    firms.reform_month[done] = ctx.month
    _pay_subsidy(ctx, done)
    _move(ctx, quoted, NEEQ, "neeq_quotations")
    firms.quoted_month[quoted] = ctx.month
    _after_listing(ctx, quoted)
    approve = ctx.streams["listing"].random(len(decided)) < _approval(ctx, decided)
    _list(ctx, decided[approve])
    rejected = decided[~approve]
    for back in (REFORMED, NEEQ):
        _move(ctx, rejected[firms.pre_ipo_listing[rejected] == back], back, "ipo_rejections")
    firms.board[rejected] = markets.NO_BOARD
    firms.listing_timer[rejected] = ctx.params.ipo_refile_wait_months


def _approval(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """Probability that each decided filing is approved: board, regime at filing, year of decision."""
    if len(rows) == 0:  # most months nobody's queue ends: np.clip of nothing costs a few microseconds
        return np.empty(0)
    p, firms = ctx.params, ctx.firms
    bonus = p.reserve_approval_bonus * ctx.effects.reserve_support
    out = np.empty(len(rows))
    for i, r in enumerate(rows):
        board = int(firms.board[r])
        reg = markets.is_registration(p, board, int(firms.filed_month[r]))
        out[i] = markets.pass_rate(p, board, reg, ctx.month)
    return np.clip(out + bonus, 0.0, p.max_ipo_approval)


def _list(ctx: ModelContext, rows: np.ndarray) -> None:
    """Approved filers list: market value drawn from the board's distribution of real listings."""
    if len(rows) == 0:
        return
    _move(ctx, rows, LISTED, "exchange_listings")
    for b in np.unique(ctx.firms.board[rows]):
        ctx.counters.add(f"exchange_listings_{markets.BOARDS[b]}", int((ctx.firms.board[rows] == b).sum()))
    _draw_value(ctx, rows, ctx.streams["listing"])
    ctx.firms.listed_month[rows] = ctx.month
    _after_listing(ctx, rows)


def _draw_value(ctx: ModelContext, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Market value at listing, log-normal around the board's median (stored as P/S at the 2018 level)."""
    p, firms = ctx.params, ctx.firms
    median = np.array([markets.median_value_myuan(p, int(b)) for b in firms.board[rows]])
    z = rng.standard_normal(len(rows))
    value_2018 = median * portable.exp(p.mv_log_sigma * z)
    firms.ps_listed[rows] = value_2018 / firms.revenue_myuan[rows]  # revenue > 0 (log-normal growth)
    firms.listing_revenue_myuan[rows] = firms.revenue_myuan[rows]


def _start_reforms(ctx: ModelContext, live: np.ndarray, state: np.ndarray) -> None:
    """Operating firms above the reform revenue start a share reform."""
    firms = ctx.firms
    stage_ok = is_one_of(firms.stage[live], (OPERATING, GROWING, MATURE))
    _reform(ctx, live[(state == NONE) & stage_ok & (firms.revenue_myuan[live] >= ctx.params.reform_min_revenue_myuan)])


def _reform(ctx: ModelContext, can_reform: np.ndarray) -> None:
    """Of the firms that may, those drawn start a share reform."""
    start = _draw(ctx, can_reform, ctx.params.p_reform_per_year)
    _move(ctx, start, REFORMING, "share_reforms_started")
    ctx.firms.listing_timer[start] = ctx.params.reform_months


def board_columns(ctx: ModelContext, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The per-firm inputs of :func:`sim.model.markets.eligible_boards`."""
    firms = ctx.firms
    quoted = firms.listing[rows] == NEEQ
    return {
        "p1": firms.profit_y1_myuan[rows],
        "p2": firms.profit_y2_myuan[rows],
        "p3": firms.profit_y3_myuan[rows],
        "revenue": firms.revenue_myuan[rows],
        "value": expected_value_myuan(ctx, rows),
        "industry": firms.industry[rows],
        "neeq_months": np.where(quoted, ctx.month - firms.quoted_month[rows], -1),
    }


def _file_ipos(ctx: ModelContext, live: np.ndarray, state: np.ndarray, age: np.ndarray, timer_done: np.ndarray) -> None:
    """Reformed or quoted firms past the age gate and a board's standards file and join its queue.

    Domestic filings are drawn first; firms meeting the HKEX standards that did
    not file at home file abroad with ``p_overseas_file_per_year``.
    """
    p = ctx.params
    can = live[is_one_of(state, (REFORMED, NEEQ)) & (age >= p.ipo_min_age_months) & timer_done]
    if len(can) == 0:
        return
    eligible = markets.eligible_boards(p, ctx.month, board_columns(ctx, can))
    _file(ctx, can, markets.choose_domestic(eligible), eligible[markets.OVERSEAS])


def _file(ctx: ModelContext, can: np.ndarray, board: np.ndarray, overseas: np.ndarray) -> None:
    """Of the firms ``can`` that may file, those drawn file at home, then some of the rest abroad.

    ``board`` is each one's preferred domestic board (``NO_BOARD`` where none fits),
    ``overseas`` whether it meets the overseas standards.
    """
    p, firms = ctx.params, ctx.firms
    home = _draw(ctx, can[board != markets.NO_BOARD], p.p_ipo_file_per_year)
    at_home = np.searchsorted(can, home)  # can is sorted (rows of live firms), home a subset of it
    firms.board[home] = board[at_home]
    not_home = np.ones(len(can), dtype=bool)
    not_home[at_home] = False
    abroad_ok = can[overseas & not_home]
    abroad = _draw(ctx, abroad_ok, p.p_overseas_file_per_year)
    firms.board[abroad] = markets.OVERSEAS
    filers = np.concatenate([home, abroad])
    firms.pre_ipo_listing[filers] = firms.listing[filers]
    _move(ctx, filers, IPO_FILED, "ipo_filings")
    firms.filed_month[filers] = ctx.month
    _set_queue(ctx, filers)


def _set_queue(ctx: ModelContext, rows: np.ndarray) -> None:
    """Months to the decision: Gamma around the board's dated mean queue."""
    p, firms = ctx.params, ctx.firms
    mean = np.array([markets.queue_months(p, int(b), ctx.month) for b in firms.board[rows]])
    shape = p.ipo_queue_gamma_shape
    draw = ctx.streams["listing"].gamma(shape, 1.0, len(rows)) * mean / shape
    firms.listing_timer[rows] = np.maximum(1, np.round(draw))


def _file_neeq(ctx: ModelContext, live: np.ndarray, state: np.ndarray, age: np.ndarray) -> None:
    """Reformed firms old enough (and not filing an IPO this month) file for NEEQ quotation."""
    p, firms = ctx.params, ctx.firms
    neeq_ok = live[(state == REFORMED) & (age >= p.neeq_min_age_months)]
    _neeq(ctx, neeq_ok[firms.listing[neeq_ok] == REFORMED])  # not those that just filed an IPO


def _neeq(ctx: ModelContext, neeq_ok: np.ndarray) -> None:
    """Of the reformed firms old enough, those drawn file for NEEQ quotation."""
    p, firms = ctx.params, ctx.firms
    entry = markets.by_year(markets.NEEQ_ENTRY_INDEX_BY_YEAR, ctx.month // MONTHS_PER_YEAR)
    file_neeq = _draw(ctx, neeq_ok, p.p_neeq_file_per_year * entry)
    _move(ctx, file_neeq, NEEQ_FILED, "neeq_filings")
    firms.listing_timer[file_neeq] = p.neeq_filing_months


def _delist_neeq(ctx: ModelContext, live: np.ndarray, state: np.ndarray) -> None:
    """Quoted firms that stayed on the NEEQ this month leave it at the year's delisting rate."""
    firms = ctx.firms
    _delist(ctx, live[(state == NEEQ) & (firms.listing[live] == NEEQ)])


def _delist(ctx: ModelContext, quoted_now: np.ndarray) -> None:
    """Of the firms quoted all month, those drawn leave the NEEQ."""
    rate = (
        markets.by_year(markets.NEEQ_DELIST_PER_YEAR_BY_YEAR, ctx.month // MONTHS_PER_YEAR)
        * ctx.params.neeq_delist_scale
    )
    delist = quoted_now[ctx.streams["listing"].random(len(quoted_now)) < rate / MONTHS_PER_YEAR]
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


def seed_initial(ctx: ModelContext, rows: np.ndarray) -> None:
    """Boards and values of the firms listed at the start, and the IPO queue at the start.

    Listed firms take their preferred board (ChiNext when none fits their
    current books). The queue: the ``init_ipo_queue`` largest reformed or quoted
    firms meeting a board's standards (every IPO listed in the run's first year
    was filed before it started: queues were 2 years in 2016), each with a
    remaining wait drawn uniformly over its board's mean queue.
    """
    p, firms, rng = ctx.params, ctx.firms, ctx.streams["init"]
    month = ctx.start_month
    listed = rows[firms.listing[rows] == LISTED]
    if len(listed):
        board = markets.choose_domestic(markets.eligible_boards(p, month, board_columns(ctx, listed)))
        firms.board[listed] = np.where(board == markets.NO_BOARD, markets.CHINEXT, board)
        _draw_value(ctx, listed, rng)
    can = rows[is_one_of(firms.listing[rows], (REFORMED, NEEQ))]
    board = markets.choose_domestic(markets.eligible_boards(p, month, board_columns(ctx, can)))
    can, board = can[board != markets.NO_BOARD], board[board != markets.NO_BOARD]
    order = np.argsort(-firms.revenue_myuan[can], kind="stable")[: round(p.init_ipo_queue * p.population_scale)]
    queued, board = can[order], board[order]
    firms.pre_ipo_listing[queued] = firms.listing[queued]
    firms.listing[queued] = IPO_FILED
    firms.board[queued] = board
    firms.filed_month[queued] = month - 1
    mean = np.array([markets.queue_months(p, int(b), month) for b in board])
    firms.listing_timer[queued] = np.maximum(1, np.round(rng.random(len(queued)) * mean))
