"""The cost of a span another instrumentation made, which carries tokens but no cost: priced as
our instrumentors price their calls, into the same texts."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from otel_llm import attributes as attr
from otel_llm.pricing import price_call
from otel_llm.storage import values as coerce
from otel_llm.usage import Usage

logger = logging.getLogger(__name__)
_EMPTY: dict = {}


def priced_here(
    attributes: Mapping[str, Any],
    input_tokens: int | None,
    output_tokens: int | None,
    usage_details: dict,
    start_ns: int,
) -> tuple[str | None, str | dict, str, str]:
    """(cost, its components, pricing version, why unpriced) for a span of another
    instrumentation, which carries tokens but no cost: priced as our instrumentors price their
    calls (``price_call``), at the span's start time and service tier, in the same texts."""
    if input_tokens is None and output_tokens is None:
        return None, _EMPTY, "", ""
    get = attributes.get
    provider = coerce.text(get(attr.PROVIDER_NAME))
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=coerce.count(get(attr.USAGE_CACHE_READ_INPUT_TOKENS)),
        cache_write_tokens=coerce.count(get(attr.USAGE_CACHE_CREATION_INPUT_TOKENS)),
        reasoning_tokens=coerce.count(get(attr.USAGE_REASONING_OUTPUT_TOKENS)),
        details=usage_details,
        speed=coerce.text(get(attr.ANTHROPIC_SPEED)) or None,
    )
    at = datetime.fromtimestamp(start_ns / 1e9, tz=timezone.utc)
    request_model, response_model = coerce.text(get(attr.REQUEST_MODEL)), coerce.text(get(attr.RESPONSE_MODEL))
    tier = coerce.text(get(attr.OPENAI_RESPONSE_SERVICE_TIER) or get(attr.ANTHROPIC_SERVICE_TIER))
    try:
        cost = price_call(provider, response_model, request_model, usage, at, tier)
    except Exception:  # a pricing bug must not cost us the row
        logger.debug("price_call failed for %s/%s", provider, request_model, exc_info=True)
        return None, _EMPTY, "", ""
    if cost.total is None:
        return None, _EMPTY, cost.pricing_version, cost.unpriced_reason or "unpriced"
    return cost.usd_text(), cost.details_json(), cost.pricing_version, ""


def usage_details(value: Any) -> dict[str, int]:
    """Usage details as the column stores them, to price a span that carries no cost."""
    if type(value) is str:
        value = coerce.map_from_text(value)  # a foreign span's odd text is an empty map
    if not isinstance(value, Mapping):
        return {}
    return {str(k): n for k, v in value.items() if (n := coerce.count(v)) is not None}
