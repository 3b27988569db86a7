"""OTLP ``ExportTraceServiceRequest`` → SDK ``ReadableSpan`` objects for ``LLMTraceExporter``.

The receiver hands spans to the very exporter the in-process pipeline uses, so the span → row
mapping exists once.  This module only rebuilds what the SDK would have built: resource, scope,
attributes, events, links, status, kind, times and parent.

It walks the decoded protobuf messages directly (no JSON detour per span) because it runs for
every span the receiver accepts; throughput targets depend on it.  The request comes parsed with
:mod:`otel_llm.receiver.wire`, so span attributes arrive as the bytes of their ``KeyValue``:
each is decoded by the official message the first time and, when small, remembered by its bytes.
Resources and scopes repeat from request to request and are built once too.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from otel_llm.receiver import wire
from otel_llm.receiver.decode import BadRequest

# OTLP numbers span kinds from 1 (0 = unspecified); the SDK enum starts at 0 with INTERNAL.
_KINDS = {
    0: SpanKind.INTERNAL,
    1: SpanKind.INTERNAL,
    2: SpanKind.SERVER,
    3: SpanKind.CLIENT,
    4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER,
}
_STATUS_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_UNSET_STATUS = Status(StatusCode.UNSET)
_OK_STATUS = Status(StatusCode.OK)

# Span.flags / Link.flags (opentelemetry-proto SpanFlags): low byte is W3C trace flags; bit 8
# says whether bit 9 (the parent / linked context is remote) is meaningful.
_TRACE_FLAGS_MASK = 0xFF
# Nanosecond timestamps past 2262 do not fit the int64 the row's DateTime64 columns are built
# from; one such span would fail its whole storage batch, so it is rejected here instead.
_MAX_TIME_NS = 2**63 - 1
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
# One shared TraceFlags per value instead of a new int subclass instance per span.
_TRACE_FLAGS = tuple(TraceFlags(value) for value in range(_TRACE_FLAGS_MASK + 1))


@dataclass
class Converted:
    """Spans ready for export, plus why the others were rejected (for OTLP partial success)."""

    spans: list[ReadableSpan] = field(default_factory=list)
    rejected: int = 0
    first_error: str = ""

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if not self.first_error:
            self.first_error = reason


def to_readable_spans(request: Any) -> Converted:
    """Spans of a :mod:`wire` request (an official ``ExportTraceServiceRequest`` is re-read as one).

    Raises :class:`BadRequest` for an attribute that is not a valid ``KeyValue``: as when the
    official message fails to parse, the request is refused whole.
    """
    if not isinstance(request, wire.ExportTraceServiceRequest):
        request = wire.ExportTraceServiceRequest.FromString(request.SerializeToString())
    result = Converted()
    for resource_spans in request.resource_spans:
        resource = _resource(resource_spans.resource, resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope, scope_spans.schema_url)
            for span in scope_spans.spans:
                readable = _span(span, resource, scope, result)
                if readable is not None:
                    result.spans.append(readable)
    return result


# Resources and scopes by their serialized bytes: equal bytes, equal content.  Sharing one
# Resource across requests also lets the exporter's own per-resource cache (keyed by identity)
# work across requests, and the OTLP forwarder group spans by it.
_CACHE_MAX = 256
_resources: dict[tuple[bytes, str], Resource] = {}
_scopes: dict[tuple[bytes, str], InstrumentationScope] = {}


def _resource(message: Any, schema_url: str) -> Resource:
    key = (message.SerializeToString(), schema_url)
    resource = _resources.get(key)
    if resource is None:
        resource = Resource(attributes_of(message.attributes), schema_url or None)
        _remember(_resources, key, resource, _CACHE_MAX)
    return resource


def _scope(message: Any, schema_url: str) -> InstrumentationScope:
    key = (message.SerializeToString(), schema_url)
    scope = _scopes.get(key)
    if scope is None:
        scope = InstrumentationScope(
            message.name, message.version or None, schema_url or None, attributes_of(message.attributes) or None
        )
        _remember(_scopes, key, scope, _CACHE_MAX)
    return scope


def _remember(cache: dict, key: Any, value: Any, limit: int) -> None:
    # Emptied when full rather than LRU: what repeats is back in the cache after one span.
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


def _span(span: Any, resource: Resource, scope: InstrumentationScope, result: Converted):
    # First, even for a span rejected below: a malformed attribute refuses the whole request,
    # as the official message's parse would have.
    attributes = _span_attributes(span.attributes)
    trace_id = _id(span.trace_id, 16)
    span_id = _id(span.span_id, 8)
    if trace_id is None or span_id is None:
        result.reject(f"span {span.name!r}: trace_id must be 16 bytes and span_id 8, not all zero")
        return None
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if start > _MAX_TIME_NS or end > _MAX_TIME_NS:
        result.reject(f"span {span.name!r}: timestamps beyond the year 2262")
        return None
    flags = span.flags
    parent = None
    parent_span_id = span.parent_span_id
    if parent_span_id:
        parent_id = _id(parent_span_id, 8)
        if parent_id is None:
            result.reject(f"span {span.name!r}: parent_span_id must be 8 bytes, not all zero")
            return None
        parent = SpanContext(trace_id, parent_id, _is_remote(flags))
    trace_state = span.trace_state
    # Positional arguments throughout: a class called with keywords builds a kwargs dict,
    # which made these two constructors half of this function's cost.
    context = SpanContext(
        trace_id,
        span_id,
        False,
        _TRACE_FLAGS[flags & _TRACE_FLAGS_MASK],
        TraceState.from_header([trace_state]) if trace_state else None,
    )
    events, links = span.events, span.links
    return ReadableSpan(
        span.name,
        context,
        parent,
        resource,
        attributes,
        [_event(event) for event in events] if events else [],
        [link for link in map(_link, links) if link is not None] if links else [],
        _KINDS.get(span.kind, SpanKind.INTERNAL),
        None,  # instrumentation_info, deprecated for instrumentation_scope
        _status(span.status),
        start,
        end,
        scope,
    )


def _id(raw: bytes, size: int) -> int | None:
    if len(raw) != size:
        return None
    value = int.from_bytes(raw, "big")
    return value or None


def _is_remote(flags: int) -> bool:
    return bool(flags & _HAS_IS_REMOTE) and bool(flags & _IS_REMOTE)


def _event(event: Any) -> Event:
    return Event(event.name, attributes_of(event.attributes), event.time_unix_nano)


def _link(link: Any) -> Link | None:
    # A link to an invalid context carries nothing useful; dropping it keeps the span itself.
    trace_id = _id(link.trace_id, 16)
    span_id = _id(link.span_id, 8)
    if trace_id is None or span_id is None:
        return None
    context = SpanContext(
        trace_id,
        span_id,
        is_remote=_is_remote(link.flags),
        trace_flags=_TRACE_FLAGS[link.flags & _TRACE_FLAGS_MASK],
        trace_state=TraceState.from_header([link.trace_state]) if link.trace_state else None,
    )
    return Link(context, attributes_of(link.attributes))


def _status(status: Any) -> Status:
    code = _STATUS_CODES.get(status.code, StatusCode.UNSET)
    if code is StatusCode.ERROR:
        return Status(code, status.message or None)
    # The SDK only keeps a description on ERROR (and warns otherwise); share the constants.
    return _OK_STATUS if code is StatusCode.OK else _UNSET_STATUS


# Span attributes by the bytes of their KeyValue -> (key, value, or _NULL).  Only small ones
# are kept: payloads rarely repeat, and 8,192 of them would hold megabytes.  Values are
# immutable (str, int, float, bool, tuple), so spans can share them.
_KEY_VALUES_MAX = 8192
_KEY_VALUE_MAX_BYTES = 256
_NULL = object()


class _KeyValues(dict):
    """The cache: looking an attribute up is one C call when it is there (nearly always, for
    all but the payloads and ids); a miss decodes it and remembers it if it is small."""

    def __missing__(self, raw: bytes) -> tuple[str, Any]:
        item = _key_value(raw)
        if len(raw) <= _KEY_VALUE_MAX_BYTES:
            _remember(self, raw, item, _KEY_VALUES_MAX)
        return item


_key_values = _KeyValues()


def _span_attributes(raw_key_values: Any) -> dict[str, Any]:
    # map + dict() walk the attributes in C; Python runs only on a cache miss.
    found = dict(map(_key_values.__getitem__, raw_key_values))
    if len(found) != len(raw_key_values) or _NULL in found.values():
        # A repeated key or OTLP's null (both rare): decoded one by one, as the official message
        # gives them. The SDK has no null attribute, so a null is skipped: its key keeps an
        # earlier value, or takes the position of a later one.
        return {key: value for key, value in map(_key_values.__getitem__, raw_key_values) if value is not _NULL}
    return found


def _key_value(raw: bytes) -> tuple[str, Any]:
    try:
        kv = KeyValue.FromString(raw)
    except (DecodeError, ValueError, RuntimeError, RecursionError) as exc:
        raise BadRequest(f"body is not a valid ExportTraceServiceRequest: attribute: {exc}") from None
    value = kv.value
    text = value.string_value
    if text:
        return kv.key, text
    kind = value.WhichOneof("value")
    if kind in _SCALAR_KINDS:
        return kv.key, getattr(value, kind)
    if kind is None:
        return kv.key, _NULL
    return kv.key, value_of(value)


def attributes_of(key_values: Any) -> dict[str, Any]:
    """Official ``KeyValue`` messages (resource, scope, event and link attributes) as a dict."""
    found = {}
    for kv in key_values:
        value = kv.value
        text = value.string_value
        if text:
            found[kv.key] = text
            continue
        kind = value.WhichOneof("value")
        if kind in _SCALAR_KINDS:
            found[kv.key] = getattr(value, kind)
        elif kind is not None:
            found[kv.key] = value_of(value)
        # else: an empty AnyValue is OTLP's null; the SDK has no null attribute, so the key is left out.
    return found


_SCALAR_KINDS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def value_of(value: AnyValue) -> Any:
    """An OTLP AnyValue as an SDK attribute value.

    SDK attributes are primitives or homogeneous primitive sequences.  What OTLP can say beyond
    that (maps, mixed or nested arrays, bytes) becomes a JSON / base64 string, so the value is
    kept whole in the row's attribute maps instead of being dropped.
    """
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        values = value.array_value.values
        # Fast path for the common case, string arrays (finish reasons, tags): one upb call
        # per item instead of WhichOneof + getattr (an empty string falls to the general path).
        texts = [item.string_value for item in values]
        if all(texts):
            return tuple(texts)
        items = [value_of(item) for item in values]
        kinds = {type(item) for item in items}
        if len(kinds) <= 1 and not kinds & {dict, list, tuple, type(None)}:
            return tuple(items)
        return json.dumps([_jsonable(item) for item in values])
    if kind == "kvlist_value":
        return json.dumps(_jsonable(value))
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None  # an empty AnyValue: OTLP's "null"


def _jsonable(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_jsonable(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _jsonable(kv.value) for kv in value.kvlist_value.values}
    return value_of(value)
