"""List the batches in a results folder: id, status, size, date and command.

Status comes from the Parquet parts, so a batch killed mid-way shows as
'interrupted' (resume it with 'parksim resume ID'); 'running' means its writer
process is alive on this machine; 'damaged' means its manifest cannot be read.

examples:
  parksim runs
  parksim runs --root /scratch/parksim/runs
  parksim runs --json
"""

from __future__ import annotations

from sim.cli import options

HELP = "list stored batches with status, size and command"


def register(p):
    options.add_root(p)
    options.add_json(p, "the batches as a JSON list")


def main(args) -> int:
    from pathlib import Path

    from sim.errors import InputError
    from sim.store import list_batches

    if Path(args.root).exists() and not Path(args.root).is_dir():
        raise InputError("--root", None, f"{args.root} is a file, not a folder of batch folders")
    rows = list_batches(args.root) if Path(args.root).is_dir() else []
    if args.json:
        import json

        print(json.dumps(rows, indent=1))
        return 0
    if not Path(args.root).is_dir():
        print(f"no batches: {args.root} does not exist yet")
        return 0
    if not rows:
        print(f"no batches in {args.root}")
        return 0
    print(f"{'id':<24} {'status':<23} {'runs':>11} {'failed':>6} {'size':>10}  {'created':<20} command")
    for r in rows:
        if r["status"] == "damaged":
            print(f"{r['id']:<24} {'damaged':<23} {'':>11} {'':>6} {'':>10}  {'':<20} {r['problem']}")
            continue
        runs = f"{r['done']}/{r['planned']}"
        size = f"{r['scenarios']}x{r['reps']}"
        command = r["command"] if len(r["command"]) <= 70 else r["command"][:67] + "..."
        note = f"  [{r['problem']}]" if r.get("problem") else ""
        head = f"{r['id']:<24} {r['status']:<23} {runs:>11} {r['failed']:>6} {size:>10}"
        print(f"{head}  {r['created']:<20} {command}{note}")
    return 0
