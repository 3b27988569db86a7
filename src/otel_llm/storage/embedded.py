"""The embedded store shared by many processes: lock, open, catch up on the spool, release.

Design:

- Every process that writes keeps its batches in memory briefly, then either inserts them itself
  if it currently owns the data directory, or appends them to the shared spool directory
  ``PATH.spool`` (durable, atomic files).
- Ownership is an ``flock`` on ``PATH.spool/.owner.lock``; only the owner opens chDB. The owner
  inserts its own batches directly and ingests everyone's spool, oldest first. Opening chDB costs
  ~0.3 s, so an owner keeps the directory as long as there is work, and other writers simply
  spool; it lets go when idle for ``IDLE_RELEASE_S`` (10 s), or at once when a reader asks for it.
- A reader (``otel-llm query``, ``open_store``) drops a ``.want-<pid>`` file in the spool
  directory, waits (with a timeout) for the lock, ingests the spool first so results include
  every row written so far, and releases on ``close()``. The owner, seeing the want file, releases
  and stays away for ``YIELD_S`` so the reader (polling every 20 ms) wins the lock.
- Nothing waits on ownership in the app's threads: a writer that cannot own spools. At shutdown a
  writer waits (within its timeout) until its spooled files are ingested, by itself or the owner.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from otel_llm.storage import schema
from otel_llm.storage.base import Buffer
from otel_llm.storage.chdb_store import ChdbStore
from otel_llm.storage.config import URL_ENV, StoreConfig
from otel_llm.storage.drain import drain
from otel_llm.storage.errors import StoreUnavailable
from otel_llm.storage.ownership import POLL_S, OwnerLock
from otel_llm.storage.spool import Spool

log = logging.getLogger("otel_llm.storage")

# An open session costs ~4 ms CPU a second idle, opening one again ~45 ms (and a slower first
# insert): holding the store about as long as a reopen costs is never worse than twice the best
# choice, whatever the traffic. With one span every 2 s, a 1 s hold cost 2.7% of a core, this
# 1.5% (every 5 s: 1.2% -> 0.9%). Readers do not wait for it: they ask, and the owner hands over.
IDLE_RELEASE_S = 10.0
YIELD_S = 0.5

# Data directories this process has already brought to the current schema: re-checking on every
# ownership change would add a few round trips to each hand-over.
_SCHEMA_READY: set[Path] = set()


class EmbeddedOwner:
    """Holds (or not) the embedded data directory for this process."""

    def __init__(self, config: StoreConfig, apply_schema: bool = True):
        assert config.path is not None
        self.path: Path = config.path
        self.spool = Spool(config.spool_dir)
        self._apply_schema = apply_schema
        self._lock = OwnerLock(config.lock_path)
        self.store: ChdbStore | None = None
        self._yield_until = 0.0
        self._reported_unusable = False

    def try_own(self) -> bool:
        """Become the owner if nobody else is, no reader is waiting and we did not just step
        back; never blocks."""
        if self.store is not None:
            return True
        try:
            if time.monotonic() < self._yield_until or self.spool.wanted() or not self._lock.try_acquire():
                return False
        except OSError as exc:  # the directory cannot be created or read: say so once, and spool
            if not self._reported_unusable:
                self._reported_unusable = True
                log.error(
                    "otel-llm: cannot use the embedded store at %s (%s); rows go to its spool if that "
                    "can be written, else they are dropped. Point %s at a writable directory.",
                    self.path, exc, URL_ENV,
                )
            return False
        return self._open()

    def own(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for ownership, asking the current owner to hand over."""
        if self.store is not None:
            return True
        flag = self.spool.want()
        try:
            return self._lock.acquire(timeout_s) and self._open()
        finally:
            flag.unlink(missing_ok=True)

    def should_release(self, idle_s: float) -> bool:
        return self.store is not None and (idle_s >= IDLE_RELEASE_S or self.spool.wanted())

    def release(self) -> None:
        if self.store is not None:
            store, self.store = self.store, None
            store.close()
            self._yield_until = time.monotonic() + YIELD_S
        self._lock.release()

    def forget_inherited(self) -> None:
        """In a forked child: let go of the parent's lock. The open store stays referenced,
        unused: closing it (or letting it be collected) in the child hangs in the engine."""
        self._lock.forget_inherited()

    def wait_until_ingested(self, timeout_s: float) -> tuple[int, int]:
        """At shutdown: return once the spool is empty, ingesting it ourselves whenever we can
        get the lock; ``(rows_written, rows_rejected)`` by this process."""
        deadline = time.monotonic() + timeout_s
        written = rejected = 0
        while self.spool.has_pending() and time.monotonic() < deadline:
            if self._lock.try_acquire() and (self.store is not None or self._open()):
                try:
                    w, r = drain(self.spool, self.store, deadline)
                except StoreUnavailable as exc:  # refusing inserts for now: the files stay for the next owner
                    log.warning("otel-llm: spooled batches left in %s for later: %s", self.spool.directory, exc)
                    break
                written, rejected = written + w, rejected + r
            else:
                time.sleep(POLL_S)
        return written, rejected

    def _open(self) -> bool:
        try:
            store = ChdbStore(self.path)
            if self.path not in _SCHEMA_READY and (self._apply_schema or self.spool.has_pending()):
                schema.apply(store)
                _SCHEMA_READY.add(self.path)
        except StoreUnavailable:
            # Locked but unopenable: something outside otel-llm has the directory open.
            self._lock.release()
            return False
        self.store = store
        return True


class OwnedChdbStore:
    """The embedded store for a reader: owns the directory from open to ``close()``, so hold it
    briefly (writers spool meanwhile)."""

    database = ChdbStore.database

    def __init__(self, config: StoreConfig, timeout_s: float):
        # No automatic schema for a reader unless it has spooled rows to ingest: `init-db` should
        # be the one that reports creating the table.
        self._owner = EmbeddedOwner(config, apply_schema=False)
        try:
            owned = self._owner.own(timeout_s)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot use the embedded store at {config.path} ({exc}); point {URL_ENV} at a writable directory"
            ) from exc
        if not owned:
            raise StoreUnavailable(
                f"embedded store {config.path} is busy (not released within {timeout_s:g} s) "
                "or cannot be opened by this process"
            )
        self._store = self._owner.store
        try:
            drain(self._owner.spool, self._store)
        except StoreUnavailable as exc:  # inserts refused for now; reading may still work
            log.warning("otel-llm: some spooled rows are not in the store yet: %s", exc)

    def insert(self, columns, rows) -> None:
        self._store.insert(columns, rows)

    def insert_arrow(self, payload: Buffer, token: str | None = None) -> None:
        self._store.insert_arrow(payload, token)

    def query(self, sql, parameters=None):
        return self._store.query(sql, parameters)

    def command(self, sql, parameters=None) -> None:
        self._store.command(sql, parameters)

    def close(self) -> None:
        self._owner.release()
