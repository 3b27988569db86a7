"""What hostile or broken clients send, and what the receiver must answer: a 4xx (or a retryable
429 / RESOURCE_EXHAUSTED with what the OTLP spec asks), never a dropped connection, never
memory out of proportion, never a lockout of the other clients."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_llm.exporter import LLMTraceExporter
from otel_llm.receiver import http_transport
from otel_llm.receiver.grpc_transport import start_grpc_server
from otel_llm.receiver.ingest import Ingestor

from .conftest import AUTH, TOKEN, RowSink, Running, start
from .payloads import protobuf_body
from .test_grpc_protocol import AUTH_METADATA, METHOD
from .test_http_protocol import otlp_json


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def empty_spans(count: int) -> bytes:
    """An ExportTraceServiceRequest of ``count`` empty spans: 2 bytes each on the wire."""
    return field(1, field(2, b"\x12\x00" * count))


def span_with(elements: bytes) -> bytes:
    span = field(1, b"\x01" * 16) + field(2, b"\x02" * 8) + field(5, b"s") + elements
    return field(1, field(2, field(2, span)))


def raw(port: int, data: bytes, shut: bool = True, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        return sock.recv(65536)


POST = (
    "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nAuthorization: Bearer " + TOKEN + "\r\n"
    "Content-Length: {length}\r\n{extra}\r\n"
)


def post(port: int, body: bytes, kind: str = "application/x-protobuf", extra: str = "", timeout: float = 10) -> bytes:
    return raw(port, POST.format(kind=kind, length=len(body), extra=extra).encode() + body, timeout=timeout)


# --- amplification and memory --------------------------------------------------------------


def test_amplified_span_count_is_refused_before_decoding(running: Running) -> None:
    # The campaign's body: 4 million empty spans, 7.6 KiB gzipped, 623 MB once decoded.
    body = gzip.compress(empty_spans(4_000_000), 9)
    assert len(body) < 16 << 10
    answer = post(running.receiver.http_port, body, extra="Content-Encoding: gzip\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b"spans" in answer
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{}] * 300_000}]}]}
    answer = post(running.receiver.http_port, json.dumps(document).encode(), kind="application/json")
    assert answer.startswith(b"HTTP/1.1 413")
    assert running.receiver.ingestor.budget.used == 0


def test_attribute_and_event_caps(running: Running) -> None:
    receiver = start(RowSink(), max_attributes_per_request=1000)
    try:
        for tag in (b"\x4a\x00", b"\x5a\x00", b"\x6a\x00"):  # empty attributes, events, links
            answer = post(receiver.http_port, span_with(tag * 1001))
            assert answer.startswith(b"HTTP/1.1 413"), answer[:60]
        assert post(receiver.http_port, span_with(b"\x5a\x00" * 999)).startswith(b"HTTP/1.1 200")
    finally:
        receiver.stop()


def test_memory_in_flight_is_shared_by_all_connections() -> None:
    entered, release = threading.Event(), threading.Event()

    class Holding(RowSink):
        def submit(self, rows):
            entered.set()
            release.wait(10)
            super().submit(rows)

    sink = Holding()
    body = protobuf_body(20)
    # Room for one such request at a time (its bytes at the parse factor, its spans and attributes).
    receiver = start(sink, max_memory_bytes=len(body) * 60 + 200_000)
    try:
        port = receiver.http_port
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(post, port, body)
            assert entered.wait(10)
            started = time.monotonic()
            second = post(port, body)
            release.set()
            assert first.result().startswith(b"HTTP/1.1 200")
        assert second.startswith(b"HTTP/1.1 429") and b"Retry-After: " in second
        assert time.monotonic() - started < 9  # refused after the queue wait, not at the client's timeout
        # Larger than the whole budget: never servable, so 413 at once rather than 429.
        head = POST.format(kind="application/x-protobuf", length=len(body) * 100, extra="").encode()
        assert raw(port, head, shut=False).startswith(b"HTTP/1.1 413")  # before reading the body
        assert post(port, body).startswith(b"HTTP/1.1 200")
        assert receiver.ingestor.budget.used == 0
    finally:
        release.set()
        receiver.stop()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


BUDGET_MIB = 256


def test_peak_memory_stays_bounded_under_amplification(tmp_path: Path) -> None:
    from .test_serve_cli import start_serve, stop_serve

    env = {
        **__import__("os").environ,
        "OTEL_LLM_CLICKHOUSE_URL": f"chdb://{tmp_path / 'db'}",
        "OTEL_LLM_HOME": str(tmp_path / "home"),
        "OTEL_LLM_RECEIVER_TOKEN": TOKEN,
        "OTEL_LLM_RECEIVER_MAX_MEMORY_BYTES": str(BUDGET_MIB << 20),
    }
    process, http_port, _ = start_serve(env)
    try:
        assert post(http_port, protobuf_body(5)).startswith(b"HTTP/1.1 200")  # warm: engine and code loaded
        before = _peak_rss_kib(process.pid)
        gzipped = "Content-Encoding: gzip\r\n"
        bombs = [
            gzip.compress(empty_spans(4_000_000), 9),  # over the span cap
            gzip.compress(empty_spans(190_000), 9),  # just under it
            gzip.compress(span_with(b"\x5a\x00" * 500_000), 9),  # events
        ]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda bomb: post(http_port, bomb, extra=gzipped, timeout=120), bombs * 4))
        assert all(answer.split(b" ")[1] in (b"200", b"413", b"429") for answer in answers), answers
        grown_mib = (_peak_rss_kib(process.pid) - before) / 1024
        # Unbounded, one 4M-span body alone took 623 MB; twelve at once here.
        assert grown_mib < BUDGET_MIB, f"peak memory grew by {grown_mib:.0f} MiB"
        assert post(http_port, protobuf_body(1)).startswith(b"HTTP/1.1 200")
    finally:
        stop_serve(process)


# --- gRPC overload answers ---------------------------------------------------------------------


def test_grpc_past_its_concurrency_is_resource_exhausted_with_retry_info() -> None:
    entered, release = threading.Semaphore(0), threading.Event()

    class Slow:
        def export(self, spans):
            entered.release()
            release.wait(10)
            return SpanExportResult.SUCCESS

        def force_flush(self, timeout_millis: int = 0) -> bool:
            return True

    server, port = start_grpc_server("127.0.0.1:0", Ingestor(Slow()), max_message_bytes=1 << 20, max_concurrent=2)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
            # One export in the exporter, the other admitted and waiting for it (exports are serial).
            held = [export.future(protobuf_body(1), timeout=15) for _ in range(2)]
            assert entered.acquire(timeout=10)
            time.sleep(0.5)
            with pytest.raises(grpc.RpcError) as caught:
                export(protobuf_body(1), timeout=15)
            release.set()
            assert all(future.result() is not None for future in held)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        details = status_pb2.Status.FromString(dict(caught.value.trailing_metadata())["grpc-status-details-bin"])
        retry = error_details_pb2.RetryInfo()
        assert details.details[0].Unpack(retry) and retry.retry_delay.seconds > 0
    finally:
        release.set()
        server.stop(0)


def test_grpc_amplified_message_is_resource_exhausted_without_retry(running: Running) -> None:
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        export = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as caught:
            export(empty_spans(300_000), metadata=AUTH_METADATA, timeout=15)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "grpc-status-details-bin" not in dict(caught.value.trailing_metadata() or ())


# --- malformed requests: always an answer --------------------------------------------------------


@pytest.mark.parametrize("number", ["1e400", "-1e400", "Infinity", "-Infinity", "[]", "{}"])
def test_json_numbers_out_of_range_are_400(running: Running, number: str) -> None:
    text = json.dumps(otlp_json())
    for key in ('"kind": 3', '"code": 2'):
        body = text.replace(key, key.split(":")[0] + ": " + number).encode()
        answer = post(running.receiver.http_port, body, kind="application/json")
        assert answer.startswith(b"HTTP/1.1 400"), (number, answer[:80])
    assert running.sink.rows == []


@pytest.mark.parametrize("method", ["HEAD", "TRACE", "CONNECT", "FOO", "OPTIONS", "DELETE"])
def test_every_other_method_is_405(running: Running, method: str) -> None:
    answer = raw(running.receiver.http_port, f"{method} /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 405") and b"Allow: GET, POST" in answer, answer[:80]


def test_answer_comes_in_one_segment(running: Running) -> None:
    body = json.dumps(otlp_json()).encode()
    with socket.create_connection(("127.0.0.1", running.receiver.http_port), timeout=10) as sock:
        for _ in range(3):  # keep-alive: each answer whole in one read
            sock.sendall(POST.format(kind="application/json", length=len(body), extra="").encode() + body)
            answer = sock.recv(65536)
            head, _, rest = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1])
            assert len(rest) == length > 0


# --- slow clients ------------------------------------------------------------------------------


def test_slowloris_is_cut_off_and_does_not_lock_out_clients(monkeypatch, running: Running) -> None:
    monkeypatch.setattr(http_transport, "HEADER_DEADLINE_S", 1.5)
    port = running.receiver.http_port
    trickling = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"POST /v1/traces HTTP/1.1\r\n")
            trickling.append(sock)
        # Everyone else is still served while they trickle.
        assert post(port, protobuf_body(1)).startswith(b"HTTP/1.1 200")
        for _ in range(4):
            time.sleep(0.5)
            for sock in trickling:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass
        cut = 0
        for sock in trickling:
            sock.settimeout(5)
            try:
                answer = sock.recv(4096)
            except OSError:
                answer = b""
            cut += answer.startswith(b"HTTP/1.1 408") or answer == b""
        assert cut == len(trickling)
    finally:
        for sock in trickling:
            sock.close()
    assert len(running.sink.rows) == 1
