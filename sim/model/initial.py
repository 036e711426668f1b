"""The park's state when a run starts, built from the historical data and declared inputs.

Counts come from ``calibration/data/west_taihu_history.csv`` (through the
``init_*`` inputs, whose sources name the rows) and from declared assumptions;
nothing here is a hidden constant except the shapes marked [judgement].
"""

from __future__ import annotations

import numpy as np

from sim.model import listing, portable
from sim.model.arrivals import ISRAELI_MIX, POLLUTION_MEAN, investment_median
from sim.model.context import ModelContext, Params
from sim.model.firms import GROWING, LISTED, MATURE, NEEQ, OPERATING, REFORMED, REGISTERED, SIGNED
from sim.model.lifecycle import margin_of, stage_thresholds
from sim.model.params import INDUSTRIES, ZONES
from sim.model.units import MONTHS_PER_YEAR

# Zone capacity while the initial firms choose their zones: larger than any park, so that
# no choice is refused for room before the zones are sized to fit [definition: "unbounded"].
UNBOUNDED_M2 = 1e15


def _counts(p: Params) -> np.ndarray:
    per_industry = (
        p.init_graphene_firms,
        p.init_health_firms,
        p.init_internet_firms,
        p.init_culture_firms,
        p.init_other_tech_firms,
    )
    return np.array([round(n * p.population_scale) for n in per_industry])


def build_initial_state(ctx: ModelContext) -> None:
    """Create firms, zones, talent and investors for the start month."""
    p, firms = ctx.params, ctx.firms
    rows = _existing_firms(ctx)
    _book_history(ctx, rows)
    _initial_listings(ctx, rows)
    firms.reserve[rows] |= (firms.revenue_myuan[rows] >= p.reserve_revenue_myuan) & (firms.profit_y1_myuan[rows] > 0)
    ctx.zones.recount(firms)
    ctx.zones.capacity_m2 = np.maximum(
        ctx.zones.occupied_m2 / p.init_occupancy_share, p.init_min_zone_premises * p.min_floor_m2
    )
    _signed_pipeline(ctx)
    _initial_talent(ctx)
    ctx.finance.populate(round(p.init_investors * p.population_scale))
    for policy in ctx.policies:  # zones need the first month's services before its talent step
        if policy.active(ctx.start_month):
            policy.apply(ctx, ctx.effects)
    ctx.zones.update(firms, ctx.effects, ctx.talent.scale, p.revenue_per_employee_myuan, add_land=False)
    listing.seed_initial(ctx, rows)  # boards and values of listed firms, the IPO queue (last init draws)


def _existing_firms(ctx: ModelContext) -> np.ndarray:
    """Draw the firms already in the park and place them in zones sized to fit them; return their rows."""
    p, rng = ctx.params, ctx.streams["init"]
    industry = np.repeat(np.arange(len(INDUSTRIES)), _counts(p))
    n = len(industry)
    israeli = _israeli_flags(rng, industry, p)
    age = rng.integers(1, p.init_max_age_months + 1, n)
    revenue, stage = _revenue_and_stage(rng, industry, p)
    pollution = _pollution(rng, industry, p)
    floor = np.maximum(p.min_floor_m2, revenue / p.revenue_per_employee_myuan * p.m2_per_employee)
    ctx.zones.capacity_m2 = np.full(len(ZONES), UNBOUNDED_M2)  # choose freely, then size the zones
    zone = ctx.zones.choose(ctx.streams["location"], industry, stage, israeli, floor, ctx.location_betas(), ctx.firms)
    return ctx.add_firms(
        n,
        industry=industry,
        israeli=israeli,
        zone=zone,
        stage=stage,
        revenue_myuan=revenue,
        pollution_index=pollution,
        floor_m2=floor,
        born_month=ctx.start_month - age,
        signed_month=ctx.start_month - age,
        investment_myuan=investment_median(p, industry),  # already spent [assumption]: spend_left_months 0
        margin=p.start_margin_sd * rng.standard_normal(n),
        vc_backed=rng.random(n) < p.init_vc_backed_share,
        foreign=israeli | (rng.random(n) < p.init_foreign_other_share),
        quality=rng.standard_normal(n),
        signal_noise=rng.standard_normal(n),
        cash_myuan=p.init_cash_months_of_revenue * revenue / MONTHS_PER_YEAR,
    )


def _israeli_flags(rng: np.random.Generator, industry: np.ndarray, p: Params) -> np.ndarray:
    """Which existing firms are Israeli, drawn by the Israeli industry mix."""
    n = len(industry)
    israeli = np.zeros(n, bool)
    n_isr = min(round(p.init_israeli_firms * p.population_scale), n)
    if n_isr:
        w = ISRAELI_MIX[industry]
        israeli[rng.choice(n, n_isr, replace=False, p=w / w.sum())] = True
    return israeli


def _revenue_and_stage(rng: np.random.Generator, industry: np.ndarray, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal revenue by industry, the stage it implies, and a share not yet operating."""
    n = len(industry)
    sigma = p.init_revenue_sigma
    factor = np.array(
        [
            p.init_graphene_revenue_factor,
            p.init_health_revenue_factor,
            p.init_internet_revenue_factor,
            p.init_culture_revenue_factor,
            p.init_other_tech_revenue_factor,
        ]
    )
    mean = p.init_mean_revenue_myuan * factor[industry]
    revenue = mean * portable.exp(sigma * rng.standard_normal(n) - sigma * sigma / 2)
    growing, mature = stage_thresholds(p)
    stage = np.select([revenue >= mature, revenue >= growing], [MATURE, GROWING], OPERATING)
    young = rng.random(n) < p.init_registered_share
    stage[young], revenue[young] = REGISTERED, 0.0
    return revenue, stage


def _pollution(rng: np.random.Generator, industry: np.ndarray, p: Params) -> np.ndarray:
    """Pollution intensity by industry (the Beta distribution of arrivals)."""
    m = POLLUTION_MEAN[industry]
    return rng.beta(p.pollution_concentration * m, p.pollution_concentration * (1 - m))


def _book_history(ctx: ModelContext, rows: np.ndarray) -> None:
    """Registration and start months, and the last three years' profits, of the existing firms."""
    firms = ctx.firms
    age = ctx.start_month - firms.born_month[rows]
    operating = firms.stage[rows] != REGISTERED
    firms.registered_month[rows] = ctx.start_month - age
    firms.started_month[rows[operating]] = ctx.start_month - age[operating]
    profit = firms.revenue_myuan[rows] * margin_of(ctx, rows)
    firms.profit_y1_myuan[rows] = profit
    g = ctx.params.init_past_growth
    firms.profit_y2_myuan[rows] = np.where(age > MONTHS_PER_YEAR, profit / g, 0.0)
    firms.profit_y3_myuan[rows] = np.where(age > 2 * MONTHS_PER_YEAR, profit / (g * g), 0.0)


def _initial_listings(ctx: ModelContext, rows: np.ndarray) -> None:
    """Quoted and listed firms at the start: the largest old-enough firms of each group."""
    p, firms = ctx.params, ctx.firms
    s = p.population_scale
    old = rows[(ctx.start_month - firms.born_month[rows] >= p.neeq_min_age_months) & (firms.stage[rows] != REGISTERED)]
    by_size = old[np.argsort(-firms.revenue_myuan[old], kind="stable")]
    listed = by_size[: round(p.init_exchange_listed * s)]
    rest = by_size[len(listed) :]
    graphene = rest[firms.industry[rest] == 0][: round(p.init_graphene_neeq * s)]
    others = rest[firms.industry[rest] != 0][: round(p.init_other_neeq * s)]
    rest = rest[~np.isin(rest, np.concatenate([graphene, others]))]
    reformed = rest[: round(p.init_reformed_firms * s)]
    for group, state in ((listed, LISTED), (graphene, NEEQ), (others, NEEQ), (reformed, REFORMED)):
        firms.listing[group] = state
        firms.reform_month[group] = ctx.start_month - p.init_event_age_months
        firms.reserve[group] = True
    firms.listed_month[listed] = ctx.start_month - p.init_event_age_months
    firms.pre_ipo_listing[rows] = REFORMED


def _signed_pipeline(ctx: ModelContext) -> None:
    """Signed projects not yet landed: the steady state of the lead and landing rates."""
    p, rng = ctx.params, ctx.streams["init"]
    per_month = p.leads_per_month * p.population_scale * p.p_sign_lead
    n = rng.poisson(per_month / (p.p_register_per_month + p.p_drop_signed_per_month))
    if n == 0:
        return
    from sim.model.arrivals import INDUSTRY_MIX

    industry = rng.choice(len(INDUSTRIES), n, p=INDUSTRY_MIX)
    zone = ctx.zones.choose(
        ctx.streams["location"],
        industry,
        np.full(n, SIGNED),
        np.zeros(n, bool),
        np.zeros(n),
        ctx.location_betas(),
        ctx.firms,
    )
    ctx.add_firms(
        n,
        industry=industry,
        zone=zone,
        stage=SIGNED,
        born_month=ctx.start_month,
        signed_month=ctx.start_month - 1,
        pollution_index=_pollution(rng, industry, p),
        quality=rng.standard_normal(n),
        signal_noise=rng.standard_normal(n),
        foreign=rng.random(n) < p.foreign_other_share,
        investment_myuan=investment_median(p, industry) * portable.exp(p.investment_sigma * rng.standard_normal(n)),
    )


def _initial_talent(ctx: ModelContext) -> None:
    """Staff every firm fully and add a small unemployed pool in each zone."""
    rng, firms, talent = ctx.streams["init"], ctx.firms, ctx.talent
    rows = firms.live()
    want = talent.wanted_agents(ctx, rows)
    employer = np.repeat(rows, want)
    zone = firms.zone[employer]
    n_idle = int(round(len(employer) * ctx.params.talent_initial_unemployed_share))
    idle_zone = zone[rng.integers(0, len(zone), n_idle)] if len(zone) else np.zeros(0, int)
    talent.add(
        rng,
        np.concatenate([zone, idle_zone]),
        np.concatenate([employer, np.full(n_idle, -1)]),
        ctx.start_month - ctx.params.init_event_age_months,
        0.0,
    )
    talent.recount(firms)
