"""Sync Messages calls through the real SDK against the stand-in: usage, cost, payloads, identity."""

from __future__ import annotations

import json
from decimal import Decimal

import anthropic
import pytest
from tests.anthropic_support import (  # noqa: F401 - fixtures
    API_KEY,
    MODEL,
    ask,
    client,
    instrument,
    instrumented,
    only_span,
    request,
    standin,
    sync_client,
)

from otel_llm import attributes as attr
from otel_llm.context import llm_context


def test_cached_usage_and_cost_are_exact(client, span_exporter):
    message = client.messages.create(**request("cached"))

    span = only_span(span_exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    a = span.attributes
    assert a[attr.PROVIDER_NAME] == "anthropic"
    assert a[attr.OPERATION_NAME] == "chat"
    assert a[attr.REQUEST_STREAM] is False
    assert a[attr.REQUEST_MAX_TOKENS] == 64
    assert a[attr.RESPONSE_ID] == message.id and message.id.startswith("msg_standin_")
    assert a[attr.RESPONSE_MODEL] == MODEL
    assert a[attr.RESPONSE_FINISH_REASONS] == ("end_turn",)
    # uncached 100 + read 2000 + write 5m 1000 + write 1h 500
    assert a[attr.USAGE_INPUT_TOKENS] == 3600
    assert a[attr.USAGE_CACHE_READ_INPUT_TOKENS] == 2000
    assert a[attr.USAGE_CACHE_CREATION_INPUT_TOKENS] == 1500
    assert a[attr.USAGE_OUTPUT_TOKENS] == 20
    assert json.loads(a[attr.USAGE_DETAILS]) == {"cache_write_5m": 1000, "cache_write_1h": 500}
    # claude-haiku-4-5 per million: input 1.00, read 0.10, write 5m 1.25, write 1h 2.00, output 5.00
    assert Decimal(a[attr.COST_USD]) == Decimal("0.00265")
    assert {k: Decimal(v) for k, v in json.loads(a[attr.COST_DETAILS]).items()} == {
        "input": Decimal("0.0001"),
        "cache_read": Decimal("0.0002"),
        "cache_write": Decimal("0.00125"),  # the 5-minute writes, at the cache-write rate
        "cache_write_1h": Decimal("0.001"),
        "output": Decimal("0.0001"),
    }


def test_thinking_tokens_are_reasoning_output(client, span_exporter):
    client.messages.create(**request("thinking"))
    a = only_span(span_exporter).attributes
    assert a[attr.USAGE_OUTPUT_TOKENS] == 300
    assert a[attr.USAGE_REASONING_OUTPUT_TOKENS] == 250
    assert a[attr.USAGE_INPUT_TOKENS] == 100
    assert Decimal(a[attr.COST_USD]) == Decimal("0.0016")  # 100 * 1.00 + 300 * 5.00 per million


def test_server_tool_use_counts_are_kept(client, span_exporter):
    client.messages.create(**request("web_search"))
    details = json.loads(only_span(span_exporter).attributes[attr.USAGE_DETAILS])
    assert details["web_search_requests"] == 2


def test_result_is_identical_with_and_without_instrumentation(standin, tracer_provider, span_exporter):
    plain = sync_client(standin).messages.create(**request("tool"))
    with instrumented(tracer_provider=tracer_provider):
        traced = sync_client(standin).messages.create(**request("tool"))
    assert type(traced) is type(plain)
    assert traced.model_dump() == plain.model_dump()
    only_span(span_exporter)


def test_parse_and_beta_give_one_span_each(client, span_exporter):
    parsed = client.messages.parse(**request())
    assert parsed.content[0].text
    assert only_span(span_exporter).attributes[attr.USAGE_OUTPUT_TOKENS] == 20
    span_exporter.clear()
    beta = client.beta.messages.create(**request("cached"))
    assert isinstance(beta, anthropic.types.beta.BetaMessage)
    assert only_span(span_exporter).attributes[attr.USAGE_INPUT_TOKENS] == 3600


def test_raw_response_is_recorded_and_unchanged(client, span_exporter):
    raw = client.messages.with_raw_response.create(**request("cached"))
    assert isinstance(raw, anthropic.APIResponse)
    assert raw.headers["request-id"].startswith("req_standin_")
    span = only_span(span_exporter)  # ended when the call returned: the body was read
    assert span.attributes[attr.USAGE_INPUT_TOKENS] == 3600
    assert raw.parse().usage.cache_read_input_tokens == 2000
    assert len(span_exporter.get_finished_spans()) == 1


def test_streaming_response_json_is_recorded_on_parse(client, span_exporter):
    with client.messages.with_streaming_response.create(**request("thinking")) as response:
        assert not span_exporter.get_finished_spans()
        message = response.parse()
    assert message.usage.output_tokens == 300
    assert only_span(span_exporter).attributes[attr.USAGE_REASONING_OUTPUT_TOKENS] == 250


def test_streaming_response_read_as_bytes_is_recorded_on_close(client, span_exporter):
    with client.messages.with_streaming_response.create(**request("cached")) as response:
        body = response.json()
    assert body["usage"]["input_tokens"] == 100
    assert only_span(span_exporter).attributes[attr.USAGE_INPUT_TOKENS] == 3600


def test_llm_context_lands_on_the_span(client, span_exporter):
    with llm_context(customer_id="acme", plan_type="pro", agent_id="support-bot", agent_tags=["triage"]):
        client.messages.create(**request())
    a = only_span(span_exporter).attributes
    assert a[attr.BILLING_CUSTOMER_ID] == "acme"
    assert a[attr.BILLING_PLAN_TYPE] == "pro"
    assert a[attr.AGENT_ID] == "support-bot"
    assert a[attr.AGENT_TAGS] == ("triage",)


def test_content_is_captured_but_never_the_api_key(client, standin, span_exporter):
    client.messages.create(**request(), system="Be brief.", extra_headers={"x-api-key": API_KEY})
    a = only_span(span_exporter).attributes
    assert json.loads(a[attr.INPUT_MESSAGES]) == ask()
    assert a[attr.SYSTEM_INSTRUCTIONS] == "Be brief."
    assert json.loads(a[attr.OUTPUT_MESSAGES])[0]["parts"][0]["type"] == "text"
    for key, value in a.items():
        assert API_KEY not in str(value), key
        assert "api-key" not in key and "api_key" not in key


def test_content_capture_off(standin, tracer_provider, span_exporter):
    with instrumented(tracer_provider=tracer_provider, capture_content=False):
        sync_client(standin).messages.create(**request(), system="Secret system prompt.")
    a = only_span(span_exporter).attributes
    for payload in (attr.INPUT_MESSAGES, attr.OUTPUT_MESSAGES, attr.SYSTEM_INSTRUCTIONS, attr.REQUEST_JSON):
        assert payload not in a
    assert json.loads(a[attr.LLM_CONFIG_JSON]) == {"max_tokens": 64, "model": MODEL}
    assert "Secret" not in json.dumps(dict(a))


def test_metrics_record_tokens_duration_and_cost(client, metric_reader):
    client.messages.create(**request("cached"))
    metrics = {
        metric.name: metric
        for resource in metric_reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in metrics["gen_ai.client.token.usage"].data.data_points}
    assert tokens == {"input": 3600, "output": 20}
    duration = metrics["gen_ai.client.operation.duration"].data.data_points
    assert len(duration) == 1 and duration[0].count == 1
    assert duration[0].attributes[attr.PROVIDER_NAME] == "anthropic"
    (cost,) = metrics["otel_llm.client.cost"].data.data_points
    assert cost.value == pytest.approx(0.00265)
