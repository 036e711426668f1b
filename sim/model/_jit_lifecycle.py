"""Compiled loops of the firm lifecycle: the growth month and the exit hazards.

:func:`growth_month` is :func:`sim.model.lifecycle.growth_step` and
:func:`exit_month` the hazards and decisions of :func:`~sim.model.lifecycle.exit_step`.
The numpy versions make about 90 and 40 array calls a month on a few hundred to a
few thousand firms: at the baseline's size that is call overhead, not
arithmetic. These loops do, firm by firm, the same IEEE operations in the same
order (numba, ``fastmath`` off, so no fused multiply-adds and no reassociated
sums; exp and log are :mod:`sim.model._jit`'s, the portable ones), and every
sum over firms (staff per firm and class, floor space per zone) adds in row
order as ``np.bincount`` does. So the results are the same to the last bit on
every CPU: ``tests/test_fast_paths.py`` compares each with its numpy version on
a park's state, and the whole-run tables are compared with ``PARKSIM_NO_JIT=1``
(the numpy versions) and with numba's generic CPU target in ``tests/test_portable.py``.

The random draws (one standard normal per growing firm, one uniform per firm
that may exit) stay in numpy, taken before the loops in the same order as the
numpy versions take them.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.model._jit import exp1, log1, power1


@numba.njit(cache=True, nogil=True)
def rows_in(n, alive, codes, wanted):  # pragma: no cover - compiled; tested against FirmTable.in_stage_numpy
    """Rows ``r < n`` with ``alive[r]`` and ``wanted[codes[r]]``, in row order (FirmTable.in_stage)."""
    out = np.empty(n, np.int64)
    k = 0
    for r in range(n):
        if alive[r] and wanted[codes[r]]:
            out[k] = r
            k += 1
    return out[:k]


@numba.njit(cache=True, nogil=True)
def take_floor(rows, zone, floor, free, need_m2):  # pragma: no cover - compiled; tested against _take_floor_python
    """lifecycle._take_floor's loop: each firm of ``rows`` in turn gets ``need_m2`` in its zone while ``free`` lasts.

    Draws ``free`` down and writes ``floor`` in place; returns the rows served, in order.
    """
    served = np.empty(rows.size, np.int64)
    k = 0
    for i in range(rows.size):
        r = rows[i]
        z = zone[r]
        if free[z] >= need_m2:
            free[z] -= need_m2
            floor[r] = need_m2
            served[k] = r
            k += 1
    return served[:k]


@numba.njit(cache=True, nogil=True)
def lead_columns(counts, n_categories, isr_industry, isr_category, clean):  # pragma: no cover - compiled
    """Industry, EIA category and Israeli origin of each lead (arrivals.draw_leads_numpy's columns).

    ``counts`` (flat, industry-major) gives the domestic leads of each (industry, category)
    cell, in cell order; the Israeli leads follow, their category capped at ``clean``.
    """
    n_dom = 0
    for c in counts:
        n_dom += c
    n = n_dom + isr_industry.size
    industry = np.empty(n, np.int64)
    category = np.empty(n, np.int64)
    israeli = np.zeros(n, np.bool_)
    j = 0
    for cell in range(counts.size):
        for _ in range(counts[cell]):
            industry[j] = cell // n_categories
            category[j] = cell % n_categories
            j += 1
    for i in range(isr_industry.size):
        industry[j] = isr_industry[i]
        category[j] = min(isr_category[i], clean)
        israeli[j] = True
        j += 1
    return industry, category, israeli


@numba.njit(cache=True, nogil=True)
def lead_values(  # pragma: no cover - compiled; tested against arrivals.draw_leads_numpy
    industry, israeli, key_u, z, foreign_u, key_share, key_median, medians, sigma, foreign_share
):
    """Planned investment (m yuan) and foreign origin of each lead from its uniforms and normal.

    ``median * exp(sigma * z)`` with the key-project median where ``key_u < key_share``; foreign
    where Israeli or ``foreign_u < foreign_share`` (the same operations as the numpy version).
    """
    investment = np.empty(industry.size)
    foreign = np.empty(industry.size, np.bool_)
    for j in range(industry.size):
        median = key_median if key_u[j] < key_share else medians[industry[j]]
        investment[j] = median * exp1(sigma * z[j])
        foreign[j] = israeli[j] or foreign_u[j] < foreign_share
    return investment, foreign


# Layout of the ``k`` tuple of declared inputs the loop reads (sim.model.lifecycle.growth_inputs builds it).
GROWTH_INPUTS = (
    "drift_factor_operating",
    "drift_factor_mature",
    "funded_months",
    "revenue_per_employee_myuan",
    "talent_rd_shortfall_weight",
    "growth_size_floor_myuan",
    "growth_size_ref_myuan",
    "growth_drift_per_year",
    "growth_drift_size_elasticity",
    "quality_growth_per_year",
    "funding_growth_boost_per_year",
    "talent_shortfall_penalty_per_year",
    "growth_sigma_per_year",
    "growth_sigma_size_exponent",
    "margin_mature",
    "margin_start",
    "margin_months",
    "investment_spend_months",
    "min_floor_m2",
    "m2_per_employee",
    "growing_revenue_myuan",
    "mature_revenue_myuan",
    "mature_age_months",
)


@numba.njit(cache=True, nogil=True)
def growth_month(  # pragma: no cover - compiled; tested against the numpy version
    rows,
    spend_rows,
    eps,
    month,
    k,
    support_growth,
    dt,
    months_per_year,
    people_per_agent,
    rd_share,
    stages,
    capacity,
    n,
    alive,
    stage,
    zone,
    industry,
    funded_month,
    born_month,
    revenue,
    quality,
    loan,
    supported,
    margin,
    profit_ytd,
    cash,
    spend_left,
    investment,
    floor,
    employer,
    skill,
):
    """One month of growth for the firms ``rows`` (in place); returns the zones' occupied floor (m2).

    ``stages``: the stage codes (operating, growing, mature); ``spend_rows``: the firms spending
    planned investment (registered or later); ``eps``: one standard normal per row of ``rows``.
    """
    (
        f_operating,
        f_mature,
        funded_months,
        rev_per_employee,
        rd_weight,
        size_floor,
        size_ref,
        drift,
        drift_size,
        quality_growth,
        funding_boost,
        shortfall_penalty,
        sigma0,
        sigma_exponent,
        margin_mature,
        margin_start,
        margin_months,
        spend_months,
        min_floor,
        m2_per_employee,
        growing_at,
        mature_at,
        mature_age,
    ) = k
    operating, growing, mature = stages
    n_zones = capacity.size
    # staff employed per (firm, class): np.bincount(employer * 2 + skill) over the employed
    have = np.zeros(2 * n, np.int64)
    for t in range(employer.size):
        e = employer[t]
        if e >= 0 and e < n:  # rows beyond the table's used part fall outside, as [: 2 * n] drops them
            have[e * 2 + skill[t]] += 1
    sqrt_dt = math.sqrt(dt)
    margin_span = margin_mature - margin_start
    old_stage = np.empty(rows.size, np.int8)
    path_by_age = np.full(_oldest(rows, born_month, month) + 1, np.nan)
    for j in range(rows.size):
        r = rows[j]
        s = stage[r]
        old_stage[j] = s
        if s == operating:
            factor = f_operating
        elif s == growing:
            factor = 1.0
        else:
            factor = f_mature
        funded = funded_month[r] >= 0 and month - funded_month[r] < funded_months
        # staffing (TalentPool.fill: wanted staff not limited by floor space)
        want = np.int64(math.ceil(revenue[r] / rev_per_employee / people_per_agent))
        share = rd_share[industry[r]]
        rd = np.int64(np.rint(want * share))
        if rd > want:
            rd = want
        want_general = want - rd
        short_general = 0.0
        if want_general > 0:
            short_general = 1.0 - min(have[2 * r] / max(want_general, 1), 1.0)
        short_rd = 0.0
        if rd > 0:
            short_rd = 1.0 - min(have[2 * r + 1] / max(rd, 1), 1.0)
        lost = (1.0 - share) * short_general + share * rd_weight * short_rd
        fill = 1.0 - lost
        if fill < 0.0:
            fill = 0.0
        # revenue growth
        size = revenue[r]
        if size < size_floor:
            size = size_floor
        log_size = log1(size / size_ref)
        if log_size > 0.0:
            log_size = 0.0
        boost = 1.0 if (funded or loan[r] > 0) else 0.0
        mu = (
            drift * factor
            - drift_size * log_size
            + quality_growth * quality[r]
            + funding_boost * boost
            + support_growth * (1.0 if supported[r] else 0.0)
            - shortfall_penalty * (1.0 - fill)
        )
        sigma = sigma0 * exp1(-sigma_exponent * log_size)
        revenue[r] = revenue[r] * exp1(mu * dt + sigma * sqrt_dt * eps[j])
        # profit of the month (margin_of); the age path computed once per age in months (the same bits)
        age = month - born_month[r]
        path = path_by_age[age] if 0 <= age < path_by_age.size else np.nan
        if path != path:
            path = margin_mature - margin_span * exp1(-age / margin_months)
            if 0 <= age < path_by_age.size:
                path_by_age[age] = path
        profit = revenue[r] * (path + margin[r]) / months_per_year
        profit_ytd[r] = profit_ytd[r] + profit
        cash[r] = cash[r] + profit
    # planned investment spent from cash (_spend_investment)
    for j in range(spend_rows.size):
        r = spend_rows[j]
        if spend_left[r] > 0:
            cash[r] = cash[r] - investment[r] / spend_months
            spend_left[r] = spend_left[r] - 1
    # floor space toward what the staff need, within each zone's capacity (_resize_floor)
    grow = np.empty(rows.size)
    for j in range(rows.size):
        r = rows[j]
        want_m2 = revenue[r] / rev_per_employee * m2_per_employee
        if want_m2 < min_floor:
            want_m2 = min_floor
        delta = want_m2 - floor[r]
        floor[r] = floor[r] + min(delta, 0.0)
        grow[j] = max(delta, 0.0)
    occupied = _occupied(n, alive, zone, floor, n_zones)
    asked = np.zeros(n_zones)
    for j in range(rows.size):
        asked[zone[rows[j]]] += grow[j]
    ratio = np.ones(n_zones)
    for z in range(n_zones):
        free = max(capacity[z] - occupied[z], 0.0)
        if asked[z] > free:
            ratio[z] = max(free, 0.0) / asked[z]
    for j in range(rows.size):
        r = rows[j]
        floor[r] = floor[r] + grow[j] * ratio[zone[r]]
    # stage moves on the new revenue
    for j in range(rows.size):
        r = rows[j]
        if old_stage[j] == operating and revenue[r] >= growing_at:
            stage[r] = growing
        elif old_stage[j] == growing and (revenue[r] >= mature_at or month - born_month[r] >= mature_age):
            stage[r] = mature
    return _occupied(n, alive, zone, floor, n_zones)


@numba.njit(cache=True, nogil=True)
def _occupied(n, alive, zone, floor, n_zones):  # pragma: no cover - compiled
    """Floor space of the live firms per zone, added in row order (Zones.recount's bincount)."""
    out = np.zeros(n_zones)
    for r in range(n):
        if alive[r] and zone[r] >= 0:
            out[zone[r]] += floor[r]
    return out


@numba.njit(cache=True, nogil=True)
def _oldest(rows, born_month, month):  # pragma: no cover - compiled
    """The largest age in whole months among ``rows`` (0 if none is older)."""
    oldest = 0
    for j in range(rows.size):
        oldest = max(oldest, month - born_month[rows[j]])
    return oldest


# Layout of the ``k`` tuple of declared inputs exit_month reads (lifecycle.exit_step builds it).
EXIT_INPUTS = (
    "exit_peak_age_years",
    "exit_shape",
    "exit_peak_per_year",
    "growth_size_ref_myuan",
    "exit_size_elasticity",
    "exit_size_factor_max",
    "listed_exit_factor",
    "supported_exit_factor",
    "cash_out_exit_mult",
    "relocation_out_per_year",
    "relocation_out_cost_utility",
)


@numba.njit(cache=True, nogil=True)
def exit_month(  # pragma: no cover - compiled; tested against exit_step_numpy
    rows, u, gap, month, months_per_year, listed, k, born_month, revenue, listing, supported, cash
):
    """Which of ``rows`` close and which relocate out this month, and which were out of cash.

    ``u``: one uniform draw per row; ``gap``: offer_gap of each row. The hazards are those of
    lifecycle.exit_step, computed in its order: age (inverted U), size, listed, supported and
    cash terms, then the relocation hazard ``relocation_out_per_year * 2 / (1 + exp(gap + cost))``.
    """
    (
        peak_age,
        shape,
        peak,
        size_ref,
        size_elasticity,
        size_cap,
        listed_factor,
        supported_factor,
        cash_out_mult,
        relocation_out,
        relocation_cost,
    ) = k
    close = np.zeros(rows.size, np.bool_)
    leave = np.zeros(rows.size, np.bool_)
    broke = np.zeros(rows.size, np.bool_)
    # the age term is a function of the age in whole months alone: computed at the first firm of
    # each age and read for the rest (the same operations on the same number, so the same bits)
    by_age = np.full(_oldest(rows, born_month, month) + 1, np.nan)
    for j in range(rows.size):
        r = rows[j]
        months_old = max(month - born_month[r], 0)  # younger than zero: the age term of zero, as max(age, 0) gives
        h = by_age[months_old]
        if h != h:
            age_years = months_old / months_per_year
            x = max(age_years, 0.0) / peak_age
            h = peak * power1(x, shape) * exp1(shape * (1.0 - x))
            by_age[months_old] = h
        safe = revenue[r] if revenue[r] > 0 else size_ref
        factor = exp1(-size_elasticity * log1(safe / size_ref))
        h = h * min(factor, size_cap)
        h = h * (listed_factor if listing[r] == listed else 1.0)
        h = h * (supported_factor if supported[r] else 1.0)
        broke[j] = cash[r] < 0
        h = h * (cash_out_mult if broke[j] else 1.0)
        x = -(gap[j] + relocation_cost)  # outside_pull(g) = 2 * logistic(-g), logistic(x) = 1 / (1 + exp(-x))
        pull = 2.0 * (1.0 / (1.0 + exp1(-x)))
        h_out = relocation_out * pull
        close[j] = u[j] < h / months_per_year
        leave[j] = not close[j] and u[j] < (h + h_out) / months_per_year
    return close, leave, broke
