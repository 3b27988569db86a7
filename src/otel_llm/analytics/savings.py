"""What prompt caching saved: cache-read tokens priced at the input rate minus the cache-read rate.

Computed from the token columns and ``otel_llm.pricing`` (list prices in force on each UTC day),
not stored per row. A call over a long-context threshold is priced at the base tier here, so for
such calls the saving is understated. Models without a price are listed, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal

from otel_llm import pricing
from otel_llm.analytics import queries
from otel_llm.analytics.stats import run_query
from otel_llm.analytics.window import Window
from otel_llm.storage.base import Store
from otel_llm.usage import Usage


@dataclass
class CacheSavings:
    by_model: dict[str, Decimal] = field(default_factory=dict)
    unpriced_models: set[str] = field(default_factory=set)

    @property
    def total(self) -> Decimal:
        return sum(self.by_model.values(), Decimal(0))


def compute(store: Store, window: Window) -> CacheSavings:
    result = CacheSavings()
    for row in run_query(store, queries.CACHE_READS, window.parameters):
        saved = saved_usd(row["provider"], row["model"], row["day"], row["cached_input"])
        if saved is None:
            result.unpriced_models.add(row["model"])
        else:
            result.by_model[row["model"]] = result.by_model.get(row["model"], Decimal(0)) + saved
    return result


def saved_usd(provider: str, model: str, day: date, cached_tokens: int) -> Decimal | None:
    """What ``cached_tokens`` would have cost as plain input, minus what they cost as cache reads,
    at the prices in force at the end of ``day`` (a model without a cache-read price: 0 saved)."""
    at = datetime.combine(day, time.max, timezone.utc)
    uncached = pricing.price_call(provider, model, None, Usage(input_tokens=cached_tokens), at)
    cached = pricing.price_call(provider, model, None, Usage(input_tokens=cached_tokens, cache_read_tokens=cached_tokens), at)
    if uncached.total is None or cached.total is None:
        return None
    return pricing.usd(uncached.total - cached.total)
