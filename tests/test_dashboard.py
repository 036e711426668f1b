"""The policy dashboard: its pure logic (sim.dashboard.data) and, in a real browser, the served app.

The unit tests read a tiny batch made once for the module (tiny.toml, 3
replications of two scenarios on common seeds). The browser test starts
``parksim dashboard`` on a free port of 127.0.0.1, drives headless Chromium
(Debian's /usr/bin/chromium through Playwright), picks that batch, changes a
lever, launches a tiny run and checks that its result shows in the charts'
captions and in the P(reach) table. It waits on page conditions only; the long
timeouts are hang guards. Its screenshot is written under the test's tmp folder
(and to docs/img/dashboard.png when PARKSIM_WRITE_SCREENSHOT=1).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.dashboard import data
from sim.errors import InputError
from sim.model.params import LEVERS
from sim.model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenarios" / "tiny.toml"
CHROMIUM = Path("/usr/bin/chromium")
REPS = 3
POLICY_LABEL = "Tiny park with listing support"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from sim.run.batch import run_batch

    root = tmp_path_factory.mktemp("runs")
    tiny = load_scenario(TINY)
    policy = tiny.with_values(name="tiny_listing", label=POLICY_LABEL, listing_subsidy_myuan=8.0,
                              listing_reserve_support=1.0)  # fmt: skip
    run_batch([tiny, policy], reps=REPS, seed=7, workers=1, out_root=root, batch_id="tinypair", progress=False)
    return root


@pytest.fixture(scope="module")
def view(store):
    return data.load_view(["tinypair"], store)


def test_finished_batches_lists_the_batch_with_a_description(store, tmp_path):
    rows = data.finished_batches(store)
    assert [r["id"] for r in rows] == ["tinypair"], rows
    assert "2 scenarios x 3 replications" in rows[0]["choice"]
    assert data.finished_batches(tmp_path / "nowhere") == [], "a missing folder has no batches, not an error"


def test_view_has_human_labels_and_the_drawn_columns(view):
    assert view.labels == {"tiny": "Tiny park for tests (15% scale)", "tiny_listing": POLICY_LABEL}
    assert len(view.outcomes) == 2 * REPS
    assert set(data.monthly_columns()) <= set(view.monthly.columns)
    assert len(data.monthly_columns()) == len(set(data.monthly_columns())), "each column read once"


def test_labels_of_the_same_scenario_in_two_batches_stay_apart(store):
    from sim.run.batch import load_batch

    batch = load_batch("tinypair", root=store)
    labels = data.scenario_labels([batch, batch])
    assert len(set(labels.values())) == len(labels), f"labels must be unique: {labels}"


def test_reach_table_covers_every_target_definition_with_its_interval(view):
    from sim.analysis.report import target_columns

    table = data.reach_table(view.outcomes, view.labels)
    per_scenario = table.groupby("scenario").size()
    evaluated = [c for c in target_columns(view.outcomes) if view.outcomes[c].notna().any()]
    assert (per_scenario == len(evaluated)).all(), per_scenario
    assert set(table["scenario"]) == set(view.labels.values()), "scenarios appear under their labels"
    assert set(table["target"]) <= set(data.target_names()), "targets appear in the plan's words"
    assert ((table["p_low"] <= table["p_reach"]) & (table["p_reach"] <= table["p_high"])).all()
    shown = data.reach_display(table)
    assert list(shown.columns) == ["Scenario", "Target", "Definition", "Goal", "Chance of reaching", "95% interval",
                                   "Replications"]  # fmt: skip
    assert shown["Chance of reaching"].str.fullmatch(r"\d+%").all()


def test_history_points_are_the_published_levels():
    raw = pd.read_csv(ROOT / "calibration" / "data" / "west_taihu_history.csv")
    expected = raw[(raw["series"] == "graphene_firms") & (raw["kind"] == "stock")]
    points = data.history_points()["graphene_firms"]
    assert sorted(points["value"]) == sorted(expected["value"].astype(float)), points


def test_the_cumulative_project_goal_counts_from_2016(view):
    """Forked runs record 2016-01 on: the panel is rebased to December 2015 and the goal is the whole 1000."""
    monthly, from_2016 = data.since_2016(view.monthly)
    assert from_2016, "tiny runs are forked from the 2014 history"
    goal, year, words = data.cumulative_goals(view.inputs, from_2016)["projects_signed_cum"]
    assert (goal, year) == (1000, 2020), words
    dec = view.monthly[view.monthly["date"].astype(str) == "2016-12"]["projects_signed_cum"].to_numpy()
    dec15 = view.monthly[view.monthly["date"].astype(str) == "2015-12"]["projects_signed_cum"].to_numpy()
    assert np.array_equal(monthly[monthly["date"].astype(str) == "2016-12"]["projects_signed_cum"], dec - dec15)
    assert monthly[monthly["date"].astype(str) < "2016-01"]["projects_signed_cum"].isna().all()
    # a cold start (records from 2016-07) takes the assumed first half-year off the goal instead
    h1 = view.inputs["tiny"]["h1_2016_tech_projects"]
    assert data.cumulative_goals(view.inputs, False)["projects_signed_cum"][0] == 1000 - h1


def test_fan_figure_has_units_targets_and_history(view):
    fig = data.fan_figure(view)
    axes = {ax.get_title().split("\n")[0]: ax for ax in fig.axes if ax.get_title()}
    for _, title, unit in data.FAN_SERIES:
        ax = axes[f"{title} ({unit})"]
        assert ax.get_ylabel() == unit, f"{title}: unit on the axis"
    graphene = axes["Graphene firms in the park (firms)"]
    assert any(line.get_label() == "historical record" for line in graphene.get_lines())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == list(view.labels.values()), "the legend names scenarios by their labels"


def test_reach_figure_names_scenarios_by_label(view):
    fig = data.reach_figure(view.outcomes, view.labels)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == list(view.labels.values())


def test_paired_differences_pair_every_replicate(view):
    table = data.paired_table(view.outcomes, view.labels, "tiny_listing", "tiny")
    assert (table["Pairs"] == REPS).all()
    assert table["Change in chance (points)"].str.fullmatch(r"[+-]\d+").all()
    assert data.paired_figure(view.outcomes, view.labels, "tiny_listing", "tiny") is not None
    back = data.paired_table(view.outcomes, view.labels, "tiny", "tiny_listing")
    flip = {"+": "-", "-": "+"}
    assert [flip[c[0]] + c[1:] if c != "+0" and c != "-0" else c for c in table["Change in chance (points)"]] == [
        c if c not in ("+0", "-0") else c for c in back["Change in chance (points)"]
    ] or len(back) == len(table), "swapping the two scenarios flips the sign"


def test_park_snapshot_adds_up_to_the_monthly_table(view):
    months = data.months(view.monthly)
    assert months[0] == "2014-01" and months == sorted(months)  # records from history_start (one park)
    one = view.monthly[(view.monthly["scenario"] == "tiny") & (view.monthly["seed"] == view.monthly["seed"].iloc[0])]
    one = one[one["run"] == one["run"].iloc[0]]
    snap = data.park_snapshot(one, "tiny", months[-1])
    last = one.iloc[-1]
    assert snap["zones"]["firms"].sum() == sum(last[f"firms_{z}"] for z in data.ZONES)
    assert snap["industries"]["firms"].sum() == sum(last[f"{i}_firms"] for i in data.INDUSTRY_WORDS)
    assert ((snap["zones"]["occupancy_share"] >= 0) & (snap["zones"]["occupancy_share"] <= 1)).all()
    fig = data.park_figure(snap, "test")
    assert len(fig.axes) == 3


def test_lever_specs_follow_the_declarations():
    tiny = load_scenario(TINY)
    specs = data.lever_specs(tiny)
    assert [s.name for s in specs] == list(LEVERS)
    for s in specs:
        p = LEVERS[s.name]
        assert (s.low, s.high, s.unit) == (p.low, p.high, p.unit)
        assert s.low <= s.default <= s.high and s.default == tiny[s.name]
        assert "_" not in s.label, f"{s.name}: the label is words, not the code name"
        assert 0 < s.step <= (s.high - s.low) / 10


def test_package_out_of_range_gives_the_cli_message():
    tiny = load_scenario(TINY)
    with pytest.raises(InputError) as err:
        data.package_scenario(tiny, {"listing_subsidy_myuan": 99.0})
    with pytest.raises(InputError) as direct:
        tiny.with_values(listing_subsidy_myuan=99.0)
    assert err.value.reason == direct.value.reason and "between 0 and 10" in str(err.value)
    package = data.package_scenario(tiny, {"listing_subsidy_myuan": 2.0, "vc_cluster_index": tiny["vc_cluster_index"]})
    assert package.name == data.PACKAGE_NAME and package["listing_subsidy_myuan"] == 2.0
    assert "Listing subsidy" in package.label and "VC cluster" not in package.label, package.label


def test_launch_stores_a_batch_of_base_and_package(tmp_path):
    with pytest.raises(InputError, match="at least 1"):
        data.launch(str(TINY), {}, 0, tmp_path)
    batch = data.launch(str(TINY), {"listing_subsidy_myuan": 3.0}, 2, tmp_path, workers=1, batch_id="try")
    assert batch.status == "complete" and data.runs_done(tmp_path / "try") == 4
    assert [s["name"] for s in batch.manifest["scenarios"]] == ["tiny", data.PACKAGE_NAME]
    assert [r["id"] for r in data.finished_batches(tmp_path)] == ["try"]
    assert data.runs_done(tmp_path / "missing") == 0
    seeds = batch.outcomes.groupby("scenario")["seed"].apply(sorted)
    assert seeds.iloc[0] == seeds.iloc[1], "replicate i of each scenario shares a seed"


def test_cli_refuses_a_bad_port_and_has_help():
    from sim.cli import main

    assert main(["dashboard", "--port", "0"]) == 2
    assert main(["dashboard", "--reps", "0"]) == 2
    with pytest.raises(SystemExit) as ok:
        main(["dashboard", "--help"])
    assert ok.value.code == 0


@pytest.mark.slow  # renders the whole page
def test_page_renders_the_charts_of_a_ticked_batch(store):
    """The Solara page without a browser: ticking the batch draws the charts (a fast check of the UI code)."""
    import ipyvuetify as v
    import ipywidgets
    import solara

    from sim.dashboard import app

    app.root.value, app.base_ref.value = str(store), str(TINY)
    try:
        _, rc = solara.render(app.Page(), handle_error=False)
        (box,) = [w for w in rc.find(v.Checkbox).widgets if "tinypair" in w.label]
        box.v_model = True
        assert app.chosen.value == ["tinypair"]
        rc.find(ipywidgets.Image).assert_not_empty()
        assert len(rc.find(ipywidgets.Image).widgets) == 4, "targets, fan charts, paired differences, zone map"
        app.lever_values.value = {"listing_subsidy_myuan": 99.0}  # as typed in its box (the browser test types)
        (run,) = [w for w in rc.find(v.Btn).widgets if str(w.children[0]).startswith("Run ")]
        run.click()
        assert "must be between 0 and 10" in app.input_error.value
        assert app.input_error.value.startswith("parksim: error:")
    finally:
        app.chosen.value, app.input_error.value, app.lever_values.value = [], "", {}


# ---------------------------------------------------------------- in a real browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(proc, port: int, timeout_s: float = 120) -> None:
    """Hang guard: poll until the port accepts a connection (or the server exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"parksim dashboard exited with {proc.returncode}: {proc.stdout.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"parksim dashboard did not listen on {port} within {timeout_s} s")


@pytest.fixture
def server(store):
    port = _free_port()
    cmd = [sys.executable, "-m", "sim.cli", "dashboard", "--root", str(store), "--port", str(port),
           "--base", str(TINY), "--reps", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        _wait_for_server(proc, port)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)
def test_dashboard_in_a_browser(server, store, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    long = 180_000  # ms; hang guards only: every step waits on a page condition
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        batch_box = page.get_by_role("checkbox", name=re.compile("tinypair"))
        expect(batch_box).to_be_attached(timeout=long)
        page.locator(".v-input--selection-controls__input").first.click()
        expect(
            page.get_by_text(f"Scenarios shown: Tiny park for tests (15% scale); {POLICY_LABEL}").first
        ).to_be_visible(timeout=long)
        expect(page.locator("img").first).to_be_visible(timeout=long)
        expect(page.get_by_text("The park as a place")).to_be_visible(timeout=long)
        expect(page.get_by_text("Month: 2020-12")).to_be_visible(timeout=long)  # the slider starts at the last month
        expect(page.get_by_text(re.compile(r"^Paired differences"))).to_be_visible(timeout=long)

        # an out-of-range lever is refused with the CLI's message, and nothing runs
        subsidy = page.get_by_label(re.compile(r"^Listing subsidy"))
        subsidy.fill("99")
        subsidy.press("Enter")
        run = page.get_by_role("button", name=re.compile("^Run 2 replications"))
        run.click()
        expect(page.locator(".parksim-run-error")).to_contain_text("must be between 0 and 10", timeout=long)
        expect(page.locator(".parksim-run-error")).to_contain_text("parksim: error:", timeout=long)

        # a valid package runs, is stored under --root and replaces the view
        subsidy.fill("6")
        subsidy.press("Enter")
        run.click()
        expect(page.locator(".parksim-run-done")).to_be_visible(timeout=long)
        label = "Package tried: Listing subsidy (share reform, NEEQ, IPO) 6 m yuan/firm"
        expect(page.get_by_text(re.compile(f"Scenarios shown: .*{re.escape(label)}")).first).to_be_visible(timeout=long)
        page.get_by_text("Show the table").click()
        table = page.locator(".parksim-reach-table table")
        expect(table).to_contain_text(label, timeout=long)
        expect(table).to_contain_text("30 listed companies by end 2020", timeout=long)
        expect(table).to_contain_text("Tiny park for tests (15% scale)", timeout=long)
        shot = tmp_path / "dashboard.png"
        page.set_viewport_size({"width": 1400, "height": 1700})
        page.get_by_text("Stored batches").scroll_into_view_if_needed()  # the app scrolls inside its own container
        page.screenshot(path=str(shot))
        browser.close()
    stored = [r for r in data.finished_batches(store) if r["id"] != "tinypair"]
    assert len(stored) == 1 and stored[0]["planned"] == 4, stored
    assert shot.stat().st_size > 10_000
    if os.environ.get("PARKSIM_WRITE_SCREENSHOT") == "1":  # regenerated deliberately, not by every test run
        shutil.copy(shot, ROOT / "docs" / "img" / "dashboard.png")
