"""The payload columns of a row: request, response and config JSON, and whether one was cut.

The untruncated texts our instrumentors kept with the span win; else the span's own attributes,
or, for spans without the full bodies, JSON built from the semconv content attributes (without
re-parsing the serialized values).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from opentelemetry.sdk.trace import ReadableSpan

from otel_llm import attributes as attr
from otel_llm.exporter import sources

# Built request JSON when the full body is absent: semconv content attributes under these keys.
_REQUEST_PARTS = (
    ("system_instructions", attr.SYSTEM_INSTRUCTIONS),
    ("input_messages", attr.INPUT_MESSAGES),
    ("tool_definitions", attr.TOOL_DEFINITIONS),
)
_REQUEST_PARAM_PREFIX = "gen_ai.request."


def payload_columns(span: ReadableSpan, attributes: Mapping[str, Any], full: Mapping[str, str]) -> tuple[str, str, str, bool]:
    """(request JSON, response JSON, config JSON, whether a payload was cut) of the row."""
    # A value exactly as long as the SDK's attribute length limit was (almost surely) cut by it.
    # The SDK hands exporters its BoundedAttributes, which knows the limit it applied.
    limit = getattr(getattr(span, "_attributes", None), "max_value_len", None) or 0
    # Flags that a producer set on the span say a payload was cut; ``_payload`` adds the ones it sees.
    cut = (
        [] if attributes.keys().isdisjoint(_TRUNCATED_FLAGS) else [attributes.get(f) is True for f in _TRUNCATED_FLAGS]
    )

    request = _payload(attr.REQUEST_JSON, full, attributes, limit, cut)
    if request is None:
        parts = [(name, _payload(key, full, attributes, limit, cut)) for name, key in _REQUEST_PARTS]
        request = _json_object(parts)
    response = _payload(attr.RESPONSE_JSON, full, attributes, limit, cut)
    if response is None:
        response = _json_object([("output_messages", _payload(attr.OUTPUT_MESSAGES, full, attributes, limit, cut))])
    config = _payload(attr.LLM_CONFIG_JSON, full, attributes, limit, cut)
    if config is None:
        config = _config_from_request_attributes(attributes)
    return request, response, config, any(cut)


_TRUNCATED_FLAGS = frozenset(sources.CONTENT_TRUNCATED_FLAGS)


def _payload(key: str, full: Mapping[str, str], attributes: Mapping[str, Any], limit: int, cut: list) -> str | None:
    """The payload attribute ``key`` as text: the untruncated one kept with the span, else the span's
    (noting in ``cut`` when it looks truncated by the SDK's length limit)."""
    value = full.get(key)
    if value is not None:
        return value
    value = attributes.get(key)
    if value is None:
        return None
    if type(value) is not str:
        return json.dumps(value, ensure_ascii=False, default=str)
    if limit and len(value) == limit:
        cut.append(True)
    return value


def _json_object(parts: list[tuple[str, str | None]]) -> str:
    """``{"name": <json>, ...}`` from already-serialized values, without re-parsing them."""
    members = []
    for name, value in parts:
        if value is None:
            continue
        if not value.startswith(("[", "{")):
            value = json.dumps(value, ensure_ascii=False)  # plain text where JSON was expected
        members.append(f'"{name}":{value}')
    return "{" + ",".join(members) + "}" if members else ""


def _config_from_request_attributes(attributes: Mapping[str, Any]) -> str:
    """Spans without our config attribute: the ``gen_ai.request.*`` parameters they carry."""
    params = {
        key[len(_REQUEST_PARAM_PREFIX) :]: value
        for key, value in attributes.items()
        if key.startswith(_REQUEST_PARAM_PREFIX) and key != attr.REQUEST_MODEL
    }
    return json.dumps(params, ensure_ascii=False, default=str) if params else ""


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
