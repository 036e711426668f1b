"""ABC-SMC through pyABC, one generation at a time, resumable from its SQLite history.

Each generation is one ``ABCSMC.run(max_nr_populations=1)`` on a freshly
loaded history, so an interrupted job and a finished generation look the same
to the next call: ``--resume`` continues from the last stored population and
never loses accepted particles of finished generations (a generation cut off
half-way is sampled again). Epsilon is the ``quantile`` of the previous
population's distances (pyABC's ``QuantileEpsilon``); the distance is
:class:`sim.calibration.distance.Discrepancy`. The loop stops at
``max_generations``, at ``min_epsilon``, when the acceptance rate falls below
``min_acceptance_rate``, before a generation that would overrun the budget, or
*within* a generation when the budget runs out: pyABC's ``max_walltime`` is only
checked between generations, so the simulator itself carries the deadline
(:class:`sim.calibration.progress.TimedSimulator`) and a simulation asked for
after it stops the sampler (on every worker, within one simulation each). The
generation cut off is not stored (``--resume`` samples it again); the fit is the
last finished generation, and the stop reason says where it stopped
("budget: stopped in generation N after S s"). A budget too small to finish
generation 0 leaves no population: the job says so and exits with code 2.

Safe at any interruption: pyABC stores a population with its particles in one
transaction, so a population row is a finished generation. A new history is
built under a temporary name and moved into place with its tables complete
(pyABC creates missing tables whenever it opens a file, and two openers of a
half-created file race: ``table ... already exists``). Finished generations are
counted with plain SQLite queries, which create nothing; a file without any
(cut off before generation 0 was stored, or half-created) is discarded and the
job starts from the prior.

A run is reproducible: numpy's global generator, from which pyABC draws its
proposals, is seeded from the job seed and the generation number before each
generation (and restored afterwards), so a resumed job ends with the
generations an uninterrupted one would have. With ``workers = 1`` pyABC's
sequential sampler draws from it; on a process pool or a Dask cluster the
sampler draws one seed per sampling task from it
(:class:`sim.calibration.parallel.SeededMappingSampler`), so every parallel
executor and worker count gives the same generations, which differ from those
of ``workers = 1``.

Test hooks (environment variables, see :mod:`sim.calibration.parallel`):
``PARKSIM_INTERRUPT_AFTER_GENERATION=k`` raises KeyboardInterrupt right after
generation ``k`` is stored; ``PARKSIM_INTERRUPT_AFTER_SIMULATION=n`` right
after the ``n``-th simulation of this process, mid-generation.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration import progress as _progress
from sim.calibration.distance import Discrepancy
from sim.calibration.job import Job, JobError
from sim.calibration.parallel import Pool, SimCounter, abc_sampler, check_interrupt, interrupt_point
from sim.calibration.patterns import job_model
from sim.calibration.progress import BudgetReached, FitProgress, Throughput, TimedPool, TimedSimulator, disabled
from sim.calibration.simulator import Simulator
from sim.errors import StoreError

DB_NAME = "abc.db"
SIDE_FILES = ("-journal", "-wal", "-shm", ".new")  # SQLite's companions of abc.db, and a history being built
NEXT_GENERATION_FACTOR = 1.5  # a generation usually takes longer than the one before


@dataclass
class AbcOutcome:
    """What an ABC job leaves: the final weighted population and the schedule."""

    particles: pd.DataFrame
    weights: np.ndarray
    generations: pd.DataFrame
    stop_reason: str
    seconds: float
    throughput: dict | None = None


def _quiet_pyabc() -> None:
    """PyABC logs every step at INFO; this module prints one line per generation instead."""
    for name in list(logging.root.manager.loggerDict):
        if name == "ABC" or name.startswith("ABC."):
            logging.getLogger(name).setLevel(logging.WARNING)


def _abcsmc(job: Job, sim: Simulator, disc: Discrepancy, pool: Pool, counter: SimCounter | None = None):
    import pyabc

    _quiet_pyabc()

    prior = pyabc.Distribution(**{p.name: p.to_pyabc() for p in job.priors})
    return pyabc.ABCSMC(
        sim,
        prior,
        disc,
        population_size=int(job.abc["population"]),
        sampler=abc_sampler(pool, counter),
        eps=pyabc.QuantileEpsilon(alpha=float(job.abc["quantile"])),
    )


def _url(db: Path) -> str:
    return f"sqlite:///{db.resolve()}"


def finished_generations(db: Path) -> int:
    """Generations (t >= 0) stored in ``db``; 0 for no file or a half-created one. Creates nothing.

    Raises:
        StoreError: the file is not an SQLite database.
    """
    if not db.is_file():
        return 0
    try:
        con = sqlite3.connect(db)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"version", "abc_smc", "populations", "particles"} <= tables:
                return 0
            if con.execute("SELECT COUNT(*) FROM version").fetchone()[0] == 0:
                return 0  # pyABC writes the version last when it creates a file
            return int(con.execute("SELECT COUNT(*) FROM populations WHERE t >= 0").fetchone()[0])
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(db, f"cannot be read as a pyABC history ({exc}); move it away to start again") from None


def _stored(db: Path) -> pd.DataFrame:
    """Generations stored in ``db`` (t >= 0), empty when there are none."""
    if finished_generations(db) == 0:
        return pd.DataFrame(columns=["t", "epsilon", "samples", "particles"])
    from pyabc import History

    pops = History(_url(db)).get_all_populations()
    return pops[pops["t"] >= 0].reset_index(drop=True)


def _discard(db: Path) -> None:
    """Remove ``db`` and its SQLite companions (a stale journal must not meet a new file)."""
    for path in (db, *(db.with_name(db.name + s) for s in SIDE_FILES)):
        path.unlink(missing_ok=True)


def _observed(job: Job) -> np.ndarray:
    """The figures the distance matches, in its order: the series, then the patterns of weight > 0."""
    return job_model(job)[1].y


def _create(db: Path, abc, job: Job) -> int:
    """Start a new run in ``db``: tables built under a temporary name, then moved into place; returns its id."""
    from pyabc import History

    tmp = db.with_name(db.name + ".new")
    tmp.unlink(missing_ok=True)
    History(_url(tmp))  # opening a new file creates every table, then writes the version row
    os.replace(tmp, db)
    abc.new(_url(db), {"x": _observed(job)}, meta_info={"job": job.name})
    return int(abc.history.id)


def _run_id(db: Path) -> int:
    """Id of the run whose generations are stored (the latest run with populations)."""
    from pyabc import History

    return int(History(_url(db)).id)


@contextmanager
def _seeded(job: Job, t: int):
    """Seed numpy's global generator (pyABC's proposals) for generation ``t``; restore it afterwards."""
    state = np.random.get_state()  # noqa: NPY002 - pyABC draws from the global generator; we only seed it
    seq = np.random.SeedSequence([job.seed, 29, t])
    np.random.seed(seq.generate_state(4))  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _check_resume(db: Path, job: Job, resume: bool, log) -> None:
    """Refuse to overwrite finished generations; check that a resumed run fits the job."""
    n_done = finished_generations(db)
    if n_done == 0:
        if any(db.with_name(db.name + s).exists() for s in ("", *SIDE_FILES)):
            log(f"{db}: no finished generation stored (cut off early); starting from the prior")
        _discard(db)
        return
    if not resume:
        raise JobError(
            db,
            None,
            f"holds an earlier run of job '{job.name}' ({n_done} finished generation(s)); "
            "pass --resume to continue it, or move the file away to start again",
        )
    from pyabc import History

    h = History(_url(db))
    stored = np.asarray(h.observed_sum_stat()["x"], float)
    now = _observed(job)
    if stored.shape != now.shape or not np.allclose(stored, now):
        raise JobError(db, None, "the job's data selection changed since this run began; start a new run")
    names = sorted(h.get_distribution(m=0, t=h.max_t)[0].columns)
    if names != sorted(job.param_names):
        raise JobError(db, None, f"was run with parameters {names}, the job now fits {sorted(job.param_names)}")
    db.with_name(db.name + ".new").unlink(missing_ok=True)  # a new run's tables, cut off before they were moved
    log(f"resuming {db}: {n_done} finished generation(s) kept")


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

    h = History(_url(db))
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


def run_abc(
    job: Job,
    out: Path,
    pool: Pool,
    resume: bool = False,
    budget: float | None = None,
    log=print,
    progress: bool = False,
):
    """Run (or continue) the ABC-SMC of ``job``, storing every generation in ``out/abc.db``.

    Args:
        job: the validated job.
        out: output folder (created).
        pool: where simulations run.
        resume: continue the stored history instead of starting one.
        budget: seconds this call may spend sampling (default: the job's ``budget_seconds``).
        log: where progress lines go.
        progress: draw a progress bar on stderr (:mod:`sim.calibration.progress`).

    Returns:
        The final population and the generation schedule.
    """
    out.mkdir(parents=True, exist_ok=True)
    db = out / DB_NAME
    _check_resume(db, job, resume, log)
    budget = float(job.abc["budget_seconds"] if budget is None else budget)
    limit = (int(job.abc["max_generations"]), "max_generations")
    bar = FitProgress("ABC", "generation", limit, budget, done=finished_generations(db)) if progress else disabled()
    tp = Throughput(pool.workers)
    bar.watch_throughput(tp)
    with bar:
        reason = _generations_loop(job, db, TimedPool(pool, tp), budget, bar, log, tp)
        with bar.external():
            log(f"stopped: {reason}")
            log(f"sampling: {Throughput.line(tp.figures())}")
    if finished_generations(db) == 0:
        raise JobError(
            db,
            None,
            f"{reason}; no generation finished, so there is no population to report: "
            "run again with --resume and a larger --budget",
        )
    from pyabc import History

    h = History(_url(db))
    particles, weights = h.get_distribution(m=0, t=h.max_t)
    return AbcOutcome(
        particles=particles[job.param_names].reset_index(drop=True),
        weights=np.asarray(weights, float),
        generations=_generations(db),
        stop_reason=reason,
        seconds=bar.elapsed(),
        throughput=tp.figures(),
    )


def _generations_loop(job: Job, db: Path, pool, budget: float, bar: FitProgress, log, tp: Throughput) -> str:
    """Sample generations until a stop rule holds; returns the reason."""
    deadline = _progress.now() + budget
    model, disc = job_model(job)  # the series, then the job's patterns; sd = measurement error and model noise
    sim = TimedSimulator(model, deadline)
    counter = SimCounter()
    bar.watch(counter, int(job.abc["population"]))
    t0, last_seconds = time.perf_counter(), 0.0
    while True:
        done = _stored(db)
        reason = _stop_reason(job, done, time.perf_counter() - t0, budget, last_seconds)
        if reason:
            return reason
        started = time.perf_counter()
        abc = _abcsmc(job, sim, disc, pool, counter)
        if len(done) == 0:
            _create(db, abc, job)
        else:
            abc.load(_url(db), _run_id(db))
        remaining = max(budget - (time.perf_counter() - t0), 1.0)
        max_eval_rate = float(job.abc["min_acceptance_rate"])
        try:
            with _seeded(job, len(done)):
                abc.run(max_nr_populations=1, min_acceptance_rate=max_eval_rate, max_walltime=_td(remaining))
        except BudgetReached:
            spent = time.perf_counter() - t0
            return (
                f"budget: stopped in generation {len(done)} after {spent:.0f} s of {budget:.0f} s "
                f"(the generation cut off is not stored; --resume samples it again)"
            )
        check_interrupt()
        now = _stored(db)
        last_seconds = time.perf_counter() - started
        if len(now) == len(done):
            return "a generation could not reach its population within max evaluations (min_acceptance_rate)"
        g = now.iloc[-1]
        rate = g["particles"] / g["samples"]
        with bar.external():
            log(
                f"generation {int(g['t'])}: epsilon {g['epsilon']:.4g}, accepted {int(g['particles'])}/"
                f"{int(g['samples'])} ({rate:.1%}), {last_seconds:.0f} s"
            )
            log(f"  {Throughput.line(tp.figures())}")
        bar.step(last_seconds, f"last: epsilon {g['epsilon']:.3g}, acceptance {rate:.0%}")
        interrupt_point("generation", int(g["t"]))


def _td(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)
