"""A running ``otel-llm serve`` (in-process, ephemeral ports) over the real LLMTraceExporter."""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from otel_llm.exporter import LLMTraceExporter
from otel_llm.receiver import Receiver, ReceiverConfig

from tests.rows import as_dicts

TOKEN = "test-token-123"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@dataclass
class RowSink:
    """A storage writer keeping submitted batches, to see exactly what one request wrote."""

    batches: list[list[dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fail: bool = False

    def submit(self, rows: list[dict]) -> None:
        if self.fail:
            raise ConnectionError("storage down")
        with self.lock:
            self.batches.append(as_dicts(rows))

    @property
    def rows(self) -> list[dict]:
        with self.lock:
            return [row for batch in self.batches for row in batch]

    def force_flush(self, timeout_s: float | None = None) -> bool:
        return True

    def shutdown(self, timeout_s: float | None = None) -> None:
        pass


@dataclass
class Running:
    receiver: Receiver
    sink: Any

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver.http_port}/v1/traces"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.receiver.grpc_port}"

    def post(self, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/traces"):
        """One raw POST; returns (status, headers, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.receiver.http_port, timeout=10)
        try:
            sent = {"Content-Type": "application/x-protobuf", **AUTH, **(headers or {})}
            connection.request("POST", path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def get(self, path: str):
        connection = http.client.HTTPConnection("127.0.0.1", self.receiver.http_port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def start(sink: Any, **config: Any) -> Receiver:
    options = {"http_port": 0, "grpc_port": 0, "token": TOKEN, **config}
    exporter = LLMTraceExporter(writer=sink, forward_to=None)
    return Receiver(ReceiverConfig(**options), exporter).start()


@pytest.fixture
def running() -> Iterator[Running]:
    sink = RowSink()
    receiver = start(sink)
    try:
        yield Running(receiver, sink)
    finally:
        receiver.stop()
