"""Which model quantity stands for each (series, frame) of the data, and how it is measured.

Frames are boundaries the published figures count; the model has one park, so
each frame is represented by the part of the model it is about (never two
frames in one fitted series: a series is always the pair (series, frame)):

* ``graphene_park`` and graphene figures in frame ``park``: the model's graphene
  (advanced carbon) industry. The model has no graphene-park boundary inside
  the park, so both frames map to the same firms but remain separate series.
* ``cip`` (China-Israel park): firms and projects of Israeli origin.
* ``health_park``: the model's health industry (medical devices, health services).
* ``park``: the whole park (all firms in the model).

A figure's ``kind`` says how the monthly model output is turned into it:
``stock`` is the level in the month of the date; ``cumulative`` is the events
counted since the run start plus the declared count from before the start;
``flow_year`` / ``flow_quarter`` are events over the 12 / 3 months ending in that
month, or for a yearly rate (revenue, in bn yuan/year) its mean over those
months scaled to the period; ``rate`` is the growth in per cent of the yearly
flow over the yearly flow one year earlier. Counts and money are divided by
``population_scale`` so that a scaled-down park estimates full-park figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model.scenario import month_index

LEVEL, EVENTS = "level", "events"
KINDS_FOR = {
    LEVEL: ("stock", "flow_year", "flow_quarter", "rate"),
    EVENTS: ("cumulative", "flow_year", "flow_quarter", "rate", "event"),
}
BN_TO_100M = 10.0  # 1 bn yuan = 10 x 100 m yuan (亿元)


@dataclass(frozen=True)
class Quantity:
    """The model quantity that stands for one (series, frame) of the data.

    Attributes:
        series: series name in the data.
        frame: frame in the data.
        column: monthly reporter column (see :mod:`sim.model.metrics`).
        measure: ``level`` (a stock or a yearly rate) or ``events`` (a ``*_cum`` counter).
        unit: the data unit the quantity is expressed in (``rate`` kinds are ``pct_per_year``).
        to_unit: multiplier from the model's unit to ``unit``.
        offset_input: for ``cumulative``: the declared input counted before the run start.
        doc: why this model quantity stands for the figure.
    """

    series: str
    frame: str
    column: str
    measure: str
    unit: str
    to_unit: float = 1.0
    offset_input: str | None = None
    doc: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.series, self.frame)

    def unit_for(self, kind: str) -> str:
        """The data unit a figure of ``kind`` has (growth rates are per cent per year)."""
        return "pct_per_year" if kind == "rate" else self.unit


_GRAPHENE = "graphene industry of the model (all of it lies in the park; no sub-park boundary)"
QUANTITIES: dict[tuple[str, str], Quantity] = {
    q.key: q
    for q in (
        Quantity(
            "graphene_firms", "graphene_park", "graphene_firms", LEVEL, "firms", doc=f"registered+ firms, {_GRAPHENE}"
        ),
        Quantity("graphene_firms", "park", "graphene_firms", LEVEL, "firms", doc=f"registered+ firms, {_GRAPHENE}"),
        Quantity("graphene_neeq_listed", "graphene_park", "graphene_neeq_quoted", LEVEL, "firms", doc="NEEQ-quoted"),
        Quantity("graphene_neeq_listed", "park", "graphene_neeq_quoted", LEVEL, "firms", doc="NEEQ-quoted"),
        Quantity(
            "graphene_projects_attracted",
            "graphene_park",
            "graphene_projects_signed_cum",
            EVENTS,
            "projects",
            offset_input="init_graphene_firms",
            doc="projects signed since the start plus the graphene firms present at the start",
        ),
        Quantity(
            "graphene_firms_introduced",
            "graphene_park",
            "graphene_projects_registered_cum",
            EVENTS,
            "firms",
            offset_input="init_graphene_firms",
            doc="firms registered since the start (引进企业: a company exists) plus those present at the start",
        ),
        Quantity("graphene_output", "park", "graphene_revenue_bn_yuan", LEVEL, "100m_yuan", BN_TO_100M, doc="revenue"),
        Quantity(
            "graphene_output_growth", "park", "graphene_revenue_bn_yuan", LEVEL, "100m_yuan", BN_TO_100M, doc="revenue"
        ),
        Quantity("israeli_firms", "cip", "israeli_firms", LEVEL, "firms", doc="registered+ firms of Israeli origin"),
        Quantity(
            "israeli_projects_signed_q1",
            "cip",
            "israeli_projects_signed_cum",
            EVENTS,
            "projects",
            doc="Israeli projects signed in the quarter",
        ),
        Quantity("health_firms", "health_park", "health_firms", LEVEL, "firms", doc="registered+ health firms"),
        Quantity(
            "health_sales", "health_park", "health_revenue_bn_yuan", LEVEL, "100m_yuan", BN_TO_100M, doc="revenue"
        ),
        Quantity(
            "health_sales_growth",
            "health_park",
            "health_revenue_bn_yuan",
            LEVEL,
            "100m_yuan",
            BN_TO_100M,
            doc="revenue",
        ),
        # whole-park quantities: no published rows yet; used by synthetic-data checks
        Quantity("firms", "park", "firms_in_park", LEVEL, "firms", doc="all registered+ firms"),
        Quantity("revenue", "park", "revenue_bn_yuan", LEVEL, "100m_yuan", BN_TO_100M, doc="revenue of all firms"),
        Quantity(
            "projects_signed", "park", "projects_signed_cum", EVENTS, "projects", doc="counted from the run start"
        ),
        Quantity("firms_closed", "park", "closed_cum", EVENTS, "firms", doc="closures (not relocations)"),
        Quantity(
            "ipo_listed",
            "park",
            "exchange_listings_cum",
            EVENTS,
            "firms",
            doc="exchange listings (IPOs, any board) in the month: the firms whose listed_month is that month",
        ),
    )
}

_BEFORE = "dated before any history run (the data allow a start in 2014 at the earliest)"
UNOBSERVABLE: dict[tuple[str, str], str] = {
    ("gdp", "park"): f"{_BEFORE}; the model has no GDP",
    ("industrial_output", "park"): f"{_BEFORE}; the model has no traditional industry",
    ("hightech_output", "park"): f"{_BEFORE}",
    ("budget_revenue", "park"): f"{_BEFORE}; the model has no fiscal revenue",
    ("area", "park"): "land area is a fixed fact, not a behavioural outcome",
    ("gdp_growth_2006_2017", "park"): "average over 2006-2017, eight years before the history can start",
    ("industrial_output_growth_2006_2017", "park"): "average over 2006-2017, before the history can start",
    ("budget_revenue_growth_2006_2017", "park"): "average over 2006-2017; the model has no fiscal revenue",
    ("graphene_firms_incubated_by_institute", "graphene_institute"): f"{_BEFORE}; the institute is not a model frame",
    ("graphene_talent_teams", "park"): "the model has talent people, not teams",
    ("graphene_firms_incubated", "park"): "the model has no incubation status (a reporter of graphene firms in "
    "the central, incubation zone would approximate it)",
    ("health_projects_signed_one_day", "health_park"): "one signing ceremony bundles projects negotiated over "
    "months; the model reports no health project counter and no days",
    ("business_revenue", "park"): f"2011: {_BEFORE}",
    ("industrial_sales", "park"): f"2011: {_BEFORE}; the model has no traditional industry",
    ("fixed_investment", "park"): f"2011: {_BEFORE}",
    ("registered_foreign_capital", "park"): "dated 2011; the model has no foreign-capital account",
    ("paid_in_foreign_capital", "park"): "dated 2011; the model has no foreign-capital account",
    ("services_value_added_growth_2006_2017", "park"): "average over 2006-2017; the model has no service sector",
    ("fixed_investment_since_2006", "park"): "counts from 2006, eight years before the history can start",
    ("registered_foreign_capital_since_2006", "park"): "counts from 2006; the model has no foreign-capital account",
    ("paid_in_foreign_capital_since_2006", "park"): "counts from 2006; the model has no foreign-capital account",
    ("graphene_firms_materials", "park"): "the model has no split of graphene firms into materials and applications",
    ("graphene_firms_applications", "park"): "the model has no split of graphene firms into materials and applications",
    ("graphene_ipo_listed", "park"): "the monthly reporters count exchange listings of all industries only; "
    "the graphene ones are measured on the firm table (listed_month of graphene firms, "
    "sim.calibration.patterns.listings_in_month), which a fitted series cannot read yet",
    ("medical_bio_firms", "health_park"): "a narrower count (devices and biomedicine) than the model's health firms",
    ("health_key_project_investment", "health_park"): f"2012: {_BEFORE}; one project's investment",
}


def unobservable_reason(series: str, frame: str) -> str | None:
    """Why the model cannot produce (series, frame), or None when it can."""
    if (series, frame) in QUANTITIES:
        return None
    return UNOBSERVABLE.get((series, frame), "no model quantity is declared for it in sim/calibration/observe.py")


def _window_mean(v: np.ndarray, k: int) -> np.ndarray:
    """Mean of the last ``k`` months at each month (NaN until ``k`` months exist)."""
    out = np.full(len(v), np.nan)
    if len(v) >= k:
        c = np.concatenate([[0.0], np.cumsum(v)])
        out[k - 1 :] = (c[k:] - c[:-k]) / k
    return out


def _window_events(cum: np.ndarray, k: int) -> np.ndarray:
    """Events in the last ``k`` months from a since-start counter (zero before the start)."""
    c = np.concatenate([[0.0], cum])
    out = np.full(len(cum), np.nan)
    if len(cum) >= k:
        out[k - 1 :] = c[k:] - c[: len(cum) - k + 1]
    return out


def _yearly(q: Quantity, v: np.ndarray) -> np.ndarray:
    return _window_events(v, 12) if q.measure == EVENTS else _window_mean(v, 12)


def observable(q: Quantity, kind: str, monthly: pd.DataFrame, inputs: dict) -> np.ndarray:
    """The figure of ``kind`` measured on the model, for every month of the run (data units).

    Args:
        q: the quantity.
        kind: the data kind (``stock``, ``cumulative``, ``flow_year``, ``flow_quarter``, ``rate``).
        monthly: the run's monthly table.
        inputs: the scenario inputs (for ``population_scale`` and offsets).

    Returns:
        One value per month of ``monthly``; NaN where the run is too short to measure it.
    """
    if kind not in KINDS_FOR[q.measure]:
        raise ValueError(f"{q.series}/{q.frame}: a {q.measure} quantity cannot give a {kind} figure")
    v = monthly[q.column].to_numpy(dtype=float) * q.to_unit / float(inputs.get("population_scale", 1.0))
    if kind == "stock":
        return v
    if kind == "cumulative":
        return v + (float(inputs[q.offset_input]) if q.offset_input else 0.0)
    if kind == "event":
        return _window_events(v, 1)
    if kind == "flow_quarter":
        flow = _window_events(v, 3) if q.measure == EVENTS else _window_mean(v, 3) / 4.0
        return flow
    yearly = _yearly(q, v)
    if kind == "flow_year":
        return yearly
    before = np.concatenate([np.full(12, np.nan), yearly[:-12]])[: len(yearly)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (yearly / before - 1.0)


def month_position(monthly_index, month: str) -> int:
    """Row of ``month`` (``YYYY-MM``) in a monthly table whose index starts at its first month."""
    first = month_index(str(monthly_index[0]))
    return month_index(month) - first


def months_needed(kind: str) -> int:
    """Months of run before the date that a figure of ``kind`` needs (including its month)."""
    return {"stock": 1, "cumulative": 1, "event": 1, "flow_quarter": 3, "flow_year": 12, "rate": 24}[kind]
