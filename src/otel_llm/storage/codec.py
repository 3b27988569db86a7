"""Rows -> Arrow record batches: the single encoding of a batch. The embedded store inserts the
record batches as they are; a remote store (``FORMAT ArrowStream``) and the spool file that
holds a batch until then get them as one Arrow IPC stream (:func:`write_stream`).

Why Arrow: building one Arrow array per column is done in C by pyarrow, the stream carries its own
schema (a spool file written by an older version still loads by column name), ClickHouse ingests
it without a per-row parser, and pyarrow is already installed with chDB. Measured against
JSONEachRow and clickhouse-connect's Native serializer in benchmarks/bench_store.py.

A row is a ``Row`` (what the exporter builds; a plain tuple in column order will do), or a dict
by column name in which a missing key means the column's default. Values:

- ``UUID``: its 16 bytes or a ``uuid.UUID``; ``DateTime64``: ``int`` nanoseconds since the epoch
- ``Nullable(...)``: ``None`` for NULL; ``Map``: ``dict`` or JSON object text; ``Array``: ``tuple`` or ``list``
- anything else is coerced by the column's type, as ``values.coerce_row`` shows: counts outside the
  column's range, non-numeric text and non-finite numbers become NULL (or the default), other
  values of a text column become their ``str``, text with surrogates gets U+FFFD, and map entries
  whose value cannot be coerced are left out, and a UUID that is neither 16 bytes nor UUID text
  is the zero UUID. So one odd value never costs a batch its rows.

A column is converted by ``arrow`` (map columns: ``arrow_maps``); this module makes batches of
rows and writes them as IPC streams.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from otel_llm.storage.arrow import ARROW_COLUMNS, LARGE_TEXT_CHARS, SCHEMA, ArrowColumn, array
from otel_llm.storage.arrow_maps import map_array, shared_map_array
from otel_llm.storage.columns import Row
from otel_llm.storage.values import as_row


def _converter(column: ArrowColumn) -> Callable[[Sequence[Any], ArrowColumn], pa.Array]:
    if pa.types.is_map(column.typ):
        return shared_map_array if column.name == "resource_attributes" else map_array
    return array


_CONVERTERS = tuple(_converter(column) for column in ARROW_COLUMNS)


_PAYLOAD_SIZES = operator.attrgetter("request_bytes", "response_bytes")


def chunks(rows: Sequence[Row | dict], size: int) -> Iterator[Sequence[Row | dict]]:
    """``rows`` in slices of at most ``size`` for :func:`record_batch`, a row tuple with a large
    payload alone in its own (so that its payload is not copied)."""
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        try:
            largest = max(itertools.chain.from_iterable(map(_PAYLOAD_SIZES, chunk)))
        except (TypeError, AttributeError):  # dict rows, or sizes not given: no such payloads
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


def record_batch(rows: Sequence[Row | dict]) -> pa.RecordBatch:
    """``rows`` as Arrow columns, ready for :func:`write_stream`."""
    if set(map(type, rows)) != {Row}:
        rows = [row if isinstance(row, tuple) else as_row(row) for row in rows]
    # zip transposes in C, one tuple per column.
    columns = zip(*rows) if rows else ((),) * len(ARROW_COLUMNS)
    arrays = [convert(values, column) for convert, column, values in zip(_CONVERTERS, ARROW_COLUMNS, columns)]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def encode(rows: Sequence[Row | dict], compression: str | None = None) -> pa.Buffer:
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
