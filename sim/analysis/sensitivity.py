"""Global sensitivity analysis (Morris elementary effects, Sobol indices) through SALib.

The pipeline has three steps that samplers, tests and the CLI share:

1. :func:`sample` draws the design points of a SALib *problem* (factor names and
   bounds): Morris trajectories or Saltelli's extension of a scrambled Sobol'
   sequence;
2. an evaluation turns the points into one row of outcomes each. For the model,
   :func:`point_scenarios` makes a :class:`~sim.model.scenario.Scenario` of each point,
   :func:`sim.run.batch.run_batch` runs them with common random numbers and
   :func:`point_outcomes` averages the replications of each point (the measured
   value of each target, its reach share, and the ``end_*`` indicators);
3. :func:`analyze` computes the indices of every outcome column into one tidy
   table (Morris ``mu_star`` with its bootstrap interval, ``mu`` and ``sigma``;
   Sobol ``S1`` and ``ST`` with theirs).

A sensitivity *design file* (``scenarios/designs/sensitivity_*.toml``) names the
varied inputs with the range syntax of sweep designs (:mod:`sim.analysis.design`):
``[levers]`` / ``[params]`` ranges, optionally on a log scale, and ``[factors.NAME]``
groups of inputs moved together; see :func:`load_design`. SALib samples a
position 0..1 per factor; :func:`point_values` maps positions to input values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.design import DesignError
from sim.model.params import PARAMS
from sim.model.scenario import Scenario, _read_toml
from sim.model.targets import TARGETS, is_target_column, reached, target_of
from sim.run.runner import END_INDICATORS, outcome_columns

METHODS = ("morris", "sobol")
DESIGN_KEYS = ("name", "label", "outcomes", "levers", "params", "factors")
SWEEP_ONLY_KEYS = ("method", "levels", "points", "sample_seed", "table")
MORRIS_LEVELS = 4  # grid levels of Morris trajectories (SALib's default; Saltelli et al. 2008 suggest 4)
CONF_LEVEL = 0.95  # bootstrap confidence level of every interval
REACH = "@reach"  # suffix of an outcome column that holds a reach share instead of a mean value
INDEX_ORDER = {"morris": ("mu_star", "mu", "sigma"), "sobol": ("S1", "ST")}
MAIN_INDEX = {"morris": "mu_star", "sobol": "ST"}  # index used to rank inputs


@dataclass(frozen=True)
class SensitivityDesign:
    """A checked sensitivity design.

    Attributes:
        path: file it was read from ("" when built in code).
        label: one-line description.
        factors: the varied dimensions (:class:`sim.analysis.design.Factor`): one input with its range,
            or several inputs moved together (``[factors.NAME]``), in file order.
        outcomes: outcome columns to analyse (``target__definition`` and ``end_*``).
    """

    path: str
    label: str
    factors: tuple
    outcomes: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """Factor names: the dimensions the indices are reported for."""
        return [f.name for f in self.factors]

    @property
    def inputs(self) -> list[str]:
        """Every input the design moves (linked factors expanded)."""
        return [k for f in self.factors for k in f.low]

    def problem(self) -> dict:
        """The SALib problem: one unit interval per factor (mapped to inputs by :func:`point_values`).

        Sampling positions 0..1 lets a factor have a log scale or move several inputs;
        Sobol and Morris indices do not depend on this rescaling.
        """
        return {"num_vars": len(self.factors), "names": self.names, "bounds": [[0.0, 1.0]] * len(self.factors)}

    def to_dict(self) -> dict:
        """Plain dict for manifests (JSON-ready)."""
        factors = [
            {"name": f.name, "linked": f.linked, "low": f.low, "high": f.high, "scale": f.scale} for f in self.factors
        ]
        return {"path": self.path, "label": self.label, "factors": factors, "inputs": self.inputs,
                "outcomes": list(self.outcomes)}  # fmt: skip


# ---------------------------------------------------------------- design files


def _select_outcomes(path, selectors) -> tuple[str, ...]:
    allowed = outcome_columns()
    if selectors is None:
        return tuple(allowed)
    if not isinstance(selectors, list) or not selectors or not all(isinstance(s, str) for s in selectors):
        raise DesignError(path, "outcomes", "must be a non-empty list of outcome names (strings)")
    chosen = []
    for sel in selectors:
        match = [c for c in allowed if c == sel or (is_target_column(c) and target_of(c).name == sel)]
        if not match:
            names = ", ".join([t.name for t in TARGETS] + [f"end_{k}" for k in END_INDICATORS])
            raise DesignError(
                path, "outcomes", f"unknown outcome {sel!r}; allowed: a target ({names}) or target__definition"
            )
        chosen += [c for c in match if c not in chosen]
    return tuple(chosen)


def parse_design(data: dict, path: str | Path = "<design>") -> SensitivityDesign:
    """Check a design read from TOML (see :func:`load_design`)."""
    from sim.analysis.design import factors_of  # the sweep designs' range syntax and checks, shared

    for key in data:
        if key in SWEEP_ONLY_KEYS:
            raise DesignError(path, key, "not used by sensitivity designs: the method and sample size come from "
                              "--method and --n, the seed from --seed")  # fmt: skip
        if key not in DESIGN_KEYS:
            raise DesignError(path, key, f"unknown key; allowed top-level keys: {', '.join(DESIGN_KEYS)}")
    label = data.get("label", data.get("name", Path(str(path)).stem))
    if not isinstance(label, str):
        raise DesignError(path, "label", f"must be a string, got {label!r}")
    factors = factors_of(path, data, "sensitivity")
    return SensitivityDesign(str(path), label, tuple(factors), _select_outcomes(path, data.get("outcomes")))


def load_design(path: str | Path) -> SensitivityDesign:
    """Read and check a sensitivity design file.

    The file uses the range syntax of sweep designs (:mod:`sim.analysis.design`): tables
    ``[levers]`` and ``[params]`` of ``name = [low, high]`` or ``{ low, high, scale = "log" }``,
    and ``[factors.NAME]`` tables of inputs moved together; every range lies inside the
    declared bounds of its input. Optional ``label`` and ``outcomes`` (target names,
    ``target__definition`` or ``end_*`` names; default all).

    Raises:
        DesignError: naming the file, the key and what is allowed.
    """
    from sim.analysis.design import find_design

    path = find_design(path)
    return parse_design(_read_toml(path), path)


# ---------------------------------------------------------------- sampling


def check_n(method: str, n: int) -> str | None:
    """Return a problem with the base sample size ``n`` for ``method``, or None."""
    if method not in METHODS:
        return f"unknown method {method!r}; allowed: {', '.join(METHODS)}"
    if method == "morris" and n < 2:
        return f"Morris needs at least 2 trajectories, got --n {n}"
    if method == "sobol" and (n < 2 or n & (n - 1)):
        lower = 2 ** max(1, int(math.log2(max(n, 2))))
        return f"Sobol needs --n a power of 2 (Saltelli sampling), got {n}; try {lower} or {2 * lower}"
    return None


def n_points(method: str, n: int, n_inputs: int) -> int:
    """Number of design points :func:`sample` returns."""
    return n * (n_inputs + 1) if method == "morris" else n * (n_inputs + 2)


def sample(problem: dict, method: str, n: int, seed: int) -> np.ndarray:
    """Design points of ``problem``: ``n`` Morris trajectories, or Saltelli's ``n * (D + 2)`` points.

    Second-order Sobol indices are not computed (they would double the points).
    """
    problem_n = check_n(method, n)
    if problem_n:
        raise ValueError(problem_n)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    from SALib.sample import sobol

    return sobol.sample(problem, n, calc_second_order=False, seed=seed)


def point_values(design: SensitivityDesign, x: np.ndarray) -> list[dict[str, float]]:
    """Input values of each point (positions 0..1 mapped through each factor; whole numbers rounded)."""
    from sim.analysis.design import round_point

    out = []
    for row in np.atleast_2d(x):
        values = {}
        for factor, u in zip(design.factors, row, strict=True):
            values.update(factor.at(float(u)))
        out.append(round_point(values))
    return out


def point_name(base: Scenario, i: int) -> str:
    """Scenario name of design point ``i``."""
    return f"{base.name}-p{i:05d}"


def point_scenarios(base: Scenario, design: SensitivityDesign, x: np.ndarray) -> list[Scenario]:
    """One checked scenario per design point (``base`` with the point's inputs)."""
    label = f"{base.label} | sensitivity point"
    return [base.with_values(name=point_name(base, i), label=label, **v) for i, v in enumerate(point_values(design, x))]


# ---------------------------------------------------------------- evaluation


def point_outcomes(outcomes: pd.DataFrame, names: list[str], columns: list[str]) -> pd.DataFrame:
    """Average the replications of each design point.

    Args:
        outcomes: one row per run (``scenario``, optional ``status``, outcome columns).
        names: scenario names of the points, in design order.
        columns: outcome columns to keep.

    Returns:
        One row per point (index = ``names``): the mean of each column, and for
        each ``target__definition`` the share of replications reaching it
        (column ``target__definition@reach``); ``n_runs`` counts the runs used.
    """
    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    ok = ok[ok["scenario"].isin(names)]
    present = [c for c in columns if c in ok.columns]
    means = ok.groupby("scenario")[present].mean()
    tcols = [c for c in present if is_target_column(c)]
    hits = pd.DataFrame([reached(r) for r in ok[tcols].to_dict("records")], index=ok.index)
    hits["scenario"] = ok["scenario"]
    shares = hits.groupby("scenario")[tcols].mean().add_suffix(REACH)
    table = means.join(shares)
    table["n_runs"] = ok.groupby("scenario").size()
    ordered = [c for col in present for c in (col, col + REACH) if c in table.columns]
    return table.reindex(names)[ordered + ["n_runs"]]


# ---------------------------------------------------------------- analysis


def _outcome_parts(column: str) -> tuple[str, str]:
    if column.endswith(REACH):
        return column[: -len(REACH)], "reach_share"
    return column, "mean"


def _indices(problem, method, x, y, seed) -> dict:
    if method == "morris":
        from SALib.analyze import morris

        return morris.analyze(problem, x, y, conf_level=CONF_LEVEL, num_levels=MORRIS_LEVELS, seed=seed)
    from SALib.analyze import sobol

    return sobol.analyze(problem, y, calc_second_order=False, conf_level=CONF_LEVEL, seed=seed)


def analyze(
    problem: dict, method: str, x: np.ndarray, y: pd.DataFrame, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Sensitivity indices of every outcome column of ``y``.

    Args:
        problem: the SALib problem the points were sampled from.
        method: ``morris`` or ``sobol``.
        x: the design points as sampled (one row per point).
        y: one row per point, one column per outcome (reach shares end in ``@reach``).
        seed: seed of the bootstrap resampling behind the intervals.

    Returns:
        ``(table, skipped)``: the tidy table (``outcome, measure, input, index, value,
        conf, low, high``; ``conf`` is the half-width of the 95% bootstrap interval)
        and ``{column: reason}`` for outcome columns that cannot be analysed.
    """
    if len(y) != len(x):
        raise ValueError(f"{len(y)} outcome rows for {len(x)} design points")
    rows, skipped = [], {}
    for column in y.columns:
        values = y[column].to_numpy(float)
        if np.isnan(values).any():
            skipped[column] = f"{int(np.isnan(values).sum())} point(s) without a value"
            continue
        if np.ptp(values) == 0:
            skipped[column] = f"constant ({values[0]:g}) over the whole design"
            continue
        res = _indices(problem, method, x, values, seed)
        outcome, measure = _outcome_parts(column)
        for index in INDEX_ORDER[method]:
            conf = res.get(f"{index}_conf")
            for k, name in enumerate(problem["names"]):
                c = float(conf[k]) if conf is not None else float("nan")
                v = float(res[index][k])
                rows.append((outcome, measure, name, index, v, c, v - c, v + c))
    cols = ["outcome", "measure", "input", "index", "value", "conf", "low", "high"]
    return pd.DataFrame(rows, columns=cols), skipped


def ranking(table: pd.DataFrame, method: str) -> pd.DataFrame:
    """Main index (Morris ``mu_star``, Sobol ``ST``) sorted within each outcome, with its rank."""
    main = table[table["index"] == MAIN_INDEX[method]].copy()
    order = {key: i for i, key in enumerate(dict.fromkeys(zip(main["outcome"], main["measure"], strict=True)))}
    main["_order"] = [order[k] for k in zip(main["outcome"], main["measure"], strict=True)]
    main = main.sort_values(["_order", "value"], ascending=[True, False], kind="stable").drop(columns="_order")
    main["rank"] = main.groupby(["outcome", "measure"], sort=False).cumcount() + 1
    return main


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    if abs(x) < 0.01:
        return f"{x:.3f}"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def format_summary(table: pd.DataFrame, method: str, skipped: dict[str, str], top: int = 3) -> str:
    """Plain text: per outcome, the ``top`` most influential inputs with their intervals."""
    index = MAIN_INDEX[method]
    lines = [f"most influential inputs by {index} (value [95% interval]); higher = more influence"]
    ranked = ranking(table, method)
    for (outcome, measure), grp in ranked.groupby(["outcome", "measure"], sort=False):
        what = "P(reach)" if measure == "reach_share" else "value"
        parts = [f"{r.input} {_num(r.value)} [{_num(r.low)}, {_num(r.high)}]" for r in grp.head(top).itertuples()]
        lines.append(f"  {outcome} ({what}): " + "; ".join(parts))
    if skipped:
        lines.append("not analysed:")
        lines += [f"  {col}: {why}" for col, why in skipped.items()]
    return "\n".join(lines)


def kind_of(name: str) -> str:
    """The declared kind of an input (``lever``, ``uncertainty``, ...), or ``factor`` for linked inputs."""
    return PARAMS[name].kind if name in PARAMS else "factor"
