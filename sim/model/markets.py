"""Capital markets as they were: boards, their dated rules, review outcomes, queues, market values.

Every rule here is dated and sourced; :mod:`sim.model.listing` applies them to
the park's firms. Dates of rule changes are declared inputs (``*_yyyymm`` in
:mod:`sim.model.params`, so a scenario can move them); the yearly series below
are facts with a source each. A year outside a series takes the value of the
nearest year inside it (the last known value holds), which is how the rules
stay defined when the horizon is extended (to 2025-12, say).

Boards (``BOARDS``): ``main`` (SSE/SZSE main board and the SZSE SME board, which
had the same IPO measures and merged into the SZSE main board in 2021),
``chinext``, ``star`` (SSE STAR Market), ``bse`` (Beijing Stock Exchange) and
``overseas`` (Hong Kong or US listing).
"""

from __future__ import annotations

import numpy as np

from sim.model.params import INDUSTRIES
from sim.model.units import MONTHS_PER_YEAR, MYUAN_PER_BNYUAN

YYYYMM_PER_YEAR = 100  # a yyyymm date is year * 100 + month (definition)
# The main board's 3-year revenue test is met by 3 book years at the current revenue [assumption:
# the firm table keeps one revenue], so it compares this many times the current revenue.
MAIN_REVENUE_TEST_YEARS = 3.0

# Board codes (definition): index into BOARDS
BOARDS = ("none", "main", "chinext", "star", "bse", "overseas")
NO_BOARD, MAIN, CHINEXT, STAR, BSE, OVERSEAS = range(6)
DOMESTIC = (MAIN, CHINEXT, STAR, BSE)
# Preference when a firm meets several domestic boards' standards: the board with the highest
# median market value first (STAR, main, ChiNext, BSE; medians in params) [assumption]
PREFERENCE = (STAR, MAIN, CHINEXT, BSE)
# STAR positioning (new materials, biomedicine, IT, high-end equipment; novely.vip summary of the
# SSE STAR guidance, M): every park industry but film/culture/tourism (industry index 3) [assumption]
STAR_EXCLUDED_INDUSTRY = 3
# Firms taken to meet STAR standard 2's R&D test (3-year R&D >= 15% of revenue): graphene (0) and
# health/medical devices (1) [assumption: the firm table has no R&D spending]
RD_INDUSTRIES = (0, 1)
HEALTH_INDUSTRY = 1  # HKEX Chapter 18A (pre-revenue biotech) applies to health firms [assumption]
# RD_INDUSTRIES as a look-up table by industry code (np.isin without its per-call cost)
IS_RD_INDUSTRY = np.zeros(len(INDUSTRIES), dtype=bool)
IS_RD_INDUSTRY[list(RD_INDUSTRIES)] = True
IS_RD_INDUSTRY.flags.writeable = False

# ---- IPO review outcome and queue, by year (H/M/L = confidence of the source)
# Approval (核准制) boards: share of reviewed IPO applications approved.
APPROVAL_RATE_BY_YEAR = {
    2016: 0.84,  # 84% in early 2017 stands for 2016 (shine.cn 2018-05-23; chinabankingnews 2018-05-02), L
    2017: 0.779,  # 380 of 488 reviewed (chinabankingnews.com 2018-04-02), H
    2018: 0.486,  # CGTN 2019-01-04 (news.cgtn.com), H
    2019: 0.857,  # 138 of 161 reviewed by the CSRC committee (globallegalinsights.com, IPO laws China), H
}
# Registration (注册制) boards: share of applications passed by the exchange's listing committee.
REGISTRATION_PASS_RATE_BY_YEAR = {
    2019: 0.948,  # STAR: 109 of 115 deliberated (globallegalinsights.com, IPO laws China), H
    2023: 0.858,  # all boards to 2023-07-05, main board near 90% (lwxsd.com 2023-07-06, Wind data), M
}
# Months from filing to the decision, approval boards.
APPROVAL_QUEUE_MONTHS_BY_YEAR = {
    2016: 24.7,  # 753 days application to review (chinabankingnews.com 2017-07-14), H
    2017: 21.5,  # 654 days for H1-2017 approvals (same), H
    2018: 14.0,  # backlog 895 (2016-06) -> 279 (2018-05) (news.cgtn.com 2018-06) [derived], L
}
# Months from filing to registration, registration boards.
REGISTRATION_QUEUE_MONTHS_BY_YEAR = {
    2019: 5.0,  # about 5 months (CSRC via ecns.cn 2021-02-27; priors.md), M
    2021: 11.5,  # STAR 330 days, ChiNext 368 days in 2021 (wodefinance.com, 2021 IPO queue analysis), M
}
_CSI300_CLOSE = {  # CSI 300 year-end closes
    2014: 3533.71,
    2015: 3731.00,
    2016: 3310.08,
    2017: 4030.85,
    2018: 3010.65,
    2019: 4096.58,
    2020: 5211.29,
    2021: 4940.37,
    2022: 3871.63,
}
# A-share market level: CSI 300 year-end close / end-2018 close (enwikipedia.net CSI 300 table; 2021-2022 from
# annual returns -5.20%, -21.63%, marketcyclelab.blogspot.com 2023-02), H; later years hold 2022 [assumption]
MARKET_LEVEL_BY_YEAR = {y: v / _CSI300_CLOSE[2018] for y, v in _CSI300_CLOSE.items()}
# ---- NEEQ, by year
# New quotations relative to 2016 (multiplies p_neeq_file_per_year).
NEEQ_ENTRY_INDEX_BY_YEAR = {
    2016: 1.0,  # about 5,020 new in 2016 [derived: 1,467 in 2017 was 70.8% fewer] (ecns.cn 2018-01-04), M
    2017: 0.292,  # 1,467 new in 2017 (ecns.cn 2018-01-04), M
    2018: 0.12,  # between the 2017 and 2019 points [derived, geometric mean], L
    2019: 0.051,  # 233 new in Jan-Nov 2019 -> about 254 a year (urdupoint.com 2019-12-09, Xinhua) [derived], M
}
# Share of quoted firms delisted per year.
NEEQ_DELIST_PER_YEAR_BY_YEAR = {
    2016: 0.01,  # the board grew from 7,658 (mid-2016) to 11,630 (2017); few exits [judgement], L
    2017: 0.06,  # population flat in H2 2017 at about 11,300-11,630 (globaltimes.cn 2017-07-15) [judgement], L
    2018: 0.12,  # between the 2017 and 2019 points [derived], L
    2019: 0.142,  # 1,182 of about 9,100 in 11 months (urdupoint.com 2019-12-09, Xinhua) [derived], M
}

# ---- listing standards (m yuan; profits are net profits of book years, value the expected market value)
# SSE/SZSE main-board listing rules 2023, standard 1 (CSRC full registration, 2023-02-17), M
MAIN_REG_MIN_PROFIT_3Y_MYUAN = 150.0  # cumulative over 3 positive years
MAIN_REG_MIN_PROFIT_1Y_MYUAN = 60.0  # last year
MAIN_REG_MIN_REVENUE_3Y_MYUAN = 1000.0  # cumulative revenue (or operating cash flow >= 100 m, not modelled)
# ChiNext IPO measures (approval, CSRC 2014; China Daily 2009-10-29 FAQ): route 2, H
CHINEXT_MIN_PROFIT_1Y_MYUAN = 5.0  # last year's profit (the 30% revenue-growth test is not modelled)
CHINEXT_MIN_REVENUE_MYUAN = 50.0
# ChiNext listing rules 2020 (SZSE, registration from 2020-08-24; tonhe.com.cn SZSE explainer), M
CHINEXT_REG_MIN_PROFIT_2Y_MYUAN = 50.0  # standard 1: 2 positive years
CHINEXT_REG_MIN_VALUE_MYUAN = 1000.0  # standard 2, with a positive last year and revenue >= 100 m
CHINEXT_REG_MIN_REVENUE_MYUAN = 100.0
# SSE STAR listing rules 2019 (en.doing.city summary; star.sse.com.cn offering requirements), M
STAR1_MIN_VALUE_MYUAN = 1000.0  # standard 1: with 2-year profit >= 50 m, or a positive year and revenue >= 100 m
STAR1_MIN_PROFIT_2Y_MYUAN = 50.0
STAR1_MIN_REVENUE_MYUAN = 100.0
STAR2_MIN_VALUE_MYUAN = 1500.0  # standard 2: revenue >= 200 m and 3-year R&D >= 15% of revenue, no profit test
STAR2_MIN_REVENUE_MYUAN = 200.0
STAR4_MIN_VALUE_MYUAN = 3000.0  # standard 4: revenue >= 300 m, no profit test
STAR4_MIN_REVENUE_MYUAN = 300.0
# BSE listing rules 2021, standard 1 (ROE test not modelled), M; NEEQ select tier first (>= 12 months quoted)
BSE_MIN_VALUE_MYUAN = 200.0
BSE_MIN_PROFIT_1Y_MYUAN = 15.0  # in each of the last 2 years
BSE_MIN_QUOTED_MONTHS = 12
# HKEX Main Board rule 8.05 profit test: HK$50 m over 3 years, HK$20 m in the last, at about 0.9 yuan
# per HK$ [derived], M; Chapter 18A pre-revenue biotech from 2018-04-30, expected value >= HK$1.5 bn, M
HK_MIN_PROFIT_3Y_MYUAN = 45.0
HK_MIN_PROFIT_1Y_MYUAN = 18.0
HK_18A_YYYYMM = 201804
HK_18A_MIN_VALUE_MYUAN = 1350.0


def yyyymm_to_month(value: int) -> int:
    """A ``yyyymm`` date (201907) as the model's month index (``year * 12 + month - 1``)."""
    year, month = divmod(int(value), YYYYMM_PER_YEAR)
    assert 1 <= month <= MONTHS_PER_YEAR, f"not a yyyymm date: {value}"
    return year * MONTHS_PER_YEAR + month - 1


def by_year(table: dict[int, float], year: int) -> float:
    """The value for ``year``: the latest year at or before it, else the earliest year."""
    known = [y for y in table if y <= year]
    return table[max(known)] if known else table[min(table)]


def market_level(month: int) -> float:
    """A-share market level of the month's year relative to end-2018 (CSI 300)."""
    return by_year(MARKET_LEVEL_BY_YEAR, month // MONTHS_PER_YEAR)


def median_value_myuan(p, board: int) -> float:
    """Median market value of a listing on ``board`` at the end-2018 market level (m yuan)."""
    bn = {
        MAIN: p.mv_median_main_bn_yuan,
        CHINEXT: p.mv_median_chinext_bn_yuan,
        STAR: p.mv_median_star_bn_yuan,
        BSE: p.mv_median_bse_bn_yuan,
        OVERSEAS: p.mv_median_overseas_bn_yuan,
    }[board]
    return bn * MYUAN_PER_BNYUAN


def is_registration(p, board: int, month: int) -> bool:
    """Whether an IPO on ``board`` filed in ``month`` is registration-based (else approval-based)."""
    if board == MAIN:
        return month >= yyyymm_to_month(p.main_registration_yyyymm)
    if board == CHINEXT:
        return month >= yyyymm_to_month(p.chinext_registration_yyyymm)
    return board in (STAR, BSE)


def is_open(p, board: int, month: int) -> bool:
    """Whether ``board`` takes IPO filings in ``month``."""
    if board == STAR:
        return month >= yyyymm_to_month(p.star_open_yyyymm)
    if board == BSE:
        return month >= yyyymm_to_month(p.bse_open_yyyymm)
    return True


def queue_months(p, board: int, month: int) -> float:
    """Mean months from filing to the decision for an IPO filed on ``board`` in ``month``."""
    if board == OVERSEAS:
        return p.overseas_queue_months
    table = REGISTRATION_QUEUE_MONTHS_BY_YEAR if is_registration(p, board, month) else APPROVAL_QUEUE_MONTHS_BY_YEAR
    return by_year(table, month // MONTHS_PER_YEAR) * p.ipo_queue_scale


def pass_rate(p, board: int, registration: bool, month: int) -> float:
    """Probability that an IPO reaching its decision in ``month`` is approved (or registered)."""
    if board == OVERSEAS:
        return p.overseas_approval_rate
    table = REGISTRATION_PASS_RATE_BY_YEAR if registration else APPROVAL_RATE_BY_YEAR
    return by_year(table, month // MONTHS_PER_YEAR) + p.ipo_approval_shift


def eligible_boards(p, month: int, cols: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """Which firms meet each board's listing standards in ``month`` (one bool mask per board).

    ``cols`` holds per-firm arrays: ``p1, p2, p3`` (profits of the last three book
    years, m yuan), ``revenue`` (m yuan/year), ``value`` (the sponsor's expected
    market value, m yuan), ``industry``, ``neeq_months`` (months quoted on the
    NEEQ, -1 if not quoted). Age gates are applied by the caller.
    """
    p1, p2, p3, rev, val = cols["p1"], cols["p2"], cols["p3"], cols["revenue"], cols["value"]
    ind = cols["industry"]
    two_pos = (p1 > 0) & (p2 > 0)
    three_pos = two_pos & (p3 > 0)
    out = {}
    if month >= yyyymm_to_month(p.main_registration_yyyymm):
        out[MAIN] = (
            three_pos
            & (p1 + p2 + p3 >= MAIN_REG_MIN_PROFIT_3Y_MYUAN)
            & (p1 >= MAIN_REG_MIN_PROFIT_1Y_MYUAN)
            & (MAIN_REVENUE_TEST_YEARS * rev >= MAIN_REG_MIN_REVENUE_3Y_MYUAN)
        )
    else:  # IPO measures (approval): 3 profitable years above the declared profit and revenue gates
        out[MAIN] = (
            three_pos
            & (p1 + p2 + p3 >= p.main_min_profit_3y_myuan)
            & (MAIN_REVENUE_TEST_YEARS * rev >= p.main_min_revenue_3y_myuan)
        )
    if month >= yyyymm_to_month(p.chinext_registration_yyyymm):
        out[CHINEXT] = (two_pos & (p1 + p2 >= CHINEXT_REG_MIN_PROFIT_2Y_MYUAN)) | (
            (val >= CHINEXT_REG_MIN_VALUE_MYUAN) & (p1 > 0) & (rev >= CHINEXT_REG_MIN_REVENUE_MYUAN)
        )
    else:
        out[CHINEXT] = (two_pos & (p1 + p2 >= p.ipo_min_profit_2y_myuan)) | (
            (p1 >= CHINEXT_MIN_PROFIT_1Y_MYUAN) & (rev >= CHINEXT_MIN_REVENUE_MYUAN)
        )
    rd = IS_RD_INDUSTRY[ind]
    star1 = (val >= STAR1_MIN_VALUE_MYUAN) & (
        (two_pos & (p1 + p2 >= STAR1_MIN_PROFIT_2Y_MYUAN)) | ((p1 > 0) & (rev >= STAR1_MIN_REVENUE_MYUAN))
    )
    star2 = (val >= STAR2_MIN_VALUE_MYUAN) & (rev >= STAR2_MIN_REVENUE_MYUAN) & rd  # loss-making R&D firms
    star4 = (val >= STAR4_MIN_VALUE_MYUAN) & (rev >= STAR4_MIN_REVENUE_MYUAN)
    star = (ind != STAR_EXCLUDED_INDUSTRY) & (star1 | star2 | star4)
    out[STAR] = star & is_open(p, STAR, month)
    bse = (cols["neeq_months"] >= BSE_MIN_QUOTED_MONTHS) & (val >= BSE_MIN_VALUE_MYUAN)
    bse &= (p1 >= BSE_MIN_PROFIT_1Y_MYUAN) & (p2 >= BSE_MIN_PROFIT_1Y_MYUAN)
    out[BSE] = bse & is_open(p, BSE, month)
    hk_profit = (p1 + p2 + p3 >= HK_MIN_PROFIT_3Y_MYUAN) & (p1 >= HK_MIN_PROFIT_1Y_MYUAN)
    hk_18a = (ind == HEALTH_INDUSTRY) & (val >= HK_18A_MIN_VALUE_MYUAN) & (month >= yyyymm_to_month(HK_18A_YYYYMM))
    out[OVERSEAS] = hk_profit | hk_18a
    return out


# NEEQ tiers (reported, no behavioural effect): innovation tier 2016 standard 1, average net profit of
# the last 2 years >= 20 m (NEEQ tier measures 2016-05) [L]; select tier standard 1, net profit >= 15 m
# in each of the last 2 years and quoted >= 12 months (NEEQ select-tier rules 2019-12) [L]
INNOVATION_MIN_MEAN_PROFIT_MYUAN = 20.0
SELECT_MIN_PROFIT_MYUAN = 15.0
SELECT_MIN_QUOTED_MONTHS = 12


# The tests of neeq_tiers in the order the compiled tally takes them (sim.model._jit_metrics.tally) [derived]
TIER_RULES = (float(INNOVATION_MIN_MEAN_PROFIT_MYUAN), float(SELECT_MIN_PROFIT_MYUAN), SELECT_MIN_QUOTED_MONTHS)


def tiers_open(p, month: int) -> tuple[bool, bool]:
    """Whether the NEEQ's innovation tier and its select tier exist in ``month`` (as :func:`neeq_tiers` tests)."""
    return month >= yyyymm_to_month(p.neeq_innovation_yyyymm), month >= yyyymm_to_month(p.neeq_select_yyyymm)


def neeq_tiers(p, month: int, cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Masks of quoted firms in the innovation tier and in the select tier in ``month``."""
    p1, p2 = cols["p1"], cols["p2"]
    innovation = (p1 + p2) / 2.0 >= INNOVATION_MIN_MEAN_PROFIT_MYUAN
    innovation &= month >= yyyymm_to_month(p.neeq_innovation_yyyymm)
    select = (p1 >= SELECT_MIN_PROFIT_MYUAN) & (p2 >= SELECT_MIN_PROFIT_MYUAN)
    select &= (cols["neeq_months"] >= SELECT_MIN_QUOTED_MONTHS) & (month >= yyyymm_to_month(p.neeq_select_yyyymm))
    return innovation & ~select, select


def eligible_rules(p, month: int) -> tuple[tuple[float, ...], tuple[bool, ...]]:
    """The standards :func:`eligible_boards` applies in ``month``, as the compiled pass takes them.

    Returns the thresholds in the order of ``sim.model._jit_listing.RULES`` (the regime's
    main-board and ChiNext gates chosen as :func:`eligible_boards` chooses them, the
    sponsor's P/E and P/S of :func:`sim.model.listing.expected_value_myuan` last) and the
    switches in the order of ``SWITCHES``.
    """
    main_reg = month >= yyyymm_to_month(p.main_registration_yyyymm)
    chinext_reg = month >= yyyymm_to_month(p.chinext_registration_yyyymm)
    if main_reg:
        main = (MAIN_REG_MIN_PROFIT_3Y_MYUAN, MAIN_REG_MIN_PROFIT_1Y_MYUAN, MAIN_REG_MIN_REVENUE_3Y_MYUAN)
    else:  # no last-year gate under the IPO measures (the compiled pass does not read it then)
        main = (p.main_min_profit_3y_myuan, float("nan"), p.main_min_revenue_3y_myuan)
    if chinext_reg:  # no last-year gate under registration (not read then)
        chinext = (
            CHINEXT_REG_MIN_PROFIT_2Y_MYUAN,
            CHINEXT_REG_MIN_VALUE_MYUAN,
            float("nan"),
            CHINEXT_REG_MIN_REVENUE_MYUAN,
        )
    else:  # no value gate under the IPO measures (not read then)
        chinext = (p.ipo_min_profit_2y_myuan, float("nan"), CHINEXT_MIN_PROFIT_1Y_MYUAN, CHINEXT_MIN_REVENUE_MYUAN)
    rules = (
        *main,
        MAIN_REVENUE_TEST_YEARS,
        *chinext,
        STAR1_MIN_VALUE_MYUAN,
        STAR1_MIN_PROFIT_2Y_MYUAN,
        STAR1_MIN_REVENUE_MYUAN,
        STAR2_MIN_VALUE_MYUAN,
        STAR2_MIN_REVENUE_MYUAN,
        STAR4_MIN_VALUE_MYUAN,
        STAR4_MIN_REVENUE_MYUAN,
        BSE_MIN_VALUE_MYUAN,
        BSE_MIN_PROFIT_1Y_MYUAN,
        HK_MIN_PROFIT_3Y_MYUAN,
        HK_MIN_PROFIT_1Y_MYUAN,
        HK_18A_MIN_VALUE_MYUAN,
        p.pe_exchange,
        p.ps_exchange_floor,
    )
    switches = (main_reg, chinext_reg, is_open(p, STAR, month), is_open(p, BSE, month),
                month >= yyyymm_to_month(HK_18A_YYYYMM))  # fmt: skip
    return tuple(float(v) for v in rules), switches


def choose_domestic(eligible: dict[int, np.ndarray]) -> np.ndarray:
    """The preferred domestic board of each firm (``NO_BOARD`` where none fits)."""
    n = len(next(iter(eligible.values())))
    board = np.full(n, NO_BOARD, dtype=np.int8)
    for b in reversed(PREFERENCE):
        board[eligible[b]] = b
    return board
