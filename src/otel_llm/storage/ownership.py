"""One owner at a time, across processes, via ``flock`` on a lock file.

Embedded chDB admits one process per data directory, so the process holding this lock is the only
one that opens it; for a remote store the same lock keeps two processes from replaying the same
spool files at once. ``flock`` belongs to the open file description, so it also serializes two
owners inside one process, and the kernel drops it when a process dies, so a crashed owner never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

POLL_S = 0.02


class OwnerLock:
    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(self, timeout_s: float) -> bool:
        """Poll rather than block so the wait honours ``timeout_s`` and stays interruptible."""
        deadline = time.monotonic() + timeout_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    def forget_inherited(self) -> None:
        """In a forked child: close the parent's descriptor without unlocking it. The lock
        belongs to the open file description, which the parent's descriptor keeps (and keeps
        locked); left open here, it would keep the store locked after the parent is gone."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
