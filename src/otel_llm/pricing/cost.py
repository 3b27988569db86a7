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
from typing import Mapping, NamedTuple

from ..usage import Usage
from .loader import OVERRIDE_ENV, current_table
from .schema import CACHE_WRITE_RATES, ModelPrice, PriceEntry

# Our own context, so an application that changed the thread's decimal context cannot change costs.
_EXACT = Context(prec=50, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class CostResult:
    usd: Decimal | None  # None: unpriced (see unpriced_reason); never 0 for "unknown"
    components: dict[str, Decimal] = field(default_factory=dict)  # component -> USD, sums to usd
    pricing_version: str = ""
    model_key: str | None = None  # "provider/model" of the table entry used
    unpriced_reason: str | None = None


class NanoCost(NamedTuple):
    """A call's cost in billionths of a USD, the unit of the ``cost_usd`` column.

    What instrumentors price every call with: a tuple of integers, no ``Decimal`` to build.
    """

    total: int | None  # None: unpriced (see unpriced_reason)
    components: dict[str, int]  # component -> nano-USD, each rounded on its own
    pricing_version: str
    model_key: str | None
    unpriced_reason: str | None


def compute_call_cost(
    provider: str | None,
    response_model: str | None,
    request_model: str | None,
    usage: Usage,
    at: datetime | None = None,
) -> CostResult:
    """Cost of one call: priced by the model that answered (often a dated snapshot), else by the
    model that was asked for when only that one has a price."""
    return _result(call_nanos(provider, response_model, request_model, usage, at))


def call_nanos(
    provider: str | None,
    response_model: str | None,
    request_model: str | None,
    usage: Usage,
    at: datetime | None = None,
) -> NanoCost:
    """:func:`compute_call_cost` in nano-USD."""
    cost = _nanos(provider, response_model or request_model, usage, at)
    if cost.total is None and response_model and request_model and request_model != response_model:
        cost = _nanos(provider, request_model, usage, at)
    return cost


def compute_cost(
    provider: str | None, model: str | None, usage: Usage, at: datetime | None = None
) -> CostResult:
    return _result(_nanos(provider, model, usage, at))


def _result(cost: NanoCost) -> CostResult:
    if cost.total is None:
        return CostResult(None, {}, cost.pricing_version, cost.model_key, cost.unpriced_reason)
    return CostResult(
        usd=_usd(cost.total),
        components={name: _usd(value) for name, value in cost.components.items()},
        pricing_version=cost.pricing_version,
        model_key=cost.model_key,
    )


def _nanos(provider: str | None, model: str | None, usage: Usage, at: datetime | None) -> NanoCost:
    table = current_table()
    if not model:
        return NanoCost(None, {}, table.version, None, "no model reported")
    price = table.find(provider, model)
    if price is None:
        reason = f"no price for model {model!r} (provider {provider!r}); add it via {OVERRIDE_ENV}"
        return NanoCost(None, {}, table.version, None, reason)
    if not _has_tokens(usage):
        return NanoCost(None, {}, table.version, price.key, "no token usage reported")
    entry = _settled_entry(price) if at is None else None
    if entry is None:
        at = _utc(at)
        entry = price.entry_at(at)
        if entry is None:
            reason = f"no price for {price.key} in force at {at.isoformat()}"
            return NanoCost(None, {}, table.version, price.key, reason)
    scaled = entry.scaled_rates_for(usage.input_tokens or 0)
    shift = scaled.scale - 3  # units are 10**-(scale + 6) USD; the column counts 10**-9 USD
    units = _components(scaled.rates, usage)
    components = {name: _nano(value, shift) for name, value in units.items()}
    return NanoCost(_nano(sum(units.values()), shift), components, table.version, price.key, None)


# id(model price) -> (that price, its last entry) once that entry is in force: entries only ever
# take over from earlier ones, so from then on it is the entry for every call priced "now",
# without reading the clock.  The price is kept so that a reused id cannot match a stale entry.
_SETTLED: dict[int, tuple[ModelPrice, PriceEntry]] = {}


def _settled_entry(price: ModelPrice) -> PriceEntry | None:
    settled = _SETTLED.get(id(price))
    if settled is not None and settled[0] is price:
        return settled[1]
    last = price.entries[-1] if price.entries else None
    if last is None or (last.effective_from is not None and last.effective_from > _utc(None)):
        return None  # a price change still to come: decided by the clock, call by call
    if len(_SETTLED) >= 4096:  # reloads and override files make new prices; forget old ones
        _SETTLED.clear()
    _SETTLED[id(price)] = (price, last)
    return last


def _has_tokens(usage: Usage) -> bool:
    if (
        usage.input_tokens is not None
        or usage.output_tokens is not None
        or usage.cache_read_tokens is not None
        or usage.cache_write_tokens is not None
    ):
        return True
    return any(k in usage.details for k in CACHE_WRITE_RATES)


def _components(rates: Mapping[str, int], usage: Usage) -> dict[str, int]:
    """Component -> exact cost in units of the scaled rates (token count times rate)."""
    input_rate = rates["input"]
    write_rate = rates.get("cache_write_5m", input_rate)
    details = usage.details
    # Most calls write no cache: one C-level check instead of a lookup per TTL.
    if details and not details.keys().isdisjoint(CACHE_WRITE_RATES):
        split = {ttl: n for ttl in CACHE_WRITE_RATES if (n := details.get(ttl))}
    else:
        split = {}
    split_total = sum(split.values())
    # Trust the larger of the reported total and its split if a provider's numbers disagree.
    writes = max(usage.cache_write_tokens or 0, split_total)
    reads = usage.cache_read_tokens or 0
    costs: dict[str, int] = {}
    uncached = (usage.input_tokens or 0) - reads - writes
    if uncached > 0:
        costs["input"] = uncached * input_rate
    if reads > 0:
        costs["cache_read"] = reads * rates.get("cache_read", input_rate)
    for ttl, n in split.items():
        if n > 0:
            costs[ttl] = n * rates.get(ttl, write_rate)
    if writes > split_total:
        costs["cache_write"] = (writes - split_total) * write_rate
    output = usage.output_tokens or 0
    if output > 0:
        costs["output"] = output * rates["output"]
    return costs


# Powers of ten for _nano, which runs once per cost component of every call: a table lookup
# costs half of computing 10**shift and 10**(shift - 1).
_POW10 = tuple(10**n for n in range(40))


def _nano(units: int, shift: int) -> int:
    """``units * 10**-shift`` rounded half to even: the column's nine decimal places."""
    if shift <= 0:
        return units * 10**-shift
    if shift < len(_POW10):
        divisor, half = _POW10[shift], 5 * _POW10[shift - 1]
    else:
        divisor, half = 10**shift, 5 * 10 ** (shift - 1)
    quotient, remainder = divmod(units, divisor)
    if remainder > half or (remainder == half and quotient & 1):
        quotient += 1
    return quotient


def _usd(nano: int) -> Decimal:
    return Decimal(nano).scaleb(-9, _EXACT)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    # A naive time is taken as UTC, the convention of span timestamps.
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
