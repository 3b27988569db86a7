"""OTLP/HTTP: ``POST /v1/traces`` (protobuf or JSON, optionally compressed) and ``GET /health``.

Bodies come with ``Content-Length`` or ``Transfer-Encoding: chunked`` (the JavaScript exporters
stream theirs), under the same size limits either way.

A stdlib ``ThreadingHTTPServer``: one thread per connection, keep-alive (HTTP/1.1) so exporters
reuse their connection, a socket timeout so a client that stalls mid-body is dropped instead of
holding a thread forever.  Response codes follow the OTLP/HTTP spec: 200 with an
``ExportTraceServiceResponse`` (partial success included), 400 with a ``google.rpc.Status`` for bad
data, 401 without the bearer token, 413 / 415 for size and media type, 429 / 503 with
``Retry-After`` when the client should retry.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.receiver import decode
from otel_llm.receiver.ingest import ExportFailed, Ingestor, Overloaded

logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
HEALTH_PATH = "/health"
RETRY_AFTER_S = 5
# google.rpc.Code values used in Status bodies.
_RPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 429: 8, 503: 14}


# One thread per connection: the cap keeps a flood of idle or slow connections from exhausting
# threads and memory.  Connections over it get an immediate 503 with Retry-After.
MAX_CONNECTIONS = 256
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n" % RETRY_AFTER_S
)


class OTLPHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog of 5 resets connections when many collector workers
    # connect at once; the connection cap below answers them with 503 instead.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        ingestor: Ingestor,
        *,
        health: Callable[[], dict],
        max_body_bytes: int,
        max_decompressed_bytes: int,
        socket_timeout_s: float = 30.0,
        reuse_port: bool = False,
    ) -> None:
        self.reuse_port = reuse_port
        self.ingestor = ingestor
        self.health = health
        self.max_body_bytes = max_body_bytes
        self.max_decompressed_bytes = max_decompressed_bytes
        self.socket_timeout_s = socket_timeout_s
        self._connection_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # Workers of one `serve --workers N` each bind the port; the kernel spreads connections.
        # Set here: socketserver's allow_reuse_port exists only from Python 3.11.
        if self.reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def process_request(self, request, client_address) -> None:  # noqa: ANN001 - stdlib signature
        if not self._connection_slots.acquire(blocking=False):
            self.ingestor.count("http_connections_refused")
            try:
                request.sendall(_BUSY_RESPONSE)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:  # noqa: ANN001
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connection_slots.release()

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - stdlib signature
        # Resets and timeouts from clients are routine for a network service; log briefly.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OTLPHTTPServer
    server_version = "otel-llm"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout_s
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?", 1)[0] != HEALTH_PATH:
            self._reply_status(404, f"no such path {self.path!r}", decode.JSON)
            return
        body = json.dumps({"status": "ok", **self.server.health()}).encode()
        self._reply(200, body, decode.JSON)

    def _method_not_allowed(self) -> None:
        # The stdlib would answer 501, a 5xx; this is the client's mistake.
        self.close_connection = True  # any body was not read
        self._reply_status(405, f"{self.command} not allowed: POST {TRACES_PATH}, GET {HEALTH_PATH}", decode.PROTOBUF)

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _method_not_allowed  # noqa: N815 - stdlib naming

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        ingestor = self.server.ingestor
        # Answer in the request's encoding when it is one we speak, protobuf otherwise.
        try:
            kind = decode.media_type(self.headers.get("Content-Type"))
        except decode.UnsupportedMediaType:
            kind = decode.PROTOBUF
        body_read = False
        try:
            if self.path.split("?", 1)[0] != TRACES_PATH:
                raise _NotFound(f"no such path {self.path!r}; POST to {TRACES_PATH}")
            if not ingestor.authorized(self.headers.get("Authorization")):
                raise _Unauthorized("missing or wrong bearer token")
            kind = decode.media_type(self.headers.get("Content-Type"))
            body = self._read_body()
            body_read = True
            body = decode.decompress(
                body, self.headers.get("Content-Encoding"), self.server.max_decompressed_bytes
            )
            outcome = ingestor.ingest(decode.parse(body, kind))
        except decode.RequestError as exc:
            if not body_read:
                # Part of the body may still be on the socket: this connection cannot be reused.
                self.close_connection = True
            ingestor.refused(f"http_{exc.status}", f"OTLP/HTTP {exc.status}", str(exc), self.client_address[0])
            self._reply_status(exc.status, str(exc), kind)
            return
        except Overloaded as exc:
            ingestor.refused("http_429", "OTLP/HTTP 429", str(exc), self.client_address[0])
            self._reply_status(429, str(exc), kind, retry=True)
            return
        except ExportFailed as exc:
            ingestor.refused("http_503", "OTLP/HTTP 503", str(exc), self.client_address[0])
            self._reply_status(503, str(exc), kind, retry=True)
            return
        response = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.rejected_spans = outcome.rejected
            response.partial_success.error_message = outcome.error_message
        self._reply(200, _encode(response, kind), kind)

    def _read_body(self) -> bytes:
        codings = [
            coding.strip().lower()
            for header in self.headers.get_all("Transfer-Encoding", [])
            for coding in header.split(",")
            if coding.strip()
        ]
        if codings:
            if codings != ["chunked"]:
                raise decode.BadRequest(f"unsupported Transfer-Encoding {', '.join(codings)[:60]!r}: use chunked")
            if "Content-Length" in self.headers:
                # Both framings at once is how requests are smuggled past proxies (RFC 9112
                # section 6.3): chunked wins, and the connection is not trusted for another request.
                self.close_connection = True
            return decode.read_chunked_body(self.rfile, self.server.max_body_bytes)
        lengths = self.headers.get_all("Content-Length")
        if not lengths:
            raise _LengthRequired("send Content-Length or Transfer-Encoding: chunked")
        return decode.read_body(self.rfile, decode.content_length(lengths), self.server.max_body_bytes)

    def _reply_status(self, status: int, message: str, kind: str, retry: bool = False) -> None:
        self._reply(status, decode.status_body(message, _RPC_CODES.get(status, 2), kind), kind, retry)

    def _reply(self, status: int, body: bytes, kind: str, retry: bool = False) -> None:
        try:
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if retry:
                self.send_header("Retry-After", str(RETRY_AFTER_S))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The client left before reading its answer; nothing else to do for it.
            self.close_connection = True


class _LengthRequired(decode.RequestError):
    status = 411


class _NotFound(decode.RequestError):
    status = 404


class _Unauthorized(decode.RequestError):
    status = 401


def _encode(response: ExportTraceServiceResponse, kind: str) -> bytes:
    if kind == decode.JSON:
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()
