"""Remote store: a ClickHouse server or cluster over HTTP(S), through clickhouse-connect."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import clickhouse_connect
import lz4.frame
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from otel_llm.storage.base import Buffer, encode_rows, insert_settings
from otel_llm.storage.columns import COLUMN_NAMES
from otel_llm.storage.config import StoreConfig
from otel_llm.storage.errors import QueryError, StoreUnavailable, refusal
from otel_llm.storage.jsonrows import FORMAT
from otel_llm.storage.schema import TABLE


class _QuietDriver(logging.Filter):
    """Drops what clickhouse-connect and urllib3 log on their own about a request of ours that
    failed: the failure reaches our caller as an exception, and the writer logs an outage once.
    (``Unexpected Http Driver Exception`` warnings; urllib3's ``Retrying ...`` for our server.)"""

    def __init__(self, host: str, port: int):
        super().__init__()
        self._ours = f"host='{host}', port={port}"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("clickhouse_connect"):
            return record.getMessage() != "Unexpected Http Driver Exception"
        return self._ours not in record.getMessage()


_quieted: set[tuple[str, int]] = set()


def _quiet_driver_logs(host: str, port: int) -> None:
    if (host, port) not in _quieted:
        _quieted.add((host, port))
        quiet = _QuietDriver(host, port)
        logging.getLogger("clickhouse_connect.driver._backend.http_sync").addFilter(quiet)
        logging.getLogger("urllib3.connectionpool").addFilter(quiet)


class HttpStore:
    def __init__(self, config: StoreConfig, timeout_s: float = 30.0):
        _quiet_driver_logs(config.host, config.port)
        self.database = config.database
        self._url = config.url
        self._encoding = config.insert_encoding
        settings = dict(config.settings)
        # Per batch: with async inserts, acknowledged only once written, and deduplicated by the
        # batch's token like a synchronous insert (config.py).
        self._insert_settings = (
            {"wait_for_async_insert": 1, "async_insert_deduplicate": 1}
            if settings.get("async_insert", "0") not in ("0", "")
            else {}
        )
        try:
            # clickhouse-connect retries nothing on insert by itself; retries and spooling are
            # the writer's job, so a dead server must fail fast here.
            self._client = clickhouse_connect.get_client(
                host=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                database=config.database,
                secure=config.secure,
                connect_timeout=min(timeout_s, 10.0),
                send_receive_timeout=timeout_s,
                autogenerate_session_id=False,
                # Same values as the embedded store: DateTime64(6, 'UTC') comes back tz-aware.
                tz_mode="schema",
                settings=settings,
            )
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot reach {self._url}: {_network_error(exc)}") from None
        except DatabaseError as exc:
            raise refusal(_query_error(exc)) from None

    def insert(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.insert_arrow(encode_rows(columns, rows))

    def insert_arrow(self, payload: Buffer, token: str | None = None) -> None:
        settings = {**insert_settings(token), **self._insert_settings}
        try:
            self._insert(payload, settings, "ArrowStream")
        except QueryError as exc:
            raise refusal(exc) from None

    def insert_json(self, payload: bytes, token: str | None = None) -> None:
        """Insert rows encoded by ``jsonrows`` (what an app's writer sends; no pyarrow needed)."""
        settings = {**insert_settings(token), **self._insert_settings}
        try:
            self._insert(payload, settings, FORMAT)
        except QueryError as exc:
            raise refusal(exc) from None

    def _insert(self, payload: Buffer, settings: dict, fmt: str) -> None:
        # A buffer body, not bytes: clickhouse-connect prepends the statement to bytes (one more
        # copy of the whole batch) but sends a buffer as it is, the statement in the URL. Not a
        # file-like either: urllib3 reads that in 16 KB blocks, one socket send each, and every
        # send lets go of the GIL, which beside a busy app thread took up to a switch interval to
        # get back (benchmarks/README.md, "Remote inserts"). A buffer goes in one send.
        if self._encoding:
            # One LZ4 frame, as clickhouse-connect compresses its own inserts: ~1 us a row of
            # ~3 KB (tests.rows: 15x for Arrow, 28x for JSON; real chats compress less), which a
            # remote server's uplink repays many times.
            body, encoding = memoryview(lz4.frame.compress(payload)), self._encoding
        else:
            body, encoding = memoryview(payload), None
        self._call(self._client.raw_insert, TABLE, COLUMN_NAMES, body, settings=settings, fmt=fmt, compression=encoding)

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        result = self._call(self._client.query, sql, parameters=dict(parameters or {}))
        return list(result.column_names), [tuple(row) for row in result.result_rows]

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self._call(self._client.command, sql, parameters=dict(parameters or {}) or None)

    def close(self) -> None:
        self._client.close()

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot reach {self._url}: {_network_error(exc)}") from None
        except DatabaseError as exc:
            raise _query_error(exc) from None


def _query_error(exc: DatabaseError) -> QueryError:
    # clickhouse-connect reads the code from the response's X-ClickHouse-Exception-Code header.
    return QueryError(_one_line(exc), exc.code)


def _one_line(exc: Exception) -> str:
    """clickhouse-connect wraps the server's message in several lines; keep them on one."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


# What a connection failure comes down to, inside urllib3's wrapping ("[Errno 111] Connection refused").
_CAUSE = re.compile(r"\[Errno -?\d+\] [^\"')]+|timed out|Connection (?:reset|aborted)[^\"')]*|RemoteDisconnected[^\"')]*")


def _network_error(exc: Exception) -> str:
    """A connection failure in a few words: urllib3's message repeats the request's URL (for an
    insert, its URL-encoded statement and settings) and every retry."""
    text = _one_line(exc)
    cause = _CAUSE.search(text)
    return cause.group(0).strip() if cause else re.sub(r"url: \S+", "url: ...", text)[:300]
