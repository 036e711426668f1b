"""ParkModel: builds the park from a scenario and orders the monthly step.

Everything the step does lives in its own module; this file only creates the
state, wires the random streams and calls the processes in a fixed order. The
model is array-based: agents are rows of struct-of-arrays tables, and each
process is one vectorised function over all agents of a kind, taking the model
as a :class:`~sim.model.context.ModelContext` (docs/ODD.md 2.7 maps each behaviour
to its function):

1. policies (each active policy's hook writes this month's :class:`~sim.model.policies.Effects`),
   then the one-enterprise-one-policy pick they ask for            (sim.model.lifecycle)
2. arrivals: leads, eco screening, signing, zone choice      (sim.model.arrivals)
3. conversion: signed -> registered -> operating             (sim.model.lifecycle)
4. talent market: leave, arrive, move, hire                  (sim.model.talent)
5. finance: VC deals, supermarket loans, cluster growth      (sim.model.finance)
6. growth of revenue, staff and floor space                  (sim.model.lifecycle)
7. listing pipeline                                          (sim.model.listing)
8. leading-enterprise status                                 (sim.model.lifecycle)
9. exits, relocations out and between zones                  (sim.model.lifecycle)
10. zone update: land, rent, eco quality, wages              (sim.model.zones)
11. recording                                                (sim.model.metrics)
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.model import arrivals, lifecycle, listing, metrics, portable
from sim.model.context import Params
from sim.model.finance import Finance
from sim.model.firms import GONE, LISTED, NEEQ, REFORMED, Enterprise, FirmTable
from sim.model.initial import build_initial_state
from sim.model.params import INDUSTRIES, ZONES, defaults
from sim.model.policies import Effects, build_policies
from sim.model.scenario import Scenario, month_index, month_label
from sim.model.talent import TalentPool
from sim.model.zones import Zones

# Named random streams, one per process, so that switching a policy on does not
# reshuffle unrelated draws. The order is part of the reproducibility contract:
# append new names at the end only.
STREAMS = ("init", "arrivals", "screening", "location", "conversion", "talent", "finance", "growth", "listing", "exits")
# Spawn-key suffixes that derive Mesa's own generator and the named streams from a run's seed
# [definition: part of the reproducibility contract, changing them reshuffles every draw].
MESA_RNG_SPAWN_KEY, STREAMS_SPAWN_KEY = 6, 7
# Rows the firm table holds before it first grows [definition: storage size, not behaviour].
FIRM_TABLE_CAPACITY = 2048


def spawn_streams(seed: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Independent generators for each named process, derived from ``seed``."""
    children = seed.spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}


class ParkModel(mesa.Model):
    """The West Taihu park under one scenario.

    Args:
        scenario: a validated :class:`~sim.model.scenario.Scenario`.
        seed: an int or a ``numpy.random.SeedSequence`` (a batch passes the
            spawned child of its root seed).
        **values: input overrides, checked like scenario values.
    """

    def __init__(self, scenario: Scenario | None = None, *, seed=0, **values):
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        super().__init__(
            rng=np.random.default_rng(
                np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, MESA_RNG_SPAWN_KEY))
            )
        )
        if scenario is None:
            from sim.model.scenario import default_scenario

            scenario = default_scenario()
        if values:
            scenario = scenario.with_values(**values)
        self.park_scenario = scenario
        self.seed_sequence = seq
        # One park (docs/ODD.md 3, 5): the state is built once, at history_start, and
        # the months before the scenario's start run under the status quo; step()
        # switches to the scenario's own levers and policies at its start.
        opening = scenario.warmup() if scenario.forks else scenario
        self.params = _params_of(opening)
        self.streams = spawn_streams(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, STREAMS_SPAWN_KEY)))
        self.start_month = month_index(scenario.first_month)  # first simulated (and recorded) month
        self.policy_start_month = month_index(scenario.start)  # first month under the scenario's levers
        self.end_month = month_index(scenario.end)
        self.month = self.start_month - 1  # advanced at the top of step()
        self.counters = metrics.Counters()
        self.firms = FirmTable(capacity=FIRM_TABLE_CAPACITY)
        self.agent_of_row: dict[int, Enterprise] = {}
        self.talent = TalentPool(self.params.talent_people_per_agent)
        self.finance = Finance(self)
        self.zones = Zones(np.zeros(len(ZONES)), params=self.params)
        self.policies = build_policies(opening)
        self.effects = Effects()
        self.records: list[dict] = []
        self.in_park_rows: np.ndarray | None = None  # recording-time cache, see sim.model.context.ModelContext
        self.record_memo: dict | None = None  # recording-time memo, the same rule
        self.agent_steps = 0  # firms + talent agents + investors stepped, for benchmarks
        build_initial_state(self)
        p = self.params
        self._cluster_reference = p.population_scale * np.array(  # in INDUSTRIES order
            [
                p.cluster_ref_graphene_firms,
                p.cluster_ref_health_firms,
                p.cluster_ref_internet_firms,
                p.cluster_ref_culture_firms,
                p.cluster_ref_other_tech_firms,
            ],
            dtype=float,
        )

    # ------------------------------------------------------------ helpers used by processes
    def add_firms(self, count: int, **columns) -> np.ndarray:
        """Create ``count`` firms (table rows plus Mesa agents)."""
        rows = self.firms.add(count, **columns)
        for r in rows:
            self.agent_of_row[int(r)] = Enterprise(self, int(r))
        return rows

    def remove_firms(self, rows: np.ndarray, reason: str) -> None:
        """Firms leave the park (closed, relocated out or abandoned before landing)."""
        if len(rows) == 0:
            return
        f = self.firms
        f.alive[rows] = False
        f.stage[rows] = GONE
        f.gone_month[rows] = self.month
        f.closed[rows] = reason == "closed"
        f.floor_m2[rows] = 0.0
        self.talent.release(rows)
        self.finance.on_firms_gone(rows)
        for r in rows:
            self.agent_of_row.pop(int(r)).remove()
        self.counters.add(reason, len(rows))

    def location_betas(self) -> tuple[float, float, float, float]:
        """Utility weights of the firm location logit."""
        p = self.params
        return p.zone_beta_affinity, p.zone_beta_cluster, p.zone_beta_services, p.zone_beta_rent

    def cluster_factor(self) -> np.ndarray:
        """Lead-rate multiplier per industry from the size of its cluster in the park.

        ``(max(n_i, 1) / (scale * ref_i)) ** cluster_lead_elasticity`` on absolute
        counts: ``ref_i`` is the declared reference count (the 2014 park), so the
        same park state gives the same multiplier whatever month a run started in.
        """
        if portable.USE_JIT:  # one compiled pass, the same operations (sim.model._jit_zones.cluster_factor)
            from sim.model._jit_zones import cluster_factor

            f = self.firms
            return cluster_factor(
                f.n, f.alive, f.industry, self._cluster_reference, float(self.params.cluster_lead_elasticity)
            )
        return self.cluster_factor_numpy()

    def cluster_factor_numpy(self) -> np.ndarray:
        """:meth:`cluster_factor` by numpy operations: the reference the compiled pass is checked against."""
        now = np.bincount(self.firms.industry[self.firms.live()], minlength=len(INDUSTRIES))
        ratio = np.maximum(now, 1) / np.maximum(self._cluster_reference, 1.0)
        return portable.power(ratio, self.params.cluster_lead_elasticity)

    def switch_to_scenario(self) -> None:
        """At the scenario's start: its own inputs and policies replace the status quo's.

        Every lever reaches the processes through a policy's ``Effects`` (written
        each month), so swapping ``params`` and the policies applies them from this
        month on. Levers read only once are handled here: the guidance fund joined
        in the warm-up's first month, so the scenario's Financing policy adds only
        the capital above it (none when its fund is no larger).
        """
        scenario = self.park_scenario
        self.counters.mark_policy_start()
        warm_fund = [pol.values["guidance_fund_myuan"] for pol in self.policies if pol.name == "financing"]
        endowed = warm_fund[0] if warm_fund and self.finance.investors("guidance") else 0.0
        self.params = _params_of(scenario)
        self.policies = build_policies(scenario)
        for pol in self.policies:
            if pol.name == "financing":
                pol.values["guidance_fund_myuan"] = max(0.0, pol.values["guidance_fund_myuan"] - endowed)

    @property
    def date(self) -> str:
        """Current month as ``YYYY-MM``."""
        return month_label(self.month)

    # -------------------------------------------------------------------- the step
    def step(self) -> None:
        """Advance the park by one month."""
        self.month += 1
        if self.month == self.policy_start_month and self.policy_start_month > self.start_month:
            self.switch_to_scenario()
        self.effects = Effects()
        for policy in self.policies:
            if policy.active(self.month):
                policy.apply(self, self.effects)
        lifecycle.support_step(self)
        arrivals.arrivals_step(self)
        lifecycle.conversion_step(self)
        self.talent.step(self)
        self.finance.step()
        lifecycle.growth_step(self)
        listing.listing_step(self)
        lifecycle.leading_step(self)
        lifecycle.exit_step(self)
        self.zones.update(self.firms, self.effects, self.talent.scale, self.params.revenue_per_employee_myuan)
        self.talent.recount(self.firms)
        self.agent_steps += len(self.agent_of_row) + len(self.talent) + len(self.finance.investors())
        self.records.append({"date": self.date, **metrics.record(self)})
        if self.month >= self.end_month:
            self.running = False

    def run(self) -> None:
        """Step from the first month (``history_start``) to the end month."""
        while self.running:
            self.step()


def _params_of(scenario: Scenario) -> Params:
    return Params.from_values({**defaults(), **scenario.values})


__all__ = ["ParkModel", "STREAMS", "GONE", "LISTED", "NEEQ", "REFORMED"]
