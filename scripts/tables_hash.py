"""Fingerprint of the model's tables: one hash per scenario and an overall hash.

A refactoring that must not change behaviour keeps these hashes: run this before
and after and compare. Each scenario runs three replications (root seed 0,
common random numbers); the hash covers the monthly table (``to_csv``) and the
outcomes (JSON, sorted keys) of every replication.

Usage: ``python scripts/tables_hash.py [SCENARIO ...]`` (default: tiny, baseline,
full_package, history).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from sim.model.scenario import load_scenario
from sim.run.runner import replicate_seeds, run_scenario

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ("tiny", "baseline", "full_package", "history")
REPS = 3


def scenario_hash(path: Path) -> str:
    """Hash of the monthly and outcome tables of ``REPS`` replications of one scenario."""
    sc = load_scenario(path)
    h = hashlib.sha256()
    for i, seed in enumerate(replicate_seeds(0, REPS)):
        r = run_scenario(sc, seed=seed, replicate=i)
        h.update(r.monthly.to_csv().encode())
        h.update(json.dumps({k: float(v) for k, v in r.outcomes.items()}, sort_keys=True).encode())
    return h.hexdigest()


def main(names: list[str]) -> None:
    overall = hashlib.sha256()
    for name in names or DEFAULT:
        digest = scenario_hash(ROOT / "scenarios" / f"{name}.toml")
        overall.update(digest.encode())
        print(f"{name:14s} {digest[:16]}", flush=True)
    print(f"{'overall':14s} {overall.hexdigest()[:16]}")


if __name__ == "__main__":
    main(sys.argv[1:])
