"""200 / OK means durable: ``otel-llm serve`` killed with SIGKILL under load loses no span it
acknowledged.

Clients retry as the OTLP exporters do (a failed or refused request is sent again, to the
receiver restarted on the same port), and remember which spans were answered 200.  After the
kill and the restart every acknowledged span must be in the store, and in the end every span
sent once (the retries of a request the dead receiver had stored collapse by row id).
"""

from __future__ import annotations

import http.client
import signal
import threading
import time

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from .payloads import llm_spans
from .test_serve_cli import TOKEN, env, query, start_serve, stop_serve  # noqa: F401 - env: the fixture

CLIENTS = 4
REQUESTS_PER_CLIENT = 40
SPANS_PER_REQUEST = 25
ACKNOWLEDGED_BEFORE_KILL = 15  # requests; the kill comes while the clients are busy


class Client(threading.Thread):
    """Sends its requests in turn, each until answered 200 (retrying on errors and refusals)."""

    def __init__(self, bodies: list[tuple[bytes, list[str]]], port: list[int], deadline: float) -> None:
        super().__init__(daemon=True)
        self.bodies, self.port, self.deadline = bodies, port, deadline
        self.acknowledged: list[str] = []
        self.acknowledged_before_kill: list[str] = []
        self.killed = threading.Event()

    def run(self) -> None:
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"}
        for body, span_ids in self.bodies:
            while time.monotonic() < self.deadline:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port[0], timeout=10)
                    connection.request("POST", "/v1/traces", body=body, headers=headers)
                    status = connection.getresponse().status
                    connection.close()
                except OSError:
                    status = None
                if status == 200:
                    self.acknowledged.extend(span_ids)
                    if not self.killed.is_set():
                        self.acknowledged_before_kill.extend(span_ids)
                    break
                time.sleep(0.05)


def test_sigkill_under_load_loses_no_acknowledged_span(env: dict) -> None:
    requests = []
    for _ in range(CLIENTS * REQUESTS_PER_CLIENT):
        spans = llm_spans(SPANS_PER_REQUEST)
        span_ids = [f"{span.context.span_id:016x}" for span in spans]
        requests.append((encode_spans(spans).SerializeToString(), span_ids))
    process, http_port, _ = start_serve(env)
    port = [http_port]
    deadline = time.monotonic() + 90
    clients = [Client(requests[index::CLIENTS], port, deadline) for index in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        while sum(len(client.acknowledged) for client in clients) < ACKNOWLEDGED_BEFORE_KILL * SPANS_PER_REQUEST:
            assert time.monotonic() < deadline, "the receiver answered too few requests"
            time.sleep(0.01)
        for client in clients:
            client.killed.set()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        acknowledged = {span for client in clients for span in client.acknowledged_before_kill}
        assert all(client.is_alive() for client in clients), "the load was over before the kill"
        process, _, _ = start_serve(env, "--http-port", str(http_port))
        for client in clients:
            client.join(timeout=max(deadline - time.monotonic(), 0))
        assert not any(client.is_alive() for client in clients), "clients did not finish in time"
    finally:
        stop_serve(process)
    stored = {row["span_id"] for row in query(env, "SELECT span_id FROM llm_traces")}
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged spans lost"
    sent = {span for _, span_ids in requests for span in span_ids}
    assert stored == sent
    [row] = query(env, "SELECT count() AS rows FROM llm_traces FINAL")
    assert int(row["rows"]) == len(sent)
