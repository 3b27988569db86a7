"""Errors, instrument/uninstrument, platform clients, and never breaking the application."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import entry_points

import anthropic
import pytest
from tests.anthropic_support import (  # noqa: F401 - fixtures
    MODEL,
    client,
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
from otel_llm.anthropic import AnthropicInstrumentor, extract, streams


def _raised(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001
        return error
    raise AssertionError("no exception")


@pytest.mark.parametrize(
    "status, error_class",
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (429, anthropic.RateLimitError),
        (500, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_api_errors_reraised_unchanged(standin, tracer_provider, span_exporter, status, error_class):
    plain = _raised(lambda: sync_client(standin).messages.create(**request(f"error_{status}")))
    with instrumented(tracer_provider=tracer_provider):
        traced = _raised(lambda: sync_client(standin).messages.create(**request(f"error_{status}")))
    assert type(traced) is type(plain) is error_class
    assert str(traced) == str(plain) and traced.body == plain.body
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == error_class.__qualname__
    assert span.attributes[attr.HTTP_RESPONSE_STATUS_CODE] == status
    assert span.end_time is not None


def test_connection_error(tracer_provider, span_exporter):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with instrumented(tracer_provider=tracer_provider):
        closed = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="sk-ant-test", max_retries=0)
        with pytest.raises(anthropic.APIConnectionError):
            closed.messages.create(**request())
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[attr.ERROR_TYPE] == "APIConnectionError"


def test_clients_made_before_and_after_instrument(standin, tracer_provider, span_exporter):
    before = sync_client(standin)
    with instrumented(tracer_provider=tracer_provider):
        after = sync_client(standin)
        before.messages.create(**request())
        after.messages.create(**request())
    assert len(gen_ai_spans(span_exporter)) == 2


def test_double_instrument_does_not_double_wrap(standin, tracer_provider, span_exporter):
    with instrumented(tracer_provider=tracer_provider) as instrumentor:
        instrumentor.instrument(tracer_provider=tracer_provider)
        sync_client(standin).messages.create(**request())
    only_span(span_exporter)


def test_uninstrument_restores_the_sdk(standin, tracer_provider, span_exporter):
    import anthropic._base_client as client_module

    originals = (client_module.SyncAPIClient.request, client_module.AsyncAPIClient.request)
    starter = client_module.start_api_call_span
    with instrumented(tracer_provider=tracer_provider):
        assert hasattr(client_module.SyncAPIClient.request, "__wrapped__")
    assert (client_module.SyncAPIClient.request, client_module.AsyncAPIClient.request) == originals
    assert client_module.start_api_call_span is starter
    sync_client(standin).messages.create(**request())
    assert not span_exporter.get_finished_spans()


def test_other_endpoints_are_not_spanned_by_us(client, span_exporter):
    assert client.messages.count_tokens(model=MODEL, messages=request()["messages"]).input_tokens == 100
    assert not [s for s in span_exporter.get_finished_spans() if s.name.startswith("chat")]


def test_our_failures_never_reach_the_app(client, span_exporter, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug in otel-llm")

    monkeypatch.setattr(extract, "message_outcome", broken)
    monkeypatch.setattr(streams.MessageEventsHandler, "on_chunk", broken)
    message = client.messages.create(**request("cached"))
    assert message.usage.cache_read_input_tokens == 2000
    events = list(client.messages.create(**request("cached"), stream=True))
    assert events[-1].type == "message_stop"
    assert len(gen_ai_spans(span_exporter)) == 2  # ended all the same


def test_vertex_client_through_the_standin(standin, tracer_provider, span_exporter):
    vertex = anthropic.AnthropicVertex(
        region="us-east5", project_id="proj", access_token="tok", base_url=f"{standin.base_url}/v1", max_retries=0
    )
    with instrumented(tracer_provider=tracer_provider):
        vertex.messages.create(**request("cached"))
        with vertex.messages.stream(**request("cached")) as stream:
            stream.until_done()
    spans = gen_ai_spans(span_exporter)
    assert [s.attributes[attr.PROVIDER_NAME] for s in spans] == ["gcp.vertex_ai", "gcp.vertex_ai"]
    assert [s.attributes[attr.USAGE_INPUT_TOKENS] for s in spans] == [3600, 3600]
    assert all(s.attributes[attr.COST_USD] == "0.002650000" for s in spans)


@pytest.mark.parametrize(
    "client_class, provider",
    [
        (anthropic.Anthropic, "anthropic"),
        (anthropic.AsyncAnthropic, "anthropic"),
        (anthropic.AnthropicBedrock, "aws.bedrock"),
        (anthropic.AsyncAnthropicBedrock, "aws.bedrock"),
        (anthropic.AnthropicVertex, "gcp.vertex_ai"),
        (anthropic.AsyncAnthropicVertex, "gcp.vertex_ai"),
    ],
)
def test_provider_name_from_client_class(client_class, provider):
    # Bedrock requests need AWS SigV4 signing (boto3), which the stand-in cannot check; the class decides.
    assert extract.provider_name(client_class.__new__(client_class)) == provider


def test_provider_name_from_class_name_when_the_sdk_does_not_declare_it():
    class AnthropicBedrockLike:
        pass

    assert extract.provider_name(AnthropicBedrockLike()) == "aws.bedrock"


def test_entry_point_and_lazy_export():
    (entry_point,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "anthropic"]
    assert entry_point.load() is AnthropicInstrumentor
    import otel_llm

    assert otel_llm.AnthropicInstrumentor is AnthropicInstrumentor
    assert AnthropicInstrumentor().instrumentation_dependencies() == ("anthropic >= 2",)


def test_import_otel_llm_without_anthropic_installed():
    code = "import sys; sys.modules['anthropic'] = None; import otel_llm; print(otel_llm.llm_context.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "llm_context"
