"""What a process sees of the model: typed parameters and the model context.

Every process function (arrivals, conversion, talent, finance, growth, listing,
exits, zones, recording, the policies) receives a :class:`ModelContext` and
reads the declared inputs through ``ctx.params``, a frozen :class:`Params` with
one named, typed attribute per declaration in :mod:`sim.model.params`
(``ctx.params.p_start_per_month``). The attribute list is written out here so
that editors and type checkers see it; :func:`check_declarations` (run at
import, and by the tests) fails when it and the declarations disagree.

:class:`~sim.model.park.ParkModel` is the one implementation of the context; the
protocol names what the processes may touch, so a reader of a process knows
its inputs without reading the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sim.model.params import PARAMS

if TYPE_CHECKING:
    from sim.model.finance import Finance
    from sim.model.firms import FirmTable
    from sim.model.metrics import Counters
    from sim.model.policies import Effects, Policy
    from sim.model.talent import TalentPool
    from sim.model.zones import Zones


@dataclasses.dataclass(frozen=True, slots=True)
class Params:
    """Every declared input of one run, by name (units are in the names; see :mod:`sim.model.params`).

    Whole-number declarations (``integer=True``) are ``int``; the rest ``float``.
    """

    # -------- levers
    eco_max_pollution_index: float
    attraction_effort_index: float
    key_project_focus_share: float
    israel_projects_per_year: float
    finance_supermarket_loans_per_year: float
    finance_supermarket_loan_myuan: float
    vc_cluster_index: float
    guidance_fund_myuan: float
    listing_subsidy_myuan: float
    listing_reserve_support: float
    leading_support_firms: int
    leading_support_myuan_per_year: float
    talent_subsidy_yuan_per_month: float
    services_north_index: float
    services_central_index: float
    services_south_index: float
    land_north_m2_per_year: float
    land_central_m2_per_year: float
    land_south_m2_per_year: float
    eco_max_pollution_light_index: float
    rent_index: float
    # -------- uncertainties (behavioural parameters)
    leads_per_month: float
    p_sign_lead: float
    p_register_per_month: float
    p_drop_signed_per_month: float
    p_start_per_month: float
    exit_peak_per_year: float
    exit_peak_age_years: float
    exit_shape: float
    relocation_out_per_year: float
    relocation_in_park_per_year: float
    growth_drift_per_year: float
    growth_sigma_per_year: float
    funding_growth_boost_per_year: float
    talent_shortfall_penalty_per_year: float
    zone_beta_affinity: float
    zone_beta_cluster: float
    zone_beta_services: float
    zone_beta_rent: float
    talent_beta_wage: float
    talent_beta_services: float
    talent_beta_subsidy: float
    talent_subsidy_half_life_months: float
    talent_leave_per_year: float
    talent_inflow_per_month: float
    vc_deals_per_firm_year: float
    vc_listing_hazard_mult: float
    investor_entry_per_deal: float
    p_reform_per_year: float
    p_neeq_file_per_year: float
    p_ipo_file_per_year: float
    zone_outside_utility: float
    zone_beta_log_free_floor: float
    relocation_out_cost_utility: float
    eco_clean_lead_elasticity: float
    # -------- constants
    neeq_min_age_months: int
    neeq_filing_months: int
    reform_months: int
    ipo_min_age_months: int
    ipo_min_profit_2y_myuan: float
    pe_exchange: float
    ps_exchange_floor: float
    ps_neeq: float
    ps_private: float
    leading_revenue_myuan: float
    reserve_revenue_myuan: float
    key_project_investment_myuan: float
    revenue_per_employee_myuan: float
    m2_per_employee: float
    min_floor_m2: float
    talent_people_per_agent: int
    population_scale: float
    # -------- initial state
    init_graphene_firms: int
    init_graphene_neeq: int
    init_health_firms: int
    init_internet_firms: int
    init_culture_firms: int
    init_other_tech_firms: int
    init_israeli_firms: int
    init_other_neeq: int
    init_reformed_firms: int
    init_exchange_listed: int
    init_mean_revenue_myuan: float
    init_revenue_sigma: float
    init_occupancy_share: float
    init_investors: int
    h1_2016_tech_projects: int
    h1_2016_graphene_projects: int
    h1_2016_internet_projects: int
    h1_2016_key_projects: int
    h1_2016_listings: int
    h1_2016_share_reforms: int
    h1_2016_reserve_firms: int

    # -------- capital markets
    ipo_approval_shift: float
    ipo_queue_scale: float
    neeq_delist_scale: float
    p_overseas_file_per_year: float
    overseas_queue_months: float
    overseas_approval_rate: float
    mv_log_sigma: float
    star_open_yyyymm: int
    chinext_registration_yyyymm: int
    main_registration_yyyymm: int
    bse_open_yyyymm: int
    neeq_innovation_yyyymm: int
    neeq_select_yyyymm: int
    ipo_refile_wait_months: int
    main_min_profit_3y_myuan: float
    main_min_revenue_3y_myuan: float
    mv_median_main_bn_yuan: float
    mv_median_chinext_bn_yuan: float
    mv_median_star_bn_yuan: float
    mv_median_bse_bn_yuan: float
    mv_median_overseas_bn_yuan: float
    init_ipo_queue: int
    # -------- lever effects and lever costs (issue 11)
    attraction_effort_elasticity: float
    key_focus_lead_loss: float
    israel_lead_yield: float
    vc_cluster_elasticity: float
    listing_subsidy_elasticity: float
    reserve_hazard_gain: float
    reserve_approval_bonus: float
    leading_support_growth_per_year: float
    reform_min_revenue_myuan: float
    ipo_queue_gamma_shape: float
    max_ipo_approval: float
    attraction_cost_myuan_per_index_year: float
    israel_cost_myuan_per_lead: float
    supermarket_cost_share_of_loan: float
    vc_cluster_cost_myuan_per_index_year: float
    reserve_coaching_cost_myuan_per_index_year: float
    services_cost_myuan_per_index_year: float
    land_cost_myuan_per_m2: float
    guidance_fund_cost_share: float

    # -------- talent that can bind (issue 11)
    talent_outside_utility: float
    talent_beta_vacancy: float
    talent_housing_north_kyuan_per_month: float
    talent_housing_central_kyuan_per_month: float
    talent_housing_south_kyuan_per_month: float
    talent_housing_outside_kyuan_per_month: float
    talent_subsidy_months: int
    talent_unemployed_leave_factor: float
    talent_unemployed_move_per_month: float
    talent_initial_unemployed_share: float
    talent_arrival_rd_share: float
    talent_rd_share_graphene: float
    talent_rd_share_health: float
    talent_rd_share_internet: float
    talent_rd_share_culture: float
    talent_rd_share_other_tech: float
    talent_rd_shortfall_weight: float
    talent_wage_index_floor: float
    zone_rent_north_yuan_per_m2_month: float
    zone_rent_central_yuan_per_m2_month: float
    zone_rent_south_yuan_per_m2_month: float
    zone_rent_slope: float
    zone_rent_occupancy_knee: float
    zone_pollution_load_weight: float
    zone_israeli_central_bonus: float
    # -------- firm dynamics (issue 11)
    growth_size_ref_myuan: float
    growth_size_floor_myuan: float
    mv_revenue_elasticity: float
    growth_drift_size_elasticity: float
    growth_sigma_size_exponent: float
    exit_size_elasticity: float
    exit_size_factor_max: float
    entry_cash_share_of_investment: float
    investment_spend_months: float
    cash_out_exit_mult: float
    init_cash_months_of_revenue: float
    quality_growth_per_year: float
    vc_signal_noise_sd: float
    vc_screen_strength: float
    start_revenue_graphene_myuan: float
    start_revenue_health_myuan: float
    start_revenue_internet_myuan: float
    start_revenue_culture_myuan: float
    start_revenue_other_tech_myuan: float
    start_revenue_sigma: float
    start_margin_sd: float
    investment_median_graphene_myuan: float
    investment_median_health_myuan: float
    investment_median_internet_myuan: float
    investment_median_culture_myuan: float
    investment_median_other_tech_myuan: float
    investment_sigma: float
    key_lead_share_full_focus: float
    key_investment_median_myuan: float
    key_sign_mult: float
    key_register_mult: float
    key_start_revenue_mult: float
    foreign_other_share: float
    init_foreign_other_share: float
    init_graphene_revenue_factor: float
    init_health_revenue_factor: float
    init_internet_revenue_factor: float
    init_culture_revenue_factor: float
    init_other_tech_revenue_factor: float
    init_max_age_months: int
    init_registered_share: float
    init_vc_backed_share: float
    init_past_growth: float
    growing_revenue_myuan: float
    mature_revenue_myuan: float
    mature_age_months: int
    drift_factor_operating: float
    drift_factor_mature: float
    margin_start: float
    margin_mature: float
    margin_months: float
    listed_exit_factor: float
    supported_exit_factor: float
    funded_months: int
    pollution_concentration: float
    vc_deal_share: float
    vc_min_deal_myuan: float
    loan_months: int
    vc_new_fund_myuan: float
    angel_capital_myuan: float
    init_vc_share_of_investors: float
    bank_capital_myuan: float
    guarantee_pool_myuan: float
    guidance_coinvest_share: float
    finance_centre_bonus: float
    # -------- one park: cluster term on absolute counts (issue 11)
    cluster_lead_elasticity: float
    cluster_ref_graphene_firms: int
    cluster_ref_health_firms: int
    cluster_ref_internet_firms: int
    cluster_ref_culture_firms: int
    cluster_ref_other_tech_firms: int
    # -------- remaining constants (issue 11)
    init_min_zone_premises: int
    init_event_age_months: int

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> Params:
        """Build from a complete ``{name: value}`` mapping (a scenario's inputs).

        Raises:
            ValueError: when a declared input is missing or an unknown one is given.
        """
        missing, unknown = set(FIELDS) - set(values), set(values) - set(FIELDS)
        if missing or unknown:
            raise ValueError(
                f"inputs do not match the declarations: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        return cls(**{k: int(v) if PARAMS[k].integer else v for k, v in values.items()})


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Params)}


def check_declarations() -> None:
    """Fail when :class:`Params` and :data:`sim.model.params.PARAMS` disagree (names or int/float)."""
    extra, absent = set(FIELDS) - set(PARAMS), set(PARAMS) - set(FIELDS)
    if extra or absent:
        raise TypeError(
            f"sim.model.context.Params vs sim.model.params declarations: undeclared {extra}, missing {absent}"
        )
    wrong = [k for k, f in FIELDS.items() if f.type != ("int" if PARAMS[k].integer else "float")]
    if wrong:
        raise TypeError(
            f"sim.model.context.Params attributes typed unlike their declaration (integer=True is int): {wrong}"
        )


check_declarations()


class ModelContext(Protocol):
    """The model as the processes see it (implemented by :class:`~sim.model.park.ParkModel`).

    Attributes:
        params: the run's declared inputs.
        streams: one random generator per process (names in :data:`sim.model.park.STREAMS`).
        effects: what the policies make of the current month.
        policies: the policies the scenario uses (each knows its active months).
        firms: the firm table (struct of arrays, one row per firm ever created).
        talent: the talent pool (struct of arrays, one row per talent agent).
        zones: the three zones' capacity, rent, services, eco quality and wages.
        finance: investors and the finance ledger.
        counters: cumulative event counts.
        month: the current month as an index (``year * 12 + month - 1``).
        start_month: the first simulated month, same units.
        policy_start_month: the first month under the scenario's own levers (its ``start``;
            later than ``start_month`` when the run forks from the 2014 history).
        in_park_rows: cache of the rows of firms in the park (registered or
            later), or None. :func:`sim.model.metrics.record` sets it when a
            month's recording starts and sets it back to None when it ends:
            reporters only read the firm table, so the rows stay valid while
            they run. It is invalid as soon as any firm changes stage or
            leaves, so nothing else may rely on it; read it through
            :func:`sim.model.metrics.in_park`, which computes the rows when it is None.
        record_memo: values several reporters share (a column of the firms in
            the park, counts, market values), or None; the same rule as
            ``in_park_rows`` (:func:`sim.model.metrics.once`).
    """

    params: Params
    streams: dict[str, np.random.Generator]
    effects: Effects
    policies: list[Policy]
    firms: FirmTable
    talent: TalentPool
    zones: Zones
    finance: Finance
    counters: Counters
    month: int
    start_month: int
    policy_start_month: int
    in_park_rows: np.ndarray | None
    record_memo: dict | None

    def add_firms(self, count: int, **columns) -> np.ndarray:
        """Create ``count`` firms (table rows plus Mesa agents); return their rows."""
        ...

    def remove_firms(self, rows: np.ndarray, reason: str) -> None:
        """Firms leave the park (closed, relocated out or abandoned), counted under ``reason``."""
        ...

    def location_betas(self) -> tuple[float, float, float, float]:
        """Utility weights of the firm location logit."""
        ...

    def cluster_factor(self) -> np.ndarray:
        """Lead-rate multiplier per industry from the size of its cluster in the park."""
        ...
