"""LLMTraceExporter end to end: real SDK spans -> real storage writer -> embedded chDB -> query back."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_llm import LLMTraceExporter, payloads
from otel_llm import attributes as attr
from otel_llm.exporter.row import row_id
from otel_llm.storage import open_store

from .spans import ANTHROPIC_SDK, OPENINFERENCE, OPENLLMETRY, OURS, RESOURCE, emit

TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One data directory for the module: chDB opens one directory per process.
    return f"chdb://{tmp_path_factory.mktemp('exporter-store') / 'db'}"


def query_rows(url: str, where: str, parameters: dict) -> list[dict]:
    store = open_store(url)
    try:
        columns, rows = store.query(f"SELECT * FROM llm_traces FINAL WHERE {where} ORDER BY timestamp", parameters)
    finally:
        store.close()
    return [dict(zip(columns, row)) for row in rows]


def export_and_close(exporter: LLMTraceExporter, *batches: list) -> None:
    for spans in batches:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.force_flush(30_000)
    exporter.shutdown()


def test_every_column_round_trips(store_url: str) -> None:
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(store_url, forward_to=forwarded)
    span = emit(OURS, parent=True)
    export_and_close(exporter, [span])

    (row,) = query_rows(store_url, "id = {id:UUID}", {"id": str(row_id(span.context.trace_id, span.context.span_id))})
    assert row["timestamp"].timestamp() == pytest.approx(1_763_000_000.0)
    assert row["end_timestamp"].timestamp() == pytest.approx(1_763_000_002.0)
    expected = {
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_span_id": f"{span.parent.span_id:016x}",
        "span_name": "chat gpt-4o",
        "service_name": "support-bot",
        "organization_id": "org-1",
        "project_id": "proj-1",
        "user_id": "user-1",
        "conversation_id": "conv-1",
        "agent_id": "agent-1",
        "agent_tags": ["triage", "beta"],
        "run_id": "run-1",
        "step_id": "step-1",
        "call_type": "completion",
        "billing_plan_type": "enterprise",
        "billing_cost_source": "platform",
        "customer_id": "acme",
        "is_byok": True,
        "provider": "openai",
        "operation": "chat",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "response_id": "chatcmpl-123",
        "is_stream": True,
        "finish_reason": "stop",
        "server_address": "api.openai.com",
        "prompt_tokens": 1200,
        "completion_tokens": 0,
        "total_tokens": 1200,
        "cached_input_tokens": 1000,
        "cache_write_tokens": None,
        "reasoning_tokens": 0,
        "usage_details": {"audio_input": 3},
        "cost_usd": Decimal("0.00175"),
        "cost_details": {"input": Decimal("0.0005"), "cache_read": Decimal("0.00125")},
        "pricing_version": "2026-11-01",
        "latency_ms": 2000.0,
        "ttft_ms": 250.0,
        "is_error": False,
        "error_type": "",
        "error_message": "",
        "http_status_code": 200,
        "request_bytes": len(OURS[attr.REQUEST_JSON]),
        "response_bytes": len(OURS[attr.RESPONSE_JSON]),
        "payload_truncated": False,
        "request_json": OURS[attr.REQUEST_JSON],
        "response_json": OURS[attr.RESPONSE_JSON],
        "llm_config_json": OURS[attr.LLM_CONFIG_JSON],
        "span_attributes": {attr.REQUEST_MAX_TOKENS: "256", attr.SERVER_PORT: "443", "custom.tag": "kept"},
    }
    assert {column: row[column] for column in expected} == expected
    assert row["resource_attributes"]["deployment.environment"] == "test"
    assert "service.name" not in row["resource_attributes"]
    # Small payloads are forwarded as they are.
    assert forwarded.get_finished_spans()[0] is span


def test_foreign_producers_round_trip(store_url: str) -> None:
    exporter = LLMTraceExporter(store_url, forward_to=None)
    spans = [
        emit(ANTHROPIC_SDK, name="anthropic.messages.create"),
        emit(OPENLLMETRY, name="anthropic.chat"),
        emit(OPENINFERENCE, name="ChatCompletion"),
    ]
    export_and_close(exporter, spans)
    rows = query_rows(
        store_url, "trace_id IN {ids:Array(String)}", {"ids": [f"{s.context.trace_id:032x}" for s in spans]}
    )
    by_name = {row["span_name"]: row for row in rows}
    anthropic_row = by_name["anthropic.messages.create"]
    assert (anthropic_row["prompt_tokens"], anthropic_row["cached_input_tokens"], anthropic_row["cache_write_tokens"]) == (
        1500, 200, 300)
    assert anthropic_row["usage_details"] == {"cache_write_5m": 100, "cache_write_1h": 200}
    assert anthropic_row["cost_usd"] > 0 and anthropic_row["finish_reason"] == "end_turn"
    openllmetry_row = by_name["anthropic.chat"]
    assert (openllmetry_row["provider"], openllmetry_row["prompt_tokens"], openllmetry_row["total_tokens"]) == (
        "anthropic", 110, 115)
    openinference_row = by_name["ChatCompletion"]
    assert (openinference_row["request_model"], openinference_row["reasoning_tokens"]) == ("gpt-4o-mini", 2)
    assert openinference_row["span_attributes"] == {"session.id": "sess-9"}


def test_ten_megabyte_payload_row_full_forwarded_span_small(store_url: str) -> None:
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(store_url, forward_to=forwarded, offload_threshold_bytes=1024, preview_chars=100)
    big = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "é" + "x" * TEN_MB}]})
    span = emit({attr.OPERATION_NAME: "chat", attr.PROVIDER_NAME: "openai", attr.REQUEST_JSON: big})
    export_and_close(exporter, [span])

    (slim,) = forwarded.get_finished_spans()
    assert slim is not span and span.attributes[attr.REQUEST_JSON] is big  # original untouched
    assert slim.attributes[attr.REQUEST_JSON] == big[:100]
    assert slim.attributes[attr.REQUEST_JSON + attr.PAYLOAD_OFFLOADED_BYTES_SUFFIX] == len(big.encode())
    the_id = row_id(span.context.trace_id, span.context.span_id)
    assert slim.attributes[attr.PAYLOAD_REF_ROW_ID] == str(the_id)
    assert sum(len(str(v)) for v in slim.attributes.values()) < 1024

    (row,) = query_rows(store_url, "id = {id:UUID}", {"id": str(the_id)})
    assert row["request_json"] == big
    assert row["request_bytes"] == len(big.encode()) and row["payload_truncated"] is False


def test_attribute_length_limit_row_still_full_via_kept_payloads(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4096")
    provider = TracerProvider(resource=RESOURCE)  # reads the limit from the environment
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(store_url, forward_to=forwarded)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    big = json.dumps({"messages": [{"role": "user", "content": "y" * TEN_MB}]})
    cut = provider.get_tracer("test").start_span("chat gpt-4o", kind=SpanKind.CLIENT,
                                                  attributes={attr.OPERATION_NAME: "chat"})
    context = cut.get_span_context()
    # What an in-process instrumentor does: the span gets the (limited) attribute and keeps the whole text.
    payloads.keep(cut, {attr.REQUEST_JSON: big}, {})
    cut.set_attribute(attr.REQUEST_JSON, big)
    cut.end()
    # Without kept payloads the row says it is incomplete.
    lossy = provider.get_tracer("test").start_span("chat gpt-4o", attributes={attr.OPERATION_NAME: "chat"})
    lossy.set_attribute(attr.REQUEST_JSON, big)
    lossy.end()
    assert exporter.force_flush(30_000)
    exporter.shutdown()

    full = query_rows(store_url, "span_id = {s:String}", {"s": f"{context.span_id:016x}"})[0]
    assert full["request_json"] == big and full["payload_truncated"] is False
    partial = query_rows(store_url, "span_id = {s:String}", {"s": f"{lossy.get_span_context().span_id:016x}"})[0]
    assert partial["request_bytes"] == 4096 and partial["payload_truncated"] is True


def test_same_span_exported_twice_is_one_row(store_url: str) -> None:
    span = emit(OURS)
    export_and_close(LLMTraceExporter(store_url, forward_to=None), [span], [span])
    export_and_close(LLMTraceExporter(store_url, forward_to=None), [span])
    rows = query_rows(store_url, "span_id = {s:String}", {"s": f"{span.context.span_id:016x}"})
    assert len(rows) == 1


def test_non_llm_spans_forwarded_untouched(store_url: str) -> None:
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(store_url, forward_to=forwarded)
    plain = emit({"http.request.method": "GET", "gen_ai.input.messages.note": "x" * 5000}, name="GET /")
    export_and_close(exporter, [plain])
    assert forwarded.get_finished_spans() == (plain,)
    assert forwarded.get_finished_spans()[0] is plain
    assert query_rows(store_url, "trace_id = {t:String}", {"t": f"{plain.context.trace_id:032x}"}) == []


class _FailingExporter(SpanExporter):
    def export(self, spans):  # noqa: ANN001 - SpanExporter signature
        raise ConnectionError("collector down")

    def shutdown(self) -> None:
        raise ConnectionError("collector down")


class _SlowExporter(SpanExporter):
    def export(self, spans):  # noqa: ANN001
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        time.sleep(timeout_millis / 1000)
        return False


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/", "nonsense://nowhere", "chdb:///proc/forbidden/db"])
def test_export_never_raises_with_broken_store_or_forwarder(url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("OTEL_LLM_HOME", str(tmp_path / "home"))
    exporter = LLMTraceExporter(url, forward_to=_FailingExporter())
    started = time.monotonic()
    result = exporter.export([emit(OURS), emit({"plain": 1}, name="other")])
    assert result is SpanExportResult.FAILURE  # the forwarder failed; nothing raised
    assert time.monotonic() - started < 1.0  # and nothing waited for ClickHouse
    exporter.force_flush(2_000)
    exporter.shutdown(timeout_millis=2_000)
    assert time.monotonic() - started < 10.0


def test_force_flush_honours_its_timeout(store_url: str) -> None:
    exporter = LLMTraceExporter(store_url, forward_to=_SlowExporter())
    exporter.export([emit(OURS)])
    started = time.monotonic()
    assert exporter.force_flush(timeout_millis=500) is False
    assert time.monotonic() - started < 2.0
    exporter.shutdown()


def test_remote_clickhouse_over_http(clickhouse_http) -> None:  # noqa: ANN001 - storage's fixture
    """The same rows through clickhouse-connect to ClickHouse's HTTP interface (chDB behind it)."""
    exporter = LLMTraceExporter(clickhouse_http.url, forward_to=None)
    spans = [emit(OURS), emit(ANTHROPIC_SDK, name="anthropic.messages.create")]
    export_and_close(exporter, spans)
    rows = query_rows(
        clickhouse_http.url, "trace_id IN {ids:Array(String)}", {"ids": [f"{s.context.trace_id:032x}" for s in spans]}
    )
    by_name = {row["span_name"]: row for row in rows}
    assert by_name["chat gpt-4o"]["cost_usd"] == Decimal("0.00175")
    assert by_name["chat gpt-4o"]["request_json"] == OURS[attr.REQUEST_JSON]
    assert by_name["chat gpt-4o"]["agent_tags"] == ["triage", "beta"]
    assert by_name["anthropic.messages.create"]["usage_details"] == {"cache_write_5m": 100, "cache_write_1h": 200}


def test_kept_payloads_reach_the_row_and_the_forwarded_span_carries_its_own(store_url: str) -> None:
    """The row gets the full payloads kept with the span; the forwarded copy carries the span's
    own attributes (slimmed), as every other exporter of the provider sees them."""
    provider = TracerProvider(resource=RESOURCE)
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(store_url, forward_to=forwarded, offload_threshold_bytes=1024, preview_chars=10)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    small_request = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    large_response = json.dumps({"id": "r", "choices": [{"message": {"content": "z" * 5000}}]})
    output = json.dumps([{"role": "assistant", "content": "z" * 5000}])
    span = provider.get_tracer("test").start_span("chat gpt-4o", attributes={attr.OPERATION_NAME: "chat"})
    span.set_attribute(attr.OUTPUT_MESSAGES, output)
    payloads.keep(span, {attr.REQUEST_JSON: small_request}, {attr.RESPONSE_JSON: json.loads(large_response)})
    span.end()
    assert exporter.force_flush(30_000)
    exporter.shutdown()

    (sent,) = forwarded.get_finished_spans()
    assert attr.REQUEST_JSON not in sent.attributes and attr.RESPONSE_JSON not in sent.attributes
    assert sent.attributes[attr.OUTPUT_MESSAGES] == output[:10]
    assert sent.attributes[attr.OUTPUT_MESSAGES + attr.PAYLOAD_OFFLOADED_BYTES_SUFFIX] == len(output)
    (row,) = query_rows(store_url, "id = {id:UUID}", {"id": sent.attributes[attr.PAYLOAD_REF_ROW_ID]})
    assert row["request_json"] == small_request
    assert json.loads(row["response_json"]) == json.loads(large_response)
