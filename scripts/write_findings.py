"""Write docs/findings.md from the batches that scripts/findings.sh runs.

Every number in the document is computed here from the batches (and from the
fitted-parameter file the baseline points to); nothing is typed by hand. A batch
that is missing or unfinished is reported as such in the document.

example:
    scripts/findings.sh                        # runs the studies, then this script
    .venv/bin/python scripts/write_findings.py --root results/runs
    .venv/bin/python scripts/write_findings.py --root /tmp/runs --scenarios s --morris m --scale c \\
        --packages p --out /tmp/findings.md --img /tmp/img
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from findings_plots import LEVELS, label, plot_morris, plot_probabilities, plot_scale, scale_of  # noqa: E402
from findings_text import (  # noqa: E402  (sibling module, not a package)
    MECHANISMS,
    caveats_section,
    changes_section,
    reproduce_section,
)
from findings_uncertainty import hindcast_section, load_choices, robust_section, split_section  # noqa: E402

from sim.analysis import discovery as sd  # noqa: E402
from sim.analysis.compare import paired_differences  # noqa: E402
from sim.analysis.report import target_table  # noqa: E402
from sim.model.targets import TARGETS, all_columns, column_of, parse_column, target_of  # noqa: E402
from sim.run.batch import load_batch  # noqa: E402

REFERENCE, PACKAGE = "baseline", "full_package"


# ---------------------------------------------------------------- loading


def load(root: Path, batch_id: str):
    """The batch, or None when its folder is missing or it did not finish."""
    folder = root / batch_id
    if not (folder / "manifest.json").exists():
        return None
    batch = load_batch(folder)
    return batch if batch.status.startswith("complete") else None


def pct(p: float) -> str:
    """0.623 -> '62%'."""
    return "n/a" if pd.isna(p) else f"{100 * p:.0f}%"


def pci(row) -> str:
    """'62% [49, 73]' from a target_table row."""
    return f"{pct(row['p_reach'])} [{100 * row['p_low']:.0f}, {100 * row['p_high']:.0f}]"


def num(x: float) -> str:
    """Compact number: 3 significant digits, no exponent."""
    if pd.isna(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def md_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (index dropped)."""
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


# ---------------------------------------------------------------- Q1: probabilities


def probabilities(batch) -> pd.DataFrame:
    """target_table with a ``column`` key (``target__definition``)."""
    table = target_table(batch.outcomes)
    table["column"] = [column_of(t, d) for t, d in zip(table["target"], table["definition"], strict=True)]
    return table


def q1_tables(table: pd.DataFrame) -> tuple[str, str]:
    """Main table (status quo vs full package vs best single family) and the full matrix."""
    rows, scen = [], [s for s in table["scenario"].unique()]
    for col, g in table.groupby("column", sort=False):
        g = g.set_index("scenario")
        singles = g.drop(index=[s for s in (REFERENCE, PACKAGE) if s in g.index])
        best = singles["p_reach"].idxmax() if len(singles) else None
        t = target_of(col)
        rows.append({
            "target (definition)": label(col), "goal": f"{num(t.threshold)} {t.unit}",
            "status quo: P [95% CI]": pci(g.loc[REFERENCE]) if REFERENCE in g.index else "n/a",
            "median (90% band)": _band(g.loc[REFERENCE]) if REFERENCE in g.index else "n/a",
            "full package: P [95% CI]": pci(g.loc[PACKAGE]) if PACKAGE in g.index else "n/a",
            "median (90% band) ": _band(g.loc[PACKAGE]) if PACKAGE in g.index else "n/a",
            "best single lever family": f"{best}: {pci(g.loc[best])}" if best and singles["p_reach"].max() > 0
            else "none above 0%",
        })  # fmt: skip
    wide = table.pivot(index="column", columns="scenario", values="p_reach").reindex(columns=scen)
    wide = wide.reindex(table["column"].unique())
    matrix = wide.apply(lambda c: c.map(pct)).reset_index().rename(columns={"column": "target__definition"})
    return md_table(pd.DataFrame(rows)), md_table(matrix)


def _band(row) -> str:
    return f"{num(row['median'])} ({num(row['q05'])}-{num(row['q95'])})"


# ---------------------------------------------------------------- Q2: Morris


def morris_indices(batch) -> pd.DataFrame:
    """mu_star rows of the batch's sensitivity_indices.csv."""
    table = pd.read_csv(Path(batch.folder) / "sensitivity_indices.csv")
    return table[table["index"] == "mu_star"]


def q2_table(mu: pd.DataFrame, top: int = 3) -> str:
    """Per target definition: the top levers by mu_star, for the value and for the reach share."""
    rows = []
    for col in [c for c in _target_order() if c in set(mu["outcome"])]:
        cells = {"target (definition)": label(col)}
        for measure, name in (("mean", "measured value"), ("reach_share", "probability of reaching")):
            part = mu[(mu["outcome"] == col) & (mu["measure"] == measure) & (mu["value"] > 0)].nlargest(top, "value")
            unit = target_of(col).unit if measure == "mean" else ""
            cells[f"largest effects on the {name}"] = (
                "; ".join(
                    f"{r.input} {num(r.value)} [{num(r.low)}, {num(r.high)}]{' ' + unit if unit else ''}"
                    for r in part.itertuples()
                )
                or "constant at every point (not analysed)"
            )
        rows.append(cells)
    return md_table(pd.DataFrame(rows))


def _target_order() -> list[str]:
    return all_columns()


def lever_ranking(mu: pd.DataFrame) -> pd.DataFrame:
    """Levers ranked by how many targets (measured value) they lead, then by mean normalised mu_star."""
    value = mu[(mu["measure"] == "mean") & mu["outcome"].isin(_target_order())].copy()
    value["norm"] = value["value"] / value.groupby("outcome")["value"].transform("max")
    firsts = value.loc[value.groupby("outcome")["value"].idxmax(), "input"].value_counts()
    out = value.groupby("input")["norm"].mean().rename("mean_normalised_mu_star").to_frame()
    out["targets_where_largest"] = firsts.reindex(out.index).fillna(0).astype(int)
    return out.sort_values(["targets_where_largest", "mean_normalised_mu_star"], ascending=False)


# ---------------------------------------------------------------- Q3: packages


def q3_scale(table: pd.DataFrame) -> pd.DataFrame:
    """Per target definition: smallest scale of the full package with P >= 0.5 and >= 0.8."""
    table = table.assign(scale=table["scenario"].map(scale_of))
    rows = []
    for col, g in table.groupby("column", sort=False):
        g = g.sort_values("scale")
        row = {"target (definition)": label(col), "column": col}
        for level in LEVELS:
            ok = g[g["p_reach"] >= level]
            row[f"P >= {level:g}"] = f"x{ok['scale'].iloc[0]:g} ({pci(ok.iloc[0])})" if len(ok) else "no tested package"
        row["P at x1 (full package)"] = pci(g[g["scale"] == 1.0].iloc[0]) if (g["scale"] == 1.0).any() else "n/a"
        top = g["p_reach"].max()
        row["largest P (at)"] = f"{pct(top)} (x{g.loc[g['p_reach'].idxmax(), 'scale']:g})" if top > 0 else "0% (never)"
        rows.append(row)
    return pd.DataFrame(rows)


def package_cost(points: pd.DataFrame, low: dict, high: dict) -> pd.Series:
    """Planned cost of each package in m yuan over the run window (sim.model.costs.package_cost_myuan).

    Each row's declared inputs replace the baseline's; lever costs are the declared ones
    (docs/ODD.md 7.1, mostly [assumption]). ``low`` and ``high`` are kept for the callers'
    signature: the status quo and the full package get their own costs like any package.
    """
    from sim.model.costs import package_cost_myuan
    from sim.model.params import PARAMS
    from sim.model.scenario import load_scenario

    base = load_scenario("baseline")
    out = {}
    for name, row in points.iterrows():
        values = {k: (int(v) if PARAMS[k].integer else float(v)) for k, v in row.items() if k in PARAMS}
        out[name] = package_cost_myuan(base.with_values(**values))
    return pd.Series(out, dtype=float)


def spending_levers(low: dict, high: dict) -> list[str]:
    """Levers the full package moves, except the eco threshold (a rule, not spending)."""
    from sim.model.params import LEVERS

    return [k for k in LEVERS if k in low and k in high and high[k] != low[k] and k != "eco_max_pollution_index"]


def lhs_points(batch, low: dict, high: dict) -> tuple[pd.DataFrame, list[str]]:
    """One row per design point: inputs, planned cost (m yuan) and the reach share of every target column."""
    out = batch.outcomes[batch.outcomes["status"] == "ok"]
    inputs = sd.varied_inputs(out, batch.manifest["input_columns"])
    cols = [c for c in _target_order() if c in out.columns]
    hits = out[cols].ge(pd.Series({c: target_of(c).threshold for c in cols}))
    hits = hits.where(out[cols].notna())
    points = out[["scenario", *inputs]].groupby("scenario", sort=False).first()
    points = points.join(hits.assign(scenario=out["scenario"]).groupby("scenario", sort=False).mean())
    points["n_runs"] = out.groupby("scenario", sort=False).size()
    points["cost"] = package_cost(points[inputs], low, high)
    return points, inputs


def q3_cheapest(points: pd.DataFrame) -> pd.DataFrame:
    """Per target column: how many points reach each level, and the cheapest such point."""
    rows = []
    for col in [c for c in _target_order() if c in points.columns]:
        row = {"target (definition)": label(col), "best reach share": pct(points[col].max())}
        for level in LEVELS:
            ok = points[points[col] >= level - 1e-9].sort_values("cost")
            row[f"points >= {level:g}"] = f"{len(ok)}/{len(points)}"
            row[f"cheapest >= {level:g}: m yuan"] = f"{ok['cost'].iloc[0]:,.0f} (`{ok.index[0]}`)" if len(ok) else "-"
        rows.append(row)
    return pd.DataFrame(rows)


def q3_prim(batch, points: pd.DataFrame) -> list[str]:
    """PRIM boxes (EMA Workbench) at reach-share thresholds 0.5 and 0.8, in plain words."""
    out = batch.outcomes[batch.outcomes["status"] == "ok"]
    inputs = sd.varied_inputs(out, batch.manifest["input_columns"])
    lines, trivial = [], {}
    for col in [c for c in _target_order() if c in points.columns]:
        for level in LEVELS:
            x, y, _ = sd.discovery_data(out, inputs, col, threshold=level)
            if y.sum() in (0, len(y)):
                trivial.setdefault("no package" if y.sum() == 0 else "every package", []).append(
                    f"{label(col)} at {level:g}"
                )
                continue
            found = sd.discover(x, y, col, "prim")
            text = sd.describe_box(found, threshold=level).split(" is reached with ", 1)[1].replace("\n  ", " ")
            text = text.replace("anywhere in the tested ranges (no restriction)", "ANYWHERE")
            where = "reached anywhere in the tested ranges" if text.startswith("ANYWHERE") else "reached with"
            lines.append(
                f"- **{label(col)}**, P >= {level:g}: {where} {text.removeprefix('ANYWHERE')}".replace("  ", " ")
            )
    for what, items in trivial.items():
        lines.append(f"- Nothing to separate ({what} reaches it): {', '.join(items)}.")
    return lines


# ---------------------------------------------------------------- out of reach


def best_anywhere(tables: list[pd.DataFrame], points: pd.DataFrame | None, robust=None) -> pd.DataFrame:
    """Per target column: the highest P over every tested scenario and package, where, and the highest median.

    ``robust`` (the robust search's choices, ``findings_uncertainty.load_choices``) adds each chosen package's
    confirmation runs as one more tested package.
    """
    if not tables:
        return pd.DataFrame(columns=["where", "p_best", "median_best", "n"])
    frame = pd.concat(tables, ignore_index=True)[["column", "scenario", "p_reach", "median", "n"]]
    if robust is not None and not robust.empty:
        done = robust[robust["reachable"] & robust["n"].notna()]
        frame = pd.concat([frame, pd.DataFrame({
            "column": done["column"], "p_reach": done["p"], "median": np.nan, "n": done["n"].astype(int),
            "scenario": [f"robust search, P>={100 * t:.0f}% package" for t in done["threshold"]],
        })], ignore_index=True)  # fmt: skip
    if points is not None:
        cols = [c for c in points.columns if c in set(frame["column"])]
        lhs = (
            points[cols].rename_axis("scenario").reset_index().melt("scenario", var_name="column", value_name="p_reach")
        )
        lhs["n"] = lhs["scenario"].map(points["n_runs"])
        frame = pd.concat([frame, lhs.assign(median=np.nan)], ignore_index=True)
    frame = frame.sort_values(["p_reach", "n"], ascending=False, kind="stable")
    best = frame.groupby("column", sort=False).first().rename(columns={"p_reach": "p_best", "scenario": "where"})
    best["median_best"] = frame.groupby("column")["median"].max()
    return best.reindex([c for c in _target_order() if c in best.index])


def out_of_reach(best: pd.DataFrame, inputs: dict) -> list[str]:
    """Targets with a reading below 50% under every tested package, with the mechanism that bounds them."""
    lines, target = [], best.index.map(lambda c: parse_column(c)[0])
    for t in TARGETS:
        rows = best[(target == t.name) & (best["p_best"] < 0.5)]
        if rows.empty:
            continue
        readings = "; ".join(
            f"*{parse_column(c)[1]}*: at most {pct(r.p_best)}, highest median {num(r.median_best)}"
            for c, r in zip(rows.index, rows.itertuples(), strict=True)
        )
        why = MECHANISMS.get(t.name, lambda i: "")(inputs)
        lines.append(f"- **{t.text}** ({readings} {t.unit}). {why}")
    return lines


def all_packages(b: dict, tables: dict, points, low: dict, high: dict) -> pd.DataFrame:
    """Every tested package with its planned cost (m yuan), replications and P per reading (scenarios, scale, LHS)."""
    frames = []
    for key, table in tables.items():
        if table is None:
            continue
        names = table["scenario"].unique()
        inputs = pd.DataFrame([b[key].scenario(n)["inputs"] for n in names], index=names)
        cost = package_cost(inputs[[k for k in inputs.columns if k in high]], low, high)
        frames.append(table.assign(cost=table["scenario"].map(cost), batch=key)[
            ["scenario", "batch", "column", "n", "p_reach", "cost"]])  # fmt: skip
    if points is not None:
        cols = [c for c in _target_order() if c in points.columns]
        long = points[cols].rename_axis("scenario").reset_index().melt("scenario", var_name="column",
                                                                         value_name="p_reach")  # fmt: skip
        long["n"] = long["scenario"].map(points["n_runs"])
        long["cost"] = long["scenario"].map(points["cost"])
        frames.append(long.assign(batch="packages"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def q3_minimum(packages: pd.DataFrame) -> pd.DataFrame:
    """Per reading and level: the cheapest tested package reaching it, and the cheapest with >= 30 replications."""
    rows = []
    for col in [c for c in _target_order() if c in set(packages["column"])]:
        g = packages[packages["column"] == col].sort_values(["cost", "n"], ascending=[True, False])
        row = {"target (definition)": label(col)}
        for level in LEVELS:
            ok = g[g["p_reach"] >= level - 1e-9]
            sure = ok[ok["n"] >= 30]
            row[f"cheapest, P >= {level:g}"] = _pkg(ok)
            row[f"cheapest with >= 30 reps, P >= {level:g}"] = _pkg(sure)
        rows.append(row)
    return pd.DataFrame(rows)


def _pkg(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "no tested package"
    r = frame.iloc[0]
    return f"`{r['scenario']}` {r['cost']:,.0f} m yuan, P {pct(r['p_reach'])} of {int(r['n'])}"


# ---------------------------------------------------------------- the document


def summary(q1: pd.DataFrame | None, best: pd.DataFrame, diffs: pd.DataFrame | None, rank, robust=None) -> list[str]:
    """Plain-language summary: counts, per target the odds now / with the package / best tested, verdicts."""
    if q1 is None:
        return ["- The scenario batch was not run, so no probabilities can be given."]
    g = q1.set_index(["column", "scenario"])["p_reach"]
    cols = list(best.index)
    now = sum(g.get((c, REFERENCE), 0) >= 0.5 for c in cols)
    pkg = sum(g.get((c, PACKAGE), 0) >= 0.5 for c in cols)
    lines = [f"The plan's {len(TARGETS)} targets have {len(cols)} readings (\"introduced\" and \"listed\" can be "
             "read several ways). Over the fitted posterior (every replication pairs a posterior draw with a "
             f"seed, so the odds include what the calibration leaves open), **{now} of the {len(cols)} readings "
             f"are more likely than not under the status quo, and {pkg} under the plan's full package.**",
             ""]  # fmt: skip
    for t in TARGETS:
        cells = []
        for d in t.columns:
            c = column_of(t.name, d)
            if c in best.index:
                top = best.loc[c, "p_best"]
                where = f" (`{best.loc[c, 'where']}`, {int(best.loc[c, 'n'])} runs)" if top > 0 else " (never reached)"
                cells.append(f"{d}: {pct(g.get((c, REFERENCE)))} now, {pct(g.get((c, PACKAGE)))} with the full "
                             f"package, at best {pct(top)}{where}")  # fmt: skip
        lines.append(f"- **{t.text}** - {'; '.join(cells)}.")
    groups = {"Within reach (at least 80% under some tested package)": best["p_best"] >= 0.8,
              "Even odds at best (50-80%)": (best["p_best"] >= 0.5) & (best["p_best"] < 0.8),
              "Out of reach (below 50% under every tested package)": best["p_best"] < 0.5}  # fmt: skip
    lines.append("")
    for title, mask in groups.items():
        lines.append(f"- {title}: {', '.join(label(c) for c in best.index[mask]) or 'none'}.")
    if diffs is not None:
        worse = diffs[(diffs["scenario"] == PACKAGE) & (diffs["kind"] == "p_reach") & (diffs["ci_high"] < 0)]
        if len(worse):
            lines.append("- The full package makes some readings *less* likely than the status quo (paired runs, 95% "
                         "interval below zero): " + ", ".join(f"{label(r.measure)} {100 * r.mean_diff:+.0f} points"
                                                              for r in worse.itertuples()) + ".")  # fmt: skip
    if robust is not None and not robust.empty:
        cells = [_robust_cell(runs) for _, runs in robust.groupby("column", sort=False)]
        lines.append("- Cheapest packages found by robust search, P confirmed with 200 fresh runs (section 3; costs "
                     "over the run's window, 2016-07 to the target's year): " + "; ".join(cells) + ".")  # fmt: skip
    if rank is not None:
        lines.append(f"- The levers that move the most targets (Morris screening): {', '.join(rank.index[:4])}.")
    return lines


def _robust_cell(runs: pd.DataFrame) -> str:
    """One reading's robust choices in a few words: per level, the cost and the confirmed P."""
    parts = []
    for r in runs.sort_values("threshold").itertuples():
        if not r.reachable:
            parts.append(f"{100 * r.threshold:.0f}% not reached in the search")
        elif r.status_quo:
            parts.append(f"{100 * r.threshold:.0f}% with the status quo's levers ({100 * r.p:.0f}%)")
        else:
            below = ", below the level asked" if r.p < r.threshold else ""
            parts.append(f"{100 * r.threshold:.0f}% for {r.cost_myuan:,.0f} m yuan ({100 * r.p:.0f}%{below})")
    return f"{label(runs['column'].iloc[0])}: {', '.join(parts)}"


def build(args) -> str:
    """The whole document as markdown (figures are written on the way)."""
    started = time.perf_counter()
    root, img = Path(args.root), Path(args.img)
    b = {k: load(root, getattr(args, k)) for k in ("scenarios", "morris", "scale", "packages", "split")}
    optimise = Path(args.optimise) if args.optimise else None
    robust = load_choices(optimise) if optimise is not None and optimise.is_dir() else None
    q1 = probabilities(b["scenarios"]) if b["scenarios"] else None
    scale = probabilities(b["scale"]) if b["scale"] else None
    low = b["scenarios"].scenario(REFERENCE)["inputs"] if b["scenarios"] else {}
    high = b["scenarios"].scenario(PACKAGE)["inputs"] if b["scenarios"] else {}
    points = inputs = None
    if b["packages"] and low:
        points, inputs = lhs_points(b["packages"], low, high)
    best = best_anywhere([t for t in (q1, scale) if t is not None], points, robust)
    doc = ["# Findings: are the plan's targets within reach?", "",
           "*Generated by `scripts/write_findings.py` from the batches of `scripts/findings.sh`; "
           "do not edit by hand.*", "", "## Summary for policy staff", ""]  # fmt: skip
    diffs = paired_differences(b["scenarios"].outcomes, REFERENCE) if b["scenarios"] else None
    rank = lever_ranking(morris_indices(b["morris"])) if b["morris"] else None
    doc += summary(q1, best, diffs, rank, robust)
    doc += changes_section()
    doc += _intro(b, q1)
    fitted_dir = Path(args.fitted).parent if args.fitted else ROOT / "calibration/fitted/default"
    doc += hindcast_section(fitted_dir, _shown(fitted_dir))
    doc += _section_q1(q1, img, args)
    doc += split_section(b["split"], args.split)
    doc += _section_q2(b["morris"], img, args)
    doc += _section_q3(b, scale, points, inputs, low, high, img, args)
    packages = all_packages(b, {"scenarios": q1, "scale": scale}, points, low, high) if low else pd.DataFrame()
    doc += _section_minimum(packages, low, high)
    sq = q1[q1["scenario"] == REFERENCE].set_index("column")["p_reach"].to_dict() if q1 is not None else {}
    doc += [""] + robust_section(optimise, _shown(optimise) if optimise else "results/optimise", sq)
    doc += ["", "### Targets out of reach of every tested package", ""]
    doc += out_of_reach(best, low) or ["- None: every target reaches at least 50% under some tested package."]
    fitted = _fitted(args)
    doc += caveats_section(fitted, b)
    doc += reproduce_section(b, args, time.perf_counter() - started, _search_times(optimise))
    return "\n".join(doc) + "\n"


def _intro(b, q1) -> list[str]:
    missing = [k for k, v in b.items() if v is None]
    lines = ["", "The percentages above are shares of replications reaching the goal. Definitions: "
             "*signed* / *registered* / *started* are three readings of \"introduced\"; *exchange* counts "
             "exchange-listed firms only, *exchange_neeq* adds NEEQ-quoted firms. \"At best\" names the tested "
             "package with the highest share: a lever family of section 1 (`attraction`, ...), the full package "
             "scaled (`scale_150` = 1.5 times the plan's moves) or a point of the Latin hypercube "
             "(`findings_packages-NNN`, few runs each: a candidate, not a guarantee). Details follow.", ""]  # fmt: skip
    if missing:
        lines += [f"**Not run (sections left empty):** {', '.join(missing)}.", ""]
    return lines


def _section_q1(q1, img: Path, args) -> list[str]:
    lines = ["## 1. How likely is each target?", ""]
    if q1 is None:
        return lines + ["Not run.", ""]
    reps = int(q1["n"].max())
    main, matrix = q1_tables(q1)
    plot_probabilities(q1, img / "findings_probabilities.png")
    return lines + [
        f"Each scenario ran {reps} replications with common random numbers (batch `{args.scenarios}`). "
        "P is the share of replications reaching the goal, with a 95% Wilson interval; the median and 90% "
        "band are of the measured value.", "", main, "",
        f"![P(reach) by scenario]({_rel(img / 'findings_probabilities.png', args)})", "",
        "All scenarios (P in percent):", "", matrix, "",
    ]  # fmt: skip


def _section_q2(morris, img: Path, args) -> list[str]:
    lines = ["## 2. Which levers matter most?", ""]
    if morris is None:
        return lines + ["Not run.", ""]
    mu = morris_indices(morris)
    from sim.model.params import DEEP

    rank = lever_ranking(mu).reset_index()
    rank["input"] = rank["input"].map(lambda k: f"{k} (deep)" if k in DEEP else k)
    rank["mean_normalised_mu_star"] = rank["mean_normalised_mu_star"].map(lambda v: f"{v:.2f}")
    rank.columns = ["lever or (deep) effect", "mean mu* / largest mu* of the target", "targets where it is the largest"]
    meta = morris.manifest.get("sensitivity", {})
    design = Path(str(meta.get("design", {}).get("path", "sensitivity_levers_deep"))).name
    plot_morris(mu, img / "findings_morris.png", _target_order())
    return lines + [
        f"Morris screening over the levers and the deep uncertainties of their effects, together "
        f"(`{design}`; N = {meta.get('n', '?')} trajectories, "
        f"{morris.manifest['reps']} replications per point, {morris.n_runs} runs; batch `{args.morris}`). "
        "Because the deep inputs (how strongly attraction effort, the VC cluster, listing subsidies, reserve "
        "coaching, leading-firm support and the China-Israel stream work; kind `deep`, no empirical estimate) "
        "move at the same time, each lever's mu* is an average over their declared ranges: the ranking holds "
        "across those ranges, and a deep input high in the table is an assumption the answer leans on. "
        "mu* is the change of the outcome when the lever moves across its whole tested range, with its 95% "
        "bootstrap interval (see docs/analysis.md); the ranges run from below the status quo to beyond the full "
        "package. For the probability of reaching, mu* is a change in probability extrapolated linearly from "
        "steps of 2/3 of the range, so it can exceed 1; with 3 replications per point it is coarse. "
        "Compare levers within a row, not across rows.", "",
        q2_table(mu), "", "Levers ranked over all targets (how often a lever has the largest mu*, then its "
        "mu* relative to the largest, averaged over targets):", "", md_table(rank), "",
        f"![Morris mu*]({_rel(img / 'findings_morris.png', args)})", "",
    ]  # fmt: skip


def _section_q3(b, scale, points, inputs, low, high, img: Path, args) -> list[str]:
    lines = ["## 3. What minimum package reaches each target?", ""]
    if scale is not None:
        reps = int(scale["n"].max())
        plot_scale(scale, img / "findings_scale.png")
        table = q3_scale(scale).drop(columns="column")
        lines += [f"### The full package, scaled ({reps} replications per scale; batch `{args.scale}`)", "",
                  "Every lever moved the same fraction of the way from the status quo (x0) to the plan's full "
                  "package (x1) and beyond (x1.5). Smallest tested scale reaching each level:", "",
                  md_table(table), "", f"![scaled package]({_rel(img / 'findings_scale.png', args)})", ""]  # fmt: skip
    if points is not None:
        reps = int(points["n_runs"].max())
        lines += [f"### Cheapest package of a Latin hypercube ({len(points)} packages x {reps} replications; "
                  f"batch `{args.packages}`)", "",
                  "Cost is the planned cost in m yuan defined under *The minimum package* below. With "
                  f"{reps} replications a point's reach share is coarse (steps of {1 / reps:.2f}): read the cheapest "
                  "point as a candidate to confirm, not a guarantee.", "",
                  md_table(q3_cheapest(points)), "",
                  "### Scenario discovery (PRIM) on the same packages", "",
                  "A package succeeds when its share of replications reaching the goal is at least the level. PRIM "
                  "(EMA Workbench) peels the lever space down to a box where successes are dense; the chosen box has "
                  "the highest coverage among boxes of density >= 0.8 (`parksim discover`, docs/analysis.md). Boxes "
                  "describe this sample: restrictions on many levers at once are partly noise of "
                  f"{reps} replications, and the first one or two restrictions carry the message.", ""]  # fmt: skip
        lines += q3_prim(b["packages"], points)
    if scale is None and points is None:
        lines += ["Not run."]
    return lines


def _section_minimum(packages: pd.DataFrame, low: dict, high: dict) -> list[str]:
    if packages.empty:
        return []
    return [
        "", "### The minimum package, over everything tested", "",
        "Every tested package (the lever families and full package of section 1, the scaled packages, "
        "the Latin hypercube) gets its planned cost in m yuan over 2016-07..2025-12 from the declared lever "
        "costs (`sim.model.costs.package_cost_myuan`, docs/ODD.md 7.1; most unit costs are [assumption], so "
        "compare packages with each other rather than reading the figures as budgets; the eco threshold and "
        "rent relief cost nothing in this plan). For each reading, the cheapest package whose share of "
        "replications reaching the goal is at least "
        "50% or 80%; packages with fewer replications are cheaper to find by luck, so the cheapest with at "
        "least 30 replications is given too. `P 90% of 60` means 90% of 60 replications.", "",
        md_table(q3_minimum(packages)),
    ]  # fmt: skip


def _search_times(root: Path | None) -> dict:
    """``{folder: (readings, seconds)}`` from the ``timings.csv`` that findings.sh writes per search group."""
    out = {}
    for path in sorted(Path(root).glob("*/timings.csv")) if root is not None and Path(root).is_dir() else []:
        times = pd.read_csv(path, header=None, names=["reading", "seconds"])
        out[_shown(path.parent)] = (len(times), float(times["seconds"].sum()))
    return out


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _rel(path: Path, args) -> str:
    return Path(path).resolve().relative_to(Path(args.out).resolve().parent, walk_up=True).as_posix()


def _fitted(args) -> dict:
    """Fitted parameters and whether the data identify them, from the comments of params.toml."""
    path = Path(args.fitted or ROOT / "calibration/fitted/default/params.toml")
    if not path.exists():
        return {}
    values = tomllib.loads(path.read_text())["params"]
    notes = {}
    for line in path.read_text().splitlines():
        if "=" in line and "#" in line and line.split("=")[0].strip() in values:
            notes[line.split("=")[0].strip()] = line.split("#", 1)[1].strip()
    shown = path.resolve().relative_to(ROOT).as_posix() if path.resolve().is_relative_to(ROOT) else str(path)
    return {"path": shown, "values": values, "notes": notes}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(ROOT / "results/runs"), help="folder of batch folders")
    p.add_argument("--scenarios", default="findings-scenarios", help="batch id: status quo and packages")
    p.add_argument("--morris", default="findings-morris", help="batch id: Morris screening of the levers")
    p.add_argument("--scale", default="findings-scale", help="batch id: full package scaled")
    p.add_argument("--packages", default="findings-packages", help="batch id: Latin hypercube of packages")
    p.add_argument("--split", default="findings-split", help="batch id: posterior draws x seeds, variance split")
    p.add_argument(
        "--optimise",
        default=str(ROOT / "results/optimise"),
        help="folder searched for parksim optimise's robust_*_result.json",
    )
    p.add_argument("--out", default=str(ROOT / "docs/findings.md"), help="markdown file to write")
    p.add_argument("--img", default=str(ROOT / "docs/img"), help="folder for the figures")
    p.add_argument("--fitted", default=None, help="fitted parameter file (default: the baseline's)")
    args = p.parse_args(argv)
    text = build(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(f"wrote {out} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
