"""OTLP/HTTP request bodies → ``ExportTraceServiceRequest``, with hard size limits.

Everything a client controls is bounded: the bytes read off the socket (``max_body_bytes``) and
the bytes a compressed body may inflate to (``max_decompressed_bytes``, enforced while
decompressing, so a gzip bomb costs at most that much memory).  Decoding is all-or-nothing:
any error raises before a single span is handed on.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, BinaryIO

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_llm.receiver import wire

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_READ_CHUNK = 64 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer, as Content-Encoding: gzip means


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


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > max_bytes:
            raise TooLarge(f"body exceeds the {max_bytes}-byte limit")
        return body
    if encoding != "gzip":
        raise UnsupportedMediaType(f"unsupported Content-Encoding {content_encoding!r}: use gzip")
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        # max_length stops inflation one byte past the cap, however far the body could expand.
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest(f"gzip body is corrupt: {exc}") from None
    if len(data) > max_bytes:
        raise TooLarge(f"decompressed body exceeds the {max_bytes}-byte limit")
    if not inflater.eof:
        raise BadRequest("gzip body is truncated")
    return data


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
