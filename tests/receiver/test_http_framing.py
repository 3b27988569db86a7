"""OTLP/HTTP bodies however a client frames and encodes them: chunked (the JavaScript exporters),
Content-Length, gzip / deflate / zstd, several compressed members, on one kept-alive connection."""

from __future__ import annotations

import gzip
import logging
import socket
import zlib

import pytest
from otel_llm.receiver.decode import zstd

from .conftest import TOKEN, Running
from .payloads import protobuf_body

HEAD = (
    "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
    f"Authorization: Bearer {TOKEN}\r\n"
)


def chunked(body: bytes, size: int = 100) -> bytes:
    """``body`` as chunks of ``size`` bytes, with a chunk extension and a trailer field."""
    parts = [b"%x;ext=1\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\nX-Trailer: yes\r\n\r\n"


def exchange(port: int, raw: bytes, answers: int = 1) -> list[bytes]:
    """Send ``raw`` on one connection; return the status lines of ``answers`` responses."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        stream = sock.makefile("rb")
        statuses = []
        for _ in range(answers):
            status = stream.readline()
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            stream.read(length)
            statuses.append(status.strip())
        return statuses


def test_chunked_bodies_on_one_kept_alive_connection(running: Running) -> None:
    one = HEAD.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(protobuf_body(3))
    gzipped = HEAD.encode() + b"Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
    gzipped += chunked(gzip.compress(protobuf_body(2)), size=7)
    sized = HEAD.encode() + b"Content-Length: %d\r\n\r\n%s" % (len(protobuf_body(1)), protobuf_body(1))
    statuses = exchange(running.receiver.http_port, one + gzipped + sized, answers=3)
    assert statuses == [b"HTTP/1.1 200 OK"] * 3
    assert len(running.sink.rows) == 6


@pytest.mark.parametrize(
    ("chunks", "status"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", b"400"),  # size not hex
        (b"\xd9\xa3\r\nabc\r\n0\r\n\r\n", b"400"),  # a Unicode digit
        (b"3\r\nabcXY0\r\n\r\n", b"400"),  # no CRLF after the data
        (b"%x\r\n" % (2 << 20), b"413"),  # over the body limit, refused before reading it
        (b"ffffffffffffffffff\r\n", b"400"),  # absurd size
    ],
)
def test_bad_chunked_bodies_are_4xx(chunks: bytes, status: bytes) -> None:
    from .conftest import RowSink, start

    sink = RowSink()
    receiver = start(sink, max_body_bytes=1 << 20, max_decompressed_bytes=1 << 20)
    try:
        raw = HEAD.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunks
        with socket.create_connection(("127.0.0.1", receiver.http_port), timeout=10) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(4096)
        assert answer.split(b" ")[1] == status, answer[:80]
        assert sink.rows == []
    finally:
        receiver.stop()


def test_chunked_over_the_limit_in_small_chunks_is_413() -> None:
    from .conftest import RowSink, start

    sink = RowSink()
    receiver = start(sink, max_body_bytes=1 << 16, max_decompressed_bytes=1 << 16)
    try:
        raw = HEAD.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(bytes(1 << 17), size=4096)
        assert exchange(receiver.http_port, raw)[0].startswith(b"HTTP/1.1 413")
    finally:
        receiver.stop()


@pytest.mark.parametrize("value", ["\u0661\u0662", "\u00b2", "+5", "5_0", "1, 2", " "])
def test_content_length_must_be_ascii_digits(running: Running, value: str) -> None:
    raw = HEAD.encode() + f"Content-Length: {value}\r\n\r\n".encode()
    assert exchange(running.receiver.http_port, raw)[0].startswith(b"HTTP/1.1 400")


def test_transfer_coding_other_than_chunked_is_400(running: Running) -> None:
    raw = HEAD.encode() + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
    assert exchange(running.receiver.http_port, raw)[0].startswith(b"HTTP/1.1 400")


def compressed(encoding: str, body: bytes) -> bytes:
    if encoding == "gzip":
        half = len(body) // 2  # two members, as `cat a.gz b.gz` makes
        return gzip.compress(body[:half]) + gzip.compress(body[half:])
    if encoding == "deflate":
        return zlib.compress(body)
    # Two frames, as a streaming compressor may write.
    return zstd.compress(body[:10]) + zstd.compress(body[10:])


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_content_encodings_decoded_whole(running: Running, encoding: str) -> None:
    status, _, _ = running.post(compressed(encoding, protobuf_body(5)), {"Content-Encoding": encoding})
    assert status == 200
    assert len(running.sink.rows) == 5


def test_gzip_with_trailing_garbage_is_400(running: Running) -> None:
    body = gzip.compress(protobuf_body(2)) + b"garbage"
    assert running.post(body, {"Content-Encoding": "gzip"})[0] == 400
    assert running.sink.rows == []


def test_refusals_are_logged_with_reason_rate_limited(running: Running, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="otel_llm.receiver")
    for _ in range(5):
        assert running.post(b"x", {"Content-Type": "text/plain"})[0] == 415
    assert running.post(protobuf_body(1), {"authorization": f"Bearer wrong-{TOKEN}"})[0] == 401
    lines = [record.getMessage() for record in caplog.records if record.name == "otel_llm.receiver"]
    assert len([line for line in lines if "415" in line]) == 1  # the other four within the interval
    assert any("text/plain" in line for line in lines)
    assert any("401" in line and "bearer token" in line for line in lines)
    assert not any(TOKEN in line for line in lines)
