"""Arrow conversion of a column: the Arrow type of each column type, and a column's values as an
Arrow array (map columns: ``arrow_maps``). What values a column takes is in ``codec``'s docstring.

Each column is first handed to pyarrow as it is, which checks every value in C; only a column
that pyarrow refuses is coerced value by value in Python (``values``) and converted again. Costs
usually arrive as fixed-point text (what the instrumentors write), which Arrow's own string ->
decimal cast parses without a ``Decimal`` object per value.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from otel_llm.storage.columns import COLUMN_NAMES, COLUMN_TYPES
from otel_llm.storage.types import ColumnType
from otel_llm.storage.values import rule

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


def arrow_type(typ: ColumnType) -> pa.DataType:
    """The Arrow type a batch uses for a column type.

    Array items and map values are non-nullable fields unless the ClickHouse type is Nullable,
    as :func:`arrow_field` makes columns: see there why.
    """
    if typ.base == "Array":
        return pa.list_(arrow_field("item", typ.item))
    if typ.base == "Map":
        return pa.map_(arrow_type(typ.key), arrow_field("value", typ.item))
    return _SCALARS[typ.base]


def arrow_field(name: str, typ: ColumnType) -> pa.Field:
    """The Arrow field of a ClickHouse column (or array item, map value): nullable only if the
    ClickHouse type is. The engine reads a nullable Arrow field as ``Nullable(T)`` and converts
    it to the table's ``T`` on insert by copying the column: a 10 MB payload took 20 MB of the
    engine's memory that way, 10 MB this way."""
    return pa.field(name, arrow_type(typ), nullable=typ.nullable)


@dataclass(frozen=True)
class ArrowColumn:
    """What converting a column needs, worked out once per column."""

    name: str
    typ: pa.DataType
    default: Any
    rule: Callable[[Any], Any]  # value -> what it is stored as
    nullable: bool
    fill: Any  # what None becomes where the column has no NULL (NO_FILL: refuse it)


NO_FILL: Any = object()


def _fill(typ: pa.DataType, default: Any, nullable: bool) -> Any:
    if nullable or pa.types.is_fixed_size_binary(typ) or pa.types.is_map(typ):
        return NO_FILL
    return default


def _column(name: str, typ: ColumnType) -> ArrowColumn:
    arrow = arrow_type(typ)
    return ArrowColumn(name, arrow, typ.default, rule(typ), typ.nullable, _fill(arrow, typ.default, typ.nullable))


ARROW_COLUMNS = tuple(map(_column, COLUMN_NAMES, COLUMN_TYPES))
SCHEMA = pa.schema(list(map(arrow_field, COLUMN_NAMES, COLUMN_TYPES)))


# What pyarrow raises for a value of the wrong kind or range (UnicodeEncodeError: surrogates).
REFUSED = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)
STRING = pa.string()


def fast_array(values: Sequence[Any], typ: pa.DataType, nullable: bool, fill: Any = NO_FILL) -> pa.Array:
    """pyarrow's conversion, checked in C; raises one of ``REFUSED`` if a value needs coercing.

    Calls into pyarrow that let go of the GIL (compute kernels such as ``fill_null``) are kept
    out where a Python step does the same: on the exporter's thread, beside a busy app thread,
    getting the GIL back took up to a switch interval (5 ms) each time, and a 512-row batch
    made ~26 such calls (2 ms idle, 130 ms beside one busy thread).
    """
    if fill is not NO_FILL and None in values:
        values = [fill if value is None else value for value in values]
    if pa.types.is_decimal(typ) and values and type(values[0]) is str:
        # Fixed-point text, as costs usually come: Arrow's cast parses it, and refuses what
        # would lose digits.
        array = pa.array(values, STRING).cast(typ)
    else:
        array = pa.array(values, typ)
    if array.null_count and not nullable:
        raise ValueError("NULL in a column that has none")
    if pa.types.is_list(typ) and not typ.value_field.nullable and array.values.null_count:
        # pyarrow lets a None item into a non-nullable field; the column's rule makes it "".
        raise ValueError("NULL item in an array that has none")
    return array


def array(values: Sequence[Any], column: ArrowColumn) -> pa.Array:
    if len(values) == 1 and column.typ == STRING:
        large = _large_text_array(values[0])
        if large is not None:
            return large
    try:
        return fast_array(values, column.typ, column.nullable, column.fill)
    except REFUSED:
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


