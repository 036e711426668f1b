"""History matching in waves with Gaussian-process emulators (``method = "hm"``).

History matching (Vernon, Goldstein & Bower 2010; Andrianakis et al. 2015 for
agent-based models) does not look for *the* best parameter value: it rules out
the parameter values at which the model cannot reproduce the data, wave after
wave, and returns what is left, the *non-implausible* space.

Wave ``k``:

1. Sample the current non-implausible space: a Latin hypercube of
   ``candidates`` points over the prior box (in unit coordinates), kept where
   every earlier wave's emulator says the point is not implausible; ``runs``
   of the kept points (all of the box in wave 1) are simulated, one run each
   (seed derived from the point, as in ABC).
2. Fit one Gaussian process per observed figure ``i`` (scikit-learn,
   constant x anisotropic RBF + white-noise kernel, on the standardised
   figure) to the runs of this wave and of the earlier waves that lie inside
   the current non-implausible space (refocusing).
3. Implausibility of a point ``x`` for figure ``i``::

       I_i(x) = |z_i - E[f_i(x)]| / sqrt(Var_obs_i + Var_model_i + Var_em_i(x))

   ``z_i`` the observed figure (a lower bound counts only when the emulator is
   below it), ``Var_obs_i = sd_i^2`` the figure's measurement variance from the
   job's distance, ``Var_model_i`` the run-to-run variance of the figure from
   ``replications`` runs at the prior median (the model's stochasticity:
   one history is one realisation), ``Var_em_i(x)`` the emulator's predictive
   variance without its fitted white-noise term.
4. A point is non-implausible when the ``rank``-th largest ``I_i`` is below
   ``cutoff`` (rank 1: the maximum; rank 2, the second-largest, tolerates one
   badly emulated figure; ``cutoff = 3`` by Pukelsheim's three-sigma rule).
5. The non-implausible volume is the share of a fresh Latin hypercube of the
   prior box that passes every wave so far.

Stops when the volume shrinks by less than ``min_shrink`` (relative) from one
wave to the next while the emulators are no longer the main uncertainty (the
median of ``Var_em / (Var_obs + Var_model)`` over the kept points and figures
below 1; until then more runs can still sharpen the cut), when no point is left, after ``waves`` waves or when the
budget is spent. Only figures with weight above 0 are matched (weight-0
figures are checked by the predictive check only); within those, weights do not
enter: each figure must be matched on its own.

Output: the final non-implausible sample, resampled with weights proportional to
the prior density (uniform priors: equal weights), serves as posterior-like
draws; the summary gives their median and 90% interval. Files: ``waves.csv``
(per-wave runs, volume, cut-off), ``hm_runs.csv`` (every simulated point with its
wave and implausibility), ``nonimplausible.csv`` (the final sample). Every
simulated point is appended to ``hm_cache.jsonl``; ``--resume`` replays the
(deterministic) waves from it without re-simulating.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.calibration.distance import replication_sd
from sim.calibration.fitted import summarise
from sim.calibration.job import Job, JobError
from sim.calibration.parallel import Pool, check_interrupt
from sim.calibration.patterns import job_model
from sim.calibration.simulator import Simulator
from sim.run.runner import replicate_seeds

CACHE_NAME = "hm_cache.jsonl"
CHANGED = (
    "was written by a different job (parameters, priors, figures or seed changed); "
    "start a new run with another --out, or move the file away"
)
# A small shrink stops the waves only once the emulators are no longer the main uncertainty: median over the
# kept points and figures of Var_em / (Var_obs + Var_model) below this (Andrianakis et al. 2015 stop when the
# emulator variance is small next to the other variances) [judgement: 1 = as large as the rest]
EMULATOR_RATIO = 1.0
MIN_TRAINING = 5  # fewest finite runs a figure's emulator is fitted on; below, the wave stops [judgement]


@dataclass(frozen=True)
class HmSettings:
    """The ``[hm]`` settings of a job (see :data:`sim.calibration.job.SETTINGS`)."""

    waves: int = 5
    runs: int = 60
    candidates: int = 5000
    cutoff: float = 3.0
    rank: int = 1
    min_shrink: float = 0.1
    replications: int = 8
    budget_seconds: float = 1500.0

    @classmethod
    def from_job(cls, job: Job) -> HmSettings:
        s = job.hm
        return cls(**{k: type(getattr(cls, k))(s[k]) for k in cls.__dataclass_fields__})


@dataclass
class Emulator:
    """One GP per figure on the unit box; ``predict`` gives mean and variance in data units."""

    gps: list
    mean: np.ndarray
    scale: np.ndarray
    noise: np.ndarray  # fitted white-noise variance per figure (data units), left out of Var_em

    def predict(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self._predict(u)

    def _predict(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = np.empty((len(u), len(self.gps)))
        var = np.empty_like(mu)
        for i, gp in enumerate(self.gps):
            m, sd = gp.predict(u, return_std=True)
            mu[:, i] = self.mean[i] + self.scale[i] * m
            var[:, i] = np.maximum(self.scale[i] ** 2 * sd**2 - self.noise[i], 0.0)
        return mu, var


def fit_emulator(u: np.ndarray, y: np.ndarray, seed: int) -> Emulator | None:
    """Fit one GP per column of ``y`` (runs x figures) on the unit-box points ``u``; None if too few runs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from threadpoolctl import threadpool_limits

    gps, means, scales, noises = [], [], [], []
    d = u.shape[1]
    for i in range(y.shape[1]):
        ok = np.isfinite(y[:, i])
        if ok.sum() < MIN_TRAINING:
            return None
        yi = y[ok, i]
        m, s = float(yi.mean()), float(yi.std())
        s = s if s > 0 else 1.0
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.3), (1e-2, 1e2)) + WhiteKernel(1e-2, (1e-8, 1e1))
        gp = GaussianProcessRegressor(kernel, normalize_y=False, n_restarts_optimizer=0, random_state=seed + i)
        # one BLAS thread: small matrices, and the pool's workers share the cores (5x faster on 2 busy cores)
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)  # a length scale at its bound: a flat direction
            gp.fit(u[ok], (yi - m) / s)
        gps.append(gp)
        means.append(m)
        scales.append(s)
        noises.append(float(gp.kernel_.k2.noise_level) * s**2)
    return Emulator(gps, np.array(means), np.array(scales), np.array(noises))


def implausibility(mu: np.ndarray, var_em: np.ndarray, z: np.ndarray, var_obs: np.ndarray, var_model: np.ndarray,
                   bound: np.ndarray) -> np.ndarray:  # fmt: skip
    """``I_i = |z_i - E f_i| / sqrt(Var_obs + Var_model + Var_em)``; a lower bound counts only from below."""
    d = mu - z
    d = np.where(bound, np.minimum(d, 0.0), d)
    return np.abs(d) / np.sqrt(var_obs + var_model + var_em)


def ranked(values: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank``-th largest value of each row (the largest when a row is shorter)."""
    k = min(rank, values.shape[1])
    return -np.sort(-values, axis=1)[:, k - 1]


@dataclass
class HmOutcome:
    """What history matching leaves."""

    sample: np.ndarray  # unit-box points of the final non-implausible sample
    waves: pd.DataFrame
    runs: pd.DataFrame  # columns u0..u{d-1}, wave, max_implausibility, f0..f{m-1}
    stop_reason: str
    seconds: float
    simulations: int
    plausible: Callable[[np.ndarray], np.ndarray] | None = None  # unit-box points -> non-implausible after all waves


def history_match(
    simulate: Callable[[np.ndarray], np.ndarray],
    dim: int,
    z: np.ndarray,
    var_obs: np.ndarray,
    var_model: np.ndarray,
    settings: HmSettings,
    seed: int,
    bound: np.ndarray | None = None,
    log=print,
) -> HmOutcome:
    """History matching on the unit box ``[0, 1]^dim``.

    Args:
        simulate: unit-box points (n x dim) -> figures (n x m); NaN for a failed run.
        dim: number of parameters.
        z: observed figures (m).
        var_obs: measurement variances (m).
        var_model: run-to-run variances of the model (m).
        settings: waves, runs per wave, candidates, cut-off, rank, stopping rule, budget.
        seed: root seed of the Latin hypercubes and the GP optimiser restarts.
        bound: True where a figure is a lower bound.
        log: where progress lines go.
    """
    t0 = time.perf_counter()
    z, var_obs, var_model = (np.asarray(a, float) for a in (z, var_obs, var_model))
    bound = np.zeros(len(z), bool) if bound is None else np.asarray(bound, bool)
    emulators: list[Emulator] = []

    def plausible(u: np.ndarray) -> np.ndarray:
        keep = np.ones(len(u), bool)
        for em in emulators:
            if not keep.any():
                break
            mu, var = em.predict(u[keep])
            idx = np.flatnonzero(keep)
            keep[idx] = ranked(implausibility(mu, var, z, var_obs, var_model, bound), settings.rank) < settings.cutoff
        return keep

    def lhs(wave: int, n: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 31, wave]))
        return qmc.LatinHypercube(d=dim, rng=rng).random(n)

    all_u, all_y, all_wave = np.empty((0, dim)), np.empty((0, len(z))), np.empty(0, int)
    rows, volume, stop = [], 1.0, f"waves: the limit of {settings.waves} was reached"
    for wave in range(1, settings.waves + 1):
        check_interrupt()
        if time.perf_counter() - t0 > settings.budget_seconds:
            stop = f"budget reached after wave {wave - 1}"
            break
        cand = lhs(wave, settings.candidates)
        inside = cand[plausible(cand)]
        if len(inside) == 0:
            stop = f"wave {wave}: no candidate point is left non-implausible"
            break
        rng = np.random.default_rng(np.random.SeedSequence([seed, 37, wave]))
        pick = inside[rng.choice(len(inside), size=min(settings.runs, len(inside)), replace=False)]
        y = np.asarray(simulate(pick), float).reshape(len(pick), len(z))
        all_u, all_y = np.vstack([all_u, pick]), np.vstack([all_y, y])
        all_wave = np.r_[all_wave, np.full(len(pick), wave)]
        train = plausible(all_u)  # refocusing: the runs inside the current space
        em = fit_emulator(all_u[train], all_y[train], seed + 1000 * wave)
        if em is None:
            stop = f"wave {wave}: fewer than {MIN_TRAINING} finite runs to fit an emulator on"
            break
        emulators.append(em)
        check = lhs(10_000, settings.candidates)  # the same points every wave: the volumes are nested
        kept = plausible(check)
        new_volume = float(kept.mean())
        # how much of the uncertainty at the kept points is the emulator's (median over points and figures)
        var_em = em.predict(check[kept][:500])[1] if kept.any() else np.zeros((1, len(z)))
        em_ratio = float(np.median(var_em / (var_obs + var_model)))
        rows.append({"wave": wave, "runs": len(pick), "training_runs": int(train.sum()), "candidates_inside":
                     len(inside), "volume": new_volume, "emulator_ratio": em_ratio, "cutoff": settings.cutoff,
                     "rank": settings.rank,
                     "seconds": round(time.perf_counter() - t0, 2)})  # fmt: skip
        log(f"HM wave {wave}: {len(pick)} runs, non-implausible volume {new_volume:.4g} of the prior box")
        shrink = 1.0 - new_volume / volume if volume > 0 else 0.0
        volume = new_volume
        if volume == 0.0:
            stop = f"wave {wave}: the whole prior box is implausible (model discrepancy, or sd too small)"
            break
        if wave > 1 and shrink < settings.min_shrink and em_ratio < EMULATOR_RATIO:
            stop = (
                f"wave {wave}: the volume shrank by {shrink:.1%} < min_shrink {settings.min_shrink:.0%} with "
                f"emulators no longer the main uncertainty (Var_em / (Var_obs + Var_model) = {em_ratio:.2g})"
            )
            break
    final = lhs(20_000, settings.candidates)
    sample = final[plausible(final)] if emulators else final
    runs = pd.DataFrame(all_u, columns=[f"u{j}" for j in range(dim)])
    runs["wave"] = all_wave
    if emulators and len(all_u):
        with np.errstate(invalid="ignore"):
            i_sim = implausibility(all_y, np.zeros_like(all_y), z, var_obs, var_model, bound)
        runs["max_implausibility"] = np.nanmax(np.where(np.isfinite(i_sim), i_sim, np.inf), axis=1)
    for i in range(len(z)):
        runs[f"f{i}"] = all_y[:, i]
    waves = pd.DataFrame(rows, columns=["wave", "runs", "training_runs", "candidates_inside", "volume",
                                        "emulator_ratio", "cutoff", "rank", "seconds"])  # fmt: skip
    return HmOutcome(sample, waves, runs, stop, time.perf_counter() - t0, len(all_u), plausible)


# ------------------------------------------------------------------------------- the park
def _stamp(job: Job, sim: Simulator) -> str:
    """A short digest of what a stored run depends on: priors, seed, scenario, the figures simulated."""
    import hashlib

    keys = [*sim.observations.astype(str).agg("|".join, axis=1), *map(str, getattr(sim, "pattern_keys", ()))]
    text = json.dumps([job.seed, [p.describe() + p.name for p in job.priors], job.scenario.to_dict(), keys],
                      default=str, sort_keys=True)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _CachedRuns:
    """Simulates unit-box points of a job once each, appending them to ``hm_cache.jsonl`` (replayed on resume)."""

    def __init__(self, job: Job, sim: Simulator, out: Path, pool: Pool, resume: bool, log):
        self.job, self.sim, self.pool = job, sim, pool
        self.lo = np.array([p.low for p in job.priors])
        self.hi = np.array([p.high for p in job.priors])
        self.path = out / CACHE_NAME
        if self.path.exists() and not resume:
            raise JobError(self.path, None, f"holds runs of an earlier HM run of job '{job.name}'; pass --resume to "
                           "continue it, or move the file away to start again")  # fmt: skip
        self.cache: dict = {}
        self.stamp = _stamp(job, sim)
        if resume and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by an interruption
                if rec.get("job") != self.stamp:
                    raise JobError(self.path, None, CHANGED)
                self.cache[tuple(rec["u"])] = np.array([np.nan if v is None else v for v in rec["figures"]], float)
            log(f"resuming {self.path}: {len(self.cache)} simulated point(s) kept")

    def theta(self, u: np.ndarray) -> dict:
        x = self.lo + np.clip(u, 0.0, 1.0) * (self.hi - self.lo)
        return dict(zip(self.job.param_names, (float(v) for v in x), strict=True))

    def __call__(self, us: np.ndarray) -> np.ndarray:
        keys = [tuple(round(float(v), 12) for v in u) for u in us]
        todo = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if todo:
            thetas = [self.theta(np.array(k)) for k in todo]
            figs = self.pool.map(self.sim.figures_task, [(t, self.sim.seed_for(t)) for t in thetas])
            with self.path.open("a", encoding="utf-8") as fh:
                for k, f in zip(todo, figs, strict=True):
                    self.cache[k] = np.asarray(f, float)
                    figures = [None if not np.isfinite(v) else float(v) for v in f]
                    fh.write(json.dumps({"job": self.stamp, "u": list(k), "figures": figures}) + "\n")
        return np.array([self.cache[k] for k in keys])


def model_variance(job: Job, sim: Simulator, pool: Pool) -> np.ndarray:
    """Run-to-run variance of each figure from ``replications`` runs at the prior median (the job's seeds)."""
    theta = {p.name: float(p.ppf(0.5)) for p in job.priors}
    seeds = replicate_seeds(job.seed + 17, int(job.hm["replications"]))
    sims = np.array(pool.map(sim.figures_task, [(theta, s) for s in seeds]))
    return replication_sd(sims) ** 2


def run_hm(job: Job, out: Path, pool: Pool, resume: bool = False, budget: float | None = None, log=print):
    """History-match ``job``: returns the :class:`HmOutcome` and the draws (parameter units)."""
    settings = HmSettings.from_job(job)
    if budget is not None:
        settings = HmSettings(**{**settings.__dict__, "budget_seconds": float(budget)})
    fitted = (job.observations["weight"] > 0).to_numpy()
    obs = job.observations[fitted].reset_index(drop=True)
    # Var_model comes from HM's own replications: the figures' spread here is the measurement part only
    sim, disc = job_model(job, obs, spread="sd_meas")
    var_model = model_variance(job, sim, pool)
    log(f"HM: model variance from {int(job.hm['replications'])} runs at the prior median; "
        f"{len(disc.y)} figures matched ({len(disc.y) - len(obs)} of them patterns)")  # fmt: skip
    runs = _CachedRuns(job, sim, out, pool, resume, log)
    res = history_match(runs, len(job.priors), disc.y, disc.sd**2, np.nan_to_num(var_model, nan=0.0), settings,
                        job.seed, disc.bound, log)  # fmt: skip
    return res, runs


def hm_draws(job: Job, res: HmOutcome, n: int) -> pd.DataFrame:
    """``n`` equal-weight draws from the non-implausible sample, weighted by the prior density."""
    lo = np.array([p.low for p in job.priors])
    hi = np.array([p.high for p in job.priors])
    x = lo + res.sample * (hi - lo)
    if len(x) == 0:
        raise JobError(job.path, "hm", f"no parameter value is non-implausible ({res.stop_reason}): no draws")
    w = np.ones(len(x))
    for j, p in enumerate(job.priors):
        w *= p.dist().pdf(x[:, j])
    w = w / w.sum()
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, 41]))
    idx = rng.choice(len(x), size=n, replace=True, p=w)
    return pd.DataFrame(x[idx], columns=job.param_names)


def hm_summary(job: Job, draws: pd.DataFrame) -> pd.DataFrame:
    """Median and 5-95% quantiles of the draws, per parameter."""
    names = job.param_names
    med = {n: float(draws[n].median()) for n in names}
    lo = {n: float(draws[n].quantile(0.05)) for n in names}
    hi = {n: float(draws[n].quantile(0.95)) for n in names}
    return summarise(job.priors, med, lo, hi, {n: {"mean": float(draws[n].mean())} for n in names})


def fit_hm(job, out, pool, resume, budget, log, progress):
    """The ``method = "hm"`` step of :func:`sim.calibration.calibrate.calibrate` (same return as ABC/MSM)."""
    res, runs = run_hm(job, out, pool, resume=resume, budget=budget, log=log)
    draws = hm_draws(job, res, int(job.output["posterior_draws"]))
    summary = hm_summary(job, draws)
    names = job.param_names
    table = res.runs.copy()
    for j, n in enumerate(names):
        table.insert(j, n, runs.lo[j] + table.pop(f"u{j}") * (runs.hi[j] - runs.lo[j]))
    table.to_csv(out / "hm_runs.csv", index=False, float_format="%.6g")
    res.waves.to_csv(out / "waves.csv", index=False)
    sample = pd.DataFrame(runs.lo + res.sample * (runs.hi - runs.lo), columns=names)
    sample.to_csv(out / "nonimplausible.csv", index=False, float_format="%.6g")
    volume = float(res.waves["volume"].iloc[-1]) if len(res.waves) else 1.0
    sims = res.simulations + int(job.hm["replications"])
    info = {"stop_reason": res.stop_reason, "fit_seconds": res.seconds, "simulations": sims,
            "nonimplausible_volume": volume, "waves": len(res.waves)}  # fmt: skip
    return summary, draws, info, {}
