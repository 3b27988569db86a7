"""Arrow conversion of map columns (usage and cost details, span and resource attributes), given
as dicts or as JSON object text: flattened into offsets, keys and items, and texts taken apart by
Arrow's kernels in C a column at a time.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from otel_llm.storage.arrow import REFUSED, STRING, ArrowColumn, fast_array
from otel_llm.storage.values import map_from_text


def map_array(values: Sequence[Any], column: ArrowColumn) -> pa.Array:
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
            except REFUSED:
                pass
        values = [map_from_text(value) if type(value) is str else value for value in values]
    if None in values:
        values = [d or _EMPTY for d in values]
    try:
        # chain/map iterate in C: no Python frame per entry.
        keys = fast_array(list(itertools.chain.from_iterable(values)), typ.key_type, False)
        items = fast_array(list(itertools.chain.from_iterable(map(dict.values, values))), typ.item_type, False)
    except REFUSED:
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


STRING_VALUES = _FlatShape((2, -2), '","', '":"', 4, '"}', 0)
_INTEGER_VALUES = _FlatShape((1, -1), ",", '":', 2, "}", 1)
_INTEGER_TEXT = "^(?:0|[1-9][0-9]*)$"  # what json.loads reads as a non-negative int


# Up to this many distinct texts in a column are taken apart one by one by the column's rule:
# cheaper than the ~20 Arrow kernel calls of the column-wide split, whatever the row count.
_FEW_TEXTS = 16


def _text_map_array(values: Sequence[Any], column: ArrowColumn) -> pa.Array:
    """A map column given as JSON texts (cost and usage details, as instrumentors write them),
    each distinct text taken apart once: rows often repeat one (the usage details of calls
    alike). Raises one of ``REFUSED`` where :func:`_flat_map_array` does."""
    distinct = list(set(values))
    if len(distinct) <= _FEW_TEXTS:
        # Without Arrow's dictionary_encode: see fast_array on calls that let go of the GIL.
        position = {text: i for i, text in enumerate(distinct)}
        maps = map_array([column.rule(text) for text in distinct], column)
        return maps.take(pa.array(list(map(position.__getitem__, values)), pa.int32()))
    texts = pa.array([value or "" for value in values], STRING)
    if len(distinct) <= len(texts) // 2:
        encoded = texts.dictionary_encode()
        return _flat_map_array(encoded.dictionary, column.typ).take(encoded.indices)
    return _flat_map_array(texts, column.typ)


def _flat_map_array(texts: pa.StringArray, typ: pa.MapType) -> pa.Array:
    """A map column given as JSON texts, taken apart by Arrow's kernels in C: the split
    :func:`map_from_text` and ``json.loads`` make in Python, for the whole column at once. Raises
    one of ``REFUSED`` unless every text is empty or a flat object with distinct keys whose
    values are strings (integers, for an integer item type) that the item type takes as they
    are, so that the result is what the value-by-value path would give."""
    shape = _INTEGER_VALUES if pa.types.is_integer(typ.item_type) else STRING_VALUES
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
    if typ.item_type != STRING:
        items = items.cast(typ.item_type)  # refuses what would overflow or lose digits
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(counts).cast(pa.int32())])
    return pa.MapArray.from_arrays(offsets, keys, items, typ)


def _string_bytes(texts: pa.StringArray) -> bytes:
    """The UTF-8 bytes of all of a string array's values, back to back."""
    offsets = np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1, texts.offset * 4)
    return memoryview(texts.buffers()[2] or b"")[offsets[0] : offsets[-1]].tobytes()


def shared_map_array(values: Sequence[dict | None], column: ArrowColumn) -> pa.Array:
    """A map column that is usually one dict for the whole batch: converted once, repeated in C.

    The exporter gives every row of a resource the same ``resource_attributes`` dict; converting
    it row by row cost ~0.8 us a row, this ~0.1 us. (``list.count`` compares by identity first.)
    """
    if values and values.count(values[0]) == len(values):
        return map_array(values[:1], column).take(pa.repeat(pa.scalar(0, pa.int32()), len(values)))
    return map_array(values, column)


