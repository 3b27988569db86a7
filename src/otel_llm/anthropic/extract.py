"""What an Anthropic request and response say, read into what ``LLMCall`` records.

Everything here accepts the SDK's pydantic models and the plain dicts of the wire format alike
(raw responses are decoded JSON, streams are assembled from events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_llm import attributes as attr
from otel_llm.instrumentation.call import Outcome, PayloadSpec
from otel_llm.pricing.providers import provider_of_url
from otel_llm.usage import fields, from_anthropic, get

OPERATION = "chat"
DEFAULT_PROVIDER = "anthropic"

# Platform clients by class name, for an SDK that no longer declares ``_gen_ai_provider_name``.
_PLATFORM_PROVIDERS = {"Bedrock": "aws.bedrock", "Vertex": "gcp.vertex_ai"}

# Request keyword -> span attribute, for the request parameters the conventions name.
_REQUEST_PARAMETERS = {
    "max_tokens": attr.REQUEST_MAX_TOKENS,
    "temperature": attr.REQUEST_TEMPERATURE,
    "top_p": attr.REQUEST_TOP_P,
    "top_k": attr.REQUEST_TOP_K,
    "stop_sequences": attr.REQUEST_STOP_SEQUENCES,
}


def provider_name(client: Any) -> str:
    """``gen_ai.provider.name`` of who serves the client's calls: Bedrock or Vertex AI by client,
    else by base URL (Anthropic's API, or another provider's Anthropic-compatible one, a gateway,
    a self-hosted server: see ``pricing/providers.py``)."""
    declared = getattr(client, "_gen_ai_provider_name", None)
    if not (isinstance(declared, str) and declared):
        declared = DEFAULT_PROVIDER
        for klass in type(client).__mro__:
            for marker, provider in _PLATFORM_PROVIDERS.items():
                if marker in klass.__name__:
                    declared = provider
    if declared != DEFAULT_PROVIDER:
        return declared
    url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    return (provider_of_url(str(url)) if url is not None else None) or DEFAULT_PROVIDER


def request_attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, attribute in _REQUEST_PARAMETERS.items():
        value = body.get(key)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            values[attribute] = value
        elif key == "stop_sequences" and isinstance(value, (list, tuple)):
            values[attribute] = [str(item) for item in value]
    return values


def output_messages(message: Any) -> list[dict[str, Any]]:
    """``gen_ai.output.messages`` for a Message: one assistant message with its content as parts."""
    read = fields(message)
    parts = [_part(block) for block in read.get("content") or ()]
    output: dict[str, Any] = {"role": "assistant", "parts": parts}
    stop_reason = read.get("stop_reason")
    if stop_reason:
        output["finish_reason"] = stop_reason
    return [output]


def _part(block: Any) -> dict[str, Any]:
    read = fields(block)
    kind = read.get("type")
    if kind == "text":
        return {"type": "text", "content": read.get("text")}
    if kind == "thinking":
        return {"type": "reasoning", "content": read.get("thinking")}
    if kind in ("tool_use", "server_tool_use"):
        return {"type": "tool_call", "id": read.get("id"), "name": read.get("name"), "arguments": read.get("input")}
    return {"type": kind}


PAYLOAD_SPEC = PayloadSpec(
    content_keys={attr.INPUT_MESSAGES: "messages", attr.SYSTEM_INSTRUCTIONS: "system"},
    output_of=output_messages,
)


def message_outcome(message: Any) -> Outcome:
    """The outcome of a complete Message (model, dict of its JSON, or assembled from a stream)."""
    read = fields(message)
    stop_reason = read.get("stop_reason")
    usage = from_anthropic(read.get("usage"))
    return Outcome(
        response=message,
        usage=usage,
        response_model=read.get("model"),
        response_id=read.get("id"),
        finish_reasons=[stop_reason] if stop_reason else None,
        attributes=service_tier_attributes(usage),
    )


def service_tier_attributes(usage: Any) -> dict[str, str] | None:
    """The span attributes naming the tier the response was served (and is priced) at, and its
    speed when that is not the standard one."""
    tier = {attr.ANTHROPIC_SERVICE_TIER: usage.service_tier} if usage.service_tier else None
    if usage.speed and usage.speed != "standard":
        return {**(tier or {}), attr.ANTHROPIC_SPEED: usage.speed}
    return tier
