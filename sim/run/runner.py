"""Running the model: one replication without I/O, and batches of replications.

:func:`run_scenario` is the plain function that samplers, calibrators and
notebooks wrap. :func:`run_batch` runs scenarios x replications with common
random numbers: replication ``i`` of every scenario uses
``SeedSequence(root_seed).spawn(n_reps)[i]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.model import targets
from sim.model.scenario import Scenario, load_scenario


@dataclass
class RunResult:
    """What one replication produces.

    Attributes:
        scenario: scenario name.
        replicate: replication index in its batch (0 when run alone).
        seed: root seed of the batch.
        spawn_key: spawn key of this replication's SeedSequence.
        monthly: one row per month, one column per reporter (index ``date``).
        outcomes: measured target values (``target__definition``) and end-state indicators.
        seconds: wall time of the run.
    """

    scenario: str
    replicate: int
    seed: int
    spawn_key: tuple
    monthly: pd.DataFrame
    outcomes: dict = field(default_factory=dict)
    seconds: float = 0.0


END_INDICATORS = (
    "firms_in_park",
    "talent_people",
    "listed_exchange",
    "listed_exchange_neeq",
    "market_value_exchange_neeq_bn_yuan",
    "leading_firms",
    "graphene_firms",
    "israeli_firms",
    "projects_signed_cum",
    "vc_deals_cum",
    "high_pollution_firms",
    "revenue_bn_yuan",
    # -------- outputs a validator needs (issue 11, item 9; sim.model.metrics)
    "health_firms",
    "listed_domestic",
    "listed_overseas",
    "listed_domestic_neeq",
    "listed_main_neeq",
    "neeq_quoted",
    "exchange_listings_cum",
    "exchange_listings_domestic_cum",
    "exchange_listings_overseas_cum",
    "neeq_quotations_cum",
    "projects_registered_cum",
    "projects_started_cum",
    "graphene_revenue_bn_yuan",
    "talent_employed",
    "occupied_floor_m2",
    "revenue_yuan_per_m2",
    "foreign_firms",
    "foreign_projects_signed_cum",
    "closed_cash_out_cum",
    "policy_cost_myuan",  # what the levers spent (sim.model.costs, issue 11)
)


def outcome_columns() -> list[str]:
    """Outcome columns of every run: each target under each definition, then the end-state indicators."""
    from sim.model.targets import all_columns

    return all_columns() + [f"end_{k}" for k in END_INDICATORS]


def monthly_frame(records: list[dict]) -> pd.DataFrame:
    """The model's monthly records as a table indexed by ``date``.

    Same values and dtypes as ``DataFrame.from_records(records).set_index("date")``,
    in half the time (one array per column).
    """
    names = [k for k in records[0] if k != "date"]
    columns = {k: np.array([r[k] for r in records]) for k in names}
    return pd.DataFrame(columns, index=pd.Index([r["date"] for r in records], name="date"))


@dataclass
class RunArrays:
    """What one replication produces, as plain arrays (what batch workers send back).

    Attributes:
        dates: ``"YYYY-MM"`` of each month.
        monthly: months x reporters, float, columns in :data:`sim.model.metrics.REPORTERS` order.
        outcomes: as :attr:`RunResult.outcomes`.
    """

    dates: list[str]
    monthly: np.ndarray
    outcomes: dict


def run_arrays(scenario: Scenario, seed: np.random.SeedSequence) -> RunArrays:
    """Run one replication without building any table: the batch runner's path.

    Same numbers as :func:`run_scenario` (tested); the monthly values come back as
    one float matrix, which costs a fraction of a DataFrame for short runs.
    """
    from sim.model.metrics import REPORTERS
    from sim.model.park import ParkModel

    model = ParkModel(scenario, seed=seed)
    model.run()
    names = list(REPORTERS)
    matrix = np.array([[r[k] for k in names] for r in model.records], dtype=float)
    return RunArrays([r["date"] for r in model.records], matrix, outcomes_of(model.records, scenario))


def outcomes_of(records: list[dict], scenario: Scenario) -> dict[str, float]:
    """Target measures and end-state indicators of a run, from the model's monthly records."""
    ends = targets.YearEnds(dates=[r["date"] for r in records], column=lambda k: np.array([r[k] for r in records]))
    # records cover history_start .. end: flows in 2016 are the run's own January-June months
    # where the records have them (the h1_2016_* inputs only fill in for a run starting later)
    outcomes = targets.evaluate(ends, scenario.first_month, scenario.values)
    outcomes.update({f"end_{k}": float(records[-1][k]) for k in END_INDICATORS})
    return outcomes


def replicate_seeds(root_seed: int, n_reps: int) -> list[np.random.SeedSequence]:
    """Child seeds of a batch: the same list for every scenario (common random numbers)."""
    return np.random.SeedSequence(root_seed).spawn(n_reps)


def run_scenario(scenario: Scenario | str, *, seed: int | np.random.SeedSequence = 0, replicate: int = 0) -> RunResult:
    """Run one replication and return its tables, without any file I/O.

    Args:
        scenario: a loaded scenario, or a scenario file / name to load.
        seed: an int root seed, or a spawned ``SeedSequence``.
        replicate: index recorded with the result.

    Returns:
        The monthly table and the outcomes of the run.
    """
    from sim.model.park import ParkModel

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    t0 = time.perf_counter()
    model = ParkModel(scenario, seed=seq)
    model.run()
    monthly = monthly_frame(model.records)
    outcomes = outcomes_of(model.records, scenario)
    return RunResult(
        scenario=scenario.name,
        replicate=replicate,
        seed=int(seq.entropy),
        spawn_key=tuple(seq.spawn_key),
        monthly=monthly,
        outcomes=outcomes,
        seconds=time.perf_counter() - t0,
    )
