"""Row dicts -> one Arrow IPC stream: the single encoding of a batch, both for inserting into
ClickHouse (``FORMAT ArrowStream``) and for the spool file that holds it until then.

Why Arrow: building one Arrow array per column is done in C by pyarrow, the stream carries its own
schema (a spool file written by an older version still loads by column name), ClickHouse ingests
it without a per-row parser, and pyarrow is already installed with chDB. Measured against
JSONEachRow and clickhouse-connect's Native serializer in benchmarks/bench_store.py.

Row values (the contract with the exporter):

- ``UUID``: ``uuid.UUID``
- ``DateTime64``: ``int`` nanoseconds since the Unix epoch (what OTel spans carry)
- ``Nullable(...)``: ``None`` for NULL
- ``Map``: ``dict``; ``Array``: ``list``; ``Decimal``: ``decimal.Decimal``; ``Bool``: ``bool``
- a missing key means the column's default (``''``, ``0``, ``False``, empty map/array, NULL)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import pyarrow as pa

from otel_llm.storage.columns import COLUMNS

_SCALARS = {
    "String": pa.string(),
    "Bool": pa.bool_(),
    "UInt16": pa.uint16(),
    "UInt64": pa.uint64(),
    "Float64": pa.float64(),
    "Decimal(18, 9)": pa.decimal128(18, 9),
    # ns in, ClickHouse rounds to the column's microseconds.
    "DateTime64(6, 'UTC')": pa.timestamp("ns", tz="UTC"),
    # 16 raw bytes; ClickHouse reads FixedSizeBinary(16) into UUID (checked by the round-trip test).
    "UUID": pa.binary(16),
}


def _unwrap(ch_type: str, wrapper: str) -> str | None:
    prefix = wrapper + "("
    return ch_type[len(prefix) : -1] if ch_type.startswith(prefix) else None


def arrow_type(ch_type: str) -> pa.DataType:
    """The Arrow type a batch uses for a ClickHouse column type (only the types llm_traces uses)."""
    inner = _unwrap(ch_type, "Nullable") or _unwrap(ch_type, "LowCardinality")
    if inner is not None:
        return arrow_type(inner)
    inner = _unwrap(ch_type, "Array")
    if inner is not None:
        return pa.list_(arrow_type(inner))
    inner = _unwrap(ch_type, "Map")
    if inner is not None:
        key, value = inner.split(", ", 1)
        return pa.map_(arrow_type(key), arrow_type(value))
    return _SCALARS[ch_type]


def _default(ch_type: str):
    if ch_type.startswith("Nullable("):
        return None
    if ch_type.startswith("Map("):
        return {}
    if ch_type.startswith("Array("):
        return []
    inner = _unwrap(ch_type, "LowCardinality") or ch_type
    return {"String": "", "Bool": False}.get(inner, 0)


_FIELDS = [(name, arrow_type(ch_type), _default(ch_type)) for name, ch_type in COLUMNS]
SCHEMA = pa.schema([(name, typ) for name, typ, _ in _FIELDS])


def _map_array(values: list[dict], typ: pa.MapType) -> pa.Array:
    # Flattening to offsets/keys/items is several times faster than letting pyarrow convert
    # each dict (measured: ~5 us/row -> ~1 us/row for two-entry maps).
    offsets = pa.array(list(itertools.accumulate((len(d) for d in values), initial=0)), pa.int32())
    keys = pa.array([k for d in values for k in d], typ.key_type)
    items = pa.array([v for d in values for v in d.values()], typ.item_type)
    return pa.MapArray.from_arrays(offsets, keys, items)


def _column(rows: Sequence[dict], name: str, typ: pa.DataType, default) -> pa.Array:
    values = [row.get(name, default) for row in rows]
    if pa.types.is_map(typ):
        return _map_array([v if v is not None else {} for v in values], typ)
    if typ == pa.binary(16):
        return pa.array([v.bytes for v in values], typ)
    return pa.array(values, typ)


# Surrogate code points: a Python str may hold them (json.loads('"\\ud800"'), surrogateescape-
# decoded names), UTF-8 cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrubbed(value):
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def encode(rows: Sequence[dict], compression: str | None = None) -> bytes:
    """Encode ``rows`` as one Arrow IPC stream (``compression``: None, "lz4" or "zstd" buffers)."""
    try:
        arrays = [_column(rows, n, t, d) for n, t, d in _FIELDS]
    except UnicodeEncodeError:
        # One unencodable string would otherwise cost the whole batch: store it with U+FFFD.
        # Only on this rare path, so the common one pays nothing.
        rows = [{k: _scrubbed(v) for k, v in row.items()} for row in rows]
        arrays = [_column(rows, n, t, d) for n, t, d in _FIELDS]
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, SCHEMA, options=options) as stream:
        stream.write_table(table)
    return sink.getvalue().to_pybytes()
