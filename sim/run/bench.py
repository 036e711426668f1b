"""Speed and memory benchmark of single replications and batches (``parksim bench``).

Every measurement runs in a fresh Python process (so its peak memory,
``ru_maxrss``, is its own, and no cache of an earlier measurement helps it):
the process imports the code, runs one untimed warm-up replication, then one
timed replication stepped month by month (``timed`` > 1: that many, their CPU
and months summed). The figures are

* CPU seconds per simulated month: process CPU time (``time.process_time``,
  user + system of this process, not wall time) of the timed run / months;
* firm-months per second per core: firms in the park summed over the months
  of the timed run / its CPU seconds (one process is one core: numpy's thread
  pools are held to one thread);
* peak memory: the process's peak resident set (MiB);

each the median over ``reps`` fresh processes.

``against`` names a git ref: its tree is exported (``git archive``) into a
temporary folder and measured by the same interpreter with that folder first on
``PYTHONPATH``, in the same run, old and new processes interleaved (and their
order alternated) so that the load of a shared machine falls on both alike.
The ratio old/new of each figure is reported per configuration (above 1: the
new code is cheaper). A configuration the old code cannot run (no such
scenario, no ``population_scale``) is reported as ``n/a``.

The measuring code runs as a self-contained script (``CHILD``) so that it
works on old trees that have no such script; it uses only ``ParkModel``,
``load_scenario``, ``Scenario.with_values`` and ``replicate_seeds``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name -> (scenario file in scenarios/, values set on it)
CONFIGS = {
    "tiny": ("tiny", {}),
    "baseline": ("baseline", {}),
    "baseline_x10": ("baseline", {"population_scale": 10.0}),
}
SCALING = (1, 3, 10, 30, 50)  # multiples of the baseline population measured by --scaling (issue 14)
for _k in SCALING:
    CONFIGS[f"pop_x{_k}"] = ("baseline", {"population_scale": float(_k)})
DEFAULT_CONFIGS = ("tiny", "baseline", "baseline_x10")
SCALING_CONFIGS = tuple(f"pop_x{k}" for k in SCALING)
BATCH_SCENARIOS = {"short": "tiny", "long": "baseline"}  # --batch: short and long runs (issue 14)
FIGURES = ("cpu_s_per_month", "firm_months_per_cpu_s", "peak_rss_mib")

# One measurement, run as `python -c CHILD '<json args>'` in a fresh process; prints one JSON line.
CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
out = {"config": args["config"]}
try:
    import sim
    out["sim_path"] = sim.__file__
    try:  # the layout since issue 10 (sim/model/, sim/run/)
        from sim.model.park import ParkModel
        from sim.model.scenario import load_scenario
        from sim.run.runner import replicate_seeds
    except ModuleNotFoundError:  # the flat layout before it, so --against can measure older commits
        from sim.model import ParkModel
        from sim.scenario import load_scenario
        from sim.runner import replicate_seeds
except Exception as exc:
    print(json.dumps({**out, "error": f"cannot import the model: {exc!r}"})); sys.exit(0)
out["model_path"] = sys.modules[ParkModel.__module__].__file__  # an editable install can fill a missing module
try:
    sc = load_scenario(args["scenario"])
    if args["values"]:
        sc = sc.with_values(**args["values"])
except Exception as exc:
    print(json.dumps({**out, "error": f"configuration not available: {type(exc).__name__}: {exc}"})); sys.exit(0)
timed = args.get("timed", 1)
seeds = replicate_seeds(args["seed"], 1 + timed)
warm = load_scenario(args["warmup"]) if args["warmup"] else sc
ParkModel(warm, seed=seeds[0]).run()
months, firm_months, cpu, wall = 0, 0, 0.0, 0.0
for seed in seeds[1:]:
    c0, w0 = time.process_time(), time.perf_counter()
    model = ParkModel(sc, seed=seed)
    while model.running:
        model.step()
        months += 1
        firm_months += len(model.agent_of_row)
    cpu, wall = cpu + time.process_time() - c0, wall + time.perf_counter() - w0
out.update(months=months, firm_months=firm_months, cpu_s=cpu, wall_s=wall,
           cpu_s_per_month=cpu / max(months, 1), firm_months_per_cpu_s=firm_months / cpu if cpu > 0 else None,
           firms_at_end=len(model.agent_of_row),
           peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""

# One batch throughput measurement: `python -c BATCH_CHILD '<json args>'`; prints one JSON line.
BATCH_CHILD = r"""
import json, sys, tempfile, time
args = json.loads(sys.argv[1])
out = {"config": args["config"], "workers": args["workers"], "reps": args["reps"]}
try:
    try:  # the layout since issue 10, else the flat one before it
        from sim.model.scenario import load_scenario, month_index
        from sim.run.batch import run_batch
    except ModuleNotFoundError:
        from sim.scenario import load_scenario, month_index
        from sim.batch import run_batch
    sc = load_scenario(args["scenario"])
    # months each replication simulates (from history_start where a tree has it): trees differ in run length
    out["months"] = month_index(sc.end) - month_index(getattr(sc, "first_month", sc.start)) + 1
except Exception as exc:
    print(json.dumps({**out, "error": f"not available: {type(exc).__name__}: {exc}"})); sys.exit(0)
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    batch = run_batch([sc], reps=args["reps"], seed=args["seed"], workers=args["workers"], out_root=tmp,
                      progress=False)
    wall = time.perf_counter() - t0
out.update(wall_s=wall, runs_per_s=args["reps"] / wall, failed=int(getattr(batch, "failed", 0)))
print(json.dumps(out))
"""


def check_reps(reps: int, flag: str = "--reps") -> int:
    """Refuse a count below 1 (a median needs at least one measurement)."""
    from sim.errors import InputError

    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise InputError(flag, None, f"must be a whole number of 1 or more, got {reps!r}")
    return reps


def resolve_ref(ref: str, repo: Path = ROOT) -> str:
    """The commit ``ref`` names in ``repo``.

    Raises:
        InputError: ``ref`` names no commit (or ``repo`` is not a git checkout).
    """
    from sim.errors import InputError

    try:
        res = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=repo,
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        raise InputError("--against", None, f"git is needed to export {ref!r}: {exc}") from None
    if res.returncode != 0 or not res.stdout.strip():
        raise InputError(
            "--against",
            None,
            f"{ref!r} names no commit in {repo} (give a branch, tag or commit, e.g. HEAD~1 or main)",
        )
    return res.stdout.strip()


@contextmanager
def exported_tree(commit: str, repo: Path = ROOT):
    """The tree of ``commit`` exported into a temporary folder (removed afterwards)."""
    tmp = Path(tempfile.mkdtemp(prefix="parksim-bench-"))
    try:
        archive = tmp / "tree.tar"
        with archive.open("wb") as fh:
            subprocess.run(["git", "archive", "--format=tar", commit], cwd=repo, stdout=fh, check=True)
        tree = tmp / "tree"
        tree.mkdir()
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
        archive.unlink()
        yield tree
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # one process = one core
    env["PYTHONHASHSEED"] = "0"
    return env


def _child(code: str, args: dict, tree: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], cwd=tree, env=_env(tree), capture_output=True, text=True
    )
    lines = res.stdout.strip().splitlines()
    if res.returncode != 0 or not lines:
        tail = (res.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return {"config": args["config"], "error": f"exit code {res.returncode}: {tail[0]}"}
    out = json.loads(lines[-1])
    for what, key in (("sim", "sim_path"), ("the model", "model_path")):
        where = out.get(key)
        if where and not Path(where).resolve().is_relative_to(tree.resolve()):
            out["error"] = f"imported {what} from {where}, not from {tree}"
    return out


def measure_once(config: str, tree: Path = ROOT, seed: int = 1, timed: int = 1) -> dict:
    """One measurement of ``config`` with the code in ``tree``, in a fresh process (``timed`` replications)."""
    scenario, values = CONFIGS[config]
    path = tree / "scenarios" / f"{scenario}.toml"
    big = values.get("population_scale", 1.0) > 10
    args = {
        "config": config,
        "scenario": str(path),
        "values": values,
        "seed": seed,
        "timed": timed,
        # a warm-up of tiny is enough to import and touch every code path; a 30x park would double the cost
        "warmup": str(tree / "scenarios" / "tiny.toml") if big else None,
    }
    if not path.is_file():
        return {"config": config, "error": f"no scenarios/{scenario}.toml in this version"}
    return _child(CHILD, args, tree)


def summarise(config: str, trials: list[dict]) -> dict:
    """Medians over the fresh processes of one configuration (``error`` when any could not run it)."""
    errors = [t["error"] for t in trials if "error" in t]
    if errors or not trials:
        return {"config": config, "reps": len(trials), "error": errors[0] if errors else "not measured"}
    out = {"config": config, "reps": len(trials), "months": trials[0]["months"]}
    for key in ("cpu_s", "wall_s", *FIGURES, "firm_months", "firms_at_end"):
        vals = [t[key] for t in trials if t.get(key) is not None]
        out[key] = statistics.median(vals) if vals else None
    out["cpu_s_per_month_all"] = [round(t["cpu_s_per_month"], 6) for t in trials]
    return out


def ratios(old: dict, new: dict) -> dict:
    """old/new of each figure (cost: above 1 means the new code is cheaper; throughput: new/old, likewise)."""
    if "error" in old or "error" in new:
        return {k: None for k in FIGURES}
    out = {}
    for key in FIGURES:
        a, b = old.get(key), new.get(key)
        if not a or not b:
            out[key] = None
        elif key == "firm_months_per_cpu_s":
            out[key] = b / a  # throughput: new/old, so that every ratio reads "times better"
        else:
            out[key] = a / b
    return out


def run_all(configs: list[str], reps: int, against: str | None = None, log=None, timed: int = 1) -> dict:
    """Measure ``configs`` ``reps`` times each (fresh processes), the old tree interleaved when ``against``.

    ``timed``: replications timed in each process after its warm-up (1: the first one after the warm-up,
    the cost of a short batch; more: closer to the steady state of a long batch in one worker).

    Returns:
        ``{"reps", "against", "commit", "configs": {name: {"new": ..., "old": ..., "ratio": ...}}}``.
    """
    check_reps(reps)
    for c in configs:
        if c not in CONFIGS:
            from sim.errors import InputError

            raise InputError("--config", None, f"unknown configuration {c!r}; allowed: {', '.join(CONFIGS)}")
    commit = resolve_ref(against) if against else None
    trees = {"new": ROOT}
    with exported_tree(commit) if commit else _nothing() as old_tree:
        if old_tree is not None:
            trees["old"] = old_tree
        trials = {c: {side: [] for side in trees} for c in configs}
        for rep in range(reps):
            for config in configs:
                order = list(trees) if rep % 2 == 0 else list(reversed(trees))  # alternate who goes first
                for side in order:
                    r = measure_once(config, trees[side], seed=1 + rep, timed=timed)
                    trials[config][side].append(r)
                    if log:
                        shown = r.get("error") or f"{r['cpu_s_per_month'] * 1000:.2f} ms CPU/month"
                        log(f"rep {rep + 1}/{reps} {config} [{side}]: {shown}")
    out = {"reps": reps, "timed": timed, "against": against, "commit": commit, "cpus": os.cpu_count(), "configs": {}}
    for config in configs:
        row = {side: summarise(config, trials[config][side]) for side in trees}
        if "old" in row:
            row["ratio"] = ratios(row["old"], row["new"])
        out["configs"][config] = row
    out["load_average"] = list(os.getloadavg())
    return out


@contextmanager
def _nothing():
    yield None


def _fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def markdown(doc: dict) -> str:
    """The figures as a Markdown table, with old/new ratios when measured against a ref."""
    against = doc.get("against")
    head = ["config", "months", "firms at end", "CPU ms/month", "firm-months/s/core", "peak RSS MiB"]
    if against:
        head += [f"CPU ms/month ({against})", "CPU ratio old/new", "firm-months/s ratio new/old", "RSS ratio old/new"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for config, row in doc["configs"].items():
        new = row["new"]
        ok = "error" not in new
        cells = [
            config,
            _fmt(new.get("months") if ok else None, "d"),
            _fmt(new.get("firms_at_end") if ok else None, ".0f"),
            _fmt(new["cpu_s_per_month"] * 1000 if ok else None, ".2f"),
            _fmt(new.get("firm_months_per_cpu_s") if ok else None, ",.0f"),
            _fmt(new.get("peak_rss_mib") if ok else None, ".0f"),
        ]
        if against:
            old, rat = row["old"], row["ratio"]
            cells += [
                _fmt(old["cpu_s_per_month"] * 1000 if "error" not in old else None, ".2f"),
                _fmt(rat["cpu_s_per_month"], ".2f"),
                _fmt(rat["firm_months_per_cpu_s"], ".2f"),
                _fmt(rat["peak_rss_mib"], ".2f"),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        f"- medians over {doc['reps']} fresh process(es) per figure; CPU = process time of "
        + ("one timed replication" if doc.get("timed", 1) == 1 else f"{doc['timed']} timed replications")
        + f" after a warm-up; {doc['cpus']} CPUs, load average {', '.join(f'{x:.1f}' for x in doc['load_average'])}"
    ]
    if against:
        notes.append(f"- old = {against} ({doc['commit'][:10]}), measured interleaved with the working tree")
    for config, row in doc["configs"].items():
        for side, r in row.items():
            if side != "ratio" and "error" in r:
                notes.append(f"- {config} [{side}]: n/a ({r['error']})")
    if any(c in doc["configs"] for c in SCALING_CONFIGS) and "pop_x1" in doc["configs"]:
        base = doc["configs"]["pop_x1"]["new"]
        if "error" not in base and base.get("firm_months_per_cpu_s"):
            rel = []
            for c in SCALING_CONFIGS:
                r = doc["configs"].get(c, {}).get("new", {})
                if r and "error" not in r and r.get("firm_months_per_cpu_s"):
                    rel.append(f"{c}: {base['firm_months_per_cpu_s'] / r['firm_months_per_cpu_s']:.2f}x")
            notes.append("- CPU per firm-month relative to 1x (1.00 = linear in population): " + ", ".join(rel))
    return "\n".join(lines + [""] + notes)


# ---------------------------------------------------------------- batch throughput
def run_batch_bench(reps: int, repeats: int, workers=(1, 2), against: str | None = None, log=None) -> dict:
    """Runs per second of ``run_batch`` on 1 and 2 workers, short (tiny) and long (baseline) runs.

    Each figure is the median over ``repeats`` fresh processes, each running a batch of ``reps``
    replications (wall time of the batch call, pool start-up included). With ``against``, the old
    tree's batches are interleaved with the new ones.
    """
    check_reps(reps, "--batch-reps")
    check_reps(repeats, "--reps")
    commit = resolve_ref(against) if against else None
    trees = {"new": ROOT}
    out = {"reps": reps, "repeats": repeats, "against": against, "commit": commit, "cpus": os.cpu_count()}
    with exported_tree(commit) if commit else _nothing() as old_tree:
        if old_tree is not None:
            trees["old"] = old_tree
        trials: dict = {}
        for repeat in range(repeats):
            for length, scenario in BATCH_SCENARIOS.items():
                for w in workers:
                    for side in trees if repeat % 2 == 0 else reversed(list(trees)):
                        name = f"{length} x{w}"
                        args = {"config": name, "workers": w, "reps": reps, "seed": 2016,
                                "scenario": str(trees[side] / "scenarios" / f"{scenario}.toml")}  # fmt: skip
                        r = _child(BATCH_CHILD, args, trees[side])
                        trials.setdefault(side, {}).setdefault(name, []).append(r)
                        if log:
                            log(f"repeat {repeat + 1}/{repeats} {name} [{side}]: "
                                f"{r.get('error') or format(r['runs_per_s'], '.2f') + ' runs/s'}")  # fmt: skip
    res: dict = {}
    for side, by_name in trials.items():
        for name, ts in by_name.items():
            bad = [t["error"] for t in ts if "error" in t]
            cell = {"error": bad[0]} if bad else {"runs_per_s": statistics.median(t["runs_per_s"] for t in ts),
                                                  "all": [round(t["runs_per_s"], 3) for t in ts],
                                                  "months": ts[0].get("months")}  # fmt: skip
            res.setdefault(name, {})[side] = cell
    for length in BATCH_SCENARIOS:
        for side in trees:
            one, two = res.get(f"{length} x1", {}).get(side, {}), res.get(f"{length} x2", {}).get(side, {})
            if "runs_per_s" in one and "runs_per_s" in two:
                res.setdefault(f"{length} speed-up 1->2", {})[side] = two["runs_per_s"] / one["runs_per_s"]
    out["results"] = res
    out["load_average"] = list(os.getloadavg())
    return out


def batch_markdown(doc: dict) -> str:
    """The batch figures as a table: runs/s and simulated months/s of each tree (trees differ in run length)."""
    sides = ["new", "old"] if doc.get("against") else ["new"]
    label = {"new": "working tree", "old": doc.get("against")}
    head = ["configuration"]
    for s in sides:
        head += [f"runs/s ({label[s]})", f"months/run ({label[s]})", f"months/s ({label[s]})"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, row in doc["results"].items():
        cells = [name]
        for s in sides:
            v = row.get(s)
            if isinstance(v, float):
                cells += [f"{v:.2f}x", "", ""]
            elif isinstance(v, dict) and "runs_per_s" in v:
                months = v.get("months")
                cells += [f"{v['runs_per_s']:.2f}", str(months or "n/a"),
                          f"{v['runs_per_s'] * months:,.0f}" if months else "n/a"]  # fmt: skip
            else:
                cells += ["n/a", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"- short = tiny.toml, long = baseline.toml; {doc['reps']} replications per batch, median of "
        f"{doc['repeats']} fresh processes; wall time of run_batch (pool start-up included); "
        f"{doc['cpus']} CPUs, load average {', '.join(f'{x:.1f}' for x in doc['load_average'])}"
    )
    return "\n".join(lines)
