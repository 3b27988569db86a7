"""Rows as bytes without Arrow: how app processes spool rows, and the store process's messages.

An app's worker builds rows and appends them to the spool; the store process encodes them as
Arrow and inserts them. The worker thus never imports pyarrow and numpy (~40 MiB of private
memory in every worker; ``benchmarks/bench_memory.py``). ``pickle`` is in C and already loaded,
and rows are ``Row`` tuples (or dicts) of str, bytes, int, float, bool, None, tuples and dicts,
plus ``Decimal``, ``UUID`` and ``datetime`` values. Reading takes only those: a file or message
naming any other class is refused, so what is found in the spool directory is data, never code.
A ``Row`` is written as a plain tuple in column order: pickling a named tuple takes a Python call
per row, and files keep the format they had before rows were named. They are read as ``Row``s.

A spool file holds several dumps one after the other (one per chunk of rows).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from otel_llm.storage.columns import Row

PROTOCOL = 5
_ROW_CLASSES = frozenset(
    {
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }
)


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ROW_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a row value")


def dumps(value: Any) -> bytes:
    """``value`` (a message, or a list of rows) pickled; rows as plain tuples."""
    if type(value) is list and Row in set(map(type, value)):
        value = [item[:] if type(item) is Row else item for item in value]  # [:] copies to a plain tuple, in C
    return pickle.dumps(value, PROTOCOL)


def loads(data: bytes) -> Any:
    """One dump; raises ValueError if it is not one of data only."""
    return _load(io.BytesIO(data))


def load_rows(data: bytes) -> list:
    """Every row of a spool file (its dumps, each a list of rows, one after the other)."""
    stream = io.BytesIO(data)
    rows: list = []
    while stream.tell() < len(data):
        chunk = _load(stream)
        if not isinstance(chunk, list):
            raise ValueError(f"not a list of rows: {type(chunk).__name__}")
        rows.extend(row if type(row) is not tuple else _new_row(Row, row) for row in chunk)
    return rows


_new_row = tuple.__new__


def _load(stream: io.BytesIO) -> Any:
    try:
        return _DataOnly(stream).load()
    except Exception as exc:  # truncated, corrupt or foreign: the caller sets the file aside
        raise ValueError(f"unreadable rows: {exc}") from None
