"""One LLM span -> one ``llm_traces`` row (a dict keyed by column name, all but ``inserted_at``).

Hot path: the exporter calls this for every LLM span, so it reads each attribute once by key,
walks the attribute dict once for the leftovers, parses JSON only for the two small maps
(``usage_details``, ``cost_details``), and builds the payload columns by string concatenation.
Values follow the storage codec's contract (``otel_llm.storage.codec``): ``id`` the UUID's 16
bytes, timestamps int nanoseconds since the epoch, ``None`` for NULL, ``Decimal`` costs with at
most nine decimal places (the column's scale; more would fail the whole batch's Arrow encoding),
``agent_tags`` a tuple.

Apart from the row dict itself, rows hold no object the garbage collector tracks (no
``uuid.UUID``, no list): the tens of thousands of rows a writer queues were three tracked objects
each, which made the app's collections (full ones walking the whole queue) cost the exporter
~10 us a row.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from hashlib import blake2b
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from collections import ChainMap
from typing import Any, Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_llm import attributes as attr
from otel_llm.exporter import sources
from otel_llm.pricing import compute_call_cost
from otel_llm.storage.columns import COLUMN_NAMES
from otel_llm.usage import Usage

logger = logging.getLogger(__name__)

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
_SERVICE_NAME = "service.name"

# Built request JSON when the full body is absent: semconv content attributes under these keys.
_REQUEST_PARTS = (
    ("system_instructions", attr.SYSTEM_INSTRUCTIONS),
    ("input_messages", attr.INPUT_MESSAGES),
    ("tool_definitions", attr.TOOL_DEFINITIONS),
)
_REQUEST_PARAM_PREFIX = "gen_ai.request."

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
_MAPPED_RESOURCE_KEYS = _CONTEXT_KEYS | {_SERVICE_NAME} | CREDENTIAL_ATTRIBUTES
_ROW_TEMPLATE = dict.fromkeys(COLUMN_NAMES)


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
    """The ``llm_traces`` row for an LLM span, ``None`` for any other span.

    ``full_payloads`` (attribute name -> untruncated text, from :mod:`otel_llm.payloads`) wins
    over the span's own, possibly truncated, payload attributes.
    """
    attributes = sources.normalize(span_attributes(span))
    if attributes is None:
        return None
    return build_row(span, attributes, full_payloads)


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


def build_row(
    span: ReadableSpan, attributes: Mapping[str, Any], full_payloads: Mapping[str, str] | None
) -> dict:
    """The row for ``span`` whose attributes were already :func:`sources.normalize`-d."""
    get = attributes.get
    name, context, parent, start, end, resource, status, events = _span_fields(span)
    # SpanContext is a tuple; its trace_id / span_id properties are Python calls.
    trace_id, span_id = context[0], context[1]
    start = start or 0
    end = end or start
    service_name, resource_context, resource_leftover = _resource_info(resource)

    # A copy of a dict that already has every column: filling it never resizes it, whereas
    # growing a literal to 53 keys rehashed it three times (~8% of this function).
    row: dict[str, Any] = _ROW_TEMPLATE.copy()
    ids = _ids_bytes(trace_id, span_id)
    row["id"] = _row_id_of(ids)
    row["timestamp"] = start
    row["end_timestamp"] = end
    # bytes.hex() of the ids: int formatting with padding costs several times more.
    ids_hex = ids.hex()
    row["trace_id"] = ids_hex[:32]
    row["span_id"] = ids_hex[32:]
    row["parent_span_id"] = f"{parent[1]:016x}" if parent is not None else ""
    row["span_name"] = name
    row["service_name"] = service_name

    # Span values win; the resource's (usually none) fill the gaps.
    context_get = ChainMap(attributes, resource_context).get if resource_context else get
    for column, key in _CONTEXT_COLUMNS:
        value = context_get(key)
        row[column] = "" if value is None else value if type(value) is str else str(value)
    row["agent_tags"] = _tags(context_get(attr.AGENT_TAGS))
    byok = context_get(attr.IS_BYOK)
    row["is_byok"] = byok is True or (type(byok) is str and byok.lower() == "true")

    provider = _str(get(attr.PROVIDER_NAME))
    request_model = _str(get(attr.REQUEST_MODEL))
    response_model = _str(get(attr.RESPONSE_MODEL))
    finish_reasons = get(attr.RESPONSE_FINISH_REASONS)
    if type(finish_reasons) is str:
        finish_reason = finish_reasons
    else:
        finish_reason = _str(finish_reasons[0]) if finish_reasons else ""
    row["provider"] = provider
    row["operation"] = _str(get(attr.OPERATION_NAME))
    row["request_model"] = request_model
    row["response_model"] = response_model
    row["response_id"] = _str(get(attr.RESPONSE_ID))
    row["is_stream"] = get(attr.REQUEST_STREAM) is True
    row["finish_reason"] = finish_reason
    row["server_address"] = _str(get(attr.SERVER_ADDRESS))

    input_tokens = _int(get(attr.USAGE_INPUT_TOKENS))
    output_tokens = _int(get(attr.USAGE_OUTPUT_TOKENS))
    row["prompt_tokens"] = input_tokens
    row["completion_tokens"] = output_tokens
    if input_tokens is None and output_tokens is None:
        row["total_tokens"] = _int(get(sources.TOTAL_TOKENS))
    else:
        # _int again: a sum of in-range counts can still overflow UInt64.
        row["total_tokens"] = _int((input_tokens or 0) + (output_tokens or 0))
    row["cached_input_tokens"] = _int(get(attr.USAGE_CACHE_READ_INPUT_TOKENS))
    row["cache_write_tokens"] = _int(get(attr.USAGE_CACHE_CREATION_INPUT_TOKENS))
    row["reasoning_tokens"] = _int(get(attr.USAGE_REASONING_OUTPUT_TOKENS))
    row["usage_details"] = _usage_details(get(attr.USAGE_DETAILS))

    span_leftover = _leftover(attributes)
    _fill_cost(row, attributes, provider, request_model, response_model, start, span_leftover)

    row["latency_ms"] = (end - start) / 1e6
    ttfc = get(attr.RESPONSE_TIME_TO_FIRST_CHUNK)
    row["ttft_ms"] = ttfc * 1000.0 if isinstance(ttfc, (int, float)) else None
    _fill_outcome(row, status, events, get)

    _fill_payloads(row, span, attributes, full_payloads or {})
    row["span_attributes"] = span_leftover
    row["resource_attributes"] = resource_leftover
    return row


def _fill_cost(
    row: dict,
    attributes: Mapping[str, Any],
    provider: str,
    request_model: str,
    response_model: str,
    start_ns: int,
    span_leftover: dict[str, str],
) -> None:
    """Cost as the instrumentor priced it; spans of other instrumentations are priced here."""
    get = attributes.get
    if attr.COST_PRICING_VERSION in attributes or attr.COST_USD in attributes:
        row["cost_usd"] = _decimal(get(attr.COST_USD))
        row["cost_details"] = _cost_details(get(attr.COST_DETAILS))
        row["pricing_version"] = _str(get(attr.COST_PRICING_VERSION))
        return
    row["cost_usd"], row["cost_details"], row["pricing_version"] = None, {}, ""
    if row["prompt_tokens"] is None and row["completion_tokens"] is None:
        return
    usage = Usage(
        input_tokens=row["prompt_tokens"],
        output_tokens=row["completion_tokens"],
        cache_read_tokens=row["cached_input_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        reasoning_tokens=row["reasoning_tokens"],
        details=row["usage_details"],
    )
    at = datetime.fromtimestamp(start_ns / 1e9, tz=timezone.utc)
    try:
        cost = compute_call_cost(provider, response_model, request_model, usage, at)
    except Exception:  # a pricing bug must not cost us the row
        logger.debug("compute_cost failed for %s/%s", provider, request_model, exc_info=True)
        return
    row["pricing_version"] = cost.pricing_version or ""
    if cost.usd is None:
        span_leftover[attr.COST_UNPRICED_REASON] = cost.unpriced_reason or "unpriced"
        return
    row["cost_usd"] = cost.usd
    row["cost_details"] = dict(cost.components)


def _fill_outcome(row: dict, status: Any, events: Any, get: Any) -> None:
    error_type = _str(get(attr.ERROR_TYPE))
    message = _str(get(attr.ERROR_MESSAGE))
    is_error = status.status_code is StatusCode.ERROR or bool(error_type)
    if is_error and not (error_type and message):
        # An exception recorded on the span says what the attributes may not.
        for event in events:
            if event.name == "exception" and event.attributes:
                error_type = error_type or _str(event.attributes.get("exception.type"))
                message = message or _str(event.attributes.get("exception.message"))
                break
    if is_error and not message:
        message = status.description or ""
    row["is_error"] = is_error
    row["error_type"] = error_type
    row["error_message"] = message
    row["http_status_code"] = _int(get(attr.HTTP_RESPONSE_STATUS_CODE), _MAX_STATUS)


def _fill_payloads(
    row: dict, span: ReadableSpan, attributes: Mapping[str, Any], full: Mapping[str, str]
) -> None:
    # A value exactly as long as the SDK's attribute length limit was (almost surely) cut by it.
    # The SDK hands exporters its BoundedAttributes, which knows the limit it applied.
    limit = getattr(getattr(span, "_attributes", None), "max_value_len", None) or 0
    cut = [attributes.get(flag) is True for flag in sources.CONTENT_TRUNCATED_FLAGS]

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
    row["request_bytes"] = _utf8_len(request)
    row["response_bytes"] = _utf8_len(response)
    row["payload_truncated"] = any(cut)
    row["request_json"] = request
    row["response_json"] = response
    row["llm_config_json"] = config


def _payload(key: str, full: Mapping[str, str], attributes: Mapping[str, Any], limit: int, cut: list) -> str | None:
    """The payload attribute ``key`` as text: the untruncated one when stashed, else the span's
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


def _leftover(attributes: Mapping[str, Any]) -> dict[str, str]:
    # Most attributes of an LLM span have a column; often all do, and one C-level check says so.
    if MAPPED_SPAN_KEYS.issuperset(attributes):
        return {}
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
    info = (
        _str(values.get(_SERVICE_NAME)),
        {k: v for k, v in values.items() if k in _CONTEXT_KEYS},
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


def _str(value: Any) -> str:
    return "" if value is None else value if type(value) is str else str(value)


# Counts outside UInt64 (or a status outside UInt16) would fail the Arrow encoding of the whole
# batch in the writer, losing every other row with it: such values become NULL instead.
_MAX_COUNT = 2**64 - 1
_MAX_STATUS = 2**16 - 1


def _int(value: Any, maximum: int = _MAX_COUNT) -> int | None:
    if type(value) is not int:  # a plain int (nearly always) takes one check
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.isdigit():
            value = int(value)
        elif not isinstance(value, int) or isinstance(value, bool):
            return None
    return value if 0 <= value <= maximum else None


_COST_SCALE = Decimal("1e-9")  # Decimal(18, 9)
_COST_LIMIT = Decimal("1e9")  # Decimal(18, 9) holds nine integer digits


# How otel-llm's instrumentors write USD (``instrumentation.call._usd_text``): already at the
# column's scale and within its range, so Decimal() alone gives the value (no quantize, no checks).
_USD = r"\d{1,9}\.\d{9}"
_CANONICAL_USD = re.compile(_USD, re.ASCII)


def _decimal(value: Any) -> Decimal | None:
    if type(value) is str and _CANONICAL_USD.fullmatch(value):
        return Decimal(value)
    if value is None or value == "":
        return None
    try:
        number = Decimal(value if type(value) is str else str(value))
        if not number.is_finite():
            return None
        # Checked after rounding: 999999999.9999999999 rounds up to ten integer digits.
        number = number.quantize(_COST_SCALE)
    except InvalidOperation:  # not a number
        return None
    return number if abs(number) < _COST_LIMIT else None


def _tags(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(tag for tag in value.split(",") if tag)
    if type(value) is tuple and _all_str(value):
        # The SDK keeps sequence attributes as tuples, which the collector soon stops tracking;
        # reusing the span's own keeps the row untracked too.
        return value
    return tuple(str(tag) for tag in value)


def _json_mapping(value: Any) -> Mapping:
    """A JSON object given as text (or already a mapping); anything else, malformed included, is
    empty: a foreign span's odd attribute must not cost its row."""
    if not value:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _all_str(values: tuple) -> bool:
    try:
        "".join(values)  # one C pass that fails on the first item that is not a str
    except TypeError:
        return False
    return True


# The flat maps our instrumentors write (``instrumentation.call._json_object``): keys are
# identifiers, values fixed-point USD strings or plain integers, no whitespace. json.loads of
# such a short object costs several microseconds, mostly setting up the decoder; one C-level
# match validates the whole text and one findall takes it apart. Anything else is parsed as JSON.
_COST_OBJECT = re.compile(rf'\{{"\w+":"{_USD}"(?:,"\w+":"{_USD}")*\}}', re.ASCII)
_COST_MEMBER = re.compile(rf'"(\w+)":"({_USD})"', re.ASCII)
_COUNT = r"(?:0|[1-9]\d{0,18})"  # within UInt64
_USAGE_OBJECT = re.compile(rf'\{{"\w+":{_COUNT}(?:,"\w+":{_COUNT})*\}}', re.ASCII)
_USAGE_MEMBER = re.compile(rf'"(\w+)":({_COUNT})', re.ASCII)


def _usage_details(value: Any) -> dict[str, int]:
    if not value:
        return {}
    if type(value) is str and _USAGE_OBJECT.fullmatch(value):
        return {key: int(count) for key, count in _USAGE_MEMBER.findall(value)}
    return {str(k): n for k, v in _json_mapping(value).items() if (n := _int(v)) is not None}


def _cost_details(value: Any) -> dict[str, Decimal]:
    if type(value) is str and _COST_OBJECT.fullmatch(value):
        return {key: Decimal(usd) for key, usd in _COST_MEMBER.findall(value)}
    return {str(k): d for k, v in _json_mapping(value).items() if (d := _decimal(v)) is not None}


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
