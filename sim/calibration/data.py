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
    "100m_usd": "100 m US dollars (亿美元), foreign capital as published",
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
DEFAULT_PATTERNS = DEFAULT_DATA.with_name("patterns.csv")
# The park's record stops here: later park figures are a hidden validation set and never enter the data.
HISTORY_CUTOFF = date(2017, 12, 31)


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


def load_history(path: str | Path = DEFAULT_DATA, cutoff: date | None = None) -> pd.DataFrame:
    """Read and validate a historical data file.

    Args:
        path: the CSV file (columns as in :data:`COLUMNS`; extra columns are kept).
        cutoff: if given, a row dated after this day is refused (the park's
            record uses :data:`HISTORY_CUTOFF`; synthetic files may run later).

    Returns:
        One row per figure with the file's columns plus ``month`` (``YYYY-MM`` of
        the date) and ``line`` (line number in the file, the header being line 1).

    Raises:
        DataError: a missing column, an empty cell, an unknown unit, kind, frame,
            qualifier or confidence grade, a bad date or value, a duplicate row,
            or a row dated after ``cutoff``.
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
    if cutoff is not None:
        for r in rows:
            if date.fromisoformat(r["date"]) > cutoff:
                raise DataError(
                    path,
                    f"line {r['line']}, column 'date'",
                    f"{r['date']} is after {cutoff.isoformat()}; figures after the cut-off are a validation set "
                    "and must not enter the data",
                )
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


# ---------------------------------------------------------------- patterns (pattern-oriented calibration)
PATTERN_COLUMNS = (
    "pattern", "statistic", "value", "low", "high", "unit", "scope", "year", "source", "confidence", "quote"
)  # fmt: skip
PATTERN_UNITS = {
    "per_year": "a yearly rate (fraction per year)",
    "share": "a fraction between 0 and 1",
    "years": "years",
    "days": "days",
    "firms": "firms (count)",
    "exponent": "a power-law exponent of the complementary CDF (Zipf = 1)",
}
PATTERNS = {
    "exit_hazard_by_age": "yearly exit hazard of firms by age in years since registration",
    "exit_age_distribution": "age at exit of the firms that exit",
    "stock_age_distribution": "age structure of the firms alive",
    "overall_exit_rate": "exits in a year over firms alive",
    "firm_size_tail": "Pareto/Zipf exponent of the upper tail of firm size",
    "landing_share": "share of signed investment projects that register, start or perform",
    "neeq_boom": "growth of the national NEEQ market (quoted firms, new quotations)",
    "neeq_contraction": "contraction of the national NEEQ market after 2017 (delistings, quoted firms)",
    "neeq_regional": "NEEQ quotations of a city or region around the park",
    "ipo_approval_rate": "share of reviewed A-share IPO applications approved; approvals per year",
    "ipo_queue": "A-share IPO queue: waiting time and length",
}
_SHARE_UNITS = ("share", "per_year")


def _check_pattern(path: Path, line: int, row: dict) -> dict:
    def fail(column: str, message: str):
        raise DataError(path, f"line {line}, column '{column}'", message)

    for column in PATTERN_COLUMNS:
        if row.get(column) is None or not str(row[column]).strip():
            fail(column, "is empty; every pattern needs a value here")
    out = {c: row[c].strip() for c in PATTERN_COLUMNS}
    for column in ("value", "low", "high"):
        try:
            out[column] = float(row[column])
        except ValueError:
            fail(column, f"must be a number, got {row[column]!r}")
        if not math.isfinite(out[column]):
            fail(column, f"must be finite, got {row[column]!r}")
    if not out["low"] <= out["value"] <= out["high"]:
        fail("value", f"must lie within low..high, got {out['low']:g} <= {out['value']:g} <= {out['high']:g} false")
    try:
        out["year"] = int(row["year"])
    except ValueError:
        fail("year", f"must be a year written YYYY, got {row['year']!r}")
    for column, table in (("pattern", PATTERNS), ("unit", PATTERN_UNITS), ("confidence", CONFIDENCE)):
        Choice(tuple(table), column).check(out[column], Place(path, f"line {line}, column '{column}'", DataError))
    if out["unit"] in _SHARE_UNITS and not 0.0 <= out["low"] <= out["high"] <= 1.0:
        fail("high", f"a {out['unit']} must lie in 0..1, got {out['low']:g}..{out['high']:g}")
    if not out["source"].startswith(("http://", "https://")):
        fail("source", f"must be the address the figure was read at, got {out['source']!r}")
    out["line"] = line
    return out


def load_patterns(path: str | Path = DEFAULT_PATTERNS) -> pd.DataFrame:
    """Read and validate the patterns file (``calibration/data/patterns.csv``).

    One row per published statistic a run must reproduce together with the
    series (exit hazard by age, size-distribution tail, landing share of signed
    projects, the NEEQ boom and contraction, IPO approval rates). Each has a
    value, a plausible range ``low..high`` (the spread a distance uses), a unit,
    the scope (country, population) and year it describes, and its source.

    Raises:
        DataError: a missing column, an empty cell, an unknown pattern, unit or
            grade, a value outside its range, a share outside 0..1, a source
            that is not an address, or a duplicate (pattern, statistic).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "patterns file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PATTERN_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                path, "line 1 (header)", f"missing column(s) {', '.join(missing)}; needed: {', '.join(PATTERN_COLUMNS)}"
            )
        rows = [_check_pattern(path, i + 2, r) for i, r in enumerate(reader)]
    seen: dict[tuple, int] = {}
    for r in rows:
        key = (r["pattern"], r["statistic"])
        if key in seen:
            raise DataError(
                path, f"line {r['line']}", f"duplicates line {seen[key]} (same pattern and statistic {key})"
            )
        seen[key] = r["line"]
    if not rows:
        raise DataError(path, None, "the file has a header but no rows")
    return pd.DataFrame(rows)
