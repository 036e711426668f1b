"""Policy levers as plug-in objects (Starsim-style interventions).

Each policy reads its levers from the scenario and has one hook, ``apply``,
called at the start of every monthly step in which it is active. The hook
writes the lever's mechanism into :class:`Effects`; the processes in the other
modules read only ``Effects`` and never the raw levers, and no policy changes
the model's state itself, so a lever's whole influence is visible here and in
the process that reads its ``Effects`` field.

A scenario chooses which policies exist and when they act, with an optional
table per policy (see :mod:`sim.model.scenario`)::

    [policies.listing_support]
    start = "2017-01"     # first month it acts (default: the run's start)
    end = "2019-12"       # last month it acts (default: the run's end)

    [policies.china_israel]
    enabled = false       # not built at all

Policies not named act over the whole run, so scenarios without the table
behave as before. Outside its window a policy leaves ``Effects`` neutral
(no policy): no threshold, no extra leads, no loans, no subsidies, no support,
no services, no new land.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext
from sim.model.firms import GROWING, MATURE, OPERATING
from sim.model.params import ZONES
from sim.model.scenario import month_index
from sim.model.units import MONTHS_PER_YEAR

YUAN_PER_KYUAN = 1000.0  # yuan per thousand yuan (definition)
SUPPORT_MYUAN_UNIT = 10.0  # leading_support_growth_per_year is declared per 10 m yuan/firm/year (its unit)


@dataclass
class Effects:
    """What the policies make of this month; neutral values mean 'no policy'.

    ``guidance_fund_new_myuan``, ``guidance_coinvests``, ``supported_rows`` and
    ``support_continues`` carry the two policies that used to change state
    directly: the finance process endows the guidance fund and lets it
    co-invest (:meth:`sim.model.finance.Finance.step`), and
    :func:`sim.model.lifecycle.support_step` sets the firms' ``supported`` flags.
    """

    max_pollution_index: float = 1.0  # limit for heavy-impact leads (EIA report form)
    max_pollution_light_index: float = 1.0  # limit for light-impact leads (EIA report table)
    rent_mult: float = 1.0  # multiplier on every zone's rent
    lead_rate_mult: float = 1.0
    key_focus_share: float = 0.0
    israeli_leads_per_month: float = 0.0
    deal_rate_mult: float = 1.0
    investor_entry_mult: float = 1.0
    loans_per_month: float = 0.0
    loan_myuan: float = 0.0
    guidance_fund_new_myuan: float = 0.0  # capital of a guidance fund joining this month
    guidance_coinvests: bool = False  # the guidance fund co-invests in this month's rounds
    listing_subsidy_myuan: float = 0.0
    reserve_support: float = 0.0
    support_growth_per_year: float = 0.0
    support_myuan_per_firm_year: float = 0.0  # spending per supported firm (sim.model.costs)
    supported_rows: np.ndarray | None = None  # firms supported from this month on (None: keep the current pick)
    support_continues: bool = False  # False: nobody is supported this month
    talent_subsidy_kyuan_per_month: float = 0.0
    services_index: np.ndarray = field(default_factory=lambda: np.zeros(len(ZONES)))
    land_m2_per_month: np.ndarray = field(default_factory=lambda: np.zeros(len(ZONES)))
    # the levers' spending drivers this month, read only by sim.model.costs (issue 11)
    attraction_effort_index: float = 0.0
    israeli_planned_per_month: float = 0.0
    vc_cluster_index: float = 0.0


@functools.lru_cache(maxsize=2)
def lever_power(x: float, y: float) -> float:
    """``portable.power(x, y)`` of a lever and a parameter, remembered (keyed on the values: the same bits).

    Both are fixed for a run, so the two monthly hooks that call it (attraction
    effort, VC cluster) would otherwise recompute the same numbers every month
    with the array code of ``portable``; the cache holds the last two.
    """
    return portable.power(x, y)


class Policy:
    """Base class: a named policy with its levers, its active window and one hook.

    Args:
        scenario: the scenario whose levers it reads.
        start: first month it acts, ``"YYYY-MM"`` ("" = the run's first month).
        end: last month it acts ("" = until the run ends).
    """

    name = "policy"
    levers: tuple[str, ...] = ()

    def __init__(self, scenario, start: str = "", end: str = ""):
        self.values = {k: scenario[k] for k in self.levers}
        run_start = month_index(scenario.start)
        self.first_month = max(run_start, month_index(start)) if start else run_start
        self.last_month = month_index(end) if end else None

    def active(self, month: int) -> bool:
        """Eligibility in time: whether the policy acts in ``month`` (a month index)."""
        return self.first_month <= month and (self.last_month is None or month <= self.last_month)

    def apply(self, ctx: ModelContext, effects: Effects) -> None:  # pragma: no cover - interface
        """Write this policy's mechanism into ``effects`` for the current month."""
        raise NotImplementedError


class EcoThreshold(Policy):
    """Eco-standard entry threshold by EIA category: leads above their category's limit are refused."""

    name = "eco_threshold"
    levers = ("eco_max_pollution_index", "eco_max_pollution_light_index")

    def apply(self, ctx: ModelContext, effects):
        effects.max_pollution_index = self.values["eco_max_pollution_index"]
        effects.max_pollution_light_index = self.values["eco_max_pollution_light_index"]


class InvestmentAttraction(Policy):
    """Attraction effort and key-project focus: more leads, or fewer and bigger ones."""

    name = "attraction"
    levers = ("attraction_effort_index", "key_project_focus_share")

    def apply(self, ctx: ModelContext, effects):
        p, focus = ctx.params, self.values["key_project_focus_share"]
        effort = lever_power(self.values["attraction_effort_index"], p.attraction_effort_elasticity)
        effects.lead_rate_mult = effort * (1.0 - p.key_focus_lead_loss * focus)
        effects.key_focus_share = focus
        effects.attraction_effort_index = self.values["attraction_effort_index"]


class ChinaIsrael(Policy):
    """An extra stream of Israeli projects through the China-Israel park."""

    name = "china_israel"
    levers = ("israel_projects_per_year",)

    def apply(self, ctx: ModelContext, effects):
        planned = self.values["israel_projects_per_year"] / MONTHS_PER_YEAR
        effects.israeli_planned_per_month = planned
        effects.israeli_leads_per_month = planned * ctx.params.israel_lead_yield


class Financing(Policy):
    """Finance supermarket loans, the VC cluster and the guidance fund."""

    name = "financing"
    levers = (
        "finance_supermarket_loans_per_year",
        "finance_supermarket_loan_myuan",
        "vc_cluster_index",
        "guidance_fund_myuan",
    )

    def apply(self, ctx: ModelContext, effects):
        v = self.values
        effects.loans_per_month = v["finance_supermarket_loans_per_year"] / MONTHS_PER_YEAR
        effects.loan_myuan = v["finance_supermarket_loan_myuan"]
        cluster = lever_power(v["vc_cluster_index"], ctx.params.vc_cluster_elasticity)
        effects.deal_rate_mult = cluster
        effects.investor_entry_mult = cluster
        effects.vc_cluster_index = v["vc_cluster_index"]
        effects.guidance_coinvests = True
        if ctx.month == self.first_month and v["guidance_fund_myuan"] > 0:
            effects.guidance_fund_new_myuan = v["guidance_fund_myuan"]


class ListingSupport(Policy):
    """Subsidies for share reform, NEEQ and IPO, and coaching of reserve firms."""

    name = "listing_support"
    levers = ("listing_subsidy_myuan", "listing_reserve_support")

    def apply(self, ctx: ModelContext, effects):
        effects.listing_subsidy_myuan = self.values["listing_subsidy_myuan"]
        effects.reserve_support = self.values["listing_reserve_support"]


class LeadingEnterprises(Policy):
    """One enterprise, one policy: yearly pick of the N largest firms for support."""

    name = "leading_enterprises"
    levers = ("leading_support_firms", "leading_support_myuan_per_year")

    def eligible(self, ctx: ModelContext) -> np.ndarray:
        """Rows of the firms that may be picked: operating, growing or mature."""
        return ctx.firms.in_stage(OPERATING, GROWING, MATURE)

    def apply(self, ctx: ModelContext, effects):
        n = int(self.values["leading_support_firms"])
        per_firm = self.values["leading_support_myuan_per_year"]
        effects.support_growth_per_year = ctx.params.leading_support_growth_per_year * per_firm / SUPPORT_MYUAN_UNIT
        effects.support_myuan_per_firm_year = per_firm
        effects.support_continues = True
        if n == 0 or (ctx.month != self.first_month and ctx.month % MONTHS_PER_YEAR != 0):
            return
        rows = self.eligible(ctx)
        effects.supported_rows = rows[np.argsort(-ctx.firms.revenue_myuan[rows], kind="stable")[:n]]


class TalentAndServices(Policy):
    """Talent subsidy (人才导入计划) and public services in each zone."""

    name = "talent_services"
    levers = ("talent_subsidy_yuan_per_month", "services_north_index", "services_central_index", "services_south_index")

    def apply(self, ctx: ModelContext, effects):
        v = self.values
        effects.talent_subsidy_kyuan_per_month = v["talent_subsidy_yuan_per_month"] / YUAN_PER_KYUAN
        effects.services_index = np.array(
            [v["services_north_index"], v["services_central_index"], v["services_south_index"]]
        )


class LandSupply(Policy):
    """New floor space released in each zone, and the rent the park asks for it."""

    name = "land_supply"
    levers = ("land_north_m2_per_year", "land_central_m2_per_year", "land_south_m2_per_year", "rent_index")

    def apply(self, ctx: ModelContext, effects):
        scale = ctx.params.population_scale
        effects.land_m2_per_month = (
            np.array([self.values[k] for k in self.levers[: len(ZONES)]]) * scale / MONTHS_PER_YEAR
        )
        effects.rent_mult = self.values["rent_index"]


POLICIES = (
    EcoThreshold,
    InvestmentAttraction,
    ChinaIsrael,
    Financing,
    ListingSupport,
    LeadingEnterprises,
    TalentAndServices,
    LandSupply,
)


POLICY_NAMES = tuple(cls.name for cls in POLICIES)


def build_policies(scenario) -> list[Policy]:
    """The policies ``scenario`` uses, each with its window (all of them, whole run, by default)."""
    windows = {name: (start, end, enabled) for name, start, end, enabled in scenario.policies}
    built = []
    for cls in POLICIES:
        start, end, enabled = windows.get(cls.name, ("", "", True))
        if enabled:
            built.append(cls(scenario, start=start, end=end))
    return built
