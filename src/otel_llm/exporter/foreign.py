"""Each foreign producer's attributes translated to ours, and the attribute families that name them.

Every ``from_*`` function takes a span's attributes and returns a new dict under our names (a key
with a column is replaced by ours, so it is not also kept among the leftovers), or ``None`` when
the span is not a call to a provider.  Token convention is left to :mod:`otel_llm.exporter.sources`,
except where a producer's own versions disagree and only its attributes can tell them apart.
Attribute names are the producers' own, read from their sources (versions in docs/exporter.md).
The Vercel AI SDK's spans are translated in :mod:`otel_llm.exporter.ai_sdk`.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from otel_llm import attributes as attr

# Not a semconv name; OpenLLMetry's total, also used for OpenInference's.  Only read when the
# span reports neither input nor output tokens.
TOTAL_TOKENS = "llm.usage.total_tokens"
# Attributes a producer sets when it cut its own payload attributes.
CONTENT_TRUNCATED_FLAGS = ("anthropic.content.truncated",)
# Payload attributes of foreign producers, offloaded like ours.
FOREIGN_PAYLOAD_ATTRIBUTES = ("input.value", "output.value", "ai.prompt.messages", "ai.response.text")

# --- Anthropic SDK (Python ``anthropic/lib/_tracing``, TypeScript ``internal/tracing.js``) -------
_ANTHROPIC_CACHE_WRITE = attr.USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC
# The semantic conventions' name before openai.response.service_tier (OTel's openai-v2
# instrumentation writes it unless told to use the latest names, OpenLLMetry-JS always).
DEPRECATED_SERVICE_TIER = "gen_ai.openai.response.service_tier"
_ANTHROPIC_STOP_REASON = "anthropic.message.stop_reason"
_ANTHROPIC_WRITE_5M = "anthropic.usage.cache_creation.ephemeral_5m_input_tokens"
_ANTHROPIC_WRITE_1H = "anthropic.usage.cache_creation.ephemeral_1h_input_tokens"
_ANTHROPIC_MARKERS = frozenset((_ANTHROPIC_CACHE_WRITE, _ANTHROPIC_STOP_REASON, _ANTHROPIC_WRITE_5M, _ANTHROPIC_WRITE_1H))

# --- OpenLLMetry (traceloop; Python ``opentelemetry-instrumentation-*``, JS ``@traceloop/*``) -----
_OLLM_SYSTEM = "gen_ai.system"
_OLLM_REQUEST_TYPE = "llm.request.type"
_OLLM_SPAN_KIND = "traceloop.span.kind"  # workflow / task / agent / tool: never a provider call
_OLLM_PROMPT_PREFIX = "gen_ai.prompt."
_OLLM_COMPLETION_PREFIX = "gen_ai.completion."
# OpenLLMetry names, old and new, -> ours, for values that only change name.
_OLLM_RENAMES = {
    "gen_ai.usage.prompt_tokens": attr.USAGE_INPUT_TOKENS,
    "gen_ai.usage.completion_tokens": attr.USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.cache_read_input_tokens": attr.USAGE_CACHE_READ_INPUT_TOKENS,
    "gen_ai.usage.cache_creation_input_tokens": attr.USAGE_CACHE_CREATION_INPUT_TOKENS,
    _ANTHROPIC_CACHE_WRITE: attr.USAGE_CACHE_CREATION_INPUT_TOKENS,
    "gen_ai.usage.reasoning_tokens": attr.USAGE_REASONING_OUTPUT_TOKENS,
    "llm.usage.reasoning_tokens": attr.USAGE_REASONING_OUTPUT_TOKENS,
    "gen_ai.usage.total_tokens": TOTAL_TOKENS,
    "llm.is_streaming": attr.REQUEST_STREAM,
    DEPRECATED_SERVICE_TIER: attr.OPENAI_RESPONSE_SERVICE_TIER,
}
_OLLM_OPERATIONS = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}

# --- OpenInference (Arize; Python ``openinference-instrumentation-*``, JS ``@arizeai/*``) --------
_OI_KIND = "openinference.span.kind"
_OI_CALL_KINDS = {"LLM": "chat", "EMBEDDING": "embeddings"}
_OI_INPUT_VALUE = "input.value"
_OI_OUTPUT_VALUE = "output.value"
_OI_INPUT_MIME = "input.mime_type"
_OI_OUTPUT_MIME = "output.mime_type"
_OI_MODEL = "llm.model_name"  # the requested model at the start, the response's once it is known
_OI_INVOCATION = "llm.invocation_parameters"
_OI_INPUT_MESSAGES_PREFIX = "llm.input_messages."
_OI_OUTPUT_MESSAGES_PREFIX = "llm.output_messages."
_OI_RENAMES = {
    "llm.request.model_name": attr.REQUEST_MODEL,
    "llm.response.model_name": attr.RESPONSE_MODEL,
    "llm.provider": attr.PROVIDER_NAME,
    "llm.token_count.prompt": attr.USAGE_INPUT_TOKENS,
    "llm.token_count.completion": attr.USAGE_OUTPUT_TOKENS,
    "llm.token_count.total": TOTAL_TOKENS,
    "llm.token_count.prompt_details.cache_read": attr.USAGE_CACHE_READ_INPUT_TOKENS,
    "llm.token_count.prompt_details.cache_write": attr.USAGE_CACHE_CREATION_INPUT_TOKENS,
    "llm.token_count.completion_details.reasoning": attr.USAGE_REASONING_OUTPUT_TOKENS,
    _OI_INVOCATION: attr.LLM_CONFIG_JSON,
}
_OI_DETAILS = {
    "llm.token_count.prompt_details.audio": "audio_input",
    "llm.token_count.prompt_details.cache_input": "cache_input",
    "llm.token_count.completion_details.audio": "audio_output",
}
_OI_DROPPED = frozenset((_OI_KIND, _OI_INPUT_MIME, _OI_OUTPUT_MIME, _OI_MODEL, "llm.system"))

# Vercel AI SDK spans: only what names them is here (the rest in ai_sdk.py).
AI_OPERATION_ID = "ai.operationId"

# --- Logfire (``logfire.instrument_openai`` / ``instrument_anthropic``) ---------------------------
_LOGFIRE_MARKERS = frozenset(("logfire.msg_template", "logfire.span_type", "logfire.json_schema"))
_LOGFIRE_PAYLOADS = (("request_data", attr.REQUEST_JSON), ("response_data", attr.RESPONSE_JSON))
_LOGFIRE_USAGE_RAW = "gen_ai.usage.raw"

# Attributes only one family writes: what names a producer when its scope does not.
FAMILY_MARKERS = (
    frozenset((AI_OPERATION_ID, _OI_KIND, _OLLM_REQUEST_TYPE, _OLLM_SPAN_KIND, "gen_ai.usage.prompt_tokens"))
    | _ANTHROPIC_MARKERS
    | _LOGFIRE_MARKERS
)


def family_of(attributes: Mapping[str, Any]) -> str | None:
    """The producer whose attribute family ``attributes`` carry (a ``sources.PRODUCERS`` key)."""
    if attributes.keys().isdisjoint(FAMILY_MARKERS) and not (
        _OLLM_SYSTEM in attributes and attr.OPERATION_NAME not in attributes
    ):
        return None
    if AI_OPERATION_ID in attributes:
        return "vercel-ai"
    if _OI_KIND in attributes:
        return "openinference"
    if not attributes.keys().isdisjoint(_LOGFIRE_MARKERS):
        return "logfire"
    if not attributes.keys().isdisjoint(_ANTHROPIC_MARKERS) and _OLLM_REQUEST_TYPE not in attributes:
        return "anthropic-sdk"
    return "openllmetry"


def from_anthropic_sdk(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    if attr.OPERATION_NAME not in attributes:
        return None  # count_tokens, sessions, batches...: no operation, not a billed call
    out = dict(attributes)
    cache_write = out.pop(_ANTHROPIC_CACHE_WRITE, None)
    if cache_write is not None:
        out.setdefault(attr.USAGE_CACHE_CREATION_INPUT_TOKENS, cache_write)
    stop_reason = out.pop(_ANTHROPIC_STOP_REASON, None)
    if stop_reason is not None:
        out.setdefault(attr.RESPONSE_FINISH_REASONS, (stop_reason,))
    details = {}
    for key, name in ((_ANTHROPIC_WRITE_5M, "cache_write_5m"), (_ANTHROPIC_WRITE_1H, "cache_write_1h")):
        value = out.pop(key, None)
        if isinstance(value, int):
            details[name] = value
    if details and attr.USAGE_DETAILS not in out:
        out[attr.USAGE_DETAILS] = details
    return out


def from_openllmetry(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    if attributes.get(_OLLM_SPAN_KIND) not in (None, "llm"):
        return None
    out: dict[str, Any] = {}
    prompts: dict[int, dict[str, Any]] = {}
    completions: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        renamed = _OLLM_RENAMES.get(key)
        if renamed is not None:
            out.setdefault(renamed, value)
        elif key.startswith(_OLLM_PROMPT_PREFIX):
            _collect_message(prompts, key, len(_OLLM_PROMPT_PREFIX), value)
        elif key.startswith(_OLLM_COMPLETION_PREFIX):
            _collect_message(completions, key, len(_OLLM_COMPLETION_PREFIX), value)
        elif key == _OLLM_SYSTEM:
            out.setdefault(attr.PROVIDER_NAME, str(value).lower())
        else:
            out[key] = value  # ours win over renamed foreign values
    if attr.OPERATION_NAME not in out:
        request_type = out.pop(_OLLM_REQUEST_TYPE, None)
        if request_type is None and attr.REQUEST_MODEL not in out:
            return None
        out[attr.OPERATION_NAME] = _OLLM_OPERATIONS.get(request_type, request_type or "chat")
    if prompts:
        out.setdefault(attr.INPUT_MESSAGES, _messages_json(prompts))
    if completions:
        out.setdefault(attr.OUTPUT_MESSAGES, _messages_json(completions))
        if attr.RESPONSE_FINISH_REASONS not in out:
            reasons = [m["finish_reason"] for _, m in sorted(completions.items()) if "finish_reason" in m]
            if reasons:
                out[attr.RESPONSE_FINISH_REASONS] = tuple(reasons)
    return out


def from_openinference(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    operation = _OI_CALL_KINDS.get(attributes.get(_OI_KIND))
    if operation is None:
        return None  # CHAIN, AGENT, TOOL, RETRIEVER, ...
    out: dict[str, Any] = {}
    inputs: dict[int, dict[str, Any]] = {}
    outputs: dict[int, dict[str, Any]] = {}
    details: dict[str, int] = {}
    for key, value in attributes.items():
        renamed = _OI_RENAMES.get(key)
        if renamed is not None:
            out.setdefault(renamed, value)
        elif key in _OI_DETAILS:
            details[_OI_DETAILS[key]] = value
        elif key.startswith(_OI_INPUT_MESSAGES_PREFIX):
            _collect_message(inputs, key, len(_OI_INPUT_MESSAGES_PREFIX), value, "message.")
        elif key.startswith(_OI_OUTPUT_MESSAGES_PREFIX):
            _collect_message(outputs, key, len(_OI_OUTPUT_MESSAGES_PREFIX), value, "message.")
        elif key == "llm.finish_reason":
            out.setdefault(attr.RESPONSE_FINISH_REASONS, (value,))
        elif key not in _OI_DROPPED:
            out[key] = value
    out.setdefault(attr.OPERATION_NAME, operation)
    out.setdefault(attr.PROVIDER_NAME, attributes.get("llm.system"))
    if out[attr.PROVIDER_NAME] is None:
        del out[attr.PROVIDER_NAME]
    model = attributes.get(_OI_MODEL)
    if model is not None:
        out.setdefault(attr.REQUEST_MODEL, model)
        if _OI_OUTPUT_VALUE in attributes or attr.USAGE_OUTPUT_TOKENS in out:  # set again from the response
            out.setdefault(attr.RESPONSE_MODEL, model)
    params = json_object(attributes.get(_OI_INVOCATION))
    if params.get("stream") is True:
        out.setdefault(attr.REQUEST_STREAM, True)
    # input.value / output.value are the request and response bodies when their mime type is
    # JSON, otherwise plain text that still has to land in a JSON column.
    value = out.pop(_OI_INPUT_VALUE, None)
    if value is not None:
        out.setdefault(attr.REQUEST_JSON, _as_json(value, attributes.get(_OI_INPUT_MIME), "input"))
    elif inputs:
        out.setdefault(attr.INPUT_MESSAGES, _messages_json(inputs))
    value = out.pop(_OI_OUTPUT_VALUE, None)
    if value is not None:
        response = _as_json(value, attributes.get(_OI_OUTPUT_MIME), "output")
        out.setdefault(attr.RESPONSE_JSON, response)
        response_id = json_object(response).get("id")
        if isinstance(response_id, str) and response_id:
            out.setdefault(attr.RESPONSE_ID, response_id)
    elif outputs:
        out.setdefault(attr.OUTPUT_MESSAGES, _messages_json(outputs))
    if details and attr.USAGE_DETAILS not in out:
        out[attr.USAGE_DETAILS] = details
    return out


def from_logfire(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    if attr.REQUEST_MODEL not in attributes and attr.OPERATION_NAME not in attributes:
        return None  # any other Logfire span
    out = {key: value for key, value in attributes.items() if key not in ("request_data", "response_data")}
    if attr.PROVIDER_NAME not in out and _OLLM_SYSTEM in out:
        out[attr.PROVIDER_NAME] = str(out.pop(_OLLM_SYSTEM)).lower()
    out.setdefault(attr.OPERATION_NAME, "chat")
    for name, ours in _LOGFIRE_PAYLOADS:
        value = attributes.get(name)
        if value is not None:
            out.setdefault(ours, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))
    usage = json_object(attributes.get(_LOGFIRE_USAGE_RAW))
    for key, ours in (
        ("cache_read_input_tokens", attr.USAGE_CACHE_READ_INPUT_TOKENS),
        ("cache_creation_input_tokens", attr.USAGE_CACHE_CREATION_INPUT_TOKENS),
    ):
        if isinstance(usage.get(key), int):
            out.setdefault(ours, usage[key])
    return out


def json_object(value: Any) -> Mapping[str, Any]:
    """``value`` parsed when it is a JSON object (or already a mapping), else an empty one."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value[:1] == "{":
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _collect_message(
    messages: dict[int, dict[str, Any]], key: str, start: int, value: Any, skip: str = ""
) -> None:
    """``<prefix>N.<field>`` -> ``messages[N][field]`` (``skip`` drops a fixed field prefix)."""
    index, _, field = key[start:].partition(".")
    if not index.isdigit() or not field:
        return
    if skip and field.startswith(skip):
        field = field[len(skip) :]
    messages.setdefault(int(index), {})[field] = value


def _messages_json(messages: dict[int, dict[str, Any]]) -> str:
    return json.dumps([messages[i] for i in sorted(messages)], ensure_ascii=False)


def _as_json(value: Any, mime_type: Any, name: str) -> str:
    if mime_type == "application/json" and isinstance(value, str):
        return value
    return json.dumps({name: value}, ensure_ascii=False)
