"""Parameter and stochastic uncertainty of a posterior batch (issue 12 item 5).

In a posterior batch (``parksim run`` without ``--at-point``) replication ``i``
of every scenario is a pair (posterior draw ``d_i``, seed ``s_i``); consecutive
groups of ``K = seeds_per_draw`` replications share one draw
(:func:`sim.run.plan.draw_indices`). Two summaries follow.

*Probability of reaching a target.* With ``K = 1`` every replication is a fresh,
independent (draw, seed) pair, so its hit is a Bernoulli trial whose
probability is the posterior-predictive P(target), which averages over both the
fitted parameters and the model's randomness: the Wilson interval over
replications is then correct as it stands. With ``K > 1`` replications of one
draw are correlated; :func:`target_probabilities` then uses the Wilson interval
at the effective number of replications ``n / deff``, with the design effect
``deff = 1 + (m - 1) * rho`` (Kish 1965; ``m`` the mean group size, ``rho``
the intraclass correlation of the hits estimated below, floored at 0).

*Variance split* (:func:`variance_split`). By the law of total variance,
``Var(Y) = Var_d(E[Y | d]) + E_d[Var(Y | d)]``: the first term is the parameter
part (between draws), the second the stochastic part (within a draw, over
seeds). They are estimated by the one-way random-effects ANOVA method of
moments, which allows unequal group sizes (Searle, Casella & McCulloch 1992,
*Variance Components*, sec. 3.5)::

    MSW = sum_g sum_j (y_gj - ybar_g)^2 / (N - G)              stochastic part
    MSB = sum_g n_g (ybar_g - ybar)^2 / (G - 1)
    n0  = (N - sum_g n_g^2 / N) / (G - 1)
    parameter part = max(0, (MSB - MSW) / n0)

It needs at least two groups and at least two replications in some group; with
``K = 1`` the two parts cannot be told apart (every group has one run), and the
split is NaN while the total variance is still given.

*Deep uncertainty* (:func:`deep_split`, for EMA Workbench results of
:func:`sim.ema.ema_model`: an experiments x replications array per outcome).
The experiments sample deep uncertainties and levers; every experiment reuses
the same (draw, seed) pairs, so experiments and replications are crossed, and
the two-way random-effects ANOVA without replication gives the deep part
unbiased under these common random numbers (``R`` replications, ``E``
experiments)::

    MS_exp = R sum_e (ybar_e. - ybar)^2 / (E - 1)
    MS_res = sum_ei (y_ei - ybar_e. - ybar_.i + ybar)^2 / ((E - 1)(R - 1))
    deep part = max(0, (MS_exp - MS_res) / R)

The rest, ``E_e Var(Y | e)``, is split into parameter and stochastic parts by
averaging the within-experiment split above over the experiments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLIT_COLUMNS = [
    "indicator", "n", "groups", "mean", "total_var", "parameter_var", "stochastic_var", "parameter_share",
]  # fmt: skip


def split_one(values, groups) -> dict[str, float]:
    """Parameter (between-group) and stochastic (within-group) variance of ``values`` grouped by ``groups``.

    NaN values are left out. Returns ``n``, ``groups``, ``mean``, ``total_var`` (the two parts added;
    the sample variance when they cannot be told apart), ``parameter_var``, ``stochastic_var`` and
    ``parameter_share`` (NaN where the data cannot separate them).
    """
    y = np.asarray(values, float)
    g = np.asarray(groups)
    keep = ~np.isnan(y)
    y, g = y[keep], g[keep]
    n = len(y)
    out = {"n": n, "groups": 0, "mean": np.nan, "total_var": np.nan}
    out |= {"parameter_var": np.nan, "stochastic_var": np.nan, "parameter_share": np.nan}
    if n == 0:
        return out
    labels, idx, sizes = np.unique(g, return_inverse=True, return_counts=True)
    n_groups = len(labels)
    means = np.bincount(idx, weights=y) / sizes
    grand = float(y.mean())
    out.update(groups=n_groups, mean=grand, total_var=float(y.var(ddof=1)) if n > 1 else np.nan)
    if n_groups < 2 or n - n_groups < 1:
        return out
    msw = float(((y - means[idx]) ** 2).sum() / (n - n_groups))
    msb = float((sizes * (means - grand) ** 2).sum() / (n_groups - 1))
    n0 = (n - float((sizes**2).sum()) / n) / (n_groups - 1)
    between = max(0.0, (msb - msw) / n0)
    total = between + msw
    share = between / total if total > 0 else np.nan
    out.update(total_var=total, parameter_var=between, stochastic_var=msw, parameter_share=share)
    return out


def replication_groups(outcomes: pd.DataFrame, seeds_per_draw: int) -> np.ndarray:
    """The draw group of each run: replications ``i`` and ``j`` share a draw iff ``i // K == j // K``."""
    return outcomes["replicate"].to_numpy(int) // int(seeds_per_draw)


def _indicators(outcomes: pd.DataFrame, columns=None) -> list[str]:
    from sim.model.targets import is_target_column

    if columns is not None:
        return [c for c in columns if c in outcomes]
    return [c for c in outcomes.columns if c.startswith("end_") or is_target_column(c)]


def variance_split(outcomes: pd.DataFrame, seeds_per_draw: int, columns=None, group: str = "scenario") -> pd.DataFrame:
    """Variance split of every end indicator and target indicator, per scenario (see the module docstring).

    Args:
        outcomes: one row per run with ``replicate`` (a posterior batch's ``batch.outcomes``).
        seeds_per_draw: replications per posterior draw (the batch's ``--seeds-per-draw``).
        columns: indicators to split (default: ``end_*`` and ``target__definition`` columns).
        group: the column that names scenarios or design points.

    Returns:
        One row per scenario and indicator: :data:`SPLIT_COLUMNS` after ``group``.
    """
    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    rows = []
    for name, runs in ok.groupby(group, sort=False):
        draw_groups = replication_groups(runs, seeds_per_draw)
        for col in _indicators(runs, columns):
            rows.append({group: name, "indicator": col, **split_one(runs[col].to_numpy(float), draw_groups)})
    return pd.DataFrame(rows, columns=[group, *SPLIT_COLUMNS])


def target_probabilities(outcomes: pd.DataFrame, seeds_per_draw: int, group: str = "scenario") -> pd.DataFrame:
    """P(target) per scenario with a 95% interval that includes parameter uncertainty.

    With ``seeds_per_draw == 1`` the interval is Wilson over replications (each a fresh (draw, seed)
    pair); otherwise Wilson at the effective number of replications (module docstring).
    Columns: ``group``, ``target``, ``definition``, ``n``, ``n_eff``, ``p_reach``, ``p_low``, ``p_high``.
    """
    from sim.analysis.stats import wilson_interval
    from sim.model.targets import parse_column, target_of

    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    rows = []
    for name, runs in ok.groupby(group, sort=False):
        draw_groups = replication_groups(runs, seeds_per_draw)
        for col in _indicators(runs):
            if col.startswith("end_"):
                continue
            values = runs[col].to_numpy(float)
            keep = ~np.isnan(values)
            hits = (values[keep] >= target_of(col).threshold).astype(float)
            n = len(hits)
            n_eff = float(n)
            if seeds_per_draw > 1 and n:
                split = split_one(hits, draw_groups[keep])
                rho = split["parameter_share"] if np.isfinite(split["parameter_share"]) else 0.0
                m = n / max(split["groups"], 1)
                n_eff = n / (1.0 + (m - 1.0) * rho)
            p = float(hits.mean()) if n else np.nan
            k_eff = p * n_eff if n else 0.0
            low, high = wilson_interval(round(k_eff), round(n_eff)) if n else (np.nan, np.nan)
            rows.append({
                group: name, "target": target_of(col).name, "definition": parse_column(col)[1],
                "n": n, "n_eff": n_eff, "p_reach": p, "p_low": low, "p_high": high,
            })  # fmt: skip
    return pd.DataFrame(rows)


def format_split(table: pd.DataFrame, group: str = "scenario") -> str:
    """The variance split as text: one line per scenario and indicator."""
    if table.empty:
        return "no finished runs to split"
    lines = []
    for name, rows in table.groupby(group, sort=False):
        lines.append(f"{name}: variance split (parameter = between posterior draws, stochastic = within a draw)")
        lines.append(f"  {'indicator':<58} {'mean':>10} {'sd':>10} {'parameter':>10}")
        for r in rows.itertuples():
            sd = np.sqrt(r.total_var) if np.isfinite(r.total_var) else np.nan
            share = "-" if not np.isfinite(r.parameter_share) else f"{100 * r.parameter_share:.0f}%"
            lines.append(f"  {r.indicator:<58} {r.mean:>10.4g} {sd:>10.4g} {share:>10}")
    return "\n".join(lines)


def describe_posterior(record: dict | None) -> str:
    """One paragraph saying how a batch treated parameter uncertainty (for ``parksim run`` / ``show``)."""
    if record is None:
        return "parameters: every run at its scenario's point values (--at-point, or a batch without a posterior)"
    k = record.get("seeds_per_draw", 1)
    said: dict[str, list[str]] = {}  # what is said -> the scenarios it is said of (a sweep has many points)
    for name, entry in record.get("scenarios", {}).items():
        if entry["source"] is None:
            said.setdefault(f"at its point ({entry['note']})", []).append(name)
            continue
        source = record["sources"][entry["source"]]
        kept = f"; kept as set: {', '.join(entry['kept'])}" if entry["kept"] else ""
        text = (
            f"{len(set(source['draws']))} posterior draws of {source['n_draws']} from {entry['source']} "
            f"({len(entry['params'])} parameters{kept})"
        )
        said.setdefault(text, []).append(name)
    lines = []
    for text, names in said.items():
        who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        lines.append(f"  {who}: {text}")
    how = (
        "each replication is a fresh (draw, seed) pair, so Wilson intervals over replications include "
        "parameter uncertainty"
        if k == 1
        else f"{k} seeds per draw; P(target) intervals use the effective number of replications"
    )
    return "\n".join([f"parameters: sampled from the fitted posterior ({how})", *lines])


def deep_split(values, seeds_per_draw: int = 1) -> dict[str, float]:
    """Deep, parameter and stochastic variance of one outcome of an EMA study (module docstring).

    Args:
        values: experiments x replications (``outcomes[name]`` of ``perform_experiments``); no NaN.
        seeds_per_draw: replications per posterior draw (the model's ``seeds_per_draw``).

    Returns:
        ``deep_var``, ``within_var`` (parameter plus stochastic), ``parameter_var``, ``stochastic_var``
        (NaN with one seed per draw) and ``deep_share``.
    """
    y = np.asarray(values, float)
    n_exp, n_rep = y.shape
    out = {"deep_var": np.nan, "within_var": np.nan, "parameter_var": np.nan, "stochastic_var": np.nan}
    out["deep_share"] = np.nan
    if n_exp < 2 or n_rep < 2:
        return out
    row, col, grand = y.mean(axis=1), y.mean(axis=0), y.mean()
    ms_exp = n_rep * float(((row - grand) ** 2).sum()) / (n_exp - 1)
    resid = y - row[:, None] - col[None, :] + grand
    ms_res = float((resid**2).sum()) / ((n_exp - 1) * (n_rep - 1))
    deep = max(0.0, (ms_exp - ms_res) / n_rep)
    groups = np.arange(n_rep) // int(seeds_per_draw)
    splits = [split_one(y[e], groups) for e in range(n_exp)]
    within = float(np.mean([s["total_var"] for s in splits]))
    param = float(np.mean([s["parameter_var"] for s in splits]))
    stoch = float(np.mean([s["stochastic_var"] for s in splits]))
    total = deep + within
    out.update(deep_var=deep, within_var=within, parameter_var=param, stochastic_var=stoch)
    out["deep_share"] = deep / total if total > 0 else np.nan
    return out
