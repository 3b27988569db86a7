"""OTLP/HTTP request bodies → ``ExportTraceServiceRequest``, with hard size limits.

Everything a client controls is bounded: the bytes read off the socket (``max_body_bytes``) and
the bytes a compressed body may inflate to (``max_decompressed_bytes``, enforced while
decompressing, so a gzip bomb costs at most that much memory).  Decoding is all-or-nothing:
any error raises before a single span is handed on.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any, BinaryIO

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_llm.receiver import wire

try:  # Python 3.14's own zstd; before it the backport (a dependency of clickhouse-connect)
    from compression import zstd
except ImportError:
    from backports import zstd

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_READ_CHUNK = 64 * 1024
_MAX_LINE = 4096  # a chunk-size or trailer line
_MAX_TRAILER_LINES = 64
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DECODERS = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),  # gzip header and trailer
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),  # RFC 9110: same as gzip
    "deflate": lambda: zlib.decompressobj(zlib.MAX_WBITS),  # the zlib format, as HTTP means it
    "zstd": zstd.ZstdDecompressor,
}


class RequestError(Exception):
    """A request the receiver refuses; ``status`` is the HTTP status to answer with."""

    status = 400


class BadRequest(RequestError):
    status = 400


class TooLarge(RequestError):
    status = 413


class UnsupportedMediaType(RequestError):
    status = 415


def media_type(content_type: str | None) -> str:
    """The request's encoding, by the spec's two media types (parameters like charset ignored)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in (PROTOBUF, JSON):
        return kind
    raise UnsupportedMediaType(
        f"unsupported Content-Type {content_type!r}: send {PROTOBUF} or {JSON}"
    )


def content_length(values: list[str]) -> int:
    """The body length the ``Content-Length`` header(s) give, or BadRequest.

    Only ASCII digits count: ``int()`` would also take Unicode digits, signs, spaces and ``_``.
    Repeated headers (or a comma list) must agree, as RFC 9112 section 6.3 asks.
    """
    lengths = {value.strip() for header in values for value in header.split(",")}
    if len(lengths) != 1 or not _DIGITS.fullmatch(next(iter(lengths))):
        raise BadRequest(f"Content-Length {', '.join(values)[:40]!r} is not one decimal number")
    return int(lengths.pop())


def read_body(stream: BinaryIO, length: int, max_body_bytes: int) -> bytes:
    """Exactly ``length`` bytes from the socket, or BadRequest if the client stops early."""
    if length > max_body_bytes:
        raise TooLarge(f"body of {length} bytes exceeds the {max_body_bytes}-byte limit")
    chunks = []
    remaining = length
    while remaining:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            raise BadRequest(f"body ended after {length - remaining} of {length} bytes")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_chunked_body(stream: BinaryIO, max_body_bytes: int) -> bytes:
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 section 7.1), at most ``max_body_bytes``.

    Chunk extensions and trailer fields are read and ignored; each line is bounded, and so is
    the number of trailer lines, so a client cannot make the receiver buffer without limit.
    """
    chunks = []
    total = 0
    while True:
        size_field = _line(stream).split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_field):
            raise BadRequest(f"chunk size {size_field[:20]!r} is not a hexadecimal number")
        size = int(size_field, 16)
        if size == 0:
            break
        total += size
        if total > max_body_bytes:
            raise TooLarge(f"chunked body exceeds the {max_body_bytes}-byte limit")
        chunks.append(read_body(stream, size, max_body_bytes))
        if _line(stream) != b"":
            raise BadRequest("chunk data is not followed by CRLF")
    for _ in range(_MAX_TRAILER_LINES):
        if _line(stream) == b"":
            return b"".join(chunks)
    raise BadRequest("too many trailer fields after the chunked body")


def _line(stream: BinaryIO) -> bytes:
    line = stream.readline(_MAX_LINE + 1)
    if not line.endswith(b"\n"):
        raise BadRequest("chunked body ended early or has a line over the limit")
    return line.rstrip(b"\r\n")


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body with its ``Content-Encoding`` undone, inflating to at most ``max_bytes``.

    OTLP names gzip; deflate and zstd are the other codings collectors send.  A body of several
    members (gzip) or frames (zstd), which their tools write by appending, is decoded whole.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > max_bytes:
            raise TooLarge(f"body exceeds the {max_bytes}-byte limit")
        return body
    decoder = _DECODERS.get(encoding)
    if decoder is None:
        raise UnsupportedMediaType(
            f"unsupported Content-Encoding {content_encoding!r}: use {', '.join(sorted(_DECODERS))}"
        )
    parts = []
    produced = 0
    rest = body
    while True:  # one member (frame) per turn
        inflater = decoder()
        try:
            # max_length stops inflation one byte past the cap, however far the body could expand.
            part = inflater.decompress(rest, max_bytes - produced + 1)
        except (zlib.error, zstd.ZstdError) as exc:
            raise BadRequest(f"{encoding} body is corrupt: {exc}") from None
        produced += len(part)
        if produced > max_bytes:
            raise TooLarge(f"decompressed body exceeds the {max_bytes}-byte limit")
        if not inflater.eof:
            raise BadRequest(f"{encoding} body is truncated")
        parts.append(part)
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)


def parse(body: bytes, kind: str) -> Any:
    """The request as a :mod:`wire` message (span attributes still bytes, decoded on conversion)."""
    if kind == PROTOBUF:
        try:
            return wire.ExportTraceServiceRequest.FromString(body)
        except (DecodeError, ValueError, RuntimeError, RecursionError) as exc:
            raise BadRequest(f"body is not a valid ExportTraceServiceRequest: {exc}") from None
    request = ExportTraceServiceRequest()
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    try:
        _hex_ids_to_base64(document)
        # Unknown fields are ignored, as the spec asks of receivers, for forward compatibility.
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not a valid OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return wire.ExportTraceServiceRequest.FromString(request.SerializeToString())


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(document: Any) -> None:
    """OTLP/JSON writes ids as hex where the proto3 JSON mapping expects base64; translate them.

    Only the id fields of spans and links are touched, in place, before ``ParseDict``.
    """
    if not isinstance(document, dict):
        raise BadRequest("top-level JSON value must be an object")
    for resource_spans in _list(document, "resourceSpans"):
        for scope_spans in _list(resource_spans, "scopeSpans"):
            for span in _list(scope_spans, "spans"):
                _convert_ids(span)
                for link in _list(span, "links"):
                    _convert_ids(link)


def _list(parent: Any, key: str) -> list:
    if not isinstance(parent, dict):
        raise BadRequest(f"expected a JSON object holding {key!r}")
    items = parent.get(key) or []
    if not isinstance(items, list):
        raise BadRequest(f"{key!r} must be an array")
    return items


def _convert_ids(holder: Any) -> None:
    if not isinstance(holder, dict):
        raise BadRequest("spans and links must be JSON objects")
    for key in _ID_FIELDS:
        value = holder.get(key)
        if not value:
            continue
        if not isinstance(value, str):
            raise BadRequest(f"{key} must be a hex string")
        try:
            holder[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
        except ValueError:
            raise BadRequest(f"{key} {value[:40]!r} is not hex") from None


def status_body(message: str, code: int, kind: str) -> bytes:
    """A google.rpc.Status body in the request's encoding, as the spec asks for failures."""
    status = Status(code=code, message=message)
    if kind == JSON:
        return json_format.MessageToJson(status).encode()
    return status.SerializeToString()
