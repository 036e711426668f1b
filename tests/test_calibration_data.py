"""Historical data: validation of the file, and how model output becomes each kind of figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.data import (
    COLUMNS,
    HISTORY_CUTOFF,
    PATTERN_COLUMNS,
    PATTERNS,
    DataError,
    load_history,
    load_patterns,
)
from sim.calibration.distance import Discrepancy
from sim.calibration.observe import QUANTITIES, Quantity, observable, unobservable_reason

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "calibration" / "data" / "west_taihu_history.csv"
PATTERN_FILE = ROOT / "calibration" / "data" / "patterns.csv"
GOOD_ROW = "2016-12-31,graphene_firms,graphene_park,82,eq,firms,stock,H,http://example.org,quote"


def write(tmp_path: Path, header: str, *rows: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_park_record_loads_with_every_source_column():
    data = load_history(DATA)
    assert list(data.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(data) >= 29
    assert set(data["qualifier"]) == {"eq", "gt"}
    row = data[(data["series"] == "health_sales")].iloc[0]
    assert row["value"] == 28.2 and row["unit"] == "100m_yuan" and row["month"] == "2016-12"


@pytest.mark.parametrize(
    "row, line_col, needle",
    [
        ("2016-13-31,graphene_firms,graphene_park,82,eq,firms,stock,H,s,q", "line 3, column 'date'", "YYYY-MM-DD"),
        ("2016-12-31,graphene_firms,graphene_park,82,eq,dollars,stock,H,s,q", "line 3, column 'unit'", "100m_yuan"),
        ("2016-12-31,graphene_firms,graphene_park,82,eq,firms,trend,H,s,q", "line 3, column 'kind'", "flow_year"),
        ("2016-12-31,graphene_firms,graphene_park,lots,eq,firms,stock,H,s,q", "line 3, column 'value'", "number"),
        ("2016-12-31,graphene_firms,graphene_park,82,about,firms,stock,H,s,q", "line 3, column 'qualifier'", "gt"),
        ("2016-12-31,graphene_firms,mars,82,eq,firms,stock,H,s,q", "line 3, column 'frame'", "health_park"),
        ("2016-12-31,graphene_firms,graphene_park,82,eq,firms,stock,H,,q", "line 3, column 'source'", "empty"),
    ],
)
def test_a_bad_row_is_named_with_its_line_and_column(tmp_path, row, line_col, needle):
    path = write(tmp_path, ",".join(COLUMNS), GOOD_ROW, row)
    with pytest.raises(DataError) as err:
        load_history(path)
    assert str(path) in str(err.value) and line_col in str(err.value) and needle in str(err.value)


def test_a_missing_column_and_a_duplicate_row_are_refused(tmp_path):
    header = ",".join(c for c in COLUMNS if c != "confidence")
    with pytest.raises(DataError, match="line 1 \\(header\\).*missing column\\(s\\) confidence"):
        load_history(write(tmp_path, header, "2016-12-31,graphene_firms,graphene_park,82,eq,firms,stock,s,q"))
    with pytest.raises(DataError, match="line 3.*duplicates line 2"):
        load_history(write(tmp_path, ",".join(COLUMNS), GOOD_ROW, GOOD_ROW))


def test_every_series_of_the_record_is_either_measured_or_explained():
    data = load_history(DATA)
    measured = 0
    for series, frame in data[["series", "frame"]].drop_duplicates().itertuples(index=False):
        reason = unobservable_reason(series, frame)
        explained = reason and "no model quantity" not in reason
        assert (series, frame) in QUANTITIES or explained, (series, frame)
        measured += reason is None
    assert measured >= 12, "the graphene, China-Israel and health series must be measurable"
    assert ("ipo_listed", "park") in QUANTITIES


def test_no_row_of_the_park_record_is_dated_after_2017():
    data = load_history(DATA, cutoff=HISTORY_CUTOFF)  # raises on a later row
    assert HISTORY_CUTOFF.isoformat() == "2017-12-31"
    assert max(data["date"]) <= "2017-12-31" and max(data["month"]) <= "2017-12"
    assert len(data) >= 44, "the record has the rows added for issue 12"


def test_every_row_has_an_address_and_a_quote():
    data = load_history(DATA)
    assert data["source"].str.match(r"https?://\S+$").all(), data.loc[~data["source"].str.match(r"https?://")]
    assert (data["quote"].str.len() >= 3).all()
    assert set(data["confidence"]) <= {"H", "M", "L"}


def test_a_row_after_the_cutoff_is_refused_with_its_line(tmp_path):
    late = "2018-01-31,graphene_firms,graphene_park,90,eq,firms,stock,H,http://example.org,quote"
    path = write(tmp_path, ",".join(COLUMNS), GOOD_ROW, late)
    assert len(load_history(path)) == 2  # without a cut-off (synthetic data may run later)
    with pytest.raises(DataError, match="line 3, column 'date'.*2018-01-31 is after 2017-12-31"):
        load_history(path, cutoff=HISTORY_CUTOFF)


def test_the_patterns_file_is_well_formed_and_covers_each_pattern_family():
    pats = load_patterns(PATTERN_FILE)
    assert list(pats.columns[: len(PATTERN_COLUMNS)]) == list(PATTERN_COLUMNS)
    assert {"exit_hazard_by_age", "firm_size_tail", "landing_share", "neeq_boom", "ipo_approval_rate"} <= set(
        pats["pattern"]
    )
    assert set(pats["pattern"]) <= set(PATTERNS)
    assert ((pats["low"] <= pats["value"]) & (pats["value"] <= pats["high"])).all()
    assert pats["source"].str.match(r"https?://\S+$").all()
    assert pats["year"].between(1990, 2025).all()


def test_the_sourced_patterns_say_what_they_are_documented_to_say():
    pats = load_patterns(PATTERN_FILE).set_index("statistic")["value"]
    # SAIC 2013: exit hazard rises over the first three years (inverted U), peak at age 3
    assert pats["hazard_age_1"] < pats["hazard_age_2"] < pats["hazard_age_3"]
    assert pats["hazard_min_age_4_to_7"] <= pats["hazard_age_3"] and pats["peak_age"] == 3
    assert pats["share_aged_under_5"] + pats["share_aged_5_to_10"] + pats["share_aged_over_10"] == pytest.approx(1.0)
    # the NEEQ boom then contraction: more quoted firms in March 2017 than in 2016 or after 2019
    assert pats["quoted_firms_2016_08_19"] < pats["quoted_firms_2017_03_31"] > pats["quoted_firms_2019_11_30"]
    assert pats["quoted_firms_2020_12_31"] / pats["quoted_firms_2017_03_31"] == pytest.approx(
        pats["ratio_2020_end_to_2017_march"], abs=0.001
    )
    # NEEQ delistings rose year on year from 2015 to 2018 while new quotations fell after 2016
    delist = [pats[f"delistings_{y}"] for y in ("2015", "2016", "2017", "2018_to_12_27")]
    assert delist == sorted(delist) and pats["new_quotations_2017"] < pats["new_quotations_2016"]
    # IPO approvals fell after the new examination committee (Oct 2017)
    assert pats["approval_rate_2017_10_17_to_11_29"] < pats["approval_rate_2017_q1_q3"]


PATTERN_HEADER = ",".join(PATTERN_COLUMNS)
GOOD_PATTERN = "landing_share,registered,0.5,0.4,0.6,share,China,2016,http://example.org,M,q"


@pytest.mark.parametrize(
    "row, line_col, needle",
    [
        ("landing_share,s2,0.7,0.4,0.6,share,China,2016,http://e.org,M,q", "line 3, column 'value'", "low..high"),
        ("landing_share,s2,1.5,0.4,1.6,share,China,2016,http://e.org,M,q", "line 3, column 'high'", "0..1"),
        ("luck,s2,0.5,0.4,0.6,share,China,2016,http://e.org,M,q", "line 3, column 'pattern'", "neeq_boom"),
        ("landing_share,s2,0.5,0.4,0.6,percent,China,2016,http://e.org,M,q", "line 3, column 'unit'", "share"),
        ("landing_share,s2,0.5,0.4,0.6,share,China,2016,a friend,M,q", "line 3, column 'source'", "address"),
        ("landing_share,s2,0.5,0.4,0.6,share,China,soon,http://e.org,M,q", "line 3, column 'year'", "YYYY"),
        ("landing_share,s2,0.5,0.4,0.6,share,China,2016,http://e.org,M,", "line 3, column 'quote'", "empty"),
        (GOOD_PATTERN, "line 3", "duplicates line 2"),
    ],
)
def test_a_bad_pattern_row_is_named_with_its_line_and_column(tmp_path, row, line_col, needle):
    path = write(tmp_path, PATTERN_HEADER, GOOD_PATTERN, row)
    with pytest.raises(DataError) as err:
        load_patterns(path)
    assert str(path) in str(err.value) and line_col in str(err.value) and needle in str(err.value)


def _monthly(values, cum):
    months = [f"2015-{m:02d}" for m in range(1, 13)] + [f"2016-{m:02d}" for m in range(1, 13)]
    return pd.DataFrame({"rate": values, "cum": cum}, index=pd.Index(months, name="date"))


def test_each_kind_of_figure_is_measured_as_documented():
    rate = np.r_[np.full(12, 1.0), np.full(12, 1.5)]  # bn yuan/year, a level
    cum = np.arange(1, 25, dtype=float) * 2.0  # two events a month since the start
    monthly = _monthly(rate, cum)
    level = Quantity("s", "park", "rate", "level", "100m_yuan", to_unit=10.0)
    events = Quantity("e", "park", "cum", "events", "firms", offset_input="init_graphene_firms")
    inputs = {"population_scale": 0.5, "init_graphene_firms": 14}
    # counts and money are scaled back to the full park (divide by population_scale)
    assert observable(level, "stock", monthly, inputs)[-1] == pytest.approx(1.5 * 10 / 0.5)
    year = observable(level, "flow_year", monthly, inputs)
    assert np.isnan(year[10]) and year[11] == pytest.approx(20.0) and year[23] == pytest.approx(30.0)
    assert observable(level, "flow_quarter", monthly, inputs)[2] == pytest.approx(20.0 / 4)
    growth = observable(level, "rate", monthly, inputs)
    assert np.isnan(growth[22]) and growth[23] == pytest.approx(50.0)
    assert observable(events, "cumulative", monthly, inputs)[5] == pytest.approx(12 / 0.5 + 14)
    assert observable(events, "flow_year", monthly, inputs)[11] == pytest.approx(24 / 0.5)
    assert observable(events, "flow_quarter", monthly, inputs)[2] == pytest.approx(6 / 0.5)
    with pytest.raises(ValueError, match="cannot give a stock"):
        observable(events, "stock", monthly, inputs)


def test_a_lower_bound_costs_nothing_above_it_and_counts_below_it():
    obs = pd.DataFrame({"value": [30.0, 82.0], "sd": [3.0, 8.2], "weight": [1.0, 1.0], "qualifier": ["gt", "eq"]})
    disc = Discrepancy.from_observations(obs)
    assert disc.residuals(np.array([45.0, 82.0])).tolist() == [0.0, 0.0]
    assert disc.residuals(np.array([24.0, 90.2])).tolist() == pytest.approx([-2.0, 1.0])
    assert disc.distance(np.array([24.0, 90.2])) == pytest.approx(np.sqrt(0.5 * 4 + 0.5 * 1))
    assert disc.distance(np.array([np.nan, 82.0])) == float("inf")


def test_an_event_figure_counts_the_events_of_its_month():
    cum = np.r_[np.zeros(5), np.ones(7), np.full(12, 3.0)]  # one listing in month 6, two in month 13
    monthly = _monthly(np.zeros(24), cum)
    listed = QUANTITIES[("ipo_listed", "park")]
    events = observable(Quantity("e", "park", "cum", "events", "firms"), "event", monthly, {})
    assert events.tolist() == [0.0] * 5 + [1.0] + [0.0] * 6 + [2.0] + [0.0] * 11
    assert listed.column == "exchange_listings_cum" and listed.measure == "events"
