"""The park's historical record: loading and validating ``calibration/data/*.csv``.

One row per published figure, with the columns of ``../shared/data/`` kept as
they are: ``date`` (ISO day), ``series``, ``frame`` (which boundary the figure
counts), ``value``, ``qualifier`` (``eq``, or ``gt`` for "more than"), ``unit``,
``kind`` (stock, cumulative, yearly or quarterly flow, rate, event),
``confidence`` (H official with date, M copy or inferred date, L weak),
``source`` and ``quote``. Every problem is reported with the file, the line and
the column, as a :class:`DataError`.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import pandas as pd

from sim import resources
from sim.model.scenario import ScenarioError
from sim.schema import Choice, Place

COLUMNS = ("date", "series", "frame", "value", "qualifier", "unit", "kind", "confidence", "source", "quote")
UNITS = {
    "firms": "firms (count)",
    "projects": "projects (count)",
    "teams": "talent teams (count)",
    "km2": "square kilometres",
    "100m_yuan": "100 m yuan (亿元) = 0.1 bn yuan",
    "pct_per_year": "per cent per year",
}
KINDS = {
    "stock": "level on the date",
    "cumulative": "count since the frame began, up to the date",
    "flow_year": "flow over the 12 months ending on the date",
    "flow_quarter": "flow over the 3 months ending on the date",
    "rate": "growth of the yearly flow ending on the date over the year before",
    "event": "a single occurrence (for example one signing ceremony)",
}
FRAMES = {
    "park": "the whole West Taihu park",
    "graphene_park": "the graphene (advanced carbon) industrial park",
    "graphene_institute": "the Jiangnan graphene research institute",
    "cip": "the China-Israel Changzhou Innovation Park",
    "health_park": "the health (medical devices) industrial park",
}
QUALIFIERS = {"eq": "the value as stated", "gt": "more than the value (a lower bound)"}
CONFIDENCE = {"H": "official, dated", "M": "copy or inferred date", "L": "weak"}
DEFAULT_DATA = resources.default_data()  # calibration/data/west_taihu_history.csv, from a checkout or the wheel


class DataError(ScenarioError):
    """A data file that cannot be used: names the file, the line/column and the problem."""


NAMED = {"unit": UNITS, "kind": KINDS, "frame": FRAMES, "qualifier": QUALIFIERS, "confidence": CONFIDENCE}


def _check_row(path: Path, line: int, row: dict) -> dict:
    """Validate one CSV row; return it with ``value`` as float and a ``month`` label."""

    def fail(column: str, message: str):
        raise DataError(path, f"line {line}, column '{column}'", message)

    for column in COLUMNS:
        if row.get(column) is None or not str(row[column]).strip():
            fail(column, "is empty; every figure needs a value here")
    try:
        day = date.fromisoformat(row["date"].strip())
    except ValueError:
        fail("date", f"must be a date written YYYY-MM-DD, got {row['date']!r}")
    try:
        value = float(row["value"])
    except ValueError:
        fail("value", f"must be a number, got {row['value']!r}")
    if not math.isfinite(value):
        fail("value", f"must be finite, got {row['value']!r}")
    for column, table in NAMED.items():  # the allowed names are checked as in the other input files
        Choice(tuple(table), column).check(
            row[column].strip(), Place(path, f"line {line}, column '{column}'", DataError)
        )
    out = {c: row[c].strip() for c in COLUMNS}
    out.update(value=value, date=day.isoformat(), month=f"{day.year:04d}-{day.month:02d}", line=line)
    return out


def load_history(path: str | Path = DEFAULT_DATA) -> pd.DataFrame:
    """Read and validate a historical data file.

    Args:
        path: the CSV file (columns as in :data:`COLUMNS`; extra columns are kept).

    Returns:
        One row per figure with the file's columns plus ``month`` (``YYYY-MM`` of
        the date) and ``line`` (line number in the file, the header being line 1).

    Raises:
        DataError: a missing column, an empty cell, an unknown unit, kind, frame,
            qualifier or confidence grade, a bad date or value, or a duplicate row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "data file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise DataError(
                path, "line 1 (header)", f"missing column(s) {', '.join(missing)}; needed: {', '.join(COLUMNS)}"
            )
        rows = [_check_row(path, i + 2, r) for i, r in enumerate(reader)]
    seen: dict[tuple, int] = {}
    for r in rows:
        key = (r["date"], r["series"], r["frame"])
        if key in seen:
            raise DataError(
                path, f"line {r['line']}", f"duplicates line {seen[key]} (same date, series and frame {key})"
            )
        seen[key] = r["line"]
    if not rows:
        raise DataError(path, None, "the file has a header but no rows")
    return pd.DataFrame(rows)


def series_frames(data: pd.DataFrame) -> dict[str, list[str]]:
    """Series name -> the frames it is reported in (sorted)."""
    return {s: sorted(g["frame"].unique()) for s, g in data.groupby("series")}
