"""CPU-independent elementary functions for everything that feeds the model's state.

Why this module exists: numpy picks the machine code of its transcendental
ufuncs by CPU at run time. On a CPU with AVX-512 (numpy's ``X86_V4`` dispatch
target) ``np.exp``, ``np.log``, ``np.log1p``, ``np.expm1`` and ``np.power`` on
float64 run SVML-derived kernels; on an AVX2 or baseline x86-64 CPU, and on
arm64, they call other code. The results differ in the last bits, and in a
stochastic model one last bit can flip one random decision and then the whole
trajectory: the same scenario and seed gave different tables on an AMD EPYC
without AVX-512 than on the machine that stored the regression baseline.
``np.tanh`` and float32 ``np.exp`` differ between the baseline and ``X86_V3``
paths as well. (Measured with ``NPY_DISABLE_CPU_FEATURES``: see
``tests/test_portable.py``, which runs the same seeds with and without the
wider SIMD paths and requires identical tables.)

What is portable: IEEE 754 requires addition, subtraction, multiplication,
division and square root to be correctly rounded, so they give the same bits on
every CPU and in every SIMD width; ``rint``, ``frexp``, ``ldexp``, comparisons,
``minimum``/``maximum`` and ``where`` are exact. numpy never fuses a separate
multiply and add ufunc into an FMA. The functions below use only those
operations, so they return identical bits everywhere. They are accurate to a
few units in the last place, which is far below any modelled uncertainty.

Method (textbook range reduction plus a truncated series; no code copied):

- ``exp(x) = 2**k * exp(r)`` with ``k = rint(x / ln 2)``, ``r = x - k ln 2``
  (``ln 2`` split into a high part with trailing zero bits, so ``k * LN2_HI`` is
  exact, and a low part), ``|r| <= ln 2 / 2``; ``exp(r)`` by its Taylor series to
  degree 13 (truncation below 5e-18 relative).
- ``log(x) = e ln 2 + log(m)`` with ``x = m 2**e`` from ``frexp`` and ``m`` moved
  into ``[sqrt(1/2), sqrt(2))``; ``log(m) = 2 atanh(f)``, ``f = (m - 1) / (m + 1)``,
  by the odd series of atanh to ``f**21`` (``|f| <= 0.172``; truncation below 1e-18).
- ``log1p(x) = log(u) - ((u - 1) - x) / u`` with ``u = 1 + x`` (the rounding of
  ``u`` corrected to first order), ``x`` itself where ``u == 1``.
- ``expm1(x)`` by its Taylor series to degree 17 where ``|x| < 1/2``, else ``exp(x) - 1``.
- ``power(x, y) = exp(y log x)`` for ``x > 0``, with the IEEE special cases of 0.
- Speed (the same bits): one plain number takes a Python-float path with the same
  operations in the same order (``round`` is round-half-even like ``np.rint``,
  ``math.frexp``/``math.ldexp`` are exact), and an array with no special value
  skips the special-case passes, which would change nothing in it;
  ``tests/test_portable.py`` checks both against the general code bit for bit.
  Arrays of ``exp`` and ``log`` go through compiled loops (``sim.model._jit``,
  numba with ``fastmath`` off) that do the same operations per element; their
  bits are checked against the numpy code here (``exp_numpy``, ``log_numpy``,
  also used with ``PARKSIM_NO_JIT=1``) and across LLVM's CPU targets.

Python's ``math`` functions and ``float ** float`` call the platform's C library,
which differs between operating systems and, on x86-64 glibc, between CPUs with
and without FMA: model code uses this module instead (a test checks the model's
modules for the numpy and math calls this module replaces).

What remains platform-dependent and why it does not reach the tables: numpy's
random distributions (normal, gamma, Poisson, binomial) call the C library's
``exp``/``log`` inside accept/reject tests and tails; a last-bit difference there
changes a draw only if a uniform falls within one unit in the last place of the
bound, about 1e-16 per draw. Every batch manifest records the CPU signature
(``sim.environment``) so a mixed cluster is visible.
"""

from __future__ import annotations

import math
import os

import numpy as np

# ln 2 split so that k * LN2_HI is exact for |k| < 2**20: LN2_HI has 32 trailing zero bits.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
SQRT_HALF = 0.70710678118654752440
EXP_MAX = 709.782712893383973096  # log of the largest double: above it exp overflows
EXP_MIN = -745.133219101941108420  # below it exp underflows to 0

# Arrays go through the compiled loops of sim.model._jit (the same operations, element by element);
# PARKSIM_NO_JIT=1 keeps the numpy code (the reference; the tests compare the two bit for bit).
USE_JIT = os.environ.get("PARKSIM_NO_JIT", "") in ("", "0")
_EXACT_INT = 2**53  # Python ints below this convert to float exactly (the scalar fast paths take them)
_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(14))  # 1/n!, n = 0..13 (exact integers, one division)
_EXPM1_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(1, 18))  # n = 1..17
_ATANH_ODD = tuple(1.0 / (2 * n + 1) for n in range(11))  # 1, 1/3, ..., 1/21


def _horner(x: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    """Sum of ``coefficients[i] * x**i`` by Horner's rule (multiply, then add: never fused)."""
    out = np.full_like(x, coefficients[-1])
    for c in coefficients[-2::-1]:
        out *= x
        out += c
    return out


def _horner_float(x: float, coefficients: tuple[float, ...]) -> float:
    """:func:`_horner` on one Python float: the same multiplies and adds in the same order, so the same bits."""
    out = coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * x + c  # two correctly rounded operations (Python never fuses them)
    return out


def _result(out: np.ndarray, scalar: bool):
    return out[0] if scalar else out


def _as_float(x) -> float | None:
    """``x`` as a Python float when it is one plain real number (the scalar fast paths), else ``None``."""
    if type(x) is float or type(x) is np.float64 or (type(x) is int and -_EXACT_INT < x < _EXACT_INT):
        return float(x)
    return None


def _exp_float(v: float) -> np.float64:
    """:func:`exp` of one finite float inside ``[EXP_MIN, EXP_MAX]``, with Python floats (same operations)."""
    k = float(round(v * INV_LN2))  # round() on a float is round-half-even, like np.rint
    r = (v - k * LN2_HI) - k * LN2_LO
    return np.float64(math.ldexp(_horner_float(r, _EXP_TAYLOR), int(k)))


_KERNELS = None  # sim.model._jit, imported on the first array call (numba's import costs ~0.3 s)


def _kernels():
    global _KERNELS
    if _KERNELS is None:
        from sim.model import _jit

        _KERNELS = _jit
    return _KERNELS


def _compiled(kernel, x):
    """``kernel`` (a compiled element-wise loop of sim.model._jit) applied to ``x``, keeping its shape."""
    if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 1 and x.flags.c_contiguous:
        out = np.empty_like(x)  # the common case: no conversion, no reshaping
        kernel(x, out)
        return out
    a = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(a).reshape(-1)
    out = np.empty_like(flat)
    kernel(flat, out)
    return out[0] if a.ndim == 0 else out.reshape(a.shape)


def exp(x):
    """``e**x``, bit-identical on every CPU (see the module docstring)."""
    v = _as_float(x)
    if v is not None and EXP_MIN <= v <= EXP_MAX:  # one ordinary number: no array machinery
        return _exp_float(v)
    if USE_JIT:
        return _compiled(_kernels().exp_into, x)
    return exp_numpy(x)


def exp_numpy(x):
    """:func:`exp` by numpy ufuncs: the reference the compiled loop is checked against."""
    a = np.asarray(x, dtype=np.float64)
    scalar = a.ndim == 0
    a = np.atleast_1d(a)
    if ((a >= EXP_MIN) & (a <= EXP_MAX)).all():  # no NaN, no clamp: the special-case passes would change nothing
        k = np.rint(a * INV_LN2)
        r = (a - k * LN2_HI) - k * LN2_LO
        return _result(np.ldexp(_horner(r, _EXP_TAYLOR), k.astype(np.int64)), scalar)
    xc = np.minimum(np.maximum(a, EXP_MIN), EXP_MAX)
    xc = np.where(np.isnan(xc), 0.0, xc)
    k = np.rint(xc * INV_LN2)
    r = (xc - k * LN2_HI) - k * LN2_LO
    out = np.ldexp(_horner(r, _EXP_TAYLOR), k.astype(np.int64))
    out = np.where(a > EXP_MAX, np.inf, out)
    out = np.where(a < EXP_MIN, 0.0, out)
    out = np.where(np.isnan(a), np.nan, out)
    return _result(out, scalar)


def _log_float(v: float) -> float:
    """:func:`log` of one finite positive float, with Python floats (same operations)."""
    m, e = math.frexp(v)
    if m < SQRT_HALF:
        m, e = m * 2.0, e - 1
    ef = float(e)
    f = (m - 1.0) / (m + 1.0)
    log_m = 2.0 * f * _horner_float(f * f, _ATANH_ODD)
    return ef * LN2_HI + (ef * LN2_LO + log_m)


def log(x):
    """Natural logarithm, bit-identical on every CPU; ``-inf`` at 0, NaN below 0."""
    v = _as_float(x)
    if v is not None and 0.0 < v < math.inf:
        return np.float64(_log_float(v))
    if USE_JIT:
        return _compiled(_kernels().log_into, x)
    return log_numpy(x)


def log_numpy(x):
    """:func:`log` by numpy ufuncs: the reference the compiled loop is checked against."""
    a = np.asarray(x, dtype=np.float64)
    scalar = a.ndim == 0
    a = np.atleast_1d(a)
    ordinary = ((a > 0) & (a < np.inf)).all()  # no zero, negative, inf or NaN: the special-case passes are no-ops
    safe = a if ordinary else np.where((a > 0) & np.isfinite(a), a, 1.0)
    m, e = np.frexp(safe)
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = (e - low).astype(np.float64)
    f = (m - 1.0) / (m + 1.0)
    log_m = 2.0 * f * _horner(f * f, _ATANH_ODD)
    out = e * LN2_HI + (e * LN2_LO + log_m)
    if ordinary:
        return _result(out, scalar)
    out = np.where(a == 0, -np.inf, out)
    out = np.where(a == np.inf, np.inf, out)
    out = np.where((a < 0) | np.isnan(a), np.nan, out)
    return _result(out, scalar)


def log1p(x):
    """``log(1 + x)``, accurate for small ``x``, bit-identical on every CPU."""
    a = np.asarray(x, dtype=np.float64)
    scalar = a.ndim == 0
    a = np.atleast_1d(a)
    u = 1.0 + a
    same = u == 1.0
    u_safe = np.where(same | ~(u > 0) | (u == np.inf), 2.0, u)
    out = log(u_safe) - ((u_safe - 1.0) - a) / u_safe
    out = np.where(same, a, out)
    out = np.where(u == 0, -np.inf, out)
    out = np.where((u < 0) | np.isnan(a), np.nan, out)
    out = np.where(a == np.inf, np.inf, out)
    return _result(out, scalar)


def expm1(x):
    """``exp(x) - 1``, accurate for small ``x``, bit-identical on every CPU."""
    a = np.asarray(x, dtype=np.float64)
    scalar = a.ndim == 0
    a = np.atleast_1d(a)
    small = np.abs(a) < 0.5
    series = a * _horner(np.where(small, a, 0.0), _EXPM1_TAYLOR)
    out = np.where(small, series, exp(a) - 1.0)
    return _result(out, scalar)


def power(x, y):
    """``x**y`` for ``x >= 0`` (NaN for negative ``x``), bit-identical on every CPU.

    Integer powers are better written as products (``x * x``), which are exact
    to one rounding; this is for real exponents.
    """
    u, w = _as_float(x), _as_float(y)
    if u is not None and w is not None and 0.0 < u < math.inf and w != 0.0 and w == w:
        t = w * _log_float(u)  # one ordinary base and a nonzero exponent: Python floats, the same operations
        return np.float64(exp(t)) if EXP_MIN <= t <= EXP_MAX else np.float64(exp(np.float64(t)))
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    scalar = a.ndim == 0 and b.ndim == 0
    if b.ndim == 0 and a.ndim > 0 and b != 0 and not np.isnan(b) and ((a > 0) & (a < np.inf)).all():
        return np.asarray(exp(b * log(a)), dtype=np.float64)  # every special case below is a no-op here
    a, b = np.broadcast_arrays(np.atleast_1d(a), np.atleast_1d(b))
    out = exp(b * log(np.where(a > 0, a, 1.0)))
    zero = np.where(b > 0, 0.0, np.where(b == 0, 1.0, np.inf))
    out = np.where(a == 0, zero, out)
    out = np.where(b == 0, 1.0, out)
    out = np.where((a < 0) | np.isnan(a) | np.isnan(b), np.nan, out)
    return _result(np.asarray(out, dtype=np.float64), scalar)


def logistic(x):
    """``1 / (1 + exp(-x))``, bit-identical on every CPU."""
    return 1.0 / (1.0 + exp(-np.asarray(x, dtype=np.float64)))
