"""Summarise one stored batch: what ran, how it went, and target attainment.

Reads manifest.json and the Parquet parts (run status comes from the parts, so
a batch killed mid-way shows what it really holds). Prints the command, code
version, seeds, timings, failed runs with the end of their traceback, then the
probability of reaching each target (95% Wilson interval) per scenario or design
point, and medians with 90% bands of the end-of-run indicators.

examples:
  parksim show 20261127-183512-ab12cd
  parksim show results/runs/20261127-183512-ab12cd --failures 50
  parksim show 20261127-183512-ab12cd --all-definitions
  parksim show 20261127-183512-ab12cd --json
"""

from __future__ import annotations

from sim.cli import options

HELP = "summarise one batch (status, failures, target attainment)"
MAX_FULL_SCENARIOS = 4  # above this, only the compact table (the detail with --all-definitions)


def register(p):
    p.add_argument("batch", metavar="ID", help="batch id (folder name under --root) or a batch folder")
    options.add_root(p)
    p.add_argument("--failures", type=int, default=10, metavar="N", help="failed runs to list (default 10)")
    options.add_json(p, "one JSON object")
    options.add_all_definitions(p)


def batch_json(batch, n_failures: int | None = None) -> str:
    """A batch as JSON for scripts: id, folder, status, counts, problems, failures and the target summary table.

    ``targets`` holds the rows of :func:`sim.analysis.report.target_table` (one per scenario,
    target and definition; NaN as null).
    """
    import json

    from sim.analysis.report import target_table

    m = batch.manifest
    ok = batch.outcomes[batch.outcomes["status"] == "ok"]
    targets = json.loads(target_table(ok).to_json(orient="records")) if not ok.empty else []
    keys = ("run", "scenario", "replicate", "spawn_key", "error")
    failures = [{k: f.get(k) for k in keys} for f in m.get("failures", [])[:n_failures]]
    data = {
        "id": batch.id,
        "folder": str(batch.folder) if batch.folder else None,
        "status": batch.status,
        "counts": m.get("counts", {}),
        "command": m.get("command"),
        "created": m.get("created"),
        "finished": m.get("finished"),
        "problems": getattr(batch, "problems", {}),
        "failures": failures,
        "targets": targets,
        "posterior": _posterior_json(batch.posterior),
    }
    return json.dumps(data, indent=1)


def _posterior_json(record):
    """How a batch treated parameter uncertainty, for ``--json``.

    None at the point; else K and, per scenario, the posterior file and the draw index of each
    replication (None for a scenario run at its point).
    """
    if record is None:
        return None
    draws = {
        name: None if e["source"] is None else {"file": e["source"], "draws": record["sources"][e["source"]]["draws"]}
        for name, e in record["scenarios"].items()
    }
    return {"seeds_per_draw": record["seeds_per_draw"], "scenarios": draws}


def headline_table(outcomes, inputs=()):
    """Targets (and varied inputs) as rows, scenarios as columns: P(reach) of every target definition."""
    import os

    import pandas as pd

    from sim.analysis.report import target_table

    table = target_table(outcomes)
    if table.empty:
        return pd.DataFrame()
    table["row"] = "P " + table["target"] + " [" + table["definition"] + "]"
    order = list(dict.fromkeys(outcomes["scenario"]))
    wide = table.pivot(index="row", columns="scenario", values="p_reach")
    wide = wide.reindex(index=list(dict.fromkeys(table["row"])), columns=order)
    if inputs:
        values = outcomes.groupby("scenario", sort=False)[list(inputs)].first().T
        wide = pd.concat([values.reindex(columns=order), wide])
    prefix = os.path.commonprefix(order) if len(order) > 1 else ""
    wide.columns = [c[len(prefix) :] or c for c in order]
    return wide


def print_outcome_summary(batch, headline: bool = False, all_definitions: bool = False) -> None:
    """Target attainment of a batch: the compact table across scenarios, then the detail for a few scenarios.

    A sweep (``headline``) prints one column per design point with its lever values instead.
    """
    from sim.analysis.report import format_detail, format_glance

    ok = batch.outcomes[batch.outcomes["status"] == "ok"]
    if ok.empty:
        print("no finished runs to summarise")
        return
    if not headline:
        labels = {s["name"]: s.get("label", s["name"]) for s in batch.manifest.get("scenarios", [])}
        print(format_glance(ok, labels, all_definitions=all_definitions))
        if all_definitions or ok["scenario"].nunique() <= MAX_FULL_SCENARIOS:
            print(format_detail(ok, labels, all_definitions=all_definitions))
        return
    wide = headline_table(ok, batch.manifest.get("input_columns", []))
    print(wide.to_string(float_format=lambda x: f"{x:.3g}", line_width=160))


def print_uncertainty(batch, say=print) -> None:
    """How the batch treated parameter uncertainty and, for a posterior batch, P(target) and the variance split."""
    from sim.analysis.uncertainty import describe_posterior, format_split, target_probabilities, variance_split

    say("\n" + describe_posterior(batch.posterior))
    ok = batch.outcomes[batch.outcomes["status"] == "ok"]
    if batch.posterior is None or ok.empty:
        return
    k = int(batch.posterior.get("seeds_per_draw", 1))
    if k > 1:
        table = target_probabilities(ok, k)
        say("P(target) with parameter uncertainty (95% Wilson interval at the effective number of replications):")
        for r in table.itertuples():
            say(f"  {r.scenario}: {r.target} [{r.definition}] {r.p_reach:.2f} ({r.p_low:.2f}-{r.p_high:.2f}), "
                f"n_eff {r.n_eff:.0f} of {r.n}")  # fmt: skip
        say(format_split(variance_split(ok, k)))
    else:
        say("variance split: needs --seeds-per-draw K >= 2 (one seed per draw cannot tell the parts apart)")


def print_header(batch, n_failures: int = 10) -> None:
    import textwrap

    m = batch.manifest
    code = m.get("code", {})
    commit = (code.get("git_commit") or "no git")[:10] + (" (uncommitted changes)" if code.get("git_dirty") else "")
    t = m.get("timings", {})
    print(batch.summary_line())
    command = textwrap.wrap(m.get("command") or "(from Python)", 108, break_on_hyphens=False) or [""]
    print("\n".join(["  command:  " + command[0], *("            " + c for c in command[1:])]))
    print(f"  created:  {m.get('created')}  finished: {m.get('finished') or '-'}")
    print(f"  code:     parksim {code.get('version')} at {commit}; format v{m['format_version']}")
    print(f"  seeds:    root {m['seed']}, {m['reps']} replications x {len(m['scenarios'])} scenarios (common seeds)")
    print(f"  time:     {t.get('wall_seconds', 0):.1f} s wall, {t.get('runs_per_second') or 0:.2f} runs/s")
    signatures = m.get("cpu_signatures") or []
    if signatures:
        mixed = "  (mixed: runs may differ in the last digits from a one-machine batch)" if len(signatures) > 1 else ""
        print(f"  cpu:      {'; '.join(signatures)}{mixed}")
    for s in m.get("sessions", []):
        print(f"  session:  {s.get('started')} {s.get('executor')} x{s.get('workers')}: {s.get('runs_done')} runs")
    if m.get("design"):
        d = m["design"]
        print(f"  design:   {d['name']} ({d['method']}, {len(d['points'])} points) over {', '.join(d['inputs'])}")
    for name, why in getattr(batch, "problems", {}).items():
        print(f"  MISSING:  part {name}: {why}; its runs are pending until 'parksim resume {batch.id}' reruns them")
    failures = m.get("failures", [])
    for f in failures[:n_failures]:
        tail = (f.get("traceback") or "").strip().splitlines()[-3:]
        print(f"  FAILED run {f['run']} ({f['scenario']}, replicate {f['replicate']}, spawn key {f['spawn_key']}):")
        print("      " + (f.get("error") or "?"))
        for line in tail[:-1]:
            print("      " + line.strip())
    if len(failures) > n_failures:
        print(f"  ... {len(failures) - n_failures} more failed runs in manifest.json")


def main(args) -> int:
    from sim.run.batch import load_batch

    batch = load_batch(args.batch, root=args.root)
    if args.json:
        print(batch_json(batch, args.failures))
        return 1 if batch.failed else 0
    print_header(batch, args.failures)
    print_outcome_summary(batch, all_definitions=getattr(args, "all_definitions", False))
    print_uncertainty(batch)
    return 1 if batch.failed else 0
