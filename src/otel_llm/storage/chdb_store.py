"""Embedded store: chDB (the ClickHouse engine in-process) on a local data directory.

A chDB data directory admits one process at a time, and chDB admits one data directory per
process; ``ChdbStore`` is therefore opened only by the store process (``service.py``), which
owns the directory, and only wraps the session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from otel_llm.storage.base import Buffer, encode_rows, insert_settings, insert_target
from otel_llm.storage.columns import COLUMNS
from otel_llm.storage.errors import QueryError, StoreUnavailable, refusal

_COLUMN_TYPES = dict(COLUMNS)
# The process that started the in-process engine, if any.
_ENGINE_PID: int | None = None


class ChdbStore:
    database = "default"

    def __init__(self, path: Path):
        from chdb import session  # imported here: loading the engine takes a noticeable pause

        global _ENGINE_PID
        if _ENGINE_PID not in (None, os.getpid()):
            # The engine's threads do not survive a fork; its state copied into a child is unusable.
            raise StoreUnavailable(
                f"cannot open embedded store {path}: the engine was started in process {_ENGINE_PID}, "
                "which this one was forked from (its rows are spooled for the store's owner)"
            )
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._session = session.Session(str(path))
        except Exception as exc:  # chDB raises RuntimeError with the engine's message
            raise StoreUnavailable(f"cannot open embedded store {path}: {exc}") from None
        _ENGINE_PID = os.getpid()

    def insert(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.insert_arrow(encode_rows(columns, rows))

    def insert_arrow(self, payload: Buffer, token: str | None = None) -> None:
        import pyarrow as pa

        # Read in place: the table's columns are views into the stream.
        self.insert_table(pa.ipc.open_stream(pa.py_buffer(payload)).read_all(), token)

    def insert_table(self, table: Any, token: str | None = None) -> None:
        """Insert a ``pyarrow.Table`` whose columns are the codec's (by name; others ignored).

        The engine's Python() table function reads the Arrow columns where they lie. The
        ArrowStream input format copied a stream into its input buffer and decoded it there
        again, several times the payload's memory and about twice the engine's time
        (benchmarks/README.md, bench_store). Both let the app's threads run meanwhile. Columns are
        matched by name, so a spooled batch written before a column was added still inserts
        (that column gets its default).
        """
        # Python(otel_llm_batch) below finds this local by its name, in the query's calling frames.
        otel_llm_batch = table  # noqa: F841
        columns = [name for name in table.column_names if name in _COLUMN_TYPES]
        # Values are ours: 0/1 and a checked hex token.
        settings = ", ".join(f"{name} = {value!r}" for name, value in insert_settings(token).items())
        try:
            self._run(
                f"INSERT INTO {insert_target(self.database, columns)} SELECT {', '.join(map(_selected, columns))} "
                f"FROM Python(otel_llm_batch) SETTINGS {settings}",
                "TabSeparated",
                None,
            )
        except QueryError as exc:
            raise refusal(exc) from None

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        return arrow_rows(self.query_arrow(sql, parameters))

    def query_arrow(self, sql: str, parameters: Mapping[str, Any] | None = None) -> bytes:
        """The result as an Arrow file, for :func:`arrow_rows` here or in a reader's process."""
        # "Arrow" rather than chDB's "ArrowTable": that one imports pandas (slow, on first use).
        return self._run(sql, "Arrow", parameters).bytes()

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self._run(sql, "TabSeparated", parameters)

    def close(self) -> None:
        self._session.close()

    def _run(self, sql: str, fmt: str, parameters: Mapping[str, Any] | None):
        try:
            return self._session.query(sql, fmt, params=query_parameters(parameters))
        except Exception as exc:  # ChdbError / RuntimeError carry the engine's message
            message = _engine_message(exc)
            raise QueryError(message, _engine_code(message)) from None


def _selected(column: str) -> str:
    # The codec's 16 bytes are the UUID in text order; a CAST would read them as ClickHouse's
    # two little-endian halves (the ArrowStream input format converted them itself).
    return f"toUUID(UUIDNumToString({column}))" if _COLUMN_TYPES[column] == "UUID" else column


def arrow_rows(result: bytes) -> tuple[list[str], list[tuple]]:
    """Column names and row tuples of a query result in the Arrow file format."""
    import pyarrow as pa

    table = pa.ipc.open_file(pa.py_buffer(result)).read_all()
    columns = [_python_values(table.column(i)) for i in range(table.num_columns)]
    return list(table.column_names), list(zip(*columns))


def query_parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: _param(v) for k, v in (parameters or {}).items()}


def _param(value: Any) -> str:
    # chDB takes parameter values in ClickHouse's text form, like the HTTP interface's param_*.
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value.replace("\\", "\\\\")  # the text form reads a backslash as an escape
    return str(value)


def _python_values(column) -> list:
    import pyarrow as pa

    values = column.to_pylist()
    if pa.types.is_map(column.type):
        return [dict(v) if v is not None else None for v in values]
    return values


def _engine_message(exc: Exception) -> str:
    text = str(exc).strip()
    for prefix in ("Streaming insert finish failed: ", "Streaming insert append failed: "):
        text = text.removeprefix(prefix)
    return text


# chDB's ChdbError carries no code of its own, only the engine's message ("Code: 60. DB::Exception: ...").
_CODE = re.compile(r"\bCode: (\d+)\.")


def _engine_code(message: str) -> int | None:
    code = _CODE.search(message)
    return int(code.group(1)) if code else None
