"""Compiled loops of :mod:`sim.model.portable`: the same operations in the same order, element by element.

:mod:`sim.model.portable` evaluates exp and log with numpy ufuncs, about 30
of them per call; on the model's arrays of tens to a few thousand numbers that
is mostly call overhead (about a fifth of a baseline run's CPU, profiled). The
loops here do the same IEEE operations on one number at a time, compiled by
numba. Why the bits stay the same on every CPU:

- numba compiles with ``fastmath`` off, so LLVM keeps every multiply and add
  separate (no FMA contraction, no reassociation); ``+ - * /`` are correctly
  rounded on every IEEE machine, in any SIMD width;
- ``np.rint`` (round half to even), ``math.frexp`` and ``math.ldexp`` are exact;
  ``exp`` scales by ``2**k`` with one multiply where ``2**k`` is a normal double
  (built from its bits, exact): the product of the exact value is rounded once, as
  ``ldexp`` rounds it, so the same bits (and half the time of the C library's
  ``ldexp`` call); the rare ``k`` outside that range still calls ``ldexp``;
- the special values (NaN, infinities, zero, negatives) are handled by
  comparisons, as numpy's ``where`` passes handle them.

``tests/test_portable.py`` checks the loops against the numpy code bit for bit
on a million inputs and the special values, and runs whole scenarios with
numba's generic x86-64 code generation (``NUMBA_CPU_NAME=generic``) against
this machine's.

Compiled on first use and cached on disk (``cache=True``, numba's
``__pycache__`` next to this file or its user-wide cache), so a process pays
the compilation once per machine and a cache load (tens of ms) afterwards.
numba's cache sees only the file a function is defined in: a change to a
function it calls from another file, or to a constant it read from one, would
leave stale machine code. The compiled modules (this one, ``_jit_lifecycle``,
``_jit_talent``, ``_jit_zones``, ``_jit_finance``, ``_jit_metrics``, ``_jit_listing``) call
this one's functions or read portable's constants, so one stamp over all their sources guards them
together (:func:`drop_stale_cache`, run when this module is imported).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numba
import numpy as np
from numba.extending import intrinsic

from sim.model.portable import (
    _ATANH_ODD,
    _EXP_TAYLOR,
    EXP_MAX,
    EXP_MIN,
    INV_LN2,
    LN2_HI,
    LN2_LO,
    SQRT_HALF,
)

# Horner's rule runs from the highest coefficient down: reversed once here.
_EXP_DOWN = tuple(reversed(_EXP_TAYLOR))
_ATANH_DOWN = tuple(reversed(_ATANH_ODD))


# Exponents of the normal doubles: 2**k is one for k in this range [definition: IEEE 754 binary64].
_POW2_MIN_EXPONENT, _POW2_MAX_EXPONENT = -1022, 1023
_EXPONENT_BIAS, _MANTISSA_BITS = 1023, 52  # binary64's exponent bias and fraction width [definition: IEEE 754]


@intrinsic
def _int64_bits_as_float64(typingctx, bits):  # pragma: no cover - compiled
    """The float64 whose bit pattern is the int64 ``bits`` (a reinterpretation: no conversion, no rounding)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(numba.types.float64))

    return numba.types.float64(numba.types.int64), codegen


@numba.njit(cache=True, nogil=True)
def _pow2(k):  # pragma: no cover - compiled; tested through portable.exp
    """``2.0 ** k`` for an integer ``k`` in ``[-1022, 1023]``, built from its exponent bits (exact)."""
    return _int64_bits_as_float64((k + _EXPONENT_BIAS) << _MANTISSA_BITS)


@numba.njit(cache=True, nogil=True)
def exp_parts(v):  # pragma: no cover - compiled; tested through portable.exp
    """``(exp(r), k)`` with ``exp(v) = exp(r) * 2**k`` for a finite ``v`` in ``[EXP_MIN, EXP_MAX]``."""
    k = np.rint(v * INV_LN2)
    r = (v - k * LN2_HI) - k * LN2_LO
    p = _EXP_DOWN[0]
    for c in _EXP_DOWN[1:]:
        p = p * r
        p = p + c
    return p, np.int64(k)


@numba.njit(cache=True, nogil=True)
def exp1(v):  # pragma: no cover - compiled; tested through portable.exp
    """``exp(v)`` of one float64 (portable.exp's operations); the loops of this package call it."""
    if v != v:
        return np.nan
    if v > EXP_MAX:
        return np.inf
    if v < EXP_MIN:
        return 0.0
    p, ki = exp_parts(v)
    if ki >= _POW2_MIN_EXPONENT and ki <= _POW2_MAX_EXPONENT:  # 2**k is a normal double: scale by one multiply
        return p * _pow2(ki)
    return math.ldexp(p, ki)


@numba.njit(cache=True, nogil=True)
def exp_into(a, out):  # pragma: no cover - compiled; tested through portable.exp
    """``out[i] = exp(a[i])`` for flat float64 arrays (portable.exp's operations)."""
    for i in range(a.size):
        out[i] = exp1(a[i])


@numba.njit(cache=True, nogil=True)
def log1(v):  # pragma: no cover - compiled; tested through portable.log
    """``log(v)`` of one float64 (portable.log's operations); the loops of this package call it."""
    if v > 0.0 and v < np.inf:
        m, e = math.frexp(v)
        if m < SQRT_HALF:
            m = m * 2.0
            e = e - 1
        ef = float(e)
        f = (m - 1.0) / (m + 1.0)
        ff = f * f
        p = _ATANH_DOWN[0]
        for c in _ATANH_DOWN[1:]:
            p = p * ff
            p = p + c
        log_m = (2.0 * f) * p
        return ef * LN2_HI + (ef * LN2_LO + log_m)
    if v == 0.0:
        return -np.inf
    if v == np.inf:
        return np.inf
    return np.nan


@numba.njit(cache=True, nogil=True)
def log_into(a, out):  # pragma: no cover - compiled; tested through portable.log
    """``out[i] = log(a[i])`` for flat float64 arrays (portable.log's operations)."""
    for i in range(a.size):
        out[i] = log1(a[i])


@numba.njit(cache=True, nogil=True)
def power1(a, b):  # pragma: no cover - compiled; tested against portable.power
    """portable.power of one base and one exponent, element by element (its special cases included)."""
    if a != a or b != b or a < 0.0:
        return np.nan
    if b == 0.0:
        return 1.0
    if a == 0.0:
        return 0.0 if b > 0.0 else np.inf
    return exp1(b * log1(a))


# numpy's pairwise summation: up to this many terms a block is summed by _UNROLL accumulators, above
# it split in two [definition: PW_BLOCKSIZE and the unroll of numpy/_core/src/umath/loops_utils.h.src]
_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE [definition, numpy source]
_UNROLL = 8  # numpy's 8 accumulators [definition, numpy source]


@numba.njit(cache=True, nogil=True)
def _block_sum(a, lo, n):  # pragma: no cover - compiled; tested through pairwise_sum
    """The sum of a run of at most 128 terms as numpy adds it: one by one below 8, else 8 accumulators."""
    if n < _UNROLL:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r = a[lo : lo + _UNROLL].copy()
    i = _UNROLL
    while i < n - (n % _UNROLL):
        for k in range(_UNROLL):
            r[k] += a[lo + i + k]
        i += _UNROLL
    width = _UNROLL  # ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)): neighbours, then their sums
    while width > 1:
        width //= 2
        for k in range(width):
            r[k] = r[2 * k] + r[2 * k + 1]
    res = r[0]
    while i < n:
        res += a[lo + i]
        i += 1
    return res


# Depth of pairwise_sum's explicit stack: each level halves the run, so 64 levels hold any array.
_PAIRWISE_DEPTH = 64  # [definition: storage size, log2 of the longest array]


@numba.njit(cache=True, nogil=True)
def pairwise_sum(a, lo, n):  # pragma: no cover - compiled; tested against ndarray.sum
    """``a[lo:lo + n].sum()`` in numpy's order for a contiguous float64 array (so the same bits).

    numpy adds fewer than 8 terms one by one from 0; up to 128 terms in 8 interleaved
    accumulators, combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest
    one by one; a longer run splits in two at a multiple of 8 and adds the halves' sums (left +
    right). The halving runs on an explicit stack (numba cannot cache a recursive function that
    other compiled functions call).
    """
    if n <= _PAIRWISE_BLOCK:
        return _block_sum(a, lo, n)
    los = np.empty(2 * _PAIRWISE_DEPTH, np.int64)
    ns = np.empty(2 * _PAIRWISE_DEPTH, np.int64)
    split = np.zeros(2 * _PAIRWISE_DEPTH, np.bool_)
    sums = np.empty(2 * _PAIRWISE_DEPTH)
    top, n_sums = 0, 0
    los[0], ns[0] = lo, n
    while top >= 0:
        start, length = los[top], ns[top]
        if length <= _PAIRWISE_BLOCK:
            sums[n_sums] = _block_sum(a, start, length)
            n_sums += 1
            top -= 1
        elif not split[top]:  # first visit: its halves go on the stack, the left one on top
            split[top] = True
            half = length // 2
            half -= half % _UNROLL
            los[top + 1], ns[top + 1], split[top + 1] = start + half, length - half, False
            los[top + 2], ns[top + 2], split[top + 2] = start, half, False
            top += 2
        else:  # both halves summed: the left one's sum was pushed first
            sums[n_sums - 2] = sums[n_sums - 2] + sums[n_sums - 1]
            n_sums -= 1
            top -= 1
    return sums[0]


# ----------------------------------------------------------------- the cache's stamp
COMPILED_MODULES = (
    "_jit",
    "_jit_lifecycle",
    "_jit_talent",
    "_jit_zones",
    "_jit_finance",
    "_jit_metrics",
    "_jit_listing",
)
_STAMP_SOURCES = (*COMPILED_MODULES, "portable")  # what the compiled code is made of
STAMP_FILE = "parksim-compiled.stamp"


def source_stamp() -> str:
    """Digest of the compiled modules' sources, portable's (their constants) and numba's version."""
    digest = hashlib.sha256(numba.__version__.encode())
    here = Path(__file__).resolve().parent
    for name in _STAMP_SOURCES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


def drop_stale_cache(directory: Path, stamp: str) -> int:
    """Remove the compiled modules' cached code in ``directory`` unless it was made under ``stamp``.

    Returns how many files were removed. Then records ``stamp``, so the next process keeps what
    this one compiles. Failures to read, remove or write are ignored: numba recompiles what is missing.
    """
    marker = directory / STAMP_FILE
    try:
        if marker.read_text() == stamp:
            return 0
    except OSError:
        pass
    removed = 0
    for path in directory.glob("*.nb[ic]"):  # numba's index (.nbi) and code (.nbc) files
        if path.name.split(".", 1)[0] in COMPILED_MODULES:
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f"{STAMP_FILE}.{os.getpid()}"
        partial.write_text(stamp)
        os.replace(partial, marker)
    except OSError:
        pass
    return removed


def _guard_cache() -> None:
    """Drop stale compiled code before any of it loads (numba loads a function's cache on its first call)."""
    cache_dir = getattr(getattr(exp_into, "_cache", None), "_cache_path", None)  # numba's chosen folder
    if cache_dir:
        drop_stale_cache(Path(cache_dir), source_stamp())


_guard_cache()
