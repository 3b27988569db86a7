"""The fast path (``price_call``: a price resolved and compiled once, integers per call) agrees with
``genai_prices.calc_price`` to 1e-9 USD over every provider's models: usages with cache reads,
both kinds of cache writes, reasoning, audio, web searches, long contexts past the tiers, service
tiers, and times across price changes (start dates, DeepSeek's off-peak hours)."""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import genai_prices
import pytest
from genai_prices.data_snapshot import get_snapshot

from otel_llm import pricing
from otel_llm.pricing import price_call, usage_counts
from otel_llm.pricing.providers import semconv_name
from otel_llm.usage import Usage

USAGES = [
    Usage(input_tokens=12_345, output_tokens=678),
    Usage(input_tokens=50_000, cache_read_tokens=30_000, cache_write_tokens=5_000, output_tokens=2_000,
          reasoning_tokens=1_500, details={"cache_write_5m": 3_000, "cache_write_1h": 2_000}),
    Usage(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=40_000, reasoning_tokens=10_000),  # past the tiers
    Usage(input_tokens=9_000, cache_read_tokens=1_000, cache_write_tokens=777, output_tokens=3_333,
          details={"audio_input": 2_000, "web_search_requests": 3}),
    Usage(input_tokens=1_000_001, output_tokens=999_999, cache_write_tokens=250_000),
]
TIMES = [
    datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc),
    datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc),  # DeepSeek off-peak
    datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
]
TIERS = [None, "flex", "priority", "batch"]


@pytest.fixture(autouse=True)
def bundled_only(monkeypatch, tmp_path):
    monkeypatch.delenv("OTEL_LLM_PRICES_FILE", raising=False)
    monkeypatch.setenv("OTEL_LLM_PRICES_CACHE", str(tmp_path / "none.json"))
    pricing.reload()
    yield
    pricing.reload()


def _reference(provider_id: str, model_id: str, usage: Usage, at: datetime, tier: str | None) -> Decimal | None:
    counts = usage_counts(usage)
    # Every key the library may ask about, given explicitly (0 = reported as none), as we do.
    full = {**dict.fromkeys(("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                             "cache_write_5m_tokens", "cache_write_1h_tokens", "input_audio_tokens",
                             "cache_audio_read_tokens", "output_reasoning_tokens", "web_searches"), 0), **counts}
    context = None if tier is None else ({"processing": "batch"} if tier == "batch" else {"service_tier": tier})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return genai_prices.calc_price(genai_prices.Usage(**full), model_id, provider_id=provider_id,
                                           genai_request_timestamp=at, price_context=context).total_price
    except (ValueError, LookupError):
        return None  # a unit this usage cannot express for this model (seconds, pages, characters...)


def test_fast_path_agrees_with_calc_price_across_providers_and_models():
    compared: Counter[str] = Counter()
    cases = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            for i, usage in enumerate(USAGES):
                at = TIMES[(cases + i) % len(TIMES)]
                tier = TIERS[(cases + i) % len(TIERS)]
                cases += 1
                expected = _reference(provider.id, model.id, usage, at, tier)
                if expected is None:
                    continue
                cost = price_call(semconv_name(provider.id), model.id, None, usage, at, tier)
                assert cost.total is not None, (provider.id, model.id, cost.unpriced_reason)
                assert abs(cost.usd - expected) <= Decimal("1e-9"), (provider.id, model.id, usage, at, tier, cost)
                compared[provider.id] += 1
    models = sum(len(p.models) for p in get_snapshot().providers)
    assert models > 1_000 and sum(compared.values()) > 3 * models  # hundreds of models, most usages each
    assert len(compared) >= 40  # nearly every provider


def test_the_settled_fast_path_agrees_with_calc_price_now():
    """Calls priced "now" (at=None), as instrumentors price them: the second call of a model takes
    the one-lookup path (prices settled for good), which must give the same cost."""
    compared = 0
    for provider in get_snapshot().providers:
        for i, model in enumerate(provider.models):
            usage, tier = USAGES[i % len(USAGES)], TIERS[i % len(TIERS)]
            expected = _reference(provider.id, model.id, usage, datetime.now(timezone.utc), tier)
            if expected is None:
                continue
            for _ in range(2):
                cost = price_call(semconv_name(provider.id), model.id, None, usage, None, tier)
                assert abs(cost.usd - expected) <= Decimal("1e-9"), (provider.id, model.id, usage, tier, cost)
            compared += 1
    assert compared > 1_000
