"""Compiled passes of the listing pipeline (:func:`sim.model.listing.listing_step`).

The numpy step makes about forty masks over the live firms a month (whose timer
ran out, who may reform, file an IPO, file for the NEEQ, be delisted, who joins
the listing reserve) and then, for the few firms that may file an IPO, about
forty more for the boards' listing standards: a few microseconds each, so about
a tenth of a baseline month. :func:`open_month` makes all of them in one pass
over the rows, reading the listing states held at the start of the month as the
numpy step does; :func:`drawn` is the step's ``rows[u < hazard]``.

Why the results are the same: the masks are comparisons of the same numbers
(the only arithmetic is ``p1 + p2``, ``p1 + p2 + p3``, ``3 * revenue`` and the
sponsor's expected value ``max(pe * max(p1, 0), ps * revenue)``, the same IEEE
operations in the same order, numba compiling without ``fastmath``), rows come
out in row order as ``nonzero`` gives them, and the hazards are
``(h * vc_mult) * reserve_mult`` element by element as numpy multiplies them.
No draw is made here: the step draws from its stream between the passes in the
numpy step's order and sizes. ``tests/test_fast_paths.py`` compares both with the
numpy code (:func:`sim.model.listing.listing_step_numpy`,
:func:`sim.model.markets.eligible_boards`).
"""

from __future__ import annotations

import numba
import numpy as np

# Listing-state and stage codes in the order open_month takes them (names of sim.model.firms) [definition]
CODES = ("NONE", "REFORMING", "REFORMED", "NEEQ_FILED", "NEEQ", "IPO_FILED", "LISTED", "OPERATING", "GROWING", "MATURE")
# Gates of the step in the order open_month takes them (names of sim.model.params) [definition]
GATES = ("reserve_revenue_myuan", "reform_min_revenue_myuan", "ipo_min_age_months", "neeq_min_age_months")
# Listing standards in the order open_month takes them (sim.model.markets.eligible_rules) [definition]
RULES = (
    "main_min_profit_3y",
    "main_min_profit_1y",
    "main_min_revenue_3y",
    "main_revenue_years",
    "chinext_min_profit_2y",
    "chinext_min_value",
    "chinext_min_profit_1y",
    "chinext_min_revenue",
    "star1_min_value",
    "star1_min_profit_2y",
    "star1_min_revenue",
    "star2_min_value",
    "star2_min_revenue",
    "star4_min_value",
    "star4_min_revenue",
    "bse_min_value",
    "bse_min_profit_1y",
    "hk_min_profit_3y",
    "hk_min_profit_1y",
    "hk_18a_min_value",
    "pe_exchange",
    "ps_exchange_floor",
)
# Board codes and switches in the order open_month takes them (sim.model.markets.eligible_rules) [definition]
BOARD_CODES = ("NO_BOARD", "MAIN", "CHINEXT", "STAR", "BSE")
SWITCHES = ("main_registration", "chinext_registration", "star_open", "bse_open", "hk_18a_open")


@numba.njit(cache=True, nogil=True, inline="always")
def _np_max(a, b):  # pragma: no cover - compiled
    """``np.maximum(a, b)`` of two floats: the larger, NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@numba.njit(cache=True, nogil=True)
def open_month(
    n,
    alive,
    listing,
    listing_timer,
    reserve,
    stage,
    industry,
    revenue,
    p1_col,
    p2_col,
    p3_col,
    born_month,
    quoted_month,
    month,
    codes,
    gates,
    rules,
    switches,
    board_codes,
    preference,
    is_rd_industry,
    star_excluded_industry,
    health_industry,
    bse_min_quoted_months,
):  # pragma: no cover - compiled; tested against listing.listing_step_numpy
    """One pass over the rows: timers counted down, the reserve joined, and the month's candidate rows.

    Returns ``(new_reserve, done, quoted, decided, can_reform, can_ipo, board, overseas,
    neeq_candidates, quoted_candidates)``: how many joined the reserve; rows whose reform,
    NEEQ filing or IPO queue ends now; rows that may start a reform; rows that may file an
    IPO with each one's preferred domestic board (``NO_BOARD`` where none fits) and whether
    it meets the overseas standards; rows reformed and old enough for the NEEQ; rows quoted
    on the NEEQ, each as the start of the month held it.
    """
    none, reforming, reformed, neeq_filed, neeq, ipo_filed, listed, operating, growing, mature = codes
    reserve_revenue, reform_min_revenue, ipo_min_age, neeq_min_age = gates
    (main_3y, main_1y, main_rev3y, main_years, ch_2y, ch_value, ch_1y, ch_rev, s1_value, s1_2y, s1_rev, s2_value,
     s2_rev, s4_value, s4_rev, bse_value, bse_1y, hk_3y, hk_1y, hk_18a_value, pe, ps_floor) = rules  # fmt: skip
    main_reg, chinext_reg, star_open, bse_open, hk_18a_open = switches
    no_board, main, chinext, star, bse = board_codes
    done = np.empty(n, np.int64)
    quoted = np.empty(n, np.int64)
    decided = np.empty(n, np.int64)
    can_reform = np.empty(n, np.int64)
    can_ipo = np.empty(n, np.int64)
    board = np.empty(n, np.int8)
    overseas = np.empty(n, np.bool_)
    neeq_cand = np.empty(n, np.int64)
    quoted_cand = np.empty(n, np.int64)
    n_done = n_quoted = n_decided = n_reform = n_ipo = n_neeq = n_quoted_cand = new_reserve = 0
    for r in range(n):
        if not alive[r]:
            continue
        state = listing[r]
        timer = listing_timer[r] - 1
        if timer < 0:
            timer = 0
        listing_timer[r] = timer
        timer_done = timer == 0
        if not reserve[r] and revenue[r] >= reserve_revenue and p1_col[r] > 0 and state < listed:
            reserve[r] = True
            new_reserve += 1
        if timer_done:
            if state == reforming:
                done[n_done] = r
                n_done += 1
            elif state == neeq_filed:
                quoted[n_quoted] = r
                n_quoted += 1
            elif state == ipo_filed:
                decided[n_decided] = r
                n_decided += 1
        s = stage[r]
        if state == none and (s == operating or s == growing or s == mature) and revenue[r] >= reform_min_revenue:
            can_reform[n_reform] = r
            n_reform += 1
        age = month - born_month[r]
        if (state == reformed or state == neeq) and age >= ipo_min_age and timer_done:
            p1, p2, p3, rev, ind = p1_col[r], p2_col[r], p3_col[r], revenue[r], industry[r]
            value = _np_max(pe * _np_max(p1, 0.0), ps_floor * rev)
            neeq_months = month - quoted_month[r] if state == neeq else -1
            two_pos = p1 > 0 and p2 > 0
            three_pos = two_pos and p3 > 0
            if main_reg:
                ok_main = three_pos and p1 + p2 + p3 >= main_3y and p1 >= main_1y and main_years * rev >= main_rev3y
            else:
                ok_main = three_pos and p1 + p2 + p3 >= main_3y and main_years * rev >= main_rev3y
            if chinext_reg:
                ok_chinext = (two_pos and p1 + p2 >= ch_2y) or (value >= ch_value and p1 > 0 and rev >= ch_rev)
            else:
                ok_chinext = (two_pos and p1 + p2 >= ch_2y) or (p1 >= ch_1y and rev >= ch_rev)
            star1 = value >= s1_value and ((two_pos and p1 + p2 >= s1_2y) or (p1 > 0 and rev >= s1_rev))
            star2 = value >= s2_value and rev >= s2_rev and is_rd_industry[ind]
            star4 = value >= s4_value and rev >= s4_rev
            ok_star = ind != star_excluded_industry and (star1 or star2 or star4) and star_open
            ok_bse = neeq_months >= bse_min_quoted_months and value >= bse_value
            ok_bse = ok_bse and p1 >= bse_1y and p2 >= bse_1y and bse_open
            chosen = no_board
            for b in preference:  # the first board of the preference order whose standards it meets
                if (
                    (b == star and ok_star)
                    or (b == main and ok_main)
                    or (b == chinext and ok_chinext)
                    or (b == bse and ok_bse)
                ):
                    chosen = b
                    break
            can_ipo[n_ipo] = r
            board[n_ipo] = chosen
            hk_profit = p1 + p2 + p3 >= hk_3y and p1 >= hk_1y
            overseas[n_ipo] = hk_profit or (ind == health_industry and value >= hk_18a_value and hk_18a_open)
            n_ipo += 1
        if state == reformed and age >= neeq_min_age:
            neeq_cand[n_neeq] = r
            n_neeq += 1
        if state == neeq:
            quoted_cand[n_quoted_cand] = r
            n_quoted_cand += 1
    return (
        new_reserve,
        done[:n_done],
        quoted[:n_quoted],
        decided[:n_decided],
        can_reform[:n_reform],
        can_ipo[:n_ipo],
        board[:n_ipo],
        overseas[:n_ipo],
        neeq_cand[:n_neeq],
        quoted_cand[:n_quoted_cand],
    )


@numba.njit(cache=True, nogil=True)
def drawn(rows, u, h, vc_backed, vc_mult, reserve, reserve_mult):  # pragma: no cover - compiled; tested via the step
    """``rows[u < (h * where(vc_backed, vc_mult, 1)) * where(reserve, reserve_mult, 1)]``, in row order."""
    out = np.empty(len(rows), np.int64)
    k = 0
    for i in range(len(rows)):
        r = rows[i]
        hazard = h * (vc_mult if vc_backed[r] else 1.0)
        hazard = hazard * (reserve_mult if reserve[r] else 1.0)
        if u[i] < hazard:
            out[k] = r
            k += 1
    return out[:k]
