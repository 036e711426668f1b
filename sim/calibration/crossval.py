"""Cross-validation of calibration on synthetic data: is each parameter identified, and are intervals honest?

The design is the real record's: the same series, frames, kinds and dates as
the job's data (``job.observations``). For data set ``i`` a parameter vector is
drawn from the job's prior, the history scenario is run once at it (one seed per
data set, :func:`sim.calibration.synthetic.synthetic_observations`) and the
figures are read off exactly as on the real record. Each method fits each data
set with a reduced budget; per method and parameter we then report

* **coverage**: the share of data sets whose 90% interval contains the truth,
  with a 95% Clopper-Pearson interval for that share (an honest method covers
  about 90%);
* **shrinkage**: ``1 - posterior variance / prior variance``, averaged over the
  data sets ("posterior contraction": Betancourt, "Towards a principled Bayesian
  workflow", https://betanalpha.github.io/assets/case_studies/principled_bayesian_workflow.html,
  confidence H; the same metric as bayesflow's ``posterior_contraction``,
  https://github.com/bayesflow-org/bayesflow): near 1 the data pin the parameter
  down, near 0 they say nothing beyond the prior;
* the posterior mean against the truth (figure ``identifiability.png``).

A parameter whose shrinkage is below :data:`UNIDENTIFIED_SHRINKAGE` is named
*unidentified*; a one-at-a-time run at the prior mean (:func:`local_sensitivity`)
says which figures its effect runs through, hence which data would identify it.

Everything is resumable: each data set (``data/ds###.json``) and each fit
(``fits/<method>/ds###.json``) is stored as it finishes and a rerun skips them.
The machinery (:func:`run_crossval`, :func:`identifiability_table`) takes any
simulator and fitters, so it is tested on a cheap analytic simulator; the park
wiring is :func:`park_design` and :func:`park_fitters`.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import InputError

# Shrinkage below which a parameter is named unidentified. Source: [judgement] following
# Betancourt's principled-workflow case study (URL above), which reads contraction near 0 as
# "poorly informed by the data"; 0.2 = the posterior keeps over 80% of the prior variance. Confidence L.
UNIDENTIFIED_SHRINKAGE = 0.2
# Correlation between posterior mean and truth, over the data sets, below which a parameter is named
# unidentified even when its posterior shrinks: a reduced ABC population concentrates its particles
# (shrinkage about 0.2) while its means stay at the prior's middle whatever the truth (measured on the
# default job, docs/calibration.md). Source: [judgement]; 0.5 = the means explain a quarter of the truths'
# variance. Confidence L.
MIN_CORRELATION = 0.5
INTERVAL = 0.90  # the methods' interval (fitted.summarise: q05..q95)
BINOMIAL_LEVEL = 0.95  # level of the Clopper-Pearson interval around each coverage share
# Reduced fit settings for cross-validation (declared; [judgement]: a tenth to a half of the job's
# settings so that 20 data sets x 2-3 methods fit in hours on a few cores; recovery tests use similar).
REDUCED = {
    "abc": {"population": 40, "max_generations": 4},
    "msm": {"replications": 8, "start_points": 3, "max_evaluations": 40},
    "output": {"predictive_runs": 2, "posterior_draws": 200},
}
DEFAULT_DATASETS = 20
DEFAULT_BUDGET_SECONDS = 60.0  # per fit; [judgement]
SENSITIVITY_QUANTILES = (0.25, 0.75)  # one-at-a-time step: the prior's middle half
SENSITIVITY_REPS = 2  # common-seed replications of each one-at-a-time run; [judgement]
SENSITIVITY_SMALL = 1.0  # |effect| below 1 figure sd across the prior's middle half counts as weak
# Which module implements each method; a method is offered when its module exists (hm is optional).
METHOD_MODULES = {
    "abc": "sim.calibration.abc_smc",
    "msm": "sim.calibration.msm",
    "hm": "sim.calibration.history_matching",
}
_SALT_TRUTH, _SALT_DATA = 0x0C5, 0xDA7A


# ---------------------------------------------------------------- the generic machinery
@dataclass
class Design:
    """What is cross-validated: priors, a simulator of the record and the record's layout.

    Attributes:
        names: parameter names, in order.
        priors: one object per parameter with ``dist()`` (a frozen scipy distribution).
        simulate: ``(theta dict, SeedSequence) -> figures`` (one value per statistic).
        stats: label of each statistic (``series@frame@date`` for the park).
        scale: the standard deviation of each statistic (what counts as a visible change).
        seed: root seed (truths and data seeds derive from it).
    """

    names: list[str]
    priors: list
    simulate: Callable
    stats: list[str]
    scale: np.ndarray
    seed: int

    def prior_var(self) -> dict[str, float]:
        return {n: float(p.dist().var()) for n, p in zip(self.names, self.priors, strict=True)}

    def truth(self, i: int) -> dict[str, float]:
        """The parameter vector of data set ``i`` (independent of how many data sets are asked for)."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_SALT_TRUTH, i)))
        u = rng.random(len(self.names))
        return {n: float(p.dist().ppf(x)) for n, p, x in zip(self.names, self.priors, u, strict=True)}

    def data_seed(self, i: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(_SALT_DATA, i))


@dataclass
class Posterior:
    """What a fit says about each parameter: mean, variance and the 90% interval."""

    mean: dict
    var: dict
    q05: dict
    q95: dict

    @classmethod
    def from_draws(cls, draws: pd.DataFrame, weights=None) -> Posterior:
        """From (optionally weighted) draws, one column per parameter."""
        w = np.ones(len(draws)) if weights is None else np.asarray(weights, float)
        w = w / w.sum()
        mean, var, lo, hi = {}, {}, {}, {}
        for name in draws.columns:
            x = draws[name].to_numpy(float)
            m = float(np.sum(w * x))
            mean[name], var[name] = m, float(np.sum(w * (x - m) * (x - m)))
            lo[name], hi[name] = _wquantile(x, w, (1 - INTERVAL) / 2), _wquantile(x, w, (1 + INTERVAL) / 2)
        return cls(mean, var, lo, hi)


def _wquantile(x, w, q) -> float:
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, x))


def _write_json(path: Path, obj: dict) -> None:
    """Write atomically: a file that exists is complete (an interrupted write leaves only a .tmp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=float) + "\n", encoding="utf-8")
    tmp.replace(path)


def dataset(design: Design, i: int, folder: Path) -> dict:
    """Data set ``i`` (truth and figures), simulated once and stored in ``data/ds###.json``."""
    path = folder / "data" / f"ds{i:03d}.json"
    truth = design.truth(i)
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not np.allclose([stored["truth"][n] for n in design.names], [truth[n] for n in design.names]):
            raise InputError(path, "truth", "was drawn by another job or seed; use another output folder")
        return stored
    figures = np.asarray(design.simulate(truth, design.data_seed(i)), float)
    record = {"dataset": i, "truth": truth, "figures": [None if not np.isfinite(v) else v for v in figures]}
    _write_json(path, record)
    return record


def run_crossval(
    design: Design,
    fitters: dict[str, Callable],
    n: int,
    folder: str | Path,
    log=print,
) -> pd.DataFrame:
    """Fit ``n`` synthetic data sets with each fitter; resumable.

    Args:
        design: priors, simulator and record layout.
        fitters: method -> ``(dataset index, figures array, work folder) -> Posterior``.
        n: data sets (data set ``i`` is the same whatever ``n``: asking for more extends a run).
        folder: where data sets and fits are stored.
        log: where progress lines go.

    Returns:
        One row per (method, data set, parameter): ``truth``, ``mean``, ``var``, ``q05``, ``q95``, ``covered``,
        ``shrinkage``.
    """
    folder = Path(folder)
    prior_var = design.prior_var()
    rows = []
    for i in range(n):
        data = dataset(design, i, folder)
        figures = np.array([np.nan if v is None else v for v in data["figures"]], float)
        if not np.all(np.isfinite(figures)):
            log(f"data set {i}: the run at the truth failed or is unmeasurable; skipped")
            continue
        for method, fit in fitters.items():
            path = folder / "fits" / method / f"ds{i:03d}.json"
            if path.is_file():
                stored = json.loads(path.read_text(encoding="utf-8"))
            else:
                t0 = time.perf_counter()
                post = fit(i, figures, folder / "work" / method / f"ds{i:03d}")
                stored = {"mean": post.mean, "var": post.var, "q05": post.q05, "q95": post.q95}
                stored["seconds"] = round(time.perf_counter() - t0, 2)
                _write_json(path, stored)
                log(f"data set {i + 1}/{n}, {method}: fitted in {stored['seconds']:.0f} s")
            for name in design.names:
                truth = data["truth"][name]
                lo, hi = stored["q05"][name], stored["q95"][name]
                rows.append(
                    {
                        "method": method,
                        "dataset": i,
                        "param": name,
                        "truth": truth,
                        "mean": stored["mean"][name],
                        "var": stored["var"][name],
                        "q05": lo,
                        "q95": hi,
                        "covered": bool(lo <= truth <= hi),
                        "shrinkage": 1.0 - stored["var"][name] / prior_var[name],
                    }
                )
    return pd.DataFrame(rows)


def binomial_interval(k: int, n: int, level: float = BINOMIAL_LEVEL) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval of a share ``k/n``."""
    if n == 0:
        return (0.0, 1.0)
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def identifiability_table(
    fits: pd.DataFrame, threshold: float = UNIDENTIFIED_SHRINKAGE, min_corr: float = MIN_CORRELATION
) -> pd.DataFrame:
    """Per method and parameter: coverage with its binomial interval, mean shrinkage, and a verdict.

    Identified: mean shrinkage of at least ``threshold`` and a correlation of posterior mean and truth of at
    least ``min_corr`` (a posterior that narrows but does not follow the truth has learnt nothing).
    """
    rows = []
    for (method, name), g in fits.groupby(["method", "param"], sort=False):
        n, k = len(g), int(g["covered"].sum())
        lo, hi = binomial_interval(k, n)
        shrink = float(g["shrinkage"].mean())
        sd_truth = float(g["truth"].std(ddof=1)) if n > 1 else float("nan")
        corr = float(np.corrcoef(g["truth"], g["mean"])[0, 1]) if n > 2 and g["mean"].std() > 0 else float("nan")
        rows.append(
            {
                "method": method,
                "param": name,
                "datasets": n,
                "covered": k,
                "coverage": k / n if n else float("nan"),
                "coverage_low": lo,
                "coverage_high": hi,
                "nominal": INTERVAL,
                "shrinkage": shrink,
                "corr_mean_truth": corr,
                "rmse_over_sd": float(np.sqrt(np.mean((g["mean"] - g["truth"]) ** 2)) / sd_truth)
                if n > 1
                else float("nan"),
                "identified": bool(shrink >= threshold and corr >= min_corr),  # NaN corr: not identified
            }
        )
    return pd.DataFrame(rows)


def local_sensitivity(design: Design, reps: int = SENSITIVITY_REPS) -> pd.DataFrame:
    """One-at-a-time effects at the prior mean: each statistic's change, in its sd, across each prior's middle half.

    Every parameter is held at its prior mean except one, set to its prior's 25% and
    75% quantiles; both runs share seeds (common random numbers), ``reps`` times.
    The run-to-run noise of each statistic is measured at the prior mean by pairs of
    independent seeds, so that an effect can be told from noise.

    Returns:
        One row per (param, stat): ``effect`` = mean of (figure at 75% - figure at 25%) / scale, and ``noise`` =
        RMS of (figure at one seed - figure at another) / scale over ``sqrt(reps)``: an effect within twice
        the noise is not distinguishable from it.
    """
    base = {n: float(p.dist().mean()) for n, p in zip(design.names, design.priors, strict=True)}
    seeds = [np.random.SeedSequence(design.seed, spawn_key=(0x5E75, r)) for r in range(2 * reps)]
    pairs = [
        (np.asarray(design.simulate(base, seeds[r]), float) - np.asarray(design.simulate(base, seeds[reps + r]), float))
        / design.scale
        for r in range(reps)
    ]
    noise = np.sqrt(np.nanmean(np.array(pairs) * np.array(pairs), axis=0) / reps)
    rows = []
    for name, p in zip(design.names, design.priors, strict=True):
        lo, hi = (float(v) for v in p.dist().ppf(SENSITIVITY_QUANTILES))
        diffs = []
        for r in range(reps):
            f_lo = np.asarray(design.simulate({**base, name: lo}, seeds[r]), float)
            f_hi = np.asarray(design.simulate({**base, name: hi}, seeds[r]), float)
            diffs.append((f_hi - f_lo) / design.scale)
        effect = np.nanmean(np.array(diffs), axis=0)
        rows.extend(
            {"param": name, "stat": s, "effect": float(e), "noise": float(z)}
            for s, e, z in zip(design.stats, effect, noise, strict=True)
        )
    return pd.DataFrame(rows)


def _series_of(stat: str) -> str:
    return "@".join(stat.split("@")[:2])


def what_would_identify(sensitivity: pd.DataFrame, name: str) -> str:
    """One line: which figures the parameter's effect runs through, and so which data would identify it."""
    g = sensitivity[sensitivity["param"] == name].copy()
    g["abs"] = g["effect"].abs()
    if "noise" in g:  # effects within twice the run-to-run noise are not evidence of an effect
        g.loc[g["abs"] <= 2 * g["noise"], "abs"] = 0.0
    by_series = g.assign(series=g["stat"].map(_series_of)).groupby("series")["abs"].max().sort_values(ascending=False)
    top = [f"{s} ({v:.2g} sd)" for s, v in by_series.head(3).items() if np.isfinite(v) and v > 0]
    if not top or by_series.max() < SENSITIVITY_SMALL:
        where = f"; its strongest, still weak, traces are in {', '.join(top)}" if top else ""
        return (
            f"no figure of the record moves by a standard deviation (and beyond run-to-run noise) across its "
            f"prior's middle half{where}: "
            "it needs a series it drives directly, or many more or more precise figures of those"
        )
    return (
        f"its effect runs through {', '.join(top)}, but it is confounded with other parameters there: more dates "
        "or tighter figures of these series, or a series that separates it from the others, would identify it"
    )


def markdown_report(table: pd.DataFrame, sensitivity: pd.DataFrame | None, title: str) -> str:
    """The identifiability table as markdown, and a line per unidentified parameter."""
    lines = [
        f"# Identifiability: {title}",
        "",
        f"Coverage of the {INTERVAL:.0%} interval (share of synthetic data sets whose interval holds the truth, "
        f"with a {BINOMIAL_LEVEL:.0%} Clopper-Pearson interval) and shrinkage (1 - posterior variance / prior "
        f"variance, mean over data sets). Unidentified: shrinkage below {UNIDENTIFIED_SHRINKAGE:g}, or a "
        f"correlation of posterior mean and truth below {MIN_CORRELATION:g}.",
        "",
        "| method | parameter | data sets | coverage | 95% interval | shrinkage | corr(mean, truth) | verdict |",
        "|---|---|---:|---:|---|---:|---:|---|",
    ]
    for r in table.itertuples():
        verdict = "identified" if r.identified else "**unidentified**"
        lines.append(
            f"| {r.method} | {r.param} | {r.datasets} | {r.coverage:.2f} | {r.coverage_low:.2f}-{r.coverage_high:.2f} "
            f"| {r.shrinkage:.2f} | {r.corr_mean_truth:.2f} | {verdict} |"
        )
    lost = table[~table["identified"]]
    if not lost.empty:
        lines += ["", "## Unidentified parameters", ""]
        for name, g in lost.groupby("param", sort=False):
            methods = ", ".join(g["method"])
            others = table[(table["param"] == name) & table["identified"]]["method"].tolist()
            if others:
                why = (
                    f"identified by {', '.join(others)}, so the data hold the information: {methods} does not extract "
                    "it with the reduced budget (fit it with a larger budget, or prefer the other method)"
                )
            else:
                why = what_would_identify(sensitivity, name) if sensitivity is not None else "no sensitivity run"
            lines.append(f"- **{name}** (by {methods}): {why}.")
    return "\n".join(lines) + "\n"


def write_outputs(folder: Path, fits: pd.DataFrame, table: pd.DataFrame, sensitivity, title: str) -> dict:
    """``crossval_fits.csv``, ``identifiability.csv``, ``sensitivity.csv``, ``identifiability.md`` and ``.png``."""
    from sim.plots import save
    from sim.plots.identifiability import scatter

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "fits": folder / "crossval_fits.csv",
        "table": folder / "identifiability.csv",
        "markdown": folder / "identifiability.md",
        "figure": folder / "identifiability.png",
    }
    fits.to_csv(paths["fits"], index=False, float_format="%.6g")
    table.to_csv(paths["table"], index=False, float_format="%.4g")
    if sensitivity is not None:
        paths["sensitivity"] = folder / "sensitivity.csv"
        sensitivity.to_csv(paths["sensitivity"], index=False, float_format="%.4g")
    paths["markdown"].write_text(markdown_report(table, sensitivity, title), encoding="utf-8")
    save(scatter(fits, table, title), paths["figure"])
    return paths


# ---------------------------------------------------------------- the park: a job and its methods
def available_methods() -> list[str]:
    """The fitting methods of this installation: those the job format accepts whose module exists."""
    from sim.calibration.job import METHODS

    return [m for m in METHODS if m in METHOD_MODULES and importlib.util.find_spec(METHOD_MODULES[m]) is not None]


def park_design(job) -> Design:
    """The real record's design: the job's priors, history scenario and figures (all of them, weight 0 too).

    A job with ``[[patterns]]`` simulates them too: a synthetic record holds the
    series figures, then the pattern statistics of the same run.
    """
    from sim.calibration.patterns import fitted_patterns, job_model

    sim, disc = job_model(job)
    pats = fitted_patterns(job)
    labels = [] if pats is None else [f"{a}@{b}" for a, b in zip(pats["pattern"], pats["statistic"], strict=True)]

    def simulate(theta, seed):
        seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        return sim.figures(theta, seed)

    return Design(
        names=job.param_names,
        priors=list(job.priors),
        simulate=simulate,
        stats=[*job.observations["obs"], *labels],
        scale=disc.sd,
        seed=job.seed,
    )


def reduced_job(job, method: str, seed: int):
    """The job with the cross-validation's reduced settings, another method and seed."""
    # a method without reduced settings here (hm, when installed) keeps the job's settings, under the budget
    tables = {k: {**getattr(job, k), **v} for k, v in REDUCED.items() if isinstance(getattr(job, k, None), dict)}
    return replace(job, method=method, seed=seed, **tables)


def park_fitters(job, methods: list[str], budget: float, workers: int = 1) -> dict[str, Callable]:
    """One fitter per method: calibrate the reduced job on a data set's figures (seed job.seed + 1 + i)."""
    from sim.calibration.calibrate import calibrate
    from sim.calibration.synthetic import with_pattern_values, with_values

    def make(method):
        def fit(i, figures, work):
            variant = reduced_job(job, method, job.seed + 1 + i)
            synthetic = {"observations": with_values(job, figures), "patterns": with_pattern_values(job, figures)}
            variant = replace(variant, **synthetic)
            # pyABC draws proposals from numpy's global state: fixed per data set for reproducibility
            np.random.seed(variant.seed % 2**32)  # noqa: NPY002
            res = calibrate(variant, out=work, workers=workers, budget=budget, log=lambda line: None)
            draws = pd.read_csv(Path(res["out"]) / "posterior_draws.csv")[job.param_names]
            post = Posterior.from_draws(draws)
            summary = res["summary"].set_index("param")
            return Posterior(
                post.mean,
                post.var,
                {n: float(summary.loc[n, "q05"]) for n in job.param_names},
                {n: float(summary.loc[n, "q95"]) for n in job.param_names},
            )

        return fit

    return {m: make(m) for m in methods}


def default_folder(job) -> Path:
    from sim.calibration.calibrate import default_output

    return default_output(job) / "identifiability"


def _check_settings(folder: Path, job, budget: float) -> None:
    """Refuse to extend a stored cross-validation made by another job, reduced settings or budget."""
    from sim.calibration.calibrate import fingerprint

    now = json.loads(json.dumps({"job": fingerprint(job), "reduced": REDUCED, "budget": budget}, default=str))
    path = folder / "crossval.json"
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored != now:
            changed = sorted(k for k in now if now[k] != stored.get(k))
            raise InputError(
                path,
                None,
                f"the stored cross-validation was made with another {', '.join(changed)}; "
                "use another --out, the same settings, or move the stored files away",
            )
        return
    _write_json(path, now)


def crossval_job(
    job,
    n: int = DEFAULT_DATASETS,
    budget: float = DEFAULT_BUDGET_SECONDS,
    methods: list[str] | None = None,
    folder: str | Path | None = None,
    workers: int = 1,
    sensitivity: bool = True,
    log=print,
) -> dict:
    """Cross-validate ``job``'s calibration: fits, table, sensitivity, report and figure; resumable."""
    allowed = available_methods()
    methods = methods or allowed
    for m in methods:
        if m not in allowed:
            raise InputError("--methods", None, f"unknown method {m!r}; allowed: {', '.join(allowed)}")
    folder = Path(folder) if folder else default_folder(job)
    _check_settings(folder, job, budget)
    design = park_design(job)
    log(f"cross-validating job '{job.name}': {n} data sets x {', '.join(methods)}, {budget:g} s per fit, in {folder}")
    fits = run_crossval(design, park_fitters(job, methods, budget, workers), n, folder, log)
    table = identifiability_table(fits)
    sens = None
    if sensitivity:
        path = folder / "sensitivity.csv"
        sens = pd.read_csv(path) if path.is_file() else local_sensitivity(design)
    paths = write_outputs(folder, fits, table, sens, f"job {job.name}, {n} synthetic data sets")
    return {"table": table, "fits": fits, "sensitivity": sens, "paths": paths}


__all__ = [
    "Design",
    "Posterior",
    "UNIDENTIFIED_SHRINKAGE",
    "available_methods",
    "binomial_interval",
    "crossval_job",
    "identifiability_table",
    "local_sensitivity",
    "markdown_report",
    "run_crossval",
    "what_would_identify",
    "write_outputs",
]
