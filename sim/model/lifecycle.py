"""Firm lifecycle: conversion of signed projects, growth, leading status, exits and moves.

Equations (monthly step, ``dt = 1/12`` year):

* signed -> registered with hazard ``p_register_per_month`` (needs floor space),
  signed -> abandoned with ``p_drop_signed_per_month * 2 / (1 + exp(gap))``, where
  ``gap`` is the utility of the project's zone minus the outside utility;
  registered -> operating with ``p_start_per_month``.
* Growth (Gibrat with drift): ``log R += mu * dt + sigma * sqrt(dt) * eps`` with
  ``mu = drift * stage_factor + boost_funding + boost_support - penalty * (1 - fill)``
  where ``fill`` is the share of wanted staff the firm has hired.
* Exit hazard (inverted U in age ``a`` years):
  ``h(a) = peak * (a / a_peak) ** k * exp(k * (1 - a / a_peak))`` per year.
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
from sim.model.zones import offer_gap

GROWING_REVENUE_MYUAN = 20.0  # operating -> growing above this revenue [judgement]
MATURE_REVENUE_MYUAN = 500.0  # growing -> mature above this revenue [judgement]
MATURE_AGE_MONTHS = 120  # or after ten years [judgement]
STAGE_DRIFT_FACTOR = {OPERATING: 1.5, GROWING: 1.0, MATURE: 0.3}  # young firms grow faster [judgement]
START_REVENUE_MYUAN = 1.5  # median revenue in the first operating month [judgement]
MARGIN_START, MARGIN_MATURE, MARGIN_MONTHS = -0.15, 0.10, 30.0  # margin path with age [judgement]
LISTED_EXIT_FACTOR = 0.2  # listed firms rarely close [judgement]
SUPPORTED_EXIT_FACTOR = 0.5  # supported firms are kept alive [judgement]
FUNDED_MONTHS = 12  # a funding round boosts growth for a year [judgement]


def conversion_step(ctx: ModelContext) -> None:
    """Signed projects register or drop out; registered firms start operating."""
    rng, p, firms = ctx.streams["conversion"], ctx.params, ctx.firms
    signed = firms.in_stage(SIGNED)
    u = rng.random(len(signed))
    h_drop = p.p_drop_signed_per_month * outside_pull(offer_gap(ctx, signed))
    drop = signed[u < h_drop]
    reg = signed[(u >= h_drop) & (u < h_drop + p.p_register_per_month)]
    ctx.remove_firms(drop, reason="abandoned")
    reg = _take_floor(ctx, reg, p.min_floor_m2)
    firms.stage[reg] = REGISTERED
    firms.registered_month[reg] = ctx.month
    count_projects(ctx, reg, "registered")
    registered = firms.in_stage(REGISTERED)
    start = registered[rng.random(len(registered)) < p.p_start_per_month]
    start = start[firms.registered_month[start] < ctx.month]
    firms.stage[start] = OPERATING
    firms.started_month[start] = ctx.month
    firms.revenue_myuan[start] = START_REVENUE_MYUAN * portable.exp(0.8 * rng.standard_normal(len(start)))
    firms.margin[start] = 0.05 * rng.standard_normal(len(start))
    count_projects(ctx, start, "started")


def _take_floor(ctx: ModelContext, rows: np.ndarray, need_m2: float) -> np.ndarray:
    """Give ``rows`` their first premises in their zone while room lasts; return those served."""
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
    age = ctx.month - ctx.firms.born_month[rows]
    path = MARGIN_MATURE - (MARGIN_MATURE - MARGIN_START) * portable.exp(-age / MARGIN_MONTHS)
    return path + ctx.firms.margin[rows]


def growth_step(ctx: ModelContext) -> None:
    """Revenue growth, staff wanted, floor space within zone capacity, stage moves, profits."""
    rng, p, firms, fx = ctx.streams["growth"], ctx.params, ctx.firms, ctx.effects
    rows = firms.in_stage(OPERATING, GROWING, MATURE)
    if len(rows) == 0:
        return
    stage = firms.stage[rows]
    factor = np.select(
        [stage == OPERATING, stage == GROWING],
        [STAGE_DRIFT_FACTOR[OPERATING], STAGE_DRIFT_FACTOR[GROWING]],
        STAGE_DRIFT_FACTOR[MATURE],
    )
    funded = (firms.funded_month[rows] >= 0) & (ctx.month - firms.funded_month[rows] < FUNDED_MONTHS)
    fill = ctx.talent.fill(ctx, rows)
    mu = (
        p.growth_drift_per_year * factor
        + p.funding_growth_boost_per_year * (funded | (firms.loan_myuan[rows] > 0))
        + fx.support_growth_per_year * firms.supported[rows]
        - p.talent_shortfall_penalty_per_year * (1.0 - fill)
    )
    sigma = p.growth_sigma_per_year
    firms.revenue_myuan[rows] *= portable.exp(mu / 12.0 + sigma * np.sqrt(1 / 12.0) * rng.standard_normal(len(rows)))
    if ctx.month % 12 == 0:  # January: close the books of last year
        firms.profit_y3_myuan[:] = firms.profit_y2_myuan
        firms.profit_y2_myuan[:] = firms.profit_y1_myuan
        firms.profit_y1_myuan[:] = firms.profit_ytd_myuan
        firms.profit_ytd_myuan[:] = 0.0
    firms.profit_ytd_myuan[rows] += firms.revenue_myuan[rows] * margin_of(ctx, rows) / 12.0
    _resize_floor(ctx, rows)
    rev, age = firms.revenue_myuan[rows], ctx.month - firms.born_month[rows]
    firms.stage[rows[(stage == OPERATING) & (rev >= GROWING_REVENUE_MYUAN)]] = GROWING
    firms.stage[rows[(stage == GROWING) & ((rev >= MATURE_REVENUE_MYUAN) | (age >= MATURE_AGE_MONTHS))]] = MATURE


def _resize_floor(ctx: ModelContext, rows: np.ndarray) -> None:
    """Move each firm's floor space toward what its staff need, never beyond zone capacity."""
    p, firms, zones = ctx.params, ctx.firms, ctx.zones
    want = np.maximum(p.min_floor_m2, firms.revenue_myuan[rows] / p.revenue_per_employee_myuan * p.m2_per_employee)
    delta = want - firms.floor_m2[rows]
    firms.floor_m2[rows] += np.minimum(delta, 0.0)  # shrinking is always possible
    zones.recount(firms)
    grow = np.maximum(delta, 0.0)
    zone = firms.zone[rows]
    asked = np.bincount(zone, weights=grow, minlength=3)
    ratio = np.where(asked > 0, np.minimum(1.0, zones.free_m2 / np.maximum(asked, 1e-9)), 1.0)
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


def exit_step(ctx: ModelContext) -> None:
    """Closures, relocations out of the park and moves between zones."""
    rng, p, firms = ctx.streams["exits"], ctx.params, ctx.firms
    rows = firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    age_years = (ctx.month - firms.born_month[rows]) / 12.0
    h = exit_hazard_per_year(age_years, p)
    h = h * np.where(firms.listing[rows] == LISTED, LISTED_EXIT_FACTOR, 1.0)
    h = h * np.where(firms.supported[rows], SUPPORTED_EXIT_FACTOR, 1.0)
    u = rng.random(len(rows))
    h_out = p.relocation_out_per_year * outside_pull(offer_gap(ctx, rows) + p.relocation_out_cost_utility)
    close = u < h / 12.0
    leave = ~close & (u < (h + h_out) / 12.0)
    ctx.remove_firms(rows[close], reason="closed")
    ctx.remove_firms(rows[leave], reason="relocated_out")
    stay = rows[~close & ~leave]
    movers = stay[rng.random(len(stay)) < p.relocation_in_park_per_year / 12.0]
    _relocate(ctx, movers)


def outside_pull(gap: np.ndarray) -> np.ndarray:
    """Hazard multiplier ``2 / (1 + exp(gap))``: 1 at a tie with the outside option, 0-2 as the park leads or trails."""
    return 2.0 * portable.logistic(-np.asarray(gap, dtype=float))


def _relocate(ctx: ModelContext, rows: np.ndarray) -> None:
    """Firms reconsider their zone one at a time; a firm's own floor counts as free, so it can always stay."""
    firms, zones = ctx.firms, ctx.zones
    moved = 0
    for r in rows:
        cur, floor = int(firms.zone[r]), float(firms.floor_m2[r])
        zones.occupied_m2[cur] -= floor
        one = np.array([r])
        zone = zones.choose(
            ctx.streams["location"], firms.industry[one], firms.stage[one], firms.israeli[one],
            firms.floor_m2[one], ctx.location_betas(), firms,
        )[0]  # fmt: skip
        new = int(zone) if zone >= 0 else cur
        zones.occupied_m2[new] += floor
        firms.zone[r] = new
        moved += new != cur
    ctx.counters.add("relocations_in_park", moved)
    assert np.all(zones.occupied_m2 <= zones.capacity_m2 + 1e-6), "relocation overfilled a zone"


__all__ = [
    "conversion_step",
    "growth_step",
    "support_step",
    "leading_step",
    "exit_step",
    "exit_hazard_per_year",
    "GONE",
]
