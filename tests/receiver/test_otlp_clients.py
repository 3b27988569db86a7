"""The official OTel Python OTLP exporters (gRPC and HTTP) → ``otel-llm serve`` → rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.exporter.spans import ANTHROPIC_SDK, OPENINFERENCE, OPENLLMETRY, OURS
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import attributes as attr

from .conftest import AUTH, Running

# Billing and agent context set once per service, on the resource (e.g. OTEL_RESOURCE_ATTRIBUTES).
RESOURCE = Resource.create(
    {
        "service.name": "gateway",
        attr.BILLING_CUSTOMER_ID: "cust-from-resource",
        attr.BILLING_PLAN_TYPE: "pro",
        attr.AGENT_ID: "agent-from-resource",
        attr.AGENT_TAGS: ("edge", "eu"),
        attr.IS_BYOK: True,
    }
)


def exporter_for(running: Running, transport: str, **options):
    if transport == "grpc":
        return GrpcExporter(endpoint=running.grpc_endpoint, insecure=True, headers=AUTH, **options)
    return HttpExporter(endpoint=running.http_url, headers=AUTH, **options)


def send(exporter, attributes: dict, name: str = "chat gpt-4o", resource: Resource = RESOURCE, error: bool = False):
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("otel_llm.test", "1.0")
    with tracer.start_as_current_span("agent step"):
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        span.add_event("gen_ai.choice", {"index": 0})
        if error:
            span.record_exception(TimeoutError("upstream timed out"))
            span.set_status(Status(StatusCode.ERROR, "upstream timed out"))
        span.end()
        context = span.get_span_context()
    provider.shutdown()
    return context


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_our_instrumentor_span(running: Running, transport: str) -> None:
    context = send(exporter_for(running, transport), OURS)
    rows = running.sink.rows
    assert len(rows) == 1, "the parent 'agent step' span is not an LLM span: no row for it"
    row = rows[0]
    assert row["trace_id"] == f"{context.trace_id:032x}" and row["span_id"] == f"{context.span_id:016x}"
    assert row["parent_span_id"] != ""
    assert (row["provider"], row["request_model"], row["response_model"]) == ("openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert (row["prompt_tokens"], row["completion_tokens"], row["cached_input_tokens"]) == (1200, 0, 1000)
    assert row["cost_usd"] == Decimal("0.00175")
    assert row["finish_reason"] == "stop" and row["is_stream"] is True and row["ttft_ms"] == 250.0
    # Span attributes win over the resource's; the resource fills what the span lacks.
    assert row["customer_id"] == "acme" and row["agent_id"] == "agent-1"
    assert row["billing_plan_type"] == "pro"
    assert row["service_name"] == "gateway"
    assert row["span_attributes"]["custom.tag"] == "kept"
    assert '"content": "hi"' in row["request_json"]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_context_from_resource_attributes(running: Running, transport: str) -> None:
    send(exporter_for(running, transport), ANTHROPIC_SDK, name="chat claude-sonnet-4-5")
    [row] = running.sink.rows
    assert row["customer_id"] == "cust-from-resource" and row["billing_plan_type"] == "pro"
    assert row["agent_id"] == "agent-from-resource" and row["agent_tags"] == ("edge", "eu")
    assert row["is_byok"] is True
    # The Anthropic SDK's own span: its input already includes cache reads and writes.
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1500, 50, 1550)
    assert (row["cached_input_tokens"], row["cache_write_tokens"]) == (200, 300)
    assert row["cost_usd"] is not None and row["cost_usd"] > 0


def test_openllmetry_and_openinference_spans(running: Running) -> None:
    exporter = exporter_for(running, "http", compression=Compression.Gzip)
    send(exporter, OPENLLMETRY, name="anthropic.chat")
    send(exporter_for(running, "grpc"), OPENINFERENCE, name="ChatCompletion")
    openllmetry, openinference = sorted(running.sink.rows, key=lambda row: row["provider"])
    assert (openllmetry["provider"], openllmetry["prompt_tokens"], openllmetry["completion_tokens"]) == (
        "anthropic",
        110,
        5,
    )
    assert openllmetry["cached_input_tokens"] == 100
    assert (openinference["provider"], openinference["request_model"]) == ("openai", "gpt-4o-mini")
    assert (openinference["prompt_tokens"], openinference["cached_input_tokens"]) == (40, 32)
    assert openinference["cost_usd"] is not None


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_error_span_and_array_attributes(running: Running, transport: str) -> None:
    attributes = {**OURS, attr.ERROR_TYPE: "TimeoutError", "custom.ints": (1, 2, 3)}
    send(exporter_for(running, transport), attributes, error=True)
    [row] = running.sink.rows
    assert row["is_error"] is True and row["error_type"] == "TimeoutError"
    assert row["error_message"] == "upstream timed out"
    assert row["span_attributes"]["custom.ints"] == "[1, 2, 3]"
    assert row["agent_tags"] == ("triage", "beta")


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_wrong_token_is_refused_and_writes_nothing(running: Running, transport: str) -> None:
    headers = {"authorization": "Bearer wrong"}
    if transport == "grpc":
        exporter = GrpcExporter(endpoint=running.grpc_endpoint, insecure=True, headers=headers, timeout=5)
    else:
        exporter = HttpExporter(endpoint=running.http_url, headers=headers, timeout=5)
    provider = TracerProvider(resource=RESOURCE)
    span = provider.get_tracer("t").start_span("chat gpt-4o", attributes=OURS)
    span.end()
    assert exporter.export([span]) is SpanExportResult.FAILURE
    assert running.sink.rows == []
    counters = running.receiver.ingestor.counters()
    assert counters.get("http_401", 0) + counters.get("grpc_unauthenticated", 0) == 1
