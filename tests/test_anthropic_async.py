"""Async client: the same shapes as the sync tests, through AsyncAnthropic."""

from __future__ import annotations

import json

import anthropic
import pytest
from tests.anthropic_support import (  # noqa: F401 - fixtures
    aclient,
    async_client,
    gen_ai_spans,
    instrument,
    instrumented,
    only_span,
    request,
    standin,
)
from opentelemetry.trace import StatusCode

from otel_llm import attributes as attr


async def _adumps(stream):
    return [event.model_dump() async for event in stream]


async def test_create_cached(aclient, span_exporter):
    message = await aclient.messages.create(**request("cached"))
    a = only_span(span_exporter).attributes
    assert a[attr.RESPONSE_ID] == message.id
    assert a[attr.USAGE_INPUT_TOKENS] == 3600
    assert json.loads(a[attr.USAGE_DETAILS]) == {"cache_write_5m": 1000, "cache_write_1h": 500}
    assert a[attr.COST_USD] == "0.002650000"


async def test_result_and_events_identical(standin, tracer_provider, span_exporter):
    plain_message = await async_client(standin).messages.create(**request("thinking"))
    plain_events = await _adumps(await async_client(standin).messages.create(**request("thinking"), stream=True))
    with instrumented(tracer_provider=tracer_provider):
        traced_message = await async_client(standin).messages.create(**request("thinking"))
        stream = await async_client(standin).messages.create(**request("thinking"), stream=True)
        assert isinstance(stream, anthropic.AsyncStream)
        traced_events = await _adumps(stream)
    assert traced_message.model_dump() == plain_message.model_dump()
    assert traced_events == plain_events
    spans = gen_ai_spans(span_exporter)
    assert len(spans) == 2
    assert [s.attributes[attr.USAGE_REASONING_OUTPUT_TOKENS] for s in spans] == [250, 250]


async def test_stream_helper_async_with(aclient, span_exporter):
    async with aclient.messages.stream(**request("cached")) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
        final = await stream.get_final_message()
    assert text and final.usage.cache_read_input_tokens == 2000
    a = only_span(span_exporter).attributes
    assert a[attr.USAGE_INPUT_TOKENS] == 3600
    assert a[attr.USAGE_OUTPUT_TOKENS] == 20
    assert a[attr.RESPONSE_TIME_TO_FIRST_CHUNK] > 0


async def test_beta_stream_until_done(aclient, span_exporter):
    async with aclient.beta.messages.stream(**request("tool")) as stream:
        await stream.until_done()
    assert only_span(span_exporter).attributes[attr.RESPONSE_FINISH_REASONS] == ("tool_use",)


async def test_parse(aclient, span_exporter):
    parsed = await aclient.messages.parse(**request())
    assert parsed.content[0].text
    only_span(span_exporter)


async def test_early_close(aclient, span_exporter):
    stream = await aclient.messages.create(**request(), stream=True)
    async for _event in stream:
        break
    assert not gen_ai_spans(span_exporter)
    await stream.close()
    assert only_span(span_exporter).attributes[attr.USAGE_INPUT_TOKENS] == 100


async def test_raw_and_streaming_responses(aclient, span_exporter):
    raw = await aclient.messages.with_raw_response.create(**request("cached"))
    assert (await raw.parse()).usage.input_tokens == 100
    assert only_span(span_exporter).attributes[attr.USAGE_INPUT_TOKENS] == 3600
    span_exporter.clear()
    async with aclient.messages.with_streaming_response.create(**request("cached"), stream=True) as response:
        events = [event async for event in await response.parse()]
    assert events[-1].type == "message_stop"
    assert only_span(span_exporter).attributes[attr.USAGE_INPUT_TOKENS] == 3600


async def test_overloaded_error(aclient, span_exporter):
    with pytest.raises(anthropic.OverloadedError):
        await aclient.messages.create(**request("error_529"))
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == "OverloadedError"
    assert span.attributes[attr.HTTP_RESPONSE_STATUS_CODE] == 529


async def test_error_event_mid_stream(aclient, span_exporter):
    with pytest.raises(anthropic.APIStatusError):
        async with aclient.messages.stream(**request("stream_error")) as stream:
            await stream.until_done()
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.USAGE_INPUT_TOKENS] == 100
