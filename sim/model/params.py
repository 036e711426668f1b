"""Declarations of every model input: levers, uncertainties, constants, initial state.

The split follows EMA Workbench's X/L/R/M idea:

* ``lever``: what the park's policy controls (scenario ``[levers]`` table);
* ``uncertainty``: behavioural parameters we do not know well, each with a range
  and a prior, the things calibration fits and sweeps explore;
* ``constant``: rules and facts (legal listing gates, unit conversions);
* ``initial``: the state of the park when a run starts.

Outcomes are declared in :mod:`sim.model.metrics` and targets in :mod:`sim.model.targets`.
Units are in the names. ``source`` cites ``../shared/data/priors.md`` rows or says
``[judgement]`` / ``[assumption]`` when no public figure was found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.numeric import number_problem

ZONES = ("north", "central", "south")
INDUSTRIES = ("graphene", "health", "internet", "culture", "other_tech")


@dataclass(frozen=True)
class Param:
    """One declared input.

    Attributes:
        name: key used in scenario files, designs and calibration jobs.
        kind: ``lever``, ``uncertainty``, ``constant`` or ``initial``.
        default: value used when a scenario does not set it.
        low: smallest allowed value (inclusive).
        high: largest allowed value (inclusive).
        unit: unit of the value (also visible in the name).
        source: where the default and range come from.
        doc: what the input means, in one line.
        prior: ``("uniform",)``, ``("loguniform",)`` or ``("normal", mean, sd)``
            truncated to ``[low, high]``; used by calibration and samplers.
        integer: whether the value must be a whole number.
    """

    name: str
    kind: str
    default: float
    low: float
    high: float
    unit: str
    source: str
    doc: str
    prior: tuple = ("uniform",)
    integer: bool = False

    def check(self, value: object) -> str | None:
        """Return a problem description, or None when ``value`` is allowed."""
        problem = number_problem(value, unit=self.unit, integer=self.integer)
        if problem:
            return problem
        if not (self.low <= value <= self.high):
            return f"must be between {self.low:g} and {self.high:g} ({self.unit}), got {value!r}"
        return None


def _p(name, kind, default, low, high, unit, source, doc, prior=("uniform",), integer=False):
    return Param(name, kind, default, low, high, unit, source, doc, prior, integer)


L, U, C, INIT = "lever", "uncertainty", "constant", "initial"
J = "[judgement]"

# fmt: off
_DECLARED = [
    # -------- levers
    _p("eco_max_pollution_index", L, 0.85, 0.1, 1.0, "index 0-1",
       "plan: 环保高标准的招商门槛",
       "limit for heavy-impact leads (EIA report form): those above it are refused (1 = no threshold)"),
    _p("attraction_effort_index", L, 1.0, 0.2, 3.0, "x 2016 level",
       "plan: investment attraction",
       "multiplier on the rate of project leads (staff, missions, budget)"),
    _p("key_project_focus_share", L, 0.2, 0.0, 1.0, "share of effort",
       "plan: 重点项目",
       "share of attraction effort spent on large key projects: fewer, bigger leads"),
    _p("israel_projects_per_year", L, 12.0, 0.0, 180.0, "leads/year",
       "history: 6 Israeli projects signed in Q1 2016; the status quo (baseline.toml) is 60 since the one-park "
       "baseline took the history's levers (issue 11); high 180 = 3 x 60 for the China-Israel scenario [judgement]",
       "extra stream of Israeli project leads (China-Israel park)"),
    _p("finance_supermarket_loans_per_year", L, 7.5, 0.0, 60.0, "loans/year",
       "priors: 30 SMEs in about 4 years",
       "loans brokered by the finance supermarket and guarantee pool"),
    _p("finance_supermarket_loan_myuan", L, 8.0, 1.0, 50.0, "m yuan/loan",
       "priors: 249 m yuan to 30 SMEs",
       "average supermarket loan"),
    _p("vc_cluster_index", L, 1.0, 0.0, 3.0, "x 2016 level",
       J,
       "strength of the VC cluster / finance centre: multiplies deal rate and investor entry"),
    _p("guidance_fund_myuan", L, 200.0, 0.0, 5000.0, "m yuan",
       J,
       "government guidance fund capital available for co-investment"),
    _p("listing_subsidy_myuan", L, 0.5, 0.0, 10.0, "m yuan/firm",
       J,
       "subsidy paid on share reform, NEEQ quotation and IPO (listing support)"),
    _p("listing_reserve_support", L, 0.0, 0.0, 1.0, "index 0-1",
       J,
       "coaching of listing-reserve firms: raises filing propensity and IPO approval"),
    _p("leading_support_firms", L, 0, 0, 100, "firms",
       "plan: 一企一策",
       "number of firms given one-enterprise-one-policy support", integer=True),
    _p("leading_support_myuan_per_year", L, 5.0, 0.0, 100.0, "m yuan/firm/year",
       J,
       "support per supported leading-candidate firm"),
    _p("talent_subsidy_yuan_per_month", L, 500.0, 0.0, 10000.0, "yuan/person/month",
       "plan: 人才导入计划",
       "subsidy to newly arrived talent (its pull fades, see talent_subsidy_half_life_months)"),
    _p("services_north_index", L, 0.4, 0.0, 1.0, "index 0-1",
       J,
       "public services in the north zone"),
    _p("services_central_index", L, 0.6, 0.0, 1.0, "index 0-1",
       J,
       "public services in the central zone"),
    _p("services_south_index", L, 0.5, 0.0, 1.0, "index 0-1",
       J,
       "public services in the south zone"),
    _p("land_north_m2_per_year", L, 60000.0, 0.0, 500000.0, "m2 floor/year",
       J,
       "new floor space released in the north zone"),
    _p("land_central_m2_per_year", L, 40000.0, 0.0, 500000.0, "m2 floor/year",
       J,
       "new floor space released in the central zone"),
    _p("land_south_m2_per_year", L, 30000.0, 0.0, 500000.0, "m2 floor/year",
       J,
       "new floor space released in the south zone"),
    # -------- outside option and eco categories (issue "a model that earns its answer"): levers
    _p("eco_max_pollution_light_index", L, 1.0, 0.1, 1.0, "index 0-1",
       "plan: 环保高标准的招商门槛; EIA Law art. 16 and MEP Decree 2 (2008) EIA categories, "
       "fao.org faolex LEX-FAOC040204 [H]",
       "limit for light-impact leads (EIA report table); clean (registration-form) leads are exempt"),
    _p("rent_index", L, 1.0, 0.3, 3.0, "x base rent",
       "plan: rent and land are the park's offer; plant rents 18 yuan/m2/month, software park 50 "
       "(Chengdu Hi-tech Zone 2010, chengduhitech.blogspot.com/2010/11/fdi-in-china.html) [L]",
       "multiplier on every zone's rent (subsidised rent < 1, dearer > 1)"),
    # -------- uncertainties (behavioural parameters)
    _p("leads_per_month", U, 30.0, 5.0, 120.0, "leads/month",
       "priors: 100-120 tech projects/year common; 200 at the high end",
       "base rate of project leads reaching the park"),
    _p("p_sign_lead", U, 0.45, 0.1, 0.9, "probability",
       J,
       "share of screened leads that sign an agreement"),
    _p("p_register_per_month", U, 0.08, 0.01, 0.3, "1/month",
       "priors: 30-51% of signed projects land",
       "hazard that a signed project registers a company"),
    _p("p_drop_signed_per_month", U, 0.06, 0.005, 0.3, "1/month",
       "priors: 30-51% of signed projects land",
       "hazard that a signed project is abandoned"),
    _p("p_start_per_month", U, 0.12, 0.02, 0.5, "1/month",
       "priors: Anqing 91% started, Wujin 42%",
       "hazard that a registered firm starts operating"),
    _p("exit_peak_per_year", U, 0.095, 0.03, 0.25, "1/year",
       "priors: SAIC 2013, 9.5% death rate in year 3",
       "peak of the age-dependent exit hazard"),
    _p("exit_peak_age_years", U, 3.0, 1.5, 6.0, "years",
       "priors: SAIC 2013",
       "age at which the exit hazard peaks"),
    _p("exit_shape", U, 1.0, 0.3, 3.0, "dimensionless",
       J,
       "steepness of the inverted-U exit hazard"),
    _p("relocation_out_per_year", U, 0.02, 0.0, 0.1, "1/year",
       J,
       "hazard of relocating out of the park"),
    _p("relocation_in_park_per_year", U, 0.03, 0.0, 0.2, "1/year",
       "priors: Kou & Wang 2019 inter-zone transfer",
       "hazard of reconsidering the zone inside the park"),
    _p("growth_drift_per_year", U, 0.12, -0.1, 0.5, "1/year",
       J,
       "mean log revenue growth of an operating firm"),
    _p("growth_sigma_per_year", U, 0.45, 0.1, 1.2, "1/sqrt(year)",
       "priors: Gibrat-type growth, heavy tails (Richiardi 2004)",
       "volatility of log revenue growth"),
    _p("funding_growth_boost_per_year", U, 0.15, 0.0, 0.6, "1/year",
       J,
       "extra drift of a firm with fresh funding"),
    _p("talent_shortfall_penalty_per_year", U, 0.4, 0.0, 1.5, "1/year",
       J,
       "drift lost at zero talent fill"),
    _p("zone_beta_affinity", U, 2.0, 0.0, 5.0, "utility/unit",
       "priors: UrbanSim-type location logit",
       "weight of industry-zone fit"),
    _p("zone_beta_cluster", U, 1.0, 0.0, 4.0, "utility/unit",
       "priors: clustering strongest positive (FDI in China)",
       "weight of same-industry share in the zone"),
    _p("zone_beta_services", U, 1.0, 0.0, 4.0, "utility/unit",
       "priors: government services positive",
       "weight of public services"),
    _p("zone_beta_rent", U, 0.03, 0.0, 0.2, "utility/(yuan/m2/month)",
       "priors: labour cost not significant",
       "disutility of rent"),
    _p("talent_beta_wage", U, 2.0, 0.0, 6.0, "utility/log wage",
       "priors: InCaLead pull rule",
       "weight of wages"),
    _p("talent_beta_services", U, 1.5, 0.0, 5.0, "utility/unit",
       "priors: Chen & Li 2022",
       "weight of services and eco quality"),
    _p("talent_beta_subsidy", U, 0.6, 0.0, 3.0, "utility/(1000 yuan/month)",
       "priors: Chen & Li 2022",
       "weight of the talent subsidy"),
    _p("talent_subsidy_half_life_months", U, 4.0, 1.0, 12.0, "months",
       "priors: talent policies work in the short run",
       "half-life of the subsidy's pull"),
    _p("talent_leave_per_year", U, 0.12, 0.02, 0.4, "1/year",
       J,
       "base hazard that a person leaves the park"),
    _p("talent_inflow_per_month", U, 300.0, 50.0, 2000.0, "people/month",
       J,
       "people looking at the park each month"),
    _p("vc_deals_per_firm_year", U, 0.04, 0.005, 0.2, "1/year",
       "priors: about 14% of incubated firms ever funded",
       "base VC deal hazard of a young operating firm"),
    _p("vc_listing_hazard_mult", U, 3.0, 1.0, 8.0, "x",
       "priors: VC backing raises promotion hazard about 6x (HK GEM)",
       "multiplier on listing steps for VC-backed firms"),
    _p("investor_entry_per_deal", U, 0.05, 0.0, 0.3, "investors/deal",
       J,
       "new investors joining the cluster per deal"),
    _p("p_reform_per_year", U, 0.06, 0.005, 0.3, "1/year",
       J,
       "hazard that an eligible firm starts a share reform"),
    _p("p_neeq_file_per_year", U, 0.35, 0.02, 1.0, "1/year",
       "priors: NEEQ boom 2015-2017",
       "hazard a reformed firm files for NEEQ"),
    _p("p_ipo_file_per_year", U, 0.25, 0.02, 1.0, "1/year",
       J,
       "hazard an IPO-eligible firm files"),
    _p("listing_subsidy_elasticity", U, 0.3, 0.0, 1.5, "1/(m yuan)",
       J,
       "log-hazard change per m yuan of listing subsidy"),
    _p("leading_support_growth_per_year", U, 0.08, 0.0, 0.4, "1/year per 10 m yuan",
       J,
       "drift added by leading-firm support"),
    # -------- outside option and eco categories: uncertainties
    _p("zone_outside_utility", U, 1.0, 0.0, 4.0, "utility",
       "[judgement] set so that about 10% of leads ready to sign go elsewhere; priors: 30-51% of "
       "signed projects land (invest.yn.gov.cn 2015-10-30; hainan.sina.com.cn 2017-02-22) [M]",
       "utility of the best competing park (the outside alternative of the zone logit)"),
    _p("zone_beta_log_free_floor", U, 0.3, 0.0, 1.0, "utility/log(sites)",
       "[judgement] below the theoretical 1 of McFadden 1978 (aggregated alternatives: log size); "
       "size terms as in UrbanSim location choice (de Bok & van Oort 2011, JTLU 4(1)) [M]",
       "weight of log(free floor / floor needed) in a zone's utility"),
    _p("relocation_out_cost_utility", U, 1.0, 0.0, 4.0, "utility",
       J,
       "moving cost: the outside option must beat a firm's zone by this for the base relocation-out hazard"),
    _p("eco_clean_lead_elasticity", U, 0.5, 0.0, 2.0, "dimensionless",
       "[judgement] for the size; sign: air pollution deters siting, most for small high-tech firms "
       "(Cui et al. 2021, Applied Economics 53(45):5221-5241, ideas.repec.org) [M]",
       "clean-category lead rate is multiplied by exp(elasticity * (eco quality - 1))"),
    # -------- constants
    _p("neeq_min_age_months", C, 24, 0, 120, "months",
       "priors: NEEQ entry, 2 years in existence",
       "NEEQ age gate", integer=True),
    _p("neeq_filing_months", C, 4, 1, 12, "months",
       "priors: NEEQ filing to quotation under 6 months",
       "NEEQ filing time", integer=True),
    _p("reform_months", C, 4, 1, 12, "months",
       "priors: share reform 2-6 months [judgement]",
       "share reform duration", integer=True),
    _p("ipo_min_age_months", C, 36, 0, 120, "months",
       "priors: 3 years as joint-stock company",
       "IPO age gate", integer=True),
    _p("ipo_min_profit_2y_myuan", C, 10.0, 0.0, 100.0, "m yuan",
       "priors: ChiNext, 2 profitable years, cumulative >= 10 m",
       "ChiNext profit gate under approval (before chinext_registration_yyyymm)"),
    _p("pe_exchange", C, 40.0, 5.0, 100.0, "x profit",
       "priors: A-share medians 3.9-5.9 bn",
       "sponsor's expected value at filing, x profit (the market-value tests of the listing standards)"),
    _p("ps_exchange_floor", C, 3.0, 0.5, 20.0, "x revenue",
       J,
       "floor on the sponsor's expected value at filing, x revenue"),
    _p("ps_neeq", C, 1.5, 0.2, 10.0, "x revenue",
       "priors: NEEQ mean 0.33-0.40 bn",
       "NEEQ valuation as a revenue multiple"),
    _p("ps_private", C, 1.2, 0.2, 10.0, "x revenue",
       J,
       "private valuation for deals"),
    _p("leading_revenue_myuan", C, 200.0, 10.0, 5000.0, "m yuan/year",
       J,
       "revenue that makes a firm a leading enterprise"),
    _p("reserve_revenue_myuan", C, 30.0, 1.0, 1000.0, "m yuan/year",
       J,
       "revenue that puts a profitable firm on the listing-reserve list"),
    _p("key_project_investment_myuan", C, 100.0, 10.0, 5000.0, "m yuan",
       "plan: key projects",
       "planned investment of a key project"),
    _p("revenue_per_employee_myuan", C, 0.6, 0.1, 5.0, "m yuan/person/year",
       J,
       "labour productivity"),
    _p("m2_per_employee", C, 40.0, 5.0, 200.0, "m2/person",
       J,
       "floor space per employee"),
    _p("min_floor_m2", C, 300.0, 0.0, 5000.0, "m2",
       J,
       "smallest premises"),
    _p("talent_people_per_agent", C, 5, 1, 100, "people/agent",
       "[design choice]",
       "scale of a talent super-individual", integer=True),
    _p("population_scale", C, 1.0, 0.01, 20.0, "x",
       "[design choice]",
       "multiplies initial firms, leads and talent (for tests and benchmarks)"),
    # -------- initial state
    _p("init_graphene_firms", INIT, 70, 0, 2000, "firms",
       "history: 70 graphene firms, 2016-08-15",
       "graphene firms at start", integer=True),
    _p("init_graphene_neeq", INIT, 2, 0, 100, "firms",
       "history: 2 NEEQ-quoted, 2016-08-15",
       "graphene NEEQ firms at start", integer=True),
    _p("init_health_firms", INIT, 400, 0, 5000, "firms",
       "history: 400+ health firms, 2016-12-31",
       "health firms at start", integer=True),
    _p("init_internet_firms", INIT, 60, 0, 2000, "firms",
       J,
       "internet firms at start", integer=True),
    _p("init_culture_firms", INIT, 30, 0, 2000, "firms",
       J,
       "film, culture and tourism firms at start", integer=True),
    _p("init_other_tech_firms", INIT, 150, 0, 5000, "firms",
       J,
       "other technology firms at start", integer=True),
    _p("init_israeli_firms", INIT, 40, 0, 1000, "firms",
       "history: 40+ Israeli firms, 2016-04",
       "Israeli firms among the above", integer=True),
    _p("init_other_neeq", INIT, 6, 0, 200, "firms",
       J,
       "NEEQ firms outside graphene at start", integer=True),
    _p("init_reformed_firms", INIT, 6, 0, 200, "firms",
       J,
       "joint-stock firms (share reform done) not yet quoted at start", integer=True),
    _p("init_exchange_listed", INIT, 1, 0, 100, "firms",
       J,
       "exchange-listed firms at start", integer=True),
    _p("init_mean_revenue_myuan", INIT, 8.0, 0.5, 100.0, "m yuan/year",
       "history: health sales 28.2 (100m yuan) / 400 firms",
       "mean revenue of an existing firm"),
    _p("init_revenue_sigma", INIT, 1.2, 0.2, 3.0, "log units",
       "priors: Pareto tail",
       "spread of log revenue at start"),
    _p("init_occupancy_share", INIT, 0.8, 0.3, 1.0, "share",
       J,
       "occupied share of each zone's floor space at start"),
    _p("init_investors", INIT, 12, 0, 500, "investors",
       J,
       "investors present in the finance centre at start", integer=True),
    _p("h1_2016_tech_projects", INIT, 80, 0, 1000, "projects",
       J,
       "technology projects signed in 2016 before the run starts", integer=True),
    _p("h1_2016_graphene_projects", INIT, 12, 0, 200, "projects",
       J,
       "graphene projects signed in 2016 before the run starts", integer=True),
    _p("h1_2016_internet_projects", INIT, 12, 0, 200, "projects",
       J,
       "internet projects signed in 2016 before the run starts", integer=True),
    _p("h1_2016_key_projects", INIT, 8, 0, 200, "projects",
       J,
       "key projects signed in 2016 before the run starts", integer=True),
    _p("h1_2016_listings", INIT, 1, 0, 50, "firms",
       J,
       "main-board or NEEQ listings in 2016 before the run starts", integer=True),
    _p("h1_2016_share_reforms", INIT, 3, 0, 50, "firms",
       J,
       "share reforms in 2016 before the run starts", integer=True),
    _p("h1_2016_reserve_firms", INIT, 3, 0, 50, "firms",
       J,
       "new listing-reserve firms in 2016 before the run starts", integer=True),
    # -------- capital markets (boards, dated rules, review, market values; sim.model.markets)
    _p("ipo_approval_shift", U, 0.0, -0.4, 0.15, "probability",
       J,
       "added to the dated approval / pass rates of every domestic board (0 = as published)"),
    _p("ipo_queue_scale", U, 1.0, 0.5, 2.0, "x",
       J,
       "multiplies the dated mean IPO queue lengths"),
    _p("neeq_delist_scale", U, 1.0, 0.25, 3.0, "x",
       "priors: about 13% of NEEQ firms delisted in 2019; markets.NEEQ_DELIST_PER_YEAR_BY_YEAR",
       "multiplies the dated NEEQ delisting rates"),
    _p("p_overseas_file_per_year", U, 0.05, 0.0, 0.5, "1/year",
       J,
       "hazard that a firm meeting the HKEX standards files for a Hong Kong or US listing"),
    _p("overseas_queue_months", U, 6.0, 2.0, 18.0, "months",
       J,
       "mean months from an overseas filing to listing"),
    _p("overseas_approval_rate", U, 0.8, 0.3, 0.98, "probability",
       J,
       "share of overseas filings that list"),
    _p("mv_log_sigma", U, 0.8, 0.3, 1.5, "log units",
       J,
       "spread of log market value at listing around the board's median"),
    _p("star_open_yyyymm", C, 201907, 201001, 209912, "yyyymm",
       "SSE STAR Market, first listings 2019-07-22 (EY 2022-07-24; star.sse.com.cn), H",
       "STAR Market (registration, market-value standards) takes filings from this month", integer=True),
    _p("chinext_registration_yyyymm", C, 202008, 201001, 209912, "yyyymm",
       "ChiNext registration, first listings 2020-08-24 (szse.cn 2021-08-26; CSRC measures 2020-06-12), H",
       "ChiNext filings are registration-based with the 2020 standards from this month", integer=True),
    _p("main_registration_yyyymm", C, 202304, 201001, 209912, "yyyymm",
       "full registration: CSRC rules 2023-02-17, first main-board listings 2023-04-10 [M]",
       "main-board (and SME) filings are registration-based with the 2023 standards from this month",
       integer=True),
    _p("bse_open_yyyymm", C, 202111, 201001, 209912, "yyyymm",
       "Beijing Stock Exchange trading from 2021-11-15, 81 firms, 71 from the NEEQ select tier "
       "(Xinhua via en.people.cn 2021-11-13; shine.cn 2021-11-15), H",
       "NEEQ firms can list on the BSE from this month", integer=True),
    _p("neeq_innovation_yyyymm", C, 201606, 201001, 209912, "yyyymm",
       "NEEQ tiering, innovation tier from 2016-06-27 (NEEQ tier measures; neeq.com.cn) [M]",
       "the NEEQ innovation tier exists from this month (reported as neeq_innovation_tier)", integer=True),
    _p("neeq_select_yyyymm", C, 202007, 201001, 209912, "yyyymm",
       "NEEQ select tier from 2020-07-27 (NEEQ reform 2019-10) [M]",
       "the NEEQ select tier exists from this month (reported as neeq_select_tier)", integer=True),
    _p("ipo_refile_wait_months", C, 6, 0, 36, "months",
       "CSRC IPO measures: a rejected issuer may refile 6 months after the decision [M]",
       "months a rejected IPO filer waits before it may file again", integer=True),
    _p("main_min_profit_3y_myuan", C, 30.0, 0.0, 300.0, "m yuan",
       "priors: main board, 3 profitable years, cumulative above 30 m (CSRC IPO measures)",
       "main-board (and SME) profit gate under approval"),
    _p("main_min_revenue_3y_myuan", C, 300.0, 0.0, 3000.0, "m yuan",
       "priors: main board, 3-year revenue above 300 m (CSRC IPO measures)",
       "main-board (and SME) revenue gate under approval (3 x the current revenue stands for it)"),
    _p("mv_median_main_bn_yuan", C, 5.5, 1.0, 20.0, "bn yuan",
       "priors: 2018 medians SH main 5.2, SZ main 5.9 bn [derived: midpoint], M",
       "median market value of a main-board (SME) listing at the end-2018 market level"),
    _p("mv_median_chinext_bn_yuan", C, 3.9, 1.0, 20.0, "bn yuan",
       "priors: 2018 ChiNext median 3.9 bn, M",
       "median market value of a ChiNext listing at the end-2018 market level"),
    _p("mv_median_star_bn_yuan", C, 6.0, 1.0, 30.0, "bn yuan",
       "40 of the first 100 STAR firms above 10 bn (shine.cn 2020-04-30), CSI 300 then 1.3 x end-2018 "
       "[derived], L",
       "median market value of a STAR listing at the end-2018 market level"),
    _p("mv_median_bse_bn_yuan", C, 2.0, 0.2, 10.0, "bn yuan",
       J,
       "median market value of a BSE listing at the end-2018 market level"),
    _p("mv_median_overseas_bn_yuan", C, 2.0, 0.2, 20.0, "bn yuan",
       J,
       "median market value of a Hong Kong / US listing of a park firm at the end-2018 market level"),
    _p("init_ipo_queue", INIT, 1, 0, 20, "firms",
       "[assumption] Changzhou 2020: 26 city-wide in IPO filing or coaching (priors)",
       "firms already in the IPO queue at the start (the largest eligible reformed or quoted firms)",
       integer=True),
    # -------- one park: cluster term on absolute counts (issue 11)
    _p("cluster_lead_elasticity", U, 0.3, 0.0, 1.0, "elasticity",
       "[judgement] (was arrivals.CLUSTER_ELASTICITY); location-choice studies find existing same-industry "
       "firms attract entrants (Guimaraes, Figueiredo & Woodward 2000, J. Urban Econ. 47:115-135, cited at "
       "https://pin.qq.com/read/1026833336/16) but give no elasticity of a park's lead rate, L",
       "lead rate of an industry grows with (firms in the park / reference count) ** this"),
    _p("cluster_ref_graphene_firms", C, 14, 1, 2000, "firms",
       "2014 history count: 14th graphene project signed by 2014-04 (west_taihu_history.csv; "
       "baseline.toml init_graphene_firms), M",
       "graphene firms at which the cluster multiplier is 1 (before population_scale)", integer=True),
    _p("cluster_ref_health_firms", C, 370, 1, 5000, "firms",
       "2014 history count: 400+ health firms at end 2016 (west_taihu_history.csv, H) less about 10 a year "
       "[judgement] (baseline.toml init_health_firms), M",
       "health firms at which the cluster multiplier is 1 (before population_scale)", integer=True),
    _p("cluster_ref_internet_firms", C, 60, 1, 2000, "firms",
       "2014 initial count init_internet_firms [judgement], L",
       "internet firms at which the cluster multiplier is 1 (before population_scale)", integer=True),
    _p("cluster_ref_culture_firms", C, 30, 1, 2000, "firms",
       "2014 initial count init_culture_firms [judgement], L",
       "culture firms at which the cluster multiplier is 1 (before population_scale)", integer=True),
    _p("cluster_ref_other_tech_firms", C, 150, 1, 5000, "firms",
       "2014 initial count init_other_tech_firms [judgement], L",
       "other technology firms at which the cluster multiplier is 1 (before population_scale)", integer=True),
]
# fmt: on

PARAMS: dict[str, Param] = {p.name: p for p in _DECLARED}
LEVERS = {k: p for k, p in PARAMS.items() if p.kind == L}
UNCERTAINTIES = {k: p for k, p in PARAMS.items() if p.kind == U}
CONSTANTS = {k: p for k, p in PARAMS.items() if p.kind == C}
INITIAL = {k: p for k, p in PARAMS.items() if p.kind == INIT}
SECTIONS = {"levers": LEVERS, "params": {**UNCERTAINTIES, **CONSTANTS, **INITIAL}}


def defaults() -> dict[str, float]:
    """Return every declared input at its default value."""
    return {k: p.default for k, p in PARAMS.items()}


def markdown_table(kind: str) -> str:
    """Render the declarations of one kind as a Markdown table (for docs)."""
    rows = ["| name | default | range | unit | source | meaning |", "|---|---|---|---|---|---|"]
    for p in _DECLARED:
        if p.kind == kind:
            rows.append(f"| `{p.name}` | {p.default:g} | {p.low:g}-{p.high:g} | {p.unit} | {p.source} | {p.doc} |")
    return "\n".join(rows)
