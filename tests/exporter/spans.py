"""Spans as each producer writes them, made with a real OTel SDK TracerProvider."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_llm import attributes as attr

RESOURCE = Resource.create(
    {
        "service.name": "support-bot",
        "deployment.environment": "test",
        attr.ORGANIZATION_ID: "org-from-resource",
        attr.BILLING_PLAN_TYPE: "enterprise",
    }
)

# What our OpenAI instrumentor writes for a streamed chat call, per attributes.py.
OURS: dict[str, Any] = {
    attr.OPERATION_NAME: "chat",
    attr.PROVIDER_NAME: "openai",
    attr.REQUEST_MODEL: "gpt-4o",
    attr.RESPONSE_MODEL: "gpt-4o-2024-08-06",
    attr.RESPONSE_ID: "chatcmpl-123",
    attr.REQUEST_STREAM: True,
    attr.REQUEST_MAX_TOKENS: 256,
    attr.RESPONSE_FINISH_REASONS: ("stop", "length"),
    attr.RESPONSE_TIME_TO_FIRST_CHUNK: 0.25,
    attr.SERVER_ADDRESS: "api.openai.com",
    attr.SERVER_PORT: 443,
    attr.USAGE_INPUT_TOKENS: 1200,
    attr.USAGE_OUTPUT_TOKENS: 0,
    attr.USAGE_CACHE_READ_INPUT_TOKENS: 1000,
    attr.USAGE_REASONING_OUTPUT_TOKENS: 0,
    attr.USAGE_DETAILS: json.dumps({"audio_input": 3}),
    attr.COST_USD: "0.001750000",
    attr.COST_DETAILS: json.dumps({"input": "0.0005", "cache_read": "0.00125"}),
    attr.COST_PRICING_VERSION: "2026-11-01",
    attr.ORGANIZATION_ID: "org-1",
    attr.PROJECT_ID: "proj-1",
    attr.USER_ID: "user-1",
    attr.CONVERSATION_ID: "conv-1",
    attr.AGENT_ID: "agent-1",
    attr.AGENT_TAGS: ("triage", "beta"),
    attr.RUN_ID: "run-1",
    attr.STEP_ID: "step-1",
    attr.CALL_TYPE: "completion",
    attr.BILLING_COST_SOURCE: "platform",
    attr.BILLING_CUSTOMER_ID: "acme",
    attr.IS_BYOK: True,
    attr.HTTP_RESPONSE_STATUS_CODE: 200,
    attr.REQUEST_JSON: json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    attr.RESPONSE_JSON: json.dumps({"id": "chatcmpl-123", "choices": [{"message": {"content": "hello"}}]}),
    attr.LLM_CONFIG_JSON: json.dumps({"model": "gpt-4o", "max_tokens": 256, "stream": True}),
    "custom.tag": "kept",
}

# The Anthropic SDK 2.x's own span for messages.create (anthropic/_tracing.py SPAN_ATTRIBUTES,
# lib/_tracing/_response.py set_usage_sums: input already includes cache read + write).
ANTHROPIC_SDK: dict[str, Any] = {
    "server.address": "api.anthropic.com",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.request.max_tokens": 1024,
    "gen_ai.response.id": "msg_01",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.input_tokens": 1000 + 200 + 300,
    "gen_ai.usage.cache_read.input_tokens": 200,
    "gen_ai.usage.cache_write.input_tokens": 300,
    "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 100,
    "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 200,
    "gen_ai.usage.output_tokens": 50,
    "anthropic.message.stop_reason": "end_turn",
    "anthropic.request.id": "req_01",
    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "be brief"}]),
    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}]),
}

OPENLLMETRY: dict[str, Any] = {
    "gen_ai.system": "Anthropic",
    "llm.request.type": "chat",
    "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.prompt_tokens": 10,
    "gen_ai.usage.completion_tokens": 5,
    "gen_ai.usage.cache_read_input_tokens": 100,
    "gen_ai.usage.cache_creation_input_tokens": 0,
    "llm.usage.total_tokens": 115,
    "llm.is_streaming": False,
    "gen_ai.prompt.0.role": "system",
    "gen_ai.prompt.0.content": "be brief",
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": "hi",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "ok",
    "gen_ai.completion.0.finish_reason": "end_turn",
}

OPENINFERENCE: dict[str, Any] = {
    "openinference.span.kind": "LLM",
    "llm.provider": "openai",
    "llm.system": "openai",
    "llm.model_name": "gpt-4o-mini",
    "llm.token_count.prompt": 40,
    "llm.token_count.completion": 8,
    "llm.token_count.total": 48,
    "llm.token_count.prompt_details.cache_read": 32,
    "llm.token_count.completion_details.reasoning": 2,
    "llm.invocation_parameters": json.dumps({"temperature": 0.1}),
    "input.value": json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
    "input.mime_type": "application/json",
    "output.value": "hello there",
    "output.mime_type": "text/plain",
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "hi",
    "session.id": "sess-9",
}


def make_provider(max_attribute_length: int | None = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    limits = SpanLimits(max_attribute_length=max_attribute_length) if max_attribute_length else None
    provider = TracerProvider(resource=RESOURCE, span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def emit(
    attributes: dict[str, Any],
    *,
    name: str = "chat gpt-4o",
    error: Exception | None = None,
    provider: TracerProvider | None = None,
    parent: bool = False,
) -> ReadableSpan:
    """One finished span with ``attributes``; 2 s long; optionally a child and/or failed."""
    provider, exporter = (provider, None) if provider is not None else make_provider()
    tracer = provider.get_tracer("test")
    start = 1_763_000_000_000_000_000
    if parent:
        outer = tracer.start_span("agent step", start_time=start - 1000)
        from opentelemetry.trace import set_span_in_context

        context = set_span_in_context(outer)
    else:
        context = None
    span = tracer.start_span(name, context=context, kind=SpanKind.CLIENT, attributes=attributes, start_time=start)
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end(end_time=start + 2_000_000_000)
    if parent:
        outer.end()
    return span._readable_span()
