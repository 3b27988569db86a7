"""Rows as ``JSONCompactEachRow``: how an app's writer sends a batch to a remote store.

Arrow would need pyarrow and numpy in every app process (~40 MiB of private memory each;
``benchmarks/bench_memory.py``); this needs the standard library only. A server refuses a whole
batch for one value its column cannot hold, so values are checked first, a column at a time with
calls that run in C (``set(map(type, column))``, ``min``/``max``); only a column that fails is
coerced value by value by its rule (``values.RULES``: out-of-range counts become NULL...), as
the Arrow encoding does. A lone surrogate anywhere (UTF-8 cannot hold it) makes the batch's text
fail to encode; the batch is then coerced whole. Values are written as the server reads them:
UUIDs as text, timestamps as ``seconds.microseconds``, decimals as text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from otel_llm.storage.columns import COLUMN_TYPES, Row
from otel_llm.storage.types import ColumnType
from otel_llm.storage.values import MAX_COUNT, MAX_STATUS, RULES, as_row, coerce_row

FORMAT = "JSONCompactEachRow"
_NONE = type(None)


def encode(rows: Sequence[Row | dict]) -> bytes:
    """One line per row, in ``COLUMNS`` order."""
    tuples = [row if isinstance(row, tuple) else as_row(row) for row in rows]
    columns = [col if fine(col) else list(map(rule, col)) for col, fine, rule in zip(zip(*tuples), _CHECKS, RULES)]
    try:
        return _lines(columns)
    except UnicodeEncodeError:  # a lone surrogate: every text gets its rule (U+FFFD)
        return _lines(list(zip(*map(coerce_row, tuples))))


def _lines(columns: list) -> bytes:
    if not columns:
        return b""
    columns = [_AS_TEXT.get(typ.base, _as_is)(column) for typ, column in zip(COLUMN_TYPES, columns)]
    encode_row = _encoder.encode
    return ("\n".join(map(encode_row, zip(*columns))) + "\n").encode()


def _seconds(value: Any) -> str:
    """Nanoseconds since the epoch as ``seconds.microseconds`` (the column's precision, rounded);
    what is not a number is the column's default, the epoch."""
    micros = (int(value) + 500) // 1000 if isinstance(value, (int, float)) and value == value else 0
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _as_is(column: Sequence) -> Sequence:
    return column


_AS_TEXT: dict[str, Callable[[Sequence], Sequence]] = {
    "UUID": lambda column: [str(uuid.UUID(bytes=value)) for value in column],
    "DateTime64(6, 'UTC')": lambda column: list(map(_seconds, column)),
}


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not a row value")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_decimal)


# --- which columns can be sent as they are ---------------------------------------------------


def _of_types(*types: type) -> Callable[[Sequence], bool]:
    allowed = set(types)
    return lambda column: set(map(type, column)) <= allowed


def _counts(maximum: int, nullable: bool) -> Callable[[Sequence], bool]:
    allowed = {int, _NONE} if nullable else {int}

    def check(column: Sequence) -> bool:
        if not set(map(type, column)) <= allowed:
            return False
        present = [value for value in column if value is not None] if nullable else column
        return not present or (min(present) >= 0 and max(present) <= maximum)

    return check


def _text_map(column: Sequence) -> bool:
    return all(
        type(entries) is dict and set(map(type, entries)) <= {str} and set(map(type, entries.values())) <= {str}
        for entries in column
    )


def _uuids(column: Sequence) -> bool:
    return set(map(type, column)) <= {bytes} and set(map(len, column)) <= {16}


def _never(column: Sequence) -> bool:  # decimals, arrays, maps of counts or decimals: always coerced
    return False


def _check(typ: ColumnType) -> Callable[[Sequence], bool]:
    if typ.base == "Map":
        return _text_map if typ.item.base == "String" else _never
    if typ.base in ("UInt64", "UInt16"):
        return _counts(MAX_COUNT if typ.base == "UInt64" else MAX_STATUS, typ.nullable)
    if typ.base == "Float64":
        return _of_types(float, int, _NONE) if typ.nullable else _of_types(float, int)
    kinds = {"String": (str,), "Bool": (bool,), "DateTime64(6, 'UTC')": (int,)}.get(typ.base)
    if kinds is not None and not typ.nullable:
        return _of_types(*kinds)
    return _uuids if typ.base == "UUID" else _never


_CHECKS = tuple(map(_check, COLUMN_TYPES))
