"""Words for the figures and tables: the plan's wording of targets, plain words for definitions and indicators."""

from __future__ import annotations

import numpy as np

from sim.model.targets import TARGETS, TARGETS_BY_NAME, is_target_column, parse_column

DEFINITIONS = {
    "signed": "signed",
    "registered": "registered",
    "started": "started operating",
    "exchange": "exchange-listed only",
    "exchange_neeq": "exchange + NEEQ",
    "revenue_threshold": "revenue threshold",
    "in_park": "registered in the park",
    "incl_signed": "incl. signed, not yet registered",
    "completed": "completed",
    "new_reserve": "new reserve firms",
}
INDICATORS = {
    "firms_in_park": "firms in the park",
    "talent_people": "talent in the park (people)",
    "listed_exchange": "exchange-listed companies",
    "listed_exchange_neeq": "listed companies (exchange + NEEQ)",
    "market_value_exchange_neeq_bn_yuan": "market value, exchange + NEEQ (bn yuan)",
    "leading_firms": "leading enterprises",
    "graphene_firms": "graphene firms in the park",
    "israeli_firms": "Israeli firms",
    "projects_signed_cum": "projects signed since the start",
    "vc_deals_cum": "VC deals since the start",
    "high_pollution_firms": "high-pollution firms",
    "revenue_bn_yuan": "revenue of park firms (bn yuan/year)",
}
ZONE_WORDS = {"firms": "firms", "talent": "talent (people)"}


def target_text(name: str) -> str:
    """The plan's wording of a target."""
    return TARGETS_BY_NAME[name].text


def definition_text(definition: str) -> str:
    """Plain words for a target definition."""
    return DEFINITIONS.get(definition, definition.replace("_", " "))


def measure_text(measure: str) -> str:
    """``target__definition`` or ``end_indicator`` column in words."""
    if is_target_column(measure):
        name, definition = parse_column(measure)
        return f"{target_text(name)} ({definition_text(definition)})"
    name = measure.removeprefix("end_")
    return INDICATORS.get(name, name.replace("_", " "))


def column_label(column: str) -> str:
    """``target__definition`` -> ``target (definition)`` (identifiers, for compact tables and figures)."""
    target, definition = parse_column(column)
    return f"{target} ({definition})"


def stock_goals() -> dict:
    """Monthly column -> (threshold, year due, definition) of the plan's stock targets."""
    return {col: (t.threshold, t.year, d) for t in TARGETS if t.how == "stock" for d, col in t.columns.items()}


def fmt_pct(p: float) -> str:
    """0.623 -> ``62%`` (``n/a`` when missing)."""
    return "n/a" if p is None or not np.isfinite(p) else f"{100 * p:.0f}%"


def fmt_num(x: float) -> str:
    """A number for people: thousands separated, about three significant digits."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
