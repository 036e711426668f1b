"""Compiled loops of the zones' location logit (:meth:`sim.model.zones.Zones.utility` and ``offer_gap``).

The numpy version makes about 20 array calls per call (the cluster shares from
every live firm, then the utility matrix), three or four times a month. These
loops do the same operations in the same order (numba, ``fastmath`` off; the
cluster counts are whole numbers, exact in any order), so the results are the
same to the last bit on every CPU. ``tests/test_fast_paths.py`` compares them
with :meth:`~sim.model.zones.Zones.utility_numpy`; the whole-run tables are
compared with ``PARKSIM_NO_JIT=1`` in ``tests/test_portable.py``.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.model._jit import power1


@numba.njit(cache=True, nogil=True)
def _cell_counts(n, alive, zone, industry, n_industries, n_zones):  # pragma: no cover - compiled
    """Live firms per (industry, zone) cell, as floats, and per zone (Zones._cell_counts and its column sums)."""
    counts = np.zeros((n_industries, n_zones))
    for r in range(n):
        if alive[r] and zone[r] >= 0:
            counts[industry[r], zone[r]] += 1.0
    col = np.zeros(n_zones)
    for z in range(n_zones):
        for i in range(n_industries):
            col[z] += counts[i, z]
    return counts, col


@numba.njit(cache=True, nogil=True)
def _share_of_zone(share, counts, col, z):  # pragma: no cover - compiled
    """Column ``z`` of the cluster shares from the counts: ``counts / max(col, 1)``."""
    for i in range(counts.shape[0]):
        share[i, z] = counts[i, z] / max(col[z], 1.0)


@numba.njit(cache=True, nogil=True)
def cluster_share(n, alive, zone, industry, n_industries, n_zones):  # pragma: no cover - compiled
    """Share of each zone's live firms in each industry (industries x zones; Zones.industry_share)."""
    counts, col = _cell_counts(n, alive, zone, industry, n_industries, n_zones)
    share = np.empty((n_industries, n_zones))
    for z in range(n_zones):
        _share_of_zone(share, counts, col, z)
    return share


@numba.njit(cache=True, nogil=True)
def _one(i, z, industry, stage, israeli, betas, share, affinity, stage_affinity, services, rent, bonus, central):
    """Utility of zone ``z`` for chooser ``i`` (Zones.utility's sum, term by term in its order)."""  # noqa: D401
    b_aff, b_cluster, b_services, b_rent = betas
    ind = industry[i]
    u = (
        b_aff * (affinity[ind, z] + stage_affinity[stage[i], z])
        + b_cluster * share[ind, z]
        + b_services * services[z]
        - b_rent * rent[z]
    )
    if z == central:
        u = u + (b_aff * bonus if israeli[i] else 0.0)
    return u


@numba.njit(cache=True, nogil=True)
def utility(  # pragma: no cover - compiled; tested against Zones.utility_numpy
    industry, stage, israeli, betas, share, affinity, stage_affinity, services, rent, bonus, central
):
    """Systematic utility of each zone for each chooser (choosers x zones), without the size term."""
    n_zones = services.size
    out = np.empty((industry.size, n_zones))
    for i in range(industry.size):
        for z in range(n_zones):
            out[i, z] = _one(i, z, industry, stage, israeli, betas, share, affinity, stage_affinity, services, rent,
                             bonus, central)  # fmt: skip
    return out


@numba.njit(cache=True, nogil=True)
def own_zone_gap(  # pragma: no cover - compiled; tested against offer_gap's numpy version
    rows,
    industry,
    stage,
    israeli,
    zone,
    betas,
    share,
    affinity,
    stage_affinity,
    services,
    rent,
    bonus,
    central,
    outside,
):
    """Utility of each firm of ``rows``'s own zone minus the outside utility (offer_gap).

    The columns are the firm table's whole columns, read at ``rows`` (no gathered copies).
    """
    out = np.empty(rows.size)
    for k in range(rows.size):
        r = rows[k]
        u = _one(r, zone[r], industry, stage, israeli, betas, share, affinity, stage_affinity, services, rent, bonus,
                 central)  # fmt: skip
        out[k] = u - outside
    return out


@numba.njit(cache=True, nogil=True)
def serve_in_order(util, out_util, free, need, no_room, outside_won):  # pragma: no cover - compiled
    """Zones.choose's serving loop: each chooser in turn takes its best zone with room, or the outside option.

    ``util``: utilities with their shocks (choosers x zones; -inf where excluded); the zones are tried
    from the highest utility down, ties in zone order (``np.argsort(-util)`` of three numbers). ``free``
    is drawn down in place. Returns the zone per chooser, ``no_room`` or ``outside_won``.
    """
    n_zones = free.size
    out = np.full(util.shape[0], no_room, np.int8)
    tried = np.zeros(n_zones, np.bool_)
    for i in range(util.shape[0]):
        tried[:] = False
        for _ in range(n_zones):
            z = -1
            for c in range(n_zones):  # the best untried zone, the first on a tie
                if not tried[c] and (z < 0 or -util[i, c] < -util[i, z]):
                    z = c
            tried[z] = True
            if np.isfinite(util[i, z]) and free[z] >= need[i]:
                if util[i, z] < out_util[i]:
                    out[i] = outside_won
                else:
                    out[i] = z
                    free[z] -= need[i]
                break
    return out


@numba.njit(cache=True, nogil=True)
def reconsider(  # pragma: no cover - compiled; tested against Zones.reconsider_python
    zone,
    industry,
    stage,
    israeli,
    floor,
    shock,
    betas,
    affinity,
    stage_affinity,
    services,
    rent,
    bonus,
    central,
    capacity,
    occupied,
    n,
    alive,
    firm_zone,
    firm_industry,
    n_industries,
):
    """Zones.reconsider's pass over the movers: each in turn takes its best zone with room, seeing the moves before it.

    ``zone`` (each mover's current zone) and ``occupied`` are updated in place; the cluster
    counts start from the live firms and follow each move, as the Python loop keeps them.
    """
    n_zones = services.size
    counts, col = _cell_counts(n, alive, firm_zone, firm_industry, n_industries, n_zones)
    share = np.empty((n_industries, n_zones))
    for z in range(n_zones):
        _share_of_zone(share, counts, col, z)
    for i in range(zone.size):
        cur, ind, need = zone[i], industry[i], floor[i]
        occupied[cur] -= need
        best, best_u = cur, -np.inf
        for z in range(n_zones):
            u = _one(i, z, industry, stage, israeli, betas, share, affinity, stage_affinity, services, rent, bonus,
                     central) + shock[i, z]  # fmt: skip
            if u > best_u and max(capacity[z] - occupied[z], 0.0) >= need:
                best, best_u = z, u
        occupied[best] += need
        if best != cur:  # the move changes two zones' counts, so their shares, for the movers after it
            counts[ind, cur] -= 1.0
            counts[ind, best] += 1.0
            col[cur] -= 1.0
            col[best] += 1.0
            _share_of_zone(share, counts, col, cur)
            _share_of_zone(share, counts, col, best)
            zone[i] = best


@numba.njit(cache=True, nogil=True)
def cluster_factor(n, alive, industry, reference, elasticity):  # pragma: no cover - compiled
    """ParkModel.cluster_factor: ``(max(live firms of i, 1) / max(ref_i, 1)) ** elasticity`` per industry.

    The counts are whole numbers (exact in any order), the ratio and the power the same IEEE
    operations as the numpy version (power by :func:`sim.model._jit.power1`); tested against
    ParkModel.cluster_factor_numpy.
    """
    counts = np.zeros(reference.size, np.int64)
    for r in range(n):
        if alive[r]:
            counts[industry[r]] += 1
    out = np.empty(reference.size)
    for i in range(reference.size):
        out[i] = power1(max(counts[i], 1) / max(reference[i], 1.0), elasticity)
    return out


@numba.njit(cache=True, nogil=True)
def zone_sums(n, alive, zone, floor, pollution, talent_agents, people_per_agent, revenue, n_zones):  # pragma: no cover
    """Zones.zone_sums_numpy in one pass: floor, pollution load, people and revenue per zone of the live firms.

    Each sum adds its terms in row order, as ``np.bincount`` adds its weights (so the same bits);
    the people are whole numbers. Compiled; tested against Zones.zone_sums_numpy.
    """
    out_floor = np.zeros(n_zones)
    out_load = np.zeros(n_zones)
    out_people = np.zeros(n_zones)
    out_revenue = np.zeros(n_zones)
    for r in range(n):
        z = zone[r]
        if alive[r] and z >= 0:
            out_floor[z] += floor[r]
            out_load[z] += pollution[r] * floor[r]
            out_people[z] += float(talent_agents[r] * people_per_agent)
            out_revenue[z] += revenue[r]
    return out_floor, out_load, out_people, out_revenue
