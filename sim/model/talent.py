"""Talent: super-individuals held as numpy arrays.

Each row stands for ``talent_people_per_agent`` people of one skill class
(0 general staff, 1 R&D / high-skill staff) in one zone, employed by one firm
row or unemployed (-1). Rows are updated as arrays: the population is tens of
thousands of people, and stepping that many Mesa agents one by one would cost
80-170x more (measured on this machine, see the brief).

Zone utility of talent (per zone ``z``; docs/ODD.md 7.3)::

    V_z   = b_wage * log(max(wage_z, floor)) + b_services * (services_z + eco_z) / 2
            + b_vacancy * vacancies_z / (staff_z + vacancies_z)
            + b_money * (subsidy_paid - housing_z)
    V_out = talent_outside_utility - b_money * housing_outside

``b_money`` is ``talent_beta_subsidy`` (utility per 1000 yuan a month): the
subsidy and the housing cost are money in the same unit, so the subsidy offsets
housing one for one. A newcomer is paid the subsidy in force at arrival for
``talent_subsidy_months`` months, its pull fading with half-life
``talent_subsidy_half_life_months``; then it stops.

Turnover: each month an employed person quits with probability
``talent_leave_per_year / 12`` (the published turnover rate); a quitter leaves
the park with the binary-logit probability ``logistic(V_out - V_z)`` and
otherwise joins the zone's unemployed. An unemployed person gives up the search
with ``talent_unemployed_leave_factor`` times that hazard and then leaves by the
same logit. Lookers choose among the three zones and the outside option by a
multinomial logit. With probability ``talent_unemployed_move_per_month`` an
unemployed person reconsiders the zone.

Firms want staff for their revenue, a share ``talent_rd_share_<industry>`` of it
R&D staff; each class is hired from its own pool. :meth:`TalentPool.fill` turns
the two shortfalls into the effective fill that growth reads.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext
from sim.model.params import INDUSTRIES, ZONES
from sim.model.units import MONTHS_PER_YEAR

SKILLS = ("general", "rd")
_LEFT_BY_ZONE = tuple(f"talent_left_{name}" for name in ZONES)  # counter names of TalentPool._leave
GENERAL, RD = 0, 1
# Kept for sim.model.initial, which reads it as a module constant: the declared default.
# Once initial.py reads ctx.params.talent_initial_unemployed_share a scenario can change it.


def rd_share(params) -> np.ndarray:
    """Share of R&D staff each industry needs (sim.model.params.INDUSTRIES order)."""
    shares = (
        params.talent_rd_share_graphene,
        params.talent_rd_share_health,
        params.talent_rd_share_internet,
        params.talent_rd_share_culture,
        params.talent_rd_share_other_tech,
    )
    assert len(shares) == len(INDUSTRIES)
    return np.array(shares)


def housing_kyuan(params) -> np.ndarray:
    """Housing cost by zone (north, central, south), 1000 yuan/person/month."""
    return np.array(
        [
            params.talent_housing_north_kyuan_per_month,
            params.talent_housing_central_kyuan_per_month,
            params.talent_housing_south_kyuan_per_month,
        ]
    )


def outside_utility(params) -> float:
    """Utility of the outside option: a job outside the park, with its housing cost."""
    return params.talent_outside_utility - params.talent_beta_subsidy * params.talent_housing_outside_kyuan_per_month


class TalentPool:
    """All talent in the park as parallel arrays."""

    def __init__(self, people_per_agent: int):
        self.scale = int(people_per_agent)
        self.zone = np.zeros(0, np.int8)
        self.skill = np.zeros(0, np.int8)
        self.employer = np.zeros(0, np.int64)
        self.arrived_month = np.zeros(0, np.int32)
        self.subsidy_kyuan = np.zeros(0)

    def __len__(self) -> int:
        return len(self.zone)

    def people(self) -> int:
        """People represented (rows times scale)."""
        return len(self.zone) * self.scale

    def add(self, rng, zone: np.ndarray, employer: np.ndarray, month: int, subsidy_kyuan: float, skill=None) -> None:
        """Append new talent rows (skill general unless given; the first step matches the initial staff's)."""
        n = len(zone)
        skill = np.zeros(n, np.int8) if skill is None else np.asarray(skill, np.int8)
        self.zone = np.concatenate([self.zone, zone.astype(np.int8)])
        self.skill = np.concatenate([self.skill, skill])
        self.employer = np.concatenate([self.employer, employer.astype(np.int64)])
        self.arrived_month = np.concatenate([self.arrived_month, np.full(n, month, np.int32)])
        self.subsidy_kyuan = np.concatenate([self.subsidy_kyuan, np.full(n, subsidy_kyuan)])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False."""
        for name in ("zone", "skill", "employer", "arrived_month", "subsidy_kyuan"):
            setattr(self, name, getattr(self, name)[mask])

    def release(self, firm_rows: np.ndarray) -> None:
        """Staff of closed or departed firms become unemployed.

        One compiled pass (:func:`sim.model._jit_talent.release`) unless ``PARKSIM_NO_JIT``
        is set; :meth:`release_numpy` is the reference.
        """
        if len(firm_rows) and portable.USE_JIT:
            from sim.model._jit_talent import release  # numba's import is paid on first use

            release(self.employer, np.asarray(firm_rows, dtype=np.int64))
        elif len(firm_rows):
            self.release_numpy(firm_rows)

    def release_numpy(self, firm_rows: np.ndarray) -> None:
        """:meth:`release` by a look-up table and numpy masks: the reference."""
        if len(firm_rows):
            # a look-up table over firm rows instead of np.isin (a hot path); the last cell stands for -1
            gone = np.zeros(max(int(self.employer.max(initial=-1)), int(np.max(firm_rows))) + 2, bool)
            gone[firm_rows] = True
            self.employer[gone[self.employer]] = -1

    def recount(self, firms) -> None:
        """Store each firm's talent-agent count in the firm table."""
        emp = self.employer[self.employer >= 0]
        firms.talent_agents[: firms.n] = np.bincount(emp, minlength=firms.n)[: firms.n]

    def wanted_agents(self, ctx: ModelContext, rows: np.ndarray, within_floor: bool = True) -> np.ndarray:
        """Talent agents each firm wants: staff for its revenue, by default only as many as its floor holds."""
        p, firms = ctx.params, ctx.firms
        staff = firms.revenue_myuan[rows] / p.revenue_per_employee_myuan
        if within_floor:
            staff = np.minimum(staff, firms.floor_m2[rows] / p.m2_per_employee)
        return np.ceil(staff / self.scale).astype(np.int64)

    def wanted_by_skill(
        self, ctx: ModelContext, rows: np.ndarray, within_floor: bool = True, want: np.ndarray | None = None
    ) -> np.ndarray:
        """Agents wanted per firm and class (firms x 2): R&D is the industry's share, rounded.

        ``want``: :meth:`wanted_agents` of the same rows, when the caller has it already.
        """
        want = self.wanted_agents(ctx, rows, within_floor) if want is None else want
        rd = np.minimum(np.rint(want * rd_share(ctx.params)[ctx.firms.industry[rows]]).astype(np.int64), want)
        return np.stack([want - rd, rd], axis=1)

    def have_by_skill(self, ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
        """Agents employed per firm and class (firms x 2)."""
        n = ctx.firms.n
        emp = self.employer >= 0
        counts = np.bincount(self.employer[emp] * 2 + self.skill[emp], minlength=2 * n)[: 2 * n].reshape(n, 2)
        return counts[rows]

    def fill(self, ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
        """Effective staffing of each firm, 0-1, as growth reads it (1 when it needs nobody).

        ``1 - [(1 - r) * short_general + r * w * short_rd]`` (floored at 0), with
        ``r`` the industry's R&D share, ``w`` = ``talent_rd_shortfall_weight`` and
        ``short_k`` the unfilled share of class ``k``: an R&D shortage costs more
        growth, and more so in R&D-heavy industries. A firm short of floor space
        cannot hire the staff it needs, so land shortage shows up here as well.
        """
        want = self.wanted_by_skill(ctx, rows, within_floor=False)
        have = self.have_by_skill(ctx, rows)
        short = np.where(want > 0, 1.0 - np.minimum(have / np.maximum(want, 1), 1.0), 0.0)
        r = rd_share(ctx.params)[ctx.firms.industry[rows]]
        lost = (1.0 - r) * short[:, GENERAL] + r * ctx.params.talent_rd_shortfall_weight * short[:, RD]
        return np.maximum(1.0 - lost, 0.0)

    def utility(self, ctx: ModelContext, subsidy_kyuan: np.ndarray, vacancy_rate: np.ndarray) -> np.ndarray:
        """Zone utility (see module docstring); broadcasting over rows of subsidy."""
        return self.base_utility(ctx, vacancy_rate) + ctx.params.talent_beta_subsidy * subsidy_kyuan[..., None]

    @staticmethod
    def base_utility(ctx: ModelContext, vacancy_rate: np.ndarray) -> np.ndarray:
        """Zone utility without the subsidy term (per zone)."""
        p, z = ctx.params, ctx.zones
        return (
            p.talent_beta_wage * portable.log(np.maximum(z.wage_index, p.talent_wage_index_floor))
            + p.talent_beta_services * (z.services_index + z.eco_quality_index) / 2.0
            + p.talent_beta_vacancy * vacancy_rate
            - p.talent_beta_subsidy * housing_kyuan(p)
        )

    def step(self, ctx: ModelContext) -> None:
        """Turnover, arrivals, moves and hiring of one month.

        Runs as compiled loops (:mod:`sim.model._jit_talent`: the same operations row by
        row and the same draws in the same order, so the same bits) unless ``PARKSIM_NO_JIT``
        is set or a row is dated after now; :meth:`step_numpy` is the reference.
        """
        if not portable.USE_JIT or (len(self) and int(self.arrived_month.max()) > ctx.month):
            self.step_numpy(ctx)
            return
        from sim.model import _jit_talent as jit  # numba's import is paid on first use

        rng, firms, p = ctx.streams["talent"], ctx.firms, ctx.params
        if ctx.month == ctx.start_month:
            self._match_initial_skills(ctx)
        n, n_zones = firms.n, len(ZONES)
        jit.recount(self.employer, n, firms.talent_agents)
        rows, by_skill, vacancy_rate = jit.demand(
            n,
            firms.alive,
            firms.zone,
            firms.industry,
            firms.revenue_myuan,
            firms.floor_m2,
            firms.talent_agents,
            p.revenue_per_employee_myuan,
            p.m2_per_employee,
            self.scale,
            rd_share(p),
            n_zones,
        )
        base = self.base_utility(ctx, vacancy_rate)
        fade = _fade_table(float(p.talent_subsidy_months), float(p.talent_subsidy_half_life_months))
        money, paid_months = float(p.talent_beta_subsidy), float(p.talent_subsidy_months)
        if len(self):  # _leave
            quit_h = p.talent_leave_per_year / MONTHS_PER_YEAR
            unemployed_h = quit_h * p.talent_unemployed_leave_factor
            lookers = jit.looking(self.employer, rng.random(len(self)), quit_h, unemployed_h)
            u = rng.random(len(lookers))
            quits, left, by_zone, *kept = jit.leave(
                lookers,
                u,
                ctx.month,
                self.zone,
                self.skill,
                self.employer,
                self.arrived_month,
                self.subsidy_kyuan,
                base,
                money,
                float(outside_utility(p)),
                paid_months,
                fade,
                n_zones,
            )
            ctx.counters.add("talent_quits", int(quits) * self.scale)
            ctx.counters.add("talent_left", int(left) * self.scale)
            for z, name in enumerate(_LEFT_BY_ZONE):
                ctx.counters.add(name, int(by_zone[z]) * self.scale)
            self.zone, self.skill, self.employer, self.arrived_month, self.subsidy_kyuan = kept
        self._arrive(ctx, rng, vacancy_rate, base)
        movers = jit.idle_movers(self.employer, rng.random(len(self)), p.talent_unemployed_move_per_month)
        if len(movers):  # _move
            shock = rng.gumbel(size=(len(movers), n_zones))
            jit.move(movers, shock, ctx.month, self.zone, self.arrived_month, self.subsidy_kyuan, base, money,
                     paid_months, fade)  # fmt: skip
        fired, employed = jit.fire_excess(rows, by_skill, n, self.employer, self.skill)
        if employed:
            ctx.counters.add("talent_laid_off", int(fired) * self.scale)
        idle, pool_bounds, slots, slot_bounds = jit.hire_pools(
            rows, by_skill, n, firms.zone, self.employer, self.zone, self.skill, n_zones
        )
        pool_bounds, slot_bounds = pool_bounds.tolist(), slot_bounds.tolist()
        for g in range(len(pool_bounds) - 1):  # _hire: pools in (zone, class) order
            pool, open_slots = idle[pool_bounds[g] : pool_bounds[g + 1]], slots[slot_bounds[g] : slot_bounds[g + 1]]
            if len(pool) and len(open_slots):
                k = min(len(pool), len(open_slots))
                hired_by = rng.permutation(open_slots)[:k]  # drawn before the people, as in _hire
                self.employer[rng.permutation(pool)[:k]] = hired_by
        jit.recount(self.employer, n, firms.talent_agents)

    def step_numpy(self, ctx: ModelContext) -> None:
        """:meth:`step` by numpy array operations: the reference the compiled loops are checked against."""
        rng, firms = ctx.streams["talent"], ctx.firms
        if ctx.month == ctx.start_month:
            self._match_initial_skills(ctx)
        self.recount(firms)
        rows = firms.live()
        want = self.wanted_agents(ctx, rows)
        vac_firm = np.maximum(want - firms.talent_agents[rows], 0)
        zone = firms.zone[rows]
        vacancies = np.bincount(zone, weights=vac_firm, minlength=len(ZONES))
        staff = np.bincount(zone, weights=np.minimum(firms.talent_agents[rows], want), minlength=len(ZONES))
        vacancy_rate = vacancies / np.maximum(staff + vacancies, 1.0)
        self._leave(ctx, rng, vacancy_rate)
        self._arrive(ctx, rng, vacancy_rate)
        self._move(ctx, rng, vacancy_rate)
        # what each firm wants is fixed within the step (revenue and floor do not change here)
        by_skill = self.wanted_by_skill(ctx, rows, want=want)
        self._fire_excess(ctx, rows, by_skill)
        self._hire(ctx, rng, rows, by_skill)
        self.recount(firms)

    def _match_initial_skills(self, ctx: ModelContext) -> None:
        """Give each initially employed firm its industry's R&D share of staff, the idle pool the arrival mix."""
        emp = np.flatnonzero(self.employer >= 0)
        if len(emp):
            order = emp[np.argsort(self.employer[emp], kind="stable")]
            firm = self.employer[order]
            rank = np.arange(len(order)) - np.searchsorted(firm, firm, side="left")
            size = np.bincount(firm, minlength=ctx.firms.n)[firm]
            n_rd = np.rint(size * rd_share(ctx.params)[ctx.firms.industry[firm]])
            self.skill[order] = np.where(rank < n_rd, RD, GENERAL)
        idle = np.flatnonzero(self.employer < 0)
        if len(idle):
            draw = ctx.streams["talent"].random(len(idle)) < ctx.params.talent_arrival_rd_share
            self.skill[idle] = np.where(draw, RD, GENERAL)

    def paid_subsidy(self, ctx: ModelContext, idx: np.ndarray | None = None) -> np.ndarray:
        """Subsidy rows ``idx`` (default all) are paid now (1000 yuan/month), fading, zero after the paid months.

        ``subsidy * 0.5 ** (months / half_life)`` while ``months < talent_subsidy_months``. The fade
        depends only on the whole months since arrival, so it is read from a table of
        :func:`_fade_table` (the same ``portable.power`` of the same numbers, so the same bits).
        """
        p = ctx.params
        months = ctx.month - (self.arrived_month if idx is None else self.arrived_month[idx])
        subsidy = self.subsidy_kyuan if idx is None else self.subsidy_kyuan[idx]
        out = np.zeros(len(months))
        paid = np.flatnonzero((months >= 0) & (months < p.talent_subsidy_months))
        if len(paid):
            table = _fade_table(float(p.talent_subsidy_months), float(p.talent_subsidy_half_life_months))
            out[paid] = subsidy[paid] * table[months[paid]]
        early = np.flatnonzero(months < 0)  # arrival dated after now: never in a run, kept as the formula says
        if len(early):
            out[early] = subsidy[early] * portable.power(0.5, months[early] / p.talent_subsidy_half_life_months)
        return out

    def _exit_probability(self, ctx: ModelContext, idx: np.ndarray, vacancy_rate) -> np.ndarray:
        """Probability that rows ``idx``, once looking, leave the park rather than stay in their zone."""
        v = self.utility(ctx, self.paid_subsidy(ctx, idx), vacancy_rate)[np.arange(len(idx)), self.zone[idx]]
        return portable.logistic(outside_utility(ctx.params) - v)

    def _leave(self, ctx: ModelContext, rng, vacancy_rate) -> None:
        if not len(self):
            return
        p = ctx.params
        quit_h = p.talent_leave_per_year / MONTHS_PER_YEAR
        employed = self.employer >= 0
        hazard = np.where(employed, quit_h, quit_h * p.talent_unemployed_leave_factor)
        looking = np.flatnonzero(rng.random(len(self)) < hazard)
        leaves = np.zeros(len(self), bool)
        leaves[looking] = rng.random(len(looking)) < self._exit_probability(ctx, looking, vacancy_rate)
        quits = looking[employed[looking]]
        ctx.counters.add("talent_quits", len(quits) * self.scale)
        ctx.counters.add("talent_left", int(leaves.sum()) * self.scale)
        by_zone = np.bincount(self.zone[leaves], minlength=len(ZONES)) * self.scale
        for z, name in enumerate(_LEFT_BY_ZONE):
            ctx.counters.add(name, int(by_zone[z]))
        self.employer[quits] = -1
        self.keep(~leaves)

    def _arrive(self, ctx: ModelContext, rng, vacancy_rate, base: np.ndarray | None = None) -> None:
        """This month's lookers choose a zone or the outside; ``base``: :meth:`base_utility` when the caller has it."""
        p = ctx.params
        lookers = rng.poisson(p.talent_inflow_per_month * p.population_scale / self.scale)
        if lookers == 0:
            return
        subsidy = ctx.effects.talent_subsidy_kyuan_per_month if p.talent_subsidy_months > 0 else 0.0
        if base is None:
            v = self.utility(ctx, np.array([subsidy]), vacancy_rate)[0]
        else:  # utility()'s sum for one subsidy, base_utility already taken: the same operations
            v = base + p.talent_beta_subsidy * np.array([subsidy])
        expv = portable.exp(np.concatenate([[outside_utility(p)], v]))
        counts = rng.multinomial(lookers, expv / expv.sum())[1:]
        zone = np.repeat(np.arange(len(ZONES)), counts)
        skill = np.where(rng.random(len(zone)) < p.talent_arrival_rd_share, RD, GENERAL)
        self.add(rng, zone, np.full(len(zone), -1), ctx.month, subsidy, skill=skill)
        ctx.counters.add("talent_arrived", len(zone) * self.scale)

    def _move(self, ctx: ModelContext, rng, vacancy_rate) -> None:
        move = rng.random(len(self)) < ctx.params.talent_unemployed_move_per_month
        idle = np.flatnonzero((self.employer < 0) & move)
        if len(idle):
            v = self.utility(ctx, self.paid_subsidy(ctx, idle), vacancy_rate)
            self.zone[idle] = np.argmax(v + rng.gumbel(size=v.shape), axis=1)

    def _fire_excess(self, ctx: ModelContext, rows, by_skill: np.ndarray | None = None) -> None:
        """Firms that shrank let their surplus staff of each class go (``by_skill``: wanted_by_skill of rows)."""
        want = np.zeros((ctx.firms.n, 2), np.int64)
        want[rows] = self.wanted_by_skill(ctx, rows) if by_skill is None else by_skill
        emp = np.flatnonzero(self.employer >= 0)
        if not len(emp):
            return
        key = self.employer[emp] * 2 + self.skill[emp]
        # only (firm, class) cells with more staff than wanted lose anyone: rank those cells' staff alone
        # (a cell keeps all its rows, so each one's rank is the same as over all staff)
        flat_want = want.reshape(-1)
        shed = (np.bincount(key, minlength=len(flat_want)) > flat_want)[key]
        emp, key = emp[shed], key[shed]
        by_key = np.argsort(key, kind="stable")
        order, key = emp[by_key], key[by_key]
        rank = np.arange(len(order)) - np.searchsorted(key, key, side="left")
        fired = order[rank >= want.reshape(-1)[key]]
        ctx.counters.add("talent_laid_off", len(fired) * self.scale)
        self.employer[fired] = -1

    def _hire(self, ctx: ModelContext, rng, rows, by_skill: np.ndarray | None = None) -> None:
        """Match unemployed talent to vacancies of their class in the same zone, in random order."""
        firms = ctx.firms
        wanted = self.wanted_by_skill(ctx, rows) if by_skill is None else by_skill
        vac = np.maximum(wanted - self.have_by_skill(ctx, rows), 0)
        zone = firms.zone[rows]
        # the idle rows of every (zone, class) pool at once, each pool in row order; pools are
        # disjoint, so hiring from one leaves the others as they were
        idle_all = np.flatnonzero(self.employer < 0)
        pool = self.zone[idle_all].astype(np.intp) * 2 + self.skill[idle_all]
        idle_all = idle_all[np.argsort(pool, kind="stable")]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(pool, minlength=2 * len(ZONES)))]).tolist()
        # vacancies per (zone, class): a pool with no vacancy or nobody idle hires nobody and draws nothing
        open_slots = np.bincount(np.repeat(zone.astype(np.intp) * 2, 2) + np.tile([GENERAL, RD], len(zone)),
                                 weights=vac.reshape(-1), minlength=2 * len(ZONES)).tolist()  # fmt: skip
        for z in range(len(ZONES)):
            in_zone = None
            for k in (GENERAL, RD):
                g = 2 * z + k
                if open_slots[g] == 0 or bounds[g + 1] == bounds[g]:
                    continue
                in_zone = zone == z if in_zone is None else in_zone
                slots = np.repeat(rows[in_zone], vac[in_zone, k])
                idle = idle_all[bounds[g] : bounds[g + 1]]
                n = min(len(slots), len(idle))
                self.employer[rng.permutation(idle)[:n]] = rng.permutation(slots)[:n]


@functools.cache  # keyed on two declared inputs: one entry per scenario in practice
def _fade_table(subsidy_months: float, half_life_months: float) -> np.ndarray:
    """``0.5 ** (m / half_life)`` for the whole months ``m`` a subsidy is paid (read-only)."""
    m = np.arange(max(math.ceil(subsidy_months), 0))
    table = portable.power(0.5, m / half_life_months)
    table.flags.writeable = False
    return table
