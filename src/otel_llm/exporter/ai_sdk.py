"""The Vercel AI SDK's spans translated to ours (see ``foreign`` for the other producers).

Two telemetries: ``ai.*`` spans (``ai`` 4-6, and AI SDK 7's ``@ai-sdk/otel`` ``LegacyOpenTelemetry``),
where the ``ai.<function>.do<Call>`` spans are the provider calls and ``ai.<function>`` spans wrap
them; and AI SDK 7's ``@ai-sdk/otel`` ``OpenTelemetry``, semconv spans with a few extras.  Names are
those of ``ai`` 6.0 and 7.0 and ``@ai-sdk/otel`` 1.0 (``dist/index.js``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from otel_llm import attributes as attr
from otel_llm.exporter.foreign import AI_OPERATION_ID, DEPRECATED_SERVICE_TIER, TOTAL_TOKENS, json_object

# ai.<function>.do<Call> spans are the provider calls; ai.<function> spans wrap them (and sum them).
_AI_CALLS = {".doGenerate": "chat", ".doStream": "chat", ".doEmbed": "embeddings", ".doRerank": "rerank"}
_AI_PROVIDER = "ai.model.provider"
# First match wins: (name, or name prefix when it ends with "."), each with our provider name.
_AI_PROVIDERS = (
    ("google.vertex", "gcp.vertex_ai"),
    ("google.generative-ai", "gcp.gemini"),
    ("google-vertex", "gcp.vertex_ai"),
    ("amazon-bedrock", "aws.bedrock"),
    ("azure-openai", "azure.ai.openai"),
    ("azure", "azure.ai.openai"),
    ("mistral", "mistral_ai"),
    ("xai", "x_ai"),
)
# Our name -> the AI SDK's names, first present wins (newest first).
_AI_VALUES = {
    attr.REQUEST_MODEL: ("gen_ai.request.model", "ai.model.id"),
    attr.RESPONSE_MODEL: ("gen_ai.response.model", "ai.response.model"),
    attr.RESPONSE_ID: ("gen_ai.response.id", "ai.response.id"),
    attr.USAGE_INPUT_TOKENS: ("ai.usage.inputTokens", "ai.usage.promptTokens", "gen_ai.usage.input_tokens"),
    attr.USAGE_OUTPUT_TOKENS: ("ai.usage.outputTokens", "ai.usage.completionTokens", "gen_ai.usage.output_tokens"),
    attr.USAGE_CACHE_READ_INPUT_TOKENS: ("ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens"),
    attr.USAGE_CACHE_CREATION_INPUT_TOKENS: ("ai.usage.inputTokenDetails.cacheWriteTokens",),
    attr.USAGE_REASONING_OUTPUT_TOKENS: ("ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens"),
    TOTAL_TOKENS: ("ai.usage.totalTokens", "ai.usage.tokens"),
}
# Present from AI SDK 6 on, when inputTokens became the total (cache included) for every provider.
_AI_INPUT_DETAILS = "ai.usage.inputTokenDetails.noCacheTokens"
_AI_GENAI_TTFT_S = "gen_ai.client.operation.time_to_first_chunk"
_AI_FINISH_REASON = "ai.response.finishReason"
_AI_TTFT_MS = ("ai.response.msToFirstChunk", "ai.stream.msToFirstChunk")
_AI_PROVIDER_METADATA = "ai.response.providerMetadata"
# What a semconv span may carry beyond the names we read as they are.
_SEMCONV_EXTRAS = frozenset((_AI_GENAI_TTFT_S, _AI_PROVIDER_METADATA, DEPRECATED_SERVICE_TIER))
# Request / response parts: AI SDK name -> key in the row's request / response JSON.
_AI_REQUEST_PARTS = (("ai.prompt.messages", "messages"), ("ai.prompt.tools", "tools"), ("ai.prompt.toolChoice", "toolChoice"))
_AI_RESPONSE_PARTS = (
    ("ai.response.text", "text"),
    ("ai.response.reasoning", "reasoning"),
    ("ai.response.toolCalls", "toolCalls"),
    ("ai.response.object", "object"),
    (_AI_PROVIDER_METADATA, "providerMetadata"),
)
_AI_CONSUMED = frozenset(
    {_AI_PROVIDER, "gen_ai.system", _AI_FINISH_REASON, "gen_ai.response.finish_reasons", _AI_INPUT_DETAILS}
    | {name for names in _AI_VALUES.values() for name in names}
    | set(_AI_TTFT_MS)
    | {name for name, _ in _AI_REQUEST_PARTS + _AI_RESPONSE_PARTS}
)



def from_vercel_ai(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    operation_id = attributes.get(AI_OPERATION_ID)
    call = str(operation_id)[str(operation_id).rfind(".") :] if operation_id else ""
    operation = _AI_CALLS.get(call)
    if operation is None:
        return None  # ai.generateText, ai.streamText, ai.toolCall...: wrappers and tools, not calls
    get = attributes.get
    out = {key: value for key, value in attributes.items() if key not in _AI_CONSUMED}
    out.setdefault(attr.OPERATION_NAME, operation)
    provider = get(_AI_PROVIDER) or get("gen_ai.system")
    if provider:
        out.setdefault(attr.PROVIDER_NAME, ai_sdk_provider(str(provider)))
    for ours, names in _AI_VALUES.items():
        for name in names:
            value = get(name)
            if value is not None:
                out.setdefault(ours, value)
                break
    metadata = json_object(get(_AI_PROVIDER_METADATA))
    _usage_from_provider_metadata(out, metadata)
    if _AI_INPUT_DETAILS not in attributes and "anthropic" in str(provider):
        # AI SDK 4 and 5 pass Anthropic's raw input_tokens on: the cache is not in it.
        _add_cache_to_input(out)
    reasons = get("gen_ai.response.finish_reasons") or get(_AI_FINISH_REASON)
    if reasons:
        out.setdefault(attr.RESPONSE_FINISH_REASONS, (reasons,) if isinstance(reasons, str) else tuple(reasons))
    out.setdefault(attr.REQUEST_STREAM, call == ".doStream")
    for name in _AI_TTFT_MS:
        ttft_ms = get(name)
        if isinstance(ttft_ms, (int, float)):
            out.setdefault(attr.RESPONSE_TIME_TO_FIRST_CHUNK, ttft_ms / 1000.0)
            break
    request = _parts_json(attributes, _AI_REQUEST_PARTS)
    if request:
        out.setdefault(attr.REQUEST_JSON, request)
    response = _parts_json(attributes, _AI_RESPONSE_PARTS)
    if response:
        out.setdefault(attr.RESPONSE_JSON, response)
    return out


def ai_sdk_provider(name: str) -> str:
    """An AI SDK provider string (``openai.chat``, ``anthropic.messages``) as a semconv provider."""
    lower = name.lower()
    for prefix, ours in _AI_PROVIDERS:
        if lower == prefix or lower.startswith((prefix + ".", prefix + "-")):
            return ours
    return lower.split(".", 1)[0]


def from_genai_semconv(attributes: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Semconv spans (under the current name of the deprecated service tier); the extras
    ``@ai-sdk/otel``'s OpenTelemetry integration (AI SDK 7) adds."""
    if attr.OPERATION_NAME not in attributes:
        return None
    if attributes.keys().isdisjoint(_SEMCONV_EXTRAS):
        return attributes
    out = dict(attributes)
    tier = out.pop(DEPRECATED_SERVICE_TIER, None)
    if tier is not None:
        out.setdefault(attr.OPENAI_RESPONSE_SERVICE_TIER, tier)
    ttft = out.pop(_AI_GENAI_TTFT_S, None)
    if isinstance(ttft, (int, float)):
        # Only streamed calls have a first chunk.
        out.setdefault(attr.RESPONSE_TIME_TO_FIRST_CHUNK, ttft)
        out.setdefault(attr.REQUEST_STREAM, True)
    metadata = json_object(out.pop(_AI_PROVIDER_METADATA, None))
    _usage_from_provider_metadata(out, metadata)
    return out


def _usage_from_provider_metadata(out: dict[str, Any], metadata: Mapping[str, Any]) -> None:
    """Cache counts only the provider metadata has (AI SDK 4 / 5), Anthropic's 5m / 1h split and
    its fast mode."""
    anthropic = metadata.get("anthropic")
    if isinstance(anthropic, Mapping):
        usage = json_object(anthropic.get("usage"))  # the response's own usage, as Anthropic sent it
        if usage.get("speed") == "fast":
            out.setdefault(attr.ANTHROPIC_SPEED, "fast")
        split = json_object(usage.get("cache_creation"))
        details = {
            name: split[key]
            for key, name in (("ephemeral_5m_input_tokens", "cache_write_5m"), ("ephemeral_1h_input_tokens", "cache_write_1h"))
            if isinstance(split.get(key), int)
        }
        if details:
            out.setdefault(attr.USAGE_DETAILS, details)
        write = anthropic.get("cacheCreationInputTokens")
        if isinstance(write, int):
            out.setdefault(attr.USAGE_CACHE_CREATION_INPUT_TOKENS, write)
        read = anthropic.get("cacheReadInputTokens")
        if isinstance(read, int):
            out.setdefault(attr.USAGE_CACHE_READ_INPUT_TOKENS, read)
    openai = metadata.get("openai")
    if isinstance(openai, Mapping):
        for key, ours in (("cachedPromptTokens", attr.USAGE_CACHE_READ_INPUT_TOKENS), ("reasoningTokens", attr.USAGE_REASONING_OUTPUT_TOKENS)):
            value = openai.get(key)
            if isinstance(value, int):
                out.setdefault(ours, value)


def _add_cache_to_input(out: dict[str, Any]) -> None:
    input_tokens = out.get(attr.USAGE_INPUT_TOKENS)
    if isinstance(input_tokens, int):
        for key in (attr.USAGE_CACHE_READ_INPUT_TOKENS, attr.USAGE_CACHE_CREATION_INPUT_TOKENS):
            value = out.get(key)
            input_tokens += value if isinstance(value, int) else 0
        out[attr.USAGE_INPUT_TOKENS] = input_tokens


def _parts_json(attributes: Mapping[str, Any], parts: tuple[tuple[str, str], ...]) -> str:
    """``{"key": value, ...}`` of the parts present, JSON texts embedded as JSON."""
    found = {}
    for name, key in parts:
        value = attributes.get(name)
        if value is None:
            continue
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        elif isinstance(value, tuple):
            value = [_maybe_json(item) for item in value]
        found[key] = value
    return json.dumps(found, ensure_ascii=False) if found else ""


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
