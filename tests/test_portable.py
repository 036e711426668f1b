"""Results do not depend on the CPU (reproducibility contract).

numpy dispatches exp, log, log1p, expm1, power and tanh to different machine
code by CPU (AVX-512, AVX2, baseline x86-64, arm64), with different last bits.
The model computes them with :mod:`sim.model.portable`, which uses only correctly
rounded IEEE operations. These tests check (1) that no module of ``sim`` calls
the CPU-dependent functions, (2) that the portable functions are accurate, and
(3) that the same seeds give identical tables when numpy is told, through
``NPY_DISABLE_CPU_FEATURES``, to run the code paths of a CPU without this
machine's wider SIMD features.
"""

from __future__ import annotations

import ast
import functools
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from sim.model import portable

NUMPY_BANNED = {"exp", "log", "log1p", "expm1", "power", "float_power", "tanh", "log2", "log10", "exp2"}
NUMPY_BANNED |= {"sinh", "cosh", "sin", "cos", "tan", "arctan", "arcsin", "arccos", "cbrt"}
MATH_BANNED = {"exp", "log", "pow", "log1p", "expm1", "tanh", "log10", "exp2", "sin", "cos", "tan", "atan", "cbrt"}


def cpu_dependent_calls(source: str) -> list[str]:
    """Calls in ``source`` whose bits depend on the CPU: numpy/math transcendentals and real ``**``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id == "np" and node.attr in NUMPY_BANNED) or (
                node.value.id == "math" and node.attr in MATH_BANNED
            ):
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            integral = [isinstance(v, ast.Constant) and isinstance(v.value, int) for v in (node.left, node.right)]
            if not any(integral):  # x ** 2 and 2 ** k are exact; x ** y calls pow
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_scan_finds_what_it_looks_for():
    hits = cpu_dependent_calls("y = np.exp(x) + math.log(z) + a ** b + c ** 2 + 2 ** k + np.sqrt(d)")
    assert sorted(hits) == ["line 1: a ** b", "line 1: math.log", "line 1: np.exp"], hits


def test_no_module_of_sim_calls_cpu_dependent_functions():
    offenders = {}
    for path in sorted((ROOT / "sim").rglob("*.py")):
        if path.name != "portable.py":
            hits = cpu_dependent_calls(path.read_text(encoding="utf-8"))
            if hits:
                offenders[str(path.relative_to(ROOT))] = hits
    assert not offenders, f"use sim.model.portable instead (CPU-independent bits): {offenders}"


def ulps(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref) / np.spacing(np.abs(ref))))


def test_portable_functions_are_accurate_to_a_few_units_in_the_last_place():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700, 700, 20000), rng.uniform(-1, 1, 20000), rng.uniform(-1e-9, 1e-9, 100)])
    pos = np.concatenate([portable.exp(rng.uniform(-700, 700, 20000)), rng.uniform(0.5, 2, 20000), [5e-324, 1.7e308]])
    small = np.concatenate([rng.uniform(-0.99, 5, 20000), rng.uniform(-1e-9, 1e-9, 100)])
    # math's functions are the C library's, accurate to about half a unit in the last place
    assert ulps(portable.exp(x), np.array([math.exp(v) for v in x])) <= 2
    log_ref = np.array([math.log(v) for v in pos])
    assert ulps(portable.log(pos)[log_ref != 0], log_ref[log_ref != 0]) <= 4
    assert ulps(portable.log1p(small), np.array([math.log1p(v) for v in small])) <= 4
    assert ulps(portable.expm1(small), np.array([math.expm1(v) for v in small])) <= 4
    a, b = rng.uniform(1e-3, 100, 20000), rng.uniform(-3, 3, 20000)
    assert np.allclose(portable.power(a, b), np.array([math.pow(u, v) for u, v in zip(a, b, strict=True)]), rtol=1e-14)


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def test_fast_paths_give_the_bits_of_the_general_path():
    """The scalar (Python float) and all-ordinary-array shortcuts return exactly what the general code does.

    The general code runs whenever an array holds a special value (NaN, inf, 0, a negative, a value out of
    exp's range), so appending one NaN forces it on the same numbers.
    """
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, 5000), rng.uniform(-745, 709, 5000), [EXP_EDGE_LO, EXP_EDGE_HI, 0.0, -0.0]])
    pos = np.concatenate([portable.exp(rng.uniform(-700, 700, 5000)), rng.uniform(0.5, 2, 5000), [5e-324, 1.7e308]])
    general = {
        "exp": portable.exp(np.append(x, np.nan))[:-1],
        "log": portable.log(np.append(pos, np.nan))[:-1],
        "power": portable.power(np.append(pos, np.nan), 0.37)[:-1],
    }
    assert np.array_equal(_bits(portable.exp(x)), _bits(general["exp"]))
    assert np.array_equal(_bits(portable.log(pos)), _bits(general["log"]))
    assert np.array_equal(_bits(portable.power(pos, 0.37)), _bits(general["power"]))
    for i in range(0, len(x), 37):
        got = portable.exp(float(x[i]))
        assert isinstance(got, np.float64) and _bits(got) == _bits(general["exp"][i]), x[i]
        assert _bits(portable.exp(x[i])) == _bits(general["exp"][i]), x[i]
    for i in range(0, len(pos), 37):
        assert _bits(portable.log(float(pos[i]))) == _bits(general["log"][i]), pos[i]
        assert _bits(portable.power(float(pos[i]), 0.37)) == _bits(general["power"][i]), pos[i]
    assert _bits(portable.exp(3)) == _bits(portable.exp(np.array([3.0, np.nan]))[0])  # ints take the float path


EXP_EDGE_LO, EXP_EDGE_HI = portable.EXP_MIN, portable.EXP_MAX  # the shortcut's range is closed at both ends


def test_portable_functions_keep_the_ieee_special_values():
    nan, inf = np.nan, np.inf
    np.testing.assert_array_equal(
        portable.exp(np.array([nan, inf, -inf, 710.0, -746.0, 0.0])), [nan, inf, 0, inf, 0, 1]
    )
    np.testing.assert_array_equal(portable.log(np.array([0.0, -1.0, inf, nan, 1.0])), [-inf, nan, inf, nan, 0.0])
    np.testing.assert_array_equal(portable.log1p(np.array([-1.0, -2.0, inf, 0.0])), [-inf, nan, inf, 0.0])
    assert portable.power(0.0, 2.0) == 0.0 and portable.power(2.0, 0.0) == 1.0 and portable.power(0.0, -1.0) == inf
    assert isinstance(portable.exp(1.0), np.floating) and portable.exp(np.zeros((2, 3))).shape == (2, 3)


PROBE = """
import hashlib, json, sys
import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
from sim.model import portable
from sim.run.runner import replicate_seeds, run_scenario
from sim.model.scenario import load_scenario

h = hashlib.sha256()
for name in sys.argv[1:]:
    scenario = load_scenario(name)
    for i, seed in enumerate(replicate_seeds(20160701, 3)):
        run = run_scenario(scenario, seed=seed, replicate=i)
        h.update(run.monthly.to_csv().encode())
        h.update(json.dumps({k: float(v) for k, v in run.outcomes.items()}, sort_keys=True).encode())
x = np.linspace(-40.0, 40.0, 20001)
a = np.abs(x)
for out in (portable.exp(x), portable.log(a), portable.log1p(a), portable.expm1(x), portable.power(a, 0.3)):
    h.update(out.tobytes())
print(json.dumps({"hash": h.hexdigest(), "simd": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]}))
"""


def active_simd() -> list[str]:
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


def simd_variants() -> list[tuple[str, list[str]]]:
    """The narrower dispatch paths this machine can run: without its widest features, and baseline only."""
    active = active_simd()
    widest = [f for f in active if "AVX512" in f or f == "X86_V4" or f.startswith("SVE")]
    variants = [("baseline only", active)]
    if widest and len(widest) < len(active):
        variants.insert(0, ("without " + "/".join(widest), widest))
    return variants if active else []


@functools.cache
def probe(disabled: tuple[str, ...] = (), **env_vars: str) -> dict:
    """Hash of tiny's and the baseline's tables (3 seeds each) and of portable's outputs, in a fresh process.

    ``disabled``: numpy CPU features to switch off; ``env_vars``: further environment.
    """
    import json

    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(disabled), **env_vars}
    scenarios = [str(ROOT / "scenarios" / "tiny.toml"), str(ROOT / "scenarios" / "baseline.toml")]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *scenarios], capture_output=True, text=True, env=env, timeout=600, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not simd_variants(), reason="this CPU runs numpy's baseline code only: no narrower path to compare")
@pytest.mark.parametrize(
    "variant",
    # the widest-path variant stays in the fast tier; baseline-only (a second subprocess pair) is slow
    [pytest.param(v[0], marks=pytest.mark.slow) if v[0] == "baseline only" else v[0] for v in simd_variants()]
    or ["none"],
)
def test_same_seeds_give_identical_tables_on_narrower_simd_paths(variant):
    disabled = dict(simd_variants())[variant]
    here, there = probe(), probe(tuple(disabled))
    assert not set(disabled) & set(there["simd"]), f"numpy did not switch off {disabled}: runs {there['simd']}"
    assert here["hash"] == there["hash"], (
        f"tables differ between numpy's {here['simd']} paths and the paths {variant}: some computation that feeds "
        "the model still depends on the CPU"
    )


def test_compiled_loops_give_the_bits_of_the_numpy_code():
    """sim.model._jit's loops (numba, fastmath off) return exactly what portable's numpy code does.

    A million inputs over exp's and log's whole ranges, the edges and the special values: one fused
    multiply-add or reassociated sum in the compiled code would change the last bit of many of them.
    """
    from sim.model import _jit

    rng = np.random.default_rng(7)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, EXP_EDGE_LO, EXP_EDGE_HI, 709.79, -745.14, 5e-324, 1e-310, -1.0]
    x = np.concatenate([rng.uniform(-750, 750, 400_000), rng.normal(0, 3, 400_000), rng.uniform(-1e-6, 1e-6, 1000)])
    x = np.concatenate([x, specials])
    pos = np.concatenate([portable.exp_numpy(rng.uniform(-700, 700, 400_000)), rng.uniform(0, 4, 400_000), specials])
    for kernel, reference, values in ((_jit.exp_into, portable.exp_numpy, x), (_jit.log_into, portable.log_numpy, pos)):
        out = np.empty_like(values)
        kernel(values, out)
        same = _bits(out) == _bits(reference(values))
        assert same.all(), f"{kernel.__name__}: {int((~same).sum())} inputs differ, e.g. {values[~same][:5]}"
    assert portable.USE_JIT, "the model runs the compiled loops by default"
    grid = rng.uniform(0.1, 5.0, (4, 3))  # any shape goes through the loops flat and comes back shaped
    assert np.array_equal(_bits(portable.log(grid)), _bits(portable.log_numpy(grid)))
    assert portable.exp(np.float32(1.5)) == portable.exp_numpy(np.float32(1.5))


def test_same_seeds_give_identical_tables_with_generic_compiled_code():
    """numba compiles for this CPU (its widest vectors); for a generic x86-64 CPU the tables are the same.

    A fresh cache folder makes the subprocess compile for the generic target instead of loading this
    machine's cached code.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        generic = probe(NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=cache)
    assert probe()["hash"] == generic["hash"], "the compiled loops give other bits for numba's generic CPU target"


@pytest.mark.slow
def test_same_seeds_give_identical_tables_without_compiled_code():
    """PARKSIM_NO_JIT=1 (portable's numpy code only) gives the tables of the compiled loops."""
    assert probe()["hash"] == probe(PARKSIM_NO_JIT="1")["hash"]


def test_pairwise_sum_adds_in_numpys_order():
    """sim.model._jit.pairwise_sum gives ndarray.sum()'s bits: short, blocked and split runs, any offset."""
    from sim.model import _jit

    rng = np.random.default_rng(11)
    lengths = [0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 4097, 10_001, 70_000]
    lengths += rng.integers(1, 3000, 200).tolist()
    for n in lengths:
        a = rng.standard_normal(n + 5) * 10.0 ** rng.uniform(-3, 6, n + 5)  # magnitudes that round differently
        for lo in (0, 3):
            want = a[lo : lo + n].sum()
            got = _jit.pairwise_sum(a, lo, n)
            assert _bits(np.float64(got)) == _bits(want), f"n={n} lo={lo}: {got!r} != {want!r}"


def test_a_change_to_any_compiled_source_drops_the_cached_code_of_all_compiled_modules(tmp_path):
    """numba's cache only sees a function's own file: the shared stamp drops every compiled module's code.

    A cache folder holding the compiled modules' files and another module's under an old stamp loses
    the former only; under the current stamp it keeps everything. The stamp covers portable.py (the
    constants the loops read) and every compiled module.
    """
    from sim.model import _jit

    names = [f"{m}.f-1.py313.{ext}" for m in _jit.COMPILED_MODULES for ext in ("nbi", "1.nbc")]
    other = ["arrivals.g-3.py313.nbi", "_jitter.h-2.py313.nbi"]
    for name in names + other:
        (tmp_path / name).write_text("x")
    (tmp_path / _jit.STAMP_FILE).write_text("an older stamp")
    stamp = _jit.source_stamp()
    assert _jit.drop_stale_cache(tmp_path, stamp) == len(names)
    assert sorted(p.name for p in tmp_path.glob("*.nb[ic]")) == sorted(other)
    assert (tmp_path / _jit.STAMP_FILE).read_text() == stamp
    (tmp_path / names[0]).write_text("x")  # compiled under the current stamp: kept
    assert _jit.drop_stale_cache(tmp_path, stamp) == 0 and (tmp_path / names[0]).exists()
    assert set(_jit._STAMP_SOURCES) >= {"portable", *_jit.COMPILED_MODULES}
    compiled = {p.stem for p in Path(_jit.__file__).parent.glob("_jit*.py")}
    assert compiled == set(_jit.COMPILED_MODULES), "a compiled module outside the stamp would go stale unseen"
