"""One calibration job from start to files: fit, predictive check, fitted set, figures.

:func:`calibrate` runs the job's method (:mod:`~sim.calibration.abc_smc` or
:mod:`~sim.calibration.msm`), then the posterior predictive check, and writes
everything under ``calibration/fitted/<job>/`` (see :mod:`sim.calibration.fitted`
and :mod:`sim.calibration.plots` for the files).
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sim.calibration import plots
from sim.calibration.fitted import abc_summary, resample, write_params_toml
from sim.calibration.job import Job, JobError, project_root
from sim.calibration.parallel import Pool, check_interrupt
from sim.calibration.predictive import band_table, coverage_table, pattern_check, predictive_runs
from sim.calibration.progress import Throughput, TimedPool, TimedSimulator
from sim.calibration.simulator import Simulator
from sim.cli.options import command_line


def default_output(job: Job) -> Path:
    """``calibration/fitted/<job name>/`` in the project holding the job file."""
    return project_root(Path(job.path).resolve().parent) / "calibration" / "fitted" / job.name


FINGERPRINT = "job_fingerprint.json"
STATE_FILES = ("abc.db", "msm_cache.jsonl")


def fingerprint(job: Job) -> dict:
    """What a stored run depends on: a resumed run must match it (budgets and limits may change)."""
    obs = job.observations
    return {
        "method": job.method,
        "seed": job.seed,
        "priors": [p.describe() + f" {p.name}" for p in job.priors],
        "figures": [
            f"{o}={v:.12g}/{s:.6g}/{w:.6g}"
            for o, v, s, w in zip(obs["obs"], obs["value"], obs["sd"], obs["weight"], strict=True)
        ],
        "scenario": {"start": job.scenario.start, "end": job.scenario.end, **job.scenario.values},
        "abc": {k: job.abc[k] for k in ("population", "quantile")},
        "msm": {k: job.msm[k] for k in ("replications", "start_points", "fd_step")},
        **(
            {}
            if job.patterns is None
            else {
                "patterns": [
                    f"{p.pattern}/{p.statistic}={p.value:.12g}/{p.sd:.6g}/{p.weight:.6g}"
                    for p in job.patterns.itertuples()
                ]
            }
        ),  # fmt: skip
    }


def _check_fingerprint(job: Job, out: Path, resume: bool) -> None:
    """Refuse to resume a run made by a different job; remember the job of a new run."""
    path, now = out / FINGERPRINT, fingerprint(job)
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if resume and stored is not None and stored != now:
        changed = sorted(k for k in now if now[k] != stored.get(k))
        raise JobError(
            path,
            None,
            f"the job changed since this run began ({', '.join(changed)}); "
            "start a new run with another --out, or move the stored files away",
        )
    if stored is None or not any((out / f).exists() for f in STATE_FILES):
        path.write_text(json.dumps(now, indent=1, default=str) + "\n", encoding="utf-8")


def _git_revision(where: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _fit_abc(job, out, pool, resume, budget, log, progress):
    from sim.calibration.abc_smc import run_abc

    res = run_abc(job, out, pool, resume=resume, budget=budget, log=log, progress=progress)
    summary = abc_summary(job.priors, res.particles, res.weights)
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, 13]))
    draws = resample(res.particles, res.weights, int(job.output["posterior_draws"]), rng)
    res.particles.assign(weight=res.weights).to_csv(out / "posterior.csv", index=False)
    res.generations.to_csv(out / "generations.csv", index=False)
    plots.abc_schedule(out / "abc_schedule.png", res.generations)
    sims = int(res.generations["simulations"].sum()) + int(job.abc["population"])
    info = {"stop_reason": res.stop_reason, "fit_seconds": res.seconds, "simulations": sims}
    if res.throughput:
        info["fit_throughput"] = res.throughput
    return summary, draws, info, {"particles": res.particles, "weights": res.weights}


def _fit_msm(job, out, pool, resume, budget, log, progress):
    from sim.calibration.msm import msm_draws, msm_summary, run_msm

    res = run_msm(job, out, pool, resume=resume, budget=budget, log=log, progress=progress)
    summary = msm_summary(job, res)
    draws = msm_draws(job, res, int(job.output["posterior_draws"]))
    res.evaluations.to_csv(out / "evaluations.csv", index=False)
    plots.msm_trace(out / "msm_trace.png", res.evaluations)
    sims = res.points * int(job.msm["replications"])
    info = {"stop_reason": res.stop_reason, "fit_seconds": res.seconds, "objective": res.objective, "simulations": sims}
    if res.throughput:
        info["fit_throughput"] = res.throughput
    return summary, draws, info, {"cov": res.cov}


def _fit_hm(job, out, pool, resume, budget, log, progress):
    from sim.calibration.history_matching import fit_hm

    return fit_hm(job, out, pool, resume, budget, log, progress)


def _patterns_note(job) -> str:
    n = 0 if job.patterns is None else int((job.patterns["weight"] > 0).sum())
    return f" and {n} pattern figures" if n else ""


def calibrate(
    job: Job,
    out: Path | None = None,
    workers: int = 1,
    dask: str | None = None,
    resume: bool = False,
    budget: float | None = None,
    log=print,
    progress: bool = False,
) -> dict:
    """Fit ``job``, check the fit against the data and write the fitted set.

    Args:
        job: a validated job (:func:`sim.calibration.job.load_job`).
        out: output folder (default ``calibration/fitted/<job>/``).
        workers: local worker processes.
        dask: a Dask scheduler address (instead of local workers).
        resume: continue a stored run of this job.
        budget: seconds the fit may take (default: the job's ``budget_seconds``).
        log: where progress lines go.
        progress: draw a progress bar of the fit on stderr (``parksim calibrate`` does, unless ``--quiet``).

    Returns:
        A manifest (also written to ``run.json``) with the summary table under ``"summary"``.
    """
    out = Path(out) if out else default_output(job)
    out.mkdir(parents=True, exist_ok=True)
    t0, started = time.perf_counter(), datetime.now(UTC)
    _check_fingerprint(job, out, resume)
    with Pool(workers, dask) as pool:
        log(
            f"job '{job.name}' ({job.method.upper()}): {len(job.priors)} parameters, {len(job.observations)} figures"
            f"{_patterns_note(job)}, on {pool.describe()}"
        )
        fit = {"abc": _fit_abc, "msm": _fit_msm, "hm": _fit_hm}[job.method]
        summary, draws, info, post = fit(job, out, pool, resume, budget, log, progress)
        check_interrupt()
        n_pp = int(job.output["predictive_runs"])
        log(f"posterior predictive check: {n_pp} runs")
        sim = Simulator(job.scenario, job.observations, job.param_names, job.seed)
        tp = Throughput(pool.workers)
        figures, traj = predictive_runs(TimedSimulator(sim), draws, n_pp, job.seed + 1, TimedPool(pool, tp))
        patterns = pattern_check(job, draws, n_pp, job.seed + 1, TimedPool(pool, tp))
        info["predictive_throughput"] = tp.figures()
        where = pool.describe()
    coverage = coverage_table(job.observations, figures)
    bands = band_table(sim.months(), traj)
    seconds = time.perf_counter() - t0
    _write(job, out, summary, draws, coverage, bands, post, info, seconds)
    if patterns is not None:
        patterns.to_csv(out / "predictive_patterns.csv", index=False, float_format="%.6g")
    manifest = {
        "job": job.name,
        "job_file": job.path,
        "method": job.method,
        "command": command_line(),
        "code_version": _git_revision(Path(__file__).resolve().parent),
        "data": _relative(job.data_path),
        "scenario": job.scenario.to_dict(),
        "seed": job.seed,
        "resumed": resume,
        "executor": where,
        "started": started.isoformat(timespec="seconds"),
        "seconds_total": round(seconds, 1),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in info.items()},
        "simulations_per_second": (info.get("fit_throughput") or {}).get("simulations_per_second"),
        "share_outside_simulator": (info.get("fit_throughput") or {}).get("share_outside_simulator"),
        "figures": len(coverage),
        "figures_covered": int(coverage["covered"].sum()),
        "not_covered": coverage.loc[~coverage["covered"], "obs"].tolist(),
        "failed_predictive_runs": int(np.all(np.isnan(figures), axis=1).sum()),
        **(
            {}
            if patterns is None
            else {
                "pattern_figures": len(patterns),
                "patterns_covered": int(patterns["covered"].sum()),
                "patterns_not_covered": patterns.loc[~patterns["covered"], "statistic"].tolist(),
            }
        ),  # fmt: skip
    }
    (out / "run.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    if info.get("fit_throughput"):
        log(f"fit throughput: {Throughput.line(info['fit_throughput'])}")
    log(
        f"{manifest['figures_covered']}/{manifest['figures']} figures"
        f"{'' if patterns is None else f' and {int(patterns.covered.sum())}/{len(patterns)} patterns'}"
        " inside the 90% predictive band; "
        f"{seconds:.0f} s in all; files in {out}"
    )
    return {**manifest, "summary": summary, "coverage": coverage, "out": out}


def _relative(path: str) -> str:
    """A path relative to the project root when it lies inside the project (manifests stay portable)."""
    root = project_root(Path(__file__).resolve().parent)
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def _write(job, out, summary, draws, coverage, bands, post, info, seconds) -> None:
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6g")
    draws.to_csv(out / "posterior_draws.csv", index=False, float_format="%.6g")
    coverage.to_csv(out / "predictive.csv", index=False, float_format="%.6g")
    bands.to_csv(out / "predictive_bands.csv", index=False, float_format="%.5g")
    how = "posterior medians" if job.method == "abc" else "simulated-moments estimates"
    write_params_toml(out / "params.toml", job, summary, how, seconds)
    plots.prior_posterior(out / "prior_posterior.png", job.priors, summary, cov=post.get("cov"), **_hist(post))
    plots.predictive(out / "predictive.png", bands, coverage)


def _hist(post: dict) -> dict:
    if "particles" in post:
        return {"particles": post["particles"], "weights": post["weights"]}
    return {}


__all__ = ["calibrate", "default_output"]
