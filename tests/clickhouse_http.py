"""Test support: ClickHouse's HTTP interface on 127.0.0.1, served by chDB in a child process.

There is no ClickHouse server binary for these machines, so the remote path is tested against
this: the real ``clickhouse-connect`` client, unmodified, talking HTTP to the real engine. It
speaks what that client uses:

- the statement in the POST body, in the ``query`` URL parameter, or both (concatenated, as
  ClickHouse does); ``param_*`` query parameters; engine settings as URL parameters (applied with
  ``SET`` on a connection used for that one request);
- ``INSERT ... FORMAT <fmt>`` followed by the data, in the body or with the statement in the URL;
  any number of Native blocks (the engine parses the stream); chunked request bodies;
- request ``Content-Encoding`` lz4 (one LZ4 frame per block), zstd, gzip, deflate; response
  compression when the client sends ``enable_http_compression=1`` and ``Accept-Encoding``;
- ``X-ClickHouse-Summary``, ``-Format`` (only for result-producing statements), ``-Timezone``,
  ``-Query-Id``, ``-Exception-Code``; ``GET /ping``.

- one restricted user, ``NO_DDL_USER`` (HTTP basic auth, any password), whose statements run with
  the engine's ``allow_ddl = 0``: refused DDL with the engine's own error, as a user granted
  only SELECT and INSERT is on a server. Every other user is the default user;
- ``WRONG_PASSWORD`` refused for any user, as a server answers bad credentials (HTTP 401,
  ``AUTHENTICATION_FAILED``).

Not supported (the client does not need them here): sessions, ``compress=1``/``decompress=1``
(ClickHouse's own checksummed block compression), external data, progress headers.

It runs in a child process because chDB admits one data directory per process and the tests use
embedded stores of their own; ``stop()`` and ``start()`` on the same port simulate an outage.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# URL parameters the HTTP layer consumes itself; everything else that is not param_* is a setting.
HTTP_PARAMS = {
    "query", "database", "default_format", "query_id", "session_id", "session_timeout", "session_check",
    "user", "password", "compress", "decompress", "enable_http_compression", "wait_end_of_query",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "client_protocol_version",
    "cancel_http_readonly_queries_on_client_close", "buffer_size", "http_response_buffer_size",
}  # fmt: skip
RESULT_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN")
_INSERT_DATA = re.compile(rb"^(\s*INSERT\s+INTO\s.*?)\bFORMAT\s+(\w+)[ \t]*(?:\r?\n)?", re.IGNORECASE | re.DOTALL)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ERROR_CODE = re.compile(r"Code: (\d+)")
NO_DDL_USER = "inserter"
WRONG_PASSWORD = "wrong-password"


def decompress(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding == "lz4":
        # clickhouse-connect sends one LZ4 frame per block; lz4.frame.decompress stops after one.
        import lz4.frame

        out = []
        while data:
            decoder = lz4.frame.LZ4FrameDecompressor()
            out.append(decoder.decompress(data))
            data = decoder.unused_data
        return b"".join(out)
    if encoding == "zstd":
        from backports import zstd

        return zstd.decompress(data)
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def compress(data: bytes, accept: str) -> tuple[bytes, str | None]:
    offered = [e.split(";")[0].strip().lower() for e in accept.split(",")]
    for encoding in offered:
        if encoding == "lz4":
            import lz4.frame

            return lz4.frame.compress(data), "lz4"
        if encoding == "zstd":
            from backports import zstd

            return zstd.compress(data), "zstd"
        if encoding == "gzip":
            return gzip.compress(data), "gzip"
        if encoding == "deflate":
            return zlib.compress(data), "deflate"
    return data, None


def sql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class EngineError(Exception):
    pass


class Engine:
    """chDB behind a lock: the HTTP server is threaded, statements run one at a time."""

    def __init__(self, path: str):
        from chdb import session

        self.path = path
        self._session = session.Session(path)  # keeps the embedded engine up between requests
        self._lock = threading.Lock()

    def execute(self, sql: str, data: bytes | None, fmt: str, database: str, settings: dict, params: dict):
        import chdb

        if not _IDENT.match(database):
            raise EngineError(f"Code: 81. DB::Exception: Database {database} does not exist. (UNKNOWN_DATABASE)")
        with self._lock:
            # A connection per request, so USE and SET apply to this request only.
            conn = chdb.connect(self.path)
            try:
                conn.query(f"USE {database}", "TabSeparated")
                for name, value in settings.items():
                    if not _IDENT.match(name):
                        raise EngineError(f"Code: 115. DB::Exception: Unknown setting {name}. (UNKNOWN_SETTING)")
                    conn.query(f"SET {name} = {sql_literal(value)}", "TabSeparated")
                if data is not None:
                    with conn.send_insert(sql, fmt) as inserter:
                        inserter.append(data)
                        result = inserter.finish()
                    _check_all_written(data, fmt, result.rows_written)
                    return b"", {"written_rows": result.rows_written, "written_bytes": result.bytes_written}
                result = conn.query(sql, fmt, params=params)  # the engine's result object: bytes and stats
                summary = {"read_rows": result.rows_read(), "read_bytes": result.bytes_read()}
                return result.bytes(), summary
            except EngineError:
                raise
            except Exception as exc:
                raise EngineError(str(exc).removeprefix("Streaming insert finish failed: ")) from None
            finally:
                conn.close()


def _check_all_written(data: bytes, fmt: str, written: int) -> None:
    """chDB's streaming insert can report fewer rows written than sent, and no error, where a
    server refuses the insert (seen with TOO_MANY_PARTS on llm_traces). A client must not take
    such a batch for stored, so the fixture answers with an error for the ArrowStream batches
    it can count."""
    if fmt != "ArrowStream":
        return
    import pyarrow as pa

    sent = pa.ipc.open_stream(pa.py_buffer(data)).read_all().num_rows
    if written < sent:
        raise EngineError(f"Code: 1001. DB::Exception: the engine wrote {written} of {sent} rows and said nothing (fixture)")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clickhouse-connect's connection pool expects
    engine: Engine

    def log_message(self, *args) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path.rstrip("/") == "/ping":
            self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        self._handle(b"")

    def do_POST(self) -> None:
        self._handle(self._read_body())

    def _credentials(self, url_params: dict) -> tuple[str, str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password
        user = url_params.get("user") or self.headers.get("X-ClickHouse-User") or "default"
        return user, url_params.get("password") or self.headers.get("X-ClickHouse-Key") or ""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self, body: bytes) -> None:
        query_id = str(uuid.uuid4())
        url_params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        user, password = self._credentials(url_params)
        if password == WRONG_PASSWORD:
            message = (f"Code: 516. DB::Exception: {user}: Authentication failed: password is incorrect, or there "
                       "is no user with such name. (AUTHENTICATION_FAILED)\n")
            self._reply(401, message.encode(), {"X-ClickHouse-Exception-Code": "516", "X-ClickHouse-Query-Id": query_id})
            return
        try:
            body = decompress(body, self.headers.get("Content-Encoding", ""))
            sql, data, fmt = self._split(url_params.get("query", ""), body)
            if data is None:
                match = _TRAILING_FORMAT.search(sql)
                if match:
                    fmt, sql = match.group(1), sql[: match.start()]
                else:
                    fmt = url_params.get("default_format", "TabSeparated")
            params = {k[len("param_") :]: v for k, v in url_params.items() if k.startswith("param_")}
            settings = {k: v for k, v in url_params.items() if k not in HTTP_PARAMS and not k.startswith("param_")}
            if user == NO_DDL_USER:
                settings["allow_ddl"] = "0"
            database = url_params.get("database", "default")
            started = time.perf_counter_ns()
            output, summary = self.engine.execute(sql, data, fmt, database, settings, params)
        except (EngineError, ValueError) as exc:
            message = str(exc).strip()
            code = _ERROR_CODE.search(message)
            error_code = code.group(1) if code else "1001"
            self._reply(500, (message + "\n").encode(), {"X-ClickHouse-Exception-Code": error_code, "X-ClickHouse-Query-Id": query_id})
            return
        summary = {"read_rows": 0, "read_bytes": 0, "written_rows": 0, "written_bytes": 0, **summary}
        summary["elapsed_ns"] = time.perf_counter_ns() - started
        headers = {
            "Content-Type": "application/octet-stream",
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()}),
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": "chdb-http-fixture",
        }
        if data is None and sql.lstrip().split(None, 1)[:1] and sql.lstrip().split(None, 1)[0].upper() in RESULT_STATEMENTS:
            headers["X-ClickHouse-Format"] = fmt
        if url_params.get("enable_http_compression") == "1" and output:
            output, encoding = compress(output, self.headers.get("Accept-Encoding", ""))
            if encoding:
                headers["Content-Encoding"] = encoding
        self._reply(200, output, headers)

    @staticmethod
    def _split(url_query: str, body: bytes) -> tuple[str, bytes | None, str]:
        """(statement, insert data or None, insert format). ClickHouse reads the statement from
        the URL, the body, or the URL followed by the body; an INSERT's data starts right after
        its ``FORMAT name`` and the newline that ends the statement."""
        if url_query:
            match = _INSERT_DATA.match(url_query.encode())
            if match:
                return match.group(1).decode().strip(), body, match.group(2).decode()
            return (url_query + ("\n" + body.decode() if body else "")), None, ""
        match = _INSERT_DATA.match(body)
        if match:
            return match.group(1).decode().strip(), body[match.end() :], match.group(2).decode()
        return body.decode(), None, ""

    def _reply(self, status: int, payload: bytes, headers: dict) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class ClickHouseHTTP:
    """Parent-side handle: ``start()`` / ``stop()`` the child server; ``url`` for clients."""

    def __init__(self, data_path: Path, port: int = 0):
        self.data_path = data_path
        self.port = port
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://default:@127.0.0.1:{self.port}/default"

    def start(self, timeout_s: float = 30.0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(self.data_path), str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        line = self._proc.stdout.readline()  # "LISTENING <port>" once the socket is bound
        if not line.startswith("LISTENING") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"chDB HTTP fixture failed to start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(timeout=30)
            self._proc.stdout.close()
            self._proc = None


def serve(data_path: str, port: int) -> None:
    Handler.engine = Engine(data_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # an abrupt stop, like a crashed server
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
