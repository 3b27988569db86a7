"""Counting what an OTLP protobuf body would decode to, before decoding it.

Decoding costs memory per element, not per byte: an empty span is 2 bytes on the wire and
~170 bytes once parsed, so a 7.6 KiB gzip body of 4 million empty spans cost 623 MB.  This walks
the wire format (no objects built) and counts spans and the elements inside them (attributes,
events, links), stopping as soon as a count passes its cap, so the walk costs at most the caps'
worth of steps whatever the body holds.  The receiver charges its memory budget from these
counts and refuses a request over a cap before parsing it.

Malformed bodies are not judged here: the walk stops where the structure stops making sense and
the real parser gives the error.
"""

from __future__ import annotations

from dataclasses import dataclass

# Field numbers (opentelemetry-proto trace.proto / trace_service.proto), wire type 2 (LEN).
_RESOURCE_SPANS = 1  # ExportTraceServiceRequest.resource_spans
_SCOPE_SPANS = 2  # ResourceSpans.scope_spans
_SPANS = 2  # ScopeSpans.spans
_ELEMENT_FIELDS = frozenset((9, 11, 13))  # Span.attributes, Span.events, Span.links


@dataclass
class Census:
    spans: int = 0
    elements: int = 0  # attributes, events and links of all spans
    over: str = ""  # which cap was passed ("" when none)


def count(body: bytes, max_spans: int, max_elements: int) -> Census:
    census = Census()
    view = memoryview(body)
    try:
        for start, end in _children(view, 0, len(body), _RESOURCE_SPANS):
            for scope_start, scope_end in _children(view, start, end, _SCOPE_SPANS):
                for span_start, span_end in _children(view, scope_start, scope_end, _SPANS):
                    census.spans += 1
                    if census.spans > max_spans:
                        census.over = "spans"
                        return census
                    census.elements += _elements(body, span_start, span_end)
                    if census.elements > max_elements:
                        census.over = "attributes, events and links"
                        return census
    except _Malformed:
        pass  # the parser will say what is wrong
    return census


class _Malformed(Exception):
    pass


def _varint(view: bytes | memoryview, position: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= end or shift > 63:
            raise _Malformed
        byte = view[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _fields(view: memoryview, position: int, end: int):
    """(field number, wire type, value start, value end) of each field between the bounds."""
    while position < end:
        key, position = _varint(view, position, end)
        wire_type = key & 7
        if wire_type == 2:
            length, position = _varint(view, position, end)
            value_end = position + length
        elif wire_type == 0:
            _, value_end = _varint(view, position, end)
        elif wire_type == 1:
            value_end = position + 8
        elif wire_type == 5:
            value_end = position + 4
        else:
            raise _Malformed
        if value_end > end:
            raise _Malformed
        yield key >> 3, wire_type, position, value_end
        position = value_end


def _children(view: memoryview, start: int, end: int, field: int):
    for number, wire_type, value_start, value_end in _fields(view, start, end):
        if number == field and wire_type == 2:
            yield value_start, value_end


def _elements(body: bytes, position: int, end: int) -> int:
    """Attributes, events and links of one span: the hot loop of the walk, so written flat
    (one-byte keys and lengths, what almost every field has, take the short path)."""
    elements = 0
    while position < end:
        key = body[position]
        if key < 0x80:
            position += 1
        else:
            key, position = _varint(body, position, end)
        wire_type = key & 7
        if wire_type == 2:
            length = body[position] if position < end else 0x80
            if length < 0x80:
                position += 1 + length
            else:
                length, position = _varint(body, position, end)
                position += length
            if key >> 3 in _ELEMENT_FIELDS:
                elements += 1
        elif wire_type == 0:
            _, position = _varint(body, position, end)
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        else:
            raise _Malformed
    if position > end:
        raise _Malformed
    return elements
