"""Invariants checked after every monthly step of whole runs (STYLE.md test layer 1).

A few runs (tiny.toml and some policy scenarios at tiny scale, plus a park with
no new land so that capacity binds) are stepped once; after each month every
check below inspects the model's state and records what it finds. Each check
then gets its own test, so a failure names the invariant, the run and the month.
The checks themselves are tested against deliberately broken states at the end
of the file, so that a check that could never fire is caught.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import on_tiny

from sim.model import markets, targets
from sim.model.firms import GONE, IPO_FILED, LISTED, NEEQ, Enterprise
from sim.model.listing import ALLOWED
from sim.model.metrics import IN_PARK
from sim.model.park import ParkModel

CAPACITY_TOL_M2 = 1e-6  # floor space is summed in floating point; 1e-6 m2 is far below any real overfill
MONEY_TOL_REL = 1e-9  # the ledger adds a few thousand terms of ~1e3 m yuan: rounding stays near 1e-12 relative


# ------------------------------------------------------------------ the checks
def check_capacity(m, prev) -> list[str]:
    """Occupied floor of each zone (as stored and as recounted from the firms) <= capacity."""
    z, f = m.zones, m.firms
    live = f.live()
    recount = np.bincount(f.zone[live], weights=f.floor_m2[live], minlength=3)
    out = []
    for label, occ in (("stored", z.occupied_m2), ("recounted", recount)):
        over = occ - z.capacity_m2
        if np.any(over > CAPACITY_TOL_M2):
            out.append(f"{label} occupied {occ.round(1)} exceeds capacity {z.capacity_m2.round(1)}")
    return out


def check_non_negative(m, prev) -> list[str]:
    """Counts, stocks and money amounts of firms, talent and the monthly record are never negative."""
    f, n = m.firms, m.firms.n
    out = [f"reporter {k} = {v}" for k, v in m.records[-1].items() if k != "date" and not v >= 0]
    for col in ("revenue_myuan", "floor_m2", "talent_agents", "loan_myuan", "investment_myuan"):
        values = f.view(col)
        if np.any(values < 0):
            out.append(f"firm column {col} has negative values {values[values < 0][:3]}")
    if np.any(m.zones.capacity_m2 < 0) or np.any(m.zones.occupied_m2 < -CAPACITY_TOL_M2):
        out.append("negative zone capacity or occupancy")
    if n and np.any(f.listing_timer[:n] < 0):
        out.append("negative listing timer")
    return out


def check_one_zone(m, prev) -> list[str]:
    """Every live firm is in exactly one zone (0..2); gone firms are out: not alive, stage gone, no floor."""
    f, n = m.firms, m.firms.n
    live = f.live()
    dead = np.flatnonzero(~f.alive[:n])
    out = []
    bad_zone = live[(f.zone[live] < 0) | (f.zone[live] > 2)]
    if len(bad_zone):
        out.append(f"live firms {bad_zone[:5]} have zone {f.zone[bad_zone[:5]]}")
    if np.any(f.stage[live] == GONE):
        out.append("a live firm has stage 'gone'")
    if np.any(f.stage[dead] != GONE):
        out.append("a gone firm is not in stage 'gone'")
    if np.any(f.floor_m2[dead] != 0.0):
        out.append(f"gone firms {dead[f.floor_m2[dead] != 0][:5]} still hold floor space")
    return out


def check_talent_employers(m, prev) -> list[str]:
    """Talent employer is a live firm or -1, and each firm's talent_agents equals its staff in the pool."""
    f, t = m.firms, m.talent
    out = []
    emp = t.employer
    bad = emp[(emp < -1) | ((emp >= 0) & ~np.isin(emp, f.live()))]
    if len(bad):
        out.append(f"talent employed by missing or gone firms {np.unique(bad)[:5]}")
        return out
    staff = np.bincount(emp[emp >= 0], minlength=f.n)[: f.n]
    differs = np.flatnonzero(staff != f.view("talent_agents"))
    if len(differs):
        r = differs[0]
        out.append(
            f"{len(differs)} firms' talent_agents differ from the pool, e.g. row {r}: {f.talent_agents[r]}/{staff[r]}"
        )
    return out


def check_listing_moves(m, prev) -> list[str]:
    """Listing states change only along sim.model.listing.ALLOWED from one month to the next."""
    old = prev["listing"]
    new = m.firms.view("listing")[: len(old)]
    moved = np.flatnonzero(old != new)
    bad = sorted({(int(old[r]), int(new[r])) for r in moved} - ALLOWED)
    return [f"illegal listing moves (from, to): {bad}"] if bad else []


def check_transition_log(m, prev) -> list[str]:
    """Every transition the listing process logged in model.counters.transitions is allowed."""
    bad = sorted(m.counters.transitions - ALLOWED)
    return [f"logged transitions outside ALLOWED: {bad}"] if bad else []


def check_boards(m, prev) -> list[str]:
    """A firm is on at most one board: a board iff ipo_filed or listed; a listed firm keeps its board and value."""
    f = m.firms
    board, state = f.view("board"), f.view("listing")
    out = []
    if np.any((board < 0) | (board >= len(markets.BOARDS))):
        out.append(f"board codes outside markets.BOARDS: {np.unique(board)}")
    on_board = np.isin(state, (IPO_FILED, LISTED))
    wrong = np.flatnonzero(on_board != (board != markets.NO_BOARD))
    if len(wrong):
        r = wrong[0]
        out.append(f"{len(wrong)} firms' board disagrees with their state, e.g. row {r}: {state[r]}/{board[r]}")
    if np.any(f.view("ps_listed")[state == LISTED] <= 0):
        out.append("a listed firm has no market value")
    k = len(prev["board"])
    stayed = np.flatnonzero((prev["listing"] == LISTED) & (state[:k] == LISTED))
    if np.any(prev["board"][stayed] != board[stayed]):
        out.append("a listed firm changed board")
    return out


def check_listed_stocks(m, prev) -> list[str]:
    """The listed stocks count listed firms only (delisted firms leave them), and the boards add up."""
    rec, f = m.records[-1], m.firms
    rows = f.in_stage(*IN_PARK)
    listed, quoted = int((f.listing[rows] == LISTED).sum()), int((f.listing[rows] == NEEQ).sum())
    by_board = sum(rec[f"listed_{b}"] for b in markets.BOARDS[1:])
    out = []
    if rec["listed_exchange"] != listed or by_board != listed:
        out.append(f"listed_exchange {rec['listed_exchange']}, boards sum {by_board}, listed firms {listed}")
    if rec["listed_exchange_neeq"] != listed + quoted:
        out.append(f"listed_exchange_neeq {rec['listed_exchange_neeq']} != {listed} listed + {quoted} quoted")
    if rec["listed_domestic"] + rec["listed_overseas"] != listed:
        out.append("domestic + overseas listed != listed")
    return out


def check_money(m, prev) -> list[str]:
    """Money conservation of the finance ledger: balance_error() ~ 0."""
    err = m.finance.balance_error()
    scale = max(1.0, m.finance.injected_myuan)
    return [f"balance error {err:.3g} m yuan (injected {scale:.1f})"] if abs(err) > MONEY_TOL_REL * scale else []


def check_mesa_agents(m, prev) -> list[str]:
    """Mesa's Enterprise agents are exactly the live firm rows."""
    agents = m.agents_by_type.get(Enterprise, [])
    rows = sorted(a.row for a in agents)
    live = m.firms.live().tolist()
    if rows != live:
        return [f"{len(rows)} Enterprise agents vs {len(live)} live firms"]
    return []


def check_exits_and_leads(m, prev) -> list[str]:
    """Counters are never negative; every gone firm is counted once (closed, relocated out or abandoned)
    and holds no floor in any zone; leads split into EIA categories and none is both signed and lost."""
    t, f = m.counters.total, m.firms
    out = [f"counter {k} = {v}" for k, v in t.items() if v < 0]
    gone = int((~f.alive[: f.n]).sum())
    left = t["closed"] + t["relocated_out"] + t["abandoned"]
    if gone != left:
        out.append(f"{gone} gone firms but closed + relocated_out + abandoned = {left}")
    dead = np.flatnonzero(~f.alive[: f.n])
    held = np.bincount(f.zone[dead], weights=f.floor_m2[dead], minlength=3)
    if np.any(held != 0):
        out.append(f"gone firms still hold floor {held} in the zones")
    if t["leads_heavy"] + t["leads_light"] + t["leads_clean"] != t["leads"]:
        out.append("leads by EIA category do not add up to all leads")
    placed = t["leads"] - t["leads_refused_eco"] - t["leads_lost_outside"] - t["leads_lost_no_land"]
    if t["projects_signed"] > placed:
        out.append(f"{t['projects_signed']} signed but only {placed} leads were neither refused nor lost")
    if t["heavy_projects_signed"] + t["light_projects_signed"] + t["clean_projects_signed"] != t["projects_signed"]:
        out.append("signed projects by EIA category do not add up")
    return out


CHECKS = {
    "exits_and_leads": check_exits_and_leads,
    "capacity": check_capacity,
    "non_negative": check_non_negative,
    "one_zone_or_gone": check_one_zone,
    "talent_employers": check_talent_employers,
    "listing_moves": check_listing_moves,
    "boards": check_boards,
    "listed_stocks": check_listed_stocks,
    "transition_log": check_transition_log,
    "money": check_money,
    "mesa_agents": check_mesa_agents,
}


def snapshot(m) -> dict:
    """What a check needs from the previous month."""
    return {"listing": m.firms.view("listing").copy(), "board": m.firms.view("board").copy()}


def walk(scenario, seed: int) -> tuple[dict[str, list[str]], ParkModel]:
    """Step a model to the end, running every check after every month; return findings and the model."""
    m = ParkModel(scenario, seed=seed)
    found: dict[str, list[str]] = {name: [] for name in CHECKS}
    prev = snapshot(m)
    while m.running:
        m.step()
        for name, check in CHECKS.items():
            found[name] += [f"{m.date}: {msg}" for msg in check(m, prev)]
        prev = snapshot(m)
    return found, m


def run_cases(tiny):
    """The runs the invariants are checked on (scenario, seed)."""
    no_land = tiny.with_values(
        name="tiny_no_land", land_north_m2_per_year=0.0, land_central_m2_per_year=0.0, land_south_m2_per_year=0.0
    )
    return [
        (tiny, 0),
        (tiny, 1),
        (on_tiny("full_package", tiny), 0),
        (on_tiny("eco_threshold", tiny), 2),
        (on_tiny("listing_support", tiny), 3),
        (no_land, 4),
        (tiny.with_values(name="tiny_dear", rent_index=2.5), 5),  # many leads and firms lost to the outside
    ]


@pytest.fixture(scope="module")
def walked(tiny):
    """Every run of run_cases, stepped once, with the checks' findings."""
    return [(sc, seed, *walk(sc, seed)) for sc, seed in run_cases(tiny)]


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_invariant_holds_every_month(walked, check):
    problems = [f"{sc.name} seed {seed} {msg}" for sc, seed, found, _ in walked for msg in found[check]]
    assert not problems, f"invariant '{check}' ({CHECKS[check].__doc__}) broken:\n" + "\n".join(problems[:10])


def test_runs_exercise_what_the_invariants_guard(walked):
    """The runs are not vacuous: land binds in the no-land park, listings move, money moves."""
    by_name = {sc.name: m for sc, _, _, m in walked}
    no_land = by_name["tiny_no_land"]
    assert no_land.counters.total["leads_lost_no_land"] > 0 or no_land.zones.occupancy.max() > 0.99, (
        "the no-land run was meant to fill a zone to capacity"
    )
    dear = by_name["tiny_dear"].counters.total
    assert dear["leads_lost_outside"] > 0 and dear["relocated_out"] > 0, (
        "the dear-rent run was meant to lose leads and firms to the outside option"
    )
    logged = set().union(*(m.counters.transitions for m in by_name.values()))
    assert len(logged) >= 6, f"expected most listing transitions to occur in these runs, saw {sorted(logged)}"
    assert all(m.counters.total["vc_deals"] > 0 and m.counters.total["loans"] > 0 for m in by_name.values()), (
        "every run should see VC deals and loans, so that the money ledger is exercised"
    )


def test_cumulative_counts_never_decrease_and_yearly_counts_are_non_negative(walked):
    for sc, seed, _, m in walked:
        monthly = pd.DataFrame.from_records(m.records).set_index("date")
        cum = monthly[[c for c in monthly.columns if c.endswith("_cum")]]
        drops = (cum.diff().iloc[1:] < 0).any()
        assert not drops.any(), f"{sc.name} seed {seed}: cumulative counters decreased: {list(drops[drops].index)}"
        values = targets.evaluate(monthly, sc.start, sc.values)
        negative = {k: v for k, v in values.items() if v < 0}
        assert not negative, f"{sc.name} seed {seed}: negative target measures {negative}"
        ends = targets.YearEnds(monthly)
        for target in (t for t in targets.TARGETS if t.how != "stock"):  # stocks are reporters, checked above
            for definition, column in target.columns.items():
                for year in range(int(sc.start[:4]), target.year + 1):
                    flow = targets.year_flow(ends, column, year, sc.start, 0.0)
                    assert not flow < 0, f"{sc.name} seed {seed}: {target.name}__{definition} has {flow} in {year}"


# ------------------------------------------------------------------ the checks can fail
@pytest.fixture
def stepped(tiny):
    """A tiny model after three months, to be broken on purpose."""
    m = ParkModel(tiny, seed=11)
    for _ in range(3):
        m.step()
    return m


def _findings(name, m, prev=None):
    return CHECKS[name](m, prev if prev is not None else snapshot(m))


def test_checks_pass_on_an_intact_model(stepped):
    assert {name: _findings(name, stepped) for name in CHECKS} == {name: [] for name in CHECKS}


def test_capacity_check_catches_overfill(stepped):
    row = stepped.firms.live()[0]
    stepped.firms.floor_m2[row] += stepped.zones.capacity_m2.max()
    assert _findings("capacity", stepped)


def test_zone_check_catches_homeless_and_half_gone_firms(stepped):
    f = stepped.firms
    live = f.live()
    f.zone[live[0]] = -1
    f.alive[live[1]] = False  # gone without the rest of the removal
    assert len(_findings("one_zone_or_gone", stepped)) >= 2


def test_talent_check_catches_stale_employer(stepped):
    gone = np.flatnonzero(~stepped.firms.view("alive"))
    assert len(gone), "three months of tiny should see some firm leave"
    stepped.talent.employer[0] = gone[0]
    assert _findings("talent_employers", stepped)


def test_talent_check_catches_stale_counts(stepped):
    row = stepped.firms.live()[0]
    stepped.firms.talent_agents[row] += 1
    assert _findings("talent_employers", stepped)


def test_listing_check_catches_a_backward_move(stepped):
    from sim.model.firms import LISTED, NONE

    prev = snapshot(stepped)
    row = stepped.firms.live()[0]
    prev["listing"][row] = LISTED
    stepped.firms.listing[row] = NONE
    assert _findings("listing_moves", stepped, prev)
    stepped.counters.transitions.add((LISTED, NONE))
    assert _findings("transition_log", stepped)


def test_board_checks_catch_a_board_without_a_filing_and_a_board_change(stepped):
    f = stepped.firms
    prev = snapshot(stepped)
    row = f.live()[0]
    f.board[row] = markets.STAR if f.listing[row] not in (IPO_FILED, LISTED) else markets.NO_BOARD
    assert _findings("boards", stepped, prev)
    f.listing[row], f.board[row], f.ps_listed[row] = LISTED, markets.MAIN, 1.0
    prev = snapshot(stepped)
    f.board[row] = markets.CHINEXT
    assert any("changed board" in msg for msg in _findings("boards", stepped, prev))


def test_listed_stock_check_catches_a_delisted_firm_still_counted(stepped):
    stepped.records[-1] = {**stepped.records[-1], "listed_exchange": stepped.records[-1]["listed_exchange"] + 1}
    assert _findings("listed_stocks", stepped)


def test_money_check_catches_a_leak(stepped):
    stepped.finance.investors("vc", "angel")[0].capital_myuan += 1.0
    assert _findings("money", stepped)


def test_agent_check_catches_a_missing_agent(stepped):
    row = int(stepped.firms.live()[0])
    stepped.agent_of_row.pop(row).remove()
    assert _findings("mesa_agents", stepped)


def test_exit_check_catches_an_uncounted_departure_and_a_negative_counter(stepped):
    row = stepped.firms.live()[0]
    stepped.firms.alive[row] = False  # gone without being counted
    assert _findings("exits_and_leads", stepped)
    stepped.firms.alive[row] = True
    stepped.counters.total["leads_lost_outside"] = -1.0
    assert _findings("exits_and_leads", stepped)


def test_non_negative_check_catches_negative_revenue(stepped):
    stepped.firms.revenue_myuan[stepped.firms.live()[0]] = -1.0
    assert _findings("non_negative", stepped)


# ------------------------------------------------------------ the typed context
def test_params_has_exactly_the_declared_inputs_with_their_types():
    from sim.model.context import Params
    from sim.model.params import PARAMS

    fields = {f.name: f.type for f in dataclasses.fields(Params)}
    assert set(fields) == set(PARAMS), (
        f"every declared input is a Params attribute and no attribute is undeclared: "
        f"undeclared {set(fields) - set(PARAMS)}, missing {set(PARAMS) - set(fields)}"
    )
    wrong = {k: t for k, t in fields.items() if t != ("int" if PARAMS[k].integer else "float")}
    assert not wrong, f"whole-number inputs are int, the rest float: {wrong}"


def test_declaration_check_fires_on_a_drift(monkeypatch):
    import sim.model.context
    from sim.model.params import PARAMS

    fewer = {k: v for k, v in PARAMS.items() if k != "p_start_per_month"}
    monkeypatch.setattr(sim.model.context, "PARAMS", fewer)
    with pytest.raises(TypeError, match="undeclared.*p_start_per_month"):
        sim.model.context.check_declarations()
    retyped = {**PARAMS, "reform_months": dataclasses.replace(PARAMS["reform_months"], integer=False)}
    monkeypatch.setattr(sim.model.context, "PARAMS", retyped)
    with pytest.raises(TypeError, match="reform_months"):
        sim.model.context.check_declarations()


def test_params_refuses_missing_and_unknown_inputs():
    from sim.model.context import Params
    from sim.model.params import defaults

    values = defaults()
    assert Params.from_values(values).p_start_per_month == values["p_start_per_month"]
    with pytest.raises(ValueError, match="unknown"):
        Params.from_values({**values, "p_stat_per_month": 0.1})
    del values["p_start_per_month"]
    with pytest.raises(ValueError, match="missing"):
        Params.from_values(values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Params.from_values(defaults()).p_start_per_month = 0.5


def test_park_model_provides_every_member_of_the_context(stepped):
    from sim.model.context import ModelContext

    members = set(ModelContext.__annotations__) | {
        k for k, v in vars(ModelContext).items() if callable(v) and not k.startswith("_")
    }
    missing = sorted(k for k in members if not hasattr(stepped, k))
    assert not missing, f"ParkModel implements sim.model.context.ModelContext; it lacks {missing}"
    assert stepped.in_park_rows is None, "the in-park cache is cleared when a month's recording ends"
