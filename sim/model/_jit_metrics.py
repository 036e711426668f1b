"""Compiled tally of the firms in the park for the monthly reporters (:func:`sim.model.metrics.tally`).

About forty reporters each count or add one column of the firms in the park
(firms per industry, zone and listing state, firms listed per board, the
Israeli, foreign, leading, supported, VC-backed and high-pollution firms, the
revenue of the park and of each industry): with numpy that is a mask and a sum
per reporter, a few microseconds each. This loop makes every count in one pass
over the rows and adds the revenues with numpy's pairwise summation
(:func:`sim.model._jit.pairwise_sum`) over the same values in the same order
(each industry's revenues gathered in row order, as ``revenue[industry == i]``
gives them), so every float has the bits ``ndarray.sum`` gives. The counts are
integers, exact either way. The same pass counts the quoted firms in each NEEQ tier
(:func:`sim.model.markets.neeq_tiers`' tests), and :func:`census` the live firms per
stage, the live graphene firms and the talent agents per zone and employed (each a
mask and a count in numpy). ``tests/test_fast_paths.py`` compares them with
:func:`sim.model.metrics.tally_numpy`.

:func:`valuation` is :func:`sim.model.listing.valuation_myuan` (the market values three
reporters and the listing step read; about 45 µs a call with numpy's masks and
``portable.power`` inside a run) as one loop.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.model._jit import pairwise_sum, power1

# Order of the single counts after the per-code counts (the names tally() gives them) [definition]
SINGLE_COUNTS = (
    "israeli",
    "foreign",
    "leading",
    "supported",
    "vc_backed",
    "high_pollution",
    "graphene_neeq",
    "neeq_innovation",
    "neeq_select",
)
_N_SINGLE = len(SINGLE_COUNTS)
# Order of the flags project_counts counts after the industries [definition]
PROJECT_FLAGS = ("key_project", "israeli", "foreign", "high_pollution")
_N_PROJECT_FLAGS = len(PROJECT_FLAGS)


@numba.njit(cache=True, nogil=True)
def tally(
    rows,
    industry,
    zone,
    listing,
    board,
    israeli,
    foreign,
    leading,
    supported,
    vc_backed,
    pollution,
    revenue,
    high_index,
    sizes,
    listed,
    neeq,
    graphene,
    p1_col,
    p2_col,
    quoted_month,
    month,
    tiers,
    tiers_open,
):  # pragma: no cover - compiled; tested against metrics.tally_numpy
    """Counts (industries, zones, listing states, listed firms per board, then SINGLE_COUNTS) and revenue sums.

    ``sizes`` = (industries, zones, listing states, boards); the sums are the park's revenue,
    then each industry's. The NEEQ tiers are sim.model.markets.neeq_tiers' tests of the quoted
    firms: ``tiers`` = (innovation tier's mean profit, select tier's profit, select tier's months
    quoted), ``tiers_open`` whether each tier exists this month.
    """
    innovation_min, select_min, select_months = tiers
    innovation_open, select_open = tiers_open
    n_industry, n_zone, n_listing, n_board = sizes
    at_zone = n_industry
    at_listing = at_zone + n_zone
    at_board = at_listing + n_listing
    at_single = at_board + n_board
    counts = np.zeros(at_single + _N_SINGLE, np.int64)
    n = rows.size
    rev = np.empty(n)
    by_industry = np.empty((n_industry, n))
    for j in range(n):
        r = rows[j]
        i = industry[r]
        state = listing[r]
        by_industry[i, counts[i]] = revenue[r]
        counts[i] += 1
        if zone[r] >= 0:  # a firm without a zone counts in none, as (zone == z).sum() counts it
            counts[at_zone + zone[r]] += 1
        counts[at_listing + state] += 1
        if state == listed:
            counts[at_board + board[r]] += 1
        k = at_single  # in SINGLE_COUNTS order
        for flag in (
            israeli[r],
            foreign[r],
            leading[r],
            supported[r],
            vc_backed[r],
            pollution[r] > high_index,
            (state == neeq) and (i == graphene),
        ):
            counts[k] += flag
            k += 1
        if state == neeq:  # innovation tier unless in the select tier (the innovation & ~select of neeq_tiers)
            p1, p2 = p1_col[r], p2_col[r]
            select = p1 >= select_min and p2 >= select_min and month - quoted_month[r] >= select_months and select_open
            counts[k] += (p1 + p2) / 2.0 >= innovation_min and innovation_open and not select
            counts[k + 1] += select
        rev[j] = revenue[r]
    sums = np.empty(1 + n_industry)
    sums[0] = pairwise_sum(rev, 0, n)
    for i in range(n_industry):
        sums[1 + i] = pairwise_sum(by_industry[i], 0, counts[i])
    return counts, sums


@numba.njit(cache=True, nogil=True)
def project_counts(
    rows, industry, key_project, israeli, foreign, pollution, high_index, n_industries
):  # pragma: no cover - compiled
    """Projects of ``rows`` per industry, then the key, Israeli, foreign and high-pollution ones (PROJECT_FLAGS).

    The counts of :func:`sim.model.arrivals.count_projects` (tested against count_projects_numpy).
    """
    counts = np.zeros(n_industries + _N_PROJECT_FLAGS, np.int64)
    for r in rows:
        counts[industry[r]] += 1
        k = n_industries  # in PROJECT_FLAGS order
        for flag in (key_project[r], israeli[r], foreign[r], pollution[r] > high_index):
            counts[k] += flag
            k += 1
    return counts


@numba.njit(cache=True, nogil=True)
def census(n, alive, stage, industry, n_stages, graphene, talent_zone, employer, n_zones):  # pragma: no cover
    """Live firms per stage, live graphene firms (signed ones included), talent agents per zone, employed agents.

    One array: ``n_stages`` stage counts, the graphene count, ``n_zones`` zone counts, the
    employed count (compiled; tested against metrics.tally_numpy).
    """
    at_graphene = n_stages
    at_zone = at_graphene + 1
    at_employed = at_zone + n_zones
    counts = np.zeros(at_employed + 1, np.int64)
    for r in range(n):
        if alive[r]:
            counts[stage[r]] += 1
            counts[at_graphene] += industry[r] == graphene
    for t in range(talent_zone.size):
        counts[at_zone + talent_zone[t]] += 1
        counts[at_employed] += employer[t] >= 0
    return counts


@numba.njit(cache=True, nogil=True)
def valuation(
    rows, listing, revenue, listing_revenue, ps_listed, listed, neeq, ps_neeq, ps_private, elasticity, level
):  # pragma: no cover - compiled; tested against listing.valuation_numpy
    """sim.model.listing.valuation_numpy, row by row: the same operations in the same order, so the same bits.

    A listed firm: ``ps_listed * at_listing * max(growth, 0) ** elasticity * level`` with ``growth =
    revenue / at_listing`` (divided by 1 when ``at_listing`` is not positive; NaN kept, as
    ``np.maximum`` keeps it); a quoted one ``ps_neeq * revenue``, any other ``ps_private * revenue``.
    """
    out = np.empty(rows.size)
    for j in range(rows.size):
        r = rows[j]
        rev = revenue[r]
        state = listing[r]
        if state == listed:
            at = listing_revenue[r]
            growth = rev / (at if at > 0.0 else 1.0)
            base = growth if (growth >= 0.0 or growth != growth) else 0.0
            out[j] = ps_listed[r] * at * power1(base, elasticity) * level
        else:
            out[j] = (ps_neeq if state == neeq else ps_private) * rev
    return out
