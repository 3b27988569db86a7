"""What a Python child process a test starts needs to import the test helpers (``tests.rows``...)."""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """This process's environment, with the repository's root first on PYTHONPATH."""
    path = [str(REPOSITORY), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
