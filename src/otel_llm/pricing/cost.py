"""The one way a call is priced, for our own spans and other producers' alike: :func:`price_call`.

``Usage`` (see usage.py for the convention) maps onto ``genai-prices``' usage keys: input includes
cache reads and writes, output includes reasoning, and each is billed once, at the most specific
rate the model has (see compiled.py).  Once any count is reported, a missing one counts as 0: a
stream cut short still costs what it is known to have used.  With no count at all, the call is
unpriced: never 0.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Context, Decimal
from typing import NamedTuple, Union

from ..usage import Usage

try:
    from . import catalog
    from .compiled import UsageError
except ImportError as missing:  # genai-prices needs Python >= 3.11: unpriced, never a broken app
    catalog = None  # type: ignore[assignment]
    _NO_DATA = f"no price data: {missing} (genai-prices needs Python >= 3.11)"

_EXACT = Context(prec=50)

# Usage.details key -> genai-prices usage key, for the counts the data may price.
_DETAIL_KEYS = {
    "cache_write_5m": "cache_write_5m_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
    "audio_input": "input_audio_tokens",
    "audio_output": "output_audio_tokens",
    "image_input": "input_image_tokens",
    "image_output": "output_image_tokens",
    "cache_read_audio": "cache_audio_read_tokens",
    "web_search_requests": "web_searches",
}


_PRICED_DETAILS = frozenset(_DETAIL_KEYS)
# Usage.details keys that are neither priced nor billed iterations (see usage.py): when a call's
# details are all known, one set operation says it has no iterations.
_KNOWN_DETAILS = _PRICED_DETAILS | {
    "accepted_prediction",
    "rejected_prediction",
    "cache_hit",
    "cache_miss",
    "cache_write_30m",
    "cache_write_12h",
    "web_fetch_requests",
}


# A response's service tier, or (tier, "fast") for a call at Anthropic's fast speed: how the price
# data's variants are chosen, and part of the key a settled price is remembered under.
Tier = Union[str, None, tuple]


class Cost(NamedTuple):
    """A call's cost in billionths of a USD, the unit of the ``cost_usd`` column."""

    total: int | None  # None: unpriced (see unpriced_reason)
    components: dict[str, int]  # component ("input", "cache_read", "web_searches"...) -> nano-USD
    pricing_version: str  # which data priced it: "genai-prices-0.2.5[@refresh time][+overrides-v]"
    model_key: str | None  # "provider/model" of the price used
    unpriced_reason: str | None

    @property
    def usd(self) -> Decimal | None:
        return None if self.total is None else usd(self.total)

    def usd_text(self) -> str | None:
        """The total as the span attribute and the row carry it (``otel_llm.cost.usd``)."""
        return None if self.total is None else usd_text(self.total)

    def details_json(self) -> str:
        """The components as the span attribute and the row carry them (``otel_llm.cost.details``):
        a flat JSON object; names are usage keys, values fixed-point texts, nothing to escape."""
        return "{" + ",".join([f'"{name}":"{usd_text(n)}"' for name, n in self.components.items()]) + "}"


def usd(nanos: int) -> Decimal:
    return Decimal(nanos).scaleb(-9, _EXACT)


def usd_text(nanos: int) -> str:
    """Nano-USD as USD in fixed point with nine places, as ``format(Decimal, "f")`` writes them
    (never "2.00E-7"), without building the Decimal: the digits, at least ten, with the point
    before the last nine (half the cost of ``divmod`` and a ``:09d`` format; a few run per call)."""
    if nanos < 0:
        return "-" + usd_text(-nanos)
    digits = str(nanos).zfill(10)
    return f"{digits[:-9]}.{digits[-9:]}"


def price_call(
    provider: str | None,
    response_model: str | None,
    request_model: str | None,
    usage: Usage,
    at: datetime | None = None,
    service_tier: str | None = None,
) -> Cost:
    """Cost of one call served by ``provider``: priced by the model that answered (often a dated
    snapshot), else by the model asked for; at the price in force at ``at`` (None: now) and at
    the response's ``service_tier``; with the billed iterations its usage lists (Anthropic
    compactions and advisor calls, see usage.py) as components ``compaction_*`` / ``advisor_*``."""
    if usage.charged is not None:  # what was charged is the cost; no price list knows better
        return Cost(sum(usage.charged.values()), usage.charged, f"charged by {provider or 'the provider'}", None, None)
    if catalog is None:
        return Cost(None, {}, "", None, _NO_DATA)
    tier = service_tier if usage.speed != "fast" else (service_tier, "fast")
    cost = _price(provider, response_model, request_model, usage, at, tier)
    details = usage.details
    if cost.total is not None and details and not _KNOWN_DETAILS.issuperset(details) and _has_iterations(details):
        return _with_iterations(cost, provider, response_model, request_model, usage.details, at, tier)
    return cost


def _price(
    provider: str | None,
    response_model: str | None,
    request_model: str | None,
    usage: Usage,
    at: datetime | None,
    service_tier: Tier,
) -> Cost:
    prices = catalog.current()
    if at is None:  # the common case: a price already settled for this call's key
        settled = prices.settled.get((provider, response_model, request_model, service_tier))
        if settled is not None:
            if settled[0] is None:  # a model without a price: the reason, as the first call found
                return Cost(None, {}, prices.version, None, settled[1])
            counts = usage_counts(usage)
            if counts:
                try:
                    total, components = settled[1].nanos(counts)
                    return Cost(total, components, prices.version, settled[0], None)
                except UsageError:
                    pass  # the slow path says why
    model = response_model or request_model
    if not model:
        return Cost(None, {}, prices.version, None, "no model reported")
    resolved = prices.resolve(provider, model)
    if resolved.key is None and request_model and response_model and request_model != response_model:
        resolved = prices.resolve(provider, request_model)
    if resolved.key is None:
        if at is None:
            prices.remember((provider, response_model, request_model, service_tier), None, resolved.unpriced_reason)
        return Cost(None, {}, prices.version, None, resolved.unpriced_reason)
    counts = usage_counts(usage)
    if not counts:
        return Cost(None, {}, prices.version, resolved.key, "no token usage reported")
    context = _context(service_tier)
    price = prices.price(resolved, at, context)
    if price is None:
        return Cost(None, {}, prices.version, resolved.key, f"no price for {resolved.key} in force at {at}")
    try:
        total, components = price.nanos(counts)
    except UsageError as error:
        return Cost(None, {}, prices.version, resolved.key, f"inconsistent usage: {error}")
    if at is None and price is prices.settled_price(resolved, context):
        prices.remember((provider, response_model, request_model, service_tier), resolved.key, price)
    return Cost(total, components, prices.version, resolved.key, None)


_ITERATION_KINDS = ("compaction_", "advisor_")


def _with_iterations(
    cost: Cost,
    provider: str | None,
    response_model: str | None,
    request_model: str | None,
    details: dict[str, int],
    at: datetime | None,
    service_tier: Tier,
) -> Cost:
    total, components = cost.total or 0, dict(cost.components)
    for (kind, model), usage in _iterations(details).items():
        extra = _price(provider, model or response_model, model or request_model, usage, at, service_tier)
        if extra.total is None:
            reason = f"{kind} iteration ({model or response_model or request_model}): {extra.unpriced_reason}"
            return Cost(None, {}, cost.pricing_version, cost.model_key, reason)
        total += extra.total
        for name, nanos in extra.components.items():
            components[f"{kind}_{name}"] = components.get(f"{kind}_{name}", 0) + nanos
    return Cost(total, components, cost.pricing_version, cost.model_key, None)


def _iterations(details: dict[str, int]) -> dict[tuple[str, str | None], Usage]:
    """(kind, model or None for the call's) -> usage, from ``<kind>_<part>[@model]`` details;
    their input excludes cache, as Anthropic's does, so cache is added to it here."""
    found: dict[tuple[str, str | None], Usage] = {}
    for key, count in details.items():
        if not key.startswith(_ITERATION_KINDS):
            continue
        head, _, model = key.partition("@")
        kind, _, part = head.partition("_")
        usage = found.setdefault((kind, model or None), Usage(0, 0, 0, 0))
        if part == "output":
            usage.output_tokens += count
        elif part in ("input", "cache_read", "cache_write"):
            usage.input_tokens += count
            if part == "cache_read":
                usage.cache_read_tokens += count
            elif part == "cache_write":
                usage.cache_write_tokens += count
    return found


def _has_iterations(details: dict[str, int]) -> bool:
    for name in details:  # a loop, not any() over a generator: it runs on most calls
        if name.startswith(_ITERATION_KINDS):
            return True
    return False


def usage_counts(usage: Usage) -> dict[str, int]:
    """``usage`` as ``genai-prices`` usage keys; empty when nothing was reported."""
    counts: dict[str, int] = {}
    if usage.input_tokens is not None:
        counts["input_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        counts["output_tokens"] = usage.output_tokens
    if usage.cache_read_tokens:
        counts["cache_read_tokens"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        counts["output_reasoning_tokens"] = usage.reasoning_tokens
    writes = usage.cache_write_tokens or 0
    details = usage.details
    if details:
        for name, value in details.items():
            key = _DETAIL_KEYS.get(name)
            if key is not None and value:
                counts[key] = value
        # Trust the larger of a reported write total and its TTL split, if a provider's disagree.
        writes = max(writes, counts.get("cache_write_5m_tokens", 0) + counts.get("cache_write_1h_tokens", 0))
    if writes:
        counts["cache_write_tokens"] = writes
    return counts


def _context(tier: Tier) -> dict[str, str] | None:
    """The price data's request context for a response's service tier, and its speed when fast.

    OpenAI: ``default``, ``flex``, ``priority``, ``scale``...; Anthropic: ``standard`` (the
    default price), ``priority``, ``batch`` (the batch discount), and ``speed: fast``."""
    service_tier, speed = tier if isinstance(tier, tuple) else (tier, None)
    context = {"speed": speed} if speed else {}
    if service_tier == "batch":
        context["processing"] = "batch"
    elif service_tier and service_tier not in ("standard", "auto"):
        context["service_tier"] = service_tier
    return context or None
