"""Spans of one batch that describe one provider call become one row (``otel_llm.storage.calls``)."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

from otel_llm.exporter import LLMTraceExporter
from otel_llm.storage import values

# OpenLLMetry-JS over the Anthropic SDK: its span carries the messages, no response id, raw input.
OPENLLMETRY = {
    "gen_ai.provider.name": "anthropic",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-haiku-4-5",
    "gen_ai.response.model": "claude-haiku-4-5",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 20,
    "gen_ai.usage.cache_read.input_tokens": 2000,
    "gen_ai.usage.cache_creation.input_tokens": 1500,
    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
}
# The SDK's own span, inside it: response id, the 5m / 1h split, inclusive input, no content.
SDK = {
    "gen_ai.provider.name": "anthropic",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-haiku-4-5",
    "gen_ai.response.model": "claude-haiku-4-5",
    "gen_ai.response.id": "msg_1",
    "gen_ai.usage.input_tokens": 3600,
    "gen_ai.usage.output_tokens": 20,
    "gen_ai.usage.cache_read.input_tokens": 2000,
    "gen_ai.usage.cache_write.input_tokens": 1500,
    "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 1000,
    "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 500,
}


class Sink:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def submit(self, rows) -> None:
        self.rows.extend(values.coerce_row(row)._asdict() for row in rows)

    def force_flush(self, timeout_s=None) -> bool:
        return True

    def shutdown(self, timeout_s=None) -> None:
        pass


def export_one_batch(make_spans) -> list[dict]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    make_spans(provider)
    provider.shutdown()
    sink = Sink()
    exporter = LLMTraceExporter(writer=sink, forward_to=None)
    try:
        exporter.export(memory.get_finished_spans())
    finally:
        exporter.shutdown()
    return sink.rows


def _span(provider, scope: str, name: str, attributes: dict):
    return provider.get_tracer(scope, "1.0").start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def test_instrumentation_span_around_the_sdk_span_is_one_row() -> None:
    def spans(provider):
        with provider.get_tracer("app").start_as_current_span("agent run"):
            with _span(provider, "@traceloop/instrumentation-anthropic", "chat claude-haiku-4-5", OPENLLMETRY):
                with _span(provider, "com.anthropic.sdk.typescript", "anthropic.messages.create", SDK):
                    pass

    [row] = export_one_batch(spans)
    # The SDK's row (nearest the provider), with the messages only the outer span had.
    assert (row["span_name"], row["response_id"]) == ("anthropic.messages.create", "msg_1")
    assert (row["prompt_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (3600, 2000, 1500)
    assert row["usage_details"] == {"cache_write_5m": 1000, "cache_write_1h": 500}
    assert '"content": "hi"' in row["request_json"]
    assert row["cost_usd"] is not None


def test_span_around_two_retried_calls_bills_the_two_calls() -> None:
    def spans(provider):
        with _span(provider, "@traceloop/instrumentation-anthropic", "chat claude-haiku-4-5", OPENLLMETRY):
            for response_id in ("msg_1", "msg_2"):
                with _span(provider, "com.anthropic.sdk.typescript", "anthropic.messages.create", {**SDK, "gen_ai.response.id": response_id}):
                    pass

    rows = export_one_batch(spans)
    assert sorted(row["response_id"] for row in rows) == ["msg_1", "msg_2"]
    assert all(row["request_json"] == "" for row in rows)  # which call had the messages is unknown


def test_sibling_spans_with_one_response_id_keep_the_most_complete() -> None:
    bare = {"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat", "gen_ai.response.id": "msg_1"}

    def spans(provider):
        with provider.get_tracer("app").start_as_current_span("agent run"):
            with _span(provider, "some.framework", "chat", bare):
                pass
            with _span(provider, "com.anthropic.sdk.python", "chat claude-haiku-4-5", SDK):
                pass

    [row] = export_one_batch(spans)
    assert (row["span_name"], row["prompt_tokens"]) == ("chat claude-haiku-4-5", 3600)


def test_calls_of_other_traces_are_never_merged() -> None:
    def spans(provider):
        for _ in range(2):
            with _span(provider, "com.anthropic.sdk.python", "chat", SDK):
                pass

    assert len(export_one_batch(spans)) == 2
