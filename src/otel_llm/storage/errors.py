"""Errors the storage layer raises; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for everything the storage layer raises on purpose."""


class ConfigError(StorageError):
    """The store setting (``OTEL_LLM_CLICKHOUSE_URL`` or ``--url``) cannot be used."""


class StoreUnavailable(StorageError):
    """The store cannot be reached or opened right now (server down, embedded store busy)."""


class QueryError(StorageError):
    """The store rejected a statement (syntax, unknown table, type mismatch...)."""
