"""Spans from other GenAI producers, renamed to the attributes otel-llm's instrumentors write.

Works on plain attribute mappings (the OTLP receiver has no ReadableSpan).  :func:`normalize`
returns ``None`` for a span that is no LLM call, the SAME mapping (no copy) when nothing needs
renaming — our own spans, the common case — and otherwise a new dict in which each foreign key
that has a column is replaced by our name, so it is not also kept among the leftover attributes.

Producers understood:

- GenAI semantic conventions (our instrumentors, and anything else that follows them).
- The Anthropic SDK's own spans (``anthropic`` 2.x ``_tracing``): cache writes are
  ``gen_ai.usage.cache_write.input_tokens``, the 5m/1h split and the stop reason have
  ``anthropic.*`` names, and a span whose content hit ``max_content_bytes`` says
  ``anthropic.content.truncated``.
- OpenLLMetry (``gen_ai.system``, ``gen_ai.usage.prompt_tokens``, ``gen_ai.prompt.N.*``, ...).
- OpenInference (``openinference.span.kind`` = ``LLM``, ``llm.token_count.*``, ``input.value``, ...).

Token convention (DESIGN.md): input includes cache reads and writes.  A producer whose input is
smaller than its own cache read + write cannot be counting cache in it (Anthropic's raw
``input_tokens``), so the cache is added; otherwise input is taken as inclusive.  The Anthropic SDK
2.x already sums them itself (``lib/_tracing/_response.py``: ``set_usage_sums``).
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
FOREIGN_PAYLOAD_ATTRIBUTES = ("input.value", "output.value")

# --- Anthropic SDK ---------------------------------------------------------------------------
_ANTHROPIC_CACHE_WRITE = attr.USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC
_ANTHROPIC_STOP_REASON = "anthropic.message.stop_reason"
_ANTHROPIC_WRITE_5M = "anthropic.usage.cache_creation.ephemeral_5m_input_tokens"
_ANTHROPIC_WRITE_1H = "anthropic.usage.cache_creation.ephemeral_1h_input_tokens"
_ANTHROPIC_MARKERS = frozenset((_ANTHROPIC_CACHE_WRITE, _ANTHROPIC_STOP_REASON, _ANTHROPIC_WRITE_5M, _ANTHROPIC_WRITE_1H))

# --- OpenLLMetry -----------------------------------------------------------------------------
_OLLM_SYSTEM = "gen_ai.system"
_OLLM_REQUEST_TYPE = "llm.request.type"
_OLLM_PROMPT_PREFIX = "gen_ai.prompt."
_OLLM_COMPLETION_PREFIX = "gen_ai.completion."
# OpenLLMetry name -> ours, for values that only change name.
_OLLM_RENAMES = {
    "gen_ai.usage.prompt_tokens": attr.USAGE_INPUT_TOKENS,
    "gen_ai.usage.completion_tokens": attr.USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.cache_read_input_tokens": attr.USAGE_CACHE_READ_INPUT_TOKENS,
    "gen_ai.usage.cache_creation_input_tokens": attr.USAGE_CACHE_CREATION_INPUT_TOKENS,
    "llm.usage.reasoning_tokens": attr.USAGE_REASONING_OUTPUT_TOKENS,
    "llm.is_streaming": attr.REQUEST_STREAM,
}
_OLLM_MARKERS = frozenset((_OLLM_SYSTEM, _OLLM_REQUEST_TYPE, "gen_ai.usage.prompt_tokens", TOTAL_TOKENS))
_OLLM_OPERATIONS = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": "rerank",
}

# --- OpenInference ---------------------------------------------------------------------------
_OI_KIND = "openinference.span.kind"
_OI_INPUT_VALUE = "input.value"
_OI_OUTPUT_VALUE = "output.value"
_OI_INPUT_MIME = "input.mime_type"
_OI_OUTPUT_MIME = "output.mime_type"
_OI_INPUT_MESSAGES_PREFIX = "llm.input_messages."
_OI_OUTPUT_MESSAGES_PREFIX = "llm.output_messages."
_OI_RENAMES = {
    "llm.model_name": attr.REQUEST_MODEL,
    "llm.provider": attr.PROVIDER_NAME,
    "llm.token_count.prompt": attr.USAGE_INPUT_TOKENS,
    "llm.token_count.completion": attr.USAGE_OUTPUT_TOKENS,
    "llm.token_count.total": TOTAL_TOKENS,
    "llm.token_count.prompt_details.cache_read": attr.USAGE_CACHE_READ_INPUT_TOKENS,
    "llm.token_count.prompt_details.cache_write": attr.USAGE_CACHE_CREATION_INPUT_TOKENS,
    "llm.token_count.completion_details.reasoning": attr.USAGE_REASONING_OUTPUT_TOKENS,
    "llm.invocation_parameters": attr.LLM_CONFIG_JSON,
}
_OI_DETAILS = {
    "llm.token_count.prompt_details.audio": "audio_input",
    "llm.token_count.completion_details.audio": "audio_output",
}


def normalize(attributes: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The span's attributes under our names, or ``None`` when the span is not an LLM call."""
    if attr.OPERATION_NAME in attributes:
        if _has_any(attributes, _ANTHROPIC_MARKERS):
            return _from_anthropic(attributes)
        if _OI_KIND in attributes:
            return _from_openinference(attributes)
        if _has_any(attributes, _OLLM_MARKERS):
            return _from_openllmetry(attributes)
        return attributes
    if attributes.get(_OI_KIND) == "LLM":
        return _from_openinference(attributes)
    if _OLLM_REQUEST_TYPE in attributes or (
        _OLLM_SYSTEM in attributes and attr.REQUEST_MODEL in attributes
    ):
        return _from_openllmetry(attributes)
    return None


def _has_any(attributes: Mapping[str, Any], keys: frozenset[str]) -> bool:
    # One C-level pass (this runs for every span) instead of a Python loop over the keys.
    return not attributes.keys().isdisjoint(keys)


def _from_anthropic(attributes: Mapping[str, Any]) -> dict[str, Any]:
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
    _include_cache_in_input(out)
    return out


def _from_openllmetry(attributes: Mapping[str, Any]) -> dict[str, Any]:
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
        out[attr.OPERATION_NAME] = _OLLM_OPERATIONS.get(request_type, request_type or "chat")
    if prompts:
        out.setdefault(attr.INPUT_MESSAGES, _messages_json(prompts))
    if completions:
        out.setdefault(attr.OUTPUT_MESSAGES, _messages_json(completions))
        if attr.RESPONSE_FINISH_REASONS not in out:
            reasons = [m["finish_reason"] for _, m in sorted(completions.items()) if "finish_reason" in m]
            if reasons:
                out[attr.RESPONSE_FINISH_REASONS] = tuple(reasons)
    _include_cache_in_input(out)
    return out


def _from_openinference(attributes: Mapping[str, Any]) -> dict[str, Any]:
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
        elif key in (_OI_KIND, _OI_INPUT_MIME, _OI_OUTPUT_MIME):
            continue
        elif key == "llm.system":
            out.setdefault(attr.PROVIDER_NAME, value)
        else:
            out[key] = value
    out.setdefault(attr.OPERATION_NAME, "chat")
    # input.value / output.value are the request and response bodies when their mime type is
    # JSON, otherwise plain text that still has to land in a JSON column.
    value = out.pop(_OI_INPUT_VALUE, None)
    if value is not None:
        out.setdefault(attr.REQUEST_JSON, _as_json(value, attributes.get(_OI_INPUT_MIME), "input"))
    elif inputs:
        out.setdefault(attr.INPUT_MESSAGES, _messages_json(inputs))
    value = out.pop(_OI_OUTPUT_VALUE, None)
    if value is not None:
        out.setdefault(attr.RESPONSE_JSON, _as_json(value, attributes.get(_OI_OUTPUT_MIME), "output"))
    elif outputs:
        out.setdefault(attr.OUTPUT_MESSAGES, _messages_json(outputs))
    if details and attr.USAGE_DETAILS not in out:
        out[attr.USAGE_DETAILS] = details
    _include_cache_in_input(out)
    return out


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


def _include_cache_in_input(out: dict[str, Any]) -> None:
    """Make input inclusive of cache when the producer's input evidently excludes it."""
    input_tokens = out.get(attr.USAGE_INPUT_TOKENS)
    if not isinstance(input_tokens, int):
        return
    read = out.get(attr.USAGE_CACHE_READ_INPUT_TOKENS)
    write = out.get(attr.USAGE_CACHE_CREATION_INPUT_TOKENS)
    cache = (read if isinstance(read, int) else 0) + (write if isinstance(write, int) else 0)
    if input_tokens < cache:
        out[attr.USAGE_INPUT_TOKENS] = input_tokens + cache
