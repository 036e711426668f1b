"""Start Solara's Starlette server for :mod:`sim.dashboard.app` (what ``parksim dashboard`` calls)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "sim.dashboard.app"
ROOT_ENV = "PARKSIM_DASHBOARD_ROOT"  # folder of batch folders
BASE_ENV = "PARKSIM_DASHBOARD_BASE"  # the scenario a package is built on
REPS_ENV = "PARKSIM_DASHBOARD_REPS"  # replications of a package run


def serve(root: str | Path, port: int, host: str = "127.0.0.1", base: str = "baseline", reps: int = 20) -> None:
    """Serve the dashboard until interrupted, reading and storing batches under ``root``.

    The app reads its settings from the environment (Solara's way: ``SOLARA_APP``
    names the module), so this sets them before the server imports anything.
    """
    os.environ[ROOT_ENV] = str(Path(root).resolve())
    os.environ[BASE_ENV] = base
    os.environ[REPS_ENV] = str(reps)
    os.environ["SOLARA_APP"] = APP
    import uvicorn

    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")
