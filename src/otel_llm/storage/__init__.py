"""Storage for ``llm_traces``: embedded chDB by default, ClickHouse over HTTP(S) when configured.

    from otel_llm.storage import open_writer, open_store

``open_writer(url=None)`` -> :class:`Writer` (batched, background, spooling; see ``writer.py``).
``open_store(url=None)`` -> a store (``insert``, ``insert_arrow``, ``query``, ``command``,
``close``; see ``base.Store``). On the embedded store its statements go to the store process
(``embedded.py``), which it starts if none runs.
"""

from __future__ import annotations

from otel_llm.settings import env_number
from otel_llm.storage.config import StoreConfig, parse_url
from otel_llm.storage.errors import ConfigError, QueryError, StorageError, StoreUnavailable
from otel_llm.storage.writer import Writer, open_writer

LOCK_TIMEOUT_ENV = "OTEL_LLM_LOCK_TIMEOUT_S"

__all__ = [
    "ConfigError",
    "QueryError",
    "StorageError",
    "StoreConfig",
    "StoreUnavailable",
    "Writer",
    "open_store",
    "open_writer",
    "parse_url",
]


def open_store(url: str | None = None, lock_timeout_s: float | None = None):
    """Open the store named by ``url`` (``OTEL_LLM_CLICKHOUSE_URL`` / embedded default when None).

    Embedded: waits up to ``lock_timeout_s`` (``OTEL_LLM_LOCK_TIMEOUT_S``, default 30) for the
    store process to answer; it ingests pending spool files before each query, so queries see
    every row written.
    """
    config = parse_url(url)
    if config.kind == "chdb":
        from otel_llm.storage.embedded import ServiceStore

        timeout = lock_timeout_s if lock_timeout_s is not None else env_number(LOCK_TIMEOUT_ENV, 30.0)
        return ServiceStore(config, timeout)
    from otel_llm.storage.http_store import HttpStore

    return HttpStore(config)
