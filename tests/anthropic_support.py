"""Shared pieces of the Anthropic tests: the stand-in server, instrumented clients, span lookups."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import anthropic
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm.anthropic import AnthropicInstrumentor
from otel_llm.standin.anthropic import anthropic_standin
from tests.provider_routing import ANTHROPIC_URL, routed_async_http_client, routed_http_client

MODEL = "claude-haiku-4-5"
API_KEY = "sk-ant-test"


def ask(scenario: str = "text") -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"Say hello. standin:{scenario}"}]


def request(scenario: str = "text", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64, "messages": ask(scenario), **extra}


@pytest.fixture(scope="module")
def standin() -> Iterator[Any]:
    with anthropic_standin() as server:
        yield server


@contextmanager
def instrumented(**options: Any) -> Iterator[AnthropicInstrumentor]:
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(**options)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def instrument(tracer_provider: Any, meter_provider: Any) -> Iterator[AnthropicInstrumentor]:
    with instrumented(tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=True) as on:
        yield on




def sync_client(server: Any, **options: Any) -> anthropic.Anthropic:
    """A client of Anthropic's real API URL whose requests reach ``server`` (provider_routing.py)."""
    http_client = routed_http_client(anthropic, server)
    return anthropic.Anthropic(
        base_url=ANTHROPIC_URL, api_key=API_KEY, max_retries=0, http_client=http_client, **options
    )


def async_client(server: Any, **options: Any) -> anthropic.AsyncAnthropic:
    http_client = routed_async_http_client(anthropic, server)
    return anthropic.AsyncAnthropic(
        base_url=ANTHROPIC_URL, api_key=API_KEY, max_retries=0, http_client=http_client, **options
    )


@pytest.fixture
def client(standin: Any, instrument: AnthropicInstrumentor) -> anthropic.Anthropic:
    return sync_client(standin)


@pytest.fixture
def aclient(standin: Any, instrument: AnthropicInstrumentor) -> anthropic.AsyncAnthropic:
    return async_client(standin)


def is_gen_ai(span: ReadableSpan) -> bool:
    """Ours (``chat ...``) or the SDK's own (``anthropic.messages.create``)."""
    return "gen_ai.operation.name" in (span.attributes or {}) or span.name.startswith("anthropic.messages")


def gen_ai_spans(*exporters: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for exporter in exporters for span in exporter.get_finished_spans() if is_gen_ai(span)]


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = gen_ai_spans(exporter)
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def dumps(events: Any) -> list[dict[str, Any]]:
    return [event.model_dump() for event in events]
