"""Regenerate tests/data/tiny_baseline.json, the stored summary of tiny.toml that tests/test_regression.py checks.

This script is the only way that file changes. Run it deliberately, after a
change to the model that is meant to move the results, and commit the new file
together with that change, saying in the message why the numbers moved:

    .venv/bin/python scripts/regen_baseline.py          # rewrite the file, print what moved
    .venv/bin/python scripts/regen_baseline.py --check  # compare only; exit 1 if anything moved

The summary: tiny.toml run for ``N_REPS`` replications from ``ROOT_SEED``
(``SeedSequence(ROOT_SEED).spawn(N_REPS)``); the mean over replications of the
chosen outcomes and of a few monthly columns at chosen dates; a hash of the
scenario's resolved inputs (so a changed default or tiny.toml is reported as
such); a SHA-256 over every run's full monthly table and outcomes (the
results are bit-identical on every CPU, see sim/model/portable.py, so any change to
any number of any month moves it); and, for information only, the numpy and
Python versions and the CPU signature that made it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "tiny_baseline.json"
SCENARIO = ROOT / "scenarios" / "tiny.toml"
ROOT_SEED = 20160701
N_REPS = 6
OUTCOMES = (
    "tech_projects_2016_2020__signed",
    "tech_projects_2016_2020__registered",
    "tech_projects_2016_2020__started",
    "tech_projects_each_year__signed",
    "listed_companies_2020__exchange",
    "listed_companies_2020__exchange_neeq",
    "listed_market_value_2020__exchange_neeq",
    "leading_enterprises_2020__revenue_threshold",
    "graphene_new_2016__signed",
    "graphene_total_2016__in_park",
    "share_reforms_2016__completed",
    "end_firms_in_park",
    "end_talent_people",
    "end_vc_deals_cum",
    "end_high_pollution_firms",
    "end_israeli_firms",
    "end_revenue_bn_yuan",
)
MONTHLY = (
    "firms_in_park",
    "stage_signed",
    "talent_people",
    "talent_employed",
    "projects_signed_cum",
    "closed_cum",
    "revenue_bn_yuan",
    "neeq_quoted",
    "vc_deals_cum",
    "vc_capital_myuan",
    "occupancy_central",
    "rent_central_yuan_per_m2_month",
)
DATES = ("2016-12", "2018-12", "2020-12")
REL_TOL = 1e-12  # see tests/test_regression.py for why


def inputs_hash(scenario) -> str:
    """A short hash of the scenario's window and every resolved input."""
    data = {"start": scenario.start, "end": scenario.end, "inputs": dict(scenario.inputs)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def tables_hash(runs) -> str:
    """SHA-256 over each run's monthly table (as CSV: shortest round-trip floats) and outcomes."""
    h = hashlib.sha256()
    for r in runs:
        h.update(r.monthly.to_csv().encode())
        h.update(json.dumps({k: float(v) for k, v in r.outcomes.items()}, sort_keys=True).encode())
    return h.hexdigest()


def summarise() -> dict:
    """Run tiny.toml for the fixed seeds and return the summary (JSON-ready)."""
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    from sim.model.scenario import load_scenario
    from sim.run.runner import replicate_seeds, run_scenario

    scenario = load_scenario(SCENARIO)
    runs = [run_scenario(scenario, seed=s, replicate=i) for i, s in enumerate(replicate_seeds(ROOT_SEED, N_REPS))]
    outcomes = {k: float(np.mean([r.outcomes[k] for r in runs])) for k in OUTCOMES}
    monthly = {
        f"{col}@{date}": float(np.mean([r.monthly.loc[date, col] for r in runs])) for col in MONTHLY for date in DATES
    }
    return {
        "scenario": "scenarios/tiny.toml",
        "inputs_hash": inputs_hash(scenario),
        "root_seed": ROOT_SEED,
        "n_reps": N_REPS,
        "outcome_means": outcomes,
        "monthly_means": monthly,
        "tables_sha256": tables_hash(runs),
        "made_with": {
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "simd": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)],
        },
    }


def differences(old: dict, new: dict, rel_tol: float = REL_TOL) -> list[str]:
    """Human-readable list of what differs between two summaries (beyond ``rel_tol``)."""
    out = []
    for key in ("scenario", "inputs_hash", "root_seed", "n_reps", "tables_sha256"):
        if old.get(key) != new.get(key):
            out.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    for section in ("outcome_means", "monthly_means"):
        a, b = old.get(section, {}), new.get(section, {})
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if x is None or y is None:
                out.append(f"{section}.{key}: {x!r} -> {y!r}")
            elif not math.isclose(x, y, rel_tol=rel_tol, abs_tol=rel_tol):
                out.append(f"{section}.{key}: {x:.6g} -> {y:.6g}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the stored file; write nothing")
    args = parser.parse_args(argv)
    new = summarise()
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    moved = differences(old, new)
    print("\n".join(moved) if moved else "no change beyond the tolerance")
    if args.check:
        return 1 if moved else 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n")
    tmp.replace(OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
