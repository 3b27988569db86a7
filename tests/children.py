"""Child processes of tests: what a Python child needs to import the test helpers (``tests.rows``...),
and the embedded store's store processes (``otel_llm.storage.service``) a test or benchmark watches."""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """This process's environment, with the repository's root first on PYTHONPATH."""
    path = [str(REPOSITORY), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def store_pids(url: str) -> list[int]:
    """Pids of the live store processes (``otel_llm.storage.service``) of store ``url``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"otel_llm.storage.service" in cmdline and url.encode() in cmdline:
            pids.append(int(entry))
    return pids
