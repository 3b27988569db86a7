"""Responses API (create, stream, parse) and embeddings."""

from __future__ import annotations

import gc
import json

import pytest
from tests.openai_fixtures import (  # noqa: F401 - fixtures
    MODEL,
    async_client,
    client,
    instrument,
    make_client,
    only_span,
    standin,
    without_volatile,
)
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from otel_llm import OpenAIInstrumentor


class Answer(BaseModel):
    answer: str


def test_create(client, instrument, span_exporter):
    response = client.responses.create(
        model=MODEL, input="hi [cached] [reasoning]", instructions="Be brief.", max_output_tokens=300, temperature=0.5
    )
    span = only_span(span_exporter)
    assert span.name == f"chat {MODEL}"
    expected = {
        "gen_ai.operation.name": "chat",
        "openai.api.type": "responses",
        "gen_ai.request.max_tokens": 300,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.response.id": response.id,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 2048,
        "gen_ai.usage.output_tokens": 110,
        "gen_ai.usage.cache_read.input_tokens": 1536,
        "gen_ai.usage.reasoning.output_tokens": 100,
        "gen_ai.system_instructions": "Be brief.",
        "gen_ai.input.messages": "hi [cached] [reasoning]",
    }
    assert {k: span.attributes[k] for k in expected} == expected
    output = json.loads(span.attributes["gen_ai.output.messages"])
    assert output == [
        {"role": "assistant", "parts": [{"type": "text", "content": response.output_text}], "finish_reason": "stop"}
    ]
    assert "otel_llm.cost.usd" in span.attributes


async def test_async_create_tool_call(async_client, instrument, span_exporter):
    await async_client.responses.create(model=MODEL, input="weather [tool_call]")
    assert only_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)


@pytest.mark.parametrize(
    ("tag", "reason"), [("", "stop"), ("[length]", "length"), ("[content_filter]", "content_filter")]
)
def test_stream_finish_reasons(tag, reason, client, instrument, span_exporter):
    events = list(client.responses.create(model=MODEL, input=f"hi {tag} [reasoning]", stream=True))
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.response.finish_reasons"] == (reason,)
    assert span.attributes["gen_ai.usage.output_tokens"] == 110
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 100
    assert span.attributes["gen_ai.response.id"] == events[0].response.id
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert span.status.status_code is StatusCode.UNSET


def test_stream_failed(client, instrument, span_exporter):
    events = list(client.responses.create(model=MODEL, input="hi [failed]", stream=True))
    assert events[-1].type == "response.failed"
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "server_error"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 20  # whatever usage it carries


def test_stream_error_event(client, instrument, span_exporter):
    events = list(client.responses.create(model=MODEL, input="hi [midstream_error]", stream=True))
    assert events[-1].type == "error"
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "server_error"
    assert "mid-stream" in span.attributes["otel_llm.error.message"]


def test_stream_events_identical_with_and_without_instrumentation(standin, tracer_provider, span_exporter):
    client = make_client(standin)
    plain = [without_volatile(e.model_dump()) for e in client.responses.create(model=MODEL, input="hi", stream=True)]
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        traced = [
            without_volatile(e.model_dump()) for e in client.responses.create(model=MODEL, input="hi", stream=True)
        ]
    finally:
        OpenAIInstrumentor().uninstrument()
    assert traced == plain
    only_span(span_exporter)


def test_stream_helper(client, instrument, span_exporter):
    with client.responses.stream(model=MODEL, input="hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 10


def test_stream_helper_until_done_and_early_exit(client, instrument, span_exporter):
    with client.responses.stream(model=MODEL, input="hi") as stream:
        stream.until_done()
    with client.responses.stream(model=MODEL, input="hi [slow]") as stream:
        next(iter(stream))
    assert len(span_exporter.get_finished_spans()) == 2


async def test_async_stream_helper(async_client, instrument, span_exporter):
    async with async_client.responses.stream(model=MODEL, input="hi [length]") as stream:
        events = [event.type async for event in stream]
    assert events[-1] == "response.incomplete"
    assert only_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("length",)


async def test_async_stream_gc(async_client, instrument, span_exporter):
    stream = await async_client.responses.create(model=MODEL, input="hi", stream=True)
    await stream.__anext__()
    del stream
    gc.collect()
    only_span(span_exporter)


def test_parse(client, instrument, span_exporter):
    response = client.responses.parse(model=MODEL, input="answer?", text_format=Answer)
    assert response.output_parsed == Answer(answer="otel-llm stand-in")
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 20


async def test_async_parse(async_client, instrument, span_exporter):
    response = await async_client.responses.parse(model=MODEL, input="answer?", text_format=Answer)
    assert response.output_parsed == Answer(answer="otel-llm stand-in")
    only_span(span_exporter)


def test_embeddings(client, instrument, span_exporter):
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["a", "b"], dimensions=4, encoding_format="float"
    )
    assert len(result.data) == 2 and len(result.data[0].embedding) == 4
    span = only_span(span_exporter)
    assert span.name == "embeddings text-embedding-3-small"
    expected = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.encoding_formats": ("float",),
        "gen_ai.embeddings.dimension.count": 4,
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 0,
    }
    assert {k: span.attributes[k] for k in expected} == expected
    assert "E" not in span.attributes["otel_llm.cost.usd"]
    assert "gen_ai.output.messages" not in span.attributes


async def test_async_embeddings_default_base64(async_client, instrument, span_exporter):
    result = await async_client.embeddings.create(model="text-embedding-3-small", input="a")
    assert len(result.data[0].embedding) == 8
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.usage.input_tokens"] == 5
    assert "gen_ai.request.encoding_formats" not in span.attributes  # the caller chose none


def test_beta_responses(client, instrument, span_exporter):
    response = client.beta.responses.create(model=MODEL, input="hi [length]")
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.response.id"] == response.id
    assert span.attributes["gen_ai.response.finish_reasons"] == ("length",)
