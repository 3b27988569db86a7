"""The small interface every store backend offers, and what is shared between them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union

from otel_llm.storage.columns import COLUMN_NAMES
from otel_llm.storage.schema import TABLE, quote_identifier

_TOKEN = re.compile(r"^[0-9a-f]{32}$")

# Every batch insert: ReplacingMergeTree otherwise collapses duplicate keys inside each inserted
# block, a sort-and-copy pass over the payload columns that was a large share of the embedded
# insert's CPU (benchmarks/README.md, bench_store). The key ends in the row id, so only a span sent twice in one batch is affected, and
# background merges (and FINAL) collapse that like any other duplicate.
INSERT_SETTINGS = {"optimize_on_insert": 0}

if TYPE_CHECKING:
    import pyarrow as pa

# An encoded batch: what codec.encode returns (pyarrow's buffer), or bytes read from a spool file.
Buffer = Union[bytes, memoryview, "pa.Buffer"]


class Store(Protocol):
    database: str

    def insert(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (sequences aligned with ``columns``) into ``llm_traces`` as one batch."""

    def insert_arrow(self, payload: Buffer, token: str | None = None) -> None:
        """Insert one Arrow IPC stream made by :func:`codec.encode`; ``token`` makes a re-sent
        batch a no-op (``insert_deduplication_token``)."""

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run a SELECT with server-side ``{name:Type}`` parameters."""

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns no rows (DDL, INSERT ... VALUES with parameters)."""

    def close(self) -> None: ...


def rows_as_dicts(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict]:
    unknown = set(columns) - set(COLUMN_NAMES)
    if unknown:
        raise ValueError(f"not columns of {TABLE}: {sorted(unknown)}")
    return [dict(zip(columns, row)) for row in rows]


def insert_target(database: str, columns: Sequence[str] = COLUMN_NAMES) -> str:
    """``db.llm_traces (col, ...)``: the database checked as an identifier, ``columns`` names of ours."""
    return f"{quote_identifier(database, 'database')}.{TABLE} ({', '.join(columns)})"


def insert_settings(token: str | None) -> dict:
    """Settings for one batch insert, with its deduplication token when there is one."""
    if not token:
        return dict(INSERT_SETTINGS)
    return {**INSERT_SETTINGS, "insert_deduplication_token": check_token(token)}


def check_token(token: str | None) -> str | None:
    # The token is ours (uuid4 hex), but it is spliced into SQL on the embedded path, so check it.
    if token is not None and not _TOKEN.match(token):
        raise ValueError(f"bad deduplication token {token!r}")
    return token


def encode_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Buffer:
    from otel_llm.storage import codec  # pyarrow: only where Arrow is written

    return codec.encode(rows_as_dicts(columns, rows))
