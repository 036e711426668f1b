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
- the special values (NaN, infinities, zero, negatives) are handled by
  comparisons, as numpy's ``where`` passes handle them.

``tests/test_portable.py`` checks the loops against the numpy code bit for bit
on a million inputs and the special values, and runs whole scenarios with
numba's generic x86-64 code generation (``NUMBA_CPU_NAME=generic``) against
this machine's.

Compiled on first use and cached on disk (``cache=True``, numba's
``__pycache__`` next to this file or its user-wide cache), so a process pays
the compilation once per machine and a cache load (tens of ms) afterwards.
"""

from __future__ import annotations

import math

import numba
import numpy as np

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


@numba.njit(cache=True, nogil=True)
def exp1(v):  # pragma: no cover - compiled; tested through portable.exp
    """``exp(v)`` of one float64 (portable.exp's operations); the loops of this package call it."""
    if v != v:
        return np.nan
    if v > EXP_MAX:
        return np.inf
    if v < EXP_MIN:
        return 0.0
    k = np.rint(v * INV_LN2)
    r = (v - k * LN2_HI) - k * LN2_LO
    p = _EXP_DOWN[0]
    for c in _EXP_DOWN[1:]:
        p = p * r
        p = p + c
    return math.ldexp(p, int(k))


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
