"""The receiver's own parse (span attributes as raw bytes, decoded with a cache) against the
official message: same bodies accepted, same spans, whether an attribute was decoded or cached."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from otel_llm.receiver import convert, decode

from .conftest import RowSink, Running, start
from .payloads import protobuf_body, request
from .test_fuzz import mutated


def reference_attributes(body: bytes) -> list[list[tuple]]:
    """Span attributes as read from the official message, in order, per span."""
    message = ExportTraceServiceRequest.FromString(body)
    return [
        list(convert.attributes_of(span.attributes).items())
        for resource_spans in message.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def received_attributes(body: bytes) -> list[list[tuple]]:
    converted = convert.to_readable_spans(decode.parse(body, decode.PROTOBUF))
    return [list(span.attributes.items()) for span in converted.spans]


scalars = st.one_of(
    st.text(max_size=8).map(lambda text: AnyValue(string_value=text)),
    st.integers(-(2**63), 2**63 - 1).map(lambda number: AnyValue(int_value=number)),
    st.floats(allow_nan=False).map(lambda number: AnyValue(double_value=number)),
    st.booleans().map(lambda flag: AnyValue(bool_value=flag)),
    st.binary(max_size=8).map(lambda raw: AnyValue(bytes_value=raw)),
    st.just(AnyValue()),  # OTLP's null
)


def _array(items: list) -> AnyValue:
    value = AnyValue()
    value.array_value.SetInParent()
    value.array_value.values.extend(items)
    return value


def _kvlist(items: list) -> AnyValue:
    value = AnyValue()
    value.kvlist_value.SetInParent()
    for key, item in items:
        value.kvlist_value.values.add(key=key).value.CopyFrom(item)
    return value


any_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3).map(_array)
    | st.lists(st.tuples(st.text(max_size=4), inner), max_size=3).map(_kvlist),
    max_leaves=6,
)
# Few distinct keys, so duplicates (the last wins, at the first one's place) come up often.
attribute_lists = st.lists(st.tuples(st.sampled_from(["a", "b", "gen_ai.x", ""]), any_values), max_size=8)


THREE_SPANS = request(3).SerializeToString()


@settings(max_examples=200, deadline=None)
@given(spans=st.lists(attribute_lists, min_size=1, max_size=3))
def test_attributes_match_the_official_message_decoded_or_cached(spans) -> None:
    message = ExportTraceServiceRequest.FromString(THREE_SPANS)
    for span, attributes in zip(message.resource_spans[0].scope_spans[0].spans, spans):
        del span.attributes[:]
        for key, value in attributes:
            span.attributes.add(key=key).value.CopyFrom(value)
    body = message.SerializeToString()
    expected = reference_attributes(body)
    assert received_attributes(body) == expected  # decoded
    assert received_attributes(body) == expected  # now from the cache


def test_null_attributes_stay_out_however_many_have_been_seen() -> None:
    # A small null attribute cached, then more null attributes too long to cache than the cache
    # holds entries, then the cached one again: it must still be left out.
    message = ExportTraceServiceRequest.FromString(THREE_SPANS)
    spans = message.resource_spans[0].scope_spans[0].spans
    for span in spans:
        del span.attributes[:]
        span.attributes.add(key="null.small").value.CopyFrom(AnyValue())
        span.attributes.add(key="kept").value.CopyFrom(AnyValue(string_value="yes"))
    long_key = "x" * (convert._KEY_VALUE_MAX_BYTES + 1)
    for index in range(convert._KEY_VALUES_MAX + 10):
        spans[1].attributes.add(key=f"{long_key}{index}").value.CopyFrom(AnyValue())
    body = message.SerializeToString()
    assert received_attributes(body) == [[("kept", "yes")]] * 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated(protobuf_body(2)))
def test_refuses_exactly_what_the_official_message_refuses(body: bytes) -> None:
    try:
        expected = reference_attributes(body)
    except Exception:
        expected = None
    try:
        got = received_attributes(body)
    except decode.BadRequest:
        got = None
    if expected is None:
        assert got is None
    else:
        # Spans the conversion rejects (bad ids) are not in `got`; their attributes are not compared.
        assert got is not None and all(attributes in expected for attributes in got)


def _bad_attribute_body() -> bytes:
    # Same length, so the framing stays valid: only the attribute key is no longer UTF-8.
    body = protobuf_body(2)
    key = b"gen_ai.operation.name"
    assert key in body
    bad = body.replace(key, b"\xff" + key[1:], 1)
    with pytest.raises(Exception):
        ExportTraceServiceRequest.FromString(bad)
    return bad


def test_an_invalid_attribute_refuses_the_request_whole() -> None:
    sink = RowSink()
    receiver = start(sink)
    try:
        running = Running(receiver, sink)
        status, _, body = running.post(_bad_attribute_body())
        assert status == 400 and b"not a valid ExportTraceServiceRequest" in body
        assert sink.batches == []
        # The decoded-attribute cache must not let the same bytes through the second time.
        assert running.post(_bad_attribute_body())[0] == 400
        assert running.post(protobuf_body(2))[0] == 200
    finally:
        receiver.stop()


def test_an_invalid_attribute_is_invalid_argument_over_grpc() -> None:
    import grpc

    sink = RowSink()
    receiver = start(sink)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}")
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as error:
            export(_bad_attribute_body(), metadata=(("authorization", "Bearer test-token-123"),), timeout=10)
        assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert sink.batches == []
        channel.close()
    finally:
        receiver.stop()


def test_otlp_json_bodies_take_the_same_path() -> None:
    from .test_http_protocol import otlp_json

    document = otlp_json()
    message = decode.parse(json.dumps(document).encode(), decode.JSON)
    [span] = convert.to_readable_spans(message).spans
    assert span.attributes  # decoded from the JSON body's attributes
