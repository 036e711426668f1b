"""What the portable exp and log cost per number, and what scaling by one multiply saved.

Every exp and log that feeds the model's state goes through sim.model.portable
(the same bits on every CPU). Their compiled loops (sim.model._jit) are called
from every compiled process. This script times, per element, on arrays of the
sizes a month uses:

- ``exp_into`` and ``log_into`` (what the model runs);
- ``exp`` as it was before 2026-12-05, scaling by ``math.ldexp`` (the C
  library's call), kept here as the reference the new scaling must equal;
- the numpy reference code (``exp_numpy``, ``log_numpy``: ``PARKSIM_NO_JIT``);
- ``np.exp`` and ``np.log`` for scale only (CPU-dependent bits: not usable).

It checks that the compiled loops give the reference's bits on every input it
times (a million uniform exponents over exp's whole range, subnormal results
included), then prints nanoseconds per element, medians over ``--reps``.

    python benchmarks/bench_portable.py --reps 15 --json FILE

A benchmark, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numba
import numpy as np

from sim.model import _jit, portable
from sim.model._jit import EXP_MAX, EXP_MIN

SEED = 20161205  # seed of the timed inputs [definition: any fixed seed]
SIZES = (1_000, 100_000)  # a month's typical array (about 1,000 firms) and a large one


@numba.njit(nogil=True)
def _exp1_ldexp(v):  # pragma: no cover - compiled
    """exp of one float64 as sim.model._jit computed it before 2026-12-05: scaled by ``math.ldexp``."""
    if v != v or v > EXP_MAX or v < EXP_MIN:
        return _jit.exp1(v)  # the special values: unchanged
    p, k = _jit.exp_parts(v)
    return math.ldexp(p, k)


@numba.njit(nogil=True)
def exp_into_ldexp(a, out):  # pragma: no cover - compiled
    for i in range(a.size):
        out[i] = _exp1_ldexp(a[i])


def _inputs(rng, size):
    """Exponents as the model's (a few units either side of 0) and positive numbers over many decades."""
    return {"exp": rng.normal(0.0, 3.0, size), "log": rng.lognormal(0.0, 3.0, size)}


def _same_bits(a, b) -> bool:
    return a.shape == b.shape and bool((a.view(np.uint64) == b.view(np.uint64)).all())


def check_bits(rng) -> None:
    """The compiled loops against their references, on wide inputs and the edges; raises if any bit differs."""
    wide = np.concatenate([rng.uniform(EXP_MIN, EXP_MAX, 1_000_000), [EXP_MIN, EXP_MAX, -708.4, -709.0, -744.0, 0.0]])
    new, old = np.empty_like(wide), np.empty_like(wide)
    _jit.exp_into(wide, new)
    exp_into_ldexp(wide, old)
    if not (_same_bits(new, old) and _same_bits(new, portable.exp_numpy(wide))):
        raise SystemExit("exp_into differs from the ldexp loop or exp_numpy: the bits changed")
    positive = 10.0 ** rng.uniform(-320.0, 308.0, 1_000_000)
    out = np.empty_like(positive)
    _jit.log_into(positive, out)
    if not _same_bits(out, portable.log_numpy(positive)):
        raise SystemExit("log_into differs from log_numpy: the bits changed")


def _ns_per_element(fn, x, reps: int) -> float:
    fn(x)  # compiled and warm
    loops = max(1, 200_000 // len(x))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(loops):
            fn(x)
        times.append((time.perf_counter() - start) / loops / len(x) * 1e9)
    return statistics.median(times)


def _into(kernel):
    def run(x):
        out = np.empty_like(x)
        kernel(x, out)
        return out

    return run


def measure(reps: int) -> dict:
    rng = np.random.default_rng(SEED)
    check_bits(rng)
    kinds = {
        "exp": {
            "exp_into (now)": _into(_jit.exp_into),
            "exp_into with ldexp (before)": _into(exp_into_ldexp),
            "exp_numpy (PARKSIM_NO_JIT)": portable.exp_numpy,
            "np.exp (CPU-dependent)": np.exp,
        },
        "log": {
            "log_into (now)": _into(_jit.log_into),
            "log_numpy (PARKSIM_NO_JIT)": portable.log_numpy,
            "np.log (CPU-dependent)": np.log,
        },
    }
    figures = {}
    for size in SIZES:
        x = _inputs(rng, size)
        for kind, fns in kinds.items():
            for name, fn in fns.items():
                figures[f"{name} | {size}"] = _ns_per_element(fn, x[kind], reps)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions per figure (median)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    figures = measure(args.reps)
    print("bits: exp_into = ldexp loop = exp_numpy, log_into = log_numpy on 1,000,006 and 1,000,000 inputs")
    print("| function | elements | ns per element |")
    print("|---|---|---|")
    for key, ns in figures.items():
        name, size = key.split(" | ")
        print(f"| {name} | {int(size):,} | {ns:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"reps": args.reps, "ns_per_element": figures}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
