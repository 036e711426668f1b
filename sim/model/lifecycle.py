"""Firm lifecycle: conversion of signed projects, growth, leading status, exits and moves.

Equations (monthly step, ``dt = 1/12`` year):

* signed -> registered with hazard ``p_register_per_month`` (needs floor space),
  signed -> abandoned with ``p_drop_signed_per_month * 2 / (1 + exp(gap))``, where
  ``gap`` is the utility of the project's zone minus the outside utility;
  registered -> operating with ``p_start_per_month``.
* Growth (Gibrat violated for small firms): ``log R += mu * dt + sigma * s(R) * sqrt(dt) * eps`` with
  ``mu = drift * stage_factor - b * log(R / R_ref) + q_g * quality + boost_funding + boost_support
  - penalty * (1 - fill)``, ``s(R) = (R / R_ref) ** -beta`` (growth falls with size, Evans 1987;
  volatility scales as size ** -0.2, Riccaboni et al. 2008) and ``fill`` the share of wanted staff hired.
* Cash (m yuan): ``cash += R * margin / 12 - spend`` each month, where ``spend = I / spend_months``
  while planned investment ``I`` is still being spent; loans, VC rounds add to it, loan repayments
  take from it (sim.model.finance).
* Exit hazard (inverted U in age ``a`` years, times size and cash terms):
  ``h = peak * (a / a_peak) ** k * exp(k * (1 - a / a_peak)) * min(cap, (R / R_ref) ** -g) * (c if cash < 0)``
  per year.
* Relocation out of the park: ``relocation_out_per_year * 2 / (1 + exp(gap + cost))``
  per year: the base hazard when the outside option beats the firm's zone by the
  moving cost ``relocation_out_cost_utility``, less when the park's offer is better.
"""

from __future__ import annotations

import numpy as np

from sim.model import portable
from sim.model.arrivals import count_projects
from sim.model.context import ModelContext, Params
from sim.model.firms import GONE, GROWING, LISTED, MATURE, OPERATING, REGISTERED, SIGNED
from sim.model.params import ZONES
from sim.model.talent import rd_share as talent_rd_share
from sim.model.units import MONTHS_PER_YEAR
from sim.model.zones import offer_gap


def stage_thresholds(p: Params) -> tuple[float, float]:
    """Revenue (m yuan/year) above which a firm is growing, and mature."""
    return p.growing_revenue_myuan, p.mature_revenue_myuan


def start_revenue_median(p: Params, industry: np.ndarray) -> np.ndarray:
    """Declared median first-month revenue (m yuan/year) of a new firm of each industry."""
    table = np.array(
        [
            p.start_revenue_graphene_myuan,
            p.start_revenue_health_myuan,
            p.start_revenue_internet_myuan,
            p.start_revenue_culture_myuan,
            p.start_revenue_other_tech_myuan,
        ]
    )
    return table[industry]


def conversion_step(ctx: ModelContext) -> None:
    """Signed projects register or drop out; registered firms start operating."""
    rng, p, firms = ctx.streams["conversion"], ctx.params, ctx.firms
    signed = firms.in_stage(SIGNED)
    u = rng.random(len(signed))
    h_drop = p.p_drop_signed_per_month * outside_pull(offer_gap(ctx, signed))
    drop = signed[u < h_drop]
    p_reg = p.p_register_per_month * np.where(firms.key_project[signed], p.key_register_mult, 1.0)
    reg = signed[(u >= h_drop) & (u < h_drop + p_reg)]
    ctx.remove_firms(drop, reason="abandoned")
    reg = _take_floor(ctx, reg, p.min_floor_m2)
    firms.stage[reg] = REGISTERED
    firms.registered_month[reg] = ctx.month
    firms.cash_myuan[reg] += p.entry_cash_share_of_investment * firms.investment_myuan[reg]
    firms.spend_left_months[reg] = round(p.investment_spend_months)
    count_projects(ctx, reg, "registered")
    registered = firms.in_stage(REGISTERED)
    start = registered[rng.random(len(registered)) < p.p_start_per_month]
    start = start[firms.registered_month[start] < ctx.month]
    firms.stage[start] = OPERATING
    firms.started_month[start] = ctx.month
    median = start_revenue_median(p, firms.industry[start]) * np.where(
        firms.key_project[start], p.key_start_revenue_mult, 1.0
    )
    firms.revenue_myuan[start] = median * portable.exp(p.start_revenue_sigma * rng.standard_normal(len(start)))
    firms.margin[start] = p.start_margin_sd * rng.standard_normal(len(start))
    count_projects(ctx, start, "started")


def _take_floor(ctx: ModelContext, rows: np.ndarray, need_m2: float) -> np.ndarray:
    """Give ``rows`` their first premises in their zone while room lasts; return those served.

    One compiled loop (:func:`sim.model._jit_lifecycle.take_floor`, the same comparisons and
    subtractions in the same order) unless ``PARKSIM_NO_JIT`` is set; :func:`_take_floor_python`
    is the reference.
    """
    if not portable.USE_JIT:
        return _take_floor_python(ctx, rows, need_m2)
    from sim.model._jit_lifecycle import take_floor

    firms, zones = ctx.firms, ctx.zones
    free = zones.free_m2.copy()
    served = take_floor(np.asarray(rows, dtype=np.int64), firms.zone, firms.floor_m2, free, float(need_m2))
    zones.occupied_m2 = zones.capacity_m2 - free
    return served


def _take_floor_python(ctx: ModelContext, rows: np.ndarray, need_m2: float) -> np.ndarray:
    """:func:`_take_floor` as a Python loop over the rows: the reference."""
    firms, zones = ctx.firms, ctx.zones
    free = zones.free_m2.copy()
    served = []
    for r in rows:
        z = firms.zone[r]
        if free[z] >= need_m2:
            free[z] -= need_m2
            firms.floor_m2[r] = need_m2
            served.append(r)
    zones.occupied_m2 = zones.capacity_m2 - free
    return np.asarray(served, dtype=int)


def margin_of(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """Profit margin: firm-specific offset plus an age path from loss to profit."""
    p = ctx.params
    age = ctx.month - ctx.firms.born_month[rows]
    path = p.margin_mature - (p.margin_mature - p.margin_start) * portable.exp(-age / p.margin_months)
    return path + ctx.firms.margin[rows]


def growth_step(ctx: ModelContext) -> None:
    """Revenue growth, staff wanted, floor space within zone capacity, stage moves, profits.

    Runs as one compiled loop (:mod:`sim.model._jit_lifecycle`, the same operations firm
    by firm, so the same bits) unless ``PARKSIM_NO_JIT`` is set; :func:`growth_step_numpy`
    is the reference it is tested against.
    """
    if not portable.USE_JIT:
        growth_step_numpy(ctx)
        return
    from sim.model import _jit_lifecycle as jit  # numba's import is paid on first use

    rng, p, firms = ctx.streams["growth"], ctx.params, ctx.firms
    rows = firms.in_stage(OPERATING, GROWING, MATURE)
    if len(rows) == 0:
        return
    eps = rng.standard_normal(len(rows))
    if ctx.month % MONTHS_PER_YEAR == 0:  # January: close the books of last year
        _close_the_books(firms)
    spend_rows = firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    talent = ctx.talent
    ctx.zones.occupied_m2 = jit.growth_month(
        rows,
        spend_rows,
        eps,
        ctx.month,
        tuple(float(getattr(p, name)) for name in jit.GROWTH_INPUTS),
        float(ctx.effects.support_growth_per_year),
        1.0 / MONTHS_PER_YEAR,
        float(MONTHS_PER_YEAR),
        talent.scale,
        talent_rd_share(p),
        (OPERATING, GROWING, MATURE),
        ctx.zones.capacity_m2,
        firms.n,
        firms.alive,
        firms.stage,
        firms.zone,
        firms.industry,
        firms.funded_month,
        firms.born_month,
        firms.revenue_myuan,
        firms.quality,
        firms.loan_myuan,
        firms.supported,
        firms.margin,
        firms.profit_ytd_myuan,
        firms.cash_myuan,
        firms.spend_left_months,
        firms.investment_myuan,
        firms.floor_m2,
        talent.employer,
        talent.skill,
    )


def _close_the_books(firms) -> None:
    """January: last year's profit moves into the three-year history."""
    firms.profit_y3_myuan[:] = firms.profit_y2_myuan
    firms.profit_y2_myuan[:] = firms.profit_y1_myuan
    firms.profit_y1_myuan[:] = firms.profit_ytd_myuan
    firms.profit_ytd_myuan[:] = 0.0


def growth_step_numpy(ctx: ModelContext) -> None:
    """:func:`growth_step` by numpy array operations: the reference the compiled loop is checked against."""
    rng, p, firms, fx = ctx.streams["growth"], ctx.params, ctx.firms, ctx.effects
    rows = firms.in_stage(OPERATING, GROWING, MATURE)
    if len(rows) == 0:
        return
    stage = firms.stage[rows]
    factor = np.select([stage == OPERATING, stage == GROWING], [p.drift_factor_operating, 1.0], p.drift_factor_mature)
    funded = (firms.funded_month[rows] >= 0) & (ctx.month - firms.funded_month[rows] < p.funded_months)
    fill = ctx.talent.fill(ctx, rows)
    # Gibrat holds above the reference size; below it growth and volatility rise as size falls
    size = np.maximum(firms.revenue_myuan[rows], p.growth_size_floor_myuan)
    log_size = np.minimum(portable.log(size / p.growth_size_ref_myuan), 0.0)
    mu = (
        p.growth_drift_per_year * factor
        - p.growth_drift_size_elasticity * log_size
        + p.quality_growth_per_year * firms.quality[rows]
        + p.funding_growth_boost_per_year * (funded | (firms.loan_myuan[rows] > 0))
        + fx.support_growth_per_year * firms.supported[rows]
        - p.talent_shortfall_penalty_per_year * (1.0 - fill)
    )
    sigma = p.growth_sigma_per_year * portable.exp(-p.growth_sigma_size_exponent * log_size)
    dt = 1.0 / MONTHS_PER_YEAR
    firms.revenue_myuan[rows] *= portable.exp(mu * dt + sigma * np.sqrt(dt) * rng.standard_normal(len(rows)))
    if ctx.month % MONTHS_PER_YEAR == 0:  # January: close the books of last year
        _close_the_books(firms)
    profit = firms.revenue_myuan[rows] * margin_of(ctx, rows) / MONTHS_PER_YEAR
    firms.profit_ytd_myuan[rows] += profit
    firms.cash_myuan[rows] += profit
    _spend_investment(ctx)
    _resize_floor(ctx, rows)
    rev, age = firms.revenue_myuan[rows], ctx.month - firms.born_month[rows]
    growing, mature = stage_thresholds(p)
    firms.stage[rows[(stage == OPERATING) & (rev >= growing)]] = GROWING
    firms.stage[rows[(stage == GROWING) & ((rev >= mature) | (age >= p.mature_age_months))]] = MATURE


def _spend_investment(ctx: ModelContext) -> None:
    """Registered and operating firms spend their planned investment from cash, evenly over the spend months."""
    p, firms = ctx.params, ctx.firms
    rows = firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    rows = rows[firms.spend_left_months[rows] > 0]
    firms.cash_myuan[rows] -= firms.investment_myuan[rows] / p.investment_spend_months
    firms.spend_left_months[rows] -= 1


def _resize_floor(ctx: ModelContext, rows: np.ndarray) -> None:
    """Move each firm's floor space toward what its staff need, never beyond zone capacity."""
    p, firms, zones = ctx.params, ctx.firms, ctx.zones
    want = np.maximum(p.min_floor_m2, firms.revenue_myuan[rows] / p.revenue_per_employee_myuan * p.m2_per_employee)
    delta = want - firms.floor_m2[rows]
    firms.floor_m2[rows] += np.minimum(delta, 0.0)  # shrinking is always possible
    zones.recount(firms)
    grow = np.maximum(delta, 0.0)
    zone = firms.zone[rows]
    asked = np.bincount(zone, weights=grow, minlength=len(ZONES))
    # share of the asked floor space each zone can grant: all of it unless it asks more than is free
    short = asked > zones.free_m2
    ratio = np.ones(len(ZONES))
    ratio[short] = np.maximum(zones.free_m2[short], 0.0) / asked[short]
    firms.floor_m2[rows] += grow * ratio[zone]
    zones.recount(firms)


def support_step(ctx: ModelContext) -> None:
    """One-enterprise-one-policy support: set the ``supported`` flags the policy picked.

    A new pick (``effects.supported_rows``) replaces the old one; without an
    active policy (``effects.support_continues`` False) nobody is supported.
    """
    firms, fx = ctx.firms, ctx.effects
    if fx.supported_rows is not None or not fx.support_continues:
        firms.supported[: firms.n] = False
    if fx.supported_rows is not None:
        firms.supported[fx.supported_rows] = True


def leading_step(ctx: ModelContext) -> None:
    """Leading ("landmark") enterprises: revenue above the declared threshold."""
    firms = ctx.firms
    n = firms.n
    firms.leading[:n] = firms.alive[:n] & (firms.revenue_myuan[:n] >= ctx.params.leading_revenue_myuan)


def exit_hazard_per_year(age_years: np.ndarray, p: Params) -> np.ndarray:
    """Inverted-U exit hazard by age (peak ``exit_peak_per_year`` at ``exit_peak_age_years``)."""
    x = np.maximum(age_years, 0.0) / p.exit_peak_age_years
    k = p.exit_shape
    return p.exit_peak_per_year * portable.power(x, k) * portable.exp(k * (1.0 - x))


def size_exit_factor(revenue_myuan: np.ndarray, p: Params) -> np.ndarray:
    """Exit hazard multiplier ``min(cap, (R / R_ref) ** -g)``; 1 for firms with no revenue yet (registered)."""
    safe = np.where(revenue_myuan > 0, revenue_myuan, p.growth_size_ref_myuan)
    factor = portable.exp(-p.exit_size_elasticity * portable.log(safe / p.growth_size_ref_myuan))
    return np.minimum(factor, p.exit_size_factor_max)


def exit_step(ctx: ModelContext) -> None:
    """Closures (age, size and cash), relocations out of the park and moves between zones.

    The hazards run as one compiled loop (:func:`sim.model._jit_lifecycle.exit_month`, the
    same operations, so the same bits) unless ``PARKSIM_NO_JIT`` is set;
    :func:`exit_step_numpy` is the reference.
    """
    if not portable.USE_JIT:
        exit_step_numpy(ctx)
        return
    from sim.model import _jit_lifecycle as jit

    rng, p, firms = ctx.streams["exits"], ctx.params, ctx.firms
    rows = firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    u = rng.random(len(rows))
    close, leave, broke = jit.exit_month(
        rows,
        u,
        offer_gap(ctx, rows),
        ctx.month,
        float(MONTHS_PER_YEAR),
        LISTED,
        tuple(float(getattr(p, name)) for name in jit.EXIT_INPUTS),
        firms.born_month,
        firms.revenue_myuan,
        firms.listing,
        firms.supported,
        firms.cash_myuan,
    )
    _close_move_and_relocate(ctx, rng, rows, close, leave, broke)


def _close_move_and_relocate(ctx: ModelContext, rng, rows, close, leave, broke) -> None:
    """The closures and relocations out drawn, then the moves between zones of the firms that stay."""
    p = ctx.params
    ctx.counters.add("closed_cash_out", int((close & broke).sum()))
    ctx.remove_firms(rows[close], reason="closed")
    ctx.remove_firms(rows[leave], reason="relocated_out")
    stay = rows[~close & ~leave]
    movers = stay[rng.random(len(stay)) < p.relocation_in_park_per_year / MONTHS_PER_YEAR]
    _relocate(ctx, movers)


def exit_step_numpy(ctx: ModelContext) -> None:
    """:func:`exit_step` by numpy array operations: the reference the compiled loop is checked against."""
    rng, firms = ctx.streams["exits"], ctx.firms
    rows = firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    h, broke = exit_hazards_numpy(ctx, rows)
    u = rng.random(len(rows))
    h_out = relocation_out_hazards_numpy(ctx, rows)
    close = u < h / MONTHS_PER_YEAR
    leave = ~close & (u < (h + h_out) / MONTHS_PER_YEAR)
    _close_move_and_relocate(ctx, rng, rows, close, leave, broke)


def exit_hazards_numpy(ctx: ModelContext, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closure hazard per year of ``rows`` (age, size, listed, supported and cash terms), and who is out of cash."""
    p, firms = ctx.params, ctx.firms
    age_years = (ctx.month - firms.born_month[rows]) / MONTHS_PER_YEAR
    h = exit_hazard_per_year(age_years, p) * size_exit_factor(firms.revenue_myuan[rows], p)
    h = h * np.where(firms.listing[rows] == LISTED, p.listed_exit_factor, 1.0)
    h = h * np.where(firms.supported[rows], p.supported_exit_factor, 1.0)
    broke = firms.cash_myuan[rows] < 0
    return h * np.where(broke, p.cash_out_exit_mult, 1.0), broke


def relocation_out_hazards_numpy(ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
    """Hazard per year that ``rows`` relocate out of the park (the outside pull on their zone's offer)."""
    p = ctx.params
    return p.relocation_out_per_year * outside_pull(offer_gap(ctx, rows) + p.relocation_out_cost_utility)


def outside_pull(gap: np.ndarray) -> np.ndarray:
    """Hazard multiplier ``2 / (1 + exp(gap))``: 1 at a tie with the outside option, 0-2 as the park leads or trails."""
    return 2.0 * portable.logistic(-np.asarray(gap, dtype=float))


def _relocate(ctx: ModelContext, rows: np.ndarray) -> None:
    """Firms reconsider their zone one at a time; a firm's own floor counts as free, so it can always stay."""
    firms, zones = ctx.firms, ctx.zones
    # fixed betas within the month; one pass over the movers, each seeing the moves before it
    zone = zones.reconsider(ctx.streams["location"], rows, ctx.location_betas(), firms)
    ctx.counters.add("relocations_in_park", int((zone != firms.zone[rows]).sum()))
    firms.zone[rows] = zone
    over = zones.occupied_m2 > zones.capacity_m2
    if over.any():  # np.isclose costs tens of microseconds: only where a zone is over at all
        over &= ~np.isclose(zones.occupied_m2, zones.capacity_m2)
    assert not over.any(), "relocation overfilled a zone"


__all__ = [
    "conversion_step",
    "growth_step",
    "support_step",
    "leading_step",
    "exit_step",
    "exit_hazard_per_year",
    "GONE",
]
