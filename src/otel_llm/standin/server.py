"""A small threaded HTTP server on loopback that answers with JSON or Server-Sent Events."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or None


@dataclass
class JSONResponse:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SSEResponse:
    """``events`` are (event name or None, data) pairs.

    ``delay_s`` sleeps before each event (slow streams); ``break_after`` drops the connection
    after that many events without finishing the body (broken streams).
    """

    events: Iterable[tuple[str | None, str]]
    delay_s: float = 0.0
    break_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], "JSONResponse | SSEResponse"]


class _QuietServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent clients (a connection pool
    # opening 16 sockets at once) would see connections reset before they are accepted.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading a stream early closes the socket under us: not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class StandinServer:
    """Serve ``handler`` on 127.0.0.1 in a background thread; records every request it got.

    ``provider``: the provider this stand-in answers as.  Once started, calls to it are recorded
    and priced as that provider's (``otel_llm.pricing.declare_provider``, what
    ``OTEL_LLM_PROVIDERS`` does for a gateway); without it a loopback server is self-hosted.
    """

    def __init__(self, handler: Handler, port: int = 0, provider: str | None = None) -> None:
        self.handler = handler
        self.provider = provider
        self.requests: list[Request] = []
        self._httpd = _QuietServer(("127.0.0.1", port), _make_request_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="standin", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StandinServer":
        self._thread.start()
        if self.provider:
            from otel_llm.pricing.providers import declare_provider

            declare_provider(self.base_url, self.provider)
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "StandinServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _make_request_handler(server: StandinServer) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers, body and stream events go out in separate small writes; without this,
            # Nagle's algorithm holds each until the client's delayed ACK (~40 ms on loopback).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by design
            pass

        def do_GET(self) -> None:  # noqa: N802
            self._serve()

        def do_POST(self) -> None:  # noqa: N802
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            request = Request(self.command, self.path, dict(self.headers.items()), body)
            server.requests.append(request)
            response = server.handler(request)
            if isinstance(response, SSEResponse):
                self._send_sse(response)
            else:
                self._send_json(response)

        def _send_json(self, response: JSONResponse) -> None:
            payload = json.dumps(response.body).encode()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _send_sse(self, response: SSEResponse) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            # A client that stops reading early (break, close()) raises ConnectionError here,
            # which _QuietServer treats as the ordinary end of a stream.
            self._write_events(response)

        def _write_events(self, response: SSEResponse) -> None:
            for index, (event, data) in enumerate(response.events):
                if response.break_after is not None and index >= response.break_after:
                    # Close mid-body: the client sees an incomplete chunked response.
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if response.delay_s:
                    time.sleep(response.delay_s)
                text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
                chunk = text.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")

    return RequestHandler
