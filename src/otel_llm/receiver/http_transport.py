"""OTLP/HTTP: ``POST /v1/traces`` (protobuf or JSON, optionally compressed) and ``GET /health``.

Bodies come with ``Content-Length`` or ``Transfer-Encoding: chunked`` (the JavaScript exporters
stream theirs), under the same size limits either way.

A stdlib ``ThreadingHTTPServer``: one thread per connection, keep-alive (HTTP/1.1) so exporters
reuse their connection, and deadlines (headers, body, idle) so a client that stalls or trickles
cannot hold a thread.  Response codes follow the OTLP/HTTP spec: 200 with an
``ExportTraceServiceResponse`` (partial success included), 400 with a ``google.rpc.Status`` for bad
data, 401 without the bearer token, 405 / 408 / 413 / 415 for method, time, size and media type,
429 / 503 with ``Retry-After`` when the client should retry.  Every answer is one write, and
every refusal is logged (``refusals.py``).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.receiver import decode
from otel_llm.receiver.budget import Claim, Overloaded
from otel_llm.receiver.ingest import ExportFailed, Ingestor

logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
HEALTH_PATH = "/health"
RETRY_AFTER_S = 5
# google.rpc.Code values used in Status bodies.
_RPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 408: 4, 411: 3, 413: 8, 415: 3, 429: 8, 503: 14}


# One thread per connection: the cap keeps a flood of idle or slow connections from exhausting
# threads and memory.  Connections over it get an immediate 503 with Retry-After.  Slow clients
# cannot hold the slots for long (the deadlines below), and idle threads cost little, so the cap
# sits well above what a slowloris of a few hundred connections takes.
MAX_CONNECTIONS = 1024
# From a request's first byte, its request line and headers must be in within this, and then its
# body within BODY_DEADLINE_S: a client trickling a byte a second is cut off, not waited for.
HEADER_DEADLINE_S = 10.0
BODY_DEADLINE_S = 60.0
# How long, and how much, a closing connection's unread input is drained (shutdown_request).
LINGER_S = 1.0
LINGER_BYTES = 1 << 20
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

    def shutdown_request(self, request) -> None:  # noqa: ANN001 - stdlib signature
        # A refused request's unread rest (a body over the limit) would make closing the socket
        # reset the connection, and the client's TCP stack then discards our answer unread.  So
        # stop sending, read and drop what still comes for a moment, then close (a lingering close).
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_S)
            deadline = time.monotonic() + LINGER_S
            drained = 0
            while drained < LINGER_BYTES and time.monotonic() < deadline:
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - stdlib signature
        # Resets and timeouts from clients are routine for a network service; log briefly.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OTLPHTTPServer
    server_version = "otel-llm"
    sys_version = ""
    # Until the stdlib has parsed a request line (a refusal may come before it).
    requestline = command = path = ""

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout_s
        super().setup()
        # Answers go out in one write (_reply); without delay, not after the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = _DeadlineReader(self.connection, self.server.socket_timeout_s)
        self.rfile.close()  # the stdlib's reader, replaced by one that keeps the deadlines
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        # Between requests a kept-alive connection may idle (up to the socket timeout); the
        # header deadline starts with the request's first byte.
        self._reader.deadline = None
        self._reader.expired = False
        try:
            if not self.rfile.peek(1):
                self.close_connection = True
                return
        except OSError:
            self.close_connection = True
            return
        self._reader.deadline = time.monotonic() + HEADER_DEADLINE_S
        super().handle_one_request()  # closes the connection on a timeout
        if self._reader.expired:
            self._refuse(408, "request not received in time")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib's own refusals (a malformed request line, headers too long or too many):
        # answered like ours, in one write, logged; never a 5xx (it would answer 505 to an
        # HTTP/2 request line, which is the client's mistake too).
        self._refuse(code if 400 <= code < 500 else 400, message or HTTPStatus(code).phrase)

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a request refused before do_POST / do_GET, and close the connection."""
        self.close_connection = True
        self.server.ingestor.refused(f"http_{status}", f"OTLP/HTTP {status}", reason, self.address_string())
        self._reply_status(status, reason, decode.PROTOBUF)

    def __getattr__(self, name: str):
        # Any method without a do_ handler (HEAD, TRACE, CONNECT, made-up ones): the stdlib
        # would answer 501, a server error; it is the client's mistake.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?", 1)[0] != HEALTH_PATH:
            self._reply_status(404, f"no such path {self.path!r}", decode.JSON)
            return
        body = json.dumps({"status": "ok", **self.server.health()}).encode()
        self._reply(200, body, decode.JSON)

    def _method_not_allowed(self) -> None:
        self.close_connection = True  # any body was not read
        message = f"{str(self.command)[:20]!r} not allowed: POST {TRACES_PATH}, GET {HEALTH_PATH}"
        self._reply_status(405, message, decode.PROTOBUF)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._reader.deadline = time.monotonic() + BODY_DEADLINE_S
        ingestor = self.server.ingestor
        # Answer in the request's encoding when it is one we speak, protobuf otherwise.
        try:
            kind = decode.media_type(self.headers.get("Content-Type"))
        except decode.UnsupportedMediaType:
            kind = decode.PROTOBUF
        body_read = False
        peer = self.client_address[0]
        try:
            with ingestor.budget.claim() as claim:
                if self.path.split("?", 1)[0] != TRACES_PATH:
                    raise _NotFound(f"no such path {self.path!r}; POST to {TRACES_PATH}")
                if not ingestor.authorized(self.headers.get("Authorization")):
                    raise _Unauthorized("missing or wrong bearer token")
                kind = decode.media_type(self.headers.get("Content-Type"))
                body = self._read_body(claim)
                body_read = True
                body = decode.decompress(
                    body, self.headers.get("Content-Encoding"), self.server.max_decompressed_bytes, claim.add
                )
                outcome = ingestor.ingest_body(body, kind, claim)
                del body
        except decode.RequestError as exc:
            if not body_read:
                # Part of the body may still be on the socket: this connection cannot be reused.
                self.close_connection = True
            ingestor.refused(f"http_{exc.status}", f"OTLP/HTTP {exc.status}", str(exc), peer)
            self._reply_status(exc.status, str(exc), kind)
            return
        except Overloaded as exc:
            self.close_connection = self.close_connection or not body_read
            ingestor.refused("http_429", "OTLP/HTTP 429", str(exc), peer)
            self._reply_status(429, str(exc), kind, retry=True)
            return
        except ExportFailed as exc:
            ingestor.refused("http_503", "OTLP/HTTP 503", str(exc), peer)
            self._reply_status(503, str(exc), kind, retry=True)
            return
        response = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.rejected_spans = outcome.rejected
            response.partial_success.error_message = outcome.error_message
        self._reply(200, _encode(response, kind), kind)

    def _read_body(self, claim: Claim) -> bytes:
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
            return decode.read_chunked_body(self.rfile, self.server.max_body_bytes, claim.add)
        lengths = self.headers.get_all("Content-Length")
        if not lengths:
            raise _LengthRequired("send Content-Length or Transfer-Encoding: chunked")
        length = decode.content_length(lengths)
        if length > self.server.max_body_bytes:
            raise decode.TooLarge(f"body of {length} bytes exceeds the {self.server.max_body_bytes}-byte limit")
        claim.add(length)
        return decode.read_body(self.rfile, length, self.server.max_body_bytes)

    def _reply_status(self, status: int, message: str, kind: str, retry: bool = False) -> None:
        self._reply(status, decode.status_body(message, _RPC_CODES.get(status, 2), kind), kind, retry)

    def _reply(self, status: int, body: bytes, kind: str, retry: bool = False) -> None:
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            # Refused before its version was read, or an HTTP/0.9 request (which has no headers
            # either way): answered as HTTP/1.1, with headers, and closed.
            self.request_version = self.protocol_version
            self.close_connection = True
        try:
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if retry:
                self.send_header("Retry-After", str(RETRY_AFTER_S))
            if status == 405:
                self.send_header("Allow", "GET, POST")
            if self.close_connection:
                self.send_header("Connection", "close")
            # Headers and body in one write: two small writes wait out Nagle and the client's
            # delayed ACK (~40 ms an answer).
            self._headers_buffer.append(b"\r\n")
            self.wfile.write(b"".join(self._headers_buffer) + body)
            self._headers_buffer = []
        except OSError:
            # The client left before reading its answer; nothing else to do for it.
            self.close_connection = True


class _DeadlineReader(io.RawIOBase):
    """The connection's bytes, each read bounded by the idle timeout and by ``deadline``
    (monotonic time, or None): a per-read timeout alone lets a byte-a-second client go on forever."""

    def __init__(self, connection: socket.socket, idle_timeout_s: float) -> None:
        self._connection = connection
        self._idle_timeout_s = idle_timeout_s
        self.deadline: float | None = None
        self.expired = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - io signature
        timeout = self._idle_timeout_s
        bound_by_deadline = False
        if self.deadline is not None and self.deadline - time.monotonic() < timeout:
            timeout = self.deadline - time.monotonic()
            bound_by_deadline = True
            if timeout <= 0:
                self.expired = True
                raise TimeoutError("request not received in time")
        self._connection.settimeout(timeout)
        try:
            return self._connection.recv_into(buffer)
        except TimeoutError:
            self.expired = bound_by_deadline
            raise


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
