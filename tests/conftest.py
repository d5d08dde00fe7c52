"""Test-wide setup: a private ModelPS home so tests never touch the user's ~/.modelps."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Shared by every test process (xdist workers too) so that cached zoo exports and demo weights are
# built once per machine; writers under it must be atomic (write a temp file, then os.replace).
os.environ.setdefault("MODELPS_HOME", str(Path(tempfile.gettempdir()) / "modelps-test-home"))
