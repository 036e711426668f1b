"""Strip outputs from notebooks before committing them (results/*.ipynb by default).

Notebooks are kept in git without outputs, execution counts or per-run cell
metadata, so that diffs show only what people wrote and no result of one
machine is mistaken for the current one. The test suite executes them.

usage:
  .venv/bin/python scripts/strip_notebooks.py                 # strip results/*.ipynb in place
  .venv/bin/python scripts/strip_notebooks.py a.ipynb b.ipynb # strip these
  .venv/bin/python scripts/strip_notebooks.py --check         # exit 1 if any notebook still has outputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def strip(nb) -> bool:
    """Remove outputs, execution counts and run metadata from ``nb`` in place; True if anything changed."""
    changed = False
    for cell in nb.cells:
        for key in RUN_METADATA:
            changed |= cell.metadata.pop(key, None) is not None
        if cell.cell_type != "code":
            continue
        changed |= bool(cell.outputs) or cell.execution_count is not None
        cell.outputs, cell.execution_count = [], None
    for key in [k for k in nb.metadata if k not in KEEP_NOTEBOOK_METADATA]:
        del nb.metadata[key]
        changed = True
    language = nb.metadata.get("language_info", {})
    for key in [k for k in language if k != "name"]:  # version numbers of whoever ran it last
        del language[key]
        changed = True
    return changed


def dirty(nb) -> bool:
    """Whether ``nb`` holds outputs or execution counts."""
    return any(c.cell_type == "code" and (c.outputs or c.execution_count is not None) for c in nb.cells)


def main(argv=None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: results/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook has outputs")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "results").glob("*.ipynb"))
    status = 0
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read this notebook: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.check:
            if dirty(nb):
                print(f"{path}: has outputs; run scripts/strip_notebooks.py before committing", file=sys.stderr)
                status = max(status, 1)
        elif strip(nb):
            nbformat.validate(nb)
            nbformat.write(nb, path)
            print(f"stripped {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
