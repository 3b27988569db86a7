"""Row dicts -> one Arrow IPC stream: the single encoding of a batch, both for inserting into
ClickHouse (``FORMAT ArrowStream``) and for the spool file that holds it until then.

Why Arrow: building one Arrow array per column is done in C by pyarrow, the stream carries its own
schema (a spool file written by an older version still loads by column name), ClickHouse ingests
it without a per-row parser, and pyarrow is already installed with chDB. Measured against
JSONEachRow and clickhouse-connect's Native serializer in benchmarks/bench_store.py.

Row values (the contract with the exporter):

- ``UUID``: its 16 bytes (what the exporter's rows carry) or a ``uuid.UUID``
- ``DateTime64``: ``int`` nanoseconds since the Unix epoch (what OTel spans carry)
- ``Nullable(...)``: ``None`` for NULL
- ``Map``: ``dict``; ``Array``: ``list`` or ``tuple``; ``Decimal``: ``decimal.Decimal``; ``Bool``: ``bool``
- a missing key means the column's default (``''``, ``0``, ``False``, empty map/array, NULL)
"""

from __future__ import annotations

import itertools
import operator
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


def _map_array(values: Sequence[dict | None], typ: pa.MapType) -> pa.Array:
    # Flattening to offsets/keys/items is several times faster than letting pyarrow convert
    # each dict (measured: ~5 us/row -> ~1 us/row for two-entry maps).
    if not any(values):
        # Usually so for usage_details and span_attributes: no per-row work at all.
        offsets = pa.repeat(pa.scalar(0, pa.int32()), len(values) + 1)
        return pa.MapArray.from_arrays(offsets, pa.array([], typ.key_type), pa.array([], typ.item_type))
    values = [d or _EMPTY for d in values]
    offsets = pa.array(list(itertools.accumulate(map(len, values), initial=0)), pa.int32())
    # chain/map iterate in C: no Python frame per entry.
    keys = pa.array(list(itertools.chain.from_iterable(values)), typ.key_type)
    items = pa.array(list(itertools.chain.from_iterable(map(dict.values, values))), typ.item_type)
    return pa.MapArray.from_arrays(offsets, keys, items)


_EMPTY: dict = {}


def _shared_map_array(values: list[dict | None], typ: pa.MapType) -> pa.Array:
    """A map column that is usually one dict for the whole batch: converted once, repeated in C.

    The exporter gives every row of a resource the same ``resource_attributes`` dict; converting
    it row by row cost ~0.8 us a row, this ~0.1 us. (``list.count`` compares by identity first.)
    """
    if values and values.count(values[0]) == len(values):
        return _map_array(values[:1], typ).take(pa.repeat(pa.scalar(0, pa.int32()), len(values)))
    return _map_array(values, typ)


def _converter(name: str, typ: pa.DataType):
    if pa.types.is_map(typ):
        return _shared_map_array if name == "resource_attributes" else _map_array
    # pyarrow takes both 16-byte bytes and uuid.UUID objects for binary(16) (the bytes 8x faster).
    return pa.array


_ENCODERS = [(name, default, operator.itemgetter(name), _converter(name, typ), typ) for name, typ, default in _FIELDS]


def _column_values(rows: Sequence[dict], name: str, default, get: operator.itemgetter) -> list:
    # map() with an itemgetter reads a column in C (~30 ns a row), and builds one list per column
    # rather than a tuple per row: fewer objects for the garbage collector, which otherwise
    # walks every queued row each time the encoding's allocations trigger it.
    try:
        return list(map(get, rows))
    except KeyError:  # rows written by hand may leave columns out
        return [row.get(name, default) for row in rows]


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


def _arrays(rows: Sequence[dict]) -> list[pa.Array]:
    return [convert(_column_values(rows, name, default, get), typ) for name, default, get, convert, typ in _ENCODERS]


def record_batch(rows: Sequence[dict]) -> pa.RecordBatch:
    """``rows`` as Arrow columns, ready for :func:`write_stream`."""
    try:
        arrays = _arrays(rows)
    except UnicodeEncodeError:
        # One unencodable string would otherwise cost the whole batch: store it with U+FFFD.
        # Only on this rare path, so the common one pays nothing.
        arrays = _arrays([{k: _scrubbed(v) for k, v in row.items()} for row in rows])
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def encode(rows: Sequence[dict], compression: str | None = None) -> pa.Buffer:
    """Encode ``rows`` as one Arrow IPC stream (``compression``: None, "lz4" or "zstd" buffers)."""
    return write_stream([record_batch(rows)], compression)


def write_stream(batches: list[pa.RecordBatch], compression: str | None = None) -> pa.Buffer:
    """One Arrow IPC stream of ``batches``, which it empties (their columns are dead once written).

    Returns pyarrow's buffer, not ``bytes``: a batch is ~3 KB a row and copying it out would
    cost time and, for a 10 MB payload, 10 MB more at the peak. It has the buffer protocol
    (``memoryview``, ``file.write``); ``bytes(buffer)`` copies where bytes are required.
    """
    options = pa.ipc.IpcWriteOptions(compression=compression)
    if compression is None:
        # Measure first, then write into one exact-size buffer: the growing default stream
        # reallocates (and copies) a 15 MB batch several times over.
        size = pa.MockOutputStream()
        _write(size, batches, options)
        buffer = pa.allocate_buffer(size.size())
        _write(pa.FixedSizeBufferWriter(buffer), batches, options)
        # pyarrow's allocator would keep the columns' pages for reuse, so during the insert
        # that follows RSS would hold the batch twice (a 10 MB payload: ~12 MB of peak);
        # handing them back costs ~0.3 ms a batch.
        batches.clear()
        pa.default_memory_pool().release_unused()
        return buffer
    sink = pa.BufferOutputStream()
    _write(sink, batches, options)
    batches.clear()
    return sink.getvalue()


def _write(sink, batches: list[pa.RecordBatch], options: pa.ipc.IpcWriteOptions) -> None:
    with pa.ipc.new_stream(sink, SCHEMA, options=options) as stream:
        for batch in batches:
            stream.write_batch(batch)
