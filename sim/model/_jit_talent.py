"""Compiled loops of the talent month (:meth:`sim.model.talent.TalentPool.step`).

The numpy version makes about 150 array calls a month on a few thousand talent
rows and a thousand firms: call overhead, not arithmetic, at the baseline's
size. These loops do the same operations row by row, in the same order
(numba, ``fastmath`` off; exp is :mod:`sim.model._jit`'s portable one; sums
over rows add in row order as ``np.bincount`` does), so the results are the
same to the last bit on every CPU. The random draws stay in numpy, taken
between the loops in the numpy version's order and sizes: the loops only say
which rows the next draw is for. ``tests/test_fast_paths.py`` compares the
compiled month with :meth:`~sim.model.talent.TalentPool.step_numpy` on a park's
state; the whole-run tables are compared with ``PARKSIM_NO_JIT=1`` in
``tests/test_portable.py``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.model._jit import exp1, pairwise_sum


@numba.njit(cache=True, nogil=True)
def recount(employer, n, talent_agents):  # pragma: no cover - compiled; tested against the numpy step
    """``talent_agents[:n]`` = talent rows employed by each firm row (TalentPool.recount)."""
    counts = np.zeros(n, np.int64)
    for t in range(employer.size):
        e = employer[t]
        if e >= 0 and e < n:
            counts[e] += 1
    for r in range(n):
        talent_agents[r] = counts[r]


@numba.njit(cache=True, nogil=True)
def release(employer, firm_rows):  # pragma: no cover - compiled; tested against TalentPool.release_numpy
    """Set to -1 (unemployed) every ``employer`` entry that is one of ``firm_rows``, in place."""
    top = -1
    for r in firm_rows:
        top = max(top, r)
    gone = np.zeros(top + 1, np.bool_)
    for r in firm_rows:
        gone[r] = True
    for t in range(employer.size):
        e = employer[t]
        if 0 <= e <= top and gone[e]:
            employer[t] = -1


@numba.njit(cache=True, nogil=True)
def demand(  # pragma: no cover - compiled; tested against the numpy step
    n, alive, zone, industry, revenue, floor, talent_agents, rev_per_employee, m2_per_employee, scale, rd_share, n_zones
):
    """Live rows, agents wanted per class (rows x 2; within the floor) and each zone's vacancy rate."""
    rows = alive[:n].nonzero()[0]
    by_skill = np.empty((rows.size, 2), np.int64)
    vacancies = np.zeros(n_zones)
    staff = np.zeros(n_zones)
    for j in range(rows.size):
        r = rows[j]
        need = revenue[r] / rev_per_employee
        room = floor[r] / m2_per_employee
        if room < need:
            need = room
        w = np.int64(math.ceil(need / scale))
        have = np.int64(talent_agents[r])
        vacancies[zone[r]] += max(w - have, 0)
        staff[zone[r]] += min(have, w)
        rd = np.int64(np.rint(w * rd_share[industry[r]]))
        if rd > w:
            rd = w
        by_skill[j, 0] = w - rd
        by_skill[j, 1] = rd
    rate = np.empty(n_zones)
    for z in range(n_zones):
        rate[z] = vacancies[z] / max(staff[z] + vacancies[z], 1.0)
    return rows, by_skill, rate


@numba.njit(cache=True, nogil=True)
def looking(employer, u, hazard_employed, hazard_unemployed):  # pragma: no cover - compiled
    """Rows whose draw ``u`` falls below their monthly leaving hazard (employed or not), in row order."""
    out = np.empty(u.size, np.int64)
    m = 0
    for t in range(u.size):
        h = hazard_employed if employer[t] >= 0 else hazard_unemployed
        if u[t] < h:
            out[m] = t
            m += 1
    return out[:m]


@numba.njit(cache=True, nogil=True)
def _paid(month, arrived, subsidy, paid_months, fade):  # pragma: no cover - compiled
    """TalentPool.paid_subsidy of one row that arrived in or before ``month``."""
    months = month - arrived
    if months >= 0 and months < paid_months:
        return subsidy * fade[months]
    return 0.0


@numba.njit(cache=True, nogil=True)
def leave(  # pragma: no cover - compiled; tested against the numpy step
    rows, u, month, zone, skill, employer, arrived, subsidy, base, beta_money, outside, paid_months, fade, n_zones
):
    """Lookers ``rows`` leave the park with the logit probability, the employed among them quit first.

    Returns (quits, left, left per zone, the kept columns zone, skill, employer, arrived, subsidy).
    """
    leaves = np.zeros(zone.size, np.bool_)
    quits = 0
    left_by_zone = np.zeros(n_zones, np.int64)
    for j in range(rows.size):
        t = rows[j]
        v = base[zone[t]] + beta_money * _paid(month, arrived[t], subsidy[t], paid_months, fade)
        p_exit = 1.0 / (1.0 + exp1(-(outside - v)))
        if employer[t] >= 0:
            quits += 1
            employer[t] = -1
        if u[j] < p_exit:
            leaves[t] = True
            left_by_zone[zone[t]] += 1
    kept = zone.size - left_by_zone.sum()
    k_zone = np.empty(kept, zone.dtype)
    k_skill = np.empty(kept, skill.dtype)
    k_employer = np.empty(kept, employer.dtype)
    k_arrived = np.empty(kept, arrived.dtype)
    k_subsidy = np.empty(kept, subsidy.dtype)
    m = 0
    for t in range(zone.size):
        if not leaves[t]:
            k_zone[m] = zone[t]
            k_skill[m] = skill[t]
            k_employer[m] = employer[t]
            k_arrived[m] = arrived[t]
            k_subsidy[m] = subsidy[t]
            m += 1
    return quits, left_by_zone.sum(), left_by_zone, k_zone, k_skill, k_employer, k_arrived, k_subsidy


@numba.njit(cache=True, nogil=True)
def idle_movers(employer, u, p_move):  # pragma: no cover - compiled
    """Unemployed rows whose draw ``u`` falls below the monthly probability of reconsidering the zone."""
    out = np.empty(u.size, np.int64)
    m = 0
    for t in range(u.size):
        if employer[t] < 0 and u[t] < p_move:
            out[m] = t
            m += 1
    return out[:m]


@numba.njit(cache=True, nogil=True)
def move(rows, shock, month, zone, arrived, subsidy, base, beta_money, paid_months, fade):  # pragma: no cover
    """Each row of ``rows`` takes the zone of highest utility plus its Gumbel shock (the first on a tie)."""
    for j in range(rows.size):
        t = rows[j]
        money = beta_money * _paid(month, arrived[t], subsidy[t], paid_months, fade)
        best = 0
        best_u = (base[0] + money) + shock[j, 0]
        for z in range(1, base.size):
            u = (base[z] + money) + shock[j, z]
            if u > best_u:
                best, best_u = z, u
        zone[t] = best


@numba.njit(cache=True, nogil=True)
def fire_excess(rows, by_skill, n, employer, skill):  # pragma: no cover - compiled; tested against the numpy step
    """Staff beyond what their (firm, class) cell wants lose the job, the latest rows first; returns (fired, employed).

    A row's rank in its cell is the number of the cell's rows before it, as the stable sort of
    TalentPool._fire_excess ranks them, so the same rows go.
    """
    want = np.zeros(2 * n, np.int64)
    for j in range(rows.size):
        want[2 * rows[j]] = by_skill[j, 0]
        want[2 * rows[j] + 1] = by_skill[j, 1]
    seen = np.zeros(2 * n, np.int64)
    fired = 0
    employed = 0
    for t in range(employer.size):
        e = employer[t]
        if e >= 0:
            if e >= n:
                raise IndexError("a talent row is employed by a firm row beyond the table")
            employed += 1
            cell = 2 * e + skill[t]
            if seen[cell] >= want[cell]:
                employer[t] = -1
                fired += 1
            seen[cell] += 1
    return fired, employed


@numba.njit(cache=True, nogil=True)
def hire_pools(rows, by_skill, n, firm_zone, employer, zone, skill, n_zones):  # pragma: no cover - compiled
    """The idle rows and the vacancies of every (zone, class) pool, each pool in row order.

    Returns (idle rows grouped by pool, pool bounds, vacancy slots grouped by pool (a firm row
    once per vacancy), slot bounds); pool ``g`` is ``2 * zone + class``.
    """
    n_pools = 2 * n_zones
    have = np.zeros(2 * n, np.int64)
    idle_per_pool = np.zeros(n_pools, np.int64)
    for t in range(employer.size):
        e = employer[t]
        if e >= 0:
            if e < n:
                have[2 * e + skill[t]] += 1
        else:
            idle_per_pool[2 * zone[t] + skill[t]] += 1
    pool_bounds = _bounds(idle_per_pool)
    idle = np.empty(pool_bounds[n_pools], np.int64)
    fill = pool_bounds[:n_pools].copy()
    for t in range(employer.size):
        if employer[t] < 0:
            g = 2 * zone[t] + skill[t]
            idle[fill[g]] = t
            fill[g] += 1
    vacancies = np.zeros((rows.size, 2), np.int64)
    slots_per_pool = np.zeros(n_pools, np.int64)
    for j in range(rows.size):
        r = rows[j]
        for k in range(2):
            vacancies[j, k] = max(by_skill[j, k] - have[2 * r + k], 0)
            slots_per_pool[2 * firm_zone[r] + k] += vacancies[j, k]
    slot_bounds = _bounds(slots_per_pool)
    slots = np.empty(slot_bounds[n_pools], np.int64)
    fill = slot_bounds[:n_pools].copy()
    for j in range(rows.size):
        for k in range(2):
            g = 2 * firm_zone[rows[j]] + k
            for _ in range(vacancies[j, k]):
                slots[fill[g]] = rows[j]
                fill[g] += 1
    return idle, pool_bounds, slots, slot_bounds


@numba.njit(cache=True, nogil=True)
def _bounds(counts):  # pragma: no cover - compiled
    """Start of each group in a grouped array (and the total at the end): the running sum of ``counts``."""
    out = np.zeros(counts.size + 1, np.int64)
    for g in range(counts.size):
        out[g + 1] = out[g] + counts[g]
    return out


@numba.njit(cache=True, nogil=True)
def paid_subsidy(month, arrived, subsidy, paid_months, first_month):  # pragma: no cover - compiled
    """costs.paid_subsidy_numpy in one pass: the subsidy (k yuan/month per agent) of the rows still paid this month.

    A row is paid while ``month - arrived < paid_months``, if its subsidy is positive and it arrived
    from ``first_month`` on; the paid values, in row order, are added as numpy's sum adds them
    (:func:`sim.model._jit.pairwise_sum`), so the same bits. Tested against costs.paid_subsidy_numpy.
    """
    paid = np.empty(subsidy.size)
    k = 0
    for i in range(subsidy.size):
        if month - arrived[i] < paid_months and subsidy[i] > 0 and arrived[i] >= first_month:
            paid[k] = subsidy[i]
            k += 1
    return pairwise_sum(paid, 0, k)
