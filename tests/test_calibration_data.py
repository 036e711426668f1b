"""Historical data: validation of the file, and how model output becomes each kind of figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.data import COLUMNS, DataError, load_history
from sim.calibration.distance import Discrepancy
from sim.calibration.observe import QUANTITIES, Quantity, observable, unobservable_reason

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "calibration" / "data" / "west_taihu_history.csv"
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
        assert (series, frame) in QUANTITIES or (reason and "no model quantity" not in reason), (series, frame)
        measured += reason is None
    assert measured >= 12, "the graphene, China-Israel and health series must be measurable"


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
