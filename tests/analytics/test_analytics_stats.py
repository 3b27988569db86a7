from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.analytics.dataset import T0
from otel_llm.analytics import stats
from otel_llm.analytics.window import Window

HOUR = Window(T0, T0 + timedelta(hours=1))


def by_key(result: stats.Stats) -> dict:
    return {group["key"]: group for group in result.groups}


def test_totals_dedupe_and_window(store):
    total = stats.compute(store, HOUR).total
    # 7 calls in the window: the duplicate counts once, the call a day earlier not at all.
    assert total["calls"] == 7
    assert total["errors"] == 1
    assert total["error_rate"] == pytest.approx(1 / 7)
    assert total["cost_usd"] == Decimal("2.06")
    assert total["unpriced_calls"] == 2  # the error and local-llama
    assert total["input_tokens"] == 4000 + 1000 + 10
    assert total["cached_input_tokens"] == 2000 + 250
    assert total["output_tokens"] == 600 + 200 + 10
    assert total["reasoning_tokens"] == 50
    assert total["cache_hit_ratio"] == pytest.approx(2250 / 5010)


def test_group_by_model(store):
    groups = by_key(stats.compute(store, HOUR, by="model"))
    # The failed call had no response model: it counts under the requested one.
    assert set(groups) == {"gpt-4o-2024-08-06", "gpt-4o", "claude-sonnet-4-5-20250929", "local-llama"}
    claude = groups["claude-sonnet-4-5-20250929"]
    assert claude["calls"] == 2
    assert claude["cost_usd"] == Decimal("2.0")
    # quantiles() interpolates linearly: p50 of {1000, 3000} is 2000, p95 is 2900.
    assert claude["latency_p50_ms"] == pytest.approx(2000)
    assert claude["latency_p95_ms"] == pytest.approx(2900)
    assert claude["ttft_p50_ms"] is None  # no streams
    gpt = groups["gpt-4o-2024-08-06"]
    assert gpt["calls"] == 3
    assert gpt["ttft_p50_ms"] == pytest.approx(100)
    assert gpt["cache_hit_ratio"] == pytest.approx(0.5)
    # Most expensive first.
    assert stats.compute(store, HOUR, by="model").groups[0]["key"] == "claude-sonnet-4-5-20250929"


def test_group_by_customer_plan_agent_calltype_provider(store):
    customer = by_key(stats.compute(store, HOUR, by="customer"))
    assert customer["acme"]["calls"] == 5
    assert customer["acme"]["latency_p50_ms"] == pytest.approx(300)
    assert customer["acme"]["cost_usd"] == Decimal("0.06")
    assert customer["globex"]["reasoning_tokens"] == 50
    plan = by_key(stats.compute(store, HOUR, by="plan"))
    assert plan["(none)"]["calls"] == 1  # local-llama ran outside any plan
    assert by_key(stats.compute(store, HOUR, by="agent"))["research"]["calls"] == 2
    assert by_key(stats.compute(store, HOUR, by="call-type"))["chat"]["errors"] == 1
    assert by_key(stats.compute(store, HOUR, by="provider"))["openai"]["calls"] == 5


def test_group_by_day_includes_earlier_day_when_window_does(store):
    result = stats.compute(store, Window(T0 - timedelta(days=2), T0 + timedelta(hours=1)), by="day")
    days = by_key(result)
    assert days["2026-11-19"]["cost_usd"] == Decimal("100")
    assert days["2026-11-20"]["calls"] == 7
    assert [g["key"] for g in result.groups] == ["2026-11-19", "2026-11-20"]


def test_empty_window_says_what_to_do(store):
    with pytest.raises(stats.NoData, match="widen --since.*otel-llm demo"):
        stats.compute(store, Window(T0 - timedelta(days=30), T0 - timedelta(days=29)))


def test_unknown_dimension_is_rejected_before_any_sql(store):
    with pytest.raises(ValueError, match="choose one of"):
        stats.compute(store, HOUR, by="customer_id; DROP TABLE llm_traces")
