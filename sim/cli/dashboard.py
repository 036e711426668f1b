"""Serve the policy dashboard on this machine: explore stored batches, the park's zones, and try a package.

Open the address it prints in a browser. Pick finished batches to see the chance
of reaching each target (chart, table on request), fan charts with the targets
and the park's historical record, paired differences between two scenarios, and
a map of the three zones month by month. Lever sliders (within their declared
ranges) and a run button launch a small batch of a package next to its base
scenario; it is stored under --root like any other batch. Stop with Ctrl-C.

examples:
  parksim dashboard
  parksim dashboard --root results/runs --port 8765
  parksim dashboard --base tiny --reps 10
"""

from __future__ import annotations

import sys

HELP = "serve the policy dashboard (web app on 127.0.0.1)"
HOST = "127.0.0.1"


def register(p):
    p.add_argument("--root", default="results/runs", help="folder of batch folders (default results/runs)")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    p.add_argument("--base", default="baseline", help="scenario the packages are built on (default baseline)")
    p.add_argument("--reps", type=int, default=20, help="replications of a package run (default 20)")


def main(args) -> int:
    if not 0 < args.port < 65536:
        print(f"parksim dashboard: error: --port must be between 1 and 65535, got {args.port}", file=sys.stderr)
        return 2
    if args.reps < 1:
        print("parksim dashboard: error: --reps must be at least 1", file=sys.stderr)
        return 2
    import importlib.util

    if importlib.util.find_spec("solara") is None:
        print("parksim dashboard: error: needs Solara: pip install 'parksim[dashboard]'", file=sys.stderr)
        return 2
    from sim.dashboard.server import serve
    from sim.model.scenario import load_scenario

    load_scenario(args.base)  # an unknown base is refused here, with the names that exist
    print(f"parksim dashboard: serving http://{HOST}:{args.port}/ (batches in {args.root}); Ctrl-C stops")
    serve(args.root, args.port, host=HOST, base=args.base, reps=args.reps)
    return 0
