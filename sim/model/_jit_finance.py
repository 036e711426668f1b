"""Compiled loop of the VC deals (:meth:`sim.model.finance.Finance._vc_deals`): who leads each round.

For each firm chosen for a round, in order, the numpy version finds the equity
investors with capital for the round (``np.flatnonzero``), draws one by its
preference for the firm's industry (``finance.weighted_index``: one uniform,
inverse CDF) and takes the round from its capital: about eight array calls per
deal. This loop does the same in one call: the same comparisons, the CDF as
``(w / w.sum()).cumsum() / last`` with numpy's pairwise sum
(:func:`sim.model._jit.pairwise_sum`), the same search. The uniforms come from
numpy: the caller draws one per chosen firm, the loop uses them in order for the
firms that find an investor and says how many it used, and the caller rewinds
the stream to after those, so the stream is where one draw per deal leaves it.
``tests/test_fast_paths.py`` compares the two.

:func:`deal_candidates` and :func:`deal_chosen` are the masks before the rounds (the
firms that may take a round; those whose uniform falls under their deal hazard): the
same comparisons, and the hazard ``(h * centre) * exp(s * signal - s**2 / 2)`` with
``signal = (quality + sd * noise) / sqrt(1 + sd**2)``, the same IEEE operations in the
same order as numpy's element-wise ones (exp by :func:`sim.model._jit.exp1`,
portable.exp's operations).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.model._jit import exp1, pairwise_sum


@numba.njit(cache=True, nogil=True)
def vc_leads(chosen, u, capital, preference, industry, revenue, min_deal, deal_per_revenue):  # pragma: no cover
    """The lead investor (-1: none had the capital) and the round's size for each chosen firm; draws used.

    ``capital`` (of the equity investors, in their order) is drawn down in place by each round;
    ``deal_per_revenue`` is ``vc_deal_share * ps_private``.
    """
    lead = np.full(chosen.size, -1, np.int64)
    size = np.empty(chosen.size)
    weights = np.empty(capital.size)
    able = np.empty(capital.size, np.int64)
    used = 0
    for j in range(chosen.size):
        r = chosen[j]
        s = max(min_deal, deal_per_revenue * revenue[r])
        size[j] = s
        m = 0
        for i in range(capital.size):
            if capital[i] >= s:
                able[m] = i
                weights[m] = preference[i, industry[r]]
                m += 1
        if m == 0:
            continue
        total = pairwise_sum(weights, 0, m)
        cdf = 0.0
        last = 0.0
        for k in range(m):  # the running sum's last value first: every step divides by it
            last += weights[k] / total
        pick = m - 1
        for k in range(m):
            cdf += weights[k] / total
            if cdf / last > u[used]:
                pick = k
                break
        used += 1
        lead[j] = able[pick]
        capital[able[pick]] -= s
    return lead, size, used


@numba.njit(cache=True, nogil=True)
def deal_candidates(n, alive, stage, listing, stages, below_listing):  # pragma: no cover - compiled
    """Rows of live firms in one of ``stages`` with a listing state below ``below_listing``, in row order."""
    out = np.empty(n, np.int64)
    k = 0
    for r in range(n):
        if alive[r] and listing[r] < below_listing:
            s = stage[r]
            for code in stages:
                if s == code:
                    out[k] = r
                    k += 1
                    break
    return out[:k]


@numba.njit(cache=True, nogil=True)
def deal_chosen(
    rows, u, h, zone, centre_zone, centre_mult, quality, noise, sd, signal_sd, s, half_s2
):  # pragma: no cover
    """``rows[u < (h * where(zone == centre, centre_mult, 1)) * exp(s * signal - half_s2)]``, in row order.

    ``signal = (quality + sd * noise) / signal_sd``; ``signal_sd`` is ``sqrt(1 + sd**2)`` and
    ``half_s2`` is ``s * s / 2``, as the caller computes them once.
    """
    out = np.empty(rows.size, np.int64)
    k = 0
    for i in range(rows.size):
        r = rows[i]
        hazard = h * (centre_mult if zone[r] == centre_zone else 1.0)
        signal = (quality[r] + sd * noise[r]) / signal_sd
        hazard = hazard * exp1(s * signal - half_s2)
        if u[i] < hazard:
            out[k] = r
            k += 1
    return out[:k]
