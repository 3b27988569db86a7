"""The store process: the one process that loads chDB for an embedded data directory.

    python -m otel_llm.storage.service chdb:///path/to/db [--create-schema]   (started by embedded.py)

It detaches (a second fork, a session of its own), takes the owner lock or exits if another store
process holds it, opens chDB, and then until idle:

- ingests the spool (``PATH.spool``), oldest file first, several files of rows per insert
  (``drain``), with a dedup token per insert (files inserted but not yet deleted when the
  process was killed are inserted again later, and the table ignores them). The rows are durable
  once spooled, so it lets small files gather into inserts of ``drain.GROUP_ROWS`` rows, which
  cost the engine less than half as much a row: it ingests once the writers have been quiet for
  ``QUIET_S``, or a file has waited ``MAX_WAIT_S``, or a whole group is there;
- answers readers on the unix socket ``PATH.spool/store.sock`` (one thread a connection; the
  engine is used by one statement at a time), ingesting the spool before each query.

It exits once the spool has been empty, and no reader connected, for ``OTEL_LLM_STORE_IDLE_S``
(default 30 s), giving its ~400 MiB back. A file spooled while it was letting go is found by its
last look at the spool after releasing the lock: it then starts over.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

from otel_llm.settings import env_number
from otel_llm.storage.config import StoreConfig, parse_url
from otel_llm.storage.errors import StorageError
from otel_llm.storage.ownership import OwnerLock
from otel_llm.storage.spool import Spool

log = logging.getLogger("otel_llm.storage")

IDLE_ENV = "OTEL_LLM_STORE_IDLE_S"
DEFAULT_IDLE_S = 30.0
POLL_S = 0.1
# When the spool is ingested (see the module's docstring): a steady stream of small files (a busy
# receiver spools one per group commit, every few tens of ms) gathers for up to MAX_WAIT_S; the
# last file of a burst (an app's exit) waits QUIET_S.
QUIET_S = 0.2
MAX_WAIT_S = 1.0


def main(argv: list[str]) -> int:
    config = parse_url(argv[0])
    create_schema = "--create-schema" in argv[1:]
    if os.fork():  # the starter waits for this parent only; the child is reparented to init
        os._exit(0)
    # Its stderr is PATH.spool/store.log: warnings and errors only, so that a store process
    # started and stopped all day long does not grow it.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s store process %(process)d: %(message)s")
    lock = OwnerLock(config.lock_path)
    spool = Spool(config.spool_dir)
    while lock.try_acquire():
        try:
            try:
                process = StoreProcess(config, spool, create_schema)
            except StorageError as exc:  # something outside otel-llm has the directory open
                log.error("cannot open %s: %s", config.url, exc)
                return 1
            process.run(env_number(IDLE_ENV, DEFAULT_IDLE_S, minimum=0.0))
        finally:
            lock.release()
        if not spool.has_pending():
            return 0
    return 0


class StoreProcess:
    def __init__(self, config: StoreConfig, spool: Spool, create_schema: bool):
        from otel_llm.storage import schema
        from otel_llm.storage.chdb_store import ChdbStore
        from otel_llm.storage.reconcile import Reconciler

        self.config = config
        self.spool = spool
        self.store = ChdbStore(config.path)
        self._engine = threading.Lock()  # one statement at a time
        self._schema_ready = False
        if create_schema:
            try:
                schema.apply(self.store)
                self._schema_ready = True
            except StorageError as exc:  # tried again before the first ingest
                log.error("cannot create the schema in %s: %s", config.url, exc)
        self._refusing = False
        self._unprepared = ""  # why the schema could not be made ready, last time
        self._clients = 0
        self._closing = False
        self._last_activity = time.monotonic()
        self._state = threading.Lock()
        self._reconciler = Reconciler(config.database)

    def run(self, idle_s: float) -> None:
        from otel_llm.storage.embedded import socket_address, socket_path

        path = socket_path(self.config)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with socket_address(path) as address:
            try:
                os.unlink(address)  # a killed predecessor's (we hold the lock: no live one's)
            except FileNotFoundError:
                pass
            old_umask = os.umask(0o177)  # the socket is the store: this user's only
            try:
                server.bind(address)
            finally:
                os.umask(old_umask)
        server.listen(16)
        threading.Thread(target=self._accept, args=(server,), name="otel-llm-store-accept", daemon=True).start()
        log.debug("serving %s", self.config.url)
        try:
            while True:
                due = self._due()
                if due is not None:
                    with self._engine:
                        self._ingest(whole_groups=due == "groups")
                    self._touch()
                if self._reconciler.due(busy=self.spool.has_pending()):
                    with self._engine:
                        self._reconciler.run(self.store)
                with self._state:
                    idle = not self._clients and time.monotonic() - self._last_activity >= idle_s
                    if idle and not self.spool.has_pending():
                        self._closing = True  # a reader connecting now is turned away, and retries
                        break
                time.sleep(POLL_S)
        finally:
            with socket_address(path) as address:
                try:
                    os.unlink(address)
                except FileNotFoundError:
                    pass
            server.close()
            with self._engine:
                self.store.close()
            log.debug("idle, exiting")

    def _touch(self) -> None:
        with self._state:
            self._last_activity = time.monotonic()

    def _due(self) -> str | None:
        """What of the spool to ingest now: "all", "groups" (the whole groups only) or None."""
        from otel_llm.storage.drain import GROUP_ROWS

        pending = self.spool.pending()
        if not pending:
            return None
        newest_age, oldest_age = (time.time_ns() - pending[i].spooled_ns for i in (-1, 0))
        # (A file from the future: the clock went back; nothing would be due for that long.)
        if newest_age >= QUIET_S * 1e9 or oldest_age >= MAX_WAIT_S * 1e9 or newest_age < 0:
            return "all"
        return "groups" if sum(item.rows for item in pending) >= GROUP_ROWS else None

    def _ingest(self, whole_groups: bool = False) -> None:
        """The spooled batches into the store (the caller holds the engine)."""
        from otel_llm.storage import schema
        from otel_llm.storage.drain import drain
        from otel_llm.storage.errors import StoreUnavailable

        try:
            if not self._schema_ready:
                schema.apply(self.store)
                self._schema_ready = True
            # Before: a drain that stops half-way (the store refusing) still inserted some groups.
            self._reconciler.inserted(time.monotonic())
            drain(self.spool, self.store, whole_groups=whole_groups)
        except StoreUnavailable as exc:  # refusing inserts for now (a full disk): the files wait
            if not self._refusing:
                log.warning("the store refuses inserts for now; batches wait in %s: %s", self.spool.directory, exc)
            self._refusing = True
            return
        except StorageError as exc:
            if str(exc) != self._unprepared:  # tried again at every poll: said once
                log.error("cannot prepare %s for the spooled rows: %s", self.config.url, exc)
            self._unprepared = str(exc)
            return
        if self._refusing:
            log.warning("the store accepts inserts again; the spooled batches are in")
        self._refusing = False
        self._unprepared = ""

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: exiting
                return
            with self._state:
                if self._closing:
                    conn.close()
                    continue
                self._clients += 1
            threading.Thread(target=self._serve, args=(conn,), name="otel-llm-store-client", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        from otel_llm.storage.embedded import recv_message, send_message

        try:
            while True:
                try:
                    request = recv_message(conn)
                except (OSError, ValueError):
                    return
                if request is None:
                    return
                reply = self._answer(request)
                try:
                    send_message(conn, reply)
                except OSError:
                    return
        finally:
            conn.close()
            with self._state:
                self._clients -= 1
                self._last_activity = time.monotonic()

    def _answer(self, request: dict) -> dict:
        from otel_llm.storage.errors import QueryError

        op = request.get("op")
        try:
            with self._engine:
                if op == "query":
                    if self.spool.has_pending():  # so that results include every row written so far
                        self._ingest()
                    self._reconciler.run(self.store)  # and one row for each call
                    return {"result": self.store.query_arrow(request["sql"], request.get("parameters"))}
                if op == "command":
                    self.store.command(request["sql"], request.get("parameters"))
                    return {}
                if op == "insert":
                    self._reconciler.inserted(time.monotonic())
                    self.store.insert_arrow(request["payload"], request.get("token"))
                    return {}
            return {"error": "QueryError", "message": f"unknown request {op!r}"}
        except StorageError as exc:
            return {"error": "QueryError" if isinstance(exc, QueryError) else "StoreUnavailable", "message": str(exc)}
        except Exception as exc:  # a bad request must not take the store process down
            log.exception("request %r failed", op)
            return {"error": "QueryError", "message": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
