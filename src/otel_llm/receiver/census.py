"""Counting the spans of an OTLP protobuf body before parsing it.

Parsing costs memory per span (~170 bytes for an empty one, 2 bytes on the wire), so the span
count must be known, and capped, before the parser builds them.  This walks the wire format down
to the spans (no objects built, ~1 us a span) and stops as soon as the count passes the cap.
Malformed bodies are not judged here: the walk stops where the structure stops making sense and
the real parser gives the error.
"""

from __future__ import annotations

# Field numbers (opentelemetry-proto), each a length-delimited (wire type 2) message.
_RESOURCE_SPANS = 1  # ExportTraceServiceRequest.resource_spans
_SCOPE_SPANS = 2  # ResourceSpans.scope_spans
_SPANS = 2  # ScopeSpans.spans


_MAX_DEPTH = 100  # the protobuf parser's own nesting limit


class _Malformed(Exception):
    pass


def count_spans(body: bytes, cap: int) -> int | None:
    """The number of spans in ``body``, or ``cap + 1`` as soon as there are more than ``cap``;
    None when the body is not well-formed protobuf (the parser will say what is wrong)."""
    spans = 0
    try:
        for start, end in _children(body, 0, len(body), _RESOURCE_SPANS):
            for scope_start, scope_end in _children(body, start, end, _SCOPE_SPANS):
                for _ in _children(body, scope_start, scope_end, _SPANS):
                    spans += 1
                    if spans > cap:
                        return spans
    except _Malformed:
        return None
    return spans


def _varint(body: bytes, position: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= end or shift > 63:
            raise _Malformed
        byte = body[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _children(body: bytes, position: int, end: int, field: int):
    """(start, end) of each length-delimited field ``field`` between the bounds."""
    while position < end:
        key, position = _varint(body, position, end)
        wire_type = key & 7
        if wire_type == 2:
            length, position = _varint(body, position, end)
            value_end = position + length
            if value_end > end:
                raise _Malformed
            if key >> 3 == field:
                yield position, value_end
            position = value_end
        elif wire_type == 0:
            _, position = _varint(body, position, end)
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        elif wire_type == 3:  # a group (proto2), which parsers still skip as an unknown field
            position = _skip_group(body, position, end, key >> 3)
        else:
            raise _Malformed
    if position > end:
        raise _Malformed


def _skip_group(body: bytes, position: int, end: int, field: int, depth: int = 0) -> int:
    if depth > _MAX_DEPTH:
        raise _Malformed
    while position < end:
        key, position = _varint(body, position, end)
        wire_type = key & 7
        if wire_type == 4:
            if key >> 3 != field:
                raise _Malformed
            return position
        if wire_type == 2:
            length, position = _varint(body, position, end)
            position += length
        elif wire_type == 0:
            _, position = _varint(body, position, end)
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        elif wire_type == 3:
            position = _skip_group(body, position, end, key >> 3, depth + 1)
        else:
            raise _Malformed
    raise _Malformed
