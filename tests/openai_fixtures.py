"""Fixtures and helpers for the OpenAI tests: the stand-in server, real SDK clients, instrumenting.

Imported by name into each ``test_openai_*`` module (kept out of conftest.py, which every
instrumentor's tests share).
"""

from __future__ import annotations

from typing import Any, Iterator

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import OpenAIInstrumentor
from otel_llm.standin.openai import openai_standin
from otel_llm.standin.server import StandinServer
from tests.provider_routing import OPENAI_URL, routed_async_http_client, routed_http_client

API_KEY = "sk-test-otel-llm-secret"
MODEL = "gpt-4o-mini"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="session")
def standin() -> Iterator[StandinServer]:
    with openai_standin() as server:
        yield server


@pytest.fixture
def instrument(tracer_provider: Any, meter_provider: Any) -> Iterator[OpenAIInstrumentor]:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield instrumentor
    instrumentor.uninstrument()


def make_client(server: StandinServer, **options: Any) -> OpenAI:
    """A client of OpenAI's real API URL whose requests reach ``server`` (tests/provider_routing.py)."""
    options.setdefault("http_client", routed_http_client(openai, server))
    return OpenAI(base_url=OPENAI_URL, api_key=API_KEY, max_retries=0, **options)


def make_async_client(server: StandinServer, **options: Any) -> AsyncOpenAI:
    options.setdefault("http_client", routed_async_http_client(openai, server))
    return AsyncOpenAI(base_url=OPENAI_URL, api_key=API_KEY, max_retries=0, **options)


@pytest.fixture
def client(standin: StandinServer) -> Iterator[OpenAI]:
    with make_client(standin) as sdk_client:
        yield sdk_client


@pytest.fixture
async def async_client(standin: StandinServer) -> Any:
    async with make_async_client(standin) as sdk_client:
        yield sdk_client


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    points: list[Any] = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


def without_volatile(dumped: Any) -> Any:
    """A model_dump() minus what differs between two identical calls (ids, timestamps)."""
    if isinstance(dumped, dict):
        return {
            k: without_volatile(v) for k, v in dumped.items() if k not in ("id", "created", "created_at", "_request_id")
        }
    if isinstance(dumped, list):
        return [without_volatile(v) for v in dumped]
    return dumped
