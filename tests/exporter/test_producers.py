"""Each producer's spans, as its real instrumentation writes them, read under its own convention.

Attribute names and values are those of the producers' sources (versions in docs/exporter.md); the
Node.js producers are also run for real in tests/receiver/test_node_clients.py.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_llm import attributes as attr
from otel_llm.exporter.sources import normalize, producer_of

from tests.exporter.test_calls import export_one_batch

ANTHROPIC_USAGE = {
    "gen_ai.provider.name": "anthropic",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-haiku-4-5",
    "gen_ai.usage.output_tokens": 5,
    "gen_ai.usage.cache_read.input_tokens": 900,
    "gen_ai.usage.cache_creation.input_tokens": 100,
}


def scope(name: str, version: str | None = None) -> InstrumentationScope:
    return InstrumentationScope(name, version)


def input_tokens(attributes: dict, in_scope: InstrumentationScope | None = None) -> int:
    return normalize(attributes, in_scope)[attr.USAGE_INPUT_TOKENS]


def test_openllmetry_js_anthropic_input_excludes_cache_whatever_the_numbers() -> None:
    ollm = scope("@traceloop/instrumentation-anthropic", "0.27.0")
    assert producer_of(ANTHROPIC_USAGE, ollm) == "openllmetry-js"
    # The case: raw input 10 with 900 read and 100 written is 1010 in all.
    assert input_tokens({**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 10}, ollm) == 1010
    # The numbers alone could not tell 2000 + 1000 apart from an inclusive 2000; the scope does.
    assert input_tokens({**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 2000}, ollm) == 3000


def test_unknown_producer_decided_by_the_numbers() -> None:
    assert input_tokens({**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 10}) == 1010
    assert input_tokens({**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 2000}) == 2000


@pytest.mark.parametrize("name", ["com.anthropic.sdk.typescript", "com.anthropic.sdk.python", "com.anthropic.sdk.python.bedrock"])
def test_anthropic_sdk_spans_already_include_cache(name: str) -> None:
    span = {**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 1010}
    del span["gen_ai.usage.cache_creation.input_tokens"]
    span[attr.USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC] = 100
    out = normalize(span, scope(name, "1.17.0"))
    assert (out[attr.USAGE_INPUT_TOKENS], out[attr.USAGE_CACHE_CREATION_INPUT_TOKENS]) == (1010, 100)


def test_anthropic_sdk_calls_that_are_not_billed_are_no_rows() -> None:
    count_tokens = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-haiku-4-5",
                    "anthropic.message.count_tokens.input_tokens": 100}
    assert normalize(count_tokens, scope("com.anthropic.sdk.typescript")) is None


def test_logfire_anthropic_convention_changed_in_4_31() -> None:
    span = {"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-haiku-4-5", "logfire.msg_template": "x",
            "gen_ai.usage.input_tokens": 2000, "gen_ai.usage.output_tokens": 5,
            "gen_ai.usage.raw": json.dumps({"cache_read_input_tokens": 900, "cache_creation_input_tokens": 100}),
            "request_data": {"model": "claude-haiku-4-5"}}
    assert input_tokens(span, scope("logfire", "4.30.2")) == 3000
    assert input_tokens(span, scope("logfire", "4.31.0")) == 2000
    out = normalize(span, scope("logfire", "4.31.0"))
    assert (out[attr.PROVIDER_NAME], out[attr.OPERATION_NAME]) == ("anthropic", "chat")
    assert json.loads(out[attr.REQUEST_JSON]) == {"model": "claude-haiku-4-5"}
    assert normalize({"logfire.msg_template": "a user span"}, scope("logfire", "4.31.0")) is None


OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "llm.system": "anthropic",
    "llm.provider": "anthropic",
    "llm.model_name": "claude-haiku-4-5-20251001",
    "llm.request.model_name": "claude-haiku-4-5",
    "llm.response.model_name": "claude-haiku-4-5-20251001",
    "llm.invocation_parameters": json.dumps({"model": "claude-haiku-4-5", "max_tokens": 100, "stream": True}),
    "llm.finish_reason": "end_turn",
    "llm.token_count.prompt": 1010,
    "llm.token_count.completion": 5,
    "llm.token_count.prompt_details.cache_read": 900,
    "llm.token_count.prompt_details.cache_write": 100,
    "input.value": json.dumps({"model": "claude-haiku-4-5"}),
    "input.mime_type": "application/json",
    "output.value": json.dumps({"id": "msg_1", "model": "claude-haiku-4-5-20251001"}),
    "output.mime_type": "application/json",
}


def test_openinference_models_finish_reason_stream_and_response_id() -> None:
    out = normalize(OPENINFERENCE, scope("@arizeai/openinference-instrumentation-anthropic", "0.2.8"))
    assert (out[attr.REQUEST_MODEL], out[attr.RESPONSE_MODEL]) == ("claude-haiku-4-5", "claude-haiku-4-5-20251001")
    assert out[attr.RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert out[attr.REQUEST_STREAM] is True
    assert out[attr.RESPONSE_ID] == "msg_1"
    assert (out[attr.USAGE_INPUT_TOKENS], out[attr.USAGE_CACHE_READ_INPUT_TOKENS]) == (1010, 900)
    # Older OpenInference: the one model name, the response's once known.
    older = {k: v for k, v in OPENINFERENCE.items() if not k.startswith(("llm.request.", "llm.response."))}
    out = normalize(older)
    assert (out[attr.REQUEST_MODEL], out[attr.RESPONSE_MODEL]) == ("claude-haiku-4-5-20251001",) * 2
    assert normalize({**OPENINFERENCE, "openinference.span.kind": "AGENT"}) is None


AI_SDK_6_DO_GENERATE = {
    "operation.name": "ai.generateText.doGenerate",
    "ai.operationId": "ai.generateText.doGenerate",
    "ai.model.provider": "anthropic.messages",
    "ai.model.id": "claude-haiku-4-5",
    "gen_ai.system": "anthropic.messages",
    "gen_ai.request.model": "claude-haiku-4-5",
    "gen_ai.request.max_tokens": 100,
    "ai.prompt.messages": json.dumps([{"role": "user", "content": [{"type": "text", "text": "hi"}]}]),
    "ai.response.text": "hello",
    "ai.response.id": "msg_1",
    "ai.response.model": "claude-haiku-4-5",
    "ai.response.finishReason": "stop",
    "ai.response.providerMetadata": json.dumps({"anthropic": {"usage": {"cache_creation": {
        "ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40}}, "cacheCreationInputTokens": 100}}),
    "ai.usage.inputTokens": 1010,
    "ai.usage.inputTokenDetails.noCacheTokens": 10,
    "ai.usage.inputTokenDetails.cacheReadTokens": 900,
    "ai.usage.inputTokenDetails.cacheWriteTokens": 100,
    "ai.usage.outputTokens": 5,
    "gen_ai.usage.input_tokens": 1010,
    "gen_ai.usage.output_tokens": 5,
}


def test_vercel_ai_sdk_provider_call_span() -> None:
    out = normalize(AI_SDK_6_DO_GENERATE, scope("ai"))
    assert (out[attr.PROVIDER_NAME], out[attr.OPERATION_NAME], out[attr.REQUEST_STREAM]) == ("anthropic", "chat", False)
    assert (out[attr.USAGE_INPUT_TOKENS], out[attr.USAGE_CACHE_READ_INPUT_TOKENS], out[attr.USAGE_CACHE_CREATION_INPUT_TOKENS]) == (1010, 900, 100)
    assert out[attr.USAGE_DETAILS] == {"cache_write_5m": 60, "cache_write_1h": 40}
    assert (out[attr.RESPONSE_ID], out[attr.RESPONSE_FINISH_REASONS]) == ("msg_1", ("stop",))
    assert json.loads(out[attr.REQUEST_JSON])["messages"][0]["role"] == "user"
    assert json.loads(out[attr.RESPONSE_JSON])["text"] == "hello"
    stream = {**AI_SDK_6_DO_GENERATE, "ai.operationId": "ai.streamText.doStream", "ai.response.msToFirstChunk": 250.0,
              "ai.model.provider": "openai.chat", "gen_ai.system": "openai.chat"}
    out = normalize(stream)
    assert (out[attr.PROVIDER_NAME], out[attr.REQUEST_STREAM], out[attr.RESPONSE_TIME_TO_FIRST_CHUNK]) == ("openai", True, 0.25)


def test_vercel_ai_sdk_5_anthropic_input_is_raw() -> None:
    span = {k: v for k, v in AI_SDK_6_DO_GENERATE.items() if not k.startswith(("ai.usage", "gen_ai.usage"))}
    span.update({"ai.usage.inputTokens": 10, "ai.usage.cachedInputTokens": 900, "ai.usage.outputTokens": 5})
    out = normalize(span)
    # Cache writes only in the provider metadata; input raw, so both caches are added.
    assert (out[attr.USAGE_INPUT_TOKENS], out[attr.USAGE_CACHE_CREATION_INPUT_TOKENS]) == (1010, 100)


@pytest.mark.parametrize(
    "operation_id", ["ai.generateText", "ai.streamText", "ai.toolCall", "ai.generateObject", "ai.embedMany"]
)
def test_vercel_ai_sdk_wrapper_and_tool_spans_are_no_rows(operation_id: str) -> None:
    assert normalize({**AI_SDK_6_DO_GENERATE, "ai.operationId": operation_id}) is None


@pytest.mark.parametrize(
    "name, span_scope",
    [
        ("invoke_agent", scope("gen_ai")),  # AI SDK 7 @ai-sdk/otel
        ("agent_step", scope("gen_ai")),
        ("execute_tool", scope("gen_ai")),
        ("invoke_agent", scope("pydantic-ai", "1.0.0")),
        ("execute_tool", None),
        ("invoke_workflow", None),
        ("create_agent", None),
    ],
)
def test_agent_step_tool_workflow_spans_are_no_rows(name: str, span_scope) -> None:
    # An agent run carries the summed usage of its calls: as a row it would bill them twice.
    span = {**ANTHROPIC_USAGE, "gen_ai.operation.name": name, "gen_ai.usage.input_tokens": 1010}
    assert normalize(span, span_scope) is None


def test_ai_sdk_7_chat_span_stream_and_ttft() -> None:
    span = {**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 1010, "gen_ai.client.operation.time_to_first_chunk": 0.2}
    out = normalize(span, scope("gen_ai"))
    assert (out[attr.REQUEST_STREAM], out[attr.RESPONSE_TIME_TO_FIRST_CHUNK], out[attr.USAGE_INPUT_TOKENS]) == (True, 0.2, 1010)


def test_openllmetry_workflow_and_task_spans_are_no_rows() -> None:
    span = {"traceloop.span.kind": "workflow", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"}
    assert normalize(span) is None
    old = {"gen_ai.system": "Anthropic", "llm.request.type": "chat", "gen_ai.request.model": "claude-haiku-4-5",
           "gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5,
           "gen_ai.usage.cache_read_input_tokens": 900, "gen_ai.usage.cache_creation_input_tokens": 100}
    out = normalize(old, scope("opentelemetry.instrumentation.anthropic", "0.30.0"))
    assert (out[attr.PROVIDER_NAME], out[attr.USAGE_INPUT_TOKENS]) == ("anthropic", 1010)


@pytest.mark.parametrize(
    "name, version",
    [("opentelemetry.instrumentation.openai_v2", "2.1b0"), ("@traceloop/instrumentation-openai", "0.27.0"), ("some.genai.producer", None)],
)
def test_deprecated_service_tier_name_is_read(name: str, version: str | None) -> None:
    """``gen_ai.openai.response.service_tier``: what OTel's openai-v2 writes by default and
    OpenLLMetry-JS always, before ``openai.response.service_tier``; the call is priced at it."""
    span = {"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5.4-mini",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
            "gen_ai.openai.response.service_tier": "flex"}
    assert normalize(span, scope(name, version))[attr.OPENAI_RESPONSE_SERVICE_TIER] == "flex"


def test_deprecated_service_tier_prices_the_row_at_that_tier() -> None:
    attributes = {"gen_ai.system": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5.4-mini",
                  "gen_ai.response.model": "gpt-5.4-mini", "gen_ai.usage.input_tokens": 1000,
                  "gen_ai.usage.output_tokens": 100, "gen_ai.openai.response.service_tier": "flex"}

    def spans(provider):
        with provider.get_tracer("opentelemetry.instrumentation.openai_v2", "2.1b0").start_as_current_span("chat gpt-5.4-mini", attributes=attributes):
            pass

    [row] = export_one_batch(spans)
    # gpt-5.4-mini on flex: 1000 x $0.375 / M + 100 x $2.25 / M
    assert (row["service_tier"], row["cost_usd"]) == ("flex", Decimal("0.000600000"))


def test_vercel_ai_sdk_anthropic_fast_mode_from_the_provider_metadata() -> None:
    metadata = json.dumps({"anthropic": {"usage": {"input_tokens": 10, "speed": "fast"}}})
    for span, in_scope in ((AI_SDK_6_DO_GENERATE, scope("ai")), ({**ANTHROPIC_USAGE, "gen_ai.usage.input_tokens": 1010}, scope("gen_ai"))):
        out = normalize({**span, "ai.response.providerMetadata": metadata}, in_scope)
        assert out[attr.ANTHROPIC_SPEED] == "fast"
