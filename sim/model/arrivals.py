"""Project leads: arrival, screening at the eco threshold, signing and zone choice.

Leads arrive as Poisson counts per industry and environmental-impact category
(China's EIA categories: heavy, light, clean). The rate is the base rate times
the attraction effort, a cluster term (industries with more firms in the park
draw more leads), the industry mix, the industry's category mix and, for clean
leads, the park's eco quality. Each lead carries a pollution intensity drawn
for its category and a planned investment; the eco threshold of its category
refuses polluting leads, and a share of the rest are ready to sign. Such a lead
weighs the best zone with room against the outside option (a competing park):
if the zone wins it becomes an :class:`~sim.model.firms.Enterprise` in stage
``signed``, otherwise it is lost to the outside.
"""

from __future__ import annotations

import functools

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext
from sim.model.firms import SIGNED
from sim.model.params import INDUSTRIES
from sim.model.zones import offer_betas

# Share of domestic leads by industry [judgement from the plan's "4+1" priorities].
INDUSTRY_MIX = np.array([0.20, 0.30, 0.15, 0.10, 0.25])
# Industry mix of Israeli projects (medical devices, internet, other tech) [judgement].
ISRAELI_MIX = np.array([0.05, 0.40, 0.25, 0.0, 0.30])
# Environmental-impact categories of China's EIA law (art. 16) and its classified directory
# (建设项目环境影响评价分类管理名录, MEP 2008 / 2015 / 2017): heavy impact needs an EIA report
# (报告书), light impact a report table (报告表), negligible impact only a registration
# form (登记表, filed, not approved, since the 2016 revision of the law).
CATEGORIES = ("heavy", "light", "clean")
HEAVY, LIGHT, CLEAN = range(len(CATEGORIES))
# Category mix of each industry's leads (rows INDUSTRIES, columns CATEGORIES) [judgement,
# read off the directory (MEP Decree 2, 2008: fao.org faolex LEX-FAOC040204 [H]): chemical
# synthesis of carbon materials and drugs needs a report (chemicals and pharmacy are on the
# MEP's list of heavy-polluting industries, lexology.com summary [M]; the 2021 directory keeps
# electronic chemical materials at "report", enviliance.com report_1508 [M]), device
# manufacture a report table, software, services, film and tourism at most a registration
# form; other_tech is a mix of light manufacture and services].
CATEGORY_MIX = np.array(
    [
        [0.50, 0.40, 0.10],  # graphene: chemical production, application products, R&D
        [0.15, 0.55, 0.30],  # health: pharmaceuticals, medical devices, health services
        [0.00, 0.10, 0.90],  # internet: data centres, software and e-commerce
        [0.00, 0.20, 0.80],  # culture: studios and tourism works, services
        [0.20, 0.50, 0.30],  # other_tech
    ]
)
_CATEGORY_MIX_CUMULATIVE = CATEGORY_MIX.cumsum(axis=1)  # row by row, as drawn for Israeli leads [derived]
# Normalised running sum of ISRAELI_MIX, the inverse CDF Generator.choice(p=ISRAELI_MIX) draws by
# (computed once instead of in every call, with its checks of p) [derived]
_ISRAELI_CDF = ISRAELI_MIX.cumsum()
_ISRAELI_CDF /= _ISRAELI_CDF[-1]
_ISRAELI_CDF.flags.writeable = False
# Mean pollution intensity by category, index 0-1 (1 = the most polluting project the park
# could see) [judgement: the directory's tiers are ordered by expected impact].
CATEGORY_POLLUTION_MEAN = np.array([0.70, 0.35, 0.05])
# Mean pollution intensity by industry, implied by the two tables above [derived]
# (graphene about 0.50, internet 0.08; used for the initial firms).
POLLUTION_MEAN = CATEGORY_MIX @ CATEGORY_POLLUTION_MEAN
HIGH_POLLUTION_INDEX = 0.6  # firms above this count as high-pollution in reports [definition for reporting, judgement]

assert len(INDUSTRY_MIX) == len(INDUSTRIES) and np.isclose(INDUSTRY_MIX.sum(), 1.0)
assert CATEGORY_MIX.shape == (len(INDUSTRIES), len(CATEGORIES)) and np.allclose(CATEGORY_MIX.sum(axis=1), 1.0)


def park_eco_quality(ctx: ModelContext) -> float:
    """Eco quality of the park as a lead sees it: the zones' index weighted by their floor space."""
    z = ctx.zones
    weight = np.maximum(z.capacity_m2, 0.0)
    return float((z.eco_quality_index * weight).sum() / max(weight.sum(), 1.0))


def category_attraction(ctx: ModelContext) -> np.ndarray:
    """Lead-rate multiplier per category: clean leads rise with eco quality, ``exp(elasticity * (E - 1))``."""
    mult = np.ones(len(CATEGORIES))
    mult[CLEAN] = portable.exp(ctx.params.eco_clean_lead_elasticity * (park_eco_quality(ctx) - 1.0))
    return mult


def draw_leads(ctx: ModelContext) -> dict[str, np.ndarray]:
    """Draw this month's leads (industry, EIA category, origin, pollution, investment).

    The columns are built around the draws by two compiled loops
    (:func:`sim.model._jit_lifecycle.lead_columns` and ``lead_values``: the same values and
    operations, exp by :func:`sim.model._jit.exp1`) unless ``PARKSIM_NO_JIT`` is set;
    :func:`draw_leads_numpy` is the reference. The draws are the same in both, in the same order.
    """
    if not portable.USE_JIT:
        return draw_leads_numpy(ctx)
    from sim.model import _jit_lifecycle as jit  # numba's import is paid on first use

    rng, p, fx = ctx.streams["arrivals"], ctx.params, ctx.effects
    counts, isr_industry, isr_category = _lead_counts(ctx)
    industry, category, israeli = jit.lead_columns(counts.ravel(), len(CATEGORIES), isr_industry, isr_category, CLEAN)
    m = CATEGORY_POLLUTION_MEAN[category]
    kappa = p.pollution_concentration
    pollution = rng.beta(kappa * m, kappa * (1 - m))
    n = len(industry)
    key_u = rng.random(n)
    z = rng.standard_normal(n)
    foreign_u = rng.random(n)
    quality = rng.standard_normal(n)
    signal_noise = rng.standard_normal(n)
    investment, foreign = jit.lead_values(
        industry,
        israeli,
        key_u,
        z,
        foreign_u,
        float(fx.key_focus_share * p.key_lead_share_full_focus),
        float(p.key_investment_median_myuan),
        _investment_medians(p),
        float(p.investment_sigma),
        float(p.foreign_other_share),
    )
    return {
        "industry": industry,
        "category": category,
        "israeli": israeli,
        "pollution": pollution,
        "investment": investment,
        "foreign": foreign,
        "quality": quality,
        "signal_noise": signal_noise,
    }


def _lead_counts(ctx: ModelContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leads drawn per (industry, category) cell, and the Israeli leads' industries and categories."""
    rng, p, fx = ctx.streams["arrivals"], ctx.params, ctx.effects
    base = p.leads_per_month * p.population_scale * fx.lead_rate_mult
    rates = (base * INDUSTRY_MIX * ctx.cluster_factor())[:, None] * CATEGORY_MIX * category_attraction(ctx)
    counts = rng.poisson(rates)
    n_isr = rng.poisson(fx.israeli_leads_per_month * p.population_scale)
    if n_isr:
        # = rng.choice(len(INDUSTRIES), n_isr, p=ISRAELI_MIX): the same uniforms through the same CDF
        isr_industry = _ISRAELI_CDF.searchsorted(rng.random(n_isr), side="right")
        isr_category = (rng.random(n_isr)[:, None] > _CATEGORY_MIX_CUMULATIVE[isr_industry]).sum(axis=1)
    else:  # drawing none takes nothing from the stream: skip the calls
        isr_industry = isr_category = np.zeros(0, dtype=np.int64)
    return counts, isr_industry, isr_category


def draw_leads_numpy(ctx: ModelContext) -> dict[str, np.ndarray]:
    """:func:`draw_leads` by numpy operations: the reference the compiled loops are checked against."""
    rng, p, fx = ctx.streams["arrivals"], ctx.params, ctx.effects
    counts, isr_industry, isr_category = _lead_counts(ctx)
    n_isr = len(isr_industry)
    pairs = np.repeat(np.arange(counts.size), counts.ravel())
    industry = np.concatenate([pairs // len(CATEGORIES), isr_industry])
    category = np.concatenate([pairs % len(CATEGORIES), np.minimum(isr_category, CLEAN)])
    israeli = np.concatenate([np.zeros(len(pairs), bool), np.ones(n_isr, bool)])
    m = CATEGORY_POLLUTION_MEAN[category]
    kappa = p.pollution_concentration
    pollution = rng.beta(kappa * m, kappa * (1 - m))
    n = len(industry)
    # key-project leads (a share set by the key_project_focus_share lever) draw from their own, larger distribution
    key_lead = rng.random(n) < fx.key_focus_share * p.key_lead_share_full_focus
    median = np.where(key_lead, p.key_investment_median_myuan, investment_median(p, industry))
    investment = median * portable.exp(p.investment_sigma * rng.standard_normal(n))
    foreign = israeli | (rng.random(n) < p.foreign_other_share)
    quality = rng.standard_normal(n)
    signal_noise = rng.standard_normal(n)
    return {
        "industry": industry,
        "category": category,
        "israeli": israeli,
        "pollution": pollution,
        "investment": investment,
        "foreign": foreign,
        "quality": quality,
        "signal_noise": signal_noise,
    }


def investment_median(p, industry: np.ndarray) -> np.ndarray:
    """Declared median planned investment (m yuan) of an ordinary lead of each industry."""
    return _investment_medians(p)[industry]


def _investment_medians(p) -> np.ndarray:
    """The declared median planned investment (m yuan) of an ordinary lead, in INDUSTRIES order."""
    return np.array(
        [
            p.investment_median_graphene_myuan,
            p.investment_median_health_myuan,
            p.investment_median_internet_myuan,
            p.investment_median_culture_myuan,
            p.investment_median_other_tech_myuan,
        ]
    )


def pollution_limits(ctx: ModelContext) -> np.ndarray:
    """Entry limit per EIA category: the heavy and light levers; registration-form projects are exempt."""
    fx = ctx.effects
    return np.array([fx.max_pollution_index, fx.max_pollution_light_index, 1.0])


# Counter names per EIA category: leads, refused at the threshold, signed, high-pollution signed [definition]
_CATEGORY_COUNTERS = tuple(
    (f"leads_{c}", f"leads_refused_eco_{c}", f"{c}_projects_signed", f"high_pollution_{c}_signed") for c in CATEGORIES
)


def screen_and_sign(ctx: ModelContext, leads: dict[str, np.ndarray]) -> np.ndarray:
    """Screen, sign and place this month's leads; return the new rows.

    Each lead faces its EIA category's eco threshold, then the signing draw, then
    the zone choice against the outside option (a competing park).
    """
    rng, p = ctx.streams["screening"], ctx.params
    category = leads["category"]
    admitted = leads["pollution"] <= pollution_limits(ctx)[category]
    ctx.counters.add("leads", len(admitted))
    ctx.counters.add("leads_refused_eco", int((~admitted).sum()))
    by_category = np.bincount(category, minlength=len(CATEGORIES)).tolist()
    refused_by_category = np.bincount(category[~admitted], minlength=len(CATEGORIES)).tolist()
    for c, (leads_name, refused_name, _, _) in enumerate(_CATEGORY_COUNTERS):
        ctx.counters.add(leads_name, by_category[c])
        ctx.counters.add(refused_name, refused_by_category[c])
    key = leads["investment"] >= p.key_project_investment_myuan
    p_sign = p.p_sign_lead * np.where(key, p.key_sign_mult, 1.0)
    signs = admitted & (rng.random(len(admitted)) < p_sign)
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
        offer_betas(ctx),
        ctx.firms,
        outside=p.zone_outside_utility,
    )
    placed = zone >= 0
    ctx.counters.add("leads_lost_no_land", int((zone == -1).sum()))
    ctx.counters.add("leads_lost_outside", int((zone == -2).sum()))
    if not placed.any():
        return np.empty(0, dtype=int)
    won = np.bincount(sel["category"][placed], minlength=len(CATEGORIES)).tolist()
    high = placed & (sel["pollution"] > HIGH_POLLUTION_INDEX)
    won_high = np.bincount(sel["category"][high], minlength=len(CATEGORIES)).tolist()
    for c, (_, _, signed_name, high_name) in enumerate(_CATEGORY_COUNTERS):
        ctx.counters.add(signed_name, won[c])
        ctx.counters.add(high_name, won_high[c])
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
        foreign=sel["foreign"][placed],
        quality=sel["quality"][placed],
        signal_noise=sel["signal_noise"][placed],
        signed_month=ctx.month,
        born_month=ctx.month,
    )
    count_projects(ctx, rows, "signed")
    return rows


@functools.cache
def _project_counter_names(event: str) -> tuple[str, tuple[str, ...], str, str, str, str]:
    """Counter names of :func:`count_projects` for one event (built once, not every month)."""
    return (
        f"projects_{event}",
        tuple(f"{name}_projects_{event}" for name in INDUSTRIES),
        f"key_projects_{event}",
        f"israeli_projects_{event}",
        f"foreign_projects_{event}",
        f"high_pollution_{event}",
    )


def count_projects(ctx: ModelContext, rows: np.ndarray, event: str) -> None:
    """Count projects reaching a stage (signed / registered / started) by industry.

    The counts come from one compiled pass (:func:`sim.model._jit_metrics.project_counts`,
    whole numbers, exact in any order) unless ``PARKSIM_NO_JIT`` is set;
    :func:`count_projects_numpy` is the reference.
    """
    if not portable.USE_JIT:
        count_projects_numpy(ctx, rows, event)
        return
    from sim.model._jit_metrics import project_counts  # numba's import is paid on first use

    firms, add = ctx.firms, ctx.counters.add
    total, by_name, *singles = _project_counter_names(event)
    add(total, len(rows))
    counts = project_counts(
        np.asarray(rows, dtype=np.int64),
        firms.industry,
        firms.key_project,
        firms.israeli,
        firms.foreign,
        firms.pollution_index,
        float(HIGH_POLLUTION_INDEX),
        len(INDUSTRIES),
    ).tolist()
    for name, value in zip((*by_name, *singles), counts, strict=True):
        add(name, value)


def count_projects_numpy(ctx: ModelContext, rows: np.ndarray, event: str) -> None:
    """:func:`count_projects` by numpy masks and sums: the reference the compiled pass is checked against."""
    firms, add = ctx.firms, ctx.counters.add
    total, by_name, key, israeli, foreign, high = _project_counter_names(event)
    add(total, len(rows))
    by_industry = np.bincount(firms.industry[rows], minlength=len(INDUSTRIES))
    for i, name in enumerate(by_name):
        add(name, int(by_industry[i]))
    add(key, int(firms.key_project[rows].sum()))
    add(israeli, int(firms.israeli[rows].sum()))
    add(foreign, int(firms.foreign[rows].sum()))
    add(high, int((firms.pollution_index[rows] > HIGH_POLLUTION_INDEX).sum()))


def arrivals_step(ctx: ModelContext) -> None:
    """The arrivals process of one month."""
    screen_and_sign(ctx, draw_leads(ctx))
