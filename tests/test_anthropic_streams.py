"""Streams, sync: create(stream=True), messages.stream(...) and its helpers; ends on every exit path."""

from __future__ import annotations

import gc
import json

import anthropic
import httpx2
import pytest
from tests.anthropic_support import (  # noqa: F401 - fixtures
    client,
    dumps,
    gen_ai_spans,
    instrument,
    instrumented,
    only_span,
    request,
    standin,
    sync_client,
)
from opentelemetry.trace import StatusCode

from otel_llm import attributes as attr


def _assert_cached_stream_usage(span):
    a = span.attributes
    assert a[attr.REQUEST_STREAM] is True
    assert a[attr.USAGE_INPUT_TOKENS] == 3600
    assert a[attr.USAGE_CACHE_READ_INPUT_TOKENS] == 2000
    assert a[attr.USAGE_CACHE_CREATION_INPUT_TOKENS] == 1500
    assert json.loads(a[attr.USAGE_DETAILS]) == {"cache_write_5m": 1000, "cache_write_1h": 500}
    assert a[attr.USAGE_OUTPUT_TOKENS] == 20  # from message_delta, not message_start's 1
    assert a[attr.RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert a[attr.RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[attr.COST_USD] == "0.002650000"


def test_create_stream_events_identical_and_usage_merged(standin, tracer_provider, span_exporter):
    plain = dumps(sync_client(standin).messages.create(**request("cached"), stream=True))
    with instrumented(tracer_provider=tracer_provider):
        stream = sync_client(standin).messages.create(**request("cached"), stream=True)
        assert isinstance(stream, anthropic.Stream)
        traced = dumps(stream)
    assert traced == plain
    _assert_cached_stream_usage(only_span(span_exporter))


def test_stream_helper_events_identical(standin, tracer_provider, span_exporter):
    with sync_client(standin).messages.stream(**request("tool")) as stream:
        plain = dumps(stream)
    with instrumented(tracer_provider=tracer_provider):
        with sync_client(standin).messages.stream(**request("tool")) as stream:
            traced = dumps(stream)
            final = stream.get_final_message()
    assert traced == plain
    assert final.content[1].input == {"city": "Paris", "unit": "celsius"}
    span = only_span(span_exporter)
    assert span.attributes[attr.RESPONSE_FINISH_REASONS] == ("tool_use",)
    output = json.loads(span.attributes[attr.OUTPUT_MESSAGES])[0]["parts"]
    assert output[1] == {
        "type": "tool_call",
        "id": final.content[1].id,
        "name": "get_weather",
        "arguments": {"city": "Paris", "unit": "celsius"},
    }


@pytest.mark.parametrize(
    "consume",
    [
        lambda stream: "".join(stream.text_stream),
        lambda stream: stream.get_final_message(),
        lambda stream: stream.get_final_text(),
        lambda stream: stream.until_done(),
    ],
    ids=["text_stream", "get_final_message", "get_final_text", "until_done"],
)
def test_stream_helpers_give_one_span_with_usage(client, span_exporter, consume):
    with client.messages.stream(**request("cached")) as stream:
        consume(stream)
    _assert_cached_stream_usage(only_span(span_exporter))


def test_stream_thinking_and_beta_stream(client, span_exporter):
    with client.beta.messages.stream(**request("thinking")) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking"
    a = only_span(span_exporter).attributes
    assert a[attr.USAGE_REASONING_OUTPUT_TOKENS] == 250
    assert a[attr.USAGE_OUTPUT_TOKENS] == 300
    assert json.loads(a[attr.OUTPUT_MESSAGES])[0]["parts"][0] == {
        "type": "reasoning",
        "content": "Stand-in reasoning, step by step.",
    }


def test_raw_stream_with_streaming_response(client, span_exporter):
    with client.messages.with_streaming_response.create(**request("cached"), stream=True) as response:
        events = list(response.parse())
    assert events[-1].type == "message_stop"
    _assert_cached_stream_usage(only_span(span_exporter))


def test_early_break_then_close_ends_span_with_start_usage(client, span_exporter):
    stream = client.messages.create(**request("cached"), stream=True)
    for event in stream:
        if event.type == "content_block_delta":
            break
    assert not gen_ai_spans(span_exporter)
    stream.close()
    stream.close()
    a = only_span(span_exporter).attributes
    assert a[attr.USAGE_INPUT_TOKENS] == 3600  # message_start already had the input usage
    assert a[attr.USAGE_OUTPUT_TOKENS] == 1
    assert attr.RESPONSE_FINISH_REASONS not in a


def test_with_block_exit_ends_span(client, span_exporter):
    with client.messages.stream(**request()) as stream:
        next(iter(stream))
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET


def test_abandoned_stream_ends_span_on_gc(client, span_exporter):
    stream = client.messages.create(**request(), stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    only_span(span_exporter)


def test_error_event_mid_stream(client, span_exporter):
    seen = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        for event in client.messages.create(**request("stream_error"), stream=True):
            seen.append(event.type)
    assert "content_block_delta" in seen
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == type(raised.value).__qualname__
    assert span.attributes[attr.HTTP_RESPONSE_STATUS_CODE] == 200  # the error came inside a 200 stream
    assert "overloaded" in span.attributes[attr.ERROR_MESSAGE]
    assert span.attributes[attr.USAGE_INPUT_TOKENS] == 100  # what message_start reported


def test_broken_stream(client, span_exporter):
    # anthropic < 2.17 lets the transport's error through; 2.17 wraps it in APIConnectionError.
    with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)) as raised:
        with client.messages.stream(**request("broken")) as stream:
            stream.until_done()
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == type(raised.value).__qualname__
    assert "incomplete chunked read" in span.attributes[attr.ERROR_MESSAGE]


def test_slow_stream_time_to_first_chunk(client, span_exporter):
    with client.messages.stream(**request("slow")) as stream:
        stream.until_done()
    assert only_span(span_exporter).attributes[attr.RESPONSE_TIME_TO_FIRST_CHUNK] >= 0.05


def test_raw_response_of_a_stream(client, span_exporter):
    raw = client.messages.with_raw_response.create(**request("thinking"), stream=True)
    assert not gen_ai_spans(span_exporter)  # the body is still to be read
    events = list(raw.parse())
    assert events[0].type == "message_start"
    a = only_span(span_exporter).attributes
    assert a[attr.USAGE_REASONING_OUTPUT_TOKENS] == 250
    assert a[attr.RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_stream_with_content_capture_off(standin, tracer_provider, span_exporter):
    with instrumented(tracer_provider=tracer_provider, capture_content=False):
        with sync_client(standin).messages.stream(**request("cached")) as stream:
            stream.until_done()
    a = only_span(span_exporter).attributes
    assert a[attr.USAGE_INPUT_TOKENS] == 3600
    assert attr.OUTPUT_MESSAGES not in a and attr.INPUT_MESSAGES not in a
