"""The embedded store seen from every process but the store process: write by spooling, read by asking.

A chDB data directory admits one process at a time, and loading chDB costs a process ~400 MiB of
private memory that it never gives back. So exactly one process per data directory loads it: the
store process (``service.py``), started on demand and exiting when idle. Everyone else:

- writes (``EmbeddedSink``, an app's writer): appends each batch to the spool directory
  ``PATH.spool`` as a ``rows`` file (``rowfile``: no pyarrow in the app), then makes sure a store
  process runs; that process ingests the spool, oldest first;
- reads (``ServiceStore``, what ``open_store`` returns: the CLI, analytics): sends its statements
  over the unix socket ``PATH.spool/store.sock``; the store process ingests the spool before each
  query, so results include every row spooled so far.

The store process holds the ``flock`` of ``PATH.spool/.owner.lock`` for as long as it has chDB
open: whoever finds that lock free starts one (several may start; one wins the lock, the others
exit at once). The kernel drops the lock of a process killed with ``kill -9``, so the next writer
or reader starts a new one, and the spool files it had not ingested wait for it.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from otel_llm.storage import rowfile
from otel_llm.storage.chunk import Chunk, joined, slices
from otel_llm.storage.config import URL_ENV, StoreConfig
from otel_llm.storage.errors import QueryError, StoreUnavailable
from otel_llm.storage.ownership import POLL_S, OwnerLock
from otel_llm.storage.spool import Outcome, Spool

log = logging.getLogger("otel_llm.storage")

SOCKET_NAME = "store.sock"
LOG_NAME = "store.log"  # the store process's stderr
# A process starts a store process at most this often: one that was just started needs a moment
# (an interpreter's start-up) before it holds the lock that says it runs.
START_INTERVAL_S = 2.0
# Unix socket paths are limited to 108 bytes; longer ones are reached through /proc/self/fd.
_MAX_SOCKET_PATH = 100
_LENGTH = struct.Struct("!Q")

_last_start: dict[Path, float] = {}
_start_lock = threading.Lock()


def _new_start_lock() -> None:
    global _start_lock
    _start_lock = threading.Lock()  # the inherited one may be held by a thread the child lacks


os.register_at_fork(after_in_child=_new_start_lock)


def socket_path(config: StoreConfig) -> Path:
    return config.spool_dir / SOCKET_NAME


def store_process_running(config: StoreConfig) -> bool:
    lock = OwnerLock(config.lock_path)
    if not lock.try_acquire():
        return True
    lock.release()
    return False


def ensure_store_process(config: StoreConfig, create_schema: bool = False) -> None:
    """Start the store process for ``config`` unless one runs (or this process just started one).

    ``create_schema``: it creates ``llm_traces`` at once (a writer's, so that readers find the
    table while the app's first spans are still on their way); a reader's leaves that to
    ``otel-llm init-db`` or to the first spooled rows.
    """
    with _start_lock:
        now = time.monotonic()
        if now - _last_start.get(config.lock_path, -START_INTERVAL_S) < START_INTERVAL_S:
            return
        if store_process_running(config):
            return
        _last_start[config.lock_path] = now
        config.spool_dir.mkdir(parents=True, exist_ok=True)
        with open(config.spool_dir / LOG_NAME, "ab") as log_file:
            # It detaches itself (a second fork), so this wait is short and leaves no zombie.
            subprocess.run(
                [sys.executable, "-m", "otel_llm.storage.service", config.url]
                + (["--create-schema"] if create_schema else []),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=_store_process_env(),
                cwd="/",
                start_new_session=True,
                check=False,
            )


def _store_process_env() -> dict[str, str]:
    # Under `opentelemetry-instrument` the app's PYTHONPATH starts the OTel SDK and its
    # exporters in every interpreter; the store process must not trace (or export) itself.
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and "auto_instrumentation" not in p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["OTEL_SDK_DISABLED"] = "true"
    return env


class EmbeddedSink:
    """The writer's sink for the embedded store: every batch goes to the spool for the store
    process; spooling is the normal path here, not a sign of trouble."""

    def __init__(self, config: StoreConfig):
        self.config = config
        self.spool = Spool(config.spool_dir)
        self._unusable = False
        self._started = False  # started (or found) a store process yet

    chunks = staticmethod(slices)

    @staticmethod
    def encode(rows: Sequence[tuple | dict]) -> Chunk:
        return Chunk(rowfile.dumps(list(rows)), len(rows))

    def spool_batch(self, chunks: list[Chunk], rows: int, token: str) -> Outcome:
        payload = joined(chunks)
        try:
            self.spool.put(payload, rows, token, kind="rows")
        except OSError as exc:  # said once, when it starts, and once when it ends
            if not self._unusable:
                self._unusable = True
                log.error(
                    "otel-llm: cannot use the embedded store at %s (%s); its rows are dropped until its spool "
                    "%s can be written. Point %s at a writable directory.",
                    self.config.path, exc, self.spool.directory, URL_ENV,
                )
            return Outcome(dropped=rows)
        if self._unusable:
            self._unusable = False
            log.warning("otel-llm: the embedded store's spool %s can be written again", self.spool.directory)
        return Outcome(spooled=rows)

    def deliver(self, chunks: list[Chunk], rows: int, token: str) -> Outcome:
        outcome = self.spool_batch(chunks, rows, token)
        if outcome.spooled:
            self._start_store_process()
        return outcome

    def maintain(self, deadline: float | None = None, busy: bool = False) -> Outcome:
        # At the writer's start (see ensure_store_process); then, a store process killed (kill -9)
        # after we spooled: the next one ingests what it left.
        if not self._started or self.spool.has_pending():
            self._start_store_process()
        return Outcome()

    def close(self, timeout_s: float) -> Outcome:
        """Wait up to ``timeout_s`` for the store process to ingest what this process spooled
        (what remains stays in the spool for the next store process)."""
        deadline = time.monotonic() + timeout_s
        pid = os.getpid()
        while any(item.pid == pid for item in self.spool.pending()):
            if time.monotonic() >= deadline:
                log.info("otel-llm: rows of this process wait in %s for the store process", self.spool.directory)
                break
            self._start_store_process()
            time.sleep(POLL_S * 5)
        return Outcome()

    def forget_inherited(self) -> None:
        """Nothing of the parent's to let go of: the sink holds no lock, engine or connection."""

    def _start_store_process(self) -> None:
        try:
            ensure_store_process(self.config, create_schema=True)
            self._started = True
        except OSError as exc:  # the rows are safe in the spool; the next batch tries again
            log.error("otel-llm: cannot start the store process for %s: %s", self.config.url, exc)


class ServiceStore:
    """The embedded store for a reader: statements go to the store process (started if none
    runs), which ingests the spool before every query."""

    database = "default"

    def __init__(self, config: StoreConfig, timeout_s: float):
        self._config = config
        self._timeout_s = timeout_s
        self._sock = self._connect()

    def insert(self, columns, rows) -> None:
        from otel_llm.storage.base import encode_rows

        self.insert_arrow(encode_rows(columns, rows))

    def insert_arrow(self, payload, token: str | None = None) -> None:
        self._call({"op": "insert", "payload": bytes(payload), "token": token})

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        from otel_llm.storage.chdb_store import arrow_rows, query_parameters

        return arrow_rows(self._call({"op": "query", "sql": sql, "parameters": query_parameters(parameters)}))

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        from otel_llm.storage.chdb_store import query_parameters

        self._call({"op": "command", "sql": sql, "parameters": query_parameters(parameters)})

    def close(self) -> None:
        self._sock.close()

    def _call(self, request: dict) -> Any:
        reply = self._exchange(request)
        if reply is None:
            # The store process went away (exiting when idle as we connected, or killed): ask its
            # successor. A statement it may have run is safe to repeat: queries, DDL that is
            # IF NOT EXISTS, inserts with their dedup token.
            self._sock.close()
            self._sock = self._connect()
            reply = self._exchange(request)
        if reply is None:
            raise StoreUnavailable(f"the store process for {self._config.url} went away")
        if "error" in reply:
            raise (QueryError if reply["error"] == "QueryError" else StoreUnavailable)(reply["message"])
        return reply.get("result")

    def _exchange(self, request: dict) -> dict | None:
        try:
            send_message(self._sock, request)
            return recv_message(self._sock)
        except OSError:
            return None

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self._timeout_s
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                with socket_address(socket_path(self._config)) as address:
                    sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
            try:
                ensure_store_process(self._config)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot use the embedded store at {self._config.path} ({exc}); "
                    f"point {URL_ENV} at a writable directory"
                ) from None
            if time.monotonic() >= deadline:
                raise StoreUnavailable(
                    f"embedded store {self._config.path}: its store process did not answer within "
                    f"{self._timeout_s:g} s ({error}); see {self._config.spool_dir / LOG_NAME}"
                )
            time.sleep(POLL_S)


@contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """``path`` as a unix socket address, through ``/proc/self/fd`` when it is too long."""
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def send_message(sock: socket.socket, message: Any) -> None:
    data = rowfile.dumps(message)
    sock.sendall(_LENGTH.pack(len(data)) + data)


def recv_message(sock: socket.socket) -> Any:
    """The next message, or None when the other end closed the connection."""
    header = _recv_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    data = _recv_exactly(sock, _LENGTH.unpack(header)[0])
    if data is None:
        return None
    return rowfile.loads(data)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(min(size - len(buffer), 1 << 20))
        if not chunk:
            return None
        buffer += chunk
    return bytes(buffer)
