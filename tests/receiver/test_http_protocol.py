"""OTLP/HTTP as the spec defines it, and as hostile or broken clients behave."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import zlib

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_llm.receiver.ingest import Ingestor, Overloaded

from .conftest import RowSink, Running, start
from .payloads import protobuf_body, request

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def otlp_json(trace_id: str = TRACE_ID, span_id: str = "eee19b7ec3c1b174") -> dict:
    """OTLP/JSON as the spec writes it: hex ids, camelCase, enum ints, int64 as strings."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "json-svc"}},
                        {"key": "otel_llm.billing.customer_id", "value": {"stringValue": "cust-json"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "my.library", "version": "1.0.0"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "chat gpt-4o",
                                "kind": 3,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661500000000",
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                    {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
                                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 20}},
                                    {
                                        "key": "gen_ai.response.finish_reasons",
                                        "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}},
                                    },
                                    {
                                        "key": "custom.map",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [{"key": "a", "value": {"intValue": "1"}}]
                                            }
                                        },
                                    },
                                ],
                                "events": [{"timeUnixNano": "1544712660500000000", "name": "first token"}],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def answer_to_headers(port: int, content_length: int) -> bytes:
    """Send only a request's headers and return what the server answers."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Authorization: Bearer test-token-123\r\nContent-Length: %d\r\n\r\n" % content_length
        )
        return sock.recv(4096)


def test_protobuf_success_returns_empty_response(running: Running) -> None:
    status, headers, body = running.post(protobuf_body(3))
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(body)
    assert not response.HasField("partial_success")
    assert len(running.sink.rows) == 3


def test_json_body(running: Running) -> None:
    status, headers, body = running.post(
        json.dumps(otlp_json()).encode(), {"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 200 and headers["Content-Type"] == "application/json", body
    assert json.loads(body) == {}
    [row] = running.sink.rows
    assert row["trace_id"] == TRACE_ID and row["parent_span_id"] == "eee19b7ec3c1b173"
    assert (row["prompt_tokens"], row["completion_tokens"], row["finish_reason"]) == (100, 20, "stop")
    assert row["customer_id"] == "cust-json" and row["service_name"] == "json-svc"
    assert row["is_error"] is True and row["error_message"] == "boom"
    assert row["latency_ms"] == 1500.0
    assert json.loads(row["span_attributes"]["custom.map"]) == {"a": 1}


def test_gzip_body(running: Running) -> None:
    status, _, _ = running.post(gzip.compress(protobuf_body(2)), {"Content-Encoding": "gzip"})
    assert status == 200 and len(running.sink.rows) == 2


def test_partial_success_rejects_only_invalid_spans(running: Running) -> None:
    message = request(3)
    message.resource_spans[0].scope_spans[0].spans[1].trace_id = b"\x01\x02"  # not 16 bytes
    status, _, body = running.post(message.SerializeToString())
    assert status == 200
    response = ExportTraceServiceResponse.FromString(body)
    assert response.partial_success.rejected_spans == 1
    assert "trace_id must be 16 bytes" in response.partial_success.error_message
    assert len(running.sink.rows) == 2


def test_json_partial_success(running: Running) -> None:
    document = otlp_json(span_id="0000000000000000")  # the all-zero id is invalid
    status, _, body = running.post(json.dumps(document).encode(), {"Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["partialSuccess"]["rejectedSpans"] == "1"
    assert running.sink.rows == []


def test_malformed_bodies_get_400_status_and_write_nothing(running: Running) -> None:
    valid = protobuf_body(5)
    cases = [
        (valid[: len(valid) // 2], "application/x-protobuf"),
        (b"\xff\xff\xff\xff", "application/x-protobuf"),
        (b'{"resourceSpans": [', "application/json"),
        (json.dumps(otlp_json(trace_id="not-hex")).encode(), "application/json"),
        (b'{"resourceSpans": [{"scopeSpans": 7}]}', "application/json"),
        (b"[1, 2]", "application/json"),
    ]
    for body, content_type in cases:
        status, headers, answer = running.post(body, {"Content-Type": content_type})
        assert status == 400, (body[:40], status)
        assert headers["Content-Type"] == content_type
        if content_type == "application/json":
            assert json.loads(answer)["message"]
        else:
            assert Status.FromString(answer).code == 3  # INVALID_ARGUMENT
    assert running.sink.rows == []


def test_unsupported_content_type_and_missing_length(running: Running) -> None:
    status, _, _ = running.post(b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    status, _, _ = running.post(b"x", {"Content-Encoding": "br"})
    assert status == 415
    assert running.post(b"", path="/v1/metrics")[0] == 404
    connection = http.client.HTTPConnection("127.0.0.1", running.receiver.http_port, timeout=10)
    connection.request("PUT", "/v1/traces", body=b"x")
    assert connection.getresponse().status == 405
    connection.close()


def test_auth_required_on_http(running: Running) -> None:
    status, _, body = running.post(protobuf_body(1), {"authorization": "Bearer nope"})
    assert status == 401 and Status.FromString(body).code == 16  # UNAUTHENTICATED
    status, _, _ = running.post(protobuf_body(1), {"authorization": ""})
    assert status == 401
    assert running.sink.rows == []


def test_gzip_bomb_is_413_and_server_keeps_answering() -> None:
    sink = RowSink()
    receiver = start(sink, max_body_bytes=1 << 20, max_decompressed_bytes=1 << 20)
    try:
        running = Running(receiver, sink)
        # 64 MiB of zeros, about 64 KiB compressed: under the body limit, far over the inflate cap.
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = bytes(1 << 20)
        bomb = b"".join(compressor.compress(zeros) for _ in range(64)) + compressor.flush()
        assert len(bomb) < 1 << 20
        status, _, _ = running.post(bomb, {"Content-Encoding": "gzip"})
        assert status == 413
        # Over the body limit by Content-Length: refused before a byte of the body is read.
        assert answer_to_headers(receiver.http_port, content_length=2 << 20).startswith(b"HTTP/1.1 413")
        assert running.get("/health")[0] == 200
        assert running.post(protobuf_body(1))[0] == 200
        assert len(sink.rows) == 1
    finally:
        receiver.stop()


def test_client_disconnect_mid_body_is_survived(running: Running) -> None:
    body = protobuf_body(4)
    for cut in (0, 10, len(body) // 2):
        with socket.create_connection(("127.0.0.1", running.receiver.http_port)) as sock:
            head = (
                "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                f"Authorization: Bearer test-token-123\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body[:cut])
            sock.shutdown(socket.SHUT_WR)  # the client goes away mid-body
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 400"), answer[:60]
    assert running.sink.rows == []
    status, body = running.get("/health")
    assert status == 200 and json.loads(body)["http_400"] == 3


def test_health_reports_counters(running: Running) -> None:
    running.post(protobuf_body(2))
    status, body = running.get("/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    assert health["spans_accepted"] == 2 and health["requests_ok"] == 1


def test_storage_failure_is_503_with_retry_after() -> None:
    sink = RowSink(fail=True)
    receiver = start(sink)
    try:
        status, headers, body = Running(receiver, sink).post(protobuf_body(1))
        assert status == 503 and int(headers["Retry-After"]) > 0
        assert Status.FromString(body).code == 14  # UNAVAILABLE
    finally:
        receiver.stop()


def test_overload_is_reported_not_queued_forever() -> None:
    entered, release = threading.Event(), threading.Event()

    class SlowExporter:
        def export(self, spans):
            entered.set()
            release.wait(5)
            return SpanExportResult.SUCCESS

        def force_flush(self, timeout_millis: int = 0) -> bool:
            return True

    ingestor = Ingestor(SlowExporter(), max_pending_requests=1, queue_timeout_s=0.05)
    first = threading.Thread(target=ingestor.ingest, args=(request(1),))
    first.start()
    try:
        assert entered.wait(5)
        with pytest.raises(Overloaded):
            ingestor.ingest(request(1))
    finally:
        release.set()
        first.join()
    assert ingestor.counters()["overloaded"] == 1


def test_connection_flood_gets_503_and_service_recovers(monkeypatch) -> None:
    from otel_llm.receiver import http_transport

    monkeypatch.setattr(http_transport, "MAX_CONNECTIONS", 2)
    sink = RowSink()
    receiver = start(sink)
    running = Running(receiver, sink)
    idle = [socket.create_connection(("127.0.0.1", receiver.http_port)) for _ in range(2)]
    try:
        # Answered on accept, before the request is even read.
        with socket.create_connection(("127.0.0.1", receiver.http_port)) as extra:
            answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: " in answer
    finally:
        for sock in idle:
            sock.close()
    try:
        for _ in range(50):  # the handler threads notice the closed sockets and free their slots
            status, _, _ = running.post(protobuf_body(1))
            if status == 200:
                break
        assert status == 200 and len(sink.rows) == 1
    finally:
        receiver.stop()
