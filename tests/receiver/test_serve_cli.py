"""``otel-llm serve`` as a real process over the embedded chDB store, fed by the official
OTLP exporters, stopped with SIGTERM, read back with ``otel-llm query``.

Subprocesses because chDB admits one data directory per process and the test process may
already hold another one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from tests.exporter.spans import ANTHROPIC_SDK, OPENINFERENCE, OURS
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_llm import attributes as attr

from .payloads import llm_spans
from .test_otlp_clients import RESOURCE, send

TOKEN = "cli-token-456"
OTEL_LLM = [sys.executable, "-m", "otel_llm.cli"]


def run_cli(args: list[str], env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(OTEL_LLM + args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "OTEL_LLM_CLICKHOUSE_URL": f"chdb://{tmp_path / 'db'}",
        "OTEL_LLM_HOME": str(tmp_path / "home"),
        "OTEL_LLM_RECEIVER_TOKEN": TOKEN,
    }


def start_serve(env: dict, *flags: str) -> tuple[subprocess.Popen, int, int]:
    process = subprocess.Popen(
        OTEL_LLM + ["serve", "--http-port", "0", "--grpc-port", "0", *flags],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        found = re.search(r"OTLP/HTTP port (\d+), OTLP/gRPC port (\d+)", line)
        if found:
            return process, int(found.group(1)), int(found.group(2))
    raise AssertionError(f"serve exited without listening: {process.wait()}")


def stop_serve(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 0, rest
    return rest


def query(env: dict, sql: str) -> list[dict]:
    done = run_cli(["query", "--format", "json", sql], env)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_serve_end_to_end_into_embedded_store(env: dict) -> None:
    process, http_port, grpc_port = start_serve(env)
    try:
        auth = {"authorization": f"Bearer {TOKEN}"}
        url = f"http://127.0.0.1:{http_port}/v1/traces"
        ours = send(HttpExporter(endpoint=url, headers=auth, compression=Compression.Gzip), OURS)
        grpc = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, headers=auth)
        anthropic = send(grpc, ANTHROPIC_SDK, name="chat claude-sonnet-4-5")
        send(HttpExporter(endpoint=url, headers=auth), OPENINFERENCE, name="ChatCompletion")
        wrong = HttpExporter(endpoint=url, headers={"authorization": "Bearer x"})
        assert wrong.export(llm_spans(3)) is SpanExportResult.FAILURE
        wrong_grpc = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=5)
        assert wrong_grpc.export(llm_spans(3)) is SpanExportResult.FAILURE
    finally:
        log = stop_serve(process)
    assert "SIGTERM, flushing" in log

    rows = query(
        env,
        "SELECT span_id, provider, prompt_tokens, completion_tokens, cached_input_tokens, cache_write_tokens, "
        "cost_usd, customer_id, billing_plan_type, agent_id, agent_tags, is_byok, service_name "
        "FROM llm_traces FINAL ORDER BY provider, span_id",
    )
    assert len(rows) == 3, "unauthenticated requests wrote nothing"
    by_span = {row["span_id"]: row for row in rows}
    mine = by_span[f"{ours.span_id:016x}"]
    assert (mine["provider"], mine["prompt_tokens"], mine["cached_input_tokens"]) == ("openai", 1200, 1000)
    assert Decimal(mine["cost_usd"]) == Decimal("0.00175")
    assert mine["customer_id"] == "acme" and mine["billing_plan_type"] == "pro"  # span, then resource
    sdk = by_span[f"{anthropic.span_id:016x}"]
    assert (sdk["prompt_tokens"], sdk["completion_tokens"], sdk["cache_write_tokens"]) == (1500, 50, 300)
    assert sdk["customer_id"] == RESOURCE.attributes[attr.BILLING_CUSTOMER_ID]
    assert sdk["agent_tags"] == ["edge", "eu"] and sdk["is_byok"] is True and sdk["service_name"] == "gateway"
    assert Decimal(sdk["cost_usd"]) > 0


def test_non_loopback_without_token_is_refused(env: dict) -> None:
    env = {k: v for k, v in env.items() if k != "OTEL_LLM_RECEIVER_TOKEN"}
    done = run_cli(["serve", "--host", "0.0.0.0", "--http-port", "0", "--grpc-port", "0"], env, timeout=30)
    assert done.returncode == 2
    assert "refusing to listen on '0.0.0.0' without a bearer token" in done.stderr


@pytest.mark.parametrize("transport", ["HTTP", "gRPC"])
def test_a_port_in_use_is_a_one_line_error_naming_it(env: dict, transport: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        flags = ["--http-port", port, "--grpc-port", "off"] if transport == "HTTP" else ["--http-port", "0", "--grpc-port", port]
        done = run_cli(["serve", *flags], env, timeout=60)
    assert done.returncode == 1
    # grpcio's C core may log its own line first; ours is the last, and the only traceback-free one.
    assert done.stderr.strip().splitlines()[-1].startswith("otel-llm: ") and "Traceback" not in done.stderr
    assert f"cannot listen for OTLP/{transport} on 127.0.0.1:{port}" in done.stderr


def test_help_names_every_env_var(env: dict) -> None:
    done = run_cli(["serve", "--help"], env)
    assert done.returncode == 0
    for name in ("HOST", "HTTP_PORT", "GRPC_PORT", "TOKEN", "MAX_BODY_BYTES", "MAX_DECOMPRESSED_BYTES",
                 "MAX_SPANS_PER_REQUEST", "MAX_ATTRIBUTES_PER_REQUEST", "MAX_MEMORY_BYTES",
                 "FORWARD_ENDPOINT", "FORWARD_PROTOCOL", "WORKERS"):
        assert f"OTEL_LLM_RECEIVER_{name}" in " ".join(done.stdout.split())
