"""Hypothesis against the HTTP layer itself: request lines, headers, framing and encodings mixed
from valid and broken pieces.  Whatever arrives, the receiver answers with a status (never a
5xx: 503 only for its connection cap, which these few connections never reach), also when the
request was cut short or refused before it was all read; and it goes on serving."""

from __future__ import annotations

import gzip
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import TOKEN, RowSink, Running, start
from .payloads import protobuf_body

BODY = protobuf_body(2)


@pytest.fixture(scope="module")
def server():
    sink = RowSink()
    receiver = start(sink, max_body_bytes=1 << 16, max_decompressed_bytes=1 << 16)
    yield Running(receiver, sink)
    receiver.stop()


def chunked(body: bytes, size: int) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


methods = st.sampled_from(["POST", "GET", "HEAD", "PUT", "TRACE", "CONNECT", "OPTIONS", "PRI", "post", "X" * 30, ""])
paths = st.sampled_from(["/v1/traces", "/health", "*", "/", "/v1/traces?x=1", "//v1/traces", "/" + "a" * 3000])
versions = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", "", "FOO/1.1"])
lengths = st.one_of(
    st.just(None), st.integers(-5, 1 << 17).map(str), st.sampled_from(["\u0661", "\u00b2", "+1", "0x10", "1,1", " 5 "])
)
encodings = st.sampled_from([None, "gzip", "deflate", "zstd", "br", "gzip, gzip", "identity", "GZIP"])
transfer = st.sampled_from([None, "chunked", "gzip, chunked", "chunked, chunked", "identity", "Chunked"])
bodies = st.one_of(
    st.just(BODY), st.just(gzip.compress(BODY)), st.binary(max_size=300), st.just(gzip.compress(BODY) * 2)
)
extra_headers = st.lists(
    st.sampled_from(
        [
            "Expect: 100-continue",
            "Connection: close",
            "Content-Type: application/json",
            "Content-Type: text/plain",
            "X: " + "y" * 70000,
            "Bad Header Line",
            "Authorization: Bearer nope",
            "Host: a\r\nHost: b",
        ]
    ),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=methods,
    path=paths,
    version=versions,
    length=lengths,
    encoding=encodings,
    transfer_coding=transfer,
    body=bodies,
    headers=extra_headers,
    chunk=st.integers(1, 64),
)
def test_any_request_gets_an_answer_not_a_5xx(
    server: Running, method, path, version, length, encoding, transfer_coding, body, headers, chunk
) -> None:
    head = [f"{method} {path} {version}".strip(), "Content-Type: application/x-protobuf", f"Authorization: Bearer {TOKEN}"]
    head += headers
    if length is not None:
        head.append(f"Content-Length: {length}")
    if encoding:
        head.append(f"Content-Encoding: {encoding}")
    if transfer_coding:
        head.append(f"Transfer-Encoding: {transfer_coding}")
        body = chunked(body, chunk) if "chunked" in transfer_coding.lower() else body
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", server.receiver.http_port), timeout=15) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # refused (and closed) before all of it was sent: the answer is still there to read
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    assert answer.split(b" ", 2)[1][:1] in (b"1", b"2", b"4"), answer[:100]
    # ... and the receiver still serves.
    assert server.post(BODY)[0] == 200
