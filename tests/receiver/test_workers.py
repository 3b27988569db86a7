"""``otel-llm serve --workers N``: real processes sharing the ports over the embedded chDB store.

Spans go over many connections and both transports, with the official OTLP exporters; every
span must land exactly once (counted without FINAL, so a duplicate would show), SIGTERM must
flush every worker, and /health must say which worker answered.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from .payloads import llm_spans
from .test_serve_cli import TOKEN, env, query, run_cli, start_serve  # noqa: F401  (env is a fixture)

AUTH = {"authorization": f"Bearer {TOKEN}"}


def start_workers(env: dict, workers: int) -> tuple[subprocess.Popen, int, int]:
    process, http_port, grpc_port = start_serve(env, "--workers", str(workers))
    assert health(http_port)["worker"]["workers"] == workers
    return process, http_port, grpc_port


def health(port: int) -> dict:
    # A new connection each time: the kernel picks the worker per connection.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/health")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def test_spans_over_many_connections_land_exactly_once_and_shutdown_flushes_every_worker(env: dict) -> None:
    process, http_port, grpc_port = start_workers(env, 2)
    sent: set[str] = set()
    try:
        pids = {health(http_port)["worker"]["pid"] for _ in range(40)}
        assert len(pids) == 2, "connections reach both workers"

        def export(index: int) -> set[str]:
            # A fresh exporter, so a fresh connection (and a worker chosen anew) per batch.
            if index % 4 == 3:
                exporter = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, headers=AUTH)
            else:
                exporter = HttpExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/traces", headers=AUTH)
            spans = llm_spans(25)
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            exporter.shutdown()
            return {f"{span.context.span_id:016x}" for span in spans}

        with ThreadPoolExecutor(8) as pool:
            for ids in pool.map(export, range(32)):
                sent |= ids
        seen = {health(http_port)["worker"]["index"]: health(http_port) for _ in range(40)}
        assert set(seen) == {0, 1}
    finally:
        process.send_signal(signal.SIGTERM)
        log = process.stderr.read()
        assert process.wait(timeout=120) == 0, log
    assert "SIGTERM, stopping the workers" in log

    # No FINAL: a span stored twice would be counted twice.
    [row] = query(env, "SELECT count() AS n, uniqExact(span_id) AS spans FROM llm_traces")
    assert (int(row["n"]), int(row["spans"])) == (len(sent), len(sent)) == (800, 800)
    stored = {row["span_id"] for row in query(env, "SELECT span_id FROM llm_traces")}
    assert stored == sent


def test_a_port_in_use_stops_serve_at_once(env: dict) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run_cli(["serve", "--workers", "2", "--http-port", port, "--grpc-port", "0"], env, timeout=60)
        assert done.returncode == 2
        assert f"cannot listen on 127.0.0.1 port {port}" in done.stderr and "Traceback" not in done.stderr


def test_a_single_receiver_does_not_share_its_grpc_port(env: dict) -> None:
    # grpcio sets SO_REUSEPORT by default: two receivers would silently split the traffic.
    process, _, grpc_port = start_workers(env, 2)
    try:
        done = run_cli(["serve", "--http-port", "0", "--grpc-port", str(grpc_port)], env, timeout=60)
        assert done.returncode != 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0


def test_a_worker_that_dies_stops_serve(env: dict) -> None:
    process, http_port, _ = start_workers(env, 2)
    try:
        victim = health(http_port)["worker"]["pid"]
        subprocess.run(["kill", "-KILL", str(victim)], check=True)
        assert process.wait(timeout=120) == 1
        assert re.search(rf"worker \d \(pid {victim}\) exited", process.stderr.read())
    finally:
        if process.poll() is None:
            process.kill()


def test_workers_stop_when_their_supervisor_is_killed(env: dict) -> None:
    process, http_port, _ = start_workers(env, 2)
    pids = {health(http_port)["worker"]["pid"] for _ in range(40)}
    process.kill()
    process.wait()
    deadline = time.monotonic() + 60
    while pids and time.monotonic() < deadline:
        pids = {pid for pid in pids if _alive(pid)}
        time.sleep(0.2)
    assert not pids, "workers outlived their supervisor"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("value", ["0", "-1"])
def test_workers_must_be_positive(env: dict, value: str) -> None:
    done = run_cli(["serve", "--workers", value, "--http-port", "0", "--grpc-port", "0"], env, timeout=30)
    assert done.returncode == 2 and "workers must be at least 1" in done.stderr
