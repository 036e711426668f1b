"""parksim: an agent-based model of the West Taihu Science and Technology Industrial Park.

Notebook entry points: :func:`load_scenario`, :func:`run_scenario`, :func:`run_batch`.
"""

from sim.batch import run_batch
from sim.runner import RunResult, run_scenario
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["RunResult", "Scenario", "ScenarioError", "load_scenario", "run_batch", "run_scenario"]
__version__ = "0.1.0"
