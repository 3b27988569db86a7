"""OTLP messages → ReadableSpan: what the SDK would have built, and nothing that breaks storage."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_llm.exporter import span_to_row
from otel_llm.receiver.convert import to_readable_spans
from otel_llm.storage import codec

from .payloads import request


def one_span():
    message = request(1)
    return message, message.resource_spans[0].scope_spans[0].spans[0]


def add(span, key: str, kind: str, value) -> None:
    kv = span.attributes.add()
    kv.key = key
    setattr(kv.value, kind, value)


def test_everything_the_sdk_span_carries() -> None:
    message, span = one_span()
    span.kind = 5  # SPAN_KIND_CONSUMER
    span.parent_span_id = bytes.fromhex("00000000000000ab")
    span.flags = 0x01 | 0x100 | 0x200  # sampled, parent is remote
    span.trace_state = "vendor=abc"
    span.status.code = 2
    span.status.message = "bad"
    event = span.events.add(name="exception", time_unix_nano=123)
    event.attributes.add(key="exception.type").value.string_value = "ValueError"
    link = span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    link.attributes.add(key="why").value.string_value = "retry of"
    span.links.add(trace_id=b"", span_id=b"")  # invalid link: dropped, span kept
    array = span.attributes.add(key="ints").value.array_value
    array.values.add().int_value = 1
    array.values.add().int_value = 2
    mixed = span.attributes.add(key="mixed").value.array_value
    mixed.values.add().int_value = 1
    mixed.values.add().string_value = "a"
    kvlist = span.attributes.add(key="map").value.kvlist_value
    kvlist.values.add(key="k").value.bool_value = True
    add(span, "raw", "bytes_value", b"\x00\xff")
    span.attributes.add(key="empty")  # OTLP null
    message.resource_spans[0].scope_spans[0].scope.name = "my.scope"

    converted = to_readable_spans(message)
    [readable] = converted.spans
    assert converted.rejected == 0
    assert readable.kind is SpanKind.CONSUMER
    assert readable.parent.span_id == 0xAB and readable.parent.is_remote
    assert readable.context.trace_flags.sampled and readable.context.trace_state.get("vendor") == "abc"
    assert readable.status.status_code is StatusCode.ERROR and readable.status.description == "bad"
    assert readable.events[0].attributes["exception.type"] == "ValueError" and readable.events[0].timestamp == 123
    [kept_link] = readable.links
    assert kept_link.context.span_id == int("02" * 8, 16) and kept_link.attributes["why"] == "retry of"
    attributes = readable.attributes
    assert attributes["ints"] == (1, 2)
    assert json.loads(attributes["mixed"]) == [1, "a"]
    assert json.loads(attributes["map"]) == {"k": True}
    assert attributes["raw"] == "AP8="
    assert "empty" not in attributes
    assert readable.instrumentation_scope.name == "my.scope"
    assert readable.resource.attributes["service.name"] == "svc"
    # ReadableSpan is built positionally: every field must be where the SDK expects it.
    assert readable.name == span.name and readable.context.span_id == int.from_bytes(span.span_id, "big")
    assert (readable.start_time, readable.end_time) == (span.start_time_unix_nano, span.end_time_unix_nano)
    assert readable.start_time and readable.end_time >= readable.start_time


@pytest.mark.parametrize(
    "items, expected",
    [
        (["stop"], ("stop",)),
        (["a", "", "b"], ("a", "", "b")),  # an empty string is still a string item
        ([], ()),
    ],
)
def test_string_arrays_become_tuples_of_strings(items: list[str], expected: tuple) -> None:
    message, span = one_span()
    array = span.attributes.add(key="tags").value.array_value
    array.SetInParent()  # an empty array is still an array, not OTLP's null
    for item in items:
        array.values.add().string_value = item
    [readable] = to_readable_spans(message).spans
    assert readable.attributes["tags"] == expected


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("trace_id", b"\x00" * 16, "trace_id"),
        ("span_id", b"\x01" * 7, "span_id"),
        ("parent_span_id", b"\x01" * 3, "parent_span_id"),
        ("start_time_unix_nano", 2**64 - 1, "2262"),
    ],
)
def test_invalid_spans_are_rejected_with_a_reason(field: str, value, reason: str) -> None:
    message, span = one_span()
    setattr(span, field, value)
    converted = to_readable_spans(message)
    assert converted.spans == [] and converted.rejected == 1 and reason in converted.first_error


@pytest.mark.parametrize(
    "key, kind, value",
    [
        ("http.response.status_code", "int_value", 99999),
        ("gen_ai.usage.input_tokens", "double_value", 1e30),
        ("gen_ai.usage.input_tokens", "string_value", "9" * 30),
        ("otel_llm.cost.usd", "double_value", 1e12),
        ("otel_llm.usage.details", "string_value", '{"audio": 1e300}'),
    ],
)
def test_out_of_range_values_still_give_an_encodable_row(key: str, kind: str, value) -> None:
    # One unencodable row would fail the storage batch it shares with other clients' rows.
    message, span = one_span()
    for existing in list(span.attributes):
        if existing.key == key:
            span.attributes.remove(existing)
    add(span, key, kind, value)
    row = span_to_row(to_readable_spans(message).spans[0])
    codec.encode([row])
