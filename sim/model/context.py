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
    listing_subsidy_elasticity: float
    leading_support_growth_per_year: float
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
    # -------- one park: cluster term on absolute counts (issue 11)
    cluster_lead_elasticity: float
    cluster_ref_graphene_firms: int
    cluster_ref_health_firms: int
    cluster_ref_internet_firms: int
    cluster_ref_culture_firms: int
    cluster_ref_other_tech_firms: int

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
        in_park_rows: cache of the rows of firms in the park (registered or
            later), or None. :func:`sim.model.metrics.record` sets it when a
            month's recording starts and sets it back to None when it ends:
            reporters only read the firm table, so the rows stay valid while
            they run. It is invalid as soon as any firm changes stage or
            leaves, so nothing else may rely on it; read it through
            :func:`sim.model.metrics.in_park`, which computes the rows when it is None.
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
    in_park_rows: np.ndarray | None

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
