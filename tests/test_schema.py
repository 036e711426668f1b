"""The shared validation layer (sim.schema), through each of the three file kinds and on its own.

Scenario, design and calibration job files are read by one function and checked
by one walker; each case below is written once per file kind, so that a kind
that drifts from the shared rules (an unknown key without the allowed list, a
nested key without its dotted path, a numpy scalar refused or NaN accepted)
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.design import DESIGN_FILE, DesignError, load_design
from sim.calibration.job import JOB_FILE, JobError, load_job
from sim.errors import InputError
from sim.model.scenario import SCENARIO_FILE, ScenarioError, load_scenario
from sim.schema import Choice, ListOf, Number, Table, Text, read_toml, validate

LOADERS = {
    "scenario": (load_scenario, ScenarioError),
    "design": (load_design, DesignError),
    "job": (load_job, JobError),
}
SPECS = {"scenario": SCENARIO_FILE, "design": DESIGN_FILE, "job": JOB_FILE}
GRID = 'method = "grid"\n'


def refused(tmp_path: Path, kind: str, text: str) -> InputError:
    """The error loading ``text`` as a file of ``kind`` raises; it must be that kind's error and name the file."""
    path = tmp_path / f"{kind}.toml"
    path.write_text(text, encoding="utf-8")
    load, error = LOADERS[kind]
    with pytest.raises(error) as info:
        load(path)
    assert str(path) in str(info.value), f"the message names the file: {info.value}"
    return info.value


# ----------------------------------------------------------------- unknown keys list the allowed keys
@pytest.mark.parametrize(
    ("kind", "text", "key", "allowed"),
    [
        ("scenario", 'colour = "red"\n', "colour", ("name", "levers", "params", "policies")),
        ("design", GRID + "repeats = 3\n", "repeats", ("method", "levels", "points", "factors")),
        ("job", "repeats = 3\n", "repeats", ("method", "params", "series", "distance", "abc", "msm")),
    ],
)
def test_an_unknown_top_level_key_lists_every_allowed_key(tmp_path, kind, text, key, allowed):
    err = refused(tmp_path, kind, text)
    assert err.key == key and "allowed top-level keys" in err.reason, err
    assert all(word in err.reason for word in allowed), f"every allowed key is listed: {err}"


@pytest.mark.parametrize(
    ("kind", "text", "key", "allowed"),
    [
        ("scenario", '[policies.attraction]\nstop = "2018-12"\n', "policies.attraction.stop", "start, end, enabled"),
        ("design", GRID + "[levers]\nvc_cluster_index = { low = 0.5, hi = 2 }\n", "levers.vc_cluster_index.hi",
         "low, high, levels, values, scale"),
        ("job", "[[series]]\nseries = 'a'\n[[series]]\nfrm = 'b'\n", "series[1].frm",
         "series, frame, weight, from, to, confidence"),
        ("job", "[distance.rel_sd]\nX = 0.1\n", "distance.rel_sd.X", "H, M, L"),
    ],
)  # fmt: skip
def test_an_unknown_nested_key_is_named_by_its_dotted_path_with_the_allowed_keys(tmp_path, kind, text, key, allowed):
    err = refused(tmp_path, kind, text)
    assert err.key == key and f"allowed: {allowed}" in err.reason, err


@pytest.mark.parametrize(
    ("kind", "text", "key"),
    [
        ("scenario", "[levers]\nleads_per_month = 40.0\n", "levers.leads_per_month"),
        ("design", GRID + "[levers]\nleads_per_month = [20.0, 40.0]\n", "levers.leads_per_month"),
    ],
)
def test_an_input_in_the_wrong_section_says_where_it_belongs(tmp_path, kind, text, key):
    err = refused(tmp_path, kind, text)
    assert err.key == key and "belongs in [params]" in err.reason and "eco_max_pollution_index" in err.reason, err


# ----------------------------------------------------------------- numbers: NaN refused, numpy accepted
@pytest.mark.parametrize(
    ("kind", "text", "key"),
    [
        ("scenario", "[levers]\nvc_cluster_index = nan\n", "levers.vc_cluster_index"),
        ("design", GRID + "[levers]\nvc_cluster_index = [nan, 2.0]\n", "levers.vc_cluster_index.low"),
        ("design", GRID + "[factors.f]\nlow = { vc_cluster_index = 1 }\nhigh = { vc_cluster_index = inf }\n",
         "factors.f.high.vc_cluster_index"),
        ("job", "[abc]\nquantile = nan\n", "abc.quantile"),
        ("job", "[distance.min_sd]\nfirms = -inf\n", "distance.min_sd.firms"),
    ],
)  # fmt: skip
def test_nan_and_infinity_are_refused_at_their_key(tmp_path, kind, text, key):
    err = refused(tmp_path, kind, text)
    assert err.key == key and "finite" in err.reason, err


@pytest.mark.parametrize(
    ("kind", "table", "where"),
    [
        ("scenario", {"levers": {"vc_cluster_index": np.float32(1.5), "leading_support_firms": np.int64(3)}}, "levers"),
        ("job", {"seed": np.int64(4), "abc": {"population": np.int32(50), "quantile": np.float64(0.3)}}, "abc"),
        ("job", {"distance": {"rel_sd": {"H": np.float32(0.25)}}}, "distance"),
    ],
)
def test_numpy_scalars_are_accepted_and_come_back_as_plain_numbers(tmp_path, kind, table, where):
    checked = validate(table, SPECS[kind], tmp_path / f"{kind}.toml", error=LOADERS[kind][1])
    json.dumps(checked)  # plain Python numbers serialise
    numbers = [v for v in _leaves(checked[where])]
    assert numbers and all(type(v) in (int, float) for v in numbers), checked


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    else:
        yield value


def test_a_design_takes_numpy_numbers_in_its_ranges(tmp_path):
    from sim.analysis.design import factors_of

    data = {"levers": {"vc_cluster_index": {"low": np.float32(0.5), "high": np.int64(2), "levels": np.int64(3)}}}
    (factor,) = factors_of(tmp_path / "d.toml", data, "grid")
    assert type(factor.low["vc_cluster_index"]) is float and len(factor.grid()) == 3


@pytest.mark.parametrize(
    ("kind", "text", "key"),
    [
        ("scenario", "[levers]\nvc_cluster_index = true\n", "levers.vc_cluster_index"),
        ("job", "[abc]\npopulation = true\n", "abc.population"),
    ],
)
def test_a_bool_is_not_a_number(tmp_path, kind, text, key):
    err = refused(tmp_path, kind, text)
    assert err.key == key and "must be a number" in err.reason, err


# ----------------------------------------------------------------- reading files
@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_every_kind_is_read_the_same_way(tmp_path, kind):
    err = refused(tmp_path, kind, "[levers\nx = 1\n")
    assert err.key is None and "not valid TOML" in err.reason and "line 1" in err.reason, err
    path = tmp_path / "bom.toml"
    path.write_text('\ufeffname = "bom"\n', encoding="utf-8")
    assert read_toml(path, LOADERS[kind][1]) == {"name": "bom"}, "a UTF-8 byte-order mark is allowed"


@pytest.mark.parametrize(("kind", "text", "key"), [("design", GRID + "levers = 3\n", "levers"),
                                                   ("scenario", "policies = 3\n", "policies"),
                                                   ("job", "abc = 3\n", "abc")])  # fmt: skip
def test_a_section_that_is_not_a_table_is_refused(tmp_path, kind, text, key):
    err = refused(tmp_path, kind, text)
    assert err.key == key and "must be a table" in err.reason, err


# ----------------------------------------------------------------- the walker on its own
SPEC = Table(
    {
        "name": Text(),
        "kind": Choice(("a", "b"), "kind"),
        "n": Number(1, 10, integer=True),
        "items": ListOf(Table({"x": Number(0.0)})),
        "by": Table(each=Number(), names=("p", "q")),
    },
    top=True,
)


@pytest.mark.parametrize(
    ("table", "key", "needle"),
    [
        ({"nme": "x"}, "nme", "allowed top-level keys: name, kind, n, items, by"),
        ({"name": 3}, "name", "must be a string"),
        ({"kind": "c"}, "kind", "unknown kind 'c'; allowed: a, b"),
        ({"n": 0}, "n", "must be at least 1"),
        ({"n": 11}, "n", "must be at most 10"),
        ({"n": 2.5}, "n", "whole number"),
        ({"items": []}, "items", "non-empty list"),
        ({"items": [{"x": 1}, {"x": -1}]}, "items[1].x", "at least 0"),
        ({"items": [{"x": 1}, {"y": 1}]}, "items[1].y", "allowed: x"),
        ({"by": {"r": 1}}, "by.r", "allowed: p, q"),
        ({"by": {"p": float("nan")}}, "by.p", "finite"),
    ],
)
def test_the_walker_names_the_dotted_key_and_what_is_allowed(table, key, needle):
    with pytest.raises(InputError) as info:
        validate(table, SPEC, "f.toml")
    assert info.value.key == key and needle in info.value.reason, info.value


def test_the_walker_returns_plain_checked_values_under_a_prefix():
    out = validate({"n": np.int64(3), "items": [{"x": np.float32(0.5)}]}, SPEC, "f.toml")
    assert out == {"n": 3, "items": [{"x": 0.5}]} and type(out["n"]) is int and type(out["items"][0]["x"]) is float
    with pytest.raises(InputError) as info:
        validate({"x": -1}, Table({"x": Number(0)}), "f.toml", key_prefix="items[0]")
    assert info.value.key == "items[0].x"
