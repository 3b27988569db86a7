"""Errors the storage layer raises; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations

import re


class StorageError(Exception):
    """Base class for everything the storage layer raises on purpose."""


class ConfigError(StorageError):
    """The store setting (``OTEL_LLM_CLICKHOUSE_URL`` or ``--url``) cannot be used."""


class StoreUnavailable(StorageError):
    """The store cannot be reached or opened right now (server down, embedded store busy)."""


class QueryError(StorageError):
    """The store rejected a statement (syntax, unknown table, type mismatch...)."""

    @property
    def transient(self) -> bool:
        """Whether the store refused for now, or for who asked, rather than for what was sent:
        the same batch may go in later, so it is kept for a retry instead of set aside."""
        code = _CODE.search(str(self))
        return code is not None and int(code.group(1)) in _TRANSIENT_CODES


def refusal(message: str) -> StorageError:
    """A store's refusal of an insert or a login: ``StoreUnavailable`` when it is transient (the
    writer then waits and retries, as in an outage), else ``QueryError`` (the batch is bad)."""
    error = QueryError(message)
    return StoreUnavailable(message) if error.transient else error


_CODE = re.compile(r"\bCode: (\d+)\.")
# ClickHouse's error codes for a refusal that is not about the batch (names: errorCodeToName).
_TRANSIENT_CODES = frozenset(
    {
        60, 81,  # UNKNOWN_TABLE, UNKNOWN_DATABASE: not created yet (a user without DDL rights)
        164, 497, 242,  # READONLY, ACCESS_DENIED, TABLE_IS_READ_ONLY
        192, 193, 194, 516,  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
        252, 241, 173, 202, 203, 201,  # TOO_MANY_PARTS, MEMORY_LIMIT_EXCEEDED, CANNOT_ALLOCATE_MEMORY,
        # TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION, QUOTA_EXCEEDED
        243, 75,  # NOT_ENOUGH_SPACE, CANNOT_WRITE_TO_FILE_DESCRIPTOR (a full disk)
        159, 209, 210, 279, 394,  # TIMEOUT_EXCEEDED, SOCKET_TIMEOUT, NETWORK_ERROR, ALL_CONNECTION_TRIES_FAILED,
        # QUERY_WAS_CANCELLED
        285, 286, 319, 999,  # TOO_FEW_LIVE_REPLICAS, UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE,
        # UNKNOWN_STATUS_OF_INSERT, KEEPER_EXCEPTION
    }
)
