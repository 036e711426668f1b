"""Project leads: arrival, screening at the eco threshold, signing and zone choice.

Leads arrive as Poisson counts per industry. The rate is the base rate times the
attraction effort, a cluster term (industries with more firms in the park draw
more leads) and the industry mix. Each lead carries a pollution intensity and a
planned investment; the eco threshold refuses polluting leads, and a share of
the rest sign. A signed project picks its zone by the location logit and becomes
an :class:`~sim.model.firms.Enterprise` in stage ``signed``.
"""

from __future__ import annotations

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext
from sim.model.firms import SIGNED
from sim.model.params import INDUSTRIES

# Share of domestic leads by industry [judgement from the plan's "4+1" priorities].
INDUSTRY_MIX = np.array([0.20, 0.30, 0.15, 0.10, 0.25])
# Industry mix of Israeli projects (medical devices, internet, other tech) [judgement].
ISRAELI_MIX = np.array([0.05, 0.40, 0.25, 0.0, 0.30])
# Mean pollution intensity by industry, index 0-1 [judgement: carbon materials are
# the most polluting of the park's industries, internet and culture the least].
POLLUTION_MEAN = np.array([0.60, 0.35, 0.08, 0.10, 0.40])
POLLUTION_CONCENTRATION = 6.0  # Beta(a, b) with a + b = 6 [judgement]
HIGH_POLLUTION_INDEX = 0.6  # firms above this count as high-pollution in reports
INVESTMENT_MEDIAN_MYUAN = 20.0  # median planned investment of a lead [judgement]
INVESTMENT_SIGMA = 1.2  # log spread of planned investment [judgement]
CLUSTER_ELASTICITY = 0.3  # lead rate grows with (firms / firms at start) ** 0.3 [judgement]

assert len(INDUSTRY_MIX) == len(INDUSTRIES) and abs(INDUSTRY_MIX.sum() - 1) < 1e-9


def draw_leads(ctx: ModelContext) -> dict[str, np.ndarray]:
    """Draw this month's leads (industry, origin, pollution, investment)."""
    rng, p, fx = ctx.streams["arrivals"], ctx.params, ctx.effects
    base = p.leads_per_month * p.population_scale * fx.lead_rate_mult
    rates = base * INDUSTRY_MIX * ctx.cluster_factor()
    counts = rng.poisson(rates)
    n_isr = rng.poisson(fx.israeli_leads_per_month * p.population_scale)
    industry = np.concatenate(
        [np.repeat(np.arange(len(INDUSTRIES)), counts), rng.choice(len(INDUSTRIES), n_isr, p=ISRAELI_MIX)]
    )
    israeli = np.concatenate([np.zeros(counts.sum(), bool), np.ones(n_isr, bool)])
    m = POLLUTION_MEAN[industry]
    pollution = rng.beta(POLLUTION_CONCENTRATION * m, POLLUTION_CONCENTRATION * (1 - m))
    median = INVESTMENT_MEDIAN_MYUAN * (1.0 + 4.0 * fx.key_focus_share)
    investment = median * portable.exp(INVESTMENT_SIGMA * rng.standard_normal(len(industry)))
    return {"industry": industry, "israeli": israeli, "pollution": pollution, "investment": investment}


def screen_and_sign(ctx: ModelContext, leads: dict[str, np.ndarray]) -> np.ndarray:
    """Apply the eco threshold and the signing decision; return the new rows."""
    rng, p, fx = ctx.streams["screening"], ctx.params, ctx.effects
    admitted = leads["pollution"] <= fx.max_pollution_index
    ctx.counters.add("leads", len(admitted))
    ctx.counters.add("leads_refused_eco", int((~admitted).sum()))
    signs = admitted & (rng.random(len(admitted)) < p.p_sign_lead)
    if not signs.any():
        return np.empty(0, dtype=int)
    sel = {k: v[signs] for k, v in leads.items()}
    stage = np.full(len(sel["industry"]), SIGNED)
    zone = ctx.zones.choose(
        ctx.streams["location"],
        sel["industry"],
        stage,
        sel["israeli"],
        np.full(len(stage), p.min_floor_m2),
        ctx.location_betas(),
        ctx.firms,
    )
    placed = zone >= 0
    ctx.counters.add("leads_lost_no_land", int((~placed).sum()))
    if not placed.any():
        return np.empty(0, dtype=int)
    key = sel["investment"][placed] >= p.key_project_investment_myuan
    rows = ctx.add_firms(
        int(placed.sum()),
        industry=sel["industry"][placed],
        israeli=sel["israeli"][placed],
        zone=zone[placed],
        stage=SIGNED,
        pollution_index=sel["pollution"][placed],
        investment_myuan=sel["investment"][placed],
        key_project=key,
        signed_month=ctx.month,
        born_month=ctx.month,
    )
    count_projects(ctx, rows, "signed")
    return rows


def count_projects(ctx: ModelContext, rows: np.ndarray, event: str) -> None:
    """Count projects reaching a stage (signed / registered / started) by industry."""
    firms = ctx.firms
    ctx.counters.add(f"projects_{event}", len(rows))
    for i, name in enumerate(INDUSTRIES):
        ctx.counters.add(f"{name}_projects_{event}", int((firms.industry[rows] == i).sum()))
    ctx.counters.add(f"key_projects_{event}", int(firms.key_project[rows].sum()))
    ctx.counters.add(f"israeli_projects_{event}", int(firms.israeli[rows].sum()))
    ctx.counters.add(f"high_pollution_{event}", int((firms.pollution_index[rows] > HIGH_POLLUTION_INDEX).sum()))


def arrivals_step(ctx: ModelContext) -> None:
    """The arrivals process of one month."""
    screen_and_sign(ctx, draw_leads(ctx))
