"""Complete an interrupted batch (killed, Ctrl-C, disk full, machine reboot).

Finds the runs the batch folder does not hold yet and runs them with the
batch's own scenarios, seeds and spawn keys, so the final tables are identical
to an uninterrupted batch. Temporary files are removed, damaged Parquet parts and
parts whose monthly file was lost are moved to quarantine/ (their runs are run
again), and runs stored twice keep one copy. Runs recorded as failed are kept as
they are. Works for 'parksim run' and 'parksim sweep' batches alike. Only one
process writes a batch at a time: a second one stops at once (exit code 3).
Exit code: 0 all runs ok, 1 some runs failed, 2 bad input, 3 batch locked by
another writer or unwritable, 130 interrupted.

examples:
  parksim resume 20261127-183512-ab12cd
  parksim resume 20261127-183512-ab12cd --workers 2
  parksim resume results/runs/20261127-183512-ab12cd --dask tcp://10.0.0.5:8786
"""

from __future__ import annotations

import sys

from sim.cli import options

HELP = "complete an interrupted batch with identical results"


def register(p):
    p.add_argument("batch", metavar="ID", help="batch id (folder name under --root) or a batch folder")
    options.add_root(p)
    options.add_executor(p)
    options.add_quiet(p)


def main(args) -> int:
    from sim.cli.show import print_outcome_summary
    from sim.run.batch import resume_batch

    command = options.command_line()
    batch = resume_batch(
        args.batch, root=args.root, workers=args.workers, dask=args.dask, progress=not args.quiet, command=command
    )
    print_outcome_summary(batch)
    print(batch.summary_line())
    if batch.failed:
        print(f"parksim resume: {batch.failed} run(s) failed; see 'parksim show {batch.id}'", file=sys.stderr)
        return 1
    return 0
