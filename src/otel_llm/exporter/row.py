"""One LLM span -> one ``llm_traces`` row, a ``Row`` (``storage.columns``).

Hot path: the exporter calls this for every LLM span, so it reads each attribute once by key,
walks the attribute dict once for the leftovers, parses no JSON (the usage and cost maps' texts
go to the codec as they are), and builds the payload columns by string concatenation.
It does not check or convert values it only passes on: the storage codec
(``otel_llm.storage.codec``) does that a column at a time in C, and coerces by the column's type
only a column Arrow refuses. Computed values follow the codec's contract: ``id`` the UUID's 16
bytes, timestamps int nanoseconds since the epoch, ``None`` for NULL.

A named tuple rather than a dict: built in one step, transposed into columns by one ``zip``.
Apart from the tuple itself, rows hold no object the garbage collector tracks (no ``uuid.UUID``,
no list): rows queued by the thousand were three tracked objects each, which made the app's
collections cost the exporter ~10 us a row.
"""

from __future__ import annotations

import json
import uuid
from hashlib import blake2b
from collections import ChainMap
from typing import Any, Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_llm import attributes as attr
from otel_llm.exporter import sources, span_cost
from otel_llm.exporter.payload_columns import payload_columns, utf8_len
from otel_llm.storage import values as coerce
from otel_llm.storage.columns import Row

# Personalizes the row-id hash so our ids cannot coincide with another scheme's over the same ids.
_ROW_ID_PERSON = b"otel-llm-row"
_ROW_ID_HASHER = blake2b(digest_size=16, person=_ROW_ID_PERSON)

# Context/billing columns, filled from the span's attributes or else its resource's.
_CONTEXT_COLUMNS = (
    ("organization_id", attr.ORGANIZATION_ID),
    ("project_id", attr.PROJECT_ID),
    ("user_id", attr.USER_ID),
    ("conversation_id", attr.CONVERSATION_ID),
    ("agent_id", attr.AGENT_ID),
    ("run_id", attr.RUN_ID),
    ("step_id", attr.STEP_ID),
    ("call_type", attr.CALL_TYPE),
    ("billing_plan_type", attr.BILLING_PLAN_TYPE),
    ("billing_cost_source", attr.BILLING_COST_SOURCE),
    ("customer_id", attr.BILLING_CUSTOMER_ID),
)
_CONTEXT_KEYS = frozenset(key for _, key in _CONTEXT_COLUMNS) | {attr.AGENT_TAGS, attr.IS_BYOK}
# On a resource (OTEL_RESOURCE_ATTRIBUTES), the two context keys whose span attribute is a semconv
# name are also taken in llm_context's own spelling.
_RESOURCE_ALIASES = {"otel_llm.agent_id": attr.AGENT_ID, "otel_llm.conversation_id": attr.CONVERSATION_ID}
_SERVICE_NAME = "service.name"

# Request headers that other instrumentations may record (semconv ``http.request.header.<name>``)
# and that carry credentials: never stored, whether on a span or a resource.
CREDENTIAL_ATTRIBUTES = frozenset(
    f"http.request.header.{name}"
    for name in ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie")
)

# Every span attribute that lands in a column (or is a payload, or a credential): never repeated
# in span_attributes.
# The unpriced reason has no column, so it stays in span_attributes.
MAPPED_SPAN_KEYS = frozenset(
    {
        attr.OPERATION_NAME,
        attr.PROVIDER_NAME,
        attr.REQUEST_MODEL,
        attr.RESPONSE_MODEL,
        attr.RESPONSE_ID,
        attr.REQUEST_STREAM,
        attr.RESPONSE_FINISH_REASONS,
        attr.SERVER_ADDRESS,
        attr.RESPONSE_TIME_TO_FIRST_CHUNK,
        attr.USAGE_INPUT_TOKENS,
        attr.USAGE_OUTPUT_TOKENS,
        attr.USAGE_CACHE_READ_INPUT_TOKENS,
        attr.USAGE_CACHE_CREATION_INPUT_TOKENS,
        attr.USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC,
        attr.USAGE_REASONING_OUTPUT_TOKENS,
        attr.USAGE_DETAILS,
        sources.TOTAL_TOKENS,
        attr.COST_USD,
        attr.COST_DETAILS,
        attr.COST_PRICING_VERSION,
        attr.ERROR_TYPE,
        attr.ERROR_MESSAGE,
        attr.HTTP_RESPONSE_STATUS_CODE,
        attr.LLM_CONFIG_JSON,
        *attr.PAYLOAD_ATTRIBUTES,
        *sources.CONTENT_TRUNCATED_FLAGS,
    }
    | _CONTEXT_KEYS
    | CREDENTIAL_ATTRIBUTES
)
_MAPPED_RESOURCE_KEYS = _CONTEXT_KEYS | set(_RESOURCE_ALIASES) | {_SERVICE_NAME} | CREDENTIAL_ATTRIBUTES


def row_id(trace_id: int, span_id: int) -> uuid.UUID:
    """The row's UUID, a hash of the span's identity, so a retried insert repeats it."""
    return uuid.UUID(bytes=row_id_bytes(trace_id, span_id))


def row_id_bytes(trace_id: int, span_id: int) -> bytes:
    """:func:`row_id`'s 16 bytes, as rows carry it (BLAKE2b in C: a quarter of the cost of
    ``uuid.uuid5``, on a path run for every span)."""
    return _row_id_of(_ids_bytes(trace_id, span_id))


def _ids_bytes(trace_id: int, span_id: int) -> bytes:
    """16 bytes of trace id then 8 of span id, big-endian: what the row id hashes."""
    return ((trace_id << 64) | span_id).to_bytes(24, "big")


def _row_id_of(ids: bytes) -> bytes:
    # Copying a keyed hasher skips parsing blake2b's parameters per call (2.3 -> 0.8 us).
    hasher = _ROW_ID_HASHER.copy()
    hasher.update(ids)
    return hasher.digest()


def span_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as the plain dict inside the SDK's BoundedAttributes, read-only.

    ``span.attributes`` wraps it in a MappingProxy over a Python-level Mapping: every ``get``
    costs two extra Python calls, which made attribute reads half the row-building time.
    """
    attributes = getattr(span, "_attributes", None)
    if type(attributes) is dict:  # spans made by the receiver
        return attributes
    inner = getattr(attributes, "_dict", None)
    if type(inner) is dict:
        return inner
    return span.attributes or {}


def span_to_row(span: ReadableSpan, full_payloads: Mapping[str, str] | None = None) -> dict | None:
    """The ``llm_traces`` row for an LLM span as a dict, values as stored; ``None`` for any
    other span.

    ``full_payloads`` (attribute name -> untruncated text, from :mod:`otel_llm.payloads`) wins
    over the span's own, possibly truncated, payload attributes.
    """
    attributes = sources.normalize(span_attributes(span), span.instrumentation_scope)
    if attributes is None:
        return None
    return coerce.coerce_row(build_row(span, attributes, full_payloads))._asdict()


def _span_fields(span: ReadableSpan) -> tuple:
    """(name, context, parent, start, end, resource, status, events) of ``span``.

    Read from the instance dict when it has the SDK's fields: each ReadableSpan property is a
    Python call (~0.5 us; eight of them were a tenth of the row).
    """
    fields = getattr(span, "__dict__", None)
    if fields is not None and "_context" in fields:
        return (
            fields["_name"],
            fields["_context"],
            fields["_parent"],
            fields["_start_time"],
            fields["_end_time"],
            fields["_resource"],
            fields["_status"],
            fields["_events"],
        )
    return span.name, span.context, span.parent, span.start_time, span.end_time, span.resource, span.status, span.events


def build_row(span: ReadableSpan, attributes: Mapping[str, Any], full_payloads: Mapping[str, str] | None) -> Row:
    """The row for ``span`` whose attributes were already
    :func:`sources.normalize`-d.

    Values are mostly the attributes as they are: the storage codec checks and coerces them a
    column at a time, in C (``otel_llm.storage.codec``). Only values this function computes
    with are coerced here.
    """
    get = attributes.get
    name, context, parent, start, end, resource, status, events = _span_fields(span)
    # SpanContext is a tuple; its trace_id / span_id properties are Python calls.
    ids = _ids_bytes(context[0], context[1])
    # bytes.hex() of the ids: int formatting with padding costs several times more.
    ids_hex = ids.hex()
    start = start or 0
    end = end or start
    service_name, resource_context, resource_leftover = _resource_info(resource)
    # Span values win; the resource's (usually none) fill the gaps.
    context_get = ChainMap(attributes, resource_context).get if resource_context else get
    tags = context_get(attr.AGENT_TAGS)
    byok = context_get(attr.IS_BYOK)
    finish_reasons = get(attr.RESPONSE_FINISH_REASONS)

    input_tokens = coerce.count(get(attr.USAGE_INPUT_TOKENS))
    output_tokens = coerce.count(get(attr.USAGE_OUTPUT_TOKENS))
    if input_tokens is None and output_tokens is None:
        total_tokens = get(sources.TOTAL_TOKENS)
    else:
        total_tokens = (input_tokens or 0) + (output_tokens or 0)
    # As given, like the cost map below (usually the JSON text our instrumentors write): the
    # codec takes such texts apart a column at a time in C; parsing each here cost ~2 us a row.
    usage_details = get(attr.USAGE_DETAILS) or _EMPTY

    span_leftover = _leftover(attributes)
    if attr.COST_PRICING_VERSION in attributes or attr.COST_USD in attributes:
        cost_usd = get(attr.COST_USD)
        # As given (usually the JSON text our instrumentors write): the codec takes texts apart
        # a column at a time in C, and a text is one object fewer per row for the collector.
        cost_details = get(attr.COST_DETAILS)
        pricing_version = get(attr.COST_PRICING_VERSION)
    else:
        cost_usd, cost_details, pricing_version, unpriced = span_cost.priced_here(
            attributes, input_tokens, output_tokens, span_cost.usage_details(usage_details), start
        )
        if unpriced:
            span_leftover = {**span_leftover, attr.COST_UNPRICED_REASON: unpriced}

    ttfc = get(attr.RESPONSE_TIME_TO_FIRST_CHUNK)
    is_error, error_type, error_message = _outcome(status, events, get)
    request, response, config, truncated = payload_columns(span, attributes, full_payloads or _EMPTY)
    # Positional, in column order (a comment names each): a call with 54 keywords cost ~4 us a
    # row, a third of building it; the tests read every column back by name.
    return _new_row(Row, (
        _row_id_of(ids),  # id
        start,  # timestamp
        end,  # end_timestamp
        ids_hex[:32],  # trace_id
        ids_hex[32:],  # span_id
        f"{parent[1]:016x}" if parent is not None else "",  # parent_span_id
        name,  # span_name
        service_name,  # service_name
        context_get(attr.ORGANIZATION_ID),  # organization_id
        context_get(attr.PROJECT_ID),  # project_id
        context_get(attr.USER_ID),  # user_id
        context_get(attr.CONVERSATION_ID),  # conversation_id
        context_get(attr.AGENT_ID),  # agent_id
        tags if type(tags) is tuple else _tags(tags),  # agent_tags
        context_get(attr.RUN_ID),  # run_id
        context_get(attr.STEP_ID),  # step_id
        context_get(attr.CALL_TYPE),  # call_type
        context_get(attr.BILLING_PLAN_TYPE),  # billing_plan_type
        context_get(attr.BILLING_COST_SOURCE),  # billing_cost_source
        context_get(attr.BILLING_CUSTOMER_ID),  # customer_id
        byok is True or (type(byok) is str and byok.lower() == "true"),  # is_byok
        get(attr.PROVIDER_NAME),  # provider
        get(attr.OPERATION_NAME),  # operation
        get(attr.REQUEST_MODEL),  # request_model
        get(attr.RESPONSE_MODEL),  # response_model
        get(attr.RESPONSE_ID),  # response_id
        get(attr.REQUEST_STREAM) is True,  # is_stream
        finish_reasons if type(finish_reasons) is str else finish_reasons[0] if finish_reasons else "",  # finish_reason
        get(attr.SERVER_ADDRESS),  # server_address
        input_tokens,  # prompt_tokens
        output_tokens,  # completion_tokens
        total_tokens,  # total_tokens
        get(attr.USAGE_CACHE_READ_INPUT_TOKENS),  # cached_input_tokens
        get(attr.USAGE_CACHE_CREATION_INPUT_TOKENS),  # cache_write_tokens
        get(attr.USAGE_REASONING_OUTPUT_TOKENS),  # reasoning_tokens
        usage_details,  # usage_details
        cost_usd,  # cost_usd
        cost_details,  # cost_details
        pricing_version,  # pricing_version
        get(attr.OPENAI_RESPONSE_SERVICE_TIER) or get(attr.ANTHROPIC_SERVICE_TIER),  # service_tier
        (end - start) / 1e6,  # latency_ms
        ttfc * 1000.0 if isinstance(ttfc, (int, float)) else None,  # ttft_ms
        is_error,  # is_error
        error_type,  # error_type
        error_message,  # error_message
        get(attr.HTTP_RESPONSE_STATUS_CODE),  # http_status_code
        utf8_len(request),  # request_bytes
        utf8_len(response),  # response_bytes
        truncated,  # payload_truncated
        request,  # request_json
        response,  # response_json
        config,  # llm_config_json
        span_leftover,  # span_attributes
        resource_leftover,  # resource_attributes
    ))


_EMPTY: dict = {}
_new_row = tuple.__new__  # a Row from a tuple of its values, without a Python call


_NO_ERROR = (False, "", "")


def _outcome(status: Any, events: Any, get: Any) -> tuple[bool, str, str]:
    if status.status_code is not StatusCode.ERROR and get(attr.ERROR_TYPE) is None and get(attr.ERROR_MESSAGE) is None:
        return _NO_ERROR  # nearly every span: no text to coerce, no events to read
    error_type = coerce.text(get(attr.ERROR_TYPE))
    message = coerce.text(get(attr.ERROR_MESSAGE))
    is_error = status.status_code is StatusCode.ERROR or bool(error_type)
    if is_error and not (error_type and message):
        # An exception recorded on the span says what the attributes may not.
        for event in events:
            if event.name == "exception" and event.attributes:
                error_type = error_type or coerce.text(event.attributes.get("exception.type"))
                message = message or coerce.text(event.attributes.get("exception.message"))
                break
    if is_error and not message:
        message = status.description or ""
    return is_error, error_type, message


def _leftover(attributes: Mapping[str, Any]) -> dict[str, str]:
    # Most attributes of an LLM span have a column; often all do, and one C-level check says so.
    # The empty map is shared: rows are read-only once built, and one dict fewer per row is one
    # object fewer for the garbage collector to count and walk.
    if MAPPED_SPAN_KEYS.issuperset(attributes):
        return _EMPTY
    mapped = MAPPED_SPAN_KEYS
    return {key: value if type(value) is str else _stringify(value) for key, value in attributes.items() if key not in mapped}


# Resource -> (service name, context attributes, leftover map).  A process has one or a few
# resources shared by every span, so each is digested once; the Resource is kept in the value so
# its id cannot be reused by another object while cached.  The leftover map is shared by all rows
# of the resource: rows are read-only once built.
_resource_cache: dict[int, tuple[Resource, tuple[str, dict[str, Any], dict[str, str]]]] = {}
_RESOURCE_CACHE_MAX = 256


def _resource_info(resource: Resource | None) -> tuple[str, dict[str, Any], dict[str, str]]:
    if resource is None:
        return "", {}, {}
    cached = _resource_cache.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    values = resource.attributes
    context = {_RESOURCE_ALIASES[k]: v for k, v in values.items() if k in _RESOURCE_ALIASES}
    context.update((k, v) for k, v in values.items() if k in _CONTEXT_KEYS)
    info = (
        coerce.text(values.get(_SERVICE_NAME)),
        context,
        {k: v if type(v) is str else _stringify(v) for k, v in values.items() if k not in _MAPPED_RESOURCE_KEYS},
    )
    if len(_resource_cache) >= _RESOURCE_CACHE_MAX:
        _resource_cache.clear()
    _resource_cache[id(resource)] = (resource, info)
    return info


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (tuple, list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _tags(value: Any) -> tuple:
    """Agent tags that are not the SDK's tuple already: comma-separated text, or a list."""
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(tag for tag in value.split(",") if tag)
    return tuple(value)
