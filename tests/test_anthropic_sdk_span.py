"""The SDK's own ``anthropic.messages.create`` span, in every client configuration.

With our instrumentor on: exactly one gen_ai span per call, ours, whatever the client's
``open_telemetry`` option, ``ANTHROPIC_OPEN_TELEMETRY`` and tracer provider say; the request
still carries ``traceparent`` (for our span) exactly when the SDK would have sent one.
Without it (never instrumented, or uninstrumented): the SDK's span exactly as the SDK makes it.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from tests.anthropic_support import (  # noqa: F401 - fixtures
    MODEL,
    gen_ai_spans,
    instrumented,
    request,
    standin,
    sync_client,
)
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from otel_llm import attributes as attr
from otel_llm.context import llm_context

CLIENT_PROVIDER = "client provider"  # replaced by the test's own provider
SDK_OPTIONS = {
    "option-unset": None,
    "option-on": {"traces": True},
    "option-on-client-provider": {"traces": True, "tracer_provider": CLIENT_PROVIDER},
    "option-client-provider": {"tracer_provider": CLIENT_PROVIDER},
    "option-off": False,
    "option-off-client-provider": {"traces": False, "tracer_provider": CLIENT_PROVIDER},
}
ENV_VALUES = {"env-unset": None, "env-true": "true", "env-false": "false"}


def _exporting_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def global_exporter() -> Iterator[InMemorySpanExporter]:
    """A real global tracer provider for this test only (OpenTelemetry lets it be set once per process)."""
    provider, exporter = _exporting_provider()
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = None, Once()
    trace.set_tracer_provider(provider)
    yield exporter
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved


@pytest.fixture
def client_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(params=list(SDK_OPTIONS), ids=list(SDK_OPTIONS))
def sdk_option(request: Any, client_exporter: InMemorySpanExporter) -> Any:
    option = SDK_OPTIONS[request.param]
    if isinstance(option, dict) and option.get("tracer_provider") == CLIENT_PROVIDER:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(client_exporter))
        option = {**option, "tracer_provider": provider}
    return option


@pytest.fixture(params=list(ENV_VALUES), ids=list(ENV_VALUES))
def env_value(request: Any, monkeypatch: pytest.MonkeyPatch) -> str | None:
    value = ENV_VALUES[request.param]
    if value is None:
        monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    else:
        monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", value)
    return value


def _sdk_traces(option: Any, env: str | None) -> bool:
    """Whether the SDK makes its own span: an option given overrides the environment entirely."""
    if option is None:
        return env != "false"
    return option is not False and option.get("traces", True) is not False


def _call(client: Any, stream: bool) -> None:
    if stream:
        with client.messages.stream(**request("cached")) as events:
            events.until_done()
    else:
        client.messages.create(**request("cached"))


@pytest.mark.parametrize("ours_on", ["global", "own-provider"])
@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_one_span_ours_in_every_configuration(
    standin, global_exporter, client_exporter, sdk_option, env_value, stream, ours_on
):
    own_provider, own_exporter = _exporting_provider()
    options = {"tracer_provider": own_provider} if ours_on == "own-provider" else {}
    ours = own_exporter if ours_on == "own-provider" else global_exporter
    with instrumented(**options), llm_context(customer_id="acme"):
        _call(sync_client(standin, open_telemetry=sdk_option), stream)

    spans = gen_ai_spans(global_exporter, client_exporter, *([own_exporter] if ours is own_exporter else []))
    assert len(spans) == 1, [s.name for s in spans]
    (span,) = spans
    assert span in ours.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[attr.USAGE_INPUT_TOKENS] == 3600
    assert span.attributes[attr.COST_USD] == "0.002650000"
    assert span.attributes[attr.BILLING_CUSTOMER_ID] == "acme"
    assert attr.USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC not in span.attributes

    traceparent = standin.requests[-1].headers.get("traceparent")
    if _sdk_traces(sdk_option, env_value):
        context = span.get_span_context()
        assert traceparent.split("-")[1:3] == [f"{context.trace_id:032x}", f"{context.span_id:016x}"]
    else:
        assert traceparent is None


@pytest.mark.parametrize("history", ["never-instrumented", "uninstrumented"])
def test_without_us_the_sdk_span_is_the_sdks(standin, global_exporter, client_exporter, sdk_option, env_value, history):
    if history == "uninstrumented":
        with instrumented():
            pass
    sync_client(standin, open_telemetry=sdk_option).messages.create(**request("cached"))

    spans = gen_ai_spans(global_exporter, client_exporter)
    if not _sdk_traces(sdk_option, env_value):
        assert spans == []
        return
    expected_exporter = client_exporter if isinstance(sdk_option, dict) and "tracer_provider" in sdk_option else global_exporter
    (span,) = gen_ai_spans(expected_exporter)
    assert len(spans) == 1
    assert span.name == "anthropic.messages.create"
    assert span.instrumentation_scope.name == "com.anthropic.sdk.python"
    assert span.attributes["gen_ai.usage.input_tokens"] == 3600
    assert span.attributes[attr.USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC] == 1500
    assert not [key for key in span.attributes if key.startswith("otel_llm.")]
