"""Method of simulated moments: scipy optimiser, common random numbers, weighting from replications.

The moments are the job's observed figures. At a parameter value ``theta`` the
model is run ``R`` times with the *same* child seeds for every ``theta``
(common random numbers: the objective is a deterministic function of theta),
and the mean figures ``m(theta)`` give the residuals ``r = m(theta) - y`` (zero
for a lower bound the model exceeds). The objective is ``J = r' W r`` with

* ``Omega = S + (1 + 1/R) Sigma``: ``S`` the figures' measurement variances
  (their ``sd``), ``Sigma`` the covariance of one run's figures across the
  replications at the starting point (shrunk half-way to its diagonal, since
  ``R`` is small next to the number of figures); the observed history is one
  realisation, hence ``Sigma`` once, plus ``Sigma / R`` for the simulated mean;
* ``W = D^1/2 Omega^-1 D^1/2`` with ``D`` the series weights (mean 1).

Search: a Latin hypercube of ``start_points`` in the prior box plus the prior
median, then Nelder-Mead from the best point, in coordinates scaled to [0, 1].
Standard errors: the sandwich ``(G'WG)^-1 G'W Omega W G (G'WG)^-1`` with ``G``
the central finite-difference Jacobian of ``r`` (step ``fd_step`` of the prior
box) and ``Omega`` re-estimated at the estimate. A parameter on which the
figures do not depend (a zero column of ``G``) gets an infinite standard error.

Every evaluation is appended to ``msm_cache.jsonl``; ``--resume`` replays the
(deterministic) search from it without re-simulating. A line cut off by a kill
is skipped.

Budget: checked before every point, and within one (the simulator carries the
deadline, :class:`sim.calibration.progress.TimedSimulator`): a point whose
replications are cut off by the budget is not stored, and the search ends with
the best point evaluated so far. The first point (the weighting matrix) and the
Jacobian's points always run. Test hook (see :mod:`sim.calibration.parallel`):
``PARKSIM_INTERRUPT_AFTER_EVALUATION=k`` raises KeyboardInterrupt right after
the ``k``-th point is stored in the cache.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.stats import qmc

from sim.calibration import progress as _progress
from sim.calibration.job import Job, JobError
from sim.calibration.parallel import Pool, check_interrupt, interrupt_point
from sim.calibration.patterns import job_model
from sim.calibration.progress import BudgetReached, FitProgress, Throughput, TimedPool, TimedSimulator, disabled
from sim.run.runner import replicate_seeds

CACHE_NAME = "msm_cache.jsonl"
Z90 = 1.6448536269514722  # standard normal 95% quantile: a two-sided 90% interval
SHRINK = 0.5


class BudgetExhausted(Exception):
    """The time budget ran out before the search finished."""


@dataclass
class MsmOutcome:
    """Estimate, standard errors and covariance, with the evaluation trace."""

    estimate: dict
    se: dict
    cov: np.ndarray
    objective: float
    points: int
    evaluations: pd.DataFrame
    stop_reason: str
    seconds: float
    throughput: dict | None = None


class Objective:
    """``J(u)`` on the unit box, with a cache of simulated figures per point."""

    def __init__(self, job: Job, out: Path, pool: Pool, resume: bool, budget: float, log, bar: FitProgress):
        self.job, self.log, self.bar = job, log, bar
        self.throughput = Throughput(pool.workers)
        self.pool = TimedPool(pool, self.throughput)
        self.deadline = _progress.now() + budget
        # Sigma (the replications' covariance) carries the model's noise: the figures' spread is measurement only
        model, self.disc = job_model(job, spread="sd_meas")
        self.sim = TimedSimulator(model)
        self.seeds = replicate_seeds(job.seed, int(job.msm["replications"]))
        self.lo = np.array([p.low for p in job.priors])
        self.hi = np.array([p.high for p in job.priors])
        self.cache_path = out / CACHE_NAME
        self.cache = self._load_cache(resume)
        self.trace: list[dict] = []
        self.seen: set = set()  # points this call has used (simulated or replayed): the progress steps
        self.t0, self.budget = time.perf_counter(), budget
        self.W = None
        self.best = np.inf

    def _load_cache(self, resume: bool) -> dict:
        if self.cache_path.exists() and not resume:
            raise JobError(
                self.cache_path,
                None,
                f"holds evaluations of an earlier run of job '{self.job.name}'; "
                "pass --resume to continue it, or move the file away to start again",
            )
        cache = {}
        if resume and self.cache_path.exists():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by an interruption
                cache[tuple(rec["u"])] = np.array(rec["figures"], float)
            with self.bar.external():
                self.log(f"resuming {self.cache_path}: {len(cache)} evaluated point(s) kept")
        return cache

    def theta(self, u: np.ndarray) -> dict:
        x = self.lo + np.clip(u, 0.0, 1.0) * (self.hi - self.lo)
        return dict(zip(self.job.param_names, (float(v) for v in x), strict=True))

    def figures(self, u: np.ndarray) -> np.ndarray:
        """Figures of the ``R`` replications at ``u`` (R x obs), simulated or from the cache."""
        key = tuple(round(float(v), 12) for v in np.clip(u, 0.0, 1.0))
        seconds = None
        if key not in self.cache:
            check_interrupt()
            if self.W is not None and time.perf_counter() - self.t0 > self.budget:
                raise BudgetExhausted  # the first point (weighting matrix) always runs
            started, theta = time.perf_counter(), self.theta(np.array(key))
            bounded = self.W is not None and np.isfinite(self.budget)
            self.sim.deadline = self.deadline if bounded else None
            try:
                sims = np.array(self.pool.map(self.sim.figures_task, [(theta, s) for s in self.seeds]))
            except BudgetReached:
                raise BudgetExhausted from None  # this point's replications were cut off: not stored
            self.cache[key] = sims
            with self.cache_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"u": list(key), "figures": sims.tolist()}) + "\n")
            seconds = time.perf_counter() - started
            interrupt_point("evaluation", len(self.cache))
        if key not in self.seen:
            self.seen.add(key)
            self.bar.step(seconds)
        return self.cache[key]

    def residuals(self, u: np.ndarray) -> np.ndarray:
        return self.disc.raw(self.figures(u).mean(axis=0))

    def omega(self, u: np.ndarray) -> np.ndarray:
        """``S + (1 + 1/R) Sigma`` at ``u`` (Sigma shrunk towards its diagonal)."""
        sims = self.figures(u)
        sigma = np.atleast_2d(np.cov(sims, rowvar=False))
        sigma = SHRINK * sigma + (1 - SHRINK) * np.diag(np.diag(sigma))
        return np.diag(self.disc.sd**2) + (1 + 1 / len(self.seeds)) * sigma

    def set_weights(self, u: np.ndarray) -> None:
        d = np.sqrt(self.disc.weight * len(self.disc.weight))
        self.W = d[:, None] * np.linalg.inv(self.omega(u)) * d[None, :]

    def __call__(self, u: np.ndarray, stage: str = "search") -> float:
        u = np.asarray(u, float)
        inside = np.clip(u, 0.0, 1.0)
        r = self.residuals(inside)
        value = float(r @ self.W @ r) if np.all(np.isfinite(r)) else 1e300
        if stage != "estimate" and value < self.best:
            self.best, self.bar.detail = value, f"best J {value:.4g}"
        self.trace.append({"evaluation": len(self.trace), "stage": stage, **self.theta(inside), "objective": value})
        return value + 1e4 * float(np.sum((u - inside) ** 2))


def _search(obj: Objective, u0: np.ndarray) -> tuple[np.ndarray, str]:
    """Latin-hypercube start, then Nelder-Mead; returns the best point and why it stopped."""
    job, k = obj.job, len(u0)
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, 7]))
    starts = [u0, *qmc.LatinHypercube(d=k, rng=rng).random(int(job.msm["start_points"]))]
    best, best_j = u0, np.inf
    try:
        for u in starts:
            value = obj(u, "start")
            if value < best_j:
                best, best_j = np.asarray(u, float), value
        simplex = np.vstack([best, best + 0.1 * np.eye(k) * np.where(best > 0.5, -1, 1)])
        res = optimize.minimize(
            obj,
            best,
            method="Nelder-Mead",
            options={
                "maxfev": int(job.msm["max_evaluations"]),
                "xatol": 2e-3,
                "fatol": 1e-4,
                "initial_simplex": simplex,
            },
        )
        u_hat = np.clip(res.x, 0, 1) if res.fun <= best_j else best
        return u_hat, f"Nelder-Mead: {res.message}"
    except BudgetExhausted:
        done = pd.DataFrame(obj.trace)
        row = done.loc[done["objective"].idxmin()]
        u_hat = (row[job.param_names].to_numpy(float) - obj.lo) / (obj.hi - obj.lo)
        return u_hat, "budget reached: the estimate is the best point evaluated so far"


def _jacobian(obj: Objective, u: np.ndarray) -> np.ndarray:
    """Central differences of the residuals in parameter units (one-sided at the box edge)."""
    h, k = float(obj.job.msm["fd_step"]), len(u)
    cols = []
    for j in range(k):
        up, dn = u.copy(), u.copy()
        up[j], dn[j] = min(u[j] + h, 1.0), max(u[j] - h, 0.0)
        dtheta = (up[j] - dn[j]) * (obj.hi[j] - obj.lo[j])
        cols.append((obj.residuals(up) - obj.residuals(dn)) / dtheta)
        obj.trace.append({"evaluation": len(obj.trace), "stage": "jacobian", **obj.theta(up), "objective": np.nan})
    return np.column_stack(cols)


def sandwich(G: np.ndarray, W: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """``(G'WG)^-1 G'W Omega W G (G'WG)^-1``; parameters with a zero Jacobian column get infinite variance."""
    k = G.shape[1]
    dead = ~np.any(np.abs(G) > 0, axis=0)
    live = np.flatnonzero(~dead)
    cov = np.full((k, k), np.nan)
    if len(live):
        g = G[:, live]
        bread = np.linalg.pinv(g.T @ W @ g)
        cov[np.ix_(live, live)] = bread @ g.T @ W @ omega @ W @ g @ bread
    cov[dead, dead] = np.inf
    return cov


def run_msm(
    job: Job,
    out: Path,
    pool: Pool,
    resume: bool = False,
    budget: float | None = None,
    log=print,
    progress: bool = False,
):
    """Estimate the job's parameters by simulated moments; see the module docstring.

    ``progress`` draws a bar on stderr whose steps are the points the search may
    evaluate (start points, ``max_evaluations``, and the Jacobian's ``2 k``).
    """
    out.mkdir(parents=True, exist_ok=True)
    budget = float(job.msm["budget_seconds"] if budget is None else budget)
    k = len(job.priors)
    limit = (1 + int(job.msm["start_points"]) + int(job.msm["max_evaluations"]) + 2 * k, "max_evaluations")
    with FitProgress("MSM", "point", limit, budget) if progress else disabled() as bar:
        obj = Objective(job, out, pool, resume, budget, log, bar)
        bar.watch_throughput(obj.throughput)
        u0 = np.array([(float(p.ppf(0.5)) - p.low) / (p.high - p.low) for p in job.priors])
        obj.set_weights(u0)
        with bar.external():
            log(f"weighting matrix from {len(obj.seeds)} replications at the prior median")
        u_hat, reason = _search(obj, u0)
        with bar.external():
            log(f"search stopped ({reason}); {len(obj.cache)} points simulated x {len(obj.seeds)} replications")
            log(f"sampling: {Throughput.line(obj.throughput.figures())}")
        obj.budget = np.inf  # the standard errors need their few extra points whatever the budget
        G = _jacobian(obj, u_hat)
        cov = sandwich(G, obj.W, obj.omega(u_hat))
    theta = obj.theta(u_hat)
    se = dict(zip(job.param_names, np.sqrt(np.diag(cov)), strict=True))
    return MsmOutcome(
        estimate=theta,
        se={k: float(v) for k, v in se.items()},
        cov=cov,
        objective=float(obj(u_hat, "estimate")),
        points=len(obj.cache),
        evaluations=pd.DataFrame(obj.trace),
        stop_reason=reason,
        seconds=time.perf_counter() - obj.t0,
        throughput=obj.throughput.figures(),
    )


def msm_summary(job: Job, outcome: MsmOutcome) -> pd.DataFrame:
    """Estimates with 90% confidence intervals (clipped to the prior box)."""
    from sim.calibration.fitted import summarise

    est, se = outcome.estimate, outcome.se
    lo = {p.name: max(p.low, est[p.name] - Z90 * se[p.name]) for p in job.priors}
    hi = {p.name: min(p.high, est[p.name] + Z90 * se[p.name]) for p in job.priors}
    extra = {p.name: {"se": se[p.name]} for p in job.priors}
    return summarise(job.priors, est, lo, hi, extra)


def msm_draws(job: Job, outcome: MsmOutcome, n: int) -> pd.DataFrame:
    """Parameter draws for the predictive check: normal around the estimate, prior where unidentified."""
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, 11]))
    mean = np.array([outcome.estimate[p.name] for p in job.priors])
    cov = np.nan_to_num(outcome.cov, nan=0.0, posinf=0.0)
    draws = rng.multivariate_normal(mean, cov, size=n, method="eigh")
    for j, p in enumerate(job.priors):
        if not np.isfinite(outcome.se[p.name]):
            draws[:, j] = p.ppf(rng.random(n))
        draws[:, j] = np.clip(draws[:, j], p.low, p.high)
    return pd.DataFrame(draws, columns=job.param_names)
