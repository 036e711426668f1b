"""Compare finished batches side by side: one table and PNG figures.

For every scenario or design point of the batches given: the probability of
reaching each target under each definition with a 95% Wilson interval
(targets.csv, targets.png), fan charts of key indicators over time (median and
90% band: projects signed, listed companies, market value, leading firms,
graphene firms; fan_charts.png), where firms and talent are by zone at the end
(zones.csv, zones.png), and paired differences against a reference scenario,
run by run on the same replicate seeds (common random numbers) with 95%
intervals (paired_differences.csv, paired_differences.png). Scenario names
that occur in several batches are prefixed with their batch id. The printed
tables number the scenarios or design points [1], [2], ... and name each below
(a design point by its lever values); they fit 120 columns, split in as many
tables as that takes. Files go to
--out, by default to compare/ (or compare-with-OTHER_IDS/) inside the first
batch's folder.

examples:
  parksim compare 20261127-183512-ab12cd
  parksim compare 20261127-183512-ab12cd 20261128-090000-0f1e2d --out results/compare/eco --reference baseline
"""

from __future__ import annotations

import sys

from sim.cli import options

HELP = "compare finished batches: target probabilities, fan charts, zones, paired differences"


def register(p):
    p.add_argument("batches", nargs="+", metavar="RUN", help="batch ids (folders under --root) or batch folders")
    options.add_root(p)
    p.add_argument(
        "--out",
        help="folder for the tables and figures (default: compare[-with-OTHER_IDS]/ in the first batch's folder)",
    )
    p.add_argument("--reference", help="scenario the paired differences are taken against (default: the first)")


def main(args) -> int:
    from pathlib import Path

    from sim.analysis.compare import compare
    from sim.errors import StoreError
    from sim.model.scenario import ScenarioError
    from sim.run.batch import load_batch

    if args.out:
        _check_out(Path(args.out))  # before reading any batch: a wrong --out is a typo, found at once
    batches = [load_batch(b, root=args.root) for b in args.batches]
    for b in batches:
        if b.status not in ("complete", "complete-with-failures"):
            print(f"parksim compare: note: {b.summary_line()}; comparing the runs it holds", file=sys.stderr)
    others = "-".join(b.id for b in batches[1:])
    out = Path(args.out) if args.out else batches[0].folder / ("compare" + (f"-with-{others}" if others else ""))
    _check_out(out)
    try:
        result = compare(batches, out, reference=args.reference)
    except ValueError as exc:  # sim.analysis.compare's "no finished runs" / "unknown reference"; never a disk fault
        raise ScenarioError(args.batches[0], "--reference" if args.reference else None, str(exc)) from None
    except OSError as exc:  # a full disk or a folder that cannot be written: a store fault (exit 3), not bad input
        why = exc.strerror or str(exc)
        raise StoreError(out, f"cannot write the comparison: {why}; free space or give another --out") from exc
    _print(result)
    for name, path in result["files"].items():
        print(f"wrote {path}" if name.endswith(".png") else f"table {path}")
    return 0


def _check_out(out) -> None:
    """Refuse an output folder that is, or lies inside, an existing file (nothing is written then)."""
    from sim.errors import InputError

    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "is a file" if folder == out else f"lies inside {folder}, which is a file"
                raise InputError("--out", None, f"{out} {where}; give a folder (it is created if missing)")
            return


def _print(result) -> None:
    from sim.analysis.compare import format_comparison

    print(format_comparison(result))
