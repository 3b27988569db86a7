"""Rows as ``JSONCompactEachRow``: how an app's writer sends a batch to a remote store.

Arrow would need pyarrow and numpy in every app process (~40 MiB of private memory each;
``benchmarks/bench_memory.py``); this needs the standard library only. Each value is first coerced
by its column's rule (``values.coerce_row``: out-of-range counts become NULL, lone surrogates
U+FFFD...), so one odd value never costs its batch, then written as the server reads it: UUIDs
as text, timestamps as ``seconds.microseconds``, decimals as text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from otel_llm.storage.columns import COLUMNS
from otel_llm.storage.values import as_tuple, coerce_row

FORMAT = "JSONCompactEachRow"
_UUIDS = tuple(i for i, (_, ch_type) in enumerate(COLUMNS) if ch_type == "UUID")
_TIMES = tuple(i for i, (_, ch_type) in enumerate(COLUMNS) if ch_type.startswith("DateTime64"))
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=lambda v: _text(v))


def encode(rows: Sequence[tuple | dict]) -> bytes:
    """One line per row, in ``COLUMNS`` order."""
    lines = []
    for row in rows:
        values = list(coerce_row(row if type(row) is tuple else as_tuple(row)))
        for i in _UUIDS:
            values[i] = str(uuid.UUID(bytes=values[i]))
        for i in _TIMES:
            values[i] = _seconds(values[i])
        lines.append(_encoder.encode(values))
    lines.append("")
    return "\n".join(lines).encode()


def _seconds(value: Any) -> str:
    """Nanoseconds since the epoch as ``seconds.microseconds`` (the column's precision, rounded)."""
    if not isinstance(value, int):
        return str(value)
    micros = (value + 500) // 1000
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not a row value")
