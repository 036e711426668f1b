"""Scenario files: TOML, validated at load time into a frozen, typed object.

A scenario file has top-level keys ``name``, ``label``, ``base`` (another scenario
file whose values it overrides, found as :mod:`sim.resources` says), ``start`` and
``end`` (``"YYYY-MM"``), ``history_start`` (``"YYYY-MM"``, see below), ``fitted_params``
(a TOML file of fitted parameters, for example from calibration) and the tables
``[levers]`` and ``[params]``. The layout
is declared in :data:`SCENARIO_FILE` and checked by :mod:`sim.schema` (the layer
designs and calibration jobs share) against the declarations in :mod:`sim.model.params`;
anything unknown, of the wrong type or out of range raises :class:`ScenarioError`
naming the file, the key and what is allowed.

Numbers may be numpy scalars (from EMA Workbench, SALib, ``scipy.stats.qmc``);
they are checked by :func:`sim.numeric.check_number` and stored as plain Python
numbers; NaN and infinity are refused. Months are strings: an unquoted TOML
date such as ``start = 2016-07-01`` is refused with ``write it as "2016-07"``
(a date names a day, and a run steps by whole months), and ``end`` must be a
later month than ``start``. A file may begin with a UTF-8 byte-order mark.

A file that names no ``base`` and no ``fitted_params`` (an empty file, say) runs
the *declared defaults* of :mod:`sim.model.params`, whose behavioural parameters are
not fitted; it does not inherit ``baseline.toml`` (write ``base = "baseline.toml"``).
``parksim validate`` says so in a note, and also names the targets a run
window leaves out (see :func:`scenario_notes`): those come out NaN, not missed.

One park (docs/ODD.md 3 and 5): ``history_start`` (set in ``baseline.toml``, so
every policy scenario inherits it) is the month the park's initial state is built
in. A run whose ``history_start`` is before its ``start`` steps the months
``history_start .. start-1`` under the *status quo* (the lever values of the file
that sets ``history_start``, every policy over the whole warm-up, no policy
windows) and switches to the scenario's own levers and policies at ``start``; the
monthly records cover ``history_start .. end``. Without it (or with
``history_start = start``) the run starts cold at ``start``. It must not be later
than ``start``.

The optional table ``[policies]`` sets when each policy of :mod:`sim.model.policies`
acts, one sub-table per policy name, with optional ``start`` and ``end``
(``"YYYY-MM"``, inclusive) and ``enabled`` (``false``: the policy is not built)::

    [policies.listing_support]
    start = "2017-01"
    end = "2019-12"

Policies not named act over the whole run. A file's entries replace its base's
entry for the same policy. Unknown policy names, unknown keys and a start after
the end are errors.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path

from sim import resources
from sim.errors import ScenarioError
from sim.model.params import PARAMS, defaults
from sim.model.units import MONTHS_PER_YEAR
from sim.schema import Check, Declared, Flag, Place, Table, Text, input_section, read_toml, validate

POLICY_KEYS = ("start", "end", "enabled")
EARLIEST, LATEST = "2010-01", "2035-12"
YEAR_DIGITS = 4  # a month is written YYYY-MM [definition: the input format]
# The hindcast window: months after the policy start (2016-07) that the park's
# record still covers (data to 2017-11/12); findings compare runs with it there.
HINDCAST_WINDOW = ("2016-07", "2017-12")


def in_hindcast(date: str) -> bool:
    """Whether month ``date`` (``"YYYY-MM"``) lies in :data:`HINDCAST_WINDOW`."""
    return HINDCAST_WINDOW[0] <= date <= HINDCAST_WINDOW[1]


def month_index(text: str, path: str | Path = "<scenario>", key: str = "start") -> int:
    """Turn ``"YYYY-MM"`` into a month count (year * 12 + month - 1)."""
    if isinstance(text, datetime.date):  # an unquoted TOML date, or a date from Python
        raise ScenarioError(path, key, f'must be a month in quotes: write it as "{text:%Y-%m}" (got the date {text})')
    try:
        year_s, month_s = str(text).split("-")
        year, month = int(year_s), int(month_s)
        if not 1 <= month <= MONTHS_PER_YEAR or len(year_s) != YEAR_DIGITS:
            raise ValueError
    except ValueError:
        raise ScenarioError(path, key, f"must be a month written YYYY-MM, got {text!r}") from None
    if not EARLIEST <= f"{year:04d}-{month:02d}" <= LATEST:
        raise ScenarioError(path, key, f"must lie between {EARLIEST} and {LATEST}, got {text!r}")
    return year * MONTHS_PER_YEAR + month - 1


def month_label(index: int) -> str:
    """Inverse of :func:`month_index`."""
    return f"{index // MONTHS_PER_YEAR:04d}-{index % MONTHS_PER_YEAR + 1:02d}"


@dataclass(frozen=True)
class Scenario:
    """A resolved scenario: every declared input has a checked value.

    Attributes:
        name: short identifier (file stem unless the file sets ``name``).
        label: human-readable description.
        path: file it was loaded from ("" when built in code).
        start: first simulated month, ``"YYYY-MM"``.
        end: last simulated month, ``"YYYY-MM"``.
        inputs: sorted ``(name, value)`` pairs of every declared input.
        overrides: the names this scenario (and its bases) set explicitly.
        policies: ``(name, start, end, enabled)`` of each policy the scenario
            times or switches off (``""``: the run's start or end), by name.
        history_start: month the initial state is built in (``""``: ``start``).
        status_quo: ``(name, value)`` of every lever during the warm-up
            ``history_start .. start-1`` (the levers of the file that sets
            ``history_start``); empty for a cold start.
    """

    name: str
    label: str
    path: str
    start: str
    end: str
    inputs: tuple[tuple[str, float], ...]
    overrides: tuple[str, ...] = ()
    policies: tuple[tuple[str, str, str, bool], ...] = ()
    history_start: str = ""
    status_quo: tuple[tuple[str, float], ...] = ()
    _values: dict = field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "_values", dict(self.inputs))

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    @property
    def values(self) -> dict[str, float]:
        """A copy of all inputs as a dict."""
        return dict(self._values)

    @property
    def n_months(self) -> int:
        """Number of monthly steps (and records) from :attr:`first_month` to ``end`` inclusive."""
        return month_index(self.end) - month_index(self.first_month) + 1

    @property
    def first_month(self) -> str:
        """First recorded month of a run: ``history_start`` when set, else ``start``."""
        return self.history_start or self.start

    @property
    def forks(self) -> bool:
        """Whether a run warms up under the status quo before ``start``."""
        return bool(self.history_start) and self.history_start < self.start

    def warmup(self) -> Scenario:
        """The status-quo scenario the months ``history_start .. start-1`` run under.

        Same inputs as this scenario except every lever, which takes its
        status-quo value; no policy windows (every policy acts over the whole
        warm-up). Every scenario built on the same base has the same warm-up, so
        paired seeds give identical months before ``start``.
        """
        return Scenario(
            name=f"{self.name}:warmup",
            label=f"status quo before {self.start}",
            path=self.path,
            start=self.first_month,
            end=self.end,
            inputs=tuple(sorted({**self._values, **dict(self.status_quo or _lever_defaults())}.items())),
            overrides=self.overrides,
            policies=(),
            history_start=self.first_month,
        )

    def with_values(self, name: str | None = None, label: str | None = None, **values: float) -> Scenario:
        """Return a copy with some inputs changed (checked like a file)."""
        merged = self.values
        where = f"<{self.name} override>"
        start, end = values.pop("start", self.start), values.pop("end", self.end)
        history_start = values.pop("history_start", self.history_start)
        check_window(where, start, end, history_start)
        for key, value in values.items():
            merged[key] = _check_value(where, key, value)
        return Scenario(
            name=name or self.name,
            label=label or self.label,
            path=self.path,
            start=start,
            end=end,
            inputs=tuple(sorted(merged.items())),
            overrides=tuple(sorted(set(self.overrides) | set(values))),
            policies=self.policies,
            history_start=history_start,
            status_quo=self.status_quo,
        )

    def to_dict(self) -> dict:
        """Plain dict for manifests (JSON-ready); ``policies`` only when the scenario times any."""
        out = {
            "name": self.name,
            "label": self.label,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "overrides": list(self.overrides),
            "inputs": dict(self.inputs),
        }
        if self.history_start:
            out["history_start"] = self.history_start
            out["status_quo"] = dict(self.status_quo)
        if self.policies:
            out["policies"] = {n: {"start": s, "end": e, "enabled": on} for n, s, e, on in self.policies}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Scenario:
        """Inverse of :meth:`to_dict` (a resolved scenario read back from a manifest)."""
        windows = d.get("policies", {})
        return cls(
            name=d["name"],
            label=d["label"],
            path=d["path"],
            start=d["start"],
            end=d["end"],
            inputs=tuple(sorted(d["inputs"].items())),
            overrides=tuple(d["overrides"]),
            policies=tuple((n, w["start"], w["end"], w["enabled"]) for n, w in sorted(windows.items())),
            history_start=d.get("history_start", ""),
            status_quo=tuple(sorted(d.get("status_quo", {}).items())),
        )


def _lever_defaults() -> dict[str, float]:
    """The declared default of every lever (the status quo of a scenario without one)."""
    return {k: p.default for k, p in PARAMS.items() if p.kind == "lever"}


def check_window(path, start, end, history_start: str = "") -> None:
    """Refuse a malformed run window: bad months, an end not after the start, a ``history_start`` after the start."""
    if month_index(start, path, "start") >= month_index(end, path, "end"):
        raise ScenarioError(path, "end", f"must be a later month than start ({start}), got {end!r}")
    if history_start and month_index(history_start, path, "history_start") > month_index(start, path, "start"):
        raise ScenarioError(path, "history_start", f"must not be later than start ({start}), got {history_start!r}")


def _check_value(path, key, value) -> int | float:
    """The value of input ``key`` as a plain Python number, or a ScenarioError naming what is allowed."""
    if key not in PARAMS:
        raise ScenarioError(path, key, f"unknown input; allowed: {', '.join(sorted(PARAMS))}")
    return Declared(PARAMS[key]).check(value, Place(path, key, ScenarioError))


def _read_toml(path: Path) -> dict:
    """The TOML table of ``path`` (see :func:`sim.schema.read_toml`), refused as a ScenarioError."""
    return read_toml(path, ScenarioError)


def _month(value, at: Place, empty: bool = False) -> str:
    """A month written ``"YYYY-MM"`` (or ``""`` when ``empty``), checked by :func:`month_index`."""
    if isinstance(value, datetime.date) or (isinstance(value, str) and (value or not empty)):
        month_index(value, at.path, at.key)  # a date is refused, saying how to write the month
    elif not isinstance(value, str):
        at.fail(f"must be a month written YYYY-MM, got {value!r}")
    return value


def _policy_month(value, at: Place) -> str:
    return _month(value, at, empty=True)


POLICY_TABLE = Table(
    {"start": Check(_policy_month), "end": Check(_policy_month), "enabled": Flag()},
    hint=f"must be a table with any of: {', '.join(POLICY_KEYS)}",
)
SCENARIO_FILE = Table(
    {
        **dict.fromkeys(("name", "label", "base"), Text()),
        **dict.fromkeys(("start", "end", "history_start"), Check(_month)),
        "fitted_params": Text(),
        "levers": input_section("levers"),
        "params": input_section("params"),
        "policies": Check(lambda table, at: _check_policies(at.path, table)),
    },
    top=True,
)
FITTED_PARAMS = input_section("params")


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, dict]:
    """Return (header, values) with bases applied; values hold explicit overrides only."""
    path = path.resolve()
    if path in seen:
        raise ScenarioError(path, "base", "scenarios inherit from each other in a loop")
    data = validate(_read_toml(path), SCENARIO_FILE, path, error=ScenarioError)
    header, values = {}, {}
    if "base" in data:
        base = resources.find(data["base"], "scenario", referrer=path, key="base")
        header, values = _load_raw(base, seen + (path,))
        header.pop("name", None)
        header.pop("label", None)
    if "fitted_params" in data:
        values.update(load_fitted(resources.find(data["fitted_params"], "fitted", path, "fitted_params"), path))
    values.update(data.get("levers", {}))
    values.update(data.get("params", {}))
    header.update({key: data[key] for key in ("name", "label", "start", "end", "history_start") if key in data})
    if "history_start" in data:  # the status quo: this file's levers (over the declared defaults)
        header["status_quo"] = {k: values.get(k, d) for k, d in _lever_defaults().items()}
    if "policies" in data:
        header["policies"] = {**header.get("policies", {}), **data["policies"]}
    return header, values


def _check_policies(path, table) -> dict[str, tuple[str, str, bool]]:
    """Validate a ``[policies]`` table into ``{name: (start, end, enabled)}``."""
    from sim.model.policies import POLICY_NAMES

    spec = Table(
        dict.fromkeys(POLICY_NAMES, POLICY_TABLE),
        hint="must be a table like [policies.listing_support]",
        unknown=lambda name: f"unknown policy; allowed: {', '.join(POLICY_NAMES)}",
    )
    out = {}
    for name, window in validate(table, spec, path, "policies", ScenarioError).items():
        start, end = window.get("start", ""), window.get("end", "")
        if start and end and month_index(start) > month_index(end):
            raise ScenarioError(path, f"policies.{name}.end", f"must not be before start ({start}), got {end!r}")
        out[name] = (start, end, window.get("enabled", True))
    return out


def load_fitted(path: Path, referrer: Path | str = "<scenario>") -> dict[str, float]:
    """Read a fitted-parameter TOML (``[params]`` of uncertainties)."""
    if not path.is_file():
        raise ScenarioError(referrer, "fitted_params", f"file not found: {path}")
    table = _read_toml(path).get("params")
    if not isinstance(table, dict):
        raise ScenarioError(path, "params", "a fitted parameter file needs a [params] table")
    return validate(table, FITTED_PARAMS, path, "params", ScenarioError)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one scenario file.

    Args:
        path: a TOML file, or the name of a file in ``scenarios/`` without suffix.

    Returns:
        The resolved, frozen scenario.

    Raises:
        ScenarioError: when the file is missing, malformed or has a bad key/value.
    """
    path = find_scenario(path)
    header, overrides = _load_raw(path)
    start = header.get("start", "2016-07")
    end = header.get("end", "2020-12")
    history_start = header.get("history_start", "")
    check_window(path, start, end, history_start)
    values = defaults()
    values.update(overrides)
    return Scenario(
        name=header.get("name", path.stem),
        label=header.get("label", path.stem),
        path=str(path),
        start=start,
        end=end,
        inputs=tuple(sorted(values.items())),
        overrides=tuple(sorted(overrides)),
        policies=tuple((n, *w) for n, w in sorted(header.get("policies", {}).items())),
        history_start=history_start,
        status_quo=tuple(sorted(header.get("status_quo", {}).items())) if history_start else (),
    )


def targets_left_out(scenario: Scenario) -> dict[str, str]:
    """The plan's targets that a run of ``scenario`` cannot evaluate (they come out NaN), each with why."""
    from sim.model.targets import TARGETS, YearEnds, measure

    first = scenario.first_month  # records cover history_start .. end
    months = [month_label(m) for m in range(month_index(first), month_index(scenario.end) + 1)]
    ends = YearEnds(dates=months, column=lambda name: [0.0] * len(months))
    out = {}
    for t in TARGETS:
        if all(math.isnan(measure(t, ends, first, scenario.values, c)) for c in t.columns.values()):
            if f"{t.year}-12" > scenario.end:
                out[t.name] = f"due by December {t.year}, after the run's end {scenario.end}"
            elif f"{t.year}-12" < first:
                out[t.name] = f"due by December {t.year}, before the run's first month {first}"
            else:
                out[t.name] = f"counts from 2016, before the run's first month {first}"
    return out


def scenario_notes(scenario: Scenario) -> list[str]:
    """What a user should know before running ``scenario``; none of it stops a run.

    Returns:
        One line per note: a scenario that sets no behavioural parameter (an
        empty file, or one without ``base`` or ``fitted_params``: it runs the
        declared, unfitted defaults, not the baseline), and the targets its run
        window leaves out (reported as NaN, not as missed).
    """
    notes = []
    if scenario.path and not any(PARAMS[k].kind == "uncertainty" for k in scenario.overrides):
        notes.append(
            "sets no behavioural parameter (no base, no fitted_params): it runs the declared defaults of "
            'sim.model.params, which are not fitted; write base = "baseline.toml" to run the baseline with changes'
        )
    left_out = targets_left_out(scenario)
    if left_out:
        why = "; ".join(f"{name} ({reason})" for name, reason in left_out.items())
        notes.append(f"{len(left_out)} target(s) will not be evaluated (NaN in the results): {why}")
    return notes


def find_scenario(ref: str | Path) -> Path:
    """Map ``baseline``, ``my.toml`` or ``scenarios/baseline.toml`` to a scenario file (see :mod:`sim.resources`).

    Raises:
        ScenarioError: no such file; the message lists the scenarios that exist.
    """
    return resources.find(ref, "scenario")


def default_scenario(**values: float) -> Scenario:
    """A scenario of declared defaults (2016-07 to 2020-12), optionally changed."""
    base = Scenario("defaults", "declared defaults", "", "2016-07", "2020-12", tuple(sorted(defaults().items())))
    return base.with_values(**values) if values else base
