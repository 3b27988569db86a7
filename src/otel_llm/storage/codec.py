"""Rows -> Arrow record batches: the single encoding of a batch. The embedded store inserts the
record batches as they are; a remote store (``FORMAT ArrowStream``) and the spool file that
holds a batch until then get them as one Arrow IPC stream (:func:`write_stream`).

Why Arrow: building one Arrow array per column is done in C by pyarrow, the stream carries its own
schema (a spool file written by an older version still loads by column name), ClickHouse ingests
it without a per-row parser, and pyarrow is already installed with chDB. Measured against
JSONEachRow and clickhouse-connect's Native serializer in benchmarks/bench_store.py.

A row is a tuple of every column's value in ``COLUMNS`` order (what the exporter builds), or a
dict by column name in which a missing key means the column's default. Values:

- ``UUID``: its 16 bytes or a ``uuid.UUID``; ``DateTime64``: ``int`` nanoseconds since the epoch
- ``Nullable(...)``: ``None`` for NULL; ``Map``: ``dict`` or JSON object text; ``Array``: ``tuple`` or ``list``
- anything else is coerced by the column's type, as :func:`coerce_row` shows: counts outside the
  column's range, non-numeric text and non-finite numbers become NULL (or the default), other
  values of a text column become their ``str``, text with surrogates gets U+FFFD, and map entries
  whose value cannot be coerced are left out, and a UUID that is neither 16 bytes nor UUID text
  is the zero UUID. So one odd value never costs a batch its rows.

Each column is first handed to pyarrow as it is, which checks every value in C; only a column
that pyarrow refuses is coerced value by value in Python and converted again. Costs usually
arrive as fixed-point text (what the instrumentors write), which Arrow's own string -> decimal
cast parses without a ``Decimal`` object per value.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from otel_llm.storage.columns import COLUMN_NAMES, COLUMNS
# The value rules (values.py), re-exported for callers of codec.coerce_row, codec.text...
from otel_llm.storage.values import _default, _rule, _unwrap, as_tuple, coerce_row, count, map_from_text, text, usd  # noqa: F401

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


def arrow_type(ch_type: str) -> pa.DataType:
    """The Arrow type a batch uses for a ClickHouse column type (only the types llm_traces uses).

    Array items and map values are non-nullable fields unless the ClickHouse type is Nullable,
    as :func:`arrow_field` makes columns: see there why.
    """
    inner = _unwrap(ch_type, "Nullable") or _unwrap(ch_type, "LowCardinality")
    if inner is not None:
        return arrow_type(inner)
    inner = _unwrap(ch_type, "Array")
    if inner is not None:
        return pa.list_(arrow_field("item", inner))
    inner = _unwrap(ch_type, "Map")
    if inner is not None:
        key, value = inner.split(", ", 1)
        return pa.map_(arrow_type(key), arrow_field("value", value))
    return _SCALARS[ch_type]


def arrow_field(name: str, ch_type: str) -> pa.Field:
    """The Arrow field of a ClickHouse column (or array item, map value): nullable only if the
    ClickHouse type is. The engine reads a nullable Arrow field as ``Nullable(T)`` and converts
    it to the table's ``T`` on insert by copying the column: a 10 MB payload took 20 MB of the
    engine's memory that way, 10 MB this way."""
    return pa.field(name, arrow_type(ch_type), nullable=ch_type.startswith("Nullable("))


@dataclass(frozen=True)
class _Column:
    name: str
    typ: pa.DataType
    default: Any
    rule: Callable[[Any], Any]  # value -> what it is stored as
    nullable: bool
    fill: Any  # what None becomes where the column has no NULL (_NO_FILL: refuse it)


_NO_FILL: Any = object()


def _fill(typ: pa.DataType, default: Any, nullable: bool) -> Any:
    if nullable or pa.types.is_fixed_size_binary(typ) or pa.types.is_map(typ):
        return _NO_FILL
    return default


def _column(name: str, ch_type: str) -> _Column:
    typ, default, nullable = arrow_type(ch_type), _default(ch_type), ch_type.startswith("Nullable(")
    return _Column(name, typ, default, _rule(ch_type), nullable, _fill(typ, default, nullable))


_COLUMNS = tuple(_column(name, ch_type) for name, ch_type in COLUMNS)
SCHEMA = pa.schema([arrow_field(name, ch_type) for name, ch_type in COLUMNS])


# --- conversion -----------------------------------------------------------------------------

# What pyarrow raises for a value of the wrong kind or range (UnicodeEncodeError: surrogates).
_REFUSED = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)
_STRING = pa.string()


def _fast_array(values: Sequence[Any], typ: pa.DataType, nullable: bool, fill: Any = _NO_FILL) -> pa.Array:
    """pyarrow's conversion, checked in C; raises one of ``_REFUSED`` if a value needs coercing.

    Calls into pyarrow that let go of the GIL (compute kernels such as ``fill_null``) are kept
    out where a Python step does the same: on the exporter's thread, beside a busy app thread,
    getting the GIL back took up to a switch interval (5 ms) each time, and a 512-row batch
    made ~26 such calls (2 ms idle, 130 ms beside one busy thread).
    """
    if fill is not _NO_FILL and None in values:
        values = [fill if value is None else value for value in values]
    if pa.types.is_decimal(typ) and values and type(values[0]) is str:
        # Fixed-point text, as costs usually come: Arrow's cast parses it, and refuses what
        # would lose digits.
        array = pa.array(values, _STRING).cast(typ)
    else:
        array = pa.array(values, typ)
    if array.null_count and not nullable:
        raise ValueError("NULL in a column that has none")
    if pa.types.is_list(typ) and not typ.value_field.nullable and array.values.null_count:
        # pyarrow lets a None item into a non-nullable field; the column's rule makes it "".
        raise ValueError("NULL item in an array that has none")
    return array


def _array(values: Sequence[Any], column: _Column) -> pa.Array:
    if len(values) == 1 and column.typ == _STRING:
        large = _large_text_array(values[0])
        if large is not None:
            return large
    try:
        return _fast_array(values, column.typ, column.nullable, column.fill)
    except _REFUSED:
        return pa.array(list(map(column.rule, values)), column.typ)


# A text at least this long (a payload) is not copied into its record batch: the batch reads the
# str's own UTF-8 bytes, and a row carrying one is encoded alone (:func:`chunks`) to allow that.
# For a 10 MB payload the copy was a third of what exporting it added to the process's peak.
LARGE_TEXT_CHARS = 1 << 20
# CPython's UTF-8 of a str: for an ASCII str its own characters, for others a copy the str keeps.
_STR_UTF8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
_STR_UTF8.argtypes = (ctypes.py_object, ctypes.POINTER(ctypes.c_ssize_t))
_STR_UTF8.restype = ctypes.c_void_p
_MAX_OFFSET = 2**31 - 1  # a string array's int32 offsets


def _large_text_array(value: Any) -> pa.StringArray | None:
    """A one-value string array over ``value``'s own UTF-8 bytes, for a large str (else None)."""
    if type(value) is not str or len(value) < LARGE_TEXT_CHARS:
        return None
    size = ctypes.c_ssize_t()
    try:
        address = _STR_UTF8(value, ctypes.byref(size))
    except UnicodeEncodeError:  # lone surrogates: the column's rule replaces them, in a copy
        return None
    if size.value > _MAX_OFFSET:
        return None
    data = pa.foreign_buffer(address, size.value, base=value)  # keeps the str alive
    offsets = pa.py_buffer(np.array([0, size.value], np.int32))
    return pa.StringArray.from_buffers(1, offsets, data)


def _map_array(values: Sequence[Any], column: _Column) -> pa.Array:
    # Flattening to offsets/keys/items is several times faster than letting pyarrow convert
    # each dict (measured: ~5 us/row -> ~1 us/row for two-entry maps).
    typ = column.typ
    if not any(values):
        # Usually so for span_attributes: no per-row work at all.
        return _empty_maps(typ, len(values))
    kinds = set(map(type, values))
    if str in kinds:
        if kinds <= _TEXT_KINDS:
            try:
                return _text_map_array(values, column)
            except _REFUSED:
                pass
        values = [map_from_text(value) if type(value) is str else value for value in values]
    if None in values:
        values = [d or _EMPTY for d in values]
    try:
        # chain/map iterate in C: no Python frame per entry.
        keys = _fast_array(list(itertools.chain.from_iterable(values)), typ.key_type, False)
        items = _fast_array(list(itertools.chain.from_iterable(map(dict.values, values))), typ.item_type, False)
    except _REFUSED:
        # Coercing leaves out the entries whose value cannot be stored, so offsets come after.
        values = list(map(column.rule, values))
        keys = pa.array(list(itertools.chain.from_iterable(values)), typ.key_type)
        items = pa.array(list(itertools.chain.from_iterable(map(dict.values, values))), typ.item_type)
    offsets = pa.array(list(itertools.accumulate(map(len, values), initial=0)), pa.int32())
    return pa.MapArray.from_arrays(offsets, keys, items, typ)


@functools.lru_cache(maxsize=64)
def _empty_maps(typ: pa.MapType, count: int) -> pa.MapArray:
    """``count`` empty maps (read-only, so shared: batches come in a few sizes)."""
    offsets = pa.array(np.zeros(count + 1, np.int32))
    return pa.MapArray.from_arrays(offsets, pa.array([], typ.key_type), pa.array([], typ.item_type), typ)


_EMPTY: dict = {}
_TEXT_KINDS = frozenset((str, type(None)))


class _NotFlat(ValueError):
    """A text in the column is not a flat object of the expected shape with distinct keys."""


@dataclass(frozen=True)
class _FlatShape:
    """How a flat JSON object's text splits: ``{"k":"v","k2":"v2"}`` (strings) or
    ``{"k":1,"k2":2}`` (non-negative integers)."""

    inner: tuple[int, int]  # the slice between the outer delimiters
    member_separator: str
    pair_separator: str
    quotes_per_member: int
    end: str
    key_start: int  # where a key starts in the text before pair_separator


_STRING_VALUES = _FlatShape((2, -2), '","', '":"', 4, '"}', 0)
_INTEGER_VALUES = _FlatShape((1, -1), ",", '":', 2, "}", 1)
_INTEGER_TEXT = "^(?:0|[1-9][0-9]*)$"  # what json.loads reads as a non-negative int


# Up to this many distinct texts in a column are taken apart one by one by the column's rule:
# cheaper than the ~20 Arrow kernel calls of the column-wide split, whatever the row count.
_FEW_TEXTS = 16


def _text_map_array(values: Sequence[Any], column: _Column) -> pa.Array:
    """A map column given as JSON texts (cost and usage details, as instrumentors write them),
    each distinct text taken apart once: rows often repeat one (the usage details of calls
    alike). Raises one of ``_REFUSED`` where :func:`_flat_map_array` does."""
    distinct = list(set(values))
    if len(distinct) <= _FEW_TEXTS:
        # Without Arrow's dictionary_encode: see _fast_array on calls that let go of the GIL.
        position = {text: i for i, text in enumerate(distinct)}
        maps = _map_array([column.rule(text) for text in distinct], column)
        return maps.take(pa.array(list(map(position.__getitem__, values)), pa.int32()))
    texts = pa.array([value or "" for value in values], _STRING)
    if len(distinct) <= len(texts) // 2:
        encoded = texts.dictionary_encode()
        return _flat_map_array(encoded.dictionary, column.typ).take(encoded.indices)
    return _flat_map_array(texts, column.typ)


def _flat_map_array(texts: pa.StringArray, typ: pa.MapType) -> pa.Array:
    """A map column given as JSON texts, taken apart by Arrow's kernels in C: the split
    :func:`map_from_text` and ``json.loads`` make in Python, for the whole column at once. Raises
    one of ``_REFUSED`` unless every text is empty or a flat object with distinct keys whose
    values are strings (integers, for an integer item type) that the item type takes as they
    are, so that the result is what the value-by-value path would give."""
    shape = _INTEGER_VALUES if pa.types.is_integer(typ.item_type) else _STRING_VALUES
    empty = pc.equal(texts, "")
    members = pc.split_pattern(pc.utf8_slice_codeunits(texts, *shape.inner), shape.member_separator)
    counts = pc.if_else(empty, 0, pc.list_value_length(members))
    if pc.any(empty).as_py():
        present = pc.invert(empty)
        texts, members = texts.filter(present), members.filter(present)
    pairs = pc.split_pattern(members.flatten(), shape.pair_separator)
    parts = pc.min_max(pc.list_value_length(pairs)).as_py()
    # Strings: each member holds one '":"' (two quotes) and the braces and separators two per
    # member, so 4 quotes per member in all means no quote anywhere else. Integers: each member
    # starts with its key's quote and holds one '":', so 2 per member leaves none elsewhere. The
    # same tests as map_from_text's, made on the column's bytes at once.
    data = _string_bytes(texts)
    flat = (
        parts["min"] in (2, None)
        and parts["max"] in (2, None)
        and b"\\" not in data
        and data.count(b'"') == shape.quotes_per_member * len(pairs)
        and pc.all(pc.starts_with(texts, '{"')).as_py() is not False
        and pc.all(pc.ends_with(texts, shape.end)).as_py() is not False
    )
    if flat and shape is _INTEGER_VALUES:
        flat = pc.all(pc.starts_with(members.flatten(), '"')).as_py() is not False
    if not flat:
        raise _NotFlat("not a flat object of the column's shape")
    entries = pairs.flatten()
    keys = entries.take(np.arange(0, len(entries), 2))
    items = entries.take(np.arange(1, len(entries), 2))
    if shape.key_start:
        keys = pc.utf8_slice_codeunits(keys, shape.key_start)
        if pc.all(pc.match_substring_regex(items, _INTEGER_TEXT)).as_py() is False:
            raise _NotFlat("a value is not a plain non-negative integer")
    # A repeated key: the dict of the value-by-value path keeps the last one, a map both.
    encoded = pc.dictionary_encode(keys)
    owners = pc.list_parent_indices(members)
    entry_ids = pc.add(pc.multiply(owners, len(encoded.dictionary)), encoded.indices.cast(pa.int64()))
    if pc.count_distinct(entry_ids).as_py() != len(keys):
        raise _NotFlat("a key repeats within a map")
    if typ.item_type != _STRING:
        items = items.cast(typ.item_type)  # refuses what would overflow or lose digits
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(counts).cast(pa.int32())])
    return pa.MapArray.from_arrays(offsets, keys, items, typ)


def _string_bytes(texts: pa.StringArray) -> bytes:
    """The UTF-8 bytes of all of a string array's values, back to back."""
    offsets = np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1, texts.offset * 4)
    return memoryview(texts.buffers()[2] or b"")[offsets[0] : offsets[-1]].tobytes()


def _shared_map_array(values: Sequence[dict | None], column: _Column) -> pa.Array:
    """A map column that is usually one dict for the whole batch: converted once, repeated in C.

    The exporter gives every row of a resource the same ``resource_attributes`` dict; converting
    it row by row cost ~0.8 us a row, this ~0.1 us. (``list.count`` compares by identity first.)
    """
    if values and values.count(values[0]) == len(values):
        return _map_array(values[:1], column).take(pa.repeat(pa.scalar(0, pa.int32()), len(values)))
    return _map_array(values, column)


def _converter(column: _Column) -> Callable[[Sequence[Any], _Column], pa.Array]:
    if pa.types.is_map(column.typ):
        return _shared_map_array if column.name == "resource_attributes" else _map_array
    return _array


_CONVERTERS = tuple(_converter(column) for column in _COLUMNS)


_PAYLOAD_SIZES = operator.itemgetter(COLUMN_NAMES.index("request_bytes"), COLUMN_NAMES.index("response_bytes"))


def chunks(rows: Sequence[tuple | dict], size: int) -> Iterator[Sequence[tuple | dict]]:
    """``rows`` in slices of at most ``size`` for :func:`record_batch`, a row tuple with a large
    payload alone in its own (so that its payload is not copied)."""
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        try:
            largest = max(itertools.chain.from_iterable(map(_PAYLOAD_SIZES, chunk)))
        except (TypeError, KeyError, IndexError):  # dict rows, or sizes not given: no such payloads
            largest = 0
        if largest < LARGE_TEXT_CHARS:
            yield chunk
            continue
        small: list = []
        for row in chunk:
            if max(_PAYLOAD_SIZES(row)) < LARGE_TEXT_CHARS:
                small.append(row)
                continue
            if small:
                yield small
                small = []
            yield [row]
        if small:
            yield small


def record_batch(rows: Sequence[tuple | dict]) -> pa.RecordBatch:
    """``rows`` as Arrow columns, ready for :func:`write_stream`."""
    if set(map(type, rows)) != {tuple}:
        rows = [row if type(row) is tuple else as_tuple(row) for row in rows]
    # zip transposes in C, one tuple per column.
    columns = zip(*rows) if rows else ((),) * len(_COLUMNS)
    arrays = [convert(values, column) for convert, column, values in zip(_CONVERTERS, _COLUMNS, columns)]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def encode(rows: Sequence[tuple | dict], compression: str | None = None) -> pa.Buffer:
    """Encode ``rows`` as one Arrow IPC stream (``compression``: None, "lz4" or "zstd" buffers)."""
    return write_stream([record_batch(rows)], compression)


# Batches averaging more than this a row are made of payloads too rare to be worth keeping pages for.
_RELEASE_ROW_BYTES = 64 * 1024


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
        rows = sum(batch.num_rows for batch in batches)
        batches.clear()
        if size.size() > _RELEASE_ROW_BYTES * rows:
            # pyarrow's allocator keeps the columns' pages for reuse, so during the insert that
            # follows RSS would hold the batch twice (a 10 MB payload: ~12 MB more at the peak).
            # Pages of ordinary rows are reused by the next batch at once: handing them back
            # made the exporter's thread fault them in again (0.22 -> 0.12 page faults a span).
            pa.default_memory_pool().release_unused()
        return buffer
    sink = pa.BufferOutputStream()
    _write(sink, batches, options)
    batches.clear()
    return sink.getvalue()


def _write(sink, batches: list[pa.RecordBatch], options: pa.ipc.IpcWriteOptions) -> None:
    # One write_table, not a write_batch per batch: each call lets go of the GIL, and getting it
    # back beside a busy app thread took up to a switch interval (40 batches: 6 ms -> 0.4 s).
    with pa.ipc.new_stream(sink, SCHEMA, options=options) as stream:
        stream.write_table(pa.Table.from_batches(batches, SCHEMA))
