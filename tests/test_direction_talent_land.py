"""Talent that can bind, and the talent-and-services and land-supply lever families (issue 11 items 6, 12).

Direction-of-effect tests (STYLE.md layer 2) compare paired seeds: the same
replication seeds run on tiny.toml with a lever low and high, so a pair differs
only by the lever (common random numbers). A test asks that the mean paired
difference has the expected sign and exceeds two standard errors of the paired
differences, so a reversed or disconnected mechanism fails. The levers are set
far apart (inside their declared ranges) so that the effects are many SE large
on 8 pairs; each test runs 16 tiny replications (about 0.25-0.7 s each on a shared
machine), so the paired ones are marked slow.

Measured with these seeds (paired mean difference / SE): subsidy 0 -> 4000
yuan/month: arrivals z 11, mean fill z 9, employed person-years z 9.5; central
services 0 -> 1 (16 pairs): central talent z 5.8, central firms z 9.6, central
exit rate z -3.6; land 0 -> 650k m2/year: firms z 26, leads lost for want of land
z -5.6; central housing 0.6 -> 3.5 (16 pairs): central talent z -19, central exit
rate z 6.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.model.params import INDUSTRIES
from sim.model.park import ParkModel
from sim.model.scenario import month_index
from sim.model.talent import GENERAL, RD, TalentPool, rd_share
from sim.model.zones import CENTRAL
from sim.run.runner import replicate_seeds

N_PAIRS = 8
ROOT_SEED = 20161101


def _run(scenario, seed) -> dict:
    """One tiny run, stepped by hand so that per-month talent figures and counters can be read."""
    m = ParkModel(scenario, seed=seed)
    employed, fill, arrivals, central_talent, central_firms = [], [], [], [], []
    while m.running:
        before = m.counters.total["talent_arrived"]
        m.step()
        rows = m.firms.live()
        employed.append((m.talent.employer >= 0).sum() * m.talent.scale)
        fill.append(float(m.talent.fill(m, rows).mean()) if len(rows) else 1.0)
        arrivals.append(m.counters.total["talent_arrived"] - before)
        central_talent.append(int((m.talent.zone == CENTRAL).sum()) * m.talent.scale)
        central_firms.append(int((m.firms.zone[rows] == CENTRAL).sum()))
    c = m.counters.total
    return {
        "employed_years": float(np.sum(employed)) / 12.0,
        "fill": float(np.mean(fill)),
        "arrivals": np.array(arrivals, float),
        "quits": c["talent_quits"],
        "left": c["talent_left"],
        "central_exit_rate": c["talent_left_central"] / max(float(np.sum(central_talent)) / 12.0, 1.0),
        "central_talent": float(np.mean(central_talent)),
        "central_firms": float(np.mean(central_firms)),
        "capacity_m2": float(m.zones.capacity_m2.sum()),
        "firms": float(len(rows)),
        "lost_no_land": c["leads_lost_no_land"],
    }


def _runs(scenario, n=N_PAIRS):
    return [_run(scenario, s) for s in replicate_seeds(ROOT_SEED, n)]


def _paired(low, high, key):
    d = np.array([h[key] for h in high]) - np.array([lo[key] for lo in low])
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def _assert_up(low, high, key):
    mean, se = _paired(low, high, key)
    assert mean > 2 * se and mean > 0, f"{key}: paired mean difference {mean:.3g} (SE {se:.3g}) should be > 0"


def _assert_down(low, high, key):
    mean, se = _paired(low, high, key)
    assert mean < -2 * se and mean < 0, f"{key}: paired mean difference {mean:.3g} (SE {se:.3g}) should be < 0"


# -------- turnover at the published rate (invariant / calibration of the mechanism)


@pytest.mark.parametrize("rate", [0.1, 0.18, 0.3])
def test_realised_turnover_matches_declared_rate(tiny, rate):
    """Quits per employed person-year on tiny come within 10% of talent_leave_per_year."""
    runs = _runs(tiny.with_values(talent_leave_per_year=rate), n=3)
    realised = sum(r["quits"] for r in runs) / sum(r["employed_years"] for r in runs)
    assert abs(realised - rate) < 0.1 * rate, f"realised turnover {realised:.3f}/yr against declared {rate}"


def test_park_exits_are_a_share_of_turnover(tiny):
    """People leave the park at a rate below the turnover rate but far above the old 0.3%/yr."""
    runs = _runs(tiny, n=3)
    left = sum(r["left"] for r in runs) / sum(r["employed_years"] for r in runs)
    assert 0.02 < left < tiny["talent_leave_per_year"] * tiny["talent_unemployed_leave_factor"]


# -------- talent subsidy


@pytest.fixture(scope="module")
def subsidy_pair(tiny):
    return _runs(tiny.with_values(talent_subsidy_yuan_per_month=0.0)), _runs(
        tiny.with_values(talent_subsidy_yuan_per_month=4000.0)
    )


@pytest.mark.slow
def test_talent_subsidy_raises_arrivals(subsidy_pair):
    low, high = subsidy_pair
    for r in (*low, *high):
        r["arrivals_total"] = r["arrivals"].sum()
    _assert_up(low, high, "arrivals_total")


@pytest.mark.slow
def test_talent_subsidy_raises_staffing(subsidy_pair):
    _assert_up(*subsidy_pair, "fill")
    _assert_up(*subsidy_pair, "employed_years")


@pytest.mark.slow
def test_talent_subsidy_fade(tiny):
    """The subsidy's effect on arrivals decays after the talent policy ends (2018-06 here)."""

    def windowed(subsidy):
        sc = tiny.with_values(talent_subsidy_yuan_per_month=subsidy)
        return dataclasses.replace(sc, policies=(("talent_services", "", "2018-06", True),))

    low, high = _runs(windowed(0.0)), _runs(windowed(4000.0))
    first = month_index(tiny.first_month)  # records start at history_start when the scenario forks
    on = slice(month_index("2016-07") - first, month_index("2018-07") - first)  # 2016-07 .. 2018-06
    off = slice(month_index("2019-07") - first, None)  # 2019-07 .. 2020-12
    d_on = np.array([h["arrivals"][on].mean() - lo["arrivals"][on].mean() for lo, h in zip(low, high, strict=True)])
    d_off = np.array([h["arrivals"][off].mean() - lo["arrivals"][off].mean() for lo, h in zip(low, high, strict=True)])
    assert d_on.mean() > 2 * d_on.std(ddof=1) / np.sqrt(len(d_on)), "the subsidy should raise arrivals while paid"
    assert abs(d_off.mean()) < 0.5 * d_on.mean(), (
        f"after it ends the effect should decay: {d_off.mean()} vs {d_on.mean()}"
    )


def test_subsidy_stops_after_declared_months(tiny):
    """A newcomer is paid while months since arrival < talent_subsidy_months, nothing after."""
    m = ParkModel(tiny.with_values(talent_subsidy_months=6), seed=1)
    pool = TalentPool(10)
    pool.add(np.random.default_rng(0), np.zeros(3, int), np.full(3, -1), m.month, 2.0)
    pool.arrived_month[:] = [m.month, m.month - 5, m.month - 6]
    paid = pool.paid_subsidy(m)
    assert paid[0] == pytest.approx(2.0) and 0 < paid[1] < paid[0] and paid[2] == 0.0


def test_paid_subsidy_is_the_formula_bit_for_bit_for_any_rows(tiny):
    """The table read of the fade gives ``subsidy * 0.5 ** (months / half_life)`` while paid, 0 after, exactly."""
    from sim.model import portable

    m = ParkModel(tiny.with_values(talent_subsidy_months=36, talent_subsidy_half_life_months=5.0), seed=1)
    pool = TalentPool(10)
    months = np.array([0, 1, 2, 7, 35, 36, 80, -2])  # -2: an arrival dated after now, outside any run
    pool.add(np.random.default_rng(0), np.zeros(len(months), int), np.full(len(months), -1), m.month, 3.0)
    pool.arrived_month[:] = m.month - months
    formula = np.where(months < 36, 3.0 * portable.power(0.5, months / 5.0), 0.0)
    assert pool.paid_subsidy(m).view(np.uint64).tolist() == formula.view(np.uint64).tolist()
    some = np.array([6, 3, 0])
    assert pool.paid_subsidy(m, some).view(np.uint64).tolist() == formula[some].view(np.uint64).tolist()


# -------- services


@pytest.mark.slow
def test_services_draw_talent_and_firms_to_the_zone_and_keep_talent(tiny):
    """Central services up: more talent and firms in the central zone, fewer of its people leave the park."""
    # exits are rare events on tiny (about 40 agents per run leave from the central zone): more pairs
    low = _runs(tiny.with_values(services_central_index=0.0), n=2 * N_PAIRS)
    high = _runs(tiny.with_values(services_central_index=1.0), n=2 * N_PAIRS)
    _assert_up(low, high, "central_talent")
    _assert_up(low, high, "central_firms")
    _assert_down(low, high, "central_exit_rate")


# -------- land supply


@pytest.mark.slow
def test_land_supply_adds_floor_and_lets_more_firms_land(tiny):
    low = _runs(tiny.with_values(land_north_m2_per_year=0.0, land_central_m2_per_year=0.0, land_south_m2_per_year=0.0))
    high = _runs(
        tiny.with_values(
            land_north_m2_per_year=300000.0, land_central_m2_per_year=200000.0, land_south_m2_per_year=150000.0
        )
    )
    _assert_up(low, high, "capacity_m2")
    _assert_up(low, high, "firms")
    _assert_down(low, high, "lost_no_land")


# -------- skill classes (invariants and the R&D weight)


def test_skill_invariants_after_a_year(tiny):
    m = ParkModel(tiny, seed=3)
    for _ in range(11):
        m.step()
    # Staffing is matched to demand in the talent step; growth, exits and land later in the
    # month move demand again, so "have <= want" is checked right after the talent step.
    seen = {}
    talent_step = m.talent.step

    def step_and_look(ctx):
        talent_step(ctx)
        rows = ctx.firms.live()
        seen["have"], seen["want"] = ctx.talent.have_by_skill(ctx, rows), ctx.talent.wanted_by_skill(ctx, rows)

    m.talent.step = step_and_look
    m.step()
    t, rows = m.talent, m.firms.live()
    assert set(np.unique(t.skill)) <= {GENERAL, RD}
    assert np.all((t.employer < 0) | np.isin(t.employer, rows)), "staff only at live firms"
    assert np.all(seen["have"] <= seen["want"]), "no firm keeps more staff of a class than it wants"
    fill = t.fill(m, rows)
    assert np.all((fill >= 0) & (fill <= 1))


def test_rd_shortage_slows_rd_heavy_industries_more(tiny):
    """With every R&D person gone, a firm with its general staff complete keeps fill 1 - r * w.

    r is its industry's R&D share and w the R&D shortfall weight, so graphene and
    health (r 0.4) lose more growth than culture (r 0.1); on average over firms too.
    """
    m = ParkModel(tiny, seed=4)
    m.step()  # the first talent step matches the initial staff's skills to the firms' needs
    t, rows, p = m.talent, m.firms.live(), m.params
    before = t.fill(m, rows)
    t.employer[t.skill == RD] = -1
    t.recount(m.firms)
    fill = t.fill(m, rows)
    want, have = t.wanted_by_skill(m, rows, within_floor=False), t.have_by_skill(m, rows)
    r = rd_share(p)[m.firms.industry[rows]]
    clean = (want[:, RD] > 0) & (have[:, GENERAL] >= want[:, GENERAL])
    assert clean.sum() >= 5, "enough firms with complete general staff to check the formula exactly"
    np.testing.assert_allclose(fill[clean], np.maximum(1 - r[clean] * p.talent_rd_shortfall_weight, 0.0))
    # On average over all firms: the fill lost with the R&D staff is larger where R&D weighs more. Small culture
    # firms in the 2014 park may want no R&D person at all (their share rounds to none) and lose nothing.
    ind, loss = m.firms.industry[rows], before - fill
    heavy = loss[np.isin(ind, [INDUSTRIES.index("graphene"), INDUSTRIES.index("health")])].mean()
    light = loss[ind == INDUSTRIES.index("culture")].mean()
    assert heavy > 0.05 and heavy > light, f"fill lost without R&D staff: R&D-heavy {heavy:.3f} vs culture {light:.3f}"


# -------- housing cost


@pytest.mark.slow
def test_housing_cost_pushes_talent_out_of_the_zone(tiny):
    """Dearer central housing: fewer people in the central zone, more of them leave the park."""
    low = _runs(tiny.with_values(talent_housing_central_kyuan_per_month=0.6), n=2 * N_PAIRS)
    high = _runs(tiny.with_values(talent_housing_central_kyuan_per_month=3.5), n=2 * N_PAIRS)
    _assert_down(low, high, "central_talent")
    _assert_up(low, high, "central_exit_rate")
