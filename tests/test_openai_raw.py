"""``with_raw_response`` and ``with_streaming_response``: one span, the caller's body untouched."""

from __future__ import annotations

import gc
import json

from tests.openai_fixtures import (  # noqa: F401 - fixtures
    MODEL,
    async_client,
    client,
    instrument,
    only_span,
    standin,
    user,
)


def test_raw_response_ends_at_once_and_parse_is_the_same_object(client, instrument, span_exporter):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("hi [cached]"))
    span = only_span(span_exporter)  # the SDK read the body already: no need to wait
    assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == 1536
    assert raw.headers["content-type"] == "application/json"
    assert raw.parse() is raw.parse()
    assert raw.parse().choices[0].message.content.startswith("Hello")
    assert span.attributes["gen_ai.response.id"] == raw.parse().id


def test_raw_response_stream(client, instrument, span_exporter, standin):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("hi"), stream=True)
    assert span_exporter.get_finished_spans() == ()
    stream = raw.parse()
    assert raw.parse() is stream  # parse() keeps returning the one stream
    chunks = list(stream)
    assert standin.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.usage.input_tokens"] == 20
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_raw_response_never_parsed_ends_on_gc(client, instrument, span_exporter):
    raw = client.responses.with_raw_response.create(model=MODEL, input="hi", stream=True)
    raw.http_response.close()
    del raw
    gc.collect()
    only_span(span_exporter)


async def test_async_raw_response(async_client, instrument, span_exporter):
    raw = await async_client.responses.with_raw_response.create(model=MODEL, input="hi [reasoning]")
    assert only_span(span_exporter).attributes["gen_ai.usage.reasoning.output_tokens"] == 100
    assert raw.parse().output_text.startswith("Hello")


async def test_async_raw_response_stream(async_client, instrument, span_exporter):
    raw = await async_client.chat.completions.with_raw_response.create(model=MODEL, messages=user("hi"), stream=True)
    chunks = [chunk async for chunk in raw.parse()]
    assert all(chunk.choices for chunk in chunks)
    assert only_span(span_exporter).attributes["gen_ai.usage.output_tokens"] == 10


def test_raw_parse_helper(client, instrument, span_exporter):
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="a")
    assert len(raw.parse().data) == 1
    assert only_span(span_exporter).attributes["gen_ai.usage.input_tokens"] == 5


def test_streaming_response_parse(client, instrument, span_exporter):
    with client.chat.completions.with_streaming_response.create(model=MODEL, messages=user("hi [cached]")) as response:
        assert span_exporter.get_finished_spans() == ()  # the body is not read yet
        completion = response.parse()
        span = only_span(span_exporter)
    assert span.attributes["gen_ai.response.id"] == completion.id
    assert span.attributes["gen_ai.usage.input_tokens"] == 2048


def test_streaming_response_read_as_json(client, instrument, span_exporter):
    with client.responses.with_streaming_response.create(model=MODEL, input="hi") as response:
        body = response.json()
    assert body["usage"]["input_tokens"] == 20
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.usage.input_tokens"] == 20
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_streaming_response_sse_lines_untouched(client, instrument, span_exporter, standin):
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=user("hi"), stream=True
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: {")]
    # Raw bytes go to the caller as they are: no usage chunk is added to them.
    assert "stream_options" not in standin.requests[-1].body
    assert all(json.loads(line[len("data: ") :])["choices"] for line in lines)
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.request.stream"] is True


def test_streaming_response_sse_parsed(client, instrument, span_exporter):
    with client.responses.with_streaming_response.create(model=MODEL, input="hi [length]", stream=True) as response:
        events = [event.type for event in response.parse()]
    assert events[-1] == "response.incomplete"
    assert only_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("length",)


async def test_async_streaming_response(async_client, instrument, span_exporter):
    async with async_client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=user("hi")
    ) as response:
        completion = await response.parse()
    assert completion.choices[0].finish_reason == "stop"
    assert only_span(span_exporter).attributes["gen_ai.usage.output_tokens"] == 10


async def test_async_streaming_response_stream_closed_early(async_client, instrument, span_exporter):
    async with async_client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=user("hi [slow]"), stream=True
    ) as response:
        stream = await response.parse()
        await stream.__anext__()
        assert span_exporter.get_finished_spans() == ()
    only_span(span_exporter)
