"""Calibration job files (``calibration/jobs/*.toml``): parsing and validation.

A job names the parameters to fit with their priors, the data series to match
with their weights, how residuals are scaled (the distance, shared by ABC and
MSM), the method and its budget. Example::

    name = "default"
    method = "abc"                      # or "msm", or "hm" (history matching)
    scenario = "history"                # scenario file or name in scenarios/
    data = "calibration/data/west_taihu_history.csv"
    seed = 1

    [params.leads_per_month]            # only uncertainties of sim.model.params
    prior = "uniform"                   # uniform | loguniform | normal (truncated)
    low = 10.0                          # inside the declared range
    high = 60.0
    source = "priors.md: 100-120 tech projects a year"

    [[series]]
    series = "graphene_firms"
    frame = "graphene_park"             # optional when the series has one frame
    weight = 1.0                        # 0: in the predictive check only, not fitted

    [distance]                          # standard deviation of a figure
    rel_sd = {H = 0.1, M = 0.2, L = 0.4}   # measurement error by confidence grade
    min_sd = {firms = 2.0, projects = 2.0, "100m_yuan" = 0.5, pct_per_year = 5.0}
    model_noise = "default_noise.csv"   # optional: the model's run-to-run sd per figure

A figure's ``sd`` is ``sqrt(sd_meas^2 + model_sd^2)``: the measurement error
(``max(rel_sd[grade] |value|, min_sd[unit])``) and, when the job names a
``model_noise`` file (``scripts/job_noise.py`` writes it from replications at the
prior median), the model's run-to-run noise, since the park's record is one
realisation of that noise. ABC scales residuals by ``sd``; MSM and history
matching estimate the model's variance themselves and use ``sd_meas``.

    [abc]                               # or [msm], [hm]; see SETTINGS
    population = 200

The layout is declared in :data:`JOB_FILE` and checked by :mod:`sim.schema`;
every problem raises :class:`JobError` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim import resources
from sim.calibration.data import CONFIDENCE, UNITS, load_history
from sim.calibration.observe import KINDS_FOR, QUANTITIES, months_needed, unobservable_reason
from sim.model.params import PARAMS, UNCERTAINTIES
from sim.model.scenario import Scenario, ScenarioError, load_scenario, month_index
from sim.schema import Choice, ListOf, Number, Table, Unchecked, read_toml, validate

PRIOR_KEYS = ("prior", "low", "high", "mean", "sd", "source")
SERIES_KEYS = ("series", "frame", "weight", "from", "to", "confidence")
PATTERN_KEYS = ("pattern", "statistic", "weight", "model_sd")
DISTANCE_DEFAULTS = {
    "rel_sd": {"H": 0.1, "M": 0.2, "L": 0.4},
    "min_sd": {
        "firms": 2.0,
        "projects": 2.0,
        "teams": 2.0,
        "km2": 0.5,
        "100m_yuan": 0.5,
        "100m_usd": 0.1,  # one published digit (figures are given to 0.1 x 100 m USD)
        "pct_per_year": 5.0,
    },
}
INF = math.inf
# Each method setting: (default, low, high), the range inclusive; a whole-number default makes a whole-number setting.
SETTINGS = {
    "abc": {
        "population": (200, 4, 100_000),
        "max_generations": (10, 1, 1000),
        "min_epsilon": (0.0, 0, INF),
        "min_acceptance_rate": (0.02, 0.0, 1.0),
        "quantile": (0.5, 0.01, 1.0),
        "budget_seconds": (1500.0, 0, INF),
    },
    "msm": {
        "replications": (16, 2, 10_000),
        "start_points": (8, 0, INF),
        "max_evaluations": (120, 1, 100_000),
        "fd_step": (0.05, 0.001, 0.5),
        "budget_seconds": (1500.0, 0, INF),
    },
    "hm": {
        "waves": (5, 1, 100),
        "runs": (60, 5, 100_000),
        "candidates": (5000, 100, 10_000_000),
        "cutoff": (3.0, 0.5, 100.0),
        "rank": (1, 1, 5),
        "min_shrink": (0.1, 0.0, 1.0),
        "replications": (8, 2, 10_000),
        "budget_seconds": (1500.0, 0, INF),
    },
    "output": {"predictive_runs": (100, 1, 100_000), "posterior_draws": (200, 1, 100_000)},
}
DEFAULTS = {table: {k: v[0] for k, v in settings.items()} for table, settings in SETTINGS.items()}
METHODS = ("abc", "msm", "hm")
PRIOR_KINDS = ("uniform", "loguniform", "normal")
SERIES_HINT = "name at least one series in [[series]] tables"


class JobError(ScenarioError):
    """A job file that cannot be run: names the file, the key and what is allowed."""


@dataclass(frozen=True)
class Prior:
    """Prior of one fitted parameter on ``[low, high]`` (normal priors are truncated there)."""

    name: str
    kind: str
    low: float
    high: float
    mean: float | None = None
    sd: float | None = None
    source: str = ""

    def dist(self):
        """The frozen scipy distribution."""
        if self.kind == "uniform":
            return stats.uniform(loc=self.low, scale=self.high - self.low)
        if self.kind == "loguniform":
            return stats.loguniform(self.low, self.high)
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)

    def ppf(self, u):
        """Quantiles (inverse CDF) of ``u`` in [0, 1]."""
        return self.dist().ppf(u)

    def to_pyabc(self):
        """The same prior as a :class:`pyabc.RV`."""
        from pyabc import RV

        if self.kind == "uniform":
            return RV("uniform", self.low, self.high - self.low)
        if self.kind == "loguniform":
            return RV("loguniform", self.low, self.high)
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return RV("truncnorm", a, b, loc=self.mean, scale=self.sd)

    def describe(self) -> str:
        if self.kind == "normal":
            return f"normal({self.mean:g}, {self.sd:g}) on [{self.low:g}, {self.high:g}]"
        return f"{self.kind}[{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Job:
    """A validated calibration job.

    Attributes:
        name: job name (output folder ``calibration/fitted/<name>/``).
        label: one-line description.
        path: the job file.
        method: ``abc``, ``msm`` or ``hm``.
        scenario: the history scenario simulated for every parameter value.
        data_path: the data file.
        seed: root seed of the job.
        priors: fitted parameters in job order.
        observations: one row per selected data figure (data columns plus ``sd_meas``,
            the measurement error; ``model_sd``, the model's run-to-run noise from the
            ``[distance] model_noise`` file, 0 without one; ``sd``, both together;
            ``weight``, ``series_weight``), in a fixed order.
        abc: ABC-SMC settings.
        msm: MSM settings.
        hm: history-matching settings (:mod:`sim.calibration.history_matching`).
        output: predictive-check and posterior-draw settings.
        patterns: one row per selected pattern figure (``patterns.csv`` columns plus
            ``sd_meas``, ``model_sd``, ``sd``, ``weight``), or None when the job lists none.
        distance: the ``[distance]`` table over its defaults (``rel_sd``, ``min_sd``).
    """

    name: str
    label: str
    path: str
    method: str
    scenario: Scenario
    data_path: str
    seed: int
    priors: tuple[Prior, ...]
    observations: pd.DataFrame = field(compare=False)
    abc: dict = field(default_factory=dict)
    msm: dict = field(default_factory=dict)
    hm: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    patterns: pd.DataFrame | None = field(default=None, compare=False)
    distance: dict = field(default_factory=dict)

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.priors]


def project_root(start: Path) -> Path:
    """The folder holding ``pyproject.toml`` above ``start``; else (or in an installed package) the current folder."""
    return resources.project_root(start) or Path.cwd()


def _settings_table(settings: dict) -> Table:
    """The table of one method's settings: each a number in its range."""
    return Table({k: Number(low, high, integer=isinstance(d, int)) for k, (d, low, high) in settings.items()})


def _per(names: tuple[str, ...]) -> Table:
    """A standard deviation (above 0) per confidence grade or unit."""
    return Table(each=Number(1e-9), names=names, unknown=lambda name: f"unknown; allowed: {', '.join(names)}")


SERIES_TABLE = Table(
    {**dict.fromkeys(SERIES_KEYS, Unchecked()), "weight": Number(0.0)}, hint="must be a [[series]] table"
)
PATTERN_TABLE = Table(
    {"pattern": Unchecked(), "statistic": Unchecked(), "weight": Number(0.0), "model_sd": Number(0.0)},
    hint='must be a [[patterns]] table like {pattern = "exit_hazard_by_age", statistic = "hazard_age_3"}',
)
JOB_FIELDS = {
    "name": Unchecked(),
    "label": Unchecked(),
    "method": Choice(METHODS, "method"),
    "scenario": Unchecked(),  # resolved and loaded by _scenario
    "data": Unchecked(),
    "seed": Number(0, integer=True),
    "params": Unchecked(),  # checked by parse_prior, which knows the declarations
    "series": ListOf(SERIES_TABLE, SERIES_HINT),
    "patterns": ListOf(PATTERN_TABLE, "list patterns in [[patterns]] tables"),
    "patterns_file": Unchecked(),
    "distance": Table({"rel_sd": _per(CONFIDENCE), "min_sd": _per(UNITS), "model_noise": Unchecked()}),
    **{k: _settings_table(settings) for k, settings in SETTINGS.items()},
}
JOB_FILE = Table(JOB_FIELDS, top=True)
PRIOR_TABLE = Table(
    {**dict.fromkeys(PRIOR_KEYS, Number()), "prior": Choice(PRIOR_KINDS, "prior"), "source": Unchecked()},
    hint='must be a table like {prior = "uniform", low = 1, high = 2}',
)


def _fittable(path, key: str, name: str) -> None:
    """Refuse ``name`` unless it is an uncertainty of :mod:`sim.model.params` (only those can be fitted)."""
    if name in UNCERTAINTIES:
        return
    if name in PARAMS:
        kind = PARAMS[name].kind
        raise JobError(path, key, f"is a {kind} input; only uncertainties can be fitted: {', '.join(UNCERTAINTIES)}")
    raise JobError(path, key, f"unknown parameter; allowed (uncertainties): {', '.join(UNCERTAINTIES)}")


def _prior_range(path, key: str, spec: dict, kind: str, decl) -> tuple[float, float]:
    """The prior's ``[low, high]``: inside the declared range, low below high (above 0 for loguniform)."""
    low, high = float(spec.get("low", decl.low)), float(spec.get("high", decl.high))
    for k, v in (("low", low), ("high", high)):
        if not decl.low <= v <= decl.high:
            where = f"the declared range {decl.low:g}..{decl.high:g} ({decl.unit})"
            raise JobError(path, f"{key}.{k}", f"{v:g} lies outside {where}")
    if low >= high:
        raise JobError(path, f"{key}.high", f"must be above low ({low:g}), got {high:g}")
    if kind == "loguniform" and low <= 0:
        raise JobError(path, f"{key}.low", f"a loguniform prior needs low > 0, got {low:g}")
    return low, high


def _moments(path, key: str, spec: dict, kind: str, low: float, high: float) -> tuple[float | None, float | None]:
    """``(mean, sd)`` of a normal prior (inside its range, sd positive); ``(None, None)`` for the others."""
    if kind != "normal":
        if "mean" in spec or "sd" in spec:
            raise JobError(path, key, f"mean and sd belong to normal priors only (this one is {kind})")
        return None, None
    if "mean" not in spec or "sd" not in spec:
        raise JobError(path, key, "a normal prior needs mean and sd")
    mean, sd = spec["mean"], spec["sd"]
    if not low <= mean <= high:
        raise JobError(path, f"{key}.mean", f"{mean:g} lies outside the prior's range {low:g}..{high:g}")
    if sd <= 0:
        raise JobError(path, f"{key}.sd", f"must be positive, got {sd:g}")
    return mean, sd


def parse_prior(path, name: str, spec) -> Prior:
    """Validate one ``[params.NAME]`` table against the declaration of ``NAME``."""
    key = f"params.{name}"
    _fittable(path, key, name)
    spec = validate(spec, PRIOR_TABLE, path, key, JobError)
    kind = spec.get("prior", "uniform")
    low, high = _prior_range(path, key, spec, kind, UNCERTAINTIES[name])
    mean, sd = _moments(path, key, spec, kind, low, high)
    return Prior(name, kind, low, high, mean, sd, str(spec.get("source", "")))


def _pick_frame(path, key, spec, frames: dict) -> tuple[str, str]:
    series = spec.get("series")
    if not isinstance(series, str) or not series:
        raise JobError(path, f"{key}.series", "must name a series of the data")
    if series not in frames:
        raise JobError(path, f"{key}.series", f"no rows for {series!r} in the data; series: {', '.join(frames)}")
    frame = spec.get("frame")
    if frame is None:
        if len(frames[series]) > 1:
            raise JobError(
                path, f"{key}.frame", f"{series!r} is reported in frames {', '.join(frames[series])}: name one"
            )
        frame = frames[series][0]
    if frame not in frames[series]:
        raise JobError(
            path, f"{key}.frame", f"no rows for {series!r} in frame {frame!r}; its frames: {', '.join(frames[series])}"
        )
    reason = unobservable_reason(series, frame)
    if reason:
        raise JobError(path, key, f"the model cannot produce {series!r} in frame {frame!r}: {reason}")
    return series, frame


def _select_rows(path, key, spec, data: pd.DataFrame, series: str, frame: str) -> pd.DataFrame:
    rows = data[(data["series"] == series) & (data["frame"] == frame)]
    for bound, op in (("from", rows["date"].ge), ("to", rows["date"].le)):
        if bound in spec:
            value = spec[bound]
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
            rows = rows[op(text)]
    grades = spec.get("confidence", list(CONFIDENCE))
    if not isinstance(grades, list) or any(g not in CONFIDENCE for g in grades):
        raise JobError(path, f"{key}.confidence", f"must be a list of grades from {', '.join(CONFIDENCE)}")
    rows = rows[rows["confidence"].isin(grades)]
    if rows.empty:
        raise JobError(
            path, key, f"empty data selection: no rows of {series!r} in frame {frame!r} pass from/to/confidence"
        )
    return rows


def _check_rows(path, key, rows: pd.DataFrame, scenario: Scenario) -> None:
    q = QUANTITIES[(rows.iloc[0]["series"], rows.iloc[0]["frame"])]
    start, end = month_index(scenario.first_month), month_index(scenario.end)
    for r in rows.itertuples():
        where = f"{key} (data line {r.line}, {r.date})"
        if r.kind not in KINDS_FOR[q.measure]:
            raise JobError(path, where, f"a {r.kind} figure cannot be measured on {q.column} ({q.measure})")
        if r.unit != q.unit_for(r.kind):
            raise JobError(path, where, f"unit {r.unit!r} does not match the model quantity's {q.unit_for(r.kind)!r}")
        m = month_index(r.month)
        if m > end or m - start < months_needed(r.kind) - 1:
            raise JobError(
                path,
                where,
                f"the history run {scenario.start}..{scenario.end} cannot measure it "
                f"(a {r.kind} figure needs {months_needed(r.kind)} month(s) of run up to its month)",
            )


def _sd(rows: pd.DataFrame, dist: dict) -> np.ndarray:
    rel = rows["confidence"].map(dist["rel_sd"]).to_numpy(float)
    floor = rows["unit"].map(dist["min_sd"]).to_numpy(float)
    return np.maximum(rel * rows["value"].abs().to_numpy(float), floor)


def _distance(raw: dict) -> dict:
    """The checked ``[distance]`` table over its defaults (``model_noise`` kept as given, or None)."""
    given = raw.get("distance", {})
    out = {k: {**v, **given.get(k, {})} for k, v in DISTANCE_DEFAULTS.items()}
    return out | {"model_noise": given.get("model_noise")}


NOISE_COLUMNS = ("obs", "model_sd")


def _model_noise(path, ref, obs: pd.DataFrame) -> np.ndarray:
    """Run-to-run sd of each figure of ``obs`` from the job's ``model_noise`` file (zeros without one).

    The file (``obs,model_sd[,runs]``, written by ``scripts/job_noise.py``) holds
    the model's sd of each figure over replications at the prior median; every
    figure of the job must have a row (a stale file would silently mis-weight).
    """
    if ref is None:
        return np.zeros(len(obs))
    key = "distance.model_noise"
    if not isinstance(ref, str):
        raise JobError(path, key, 'must name a CSV file of (obs, model_sd) rows, like "default_noise.csv"')
    source = resources.find(ref, "job", referrer=path, key=key, must_exist=False)
    if not source.is_file():
        raise JobError(path, key, f"no file {source}; make it with scripts/job_noise.py {path}")
    try:
        table = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise JobError(source, None, f"cannot be read as CSV ({exc})") from None
    missing = [c for c in NOISE_COLUMNS if c not in table.columns]
    if missing:
        raise JobError(source, missing[0], f"missing column; the file needs columns {', '.join(NOISE_COLUMNS)}")
    sd = pd.to_numeric(table["model_sd"], errors="coerce")
    bad = table.loc[~(sd >= 0) & table["model_sd"].notna(), "obs"]
    if len(bad):
        raise JobError(source, "model_sd", f"must be a number >= 0 (row {bad.iloc[0]!r})")
    noise = dict(zip(table["obs"].astype(str), sd.fillna(0.0), strict=True))
    absent = [o for o in obs["obs"] if o not in noise]
    if absent:
        raise JobError(source, "obs", f"no row for {absent[0]!r} (and {len(absent) - 1} more figure(s) of the job); "
                       f"make the file again with scripts/job_noise.py {path}")  # fmt: skip
    return np.array([noise[o] for o in obs["obs"]], float)


def spread(meas: np.ndarray, model: np.ndarray) -> np.ndarray:
    """A figure's sd: measurement error and the model's run-to-run noise, independent, ``sqrt(a^2 + b^2)``."""
    return np.sqrt(np.asarray(meas, float) ** 2 + np.asarray(model, float) ** 2)


def _series_rows(path, key, spec, data: pd.DataFrame, frames: dict, scenario: Scenario) -> pd.DataFrame:
    """The data rows one ``[[series]]`` table selects, checked against the history run, with their weights."""
    series, frame = _pick_frame(path, key, spec, frames)
    rows = _select_rows(path, key, spec, data, series, frame).copy()
    _check_rows(path, key, rows, scenario)
    weight = spec.get("weight", 1.0)  # 0: checked, not fitted
    rows["series_weight"] = weight
    rows["weight"] = weight / len(rows)  # every series counts as a whole, however many figures it has
    return rows


def _observations(path, raw: dict, data: pd.DataFrame, scenario: Scenario, noise: bool = True) -> pd.DataFrame:
    if "series" not in raw:
        raise JobError(path, "series", SERIES_HINT)
    frames = {s: sorted(g["frame"].unique()) for s, g in data.groupby("series")}
    chosen, seen, dist = [], set(), _distance(raw)
    for i, spec in enumerate(raw["series"]):
        rows = _series_rows(path, f"series[{i}]", spec, data, frames, scenario)
        pair = (rows.iloc[0]["series"], rows.iloc[0]["frame"])
        if pair in seen:
            raise JobError(path, f"series[{i}]", f"{pair[0]!r} in frame {pair[1]!r} is named twice")
        seen.add(pair)
        rows["sd_meas"] = _sd(rows, dist)
        chosen.append(rows)
    obs = pd.concat(chosen, ignore_index=True)
    if not (obs["weight"] > 0).any():
        raise JobError(path, "series", "every series has weight 0: nothing would be fitted")
    obs.insert(0, "obs", [f"{r.series}@{r.frame}@{r.date}" for r in obs.itertuples()])
    obs["model_sd"] = _model_noise(path, dist["model_noise"] if noise else None, obs)
    obs["sd"] = spread(obs["sd_meas"], obs["model_sd"])
    return obs


def _patterns(path, raw: dict, scenario: Scenario) -> pd.DataFrame | None:
    """The ``[[patterns]]`` of the job: each a (pattern, statistic) with a model statistic, with its spread."""
    if "patterns" not in raw:
        return None
    from sim.calibration.data import load_patterns
    from sim.calibration.patterns import NEEDS_MONTHS, STATISTICS, pattern_sd, pattern_targets

    ref = str(raw.get("patterns_file", "calibration/data/patterns.csv"))
    source = resources.find(ref, "data", referrer=path, key="patterns_file", must_exist=False)
    targets = pattern_targets(load_patterns(source)).set_index(["pattern", "statistic"])
    known = ", ".join(f"{a}/{b}" for a, b in STATISTICS)
    rows, dist = [], _distance(raw)
    for i, spec in enumerate(raw["patterns"]):
        key = (spec.get("pattern"), spec.get("statistic"))
        if key not in STATISTICS or key not in targets.index:
            raise JobError(path, f"patterns[{i}]", f"no model statistic for {key[0]}/{key[1]}; allowed: {known}")
        opening = scenario.first_month  # the first recorded month (history_start when the run forks)
        first, last = NEEDS_MONTHS.get(key, (opening, opening))
        if first < opening or last > scenario.end:
            raise JobError(path, f"patterns[{i}]", f"{key[1]} needs a run covering {first}..{last}; the scenario "
                           f"runs {opening}..{scenario.end}")  # fmt: skip
        row = targets.loc[key].to_dict() | {"pattern": key[0], "statistic": key[1]}
        row["model_sd"] = float(spec.get("model_sd", 0.0))
        row["weight"] = float(spec.get("weight", 1.0))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.duplicated(["pattern", "statistic"]).any():
        raise JobError(path, "patterns", "a pattern statistic is named twice")
    table["sd_meas"] = pattern_sd(table, dist["rel_sd"])
    table["sd"] = spread(table["sd_meas"], table["model_sd"])
    return table


def _scenario(path: Path, ref) -> Scenario:
    if not isinstance(ref, str):
        raise JobError(path, "scenario", "must name a scenario file or a name in scenarios/")
    try:
        return load_scenario(resources.find(ref, "scenario", referrer=path, key="scenario"))
    except ScenarioError as exc:
        raise JobError(path, "scenario", f"cannot load {ref!r}: {exc}") from None


def load_job(path: str | Path, model_noise: bool = True) -> Job:
    """Read and validate a job file (a path, or a name such as ``default`` in ``calibration/jobs/``).

    ``model_noise=False`` leaves the ``[distance] model_noise`` file unread (every
    ``model_sd`` 0): what ``scripts/job_noise.py`` needs to write that file.

    Raises:
        JobError: unknown keys, parameters or series; a prior outside a
            parameter's declared range; an empty data selection; figures the
            history run cannot measure.
    """
    path = resources.find(path, "job", must_exist=False)
    missing = f"job file not found; calibration jobs: {', '.join(resources.available('job'))}"
    raw = validate(read_toml(path, JobError, missing), JOB_FILE, path, error=JobError)
    params = raw.get("params")
    if not isinstance(params, dict) or not params:
        raise JobError(path, "params", "name at least one parameter to fit in [params.NAME] tables")
    priors = tuple(parse_prior(path, name, spec) for name, spec in params.items())
    scenario = _scenario(path, raw.get("scenario", "history"))
    data_ref = str(raw.get("data", "calibration/data/west_taihu_history.csv"))
    data_path = resources.find(data_ref, "data", referrer=path, key="data", must_exist=False)
    data = load_history(data_path)
    return Job(
        name=str(raw.get("name", path.stem)),
        label=str(raw.get("label", path.stem)),
        path=str(path),
        method=raw.get("method", "abc"),
        scenario=scenario,
        data_path=str(data_path),
        seed=raw.get("seed", 1),
        priors=priors,
        observations=_observations(path, raw, data, scenario, model_noise),
        patterns=_patterns(path, raw, scenario),
        distance=_distance(raw),
        **{k: {**defaults, **raw.get(k, {})} for k, defaults in DEFAULTS.items()},
    )
