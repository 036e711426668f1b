"""Sections of docs/findings.md on the evidence and its uncertainty (used by write_findings.py).

* the hindcast: the fitted model's posterior-predictive runs against the park's
  2014-2017 record (calibration/fitted/<job>/predictive.csv and
  predictive_patterns.csv, written by ``parksim calibrate``);
* the variance split of a posterior batch run with several seeds per draw
  (``sim.analysis.uncertainty.variance_split``);
* the cheapest robust packages of ``parksim optimise`` (its ``robust_*_result.json``).

Every number is read from those files; nothing is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sim.analysis.uncertainty import variance_split
from sim.model.targets import TARGETS, column_of


def _md(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _g(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


# ---------------------------------------------------------------- hindcast


def hindcast_section(fitted_dir: Path, shown: str) -> list[str]:
    """The model against the record it was fitted to: series and patterns, 90% predictive bands."""
    lines = ["## 0. Does the fitted model reproduce the park's record (2014-2017)?", ""]
    series, patterns = fitted_dir / "predictive.csv", fitted_dir / "predictive_patterns.csv"
    if not series.is_file():
        return lines + [f"No posterior-predictive check in `{shown}` (run `parksim calibrate default`).", ""]
    s = pd.read_csv(series)
    run = json.loads((fitted_dir / "run.json").read_text()) if (fitted_dir / "run.json").is_file() else {}
    table = pd.DataFrame({
        "series (frame)": s["series"] + " (" + s["frame"] + ")",
        "date": s["date"],
        "record": s["value"].map(_g),
        "model median [90% band]": [f"{_g(m)} [{_g(lo)}, {_g(hi)}]" for m, lo, hi in
                                    zip(s["sim_q50"], s["sim_q05"], s["sim_q95"], strict=True)],
        "share of runs above the record": s["share_above"].map(lambda v: f"{100 * v:.0f}%"),
        "inside": s["covered"].map({True: "yes", False: "**no**"}),
    })  # fmt: skip
    n_in = int(s["covered"].sum())
    n_runs = run.get("predictive_throughput", {}).get("simulations", "the predictive")
    lines += [
        f"Each figure of `calibration/data/` dated up to 2017-12 against {n_runs} runs of "
        f"the history scenario at posterior draws of `{shown}` (job `{run.get('job', 'default')}`, "
        f"{run.get('method', 'abc')}; each run a fresh (draw, seed) pair). A figure is *inside* when the record "
        f"lies in the runs' 90% band. **{n_in} of {len(s)} series figures are inside.**", "",
        _md(table), "",
    ]  # fmt: skip
    if patterns.is_file():
        p = pd.read_csv(patterns)
        ptable = pd.DataFrame({
            "pattern: statistic": p["pattern"] + ": " + p["statistic"],
            "record [range]": [f"{_g(v)} [{_g(lo)}, {_g(hi)}]" for v, lo, hi in
                               zip(p["value"], p["low"], p["high"], strict=True)],
            "model median [90% band]": [f"{_g(m)} [{_g(lo)}, {_g(hi)}]" for m, lo, hi in
                                        zip(p["sim_q50"], p["sim_q05"], p["sim_q95"], strict=True)],
            "inside": p["covered"].map({True: "yes", False: "**no**"}),
        })  # fmt: skip
        missed = p.loc[~p["covered"].astype(bool), "statistic"].tolist()
        lines += [
            f"The patterns the fit must reproduce at once (calibration/data/patterns.csv, each with its source): "
            f"**{int(p['covered'].sum())} of {len(p)} inside.**", "", _md(ptable), "",
        ]  # fmt: skip
        if missed:
            lines += [
                "What the misses mean: " + "; ".join(_MISS.get(m, f"`{m}` is outside its band") for m in missed) + ".",
                "",
            ]
    return lines


_MISS = {
    "hazard_age_1": "the model closes too many firms in their first year (its age hazard rises to its peak "
    "with a declared steepness, `exit_shape`, a judgement that is not fitted, and young firms also run out of "
    "cash), so counts that depend on young firms surviving lean low",
    "zipf_exponent_revenue_top500": "the model's largest firms are too equal (a Zipf exponent above the "
    "record's about 1): its revenue growth is lognormal with one drift, without the heavy tail that "
    "produces a few very large firms, so targets that need a few large firms (leading enterprises, "
    "market value) are, if anything, understated",
}


# ---------------------------------------------------------------- variance split


def split_section(batch, batch_id: str, scenarios=("baseline", "full_package")) -> list[str]:
    """Parameter vs stochastic share of each target reading's variance, status quo and full package."""
    lines = ["### How much of the spread is parameter uncertainty?", ""]
    if batch is None:
        return lines + [f"Batch `{batch_id}` not run.", ""]
    k = int((batch.posterior or {}).get("seeds_per_draw", 1))
    ok = batch.outcomes[batch.outcomes["status"] == "ok"]
    cols = [column_of(t.name, d) for t in TARGETS for d in t.columns]
    table = variance_split(ok, k, columns=[c for c in cols if c in ok])
    if table.empty or k < 2:
        return lines + [f"Batch `{batch_id}` has one seed per draw: the parts cannot be told apart.", ""]
    wide = table.pivot_table(index="indicator", columns="scenario", values="parameter_share", sort=False)
    n_draws = int(table["groups"].max())
    rows = []
    for col in [c for c in cols if c in wide.index]:
        rows.append([f"{col.replace('__', ' (')})"] + [
            "-" if pd.isna(wide.loc[col].get(s)) else f"{100 * wide.loc[col, s]:.0f}%" for s in scenarios
        ])  # fmt: skip
    frame = pd.DataFrame(rows, columns=["target (definition)", *[f"{s}: parameter share" for s in scenarios]])
    shares = table.loc[table["scenario"] == scenarios[0], "parameter_share"].dropna()
    lines += [
        f"Batch `{batch_id}`: {n_draws} posterior draws x {k} seeds each per scenario. By the law of total "
        "variance each reading's variance splits into a parameter part (between draws: what the calibration "
        "leaves open) and a stochastic part (within a draw: the park's own randomness), estimated by one-way "
        "random-effects ANOVA (`sim.analysis.uncertainty.variance_split`; `parksim show "
        f"{batch_id}` prints every indicator). Under the status quo the parameter share has median "
        f"{100 * shares.median():.0f}% over the readings (range {100 * shares.min():.0f}-{100 * shares.max():.0f}%): "
        "where it is large, more data on the unidentified parameters would narrow the answer; where it is small, "
        "no calibration can, and the target is a matter of chance at fixed policy. The deep uncertainty of lever "
        "effects is not in this split: it is sampled in the Morris screening (section 2) and in the robust "
        "search (section 3).", "", _md(frame), "",
    ]  # fmt: skip
    return lines


# ---------------------------------------------------------------- robust packages


def load_choices(root: Path) -> pd.DataFrame:
    """One row per (target, definition, threshold) from every ``robust_*_result.json`` under ``root``."""
    rows = []
    for path in sorted(Path(root).rglob("robust_*_result.json")):
        r = json.loads(path.read_text())
        s = r.get("settings", {})
        for c in r["choices"]:
            conf = c.get("confirm") or {}
            rows.append({
                "column": r["column"], "target": r["target"], "definition": r["definition"],
                "goal": r["goal"], "end": r.get("end"), "threshold": c["threshold"],
                "reachable": c["reachable"], "cost_myuan": c.get("cost_myuan"), "p_shared": c.get("p_shared"),
                "n": conf.get("n"), "p": conf.get("p"), "low": conf.get("low"), "high": conf.get("high"),
                "reason": c.get("reason", ""), "at_bound": c.get("at_bound", {}),
                "full_cost_myuan": r.get("full_cost_myuan"), "nfe": s.get("nfe"), "reps": s.get("reps"),
                "deep": s.get("deep"), "n_levers": len(r.get("levers", [])), "folder": path.parent.name,
                "scenario": r["scenario"], "package": c.get("package", {}),
                "status_quo": is_status_quo(r["scenario"], r.get("end"), c.get("package", {})),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _reached_elsewhere(choices: pd.DataFrame, r) -> str:
    """For a level the search did not reach: a cheaper choice of the same reading whose confirmation did."""
    same = choices[(choices["column"] == r.column) & choices["reachable"] & (choices["p"] >= r.threshold)]
    if same.empty:
        return ""
    c = same.sort_values("cost_myuan").iloc[0]
    return (
        f"; but the P >= {100 * c.threshold:.0f}% package ({c.cost_myuan:,.0f} m yuan) confirmed at "
        f"{100 * c.p:.0f}% [{100 * c.low:.0f}, {100 * c.high:.0f}] in {int(c.n)} fresh runs: the search's "
        f"{int(c.reps * c.deep)} shared runs are too few to see it"
    )


def is_status_quo(scenario: str, end: str | None, package: dict) -> bool:
    """Whether every lever of ``package`` has the scenario's own value."""
    from sim.analysis.robust import resolve

    values = resolve(scenario, end).values
    return bool(package) and all(abs(float(values[k]) - float(v)) <= 1e-9 * max(1.0, abs(float(v)))
                                 for k, v in package.items())  # fmt: skip


def cost_items(scenario: str, end: str | None, package: dict, top: int = 2) -> str:
    """The ``top`` largest items of a package's planned cost, as ``item share%`` (sim.model.costs)."""
    from sim.analysis.robust import resolve
    from sim.model.costs import package_cost_myuan

    items = package_cost_myuan(resolve(scenario, end).with_values(**package), by_item=True)
    total = sum(items.values())
    if total <= 0:
        return "-"
    ranked = sorted(items.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in ranked if v > 0)


def robust_section(root: Path | None, shown: str, status_quo_p: dict | None = None) -> list[str]:
    """The cheapest robust package per searched reading and threshold, confirmed by fresh runs."""
    lines = ["### Cheapest robust packages (search over the posterior and the deep uncertainties)", ""]
    choices = load_choices(root) if root is not None and Path(root).is_dir() else pd.DataFrame()
    if choices.empty:
        return lines + [f"Not run (no `robust_*_result.json` under `{shown}`; `scripts/findings.sh` step 6).", ""]
    first = choices.iloc[0]
    rows = []
    for r in choices.itertuples():
        if r.reachable and r.n:
            flag = "" if r.p >= r.threshold else " (confirmed below the level asked)"
            cell = f"{100 * r.p:.0f}% [{100 * r.low:.0f}, {100 * r.high:.0f}] of {int(r.n)}{flag}"
        else:
            cell = "-"
        if r.reachable:
            cost = f"{r.cost_myuan:,.0f}" + (" (the status quo's levers)" if r.status_quo else "")
        else:
            cost = "**not reached in the search**"
        share = f"{100 * r.cost_myuan / r.full_cost_myuan:.0f}%" if r.reachable and r.full_cost_myuan else "-"
        note = "" if r.reachable else r.reason + _reached_elsewhere(choices, r)
        where = cost_items(r.scenario, r.end, r.package) if r.reachable and r.package else "-"
        rows.append([f"{r.target} ({r.definition})", f"{100 * r.threshold:.0f}%", f"2016-07..{r.end}", cost, share,
                     where, f"{100 * r.p_shared:.0f}%" if r.p_shared is not None else "-", cell, note])  # fmt: skip
    frame = pd.DataFrame(rows, columns=["target (definition)", "P asked", "cost window", "cost (m yuan)",
                                        "of every lever at its top", "largest cost items", "P in the search",
                                        "P confirmed [95%]", "why not"])  # fmt: skip
    tops = choices.drop_duplicates("end").sort_values("end")
    top_text = "; ".join(f"{r.full_cost_myuan:,.0f} m yuan to {r.end}" for r in tops.itertuples())
    searched = set(choices["column"])
    others = [column_of(t.name, d) for t in TARGETS for d in t.columns if column_of(t.name, d) not in searched]
    lines += [
        "For each reading below, `parksim optimise` (EMA Workbench's robust optimisation with platypus-opt's "
        "epsilon-NSGA-II, docs/robust.md) searched all declared levers for the Pareto front of planned cost "
        f"against P(reach), every candidate scored on the same {int(first.deep)} Latin-hypercube points of the "
        f"deep uncertainties x {int(first.reps)} (posterior draw, seed) pairs, {int(first.nfe)} candidates a "
        "reading; the cheapest package on the front at each level was then rerun at least 200 times with fresh "
        "seeds (same posterior, same deep points). The confirmed P is the number to read: the search's P is "
        "optimistic (the best of many candidates on the same few runs). The search is small "
        f"({int(first.nfe)} candidates over {int(first.n_levers)} levers), so a cheaper package may exist: read "
        "the cost as an upper bound of the cheapest. Costs are the planned cost of the levers "
        "(`sim.model.costs.package_cost_myuan`, mostly [assumption] unit costs) over the search's run window, "
        "from the fork in 2016-07 to the end of the target's year, so a 2016 reading's cost covers six months and "
        "is comparable neither with a 2020 reading's nor with the 2016-07..2025-12 costs of the minimum-package "
        "table above. *Of every lever at its top* compares with every searched lever at the high end of its "
        f"range over the same window ({top_text}). Folder `{shown}`.", "",
        _md(frame), "",
    ]  # fmt: skip
    bound = {}
    for r in choices.itertuples():
        if not r.reachable:
            bound[f"{r.target} ({r.definition}) at {100 * r.threshold:.0f}%"] = ", ".join(r.at_bound) or "none"
    if bound:
        lines += ["Levers at a bound of their range in the best package found for an unreachable level (the range, "
                  "not the search, may be what limits it): "
                  + "; ".join(f"{k}: {v}" for k, v in bound.items()) + ".", ""]  # fmt: skip
    sq = choices[choices["status_quo"] & choices["n"].notna()].drop_duplicates("column")
    pairs = [(r.column, r.p, (status_quo_p or {}).get(r.column)) for r in sq.itertuples()]
    pairs = [(c, p, q) for c, p, q in pairs if q is not None]
    if pairs:
        lines += ["The confirmed P averages over the deep points too, whereas section 1 holds the deep inputs at "
                  "their declared default values, and they act at the status quo's levers too, which are not zero "
                  "(in 2016 the park already paid listing subsidies and ran the VC cluster and the China-Israel "
                  "stream): where the "
                  "chosen package is the status quo's own, P here against section 1's status quo: "
                  + "; ".join(f"{c.replace('__', ' (')}) {100 * p:.0f}% against {100 * q:.0f}%" for c, p, q in pairs)
                  + ". A large gap is the deep uncertainty of lever effects at work.", ""]  # fmt: skip
    if others:
        names = ", ".join(c.replace("__", " (") + ")" for c in others)
        lines += [f"Not searched (the other readings, to keep the study within the hour): {names}. "
                  "`parksim optimise baseline --target NAME:DEFINITION` searches any of them.", ""]  # fmt: skip
    return lines
