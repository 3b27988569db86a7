"""The whole in-process pipeline: real Anthropic SDK -> AnthropicInstrumentor -> LLMTraceExporter
-> embedded chDB, with the stand-in provider on loopback."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import LLMTraceExporter, llm_context
from otel_llm import attributes as attr
from otel_llm.storage import open_store

from tests.anthropic_support import API_KEY, MODEL, instrumented, standin, sync_client  # noqa: F401 - fixture

TEN_MB = 10 * 1024 * 1024


def test_instrumented_call_with_ten_megabyte_prompt(standin, chdb_url: str) -> None:  # noqa: F811
    # A span attribute length limit far below the prompt: the row must still get all of it.
    provider = TracerProvider(span_limits=SpanLimits(max_attribute_length=8192))
    forwarded = InMemorySpanExporter()
    exporter = LLMTraceExporter(chdb_url, forward_to=forwarded)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    prompt = "standin:cached " + "p" * TEN_MB
    with instrumented(tracer_provider=provider, capture_content=True):
        client = sync_client(standin)
        with llm_context(customer_id="acme", run_id="run-7", agent_tags=["batch"]):
            client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": prompt}])
    assert exporter.force_flush(60_000)
    exporter.shutdown()

    (sent,) = forwarded.get_finished_spans()
    assert sum(len(str(value)) for value in sent.attributes.values()) < 16 * 1024  # slim enough for any OTLP hop
    assert sent.attributes[attr.PAYLOAD_REF_ROW_ID]

    store = open_store(chdb_url)
    try:
        columns, rows = store.query("SELECT * FROM llm_traces FINAL")
    finally:
        store.close()
    (row,) = [dict(zip(columns, values)) for values in rows]
    assert str(row["id"]) == sent.attributes[attr.PAYLOAD_REF_ROW_ID]
    request = json.loads(row["request_json"])
    assert request["messages"][0]["content"] == prompt
    assert row["request_bytes"] == len(row["request_json"].encode()) > TEN_MB
    assert row["payload_truncated"] is False
    assert API_KEY not in row["request_json"] and API_KEY not in row["llm_config_json"]
    assert json.loads(row["llm_config_json"])["max_tokens"] == 64
    assert "messages" not in json.loads(row["llm_config_json"])
    # The stand-in's "cached" usage: 100 uncached + 2000 read + 1500 written (1000 5m, 500 1h).
    assert (row["prompt_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (3600, 2000, 1500)
    assert row["usage_details"]["cache_write_5m"] == 1000 and row["usage_details"]["cache_write_1h"] == 500
    assert row["cost_usd"] > 0 and row["pricing_version"]
    assert (row["customer_id"], row["run_id"], row["agent_tags"]) == ("acme", "run-7", ["batch"])
    assert (row["provider"], row["operation"], row["request_model"]) == ("anthropic", "chat", MODEL)
    assert row["response_id"].startswith("msg_standin_") and row["finish_reason"] == "end_turn"


def test_openai_stream_through_batch_processor(chdb_url: str) -> None:
    """A streamed chat call, our OpenAIInstrumentor, a BatchSpanProcessor as in production."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_llm import OpenAIInstrumentor
    from otel_llm.standin.openai import openai_standin
    from tests.openai_fixtures import API_KEY as OPENAI_KEY
    from tests.openai_fixtures import make_client

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(LLMTraceExporter(chdb_url, forward_to=None)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with openai_standin() as server, make_client(server) as client:
            with llm_context(customer_id="globex", plan_type="free", is_byok=True):
                stream = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "[cached] [reasoning] hi"}], stream=True
                )
                text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    finally:
        instrumentor.uninstrument()
    provider.shutdown()  # flushes the batch processor and the writer

    store = open_store(chdb_url)
    try:
        columns, rows = store.query("SELECT * FROM llm_traces FINAL")
    finally:
        store.close()
    (row,) = [dict(zip(columns, values)) for values in rows]
    assert (row["provider"], row["operation"], row["is_stream"]) == ("openai", "chat", True)
    assert (row["prompt_tokens"], row["cached_input_tokens"]) == (2048, 1536)
    assert row["reasoning_tokens"] == 100 and row["completion_tokens"] >= 100
    assert row["ttft_ms"] is not None and row["ttft_ms"] >= 0
    assert row["cost_usd"] > 0 and row["finish_reason"] == "stop"
    assert (row["customer_id"], row["billing_plan_type"], row["is_byok"]) == ("globex", "free", True)
    assert text and text in row["response_json"]
    assert OPENAI_KEY not in row["request_json"] and "[cached] [reasoning] hi" in row["request_json"]
