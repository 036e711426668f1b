"""Sweep designs: which inputs vary, over what ranges, and how the points are chosen.

A design file is TOML::

    name = "eco_x_financing"            # prefix of the point names (default: file stem)
    label = "Eco threshold x financing access"
    method = "grid"                     # grid | lhs | sobol | table
    levels = 3                          # grid: levels of every [low, high] range without its own
    points = 16                         # lhs, sobol: number of points (sobol: a power of 2)
    sample_seed = 1                     # lhs, sobol: seed of the sampler's generator
    table = "points.csv"                # table: CSV of points, relative to this file

    [levers]                            # and/or [params]: any input of sim.model.params
    eco_max_pollution_index = { values = [0.35, 0.5, 0.65, 0.85] }
    vc_cluster_index = [0.5, 2.5]       # a range [low, high]
    guidance_fund_myuan = { low = 50.0, high = 5000.0, scale = "log", levels = 4 }

    [factors.financing_access]          # several inputs moved together: position 0..1
    low = { finance_supermarket_loans_per_year = 7.5, vc_cluster_index = 1.0 }
    high = { finance_supermarket_loans_per_year = 30.0, vc_cluster_index = 2.0 }
    levels = 3                          # or values = [0.0, 0.5, 1.0]

Every name is checked against :mod:`sim.model.params` (a lever belongs in ``[levers]``,
a behavioural parameter or constant in ``[params]``) and every range and value
against the input's declared ``[low, high]`` (a range is written low first);
whole-number inputs are rounded. Numbers go through :func:`sim.numeric.check_number`
(numpy scalars are accepted, NaN and infinity refused). A ``table`` CSV has one
column per input (and optionally ``name``), one row per point. Problems raise
:class:`DesignError` naming the file, the key and what is allowed, before
anything runs; so does an empty file or a range written high first. Keys, names
and numbers are checked by :mod:`sim.schema`, as in scenarios and calibration jobs.
"""

from __future__ import annotations

import csv
import itertools
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim import resources
from sim.model import portable
from sim.model.params import PARAMS
from sim.model.scenario import Scenario, ScenarioError
from sim.numeric import check_number, number_problem
from sim.schema import Check, Choice, Place, Table, Unchecked, input_section, read_toml, validate

METHODS = ("grid", "lhs", "sobol", "table")
TOP_KEYS = ("name", "label", "method", "levels", "points", "sample_seed", "table", "levers", "params", "factors")
RANGE_KEYS = ("low", "high", "levels", "values", "scale")
SCALES = ("linear", "log")


class DesignError(ScenarioError):
    """A design file that cannot be used, with the file, the key and what is allowed."""


@dataclass(frozen=True)
class Factor:
    """One dimension of a design.

    Attributes:
        name: the input name, or the factor name for linked inputs.
        low: lower end per input (``{input: value}``).
        high: upper end per input.
        linked: True for a ``[factors.X]`` dimension whose coordinate is a position 0..1.
        values: explicit grid coordinates (input units, or positions for linked factors).
        levels: number of evenly spaced grid levels when ``values`` is not given.
        scale: ``linear`` or ``log`` spacing between low and high.
    """

    name: str
    low: dict
    high: dict
    linked: bool = False
    values: tuple = ()
    levels: int | None = None
    scale: str = "linear"

    def at(self, u: float) -> dict[str, float]:
        """Input values at unit coordinate ``u`` in [0, 1]."""
        out = {}
        for key, lo in self.low.items():
            hi = self.high[key]
            if self.scale == "log":
                out[key] = float(portable.exp(portable.log(lo) + u * (portable.log(hi) - portable.log(lo))))
            else:
                out[key] = lo + u * (hi - lo)
        return out

    def grid(self) -> list[dict[str, float]]:
        """The grid levels of this factor."""
        if self.values:
            if self.linked:
                return [self.at(v) for v in self.values]
            return [{self.name: v} for v in self.values]
        return [self.at(u) for u in np.linspace(0.0, 1.0, self.levels)]


@dataclass(frozen=True)
class Design:
    """A checked design: its points as input dicts, named ``<name>-<index>``."""

    name: str
    label: str
    method: str
    path: str
    factors: tuple = ()
    points: tuple = ()
    point_names: tuple = ()
    sample_seed: int | None = None
    inputs: tuple = field(default=())

    def scenarios(self, base: Scenario) -> list[Scenario]:
        """One scenario per point: ``base`` with the point's inputs."""
        out = []
        for pname, point in zip(self.point_names, self.points, strict=True):
            text = ", ".join(f"{k}={v:g}" for k, v in point.items())
            out.append(base.with_values(name=pname, label=f"{base.label} | {self.name}: {text}", **point))
        return out

    def to_dict(self) -> dict:
        """JSON-ready description for the manifest (``inputs`` become outcome columns)."""
        return {
            "name": self.name,
            "label": self.label,
            "method": self.method,
            "path": self.path,
            "sample_seed": self.sample_seed,
            "inputs": list(self.inputs),
            "factors": [
                {"name": f.name, "linked": f.linked, "low": f.low, "high": f.high, "scale": f.scale}
                for f in self.factors
            ],
            "points": [{"name": n, **p} for n, p in zip(self.point_names, self.points, strict=True)],
        }


# ---------------------------------------------------------------- checking
def _in_range(path, key, name, value) -> float:
    param = PARAMS[name]
    value = float(check_number(path, key, value, error=DesignError, unit=param.unit))
    if not param.low <= value <= param.high:
        raise DesignError(
            path,
            key,
            f"{value:g} lies outside the declared range of {name}: [{param.low:g}, {param.high:g}] {param.unit}",
        )
    return value


def _whole(path, key, value, low, what) -> int:
    """A whole number of at least ``low``, written as an integer (numpy's included), else a DesignError."""
    if number_problem(value) is not None or not isinstance(value, numbers.Integral) or value < low:
        raise DesignError(path, key, f"{what} a whole number >= {low}, got {value!r}")
    return int(value)


RANGE_TABLE = Table(
    {**dict.fromkeys(RANGE_KEYS, Unchecked()), "scale": Choice(SCALES, "scale")},
    hint="must be [low, high], { low, high, levels, scale } or { values = [...] }",
)


def _grid_only(path, key, method) -> None:
    if method != "grid":
        raise DesignError(path, key, f"explicit values need method = 'grid' (this design: {method})")


def _input_factor(at: Place, name, spec, default_levels, method) -> Factor:
    """The factor of one input of ``[levers]`` or ``[params]``: ``[low, high]``, a range table or grid values."""
    path, key = at.path, at.key
    if isinstance(spec, list):
        if len(spec) != 2:
            raise DesignError(path, key, f"a range is [low, high]; for grid levels write {{ values = {spec} }}")
        spec = {"low": spec[0], "high": spec[1]}
    spec = RANGE_TABLE.check(spec, at)
    if "values" in spec:
        _grid_only(path, f"{key}.values", method)
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise DesignError(path, f"{key}.values", "must be a non-empty list of numbers")
        checked = tuple(_in_range(path, f"{key}.values", name, v) for v in values)
        return Factor(name, {name: min(checked)}, {name: max(checked)}, values=checked)
    low, high = (_in_range(path, f"{key}.{e}", name, spec.get(e)) for e in ("low", "high"))
    return _range_factor(path, key, name, {name: low}, {name: high}, spec, default_levels, method)


def _range_factor(path, key, name, low, high, spec, default_levels, method, linked=False) -> Factor:
    for k in low:
        if low[k] == high[k] and not linked:
            raise DesignError(path, key, f"low and high of {k} are equal ({low[k]:g}); give a range")
        if low[k] > high[k] and not linked:  # a linked factor may move one input down as another goes up
            raise DesignError(
                path, key, f"low must be below high: got [{low[k]:g}, {high[k]:g}]; write [{high[k]:g}, {low[k]:g}]"
            )
    scale = spec.get("scale", "linear")
    if scale == "log" and any(v <= 0 for v in (*low.values(), *high.values())):
        raise DesignError(path, f"{key}.scale", "a log scale needs low and high above 0")
    levels = spec.get("levels", default_levels)
    if method == "grid":
        levels = _whole(path, f"{key}.levels", levels, 2, "grid levels must be")
    return Factor(name, low, high, linked=linked, levels=levels, scale=scale)


def _linked_factor(at: Place, name, spec, default_levels, method) -> Factor:
    """The factor of one ``[factors.NAME]`` table: inputs moved together from ``low`` to ``high``."""
    path, key = at.path, at.key
    if not isinstance(spec, dict) or not isinstance(spec.get("low"), dict) or not isinstance(spec.get("high"), dict):
        raise DesignError(
            path, key, "needs tables low = { input = value, ... } and high = { ... } with the same inputs"
        )
    spec = RANGE_TABLE.check(spec, at)
    if set(spec["low"]) != set(spec["high"]) or not spec["low"]:
        raise DesignError(path, key, "low and high must name the same inputs")
    low, high = {}, {}
    for inp in spec["low"]:
        if inp not in PARAMS:
            raise DesignError(path, f"{key}.low.{inp}", f"unknown input; allowed: {', '.join(PARAMS)}")
        low[inp] = _in_range(path, f"{key}.low.{inp}", inp, spec["low"][inp])
        high[inp] = _in_range(path, f"{key}.high.{inp}", inp, spec["high"][inp])
    if "values" in spec:
        _grid_only(path, f"{key}.values", method)
        values = spec["values"]
        ok = isinstance(values, list) and values and all(number_problem(v) is None and 0 <= v <= 1 for v in values)
        if not ok:
            raise DesignError(path, f"{key}.values", "must be a non-empty list of positions between 0 and 1")
        return Factor(name, low, high, linked=True, values=tuple(float(v) for v in values))
    return _range_factor(path, key, name, low, high, spec, default_levels, method, linked=True)


def round_point(point: dict) -> dict:
    """A design point as scenarios take it: clamped to each input's bounds, integers rounded."""
    out = {}
    for key, value in point.items():
        param = PARAMS[key]
        value = float(min(max(value, param.low), param.high))  # clamp rounding noise of log scales
        out[key] = int(round(value)) if param.integer else value
    return out


# ---------------------------------------------------------------- points
def _sample(method: str, d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    if method == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(n)
    return qmc.Sobol(d, scramble=True, rng=rng).random_base2(int(math.log2(n)))


def _points_from_factors(path, method, factors, header) -> list[dict]:
    if method == "grid":
        points = []
        for combo in itertools.product(*(f.grid() for f in factors)):
            points.append({k: v for part in combo for k, v in part.items()})
        return points
    n = _whole(path, "points", header.get("points"), 1, f"{method} needs points =")
    if method == "sobol" and n & (n - 1):
        low = 2 ** int(math.log2(n))
        raise DesignError(path, "points", f"sobol needs a power of 2 (balance of the sequence); try {low} or {2 * low}")
    seed = _whole(path, "sample_seed", header.get("sample_seed", 0), 0, "must be")
    unit = _sample(method, len(factors), n, seed)
    return [{k: v for f, u in zip(factors, row, strict=True) for k, v in f.at(float(u)).items()} for row in unit]


def _read_table(path: Path, ref) -> tuple[list[dict], list[str]]:
    if not isinstance(ref, str):
        raise DesignError(path, "table", "method 'table' needs table = 'file.csv' (relative to the design file)")
    csv_path = path.parent / ref
    if not csv_path.is_file():
        raise DesignError(path, "table", f"file not found: {csv_path}")
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:  # a spreadsheet's BOM is allowed
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DesignError(csv_path, None, "no points: the table needs a header row and at least one row of values")
    names = [c for c in rows[0] if c != "name"]
    for col in names:
        if col not in PARAMS:
            raise DesignError(csv_path, col, f"unknown input column; allowed: name, {', '.join(PARAMS)}")
    points, point_names = [], []
    for i, row in enumerate(rows, start=2):
        point = {}
        for col in names:
            try:
                value = float(row[col])
            except (TypeError, ValueError):
                raise DesignError(csv_path, f"{col} (line {i})", f"must be a number, got {row[col]!r}") from None
            point[col] = _in_range(csv_path, f"{col} (line {i})", col, value)
        points.append(point)
        point_names.append((row.get("name") or "").strip())
    return points, point_names


EMPTY = (
    f"the file is empty (or holds only comments): a design needs method = one of {', '.join(METHODS)} "
    "and the inputs it varies, in [levers], [params] or [factors.NAME] (or table = 'points.csv')"
)


def _short_name(name, at: Place) -> str:
    if not isinstance(name, str) or not name or "/" in name:
        at.fail(f"must be a short name without '/', got {name!r}")
    return name


_AS_WRITTEN = dict.fromkeys(TOP_KEYS, Unchecked())  # levels, points, sample_seed, table: checked where used
DESIGN_FILE = Table({**_AS_WRITTEN, "name": Check(_short_name), "method": Choice(METHODS, "method")}, top=True)


def load_design(path: str | Path) -> Design:
    """Read and check a design file.

    Args:
        path: a TOML file, or the name of a file in ``scenarios/designs/`` without suffix.

    Raises:
        DesignError: unknown keys or inputs, ranges outside the declared bounds, bad methods.
    """
    path = find_design(path)
    data = read_toml(path, DesignError)
    if not data:
        raise DesignError(path, None, EMPTY)
    data = validate(data, DESIGN_FILE, path, error=DesignError)
    if "method" not in data:
        raise DesignError(path, "method", f"missing: say how points are chosen, one of {', '.join(METHODS)}")
    method, name = data["method"], data.get("name", path.stem)
    factors, given_names = [], []
    if method == "table":
        points, given_names = _read_table(path, data.get("table"))
    else:
        factors = factors_of(path, data, method)
        points = _points_from_factors(path, method, factors, data)
    points = [round_point(p) for p in points]
    width = max(3, len(str(len(points) - 1)))
    point_names = tuple(g or f"{name}-{i:0{width}d}" for i, g in enumerate(given_names or [""] * len(points)))
    if len(set(point_names)) != len(point_names):
        raise DesignError(path, "name", "point names must be unique")
    return Design(
        name=name,
        label=str(data.get("label", name)),
        method=method,
        path=str(path),
        factors=tuple(factors),
        points=tuple(points),
        point_names=point_names,
        sample_seed=data.get("sample_seed", 0) if method in ("lhs", "sobol") else None,
        inputs=tuple(dict.fromkeys(k for p in points for k in p)),
    )


def _factor_tables(data, method) -> list[tuple[str, Table]]:
    """The design tables that hold factors, each with its spec (which builds the factors)."""
    levels = data.get("levels", 3)

    def input_range(param) -> Check:
        return Check(lambda spec, at: _input_factor(at, param.name, spec, levels, method))

    def linked(spec, at: Place) -> Factor:
        return _linked_factor(at, at.key.split(".", 1)[1], spec, levels, method)

    specs = [(section, input_section(section, input_range)) for section in ("levers", "params")]
    return specs + [("factors", Table(each=Check(linked), hint="must be tables like [factors.NAME]"))]


def factors_of(path, data, method) -> list[Factor]:
    """The factors of a design table (``[levers]`` and ``[params]`` ranges), checked against the declared bounds.

    Raises:
        DesignError: unknown names, ranges outside the bounds, malformed entries (naming ``path`` and the key).
    """
    factors = []
    for section, spec in _factor_tables(data, method):
        factors += validate(data.get(section, {}), spec, path, section, DesignError).values()
    if not factors:
        raise DesignError(path, "levers", "the design varies nothing: add [levers], [params] or [factors.NAME]")
    seen = {}
    for f in factors:
        for inp in f.low:
            if inp in seen:
                raise DesignError(path, f.name, f"input {inp} is already varied by {seen[inp]}")
            seen[inp] = f.name
    return factors


def find_design(ref: str | Path) -> Path:
    """Map ``eco_x_financing`` or a path to a design file (see :mod:`sim.resources`).

    Raises:
        ScenarioError: no such file; the message lists the designs that exist.
    """
    return resources.find(ref, "design")
