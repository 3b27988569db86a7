"""The cost of one LLM call from its normalized ``Usage`` (see usage.py for the convention).

- ``input_tokens`` includes cache reads and writes, so uncached input = input - reads - writes.
- Cache writes are priced by their TTL split in ``usage.details`` (``cache_write_5m``, ``_1h``,
  OpenAI's ``_30m``, ``_12h``); a TTL with no rate of its own, and any unsplit remainder (component
  ``cache_write``), cost the 5-minute write rate, or the input rate when the model has no write price.
- Cache reads without a ``cache_read`` rate cost the input rate (the model has no cache discount).
- ``output_tokens`` includes reasoning, which is billed as output: it is not added again.
- The whole call is priced at the long-context tier its total input reaches.
- Once any count is reported, a missing one counts as 0: a stream cut short before its final usage
  still costs what it is known to have used.  With no count at all the call is unpriced, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Mapping

from ..usage import Usage
from .loader import OVERRIDE_ENV, current_table
from .schema import CACHE_WRITE_RATES

# Our own context, so an application that changed the thread's decimal context cannot change costs.
# 50 digits keep every product of a token count and a rate exact.
_EXACT = Context(prec=50, rounding=ROUND_HALF_EVEN)
_NANO_USD = Decimal("1e-9")  # the ClickHouse column is Decimal(18, 9)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CostResult:
    usd: Decimal | None  # None: unpriced (see unpriced_reason); never 0 for "unknown"
    components: dict[str, Decimal] = field(default_factory=dict)  # component -> USD, sums to usd
    pricing_version: str = ""
    model_key: str | None = None  # "provider/model" of the table entry used
    unpriced_reason: str | None = None


def compute_cost(
    provider: str | None, model: str | None, usage: Usage, at: datetime | None = None
) -> CostResult:
    table = current_table()
    if not model:
        return CostResult(None, {}, table.version, None, "no model reported")
    price = table.find(provider, model)
    if price is None:
        reason = f"no price for model {model!r} (provider {provider!r}); add it via {OVERRIDE_ENV}"
        return CostResult(None, {}, table.version, None, reason)
    if not _has_tokens(usage):
        return CostResult(None, {}, table.version, price.key, "no token usage reported")
    at = _utc(at)
    entry = price.entry_at(at)
    if entry is None:
        reason = f"no price for {price.key} in force at {at.isoformat()}"
        return CostResult(None, {}, table.version, price.key, reason)
    exact = _components(entry.rates_for(usage.input_tokens or 0), usage)
    total = _ZERO
    for value in exact.values():
        total = _EXACT.add(total, value)
    return CostResult(
        usd=_to_nano(total),
        components={name: _to_nano(value) for name, value in exact.items()},
        pricing_version=table.version,
        model_key=price.key,
    )


def _has_tokens(usage: Usage) -> bool:
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    return any(n is not None for n in counts) or any(k in usage.details for k in CACHE_WRITE_RATES)


def _components(rates: Mapping[str, Decimal], usage: Usage) -> dict[str, Decimal]:
    input_rate = rates["input"]
    write_rate = rates.get("cache_write_5m", input_rate)
    split = {ttl: n for ttl in CACHE_WRITE_RATES if (n := usage.details.get(ttl))}
    split_total = sum(split.values())
    # Trust the larger of the reported total and its split if a provider's numbers disagree.
    writes = max(usage.cache_write_tokens or 0, split_total)
    reads = usage.cache_read_tokens or 0
    priced = [
        ("input", max((usage.input_tokens or 0) - reads - writes, 0), input_rate),
        ("cache_read", reads, rates.get("cache_read", input_rate)),
        *((ttl, n, rates.get(ttl, write_rate)) for ttl, n in split.items()),
        ("cache_write", writes - split_total, write_rate),
        ("output", usage.output_tokens or 0, rates["output"]),
    ]
    return {
        name: _EXACT.multiply(tokens, rate).scaleb(-6, _EXACT)
        for name, tokens, rate in priced
        if tokens > 0
    }


def _to_nano(value: Decimal) -> Decimal:
    return value.quantize(_NANO_USD, context=_EXACT)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    # A naive time is taken as UTC, the convention of span timestamps.
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
