"""Direction of effect of each lever family (STYLE.md test layer 2).

Each policy scenario file's overrides are applied to tiny.toml and run with
the same replication seeds as tiny itself (common random numbers), so a pair
differs only by the policy. The tests compare the mean over the pairs.

Tolerance: "does not reduce" allows the policy mean to fall below the baseline
mean by at most ``max(0.5, 2 * SE)``, where SE is the standard error of the
paired differences. Pairing removes the noise the two runs share; what is left
comes from the streams drifting apart once the policy changes the population.
If a lever truly had no effect, its mean difference would fall below -2 SE in
about 2% of seed sets, and the 0.5 floor keeps a zero-variance count (e.g. both
runs always 0) from failing on nothing. The effects expected here are many SE
large (measured with these seeds: listings +8, deals +96, signings +68 per run),
so a reversed mechanism fails clearly. Separate tests check that each lever
moves its own process at all, so a lever that was disconnected (and so "did
not reduce" anything) is caught too.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import on_tiny, policy_overrides

from sim.model.arrivals import HIGH_POLLUTION_INDEX
from sim.model.params import ZONES
from sim.run.runner import replicate_seeds, run_scenario

N_REPS = 10
ROOT_SEED = 20160701
MIN_TOL = 0.5  # half an event: see the module docstring


@pytest.fixture(scope="module")
def runs(tiny):
    """runs(key, scenario) -> the N_REPS results of ``scenario``, computed once per key."""
    cache = {}
    seeds = replicate_seeds(ROOT_SEED, N_REPS)

    def get(key, scenario=None):
        if key not in cache:
            sc = tiny if key == "tiny" else scenario if scenario is not None else on_tiny(key, tiny)
            cache[key] = [run_scenario(sc, seed=s, replicate=i) for i, s in enumerate(seeds)]
        return cache[key]

    return get


def value(result, key: str) -> float:
    """An outcome, or the last month of a monthly column."""
    return float(result.outcomes[key]) if key in result.outcomes else float(result.monthly[key].iloc[-1])


def paired(base, policy, key):
    """(mean of baseline, mean of policy, paired differences) for ``key``."""
    b = np.array([value(r, key) for r in base])
    p = np.array([value(r, key) for r in policy])
    return b.mean(), p.mean(), p - b


def tolerance(diff: np.ndarray) -> float:
    return max(MIN_TOL, 2.0 * diff.std(ddof=1) / np.sqrt(len(diff)))


def assert_not_lower(base, policy, key, expectation):
    b, p, d = paired(base, policy, key)
    tol = tolerance(d)
    assert d.mean() >= -tol, (
        f"expected {expectation}: {key} mean {b:.2f} -> {p:.2f} (paired diff {d.mean():+.2f}, tolerance {tol:.2f})"
    )


def assert_not_higher(base, policy, key, expectation):
    b, p, d = paired(base, policy, key)
    tol = tolerance(d)
    assert d.mean() <= tol, (
        f"expected {expectation}: {key} mean {b:.2f} -> {p:.2f} (paired diff {d.mean():+.2f}, tolerance {tol:.2f})"
    )


def assert_clearly_higher(base, policy, key, expectation):
    b, p, d = paired(base, policy, key)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert d.mean() > max(2.0 * se, 0.0), (
        f"expected {expectation}: {key} mean {b:.2f} -> {p:.2f} (paired diff {d.mean():+.2f}, SE {se:.2f})"
    )


# ------------------------------------------------------------ eco threshold
@pytest.mark.parametrize("key", ["high_pollution_signed_cum", "end_high_pollution_firms"])
def test_stricter_eco_threshold_admits_no_more_polluters(runs, key):
    assert_not_higher(
        runs("tiny"), runs("eco_threshold"), key, "a stricter eco threshold to admit no more high-pollution firms"
    )


def test_eco_threshold_sweep_is_monotone(runs, tiny):
    """Tightening the limit step by step never lets more polluters sign (means, with the tolerance)."""
    base_limit = tiny["eco_max_pollution_index"]
    limits = (1.0, base_limit, 0.7)
    results = [
        runs("tiny") if x == base_limit else runs(f"eco_{x}", tiny.with_values(eco_max_pollution_index=x))
        for x in limits
    ]
    for i in range(1, len(limits)):
        assert_not_higher(
            results[i - 1],
            results[i],
            "high_pollution_signed_cum",
            f"eco limit {limits[i]} to admit no more high-pollution projects than limit {limits[i - 1]}",
        )
    assert_clearly_higher(
        results[-1], results[0], "high_pollution_signed_cum", "removing the eco threshold to admit more polluters"
    )


# ------------------------------------------------------------ the other lever families
CASES = [
    ("listing_support", "end_listed_exchange", "more listing support not to reduce exchange listings"),
    ("listing_support", "end_listed_exchange_neeq", "more listing support not to reduce exchange + NEEQ listings"),
    ("listing_support", "listed_companies_2020__exchange_neeq", "more listing support not to reduce the 2020 target"),
    ("financing", "end_vc_deals_cum", "looser financing not to reduce VC deals"),
    ("financing", "loans_cum", "looser financing not to reduce supermarket loans"),
    ("attraction", "end_projects_signed_cum", "more attraction effort not to reduce signed projects"),
    ("attraction", "key_projects_signed_cum", "more key-project focus not to reduce signed key projects"),
    ("china_israel", "end_israeli_firms", "more Israeli projects not to reduce Israeli firms"),
    ("china_israel", "israeli_projects_signed_cum", "more Israeli projects not to reduce Israeli signings"),
    ("leading_enterprises", "end_leading_firms", "leading-enterprise support not to reduce leading firms"),
]


@pytest.mark.parametrize(("policy", "key", "expectation"), CASES, ids=[f"{p}-{k}" for p, k, _ in CASES])
def test_lever_does_not_reduce_its_outcome(runs, policy, key, expectation):
    assert_not_lower(runs("tiny"), runs(policy), key, expectation)


# Each lever must move the process it acts on: otherwise "does not reduce" would pass for a dead lever.
CONNECTED = [
    ("eco_threshold", "leads_refused_eco_cum", "a stricter eco threshold to refuse more leads"),
    ("listing_support", "share_reforms_cum", "listing subsidies to speed up share reforms"),
    ("financing", "end_vc_deals_cum", "a stronger VC cluster to make more deals"),
    ("financing", "loans_cum", "a bigger finance supermarket to make more loans"),
    ("attraction", "leads_cum", "more attraction effort to bring more leads"),
    ("china_israel", "israeli_projects_signed_cum", "a larger Israeli stream to sign more Israeli projects"),
    ("leading_enterprises", "supported_firms", "one-enterprise-one-policy to support firms"),
]


@pytest.mark.parametrize(("policy", "key", "expectation"), CONNECTED, ids=[f"{p}-{k}" for p, k, _ in CONNECTED])
def test_lever_moves_its_own_process(runs, policy, key, expectation):
    assert_clearly_higher(runs("tiny"), runs(policy), key, expectation)


# ------------------------------------------------------------ the park's offer against the outside option
# (sim.model.zones.Zones.choose with ``outside``, sim.model.lifecycle: landing and relocation out)
def eco_mean(result) -> float:
    """Mean eco quality of the three zones in the last month."""
    return float(np.mean([result.monthly[f"eco_quality_{z}"].iloc[-1] for z in ZONES]))


def test_higher_rent_keeps_no_more_firms_in_the_park(runs, tiny):
    dear = runs("rent_x2", tiny.with_values(rent_index=2.0))
    assert_not_higher(runs("tiny"), dear, "end_firms_in_park", "doubling the rent to keep no more firms in the park")
    assert_clearly_higher(runs("tiny"), dear, "leads_lost_outside_cum", "a dearer park to lose more leads outside")
    assert_not_lower(runs("tiny"), dear, "relocated_out_cum", "a dearer park to lose no fewer firms outside")


def test_more_land_lands_no_fewer_leads(runs):
    base, land = runs("tiny"), runs("land_supply")
    assert_not_lower(base, land, "projects_registered_cum", "more land supply to land no fewer signed projects")
    assert_not_lower(base, land, "projects_signed_cum", "more land supply to sign no fewer projects")
    assert_not_higher(base, land, "leads_lost_outside_cum", "more land supply to lose no more leads outside")


def test_talent_and_services_do_not_reduce_talent_or_firms(runs):
    base, policy = runs("tiny"), runs("talent_services")
    assert_not_lower(base, policy, "end_talent_people", "a talent subsidy and better services not to reduce talent")
    assert_not_lower(base, policy, "end_firms_in_park", "better public services not to reduce firms in the park")
    assert_not_higher(base, policy, "leads_lost_outside_cum", "better services to lose no more leads outside")


# ------------------------------------------------------------ eco thresholds by EIA category
def test_stricter_heavy_threshold_refuses_more_heavy_leads_and_raises_eco_quality(runs):
    base, strict = runs("tiny"), runs("eco_threshold")
    assert_clearly_higher(base, strict, "leads_refused_eco_heavy_cum", "a stricter heavy limit to refuse more")
    b = np.array([eco_mean(r) for r in base])
    s = np.array([eco_mean(r) for r in strict])
    # eco quality is a 0-1 index: 0.01 is a generous floor for the noise of a paired difference
    tol = max(0.01, 2.0 * (s - b).std(ddof=1) / np.sqrt(len(b)))
    assert (s - b).mean() >= -tol, (
        f"expected a stricter heavy limit not to lower eco quality: {b.mean():.3f} -> {s.mean():.3f} (tol {tol:.3f})"
    )


def test_heavy_limit_below_high_pollution_line_signs_no_heavy_polluter(runs):
    """Exact rule: no heavy-category project above the line signs when its limit is under the line."""
    limit = policy_overrides("eco_threshold")["eco_max_pollution_index"]
    assert limit < HIGH_POLLUTION_INDEX, "precondition: the strict scenario's heavy limit lies under the line"
    col = "high_pollution_heavy_signed_cum"  # counted from history_start: the warm-up runs the status quo
    signed = [float(r.monthly[col].iloc[-1] - r.monthly[col].loc["2016-06"]) for r in runs("eco_threshold")]
    assert signed == [0.0] * len(signed), f"expected no heavy project above {HIGH_POLLUTION_INDEX} to sign: {signed}"


def test_stricter_light_threshold_refuses_no_fewer_light_leads(runs, tiny):
    strict = runs("light_0.4", tiny.with_values(eco_max_pollution_light_index=0.4))
    assert_clearly_higher(runs("tiny"), strict, "leads_refused_eco_light_cum", "a light limit to refuse light leads")
    base = runs("tiny")
    assert_not_higher(base, strict, "high_pollution_light_signed_cum", "a light limit to admit no more polluters")


def test_better_eco_quality_draws_no_fewer_clean_leads(tiny):
    """Same model, same arrival stream, eco quality set high or low: clean leads do not fall with eco quality."""
    from sim.model.arrivals import CLEAN, draw_leads
    from sim.model.park import ParkModel

    counts = {}
    for eco in (0.5, 1.0):
        m = ParkModel(tiny, seed=ROOT_SEED)
        m.zones.eco_quality_index = np.full(3, eco)
        n = 0
        for _ in range(240):  # 240 draws of a month's leads, one stream: paired across the two settings
            n += int((draw_leads(m)["category"] == CLEAN).sum())
        counts[eco] = n
    assert counts[1.0] > counts[0.5], f"expected more clean leads in a cleaner park, got {counts}"


# ------------------------------------------------------------ capital markets (sim.model.markets)
def test_lower_approval_rate_gives_no_more_listings_and_no_fewer_rejections(runs, tiny):
    strict = runs("approval_-0.4", tiny.with_values(name="approval_-0.4", ipo_approval_shift=-0.4))
    assert_not_higher(runs("tiny"), strict, "exchange_listings_cum", "a lower approval rate to list no more firms")
    assert_not_lower(runs("tiny"), strict, "ipo_rejections_cum", "a lower approval rate to reject no fewer filings")


@pytest.mark.slow  # paired full-window runs of the listing rules
def test_starting_queue_raises_listings_in_the_first_two_years(runs, tiny):
    """Firms already queued when the park is built (2014-01) list sooner than firms that must first file.

    The 2014 park at tiny's 15% scale has no reformed or quoted firm large enough for a board, so the
    queue is empty whatever ``init_ipo_queue`` says: the test runs the whole park (scale 1) to 2017-12.
    """
    key = "exchange_listings_cum"
    whole = {"population_scale": 1.0, "end": "2017-12"}
    none = runs("queue_0", tiny.with_values(name="queue_0", init_ipo_queue=0, **whole))
    full = runs("queue_20", tiny.with_values(name="queue_20", init_ipo_queue=20, **whole))
    early = [[float(r.monthly.loc["2017-12", key]) for r in rs] for rs in (none, full)]
    assert np.mean(early[1]) > np.mean(early[0]), (
        f"expected a starting IPO queue to raise listings to 2017-12: {np.mean(early[0])} -> {np.mean(early[1])}"
    )


@pytest.mark.slow  # paired full-window runs of the listing rules
def test_more_neeq_delisting_leaves_no_more_quoted_firms(runs, tiny):
    low = runs("neeq_delist_0.25", tiny.with_values(name="neeq_delist_0.25", neeq_delist_scale=0.25))
    high = runs("neeq_delist_3", tiny.with_values(name="neeq_delist_3", neeq_delist_scale=3.0))
    assert_not_higher(low, high, "neeq_quoted", "a higher NEEQ delisting rate to leave no more quoted firms")
    assert_not_lower(low, high, "neeq_delistings_cum", "a higher NEEQ delisting rate to delist no fewer firms")


@pytest.mark.slow  # paired full-window runs of the listing rules
def test_no_overseas_hazard_means_no_overseas_listings(runs, tiny):
    """Exact rule: with the overseas filing hazard at 0 no firm lists in Hong Kong or the US."""
    off = runs("overseas_0", tiny.with_values(name="overseas_0", p_overseas_file_per_year=0.0))
    got = [value(r, "exchange_listings_overseas_cum") for r in off]
    assert got == [0.0] * len(off), f"expected no overseas listings without the overseas route, got {got}"
    on = runs("overseas_0.5", tiny.with_values(name="overseas_0.5", p_overseas_file_per_year=0.5))
    assert_not_lower(off, on, "exchange_listings_overseas_cum", "a higher overseas hazard to list no fewer abroad")


def test_no_star_listing_before_the_star_market_opens(runs):
    """Exact rule: the default runs list nothing on STAR before 2019-07."""
    early = [float(r.monthly.loc["2019-06", "exchange_listings_star_cum"]) for r in runs("tiny")]
    assert early == [0.0] * len(early), f"expected no STAR listing before 2019-07, got {early}"
