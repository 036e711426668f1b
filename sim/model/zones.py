"""The three zones of the park and their roles, capacity, rent, services and eco quality.

Roles follow the 2016 work plan (DESIGN.md section 1):

* north: manufacturing base for emerging industries (graphene production);
* central: R&D, incubation and acceleration; carbon materials, medical devices,
  internet, film and culture; the China-Israel Changzhou Innovation Park;
* south: high-end R&D, health and wellness, headquarters, finance centre,
  culture and tourism.
"""

from __future__ import annotations

import numpy as np

from sim.model import portable
from sim.model.firms import GROWING, MATURE, OPERATING, REGISTERED, SIGNED, STAGES
from sim.model.params import INDUSTRIES, PARAMS, ZONES

NORTH, CENTRAL, SOUTH = range(len(ZONES))

# Fit of each industry (rows, sim.model.params.INDUSTRIES order) to each zone (columns),
# 0-1, read off the zone roles in the plan [judgement].
INDUSTRY_AFFINITY = np.array(
    [
        [0.7, 0.8, 0.1],  # graphene: production north, R&D central
        [0.3, 0.6, 0.9],  # health: devices central, health services south
        [0.1, 0.9, 0.5],  # internet: central
        [0.1, 0.7, 0.8],  # culture: film central, tourism south
        [0.5, 0.5, 0.4],  # other_tech
    ]
)
YOUNG_STAGE_AFFINITY = (0.0, 0.4, 0.0)  # signed, registered, operating: central incubators [judgement]
GROWN_STAGE_AFFINITY = (0.4, 0.0, 0.2)  # growing, mature: north manufacturing base, south HQs [judgement]
# Extra fit by lifecycle stage: young firms to the central incubators, grown
# firms to the north manufacturing base or south headquarters [judgement].
STAGE_AFFINITY = np.zeros((len(STAGES), len(ZONES)))
for _stage in (SIGNED, REGISTERED, OPERATING):
    STAGE_AFFINITY[_stage] = YOUNG_STAGE_AFFINITY
for _stage in (GROWING, MATURE):
    STAGE_AFFINITY[_stage] = GROWN_STAGE_AFFINITY
FINANCE_CENTRE_ZONE = SOUTH  # the finance centre is in the south zone [plan]

assert INDUSTRY_AFFINITY.shape == (len(INDUSTRIES), len(ZONES))

# The location logit's weights (affinity, cluster, services, rent); an optional fifth, the size
# term, follows them [definition: the layout of the betas tuple].
N_LOGIT_BETAS = 4

# Declared inputs the zones read (sim.model.params); their defaults stand in while no params are given.
ZONE_PARAMS = (
    "zone_rent_north_yuan_per_m2_month",
    "zone_rent_central_yuan_per_m2_month",
    "zone_rent_south_yuan_per_m2_month",
    "zone_rent_slope",
    "zone_rent_occupancy_knee",
    "zone_pollution_load_weight",
    "zone_israeli_central_bonus",
)


def _zone_values(params) -> dict[str, float]:
    """The zone inputs from ``params`` (a Params), or their declared defaults when it is None."""
    if params is None:
        return {k: PARAMS[k].default for k in ZONE_PARAMS}
    return {k: getattr(params, k) for k in ZONE_PARAMS}


# Kept for readers of the module constant: the declared defaults (north, central, south).
BASE_RENT_YUAN_PER_M2_MONTH = np.array([PARAMS[k].default for k in ZONE_PARAMS[: len(ZONES)]])
ISRAELI_CENTRAL_BONUS = PARAMS["zone_israeli_central_bonus"].default


def offer_betas(ctx) -> tuple[float, ...]:
    """The location logit's weights including the size term (what a lead or firm weighs against the outside)."""
    return (*ctx.location_betas(), ctx.params.zone_beta_log_free_floor)


def offer_gap(ctx, rows: np.ndarray) -> np.ndarray:
    """Utility of each firm's current zone minus the outside utility (the park's offer to a firm already placed)."""
    f, z = ctx.firms, ctx.zones
    if portable.USE_JIT:
        from sim.model import _jit_zones as jit

        return jit.own_zone_gap(
            np.asarray(rows, dtype=np.int64), f.industry, f.stage, f.israeli, f.zone,
            *z.jit_inputs(ctx.location_betas(), f),
            float(ctx.params.zone_outside_utility),
        )  # fmt: skip
    return offer_gap_numpy(ctx, rows)


def offer_gap_numpy(ctx, rows: np.ndarray) -> np.ndarray:
    """:func:`offer_gap` by numpy array operations: the reference the compiled loop is checked against."""
    f, z = ctx.firms, ctx.zones
    util = z.utility_numpy(f.industry[rows], f.stage[rows], f.israeli[rows], ctx.location_betas(), f)
    return util[np.arange(len(rows)), f.zone[rows]] - ctx.params.zone_outside_utility


class Zones:
    """State of the three zones (arrays indexed by zone)."""

    def __init__(self, capacity_m2: np.ndarray, params=None):
        self.inputs = _zone_values(params)
        self.base_rent_yuan_per_m2_month = np.array([self.inputs[k] for k in ZONE_PARAMS[: len(ZONES)]])
        self.capacity_m2 = np.asarray(capacity_m2, dtype=float)
        self.occupied_m2 = np.zeros(len(ZONES))
        self.rent_yuan_per_m2_month = self.base_rent_yuan_per_m2_month.copy()
        self.services_index = np.zeros(len(ZONES))
        self.eco_quality_index = np.ones(len(ZONES))
        self.wage_index = np.ones(len(ZONES))

    @property
    def free_m2(self) -> np.ndarray:
        """Floor space still available in each zone."""
        return np.maximum(self.capacity_m2 - self.occupied_m2, 0.0)

    @property
    def occupancy(self) -> np.ndarray:
        """Occupied share of each zone."""
        return self.occupied_m2 / np.maximum(self.capacity_m2, 1.0)

    def recount(self, firms) -> None:
        """Recompute occupied floor from the firm table."""
        rows = firms.live()
        zone = firms.zone[rows]
        self.occupied_m2 = np.bincount(zone[zone >= 0], weights=firms.floor_m2[rows][zone >= 0], minlength=len(ZONES))

    def update(self, firms, effects, people_per_agent: int, revenue_per_employee_myuan: float, add_land=True) -> None:
        """Monthly update: new land (unless ``add_land`` is False), rent, eco quality, wages, services."""
        if add_land:
            self.capacity_m2 = self.capacity_m2 + effects.land_m2_per_month
        self.services_index = effects.services_index.copy()
        v = self.inputs
        self.occupied_m2, load, people, revenue = self.zone_sums(firms, people_per_agent)
        occ = self.occupancy
        self.rent_yuan_per_m2_month = (
            self.base_rent_yuan_per_m2_month
            * effects.rent_mult
            * (1.0 + v["zone_rent_slope"] * np.maximum(occ - v["zone_rent_occupancy_knee"], 0.0))
        )
        self.eco_quality_index = np.clip(
            1.0 - v["zone_pollution_load_weight"] * load / np.maximum(self.capacity_m2, 1.0), 0.0, 1.0
        )
        # wages follow revenue per person, relative to the declared productivity (1 = typical)
        per_person = np.where(people > 0, revenue / np.maximum(people, 1.0), revenue_per_employee_myuan)
        self.wage_index = per_person / revenue_per_employee_myuan

    @staticmethod
    def zone_sums(firms, people_per_agent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per zone, over the live firms: floor space, pollution load (index x m2), people employed, revenue.

        One compiled pass (:func:`sim.model._jit_zones.zone_sums`: each sum added in row order,
        as ``np.bincount`` adds its weights) unless ``PARKSIM_NO_JIT`` is set;
        :meth:`zone_sums_numpy` is the reference.
        """
        if portable.USE_JIT:
            from sim.model._jit_zones import zone_sums  # numba's import is paid on first use

            return zone_sums(
                firms.n,
                firms.alive,
                firms.zone,
                firms.floor_m2,
                firms.pollution_index,
                firms.talent_agents,
                int(people_per_agent),
                firms.revenue_myuan,
                len(ZONES),
            )
        return Zones.zone_sums_numpy(firms, people_per_agent)

    @staticmethod
    def zone_sums_numpy(firms, people_per_agent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`zone_sums` by numpy bincounts: the reference the compiled pass is checked against."""
        rows = firms.live()
        zone = firms.zone[rows]
        ok = zone >= 0
        floor = np.bincount(zone[ok], weights=firms.floor_m2[rows][ok], minlength=len(ZONES))
        load = np.bincount(
            zone[ok], weights=(firms.pollution_index[rows] * firms.floor_m2[rows])[ok], minlength=len(ZONES)
        )
        people = np.bincount(zone[ok], weights=firms.talent_agents[rows][ok] * people_per_agent, minlength=len(ZONES))
        revenue = np.bincount(zone[ok], weights=firms.revenue_myuan[rows][ok], minlength=len(ZONES))
        return floor, load, people, revenue

    def industry_share(self, firms) -> np.ndarray:
        """Share of each zone's live firms in each industry (industries x zones)."""
        rows = firms.live()
        # one bincount over the flat (industry, zone) cell: exact integer counts, far cheaper than np.add.at
        counts = self._cell_counts(firms.zone[rows], firms.industry[rows])
        return counts / np.maximum(counts.sum(axis=0, keepdims=True), 1.0)

    def utility(self, industry, stage, israeli, betas, firms) -> np.ndarray:
        """Systematic utility of each zone for each chooser (choosers x zones), without the size term.

        A compiled loop (:mod:`sim.model._jit_zones`, the same bits) unless ``PARKSIM_NO_JIT``
        is set; :meth:`utility_numpy` is the reference.
        """
        if portable.USE_JIT:
            from sim.model import _jit_zones as jit

            return jit.utility(np.asarray(industry), np.asarray(stage), np.asarray(israeli, bool),
                               *self.jit_inputs(betas, firms))  # fmt: skip
        return self.utility_numpy(industry, stage, israeli, betas, firms)

    def jit_inputs(self, betas, firms) -> tuple:
        """The compiled utility's inputs after the choosers: betas, cluster shares, tables, zone values."""
        from sim.model import _jit_zones as jit

        share = jit.cluster_share(firms.n, firms.alive, firms.zone, firms.industry, len(INDUSTRIES), len(ZONES))
        return tuple(float(b) for b in betas[:N_LOGIT_BETAS]), share, *self._jit_tables()

    def _jit_tables(self) -> tuple:
        """The compiled loops' fixed inputs: affinity tables, services, rents, the Israeli bonus, the central zone."""
        return (
            INDUSTRY_AFFINITY,
            STAGE_AFFINITY,
            np.asarray(self.services_index, dtype=float),
            np.asarray(self.rent_yuan_per_m2_month, dtype=float),
            float(self.inputs["zone_israeli_central_bonus"]),
            CENTRAL,
        )

    def utility_numpy(self, industry, stage, israeli, betas, firms) -> np.ndarray:
        """:meth:`utility` by numpy array operations: the reference the compiled loop is checked against."""
        b_aff, b_cluster, b_services, b_rent = betas[:N_LOGIT_BETAS]
        share = self.industry_share(firms)
        util = (
            b_aff * (INDUSTRY_AFFINITY[industry] + STAGE_AFFINITY[stage])
            + b_cluster * share[industry]
            + b_services * self.services_index
            - b_rent * self.rent_yuan_per_m2_month
        )
        util[:, CENTRAL] += np.where(israeli, b_aff * self.inputs["zone_israeli_central_bonus"], 0.0)
        return util

    def reconsider(self, rng, rows, betas, firms) -> np.ndarray:
        """Firms of ``rows`` reconsider their zone one after another; returns each one's zone afterwards.

        The same choice as :meth:`choose` for one firm at a time, with the firm's own floor
        counted as free (so it can always stay) and each move seen by the next firm's cluster
        term and free floor, but in one pass: the Gumbel draws are taken at once (the same
        values, in the same order, as one draw per firm), the cluster counts are kept up to
        date in place of a recount per firm, and each firm's utility is summed in the same
        order as :meth:`utility`, so the result is the same to the last bit. Updates
        ``occupied_m2``; the caller writes the zones back to the firm table.

        The pass is a compiled loop (:func:`sim.model._jit_zones.reconsider`) unless
        ``PARKSIM_NO_JIT`` is set; :meth:`reconsider_python` is the reference.
        """
        if not portable.USE_JIT:
            return self.reconsider_python(rng, rows, betas, firms)
        from sim.model import _jit_zones as jit

        zone = firms.zone[rows].astype(np.intp)
        if len(rows) == 0:
            return zone
        if len(betas) > N_LOGIT_BETAS and betas[N_LOGIT_BETAS] != 0:
            raise ValueError("reconsider() has no size term; use choose() for the offer betas")
        shock = rng.gumbel(size=(len(rows), len(ZONES)))
        occupied = np.array(self.occupied_m2, dtype=float)
        jit.reconsider(
            zone,
            firms.industry[rows],
            firms.stage[rows],
            firms.israeli[rows],
            firms.floor_m2[rows],
            shock,
            tuple(float(b) for b in betas[:N_LOGIT_BETAS]),
            *self._jit_tables(),
            np.asarray(self.capacity_m2, dtype=float),
            occupied,
            firms.n,
            firms.alive,
            firms.zone,
            firms.industry,
            len(INDUSTRIES),
        )
        self.occupied_m2 = occupied
        return zone

    def reconsider_python(self, rng, rows, betas, firms) -> np.ndarray:
        """:meth:`reconsider` as a Python loop: the reference the compiled pass is checked against."""
        n = len(rows)
        zone = firms.zone[rows].astype(np.intp)
        if n == 0:
            return zone
        b_aff, b_cluster, b_services, b_rent = betas[:N_LOGIT_BETAS]
        if len(betas) > N_LOGIT_BETAS and betas[N_LOGIT_BETAS] != 0:
            raise ValueError("reconsider() has no size term; use choose() for the offer betas")
        industry, floor = firms.industry[rows], firms.floor_m2[rows]
        fixed = (b_aff * (INDUSTRY_AFFINITY[industry] + STAGE_AFFINITY[firms.stage[rows]])).tolist()
        bonus = np.where(firms.israeli[rows], b_aff * self.inputs["zone_israeli_central_bonus"], 0.0).tolist()
        shock = rng.gumbel(size=(n, len(ZONES))).tolist()
        live = firms.live()
        counts = self._cell_counts(firms.zone[live], firms.industry[live])
        col = counts.sum(axis=0).tolist()
        counts = counts.tolist()
        services = (b_services * self.services_index).tolist()
        rent = (b_rent * self.rent_yuan_per_m2_month).tolist()
        capacity, occupied = self.capacity_m2.tolist(), self.occupied_m2.tolist()
        zones = range(len(ZONES))
        for i in range(n):
            cur, ind, need = int(zone[i]), int(industry[i]), float(floor[i])
            occupied[cur] -= need
            row = counts[ind]
            util = [fixed[i][z] + b_cluster * (row[z] / max(col[z], 1.0)) + services[z] - rent[z] for z in zones]
            util[CENTRAL] += bonus[i]
            best, best_u = cur, -np.inf
            for z in zones:
                u = util[z] + shock[i][z]
                if u > best_u and max(capacity[z] - occupied[z], 0.0) >= need:
                    best, best_u = z, u
            occupied[best] += need
            if best != cur:
                row[cur] -= 1
                row[best] += 1
                col[cur] -= 1
                col[best] += 1
                zone[i] = best
        self.occupied_m2 = np.array(occupied)
        return zone

    @staticmethod
    def _cell_counts(zone, industry) -> np.ndarray:
        """Live firms per (industry, zone) cell, as floats (exact integer counts)."""
        ok = zone >= 0
        cell = industry[ok].astype(np.intp) * len(ZONES) + zone[ok]
        counts = np.bincount(cell, minlength=len(INDUSTRIES) * len(ZONES)).reshape(len(INDUSTRIES), len(ZONES))
        return counts.astype(float)

    def choose(self, rng, industry, stage, israeli, need_m2, betas, firms, exclude=None, outside=None) -> np.ndarray:
        """Multinomial-logit zone choice with capacity limits and, optionally, an outside alternative.

        Args:
            rng: the location stream.
            industry: industry index per chooser.
            stage: lifecycle stage per chooser.
            israeli: Israeli origin per chooser.
            need_m2: floor space each chooser needs.
            betas: (affinity, cluster, services, rent) utility weights, optionally with a
                fifth, the weight of log free floor (the size term; 0 when absent).
            firms: the firm table (for the cluster term).
            exclude: optional zone per chooser that may not be chosen (current zone).
            outside: utility of the outside alternative (a competing park), or None
                for a choice inside the park only.

        Returns:
            Chosen zone per chooser; -1 where no zone has room, -2 where the outside
            alternative beats every zone with room (``outside`` given). Choosers are
            served in order and each choice reserves its floor space, so the
            zones' free space is never overdrawn.
        """
        b_size = betas[N_LOGIT_BETAS] if len(betas) > N_LOGIT_BETAS else 0.0
        free = self.free_m2.copy()
        need = np.asarray(need_m2, dtype=float)
        # size term: log of how many premises of the chooser's size each zone holds (McFadden 1978),
        # from the free floor when the choice starts
        sites = np.maximum(free[None, :] / np.maximum(need, 1.0)[:, None], 1.0)
        util = self.utility(industry, stage, israeli, betas, firms) + b_size * portable.log(sites)
        util = util + rng.gumbel(size=util.shape)
        if exclude is not None:
            util[np.arange(len(util)), exclude] = -np.inf
        out_util = outside + rng.gumbel(size=len(util)) if outside is not None else np.full(len(util), -np.inf)
        if portable.USE_JIT:  # the same loop compiled (sim.model._jit_zones.serve_in_order)
            from sim.model import _jit_zones as jit

            return jit.serve_in_order(util, np.asarray(out_util, dtype=float), free, need, -1, -2)
        return serve_in_order_numpy(util, out_util, free, need)


def serve_in_order_numpy(util, out_util, free, need) -> np.ndarray:
    """:meth:`Zones.choose`'s serving loop in Python (the reference of the compiled one).

    Each chooser in turn takes its best zone with room (``free`` is drawn down in place), or the
    outside option (-2) when that beats it; -1 where no zone has room.
    """
    out = np.full(len(util), -1, dtype=np.int8)
    order = np.argsort(-util, axis=1)
    for i in range(len(util)):
        for z in order[i]:
            if np.isfinite(util[i, z]) and free[z] >= need[i]:
                if util[i, z] < out_util[i]:
                    out[i] = -2
                else:
                    out[i] = z
                    free[z] -= need[i]
                break
    return out
