"""Chat Completions without streaming: attributes, cost, content capture, context, parse()."""

from __future__ import annotations

import json
from decimal import Decimal

import openai
import pytest
from tests.openai_fixtures import (  # noqa: F401 - fixtures
    API_KEY,
    MODEL,
    async_client,
    client,
    instrument,
    make_client,
    metric_points,
    only_span,
    standin,
    user,
    without_volatile,
)
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from otel_llm import OpenAIInstrumentor, llm_context
from otel_llm.pricing import price_call
from otel_llm.usage import Usage


class Answer(BaseModel):
    answer: str


def test_span_attributes(client, instrument, span_exporter, standin):
    client.chat.completions.create(
        model=MODEL,
        messages=user("hello [cached] [reasoning]"),
        temperature=0.25,
        top_p=0.9,
        max_completion_tokens=200,
        seed=7,
        stop=["END"],
        n=2,
        frequency_penalty=0.5,
        presence_penalty=0.25,
        service_tier="default",
        response_format={"type": "json_object"},
    )
    span = only_span(span_exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.stream": False,
        "server.address": "api.openai.com",  # the client's base URL (routed to the stand-in)
        "server.port": 443,
        "gen_ai.request.temperature": 0.25,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.request.choice.count": 2,
        "gen_ai.request.frequency_penalty": 0.5,
        "gen_ai.request.presence_penalty": 0.25,
        "gen_ai.output.type": "json",
        "openai.request.service_tier": "default",
        "openai.api.type": "chat_completions",
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("stop", "stop"),
        "gen_ai.usage.input_tokens": 2048,
        "gen_ai.usage.output_tokens": 110,
        "gen_ai.usage.cache_read.input_tokens": 1536,
        "gen_ai.usage.reasoning.output_tokens": 100,
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "otel-llm-standin",
    }
    assert {k: span.attributes[k] for k in expected} == expected
    assert span.attributes["gen_ai.response.id"].startswith("chatcmpl-standin-")
    assert "gen_ai.response.time_to_first_chunk" not in span.attributes


def test_cost_for_priced_model(client, instrument, span_exporter):
    client.chat.completions.create(model=MODEL, messages=user("hi [cached]"))
    attributes = only_span(span_exporter).attributes
    usage = Usage(input_tokens=2048, output_tokens=10, cache_read_tokens=1536, reasoning_tokens=0)
    expected = price_call("openai", MODEL, None, usage).usd
    assert Decimal(attributes["otel_llm.cost.usd"]) == expected > 0
    assert "E" not in attributes["otel_llm.cost.usd"]
    assert set(json.loads(attributes["otel_llm.cost.details"])) >= {"input", "output", "cache_read"}
    assert attributes["otel_llm.cost.pricing_version"]
    assert "otel_llm.cost.unpriced_reason" not in attributes


def test_unknown_model_has_no_cost_and_says_why(client, instrument, span_exporter):
    client.chat.completions.create(model="standin-private-model", messages=user("hi"))
    attributes = only_span(span_exporter).attributes
    assert "otel_llm.cost.usd" not in attributes
    assert "standin-private-model" in attributes["otel_llm.cost.unpriced_reason"]
    assert attributes["gen_ai.usage.input_tokens"] == 20


def test_tool_calls_and_content(client, instrument, span_exporter):
    client.chat.completions.create(model=MODEL, messages=user("weather? [tool_call]"), tools=[])
    attributes = only_span(span_exporter).attributes
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert json.loads(attributes["gen_ai.input.messages"]) == user("weather? [tool_call]")
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_standin_0", "name": "get_weather", "arguments": '{"city": "Paris"}'}
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert json.loads(attributes["otel_llm.request.config"]) == {"model": MODEL, "tools": []}


async def test_async_create(async_client, instrument, span_exporter):
    completion = await async_client.chat.completions.create(model=MODEL, messages=user("hi [reasoning]"))
    span = only_span(span_exporter)
    assert completion.choices[0].message.content.startswith("Hello from the otel-llm stand-in")
    assert span.name == f"chat {MODEL}"
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 100
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_result_identical_with_and_without_instrumentation(standin, tracer_provider):
    client = make_client(standin)
    request = {"model": MODEL, "messages": user("hi [tool_call]"), "n": 2}
    plain = client.chat.completions.create(**request)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        traced = client.chat.completions.create(**request)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert type(traced) is type(plain)
    assert without_volatile(traced.model_dump()) == without_volatile(plain.model_dump())


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_content_capture_off(how, standin, tracer_provider, span_exporter, monkeypatch):
    if how == "environment":
        monkeypatch.setenv("OTEL_LLM_CAPTURE_CONTENT", "false")
        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    else:
        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, capture_content=False)
    try:
        make_client(standin).chat.completions.create(model=MODEL, messages=user("secret prompt"), temperature=0.5)
    finally:
        OpenAIInstrumentor().uninstrument()
    attributes = only_span(span_exporter).attributes
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "otel_llm.request.json", "otel_llm.response.json"):
        assert key not in attributes
    assert not any("secret prompt" in str(value) for value in attributes.values())
    assert json.loads(attributes["otel_llm.request.config"]) == {"model": MODEL, "temperature": 0.5}
    assert attributes["gen_ai.usage.input_tokens"] == 20


def test_llm_context_on_span(client, instrument, span_exporter):
    with llm_context(customer_id="acme", plan_type="pro", agent_id="support-bot", agent_tags=["triage"]):
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    attributes = only_span(span_exporter).attributes
    assert attributes["otel_llm.billing.customer_id"] == "acme"
    assert attributes["otel_llm.billing.plan_type"] == "pro"
    assert attributes["gen_ai.agent.id"] == "support-bot"
    assert attributes["otel_llm.agent.tags"] == ("triage",)


def test_no_api_key_or_headers_recorded(client, instrument, span_exporter, standin):
    client.chat.completions.create(
        model=MODEL, messages=user("hi"), extra_headers={"X-Secret": "hdr-value"}, extra_query={"q": "1"}, timeout=5
    )
    headers = {name.lower(): value for name, value in standin.requests[-1].headers.items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"
    values = " ".join(str(value) for value in only_span(span_exporter).attributes.values())
    assert API_KEY not in values
    assert "hdr-value" not in values and "X-Secret" not in values


def test_parse_helper_one_span(client, instrument, span_exporter):
    completion = client.chat.completions.parse(model=MODEL, messages=user("answer?"), response_format=Answer)
    assert completion.choices[0].message.parsed == Answer(answer="otel-llm stand-in")
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.output_tokens"] == 10


async def test_async_parse_helper_one_span(async_client, instrument, span_exporter):
    completion = await async_client.chat.completions.parse(
        model=MODEL, messages=user("answer?"), response_format=Answer
    )
    assert completion.choices[0].message.parsed == Answer(answer="otel-llm stand-in")
    assert only_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_metrics(client, instrument, metric_reader):
    client.chat.completions.create(model=MODEL, messages=user("hi [cached]"))
    tokens = {p.attributes["gen_ai.token.type"]: p for p in metric_points(metric_reader, "gen_ai.client.token.usage")}
    assert tokens["input"].sum == 2048 and tokens["output"].sum == 10
    assert tokens["input"].attributes["gen_ai.request.model"] == MODEL
    assert tokens["input"].attributes["gen_ai.provider.name"] == "openai"
    (duration,) = metric_points(metric_reader, "gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.sum > 0
    (cost,) = metric_points(metric_reader, "otel_llm.client.cost")
    assert cost.value > 0


def test_azure_client_provider(standin, instrument, span_exporter):
    azure = openai.AzureOpenAI(
        azure_endpoint=standin.base_url,
        azure_deployment="my-4o-mini",
        api_version="2024-10-21",
        api_key=API_KEY,
        max_retries=0,
    )
    azure.chat.completions.create(model=MODEL, messages=user("hi"))
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert span.attributes["server.address"] == "127.0.0.1"
