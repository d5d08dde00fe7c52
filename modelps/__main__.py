"""``python -m modelps`` runs the command line."""

import sys

from modelps.cli import main

sys.exit(main())
