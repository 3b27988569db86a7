"""The embedded store shared by many processes: lock, open, catch up on the spool, release.

Design (see also DESIGN.md, "ClickHouse"):

- Every process that writes keeps its batches in memory briefly, then either inserts them itself
  if it currently owns the data directory, or appends them to the shared spool directory.
- Ownership is an ``flock`` on ``PATH.spool/.owner.lock``. The owner opens chDB, applies the schema,
  inserts the spool (every process's batches, oldest first) and its own batches, and gives the
  directory up when it has been idle ``IDLE_RELEASE_S`` or has held it ``MAX_HOLD_S``; after giving
  it up it stays away for ``YIELD_S`` so that a waiting ``otel-llm query`` (which polls every
  20 ms) gets its turn even under continuous load.
- A reader (``open_store``) takes the lock with a timeout, drains the spool first so results
  include everything written so far, runs its queries and releases on ``close()``.
"""

from __future__ import annotations

import time
from pathlib import Path

from otel_llm.storage import schema
from otel_llm.storage.chdb_store import ChdbStore
from otel_llm.storage.config import StoreConfig
from otel_llm.storage.drain import drain
from otel_llm.storage.errors import StoreUnavailable
from otel_llm.storage.ownership import OwnerLock
from otel_llm.storage.spool import Spool

IDLE_RELEASE_S = 1.0
MAX_HOLD_S = 2.0
YIELD_S = 0.2


class EmbeddedOwner:
    """Holds (or not) the embedded data directory for this process."""

    def __init__(self, config: StoreConfig, apply_schema: bool = True):
        assert config.path is not None
        self._apply_schema = apply_schema
        self.path: Path = config.path
        self.spool = Spool(config.spool_dir)
        self._lock = OwnerLock(config.lock_path)
        self.store: ChdbStore | None = None
        self._held_since = 0.0
        self._yield_until = 0.0

    def try_own(self) -> bool:
        """Become the owner if nobody else is and we did not just step back; never blocks."""
        if self.store is not None:
            return True
        if time.monotonic() < self._yield_until or not self._lock.try_acquire():
            return False
        return self._open()

    def own(self, timeout_s: float) -> bool:
        if self.store is not None:
            return True
        return self._lock.acquire(timeout_s) and self._open()

    def should_release(self, idle_s: float) -> bool:
        held = time.monotonic() - self._held_since
        return self.store is not None and (idle_s >= IDLE_RELEASE_S or held >= MAX_HOLD_S)

    def release(self) -> None:
        if self.store is not None:
            store, self.store = self.store, None
            store.close()
            self._yield_until = time.monotonic() + YIELD_S
        self._lock.release()

    def _open(self) -> bool:
        try:
            store = ChdbStore(self.path)
            if self._apply_schema or self.spool.has_pending():
                schema.apply(store)
        except StoreUnavailable:
            # Locked but unopenable: something outside otel-llm has the directory open.
            self._lock.release()
            return False
        self.store = store
        self._held_since = time.monotonic()
        return True


class OwnedChdbStore:
    """The embedded store for a reader: owns the directory from open to ``close()``, so hold it
    briefly (writers spool meanwhile)."""

    database = ChdbStore.database

    def __init__(self, config: StoreConfig, timeout_s: float):
        # No automatic schema for a reader unless it has spooled rows to ingest: `init-db` should
        # be the one that reports creating the table.
        self._owner = EmbeddedOwner(config, apply_schema=False)
        if not self._owner.own(timeout_s):
            raise StoreUnavailable(
                f"embedded store {config.path} is busy (not released within {timeout_s:g} s) "
                "or cannot be opened by this process"
            )
        self._store = self._owner.store
        drain(self._owner.spool, self._store)

    def insert(self, columns, rows) -> None:
        self._store.insert(columns, rows)

    def insert_arrow(self, payload: bytes, token: str | None = None) -> None:
        self._store.insert_arrow(payload, token)

    def query(self, sql, parameters=None):
        return self._store.query(sql, parameters)

    def command(self, sql, parameters=None) -> None:
        self._store.command(sql, parameters)

    def close(self) -> None:
        self._owner.release()
