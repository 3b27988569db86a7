"""Embedded store: chDB (the ClickHouse engine in-process) on a local data directory.

A chDB data directory admits one process at a time, and chDB admits one data directory per
process; ``ChdbStore`` therefore assumes its caller owns the directory (see ``ownership.py`` and
``embedded.py``) and only wraps the session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from otel_llm.storage.base import Buffer, encode_rows, insert_settings, insert_target
from otel_llm.storage.errors import QueryError, StoreUnavailable

_APPEND_BYTES = 1 << 20
# The process that started the in-process engine, if any.
_ENGINE_PID: int | None = None


class ChdbStore:
    database = "default"

    def __init__(self, path: Path):
        from chdb import session  # imported here: loading the engine costs ~0.3 s

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
        # Values are ours: 0/1 and a checked hex token.
        settings = ", ".join(f"{name} = {value!r}" for name, value in insert_settings(token).items())
        sql = f"INSERT INTO {insert_target(self.database)} SETTINGS {settings}"
        view = memoryview(payload)
        try:
            with self._session.send_insert(sql, "ArrowStream") as inserter:
                # append() takes bytes and copies anything else whole; slices keep that extra
                # copy of a large batch to one slice at a time. Each append gives up the GIL
                # and must win it back from the app's threads (up to the 5 ms switch interval
                # each time): next to one busy Python thread a 20,000-row insert took 4.8 s in
                # 64 KB slices, 0.8 s in 1 MB ones and 0.55 s in 4 MB ones; a 10 MB row peaks at
                # 48, 53 and 61 MB above baseline. 1 MB keeps most of the speed for little memory.
                for start in range(0, len(view), _APPEND_BYTES):
                    inserter.append(bytes(view[start : start + _APPEND_BYTES]))
                inserter.finish()
        except RuntimeError as exc:
            raise QueryError(_engine_message(exc)) from None

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        import pyarrow as pa

        # "Arrow" rather than chDB's "ArrowTable": that one imports pandas (~1 s on first use).
        result = self._run(sql, "Arrow", parameters)
        table = pa.ipc.open_file(pa.py_buffer(result.bytes())).read_all()
        columns = [_python_values(table.column(i)) for i in range(table.num_columns)]
        return list(table.column_names), list(zip(*columns))

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self._run(sql, "TabSeparated", parameters)

    def close(self) -> None:
        self._session.close()

    def _run(self, sql: str, fmt: str, parameters: Mapping[str, Any] | None):
        params = {k: _param(v) for k, v in (parameters or {}).items()}
        try:
            return self._session.query(sql, fmt, params=params)
        except Exception as exc:  # ChdbError / RuntimeError carry the engine's message
            raise QueryError(_engine_message(exc)) from None


def _param(value: Any) -> str:
    # chDB takes parameter values in ClickHouse's text form, like the HTTP interface's param_*.
    if isinstance(value, bool):
        return "1" if value else "0"
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
