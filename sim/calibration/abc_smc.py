"""ABC-SMC through pyABC, one generation at a time, resumable from its SQLite history.

Each generation is one ``ABCSMC.run(max_nr_populations=1)`` on a freshly
loaded history, so an interrupted job and a finished generation look the same
to the next call: ``--resume`` continues from the last stored population and
never loses accepted particles of finished generations (a generation cut off
half-way is sampled again). Epsilon is the ``quantile`` of the previous
population's distances (pyABC's ``QuantileEpsilon``); the distance is
:class:`sim.calibration.distance.Discrepancy`. The loop stops at
``max_generations``, at ``min_epsilon``, when the acceptance rate falls below
``min_acceptance_rate``, or before a generation that would overrun the budget.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration.distance import Discrepancy
from sim.calibration.job import Job, JobError
from sim.calibration.parallel import Pool, abc_sampler, check_interrupt
from sim.calibration.simulator import Simulator

DB_NAME = "abc.db"
NEXT_GENERATION_FACTOR = 1.5  # a generation usually takes longer than the one before


@dataclass
class AbcOutcome:
    """What an ABC job leaves: the final weighted population and the schedule."""

    particles: pd.DataFrame
    weights: np.ndarray
    generations: pd.DataFrame
    stop_reason: str
    seconds: float


def _quiet_pyabc() -> None:
    """PyABC logs every step at INFO; this module prints one line per generation instead."""
    for name in list(logging.root.manager.loggerDict):
        if name == "ABC" or name.startswith("ABC."):
            logging.getLogger(name).setLevel(logging.WARNING)


def _abcsmc(job: Job, sim: Simulator, pool: Pool):
    import pyabc

    _quiet_pyabc()

    prior = pyabc.Distribution(**{p.name: p.to_pyabc() for p in job.priors})
    return pyabc.ABCSMC(
        sim,
        prior,
        Discrepancy.from_observations(job.observations),
        population_size=int(job.abc["population"]),
        sampler=abc_sampler(pool),
        eps=pyabc.QuantileEpsilon(alpha=float(job.abc["quantile"])),
    )


def _stored(db: Path) -> pd.DataFrame:
    """Generations stored in ``db`` (t >= 0), empty when there are none."""
    from pyabc import History

    if not db.exists():
        return pd.DataFrame(columns=["t", "epsilon", "samples", "particles"])
    pops = History(f"sqlite:///{db.resolve()}").get_all_populations()
    return pops[pops["t"] >= 0].reset_index(drop=True)


def _check_resume(db: Path, job: Job, resume: bool, log) -> None:
    """Refuse to overwrite finished generations; check that a resumed run fits the job."""
    done = _stored(db)
    if len(done) == 0:
        if db.exists():
            log(f"{db}: no finished generation stored (cut off early); starting from the prior")
            db.unlink()
        return
    if not resume:
        raise JobError(
            db,
            None,
            f"holds an earlier run of job '{job.name}' ({len(done)} finished generation(s)); "
            "pass --resume to continue it, or move the file away to start again",
        )
    from pyabc import History

    h = History(f"sqlite:///{db.resolve()}")
    stored = np.asarray(h.observed_sum_stat()["x"], float)
    now = job.observations["value"].to_numpy(float)
    if stored.shape != now.shape or not np.allclose(stored, now):
        raise JobError(db, None, "the job's data selection changed since this run began; start a new run")
    names = sorted(h.get_distribution(m=0, t=h.max_t)[0].columns)
    if names != sorted(job.param_names):
        raise JobError(db, None, f"was run with parameters {names}, the job now fits {sorted(job.param_names)}")
    log(f"resuming {db}: {len(done)} finished generation(s) kept")


def _stop_reason(job: Job, done: pd.DataFrame, elapsed: float, budget: float, last_seconds: float) -> str | None:
    if len(done) >= job.abc["max_generations"]:
        return f"reached max_generations = {job.abc['max_generations']}"
    if len(done) == 0:
        return None
    last = done.iloc[-1]
    if last["epsilon"] <= job.abc["min_epsilon"]:
        return f"epsilon {last['epsilon']:.3g} reached min_epsilon"
    if last["particles"] / last["samples"] < job.abc["min_acceptance_rate"]:
        return f"acceptance rate {last['particles'] / last['samples']:.3g} fell below min_acceptance_rate"
    if elapsed + NEXT_GENERATION_FACTOR * last_seconds >= budget:
        return f"budget: another generation would not finish within {budget:.0f} s"
    return None


def _generations(db: Path) -> pd.DataFrame:
    from pyabc import History

    h = History(f"sqlite:///{db.resolve()}")
    pops = h.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "generation": pops["t"].astype(int),
            "epsilon": pops["epsilon"].astype(float),
            "simulations": pops["samples"].astype(int),
            "accepted": pops["particles"].astype(int),
        }
    )
    out["acceptance_rate"] = out["accepted"] / out["simulations"]
    if "wall_time" in pops:
        out["seconds"] = pops["wall_time"].astype(float)
    return out


def run_abc(job: Job, out: Path, pool: Pool, resume: bool = False, budget: float | None = None, log=print):
    """Run (or continue) the ABC-SMC of ``job``, storing every generation in ``out/abc.db``.

    Args:
        job: the validated job.
        out: output folder (created).
        pool: where simulations run.
        resume: continue the stored history instead of starting one.
        budget: seconds this call may spend sampling (default: the job's ``budget_seconds``).
        log: where progress lines go.

    Returns:
        The final population and the generation schedule.
    """
    out.mkdir(parents=True, exist_ok=True)
    db = out / DB_NAME
    _check_resume(db, job, resume, log)
    budget = float(job.abc["budget_seconds"] if budget is None else budget)
    sim = Simulator(job.scenario, job.observations, job.param_names, job.seed)
    url = f"sqlite:///{db.resolve()}"
    t0, last_seconds, reason = time.perf_counter(), 0.0, None
    while True:
        done = _stored(db)
        reason = _stop_reason(job, done, time.perf_counter() - t0, budget, last_seconds)
        if reason:
            break
        started = time.perf_counter()
        abc = _abcsmc(job, sim, pool)
        if len(done) == 0:
            abc.new(url, {"x": job.observations["value"].to_numpy(float)}, meta_info={"job": job.name})
        else:
            abc.load(url, 1)
        remaining = max(budget - (time.perf_counter() - t0), 1.0)
        max_eval_rate = float(job.abc["min_acceptance_rate"])
        abc.run(max_nr_populations=1, min_acceptance_rate=max_eval_rate, max_walltime=_td(remaining))
        check_interrupt()
        now = _stored(db)
        last_seconds = time.perf_counter() - started
        if len(now) == len(done):
            reason = "a generation could not reach its population within max evaluations (min_acceptance_rate)"
            break
        g = now.iloc[-1]
        log(
            f"generation {int(g['t'])}: epsilon {g['epsilon']:.4g}, accepted {int(g['particles'])}/"
            f"{int(g['samples'])} ({g['particles'] / g['samples']:.1%}), {last_seconds:.0f} s"
        )
    log(f"stopped: {reason}")
    from pyabc import History

    h = History(url)
    particles, weights = h.get_distribution(m=0, t=h.max_t)
    return AbcOutcome(
        particles=particles[job.param_names].reset_index(drop=True),
        weights=np.asarray(weights, float),
        generations=_generations(db),
        stop_reason=reason,
        seconds=time.perf_counter() - t0,
    )


def _td(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)
