"""``python -m sim.cli`` runs the ``parksim`` command line."""

import sys

from sim.cli import main

sys.exit(main())
