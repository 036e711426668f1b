"""Progress of a fit on stderr: how far it is towards whichever limit will stop it, with an ETA.

A fit stops on a step limit (ABC: ``max_generations``; MSM: the points its
search may evaluate) or on its time budget, whichever comes first.
:class:`FitProgress` draws one tqdm bar whose fill is the larger of the two
fractions, and an ETA from the mean time of the steps done so far, capped by
the time left in the budget, with the limit that binds named:

    ABC  40%|█████       | generation 2/5 | last: epsilon 1.23, acceptance 31% | sampling: 57/200
        accepted of 340 sims | 3:20 of 25:00 budget | ETA 6:10 (max_generations)

A background thread redraws it every second, so the elapsed time and the
sampling counts (:class:`sim.calibration.parallel.SimCounter`) move during a
long generation. Disabled, it draws nothing and starts no thread.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

REDRAW_SECONDS = 1.0


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class FitProgress:
    """One bar for one fit.

    Args:
        label: short method name shown first (``ABC``, ``MSM``).
        unit: what a step is (``generation``, ``point``).
        limit: the step limit and its name, e.g. ``(10, "max_generations")``.
        budget: seconds the fit may take.
        done: steps already done (a resumed fit).
        enabled: draw anything at all.
        file: where the bar goes (default stderr).
    """

    def __init__(self, label, unit, limit, budget, done=0, enabled=True, file=None):
        self.label, self.unit, (self.limit, self.limit_name) = label, unit, limit
        self.budget, self.done, self.enabled = float(budget), int(done), enabled
        self.t0, self.step_seconds, self.detail = time.perf_counter(), [], ""
        self.last_step_at = self.t0
        self.counter, self.counter_of = None, 0
        self.throughput = None
        self._lock, self._stop, self._bar, self._thread = threading.Lock(), threading.Event(), None, None
        if not enabled:
            return
        from tqdm import tqdm

        self._bar = tqdm(total=1.0, file=file or sys.stderr, bar_format=label + " {percentage:3.0f}%|{bar:12}| {desc}",
                         dynamic_ncols=True, leave=True)  # fmt: skip
        self._thread = threading.Thread(target=self._tick, name="fit-progress", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ what the fit reports
    def step(self, seconds: float | None, detail: str | None = None) -> None:
        """One step (a generation, an evaluated point) finished in ``seconds`` (None: replayed, not timed)."""
        with self._lock:
            self.done += 1
            self.last_step_at = time.perf_counter()
            if seconds is not None:
                self.step_seconds.append(float(seconds))
            if detail is not None:
                self.detail = detail
        self.draw()

    def watch(self, counter, of: int) -> None:
        """Show the running counts of ``counter`` (a :class:`~sim.calibration.parallel.SimCounter`) against ``of``."""
        self.counter, self.counter_of = counter, int(of)

    def watch_throughput(self, throughput) -> None:
        """Show the simulations per second of ``throughput`` (a :class:`Throughput`)."""
        self.throughput = throughput

    @contextmanager
    def external(self):
        """Clear the bar while other output is written (log lines), then draw it again."""
        if self._bar is None:
            yield
            return
        with self._lock:
            self._bar.clear()
            yield
        self.draw()

    # ------------------------------------------------------------------ what it shows
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def eta(self) -> tuple[float | None, str]:
        """Seconds to the stop and the limit that will stop the fit (``budget`` or the step limit).

        The seconds are None before any step has been timed (the budget is then the only bound).
        """
        left_budget = max(self.budget - self.elapsed(), 0.0)
        if not self.step_seconds:
            return None, "budget"
        per_step = sum(self.step_seconds) / len(self.step_seconds)
        in_step = time.perf_counter() - self.last_step_at
        left_steps = max(max(self.limit - self.done, 0) * per_step - in_step, 0.0)
        return (left_steps, self.limit_name) if left_steps < left_budget else (left_budget, "budget")

    def fraction(self) -> float:
        steps = self.done / self.limit if self.limit else 0.0
        spent = self.elapsed() / self.budget if self.budget > 0 else 1.0
        return min(max(steps, spent), 1.0)

    def text(self) -> str:
        parts = [f"{self.unit} {self.done}/{self.limit}"]
        if self.detail:
            parts.append(self.detail)
        if self.counter is not None and self.counter.live and self.done < self.limit:
            sims, accepted = self.counter.read()
            accepted = min(accepted, self.counter_of)  # parallel workers overshoot; pyABC keeps the first
            parts.append(f"sampling: {accepted}/{self.counter_of} accepted of {sims} sims")
        if self.throughput is not None:
            fig = self.throughput.figures()
            if fig["simulations"] and fig["simulations_per_second"]:
                parts.append(f"{fig['simulations_per_second']:.2f} sims/s")
        eta, binding = self.eta()
        parts.append(f"{clock(self.elapsed())} of {clock(self.budget)} budget")
        if eta is None:
            parts.append(f"ETA <= {clock(self.budget - self.elapsed())} (budget; no {self.unit} timed yet)")
        else:
            parts.append(f"ETA {clock(eta)} ({binding})")
        return " | ".join(parts)

    def draw(self) -> None:
        if self._bar is None:
            return
        with self._lock:
            self._bar.n = self.fraction()
            self._bar.set_description_str(self.text(), refresh=False)
            self._bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self.draw()

    def close(self) -> None:
        """Stop redrawing and leave the final state on screen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self.draw()
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def disabled() -> FitProgress:
    """A progress object that draws nothing (library calls, ``--quiet``)."""
    return FitProgress("", "step", (1, "limit"), 1.0, enabled=False)


# ---------------------------------------------------------------------- budget and throughput
# Seconds spent inside model runs by this process, and their number (the simulator adds to them; a
# worker reports its part with each task's result).
_INSIDE = [0.0, 0]
now = time.time  # the budget's clock: absolute, so that worker processes on this machine share a deadline


class BudgetReached(Exception):  # noqa: N818 - a stop, not an error
    """The fit's time budget ran out while a generation was being sampled."""


class TimedSimulator:
    """A :class:`~sim.calibration.simulator.Simulator` that times its model runs and honours a deadline.

    Every call adds its seconds to this process's clock of time inside the
    simulator (read by :class:`Throughput`, in this process or through
    :class:`TimedPool` from workers). With ``deadline`` (seconds on :data:`now`'s
    clock), a simulation asked for after it raises :class:`BudgetReached` instead
    of running: the sampler stops within one simulation per worker of the budget.
    Picklable, like the simulator it wraps.
    """

    def __init__(self, sim, deadline: float | None = None):
        self.sim, self.deadline = sim, deadline

    def _timed(self, fn, *args):
        if self.deadline is not None and now() >= self.deadline:
            raise BudgetReached
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            _INSIDE[0] += time.perf_counter() - t0
            _INSIDE[1] += 1

    def __call__(self, theta: dict) -> dict:
        return self._timed(self.sim, theta)

    def figures_task(self, task: tuple):
        return self._timed(self.sim.figures_task, task)

    def trajectories_task(self, task: tuple):
        return self._timed(self.sim.trajectories_task, task)

    def __getattr__(self, name):  # months(), trajectory_keys(), scenario, ...: the wrapped simulator's
        if name == "sim":
            raise AttributeError(name)
        return getattr(self.sim, name)


class _Timed:
    """Runs ``fn`` in a worker and returns ``(result, seconds the worker spent inside the simulator)``."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, task):
        seconds, calls = _INSIDE
        result = self.fn(task)
        return result, (_INSIDE[0] - seconds, _INSIDE[1] - calls)


class TimedPool:
    """A :class:`~sim.calibration.parallel.Pool` whose ``map`` collects the workers' time inside the simulator.

    In this process (one worker) the simulator's clock is this process's own and
    nothing needs collecting; on a process pool or a Dask cluster each task
    reports its share with its result.
    """

    def __init__(self, pool, throughput: Throughput):
        self._pool, self._tp = pool, throughput

    def map(self, fn, tasks, each=None) -> list:
        if not self._pool.distributed:
            return self._pool.map(fn, tasks, each)

        def unwrap(pair):
            self._tp.remote += pair[1][0]
            self._tp.remote_calls += pair[1][1]
            if each is not None:
                each(pair[0])

        pairs = self._pool.map(_Timed(fn), tasks, each=unwrap)
        return [result for result, _ in pairs]

    def __getattr__(self, name):
        if name == "_pool":
            raise AttributeError(name)
        return getattr(self._pool, name)


class Throughput:
    """Simulations per second and the share of worker time spent outside the simulator.

    ``inside`` is the time the simulator's runs took, summed over the workers;
    the capacity is wall time x workers; the rest (sampler, distances, pyABC's
    database, pool round trips, idle workers) is "outside".
    """

    def __init__(self, workers: int):
        self.workers, self.t0 = max(int(workers), 1), time.perf_counter()
        self.local0, self.remote, self.remote_calls = tuple(_INSIDE), 0.0, 0

    def inside(self) -> float:
        return (_INSIDE[0] - self.local0[0]) + self.remote

    def simulations(self) -> int:
        """Model runs so far (cut-off generations and the predictive check included)."""
        return (_INSIDE[1] - self.local0[1]) + self.remote_calls

    def figures(self, simulations: int | None = None) -> dict:
        """The figures so far; ``simulations`` defaults to the runs counted by the timed simulator."""
        simulations = self.simulations() if simulations is None else simulations
        wall = time.perf_counter() - self.t0
        capacity = wall * self.workers
        inside = self.inside()
        return {
            "simulations": int(simulations),
            "wall_seconds": round(wall, 3),
            "workers": self.workers,
            "simulations_per_second": round(simulations / wall, 3) if wall > 0 else None,
            "seconds_inside_simulator": round(inside, 3),
            "share_outside_simulator": round(max(1.0 - inside / capacity, 0.0), 4) if capacity > 0 else None,
        }

    @staticmethod
    def line(fig: dict) -> str:
        share = fig["share_outside_simulator"]
        rate = fig["simulations_per_second"]
        return (
            f"{fig['simulations']} simulations in {fig['wall_seconds']:.0f} s on {fig['workers']} worker(s): "
            f"{'n/a' if rate is None else f'{rate:.2f}'} simulations/s, "
            f"{'n/a' if share is None else f'{share:.0%}'} of worker time outside the simulator"
        )
