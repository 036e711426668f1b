"""The simulator every calibration method calls: the history scenario at a parameter value.

:class:`Simulator` is a small picklable object (it travels to process-pool and
Dask workers) that runs :func:`sim.run.runner.run_scenario` on the job's scenario
with the fitted parameters replaced, and measures the job's figures on the run
(:mod:`sim.calibration.observe`). Seeds are explicit: MSM passes the same child
seeds for every parameter value (common random numbers); ABC derives a seed
from the parameter value itself, so a particle can always be re-simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibration.observe import QUANTITIES, month_position, observable
from sim.model.params import UNCERTAINTIES
from sim.model.scenario import Scenario
from sim.run.runner import RunResult, run_scenario


@dataclass
class Simulator:
    """Runs the scenario at ``theta`` and measures the observed figures.

    Attributes:
        scenario: the history scenario.
        observations: the job's observation table (``series``, ``frame``, ``kind``, ``month``).
        param_names: fitted parameters, in job order.
        root_seed: the job's seed (mixed into every derived seed).
    """

    scenario: Scenario
    observations: pd.DataFrame
    param_names: list[str]
    root_seed: int = 1
    _plan: list = field(default=None, repr=False)

    def __post_init__(self):
        self.observations = self.observations[["series", "frame", "kind", "month"]].reset_index(drop=True)
        self._plan = [(QUANTITIES[(r.series, r.frame)], r.kind, r.month) for r in self.observations.itertuples()]

    # ------------------------------------------------------------------ parameters and seeds
    def scenario_at(self, theta: dict) -> Scenario:
        """The scenario with the fitted parameters set (clipped to their declared ranges)."""
        values = {}
        for name in self.param_names:
            decl = UNCERTAINTIES[name]
            values[name] = float(min(max(float(theta[name]), decl.low), decl.high))
        return self.scenario.with_values(**values)

    def seed_for(self, theta: dict) -> np.random.SeedSequence:
        """A seed derived from the parameter values: the same particle always gives the same run."""
        vec = np.array([float(theta[n]) for n in self.param_names], dtype=np.float64)
        words = [int(w) for w in vec.view(np.uint32)]
        return np.random.SeedSequence(self.root_seed, spawn_key=tuple(words))

    # ------------------------------------------------------------------------ running
    def measure(self, result: RunResult, inputs: dict) -> np.ndarray:
        """The observed figures measured on one run (data units, job order)."""
        out = np.empty(len(self._plan))
        index = result.monthly.index
        for i, (q, kind, month) in enumerate(self._plan):
            series = observable(q, kind, result.monthly, inputs)
            pos = month_position(index, month)
            out[i] = series[pos] if 0 <= pos < len(series) else np.nan
        return out

    def _run(self, sc: Scenario, seed: np.random.SeedSequence) -> RunResult | None:
        """One run, or None when the model fails at this parameter value.

        A failing run (an exception inside the model) counts as infinitely far
        from the data: ABC rejects it and MSM avoids the point. Failures are
        counted in the predictive check so that they are never silent.
        """
        try:
            return run_scenario(sc, seed=seed)
        except Exception:  # noqa: BLE001 - any model failure is a rejected simulation
            return None

    def figures(self, theta: dict, seed: np.random.SeedSequence) -> np.ndarray:
        """Run once and measure the figures (all NaN when the run failed)."""
        sc = self.scenario_at(theta)
        result = self._run(sc, seed)
        return np.full(len(self._plan), np.nan) if result is None else self.measure(result, sc.values)

    def months(self) -> list[str]:
        """Month labels of a run of the scenario (from its first recorded month: history_start when it forks)."""
        from sim.model.scenario import month_index, month_label

        first, last = month_index(self.scenario.first_month), month_index(self.scenario.end)
        return [month_label(m) for m in range(first, last + 1)]

    # ----------------------------------------------------------- calls used by samplers and pools
    def __call__(self, theta: dict) -> dict:
        """PyABC model interface: parameters -> ``{"x": figures}`` (seed derived from ``theta``)."""
        return {"x": self.figures(theta, self.seed_for(theta))}

    def figures_task(self, task: tuple) -> np.ndarray:
        """``(theta, seed)`` -> figures; for ``map`` over a pool."""
        theta, seed = task
        return self.figures(theta, seed)

    def trajectories_task(self, task: tuple) -> tuple[np.ndarray, dict]:
        """``(theta, seed)`` -> (figures, trajectories) from one run; for ``map`` over a pool."""
        theta, seed = task
        sc = self.scenario_at(theta)
        result = self._run(sc, seed)
        if result is None:
            n = len(self.months())
            return np.full(len(self._plan), np.nan), {k: np.full(n, np.nan) for k in self.trajectory_keys()}
        traj = {k: observable(QUANTITIES[k[:2]], k[2], result.monthly, sc.values) for k in self.trajectory_keys()}
        return self.measure(result, sc.values), traj

    def trajectory_keys(self) -> list[tuple[str, str, str]]:
        """The distinct (series, frame, kind) of the observed figures."""
        return sorted({(q.series, q.frame, kind) for q, kind, _ in self._plan})
