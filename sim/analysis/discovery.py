"""Scenario discovery: which ranges of the varied inputs lead to a target being reached.

Works on the outcomes table of a finished sweep or sensitivity batch (one row per
run; the varied inputs are columns). Each design point (a scenario of the batch)
counts as a success when the share of its replications reaching the target is at
least a threshold (or, per run, when the run reaches it). PRIM (EMA Workbench's
implementation) then peels boxes in input space; CART (EMA Workbench's wrapper of
scikit-learn) splits it into leaves. Each box has a *coverage* (share of all
successes that lie inside it), a *density* (share of the points inside it that are
successes) and a *mass* (share of all points inside it).

The chosen box is the one with the highest coverage among those whose density
reaches ``min_density`` (ties go to the denser box); when none does, the densest.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.model.params import PARAMS
from sim.model.scenario import ScenarioError
from sim.model.targets import TARGETS, TARGETS_BY_NAME, column_of, is_target_column, parse_column, target_of

METHODS = ("prim", "cart")
MASS_MIN = 0.05  # smallest box, as a share of the points (EMA Workbench's default)
PEEL_ALPHA = 0.05  # share of the points PRIM peels off in one step (EMA Workbench's default)
MIN_DENSITY = 0.8  # density the chosen box should reach (a common choice in scenario discovery)
UNIT_WORDS = ("index", "x", "share", "probability", "dimensionless", "utility")  # units written in parentheses
NAME_SUFFIXES = ("_yuan_per_month", "_m2_per_year", "_myuan_per_year", "_myuan", "_per_year", "_per_month", "_index")


@dataclass
class Discovery:
    """Boxes found in one batch for one target.

    Attributes:
        method: ``prim`` or ``cart``.
        column: the ``target__definition`` outcome column.
        trajectory: one row per box (``box, coverage, density, mass, res_dim, n``).
        limits: per box, a DataFrame indexed by input with ``low`` and ``high``.
        init: the ranges of the inputs over the whole batch (same shape).
        chosen: index of the chosen box in ``trajectory``.
        qp: per box, ``{input: (qp_low, qp_high)}`` quasi-p values of PRIM's restrictions.
    """

    method: str
    column: str
    trajectory: pd.DataFrame
    limits: list[pd.DataFrame]
    init: pd.DataFrame
    chosen: int
    qp: list[dict] = field(default_factory=list)

    def restricted(self, i: int | None = None) -> list[str]:
        """Inputs whose range box ``i`` (default: the chosen one) narrows."""
        box = self.limits[self.chosen if i is None else i]
        return [k for k in box.index if (box.loc[k] != self.init.loc[k]).any()]


# ---------------------------------------------------------------- targets and data


def target_column(name: str, definition: str | None = None) -> str:
    """The outcome column of a target, e.g. ``("listed_companies_2020", "exchange")``.

    ``name`` may also be written ``target__definition``. A target with a single
    definition needs none.

    Raises:
        ScenarioError: unknown target or definition, listing the allowed ones.
    """
    if definition is None and is_target_column(name):
        name, definition = parse_column(name)
    target = TARGETS_BY_NAME.get(name)
    if target is None:
        raise ScenarioError("--target", None, f"unknown target {name!r}; allowed: {', '.join(t.name for t in TARGETS)}")
    defs = list(target.columns)
    if definition is None:
        if len(defs) > 1:
            raise ScenarioError("--definition", None, f"target {name!r} has several definitions; choose one of: "
                                + ", ".join(defs))  # fmt: skip
        definition = defs[0]
    if definition not in defs:
        raise ScenarioError(
            "--definition", None, f"unknown definition {definition!r} of {name!r}; allowed: {', '.join(defs)}"
        )
    return column_of(name, definition)


def varied_inputs(outcomes: pd.DataFrame, declared: list[str] | None = None) -> list[str]:
    """Declared inputs that are columns of ``outcomes`` and take more than one value."""
    names = declared if declared is not None else [c for c in outcomes.columns if c in PARAMS]
    return [c for c in names if c in outcomes.columns and outcomes[c].nunique(dropna=True) > 1]


def discovery_data(
    outcomes: pd.DataFrame, inputs: list[str], column: str, threshold: float = 0.5, per_run: bool = False
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Inputs and success flags for PRIM/CART.

    Args:
        outcomes: one row per run (``scenario``, optional ``status``, inputs, ``column``).
        inputs: the varied input columns.
        column: the ``target__definition`` column.
        threshold: a point succeeds when its reach share is at least this.
        per_run: use each run as a point (success = the run reaches the target).

    Returns:
        ``(x, y, points)``: inputs per point, 0/1 success per point, and the per-point
        table (inputs, ``n_runs``, ``reach_share``, ``success``).
    """
    target = target_of(column)
    ok = outcomes if "status" not in outcomes else outcomes[outcomes["status"] == "ok"]
    ok = ok[ok[column].notna()]
    hit = (ok[column] >= target.threshold).astype(float)
    if per_run:
        points = ok[inputs].reset_index(drop=True)
        points["n_runs"] = 1
        points["reach_share"] = hit.to_numpy()
    else:
        frame = ok[["scenario", *inputs]].assign(_hit=hit.to_numpy())
        grouped = frame.groupby("scenario", sort=False)
        points = grouped[inputs].first()
        points["n_runs"] = grouped.size()
        points["reach_share"] = grouped["_hit"].mean()
        points = points.reset_index()
    points["success"] = (points["reach_share"] >= threshold).astype(int)
    x = points[inputs].astype(float).reset_index(drop=True)
    return x, points["success"].to_numpy(int), points


# ---------------------------------------------------------------- PRIM and CART


def _limits_frame(box: pd.DataFrame, inputs: list[str]) -> pd.DataFrame:
    """EMA's 2-row box (row 0 lower, row 1 upper) as a frame indexed by input."""
    return pd.DataFrame({"low": box.loc[0, inputs].astype(float), "high": box.loc[1, inputs].astype(float)})


def choose_box(trajectory: pd.DataFrame, min_density: float = MIN_DENSITY) -> int:
    """Highest coverage among boxes with density >= ``min_density`` (ties: denser, then fewer restrictions).

    When no box is dense enough, the densest box.
    """
    good = trajectory[trajectory["density"] >= min_density - 1e-12]
    if len(good):
        keys = ["coverage", "density", "res_dim", "box"]
        best = good.sort_values(keys, ascending=[False, False, True, True], kind="stable")
    else:
        best = trajectory.sort_values(["density", "coverage", "box"], ascending=[False, False, True], kind="stable")
    return int(best.iloc[0]["box"])


@contextlib.contextmanager
def _quiet():
    """Silence EMA Workbench's import-time notes (ipyparallel, altair) and pandas deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run_prim(x: pd.DataFrame, y: np.ndarray, column: str, min_density: float = MIN_DENSITY) -> Discovery:
    """Peel one PRIM box (EMA Workbench) and keep its whole peeling trajectory."""
    with _quiet():
        from ema_workbench.analysis import prim

        finder = prim.Prim(x, y.astype(int), peel_alpha=PEEL_ALPHA, mass_min=MASS_MIN)
        box = finder.find_box()
    traj = box.peeling_trajectory.reset_index(drop=True)
    trajectory = pd.DataFrame({
        "box": np.arange(len(traj)), "coverage": traj["coverage"].astype(float),
        "density": traj["density"].astype(float), "mass": traj["mass"].astype(float),
        "res_dim": traj["res_dim"].astype(int), "n": traj["n"].astype(int),
    })  # fmt: skip
    inputs = list(x.columns)
    limits = [_limits_frame(b, inputs) for b in box.box_lims]
    qp = [{k: tuple(float(v) for v in p) for k, p in ps.items()} for ps in box.p_values]
    init = _limits_frame(finder.box_init, inputs)
    return Discovery("prim", column, trajectory, limits, init, choose_box(trajectory, min_density), qp)


def run_cart(x: pd.DataFrame, y: np.ndarray, column: str, min_density: float = MIN_DENSITY) -> Discovery:
    """Grow a CART tree (EMA Workbench's wrapper of scikit-learn); each leaf is a box."""
    with _quiet():
        from ema_workbench.analysis import cart
    from sklearn import tree

    finder = cart.CART(x, y.astype(int), mass_min=MASS_MIN)
    # Same tree as CART.build_tree, with a fixed random_state so that ties between splits
    # do not depend on the process (scikit-learn permutes features at random).
    finder.clf = tree.DecisionTreeClassifier(min_samples_leaf=max(1, int(MASS_MIN * len(x))), random_state=0)
    finder.clf.fit(finder._x, finder.y)
    inputs = list(x.columns)
    init = _limits_frame(cart.sdutil._make_box(x), inputs)
    limits = [_limits_frame(b, inputs) for b in finder.boxes]
    rows = []
    for i, (s, lim) in enumerate(zip(finder.stats, limits, strict=True)):
        res = int(((lim != init).any(axis=1)).sum())
        rows.append((i, float(s["coverage"]), float(s["density"]), float(s["mass"]), res, round(s["mass"] * len(x))))
    trajectory = pd.DataFrame(rows, columns=["box", "coverage", "density", "mass", "res_dim", "n"])
    return Discovery("cart", column, trajectory, limits, init, choose_box(trajectory, min_density))


def discover(
    x: pd.DataFrame, y: np.ndarray, column: str, method: str = "prim", min_density: float = MIN_DENSITY
) -> Discovery:
    """Run PRIM or CART on points ``x`` with successes ``y``.

    Raises:
        ValueError: unknown method, or no point (or every point) succeeds, so there is nothing to separate.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("no point reaches the target" if y.sum() == 0 else "every point reaches the target")
    return (run_prim if method == "prim" else run_cart)(x, y, column, min_density)


# ---------------------------------------------------------------- reporting


def plain_name(name: str) -> str:
    """``listing_subsidy_myuan`` -> ``listing subsidy`` (the unit is written separately)."""
    for suffix in NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("_", " ")


def _number(name: str, v: float, up: bool) -> str:
    param = PARAMS.get(name)
    if param is not None and param.integer:  # a whole-number input: the box edge rounded inwards
        return f"{math.ceil(v - 1e-9) if up else math.floor(v + 1e-9):d}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _unit(name: str) -> str:
    param = PARAMS.get(name)
    if param is None:
        return ""
    unit = param.unit
    return f" ({unit})" if unit.split()[0] in UNIT_WORDS else f" {unit}"


def describe_limit(name: str, low: float, high: float, init_low: float, init_high: float) -> str:
    """One restriction in words: ``listing subsidy at least 2.1 m yuan/firm``."""
    label, unit = plain_name(name), _unit(name)
    if low > init_low and high < init_high:
        return f"{label} between {_number(name, low, True)} and {_number(name, high, False)}{unit}"
    if low > init_low:
        return f"{label} at least {_number(name, low, True)}{unit}"
    return f"{label} at most {_number(name, high, False)}{unit}"


def describe_box(d: Discovery, i: int | None = None, per_run: bool = False, threshold: float = 0.5) -> str:
    """The box in plain words, with its coverage, density and mass."""
    i = d.chosen if i is None else i
    box, stats = d.limits[i], d.trajectory.iloc[i]
    parts = [describe_limit(k, box.loc[k, "low"], box.loc[k, "high"], *d.init.loc[k]) for k in d.restricted(i)]
    target, definition = parse_column(d.column)
    unit = "runs" if per_run else f"design points (reach share >= {threshold:g})"
    where = " and ".join(parts) if parts else "anywhere in the tested ranges (no restriction)"
    return (
        f"{target} ({definition}) is reached with {where}.\n"
        f"  In this box {stats['density']:.0%} of {unit} reach the target (density); it holds "
        f"{stats['coverage']:.0%} of all that reach it (coverage) and {stats['mass']:.0%} of all tested "
        f"{'runs' if per_run else 'points'} (mass); {int(stats['res_dim'])} input(s) restricted."
    )


def box_table(d: Discovery, i: int | None = None) -> pd.DataFrame:
    """Limits of box ``i`` for every varied input, with the tested range, unit and quasi-p values."""
    i = d.chosen if i is None else i
    box, rows = d.limits[i], []
    restricted = set(d.restricted(i))
    qp = d.qp[i] if i < len(d.qp) else {}
    for name in box.index:
        param = PARAMS.get(name)
        q = qp.get(name, (float("nan"), float("nan")))
        rows.append({
            "input": name, "kind": param.kind if param else "", "unit": param.unit if param else "",
            "restricted": name in restricted, "low": box.loc[name, "low"], "high": box.loc[name, "high"],
            "tested_low": d.init.loc[name, "low"], "tested_high": d.init.loc[name, "high"],
            "qp_low": np.nan if q[0] < 0 else q[0], "qp_high": np.nan if q[1] < 0 else q[1],
        })  # fmt: skip
    return pd.DataFrame(rows).sort_values(["restricted", "input"], ascending=[False, True], kind="stable")


def format_trajectory(d: Discovery) -> str:
    """The boxes as a text table, the chosen one marked."""
    word = "peeling trajectory" if d.method == "prim" else "leaves"
    lines = [f"{d.method.upper()} {word}: box, coverage, density, mass, restricted inputs",
             f"  {'box':>4} {'coverage':>9} {'density':>8} {'mass':>6} {'res_dim':>7}"]  # fmt: skip
    for r in d.trajectory.itertuples():
        mark = "  <- chosen" if r.box == d.chosen else ""
        lines.append(f"  {r.box:>4} {r.coverage:>9.3f} {r.density:>8.3f} {r.mass:>6.3f} {r.res_dim:>7}{mark}")
    return "\n".join(lines)


def plot_tradeoff(d: Discovery, path: str | Path, title: str = "") -> Path:
    """Coverage against density of every box, coloured by the number of restricted inputs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = d.trajectory
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    if d.method == "prim":
        ax.plot(t["coverage"], t["density"], color="grey", linewidth=0.8, zorder=1)
    top = int(t["res_dim"].max())
    cmap = plt.get_cmap("viridis", top + 1)  # one colour per number of restricted inputs
    sc = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap=cmap, vmin=-0.5, vmax=top + 0.5, s=28, zorder=2)
    c = t.iloc[d.chosen]
    ax.scatter([c["coverage"]], [c["density"]], s=140, facecolors="none", edgecolors="red", linewidths=1.5, zorder=3)
    offset = (-80, -14) if c["coverage"] > 0.7 else (8, -14)
    ax.annotate(f"chosen: box {d.chosen}", (c["coverage"], c["density"]), xytext=offset, textcoords="offset points",
                color="red", fontsize=8)  # fmt: skip
    fig.colorbar(sc, ax=ax, label="restricted inputs", ticks=range(top + 1))
    ax.set(xlabel="coverage (share of successes inside the box)", ylabel="density (share of box that succeeds)",
           xlim=(0, 1.03), ylim=(0, 1.03))  # fmt: skip
    ax.grid(alpha=0.3)
    ax.set_title(title or f"{d.method.upper()} coverage-density trade-off: {d.column}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def output_prefix(d: Discovery, per_run: bool = False) -> str:
    """File name stem of a discovery's outputs in the batch folder."""
    return f"discover_{d.column}_{d.method}" + ("_per_run" if per_run else "")


def write_discovery(
    d: Discovery, table: pd.DataFrame, folder: str | Path, threshold: float, per_run: bool, batch_id: str = ""
) -> list[Path]:
    """Trajectory CSV, chosen box as CSV and JSON, and the trade-off PNG, into ``folder``."""
    from sim.store import write_json

    folder = Path(folder)
    stem = folder / output_prefix(d, per_run)
    trajectory, box_csv = Path(f"{stem}_trajectory.csv"), Path(f"{stem}_box.csv")
    d.trajectory.assign(chosen=d.trajectory["box"] == d.chosen).to_csv(trajectory, index=False)
    table.to_csv(box_csv, index=False)
    stats = d.trajectory.iloc[d.chosen]
    box_json = Path(f"{stem}_box.json")
    target, definition = parse_column(d.column)
    write_json(box_json, {
        "batch": batch_id, "target": target, "definition": definition, "threshold": target_of(d.column).threshold,
        "success": "run reaches the target" if per_run else f"reach share over replications >= {threshold:g}",
        "method": d.method, "box": d.chosen,
        **{k: float(stats[k]) for k in ("coverage", "density", "mass")}, "res_dim": int(stats["res_dim"]),
        "limits": {r["input"]: {"low": r["low"], "high": r["high"], "unit": r["unit"]}
                   for r in table.to_dict("records") if r["restricted"]},
        "text": describe_box(d, per_run=per_run, threshold=threshold),
    })  # fmt: skip
    png = plot_tradeoff(d, Path(f"{stem}_tradeoff.png"))
    return [trajectory, box_csv, box_json, png]
