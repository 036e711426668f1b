"""The one validation path of input files: scenarios, sweep designs and calibration jobs.

Each file kind declares its layout as specs (:class:`Table`, :class:`Number`,
:class:`Text`, :class:`Flag`, :class:`Choice`, :class:`ListOf`, :class:`Check`)
and :func:`validate` walks a TOML table against them. Every problem raises the
file kind's :class:`~sim.errors.InputError` subclass naming the file, the key as
a dotted path (``levers.vc_cluster_index``, ``series[0].frame``) and what is
allowed: the allowed keys for an unknown key, the range for a number, the
allowed names for a choice. Numbers go through :func:`sim.numeric.number_problem`
(numpy scalars accepted and returned as plain Python numbers, bools, NaN and
infinity refused). :func:`read_toml` reads every file kind the same way (a UTF-8
byte-order mark is allowed; a TOML error names the file and the line).

This is a small hand-written layer rather than pydantic: the messages carry
hints that are part of the interface (``it belongs in [params]``, ``write it as
"2016-07"``) and would each need a custom validator and error translation.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import InputError
from sim.numeric import number_problem, plain_number


@dataclass(frozen=True)
class Place:
    """Where a value sits: its file, its dotted key, and the error class of that file kind."""

    path: str | Path
    key: str | None = None
    error: type[InputError] = InputError

    def child(self, name: str) -> Place:
        """The place of ``name`` inside this table."""
        return Place(self.path, f"{self.key}.{name}" if self.key else name, self.error)

    def item(self, index: int) -> Place:
        """The place of element ``index`` of this list."""
        return Place(self.path, f"{self.key or ''}[{index}]", self.error)

    def fail(self, message: str):
        """Raise this place's error: the file, the key and ``message`` (what is allowed)."""
        raise self.error(self.path, self.key, message)


def read_toml(path: Path, error: type[InputError] = InputError, missing: str = "file not found") -> dict:
    """The TOML table of ``path``; a UTF-8 byte-order mark (as some Windows editors write) is allowed."""
    if not path.is_file():
        raise error(path, None, missing)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(path, None, f"not valid TOML: {exc}") from None


def allowed(names) -> str:
    """``names`` as the message lists them."""
    return ", ".join(names)


@dataclass(frozen=True)
class Number:
    """A finite real number, optionally whole, within ``[low, high]``."""

    low: float = -math.inf
    high: float = math.inf
    integer: bool = False
    unit: str | None = None

    def check(self, value, at: Place) -> int | float:
        problem = number_problem(value, unit=self.unit, integer=self.integer)
        if problem:
            at.fail(problem)
        if value < self.low:
            at.fail(f"must be at least {self.low:g}, got {value!r}")
        if value > self.high:
            at.fail(f"must be at most {self.high:g}, got {value!r}")
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Text:
    """A string."""

    def check(self, value, at: Place) -> str:
        if not isinstance(value, str):
            at.fail(f"must be a string, got {value!r}")
        return value


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``."""

    def check(self, value, at: Place) -> bool:
        if not isinstance(value, bool):
            at.fail(f"must be true or false, got {value!r}")
        return value


@dataclass(frozen=True)
class Choice:
    """One of a few names; ``what`` names the kind of thing in the message."""

    choices: tuple[str, ...]
    what: str = "value"

    def check(self, value, at: Place) -> str:
        if value not in self.choices:
            at.fail(f"unknown {self.what} {value!r}; allowed: {allowed(self.choices)}")
        return value


@dataclass(frozen=True)
class Check:
    """A value checked by a function ``fn(value, place) -> checked value`` (month strings, inputs, ...)."""

    fn: Callable

    def check(self, value, at: Place):
        return self.fn(value, at)


@dataclass(frozen=True)
class Unchecked:
    """A value taken as it is (checked later, where its meaning depends on other keys)."""

    def check(self, value, at: Place):
        return value


@dataclass(frozen=True)
class ListOf:
    """A non-empty list whose elements follow ``item``."""

    item: object
    hint: str = "must be a non-empty list"

    def check(self, value, at: Place) -> list:
        if not isinstance(value, list) or not value:
            at.fail(self.hint)
        return [self.item.check(v, at.item(i)) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Table:
    """A table with the keys of ``fields`` (each with its spec), or of ``names`` all following ``each``.

    Attributes:
        fields: allowed keys and their specs, in the order the message lists them.
        each: spec of every value when the keys are ``names`` (confidence grades, units, factors).
        names: allowed keys when ``each`` is given (None: any key).
        hint: the message when the value is not a table.
        unknown: the message for an unknown key, given the key; by default it lists the allowed keys.
        top: a file's top level (the message says "allowed top-level keys").
    """

    fields: Mapping[str, object] = field(default_factory=dict)
    each: object = None
    names: tuple[str, ...] | None = None
    hint: str = "must be a table"
    unknown: Callable[[str], str] | None = None
    top: bool = False

    def keys(self) -> tuple[str, ...] | None:
        """The allowed keys (None: any)."""
        return tuple(self.fields) if self.each is None else self.names

    def refuse(self, key: str, at: Place):
        if self.unknown is not None:
            at.child(key).fail(self.unknown(key))
        where = "allowed top-level keys" if self.top else "allowed"
        at.child(key).fail(f"unknown key; {where}: {allowed(self.keys())}")

    def check(self, value, at: Place) -> dict:
        if not isinstance(value, dict):
            at.fail(self.hint)
        keys = self.keys()
        for key in value:
            if keys is not None and key not in keys:
                self.refuse(key, at)
        return {k: (self.each or self.fields[k]).check(v, at.child(k)) for k, v in value.items()}


@dataclass(frozen=True)
class Declared:
    """A value of a declared input of :mod:`sim.model.params` (its type, whole-number rule and range)."""

    param: object

    def check(self, value, at: Place) -> int | float:
        problem = self.param.check(value)
        if problem:
            at.fail(problem)
        return plain_number(value)


def input_section(section: str, spec_of: Callable = Declared) -> Table:
    """The table ``[levers]`` or ``[params]``: the inputs declared in that section, each checked by ``spec_of(param)``.

    An unknown name lists the section's inputs, and says so when the name belongs in the other section.
    """
    from sim.model.params import SECTIONS

    names = tuple(SECTIONS[section])
    other = "params" if section == "levers" else "levers"

    def unknown(name: str) -> str:
        hint = f" (it belongs in [{other}])" if name in SECTIONS[other] else ""
        return f"unknown {section[:-1]}{hint}; allowed: {allowed(names)}"

    fields = {name: spec_of(param) for name, param in SECTIONS[section].items()}
    return Table(fields, hint=f"must be a table like [{section}]", unknown=unknown)


def validate(table, spec: Table, path: str | Path, key_prefix: str | None = None, error=InputError) -> dict:
    """Check ``table`` (from a file at ``path``) against ``spec``; return the checked values.

    Args:
        table: the parsed TOML table (or a sub-table of it).
        spec: its layout.
        path: the file, for the message.
        key_prefix: the dotted key of ``table`` inside its file (None: the top level).
        error: the :class:`InputError` subclass to raise.
    """
    return spec.check(table, Place(path, key_prefix, error))
