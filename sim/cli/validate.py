"""Check scenario files without running them.

Every key is checked against the declared levers and parameters (name, type,
range); bases and fitted-parameter files are followed. Exit code 0 when all
files are valid, 2 otherwise. Notes on stderr say what a valid file may not do
as meant: targets its run window leaves out (they come out NaN), or a file that
sets nothing and so runs the unfitted declared defaults rather than the baseline.

example:
  parksim validate scenarios/*.toml
"""

from __future__ import annotations

import sys

HELP = "check scenario files without running them"


def register(p):
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or names in scenarios/")


def main(args) -> int:
    from sim.model.params import PARAMS
    from sim.model.scenario import ScenarioError, load_scenario, scenario_notes

    bad = 0
    for ref in args.scenarios:
        try:
            sc = load_scenario(ref)
        except ScenarioError as exc:
            print(f"INVALID {exc}", file=sys.stderr)
            bad += 1
            continue
        changed = ", ".join(f"{k}={v:g}" for k, v in sc.inputs if v != PARAMS[k].default) or "nothing"
        print(f"ok      {sc.path}: {sc.name} ({sc.label}), {sc.start}..{sc.end}; changes from defaults: {changed}")
        for note in scenario_notes(sc):
            print(f"note    {sc.path}: {note}", file=sys.stderr)
    return 2 if bad else 0
