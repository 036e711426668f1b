"""The one check of a number given as input, whoever wrote it.

Scenario values, design ranges and calibration job settings come from TOML
files, CSV tables and other tools (EMA Workbench, SALib and ``scipy.stats.qmc``
hand over numpy scalars such as ``np.int64`` or ``np.float32``). All of them go
through :func:`check_number`: any real number is accepted (numpy's included,
through the standard :mod:`numbers` ABCs, so numpy need not be imported), a
bool (Python's or numpy's) is refused because ``true`` is almost always a slip,
NaN and infinity are refused, and the value comes back as a plain Python
``int`` or ``float`` so that manifests serialise to JSON. The file schemas of
:mod:`sim.schema` (``Number``, ``Declared``) use :func:`number_problem` too.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

from sim.errors import InputError


def number_problem(value: object, *, unit: str | None = None, integer: bool = False) -> str | None:
    """What is wrong with ``value`` as a number, or None when it is a usable one."""
    what = f"a number ({unit})" if unit else "a number"
    # Python's bool is an int, so it is refused by name; numpy's bool is not a numbers.Real at all
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"must be {what}, got {type(value).__name__} {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number{f' ({unit})' if unit else ''}, got {value!r}"
    if integer and float(value) != int(value):
        return f"must be a whole number{f' ({unit})' if unit else ''}, got {value!r}"
    return None


def plain_number(value: numbers.Real) -> int | float:
    """``value`` as a plain Python ``int`` (for integral types) or ``float``; assumes it passed the check."""
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def check_number(
    path: str | Path,
    key: str | None,
    value: object,
    *,
    error: type[InputError] = InputError,
    unit: str | None = None,
    integer: bool = False,
) -> int | float:
    """Return ``value`` as a plain Python number, or raise ``error(path, key, ...)`` saying what is allowed.

    Args:
        path: the file (or argument) the value came from, for the message.
        key: the key the value was given under.
        value: the value to check.
        error: the :class:`InputError` subclass to raise (``DesignError``, ``JobError``, ...).
        unit: unit named in the message.
        integer: whether the value must be a whole number.
    """
    problem = number_problem(value, unit=unit, integer=integer)
    if problem:
        raise error(path, key, problem)
    return plain_number(value)
