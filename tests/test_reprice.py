"""``otel-llm reprice``: rows unpriced or priced by older data get today's cost, on the embedded
store and over HTTP, with payloads kept, and a second run changes nothing."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from tests.rows import make_row

from otel_llm.cli import main
from otel_llm.pricing import pricing_version, reload
from otel_llm.pricing.reprice import reprice
from otel_llm.storage import open_store, values
from otel_llm.storage.columns import COLUMN_NAMES

DAY_NS = 86_400 * 10**9


@pytest.fixture(autouse=True)
def bundled_prices(monkeypatch, tmp_path):
    monkeypatch.delenv("OTEL_LLM_PRICES_FILE", raising=False)
    monkeypatch.setenv("OTEL_LLM_PRICES_CACHE", str(tmp_path / "none.json"))
    reload()


def rows() -> list[tuple]:
    unpriced = make_row(1, run="reprice") | {
        "request_model": "gpt-5.5", "response_model": "gpt-5.5", "prompt_tokens": 10_000, "completion_tokens": 1_000,
        "cached_input_tokens": 4_000, "usage_details": {}, "cost_usd": None, "cost_details": {},
        "span_attributes": {"otel_llm.cost.unpriced_reason": "no price for model 'gpt-5.5'", "http.method": "POST"}}
    stale = make_row(2, run="reprice") | {"usage_details": {}, "service_tier": "flex",
                                            "request_model": "gpt-5.4-mini", "response_model": "gpt-5.4-mini"}
    self_hosted = make_row(3, run="reprice") | {"provider": "self_hosted", "request_model": "llama3", "response_model": "llama3",
                                                 "cost_usd": None, "cost_details": {}}
    old = make_row(4, run="reprice") | {"timestamp": time.time_ns() - 60 * DAY_NS, "cost_usd": None, "cost_details": {}}
    return [values.as_row(row) for row in (unpriced, stale, self_hosted, old)]


def stored(store) -> dict[str, dict]:
    columns, values = store.query(
        "SELECT id, cost_usd, cost_details, pricing_version, span_attributes, request_json FROM llm_traces FINAL ORDER BY span_id")
    return {str(row[0]): dict(zip(columns, row)) for row in values}


def check_repriced(store) -> None:
    version = pricing_version()
    unpriced, stale, self_hosted, old = stored(store).values()
    # gpt-5.5: 6000 x $5 = 0.03; cached 4000 x $0.50 = 0.002; 1000 x $30 = 0.03
    assert unpriced["cost_usd"] == Decimal("0.062") and unpriced["pricing_version"] == version
    assert unpriced["cost_details"] == {"input": Decimal("0.03"), "cache_read": Decimal("0.002"), "output": Decimal("0.03")}
    assert unpriced["span_attributes"] == {"http.method": "POST"}  # the reason is gone with the cause
    assert '"messages"' in unpriced["request_json"]  # payloads kept
    # gpt-5.4-mini on flex: 1200 x $0.375 = 0.00045; 300 x $2.25 = 0.000675
    assert stale["cost_usd"] == Decimal("0.001125") and stale["pricing_version"] == version
    assert self_hosted["cost_usd"] is None and self_hosted["pricing_version"] == version
    assert "self-hosted" in self_hosted["span_attributes"]["otel_llm.cost.unpriced_reason"]
    assert old["cost_usd"] is None and old["pricing_version"] == "2025-01"  # outside the window


def test_reprice_on_the_embedded_store_is_idempotent(chdb_url):
    assert main(["init-db", "--url", chdb_url]) == 0
    store = open_store(chdb_url)
    try:
        store.insert(COLUMN_NAMES, rows())
        seen = []
        result = reprice(store, datetime.now(timezone.utc) - timedelta(days=30), progress=seen.append)
        assert (result.scanned, result.updated, result.priced) == (3, 3, 2) and seen
        check_repriced(store)
        again = reprice(store, datetime.now(timezone.utc) - timedelta(days=30))
        assert (again.scanned, again.updated) == (1, 0)  # the self-hosted row: still no price, nothing to write
        check_repriced(store)
    finally:
        store.close()


def test_reprice_command_on_a_server(clickhouse_http, capsys):
    assert main(["init-db", "--url", clickhouse_http.url]) == 0
    store = open_store(clickhouse_http.url)
    try:
        store.insert(COLUMN_NAMES, rows())
    finally:
        store.close()
    capsys.readouterr()
    assert main(["reprice", "--since", "30d", "--url", clickhouse_http.url]) == 0
    out = capsys.readouterr()
    assert "3 rows unpriced or priced by other data; 3 updated (2 with a cost)" in out.out
    assert "rows checked" in out.err  # progress
    store = open_store(clickhouse_http.url)
    try:
        check_repriced(store)
    finally:
        store.close()


def test_reprice_keeps_what_was_charged_and_prices_fast_mode_at_its_rates(clickhouse_http):
    charged = make_row(5, run="reprice") | {"provider": "openrouter", "request_model": "openai/gpt-4o-mini",
                                             "response_model": "openai/gpt-4o-mini", "cost_usd": Decimal("0.00021"),
                                             "cost_details": {"charged": Decimal("0.00021")},
                                             "pricing_version": "charged by openrouter"}
    fast = make_row(6, run="reprice") | {"provider": "anthropic", "request_model": "claude-opus-5",
                                          "response_model": "claude-opus-5", "prompt_tokens": 1_000, "completion_tokens": 100,
                                          "cached_input_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": None,
                                          "usage_details": {}, "cost_usd": None, "cost_details": {},
                                          "span_attributes": {"anthropic.usage.speed": "fast"}}
    assert main(["init-db", "--url", clickhouse_http.url]) == 0
    store = open_store(clickhouse_http.url)
    try:
        store.insert(COLUMN_NAMES, [values.as_row(charged), values.as_row(fast)])
        result = reprice(store, datetime.now(timezone.utc) - timedelta(days=1))
        assert (result.scanned, result.updated) == (1, 1)  # the charged row is not even read
        after = stored(store)
    finally:
        store.close()
    assert after[str(charged["id"])]["cost_usd"] == Decimal("0.00021")
    # claude-opus-5 fast mode: 1000 x $10 = 0.01; 100 x $50 = 0.005
    assert after[str(fast["id"])]["cost_usd"] == Decimal("0.015")
