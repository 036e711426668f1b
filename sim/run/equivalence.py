"""Are a faster model's results those of the code before it? Paired seeds, every target and end indicator.

``parksim bench --equivalence --against REF`` runs the same scenario with the same
``--seeds`` replication seeds (``replicate_seeds``, as a batch spawns them) under
the working tree and under the tree of ``REF`` (exported by ``git archive``, as
``--against`` does for the speed figures), and compares, pair by pair, every
outcome column a batch records: each target under each definition, whether it
was reached (``targets.reached``), and each end-state indicator (``end_*``).

For each column it reports

* the pairs whose two values are the same number (NaN counts as the same as NaN),
  and whether every pair's whole monthly table had the same bytes;
* the old and new means, the mean paired difference and a TOST equivalence test
  (two one-sided paired t tests at ``ALPHA``) against a margin ``delta``:

  - a value column: ``delta = MARGIN_SD x`` the old code's standard deviation
    across seeds. A paired mean shift below a tenth of the seed-to-seed spread is
    negligible (a standardised effect of 0.1; Cohen's conventions call 0.2
    small), and it is well below what a study of a few hundred replications can
    resolve (the standard error of a mean over 200 seeds is 0.07 SD);
  - a reached column (0 or 1): ``delta = MARGIN_REACHED`` (5 percentage points of
    the probability of reaching the target). Over 200 seeds the 95% interval of a
    probability near one half is about +-7 points, so a shift below 5 points is
    below what the findings can tell apart;
  - a column constant under the old code (no spread) is equivalent only if every
    pair is identical.

  Where every pair is identical the test is exact (p = 0); a NaN on one side
  only fails the column.
* the **bound shown**: the smallest margin the TOST would pass at with these pairs
  (``|mean diff| + t(1 - ALPHA) x SE``), in margins, and an estimate of the seeds a
  column that did not pass would need to pass with probability ``POWER`` if its
  mean difference is what this sample says.

What 200 seeds can show. Bit-identical code passes with every pair identical. Code
that draws differently makes the two trajectories of a pair nearly independent,
so a paired difference has about sqrt(2) times the seed-to-seed SD: with 200 seeds
the TOST can then show no margin below about 0.17 SD for a value and 8 points for
a probability near one half, so such a change fails at these margins however
equivalent it is, and the report says how many seeds it would take (about 1,700
for either margin, for one column; more for every column at once). The margins are set by what the findings
must not be moved by (they report 10-point differences between packages as
results), not by what is easy to pass.

The verdict is equivalent when every column passes. Bit-identical code passes
with every pair identical; code that draws differently (another stream layout,
another algorithm) must pass the TOST on every column. Each side's CPU seconds
per replication is reported too, so the figure says what the change bought and
what it cost in results, from one run.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ALPHA = 0.05  # size of each one-sided test of the TOST [convention]
MARGIN_SD = 0.1  # equivalence margin of a value column, in the old code's seed-to-seed SD [judgement, see above]
MARGIN_REACHED = 0.05  # equivalence margin of a reached-target probability [judgement, see above]
MIN_SEEDS = 200  # the speed issue's floor for the equivalence test (issue 14)
POWER = 0.8  # chance of showing equivalence that the seeds-needed estimate aims at [convention]

# One side's replications: `python -c CHILD '<json args>'`, one JSON line per seed.
CHILD = r"""
import hashlib, json, sys, time
args = json.loads(sys.argv[1])
try:
    import sim, sim.model.park, sim.model.scenario, sim.run.runner
    from sim.model.scenario import load_scenario
    from sim.run.runner import replicate_seeds, run_arrays
except Exception as exc:
    print(json.dumps({"error": f"cannot import the model: {exc!r}"})); sys.exit(0)
# where each module came from: an editable install can fill a module an old tree lacks from the new one
modules = (sim, sim.model.park, sim.model.scenario, sim.run.runner)
print(json.dumps({"paths": {m.__name__: m.__file__ for m in modules}}), flush=True)
sc = load_scenario(args["scenario"])
seeds = replicate_seeds(args["root_seed"], args["n"])
for i in range(args["start"], args["stop"]):
    c0 = time.process_time()
    res = run_arrays(sc, seeds[i])
    cpu = time.process_time() - c0
    digest = hashlib.sha256(res.monthly.tobytes()).hexdigest()[:16]
    print(json.dumps({"seed": i, "cpu_s": cpu, "digest": digest, "outcomes": res.outcomes}), flush=True)
"""


def run_side(tree: Path, scenario: Path, n: int, root_seed: int, workers: int, log=None, label: str = "") -> list[dict]:
    """Replications ``0 .. n-1`` of ``scenario`` under the code in ``tree``, split over ``workers`` processes.

    Returns one dict per seed (``seed``, ``cpu_s``, ``digest`` of the monthly table, ``outcomes``), in seed order.

    Raises:
        InputError: a process failed (a tree too old to run: no ``run_arrays``), or imported the
            model from somewhere other than ``tree``.
    """
    from sim.errors import InputError
    from sim.run.bench import _env

    bounds = [round(n * k / workers) for k in range(workers + 1)]
    procs = []
    for start, stop in zip(bounds, bounds[1:], strict=False):
        if stop <= start:
            continue
        args = {"scenario": str(scenario), "root_seed": root_seed, "n": n, "start": start, "stop": stop}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, json.dumps(args)],
                cwd=tree,
                env=_env(tree),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    rows = []
    for proc in procs:
        out, err = proc.communicate()
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        head = lines[0] if lines else {}
        for name, where in head.get("paths", {}).items():
            if not Path(where).resolve().is_relative_to(Path(tree).resolve()):
                why = f"imported {name} from {where}, not from {tree}"
                raise InputError("--equivalence", None, f"{label or tree}: {why}")
        if proc.returncode != 0 or "paths" not in head:
            why = head.get("error") or (err.strip().splitlines() or ["no output"])[-1]
            raise InputError("--equivalence", None, f"{label or tree}: replications failed ({why})")
        rows += lines[1:]
    if log:
        log(f"{label}: {len(rows)} replications")
    return sorted(rows, key=lambda r: r["seed"])


def _same(a: float, b: float) -> bool:
    return (a == b) or (math.isnan(a) and math.isnan(b))


def tost_p(diffs: list[float], delta: float) -> float:
    """p-value of the TOST that the mean of paired ``diffs`` lies within ``(-delta, delta)`` (one-sided t tests).

    Every difference zero: 0 (exactly equivalent). No spread in the differences but a non-zero mean:
    0 inside the margin, 1 outside.
    """
    return _tost_p(_moments(diffs), delta, all(d == 0.0 for d in diffs))


def _moments(diffs: list[float]) -> tuple[int, float, float]:
    """``(n, mean, sd)`` of the paired differences (sd 0 for one pair), computed once per column."""
    n = len(diffs)
    return n, statistics.fmean(diffs), statistics.stdev(diffs) if n > 1 else 0.0


def _tost_p(moments: tuple[int, float, float], delta: float, all_zero: bool) -> float:
    """:func:`tost_p` from the differences' ``(n, mean, sd)``."""
    from scipy import stats

    n, mean, sd = moments
    if sd == 0.0:
        return 0.0 if abs(mean) < delta or all_zero else 1.0
    se = sd / math.sqrt(n)
    p_low = stats.t.sf((mean + delta) / se, n - 1)  # H0: mean <= -delta
    p_high = stats.t.cdf((mean - delta) / se, n - 1)  # H0: mean >= +delta
    return float(max(p_low, p_high))


def compare_column(old: list[float], new: list[float], reached: bool) -> dict:
    """The identical pairs, means, margin and TOST of one outcome column (see the module docstring)."""
    pairs = list(zip(old, new, strict=True))
    identical = sum(_same(a, b) for a, b in pairs)
    one_nan = sum(math.isnan(a) != math.isnan(b) for a, b in pairs)
    both = [(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))]
    row = {"pairs": len(pairs), "identical": identical, "nan_on_one_side": one_nan, "evaluable": len(both)}
    if not both:
        row.update(delta=None, p=0.0 if identical == len(pairs) else 1.0, equivalent=identical == len(pairs))
        return row
    a, b = [x for x, _ in both], [y for _, y in both]
    diffs = [y - x for x, y in both]
    moments = _moments(diffs)
    spread = statistics.stdev(a) if len(a) > 1 else 0.0
    delta = MARGIN_REACHED if reached else MARGIN_SD * spread
    if identical == len(pairs):
        p = 0.0
    elif one_nan or delta == 0.0:
        p = 1.0
    else:
        p = _tost_p(moments, delta, all(d == 0.0 for d in diffs))
    row.update(_bound_shown(moments, delta, identical == len(pairs)))
    if one_nan:  # more seeds do not mend a value that one side cannot evaluate
        row.update(seeds_needed=None, seeds_needed_unreachable=True)
    row.update(
        mean_old=statistics.fmean(a),
        mean_new=statistics.fmean(b),
        sd_old=spread,
        mean_diff=moments[1],
        delta=delta,
        p=p,
        equivalent=p < ALPHA,
    )
    return row


def _bound_shown(moments: tuple[int, float, float], delta: float, identical: bool) -> dict:
    """The smallest margin the TOST passes at (in margins), and the seeds that would show ``delta``.

    ``moments``: the paired differences' ``(n, mean, sd)`` (:func:`_moments`).
    """
    from scipy import stats

    if identical:
        return {"bound_in_margins": 0.0, "seeds_needed": None, "seeds_needed_unreachable": False}
    n, mean, sd = moments
    mean = abs(mean)
    bound = mean + float(stats.t.ppf(1.0 - ALPHA, max(n - 1, 1))) * sd / math.sqrt(n)
    # both one-sided tests must pass: with no true difference each side gets (1 - POWER) / 2 of the misses
    z = float(stats.norm.ppf(1.0 - ALPHA) + stats.norm.ppf((1.0 + POWER) / 2.0))
    if delta <= mean:
        needed = None  # no number of seeds shows a margin the mean difference is already outside
    else:
        needed = max(n, math.ceil((z * sd / (delta - mean)) ** 2))
    return {
        "bound_in_margins": bound / delta if delta > 0 else math.inf,
        "seeds_needed": needed,
        "seeds_needed_unreachable": delta <= mean,
    }


def compare(old_rows: list[dict], new_rows: list[dict]) -> dict:
    """Every outcome column and every target's reached indicator, compared pair by pair."""
    from sim.model import targets

    assert [r["seed"] for r in old_rows] == [r["seed"] for r in new_rows], "the two sides ran different seeds"
    columns = [c for c in new_rows[0]["outcomes"] if c in old_rows[0]["outcomes"]]
    missing = sorted(set(new_rows[0]["outcomes"]) ^ set(old_rows[0]["outcomes"]))
    out = {}
    for c in columns:
        out[c] = compare_column([r["outcomes"][c] for r in old_rows], [r["outcomes"][c] for r in new_rows], False)
    for c in (c for c in columns if targets.is_target_column(c)):
        old = [targets.reached({c: r["outcomes"][c]})[c] for r in old_rows]
        new = [targets.reached({c: r["outcomes"][c]})[c] for r in new_rows]
        out[f"reached:{c}"] = compare_column(old, new, True)
    return {"columns": out, "not_on_both_sides": missing}


def run_equivalence(scenario: str, seeds: int, against: str, root_seed: int = 1, workers: int = 2, log=None) -> dict:
    """Run ``seeds`` paired replications of ``scenario`` under the working tree and under ``against``; compare.

    Raises:
        InputError: fewer than MIN_SEEDS seeds, an unknown scenario, or a ref that names no commit.
    """
    from sim.errors import InputError
    from sim.run.bench import ROOT, exported_tree, resolve_ref

    if seeds < MIN_SEEDS:
        raise InputError("--seeds", None, f"{seeds}: the equivalence test needs at least {MIN_SEEDS} paired seeds")
    if workers < 1:
        raise InputError("--workers", None, f"{workers}: give a positive number of processes per side")
    rel = Path("scenarios") / f"{scenario}.toml"
    if not (ROOT / rel).is_file():
        raise InputError("--scenario", None, f"no {rel} in this tree")
    commit = resolve_ref(against)
    t0 = time.perf_counter()
    with exported_tree(commit) as old_tree:
        if not (old_tree / rel).is_file():
            raise InputError("--scenario", None, f"{against} has no {rel}")
        old = run_side(old_tree, old_tree / rel, seeds, root_seed, workers, log, f"old ({against})")
        new = run_side(ROOT, ROOT / rel, seeds, root_seed, workers, log, "new (working tree)")
    doc = compare(old, new)
    cols = doc["columns"]
    old_cpu = statistics.median(r["cpu_s"] for r in old)
    new_cpu = statistics.median(r["cpu_s"] for r in new)
    doc.update(
        scenario=scenario,
        seeds=seeds,
        root_seed=root_seed,
        against=against,
        commit=commit,
        identical_runs=sum(a["digest"] == b["digest"] for a, b in zip(old, new, strict=True)),
        columns_tested=len(cols),
        columns_identical=sum(c["identical"] == c["pairs"] for c in cols.values()),
        columns_equivalent=sum(c["equivalent"] for c in cols.values()),
        equivalent=all(c["equivalent"] for c in cols.values()) and not doc["not_on_both_sides"],
        largest_bound_in_margins=max((c.get("bound_in_margins", 0.0) for c in cols.values()), default=0.0),
        seeds_to_show_every_column=_seeds_to_show(cols.values()),
        cpu_s_per_run={"old": old_cpu, "new": new_cpu, "ratio_old_new": old_cpu / new_cpu if new_cpu else None},
        wall_s=time.perf_counter() - t0,
        alpha=ALPHA,
        margin_sd=MARGIN_SD,
        margin_reached=MARGIN_REACHED,
    )
    return doc


def _seeds_to_show(columns) -> int | None:
    """The most seeds any failing column needs, each at POWER (None: all pass; -1: one cannot pass at any size)."""
    failing = [c for c in columns if not c["equivalent"]]
    if not failing:
        return None
    if any(c.get("seeds_needed_unreachable") or c.get("seeds_needed") is None for c in failing):
        return -1
    return max(c["seeds_needed"] for c in failing)


def markdown(doc: dict) -> str:
    """The verdict, the CPU figures and one table row per column that is not identical in every pair."""
    cpu = doc["cpu_s_per_run"]
    lines = [
        f"Equivalence of `{doc['scenario']}` over {doc['seeds']} paired seeds (root seed {doc['root_seed']}), "
        f"working tree against {doc['against']} ({doc['commit'][:7]}):",
        "",
        f"- verdict: **{'equivalent' if doc['equivalent'] else 'NOT equivalent'}** "
        f"({doc['columns_equivalent']}/{doc['columns_tested']} columns pass the TOST at alpha {doc['alpha']}; "
        f"margins {doc['margin_sd']} SD for values, {doc['margin_reached']:.0%} for reached targets)",
        f"- identical: {doc['columns_identical']}/{doc['columns_tested']} columns in every pair; "
        f"{doc['identical_runs']}/{doc['seeds']} runs with the same monthly table to the byte",
        f"- CPU per replication (median): old {cpu['old']:.3f} s, new {cpu['new']:.3f} s, "
        f"old/new {cpu['ratio_old_new']:.2f}x",
        f"- largest bound shown: {doc['largest_bound_in_margins']:.2f} margins (below 1 passes)",
    ]
    need = doc["seeds_to_show_every_column"]
    if need == -1:
        lines.append("- some column's mean difference lies outside its margin: more seeds cannot show equivalence")
    elif need is not None:
        lines.append(f"- seeds the most demanding failing column would need (estimate, {POWER:.0%} power): {need:,}")
    if doc["not_on_both_sides"]:
        lines.append(f"- columns on one side only (fail the verdict): {', '.join(doc['not_on_both_sides'])}")
    differing = {k: v for k, v in doc["columns"].items() if v["identical"] != v["pairs"]}
    if differing:
        lines += [
            "",
            "| column | identical pairs | mean old | mean new | mean diff | margin | TOST p | bound shown (margins) "
            "| seeds needed | equivalent |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for k, v in differing.items():
            lines.append(
                f"| {k} | {v['identical']}/{v['pairs']} | {v.get('mean_old', float('nan')):.4g} | "
                f"{v.get('mean_new', float('nan')):.4g} | {v.get('mean_diff', float('nan')):.3g} | "
                f"{v['delta'] if v['delta'] is None else format(v['delta'], '.3g')} | {v['p']:.3g} | "
                f"{v.get('bound_in_margins', float('nan')):.2f} | {_needed_text(v)} | "
                f"{'yes' if v['equivalent'] else 'NO'} |"
            )
    return "\n".join(lines)


def _needed_text(v: dict) -> str:
    if v["equivalent"]:
        return "-"
    if v.get("seeds_needed_unreachable") or v.get("seeds_needed") is None:
        return "none would"
    return f"{v['seeds_needed']:,}"


__all__ = ["run_equivalence", "compare", "compare_column", "tost_p", "markdown", "MIN_SEEDS"]
