"""Where the writer's background thread puts a batch: the store now, or the spool for later.

``EmbeddedSink``: insert directly while this process owns the chDB directory, else spool (the
owner of the moment ingests everyone's spool). ``RemoteSink``: insert with a few quick retries;
when the server stays down, spool and probe with exponential backoff, replaying the spool (under
the owner lock, so two processes don't replay the same files) once it answers again.
Both take a batch as the writer's Arrow record batches and return what happened to it, so the
writer can count it. The embedded store reads the record batches where they lie; a remote store
and the spool get one Arrow IPC stream of them, encoded once per batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pyarrow as pa

from otel_llm.storage import codec
from otel_llm.storage.base import Buffer
from otel_llm.storage.config import StoreConfig
from otel_llm.storage.drain import drain
from otel_llm.storage.embedded import EmbeddedOwner
from otel_llm.storage.errors import QueryError, StoreUnavailable
from otel_llm.storage.ownership import OwnerLock
from otel_llm.storage.spool import Spool

log = logging.getLogger("otel_llm.storage")

# Batches bound for the network or for a spool that may have to hold hours of a remote outage
# are lz4-compressed (cheap, chat JSON shrinks several-fold). Embedded batches are inserted
# straight from memory, and spooled uncompressed when another process owns the store: its
# owner reads them back within seconds, and compressing would only cost CPU. (What a full queue
# makes ``Writer.submit`` spool is compressed for either store.)
SPOOL_COMPRESSION = "lz4"


@dataclass
class Outcome:
    written: int = 0
    spooled: int = 0
    dropped: int = 0

    def add(self, other: Outcome) -> None:
        self.written += other.written
        self.spooled += other.spooled
        self.dropped += other.dropped


def spool_or_drop(spool: Spool, payload: Buffer, rows: int, token: str) -> Outcome:
    try:
        spool.put(payload, rows, token)
    except OSError as exc:
        log.error("otel-llm: cannot spool %d rows to %s, dropping them: %s", rows, spool.directory, exc)
        return Outcome(dropped=rows)
    return Outcome(spooled=rows)


class EmbeddedSink:
    def __init__(self, config: StoreConfig):
        self.owner = EmbeddedOwner(config)
        self.spool = self.owner.spool
        self._last_work = time.monotonic()
        self._refusing = False  # the last drain met a transient refusal (logged once per episode)

    def deliver(self, batches: list[pa.RecordBatch], rows: int, token: str) -> Outcome:
        """Insert ``batches`` as one part, or spool them."""
        self._last_work = time.monotonic()
        if self.owner.try_own():
            # No IPC stream in between: encoding one cost the writer ~1 us a row, and for a
            # 10 MB payload 10 MB more at the peak.
            batches = codec.merged(batches)  # the engine takes the GIL per record batch (codec.MERGED_BATCH_BYTES)
            table = pa.Table.from_batches(batches, codec.SCHEMA)
            try:
                self.owner.store.insert_table(table, token)
                return Outcome(written=rows)
            except (QueryError, StoreUnavailable) as exc:
                # Keep the batch: the drain retries it while the refusal is transient (too many
                # parts, a full disk) and sets it aside only if the batch itself is bad.
                if not (isinstance(exc, StoreUnavailable) and self._refusing):
                    log.error("otel-llm: embedded insert failed, spooling the batch: %s", exc)
            finally:
                del table
                # Idle time counts from the insert's end: an insert that took over
                # IDLE_RELEASE_S (a loaded machine) made the owner let go of the store right
                # after it, stay away YIELD_S and spool the next batch.
                self._last_work = time.monotonic()
        return spool_or_drop(self.spool, codec.write_stream(batches), rows, token)

    def forget_inherited(self) -> None:
        self.owner.forget_inherited()

    def maintain(self, deadline: float | None = None) -> Outcome:
        """Ingest the shared spool if we can own the store; give the store up when due."""
        outcome = Outcome()
        if self.spool.has_pending() and self.owner.try_own():
            try:
                written, rejected = drain(self.spool, self.owner.store, deadline)
            except StoreUnavailable as exc:  # refusing inserts for now: the files wait, retried next time
                if not self._refusing:
                    log.warning("otel-llm: the embedded store refuses inserts for now; batches wait in %s: %s",
                                self.spool.directory, exc)
                self._refusing = True
            else:
                if self._refusing:
                    log.warning("otel-llm: the embedded store accepts inserts again; spooled batches ingested")
                self._refusing = False
                outcome.add(Outcome(written=written, dropped=rejected))
                self._last_work = time.monotonic()
        if self.owner.should_release(time.monotonic() - self._last_work):
            self.owner.release()
        return outcome

    def close(self, timeout_s: float) -> Outcome:
        """Wait for the spool to be ingested (by us or the owner); what remains after
        ``timeout_s`` stays on disk for the next owner or reader."""
        written, rejected = self.owner.wait_until_ingested(timeout_s)
        self.owner.release()
        return Outcome(written=written, dropped=rejected)


class RemoteSink:
    RETRIES = 3
    FIRST_BACKOFF_S = 0.1
    MAX_BACKOFF_S = 30.0

    def __init__(self, config: StoreConfig):
        self._config = config
        self.spool = Spool(config.spool_dir)
        self._rejected = Spool(config.spool_dir / "rejected")
        self._replay_lock = OwnerLock(config.lock_path)
        self._store = None
        self._down_until = 0.0
        self._backoff = self.FIRST_BACKOFF_S

    def deliver(self, batches: list[pa.RecordBatch], rows: int, token: str) -> Outcome:
        """Insert ``batches`` (which it empties) with retries, or spool them."""
        payload = codec.write_stream(batches, SPOOL_COMPRESSION)
        if time.monotonic() >= self._down_until:
            delay = self.FIRST_BACKOFF_S
            for attempt in range(self.RETRIES):
                try:
                    self._connected().insert_arrow(payload, token)
                    self._mark_up()
                    return Outcome(written=rows)
                except StoreUnavailable as exc:  # down, or refusing for now (errors.refusal)
                    if attempt == self.RETRIES - 1:
                        self._mark_down(exc)
                    else:
                        time.sleep(delay)
                        delay *= 2
                except QueryError as exc:
                    return self._quarantine(payload, rows, token, exc)
        return spool_or_drop(self.spool, payload, rows, token)

    def _quarantine(self, payload: Buffer, rows: int, token: str, exc: QueryError) -> Outcome:
        """A batch the server refuses (a schema mismatch, not an outage): retrying cannot help,
        but its rows are kept beside the rejected spool files for inspection and replay."""
        try:
            self._rejected.put(payload, rows, token)
            kept = f"kept in {self._rejected.directory}"
        except OSError as write_error:
            kept = f"and could not be kept ({write_error})"
        log.error("otel-llm: store rejected a batch of %d rows, %s: %s", rows, kept, exc)
        return Outcome(dropped=rows)

    def forget_inherited(self) -> None:
        self._replay_lock.forget_inherited()

    def maintain(self, deadline: float | None = None) -> Outcome:
        if time.monotonic() < self._down_until or not self.spool.has_pending():
            return Outcome()
        if not self._replay_lock.try_acquire():
            return Outcome()  # another process is replaying
        try:
            written, rejected = drain(self.spool, self._connected(), deadline)
            self._mark_up()
            return Outcome(written=written, dropped=rejected)
        except StoreUnavailable as exc:
            self._mark_down(exc)
            return Outcome()
        finally:
            self._replay_lock.release()

    def close(self, timeout_s: float) -> Outcome:
        self._down_until = 0.0  # one last try regardless of backoff
        outcome = self.maintain(time.monotonic() + timeout_s)
        if self._store is not None:
            self._store.close()
        return outcome

    def _connected(self):
        if self._store is None:
            from otel_llm.storage import schema
            from otel_llm.storage.http_store import HttpStore

            store = HttpStore(self._config)
            try:
                schema.apply(store)
            except QueryError as exc:
                # Refused (no DDL grant), not down: inserting may still work, if llm_traces exists.
                log.error(
                    "otel-llm: cannot bring %s to the current schema (%s); inserting anyway. "
                    "Run `otel-llm init-db --url ...` as a user allowed CREATE and ALTER.",
                    self._config.url, exc,
                )
            self._store = store
        return self._store

    def _mark_up(self) -> None:
        if self._down_until:
            log.warning("otel-llm: %s is reachable again", self._config.url)
        self._down_until = 0.0
        self._backoff = self.FIRST_BACKOFF_S

    def _mark_down(self, exc: Exception) -> None:
        if not self._down_until:
            log.warning("otel-llm: store down or refusing inserts, spooling to %s: %s", self.spool.directory, exc)
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.MAX_BACKOFF_S)
        if self._store is not None:
            self._store.close()
            self._store = None
