"""OTLP/gRPC status codes as the spec defines them, seen by a raw grpcio client."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from .conftest import AUTH, RowSink, Running, start
from .payloads import protobuf_body, request

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


AUTH_METADATA = tuple(AUTH.items())


def call(running: Running, body: bytes, metadata=AUTH_METADATA, compression=None):
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        export = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        answer = export(body, metadata=metadata, timeout=10, compression=compression)
        return ExportTraceServiceResponse.FromString(answer)


def test_success_and_partial_success(running: Running) -> None:
    assert not call(running, protobuf_body(2), compression=grpc.Compression.Gzip).HasField("partial_success")
    message = request(2)
    message.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x00" * 8
    response = call(running, message.SerializeToString())
    assert response.partial_success.rejected_spans == 1 and "span_id" in response.partial_success.error_message
    assert len(running.sink.rows) == 3


def test_malformed_message_is_invalid_argument(running: Running) -> None:
    body = protobuf_body(3)
    with pytest.raises(grpc.RpcError) as caught:
        call(running, body[: len(body) // 2])
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert running.sink.rows == []


def test_missing_token_is_unauthenticated(running: Running) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call(running, protobuf_body(1), metadata=(("authorization", "Bearer nope"),))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert running.sink.rows == []


def test_too_large_message_is_resource_exhausted() -> None:
    sink = RowSink()
    receiver = start(sink, max_body_bytes=1 << 16, max_decompressed_bytes=1 << 16)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            call(Running(receiver, sink), protobuf_body(100))
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert sink.rows == []
    finally:
        receiver.stop()


def test_storage_failure_is_unavailable_with_retry_info() -> None:
    sink = RowSink(fail=True)
    receiver = start(sink)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            call(Running(receiver, sink), protobuf_body(1))
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        trailers = dict(caught.value.trailing_metadata())
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry) and retry.retry_delay.seconds > 0
    finally:
        receiver.stop()
