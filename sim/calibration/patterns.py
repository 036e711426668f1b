"""Pattern-oriented statistics: what one run says about each published pattern of ``patterns.csv``.

A pattern (Grimm et al. 2005, pattern-oriented modelling) is a regularity a run
must reproduce besides the park's series: the exit hazard by firm age, the tail
of the firm-size distribution, the share of signed projects that land, the NEEQ
boom and contraction. Each is measured on the *firm table* of one run (one row
per firm ever created, see :class:`sim.model.firms.FirmTable`) or on its monthly
table, by the functions below; :data:`STATISTICS` maps a (pattern, statistic) of
``patterns.csv`` to its model statistic.

Spread of a pattern figure (the ``sd`` its residual is divided by, see
docs/calibration.md)::

    sd = sqrt(sd_meas^2 + sd_model^2)
    sd_meas = max((high - low) / 2, rel_sd[grade] * |value|)

``sd_meas`` is the measurement error: the published range's half-width, but at
least the relative error the confidence grade stands for (the job's
``[distance] rel_sd``: H an official dated figure, M a copy or an inferred
date, L a weak one, as for the series). ``sd_model`` is the run-to-run
standard deviation of the model statistic from ``K`` replications at the
prior median (:func:`pattern_noise`); the job stores it as ``model_sd`` in its
``[[patterns]]`` table, because one observed pattern is one realisation of the
model's noise as much as a history is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from sim.calibration.distance import replication_sd
from sim.calibration.simulator import Simulator
from sim.model import portable
from sim.model.scenario import month_index
from sim.model.units import MONTHS_PER_YEAR

FIRM_COLUMNS = ("industry", "stage", "alive", "born_month", "signed_month", "registered_month", "gone_month",
                "closed", "revenue_myuan", "listed_month")  # fmt: skip
GRAPHENE = 0  # industry code of graphene (sim.model.params.INDUSTRIES[0])


def firm_table(firms) -> pd.DataFrame:
    """The used rows of a :class:`~sim.model.firms.FirmTable` as a DataFrame (months as model month indices)."""
    return pd.DataFrame({c: firms.view(c).copy() for c in FIRM_COLUMNS})


def run_with_firms(scenario, seed) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """One run of ``scenario``: (monthly table, firm table, first month, last month) (month indices)."""
    from sim.model.park import ParkModel
    from sim.run.runner import monthly_frame

    model = ParkModel(scenario, seed=seed)
    model.run()
    first, last = month_index(scenario.first_month), month_index(scenario.end)
    return monthly_frame(model.records), firm_table(model.firms), first, last


# ------------------------------------------------------------------------------------ statistics
def exit_hazard(firms: pd.DataFrame, age_year: int, start: int, end: int) -> float:
    """Yearly closure hazard of registered firms in their ``age_year``-th year since registration (1 = first year).

    Closures (``gone_month`` set and ``closed``) at ages ``[age_year - 1, age_year)``
    years during months ``start..end`` over the firm-years at risk at those ages in
    those months: events / (exposure months / 12). NaN with no exposure. The
    published hazards (SAIC 2013) are deaths of firms, so a firm that relocates out
    of the park ends its exposure without counting as an event (a table without a
    ``closed`` column counts every exit).
    """
    reg = firms["registered_month"].to_numpy(np.int64)
    gone = firms["gone_month"].to_numpy(np.int64)
    closed = firms["closed"].to_numpy(bool) if "closed" in firms else np.ones(len(firms), bool)
    ok = reg >= 0
    reg, gone, closed = reg[ok], gone[ok], closed[ok]
    lo_age, hi_age = (age_year - 1) * MONTHS_PER_YEAR, age_year * MONTHS_PER_YEAR
    # months a firm is at risk: [max(start, reg + lo_age), min(end + 1, reg + hi_age, exit month + 1))
    last = np.where(gone >= 0, gone + 1, end + 1)
    a = np.maximum(start, reg + lo_age)
    b = np.minimum(np.minimum(end + 1, reg + hi_age), last)
    exposure = np.clip(b - a, 0, None).sum()
    age_at_exit = gone - reg
    events = (closed & (gone >= start) & (gone <= end) & (age_at_exit >= lo_age) & (age_at_exit < hi_age)).sum()
    return float(events) / (exposure / MONTHS_PER_YEAR) if exposure > 0 else float("nan")


def hill_exponent(size: np.ndarray, k: int) -> float:
    """Hill estimator of the Pareto exponent of the upper tail from the ``k`` largest positive sizes.

    ``alpha = k / sum_{i<=k} log(x_(i) / x_(k+1))`` with ``x_(1) >= x_(2) >= ...``;
    Zipf's law is ``alpha = 1``. NaN with fewer than ``k + 1`` positive sizes.
    """
    x = np.sort(np.asarray(size, float)[np.asarray(size, float) > 0])[::-1]
    if len(x) < k + 1 or k < 1:
        return float("nan")
    logs = portable.log(x[:k] / x[k])
    return float(k / logs.sum()) if logs.sum() > 0 else float("inf")


def top_share(size: np.ndarray, fraction: float) -> float:
    """Share of the total held by the largest ``fraction`` of the units (at least one unit)."""
    x = np.sort(np.asarray(size, float))[::-1]
    if len(x) == 0 or x.sum() <= 0:
        return float("nan")
    k = max(1, int(np.ceil(fraction * len(x))))
    return float(x[:k].sum() / x.sum())


def landing_share(firms: pd.DataFrame, start: int, end: int, horizon: int = 12) -> float:
    """Share of the projects signed in months ``start..end - horizon`` that registered within ``horizon`` months.

    The Hainan figure counts projects signed in 2016 that had registered by
    February 2017, so the default horizon is about a year.
    """
    signed = firms["signed_month"].to_numpy(np.int64)
    reg = firms["registered_month"].to_numpy(np.int64)
    cohort = (signed >= start) & (signed <= end - horizon)
    if not cohort.any():
        return float("nan")
    landed = (reg >= 0) & (reg - signed <= horizon)
    return float((landed & cohort).sum() / cohort.sum())


def stock_ratio(monthly: pd.DataFrame, column: str, later: str, earlier: str) -> float:
    """``column`` in month ``later`` over ``column`` in month ``earlier`` (``YYYY-MM``); NaN outside the run."""
    index = [str(i) for i in monthly.index]
    if later not in index or earlier not in index:
        return float("nan")
    den = float(monthly[column].iloc[index.index(earlier)])
    return float(monthly[column].iloc[index.index(later)]) / den if den > 0 else float("nan")


def listings_in_month(firms: pd.DataFrame, month: int, industry: int | None = None) -> int:
    """Firms (of ``industry``, or all) whose exchange listing happened in model month ``month``."""
    hit = firms["listed_month"].to_numpy() == month
    if industry is not None:
        hit &= firms["industry"].to_numpy() == industry
    return int(hit.sum())


def _revenue_alive(firms: pd.DataFrame) -> np.ndarray:
    live = firms["alive"].to_numpy(bool) & (firms["registered_month"].to_numpy() >= 0)
    return firms["revenue_myuan"].to_numpy(float)[live]


HILL_TOP = 20  # firms in the Hill estimate: the top 500 of a country scaled to a park of a few hundred [judgement]
Run = tuple  # (monthly, firms, start, end) as returned by run_with_firms
STATISTICS: dict[tuple[str, str], Callable[[Run], float]] = {
    **{("exit_hazard_by_age", f"hazard_age_{a}"): (lambda r, a=a: exit_hazard(r[1], a, r[2], r[3])) for a in (1, 2, 3)},
    ("firm_size_tail", "zipf_exponent_revenue_top500"): lambda r: hill_exponent(_revenue_alive(r[1]), HILL_TOP),
    ("firm_size_tail", "zipf_exponent_all_firms_us"): lambda r: hill_exponent(_revenue_alive(r[1]), HILL_TOP),
    ("landing_share", "registered_share_of_signed"): lambda r: landing_share(r[1], r[2], r[3]),
    # national NEEQ: 8187 quoted at end 2020 over 11023 in March 2017; the park's stock over the same months
    ("neeq_contraction", "ratio_2020_end_to_2017_march"): lambda r: stock_ratio(
        r[0], "neeq_quoted", "2020-12", "2017-03"
    ),  # fmt: skip
}
# Ratios of two published levels (the park cannot match national counts, only their shape)
DERIVED = {
    ("neeq_boom", "rise_2016_08_to_2017_03"): (
        ("neeq_boom", "quoted_firms_2017_03_31"),
        ("neeq_boom", "quoted_firms_2016_08_19"),
    ),  # fmt: skip
}
STATISTICS[("neeq_boom", "rise_2016_08_to_2017_03")] = lambda r: stock_ratio(r[0], "neeq_quoted", "2017-03", "2016-08")
# The months a run must cover for a statistic to exist (first, last); the others need only a year of run.
NEEDS_MONTHS = {
    ("neeq_boom", "rise_2016_08_to_2017_03"): ("2016-08", "2017-03"),
    ("neeq_contraction", "ratio_2020_end_to_2017_march"): ("2017-03", "2020-12"),
}


def _weaker(a: str, b: str) -> str:
    order = "HML"  # official, copy or inferred date, weak
    return a if order.index(a) >= order.index(b) else b


def pattern_targets(patterns: pd.DataFrame) -> pd.DataFrame:
    """``patterns.csv`` rows that have a model statistic, plus the :data:`DERIVED` ratios."""
    table = patterns.set_index(["pattern", "statistic"])
    rows = [table.loc[[k]].reset_index() for k in STATISTICS if k in table.index]
    for key, (num, den) in DERIVED.items():
        if num in table.index and den in table.index:
            a, b = table.loc[num], table.loc[den]
            rows.append(pd.DataFrame([{
                "pattern": key[0], "statistic": key[1], "value": a["value"] / b["value"],
                "low": a["low"] / b["high"], "high": a["high"] / b["low"], "unit": "share", "scope": a["scope"],
                "year": a["year"], "source": a["source"], "confidence": _weaker(a["confidence"], b["confidence"]),
                "quote": f"derived: {num[1]} / {den[1]}",
            }]))  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else patterns.iloc[:0]


def measure_patterns(run: Run, keys: list[tuple[str, str]]) -> np.ndarray:
    """The model statistic of each (pattern, statistic) in ``keys`` on one run."""
    return np.array([STATISTICS[k](run) for k in keys], float)


def pattern_sd(targets: pd.DataFrame, rel_sd: dict, model_sd: np.ndarray | None = None) -> np.ndarray:
    """``sqrt(sd_meas^2 + sd_model^2)`` with ``sd_meas = max((high - low) / 2, rel_sd[grade] |value|)``."""
    half = (targets["high"].to_numpy(float) - targets["low"].to_numpy(float)) / 2.0
    rel = targets["confidence"].map(rel_sd).to_numpy(float) * targets["value"].abs().to_numpy(float)
    meas = np.maximum(half, rel)
    model = np.zeros(len(targets)) if model_sd is None else np.nan_to_num(np.asarray(model_sd, float), nan=0.0)
    return np.sqrt(meas**2 + model**2)


def pattern_noise(scenario, keys: list[tuple[str, str]], k: int, seed: int, run=run_with_firms) -> np.ndarray:
    """Run-to-run sd of each pattern statistic from ``k`` replications of ``scenario`` (at the prior median).

    The result goes into the job's ``[[patterns]]`` tables as ``model_sd``.
    """
    from sim.run.runner import replicate_seeds

    stats = np.array([measure_patterns(run(scenario, s), keys) for s in replicate_seeds(seed, k)])
    return replication_sd(stats)


@dataclass
class PatternSimulator(Simulator):
    """A :class:`Simulator` whose figures are the job's series figures followed by its pattern statistics.

    One run per call, with the firm table kept (:func:`run_with_firms`); a
    failing run gives NaN everywhere, as in :class:`Simulator`.
    """

    pattern_keys: tuple = ()

    def figures(self, theta: dict, seed) -> np.ndarray:
        sc = self.scenario_at(theta)
        try:
            run = run_with_firms(sc, seed)
        except Exception:  # noqa: BLE001 - any model failure is a rejected simulation
            return np.full(len(self._plan) + len(self.pattern_keys), np.nan)
        series = self.measure(SimpleNamespace(monthly=run[0]), sc.values)
        return np.r_[series, measure_patterns(run, list(self.pattern_keys))]


def job_model(job, observations: pd.DataFrame | None = None, spread: str = "sd"):
    """The simulator and distance of ``job``: its series figures, then its ``[[patterns]]`` of weight > 0.

    Every method builds its model here, so a job's patterns reach ABC, MSM and
    history matching alike. ``observations`` defaults to all of the job's figures
    (weight 0 ones add nothing to the distance); ``spread`` is the column of
    standard deviations (:meth:`Discrepancy.from_observations`).

    Returns:
        ``(simulator, discrepancy)``: a :class:`PatternSimulator` when the job
        has patterns, else a plain :class:`Simulator`.
    """
    from sim.calibration.distance import Discrepancy

    obs = job.observations if observations is None else observations
    pats = fitted_patterns(job)
    if pats is None:
        return Simulator(job.scenario, obs, job.param_names, job.seed), Discrepancy.from_observations(obs, None, spread)
    keys = tuple(zip(pats["pattern"], pats["statistic"], strict=True))
    sim = PatternSimulator(job.scenario, obs, job.param_names, job.seed, pattern_keys=keys)
    return sim, Discrepancy.from_observations(obs, pats, spread)


def fitted_patterns(job) -> pd.DataFrame | None:
    """The job's patterns of weight > 0, or None when it has none."""
    if job.patterns is None:
        return None
    pats = job.patterns[job.patterns["weight"] > 0].reset_index(drop=True)
    return pats if len(pats) else None


def job_noise(job, k: int, pool=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's run-to-run sd of each figure of ``job`` from ``k`` replications at the prior median.

    Returns ``(series, patterns)``: a table ``obs, model_sd, runs`` of every series
    figure (weight 0 ones too) for the job's ``[distance] model_noise`` file, and a
    table ``pattern, statistic, model_sd`` of its fitted patterns (empty without
    any). Seeds: :func:`sim.run.runner.replicate_seeds` of ``job.seed + 23``, the
    seeds :func:`job_pattern_noise` uses, so both give the same pattern figures.
    """
    from sim.run.runner import replicate_seeds

    sim, _ = job_model(job)
    theta = {p.name: float(p.ppf(0.5)) for p in job.priors}
    tasks = [(theta, s) for s in replicate_seeds(job.seed + 23, k)]
    figures = np.array(pool.map(sim.figures_task, tasks) if pool is not None else [sim.figures_task(t) for t in tasks])
    sd = replication_sd(figures)
    runs = np.isfinite(figures).sum(axis=0)
    n = len(job.observations)
    series = pd.DataFrame({"obs": job.observations["obs"], "model_sd": sd[:n], "runs": runs[:n]})
    pats = fitted_patterns(job)
    if pats is None:
        return series, pd.DataFrame(columns=["pattern", "statistic", "model_sd"])
    return series, pd.DataFrame({"pattern": pats["pattern"], "statistic": pats["statistic"], "model_sd": sd[n:]})


def noise_floor(weight: np.ndarray, sd_meas: np.ndarray, model_sd: np.ndarray) -> float:
    """The root-mean-square distance of a run at the true parameters from the record it made: ``sqrt(E[D^2])``.

    The record is one run plus measurement error, the simulation another run:
    their difference has variance ``2 m^2 + s^2`` per figure, scaled by
    ``sd^2 = m^2 + s^2``, so ``E[D^2] = sum_i w_i (1 + m_i^2 / (m_i^2 + s_i^2))``,
    between 1 (no model noise) and 2 (no measurement error). Below it ABC rejects
    most runs made at the truth for their noise alone: a convergence criterion
    (the default job's ``min_epsilon``, docs/calibration.md).
    """
    w, s, m = (np.asarray(a, float) for a in (weight, sd_meas, model_sd))
    share = np.divide(m**2, m**2 + s**2, out=np.zeros_like(m), where=(m**2 + s**2) > 0)
    return float(np.sqrt(np.sum(w / w.sum() * (1.0 + share))))


def job_pattern_noise(job, k: int = 16, run=run_with_firms) -> pd.DataFrame:
    """``model_sd`` of each of the job's ``[[patterns]]`` from ``k`` replications at the prior median.

    Returns a table (pattern, statistic, model_sd) and, in ``toml``, the
    ``[[patterns]]`` tables with their ``model_sd`` to paste into the job file
    (the job stores them, so every fit of the job uses the same spreads).
    """
    if job.patterns is None or not len(job.patterns):
        return pd.DataFrame(columns=["pattern", "statistic", "model_sd", "toml"])
    keys = list(zip(job.patterns["pattern"], job.patterns["statistic"], strict=True))
    sim = Simulator(job.scenario, job.observations, job.param_names, job.seed)
    scenario = sim.scenario_at({p.name: float(p.ppf(0.5)) for p in job.priors})
    sd = pattern_noise(scenario, keys, k, job.seed + 23, run=run)
    table = pd.DataFrame({"pattern": [a for a, _ in keys], "statistic": [b for _, b in keys], "model_sd": sd})
    table["toml"] = [
        f'[[patterns]]\npattern = "{a}"\nstatistic = "{b}"\nweight = {w:g}\n'
        f"model_sd = {v:.4g}  # {k} runs at the prior median"
        for (a, b), w, v in zip(keys, job.patterns["weight"], sd, strict=True)
    ]
    return table
