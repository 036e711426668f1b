"""Each fast path of the monthly step gives, to the last bit, what the plain algorithm it replaced gives.

The speed issue asks for results unchanged; the paths below change only how a month is
computed. Each test runs the plain algorithm (kept here as the specification: one choice
per firm through ``Zones.choose``, ``Generator.choice``, a rank over all staff, a scan of
every investor) and the fast path from the same state and the same random stream, and
compares every output exactly. tests/test_regression.py's hash over whole runs holds the
paths together; these tests say which one broke.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from conftest import on_tiny

from sim.model.arrivals import _ISRAELI_CDF, ISRAELI_MIX
from sim.model.finance import weighted_index, weighted_sample
from sim.model.firms import GROWING, MATURE, OPERATING, REGISTERED
from sim.model.park import ParkModel
from sim.model.scenario import month_index

MONTHS = 40  # months stepped before a state is taken: the park then has firms in every stage and zone
MONEY_TOL_REL = 1e-9  # as in test_invariants: rounding of a few thousand terms stays near 1e-12 relative
STREAM_SEED = 20161  # seed of the random stream both versions draw from [definition: any fixed seed]


def _stepped(scenario):
    """A park of ``scenario`` after MONTHS months."""
    m = ParkModel(scenario, seed=5)
    for _ in range(MONTHS):
        m.step()
    return m


@pytest.fixture(scope="module")
def park(tiny):
    return _stepped(on_tiny("baseline", tiny))


def _old_relocate(m, rows, rng):
    """The one-firm-at-a-time relocation loop this round replaced (lifecycle._relocate before)."""
    firms, zones = m.firms, m.zones
    moved = 0
    for r in rows:
        cur, floor = int(firms.zone[r]), float(firms.floor_m2[r])
        zones.occupied_m2[cur] -= floor
        one = np.array([r])
        zone = zones.choose(
            rng,
            firms.industry[one],
            firms.stage[one],
            firms.israeli[one],
            firms.floor_m2[one],
            m.location_betas(),
            firms,
        )[0]
        new = int(zone) if zone >= 0 else cur
        zones.occupied_m2[new] += floor
        firms.zone[r] = new
        moved += new != cur
    return moved


@pytest.mark.parametrize("room", [None, 0.02], ids=["room-to-spare", "zones-nearly-full"])
def test_reconsider_moves_every_firm_as_one_choice_at_a_time_does(park, room):
    rows = park.firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    assert len(rows) > 50, "too few firms for the comparison to mean anything"
    old, new = copy.deepcopy(park), copy.deepcopy(park)
    if room is not None:  # capacity just above today's floor: some moves are refused for want of room
        for m in (old, new):
            m.zones.capacity_m2 = m.zones.occupied_m2 * (1.0 + room)
    # every firm reconsiders, so the cluster term and free floor change under the later choosers
    moved = _old_relocate(old, rows, np.random.default_rng(STREAM_SEED))
    rng = np.random.default_rng(STREAM_SEED)
    zone = new.zones.reconsider(rng, rows, new.location_betas(), new.firms)
    assert moved > 0, "no firm moved: the comparison would not test the cluster update"
    np.testing.assert_array_equal(zone, old.firms.zone[rows])
    assert new.zones.occupied_m2.tobytes() == old.zones.occupied_m2.tobytes()
    assert int((zone != new.firms.zone[rows]).sum()) == moved


def test_reconsider_leaves_the_stream_where_one_draw_per_firm_leaves_it(park):
    rows = park.firms.in_stage(OPERATING, GROWING)[:30]
    old, new = copy.deepcopy(park), copy.deepcopy(park)
    rng_old, rng_new = np.random.default_rng(STREAM_SEED), np.random.default_rng(STREAM_SEED)
    _old_relocate(old, rows, rng_old)
    new.zones.reconsider(rng_new, rows, new.location_betas(), new.firms)
    assert rng_new.bit_generator.state == rng_old.bit_generator.state


def test_reconsider_refuses_the_size_term_it_does_not_compute(park):
    rows = park.firms.in_stage(OPERATING)[:3]
    with pytest.raises(ValueError, match="size term"):
        park.zones.reconsider(np.random.default_rng(0), rows, (*park.location_betas(), 0.5), park.firms)


def test_weighted_index_draws_what_generator_choice_draws():
    shapes = np.random.default_rng(1)
    for trial in range(300):
        w = shapes.dirichlet(np.ones(int(shapes.integers(1, 40))))[: int(shapes.integers(1, 40))]
        w = w * shapes.choice([1e-6, 1.0, 1e6])  # unnormalised weights of any scale
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        assert weighted_index(a, w) == b.choice(len(w), p=w / w.sum()), f"trial {trial}: weights {w}"
        assert a.bit_generator.state == b.bit_generator.state


def test_weighted_sample_draws_what_generator_choice_without_replacement_draws():
    """Every size up to the whole population, weights of every scale with tiny ones among them (repeat rounds)."""
    shapes = np.random.default_rng(2)
    rounds = 0  # trials that drew a second round of uniforms
    for trial in range(300):
        size = int(shapes.integers(1, 60))
        w = shapes.lognormal(0.0, 3.0, size) * shapes.choice([1e-6, 1.0, 1e6])
        w[shapes.random(size) < 0.2] = np.finfo(float).tiny  # as _loans weights firms with no revenue
        positive = int(np.count_nonzero(w / w.sum() > 0))
        n = int(shapes.integers(1, positive + 1))
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        got = weighted_sample(a, w, n)
        want = b.choice(len(w), n, replace=False, p=w / w.sum())
        np.testing.assert_array_equal(got, want, err_msg=f"trial {trial}")
        assert got.dtype == want.dtype
        assert a.bit_generator.state == b.bit_generator.state
        one_round = np.random.default_rng(trial)
        one_round.random(n)
        rounds += one_round.bit_generator.state != a.bit_generator.state  # some index drawn twice in a round
    assert rounds >= 30, f"only {rounds} trials needed a second round: the repeat rounds are not covered"
    with pytest.raises(ValueError, match="positive weights"):
        weighted_sample(np.random.default_rng(0), np.array([1.0, 0.0, 0.0]), 2)


def test_israeli_industries_draw_what_generator_choice_draws():
    for trial, n in enumerate((1, 2, 5, 17, 300)):
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        got = _ISRAELI_CDF.searchsorted(a.random(n), side="right")
        np.testing.assert_array_equal(got, b.choice(len(ISRAELI_MIX), n, p=ISRAELI_MIX))
        assert a.bit_generator.state == b.bit_generator.state


def _old_fire_excess(talent, want):
    """The rank over all employed staff that _fire_excess used before (talent.py)."""
    emp = np.flatnonzero(talent.employer >= 0)
    key = talent.employer[emp] * 2 + talent.skill[emp]
    by_key = np.argsort(key, kind="stable")
    order, key = emp[by_key], key[by_key]
    rank = np.arange(len(order)) - np.searchsorted(key, key, side="left")
    talent.employer[order[rank >= want.reshape(-1)[key]]] = -1


def test_fire_excess_lets_go_the_staff_the_full_rank_lets_go(park):
    rows = park.firms.in_stage(OPERATING, GROWING, MATURE)
    old, new = copy.deepcopy(park), copy.deepcopy(park)
    # half the staff each firm has: most firms shed people, of both classes
    by_skill = new.talent.have_by_skill(new, rows) // 2
    want = np.zeros((old.firms.n, 2), np.int64)
    want[rows] = by_skill
    _old_fire_excess(old.talent, want)
    new.talent._fire_excess(new, rows, by_skill)
    assert (old.talent.employer != park.talent.employer).sum() > 20, "too few lay-offs to compare"
    np.testing.assert_array_equal(new.talent.employer, old.talent.employer)


def test_holders_index_is_the_inverse_of_every_investors_holdings(tiny):
    m = ParkModel(on_tiny("financing", tiny), seed=2)
    m.run()
    inverse: dict[int, set[int]] = {}
    for inv in m.finance.investors():
        for row in inv.holdings:
            inverse.setdefault(row, set()).add(inv.unique_id)
    indexed = {row: {inv.unique_id for inv in holders} for row, holders in m.finance.holders_of.items() if holders}
    assert inverse, "no investor holds a stake: the run does not test the index"
    assert indexed == inverse
    assert abs(m.finance.balance_error()) <= MONEY_TOL_REL * m.finance.injected_myuan


def _state_bytes(m) -> dict[str, bytes]:
    """Every column of the firm table and talent pool, and the zones' floor, as raw bytes."""
    from sim.model.firms import _FIELDS

    state = {f"firms.{name}": getattr(m.firms, name)[: m.firms.n].tobytes() for name in _FIELDS}
    state |= {f"talent.{name}": getattr(m.talent, name).tobytes() for name in ("zone", "skill", "employer")}
    state["zones.occupied_m2"] = np.asarray(m.zones.occupied_m2).tobytes()
    return state


@pytest.mark.parametrize("january", [False, True], ids=["a-month", "january-closes-the-books"])
@pytest.mark.parametrize("room", [None, 0.001], ids=["room-to-spare", "zones-full"])
def test_compiled_growth_month_gives_the_bits_of_the_numpy_step(park, january, room):
    """lifecycle.growth_step's compiled loop leaves the state and the stream as growth_step_numpy does."""
    from sim.model import lifecycle, portable

    assert portable.USE_JIT, "this compares the compiled loop, which PARKSIM_NO_JIT switches off"
    old, new = copy.deepcopy(park), copy.deepcopy(park)
    for m in (old, new):
        if january:
            m.month += 12 - m.month % 12
        if room is not None:  # capacity just above today's floor: growth asks for more than is free
            m.zones.capacity_m2 = m.zones.occupied_m2 * (1.0 + room)
    before = _state_bytes(old)
    lifecycle.growth_step_numpy(old)
    lifecycle.growth_step(new)
    after_old, after_new = _state_bytes(old), _state_bytes(new)
    changed = {k for k in before if before[k] != after_old[k]}
    # the comparison means something only if the step changed what the loop computes
    assert {"firms.revenue_myuan", "firms.cash_myuan", "firms.floor_m2", "firms.profit_ytd_myuan"} <= changed
    if january:
        assert "firms.profit_y1_myuan" in changed
    differ = [k for k in after_old if after_old[k] != after_new[k]]
    assert not differ, f"the compiled growth month differs from the numpy step in {differ}"
    assert new.streams["growth"].bit_generator.state == old.streams["growth"].bit_generator.state


@pytest.fixture(scope="module")
def subsidised_park(tiny):
    """A park under the talent programme, so that newcomers are paid the fading subsidy."""
    return _stepped(on_tiny("talent_services", tiny))


@pytest.mark.parametrize("which", ["baseline", "talent-subsidy"])
def test_compiled_talent_month_gives_the_bits_of_the_numpy_step(park, subsidised_park, which):
    """TalentPool.step's compiled loops leave rows, counters and the stream as step_numpy does."""
    from sim.model import portable

    assert portable.USE_JIT, "this compares the compiled loops, which PARKSIM_NO_JIT switches off"
    state = park if which == "baseline" else subsidised_park
    if which == "talent-subsidy":
        assert (state.talent.paid_subsidy(state) > 0).any(), "nobody is paid a subsidy: the term is not tested"
    old, new = copy.deepcopy(state), copy.deepcopy(state)
    before = _state_bytes(old) | {"talent_agents": old.firms.talent_agents[: old.firms.n].tobytes()}
    counts_before = dict(old.counters.total)
    for m in (old, new):
        m.month += 1
    old.talent.step_numpy(old)
    new.talent.step(new)
    after_old = _state_bytes(old) | {"talent_agents": old.firms.talent_agents[: old.firms.n].tobytes()}
    after_new = _state_bytes(new) | {"talent_agents": new.firms.talent_agents[: new.firms.n].tobytes()}
    assert {"talent.zone", "talent.employer"} <= {k for k in before if before[k] != after_old[k]}
    events = {k for k in old.counters.total if old.counters.total[k] != counts_before.get(k, 0.0)}
    # quits, departures, arrivals and hires all happened, so every loop was exercised
    assert {"talent_quits", "talent_left", "talent_arrived"} <= events, events
    differ = [k for k in after_old if after_old[k] != after_new[k]]
    assert not differ, f"the compiled talent month differs from the numpy step in {differ}"
    for name in ("arrived_month", "subsidy_kyuan"):
        assert getattr(new.talent, name).tobytes() == getattr(old.talent, name).tobytes(), name
    assert dict(new.counters.total) == dict(old.counters.total)
    assert new.streams["talent"].bit_generator.state == old.streams["talent"].bit_generator.state


def test_talent_rows_dated_after_now_take_the_numpy_step(park):
    """A row that arrives after the current month (never in a run) is paid by the formula: the numpy step runs."""
    m = copy.deepcopy(park)
    m.month += 1
    m.talent.arrived_month[0] = m.month + 3
    ref = copy.deepcopy(m)
    ref.talent.step_numpy(ref)
    m.talent.step(m)
    assert m.talent.employer.tobytes() == ref.talent.employer.tobytes()
    assert m.streams["talent"].bit_generator.state == ref.streams["talent"].bit_generator.state


def test_compiled_zone_utility_and_offer_gap_give_the_bits_of_the_numpy_code(park):
    """Zones.utility and offer_gap (compiled) equal utility_numpy and offer_gap_numpy, Israeli firms included."""
    from sim.model import portable
    from sim.model.zones import offer_gap, offer_gap_numpy

    assert portable.USE_JIT, "this compares the compiled loops, which PARKSIM_NO_JIT switches off"
    m = copy.deepcopy(park)
    f = m.firms
    rows = f.live()
    f.israeli[rows[::3]] = True  # some choosers of every kind get the central bonus
    m.zones.services_index = np.array([0.3, 0.7, 0.5])  # a non-zero services term
    assert len(rows) > 50 and f.israeli[rows].any() and (~f.israeli[rows]).any()
    for betas in (m.location_betas(), (1.3, -0.7, 2.1, 0.05)):
        fast = m.zones.utility(f.industry[rows], f.stage[rows], f.israeli[rows], betas, f)
        ref = m.zones.utility_numpy(f.industry[rows], f.stage[rows], f.israeli[rows], betas, f)
        assert fast.shape == ref.shape and fast.tobytes() == ref.tobytes()
    # leads: wider integer types than the table's columns, as screen_and_sign passes them
    ind, stage = f.industry[rows].astype(np.int64), f.stage[rows].astype(np.int64)
    fast = m.zones.utility(ind, stage, f.israeli[rows], m.location_betas(), f)
    assert fast.tobytes() == m.zones.utility_numpy(ind, stage, f.israeli[rows], m.location_betas(), f).tobytes()
    assert offer_gap(m, rows).tobytes() == offer_gap_numpy(m, rows).tobytes()
    assert offer_gap(m, rows[:0]).shape == (0,)


def _every_exit_term(park):
    """A copy of ``park`` with every term of the exit hazard in play, and the rows it applies to.

    Listed, supported and broke firms, and a firm born next month (age below zero: the inverted
    U's zero base).
    """
    from sim.model.firms import LISTED

    m = copy.deepcopy(park)
    f = m.firms
    rows = f.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    f.listing[rows[::7]] = LISTED
    f.supported[rows[1::5]] = True
    f.cash_myuan[rows[2::4]] = -1.0
    f.born_month[rows[3]] = m.month + 1
    return m, rows


def test_compiled_exit_hazards_give_the_bits_of_the_numpy_step(park):
    """exit_step's compiled hazards close, relocate and move the firms exit_step_numpy does."""
    from sim.model import lifecycle, portable

    assert portable.USE_JIT, "this compares the compiled loop, which PARKSIM_NO_JIT switches off"
    state, _ = _every_exit_term(park)
    state.params = dataclasses.replace(state.params, exit_peak_per_year=1.5)  # enough closures to compare
    old, new = copy.deepcopy(state), copy.deepcopy(state)
    for m in (old, new):
        m.month += 1
    lifecycle.exit_step_numpy(old)
    lifecycle.exit_step(new)
    gone = old.counters.total["closed"], old.counters.total["relocated_out"], old.counters.total["closed_cash_out"]
    assert all(n > 0 for n in gone), f"closures, relocations out and cash-outs all happen: {gone}"
    differ = [k for k, v in _state_bytes(old).items() if v != _state_bytes(new)[k]]
    assert not differ, f"the compiled exit hazards differ from the numpy step in {differ}"
    assert dict(new.counters.total) == dict(old.counters.total)
    assert len(new.agents) == len(old.agents)
    for stream in ("exits", "location"):
        assert new.streams[stream].bit_generator.state == old.streams[stream].bit_generator.state


def test_compiled_exit_hazards_are_the_numpy_hazards_to_the_last_bit(park):
    """exit_month decides as the numpy hazards do for draws at each hazard and one step below it.

    The loop returns decisions, not hazards: with ``u`` exactly at ``h / 12`` a firm does not close,
    one representable number below it does, so a hazard one unit in the last place off flips a decision.
    """
    from sim.model import _jit_lifecycle as jit
    from sim.model import lifecycle
    from sim.model.firms import LISTED
    from sim.model.units import MONTHS_PER_YEAR
    from sim.model.zones import offer_gap

    m, rows = _every_exit_term(park)
    f = m.firms
    h, broke = lifecycle.exit_hazards_numpy(m, rows)
    h_out = lifecycle.relocation_out_hazards_numpy(m, rows)
    assert (h > 0).sum() > 50 and (h == 0).any() and broke.any()

    def decide(u):
        return jit.exit_month(
            rows, u, offer_gap(m, rows), m.month, float(MONTHS_PER_YEAR), LISTED,
            tuple(float(getattr(m.params, name)) for name in jit.EXIT_INPUTS),
            f.born_month, f.revenue_myuan, f.listing, f.supported, f.cash_myuan,
        )  # fmt: skip

    for edge in (h / MONTHS_PER_YEAR, (h + h_out) / MONTHS_PER_YEAR):
        for u in (edge, np.nextafter(edge, -np.inf)):
            close, leave, out_of_cash = decide(u)
            want_close = u < h / MONTHS_PER_YEAR
            np.testing.assert_array_equal(close, want_close)
            np.testing.assert_array_equal(leave, ~want_close & (u < (h + h_out) / MONTHS_PER_YEAR))
            np.testing.assert_array_equal(out_of_cash, broke)


@pytest.mark.parametrize("trial", range(20))
def test_compiled_serving_loop_places_choosers_as_the_python_loop_does(trial):
    """Zones.choose's compiled serving loop gives the Python loop's zones and leaves the same free floor.

    Random utilities with excluded zones (-inf), whole rows excluded, floor tight enough that zones fill
    up, and an outside option that wins for some choosers.
    """
    from sim.model import _jit_zones as jit
    from sim.model.zones import serve_in_order_numpy

    rng = np.random.default_rng(trial)
    n = int(rng.integers(1, 60))
    util = rng.gumbel(size=(n, 3)) + rng.normal(0, 1, 3)
    util[rng.random((n, 3)) < 0.15] = -np.inf
    util[0] = -np.inf
    out_util = rng.gumbel(size=n) - 1.0 if trial % 2 else np.full(n, -np.inf)
    need = rng.uniform(100.0, 2000.0, n)
    free = rng.uniform(0.0, need.sum() / 2, 3)
    free_py, free_jit = free.copy(), free.copy()
    ref = serve_in_order_numpy(util, out_util, free_py, need)
    got = jit.serve_in_order(util, out_util, free_jit, need, -1, -2)
    np.testing.assert_array_equal(got, ref)
    assert free_jit.tobytes() == free_py.tobytes()
    assert ref.dtype == got.dtype == np.int8 and (ref == -1).any()


@pytest.mark.parametrize("room", [None, 0.02], ids=["room-to-spare", "zones-nearly-full"])
def test_compiled_reconsider_gives_the_bits_of_the_python_pass(park, room):
    """Zones.reconsider (compiled) moves the firms reconsider_python moves, Israeli firms and full zones included."""
    from sim.model import portable

    assert portable.USE_JIT, "this compares the compiled loop, which PARKSIM_NO_JIT switches off"
    m = copy.deepcopy(park)
    rows = m.firms.in_stage(REGISTERED, OPERATING, GROWING, MATURE)
    m.firms.israeli[rows[::4]] = True  # the central bonus in play
    m.zones.services_index = np.array([0.3, 0.7, 0.5])
    if room is not None:
        m.zones.capacity_m2 = m.zones.occupied_m2 * (1.0 + room)
    old, new = copy.deepcopy(m), copy.deepcopy(m)
    rng_old, rng_new = np.random.default_rng(STREAM_SEED), np.random.default_rng(STREAM_SEED)
    ref = old.zones.reconsider_python(rng_old, rows, old.location_betas(), old.firms)
    got = new.zones.reconsider(rng_new, rows, new.location_betas(), new.firms)
    assert (ref != m.firms.zone[rows]).sum() > 0, "no firm moved: the comparison would not test the moves"
    assert got.dtype == ref.dtype and got.tobytes() == ref.tobytes()
    assert np.asarray(new.zones.occupied_m2).tobytes() == np.asarray(old.zones.occupied_m2).tobytes()
    assert rng_new.bit_generator.state == rng_old.bit_generator.state


@pytest.mark.parametrize("trial", range(10))
def test_compiled_vc_leads_pick_what_weighted_index_picks(trial):
    """vc_leads picks each round's lead as the loop over np.flatnonzero and weighted_index does, and uses
    one uniform per round that found an investor (rounds nobody can fund draw nothing)."""
    from sim.model import _jit_finance as jit

    shapes = np.random.default_rng(trial)
    n_inv, k = int(shapes.integers(1, 150)), int(shapes.integers(1, 12))
    capital = shapes.uniform(0.0, 100.0, n_inv)
    preference = shapes.dirichlet(np.ones(5), n_inv)
    industry = shapes.integers(0, 5, k).astype(np.int8)
    revenue = shapes.uniform(0.0, 400.0, k)
    chosen, min_deal, per_revenue = np.arange(k), 5.0, 0.2
    ref_rng, ref_capital, ref = np.random.default_rng(STREAM_SEED), capital.copy(), []
    for r in chosen:
        size = max(min_deal, per_revenue * revenue[r])
        able = np.flatnonzero(ref_capital >= size)
        if not len(able):
            ref.append(-1)
            continue
        pick = able[weighted_index(ref_rng, preference[able, industry[r]])]
        ref_capital[pick] -= size
        ref.append(int(pick))
    rng = np.random.default_rng(STREAM_SEED)
    lead, _, used = jit.vc_leads(chosen, rng.random(k), capital, preference, industry, revenue, min_deal, per_revenue)
    assert lead.tolist() == ref
    assert used == sum(p >= 0 for p in ref)
    assert capital.tobytes() == ref_capital.tobytes()


def test_compiled_vc_rounds_leave_investors_firms_and_stream_as_the_python_loop(park, monkeypatch):
    """Finance._vc_deals with the compiled leads equals the Python loop: capital (bits and type), stakes,
    firms' cash and flags, counters and the finance stream."""
    from sim.model import portable

    assert portable.USE_JIT, "this compares the compiled loop, which PARKSIM_NO_JIT switches off"
    state = copy.deepcopy(park)
    state.params = dataclasses.replace(state.params, vc_deals_per_firm_year=3.0)  # enough rounds to compare
    old, new = copy.deepcopy(state), copy.deepcopy(state)
    with monkeypatch.context() as patch:
        patch.setattr(portable, "USE_JIT", False)
        deals_old = old.finance._vc_deals()
    deals_new = new.finance._vc_deals()
    assert deals_old > 10 and deals_new == deals_old

    def investors(m):
        return [(a.unique_id, a.kind, a.capital_myuan, type(a.capital_myuan), a.holdings)
                for a in m.finance.investors()]  # fmt: skip

    assert investors(new) == investors(old)
    assert new.finance.vc_capital() == old.finance.vc_capital()  # Python's sum: the types matter to its bits
    assert not [k for k, v in _state_bytes(old).items() if v != _state_bytes(new)[k]]
    assert dict(new.counters.total) == dict(old.counters.total)
    assert new.streams["finance"].bit_generator.state == old.streams["finance"].bit_generator.state


def _bits(value):
    """A tally value as comparable bits: arrays by their values' bytes, numbers with their Python type."""
    if isinstance(value, np.ndarray):
        return value.astype(np.int64).tobytes()
    if isinstance(value, list):
        return [_bits(v) for v in value]
    return type(value), np.float64(value).tobytes()


@pytest.mark.parametrize("shuffle", [False, True], ids=["as-stepped", "every-board-state-and-flag"])
def test_compiled_tally_gives_the_counts_and_sum_bits_of_the_numpy_masks(park, shuffle):
    """metrics.tally (one compiled pass) equals tally_numpy: every count, and every revenue sum to the bit."""
    from sim.model import markets, metrics, portable
    from sim.model.firms import LISTING_STATES

    assert portable.USE_JIT, "this compares the compiled pass, which PARKSIM_NO_JIT switches off"
    m = copy.deepcopy(park)
    f = m.firms
    rows = metrics.in_park(m)
    if shuffle:  # every listing state, board and flag among the firms, revenues of every scale
        rng = np.random.default_rng(STREAM_SEED)
        f.listing[rows] = rng.integers(0, len(LISTING_STATES), len(rows))
        f.board[rows] = rng.integers(0, len(markets.BOARDS), len(rows))
        for flag in ("israeli", "foreign", "leading", "supported", "vc_backed"):
            getattr(f, flag)[rows] = rng.random(len(rows)) < 0.3
        f.revenue_myuan[rows] = rng.lognormal(0.0, 4.0, len(rows))
        f.zone[rows[::50]] = -1  # no zone: counted in none (the table never has one today; the guard holds)
        # both NEEQ tiers open, profits and months quoted across their tests
        m.month = month_index("2021-06")
        for col in ("profit_y1_myuan", "profit_y2_myuan"):
            getattr(f, col)[rows] = rng.uniform(-10.0, 60.0, len(rows))
        f.quoted_month[rows] = m.month - rng.integers(0, 30, len(rows))
    assert len(rows) > 100
    fast, ref = metrics._tally_compiled(m), metrics.tally_numpy(m)
    assert fast.keys() == ref.keys()
    assert {k: _bits(v) for k, v in fast.items()} == {k: _bits(v) for k, v in ref.items()}
    if shuffle:
        assert (ref["listed_board"][1:] > 0).all() and ref["graphene_neeq"] > 0 and ref["high_pollution"] > 0
        assert ref["neeq_innovation"] > 0 and ref["neeq_select"] > 0
    assert sum(fast["industry"]) == sum(fast["listing"]) == len(rows)
    assert sum(fast["stage"]) == len(f.live()) and 0 < fast["graphene_incl_signed"] < len(f.live())
    assert sum(fast["talent_zone"]) == len(m.talent) and 0 < fast["employed"] < len(m.talent)
    assert sum(fast["zone"]) == int((f.zone[rows] >= 0).sum())


@pytest.mark.parametrize("shuffle", [False, True], ids=["as-stepped", "every-state-and-edge"])
def test_compiled_valuation_gives_the_bits_of_the_numpy_masks(park, shuffle):
    """listing.valuation_myuan (one compiled loop) equals valuation_numpy to the bit, on every row of the table."""
    from sim.model import listing, portable
    from sim.model.firms import LISTED, LISTING_STATES

    assert portable.USE_JIT, "this compares the compiled loop, which PARKSIM_NO_JIT switches off"
    m = copy.deepcopy(park)
    f = m.firms
    rows = np.arange(f.n)
    if shuffle:  # every listing state; revenues of every scale, zero, negative and NaN; no revenue at listing
        rng = np.random.default_rng(STREAM_SEED)
        f.listing[rows] = rng.integers(0, len(LISTING_STATES), f.n)
        f.revenue_myuan[rows] = rng.lognormal(0.0, 4.0, f.n) * rng.choice([1.0, 0.0, -1.0], f.n, p=[0.8, 0.1, 0.1])
        f.revenue_myuan[rows[::37]] = np.nan
        f.listing_revenue_myuan[rows] = np.where(rng.random(f.n) < 0.2, 0.0, rng.lognormal(0.0, 3.0, f.n))
        f.ps_listed[rows] = rng.lognormal(1.0, 0.5, f.n)
    if shuffle:  # the tiny park after MONTHS months has no listed firm yet: the shuffled table has many
        assert (f.listing[rows] == LISTED).sum() > 10 and np.isnan(f.revenue_myuan[rows]).any()
    fast = listing.valuation_myuan(m, rows)
    listing._last_moved = None  # the numpy version's cache must not answer for the compiled one
    ref = listing.valuation_numpy(m, rows)
    assert fast.dtype == ref.dtype and np.array_equal(fast.view(np.uint64), ref.view(np.uint64))
    sub = rows[::3]  # a subset has the bits of the whole (element by element)
    assert np.array_equal(listing.valuation_myuan(m, sub).view(np.uint64), fast[::3].view(np.uint64))


LISTING_MONTHS = {"approval-era": "2017-06", "registration-era": "2024-06"}  # before and after every rule change


@pytest.fixture(scope="module")
def full_park():
    """The baseline park at full size (about 1,000 firms) after MONTHS months: enough IPO candidates for every board."""
    from conftest import SCENARIO_DIR

    from sim.model.scenario import load_scenario

    return _stepped(load_scenario(SCENARIO_DIR / "baseline.toml"))


def _listing_state(park, yyyymm: str):
    """A copy of ``park`` in month ``yyyymm`` whose live firms hold every listing state, with timers running out.

    Profits and revenues are spread across the boards' standards (so every board, none and
    the overseas test are chosen), quoted months across the BSE's year on the NEEQ.
    """
    from sim.model import markets
    from sim.model.firms import IPO_FILED, LISTED, NEEQ, NEEQ_FILED, NONE, REFORMED, REFORMING
    from sim.model.scenario import month_index

    m = copy.deepcopy(park)
    m.month = month_index(yyyymm)
    f, rng = m.firms, np.random.default_rng(STREAM_SEED)
    live = f.live()
    k = len(live)
    f.listing[live] = rng.choice([NONE, REFORMING, REFORMED, NEEQ_FILED, NEEQ, IPO_FILED, LISTED], k)
    f.listing_timer[live] = rng.integers(0, 3, k)
    f.born_month[live] = m.month - rng.integers(0, 120, k)
    f.quoted_month[live] = m.month - rng.integers(0, 24, k)
    f.revenue_myuan[live] = np.exp(rng.uniform(np.log(1.0), np.log(2000.0), k))
    for col in ("profit_y1_myuan", "profit_y2_myuan", "profit_y3_myuan"):
        getattr(f, col)[live] = rng.uniform(-20.0, 120.0, k)
    f.reserve[live] = rng.random(k) < 0.5
    f.vc_backed[live] = rng.random(k) < 0.5
    filed = live[f.listing[live] == IPO_FILED]
    f.pre_ipo_listing[filed] = rng.choice([REFORMED, NEEQ], len(filed))
    f.board[filed] = rng.choice(markets.DOMESTIC + (markets.OVERSEAS,), len(filed))
    f.filed_month[filed] = m.month - rng.integers(1, 30, len(filed))
    return m


def _investor_books(m) -> list:
    """Each investor's capital and holdings (stake and cost per firm), floats by their bits."""
    return [
        (
            inv.unique_id,
            float(inv.capital_myuan).hex(),
            sorted((int(r), [float(x).hex() for x in h]) for r, h in inv.holdings.items()),
        )
        for inv in m.finance.investors()
    ]


@pytest.mark.parametrize("when", list(LISTING_MONTHS), ids=list(LISTING_MONTHS))
def test_compiled_listing_month_gives_the_bits_of_the_numpy_step(full_park, when):
    """listing_step's compiled pass leaves firms, counters, transitions, investors and the stream as the numpy step."""
    from sim.model import listing, markets, portable

    assert portable.USE_JIT, "this compares the compiled pass, which PARKSIM_NO_JIT switches off"
    state = _listing_state(full_park, LISTING_MONTHS[when])
    for rate in ("p_reform_per_year", "p_ipo_file_per_year", "p_overseas_file_per_year", "p_neeq_file_per_year"):
        state.params = dataclasses.replace(state.params, **{rate: 6.0})  # half the candidates take the step
    state.params = dataclasses.replace(state.params, neeq_delist_scale=30.0)  # and some of the quoted firms leave
    old, new = copy.deepcopy(state), copy.deepcopy(state)
    counts_before = dict(old.counters.total)
    listing.listing_step_numpy(old)
    listing.listing_step(new)
    events = {k for k in old.counters.total if old.counters.total[k] != counts_before.get(k, 0.0)}
    # every sub-step moved firms, so every list the pass makes was used
    wanted = {"reserve_firms_new", "share_reforms", "neeq_quotations", "exchange_listings", "ipo_rejections",
              "share_reforms_started", "ipo_filings", "neeq_filings", "neeq_delistings"}  # fmt: skip
    assert wanted <= events, wanted - events
    filed = new.firms.board[new.firms.filed_month == new.month]
    boards = set(filed.tolist())
    assert markets.OVERSEAS in boards and len(boards) >= 3, f"filings on {boards} only: the boards are not tested"
    differ = [k for k, v in _state_bytes(old).items() if v != _state_bytes(new)[k]]
    assert not differ, f"the compiled listing month differs from the numpy step in {differ}"
    assert dict(new.counters.total) == dict(old.counters.total)
    assert new.counters.transitions == old.counters.transitions
    assert _investor_books(new) == _investor_books(old)
    assert new.finance.realised_gain_myuan.hex() == old.finance.realised_gain_myuan.hex()
    assert new.streams["listing"].bit_generator.state == old.streams["listing"].bit_generator.state


@pytest.mark.parametrize("when", list(LISTING_MONTHS), ids=list(LISTING_MONTHS))
def test_compiled_listing_pass_picks_the_boards_eligible_boards_picks(full_park, when):
    """open_month's board and overseas test of each IPO candidate are markets.eligible_boards' masks."""
    from sim.model import _jit_listing as jit
    from sim.model import listing, markets
    from sim.model.firms import NEEQ, REFORMED, is_one_of

    m = _listing_state(full_park, LISTING_MONTHS[when])
    f = m.firms
    live = f.live()
    timer_done = np.maximum(f.listing_timer[live] - 1, 0) == 0
    age = m.month - f.born_month[live]
    can = live[is_one_of(f.listing[live], (REFORMED, NEEQ)) & (age >= m.params.ipo_min_age_months) & timer_done]
    eligible = markets.eligible_boards(m.params, m.month, listing.board_columns(m, can))
    rules, switches = markets.eligible_rules(m.params, m.month)
    from sim.model import firms as codes

    out = jit.open_month(
        f.n, f.alive, f.listing, f.listing_timer.copy(), f.reserve.copy(), f.stage, f.industry, f.revenue_myuan,
        f.profit_y1_myuan, f.profit_y2_myuan, f.profit_y3_myuan, f.born_month, f.quoted_month, m.month,
        tuple(getattr(codes, name) for name in jit.CODES), tuple(float(getattr(m.params, n)) for n in jit.GATES),
        rules, switches, tuple(getattr(markets, name) for name in jit.BOARD_CODES), listing._PREFERENCE,
        markets.IS_RD_INDUSTRY, markets.STAR_EXCLUDED_INDUSTRY, markets.HEALTH_INDUSTRY, markets.BSE_MIN_QUOTED_MONTHS,
    )  # fmt: skip
    can_ipo, board, overseas = out[5], out[6], out[7]
    assert can_ipo.tolist() == can.tolist()
    assert board.tolist() == markets.choose_domestic(eligible).tolist()
    assert overseas.tolist() == eligible[markets.OVERSEAS].tolist()
    assert len(set(board.tolist())) >= 3 and overseas.any() and not overseas.all(), "too few boards to test"


@pytest.mark.parametrize("strength", [None, 1.5], ids=["declared-screening", "strong-screening"])
def test_compiled_deal_hazards_choose_the_firms_the_numpy_masks_choose(full_park, strength):
    """Finance._deal_firms' compiled masks pick the rows _deal_firms_numpy picks and leave the stream where it does."""
    from sim.model import portable
    from sim.model.firms import GROWING, NEEQ, OPERATING, REGISTERED

    assert portable.USE_JIT, "this compares the compiled loops, which PARKSIM_NO_JIT switches off"
    m = copy.deepcopy(full_park)
    f = m.firms
    live = f.live()
    f.listing[live[::7]] = NEEQ  # some firms quoted: they take no round
    # a hazard near one, so that about half the candidates are chosen and the comparison has both sides
    m.params = dataclasses.replace(m.params, vc_deals_per_firm_year=6.0)
    if strength is not None:
        m.params = dataclasses.replace(m.params, vc_screen_strength=strength)
    old, new = copy.deepcopy(m), copy.deepcopy(m)
    ref, fast = old.finance._deal_firms_numpy(), new.finance._deal_firms()
    candidates = live[np.isin(f.stage[live], (REGISTERED, OPERATING, GROWING)) & (f.listing[live] < NEEQ)]
    assert 0.1 * len(candidates) < len(ref) < 0.9 * len(candidates)
    assert fast.tolist() == ref.tolist()
    assert new.streams["finance"].bit_generator.state == old.streams["finance"].bit_generator.state


def test_investor_roster_follows_mesas_registry(tiny):
    """Finance.investors (remembered between calls) shows an investor who joins and drops one Mesa removes."""
    from sim.model.finance import Investor

    m = ParkModel(tiny, seed=3)
    fin = m.finance
    before = fin.investors("vc", "angel")
    assert before == [a for a in m.agents_by_type[Investor] if a.kind in ("vc", "angel")]
    joined = fin.add_investor("vc", 10.0)
    assert fin.investors("vc", "angel") == [*before, joined]
    fin.investors("vc", "angel").clear()  # a caller's list is its own copy
    assert joined in fin.investors("vc", "angel")
    before[0].remove()
    assert fin.investors("vc", "angel") == [*before[1:], joined]
    assert fin.investors() == list(m.agents_by_type[Investor])


@pytest.mark.parametrize(
    "stages",
    [(0,), (1,), (1, 2, 3, 4), (2, 3), (5,), ()],
    ids=["signed", "registered", "in-business", "op-grow", "gone", "none"],
)
def test_compiled_stage_rows_are_the_numpy_rows(full_park, stages):
    """FirmTable.in_stage (one compiled pass) gives the rows, in order and of the dtype, that in_stage_numpy gives."""
    f = full_park.firms
    fast, ref = f.in_stage(*stages), f.in_stage_numpy(*stages)
    assert fast.dtype == ref.dtype and fast.tolist() == ref.tolist()
    if stages and stages != (5,):  # live firms in these stages exist; gone firms are never alive
        assert len(ref) > 0


def test_compiled_release_frees_the_staff_the_numpy_table_frees(full_park):
    """TalentPool.release (one compiled pass) leaves employers as release_numpy does, and touches no one else."""
    m = copy.deepcopy(full_park)
    employer = m.talent.employer
    firms = np.unique(employer[employer >= 0])
    gone = np.sort(np.random.default_rng(STREAM_SEED).choice(firms, len(firms) // 3, replace=False))
    gone = np.append(gone, m.firms.n + 5)  # a row past every employer: nothing to free there
    old, new = employer.copy(), employer.copy()
    m.talent.employer = old
    m.talent.release_numpy(gone)
    m.talent.employer = new
    m.talent.release(gone)
    assert new.tobytes() == old.tobytes()
    assert ((new == -1) != (employer == -1)).sum() == np.isin(employer, gone).sum() > 0


def test_compiled_project_counts_add_what_the_numpy_masks_add(full_park):
    """arrivals.count_projects (one compiled pass) adds to every counter what count_projects_numpy adds."""
    from sim.model import arrivals

    rows = full_park.firms.live()
    rows = rows[:: max(len(rows) // 200, 1)]  # a few hundred firms of every industry and flag
    for event in ("signed", "registered"):
        old, new = copy.deepcopy(full_park), copy.deepcopy(full_park)
        before = dict(old.counters.total)
        arrivals.count_projects_numpy(old, rows, event)
        arrivals.count_projects(new, rows, event)
        assert dict(new.counters.total) == dict(old.counters.total)
        added = {k: v - before.get(k, 0.0) for k, v in old.counters.total.items() if v != before.get(k, 0.0)}
        assert len(added) >= 8 and added[f"projects_{event}"] == len(rows), added


@pytest.mark.parametrize("elasticity", [None, 0.0, -0.4], ids=["declared", "zero", "negative"])
def test_compiled_cluster_factor_gives_the_bits_of_the_numpy_power(full_park, elasticity):
    """ParkModel.cluster_factor (one compiled pass) equals cluster_factor_numpy to the bit, with an empty industry."""
    m = copy.deepcopy(full_park)
    if elasticity is not None:
        m.params = dataclasses.replace(m.params, cluster_lead_elasticity=elasticity)
    f = m.firms
    f.alive[: f.n][f.industry[: f.n] == 3] = False  # no live culture firm: the max(n, 1) floor is used
    fast, ref = m.cluster_factor(), m.cluster_factor_numpy()
    assert fast.dtype == ref.dtype and fast.tobytes() == ref.tobytes()
    assert len(set(ref.tolist())) == (1 if elasticity == 0.0 else len(ref))


@pytest.mark.parametrize("levers", ["status-quo", "israeli-and-key-leads"])
def test_compiled_leads_are_the_numpy_leads(full_park, levers):
    """arrivals.draw_leads (compiled columns around numpy's draws) gives draw_leads_numpy's leads, bit for bit."""
    from sim.model import arrivals

    m = copy.deepcopy(full_park)
    if levers != "status-quo":  # Israeli leads and key-project leads: every branch of the columns
        m.effects.israeli_leads_per_month = 30.0
        m.effects.key_focus_share = 1.0
    old, new = copy.deepcopy(m), copy.deepcopy(m)
    ref, fast = arrivals.draw_leads_numpy(old), arrivals.draw_leads(new)
    assert ref.keys() == fast.keys()
    for key in ref:
        assert fast[key].dtype == ref[key].dtype and fast[key].tobytes() == ref[key].tobytes(), key
    assert new.streams["arrivals"].bit_generator.state == old.streams["arrivals"].bit_generator.state
    assert len(ref["industry"]) > 20 and ref["foreign"].any()
    if levers != "status-quo":
        assert ref["israeli"].sum() > 5 and (ref["investment"] > m.params.key_investment_median_myuan / 10).any()


def test_compiled_zone_sums_give_the_bits_of_the_numpy_bincounts(full_park):
    """Zones.zone_sums (one compiled pass) gives floor, load, people and revenue per zone as zone_sums_numpy does."""
    from sim.model.zones import Zones

    m = copy.deepcopy(full_park)
    f = m.firms
    live = f.live()
    f.zone[live[0]] = -1  # a live firm off the map (a lead not yet placed) counts in no zone
    f.alive[live[1]] = False  # a firm gone keeps its zone but counts nowhere
    fast = Zones.zone_sums(f, m.params.talent_people_per_agent)
    ref = Zones.zone_sums_numpy(f, m.params.talent_people_per_agent)
    for a, b in zip(fast, ref, strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert all((b > 0).all() for b in ref)  # every zone holds floor, load, people and revenue in this park
    f.zone[live[0]], f.alive[live[1]] = 0, True
    moved = Zones.zone_sums_numpy(f, m.params.talent_people_per_agent)[0]
    assert moved.sum() > ref[0].sum()  # the two firms put back add floor: the test sees them


def test_compiled_take_floor_serves_the_firms_the_python_loop_serves(full_park):
    """lifecycle._take_floor (one compiled loop) serves, floors and fills zones as _take_floor_python does."""
    from sim.model import lifecycle

    m = copy.deepcopy(full_park)
    rows = m.firms.live()[:90]
    need = m.params.min_floor_m2
    m.zones.capacity_m2 = m.zones.occupied_m2 + need * np.array([3.5, 10.0, 0.0])  # room for some, in one zone none
    old, new = copy.deepcopy(m), copy.deepcopy(m)
    ref = lifecycle._take_floor_python(old, rows, need)
    fast = lifecycle._take_floor(new, rows, need)
    assert fast.dtype == ref.dtype and fast.tolist() == ref.tolist()
    assert new.firms.floor_m2.tobytes() == old.firms.floor_m2.tobytes()
    assert new.zones.occupied_m2.tobytes() == old.zones.occupied_m2.tobytes()
    by_zone = np.bincount(m.firms.zone[ref], minlength=3).tolist()
    assert by_zone[0] == 3 and by_zone[2] == 0 and 0 < len(ref) < len(rows)  # the room ran out where it was short


@pytest.mark.parametrize("months", [24.0, 6.5, 0.0], ids=["two-years", "six-and-a-half-months", "none-paid"])
def test_compiled_paid_subsidy_is_the_numpy_masks_sum_to_the_bit(full_park, months):
    """costs.paid_subsidy (one compiled pass) gives paid_subsidy_numpy's sum, bit for bit, whoever is paid."""
    from sim.model import costs

    m = copy.deepcopy(full_park)
    t, rng = m.talent, np.random.default_rng(STREAM_SEED)
    n = len(t)
    t.subsidy_kyuan = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.5, 3.0, n))  # some rows were never paid
    t.arrived_month = (m.month - rng.integers(0, 40, n)).astype(t.arrived_month.dtype)
    m.policy_start_month = m.month - 20  # some arrived before the scenario's levers
    m.params = dataclasses.replace(m.params, talent_subsidy_months=months)
    fast, ref = costs.paid_subsidy(m), costs.paid_subsidy_numpy(m)
    assert fast.hex() == ref.hex()
    window = m.month - t.arrived_month < months
    if months:  # hundreds of rows paid (a sum past numpy's 128-term blocks), and each test excludes some rows
        paid = window & (t.subsidy_kyuan > 0) & (t.arrived_month >= m.policy_start_month)
        assert paid.sum() > 200 and ref > 0
        assert (~window).any() and (window & (t.subsidy_kyuan == 0)).any()
        assert (window & (t.arrived_month < m.policy_start_month)).any() == (months > 20)
    else:
        assert not window.any() and ref == 0.0
