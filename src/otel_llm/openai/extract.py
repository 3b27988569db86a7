"""OpenAI requests and responses -> span attributes, usage and output messages.

Every reader accepts the SDK's pydantic objects and the plain dicts of the wire format (raw
responses are sometimes only available as JSON).  Nothing here raises on a shape it does not
know on purpose, but the callers guard it anyway: a response shape we never imagined must not
reach the application as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openai import AsyncOpenAI, NotGiven, Omit, OpenAI
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import openai_attributes as openai_attr

from otel_llm import attributes as attr
from otel_llm.instrumentation.call import Outcome
from otel_llm.pricing.providers import provider_of_url
from otel_llm.usage import fields, from_openai_chat, from_openai_embeddings, from_openai_responses, get

CHAT = gen_ai.GenAiOperationNameValues.CHAT.value
EMBEDDINGS = gen_ai.GenAiOperationNameValues.EMBEDDINGS.value
_PROVIDER_BY_RUNTIME = {"bedrock": "aws.bedrock", "vertex": "gcp.vertex_ai"}
_DEFAULT_PORTS = {"https": 443, "http": 80}
_AZURE_STREAM_OPTIONS_SINCE = "2024-09-01"


_PLACEHOLDERS = (Omit, NotGiven)


def given(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments the caller actually gave: SDK helpers forward ``omit`` (and
    ``extra_body=None``) for the rest."""
    return {
        k: v for k, v in kwargs.items() if not isinstance(v, _PLACEHOLDERS) and not (v is None and k == "extra_body")
    }


# --- where the call goes ----------------------------------------------------------------------


# openai 3.x's ``base_url`` property (which ``_base_url`` reads) runs an import statement on every
# read, ~14k instructions, more than the rest of a call's endpoint lookup.  The SDK's own client
# classes return their ``_configured_base_url`` attribute from it; a class that overrides the
# property (the module-level client reads ``openai.base_url``) is read through it.
_SDK_BASE_URL_PROPERTIES = tuple(p for p in (vars(OpenAI).get("base_url"), vars(AsyncOpenAI).get("base_url")) if p)


def base_url_of(client: Any) -> Any:
    """``client``'s base URL (an ``httpx`` URL), or None."""
    if getattr(type(client), "base_url", None) in _SDK_BASE_URL_PROPERTIES:
        url = vars(client).get("_configured_base_url")
        if url is not None:
            return url
    return getattr(client, "_base_url", None) or getattr(client, "base_url", None)


def provider_of(client: Any, host: str | None) -> str:
    """Who serves ``client``'s calls (``gen_ai.provider.name``): its platform runtime (Bedrock,
    Vertex), an Azure client, else its base URL (see ``pricing/providers.py``); the ``openai``
    SDK reaches many providers, and a host that is not OpenAI's is never ``openai``."""
    runtime_name = get(getattr(client, "_provider_runtime", None), "name")
    if runtime_name in _PROVIDER_BY_RUNTIME:
        return _PROVIDER_BY_RUNTIME[runtime_name]
    # AzureOpenAI subclasses carry an ``_azure_endpoint`` (a custom domain may not look Azure's).
    if hasattr(client, "_azure_endpoint"):
        return gen_ai.GenAiProviderNameValues.AZURE_AI_OPENAI.value
    url = base_url_of(client)
    by_url = provider_of_url(str(url)) if url is not None and host else None
    return by_url or gen_ai.GenAiProviderNameValues.OPENAI.value


def accepts_stream_options(client: Any) -> bool:
    """Whether the endpoint accepts ``stream_options``: Azure OpenAI rejects it (HTTP 400) before
    API version 2024-09-01-preview, and asking for usage must never fail the caller's request."""
    api_version = getattr(client, "_api_version", None)  # set by AzureOpenAI clients only
    return not isinstance(api_version, str) or api_version >= _AZURE_STREAM_OPTIONS_SINCE


def server_of(client: Any) -> tuple[str | None, int | None]:
    url = base_url_of(client)
    host = getattr(url, "host", None)
    if not host:
        return None, None
    return host, getattr(url, "port", None) or _DEFAULT_PORTS.get(getattr(url, "scheme", ""))


# --- request attributes -----------------------------------------------------------------------


def _number(value: Any) -> int | float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _put_number(values: dict[str, Any], key: str, value: Any) -> None:
    number = _number(value)
    if number is not None:
        values[key] = number


def _put_string(values: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, str) and value:
        values[key] = value


def _output_type(response_format: Any) -> str | None:
    if isinstance(response_format, type):  # a pydantic class given to .parse()
        return gen_ai.GenAiOutputTypeValues.JSON.value
    kind = get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return gen_ai.GenAiOutputTypeValues.JSON.value
    if kind == "text":
        return gen_ai.GenAiOutputTypeValues.TEXT.value
    return None


def _put_numbers(values: dict[str, Any], request: Mapping[str, Any], names: tuple[tuple[str, str], ...]) -> None:
    """``values[attribute] = request[key]`` for each (key, attribute) whose value is a number.

    One loop rather than a call per parameter: this runs on every request."""
    for key, attribute in names:
        value = request.get(key)
        if value is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[attribute] = value


_SAMPLING = (("temperature", attr.REQUEST_TEMPERATURE), ("top_p", attr.REQUEST_TOP_P))
_CHAT_NUMBERS = (
    *_SAMPLING,
    ("seed", attr.REQUEST_SEED),
    ("frequency_penalty", attr.REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", attr.REQUEST_PRESENCE_PENALTY),
    ("n", attr.REQUEST_CHOICE_COUNT),
)


def chat_request_attributes(request: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {openai_attr.OPENAI_API_TYPE: "chat_completions"}
    _put_numbers(values, request, _CHAT_NUMBERS)
    _put_string(values, openai_attr.OPENAI_REQUEST_SERVICE_TIER, request.get("service_tier"))
    max_tokens = request.get("max_completion_tokens")
    _put_number(values, attr.REQUEST_MAX_TOKENS, max_tokens if max_tokens is not None else request.get("max_tokens"))
    stop = request.get("stop")
    if isinstance(stop, str):
        values[attr.REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        values[attr.REQUEST_STOP_SEQUENCES] = list(stop)
    response_format = request.get("response_format")
    if response_format is not None:
        output_type = _output_type(response_format)
        if output_type:
            values[attr.OUTPUT_TYPE] = output_type
    return values


def responses_request_attributes(request: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {openai_attr.OPENAI_API_TYPE: "responses"}
    _put_numbers(values, request, _SAMPLING)
    _put_string(values, openai_attr.OPENAI_REQUEST_SERVICE_TIER, request.get("service_tier"))
    _put_number(values, attr.REQUEST_MAX_TOKENS, request.get("max_output_tokens"))
    output_type = _output_type(request.get("text_format")) or _output_type(get(request.get("text"), "format"))
    if output_type:
        values[attr.OUTPUT_TYPE] = output_type
    return values


def embeddings_request_attributes(request: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    encoding = request.get("encoding_format")
    if isinstance(encoding, str):
        values[attr.REQUEST_ENCODING_FORMATS] = [encoding]
    _put_number(values, gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, request.get("dimensions"))
    return values


# --- response outcomes ------------------------------------------------------------------------


def response_attributes(response: Any) -> dict[str, Any]:
    read = fields(response)
    values: dict[str, Any] = {}
    _put_string(values, openai_attr.OPENAI_RESPONSE_SERVICE_TIER, read.get("service_tier"))
    _put_string(values, openai_attr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, read.get("system_fingerprint"))
    return values


def with_service_tier(usage: Any, tier: Any) -> Any:
    """``usage`` priced at ``tier``, the response's ``service_tier`` (the tier it was served at)."""
    if usage is not None and isinstance(tier, str) and tier:
        usage.service_tier = tier
    return usage


def chat_outcome(response: Any) -> Outcome:
    read = fields(response)
    reasons = [reason for choice in read.get("choices") or [] if (reason := get(choice, "finish_reason"))]
    usage = read.get("usage")
    return Outcome(
        response=response,
        usage=with_service_tier(from_openai_chat(usage), read.get("service_tier")) if usage is not None else None,
        response_model=read.get("model"),
        response_id=read.get("id"),
        finish_reasons=reasons,
        attributes=response_attributes(response),
    )


_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_finish(response: Any) -> tuple[list[str], str | None]:
    """(finish reasons, error type) of a Responses API response, from its status."""
    status = get(response, "status")
    if status == "completed":
        calls_tool = any(get(item, "type") == "function_call" for item in get(response, "output") or [])
        return ["tool_calls" if calls_tool else "stop"], None
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return [_INCOMPLETE_REASONS.get(reason, reason or "incomplete")], None
    if status == "failed":
        return ["error"], get(get(response, "error"), "code") or "response.failed"
    if status == "cancelled":
        return ["cancelled"], None
    return [], None  # still in progress: the stream ended before the response did


def responses_outcome(response: Any) -> Outcome:
    reasons, error_type = responses_finish(response)
    usage = get(response, "usage")
    values = response_attributes(response)
    error_message = get(get(response, "error"), "message")
    if error_type and isinstance(error_message, str):
        values[attr.ERROR_MESSAGE] = error_message
    tier = get(response, "service_tier")
    return Outcome(
        response=response,
        usage=with_service_tier(_with_web_searches(from_openai_responses(usage), response), tier)
        if usage is not None
        else None,
        response_model=get(response, "model"),
        response_id=get(response, "id"),
        finish_reasons=reasons,
        attributes=values,
        error_type=error_type,
    )


def _with_web_searches(usage: Any, response: Any) -> Any:
    """Responses API web searches, billed per call: one ``web_search_call`` output item each."""
    searches = sum(1 for item in get(response, "output") or [] if get(item, "type") == "web_search_call")
    if searches:
        usage.details["web_search_requests"] = searches
    return usage


def embeddings_outcome(response: Any) -> Outcome:
    usage = get(response, "usage")
    return Outcome(
        response=response,
        usage=from_openai_embeddings(usage) if usage is not None else None,
        response_model=get(response, "model"),
    )


# --- output messages (gen_ai.output.messages, semantic-convention shape) ----------------------


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def chat_output_messages(response: Any) -> list[dict[str, Any]]:
    messages = []
    for choice in get(response, "choices") or []:
        read_choice = fields(choice)
        message = fields(read_choice.get("message"))
        parts: list[dict[str, Any]] = []
        content = message.get("content")
        if content:
            parts.append({"type": "text", "content": content})
        refusal = message.get("refusal")
        if refusal:
            parts.append({"type": "refusal", "content": refusal})
        for call in message.get("tool_calls") or []:
            function = get(call, "function")
            parts.append(_tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments")))
        role = message.get("role") or "assistant"
        messages.append({"role": role, "parts": parts, "finish_reason": read_choice.get("finish_reason")})
    return messages


def responses_output_messages(response: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in get(response, "output") or []:
        kind = get(item, "type")
        if kind == "message":
            for content in get(item, "content") or []:
                text = get(content, "text") if get(content, "type") == "output_text" else get(content, "refusal")
                if text:
                    parts.append(
                        {"type": "text" if get(content, "type") == "output_text" else "refusal", "content": text}
                    )
        elif kind == "function_call":
            parts.append(_tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments")))
    reasons, _ = responses_finish(response)
    return [{"role": "assistant", "parts": parts, "finish_reason": reasons[0] if reasons else None}]


def no_output(response: Any) -> None:
    """Embeddings: the vectors are not messages and too large to be worth a span attribute."""
    return None
