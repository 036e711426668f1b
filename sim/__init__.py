"""parksim: an agent-based model of the West Taihu Science and Technology Industrial Park.

Notebook entry points: :func:`load_scenario`, :func:`run_scenario`, :func:`run_batch`.
They are imported lazily, so that ``import sim`` (and the command line's
argument parsing) stays light.
"""

from importlib import import_module

__version__ = "0.1.0"  # the package version: pyproject.toml reads it from here (dynamic version)
_EXPORTS = {
    "load_scenario": "sim.model.scenario",
    "Scenario": "sim.model.scenario",
    "ScenarioError": "sim.model.scenario",
    "run_scenario": "sim.run.runner",
    "RunResult": "sim.run.runner",
    "run_batch": "sim.run.batch",
    "load_batch": "sim.run.batch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
