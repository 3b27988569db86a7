"""Chat Completions streams: the caller sees what the SDK gives, the span ends exactly once."""

from __future__ import annotations

import gc
import json

import openai
import pytest
from tests.openai_fixtures import (  # noqa: F401 - fixtures
    MODEL,
    async_client,
    client,
    instrument,
    make_async_client,
    make_client,
    metric_points,
    only_span,
    standin,
    user,
    without_volatile,
)
from opentelemetry.trace import StatusCode

from otel_llm import OpenAIInstrumentor


def dumps(chunks):
    return [without_volatile(chunk.model_dump()) for chunk in chunks]


def test_stream_usage_added_and_hidden(client, instrument, span_exporter, standin):
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("hi [cached] [reasoning]"), stream=True))
    assert standin.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks), "the usage-only chunk we asked for is hidden"
    assert all(chunk.usage is None for chunk in chunks)
    span = only_span(span_exporter)
    attributes = span.attributes
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.input_tokens"] == 2048
    assert attributes["gen_ai.usage.output_tokens"] == 110
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1536
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 100
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.id"] == chunks[0].id
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert "otel_llm.cost.usd" in attributes
    output = json.loads(attributes["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "".join(c.choices[0].delta.content or "" for c in chunks)


def test_stream_chunks_identical_with_and_without_instrumentation(standin, tracer_provider, span_exporter):
    client = make_client(standin)
    request = {"model": MODEL, "messages": user("hi [tool_call]"), "stream": True, "n": 2}
    plain = list(client.chat.completions.create(**request))
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        traced = list(client.chat.completions.create(**request))
    finally:
        OpenAIInstrumentor().uninstrument()
    assert dumps(traced) == dumps(plain)
    attributes = only_span(span_exporter).attributes
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls", "tool_calls")
    output = json.loads(attributes["gen_ai.output.messages"])
    assert [m["parts"][0]["arguments"] for m in output] == ['{"city": "Paris"}'] * 2


def test_caller_asked_for_usage_sees_it(client, instrument, span_exporter):
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=user("hi"), stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 20
    assert only_span(span_exporter).attributes["gen_ai.usage.input_tokens"] == 20


async def test_async_stream(async_client, instrument, span_exporter, metric_reader):
    stream = await async_client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.choices for chunk in chunks)
    attributes = only_span(span_exporter).attributes
    assert attributes["gen_ai.usage.output_tokens"] == 10
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    (ttfc,) = metric_points(metric_reader, "gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1


def test_break_then_close_ends_span(client, instrument, span_exporter):
    stream = client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True)
    for _ in stream:
        break
    assert span_exporter.get_finished_spans() == ()
    stream.close()
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert "gen_ai.usage.input_tokens" not in span.attributes
    stream.close()
    assert len(span_exporter.get_finished_spans()) == 1


def test_loop_left_with_break_can_be_resumed(client, instrument, span_exporter):
    stream = client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True)
    for first in stream:
        break
    assert span_exporter.get_finished_spans() == ()
    chunks = [first, next(stream), *stream]  # as with the SDK's own stream: carries on where it was
    assert all(chunk.choices for chunk in chunks)
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.usage.input_tokens"] == 20
    output = json.loads(span.attributes["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "".join(c.choices[0].delta.content or "" for c in chunks)


def test_with_block_exit_ends_span(client, instrument, span_exporter):
    with client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True) as stream:
        next(iter(stream))
    only_span(span_exporter)


async def test_async_with_block_and_aclose(async_client, instrument, span_exporter):
    async with await async_client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True) as stream:
        await stream.__anext__()
    assert len(span_exporter.get_finished_spans()) == 1
    second = await async_client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True)
    await second.__anext__()
    await second.aclose()
    assert len(span_exporter.get_finished_spans()) == 2


def test_garbage_collection_ends_span(client, instrument, span_exporter):
    stream = client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True)
    next(stream)
    del stream
    gc.collect()
    only_span(span_exporter)


def test_error_mid_stream(client, instrument, span_exporter):
    stream = client.chat.completions.create(model=MODEL, messages=user("hi [midstream_error]"), stream=True)
    with pytest.raises(openai.APIError, match="stopped mid-stream"):
        for _ in stream:
            pass
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "APIError"


def test_connection_drops_mid_stream(client, instrument, span_exporter):
    with pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model=MODEL, messages=user("hi [break]"), stream=True))
    span = only_span(span_exporter)
    assert span.attributes["error.type"] == "APIConnectionError"
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_stream_helper_events_and_final_completion(standin, tracer_provider, span_exporter):
    def run(client):
        with client.chat.completions.stream(model=MODEL, messages=user("hi")) as stream:
            events = [event.type for event in stream]
            return events, stream.get_final_completion()

    client = make_client(standin)
    plain_events, plain_final = run(client)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        events, final = run(client)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert events == plain_events
    assert without_volatile(final.model_dump()) == without_volatile(plain_final.model_dump())
    assert final.usage is None  # as without us: the caller did not ask for usage
    assert only_span(span_exporter).attributes["gen_ai.usage.input_tokens"] == 20


def test_stream_helper_early_exit_ends_span(client, instrument, span_exporter):
    with client.chat.completions.stream(model=MODEL, messages=user("hi [slow]")) as stream:
        for _ in stream:
            break
        assert span_exporter.get_finished_spans() == ()
    only_span(span_exporter)


async def test_async_stream_helper(async_client, instrument, span_exporter):
    async with async_client.chat.completions.stream(model=MODEL, messages=user("hi")) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content.startswith("Hello")
    assert only_span(span_exporter).attributes["gen_ai.usage.output_tokens"] == 10


async def test_async_stream_helper_early_exit(standin, instrument, span_exporter):
    async with make_async_client(standin) as client:
        async with client.chat.completions.stream(model=MODEL, messages=user("hi [slow]")) as stream:
            async for _ in stream:
                break
        only_span(span_exporter)


@pytest.mark.parametrize(("api_version", "asked"), [("2024-10-21", True), ("2024-06-01", False)])
def test_azure_old_api_versions_are_not_sent_stream_options(api_version, asked, standin, instrument, span_exporter):
    azure = openai.AzureOpenAI(
        azure_endpoint=standin.base_url, azure_deployment="dep", api_version=api_version, api_key="k", max_retries=0
    )
    chunks = list(azure.chat.completions.create(model=MODEL, messages=user("hi"), stream=True))
    assert ("stream_options" in standin.requests[-1].body) is asked
    assert all(chunk.choices for chunk in chunks)
    assert ("gen_ai.usage.input_tokens" in only_span(span_exporter).attributes) is asked


def test_azure_content_filter_chunks(client, instrument, span_exporter):
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("hi [azure_filter]"), stream=True))
    assert chunks[0].id == "" and chunks[0].choices == []  # shown to the caller, as without us
    attributes = only_span(span_exporter).attributes
    assert attributes["gen_ai.response.id"] == chunks[1].id
    assert attributes["gen_ai.response.model"] == MODEL
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == 20
    assert json.loads(attributes["gen_ai.output.messages"])[0]["parts"][0]["content"].startswith("Hello")
