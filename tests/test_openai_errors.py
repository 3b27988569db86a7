"""Failures: the SDK's exception reaches the caller unchanged, the span records it; our own
failures never reach the caller at all."""

from __future__ import annotations

import socket

import openai
import pytest
from tests.openai_fixtures import (  # noqa: F401 - fixtures
    MODEL,
    async_client,
    client,
    instrument,
    make_client,
    metric_points,
    only_span,
    standin,
    user,
)
from opentelemetry.trace import StatusCode

from otel_llm import OpenAIInstrumentor


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_http_errors(status, exception, client, instrument, span_exporter, metric_reader):
    with pytest.raises(exception) as raised:
        client.chat.completions.create(model=MODEL, messages=user(f"hi [error:{status}]"))
    assert raised.value.status_code == status
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == exception.__name__
    assert span.attributes["http.response.status_code"] == status
    assert "Stand-in" in span.attributes["otel_llm.error.message"]
    (duration,) = metric_points(metric_reader, "gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == exception.__name__


def test_exception_is_the_sdks_own(standin, tracer_provider, span_exporter):
    def failure():
        with pytest.raises(openai.RateLimitError) as raised:
            make_client(standin).responses.create(model=MODEL, input="[error:429]")
        return raised

    plain = failure()
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        traced = failure()
    finally:
        OpenAIInstrumentor().uninstrument()
    assert type(traced.value) is type(plain.value)
    assert traced.value.body == plain.value.body
    assert str(traced.value) == str(plain.value)
    # The innermost frame is the SDK's, not a wrapper that raised its own exception.
    assert traced.traceback[-1].path == plain.traceback[-1].path
    only_span(span_exporter)


async def test_async_http_error(async_client, instrument, span_exporter):
    with pytest.raises(openai.InternalServerError):
        await async_client.embeddings.create(model="text-embedding-3-small", input="[error:500]")
    assert only_span(span_exporter).attributes["error.type"] == "InternalServerError"


def test_connection_refused(instrument, span_exporter):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    span = only_span(span_exporter)
    assert span.attributes["error.type"] == "APIConnectionError"
    assert "http.response.status_code" not in span.attributes


def test_timeout(client, instrument, span_exporter):
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=MODEL, messages=user("hi [slow]"), timeout=0.005)
    assert only_span(span_exporter).attributes["error.type"] == "APITimeoutError"


def test_unexpected_response_shape_leaves_result_intact(standin, tracer_provider, span_exporter):
    # The stand-in answers with ``"choices": 5``: our extraction fails, the caller must not notice.
    request = {"model": MODEL, "messages": user("hi [odd_shape]")}
    plain = make_client(standin).chat.completions.create(**request)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        traced = make_client(standin).chat.completions.create(**request)
    finally:
        OpenAIInstrumentor().uninstrument()
    assert traced.choices == plain.choices == 5
    assert traced.usage == plain.usage
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET


def test_responses_unexpected_shape(client, instrument, span_exporter):
    response = client.responses.create(model=MODEL, input="hi [odd_shape]")
    assert response.output == 5
    only_span(span_exporter)
