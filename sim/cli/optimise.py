"""Cheapest lever packages that reach a target, by robust optimisation (EMA Workbench, platypus-opt).

For each --target NAME[:DEFINITION] (every definition of NAME when none is
given; 'all' for every target), an epsilon-NSGA-II searches the levers for the
Pareto front of (planned cost, P(reach)) where P is the share of DEEP x REPS
shared combinations (Latin-hypercube points of the deep uncertainties x
(posterior draw, seed) replications) that reach the goal; every candidate runs
on the same combinations. For each --threshold the cheapest package on the front
with P >= threshold is chosen (or the target is named unreachable with its best
P and the levers at a bound), then rerun --confirm times with fresh seeds (same
posterior, same deep points) through the batch runner and P is reported with
its 95% Wilson interval. Same arguments, same seed: same packages.

Written into --out (default results/optimise/<scenario>), per target and
definition: robust_<target>__<def>_front.csv (the front), _convergence.csv
(EMA's epsilon progress), _result.json (settings, deep points, choices,
confirmation), _front.png (the figure); and summary.md for all targets.
Exit code 0 on success, 2 on bad input.

Defaults are small (nfe 100, reps 5, deep 4: 2,000 runs a target); on the tiny
scenario with --end 2016-12 a 2016 target takes about 3 minutes on one core.
Realistic settings for the baseline: --nfe 2000 --reps 20 --deep 10 (see docs/robust.md).

example:
  parksim optimise tiny --target share_reforms_2016:completed --end 2016-12 --nfe 60 --confirm 200
  parksim optimise baseline --target listed_companies_2020 --threshold 0.5 0.8 --nfe 2000 --reps 20 --deep 10
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.cli import options

HELP = "cheapest lever packages reaching a target with P >= 0.5 / 0.8 (robust search)"


def _probability(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a probability in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a probability in (0, 1], got {text!r}")
    return value


def register(p):
    p.add_argument("scenario", metavar="SCENARIO", help="scenario name or file in scenarios/")
    p.add_argument("--target", action="append", required=True, metavar="NAME[:DEFINITION]",
                   help="target (repeatable); no :DEFINITION = every definition; 'all' = every target")  # fmt: skip
    p.add_argument("--threshold", nargs="+", type=_probability, default=[0.5, 0.8], metavar="P",
                   help="probabilities to reach (default 0.5 0.8)")  # fmt: skip
    p.add_argument("--nfe", type=options.positive_int, default=100, help="candidate packages evaluated (default 100)")
    options.add_reps(p, 5, per="deep point: (posterior draw, seed) pairs")
    p.add_argument("--deep", type=options.positive_int, default=4,
                   help="shared Latin-hypercube points of the deep uncertainties, >= 2 (default 4)")  # fmt: skip
    p.add_argument("--confirm", type=options.whole_number, default=200,
                   help="fresh runs confirming a chosen package (>= 200 to report; 0 skips; default 200)")  # fmt: skip
    p.add_argument("--levers", nargs="+", metavar="LEVER", help="levers to search (default every declared lever)")
    p.add_argument("--end", metavar="YYYY-MM", help="end the runs here (shorter runs; must cover the target's year)")
    p.add_argument("--population", type=options.positive_int, help="MOEA population (default nfe/5, 4..20)")
    options.add_executor(p)  # the confirmation runs (the search itself runs in this process)
    p.add_argument("--out", metavar="DIR", help="output folder (default results/optimise/<scenario>)")
    options.add_seed(p)


def _error(message: str) -> int:
    print(f"parksim optimise: error: {message}", file=sys.stderr)
    return 2


def targets_of(specs: list[str]) -> list[tuple[str, str]] | str:
    """``NAME[:DEFINITION]`` specs -> (target, definition) pairs, or an error message."""
    from sim.model.targets import TARGETS, TARGETS_BY_NAME

    pairs = []
    for spec in specs:
        if spec == "all":
            pairs += [(t.name, d) for t in TARGETS for d in t.columns]
            continue
        name, _, definition = spec.partition(":")
        if name not in TARGETS_BY_NAME:
            return f"--target {name!r} is not a target; allowed: all, {', '.join(TARGETS_BY_NAME)}"
        defs = list(TARGETS_BY_NAME[name].columns)
        if definition and definition not in defs:
            return f"--target {spec!r}: definition {definition!r} not allowed; allowed: {', '.join(defs)}"
        pairs += [(name, definition)] if definition else [(name, d) for d in defs]
    return list(dict.fromkeys(pairs))


def main(args) -> int:
    pairs = targets_of(args.target)
    if isinstance(pairs, str):
        return _error(pairs)
    if args.deep < 2:
        return _error(f"--deep must be >= 2 (EMA's robust search needs several scenarios), got {args.deep}")
    from sim.ema import lever_names

    if args.levers:
        bad = [k for k in args.levers if k not in lever_names()]
        if bad:
            return _error(f"--levers {', '.join(bad)}: not declared levers; allowed: {', '.join(lever_names())}")
    from sim.analysis import robust
    from sim.model.scenario import month_index
    from sim.model.targets import TARGETS_BY_NAME
    from sim.plots import save
    from sim.plots.robust import pareto_chart

    base = robust.resolve(args.scenario, args.end)
    late = [f"{n}:{d}" for n, d in pairs if month_index(base.end) < month_index(f"{TARGETS_BY_NAME[n].year}-12")]
    if late:
        return _error(f"--end {base.end} ends before the year of {', '.join(late)}; use a later --end")
    out = Path(args.out or Path("results/optimise") / base.name)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name, definition in pairs:
        print(f"searching {name}:{definition} on {base.name} to {base.end} (nfe {args.nfe}, "
              f"{args.deep} deep points x {args.reps} replications) ...", file=sys.stderr)  # fmt: skip
        r = robust.search(base, name, definition, thresholds=args.threshold, nfe=args.nfe, reps=args.reps,
                          deep=args.deep, seed=args.seed, levers=args.levers, population=args.population)  # fmt: skip
        if args.confirm:
            for choice in r.choices:
                if choice.reachable:
                    robust.confirm(r, choice, runs=args.confirm, workers=args.workers, dask=args.dask)
        stem = out / f"robust_{r.column}"
        r.front.to_csv(f"{stem}_front.csv", index=False)
        r.convergence.to_csv(f"{stem}_convergence.csv", index=False)
        Path(f"{stem}_result.json").write_text(json.dumps(r.to_json(), indent=1, default=float) + "\n")
        save(pareto_chart(r), f"{stem}_front.png")
        for c in r.choices:
            if c.reachable:
                conf = f"; confirmed {c.confirm['p']:.0%} [{c.confirm['low']:.0%}, {c.confirm['high']:.0%}] " \
                       f"of {c.confirm['n']}" if c.confirm else ""  # fmt: skip
                print(f"{r.column} P>={c.threshold:.0%}: {c.cost_myuan:,.1f} m yuan, P(shared) {c.p_shared:.0%}{conf}")
            else:
                print(f"{r.column} P>={c.threshold:.0%}: unreachable: {c.reason}")
        results.append(r)
    (out / "summary.md").write_text(robust.summary_markdown(results))
    print(f"wrote {out}/summary.md and robust_*_front.csv/_result.json/_front.png")
    return 0
