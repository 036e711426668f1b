"""Calibration of the behavioural parameters to the park's history.

Modules, in the order a job uses them:

* :mod:`~sim.calibration.data`: the historical figures (``calibration/data/``), validated;
* :mod:`~sim.calibration.observe`: which model quantity stands for each (series, frame);
* :mod:`~sim.calibration.job`: job files (parameters, priors, series, distance, method);
* :mod:`~sim.calibration.distance`: the discrepancy shared by both methods;
* :mod:`~sim.calibration.simulator`: the history scenario at a parameter value;
* :mod:`~sim.calibration.abc_smc` and :mod:`~sim.calibration.msm`: the two methods;
* :mod:`~sim.calibration.predictive`, :mod:`~sim.calibration.fitted`,
  :mod:`~sim.calibration.plots`: the check, the fitted set and the figures;
* :mod:`~sim.calibration.calibrate`: one job end to end (``parksim calibrate``).

Imports here are light; pyABC is imported only when ABC runs.
"""

from sim.calibration.data import DataError, load_history
from sim.calibration.job import Job, JobError, load_job

__all__ = ["DataError", "Job", "JobError", "load_history", "load_job"]
