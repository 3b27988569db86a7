"""Errors the storage layer raises; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for everything the storage layer raises on purpose."""


class ConfigError(StorageError):
    """The store setting (``OTEL_LLM_CLICKHOUSE_URL`` or ``--url``) cannot be used."""


class StoreUnavailable(StorageError):
    """The store cannot be reached or opened right now (server down, embedded store busy)."""


class QueryError(StorageError):
    """The store rejected a statement (syntax, unknown table, type mismatch...).

    ``code`` is ClickHouse's error code as the client reported it (None when it gave none)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    @property
    def transient(self) -> bool:
        """Whether the store refused for now, or for who asked, rather than for what was sent:
        the same batch may go in later, so it is kept for a retry instead of set aside."""
        return self.code in _TRANSIENT_CODES


def refusal(error: QueryError) -> StorageError:
    """A store's refusal of an insert or a login: ``StoreUnavailable`` when it is transient (the
    writer then waits and retries, as in an outage), else the ``QueryError`` (the batch is bad)."""
    return StoreUnavailable(str(error)) if error.transient else error


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
