"""What the levers spend, in m yuan: monthly accounting and a planned estimate.

Two views of a package's cost:

* :func:`account` books what the policies actually spend each month (called once
  per month by :func:`sim.model.metrics.record`) and keeps the cumulative totals,
  which the monthly records report as ``policy_cost_myuan`` and one
  ``policy_cost_<item>_myuan`` column per item of :data:`ITEMS`;
* :func:`package_cost_myuan` estimates, from the declarations alone, what a
  scenario's levers are planned to cost over its window (no simulation), for
  comparing and optimising packages (issue 12).

Spending per item (``fx`` = this month's :class:`~sim.model.policies.Effects`,
``s`` = ``population_scale``, budgets per year divided by ``MONTHS_PER_YEAR``):

===================  ===================================================================
item                 monthly spending (m yuan)
===================  ===================================================================
attraction           attraction_effort_index x attraction_cost_myuan_per_index_year x s
china_israel         planned Israeli leads x israel_cost_myuan_per_lead x s
supermarket          m yuan lent this month x supermarket_cost_share_of_loan
vc_cluster           vc_cluster_index x vc_cluster_cost_myuan_per_index_year x s
guidance_fund        capital committed this month x guidance_fund_cost_share
listing_subsidy      subsidies paid (listing_subsidy_myuan per share reform, quotation, listing)
reserve_coaching     listing_reserve_support x reserve_coaching_cost_myuan_per_index_year x s
leading_support      supported firms x leading_support_myuan_per_year
talent_subsidy       people within talent_subsidy_months of arrival x their subsidy (yuan/month)
services             sum of zone services indices x services_cost_myuan_per_index_year x s
land                 m2 developed this month x land_cost_myuan_per_m2
rent                 rent forgone: occupied m2 x (rent at rent_index 1 - rent charged), if > 0
===================  ===================================================================

The eco threshold spends nothing (the leads it refuses are an outcome, not a cost).
Every item is non-negative, so cumulative costs never fall.
"""

from __future__ import annotations

import weakref

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext
from sim.model.metrics import once, reporter
from sim.model.units import MONTHS_PER_YEAR, YUAN_PER_MYUAN

ITEMS = (
    "attraction",
    "china_israel",
    "supermarket",
    "vc_cluster",
    "guidance_fund",
    "listing_subsidy",
    "reserve_coaching",
    "leading_support",
    "talent_subsidy",
    "services",
    "land",
    "rent",
)
TOTAL = "policy_cost_myuan"
COLUMNS = (TOTAL, *(f"policy_cost_{k}_myuan" for k in ITEMS))
KYUAN_PER_MYUAN = YUAN_PER_MYUAN / 1000.0  # thousand yuan per m yuan (definition)

_accounted: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # counters -> last month booked


def monthly_spend_myuan(ctx: ModelContext) -> dict[str, float]:
    """What each item spends in the current month (m yuan), from the month's effects and state."""
    p, fx, s = ctx.params, ctx.effects, ctx.params.population_scale
    per_month = s / MONTHS_PER_YEAR
    talent = ctx.talent
    supported = int((ctx.firms.supported & ctx.firms.alive).sum())
    zones = ctx.zones
    forgone = 0.0
    if fx.rent_mult < 1.0:
        forgone = float((zones.rent_yuan_per_m2_month * zones.occupied_m2).sum()) * (1.0 / fx.rent_mult - 1.0)
    return {
        "attraction": fx.attraction_effort_index * p.attraction_cost_myuan_per_index_year * per_month,
        "china_israel": fx.israeli_planned_per_month * p.israel_cost_myuan_per_lead * s,
        "supermarket": 0.0,  # cumulative from the loans counter, see account()
        "vc_cluster": fx.vc_cluster_index * p.vc_cluster_cost_myuan_per_index_year * per_month,
        "guidance_fund": fx.guidance_fund_new_myuan * p.guidance_fund_cost_share,
        "listing_subsidy": 0.0,  # cumulative from the subsidy counter, see account()
        "reserve_coaching": fx.reserve_support * p.reserve_coaching_cost_myuan_per_index_year * per_month,
        "leading_support": supported * fx.support_myuan_per_firm_year / MONTHS_PER_YEAR
        if fx.support_continues
        else 0.0,
        "talent_subsidy": paid_subsidy(ctx) * talent.scale / KYUAN_PER_MYUAN,
        "services": float(np.sum(fx.services_index)) * p.services_cost_myuan_per_index_year * per_month,
        "land": float(np.sum(fx.land_m2_per_month)) * p.land_cost_myuan_per_m2,
        "rent": forgone / YUAN_PER_MYUAN,
    }


def paid_subsidy(ctx: ModelContext) -> float:
    """This month's talent subsidies (k yuan, summed over the talent rows still paid; times the scale for people).

    Only subsidies promised under the scenario's own levers count (arrivals from its start): the
    promises of a forked run's warm-up are the same in every scenario and not its cost. One compiled
    pass (:func:`sim.model._jit_talent.paid_subsidy`, the same tests and numpy's order of the sum)
    unless ``PARKSIM_NO_JIT`` is set; :func:`paid_subsidy_numpy` is the reference.
    """
    if not portable.USE_JIT:
        return paid_subsidy_numpy(ctx)
    from sim.model._jit_talent import paid_subsidy as compiled

    t = ctx.talent
    return float(
        compiled(ctx.month, t.arrived_month, t.subsidy_kyuan, float(ctx.params.talent_subsidy_months),
                 ctx.policy_start_month)
    )  # fmt: skip


def paid_subsidy_numpy(ctx: ModelContext) -> float:
    """:func:`paid_subsidy` by numpy masks: the reference."""
    t = ctx.talent
    paid = (
        (ctx.month - t.arrived_month < ctx.params.talent_subsidy_months)
        & (t.subsidy_kyuan > 0)
        & (t.arrived_month >= ctx.policy_start_month)
    )
    return float(t.subsidy_kyuan[paid].sum())


def account(ctx: ModelContext) -> None:
    """Book the current month's spending into ``ctx.counters`` (once per month; repeats are ignored)."""
    counters = ctx.counters
    if _accounted.get(counters) == ctx.month:
        return
    _accounted[counters] = ctx.month
    for item, myuan in monthly_spend_myuan(ctx).items():
        counters.add(f"policy_cost_{item}_myuan", myuan)


def cumulative_myuan(ctx: ModelContext) -> dict[str, float]:
    """Spending of the scenario's own levers since its start, by item, and the total (m yuan).

    The status-quo warm-up before a forked run's start is not the scenario's cost: every
    column is 0 until ``policy_start_month`` and counts from there.
    """
    if ctx.month < ctx.policy_start_month:
        return {TOTAL: 0.0, **{f"policy_cost_{k}_myuan": 0.0 for k in ITEMS}}
    p, since = ctx.params, ctx.counters.since_policy_start
    out = {f"policy_cost_{k}_myuan": float(since(f"policy_cost_{k}_myuan")) for k in ITEMS}
    out["policy_cost_supermarket_myuan"] = float(since("loans_myuan")) * p.supermarket_cost_share_of_loan
    out["policy_cost_listing_subsidy_myuan"] = float(since("listing_subsidy_paid_myuan"))
    return {TOTAL: sum(out.values()), **out}


def _cumulative_once(m) -> dict[str, float]:
    return once(m, "policy_costs", lambda: cumulative_myuan(m))


reporter(TOTAL, "m yuan since start")(lambda m: _cumulative_once(m)[TOTAL])
for _item in ITEMS:
    _col = f"policy_cost_{_item}_myuan"
    reporter(_col, "m yuan since start")(lambda m, c=_col: _cumulative_once(m)[c])


# ---------------------------------------------------------------- planned cost of a package
def package_cost_myuan(scenario, by_item: bool = False):
    """Planned cost of ``scenario``'s levers over its window (m yuan), from the declarations alone.

    Each policy counts the months it is active (its ``[policies.*]`` window
    within the run). Quantities the model decides (how many firms list, how
    many people arrive, how much floor is let) are taken at planning values:

    * listing subsidies: one paid step per share reform and listing at the
      pre-run 2016 pace (``h1_2016_share_reforms + h1_2016_listings`` per half year);
    * talent subsidies: every looker (``talent_inflow_per_month``) arrives and is
      paid for ``talent_subsidy_months``: an upper bound;
    * supermarket: every planned loan is made;
    * rent forgone is not estimated (it depends on occupancy): 0.

    Args:
        scenario: a resolved :class:`~sim.model.scenario.Scenario`.
        by_item: return ``{item: m yuan}`` (keys of :data:`ITEMS`) instead of the total.
    """
    from sim.model.policies import build_policies
    from sim.model.scenario import month_index

    v = scenario.values
    s = v["population_scale"]
    end = month_index(scenario.end)
    months = {}
    for pol in build_policies(scenario):
        last = end if pol.last_month is None else min(end, pol.last_month)
        months[pol.name] = max(0, last - pol.first_month + 1)
    m = {
        name: months.get(name, 0)
        for name in (
            "attraction",
            "china_israel",
            "financing",
            "listing_support",
            "leading_enterprises",
            "talent_services",
            "land_supply",
        )
    }
    years = {k: n / MONTHS_PER_YEAR for k, n in m.items()}
    steps_per_year = (v["h1_2016_share_reforms"] + v["h1_2016_listings"]) * 2 * s
    services = v["services_north_index"] + v["services_central_index"] + v["services_south_index"]
    land = v["land_north_m2_per_year"] + v["land_central_m2_per_year"] + v["land_south_m2_per_year"]
    window = m["talent_services"]
    paid_person_months = float(np.minimum(v["talent_subsidy_months"], window - np.arange(window)).sum())
    sunk_fund = dict(scenario.status_quo).get("guidance_fund_myuan", 0.0) if scenario.forks else 0.0
    out = {
        "attraction": v["attraction_effort_index"]
        * v["attraction_cost_myuan_per_index_year"]
        * s
        * years["attraction"],
        "china_israel": v["israel_projects_per_year"] * v["israel_cost_myuan_per_lead"] * s * years["china_israel"],
        "supermarket": v["finance_supermarket_loans_per_year"]
        * v["finance_supermarket_loan_myuan"]
        * s
        * v["supermarket_cost_share_of_loan"]
        * years["financing"],
        "vc_cluster": v["vc_cluster_index"] * v["vc_cluster_cost_myuan_per_index_year"] * s * years["financing"],
        # a forked run's status-quo fund was committed in the warm-up: only capital above it is new
        "guidance_fund": max(0.0, v["guidance_fund_myuan"] - sunk_fund) * v["guidance_fund_cost_share"]
        if m["financing"]
        else 0.0,
        "listing_subsidy": v["listing_subsidy_myuan"] * steps_per_year * years["listing_support"],
        "reserve_coaching": v["listing_reserve_support"]
        * v["reserve_coaching_cost_myuan_per_index_year"]
        * s
        * years["listing_support"],
        "leading_support": v["leading_support_firms"]
        * v["leading_support_myuan_per_year"]
        * years["leading_enterprises"],
        # each month's arrivals are paid for talent_subsidy_months or until the window ends
        "talent_subsidy": v["talent_inflow_per_month"]
        * s
        * v["talent_subsidy_yuan_per_month"]
        / YUAN_PER_MYUAN
        * paid_person_months,
        "services": services * v["services_cost_myuan_per_index_year"] * s * years["talent_services"],
        "land": land * s * v["land_cost_myuan_per_m2"] * years["land_supply"],
        "rent": 0.0,
    }
    return out if by_item else float(sum(out.values()))
