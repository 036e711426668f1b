"""The dashboard's user interface (Solara): explore stored batches, see the park as a place, try a package.

Solara is the framework Mesa's own visualisation uses; ``parksim dashboard`` serves this
module with Solara's Starlette server on 127.0.0.1. All numbers come from
:mod:`sim.dashboard.data`; this module only lays them out. The folder of batches
comes from the ``PARKSIM_DASHBOARD_ROOT`` environment variable (set by the command).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import solara  # figures come from sim.plots (matplotlib Figures without pyplot), so no backend is chosen

from sim.dashboard import data
from sim.dashboard.server import BASE_ENV, REPS_ENV, ROOT_ENV
from sim.errors import InputError, ParksimError

POLL_SECONDS = 0.5

root = solara.reactive(os.environ.get(ROOT_ENV, "results/runs"))
base_ref = solara.reactive(os.environ.get(BASE_ENV, "baseline"))
chosen = solara.reactive([])  # batch ids shown
refresh = solara.reactive(0)  # bumped when a new batch is stored
show_table = solara.reactive(False)
lever_values = solara.reactive({})
reps = solara.reactive(int(os.environ.get(REPS_ENV, "20")))
input_error = solara.reactive("")  # a lever or setting refused before anything runs


def error_text(exc: Exception) -> str:
    """The message the command line prints for the same error."""
    return f"parksim: error: {exc}" if isinstance(exc, ParksimError) else f"parksim: unexpected error: {exc!r}"


def _html_table(frame) -> str:
    return frame.to_html(index=False, border=0, classes="parksim-table", escape=True)


TABLE_CSS = """
.parksim-table { border-collapse: collapse; font-size: 13px; }
.parksim-table th, .parksim-table td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
"""


@solara.component
def BatchPicker(batches: list[dict]):
    with solara.Card("Stored batches", subtitle=f"finished batches in {root.value}"):
        if not batches:
            solara.Info(f"No finished batch in {root.value} yet: run one with 'parksim run' or below.")
        for b in batches:

            def toggle(on, bid=b["id"]):
                ids = [i for i in chosen.value if i != bid]
                chosen.value = [*ids, bid] if on else ids

            solara.Checkbox(label=b["choice"], value=b["id"] in chosen.value, on_value=toggle)


def _caption(view: data.View) -> str:
    shown = list(dict.fromkeys(view.labels.get(s, s) for s in view.outcomes["scenario"]))
    return "Scenarios shown: " + "; ".join(shown)


@solara.component
def Targets(view: data.View):
    with solara.Card("Chance of reaching the plan's targets"):
        fig = solara.use_memo(lambda: data.reach_figure(view.outcomes, view.labels), [id(view)])
        if fig is None:
            solara.Info("No finished run in the chosen batches.")
            return
        solara.FigureMatplotlib(fig, format="png")
        solara.Text(_caption(view), classes=["parksim-caption"])
        solara.Switch(label="Show the table", value=show_table)
        if show_table.value:
            table = data.reach_display(data.reach_table(view.outcomes, view.labels))
            solara.HTML(tag="div", unsafe_innerHTML=_html_table(table), classes=["parksim-reach-table"])


@solara.component
def Fans(view: data.View):
    with solara.Card("Over time: median and 90% band of replications, with the targets and the historical record"):
        fig = solara.use_memo(lambda: data.fan_figure(view), [id(view)])
        if fig is not None:
            solara.FigureMatplotlib(fig, format="png")
            solara.Text(_caption(view))


@solara.component
def Paired(view: data.View):
    keys = list(dict.fromkeys(view.outcomes["scenario"]))
    names = [view.labels.get(k, k) for k in keys]
    first = solara.use_reactive(names[-1] if names else "")
    second = solara.use_reactive(names[0] if names else "")
    with solara.Card("Paired differences (replicate i of each scenario shares a seed)"):
        if len(keys) < 2:
            solara.Info("Choose batches with at least two scenarios to compare them.")
            return
        with solara.Row():
            solara.Select(label="Scenario", value=first, values=names)
            solara.Select(label="minus the reference", value=second, values=names)
        chosen_a = first.value if first.value in names else names[-1]  # other batches chosen: back to defaults
        chosen_b = second.value if second.value in names else names[0]
        if chosen_a == chosen_b:
            solara.Info("Pick two different scenarios.")
            return
        by_label = dict(zip(names, keys, strict=True))
        a, b = by_label[chosen_a], by_label[chosen_b]
        table = data.paired_table(view.outcomes, view.labels, a, b)
        if table.empty:
            solara.Info("These scenarios share no seeds (they come from batches with different seeds).")
            return
        fig = data.paired_figure(view.outcomes, view.labels, a, b)
        if fig is not None:
            solara.FigureMatplotlib(fig, format="png")
        solara.HTML(tag="div", unsafe_innerHTML=_html_table(table))


@solara.component
def ParkMap(view: data.View):
    keys = list(dict.fromkeys(view.monthly["scenario"])) if not view.monthly.empty else []
    months = data.months(view.monthly) if keys else []
    names = [view.labels.get(k, k) for k in keys]
    which = solara.use_reactive(names[0] if names else "")
    month_i = solara.use_reactive(len(months) - 1 if months else 0)
    with solara.Card("The park as a place"):
        if not keys:
            solara.Info("No monthly table in the chosen batches.")
            return
        solara.Select(label="Scenario", value=which, values=names)
        i = min(max(month_i.value, 0), len(months) - 1)
        solara.SliderInt(label=f"Month: {months[i]}", value=month_i, min=0, max=len(months) - 1)
        key = dict(zip(names, keys, strict=True)).get(which.value, keys[0])
        snap = data.park_snapshot(view.monthly, key, months[i])
        fig = data.park_figure(snap, f"{view.labels.get(key, key)}, {months[i]} (median of replications)")
        solara.FigureMatplotlib(fig, format="png")


@solara.lab.task
def package_run(base: str, values: dict, n: int, folder_root: str) -> dict:
    """Run the package and its base in a worker thread; progress is read from the parts stored so far."""
    from sim.run.batch import new_batch_id

    batch_id = new_batch_id(f"dashboard {base} {sorted(values.items())}")
    outcome: dict = {"id": batch_id, "planned": 2 * n}

    def work():
        try:
            batch = data.launch(base, values, n, folder_root, batch_id=batch_id)
            if batch.failed:  # as 'parksim run' reports it; the finished runs are stored and shown
                outcome["failed"] = f"{batch.failed} of {batch.n_runs} runs failed; see 'parksim show {batch_id}'"
        except Exception as exc:  # noqa: BLE001 - shown to the user as the CLI would print it
            outcome["error"] = error_text(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    folder = Path(folder_root) / batch_id
    while worker.is_alive():
        package_run.progress = 100.0 * data.runs_done(folder) / (2 * n)
        worker.join(POLL_SECONDS)
    if "error" not in outcome:
        refresh.value += 1
        chosen.value = [batch_id]
    return outcome


@solara.component
def TryPackage():
    from sim.model.scenario import load_scenario

    def load():
        try:
            return load_scenario(base_ref.value), ""
        except ParksimError as exc:
            return None, error_text(exc)

    base, problem = solara.use_memo(load, [base_ref.value])
    if base is None:
        solara.Error(problem)
        return
    specs = data.lever_specs(base)
    values = {s.name: lever_values.value.get(s.name, s.default) for s in specs}

    def setter(name):
        def set_value(v):
            lever_values.value = {**lever_values.value, name: v}

        return set_value

    with solara.Card("Try a package of levers", subtitle=f"changes on top of: {base.label}"):
        for s in specs:
            with solara.Row(style={"align-items": "center"}):
                with solara.Column(style={"width": "260px"}):
                    solara.SliderFloat(label="", value=min(max(values[s.name], s.low), s.high), min=s.low,
                                       max=s.high, step=s.step, on_value=setter(s.name))  # fmt: skip
                solara.InputFloat(label=f"{s.label} ({s.unit})", value=values[s.name], on_value=setter(s.name),
                                  continuous_update=False, style={"width": "420px"})  # fmt: skip
                solara.Text(f"allowed {s.low:g} to {s.high:g} {s.unit}; {s.description}", style={"font-size": "12px"})
        solara.InputInt(label="Replications per scenario", value=reps, continuous_update=False)

        def start():
            try:
                data.package_scenario(base, values)  # refuse out-of-range levers before starting anything
                if reps.value is None or int(reps.value) < 1:
                    raise InputError("parksim dashboard", "replications", f"must be at least 1, got {reps.value!r}")
            except ParksimError as exc:
                input_error.value = error_text(exc)
                return
            input_error.value = ""
            package_run(base_ref.value, values, int(reps.value), root.value)

        solara.Button(f"Run {reps.value} replications of the package and of {base.name}", on_click=start,
                      color="primary", disabled=package_run.pending)  # fmt: skip
        if package_run.pending:
            done = package_run.progress or 0
            solara.ProgressLinear(value=done if done else True)
            solara.Text(f"Running: {done:.0f}% of the runs stored", classes=["parksim-progress"])
        if input_error.value:
            solara.Error(input_error.value, classes=["parksim-run-error"])
        elif package_run.error:
            solara.Error(error_text(package_run.exception), classes=["parksim-run-error"])
        elif package_run.finished and package_run.value:
            result = package_run.value
            if "error" in result:
                solara.Error(result["error"], classes=["parksim-run-error"])
            else:
                text = f"Stored batch {result['id']} ({result['planned']} runs) under {root.value}; shown above."
                solara.Success(text, classes=["parksim-run-done"])
                if "failed" in result:
                    solara.Warning(f"parksim: {result['failed']}", classes=["parksim-run-error"])


def _load(ids: list[str], folder_root: str) -> tuple[data.View | None, str]:
    if not ids:
        return None, ""
    try:
        return data.load_view(ids, folder_root), ""
    except ParksimError as exc:
        return None, error_text(exc)


@solara.component
def Page():
    solara.Title("West Taihu park: policy dashboard")
    solara.Style(TABLE_CSS)
    batches = solara.use_memo(lambda: data.finished_batches(root.value), [root.value, refresh.value])
    view, error = solara.use_memo(lambda: _load(chosen.value, root.value), [tuple(chosen.value), refresh.value])
    with solara.Column(style={"max-width": "1300px", "padding": "12px"}):
        solara.Markdown("# West Taihu Science and Technology Industrial Park: policy dashboard")
        BatchPicker(batches)
        if error:
            solara.Error(error)
        if view is not None:
            Targets(view)
            Fans(view)
            Paired(view)
            ParkMap(view)
        TryPackage()
