"""Talent: super-individuals held as numpy arrays.

Each row stands for ``talent_people_per_agent`` people of one skill class
(0 technician, 1 engineer, 2 researcher) in one zone, employed by one firm row
or unemployed (-1). Rows are updated as arrays: the population is tens of
thousands of people, and stepping that many Mesa agents one by one would cost
80-170x more (measured on this machine, see the brief).

Zone utility of talent (per zone ``z``)::

    V_z = b_wage * log(wage_z) + b_services * (services_z + eco_z) / 2
          + b_subsidy * subsidy_kyuan * 0.5 ** (months_since_arrival / half_life)
          + log(1 + vacancies_z / 10)

Arrivals choose among the three zones and an outside option (``V = 0``) by a
multinomial logit; people leave with hazard ``leave * 2 / (1 + exp(V_z))``
(three times higher while unemployed), and with probability 0.1 a month an
unemployed person reconsiders the zone, drawing it by the same logit over the
three zones [judgement].
"""

from __future__ import annotations

import numpy as np

from sim.model import portable
from sim.model.context import ModelContext

SKILLS = ("technician", "engineer", "researcher")
SKILL_MIX = np.array([0.5, 0.35, 0.15])  # [judgement]
UNEMPLOYED_LEAVE_FACTOR = 3.0  # [judgement]
UNEMPLOYED_MOVE_PER_MONTH = 0.1  # [judgement]
INITIAL_UNEMPLOYED_SHARE = 0.05  # [judgement]


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

    def add(self, rng, zone: np.ndarray, employer: np.ndarray, month: int, subsidy_kyuan: float) -> None:
        """Append new talent rows."""
        n = len(zone)
        self.zone = np.concatenate([self.zone, zone.astype(np.int8)])
        self.skill = np.concatenate([self.skill, rng.choice(3, n, p=SKILL_MIX).astype(np.int8)])
        self.employer = np.concatenate([self.employer, employer.astype(np.int64)])
        self.arrived_month = np.concatenate([self.arrived_month, np.full(n, month, np.int32)])
        self.subsidy_kyuan = np.concatenate([self.subsidy_kyuan, np.full(n, subsidy_kyuan)])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False."""
        for name in ("zone", "skill", "employer", "arrived_month", "subsidy_kyuan"):
            setattr(self, name, getattr(self, name)[mask])

    def release(self, firm_rows: np.ndarray) -> None:
        """Staff of closed or departed firms become unemployed."""
        if len(firm_rows):
            self.employer[np.isin(self.employer, firm_rows)] = -1

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

    def fill(self, ctx: ModelContext, rows: np.ndarray) -> np.ndarray:
        """Share of the staff its revenue needs that each firm has (1 when it needs none).

        A firm short of floor space cannot hire the staff it needs, so land
        shortage shows up here as a growth penalty, like a shortage of talent.
        """
        want = self.wanted_agents(ctx, rows, within_floor=False)
        have = ctx.firms.talent_agents[rows]
        return np.where(want > 0, np.minimum(have / np.maximum(want, 1), 1.0), 1.0)

    def utility(self, ctx: ModelContext, subsidy_kyuan: np.ndarray, vacancies: np.ndarray) -> np.ndarray:
        """Zone utility (see module docstring); broadcasting over rows of subsidy."""
        p, z = ctx.params, ctx.zones
        base = (
            p.talent_beta_wage * portable.log(np.maximum(z.wage_index, 0.05))
            + p.talent_beta_services * (z.services_index + z.eco_quality_index) / 2.0
            + portable.log1p(vacancies / 10.0)
        )
        return base + p.talent_beta_subsidy * subsidy_kyuan[..., None]

    def step(self, ctx: ModelContext) -> None:
        """Arrivals, departures, moves and hiring of one month."""
        rng, firms = ctx.streams["talent"], ctx.firms
        self.recount(firms)
        rows = firms.live()
        vac_firm = np.maximum(self.wanted_agents(ctx, rows) - firms.talent_agents[rows], 0)
        vacancies = np.bincount(firms.zone[rows], weights=vac_firm * self.scale, minlength=3)
        self._leave(ctx, rng, vacancies)
        self._arrive(ctx, rng, vacancies)
        self._move(ctx, rng, vacancies)
        self._fire_excess(ctx, rows)
        self._hire(ctx, rng, rows)
        self.recount(firms)

    def _fading_subsidy(self, ctx: ModelContext) -> np.ndarray:
        months = ctx.month - self.arrived_month
        return self.subsidy_kyuan * portable.power(0.5, months / ctx.params.talent_subsidy_half_life_months)

    def _leave(self, ctx: ModelContext, rng, vacancies) -> None:
        if not len(self):
            return
        v = self.utility(ctx, self._fading_subsidy(ctx), vacancies)[np.arange(len(self)), self.zone]
        h = ctx.params.talent_leave_per_year / 12.0 * 2.0 / (1.0 + portable.exp(v))
        h = h * np.where(self.employer < 0, UNEMPLOYED_LEAVE_FACTOR, 1.0)
        stays = rng.random(len(self)) >= h
        ctx.counters.add("talent_left", int((~stays).sum()) * self.scale)
        self.keep(stays)

    def _arrive(self, ctx: ModelContext, rng, vacancies) -> None:
        p = ctx.params
        lookers = rng.poisson(p.talent_inflow_per_month * p.population_scale / self.scale)
        if lookers == 0:
            return
        subsidy = ctx.effects.talent_subsidy_kyuan_per_month
        v = self.utility(ctx, np.array([subsidy]), vacancies)[0]
        expv = portable.exp(np.concatenate([[0.0], v]))
        counts = rng.multinomial(lookers, expv / expv.sum())[1:]
        zone = np.repeat(np.arange(3), counts)
        self.add(rng, zone, np.full(len(zone), -1), ctx.month, subsidy)
        ctx.counters.add("talent_arrived", len(zone) * self.scale)

    def _move(self, ctx: ModelContext, rng, vacancies) -> None:
        idle = np.flatnonzero((self.employer < 0) & (rng.random(len(self)) < UNEMPLOYED_MOVE_PER_MONTH))
        if len(idle):
            v = self.utility(ctx, self._fading_subsidy(ctx)[idle], vacancies)
            self.zone[idle] = np.argmax(v + rng.gumbel(size=v.shape), axis=1)

    def _fire_excess(self, ctx: ModelContext, rows) -> None:
        """Firms that shrank let their surplus staff go."""
        want = np.zeros(ctx.firms.n, np.int64)
        want[rows] = self.wanted_agents(ctx, rows)
        emp = np.flatnonzero(self.employer >= 0)
        if not len(emp):
            return
        order = emp[np.argsort(self.employer[emp], kind="stable")]
        firm = self.employer[order]
        rank = np.arange(len(order)) - np.searchsorted(firm, firm, side="left")
        fired = order[rank >= want[firm]]
        self.employer[fired] = -1

    def _hire(self, ctx: ModelContext, rng, rows) -> None:
        """Match unemployed talent to vacancies in the same zone, in random order."""
        firms = ctx.firms
        self.recount(firms)
        vac = np.maximum(self.wanted_agents(ctx, rows) - firms.talent_agents[rows], 0)
        for z in range(3):
            in_zone = firms.zone[rows] == z
            slots = np.repeat(rows[in_zone], vac[in_zone])
            idle = np.flatnonzero((self.employer < 0) & (self.zone == z))
            k = min(len(slots), len(idle))
            if k:
                self.employer[rng.permutation(idle)[:k]] = rng.permutation(slots)[:k]
