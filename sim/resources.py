"""Where parksim's files are found: scenarios, designs, calibration jobs, fitted sets, data.

The files live at the top of the repository, where users know them
(``scenarios/``, ``scenarios/designs/``, ``calibration/jobs/``,
``calibration/fitted/<job>/``, ``calibration/data/``). A wheel carries the same
tree as package data under ``sim/_data/`` (``pyproject.toml`` maps the two
folders there), read through :mod:`importlib.resources`. :func:`data_root` is
the folder holding ``scenarios/`` and ``calibration/`` for the ``sim`` being
run: ``sim/_data`` when installed, the repository when run from a checkout
(editable or not installed at all).

How a reference is resolved (:func:`find`):

1. an explicit path wins: an absolute path, or a relative path that exists
   (beside the referring file for references written in a file, otherwise
   relative to the current folder);
2. a bare name (``baseline``, no suffix, no folder) is looked up beside the
   referring file first (``<name>.toml``), or in ``./scenarios/`` (and the other
   kinds' folders) of the current folder for names given on the command line;
3. a reference written in a file is also tried against the project holding
   that file (the folder with ``pyproject.toml``): a path as it stands, as the
   shipped files write them (``fitted_params =
   "calibration/fitted/default/params.toml"``), a bare name in its kind's folder;
4. then the packaged copy: ``<kind folder>/<name>.toml`` for a bare name or a
   file name (``base = "baseline.toml"``), ``<data root>/<path>`` for a path.

A reference that matches nothing raises :class:`~sim.errors.InputError`
(exit code 2) that lists what exists.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from sim.errors import InputError

# kind -> (folder under the data root, suffix a bare name gets, word used in messages)
KINDS = {
    "scenario": ("scenarios", ".toml", "scenario"),
    "design": ("scenarios/designs", ".toml", "design"),
    "job": ("calibration/jobs", ".toml", "calibration job"),
    "fitted": ("calibration/fitted", "", "fitted parameter set"),
    "data": ("calibration/data", ".csv", "data file"),
}
PACKAGED = "_data"  # sim/_data/{scenarios,calibration} in a wheel


def packaged_root() -> Path | None:
    """``sim/_data`` of an installed wheel, or None when ``sim`` runs from a checkout."""
    root = files("sim") / PACKAGED
    return Path(str(root)) if root.is_dir() else None


def data_root() -> Path:
    """The folder holding ``scenarios/`` and ``calibration/`` that ship with this ``sim``."""
    return packaged_root() or Path(str(files("sim"))).parent


def folder(kind: str) -> Path:
    """The packaged folder of one kind of file (``scenario``, ``design``, ``job``, ``fitted``, ``data``)."""
    return data_root() / KINDS[kind][0]


def available(kind: str) -> list[str]:
    """Names of the packaged files of one kind (fitted sets: folders holding a ``params.toml``)."""
    where = folder(kind)
    if kind == "fitted":
        return sorted(p.parent.name for p in where.glob("*/params.toml"))
    return sorted(p.stem for p in where.glob(f"*{KINDS[kind][1]}"))


def default_data() -> Path:
    """The park's historical record, ``calibration/data/west_taihu_history.csv``."""
    return folder("data") / "west_taihu_history.csv"


def project_root(start: Path) -> Path | None:
    """The folder holding ``pyproject.toml`` at or above ``start``; None inside an installed package."""
    start = Path(start).resolve()
    packaged = packaged_root()
    if packaged is not None and start.is_relative_to(packaged.resolve()):
        return None
    for parent in [start, *start.parents]:
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def is_bare(ref: str | Path) -> bool:
    """A name without folder or suffix (``baseline``), as opposed to a path (``baseline.toml``)."""
    p = Path(ref)
    return not p.is_absolute() and len(p.parts) == 1 and not p.suffix


def candidates(ref: str | Path, kind: str, referrer: str | Path | None = None) -> list[Path]:
    """The places :func:`find` tries for ``ref``, in order."""
    sub, suffix, _ = KINDS[kind]
    p = Path(ref)
    if p.is_absolute():
        return [p]
    here = Path(referrer).parent if referrer is not None else None
    named = Path(f"{ref}{suffix}") if is_bare(ref) else p
    out = [here / named] if here is not None else [p] + ([Path(sub) / named] if is_bare(ref) else [])
    root = project_root(here) if here is not None else None
    if root is not None:
        out.append(root / sub / named if is_bare(ref) else root / p)
    out.append(folder(kind) / named if len(p.parts) == 1 else data_root() / p)
    return list(dict.fromkeys(out))


def find(
    ref: str | Path, kind: str, referrer: str | Path | None = None, key: str | None = None, must_exist: bool = True
) -> Path:
    """Resolve a reference to a file of one kind.

    Args:
        ref: a path or a bare name (``baseline``, ``eco_x_financing``, ``default``).
        kind: one of :data:`KINDS`.
        referrer: the file that holds the reference (``base = ...`` in a scenario), if any.
        key: the key of ``referrer`` that holds it, for the error message.
        must_exist: when False, return the first candidate instead of raising (callers
            that report a missing file themselves).

    Raises:
        InputError: nothing matches; the message lists the packaged files of this kind.
    """
    tried = candidates(ref, kind, referrer)
    for path in tried:
        if path.is_file():
            return path
    if not must_exist:
        return tried[0]
    raise not_found(ref, kind, referrer, key, tried)


def not_found(ref, kind: str, referrer=None, key: str | None = None, tried: list[Path] = ()) -> InputError:
    """The error for a reference that names no file: what was asked for, where it was looked for, what exists."""
    word = KINDS[kind][2]
    names = available(kind)
    listing = f"the {word}s are: {', '.join(names)}" if names else f"there are no {word}s in {folder(kind)}"
    what = f"no {word} is called {str(ref)!r}" if is_bare(ref) else f"no file {str(ref)!r}"
    looked = f" (looked for {', '.join(str(p) for p in tried)})" if tried else ""
    return InputError(
        referrer if referrer is not None else ref, key, f"{word} file not found: {what}{looked}; {listing}"
    )
