"""``python -m sim`` runs the ``parksim`` command line (the same as ``parksim``)."""

import sys

from sim.cli import main

sys.exit(main())
