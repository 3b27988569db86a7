"""Request bodies for protocol tests: real SDK spans encoded by the official OTLP encoder."""

from __future__ import annotations

from tests.exporter.spans import OURS
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind


def llm_spans(count: int, resource: Resource | None = None) -> list:
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "svc"}))
    tracer = provider.get_tracer("otel_llm.test")
    spans = []
    for _ in range(count):
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=OURS)
        span.end()
        spans.append(span)
    return spans


def request(count: int = 2) -> ExportTraceServiceRequest:
    return encode_spans(llm_spans(count))


def protobuf_body(count: int = 2) -> bytes:
    return request(count).SerializeToString()
